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
//!
//! This process is the driver of [`AcCore`] (`core/`), which makes every
//! decision: it turns mailbox terms into [`Input`]s and carries out the
//! [`Output`]s in order — replies, `ac_*` messages to dist_ac, application
//! masters started and stopped (a stop is awaited, as OTP's AC blocks in
//! `stop_appl/3`), environment updates, halts — and publishes the core's
//! view (`which_applications`, the weight) before each reply or message to
//! dist_ac and after each input.

use super::app::{AppContext, StartType};
use super::core::{AcCore, CallId, Input, LoadSpec, Output, Request, View, info_exited};
use super::master;
use crate::kernel::dist_ac::msg::ToAc;
use crate::kernel::rex::Registry;
use crate::runtime::{GenCall, GenFrom, Node, Process};
use crate::term;
use crate::term::{Atom, Pid, Term, TermExt, atom, list};
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
    pub(crate) global: Arc<dyn crate::behaviours::gen_server::NameRegistry>,
    pub(crate) halt: HaltFn,
}

/// The driver's state around the core.
struct Driver {
    shared: Arc<Shared>,
    core: AcCore,
    /// Calls waiting for their reply.
    calls: HashMap<CallId, GenFrom>,
    next_call: CallId,
    /// The applications loaded here, by name (for their masters).
    apps: HashMap<String, Arc<dyn super::DynApplication>>,
    /// The application a `Load` request found on the code path.
    pending_load: Option<(String, Arc<dyn super::DynApplication>)>,
}

/// Starts the `application_controller` process with `kernel` and `stdlib`
/// running as on a BEAM node (they count in the weight, see the module doc
/// of [`super`]).
pub(crate) fn start(node: &Node, shared: Arc<Shared>) -> Pid {
    let me = node.name().clone();
    let pid = node.spawn(move |mut p| async move {
        p.trap_exit(true);
        let mut d = Driver {
            shared,
            core: AcCore::new(me, env!("CARGO_PKG_VERSION")),
            calls: HashMap::new(),
            next_call: 0,
            apps: HashMap::new(),
            pending_load: None,
        };
        d.drain(&mut p).await;
        if d.shared.release_boot {
            d.shared.preload_configured_env();
        }
        d.publish();
        loop {
            let msg = p.recv().await;
            if let Some(input) = d.input(msg) {
                d.core.handle(input);
                d.drain(&mut p).await;
            }
            d.publish();
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

impl Driver {
    /// Publishes the core's view: what `which_applications` over rpc,
    /// [`super::ApplicationController`] and dist_ac (the weight) read.
    fn publish(&self) {
        let View {
            which,
            loaded,
            start_types,
        } = self.core.view();
        self.shared
            .weight
            .store(self.core.weight(), Ordering::SeqCst);
        *self.shared.which.write().unwrap_or_else(|e| e.into_inner()) = (which, loaded);
        *self
            .shared
            .start_types
            .write()
            .unwrap_or_else(|e| e.into_inner()) = start_types.into_iter().collect();
    }

    /// A mailbox term as an input (`None`: not for the core).
    fn input(&mut self, msg: Term) -> Option<Input> {
        if let Some(call) = GenCall::parse(&msg) {
            let mut req = Request::from_term(&call.request);
            if let Request::Load { app, spec } = &mut req {
                *spec = self.find_app(app);
            }
            self.next_call += 1;
            let id = self.next_call;
            let caller = call.from.pid.clone();
            self.calls.insert(id, call.from);
            return Some(Input::Call { id, caller, req });
        }
        if let Some(m) = ToAc::from_term(&msg) {
            return Some(Input::DistAc(m));
        }
        if let Some((app, result)) = master::parse_started(&msg) {
            return Some(Input::MasterStarted { app, result });
        }
        match msg.as_tuple() {
            Some([t, Term::Pid(pid), reason]) if t.as_atom() == Some("EXIT") => Some(Input::Exit {
                pid: pid.clone(),
                reason: reason.clone(),
            }),
            _ => None,
        }
    }

    /// The application `app` on the code path, kept for the `Load` output.
    fn find_app(&mut self, app: &str) -> Option<LoadSpec> {
        let a = self
            .shared
            .available
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(app)
            .cloned()?;
        let spec = a.spec();
        self.pending_load = Some((app.to_owned(), a));
        Some(LoadSpec {
            description: spec.description,
            vsn: spec.vsn,
            applications: spec.applications,
            env: spec.env,
            has_phases: spec.start_phases.is_some(),
        })
    }

    /// Carries out the core's outputs, in order.
    async fn drain(&mut self, p: &mut Process) {
        while let Some(o) = self.core.poll_output() {
            match o {
                Output::Reply { call, reply } => {
                    // The caller sees the state its answer describes, as a
                    // call to OTP's AC queued behind this one would.
                    self.publish();
                    if let Some(from) = self.calls.remove(&call) {
                        p.reply(&from, reply);
                    }
                }
                Output::ToDistAc { to, msg } => {
                    // dist_ac reads the weight this publishes.
                    self.publish();
                    p.send(&to, msg.to_term());
                }
                Output::Link(pid) => p.link(&pid),
                Output::Load { app, env } => {
                    self.shared.load_env(&app, &env);
                    if let Some((name, a)) = self.pending_load.take() {
                        if name == app {
                            a.load(self.context(p, &app));
                            self.apps.insert(app, a);
                        }
                    }
                }
                Output::StartMaster { app, typ } => {
                    if let Some(a) = self.apps.get(&app).cloned() {
                        let ctx = self.context(p, &app);
                        let ac = p.pid().clone();
                        p.spawn_link(move |mp| master::run(mp, ac, a, ctx, typ));
                    }
                }
                Output::StopMaster { app, master, typ } => {
                    if let Some(m) = master {
                        stop_master(p, &m).await;
                    }
                    info_exited(&app, &atom("stopped"), typ);
                }
                Output::SetPermission { app, permitted } => self.set_permission(&app, permitted),
                Output::Halt { reason } => {
                    let line = format!("Kernel pid terminated (application_controller) ({reason})");
                    tracing::error!("{line}");
                    (self.shared.halt)(1, line);
                }
                Output::Terminate { reason, sync } => {
                    if let Some(c) = sync {
                        sync_controller(p, &c).await;
                    }
                    self.halt_after_stop(p, reason);
                }
            }
        }
    }

    /// The context an application's callbacks get.
    fn context(&self, p: &Process, app: &str) -> AppContext {
        AppContext {
            node: p.node().clone(),
            app: app.to_owned(),
            rpc: self.shared.rpc.clone(),
            global: self.shared.global.clone(),
            env: self.shared.env.clone(),
            master: None,
        }
    }

    /// `{App, Bool}` into kernel's `permissions`.
    fn set_permission(&self, app: &str, permitted: bool) {
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
}

/// Waits until the controller (dist_ac) of an application has handled what
/// this process sent it (a call queued behind `ac_application_stopped`), so
/// that the other nodes hear `dist_ac_app_stopped` before this node halts,
/// as they do from a BEAM node (its halt waits for kernel to shut down).
async fn sync_controller(p: &mut Process, controller: &Pid) {
    let _ = p
        .call(controller, atom("get_known_nodes"), Duration::from_secs(5))
        .await;
}

/// The waiting half of `stop_appl/3`: stop the master and wait for it.
async fn stop_master(p: &mut Process, m: &Pid) {
    p.unlink(m);
    let mref = p.monitor(m);
    p.send(m, term!({terminate, (Term::Pid(p.pid().clone()))}));
    let r = Term::Reference(Box::new(mref));
    let _ = p
        .receive_timeout(Duration::from_secs(3600), |m| {
            m.tuple_tag() == Some("DOWN") && m.elem(1) == Some(&r)
        })
        .await;
}
