//! Global locks — mirrors the lock half of `lib/kernel/src/global.erl`:
//! the server side (`handle_set_lock/3`, `can_set_lock/1`, `insert_lock/4`,
//! `handle_del_lock/3`, `remove_lock/6`, `delete_lock/2`) and the client
//! side used by the locker and the registrar (`set_lock_on_nodes/2`,
//! `local_lock_check/2`, `check_replies/3`, `random_sleep/1`), on top of a
//! `gen_server:multi_call/3` to `global_name_server` on each node.
//!
//! Table: `ResourceId → {LockRequesterId, [{HolderPid, MonitorRef}]}`. A
//! request succeeds when the resource is free or held with the same
//! requester id (shared lock); it is re-entrant for a holder; each holder
//! is monitored and drops out on `DOWN` (also `noconnection`).

use super::{GlobalCore, Output, Role, a};
use crate::runtime::Dest;
use crate::term;
use crate::term::{Atom, Pid, Reference, Term, TermExt};
use std::collections::HashMap;

/// `random_sleep/1`'s bound in ms: 1/4 s the first time (`Times = 1`), doubling up to 8 s.
pub fn random_sleep_max(times: u32) -> u64 {
    if times > 5 {
        8000
    } else {
        ((1u64 << times) * 1000) / 8
    }
}

/// `check_replies/3`: `true` when every reply is `true`; otherwise the nodes
/// that said `true` (to release again with `del_lock`; none when there was
/// a single reply).
pub fn check_replies(replies: &[(Atom, Term)]) -> Result<(), Vec<Atom>> {
    if replies.iter().all(|(_, r)| r.as_atom() == Some("true")) {
        return Ok(());
    }
    if replies.len() == 1 {
        return Err(Vec::new());
    }
    Err(replies
        .iter()
        .filter(|(_, r)| r.as_atom() == Some("true"))
        .map(|(n, _)| n.clone())
        .collect())
}

#[derive(Debug, Clone)]
struct LockEntry {
    requester: Term,
    /// `[{Pid, Ref}]`, newest first.
    holders: Vec<(Pid, Reference)>,
}

/// The `global_locks` table.
#[derive(Debug, Clone, Default)]
pub(super) struct LockTable {
    locks: HashMap<Term, LockEntry>,
}

impl LockTable {
    /// `can_set_lock/1`: `Some(current holders)` when it may be set.
    pub(super) fn can_set(&self, resource: &Term, requester: &Term) -> Option<Vec<Pid>> {
        match self.locks.get(resource) {
            Some(e) if e.requester == *requester => {
                Some(e.holders.iter().map(|(p, _)| p.clone()).collect())
            }
            Some(_) => None,
            None => Some(Vec::new()),
        }
    }

    /// `is_lock_set/1`.
    pub(super) fn is_set(&self, resource: &Term) -> bool {
        self.locks.contains_key(resource)
    }

    /// Holders of `resource`, with its requester id.
    pub(super) fn get(&self, resource: &Term) -> Option<(&Term, Vec<&Pid>)> {
        self.locks
            .get(resource)
            .map(|e| (&e.requester, e.holders.iter().map(|(p, _)| p).collect()))
    }

    pub(super) fn list(&self) -> Vec<(Term, Term, Vec<Pid>)> {
        let mut v: Vec<_> = self
            .locks
            .iter()
            .map(|(r, e)| {
                (
                    r.clone(),
                    e.requester.clone(),
                    e.holders.iter().map(|(p, _)| p.clone()).collect(),
                )
            })
            .collect();
        v.sort_by(|x, y| crate::term::cmp_terms(&x.0, &y.0));
        v
    }
}

fn split_id(id: &Term) -> Option<(Term, Term)> {
    match id.as_tuple()? {
        [r, q] => Some((r.clone(), q.clone())),
        _ => None,
    }
}

/// A `gen_server:multi_call(Nodes, global_name_server, Request)` in flight
/// from one of global's processes: tag `{Ref, Node}`, a monitor by name on
/// each remote server, replies `{{Ref, Node}, Reply}`.
#[derive(Debug, Clone)]
pub(super) struct MultiCall {
    tag: Reference,
    /// Node → monitor reference, for nodes not yet answered.
    pending: Vec<(String, Reference)>,
    pub(super) replies: Vec<(Atom, Term)>,
    pub(super) bad: Vec<Atom>,
}

impl MultiCall {
    pub(super) fn done(&self) -> bool {
        self.pending.is_empty()
    }
}

/// `set_lock_on_nodes/2` in flight (one multi_call of `set_lock`, and if it
/// failed, one of `del_lock` to the nodes that said `true`).
#[derive(Debug, Clone)]
pub(super) enum SetLockOp {
    Setting { id: Term, call: MultiCall },
    Undoing { call: MultiCall },
}

/// Progress of an operation.
#[derive(Debug, Clone)]
pub(super) enum Step<T, R> {
    /// Still waiting for replies.
    Pending(T),
    /// Finished with this result.
    Done(R),
}

impl GlobalCore {
    // ------------------------------------------------------------------
    // Server side
    // ------------------------------------------------------------------

    /// `handle_set_lock/3`.
    pub(super) fn handle_set_lock(&mut self, id: &Term, pid: &Pid) -> bool {
        let Some((resource, requester)) = split_id(id) else {
            return false;
        };
        let Some(holders) = self.locks.can_set(&resource, &requester) else {
            return false;
        };
        if holders.contains(pid) {
            return true;
        }
        // insert_lock/4
        let r = self.new_ref();
        self.emit(Output::Monitor {
            role: Role::Server,
            target: super::Target::Pid(pid.clone()),
            reference: r.clone(),
        });
        let e = self.locks.locks.entry(resource).or_insert(LockEntry {
            requester,
            holders: Vec::new(),
        });
        e.holders.insert(0, (pid.clone(), r));
        self.touch();
        true
    }

    /// `handle_del_lock/3`: only the caller's hold goes.
    pub(super) fn handle_del_lock(&mut self, id: &Term, pid: &Pid) {
        let Some((resource, requester)) = split_id(id) else {
            return;
        };
        match self.locks.locks.get(&resource) {
            Some(e) if e.requester == requester => self.remove_lock(&resource, pid, false),
            _ => {}
        }
    }

    /// `remove_lock/6`.
    fn remove_lock(&mut self, resource: &Term, pid: &Pid, down: bool) {
        let Some(e) = self.locks.locks.get_mut(resource) else {
            return;
        };
        let Some(i) = e.holders.iter().position(|(p, _)| p == pid) else {
            return;
        };
        let (_, r) = e.holders.remove(i);
        let empty = e.holders.is_empty();
        if empty {
            self.locks.locks.remove(resource);
            if resource.as_atom() == Some("global") {
                self.global_lock_down = down;
            }
        }
        self.emit(Output::Demonitor {
            role: Role::Server,
            reference: r,
        });
        self.touch();
    }

    /// `delete_lock/2`: a holder's monitor fired.
    pub(super) fn delete_lock_by_ref(&mut self, r: &Reference) {
        let hits: Vec<(Term, Pid)> = self
            .locks
            .locks
            .iter()
            .flat_map(|(res, e)| {
                e.holders
                    .iter()
                    .filter(|(_, rr)| rr == r)
                    .map(move |(p, _)| (res.clone(), p.clone()))
            })
            .collect();
        for (res, pid) in hits {
            self.remove_lock(&res, &pid, true);
        }
    }

    // ------------------------------------------------------------------
    // Client side (locker, registrar)
    // ------------------------------------------------------------------

    /// Starts a multi_call from `role`. The local server's part is answered
    /// at once (it is this core); remote servers are monitored and called.
    pub(super) fn multicall(&mut self, role: Role, nodes: &[String], req: Term) -> MultiCall {
        let tag = self.new_ref();
        let mut mc = MultiCall {
            tag: tag.clone(),
            pending: Vec::new(),
            replies: Vec::new(),
            bad: Vec::new(),
        };
        let from = self.role_pid(role).clone();
        for n in nodes {
            if *n == self.me {
                let reply = self.local_call(&from, &req);
                mc.replies.push((Atom::from(n.as_str()), reply));
                continue;
            }
            let mref = self.new_ref();
            let node = Atom::from(n.as_str());
            self.emit(Output::Monitor {
                role,
                target: super::Target::Server(node.clone()),
                reference: mref.clone(),
            });
            let gen_from = term!({(Term::Pid(from.clone())), {(Term::Reference(Box::new(tag.clone()))), (Term::Atom(node.clone()))}});
            self.emit(Output::Send {
                from: role,
                to: Dest::Remote(Atom::from("global_name_server"), node),
                msg: term!({(a("$gen_call")), (gen_from), (req.clone())}),
            });
            mc.pending.push((n.clone(), mref));
        }
        mc
    }

    /// The local server's answer to a call from one of global's own processes.
    fn local_call(&mut self, from: &Pid, req: &Term) -> Term {
        match req.as_tuple() {
            Some([t, id]) if t.as_atom() == Some("set_lock") => {
                crate::term::boolean(self.handle_set_lock(id, from))
            }
            Some([t, id]) if t.as_atom() == Some("del_lock") => {
                self.handle_del_lock(id, from);
                a("true")
            }
            Some([t, name, Term::Pid(pid), method]) if t.as_atom() == Some("register") => {
                self.ins_name(
                    name.clone(),
                    pid.clone(),
                    method.clone(),
                    super::Origin::Pid(from.clone()),
                    &[],
                );
                a("yes")
            }
            Some([t, name]) if t.as_atom() == Some("unregister") => {
                self.delete_global_name2(name);
                a("ok")
            }
            _ => a("badarg"),
        }
    }

    /// Feeds a message to a multi_call; `true` if it was one of its replies or DOWNs.
    pub(super) fn multicall_msg(&mut self, role: Role, mc: &mut MultiCall, msg: &Term) -> bool {
        match msg.as_tuple() {
            Some([Term::Tuple(t), reply]) => {
                let [Term::Reference(r), Term::Atom(node)] = t.elements.as_slice() else {
                    return false;
                };
                if **r != mc.tag {
                    return false;
                }
                let Some(i) = mc.pending.iter().position(|(n, _)| *n == node.name) else {
                    return false;
                };
                let (_, mref) = mc.pending.remove(i);
                self.emit(Output::Demonitor {
                    role,
                    reference: mref,
                });
                mc.replies.push((node.clone(), reply.clone()));
                true
            }
            Some([d, Term::Reference(r), _, _, _]) if d.as_atom() == Some("DOWN") => {
                let Some(i) = mc.pending.iter().position(|(_, m)| *m == **r) else {
                    return false;
                };
                let (n, _) = mc.pending.remove(i);
                mc.bad.push(Atom::from(n.as_str()));
                true
            }
            _ => false,
        }
    }

    /// `local_lock_check/2`.
    fn local_lock_check(&self, id: &Term, nodes: &[String]) -> bool {
        if nodes.len() == 1 || !nodes.contains(&self.me) {
            return true;
        }
        split_id(id).is_some_and(|(r, q)| self.locks.can_set(&r, &q).is_some())
    }

    /// Starts `set_lock_on_nodes(Id, Nodes)` (also `set_lock(Id, Nodes, 0)`).
    pub(super) fn set_lock_start(
        &mut self,
        role: Role,
        id: &Term,
        nodes: &[String],
    ) -> Step<SetLockOp, bool> {
        if nodes.is_empty() {
            return Step::Done(true);
        }
        if !self.local_lock_check(id, nodes) {
            return Step::Done(false);
        }
        let call = self.multicall(role, nodes, term!({(a("set_lock")), (id.clone())}));
        self.set_lock_progress(
            role,
            SetLockOp::Setting {
                id: id.clone(),
                call,
            },
        )
    }

    /// Advances a `set_lock_on_nodes` whose multi_call may have completed.
    pub(super) fn set_lock_progress(&mut self, role: Role, op: SetLockOp) -> Step<SetLockOp, bool> {
        match op {
            SetLockOp::Setting { id, call } if call.done() => match check_replies(&call.replies) {
                Ok(()) => Step::Done(true),
                Err(trues) if trues.is_empty() && call.replies.len() <= 1 => Step::Done(false),
                Err(trues) => {
                    let nodes: Vec<String> = trues.into_iter().map(|n| n.name).collect();
                    let call = self.multicall(role, &nodes, term!({(a("del_lock")), (id)}));
                    if call.done() {
                        Step::Done(false)
                    } else {
                        Step::Pending(SetLockOp::Undoing { call })
                    }
                }
            },
            SetLockOp::Undoing { call } if call.done() => Step::Done(false),
            op => Step::Pending(op),
        }
    }

    /// Feeds a message to a `set_lock_on_nodes` in flight.
    pub(super) fn set_lock_msg(
        &mut self,
        role: Role,
        mut op: SetLockOp,
        msg: &Term,
    ) -> (bool, Step<SetLockOp, bool>) {
        let used = match &mut op {
            SetLockOp::Setting { call, .. } | SetLockOp::Undoing { call } => {
                self.multicall_msg(role, call, msg)
            }
        };
        (used, self.set_lock_progress(role, op))
    }

    /// Starts `del_lock(Id, Nodes)`; `None` when already done.
    pub(super) fn del_lock_start(
        &mut self,
        role: Role,
        id: &Term,
        nodes: &[String],
    ) -> Option<MultiCall> {
        let call = self.multicall(role, nodes, term!({(a("del_lock")), (id.clone())}));
        (!call.done()).then_some(call)
    }

    /// The max of node names (`the_boss/1`).
    pub(super) fn the_boss(nodes: &[String]) -> Option<String> {
        nodes.iter().max().cloned()
    }
}
