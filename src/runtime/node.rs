//! The node: its name and creation, the process table, the connection
//! table, and the public API to spawn processes, send, and connect.

use super::ids::Ids;
use super::process::Process;
use super::state::{Effects, MonitorTarget, NodeMonitor, ProcEntry, SpawnRequest, State, key};
use super::{Busy, Dest};
use crate::dist::DFlags;
use crate::dist::connection::{self, Settings};
use crate::dist::control::Control;
use crate::dist::transport::{self, ListenError, ListenOptions, ProtoDist};
use crate::term;
use crate::term::{Atom, Limits, Pid, Reference, Term, atom, cmp_atoms};
use futures::FutureExt;
use std::collections::VecDeque;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, MutexGuard, RwLock, Weak};
use std::time::Duration;

/// How to start a node.
#[derive(Debug, Clone)]
pub struct NodeConfig {
    /// Full node name, `name@host`.
    pub name: String,
    /// The distribution cookie.
    pub cookie: String,
    /// `-hidden`: do not publish this node (no `DFLAG_PUBLISHED`).
    pub hidden: bool,
    /// EPMD port (`ERL_EPMD_PORT`, default 4369).
    pub epmd_port: u16,
    /// `-proto_dist`: the carrier and its address family.
    pub proto_dist: ProtoDist,
    /// `inet_dist_use_interface`: the address the distribution listener
    /// binds to (`None`: any address of the family).
    pub listen_addr: Option<IpAddr>,
    /// `inet_dist_listen_min` / `inet_dist_listen_max` (0 = any port).
    pub listen_ports: (u16, u16),
    /// `inet_dist_listen_options`.
    pub listen_options: ListenOptions,
    /// `net_ticktime` in seconds.
    pub net_ticktime: u32,
    /// `net_tickintensity`.
    pub net_tickintensity: u32,
    /// `net_setuptime`.
    pub net_setuptime: Duration,
    /// Decoding limits for terms received from peers.
    pub limits: Limits,
    /// `-proto_dist inet_tls`: TLS for every connection (see
    /// [`TlsDist`](crate::dist::tls::TlsDist)); `None` is `inet_tcp`.
    pub tls: Option<Arc<crate::dist::tls::TlsDist>>,
    /// `dist_buf_busy_limit` in bytes (erl's `+zdbbl` is in KiB): a
    /// connection whose queue holds this much not yet written is busy, and
    /// [`Process::send_wait`] waits. Default 1 MiB, as BEAM.
    pub dist_buf_busy_limit: usize,
    /// Largest message accepted from a peer, in one frame or in the
    /// fragments of its unfinished messages together (BEAM has no such
    /// limit); a peer that sends more is disconnected. Default 1 GiB.
    pub max_message_size: usize,
    /// Seed of the node's one random generator for protocol choices
    /// ([`crate::rng`]: global's back-offs and choices, names given to
    /// peers); `None` seeds it from the OS. Set it to replay a run.
    pub rng_seed: Option<u64>,
}

impl NodeConfig {
    /// A visible node with OTP's defaults.
    pub fn new(name: &str, cookie: &str) -> Self {
        Self {
            name: name.to_owned(),
            cookie: cookie.to_owned(),
            hidden: false,
            epmd_port: 4369,
            proto_dist: ProtoDist::default(),
            listen_addr: None,
            listen_ports: (0, 0),
            listen_options: ListenOptions::default(),
            net_ticktime: 60,
            net_tickintensity: 4,
            net_setuptime: Duration::from_secs(7),
            limits: Limits::default(),
            tls: None,
            dist_buf_busy_limit: crate::dist::queue::DEFAULT_BUSY_LIMIT,
            max_message_size: crate::dist::frame::MAX_FRAME,
            rng_seed: None,
        }
    }
}

/// Why a node could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The node name is not `name@host`.
    #[error("invalid node name {0:?}: expected name@host")]
    BadName(String),
    /// No port in the listen range could be bound.
    #[error("cannot listen for distribution connections: {0}")]
    Listen(ListenError),
    /// EPMD refused or could not be reached.
    #[error("cannot register with EPMD: {0}")]
    Epmd(crate::epmd::EpmdError),
}

/// A process body for a spawn request: runs in a new process, returns its exit reason.
pub type ProcessFn = Box<dyn FnOnce(Process) -> futures::future::BoxFuture<'static, Term> + Send>;

/// Answers `SPAWN_REQUEST`s (erpc, `spawn/4` from BEAM): the function to run
/// in the new process, or an error atom (`notsup`, `badarg`) for the reply.
pub trait SpawnService: Send + Sync + 'static {
    /// Decides what the requested process runs.
    fn spawn_request(&self, node: &Node, req: &SpawnRequest) -> Result<ProcessFn, Term>;
}

pub(crate) struct Inner {
    pub(crate) name: Atom,
    pub(crate) creation: u32,
    pub(crate) ids: Ids,
    pub(crate) state: Mutex<State>,
    pub(crate) settings: Arc<Settings>,
    pub(crate) epmd_port: u16,
    pub(crate) proto_dist: ProtoDist,
    pub(crate) hidden: bool,
    pub(crate) listen_port: u16,
    pub(crate) spawn_service: RwLock<Option<Arc<dyn SpawnService>>>,
    pub(crate) rng: crate::rng::SharedRng,
    background: Mutex<Vec<tokio::task::AbortHandle>>,
    registration: Mutex<Option<crate::epmd::Registration>>,
    me: Weak<Self>,
}

/// A running node. Cheap to clone.
#[derive(Clone)]
pub struct Node {
    pub(crate) inner: Arc<Inner>,
}

impl std::fmt::Debug for Node {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Node({})", self.inner.name.name)
    }
}

pub(crate) fn split_name(name: &str) -> Option<(&str, &str)> {
    let (alive, host) = name.split_once('@')?;
    if alive.is_empty() || host.is_empty() || host.contains('@') {
        return None;
    }
    Some((alive, host))
}

impl Node {
    /// Starts a node: listens, registers with EPMD (which must be running;
    /// see `crate::epmd` to start one), and accepts connections.
    pub async fn start(cfg: NodeConfig) -> Result<Self, StartError> {
        let (alive, _host) =
            split_name(&cfg.name).ok_or_else(|| StartError::BadName(cfg.name.clone()))?;
        let listener = transport::listen(
            cfg.proto_dist,
            cfg.listen_addr,
            cfg.listen_ports,
            &cfg.listen_options,
        )
        .await
        .map_err(StartError::Listen)?;
        let port = listener
            .local_addr()
            .map_err(|e| StartError::Listen(e.into()))?
            .port();
        let epmd = cfg.proto_dist.family().local_epmd(cfg.epmd_port);
        let registration = crate::epmd::register(epmd, alive, port, cfg.hidden)
            .await
            .map_err(StartError::Epmd)?;
        let creation = registration.creation();
        let name = Atom::from(cfg.name.as_str());
        let mut flags = DFlags::OURS;
        if !cfg.hidden {
            flags |= DFlags::PUBLISHED;
        }
        let tick = Duration::from_millis(
            u64::from(cfg.net_ticktime) * 1000 / u64::from(cfg.net_tickintensity.max(1)),
        );
        let settings = Arc::new(Settings {
            this_node: cfg.name.clone(),
            cookie: cfg.cookie.clone(),
            flags,
            creation,
            tick_interval: tick.max(Duration::from_millis(100)),
            tick_intensity: cfg.net_tickintensity.max(1),
            setup_timeout: cfg.net_setuptime,
            limits: cfg.limits,
            tls: cfg.tls.clone(),
            max_message_size: cfg.max_message_size,
        });
        let state = State {
            busy_limit: super::state::BusyLimit(cfg.dist_buf_busy_limit),
            ..State::default()
        };
        let inner = Arc::new_cyclic(|me| Inner {
            name: name.clone(),
            creation,
            ids: Ids::new(name.clone(), creation, rand::random::<u32>()),
            state: Mutex::new(state),
            settings,
            epmd_port: cfg.epmd_port,
            proto_dist: cfg.proto_dist,
            hidden: cfg.hidden,
            listen_port: port,
            spawn_service: RwLock::new(None),
            rng: crate::rng::SharedRng::new(
                cfg.rng_seed
                    .map_or_else(crate::rng::Rng::from_os, crate::rng::Rng::seeded),
            ),
            background: Mutex::new(Vec::new()),
            registration: Mutex::new(Some(registration)),
            me: me.clone(),
        });
        let acceptor = {
            let inner = inner.clone();
            tokio::spawn(async move {
                loop {
                    let stream = match listener.accept().await {
                        Ok((stream, _)) => stream,
                        Err(e) => {
                            // Out of descriptors (a flood of connections):
                            // retry once some have closed, without spinning.
                            tracing::warn!("distribution listener: accept failed: {e}");
                            tokio::time::sleep(Duration::from_millis(100)).await;
                            continue;
                        }
                    };
                    let id = inner.lock().next_id();
                    tokio::spawn(connection::accept(
                        inner.clone(),
                        inner.settings.clone(),
                        stream,
                        id,
                    ));
                }
            })
        };
        inner
            .background
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(acceptor.abort_handle());
        tracing::info!(node = %cfg.name, port, creation, tls = cfg.tls.is_some(), "distribution started");
        Ok(Self { inner })
    }

    /// A node without distribution (no listener, no EPMD): for tests and
    /// simulations of local process behaviour. Sends to other nodes fail as
    /// if they were unreachable.
    pub fn local(name: &str) -> Self {
        let name = Atom::from(name);
        let settings = Arc::new(Settings {
            this_node: name.name.clone(),
            cookie: String::new(),
            flags: DFlags::OURS,
            creation: 1,
            tick_interval: Duration::from_secs(15),
            tick_intensity: 4,
            setup_timeout: Duration::from_secs(7),
            limits: Limits::default(),
            tls: None,
            max_message_size: crate::dist::frame::MAX_FRAME,
        });
        let inner = Arc::new_cyclic(|me| Inner {
            name: name.clone(),
            creation: 1,
            ids: Ids::new(name.clone(), 1, 0),
            state: Mutex::new(State::default()),
            settings,
            epmd_port: 0,
            proto_dist: ProtoDist::default(),
            hidden: true,
            listen_port: 0,
            spawn_service: RwLock::new(None),
            // Local nodes are for tests and simulations: they replay.
            rng: crate::rng::SharedRng::new(crate::rng::Rng::seeded(1)),
            background: Mutex::new(Vec::new()),
            registration: Mutex::new(None),
            me: me.clone(),
        });
        Self { inner }
    }

    /// This node's name.
    pub fn name(&self) -> &Atom {
        &self.inner.name
    }

    /// This node's creation (from EPMD).
    pub fn creation(&self) -> u32 {
        self.inner.creation
    }

    /// Whether this node is hidden (`-hidden`).
    pub fn is_hidden(&self) -> bool {
        self.inner.hidden
    }

    /// The port the distribution listener is bound to.
    pub fn listen_port(&self) -> u16 {
        self.inner.listen_port
    }

    /// Spawns a process running `f`. The future's output is the exit reason
    /// (`()` means `normal`).
    pub fn spawn<F, Fut>(&self, f: F) -> Pid
    where
        F: FnOnce(Process) -> Fut + Send + 'static,
        Fut: std::future::Future + Send + 'static,
        Fut::Output: Send + 'static,
    {
        self.spawn_with(f, |_| {}, None)
    }

    /// Runs `f` in a fresh process and returns its result: plain Rust code
    /// (outside any process) that needs a pid to call, monitor or receive.
    /// `None` when the process died before `f` finished (it was killed).
    ///
    /// ```no_run
    /// # async fn f(node: distro::Node) {
    /// let me = node.run_in_process(|p| async move { p.pid().clone() }).await;
    /// # }
    /// ```
    pub async fn run_in_process<R, F, Fut>(&self, f: F) -> Option<R>
    where
        R: Send + 'static,
        F: FnOnce(Process) -> Fut + Send + 'static,
        Fut: std::future::Future<Output = R> + Send + 'static,
    {
        let (tx, rx) = tokio::sync::oneshot::channel();
        self.spawn(move |p| async move {
            let _ = tx.send(f(p).await);
        });
        rx.await.ok()
    }

    /// Spawns with `setup` applied to the table entry before the task runs;
    /// `linked_to` gets the reverse link.
    pub(crate) fn spawn_with<F, Fut>(
        &self,
        f: F,
        setup: impl FnOnce(&mut ProcEntry),
        linked_to: Option<&Pid>,
    ) -> Pid
    where
        F: FnOnce(Process) -> Fut + Send + 'static,
        Fut: std::future::Future + Send + 'static,
        Fut::Output: Send + 'static,
    {
        let pid = self.inner.ids.new_pid();
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        let stats = Arc::new(super::info::MailboxStats::default());
        let mut entry = ProcEntry {
            pid: pid.clone(),
            tx: super::info::MailboxTx::new(tx, stats.clone()),
            trap_exit: false,
            links: Default::default(),
            monitors: Default::default(),
            watchers: Default::default(),
            name: None,
            aliases: Vec::new(),
            abort: None,
            dead: false,
        };
        setup(&mut entry);
        {
            let mut st = self.inner.lock();
            if let Some(l) = linked_to {
                if let Some(e) = st.procs.get_mut(&key(l)) {
                    e.links.insert(pid.clone());
                }
            }
            st.procs.insert(key(&pid), entry);
        }
        let proc = Process {
            node: self.clone(),
            pid: pid.clone(),
            rx,
            saved: VecDeque::new(),
            stats,
            dict: Vec::new(),
        };
        let guard = ExitGuard {
            inner: self.inner.clone(),
            pid: pid.clone(),
            reason: None,
        };
        let handle = tokio::spawn(async move {
            let mut guard = guard;
            let result = std::panic::AssertUnwindSafe(f(proc)).catch_unwind().await;
            guard.reason = Some(match result {
                Ok(r) => super::exit_reason_of(Box::new(r)),
                Err(p) => {
                    let msg = p
                        .downcast_ref::<&str>()
                        .map(|s| (*s).to_owned())
                        .or_else(|| p.downcast_ref::<String>().cloned())
                        .unwrap_or_else(|| "panic".into());
                    tracing::error!(
                        "process {} panicked: {msg}",
                        crate::term::Pretty(&Term::Pid(guard.pid.clone()))
                    );
                    term!({panic, (crate::term::binary(msg.into_bytes()))})
                }
            });
        });
        let mut st = self.inner.lock();
        match st.procs.get_mut(&key(&pid)).filter(|e| e.pid == pid) {
            Some(e) => e.abort = Some(handle.abort_handle()),
            None => handle.abort(),
        }
        pid
    }

    /// Sends from no particular process (the node itself); never waits,
    /// like [`Process::send`].
    pub fn send(&self, to: impl Into<Dest>, msg: Term) {
        let from = self.inner.ids.node_pid();
        self.inner.send_from(&from, to.into(), msg);
    }

    /// Sends from the node itself, waiting first while the connection is
    /// busy, like [`Process::send_wait`].
    pub async fn send_wait(&self, to: impl Into<Dest>, msg: Term) {
        let from = self.inner.ids.node_pid();
        self.inner.send_wait_from(&from, to.into(), msg).await;
    }

    /// Sends from the node itself unless the connection is busy, like
    /// [`Process::send_nosuspend`].
    pub fn send_nosuspend(&self, to: impl Into<Dest>, msg: Term) -> Result<(), Busy> {
        let from = self.inner.ids.node_pid();
        self.inner.send_nosuspend_from(&from, to.into(), msg)
    }

    /// `erlang:send(Dest, Msg, Opts)` from the node itself: with neither
    /// option it waits like [`Node::send_wait`]; with `nosuspend` it gives
    /// up on a busy connection, with `noconnect` on a node it is not
    /// connected to. Returns `ok`, `nosuspend` or `noconnect`.
    pub(crate) async fn send_with_opts(
        &self,
        to: Dest,
        msg: Term,
        nosuspend: bool,
        noconnect: bool,
    ) -> &'static str {
        let from = self.inner.ids.node_pid();
        let (mut to, mut msg) = (to, msg);
        loop {
            let mode = SendMode::Try {
                connect: !noconnect,
            };
            match self.inner.route(&from, to, msg, mode) {
                Routed::Sent => return "ok",
                Routed::NotConnected => return "noconnect",
                Routed::Busy(..) if nosuspend => return "nosuspend",
                Routed::Busy(_, dest, back, wait) => {
                    wait.until_not_busy().await;
                    (to, msg) = (dest, back);
                }
            }
        }
    }

    /// The pid registered under `name` here.
    pub fn whereis(&self, name: &str) -> Option<Pid> {
        self.inner.lock().names.get(&Atom::from(name)).cloned()
    }

    /// A new reference of this node (`make_ref/0`).
    pub fn make_ref(&self) -> Reference {
        self.inner.ids.new_ref()
    }

    /// Registered names on this node.
    pub fn registered(&self) -> Vec<Atom> {
        self.inner.lock().names.keys().cloned().collect()
    }

    /// Whether a local process is alive.
    pub fn is_process_alive(&self, pid: &Pid) -> bool {
        self.inner.lock().alive(pid)
    }

    /// Connected visible nodes (`nodes()`).
    pub fn nodes(&self) -> Vec<Atom> {
        self.nodes_where(|published| published)
    }

    /// Connected hidden nodes (`nodes(hidden)`).
    pub fn hidden_nodes(&self) -> Vec<Atom> {
        self.nodes_where(|published| !published)
    }

    /// The distribution flags `node` agreed on, if it is connected (not
    /// while the connection is still being set up). Which flags a peer has
    /// tells its release apart where a protocol differs between releases
    /// (e.g. `DFlags::ALTACT_SIG`: OTP 28 or later).
    pub fn peer_flags(&self, node: &Atom) -> Option<DFlags> {
        let st = self.inner.lock();
        st.conns
            .get(node)
            .filter(|c| !matches!(c.state, super::state::ConnState::Pending { .. }))
            .map(|c| c.flags)
    }

    fn nodes_where(&self, f: impl Fn(bool) -> bool) -> Vec<Atom> {
        let st = self.inner.lock();
        let mut v: Vec<Atom> = st
            .conns
            .iter()
            .filter(|(_, c)| {
                !matches!(c.state, super::state::ConnState::Pending { .. }) && f(c.published)
            })
            .map(|(n, _)| n.clone())
            .collect();
        v.sort_by(cmp_atoms);
        v
    }

    /// Sends an exit signal from the node to `pid`.
    pub fn exit(&self, pid: &Pid, reason: Term) {
        let from = self.inner.ids.node_pid();
        self.inner.exit2(&from, pid, reason);
    }

    /// Installs the service answering `SPAWN_REQUEST`s.
    pub fn set_spawn_service(&self, service: Arc<dyn SpawnService>) {
        *self
            .inner
            .spawn_service
            .write()
            .unwrap_or_else(|e| e.into_inner()) = Some(service);
    }

    /// Connects to `node` (if needed) and asks its net_kernel `{is_auth,
    /// Node}` as `net_adm:ping/1` does: `true` for pong.
    pub async fn ping(&self, node: &str) -> bool {
        let me = self.inner.name.name.clone();
        let target = node.to_owned();
        let pong = self.run_in_process(move |mut p| async move {
            let req = term!({is_auth, (atom(&me))});
            let r = p
                .call(
                    ("net_kernel", target.as_str()),
                    req,
                    Duration::from_secs(15),
                )
                .await;
            matches!(r, Ok(Term::Atom(a)) if a.name == "yes")
        });
        let pong = pong.await.unwrap_or(false);
        if !pong {
            self.disconnect(node);
        }
        pong
    }

    /// `erlang:disconnect_node/1`.
    pub fn disconnect(&self, node: &str) -> bool {
        self.inner.disconnect(&Atom::from(node), atom("disconnect"))
    }

    /// `net_kernel:async_disconnect/1`: like [`Node::disconnect`], but what
    /// this node already sent to `node` is still written before the
    /// connection closes (within a few seconds).
    pub fn async_disconnect(&self, node: &str) -> bool {
        self.inner
            .async_disconnect(&Atom::from(node), atom("disconnect"))
    }

    /// Stops the node: closes every connection, kills every process and
    /// unregisters from EPMD.
    pub async fn stop(&self) {
        // Processes end first, as under init:stop/0: their exit signals and
        // DOWN messages are queued to the peers that link to or monitor them.
        let pids: Vec<Pid> = self
            .inner
            .lock()
            .procs
            .values()
            .map(|e| e.pid.clone())
            .collect();
        for pid in pids {
            self.inner.terminate(&pid, atom("shutdown"));
        }
        // Then every connection closes once its queue is written: dropping
        // the queue's sender lets the writer drain it and finish.
        let closing: Vec<super::state::Conn> =
            self.inner.lock().conns.drain().map(|(_, c)| c).collect();
        let deadline = tokio::time::Instant::now() + Duration::from_secs(2);
        let tasks: Vec<tokio::task::AbortHandle> =
            closing.into_iter().flat_map(|c| c.tasks).collect();
        while tasks.iter().any(|t| !t.is_finished()) && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        for t in tasks {
            t.abort();
        }
        for h in self
            .inner
            .background
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .drain(..)
        {
            h.abort();
        }
        self.inner
            .registration
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take();
        tokio::task::yield_now().await;
    }
}

/// Runs the exit propagation when a process's task ends or is dropped.
struct ExitGuard {
    inner: Arc<Inner>,
    pid: Pid,
    reason: Option<Term>,
}

impl Drop for ExitGuard {
    fn drop(&mut self) {
        let reason = self.reason.take().unwrap_or_else(|| atom("killed"));
        self.inner.terminate(&self.pid, reason);
    }
}

impl Inner {
    pub(crate) fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn arc(&self) -> Option<Arc<Self>> {
        self.me.upgrade()
    }

    /// Runs `f` on the state, then the effects it produced.
    pub(crate) fn with<R>(&self, f: impl FnOnce(&mut State, &mut Effects) -> R) -> R {
        let mut fx = Effects::default();
        let r = {
            let mut st = self.lock();
            f(&mut st, &mut fx)
        };
        self.apply(fx);
        r
    }

    pub(crate) fn apply(&self, fx: Effects) {
        for a in fx.aborts {
            a.abort();
        }
        if fx.connects.is_empty() {
            return;
        }
        let Some(me) = self.arc() else { return };
        for (peer, id) in fx.connects {
            if split_name(&peer.name).is_none() || peer == self.name || self.epmd_port == 0 {
                // Not a node we can dial: fail the attempt at once.
                self.attempt_failed_inner(&peer, id);
                continue;
            }
            let h = tokio::spawn(connection::connect(
                me.clone(),
                self.settings.clone(),
                peer.name.clone(),
                id,
            ));
            let mut st = self.lock();
            match st.conns.get_mut(&peer) {
                Some(c) if c.id == id => c.tasks.push(h.abort_handle()),
                _ => h.abort(),
            }
        }
    }

    /// Sends without ever waiting: a busy connection queues the message
    /// anyway (see [`Process::send`]).
    pub(crate) fn send_from(&self, from: &Pid, to: Dest, msg: Term) {
        let _ = self.route(from, to, msg, SendMode::Force);
    }

    /// `erlang:send/2`: waits while the destination's connection is busy,
    /// then queues `msg`. A connection that goes away while we wait ends
    /// the wait; the send then goes wherever the node routes it now (a new
    /// connection, or a new attempt).
    pub(crate) async fn send_wait_from(&self, from: &Pid, to: Dest, msg: Term) {
        let (mut to, mut msg) = (to, msg);
        loop {
            match self.route(from, to, msg, SendMode::Try { connect: true }) {
                Routed::Sent | Routed::NotConnected => {
                    // A send costs reductions, as in BEAM: a process that
                    // sends in a loop yields now and then. Without it the
                    // connection's writer, woken into this worker's LIFO
                    // slot (where no idle worker can steal it), would wait
                    // until the queue is busy, and sender and writer would
                    // take turns on one core instead of running on two.
                    tokio::task::coop::consume_budget().await;
                    return;
                }
                Routed::Busy(_, dest, back, wait) => {
                    wait.until_not_busy().await;
                    (to, msg) = (dest, back);
                }
            }
        }
    }

    /// `erlang:send(Dest, Msg, [nosuspend])`.
    pub(crate) fn send_nosuspend_from(&self, from: &Pid, to: Dest, msg: Term) -> Result<(), Busy> {
        match self.route(from, to, msg, SendMode::Try { connect: true }) {
            Routed::Sent | Routed::NotConnected => Ok(()),
            Routed::Busy(node, _, msg, _) => Err(Busy { node, msg }),
        }
    }

    /// Routes `msg` to `to`. Local destinations get it at once; a remote
    /// one through its connection's queue, which under
    /// [`SendMode::Force`] takes it whatever it holds and otherwise may
    /// refuse it as busy (`nosuspend`) or, without `connect`, as not
    /// connected (`noconnect`).
    pub(crate) fn route(&self, from: &Pid, to: Dest, msg: Term, mode: SendMode) -> Routed {
        let (me, cr) = (&self.name, self.creation);
        // A remote message's weight for the busy limit, taken before the
        // table is locked (it walks the message).
        let remote = match &to {
            Dest::Pid(p) => p.node != *me,
            Dest::Name(_) => false,
            Dest::Remote(_, node) => node != me,
            Dest::Alias(r) => r.node != *me,
        };
        let charged = if remote {
            crate::dist::queue::message_weight(&msg)
        } else {
            0
        };
        self.with(|st, fx| {
            let (node, ctrl) = match to {
                Dest::Pid(p) if st.is_local(me, cr, &p) => {
                    st.deliver(&p, msg);
                    return Routed::Sent;
                }
                // A pid of an old incarnation of this node: dropped, as BEAM does.
                Dest::Pid(p) if p.node == *me => return Routed::Sent,
                Dest::Pid(p) => {
                    let from = (from.id != 0 || from.serial != 0).then(|| from.clone());
                    (p.node.clone(), Control::Send { from, to: p, msg })
                }
                Dest::Name(n) => {
                    if let Some(p) = st.names.get(&n) {
                        st.deliver(p, msg);
                    }
                    return Routed::Sent;
                }
                Dest::Remote(n, node) if node == *me => {
                    if let Some(p) = st.names.get(&n) {
                        st.deliver(p, msg);
                    }
                    return Routed::Sent;
                }
                Dest::Remote(name, node) => (
                    node,
                    Control::RegSend {
                        from: from.clone(),
                        name,
                        msg,
                    },
                ),
                Dest::Alias(r) if r.node == *me => {
                    if let Some(p) = st.aliases.get(&r) {
                        st.deliver(p, msg);
                    }
                    return Routed::Sent;
                }
                Dest::Alias(alias) => (
                    alias.node.clone(),
                    Control::AliasSend {
                        from: from.clone(),
                        alias,
                        msg,
                    },
                ),
            };
            match mode {
                SendMode::Force => {
                    st.send_remote_charged(&node, ctrl, charged, true, fx);
                    Routed::Sent
                }
                SendMode::Try { connect } => {
                    match st.try_send_remote(&node, ctrl, charged, connect, fx) {
                        Ok(true) => Routed::Sent,
                        Ok(false) => Routed::NotConnected,
                        Err(busy) => {
                            let (ctrl, wait) = *busy;
                            let (dest, msg) = dest_and_message(&node, ctrl);
                            Routed::Busy(node, dest, msg, wait)
                        }
                    }
                }
            }
        })
    }

    pub(crate) fn register(&self, name: &Atom, pid: &Pid) -> bool {
        self.lock().register(name, pid)
    }

    pub(crate) fn unregister(&self, name: &Atom) -> bool {
        self.lock().unregister(name)
    }

    pub(crate) fn set_trap_exit(&self, pid: &Pid, on: bool) -> bool {
        let mut st = self.lock();
        match st.procs.get_mut(&key(pid)) {
            Some(e) => std::mem::replace(&mut e.trap_exit, on),
            None => false,
        }
    }

    pub(crate) fn link(&self, a: &Pid, b: &Pid) {
        self.with(|st, fx| st.link(&self.name, self.creation, a, b, fx));
    }

    pub(crate) fn unlink(&self, a: &Pid, b: &Pid) {
        self.with(|st, fx| st.unlink(&self.name, self.creation, a, b, fx));
    }

    pub(crate) fn monitor(&self, watcher: &Pid, target: MonitorTarget) -> Reference {
        let r = self.ids.new_ref();
        let rr = r.clone();
        self.with(|st, fx| st.monitor(&self.name, self.creation, watcher, rr, target, fx));
        r
    }

    pub(crate) fn demonitor(&self, watcher: &Pid, r: &Reference) -> bool {
        self.with(|st, fx| st.demonitor(watcher, r, fx))
    }

    pub(crate) fn exit2(&self, from: &Pid, to: &Pid, reason: Term) {
        self.with(|st, fx| st.exit2(&self.name, self.creation, from, to, reason, fx));
    }

    pub(crate) fn terminate(&self, pid: &Pid, reason: Term) {
        self.with(|st, fx| st.terminate(&self.name, self.creation, pid, reason, fx));
    }

    pub(crate) fn add_alias(&self, pid: &Pid, alias: Reference) {
        let mut st = self.lock();
        if let Some(e) = st.procs.get_mut(&key(pid)) {
            e.aliases.push(alias.clone());
            st.aliases.insert(alias, pid.clone());
        }
    }

    pub(crate) fn remove_alias(&self, pid: &Pid, alias: &Reference) -> bool {
        let mut st = self.lock();
        if st.aliases.get(alias) != Some(pid) {
            return false;
        }
        st.aliases.remove(alias);
        if let Some(e) = st.procs.get_mut(&key(pid)) {
            e.aliases.retain(|a| a != alias);
        }
        true
    }

    pub(crate) fn monitor_nodes(&self, pid: &Pid, on: bool, hidden_too: bool, with_info: bool) {
        let mut st = self.lock();
        if on {
            st.node_monitors.push(NodeMonitor {
                pid: pid.clone(),
                hidden_too,
                with_info,
            });
        } else if let Some(i) = st
            .node_monitors
            .iter()
            .position(|m| m.pid == *pid && m.with_info == with_info)
        {
            st.node_monitors.remove(i);
        }
    }

    pub(crate) fn monitor_node(&self, pid: &Pid, node: &Atom) {
        self.with(|st, fx| {
            if !st.conns.contains_key(node) {
                tracing::debug!(node = %node.name, pid = ?pid, "auto-connect on monitor_node");
                let id = st.new_pending(node);
                fx.connects.push((node.clone(), id));
            }
            st.node_watch
                .entry(node.clone())
                .or_default()
                .push(pid.clone());
        });
    }
}

/// How [`Inner::route`] treats a busy or missing connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SendMode {
    /// Queue whatever the connection holds; connect if needed.
    Force,
    /// Refuse when the connection is busy; connect if needed only with
    /// `connect`.
    Try {
        /// Set up a missing connection (not `noconnect`).
        connect: bool,
    },
}

/// What [`Inner::route`] did.
pub(crate) enum Routed {
    /// Delivered, queued, or dropped as BEAM drops it (no such process).
    Sent,
    /// Not sent: the connection to this node is busy; the destination and
    /// the message back, and a way to wait until the connection is not.
    Busy(Atom, Dest, Term, crate::dist::queue::BusyWait),
    /// Not sent: no connection and `noconnect`.
    NotConnected,
}

/// The destination and message of a `SEND`/`REG_SEND`/`ALIAS_SEND` to
/// `node` (the send taken apart again, for a retry).
fn dest_and_message(node: &Atom, ctrl: Control) -> (Dest, Term) {
    match ctrl {
        Control::Send { to, msg, .. } => (Dest::Pid(to), msg),
        Control::RegSend { name, msg, .. } => (Dest::Remote(name, node.clone()), msg),
        Control::AliasSend { alias, msg, .. } => (Dest::Alias(alias), msg),
        // `route` only builds the three above.
        _ => (
            Dest::Name(Atom::from("undefined")),
            crate::term::atom("undefined"),
        ),
    }
}
