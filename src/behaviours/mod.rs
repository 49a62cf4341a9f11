//! OTP behaviours written against the public [`crate::runtime`] API, the
//! way `stdlib`'s `gen.erl` / `gen_server.erl` sit on top of ERTS.
//!
//! ```text
//!   kernel (rex, global, dist_ac …)   apps     user code
//!              │                        │          │
//!              ▼                        ▼          ▼
//!   behaviours::supervisor  (child specs, strategies, restart intensity)
//!              │
//!   behaviours::gen_server  (GenServer trait, start/call/cast/multi_call)
//!              │  sys (system messages), proc_lib ('$ancestors', crash reports)
//!              ▼
//!   runtime (Process, Node: send, receive, monitor, alias, link)
//! ```
//!
//! This layer owns no process-table state and needs no access to runtime
//! internals: everything it does, a user could write with [`crate::runtime`].
//! Name registries other than local names (`{global, Name}`, `{via, …}`)
//! come in through the [`gen_server::NameRegistry`] trait, so that the
//! layering stays one-way (`kernel::global` implements it).

pub mod gen_server;
pub(crate) mod proc_lib;
pub mod supervisor;
pub mod sys;
#[cfg(test)]
mod sys_test;

use crate::term::{Term, atom, uint};
use std::time::Duration;

/// A timeout as OTP functions take it: milliseconds or `infinity`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Timeout {
    /// Give up after this long.
    After(Duration),
    /// `infinity`.
    Infinity,
}

impl Timeout {
    /// The default timeout of `gen_server:call/2` (5 s).
    pub const DEFAULT: Self = Self::After(Duration::from_secs(5));

    /// The duration, `None` for `infinity`.
    pub fn duration(self) -> Option<Duration> {
        match self {
            Self::After(d) => Some(d),
            Self::Infinity => None,
        }
    }

    /// The timeout as an Erlang term: milliseconds or `infinity`.
    pub fn to_term(self) -> Term {
        match self {
            Self::After(d) => uint(u64::try_from(d.as_millis()).unwrap_or(u64::MAX)),
            Self::Infinity => atom("infinity"),
        }
    }
}

impl From<Duration> for Timeout {
    fn from(d: Duration) -> Self {
        Self::After(d)
    }
}

/// Milliseconds, as an integer timeout in Erlang: `client.call(s, r, 5000)`.
impl From<u64> for Timeout {
    fn from(ms: u64) -> Self {
        Self::After(Duration::from_millis(ms))
    }
}

impl Default for Timeout {
    fn default() -> Self {
        Self::DEFAULT
    }
}
