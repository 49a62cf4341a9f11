//! Where an application runs — `start_appl/3`, `start_distributed/6`,
//! `find_start_node/4,5`, `find_any_node/5`, `collect_answers/4`,
//! `wait_dist_start/7` and `wait_dist_start2/6` of
//! [`dist_ac.erl`](https://github.com/erlang/otp/blob/OTP-25.2.3/lib/kernel/src/dist_ac.erl)
//! (lines 779–1151), with each nested `receive` turned into a
//! [`DecisionWait`] state.
//!
//! Walk of the priority list (`dist_ac.erl`, `find_start_node/4`): a plain node entry that is
//! permitted wins; for a tuple of equal-priority nodes, if none of them
//! already runs the app, every permitted node sends its weight (number of
//! running applications) to the others and collects theirs, and all of them
//! pick the first alive member of `lists:sort([{Weight, Node}])`: the
//! lightest node, ties to the smaller name, as real OTP 25 nodes do
//! (checked against BEAM in `tests/integration/dist_ac.rs`).

use super::core::{Consumed, DistAc, Mail, Output, Wait};
use super::msg::{ApplId, ChangeReq, DacMsg, NodeName, NodeSpec, NodesSpec, StartReply, ToAc};
use crate::term;
use crate::term::{Atom, Term, TermExt, atom, cmp_atoms};

/// `Type` of `start_appl/3`: who asked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StartType {
    /// `reply`: answering the AC's `ac_start_application_req`.
    Reply,
    /// `req`: dist_ac's own initiative (failover, permission, ...).
    Req,
}

/// What the handler that called `start_appl/3` does with its result.
#[derive(Debug, Clone)]
pub enum After {
    /// `ac_start_application_req`: answer errors to the AC, then
    /// `global:del_lock({dist_ac, self()})` on all nodes.
    StartReq,
    /// `restart_appl/2` (`internal_restart_appl` timer): errors are logged.
    Restart,
    /// `dist_ac_new_permission` with `false`: errors are ignored.
    Ignore,
    /// `permit/6` with `true`.
    PermitTrue {
        /// The caller.
        call: u64,
        /// `{dist_ac, CallerPid}`.
        lock_id: Term,
        /// `S` as it was: `{ok, _S, false}` replies with the old state.
        before: Box<DistAc>,
    },
}

/// The context of one `start_appl/3`.
#[derive(Debug, Clone)]
pub struct Start {
    /// The application.
    pub app: Atom,
    /// `reply` or `req`.
    pub typ: StartType,
    /// What follows.
    pub after: After,
    /// `Appl#appl.id` when the decision began.
    pub id0: ApplId,
    /// `Nodes` of the record.
    pub nodes: NodesSpec,
    /// Nodes loaded and permitted.
    pub permitted: Vec<NodeName>,
    /// `S#state.tmp_locals` as this (possibly retried) decision sees it.
    pub tmp_locals: Vec<(Atom, i64, NodeName)>,
    /// `Weight` of `find_start_node/4`: read once per `start_distributed/6`.
    pub weight: i64,
}

/// A start decision blocked in a receive.
#[derive(Debug, Clone)]
pub enum DecisionWait {
    /// `collect_answers/4`: waiting for the `dist_ac_weight` of `pending[0]`.
    CollectingWeights {
        /// The decision.
        start: Box<Start>,
        /// Index of the priority-list entry after this tuple.
        next_entry: usize,
        /// Members of the tuple.
        any_nodes: Vec<NodeName>,
        /// Nodes still to hear from, in order.
        pending: Vec<NodeName>,
        /// `[{Weight, Node}]` so far (ours first).
        answers: Vec<(i64, NodeName)>,
    },
    /// `wait_dist_start/7`: `node` was chosen; wait for its `dist_ac_app_started`.
    WaitDistStart {
        /// The decision.
        start: Box<Start>,
        /// The chosen node.
        node: NodeName,
    },
    /// `wait_dist_start2/6`: we may not run it; wait for anyone's start.
    WaitDistStart2 {
        /// The decision.
        start: Box<Start>,
    },
}

impl DecisionWait {
    /// The node a `monitor_node/2` is set on.
    pub(super) fn monitored_node(&self) -> Option<NodeName> {
        match self {
            Self::CollectingWeights { pending, .. } => pending.first().cloned(),
            Self::WaitDistStart { node, .. } => Some(node.clone()),
            Self::WaitDistStart2 { .. } => None,
        }
    }

    /// The application being decided.
    pub fn app(&self) -> &Atom {
        match self {
            Self::CollectingWeights { start, .. }
            | Self::WaitDistStart { start, .. }
            | Self::WaitDistStart2 { start } => &start.app,
        }
    }
}

/// Result of `find_start_node/4`.
#[derive(Debug)]
enum Found {
    Ok(NodeName),
    AlreadyStarted(NodeName),
    NotStarted,
    NoPermission,
}

/// Erlang order of `{Weight, Node}`.
fn cmp_answer(a: &(i64, NodeName), b: &(i64, NodeName)) -> std::cmp::Ordering {
    a.0.cmp(&b.0).then_with(|| cmp_atoms(&a.1, &b.1))
}

fn is_error_tuple(t: &Term) -> Option<&Term> {
    match t.as_tuple() {
        Some([e, r]) if e.as_atom() == Some("error") => Some(r),
        _ => None,
    }
}

impl DistAc {
    /// `start_appl(AppName, S, Type)`.
    pub(super) fn start_appl(&mut self, app: Atom, typ: StartType, after: After) {
        let Some(appl) = self.appls.iter().find(|a| a.name == app).cloned() else {
            let r = term!({unknown_application, (Term::Atom(app.clone()))});
            return self.start_failed(app, after, r);
        };
        if appl.id == ApplId::Local {
            // Already started (a resent ac_start_application_req).
            return self.start_done(app, after, false);
        }
        // dist_get_all_nodes/1
        let mut permitted = Vec::new();
        let mut bad = Vec::new();
        for (n, p) in &appl.run {
            match p {
                super::msg::Perm::True => permitted.insert(0, n.clone()),
                super::msg::Perm::Undefined => bad.insert(0, n.clone()),
                super::msg::Perm::False => {}
            }
        }
        if bad.iter().any(|n| self.connected.contains(n)) {
            let r = term!({app_not_loaded, (Term::Atom(app.clone())), (super::sync::atoms(&bad))});
            return self.start_failed(app, after, r);
        }
        let start = Start {
            app,
            typ,
            after,
            id0: appl.id.clone(),
            nodes: appl.nodes.clone(),
            permitted,
            tmp_locals: self.tmp_locals.clone(),
            weight: 0,
        };
        self.start_distributed(start);
    }

    fn start_failed(&mut self, app: Atom, after: After, reason: Term) {
        match after {
            After::StartReq => {
                self.tell_ac(ToAc::StartReply(app, StartReply::Error(reason)));
                self.unlock_start();
            }
            After::Restart => tracing::error!(
                "dist_ac on node {}:\nError when restarting application {}: {}",
                self.me.name,
                app.name,
                crate::term::Pretty(&reason)
            ),
            After::Ignore => {}
            After::PermitTrue { call, .. } => {
                self.reply(call, term!({error, (reason.clone())}));
                self.stop(reason);
            }
        }
    }

    /// `global:del_lock({dist_ac, self()})` at the end of `ac_start_application_req`.
    fn unlock_start(&mut self) {
        self.emit(Output::DelLock {
            id: term!({dist_ac, (self.self_pid.clone())}),
            nodes: self.all_nodes(),
        });
        self.wait = Some(Wait::Unlock {
            then: Box::new(super::core::AfterUnlock::Nothing),
        });
    }

    /// `start_distributed/6`.
    fn start_distributed(&mut self, mut start: Start) {
        let all = intersection(&start.nodes.flat(), &start.permitted);
        if all.contains(&self.me) {
            start.weight = self.cached_weight(&start.app);
            self.walk(start, 0, all);
        } else {
            let found = match self.first_started(&start.app) {
                Some(n) => Found::AlreadyStarted(n),
                None if !all.is_empty() => Found::NotStarted,
                None => Found::NoPermission,
            };
            self.on_found(start, found);
        }
    }

    /// `keysearch(Name, 2, S#state.remote_started)`: the first entry's node.
    fn first_started(&self, app: &Atom) -> Option<NodeName> {
        self.remote_started
            .iter()
            .find(|(_, a)| a == app)
            .map(|(n, _)| n.clone())
    }

    /// `find_start_node/5` from entry `idx` of the priority list.
    fn walk(&mut self, start: Start, mut idx: usize, all: Vec<NodeName>) {
        while let Some(entry) = start.nodes.0.get(idx).cloned() {
            idx += 1;
            match entry {
                NodeSpec::Any(members) => {
                    // find_any_node/5
                    let here = intersection(&members, &all);
                    if let Some(n) = self.check_running(&start.app, &here) {
                        return self.on_found(start, Found::AlreadyStarted(n));
                    }
                    let weight = start.weight;
                    let msg = DacMsg::Weight {
                        app: start.app.clone(),
                        weight,
                        node: self.me.clone(),
                    };
                    let mut targets = all.clone();
                    targets.reverse(); // send_nodes/2 goes through flat_nodes/1
                    self.send_all(&targets, &msg);
                    let pending: Vec<NodeName> =
                        all.iter().filter(|n| **n != self.me).cloned().collect();
                    let answers = vec![(weight, self.me.clone())];
                    return self.collect(start, idx, members, pending, answers, all);
                }
                NodeSpec::One(n) => {
                    if !all.contains(&n) {
                        continue;
                    }
                    let id = self
                        .appls
                        .iter()
                        .find(|a| a.name == start.app)
                        .map(|a| &a.id);
                    let found = if id == Some(&ApplId::Distributed(n.clone()))
                        || self.first_started(&start.app).as_ref() == Some(&n)
                    {
                        Found::AlreadyStarted(n)
                    } else {
                        Found::Ok(n)
                    };
                    return self.on_found(start, found);
                }
            }
        }
        self.on_found(start, Found::NotStarted);
    }

    /// `check_running/3`.
    fn check_running(&self, app: &Atom, any: &[NodeName]) -> Option<NodeName> {
        match self.first_started(app) {
            Some(n) => any.contains(&n).then_some(n),
            None => match self.appls.iter().find(|a| a.name == *app).map(|a| &a.id) {
                Some(ApplId::Distributed(n)) if any.contains(n) => Some(n.clone()),
                _ => None,
            },
        }
    }

    /// `collect_answers/4`: buffered weights first, then a receive per node.
    fn collect(
        &mut self,
        start: Start,
        next_entry: usize,
        any_nodes: Vec<NodeName>,
        mut pending: Vec<NodeName>,
        mut answers: Vec<(i64, NodeName)>,
        all: Vec<NodeName>,
    ) {
        while let Some(n) = pending.first().cloned() {
            // keysearch(Node, 3, TmpLocals) must also be about this app.
            match start.tmp_locals.iter().find(|(_, _, node)| *node == n) {
                Some((a, w, _)) if *a == start.app => {
                    answers.push((*w, n));
                    pending.remove(0);
                }
                _ => {
                    tracing::debug!(node = %self.me.name, app = %start.app.name, ?pending, "dist_ac: waiting for weights");
                    return self.block(Wait::Deciding(Box::new(DecisionWait::CollectingWeights {
                        start: Box::new(start),
                        next_entry,
                        any_nodes,
                        pending,
                        answers,
                    })));
                }
            }
        }
        // find_alive_node(lists:sort(Answers), intersection(AnyNodes, Known))
        answers.sort_by(cmp_answer);
        let alive = intersection(&any_nodes, &self.known);
        match answers.into_iter().find(|(_, n)| alive.contains(n)) {
            Some((_, n)) => self.on_found(start, Found::Ok(n)),
            None => self.walk(start, next_entry, all),
        }
    }

    /// The rest of `start_distributed/6` once the node is known.
    fn on_found(&mut self, start: Start, found: Found) {
        let (app, typ) = (start.app.clone(), start.typ);
        tracing::debug!(node = %self.me.name, app = %app.name, ?typ, ?found, "dist_ac: start decision");
        match found {
            Found::Ok(n) if n == self.me => {
                let req = typ == StartType::Req;
                match &start.id0 {
                    ApplId::Failover(fo) if req => self.tell_ac(ToAc::ChangeReq(
                        app.clone(),
                        ChangeReq::Failover(fo.clone(), None),
                    )),
                    ApplId::Distributed(n2) if req => self.tell_ac(ToAc::ChangeReq(
                        app.clone(),
                        ChangeReq::Takeover(n2.clone(), None),
                    )),
                    _ if !req => match self.first_started(&app) {
                        Some(n3) => {
                            self.tell_ac(ToAc::StartReply(app.clone(), StartReply::Takeover(n3)))
                        }
                        None => self.tell_ac(ToAc::StartReply(app.clone(), StartReply::StartIt)),
                    },
                    _ => self.tell_ac(ToAc::ChangeReq(app.clone(), ChangeReq::StartIt)),
                }
                self.decided(start, ApplId::RunWaiting, true);
            }
            Found::AlreadyStarted(n) => {
                self.ac_started(typ, &app, &n);
                self.decided(start, ApplId::Distributed(n), false);
            }
            Found::Ok(n) => {
                let id = self
                    .appls
                    .iter()
                    .find(|a| a.name == app)
                    .map(|a| a.id.clone());
                if id == Some(ApplId::Distributed(n.clone())) {
                    self.ac_started(typ, &app, &n);
                    self.decided(start, ApplId::Distributed(n), false);
                } else {
                    self.block(Wait::Deciding(Box::new(DecisionWait::WaitDistStart {
                        start: Box::new(start),
                        node: n,
                    })));
                }
            }
            Found::NotStarted => {
                self.block(Wait::Deciding(Box::new(DecisionWait::WaitDistStart2 {
                    start: Box::new(start),
                })))
            }
            Found::NoPermission => {
                match typ {
                    StartType::Reply => {
                        self.tell_ac(ToAc::StartReply(app.clone(), StartReply::NotStarted))
                    }
                    StartType::Req => self.tell_ac(ToAc::ChangeReq(app.clone(), ChangeReq::StopIt)),
                }
                self.decided(start, ApplId::Undefined, false);
            }
        }
    }

    /// `ac_started/3`.
    pub(super) fn ac_started(&mut self, typ: StartType, app: &Atom, n: &NodeName) {
        match typ {
            StartType::Reply => self.tell_ac(ToAc::StartReply(
                app.clone(),
                StartReply::Started(n.clone()),
            )),
            StartType::Req => {
                self.tell_ac(ToAc::ChangeReq(app.clone(), ChangeReq::Started(n.clone())))
            }
        }
    }

    /// `ac_error/3` (only `reply` tells the AC).
    fn ac_error(&mut self, typ: StartType, app: &Atom, n: &NodeName, r: &Term) {
        if typ == StartType::Reply {
            let e = term!({(Term::Atom(n.clone())), (r.clone())});
            self.tell_ac(ToAc::StartReply(app.clone(), StartReply::Error(e)));
        }
    }

    /// A decision wait offered a message.
    pub(super) fn try_decision(&mut self, d: DecisionWait, m: &Mail) -> Consumed {
        match d {
            DecisionWait::CollectingWeights {
                start,
                next_entry,
                any_nodes,
                mut pending,
                mut answers,
            } => {
                let Some(n) = pending.first().cloned() else {
                    return Consumed::No;
                };
                let hit = match m {
                    Mail::Dac(DacMsg::Weight { app, weight, node })
                        if *app == start.app && *node == n =>
                    {
                        answers.push((*weight, n.clone()));
                        true
                    }
                    Mail::NodeDown(x) => *x == n,
                    _ => false,
                };
                if !hit {
                    self.wait = Some(Wait::Deciding(Box::new(DecisionWait::CollectingWeights {
                        start,
                        next_entry,
                        any_nodes,
                        pending,
                        answers,
                    })));
                    return Consumed::No;
                }
                pending.remove(0);
                let all = intersection(&start.nodes.flat(), &start.permitted);
                self.collect(*start, next_entry, any_nodes, pending, answers, all);
                Consumed::Yes
            }
            DecisionWait::WaitDistStart { start, node } => match m {
                Mail::Dac(DacMsg::AppStarted {
                    node: from,
                    app,
                    result,
                }) if *from == node && *app == start.app => match result {
                    Ok(()) => {
                        self.ac_started(start.typ, &start.app, &node);
                        self.decided(*start, ApplId::Distributed(node), false);
                        Consumed::Yes
                    }
                    Err(t) => match is_error_tuple(t) {
                        Some(r) => {
                            self.ac_error(start.typ, &start.app, &node, r);
                            let id0 = start.id0.clone();
                            self.decided(*start, id0, false);
                            Consumed::Yes
                        }
                        None => self.keep(DecisionWait::WaitDistStart { start, node }),
                    },
                },
                Mail::Dac(DacMsg::Weight {
                    app, node: from, ..
                }) if *app == start.app && *from == node => {
                    let w = self.cached_weight(&start.app);
                    let me = self.me.clone();
                    self.send(
                        &node,
                        DacMsg::Weight {
                            app: start.app.clone(),
                            weight: w,
                            node: me,
                        },
                    );
                    self.block(Wait::Deciding(Box::new(DecisionWait::WaitDistStart {
                        start,
                        node,
                    })));
                    Consumed::Yes
                }
                Mail::NodeDown(x) if *x == node => {
                    self.retry_without(*start, &node);
                    Consumed::Yes
                }
                _ => self.keep(DecisionWait::WaitDistStart { start, node }),
            },
            DecisionWait::WaitDistStart2 { start } => match m {
                Mail::Dac(DacMsg::AppStarted { node, app, result }) if *app == start.app => {
                    match result {
                        Ok(()) => {
                            self.ac_started(start.typ, &start.app, node);
                            self.decided(*start, ApplId::Distributed(node.clone()), false);
                            Consumed::Yes
                        }
                        Err(t) => match is_error_tuple(t) {
                            Some(r) => {
                                self.ac_error(start.typ, &start.app, node, r);
                                let id0 = start.id0.clone();
                                self.decided(*start, id0, false);
                                Consumed::Yes
                            }
                            None => self.keep(DecisionWait::WaitDistStart2 { start }),
                        },
                    }
                }
                // No monitor_node here: this takes the monitor_nodes copy.
                Mail::NodeDown(x) => {
                    self.retry_without(*start, x);
                    Consumed::Yes
                }
                _ => self.keep(DecisionWait::WaitDistStart2 { start }),
            },
        }
    }

    fn keep(&mut self, d: DecisionWait) -> Consumed {
        self.wait = Some(Wait::Deciding(Box::new(d)));
        Consumed::No
    }

    /// The `{nodedown, Node}` branches: decide again without that node.
    fn retry_without(&mut self, mut start: Start, node: &NodeName) {
        let app = start.app.clone();
        start
            .tmp_locals
            .retain(|(a, _, n)| !(n == node && *a == app));
        start.permitted.retain(|n| n != node);
        self.start_distributed(start);
    }

    /// The end of `start_appl/3` once `start_distributed/6` returned `{Id, IsWaiting}`.
    fn decided(&mut self, start: Start, id: ApplId, waiting: bool) {
        let app = start.app.clone();
        if let Some(a) = self.appl_mut(&app) {
            a.id = id;
        }
        self.tmp_locals.retain(|(a, _, _)| *a != app);
        self.tmp_weights.retain(|(a, _)| *a != app);
        self.remote_started.retain(|(_, a)| *a != app);
        if !self.started.contains(&app) {
            self.started.insert(0, app.clone());
        }
        self.start_done(app, start.after, waiting);
    }

    /// `start_appl/3` returned `{ok, NewS, IsWaiting}`: continue the caller.
    fn start_done(&mut self, app: Atom, after: After, waiting: bool) {
        match after {
            After::StartReq => self.unlock_start(),
            After::Restart | After::Ignore => {}
            After::PermitTrue {
                call,
                lock_id,
                before,
            } => {
                if waiting {
                    self.emit(Output::DelLock {
                        id: lock_id,
                        nodes: self.all_nodes(),
                    });
                    self.wait = Some(Wait::Unlock {
                        then: Box::new(super::core::AfterUnlock::TakeoverWaiter { app, call }),
                    });
                } else {
                    // {reply, ok, S}: the state before start_appl/3.
                    self.restore(*before);
                    self.reply(call, atom("ok"));
                }
            }
        }
    }

    /// Puts back the `#state{}` of a snapshot (not the process machinery).
    fn restore(&mut self, s: Self) {
        self.appls = s.appls;
        self.tmp_locals = s.tmp_locals;
        self.remote_started = s.remote_started;
        self.known = s.known;
        self.started = s.started;
        self.tmp_weights = s.tmp_weights;
        self.dist_loaded = s.dist_loaded;
        self.t_reqs = s.t_reqs;
        self.s_reqs = s.s_reqs;
        self.p_reqs = s.p_reqs;
    }
}

/// `intersection/2` (`L1 -- (L1 -- L2)`), keeping `a`'s order.
pub(super) fn intersection(a: &[NodeName], b: &[NodeName]) -> Vec<NodeName> {
    a.iter().filter(|x| b.contains(x)).cloned().collect()
}
