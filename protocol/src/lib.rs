//! Deterministic codecs for Engine.IO v4 and Socket.IO v5 (work in progress).

pub mod engineio;

pub use bytes::Bytes;
pub use bytestring::ByteString;
