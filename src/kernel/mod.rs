//! Kernel services, one module per OTP kernel process they mirror
//! (`lib/kernel/src/kernel.erl` starts them under `kernel_sup`).
//!
//! | module | OTP process | what peers get from it |
//! |---|---|---|
//! | [`net_kernel`] | `net_kernel` | `{is_auth, Node}` → `yes` (ping) |
//! | [`rex`] | `rex` + erpc | every `rpc.erl` request (`call`, `block_call`, `cast`, `sbcast`, `send`, `features_request`, the `{From, {call, ...}}` form), `SPAWN_REQUEST` of `erpc:execute_call/4` |
//! | [`global`] | `global_name_server` (+ locker, registrar) | connect-sync, `set_lock`/`del_lock`, `register`/`unregister`, `lost_connection` |
//! | [`application_controller`] | `application_controller` | `which_applications` (also over rpc), `ac_*` with dist_ac |
//! | [`dist_ac`] | `dist_ac` | every `dist_ac_*` message, the boot sync under `{dist_ac, sync_dacs}` |
//! | [`kernel_config`] | `kernel_config` | `sync_nodes_*` pings at boot, then `{go, Pid}` to dist_ac |
//! | [`pg`] | `pg` scopes (the default `pg` when `start_pg`) | `discover`, `sync`, `join`, `leave` (OTP 29: `local_data`, `update`) |
//! | [`introspection`] | (BIFs, `init`, `os`, `code`) | `system_info`, `memory`, `process_info`... over rpc |
//!
//! Client modules (library functions, no process of their own):
//! [`rpc`] and [`erpc`] call functions on other nodes, BEAM or Rust, the way
//! `rpc.erl` / `erpc.erl` do (`SPAWN_REQUEST` of `erpc:execute_call/4`).

use crate::term;
pub mod application_controller;
pub mod dist_ac;
pub mod erpc;
pub mod global;
pub mod introspection;
pub mod kernel_config;
pub mod net_kernel;
pub mod pg;
pub mod rex;
pub mod rpc;

use crate::runtime::Node;
use std::sync::Arc;

/// Handles to the kernel services of a node.
#[derive(Debug, Clone)]
pub struct Kernel {
    /// Functions served over rpc/erpc.
    pub rpc: rex::Registry,
    /// Global names and locks.
    pub global: global::Global,
    /// Process group scopes.
    pub pg: pg::Pg,
    /// `erlang:halt/0,1,2` requests (over rpc).
    pub halt: introspection::HaltSignal,
    stop: std::sync::Arc<tokio::sync::Notify>,
}

impl Kernel {
    /// Asks the node to stop, as `init:stop/0` does.
    pub fn request_stop(&self) {
        self.stop.notify_one();
    }

    /// Completes when `init:stop/0` was called (by rpc or [`Kernel::request_stop`]).
    pub async fn stopped(&self) {
        self.stop.notified().await;
    }
}

/// Kernel parameters.
#[derive(Debug, Clone, Default)]
pub struct KernelConfig {
    /// `connect_all`, `prevent_overlapping_partitions`.
    pub global: global::Config,
    /// `start_pg`: start the default `pg` scope (default `false`, as in kernel.erl).
    pub start_pg: bool,
    /// The command line, for `init:get_arguments/0` over rpc.
    pub init: introspection::InitArguments,
}

/// Starts the kernel services on `node` with default parameters.
pub fn start(node: &Node) -> Kernel {
    start_with(node, KernelConfig::default())
}

/// Starts the kernel services on `node`.
pub fn start_with(node: &Node, cfg: KernelConfig) -> Kernel {
    let rpc = rex::Registry::with_builtins();
    net_kernel::start(node);
    rex::start(node, rpc.clone());
    let global = global::start(node, cfg.global, &rpc);
    let pg = pg::start(node, &rpc, cfg.start_pg);
    let halt = introspection::HaltSignal::default();
    introspection::register(&rpc, cfg.init, halt.clone());
    let stop = std::sync::Arc::new(tokio::sync::Notify::new());
    let s = stop.clone();
    // As on BEAM, init:stop/0 returns `ok` at once and the node stops
    // afterwards, so the caller gets its answer before the connection closes.
    rpc.register_sync("init", "stop", 0, move |_, _| {
        let s = s.clone();
        tokio::spawn(async move {
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            s.notify_one();
        });
        Ok(crate::term::atom("ok"))
    });
    Kernel {
        rpc,
        global,
        pg,
        halt,
        stop,
    }
}

/// The application-related kernel parameters (`distributed`,
/// `permissions`, `sync_nodes_*`) and application environments.
pub struct AppsConfig {
    /// kernel `distributed` and `permissions`.
    pub dist: dist_ac::Config,
    /// `start_dist_ac`: `None` = only when `distributed` is set (kernel.erl).
    pub start_dist_ac: Option<bool>,
    /// `sync_nodes_*` (None when `sync_nodes_timeout` is unset).
    pub sync: Option<kernel_config::SyncNodes>,
    /// sys.config and `-App Par Val`.
    pub env: application_controller::AcConfig,
    /// How the node stops when OTP would halt it.
    pub halt: application_controller::HaltFn,
    /// The lock service dist_ac uses (default: the node's [`global`]).
    pub locks: Option<Arc<dyn dist_ac::Locks>>,
}

/// The application side of the kernel once booted.
#[derive(Debug, Clone)]
pub struct Applications {
    /// The application controller.
    pub ac: application_controller::ApplicationController,
    /// dist_ac, when started.
    pub dist_ac: Option<dist_ac::DistAcHandle>,
}

/// Boots the application side of the kernel as `kernel:init/1` does:
/// application_controller, dist_ac (if `distributed` is set), then
/// kernel_config's node sync and hand-over to dist_ac.
pub async fn start_applications(
    node: &Node,
    kernel: &Kernel,
    cfg: AppsConfig,
) -> Result<Applications, kernel_config::KernelConfigError> {
    let ac = application_controller::ApplicationController::start(
        node,
        kernel,
        cfg.env,
        cfg.halt.clone(),
    );
    let want_dac = cfg
        .start_dist_ac
        .unwrap_or(!cfg.dist.distributed.is_empty());
    let dac = want_dac.then(|| {
        let locks = cfg.locks.unwrap_or_else(|| Arc::new(kernel.global.clone()));
        dist_ac::service::start(
            node,
            dist_ac::service::ServiceConfig {
                config: cfg.dist,
                locks,
                weight: ac.weight(),
                halt: cfg.halt,
            },
        )
    });
    kernel_config::run(node, cfg.sync, dac.as_ref()).await?;
    let apps = Applications { ac, dist_ac: dac };
    apps.serve_rpc(&kernel.rpc);
    Ok(apps)
}

impl Applications {
    /// Serves `application:takeover/2` and `application:permit/2` over rpc,
    /// so that another node (a BEAM node, or `distro takeover` / `distro
    /// permit` running as a hidden node) can act on this one.
    fn serve_rpc(&self, rpc: &rex::Registry) {
        use crate::term::{Term, TermExt, atom};
        fn error(reason: Term) -> Term {
            term!({error, (reason)})
        }
        rpc.register_with(
            "application",
            "takeover",
            2,
            self.clone(),
            |apps, _, args| async move {
                let (Some(app), Some(rt)) = (
                    args.first().and_then(TermExt::as_atom),
                    args.get(1)
                        .and_then(TermExt::as_atom)
                        .and_then(application_controller::RestartType::parse),
                ) else {
                    return Err(rex::Exception::badarg());
                };
                Ok(match apps.takeover(app, rt).await {
                    Ok(()) => atom("ok"),
                    Err(dist_ac::TakeoverError::Error(r)) => error(r),
                    Err(dist_ac::TakeoverError::Aborted) => error(atom("aborted")),
                })
            },
        );
        if let Some(dac) = self.dist_ac.clone() {
            // dist_ac:get_known_nodes/0 (a distro node healing a partition
            // asks it, as of a BEAM node).
            rpc.register_with(
                "dist_ac",
                "get_known_nodes",
                0,
                dac,
                |dac, _, _| async move {
                    let known = dac.known_nodes().await;
                    Ok(crate::term::list(
                        known.into_iter().map(Term::Atom).collect(),
                    ))
                },
            );
        }
        rpc.register_with(
            "application",
            "permit",
            2,
            self.clone(),
            |apps, _, args| async move {
                let (Some(app), Some(on)) = (
                    args.first().and_then(TermExt::as_atom),
                    args.get(1).and_then(TermExt::as_bool),
                ) else {
                    return Err(rex::Exception::badarg());
                };
                Ok(match apps.permit(app, on).await {
                    Ok(()) => atom("ok"),
                    Err(application_controller::AppError(r)) => error(r),
                })
            },
        );
    }

    /// `application:permit(App, Bool)`: the AC first, then dist_ac for a
    /// distributed application (application.erl `permit/2`).
    pub async fn permit(
        &self,
        app: &str,
        permitted: bool,
    ) -> Result<(), application_controller::AppError> {
        use crate::term::TermExt;
        let r = self.ac.permit_application(app, permitted).await?;
        let only_loaded = match (r.as_atom(), r.tuple_tag()) {
            (Some("distributed_application"), _) => false,
            (_, Some("distributed_application")) => true,
            (_, Some("error")) => {
                return Err(application_controller::AppError(
                    r.elem(1).cloned().unwrap_or(r),
                ));
            }
            _ => return Ok(()),
        };
        let Some(dac) = &self.dist_ac else {
            return Ok(());
        };
        dac.permit_application(app, permitted, only_loaded)
            .await
            .map_err(|e| application_controller::AppError(crate::term::atom(&e.to_string())))
    }

    /// `application:takeover(App, RestartType)`.
    pub async fn takeover(
        &self,
        app: &str,
        rt: application_controller::RestartType,
    ) -> Result<(), dist_ac::TakeoverError> {
        match &self.dist_ac {
            Some(dac) => dac.takeover_application(app, rt).await,
            None => Err(dist_ac::TakeoverError::Error(
                term!({not_running_distributed, (crate::term::atom(app))}),
            )),
        }
    }
}
