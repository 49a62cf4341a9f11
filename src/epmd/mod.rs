//! EPMD, the Erlang Port Mapper Daemon: the protocol messages, a tokio
//! client, and our own EPMD server (wire-compatible with OTP's `epmd`),
//! which can run in-process, in the foreground or as a daemon.
//!
//! References: ERTS User's Guide, "Distribution Protocol" ("EPMD Protocol");
//! `lib/kernel/src/erl_epmd.erl` (the BEAM client);
//! `erts/epmd/src/epmd_srv.c` (the server). Behaviour was checked against the
//! OTP 25 `epmd` and `erl`, and is tested against OTP 25, 27 and 29 (see
//! `tests/integration/epmd.rs`).
//!
//! ```text
//!   client.rs ── register / port_please / names / kill / dump
//!      │           (erl_dist::epmd::EpmdClient over tokio, with timeouts)
//!      ▼
//!   ─ TCP, one request per connection; ALIVE2 keeps its connection ─
//!      ▲
//!   server.rs ── tokio accept loop, one task per connection
//!      │
//!   registry.rs ── sans-IO state machine: names, creations, replies
//!      │
//!   proto.rs ── pure frames: check/parse requests, encode replies
//!
//!   daemon.rs ── run_foreground, daemonize_self, ensure_running
//! ```
//!
//! Like OTP's epmd, the server listens on IPv4 and IPv6 (`0.0.0.0` and
//! `::`, or the loopbacks and each `-address`), and the command-line
//! client tries `::1` before `127.0.0.1`. What this module does not do:
//! systemd socket activation, or the old R3 requests (`'a'`, `'p'`), which
//! OTP's epmd no longer serves either.
//!
//! ```no_run
//! # async fn demo() -> Result<(), distro::epmd::EpmdError> {
//! use distro::epmd;
//!
//! let port = epmd::epmd_port_from_env();
//! epmd::ensure_running(port).await?;
//! let local = epmd::local_epmd_addr();
//! let mut registration = epmd::register(local, "rust", 4370, false).await?;
//! println!("creation {}", registration.creation());
//! let peer = epmd::port_please(local, "beam").await?;
//! println!("beam listens on {:?}", peer.map(|e| e.port));
//! // Notice when EPMD goes away:
//! let lost = registration.lost().await;
//! eprintln!("{lost}");
//! # Ok(())
//! # }
//! ```

pub mod client;
pub mod daemon;
mod error;
pub mod proto;
pub mod registry;
pub mod server;

pub use client::{
    DEFAULT_EPMD_PORT, MAX_REPLY_BYTES, REQUEST_TIMEOUT, Registration, dump, epmd_port_from_env,
    kill, local_epmd_addr, names, parse_epmd_port, port_please, register, stop,
};
pub use daemon::{
    EnsureOptions, EpmdStarted, daemonize_self, daemonize_self_with, ensure_running,
    ensure_running_with, find_in_path, listen_addresses, own_daemon_args, run_foreground,
    run_foreground_on, run_foreground_with, spawn_detached, spawn_detached_in, spawn_own_daemon,
};
pub use erl_dist::epmd::{NodeEntry, NodeType, TransportProtocol};
pub use error::EpmdError;
pub use server::{ServerConfig, serve, serve_on, serve_with};
