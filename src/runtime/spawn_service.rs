//! Incoming `SPAWN_REQUEST`s (ERTS `dist.c` `dsig_spawn_request`): the
//! target node's half, answered by the node's [`super::SpawnService`]
//! (erpc and `spawn/4` from BEAM); the caller's half is `spawn_request.rs`.

use super::node::{Inner, Node};
use super::state::{Effects, SpawnRequest, State};
use crate::dist::control::Control;
use crate::term::{Atom, Term, atom};

impl Inner {
    /// Answers a spawn request from `peer` (this node itself for a local
    /// `spawn_request`: the reply is then handled in place).
    pub(crate) fn handle_spawn_request(&self, peer: &Atom, req: SpawnRequest) {
        let service = self
            .spawn_service
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        let Some(node) = self.arc().map(|inner| Node { inner }) else {
            return;
        };
        let body = match service {
            Some(s) => s.spawn_request(&node, &req),
            None => Err(atom("notsup")),
        };
        let opts: Vec<String> = match &req.opts {
            Term::List(l) => l.elements.iter().filter_map(|t| t.as_atom_name()).collect(),
            _ => Vec::new(),
        };
        let monitor = opts.iter().any(|o| o == "monitor");
        let link = opts.iter().any(|o| o == "link");
        match body {
            Err(reason) => self.with(|st, fx| {
                let reply = Control::SpawnReply {
                    req_id: req.req_id,
                    to: req.from,
                    flags: 0,
                    result: reason,
                };
                self.spawn_reply(st, peer, reply, fx);
            }),
            Ok(body) => {
                let from = req.from.clone();
                let req_id = req.req_id.clone();
                let peer_c = peer.clone();
                let inner = self;
                // The reply is queued while the entry is created, before the
                // task runs, so it precedes any exit or DOWN of the new process.
                node.spawn_with(
                    body,
                    |e| {
                        if monitor {
                            e.watchers.insert(
                                req_id.clone(),
                                super::state::Watcher {
                                    pid: from.clone(),
                                    by_name: None,
                                },
                            );
                        }
                        if link {
                            e.links.insert(from.clone());
                        }
                        let flags = u32::from(link) | (u32::from(monitor) << 1);
                        inner.with(|st, fx| {
                            if monitor && peer_c != inner.name {
                                st.remote_watched.insert(req_id.clone(), e.pid.clone());
                            }
                            let reply = Control::SpawnReply {
                                req_id: req_id.clone(),
                                to: from.clone(),
                                flags,
                                result: Term::Pid(e.pid.clone()),
                            };
                            inner.spawn_reply(st, &peer_c, reply, fx);
                        });
                    },
                    None,
                );
            }
        }
    }

    /// Sends a `SPAWN_REPLY` to `peer`, or handles it here when the request
    /// came from this node.
    fn spawn_reply(&self, st: &mut State, peer: &Atom, reply: Control, fx: &mut Effects) {
        if *peer == self.name {
            st.handle_control(&self.name, self.creation, peer, reply, fx);
        } else {
            st.send_remote(peer, reply, false, fx);
        }
    }
}

trait AtomName {
    fn as_atom_name(&self) -> Option<String>;
}

impl AtomName for Term {
    fn as_atom_name(&self) -> Option<String> {
        match self {
            Self::Atom(a) => Some(a.name.clone()),
            _ => None,
        }
    }
}
