//! Kernel services, one module per OTP kernel process they mirror
//! (`lib/kernel/src/kernel.erl` starts them under `kernel_sup`).
//!
//! | module | OTP process | what peers get from it |
//! |---|---|---|
//! | [`net_kernel`] | `net_kernel` | `{is_auth, Node}` → `yes` (ping) |
//! | [`rex`] | `rex` + erpc | `features_request`, `{call, M, F, A, GL}`, `SPAWN_REQUEST` of `erpc:execute_call/4` |

pub mod global;
pub mod net_kernel;
pub mod rex;

use crate::runtime::Node;

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
