//! The seed's demo application `distro`, as the Elixir one behaves
//! (`erl_interop/distro/lib/distro/application.ex` and `distro_cal.ex`):
//! on start it logs `Distro application in :normal mode` (or `{:takeover,
//! :"one@127.0.0.1"}`, `{:failover, ...}`) and starts the same supervision
//! tree — `Distro.Supervisor` (`Supervisor.start_link([Distro.DistroCal],
//! strategy: :one_for_one, name: Distro.Supervisor)`: Elixir's default 3
//! restarts in 5 s) with one worker, `Distro.DistroCal`, a server
//! registered globally as `Elixir.Distro.DistroCal` that answers `{:cal,
//! X, Y}` with `X + Y`.
//!
//! `'Elixir.Distro.DistroCal':add/2` is served by rpc from the moment the
//! application is loaded, as the module is on a BEAM node's code path: it
//! calls the global name wherever the application runs, as
//! `Distro.DistroCal.add/2` does in Elixir.

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
use crate::term::{Atom, Term, TermExt, atom, int, nil};
use std::sync::Arc;

/// The global name of the calculator.
pub const SERVER: &str = "Elixir.Distro.DistroCal";

/// The local name of the top supervisor.
pub const SUPERVISOR: &str = "Elixir.Distro.Supervisor";

/// The `distro` application.
#[derive(Debug, Clone, Copy)]
pub struct Distro;

/// `{:cal, X, Y}` → `X + Y` (`{error, badarg}` for anything else).
pub fn handle_request(req: &Term) -> Term {
    match req.as_tuple() {
        Some([t, x, y]) if t.as_atom() == Some("cal") => match (x.as_i64(), y.as_i64()) {
            (Some(x), Some(y)) => x.checked_add(y).map_or_else(|| atom("overflow"), int),
            _ => term!({error, badarg}),
        },
        _ => term!({error, badarg}),
    }
}

/// `Distro.DistroCal`, the calculator server (its state is `nil`, as in
/// Elixir), started without a name; `init` takes the global name over with
/// `:global.re_register_name/2`, since at a takeover the old instance still
/// holds it.
struct DistroCal {
    global: Arc<dyn NameRegistry>,
}

impl GenServer for DistroCal {
    async fn init(&mut self, p: &mut Process) -> Init {
        // :yes = :global.re_register_name(__MODULE__, self())
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
        CallReply::Reply(handle_request(&req))
    }

    fn module(&self) -> Atom {
        Atom::from(SERVER)
    }

    fn get_state(&self) -> Term {
        atom("nil")
    }

    fn replace_state(&mut self, state: Term) -> Result<(), Term> {
        // The state is always nil; any new state is kept by Elixir, but
        // this server has nowhere to keep it.
        if state == atom("nil") {
            Ok(())
        } else {
            Err(atom("badarg"))
        }
    }
}

/// `Supervisor.start_link([Distro.DistroCal], strategy: :one_for_one, name:
/// Distro.Supervisor)`.
fn supervisor_spec(global: Arc<dyn NameRegistry>) -> SupSpec {
    // Elixir's Supervisor.init/2 result, which Supervisor.Default returns.
    let child_map = crate::term::map(vec![
        (atom("id"), atom(SERVER)),
        (atom("start"), term!({(atom(SERVER)), start_link, [[]]})),
    ]);
    let flags = crate::term::map(vec![
        (atom("intensity"), int(3)),
        (atom("period"), int(5)),
        (atom("strategy"), atom("one_for_one")),
    ]);
    let init_result = term!({ok, {(flags), [(child_map)]}});
    SupSpec::new("Elixir.Supervisor.Default")
        .intensity(3)
        .period(5)
        .args(init_result)
        .child(ChildSpec::gen_server(
            atom(SERVER),
            Mfa::new(SERVER, "start_link", vec![nil()]),
            None,
            move |_| DistroCal {
                global: global.clone(),
            },
        ))
}

impl Application for Distro {
    fn spec(&self) -> AppSpec {
        let mut s = AppSpec::new("distro", "distro", env!("CARGO_PKG_VERSION"));
        s.registered = vec![SUPERVISOR.into()];
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
                // Distro.DistroCal.add/2: GenServer.call({:global, ...}, {:cal, X, Y}).
                let req = term!({cal, (x.clone()), (y.clone())});
                call_global(&node, global.as_ref(), SERVER, req, "Elixir.GenServer").await
            },
        );
    }

    async fn start(
        &self,
        ctx: AppContext,
        ty: StartType,
        _args: Term,
    ) -> Result<Started, AppStartError> {
        tracing::info!("Distro application in {} mode", ty.inspect_elixir());
        let master = ctx.master().cloned().ok_or_else(|| atom("no_master"))?;
        let name = Some(ServerName::local(SUPERVISOR));
        let spec = supervisor_spec(ctx.global.clone());
        let pid = supervisor::start_link_to(&ctx.node, &master, name, spec)
            .await
            .map_err(super::start_error)?;
        Ok(Started::from(pid))
    }

    async fn stop(&self, _ctx: AppContext, _state: Term) {
        tracing::info!("Distro application stopped");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cal_adds() {
        assert_eq!(handle_request(&term!({cal, 4, 5})), int(9));
        assert_eq!(handle_request(&atom("x")), term!({error, badarg}));
    }
}
