//! The client role (in progress).
