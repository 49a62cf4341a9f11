//! The `application_controller` process — mirrors
//! [`lib/kernel/src/application_controller.erl`](https://github.com/erlang/otp/blob/OTP-25.2.3/lib/kernel/src/application_controller.erl)
//! for what a node running Rust applications needs: load (env merged from
//! the `.app` defaults, sys.config and `-App Par Val`), start (with the
//! dist_ac protocol for controlled applications), stop, restart types,
//! `which_applications`, and the AC side of `ac_*` messages.
//!
//! Requests arrive as gen_server calls (`{load_application, App}`,
//! `{start_application, App, Type}`, `{stop_application, App}`,
//! `which_applications`, `{control_application, App}`,
//! `{permit_application, App, Bool}`), so a BEAM node can make them too.

use super::app::{AppContext, RestartType, StartType};
use super::master;
use crate::kernel::dist_ac::msg::{ChangeReq, FromAc, StartReply, ToAc};
use crate::kernel::rex::Registry;
use crate::runtime::{GenCall, GenFrom, Node, Process};
use crate::term;
use crate::term::{Atom, Pid, Term, TermExt, atom, charlist, list};
use std::collections::HashMap;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

/// `{App, Key}` → value.
pub(crate) type EnvTable = HashMap<(String, String), Term>;

/// What stops the node when OTP would halt it (a permanent application
/// exited, dist_ac crashed, kernel_config failed): exit code and the line
/// OTP prints.
pub type HaltFn = Arc<dyn Fn(i32, String) + Send + Sync>;

/// The default [`HaltFn`]: print the line on stderr and exit.
pub fn default_halt() -> HaltFn {
    Arc::new(|code, line| {
        eprintln!("{line}");
        std::process::exit(code);
    })
}

/// State shared between the AC process and its handles.
pub(crate) struct Shared {
    pub(crate) available: RwLock<HashMap<String, Arc<dyn super::DynApplication>>>,
    pub(crate) env: Arc<RwLock<EnvTable>>,
    /// sys.config per application (`[{App, [{Par, Val}]}]`).
    pub(crate) config_env: Vec<(String, Vec<(String, Term)>)>,
    /// `-App Par Val`.
    pub(crate) cmdline_env: Vec<(String, String, Term)>,
    /// [`super::AcConfig::release_boot`].
    pub(crate) release_boot: bool,
    /// `length(which_applications())`: dist_ac's weight.
    pub(crate) weight: Arc<AtomicI64>,
    /// `[{Name, Descr, Vsn}]` of running / loaded applications.
    pub(crate) which: RwLock<(Vec<Term>, Vec<Term>)>,
    /// The start type each running application was started with.
    pub(crate) start_types: RwLock<HashMap<String, StartType>>,
    pub(crate) rpc: Registry,
    pub(crate) global: RwLock<Arc<dyn super::app::GlobalNames>>,
    pub(crate) halt: HaltFn,
}

/// What the AC knows about a running application.
#[derive(Debug, Clone, PartialEq)]
enum RunId {
    /// Its application master.
    Master(Pid),
    /// `{distributed, Node}` (`Node = []` after `stop_it`).
    Distributed(Option<Atom>),
    /// Kernel-level application without processes of its own.
    CodeOnly,
}

struct Loaded {
    app: Option<Arc<dyn super::DynApplication>>,
    descr: String,
    vsn: String,
    deps: Vec<String>,
    has_phases: bool,
}

struct Starting {
    app: String,
    rt: RestartType,
    typ: StartType,
}

/// The AC's state (`#state{}`).
struct Ac {
    shared: Arc<Shared>,
    loaded: Vec<(String, Loaded)>,
    loading: Vec<(String, GenFrom)>,
    starting: Vec<Starting>,
    start_req: Vec<(String, Option<GenFrom>)>,
    running: Vec<(String, RunId)>,
    started: Vec<(String, RestartType)>,
    control: Vec<(String, Pid)>,
}

/// Starts the `application_controller` process with `kernel` and `stdlib`
/// running as on a BEAM node (they count in the weight, see the module doc
/// of [`super`]).
pub(crate) fn start(node: &Node, shared: Arc<Shared>) -> Pid {
    let pid = node.spawn(move |mut p| async move {
        p.trap_exit(true);
        let version = env!("CARGO_PKG_VERSION");
        let mut ac = Ac {
            shared,
            loaded: Vec::new(),
            loading: Vec::new(),
            starting: Vec::new(),
            start_req: Vec::new(),
            running: Vec::new(),
            started: Vec::new(),
            control: Vec::new(),
        };
        for (name, descr) in [
            (
                "kernel",
                "distro kernel (Rust): net_kernel, rex, global, dist_ac",
            ),
            (
                "stdlib",
                "distro runtime (Rust), in place of Erlang's stdlib",
            ),
        ] {
            ac.loaded.push((
                name.into(),
                Loaded {
                    app: None,
                    descr: descr.into(),
                    vsn: version.into(),
                    deps: Vec::new(),
                    has_phases: false,
                },
            ));
            ac.load_env(name, &[]);
            ac.running.insert(0, (name.into(), RunId::CodeOnly));
            ac.started.insert(0, (name.into(), RestartType::Permanent));
        }
        if ac.shared.release_boot {
            ac.shared.preload_configured_env();
        }
        ac.publish();
        loop {
            let msg = p.recv().await;
            ac.handle(&mut p, msg).await;
            ac.publish();
        }
    });
    // Registered before start returns, so that a call right after the
    // boot finds it (registering inside the process raced with them).
    if !node
        .inner
        .register(&Atom::from("application_controller"), &pid)
    {
        tracing::error!("application_controller is already registered");
        node.exit(&pid, atom("kill"));
    }
    pid
}

fn app_atom(s: &str) -> Term {
    atom(s)
}

fn err(reason: Term) -> Term {
    term!({error, (reason)})
}

impl Ac {
    fn publish(&self) {
        let entry = |name: &str| {
            self.loaded
                .iter()
                .find(|(n, _)| n == name)
                .map(|(n, l)| term!({(atom(n)), (charlist(&l.descr)), (charlist(&l.vsn))}))
        };
        let which: Vec<Term> = self
            .running
            .iter()
            .filter(|(_, id)| !matches!(id, RunId::Distributed(_)))
            .filter_map(|(n, _)| entry(n))
            .collect();
        let loaded: Vec<Term> = self
            .loaded
            .iter()
            .rev()
            .filter_map(|(n, _)| entry(n))
            .collect();
        self.shared
            .weight
            .store(which.len() as i64, Ordering::SeqCst);
        *self.shared.which.write().unwrap_or_else(|e| e.into_inner()) = (which, loaded);
    }

    fn load_env(&self, app: &str, defaults: &[(String, Term)]) {
        self.shared.load_env(app, defaults);
    }

    fn is_loaded(&self, app: &str) -> bool {
        self.loaded.iter().any(|(n, _)| n == app)
    }

    /// Answers a caller. The shared view (`which_applications`, the
    /// weight) is published first, so that what the caller does next sees
    /// the state its answer describes, as a call to OTP's AC queued behind
    /// this message would.
    fn reply(&self, p: &Process, to: &GenFrom, r: Term) {
        self.publish();
        p.reply(to, r);
    }

    /// `cntrl/3`: tells the application's controller (dist_ac), if it has
    /// one.
    fn cntrl(&self, p: &Process, app: &str, msg: FromAc) -> bool {
        match self.control.iter().find(|(a, _)| a == app) {
            Some((_, pid)) => {
                // dist_ac reads the weight this publishes.
                self.publish();
                p.send(pid, msg.to_term());
                true
            }
            None => false,
        }
    }

    async fn handle(&mut self, p: &mut Process, msg: Term) {
        let msg = match GenCall::take(msg) {
            Ok(call) => return self.handle_call(p, call).await,
            Err(msg) => msg,
        };
        match ToAc::from_term(&msg) {
            Some(ToAc::LoadReply(app)) => {
                if let Some(i) = self.loading.iter().position(|(a, _)| *a == app.name) {
                    let (_, from) = self.loading.remove(i);
                    self.reply(p, &from, atom("ok"));
                }
                return;
            }
            Some(ToAc::StartReply(app, r)) => return self.start_reply(p, &app.name, r).await,
            Some(ToAc::ChangeReq(app, r)) => return self.change_req(p, &app.name, r).await,
            Some(ToAc::ControlApplication(_)) | None => {}
        }
        let Some(e) = msg.as_tuple() else { return };
        let tag = e.first().and_then(TermExt::as_atom).unwrap_or("");
        let app = e.get(1).and_then(TermExt::as_atom).map(str::to_owned);
        match (tag, app, e.len()) {
            ("application_started", Some(app), 3) => {
                let res = e[2].clone();
                self.application_started(p, &app, res).await;
            }
            ("EXIT", _, 3) => {
                if let Term::Pid(pid) = &e[1] {
                    self.exit(p, pid.clone(), e[2].clone()).await;
                }
            }
            _ => {}
        }
    }

    async fn handle_call(&mut self, p: &mut Process, call: GenCall) {
        let req = call.request.clone();
        let reply = match (req.tuple_tag().or(req.as_atom()), req.as_tuple()) {
            (Some("which_applications"), _) => Some(list(self.which_applications())),
            (Some("loaded_applications"), _) => {
                let r = self.shared.which.read().unwrap_or_else(|e| e.into_inner());
                Some(list(r.1.clone()))
            }
            (Some("load_application"), Some([_, Term::Atom(a)])) => {
                self.load_application(p, &a.name, call.from.clone())
            }
            (Some("start_application"), Some([_, Term::Atom(a), Term::Atom(rt)])) => {
                match RestartType::parse(&rt.name) {
                    Some(rt) => self.start_application(p, &a.name, rt, call.from.clone()),
                    None => Some(err(term!({invalid_restart_type, (Term::Atom(rt.clone()))}))),
                }
            }
            (Some("stop_application"), Some([_, Term::Atom(a)])) => {
                Some(self.stop_application(p, &a.name).await)
            }
            (Some("control_application"), Some([_, Term::Atom(a)])) => {
                if self.control.iter().any(|(n, _)| *n == a.name) {
                    Some(atom("false"))
                } else {
                    p.link(&call.from.pid);
                    self.control
                        .insert(0, (a.name.clone(), call.from.pid.clone()));
                    Some(atom("true"))
                }
            }
            (Some("permit_application"), Some([_, Term::Atom(a), b])) => {
                Some(self.permit(p, &a.name, b.as_bool().unwrap_or(true)).await)
            }
            (Some("is_running"), Some([_, Term::Atom(a)])) => Some(crate::term::boolean(
                self.running.iter().any(|(n, _)| *n == a.name),
            )),
            _ => Some(err(atom("badarg"))),
        };
        if let Some(r) = reply {
            self.reply(p, &call.from, r);
        }
    }

    fn which_applications(&self) -> Vec<Term> {
        self.shared
            .which
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .0
            .clone()
    }

    fn load_application(&mut self, p: &Process, app: &str, from: GenFrom) -> Option<Term> {
        if self.is_loaded(app) {
            return Some(err(term!({already_loaded, (app_atom(app))})));
        }
        let available = self
            .shared
            .available
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(app)
            .cloned();
        let Some(a) = available else {
            // What OTP answers when no .app file is found.
            let file = charlist(&format!("{app}.app"));
            return Some(err(
                term!({(charlist("no such file or directory")), (file)}),
            ));
        };
        let spec = a.spec();
        self.load_env(app, &spec.env);
        a.load(self.context(p, app));
        self.loaded.push((
            app.to_owned(),
            Loaded {
                app: Some(a),
                descr: spec.description.clone(),
                vsn: spec.vsn.clone(),
                deps: spec.applications.clone(),
                has_phases: spec.start_phases.is_some(),
            },
        ));
        if self.cntrl(p, app, FromAc::LoadReq(Atom::from(app))) {
            self.loading.insert(0, (app.to_owned(), from));
            None
        } else {
            Some(atom("ok"))
        }
    }

    fn start_application(
        &mut self,
        p: &Process,
        app: &str,
        rt: RestartType,
        from: GenFrom,
    ) -> Option<Term> {
        if self.start_req.iter().any(|(a, _)| a == app) {
            self.start_req.insert(0, (app.to_owned(), Some(from)));
            return None;
        }
        // check_start_cond/4
        let Some((_, l)) = self.loaded.iter().find(|(n, _)| n == app) else {
            return Some(err(term!({not_loaded, (app_atom(app))})));
        };
        if self.running.iter().any(|(n, _)| n == app) {
            return Some(err(term!({already_started, (app_atom(app))})));
        }
        for d in &l.deps {
            if !self.started.iter().any(|(n, _)| n == d) {
                return Some(err(term!({not_started, (app_atom(d))})));
            }
        }
        if !self.cntrl(p, app, FromAc::StartReq(Atom::from(app))) {
            self.spawn_starter(p, app, StartType::Normal);
        }
        self.starting.insert(
            0,
            Starting {
                app: app.to_owned(),
                rt,
                typ: StartType::Normal,
            },
        );
        self.start_req.insert(0, (app.to_owned(), Some(from)));
        None
    }

    /// The context an application's callbacks get.
    fn context(&self, p: &Process, app: &str) -> AppContext {
        AppContext {
            node: p.node().clone(),
            app: app.to_owned(),
            rpc: self.shared.rpc.clone(),
            global: self
                .shared
                .global
                .read()
                .unwrap_or_else(|e| e.into_inner())
                .clone(),
            env: self.shared.env.clone(),
            master: None,
        }
    }

    fn spawn_starter(&self, p: &Process, app: &str, typ: StartType) {
        let Some((_, l)) = self.loaded.iter().find(|(n, _)| n == app) else {
            return;
        };
        let Some(a) = l.app.clone() else { return };
        let ctx = self.context(p, app);
        let ac = p.pid().clone();
        p.spawn_link(move |mp| master::run(mp, ac, a, ctx, typ));
    }

    /// `reply_to_requester/3`.
    fn reply_to_requester(&mut self, p: &Process, app: &str, res: &Term) {
        let r = match res.tuple_tag() {
            Some("ok") => atom("ok"),
            Some("info") => err(res.elem(1).cloned().unwrap_or_else(|| atom("undefined"))),
            _ => res.clone(),
        };
        let (mine, rest): (Vec<_>, Vec<_>) = std::mem::take(&mut self.start_req)
            .into_iter()
            .partition(|(a, _)| a == app);
        self.start_req = rest;
        for (_, f) in mine.into_iter().flat_map(|(a, f)| f.map(|f| (a, f))) {
            self.reply(p, &f, r.clone());
        }
    }

    /// `handle_application_started/3`: `Res` is `{ok, MasterPid}`,
    /// `{ok, {distributed, Node}}` or `{error, R}`.
    async fn application_started(&mut self, p: &Process, app: &str, res: Term) {
        // OTP replies to the requester first and then updates its tables;
        // its callers only look again through calls queued behind this
        // message. Here they read the published view at once, so the
        // tables are updated first (the messages keep OTP's order).
        let Some(i) = self.starting.iter().position(|s| s.app == app) else {
            self.reply_to_requester(p, app, &res);
            return;
        };
        let s = self.starting.remove(i);
        match (res.tuple_tag(), res.elem(1)) {
            (Some("ok"), Some(id)) => {
                let (run_id, at) = match id {
                    Term::Pid(pid) => (RunId::Master(pid.clone()), p.node().name().clone()),
                    t => {
                        let n = t.elem(1).and_then(TermExt::as_atom).map(Atom::from);
                        let at = n.clone().unwrap_or_else(|| p.node().name().clone());
                        (RunId::Distributed(n), at)
                    }
                };
                let local = matches!(run_id, RunId::Master(_));
                match self.running.iter_mut().find(|(n, _)| n == app) {
                    Some(e) => e.1 = run_id,
                    None => self.running.insert(0, (app.to_owned(), run_id)),
                }
                match self.started.iter_mut().find(|(n, _)| n == app) {
                    Some(e) => e.1 = s.rt,
                    None => self.started.insert(0, (app.to_owned(), s.rt)),
                }
                if local {
                    self.shared
                        .start_types
                        .write()
                        .unwrap_or_else(|e| e.into_inner())
                        .insert(app.to_owned(), s.typ.clone());
                }
                self.reply_to_requester(p, app, &res);
                if local {
                    tracing::info!(
                        application = app,
                        started_at = %at.name,
                        "Application {app} started at '{}'",
                        at.name
                    );
                    self.cntrl(p, app, FromAc::Run(Atom::from(app), Ok(())));
                }
            }
            _ => {
                self.reply_to_requester(p, app, &res);
                let r = res.elem(1).cloned().unwrap_or_else(|| atom("undefined"));
                self.cntrl(p, app, FromAc::Run(Atom::from(app), Err(err(r.clone()))));
                info_exited(app, &r, s.rt);
                if s.rt != RestartType::Temporary {
                    let reason = format!(
                        "{{application_start_failure,{app},{}}}",
                        crate::kernel::kernel_config::erl_format(&r)
                    );
                    self.halt(reason);
                }
            }
        }
    }

    async fn start_reply(&mut self, p: &Process, app: &str, res: StartReply) {
        let Some(i) = self.starting.iter().position(|s| s.app == app) else {
            return;
        };
        match res {
            StartReply::StartIt => {
                let typ = self.starting[i].typ.clone();
                self.spawn_starter(p, app, typ);
            }
            StartReply::Started(n) => {
                let ok = term!({ok, {distributed, (Term::Atom(n))}});
                Box::pin(self.application_started(p, app, ok)).await;
            }
            StartReply::NotStarted => {
                self.reply_to_requester(p, app, &atom("ok"));
                let s = self.starting.remove(i);
                self.started.insert(0, (app.to_owned(), s.rt));
            }
            StartReply::Takeover(n) => {
                let typ = StartType::Takeover(n);
                self.starting[i].typ = typ.clone();
                self.spawn_starter(p, app, typ);
            }
            StartReply::Error(e) => {
                self.reply_to_requester(p, app, &err(e.clone()));
                let s = self.starting.remove(i);
                if s.rt == RestartType::Permanent {
                    self.halt(crate::kernel::kernel_config::erl_format(&e).to_string());
                }
            }
        }
    }

    /// `do_start/5`.
    fn do_start(&mut self, p: &Process, app: &str, rt: Option<RestartType>, typ: StartType) {
        let rt = self
            .started
            .iter()
            .find(|(n, _)| n == app)
            .map(|(_, old)| rt.unwrap_or(*old))
            .or(rt)
            .unwrap_or(RestartType::Temporary);
        if self.start_req.iter().any(|(a, _)| a == app) {
            return;
        }
        self.spawn_starter(p, app, typ.clone());
        if !self.starting.iter().any(|s| s.app == app) {
            self.starting.insert(
                0,
                Starting {
                    app: app.to_owned(),
                    rt,
                    typ,
                },
            );
        }
        self.start_req.insert(0, (app.to_owned(), None));
    }

    async fn change_req(&mut self, p: &mut Process, app: &str, req: ChangeReq) {
        let rt = |r: &Option<Atom>| r.as_ref().and_then(|a| RestartType::parse(&a.name));
        let running = self
            .running
            .iter()
            .find(|(n, _)| n == app)
            .map(|(_, id)| id.clone());
        let started = self.started.iter().find(|(n, _)| n == app).map(|(_, t)| *t);
        let run_ok = FromAc::Run(Atom::from(app), Ok(()));
        match (running, started) {
            (Some(id), Some(typ)) => match req {
                ChangeReq::Started(n) => {
                    stop_appl(p, app, &id, typ).await;
                    self.running.retain(|(a, _)| a != app);
                    self.running
                        .insert(0, (app.to_owned(), RunId::Distributed(Some(n))));
                }
                ChangeReq::Takeover(..) | ChangeReq::Failover(..)
                    if matches!(id, RunId::Master(_)) =>
                {
                    self.cntrl(p, app, run_ok);
                }
                ChangeReq::Takeover(n, r) => {
                    self.do_start(p, app, rt(&r), StartType::Takeover(n));
                }
                ChangeReq::Failover(n, r) => {
                    let typ = if self.has_phases(app) {
                        StartType::Failover(n)
                    } else {
                        // Backwards compatible: no start_phases, no failover type.
                        StartType::Normal
                    };
                    self.do_start(p, app, rt(&r), typ);
                }
                ChangeReq::StopIt => {
                    stop_appl(p, app, &id, typ).await;
                    self.cntrl(p, app, FromAc::NotRun(Atom::from(app)));
                    if let Some(e) = self.running.iter_mut().find(|(n, _)| n == app) {
                        e.1 = RunId::Distributed(None);
                    }
                }
                ChangeReq::StartIt if matches!(id, RunId::Master(_)) => {
                    self.cntrl(p, app, run_ok);
                }
                ChangeReq::StartIt => self.do_start(p, app, None, StartType::Normal),
                ChangeReq::NotRunning => self.running.retain(|(n, _)| n != app),
            },
            (running, started) => match req {
                ChangeReq::StartIt if running.is_none() && self.is_loaded(app) => {
                    if self.starting.iter().any(|s| s.app == app) {
                        self.do_start(p, app, None, StartType::Normal);
                    } else if started.is_some() {
                        self.do_start(p, app, None, StartType::Normal);
                        self.started.retain(|(n, _)| n != app);
                    }
                }
                ChangeReq::Started(n) => {
                    self.running.retain(|(a, _)| a != app);
                    self.running
                        .insert(0, (app.to_owned(), RunId::Distributed(Some(n))));
                }
                _ => {}
            },
        }
    }

    fn has_phases(&self, app: &str) -> bool {
        self.loaded
            .iter()
            .find(|(n, _)| n == app)
            .is_some_and(|(_, l)| l.has_phases)
    }

    async fn stop_application(&mut self, p: &mut Process, app: &str) -> Term {
        let running = self
            .running
            .iter()
            .find(|(n, _)| n == app)
            .map(|(_, id)| id.clone());
        let started = self.started.iter().find(|(n, _)| n == app).map(|(_, t)| *t);
        let stopped = FromAc::Stopped(Atom::from(app));
        match (running, started) {
            (Some(id), Some(typ)) => {
                stop_appl(p, app, &id, typ).await;
                self.running.retain(|(n, _)| n != app);
                self.started.retain(|(n, _)| n != app);
                self.cntrl(p, app, stopped);
                atom("ok")
            }
            (_, Some(_)) => {
                self.started.retain(|(n, _)| n != app);
                self.cntrl(p, app, stopped);
                atom("ok")
            }
            _ => err(term!({not_started, (app_atom(app))})),
        }
    }

    async fn permit(&mut self, p: &mut Process, app: &str, permitted: bool) -> Term {
        {
            let mut env = self.shared.env.write().unwrap_or_else(|e| e.into_inner());
            let key = ("kernel".to_owned(), "permissions".to_owned());
            let mut perms: Vec<Term> = env
                .get(&key)
                .and_then(|t| t.as_list().map(|l| l.into_owned()))
                .unwrap_or_default();
            perms.retain(|t| t.elem(0).and_then(TermExt::as_atom) != Some(app));
            perms.insert(0, term!({(atom(app)), (crate::term::boolean(permitted))}));
            env.insert(key, list(perms));
        }
        if !self.is_loaded(app) {
            return err(term!({not_loaded, (app_atom(app))}));
        }
        if self.control.iter().any(|(n, _)| n == app) {
            let starting = self.starting.iter().any(|s| s.app == app);
            let started = self.started.iter().any(|(n, _)| n == app);
            return if !starting && !started {
                term!({distributed_application, only_loaded})
            } else {
                atom("distributed_application")
            };
        }
        // Local applications: stop it when running and not permitted.
        if !permitted {
            let running = self
                .running
                .iter()
                .find(|(n, _)| n == app)
                .map(|(_, i)| i.clone());
            let typ = self.started.iter().find(|(n, _)| n == app).map(|(_, t)| *t);
            if let (Some(id), Some(typ)) = (running, typ) {
                stop_appl(p, app, &id, typ).await;
                self.running.retain(|(n, _)| n != app);
            }
        }
        atom("ok")
    }

    /// An application master (or a controller) exited.
    async fn exit(&mut self, p: &mut Process, pid: Pid, reason: Term) {
        let app = self
            .running
            .iter()
            .find(|(_, id)| *id == RunId::Master(pid.clone()))
            .map(|(n, _)| n.clone());
        let Some(app) = app else {
            self.control.retain(|(_, c)| *c != pid);
            return;
        };
        self.running.retain(|(n, _)| *n != app);
        self.cntrl(p, &app, FromAc::Stopped(Atom::from(app.as_str())));
        let typ = self
            .started
            .iter()
            .find(|(n, _)| *n == app)
            .map_or(RestartType::Temporary, |(_, t)| *t);
        info_exited(&app, &reason, typ);
        let normal = reason.as_atom() == Some("normal");
        match typ {
            RestartType::Temporary => {}
            RestartType::Transient if normal => {}
            _ => {
                self.sync_controller(p, &app).await;
                self.halt_after_stop(
                    p,
                    format!(
                        "{{application_terminated,{app},{}}}",
                        crate::kernel::kernel_config::erl_format(&reason)
                    ),
                );
            }
        }
    }

    /// Waits until the controller (dist_ac) of `app` has handled what this
    /// process sent it (a call queued behind `ac_application_stopped`), so
    /// that the other nodes hear `dist_ac_app_stopped` before this node
    /// halts, as they do from a BEAM node (its halt waits for kernel to
    /// shut down).
    async fn sync_controller(&self, p: &mut Process, app: &str) {
        let Some((_, pid)) = self.control.iter().find(|(a, _)| a == app).cloned() else {
            return;
        };
        let _ = p
            .call(&pid, atom("get_known_nodes"), Duration::from_secs(5))
            .await;
    }

    /// The AC stops with `Reason` and the node halts, once its processes
    /// ended and what they sent to other nodes is written (init's halt after
    /// `Kernel pid terminated`).
    fn halt_after_stop(&self, p: &Process, reason: String) {
        let line = format!("Kernel pid terminated (application_controller) ({reason})");
        tracing::error!("{line}");
        let node = p.node().clone();
        let halt = self.shared.halt.clone();
        tokio::spawn(async move {
            node.stop().await;
            halt(1, line);
        });
    }

    /// The AC stops with `Reason`: on BEAM, init prints
    /// `Kernel pid terminated (application_controller) (Reason)` and halts.
    fn halt(&self, reason: String) {
        let line = format!("Kernel pid terminated (application_controller) ({reason})");
        tracing::error!("{line}");
        (self.shared.halt)(1, line);
    }
}

/// `stop_appl/3`: stop the master and wait for it.
async fn stop_appl(p: &mut Process, app: &str, id: &RunId, typ: RestartType) {
    match id {
        RunId::Master(m) => {
            p.unlink(m);
            let mref = p.monitor(m);
            p.send(m, term!({terminate, (Term::Pid(p.pid().clone()))}));
            let r = Term::Reference(Box::new(mref));
            let _ = p
                .receive_timeout(Duration::from_secs(3600), |m| {
                    m.tuple_tag() == Some("DOWN") && m.elem(1) == Some(&r)
                })
                .await;
            info_exited(app, &atom("stopped"), typ);
        }
        RunId::CodeOnly => info_exited(app, &atom("stopped"), typ),
        RunId::Distributed(_) => {}
    }
}

/// `info_exited/3`: the `{application_controller, exit}` report.
fn info_exited(app: &str, reason: &Term, typ: RestartType) {
    tracing::info!(
        application = app,
        exited = %crate::kernel::kernel_config::erl_format(reason),
        r#type = typ.as_str(),
        "Application {app} exited: {}",
        crate::kernel::kernel_config::erl_format(reason)
    );
}
