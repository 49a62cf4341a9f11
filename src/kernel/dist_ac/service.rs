//! The `dist_ac` process: a tokio driver around [`DistAc`] (as quinn's
//! `drive_timer` drives `quinn-proto`), plus the client side of
//! `dist_ac:takeover_application/2` and `dist_ac:permit_application/2`
//! (mirrors [`dist_ac.erl`](https://github.com/erlang/otp/blob/OTP-25.2.3/lib/kernel/src/dist_ac.erl)
//! lines 103–190).
//!
//! The process is registered as `dist_ac`, subscribes to nodeup/nodedown,
//! and only moves data: terms in its mailbox become [`Input`]s, [`Output`]s
//! become sends, calls to `global_name_server` (through a [`Locks`] port),
//! rpcs and replies. While it waits for a lock or an rpc, other messages
//! stay in its mailbox — exactly as the gen_server's do on BEAM.

use super::core::{Call, CallId, Config, Dest, DistAc, Input, Output, Peer};
use super::locks::Locks;
use super::msg::{DacMsg, FromAc, NodeName, NodesSpec, RestartTime, ToAc};
use crate::kernel::application_controller::{HaltFn, RestartType};
use crate::runtime::{GenCall, GenFrom, Node, Process};
use crate::term;
use crate::term::{Atom, Pid, Term, TermExt, atom};
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

/// Handle to the running dist_ac.
#[derive(Clone)]
pub struct DistAcHandle {
    node: Node,
    pid: Pid,
    synced: tokio::sync::watch::Receiver<bool>,
    locks: Arc<dyn Locks>,
}

impl std::fmt::Debug for DistAcHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DistAcHandle")
            .field("pid", &self.pid)
            .finish()
    }
}

/// Why `takeover_application/2` failed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum TakeoverError {
    /// Any `{error, R}` from dist_ac (`{not_running_distributed, App}`, ...).
    #[error("{}", crate::term::Pretty(.0))]
    Error(Term),
    /// `aborted`: the lock could not be taken.
    #[error("aborted")]
    Aborted,
}

/// How to run dist_ac.
pub struct ServiceConfig {
    /// kernel `distributed` and `permissions`.
    pub config: Config,
    /// The lock service.
    pub locks: Arc<dyn Locks>,
    /// `length(which_applications())`, kept by the application controller.
    pub weight: Arc<AtomicI64>,
    /// Called when dist_ac exits (OTP: kernel_sup gives up, the node halts).
    pub halt: HaltFn,
}

/// Starts the `dist_ac` process. It waits for `{go, Pid}` (sent by
/// [`crate::kernel::kernel_config`]) before it syncs with its peers.
pub fn start(node: &Node, sc: ServiceConfig) -> DistAcHandle {
    let (tx, rx) = tokio::sync::watch::channel(false);
    let locks = sc.locks.clone();
    let pid = node.spawn(move |p| drive(p, sc, tx));
    DistAcHandle {
        node: node.clone(),
        pid,
        synced: rx,
        locks,
    }
}

fn now() -> std::time::Instant {
    tokio::time::Instant::now().into_std()
}

async fn drive(mut p: Process, sc: ServiceConfig, synced: tokio::sync::watch::Sender<bool>) {
    if p.register("dist_ac").is_err() {
        tracing::error!("dist_ac is already registered");
        return;
    }
    p.trap_exit(true);
    p.monitor_nodes(true, false);
    let me = p.node().name().clone();
    let mut core = DistAc::new(me, Term::Pid(p.pid().clone()), sc.config);
    for n in p.node().nodes() {
        core.handle(now(), Input::NodeUp(n));
    }
    let mut calls: HashMap<CallId, GenFrom> = HashMap::new();
    let mut next_call: CallId = 0;
    let mut kernel_config: Option<Pid> = None;
    loop {
        // Carry out what the core asked for; blocking ones feed their answer back.
        while let Some(o) = core.poll_output() {
            core.set_weight(sc.weight.load(Ordering::SeqCst));
            tracing::debug!(target: "dist_ac", "out {o:?}");
            match o {
                Output::Send { to, msg } => match to {
                    Dest::Name(n) => p.send(("dist_ac", n.name.as_str()), msg.to_term()),
                    Dest::Pid(Term::Pid(pid)) => p.send(&pid, msg.to_term()),
                    Dest::Pid(_) => {}
                },
                Output::ToAc(ToAc::ControlApplication(app)) => {
                    let req = ToAc::ControlApplication(app).to_term();
                    let _ = p
                        .call("application_controller", req, Duration::from_secs(30))
                        .await;
                }
                Output::ToAc(m) => p.send("application_controller", m.to_term()),
                Output::SetLock { id, nodes, retries } => {
                    let ok = sc.locks.set_lock(&mut p, id, nodes, retries).await;
                    core.handle(now(), Input::LockResult(ok));
                }
                Output::DelLock { id, nodes } => {
                    sc.locks.del_lock(&mut p, id, nodes).await;
                    core.handle(now(), Input::Unlocked);
                }
                Output::Whereis { node } => {
                    let pid = whereis_dist_ac(&mut p, &node).await;
                    core.handle(now(), Input::Whereis(pid));
                }
                Output::Reply { call, reply } => {
                    if let Some(from) = calls.remove(&call) {
                        p.reply(&from, reply);
                    }
                }
                Output::TookControl => {
                    if let Some(kc) = &kernel_config {
                        p.send(kc, atom("dist_ac_took_control"));
                    }
                }
                Output::AskPeer { node, apps, asked } => {
                    // Answered through the mailbox, so that dist_ac goes on
                    // meanwhile.
                    let me = p.pid().clone();
                    p.node().spawn(move |mut h: Process| async move {
                        let mine = Term::Atom(h.node().name().clone());
                        // Before anything we send makes us known there.
                        let knows_us = known_nodes(&mut h, &node)
                            .await
                            .and_then(|k| k.as_list().map(|l| l.contains(&mine)));
                        // Unanswered: as if it knew us (a BEAM node is then
                        // left to itself, OTP's behaviour).
                        let peer = peer(&mut h, &node, knows_us.unwrap_or(true)).await;
                        match (knows_us, peer) {
                            (Some(false), _) => {
                                h.send(&me, term!({:"$distro_unknown", (Term::Atom(node.clone()))}));
                            }
                            (Some(true), Peer::Distro) => {
                                h.send(&me, term!({:"$distro_knows_us", (Term::Atom(node.clone()))}));
                            }
                            _ => {}
                        }
                        if apps.is_empty() {
                            return;
                        }
                        let Some(running) = ask_running(&mut h, &node, &apps).await else {
                            return;
                        };
                        for app in running {
                            h.send(
                                &me,
                                term!({:"$distro_runs_at", (Term::Atom(node.clone())), (Term::Atom(app)), (peer_term(peer)), (crate::term::int(i64::try_from(asked).unwrap_or(i64::MAX)))}),
                            );
                        }
                    });
                }
                Output::RemoteTakeover { node, app } => {
                    let me = p.pid().clone();
                    p.node().spawn(move |mut h: Process| async move {
                        let ok = atom(if remote_takeover(&mut h, &node, &app).await {
                            "true"
                        } else {
                            "false"
                        });
                        h.send(
                            &me,
                            term!({:"$distro_took_over", (Term::Atom(node)), (Term::Atom(app)), (ok)}),
                        );
                    });
                }
                Output::AwaitStopped { node, app } => {
                    let me = p.pid().clone();
                    p.node().spawn(move |mut h: Process| async move {
                        await_stopped(&mut h, &node, &app).await;
                        h.send(
                            &me,
                            term!({:"$distro_stopped", (Term::Atom(node)), (Term::Atom(app))}),
                        );
                    });
                }
                Output::SyncDone => {
                    let _ = synced.send(true);
                }
                Output::Stop { reason } => {
                    // kernel_sup has intensity 0: dist_ac's exit takes the
                    // kernel application down, which stops the node.
                    tracing::error!(
                        "dist_ac terminating: {}",
                        crate::kernel::kernel_config::erl_format(&reason)
                    );
                    (sc.halt)(
                        1,
                        "Kernel pid terminated (application_controller) ({application_terminated,kernel,shutdown})".into(),
                    );
                    return;
                }
            }
        }
        core.set_weight(sc.weight.load(Ordering::SeqCst));
        let msg = match core.poll_timeout() {
            Some(at) => {
                let wait = at.saturating_duration_since(now());
                p.recv_timeout(wait).await
            }
            None => Some(p.recv().await),
        };
        let Some(msg) = msg else {
            core.handle_timeout(now());
            continue;
        };
        let input = if let Some(call) = GenCall::parse(&msg) {
            match parse_call(&call.request) {
                Some(c) => {
                    next_call += 1;
                    calls.insert(next_call, call.from.clone());
                    Input::Call(next_call, c)
                }
                None => {
                    if call.request.as_atom() == Some("info") {
                        p.reply(&call.from, atom("ok"));
                    }
                    continue;
                }
            }
        } else if let Some(m) = DacMsg::from_term(&msg) {
            Input::Dac(m)
        } else if let Some(m) = FromAc::from_term(&msg) {
            Input::Ac(m)
        } else {
            match msg.as_tuple() {
                Some([t, Term::Pid(kc)]) if t.as_atom() == Some("go") => {
                    kernel_config = Some(kc.clone());
                    Input::Go
                }
                Some([t, Term::Atom(n)]) if t.as_atom() == Some("nodeup") => {
                    Input::NodeUp(n.clone())
                }
                Some([t, Term::Atom(n)]) if t.as_atom() == Some("nodedown") => {
                    Input::NodeDown(n.clone())
                }
                Some([t, Term::Atom(n), Term::Atom(app), Term::Atom(d), asked])
                    if t.as_atom() == Some("$distro_runs_at") =>
                {
                    Input::RunsAt {
                        node: n.clone(),
                        app: app.clone(),
                        peer: match d.name.as_str() {
                            "distro" => Peer::Distro,
                            "known" => Peer::Beam { knows_us: true },
                            _ => Peer::Beam { knows_us: false },
                        },
                        asked: asked
                            .as_i64()
                            .and_then(|k| u64::try_from(k).ok())
                            .unwrap_or(0),
                    }
                }
                Some([t, Term::Atom(n)]) if t.as_atom() == Some("$distro_unknown") => {
                    Input::Unknown { node: n.clone() }
                }
                Some([t, Term::Atom(n)]) if t.as_atom() == Some("$distro_knows_us") => {
                    Input::KnowsUs { node: n.clone() }
                }
                Some([t, Term::Atom(n), Term::Atom(app), ok])
                    if t.as_atom() == Some("$distro_took_over") =>
                {
                    Input::TookOver {
                        node: n.clone(),
                        app: app.clone(),
                        ok: ok.as_atom() == Some("true"),
                    }
                }
                Some([t, Term::Atom(n), Term::Atom(app)])
                    if t.as_atom() == Some("$distro_stopped") =>
                {
                    Input::Stopped {
                        node: n.clone(),
                        app: app.clone(),
                    }
                }
                _ => {
                    tracing::trace!("dist_ac ignores {}", crate::term::Pretty(&msg));
                    continue;
                }
            }
        };
        tracing::debug!(target: "dist_ac", "in {input:?}");
        core.handle(now(), input);
    }
}

/// `rpc:call(Node, erlang, whereis, [dist_ac])` as OTP 25+ makes it: a
/// `SPAWN_REQUEST` of `erpc:execute_call/4` (what `introduce_me/2` sends).
async fn whereis_dist_ac(p: &mut Process, node: &Atom) -> Option<Term> {
    let args = vec![atom("dist_ac")];
    match crate::kernel::rpc::call(
        p,
        &node.name,
        "erlang",
        "whereis",
        args,
        Duration::from_secs(3600),
    )
    .await
    {
        Ok(t @ Term::Pid(_)) => Some(t),
        _ => None,
    }
}

fn parse_call(req: &Term) -> Option<Call> {
    let a = |t: &Term| t.as_atom().map(Atom::from);
    match (req.as_atom(), req.as_tuple()) {
        (Some("get_known_nodes"), _) => Some(Call::GetKnownNodes),
        (_, Some([t, app])) if t.as_atom() == Some("get_nodes") => {
            Some(Call::GetNodes { app: a(app)? })
        }
        (_, Some([t, app, rt])) if t.as_atom() == Some("takeover_application") => {
            Some(Call::TakeoverApplication {
                app: a(app)?,
                restart_type: a(rt)?,
            })
        }
        (_, Some([t, app, b, lock, info])) if t.as_atom() == Some("permit_application") => {
            Some(Call::PermitApplication {
                app: a(app)?,
                permitted: b.as_bool()?,
                lock_id: lock.clone(),
                only_loaded: info.as_atom() == Some("only_loaded"),
            })
        }
        (_, Some([t, app, dist])) if t.as_atom() == Some("load_application") => {
            let dist = match dist.as_tuple() {
                Some([_, nodes]) => Some((RestartTime::Ms(0), NodesSpec::from_term(nodes)?)),
                Some([_, time, nodes]) => Some((
                    match time.as_i64() {
                        Some(ms) => RestartTime::Ms(u64::try_from(ms).ok()?),
                        None => RestartTime::Infinity,
                    },
                    NodesSpec::from_term(nodes)?,
                )),
                _ => None,
            };
            Some(Call::LoadApplication { app: a(app)?, dist })
        }
        _ => None,
    }
}

impl DistAcHandle {
    /// The dist_ac process.
    pub fn pid(&self) -> &Pid {
        &self.pid
    }

    /// `wait_for_sync_dacs/0`: until the boot sync is over.
    pub async fn wait_for_sync(&self) {
        let mut rx = self.synced.clone();
        let _ = rx.wait_for(|s| *s).await;
    }

    async fn call(&self, req: Term) -> Result<Term, crate::runtime::CallError> {
        let me = self.node.name().name.clone();
        crate::kernel::application_controller::call(
            &self.node,
            ("dist_ac", &me),
            req,
            Duration::from_secs(24 * 3600),
        )
        .await
    }

    /// `dist_ac:get_known_nodes/0`.
    pub async fn known_nodes(&self) -> Vec<Atom> {
        match self.call(atom("get_known_nodes")).await {
            Ok(t) => t
                .as_list()
                .map(|l| {
                    l.iter()
                        .filter_map(|n| n.as_atom().map(Atom::from))
                        .collect()
                })
                .unwrap_or_default(),
            Err(_) => Vec::new(),
        }
    }

    /// `application:takeover(App, RestartType)`: moves a distributed
    /// application running elsewhere to this node (started with
    /// `{takeover, Node}`, then stopped at `Node`). Returns when it runs here.
    pub async fn takeover_application(
        &self,
        app: &str,
        rt: RestartType,
    ) -> Result<(), TakeoverError> {
        self.wait_for_sync().await;
        let nodes = match self.call(term!({get_nodes, (atom(app))})).await {
            Ok(t) => t
                .as_list()
                .map(|l| {
                    l.iter()
                        .filter_map(|n| n.as_atom().map(Atom::from))
                        .collect()
                })
                .unwrap_or_default(),
            Err(e) => return Err(TakeoverError::Error(e.reason())),
        };
        let req = term!({takeover_application, (atom(app)), (atom(rt.as_str()))});
        self.trans(req, Some(nodes)).await
    }

    /// `application:permit(App, Bool)` for a distributed application (after
    /// the AC answered `distributed_application`).
    pub async fn permit_application(
        &self,
        app: &str,
        permitted: bool,
        only_loaded: bool,
    ) -> Result<(), TakeoverError> {
        self.wait_for_sync().await;
        let info = if only_loaded {
            "only_loaded"
        } else {
            "started"
        };
        // The lock id names the calling process; the trans below fills it in.
        let req = term!({permit_application, (atom(app)), (crate::term::boolean(permitted)), :"$lock_id", (atom(info))});
        self.trans(req, None).await
    }

    /// `global:trans({dist_ac, self()}, fun() -> gen_server:call(dist_ac, Req) end, Nodes)`.
    async fn trans(&self, req: Term, nodes: Option<Vec<Atom>>) -> Result<(), TakeoverError> {
        let locks = self.locks.clone();
        let node = self.node.clone();
        let run = self.node.run_in_process(move |mut p| async move {
            let id = term!({dist_ac, (Term::Pid(p.pid().clone()))});
            let nodes = nodes.unwrap_or_else(|| {
                let mut v = vec![node.name().clone()];
                v.extend(node.nodes());
                v
            });
            let req = match req.as_tuple() {
                Some([t, app, b, l, info]) if l.as_atom() == Some("$lock_id") => {
                    term!({(t.clone()), (app.clone()), (b.clone()), (id.clone()), (info.clone())})
                }
                _ => req,
            };
            if !locks
                .set_lock(&mut p, id.clone(), nodes.clone(), None)
                .await
            {
                return Err(TakeoverError::Aborted);
            }
            let r = p.call("dist_ac", req, Duration::from_secs(24 * 3600)).await;
            locks.del_lock(&mut p, id, nodes).await;
            match r {
                Ok(t) if t.as_atom() == Some("ok") => Ok(()),
                Ok(t) => Err(TakeoverError::Error(t.elem(1).cloned().unwrap_or(t))),
                Err(e) => Err(TakeoverError::Error(e.reason())),
            }
        });
        run.await.unwrap_or(Err(TakeoverError::Aborted))
    }
}

/// `rpc:call(Node, M, F, A)` for the healing of partitions (10 s, as
/// dist_ac's own rpc calls); `None` when it fails.
async fn rpc_call(
    h: &mut Process,
    node: &NodeName,
    m: &str,
    f: &str,
    a: Vec<Term>,
) -> Option<Term> {
    crate::kernel::rpc::call(h, &node.name, m, f, a, Duration::from_secs(10))
        .await
        .ok()
}

/// `dist_ac:get_known_nodes()` at `node`. Its dist_ac answers once it is
/// free (past its boot sync, out of a start decision waiting on a lock or
/// on its peers), which can take longer than one rpc's 10 s: asked again,
/// up to a minute, while `node` stays connected.
async fn known_nodes(h: &mut Process, node: &NodeName) -> Option<Term> {
    for _ in 0..6 {
        if let Some(k) = rpc_call(h, node, "dist_ac", "get_known_nodes", vec![]).await {
            return Some(k);
        }
        if !h.node().nodes().contains(node) {
            break;
        }
    }
    tracing::warn!(
        "dist_ac: {} did not say which nodes its dist_ac knows",
        node.name
    );
    None
}

/// What `node` is ([`Peer`]); `knows_us`: whether its dist_ac counted us
/// among its known nodes.
async fn peer(h: &mut Process, node: &NodeName, knows_us: bool) -> Peer {
    let machine = rpc_call(h, node, "erlang", "system_info", vec![atom("machine")]).await;
    if machine.as_ref().and_then(TermExt::as_text).as_deref() == Some("distro") {
        Peer::Distro
    } else {
        Peer::Beam { knows_us }
    }
}

/// A [`Peer`] through the mailbox.
fn peer_term(p: Peer) -> Term {
    atom(match p {
        Peer::Distro => "distro",
        Peer::Beam { knows_us: true } => "known",
        Peer::Beam { knows_us: false } => "apart",
    })
}

/// Which of `apps` run at `node` (`application:which_applications()`).
async fn ask_running(h: &mut Process, node: &NodeName, apps: &[Atom]) -> Option<Vec<Atom>> {
    let list = rpc_call(h, node, "application", "which_applications", vec![]).await?;
    let running: Vec<String> = list
        .as_list()?
        .iter()
        .filter_map(|e| e.elem(0).and_then(TermExt::as_atom).map(str::to_owned))
        .collect();
    Some(
        apps.iter()
            .filter(|a| running.contains(&a.name))
            .cloned()
            .collect(),
    )
}

/// [`Output::RemoteTakeover`]: `application:takeover(App, Type)` at
/// `node`, with the restart type its application controller started `app`
/// with (`{started, [{App, Type}]}` of `application:info()`; `temporary`,
/// OTP's default, when it cannot be read).
async fn remote_takeover(h: &mut Process, node: &NodeName, app: &Atom) -> bool {
    let info = rpc_call(h, node, "application", "info", vec![]).await;
    let restart_type = info
        .as_ref()
        .and_then(|i| keyfind(i, "started"))
        .and_then(|started| keyfind(&started, &app.name))
        .and_then(|t| t.as_atom().map(Atom::from))
        .unwrap_or_else(|| Atom::from("temporary"));
    let r = rpc_call(
        h,
        node,
        "application",
        "takeover",
        vec![Term::Atom(app.clone()), Term::Atom(restart_type)],
    )
    .await;
    // `{error, {already_running_locally, App}}`: it runs there.
    let ok = r.as_ref().and_then(TermExt::as_atom) == Some("ok")
        || r.as_ref()
            .and_then(|t| t.elem(1))
            .and_then(|e| e.elem(0))
            .and_then(TermExt::as_atom)
            == Some("already_running_locally");
    if !ok {
        tracing::warn!(
            "dist_ac: application:takeover({}) at {} (partition healed) answered {}",
            app.name,
            node.name,
            r.as_ref().map_or_else(
                || "nothing".to_owned(),
                |t| crate::term::Pretty(t).to_string()
            )
        );
    }
    ok
}

/// [`Output::AwaitStopped`]: asks `node`'s application controller for
/// `which_applications` every 100 ms until `app` is not among them (BEAM's
/// answers only after a stop under way is over), `node` does not answer,
/// or 30 s pass.
async fn await_stopped(h: &mut Process, node: &NodeName, app: &Atom) {
    let ac: crate::runtime::Dest = if *node == *h.node().name() {
        crate::runtime::Dest::Name(Atom::from("application_controller"))
    } else {
        crate::runtime::Dest::Remote(Atom::from("application_controller"), node.clone())
    };
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let running = match h
            .call(
                ac.clone(),
                atom("which_applications"),
                Duration::from_secs(10),
            )
            .await
        {
            Ok(list) => list.as_list().is_some_and(|l| {
                l.iter()
                    .any(|e| e.elem(0).and_then(TermExt::as_atom) == Some(app.name.as_str()))
            }),
            Err(_) => false,
        };
        if !running {
            return;
        }
        if tokio::time::Instant::now() >= deadline {
            tracing::warn!(
                "dist_ac: {} still runs at {} after 30 s (partition healed)",
                app.name,
                node.name
            );
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The value of `{Key, Value}` in a list (`proplists:get_value/2`).
fn keyfind(list: &Term, key: &str) -> Option<Term> {
    list.as_list()?
        .iter()
        .find(|e| e.elem(0).and_then(TermExt::as_atom) == Some(key))
        .and_then(|e| e.elem(1).cloned())
}
