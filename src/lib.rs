//! # distro — an Erlang distribution node written in Rust
//!
//! `distro` registers with EPMD, performs the real distribution handshake
//! with BEAM nodes, and hosts Rust processes that BEAM processes can send
//! to, link to, monitor and call, as if they lived on another BEAM node.
//!
//! ```text
//!   cli ──► kernel (net_kernel, rex + rpc/erpc clients, global, dist_ac, application_controller)
//!              │
//!              ▼
//!           behaviours (gen_server: the GenServer trait, call/cast/multi_call)
//!              │
//!              ▼
//!           runtime (pids, mailboxes, links, monitors, registry, routing)
//!              │
//!              ▼
//!           dist (handshake state machine, framing, control messages, connection driver)
//!              │                          │
//!              ▼                          ▼
//!           epmd (client, server)      term (hardened ETF codec, .config text parser)
//! ```
//!
//! Protocol logic is written as sans-IO state machines (no sockets, no clock,
//! no tasks) wrapped by thin tokio drivers. What this crate does *not* do:
//! run Erlang code. Functions callable over rpc and applications are written
//! in Rust against the public API.
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use distro::runtime::NodeConfig;
//! use distro::term::{atom, tuple};
//!
//! let (node, _kernel) = distro::start(NodeConfig::new("rust@127.0.0.1", "secret")).await?;
//! node.spawn(|mut proc| async move {
//!     proc.register("echo").ok();
//!     loop {
//!         let msg = proc.recv().await;
//!         if let Some(call) = distro::runtime::GenCall::parse(&msg) {
//!             proc.reply(&call.from, tuple(vec![atom("echo"), call.request.clone()]));
//!         }
//!     }
//! });
//! assert!(node.ping("beam@127.0.0.1").await);
//! # Ok(())
//! # }
//! ```

pub mod apps;
pub mod behaviours;
pub mod cli;
pub mod config;
pub mod dist;
#[cfg(feature = "docker")]
pub mod docker;
pub mod epmd;
pub mod kernel;
pub mod phoenix_pubsub;
pub mod rng;
pub mod runtime;
pub mod term;

/// Starts a node with its kernel services (`net_kernel`, `rex`/erpc).
pub async fn start(
    cfg: runtime::NodeConfig,
) -> Result<(runtime::Node, kernel::Kernel), runtime::StartError> {
    let node = runtime::Node::start(cfg).await?;
    let kernel = kernel::start(&node);
    Ok((node, kernel))
}

/// The README's Rust examples, compiled as doc tests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
