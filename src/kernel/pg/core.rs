//! The sans-IO core of one pg scope — mirrors the scope process of
//! `lib/kernel/src/pg.erl` (OTP 25.2, 27.3) and of `pg.erl` on top of
//! `data_publisher.erl` (OTP 29.1).
//!
//! ```text
//!   inputs                                    outputs (commands as data)
//!   ──────                                    ──────────────────────────
//!   start(nodes)                        ─┐  ┌─► Send / SendNoConnect
//!   Message (mailbox: discover, sync,    ├─►│   Monitor / Demonitor
//!     local_data, join, leave, update,   │  │   Reply (gen_server) / ApiReply
//!     DOWN, $gen_call)                   │  └── poll_output()
//!   NodeUp{node, versioned}             ─┤
//!   Api{token, caller, request}         ─┘   table: Arc<RwLock<Table>> (the ETS table)
//! ```
//!
//! Peers are spoken to in the version they announced. A peer that sent
//! `{discover, Pid}`, `sync` or nothing yet is version 0 and gets only
//! what OTP 25 understands (`discover`/2, `sync`, `join`, `leave`); a peer
//! that sent `{discover, Pid, Vsn}` with `Vsn >= 1` or `local_data` with
//! version 1 (an OTP 29 `data_publisher`) gets `local_data` and `update`.
//! The first `discover` to a node is `{discover, Me, 1}` only when the
//! driver says the node accepts it (its distribution flags show OTP 28+;
//! OTP 26+ accept the 3-tuple, OTP 25 crashes on it).
//!
//! Membership changes notify `monitor_scope` / `monitor` subscribers with
//! `{Ref, join | leave, Group, Pids}`. A `sync` that changes a group the
//! peer already had notifies the difference, as OTP 29 does (OTP 25–27
//! update such a group silently; the table ends up the same).

use super::msg::{self, Change, Incoming, PeerMsg, Request};
use super::table::{GroupKey, Members, Table, subtract};
use crate::runtime::{Dest, GenFrom};
use crate::term;
use crate::term::{Atom, Pid, Reference, Term, atom, list, map};
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::{Arc, RwLock};

/// What the driver feeds in.
#[derive(Debug, Clone)]
pub enum Input {
    /// A message from the scope's mailbox (a `{nodeup, Node}` here counts
    /// as a node that does not accept the versioned `discover`).
    Message(Term),
    /// `{nodeup, Node}`; `versioned`: the node accepts `{discover, Pid, Vsn}`.
    NodeUp {
        /// The node.
        node: Atom,
        /// Whether the node is OTP 28 or later (distribution flag `ALTACT_SIG`).
        versioned: bool,
    },
    /// A request of the Rust API; `caller` monitors (for the monitor requests).
    Api {
        /// Returned in [`Output::ApiReply`].
        token: u64,
        /// The process a monitor request is for.
        caller: Option<Pid>,
        /// The request.
        request: Request,
    },
}

/// What the driver must do.
#[derive(Debug, Clone, PartialEq)]
pub enum Output {
    /// `erlang:send(To, Msg)` (may set up a connection).
    Send {
        /// The destination.
        to: Dest,
        /// The message.
        msg: Term,
    },
    /// `erlang:send(To, Msg, [noconnect])`: dropped unless connected.
    SendNoConnect {
        /// The destination.
        to: Dest,
        /// The message.
        msg: Term,
    },
    /// `erlang:monitor(process, Pid)` with this reference.
    Monitor {
        /// The monitored process.
        pid: Pid,
        /// The monitor's reference.
        reference: Reference,
    },
    /// `erlang:demonitor(Ref)`.
    Demonitor {
        /// The monitor's reference.
        reference: Reference,
    },
    /// `gen_server:reply(From, Reply)`.
    Reply {
        /// The caller.
        to: GenFrom,
        /// The reply.
        reply: Term,
    },
    /// The answer to [`Input::Api`].
    ApiReply {
        /// The request's token.
        token: u64,
        /// The reply, as `gen_server:call` would return it.
        reply: Term,
    },
}

/// A process of this node in some groups.
#[derive(Debug)]
struct Member {
    mref: Reference,
    /// One entry per join (a group joined twice appears twice).
    groups: Vec<Term>,
}

/// A peer scope (`remote` in pg.erl, `peers` in data_publisher.erl).
#[derive(Debug)]
struct Peer {
    mref: Reference,
    /// Whether it reads `local_data` and `update` (data_publisher version 1).
    v1: bool,
    /// Its local members, by group.
    groups: BTreeMap<GroupKey, Members>,
}

/// One pg scope.
pub struct ScopeCore {
    scope: Atom,
    me: Pid,
    table: Arc<RwLock<Table>>,
    local: HashMap<Pid, Member>,
    remote: HashMap<Pid, Peer>,
    scope_monitors: HashMap<Reference, Pid>,
    group_monitors: HashMap<Reference, (Pid, Term)>,
    monitored_groups: BTreeMap<GroupKey, Vec<(Pid, Reference)>>,
    out: VecDeque<Output>,
    new_ref: Box<dyn FnMut() -> Reference + Send>,
}

impl std::fmt::Debug for ScopeCore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ScopeCore")
            .field("scope", &self.scope.name)
            .field("peers", &self.remote.len())
            .field("local", &self.local.len())
            .finish()
    }
}

fn ok() -> Term {
    atom("ok")
}

fn pid_list(pids: &[Pid]) -> Term {
    list(pids.iter().cloned().map(Term::Pid).collect())
}

impl ScopeCore {
    /// A scope named `scope` whose process is `me`; `new_ref` makes the
    /// references of its monitors.
    pub fn new(scope: Atom, me: Pid, new_ref: Box<dyn FnMut() -> Reference + Send>) -> Self {
        Self {
            scope,
            me,
            table: Arc::default(),
            local: HashMap::new(),
            remote: HashMap::new(),
            scope_monitors: HashMap::new(),
            group_monitors: HashMap::new(),
            monitored_groups: BTreeMap::new(),
            out: VecDeque::new(),
            new_ref,
        }
    }

    /// The table the API reads (written only by this core).
    pub fn table(&self) -> Arc<RwLock<Table>> {
        self.table.clone()
    }

    /// The scope process.
    pub fn me(&self) -> &Pid {
        &self.me
    }

    /// The peer scopes known, with whether each speaks version 1.
    pub fn peers(&self) -> Vec<(Pid, bool)> {
        self.remote.iter().map(|(p, r)| (p.clone(), r.v1)).collect()
    }

    /// The next command, if any.
    pub fn poll_output(&mut self) -> Option<Output> {
        self.out.pop_front()
    }

    /// `init/1`: `discover` every connected node (`versioned` as in
    /// [`Input::NodeUp`]).
    pub fn start(&mut self, nodes: &[(Atom, bool)]) {
        for (node, versioned) in nodes {
            self.discover_node(node, *versioned);
        }
    }

    /// Handles one input.
    pub fn handle(&mut self, input: Input) {
        match input {
            Input::Message(m) => self.handle_message(&m),
            Input::NodeUp { node, versioned } => self.discover_node(&node, versioned),
            Input::Api {
                token,
                caller,
                request,
            } => {
                let reply = self.request(caller.as_ref(), request);
                self.out.push_back(Output::ApiReply { token, reply });
            }
        }
    }

    fn handle_message(&mut self, m: &Term) {
        match msg::parse(m) {
            Incoming::Peer(p) => self.peer_msg(p),
            Incoming::Call(from, request) => {
                let reply = self.request(Some(&from.pid), request);
                self.out.push_back(Output::Reply { to: from, reply });
            }
            Incoming::Down { reference, pid } => self.down(reference, pid),
            Incoming::NodeUp(node) => self.discover_node(&node, false),
            Incoming::NodeDown(_) => {}
            Incoming::Unexpected => tracing::warn!(
                "pg scope {} at node {} ignored an unexpected message: {}",
                self.scope.name,
                self.me.node.name,
                crate::term::Pretty(m)
            ),
        }
    }

    fn state(&self) -> std::sync::RwLockWriteGuard<'_, Table> {
        self.table.write().unwrap_or_else(|e| e.into_inner())
    }

    fn discover_node(&mut self, node: &Atom, versioned: bool) {
        if *node == self.me.node {
            return;
        }
        self.out.push_back(Output::SendNoConnect {
            to: Dest::Remote(self.scope.clone(), node.clone()),
            msg: msg::discover(&self.me, versioned),
        });
    }

    fn monitor(&mut self, pid: &Pid) -> Reference {
        let reference = (self.new_ref)();
        self.out.push_back(Output::Monitor {
            pid: pid.clone(),
            reference: reference.clone(),
        });
        reference
    }

    fn notify(&mut self, join: bool, group: &Term, pids: &[Pid]) {
        if pids.is_empty() {
            return;
        }
        let mut to: Vec<(Pid, Reference)> = self
            .scope_monitors
            .iter()
            .map(|(r, p)| (p.clone(), r.clone()))
            .collect();
        if let Some(ms) = self.monitored_groups.get(&GroupKey(group.clone())) {
            to.extend(ms.iter().cloned());
        }
        for (pid, r) in to {
            self.out.push_back(Output::SendNoConnect {
                to: Dest::Pid(pid),
                msg: msg::notification(&r, join, group, pids),
            });
        }
    }

    /// Sends a change of this node's members to every peer, in its version.
    fn broadcast(&mut self, v0: Vec<Term>, v1: Vec<Change>) {
        let v1 = (!v1.is_empty()).then(|| msg::update(&self.me, &v1));
        let mut peers: Vec<(&Pid, &Peer)> = self.remote.iter().collect();
        peers.sort_by(|a, b| crate::term::cmp_pids(a.0, b.0));
        for (pid, peer) in peers {
            let msgs: Vec<Term> = match (&v1, peer.v1) {
                (Some(u), true) => vec![u.clone()],
                (_, true) => vec![],
                (_, false) => v0.clone(),
            };
            for m in msgs {
                self.out.push_back(Output::SendNoConnect {
                    to: Dest::Pid(pid.clone()),
                    msg: m,
                });
            }
        }
    }

    fn peer_msg(&mut self, m: PeerMsg) {
        match m {
            PeerMsg::Discover { peer, version } => {
                let v1 = version
                    .as_ref()
                    .and_then(crate::term::TermExt::as_i64)
                    .is_some_and(|v| v >= msg::VERSION);
                self.discovered(peer, v1);
            }
            PeerMsg::Sync { peer, groups } => self.synced(peer, false, groups),
            PeerMsg::LocalData {
                peer,
                version,
                groups,
            } => {
                let v1 = crate::term::TermExt::as_i64(&version).is_some_and(|v| v >= msg::VERSION);
                self.synced(peer, v1, groups);
            }
            PeerMsg::Join { peer, group, pids } => self.remote_change(
                &peer,
                vec![Change {
                    group,
                    add: pids,
                    remove: vec![],
                }],
            ),
            PeerMsg::Leave { peer, pids, groups } => {
                let changes = groups
                    .into_iter()
                    .map(|group| Change {
                        group,
                        add: vec![],
                        remove: pids.clone(),
                    })
                    .collect();
                self.remote_change(&peer, changes);
            }
            PeerMsg::Update { peer, changes } => self.remote_change(&peer, changes),
        }
    }

    /// `handle_discover/2`: answer with our local members in the form the
    /// peer reads; monitor and discover a peer seen for the first time.
    fn discovered(&mut self, peer: Pid, v1: bool) {
        let local = self.table.read().map(|t| t.local()).unwrap_or_default();
        let reply = if v1 {
            msg::local_data(&self.me, &local)
        } else {
            msg::sync(&self.me, &local)
        };
        self.out.push_back(Output::Send {
            to: Dest::Pid(peer.clone()),
            msg: reply,
        });
        if let Some(p) = self.remote.get_mut(&peer) {
            // It announced version 1: it reads update messages from now on.
            p.v1 |= v1;
            return;
        }
        let mref = self.monitor(&peer);
        self.remote.insert(
            peer.clone(),
            Peer {
                mref,
                v1,
                groups: BTreeMap::new(),
            },
        );
        self.out.push_back(Output::SendNoConnect {
            to: Dest::Pid(peer),
            msg: msg::discover(&self.me, v1),
        });
    }

    /// `handle_sync/6` and `local_data`: the peer's local members replace
    /// what we knew of them.
    fn synced(&mut self, peer: Pid, v1: bool, groups: Vec<(Term, Vec<Pid>)>) {
        let mut new: BTreeMap<GroupKey, Vec<Pid>> = BTreeMap::new();
        for (g, pids) in groups {
            new.insert(GroupKey(g), pids);
        }
        let old = match self.remote.get_mut(&peer) {
            Some(p) => {
                p.v1 = v1;
                std::mem::take(&mut p.groups)
            }
            None => {
                let mref = self.monitor(&peer);
                self.remote.insert(
                    peer.clone(),
                    Peer {
                        mref,
                        v1,
                        groups: BTreeMap::new(),
                    },
                );
                BTreeMap::new()
            }
        };
        let old: BTreeMap<&GroupKey, Vec<Pid>> =
            old.iter().map(|(k, m)| (k, m.to_erlang())).collect();
        let mut keys: Vec<&GroupKey> = old
            .keys()
            .copied()
            .filter(|k| !new.contains_key(*k))
            .collect();
        keys.extend(new.keys());
        let empty = Vec::new();
        let diffs: Vec<(Term, Vec<Pid>, Vec<Pid>)> = keys
            .into_iter()
            .map(|k| {
                let (o, n) = (old.get(k).unwrap_or(&empty), new.get(k).unwrap_or(&empty));
                (k.0.clone(), subtract(n, o), subtract(o, n))
            })
            .filter(|(_, add, remove)| !add.is_empty() || !remove.is_empty())
            .collect();
        for (g, add, remove) in diffs {
            self.apply_remote(&g, &add, &remove);
        }
        let groups = new
            .into_iter()
            .filter(|(_, pids)| !pids.is_empty())
            .map(|(k, pids)| (k, Members::from_erlang(&pids)))
            .collect();
        if let Some(p) = self.remote.get_mut(&peer) {
            p.groups = groups;
        }
    }

    /// `Add ++ (All -- Remove)` for a peer's members, with notifications.
    fn apply_remote(&mut self, group: &Term, add: &[Pid], remove: &[Pid]) {
        {
            let mut t = self.state();
            t.remove(group, remove, false);
            t.add(group, add, false);
        }
        self.notify(true, group, add);
        self.notify(false, group, remove);
    }

    /// `join`, `leave` and `update` from a peer; ignored from an unknown
    /// one (a race of a flickering connection, as pg.erl says).
    fn remote_change(&mut self, peer: &Pid, changes: Vec<Change>) {
        if !self.remote.contains_key(peer) {
            return;
        }
        for c in changes {
            self.apply_remote(&c.group, &c.add, &c.remove);
            let Some(p) = self.remote.get_mut(peer) else {
                return;
            };
            let key = GroupKey(c.group);
            let now = p.groups.entry(key.clone()).or_default();
            now.subtract(&c.remove);
            now.prepend(&c.add);
            if now.is_empty() {
                p.groups.remove(&key);
            }
        }
    }

    fn down(&mut self, reference: Reference, pid: Pid) {
        if self.local.get(&pid).is_some_and(|m| m.mref == reference) {
            if let Some(m) = self.local.remove(&pid) {
                self.local_member_down(&pid, m.groups);
            }
        } else if self.remote.get(&pid).is_some_and(|p| p.mref == reference) {
            if let Some(p) = self.remote.remove(&pid) {
                for (g, pids) in p.groups {
                    self.apply_remote(&g.0, &[], &pids.to_erlang());
                }
            }
        } else {
            self.drop_monitor(&reference);
        }
    }

    fn local_member_down(&mut self, pid: &Pid, groups: Vec<Term>) {
        let one = std::slice::from_ref(pid);
        for g in &groups {
            self.state().remove(g, one, true);
            self.notify(false, g, one);
        }
        let changes = groups
            .iter()
            .map(|g| Change {
                group: g.clone(),
                add: vec![],
                remove: vec![pid.clone()],
            })
            .collect();
        self.broadcast(vec![msg::leave(&self.me, one, &groups)], changes);
    }

    /// A monitoring process went down: forget its subscription.
    fn drop_monitor(&mut self, reference: &Reference) -> bool {
        if self.scope_monitors.remove(reference).is_some() {
            return true;
        }
        let Some((pid, group)) = self.group_monitors.remove(reference) else {
            return false;
        };
        let key = GroupKey(group);
        if let Some(v) = self.monitored_groups.get_mut(&key) {
            v.retain(|(p, r)| !(p == &pid && r == reference));
            if v.is_empty() {
                self.monitored_groups.remove(&key);
            }
        }
        true
    }

    fn nonlocal<'a>(&self, pids: &'a [Pid]) -> Option<&'a Pid> {
        pids.iter().find(|p| p.node != self.me.node)
    }

    /// `handle_call/3`; the reply as `gen_server:call` returns it.
    fn request(&mut self, caller: Option<&Pid>, r: Request) -> Term {
        if let Request::Join { pids, .. } | Request::Leave { pids, .. } = &r {
            if let Some(bad) = self.nonlocal(pids) {
                let reason = term!({nolocal, (Term::Pid(bad.clone()))});
                return term!({error, (reason)});
            }
        }
        match r {
            Request::Join { group, pids } => {
                self.join_local(group, pids);
                ok()
            }
            Request::Leave { group, pids } => self.leave_local(group, pids),
            Request::MonitorScope => {
                let Some(caller) = caller else {
                    return atom("badarg");
                };
                let mref = self.monitor(caller);
                self.scope_monitors.insert(mref.clone(), caller.clone());
                let all = self.table.read().map(|t| t.all()).unwrap_or_default();
                let m = map(all
                    .iter()
                    .map(|(g, ps)| (g.clone(), pid_list(ps)))
                    .collect());
                term!({(Term::Reference(Box::new(mref))), (m)})
            }
            Request::MonitorGroup(group) => {
                let Some(caller) = caller else {
                    return atom("badarg");
                };
                let members = self
                    .table
                    .read()
                    .map(|t| t.members(&group))
                    .unwrap_or_default();
                let mref = self.monitor(caller);
                self.group_monitors
                    .insert(mref.clone(), (caller.clone(), group.clone()));
                self.monitored_groups
                    .entry(GroupKey(group))
                    .or_default()
                    .insert(0, (caller.clone(), mref.clone()));
                term!({(Term::Reference(Box::new(mref))), (pid_list(&members))})
            }
            Request::Demonitor(reference) => {
                if self.drop_monitor(&reference) {
                    self.out.push_back(Output::Demonitor { reference });
                    ok()
                } else {
                    atom("false")
                }
            }
        }
    }

    fn join_local(&mut self, group: Term, pids: Vec<Pid>) {
        if pids.is_empty() {
            return;
        }
        for pid in &pids {
            if let Some(m) = self.local.get_mut(pid) {
                m.groups.insert(0, group.clone());
            } else {
                let mref = self.monitor(pid);
                self.local.insert(
                    pid.clone(),
                    Member {
                        mref,
                        groups: vec![group.clone()],
                    },
                );
            }
        }
        self.state().add(&group, &pids, true);
        self.notify(true, &group, &pids);
        let v0 = vec![msg::join(&self.me, &group, &pids)];
        let v1 = vec![Change {
            group,
            add: pids,
            remove: vec![],
        }];
        self.broadcast(v0, v1);
    }

    fn leave_local(&mut self, group: Term, pids: Vec<Pid>) -> Term {
        let key = GroupKey(group.clone());
        let mut removed = Vec::new();
        for pid in pids {
            let Some(m) = self.local.get_mut(&pid) else {
                continue;
            };
            let Some(i) = m.groups.iter().position(|g| GroupKey(g.clone()) == key) else {
                continue;
            };
            m.groups.remove(i);
            if m.groups.is_empty() {
                if let Some(m) = self.local.remove(&pid) {
                    self.out.push_back(Output::Demonitor { reference: m.mref });
                }
            }
            removed.push(pid);
        }
        if removed.is_empty() {
            return atom("not_joined");
        }
        self.state().remove(&group, &removed, true);
        self.notify(false, &group, &removed);
        let v0 = vec![msg::leave(&self.me, &removed, std::slice::from_ref(&group))];
        let v1 = vec![Change {
            group,
            add: vec![],
            remove: removed,
        }];
        self.broadcast(v0, v1);
        ok()
    }
}
