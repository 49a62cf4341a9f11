//! `myapp`, the distributed application of the OTP guide ("Distributed
//! Applications": cp1, cp2, cp3 with `{distributed, [{myapp, 5000, [cp1@cave,
//! {cp2@cave, cp3@cave}]}]}`), shaped like the traces' test application
//! (`traces/harness/myapp`): it logs its start type, and runs a server
//! registered globally as `myapp_server` that answers `{add, X, Y}`.
//! With start phases (`{start_phases, [{go, []}]}`) a failover starts as
//! `{failover, Node}` and each phase is logged, as on BEAM.

use crate::kernel::application_controller::{AppContext, AppSpec, Application, StartType, Started};
use crate::runtime::GenCall;
use crate::term::{Term, TermExt, atom, int, tuple};
use futures::future::BoxFuture;

/// The global name of the server.
pub const SERVER: &str = "myapp_server";

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

impl Application for MyApp {
    fn spec(&self) -> AppSpec {
        let mut s = AppSpec::new("myapp", "protocol golden-trace test application", "1.0");
        s.registered = vec!["myapp_sup".into()];
        if self.start_phases {
            s.start_phases = Some(vec![("go".into(), crate::term::nil())]);
        }
        s
    }

    fn start(
        &self,
        ctx: AppContext,
        ty: StartType,
        _args: Term,
    ) -> BoxFuture<'static, Result<Started, Term>> {
        Box::pin(async move {
            tracing::info!("myapp starting: StartType = {ty}");
            let pid = ctx.node.spawn(|mut p| async move {
                let _ = p.register(SERVER);
                loop {
                    let m = p.recv().await;
                    let Some(c) = GenCall::parse(&m) else {
                        continue;
                    };
                    let reply = match c.request.as_tuple() {
                        Some([t, x, y]) if t.as_atom() == Some("add") => {
                            match (x.as_i64(), y.as_i64()) {
                                (Some(x), Some(y)) => int(x.wrapping_add(y)),
                                _ => tuple(vec![atom("error"), atom("badarg")]),
                            }
                        }
                        _ => tuple(vec![atom("error"), atom("unknown_call")]),
                    };
                    p.reply(&c.from, reply);
                }
            });
            if !ctx.global.re_register_name(SERVER, &pid).await {
                tracing::debug!("{SERVER} is not registered globally");
            }
            Ok(Started::from(pid))
        })
    }

    fn start_phase(
        &self,
        _ctx: AppContext,
        phase: String,
        ty: StartType,
        args: Term,
    ) -> BoxFuture<'static, Result<(), Term>> {
        Box::pin(async move {
            tracing::info!(
                "myapp start_phase({phase}, {ty}, {})",
                crate::term::Pretty(&args)
            );
            Ok(())
        })
    }

    fn prep_stop(&self, _ctx: AppContext, state: Term) -> BoxFuture<'static, Term> {
        Box::pin(async move {
            tracing::info!("myapp prep_stop");
            state
        })
    }

    fn stop(&self, _ctx: AppContext, _state: Term) -> BoxFuture<'static, ()> {
        Box::pin(async {
            tracing::info!("myapp stop");
        })
    }
}
