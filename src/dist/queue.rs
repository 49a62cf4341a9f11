//! The output queue of one distribution connection, with OTP's busy limit
//! (`dist_buf_busy_limit`, erl's `+zdbbl`).
//!
//! ERTS keeps, per connection, the bytes queued and not yet handed to the
//! socket. Once they reach the busy limit (1024 KiB by default) the
//! connection is *busy*: a process that sends to it is suspended until
//! the queue drains below the limit (`erlang:send/2`), or the send fails
//! with `nosuspend` (`erlang:send/3` with `[nosuspend]`,
//! `erlang:send_nosuspend/2`). Signals the runtime itself sends (links,
//! exits, monitors, spawn replies) are queued whatever the size.
//!
//! Here the queue is a channel of control messages from the node (any
//! task) to the connection's writer, and [`QueueTx`] / [`QueueRx`] carry
//! the byte count beside it:
//!
//! ```text
//!  sender ── QueueTx::send ──► channel ──► QueueRx::recv ─► writer encodes, writes
//!    │  charges the message's size            │                 │
//!    │                                        └─ release(n) ◄───┘ once written
//!    └─ busy? ── BusyWait::until_not_busy ◄── woken when the count drops below the limit,
//!                                             or when the connection is gone
//! ```
//!
//! A message is charged the size of its external encoding, estimated by
//! walking its terms ([`weight`]) rather than encoding them twice; the
//! same number is released once the writer has written the message, so
//! the count never drifts. As in ERTS the limit is soft: a sender that
//! found the queue below the limit queues its whole message, so the queue
//! exceeds the limit by at most one message per concurrent sender.

use super::control::Control;
use super::flags::DFlags;
use crate::term::{InternalFun, Term};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use tokio::sync::Notify;
use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender, unbounded_channel};

/// BEAM's default busy limit: 1024 KiB (`+zdbbl 1024`).
pub const DEFAULT_BUSY_LIMIT: usize = 1024 * 1024;

/// What the two ends of one queue share.
#[derive(Debug)]
struct Shared {
    /// Bytes charged and not yet released.
    queued: AtomicUsize,
    limit: usize,
    /// Set when the sending side is gone (the connection left the table).
    closed: AtomicBool,
    /// Woken when `queued` drops below `limit`, and on close.
    drained: Notify,
}

impl Shared {
    fn busy(&self) -> bool {
        self.queued.load(Ordering::Acquire) >= self.limit
    }
}

/// A queued message and the bytes it was charged.
#[derive(Debug)]
pub struct Queued {
    /// The message.
    pub ctrl: Control,
    /// What [`QueueTx::send`] charged for it; give it back with
    /// [`QueueRx::release`] once it is written.
    pub charged: usize,
}

/// The node's end of a connection's queue (one per connection entry).
#[derive(Debug)]
pub struct QueueTx {
    tx: UnboundedSender<Queued>,
    shared: Arc<Shared>,
}

/// The writer's end of a connection's queue.
#[derive(Debug)]
pub struct QueueRx {
    rx: UnboundedReceiver<Queued>,
    shared: Arc<Shared>,
}

/// A way to wait until a busy connection is not busy any more, taken
/// while the node's table is locked and awaited after it is released.
#[derive(Debug, Clone)]
pub struct BusyWait {
    shared: Arc<Shared>,
}

/// A new queue whose busy limit is `limit` bytes (at least 1).
pub fn channel(limit: usize) -> (QueueTx, QueueRx) {
    let (tx, rx) = unbounded_channel();
    let shared = Arc::new(Shared {
        queued: AtomicUsize::new(0),
        limit: limit.max(1),
        closed: AtomicBool::new(false),
        drained: Notify::new(),
    });
    (
        QueueTx {
            tx,
            shared: shared.clone(),
        },
        QueueRx { rx, shared },
    )
}

impl QueueTx {
    /// Queues `ctrl` whatever the queue holds (the runtime's own signals,
    /// and sends that must not wait), charging its [`weight`].
    pub fn send(&self, ctrl: Control) {
        let charged = weight(&ctrl);
        self.send_charged(ctrl, charged);
    }

    /// Queues `ctrl` whatever the queue holds, charging `charged` bytes
    /// (its weight, computed beforehand, e.g. with [`message_weight`]
    /// before the node's table is locked).
    pub fn send_charged(&self, ctrl: Control, charged: usize) {
        self.shared.queued.fetch_add(charged, Ordering::AcqRel);
        if let Err(e) = self.tx.send(Queued { ctrl, charged }) {
            // The writer is gone: nothing will be written or released.
            self.shared.queued.fetch_sub(e.0.charged, Ordering::AcqRel);
        }
    }

    /// Whether the queue has reached the busy limit.
    pub fn is_busy(&self) -> bool {
        self.shared.busy()
    }

    /// Bytes queued and not yet written.
    pub fn queued(&self) -> usize {
        self.shared.queued.load(Ordering::Acquire)
    }

    /// A handle to wait on until the queue is not busy.
    pub fn busy_wait(&self) -> BusyWait {
        BusyWait {
            shared: self.shared.clone(),
        }
    }
}

impl Drop for QueueTx {
    fn drop(&mut self) {
        // Senders waiting on this connection try again: the node now has
        // another connection to that peer, or none.
        self.shared.closed.store(true, Ordering::Release);
        self.shared.drained.notify_waiters();
    }
}

impl QueueRx {
    /// The next message; `None` once the node dropped the sending side and
    /// everything queued was received.
    pub async fn recv(&mut self) -> Option<Queued> {
        self.rx.recv().await
    }

    /// The next message if one is queued now.
    pub fn try_recv(&mut self) -> Option<Queued> {
        self.rx.try_recv().ok()
    }

    /// Gives back `n` charged bytes once their messages are written;
    /// wakes the waiting senders when the queue drops below the limit.
    pub fn release(&self, n: usize) {
        if n == 0 {
            return;
        }
        let before = self.shared.queued.fetch_sub(n, Ordering::AcqRel);
        if before >= self.shared.limit && before - n < self.shared.limit {
            self.shared.drained.notify_waiters();
        }
    }

    /// Bytes queued and not yet written.
    pub fn queued(&self) -> usize {
        self.shared.queued.load(Ordering::Acquire)
    }
}

impl BusyWait {
    /// Waits until the queue is below its limit or the connection is gone.
    pub async fn until_not_busy(&self) {
        loop {
            let drained = self.shared.drained.notified();
            if !self.shared.busy() || self.shared.closed.load(Ordering::Acquire) {
                return;
            }
            drained.await;
        }
    }
}

/// The bytes `ctrl` takes on the wire, estimated from its terms: within a
/// few bytes per term of the real encoding (every integer counts 5 bytes,
/// every atom 3 more than its text; packet headers are included).
pub fn weight(ctrl: &Control) -> usize {
    let (c, m) = ctrl.to_terms(DFlags::OURS);
    // Length prefix + distribution header (or fragment headers).
    8 + term_weight(&c) + m.map_or(0, term_weight)
}

/// The weight of a `SEND`/`REG_SEND`/`ALIAS_SEND` carrying `msg`: the
/// message's, plus a fixed allowance for the control tuple and headers.
pub fn message_weight(msg: &Term) -> usize {
    MESSAGE_OVERHEAD + term_weight(msg)
}

/// Packet headers and a send's control tuple (`{22, From, To}` with two
/// pids of typical node names).
const MESSAGE_OVERHEAD: usize = 128;

/// Estimated encoded size of `t`, without recursion.
fn term_weight(t: &Term) -> usize {
    let mut total = 0usize;
    let mut stack = vec![t];
    while let Some(t) = stack.pop() {
        total = total.saturating_add(match t {
            Term::Atom(a) => 3 + a.name.len(),
            Term::FixInteger(_) => 5,
            Term::BigInteger(b) => 7 + (b.value.bits() as usize).div_ceil(8),
            Term::Float(_) => 9,
            Term::Pid(p) => 16 + p.node.name.len(),
            Term::Port(p) => 20 + p.node.name.len(),
            Term::Reference(r) => 10 + r.node.name.len() + 4 * r.id.len(),
            Term::ExternalFun(f) => 9 + f.module.name.len() + f.function.name.len(),
            Term::InternalFun(f) => {
                let (module, pid, vars) = match &**f {
                    InternalFun::New {
                        module,
                        pid,
                        free_vars,
                        ..
                    }
                    | InternalFun::Old {
                        module,
                        pid,
                        free_vars,
                        ..
                    } => (module, pid, free_vars),
                };
                stack.extend(vars);
                54 + module.name.len() + pid.node.name.len()
            }
            Term::Binary(b) => 5 + b.bytes.len(),
            Term::BitBinary(b) => 6 + b.bytes.len(),
            Term::ByteList(b) if b.bytes.len() <= 0xFFFF => 3 + b.bytes.len(),
            Term::ByteList(b) => 6 + 2 * b.bytes.len(),
            Term::List(l) => {
                stack.extend(&l.elements);
                6
            }
            Term::ImproperList(l) => {
                stack.extend(&l.elements);
                stack.push(&l.last);
                5
            }
            Term::Tuple(x) => {
                stack.extend(&x.elements);
                5
            }
            Term::Map(m) => {
                stack.extend(m.map.iter().flat_map(|(k, v)| [k, v]));
                5
            }
        });
    }
    total
}

#[cfg(test)]
#[path = "queue_test.rs"]
mod queue_test;
