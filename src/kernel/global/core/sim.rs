//! A deterministic network of [`GlobalCore`]s for tests, in the style of
//! raft-rs's `harness/src/network.rs`: messages sit in one FIFO queue and
//! are delivered one at a time; connections are made on demand (as BEAM's
//! auto-connect) unless a pair is blocked; `disconnect` drops what is in
//! flight and fires nodedowns and `noconnection` DOWNs (global's own
//! disconnects first deliver what the disconnecting node had sent, as
//! `net_kernel:async_disconnect/1` does on BEAM); virtual time jumps to the
//! next `poll_timeout`.

use super::{ApiRequest, Config, GlobalCore, Input, Output, Role, Target};
use crate::runtime::{Dest, GenFrom};
use crate::term;
use crate::term::{Atom, Pid, Reference, Term, TermExt, atom, int, map};
use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::time::{Duration, Instant};

/// Where a delivered message goes.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Addr {
    Role(Role),
    /// A plain (test) process.
    User(Pid),
}

#[derive(Debug, Clone)]
struct Envelope {
    from: String,
    to_node: String,
    to: Addr,
    msg: Term,
}

#[derive(Debug, Clone)]
struct Mon {
    watcher_node: String,
    role: Role,
    reference: Reference,
    target: Target,
}

pub(super) struct SimNode {
    pub(super) core: GlobalCore,
    pub(super) server: Pid,
    pub(super) locker: Pid,
    pub(super) registrar: Pid,
}

/// The simulated cluster.
pub(super) struct Sim {
    pub(super) now: Instant,
    pub(super) nodes: BTreeMap<String, SimNode>,
    queue: VecDeque<Envelope>,
    connected: BTreeSet<(String, String)>,
    pub(super) blocked: BTreeSet<(String, String)>,
    mons: Vec<Mon>,
    next_conn: u64,
    next_pid: u32,
    /// Processes that are alive (user processes only; global's never die).
    pub(super) alive: BTreeSet<(String, u32)>,
    /// Messages received by user processes.
    pub(super) inbox: Vec<(Pid, Term)>,
    /// API replies: (node, token, reply).
    pub(super) api_replies: Vec<(String, u64, Term)>,
    /// Every message sent, for shape checks: (from node, role, to, msg).
    pub(super) log: Vec<(String, Role, String, Term)>,
    pub(super) kills: Vec<Pid>,
    next_token: u64,
}

pub(super) fn pid(node: &str, id: u32) -> Pid {
    Pid {
        node: Atom::from(node),
        id,
        serial: 0,
        creation: 1,
    }
}

fn key(a: &str, b: &str) -> (String, String) {
    if a < b {
        (a.to_owned(), b.to_owned())
    } else {
        (b.to_owned(), a.to_owned())
    }
}

impl Sim {
    pub(super) fn new(names: &[&str]) -> Self {
        let now = Instant::now();
        let mut nodes = BTreeMap::new();
        for (i, n) in names.iter().enumerate() {
            let cfg = Config {
                node: Atom::from(*n),
                creation: 1,
                server: pid(n, 1),
                locker: pid(n, 2),
                registrar: pid(n, 3),
                connect_all: true,
                prevent_overlapping_partitions: true,
                hostname: "otherhost".into(),
                rng_seed: 7 + i as u64,
            };
            let node = (*n).to_owned();
            let mut c = 0u32;
            let refs = Box::new(move || {
                c += 1;
                Reference {
                    node: Atom::from(node.as_str()),
                    id: vec![c, 0, 0],
                    creation: 1,
                }
            });
            nodes.insert(
                (*n).to_owned(),
                SimNode {
                    core: GlobalCore::new(cfg, now, refs),
                    server: pid(n, 1),
                    locker: pid(n, 2),
                    registrar: pid(n, 3),
                },
            );
        }
        Self {
            now,
            nodes,
            queue: VecDeque::new(),
            connected: BTreeSet::new(),
            blocked: BTreeSet::new(),
            mons: Vec::new(),
            next_conn: 100,
            next_pid: 100,
            alive: BTreeSet::new(),
            inbox: Vec::new(),
            api_replies: Vec::new(),
            log: Vec::new(),
            kills: Vec::new(),
            next_token: 1,
        }
    }

    pub(super) fn spawn(&mut self, node: &str) -> Pid {
        self.next_pid += 1;
        self.alive.insert((node.to_owned(), self.next_pid));
        pid(node, self.next_pid)
    }

    pub(super) fn is_connected(&self, a: &str, b: &str) -> bool {
        a == b || self.connected.contains(&key(a, b))
    }

    /// Blocks (or unblocks) connections between `a` and `b`.
    pub(super) fn block(&mut self, a: &str, b: &str, on: bool) {
        if on {
            self.blocked.insert(key(a, b));
        } else {
            self.blocked.remove(&key(a, b));
        }
    }

    /// Sets up the connection `a`–`b` (both get nodeup first). `false` if blocked.
    pub(super) fn connect(&mut self, a: &str, b: &str) -> bool {
        if self.is_connected(a, b) {
            return true;
        }
        if self.blocked.contains(&key(a, b)) || !self.nodes.contains_key(b) {
            return false;
        }
        self.connected.insert(key(a, b));
        self.next_conn += 1;
        let id = self.next_conn;
        for (x, y) in [(a, b), (b, a)] {
            let info = map(vec![
                (atom("connection_id"), int(id as i64)),
                (atom("node_type"), atom("visible")),
            ]);
            let msg = term!({nodeup, (atom(y)), (info)});
            self.input(
                x,
                Input::Message {
                    to: Role::Server,
                    msg,
                },
            );
        }
        true
    }

    /// `erlang:disconnect_node/1`: in-flight messages between them are lost.
    pub(super) fn disconnect(&mut self, a: &str, b: &str) {
        if !self.connected.remove(&key(a, b)) {
            return;
        }
        self.queue.retain(|e| key(&e.from, &e.to_node) != key(a, b));
        for (x, y) in [(a, b), (b, a)] {
            // DOWN (noconnection) for monitors held on x watching y's processes.
            let (fire, keep): (Vec<Mon>, Vec<Mon>) =
                std::mem::take(&mut self.mons).into_iter().partition(|m| {
                    m.watcher_node == x
                        && match &m.target {
                            Target::Pid(p) => p.node.name == y,
                            Target::Server(n) => n.name == y,
                        }
                });
            self.mons = keep;
            for m in fire {
                self.fire_down(m, atom("noconnection"));
            }
            let msg = term!({nodedown, (atom(y)), (map(vec![]))});
            self.input(
                x,
                Input::Message {
                    to: Role::Server,
                    msg,
                },
            );
        }
    }

    /// `net_kernel:async_disconnect/1`, what global's [`Output::Disconnect`]
    /// stands for: what `a` already sent to `b` still arrives, before `b`
    /// sees the connection go; what `b` had in flight to `a` is lost.
    fn async_disconnect(&mut self, a: &str, b: &str) {
        let (sent, rest): (VecDeque<Envelope>, VecDeque<Envelope>) =
            std::mem::take(&mut self.queue)
                .into_iter()
                .partition(|e| e.from == a && e.to_node == b);
        self.queue = rest;
        for e in sent {
            self.deliver(e);
        }
        self.disconnect(a, b);
    }

    fn fire_down(&mut self, m: Mon, reason: Term) {
        let object = match &m.target {
            Target::Pid(p) => Term::Pid(p.clone()),
            Target::Server(n) => term!({global_name_server, (Term::Atom(n.clone()))}),
        };
        let msg =
            term!({DOWN, (Term::Reference(Box::new(m.reference))), process, (object), (reason)});
        self.queue.push_back(Envelope {
            from: m.watcher_node.clone(),
            to_node: m.watcher_node,
            to: Addr::Role(m.role),
            msg,
        });
    }

    /// Kills a user process: DOWN `killed` to its monitors.
    pub(super) fn kill(&mut self, p: &Pid) {
        if !self.alive.remove(&(p.node.name.clone(), p.id)) {
            return;
        }
        let (fire, keep): (Vec<Mon>, Vec<Mon>) = std::mem::take(&mut self.mons)
            .into_iter()
            .partition(|m| m.target == Target::Pid(p.clone()));
        self.mons = keep;
        for m in fire {
            self.fire_down(m, atom("killed"));
        }
    }

    pub(super) fn api(&mut self, node: &str, request: ApiRequest) -> u64 {
        self.next_token += 1;
        let token = self.next_token;
        self.input(node, Input::Api { token, request });
        token
    }

    pub(super) fn api_reply(&self, token: u64) -> Option<&Term> {
        self.api_replies
            .iter()
            .find(|(_, t, _)| *t == token)
            .map(|(_, _, r)| r)
    }

    /// A gen_server call from user process `from` to `{global_name_server, node}`; the
    /// reply lands in the inbox as `{Tag, Reply}`.
    pub(super) fn call(&mut self, from: &Pid, node: &str, req: Term, tag: i64) {
        let msg = term!({:"$gen_call", {(Term::Pid(from.clone())), (int(tag))}, (req)});
        let src = from.node.name.clone();
        if self.connect(&src, node) {
            self.queue.push_back(Envelope {
                from: src,
                to_node: node.to_owned(),
                to: Addr::Role(Role::Server),
                msg,
            });
        }
    }

    /// The reply with `tag` received by `p`, if any.
    pub(super) fn reply_for(&self, p: &Pid, tag: i64) -> Option<Term> {
        self.inbox.iter().find_map(|(to, m)| match m.as_tuple() {
            Some([t, r]) if to == p && t.as_i64() == Some(tag) => Some(r.clone()),
            _ => None,
        })
    }

    pub(super) fn input(&mut self, node: &str, input: Input) {
        let now = self.now;
        let Some(n) = self.nodes.get_mut(node) else {
            return;
        };
        n.core.handle(now, input);
        self.collect(node);
    }

    fn role_of(&self, p: &Pid) -> Option<Addr> {
        let n = self.nodes.get(&p.node.name)?;
        Some(if *p == n.server {
            Addr::Role(Role::Server)
        } else if *p == n.locker {
            Addr::Role(Role::Locker)
        } else if *p == n.registrar {
            Addr::Role(Role::Registrar)
        } else {
            Addr::User(p.clone())
        })
    }

    fn post(
        &mut self,
        from: &str,
        role: Role,
        to_node: &str,
        to: Addr,
        msg: Term,
        autoconnect: bool,
    ) {
        self.log
            .push((from.to_owned(), role, to_node.to_owned(), msg.clone()));
        let ok = if autoconnect {
            self.connect(from, to_node)
        } else {
            self.is_connected(from, to_node)
        };
        if ok {
            self.queue.push_back(Envelope {
                from: from.to_owned(),
                to_node: to_node.to_owned(),
                to,
                msg,
            });
        }
    }

    fn collect(&mut self, node: &str) {
        loop {
            let Some(o) = self.nodes.get_mut(node).and_then(|n| n.core.poll_output()) else {
                return;
            };
            self.execute(node, o);
        }
    }

    fn execute(&mut self, node: &str, o: Output) {
        match o {
            Output::Send { from, to, msg } => match to {
                Dest::Pid(p) => {
                    if let Some(addr) = self.role_of(&p) {
                        let n = p.node.name.clone();
                        self.post(node, from, &n, addr, msg, true);
                    }
                }
                Dest::Remote(name, n) if name.name == "global_name_server" => {
                    self.post(node, from, &n.name, Addr::Role(Role::Server), msg, true)
                }
                other => panic!("unexpected destination {other:?}"),
            },
            Output::SendNoConnect { from, node: n, msg } => {
                self.post(node, from, &n.name, Addr::Role(Role::Server), msg, false)
            }
            Output::Monitor {
                role,
                target,
                reference,
            } => {
                let up = match &target {
                    Target::Pid(p) => {
                        self.is_connected(node, &p.node.name)
                            && (self.role_of(p).is_some_and(|a| matches!(a, Addr::Role(_)))
                                || self.alive.contains(&(p.node.name.clone(), p.id)))
                    }
                    Target::Server(n) => self.connect(node, &n.name),
                };
                let m = Mon {
                    watcher_node: node.to_owned(),
                    role,
                    reference,
                    target,
                };
                if up {
                    self.mons.push(m);
                } else {
                    let reason = atom("noproc");
                    self.fire_down(m, reason);
                }
            }
            Output::Demonitor { reference, .. } => self.mons.retain(|m| m.reference != reference),
            Output::Reply { from, reply } => self.deliver_reply(node, from, reply),
            Output::ApiReply { token, reply } => {
                self.api_replies.push((node.to_owned(), token, reply))
            }
            Output::SyncOther { node: n, msg } => {
                if self.connect(node, &n.name) {
                    self.post(
                        node,
                        Role::Server,
                        &n.name,
                        Addr::Role(Role::Server),
                        msg,
                        false,
                    );
                } else {
                    self.input(node, Input::SyncOtherFailed { node: n });
                }
            }
            Output::MonitorNode { node: n } => {
                if !self.connect(node, &n.name) {
                    let msg = term!({nodedown, (Term::Atom(n))});
                    self.input(
                        node,
                        Input::Message {
                            to: Role::Server,
                            msg,
                        },
                    );
                }
            }
            Output::Disconnect { node: n } => self.async_disconnect(node, &n.name),
            Output::Kill { pid } => {
                self.kills.push(pid.clone());
                self.kill(&pid);
            }
            Output::Rpc {
                token,
                node: n,
                args,
                ..
            } => {
                let result = if self.is_connected(node, &n.name) {
                    match args.as_slice() {
                        [m, name, Term::Pid(p1), Term::Pid(p2)] => {
                            let out = super::resolve_it(m, name, p1, p2);
                            for e in out.effects {
                                match e {
                                    super::ResolveEffect::Kill(p) => {
                                        self.kills.push(p.clone());
                                        self.kill(&p);
                                    }
                                    super::ResolveEffect::Send(p, m) => self.inbox.push((p, m)),
                                }
                            }
                            out.result
                        }
                        _ => atom("badarg"),
                    }
                } else {
                    term!({badrpc, nodedown})
                };
                self.input(node, Input::RpcResult { token, result });
            }
        }
    }

    fn deliver_reply(&mut self, node: &str, from: GenFrom, reply: Term) {
        let msg = term!({(from.tag.clone()), (reply)});
        if let Some(addr) = self.role_of(&from.pid) {
            let n = from.pid.node.name.clone();
            self.post(node, Role::Server, &n, addr, msg, false);
        }
    }

    /// Delivers one queued message; `false` when the queue is empty.
    pub(super) fn step(&mut self) -> bool {
        let Some(e) = self.queue.pop_front() else {
            return false;
        };
        self.deliver(e);
        true
    }

    /// Delivers the first queued message from node `from` to node `to`
    /// that `pred` accepts, ahead of the rest of the queue (messages on
    /// different connections may overtake each other); `false` if none.
    pub(super) fn deliver_first(
        &mut self,
        from: &str,
        to: &str,
        pred: impl Fn(&Term) -> bool,
    ) -> bool {
        let Some(i) = self
            .queue
            .iter()
            .position(|e| e.from == from && e.to_node == to && pred(&e.msg))
        else {
            return false;
        };
        let e = self.queue.remove(i).expect("index found above");
        self.deliver(e);
        true
    }

    fn deliver(&mut self, e: Envelope) {
        match e.to {
            Addr::Role(role) => self.input(
                &e.to_node,
                Input::Message {
                    to: role,
                    msg: e.msg,
                },
            ),
            Addr::User(p) => {
                if self.alive.contains(&(p.node.name.clone(), p.id)) {
                    self.inbox.push((p, e.msg));
                }
            }
        }
    }

    /// Delivers everything and fires timers until nothing is left or `limit` passes.
    pub(super) fn run_for(&mut self, limit: Duration) {
        let end = self.now + limit;
        loop {
            while self.step() {}
            let next = self
                .nodes
                .values()
                .filter_map(|n| n.core.poll_timeout())
                .min();
            match next {
                Some(t) if t <= end => {
                    self.now = self.now.max(t);
                    let names: Vec<String> = self.nodes.keys().cloned().collect();
                    for n in names {
                        let now = self.now;
                        if let Some(sn) = self.nodes.get_mut(&n) {
                            sn.core.handle_timeout(now);
                        }
                        self.collect(&n);
                    }
                }
                _ => {
                    self.now = end;
                    return;
                }
            }
        }
    }

    pub(super) fn core(&self, n: &str) -> &GlobalCore {
        &self.nodes[n].core
    }

    /// Messages of the connect protocol sent so far, as `(from, to, tag)`.
    pub(super) fn tags_sent(&self) -> Vec<(String, String, String)> {
        self.log
            .iter()
            .map(|(f, _, t, m)| {
                let inner = match m.as_tuple() {
                    Some([c, x]) if c.as_atom() == Some("$gen_cast") => x.clone(),
                    Some([c, _, x]) if c.as_atom() == Some("$gen_call") => x.clone(),
                    _ => m.clone(),
                };
                let tag = inner
                    .tuple_tag()
                    .or(inner.as_atom())
                    .unwrap_or("?")
                    .to_owned();
                (f.clone(), t.clone(), tag)
            })
            .collect()
    }
}
