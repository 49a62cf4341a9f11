//! The node's process table and the signal semantics of ERTS: links, exit
//! signals, monitors, registered names, aliases, and what a connection's
//! control messages do to them.
//!
//! Everything here runs under the node's single mutex and never blocks:
//! local delivery is an unbounded channel send, remote delivery a send on
//! the connection's queue ([`crate::dist::queue`]), which counts the bytes
//! queued against the busy limit; a sender that must wait for a busy
//! connection is told so ([`State::try_send_remote`]) and waits after the
//! lock is released. Work that must happen after the lock
//! is released (aborting tasks, starting connection attempts) is collected
//! in [`Effects`].

use crate::dist::DFlags;
use crate::dist::control::{Control, ProcRef};
use crate::dist::queue::{self, BusyWait, QueueRx, QueueTx};
use crate::term;
use crate::term::{Atom, Pid, Reference, Term, atom};
use std::collections::{HashMap, HashSet, VecDeque};
use tokio::task::AbortHandle;

/// Key of a local process: its id and serial packed together.
pub(crate) type LocalKey = u64;

pub(crate) fn key(pid: &Pid) -> LocalKey {
    (u64::from(pid.serial) << 32) | u64::from(pid.id)
}

/// A monitor held by a local process.
#[derive(Debug, Clone)]
pub(crate) struct Monitoring {
    /// The monitored process as the DOWN message names it: a pid or `{Name, Node}`.
    pub(crate) object: Term,
    /// The monitored pid, when known (local pid, or remote pid).
    pub(crate) target_pid: Option<Pid>,
    /// Where the monitored process lives when remote.
    pub(crate) remote_node: Option<Atom>,
    /// The name, when monitored by name.
    pub(crate) name: Option<Atom>,
}

/// A monitor on a local process, held by some process.
#[derive(Debug, Clone)]
pub(crate) struct Watcher {
    pub(crate) pid: Pid,
    /// Set when the monitor was made by registered name.
    pub(crate) by_name: Option<Atom>,
}

pub(crate) struct ProcEntry {
    pub(crate) pid: Pid,
    pub(crate) tx: super::info::MailboxTx,
    pub(crate) trap_exit: bool,
    pub(crate) links: HashSet<Pid>,
    pub(crate) monitors: HashMap<Reference, Monitoring>,
    pub(crate) watchers: HashMap<Reference, Watcher>,
    pub(crate) name: Option<Atom>,
    pub(crate) aliases: Vec<Reference>,
    pub(crate) abort: Option<AbortHandle>,
    /// Set when the process was killed before its task handle was stored.
    pub(crate) dead: bool,
}

/// State of the connection to one node.
pub(crate) enum ConnState {
    /// Being set up by the attempt with this id; messages queue in `queue`.
    Pending { owner: u64 },
    /// Up.
    Up,
    /// Up, while a new incoming attempt (`alive` status) waits to replace it.
    UpPending { owner: u64 },
}

pub(crate) struct Conn {
    /// Id of the attempt/connection currently owning this entry.
    pub(crate) id: u64,
    pub(crate) state: ConnState,
    pub(crate) tx: QueueTx,
    /// Receiving end, held until the connection is up and its writer takes it.
    pub(crate) rx: Option<QueueRx>,
    pub(crate) flags: DFlags,
    pub(crate) published: bool,
    pub(crate) creation: u32,
    pub(crate) tasks: Vec<AbortHandle>,
    /// The reader task of the connection once it is up (also in `tasks`):
    /// [`Node::async_disconnect`](super::Node::async_disconnect) stops only
    /// it, so that the writer still writes what was queued.
    pub(crate) reader: Option<AbortHandle>,
    /// The socket of the connection once it is up (a duplicate descriptor).
    pub(crate) socket: Option<std::net::TcpStream>,
}

impl Conn {
    /// Closes the socket now (both directions), whatever its tasks are
    /// doing: the peer sees the connection go before this node acts on its
    /// own nodedown, as with `erlang:disconnect_node/1` on BEAM.
    pub(crate) fn shut_down(&self) {
        if let Some(s) = &self.socket {
            let _ = s.shutdown(std::net::Shutdown::Both);
        }
    }

    /// Whether the peer has closed the socket (end of stream or an error
    /// waits in it), which the reader may not have seen yet. The socket is
    /// non-blocking (it shares its file description with the driver's), so
    /// this never waits; unread data means it is open.
    pub(crate) fn socket_closed(&self) -> bool {
        let Some(s) = &self.socket else { return false };
        match s.peek(&mut [0u8; 1]) {
            Ok(0) => true,
            Ok(_) => false,
            Err(e) => e.kind() != std::io::ErrorKind::WouldBlock,
        }
    }
}

/// A subscriber of `net_kernel:monitor_nodes/1,2`.
#[derive(Debug, Clone)]
pub(crate) struct NodeMonitor {
    pub(crate) pid: Pid,
    pub(crate) hidden_too: bool,
    pub(crate) with_info: bool,
}

/// Work to do once the node lock is released.
#[derive(Default)]
pub(crate) struct Effects {
    pub(crate) aborts: Vec<AbortHandle>,
    pub(crate) connects: Vec<(Atom, u64)>,
}

#[derive(Default)]
pub(crate) struct State {
    pub(crate) procs: HashMap<LocalKey, ProcEntry>,
    pub(crate) names: HashMap<Atom, Pid>,
    pub(crate) aliases: HashMap<Reference, Pid>,
    pub(crate) conns: HashMap<Atom, Conn>,
    /// Monitors held by remote processes on local ones: reference → local pid.
    pub(crate) remote_watched: HashMap<Reference, Pid>,
    pub(crate) node_monitors: Vec<NodeMonitor>,
    /// `monitor_node(Node, true)` subscriptions.
    pub(crate) node_watch: HashMap<Atom, Vec<Pid>>,
    pub(crate) next_conn_id: u64,
    pub(crate) next_unlink_id: u64,
    /// Outgoing spawn requests waiting for their reply (`spawn_request.rs`).
    pub(crate) spawn_requests: HashMap<Reference, super::spawn_request::PendingSpawn>,
    /// The busy limit of every connection's queue.
    pub(crate) busy_limit: BusyLimit,
}

/// `dist_buf_busy_limit` in bytes (BEAM's 1024 KiB unless set).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct BusyLimit(pub(crate) usize);

impl Default for BusyLimit {
    fn default() -> Self {
        Self(queue::DEFAULT_BUSY_LIMIT)
    }
}

/// An exit signal on its way to a local process.
pub(crate) struct ExitSignal {
    pub(crate) to: LocalKey,
    pub(crate) from: Pid,
    pub(crate) reason: Term,
    /// From a broken link (removes the link) rather than `exit/2`.
    pub(crate) link: bool,
}

pub(crate) fn down_message(reference: &Reference, object: Term, reason: Term) -> Term {
    term!({DOWN, (Term::Reference(Box::new(reference.clone()))), process, (object), (reason)})
}

fn is_atom(t: &Term, name: &str) -> bool {
    matches!(t, Term::Atom(a) if a.name == name)
}

impl State {
    /// Whether `pid` belongs to this node incarnation.
    pub(crate) fn is_local(&self, me: &Atom, creation: u32, pid: &Pid) -> bool {
        pid.node == *me && pid.creation == creation
    }

    pub(crate) fn alive(&self, pid: &Pid) -> bool {
        self.procs.get(&key(pid)).is_some_and(|e| e.pid == *pid)
    }

    pub(crate) fn entry(&mut self, pid: &Pid) -> Option<&mut ProcEntry> {
        self.procs.get_mut(&key(pid)).filter(|e| e.pid == *pid)
    }

    /// Delivers a message to a local process (dropped if it does not exist).
    pub(crate) fn deliver(&self, pid: &Pid, msg: Term) {
        if let Some(e) = self.procs.get(&key(pid)).filter(|e| e.pid == *pid) {
            let _ = e.tx.send(msg);
        }
    }

    /// Queues a control message for `node`. With `autoconnect`, a missing
    /// connection is created (pending) and an attempt scheduled.
    pub(crate) fn send_remote(
        &mut self,
        node: &Atom,
        ctrl: Control,
        autoconnect: bool,
        fx: &mut Effects,
    ) {
        let charged = queue::weight(&ctrl);
        self.send_remote_charged(node, ctrl, charged, autoconnect, fx);
    }

    /// [`State::send_remote`] with the message's weight computed by the
    /// caller (before taking the lock).
    pub(crate) fn send_remote_charged(
        &mut self,
        node: &Atom,
        ctrl: Control,
        charged: usize,
        autoconnect: bool,
        fx: &mut Effects,
    ) {
        if let Some(c) = self.conns.get(node) {
            c.tx.send_charged(ctrl, charged);
            return;
        }
        if !autoconnect {
            return;
        }
        tracing::debug!(node = %node.name, ctrl = ?ctrl, "auto-connect on send");
        let id = self.new_pending(node);
        if let Some(c) = self.conns.get(node) {
            c.tx.send_charged(ctrl, charged);
        }
        fx.connects.push((node.clone(), id));
    }

    /// Like [`State::send_remote`] with auto-connect, for a process's send
    /// that respects the busy limit (`erlang:send/2,3`): when the
    /// connection's queue is busy nothing is queued and `ctrl` comes back
    /// with a way to wait for the queue to drain. With `connect` false a
    /// missing connection is not set up (`noconnect`): `Ok(false)`.
    pub(crate) fn try_send_remote(
        &mut self,
        node: &Atom,
        ctrl: Control,
        charged: usize,
        connect: bool,
        fx: &mut Effects,
    ) -> Result<bool, Box<(Control, BusyWait)>> {
        match self.conns.get(node) {
            Some(c) if c.tx.is_busy() => Err(Box::new((ctrl, c.tx.busy_wait()))),
            Some(c) => {
                c.tx.send_charged(ctrl, charged);
                Ok(true)
            }
            None if !connect => Ok(false),
            None => {
                self.send_remote_charged(node, ctrl, charged, true, fx);
                Ok(true)
            }
        }
    }

    /// Creates a pending connection entry owned by a new outgoing attempt.
    pub(crate) fn new_pending(&mut self, node: &Atom) -> u64 {
        self.next_conn_id += 1;
        let id = self.next_conn_id;
        let (tx, rx) = queue::channel(self.busy_limit.0);
        self.conns.insert(
            node.clone(),
            Conn {
                id,
                state: ConnState::Pending { owner: id },
                tx,
                rx: Some(rx),
                flags: DFlags::EMPTY,
                published: false,
                creation: 0,
                tasks: Vec::new(),
                reader: None,
                socket: None,
            },
        );
        id
    }

    /// Registers `name` for `pid`. Fails if either is already registered or
    /// the process does not exist.
    pub(crate) fn register(&mut self, name: &Atom, pid: &Pid) -> bool {
        if self.names.contains_key(name) {
            return false;
        }
        match self.entry(pid) {
            Some(e) if e.name.is_none() => e.name = Some(name.clone()),
            _ => return false,
        }
        self.names.insert(name.clone(), pid.clone());
        true
    }

    pub(crate) fn unregister(&mut self, name: &Atom) -> bool {
        match self.names.remove(name) {
            Some(pid) => {
                if let Some(e) = self.entry(&pid) {
                    e.name = None;
                }
                true
            }
            None => false,
        }
    }

    /// Creates a link between local `a` and `b` (local or remote). Returns
    /// false if `a` does not exist.
    pub(crate) fn link(&mut self, me: &Atom, creation: u32, a: &Pid, b: &Pid, fx: &mut Effects) {
        if !self.alive(a) || a == b {
            return;
        }
        if self.is_local(me, creation, b) {
            if self.alive(b) {
                if let Some(e) = self.entry(a) {
                    e.links.insert(b.clone());
                }
                if let Some(e) = self.entry(b) {
                    e.links.insert(a.clone());
                }
            } else {
                // Linking to a dead process: an exit signal `noproc`.
                self.exit_signals(
                    vec![ExitSignal {
                        to: key(a),
                        from: b.clone(),
                        reason: atom("noproc"),
                        link: true,
                    }],
                    me,
                    creation,
                    fx,
                );
            }
        } else {
            if let Some(e) = self.entry(a) {
                if !e.links.insert(b.clone()) {
                    return;
                }
            }
            self.send_remote(
                &b.node,
                Control::Link {
                    from: a.clone(),
                    to: b.clone(),
                },
                true,
                fx,
            );
        }
    }

    /// Removes the link between local `a` and `b`.
    pub(crate) fn unlink(&mut self, me: &Atom, creation: u32, a: &Pid, b: &Pid, fx: &mut Effects) {
        let had = self.entry(a).is_some_and(|e| e.links.remove(b));
        if self.is_local(me, creation, b) {
            if let Some(e) = self.entry(b) {
                e.links.remove(a);
            }
        } else if had {
            let unlink_id = self
                .conns
                .get(&b.node)
                .is_some_and(|c| c.flags.contains(DFlags::UNLINK_ID));
            let ctrl = if unlink_id {
                self.next_unlink_id += 1;
                Control::UnlinkId {
                    id: self.next_unlink_id,
                    from: a.clone(),
                    to: b.clone(),
                }
            } else {
                Control::Unlink {
                    from: a.clone(),
                    to: b.clone(),
                }
            };
            self.send_remote(&b.node, ctrl, false, fx);
        }
    }

    /// Makes local `watcher` monitor `target`; the DOWN message will name
    /// `object`. Returns immediately with a DOWN (`noproc`) when a local
    /// target does not exist.
    pub(crate) fn monitor(
        &mut self,
        me: &Atom,
        creation: u32,
        watcher: &Pid,
        reference: Reference,
        target: MonitorTarget,
        fx: &mut Effects,
    ) {
        match target {
            MonitorTarget::Pid(pid) if self.is_local(me, creation, &pid) => {
                let object = Term::Pid(pid.clone());
                if self.alive(&pid) && self.alive(watcher) {
                    if let Some(e) = self.entry(&pid) {
                        e.watchers.insert(
                            reference.clone(),
                            Watcher {
                                pid: watcher.clone(),
                                by_name: None,
                            },
                        );
                    }
                    if let Some(e) = self.entry(watcher) {
                        e.monitors.insert(
                            reference,
                            Monitoring {
                                object,
                                target_pid: Some(pid),
                                remote_node: None,
                                name: None,
                            },
                        );
                    }
                } else {
                    self.deliver(watcher, down_message(&reference, object, atom("noproc")));
                }
            }
            MonitorTarget::Pid(pid) => {
                let node = pid.node.clone();
                if let Some(e) = self.entry(watcher) {
                    e.monitors.insert(
                        reference.clone(),
                        Monitoring {
                            object: Term::Pid(pid.clone()),
                            target_pid: Some(pid.clone()),
                            remote_node: Some(node.clone()),
                            name: None,
                        },
                    );
                }
                self.send_remote(
                    &node,
                    Control::MonitorP {
                        from: watcher.clone(),
                        target: ProcRef::Pid(pid),
                        reference,
                    },
                    true,
                    fx,
                );
            }
            MonitorTarget::Name(name, node) if node == *me => {
                let object = term!({(Term::Atom(name.clone())), (Term::Atom(node))});
                match self.names.get(&name).cloned() {
                    Some(pid) if self.alive(watcher) => {
                        if let Some(e) = self.entry(&pid) {
                            e.watchers.insert(
                                reference.clone(),
                                Watcher {
                                    pid: watcher.clone(),
                                    by_name: Some(name.clone()),
                                },
                            );
                        }
                        if let Some(e) = self.entry(watcher) {
                            e.monitors.insert(
                                reference,
                                Monitoring {
                                    object,
                                    target_pid: Some(pid),
                                    remote_node: None,
                                    name: Some(name),
                                },
                            );
                        }
                    }
                    _ => self.deliver(watcher, down_message(&reference, object, atom("noproc"))),
                }
            }
            MonitorTarget::Name(name, node) => {
                let object = term!({(Term::Atom(name.clone())), (Term::Atom(node.clone()))});
                if let Some(e) = self.entry(watcher) {
                    e.monitors.insert(
                        reference.clone(),
                        Monitoring {
                            object,
                            target_pid: None,
                            remote_node: Some(node.clone()),
                            name: Some(name.clone()),
                        },
                    );
                }
                self.send_remote(
                    &node,
                    Control::MonitorP {
                        from: watcher.clone(),
                        target: ProcRef::Name(name),
                        reference,
                    },
                    true,
                    fx,
                );
            }
        }
    }

    /// Removes a monitor held by local `watcher`. Returns whether it existed.
    pub(crate) fn demonitor(
        &mut self,
        watcher: &Pid,
        reference: &Reference,
        fx: &mut Effects,
    ) -> bool {
        let Some(m) = self
            .entry(watcher)
            .and_then(|e| e.monitors.remove(reference))
        else {
            return false;
        };
        match (&m.remote_node, &m.target_pid) {
            (Some(node), _) => {
                let target = match (&m.target_pid, &m.name) {
                    (Some(p), _) => ProcRef::Pid(p.clone()),
                    (None, Some(n)) => ProcRef::Name(n.clone()),
                    (None, None) => return true,
                };
                self.send_remote(
                    node,
                    Control::DemonitorP {
                        from: watcher.clone(),
                        target,
                        reference: reference.clone(),
                    },
                    false,
                    fx,
                );
            }
            (None, Some(pid)) => {
                if let Some(e) = self.entry(pid) {
                    e.watchers.remove(reference);
                }
            }
            (None, None) => {}
        }
        true
    }

    /// `exit(To, Reason)` sent by `from` to a local or remote process.
    pub(crate) fn exit2(
        &mut self,
        me: &Atom,
        creation: u32,
        from: &Pid,
        to: &Pid,
        reason: Term,
        fx: &mut Effects,
    ) {
        if self.is_local(me, creation, to) {
            self.exit_signals(
                vec![ExitSignal {
                    to: key(to),
                    from: from.clone(),
                    reason,
                    link: false,
                }],
                me,
                creation,
                fx,
            );
        } else {
            self.send_remote(
                &to.node,
                Control::Exit2 {
                    from: from.clone(),
                    to: to.clone(),
                    reason,
                },
                true,
                fx,
            );
        }
    }

    /// A local process ended with `reason`: remove it and propagate.
    pub(crate) fn terminate(
        &mut self,
        me: &Atom,
        creation: u32,
        pid: &Pid,
        reason: Term,
        fx: &mut Effects,
    ) {
        let mut work = VecDeque::new();
        work.push_back((pid.clone(), reason));
        self.run_terminations(work, me, creation, fx);
    }

    pub(crate) fn exit_signals(
        &mut self,
        signals: Vec<ExitSignal>,
        me: &Atom,
        creation: u32,
        fx: &mut Effects,
    ) {
        let mut dying = VecDeque::new();
        for s in signals {
            self.apply_exit_signal(s, &mut dying);
        }
        self.run_terminations(dying, me, creation, fx);
    }

    /// Applies one exit signal to a local process; a process that must die
    /// is queued in `dying`.
    fn apply_exit_signal(&mut self, s: ExitSignal, dying: &mut VecDeque<(Pid, Term)>) {
        let Some(e) = self.procs.get_mut(&s.to) else {
            return;
        };
        if s.link && !e.links.remove(&s.from) {
            // No link any more (unlinked while the signal was in flight).
            return;
        }
        let kill = !s.link && is_atom(&s.reason, "kill");
        if kill {
            dying.push_back((e.pid.clone(), atom("killed")));
        } else if e.trap_exit {
            let _ = e.tx.send(term!({EXIT, (Term::Pid(s.from)), (s.reason)}));
        } else if !is_atom(&s.reason, "normal") {
            dying.push_back((e.pid.clone(), s.reason));
        } else if !s.link && s.from == e.pid {
            // exit(self(), normal) terminates the caller.
            dying.push_back((e.pid.clone(), s.reason));
        }
    }

    fn run_terminations(
        &mut self,
        mut work: VecDeque<(Pid, Term)>,
        me: &Atom,
        creation: u32,
        fx: &mut Effects,
    ) {
        while let Some((pid, reason)) = work.pop_front() {
            let Some(mut e) = self.procs.remove(&key(&pid)).filter(|e| e.pid == pid) else {
                continue;
            };
            if let Some(a) = e.abort.take() {
                fx.aborts.push(a);
            }
            e.dead = true;
            if let Some(n) = e.name.take() {
                self.names.remove(&n);
            }
            for a in e.aliases.drain(..) {
                self.aliases.remove(&a);
            }
            for (r, w) in e.watchers.drain() {
                let object = match &w.by_name {
                    Some(n) => term!({(Term::Atom(n.clone())), (Term::Atom(me.clone()))}),
                    None => Term::Pid(pid.clone()),
                };
                if self.is_local(me, creation, &w.pid) {
                    if let Some(we) = self.entry(&w.pid) {
                        we.monitors.remove(&r);
                    }
                    self.deliver(&w.pid, down_message(&r, object, reason.clone()));
                } else {
                    self.remote_watched.remove(&r);
                    let from = match w.by_name {
                        Some(n) => ProcRef::Name(n),
                        None => ProcRef::Pid(pid.clone()),
                    };
                    self.send_remote(
                        &w.pid.node.clone(),
                        Control::MonitorPExit {
                            from,
                            to: w.pid,
                            reference: r,
                            reason: reason.clone(),
                        },
                        false,
                        fx,
                    );
                }
            }
            for (r, m) in e.monitors.drain() {
                match (&m.remote_node, &m.target_pid) {
                    (Some(node), _) => {
                        let target = match (&m.target_pid, &m.name) {
                            (Some(p), _) => ProcRef::Pid(p.clone()),
                            (None, Some(n)) => ProcRef::Name(n.clone()),
                            (None, None) => continue,
                        };
                        self.send_remote(
                            &node.clone(),
                            Control::DemonitorP {
                                from: pid.clone(),
                                target,
                                reference: r,
                            },
                            false,
                            fx,
                        );
                    }
                    (None, Some(t)) => {
                        if let Some(te) = self.entry(&t.clone()) {
                            te.watchers.remove(&r);
                        }
                    }
                    (None, None) => {}
                }
            }
            for l in e.links.drain() {
                if self.is_local(me, creation, &l) {
                    let mut dying = VecDeque::new();
                    self.apply_exit_signal(
                        ExitSignal {
                            to: key(&l),
                            from: pid.clone(),
                            reason: reason.clone(),
                            link: true,
                        },
                        &mut dying,
                    );
                    work.extend(dying);
                } else {
                    self.send_remote(
                        &l.node.clone(),
                        Control::Exit {
                            from: pid.clone(),
                            to: l,
                            reason: reason.clone(),
                        },
                        false,
                        fx,
                    );
                }
            }
            self.node_monitors.retain(|m| m.pid != pid);
            for v in self.node_watch.values_mut() {
                v.retain(|p| *p != pid);
            }
            self.spawn_requests.retain(|_, p| p.pid != pid);
        }
    }
}

/// What a process monitors.
#[derive(Debug, Clone)]
pub enum MonitorTarget {
    /// A process by pid (local or remote).
    Pid(Pid),
    /// A registered name on a node (this node or another).
    Name(Atom, Atom),
}

/// A `SPAWN_REQUEST` received from a peer, for the node's spawn service.
#[derive(Debug, Clone)]
pub struct SpawnRequest {
    /// Request id; also the monitor reference when `monitor` was asked for.
    pub req_id: Reference,
    /// The requesting process.
    pub from: Pid,
    /// Module.
    pub module: Atom,
    /// Function.
    pub function: Atom,
    /// Arity.
    pub arity: u32,
    /// Spawn options as sent.
    pub opts: Term,
    /// Arguments.
    pub args: Term,
}
