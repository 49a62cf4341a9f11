//! rpc and erpc against real BEAM nodes, both ways: BEAM's `rpc:call` /
//! `erpc:call` / `rpc:multicall` answered by Rust nodes, and the Rust
//! `kernel::rpc` / `kernel::erpc` clients calling BEAM nodes and other Rust
//! nodes. Expected values are what the same calls give between BEAM nodes
//! (`rpc.erl`'s `rpcify_exception/2`, `erpc.erl`'s `result/4`).

use crate::support::rust_node::{RustNode, pid_literal};
use crate::support::{BeamNode, BeamOpts, Epmd, require_otp};
use distro::kernel::erpc::{self, ErpcError};
use distro::kernel::rex::{Class, Exception};
use distro::kernel::rpc::{self, BadRpc};
use distro::term;
use distro::term::{Atom, Term, TermExt, atom, int, list};
use std::time::Duration;

const T: Duration = Duration::from_secs(10);

fn beam(epmd: &Epmd, label: &str, otp: &crate::support::Otp) -> BeamNode {
    BeamNode::start(epmd, BeamOpts::new(label).otp(otp.clone())).expect("beam node starts")
}

/// Registers `t:raise/1`: `raise(throw | exit | error)` raises `oops` with that class.
fn register_raise(rust: &RustNode) {
    rust.kernel.rpc.register_sync("t", "raise", 1, |_, args| {
        let class = match args.first().and_then(TermExt::as_atom) {
            Some("throw") => Class::Throw,
            Some("exit") => Class::Exit,
            _ => Class::Error,
        };
        Err(Exception {
            class,
            reason: atom("oops"),
        })
    });
}

#[test]
fn beam_rpc_and_erpc_into_a_rust_node() {
    let Some(otp) = require_otp() else { return };
    let epmd = Epmd::start().unwrap();
    let rust = RustNode::start(&epmd, "r");
    register_raise(&rust);
    let b = beam(&epmd, "b", &otp);
    let probe = rust.probe(Some("some_registered"), false, |_| {});
    let r = rust.atom();

    // erlang:whereis/1 gives the pid of the registered process.
    let same = b
        .eval(&format!(
            "rpc:call({r}, erlang, whereis, [some_registered]) =:= {}.",
            pid_literal(&probe.pid)
        ))
        .unwrap();
    assert_eq!(same, "true");
    assert_eq!(
        b.eval(&format!("rpc:call({r}, erlang, whereis, [nobody])."))
            .unwrap(),
        "undefined"
    );
    // An unknown function is undef, with erpc's one-frame stack.
    assert_eq!(
        b.eval(&format!("rpc:call({r}, nosuch, f, [1]).")).unwrap(),
        "{badrpc,{'EXIT',{undef,[{nosuch,f,[1],[]}]}}}"
    );
    // erpc:call re-raises with the class the function raised; an error's
    // stack is the called function's frame, as for a BIF.
    let classes = b
        .eval(&format!(
            "[try erpc:call({r}, t, raise, [C]) catch Cl:E -> {{Cl, E}} end || C <- [throw, exit, error]]."
        ))
        .unwrap();
    assert_eq!(
        classes,
        "[{throw,oops},{exit,{exception,oops}},{error,{exception,oops,[{t,raise,[error],[]}]}}]"
    );
    // And rpc:call turns them into rpc's shapes (a throw is a value).
    assert_eq!(
        b.eval(&format!(
            "[rpc:call({r}, t, raise, [C]) || C <- [throw, exit, error]]."
        ))
        .unwrap(),
        "[oops,{badrpc,{'EXIT',oops}},{badrpc,{'EXIT',{oops,[{t,raise,[error],[]}]}}}]"
    );
    // global:whereis_name/1 answers from the Rust node's global table.
    let gpid = probe.pid.clone();
    let g = rust.kernel.global.clone();
    assert!(rust.run(g.register_name(atom("rpc_gname"), &gpid)).unwrap());
    let same = b
        .eval(&format!(
            "rpc:call({r}, global, whereis_name, [rpc_gname]) =:= {}.",
            pid_literal(&gpid)
        ))
        .unwrap();
    assert_eq!(same, "true");
    // rpc:cast runs the function; here it sends to a registered Rust process.
    b.eval(&format!(
        "true = rpc:cast({r}, erlang, send, [some_registered, cast_arrived])."
    ))
    .unwrap();
    assert_eq!(probe.recv(T), Some(atom("cast_arrived")));
}

#[test]
fn rpc_multicall_over_beam_and_rust_nodes() {
    let Some(otp) = require_otp() else { return };
    let epmd = Epmd::start().unwrap();
    let r1 = RustNode::start(&epmd, "r1");
    let r2 = RustNode::start(&epmd, "r2");
    let b1 = beam(&epmd, "b1", &otp);
    let b2 = beam(&epmd, "b2", &otp);
    let names = [b1.node_name(), r1.name(), b2.node_name(), r2.name()];
    let list_lit = names
        .iter()
        .map(|n| format!("'{n}'"))
        .collect::<Vec<_>>()
        .join(",");
    // From BEAM: every node answers erlang:node/0; a missing node is bad.
    let got = b1
        .eval(&format!(
            "rpc:multicall([{list_lit}, 'missing@127.0.0.1'], erlang, node, [], 10000)."
        ))
        .unwrap();
    assert_eq!(got, format!("{{[{list_lit}],['missing@127.0.0.1']}}"));
    // From Rust, with an undef on every node.
    let mut nodes: Vec<Atom> = names.iter().map(|n| Atom::from(*n)).collect();
    nodes.push(Atom::from("missing@127.0.0.1"));
    let n2 = nodes.clone();
    let (ok, bad) = r1.in_process(T * 2, move |mut p| async move {
        rpc::multicall(&mut p, &n2, "erlang", "node", vec![], T).await
    });
    let expected: Vec<Term> = names.iter().map(|n| atom(n)).collect();
    assert_eq!(ok, expected);
    assert_eq!(bad, vec![Atom::from("missing@127.0.0.1")]);
    let n2 = nodes[..4].to_vec();
    let (ok, bad) = r1.in_process(T * 2, move |mut p| async move {
        rpc::multicall(&mut p, &n2, "nosuch", "f", vec![], T).await
    });
    assert!(bad.is_empty());
    assert_eq!(ok.len(), 4);
    for r in ok {
        let reason = r.elem(1).and_then(|e| e.elem(1)).and_then(|e| e.elem(0));
        assert_eq!(reason, Some(&atom("undef")), "{r:?}");
    }
}

#[test]
fn rust_rpc_and_erpc_into_beam() {
    let Some(otp) = require_otp() else { return };
    let epmd = Epmd::start().unwrap();
    let rust = RustNode::start(&epmd, "r");
    let b = beam(&epmd, "b", &otp);
    b.eval("register(sink, self()).").unwrap();
    let bn = b.node_name().to_owned();
    let out = rust.in_process(T * 3, move |mut p| async move {
        let b = bn.as_str();
        let abc = vec![list(vec![atom("a"), atom("b"), int(300)])];
        let reverse = rpc::call(&mut p, b, "lists", "reverse", abc, T).await;
        let undef = rpc::call(&mut p, b, "nosuch", "f", vec![atom("a")], T).await;
        let thrown = rpc::call(&mut p, b, "erlang", "throw", vec![atom("x")], T).await;
        let timeout = rpc::call(
            &mut p,
            b,
            "timer",
            "sleep",
            vec![int(2000)],
            Duration::from_millis(200),
        )
        .await;
        let nodedown = rpc::call(&mut p, "missing@127.0.0.1", "erlang", "node", vec![], T).await;
        let e_throw = erpc::call(&mut p, b, "erlang", "throw", vec![atom("x")], T).await;
        let e_exit = erpc::call(&mut p, b, "erlang", "exit", vec![atom("bye")], T).await;
        let e_error = erpc::call(&mut p, b, "erlang", "error", vec![atom("boom")], T).await;
        rpc::cast(
            &p,
            b,
            "erlang",
            "send",
            vec![atom("sink"), atom("cast_arrived")],
        );
        (
            reverse, undef, thrown, timeout, nodedown, e_throw, e_exit, e_error,
        )
    });
    let (reverse, undef, thrown, timeout, nodedown, e_throw, e_exit, e_error) = out;
    assert_eq!(reverse, Ok(list(vec![int(300), atom("b"), atom("a")])));
    // {badrpc, {'EXIT', {undef, [{nosuch, f, [a], []}]}}}
    let undef = undef.unwrap_err().0;
    assert_eq!(undef.tuple_tag(), Some("EXIT"));
    let inner = undef.elem(1).unwrap();
    assert_eq!(inner.elem(0), Some(&atom("undef")));
    let frame = inner.elem(1).and_then(|s| s.as_list()).unwrap()[0].clone();
    assert_eq!(frame.elem(0), Some(&atom("nosuch")));
    assert_eq!(frame.elem(2), Some(&list(vec![atom("a")])));
    assert_eq!(thrown, Ok(atom("x")), "rpc:call returns a thrown value");
    assert_eq!(timeout, Err(BadRpc(atom("timeout"))));
    assert_eq!(nodedown, Err(BadRpc(atom("nodedown"))));
    assert_eq!(e_throw, Err(ErpcError::Throw(atom("x"))));
    let e_exit = e_exit.unwrap_err();
    assert_eq!(e_exit, ErpcError::Exit(atom("bye")));
    assert_eq!(e_exit.class(), Class::Exit);
    let e_error = e_error.unwrap_err();
    assert_eq!(e_error.class(), Class::Error);
    assert!(matches!(&e_error, ErpcError::Error { reason, .. } if *reason == atom("boom")));
    assert_eq!(
        b.eval("receive M -> M after 5000 -> timeout end.").unwrap(),
        "cast_arrived"
    );
}

#[test]
fn rust_rpc_into_another_rust_node() {
    let Some(_otp) = require_otp() else { return };
    let epmd = Epmd::start().unwrap();
    let r1 = RustNode::start(&epmd, "r1");
    let r2 = RustNode::start(&epmd, "r2");
    register_raise(&r2);
    let probe = r2.probe(Some("sink"), false, |_| {});
    let target = r2.name().to_owned();
    let out = r1.in_process(T * 2, move |mut p| async move {
        let n = target.as_str();
        let node = rpc::call(&mut p, n, "erlang", "node", vec![], T).await;
        let undef = rpc::call(&mut p, n, "nosuch", "f", vec![], T).await;
        let mut raised = Vec::new();
        for c in ["throw", "exit", "error"] {
            raised.push(erpc::call(&mut p, n, "t", "raise", vec![atom(c)], T).await);
        }
        erpc::cast(&p, n, "erlang", "send", vec![atom("sink"), atom("hi")]);
        (node, undef, raised)
    });
    let (node, undef, raised) = out;
    assert_eq!(node, Ok(atom(r2.name())));
    assert_eq!(
        undef.unwrap_err().to_term(),
        term!({badrpc, {EXIT, {undef, [{nosuch, f, [], []}]}}})
    );
    let classes: Vec<Class> = raised
        .iter()
        .map(|r| r.as_ref().unwrap_err().class())
        .collect();
    assert_eq!(classes, [Class::Throw, Class::Exit, Class::Error]);
    assert_eq!(probe.recv(T), Some(atom("hi")));
}

#[test]
fn spawn_request_to_beam_links_and_monitors_the_new_process() {
    use distro::runtime::{SpawnOpts, SpawnReply};
    let Some(otp) = require_otp() else { return };
    let epmd = Epmd::start().unwrap();
    let rust = RustNode::start(&epmd, "r");
    let b = beam(&epmd, "b", &otp);
    let bn = b.node_name().to_owned();
    let (reply, exit, down) = rust.in_process(T, move |mut p| async move {
        p.trap_exit(true);
        let opts = SpawnOpts {
            link: true,
            monitor: true,
            reply: SpawnReply::Yes,
        };
        let req = p.spawn_request(&bn, "erlang", "exit", vec![atom("boom")], opts);
        let req_t = Term::Reference(Box::new(req.clone()));
        let reply = p
            .receive(|m| m.tuple_tag() == Some("spawn_reply") && m.elem(1) == Some(&req_t))
            .await;
        let exit = p.receive(|m| m.tuple_tag() == Some("EXIT")).await;
        let down = p
            .receive(|m| m.tuple_tag() == Some("DOWN") && m.elem(1) == Some(&req_t))
            .await;
        (reply, exit, down)
    });
    assert_eq!(reply.elem(2), Some(&atom("ok")));
    let child = reply
        .elem(3)
        .and_then(TermExt::as_pid)
        .cloned()
        .expect("a pid");
    assert_eq!(child.node.name, b.node_name());
    assert_eq!(exit.elem(1), Some(&Term::Pid(child.clone())));
    assert_eq!(exit.elem(2), Some(&atom("boom")));
    assert_eq!(down.elem(3), Some(&Term::Pid(child)));
    assert_eq!(down.elem(4), Some(&atom("boom")));
}
