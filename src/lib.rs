//! # distro — an Erlang distribution node written in Rust
//!
//! `distro` registers with EPMD, performs the real distribution handshake
//! with BEAM nodes, and hosts Rust processes that BEAM processes can send
//! to, link to, monitor and call, as if they lived on another BEAM node.
//! It does *not* run Erlang code: servers, supervisors and applications
//! are written in Rust against this API.
//!
//! ## A running node
//!
//! [`Node::builder`] starts a node, its kernel services (`net_kernel`,
//! `rex`, `global`, `pg`, the application controller) and applications;
//! a sys.config configures it as it configures a BEAM node.
//!
//! ```no_run
//! # async fn demo() -> Result<(), distro::BootError> {
//! let running = distro::Node::builder("rust@127.0.0.1").cookie("secret").start().await?;
//! assert!(running.node.ping("beam@127.0.0.1").await);
//! # Ok(())
//! # }
//! ```
//!
//! ## A GenServer
//!
//! A [`GenServer`] is `gen_server`'s callback module as a Rust type;
//! BEAM nodes call it with `gen_server:call({counter, 'rust@127.0.0.1'}, ...)`.
//! From plain Rust, a [`Client`] (`node.client()`) calls and casts. [`term!`]
//! builds terms and [`term_match!`] takes them apart.
//!
//! ```
//! use distro::prelude::*;
//!
//! struct Counter(i64);
//!
//! impl GenServer for Counter {
//!     async fn handle_call(&mut self, req: Term, _from: GenFrom, _p: &mut Process) -> CallReply {
//!         term_match!(req,
//!             {add, (n: i64)} => { self.0 += n; CallReply::Reply(term!((self.0))) },
//!             _ => CallReply::Reply(term!({error, badarg})),
//!         )
//!     }
//! }
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! let node = Node::local("demo@localhost");
//! gen_server::start(&node, Some(ServerName::local("counter")), Counter(0)).await.unwrap();
//! let client = node.client();
//! assert_eq!(client.call("counter", term!({add, 2}), 5000).await, Ok(term!(2)));
//! # }
//! ```
//!
//! ## An Application
//!
//! An [`Application`] starts a supervision tree ([`supervisor`]) under the
//! application controller; `examples/counter_app.rs` is a supervised,
//! globally registered counter in under 30 lines, and `examples/` holds a
//! client of a BEAM gen_server and a pg/Phoenix.PubSub relay.
//!
//! ## Layers
//!
//! ```text
//!   boot (Node::builder) ─► kernel (net_kernel, rex + rpc/erpc, global, pg, dist_ac, application_controller)
//!              │
//!              ▼
//!           behaviours (gen_server, supervisor, sys, proc_lib)
//!              │
//!              ▼
//!           runtime (pids, mailboxes, links, monitors, registry, routing)
//!              │
//!              ▼
//!           dist (handshake state machine, framing, control messages, connection driver)
//!              │                          │
//!              ▼                          ▼
//!           epmd (client, server)      term (hardened ETF codec, term!, .config text parser)
//! ```
//!
//! Protocol logic is written as sans-IO state machines (no sockets, no clock,
//! no tasks) wrapped by thin tokio drivers. The modules below are the full
//! API; [`prelude`] and the crate root hold what an application needs.

#[doc(hidden)]
pub mod apps;
pub mod behaviours;
mod boot;
#[doc(hidden)]
pub mod cli;
pub mod config;
#[doc(hidden)]
pub mod dist;
#[cfg(feature = "docker")]
pub mod docker;
pub mod epmd;
pub mod kernel;
pub mod phoenix_pubsub;
pub mod rng;
pub mod runtime;
pub mod term;

pub use behaviours::gen_server::{
    self, CallExit, CallReply, Client, GenFrom, GenServer, Init, NameRegistry, Next, ServerName,
    ServerRef, Timeout,
};
pub use behaviours::supervisor::{self, ChildSpec, SupSpec};
pub use boot::{BootError, NodeBuilder, Running};
pub use kernel::application_controller::{
    AppContext, AppSpec, AppStartError, Application, RestartType, StartResult, StartType, Started,
};
pub use runtime::{Node, NodeConfig, Process};
pub use term::{Atom, FromTerm, IntoTerm, Pid, Term, TermExt};

/// The machinery under the API, public for the `distro` binary, the fuzz
/// targets and tests that drive the protocols directly: the distribution
/// protocol (handshake state machine, framing, control messages, TLS), the
/// built-in applications of the command line, and the command line itself.
/// Nothing here is needed to write a node, a server or an application.
pub mod internal {
    #[doc(inline)]
    pub use crate::apps;
    #[doc(inline)]
    pub use crate::cli;
    #[doc(inline)]
    pub use crate::dist;
}

/// What an application needs, in one import: `use distro::prelude::*;`.
pub mod prelude {
    pub use crate::behaviours::gen_server::{
        self, CallReply, Client, GenFrom, GenServer, Init, NameRegistry, Next, ServerName,
    };
    pub use crate::behaviours::supervisor::{self, ChildSpec, SupSpec};
    pub use crate::kernel::application_controller::{
        AppContext, AppSpec, AppStartError, Application, StartResult, StartType, Started,
    };
    pub use crate::runtime::{Node, Process};
    pub use crate::term::{Atom, Pid, Term, TermExt};
    pub use crate::{term, term_match};
}

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
