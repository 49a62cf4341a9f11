//! The supervisor process: the `gen_server` callbacks of `supervisor.erl`
//! (`init/1`, `handle_call/3`, `handle_cast/2`, `handle_info/2`,
//! `terminate/2`, `format_status/2`) over the sans-IO [`Core`], and the IO
//! the core asks for: running start functions and `shutdown/1` (monitor,
//! `exit(Child, shutdown | kill)`, wait for the `DOWN`, `unlink_flush/2`).

use super::core::{Cmd, Core, StartOutcome};
use super::spec::{ChildData, Shutdown, Strategy};
use super::{StartFn, SupSpec, report};
use crate::behaviours::gen_server::{CallReply, GenFrom, GenServer, Init, Next, ServerName};
use crate::behaviours::proc_lib;
use crate::runtime::Process;
use crate::term;
use crate::term::{Atom, Pid, Pretty, Term, TermExt, atom, charlist, list};
use futures::FutureExt;
use std::time::Duration;
use tokio::time::Instant;

type Handle = Option<StartFn>;

/// The supervisor as a gen_server.
pub(super) struct SupServer {
    name: Option<ServerName>,
    spec: Option<SupSpec>,
    module: Atom,
    args: Term,
    strategy: Strategy,
    auto: super::spec::AutoShutdown,
    code: Vec<(Atom, Atom, StartFn)>,
    core: Option<Core<Handle>>,
    /// `{local, Name}`, `{global, Name}`, `{via, M, Name}` or `{Pid, Module}`.
    report_name: Term,
}

/// What a batch of commands ended with.
#[derive(Default)]
struct Outcome {
    reply: Option<Term>,
    exit: Option<Term>,
}

impl SupServer {
    pub(super) fn new(name: Option<ServerName>, spec: SupSpec) -> Self {
        let mut code: Vec<(Atom, Atom, StartFn)> = spec
            .code
            .iter()
            .map(|(m, f, c)| (m.clone(), f.clone(), c.0.clone()))
            .collect();
        for c in &spec.children {
            let (m, f) = (&c.data.mfa.module, &c.data.mfa.function);
            if !code.iter().any(|(cm, cf, _)| cm == m && cf == f) {
                code.push((m.clone(), f.clone(), c.start.clone()));
            }
        }
        Self {
            name,
            module: spec.module.clone(),
            args: spec.args.clone(),
            strategy: spec.flags.strategy,
            auto: spec.flags.auto_shutdown,
            code,
            spec: Some(spec),
            core: None,
            report_name: atom("undefined"),
        }
    }

    /// Runs commands until the core waits for nothing.
    async fn run(&mut self, p: &mut Process, mut cmds: Vec<Cmd<Handle>>) -> Outcome {
        let mut out = Outcome::default();
        loop {
            let mut next = None;
            for cmd in cmds {
                match cmd {
                    Cmd::Report(r) => report::log(&self.report_name, &r),
                    Cmd::Reply(t) => out.reply = Some(t),
                    Cmd::Exit(r) => out.exit = Some(r),
                    Cmd::TryAgain(key) => {
                        // try_again_restart/1: back to the loop first.
                        p.send(p.pid(), term!({:"$gen_cast", {try_again_restart, (key)}}));
                    }
                    Cmd::Start { start, mfa } => {
                        let args = mfa.args.clone().unwrap_or_default();
                        let r = match start {
                            // do_start_child_i/3: `catch apply(M, F, A)`.
                            Some(f) => std::panic::AssertUnwindSafe(f(p, args))
                                .catch_unwind()
                                .await
                                .unwrap_or_else(|_| StartOutcome::Error(term!({EXIT, panic}))),
                            None => StartOutcome::Error(undef(&mfa)),
                        };
                        let core = self.core.as_mut().expect("core");
                        next = Some(core.started(r, Instant::now()));
                    }
                    Cmd::Stop { pid, shutdown } => {
                        let reason = stop_child(p, &pid, shutdown).await;
                        next = Some(self.core.as_mut().expect("core").stopped(reason));
                    }
                    Cmd::StopAll { pids, shutdown } => {
                        let results = stop_children(p, &pids, shutdown).await;
                        next = Some(self.core.as_mut().expect("core").stopped_all(results));
                    }
                }
            }
            match next {
                Some(n) => cmds = n,
                None => return out,
            }
        }
    }

    fn alive(p: &Process) -> impl Fn(&Pid) -> bool + '_ {
        move |pid| pid.node != *p.node().name() || p.node().is_process_alive(pid)
    }
}

/// `{'EXIT', {undef, [{M, F, A, []}]}}`, what `catch apply(M, F, A)` gives
/// for a function that does not exist.
fn undef(mfa: &super::spec::Mfa) -> Term {
    let args = list(mfa.args.clone().unwrap_or_default());
    term!({EXIT, {undef, [{(Term::Atom(mfa.module.clone())), (Term::Atom(mfa.function.clone())), (args), []}]}})
}

fn is_down(m: &Term, r: &Term) -> bool {
    m.tuple_tag() == Some("DOWN") && m.elem(1) == Some(r)
}

/// `unlink_flush/2`: the `EXIT` that arrived before the unlink, if any,
/// says why the child stopped.
async fn unlink_flush(p: &mut Process, pid: &Pid, default: Term) -> Term {
    p.unlink(pid);
    let from = Term::Pid(pid.clone());
    let exit = p
        .receive_timeout(Duration::ZERO, |m| {
            m.tuple_tag() == Some("EXIT") && m.elem(1) == Some(&from)
        })
        .await;
    exit.and_then(|m| m.elem(2).cloned()).unwrap_or(default)
}

/// `shutdown/1`: stops one child; returns its exit reason.
async fn stop_child(p: &mut Process, pid: &Pid, how: Shutdown) -> Term {
    let mref = Term::Reference(Box::new(p.monitor(pid)));
    let first = if how == Shutdown::BrutalKill {
        "kill"
    } else {
        "shutdown"
    };
    p.exit(pid, atom(first));
    let down = match how {
        Shutdown::Timeout(d) => p.receive_timeout(d, |m| is_down(m, &mref)).await,
        _ => Some(p.receive(|m| is_down(m, &mref)).await),
    };
    let down = match down {
        Some(d) => d,
        None => {
            p.exit(pid, atom("kill"));
            p.receive(|m| is_down(m, &mref)).await
        }
    };
    let reason = down.elem(4).cloned().unwrap_or_else(|| atom("noproc"));
    unlink_flush(p, pid, reason).await
}

/// `terminate_dynamic_children/1`: stops them all at once.
async fn stop_children(p: &mut Process, pids: &[Pid], how: Shutdown) -> Vec<(Pid, Term)> {
    let sig = if how == Shutdown::BrutalKill {
        "kill"
    } else {
        "shutdown"
    };
    let mut waiting: Vec<(Pid, Term)> = pids
        .iter()
        .map(|pid| {
            let r = Term::Reference(Box::new(p.monitor(pid)));
            p.exit(pid, atom(sig));
            (pid.clone(), r)
        })
        .collect();
    let deadline = match how {
        Shutdown::Timeout(d) => Some(Instant::now() + d),
        _ => None,
    };
    let mut results = Vec::new();
    while !waiting.is_empty() {
        let refs: Vec<Term> = waiting.iter().map(|(_, r)| r.clone()).collect();
        let is_ours = move |m: &Term| {
            m.tuple_tag() == Some("DOWN") && refs.iter().any(|r| m.elem(1) == Some(r))
        };
        let m = match deadline {
            Some(d) => {
                let left = d.saturating_duration_since(Instant::now());
                match p.receive_timeout(left, is_ours).await {
                    Some(m) => m,
                    None => {
                        for (pid, _) in &waiting {
                            p.exit(pid, atom("kill"));
                        }
                        let refs: Vec<Term> = waiting.iter().map(|(_, r)| r.clone()).collect();
                        p.receive(move |m| {
                            m.tuple_tag() == Some("DOWN")
                                && refs.iter().any(|r| m.elem(1) == Some(r))
                        })
                        .await
                    }
                }
            }
            None => p.receive(is_ours).await,
        };
        let Some(i) = waiting.iter().position(|(_, r)| m.elem(1) == Some(r)) else {
            continue;
        };
        let (pid, _) = waiting.remove(i);
        let reason = m.elem(4).cloned().unwrap_or_else(|| atom("noproc"));
        let reason = unlink_flush(p, &pid, reason).await;
        results.push((pid, reason));
    }
    results
}

impl GenServer for SupServer {
    async fn init(&mut self, p: &mut Process) -> Init {
        p.trap_exit(true);
        p.put(
            proc_lib::initial_call_key(),
            proc_lib::mfa(Term::Atom(atom_of("supervisor")), &self.module.name, 1),
        );
        self.report_name = match &self.name {
            Some(n) => n.to_term(),
            None => term!({(Term::Pid(p.pid().clone())), (Term::Atom(self.module.clone()))}),
        };
        let Some(spec) = self.spec.take() else {
            return Init::Stop(atom("badarg"));
        };
        if spec.flags.strategy == Strategy::SimpleOneForOne && spec.children.len() != 1 {
            let specs = list(spec.children.iter().map(|c| c.data.to_spec_map()).collect());
            return Init::Stop(term!({bad_start_spec, (specs)}));
        }
        let children = spec
            .children
            .into_iter()
            .map(|c| (c.data, Some(c.start)))
            .collect();
        self.core = Some(Core::new(
            self.report_name.clone(),
            spec.flags,
            children,
            Instant::now(),
        ));
        let cmds = self.core.as_mut().expect("core").init();
        match self.run(p, cmds).await.exit {
            Some(reason) => Init::Stop(reason),
            None => Init::Ok,
        }
    }

    async fn handle_call(&mut self, req: Term, _from: GenFrom, p: &mut Process) -> CallReply {
        let simple = self.strategy == Strategy::SimpleOneForOne;
        let Some(core) = self.core.as_mut() else {
            return CallReply::Reply(atom("undefined"));
        };
        let cmds = match (req.as_atom(), req.as_tuple()) {
            (Some("which_children"), _) => vec![Cmd::Reply(core.which_children())],
            (Some("count_children"), _) => {
                vec![Cmd::Reply(core.count_children(Self::alive(p)))]
            }
            (_, Some([t, spec])) if t.as_atom() == Some("start_child") && simple => {
                match spec.as_list() {
                    Some(extra) => core.start_dynamic(extra.into_owned()),
                    None => vec![Cmd::Reply(term!({error, badarg}))],
                }
            }
            (_, Some([t, spec])) if t.as_atom() == Some("start_child") => {
                match ChildData::from_term(spec, self.auto) {
                    Ok(data) => {
                        let h = self
                            .code
                            .iter()
                            .find(|(m, f, _)| *m == data.mfa.module && *f == data.mfa.function)
                            .map(|(_, _, s)| s.clone());
                        core.start_child(data, h)
                    }
                    Err(what) => vec![Cmd::Reply(term!({error, (what)}))],
                }
            }
            (_, Some([t, id])) if t.as_atom() == Some("terminate_child") => {
                let node = p.node().clone();
                core.terminate_child(id, |pid| {
                    pid.node != *node.name() || node.is_process_alive(pid)
                })
            }
            (_, Some([t, id])) if t.as_atom() == Some("restart_child") => core.restart_child(id),
            (_, Some([t, id])) if t.as_atom() == Some("delete_child") => {
                vec![Cmd::Reply(core.delete_child(id))]
            }
            (_, Some([t, id])) if t.as_atom() == Some("get_childspec") => {
                vec![Cmd::Reply(core.get_childspec(id, Self::alive(p)))]
            }
            _ => {
                tracing::error!(
                    "Supervisor {} received unexpected call: {}",
                    Pretty(&self.report_name),
                    Pretty(&req)
                );
                vec![Cmd::Reply(term!({error, {unknown_call, (req.clone())}}))]
            }
        };
        let out = self.run(p, cmds).await;
        let reply = out.reply.unwrap_or_else(|| atom("ok"));
        match out.exit {
            Some(reason) => CallReply::Stop {
                reason,
                reply: Some(reply),
            },
            None => CallReply::Reply(reply),
        }
    }

    async fn handle_cast(&mut self, req: Term, p: &mut Process) -> Next {
        let cmds = match (req.as_tuple(), self.core.as_mut()) {
            (Some([t, key]), Some(core)) if t.as_atom() == Some("try_again_restart") => {
                core.try_again(key, Instant::now())
            }
            _ => Vec::new(),
        };
        match self.run(p, cmds).await.exit {
            Some(r) => Next::Stop(r),
            None => Next::Continue,
        }
    }

    async fn handle_info(&mut self, msg: Term, p: &mut Process) -> Next {
        let cmds = match (msg.as_tuple(), self.core.as_mut()) {
            (Some([t, Term::Pid(pid), reason]), Some(core)) if t.as_atom() == Some("EXIT") => {
                core.exit(pid, reason.clone(), Instant::now())
            }
            _ => {
                tracing::error!("Supervisor received unexpected message: {}", Pretty(&msg));
                Vec::new()
            }
        };
        match self.run(p, cmds).await.exit {
            Some(r) => Next::Stop(r),
            None => Next::Continue,
        }
    }

    async fn terminate(&mut self, _reason: &Term, p: &mut Process) {
        if let Some(core) = self.core.as_mut() {
            let cmds = core.terminate();
            self.run(p, cmds).await;
        }
    }

    fn module(&self) -> Atom {
        atom_of("supervisor")
    }

    fn get_state(&self) -> Term {
        match &self.core {
            Some(c) => c.state_term(Term::Atom(self.module.clone()), self.args.clone()),
            None => atom("undefined"),
        }
    }

    fn format_status(&self) -> Vec<Term> {
        vec![
            term!({data, [{(charlist("State")), (self.get_state())}]}),
            term!({supervisor, [{(charlist("Callback")), (Term::Atom(self.module.clone()))}]}),
        ]
    }
}

fn atom_of(s: &str) -> Atom {
    Atom::from(s)
}
