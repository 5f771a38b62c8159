//! The chat demo's terminal client on smol, the same client code as on tokio: joins a
//! room, prints what the room says and sends each line of stdin.
//!
//! ```sh
//! ./demo.sh                                              # the server, in another terminal
//! cargo run -p halyard-smol --example smol_client -- http://localhost:3000 ana lobby
//! ```
#![allow(clippy::print_stdout)]

use std::time::Duration;

use halyard_smol::client::{self, Socket};
use serde::Deserialize;
use smol::io::{AsyncBufReadExt, BufReader};
use smol::stream::StreamExt;

/// The demo's `message` event.
#[derive(Deserialize)]
struct Message {
    name: String,
    text: String,
}

fn main() -> Result<(), client::Error> {
    let mut args = std::env::args().skip(1);
    let url = args
        .next()
        .unwrap_or_else(|| "http://localhost:3000".into());
    let who = (
        args.next().unwrap_or_else(|| "smol".into()),
        args.next().unwrap_or_else(|| "lobby".into()),
    );

    smol::block_on(async {
        let socket = client::io(url).connect()?;
        // Every connection joins the room (the server forgets members who disconnect); `joined`
        // tells the loop below whether we are in it.
        let (in_room, joined) = smol::channel::unbounded();
        let left = in_room.clone();
        socket.on_connect(move |socket: Socket, ()| {
            let (who, in_room) = (who.clone(), in_room.clone());
            async move {
                let (answer,): (serde_json::Value,) = socket
                    .timeout(Duration::from_secs(5))
                    .emit_with_ack("join", &who)
                    .await?;
                println!("* connected, join: {answer}");
                if answer.get("room").is_some() {
                    in_room.try_send(true).ok();
                }
                Ok::<_, client::Error>(())
            }
        });
        socket.on_disconnect(move |_socket: Socket, reason| {
            left.try_send(false).ok();
            async move { println!("* disconnected: {reason}") }
        });
        socket.on("message", |_, (msg,): (Message,)| async move {
            println!("<{}> {}", msg.name, msg.text);
        });

        let mut lines = BufReader::new(smol::Unblock::new(std::io::stdin())).lines();
        let mut ready = false;
        while let Some(Ok(line)) = lines.next().await {
            // Wait until (re)joined, or the server would drop the line.
            while let Ok(now) = joined.try_recv() {
                ready = now;
            }
            while !ready {
                ready = joined.recv().await.map_err(|_| client::Error::Closed)?;
            }
            socket.emit("message", &line).await?;
        }
        println!("* end of input; still listening (Ctrl-C quits)");
        smol::future::pending().await
    })
}
