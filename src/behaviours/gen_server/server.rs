//! The server process: `gen_server:init_it/6` and the receive loop of
//! `gen_server:loop/7` / `handle_msg`, with `terminate` and OTP's
//! "Generic server terminating" error report.

use super::{CallReply, GenServer, Init, Next, ServerName, StartError, Then};
use crate::runtime::{GenCall, GenFrom, Process};
use crate::term::{Pid, Pretty, Term, TermExt, atom, tuple};
use tokio::sync::oneshot;

type Ack = oneshot::Sender<Result<Pid, StartError>>;

/// Runs a server to its end; returns its exit reason.
pub(super) async fn run<S: GenServer>(
    mut p: Process,
    name: Option<ServerName>,
    mut server: S,
    parent: Option<Pid>,
    ack: Ack,
) -> Term {
    if let Err(e) = register(&p, name.as_ref()).await {
        if let Some(parent) = &parent {
            p.unlink(parent);
        }
        let _ = ack.send(Err(e));
        return atom("normal");
    }
    let (failed, then) = match server.init(&mut p).await {
        Init::Ok => (None, None),
        Init::OkThen(t) => (None, Some(t)),
        Init::Ignore => (Some((StartError::Ignore, atom("normal"))), None),
        Init::Stop(reason) => (Some((StartError::Init(reason.clone()), reason)), None),
    };
    if let Some((error, reason)) = failed {
        // gen:unregister_name/1, then proc_lib:init_fail/3 (OTP 26+).
        if let Some(ServerName::Via(reg, n)) = &name {
            reg.unregister_name(n.clone()).await;
        }
        if let Some(parent) = &parent {
            p.unlink(parent);
        }
        let _ = ack.send(Err(error));
        return reason;
    }
    let _ = ack.send(Ok(p.pid().clone()));
    let label = match &name {
        Some(n) => Pretty(&n.to_term()).to_string(),
        None => Pretty(&Term::Pid(p.pid().clone())).to_string(),
    };
    serve(&mut p, &mut server, parent.as_ref(), &label, then).await
}

/// Registers the name; `{already_started, Pid}` when it is taken.
async fn register(p: &Process, name: Option<&ServerName>) -> Result<(), StartError> {
    match name {
        None => Ok(()),
        Some(ServerName::Local(a)) => {
            if p.register(&a.name).is_ok() {
                return Ok(());
            }
            match p.node().whereis(&a.name) {
                Some(pid) => Err(StartError::AlreadyStarted(pid)),
                None => Err(StartError::Init(atom("badarg"))),
            }
        }
        Some(ServerName::Via(reg, n)) => {
            if reg.register_name(n.clone(), p.pid().clone()).await {
                return Ok(());
            }
            match reg.whereis_name(n) {
                Some(pid) => Err(StartError::AlreadyStarted(pid)),
                None => Err(StartError::Init(atom("badarg"))),
            }
        }
    }
}

/// What one message led to.
enum Step {
    /// Wait for the next message, with what the callback asked for.
    Continue(Option<Then>),
    /// Wait as before (a system message: `sys` keeps the loop's timeout).
    Same,
    Stop {
        reason: Term,
        /// Replies to send after `terminate` (call stops, `sys:terminate`).
        reply: Option<Box<(GenFrom, Term)>>,
    },
}

async fn serve<S: GenServer>(
    p: &mut Process,
    server: &mut S,
    parent: Option<&Pid>,
    label: &str,
    mut then: Option<Then>,
) -> Term {
    loop {
        let (msg, step) = match then.take() {
            Some(Then::Continue(arg)) => {
                let msg = tuple(vec![atom("continue"), arg.clone()]);
                (msg, next(server.handle_continue(arg, p).await))
            }
            Some(Then::Timeout(d)) => match p.recv_timeout(d).await {
                Some(msg) => {
                    let step = dispatch(p, server, parent, &msg).await;
                    if matches!(step, Step::Same) {
                        then = Some(Then::Timeout(d));
                    }
                    (msg, step)
                }
                None => {
                    let msg = atom("timeout");
                    (msg.clone(), next(server.handle_info(msg, p).await))
                }
            },
            wait @ (Some(Then::Hibernate) | None) => {
                let msg = p.recv().await;
                let step = dispatch(p, server, parent, &msg).await;
                if matches!(step, Step::Same) {
                    then = wait;
                }
                (msg, step)
            }
        };
        let (reason, reply) = match step {
            Step::Continue(t) => {
                then = t;
                continue;
            }
            Step::Same => {
                continue;
            }
            Step::Stop { reason, reply } => (reason, reply),
        };
        server.terminate(&reason, p).await;
        if let Some(r) = reply {
            let (from, r) = *r;
            p.reply(&from, r);
        }
        if !is_normal_exit(&reason) {
            tracing::error!(
                "** Generic server {label} terminating \n** Last message in was {}\n** Reason for termination ==\n** {}",
                Pretty(&msg),
                Pretty(&reason),
            );
        }
        return reason;
    }
}

async fn dispatch<S: GenServer>(
    p: &mut Process,
    server: &mut S,
    parent: Option<&Pid>,
    msg: &Term,
) -> Step {
    if let Some(call) = GenCall::parse(msg) {
        return match server.handle_call(call.request, call.from.clone(), p).await {
            CallReply::Reply(r) => {
                p.reply(&call.from, r);
                Step::Continue(None)
            }
            CallReply::ReplyThen(r, t) => {
                p.reply(&call.from, r);
                Step::Continue(Some(t))
            }
            CallReply::NoReply => Step::Continue(None),
            CallReply::NoReplyThen(t) => Step::Continue(Some(t)),
            CallReply::Stop { reason, reply } => Step::Stop {
                reason,
                reply: reply.map(|r| Box::new((call.from, r))),
            },
        };
    }
    match msg.as_tuple() {
        Some([tag, req]) if tag.as_atom() == Some("$gen_cast") => {
            next(server.handle_cast(req.clone(), p).await)
        }
        Some([tag, Term::Pid(from), reason])
            if tag.as_atom() == Some("EXIT") && Some(from) == parent =>
        {
            Step::Stop {
                reason: reason.clone(),
                reply: None,
            }
        }
        Some([tag, Term::Tuple(f), req]) if tag.as_atom() == Some("system") => {
            system(p, msg, f.elements.as_slice(), req)
        }
        _ => next(server.handle_info(msg.clone(), p).await),
    }
}

fn next(n: Next) -> Step {
    match n {
        Next::Continue => Step::Continue(None),
        Next::ContinueThen(t) => Step::Continue(Some(t)),
        Next::Stop(reason) => Step::Stop {
            reason,
            reply: None,
        },
    }
}

/// `{system, From, Request}` (sys.erl): `{terminate, Reason}` stops the
/// server (`gen_server:stop/1,3`, `sys:terminate/2`) and answers `ok`.
fn system(p: &Process, msg: &Term, from: &[Term], req: &Term) -> Step {
    let from = match from {
        [Term::Pid(pid), tag] => GenFrom {
            pid: pid.clone(),
            tag: tag.clone(),
        },
        _ => {
            tracing::warn!(
                "gen_server {} ignores {}",
                Pretty(&Term::Pid(p.pid().clone())),
                Pretty(msg)
            );
            return Step::Same;
        }
    };
    match req.as_tuple() {
        Some([tag, reason]) if tag.as_atom() == Some("terminate") => Step::Stop {
            reason: reason.clone(),
            reply: Some(Box::new((from, atom("ok")))),
        },
        _ => {
            tracing::warn!(
                "gen_server {} does not support the system message {}",
                Pretty(&Term::Pid(p.pid().clone())),
                Pretty(req)
            );
            Step::Same
        }
    }
}

/// `normal`, `shutdown` and `{shutdown, _}` end a server without an error
/// report (`gen_server:terminate_reason/…`).
fn is_normal_exit(reason: &Term) -> bool {
    matches!(reason.as_atom(), Some("normal" | "shutdown"))
        || reason.tuple_tag() == Some("shutdown")
}
