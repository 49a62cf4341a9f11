//! The interop test harness: real BEAM nodes and real `distro` processes,
//! started safely from Rust tests.
//!
//! ```text
//!   require_otp()  ── which OTP release (DISTRO_OTP = 25 | 27 | 29), host erl or chroot
//!        │
//!   Epmd::start()  ── a private `epmd -port P` on 127.0.0.1 for this test only
//!        │            (ERL_EPMD_PORT=P is given to every node below)
//!        ├── BeamNode::start(&epmd, BeamOpts::new("a"))   erl + stdin eval loop
//!        ├── DistroNode::start(&epmd, DistroOpts::new())  the `distro` binary
//!        ├── ElixirNode::start(&epmd, ElixirOpts::new(…)) `elixir` of the release,
//!        │                                          apps built by mix_compile
//!        ├── RustNode::start(&epmd, "r")                  the library, in-process
//!        ├── TlsDir::optfile(…)                          certificates and -ssl_dist_optfile
//!        │                                                files for TLS distribution
//!        ├── docker::DockerCluster::new(…)                one host per node in
//!        │                                          containers (own network)
//!        └── epmd.register(name, port)                    a raw ALIVE2, for tests
//!                                                         that play a node by hand
//! ```
//!
//! Rules every helper follows:
//!
//! * every process is a child of the test process, spawned with
//!   `PR_SET_PDEATHSIG = SIGKILL`, and is killed **by PID** (never by name)
//!   when its guard is dropped; nothing outlives the test;
//! * node names and ports are unique per test (see [`names`]), everything
//!   listens on 127.0.0.1 only, and the default EPMD on port 4369 is never
//!   used;
//! * each process's stdout and stderr are captured line by line, so a test
//!   can assert on log lines; when a test panics, the tail of every log is
//!   printed to help diagnose it. Set `DISTRO_TEST_ECHO=1` to also echo every
//!   line live to stderr.
//!
//! A typical test:
//!
//! ```ignore
//! #[test]
//! fn ping_between_beam_nodes() {
//!     let Some(otp) = require_otp() else { return };
//!     let epmd = Epmd::start().unwrap();
//!     let a = BeamNode::start(&epmd, BeamOpts::new("a").otp(otp.clone())).unwrap();
//!     let b = BeamNode::start(&epmd, BeamOpts::new("b").otp(otp)).unwrap();
//!     let pong = a.eval(&format!("net_adm:ping('{}').", b.node_name())).unwrap();
//!     assert_eq!(pong, "pong");
//! }
//! ```

// The harness is shared by every interop test; no single test uses every
// helper (or re-export), so unused ones are expected.
#![allow(dead_code, unused_imports)]

pub(crate) mod any_node;
pub(crate) mod beam;
pub(crate) mod distro;
pub(crate) mod docker;
pub(crate) mod elixir;
pub(crate) mod epmd;
pub(crate) mod names;
pub(crate) mod otp;
pub(crate) mod process;
pub(crate) mod rust_log;
pub(crate) mod rust_node;
pub(crate) mod tls;

pub(crate) use any_node::{AnyNode, eval_term, quoted};
pub(crate) use beam::{BeamNode, BeamOpts, EvalError, NameKind, PendingEval};
pub(crate) use distro::{DistroNode, DistroOpts};
pub(crate) use elixir::{ElixirNode, ElixirOpts, mix_compile, require_elixir};
pub(crate) use epmd::{Epmd, Registration};
pub(crate) use names::{free_port, prefixed_unique_name, unique_name, unique_node};
pub(crate) use otp::{Otp, SharedDir, require_otp, write_script};
pub(crate) use process::{ProcessGuard, Stream, TAIL_LINES};
pub(crate) use rust_node::RustNode;

use std::time::{Duration, Instant};

/// The cookie used when a test does not choose one.
pub(crate) const DEFAULT_COOKIE: &str = "distro_harness_cookie";

/// Polls `done` every 50 ms until it returns true, for up to `timeout`;
/// fails naming `what` if it never does.
pub(crate) fn wait_until(
    what: &str,
    timeout: Duration,
    mut done: impl FnMut() -> bool,
) -> anyhow::Result<()> {
    let deadline = Instant::now() + timeout;
    while !done() {
        if Instant::now() >= deadline {
            anyhow::bail!("timed out after {timeout:?} waiting until {what}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Ok(())
}

/// A multi-threaded tokio runtime with two workers (the machine may have
/// only two cores), for the crate's async code under test: its tasks (an
/// in-process node, our EPMD server) keep running on the workers while the
/// test thread blocks on a BEAM node or a child process.
pub(crate) fn tokio_runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime")
}
