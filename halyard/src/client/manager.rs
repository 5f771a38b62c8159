//! [`Manager`]: one Engine.IO connection shared by the namespace sockets, and the
//! handle's side of the channels to its task.

use std::collections::HashMap;
use std::hash::{BuildHasher, RandomState};
use std::sync::{Arc, Mutex};

use async_tungstenite::tungstenite::protocol::WebSocketConfig;
use futures_channel::{mpsc, oneshot};
use halyard_engine::socketio::client::{EmitOptions, Manager as EngineManager, ManagerConfig};
use halyard_protocol::socketio::{Args, Event};

use super::driver::Driver;
use super::executor::{Executor, INPUT_CAPACITY, TransportSettings};
use super::options::{Options, SocketOptions};
use super::socket::{Socket, SocketShared, SocketState, lock};
use super::target::Target;
use super::transport::Connector;
use super::{Error, ManagerEvent};
use crate::runtime::Runtime;
use crate::socketio::HandlerId;

/// How the manager's task answers an emit.
pub(crate) enum Reply {
    /// Taken (or refused).
    Sent(oneshot::Sender<Result<(), Error>>),
    /// Acknowledged (or failed).
    Acked(oneshot::Sender<Result<Args, Error>>),
}

/// What handles ask of the manager's task.
pub(crate) enum Command {
    Socket {
        nsp: String,
        options: SocketOptions,
    },
    Connect {
        nsp: String,
    },
    Disconnect {
        nsp: String,
    },
    Emit {
        nsp: String,
        event: Event,
        options: EmitOptions,
        reply: Reply,
    },
    Ack {
        nsp: String,
        ack_id: u64,
        args: Args,
    },
    Open,
    Close,
}

/// A manager's listener of its own events.
pub(crate) type ManagerListener = Arc<dyn Fn(&ManagerEvent) + Send + Sync>;

/// What handles and the task share, besides the channels.
pub(crate) struct ManagerShared {
    pub(crate) sockets: Mutex<HashMap<String, Arc<SocketShared>>>,
    pub(crate) listeners: Mutex<Vec<(HandlerId, ManagerListener)>>,
    pub(crate) auto_connect: bool,
}

/// The handles' link to the manager's task. The task ends (closing the connection)
/// when the last link is dropped: every [`Manager`] and [`Socket`] handle is gone.
pub(crate) struct Link {
    /// Connect, disconnect, open, close: never waits (rare, and issued from sync code).
    control: async_channel::Sender<Command>,
    /// Emits and acks: bounded, so a fast emitter waits for the task.
    emits: async_channel::Sender<Command>,
    pub(crate) shared: Arc<ManagerShared>,
}

/// The most emits waiting for the manager's task.
const EMIT_CAPACITY: usize = 256;

impl Link {
    pub(crate) fn control(&self, command: Command) {
        let _ = self.control.try_send(command);
    }

    pub(crate) async fn send(&self, command: Command) -> Result<(), Error> {
        self.emits.send(command).await.map_err(|_| Error::Closed)
    }
}

/// A Socket.IO client connection (socket.io-client's `Manager`): one Engine.IO
/// connection to one origin, reconnection with backoff, and the namespace [`Socket`]s
/// multiplexed on it. Cheap to clone. Get one from
/// [`ClientBuilder::manager`](super::ClientBuilder::manager) or [`Socket::manager`].
#[derive(Clone)]
pub struct Manager {
    pub(crate) link: Arc<Link>,
}

impl std::fmt::Debug for Manager {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Manager").finish_non_exhaustive()
    }
}

impl Manager {
    /// Starts the task of a new manager of `target`.
    pub(crate) fn start<R: Runtime>(
        rt: R,
        target: Target,
        options: Options,
    ) -> Result<Self, Error> {
        let engine = options.engine_config()?;
        let config = ManagerConfig {
            engine,
            ..options.manager.clone()
        };
        let seed = options
            .seed
            .unwrap_or_else(|| RandomState::new().hash_one(rt.now()));
        let settings = TransportSettings {
            path: options.path.clone(),
            query: options.query_string(&target.query),
            headers: options.headers.clone(),
            ws_config: WebSocketConfig::default(),
        };
        let connector = Connector::new(
            rt.clone(),
            Arc::new(target),
            #[cfg(feature = "tls")]
            options.tls.clone(),
        );
        let (inputs_tx, inputs_rx) = mpsc::channel(INPUT_CAPACITY);
        let executor = Executor::new(
            rt.clone(),
            connector,
            settings,
            options.max_payload,
            inputs_tx,
        );
        let (control, control_rx) = async_channel::unbounded();
        let (emits, emits_rx) = async_channel::bounded(EMIT_CAPACITY);
        let shared = Arc::new(ManagerShared {
            sockets: Mutex::new(HashMap::new()),
            listeners: Mutex::new(Vec::new()),
            auto_connect: config.auto_connect,
        });
        let link = Arc::new(Link {
            control,
            emits,
            shared: shared.clone(),
        });
        let driver = Driver::new(
            rt.clone(),
            EngineManager::new(config, seed),
            Arc::downgrade(&link),
            shared,
            executor,
            control_rx,
            emits_rx,
            inputs_rx,
            options.max_buffered,
        );
        rt.spawn(driver.run());
        Ok(Self { link })
    }

    /// The socket of namespace `nsp` (`manager.socket(nsp)`), with the options the
    /// manager was built with. The same namespace gives the same socket; it connects
    /// now unless `auto_connect(false)` (an existing, inactive socket reconnects).
    pub fn socket(&self, nsp: &str) -> Result<Socket, Error> {
        self.socket_with(nsp, SocketOptions::default())
    }

    /// [`socket`](Self::socket) with options of its own (auth, retries, ack timeout)
    /// for a socket that does not exist yet.
    pub fn socket_with(&self, nsp: &str, options: SocketOptions) -> Result<Socket, Error> {
        if !nsp.starts_with('/') || nsp.contains(',') {
            return Err(Error::InvalidNamespace(nsp.to_owned()));
        }
        let shared = &self.link.shared;
        let mut sockets = lock(&shared.sockets);
        if let Some(existing) = sockets.get(nsp) {
            let socket = Socket {
                shared: existing.clone(),
                link: self.link.clone(),
            };
            drop(sockets);
            if shared.auto_connect && !socket.active() {
                socket.connect();
            }
            return Ok(socket);
        }
        // Fails early on an auth function that does not give an object.
        options.auth.current()?;
        let socket_shared = Arc::new(SocketShared {
            nsp: nsp.to_owned(),
            auth: options.auth.clone(),
            state: Mutex::new(SocketState {
                active: shared.auto_connect,
                ..SocketState::default()
            }),
            handlers: Mutex::default(),
        });
        sockets.insert(nsp.to_owned(), socket_shared.clone());
        drop(sockets);
        self.link.control(Command::Socket {
            nsp: nsp.to_owned(),
            options,
        });
        Ok(Socket {
            shared: socket_shared,
            link: self.link.clone(),
        })
    }

    /// Opens the connection if it is closed (`manager.open()`).
    pub fn open(&self) {
        self.link.control(Command::Open);
    }

    /// Closes the connection for good (`manager.disconnect()`): every connected socket
    /// gets `disconnect` with `forced close`, and nothing reconnects until
    /// [`open`](Self::open) or a socket's `connect`.
    pub fn close(&self) {
        self.link.control(Command::Close);
    }

    /// Calls `listener` with every manager event (`open`, `error`, `ping`, `close`,
    /// `reconnect_attempt`, `reconnect`, `reconnect_error`, `reconnect_failed`), in the
    /// manager's task; it must not block.
    pub fn on_event<F>(&self, listener: F) -> HandlerId
    where
        F: Fn(&ManagerEvent) + Send + Sync + 'static,
    {
        let id = HandlerId::next();
        lock(&self.link.shared.listeners).push((id, Arc::new(listener)));
        id
    }

    /// Removes the listener `id`; `false` if it is not one.
    pub fn off_event(&self, id: HandlerId) -> bool {
        let mut listeners = lock(&self.link.shared.listeners);
        let before = listeners.len();
        listeners.retain(|(l, _)| *l != id);
        listeners.len() != before
    }

    /// Whether both handles are the same manager.
    pub fn same(&self, other: &Manager) -> bool {
        Arc::ptr_eq(&self.link, &other.link)
    }
}
