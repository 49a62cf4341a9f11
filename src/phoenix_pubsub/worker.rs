//! The processes of a PubSub on this node: one PG2 worker per pool slot
//! (as `Phoenix.PubSub.PG2Worker`: registered under its group's name,
//! member of that group in the `Phoenix.PubSub` pg scope, delivering
//! `{forward_to_local, Topic, Message, Dispatcher}` to this node's
//! subscribers), and the watcher that drops the subscriptions of processes
//! that exit (Elixir's `Registry` does it through links).

use super::Shared;
use crate::runtime::{Node, Process};
use crate::term::{Atom, Pid, Reference, Term, TermExt};
use std::collections::HashMap;
use std::sync::Arc;
use tokio::sync::{mpsc, oneshot};

/// `{forward_to_local, Topic, Message, Dispatcher}`.
pub(crate) fn parse_forward(m: &Term) -> Option<(Vec<u8>, Term, String)> {
    let [
        Term::Atom(tag),
        Term::Binary(topic),
        msg,
        Term::Atom(dispatcher),
    ] = m.as_tuple()?
    else {
        return None;
    };
    (tag.name == "forward_to_local")
        .then(|| (topic.bytes.clone(), msg.clone(), dispatcher.name.clone()))
}

/// Starts a worker registered as `group`; returns its pid once registered
/// (`None` if the name is taken).
pub(crate) fn start_worker(node: &Node, group: &Atom, shared: Arc<Shared>) -> Option<Pid> {
    let (go_tx, go_rx) = oneshot::channel::<()>();
    let name = group.clone();
    let pid = node.spawn(move |mut p: Process| async move {
        if go_rx.await.is_err() {
            return;
        }
        loop {
            let m = p.recv().await;
            match parse_forward(&m) {
                Some((topic, msg, dispatcher)) => {
                    shared.dispatch(&topic, None, &msg, &dispatcher);
                }
                // PG2Worker's handle_info(_, pubsub) ignores the rest.
                None => tracing::trace!(
                    msg = %crate::term::Pretty(&m),
                    "PubSub worker {} ignored a message",
                    name.name
                ),
            }
        }
    });
    if !node.inner.register(group, &pid) {
        return None;
    }
    let _ = go_tx.send(());
    Some(pid)
}

/// What the watcher is told.
pub(crate) enum Watch {
    /// Monitor a new subscriber.
    Add(Pid),
    /// Stop monitoring a process that has no subscription left.
    Remove(Pid),
}

/// Starts the watcher: it monitors subscribers and removes the
/// subscriptions of those that exit.
pub(crate) fn start_watcher(node: &Node, shared: Arc<Shared>) -> mpsc::UnboundedSender<Watch> {
    let (tx, mut rx) = mpsc::unbounded_channel::<Watch>();
    node.spawn(move |mut p: Process| async move {
        let mut monitors: HashMap<Pid, Reference> = HashMap::new();
        loop {
            tokio::select! {
                m = p.recv() => {
                    if m.tuple_tag() == Some("DOWN") {
                        if let Some(pid) = m.elem(3).and_then(TermExt::as_pid) {
                            monitors.remove(pid);
                            shared.subscriber_exited(pid);
                        }
                    }
                }
                w = rx.recv() => match w {
                    Some(Watch::Add(pid)) => {
                        let r = p.monitor(&pid);
                        if let Some(old) = monitors.insert(pid, r) {
                            p.demonitor(&old, true);
                        }
                    }
                    Some(Watch::Remove(pid)) => {
                        if let Some(r) = monitors.remove(&pid) {
                            p.demonitor(&r, true);
                        }
                    }
                    None => return,
                },
            }
        }
    });
    tx
}
