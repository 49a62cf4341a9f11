//! The requests of `supervisor.erl`'s `handle_call/3`: `start_child`,
//! `terminate_child`, `restart_child`, `delete_child`, `get_childspec`,
//! `which_children`, `count_children`, and the `#state{}` that
//! `sys:get_state/1` shows.

use super::{Child, ChildPid, Cmd, Core, Dyn, Job, Kind, Op, error_atom, find};
use crate::behaviours::supervisor::spec::{ChildData, ChildType, Restart};
use crate::term;
use crate::term::{Pid, Term, atom, int, list, map, tuple, uint};
use std::collections::VecDeque;

impl<F: Clone> Core<F> {
    /// `start_child(Sup, ChildSpec)` (not `simple_one_for_one`).
    pub(crate) fn start_child(&mut self, data: ChildData, start: F) -> Vec<Cmd<F>> {
        if let Some(i) = find(&self.children, &data.id) {
            let r = match &self.children[i].pid {
                ChildPid::Running(p) => term!({error, {already_started, (Term::Pid(p.clone()))}}),
                _ => term!({error, already_present}),
            };
            return vec![Cmd::Reply(r)];
        }
        let id = data.id.clone();
        self.children.push(Child {
            data,
            start,
            pid: ChildPid::Undefined,
        });
        self.run(Kind::StartChild, [Op::Start(id)].into())
    }

    /// `start_child(Sup, ExtraArgs)` of a `simple_one_for_one`.
    pub(crate) fn start_dynamic(&mut self, extra: Vec<Term>) -> Vec<Cmd<F>> {
        let t = &self.children[0];
        let mut mfa = t.data.mfa.clone();
        let mut args = mfa.args.clone().unwrap_or_default();
        args.extend(extra);
        mfa.args = Some(args.clone());
        self.job = Some(Job {
            kind: Kind::DynStart,
            ops: VecDeque::new(),
            current: Some(Op::StartDyn { args, old: None }),
        });
        vec![Cmd::Start {
            start: t.start.clone(),
            mfa,
        }]
    }

    /// `terminate_child(Sup, Id)`; `alive` tells whether a pid is alive
    /// (`find_child/2` of a `simple_one_for_one` asks).
    pub(crate) fn terminate_child(
        &mut self,
        id: &Term,
        alive: impl Fn(&Pid) -> bool,
    ) -> Vec<Cmd<F>> {
        let reply = |t: Term| vec![Cmd::Reply(t)];
        if self.is_simple() {
            let Term::Pid(p) = id else {
                return reply(error_atom("simple_one_for_one"));
            };
            if self
                .dynamics
                .iter()
                .any(|d| d.pid == ChildPid::Running(p.clone()))
            {
                self.job = Some(Job {
                    kind: Kind::TerminateChild,
                    ops: VecDeque::new(),
                    current: Some(Op::StopDyn),
                });
                return vec![Cmd::StopAll {
                    pids: vec![p.clone()],
                    shutdown: self.children[0].data.shutdown,
                }];
            }
            if let Some(d) = self
                .dynamics
                .iter()
                .position(|d| d.pid == ChildPid::Restarting(Some(p.clone())))
            {
                self.dynamics.remove(d);
                return reply(atom("ok"));
            }
            return reply(if alive(p) {
                error_atom("not_found")
            } else {
                atom("ok")
            });
        }
        match find(&self.children, id) {
            Some(_) => self.run(Kind::TerminateChild, [Op::Stop(id.clone())].into()),
            None => reply(error_atom("not_found")),
        }
    }

    /// `restart_child(Sup, Id)`.
    pub(crate) fn restart_child(&mut self, id: &Term) -> Vec<Cmd<F>> {
        if self.is_simple() {
            return vec![Cmd::Reply(error_atom("simple_one_for_one"))];
        }
        let r = match find(&self.children, id).map(|i| &self.children[i].pid) {
            Some(ChildPid::Undefined) => {
                return self.run(Kind::RestartChild, [Op::Start(id.clone())].into());
            }
            Some(ChildPid::Restarting(_)) => error_atom("restarting"),
            Some(ChildPid::Running(_)) => error_atom("running"),
            None => error_atom("not_found"),
        };
        vec![Cmd::Reply(r)]
    }

    /// `delete_child(Sup, Id)`.
    pub(crate) fn delete_child(&mut self, id: &Term) -> Term {
        if self.is_simple() {
            return error_atom("simple_one_for_one");
        }
        match find(&self.children, id) {
            Some(i) => match self.children[i].pid {
                ChildPid::Undefined => {
                    self.children.remove(i);
                    atom("ok")
                }
                ChildPid::Restarting(_) => error_atom("restarting"),
                ChildPid::Running(_) => error_atom("running"),
            },
            None => error_atom("not_found"),
        }
    }

    /// `get_childspec(Sup, Id)`.
    pub(crate) fn get_childspec(&self, id: &Term, alive: impl Fn(&Pid) -> bool) -> Term {
        let found = if self.is_simple() {
            match id {
                Term::Pid(p)
                    if self.dynamics.iter().any(|d| {
                        d.pid == ChildPid::Running(p.clone())
                            || d.pid == ChildPid::Restarting(Some(p.clone()))
                    }) || !alive(p) =>
                {
                    Some(&self.children[0].data)
                }
                _ => None,
            }
        } else {
            find(&self.children, id).map(|i| &self.children[i].data)
        };
        match found {
            Some(d) => term!({ok, (d.to_spec_map())}),
            None => error_atom("not_found"),
        }
    }

    /// `which_children(Sup)`: `[{Id, Child, Type, Modules}]`, newest first.
    pub(crate) fn which_children(&self) -> Term {
        if self.is_simple() {
            let t = &self.children[0].data;
            let mut ds: Vec<&Dyn> = self.dynamics.iter().collect();
            ds.sort_by(|a, b| crate::term::cmp_terms(&a.pid.to_term(), &b.pid.to_term()));
            return list(
                ds.iter()
                    .map(|d| {
                        let child = match &d.pid {
                            ChildPid::Running(p) => Term::Pid(p.clone()),
                            _ => atom("restarting"),
                        };
                        term!({undefined, (child), (atom(t.child_type.as_str())), (t.modules.to_term())})
                    })
                    .collect(),
            );
        }
        list(
            self.children
                .iter()
                .rev()
                .map(|c| {
                    let child = match &c.pid {
                        ChildPid::Restarting(_) => atom("restarting"),
                        p => p.to_term(),
                    };
                    term!({(c.data.id.clone()), (child), (atom(c.data.child_type.as_str())), (c.data.modules.to_term())})
                })
                .collect(),
        )
    }

    /// `count_children(Sup)`.
    pub(crate) fn count_children(&self, alive: impl Fn(&Pid) -> bool) -> Term {
        let kv = |k: &str, v: usize| term!({(atom(k)), (uint(v as u64))});
        let (specs, active, sups, workers) = if self.is_simple() {
            let size = self.dynamics.len();
            let active = size.saturating_sub(self.dynamic_restarts as usize);
            let sup = self.children[0].data.child_type == ChildType::Supervisor;
            (
                1,
                active,
                if sup { size } else { 0 },
                if sup { 0 } else { size },
            )
        } else {
            let mut n = (0, 0, 0, 0);
            for c in &self.children {
                n.0 += 1;
                if matches!(&c.pid, ChildPid::Running(p) if alive(p)) {
                    n.1 += 1;
                }
                match c.data.child_type {
                    ChildType::Supervisor => n.2 += 1,
                    ChildType::Worker => n.3 += 1,
                }
            }
            n
        };
        list(vec![
            kv("specs", specs),
            kv("active", active),
            kv("supervisors", sups),
            kv("workers", workers),
        ])
    }

    /// The `#state{}` record `sys:get_state/1` shows (OTP 25–27 layout).
    pub(crate) fn state_term(&self, module: Term, args: Term) -> Term {
        let ids: Vec<Term> = self
            .children
            .iter()
            .rev()
            .map(|c| c.data.id.clone())
            .collect();
        let db = map(self
            .children
            .iter()
            .map(|c| (c.data.id.clone(), c.data.record(c.pid.to_term())))
            .collect());
        let dynamics = if self.is_simple() {
            let temporary = self.children[0].data.restart == Restart::Temporary;
            let entries = self
                .dynamics
                .iter()
                .map(|d| {
                    let v = if temporary {
                        crate::term::nil()
                    } else {
                        list(d.args.clone())
                    };
                    (d.pid.to_term(), v)
                })
                .collect();
            term!({(atom(if temporary { "mapsets" } else { "maps" })), (map(entries))})
        } else {
            atom("undefined")
        };
        tuple(vec![
            atom("state"),
            self.name.clone(),
            atom(self.flags.strategy.as_str()),
            term!({(list(ids)), (db)}),
            dynamics,
            uint(u64::from(self.flags.intensity)),
            uint(u64::from(self.flags.period)),
            list(self.restarts.iter().map(|r| int(*r)).collect()),
            uint(u64::from(self.dynamic_restarts)),
            atom(self.flags.auto_shutdown.as_str()),
            module,
            args,
        ])
    }
}
