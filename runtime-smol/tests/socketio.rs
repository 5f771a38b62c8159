//! The shared Socket.IO interop tests (`halyard::socketio::test_support`) on smol: npm's
//! socket.io-client 4.8 against a Halyard server, per scenario and transport mode.

mod common;

use common::Smol;

halyard::socketio_tests!(Smol, concat!(env!("CARGO_MANIFEST_DIR"), "/../interop"));
