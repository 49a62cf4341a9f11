//! Kernel services, one module per OTP kernel process they mirror
//! (`lib/kernel/src/kernel.erl` starts them under `kernel_sup`).
//!
//! | module | OTP process | what peers get from it |
//! |---|---|---|
//! | [`net_kernel`] | `net_kernel` | `{is_auth, Node}` → `yes` (ping) |
//! | [`rex`] | `rex` + erpc | `features_request`, `{call, M, F, A, GL}`, `SPAWN_REQUEST` of `erpc:execute_call/4` |
//! | [`global`] | `global_name_server` (+ locker, registrar) | connect-sync, `set_lock`/`del_lock`, `register`/`unregister`, `lost_connection` |
//!
//! Client modules (library functions, no process of their own):
//! [`rpc`] and [`erpc`] call functions on other nodes, BEAM or Rust, the way
//! `rpc.erl` / `erpc.erl` do (`SPAWN_REQUEST` of `erpc:execute_call/4`).

pub mod erpc;
pub mod global;
pub mod net_kernel;
pub mod rex;
pub mod rpc;

use crate::runtime::Node;

/// Handles to the kernel services of a node.
#[derive(Debug, Clone)]
pub struct Kernel {
    /// Functions served over rpc/erpc.
    pub rpc: rex::Registry,
    /// Global names and locks.
    pub global: global::Global,
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
    Kernel { rpc, global, stop }
}
