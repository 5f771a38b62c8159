//! The shared Socket.IO interop tests (`halyard::socketio::test_support`) on tokio: npm's
//! socket.io-client 4.8 against a Halyard server, per scenario and transport mode.

mod common;

use common::Tokio;

halyard::socketio_tests!(Tokio, concat!(env!("CARGO_MANIFEST_DIR"), "/../interop"));
