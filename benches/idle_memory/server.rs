//! The Halyard servers of the idle-memory measurement (`benches/idle_memory/`): the same
//! application as `node_server.js`, on tokio or smol.
//!
//! ```sh
//! idle_memory_server --runtime tokio|smol --kind socket.io|engine.io --port N
//! ```
//!
//! - `socket.io` (path `/socket.io/`): on connection, one handler per socket, `message`,
//!   that emits `message` back with the same arguments (as `socket.on('message',
//!   (...args) => socket.emit('message', ...args))`; the arguments go back as the JSON
//!   they were, binary attachments as their placeholder objects). No other handler.
//! - `engine.io` (path `/engine.io/`): one application task per socket that sends every
//!   message back (`recv` then `send`).
//!
//! Default server options (25 s ping interval, 1 MB max payload), 127.0.0.1 only. Logging:
//! errors only, to stderr, the same subscriber on both runtimes. Prints `listening` on
//! stdout once the listener is bound (the tool waits for a TCP connection to succeed).
//! The tokio server runs on `tokio`'s multi-thread runtime (`#[tokio::main]`'s default),
//! the smol one in `smol::block_on` with smol's global executor, as the runtime crates'
//! examples do.

// A command-line tool: printing is its job.
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::io::Write;
use std::net::{Ipv4Addr, SocketAddr};

use serde_json::Value;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Runtime {
    Tokio,
    Smol,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    SocketIo,
    EngineIo,
}

const USAGE: &str =
    "usage: idle_memory_server --runtime tokio|smol --kind socket.io|engine.io --port N";

fn parse_args() -> Result<(Runtime, Kind, SocketAddr), String> {
    let (mut runtime, mut kind, mut port) = (None, None, None);
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = || args.next().ok_or_else(|| format!("{arg} needs a value"));
        match arg.as_str() {
            "--runtime" => {
                runtime = Some(match value()?.as_str() {
                    "tokio" => Runtime::Tokio,
                    "smol" => Runtime::Smol,
                    other => return Err(format!("unknown runtime {other}")),
                });
            }
            "--kind" => {
                kind = Some(match value()?.as_str() {
                    "socket.io" => Kind::SocketIo,
                    "engine.io" => Kind::EngineIo,
                    other => return Err(format!("unknown kind {other}")),
                });
            }
            "--port" => {
                port = Some(
                    value()?
                        .parse::<u16>()
                        .map_err(|e| format!("--port: {e}"))?,
                );
            }
            _ => return Err(format!("unknown argument {arg}")),
        }
    }
    match (runtime, kind, port) {
        (Some(runtime), Some(kind), Some(port)) => {
            Ok((runtime, kind, SocketAddr::from((Ipv4Addr::LOCALHOST, port))))
        }
        _ => Err("--runtime, --kind and --port are required".to_owned()),
    }
}

/// A list of JSON values emitted as that many arguments (the tuple rule reads a
/// `Vec<Value>` as one array argument; this writes each element as its own).
struct ArgList(Vec<Value>);

impl serde::Serialize for ArgList {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeTuple;
        let mut tuple = s.serialize_tuple(self.0.len())?;
        for value in &self.0 {
            tuple.serialize_element(value)?;
        }
        tuple.end()
    }
}

fn ready() {
    let mut out = std::io::stdout();
    let _ = writeln!(out, "listening");
    let _ = out.flush();
}

fn main() {
    let (runtime, kind, addr) = match parse_args() {
        Ok(parsed) => parsed,
        Err(message) => {
            eprintln!("{message}\n{USAGE}");
            std::process::exit(2);
        }
    };
    tracing_subscriber::fmt()
        .with_max_level(tracing_subscriber::filter::LevelFilter::ERROR)
        .with_writer(std::io::stderr)
        .init();
    let result = match runtime {
        Runtime::Tokio => tokio_main(kind, addr),
        Runtime::Smol => smol_main(kind, addr),
    };
    if let Err(error) = result {
        eprintln!("idle_memory_server: {error}");
        std::process::exit(1);
    }
}

/// The Socket.IO application: one `message` handler per socket that echoes. (The
/// runtime crates re-export the same `halyard` types, so one definition serves both.)
fn socketio_app() -> halyard_tokio::socketio::Server {
    use halyard_tokio::socketio::{Server, Socket};
    let io = Server::new();
    io.on_connection(|socket: Socket| async move {
        socket.on("message", |socket: Socket, args: Vec<Value>| async move {
            socket.emit("message", &ArgList(args)).await
        });
    });
    io
}

/// The Engine.IO application: one task per socket, spawned on `rt`, that echoes.
fn engineio_app<R: halyard_tokio::Runtime>(rt: R) -> halyard_tokio::EngineIoServer {
    let server = halyard_tokio::EngineIoServer::new();
    let app = server.clone();
    let tasks = rt.clone();
    rt.spawn(async move {
        while let Some(mut socket) = app.accept().await {
            tasks.spawn(async move {
                while let Some(message) = socket.recv().await {
                    if socket.send(message).await.is_err() {
                        break;
                    }
                }
            });
        }
    });
    server
}

#[tokio::main]
async fn tokio_main(kind: Kind, addr: SocketAddr) -> std::io::Result<()> {
    let listener = tokio::net::TcpListener::bind(addr).await?;
    match kind {
        Kind::SocketIo => {
            let io = socketio_app();
            ready();
            halyard_tokio::serve(listener, io).await
        }
        Kind::EngineIo => {
            let server = engineio_app(halyard_tokio::TokioRuntime::current());
            ready();
            halyard_tokio::serve(listener, server).await
        }
    }
}

fn smol_main(kind: Kind, addr: SocketAddr) -> std::io::Result<()> {
    smol::block_on(async {
        let listener = async_net::TcpListener::bind(addr).await?;
        match kind {
            Kind::SocketIo => {
                let io = socketio_app();
                ready();
                halyard_smol::serve(listener, io).await
            }
            Kind::EngineIo => {
                let server = engineio_app(halyard_smol::SmolRuntime);
                ready();
                halyard_smol::serve(listener, server).await
            }
        }
    })
}
