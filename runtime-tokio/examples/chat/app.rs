//! The chat app: a Socket.IO server with rooms, and the page (`demo/`) that talks to it,
//! as one axum router. Shared by the `chat` example and its browser test.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use axum::http::header;
use axum::response::Html;
use axum::routing::get;
use halyard_tokio::LayerExt;
use halyard_tokio::socketio::{AckSender, Server, Socket};
use serde::Serialize;

const INDEX: &str = include_str!("../../../demo/index.html");
const SCRIPT: &str = include_str!("../../../demo/chat.js");
const STYLE: &str = include_str!("../../../demo/chat.css");

/// npm's socket.io-client browser bundle, installed by `npm ci --prefix interop`.
pub(crate) fn client_bundle() -> PathBuf {
    PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../interop/node_modules/socket.io-client/dist/socket.io.js"
    ))
}

/// Who is connected: socket id to name and current room.
type Members = Arc<Mutex<HashMap<String, Member>>>;

#[derive(Clone)]
struct Member {
    name: String,
    room: Option<String>,
}

#[derive(Serialize)]
struct Message<'a> {
    name: &'a str,
    text: &'a str,
}

/// The page at `/` and Socket.IO at `/socket.io/` (with the client at
/// `/socket.io/socket.io.js`).
pub(crate) fn router() -> axum::Router {
    let io = Server::builder().client_bundle(client_bundle()).build();
    let members = Members::default();
    let server = io.clone();
    io.on_connection(move |socket: Socket| {
        let (io, members) = (server.clone(), members.clone());
        async move { connected(io, members, socket) }
    });
    axum::Router::new()
        .route("/", get(|| async { Html(INDEX) }))
        .route(
            "/chat.js",
            get(|| async { ([(header::CONTENT_TYPE, "text/javascript")], SCRIPT) }),
        )
        .route(
            "/chat.css",
            get(|| async { ([(header::CONTENT_TYPE, "text/css")], STYLE) }),
        )
        .layer(io.layer())
}

fn connected(io: Server, members: Members, socket: Socket) {
    // `join` (name, room), acked with the room's members: leaves the current room first.
    let (server, list) = (io.clone(), members.clone());
    socket.on_with_ack(
        "join",
        move |socket: Socket, (name, room): (String, String), ack: AckSender| {
            let (io, members) = (server.clone(), list.clone());
            async move {
                let (name, room) = (clean(&name, 24), clean(&room, 32));
                if name.is_empty() || room.is_empty() {
                    return ack
                        .send(&serde_json::json!({ "error": "a name and a room, please" }))
                        .await;
                }
                leave_room(&io, &members, &socket).await;
                socket.join(&room);
                let member = Member {
                    name: name.clone(),
                    room: Some(room.clone()),
                };
                members
                    .lock()
                    .unwrap()
                    .insert(socket.id().to_owned(), member);
                let _ = socket
                    .to(room.as_str())
                    .emit("notice", &format!("{name} joined"))
                    .await;
                let _ = io
                    .to(room.as_str())
                    .emit("members", &names_in(&members, &room))
                    .await;
                ack.send(&serde_json::json!({ "room": room, "members": names_in(&members, &room) }))
                    .await
            }
        },
    );

    let (server, list) = (io.clone(), members.clone());
    socket.on("leave", move |socket: Socket, (): ()| {
        let (io, members) = (server.clone(), list.clone());
        async move { leave_room(&io, &members, &socket).await }
    });

    // `message` (text): to everyone in the sender's room, the sender included.
    let (server, list) = (io.clone(), members.clone());
    socket.on("message", move |socket: Socket, (text,): (String,)| {
        let (io, members) = (server.clone(), list.clone());
        async move {
            let member = members.lock().unwrap().get(socket.id()).cloned();
            let text = clean(&text, 500);
            if let Some(Member {
                name,
                room: Some(room),
            }) = member
                && !text.is_empty()
            {
                let message = Message {
                    name: &name,
                    text: &text,
                };
                let _ = io.to(room).emit("message", &message).await;
            }
        }
    });

    socket.on_disconnect(move |socket: Socket, _reason| {
        let (io, members) = (io.clone(), members.clone());
        async move {
            leave_room(&io, &members, &socket).await;
            members.lock().unwrap().remove(socket.id());
        }
    });
}

/// Leaves the socket's current room, if any, telling the others.
async fn leave_room(io: &Server, members: &Members, socket: &Socket) {
    let left = {
        let mut members = members.lock().unwrap();
        members
            .get_mut(socket.id())
            .and_then(|m| m.room.take().map(|room| (m.name.clone(), room)))
    };
    if let Some((name, room)) = left {
        socket.leave(&room);
        let _ = io
            .to(room.as_str())
            .emit("notice", &format!("{name} left"))
            .await;
        let _ = io
            .to(room.as_str())
            .emit("members", &names_in(members, &room))
            .await;
    }
}

fn names_in(members: &Members, room: &str) -> Vec<String> {
    let mut names: Vec<String> = members
        .lock()
        .unwrap()
        .values()
        .filter(|m| m.room.as_deref() == Some(room))
        .map(|m| m.name.clone())
        .collect();
    names.sort();
    names
}

/// Trimmed, at most `max` characters.
fn clean(text: &str, max: usize) -> String {
    text.trim().chars().take(max).collect()
}
