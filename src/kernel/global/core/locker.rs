//! The locker — mirrors `loop_the_locker/1`, `the_locker_message/2`,
//! `select_node/1`, `lock_nodes_safely/3`, `lock_is_set/5`,
//! `wait_cancel_lock/6`, `send_lock_set/5` and `delete_global_lock/2` of
//! `lib/kernel/src/global.erl`.
//!
//! One locker per node locks *its* partition for a connect-sync with the
//! lock `{global, lists:sort([LockerA, LockerB])}`: first on the boss (the
//! max node name), then on itself and the peer, then on all known nodes.
//! OTP's blocking receives become states; messages that the current state
//! does not select wait in [`Locker::mailbox`], as in a BEAM mailbox.
//!
//! Timer (`loop_the_locker/1`): with candidates waiting, 0 ms right after a
//! successful sync, 200 ms when no other node is known, else
//! `min(1000 + 100·|known|, 3000)` ms, restarted after every message.

use super::locks::{MultiCall, SetLockOp, Step};
use super::{GlobalCore, Internal, Output, Role, a, node_of, opt_tag_eq, tag_eq};
use crate::runtime::Dest;
use crate::term;
use crate::term::{Pid, Term, TermExt, list, tuple};
use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// The fun `resolved/5` hands to the locker in `cancel`: casts `new_nodes`
/// to the nodes of the old partition (new format to vsn ≥ 7) before the lock
/// is released.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct NewNodesFun {
    pub(super) targets: Vec<(String, i64)>,
    pub(super) new_msg: Term,
    pub(super) old_msg: Term,
}

/// Messages from the server (or forwarded by it) to the locker.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum LockerMsg {
    /// `{his_the_locker, HisTheLocker, {Vsn, HisKnown}, HisTag, MyTag}`.
    HisTheLocker {
        locker: Pid,
        vsn: i64,
        his_tag: Term,
        my_tag: Term,
    },
    /// `{cancel, Node, Tag, Fun | no_fun}`.
    Cancel {
        node: String,
        tag: Option<Term>,
        fun: Option<NewNodesFun>,
    },
    /// `{lock_set, Pid, LockIsSet, HisKnown[, MyTag]}`.
    LockSet {
        pid: Pid,
        set: bool,
        his_known: Term,
        tag: Option<Term>,
    },
    /// `{add_to_known, Nodes}`.
    AddToKnown(Vec<String>),
    /// `{remove_from_known, Node}`.
    RemoveFromKnown(String),
}

/// `#him{}`: a node waiting to be synced with.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Him {
    node: String,
    locker: Pid,
    vsn: i64,
    my_tag: Term,
    his_tag: Term,
}

/// Why the partition is being locked.
#[derive(Debug, Clone)]
enum Purpose {
    /// `select_node/1` picked `him`.
    Select(Him),
    /// The peer's locker locked first (`the_locker_message({lock_set, ...})`).
    Spontaneous {
        pid: Pid,
        node: String,
        my_tag: Term,
        his_vsn: i64,
        his_tag: Term,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
    Boss,
    Second,
    Known,
    /// Releasing what was taken after a failure.
    Undo,
}

/// `lock_nodes_safely/3` in flight.
#[derive(Debug, Clone)]
struct Locking {
    purpose: Purpose,
    lock_id: Term,
    extra: Vec<String>,
    first: Vec<String>,
    second: Vec<String>,
    stage: Stage,
    op: Option<SetLockOp>,
    undo: Option<MultiCall>,
}

/// What to do once the partition lock is released.
#[derive(Debug, Clone)]
enum After {
    /// Back to the loop (failure).
    Loop,
    /// `remove_node(Node, Tag)` (cancelled while waiting for the peer).
    RemoveNode(String, Term),
    /// Success: `just_synced`, forget `node`'s request.
    Synced(String, Term),
}

#[derive(Debug, Clone)]
enum State {
    Idle,
    Locking(Box<Locking>),
    /// `lock_is_set/5`: waiting for the peer's `lock_set`.
    WaitLockSet {
        him: Him,
        known1: Vec<String>,
        lock_id: Term,
    },
    /// `wait_cancel_lock/6`: holding the lock until the server cancels.
    WaitCancel {
        node: String,
        my_tag: Term,
        lock_id: Term,
        known: Vec<String>,
        after: After,
    },
    /// `delete_global_lock/2`: `rest` first, then the boss.
    Deleting {
        lock_id: Term,
        boss: Option<String>,
        call: Option<MultiCall>,
        after: After,
    },
}

/// The locker's state (`#multi{}` plus where it is blocked).
#[derive(Debug, Clone)]
pub(super) struct Locker {
    local: Vec<Him>,
    remote: Vec<Him>,
    known: Vec<String>,
    the_boss: String,
    just_synced: bool,
    mailbox: VecDeque<LockerMsg>,
    state: State,
    deadline: Option<Instant>,
}

impl Locker {
    pub(super) fn new(me: &str) -> Self {
        Self {
            local: Vec::new(),
            remote: Vec::new(),
            known: Vec::new(),
            the_boss: me.to_owned(),
            just_synced: false,
            mailbox: VecDeque::new(),
            state: State::Idle,
            deadline: None,
        }
    }

    pub(super) fn deadline(&self) -> Option<Instant> {
        match self.state {
            State::Idle => self.deadline,
            _ => None,
        }
    }

    fn find_node_tag(&self, node: &str) -> Option<&Him> {
        self.local
            .iter()
            .find(|h| h.node == node)
            .or_else(|| self.remote.iter().find(|h| h.node == node))
    }

    fn remove_node(&mut self, node: &str, tag: &Term) {
        for l in [&mut self.local, &mut self.remote] {
            if let Some(i) = l
                .iter()
                .position(|h| h.node == node && tag_eq(&h.my_tag, tag))
            {
                l.remove(i);
            }
        }
    }
}

impl GlobalCore {
    /// `update_locker_known({add | remove, ...}, S)`.
    fn locker_update_known(&mut self, m: &LockerMsg) {
        match m {
            LockerMsg::AddToKnown(nodes) => {
                let mut k = nodes.clone();
                k.append(&mut self.locker.known);
                self.locker.known = k;
            }
            LockerMsg::RemoveFromKnown(n) => {
                if let Some(i) = self.locker.known.iter().position(|k| k == n) {
                    self.locker.known.remove(i);
                }
            }
            _ => return,
        }
        let mut all = vec![self.me.clone()];
        all.extend(self.locker.known.iter().cloned());
        self.locker.the_boss = Self::the_boss(&all).unwrap_or_else(|| self.me.clone());
    }

    /// `update_locker_known/1`: apply the known-node updates waiting in the mailbox.
    fn locker_drain_known(&mut self) {
        let mb = std::mem::take(&mut self.locker.mailbox);
        for m in mb {
            if matches!(m, LockerMsg::AddToKnown(_) | LockerMsg::RemoveFromKnown(_)) {
                self.locker_update_known(&m);
            } else {
                self.locker.mailbox.push_back(m);
            }
        }
    }

    /// The timeout `loop_the_locker/1` waits for.
    fn locker_timeout_ms(&self) -> Option<u64> {
        if self.locker.local.is_empty() && self.locker.remote.is_empty() {
            return None;
        }
        Some(if self.locker.just_synced {
            0
        } else if self.locker.known.is_empty() {
            200
        } else {
            (1000 + 100 * self.locker.known.len() as u64).min(3000)
        })
    }

    /// Back in `loop_the_locker/1`: handle queued messages, then arm the timer.
    fn locker_loop(&mut self) {
        while matches!(self.locker.state, State::Idle) {
            match self.locker.mailbox.pop_front() {
                Some(m) => self.locker_idle_message(m),
                None => break,
            }
        }
        if matches!(self.locker.state, State::Idle) {
            self.locker.deadline = self
                .locker_timeout_ms()
                .map(|ms| self.now + Duration::from_millis(ms));
            self.locker.just_synced = false;
        }
    }

    /// A message from the server to the locker.
    pub(super) fn locker_deliver(&mut self, m: LockerMsg) {
        self.locker.mailbox.push_back(m);
        self.locker_select();
    }

    /// Lets the current state pick from the mailbox.
    fn locker_select(&mut self) {
        match std::mem::replace(&mut self.locker.state, State::Idle) {
            State::Idle => self.locker_loop(),
            State::WaitLockSet {
                him,
                known1,
                lock_id,
            } => self.locker_wait_lock_set(him, known1, lock_id),
            State::WaitCancel {
                node,
                my_tag,
                lock_id,
                known,
                after,
            } => self.locker_wait_cancel(node, my_tag, lock_id, known, after),
            s => self.locker.state = s,
        }
    }

    /// A message that arrived in the locker's own mailbox (multi_call replies,
    /// DOWNs, `{lock_set, Pid, false, Known}` sent straight to the locker).
    pub(super) fn locker_message(&mut self, msg: Term) {
        if let State::Locking(_) | State::Deleting { .. } = self.locker.state {
            if self.locker_call_msg(&msg) {
                return;
            }
        }
        match msg.as_tuple() {
            Some([t, Term::Pid(pid), set, known]) if t.as_atom() == Some("lock_set") => {
                let m = LockerMsg::LockSet {
                    pid: pid.clone(),
                    set: set.as_bool() == Some(true),
                    his_known: known.clone(),
                    tag: None,
                };
                self.locker_deliver(m);
            }
            Some([t, Term::Pid(pid), set, known, tag]) if t.as_atom() == Some("lock_set") => {
                let m = LockerMsg::LockSet {
                    pid: pid.clone(),
                    set: set.as_bool() == Some(true),
                    his_known: known.clone(),
                    tag: Some(tag.clone()),
                };
                self.locker_deliver(m);
            }
            _ if msg.tuple_tag() == Some("EXIT") => {}
            _ => tracing::trace!("global locker drops {}", crate::term::Pretty(&msg)),
        }
    }

    /// `the_locker_message/2` in the idle loop.
    fn locker_idle_message(&mut self, m: LockerMsg) {
        match m {
            LockerMsg::HisTheLocker {
                locker,
                vsn,
                his_tag,
                my_tag,
            } => {
                if vsn <= 4 {
                    return;
                }
                let him = Him {
                    node: node_of(&locker),
                    locker,
                    vsn,
                    my_tag,
                    his_tag,
                };
                if self.is_node_local(&him.node) {
                    self.locker.local.insert(0, him);
                } else {
                    self.locker.remote.insert(0, him);
                }
            }
            LockerMsg::Cancel { tag: None, .. } => {}
            LockerMsg::Cancel {
                node,
                tag: Some(t),
                fun: None,
            } => self.locker.remove_node(&node, &t),
            LockerMsg::Cancel { fun: Some(_), .. } => {
                tracing::warn!(
                    "The global_name_server locker process received an unexpected message: cancel with fun"
                );
            }
            LockerMsg::LockSet { set: false, .. } => {}
            LockerMsg::LockSet {
                pid,
                set: true,
                tag,
                ..
            } => {
                let node = node_of(&pid);
                let found = self.locker.find_node_tag(&node).cloned();
                let my_tag = match (&found, tag) {
                    (Some(h), None) => Some(h.my_tag.clone()),
                    (Some(_), Some(t)) => Some(t),
                    (None, _) => None,
                };
                match (found, my_tag) {
                    (Some(h), Some(my_tag)) if tag_eq(&h.my_tag, &my_tag) => {
                        let lock_id = self.locker_lock_id(&pid);
                        let purpose = Purpose::Spontaneous {
                            pid,
                            node,
                            my_tag,
                            his_vsn: h.vsn,
                            his_tag: h.his_tag,
                        };
                        self.lock_nodes_safely(purpose, lock_id, Vec::new());
                    }
                    _ => {
                        // Not there (or another session): say no, old style.
                        let known = self.locker_known_term();
                        let m = term!({(a("lock_set")), (Term::Pid(self.cfg.locker.clone())), (a("false")), (known)});
                        self.emit(Output::Send {
                            from: Role::Locker,
                            to: Dest::Pid(pid),
                            msg: m,
                        });
                    }
                }
            }
            m @ (LockerMsg::AddToKnown(_) | LockerMsg::RemoveFromKnown(_)) => {
                self.locker_update_known(&m)
            }
        }
    }

    fn locker_known_term(&self) -> Term {
        list(self.locker.known.iter().map(|n| a(n)).collect())
    }

    /// `is_node_local/1`: same host part as this machine's host name.
    fn is_node_local(&self, node: &str) -> bool {
        node.split_once('@')
            .is_some_and(|(_, h)| h == self.cfg.hostname)
    }

    /// `locker_lock_id/2`: `{global, lists:sort([self(), Pid])}`.
    fn locker_lock_id(&self, his: &Pid) -> Term {
        let mut v = [self.cfg.locker.clone(), his.clone()];
        v.sort_by(crate::term::cmp_pids);
        term!({(a("global")), (list(v.into_iter().map(Term::Pid).collect()))})
    }

    pub(super) fn locker_timeout(&mut self) {
        let Some(d) = self.locker.deadline() else {
            return;
        };
        if d > self.now {
            return;
        }
        self.locker.deadline = None;
        if self.locks.is_set(&a("global")) {
            return self.locker_loop();
        }
        self.select_node();
    }

    /// `select_node/1`.
    fn select_node(&mut self) {
        let use_remote = self.locker.local.is_empty();
        let known = self.locker.known.clone();
        let l = if use_remote {
            &mut self.locker.remote
        } else {
            &mut self.locker.local
        };
        l.retain(|h| !known.contains(&h.node));
        let others = l.clone();
        if others.is_empty() {
            return self.locker_loop();
        }
        let i = (self.rng.next_u64() % others.len() as u64) as usize;
        let him = others[i].clone();
        let lock_id = self.locker_lock_id(&him.locker);
        let extra = vec![him.node.clone()];
        self.lock_nodes_safely(Purpose::Select(him), lock_id, extra);
    }

    /// Starts `lock_nodes_safely(LockId, Extra, S)`.
    fn lock_nodes_safely(&mut self, purpose: Purpose, lock_id: Term, extra: Vec<String>) {
        let first: Vec<String> = vec![self.locker.the_boss.clone()];
        let ok = first == [self.me.clone()]
            || match lock_id.as_tuple() {
                Some([r, q]) => self.locks.can_set(r, q).is_some(),
                _ => false,
            };
        let mut job = Box::new(Locking {
            purpose,
            lock_id,
            extra,
            first,
            second: Vec::new(),
            stage: Stage::Boss,
            op: None,
            undo: None,
        });
        if !ok {
            return self.locking_done(job, false);
        }
        let step = self.set_lock_start(Role::Locker, &job.lock_id.clone(), &job.first.clone());
        self.locking_step(job.as_mut(), step);
        self.locking_continue(job);
    }

    fn locking_step(&mut self, job: &mut Locking, step: Step<SetLockOp, bool>) {
        match step {
            Step::Pending(op) => job.op = Some(op),
            Step::Done(ok) => {
                job.op = None;
                self.locking_advance(job, ok);
            }
        }
    }

    /// The set_lock of the current stage finished with `ok`.
    fn locking_advance(&mut self, job: &mut Locking, ok: bool) {
        let id = job.lock_id.clone();
        match (job.stage, ok) {
            (Stage::Boss, true) => {
                self.locker_drain_known();
                let mut second = vec![self.me.clone()];
                second.extend(job.extra.iter().cloned());
                second.retain(|n| !job.first.contains(n));
                job.second = second.clone();
                job.stage = Stage::Second;
                let step = self.set_lock_start(Role::Locker, &id, &second);
                self.locking_step(job, step);
            }
            (Stage::Second, true) => {
                job.stage = Stage::Known;
                let rest: Vec<String> = self
                    .locker
                    .known
                    .iter()
                    .filter(|n| !job.first.contains(n))
                    .cloned()
                    .collect();
                let step = self.set_lock_start(Role::Locker, &id, &rest);
                self.locking_step(job, step);
            }
            (Stage::Second, false) => {
                job.stage = Stage::Undo;
                job.undo = self.del_lock_start(Role::Locker, &id, &job.first.clone());
            }
            (Stage::Known, false) => {
                job.stage = Stage::Undo;
                let mut so_far = job.first.clone();
                so_far.extend(job.second.iter().cloned());
                job.undo = self.del_lock_start(Role::Locker, &id, &so_far);
            }
            (Stage::Known, true) | (Stage::Boss, false) | (Stage::Undo, _) => {}
        }
    }

    /// Decides whether the job is finished; stores it otherwise.
    fn locking_continue(&mut self, job: Box<Locking>) {
        if job.op.is_some() || job.undo.is_some() {
            self.locker.state = State::Locking(job);
            return;
        }
        let ok = job.stage == Stage::Known;
        self.locking_done(job, ok)
    }

    /// A reply or DOWN for the locker's multi_calls.
    fn locker_call_msg(&mut self, msg: &Term) -> bool {
        match std::mem::replace(&mut self.locker.state, State::Idle) {
            State::Locking(mut job) => {
                let used = if let Some(op) = job.op.take() {
                    let (used, step) = self.set_lock_msg(Role::Locker, op, msg);
                    self.locking_step(job.as_mut(), step);
                    used
                } else if let Some(mut call) = job.undo.take() {
                    let used = self.multicall_msg(Role::Locker, &mut call, msg);
                    if !call.done() {
                        job.undo = Some(call);
                    }
                    used
                } else {
                    false
                };
                self.locking_continue(job);
                used
            }
            State::Deleting {
                lock_id,
                boss,
                mut call,
                after,
            } => {
                let used = call
                    .as_mut()
                    .is_some_and(|c| self.multicall_msg(Role::Locker, c, msg));
                self.locker.state = State::Deleting {
                    lock_id,
                    boss,
                    call,
                    after,
                };
                self.deleting_progress();
                used
            }
            s => {
                self.locker.state = s;
                false
            }
        }
    }

    /// `lock_nodes_safely` returned `ok`.
    fn locking_done(&mut self, job: Box<Locking>, ok: bool) {
        let lock_id = job.lock_id;
        match job.purpose {
            Purpose::Select(him) => {
                if !ok {
                    return self.locker_loop();
                }
                let mut known1 = vec![self.me.clone(), him.node.clone()];
                known1.extend(self.locker.known.iter().cloned());
                self.send_lock_set(true, &him.locker, him.vsn, &him.his_tag);
                self.locker_wait_lock_set(him, known1, lock_id);
            }
            Purpose::Spontaneous {
                pid,
                node,
                my_tag,
                his_vsn,
                his_tag,
            } => {
                self.send_lock_set(ok, &pid, his_vsn, &his_tag);
                if !ok {
                    self.locker.just_synced = false;
                    return self.locker_loop();
                }
                let mut known2 = vec![self.me.clone()];
                known2.extend(self.locker.known.iter().cloned());
                self.internal.push_back(Internal::LockIsSet {
                    node: node.clone(),
                    tag: my_tag.clone(),
                    lock_id: lock_id.clone(),
                });
                let after = After::Synced(node.clone(), my_tag.clone());
                self.locker_wait_cancel(node, my_tag, lock_id, known2, after);
            }
        }
    }

    /// `send_lock_set/5`.
    fn send_lock_set(&mut self, set: bool, his_locker: &Pid, vsn: i64, his_tag: &Term) {
        let mut m = vec![
            a("lock_set"),
            Term::Pid(self.cfg.locker.clone()),
            crate::term::boolean(set),
            self.locker_known_term(),
        ];
        if vsn >= super::VERIFY_CONNECT_VSN {
            m.push(his_tag.clone());
        }
        let m = tuple(m);
        if vsn < 6 {
            self.emit(Output::Send {
                from: Role::Locker,
                to: Dest::Pid(his_locker.clone()),
                msg: m,
            });
        } else {
            let node = node_of(his_locker);
            self.cast_to(Role::Locker, &node, m);
        }
    }

    /// `lock_is_set/5`: selective receive of the peer's `lock_set` or a cancel.
    fn locker_wait_lock_set(&mut self, him: Him, known1: Vec<String>, lock_id: Term) {
        let mut i = 0;
        while i < self.locker.mailbox.len() {
            let m = self.locker.mailbox[i].clone();
            match m {
                LockerMsg::LockSet { pid, set, tag, .. } if node_of(&pid) == him.node => {
                    self.locker.mailbox.remove(i);
                    let current = tag.as_ref().is_none_or(|t| tag_eq(t, &him.my_tag));
                    if !current {
                        continue; // an old session's answer: dropped
                    }
                    if set {
                        self.internal.push_back(Internal::LockIsSet {
                            node: him.node.clone(),
                            tag: him.my_tag.clone(),
                            lock_id: lock_id.clone(),
                        });
                        let after = After::Synced(him.node.clone(), him.my_tag.clone());
                        return self
                            .locker_wait_cancel(him.node, him.my_tag, lock_id, known1, after);
                    }
                    return self.delete_global_lock(lock_id, &known1, After::Loop);
                }
                LockerMsg::Cancel {
                    node,
                    tag: Some(t),
                    fun,
                } if node == him.node && tag_eq(&t, &him.my_tag) => {
                    self.locker.mailbox.remove(i);
                    self.call_fun(fun);
                    return self.delete_global_lock(lock_id, &known1, After::RemoveNode(node, t));
                }
                _ => i += 1,
            }
        }
        self.locker.state = State::WaitLockSet {
            him,
            known1,
            lock_id,
        };
    }

    /// `wait_cancel_lock/6`.
    fn locker_wait_cancel(
        &mut self,
        node: String,
        my_tag: Term,
        lock_id: Term,
        known: Vec<String>,
        after: After,
    ) {
        let hit = self.locker.mailbox.iter().position(|m| {
            matches!(m, LockerMsg::Cancel { node: n, tag, .. } if *n == node && opt_tag_eq(tag.as_ref(), &my_tag))
        });
        match hit.and_then(|i| self.locker.mailbox.remove(i)) {
            Some(LockerMsg::Cancel { fun, .. }) => {
                self.call_fun(fun);
                self.delete_global_lock(lock_id, &known, after);
            }
            _ => {
                self.locker.state = State::WaitCancel {
                    node,
                    my_tag,
                    lock_id,
                    known,
                    after,
                }
            }
        }
    }

    /// `call_fun/1`: the `new_nodes` multicast of `resolved/5`, from the locker.
    fn call_fun(&mut self, fun: Option<NewNodesFun>) {
        let Some(f) = fun else { return };
        for (n, v) in f.targets {
            let m = if v >= super::PGPV_VSN {
                f.new_msg.clone()
            } else {
                f.old_msg.clone()
            };
            self.cast_to(Role::Locker, &n, m);
        }
    }

    /// `delete_global_lock/2`: everyone but the boss, then the boss.
    fn delete_global_lock(&mut self, lock_id: Term, nodes: &[String], after: After) {
        let boss = Self::the_boss(nodes);
        let rest: Vec<String> = nodes
            .iter()
            .filter(|n| Some(*n) != boss.as_ref())
            .cloned()
            .collect();
        let call = self.del_lock_start(Role::Locker, &lock_id, &rest);
        self.locker.state = State::Deleting {
            lock_id,
            boss,
            call,
            after,
        };
        self.deleting_progress();
    }

    fn deleting_progress(&mut self) {
        loop {
            let State::Deleting {
                lock_id,
                boss,
                call,
                after,
            } = std::mem::replace(&mut self.locker.state, State::Idle)
            else {
                return;
            };
            if call.as_ref().is_some_and(|c| !c.done()) {
                self.locker.state = State::Deleting {
                    lock_id,
                    boss,
                    call,
                    after,
                };
                return;
            }
            if let Some(b) = boss {
                let call = self.del_lock_start(Role::Locker, &lock_id, &[b]);
                self.locker.state = State::Deleting {
                    lock_id,
                    boss: None,
                    call,
                    after,
                };
                continue;
            }
            match after {
                After::Loop => {}
                After::RemoveNode(n, t) => self.locker.remove_node(&n, &t),
                After::Synced(n, t) => {
                    self.locker.just_synced = true;
                    self.locker.remove_node(&n, &t);
                }
            }
            return self.locker_loop();
        }
    }
}
