//! The client side: `gen_server:call/3`, `cast/2`, `multi_call/4`,
//! `stop/3`, `reply/2` (`gen:do_call/4`, `gen_server:mc_send/6`,
//! `mc_recv/5`, `proc_lib:stop/3` in OTP 27+).

use super::{ServerRef, Timeout};
use crate::runtime::{Dest, GenFrom, MonitorTarget, Process};
use crate::term;
use crate::term::{Atom, ImproperList, Pretty, Reference, Term, TermExt, atom, list};
use std::collections::HashMap;
use tokio::time::Instant;

/// A failed [`call`] (or [`stop`], or a `sys` function): the exit
/// `gen_server:call/3` raises, `{Reason, {gen_server, call, [ServerRef,
/// Request, Timeout]}}` (`{Reason, {sys, get_state, [Name]}}` …).
///
/// `reason` is `timeout`, `noproc`, `{nodedown, Node}`, or the exit reason
/// of a server that died during the call.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{}", Pretty(&self.to_term()))]
pub struct CallExit {
    /// Why the call failed.
    pub reason: Term,
    /// The module as OTP names it: `gen_server`, `sys` or `supervisor`.
    pub module: &'static str,
    /// The function as OTP names it: `call`, `stop`, `get_state` …
    pub function: &'static str,
    /// The arguments `[ServerRef, Request, Timeout]` (`[ServerRef, Reason,
    /// Timeout]` for `stop`).
    pub args: Vec<Term>,
}

impl CallExit {
    /// The full exit term, `{Reason, {gen_server, call, [Dest, Req, Timeout]}}`.
    pub fn to_term(&self) -> Term {
        term!({(self.reason.clone()), {(atom(self.module)), (atom(self.function)), (list(self.args.clone()))}})
    }

    /// Whether the call timed out.
    pub fn is_timeout(&self) -> bool {
        self.reason.as_atom() == Some("timeout")
    }
}

/// Where a call goes once its server reference is resolved; `noproc` for
/// an unknown `via` name.
fn resolve(p: &Process, server: &ServerRef) -> Result<(Dest, MonitorTarget), Term> {
    let me = p.node().name().clone();
    Ok(match server {
        ServerRef::Pid(pid) => (Dest::Pid(pid.clone()), MonitorTarget::Pid(pid.clone())),
        ServerRef::Local(n) => (Dest::Name(n.clone()), MonitorTarget::Name(n.clone(), me)),
        ServerRef::Remote(n, node) => (
            Dest::Remote(n.clone(), node.clone()),
            MonitorTarget::Name(n.clone(), node.clone()),
        ),
        ServerRef::Via(reg, n) => {
            let pid = reg.whereis_name(n).ok_or_else(|| atom("noproc"))?;
            (Dest::Pid(pid.clone()), MonitorTarget::Pid(pid))
        }
    })
}

fn calls_itself(p: &Process, target: &MonitorTarget) -> bool {
    match target {
        MonitorTarget::Pid(pid) => pid == p.pid(),
        MonitorTarget::Name(n, node) => {
            node == p.node().name() && p.node().whereis(&n.name).as_ref() == Some(p.pid())
        }
    }
}

fn alias_tag(alias: &Term) -> Term {
    Term::ImproperList(ImproperList::from((vec![atom("alias")], alias.clone())))
}

fn is_down(m: &Term, mref: &Term) -> bool {
    m.tuple_tag() == Some("DOWN") && m.elem(1) == Some(mref)
}

/// The node of the monitored object in a DOWN message (pid or `{Name, Node}`).
fn down_node(down: &Term) -> Term {
    match down.elem(3) {
        Some(Term::Pid(p)) => Term::Atom(p.node.clone()),
        Some(t) => t.elem(1).cloned().unwrap_or_else(|| atom("nonode@nohost")),
        None => atom("nonode@nohost"),
    }
}

/// `gen:do_call/4`: monitor (the reference doubles as the reply alias),
/// send `{Label, {self(), [alias|Mref]}, Request}`, wait for the reply or
/// the DOWN. Errors are the exit reason.
async fn do_call(
    p: &mut Process,
    server: &ServerRef,
    label: &str,
    request: Term,
    timeout: Timeout,
) -> Result<Term, Term> {
    let (dest, target) = resolve(p, server)?;
    if calls_itself(p, &target) {
        // gen:do_call/4 and gen:do_for_proc/2: a process cannot call itself.
        return Err(atom("calling_self"));
    }
    let mref = p.make_ref();
    p.alias_with_ref(mref.clone());
    p.monitor_with_ref(mref.clone(), target);
    let mref_t = Term::Reference(Box::new(mref.clone()));
    let tag = alias_tag(&mref_t);
    let from = term!({(Term::Pid(p.pid().clone())), (tag.clone())});
    p.send(dest, term!({(atom(label)), (from), (request)}));
    let is_reply = |m: &Term| matches!(m.as_tuple(), Some([t, _]) if *t == tag);
    let answer = match timeout.duration() {
        Some(d) => {
            p.receive_timeout(d, |m| is_reply(m) || is_down(m, &mref_t))
                .await
        }
        None => Some(p.receive(|m| is_reply(m) || is_down(m, &mref_t)).await),
    };
    let answer = match answer {
        Some(m) => Some(m),
        None => {
            // Timed out: drop the monitor, then take a reply that made it in.
            p.demonitor(&mref, true);
            p.unalias(&mref);
            p.receive_timeout(std::time::Duration::ZERO, is_reply).await
        }
    };
    p.unalias(&mref);
    match answer {
        None => Err(atom("timeout")),
        Some(m) if is_down(&m, &mref_t) => {
            let reason = m.elem(4).cloned().unwrap_or_else(|| atom("noproc"));
            if reason.as_atom() == Some("noconnection") {
                Err(term!({nodedown, (down_node(&m))}))
            } else {
                Err(reason)
            }
        }
        Some(m) => {
            p.demonitor(&mref, true);
            Ok(m.elem(1).cloned().unwrap_or_else(|| atom("undefined")))
        }
    }
}

/// `gen_server:call(ServerRef, Request, Timeout)` from process `p`, to a
/// server on any node (BEAM or Rust). `Timeout::DEFAULT` is `call/2`'s 5 s.
///
/// ```no_run
/// # async fn f(mut p: distro::runtime::Process) {
/// use distro::behaviours::gen_server::{self, Timeout};
/// use distro::term::atom;
/// match gen_server::call(&mut p, ("kv", "beam@127.0.0.1"), atom("stats"), Timeout::DEFAULT).await {
///     Ok(stats) => println!("{stats:?}"),
///     // e.g. {noproc, {gen_server, call, [{kv, 'beam@127.0.0.1'}, stats, 5000]}}
///     Err(exit) => println!("call failed: {exit}"),
/// }
/// # }
/// ```
pub async fn call(
    p: &mut Process,
    server: impl Into<ServerRef>,
    request: Term,
    timeout: impl Into<Timeout>,
) -> Result<Term, CallExit> {
    let server = server.into();
    let timeout = timeout.into();
    do_call(p, &server, "$gen_call", request.clone(), timeout)
        .await
        .map_err(|reason| CallExit {
            reason,
            module: "gen_server",
            function: "call",
            args: vec![server.to_term(), request, timeout.to_term()],
        })
}

/// `gen:call(Server, system, Request, Timeout)` (what `sys` sends); the
/// error is the exit reason.
pub(crate) async fn system_call(
    p: &mut Process,
    server: &ServerRef,
    request: Term,
    timeout: Timeout,
) -> Result<Term, Term> {
    do_call(p, server, "system", request, timeout).await
}

/// `gen_server:cast(ServerRef, Request)`: sends `{'$gen_cast', Request}`
/// and returns at once; a server that does not exist is ignored, as in OTP.
pub fn cast(p: &Process, server: impl Into<ServerRef>, request: Term) {
    let Ok((dest, _)) = resolve(p, &server.into()) else {
        return;
    };
    p.send(dest, term!({:"$gen_cast", (request)}));
}

/// `gen_server:reply(From, Reply)`: answers a call that `handle_call`
/// left with [`super::CallReply::NoReply`]; any process may send it.
pub fn reply(p: &Process, from: &GenFrom, reply: Term) {
    p.reply(from, reply);
}

/// `gen_server:stop(ServerRef, Reason, Timeout)`: asks the server to run
/// `terminate(Reason)` and exit with `Reason` (`{system, From, {terminate,
/// Reason}}`, as `sys:terminate/3` sends; BEAM gen_servers understand it
/// too). Errors as for [`call`], with `function` = `stop`.
pub async fn stop(
    p: &mut Process,
    server: impl Into<ServerRef>,
    reason: Term,
    timeout: impl Into<Timeout>,
) -> Result<(), CallExit> {
    let server = server.into();
    let timeout = timeout.into();
    let req = term!({terminate, (reason.clone())});
    match do_call(p, &server, "system", req, timeout).await {
        Ok(_) => Ok(()),
        Err(r) => Err(CallExit {
            reason: r,
            module: "gen_server",
            function: "stop",
            args: vec![server.to_term(), reason, timeout.to_term()],
        }),
    }
}

/// `gen_server:multi_call(Nodes, Name, Request, Timeout)`: calls the
/// server registered as `name` on every node in `nodes` (this node too, if
/// listed) at once and returns `{Replies, BadNodes}`: the `(Node, Reply)`
/// pairs and the nodes that have no such server, are down, or did not
/// answer in time, each in the order of `nodes`.
///
/// As OTP 26+ does it: one alias for the whole call, a monitor per node,
/// and the tag `[[alias|Alias]|Mon]`; after the timeout the alias is
/// dropped, so late replies vanish.
pub async fn multi_call(
    p: &mut Process,
    nodes: &[Atom],
    name: &str,
    request: Term,
    timeout: impl Into<Timeout>,
) -> (Vec<(Atom, Term)>, Vec<Atom>) {
    let name = Atom::from(name);
    let alias = p.alias();
    let alias_t = Term::Reference(Box::new(alias.clone()));
    let deadline = timeout.into().duration().map(|d| Instant::now() + d);
    // Monitor ref of each node, in `nodes` order.
    let mut pending: Vec<(Atom, Reference)> = Vec::new();
    for node in nodes {
        let mon = p.make_ref();
        p.monitor_with_ref(mon.clone(), MonitorTarget::Name(name.clone(), node.clone()));
        let tag = Term::ImproperList(ImproperList::from((
            vec![alias_tag(&alias_t)],
            Term::Reference(Box::new(mon.clone())),
        )));
        let from = term!({(Term::Pid(p.pid().clone())), (tag)});
        p.send(
            Dest::Remote(name.clone(), node.clone()),
            term!({:"$gen_call", (from), (request.clone())}),
        );
        pending.push((node.clone(), mon));
    }
    let mut replies: HashMap<Reference, Term> = HashMap::new();
    let mut waiting: Vec<Reference> = pending.iter().map(|(_, m)| m.clone()).collect();
    let matcher = |waiting: &[Reference], m: &Term| classify(&alias, waiting, m).is_some();
    while !waiting.is_empty() {
        let m = match deadline {
            Some(d) => {
                let left = d.saturating_duration_since(Instant::now());
                let w = waiting.clone();
                p.receive_timeout(left, move |m| matcher(&w, m)).await
            }
            None => {
                let w = waiting.clone();
                Some(p.receive(move |m| matcher(&w, m)).await)
            }
        };
        let Some(m) = m else { break };
        take(p, &alias, &mut waiting, &mut replies, &m);
    }
    if !waiting.is_empty() {
        // mc_recv_tmo/4: no more replies after this; count what arrived.
        p.unalias(&alias);
        for mon in waiting.clone() {
            p.demonitor(&mon, false);
            let w = vec![mon.clone()];
            match p
                .receive_timeout(std::time::Duration::ZERO, move |m| matcher(&w, m))
                .await
            {
                Some(m) => take(p, &alias, &mut waiting, &mut replies, &m),
                None => waiting.retain(|r| *r != mon),
            }
        }
    }
    p.unalias(&alias);
    let mut ok = Vec::new();
    let mut bad_nodes = Vec::new();
    for (node, mon) in pending {
        match replies.remove(&mon) {
            Some(r) => ok.push((node, r)),
            None => bad_nodes.push(node),
        }
    }
    (ok, bad_nodes)
}

/// A multi_call reply `{[[alias|Alias]|Mon], Reply}` or a DOWN of one of
/// the `waiting` monitors: `(Mon, Some(Reply))` or `(Mon, None)`.
fn classify(
    alias: &Reference,
    waiting: &[Reference],
    m: &Term,
) -> Option<(Reference, Option<Term>)> {
    match m.as_tuple()? {
        [Term::ImproperList(tag), reply] => {
            let mon = tag.last.as_reference()?;
            let [inner] = tag.elements.as_slice() else {
                return None;
            };
            let Term::ImproperList(inner) = inner else {
                return None;
            };
            (inner.last.as_reference() == Some(alias) && waiting.contains(mon))
                .then(|| (mon.clone(), Some(reply.clone())))
        }
        [Term::Atom(d), Term::Reference(mon), ..] if d.name == "DOWN" => {
            waiting.contains(mon).then(|| ((**mon).clone(), None))
        }
        _ => None,
    }
}

fn take(
    p: &mut Process,
    alias: &Reference,
    waiting: &mut Vec<Reference>,
    replies: &mut HashMap<Reference, Term>,
    m: &Term,
) {
    let Some((mon, reply)) = classify(alias, waiting, m) else {
        return;
    };
    waiting.retain(|r| *r != mon);
    if let Some(r) = reply {
        p.demonitor(&mon, true);
        replies.insert(mon, r);
    }
}

type Job = Box<dyn FnOnce(Process) -> futures::future::BoxFuture<'static, Process> + Send>;

/// Calls and casts to servers from plain Rust code, outside any process:
/// `gen_server:call/3`, `cast/2`, `stop/3` and `multi_call/4` without a
/// hand-written process.
///
/// A client is one process of the node (its pid is the caller BEAM
/// sees): its calls and casts happen one at a time, in order, as those of
/// an Erlang process do. Clones share that process; take another
/// [`Node::client`](crate::runtime::Node::client) for calls that should
/// run side by side. The process exits when the last clone is dropped.
///
/// ```no_run
/// # async fn f(node: distro::Node) -> Result<(), distro::gen_server::CallExit> {
/// use distro::term;
/// let client = node.client();
/// let n = client.call(("counter", "beam@127.0.0.1"), term!({add, 2}), 5000).await?;
/// client.cast("logger", term!({log, <<"hello">>}));
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct Client {
    pid: crate::term::Pid,
    jobs: tokio::sync::mpsc::UnboundedSender<Job>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Client({})", Pretty(&Term::Pid(self.pid.clone())))
    }
}

impl Client {
    /// A client of `node`, with a process of its own.
    pub fn new(node: &crate::runtime::Node) -> Self {
        let (jobs, mut rx) = tokio::sync::mpsc::unbounded_channel::<Job>();
        let pid = node.spawn(move |mut p| async move {
            while let Some(job) = rx.recv().await {
                p = job(p).await;
            }
        });
        Self { pid, jobs }
    }

    /// The pid of the client's process.
    pub fn pid(&self) -> &crate::term::Pid {
        &self.pid
    }

    /// Runs `f` in the client's process, after what was asked before;
    /// `None` when the process is gone (it was killed).
    async fn run<R, F>(&self, f: F) -> Option<R>
    where
        R: Send + 'static,
        F: for<'p> FnOnce(&'p mut Process) -> futures::future::BoxFuture<'p, R> + Send + 'static,
    {
        let (tx, rx) = tokio::sync::oneshot::channel();
        let job: Job = Box::new(move |mut p| {
            Box::pin(async move {
                let r = f(&mut p).await;
                let _ = tx.send(r);
                p
            })
        });
        self.jobs.send(job).ok()?;
        rx.await.ok()
    }

    /// [`call`]: `gen_server:call(Server, Request, Timeout)`.
    pub async fn call(
        &self,
        server: impl Into<ServerRef>,
        request: Term,
        timeout: impl Into<Timeout>,
    ) -> Result<Term, CallExit> {
        let server = server.into();
        let timeout = timeout.into();
        let (s, r) = (server.clone(), request.clone());
        self.run(move |p| Box::pin(call(p, s, r, timeout)))
            .await
            .unwrap_or_else(|| {
                Err(CallExit {
                    reason: atom("killed"),
                    module: "gen_server",
                    function: "call",
                    args: vec![server.to_term(), request, timeout.to_term()],
                })
            })
    }

    /// [`cast`]: `gen_server:cast(Server, Request)`, in order after the
    /// client's earlier calls and casts; returns at once.
    pub fn cast(&self, server: impl Into<ServerRef>, request: Term) {
        let server = server.into();
        let job: Job = Box::new(move |p| {
            Box::pin(async move {
                cast(&p, server, request);
                p
            })
        });
        let _ = self.jobs.send(job);
    }

    /// [`stop`]: `gen_server:stop(Server, Reason, Timeout)`.
    pub async fn stop(
        &self,
        server: impl Into<ServerRef>,
        reason: Term,
        timeout: impl Into<Timeout>,
    ) -> Result<(), CallExit> {
        let server = server.into();
        let timeout = timeout.into();
        let (s, r) = (server.clone(), reason.clone());
        self.run(move |p| Box::pin(stop(p, s, r, timeout)))
            .await
            .unwrap_or_else(|| {
                Err(CallExit {
                    reason: atom("killed"),
                    module: "gen_server",
                    function: "stop",
                    args: vec![server.to_term(), reason, timeout.to_term()],
                })
            })
    }

    /// [`multi_call`]: `gen_server:multi_call(Nodes, Name, Request,
    /// Timeout)`; every node is bad when the client's process is gone.
    pub async fn multi_call(
        &self,
        nodes: &[Atom],
        name: &str,
        request: Term,
        timeout: impl Into<Timeout>,
    ) -> (Vec<(Atom, Term)>, Vec<Atom>) {
        let all = nodes.to_vec();
        let (n, name, timeout) = (nodes.to_vec(), name.to_owned(), timeout.into());
        self.run(move |p| Box::pin(async move { multi_call(p, &n, &name, request, timeout).await }))
            .await
            .unwrap_or((Vec::new(), all))
    }
}
