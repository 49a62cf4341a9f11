//! Applications in Rust — mirrors
//! [`lib/kernel/src/application_controller.erl`](https://github.com/erlang/otp/blob/OTP-25.2.3/lib/kernel/src/application_controller.erl),
//! `application_master.erl` and the API of `application.erl`.
//!
//! ```text
//!  ApplicationController (handle) ──gen calls──► application_controller process
//!        │                                          │  ▲ {ac_*} messages
//!        │ takeover/permit                          ▼  │
//!        └──────────────► dist_ac ◄──────── dist_ac_* ──── peers (BEAM or Rust)
//!                          application masters ─ Application::start/prep_stop/stop
//! ```
//!
//! * The application controller process is a driver around a sans-IO
//!   core (`core/`, the decisions of `application_controller.erl`), the
//!   same core the dist_ac simulation runs on every simulated node.
//! * An [`Application`] is registered with [`ApplicationController::add`]
//!   (the Rust stand-in for an `.app` file on the code path), then loaded
//!   and started by name.
//! * Restart types: when a `permanent` application exits the node stops
//!   (`Kernel pid terminated (application_controller)
//!   ({application_terminated,App,Reason})`), `transient` too unless the
//!   reason is `normal`, `temporary` is only logged (`Application distro
//!   exited: stopped`, `type: temporary`).
//! * `which_applications` and `loaded_applications` are answered to rpc
//!   (`application:which_applications/0`, `application:loaded_applications/0`)
//!   with OTP's `{Name, Description, Vsn}` (charlists).
//!
//! # The weight
//!
//! dist_ac chooses among equal-priority nodes by
//! `length(application:which_applications())`. A BEAM node always runs
//! `kernel` and `stdlib`, so its weight is 2 plus its own applications.
//! This node lists `kernel` and `stdlib` too (descriptions say they are
//! the Rust kernel and runtime) so that its weight is the same number a
//! BEAM node with the same applications would announce, and a mixed
//! cluster decides exactly as an all-BEAM one (ties to the smaller name).

use crate::term;
mod app;
mod controller;
pub(crate) mod core;
mod master;

#[cfg(test)]
mod ac_test;
#[cfg(test)]
mod core_test;

pub(crate) use app::DynApplication;
pub use app::{
    AppContext, AppSpec, AppStartError, Application, RestartType, StartResult, StartType, Started,
};
pub use controller::{HaltFn, default_halt};

use crate::kernel::Kernel;
use crate::kernel::rex::Registry;
use crate::runtime::{CallError, Node};
use crate::term::{Atom, Term, TermExt, atom};
use controller::Shared;
use std::sync::atomic::AtomicI64;
use std::sync::{Arc, RwLock};
use std::time::Duration;

/// Where application environments come from.
#[derive(Debug, Clone, Default)]
pub struct AcConfig {
    /// sys.config: `[{App, [{Par, Val}]}]`.
    pub env: Vec<(String, Vec<(String, Term)>)>,
    /// `-App Par Val` on the command line (override sys.config).
    pub cmdline: Vec<(String, String, Term)>,
    /// The node boots from a release's boot script, which loads every
    /// application of the release: the environment of every configured
    /// application is readable from the start. Otherwise, as after `erl
    /// -config`, only loaded applications (kernel, stdlib and those loaded
    /// later) answer `application:get_env/2`.
    pub release_boot: bool,
}

/// Why an application operation failed: the `{error, Reason}` OTP returns.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{}", crate::term::Pretty(.0))]
pub struct AppError(pub Term);

/// Handle to the node's application controller.
#[derive(Clone)]
pub struct ApplicationController {
    node: Node,
    shared: Arc<Shared>,
}

impl std::fmt::Debug for ApplicationController {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ApplicationController({})", self.node.name().name)
    }
}

/// A call from a short-lived process (as `gen_server:call/3` from a shell).
pub(crate) async fn call(
    node: &Node,
    dest: (&str, &str),
    req: Term,
    timeout: Duration,
) -> Result<Term, CallError> {
    let (name, at) = (dest.0.to_owned(), dest.1.to_owned());
    node.run_in_process(move |mut p| async move {
        p.call((name.as_str(), at.as_str()), req, timeout).await
    })
    .await
    .unwrap_or(Err(CallError::Exit(atom("noproc"))))
}

impl ApplicationController {
    /// Starts the `application_controller` process on `node` and registers
    /// `application:which_applications/0,1`, `application:loaded_applications/0`
    /// and `application:get_env/2` in the kernel's rpc registry.
    /// Applications get the kernel's `global` as [`AppContext::global`].
    pub fn start(node: &Node, kernel: &Kernel, cfg: AcConfig, halt: HaltFn) -> Self {
        let rpc = &kernel.rpc;
        let shared = Arc::new(Shared {
            available: RwLock::new(Default::default()),
            env: Arc::new(RwLock::new(Default::default())),
            config_env: cfg.env,
            cmdline_env: cfg.cmdline,
            release_boot: cfg.release_boot,
            weight: Arc::new(AtomicI64::new(2)),
            which: RwLock::new((Vec::new(), Vec::new())),
            start_types: RwLock::new(Default::default()),
            rpc: rpc.clone(),
            global: Arc::new(kernel.global.clone()),
            halt,
        });
        controller::start(node, shared.clone());
        let s = shared.clone();
        rpc.register_sync("application", "which_applications", 0, move |_, _| {
            Ok(crate::term::list(
                s.which.read().unwrap_or_else(|e| e.into_inner()).0.clone(),
            ))
        });
        let s = shared.clone();
        rpc.register_sync("application", "which_applications", 1, move |_, _| {
            Ok(crate::term::list(
                s.which.read().unwrap_or_else(|e| e.into_inner()).0.clone(),
            ))
        });
        let s = shared.clone();
        rpc.register_sync("application", "loaded_applications", 0, move |_, _| {
            Ok(crate::term::list(
                s.which.read().unwrap_or_else(|e| e.into_inner()).1.clone(),
            ))
        });
        let s = shared.clone();
        rpc.register_sync("application", "get_env", 2, move |_, args| {
            let (Some(a), Some(k)) = (
                args.first().and_then(TermExt::as_atom),
                args.get(1).and_then(TermExt::as_atom),
            ) else {
                return Err(crate::kernel::rex::Exception::badarg());
            };
            let t = s.env.read().unwrap_or_else(|e| e.into_inner());
            Ok(match t.get(&(a.to_owned(), k.to_owned())) {
                Some(v) => term!({ok, (v.clone())}),
                None => atom("undefined"),
            })
        });
        serve_env(rpc, &shared);
        Self {
            node: node.clone(),
            shared,
        }
    }

    /// Makes `app` available for loading (puts its `.app` on the "code path").
    pub fn add<A: Application>(&self, app: Arc<A>) {
        self.add_dyn(app);
    }

    pub(crate) fn add_dyn(&self, app: Arc<dyn DynApplication>) {
        let name = app.spec().name;
        self.shared
            .available
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .insert(name, app);
    }

    /// The weight dist_ac announces (`length(which_applications())`).
    pub fn weight(&self) -> Arc<AtomicI64> {
        self.shared.weight.clone()
    }

    async fn ac_call(&self, req: Term) -> Result<Term, AppError> {
        let me = self.node.name().name.clone();
        call(
            &self.node,
            ("application_controller", &me),
            req,
            Duration::from_secs(24 * 3600),
        )
        .await
        .map_err(|e| AppError(e.reason()))
    }

    fn ok_or_error(t: Term) -> Result<(), AppError> {
        match t.tuple_tag() {
            Some("error") => Err(AppError(t.elem(1).cloned().unwrap_or(t))),
            _ => Ok(()),
        }
    }

    /// `application:load(App)`.
    pub async fn load(&self, app: &str) -> Result<(), AppError> {
        Self::ok_or_error(self.ac_call(term!({load_application, (atom(app))})).await?)
    }

    /// `application:ensure_all_started(App, Type)`: loads and starts the
    /// applications it depends on first, then `app`.
    pub async fn start_app(&self, app: &str, rt: RestartType) -> Result<(), AppError> {
        let mut order = Vec::new();
        self.deps(app, &mut order, 0)?;
        for a in order {
            match self.load(&a).await {
                Ok(()) => {}
                Err(AppError(e)) if e.tuple_tag() == Some("already_loaded") => {}
                Err(e) => return Err(e),
            }
            let req = term!({start_application, (atom(&a)), (atom(rt.as_str()))});
            match Self::ok_or_error(self.ac_call(req).await?) {
                Ok(()) => {}
                Err(AppError(e)) if e.tuple_tag() == Some("already_started") => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    fn deps(&self, app: &str, order: &mut Vec<String>, depth: usize) -> Result<(), AppError> {
        if depth > 32 || order.iter().any(|a| a == app) || app == "kernel" || app == "stdlib" {
            return Ok(());
        }
        let spec = self
            .shared
            .available
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(app)
            .map(|a| a.spec());
        let Some(spec) = spec else {
            // application:ensure_all_started/2's `{error, {App, Reason}}`.
            return Err(AppError(
                term!({(atom(app)), {(crate::term::charlist("no such file or directory")), (crate::term::charlist(&format!("{app}.app")))}}),
            ));
        };
        for d in &spec.applications {
            self.deps(d, order, depth + 1)?;
        }
        order.push(app.to_owned());
        Ok(())
    }

    /// `application:stop(App)`.
    pub async fn stop(&self, app: &str) -> Result<(), AppError> {
        Self::ok_or_error(self.ac_call(term!({stop_application, (atom(app))})).await?)
    }

    /// `application:which_applications()`: `{Name, Description, Vsn}` of the
    /// applications running here, newest first.
    pub fn which_applications(&self) -> Vec<(Atom, String, String)> {
        Self::triples(
            &self
                .shared
                .which
                .read()
                .unwrap_or_else(|e| e.into_inner())
                .0,
        )
    }

    /// `application:loaded_applications()`.
    pub fn loaded_applications(&self) -> Vec<(Atom, String, String)> {
        Self::triples(
            &self
                .shared
                .which
                .read()
                .unwrap_or_else(|e| e.into_inner())
                .1,
        )
    }

    fn triples(v: &[Term]) -> Vec<(Atom, String, String)> {
        v.iter()
            .filter_map(|t| match t.as_tuple() {
                Some([Term::Atom(n), d, v]) => Some((
                    n.clone(),
                    d.as_text().unwrap_or_default(),
                    v.as_text().unwrap_or_default(),
                )),
                _ => None,
            })
            .collect()
    }

    /// The start type `app` runs with here (`None` if it does not run here).
    pub fn start_type(&self, app: &str) -> Option<StartType> {
        self.shared
            .start_types
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(app)
            .cloned()
    }

    /// Whether `app` runs on this node.
    pub fn is_running(&self, app: &str) -> bool {
        self.which_applications()
            .iter()
            .any(|(n, ..)| n.name == app)
    }

    /// `application:get_env(App, Key)`.
    pub fn get_env(&self, app: &str, key: &str) -> Option<Term> {
        self.shared
            .env
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(&(app.to_owned(), key.to_owned()))
            .cloned()
    }

    /// `application_controller:permit_application/2` (the AC half of
    /// `application:permit/2`): `distributed_application`,
    /// `{distributed_application, only_loaded}` or the local result.
    pub async fn permit_application(&self, app: &str, permitted: bool) -> Result<Term, AppError> {
        self.ac_call(term!({permit_application, (atom(app)), (crate::term::boolean(permitted))}))
            .await
    }
}

/// `application:get_env/3`, `get_all_env/0,1` and `get_key/2` over rpc
/// (`application.erl`; rex's processes belong to no application, so the
/// forms without an application name see none, as on BEAM).
fn serve_env(rpc: &Registry, shared: &Arc<Shared>) {
    let s = shared.clone();
    rpc.register_sync("application", "get_env", 3, move |_, args| {
        let (Some(a), Some(k), Some(default)) = (
            args.first().and_then(TermExt::as_atom),
            args.get(1).and_then(TermExt::as_atom),
            args.get(2),
        ) else {
            return Err(crate::kernel::rex::Exception::badarg());
        };
        let t = s.env.read().unwrap_or_else(|e| e.into_inner());
        Ok(t.get(&(a.to_owned(), k.to_owned()))
            .cloned()
            .unwrap_or_else(|| default.clone()))
    });
    let s = shared.clone();
    rpc.register_sync("application", "get_all_env", 1, move |_, args| {
        let Some(a) = args.first().and_then(TermExt::as_atom) else {
            return Err(crate::kernel::rex::Exception::badarg());
        };
        let t = s.env.read().unwrap_or_else(|e| e.into_inner());
        let mut pairs: Vec<(&String, &Term)> = t
            .iter()
            .filter(|((app, _), _)| app == a)
            .map(|((_, k), v)| (k, v))
            .collect();
        pairs.sort_by(|x, y| x.0.cmp(y.0));
        Ok(crate::term::list(
            pairs
                .into_iter()
                .map(|(k, v)| term!({(atom(k)), (v.clone())}))
                .collect(),
        ))
    });
    rpc.register_sync("application", "get_all_env", 0, |_, _| {
        Ok(crate::term::nil())
    });
    rpc.register_sync("application", "get_env", 1, |_, _| Ok(atom("undefined")));
}

impl Shared {
    /// Loads `app`'s environment: its defaults, then sys.config, then
    /// `-App Par Val` (`application_controller:load/2`).
    pub(crate) fn load_env(&self, app: &str, defaults: &[(String, Term)]) {
        let mut t = self.env.write().unwrap_or_else(|e| e.into_inner());
        for (k, v) in defaults {
            t.insert((app.into(), k.clone()), v.clone());
        }
        for (a, pars) in &self.config_env {
            if a == app {
                for (k, v) in pars {
                    t.insert((app.into(), k.clone()), v.clone());
                }
            }
        }
        for (a, k, v) in &self.cmdline_env {
            if a == app {
                t.insert((app.into(), k.clone()), v.clone());
            }
        }
    }

    /// Makes the environment of every application the configuration names
    /// readable (`application:get_env/2,3` over rpc) as in a release, whose
    /// boot script loads them all; distro cannot load Erlang code. Loading
    /// an application later applies its defaults under the same values.
    pub(crate) fn preload_configured_env(&self) {
        let configured: Vec<String> = (self.config_env.iter().map(|(a, _)| a.clone()))
            .chain(self.cmdline_env.iter().map(|(a, _, _)| a.clone()))
            .collect();
        for app in configured {
            self.load_env(&app, &[]);
        }
    }
}
