//! What a peer does to the process table: the control messages of a
//! connection (`dist.c`'s handling of each `DOP_*` on receive) and the
//! `noconnection` cleanup when the connection goes.

use super::state::{Effects, ExitSignal, SpawnRequest, State, Watcher, down_message, key};
use crate::dist::control::{Control, ProcRef};
use crate::term;
use crate::term::{Atom, Pid, Reference, Term, atom, map, uint};

impl State {
    /// What a control message received from `peer` does.
    pub(crate) fn handle_control(
        &mut self,
        me: &Atom,
        creation: u32,
        peer: &Atom,
        ctrl: Control,
        fx: &mut Effects,
    ) -> Option<SpawnRequest> {
        let local = |p: &Pid| p.node == *me && p.creation == creation;
        let exit_from_link = matches!(ctrl, Control::Exit { .. });
        match ctrl {
            Control::Send { to, msg, .. } => {
                if local(&to) {
                    self.deliver(&to, msg);
                }
            }
            Control::RegSend { name, msg, .. } => {
                if let Some(pid) = self.names.get(&name) {
                    self.deliver(pid, msg);
                }
            }
            Control::AliasSend { alias, msg, .. } => {
                if let Some(pid) = self.aliases.get(&alias) {
                    self.deliver(pid, msg);
                }
            }
            Control::Link { from, to } => {
                if local(&to) && self.alive(&to) {
                    if let Some(e) = self.entry(&to) {
                        e.links.insert(from);
                    }
                } else {
                    self.send_remote(
                        peer,
                        Control::Exit {
                            from: to,
                            to: from,
                            reason: atom("noproc"),
                        },
                        false,
                        fx,
                    );
                }
            }
            Control::Unlink { from, to } => {
                if let Some(e) = self.entry(&to) {
                    e.links.remove(&from);
                }
            }
            Control::UnlinkId { id, from, to } => {
                if let Some(e) = self.entry(&to) {
                    e.links.remove(&from);
                }
                self.send_remote(
                    peer,
                    Control::UnlinkIdAck {
                        id,
                        from: to,
                        to: from,
                    },
                    false,
                    fx,
                );
            }
            Control::UnlinkIdAck { .. } | Control::GroupLeader { .. } => {}
            // EXIT (a link broke) and EXIT2 (`exit/2`) differ only there.
            Control::Exit { from, to, reason } | Control::Exit2 { from, to, reason } => {
                if local(&to) {
                    self.exit_signals(
                        vec![ExitSignal {
                            to: key(&to),
                            from,
                            reason,
                            link: exit_from_link,
                        }],
                        me,
                        creation,
                        fx,
                    );
                }
            }
            Control::MonitorP {
                from,
                target,
                reference,
            } => {
                let (pid, by_name) = match &target {
                    ProcRef::Pid(p) if local(p) => (Some(p.clone()), None),
                    ProcRef::Pid(_) => (None, None),
                    ProcRef::Name(n) => (self.names.get(n).cloned(), Some(n.clone())),
                };
                match pid.filter(|p| self.alive(p)) {
                    Some(p) => {
                        if let Some(e) = self.entry(&p) {
                            e.watchers
                                .insert(reference.clone(), Watcher { pid: from, by_name });
                        }
                        self.remote_watched.insert(reference, p);
                    }
                    None => self.send_remote(
                        peer,
                        Control::MonitorPExit {
                            from: target,
                            to: from,
                            reference,
                            reason: atom("noproc"),
                        },
                        false,
                        fx,
                    ),
                }
            }
            Control::DemonitorP { reference, .. } => {
                if let Some(p) = self.remote_watched.remove(&reference) {
                    if let Some(e) = self.entry(&p) {
                        e.watchers.remove(&reference);
                    }
                }
            }
            Control::MonitorPExit {
                to,
                reference,
                reason,
                ..
            } => {
                if let Some(m) = self.entry(&to).and_then(|e| e.monitors.remove(&reference)) {
                    self.deliver(&to, down_message(&reference, m.object, reason));
                }
            }
            Control::SpawnReply {
                req_id,
                to,
                flags,
                result,
            } => {
                self.handle_spawn_reply(me, peer, (req_id, to, flags, result), fx);
            }
            Control::SpawnRequest {
                req_id,
                from,
                module,
                function,
                arity,
                opts,
                args,
                ..
            } => {
                return Some(SpawnRequest {
                    req_id,
                    from,
                    module,
                    function,
                    arity,
                    opts,
                    args,
                });
            }
        }
        None
    }

    /// The connection to `node` is gone: `noconnection` for links and
    /// monitors, drop monitors held from there.
    pub(crate) fn node_down(&mut self, me: &Atom, creation: u32, node: &Atom, fx: &mut Effects) {
        let mut signals = Vec::new();
        let mut downs = Vec::new();
        for e in self.procs.values_mut() {
            let gone: Vec<Pid> = e
                .links
                .iter()
                .filter(|p| p.node == *node)
                .cloned()
                .collect();
            for p in gone {
                signals.push(ExitSignal {
                    to: key(&e.pid),
                    from: p,
                    reason: atom("noconnection"),
                    link: true,
                });
            }
            let refs: Vec<Reference> = e
                .monitors
                .iter()
                .filter(|(_, m)| m.remote_node.as_ref() == Some(node))
                .map(|(r, _)| r.clone())
                .collect();
            for r in refs {
                if let Some(m) = e.monitors.remove(&r) {
                    downs.push((
                        e.pid.clone(),
                        down_message(&r, m.object, atom("noconnection")),
                    ));
                }
            }
            e.watchers.retain(|_, w| w.pid.node != *node);
        }
        let stale: Vec<Reference> = self
            .remote_watched
            .iter()
            .filter(|(r, p)| {
                !self
                    .procs
                    .get(&key(p))
                    .is_some_and(|e| e.watchers.contains_key(*r))
            })
            .map(|(r, _)| r.clone())
            .collect();
        for r in stale {
            self.remote_watched.remove(&r);
        }
        for (pid, msg) in downs {
            self.deliver(&pid, msg);
        }
        self.fail_spawn_requests(node);
        if let Some(watchers) = self.node_watch.remove(node) {
            for w in watchers {
                self.deliver(&w, term!({nodedown, (Term::Atom(node.clone()))}));
            }
        }
        self.exit_signals(signals, me, creation, fx);
    }

    /// Tells `monitor_nodes` subscribers that `node` went up or down.
    pub(crate) fn notify_node_monitors(
        &self,
        node: &Atom,
        up: bool,
        published: bool,
        conn_id: u64,
        reason: &Term,
    ) {
        let tag = atom(if up { "nodeup" } else { "nodedown" });
        for m in &self.node_monitors {
            if !published && !m.hidden_too {
                continue;
            }
            let msg = if m.with_info {
                let mut info = vec![
                    (
                        atom("node_type"),
                        atom(if published { "visible" } else { "hidden" }),
                    ),
                    (atom("connection_id"), uint(conn_id)),
                ];
                if !up {
                    info.push((atom("nodedown_reason"), reason.clone()));
                }
                term!({(tag.clone()), (Term::Atom(node.clone())), (map(info))})
            } else {
                term!({(tag.clone()), (Term::Atom(node.clone()))})
            };
            self.deliver(&m.pid, msg);
        }
    }
}
