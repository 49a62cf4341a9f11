//! The supervisor's decisions without IO: the children table, the
//! strategies and the restart intensity of `supervisor.erl`
//! (`init_children/2`, `restart_child/3`, `do_restart/3`, `restart/2,3`,
//! `restart_multiple_children/3`, `add_restart/1`, `terminate_children/2`,
//! the `handle_call/3` clauses), as a state machine fed child exits,
//! requests and an injected `now`, and emitting [`Cmd`]s.
//!
//! Starting and stopping a child takes IO, and what follows depends on
//! the result, so a [`Cmd::Start`] / [`Cmd::Stop`] / [`Cmd::StopAll`] is
//! always the last command of a batch: the driver performs it and feeds
//! the result back ([`Core::started`], [`Core::stopped`],
//! [`Core::stopped_all`]), which yields the next batch. `F` is the
//! driver's handle to a child's start function; the core only passes it
//! along.
//!
//! Children are kept in start order (OTP keeps their ids newest first;
//! `which_children` shows them newest first, and they stop newest first).
//! Time is counted in whole seconds since the core was made, as OTP counts
//! `erlang:monotonic_time(1)`.

use crate::term;
mod calls;
mod dynamic;

use super::spec::{AutoShutdown, ChildData, Restart, Shutdown, Strategy, SupFlags};
use crate::term::{Pid, Term, TermExt, atom, exact_eq, list, tuple, uint};
use std::collections::VecDeque;
use tokio::time::Instant;

/// A child's process (`#child.pid`).
#[derive(Debug, Clone, PartialEq)]
pub enum ChildPid {
    /// Not running (`undefined`).
    Undefined,
    /// Running.
    Running(Pid),
    /// A restart failed and will be tried again (`{restarting, OldPid}`).
    Restarting(Option<Pid>),
}

impl ChildPid {
    /// As the `#child{}` record holds it.
    pub fn to_term(&self) -> Term {
        match self {
            Self::Undefined => atom("undefined"),
            Self::Running(p) => Term::Pid(p.clone()),
            Self::Restarting(p) => tuple(vec![
                atom("restarting"),
                p.clone().map_or_else(|| atom("undefined"), Term::Pid),
            ]),
        }
    }

    /// `restarting/1`.
    fn restarting(&self) -> Self {
        match self {
            Self::Running(p) => Self::Restarting(Some(p.clone())),
            Self::Restarting(p) => Self::Restarting(p.clone()),
            Self::Undefined => Self::Restarting(None),
        }
    }
}

/// What a child's start function returned (`do_start_child_i/3`).
#[derive(Debug, Clone, PartialEq)]
pub enum StartOutcome {
    /// `{ok, Pid}`.
    Ok(Pid),
    /// `{ok, Pid, Info}`.
    OkInfo(Pid, Term),
    /// `ignore`.
    Ignore,
    /// `{error, Reason}` (or any other value, as `{error, Value}`).
    Error(Term),
}

impl StartOutcome {
    fn pid(&self) -> Option<&Pid> {
        match self {
            Self::Ok(p) | Self::OkInfo(p, _) => Some(p),
            _ => None,
        }
    }

    /// `{ok, Pid}` / `{ok, Pid, Info}` / `{ok, undefined}` for ignore /
    /// `{error, R}`.
    fn reply(&self) -> Term {
        match self {
            Self::Ok(p) => term!({ok, (Term::Pid(p.clone()))}),
            Self::OkInfo(p, i) => term!({ok, (Term::Pid(p.clone())), (i.clone())}),
            Self::Ignore => term!({ok, undefined}),
            Self::Error(r) => term!({error, (r.clone())}),
        }
    }
}

/// A supervisor report (`?report_error/4`, `report_progress/2`).
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Report {
    /// `PROGRESS REPORT`: a child started.
    Progress {
        /// `extract_child/1` of the child.
        started: Term,
    },
    /// `SUPERVISOR REPORT`.
    Error {
        /// `errorContext`: `start_error`, `child_terminated`, `shutdown`,
        /// `shutdown_error`.
        context: &'static str,
        /// `reason`.
        reason: Term,
        /// `offender`.
        offender: Term,
    },
}

/// What the driver does next.
#[derive(Debug)]
pub(crate) enum Cmd<F> {
    /// Log a report.
    Report(Report),
    /// Run a child's start function with `args`; then call [`Core::started`].
    Start {
        /// The start function's handle.
        start: F,
        /// `{M, F, A}` (for errors naming it).
        mfa: super::spec::Mfa,
    },
    /// Stop a child as `shutdown/1` does; then call [`Core::stopped`] with
    /// its exit reason.
    Stop {
        /// The child.
        pid: Pid,
        /// How.
        shutdown: Shutdown,
    },
    /// Stop these children at once (`terminate_dynamic_children/1`); then
    /// call [`Core::stopped_all`].
    StopAll {
        /// The children.
        pids: Vec<Pid>,
        /// How.
        shutdown: Shutdown,
    },
    /// `gen_server:cast(self(), {try_again_restart, Key})`.
    TryAgain(Term),
    /// Answer the call being handled.
    Reply(Term),
    /// The supervisor stops with this reason (from `init`: it fails with it).
    Exit(Term),
}

/// A child: its description, its start function, its process.
#[derive(Debug, Clone)]
pub(crate) struct Child<F> {
    /// The description.
    pub(crate) data: ChildData,
    /// The driver's start function handle.
    pub(crate) start: F,
    /// The process.
    pub(crate) pid: ChildPid,
}

/// A child of a `simple_one_for_one` supervisor: `Running` or
/// `{restarting, Pid}`, with its start arguments.
#[derive(Debug, Clone)]
struct Dyn {
    pid: ChildPid,
    args: Vec<Term>,
}

/// What the blocking command in flight is for.
#[derive(Debug, Clone)]
enum Op {
    Start(Term),
    Stop(Term),
    /// A dynamic child's start (`start_child(Sup, ExtraArgs)` or a restart).
    StartDyn {
        args: Vec<Term>,
        old: Option<ChildPid>,
    },
    StopDyn,
}

#[derive(Debug, Clone)]
enum Kind {
    Init,
    /// Stopping what `init` started, then failing with the reason.
    InitAbort(Term),
    /// A restart; `id` is the child that exited, `old` its pid then.
    Restart {
        id: Term,
        old: ChildPid,
    },
    StartChild,
    RestartChild,
    TerminateChild,
    DynStart,
    /// The supervisor terminates.
    Terminate,
}

#[derive(Debug)]
struct Job {
    kind: Kind,
    ops: VecDeque<Op>,
    current: Option<Op>,
}

/// The supervisor's state (`#state{}` of `supervisor.erl`).
#[derive(Debug)]
pub(crate) struct Core<F> {
    name: Term,
    flags: SupFlags,
    children: Vec<Child<F>>,
    dynamics: Vec<Dyn>,
    restarts: Vec<i64>,
    dynamic_restarts: u32,
    epoch: Instant,
    job: Option<Job>,
}

fn find<F>(children: &[Child<F>], id: &Term) -> Option<usize> {
    children.iter().position(|c| exact_eq(&c.data.id, id))
}

fn is_normal_exit(reason: &Term) -> bool {
    matches!(reason.as_atom(), Some("normal" | "shutdown"))
        || reason.tuple_tag() == Some("shutdown")
}

impl<F: Clone> Core<F> {
    /// A supervisor named `name` (`{local, Name}`, `{global, Name}` or
    /// `{Pid, Module}`) with its children in start order. For
    /// `simple_one_for_one`, `children` is the one template.
    pub(crate) fn new(
        name: Term,
        flags: SupFlags,
        children: Vec<(ChildData, F)>,
        now: Instant,
    ) -> Self {
        Self {
            name,
            flags,
            children: children
                .into_iter()
                .map(|(data, start)| Child {
                    data,
                    start,
                    pid: ChildPid::Undefined,
                })
                .collect(),
            dynamics: Vec::new(),
            restarts: Vec::new(),
            dynamic_restarts: 0,
            epoch: now,
            job: None,
        }
    }

    fn is_simple(&self) -> bool {
        self.flags.strategy == Strategy::SimpleOneForOne
    }

    /// The children, in start order.
    #[cfg(test)]
    pub(crate) fn children(&self) -> &[Child<F>] {
        &self.children
    }

    /// Pids of the running dynamic children of a `simple_one_for_one`.
    pub(crate) fn dynamic_pids(&self) -> Vec<Pid> {
        self.dynamics
            .iter()
            .filter_map(|d| match &d.pid {
                ChildPid::Running(p) => Some(p.clone()),
                _ => None,
            })
            .collect()
    }

    fn secs(&self, now: Instant) -> i64 {
        i64::try_from(now.saturating_duration_since(self.epoch).as_secs()).unwrap_or(i64::MAX)
    }

    fn error(context: &'static str, reason: Term, data: &ChildData, pid: Term) -> Cmd<F> {
        Cmd::Report(Report::Error {
            context,
            reason,
            offender: data.offender(pid),
        })
    }

    // ----- init and terminate -------------------------------------------

    /// `init_children/2`: starts the children in order.
    pub(crate) fn init(&mut self) -> Vec<Cmd<F>> {
        if self.is_simple() {
            return Vec::new();
        }
        let ops = self
            .children
            .iter()
            .map(|c| Op::Start(c.data.id.clone()))
            .collect();
        self.run(Kind::Init, ops)
    }

    /// `terminate/2`: stops every child, newest first (dynamic children
    /// all at once).
    pub(crate) fn terminate(&mut self) -> Vec<Cmd<F>> {
        if self.is_simple() {
            let pids = self.dynamic_pids();
            if pids.is_empty() {
                return Vec::new();
            }
            let shutdown = self.children[0].data.shutdown;
            self.job = Some(Job {
                kind: Kind::Terminate,
                ops: VecDeque::new(),
                current: Some(Op::StopDyn),
            });
            return vec![Cmd::StopAll { pids, shutdown }];
        }
        let ops = self
            .children
            .iter()
            .rev()
            .map(|c| Op::Stop(c.data.id.clone()))
            .collect();
        self.run(Kind::Terminate, ops)
    }

    // ----- the job machine ----------------------------------------------

    fn run(&mut self, kind: Kind, ops: VecDeque<Op>) -> Vec<Cmd<F>> {
        self.job = Some(Job {
            kind,
            ops,
            current: None,
        });
        self.advance(Vec::new())
    }

    /// Performs the job's next operations until one needs IO.
    fn advance(&mut self, mut out: Vec<Cmd<F>>) -> Vec<Cmd<F>> {
        loop {
            let Some(job) = self.job.as_mut() else {
                return out;
            };
            let Some(op) = job.ops.pop_front() else {
                let kind = job.kind.clone();
                self.job = None;
                if let Kind::InitAbort(reason) = kind {
                    out.push(Cmd::Exit(reason));
                }
                return out;
            };
            match &op {
                Op::Start(id) => {
                    let Some(i) = find(&self.children, id) else {
                        continue;
                    };
                    let c = &self.children[i];
                    out.push(Cmd::Start {
                        start: c.start.clone(),
                        mfa: c.data.mfa.clone(),
                    });
                }
                Op::Stop(id) => {
                    let Some(i) = find(&self.children, id) else {
                        continue;
                    };
                    match &self.children[i].pid {
                        ChildPid::Running(pid) => out.push(Cmd::Stop {
                            pid: pid.clone(),
                            shutdown: self.children[i].data.shutdown,
                        }),
                        _ => {
                            self.after_stop(i);
                            continue;
                        }
                    }
                }
                Op::StartDyn { .. } | Op::StopDyn => {}
            }
            if let Some(job) = self.job.as_mut() {
                job.current = Some(op);
            }
            return out;
        }
    }

    /// `terminate_children/2`'s update after a child stopped: a temporary
    /// child is removed, any other is kept without a process.
    fn after_stop(&mut self, i: usize) {
        if self.children[i].data.restart == Restart::Temporary {
            self.children.remove(i);
        } else {
            self.children[i].pid = ChildPid::Undefined;
        }
    }

    /// The result of the [`Cmd::Stop`] in flight: the child's exit reason.
    pub(crate) fn stopped(&mut self, reason: Term) -> Vec<Cmd<F>> {
        let Some(Op::Stop(id)) = self.job.as_mut().and_then(|j| j.current.take()) else {
            return Vec::new();
        };
        let mut out = Vec::new();
        if let Some(i) = find(&self.children, &id) {
            let c = &self.children[i];
            if let Err(r) = shutdown_result(c.data.restart, c.data.shutdown, &reason) {
                out.push(Self::error("shutdown_error", r, &c.data, c.pid.to_term()));
            }
            self.after_stop(i);
            if matches!(
                self.job.as_ref().map(|j| &j.kind),
                Some(Kind::TerminateChild)
            ) {
                out.push(Cmd::Reply(atom("ok")));
            }
        }
        self.advance(out)
    }

    /// The result of the [`Cmd::StopAll`] in flight: each child's exit reason.
    pub(crate) fn stopped_all(&mut self, results: Vec<(Pid, Term)>) -> Vec<Cmd<F>> {
        let Some(job) = self.job.take() else {
            return Vec::new();
        };
        let reply = matches!(job.kind, Kind::TerminateChild);
        let data = self.children[0].data.clone();
        // maps_prepend/3: the children that failed, grouped by reason.
        let mut errors: Vec<(Term, Vec<Pid>)> = Vec::new();
        for (pid, reason) in results {
            self.dynamics
                .retain(|d| d.pid != ChildPid::Running(pid.clone()));
            if shutdown_result(data.restart, data.shutdown, &reason).is_ok() {
                continue;
            }
            match errors.iter_mut().find(|(r, _)| exact_eq(r, &reason)) {
                Some((_, v)) => v.insert(0, pid),
                None => errors.push((reason, vec![pid])),
            }
        }
        let mut out: Vec<Cmd<F>> = errors
            .into_iter()
            .map(|(reason, pids)| {
                let offender = list(vec![
                    term!({nb_children, (uint(pids.len() as u64))}),
                    term!({id, (data.id.clone())}),
                    term!({mfargs, (data.mfa.to_term())}),
                    term!({restart_type, (atom(data.restart.as_str()))}),
                    term!({significant, (crate::term::boolean(data.significant))}),
                    term!({shutdown, (data.shutdown.to_term())}),
                    term!({child_type, (atom(data.child_type.as_str()))}),
                ]);
                Cmd::Report(Report::Error {
                    context: "shutdown_error",
                    reason,
                    offender,
                })
            })
            .collect();
        if reply {
            out.push(Cmd::Reply(atom("ok")));
        }
        out
    }

    /// The result of the [`Cmd::Start`] in flight.
    pub(crate) fn started(&mut self, outcome: StartOutcome, now: Instant) -> Vec<Cmd<F>> {
        let _ = now;
        let Some(job) = self.job.as_mut() else {
            return Vec::new();
        };
        let kind = job.kind.clone();
        match job.current.take() {
            Some(Op::Start(id)) => self.child_started(kind, id, outcome),
            Some(Op::StartDyn { args, old }) => self.dyn_started(args, old, outcome),
            _ => Vec::new(),
        }
    }

    fn child_started(&mut self, kind: Kind, id: Term, outcome: StartOutcome) -> Vec<Cmd<F>> {
        let mut out = Vec::new();
        let Some(i) = find(&self.children, &id) else {
            return self.advance(out);
        };
        if let Some(pid) = outcome.pid() {
            out.push(Cmd::Report(Report::Progress {
                started: self.children[i].data.offender(Term::Pid(pid.clone())),
            }));
        }
        match (&kind, outcome) {
            (Kind::StartChild, StartOutcome::Error(what)) => {
                let rec = self.children[i].data.record(atom("undefined"));
                self.children.remove(i);
                out.push(Cmd::Reply(term!({error, {(what), (rec)}})));
            }
            (Kind::StartChild, StartOutcome::Ignore)
                if self.children[i].data.restart == Restart::Temporary =>
            {
                self.children.remove(i);
                out.push(Cmd::Reply(StartOutcome::Ignore.reply()));
            }
            (Kind::StartChild | Kind::RestartChild, o) => {
                if let (Kind::RestartChild, StartOutcome::Error(_)) = (&kind, &o) {
                    out.push(Cmd::Reply(o.reply()));
                    return self.advance(out);
                }
                self.children[i].pid = o
                    .pid()
                    .cloned()
                    .map_or(ChildPid::Undefined, ChildPid::Running);
                if self.children[i].data.restart == Restart::Temporary {
                    // save_child/2: a temporary child's arguments are not kept.
                    self.children[i].data.mfa.args = None;
                }
                out.push(Cmd::Reply(o.reply()));
            }
            (_, StartOutcome::Error(reason)) => {
                let c = &self.children[i];
                out.push(Self::error(
                    "start_error",
                    reason.clone(),
                    &c.data,
                    atom("undefined"),
                ));
                let failed = term!({failed_to_start_child, (id.clone()), (reason)});
                match kind {
                    Kind::Init => {
                        // Stop what started, newest first, then fail.
                        let ops = self.children[..i]
                            .iter()
                            .rev()
                            .map(|c| Op::Stop(c.data.id.clone()))
                            .collect();
                        let reason = term!({shutdown, (failed)});
                        self.job = Some(Job {
                            kind: Kind::InitAbort(reason),
                            ops,
                            current: None,
                        });
                    }
                    Kind::Restart { id: crashed, old } => {
                        self.children[i].pid = if exact_eq(&crashed, &id) {
                            old.restarting()
                        } else {
                            ChildPid::Restarting(None)
                        };
                        self.job = None;
                        out.push(Cmd::TryAgain(id));
                    }
                    _ => {}
                }
            }
            (_, StartOutcome::Ignore) if self.children[i].data.restart == Restart::Temporary => {
                self.children.remove(i);
            }
            (_, o) => {
                self.children[i].pid = o
                    .pid()
                    .cloned()
                    .map_or(ChildPid::Undefined, ChildPid::Running);
            }
        }
        self.advance(out)
    }

    // ----- child exits ----------------------------------------------------

    /// `{'EXIT', Pid, Reason}` (`restart_child/3`): an unknown pid is
    /// ignored.
    pub(crate) fn exit(&mut self, pid: &Pid, reason: Term, now: Instant) -> Vec<Cmd<F>> {
        if self.is_simple() {
            let Some(d) = self
                .dynamics
                .iter()
                .position(|d| d.pid == ChildPid::Running(pid.clone()))
            else {
                return Vec::new();
            };
            return self.dyn_restart(d, Some(reason), now);
        }
        let Some(i) = self
            .children
            .iter()
            .position(|c| c.pid == ChildPid::Running(pid.clone()))
        else {
            return Vec::new();
        };
        let c = &self.children[i];
        let (restart, normal) = (c.data.restart, is_normal_exit(&reason));
        let mut out = Vec::new();
        if !normal || restart == Restart::Permanent {
            out.push(Self::error(
                "child_terminated",
                reason,
                &c.data,
                c.pid.to_term(),
            ));
        }
        match (restart, normal) {
            (Restart::Permanent, _) | (Restart::Transient, false) => {
                out.extend(self.restart(i, now));
                out
            }
            _ => {
                let significant = c.data.significant;
                self.after_stop(i);
                out.extend(self.auto_shutdown(significant));
                out
            }
        }
    }

    /// `do_auto_shutdown/2`.
    fn auto_shutdown(&self, significant: bool) -> Vec<Cmd<F>> {
        if !significant {
            return Vec::new();
        }
        let shut = match self.flags.auto_shutdown {
            AutoShutdown::Never => false,
            AutoShutdown::AnySignificant => true,
            AutoShutdown::AllSignificant if self.is_simple() => self.dynamics.is_empty(),
            AutoShutdown::AllSignificant => !self
                .children
                .iter()
                .any(|c| c.pid != ChildPid::Undefined && c.data.significant),
        };
        if shut {
            vec![Cmd::Exit(atom("shutdown"))]
        } else {
            Vec::new()
        }
    }

    /// `add_restart/1`: whether one more restart stays within the intensity.
    fn add_restart(&mut self, now: Instant) -> bool {
        let now = self.secs(now);
        let threshold = now - i64::from(self.flags.period);
        let keep = self
            .restarts
            .iter()
            .take_while(|r| **r >= threshold)
            .count();
        self.restarts.truncate(keep);
        self.restarts.insert(0, now);
        self.restarts.len() <= self.flags.intensity as usize
    }

    /// `restart/2` for child `i`.
    fn restart(&mut self, i: usize, now: Instant) -> Vec<Cmd<F>> {
        if !self.add_restart(now) {
            let c = &self.children[i];
            let out = vec![
                Self::error(
                    "shutdown",
                    atom("reached_max_restart_intensity"),
                    &c.data,
                    c.pid.to_term(),
                ),
                Cmd::Exit(atom("shutdown")),
            ];
            self.after_stop(i);
            return out;
        }
        let id = self.children[i].data.id.clone();
        let old = self.children[i].pid.clone();
        let affected = match self.flags.strategy {
            Strategy::OneForOne | Strategy::SimpleOneForOne => {
                return self.run(
                    Kind::Restart {
                        id: id.clone(),
                        old,
                    },
                    [Op::Start(id)].into(),
                );
            }
            Strategy::RestForOne => i..self.children.len(),
            Strategy::OneForAll => 0..self.children.len(),
        };
        // del_child/2 / split_child/2: the exited child has no process now.
        self.children[i].pid = ChildPid::Undefined;
        let ids: Vec<Term> = self.children[affected]
            .iter()
            .map(|c| c.data.id.clone())
            .collect();
        // restart_multiple_children/3: stop newest first (temporary children
        // go), then start in order what is left.
        let mut ops: VecDeque<Op> = ids.iter().rev().cloned().map(Op::Stop).collect();
        ops.extend(ids.into_iter().map(Op::Start));
        self.run(Kind::Restart { id, old }, ops)
    }

    /// `{try_again_restart, Key}` (Key = a child id, or `{restarting, Pid}`
    /// for a dynamic child).
    pub(crate) fn try_again(&mut self, key: &Term, now: Instant) -> Vec<Cmd<F>> {
        if self.is_simple() {
            let Some([_, Term::Pid(p)]) = key.as_tuple() else {
                return Vec::new();
            };
            let Some(d) = self
                .dynamics
                .iter()
                .position(|d| d.pid == ChildPid::Restarting(Some(p.clone())))
            else {
                return Vec::new();
            };
            return self.dyn_restart(d, None, now);
        }
        match find(&self.children, key) {
            Some(i) if matches!(self.children[i].pid, ChildPid::Restarting(_)) => {
                self.restart(i, now)
            }
            _ => Vec::new(),
        }
    }
}

fn error_atom(a: &str) -> Term {
    term!({error, (atom(a))})
}

/// `shutdown/1`'s verdict on a child's exit reason.
pub(crate) fn shutdown_result(
    restart: Restart,
    shutdown: Shutdown,
    reason: &Term,
) -> Result<(), Term> {
    let permanent = restart == Restart::Permanent;
    let ok = match (reason.as_atom(), reason.tuple_tag()) {
        (Some("killed"), _) => shutdown == Shutdown::BrutalKill,
        (Some("shutdown"), _) => shutdown != Shutdown::BrutalKill || !permanent,
        (Some("normal"), _) | (_, Some("shutdown")) => !permanent,
        _ => false,
    };
    if ok { Ok(()) } else { Err(reason.clone()) }
}
