//! `dist_ac` — the distributed application controller, mirroring
//! [`lib/kernel/src/dist_ac.erl`](https://github.com/erlang/otp/blob/OTP-25.2.3/lib/kernel/src/dist_ac.erl).
//!
//! * [`msg`]: the terms on the wire (`dist_ac_*`, `#appl{}`) and the AC ↔
//!   dist_ac protocol (`ac_*`), parsed and built exactly as OTP does.
//! * [`core`]: the sans-IO state machine ([`DistAc`]): inputs in, commands out,
//!   time injected; the nested receives of OTP as explicit [`Wait`] states.
//! * `decide`: the start decision (priority list, weights, waits).
//! * `sync`: the boot sync (`init_sync`, `sync_dacs`, `wait_dacs`).
//! * [`service`]: the tokio process registered as `dist_ac` that drives the
//!   core: it moves messages, node events and timers in, and carries out
//!   sends, lock calls (through a [`Locks`] port: the node's
//!   [`crate::kernel::global`] by default) and rpcs.
//!
//! Deterministic tests: `core_test.rs` replays the golden traces' messages
//! (s1/s2/s3) and compares every command; `sim_test.rs` runs clusters of
//! cores with virtual time and enumerates delivery orders. Interop with
//! real BEAM nodes: `tests/integration/dist_ac.rs`.

pub mod core;
mod decide;
mod handlers;
pub mod locks;
pub mod msg;
pub mod service;
mod sync;

#[cfg(test)]
mod core_test;
#[cfg(test)]
mod sim_test;

pub use self::core::{Call, CallId, Config, Dest, DistAc, DistEntry, Input, Output, Peer, Wait};
pub use decide::{After, DecisionWait, StartType};
pub use locks::Locks;
pub use msg::{
    Appl, ApplId, ChangeReq, DacMsg, FromAc, NodeSpec, NodesSpec, Perm, RestartTime, StartReply,
    ToAc,
};
pub use service::{DistAcHandle, TakeoverError};
