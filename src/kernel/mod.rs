//! Kernel services, one module per OTP kernel process they mirror
//! (`lib/kernel/src/kernel.erl` starts them under `kernel_sup`).
//!
//! | module | OTP process | what peers get from it |
//! |---|---|---|
//! | [`net_kernel`] | `net_kernel` | `{is_auth, Node}` → `yes` (ping) |
//! | [`rex`] | `rex` + erpc | `features_request`, `{call, M, F, A, GL}`, `SPAWN_REQUEST` of `erpc:execute_call/4` |
//! | [`application_controller`] | `application_controller` | `which_applications` (also over rpc), `ac_*` with dist_ac |
//! | [`dist_ac`] | `dist_ac` | every `dist_ac_*` message, the boot sync under `{dist_ac, sync_dacs}` |
//! | [`kernel_config`] | `kernel_config` | `sync_nodes_*` pings at boot, then `{go, Pid}` to dist_ac |

pub mod application_controller;
pub mod dist_ac;
pub mod kernel_config;
pub mod net_kernel;
pub mod rex;

use crate::runtime::Node;
use std::sync::Arc;

/// Handles to the kernel services of a node.
#[derive(Debug, Clone)]
pub struct Kernel {
    /// Functions served over rpc/erpc.
    pub rpc: rex::Registry,
}

/// Starts the kernel services on `node`.
pub fn start(node: &Node) -> Kernel {
    let rpc = rex::Registry::with_builtins();
    net_kernel::start(node);
    rex::start(node, rpc.clone());
    Kernel { rpc }
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
    /// The lock service dist_ac uses (default: [`dist_ac::GlobalLocks`]).
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
        &kernel.rpc,
        cfg.env,
        cfg.halt.clone(),
    );
    let want_dac = cfg
        .start_dist_ac
        .unwrap_or(!cfg.dist.distributed.is_empty());
    let dac = want_dac.then(|| {
        let seed = u64::from(node.creation()) ^ u64::from(node.listen_port()) << 32;
        let locks = cfg
            .locks
            .unwrap_or_else(|| Arc::new(dist_ac::GlobalLocks::new(seed)));
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
    Ok(Applications { ac, dist_ac: dac })
}
