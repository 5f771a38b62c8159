//! The shared Engine.IO tests (`halyard::test_support`) on smol.

mod common;

use common::Smol;

halyard::engineio_tests!(Smol, concat!(env!("CARGO_MANIFEST_DIR"), "/../interop"));
