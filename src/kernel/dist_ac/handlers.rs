//! The main loop of dist_ac: `handle_info/2` and `handle_call/3` of
//! [`dist_ac.erl`](https://github.com/erlang/otp/blob/OTP-25.2.3/lib/kernel/src/dist_ac.erl)
//! (lines 296–707) and the helpers they use (`load/2`, `unload/2`,
//! `permit/6`, `req_del_node/3`, ...).

use super::core::{Call, CallId, DistAc, Mail, Output, Peer, PermitReq, TimerMsg, Wait};
use super::decide::{After, StartType};
use super::msg::{Appl, ApplId, ChangeReq, DacMsg, FromAc, NodeName, Perm, ToAc};
use crate::term;
use crate::term::{Atom, Term, atom};

impl DistAc {
    /// One message taken from the mailbox by the gen_server loop.
    pub(super) fn handle_mail(&mut self, m: Mail) {
        match m {
            Mail::Go => {}
            Mail::NodeUp(n) => self.heal_nodeup(&n),
            Mail::RunsAt(n, app, peer, asked) => self.heal_runs_at(&n, &app, peer, asked),
            // Introduce ourselves again (dist_ac_new_node with Started =
            // [], as at boot): it adds us to its known nodes and answers
            // with its own, which makes it known here.
            Mail::Unknown(n) => self.reintroduce(n),
            Mail::KnowsUs(n) => {
                if !self.known.contains(&n) {
                    self.reintroduce(n);
                }
            }
            Mail::TookOver(n, app, ok) => self.heal_took_over(&n, &app, ok),
            Mail::Stopped(n, app) => self.heal_stopped(&n, &app),
            Mail::Dac(d) => self.handle_dac(d),
            Mail::NodeDown(n) => self.nodedown(&n),
            Mail::Ac(a) => self.handle_ac(a),
            Mail::Call(id, c) => self.handle_call(id, c),
            Mail::RestartAppl(app) => {
                tracing::debug!(
                    node = %self.me.name,
                    app = %app.name,
                    id = ?self.appl(&app.name).map(|a| &a.id),
                    "dist_ac: restart time over"
                );
                // restart_appl/2: only while still {failover, _}.
                if matches!(
                    self.appl(&app.name).map(|a| &a.id),
                    Some(ApplId::Failover(_))
                ) {
                    self.start_appl(app, StartType::Req, After::Restart);
                }
            }
        }
    }

    fn handle_ac(&mut self, m: FromAc) {
        match m {
            FromAc::LoadReq(app) => {
                self.load(&app);
                if self.stopped.is_none() {
                    self.tell_ac(ToAc::LoadReply(app));
                }
            }
            FromAc::Unloaded(app) => self.unload(&app),
            FromAc::StartReq(app) => {
                // We must decide if we or another node should start it,
                // under {dist_ac, self()} taken on this node only, 0 retries.
                self.emit(Output::SetLock {
                    id: term!({dist_ac, (self.self_pid.clone())}),
                    nodes: vec![self.me.clone()],
                    retries: Some(0),
                });
                self.wait = Some(Wait::StartLock { app });
            }
            FromAc::Run(app, res) => {
                let known = self.known.clone();
                let me = self.me.clone();
                self.send_all(
                    &known,
                    &DacMsg::AppStarted {
                        node: me,
                        app: app.clone(),
                        result: res.clone(),
                    },
                );
                let res_t = match &res {
                    Ok(()) => atom("ok"),
                    Err(t) => t.clone(),
                };
                self.del_t_reqs(&app, &res_t);
                // A healing takeover: the other side may not be known.
                let (done, keep) = std::mem::take(&mut self.healing)
                    .into_iter()
                    .partition(|(a, _)| *a == app);
                self.healing = keep;
                let done: Vec<(Atom, NodeName)> = done;
                if !done.is_empty() {
                    // The other side, and every node of the application
                    // that is connected but no longer known.
                    let nodes = self.find_nodes(&app).flat();
                    let tell: Vec<NodeName> = self
                        .connected
                        .iter()
                        .filter(|n| nodes.contains(n) && !self.known.contains(n))
                        .chain(done.iter().map(|(_, n)| n))
                        .fold(Vec::new(), |mut v, n| {
                            if !v.contains(n) && *n != self.me {
                                v.push(n.clone());
                            }
                            v
                        });
                    let me = self.me.clone();
                    self.send_all(
                        &tell,
                        &DacMsg::AppStarted {
                            node: me,
                            app: app.clone(),
                            result: res.clone(),
                        },
                    );
                }
                if let Some(a) = self.appl_mut(&app) {
                    a.id = if res.is_ok() {
                        ApplId::Local
                    } else {
                        ApplId::Undefined
                    };
                }
            }
            FromAc::NotRun(app) => self.not_running(&app, false),
            FromAc::Stopped(app) => self.not_running(&app, true),
        }
    }

    /// `ac_application_not_run` / `ac_application_stopped`.
    fn not_running(&mut self, app: &Atom, stopped: bool) {
        let Some(id) = self.appl(&app.name).map(|a| a.id.clone()) else {
            return;
        };
        self.del_t_reqs(app, &term!({error, stopped}));
        let waiting: Vec<CallId> = self
            .s_reqs
            .iter()
            .filter(|(a, _)| a == app)
            .map(|(_, c)| *c)
            .collect();
        self.s_reqs.retain(|(a, _)| a != app);
        for c in waiting {
            self.reply(c, atom("ok"));
        }
        match id {
            ApplId::Local => {
                let known = self.known.clone();
                self.send_all(&known, &DacMsg::AppStopped { app: app.clone() });
            }
            ApplId::Distributed(n) => self.note_remote_started(n, app.clone()),
            _ => {}
        }
        if let Some(a) = self.appl_mut(app) {
            a.id = ApplId::Undefined;
        }
        if stopped {
            if let Some(i) = self.started.iter().position(|a| a == app) {
                self.started.remove(i);
            }
        }
    }

    fn del_t_reqs(&mut self, app: &Atom, res: &Term) {
        let waiting: Vec<CallId> = self
            .t_reqs
            .iter()
            .filter(|(a, _)| a == app)
            .map(|(_, c)| *c)
            .collect();
        self.t_reqs.retain(|(a, _)| a != app);
        for c in waiting {
            self.reply(c, res.clone());
        }
    }

    fn handle_dac(&mut self, m: DacMsg) {
        match m {
            DacMsg::NewNode {
                node,
                appls: his,
                started,
                ..
            } => {
                // Only an introduction (Started = []) reaches the main loop;
                // a reply is consumed by wait_dacs/4 or ignored, except the
                // reply of a node we introduced ourselves to again after a
                // partition (not in OTP): it is known again.
                if let Some(i) = self.reintroduced.iter().position(|n| *n == node) {
                    self.reintroduced.remove(i);
                    if !self.known.contains(&node) {
                        self.appls =
                            super::sync::dist_merge(std::mem::take(&mut self.appls), &his, &node);
                        self.known.insert(0, node);
                    }
                    return;
                }
                if !started.is_empty() {
                    return;
                }
                let me = self.me.clone();
                let my_started: Vec<(NodeName, Atom)> = self
                    .appls
                    .iter()
                    .filter(|a| a.id == ApplId::Local)
                    .map(|a| (me.clone(), a.name.clone()))
                    .collect();
                let appls = self.appls.clone();
                self.send(
                    &node,
                    DacMsg::NewNode {
                        vsn: 1,
                        node: me,
                        appls,
                        started: my_started,
                    },
                );
                self.appls = super::sync::dist_merge(std::mem::take(&mut self.appls), &his, &node);
                // OTP adds it even when it is known already; after a
                // partition both sides of a distro pair introduce
                // themselves again, so only once here.
                if !self.known.contains(&node) {
                    self.known.insert(0, node);
                }
            }
            DacMsg::AppStarted { node, app, result } => self.app_started(node, app, result),
            DacMsg::AppStopped { app } => {
                if let Some(a) = self.appl_mut(&app) {
                    a.id = ApplId::Undefined;
                }
                self.remote_started.retain(|(_, a)| *a != app);
            }
            DacMsg::Weight { app, weight, node } => {
                let id = self.appl(&app.name).map(|a| a.id.clone());
                match id {
                    Some(ApplId::RunWaiting) => {
                        let me = self.me.clone();
                        self.send(
                            &node,
                            DacMsg::Weight {
                                app,
                                weight: 0,
                                node: me,
                            },
                        );
                    }
                    None | Some(ApplId::Undefined | ApplId::Takeover(_) | ApplId::Failover(_)) => {
                        self.tmp_locals.insert(0, (app, weight, node));
                    }
                    Some(_) => {
                        let w = self.cached_weight(&app);
                        let me = self.me.clone();
                        self.send(
                            &node,
                            DacMsg::Weight {
                                app: app.clone(),
                                weight: w,
                                node: me,
                            },
                        );
                        match self.tmp_weights.iter_mut().find(|(a, _)| *a == app) {
                            Some(e) => e.1 = w,
                            None => self.tmp_weights.insert(0, (app, w)),
                        }
                    }
                }
            }
            DacMsg::AppLoaded {
                node,
                app,
                nodes: his_nodes,
                permission,
                he_knows_me,
            } => {
                let nodes = self.find_nodes(&app);
                if self.is_loaded(&app) {
                    if !nodes.equal(&his_nodes) {
                        return self.dist_mismatch(&app, &node);
                    }
                    self.update_run(&app, &node, permission);
                    if !he_knows_me {
                        // He is a new node connecting to us.
                        let perm = Perm::from_bool(self.is_runnable(&app));
                        let me = self.me.clone();
                        self.send(
                            &node,
                            DacMsg::AppLoaded {
                                node: me,
                                app,
                                nodes,
                                permission: perm,
                                he_knows_me: true,
                            },
                        );
                    }
                } else {
                    self.dist_loaded
                        .insert(0, (app, node, his_nodes, permission));
                }
            }
            DacMsg::AppUnloaded { node, app } => {
                self.update_run(&app, &node, Perm::Undefined);
                if let Some(i) = self
                    .dist_loaded
                    .iter()
                    .position(|(a, n, _, _)| *a == app && *n == node)
                {
                    self.dist_loaded.remove(i);
                }
            }
            DacMsg::NewPermission {
                node,
                app,
                permitted,
                is_his_app,
            } => {
                self.update_run(&app, &node, Perm::from_bool(permitted));
                if !permitted && is_his_app && self.is_runnable(&app) {
                    self.start_appl(app, StartType::Req, After::Ignore);
                }
            }
        }
    }

    /// `handle_info({dist_ac_app_started, Node, Name, Res}, S)`.
    fn app_started(&mut self, node: NodeName, app: Atom, result: Result<(), Term>) {
        let known_here = self.appl(&app.name).is_some() && self.started.contains(&app);
        if !known_here {
            // Not started here yet: remember it.
            tracing::debug!(node = %self.me.name, app = %app.name, at = %node.name, "dist_ac: started there before here");
            self.note_remote_started(node, app);
            return;
        }
        let is_error = matches!(&result, Err(t) if is_error_tuple(t));
        // ac_started(req, ...) is sent whatever Res is: if the app runs
        // here, this stops it (the second half of a takeover).
        self.ac_started(StartType::Req, &app, &node);
        if let Some(a) = self.appl_mut(&app) {
            a.id = if is_error {
                ApplId::Undefined
            } else {
                ApplId::Distributed(node.clone())
            };
        }
        self.tmp_weights.retain(|(a, _)| *a != app);
        // req_del_permit_false/2
        let (done, keep): (Vec<PermitReq>, Vec<PermitReq>) = std::mem::take(&mut self.p_reqs)
            .into_iter()
            .partition(|r| r.app == app && !r.permitted);
        self.p_reqs = keep;
        for r in done {
            if let Some(c) = r.from {
                self.reply(c, atom("ok"));
            }
        }
        // req_start_app/2 only acts on `{false, App, true, Name}` entries,
        // which nothing creates (start_appl/3 never throws {not_running, _}).
    }

    /// Beyond OTP: after a partition, `dist_ac_new_node` with Started = []
    /// to `n` (as at boot); its answer makes it known here
    /// (`reintroduced`).
    fn reintroduce(&mut self, n: NodeName) {
        if !self.connected.contains(&n) {
            return;
        }
        let (me, appls) = (self.me.clone(), self.appls.clone());
        self.send(
            &n,
            DacMsg::NewNode {
                vsn: 1,
                node: me,
                appls,
                started: vec![],
            },
        );
        if !self.reintroduced.contains(&n) {
            self.reintroduced.push(n);
        }
    }

    /// Beyond OTP: healing a partition. OTP's dist_ac does nothing on a
    /// nodeup, so after a partition heals both sides keep running the
    /// application (erlang/otp#3365). Here, when a node that went down
    /// comes back, we ask it ([`Output::AskPeer`]) whether it runs the
    /// applications we run whose `distributed` nodes include it; the
    /// answers go to [`Self::heal_runs_at`].
    ///
    /// Only for a node that went down before (a partition, or a restart):
    /// a new one learns where the application runs from the
    /// `dist_ac_new_node` exchange.
    fn heal_nodeup(&mut self, node: &NodeName) {
        let Some(i) = self.lost.iter().position(|n| n == node) else {
            return;
        };
        self.lost.remove(i);
        if !self.config.heal_partitions {
            return;
        }
        let me = self.me.clone();
        let apps: Vec<Atom> = self
            .appls
            .iter()
            .filter(|a| a.id == ApplId::Local)
            .filter(|a| priority(&a.nodes, &me).is_some() && priority(&a.nodes, node).is_some())
            .map(|a| a.name.clone())
            .collect();
        self.emit(Output::AskPeer {
            node: node.clone(),
            apps,
            asked: self.heals_begun,
        });
    }

    /// `app` runs here and at `node` too (a partition healed). The copy
    /// that stays is the one of higher priority (earlier in the
    /// `distributed` list; in the same group, the smaller name), and it
    /// stays through an ordinary takeover: its node starts a new instance
    /// with start type `{takeover, Other}`, whose processes register their
    /// global names again (the clash resolution of `global` may have
    /// killed the ones of either side). Both copies stop first
    /// ([`Output::AwaitStopped`]), so that no process of the other copy
    /// registers a name over the new instance's. Who drives it:
    ///
    /// - we come first: our copy stops as if `node` ran it, and our
    ///   `dist_ac_app_started` stops `node`'s (BEAM's dist_ac and ours
    ///   alike); once it is gone there, we take the application over from
    ///   `node`, as `takeover_application` does ([`Self::heal_stopped`]);
    /// - `node` comes first and is a BEAM node: our copy stops as if
    ///   `node` ran it; once it is gone, we send `node`
    ///   `{dist_ac_app_started, Me, App, ok}` (it stops its copy and
    ///   records the application as running here), then call
    ///   `application:takeover/2` there ([`Output::RemoteTakeover`]);
    /// - `node` comes first and is a distro node: it drives;
    /// - `node` comes first and its dist_ac knows us: it restarted and is
    ///   taking the application over (its `dist_ac_app_started` stops our
    ///   copy), not a partition.
    fn heal_runs_at(&mut self, node: &NodeName, app: &Atom, peer: Peer, asked: u64) {
        let stale = self
            .last_heal
            .iter()
            .any(|(a, n, k)| a == app && n == node && *k >= asked);
        if stale {
            tracing::debug!(
                "dist_ac: {} at {}: an answer asked before the last healing with it, ignored",
                app.name,
                node.name
            );
            return;
        }
        let Some(a) = self.appl(&app.name) else {
            return;
        };
        if a.id != ApplId::Local || !self.connected.contains(node) {
            return;
        }
        let (Some(mine), Some(his)) = (priority(&a.nodes, &self.me), priority(&a.nodes, node))
        else {
            return;
        };
        let me = self.me.clone();
        if mine < his {
            tracing::warn!(
                "dist_ac: {} also runs at {} (partition healed): stopping both copies, then taking it over from there",
                app.name,
                node.name
            );
            // Our copy stops as if `node` had taken over, and `node`'s
            // stops on our word that it runs here.
            self.app_started(node.clone(), app.clone(), Ok(()));
            self.send(
                node,
                DacMsg::AppStarted {
                    node: me,
                    app: app.clone(),
                    result: Ok(()),
                },
            );
            self.await_stopped(app, node, node);
        } else if peer == (Peer::Beam { knows_us: false }) {
            tracing::warn!(
                "dist_ac: {} also runs at {} (partition healed): stopping it here, then {} takes it over",
                app.name,
                node.name,
                node.name
            );
            self.app_started(node.clone(), app.clone(), Ok(()));
            self.await_stopped(app, node, &me);
        } else if peer == Peer::Distro {
            tracing::info!(
                "dist_ac: {} also runs at {} (partition healed): {} takes it over",
                app.name,
                node.name,
                node.name
            );
        }
    }

    /// Waits for `app` to stop at `at` in the healing with `other` (a
    /// healing begins).
    fn await_stopped(&mut self, app: &Atom, other: &NodeName, at: &NodeName) {
        self.last_heal.retain(|(a, n, _)| !(a == app && n == other));
        self.last_heal
            .push((app.clone(), other.clone(), self.heals_begun));
        self.heals_begun += 1;
        self.heal_stops.retain(|(a, _)| a != app);
        self.heal_stops.push((app.clone(), other.clone()));
        self.emit(Output::AwaitStopped {
            node: at.clone(),
            app: app.clone(),
        });
    }

    /// [`Input::Stopped`](super::core::Input::Stopped): the copy at `at`
    /// is gone; the one of higher priority starts again, unless something
    /// else moved the application meanwhile (a nodedown of the other side
    /// fails it over, a takeover) and it no longer runs at the other side
    /// by our records.
    fn heal_stopped(&mut self, at: &NodeName, app: &Atom) {
        let other = if *at == self.me {
            self.heal_stops.iter().find(|(a, _)| a == app)
        } else {
            self.heal_stops.iter().find(|(a, n)| a == app && n == at)
        };
        let Some((_, other)) = other.cloned() else {
            return;
        };
        self.heal_stops.retain(|(a, _)| a != app);
        let still = self
            .appl(&app.name)
            .is_some_and(|a| a.id == ApplId::Distributed(other.clone()));
        if !still || !self.connected.contains(&other) {
            return;
        }
        if *at == self.me {
            // Ours is gone: `other` (a BEAM node) takes it over.
            let me = self.me.clone();
            self.send(
                &other,
                DacMsg::AppStarted {
                    node: me,
                    app: app.clone(),
                    result: Ok(()),
                },
            );
            self.emit(Output::RemoteTakeover {
                node: other,
                app: app.clone(),
            });
        } else {
            // Both are gone: ours starts again, as a takeover from `other`.
            self.order_takeover(app, &other, None);
            self.healing.push((app.clone(), other));
        }
    }

    /// [`Input::TookOver`](super::core::Input::TookOver): the BEAM node of
    /// higher priority answered the takeover we asked of it. When it did
    /// not take the application over, both copies are stopped: ours
    /// starts again (a takeover from that node), so that one runs.
    fn heal_took_over(&mut self, node: &NodeName, app: &Atom, ok: bool) {
        let Some(a) = self.appl(&app.name) else {
            return;
        };
        if ok {
            if a.id == ApplId::Local {
                self.app_started(node.clone(), app.clone(), Ok(()));
            }
        } else if a.id == ApplId::Distributed(node.clone()) && self.connected.contains(node) {
            tracing::warn!(
                "dist_ac: {} did not take {} over (partition healed): starting it here again",
                node.name,
                app.name
            );
            self.order_takeover(app, node, None);
            self.healing.push((app.clone(), node.clone()));
        }
    }

    /// `ac_takeover(req, App, Node, RestartType)` of
    /// `handle_call({takeover_application, ...})`: the application
    /// controller starts `app` with start type `{takeover, from}`.
    fn order_takeover(&mut self, app: &Atom, from: &NodeName, restart_type: Option<Atom>) {
        self.tell_ac(ToAc::ChangeReq(
            app.clone(),
            ChangeReq::Takeover(from.clone(), restart_type),
        ));
        if let Some(a) = self.appl_mut(app) {
            a.id = ApplId::TakeoverRequested;
        }
    }

    /// `handle_info({nodedown, Node}, S)`.
    pub(super) fn nodedown(&mut self, node: &NodeName) {
        if !self.lost.contains(node) {
            self.lost.push(node.clone());
        }
        let runnable: Vec<Atom> = self
            .appls
            .iter()
            .filter(|a| a.perm_of(&self.me) == Some(Perm::True))
            .map(|a| a.name.clone())
            .collect();
        let his: Vec<Appl> = self
            .appls
            .iter()
            .filter(|a| a.id == ApplId::Distributed(node.clone()) && runnable.contains(&a.name))
            .cloned()
            .collect();
        let mut not_running = Vec::new();
        for a in &mut self.appls {
            if a.id == ApplId::Distributed(node.clone()) {
                if runnable.contains(&a.name) {
                    a.id = ApplId::Failover(node.clone());
                } else {
                    not_running.push(a.name.clone());
                    a.id = ApplId::Undefined;
                }
            }
            a.run.retain(|(n, _)| n != node);
        }
        for app in not_running {
            self.tell_ac(ToAc::ChangeReq(app, ChangeReq::NotRunning));
        }
        self.remote_started.retain(|(n, _)| n != node);
        self.req_del_node(node);
        if let Some(i) = self.known.iter().position(|n| n == node) {
            self.known.remove(i);
        }
        tracing::debug!(
            node = %self.me.name,
            down = %node.name,
            failover = ?his.iter().map(|a| &a.name.name).collect::<Vec<_>>(),
            remote_started = ?self.remote_started,
            "dist_ac: nodedown"
        );
        // restart_appls/1
        for a in his.iter().rev() {
            self.send_after(a.restart_time, TimerMsg::RestartAppl(a.name.clone()));
        }
    }

    /// `req_del_node/3` → `check_waiting/6`. OTP's recursive calls swap the
    /// `S` and `Node` arguments, so only every other pending `permit(false)`
    /// request sees the node removed; kept as is.
    fn req_del_node(&mut self, node: &NodeName) {
        let reqs = std::mem::take(&mut self.p_reqs);
        let mut res = Vec::new();
        for (k, mut r) in reqs.into_iter().enumerate() {
            if r.permitted {
                res.insert(0, r);
                continue;
            }
            if k % 2 == 0 {
                if let Some(i) = r.nodes.iter().position(|n| n == node) {
                    r.nodes.remove(i);
                }
            }
            if r.nodes.is_empty() {
                self.tell_ac(ToAc::ChangeReq(r.app.clone(), ChangeReq::StopIt));
                if let Some(c) = r.from {
                    self.s_reqs.insert(0, (r.app, c));
                }
            } else {
                res.insert(0, r);
            }
        }
        self.p_reqs = res;
    }

    /// `is_loaded/2`.
    fn is_loaded(&self, app: &Atom) -> bool {
        self.appl(&app.name)
            .and_then(|a| a.perm_of(&self.me))
            .is_some_and(|p| p != Perm::Undefined)
    }

    /// `dist_mismatch/2`.
    fn dist_mismatch(&mut self, app: &Atom, node: &NodeName) {
        tracing::error!(
            "dist_ac on node '{}':\nDistribution mismatch for application \"{}\" on nodes '{}' and '{}'",
            self.me.name,
            app.name,
            self.me.name,
            node.name
        );
        self.stop(
            term!({distribution_mismatch, (Term::Atom(app.clone())), (Term::Atom(node.clone()))}),
        );
    }

    /// `load/2`.
    fn load(&mut self, app: &Atom) {
        let nodes = self.find_nodes(app);
        let perm = self.default_permission(app);
        let me = self.me.clone();
        self.update_run(app, &me, perm);
        let theirs: Vec<(NodeName, super::msg::NodesSpec, Perm)> = self
            .dist_loaded
            .iter()
            .filter(|(a, ..)| a == app)
            .map(|(_, n, ns, p)| (n.clone(), ns.clone(), *p))
            .collect();
        let mut loaded = Vec::new();
        for (n, his_nodes, his_perm) in theirs {
            if !nodes.equal(&his_nodes) {
                return self.dist_mismatch(app, &n);
            }
            self.update_run(app, &n, his_perm);
            loaded.push(n);
        }
        self.dist_loaded.retain(|(a, ..)| a != app);
        for n in nodes.flat() {
            let knows = loaded.contains(&n);
            self.send(
                &n,
                DacMsg::AppLoaded {
                    node: me.clone(),
                    app: app.clone(),
                    nodes: nodes.clone(),
                    permission: perm,
                    he_knows_me: knows,
                },
            );
        }
    }

    /// `unload/2`.
    fn unload(&mut self, app: &Atom) {
        let nodes = self.find_nodes(app).flat();
        let me = self.me.clone();
        self.send_all(
            &nodes,
            &DacMsg::AppUnloaded {
                node: me,
                app: app.clone(),
            },
        );
        if let Some(a) = self.appl_mut(app) {
            a.id = ApplId::Undefined;
            a.run.clear();
        }
    }

    fn handle_call(&mut self, id: CallId, c: Call) {
        match c {
            Call::GetKnownNodes => {
                let t = super::sync::atoms(&self.known);
                self.reply(id, t);
            }
            Call::GetNodes { app } => {
                let t = super::sync::atoms(&self.get_nodes(&app));
                self.reply(id, t);
            }
            Call::TakeoverApplication { app, restart_type } => {
                match self.appl(&app.name).map(|a| a.id.clone()) {
                    Some(ApplId::Distributed(n)) => {
                        self.order_takeover(&app, &n, Some(restart_type));
                        self.t_reqs.insert(0, (app, id));
                    }
                    Some(ApplId::Local) => self.reply(id, err2("already_running_locally", &app)),
                    _ => self.reply(id, err2("not_running_distributed", &app)),
                }
            }
            Call::PermitApplication {
                app,
                permitted,
                lock_id,
                only_loaded,
            } => self.permit_call(id, app, permitted, lock_id, only_loaded),
            Call::LoadApplication { app, dist } => {
                if let Some((rt, nodes)) = dist {
                    let run = nodes
                        .flat()
                        .into_iter()
                        .map(|n| (n, Perm::Undefined))
                        .collect();
                    let rec = Appl {
                        name: app.clone(),
                        id: ApplId::Undefined,
                        restart_time: rt,
                        nodes,
                        run,
                    };
                    let new = self.appl(&app.name).is_none();
                    match self.appl_mut(&app) {
                        Some(a) => *a = rec,
                        None => self.appls.insert(0, rec),
                    }
                    if !self.find_nodes(&app).0.is_empty() {
                        if new {
                            self.tell_ac(ToAc::ControlApplication(app.clone()));
                        }
                        self.load(&app);
                    }
                }
                self.reply(id, atom("ok"));
            }
        }
    }

    /// `handle_call({permit_application, ...})` and `permit/6`.
    fn permit_call(
        &mut self,
        id: CallId,
        app: Atom,
        permitted: bool,
        lock_id: Term,
        only_loaded: bool,
    ) {
        let Some(_) = self.appl(&app.name) else {
            // A non-distributed application (backwards compatibility).
            let req = if permitted {
                ChangeReq::StartIt
            } else {
                ChangeReq::StopIt
            };
            self.tell_ac(ToAc::ChangeReq(app, req));
            return self.reply(id, atom("ok"));
        };
        let me = self.me.clone();
        self.update_run(&app, &me, Perm::from_bool(permitted));
        let cur = self.appl(&app.name).map(|a| a.id.clone());
        let is_mine = cur == Some(ApplId::Local);
        let nodes = self.find_nodes(&app).flat();
        self.send_all(
            &nodes,
            &DacMsg::NewPermission {
                node: me,
                app: app.clone(),
                permitted,
                is_his_app: is_mine,
            },
        );
        if only_loaded {
            return self.reply(id, atom("ok"));
        }
        match (permitted, cur) {
            (false, Some(ApplId::Undefined | ApplId::Distributed(_)))
            | (true, Some(ApplId::Local)) => self.reply(id, atom("ok")),
            (false, _) => {
                let runnable: Vec<NodeName> = self
                    .appl(&app.name)
                    .map(|a| {
                        a.run
                            .iter()
                            .filter(|(_, p)| *p == Perm::True)
                            .map(|(n, _)| n.clone())
                            .collect()
                    })
                    .unwrap_or_default();
                if runnable.is_empty() {
                    self.tell_ac(ToAc::ChangeReq(app.clone(), ChangeReq::StopIt));
                    self.s_reqs.insert(0, (app, id));
                } else {
                    // req_del_permit_true/2
                    let (done, keep): (Vec<PermitReq>, Vec<PermitReq>) =
                        std::mem::take(&mut self.p_reqs)
                            .into_iter()
                            .partition(|r| r.app == app && r.permitted);
                    self.p_reqs = keep;
                    for r in done {
                        if let Some(c) = r.from {
                            self.reply(c, atom("ok"));
                        }
                    }
                    self.p_reqs.insert(
                        0,
                        PermitReq {
                            from: Some(id),
                            app,
                            permitted: false,
                            nodes: runnable,
                        },
                    );
                }
            }
            (true, _) => {
                let before = Box::new(self.clone());
                self.start_appl(
                    app,
                    StartType::Req,
                    After::PermitTrue {
                        call: id,
                        lock_id,
                        before,
                    },
                );
            }
        }
    }
}

fn err2(tag: &str, app: &Atom) -> Term {
    term!({error, {(atom(tag)), (Term::Atom(app.clone()))}})
}

fn is_error_tuple(t: &Term) -> bool {
    use crate::term::TermExt;
    matches!(t.as_tuple(), Some([e, _]) if e.as_atom() == Some("error"))
}

/// Where `node` stands in `nodes` (lower comes first): the index of its
/// entry, then its name within a group.
fn priority(nodes: &crate::kernel::dist_ac::NodesSpec, node: &NodeName) -> Option<(usize, String)> {
    use crate::kernel::dist_ac::NodeSpec;
    nodes.0.iter().enumerate().find_map(|(i, s)| match s {
        NodeSpec::One(n) if n == node => Some((i, String::new())),
        NodeSpec::Any(g) if g.contains(node) => Some((i, node.name.clone())),
        _ => None,
    })
}
