//! A Phoenix.PubSub client — mirrors `lib/phoenix/pubsub.ex` and its PG2
//! adapter `lib/phoenix/pubsub/pg2.ex` of phoenix_pubsub 2.2.0 on the
//! wire, so that a Rust node takes part in an Elixir application's
//! PubSub (say `MyApp.PubSub`) like one more Elixir node.
//!
//! What the PG2 adapter does, and this module with it:
//!
//! * The pg scope `Phoenix.PubSub` (started by the phoenix_pubsub
//!   application) holds, for a PubSub named `MyApp.PubSub` with pool size
//!   N, the groups `'Elixir.MyApp.PubSub.Adapter'`,
//!   `'Elixir.MyApp.PubSub.Adapter_2'` … `_N`. Each node runs one worker
//!   per group, registered under the group's name and member of it.
//! * `broadcast` picks one group of the broadcast pool (Elixir:
//!   `:erlang.phash2(self(), broadcast_pool_size)`; here a hash of the
//!   sending pid, so that one sender's broadcasts keep their order), sends
//!   `{forward_to_local, Topic, Message, Dispatcher}` to each member on
//!   another node, then delivers to this node's subscribers.
//! * A worker receiving `forward_to_local` delivers to its node's
//!   subscribers of `Topic` through `Dispatcher` (`Phoenix.PubSub`: send
//!   `Message` to every subscriber except the sender, if any).
//! * `direct_broadcast` sends `forward_to_local` to `{Group, Node}`.
//!
//! Subscribers are processes of this node; Elixir subscribers on other
//! nodes receive what Rust broadcasts, and Rust subscribers receive what
//! Elixir broadcasts, because both sides speak the same messages.
//!
//! ```no_run
//! # async fn demo(node: distro::runtime::Node, kernel: distro::kernel::Kernel) -> Result<(), Box<dyn std::error::Error>> {
//! use distro::phoenix_pubsub::{PubSub, PubSubConfig};
//! use distro::term::{atom, binary, tuple};
//! let pubsub = PubSub::start(&node, &kernel.pg, PubSubConfig::new("MyApp.PubSub")).await?;
//! let ps = pubsub.clone();
//! node.spawn(move |mut p| async move {
//!     ps.subscribe(p.pid(), "room:lobby").unwrap();
//!     let msg = p.recv().await; // whatever Phoenix.PubSub.broadcast/3 sent
//!     # let _ = msg;
//! });
//! pubsub.broadcast("room:lobby", tuple(vec![atom("new_msg"), binary(b"hi".to_vec())]))?;
//! # Ok(()) }
//! ```

use crate::term;
mod registry;
mod worker;

#[cfg(test)]
mod pubsub_test;

use crate::kernel::pg::{Pg, PgError, Scope};
use crate::runtime::{Dest, Node};
use crate::term::{Atom, Pid, Term, atom, binary};
use registry::Subscriptions;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};
use tokio::sync::mpsc;
use worker::Watch;

/// The pg scope of Phoenix.PubSub's PG2 adapter.
pub const SCOPE: &str = "Elixir.Phoenix.PubSub";
/// The default dispatcher module (`Phoenix.PubSub.dispatch/3`).
pub const DEFAULT_DISPATCHER: &str = "Elixir.Phoenix.PubSub";

/// Why a PubSub operation failed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PubSubError {
    /// The `Phoenix.PubSub` pg scope is not usable.
    #[error(transparent)]
    Pg(#[from] PgError),
    /// `pool_size` must be at least 1 and not below `broadcast_pool_size`.
    #[error(
        "the :pool_size option must be greater than or equal to the :broadcast_pool_size option (and at least 1)"
    )]
    PoolSize,
    /// A worker's name is already registered on this node.
    #[error("{0} is already registered on this node")]
    NameTaken(String),
    /// Only processes of this node subscribe here.
    #[error("{} is not a process of this node", crate::term::Pretty(&Term::Pid(.0.clone())))]
    NotLocal(Pid),
}

/// How to start a [`PubSub`]: the options of `{Phoenix.PubSub, name: …,
/// pool_size: …, broadcast_pool_size: …}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PubSubConfig {
    /// The PubSub's name as a BEAM atom (`Elixir.MyApp.PubSub`).
    pub name: String,
    /// `:pool_size` (default 1): must be the same on every node.
    pub pool_size: usize,
    /// `:broadcast_pool_size` (defaults to `pool_size`).
    pub broadcast_pool_size: usize,
}

impl PubSubConfig {
    /// A PubSub named `name`, pool size 1. An Elixir alias may be written
    /// as in Elixir (`MyApp.PubSub`, made `Elixir.MyApp.PubSub`); any other
    /// name is the atom's text (`my_pubsub` for `:my_pubsub`).
    pub fn new(name: &str) -> Self {
        let alias =
            !name.starts_with("Elixir.") && name.starts_with(|c: char| c.is_ascii_uppercase());
        Self {
            name: if alias {
                format!("Elixir.{name}")
            } else {
                name.to_owned()
            },
            pool_size: 1,
            broadcast_pool_size: 1,
        }
    }

    /// Sets `:pool_size` (and `:broadcast_pool_size` to the same).
    pub fn pool_size(mut self, n: usize) -> Self {
        self.pool_size = n;
        self.broadcast_pool_size = n;
        self
    }

    /// Sets `:broadcast_pool_size` (for changing the pool size of a
    /// running cluster, as phoenix_pubsub documents).
    pub fn broadcast_pool_size(mut self, n: usize) -> Self {
        self.broadcast_pool_size = n;
        self
    }

    /// `Module.concat(Name, "Adapter")`.
    pub fn adapter_name(&self) -> String {
        let bare = self.name.strip_prefix("Elixir.").unwrap_or(&self.name);
        format!("Elixir.{bare}.Adapter")
    }

    /// The first `n` group names: the adapter name, then `Adapter_2`…
    fn groups(&self, n: usize) -> Vec<Atom> {
        let adapter = self.adapter_name();
        (1..=n)
            .map(|i| {
                if i == 1 {
                    Atom::from(adapter.as_str())
                } else {
                    Atom::from(format!("{adapter}_{i}").as_str())
                }
            })
            .collect()
    }
}

/// A custom dispatcher: what a `Dispatcher` module's `dispatch/3` does
/// with the subscribers' entries `{Pid, Metadata}`, the sender (`:none` is
/// `None`) and the message.
pub trait Dispatcher: Send + Sync {
    /// Delivers `msg`.
    fn dispatch(&self, node: &Node, entries: &[(Pid, Term)], from: Option<&Pid>, msg: &Term);
}

/// What the workers, the watcher and the API share.
pub(crate) struct Shared {
    node: Node,
    subs: Mutex<Subscriptions>,
    dispatchers: RwLock<HashMap<String, Arc<dyn Dispatcher>>>,
}

impl Shared {
    fn lock(&self) -> std::sync::MutexGuard<'_, Subscriptions> {
        self.subs.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// `Registry.dispatch(pubsub, topic, {dispatcher, :dispatch, [from, message]})`.
    pub(crate) fn dispatch(&self, topic: &[u8], from: Option<&Pid>, msg: &Term, dispatcher: &str) {
        let entries = self.lock().entries(topic);
        if entries.is_empty() {
            return;
        }
        if dispatcher == DEFAULT_DISPATCHER {
            for pid in registry::default_recipients(&entries, from) {
                self.node.send(pid, msg.clone());
            }
            return;
        }
        let custom = self
            .dispatchers
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(dispatcher)
            .cloned();
        match custom {
            Some(d) => d.dispatch(&self.node, &entries, from, msg),
            None => tracing::warn!(
                "Phoenix.PubSub at node {}: no dispatcher {} for a broadcast on {:?}; dropped",
                self.node.name().name,
                dispatcher,
                String::from_utf8_lossy(topic)
            ),
        }
    }

    pub(crate) fn subscriber_exited(&self, pid: &Pid) {
        self.lock().remove_pid(pid);
    }
}

/// A running PubSub on this node (cheap to clone).
#[derive(Clone)]
pub struct PubSub {
    cfg: PubSubConfig,
    scope: Scope,
    groups: Vec<Atom>,
    workers: Vec<Pid>,
    shared: Arc<Shared>,
    watcher: mpsc::UnboundedSender<Watch>,
}

impl std::fmt::Debug for PubSub {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PubSub({})", self.cfg.name)
    }
}

fn forward(topic: &str, msg: Term, dispatcher: &str) -> Term {
    term!({forward_to_local, (binary(topic.as_bytes().to_vec())), (msg), (atom(dispatcher))})
}

impl PubSub {
    /// Starts the PubSub as `Phoenix.PubSub.Supervisor` with the PG2
    /// adapter does: the `Phoenix.PubSub` scope if not running yet, then
    /// one worker per pool slot, registered under its group's name, which
    /// joins its group (`PG2Worker.init/1`); from then on other nodes
    /// forward their broadcasts here.
    pub async fn start(node: &Node, pg: &Pg, cfg: PubSubConfig) -> Result<Self, PubSubError> {
        if cfg.pool_size == 0
            || cfg.broadcast_pool_size == 0
            || cfg.pool_size < cfg.broadcast_pool_size
        {
            return Err(PubSubError::PoolSize);
        }
        let scope = pg.scope_or_start(SCOPE)?;
        let shared = Arc::new(Shared {
            node: node.clone(),
            subs: Mutex::default(),
            dispatchers: RwLock::default(),
        });
        let mut workers = Vec::new();
        for group in cfg.groups(cfg.pool_size) {
            let started = match worker::start_worker(node, &group, shared.clone()) {
                Some(pid) => scope
                    .join(Term::Atom(group.clone()), std::slice::from_ref(&pid))
                    .await
                    .map(|()| pid)
                    .map_err(PubSubError::from),
                None => Err(PubSubError::NameTaken(group.name.clone())),
            };
            match started {
                Ok(pid) => workers.push(pid),
                Err(e) => {
                    // Like a supervisor failing to start a child: the
                    // workers started so far go (and leave their groups).
                    for pid in &workers {
                        node.exit(pid, atom("kill"));
                    }
                    return Err(e);
                }
            }
        }
        let watcher = worker::start_watcher(node, shared.clone());
        Ok(Self {
            groups: cfg.groups(cfg.broadcast_pool_size),
            cfg,
            scope,
            workers,
            shared,
            watcher,
        })
    }

    /// The configuration.
    pub fn config(&self) -> &PubSubConfig {
        &self.cfg
    }

    /// The workers' pids, one per group of the pool.
    pub fn workers(&self) -> &[Pid] {
        &self.workers
    }

    /// `Phoenix.PubSub.node_name/1`: this node.
    pub fn node_name(&self) -> &Atom {
        self.shared.node.name()
    }

    /// Adds a custom dispatcher, used for broadcasts that name it (the
    /// module atom, e.g. `Elixir.MyApp.Dispatcher`).
    pub fn register_dispatcher(&self, module: &str, d: Arc<dyn Dispatcher>) {
        self.shared
            .dispatchers
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .insert(module.to_owned(), d);
    }

    /// `Phoenix.PubSub.subscribe/2`: `pid` (of this node) receives the
    /// broadcasts on `topic` until it unsubscribes or exits.
    pub fn subscribe(&self, pid: &Pid, topic: &str) -> Result<(), PubSubError> {
        self.subscribe_with(pid, topic, atom("nil"))
    }

    /// `Phoenix.PubSub.subscribe/3` with `metadata:` (for custom dispatchers).
    pub fn subscribe_with(
        &self,
        pid: &Pid,
        topic: &str,
        metadata: Term,
    ) -> Result<(), PubSubError> {
        if pid.node != *self.shared.node.name() {
            return Err(PubSubError::NotLocal(pid.clone()));
        }
        if self
            .shared
            .lock()
            .subscribe(pid, topic.as_bytes(), metadata)
        {
            let _ = self.watcher.send(Watch::Add(pid.clone()));
        }
        Ok(())
    }

    /// `Phoenix.PubSub.unsubscribe/2`.
    pub fn unsubscribe(&self, pid: &Pid, topic: &str) {
        if self.shared.lock().unsubscribe(pid, topic.as_bytes()) {
            let _ = self.watcher.send(Watch::Remove(pid.clone()));
        }
    }

    /// The subscribers of `topic` on this node (once per subscription).
    pub fn subscribers(&self, topic: &str) -> Vec<Pid> {
        self.shared
            .lock()
            .entries(topic.as_bytes())
            .into_iter()
            .map(|(p, _)| p)
            .collect()
    }

    /// The topics `pid` is subscribed to.
    pub fn topics_of(&self, pid: &Pid) -> Vec<String> {
        self.shared
            .lock()
            .topics_of(pid)
            .into_iter()
            .map(|t| String::from_utf8_lossy(&t).into_owned())
            .collect()
    }

    /// `Phoenix.PubSub.broadcast/3`: every subscriber of `topic` on every
    /// node gets `msg`.
    pub fn broadcast(&self, topic: &str, msg: Term) -> Result<(), PubSubError> {
        self.broadcast_with(None, topic, msg, DEFAULT_DISPATCHER)
    }

    /// `Phoenix.PubSub.broadcast_from/4`: every subscriber but `from`.
    pub fn broadcast_from(&self, from: &Pid, topic: &str, msg: Term) -> Result<(), PubSubError> {
        self.broadcast_with(Some(from), topic, msg, DEFAULT_DISPATCHER)
    }

    /// `broadcast/4` / `broadcast_from/5` with a dispatcher module.
    pub fn broadcast_with(
        &self,
        from: Option<&Pid>,
        topic: &str,
        msg: Term,
        dispatcher: &str,
    ) -> Result<(), PubSubError> {
        if !self.scope.is_running() {
            return Err(PgError::NotRunning(SCOPE.to_owned()).into());
        }
        let group = self.group_for(from);
        let me = self.shared.node.name().clone();
        let remote: Vec<Pid> = self
            .scope
            .get_members(&Term::Atom(group))
            .into_iter()
            .filter(|p| p.node != me)
            .collect();
        if !remote.is_empty() {
            let fwd = forward(topic, msg.clone(), dispatcher);
            for pid in remote {
                self.shared.node.send(pid, fwd.clone());
            }
        }
        self.shared
            .dispatch(topic.as_bytes(), from, &msg, dispatcher);
        Ok(())
    }

    /// `Phoenix.PubSub.local_broadcast/3`: this node's subscribers only.
    pub fn local_broadcast(&self, topic: &str, msg: Term) {
        self.shared
            .dispatch(topic.as_bytes(), None, &msg, DEFAULT_DISPATCHER);
    }

    /// `Phoenix.PubSub.local_broadcast_from/4`.
    pub fn local_broadcast_from(&self, from: &Pid, topic: &str, msg: Term) {
        self.shared
            .dispatch(topic.as_bytes(), Some(from), &msg, DEFAULT_DISPATCHER);
    }

    /// `Phoenix.PubSub.direct_broadcast/4`: the subscribers on `node` only
    /// (through its worker, even when `node` is this one, as Elixir does).
    pub fn direct_broadcast(&self, node: &str, topic: &str, msg: Term) {
        self.direct_broadcast_with(node, topic, msg, DEFAULT_DISPATCHER);
    }

    /// `direct_broadcast/5` with a dispatcher module.
    pub fn direct_broadcast_with(&self, node: &str, topic: &str, msg: Term, dispatcher: &str) {
        let group = self.group_for(None);
        self.shared.node.send(
            Dest::Remote(group, Atom::from(node)),
            forward(topic, msg, dispatcher),
        );
    }

    /// The broadcast group for a sender: the same one for every broadcast
    /// of one sender, so that they arrive in order.
    fn group_for(&self, from: Option<&Pid>) -> Atom {
        let i = from.map_or(0, |p| {
            let h = u64::from(p.id)
                .wrapping_mul(0x9E37_79B9_7F4A_7C15)
                .wrapping_add(u64::from(p.serial));
            (h % self.groups.len() as u64) as usize
        });
        self.groups[i].clone()
    }
}
