//! Unique node names and free TCP ports.
//!
//! Tests run in parallel (threads of one test binary, and possibly several
//! test binaries at once), so every node name carries the process id and a
//! per-process counter, and every port is one the kernel just handed out.

use std::net::{Ipv4Addr, TcpListener};
use std::sync::atomic::{AtomicU32, Ordering};

static COUNTER: AtomicU32 = AtomicU32::new(0);

/// A node name (the part before `@`) unique to this test process and call:
/// `t{pid}_{counter}_{label}`.
///
/// `label` is reduced to `[a-z0-9_]` (other characters become `_`) so that the
/// result is always a valid unquoted Erlang atom and a valid EPMD name.
pub(crate) fn unique_name(label: &str) -> String {
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let label: String = label
        .chars()
        .map(|c| {
            let c = c.to_ascii_lowercase();
            if c.is_ascii_alphanumeric() || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    format!("t{}_{}_{}", std::process::id(), n, label)
}

/// `{prefix}_{unique_name(label)}`: a unique name whose place in the order
/// of node names is decided by `prefix` (names from [`unique_name`] all
/// start with `t`). For tests where that order matters: the lower name loses
/// a simultaneous connect, and global's name clash resolution kills the pid
/// on the larger node name. `prefix` must start with a lowercase letter.
pub(crate) fn prefixed_unique_name(prefix: &str, label: &str) -> String {
    format!("{prefix}_{}", unique_name(label))
}

/// A unique long node name, `unique_name(label)@127.0.0.1`.
pub(crate) fn unique_node(label: &str) -> String {
    format!("{}@127.0.0.1", unique_name(label))
}

/// A TCP port on 127.0.0.1 that was free a moment ago.
///
/// The port is released before it is returned, so another process may take
/// it in between; callers that bind it (e.g. [`super::Epmd::start`]) retry on
/// a fresh port when that happens.
pub(crate) fn free_port() -> u16 {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .expect("binding 127.0.0.1:0 to find a free port");
    listener
        .local_addr()
        .expect("local address of a bound listener")
        .port()
}
