//! `global` — mirrors `lib/kernel/src/global.erl` (protocol vsn 8, OTP 25–29):
//! global names, global locks and the fully connected network, wire
//! compatible with BEAM nodes.
//!
//! * [`core`]: the sans-IO state machine (server + locker + registrar).
//! * `service`: its tokio driver (real processes, so BEAM sees real pids).
//! * [`Global`]: the API, one method per `global` function.
//!
//! ```no_run
//! # async fn demo(node: distro::runtime::Node, kernel: distro::kernel::Kernel) {
//! use distro::kernel::global::LockId;
//! use distro::term::atom;
//! let g = kernel.global.clone();
//! let pid = node.spawn(|mut p| async move { let _ = p.recv().await; });
//! assert!(g.register_name(atom("my_server"), &pid).await.unwrap());
//! assert_eq!(g.whereis_name(&atom("my_server")), Some(pid));
//! node.spawn(move |mut p| async move {
//!     let id = LockId::new(atom("my_resource"), crate_pid(&p));
//!     let r = g.trans(&mut p, &id, None, None, || async { 42 }).await;
//!     assert_eq!(r, Some(42));
//! });
//! # fn crate_pid(p: &distro::runtime::Process) -> distro::term::Term { distro::term::Term::Pid(p.pid().clone()) }
//! # }
//! ```

use crate::term;
pub mod core;
mod service;
#[cfg(test)]
mod service_test;

pub use self::core::Method;

use crate::kernel::rex;
use crate::runtime::{Node, Process};
use crate::term::{Atom, Pid, Term, TermExt, atom};
use service::{Event, Snapshot};
use std::sync::{Arc, RwLock};
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};

/// Kernel parameters of global.
#[derive(Debug, Clone)]
pub struct Config {
    /// `connect_all` (`-connect_all false` disables the full mesh and the connect-sync).
    pub connect_all: bool,
    /// `prevent_overlapping_partitions` (default `true`, as since OTP 25).
    pub prevent_overlapping_partitions: bool,
    /// Seed of global's own generator (0: drawn from the node's,
    /// [`crate::rng`]).
    pub rng_seed: u64,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            connect_all: true,
            prevent_overlapping_partitions: true,
            rng_seed: 0,
        }
    }
}

/// Why a global operation failed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum GlobalError {
    /// The `global_name_server` of this node is gone.
    #[error("global_name_server is not running")]
    NotRunning,
    /// `global:send/2` to a name nobody holds: `exit({badarg, {Name, Msg}})`.
    #[error("badarg: {} is not a registered global name", crate::term::Pretty(.0))]
    NotRegistered(Term),
}

/// A lock id `{ResourceId, LockRequesterId}` (`global:id()`).
#[derive(Debug, Clone, PartialEq)]
pub struct LockId {
    /// The resource.
    pub resource: Term,
    /// The requester: holders with the same requester share the lock.
    pub requester: Term,
}

impl LockId {
    /// `{Resource, Requester}`.
    pub fn new(resource: Term, requester: Term) -> Self {
        Self {
            resource,
            requester,
        }
    }

    /// The lock id as it travels.
    pub fn to_term(&self) -> Term {
        term!({(self.resource.clone()), (self.requester.clone())})
    }
}

/// A handle to this node's global (cheap to clone).
#[derive(Clone)]
pub struct Global {
    node: Node,
    events: mpsc::UnboundedSender<Event>,
    snapshot: Arc<RwLock<Snapshot>>,
    server: Pid,
}

impl std::fmt::Debug for Global {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Global({})", self.node.name().name)
    }
}

/// Starts global on `node` (`global:start_link/0` under kernel_sup) and
/// serves `global:resolve_it/4`, `global:whereis_name/1` and
/// `global:registered_names/0` over rpc.
pub fn start(node: &Node, cfg: Config, rpc: &rex::Registry) -> Global {
    let s = service::start(node, cfg);
    rpc.register_sync("global", "resolve_it", 4, |node, args| {
        let [method, name, Term::Pid(p1), Term::Pid(p2)] = args else {
            // resolve_it/4 catches the badfun: the caller gets {'EXIT', ...}.
            return Ok(term!({EXIT, badarg}));
        };
        let out = core::resolve_it(method, name, p1, p2);
        for e in out.effects {
            match e {
                core::ResolveEffect::Kill(pid) => node.exit(&pid, atom("kill")),
                core::ResolveEffect::Send(pid, msg) => node.send(pid, msg),
            }
        }
        Ok(out.result)
    });
    let global = Global {
        node: node.clone(),
        events: s.events,
        snapshot: s.snapshot,
        server: s.server,
    };
    let g = global.clone();
    rpc.register_sync("global", "whereis_name", 1, move |_, args| match args {
        [name] => Ok(g
            .whereis_name(name)
            .map_or_else(|| atom("undefined"), Term::Pid)),
        _ => Err(rex::Exception::badarg()),
    });
    let g = global.clone();
    rpc.register_sync("global", "registered_names", 0, move |_, _| {
        Ok(crate::term::list(g.registered_names()))
    });
    global
}

impl Global {
    /// The pid of `global_name_server`.
    pub fn server(&self) -> &Pid {
        &self.server
    }

    async fn api(&self, req: core::ApiRequest) -> Result<Term, GlobalError> {
        let (tx, rx) = oneshot::channel();
        self.events
            .send(Event::Api(req, tx))
            .map_err(|_| GlobalError::NotRunning)?;
        rx.await.map_err(|_| GlobalError::NotRunning)
    }

    /// `global:register_name(Name, Pid)`: `true` for `yes`. The method is
    /// `fun global:random_exit_name/3`.
    pub async fn register_name(&self, name: Term, pid: &Pid) -> Result<bool, GlobalError> {
        self.register_name_with(name, pid, Method::RandomExit.to_fun())
            .await
    }

    /// `global:register_name(Name, Pid, Resolve)` with any resolve fun term
    /// (see [`Method::to_fun`]).
    pub async fn register_name_with(
        &self,
        name: Term,
        pid: &Pid,
        method: Term,
    ) -> Result<bool, GlobalError> {
        let r = self
            .api(core::ApiRequest::Register {
                name,
                pid: pid.clone(),
                method,
            })
            .await?;
        Ok(r.as_atom() == Some("yes"))
    }

    /// `global:re_register_name(Name, Pid, Resolve)`.
    pub async fn re_register_name(
        &self,
        name: Term,
        pid: &Pid,
        method: Term,
    ) -> Result<(), GlobalError> {
        self.api(core::ApiRequest::ReRegister {
            name,
            pid: pid.clone(),
            method,
        })
        .await
        .map(|_| ())
    }

    /// `global:unregister_name(Name)`.
    pub async fn unregister_name(&self, name: Term) -> Result<(), GlobalError> {
        self.api(core::ApiRequest::Unregister { name })
            .await
            .map(|_| ())
    }

    /// `global:whereis_name(Name)`: a lookup in this node's table, no
    /// traffic; a dead local pid is `None`, as `where/1` does.
    pub fn whereis_name(&self, name: &Term) -> Option<Pid> {
        let s = self.snapshot.read().ok()?;
        let pid = s
            .names
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, p)| p.clone())?;
        if pid.node == *self.node.name() && !self.node.is_process_alive(&pid) {
            return None;
        }
        Some(pid)
    }

    /// `global:registered_names()`.
    pub fn registered_names(&self) -> Vec<Term> {
        self.snapshot
            .read()
            .map(|s| s.names.iter().map(|(n, _)| n.clone()).collect())
            .unwrap_or_default()
    }

    /// Nodes global knows (`gen_server:call(global_name_server, get_known)`).
    pub fn known(&self) -> Vec<Atom> {
        self.snapshot
            .read()
            .map(|s| s.known.clone())
            .unwrap_or_default()
    }

    /// The locks set on this node, as resource and requester id
    /// (`ets:tab2list(global_locks)`), including the `{global, Lockers}`
    /// lock that two lockers hold while they exchange names.
    pub fn locks(&self) -> Vec<(Term, Term)> {
        self.snapshot
            .read()
            .map(|s| s.locks.clone())
            .unwrap_or_default()
    }

    /// `global:send(Name, Msg)`: sends from the node and returns the pid.
    pub fn send(&self, name: &Term, msg: Term) -> Result<Pid, GlobalError> {
        let pid = self
            .whereis_name(name)
            .ok_or_else(|| GlobalError::NotRegistered(name.clone()))?;
        self.node.send(&pid, msg);
        Ok(pid)
    }

    /// `global:sync()`: returns once global is in sync with every node in `nodes()`.
    pub async fn sync(&self) -> Result<(), GlobalError> {
        self.api(core::ApiRequest::Sync { nodes: None })
            .await
            .map(|_| ())
    }

    /// `global:sync(Nodes)`.
    pub async fn sync_nodes(&self, nodes: Vec<Atom>) -> Result<(), GlobalError> {
        self.api(core::ApiRequest::Sync { nodes: Some(nodes) })
            .await
            .map(|_| ())
    }

    fn default_nodes(&self) -> Vec<Atom> {
        let mut v = vec![self.node.name().clone()];
        v.extend(self.node.nodes());
        v
    }

    /// `global:set_lock(Id, Nodes, Retries)` run by `proc`, which becomes
    /// the holder (the lock goes when it exits). `nodes: None` is `[node() |
    /// nodes()]`; `retries: None` is `infinity`. Back-off between attempts
    /// is OTP's `random_sleep/1`.
    pub async fn set_lock(
        &self,
        proc: &mut Process,
        id: &LockId,
        nodes: Option<&[Atom]>,
        retries: Option<u32>,
    ) -> bool {
        let nodes = nodes
            .map(<[Atom]>::to_vec)
            .unwrap_or_else(|| self.default_nodes());
        if nodes.is_empty() {
            return true;
        }
        let mut retries = retries;
        let mut times: u32 = 1;
        loop {
            if self.set_lock_on_nodes(proc, id, &nodes).await {
                return true;
            }
            match retries {
                Some(0) => return false,
                Some(n) => retries = Some(n - 1),
                None => {}
            }
            let t = self.node.inner.rng.uniform(core::random_sleep_max(times));
            tokio::time::sleep(Duration::from_millis(t)).await;
            times += 1;
        }
    }

    /// `set_lock_on_nodes/2` with `local_lock_check/2` and `check_replies/3`.
    async fn set_lock_on_nodes(&self, proc: &mut Process, id: &LockId, nodes: &[Atom]) -> bool {
        let me = self.node.name();
        if nodes.len() > 1 && nodes.contains(me) {
            let free = self.snapshot.read().is_ok_and(|s| {
                s.locks
                    .iter()
                    .all(|(r, q)| *r != id.resource || *q == id.requester)
            });
            if !free {
                return false;
            }
        }
        let req = term!({set_lock, (id.to_term())});
        let (replies, _bad) = multi_call(proc, nodes, req).await;
        match core::check_replies(&replies) {
            Ok(()) => true,
            Err(trues) => {
                if !trues.is_empty() {
                    let req = term!({del_lock, (id.to_term())});
                    multi_call(proc, &trues, req).await;
                }
                false
            }
        }
    }

    /// `global:del_lock(Id, Nodes)` (`None`: `[node() | nodes()]`).
    pub async fn del_lock(&self, proc: &mut Process, id: &LockId, nodes: Option<&[Atom]>) {
        let nodes = nodes
            .map(<[Atom]>::to_vec)
            .unwrap_or_else(|| self.default_nodes());
        let req = term!({del_lock, (id.to_term())});
        multi_call(proc, &nodes, req).await;
    }

    /// `global:trans(Id, Fun, Nodes, Retries)`: `None` for `aborted`.
    pub async fn trans<F, Fut, T>(
        &self,
        proc: &mut Process,
        id: &LockId,
        nodes: Option<&[Atom]>,
        retries: Option<u32>,
        f: F,
    ) -> Option<T>
    where
        F: FnOnce() -> Fut,
        Fut: std::future::Future<Output = T>,
    {
        let nodes = nodes
            .map(<[Atom]>::to_vec)
            .unwrap_or_else(|| self.default_nodes());
        if !self.set_lock(proc, id, Some(&nodes), retries).await {
            return None;
        }
        let r = f().await;
        self.del_lock(proc, id, Some(&nodes)).await;
        Some(r)
    }
}

/// `gen_server:multi_call(Nodes, global_name_server, Req, infinity)`, as
/// global.erl's lock client calls it: `(replies, bad nodes)`.
async fn multi_call(
    proc: &mut Process,
    nodes: &[Atom],
    req: Term,
) -> (Vec<(Atom, Term)>, Vec<Atom>) {
    crate::behaviours::gen_server::multi_call(
        proc,
        nodes,
        "global_name_server",
        req,
        crate::behaviours::Timeout::Infinity,
    )
    .await
}

/// `{global, Name}` for gen_server: `ServerName::via(global, Name)` /
/// `ServerRef::via(global, Name)` (OTP's `{via, global, Name}`).
impl crate::behaviours::gen_server::NameRegistry for Global {
    fn module(&self) -> Atom {
        Atom::from("global")
    }

    fn register_name(&self, name: Term, pid: Pid) -> futures::future::BoxFuture<'static, bool> {
        let g = self.clone();
        Box::pin(async move { g.register_name(name, &pid).await.unwrap_or(false) })
    }

    /// `global:re_register_name/2`: the default resolver
    /// (`random_exit_name`) settles a clash.
    fn re_register_name(&self, name: Term, pid: Pid) -> futures::future::BoxFuture<'static, bool> {
        let g = self.clone();
        Box::pin(async move {
            let method = Method::RandomExit.to_fun();
            g.re_register_name(name, &pid, method).await.is_ok()
        })
    }

    fn unregister_name(&self, name: Term) -> futures::future::BoxFuture<'static, ()> {
        let g = self.clone();
        Box::pin(async move {
            let _ = g.unregister_name(name).await;
        })
    }

    fn whereis_name(&self, name: &Term) -> Option<Pid> {
        Self::whereis_name(self, name)
    }
}
