//! `rex` and erpc — mirrors `lib/kernel/src/rpc.erl` (the `rex` server)
//! and `lib/kernel/src/erpc.erl` (`execute_call/4`, `execute_cast/3`, run
//! in processes created by `SPAWN_REQUEST`).
//!
//! Functions callable from BEAM are Rust closures in a [`Registry`] keyed by
//! `{Module, Function, Arity}`; an unknown one is `undef`, as on BEAM.

use crate::runtime::{GenCall, Node, Process, ProcessFn, SpawnRequest, SpawnService};
use crate::term::{Term, TermExt, atom, list, nil, tuple};
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

/// The `{M, F, Args, []}` stack frame erpc reports for `undef`.
fn undef_stack(m: &Term, f: &Term, a: &Term) -> Term {
    list(vec![tuple(vec![m.clone(), f.clone(), a.clone(), nil()])])
}

/// `erpc:execute_call/4`'s exit reason for a result.
fn erpc_result(reference: &Term, m: &Term, f: &Term, a: &Term, r: RpcResult) -> Term {
    match r {
        Ok(v) => tuple(vec![reference.clone(), atom("return"), v]),
        Err(Exception {
            class: Class::Throw,
            reason,
        }) => tuple(vec![reference.clone(), atom("throw"), reason]),
        Err(Exception {
            class: Class::Exit,
            reason,
        }) => tuple(vec![reference.clone(), atom("exit"), reason]),
        Err(Exception {
            class: Class::Error,
            reason,
        }) => {
            let stack = if reason.as_atom() == Some("undef") {
                undef_stack(m, f, a)
            } else {
                nil()
            };
            tuple(vec![reference.clone(), atom("error"), reason, stack])
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
                            Err(e) => tuple(vec![atom("exception"), e.reason]),
                        }
                    }) as BoxFuture<'static, Term>
                }))
            }
            (m, f, _) => {
                let fun = registry
                    .lookup(m, f, args.len())
                    .ok_or_else(|| atom("badarg"))?;
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
        loop {
            let msg = p.recv().await;
            if let Some(call) = GenCall::parse(&msg) {
                // {call, M, F, A, GroupLeader} / {block_call, ...}: rpc.erl's legacy protocol.
                match call.request.as_tuple() {
                    Some([tag, m, f, a, _gl])
                        if matches!(tag.as_atom(), Some("call" | "block_call")) =>
                    {
                        let reply = match registry.apply(p.node(), m, f, a).await {
                            Ok(v) => v,
                            Err(e) => badrpc(m, f, a, e),
                        };
                        p.reply(&call.from, reply);
                    }
                    _ => p.reply(&call.from, tuple(vec![atom("badrpc"), atom("notsup")])),
                }
                continue;
            }
            match msg.as_tuple() {
                Some([Term::Pid(from), req]) if req.as_atom() == Some("features_request") => {
                    let reply = tuple(vec![
                        atom("features_reply"),
                        Term::Atom(p.node().name().clone()),
                        list(vec![atom("erpc")]),
                    ]);
                    p.send(from, reply);
                }
                Some([cast, req]) if cast.as_atom() == Some("$gen_cast") => {
                    if let Some([tag, m, f, a, _gl]) = req.as_tuple() {
                        if tag.as_atom() == Some("cast") {
                            let (registry, node, m, f, a) = (
                                registry.clone(),
                                p.node().clone(),
                                m.clone(),
                                f.clone(),
                                a.clone(),
                            );
                            tokio::spawn(async move {
                                let _ = registry.apply(&node, &m, &f, &a).await;
                            });
                        }
                    }
                }
                _ => tracing::trace!("rex ignores {}", crate::term::Pretty(&msg)),
            }
        }
    })
}

/// `{badrpc, {'EXIT', ...}}` as `rpc:call/4` reports a failure.
fn badrpc(m: &Term, f: &Term, a: &Term, e: Exception) -> Term {
    let reason = match e.class {
        Class::Throw => return e.reason,
        Class::Exit => e.reason,
        Class::Error if e.reason.as_atom() == Some("undef") => {
            tuple(vec![e.reason, undef_stack(m, f, a)])
        }
        Class::Error => tuple(vec![e.reason, nil()]),
    };
    tuple(vec![atom("badrpc"), tuple(vec![atom("EXIT"), reason])])
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
            tuple(vec![r.clone(), atom("return"), atom("x")])
        );
        assert_eq!(
            erpc_result(&r, &m, &f, &a, Err(Exception::error(atom("undef")))),
            tuple(vec![
                r.clone(),
                atom("error"),
                atom("undef"),
                undef_stack(&m, &f, &a)
            ])
        );
        assert_eq!(
            badrpc(&m, &f, &a, Exception::error(atom("undef"))),
            tuple(vec![
                atom("badrpc"),
                tuple(vec![
                    atom("EXIT"),
                    tuple(vec![atom("undef"), undef_stack(&m, &f, &a)])
                ])
            ])
        );
    }
}
