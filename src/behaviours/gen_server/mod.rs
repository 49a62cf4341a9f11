//! `gen_server` — mirrors `lib/stdlib/src/gen_server.erl` (and the parts of
//! `gen.erl` it uses): a [`GenServer`] trait for the callbacks, `start` /
//! `start_link` under a local name, `{global, Name}` or none, and the
//! client functions [`call`], [`cast`], [`multi_call`], [`stop`] and
//! [`reply`], which work the same toward servers on BEAM nodes and on Rust
//! nodes.
//!
//! ```text
//!  caller                                   server process (server.rs)
//!  call ── MONITOR_P + {'$gen_call', {Caller, [alias|Mref]}, Req} ──► handle_call
//!       ◄──────────── {[alias|Mref], Reply}  (to the alias) ──────── CallReply::Reply
//!  cast ── {'$gen_cast', Req} ─────────────────────────────────────► handle_cast
//!  anything else ──────────────────────────────────────────────────► handle_info
//!  stop ── {system, From, {terminate, Reason}} ────────────────────► terminate
//!  other {system, From, Req} (sys:get_state, get_status, suspend …) ► behaviours::sys
//! ```
//!
//! A callback may also ask for a timeout, a `{continue, Arg}` or
//! `hibernate` ([`Then`], through [`Init::OkThen`], [`CallReply::ReplyThen`],
//! [`CallReply::NoReplyThen`] and [`Next::ContinueThen`]), as the optional
//! last element of OTP's return tuples.
//!
//! Replies go where `gen:reply/2` sends them: to the alias of an
//! `[alias|Ref]` (OTP 24+ `gen:call`) or `[[alias|Ref]|Mon]` (OTP 26+
//! `multi_call`) tag, and as `{Tag, Reply}` to the caller's pid for any
//! other tag (a plain reference from pre-OTP-24 callers, `{Ref, Node}` from
//! OTP 25's `multi_call`).
//!
//! ```
//! use distro::behaviours::gen_server::{self, CallReply, GenFrom, GenServer, ServerName};
//! use distro::runtime::{Node, Process};
//! use distro::term::{Term, TermExt, int};
//!
//! struct Counter(i64);
//!
//! impl GenServer for Counter {
//!     async fn handle_call(&mut self, req: Term, _from: GenFrom, _p: &mut Process) -> CallReply {
//!         self.0 += req.as_i64().unwrap_or(0);
//!         CallReply::Reply(int(self.0))
//!     }
//! }
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! let node = Node::local("demo@localhost");
//! let pid = gen_server::start(&node, Some(ServerName::local("counter")), Counter(0)).await.unwrap();
//! let r = node.client().call("counter", int(2), gen_server::Timeout::DEFAULT).await;
//! assert_eq!(r, Ok(int(2)));
//! assert_eq!(node.whereis("counter"), Some(pid));
//! # }
//! ```
//!
//! Every server answers the `sys` protocol ([`crate::behaviours::sys`]):
//! `sys:get_state/1` and `sys:replace_state/2` see the state as
//! [`GenServer::get_state`] gives it, `sys:get_status/1` answers in
//! OTP's format, `sys:suspend/1` holds every message but system messages.
//! Like a proc_lib process, a server has `'$initial_call'` (`{Module, init,
//! 1}`, see [`GenServer::module`]) and `'$ancestors'` in its process
//! dictionary, and an abnormal exit logs OTP's "Generic server … terminating"
//! report and a crash report.
//!
//! Not supported: `code_change` (a Rust server is never upgraded in place).

use crate::term;
mod client;
mod server;

#[cfg(test)]
mod gen_server_test;

pub use super::Timeout;
pub use crate::runtime::GenFrom;
pub(crate) use client::system_call;
pub use client::{CallExit, Client, call, cast, multi_call, reply, stop};

use crate::runtime::{Node, Process};
use crate::term::{Atom, Pid, Pretty, Term, atom};
use futures::future::BoxFuture;
use std::future::Future;
use std::sync::Arc;

/// What a callback asks for besides waiting for the next message: the last
/// element of `{ok, State, X}`, `{reply, Reply, State, X}` and
/// `{noreply, State, X}`.
#[derive(Debug, Clone, PartialEq)]
pub enum Then {
    /// A timeout: if no message arrives within it,
    /// [`GenServer::handle_info`] gets the atom `timeout`. Any message
    /// cancels it (the next callback's return decides again).
    Timeout(std::time::Duration),
    /// `{continue, Arg}`: [`GenServer::handle_continue`] runs with `Arg`
    /// before any other message is handled.
    Continue(Term),
    /// `hibernate`: accepted; a Rust task has no heap to compact, so the
    /// server just waits for the next message.
    Hibernate,
}

/// What `init` decided (`{ok, State}`, `ignore`, `{stop, Reason}`).
#[derive(Debug, Clone, PartialEq)]
pub enum Init {
    /// `{ok, State}`: the server runs.
    Ok,
    /// `{ok, State, Timeout | hibernate | {continue, Arg}}`.
    OkThen(Then),
    /// `ignore`: the server exits `normal`; the starter gets
    /// [`StartError::Ignore`].
    Ignore,
    /// `{stop, Reason}`: the server exits with `Reason`; the starter gets
    /// [`StartError::Init`].
    Stop(Term),
}

/// What `handle_call` decided.
#[derive(Debug, Clone, PartialEq)]
pub enum CallReply {
    /// `{reply, Reply, State}`.
    Reply(Term),
    /// `{reply, Reply, State, Timeout | hibernate | {continue, Arg}}`.
    ReplyThen(Term, Then),
    /// `{noreply, State}`: answer later with [`reply`] (or never).
    NoReply,
    /// `{noreply, State, Timeout | hibernate | {continue, Arg}}`.
    NoReplyThen(Then),
    /// `{stop, Reason, Reply, State}` (with a reply, sent after
    /// `terminate`) or `{stop, Reason, State}` (without).
    Stop {
        /// The exit reason.
        reason: Term,
        /// The reply to the caller, if any.
        reply: Option<Term>,
    },
}

/// What `handle_cast` / `handle_info` decided.
#[derive(Debug, Clone, PartialEq)]
pub enum Next {
    /// `{noreply, State}`.
    Continue,
    /// `{noreply, State, Timeout | hibernate | {continue, Arg}}`.
    ContinueThen(Then),
    /// `{stop, Reason, State}`.
    Stop(Term),
}

/// The callbacks of a gen_server; the implementing value is the state.
///
/// Each callback runs in the server process and gets its [`Process`], so it
/// can send, call other servers or reply later. Implement them with
/// `async fn`; the futures must be `Send`.
pub trait GenServer: Send + 'static {
    /// `Module:init/1`, run before `start` returns.
    fn init(&mut self, proc: &mut Process) -> impl Future<Output = Init> + Send {
        let _ = proc;
        async { Init::Ok }
    }

    /// `Module:handle_call/3`.
    fn handle_call(
        &mut self,
        request: Term,
        from: GenFrom,
        proc: &mut Process,
    ) -> impl Future<Output = CallReply> + Send;

    /// `Module:handle_cast/2`. The default logs the request and goes on
    /// (OTP would crash with `undef`).
    fn handle_cast(
        &mut self,
        request: Term,
        proc: &mut Process,
    ) -> impl Future<Output = Next> + Send {
        let pid = proc.pid().clone();
        async move {
            unexpected::<Self>("handle_cast", &pid, &request);
            Next::Continue
        }
    }

    /// `Module:handle_info/2`: every message that is not a call, a cast or
    /// a system message. The default logs it as OTP's `gen_server` does
    /// when the module has no `handle_info/2`, and goes on.
    fn handle_info(&mut self, msg: Term, proc: &mut Process) -> impl Future<Output = Next> + Send {
        let pid = proc.pid().clone();
        async move {
            unexpected::<Self>("handle_info", &pid, &msg);
            Next::Continue
        }
    }

    /// `Module:handle_continue/2`, after a callback returned
    /// [`Then::Continue`]. The default logs the argument and stops the
    /// server with `undef`, as an OTP module without `handle_continue/2`
    /// crashes.
    fn handle_continue(
        &mut self,
        arg: Term,
        proc: &mut Process,
    ) -> impl Future<Output = Next> + Send {
        let pid = proc.pid().clone();
        async move {
            unexpected::<Self>("handle_continue", &pid, &arg);
            Next::Stop(atom("undef"))
        }
    }

    /// `Module:terminate/2`, called when a callback returned a stop, on
    /// [`stop`], and when the parent of a `start_link`ed server that traps
    /// exits dies. Not called when the process is killed.
    fn terminate(&mut self, reason: &Term, proc: &mut Process) -> impl Future<Output = ()> + Send {
        let _ = (reason, proc);
        async {}
    }

    /// The callback module as BEAM tools name it: `'$initial_call'` is
    /// `{Module, init, 1}`. The default is the Rust type's path; a server
    /// standing in for an Erlang or Elixir module returns that module
    /// (e.g. `'Elixir.Distro.DistroCal'`).
    fn module(&self) -> Atom {
        Atom::from(std::any::type_name::<Self>())
    }

    /// The state as a term: what `sys:get_state/1` returns and what
    /// `sys:get_status/1`, the debug log and error reports show. The
    /// default is the [`GenServer::module`] atom (a Rust state has no term
    /// form unless the server gives one).
    fn get_state(&self) -> Term {
        Term::Atom(self.module())
    }

    /// Installs the state `sys:replace_state/2`'s fun returned. An error
    /// is answered as OTP answers a failing fun (`{error, {callback_failed,
    /// {gen_server, system_replace_state}, {error, Reason}}}`). The default
    /// accepts only the current state (an identity fun) and refuses
    /// anything else with `badarg`.
    fn replace_state(&mut self, state: Term) -> Result<(), Term> {
        if state == self.get_state() {
            Ok(())
        } else {
            Err(atom("badarg"))
        }
    }

    /// `Module:format_status/2`'s part of `sys:get_status/1`, after the
    /// header and the `Status`/`Parent`/`Logged events` data. The default
    /// is OTP's: `[{data, [{"State", State}]}]`.
    fn format_status(&self) -> Vec<Term> {
        server::default_format_status(self.get_state())
    }
}

/// OTP's warning for a message a module does not handle
/// (`gen_server:handle_msg/6`, the `no_handle_info` report).
fn unexpected<S: ?Sized>(callback: &str, pid: &Pid, msg: &Term) {
    tracing::warn!(
        "** Undefined {callback} in {}\n** Unhandled message: {}",
        std::any::type_name::<S>(),
        Pretty(msg),
    );
    tracing::debug!(server = %Pretty(&Term::Pid(pid.clone())), "unhandled message");
}

/// A name service for `{via, Module, Name}` (the `register_name/2`,
/// `unregister_name/1`, `whereis_name/1` of `Module`), and the crate's one
/// route to cluster-wide names. `global` is one:
/// `ServerName::via(kernel.global.clone(), name)` is `{global, Name}`, and
/// applications get it as `AppContext::global` (with
/// `AppContext::global_name` for a server that re-registers its name).
pub trait NameRegistry: Send + Sync + 'static {
    /// The module in `{via, Module, Name}`; a registry whose module is
    /// `global` is shown as `{global, Name}`.
    fn module(&self) -> Atom;

    /// `Module:register_name(Name, Pid)`: `true` for `yes`.
    fn register_name(&self, name: Term, pid: Pid) -> BoxFuture<'static, bool>;

    /// `global:re_register_name(Name, Pid)`: registers `name` for `pid`
    /// even while another process holds it (what a takeover needs: the old
    /// instance may still hold the name). A registry without such an
    /// operation only registers (the default: `register_name`).
    fn re_register_name(&self, name: Term, pid: Pid) -> BoxFuture<'static, bool> {
        self.register_name(name, pid)
    }

    /// `Module:unregister_name(Name)`.
    fn unregister_name(&self, name: Term) -> BoxFuture<'static, ()>;

    /// `Module:whereis_name(Name)`.
    fn whereis_name(&self, name: &Term) -> Option<Pid>;
}

fn via_term(reg: &dyn NameRegistry, name: &Term) -> Term {
    let module = reg.module();
    if module.name == "global" {
        term!({global, (name.clone())})
    } else {
        term!({via, (Term::Atom(module)), (name.clone())})
    }
}

/// The name a server is started under (`ServerName` of `gen_server:start/4`).
#[derive(Clone)]
pub enum ServerName {
    /// `{local, Name}`.
    Local(Atom),
    /// `{via, Module, Name}`, or `{global, Name}` when the registry is global.
    Via(Arc<dyn NameRegistry>, Term),
}

impl ServerName {
    /// `{local, Name}`. Any atom text works, e.g. an Elixir module name
    /// such as `"Elixir.Distro.DistroCal"` (see [`elixir_alias`]).
    pub fn local(name: &str) -> Self {
        Self::Local(Atom::from(name))
    }

    /// `{via, Module, Name}` (`{global, Name}` with `kernel.global`).
    pub fn via(registry: impl NameRegistry, name: Term) -> Self {
        Self::Via(Arc::new(registry), name)
    }

    /// The name as OTP writes it: `{local, Name}`, `{global, Name}` or
    /// `{via, Module, Name}`.
    pub fn to_term(&self) -> Term {
        match self {
            Self::Local(a) => term!({local, (Term::Atom(a.clone()))}),
            Self::Via(r, n) => via_term(r.as_ref(), n),
        }
    }

    /// How a client reaches the server started under this name.
    pub fn to_ref(&self) -> ServerRef {
        match self {
            Self::Local(a) => ServerRef::Local(a.clone()),
            Self::Via(r, n) => ServerRef::Via(r.clone(), n.clone()),
        }
    }
}

impl std::fmt::Debug for ServerName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", Pretty(&self.to_term()))
    }
}

/// The Elixir module name for an alias as written in Elixir:
/// `elixir_alias("Distro.DistroCal")` is the atom `'Elixir.Distro.DistroCal'`
/// (what `Distro.DistroCal` means in Elixir source). Text that already
/// starts with `Elixir.` is kept as is.
pub fn elixir_alias(alias: &str) -> Atom {
    if alias.starts_with("Elixir.") {
        Atom::from(alias)
    } else {
        Atom::from(format!("Elixir.{alias}").as_str())
    }
}

/// A server to talk to (`ServerRef` of `gen_server:call/3`).
#[derive(Clone)]
pub enum ServerRef {
    /// A pid, local or remote.
    Pid(Pid),
    /// A name registered on this node.
    Local(Atom),
    /// `{Name, Node}`.
    Remote(Atom, Atom),
    /// `{via, Module, Name}` / `{global, Name}`, resolved on this node.
    Via(Arc<dyn NameRegistry>, Term),
}

impl ServerRef {
    /// `{via, Module, Name}` (`{global, Name}` with `kernel.global`).
    pub fn via(registry: impl NameRegistry, name: Term) -> Self {
        Self::Via(Arc::new(registry), name)
    }

    /// The reference as OTP writes it (what exit reasons show).
    pub fn to_term(&self) -> Term {
        match self {
            Self::Pid(p) => Term::Pid(p.clone()),
            Self::Local(a) => Term::Atom(a.clone()),
            Self::Remote(a, n) => term!({(Term::Atom(a.clone())), (Term::Atom(n.clone()))}),
            Self::Via(r, n) => via_term(r.as_ref(), n),
        }
    }
}

impl std::fmt::Debug for ServerRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", Pretty(&self.to_term()))
    }
}

impl From<Pid> for ServerRef {
    fn from(p: Pid) -> Self {
        Self::Pid(p)
    }
}

impl From<&Pid> for ServerRef {
    fn from(p: &Pid) -> Self {
        Self::Pid(p.clone())
    }
}

impl From<&str> for ServerRef {
    fn from(name: &str) -> Self {
        Self::Local(Atom::from(name))
    }
}

impl From<Atom> for ServerRef {
    fn from(name: Atom) -> Self {
        Self::Local(name)
    }
}

impl From<(&str, &str)> for ServerRef {
    fn from((name, node): (&str, &str)) -> Self {
        Self::Remote(Atom::from(name), Atom::from(node))
    }
}

impl From<&ServerName> for ServerRef {
    fn from(name: &ServerName) -> Self {
        name.to_ref()
    }
}

/// Why `start` / `start_link` did not start a server.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum StartError {
    /// `{error, {already_started, Pid}}`: the name is taken by `Pid`.
    #[error("already started as {}", Pretty(&Term::Pid(.0.clone())))]
    AlreadyStarted(Pid),
    /// `ignore`: `init` returned [`Init::Ignore`].
    #[error("ignore")]
    Ignore,
    /// `{error, Reason}`: `init` returned [`Init::Stop`], or the name
    /// could not be registered.
    #[error("init failed: {}", Pretty(.0))]
    Init(Term),
    /// The server process died during `init` (it panicked or was killed).
    #[error("the server process died during init")]
    Died,
}

impl StartError {
    /// What `gen_server:start/3,4` returns: `ignore` or `{error, Reason}`.
    pub fn to_term(&self) -> Term {
        let error = |r: Term| term!({error, (r)});
        match self {
            Self::AlreadyStarted(p) => error(term!({already_started, (Term::Pid(p.clone()))})),
            Self::Ignore => atom("ignore"),
            Self::Init(r) => error(r.clone()),
            Self::Died => error(atom("killed")),
        }
    }
}

/// `gen_server:start(ServerName, Module, Args, [])` (or `start/3` with
/// `name: None`): spawns the server, registers its name, runs `init` and
/// returns its pid once `init` returned.
pub async fn start<S: GenServer>(
    node: &Node,
    name: Option<ServerName>,
    server: S,
) -> Result<Pid, StartError> {
    let (tx, rx) = tokio::sync::oneshot::channel();
    let spawn = server::Spawn {
        name,
        parent: None,
        link: false,
        ancestors: Vec::new(),
    };
    node.spawn(move |p| server::run(p, spawn, server, tx));
    rx.await.unwrap_or(Err(StartError::Died))
}

/// `gen_server:start_link/3,4`: like [`start`], with the server linked to
/// `parent`. If `init` fails, the link is removed before the server exits
/// (as OTP 26+ `proc_lib:start_link` does), so the parent only sees the
/// error. A server whose parent dies while it traps exits calls
/// `terminate` with the parent's exit reason.
pub async fn start_link<S: GenServer>(
    parent: &Process,
    name: Option<ServerName>,
    server: S,
) -> Result<Pid, StartError> {
    let (tx, rx) = tokio::sync::oneshot::channel();
    let spawn = server::Spawn {
        name,
        parent: Some(parent.pid().clone()),
        link: false,
        ancestors: crate::behaviours::proc_lib::ancestors_from(parent),
    };
    parent.spawn_link(move |p| server::run(p, spawn, server, tx));
    rx.await.unwrap_or(Err(StartError::Died))
}

/// Like [`start_link`], for a parent that is not the calling process
/// (e.g. an application master starting its top supervisor): the server
/// links itself to `parent` before anything else, and `'$ancestors'` is
/// `[Parent]`. If `parent` is already dead, the server dies with `noproc`.
pub async fn start_link_to<S: GenServer>(
    node: &Node,
    parent: &Pid,
    name: Option<ServerName>,
    server: S,
) -> Result<Pid, StartError> {
    let (tx, rx) = tokio::sync::oneshot::channel();
    let spawn = server::Spawn {
        name,
        parent: Some(parent.clone()),
        link: true,
        ancestors: vec![Term::Pid(parent.clone())],
    };
    node.spawn(move |p| server::run(p, spawn, server, tx));
    rx.await.unwrap_or(Err(StartError::Died))
}

impl Node {
    /// A [`Client`] of this node: calls and casts to servers from plain
    /// Rust code.
    pub fn client(&self) -> Client {
        Client::new(self)
    }
}
