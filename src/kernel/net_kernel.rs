//! `net_kernel` — mirrors `lib/kernel/src/net_kernel.erl` as far as peers
//! see it: a process registered as `net_kernel` that answers
//! `{is_auth, Node}` with `yes` (what `net_adm:ping/1` asks), and replies
//! to the other calls BEAM nodes send to a remote net_kernel.
//!
//! Connection management itself (`accept_pending`, `is_pending`,
//! `monitor_nodes`) lives in the node's connection table
//! ([`crate::runtime::Node`]); this process is only the face peers talk to.

use crate::runtime::{GenCall, Node};
use crate::term::{Term, TermExt, atom};

/// Starts the `net_kernel` process on `node`.
pub fn start(node: &Node) -> crate::term::Pid {
    node.spawn(|mut p| async move {
        if p.register("net_kernel").is_err() {
            tracing::error!("net_kernel is already registered");
            return;
        }
        loop {
            let msg = p.recv().await;
            let call = match GenCall::take(msg) {
                Ok(call) => call,
                Err(msg) => {
                    tracing::trace!("net_kernel ignores {}", crate::term::Pretty(&msg));
                    continue;
                }
            };
            let reply = handle_call(p.node(), &call.request);
            p.reply(&call.from, reply);
        }
    })
}

fn handle_call(node: &Node, req: &Term) -> Term {
    match req.tuple_tag().or(req.as_atom()) {
        // net_adm:ping/1 and kernel_config's pings.
        Some("is_auth") => atom("yes"),
        Some("nodes_info") => Term::List(crate::term::List::nil()),
        Some("longnames") => crate::term::boolean(
            node.name()
                .name
                .split('@')
                .nth(1)
                .is_some_and(|h| h.contains('.')),
        ),
        _ => atom("ignored"),
    }
}
