//! The one integration-test binary of `distro` (all integration tests live in
//! this binary, so they link once and share [`support`]).
//!
//! Interop tests run against the OTP release selected by `DISTRO_OTP`
//! (25, the default, 27 or 29); `scripts/test.sh` runs this binary once per
//! release. See `support` for the harness.

mod support;

mod busy_limit;
mod campaign;
mod cli;
mod containers;
mod dist_ac;
mod epmd;
mod epmd_compat;
mod erl_call;
mod examples;
mod gen_server;
mod global;
mod global_conflicts;
mod global_partitions;
mod handshake;
mod harness_smoke;
mod hostile;
mod introspection;
mod ipv6;
mod jinterface;
mod node;
mod pg;
mod phoenix_pubsub;
mod release;
mod rex_legacy;
mod rpc;
mod supervisor;
mod tls;
