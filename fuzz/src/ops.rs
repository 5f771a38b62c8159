//! The byte format of the engine targets (`engineio_server_session`,
//! `socketio_server_connection`): a fixed header, then a list of operations.
//!
//! The format is hand-writable and has an encoder ([`encode`]), so committed seeds are
//! built from readable op lists (see `src/seeds.rs`) and mutations mostly keep the
//! structure. Decoding is total: every byte string is a valid input; a value cut short by
//! the end of the input ends the op list.
//!
//! # Primitives
//!
//! - `u8`: one byte; `u16`: two bytes, little-endian; `bool`: one byte, odd is true.
//! - `bytes`: a length byte `n`, then `n` bytes (fewer if the input ends first).
//! - `nsp`: one byte, `% 3` picks `/`, `/x` or `/y`.
//! - `list<T>`: a count byte, `% 8` (`% 4` for attachments), then that many `T`.
//! - `req`: one byte choosing a request id the session gave out, `0` the latest, `1` the
//!   one before… (modulo their number); `255`, or any byte when there is none yet, names
//!   an id the session never gave out.
//!
//! # Header
//!
//! `engineio_server_session` reads 8 bytes, `socketio_server_connection` 10 (missing
//! bytes are 0):
//!
//! | byte | meaning |
//! |---|---|
//! | 0 | flags: `1` WebSocket handshake (else polling), `2` overflow policy `Reject` (else `CloseSession`), `4` polling only (WebSocket not allowed), `8` durations may be 0 (else at least 1 ms), `16` connection state recovery on (Socket.IO) |
//! | 1–4 | `ping_interval`, `ping_timeout`, `upgrade_timeout`, `close_timeout`: `4 * b` ms (`+ 1` unless flag 8) |
//! | 5 | `max_payload`: `8 + 8 * b` bytes |
//! | 6 | `max_queued_frames`: `b % 32` |
//! | 7 | `max_queued_bytes`: `16 * b` |
//! | 8 | Socket.IO `connect_timeout`: `16 * b` ms (`+ 1` unless flag 8) |
//! | 9 | Socket.IO `max_attachments`: `b % 12` |
//!
//! # Operations
//!
//! An opcode byte (`% 19` for the session target, `% 23` for the connection target), then
//! its arguments. Opcodes 0–14 are the same in both targets (transport and time):
//!
//! | op | name | arguments | call |
//! |---|---|---|---|
//! | 0 | `Poll` | | `handle_poll` |
//! | 1 | `Post` | `list<frame>` | `handle_post` with the frames as a polling payload |
//! | 2 | `PostRaw` | `bytes` | `handle_post` with that body |
//! | 3 | `PostStart` | | `handle_post_start` |
//! | 4 | `PostData` | `req`, `bytes` | `handle_post_data` |
//! | 5 | `PostEnd` | `req` | `handle_post_end` |
//! | 6 | `Abort` | `req` | `handle_request_aborted` |
//! | 7 | `WsOpen` | | `handle_ws_open` |
//! | 8 | `WsFrames` | `list<frame>` | `handle_ws_frame` for each frame |
//! | 9 | `WsText` | `bytes` | `handle_ws_frame(Frame::Text)` (lossy UTF-8) |
//! | 10 | `WsBinary` | `bytes` | `handle_ws_frame(Frame::Binary)` |
//! | 11 | `WsClosed` | | `handle_ws_closed` |
//! | 12 | `Advance` | `u16` ms | `now += ms; handle_timeout(now)` |
//! | 13 | `AdvanceToDeadline` | | `now = max(now, poll_timeout())` (else `+ 1 ms`); `handle_timeout(now)` |
//! | 14 | `Endpoint` | `u8` method (`% 3`: GET, POST, other), `bool` websocket, `bytes` query | `Endpoint::handle_request(Request::from_query(…))` |
//!
//! Session target, 15–18:
//!
//! | op | name | arguments | call |
//! |---|---|---|---|
//! | 15 | `Send` | `out` | `send` |
//! | 16 | `TrySend` | `out` | `try_send` |
//! | 17 | `SendAll` | `list<out>` | `send_all` |
//! | 18 | `Close` | `u8` reason (`% 8`, in `CloseReason` order) | `close` |
//!
//! Connection target, 15–22:
//!
//! | op | name | arguments | call |
//! |---|---|---|---|
//! | 15 | `Accept` | `nsp` | `accept(nsp, None)` |
//! | 16 | `Refuse` | `nsp`, `bool` with data | `refuse` |
//! | 17 | `Emit` | `nsp`, `payload`, `u8` ack id (`0`: no ack, else id `b - 1`), `u8` timeout (`0`: none, else `4 * (b - 1)` ms), `bool` volatile | `emit` |
//! | 18 | `Ack` | `nsp`, `u8` id, `payload` | `ack` (the payload's name is ignored) |
//! | 19 | `Disconnect` | `nsp` | `disconnect` |
//! | 20 | `CloseConnection` | | `close` |
//! | 21 | `Shutdown` | | `shutdown` |
//! | 22 | `CancelAck` | `nsp`, `u8` id | `cancel_ack` |
//!
//! # Frames a client sends (`frame`)
//!
//! A kind byte `% 16`, then its arguments; Socket.IO kinds give the text frame and then
//! one binary frame per attachment:
//!
//! | kind | frame(s) |
//! |---|---|
//! | 0–6 | `3`, `2probe`, `5`, `6`, `1`, `2`, `3probe` |
//! | 7 | `bytes`: `4` + the bytes (lossy UTF-8) |
//! | 8 | `bytes`: a binary message |
//! | 9 | CONNECT: `nsp`, `u8` auth (`% 4`: none, `{"token":"t"}`, `{"pid":"p","offset":"o"}`, `{}`) |
//! | 10 | DISCONNECT: `nsp` |
//! | 11 | EVENT (BINARY_EVENT with attachments): `nsp`, `u8` ack id (`0`: none, else `b - 1`), `payload` |
//! | 12 | ACK (BINARY_ACK): `nsp`, `u8` id, `payload` |
//! | 13 | CONNECT_ERROR: `nsp` |
//! | 14 | a binary header announcing `u8 % 4 + 1` attachments, without them: `nsp` |
//! | 15 | `bytes`: a raw text frame, the bytes as they are (lossy UTF-8) |
//!
//! `payload`: `u8` name (`% 4`: `msg`, `chat`, `x`, `ev`), `u8` argument (`% 4`: the
//! number `b / 4`, the string `"s"`, the object `{"k":b}`, no argument), then
//! `list<bytes>` attachments (`% 4`), sent as one more argument, an array of binaries.
//!
//! # Frames the application sends (`out`)
//!
//! A kind byte `% 3` then `bytes`: a text message (`4` + lossy UTF-8), a binary message,
//! or a raw text frame (lossy UTF-8, usually not a message: refused).

/// Which target reads the input (the opcode tables differ from 15 on).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// `engineio_server_session`.
    Session,
    /// `socketio_server_connection`.
    Connection,
}

impl Target {
    fn header_len(self) -> usize {
        match self {
            Target::Session => 8,
            Target::Connection => 10,
        }
    }

    fn ops(self) -> u8 {
        match self {
            Target::Session => 19,
            Target::Connection => 23,
        }
    }
}

/// The header flags.
pub mod flags {
    /// WebSocket handshake.
    pub const WEBSOCKET: u8 = 1;
    /// `OverflowPolicy::Reject`.
    pub const REJECT: u8 = 2;
    /// WebSocket not allowed.
    pub const POLLING_ONLY: u8 = 4;
    /// Durations may be zero.
    pub const ZERO_DURATIONS: u8 = 8;
    /// Connection state recovery.
    pub const RECOVERY: u8 = 16;
}

/// The header bytes (see the module documentation).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Header(pub [u8; 10]);

/// A frame a client sends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientFrame {
    /// `3`.
    Pong,
    /// `2probe`.
    PingProbe,
    /// `5`.
    Upgrade,
    /// `6`.
    Noop,
    /// `1`.
    Close,
    /// `2`.
    Ping,
    /// `3probe`.
    PongProbe,
    /// `4` + text.
    Text(Vec<u8>),
    /// A binary message.
    Binary(Vec<u8>),
    /// Socket.IO CONNECT.
    Connect {
        /// Namespace byte.
        nsp: u8,
        /// Auth choice.
        auth: u8,
    },
    /// Socket.IO DISCONNECT.
    Disconnect {
        /// Namespace byte.
        nsp: u8,
    },
    /// Socket.IO EVENT / BINARY_EVENT.
    Event {
        /// Namespace byte.
        nsp: u8,
        /// `0`: no ack, else id `ack - 1`.
        ack: u8,
        /// Name, argument, attachments.
        payload: Payload,
    },
    /// Socket.IO ACK / BINARY_ACK.
    Ack {
        /// Namespace byte.
        nsp: u8,
        /// The ack id.
        id: u8,
        /// Argument and attachments.
        payload: Payload,
    },
    /// Socket.IO CONNECT_ERROR (never valid from a client).
    ConnectError {
        /// Namespace byte.
        nsp: u8,
    },
    /// A binary event header whose attachments do not follow.
    LoneBinaryHeader {
        /// Namespace byte.
        nsp: u8,
        /// `count % 4 + 1` attachments announced.
        count: u8,
    },
    /// A raw text frame (lossy UTF-8), not prefixed.
    RawFrame(Vec<u8>),
}

/// An event's name and arguments, or an ack's arguments.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Payload {
    /// `% 4`: `msg`, `chat`, `x`, `ev`.
    pub name: u8,
    /// `% 4`: a number, a string, an object, nothing.
    pub arg: u8,
    /// Binary attachments (at most 3).
    pub attachments: Vec<Vec<u8>>,
}

/// A frame the application sends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OutFrame {
    /// `4` + text.
    Message(Vec<u8>),
    /// A binary message.
    Binary(Vec<u8>),
    /// A raw text frame.
    Raw(Vec<u8>),
}

/// One operation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Op {
    /// 0.
    Poll,
    /// 1.
    Post(Vec<ClientFrame>),
    /// 2.
    PostRaw(Vec<u8>),
    /// 3.
    PostStart,
    /// 4.
    PostData(u8, Vec<u8>),
    /// 5.
    PostEnd(u8),
    /// 6.
    Abort(u8),
    /// 7.
    WsOpen,
    /// 8.
    WsFrames(Vec<ClientFrame>),
    /// 9.
    WsText(Vec<u8>),
    /// 10.
    WsBinary(Vec<u8>),
    /// 11.
    WsClosed,
    /// 12.
    Advance(u16),
    /// 13.
    AdvanceToDeadline,
    /// 14.
    Endpoint {
        /// `% 3`: GET, POST, other.
        method: u8,
        /// `Upgrade: websocket`.
        websocket: bool,
        /// The query string (lossy UTF-8).
        query: Vec<u8>,
    },
    /// Session 15.
    Send(OutFrame),
    /// Session 16.
    TrySend(OutFrame),
    /// Session 17.
    SendAll(Vec<OutFrame>),
    /// Session 18.
    Close(u8),
    /// Connection 15.
    Accept(u8),
    /// Connection 16.
    Refuse(u8, bool),
    /// Connection 17.
    Emit {
        /// Namespace byte.
        nsp: u8,
        /// The event.
        payload: Payload,
        /// `0`: no ack, else id `ack - 1`.
        ack: u8,
        /// `0`: no timeout, else `4 * (timeout - 1)` ms.
        timeout: u8,
        /// Volatile.
        volatile: bool,
    },
    /// Connection 18.
    Ack {
        /// Namespace byte.
        nsp: u8,
        /// The client's ack id.
        id: u8,
        /// The arguments.
        payload: Payload,
    },
    /// Connection 19.
    Disconnect(u8),
    /// Connection 20.
    CloseConnection,
    /// Connection 21.
    Shutdown,
    /// Connection 22.
    CancelAck(u8, u8),
}

/// The three namespaces of the connection target.
pub const NAMESPACES: [&str; 3] = ["/", "/x", "/y"];

/// The namespace a byte names.
pub fn nsp(b: u8) -> &'static str {
    NAMESPACES[usize::from(b) % NAMESPACES.len()]
}

// ----- decoding ------------------------------------------------------------------------

struct Reader<'a> {
    data: &'a [u8],
}

impl Reader<'_> {
    fn u8(&mut self) -> Option<u8> {
        let (&b, rest) = self.data.split_first()?;
        self.data = rest;
        Some(b)
    }

    fn u16(&mut self) -> Option<u16> {
        let lo = self.u8()?;
        let hi = self.u8()?;
        Some(u16::from_le_bytes([lo, hi]))
    }

    fn bool(&mut self) -> Option<bool> {
        Some(self.u8()? & 1 == 1)
    }

    fn bytes(&mut self) -> Option<Vec<u8>> {
        let len = usize::from(self.u8()?).min(self.data.len());
        let (taken, rest) = self.data.split_at(len);
        self.data = rest;
        Some(taken.to_vec())
    }

    fn list<T>(
        &mut self,
        modulo: u8,
        mut item: impl FnMut(&mut Self) -> Option<T>,
    ) -> Option<Vec<T>> {
        let count = self.u8()? % modulo;
        (0..count).map(|_| item(self)).collect()
    }

    fn payload(&mut self) -> Option<Payload> {
        Some(Payload {
            name: self.u8()? % 4,
            arg: self.u8()?,
            attachments: self.list(4, Self::bytes)?,
        })
    }

    fn client_frame(&mut self) -> Option<ClientFrame> {
        Some(match self.u8()? % 16 {
            0 => ClientFrame::Pong,
            1 => ClientFrame::PingProbe,
            2 => ClientFrame::Upgrade,
            3 => ClientFrame::Noop,
            4 => ClientFrame::Close,
            5 => ClientFrame::Ping,
            6 => ClientFrame::PongProbe,
            7 => ClientFrame::Text(self.bytes()?),
            8 => ClientFrame::Binary(self.bytes()?),
            9 => ClientFrame::Connect {
                nsp: self.u8()? % 3,
                auth: self.u8()? % 4,
            },
            10 => ClientFrame::Disconnect {
                nsp: self.u8()? % 3,
            },
            11 => ClientFrame::Event {
                nsp: self.u8()? % 3,
                ack: self.u8()?,
                payload: self.payload()?,
            },
            12 => ClientFrame::Ack {
                nsp: self.u8()? % 3,
                id: self.u8()?,
                payload: self.payload()?,
            },
            13 => ClientFrame::ConnectError {
                nsp: self.u8()? % 3,
            },
            14 => ClientFrame::LoneBinaryHeader {
                nsp: self.u8()? % 3,
                count: self.u8()? % 4,
            },
            _ => ClientFrame::RawFrame(self.bytes()?),
        })
    }

    fn out_frame(&mut self) -> Option<OutFrame> {
        let kind = self.u8()? % 3;
        let bytes = self.bytes()?;
        Some(match kind {
            0 => OutFrame::Message(bytes),
            1 => OutFrame::Binary(bytes),
            _ => OutFrame::Raw(bytes),
        })
    }

    fn op(&mut self, target: Target) -> Option<Op> {
        let code = self.u8()? % target.ops();
        Some(match (code, target) {
            (0, _) => Op::Poll,
            (1, _) => Op::Post(self.list(8, Self::client_frame)?),
            (2, _) => Op::PostRaw(self.bytes()?),
            (3, _) => Op::PostStart,
            (4, _) => Op::PostData(self.u8()?, self.bytes()?),
            (5, _) => Op::PostEnd(self.u8()?),
            (6, _) => Op::Abort(self.u8()?),
            (7, _) => Op::WsOpen,
            (8, _) => Op::WsFrames(self.list(8, Self::client_frame)?),
            (9, _) => Op::WsText(self.bytes()?),
            (10, _) => Op::WsBinary(self.bytes()?),
            (11, _) => Op::WsClosed,
            (12, _) => Op::Advance(self.u16()?),
            (13, _) => Op::AdvanceToDeadline,
            (14, _) => Op::Endpoint {
                method: self.u8()? % 3,
                websocket: self.bool()?,
                query: self.bytes()?,
            },
            (15, Target::Session) => Op::Send(self.out_frame()?),
            (16, Target::Session) => Op::TrySend(self.out_frame()?),
            (17, Target::Session) => Op::SendAll(self.list(8, Self::out_frame)?),
            (_, Target::Session) => Op::Close(self.u8()? % 8),
            (15, _) => Op::Accept(self.u8()? % 3),
            (16, _) => Op::Refuse(self.u8()? % 3, self.bool()?),
            (17, _) => Op::Emit {
                nsp: self.u8()? % 3,
                payload: self.payload()?,
                ack: self.u8()?,
                timeout: self.u8()?,
                volatile: self.bool()?,
            },
            (18, _) => Op::Ack {
                nsp: self.u8()? % 3,
                id: self.u8()?,
                payload: self.payload()?,
            },
            (19, _) => Op::Disconnect(self.u8()? % 3),
            (20, _) => Op::CloseConnection,
            (21, _) => Op::Shutdown,
            _ => Op::CancelAck(self.u8()? % 3, self.u8()?),
        })
    }
}

/// Decodes an input: the header, then operations until the input ends (an operation cut
/// short is dropped).
pub fn decode(data: &[u8], target: Target) -> (Header, Vec<Op>) {
    let mut header = Header::default();
    let n = target.header_len().min(data.len());
    header.0[..n].copy_from_slice(&data[..n]);
    let mut reader = Reader { data: &data[n..] };
    let mut ops = Vec::new();
    while let Some(op) = reader.op(target) {
        ops.push(op);
    }
    (header, ops)
}

// ----- encoding ------------------------------------------------------------------------

struct Writer(Vec<u8>);

impl Writer {
    fn u8(&mut self, b: u8) {
        self.0.push(b);
    }

    fn bytes(&mut self, bytes: &[u8]) {
        let len = u8::try_from(bytes.len()).expect("at most 255 bytes");
        self.0.push(len);
        self.0.extend_from_slice(bytes);
    }

    fn count(&mut self, n: usize, modulo: usize) {
        assert!(n < modulo, "at most {} items", modulo - 1);
        self.0.push(n as u8);
    }

    fn payload(&mut self, p: &Payload) {
        self.u8(p.name);
        self.u8(p.arg);
        self.count(p.attachments.len(), 4);
        for a in &p.attachments {
            self.bytes(a);
        }
    }

    fn client_frame(&mut self, frame: &ClientFrame) {
        match frame {
            ClientFrame::Pong => self.u8(0),
            ClientFrame::PingProbe => self.u8(1),
            ClientFrame::Upgrade => self.u8(2),
            ClientFrame::Noop => self.u8(3),
            ClientFrame::Close => self.u8(4),
            ClientFrame::Ping => self.u8(5),
            ClientFrame::PongProbe => self.u8(6),
            ClientFrame::Text(b) => {
                self.u8(7);
                self.bytes(b);
            }
            ClientFrame::Binary(b) => {
                self.u8(8);
                self.bytes(b);
            }
            ClientFrame::Connect { nsp, auth } => self.0.extend([9, *nsp, *auth]),
            ClientFrame::Disconnect { nsp } => self.0.extend([10, *nsp]),
            ClientFrame::Event { nsp, ack, payload } => {
                self.0.extend([11, *nsp, *ack]);
                self.payload(payload);
            }
            ClientFrame::Ack { nsp, id, payload } => {
                self.0.extend([12, *nsp, *id]);
                self.payload(payload);
            }
            ClientFrame::ConnectError { nsp } => self.0.extend([13, *nsp]),
            ClientFrame::LoneBinaryHeader { nsp, count } => self.0.extend([14, *nsp, *count]),
            ClientFrame::RawFrame(b) => {
                self.u8(15);
                self.bytes(b);
            }
        }
    }

    fn client_frames(&mut self, frames: &[ClientFrame]) {
        self.count(frames.len(), 8);
        for f in frames {
            self.client_frame(f);
        }
    }

    fn out_frame(&mut self, frame: &OutFrame) {
        let (kind, bytes) = match frame {
            OutFrame::Message(b) => (0, b),
            OutFrame::Binary(b) => (1, b),
            OutFrame::Raw(b) => (2, b),
        };
        self.u8(kind);
        self.bytes(bytes);
    }

    fn op(&mut self, op: &Op, target: Target) {
        let session = target == Target::Session;
        match op {
            Op::Poll => self.u8(0),
            Op::Post(frames) => {
                self.u8(1);
                self.client_frames(frames);
            }
            Op::PostRaw(b) => {
                self.u8(2);
                self.bytes(b);
            }
            Op::PostStart => self.u8(3),
            Op::PostData(req, b) => {
                self.0.extend([4, *req]);
                self.bytes(b);
            }
            Op::PostEnd(req) => self.0.extend([5, *req]),
            Op::Abort(req) => self.0.extend([6, *req]),
            Op::WsOpen => self.u8(7),
            Op::WsFrames(frames) => {
                self.u8(8);
                self.client_frames(frames);
            }
            Op::WsText(b) => {
                self.u8(9);
                self.bytes(b);
            }
            Op::WsBinary(b) => {
                self.u8(10);
                self.bytes(b);
            }
            Op::WsClosed => self.u8(11),
            Op::Advance(ms) => {
                self.u8(12);
                self.0.extend(ms.to_le_bytes());
            }
            Op::AdvanceToDeadline => self.u8(13),
            Op::Endpoint {
                method,
                websocket,
                query,
            } => {
                self.0.extend([14, *method, u8::from(*websocket)]);
                self.bytes(query);
            }
            Op::Send(f) | Op::TrySend(f) => {
                assert!(session, "{op:?} is a session op");
                self.u8(if matches!(op, Op::Send(_)) { 15 } else { 16 });
                self.out_frame(f);
            }
            Op::SendAll(frames) => {
                assert!(session, "{op:?} is a session op");
                self.u8(17);
                self.count(frames.len(), 8);
                for f in frames {
                    self.out_frame(f);
                }
            }
            Op::Close(reason) => {
                assert!(session, "{op:?} is a session op");
                self.0.extend([18, *reason]);
            }
            _ => assert!(!session, "{op:?} is a connection op"),
        }
        match op {
            Op::Accept(nsp) => self.0.extend([15, *nsp]),
            Op::Refuse(nsp, data) => self.0.extend([16, *nsp, u8::from(*data)]),
            Op::Emit {
                nsp,
                payload,
                ack,
                timeout,
                volatile,
            } => {
                self.0.extend([17, *nsp]);
                self.payload(payload);
                self.0.extend([*ack, *timeout, u8::from(*volatile)]);
            }
            Op::Ack { nsp, id, payload } => {
                self.0.extend([18, *nsp, *id]);
                self.payload(payload);
            }
            Op::Disconnect(nsp) => self.0.extend([19, *nsp]),
            Op::CloseConnection => self.u8(20),
            Op::Shutdown => self.u8(21),
            Op::CancelAck(nsp, id) => self.0.extend([22, *nsp, *id]),
            _ => {}
        }
    }
}

/// Encodes a header and operations for `target` (the inverse of [`decode`] for values
/// in range). Panics on a value the format cannot hold (over 255 bytes, too many items,
/// an operation of the other target).
pub fn encode(header: Header, ops: &[Op], target: Target) -> Vec<u8> {
    let mut w = Writer(header.0[..target.header_len()].to_vec());
    for op in ops {
        w.op(op, target);
    }
    w.0
}
