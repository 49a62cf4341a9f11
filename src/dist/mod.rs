//! The distribution layer: flags, the handshake state machine, framing and
//! control messages, and the tokio connection driver.
//!
//! Mirrors `erts/emulator/beam/dist.c` and `lib/kernel/src/dist_util.erl`.

pub mod flags;
pub mod handshake;

pub use flags::DFlags;
pub mod connection;
pub mod control;
pub mod frame;
pub mod queue;
