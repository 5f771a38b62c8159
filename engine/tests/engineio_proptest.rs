//! Property: over random interleavings of sends, deliveries, time and failures, nothing
//! panics, messages arrive in order exactly once while the session lives, and a session
//! whose peer disappears always ends with a reason.

mod common;

use std::time::Duration;

use bytes::Bytes;
use common::*;
use halyard_engine::engineio::ClientConfig;
use proptest::prelude::*;

#[derive(Debug, Clone)]
enum Op {
    ClientText,
    ClientBinary,
    ServerText,
    ServerBinary,
    /// Deliver this many things from the network.
    Step(u8),
    /// Deliver until idle.
    Settle,
    /// Advance the virtual clock (ms).
    Advance(u16),
    /// The network loses everything from now on.
    Vanish,
    /// The client's held poll breaks.
    BreakPoll,
    ClientClose,
    ServerClose,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => Just(Op::ClientText),
        2 => Just(Op::ClientBinary),
        4 => Just(Op::ServerText),
        2 => Just(Op::ServerBinary),
        6 => (1u8..6).prop_map(Op::Step),
        2 => Just(Op::Settle),
        3 => (0u16..1200).prop_map(Op::Advance),
        1 => Just(Op::Vanish),
        1 => Just(Op::BreakPoll),
        1 => Just(Op::ClientClose),
        1 => Just(Op::ServerClose),
    ]
}

fn client_config() -> impl Strategy<Value = ClientConfig> {
    prop_oneof![
        Just(ClientConfig::default()),
        Just(polling_only()),
        Just(websocket_first()),
    ]
}

/// `got` must be the first `got.len()` of `sent`.
fn assert_prefix(got: &[String], sent: &[String], who: &str) -> Result<(), TestCaseError> {
    prop_assert!(
        got.len() <= sent.len(),
        "{who} got more than was sent: {got:?} / {sent:?}"
    );
    prop_assert_eq!(got, &sent[..got.len()], "{} order", who);
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 128,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn random_interleavings_keep_order_and_always_end(
        client in client_config(),
        ops in proptest::collection::vec(op(), 1..120),
    ) {
        let mut pair = Pair::new(fast_server(), client);
        let (mut to_server, mut to_client) = (Vec::new(), Vec::new());
        let mut count = 0u32;
        let mut vanished = false;
        for op in ops {
            count += 1;
            match op {
                Op::ClientText => {
                    let m = format!("c{count}");
                    if pair.client.send_text(&m).is_ok() { to_server.push(m); }
                }
                Op::ClientBinary => {
                    let data = Bytes::from(count.to_be_bytes().to_vec());
                    let m = format!("bin:{data:?}");
                    if pair.client.send_binary(data).is_ok() { to_server.push(m); }
                }
                Op::ServerText => {
                    let m = format!("s{count}");
                    if pair.server.as_mut().is_some_and(|s| s.send_text(&m).is_ok()) {
                        to_client.push(m);
                    }
                }
                Op::ServerBinary => {
                    let data = Bytes::from(count.to_le_bytes().to_vec());
                    let m = format!("bin:{data:?}");
                    if pair.server.as_mut().is_some_and(|s| s.send_binary(data).is_ok()) {
                        to_client.push(m);
                    }
                }
                Op::Step(n) => for _ in 0..n { pair.step(); },
                Op::Settle => pair.run(),
                Op::Advance(ms) => pair.advance(Duration::from_millis(u64::from(ms))),
                Op::Vanish => { pair.partitioned = true; vanished = true; }
                Op::BreakPoll => {
                    let now = pair.now;
                    if let Some(held) = pair.server.as_ref().and_then(|s| s.pending_poll()) {
                        let _ = pair.server.as_mut().unwrap().handle_request_aborted(now, held);
                        pair.collect();
                    }
                }
                Op::ClientClose => { let now = pair.now; pair.client.close(now); }
                Op::ServerClose => {
                    let now = pair.now;
                    if let Some(s) = pair.server.as_mut() {
                        s.close(now, halyard_engine::engineio::CloseReason::ForcedClose);
                    }
                }
            }
            pair.collect();
            assert_prefix(&pair.server_messages(), &to_server, "server")?;
            assert_prefix(&pair.client_messages(), &to_client, "client")?;
        }

        pair.run();
        let both_alive = pair.client_closed().is_none()
            && pair.server.is_some()
            && pair.server_closed().is_none();
        if both_alive && !vanished {
            // Nothing was lost: everything sent has arrived.
            prop_assert_eq!(pair.server_messages(), to_server.clone());
            prop_assert_eq!(pair.client_messages(), to_client.clone());
        }

        // Now the peer disappears: both sides must end, with a reason, in bounded time.
        pair.partitioned = true;
        pair.advance(Duration::from_millis(2 * (1000 + 500) + 30_000));
        prop_assert!(pair.client_closed().is_some(), "client never ended");
        if pair.server.is_some() {
            prop_assert!(pair.server_closed().is_some(), "server never ended");
            prop_assert_eq!(pair.server().poll_timeout(), None);
        }
        prop_assert_eq!(pair.client.poll_timeout(), None);
        assert_prefix(&pair.server_messages(), &to_server, "server")?;
        assert_prefix(&pair.client_messages(), &to_client, "client")?;
        // Closed is the last event on each side, and appears once.
        for events in [&pair.client_events, &pair.server_events] {
            let closes = events.iter().filter(|e| matches!(e, halyard_engine::engineio::Event::Closed(_))).count();
            prop_assert!(closes <= 1);
            if closes == 1 {
                prop_assert!(matches!(events.last(), Some(halyard_engine::engineio::Event::Closed(_))));
            }
        }
    }
}
