//! The tokio driver of [`super::core::ScopeCore`]: one runtime process per
//! scope, registered under the scope's name as `gen_server:start({local,
//! Scope}, pg, [Scope], [])` registers it, subscribed to nodeup/nodedown
//! (`net_kernel:monitor_nodes(true)`).
//!
//! It feeds the mailbox and API requests to the core and executes the
//! outputs. Whether a node accepts the versioned `discover` comes from its
//! distribution flags (`DFLAG_ALTACT_SIG`, first sent by OTP 28; OTP 26+
//! accept `{discover, Pid, Vsn}`).

use super::core::{Input, Output, ScopeCore};
use super::msg::Request;
use super::table::Table;
use crate::dist::DFlags;
use crate::runtime::{Dest, Node, Process};
use crate::term::{Atom, Pid, Term, TermExt};
use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use tokio::sync::{mpsc, oneshot};

/// What the API sends the scope process.
pub(crate) enum Event {
    /// A request; `caller` is the process a monitor is for.
    Api {
        caller: Option<Pid>,
        request: Request,
        reply: oneshot::Sender<Term>,
    },
    /// `gen_server:stop/1`.
    Stop,
}

/// Handles to a running scope.
pub(crate) struct Started {
    pub(crate) pid: Pid,
    pub(crate) events: mpsc::UnboundedSender<Event>,
    pub(crate) table: Arc<RwLock<Table>>,
}

/// Whether `node` accepts `{discover, Pid, Vsn}`.
fn versioned(node: &Node, peer: &Atom) -> bool {
    node.peer_flags(peer)
        .is_some_and(|f| f.contains(DFlags::ALTACT_SIG))
}

/// Whether `erlang:send(To, _, [noconnect])` would deliver (no connection
/// is set up for it).
fn reachable(node: &Node, to: &Dest) -> bool {
    let peer = match to {
        Dest::Pid(p) => &p.node,
        Dest::Remote(_, n) => n,
        Dest::Alias(r) => &r.node,
        Dest::Name(_) => return true,
    };
    peer == node.name() || node.peer_flags(peer).is_some()
}

/// Runs `on_exit` when the scope process ends, however it ends (a killed
/// process's task is dropped at its next `.await`): OTP's `terminate/2`
/// deletes the table.
struct ExitGuard<F: FnMut()>(F);

impl<F: FnMut()> Drop for ExitGuard<F> {
    fn drop(&mut self) {
        (self.0)();
    }
}

/// Starts the scope `scope` on `node`; `on_exit` runs when it ends. Fails
/// with the pid of the process already registered under that name.
pub(crate) fn start(
    node: &Node,
    scope: Atom,
    on_exit: impl FnMut() + Send + 'static,
) -> Result<Started, Option<Pid>> {
    let (core_tx, core_rx) = oneshot::channel::<ScopeCore>();
    let (tx, mut rx) = mpsc::unbounded_channel::<Event>();
    let pid = node.spawn(move |mut p: Process| async move {
        let Ok(mut core) = core_rx.await else {
            return;
        };
        let table = core.table();
        let _guard = ExitGuard(move || {
            *table.write().unwrap_or_else(|e| e.into_inner()) = Table::default();
        });
        let _registry = ExitGuard(on_exit);
        let node = p.node().clone();
        p.monitor_nodes(true, false);
        let peers: Vec<(Atom, bool)> = node
            .nodes()
            .into_iter()
            .map(|n| {
                let v = versioned(&node, &n);
                (n, v)
            })
            .collect();
        core.start(&peers);
        let mut api: HashMap<u64, oneshot::Sender<Term>> = HashMap::new();
        let mut next_token = 0u64;
        loop {
            while let Some(o) = core.poll_output() {
                execute(&node, &mut p, &mut api, o);
            }
            tokio::select! {
                m = p.recv() => {
                    tracing::trace!(msg = %crate::term::Pretty(&m), "pg scope <-");
                    let input = match (m.tuple_tag(), m.elem(1)) {
                        (Some("nodeup"), Some(Term::Atom(n))) => Input::NodeUp {
                            versioned: versioned(&node, n),
                            node: n.clone(),
                        },
                        _ => Input::Message(m),
                    };
                    core.handle(input);
                }
                ev = rx.recv() => match ev {
                    Some(Event::Api { caller, request, reply }) => {
                        next_token += 1;
                        api.insert(next_token, reply);
                        core.handle(Input::Api { token: next_token, caller, request });
                    }
                    Some(Event::Stop) | None => return,
                },
            }
        }
    });
    if !node.inner.register(&scope, &pid) {
        // The process ends when `core_tx` is dropped.
        return Err(node.whereis(&scope.name));
    }
    let refs = node.clone();
    let core = ScopeCore::new(scope, pid.clone(), Box::new(move || refs.make_ref()));
    let table = core.table();
    if core_tx.send(core).is_err() {
        return Err(None);
    }
    Ok(Started {
        pid,
        events: tx,
        table,
    })
}

fn execute(node: &Node, p: &mut Process, api: &mut HashMap<u64, oneshot::Sender<Term>>, o: Output) {
    tracing::trace!(output = ?o, "pg scope output");
    match o {
        Output::Send { to, msg } => p.send(to, msg),
        Output::SendNoConnect { to, msg } => {
            if reachable(node, &to) {
                p.send(to, msg);
            }
        }
        Output::Monitor { pid, reference } => p.monitor_with_ref(reference, pid),
        Output::Demonitor { reference } => {
            p.demonitor(&reference, false);
        }
        Output::Reply { to, reply } => p.reply(&to, reply),
        Output::ApiReply { token, reply } => {
            if let Some(tx) = api.remove(&token) {
                let _ = tx.send(reply);
            }
        }
    }
}
