//! EPMD: the protocol messages, a tokio client, and our own EPMD server
//! (wire-compatible with `epmd`), used when none answers.
