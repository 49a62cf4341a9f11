//! What `erlang:processes/0` and `erlang:process_info/1,2` report about
//! local processes, and the mailbox counters behind `message_queue_len`
//! and `status`.
//!
//! A mailbox is an unbounded channel; [`MailboxTx`] counts what is sent
//! into it and the [`Process`](super::Process) handle counts what it hands
//! out (or drops), so the difference is the number of messages waiting,
//! whether still in the channel or saved by a selective receive.

use super::Node;
use super::state::key;
use crate::term::{Atom, Pid, Term};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use tokio::sync::mpsc::UnboundedSender;

/// Counters shared by a process's table entry and its handle.
#[derive(Debug, Default)]
pub(crate) struct MailboxStats {
    sent: AtomicUsize,
    taken: AtomicUsize,
    waiting: AtomicBool,
}

impl MailboxStats {
    /// Messages delivered but not yet received.
    pub(crate) fn queued(&self) -> usize {
        let taken = self.taken.load(Ordering::Acquire);
        self.sent.load(Ordering::Acquire).saturating_sub(taken)
    }

    /// `n` messages left the mailbox (received or flushed).
    pub(crate) fn took(&self, n: usize) {
        self.taken.fetch_add(n, Ordering::AcqRel);
    }

    /// The process is (or is no longer) blocked waiting for a message.
    pub(crate) fn set_waiting(&self, on: bool) {
        self.waiting.store(on, Ordering::Release);
    }

    fn waiting(&self) -> bool {
        self.waiting.load(Ordering::Acquire)
    }
}

/// The sending side of a mailbox, with its counters.
#[derive(Debug, Clone)]
pub(crate) struct MailboxTx {
    tx: UnboundedSender<Term>,
    pub(crate) stats: Arc<MailboxStats>,
}

impl MailboxTx {
    pub(crate) fn new(tx: UnboundedSender<Term>, stats: Arc<MailboxStats>) -> Self {
        Self { tx, stats }
    }

    /// Queues `msg`; false if the receiving process is gone.
    pub(crate) fn send(&self, msg: Term) -> bool {
        // Counted first, so that a receiver never takes more than was sent.
        self.stats.sent.fetch_add(1, Ordering::AcqRel);
        if self.tx.send(msg).is_ok() {
            true
        } else {
            self.stats.took(1);
            false
        }
    }
}

/// `process_info/1` of a local process, as far as a Rust process has it.
#[derive(Debug, Clone, PartialEq)]
pub struct ProcessInfo {
    /// The process.
    pub pid: Pid,
    /// Its registered name, if any.
    pub registered_name: Option<Atom>,
    /// `waiting` when blocked in a receive, else `runnable`.
    pub status: &'static str,
    /// Messages delivered and not yet received.
    pub message_queue_len: usize,
    /// Linked pids and ports (local or remote).
    pub links: Vec<Pid>,
    /// What it monitors: a pid, or `{Name, Node}` for a monitor by name.
    pub monitors: Vec<Term>,
    /// Processes monitoring it.
    pub monitored_by: Vec<Pid>,
    /// `process_flag(trap_exit, _)`.
    pub trap_exit: bool,
}

impl Node {
    /// `net_kernel:get_net_ticktime/0`: the tick time in seconds.
    pub fn net_ticktime(&self) -> u32 {
        let s = &self.inner.settings;
        let ms = s.tick_interval.as_millis() * u128::from(s.tick_intensity);
        u32::try_from((ms + 500) / 1000).unwrap_or(u32::MAX)
    }

    /// The pid the node itself acts as (`<0.0.0>`, BEAM's `init`), e.g.
    /// as the group leader `process_info/2` reports.
    pub fn init_pid(&self) -> Pid {
        self.inner.ids.node_pid()
    }

    /// The local processes, as `erlang:processes/0` (in creation order).
    pub fn processes(&self) -> Vec<Pid> {
        let st = self.inner.lock();
        let mut pids: Vec<Pid> = st.procs.values().map(|e| e.pid.clone()).collect();
        pids.sort_by_key(|p| (p.serial, p.id));
        pids
    }

    /// The number of local processes (`system_info(process_count)`).
    pub fn process_count(&self) -> usize {
        self.inner.lock().procs.len()
    }

    /// `erlang:process_info/1` of a local process; `None` when it is not alive.
    pub fn process_info(&self, pid: &Pid) -> Option<ProcessInfo> {
        let st = self.inner.lock();
        let e = st.procs.get(&key(pid)).filter(|e| e.pid == *pid)?;
        let mut links: Vec<Pid> = e.links.iter().cloned().collect();
        links.sort_by_key(|p| (p.node.name.clone(), p.serial, p.id));
        let monitors = e.monitors.values().map(|m| m.object.clone()).collect();
        let mut monitored_by: Vec<Pid> = e.watchers.values().map(|w| w.pid.clone()).collect();
        monitored_by.sort_by_key(|p| (p.node.name.clone(), p.serial, p.id));
        Some(ProcessInfo {
            pid: e.pid.clone(),
            registered_name: e.name.clone(),
            status: if e.tx.stats.waiting() {
                "waiting"
            } else {
                "runnable"
            },
            message_queue_len: e.tx.stats.queued(),
            links,
            monitors,
            monitored_by,
            trap_exit: e.trap_exit,
        })
    }
}
