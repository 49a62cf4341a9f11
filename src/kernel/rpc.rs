//! The rpc client — mirrors `lib/kernel/src/rpc.erl` as OTP 23+ implements
//! `call/5`, `multicall/5` and `cast/4`: on top of [`super::erpc`], with
//! its exceptions turned into `{badrpc, Reason}` by `rpcify_exception/2`
//! and `rpcmulticallify/4`. (The `rex` server that answers old-style
//! rpc requests is [`super::rex`].)
//!
//! | the called function | `rpc:call` returns | here |
//! |---|---|---|
//! | returns `V` | `V` | `Ok(V)` |
//! | throws `V` | `V` (!) | `Ok(V)` |
//! | throws `{'EXIT', R}` | `{badrpc, {'EXIT', R}}` | `Err(BadRpc({'EXIT', R}))` |
//! | exits `R` | `{badrpc, {'EXIT', R}}` | `Err(BadRpc({'EXIT', R}))` |
//! | raises error `R` | `{badrpc, {'EXIT', {R, Stack}}}` | `Err(BadRpc({'EXIT', {R, Stack}}))` |
//! | node down / unknown | `{badrpc, nodedown}` | `Err(BadRpc(nodedown))` |
//! | no answer in time | `{badrpc, timeout}` | `Err(BadRpc(timeout))` |
//!
//! ```no_run
//! # async fn f(mut p: distro::runtime::Process) {
//! use distro::kernel::rpc;
//! use distro::term::atom;
//! use std::time::Duration;
//! let r = rpc::call(&mut p, "beam@127.0.0.1", "erlang", "whereis", vec![atom("rex")], Duration::from_secs(5)).await;
//! match r {
//!     Ok(pid) => println!("rex is {pid:?}"),
//!     Err(bad) => println!("{bad}"), // {badrpc, nodedown}
//! }
//! # }
//! ```

use super::erpc::{self, ErpcError};
use crate::behaviours::Timeout;
use crate::runtime::Process;
use crate::term;
use crate::term::{Atom, Pretty, Term, TermExt, atom};

/// `{badrpc, Reason}`: the error value of `rpc:call`.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{{badrpc, {}}}", Pretty(.0))]
pub struct BadRpc(pub Term);

impl BadRpc {
    /// `{badrpc, Reason}` as a term.
    pub fn to_term(&self) -> Term {
        term!({badrpc, (self.0.clone())})
    }
}

fn exit(reason: Term) -> BadRpc {
    BadRpc(term!({EXIT, (reason)}))
}

/// `rpc:rpcify_exception/2`. `error({erpc, badarg})`, which `rpc:call`
/// re-raises as `error(badarg)` in the caller, is `{badrpc, badarg}` here.
fn rpcify(e: ErpcError) -> Result<Term, BadRpc> {
    match e {
        ErpcError::Throw(v) if v.tuple_tag() == Some("EXIT") => Err(BadRpc(v)),
        ErpcError::Throw(v) => Ok(v),
        ErpcError::Exit(r) | ErpcError::Signal(r) => Err(exit(r)),
        ErpcError::Error { reason, stack } => Err(exit(term!({(reason), (stack)}))),
        ErpcError::Erpc(r) => Err(match r.as_atom() {
            Some("noconnection") => BadRpc(atom("nodedown")),
            Some("timeout" | "notsup" | "badarg") => BadRpc(r),
            _ => exit(r),
        }),
    }
}

/// `rpc:call(Node, Module, Function, Args, Timeout)` from process `p`
/// (see the table above for the result).
pub async fn call(
    p: &mut Process,
    node: &str,
    module: &str,
    function: &str,
    args: Vec<Term>,
    timeout: impl Into<Timeout>,
) -> Result<Term, BadRpc> {
    match erpc::call(p, node, module, function, args, timeout).await {
        Ok(v) => Ok(v),
        Err(e) => rpcify(e),
    }
}

/// `rpc:multicall(Nodes, Module, Function, Args, Timeout)`: `(Results,
/// BadNodes)`, where a node that is down or did not answer in time is a bad
/// node and every other node contributes one result (a value, or a
/// `{badrpc, …}` term), in the order of `nodes`.
pub async fn multicall(
    p: &mut Process,
    nodes: &[Atom],
    module: &str,
    function: &str,
    args: Vec<Term>,
    timeout: impl Into<Timeout>,
) -> (Vec<Term>, Vec<Atom>) {
    let results = erpc::multicall(p, nodes, module, function, args, timeout).await;
    let mut ok = Vec::new();
    let mut bad = Vec::new();
    for (node, r) in nodes.iter().zip(results) {
        match r {
            Ok(v) if v.tuple_tag() == Some("EXIT") => ok.push(BadRpc(v).to_term()),
            Ok(v) => ok.push(v),
            Err(e) if e.is_bad_node() => bad.push(node.clone()),
            Err(e) => ok.push(rpcify(e).unwrap_or_else(|b| b.to_term())),
        }
    }
    (ok, bad)
}

/// `rpc:cast(Node, Module, Function, Args)`: fire and forget.
pub fn cast(p: &Process, node: &str, module: &str, function: &str, args: Vec<Term>) {
    erpc::cast(p, node, module, function, args);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::term::nil;

    #[test]
    fn exceptions_become_badrpc_like_rpcify_exception() {
        let x = atom("x");
        assert_eq!(rpcify(ErpcError::Throw(x.clone())), Ok(x.clone()));
        let thrown_exit = term!({EXIT, (x.clone())});
        assert_eq!(
            rpcify(ErpcError::Throw(thrown_exit.clone())),
            Err(BadRpc(thrown_exit.clone()))
        );
        assert_eq!(
            rpcify(ErpcError::Exit(x.clone())),
            Err(BadRpc(thrown_exit.clone()))
        );
        assert_eq!(
            rpcify(ErpcError::Signal(x.clone())),
            Err(BadRpc(thrown_exit))
        );
        let undef = ErpcError::Error {
            reason: atom("undef"),
            stack: nil(),
        };
        assert_eq!(
            rpcify(undef).unwrap_err().to_term(),
            term!({badrpc, {EXIT, {undef, []}}})
        );
        assert_eq!(
            rpcify(ErpcError::Erpc(atom("noconnection"))),
            Err(BadRpc(atom("nodedown")))
        );
        assert_eq!(
            rpcify(ErpcError::Erpc(atom("timeout"))),
            Err(BadRpc(atom("timeout")))
        );
        assert_eq!(
            rpcify(ErpcError::Erpc(atom("system_limit"))),
            Err(BadRpc(term!({EXIT, system_limit})))
        );
    }
}
