//! The distribution layer: flags, the handshake state machine, framing and
//! control messages, the tokio connection driver, and TLS distribution.
//!
//! Mirrors `erts/emulator/beam/dist.c` and `lib/kernel/src/dist_util.erl`.

pub mod atom_cache;
pub mod flags;
pub mod handshake;

pub use flags::DFlags;
pub mod connection;
pub mod control;
pub mod frame;
pub mod queue;
pub mod tls;
pub mod transport;
