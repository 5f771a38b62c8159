//! Errors of the async layer.

/// What an operation on a connection can fail with.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The connection is closed (or closing): nothing more can be sent.
    #[error("the connection is closed")]
    Closed,
    /// Only message frames (`4…` text or binary) can be sent.
    #[error("only message frames can be sent")]
    NotAMessage,
}
