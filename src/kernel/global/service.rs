//! The tokio driver of [`super::core::GlobalCore`] — the processes of
//! `lib/kernel/src/global.erl` (`global_name_server`, the locker, the
//! registrar and the short-lived `sync_other` / rpc helpers) as runtime
//! processes.
//!
//! ```text
//!  locker proc ──┐ mailbox          ┌── commands (send/monitor as the locker)
//!  registrar ────┤ (role, msg)      │
//!                ▼                  │
//!  global_name_server proc: owns the core; feeds mailbox, API requests,
//!  rpc results and timer expiry in; executes the outputs.
//! ```
//!
//! The locker and registrar are real processes so that BEAM nodes see real
//! pids as lock holders (and monitor them); they only move messages.

use super::core::{self, ApiRequest, GlobalCore, Input, Output, Role, Target};
use crate::runtime::{CallError, Dest, MonitorTarget, Node, Process};
use crate::term;
use crate::term::{Atom, Pid, Reference, Term, TermExt, atom};
use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};

/// What the driver's main loop receives besides the server's mailbox.
pub(crate) enum Event {
    /// A message that arrived at the locker or the registrar.
    Mail(Role, Term),
    /// A local API request.
    Api(ApiRequest, oneshot::Sender<Term>),
    /// The result of an rpc helper.
    RpcResult(u64, Term),
    /// A `sync_other` helper could not connect.
    SyncFailed(Atom),
}

/// A command for the locker or registrar process.
enum Cmd {
    Send(Dest, Term),
    Monitor(Reference, MonitorTarget),
    Demonitor(Reference),
}

/// What the API reads without asking the server (`whereis_name/1` is an
/// ETS lookup in OTP).
#[derive(Debug, Clone, Default)]
pub(crate) struct Snapshot {
    pub(crate) names: Vec<(Term, Pid)>,
    /// Resource → requester id.
    pub(crate) locks: Vec<(Term, Term)>,
    pub(crate) known: Vec<Atom>,
}

/// Handles to a running global.
pub(crate) struct Started {
    pub(crate) events: mpsc::UnboundedSender<Event>,
    pub(crate) snapshot: Arc<RwLock<Snapshot>>,
    pub(crate) server: Pid,
}

fn target(t: Target) -> MonitorTarget {
    match t {
        Target::Pid(p) => MonitorTarget::Pid(p),
        Target::Server(n) => MonitorTarget::Name(Atom::from("global_name_server"), n),
    }
}

fn helper(
    node: &Node,
    role: Role,
    tx: mpsc::UnboundedSender<Event>,
) -> (Pid, mpsc::UnboundedSender<Cmd>) {
    let (cmd_tx, mut cmd_rx) = mpsc::unbounded_channel::<Cmd>();
    let pid = node.spawn(move |mut p: Process| async move {
        p.trap_exit(true);
        loop {
            tokio::select! {
                m = p.recv() => {
                    if tx.send(Event::Mail(role, m)).is_err() {
                        return;
                    }
                }
                c = cmd_rx.recv() => match c {
                    Some(Cmd::Send(to, msg)) => p.send(to, msg),
                    Some(Cmd::Monitor(r, t)) => p.monitor_with_ref(r, t),
                    Some(Cmd::Demonitor(r)) => {
                        p.demonitor(&r, true);
                    }
                    None => return,
                },
            }
        }
    });
    (pid, cmd_tx)
}

/// Starts global on `node`.
pub(crate) fn start(node: &Node, mut cfg: super::Config) -> Started {
    let (tx, mut rx) = mpsc::unbounded_channel::<Event>();
    let (locker, locker_cmd) = helper(node, Role::Locker, tx.clone());
    let (registrar, registrar_cmd) = helper(node, Role::Registrar, tx.clone());
    let snapshot = Arc::new(RwLock::new(Snapshot::default()));
    let snap = snapshot.clone();
    let events = tx.clone();
    if cfg.rng_seed == 0 {
        cfg.rng_seed = node.inner.rng.next_u64() | 1;
    }
    let server = node.spawn(move |mut p: Process| async move {
        if p.register("global_name_server").is_err() {
            tracing::error!("global_name_server is already registered");
            return;
        }
        p.trap_exit(true);
        p.monitor_nodes(true, true);
        let node = p.node().clone();
        let ccfg = core::Config {
            node: node.name().clone(),
            creation: node.creation(),
            server: p.pid().clone(),
            locker,
            registrar,
            connect_all: cfg.connect_all,
            prevent_overlapping_partitions: cfg.prevent_overlapping_partitions,
            hostname: local_hostname(),
            rng_seed: cfg.rng_seed,
        };
        let refs = node.clone();
        let mut core = GlobalCore::new(ccfg, now(), Box::new(move || refs.make_ref()));
        let mut d = Driver {
            node,
            tx,
            locker_cmd,
            registrar_cmd,
            api: HashMap::new(),
            next_token: 1,
            snap,
            version: u64::MAX,
        };
        // Nodes connected before global started (init/1 reads nodes(visible, ...)).
        for n in d.node.nodes() {
            let msg = term!({nodeup, (Term::Atom(n)), (crate::term::map(vec![]))});
            core.handle(now(), Input::Message { to: Role::Server, msg });
        }
        loop {
            d.drain(&mut core, &mut p);
            let deadline = core.poll_timeout();
            tokio::select! {
                m = p.recv() => {
                    tracing::trace!(msg = %crate::term::Pretty(&m), "global_name_server <-");
                    core.handle(now(), Input::Message { to: Role::Server, msg: m })
                }
                ev = rx.recv() => match ev {
                    Some(Event::Mail(role, msg)) => {
                        tracing::trace!(?role, msg = %crate::term::Pretty(&msg), "global <-");
                        core.handle(now(), Input::Message { to: role, msg })
                    }
                    Some(Event::Api(req, reply)) => {
                        let token = d.next_token;
                        d.next_token += 1;
                        d.api.insert(token, reply);
                        core.handle(now(), Input::Api { token, request: req });
                    }
                    Some(Event::RpcResult(token, result)) => core.handle(now(), Input::RpcResult { token, result }),
                    Some(Event::SyncFailed(node)) => core.handle(now(), Input::SyncOtherFailed { node }),
                    None => return,
                },
                _ = sleep_until(deadline) => core.handle_timeout(now()),
            }
        }
    });
    Started {
        events,
        snapshot,
        server,
    }
}

fn now() -> std::time::Instant {
    tokio::time::Instant::now().into_std()
}

async fn sleep_until(t: Option<std::time::Instant>) {
    match t {
        Some(t) => tokio::time::sleep_until(tokio::time::Instant::from_std(t)).await,
        None => std::future::pending().await,
    }
}

fn local_hostname() -> String {
    let mut buf = [0u8; 256];
    // SAFETY: buf is valid for writes of its length; gethostname NUL-terminates on success.
    let r = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) };
    if r != 0 {
        return String::new();
    }
    let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
    String::from_utf8_lossy(&buf[..end]).into_owned()
}

struct Driver {
    node: Node,
    tx: mpsc::UnboundedSender<Event>,
    locker_cmd: mpsc::UnboundedSender<Cmd>,
    registrar_cmd: mpsc::UnboundedSender<Cmd>,
    api: HashMap<u64, oneshot::Sender<Term>>,
    next_token: u64,
    snap: Arc<RwLock<Snapshot>>,
    version: u64,
}

impl Driver {
    fn helper_cmd(&self, role: Role, c: Cmd) {
        let _ = match role {
            Role::Locker => self.locker_cmd.send(c),
            Role::Registrar => self.registrar_cmd.send(c),
            Role::Server => Ok(()),
        };
    }

    fn send(&self, p: &Process, from: Role, to: Dest, msg: Term) {
        match from {
            Role::Server => p.send(to, msg),
            r => self.helper_cmd(r, Cmd::Send(to, msg)),
        }
    }

    fn drain(&mut self, core: &mut GlobalCore, p: &mut Process) {
        // Publish the new state before acting on the outputs: an output may
        // answer an API call (register_name → true), and its caller may at
        // once ask whereis_name, locally or over rpc, which reads the
        // snapshot. (Outputs only act outside the core, so the state cannot
        // change while they run.)
        if core.version() != self.version {
            self.version = core.version();
            let s = Snapshot {
                names: core.registered(),
                locks: core.locks().into_iter().map(|(r, q, _)| (r, q)).collect(),
                known: core.known(),
            };
            if let Ok(mut w) = self.snap.write() {
                *w = s;
            }
        }
        while let Some(o) = core.poll_output() {
            self.execute(o, p);
        }
    }

    fn execute(&mut self, o: Output, p: &mut Process) {
        tracing::trace!(output = ?o, "global output");
        match o {
            Output::Send { from, to, msg } => self.send(p, from, to, msg),
            Output::SendNoConnect { from, node, msg } => {
                if self.node.nodes().contains(&node) {
                    self.send(
                        p,
                        from,
                        Dest::Remote(Atom::from("global_name_server"), node),
                        msg,
                    );
                }
            }
            Output::Monitor {
                role: Role::Server,
                target: t,
                reference,
            } => p.monitor_with_ref(reference, target(t)),
            Output::Monitor {
                role,
                target: t,
                reference,
            } => self.helper_cmd(role, Cmd::Monitor(reference, target(t))),
            Output::Demonitor {
                role: Role::Server,
                reference,
            } => {
                p.demonitor(&reference, true);
            }
            Output::Demonitor { role, reference } => {
                self.helper_cmd(role, Cmd::Demonitor(reference))
            }
            Output::Reply { from, reply } => p.reply(&from, reply),
            Output::ApiReply { token, reply } => {
                if let Some(tx) = self.api.remove(&token) {
                    let _ = tx.send(reply);
                }
            }
            Output::SyncOther { node, msg } => self.sync_other(node, msg),
            Output::MonitorNode { node } => p.monitor_node(&node.name),
            // global uses net_kernel:async_disconnect/1: what it sent to
            // the node before (a lost_connection) still goes out.
            Output::Disconnect { node } => {
                self.node.async_disconnect(&node.name);
            }
            Output::Kill { pid } => p.exit(&pid, atom("kill")),
            Output::Rpc {
                token,
                node,
                module,
                function,
                args,
            } => {
                let tx = self.tx.clone();
                self.node.spawn(move |mut h: Process| async move {
                    let result = rpc_call(&mut h, &node, module, function, args).await;
                    let _ = tx.send(Event::RpcResult(token, result));
                });
            }
        }
    }

    /// `sync_other/2`: connect, then `in_sync`; `extra_nodedown` if the
    /// connection cannot be made. Only the connection attempt counts: a
    /// nodedown after the connection came up is an ordinary nodedown
    /// (OTP's `sync_other/2` checks for one with `after 0` once
    /// `monitor_node/3` returned, and then ends).
    fn sync_other(&self, node: Atom, msg: Term) {
        let tx = self.tx.clone();
        self.node.spawn(move |mut h: Process| async move {
            if connect(&mut h, &node).await {
                h.send(
                    Dest::Remote(Atom::from("global_name_server"), node.clone()),
                    msg,
                );
            } else {
                let _ = tx.send(Event::SyncFailed(node));
            }
        });
    }
}

/// Longest wait for a connection attempt to end either way; attempts fail
/// by themselves long before (`net_setuptime`).
const CONNECT_LIMIT: Duration = Duration::from_secs(60);

/// `erlang:monitor_node(Node, true, [allow_passive_connect])` as
/// `sync_other/2` uses it: returns once `node` is connected (`true`) or the
/// attempt to connect failed (`false`).
pub(crate) async fn connect(h: &mut Process, node: &Atom) -> bool {
    h.monitor_nodes(true, false);
    h.monitor_node(&node.name);
    if h.node().nodes().contains(node) {
        return true;
    }
    let this = Term::Atom(node.clone());
    let m = h
        .receive_timeout(CONNECT_LIMIT, |m| {
            matches!(m.tuple_tag(), Some("nodeup" | "nodedown")) && m.elem(1) == Some(&this)
        })
        .await;
    m.is_some_and(|m| m.tuple_tag() == Some("nodeup"))
}

/// `rpc:call(Node, M, F, A)` through the `rex` server (`{call, M, F, A, GL}`,
/// which OTP 25–29 still serve), with `rpc:call`'s `{badrpc, _}` results.
pub(crate) async fn rpc_call(
    h: &mut Process,
    node: &Atom,
    m: Atom,
    f: Atom,
    args: Vec<Term>,
) -> Term {
    let req = term!({call, (Term::Atom(m)), (Term::Atom(f)), (crate::term::list(args)), (Term::Pid(h.pid().clone()))});
    match h
        .call(
            Dest::Remote(Atom::from("rex"), node.clone()),
            req,
            Duration::from_secs(60),
        )
        .await
    {
        Ok(v) => v,
        Err(CallError::Timeout) => term!({badrpc, timeout}),
        Err(CallError::Exit(r)) if r.tuple_tag() == Some("nodedown") => {
            term!({badrpc, nodedown})
        }
        Err(CallError::Exit(r)) => term!({badrpc, {EXIT, (r)}}),
    }
}
