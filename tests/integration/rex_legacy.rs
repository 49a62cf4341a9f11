//! The `rex` protocol as `rpc.erl` serves it, from a BEAM node to a Rust
//! node, each answer compared with what the same call gets from a second
//! BEAM node: `rpc:block_call` (a `gen_server:call` of `{block_call, ...}`),
//! `rpc:sbcast` (`{From, {sbcast, Name, Msg}}`), the `{From, {send, ...}}`
//! and `{From, {call, ...}}` forms hidden C nodes use, a call rex does not
//! know (no answer, as rpc.erl gives none), and `spawn/4` of a function the
//! node lacks (a process that exits with `undef`, seen by links and
//! monitors).

use crate::support::rust_node::RustNode;
use crate::support::{
    BeamNode, BeamOpts, DEFAULT_COOKIE, DistroNode, DistroOpts, Epmd, require_otp, unique_node,
};
use distro::term::{TermExt, atom};
use std::time::Duration;

const T: Duration = Duration::from_secs(10);

/// Evaluates `expr(Node)` on `driver` for the Rust node and for the BEAM
/// node; the two answers with the node name replaced by `NODE`.
fn both(driver: &BeamNode, rust: &str, beam: &str, expr: &str) -> (String, String) {
    let on = |n: &str| {
        // A clean mailbox for each answer.
        let flush = "(fun Flush() -> receive _ -> Flush() after 0 -> ok end end)()";
        let v = driver
            .eval(&format!("{flush}, (fun(Node) -> {expr} end)('{n}')."))
            .unwrap_or_else(|e| panic!("{e}"));
        v.replace(&format!("'{n}'"), "NODE")
    };
    (on(rust), on(beam))
}

#[test]
fn legacy_rex_forms_are_answered_as_rpc_erl_answers_them() {
    let Some(otp) = require_otp() else { return };
    let epmd = Epmd::start().unwrap();
    let rust = RustNode::start(&epmd, "rr");
    let _probe = rust.probe(Some("legacy_target"), false, |_| {});
    let driver = BeamNode::start(&epmd, BeamOpts::new("rd").otp(otp.clone())).unwrap();
    let beam = BeamNode::start(&epmd, BeamOpts::new("rb").otp(otp)).unwrap();
    // The BEAM reference node gets a registered process of the same name.
    beam.eval("register(legacy_target, spawn(fun() -> receive stop -> ok end end)), ok.")
        .unwrap();
    let cases = [
        // gen_server:call(rex, {block_call, ...}).
        "rpc:block_call(Node, erlang, node, [])",
        "rpc:block_call(Node, nosuch, f, [1])",
        "rpc:block_call(Node, erlang, whereis, [nobody], 5000)",
        // {From, {sbcast, Name, Msg}}: {[Node], []} or {[], [Node]}.
        "rpc:sbcast([Node], legacy_target, hi)",
        "rpc:sbcast([Node], nobody_here, hi)",
        // {From, {send, Name, Msg}}: only a failure is answered.
        "{rex, Node} ! {self(), {send, nobody_here, x}}, \
         receive {rex, _, R} -> R after 5000 -> no_answer end",
        "{rex, Node} ! {self(), {send, legacy_target, x}}, \
         receive {rex, _, R} -> R after 1000 -> no_answer end",
        // {From, {call, M, F, A, GL}} (erl_interface, jinterface): {rex, Reply}.
        "{rex, Node} ! {self(), {call, erlang, node, [], user}}, \
         receive {rex, R} -> R after 5000 -> no_answer end",
        // A call rex does not know is ignored: the caller times out.
        "catch gen_server:call({rex, Node}, what_is_this, 1000)",
        // ... as is a cast or a message it does not know; rex goes on.
        "gen_server:cast({rex, Node}, what_is_this), {rex, Node} ! junk, \
         rpc:block_call(Node, erlang, is_alive, [])",
    ];
    for expr in cases {
        let (ours, theirs) = both(&driver, rust.name(), beam.node_name(), expr);
        assert_eq!(ours, theirs, "{expr}");
    }
    // An unknown function in the C-node form: rpc:call's undef. (Not
    // compared: under load OTP 25's rex once answered {badrpc, {'EXIT',
    // noproc}} here.)
    let undef = driver
        .eval(&format!(
            "{{rex, '{}'}} ! {{self(), {{call, nosuch, f, [a], user}}}}, \
             receive {{rex, R}} -> R after 5000 -> no_answer end.",
            rust.name()
        ))
        .unwrap();
    assert_eq!(undef, "{badrpc,{'EXIT',{undef,[{nosuch,f,[a],[]}]}}}");
    // The sbcast and send reached the Rust process.
    let got: Vec<_> = std::iter::from_fn(|| _probe.recv(Duration::from_millis(500))).collect();
    assert!(got.contains(&atom("hi")), "{got:?}");
    assert!(
        got.iter()
            .any(|m| m.as_tuple().is_some_and(|t| t.len() == 2)),
        "{{From, x}} from the send form: {got:?}"
    );
}

#[test]
fn spawn_of_an_unknown_function_exits_with_undef() {
    let Some(otp) = require_otp() else { return };
    let epmd = Epmd::start().unwrap();
    let rust = RustNode::start(&epmd, "sr");
    let driver = BeamNode::start(&epmd, BeamOpts::new("sd").otp(otp.clone())).unwrap();
    let beam = BeamNode::start(&epmd, BeamOpts::new("sb").otp(otp)).unwrap();
    let cases = [
        // The process exists (a pid comes back) and a monitor sees undef.
        "{P, Ref} = spawn_monitor(Node, nosuch, f, [1]), \
         receive {'DOWN', Ref, process, P, Why} -> {is_pid(P), Why} after 5000 -> timeout end",
        // A link sees it too.
        "process_flag(trap_exit, true), P = spawn_link(Node, nosuch, g, []), \
         receive {'EXIT', P, Why} -> Why after 5000 -> timeout end",
    ];
    for expr in cases {
        let (ours, theirs) = both(&driver, rust.name(), beam.node_name(), expr);
        assert_eq!(ours, theirs, "{expr}");
        assert!(ours.contains("undef"), "{ours}");
    }
}

#[test]
fn unknown_rex_messages_are_logged_at_debug() {
    let Some(otp) = require_otp() else { return };
    let epmd = Epmd::start().unwrap();
    let name = unique_node("rl");
    let d = DistroNode::start(
        &epmd,
        DistroOpts::new()
            .args(["-name", &name, "-setcookie", DEFAULT_COOKIE])
            .env("DISTRO_LOG", "debug"),
    )
    .unwrap();
    d.wait_for_log("distribution started", T).unwrap();
    let b = BeamNode::start(&epmd, BeamOpts::new("rlb").otp(otp)).unwrap();
    b.eval(&format!(
        "{{rex, '{name}'}} ! {{self(), surprise}}, gen_server:cast({{rex, '{name}'}}, odd_cast), ok."
    ))
    .unwrap();
    d.wait_for_log("rex ignores the message", T).unwrap();
    d.wait_for_log("rex ignores the cast odd_cast", T).unwrap();
}
