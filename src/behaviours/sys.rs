//! `sys` — mirrors `lib/stdlib/src/sys.erl`: the system messages
//! (`{system, From, Request}`) that every behaviour process answers, and
//! the debug options they switch (`trace`, `log`, `statistics`).
//!
//! Written once and used by [`super::gen_server`] (and so by
//! [`super::supervisor`], which is a gen_server as in OTP):
//!
//! ```text
//!  sys:get_state/1      get_state               → {ok, State} (State to OTP ≤ 26 callers)
//!  sys:replace_state/2  {replace_state, Fun}    → {ok, Fun(State)}, the fun run on the caller's node
//!  sys:get_status/1     get_status              → {status, Pid, {module, gen_server}, [PDict, running|suspended, Parent, Debug, Misc]}
//!  sys:suspend/1        suspend                 → ok; then only system messages (and the parent's EXIT) are handled
//!  sys:resume/1         resume                  → ok
//!  sys:statistics/2     {debug, {statistics, true|false|get}}
//!  sys:trace/2          {debug, {trace, Bool}}  → *DBG* lines in this node's log
//!  sys:log/2            {debug, {log, true|{true,N}|false|get|print}}
//!  sys:no_debug/1       {debug, no_debug}
//!  sys:terminate/2      {terminate, Reason}     → the behaviour terminates
//!  anything else        → {error, {unknown_system_msg, Request}} ({debug, _}: unknown_debug)
//! ```
//!
//! OTP 27 changed the replies to `get_state` and `replace_state` from the
//! bare state to `{ok, State}` (and `sys` of 27+ accepts nothing else), so
//! the answer follows the caller's release, which its node tells once by
//! erpc (`erlang:system_info(otp_release)`); a node that does not say (a
//! distro node) gets the current form.
//!
//! A Rust process cannot run an Erlang fun, so `replace_state` applies the
//! fun where it came from: `erlang:apply(Fun, [State])` by erpc on the
//! caller's node, which has the fun's code (see [`crate::kernel::erpc`]).
//! A failure gives OTP's `{error, {callback_failed, {gen_server,
//! system_replace_state}, {Class, Reason}}}`. Statistics count messages
//! in and out as OTP does; a Rust process has no reduction counter, so
//! `reductions` is 0. Not supported (answered as OTP answers what it cannot
//! do): `log_to_file` (`{error, open_file}`), `install` of debug funs
//! (`unknown_debug`), `change_code` (a Rust server has no `code_change/3`:
//! `{error, {'EXIT', {undef, …}}}`).
//!
//! A peer's `{log, {true, N}}` keeps at most 10 000 events (OTP keeps N).
//!
//! The client side ([`get_state`], [`get_status`], [`suspend`], [`resume`],
//! [`replace_state`], [`statistics`], [`trace`], [`send_system_msg`]) works
//! toward BEAM and Rust processes alike.

use super::Timeout;
use super::gen_server::{CallExit, ServerRef};
use crate::runtime::{GenFrom, Process};
use crate::term;
use crate::term::{Atom, Pid, Pretty, Term, TermExt, atom, charlist, int, list, uint};
use std::collections::VecDeque;

/// The most events `{log, {true, N}}` keeps, whatever `N` a peer asks for.
const MAX_LOG: usize = 10_000;

/// The debug and suspension state of one behaviour process (OTP's
/// `SysState` and `Debug`).
#[derive(Debug, Default)]
pub struct Sys {
    suspended: bool,
    /// Installed debug options, newest first (`install_debug/3` prepends).
    opts: Vec<DebugOpt>,
}

#[derive(Debug)]
enum DebugOpt {
    Trace,
    Log { max: usize, events: VecDeque<Term> },
    Statistics(Stats),
}

impl DebugOpt {
    fn key(&self) -> &'static str {
        match self {
            Self::Trace => "trace",
            Self::Log { .. } => "log",
            Self::Statistics(_) => "statistics",
        }
    }
}

#[derive(Debug, Clone)]
struct Stats {
    start_time: Term,
    messages_in: u64,
    messages_out: u64,
}

/// A debug event of a gen_server (`sys:handle_debug/4`'s `Event`).
#[derive(Debug, Clone)]
pub enum Event {
    /// `{in, Msg}`: a message (or `{continue, C}`, or `timeout`) arrived.
    In(Term),
    /// `{out, Reply, {To, Tag}, State}`: a reply went out.
    Out {
        /// The reply.
        reply: Term,
        /// Who it went to.
        to: GenFrom,
        /// The state after the callback.
        state: Term,
    },
    /// `{noreply, State}`: a callback returned without a reply.
    NoReply(Term),
}

impl Event {
    fn to_term(&self) -> Term {
        match self {
            Self::In(m) => term!({in, (m.clone())}),
            Self::Out { reply, to, state } => {
                term!({out, (reply.clone()), {(Term::Pid(to.pid.clone())), (to.tag.clone())}, (state.clone())})
            }
            Self::NoReply(s) => term!({noreply, (s.clone())}),
        }
    }
}

/// `gen_server:print_event/3`: the `*DBG*` line of an event.
fn print_event(name: &Term, ev: &Term) {
    let n = Pretty(name);
    let line = match ev.as_tuple() {
        Some([t, m]) if t.as_atom() == Some("in") => match m.as_tuple() {
            Some([c, from, req]) if c.as_atom() == Some("$gen_call") => format!(
                "*DBG* {n} got call {} from {}",
                Pretty(req),
                Pretty(from.elem(0).unwrap_or(from))
            ),
            Some([c, req]) if c.as_atom() == Some("$gen_cast") => {
                format!("*DBG* {n} got cast {}", Pretty(req))
            }
            _ => format!("*DBG* {n} got {}", Pretty(m)),
        },
        Some([t, reply, to, state]) if t.as_atom() == Some("out") => format!(
            "*DBG* {n} sent {} to {}, new state {}",
            Pretty(reply),
            Pretty(to.elem(0).unwrap_or(to)),
            Pretty(state)
        ),
        Some([t, state]) if t.as_atom() == Some("noreply") => {
            format!("*DBG* {n} new state {}", Pretty(state))
        }
        _ => format!("*DBG* {n} dbg  {}", Pretty(ev)),
    };
    tracing::info!("{line}");
}

/// `erlang:localtime()` as `{{Y, M, D}, {H, Mi, S}}`.
fn localtime() -> Term {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let t = libc::time_t::try_from(now).unwrap_or(0);
    // SAFETY: localtime_r writes only into `tm`, which lives on this stack.
    let mut tm: libc::tm = unsafe { std::mem::zeroed() };
    // SAFETY: both pointers are valid for the duration of the call.
    let ok = !unsafe { libc::localtime_r(&t, &mut tm) }.is_null();
    if !ok {
        return term!({{1970, 1, 1}, {0, 0, 0}});
    }
    term!({{(int(i64::from(tm.tm_year) + 1900)), (int(i64::from(tm.tm_mon) + 1)), (int(i64::from(tm.tm_mday)))}, {(int(i64::from(tm.tm_hour))), (int(i64::from(tm.tm_min))), (int(i64::from(tm.tm_sec)))}})
}

impl Sys {
    /// Whether `sys:suspend/1` suspended the process.
    pub fn is_suspended(&self) -> bool {
        self.suspended
    }

    /// Whether any debug option is installed (OTP's `Debug =/= []`).
    pub fn is_debugging(&self) -> bool {
        !self.opts.is_empty()
    }

    /// `sys:handle_debug/4`: records an event for every installed option.
    /// `name` is the server's name as `print_event` shows it.
    pub fn event(&mut self, name: &Term, event: &Event) {
        if self.opts.is_empty() {
            return;
        }
        let ev = event.to_term();
        for o in &mut self.opts {
            match o {
                DebugOpt::Trace => print_event(name, &ev),
                DebugOpt::Log { max, events } => {
                    events.push_back(ev.clone());
                    while events.len() > *max {
                        events.pop_front();
                    }
                }
                DebugOpt::Statistics(s) => match event {
                    Event::In(_) => s.messages_in += 1,
                    Event::Out { .. } => s.messages_out += 1,
                    Event::NoReply(_) => {}
                },
            }
        }
    }

    /// `sys:get_log/1`: the logged events, oldest first.
    pub fn log(&self) -> Vec<Term> {
        self.opts
            .iter()
            .find_map(|o| match o {
                DebugOpt::Log { events, .. } => Some(events.iter().cloned().collect()),
                _ => None,
            })
            .unwrap_or_default()
    }

    /// The `Debug` element of `sys:get_status/1`: the installed options.
    fn debug_term(&self) -> Term {
        list(
            self.opts
                .iter()
                .map(|o| {
                    let v = match o {
                        DebugOpt::Trace => atom("true"),
                        DebugOpt::Log { events, .. } => list(events.iter().cloned().collect()),
                        DebugOpt::Statistics(s) => stat_term(s),
                    };
                    term!({(atom(o.key())), (v)})
                })
                .collect(),
        )
    }

    fn install(&mut self, o: DebugOpt) {
        if !self.opts.iter().any(|x| x.key() == o.key()) {
            self.opts.insert(0, o);
        }
    }

    fn remove(&mut self, key: &str) {
        if let Some(i) = self.opts.iter().position(|o| o.key() == key) {
            self.opts.remove(i);
        }
    }

    /// `sys:debug_cmd/2`.
    pub(super) fn debug_cmd(&mut self, name: &Term, what: &Term) -> Term {
        let ok = atom("ok");
        let (cmd, arg) = match what.as_tuple() {
            Some([c, a]) => (c.as_atom().unwrap_or(""), a),
            _ if what.as_atom() == Some("no_debug") => {
                self.opts.clear();
                return ok;
            }
            _ => return atom("unknown_debug"),
        };
        match (cmd, arg.as_atom(), arg.as_tuple()) {
            ("trace", Some("true"), _) => self.install(DebugOpt::Trace),
            ("trace", Some("false"), _) => self.remove("trace"),
            ("log", Some("true"), _) => self.set_log(10),
            ("log", _, Some([t, n])) if t.as_atom() == Some("true") => {
                match n.as_i64().and_then(|n| usize::try_from(n).ok()) {
                    Some(n) if n >= 1 => self.set_log(n.min(MAX_LOG)),
                    _ => return atom("unknown_debug"),
                }
            }
            ("log", Some("false"), _) => self.remove("log"),
            ("log", Some("print"), _) => {
                for ev in self.log() {
                    print_event(name, &ev);
                }
            }
            ("log", Some("get"), _) => return term!({ok, (list(self.log()))}),
            ("log_to_file", Some("false"), _) => {}
            // A Rust node writes no files for a peer.
            ("log_to_file", _, _) => {
                return term!({error, open_file});
            }
            ("statistics", Some("true"), _) => self.install(DebugOpt::Statistics(Stats {
                start_time: localtime(),
                messages_in: 0,
                messages_out: 0,
            })),
            ("statistics", Some("false"), _) => self.remove("statistics"),
            ("statistics", Some("get"), _) => {
                let s = self.opts.iter().find_map(|o| match o {
                    DebugOpt::Statistics(s) => Some(s),
                    _ => None,
                });
                let v = match s {
                    Some(s) => list(vec![
                        term!({start_time, (s.start_time.clone())}),
                        term!({current_time, (localtime())}),
                        term!({reductions, 0}),
                        term!({messages_in, (uint(s.messages_in))}),
                        term!({messages_out, (uint(s.messages_out))}),
                    ]),
                    None => atom("no_statistics"),
                };
                return term!({ok, (v)});
            }
            // Nothing installed by `install` can exist here.
            ("remove", _, _) => {}
            _ => return atom("unknown_debug"),
        }
        ok
    }

    fn set_log(&mut self, max: usize) {
        let mut events: VecDeque<Term> = self.log().into();
        while events.len() > max {
            events.pop_front();
        }
        self.remove("log");
        self.opts.insert(0, DebugOpt::Log { max, events });
    }
}

fn stat_term(s: &Stats) -> Term {
    term!({(s.start_time.clone()), {reductions, 0}, (uint(s.messages_in)), (uint(s.messages_out))})
}

/// A `{system, From, Request}` message.
#[derive(Debug, Clone, PartialEq)]
pub struct SystemMsg {
    /// The caller (`From` of `gen:call/4` with label `system`).
    pub from: GenFrom,
    /// The request.
    pub request: Term,
}

impl SystemMsg {
    /// Recognises `{system, {Pid, Tag}, Request}`.
    pub fn parse(msg: &Term) -> Option<Self> {
        let [tag, from, request] = msg.as_tuple()? else {
            return None;
        };
        if tag.as_atom() != Some("system") {
            return None;
        }
        let [Term::Pid(pid), tag] = from.as_tuple()? else {
            return None;
        };
        Some(Self {
            from: GenFrom {
                pid: pid.clone(),
                tag: tag.clone(),
            },
            request: request.clone(),
        })
    }
}

/// What a behaviour offers to the system message handler (OTP's
/// `system_get_state/1`, `system_replace_state/2`, `format_status/2`).
pub(crate) trait SysTarget: Send {
    /// The state `sys:get_state/1` returns.
    fn sys_get_state(&self) -> Term;
    /// Installs a state computed by `sys:replace_state/2`'s fun.
    fn sys_replace_state(&mut self, state: Term) -> Result<(), Term>;
    /// The behaviour-specific part of `get_status`'s `Misc`.
    fn sys_format_status(&self) -> Vec<Term>;
    /// The module shown in a failed `code_change`.
    fn sys_module(&self) -> Term;
}

/// Who the process is, for `get_status`.
pub(crate) struct SysCtx<'a> {
    /// The name shown in the header (a registered name, or the pid).
    pub(crate) name: &'a Term,
    /// The parent (the process itself when it has none).
    pub(crate) parent: &'a Pid,
    /// The header's tag line, e.g. `Status for generic server`.
    pub(crate) header: &'a str,
}

/// What the process does after a system message.
pub(crate) enum SysOutcome {
    /// Go on (suspended or not: see [`Sys::is_suspended`]).
    Continue,
    /// `{terminate, Reason}`: terminate, then answer `ok` to `from`.
    Terminate {
        /// The reason.
        reason: Term,
        /// Who to answer once terminated.
        from: GenFrom,
    },
}

/// `gen:format_status_header/2`.
pub(super) fn header(tag: &str, name: &Term) -> Term {
    match name {
        Term::Pid(p) => charlist(&format!("{tag} <0.{}.{}>", p.id, p.serial)),
        Term::Atom(a) => charlist(&format!("{tag} {}", a.name)),
        other => term!({(charlist(tag)), (other.clone())}),
    }
}

/// `sys:handle_system_msg/6`: answers one system message.
pub(crate) async fn handle_system_msg(
    p: &mut Process,
    sys: &mut Sys,
    target: &mut dyn SysTarget,
    ctx: &SysCtx<'_>,
    msg: SystemMsg,
) -> SysOutcome {
    let SystemMsg { from, request } = msg;
    let reply = match (request.as_atom(), request.as_tuple()) {
        (Some("suspend"), _) => {
            sys.suspended = true;
            atom("ok")
        }
        (Some("resume"), _) => {
            sys.suspended = false;
            atom("ok")
        }
        (Some("get_state"), _) => {
            let state = target.sys_get_state();
            if wraps_state(p, &from.pid.node, from.pid.creation).await {
                term!({ok, (state)})
            } else {
                state
            }
        }
        (Some("get_status"), _) => status(p, sys, target, ctx),
        (_, Some([t, fun])) if t.as_atom() == Some("replace_state") => {
            replace(p, target, &from, fun).await
        }
        (_, Some([t, what])) if t.as_atom() == Some("debug") => sys.debug_cmd(ctx.name, what),
        (_, Some([t, reason])) if t.as_atom() == Some("terminate") => {
            return SysOutcome::Terminate {
                reason: reason.clone(),
                from,
            };
        }
        (_, Some([t, _module, vsn, extra]))
            if t.as_atom() == Some("change_code") && sys.suspended =>
        {
            // gen_server:system_code_change/4 calls Mod:code_change/3,
            // which a Rust server does not have.
            let undef = term!({undef, [{(target.sys_module()), code_change, [(vsn.clone()), (target.sys_get_state()), (extra.clone())], []}]});
            term!({error, {EXIT, (undef)}})
        }
        _ => term!({error, {unknown_system_msg, (request.clone())}}),
    };
    p.reply(&from, reply);
    SysOutcome::Continue
}

/// `sys:get_status/5` with `gen_server:format_status/2`.
fn status(p: &Process, sys: &Sys, target: &dyn SysTarget, ctx: &SysCtx<'_>) -> Term {
    let pdict = list(
        p.get_dictionary()
            .into_iter()
            .map(|(k, v)| term!({(k), (v)}))
            .collect(),
    );
    let sys_state = atom(if sys.suspended {
        "suspended"
    } else {
        "running"
    });
    let parent = Term::Pid(ctx.parent.clone());
    let mut misc = vec![
        term!({header, (header(ctx.header, ctx.name))}),
        term!({data, [{(charlist("Status")), (sys_state.clone())}, {(charlist("Parent")), (parent.clone())}, {(charlist("Logged events")), (list(sys.log()))}]}),
    ];
    misc.extend(target.sys_format_status());
    term!({status, (Term::Pid(p.pid().clone())), {module, gen_server}, [(pdict), (sys_state), (parent), (sys.debug_term()), (list(misc))]})
}

/// `{replace_state, StateFun}`: `StateFun(State)` on the caller's node.
async fn replace(p: &mut Process, target: &mut dyn SysTarget, from: &GenFrom, fun: &Term) -> Term {
    let failed = |class: &str, reason: Term| term!({error, {callback_failed, {gen_server, system_replace_state}, {(atom(class)), (reason)}}});
    let state = target.sys_get_state();
    let node = from.pid.node.name.clone();
    let args = vec![fun.clone(), list(vec![state])];
    use crate::kernel::erpc::{self, ErpcError};
    let new = match erpc::call(p, &node, "erlang", "apply", args, Timeout::DEFAULT).await {
        Ok(v) => v,
        Err(ErpcError::Throw(v)) => return failed("throw", v),
        Err(ErpcError::Exit(r)) => return failed("exit", r),
        Err(ErpcError::Error { reason, .. }) => return failed("error", reason),
        Err(e @ (ErpcError::Erpc(_) | ErpcError::Signal(_))) => {
            return failed("error", e.reason());
        }
    };
    match target.sys_replace_state(new.clone()) {
        Ok(()) if wraps_state(p, &from.pid.node, from.pid.creation).await => {
            term!({ok, (new)})
        }
        Ok(()) => new,
        Err(reason) => failed("error", reason),
    }
}

/// `{Node, Creation}` of a node incarnation.
type NodeKey = (String, u32);

/// Releases of the nodes asked (bounded).
static RELEASES: std::sync::Mutex<Vec<(NodeKey, Option<u32>)>> = std::sync::Mutex::new(Vec::new());

/// The OTP release of `node` (incarnation `creation`; 0 when unknown), as
/// it says itself (`erlang:system_info(otp_release)` by erpc, asked once);
/// `None` for this node and nodes that do not say (distro nodes).
async fn release_of(p: &mut Process, node: &Atom, creation: u32) -> Option<u32> {
    if node == p.node().name() {
        return None;
    }
    let key = (node.name.clone(), creation);
    let lock = || RELEASES.lock().unwrap_or_else(|e| e.into_inner());
    if let Some((_, r)) = lock().iter().find(|(k, _)| *k == key) {
        return *r;
    }
    let args = vec![atom("otp_release")];
    let r = crate::kernel::erpc::call(
        p,
        &node.name,
        "erlang",
        "system_info",
        args,
        Timeout::DEFAULT,
    )
    .await
    .ok()
    .and_then(|t| t.as_text())
    .and_then(|t| t.parse::<u32>().ok());
    let mut l = lock();
    if l.len() >= 1024 {
        l.clear();
    }
    l.push((key, r));
    r
}

/// Whether `node` expects OTP 27+'s replies to `get_state` and
/// `replace_state` (`{ok, State}`; up to OTP 26 the bare state). A node
/// that does not tell its release gets the current form.
async fn wraps_state(p: &mut Process, node: &Atom, creation: u32) -> bool {
    release_of(p, node, creation).await.is_none_or(|r| r >= 27)
}

/// The state in a `get_state` / `replace_state` reply from `server`.
async fn unwrap_state(p: &mut Process, server: &ServerRef, reply: Term) -> Result<Term, Term> {
    let at = match server {
        ServerRef::Pid(pid) => Some((pid.node.clone(), pid.creation)),
        ServerRef::Remote(_, n) => Some((n.clone(), 0)),
        ServerRef::Via(reg, n) => reg
            .whereis_name(n)
            .map(|pid| (pid.node.clone(), pid.creation)),
        ServerRef::Local(_) => None,
    };
    let wrapped = match at {
        Some((node, creation)) => wraps_state(p, &node, creation).await,
        None => true,
    };
    match reply.as_tuple() {
        Some([t, v]) if wrapped && t.as_atom() == Some("ok") => Ok(v.clone()),
        Some([t, r]) if t.as_atom() == Some("error") => Err(r.clone()),
        _ => Ok(reply),
    }
}

/// `sys:send_system_msg/3`: a `gen:call(Server, system, Request,
/// Timeout)`. Errors are the exit of `sys:Function`, `{Reason, {sys,
/// Function, [Server | Args]}}` (see [`CallExit`]).
pub async fn send_system_msg(
    p: &mut Process,
    server: impl Into<ServerRef>,
    request: Term,
    timeout: impl Into<Timeout>,
) -> Result<Term, CallExit> {
    let server = server.into();
    let timeout = timeout.into();
    let (function, mut args) = mfa(&server.to_term(), &request);
    args.push(timeout.to_term());
    super::gen_server::system_call(p, &server, request, timeout)
        .await
        .map_err(|reason| CallExit {
            reason,
            module: "sys",
            function,
            args,
        })
}

/// `sys:mfa/2`: the function and arguments an exit names.
pub(super) fn mfa(name: &Term, req: &Term) -> (&'static str, Vec<Term>) {
    let f = |s: &str| -> &'static str {
        match s {
            "trace" => "trace",
            "log" => "log",
            "statistics" => "statistics",
            "log_to_file" => "log_to_file",
            "install" => "install",
            "remove" => "remove",
            "get_state" => "get_state",
            "get_status" => "get_status",
            "suspend" => "suspend",
            "resume" => "resume",
            "replace_state" => "replace_state",
            "terminate" => "terminate",
            "change_code" => "change_code",
            _ => "send_system_msg",
        }
    };
    match (req.as_atom(), req.as_tuple()) {
        (Some(a), _) => (f(a), vec![name.clone()]),
        (_, Some([t, inner])) if t.as_atom() == Some("debug") => match inner.as_tuple() {
            Some([g, arg]) => (
                f(g.as_atom().unwrap_or("")),
                vec![name.clone(), arg.clone()],
            ),
            _ => ("send_system_msg", vec![name.clone(), req.clone()]),
        },
        (_, Some([t, rest @ ..])) => {
            let mut a = vec![name.clone()];
            a.extend(rest.iter().cloned());
            (f(t.as_atom().unwrap_or("")), a)
        }
        _ => ("send_system_msg", vec![name.clone(), req.clone()]),
    }
}

/// `sys:get_state(Name, Timeout)`: the state, from a server of any OTP
/// release (27+ answer `{ok, State}`, earlier ones the bare state). A
/// server that reports an error gives a [`CallExit`] with its reason.
pub async fn get_state(
    p: &mut Process,
    server: impl Into<ServerRef>,
    timeout: impl Into<Timeout>,
) -> Result<Term, CallExit> {
    let server = server.into();
    let timeout = timeout.into();
    let r = send_system_msg(p, server.clone(), atom("get_state"), timeout).await?;
    unwrap_state(p, &server, r)
        .await
        .map_err(|reason| CallExit {
            reason,
            module: "sys",
            function: "get_state",
            args: vec![server.to_term(), timeout.to_term()],
        })
}

/// `sys:get_status(Name, Timeout)`.
pub async fn get_status(
    p: &mut Process,
    server: impl Into<ServerRef>,
    timeout: impl Into<Timeout>,
) -> Result<Term, CallExit> {
    send_system_msg(p, server, atom("get_status"), timeout).await
}

/// `sys:suspend(Name, Timeout)`.
pub async fn suspend(
    p: &mut Process,
    server: impl Into<ServerRef>,
    timeout: impl Into<Timeout>,
) -> Result<(), CallExit> {
    send_system_msg(p, server, atom("suspend"), timeout)
        .await
        .map(drop)
}

/// `sys:resume(Name, Timeout)`.
pub async fn resume(
    p: &mut Process,
    server: impl Into<ServerRef>,
    timeout: impl Into<Timeout>,
) -> Result<(), CallExit> {
    send_system_msg(p, server, atom("resume"), timeout)
        .await
        .map(drop)
}

/// `sys:replace_state(Name, StateFun, Timeout)` with an Erlang fun term
/// (e.g. one received from a BEAM node): the new state; a failed fun gives
/// a [`CallExit`] whose reason is `{callback_failed, …}` (OTP's
/// `sys:replace_state` raises it as an error).
pub async fn replace_state(
    p: &mut Process,
    server: impl Into<ServerRef>,
    fun: Term,
    timeout: impl Into<Timeout>,
) -> Result<Term, CallExit> {
    let server = server.into();
    let timeout = timeout.into();
    let req = term!({replace_state, (fun.clone())});
    let r = send_system_msg(p, server.clone(), req, timeout).await?;
    unwrap_state(p, &server, r)
        .await
        .map_err(|reason| CallExit {
            reason,
            module: "sys",
            function: "replace_state",
            args: vec![server.to_term(), fun, timeout.to_term()],
        })
}

/// `sys:statistics(Name, Flag)` with `Flag` = `true`, `false` or `get`:
/// `ok`, or `{ok, Statistics | no_statistics}` for `get`.
pub async fn statistics(
    p: &mut Process,
    server: impl Into<ServerRef>,
    flag: &str,
    timeout: impl Into<Timeout>,
) -> Result<Term, CallExit> {
    let req = term!({debug, {statistics, (atom(flag))}});
    send_system_msg(p, server, req, timeout).await
}

/// `sys:trace(Name, Flag)`.
pub async fn trace(
    p: &mut Process,
    server: impl Into<ServerRef>,
    on: bool,
    timeout: impl Into<Timeout>,
) -> Result<Term, CallExit> {
    let req = term!({debug, {trace, (crate::term::boolean(on))}});
    send_system_msg(p, server, req, timeout).await
}
