//! `supervisor` — mirrors `lib/stdlib/src/supervisor.erl`: a process that
//! starts children in order, restarts them by its strategy
//! (`one_for_one`, `one_for_all`, `rest_for_one`, `simple_one_for_one`)
//! within a restart intensity (default 1 restart in 5 s; beyond it the
//! supervisor shuts down with `shutdown`), and stops them in reverse order.
//!
//! ```text
//!  SupSpec (flags + ChildSpecs) ──start_link──► supervisor process (server.rs, a GenServer)
//!                                                 │  traps exits; children linked to it
//!   {'EXIT', Child, Reason} ─────────────────────►│ core.rs (sans-IO): restart? which? intensity?
//!   which_children / count_children / start_child │   └─► Cmd::Start / Stop / Report / Exit
//!   terminate_child / restart_child / delete_child│ server.rs runs them: start fns, shutdown/1
//!   get_childspec (gen_server calls, from BEAM too)
//! ```
//!
//! As in OTP the supervisor is a gen_server, so it answers the `sys`
//! protocol, and its `sys:get_state/1` is OTP's `#state{}` record;
//! `supervisor:which_children({Name, RustNode})` from a BEAM node works as
//! toward a BEAM supervisor, and so do the other calls.
//!
//! A child's start function is Rust ([`StartFn`], usually
//! [`ChildSpec::gen_server`]); its `{M, F, A}` is what BEAM tools show. A
//! child spec sent by a BEAM node (`supervisor:start_child(Sup, Spec)`) is
//! checked as OTP checks it and started with the start function the
//! supervisor knows for its `{M, F}` (from its own child specs, or
//! [`SupSpec::code`]); an unknown one fails as an undefined function does
//! on BEAM (`{error, {{'EXIT', {undef, …}}, Child}}`).
//!
//! ```
//! use distro::behaviours::gen_server::{CallReply, GenFrom, GenServer, ServerName};
//! use distro::behaviours::supervisor::{self, ChildSpec, Mfa, SupSpec, Strategy};
//! use distro::runtime::{Node, Process};
//! use distro::term::{Term, atom};
//!
//! struct Echo;
//! impl GenServer for Echo {
//!     async fn handle_call(&mut self, req: Term, _f: GenFrom, _p: &mut Process) -> CallReply {
//!         CallReply::Reply(req)
//!     }
//! }
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! let node = Node::local("demo@localhost");
//! let spec = SupSpec::new("demo_sup")
//!     .strategy(Strategy::OneForOne)
//!     .intensity(3)
//!     .period(5)
//!     .child(ChildSpec::gen_server(
//!         atom("echo"),
//!         Mfa::new("echo", "start_link", vec![]),
//!         Some(ServerName::local("echo")),
//!         |_args| Echo,
//!     ));
//! let sup = supervisor::start(&node, Some(ServerName::local("demo_sup")), spec).await.unwrap();
//! assert!(node.whereis("echo").is_some());
//! # let _ = sup;
//! # }
//! ```
//!
//! Differences from OTP, for robustness against network input: a call the
//! supervisor does not know, and `start_child(Sup, ExtraArgs)` with
//! `ExtraArgs` not a list, are answered `{error, …}` instead of crashing
//! the supervisor. Not supported: `code_change`.

use crate::term;
mod core;
mod report;
mod server;
mod spec;

#[cfg(test)]
mod core_test;
#[cfg(test)]
mod supervisor_test;

pub use self::core::{ChildPid, StartOutcome};
pub use spec::{
    AutoShutdown, ChildData, ChildType, Mfa, Modules, Restart, Shutdown, Strategy, SupFlags,
};

use super::Timeout;
use super::gen_server::{self, CallExit, GenServer, ServerName, ServerRef, StartError};
use crate::runtime::{Node, Process};
use crate::term::{Atom, Pid, Term, atom};
use futures::future::BoxFuture;
use std::sync::Arc;

/// A child's start function: runs in the supervisor's process (link the
/// child to it, e.g. with [`gen_server::start_link`]) with the arguments
/// of the child's `{M, F, A}` (for `simple_one_for_one`, followed by the
/// extra arguments of `start_child`).
pub type StartFn =
    Arc<dyn for<'a> Fn(&'a Process, Vec<Term>) -> BoxFuture<'a, StartOutcome> + Send + Sync>;

/// Makes a [`StartFn`] from a closure.
pub fn start_fn<F>(f: F) -> StartFn
where
    F: for<'a> Fn(&'a Process, Vec<Term>) -> BoxFuture<'a, StartOutcome> + Send + Sync + 'static,
{
    Arc::new(f)
}

/// What [`gen_server::start_link`] returned, as a child start result:
/// `{ok, Pid}`, `ignore` (`init` returned `ignore`), `{error, Reason}`.
pub fn start_outcome(r: Result<Pid, StartError>) -> StartOutcome {
    match r {
        Ok(p) => StartOutcome::Ok(p),
        Err(StartError::Ignore) => StartOutcome::Ignore,
        Err(StartError::Init(reason)) => StartOutcome::Error(reason),
        Err(StartError::AlreadyStarted(p)) => {
            StartOutcome::Error(term!({already_started, (Term::Pid(p))}))
        }
        Err(StartError::Died) => StartOutcome::Error(atom("killed")),
    }
}

/// A child specification: its description and its start function.
#[derive(Clone)]
pub struct ChildSpec {
    /// `id`, `start`, `restart`, `shutdown`, `type`, `modules`.
    pub data: ChildData,
    /// What starts it.
    pub start: StartFn,
}

impl std::fmt::Debug for ChildSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChildSpec")
            .field("data", &self.data)
            .finish()
    }
}

impl ChildSpec {
    /// A worker (OTP's defaults: `permanent`, `shutdown => 5000`, `modules
    /// => [M]`) started by `start`.
    pub fn new(id: Term, mfa: Mfa, start: StartFn) -> Self {
        Self {
            data: ChildData::worker(id, mfa),
            start,
        }
    }

    /// A worker that is a [`GenServer`]: `make` builds the server from the
    /// start arguments, which is then [`gen_server::start_link`]ed under
    /// `name`.
    pub fn gen_server<S, M>(id: Term, mfa: Mfa, name: Option<ServerName>, make: M) -> Self
    where
        S: GenServer,
        M: Fn(&[Term]) -> S + Send + Sync + 'static,
    {
        let make = Arc::new(make);
        let start = start_fn(move |p, args| {
            let server = make(&args);
            let name = name.clone();
            Box::pin(async move { start_outcome(gen_server::start_link(p, name, server).await) })
        });
        Self::new(id, mfa, start)
    }

    /// [`ChildSpec::gen_server`] with the MFA it reports (in
    /// `which_children`, `get_childspec`) made from the id: `{Id,
    /// start_link, []}` for an atom id, else `{gen_server, start_link, []}`.
    pub fn server<S, M>(id: Term, name: impl Into<Option<ServerName>>, make: M) -> Self
    where
        S: GenServer,
        M: Fn(&[Term]) -> S + Send + Sync + 'static,
    {
        let name = name.into();
        let module = crate::term::TermExt::as_atom(&id)
            .unwrap_or("gen_server")
            .to_owned();
        Self::gen_server(id, Mfa::new(&module, "start_link", vec![]), name, make)
    }

    /// A child that is a supervisor (`type => supervisor`, `shutdown =>
    /// infinity`): `make` builds its spec from the start arguments.
    pub fn supervisor<M>(id: Term, mfa: Mfa, name: Option<ServerName>, make: M) -> Self
    where
        M: Fn(&[Term]) -> SupSpec + Send + Sync + 'static,
    {
        let make = Arc::new(make);
        let start = start_fn(move |p, args| {
            let spec = make(&args);
            let name = name.clone();
            Box::pin(async move { start_outcome(start_link(p, name, spec).await) })
        });
        let mut c = Self::new(id, mfa, start);
        c.data.child_type = ChildType::Supervisor;
        c.data.shutdown = Shutdown::Infinity;
        c
    }

    /// `restart`.
    pub fn restart(mut self, r: Restart) -> Self {
        self.data.restart = r;
        self
    }

    /// `shutdown`.
    pub fn shutdown(mut self, s: Shutdown) -> Self {
        self.data.shutdown = s;
        self
    }

    /// `type`.
    pub fn child_type(mut self, t: ChildType) -> Self {
        self.data.child_type = t;
        self
    }

    /// `modules`.
    pub fn modules(mut self, m: Modules) -> Self {
        self.data.modules = m;
        self
    }

    /// `significant` (with `auto_shutdown` other than `never`).
    pub fn significant(mut self, s: bool) -> Self {
        self.data.significant = s;
        self
    }
}

/// What `Module:init/1` of a supervisor returns: the flags and the child
/// specs, with the callback module's name (what `sys:get_status/1` and
/// `'$initial_call'` show) and the code a BEAM node's child specs may name.
#[derive(Clone, Debug)]
pub struct SupSpec {
    /// The callback module, e.g. `myapp_sup` (Elixir's `Supervisor.start_link/2`
    /// uses `'Elixir.Supervisor.Default'`).
    pub module: Atom,
    /// The `Args` of `init/1` (shown in the state).
    pub args: Term,
    /// `SupFlags`.
    pub flags: SupFlags,
    /// The children, in start order (for `simple_one_for_one`, the one
    /// template).
    pub children: Vec<ChildSpec>,
    /// Extra start functions by `{Module, Function}`, for child specs sent
    /// by peers.
    pub code: Vec<(Atom, Atom, CodeFn)>,
}

/// A start function known by `{Module, Function}` (see [`SupSpec::code`]).
#[derive(Clone)]
pub struct CodeFn(pub StartFn);

impl std::fmt::Debug for CodeFn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CodeFn")
    }
}

impl SupSpec {
    /// OTP's default flags (`one_for_one`, 1 restart in 5 s), no children.
    pub fn new(module: &str) -> Self {
        Self {
            module: Atom::from(module),
            args: crate::term::nil(),
            flags: SupFlags::default(),
            children: Vec::new(),
            code: Vec::new(),
        }
    }

    /// `strategy`.
    pub fn strategy(mut self, s: Strategy) -> Self {
        self.flags.strategy = s;
        self
    }

    /// `intensity`.
    pub fn intensity(mut self, n: u32) -> Self {
        self.flags.intensity = n;
        self
    }

    /// `period`, in seconds (0 counts as 1, OTP's minimum).
    pub fn period(mut self, secs: u32) -> Self {
        self.flags.period = secs.max(1);
        self
    }

    /// `auto_shutdown`.
    pub fn auto_shutdown(mut self, a: AutoShutdown) -> Self {
        self.flags.auto_shutdown = a;
        self
    }

    /// The `Args` of `init/1`.
    pub fn args(mut self, args: Term) -> Self {
        self.args = args;
        self
    }

    /// Adds a child (started after those added before).
    pub fn child(mut self, c: ChildSpec) -> Self {
        self.children.push(c);
        self
    }

    /// Makes `Module:Function` startable by child specs from peers.
    pub fn code(mut self, module: &str, function: &str, start: StartFn) -> Self {
        self.code
            .push((Atom::from(module), Atom::from(function), CodeFn(start)));
        self
    }
}

/// `supervisor:start_link(SupName, Module, Args)` from `parent`: returns
/// once every child started (or with `{shutdown, {failed_to_start_child,
/// Id, Reason}}` when one failed, after stopping the others).
pub async fn start_link(
    parent: &Process,
    name: Option<ServerName>,
    spec: SupSpec,
) -> Result<Pid, StartError> {
    gen_server::start_link(parent, name.clone(), server::SupServer::new(name, spec)).await
}

/// Like [`start_link`] for a parent that is not the calling process (an
/// application master): see [`gen_server::start_link_to`].
pub async fn start_link_to(
    node: &Node,
    parent: &Pid,
    name: Option<ServerName>,
    spec: SupSpec,
) -> Result<Pid, StartError> {
    let s = server::SupServer::new(name.clone(), spec);
    gen_server::start_link_to(node, parent, name, s).await
}

/// A supervisor without a parent (`gen_server:start/4` of the supervisor
/// module).
pub async fn start(
    node: &Node,
    name: Option<ServerName>,
    spec: SupSpec,
) -> Result<Pid, StartError> {
    gen_server::start(node, name.clone(), server::SupServer::new(name, spec)).await
}

/// `supervisor:call/2`: `gen_server:call(Sup, Req, infinity)`.
async fn call(p: &mut Process, sup: impl Into<ServerRef>, req: Term) -> Result<Term, CallExit> {
    gen_server::call(p, sup, req, Timeout::Infinity).await
}

/// `supervisor:which_children(Sup)`: `[{Id, Child, Type, Modules}]`.
pub async fn which_children(p: &mut Process, sup: impl Into<ServerRef>) -> Result<Term, CallExit> {
    call(p, sup, atom("which_children")).await
}

/// `supervisor:count_children(Sup)`: `[{specs, N}, {active, N},
/// {supervisors, N}, {workers, N}]`.
pub async fn count_children(p: &mut Process, sup: impl Into<ServerRef>) -> Result<Term, CallExit> {
    call(p, sup, atom("count_children")).await
}

/// `supervisor:start_child(Sup, ChildSpec | ExtraArgs)`, with the spec as
/// a term (a map or 6-tuple; for `simple_one_for_one`, the list of extra
/// arguments).
pub async fn start_child(
    p: &mut Process,
    sup: impl Into<ServerRef>,
    spec: Term,
) -> Result<Term, CallExit> {
    call(p, sup, term!({start_child, (spec)})).await
}

/// `supervisor:terminate_child(Sup, Id)`.
pub async fn terminate_child(
    p: &mut Process,
    sup: impl Into<ServerRef>,
    id: Term,
) -> Result<Term, CallExit> {
    call(p, sup, term!({terminate_child, (id)})).await
}

/// `supervisor:restart_child(Sup, Id)`.
pub async fn restart_child(
    p: &mut Process,
    sup: impl Into<ServerRef>,
    id: Term,
) -> Result<Term, CallExit> {
    call(p, sup, term!({restart_child, (id)})).await
}

/// `supervisor:delete_child(Sup, Id)`.
pub async fn delete_child(
    p: &mut Process,
    sup: impl Into<ServerRef>,
    id: Term,
) -> Result<Term, CallExit> {
    call(p, sup, term!({delete_child, (id)})).await
}

/// `supervisor:get_childspec(Sup, Id)`.
pub async fn get_childspec(
    p: &mut Process,
    sup: impl Into<ServerRef>,
    id: Term,
) -> Result<Term, CallExit> {
    call(p, sup, term!({get_childspec, (id)})).await
}
