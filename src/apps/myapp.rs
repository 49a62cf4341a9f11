//! `myapp`, the distributed application of the OTP guide ("Distributed
//! Applications": cp1, cp2, cp3 with `{distributed, [{myapp, 5000, [cp1@cave,
//! {cp2@cave, cp3@cave}]}]}`), with the supervision tree of the Erlang
//! version in `erl_interop/myapp`: `myapp_sup` (registered locally,
//! `one_for_one`, 3 restarts in 5 s) starting `myapp_server`, a gen_server
//! that registers itself globally as `myapp_server` and answers `{add, X,
//! Y}`. `myapp_server:add/2` is served by rpc from load time. It logs its
//! start type; with start phases (`{start_phases, [{go, []}]}`) a failover
//! starts as `{failover, Node}` and each phase is logged, as on BEAM.

use super::call_global;
use crate::behaviours::gen_server::{
    CallReply, GenFrom, GenServer, Init, NameRegistry, ServerName,
};
use crate::behaviours::supervisor::{self, ChildSpec, Mfa, SupSpec};
use crate::kernel::application_controller::{
    AppContext, AppSpec, AppStartError, Application, StartType, Started,
};
use crate::kernel::rex::Exception;
use crate::runtime::Process;
use crate::term;
use crate::term::{Atom, Term, TermExt, atom, int, map};
use std::sync::Arc;

/// The global name of the server.
pub const SERVER: &str = "myapp_server";

/// The local name of the top supervisor.
pub const SUPERVISOR: &str = "myapp_sup";

/// The `myapp` application.
#[derive(Debug, Clone, Copy)]
pub struct MyApp {
    start_phases: bool,
}

impl MyApp {
    /// `start_phases`: whether the `.app` has `{start_phases, [{go, []}]}`.
    pub fn new(start_phases: bool) -> Self {
        Self { start_phases }
    }
}

/// `myapp_server` (state `#{}`, as the Erlang module's).
struct MyAppServer {
    global: Arc<dyn NameRegistry>,
}

impl GenServer for MyAppServer {
    async fn init(&mut self, p: &mut Process) -> Init {
        // yes = global:re_register_name(myapp_server, self())
        if !self
            .global
            .re_register_name(atom(SERVER), p.pid().clone())
            .await
        {
            tracing::debug!("{SERVER} is not registered globally");
        }
        Init::Ok
    }

    async fn handle_call(&mut self, req: Term, _from: GenFrom, _p: &mut Process) -> CallReply {
        CallReply::Reply(match req.as_tuple() {
            Some([t, x, y]) if t.as_atom() == Some("add") => match (x.as_i64(), y.as_i64()) {
                (Some(x), Some(y)) => int(x.wrapping_add(y)),
                _ => term!({error, badarg}),
            },
            _ => term!({error, unknown_call}),
        })
    }

    fn module(&self) -> Atom {
        Atom::from(SERVER)
    }

    fn get_state(&self) -> Term {
        map(vec![])
    }
}

impl Application for MyApp {
    fn spec(&self) -> AppSpec {
        let mut s = AppSpec::new("myapp", "protocol golden-trace test application", "1.0");
        s.registered = vec![SUPERVISOR.into()];
        if self.start_phases {
            s.start_phases = Some(vec![("go".into(), crate::term::nil())]);
        }
        s
    }

    fn load(&self, ctx: AppContext) {
        ctx.rpc.register_with(
            SERVER,
            "add",
            2,
            ctx.global.clone(),
            |global, node, args| async move {
                let (Some(x), Some(y)) = (args.first(), args.get(1)) else {
                    return Err(Exception::badarg());
                };
                let req = term!({add, (x.clone()), (y.clone())});
                call_global(&node, global.as_ref(), SERVER, req, "gen_server").await
            },
        );
    }

    async fn start(
        &self,
        ctx: AppContext,
        ty: StartType,
        _args: Term,
    ) -> Result<Started, AppStartError> {
        tracing::info!("myapp starting: StartType = {ty}");
        let master = ctx.master().cloned().ok_or_else(|| atom("no_master"))?;
        let global = ctx.global.clone();
        // myapp_sup:init/1
        let spec = SupSpec::new(SUPERVISOR)
            .intensity(3)
            .period(5)
            .child(ChildSpec::gen_server(
                atom(SERVER),
                Mfa::new(SERVER, "start_link", vec![]),
                None,
                move |_| MyAppServer {
                    global: global.clone(),
                },
            ));
        let name = Some(ServerName::local(SUPERVISOR));
        let pid = supervisor::start_link_to(&ctx.node, &master, name, spec)
            .await
            .map_err(super::start_error)?;
        Ok(Started::from(pid))
    }

    async fn start_phase(
        &self,
        _ctx: AppContext,
        phase: String,
        ty: StartType,
        args: Term,
    ) -> Result<(), AppStartError> {
        tracing::info!(
            "myapp start_phase({phase}, {ty}, {})",
            crate::term::Pretty(&args)
        );
        Ok(())
    }

    async fn prep_stop(&self, _ctx: AppContext, state: Term) -> Term {
        tracing::info!("myapp prep_stop");
        state
    }

    async fn stop(&self, _ctx: AppContext, _state: Term) {
        tracing::info!("myapp stop");
    }
}
