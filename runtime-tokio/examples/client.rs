//! A terminal client for the chat demo: joins a room (an ack with a timeout), prints what
//! the room says, sends each line of stdin, and shows the connection coming and going.
//!
//! ```sh
//! ./demo.sh                                             # the server, in another terminal
//! cargo run -p halyard-tokio --example client           # http://localhost:3000, "rust" in "lobby"
//! cargo run -p halyard-tokio --example client -- http://localhost:3000 ana kitchen
//! ```
//!
//! Chat from a browser tab at the same time, or stop and restart the server to watch the
//! client reconnect and join its room again. Ctrl-C quits.
#![allow(clippy::print_stdout)]

use std::time::Duration;

use halyard_tokio::client::{self, ManagerEvent, Socket};
use serde::Deserialize;
use tokio::sync::{mpsc, watch};

/// The demo's `message` event.
#[derive(Deserialize)]
struct Message {
    name: String,
    text: String,
}

/// The demo's answer to `join`.
#[derive(Deserialize)]
#[serde(untagged)]
enum Joined {
    Room { room: String, members: Vec<String> },
    Refused { error: String },
}

#[tokio::main]
async fn main() -> Result<(), client::Error> {
    let mut args = std::env::args().skip(1);
    let url = args
        .next()
        .unwrap_or_else(|| "http://localhost:3000".into());
    let name = args.next().unwrap_or_else(|| "rust".into());
    let room = args.next().unwrap_or_else(|| "lobby".into());

    let socket = client::io(url).connect()?;
    socket.manager().on_event(|event| match event {
        ManagerEvent::ReconnectAttempt(n) => println!("* reconnecting (attempt {n})"),
        ManagerEvent::Reconnect(n) => println!("* reconnected after {n} attempt(s)"),
        ManagerEvent::Error(reason) => println!("* connection error: {reason}"),
        _ => {}
    });

    // Whether we are in the room. The server forgets a room's members when they
    // disconnect, so every connection (the first and each reconnection) joins again.
    let (in_room, mut joined) = watch::channel(false);
    let left = in_room.clone();
    socket.on_connect(move |socket: Socket, ()| {
        let (who, in_room) = ((name.clone(), room.clone()), in_room.clone());
        async move {
            println!("* connected as {}", socket.id().unwrap_or_default());
            let (answer,): (Joined,) = socket
                .timeout(Duration::from_secs(5))
                .emit_with_ack("join", &who)
                .await?;
            match answer {
                Joined::Room { room, members } => {
                    println!("* joined #{room} with {}", members.join(", "));
                    in_room.send_replace(true);
                }
                Joined::Refused { error } => println!("* join refused: {error}"),
            }
            Ok::<_, client::Error>(())
        }
    });
    socket.on_disconnect(move |_socket: Socket, reason| {
        left.send_replace(false);
        async move { println!("* disconnected: {reason}") }
    });
    socket.on("message", |_, (msg,): (Message,)| async move {
        println!("<{}> {}", msg.name, msg.text);
    });
    socket.on("notice", |_, (text,): (String,)| async move {
        println!("* {text}");
    });

    // Lines from a thread of their own: a blocking read of stdin can't be cancelled.
    let (tx, mut lines) = mpsc::channel(16);
    std::thread::spawn(move || {
        for line in std::io::stdin().lines().map_while(Result::ok) {
            if tx.blocking_send(line).is_err() {
                break;
            }
        }
    });
    while let Some(line) = lines.recv().await {
        // Wait until (re)joined, or the server would drop the line.
        if joined.wait_for(|&joined| joined).await.is_err() {
            break;
        }
        socket.emit("message", &line).await?;
    }
    println!("* end of input; still listening (Ctrl-C quits)");
    std::future::pending().await
}
