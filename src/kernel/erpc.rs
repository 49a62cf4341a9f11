//! The erpc client — mirrors `lib/kernel/src/erpc.erl` (`call/5`,
//! `multicall/5`, `cast/4`) for calls *from* a Rust process to any node.
//! (Serving erpc requests is [`super::rex`]'s job.)
//!
//! A call is exactly what OTP 23+ sends, so BEAM nodes and Rust nodes
//! answer it alike:
//!
//! ```text
//!  spawn_request(Node, erpc, execute_call, [Res, M, F, A], [{reply, error_only}, monitor])
//!     ◄── {spawn_reply, ReqId, error, Reason}            → Err(Erpc(Reason))
//!     ◄── {'DOWN', ReqId, process, Pid, {Res, return, V}}  → Ok(V)
//!                                       {Res, throw, T}    → Err(Throw(T))
//!                                       {Res, exit, R}     → Err(Exit(R))
//!                                       {Res, error, R, S} → Err(Error { R, S })
//!                                       {Res, error, {erpc, R}} → Err(Erpc(R))
//!                                       noconnection       → Err(Erpc(noconnection))
//!                                       anything else      → Err(Signal(Reason))
//! ```
//!
//! ```no_run
//! # async fn f(mut p: distro::runtime::Process) {
//! use distro::kernel::erpc::{self, ErpcError};
//! use distro::term::{atom, int, list};
//! use std::time::Duration;
//! let args = vec![list(vec![int(1), int(2)])];
//! let r = erpc::call(&mut p, "beam@127.0.0.1", "lists", "reverse", args, Duration::from_secs(5)).await;
//! assert_eq!(r, Ok(list(vec![int(2), int(1)])));
//! # let _: Option<ErpcError> = None;
//! # }
//! ```

use super::rex::Class;
use crate::behaviours::Timeout;
use crate::runtime::{Process, SpawnOpts, SpawnReply};
use crate::term;
use crate::term::{Atom, Pretty, Reference, Term, TermExt, atom, list};
use std::time::Duration;
use tokio::time::Instant;

/// An exception `erpc:call/5` raises. [`ErpcError::class`] and
/// [`ErpcError::reason`] give it exactly as BEAM's `erpc:call` would.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ErpcError {
    /// The function threw `Value`: `throw(Value)`.
    #[error("throw:{}", Pretty(.0))]
    Throw(Term),
    /// The function exited with `Reason`: `exit({exception, Reason})`.
    #[error("exit:{{exception, {}}}", Pretty(.0))]
    Exit(Term),
    /// The function raised an error: `error({exception, Reason, Stack})`.
    #[error("error:{{exception, {}, ...}}", Pretty(reason))]
    Error {
        /// The error reason (`undef`, `badarg`, …).
        reason: Term,
        /// The stack trace as the remote node reported it.
        stack: Term,
    },
    /// erpc itself failed: `error({erpc, Reason})` — `noconnection`,
    /// `timeout`, `notsup` (the node cannot spawn), `badarg`,
    /// `system_limit`.
    #[error("error:{{erpc, {}}}", Pretty(.0))]
    Erpc(Term),
    /// The process running the call was killed or died otherwise:
    /// `exit({signal, Reason})`.
    #[error("exit:{{signal, {}}}", Pretty(.0))]
    Signal(Term),
}

impl ErpcError {
    /// The class of the exception.
    pub fn class(&self) -> Class {
        match self {
            Self::Throw(_) => Class::Throw,
            Self::Exit(_) | Self::Signal(_) => Class::Exit,
            Self::Error { .. } | Self::Erpc(_) => Class::Error,
        }
    }

    /// The exception's reason as `erpc:call` raises it, e.g.
    /// `{exception, undef, Stack}` or `{erpc, noconnection}`.
    pub fn reason(&self) -> Term {
        match self {
            Self::Throw(v) => v.clone(),
            Self::Exit(r) => term!({exception, (r.clone())}),
            Self::Error { reason, stack } => {
                term!({exception, (reason.clone()), (stack.clone())})
            }
            Self::Erpc(r) => term!({erpc, (r.clone())}),
            Self::Signal(r) => term!({signal, (r.clone())}),
        }
    }

    /// `{erpc, Reason}` with this `Reason` atom.
    fn erpc(reason: &str) -> Self {
        Self::Erpc(atom(reason))
    }

    /// `{erpc, timeout}` or `{erpc, noconnection}`: the node did not
    /// answer (what `rpc:multicall` counts as a bad node).
    pub fn is_bad_node(&self) -> bool {
        matches!(self, Self::Erpc(r) if matches!(r.as_atom(), Some("timeout" | "noconnection")))
    }
}

/// One request on its way: the spawn request id and the `Res` reference
/// the result is tagged with.
struct Pending {
    req: Reference,
    res: Term,
}

fn send_call(p: &Process, node: &str, m: &str, f: &str, args: Vec<Term>) -> Pending {
    let res = Term::Reference(Box::new(p.make_ref()));
    let opts = SpawnOpts {
        monitor: true,
        reply: SpawnReply::ErrorOnly,
        ..Default::default()
    };
    let spawn_args = vec![res.clone(), atom(m), atom(f), list(args)];
    let req = p.spawn_request(node, "erpc", "execute_call", spawn_args, opts);
    Pending { req, res }
}

/// The `{spawn_reply, ReqId, error, _}` or `{'DOWN', ReqId, …}` of `req`.
fn is_result_of(m: &Term, req: &Reference) -> bool {
    matches!(m.tuple_tag(), Some("spawn_reply" | "DOWN"))
        && m.elem(1).and_then(TermExt::as_reference) == Some(req)
}

/// `erpc:result/4` for a spawn reply or DOWN message.
fn result(m: &Term, res: &Term) -> Result<Term, ErpcError> {
    match m.as_tuple() {
        Some([_, _, _, reason]) => Err(ErpcError::Erpc(reason.clone())),
        Some([_, _, _, _, reason]) => down_result(reason, res),
        _ => Err(ErpcError::Signal(m.clone())),
    }
}

fn down_result(reason: &Term, res: &Term) -> Result<Term, ErpcError> {
    match reason.as_tuple() {
        Some([r, kind, v]) if r == res => match kind.as_atom() {
            Some("return") => Ok(v.clone()),
            Some("throw") => Err(ErpcError::Throw(v.clone())),
            Some("exit") => Err(ErpcError::Exit(v.clone())),
            Some("error") if v.tuple_tag() == Some("erpc") => Err(ErpcError::Erpc(
                v.elem(1).cloned().unwrap_or_else(|| atom("undefined")),
            )),
            _ => Err(ErpcError::Signal(reason.clone())),
        },
        Some([r, kind, e, stack]) if r == res && kind.as_atom() == Some("error") => {
            Err(ErpcError::Error {
                reason: e.clone(),
                stack: stack.clone(),
            })
        }
        _ if reason.as_atom() == Some("noconnection") => Err(ErpcError::erpc("noconnection")),
        _ => Err(ErpcError::Signal(reason.clone())),
    }
}

/// `erpc:call_abandon/1` after a timeout: `timeout`, unless the result
/// arrived meanwhile.
async fn give_up(p: &mut Process, pending: &Pending) -> Result<Term, ErpcError> {
    if p.spawn_request_abandon(&pending.req) || p.demonitor(&pending.req, false) {
        return Err(ErpcError::erpc("timeout"));
    }
    let req = pending.req.clone();
    match p
        .receive_timeout(Duration::ZERO, |m| is_result_of(m, &req))
        .await
    {
        Some(m) => result(&m, &pending.res),
        None => Err(ErpcError::erpc("timeout")),
    }
}

/// `erpc:call(Node, Module, Function, Args, Timeout)` from process `p`:
/// runs `Module:Function(Args…)` in a new process on `node` (a BEAM node,
/// a Rust node, or this node) and returns its value.
pub async fn call(
    p: &mut Process,
    node: &str,
    module: &str,
    function: &str,
    args: Vec<Term>,
    timeout: impl Into<Timeout>,
) -> Result<Term, ErpcError> {
    let pending = send_call(p, node, module, function, args);
    let req = pending.req.clone();
    let m = match timeout.into().duration() {
        Some(d) => p.receive_timeout(d, |m| is_result_of(m, &req)).await,
        None => Some(p.receive(|m| is_result_of(m, &req)).await),
    };
    match m {
        Some(m) => result(&m, &pending.res),
        None => give_up(p, &pending).await,
    }
}

/// `erpc:multicall(Nodes, Module, Function, Args, Timeout)`: calls all
/// nodes at once and returns one result per node, in the order of `nodes`.
/// The timeout is for the whole call.
pub async fn multicall(
    p: &mut Process,
    nodes: &[Atom],
    module: &str,
    function: &str,
    args: Vec<Term>,
    timeout: impl Into<Timeout>,
) -> Vec<Result<Term, ErpcError>> {
    let deadline = timeout.into().duration().map(|d| Instant::now() + d);
    let pending: Vec<Pending> = nodes
        .iter()
        .map(|n| send_call(p, &n.name, module, function, args.clone()))
        .collect();
    let mut results: Vec<Option<Result<Term, ErpcError>>> = vec![None; pending.len()];
    let mut left = pending.len();
    while left > 0 {
        let waiting: Vec<Reference> = pending
            .iter()
            .zip(&results)
            .filter(|(_, r)| r.is_none())
            .map(|(p, _)| p.req.clone())
            .collect();
        let matches = move |m: &Term| waiting.iter().any(|r| is_result_of(m, r));
        let m = match deadline {
            Some(d) => {
                let wait = d.saturating_duration_since(Instant::now());
                p.receive_timeout(wait, matches).await
            }
            None => Some(p.receive(matches).await),
        };
        let Some(m) = m else { break };
        if let Some(i) = pending.iter().position(|q| is_result_of(&m, &q.req)) {
            results[i] = Some(result(&m, &pending[i].res));
            left -= 1;
        }
    }
    let mut out = Vec::with_capacity(pending.len());
    for (q, r) in pending.iter().zip(results) {
        out.push(match r {
            Some(r) => r,
            None => give_up(p, q).await,
        });
    }
    out
}

/// `erpc:cast(Node, Module, Function, Args)`: runs `Module:Function(Args…)`
/// on `node` in a new process (`erpc:execute_cast/3`) and returns at once;
/// nothing comes back.
pub fn cast(p: &Process, node: &str, module: &str, function: &str, args: Vec<Term>) {
    let opts = SpawnOpts {
        reply: SpawnReply::No,
        ..Default::default()
    };
    let spawn_args = vec![atom(module), atom(function), list(args)];
    p.spawn_request(node, "erpc", "execute_cast", spawn_args, opts);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::term::int;

    #[test]
    fn down_reasons_map_like_erpc_result() {
        let res = atom("res");
        let down = |reason: Term| term!({DOWN, req, process, pid, (reason)});
        let r = |kind: &str, v: Term| term!({(res.clone()), (atom(kind)), (v)});
        assert_eq!(result(&down(r("return", int(1))), &res), Ok(int(1)));
        assert_eq!(
            result(&down(r("throw", atom("t"))), &res),
            Err(ErpcError::Throw(atom("t")))
        );
        let e = result(&down(r("exit", atom("x"))), &res).unwrap_err();
        assert_eq!(
            (e.class(), e.reason()),
            (Class::Exit, term!({exception, x}))
        );
        let e4 = term!({(res.clone()), error, undef, []});
        let e = result(&down(e4), &res).unwrap_err();
        assert_eq!(e.reason(), term!({exception, undef, []}));
        let erpc_err = r("error", term!({erpc, system_limit}));
        assert_eq!(
            result(&down(erpc_err), &res),
            Err(ErpcError::Erpc(atom("system_limit")))
        );
        assert_eq!(
            result(&down(atom("noconnection")), &res),
            Err(ErpcError::Erpc(atom("noconnection")))
        );
        assert_eq!(
            result(&down(atom("killed")), &res),
            Err(ErpcError::Signal(atom("killed")))
        );
        let spawn_error = term!({spawn_reply, req, error, notsup});
        assert_eq!(
            result(&spawn_error, &res),
            Err(ErpcError::Erpc(atom("notsup")))
        );
    }

    /// erpc through the local node's own spawn service (`rex`'s): the same
    /// path a remote call takes, minus the socket.
    #[tokio::test]
    async fn calls_to_this_node_and_to_an_unreachable_one() {
        use crate::kernel::rex::{self, Exception, Registry};
        use crate::runtime::Node;
        let node = Node::local("a@h");
        let reg = Registry::with_builtins();
        reg.register_sync("t", "raise", 1, |_, args| {
            let class = match args[0].as_atom() {
                Some("throw") => Class::Throw,
                Some("exit") => Class::Exit,
                _ => Class::Error,
            };
            Err(Exception {
                class,
                reason: atom("oops"),
            })
        });
        reg.register(
            "t",
            "sleep",
            0,
            std::sync::Arc::new(|_, _| {
                Box::pin(async {
                    tokio::time::sleep(Duration::from_millis(300)).await;
                    Ok(atom("late"))
                })
            }),
        );
        rex::start(&node, reg);
        let run = node.run_in_process(move |mut p| async move {
            let t = Duration::from_secs(2);
            let mut out = Vec::new();
            out.push(call(&mut p, "a@h", "erlang", "node", vec![], t).await);
            for class in ["throw", "exit", "error"] {
                out.push(call(&mut p, "a@h", "t", "raise", vec![atom(class)], t).await);
            }
            out.push(call(&mut p, "a@h", "nosuch", "f", vec![], t).await);
            out.push(call(&mut p, "b@h", "erlang", "node", vec![], t).await);
            out.push(
                call(
                    &mut p,
                    "a@h",
                    "t",
                    "sleep",
                    vec![],
                    Duration::from_millis(50),
                )
                .await,
            );
            let nodes = [Atom::from("a@h"), Atom::from("b@h")];
            let multi = multicall(&mut p, &nodes, "erlang", "node", vec![], t).await;
            (out, multi)
        });
        let (out, multi) = tokio::time::timeout(Duration::from_secs(5), run)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(out[0], Ok(atom("a@h")));
        assert_eq!(out[1], Err(ErpcError::Throw(atom("oops"))));
        assert_eq!(out[2], Err(ErpcError::Exit(atom("oops"))));
        assert!(matches!(&out[3], Err(ErpcError::Error { reason, .. }) if *reason == atom("oops")));
        assert!(
            matches!(&out[4], Err(ErpcError::Error { reason, .. }) if *reason == atom("undef"))
        );
        assert_eq!(out[5], Err(ErpcError::Erpc(atom("noconnection"))));
        assert_eq!(out[6], Err(ErpcError::Erpc(atom("timeout"))));
        assert_eq!(
            multi,
            vec![Ok(atom("a@h")), Err(ErpcError::Erpc(atom("noconnection")))]
        );
    }
}
