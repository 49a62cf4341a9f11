//! The inputs and outputs of [`super::AcCore`]: the calls it answers
//! ([`Request`], parsed from the terms BEAM sends), what the driver feeds
//! it ([`Input`]) and what it asks the driver to do ([`Output`]).

use super::super::app::{RestartType, StartType};
use crate::kernel::dist_ac::msg::{FromAc, ToAc};
use crate::term::{Pid, Term, TermExt};

/// Identifies a call to the AC so that the driver can route its reply.
pub(crate) type CallId = u64;

/// What the core needs of an application's `.app` file.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct LoadSpec {
    /// `description`.
    pub(crate) description: String,
    /// `vsn`.
    pub(crate) vsn: String,
    /// `applications`: started before this one.
    pub(crate) applications: Vec<String>,
    /// `env`: the defaults.
    pub(crate) env: Vec<(String, Term)>,
    /// Whether it has `start_phases` (then a failover starts with
    /// `{failover, Node}`, else `normal`).
    pub(crate) has_phases: bool,
}

/// A call to `application_controller` (`gen_server:call/2` requests of
/// `application_controller.erl`).
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Request {
    /// `which_applications`.
    WhichApplications,
    /// `loaded_applications`.
    LoadedApplications,
    /// `{load_application, App}`; `spec` is filled in by the driver from
    /// the code path (`None`: no `.app` file).
    Load {
        /// The application.
        app: String,
        /// Its `.app` file.
        spec: Option<LoadSpec>,
    },
    /// `{start_application, App, RestartType}`.
    Start {
        /// The application.
        app: String,
        /// The restart type, or the term that is not one.
        restart_type: Result<RestartType, Term>,
    },
    /// `{stop_application, App}`.
    Stop {
        /// The application.
        app: String,
    },
    /// `{control_application, App}` from dist_ac ([`ToAc::ControlApplication`]).
    ControlApplication {
        /// The application.
        app: String,
    },
    /// `{permit_application, App, Bool}`.
    Permit {
        /// The application.
        app: String,
        /// The new permission.
        permitted: bool,
    },
    /// `{is_running, App}`.
    IsRunning {
        /// The application.
        app: String,
    },
    /// Anything else: answered `{error, badarg}`.
    Other,
}

impl Request {
    /// Parses a call's request term (a `Load`'s `spec` is left `None`).
    pub(crate) fn from_term(req: &Term) -> Self {
        if let Some(ToAc::ControlApplication(app)) = ToAc::from_call(req) {
            return Self::ControlApplication { app: app.name };
        }
        let name = |t: &Term| t.as_atom().map(str::to_owned);
        // Tagged tuples are read as the atom too, as before the core.
        match (req.tuple_tag().or(req.as_atom()), req.as_tuple()) {
            (Some("which_applications"), _) => Self::WhichApplications,
            (Some("loaded_applications"), _) => Self::LoadedApplications,
            (_, Some([t, a])) => match (t.as_atom(), name(a)) {
                (Some("load_application"), Some(app)) => Self::Load { app, spec: None },
                (Some("stop_application"), Some(app)) => Self::Stop { app },
                (Some("is_running"), Some(app)) => Self::IsRunning { app },
                _ => Self::Other,
            },
            (_, Some([t, a, x])) => match (t.as_atom(), name(a)) {
                (Some("start_application"), Some(app)) => Self::Start {
                    app,
                    restart_type: match x.as_atom() {
                        Some(rt) => RestartType::parse(rt).ok_or_else(|| x.clone()),
                        None => return Self::Other,
                    },
                },
                (Some("permit_application"), Some(app)) => Self::Permit {
                    app,
                    permitted: x.as_bool().unwrap_or(true),
                },
                _ => Self::Other,
            },
            _ => Self::Other,
        }
    }
}

/// An input to [`AcCore::handle`].
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Input {
    /// A call from `caller`.
    Call {
        /// Routes the reply.
        id: CallId,
        /// The calling process (dist_ac for `control_application`).
        caller: Pid,
        /// What it asks.
        req: Request,
    },
    /// A message from dist_ac.
    DistAc(ToAc),
    /// `{application_started, App, {ok, Master} | {error, R}}` from an
    /// application master.
    MasterStarted {
        /// The application.
        app: String,
        /// The master, or `R`.
        result: Result<Pid, Term>,
    },
    /// `{'EXIT', Pid, Reason}`: a linked master or controller exited.
    Exit {
        /// Who.
        pid: Pid,
        /// Why.
        reason: Term,
    },
}

/// A command for the driver, carried out in order.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Output {
    /// Answer call `call` (after publishing the view).
    Reply {
        /// Which call.
        call: CallId,
        /// The answer.
        reply: Term,
    },
    /// `cntrl/3`: a message to the application's controller (after
    /// publishing the view, whose weight dist_ac reads).
    ToDistAc {
        /// The controller.
        to: Pid,
        /// The `ac_*` message.
        msg: FromAc,
    },
    /// `link(Pid)` (the controller).
    Link(Pid),
    /// `load/2`: merge the environment (`env` defaults, sys.config,
    /// `-App Par Val`) and run the application's load callback.
    Load {
        /// The application.
        app: String,
        /// Its `.app` defaults.
        env: Vec<(String, Term)>,
    },
    /// `spawn_starter/4`: start an application master (linked), which
    /// reports with [`Input::MasterStarted`].
    StartMaster {
        /// The application.
        app: String,
        /// `Mod:start/2`'s start type.
        typ: StartType,
    },
    /// `stop_appl/3`: stop the master (if any) and wait until it is down,
    /// then report `Application App exited: stopped`.
    StopMaster {
        /// The application.
        app: String,
        /// Its master (`None`: a code-only application such as kernel).
        master: Option<Pid>,
        /// Its restart type, for the report.
        typ: RestartType,
    },
    /// `{App, Bool}` into kernel's `permissions`.
    SetPermission {
        /// The application.
        app: String,
        /// The permission.
        permitted: bool,
    },
    /// The AC stops with `reason` while starting an application: the node
    /// halts at once (`Kernel pid terminated (application_controller)
    /// (Reason)`).
    Halt {
        /// The exit reason, as `~p` prints it.
        reason: String,
    },
    /// A permanent (or transient, abnormally) application exited: after
    /// `sync`'s controller handled what it was sent, the node stops and
    /// halts.
    Terminate {
        /// The exit reason, as `~p` prints it.
        reason: String,
        /// The application's controller, to wait for.
        sync: Option<Pid>,
    },
}
