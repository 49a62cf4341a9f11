//! The interop test harness: real BEAM nodes and real `distro` processes,
//! started safely from Rust tests.
//!
//! ```text
//!   require_otp()  ── which OTP release (DISTRO_OTP = 25 | 27 | 29), host erl or chroot
//!        │
//!   Epmd::start()  ── a private `epmd -port P` on 127.0.0.1 for this test only
//!        │            (ERL_EPMD_PORT=P is given to every node below)
//!        ├── BeamNode::start(&epmd, BeamOpts::new("a"))   erl + stdin eval loop
//!        └── DistroNode::start(&epmd, DistroOpts::new())  the `distro` binary
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

pub(crate) mod beam;
pub(crate) mod distro;
pub(crate) mod epmd;
pub(crate) mod names;
pub(crate) mod otp;
pub(crate) mod process;
pub(crate) mod rust_node;

pub(crate) use beam::{BeamNode, BeamOpts, EvalError, NameKind};
pub(crate) use distro::{DistroNode, DistroOpts};
pub(crate) use epmd::Epmd;
pub(crate) use names::{free_port, unique_name};
pub(crate) use otp::{Otp, SharedDir, require_otp};
pub(crate) use process::{ProcessGuard, Stream};

/// The cookie used when a test does not choose one.
pub(crate) const DEFAULT_COOKIE: &str = "distro_harness_cookie";
