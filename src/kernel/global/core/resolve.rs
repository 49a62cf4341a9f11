//! Name conflict resolution — mirrors `resolver/2`, `exchange_names/4`,
//! `resolve_it/4` and the three standard resolvers `random_exit_name/3`,
//! `random_notify_name/3`, `notify_all_name/3` of
//! `lib/kernel/src/global.erl`.
//!
//! During a connect-sync each side's resolver compares the peer's names
//! with its own. For a name held by different pids only the side with the
//! *smaller* node name resolves, by running the method of its own
//! registration on the node of its own pid (`rpc:call(Node2, global,
//! resolve_it, [Method2, Name, Pid, Pid2])`). Methods travel as funs: the
//! default is the local fun `fun random_exit_name/3` of module `global`
//! (`NEW_FUN_EXT`); users may pass external funs (`EXPORT_EXT`). This
//! crate recognises the three standard resolvers by behaviour; any other
//! fun cannot run here and is treated as `random_exit_name/3`.

use super::{GlobalCore, Internal, Output, Role, a, node_of};
use crate::runtime::Dest;
use crate::term;
use crate::term::{Atom, InternalFun, Pid, Term, TermExt, cmp_atoms};
use std::collections::VecDeque;

/// A resolve method recognised from its fun term.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// `global:random_exit_name/3`: keep the pid on the smaller node, kill the other.
    RandomExit,
    /// `global:random_notify_name/3`: keep the pid on the smaller node,
    /// send `{global_name_conflict, Name}` to the other.
    RandomNotify,
    /// `global:notify_all_name/3`: unregister the name, send
    /// `{global_name_conflict, Name, OtherPid}` to both.
    NotifyAll,
    /// Anything else (a user fun this node cannot run).
    Unknown,
}

impl Method {
    /// Recognises a method term: `fun global:F/3` (`EXPORT_EXT`), the local
    /// fun of module `global` with arity 3 and no free variables (the only
    /// such fun in `global.erl` is `fun random_exit_name/3`), or a legacy
    /// `{global, F}` tuple (`allow_tuple_fun/1`).
    pub fn of(t: &Term) -> Self {
        let by_name = |m: &str, f: &str| match (m, f) {
            ("global", "random_exit_name") => Self::RandomExit,
            ("global", "random_notify_name") => Self::RandomNotify,
            ("global", "notify_all_name") => Self::NotifyAll,
            _ => Self::Unknown,
        };
        match t {
            Term::ExternalFun(f) if f.arity == 3 => by_name(&f.module.name, &f.function.name),
            Term::InternalFun(f) => match &**f {
                InternalFun::New {
                    module,
                    arity: 3,
                    free_vars,
                    ..
                } if module.name == "global" && free_vars.is_empty() => Self::RandomExit,
                _ => Self::Unknown,
            },
            Term::Tuple(tp) => match tp.elements.as_slice() {
                [Term::Atom(m), Term::Atom(f)] => by_name(&m.name, &f.name),
                _ => Self::Unknown,
            },
            _ => Self::Unknown,
        }
    }

    /// The external fun `fun global:F/3` for a standard method.
    pub fn to_fun(self) -> Term {
        let f = match self {
            Self::RandomExit | Self::Unknown => "random_exit_name",
            Self::RandomNotify => "random_notify_name",
            Self::NotifyAll => "notify_all_name",
        };
        Term::ExternalFun(Box::new(crate::term::ExternalFun {
            module: Atom::from("global"),
            function: Atom::from(f),
            arity: 3,
        }))
    }
}

/// A side effect of a resolver.
#[derive(Debug, Clone, PartialEq)]
pub enum ResolveEffect {
    /// `exit(Pid, kill)`.
    Kill(Pid),
    /// `Pid ! Msg`.
    Send(Pid, Term),
}

/// What `resolve_it/4` returns, and what it did.
#[derive(Debug, Clone, PartialEq)]
pub struct ResolveOutcome {
    /// The pid to keep, or `none`.
    pub result: Term,
    /// Kills and notifications to carry out.
    pub effects: Vec<ResolveEffect>,
}

/// `minmax/2`: the pid on the smaller node first.
fn minmax(p1: &Pid, p2: &Pid) -> (Pid, Pid) {
    if cmp_atoms(&p1.node, &p2.node) == std::cmp::Ordering::Less {
        (p1.clone(), p2.clone())
    } else {
        (p2.clone(), p1.clone())
    }
}

/// `global:resolve_it(Method, Name, Pid1, Pid2)` by behaviour.
pub fn resolve_it(method: &Term, name: &Term, pid1: &Pid, pid2: &Pid) -> ResolveOutcome {
    let m = Method::of(method);
    if m == Method::Unknown {
        tracing::warn!(
            "global: cannot run resolve method {} for {} here; using random_exit_name/3",
            crate::term::Pretty(method),
            crate::term::Pretty(name)
        );
    }
    match m {
        Method::RandomExit | Method::Unknown => {
            let (min, max) = minmax(pid1, pid2);
            tracing::info!(
                "global: Name conflict terminating {}",
                crate::term::Pretty(&term!({(name.clone()), (Term::Pid(max.clone()))}))
            );
            ResolveOutcome {
                result: Term::Pid(min),
                effects: vec![ResolveEffect::Kill(max)],
            }
        }
        Method::RandomNotify => {
            let (min, max) = minmax(pid1, pid2);
            ResolveOutcome {
                result: Term::Pid(min),
                effects: vec![ResolveEffect::Send(
                    max,
                    term!({(a("global_name_conflict")), (name.clone())}),
                )],
            }
        }
        Method::NotifyAll => ResolveOutcome {
            result: a("none"),
            effects: vec![
                ResolveEffect::Send(
                    pid1.clone(),
                    term!({(a("global_name_conflict")), (name.clone()), (Term::Pid(pid2.clone()))}),
                ),
                ResolveEffect::Send(
                    pid2.clone(),
                    term!({(a("global_name_conflict")), (name.clone()), (Term::Pid(pid1.clone()))}),
                ),
            ],
        },
    }
}

/// A conflict waiting for an rpc result.
#[derive(Debug, Clone)]
struct Conflict {
    token: u64,
    name: Term,
    pid: Pid,
    method: Term,
    pid2: Pid,
    method2: Term,
}

#[derive(Debug, Clone)]
enum ResolverState {
    /// Waiting for `{resolve, NameList, Node}`.
    Waiting,
    /// Running `exchange_names/4`.
    Running {
        remaining: VecDeque<Term>,
        ops: Vec<Term>,
        res: Vec<Term>,
        waiting: Option<Box<Conflict>>,
    },
    /// Sent `exchange_ops` and exited.
    Exited,
}

/// A resolver for one connect-sync session (`{Node, MyTag, Resolver}`).
#[derive(Debug, Clone)]
pub(super) struct Resolver {
    pub(super) node: String,
    pub(super) tag: Term,
    state: ResolverState,
}

impl Resolver {
    pub(super) fn new(node: String, tag: Term) -> Self {
        Self {
            node,
            tag,
            state: ResolverState::Waiting,
        }
    }
}

impl GlobalCore {
    /// `Resolver ! {resolve, NameList, Node}`.
    pub(super) fn resolver_start(&mut self, node: &str, names: Vec<Term>) {
        let Some(r) = self.resolvers.iter_mut().find(|r| r.node == node) else {
            return;
        };
        if !matches!(r.state, ResolverState::Waiting) {
            return;
        }
        r.state = ResolverState::Running {
            remaining: names.into(),
            ops: Vec::new(),
            res: Vec::new(),
            waiting: None,
        };
        self.resolver_run(node);
    }

    /// Runs `exchange_names/4` until it needs an rpc result or is done.
    fn resolver_run(&mut self, node: &str) {
        loop {
            let Some(i) = self.resolvers.iter().position(|r| r.node == node) else {
                return;
            };
            let ResolverState::Running {
                remaining, waiting, ..
            } = &mut self.resolvers[i].state
            else {
                return;
            };
            if waiting.is_some() {
                return;
            }
            let Some(item) = remaining.pop_front() else {
                let r = &mut self.resolvers[i];
                let ResolverState::Running { ops, res, .. } =
                    std::mem::replace(&mut r.state, ResolverState::Exited)
                else {
                    return;
                };
                self.internal.push_back(Internal::ExchangeOps {
                    node: r.node.clone(),
                    tag: r.tag.clone(),
                    ops,
                    resolved: res,
                });
                return;
            };
            let Some([name, Term::Pid(pid), method]) = item.as_tuple() else {
                continue;
            };
            let (name, pid, method) = (name.clone(), pid.clone(), method.clone());
            let insert_his = term!({(a("insert")), {(name.clone()), (Term::Pid(pid.clone())), (method.clone())}});
            let mine = self.names.get(&name).cloned();
            match mine {
                Some(e) if e.pid == pid => {}
                Some(e) if self.me.as_str() < node => {
                    // Name clash: resolve on the node of our pid.
                    let node2 = node_of(&e.pid);
                    if node2 == self.me {
                        let out = resolve_it(&e.method, &name, &pid, &e.pid);
                        self.apply_effects(out.effects);
                        self.resolver_apply(i, &name, &pid, &method, &e.pid, &e.method, out.result);
                    } else {
                        let token = self.new_token();
                        self.emit(Output::Rpc {
                            token,
                            node: Atom::from(node2.as_str()),
                            module: Atom::from("global"),
                            function: Atom::from("resolve_it"),
                            args: vec![
                                e.method.clone(),
                                name.clone(),
                                Term::Pid(pid.clone()),
                                Term::Pid(e.pid.clone()),
                            ],
                        });
                        if let ResolverState::Running { waiting, .. } = &mut self.resolvers[i].state
                        {
                            *waiting = Some(Box::new(Conflict {
                                token,
                                name,
                                pid,
                                method,
                                pid2: e.pid.clone(),
                                method2: e.method.clone(),
                            }));
                        }
                        return;
                    }
                }
                // The other node resolves.
                Some(_) => {}
                None => {
                    if let ResolverState::Running { ops, .. } = &mut self.resolvers[i].state {
                        ops.insert(0, insert_his);
                    }
                }
            }
        }
    }

    /// The result of `resolve_it` for one conflict (`exchange_names/4`'s case).
    #[allow(clippy::too_many_arguments)]
    fn resolver_apply(
        &mut self,
        i: usize,
        name: &Term,
        pid: &Pid,
        method: &Term,
        pid2: &Pid,
        method2: &Term,
        result: Term,
    ) {
        let ResolverState::Running { ops, res, .. } = &mut self.resolvers[i].state else {
            return;
        };
        let insert = |p: &Pid, m: &Term| term!({(a("insert")), {(name.clone()), (Term::Pid(p.clone())), (m.clone())}});
        let delete = term!({(a("delete")), (name.clone())});
        match &result {
            Term::Pid(p) if p == pid => ops.insert(0, insert(pid, method)),
            Term::Pid(p) if p == pid2 => res.insert(0, insert(pid2, method2)),
            Term::Atom(x) if x.name == "none" => {
                ops.insert(0, delete.clone());
                res.insert(0, delete);
            }
            t if t.tuple_tag() == Some("badrpc") => {
                tracing::info!(
                    "global: badrpc {} received when conflicting name {} was found",
                    crate::term::Pretty(t.elem(1).unwrap_or(t)),
                    crate::term::Pretty(name)
                );
                ops.insert(0, insert(pid, method));
            }
            other => {
                tracing::info!(
                    "global: Resolve method {} for conflicting name {} returned {}",
                    crate::term::Pretty(method),
                    crate::term::Pretty(name),
                    crate::term::Pretty(other)
                );
                ops.insert(0, delete.clone());
                res.insert(0, delete);
            }
        }
    }

    pub(super) fn resolver_rpc_result(&mut self, token: u64, result: Term) {
        let Some(i) = self.resolvers.iter().position(|r| {
            matches!(&r.state, ResolverState::Running { waiting: Some(c), .. } if c.token == token)
        }) else {
            return;
        };
        let ResolverState::Running { waiting, .. } = &mut self.resolvers[i].state else {
            return;
        };
        let Some(c) = waiting.take() else { return };
        self.resolver_apply(i, &c.name, &c.pid, &c.method, &c.pid2, &c.method2, result);
        let node = self.resolvers[i].node.clone();
        self.resolver_run(&node);
        self.run_internal();
    }

    /// Carries out a local `resolve_it`'s kills and notifications.
    pub(super) fn apply_effects(&mut self, effects: Vec<ResolveEffect>) {
        for e in effects {
            match e {
                ResolveEffect::Kill(pid) => self.emit(Output::Kill { pid }),
                ResolveEffect::Send(pid, msg) => self.emit(Output::Send {
                    from: Role::Server,
                    to: Dest::Pid(pid),
                    msg,
                }),
            }
        }
    }
}
