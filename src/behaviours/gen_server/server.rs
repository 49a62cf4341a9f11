//! The server process: `gen_server:init_it/6` and the receive loop of
//! `gen_server:loop/7` / `decode_msg/9` / `handle_msg`, with system
//! messages handed to [`crate::behaviours::sys`], `terminate`, OTP's
//! "Generic server terminating" error report and proc_lib's crash report.

use super::{CallReply, GenServer, Init, Next, ServerName, StartError, Then};
use crate::behaviours::proc_lib;
use crate::behaviours::sys::{self, Event, Sys, SysCtx, SysOutcome, SysTarget, SystemMsg};
use crate::runtime::{GenCall, GenFrom, Process};
use crate::term;
use crate::term::{Pid, Pretty, Term, TermExt, atom, charlist, list};
use tokio::sync::oneshot;

type Ack = oneshot::Sender<Result<Pid, StartError>>;

/// How a server is started: its name, its parent and where it comes from.
pub(super) struct Spawn {
    pub(super) name: Option<ServerName>,
    /// The parent (`start_link`); `None` for `start`.
    pub(super) parent: Option<Pid>,
    /// Link to the parent first thing (when it was not linked at spawn).
    pub(super) link: bool,
    /// `'$ancestors'`.
    pub(super) ancestors: Vec<Term>,
}

/// Runs a server to its end; returns its exit reason.
pub(super) async fn run<S: GenServer>(
    mut p: Process,
    spawn: Spawn,
    mut server: S,
    ack: Ack,
) -> Term {
    let Spawn {
        name,
        parent,
        link,
        ancestors,
    } = spawn;
    if let (true, Some(parent)) = (link, &parent) {
        p.link(parent);
    }
    let initial = proc_lib::mfa(Term::Atom(server.module()), "init", 1);
    proc_lib::init_p(&mut p, ancestors, initial);
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
    // gen:name/1: the name the server reports itself under.
    let name = match &name {
        Some(ServerName::Local(a)) => Term::Atom(a.clone()),
        Some(ServerName::Via(_, n)) => n.clone(),
        None => Term::Pid(p.pid().clone()),
    };
    let mut l = Loop {
        has_parent: parent.is_some(),
        parent: parent.unwrap_or_else(|| p.pid().clone()),
        name,
        sys: Sys::default(),
    };
    l.serve(&mut p, &mut server, then).await
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

/// The `sys` view of a server: `system_get_state/1`,
/// `system_replace_state/2` and `format_status/2` of `gen_server.erl`.
struct Target<'a, S>(&'a mut S);

impl<S: GenServer> SysTarget for Target<'_, S> {
    fn sys_get_state(&self) -> Term {
        self.0.get_state()
    }

    fn sys_replace_state(&mut self, state: Term) -> Result<(), Term> {
        self.0.replace_state(state)
    }

    fn sys_format_status(&self) -> Vec<Term> {
        self.0.format_status()
    }

    fn sys_module(&self) -> Term {
        Term::Atom(self.0.module())
    }
}

/// The loop's own state (`Parent`, `Name`, `Debug` of `gen_server:loop/7`).
struct Loop {
    parent: Pid,
    has_parent: bool,
    name: Term,
    sys: Sys,
}

impl Loop {
    fn is_parent_exit(&self, msg: &Term) -> Option<Term> {
        match msg.as_tuple() {
            Some([tag, Term::Pid(from), reason])
                if self.has_parent && tag.as_atom() == Some("EXIT") && *from == self.parent =>
            {
                Some(reason.clone())
            }
            _ => None,
        }
    }

    fn debug<S: GenServer>(&mut self, server: &S, ev: impl FnOnce(Term) -> Event) {
        if self.sys.is_debugging() {
            let e = ev(server.get_state());
            self.sys.event(&self.name, &e);
        }
    }

    async fn serve<S: GenServer>(
        &mut self,
        p: &mut Process,
        server: &mut S,
        mut then: Option<Then>,
    ) -> Term {
        loop {
            if self.sys.is_suspended() {
                // sys:suspend_loop/6: only system messages and the parent's EXIT.
                let has_parent = self.has_parent;
                let parent = self.parent.clone();
                let msg = p
                    .receive(|m| {
                        SystemMsg::parse(m).is_some()
                            || (has_parent
                                && m.tuple_tag() == Some("EXIT")
                                && m.elem(1).and_then(TermExt::as_pid) == Some(&parent))
                    })
                    .await;
                match self.decode(p, server, &msg).await {
                    Step::Stop { reason, reply } => {
                        return self.terminate(p, server, reason, reply, &msg).await;
                    }
                    _ => continue,
                }
            }
            let (msg, step) = match then.take() {
                Some(Then::Continue(arg)) => {
                    let msg = term!({continue, (arg.clone())});
                    self.debug(server, |_| Event::In(msg.clone()));
                    let n = server.handle_continue(arg, p).await;
                    let step = self.next(server, n);
                    (msg, step)
                }
                Some(Then::Timeout(d)) => match p.recv_timeout(d).await {
                    Some(msg) => {
                        let step = self.decode(p, server, &msg).await;
                        if matches!(step, Step::Same) {
                            then = Some(Then::Timeout(d));
                        }
                        (msg, step)
                    }
                    None => {
                        let msg = atom("timeout");
                        self.debug(server, |_| Event::In(msg.clone()));
                        let n = server.handle_info(msg.clone(), p).await;
                        (msg, self.next(server, n))
                    }
                },
                wait @ (Some(Then::Hibernate) | None) => {
                    let msg = p.recv().await;
                    let step = self.decode(p, server, &msg).await;
                    if matches!(step, Step::Same) {
                        then = wait;
                    }
                    (msg, step)
                }
            };
            match step {
                Step::Continue(t) => then = t,
                Step::Same => {}
                Step::Stop { reason, reply } => {
                    return self.terminate(p, server, reason, reply, &msg).await;
                }
            }
        }
    }

    /// `gen_server:terminate/10`: `terminate`, the deferred reply, and the
    /// reports of an abnormal exit.
    async fn terminate<S: GenServer>(
        &mut self,
        p: &mut Process,
        server: &mut S,
        reason: Term,
        reply: Option<Box<(GenFrom, Term)>>,
        msg: &Term,
    ) -> Term {
        server.terminate(&reason, p).await;
        if let Some(r) = reply {
            let (from, r) = *r;
            p.reply(&from, r);
        }
        if !is_normal_exit(&reason) {
            // system_terminate/4 reports no last message (`[]`).
            let nil = crate::term::nil();
            let msg = if SystemMsg::parse(msg).is_some() {
                &nil
            } else {
                msg
            };
            let log = self.sys.log();
            let log = if log.is_empty() {
                String::new()
            } else {
                format!("\n** Log ==\n** {}", Pretty(&list(log)))
            };
            tracing::error!(
                "** Generic server {} terminating \n** Last message in was {}\n** When Server state == {}\n** Reason for termination ==\n** {}{log}",
                Pretty(&self.name),
                Pretty(msg),
                Pretty(&server.get_state()),
                Pretty(&reason),
            );
            proc_lib::crash_report(p, &reason);
        }
        reason
    }

    /// `gen_server:decode_msg/9`.
    async fn decode<S: GenServer>(&mut self, p: &mut Process, server: &mut S, msg: &Term) -> Step {
        if let Some(sm) = SystemMsg::parse(msg) {
            let ctx = SysCtx {
                name: &self.name,
                parent: &self.parent,
                header: "Status for generic server",
            };
            let mut target = Target(server);
            return match sys::handle_system_msg(p, &mut self.sys, &mut target, &ctx, sm).await {
                SysOutcome::Continue => Step::Same,
                SysOutcome::Terminate { reason, from } => Step::Stop {
                    reason,
                    reply: Some(Box::new((from, atom("ok")))),
                },
            };
        }
        if let Some(reason) = self.is_parent_exit(msg) {
            return Step::Stop {
                reason,
                reply: None,
            };
        }
        self.debug(server, |_| Event::In(msg.clone()));
        self.handle_msg(p, server, msg).await
    }

    /// `gen_server:handle_msg/6`.
    async fn handle_msg<S: GenServer>(
        &mut self,
        p: &mut Process,
        server: &mut S,
        msg: &Term,
    ) -> Step {
        if let Some(call) = GenCall::parse(msg) {
            let from = call.from.clone();
            let (reply, then) = match server.handle_call(call.request, from.clone(), p).await {
                CallReply::Reply(r) => (Some(r), None),
                CallReply::ReplyThen(r, t) => (Some(r), Some(t)),
                CallReply::NoReply => (None, None),
                CallReply::NoReplyThen(t) => (None, Some(t)),
                CallReply::Stop { reason, reply } => {
                    return Step::Stop {
                        reason,
                        reply: reply.map(|r| Box::new((from, r))),
                    };
                }
            };
            match reply {
                Some(r) => {
                    p.reply(&from, r.clone());
                    self.debug(server, |state| Event::Out {
                        reply: r,
                        to: from,
                        state,
                    });
                }
                None => self.debug(server, Event::NoReply),
            }
            return Step::Continue(then);
        }
        let n = match msg.as_tuple() {
            Some([tag, req]) if tag.as_atom() == Some("$gen_cast") => {
                server.handle_cast(req.clone(), p).await
            }
            _ => server.handle_info(msg.clone(), p).await,
        };
        self.next(server, n)
    }

    fn next<S: GenServer>(&mut self, server: &S, n: Next) -> Step {
        match n {
            Next::Continue => {
                self.debug(server, Event::NoReply);
                Step::Continue(None)
            }
            Next::ContinueThen(t) => {
                self.debug(server, Event::NoReply);
                Step::Continue(Some(t))
            }
            Next::Stop(reason) => Step::Stop {
                reason,
                reply: None,
            },
        }
    }
}

/// `[{data, [{"State", State}]}]`, the default `format_status/2` part.
pub(super) fn default_format_status(state: Term) -> Vec<Term> {
    vec![term!({data, [{(charlist("State")), (state)}]})]
}

/// `normal`, `shutdown` and `{shutdown, _}` end a server without an error
/// report (`gen_server:terminate_reason/…`).
fn is_normal_exit(reason: &Term) -> bool {
    matches!(reason.as_atom(), Some("normal" | "shutdown"))
        || reason.tuple_tag() == Some("shutdown")
}
