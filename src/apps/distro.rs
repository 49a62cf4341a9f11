//! The seed's demo application `distro`, as the Elixir one behaves
//! (`erl_interop/distro/lib/distro/application.ex`): on start it logs
//! `Distro application in :normal mode` (or `{:takeover, :"one@127.0.0.1"}`,
//! `{:failover, ...}`), and runs `Distro.DistroCal`, a server registered
//! globally as `Elixir.Distro.DistroCal` that answers `{:cal, X, Y}` with
//! `X + Y`. `rpc:call(Node, 'Elixir.Distro.DistroCal', add, [X, Y])` calls it
//! wherever it runs, as `Distro.DistroCal.add/2` does in Elixir.

use crate::behaviours::gen_server::{self, CallReply, GenFrom, GenServer, ServerName};
use crate::kernel::application_controller::{AppContext, AppSpec, Application, StartType, Started};
use crate::kernel::rex::{Class, Exception};
use crate::runtime::Process;
use crate::term::{Term, TermExt, atom, int, tuple};
use futures::future::BoxFuture;
use std::time::Duration;

/// The registered name of the calculator.
pub const SERVER: &str = "Elixir.Distro.DistroCal";

/// The `distro` application.
#[derive(Debug, Clone, Copy)]
pub struct Distro;

/// `{:cal, X, Y}` → `X + Y` (`{error, badarg}` for anything else).
pub fn handle_request(req: &Term) -> Term {
    match req.as_tuple() {
        Some([t, x, y]) if t.as_atom() == Some("cal") => match (x.as_i64(), y.as_i64()) {
            (Some(x), Some(y)) => x.checked_add(y).map_or_else(|| atom("overflow"), int),
            _ => tuple(vec![atom("error"), atom("badarg")]),
        },
        _ => tuple(vec![atom("error"), atom("badarg")]),
    }
}

/// `Distro.DistroCal`, the calculator server.
struct DistroCal;

impl GenServer for DistroCal {
    async fn handle_call(&mut self, req: Term, _from: GenFrom, _p: &mut Process) -> CallReply {
        CallReply::Reply(handle_request(&req))
    }
}

impl Application for Distro {
    fn spec(&self) -> AppSpec {
        let mut s = AppSpec::new("distro", "distro", env!("CARGO_PKG_VERSION"));
        s.registered = vec![SERVER.into()];
        s
    }

    fn start(
        &self,
        ctx: AppContext,
        ty: StartType,
        _args: Term,
    ) -> BoxFuture<'static, Result<Started, Term>> {
        Box::pin(async move {
            tracing::info!("Distro application in {} mode", ty.inspect_elixir());
            let pid = gen_server::start(&ctx.node, Some(ServerName::local(SERVER)), DistroCal)
                .await
                .map_err(|e| e.to_term())?;
            // At a takeover the old instance may still hold the name (s3).
            if !ctx.global.re_register_name(SERVER, &pid).await {
                tracing::debug!("{SERVER} is not registered globally");
            }
            let global = ctx.global.clone();
            ctx.rpc.register(
                SERVER,
                "add",
                2,
                std::sync::Arc::new(move |node, args| {
                    let global = global.clone();
                    Box::pin(async move {
                        let (Some(x), Some(y)) = (args.first(), args.get(1)) else {
                            return Err(Exception::badarg());
                        };
                        let req = tuple(vec![atom("cal"), x.clone(), y.clone()]);
                        let Some(pid) = global.whereis_name(SERVER) else {
                            return Err(Exception {
                                class: Class::Exit,
                                reason: tuple(vec![atom("noproc"), atom(SERVER)]),
                            });
                        };
                        // Distro.DistroCal.add/2: GenServer.call({:global, ...}, {:cal, X, Y}).
                        let (tx, rx) = tokio::sync::oneshot::channel();
                        node.spawn(move |mut p| async move {
                            let r =
                                gen_server::call(&mut p, pid, req, Duration::from_secs(5)).await;
                            let _ = tx.send(r);
                        });
                        match rx.await {
                            Ok(Ok(v)) => Ok(v),
                            Ok(Err(e)) => Err(Exception {
                                class: Class::Exit,
                                reason: e.to_term(),
                            }),
                            Err(_) => Err(Exception::badarg()),
                        }
                    })
                }),
            );
            Ok(Started::from(pid))
        })
    }

    fn stop(&self, _ctx: AppContext, _state: Term) -> BoxFuture<'static, ()> {
        Box::pin(async {
            tracing::info!("Distro application stopped");
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cal_adds() {
        assert_eq!(
            handle_request(&tuple(vec![atom("cal"), int(4), int(5)])),
            int(9)
        );
        assert_eq!(
            handle_request(&atom("x")),
            tuple(vec![atom("error"), atom("badarg")])
        );
    }
}
