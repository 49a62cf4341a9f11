//! The sans-IO application controller — the decisions of
//! [`lib/kernel/src/application_controller.erl`](https://github.com/erlang/otp/blob/OTP-25.2.3/lib/kernel/src/application_controller.erl)
//! (`#state{loading, starting, start_req, running, control}`): load, start
//! (directly or through the application's controller, dist_ac), stop,
//! restart types, and the AC side of the `ac_*` protocol with dist_ac.
//!
//! [`AcCore`] is fed [`Input`]s with [`AcCore::handle`] and hands out
//! [`Output`]s with [`AcCore::poll_output`]; it never touches a process, a
//! mailbox or a clock (the AC has no timers). The driver
//! (`controller.rs`) turns the outputs into replies, sends to dist_ac,
//! application masters started and stopped, environment updates and halts,
//! in order; the dist_ac simulation (`dist_ac/sim_test.rs`) runs the same
//! core against simulated masters.
//!
//! ```text
//!  Input::Call (load/start/stop/permit/control/which) ┌────────┐ ─► Output::Reply
//!  Input::DistAc (ToAc: ac_*_reply, ac_change_*)  ──► │ AcCore │ ─► Output::ToDistAc (FromAc: ac_*)
//!  Input::MasterStarted / Exit (application masters)  └────────┘ ─► Output::Load / StartMaster /
//!                                                                   StopMaster / SetPermission /
//!                                                                   Link / Halt / Terminate
//! ```
//!
//! OTP's `stop_appl/3` blocks the AC until the master is down; here it is
//! an [`Output::StopMaster`] the driver awaits before it carries out the
//! outputs after it, so what follows a stop (the `ac_*` message, the reply)
//! still comes after the application is gone.

mod types;

pub(crate) use types::{CallId, Input, LoadSpec, Output, Request};

use super::app::{RestartType, StartType};
use crate::kernel::dist_ac::msg::{ChangeReq, FromAc, StartReply, ToAc};
use crate::kernel::kernel_config::erl_format;
use crate::term;
use crate::term::{Atom, Pid, Term, TermExt, atom, charlist};
use std::collections::VecDeque;

/// What the AC knows about a running application (`#state.running`).
#[derive(Debug, Clone, PartialEq)]
enum RunId {
    /// Its application master.
    Master(Pid),
    /// `{distributed, Node}` (`Node = []` after `stop_it`).
    Distributed(Option<Atom>),
    /// Kernel-level application without processes of its own.
    CodeOnly,
}

/// How a start ended (`handle_application_started/3`'s `{ok, Id}`).
#[derive(Debug, Clone, PartialEq)]
enum StartedId {
    Master(Pid),
    Distributed(Atom),
}

#[derive(Debug, Clone, PartialEq)]
struct Loaded {
    descr: String,
    vsn: String,
    deps: Vec<String>,
    has_phases: bool,
    /// kernel and stdlib: nothing to start.
    code_only: bool,
}

#[derive(Debug, Clone, PartialEq)]
struct Starting {
    app: String,
    rt: RestartType,
    typ: StartType,
}

/// The published view: what `application:which_applications/0`,
/// `loaded_applications/0` and dist_ac's weight read without a call.
#[derive(Debug, Clone, PartialEq, Default)]
pub(crate) struct View {
    /// `[{Name, Descr, Vsn}]` of running applications, newest first.
    pub(crate) which: Vec<Term>,
    /// `[{Name, Descr, Vsn}]` of loaded applications.
    pub(crate) loaded: Vec<Term>,
    /// The start type of every application that was started here.
    pub(crate) start_types: Vec<(String, StartType)>,
}

/// The AC's state (`#state{}`).
#[derive(Debug, Clone)]
pub(crate) struct AcCore {
    me: Atom,
    loaded: Vec<(String, Loaded)>,
    loading: Vec<(String, CallId)>,
    starting: Vec<Starting>,
    start_req: Vec<(String, Option<CallId>)>,
    running: Vec<(String, RunId)>,
    started: Vec<(String, RestartType)>,
    control: Vec<(String, Pid)>,
    start_types: Vec<(String, StartType)>,
    out: VecDeque<Output>,
}

fn err(reason: Term) -> Term {
    term!({error, (reason)})
}

fn app_atom(s: &str) -> Term {
    atom(s)
}

fn find<'a, T>(v: &'a [(String, T)], app: &str) -> Option<&'a T> {
    v.iter().find(|(n, _)| n == app).map(|(_, t)| t)
}

/// `info_exited/3`: the `{application_controller, exit}` report.
pub(crate) fn info_exited(app: &str, reason: &Term, typ: RestartType) {
    tracing::info!(
        application = app,
        exited = %erl_format(reason),
        r#type = typ.as_str(),
        "Application {app} exited: {}",
        erl_format(reason)
    );
}

impl AcCore {
    /// The AC of node `me` with `kernel` and `stdlib` (version `vsn`)
    /// loaded and running, as on a BEAM node (they count in the weight);
    /// their [`Output::Load`]s are the first outputs.
    pub(crate) fn new(me: Atom, vsn: &str) -> Self {
        let mut s = Self {
            me,
            loaded: Vec::new(),
            loading: Vec::new(),
            starting: Vec::new(),
            start_req: Vec::new(),
            running: Vec::new(),
            started: Vec::new(),
            control: Vec::new(),
            start_types: Vec::new(),
            out: VecDeque::new(),
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
            s.loaded.push((
                name.into(),
                Loaded {
                    descr: descr.into(),
                    vsn: vsn.into(),
                    deps: Vec::new(),
                    has_phases: false,
                    code_only: true,
                },
            ));
            s.out.push_back(Output::Load {
                app: name.into(),
                env: Vec::new(),
            });
            s.running.insert(0, (name.into(), RunId::CodeOnly));
            s.started.insert(0, (name.into(), RestartType::Permanent));
        }
        s
    }

    /// The next command, in order.
    pub(crate) fn poll_output(&mut self) -> Option<Output> {
        self.out.pop_front()
    }

    /// `which_applications/0`: `{Name, Descr, Vsn}` of the applications
    /// running here (not those running elsewhere), newest first.
    pub(crate) fn which_applications(&self) -> Vec<Term> {
        (self.running.iter())
            .filter(|(_, id)| !matches!(id, RunId::Distributed(_)))
            .filter_map(|(n, _)| self.entry(n))
            .collect()
    }

    /// `loaded_applications/0`.
    pub(crate) fn loaded_applications(&self) -> Vec<Term> {
        (self.loaded.iter().rev())
            .filter_map(|(n, _)| self.entry(n))
            .collect()
    }

    /// dist_ac's weight: `length(which_applications())`.
    pub(crate) fn weight(&self) -> i64 {
        let n = (self.running.iter())
            .filter(|(_, id)| !matches!(id, RunId::Distributed(_)))
            .count();
        i64::try_from(n).unwrap_or(i64::MAX)
    }

    /// What the driver publishes.
    pub(crate) fn view(&self) -> View {
        View {
            which: self.which_applications(),
            loaded: self.loaded_applications(),
            start_types: self.start_types.clone(),
        }
    }

    /// The start type of `app` if its master runs here.
    #[cfg(test)]
    pub(crate) fn runs_here(&self, app: &str) -> Option<&StartType> {
        match find(&self.running, app) {
            Some(RunId::Master(_)) => find(&self.start_types, app),
            _ => None,
        }
    }

    /// Where the AC believes `app` runs: `Some(None)` here, `Some(Some(N))`
    /// at `N` (`{distributed, N}`; `[]` after `stop_it` is `None`).
    #[cfg(test)]
    pub(crate) fn runs_at(&self, app: &str) -> Option<Option<Atom>> {
        match find(&self.running, app)? {
            RunId::Distributed(n) => Some(Some(n.clone().unwrap_or_else(|| Atom::from("[]")))),
            RunId::Master(_) | RunId::CodeOnly => Some(None),
        }
    }

    fn entry(&self, name: &str) -> Option<Term> {
        find(&self.loaded, name)
            .map(|l| term!({(atom(name)), (charlist(&l.descr)), (charlist(&l.vsn))}))
    }

    fn is_loaded(&self, app: &str) -> bool {
        find(&self.loaded, app).is_some()
    }

    fn reply(&mut self, call: CallId, reply: Term) {
        self.out.push_back(Output::Reply { call, reply });
    }

    /// `cntrl/3`: tells the application's controller, if it has one.
    fn cntrl(&mut self, app: &str, msg: FromAc) -> bool {
        match find(&self.control, app) {
            Some(pid) => {
                let to = pid.clone();
                self.out.push_back(Output::ToDistAc { to, msg });
                true
            }
            None => false,
        }
    }

    /// `stop_appl/3`.
    fn stop_appl(&mut self, app: &str, id: &RunId, typ: RestartType) {
        let master = match id {
            RunId::Master(m) => Some(m.clone()),
            RunId::CodeOnly => None,
            RunId::Distributed(_) => return,
        };
        self.out.push_back(Output::StopMaster {
            app: app.to_owned(),
            master,
            typ,
        });
    }

    fn set_running(&mut self, app: &str, id: RunId) {
        match self.running.iter_mut().find(|(n, _)| n == app) {
            Some(e) => e.1 = id,
            None => self.running.insert(0, (app.to_owned(), id)),
        }
    }

    /// Handles one input.
    pub(crate) fn handle(&mut self, input: Input) {
        match input {
            Input::Call { id, caller, req } => self.handle_call(id, caller, req),
            Input::DistAc(ToAc::LoadReply(app)) => {
                if let Some(i) = self.loading.iter().position(|(a, _)| *a == app.name) {
                    let (_, call) = self.loading.remove(i);
                    self.reply(call, atom("ok"));
                }
            }
            Input::DistAc(ToAc::StartReply(app, r)) => self.start_reply(&app.name, r),
            Input::DistAc(ToAc::ChangeReq(app, r)) => self.change_req(&app.name, r),
            // A call: see Request::ControlApplication.
            Input::DistAc(ToAc::ControlApplication(_)) => {}
            Input::MasterStarted { app, result } => {
                self.application_started(&app, result.map(StartedId::Master));
            }
            Input::Exit { pid, reason } => self.exit(pid, reason),
        }
    }

    fn handle_call(&mut self, id: CallId, caller: Pid, req: Request) {
        let reply = match req {
            Request::WhichApplications => Some(crate::term::list(self.which_applications())),
            Request::LoadedApplications => Some(crate::term::list(self.loaded_applications())),
            Request::Load { app, spec } => self.load_application(&app, spec, id),
            Request::Start {
                app,
                restart_type: Ok(rt),
            } => self.start_application(&app, rt, id),
            Request::Start {
                restart_type: Err(t),
                ..
            } => Some(err(term!({invalid_restart_type, (t)}))),
            Request::Stop { app } => Some(self.stop_application(&app)),
            Request::ControlApplication { app } => {
                if find(&self.control, &app).is_some() {
                    Some(atom("false"))
                } else {
                    self.out.push_back(Output::Link(caller.clone()));
                    self.control.insert(0, (app, caller));
                    Some(atom("true"))
                }
            }
            Request::Permit { app, permitted } => Some(self.permit(&app, permitted)),
            Request::IsRunning { app } => {
                Some(crate::term::boolean(find(&self.running, &app).is_some()))
            }
            Request::Other => Some(err(atom("badarg"))),
        };
        if let Some(r) = reply {
            self.reply(id, r);
        }
    }

    fn load_application(
        &mut self,
        app: &str,
        spec: Option<LoadSpec>,
        call: CallId,
    ) -> Option<Term> {
        if self.is_loaded(app) {
            return Some(err(term!({already_loaded, (app_atom(app))})));
        }
        let Some(spec) = spec else {
            // What OTP answers when no .app file is found.
            let file = charlist(&format!("{app}.app"));
            return Some(err(
                term!({(charlist("no such file or directory")), (file)}),
            ));
        };
        self.out.push_back(Output::Load {
            app: app.to_owned(),
            env: spec.env,
        });
        self.loaded.push((
            app.to_owned(),
            Loaded {
                descr: spec.description,
                vsn: spec.vsn,
                deps: spec.applications,
                has_phases: spec.has_phases,
                code_only: false,
            },
        ));
        if self.cntrl(app, FromAc::LoadReq(Atom::from(app))) {
            self.loading.insert(0, (app.to_owned(), call));
            None
        } else {
            Some(atom("ok"))
        }
    }

    fn start_application(&mut self, app: &str, rt: RestartType, call: CallId) -> Option<Term> {
        if find(&self.start_req, app).is_some() {
            self.start_req.insert(0, (app.to_owned(), Some(call)));
            return None;
        }
        // check_start_cond/4
        let Some(l) = find(&self.loaded, app) else {
            return Some(err(term!({not_loaded, (app_atom(app))})));
        };
        if find(&self.running, app).is_some() {
            return Some(err(term!({already_started, (app_atom(app))})));
        }
        if let Some(d) = (l.deps.iter()).find(|d| find(&self.started, d).is_none()) {
            return Some(err(term!({not_started, (app_atom(d))})));
        }
        if !self.cntrl(app, FromAc::StartReq(Atom::from(app))) {
            self.spawn_starter(app, StartType::Normal);
        }
        self.starting.insert(
            0,
            Starting {
                app: app.to_owned(),
                rt,
                typ: StartType::Normal,
            },
        );
        self.start_req.insert(0, (app.to_owned(), Some(call)));
        None
    }

    fn spawn_starter(&mut self, app: &str, typ: StartType) {
        if find(&self.loaded, app).is_some_and(|l| !l.code_only) {
            self.out.push_back(Output::StartMaster {
                app: app.to_owned(),
                typ,
            });
        }
    }

    /// `reply_to_requester/3`: `ok` or `{error, R}` to every caller
    /// waiting for `app`'s start.
    fn reply_to_requester(&mut self, app: &str, res: &Result<(), Term>) {
        let r = match res {
            Ok(()) => atom("ok"),
            Err(e) => err(e.clone()),
        };
        let (mine, rest): (Vec<_>, Vec<_>) = std::mem::take(&mut self.start_req)
            .into_iter()
            .partition(|(a, _)| a == app);
        self.start_req = rest;
        for call in mine.into_iter().filter_map(|(_, c)| c) {
            self.reply(call, r.clone());
        }
    }

    /// `handle_application_started/3`.
    fn application_started(&mut self, app: &str, res: Result<StartedId, Term>) {
        // OTP replies to the requester first and then updates its tables;
        // its callers only look again through calls queued behind this
        // message. The driver's callers read the published view at once,
        // so the tables are updated first (the messages keep OTP's order).
        let Some(i) = self.starting.iter().position(|s| s.app == app) else {
            self.reply_to_requester(app, &res.map(|_| ()));
            return;
        };
        let s = self.starting.remove(i);
        match res {
            Ok(id) => {
                let (run_id, at) = match id {
                    StartedId::Master(pid) => (RunId::Master(pid), self.me.clone()),
                    StartedId::Distributed(n) => (RunId::Distributed(Some(n.clone())), n),
                };
                let local = matches!(run_id, RunId::Master(_));
                self.set_running(app, run_id);
                match self.started.iter_mut().find(|(n, _)| n == app) {
                    Some(e) => e.1 = s.rt,
                    None => self.started.insert(0, (app.to_owned(), s.rt)),
                }
                if local {
                    match self.start_types.iter_mut().find(|(n, _)| n == app) {
                        Some(e) => e.1 = s.typ.clone(),
                        None => self.start_types.push((app.to_owned(), s.typ.clone())),
                    }
                }
                self.reply_to_requester(app, &Ok(()));
                if local {
                    tracing::info!(
                        application = app,
                        started_at = %at.name,
                        "Application {app} started at '{}'",
                        at.name
                    );
                    self.cntrl(app, FromAc::Run(Atom::from(app), Ok(())));
                }
            }
            Err(r) => {
                self.reply_to_requester(app, &Err(r.clone()));
                self.cntrl(app, FromAc::Run(Atom::from(app), Err(err(r.clone()))));
                info_exited(app, &r, s.rt);
                if s.rt != RestartType::Temporary {
                    let reason = format!("{{application_start_failure,{app},{}}}", erl_format(&r));
                    self.out.push_back(Output::Halt { reason });
                }
            }
        }
    }

    /// `{ac_start_application_reply, App, Reply}`.
    fn start_reply(&mut self, app: &str, res: StartReply) {
        let Some(i) = self.starting.iter().position(|s| s.app == app) else {
            return;
        };
        match res {
            StartReply::StartIt => {
                let typ = self.starting[i].typ.clone();
                self.spawn_starter(app, typ);
            }
            StartReply::Started(n) => self.application_started(app, Ok(StartedId::Distributed(n))),
            StartReply::NotStarted => {
                self.reply_to_requester(app, &Ok(()));
                let s = self.starting.remove(i);
                self.started.insert(0, (app.to_owned(), s.rt));
            }
            StartReply::Takeover(n) => {
                let typ = StartType::Takeover(n);
                self.starting[i].typ = typ.clone();
                self.spawn_starter(app, typ);
            }
            StartReply::Error(e) => {
                self.reply_to_requester(app, &Err(e.clone()));
                let s = self.starting.remove(i);
                if s.rt == RestartType::Permanent {
                    self.out.push_back(Output::Halt {
                        reason: erl_format(&e),
                    });
                }
            }
        }
    }

    /// `do_start/5`.
    fn do_start(&mut self, app: &str, rt: Option<RestartType>, typ: StartType) {
        let rt = find(&self.started, app)
            .map(|old| rt.unwrap_or(*old))
            .or(rt)
            .unwrap_or(RestartType::Temporary);
        if find(&self.start_req, app).is_some() {
            return;
        }
        self.spawn_starter(app, typ.clone());
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

    /// `{ac_change_application_req, App, Req}`.
    fn change_req(&mut self, app: &str, req: ChangeReq) {
        let rt = |r: &Option<Atom>| r.as_ref().and_then(|a| RestartType::parse(&a.name));
        let running = find(&self.running, app).cloned();
        let started = find(&self.started, app).copied();
        let run_ok = FromAc::Run(Atom::from(app), Ok(()));
        match (running, started) {
            (Some(id), Some(typ)) => match req {
                ChangeReq::Started(n) => {
                    self.stop_appl(app, &id, typ);
                    self.running.retain(|(a, _)| a != app);
                    self.running
                        .insert(0, (app.to_owned(), RunId::Distributed(Some(n))));
                }
                ChangeReq::Takeover(..) | ChangeReq::Failover(..)
                    if matches!(id, RunId::Master(_)) =>
                {
                    self.cntrl(app, run_ok);
                }
                ChangeReq::Takeover(n, r) => self.do_start(app, rt(&r), StartType::Takeover(n)),
                ChangeReq::Failover(n, r) => {
                    let typ = if find(&self.loaded, app).is_some_and(|l| l.has_phases) {
                        StartType::Failover(n)
                    } else {
                        // Backwards compatible: no start_phases, no failover type.
                        StartType::Normal
                    };
                    self.do_start(app, rt(&r), typ);
                }
                ChangeReq::StopIt => {
                    self.stop_appl(app, &id, typ);
                    self.set_running(app, RunId::Distributed(None));
                    self.cntrl(app, FromAc::NotRun(Atom::from(app)));
                }
                ChangeReq::StartIt if matches!(id, RunId::Master(_)) => {
                    self.cntrl(app, run_ok);
                }
                ChangeReq::StartIt => self.do_start(app, None, StartType::Normal),
                ChangeReq::NotRunning => self.running.retain(|(n, _)| n != app),
            },
            (running, started) => match req {
                ChangeReq::StartIt if running.is_none() && self.is_loaded(app) => {
                    if self.starting.iter().any(|s| s.app == app) {
                        self.do_start(app, None, StartType::Normal);
                    } else if started.is_some() {
                        self.do_start(app, None, StartType::Normal);
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

    /// `{stop_application, App}`.
    fn stop_application(&mut self, app: &str) -> Term {
        let running = find(&self.running, app).cloned();
        let started = find(&self.started, app).copied();
        match (running, started) {
            (Some(id), Some(typ)) => {
                self.stop_appl(app, &id, typ);
                self.running.retain(|(n, _)| n != app);
                self.started.retain(|(n, _)| n != app);
                self.cntrl(app, FromAc::Stopped(Atom::from(app)));
                atom("ok")
            }
            (_, Some(_)) => {
                self.started.retain(|(n, _)| n != app);
                self.cntrl(app, FromAc::Stopped(Atom::from(app)));
                atom("ok")
            }
            _ => err(term!({not_started, (app_atom(app))})),
        }
    }

    /// `{permit_application, App, Bool}`.
    fn permit(&mut self, app: &str, permitted: bool) -> Term {
        self.out.push_back(Output::SetPermission {
            app: app.to_owned(),
            permitted,
        });
        if !self.is_loaded(app) {
            return err(term!({not_loaded, (app_atom(app))}));
        }
        if find(&self.control, app).is_some() {
            let starting = self.starting.iter().any(|s| s.app == app);
            let started = find(&self.started, app).is_some();
            return if !starting && !started {
                term!({distributed_application, only_loaded})
            } else {
                atom("distributed_application")
            };
        }
        // Local applications: stop it when running and not permitted.
        if !permitted {
            let running = find(&self.running, app).cloned();
            let typ = find(&self.started, app).copied();
            if let (Some(id), Some(typ)) = (running, typ) {
                self.stop_appl(app, &id, typ);
                self.running.retain(|(n, _)| n != app);
            }
        }
        atom("ok")
    }

    /// `{'EXIT', Pid, Reason}`: an application master (or a controller)
    /// exited.
    fn exit(&mut self, pid: Pid, reason: Term) {
        let master = RunId::Master(pid.clone());
        let Some(app) = (self.running.iter())
            .find(|(_, id)| *id == master)
            .map(|(n, _)| n.clone())
        else {
            self.control.retain(|(_, c)| *c != pid);
            return;
        };
        self.running.retain(|(n, _)| *n != app);
        self.cntrl(&app, FromAc::Stopped(Atom::from(app.as_str())));
        let typ = find(&self.started, &app)
            .copied()
            .unwrap_or(RestartType::Temporary);
        info_exited(&app, &reason, typ);
        let normal = reason.as_atom() == Some("normal");
        match typ {
            RestartType::Temporary => {}
            RestartType::Transient if normal => {}
            _ => {
                let sync = find(&self.control, &app).cloned();
                let reason = format!("{{application_terminated,{app},{}}}", erl_format(&reason));
                self.out.push_back(Output::Terminate { reason, sync });
            }
        }
    }
}
