//! The committed seeds of the engine targets, as readable op lists (see [`crate::ops`]).
//!
//! `corpus/engineio_server_session/` and `corpus/socketio_server_connection/` hold their
//! encodings. The tests below check that the committed files are up to date (or, with
//! `HALYARD_FUZZ_WRITE_SEEDS=1`, write them: `gen_corpus.sh` does), that every seed
//! decodes back to its op list, and that each reaches the deep state it is there for.

use crate::ops::{ClientFrame as F, Header, Op, OutFrame as O, Payload, Target, flags};

/// The header of most seeds: polling handshake, ping every 201 ms with 201 ms to answer,
/// 101 ms upgrade and close timeouts, 1 KiB payloads, 16 queued frames of at most 4 KiB,
/// a 1009 ms connect timeout, 10 attachments.
pub const HEADER: Header = Header([0, 50, 50, 25, 25, 127, 16, 255, 63, 10]);

fn header(flags: u8) -> Header {
    let mut h = HEADER;
    h.0[0] = flags;
    h
}

fn text(s: &str) -> Vec<u8> {
    s.as_bytes().to_vec()
}

fn payload(name: u8, arg: u8, attachments: &[&[u8]]) -> Payload {
    Payload {
        name,
        arg,
        attachments: attachments.iter().map(|a| a.to_vec()).collect(),
    }
}

/// One seed: the target, its file name, the header and the ops.
pub struct Seed {
    /// The target.
    pub target: Target,
    /// The file name under `corpus/<target>/`.
    pub name: &'static str,
    /// The header.
    pub header: Header,
    /// The ops.
    pub ops: Vec<Op>,
}

impl Seed {
    /// The target's name.
    pub fn target_name(&self) -> &'static str {
        match self.target {
            Target::Session => "engineio_server_session",
            Target::Connection => "socketio_server_connection",
        }
    }

    /// The encoded input.
    pub fn bytes(&self) -> Vec<u8> {
        crate::ops::encode(self.header, &self.ops, self.target)
    }
}

/// Every seed of both engine targets.
pub fn all() -> Vec<Seed> {
    let s = |name, header, ops| Seed {
        target: Target::Session,
        name,
        header,
        ops,
    };
    let c = |name, header, ops| Seed {
        target: Target::Connection,
        name,
        header,
        ops,
    };
    vec![
        s(
            "polling_upgrade_messages",
            HEADER,
            vec![
                Op::Poll,
                Op::Post(vec![F::Text(text("hello")), F::Binary(vec![1, 2, 3])]),
                Op::Send(O::Message(text("hi"))),
                Op::Poll,
                Op::Send(O::Binary(vec![4, 5])),
                Op::Poll,
                Op::WsOpen,
                Op::WsFrames(vec![F::PingProbe]),
                Op::Poll,
                Op::WsFrames(vec![F::Upgrade]),
                Op::WsFrames(vec![F::Text(text("over ws")), F::Binary(vec![9])]),
                Op::Send(O::Message(text("ws hi"))),
                Op::AdvanceToDeadline,
                Op::WsFrames(vec![F::Pong]),
                Op::Poll,
                Op::AdvanceToDeadline,
                Op::WsFrames(vec![F::Pong]),
                Op::Close(4),
            ],
        ),
        s(
            "polling_ping_timeout",
            HEADER,
            vec![
                Op::Poll,
                Op::AdvanceToDeadline,
                Op::Poll,
                Op::Post(vec![F::Pong]),
                Op::AdvanceToDeadline,
                Op::Poll,
                Op::Advance(100),
                Op::Post(vec![F::Noop]),
                Op::AdvanceToDeadline,
                Op::AdvanceToDeadline,
                Op::Poll,
            ],
        ),
        s(
            "websocket_handshake_send_close",
            header(flags::WEBSOCKET),
            vec![
                Op::WsFrames(vec![F::Text(text("a")), F::Binary(vec![0xff])]),
                Op::Send(O::Message(text("b"))),
                Op::SendAll(vec![O::Message(text("51-[...]")), O::Binary(vec![1])]),
                Op::TrySend(O::Raw(text("2"))),
                Op::AdvanceToDeadline,
                Op::WsFrames(vec![F::Pong]),
                Op::WsOpen,
                Op::Poll,
                Op::Close(5),
                Op::WsText(text("4late")),
            ],
        ),
        s(
            "streamed_post_then_abort",
            HEADER,
            vec![
                Op::PostStart,
                Op::PostData(0, text("4he")),
                Op::PostData(0, text("llo\u{1e}bAQI=")),
                Op::PostEnd(0),
                Op::PostStart,
                Op::PostData(0, text("4x")),
                Op::PostData(1, text("4y")),
                Op::Poll,
                Op::Abort(1),
                Op::PostEnd(2),
                Op::Poll,
            ],
        ),
        s(
            "graceful_close_over_polling",
            HEADER,
            vec![
                Op::Send(O::Message(text("bye"))),
                Op::Close(4),
                Op::Send(O::Message(text("refused"))),
                Op::Poll,
                Op::Poll,
                Op::Post(vec![F::Text(text("late"))]),
            ],
        ),
        s(
            "upgrade_timeout_and_retry",
            HEADER,
            vec![
                Op::Poll,
                Op::WsOpen,
                Op::WsFrames(vec![F::PingProbe]),
                Op::AdvanceToDeadline,
                Op::WsOpen,
                Op::WsFrames(vec![F::PingProbe, F::Upgrade]),
                Op::Poll,
                Op::WsFrames(vec![F::Close]),
            ],
        ),
        s(
            "queue_overflow",
            Header([0, 50, 50, 25, 25, 127, 2, 255, 0, 0]),
            vec![
                Op::Send(O::Message(text("1"))),
                Op::TrySend(O::Message(text("2"))),
                Op::TrySend(O::Message(text("3"))),
                Op::Send(O::Message(text("4"))),
                Op::Poll,
            ],
        ),
        s(
            "reject_overflow_policy",
            Header([flags::REJECT, 50, 50, 25, 25, 127, 2, 255, 0, 0]),
            vec![
                Op::SendAll(vec![O::Message(text("1")), O::Message(text("2"))]),
                Op::Send(O::Message(text("3"))),
                Op::Poll,
                Op::Send(O::Message(text("4"))),
            ],
        ),
        s(
            "post_too_large",
            Header([0, 50, 50, 25, 25, 0, 16, 255, 0, 0]),
            vec![Op::Poll, Op::Post(vec![F::Text(text("0123456789"))])],
        ),
        s(
            "zero_durations",
            header(flags::ZERO_DURATIONS),
            vec![Op::Poll, Op::Post(vec![F::Pong]), Op::Advance(0), Op::Poll],
        ),
        s(
            "endpoint_requests",
            HEADER,
            vec![
                Op::Endpoint {
                    method: 0,
                    websocket: false,
                    query: text("EIO=4&transport=polling"),
                },
                Op::Endpoint {
                    method: 0,
                    websocket: true,
                    query: text("EIO=4&transport=websocket"),
                },
                Op::Endpoint {
                    method: 1,
                    websocket: false,
                    query: text("EIO=4&transport=polling&sid=abc"),
                },
                Op::Endpoint {
                    method: 2,
                    websocket: true,
                    query: text("EIO=4&transport=polling&sid=abc"),
                },
                Op::Endpoint {
                    method: 0,
                    websocket: false,
                    query: text("EIO=3&transport=flash"),
                },
            ],
        ),
        c(
            "connect_event_ack",
            HEADER,
            vec![
                Op::Post(vec![F::Connect { nsp: 0, auth: 1 }]),
                Op::Accept(0),
                Op::Poll,
                Op::Post(vec![F::Event {
                    nsp: 0,
                    ack: 1,
                    payload: payload(0, 1, &[]),
                }]),
                Op::Ack {
                    nsp: 0,
                    id: 0,
                    payload: payload(0, 8, &[]),
                },
                Op::Emit {
                    nsp: 0,
                    payload: payload(1, 2, &[]),
                    ack: 6,
                    timeout: 0,
                    volatile: false,
                },
                Op::Poll,
                Op::Post(vec![F::Ack {
                    nsp: 0,
                    id: 5,
                    payload: payload(0, 3, &[]),
                }]),
                Op::Emit {
                    nsp: 0,
                    payload: payload(2, 0, &[]),
                    ack: 7,
                    timeout: 10,
                    volatile: false,
                },
                Op::Emit {
                    nsp: 0,
                    payload: payload(2, 0, &[]),
                    ack: 8,
                    timeout: 0,
                    volatile: true,
                },
                Op::Poll,
                Op::AdvanceToDeadline,
                Op::Post(vec![F::Pong, F::Disconnect { nsp: 0 }]),
                Op::CloseConnection,
                Op::Poll,
            ],
        ),
        c(
            "binary_over_websocket_upgrade",
            HEADER,
            vec![
                Op::Poll,
                Op::Post(vec![F::Connect { nsp: 1, auth: 0 }]),
                Op::Accept(1),
                Op::WsOpen,
                Op::WsFrames(vec![F::PingProbe]),
                Op::WsFrames(vec![F::Upgrade]),
                Op::WsFrames(vec![F::Event {
                    nsp: 1,
                    ack: 3,
                    payload: payload(3, 0, &[&[1, 2], &[3]]),
                }]),
                Op::Ack {
                    nsp: 1,
                    id: 2,
                    payload: payload(0, 3, &[&[7]]),
                },
                Op::Emit {
                    nsp: 1,
                    payload: payload(0, 2, &[&[0xaa]]),
                    ack: 1,
                    timeout: 0,
                    volatile: true,
                },
                Op::WsFrames(vec![F::Ack {
                    nsp: 1,
                    id: 0,
                    payload: payload(0, 3, &[&[0xbb]]),
                }]),
                Op::Disconnect(1),
                Op::WsFrames(vec![F::Connect { nsp: 1, auth: 3 }]),
                Op::Refuse(1, true),
                Op::WsClosed,
            ],
        ),
        c(
            "websocket_two_namespaces_close",
            header(flags::WEBSOCKET),
            vec![
                Op::WsFrames(vec![
                    F::Connect { nsp: 0, auth: 0 },
                    F::Connect { nsp: 1, auth: 1 },
                ]),
                Op::Accept(0),
                Op::Accept(1),
                Op::Emit {
                    nsp: 0,
                    payload: payload(0, 0, &[]),
                    ack: 1,
                    timeout: 0,
                    volatile: false,
                },
                Op::Emit {
                    nsp: 1,
                    payload: payload(0, 0, &[]),
                    ack: 1,
                    timeout: 50,
                    volatile: false,
                },
                Op::CancelAck(0, 0),
                Op::Emit {
                    nsp: 0,
                    payload: payload(0, 0, &[]),
                    ack: 2,
                    timeout: 0,
                    volatile: false,
                },
                Op::WsFrames(vec![F::Disconnect { nsp: 1 }]),
                Op::CloseConnection,
            ],
        ),
        c(
            "refuse_then_connect_timeout",
            Header([0, 255, 255, 25, 25, 127, 16, 255, 10, 10]),
            vec![
                Op::Post(vec![F::Connect { nsp: 2, auth: 2 }]),
                Op::Refuse(2, false),
                Op::Poll,
                Op::AdvanceToDeadline,
                Op::AdvanceToDeadline,
                Op::Poll,
            ],
        ),
        c(
            "event_on_unjoined_namespace",
            HEADER,
            vec![
                Op::Post(vec![F::Connect { nsp: 0, auth: 0 }]),
                Op::Accept(0),
                Op::Post(vec![F::Event {
                    nsp: 1,
                    ack: 0,
                    payload: payload(0, 1, &[]),
                }]),
                // The queued CONNECT answer, then (as engine.io drains before closing)
                // the close in the next poll.
                Op::Poll,
                Op::Poll,
            ],
        ),
        c(
            "lone_binary_header_then_text",
            header(flags::WEBSOCKET | flags::RECOVERY),
            vec![
                Op::WsFrames(vec![F::Connect { nsp: 0, auth: 2 }]),
                Op::Accept(0),
                Op::WsFrames(vec![F::LoneBinaryHeader { nsp: 0, count: 1 }]),
                Op::WsBinary(vec![1]),
                Op::WsFrames(vec![F::RawFrame(text("42[\"x\"]"))]),
            ],
        ),
        c(
            "shutdown_over_polling",
            HEADER,
            vec![
                Op::Post(vec![F::Connect { nsp: 0, auth: 0 }]),
                Op::Accept(0),
                Op::Emit {
                    nsp: 0,
                    payload: payload(0, 1, &[]),
                    ack: 0,
                    timeout: 0,
                    volatile: false,
                },
                Op::Shutdown,
                Op::Poll,
                Op::Poll,
            ],
        ),
        // Regressions: the DISCONNECT packet overflows a 32-byte queue (the CONNECT
        // answer takes 31), which closes the session while the socket is being removed.
        c(
            "regression_close_overflows_queue",
            small_queue(),
            vec![
                Op::Post(vec![F::Connect { nsp: 0, auth: 1 }]),
                Op::Accept(0),
                Op::CloseConnection,
            ],
        ),
        c(
            "regression_disconnect_overflows_queue",
            small_queue(),
            vec![
                Op::Post(vec![F::Connect { nsp: 0, auth: 1 }]),
                Op::Accept(0),
                Op::Disconnect(0),
            ],
        ),
    ]
}

/// [`HEADER`] with a 32-byte outgoing queue.
fn small_queue() -> Header {
    let mut header = HEADER;
    header.0[7] = 2;
    header
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::drive::{Stats, run_connection, run_session};

    fn run(seed: &Seed) -> Stats {
        match seed.target {
            Target::Session => run_session(&seed.bytes()),
            Target::Connection => run_connection(&seed.bytes()),
        }
    }

    #[test]
    fn seeds_decode_to_their_ops() {
        for seed in all() {
            let (header, ops) = crate::ops::decode(&seed.bytes(), seed.target);
            assert_eq!(&header.0[..8], &seed.header.0[..8], "{}", seed.name);
            assert_eq!(ops, seed.ops, "{}", seed.name);
        }
    }

    #[test]
    fn committed_seeds_are_current() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus");
        let write = std::env::var_os("HALYARD_FUZZ_WRITE_SEEDS").is_some();
        for seed in all() {
            let path = dir.join(seed.target_name()).join(seed.name);
            if write {
                std::fs::create_dir_all(path.parent().unwrap()).unwrap();
                std::fs::write(&path, seed.bytes()).unwrap();
            } else {
                let committed = std::fs::read(&path).unwrap_or_default();
                assert!(
                    committed == seed.bytes(),
                    "{} is stale: run fuzz/gen_corpus.sh",
                    path.display()
                );
            }
        }
    }

    /// Closing or disconnecting a socket whose DISCONNECT packet overflows the queue
    /// (`OverflowPolicy::CloseSession`) closes the session while the socket is being
    /// removed; the engine once detached that socket twice and panicked. The
    /// `regression_*` seeds replay it in every smoke run too.
    #[test]
    fn disconnect_packet_overflowing_the_queue_closes_cleanly() {
        for name in ["regression_close_overflows_queue", "regression_disconnect_overflows_queue"] {
            let stats = stats(name);
            assert_eq!((stats.accepted, stats.disconnected), (1, 1), "{name}: {stats:?}");
            assert_eq!(stats.closed.as_deref(), Some("transport full"), "{name}: {stats:?}");
        }
    }

    fn stats(name: &str) -> Stats {
        let seed = all().into_iter().find(|s| s.name == name).unwrap();
        let stats = run(&seed);
        assert_eq!(stats.ops, seed.ops.len(), "{name}: every op decoded");
        stats
    }

    #[test]
    fn session_seeds_reach_deep_states() {
        let s = stats("polling_upgrade_messages");
        assert!(s.upgraded && s.received == 4 && s.delivered == 3, "{s:?}");
        assert_eq!(s.closed.as_deref(), Some("forced close"));
        let s = stats("polling_ping_timeout");
        assert_eq!(s.closed.as_deref(), Some("ping timeout"), "{s:?}");
        let s = stats("websocket_handshake_send_close");
        assert!(s.received == 2 && s.delivered == 3, "{s:?}");
        assert_eq!(s.closed.as_deref(), Some("server shutting down"));
        let s = stats("streamed_post_then_abort");
        assert_eq!(s.received, 2, "{s:?}");
        assert_eq!(s.closed.as_deref(), Some("transport error"));
        let s = stats("graceful_close_over_polling");
        assert_eq!(
            (s.delivered, s.closed.as_deref()),
            (1, Some("forced close"))
        );
        let s = stats("upgrade_timeout_and_retry");
        assert!(s.upgraded, "{s:?}");
        assert_eq!(s.closed.as_deref(), Some("transport close"));
        let s = stats("queue_overflow");
        assert_eq!(s.closed.as_deref(), Some("transport full"), "{s:?}");
        let s = stats("reject_overflow_policy");
        assert_eq!((s.delivered, s.closed.as_deref()), (2, None), "{s:?}");
        let s = stats("post_too_large");
        assert_eq!(s.closed.as_deref(), Some("transport error"), "{s:?}");
        let s = stats("zero_durations");
        assert!(s.closed.is_some(), "{s:?}");
        stats("endpoint_requests");
    }

    #[test]
    fn connection_seeds_reach_deep_states() {
        let s = stats("connect_event_ack");
        assert!(s.accepted == 1 && s.events == 1 && s.acks == 1, "{s:?}");
        assert_eq!((s.ack_timeouts, s.disconnected), (1, 1), "{s:?}");
        let s = stats("binary_over_websocket_upgrade");
        assert!(s.upgraded && s.events == 1 && s.acks == 1, "{s:?}");
        assert_eq!((s.connects, s.disconnected), (2, 1), "{s:?}");
        let s = stats("websocket_two_namespaces_close");
        assert_eq!((s.accepted, s.disconnected), (2, 2), "{s:?}");
        assert_eq!(s.closed.as_deref(), Some("forced server close"));
        let s = stats("refuse_then_connect_timeout");
        assert_eq!(s.closed.as_deref(), Some("forced server close"), "{s:?}");
        let s = stats("event_on_unjoined_namespace");
        assert_eq!(s.closed.as_deref(), Some("forced server close"), "{s:?}");
        let s = stats("lone_binary_header_then_text");
        assert_eq!(s.closed.as_deref(), Some("parse error"), "{s:?}");
        let s = stats("shutdown_over_polling");
        assert_eq!(s.closed.as_deref(), Some("server shutting down"), "{s:?}");
    }
}
