//! Deterministic Engine.IO scenarios: a client and a server session talking over an
//! in-memory network with a virtual clock.

mod common;

use common::*;
use std::time::{Duration, Instant};

use bytes::Bytes;
use halyard_engine::engineio::server::{
    Decision, Endpoint, Request, ServerSession, ServerTransmit,
};
use halyard_engine::engineio::{
    CloseReason, Error, Event, Frame, HttpResponse, Method, OverflowPolicy, RequestId,
    ServerConfig, TransportKind,
};

// ----- helpers for driving a server session alone ----------------------------------------

fn open_polling(config: ServerConfig) -> (ServerSession, Instant) {
    let now = Instant::now();
    let mut endpoint = Endpoint::new(config, 1);
    let request = Request::from_query(Method::Get, "EIO=4&transport=polling", false);
    let Decision::Open {
        mut session,
        request: Some(handshake),
    } = endpoint.handle_request(now, &request)
    else {
        panic!("no session")
    };
    let (transmits, events) = drain(&mut session);
    assert!(
        matches!(&transmits[..], [ServerTransmit::Http { request, .. }] if *request == handshake)
    );
    assert!(matches!(&events[..], [Event::Opened(_)]));
    (*session, now)
}

fn drain(session: &mut ServerSession) -> (Vec<ServerTransmit>, Vec<Event>) {
    let mut transmits = Vec::new();
    while let Some(t) = session.poll_transmit() {
        transmits.push(t);
    }
    let mut events = Vec::new();
    while let Some(e) = session.poll_event() {
        events.push(e);
    }
    (transmits, events)
}

fn http(request: RequestId, status: u16, body: &'static [u8]) -> ServerTransmit {
    let response = match status {
        200 => HttpResponse::payload(Bytes::from_static(body)),
        _ => HttpResponse {
            status,
            content_type: "application/json",
            body: Bytes::from_static(body),
        },
    };
    ServerTransmit::Http { request, response }
}

fn text(s: &'static str) -> Frame {
    Frame::Text(s.into())
}

const BAD_REQUEST: &[u8] = br#"{"code":3,"message":"Bad request"}"#;

// ----- handshake ------------------------------------------------------------------------------

#[test]
fn handshake_over_polling() {
    let pair = Pair::open(ServerConfig::default(), polling_only());
    let Some(Event::Opened(open)) = pair.client_events.first() else {
        panic!("not opened")
    };
    assert_eq!(open.upgrades, vec!["websocket".to_owned()]);
    assert_eq!(
        (open.ping_interval, open.ping_timeout, open.max_payload),
        (25_000, 20_000, 1_000_000)
    );
    assert_eq!(
        Some(Event::Opened(open.clone())),
        pair.server_events.first().cloned()
    );
    assert_eq!(pair.client.sid(), Some(open.sid.as_str()));
    assert_eq!(pair.client.transport(), TransportKind::Polling);
    // The handshake GET is answered with the open packet alone, then a poll is held.
    let Some(Wire::Get(_, q)) = pair.client_log.first() else {
        panic!()
    };
    assert_eq!(q, "EIO=4&transport=polling");
    assert!(pair.server.as_ref().unwrap().pending_poll().is_some());
}

#[test]
fn handshake_over_websocket() {
    let pair = Pair::open(ServerConfig::default(), websocket_first());
    let Some(Event::Opened(open)) = pair.client_events.first() else {
        panic!("not opened")
    };
    assert!(open.upgrades.is_empty());
    assert_eq!(pair.client.transport(), TransportKind::WebSocket);
    assert_eq!(
        pair.server.as_ref().unwrap().transport(),
        TransportKind::WebSocket
    );
    assert!(matches!(&pair.client_log[..], [Wire::WsOpen(q)] if q == "EIO=4&transport=websocket"));
}

// ----- messages ---------------------------------------------------------------------------------

fn exchange(mut pair: Pair) {
    pair.client.send_text("hello").unwrap();
    pair.client
        .send_binary(Bytes::from_static(&[1, 2, 3]))
        .unwrap();
    pair.client.send_text("é").unwrap();
    pair.server().send_text("welcome").unwrap();
    pair.server().send_binary(Bytes::from_static(&[9])).unwrap();
    pair.run();
    assert_eq!(
        pair.server_messages(),
        ["hello", "bin:b\"\\x01\\x02\\x03\"", "é"]
    );
    assert_eq!(pair.client_messages(), ["welcome", "bin:b\"\\t\""]);
    assert_eq!(pair.server().send(text("2")), Err(Error::NotAMessage));
}

#[test]
fn messages_both_ways_over_polling() {
    exchange(Pair::open(ServerConfig::default(), polling_only()));
}

#[test]
fn messages_both_ways_over_websocket() {
    exchange(Pair::open(ServerConfig::default(), websocket_first()));
}

#[test]
fn server_batches_queued_frames_into_one_poll_response() {
    let (mut s, now) = open_polling(ServerConfig::default());
    s.send_text("a").unwrap();
    s.send_binary(Bytes::from_static(&[1, 2, 3, 4])).unwrap();
    let get = s.handle_poll(now);
    assert_eq!(drain(&mut s).0, [http(get, 200, b"4a\x1ebAQIDBA==")]);
}

#[test]
fn client_batches_posts_within_max_payload() {
    let server = ServerConfig {
        max_payload: 10,
        ..ServerConfig::default()
    };
    let mut pair = Pair::open(server, polling_only());
    for m in ["aaa", "bbb", "ccc", "ddd"] {
        pair.client.send_text(m).unwrap();
    }
    pair.run();
    let bodies: Vec<_> = pair
        .client_log
        .iter()
        .filter_map(|w| match w {
            Wire::Post(_, _, body) => Some(body.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(bodies, [&b"4aaa\x1e4bbb"[..], &b"4ccc\x1e4ddd"[..]]);
    assert_eq!(pair.server_messages(), ["aaa", "bbb", "ccc", "ddd"]);
    assert_eq!(pair.server_closed(), None);
}

// ----- heartbeat --------------------------------------------------------------------------------

#[test]
fn heartbeat_over_many_intervals() {
    for client in [polling_only(), websocket_first(), Default::default()] {
        let mut pair = Pair::open(fast_server(), client);
        for i in 0..200 {
            pair.advance(Duration::from_millis(250));
            if i % 20 == 0 {
                pair.client.send_text("tick").unwrap();
                pair.server().send_text("tock").unwrap();
            }
        }
        assert_eq!(pair.server_closed(), None);
        assert_eq!(pair.client_closed(), None);
        assert_eq!(pair.server_messages().len(), 10);
        assert_eq!(pair.client_messages().len(), 10);
        // 50 s at one ping per second: about 50 pongs went up.
        let pongs = pair
            .client_log
            .iter()
            .filter(|w| match w {
                Wire::Post(_, _, body) => body.split(|b| *b == 0x1e).any(|p| p == b"3"),
                Wire::WsFrameToServer(f) => *f == text("3"),
                _ => false,
            })
            .count();
        assert!((45..=50).contains(&pongs), "{pongs} pongs");
    }
}

#[test]
fn server_ping_timeout_when_client_vanishes() {
    let mut pair = Pair::open(fast_server(), polling_only());
    let start = pair.now;
    pair.partitioned = true;
    pair.advance(Duration::from_millis(1499));
    assert_eq!(pair.server_closed(), None);
    pair.advance(Duration::from_millis(1));
    // First ping at 1000 ms, no pong within 500 ms.
    assert_eq!(pair.server_closed(), Some(CloseReason::PingTimeout));
    assert_eq!(pair.elapsed(start), Duration::from_millis(1500));
}

#[test]
fn client_ping_timeout_when_server_vanishes() {
    let mut pair = Pair::open(fast_server(), websocket_first());
    pair.advance(Duration::from_millis(3000)); // a few heartbeats
    pair.partitioned = true;
    // Last ping was at 3000 ms; the client waits pingInterval + pingTimeout from it.
    pair.advance(Duration::from_millis(1499));
    assert_eq!(pair.client_closed(), None);
    pair.advance(Duration::from_millis(1));
    assert_eq!(pair.client_closed(), Some(CloseReason::PingTimeout));
    assert!(pair.client.is_closed());
}

#[test]
fn any_packet_while_waiting_for_pong_extends_the_deadline_once() {
    let (mut s, start) = open_polling(fast_server());
    s.handle_timeout(start + Duration::from_millis(1000)); // ping queued, pong due at 1500
    s.handle_post(
        start + Duration::from_millis(1400),
        Bytes::from_static(b"4alive"),
    );
    assert_eq!(s.poll_timeout(), Some(start + Duration::from_millis(1900)));
    s.handle_post(
        start + Duration::from_millis(1800),
        Bytes::from_static(b"4again"),
    );
    assert_eq!(s.poll_timeout(), Some(start + Duration::from_millis(1900)));
    s.handle_timeout(start + Duration::from_millis(1900));
    let (_, events) = drain(&mut s);
    assert_eq!(
        events.last(),
        Some(&Event::Closed(CloseReason::PingTimeout))
    );
}

// ----- polling errors ---------------------------------------------------------------------------

#[test]
fn duplicate_poll_closes_the_session() {
    let (mut s, now) = open_polling(ServerConfig::default());
    let first = s.handle_poll(now);
    assert!(
        drain(&mut s).0.is_empty(),
        "a GET with nothing to send is held"
    );
    let second = s.handle_poll(now);
    let (transmits, events) = drain(&mut s);
    assert_eq!(
        transmits,
        [http(first, 200, b"1"), http(second, 400, BAD_REQUEST)]
    );
    assert_eq!(events, [Event::Closed(CloseReason::TransportError)]);
    // Later requests for the sid are refused.
    let third = s.handle_poll(now);
    assert_eq!(
        drain(&mut s).0,
        [http(
            third,
            400,
            br#"{"code":1,"message":"Session ID unknown"}"#
        )]
    );
}

#[test]
fn oversize_post_is_refused_with_413() {
    let config = ServerConfig {
        max_payload: 8,
        ..ServerConfig::default()
    };
    let (mut s, now) = open_polling(config);
    let get = s.handle_poll(now);
    let post = s.handle_post_start(now);
    s.handle_post_data(now, post, b"4abcd").unwrap();
    s.handle_post_data(now, post, b"efgh").unwrap();
    let (transmits, events) = drain(&mut s);
    assert_eq!(transmits.len(), 2);
    assert!(
        matches!(&transmits[0], ServerTransmit::Http { request, response } if *request == post && response.status == 413)
    );
    assert_eq!(transmits[1], http(get, 200, b"1"));
    assert_eq!(events, [Event::Closed(CloseReason::TransportError)]);
    assert_eq!(
        s.handle_post_data(now, post, b"x"),
        Err(Error::UnknownRequest)
    );
}

#[test]
fn cancelled_poll_ends_the_session() {
    let mut pair = Pair::open(ServerConfig::default(), polling_only());
    let held = pair.server().pending_poll().unwrap();
    let now = pair.now;
    pair.server().handle_request_aborted(now, held).unwrap();
    pair.run();
    assert_eq!(pair.server_closed(), Some(CloseReason::TransportError));
    assert!(
        pair.server().poll_transmit().is_none(),
        "an aborted request gets no answer"
    );
}

#[test]
fn invalid_packet_closes_with_parse_error() {
    let (mut s, now) = open_polling(ServerConfig::default());
    let get = s.handle_poll(now);
    let post = s.handle_post(now, Bytes::from_static(b"4fine\x1e9bad"));
    let (transmits, events) = drain(&mut s);
    assert_eq!(
        transmits,
        [
            http(get, 200, b"1"),
            ServerTransmit::Http {
                request: post,
                response: HttpResponse::ok()
            }
        ]
    );
    assert_eq!(events, [Event::Closed(CloseReason::ParseError)]);

    let mut pair = Pair::open(ServerConfig::default(), websocket_first());
    let now = pair.now;
    pair.server().handle_ws_frame(now, text("x"));
    pair.run();
    assert_eq!(pair.server_closed(), Some(CloseReason::ParseError));
    assert_eq!(pair.client_closed(), Some(CloseReason::TransportClose));
}

#[test]
fn client_ping_is_a_heartbeat_direction_error() {
    let (mut s, now) = open_polling(ServerConfig::default());
    s.handle_post(now, Bytes::from_static(b"2"));
    assert_eq!(
        drain(&mut s).1,
        [Event::Closed(CloseReason::TransportError)]
    );
}

// ----- upgrade ----------------------------------------------------------------------------------

#[test]
fn full_upgrade_with_messages_queued_during_it() {
    let mut pair = Pair::new(fast_server(), Default::default());
    pair.park_ws = true;
    pair.run();
    assert!(pair.client.is_upgrading());
    let mut n = 0;
    let mut sent = Vec::new();
    let mut send_both = |pair: &mut Pair| {
        if pair.client.is_upgrading() || pair.server.as_ref().is_some_and(|s| s.is_upgrading()) {
            n += 1;
            pair.client.send_text(&format!("c{n}")).unwrap();
            pair.server().send_text(&format!("s{n}")).unwrap();
            sent.push(n);
        }
    };
    send_both(&mut pair);
    pair.release_ws();
    pair.run_with(&mut send_both);
    assert!(n >= 4, "messages were sent at {n} steps of the upgrade");
    let expect = |p: char| (1..=n).map(|i| format!("{p}{i}")).collect::<Vec<_>>();
    assert_eq!(pair.server_messages(), expect('c'));
    assert_eq!(pair.client_messages(), expect('s'));
    assert!(pair.server_events.contains(&Event::Upgraded));
    assert!(pair.client_events.contains(&Event::Upgraded));
    assert_eq!(pair.client.transport(), TransportKind::WebSocket);
    assert_eq!(pair.server().transport(), TransportKind::WebSocket);
    // The wire story: probe, then `5`, and the client sent no poll while paused.
    let ws: Vec<_> = pair
        .client_log
        .iter()
        .filter_map(|w| match w {
            Wire::WsFrameToServer(f) => Some(f.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(ws[..2], [text("2probe"), text("5")]);
    // Heartbeats keep working after the upgrade.
    pair.advance(Duration::from_secs(10));
    assert_eq!(pair.server_closed(), None);
    assert_eq!(pair.client_closed(), None);
}

#[test]
fn probe_answers_pending_poll_with_noop() {
    let (mut s, now) = open_polling(ServerConfig::default());
    let get = s.handle_poll(now);
    s.handle_ws_open(now).unwrap();
    s.handle_ws_frame(now, text("2probe"));
    let (transmits, _) = drain(&mut s);
    assert_eq!(
        transmits,
        [
            ServerTransmit::WebSocket(text("3probe")),
            http(get, 200, b"6")
        ]
    );
    s.handle_ws_frame(now, text("5"));
    s.send_text("after").unwrap();
    let (transmits, events) = drain(&mut s);
    assert_eq!(transmits, [ServerTransmit::WebSocket(text("4after"))]);
    assert_eq!(events, [Event::Upgraded]);
}

#[test]
fn stray_requests_after_upgrade_are_refused() {
    let mut pair = Pair::open(ServerConfig::default(), Default::default());
    assert_eq!(pair.server().transport(), TransportKind::WebSocket);
    let now = pair.now;
    let get = pair.server().handle_poll(now);
    let post = pair.server().handle_post(now, Bytes::from_static(b"4x"));
    assert_eq!(
        pair.server().handle_ws_open(now),
        Err(Error::UpgradeRefused)
    );
    let (transmits, events) = drain(pair.server());
    assert_eq!(
        transmits,
        [http(get, 400, BAD_REQUEST), http(post, 400, BAD_REQUEST)]
    );
    assert!(events.is_empty(), "the session lives on");
}

#[test]
fn upgrade_timeout_keeps_the_session_on_polling() {
    let (mut s, start) = open_polling(fast_server());
    s.handle_ws_open(start).unwrap();
    assert_eq!(
        s.handle_ws_open(start),
        Err(Error::UpgradeRefused),
        "one probe at a time"
    );
    assert_eq!(s.poll_timeout(), Some(start + Duration::from_millis(1000)));
    s.handle_timeout(start + Duration::from_millis(1000)); // a ping
    let get = s.handle_poll(start + Duration::from_millis(1000));
    let _ = drain(&mut s);
    let pong = s.handle_post(
        start + Duration::from_millis(1100),
        Bytes::from_static(b"3"),
    );
    assert_eq!(
        drain(&mut s).0,
        [ServerTransmit::Http {
            request: pong,
            response: HttpResponse::ok()
        }]
    );
    s.handle_timeout(start + Duration::from_millis(2000));
    let (transmits, events) = drain(&mut s);
    assert_eq!(transmits, [ServerTransmit::CloseWebSocket]);
    assert!(events.is_empty());
    assert!(!s.is_upgrading());
    assert_eq!(s.transport(), TransportKind::Polling);
    let get2 = s.handle_poll(start + Duration::from_millis(2000));
    s.send_text("still here").unwrap();
    let (transmits, _) = drain(&mut s);
    assert_eq!(transmits, [http(get2, 200, b"4still here")]);
    let _ = get;
}

#[test]
fn client_keeps_polling_when_the_websocket_is_refused() {
    let server = ServerConfig {
        transports: vec![TransportKind::Polling],
        ..ServerConfig::default()
    };
    let mut pair = Pair::open(server, Default::default());
    let Some(Event::Opened(open)) = pair.client_events.first() else {
        panic!()
    };
    assert!(open.upgrades.is_empty());
    assert!(!pair.client_log.iter().any(|w| matches!(w, Wire::WsOpen(_))));
    pair.client.send_text("x").unwrap();
    pair.run();
    assert_eq!(pair.server_messages(), ["x"]);
}

// ----- close during an upgrade --------------------------------------------------------------------
//
// What engine.io 6.6 does when the server closes a socket mid-upgrade (build/socket.js,
// transports/polling.js): the polling transport closes first (the close packet with the
// held poll, or with the next one), and the probe WebSocket is closed only when the
// socket has closed; until then it stays open and `5` on it still completes the upgrade,
// after which the WebSocket closes. engine.io-client pauses polling once it has `3probe`
// and waits for its poll; if the probe closes meanwhile it never polls again (a ping
// timeout ends it), so the probe must not be closed under it.
// `engineio_close_during_upgrade.rs` runs every interleaving against a model of it.

#[test]
fn close_while_the_probe_opens_answers_the_poll_then_closes_the_probe() {
    let (mut s, now) = open_polling(ServerConfig::default());
    let get = s.handle_poll(now);
    s.handle_ws_open(now).unwrap();
    s.close(now, CloseReason::ForcedClose);
    let (transmits, events) = drain(&mut s);
    assert_eq!(
        transmits,
        [http(get, 200, b"1"), ServerTransmit::CloseWebSocket]
    );
    assert_eq!(events, [Event::Closed(CloseReason::ForcedClose)]);
    assert_eq!(s.poll_timeout(), None);
}

#[test]
fn close_while_the_probe_opens_without_a_poll_waits_for_the_next_one() {
    let (mut s, now) = open_polling(ServerConfig::default());
    s.handle_ws_open(now).unwrap();
    s.close(now, CloseReason::ForcedClose);
    assert_eq!(drain(&mut s), (vec![], vec![]), "the probe stays open");
    // The client's `2probe` is still answered (it pauses, and its poll gets the close).
    s.handle_ws_frame(now, text("2probe"));
    assert_eq!(drain(&mut s).0, [ServerTransmit::WebSocket(text("3probe"))]);
    let get = s.handle_poll(now);
    let (transmits, events) = drain(&mut s);
    assert_eq!(
        transmits,
        [http(get, 200, b"1"), ServerTransmit::CloseWebSocket]
    );
    assert_eq!(events, [Event::Closed(CloseReason::ForcedClose)]);
}

#[test]
fn close_after_the_probe_keeps_it_for_the_upgrade_then_closes_the_websocket() {
    let (mut s, now) = open_polling(ServerConfig::default());
    let get = s.handle_poll(now);
    s.handle_ws_open(now).unwrap();
    s.handle_ws_frame(now, text("2probe"));
    assert_eq!(
        drain(&mut s).0,
        [
            ServerTransmit::WebSocket(text("3probe")),
            http(get, 200, b"6")
        ]
    );
    // The client is paused (or about to be) waiting for that poll: nothing to close yet.
    s.close(now, CloseReason::ForcedClose);
    assert_eq!(drain(&mut s), (vec![], vec![]));
    assert!(s.is_upgrading());
    s.handle_ws_frame(now, text("5"));
    let (transmits, events) = drain(&mut s);
    assert_eq!(transmits, [ServerTransmit::CloseWebSocket]);
    assert_eq!(
        events,
        [Event::Upgraded, Event::Closed(CloseReason::ForcedClose)]
    );
    assert_eq!(s.poll_timeout(), None);
}

#[test]
fn close_after_the_probe_delivers_the_queue_on_the_upgraded_websocket() {
    let (mut s, now) = open_polling(ServerConfig::default());
    s.handle_ws_open(now).unwrap();
    s.handle_ws_frame(now, text("2probe"));
    let _ = drain(&mut s);
    s.send_text("bye").unwrap();
    s.close(now, CloseReason::ForcedClose);
    assert_eq!(drain(&mut s), (vec![], vec![]));
    s.handle_ws_frame(now, text("5"));
    let (transmits, events) = drain(&mut s);
    assert_eq!(
        transmits,
        [
            ServerTransmit::WebSocket(text("4bye")),
            ServerTransmit::CloseWebSocket
        ]
    );
    assert_eq!(
        events,
        [Event::Upgraded, Event::Closed(CloseReason::ForcedClose)]
    );
}

#[test]
fn close_after_the_probe_answers_a_poll_if_the_client_stays_on_polling() {
    let (mut s, now) = open_polling(ServerConfig::default());
    s.handle_ws_open(now).unwrap();
    s.handle_ws_frame(now, text("2probe"));
    let _ = drain(&mut s);
    s.close(now, CloseReason::ForcedClose);
    // The client gave up on its probe and polls on.
    let get = s.handle_poll(now);
    let (transmits, events) = drain(&mut s);
    assert_eq!(
        transmits,
        [http(get, 200, b"1"), ServerTransmit::CloseWebSocket]
    );
    assert_eq!(events, [Event::Closed(CloseReason::ForcedClose)]);
}

#[test]
fn close_after_the_probe_is_bounded_by_the_upgrade_and_close_timeouts() {
    let (mut s, start) = open_polling(fast_server());
    s.handle_ws_open(start).unwrap();
    s.handle_ws_frame(start, text("2probe"));
    let _ = drain(&mut s);
    s.close(start, CloseReason::ForcedClose);
    // No `5` within upgradeTimeout: the probe is closed, the session waits for a poll.
    assert_eq!(s.poll_timeout(), Some(start + Duration::from_millis(2000)));
    s.handle_timeout(start + Duration::from_millis(2000));
    assert_eq!(
        drain(&mut s),
        (vec![ServerTransmit::CloseWebSocket], vec![])
    );
    assert_eq!(s.poll_timeout(), Some(start + Duration::from_secs(30)));
    s.handle_timeout(start + Duration::from_secs(30));
    assert_eq!(drain(&mut s).1, [Event::Closed(CloseReason::ForcedClose)]);
}

#[test]
fn close_after_the_upgrade_closes_the_websocket() {
    let (mut s, now) = open_polling(ServerConfig::default());
    s.handle_ws_open(now).unwrap();
    s.handle_ws_frame(now, text("2probe"));
    s.handle_ws_frame(now, text("5"));
    let _ = drain(&mut s);
    s.close(now, CloseReason::ForcedClose);
    let (transmits, events) = drain(&mut s);
    assert_eq!(transmits, [ServerTransmit::CloseWebSocket]);
    assert_eq!(events, [Event::Closed(CloseReason::ForcedClose)]);
}

/// Halyard's client against the server, the server closing at each stage of the upgrade:
/// the client learns of it from the network (no time passes), the server ends without a
/// timer, and nothing is left held.
#[test]
fn server_close_at_each_upgrade_stage_reaches_the_client_at_once() {
    let probe_sent = |p: &Pair| {
        p.net
            .iter()
            .any(|w| matches!(w, Wire::WsFrameToServer(f) if *f == text("2probe")))
    };
    let pong_sent = |p: &Pair| {
        p.net
            .iter()
            .any(|w| matches!(w, Wire::WsFrameToClient(f) if *f == text("3probe")))
    };
    let upgrade_sent = |p: &Pair| {
        p.net
            .iter()
            .any(|w| matches!(w, Wire::WsFrameToServer(f) if *f == text("5")))
    };
    type Reached<'a> = &'a dyn Fn(&Pair) -> bool;
    let stages: [(&str, Reached); 6] = [
        ("probe asked for", &|p| {
            p.net.iter().any(|w| matches!(w, Wire::WsOpen(_)))
        }),
        ("probe open", &|p| {
            p.server.as_ref().is_some_and(|s| s.is_upgrading()) && !probe_sent(p)
        }),
        ("2probe on its way", &probe_sent),
        ("3probe on its way", &pong_sent),
        ("client pausing", &|p| {
            p.client.is_upgrading()
                && p.client_log
                    .iter()
                    .any(|w| matches!(w, Wire::WsFrameToServer(f) if *f == text("2probe")))
                && !pong_sent(p)
                && !upgrade_sent(p)
                && p.server.as_ref().is_some_and(|s| s.is_upgrading())
        }),
        ("5 on its way", &upgrade_sent),
    ];
    for (stage, reached) in stages {
        let mut pair = Pair::new(ServerConfig::default(), Default::default());
        while !reached(&pair) {
            assert!(pair.step(), "{stage}: never reached");
        }
        let start = pair.now;
        pair.server().close(start, CloseReason::ForcedClose);
        pair.run();
        assert_eq!(pair.now, start);
        assert_eq!(
            pair.client_closed(),
            Some(CloseReason::TransportClose),
            "{stage}"
        );
        assert_eq!(
            pair.server_closed(),
            Some(CloseReason::ForcedClose),
            "{stage}"
        );
        assert_eq!(pair.server().pending_poll(), None, "{stage}");
        assert_eq!(pair.server().poll_timeout(), None, "{stage}");
    }
}

// ----- close --------------------------------------------------------------------------------------

#[test]
fn server_close_over_polling_delivers_the_queue_first() {
    let mut pair = Pair::open(ServerConfig::default(), polling_only());
    let now = pair.now;
    pair.server().send_text("bye").unwrap();
    pair.server().close(now, CloseReason::ForcedClose);
    assert_eq!(pair.server().send_text("late"), Err(Error::Closed));
    pair.run();
    assert_eq!(pair.client_messages(), ["bye"]);
    assert_eq!(pair.server_closed(), Some(CloseReason::ForcedClose));
    assert_eq!(pair.client_closed(), Some(CloseReason::TransportClose));
}

#[test]
fn server_close_over_websocket() {
    let mut pair = Pair::open(ServerConfig::default(), websocket_first());
    let now = pair.now;
    pair.server().send_text("bye").unwrap();
    pair.server().close(now, CloseReason::ServerShuttingDown);
    pair.run();
    assert_eq!(pair.client_messages(), ["bye"]);
    assert_eq!(pair.server_closed(), Some(CloseReason::ServerShuttingDown));
    assert_eq!(pair.client_closed(), Some(CloseReason::TransportClose));
}

#[test]
fn server_close_without_a_poll_times_out() {
    let (mut s, now) = open_polling(ServerConfig::default());
    s.close(now, CloseReason::ForcedClose);
    assert_eq!(s.poll_timeout(), Some(now + Duration::from_secs(30)));
    assert!(drain(&mut s).1.is_empty());
    s.handle_timeout(now + Duration::from_secs(30));
    assert_eq!(drain(&mut s).1, [Event::Closed(CloseReason::ForcedClose)]);
    assert_eq!(s.poll_timeout(), None);
}

#[test]
fn client_close_over_polling() {
    let mut pair = Pair::open(ServerConfig::default(), polling_only());
    let now = pair.now;
    pair.client.send_text("last words").unwrap();
    pair.client.close(now);
    pair.run();
    assert_eq!(pair.server_messages(), ["last words"]);
    assert_eq!(pair.client_closed(), Some(CloseReason::ForcedClose));
    assert_eq!(pair.server_closed(), Some(CloseReason::TransportClose));
    assert_eq!(pair.server().poll_timeout(), None);
}

#[test]
fn client_close_over_websocket() {
    let mut pair = Pair::open(ServerConfig::default(), websocket_first());
    let now = pair.now;
    pair.client.send_text("last words").unwrap();
    pair.client.close(now);
    pair.run();
    assert_eq!(pair.server_messages(), ["last words"]);
    assert_eq!(pair.client_closed(), Some(CloseReason::ForcedClose));
    assert_eq!(pair.server_closed(), Some(CloseReason::TransportClose));
}

#[test]
fn client_post_of_close_answers_the_held_poll_with_noop() {
    let (mut s, now) = open_polling(ServerConfig::default());
    let get = s.handle_poll(now);
    let post = s.handle_post(now, Bytes::from_static(b"1"));
    let (transmits, events) = drain(&mut s);
    assert_eq!(
        transmits,
        [
            http(get, 200, b"6"),
            ServerTransmit::Http {
                request: post,
                response: HttpResponse::ok()
            }
        ]
    );
    assert_eq!(events, [Event::Closed(CloseReason::TransportClose)]);
}

// ----- bounded queue ------------------------------------------------------------------------------

#[test]
fn full_queue_closes_a_slow_consumer() {
    let config = ServerConfig {
        max_queued_frames: 3,
        ..ServerConfig::default()
    };
    let (mut s, now) = open_polling(config);
    for _ in 0..3 {
        s.send_text("x").unwrap();
    }
    assert_eq!(s.try_send(text("4volatile")), Err(Error::Full));
    assert!(
        drain(&mut s).1.is_empty(),
        "try_send leaves the session alone"
    );
    assert_eq!(s.send_text("one too many"), Err(Error::Closed));
    assert_eq!(drain(&mut s).1, [Event::Closed(CloseReason::TransportFull)]);
    let _ = now;
}

#[test]
fn full_queue_can_reject_instead() {
    let config = ServerConfig {
        max_queued_bytes: 10,
        overflow: OverflowPolicy::Reject,
        ..ServerConfig::default()
    };
    let (mut s, now) = open_polling(config);
    s.send_text("123456789").unwrap();
    assert_eq!(s.send_text("a"), Err(Error::Full));
    let get = s.handle_poll(now);
    assert_eq!(drain(&mut s).0, [http(get, 200, b"4123456789")]);
    s.send_text("a").unwrap();
    assert!(!s.is_closed());
}

#[test]
fn client_gives_up_on_a_silent_handshake() {
    let mut pair = Pair::new(ServerConfig::default(), Default::default());
    let start = pair.now;
    pair.partitioned = true;
    pair.advance(Duration::from_secs(20));
    assert_eq!(pair.client_closed(), Some(CloseReason::HandshakeTimeout));
    assert_eq!(pair.elapsed(start), Duration::from_secs(20));
    assert!(
        pair.client_log.iter().any(|w| matches!(w, Wire::Abort(_))),
        "the handshake GET is aborted"
    );
}

#[test]
fn client_pauses_polling_during_the_upgrade() {
    use halyard_engine::engineio::ClientConfig;
    use halyard_engine::engineio::client::{ClientConnection, ClientTransmit};
    let now = Instant::now();
    let mut c = ClientConnection::new(ClientConfig::default(), now);
    let drain =
        |c: &mut ClientConnection| std::iter::from_fn(|| c.poll_transmit()).collect::<Vec<_>>();
    let Some(ClientTransmit::Get {
        request: handshake, ..
    }) = drain(&mut c).pop()
    else {
        panic!()
    };
    let open = br#"0{"sid":"abc","upgrades":["websocket"],"pingInterval":25000,"pingTimeout":20000,"maxPayload":100}"#;
    c.handle_get_response(now, handshake, 200, Bytes::from_static(open))
        .unwrap();
    let out = drain(&mut c);
    assert_eq!(
        out[0],
        ClientTransmit::OpenWebSocket {
            query: "EIO=4&transport=websocket&sid=abc".into()
        }
    );
    let ClientTransmit::Get {
        request: poll,
        query,
    } = &out[1]
    else {
        panic!("{out:?}")
    };
    assert_eq!(query, "EIO=4&transport=polling&sid=abc");
    c.handle_ws_opened(now).unwrap();
    assert_eq!(drain(&mut c), [ClientTransmit::WebSocket(text("2probe"))]);
    c.handle_ws_frame(now, text("3probe"));
    c.send_text("queued").unwrap();
    assert!(
        drain(&mut c).is_empty(),
        "paused: no POST, no new GET while the poll is out"
    );
    c.handle_get_response(now, *poll, 200, Bytes::from_static(b"6"))
        .unwrap();
    assert_eq!(
        drain(&mut c),
        [
            ClientTransmit::WebSocket(text("5")),
            ClientTransmit::WebSocket(text("4queued"))
        ]
    );
    assert_eq!(
        c.poll_event(),
        Some(Event::Opened(c.handshake().unwrap().clone()))
    );
    assert_eq!(c.poll_event(), Some(Event::Upgraded));
    assert_eq!(c.transport(), TransportKind::WebSocket);
}

#[test]
fn client_probe_failure_keeps_polling() {
    let mut pair = Pair::new(ServerConfig::default(), Default::default());
    pair.park_ws = true;
    pair.run();
    // The server answers the probe WebSocket with garbage: the client drops it.
    let now = pair.now;
    pair.client.handle_ws_opened(now).unwrap();
    pair.client
        .handle_ws_frame(now, text("4not a probe answer"));
    assert!(!pair.client.is_upgrading());
    pair.collect();
    assert!(matches!(
        pair.client_log.last(),
        Some(Wire::WsCloseToServer)
    ));
    pair.client.send_text("still polling").unwrap();
    pair.net
        .retain(|w| !matches!(w, Wire::WsFrameToServer(_) | Wire::WsCloseToServer));
    pair.run();
    assert_eq!(pair.server_messages(), ["still polling"]);
    assert_eq!(pair.client.transport(), TransportKind::Polling);
}
