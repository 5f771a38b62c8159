//! The shared Engine.IO tests (`halyard::test_support`) on tokio.

mod common;

use common::Tokio;

halyard::engineio_tests!(Tokio, concat!(env!("CARGO_MANIFEST_DIR"), "/../interop"));
