//! The shared client tests (`halyard::client::test_support`) on smol: our Socket.IO
//! client against npm's socket.io 4.8 and against Halyard, per scenario, server and
//! transport mode.

mod common;

use common::Smol;

halyard::client_tests!(Smol, concat!(env!("CARGO_MANIFEST_DIR"), "/../interop"));
