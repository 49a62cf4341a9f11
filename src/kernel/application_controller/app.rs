//! Applications written in Rust: the [`Application`] callback trait (the
//! `application` behaviour of
//! [`lib/kernel/src/application.erl`](https://github.com/erlang/otp/blob/OTP-25.2.3/lib/kernel/src/application.erl))
//! and the [`AppSpec`] that stands for the `.app` file.

use crate::behaviours::gen_server::{NameRegistry, ServerName};
use crate::kernel::rex::Registry;
use crate::runtime::Node;
use crate::term;
use crate::term::{Atom, Pid, Term, atom};
use futures::future::BoxFuture;
use std::sync::{Arc, RwLock};

/// `StartType` passed to `Mod:start/2` and `Mod:start_phase/3`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StartType {
    /// `normal`.
    Normal,
    /// `{takeover, Node}`: the application moves here from `Node`.
    Takeover(Atom),
    /// `{failover, Node}`: `Node` died (only for applications with
    /// `start_phases`, as OTP's application_controller does).
    Failover(Atom),
}

impl StartType {
    /// The Erlang term (`normal`, `{takeover, Node}`, `{failover, Node}`).
    pub fn to_term(&self) -> Term {
        match self {
            Self::Normal => atom("normal"),
            Self::Takeover(n) => term!({takeover, (Term::Atom(n.clone()))}),
            Self::Failover(n) => term!({failover, (Term::Atom(n.clone()))}),
        }
    }

    /// As Elixir's `inspect/1` prints it (`:normal`, `{:takeover, :"a@h"}`),
    /// which the seed's demo logs.
    pub fn inspect_elixir(&self) -> String {
        // Elixir's rule for atoms printed without quotes (ASCII here):
        // a letter or `_` first, then letters, digits, `_` and `@`, and
        // optionally a final `?` or `!` (`:three@three`, `:"one@127.0.0.1"`).
        fn quoted(a: &Atom) -> String {
            let name = a.name.as_str();
            let body = name.strip_suffix(['?', '!']).unwrap_or(name);
            let plain = body
                .chars()
                .next()
                .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
                && body
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '@');
            if plain {
                format!(":{name}")
            } else {
                format!(":\"{name}\"")
            }
        }
        match self {
            Self::Normal => ":normal".into(),
            Self::Takeover(n) => format!("{{:takeover, {}}}", quoted(n)),
            Self::Failover(n) => format!("{{:failover, {}}}", quoted(n)),
        }
    }
}

impl std::fmt::Display for StartType {
    /// As `~p` prints it: `normal`, `{takeover,'cp2@127.0.0.1'}`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        use crate::kernel::kernel_config::quote_atom;
        match self {
            Self::Normal => write!(f, "normal"),
            Self::Takeover(n) => write!(f, "{{takeover,{}}}", quote_atom(&n.name)),
            Self::Failover(n) => write!(f, "{{failover,{}}}", quote_atom(&n.name)),
        }
    }
}

/// `permanent | transient | temporary`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RestartType {
    /// When it dies, the node stops.
    Permanent,
    /// When it dies with a reason other than `normal`, the node stops.
    Transient,
    /// When it dies, it is only logged (the default of `application:start/1`).
    Temporary,
}

impl RestartType {
    /// The atom.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Permanent => "permanent",
            Self::Transient => "transient",
            Self::Temporary => "temporary",
        }
    }

    /// From the atom's text.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "permanent" => Some(Self::Permanent),
            "transient" => Some(Self::Transient),
            "temporary" => Some(Self::Temporary),
            _ => None,
        }
    }
}

/// The `.app` file of a Rust application.
#[derive(Debug, Clone, PartialEq)]
pub struct AppSpec {
    /// Application name.
    pub name: String,
    /// `description` (sent as a charlist by `which_applications`).
    pub description: String,
    /// `vsn`.
    pub vsn: String,
    /// `applications`: started before this one.
    pub applications: Vec<String>,
    /// `env`: defaults, overridden by sys.config then `-App Par Val`.
    pub env: Vec<(String, Term)>,
    /// The `Args` of `{mod, {Module, Args}}`.
    pub mod_args: Term,
    /// `start_phases`: `[{Phase, PhaseArgs}]`; `None` when the key is absent
    /// (then failover starts with `normal`, as on BEAM).
    pub start_phases: Option<Vec<(String, Term)>>,
    /// `registered`: names the application registers.
    pub registered: Vec<String>,
}

impl AppSpec {
    /// A spec with OTP's defaults (`applications: [kernel, stdlib]`).
    pub fn new(name: &str, description: &str, vsn: &str) -> Self {
        Self {
            name: name.to_owned(),
            description: description.to_owned(),
            vsn: vsn.to_owned(),
            applications: vec!["kernel".into(), "stdlib".into()],
            env: Vec::new(),
            mod_args: crate::term::nil(),
            start_phases: None,
            registered: Vec::new(),
        }
    }
}

/// What a started application hands back: its top process (the top
/// supervisor, linked to the application master) and a state passed to
/// `prep_stop` and `stop`.
#[derive(Debug, Clone, PartialEq)]
pub struct Started {
    /// The top process; when it exits, the application has exited.
    pub pid: Pid,
    /// `State` of `{ok, Pid, State}`.
    pub state: Term,
}

impl From<Pid> for Started {
    fn from(pid: Pid) -> Self {
        Self {
            pid,
            state: crate::term::nil(),
        }
    }
}

/// What an application's callbacks can use.
#[derive(Clone)]
pub struct AppContext {
    /// The node.
    pub node: Node,
    /// The application's name.
    pub app: String,
    /// Functions served over rpc (add the application's own).
    pub rpc: Registry,
    /// Cluster-wide names: the node's `global` (`kernel.global`), as a
    /// [`NameRegistry`] (`re_register_name`, `whereis_name`, ...).
    pub global: Arc<dyn NameRegistry>,
    pub(crate) env: Arc<RwLock<super::controller::EnvTable>>,
    /// The application master, in [`Application::start`].
    pub(crate) master: Option<Pid>,
}

impl std::fmt::Debug for AppContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppContext")
            .field("app", &self.app)
            .finish()
    }
}

impl AppContext {
    /// `application:get_env(App, Key)` for this application.
    pub fn get_env(&self, key: &str) -> Option<Term> {
        let t = self.env.read().unwrap_or_else(|e| e.into_inner());
        t.get(&(self.app.clone(), key.to_owned())).cloned()
    }

    /// The application master running [`Application::start`]: the parent
    /// of the top supervisor, which links to it as OTP's
    /// `supervisor:start_link/3` links to the master's process (see
    /// [`crate::behaviours::supervisor::start_link_to`]). `None` outside
    /// `start` (in [`Application::load`]).
    pub fn master(&self) -> Option<&Pid> {
        self.master.as_ref()
    }

    /// `{global, Name}` through [`AppContext::global`], for
    /// [`ServerName::via`]:
    /// the server registers with `global:re_register_name/2` (it wins the
    /// name even while an older instance still holds it, as at a takeover)
    /// and is found with `global:whereis_name/1`.
    pub fn global_name(&self, name: &str) -> ServerName {
        ServerName::via(crate::apps::ReRegister(self.global.clone()), atom(name))
    }
}

/// Why [`Application::start`] (or a start phase) failed: the `Reason` of
/// the `{error, Reason}` the application master reports.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum AppStartError {
    /// The top supervisor (or another process) did not start.
    #[error(transparent)]
    Start(#[from] crate::behaviours::gen_server::StartError),
    /// `start` was called outside an application master (no
    /// [`AppContext::master`] to link the top supervisor to).
    #[error("no application master")]
    NoMaster,
    /// Any other reason, as a term.
    #[error("{}", crate::term::Pretty(.0))]
    Reason(Term),
}

/// What [`Application::start`] returns.
pub type StartResult = Result<Started, AppStartError>;

impl From<Term> for AppStartError {
    fn from(reason: Term) -> Self {
        Self::Reason(reason)
    }
}

impl AppStartError {
    /// The reason as OTP reports it: `init`'s reason for a top process
    /// whose `init` failed, `no_master`, or the term.
    pub fn to_term(&self) -> Term {
        use crate::behaviours::gen_server::StartError;
        match self {
            Self::Start(StartError::Init(r)) => r.clone(),
            Self::Start(e) => e.to_term(),
            Self::NoMaster => atom("no_master"),
            Self::Reason(r) => r.clone(),
        }
    }
}

impl AppContext {
    /// Starts `spec` as the application's top supervisor, linked to the
    /// application master (`supervisor:start_link/2` from `Mod:start/2`).
    pub async fn start_supervisor(
        &self,
        spec: crate::behaviours::supervisor::SupSpec,
    ) -> Result<Started, AppStartError> {
        let master = self.master().ok_or(AppStartError::NoMaster)?;
        let pid =
            crate::behaviours::supervisor::start_link_to(&self.node, master, None, spec).await?;
        Ok(Started::from(pid))
    }
}

/// The `application` behaviour: callbacks of a Rust application, written
/// as `async fn`s.
///
/// `start` starts the application's supervision tree, linked to the
/// application master ([`AppContext::master`], or
/// [`AppContext::start_supervisor`]); when its top supervisor exits, the
/// application has exited.
///
/// ```
/// use distro::prelude::*;
/// use distro::AppStartError;
///
/// struct Hello;
/// impl Application for Hello {
///     fn spec(&self) -> AppSpec {
///         AppSpec::new("hello", "says hello", "1.0")
///     }
///     async fn start(&self, ctx: AppContext, ty: StartType, _args: Term) -> Result<Started, AppStartError> {
///         tracing::info!("hello starting as {ty}");
///         ctx.start_supervisor(SupSpec::new("hello_sup")).await
///     }
/// }
/// ```
pub trait Application: Send + Sync + 'static {
    /// The `.app` data.
    fn spec(&self) -> AppSpec;

    /// The application is loaded (`application:load/1`): its modules are
    /// on this node from now on, as a BEAM node has them once the `.app`
    /// is loaded. Register here the module functions other nodes may call
    /// by rpc (`ctx.rpc`), whether or not the application runs here.
    fn load(&self, ctx: AppContext) {
        let _ = ctx;
    }

    /// `Mod:start(StartType, StartArgs)`: start the top process, usually a
    /// supervisor linked to [`AppContext::master`]; when it exits, the
    /// application has exited (the node stops for a `permanent` one).
    fn start(
        &self,
        ctx: AppContext,
        start_type: StartType,
        args: Term,
    ) -> impl Future<Output = Result<Started, AppStartError>> + Send;

    /// `Mod:start_phase(Phase, StartType, PhaseArgs)`, for each entry of
    /// `start_phases`, after `start`.
    fn start_phase(
        &self,
        ctx: AppContext,
        phase: String,
        start_type: StartType,
        args: Term,
    ) -> impl Future<Output = Result<(), AppStartError>> + Send {
        let _ = (ctx, phase, start_type, args);
        async { Ok(()) }
    }

    /// `Mod:prep_stop(State)`: before the top process is stopped.
    fn prep_stop(&self, ctx: AppContext, state: Term) -> impl Future<Output = Term> + Send {
        let _ = ctx;
        async move { state }
    }

    /// `Mod:stop(State)`: after the top process stopped.
    fn stop(&self, ctx: AppContext, state: Term) -> impl Future<Output = ()> + Send {
        let _ = (ctx, state);
        async {}
    }
}

/// [`Application`] as the controller holds it (boxed futures, errors as
/// terms); every `Application` is one.
pub(crate) trait DynApplication: Send + Sync + 'static {
    fn spec(&self) -> AppSpec;
    fn load(&self, ctx: AppContext);
    fn start(
        &self,
        ctx: AppContext,
        ty: StartType,
        args: Term,
    ) -> BoxFuture<'_, Result<Started, Term>>;
    fn start_phase(
        &self,
        ctx: AppContext,
        phase: String,
        ty: StartType,
        args: Term,
    ) -> BoxFuture<'_, Result<(), Term>>;
    fn prep_stop(&self, ctx: AppContext, state: Term) -> BoxFuture<'_, Term>;
    fn stop(&self, ctx: AppContext, state: Term) -> BoxFuture<'_, ()>;
}

impl<A: Application> DynApplication for A {
    fn spec(&self) -> AppSpec {
        Application::spec(self)
    }
    fn load(&self, ctx: AppContext) {
        Application::load(self, ctx);
    }
    fn start(
        &self,
        ctx: AppContext,
        ty: StartType,
        args: Term,
    ) -> BoxFuture<'_, Result<Started, Term>> {
        Box::pin(async move {
            Application::start(self, ctx, ty, args)
                .await
                .map_err(|e| e.to_term())
        })
    }
    fn start_phase(
        &self,
        ctx: AppContext,
        phase: String,
        ty: StartType,
        args: Term,
    ) -> BoxFuture<'_, Result<(), Term>> {
        Box::pin(async move {
            Application::start_phase(self, ctx, phase, ty, args)
                .await
                .map_err(|e| e.to_term())
        })
    }
    fn prep_stop(&self, ctx: AppContext, state: Term) -> BoxFuture<'_, Term> {
        Box::pin(Application::prep_stop(self, ctx, state))
    }
    fn stop(&self, ctx: AppContext, state: Term) -> BoxFuture<'_, ()> {
        Box::pin(Application::stop(self, ctx, state))
    }
}
