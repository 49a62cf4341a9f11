//! The sans-IO core of `global` — mirrors `lib/kernel/src/global.erl`
//! (OTP 25.2, protocol vsn 8; unchanged on the wire in OTP 27 and 29).
//!
//! One [`GlobalCore`] is one node's `global_name_server` together with its
//! two permanent helpers, the *locker* and the *registrar*, plus the
//! short-lived helpers OTP spawns (resolvers, `sync_other`, syncers). Each
//! blocking `receive` of the Erlang code is an explicit state here:
//!
//! ```text
//!   inputs                                  outputs (commands as data)
//!   ──────                                  ──────────────────────────
//!   Message{to: Server|Locker|Registrar} ─┐  ┌─► Send / SendNoConnect {from: Role}
//!   Api{token, register|unregister|sync} ─┼─►│   Monitor / Demonitor {role}
//!   RpcResult{token}                     ─┤  │   Reply (gen_server reply) / ApiReply
//!   SyncOtherFailed{node}                ─┘  │   SyncOther (connect + in_sync)
//!   handle_timeout(now)                      │   MonitorNode / Disconnect / Kill / Rpc
//!                                            └── poll_output(), poll_timeout()
//!
//!   server (sync.rs, names.rs, locks.rs) ──LockerMsg──► locker (locker.rs)
//!        ▲    ◄──────────── lock_is_set ─────────────────────┘
//!        └──── exchange_ops ◄── resolvers (resolve.rs)
//! ```
//!
//! Internal messages between the merged processes go through an internal
//! queue, so every handler runs to completion as its Erlang counterpart
//! does. Time (`now`), randomness (`rng_seed`) and references (a reference
//! generator) are injected, so a test replays a run exactly.

use crate::term;
mod locker;
mod locks;
mod names;
mod resolve;
mod server;
mod sync;

#[cfg(test)]
mod core_test;
#[cfg(test)]
mod sim;
#[cfg(test)]
mod sim_test;

pub use locks::{check_replies, random_sleep_max};
pub use resolve::{Method, ResolveEffect, ResolveOutcome, resolve_it};

use crate::rng::Rng;
use crate::runtime::{Dest, GenFrom};
use crate::term::{Atom, Pid, Reference, Term, TermExt, atom, int};
use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::time::{Duration, Instant};

/// Protocol version spoken (`-define(vsn, 8)`).
pub const VSN: i64 = 8;
/// First version with the "verify connection" messages (`init_connect_ack`, `cancel_connect`).
const VERIFY_CONNECT_VSN: i64 = 8;
/// First version with `prevent_overlapping_partitions` (`lost_connection`).
const POP_VSN: i64 = 7;
/// First version propagating protocol versions of known nodes.
const PGPV_VSN: i64 = 7;
/// `?lost_conn_info_cleanup_time`: one hour.
const LOST_CONN_INFO_CLEANUP: Duration = Duration::from_secs(3600);
/// `?MIN_64BIT_SMALL_INT`.
const MIN_64BIT_SMALL_INT: i64 = -(1 << 59);

/// Which of global's processes a message is for or comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    /// `global_name_server` (registered).
    Server,
    /// The locker (`start_the_locker/1`), unregistered; BEAM nodes see its pid as a lock holder.
    Locker,
    /// The registrar (`start_the_registrar/0`), unregistered; holds `{global, Registrar}` locks.
    Registrar,
}

/// Static configuration of one node's global.
#[derive(Debug, Clone)]
pub struct Config {
    /// This node's name.
    pub node: Atom,
    /// This node's creation (part of the `lost_connection` extended creation).
    pub creation: u32,
    /// Pid of the process registered as `global_name_server`.
    pub server: Pid,
    /// Pid of the locker process.
    pub locker: Pid,
    /// Pid of the registrar process.
    pub registrar: Pid,
    /// Kernel parameter `connect_all` (`-connect_all false` turns it off).
    pub connect_all: bool,
    /// Kernel parameter `prevent_overlapping_partitions` (default `true` since OTP 25).
    pub prevent_overlapping_partitions: bool,
    /// The host part OTP's `is_node_local/1` compares with (`inet:gethostname/0`).
    pub hostname: String,
    /// Seed of the random generator (locker back-off, `random_element/1`, creation extension).
    pub rng_seed: u64,
}

/// A request of the local (Rust) API, answered by [`Output::ApiReply`].
#[derive(Debug, Clone, PartialEq)]
pub enum ApiRequest {
    /// `global:register_name(Name, Pid, Method)`: replies `yes` / `no`.
    Register {
        /// The name (any term).
        name: Term,
        /// The process.
        pid: Pid,
        /// The resolve method as it travels (a fun term).
        method: Term,
    },
    /// `global:re_register_name(Name, Pid, Method)`: replies `yes`.
    ReRegister {
        /// The name.
        name: Term,
        /// The process.
        pid: Pid,
        /// The resolve method.
        method: Term,
    },
    /// `global:unregister_name(Name)`: replies `ok`.
    Unregister {
        /// The name.
        name: Term,
    },
    /// `global:sync()` (`None`: all of `nodes()`) or `global:sync(Nodes)`: replies `ok`.
    Sync {
        /// The nodes to wait for.
        nodes: Option<Vec<Atom>>,
    },
}

/// An input of the core.
#[derive(Debug, Clone, PartialEq)]
pub enum Input {
    /// A message that arrived in the mailbox of one of global's processes.
    Message {
        /// Whose mailbox.
        to: Role,
        /// The message.
        msg: Term,
    },
    /// A local API request with a completion token.
    Api {
        /// Echoed in [`Output::ApiReply`].
        token: u64,
        /// The request.
        request: ApiRequest,
    },
    /// The result of an [`Output::Rpc`]: the value, or `{badrpc, Reason}`.
    RpcResult {
        /// The token of the rpc.
        token: u64,
        /// Its result.
        result: Term,
    },
    /// A [`Output::SyncOther`] could not connect (`{extra_nodedown, Node}`).
    SyncOtherFailed {
        /// The node.
        node: Atom,
    },
}

/// A command for the driver.
#[derive(Debug, Clone, PartialEq)]
pub enum Output {
    /// Send `msg` from the process of `from` (may set up a connection).
    Send {
        /// Sending process.
        from: Role,
        /// Destination.
        to: Dest,
        /// Message.
        msg: Term,
    },
    /// `erlang:send({global_name_server, Node}, Msg, [noconnect])`: dropped
    /// if `node` is not connected.
    SendNoConnect {
        /// Sending process.
        from: Role,
        /// Node whose `global_name_server` gets it.
        node: Atom,
        /// Message.
        msg: Term,
    },
    /// `erlang:monitor(process, Target)` from the process of `role`, with this reference.
    Monitor {
        /// Monitoring process.
        role: Role,
        /// Monitored process.
        target: Target,
        /// Reference to use (the DOWN message carries it).
        reference: Reference,
    },
    /// `erlang:demonitor(Ref, [flush])`.
    Demonitor {
        /// Process holding the monitor.
        role: Role,
        /// The monitor.
        reference: Reference,
    },
    /// `gen_server:reply(From, Reply)` from `global_name_server`.
    Reply {
        /// The caller.
        from: GenFrom,
        /// The reply.
        reply: Term,
    },
    /// The answer to an [`Input::Api`].
    ApiReply {
        /// The request's token.
        token: u64,
        /// `yes`, `no` or `ok`.
        reply: Term,
    },
    /// `sync_other/2`: connect to `node` (`monitor_node(Node, true,
    /// [allow_passive_connect])`), then send `msg` (`{'$gen_cast', {in_sync,
    /// Me, true}}`) to its `global_name_server`; feed
    /// [`Input::SyncOtherFailed`] if no connection can be made.
    SyncOther {
        /// The node.
        node: Atom,
        /// The `in_sync` cast.
        msg: Term,
    },
    /// `monitor_node(Node, true)` from the server (a syncer waiting for a node
    /// that is not connected): `{nodedown, Node}` arrives if it cannot connect.
    MonitorNode {
        /// The node.
        node: Atom,
    },
    /// `net_kernel:async_disconnect(Node)` / `erlang:disconnect_node/1`.
    Disconnect {
        /// The node.
        node: Atom,
    },
    /// `exit(Pid, kill)` (`random_exit_name/3`).
    Kill {
        /// The process.
        pid: Pid,
    },
    /// `rpc:call(Node, Module, Function, Args)`; answer with [`Input::RpcResult`].
    Rpc {
        /// Echoed in the result.
        token: u64,
        /// Where.
        node: Atom,
        /// Module.
        module: Atom,
        /// Function.
        function: Atom,
        /// Arguments.
        args: Vec<Term>,
    },
}

/// What a [`Output::Monitor`] watches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// A process.
    Pid(Pid),
    /// `{global_name_server, Node}`, by name (the monitor of `gen_server:multi_call/3`).
    Server(Atom),
}

/// Where the answer to a request goes.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum ReplyTo {
    /// A gen_server call to `global_name_server`.
    Gen(GenFrom),
    /// A local API request.
    Api(u64),
}

/// A message between the merged processes.
#[derive(Debug, Clone)]
enum Internal {
    /// Server → locker.
    ToLocker(locker::LockerMsg),
    /// Locker → server: `{lock_is_set, Node, MyTag, LockId}`.
    LockIsSet {
        node: String,
        tag: Term,
        lock_id: Term,
    },
    /// Resolver → server: `{exchange_ops, Node, MyTag, Ops, Resolved}`.
    ExchangeOps {
        node: String,
        tag: Term,
        ops: Vec<Term>,
        resolved: Vec<Term>,
    },
}

/// The per-node entries OTP keeps in the server's process dictionary.
#[derive(Debug, Clone, Default)]
struct Session {
    /// `{wait_lock, Node}`.
    wait_lock: Option<WaitLock>,
    /// `{save_ops, Node}`.
    save_ops: Option<SaveOps>,
    /// `{pre_connect, Node}` = `{Vsn, InitMsg, HisTag}`.
    pre_connect: Option<(i64, Term, Term)>,
    /// `{prot_vsn, Node}`.
    prot_vsn: Option<i64>,
    /// `{sync_tag_my, Node}`.
    sync_tag_my: Option<Term>,
    /// `{sync_tag_his, Node}`.
    sync_tag_his: Option<Term>,
    /// `{lock_id, Node}`.
    lock_id: Option<Term>,
}

#[derive(Debug, Clone)]
enum WaitLock {
    /// `{exchange, NameList}`: the peer's names arrived before our lock.
    Exchange(Vec<Term>),
    /// `lock_is_set`.
    LockIsSet,
}

#[derive(Debug, Clone)]
enum SaveOps {
    /// `{resolved, HisKnown, NamesExt, HisResolved}`.
    Resolved {
        his_known: Vec<Term>,
        names_ext: Term,
        his_resolved: Vec<Term>,
    },
    /// Our ops from the resolver.
    Ops(Vec<Term>),
}

/// A `global:sync/0,1` caller waiting for nodes (`sync_loop/2`).
#[derive(Debug, Clone)]
struct Syncer {
    reply: ReplyTo,
    pending: Vec<String>,
}

/// `global_lost_connections` entry: `{ExtendedCreationA, OpIdA, Timer}`.
#[derive(Debug, Clone)]
struct LostInfo {
    xcreation: Term,
    op_id: Term,
    expires: Instant,
}

/// A reference generator (`make_ref/0` of the node).
pub type RefGen = Box<dyn FnMut() -> Reference + Send>;

/// One node's global: `global_name_server`, its locker and its registrar.
///
/// Methods: `handle` / `handle_timeout` (inputs), `poll_output` /
/// `poll_timeout` (outputs), and read-only getters.
pub struct GlobalCore {
    cfg: Config,
    me: String,
    now: Instant,
    rng: Rng,
    make_ref: RefGen,
    next_unique: i64,
    next_token: u64,
    /// `get(creation_extension)`.
    creation_extension: i64,
    out: VecDeque<Output>,
    internal: VecDeque<Internal>,
    /// `known`: node → protocol version.
    known: BTreeMap<String, i64>,
    /// `{pending, Node}` entries of `known`.
    pending: BTreeMap<String, i64>,
    /// `{removing, Node}` entries of `known`.
    removing: BTreeSet<String>,
    /// `{connection_id, Node}` entries of `known`.
    conn_ids: BTreeMap<String, Term>,
    synced: Vec<String>,
    sessions: BTreeMap<String, Session>,
    resolvers: Vec<resolve::Resolver>,
    syncers: Vec<Syncer>,
    names: names::Names,
    locks: locks::LockTable,
    global_lock_down: bool,
    lost: BTreeMap<(String, String), LostInfo>,
    /// `{whereis, Name, From}` retried after a random sleep (`send_again/1`).
    whereis_retry: Vec<(Instant, Term, Term)>,
    /// Nodes whose next nodedown was already consumed by `handle_call(disconnect, ...)`.
    ignore_nodedown: BTreeSet<String>,
    locker: locker::Locker,
    registrar: names::Registrar,
    /// Monotonic count of changes to names/locks/known, for snapshot publishing.
    version: u64,
}

impl std::fmt::Debug for GlobalCore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GlobalCore")
            .field("node", &self.me)
            .field("known", &self.known)
            .field("synced", &self.synced)
            .finish_non_exhaustive()
    }
}

fn node_of(p: &Pid) -> String {
    p.node.name.clone()
}

fn a(n: &str) -> Term {
    atom(n)
}

/// `{'$gen_cast', Msg}`.
fn gen_cast(msg: Term) -> Term {
    term!({(a("$gen_cast")), (msg)})
}

/// Tags are integers from `erlang:unique_integer/1`; compare them by value
/// whatever their encoding (`SMALL_INTEGER_EXT`, `INTEGER_EXT`, `SMALL_BIG_EXT`).
fn tag_eq(x: &Term, y: &Term) -> bool {
    match (x.as_i64(), y.as_i64()) {
        (Some(p), Some(q)) => p == q,
        _ => x == y,
    }
}

fn opt_tag_eq(x: Option<&Term>, y: &Term) -> bool {
    x.is_some_and(|x| tag_eq(x, y))
}

fn undefined_or(t: Option<&Term>) -> Term {
    t.cloned().unwrap_or_else(|| a("undefined"))
}

impl GlobalCore {
    /// A fresh global (`init/1`), at time `now`, with no connected nodes.
    pub fn new(cfg: Config, now: Instant, make_ref: RefGen) -> Self {
        let mut rng = Rng::seeded(cfg.rng_seed);
        // CreX = (rand:uniform(MAX - MIN) - 1) band bnot (2^32 - 1).
        let span: u64 = (1u64 << 60) - 1;
        let crex = ((rng.uniform(span) - 1) & !0xffff_ffffu64) as i64;
        let me = cfg.node.name.clone();
        let locker = locker::Locker::new(&me);
        Self {
            me,
            now,
            rng,
            make_ref,
            // erlang:unique_integer([monotonic]) starts near the smallest small integer.
            next_unique: MIN_64BIT_SMALL_INT + 2,
            next_token: 1,
            creation_extension: crex,
            out: VecDeque::new(),
            internal: VecDeque::new(),
            known: BTreeMap::new(),
            pending: BTreeMap::new(),
            removing: BTreeSet::new(),
            conn_ids: BTreeMap::new(),
            synced: Vec::new(),
            sessions: BTreeMap::new(),
            resolvers: Vec::new(),
            syncers: Vec::new(),
            names: names::Names::default(),
            locks: locks::LockTable::default(),
            global_lock_down: false,
            lost: BTreeMap::new(),
            whereis_retry: Vec::new(),
            ignore_nodedown: BTreeSet::new(),
            locker,
            registrar: names::Registrar::default(),
            version: 0,
            cfg,
        }
    }

    // ----------------------------------------------------------------
    // Inputs
    // ----------------------------------------------------------------

    /// Feeds one input.
    pub fn handle(&mut self, now: Instant, input: Input) {
        self.now = now;
        match input {
            Input::Message {
                to: Role::Server,
                msg,
            } => self.server_message(msg),
            Input::Message {
                to: Role::Locker,
                msg,
            } => self.locker_message(msg),
            Input::Message {
                to: Role::Registrar,
                msg,
            } => self.registrar_message(msg),
            Input::Api { token, request } => self.api_request(token, request),
            Input::RpcResult { token, result } => self.rpc_result(token, result),
            Input::SyncOtherFailed { node } => self.extra_nodedown(node.name),
        }
        self.run_internal();
    }

    /// Fires every timer due at `now`.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.now = now;
        self.locker_timeout();
        self.registrar_timeout();
        let expired: Vec<(String, String)> = self
            .lost
            .iter()
            .filter(|(_, v)| v.expires <= now)
            .map(|(k, _)| k.clone())
            .collect();
        for k in expired {
            self.lost.remove(&k);
        }
        let (due, keep): (Vec<_>, Vec<_>) = std::mem::take(&mut self.whereis_retry)
            .into_iter()
            .partition(|(t, _, _)| *t <= now);
        self.whereis_retry = keep;
        for (_, name, from) in due {
            self.do_whereis(name, from);
        }
        self.run_internal();
    }

    // ----------------------------------------------------------------
    // Outputs
    // ----------------------------------------------------------------

    /// The next command for the driver.
    pub fn poll_output(&mut self) -> Option<Output> {
        self.out.pop_front()
    }

    /// When [`GlobalCore::handle_timeout`] must be called next.
    pub fn poll_timeout(&self) -> Option<Instant> {
        [
            self.locker.deadline(),
            self.registrar.deadline(),
            self.lost.values().map(|v| v.expires).min(),
            self.whereis_retry.iter().map(|(t, _, _)| *t).min(),
        ]
        .into_iter()
        .flatten()
        .min()
    }

    // ----------------------------------------------------------------
    // Getters
    // ----------------------------------------------------------------

    /// This node's name.
    pub fn node(&self) -> &Atom {
        &self.cfg.node
    }

    /// `global:whereis_name/1` on this node's table (no liveness check).
    pub fn whereis(&self, name: &Term) -> Option<&Pid> {
        self.names.get(name).map(|e| &e.pid)
    }

    /// `global:registered_names/0`: every name with its pid.
    pub fn registered(&self) -> Vec<(Term, Pid)> {
        self.names.list()
    }

    /// `get_known`: nodes global has synced with or learnt about.
    pub fn known(&self) -> Vec<Atom> {
        self.known.keys().map(|n| Atom::from(n.as_str())).collect()
    }

    /// `get_synced`.
    pub fn synced(&self) -> Vec<Atom> {
        self.synced.iter().map(|n| Atom::from(n.as_str())).collect()
    }

    /// The locks on this node: resource, requester id and holders.
    pub fn locks(&self) -> Vec<(Term, Term, Vec<Pid>)> {
        self.locks.list()
    }

    /// Whether `{set_lock, {Resource, Requester}}` would succeed here now (`can_set_lock/1`).
    pub fn can_set_lock(&self, resource: &Term, requester: &Term) -> bool {
        self.locks.can_set(resource, requester).is_some()
    }

    /// Incremented whenever names, locks or known nodes change.
    pub fn version(&self) -> u64 {
        self.version
    }

    // ----------------------------------------------------------------
    // Helpers shared by the submodules
    // ----------------------------------------------------------------

    fn me_atom(&self) -> Term {
        Term::Atom(self.cfg.node.clone())
    }

    fn role_pid(&self, role: Role) -> &Pid {
        match role {
            Role::Server => &self.cfg.server,
            Role::Locker => &self.cfg.locker,
            Role::Registrar => &self.cfg.registrar,
        }
    }

    fn new_ref(&mut self) -> Reference {
        (self.make_ref)()
    }

    /// `erlang:unique_integer([monotonic])`.
    fn unique(&mut self) -> Term {
        self.next_unique += 1;
        int(self.next_unique)
    }

    fn new_token(&mut self) -> u64 {
        self.next_token += 1;
        self.next_token
    }

    fn emit(&mut self, o: Output) {
        self.out.push_back(o);
    }

    /// `gen_server:cast({global_name_server, Node}, Msg)`.
    fn cast_to(&mut self, from: Role, node: &str, msg: Term) {
        self.emit(Output::Send {
            from,
            to: Dest::Remote(Atom::from("global_name_server"), Atom::from(node)),
            msg: gen_cast(msg),
        });
    }

    /// `gns_volatile_send/2`.
    fn volatile_send(&mut self, node: &str, msg: Term) {
        self.emit(Output::SendNoConnect {
            from: Role::Server,
            node: Atom::from(node),
            msg,
        });
    }

    fn reply(&mut self, to: ReplyTo, reply: Term) {
        match to {
            ReplyTo::Gen(from) => self.emit(Output::Reply { from, reply }),
            ReplyTo::Api(token) => self.emit(Output::ApiReply { token, reply }),
        }
    }

    fn touch(&mut self) {
        self.version += 1;
    }

    fn send_locker(&mut self, m: locker::LockerMsg) {
        self.internal.push_back(Internal::ToLocker(m));
    }

    fn run_internal(&mut self) {
        while let Some(m) = self.internal.pop_front() {
            match m {
                Internal::ToLocker(m) => self.locker_deliver(m),
                Internal::LockIsSet { node, tag, lock_id } => {
                    self.handle_lock_is_set(node, tag, lock_id)
                }
                Internal::ExchangeOps {
                    node,
                    tag,
                    ops,
                    resolved,
                } => self.handle_exchange_ops(node, tag, ops, resolved),
            }
        }
    }

    fn session(&mut self, node: &str) -> &mut Session {
        self.sessions.entry(node.to_owned()).or_default()
    }

    fn session_tag_my(&self, node: &str) -> Option<&Term> {
        self.sessions.get(node).and_then(|s| s.sync_tag_my.as_ref())
    }
}

/// Who asked for a name insertion (`FromPidOrNode` of `ins_name/6`).
#[derive(Debug, Clone)]
enum Origin {
    /// A `{register, ...}` call from this process.
    Pid(Pid),
    /// Ops from a sync (`resolved`, `new_nodes`): checked against the lock id.
    Node,
}
