//! Global names — mirrors the name half of `lib/kernel/src/global.erl`:
//! the `global_names` / `global_names_ext` tables (`ins_name/6`,
//! `insert_global_name/6`, `lock_still_set/3`, `delete_global_name2/2`,
//! `del_name/2`, `do_ops/5`) and the registrar process
//! (`loop_the_registrar/0`, `trans_all_known/1`, `set_lock_known/2`,
//! `lock_on_known_nodes/3`, `delete_global_lock/2`).
//!
//! A registration takes `{global, Registrar}` on the boss, then on every
//! known node and this one, re-checks the known nodes, multi_calls
//! `{register, Name, Pid, Method}` (receivers keep the name only while the
//! caller holds the `global` lock), and releases the lock, boss last.

use super::locks::{MultiCall, SetLockOp, Step};
use super::{GlobalCore, Origin, Output, ReplyTo, Role, a};
use crate::term;
use crate::term::{Atom, Pid, Reference, Term, TermExt, list};
use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

/// A `global_names` row.
#[derive(Debug, Clone)]
pub(super) struct NameEntry {
    pub(super) pid: Pid,
    pub(super) method: Term,
    pub(super) mref: Reference,
}

/// `global_names` and `global_names_ext`.
#[derive(Debug, Clone, Default)]
pub(super) struct Names {
    table: HashMap<Term, NameEntry>,
    /// Name → (pid, registering node) of names registered by external (C) nodes.
    ext: HashMap<Term, (Pid, Atom)>,
}

impl Names {
    pub(super) fn get(&self, name: &Term) -> Option<&NameEntry> {
        self.table.get(name)
    }

    pub(super) fn list(&self) -> Vec<(Term, Pid)> {
        let mut v: Vec<_> = self
            .table
            .iter()
            .map(|(n, e)| (n.clone(), e.pid.clone()))
            .collect();
        v.sort_by(|x, y| crate::term::cmp_terms(&x.0, &y.0));
        v
    }

    /// `get_names/0`: `[{Name, Pid, Method}]`.
    pub(super) fn exchange_list(&self) -> Term {
        let mut v: Vec<_> = self.table.iter().collect();
        v.sort_by(|x, y| crate::term::cmp_terms(x.0, y.0));
        list(
            v.into_iter()
                .map(|(n, e)| term!({(n.clone()), (Term::Pid(e.pid.clone())), (e.method.clone())}))
                .collect(),
        )
    }

    /// `get_names_ext/0`: `[{Name, Pid, RegNode}]`.
    pub(super) fn ext_list(&self) -> Term {
        list(
            self.ext
                .iter()
                .map(|(n, (p, r))| {
                    term!({(n.clone()), (Term::Pid(p.clone())), (Term::Atom(r.clone()))})
                })
                .collect(),
        )
    }

    pub(super) fn insert_ext(&mut self, name: Term, pid: Pid, reg: Atom) {
        self.ext.insert(name, (pid, reg));
    }

    fn names_of(&self, pid: &Pid) -> Vec<Term> {
        self.table
            .iter()
            .filter(|(_, e)| e.pid == *pid)
            .map(|(n, _)| n.clone())
            .collect()
    }
}

/// What the registrar does under the `{global, Registrar}` lock (the `Fun` of
/// `register_name/3`, `re_register_name/3`, `unregister_name/1`).
#[derive(Debug, Clone, PartialEq)]
pub(super) enum RegAction {
    Register { name: Term, pid: Pid, method: Term },
    ReRegister { name: Term, pid: Pid, method: Term },
    Unregister { name: Term },
}

#[derive(Debug, Clone)]
struct RegJob {
    action: RegAction,
    reply: ReplyTo,
}

#[derive(Debug, Clone)]
enum RegState {
    Idle,
    /// `set_lock_on_nodes(Id, [Boss])`.
    LockBoss {
        job: RegJob,
        times: u32,
        known: Vec<String>,
        nodes: Vec<String>,
        boss: String,
        op: SetLockOp,
    },
    /// `lock_on_known_nodes(Id, Known, Nodes)`.
    LockAll {
        job: RegJob,
        times: u32,
        known: Vec<String>,
        nodes: Vec<String>,
        boss: String,
        op: SetLockOp,
    },
    /// `del_lock(Id, [Boss])` after the known nodes changed.
    UnlockBoss {
        job: RegJob,
        times: u32,
        call: MultiCall,
    },
    /// `random_sleep(Times)`.
    Sleeping {
        job: RegJob,
        times: u32,
        until: Instant,
    },
    /// `Fun(Nodes)`: the register/unregister multi_call.
    Applying {
        job: RegJob,
        nodes: Vec<String>,
        call: MultiCall,
        result: Term,
    },
    /// `delete_global_lock(Id, Nodes)`: all but the boss, then the boss.
    Unlocking {
        job: RegJob,
        boss: Option<String>,
        call: Option<MultiCall>,
        result: Term,
    },
}

/// The registrar: one `trans_all_known/1` at a time, in arrival order.
#[derive(Debug, Clone)]
pub(super) struct Registrar {
    queue: VecDeque<RegJob>,
    state: RegState,
}

impl Default for Registrar {
    fn default() -> Self {
        Self {
            queue: VecDeque::new(),
            state: RegState::Idle,
        }
    }
}

impl Registrar {
    pub(super) fn deadline(&self) -> Option<Instant> {
        match &self.state {
            RegState::Sleeping { until, .. } => Some(*until),
            _ => None,
        }
    }
}

impl GlobalCore {
    // ------------------------------------------------------------------
    // Name table (server side)
    // ------------------------------------------------------------------

    /// `ins_name/6`.
    pub(super) fn ins_name(
        &mut self,
        name: Term,
        pid: Pid,
        method: Term,
        from: Origin,
        extra: &[Term],
    ) {
        // delete_global_name_keep_pid/2
        if let Some(old) = self.names.table.get(&name).cloned() {
            self.forget_name_monitor(&name, &old);
        }
        // insert_global_name/6
        let r = self.new_ref();
        self.emit(Output::Monitor {
            role: Role::Server,
            target: super::Target::Pid(pid.clone()),
            reference: r.clone(),
        });
        self.names.table.insert(
            name.clone(),
            NameEntry {
                pid,
                method,
                mref: r,
            },
        );
        self.touch();
        if !self.lock_still_set(&from, extra) {
            // The node that took the lock went down and up again; the
            // message was delayed (global.erl insert_global_name/6).
            self.delete_global_name2(&name);
        }
    }

    /// `lock_still_set/3`.
    fn lock_still_set(&self, from: &Origin, extra: &[Term]) -> bool {
        match (self.locks.get(&a("global")), from) {
            (Some((_, holders)), Origin::Pid(p)) => holders.contains(&p),
            (Some((req, _)), Origin::Node) => {
                // {?GLOBAL_RID, LockId} = extra_info(lock, ExtraInfo)
                let lock = extra.iter().find_map(|t| match t.as_tuple() {
                    Some([k, v]) if k.as_atom() == Some("lock") => Some(v),
                    _ => None,
                });
                match lock.and_then(|l| l.as_tuple()) {
                    Some([g, id]) if g.as_atom() == Some("global") => id == req,
                    _ => false,
                }
            }
            (None, _) => !self.global_lock_down,
        }
    }

    fn forget_name_monitor(&mut self, name: &Term, e: &NameEntry) {
        self.emit(Output::Demonitor {
            role: Role::Server,
            reference: e.mref.clone(),
        });
        if let Some((p, _)) = self.names.ext.get(name) {
            if *p == e.pid {
                self.names.ext.remove(name);
            }
        }
        self.touch();
    }

    /// `delete_global_name2/2`.
    pub(super) fn delete_global_name2(&mut self, name: &Term) {
        if let Some(e) = self.names.table.remove(name) {
            self.forget_name_monitor(name, &e);
        }
    }

    /// `del_name/2`: the monitor of a registered process fired.
    pub(super) fn del_name_by_ref(&mut self, r: &Reference) {
        let hit = self
            .names
            .table
            .iter()
            .find(|(_, e)| e.mref == *r)
            .map(|(n, _)| n.clone());
        if let Some(n) = hit {
            self.delete_global_name2(&n);
        }
    }

    /// `do_ops/5`: apply `{insert, {Name, Pid, Method}}` / `{delete, Name}` ops.
    pub(super) fn do_ops(
        &mut self,
        ops: &[Term],
        conn_node: &str,
        names_ext: &Term,
        extra: &[Term],
    ) {
        let ext: Vec<(Term, Pid, Atom)> = names_ext
            .as_list()
            .map(|l| {
                l.iter()
                    .filter_map(|t| match t.as_tuple() {
                        Some([n, Term::Pid(p), Term::Atom(r)]) => {
                            Some((n.clone(), p.clone(), r.clone()))
                        }
                        _ => None,
                    })
                    .collect()
            })
            .unwrap_or_default();
        let inserts: Vec<(Term, Pid, Term)> = ops
            .iter()
            .filter_map(|op| match op.as_tuple() {
                Some([t, v]) if t.as_atom() == Some("insert") => match v.as_tuple() {
                    Some([n, Term::Pid(p), m]) => Some((n.clone(), p.clone(), m.clone())),
                    _ => None,
                },
                _ => None,
            })
            .collect();
        let _ = conn_node;
        let origin = Origin::Node;
        let mut xnames = Vec::new();
        for (n, p, m) in &inserts {
            if let Some((_, _, reg)) = ext.iter().find(|(en, ep, _)| en == n && ep == p) {
                xnames.push(n.clone());
                self.names.insert_ext(n.clone(), p.clone(), reg.clone());
                self.ins_name(n.clone(), p.clone(), m.clone(), origin.clone(), extra);
            }
        }
        for (n, p, m) in inserts {
            if !xnames.contains(&n) {
                self.ins_name(n, p, m, origin.clone(), extra);
            }
        }
        for op in ops {
            if let Some([t, n]) = op.as_tuple() {
                if t.as_atom() == Some("delete") {
                    self.delete_global_name2(n);
                }
            }
        }
    }

    /// `check_dupname/2`.
    fn check_dupname(&self, name: &Term, pid: &Pid) -> bool {
        let names = self.names.names_of(pid);
        if names.is_empty() {
            return true;
        }
        let mut all = vec![name.clone()];
        all.extend(names);
        tracing::error!(
            "global: {} registered under several names: {}",
            crate::term::Pretty(&Term::Pid(pid.clone())),
            crate::term::Pretty(&list(all))
        );
        false
    }

    // ------------------------------------------------------------------
    // The registrar
    // ------------------------------------------------------------------

    pub(super) fn registrar_enqueue(&mut self, action: RegAction, token: u64) {
        self.registrar.queue.push_back(RegJob {
            action,
            reply: ReplyTo::Api(token),
        });
        if matches!(self.registrar.state, RegState::Idle) {
            self.registrar_next();
        }
    }

    fn registrar_id(&self) -> Term {
        term!({(a("global")), (Term::Pid(self.cfg.registrar.clone()))})
    }

    fn registrar_next(&mut self) {
        if let Some(job) = self.registrar.queue.pop_front() {
            self.set_lock_known(job, 0);
        }
    }

    /// `set_lock_known(Id, Times)`.
    fn set_lock_known(&mut self, job: RegJob, times: u32) {
        let known: Vec<String> = self.known.keys().rev().cloned().collect();
        let mut nodes = vec![self.me.clone()];
        nodes.extend(known.iter().cloned());
        let boss = Self::the_boss(&nodes).unwrap_or_else(|| self.me.clone());
        let id = self.registrar_id();
        match self.set_lock_start(Role::Registrar, &id, std::slice::from_ref(&boss)) {
            Step::Done(r) => self.reg_boss_done(job, times, known, nodes, boss, r),
            Step::Pending(op) => {
                self.registrar.state = RegState::LockBoss {
                    job,
                    times,
                    known,
                    nodes,
                    boss,
                    op,
                }
            }
        }
    }

    fn reg_boss_done(
        &mut self,
        job: RegJob,
        times: u32,
        known: Vec<String>,
        nodes: Vec<String>,
        boss: String,
        ok: bool,
    ) {
        if !ok {
            return self.reg_sleep(job, times);
        }
        let id = self.registrar_id();
        match self.set_lock_start(Role::Registrar, &id, &nodes) {
            Step::Done(r) => self.reg_all_done(job, times, known, nodes, boss, r),
            Step::Pending(op) => {
                self.registrar.state = RegState::LockAll {
                    job,
                    times,
                    known,
                    nodes,
                    boss,
                    op,
                }
            }
        }
    }

    fn reg_all_done(
        &mut self,
        job: RegJob,
        times: u32,
        known: Vec<String>,
        nodes: Vec<String>,
        boss: String,
        ok: bool,
    ) {
        // (get_known() -- Known) =:= []
        if ok && self.known.keys().all(|k| known.contains(k)) {
            return self.reg_apply(job, nodes);
        }
        let id = self.registrar_id();
        match self.del_lock_start(Role::Registrar, &id, &[boss]) {
            None => self.reg_sleep(job, times),
            Some(call) => self.registrar.state = RegState::UnlockBoss { job, times, call },
        }
    }

    fn reg_sleep(&mut self, job: RegJob, times: u32) {
        let until = self.now + Duration::from_millis(self.random_sleep(times));
        self.registrar.state = RegState::Sleeping { job, times, until };
    }

    /// `Fun(Nodes)` of the registration functions.
    fn reg_apply(&mut self, job: RegJob, nodes: Vec<String>) {
        let (req, result) = match &job.action {
            RegAction::Register { name, pid, method } => {
                if self.names.get(name).is_none() && self.check_dupname(name, pid) {
                    let req = term!({(a("register")), (name.clone()), (Term::Pid(pid.clone())), (method.clone())});
                    (Some(req), a("yes"))
                } else {
                    (None, a("no"))
                }
            }
            RegAction::ReRegister { name, pid, method } => (
                Some(
                    term!({(a("register")), (name.clone()), (Term::Pid(pid.clone())), (method.clone())}),
                ),
                a("yes"),
            ),
            RegAction::Unregister { name } => {
                (Some(term!({(a("unregister")), (name.clone())})), a("ok"))
            }
        };
        match req {
            Some(req) => {
                let call = self.multicall(Role::Registrar, &nodes, req);
                if call.done() {
                    self.reg_unlock(job, nodes, result);
                } else {
                    self.registrar.state = RegState::Applying {
                        job,
                        nodes,
                        call,
                        result,
                    };
                }
            }
            None => self.reg_unlock(job, nodes, result),
        }
    }

    /// `delete_global_lock(Id, Nodes)`: everyone but the boss first.
    fn reg_unlock(&mut self, job: RegJob, nodes: Vec<String>, result: Term) {
        let boss = Self::the_boss(&nodes);
        let rest: Vec<String> = nodes
            .iter()
            .filter(|n| Some(*n) != boss.as_ref())
            .cloned()
            .collect();
        let id = self.registrar_id();
        let call = self.del_lock_start(Role::Registrar, &id, &rest);
        self.registrar.state = RegState::Unlocking {
            job,
            boss,
            call,
            result,
        };
        self.reg_unlock_progress();
    }

    fn reg_unlock_progress(&mut self) {
        loop {
            let RegState::Unlocking {
                job,
                boss,
                call,
                result,
            } = std::mem::replace(&mut self.registrar.state, RegState::Idle)
            else {
                return;
            };
            if call.as_ref().is_some_and(|c| !c.done()) {
                self.registrar.state = RegState::Unlocking {
                    job,
                    boss,
                    call,
                    result,
                };
                return;
            }
            match boss {
                Some(b) => {
                    let id = self.registrar_id();
                    let call = self.del_lock_start(Role::Registrar, &id, &[b]);
                    self.registrar.state = RegState::Unlocking {
                        job,
                        boss: None,
                        call,
                        result,
                    };
                }
                None => {
                    self.reply(job.reply, result);
                    self.registrar_next();
                    return;
                }
            }
        }
    }

    pub(super) fn registrar_timeout(&mut self) {
        if let RegState::Sleeping { until, .. } = &self.registrar.state {
            if *until <= self.now {
                if let RegState::Sleeping { job, times, .. } =
                    std::mem::replace(&mut self.registrar.state, RegState::Idle)
                {
                    self.set_lock_known(job, times + 1);
                }
            }
        }
    }

    /// A message to the registrar: replies and DOWNs of its multi_calls.
    pub(super) fn registrar_message(&mut self, msg: Term) {
        let state = std::mem::replace(&mut self.registrar.state, RegState::Idle);
        match state {
            RegState::LockBoss {
                job,
                times,
                known,
                nodes,
                boss,
                op,
            } => match self.set_lock_msg(Role::Registrar, op, &msg).1 {
                Step::Done(r) => self.reg_boss_done(job, times, known, nodes, boss, r),
                Step::Pending(op) => {
                    self.registrar.state = RegState::LockBoss {
                        job,
                        times,
                        known,
                        nodes,
                        boss,
                        op,
                    }
                }
            },
            RegState::LockAll {
                job,
                times,
                known,
                nodes,
                boss,
                op,
            } => match self.set_lock_msg(Role::Registrar, op, &msg).1 {
                Step::Done(r) => self.reg_all_done(job, times, known, nodes, boss, r),
                Step::Pending(op) => {
                    self.registrar.state = RegState::LockAll {
                        job,
                        times,
                        known,
                        nodes,
                        boss,
                        op,
                    }
                }
            },
            RegState::UnlockBoss {
                job,
                times,
                mut call,
            } => {
                self.multicall_msg(Role::Registrar, &mut call, &msg);
                if call.done() {
                    self.reg_sleep(job, times);
                } else {
                    self.registrar.state = RegState::UnlockBoss { job, times, call };
                }
            }
            RegState::Applying {
                job,
                nodes,
                mut call,
                result,
            } => {
                self.multicall_msg(Role::Registrar, &mut call, &msg);
                if call.done() {
                    self.reg_unlock(job, nodes, result);
                } else {
                    self.registrar.state = RegState::Applying {
                        job,
                        nodes,
                        call,
                        result,
                    };
                }
            }
            RegState::Unlocking {
                job,
                boss,
                mut call,
                result,
            } => {
                if let Some(c) = call.as_mut() {
                    self.multicall_msg(Role::Registrar, c, &msg);
                }
                self.registrar.state = RegState::Unlocking {
                    job,
                    boss,
                    call,
                    result,
                };
                self.reg_unlock_progress();
            }
            s @ (RegState::Idle | RegState::Sleeping { .. }) => {
                self.registrar.state = s;
                if msg.tuple_tag() != Some("EXIT") {
                    tracing::warn!(
                        "The global_name_server registrar process received an unexpected message:\n{}",
                        crate::term::Pretty(&msg)
                    );
                }
            }
        }
    }
}
