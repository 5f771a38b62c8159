//! The shared client tests (`halyard::client::test_support`) on tokio: our Socket.IO
//! client against npm's socket.io 4.8 and against Halyard, per scenario, server and
//! transport mode.

mod common;

use common::Tokio;

halyard::client_tests!(Tokio, concat!(env!("CARGO_MANIFEST_DIR"), "/../interop"));
