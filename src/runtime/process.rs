//! A Rust process: a tokio task with a pid and a mailbox.
//!
//! ```no_run
//! # async fn f(node: distro::runtime::Node) {
//! use distro::term::{atom, tuple, TermExt};
//! let pid = node.spawn(|mut p| async move {
//!     // Selective receive: take the first `{ping, From}` message, leave the rest.
//!     let msg = p.receive(|m| m.tuple_tag() == Some("ping")).await;
//!     if let Some(from) = msg.elem(1).and_then(TermExt::as_pid) {
//!         p.send(from, atom("pong"));
//!     }
//! });
//! # }
//! ```
//!
//! Exit signals follow ERTS: a non-normal exit signal from a link kills the
//! process unless it traps exits (then it arrives as `{'EXIT', From,
//! Reason}`); `exit(Pid, kill)` always kills, with reason `killed`. A killed
//! process's task is aborted at its next `.await`.

use super::node::Inner;
use super::state::MonitorTarget;
use super::{Busy, Dest, Node};
use crate::term::{Atom, Pid, Reference, Term};
use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc::UnboundedReceiver;

/// The handle a process's task uses: its pid, its mailbox, and the
/// operations a BEAM process performs on itself.
pub struct Process {
    pub(crate) node: Node,
    pub(crate) pid: Pid,
    pub(crate) rx: UnboundedReceiver<Term>,
    pub(crate) saved: VecDeque<Term>,
    /// Mailbox counters shared with the table entry (`process_info/2`).
    pub(crate) stats: Arc<super::info::MailboxStats>,
    /// The process dictionary (`put/2`, `get/1`), oldest key first.
    pub(crate) dict: Vec<(Term, Term)>,
}

impl std::fmt::Debug for Process {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Process").field("pid", &self.pid).finish()
    }
}

/// Why [`Process::register`] failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("cannot register {name}: the name or the process is already registered")]
pub struct RegisterError {
    /// The name.
    pub name: String,
}

impl Process {
    /// This process's pid.
    pub fn pid(&self) -> &Pid {
        &self.pid
    }

    /// The node this process runs on.
    pub fn node(&self) -> &Node {
        &self.node
    }

    fn inner(&self) -> &Arc<Inner> {
        &self.node.inner
    }

    async fn next(&mut self) -> Term {
        if let Ok(m) = self.rx.try_recv() {
            return m;
        }
        self.stats.set_waiting(true);
        let m = self.rx.recv().await;
        self.stats.set_waiting(false);
        match m {
            Some(m) => m,
            // The process was removed from the table (killed): wait to be aborted.
            None => std::future::pending().await,
        }
    }

    /// Hands out a message: it leaves the mailbox.
    fn took(&self, m: Term) -> Term {
        self.stats.took(1);
        m
    }

    /// The next message, oldest first.
    pub async fn recv(&mut self) -> Term {
        if let Some(m) = self.saved.pop_front() {
            return self.took(m);
        }
        let m = self.next().await;
        self.took(m)
    }

    /// The next message, or `None` after `timeout`.
    pub async fn recv_timeout(&mut self, timeout: Duration) -> Option<Term> {
        tokio::time::timeout(timeout, self.recv()).await.ok()
    }

    /// Selective receive: the oldest message for which `matches` is true.
    /// Other messages stay in the mailbox, in order.
    pub async fn receive(&mut self, mut matches: impl FnMut(&Term) -> bool) -> Term {
        if let Some(i) = self.saved.iter().position(&mut matches) {
            if let Some(m) = self.saved.remove(i) {
                return self.took(m);
            }
        }
        loop {
            let m = self.next().await;
            if matches(&m) {
                return self.took(m);
            }
            self.saved.push_back(m);
        }
    }

    /// Selective receive with a timeout.
    pub async fn receive_timeout(
        &mut self,
        timeout: Duration,
        matches: impl FnMut(&Term) -> bool,
    ) -> Option<Term> {
        tokio::time::timeout(timeout, self.receive(matches))
            .await
            .ok()
    }

    /// `put(Key, Value)`: stores `value` under `key` in the process
    /// dictionary; returns the previous value.
    pub fn put(&mut self, key: Term, value: Term) -> Option<Term> {
        match self.dict.iter_mut().find(|(k, _)| *k == key) {
            Some((_, v)) => Some(std::mem::replace(v, value)),
            None => {
                self.dict.push((key, value));
                None
            }
        }
    }

    /// `get(Key)`.
    pub fn get(&self, key: &Term) -> Option<&Term> {
        self.dict.iter().find(|(k, _)| k == key).map(|(_, v)| v)
    }

    /// `get()`: the whole process dictionary as `{Key, Value}` pairs.
    pub fn get_dictionary(&self) -> Vec<(Term, Term)> {
        self.dict.clone()
    }

    /// `process_info(self(), registered_name)`.
    pub fn registered_name(&self) -> Option<Atom> {
        let st = self.inner().lock();
        st.procs
            .get(&super::state::key(&self.pid))
            .and_then(|e| e.name.clone())
    }

    /// `process_info(self())`, as [`Node::process_info`] reports it
    /// (`None` once the process has been removed from the table).
    pub fn info(&self) -> Option<super::ProcessInfo> {
        self.node.process_info(&self.pid)
    }

    /// `process_info(self(), messages)`: the messages waiting, including
    /// those a selective receive skipped, oldest first.
    pub fn messages(&mut self) -> Vec<Term> {
        while let Ok(m) = self.rx.try_recv() {
            self.saved.push_back(m);
        }
        self.saved.iter().cloned().collect()
    }

    /// Sends `msg` to a pid, a registered name, `{Name, Node}` or an alias,
    /// without ever waiting: when the connection to the destination's node
    /// is busy (see [`Process::send_wait`]) the message is queued anyway,
    /// as ERTS queues the signals it sends itself (links, exits, monitors).
    /// Right for replies and occasional messages; a process that sends
    /// streams to other nodes uses [`Process::send_wait`] or
    /// [`Process::send_nosuspend`], or the queue to a slow peer grows with
    /// every message.
    pub fn send(&self, to: impl Into<Dest>, msg: Term) {
        self.inner().send_from(&self.pid, to.into(), msg);
    }

    /// `erlang:send/2` as BEAM runs it: when the connection to the
    /// destination's node is busy — its queue holds at least
    /// `dist_buf_busy_limit` bytes (`+zdbbl`, 1024 KiB by default) not yet
    /// written — waits until it drains below the limit, then sends. Other
    /// destinations (local processes, idle connections, nodes not yet
    /// connected) never wait. The message is never dropped for being
    /// busy; if the connection goes down meanwhile, it is routed as any
    /// send to that node then is.
    pub async fn send_wait(&self, to: impl Into<Dest>, msg: Term) {
        self.inner().send_wait_from(&self.pid, to.into(), msg).await;
    }

    /// `erlang:send(Dest, Msg, [nosuspend])`: sends unless the connection to
    /// the destination's node is busy; then the message comes back in
    /// [`Busy`] and nothing is sent.
    pub fn send_nosuspend(&self, to: impl Into<Dest>, msg: Term) -> Result<(), Busy> {
        self.inner().send_nosuspend_from(&self.pid, to.into(), msg)
    }

    /// Registers this process under `name` (`erlang:register/2`).
    pub fn register(&self, name: &str) -> Result<(), RegisterError> {
        if self.inner().register(&Atom::from(name), &self.pid) {
            Ok(())
        } else {
            Err(RegisterError {
                name: name.to_owned(),
            })
        }
    }

    /// Removes this process's registered name.
    pub fn unregister(&self, name: &str) -> bool {
        self.inner().unregister(&Atom::from(name))
    }

    /// Sets `process_flag(trap_exit, Flag)`; returns the old value.
    pub fn trap_exit(&self, on: bool) -> bool {
        self.inner().set_trap_exit(&self.pid, on)
    }

    /// Links to `pid` (local or remote).
    pub fn link(&self, pid: &Pid) {
        self.inner().link(&self.pid, pid);
    }

    /// Removes the link to `pid`.
    pub fn unlink(&self, pid: &Pid) {
        self.inner().unlink(&self.pid, pid);
    }

    /// Monitors a process: a pid, or a registered name here or on another
    /// node. The `{'DOWN', Ref, process, Object, Reason}` message arrives
    /// when it exits (`noproc` if it does not exist, `noconnection` if its
    /// node goes down).
    pub fn monitor(&self, target: impl Into<MonitorTarget>) -> Reference {
        self.inner().monitor(&self.pid, target.into())
    }

    /// Like [`Process::monitor`] with a reference chosen by the caller
    /// (made with [`Node::make_ref`]); for sans-IO cores that create their
    /// references themselves.
    pub fn monitor_with_ref(&self, reference: Reference, target: impl Into<MonitorTarget>) {
        let inner = self.inner().clone();
        let pid = self.pid.clone();
        let target = target.into();
        inner.with(|st, fx| st.monitor(&inner.name, inner.creation, &pid, reference, target, fx));
    }

    /// Activates `reference` (made with [`Node::make_ref`]) as an alias of this process.
    pub fn alias_with_ref(&self, reference: Reference) {
        self.inner().add_alias(&self.pid, reference);
    }

    /// Removes a monitor; with `flush`, also removes a DOWN message for it
    /// that already arrived.
    pub fn demonitor(&mut self, reference: &Reference, flush: bool) -> bool {
        let existed = self.inner().demonitor(&self.pid, reference);
        if flush {
            let r = Term::Reference(Box::new(reference.clone()));
            let before = self.saved.len();
            self.saved.retain(|m| !is_down_for(m, &r));
            let mut flushed = before - self.saved.len();
            while let Ok(m) = self.rx.try_recv() {
                if is_down_for(&m, &r) {
                    flushed += 1;
                } else {
                    self.saved.push_back(m);
                }
            }
            self.stats.took(flushed);
        }
        existed
    }

    /// Sends an exit signal to `pid` (`exit/2`).
    pub fn exit(&self, pid: &Pid, reason: Term) {
        self.inner().exit2(&self.pid, pid, reason);
    }

    /// A new reference (`make_ref/0`).
    pub fn make_ref(&self) -> Reference {
        self.inner().ids.new_ref()
    }

    /// A new alias for this process (`alias/0`): messages sent to it arrive here.
    pub fn alias(&self) -> Reference {
        let r = self.make_ref();
        self.inner().add_alias(&self.pid, r.clone());
        r
    }

    /// Deactivates an alias (`unalias/1`).
    pub fn unalias(&self, alias: &Reference) -> bool {
        self.inner().remove_alias(&self.pid, alias)
    }

    /// Spawns a process linked to this one.
    pub fn spawn_link<F, Fut>(&self, f: F) -> Pid
    where
        F: FnOnce(Self) -> Fut + Send + 'static,
        Fut: std::future::Future + Send + 'static,
        Fut::Output: Send + 'static,
    {
        let me = self.pid.clone();
        self.node.spawn_with(
            f,
            move |e| {
                e.links.insert(me.clone());
            },
            Some(&self.pid),
        )
    }

    /// Subscribes to `{nodeup, Node}` / `{nodedown, Node}` messages
    /// (`net_kernel:monitor_nodes/1`); `with_info` gives
    /// `{nodeup, Node, #{node_type, connection_id}}` instead.
    pub fn monitor_nodes(&self, on: bool, with_info: bool) {
        self.inner().monitor_nodes(&self.pid, on, false, with_info);
    }

    /// `erlang:monitor_node(Node, true)`: one `{nodedown, Node}` when the
    /// connection goes (immediately if it cannot be made).
    pub fn monitor_node(&self, node: &str) {
        self.inner().monitor_node(&self.pid, &Atom::from(node));
    }
}

fn is_down_for(m: &Term, r: &Term) -> bool {
    use crate::term::TermExt;
    m.tuple_tag() == Some("DOWN") && m.elem(1) == Some(r)
}

impl From<Pid> for MonitorTarget {
    fn from(p: Pid) -> Self {
        Self::Pid(p)
    }
}

impl From<&Pid> for MonitorTarget {
    fn from(p: &Pid) -> Self {
        Self::Pid(p.clone())
    }
}

impl From<(&str, &str)> for MonitorTarget {
    fn from((name, node): (&str, &str)) -> Self {
        Self::Name(Atom::from(name), Atom::from(node))
    }
}
