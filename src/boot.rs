//! One way to start a node: [`Node::builder`]. The `distro` command line
//! boots through it too.
//!
//! The builder turns a sys.config into everything it configures — the
//! node's distribution settings (`net_ticktime`, `inet_dist_listen_min`
//! …), the kernel services (`connect_all`, `start_pg` …), dist_ac's
//! `distributed`, `sync_nodes_*`, and every application's environment —
//! then starts the node, its kernel, the application controller and the
//! applications, in `kernel:init/1`'s order.
//!
//! ```no_run
//! # async fn demo(my_app: impl distro::Application) -> Result<(), distro::BootError> {
//! let running = distro::Node::builder("rust@127.0.0.1")
//!     .cookie("secret")
//!     .sys_config("config/sys.config")
//!     .app(my_app)
//!     .start()
//!     .await?;
//! assert!(running.node.ping("beam@127.0.0.1").await);
//! running.wait().await;
//! # Ok(())
//! # }
//! ```

use crate::config::{
    ConfigError, KernelParams, NodeGroup, RestartTime as CfgRestart, SysConfig, Timeout,
};
use crate::kernel::application_controller::{
    AcConfig, AppError, Application, DynApplication, HaltFn, RestartType,
};
use crate::kernel::dist_ac::{Config, DistEntry, NodeSpec, NodesSpec, RestartTime};
use crate::kernel::introspection::InitArguments;
use crate::kernel::kernel_config::{KernelConfigError, SyncNodes, SyncTimeout};
use crate::kernel::{Applications, AppsConfig, Kernel};
use crate::runtime::{Node, NodeConfig};
use crate::term::{Atom, TermExt};
use std::path::PathBuf;
use std::sync::Arc;

/// Why [`NodeBuilder::start`] did not start the node.
#[derive(Debug, thiserror::Error)]
pub enum BootError {
    /// A sys.config file could not be read or holds bad kernel parameters.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// No EPMD runs and none could be started.
    #[error("no EPMD is running and none could be started")]
    Epmd(#[from] crate::epmd::EpmdError),
    /// The node could not start (listener, EPMD registration …).
    #[error("cannot start node {name}: {source}")]
    Node {
        /// The node name.
        name: String,
        /// Why.
        source: crate::runtime::StartError,
    },
    /// kernel_config's `sync_nodes_mandatory` wait failed.
    #[error(transparent)]
    SyncNodes(#[from] KernelConfigError),
    /// An application did not start.
    #[error("application:start({app}) failed: {error}")]
    App {
        /// The application.
        app: String,
        /// `{error, Reason}`.
        error: AppError,
    },
}

type Configure = Box<dyn FnOnce(&mut NodeConfig) + Send>;

/// A node being configured; see [`Node::builder`].
#[must_use = "a builder does nothing until .start() is awaited"]
pub struct NodeBuilder {
    name: String,
    cookie: String,
    sys_files: Vec<PathBuf>,
    sys: Option<SysConfig>,
    configure: Vec<Configure>,
    apps: Vec<Arc<dyn DynApplication>>,
    start: Vec<(String, RestartType)>,
    start_epmd: bool,
    background: bool,
    init: InitArguments,
    halt: Option<HaltFn>,
    builtin_apps: bool,
}

impl std::fmt::Debug for NodeBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NodeBuilder")
            .field("name", &self.name)
            .field("sys_files", &self.sys_files)
            .field("start", &self.start)
            .finish_non_exhaustive()
    }
}

impl Node {
    /// A [`NodeBuilder`] for a node named `name` (`name@host`).
    pub fn builder(name: &str) -> NodeBuilder {
        NodeBuilder {
            name: name.to_owned(),
            cookie: String::new(),
            sys_files: Vec::new(),
            sys: None,
            configure: Vec::new(),
            apps: Vec::new(),
            start: Vec::new(),
            start_epmd: true,
            background: false,
            init: InitArguments::default(),
            halt: None,
            builtin_apps: false,
        }
    }
}

impl NodeBuilder {
    /// The distribution cookie (`-setcookie`).
    pub fn cookie(mut self, cookie: &str) -> Self {
        cookie.clone_into(&mut self.cookie);
        self
    }

    /// A sys.config file (`-config`); several are merged in order. Read by
    /// [`start`](Self::start).
    pub fn sys_config(mut self, path: impl Into<PathBuf>) -> Self {
        self.sys_files.push(path.into());
        self
    }

    /// An already parsed sys.config (used instead of the files).
    pub fn sys(mut self, sys: SysConfig) -> Self {
        self.sys = Some(sys);
        self
    }

    /// Changes the [`NodeConfig`] after the kernel parameters were applied
    /// (what wins over sys.config, as erl's flags do).
    pub fn configure(mut self, f: impl FnOnce(&mut NodeConfig) + Send + 'static) -> Self {
        self.configure.push(Box::new(f));
        self
    }

    /// Adds an application and starts it as `application:start/1` does
    /// (`temporary`).
    pub fn app(self, app: impl Application) -> Self {
        self.app_with(app, RestartType::Temporary)
    }

    /// Adds an application and starts it with the given restart type
    /// (`permanent`: the node halts when it stops, as on BEAM).
    pub fn app_with(mut self, app: impl Application, restart: RestartType) -> Self {
        let name = Application::spec(&app).name;
        self.apps.push(Arc::new(app));
        self.start.push((name, restart));
        self
    }

    /// Adds an application without starting it (`application:load/1`; it
    /// can be started later, or by dist_ac on another node's failure).
    pub fn load(mut self, app: impl Application) -> Self {
        self.apps.push(Arc::new(app));
        self
    }

    /// Starts an application that was added already (by name).
    pub fn start_app(mut self, name: &str, restart: RestartType) -> Self {
        self.start.push((name.to_owned(), restart));
        self
    }

    /// Adds the crate's own applications (`distro`, `myapp`), as the
    /// command line does.
    pub fn builtin_apps(mut self) -> Self {
        self.builtin_apps = true;
        self
    }

    /// Whether to start an EPMD when none runs (default: yes, as erl).
    pub fn start_epmd(mut self, yes: bool) -> Self {
        self.start_epmd = yes;
        self
    }

    /// Starts the applications in the background instead of waiting for
    /// each (a failure is logged): the command line's `--app`.
    pub fn start_apps_in_background(mut self) -> Self {
        self.background = true;
        self
    }

    /// The command line `init:get_arguments/0` reports.
    pub fn init_arguments(mut self, init: InitArguments) -> Self {
        self.init = init;
        self
    }

    /// What happens when OTP would halt the node (a permanent application
    /// stopped …). Default: print the `Kernel pid terminated` lines and
    /// exit the program with status 1, as erl does.
    pub fn halt(mut self, halt: HaltFn) -> Self {
        self.halt = Some(halt);
        self
    }

    /// Starts EPMD (if asked), the node, the kernel services, the
    /// application controller (dist_ac and kernel_config's node wait when
    /// configured) and the applications, in that order.
    pub async fn start(self) -> Result<Running, BootError> {
        let sys = match self.sys {
            Some(s) => s,
            None => SysConfig::load(&self.sys_files)?,
        };
        let params = KernelParams::from_config(&sys)?;
        for w in &params.warnings {
            tracing::warn!("{w}");
        }
        let mut cfg = NodeConfig::new(&self.name, &self.cookie);
        cfg.epmd_port = crate::epmd::epmd_port_from_env();
        apply_kernel_params(&mut cfg, &params);
        for f in self.configure {
            f(&mut cfg);
        }
        if self.start_epmd {
            let opts = crate::epmd::EnsureOptions::from_environment();
            crate::epmd::ensure_running_with(cfg.epmd_port, &opts).await?;
        }
        let name = cfg.name.clone();
        let node = Node::start(cfg)
            .await
            .map_err(|source| BootError::Node { name, source })?;
        let kcfg = crate::kernel::KernelConfig {
            global: crate::kernel::global::Config {
                connect_all: params.connect_all,
                prevent_overlapping_partitions: params.prevent_overlapping_partitions,
                ..Default::default()
            },
            start_pg: params.start_pg,
            init: self.init,
        };
        let release_boot = kcfg.init.release_boot();
        let kernel = crate::kernel::start_with(&node, kcfg);
        let env = sys
            .apps()
            .map(|a| (a.to_owned(), sys.app_env(a).to_vec()))
            .collect();
        let acfg = AppsConfig {
            dist: dist_config(&params, &sys),
            start_dist_ac: Some(params.start_dist_ac),
            sync: sync_nodes(&params),
            env: AcConfig {
                env,
                cmdline: Vec::new(),
                release_boot,
            },
            halt: self.halt.unwrap_or_else(erl_halt),
            locks: None,
        };
        let apps = crate::kernel::start_applications(&node, &kernel, acfg).await?;
        if self.builtin_apps {
            crate::apps::add_builtin(&apps.ac);
        }
        for app in self.apps {
            apps.ac.add_dyn(app);
        }
        for (app, restart) in self.start {
            if self.background {
                let ac = apps.ac.clone();
                tokio::spawn(async move {
                    if let Err(e) = ac.start_app(&app, restart).await {
                        tracing::error!("application:start({app}) failed: {e}");
                    }
                });
                continue;
            }
            apps.ac
                .start_app(&app, restart)
                .await
                .map_err(|error| BootError::App { app, error })?;
        }
        Ok(Running { node, kernel, apps })
    }
}

impl NodeBuilder {
    /// [`start`](Self::start), then [`Running::wait`]: the whole life of a
    /// node, for a program's `main`.
    pub async fn run(self) -> Result<(), BootError> {
        self.start().await?.wait().await;
        Ok(())
    }
}

/// A started node: what [`NodeBuilder::start`] returns.
#[derive(Debug, Clone)]
pub struct Running {
    /// The node.
    pub node: Node,
    /// Its kernel services (rpc registry, global, pg …).
    pub kernel: Kernel,
    /// The application controller (and dist_ac).
    pub apps: Applications,
}

impl Running {
    /// Waits until `init:stop()` is called (by rpc) or the program gets
    /// Ctrl-C / SIGTERM, then stops the node. An `erlang:halt/1` exits the
    /// program at once with its status, as a BEAM halts.
    pub async fn wait(self) {
        let term = async {
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(mut s) => {
                    s.recv().await;
                }
                Err(_) => std::future::pending().await,
            }
        };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => tracing::info!("interrupted; stopping"),
            _ = term => tracing::info!("terminated; stopping"),
            _ = self.kernel.stopped() => tracing::info!("init:stop() called; stopping"),
            status = self.kernel.halt.halted() => std::process::exit(status),
        }
        self.node.stop().await;
    }
}

/// The distribution settings of the kernel parameters.
fn apply_kernel_params(node: &mut NodeConfig, kernel: &KernelParams) {
    node.net_ticktime = kernel.net_ticktime;
    node.net_tickintensity = kernel.net_tickintensity;
    node.net_setuptime = kernel.net_setuptime;
    node.listen_addr = kernel.inet_dist_use_interface;
    node.listen_options = kernel.inet_dist_listen_options.clone();
    if let Some(kib) = kernel.dist_buf_busy_limit {
        node.dist_buf_busy_limit = kib as usize * 1024;
    }
    if let Some(max) = kernel.dist_max_message_size {
        node.max_message_size = max;
    }
    if let Some(min) = kernel.inet_dist_listen_min {
        node.listen_ports = (min, kernel.inet_dist_listen_max.unwrap_or(min));
    }
}

/// dist_ac's view of the kernel parameters (`dist_check/1`).
fn dist_config(params: &KernelParams, sys: &SysConfig) -> Config {
    let distributed = params
        .distributed
        .iter()
        .map(|d| DistEntry {
            app: Atom::from(d.app.as_str()),
            restart_time: match d.restart_time {
                CfgRestart::Millis(ms) => RestartTime::Ms(ms),
                CfgRestart::Infinity => RestartTime::Infinity,
            },
            // The raw term keeps the order BEAM compares; the typed groups
            // are the fallback.
            nodes: NodesSpec::from_term(&d.raw_nodes).unwrap_or_else(|| {
                NodesSpec(
                    d.nodes
                        .iter()
                        .map(|g| match g {
                            NodeGroup::Node(n) => NodeSpec::One(Atom::from(n.as_str())),
                            NodeGroup::Group(ns) => {
                                NodeSpec::Any(ns.iter().map(|n| Atom::from(n.as_str())).collect())
                            }
                        })
                        .collect(),
                )
            }),
        })
        .collect();
    let permissions = sys
        .get("kernel", "permissions")
        .and_then(|t| t.as_list().map(|l| l.into_owned()))
        .unwrap_or_default()
        .iter()
        .filter_map(|p| match p.as_tuple() {
            Some([a, b]) => Some((Atom::from(a.as_atom()?), b.as_bool()?)),
            _ => None,
        })
        .collect();
    let heal_partitions = sys
        .get("kernel", "distro_heal_partitions")
        .and_then(|t| t.as_bool())
        .unwrap_or(true);
    Config {
        distributed,
        permissions,
        heal_partitions,
    }
}

/// `sync_nodes_*` (None when `sync_nodes_timeout` is unset).
fn sync_nodes(params: &KernelParams) -> Option<SyncNodes> {
    let timeout = match params.sync_nodes_timeout? {
        Timeout::Millis(ms) => SyncTimeout::Ms(ms),
        Timeout::Infinity => SyncTimeout::Infinity,
    };
    let atoms = |v: &[String]| v.iter().map(|n| Atom::from(n.as_str())).collect();
    Some(SyncNodes {
        mandatory: atoms(&params.sync_nodes_mandatory),
        optional: atoms(&params.sync_nodes_optional),
        timeout,
    })
}

/// Halts like BEAM: the crash tuple on stdout, the `Kernel pid terminated`
/// line on stderr, exit status 1.
pub(crate) fn erl_halt() -> HaltFn {
    Arc::new(|code, line| {
        if let Some(reason) = line
            .strip_prefix("Kernel pid terminated (application_controller) (")
            .and_then(|r| r.strip_suffix(')'))
        {
            println!("{{\"Kernel pid terminated\",application_controller,\"{reason}\"}}");
        }
        eprintln!("{line}");
        std::process::exit(code);
    })
}
