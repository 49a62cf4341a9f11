//! The process runtime: pids, refs, mailboxes, links, monitors, registered
//! names and routing between local processes and connections.
//!
//! A process is a tokio task holding a [`Process`] handle. All process and
//! connection state of a node lives in one table behind one mutex
//! (`state.rs`), which implements ERTS's signal semantics; the
//! [`crate::dist`] drivers feed it the control messages of each connection.

mod gen_call;
mod ids;
mod info;
mod net_table;
mod node;
mod process;
mod remote;
mod spawn_request;
mod spawn_service;
mod state;

#[cfg(test)]
mod runtime_test;
#[cfg(test)]
mod spawn_request_test;
#[cfg(test)]
pub(crate) mod testkit;

pub use gen_call::{CallError, GenCall, GenFrom};
pub use info::ProcessInfo;
pub use node::{Node, NodeConfig, ProcessFn, SpawnService, StartError};
pub use process::{Process, RegisterError};
pub use spawn_request::{SpawnOpts, SpawnReply};
pub use state::{MonitorTarget, SpawnRequest};

use crate::term::{Atom, Pid, Reference, Term, atom};

/// Where a message goes.
#[derive(Debug, Clone, PartialEq)]
pub enum Dest {
    /// A process, local or remote.
    Pid(Pid),
    /// A name registered on this node.
    Name(Atom),
    /// `{Name, Node}`.
    Remote(Atom, Atom),
    /// A process alias.
    Alias(Reference),
}

impl From<Pid> for Dest {
    fn from(p: Pid) -> Self {
        Self::Pid(p)
    }
}

impl From<&Pid> for Dest {
    fn from(p: &Pid) -> Self {
        Self::Pid(p.clone())
    }
}

impl From<&str> for Dest {
    fn from(name: &str) -> Self {
        Self::Name(Atom::from(name))
    }
}

impl From<(&str, &str)> for Dest {
    fn from((name, node): (&str, &str)) -> Self {
        Self::Remote(Atom::from(name), Atom::from(node))
    }
}

/// A send refused because the destination's connection is busy: its queue
/// holds `dist_buf_busy_limit` bytes or more not yet written
/// (`erlang:send/3` with `[nosuspend]` returning `nosuspend`). The message
/// was not sent; it is handed back.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("the connection to {} is busy (dist_buf_busy_limit reached); message not sent", node.name)]
pub struct Busy {
    /// The node whose connection is busy.
    pub node: Atom,
    /// The message, not sent.
    pub msg: Term,
}

/// Turns what a process body returned into its exit reason: `()` is
/// `normal`, a [`Term`] is itself, `Result<(), Term>` is `normal` or the
/// error. Any other type (including `!` of an endless loop) is `normal`.
pub(crate) fn exit_reason_of(value: Box<dyn std::any::Any + Send>) -> Term {
    if let Some(t) = value.downcast_ref::<Term>() {
        return t.clone();
    }
    if let Some(Err(t)) = value.downcast_ref::<Result<(), Term>>() {
        return t.clone();
    }
    atom("normal")
}
