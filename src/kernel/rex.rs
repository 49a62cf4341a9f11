//! `rex` and erpc — mirrors `lib/kernel/src/rpc.erl` (the `rex` server)
//! and `lib/kernel/src/erpc.erl` (`execute_call/4`, `execute_cast/3`, run
//! in processes created by `SPAWN_REQUEST`).
//!
//! Functions callable from BEAM are Rust closures in a [`Registry`] keyed by
//! `{Module, Function, Arity}`; an unknown one is `undef`, as on BEAM.

use crate::runtime::{
    Dest, GenCall, GenFrom, Node, Process, ProcessFn, SpawnRequest, SpawnService,
};
use crate::term;
use crate::term::{Pid, Reference, Term, TermExt, atom, list};
use futures::future::BoxFuture;
use std::collections::HashMap;
use std::sync::{Arc, RwLock};

/// The class of an Erlang exception.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Class {
    /// `throw`.
    Throw,
    /// `error`.
    Error,
    /// `exit`.
    Exit,
}

/// An exception raised by an rpc function.
#[derive(Debug, Clone, PartialEq)]
pub struct Exception {
    /// Its class.
    pub class: Class,
    /// Its reason.
    pub reason: Term,
}

impl Exception {
    /// `error(Reason)`.
    pub fn error(reason: Term) -> Self {
        Self {
            class: Class::Error,
            reason,
        }
    }

    /// `error(badarg)`.
    pub fn badarg() -> Self {
        Self::error(atom("badarg"))
    }
}

/// What an rpc function returns.
pub type RpcResult = Result<Term, Exception>;

/// An rpc-callable function: gets the node and the argument list.
pub type RpcFn = Arc<dyn Fn(Node, Vec<Term>) -> BoxFuture<'static, RpcResult> + Send + Sync>;

/// `{Module, Function, Arity}`.
type Mfa = (String, String, usize);

/// The functions this node serves over rpc/erpc.
#[derive(Clone, Default)]
pub struct Registry {
    fns: Arc<RwLock<HashMap<Mfa, RpcFn>>>,
}

impl std::fmt::Debug for Registry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let n = self.fns.read().map(|m| m.len()).unwrap_or(0);
        write!(f, "Registry({n} functions)")
    }
}

impl Registry {
    /// A registry with the built-in functions.
    pub fn with_builtins() -> Self {
        let r = Self::default();
        r.register_sync("erlang", "node", 0, |node, _| {
            Ok(Term::Atom(node.name().clone()))
        });
        r.register_sync("erlang", "nodes", 0, |node, _| Ok(atoms(node.nodes())));
        r.register_sync("erlang", "nodes", 1, |node, args| {
            let kinds: Vec<String> = match args.first() {
                Some(Term::Atom(a)) => vec![a.name.clone()],
                Some(t) => t
                    .as_list()
                    .map(|l| {
                        l.iter()
                            .filter_map(|k| k.as_atom().map(str::to_owned))
                            .collect()
                    })
                    .ok_or_else(Exception::badarg)?,
                None => return Err(Exception::badarg()),
            };
            let mut v = Vec::new();
            for k in kinds {
                match k.as_str() {
                    "visible" => v.extend(node.nodes()),
                    "hidden" => v.extend(node.hidden_nodes()),
                    "connected" => {
                        v.extend(node.nodes());
                        v.extend(node.hidden_nodes());
                    }
                    "this" => v.push(node.name().clone()),
                    "known" => v.extend(node.nodes()),
                    _ => return Err(Exception::badarg()),
                }
            }
            Ok(atoms(v))
        });
        r.register_sync("erlang", "is_alive", 0, |_, _| Ok(atom("true")));
        // `os:getpid()`: the OS process id as a charlist, as on BEAM (how a
        // script finds the pid of a `-detached` node).
        r.register_sync("os", "getpid", 0, |_, _| {
            Ok(crate::term::charlist(&std::process::id().to_string()))
        });
        r.register_sync("erlang", "whereis", 1, |node, args| match args.first() {
            Some(Term::Atom(a)) => Ok(node
                .whereis(&a.name)
                .map(Term::Pid)
                .unwrap_or_else(|| atom("undefined"))),
            _ => Err(Exception::badarg()),
        });
        r.register_sync("erlang", "registered", 0, |node, _| {
            Ok(atoms(node.registered()))
        });
        // `rpc:cast(Node, erlang, send, [Dest, Msg])` is a common idiom. As
        // on BEAM, the calling process waits while the destination's
        // connection is busy (dist_buf_busy_limit).
        r.register(
            "erlang",
            "send",
            2,
            Arc::new(|node, args| {
                Box::pin(async move {
                    let (dest, msg) = send_args(&args)?;
                    node.send_wait(dest, msg.clone()).await;
                    Ok(msg)
                })
            }),
        );
        // `erlang:send(Dest, Msg, Opts)`: `ok`, or `nosuspend` / `noconnect`
        // when the options ask not to wait or not to connect.
        r.register(
            "erlang",
            "send",
            3,
            Arc::new(|node, args| {
                Box::pin(async move {
                    let (dest, msg) = send_args(&args)?;
                    let opts = args
                        .get(2)
                        .and_then(TermExt::as_list)
                        .ok_or_else(Exception::badarg)?;
                    let (mut nosuspend, mut noconnect) = (false, false);
                    for o in opts.iter() {
                        match o.as_atom() {
                            Some("nosuspend") => nosuspend = true,
                            Some("noconnect") => noconnect = true,
                            _ => return Err(Exception::badarg()),
                        }
                    }
                    Ok(atom(
                        node.send_with_opts(dest, msg, nosuspend, noconnect).await,
                    ))
                })
            }),
        );
        r
    }

    /// Registers an async function.
    pub fn register(&self, module: &str, function: &str, arity: usize, f: RpcFn) {
        if let Ok(mut m) = self.fns.write() {
            m.insert((module.to_owned(), function.to_owned(), arity), f);
        }
    }

    /// Registers an async function of `state` (a handle, cloned for each
    /// call), the node and the argument list.
    pub fn register_with<S, F, Fut>(
        &self,
        module: &str,
        function: &str,
        arity: usize,
        state: S,
        f: F,
    ) where
        S: Clone + Send + Sync + 'static,
        F: Fn(S, Node, Vec<Term>) -> Fut + Send + Sync + 'static,
        Fut: std::future::Future<Output = RpcResult> + Send + 'static,
    {
        self.register(
            module,
            function,
            arity,
            Arc::new(move |node, args| Box::pin(f(state.clone(), node, args))),
        );
    }

    /// Registers a synchronous function.
    pub fn register_sync(
        &self,
        module: &str,
        function: &str,
        arity: usize,
        f: impl Fn(&Node, &[Term]) -> RpcResult + Send + Sync + 'static,
    ) {
        let f = Arc::new(f);
        self.register(
            module,
            function,
            arity,
            Arc::new(move |node, args| {
                let f = f.clone();
                Box::pin(async move { f(&node, &args) })
            }),
        );
    }

    /// The function for `M:F/A`.
    pub fn lookup(&self, module: &str, function: &str, arity: usize) -> Option<RpcFn> {
        self.fns
            .read()
            .ok()?
            .get(&(module.to_owned(), function.to_owned(), arity))
            .cloned()
    }

    /// Applies `M:F(Args)`; `undef` when unknown.
    pub async fn apply(
        &self,
        node: &Node,
        module: &Term,
        function: &Term,
        args: &Term,
    ) -> RpcResult {
        let (Some(m), Some(f), Some(a)) = (module.as_atom(), function.as_atom(), args.as_list())
        else {
            return Err(Exception::badarg());
        };
        match self.lookup(m, f, a.len()) {
            Some(fun) => fun(node.clone(), a.into_owned()).await,
            None => Err(Exception::error(atom("undef"))),
        }
    }
}

/// `Dest` and `Msg` of `erlang:send/2,3`.
fn send_args(args: &[Term]) -> Result<(crate::runtime::Dest, Term), Exception> {
    let dest = match args.first() {
        Some(Term::Pid(p)) => crate::runtime::Dest::Pid(p.clone()),
        Some(Term::Atom(a)) => crate::runtime::Dest::Name(a.clone()),
        Some(Term::Reference(r)) => crate::runtime::Dest::Alias((**r).clone()),
        Some(t) => match t.as_tuple() {
            Some([Term::Atom(n), Term::Atom(at)]) => {
                crate::runtime::Dest::Remote(n.clone(), at.clone())
            }
            _ => return Err(Exception::badarg()),
        },
        None => return Err(Exception::badarg()),
    };
    let msg = args.get(1).cloned().ok_or_else(Exception::badarg)?;
    Ok((dest, msg))
}

fn atoms(v: Vec<crate::term::Atom>) -> Term {
    list(v.into_iter().map(Term::Atom).collect())
}

/// The stack erpc reports for an error: the frame `erpc:trim_stack/4`
/// keeps, the function called, shaped as a BIF's frame `{M, F, Args, []}`
/// (what BEAM reports for `undef` and for a BIF's `badarg`).
fn error_stack(m: &Term, f: &Term, a: &Term) -> Term {
    list(vec![term!({(m.clone()), (f.clone()), (a.clone()), []})])
}

/// `erpc:execute_call/4`'s exit reason for a result.
fn erpc_result(reference: &Term, m: &Term, f: &Term, a: &Term, r: RpcResult) -> Term {
    match r {
        Ok(v) => term!({(reference.clone()), return, (v)}),
        Err(Exception {
            class: Class::Throw,
            reason,
        }) => term!({(reference.clone()), throw, (reason)}),
        Err(Exception {
            class: Class::Exit,
            reason,
        }) => term!({(reference.clone()), exit, (reason)}),
        Err(Exception {
            class: Class::Error,
            reason,
        }) => {
            let stack = error_stack(m, f, a);
            term!({(reference.clone()), error, (reason), (stack)})
        }
    }
}

/// Serves `SPAWN_REQUEST`s: erpc's `execute_call/4` / `execute_cast/3`,
/// and plain `spawn(Node, M, F, A)` of registered functions.
#[derive(Debug, Clone)]
pub struct Erpc {
    registry: Registry,
}

impl SpawnService for Erpc {
    fn spawn_request(&self, _node: &Node, req: &SpawnRequest) -> Result<ProcessFn, Term> {
        let registry = self.registry.clone();
        let args: Vec<Term> = req
            .args
            .as_list()
            .map(|l| l.into_owned())
            .ok_or_else(|| atom("badarg"))?;
        if args.len() != req.arity as usize {
            return Err(atom("badarg"));
        }
        match (
            req.module.name.as_str(),
            req.function.name.as_str(),
            args.as_slice(),
        ) {
            ("erpc", "execute_call", [reference, m, f, a]) => {
                let (reference, m, f, a) = (reference.clone(), m.clone(), f.clone(), a.clone());
                Ok(Box::new(move |p: Process| {
                    Box::pin(async move {
                        let r = registry.apply(p.node(), &m, &f, &a).await;
                        erpc_result(&reference, &m, &f, &a, r)
                    }) as BoxFuture<'static, Term>
                }))
            }
            ("erpc", "execute_cast", [m, f, a]) => {
                let (m, f, a) = (m.clone(), f.clone(), a.clone());
                Ok(Box::new(move |p: Process| {
                    Box::pin(async move {
                        match registry.apply(p.node(), &m, &f, &a).await {
                            Ok(_) => atom("normal"),
                            Err(e) => cast_exit(&m, &f, &a, e),
                        }
                    }) as BoxFuture<'static, Term>
                }))
            }
            (m, f, _) => {
                let Some(fun) = registry.lookup(m, f, args.len()) else {
                    // As on BEAM: the process exists and exits with undef
                    // (error_handler), so links and monitors see it.
                    let reason = term!({undef, (error_stack(
                        &Term::Atom(req.module.clone()),
                        &Term::Atom(req.function.clone()),
                        &list(args),
                    ))});
                    return Ok(Box::new(move |p: Process| {
                        tracing::error!(
                            "Error in process {} on node {} with exit value: {}",
                            crate::term::Pretty(&Term::Pid(p.pid().clone())),
                            p.node().name().name,
                            crate::term::Pretty(&reason)
                        );
                        Box::pin(async move { reason }) as BoxFuture<'static, Term>
                    }));
                };
                Ok(Box::new(move |p: Process| {
                    Box::pin(async move {
                        match fun(p.node().clone(), args).await {
                            Ok(_) => atom("normal"),
                            Err(e) => e.reason,
                        }
                    }) as BoxFuture<'static, Term>
                }))
            }
        }
    }
}

/// Starts `rex` and installs the erpc spawn service.
pub fn start(node: &Node, registry: Registry) -> crate::term::Pid {
    node.set_spawn_service(Arc::new(Erpc {
        registry: registry.clone(),
    }));
    node.spawn(move |mut p| async move {
        if p.register("rex").is_err() {
            tracing::error!("rex is already registered");
            return;
        }
        let mut rex = Rex {
            registry,
            pending: HashMap::new(),
        };
        loop {
            let msg = p.recv().await;
            rex.handle(&mut p, msg).await;
        }
    })
}

/// Where the answer to a call goes: a `gen_server:call` caller, or the
/// `From` of the legacy `{From, {call, ...}}` form (`{rex, Reply}`).
#[derive(Debug, Clone)]
enum ReplyTo {
    Gen(GenFrom),
    Legacy(Pid),
}

impl ReplyTo {
    fn reply(&self, p: &Process, reply: Term) {
        match self {
            Self::Gen(from) => p.reply(from, reply),
            Self::Legacy(pid) => p.send(pid, term!({rex, (reply)})),
        }
    }
}

/// The state of the rex process (`rpc.erl`'s map of monitors to callers).
struct Rex {
    registry: Registry,
    /// Monitors of the processes running `call`s, to their callers.
    pending: HashMap<Reference, ReplyTo>,
}

impl Rex {
    /// One message, as `rpc:handle_call/3`, `handle_cast/2` and
    /// `handle_info/2` treat it.
    async fn handle(&mut self, p: &mut Process, msg: Term) {
        let msg = match GenCall::take(msg) {
            Ok(call) => {
                return self
                    .handle_call(p, call.request, ReplyTo::Gen(call.from))
                    .await;
            }
            Err(msg) => msg,
        };
        match msg.as_tuple() {
            Some([cast, req]) if cast.as_atom() == Some("$gen_cast") => self.handle_cast(p, req),
            Some([Term::Atom(t), Term::Reference(r), kind, _, reason])
                if t.name == "DOWN" && kind.as_atom() == Some("process") =>
            {
                // A call's process died: `normal` after it replied, anything
                // else becomes the caller's `{badrpc, {'EXIT', Reason}}`.
                if let Some(to) = self.pending.remove(r) {
                    if reason.as_atom() != Some("normal") {
                        let exit = term!({EXIT, (reason.clone())});
                        to.reply(p, term!({badrpc, (exit)}));
                    }
                }
            }
            Some([Term::Pid(from), req]) => self.handle_legacy(p, from, req).await,
            _ => ignored("message", &msg),
        }
    }

    async fn handle_call(&mut self, p: &mut Process, req: Term, to: ReplyTo) {
        match req.as_tuple() {
            // Run in a process of its own, not to block rex.
            Some([tag, m, f, a, _gl]) if tag.as_atom() == Some("call") => {
                let (registry, m, f, a) = (self.registry.clone(), m.clone(), f.clone(), a.clone());
                let replier = to.clone();
                let pid = p.node().spawn(move |w| async move {
                    let reply = call_reply(&registry, w.node(), &m, &f, &a).await;
                    replier.reply(&w, reply);
                });
                let mon = p.monitor(&pid);
                self.pending.insert(mon, to);
            }
            // Run in rex itself.
            Some([tag, m, f, a, _gl]) if tag.as_atom() == Some("block_call") => {
                let reply = call_reply(&self.registry, p.node(), m, f, a).await;
                to.reply(p, reply);
            }
            // rex stops and kernel_sup restarts it; the caller gets `stopped`.
            _ if req.as_atom() == Some("stop") => to.reply(p, atom("stopped")),
            // rpc.erl: `{noreply, S}` -- the caller gets no answer.
            _ => ignored("call", &req),
        }
    }

    fn handle_cast(&self, p: &Process, req: &Term) {
        match req.as_tuple() {
            Some([tag, m, f, a, _gl]) if tag.as_atom() == Some("cast") => {
                let (registry, m, f, a) = (self.registry.clone(), m.clone(), f.clone(), a.clone());
                p.node().spawn(move |w| async move {
                    // erpc:execute_cast/3: a failure is the process's exit.
                    match registry.apply(w.node(), &m, &f, &a).await {
                        Ok(_) => atom("normal"),
                        Err(e) => cast_exit(&m, &f, &a, e),
                    }
                });
            }
            _ => ignored("cast", req),
        }
    }

    /// `{From, Request}` messages: `sbcast`, `send`, the `call` form of
    /// hidden C nodes (erl_interface, jinterface) and `features_request`.
    async fn handle_legacy(&mut self, p: &mut Process, from: &Pid, req: &Term) {
        let me = || Term::Atom(p.node().name().clone());
        match req.as_tuple() {
            Some([tag, name, m]) if tag.as_atom() == Some("sbcast") => {
                let reply = if send_to(p, name, m.clone()) {
                    me()
                } else {
                    term!({nonexisting_name, (name.clone())})
                };
                p.send(from, term!({rex, (me()), (reply)}));
            }
            Some([tag, name, m]) if tag.as_atom() == Some("send") => {
                let msg = term!({(Term::Pid(from.clone())), (m.clone())});
                // It is up to Name to respond.
                if !send_to(p, name, msg) {
                    let reply = term!({nonexisting_name, (name.clone())});
                    p.send(from, term!({rex, (me()), (reply)}));
                }
            }
            Some([tag, m, f, a, gl]) if tag.as_atom() == Some("call") => {
                let call =
                    term!({(tag.clone()), (m.clone()), (f.clone()), (a.clone()), (gl.clone())});
                self.handle_call(p, call, ReplyTo::Legacy(from.clone()))
                    .await;
            }
            _ if req.as_atom() == Some("features_request") => {
                let reply = term!({features_reply, (me()), [erpc]});
                p.send(from, reply);
            }
            _ => ignored(
                "message",
                &term!({(Term::Pid(from.clone())), (req.clone())}),
            ),
        }
    }
}

/// rpc.erl ignores what it does not know; distro says so at debug level.
fn ignored(what: &str, t: &Term) {
    tracing::debug!("rex ignores the {what} {}", crate::term::Pretty(t));
}

/// `catch Name ! Msg`: false where `!` would raise badarg (an unregistered
/// name or something that is not a destination).
fn send_to(p: &Process, name: &Term, msg: Term) -> bool {
    let dest = match name {
        Term::Pid(pid) => Dest::Pid(pid.clone()),
        Term::Reference(r) => Dest::Alias((**r).clone()),
        Term::Atom(a) if p.node().whereis(&a.name).is_some() => Dest::Name(a.clone()),
        _ => match name.as_tuple() {
            Some([Term::Atom(n), Term::Atom(node)]) => Dest::Remote(n.clone(), node.clone()),
            _ => return false,
        },
    };
    p.send(dest, msg);
    true
}

/// `rpc:execute_call/3`: the value, or the caller's view of the failure.
async fn call_reply(registry: &Registry, node: &Node, m: &Term, f: &Term, a: &Term) -> Term {
    match registry.apply(node, m, f, a).await {
        Ok(v) => v,
        Err(e) => badrpc(m, f, a, e),
    }
}

/// The exit reason of an `erpc:execute_cast/3` process whose call failed.
fn cast_exit(m: &Term, f: &Term, a: &Term, e: Exception) -> Term {
    match e.class {
        Class::Error => {
            let stack = error_stack(m, f, a);
            let exception = term!({exception, {(e.reason), (stack)}});
            term!({(exception), []})
        }
        Class::Exit => e.reason,
        Class::Throw => term!({{nocatch, (e.reason)}, []}),
    }
}

/// `{badrpc, {'EXIT', ...}}` as `rpc:call/4` reports a failure.
fn badrpc(m: &Term, f: &Term, a: &Term, e: Exception) -> Term {
    let reason = match e.class {
        Class::Throw => return e.reason,
        Class::Exit => e.reason,
        Class::Error => term!({(e.reason), (error_stack(m, f, a))}),
    };
    term!({badrpc, {EXIT, (reason)}})
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::term::int;

    #[test]
    fn erpc_results_have_otp_shapes() {
        let r = atom("ref");
        let (m, f, a) = (atom("lists"), atom("reverse"), list(vec![int(1)]));
        assert_eq!(
            erpc_result(&r, &m, &f, &a, Ok(atom("x"))),
            term!({(r.clone()), return, x})
        );
        assert_eq!(
            erpc_result(&r, &m, &f, &a, Err(Exception::error(atom("undef")))),
            term!({(r.clone()), error, undef, (error_stack(&m, &f, &a))})
        );
        assert_eq!(
            badrpc(&m, &f, &a, Exception::error(atom("undef"))),
            term!({badrpc, {EXIT, {undef, (error_stack(&m, &f, &a))}}})
        );
    }
}
