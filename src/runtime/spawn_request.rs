//! Outgoing `spawn_request/5` (ERTS `erlang:spawn_request/5`, OTP 23+):
//! the caller's half of `SPAWN_REQUEST` / `SPAWN_REPLY`, which
//! `rpc:call`/`erpc:call` are built on since OTP 23.
//!
//! ```text
//!  caller                        target node
//!  spawn_request ── SPAWN_REQUEST {29, ReqId, From, GL, {M,F,A}, [monitor|link]} + Args ──►
//!                ◄── SPAWN_REPLY  {31, ReqId, From, Flags, Pid | ErrorAtom} ──
//!  {spawn_reply, ReqId, ok | error, PidOrReason}   (unless the reply option filters it)
//!  ... later, with `monitor`: {'DOWN', ReqId, process, Pid, Reason}
//! ```
//!
//! What ERTS does and this module does too: the `reply` option never
//! travels (the requesting side filters the reply message); a connection
//! that goes down before the reply gives `{spawn_reply, ReqId, error,
//! noconnection}`; an abandoned request whose reply still arrives gets its
//! monitor removed and, with `link`, the child an exit signal `abandoned`.
//! A request to this node itself runs the node's [`super::SpawnService`]
//! directly.

use super::Process;
use super::state::{Effects, Monitoring, State, key};
use crate::dist::control::{Control, ProcRef};
use crate::term;
use crate::term::{Atom, Pid, Reference, Term, atom, list};

/// Which `{spawn_reply, …}` messages the requester gets (the `{reply,
/// Reply}` option of `spawn_request/5`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum SpawnReply {
    /// `{reply, yes}` (the default): both success and error replies.
    #[default]
    Yes,
    /// `{reply, no}`: no reply message at all.
    No,
    /// `{reply, error_only}`: only `{spawn_reply, ReqId, error, Reason}`
    /// (what `erpc:call` uses).
    ErrorOnly,
    /// `{reply, success_only}`: only `{spawn_reply, ReqId, ok, Pid}`.
    SuccessOnly,
}

impl SpawnReply {
    fn wants(self, ok: bool) -> bool {
        match self {
            Self::Yes => true,
            Self::No => false,
            Self::ErrorOnly => !ok,
            Self::SuccessOnly => ok,
        }
    }
}

/// Options of [`Process::spawn_request`] (the option list of
/// `spawn_request/5`). `link` and `monitor` travel to the other node; the
/// reply mode is applied here.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SpawnOpts {
    /// `link`: link the new process to the requester.
    pub link: bool,
    /// `monitor`: monitor the new process; the monitor reference is the
    /// request id.
    pub monitor: bool,
    /// `{reply, …}`.
    pub reply: SpawnReply,
}

/// An outgoing spawn request waiting for its `SPAWN_REPLY`.
#[derive(Debug, Clone)]
pub(crate) struct PendingSpawn {
    /// The requester.
    pub(crate) pid: Pid,
    /// The node asked to spawn.
    pub(crate) node: Atom,
    pub(crate) reply: SpawnReply,
}

impl Process {
    /// `erlang:spawn_request(Node, Module, Function, Args, Opts)`: asks
    /// `node` (this node too) to spawn `Module:Function(Args…)` and returns
    /// the request id at once. What follows arrives in the mailbox:
    /// `{spawn_reply, ReqId, ok, Pid}` or `{spawn_reply, ReqId, error,
    /// Reason}` as [`SpawnOpts::reply`] allows (`noconnection` when the node
    /// cannot be reached), and with `monitor` a `{'DOWN', ReqId, process,
    /// Pid, Reason}` when the new process exits.
    ///
    /// The new process's group leader is this node's node pid (`<N.0.0>`),
    /// which is not a process: I/O it attempts fails instead of hanging.
    ///
    /// ```no_run
    /// # async fn f(mut p: distro::runtime::Process) {
    /// use distro::runtime::{SpawnOpts, SpawnReply};
    /// use distro::term::{atom, list, TermExt};
    /// let opts = SpawnOpts { monitor: true, reply: SpawnReply::ErrorOnly, ..Default::default() };
    /// let req = p.spawn_request("beam@127.0.0.1", "timer", "sleep", vec![distro::term::int(10)], opts);
    /// let down = p.receive(|m| m.elem(1).and_then(TermExt::as_reference) == Some(&req)).await;
    /// # }
    /// ```
    pub fn spawn_request(
        &self,
        node: &str,
        module: &str,
        function: &str,
        args: Vec<Term>,
        opts: SpawnOpts,
    ) -> Reference {
        let inner = self.node.inner.clone();
        let req_id = inner.ids.new_ref();
        let node = Atom::from(node);
        let local = node == inner.name;
        let mut wire_opts = Vec::new();
        if opts.link {
            wire_opts.push(atom("link"));
        }
        if opts.monitor {
            wire_opts.push(atom("monitor"));
        }
        let req = super::SpawnRequest {
            req_id: req_id.clone(),
            from: self.pid.clone(),
            module: Atom::from(module),
            function: Atom::from(function),
            arity: u32::try_from(args.len()).unwrap_or(u32::MAX),
            opts: list(wire_opts),
            args: list(args),
        };
        inner.with(|st, fx| {
            st.spawn_requests.insert(
                req_id.clone(),
                PendingSpawn {
                    pid: self.pid.clone(),
                    node: node.clone(),
                    reply: opts.reply,
                },
            );
            if !local {
                let ctrl = Control::SpawnRequest {
                    req_id: req.req_id.clone(),
                    from: req.from.clone(),
                    group_leader: inner.ids.node_pid(),
                    module: req.module.clone(),
                    function: req.function.clone(),
                    arity: req.arity,
                    opts: req.opts.clone(),
                    args: req.args.clone(),
                };
                st.send_remote(&node, ctrl, true, fx);
            }
        });
        if local {
            inner.handle_spawn_request(&node, req);
        }
        req_id
    }

    /// `erlang:spawn_request_abandon(ReqId)`: `true` if the request was
    /// still waiting for its reply (no reply message will come; a process
    /// spawned anyway loses its monitor and, if linked, gets an exit signal
    /// `abandoned`), `false` if the reply already arrived or the id is
    /// unknown.
    pub fn spawn_request_abandon(&self, req_id: &Reference) -> bool {
        let mut st = self.node.inner.lock();
        match st.spawn_requests.get(req_id) {
            Some(p) if p.pid == self.pid => st.spawn_requests.remove(req_id).is_some(),
            _ => false,
        }
    }
}

impl State {
    /// A `SPAWN_REPLY` from `peer` (which is this node for local requests).
    pub(crate) fn handle_spawn_reply(
        &mut self,
        me: &Atom,
        peer: &Atom,
        (req_id, to, flags, result): (Reference, Pid, u32, Term),
        fx: &mut Effects,
    ) {
        let linked = flags & 1 != 0;
        let monitored = flags & 2 != 0;
        let pending = self
            .spawn_requests
            .remove(&req_id)
            .filter(|p| p.pid == to && self.alive(&to));
        let Some(pending) = pending else {
            // Abandoned (or the requester is gone): undo what the other
            // side set up for us.
            if let (Term::Pid(new), false) = (&result, peer == me) {
                if monitored {
                    let ctrl = Control::DemonitorP {
                        from: to.clone(),
                        target: ProcRef::Pid(new.clone()),
                        reference: req_id.clone(),
                    };
                    self.send_remote(peer, ctrl, false, fx);
                }
                if linked {
                    let reason = atom(if self.alive(&to) {
                        "abandoned"
                    } else {
                        "noproc"
                    });
                    let ctrl = Control::Exit {
                        from: to,
                        to: new.clone(),
                        reason,
                    };
                    self.send_remote(peer, ctrl, false, fx);
                }
            }
            return;
        };
        let ok = matches!(result, Term::Pid(_));
        if let (Term::Pid(new), Some(e)) = (&result, self.procs.get_mut(&key(&to))) {
            if linked {
                e.links.insert(new.clone());
            }
            if monitored {
                e.monitors.insert(
                    req_id.clone(),
                    Monitoring {
                        object: result.clone(),
                        target_pid: Some(new.clone()),
                        remote_node: (peer != me).then(|| peer.clone()),
                        name: None,
                    },
                );
            }
        }
        if pending.reply.wants(ok) {
            self.deliver(&to, spawn_reply(req_id, ok, result));
        }
    }

    /// The connection to `node` is gone (or never came up): every request
    /// still waiting for a reply from there fails with `noconnection`.
    pub(crate) fn fail_spawn_requests(&mut self, node: &Atom) {
        let failed: Vec<Reference> = self
            .spawn_requests
            .iter()
            .filter(|(_, p)| p.node == *node)
            .map(|(r, _)| r.clone())
            .collect();
        for r in failed {
            if let Some(p) = self.spawn_requests.remove(&r) {
                if p.reply.wants(false) {
                    self.deliver(&p.pid, spawn_reply(r, false, atom("noconnection")));
                }
            }
        }
    }
}

fn spawn_reply(req_id: Reference, ok: bool, result: Term) -> Term {
    term!({spawn_reply, (Term::Reference(Box::new(req_id))), (atom(if ok { "ok" } else { "error" })), (result)})
}
