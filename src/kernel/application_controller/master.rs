//! The application master — mirrors
//! [`lib/kernel/src/application_master.erl`](https://github.com/erlang/otp/blob/OTP-25.2.3/lib/kernel/src/application_master.erl):
//! `start_it/4` (`Mod:start/2`, then `Mod:start_phase/3` for each of
//! `start_phases` with the same start type), then `loop_it/4` (the top
//! process is linked; `prep_stop/1` and `stop/1` around its end).
//!
//! The master reports to the AC with `{application_started, App, Res}`
//! (`{ok, MasterPid}` or `{error, R}`) and is stopped with
//! `{terminate, AcPid}`.

use super::app::{AppContext, StartType};
use crate::runtime::Process;
use crate::term;
use crate::term::{Pid, Term, TermExt, atom};
use std::sync::Arc;

/// Reads a master's report `{application_started, App, {ok, Master} |
/// {error, R}}` (what [`run`] sends): the application and the master or `R`.
pub(crate) fn parse_started(msg: &Term) -> Option<(String, Result<Pid, Term>)> {
    let [tag, Term::Atom(app), res] = msg.as_tuple()? else {
        return None;
    };
    if tag.as_atom() != Some("application_started") {
        return None;
    }
    let result = match (res.tuple_tag(), res.elem(1)) {
        (Some("ok"), Some(Term::Pid(m))) => Ok(m.clone()),
        (_, r) => Err(r.cloned().unwrap_or_else(|| atom("undefined"))),
    };
    Some((app.name.clone(), result))
}

/// The body of an application master process.
pub(crate) async fn run(
    mut p: Process,
    ac: Pid,
    app: Arc<dyn super::DynApplication>,
    mut ctx: AppContext,
    typ: StartType,
) -> Term {
    p.trap_exit(true);
    ctx.master = Some(p.pid().clone());
    let name = ctx.app.clone();
    let spec = app.spec();
    let args = spec.mod_args.clone();
    let report =
        |p: &Process, res: Term| p.send(&ac, term!({application_started, (atom(&name)), (res)}));
    let mfa = |f: &str| term!({(atom(&name)), (atom(f)), [(typ.to_term()), (args.clone())]});
    let started = match app.start(ctx.clone(), typ.clone(), args.clone()).await {
        Ok(s) => s,
        Err(r) => {
            report(&p, term!({error, {(r), (mfa("start"))}}));
            return atom("normal");
        }
    };
    p.link(&started.pid);
    for (phase, pargs) in spec.start_phases.clone().unwrap_or_default() {
        if let Err(r) = app
            .start_phase(ctx.clone(), phase.clone(), typ.clone(), pargs.clone())
            .await
        {
            p.unlink(&started.pid);
            let e = term!({error, {(r), {(atom(&name)), start_phase, [(atom(&phase)), (typ.to_term()), (pargs)]}}});
            report(&p, e);
            p.exit(&started.pid, atom("kill"));
            return atom("normal");
        }
    }
    report(&p, term!({ok, (Term::Pid(p.pid().clone()))}));
    let child = started.pid.clone();
    let mut state = started.state;
    // loop_it/4
    loop {
        let m = p.recv().await;
        match m.as_tuple() {
            Some([t, _]) if t.as_atom() == Some("terminate") => {
                state = app.prep_stop(ctx.clone(), state).await;
                p.exit(&child, atom("shutdown"));
                wait_exit(&mut p, &child).await;
                app.stop(ctx.clone(), state).await;
                return atom("normal");
            }
            Some([t, Term::Pid(from), reason]) if t.as_atom() == Some("EXIT") => {
                if *from == ac {
                    state = app.prep_stop(ctx.clone(), state).await;
                    p.exit(&child, reason.clone());
                    wait_exit(&mut p, &child).await;
                    app.stop(ctx.clone(), state).await;
                    return reason.clone();
                }
                if *from == child {
                    // Forward every exit reason of the top process, normal included.
                    state = app.prep_stop(ctx.clone(), state).await;
                    app.stop(ctx.clone(), state).await;
                    return reason.clone();
                }
            }
            _ => {}
        }
    }
}

async fn wait_exit(p: &mut Process, child: &Pid) {
    let c = Term::Pid(child.clone());
    let _ = p
        .receive_timeout(std::time::Duration::from_secs(60), |m| {
            m.tuple_tag() == Some("EXIT") && m.elem(1) == Some(&c)
        })
        .await;
}
