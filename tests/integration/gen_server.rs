//! gen_server between Rust and real BEAM nodes, both ways: BEAM's
//! `gen_server:call/cast/multi_call/stop` reaching a Rust [`GenServer`] by
//! local name, `{global, Name}`, pid and Elixir-style names, and the Rust
//! client calling a gen_server compiled into the BEAM node at test time.
//! Exit shapes are compared with what OTP produces between BEAM nodes.

use crate::support::rust_node::{RustNode, pid_literal};
use crate::support::{BeamNode, BeamOpts, Epmd, require_otp};
use distro::behaviours::gen_server::{
    self, CallReply, GenFrom, GenServer, Next, ServerName, ServerRef, Timeout, elixir_alias,
};
use distro::runtime::Process;
use distro::term;
use distro::term::{Atom, Term, TermExt, atom, int};
use std::time::Duration;

const T: Duration = Duration::from_secs(10);

fn beam(epmd: &Epmd, label: &str, otp: &crate::support::Otp) -> BeamNode {
    BeamNode::start(epmd, BeamOpts::new(label).otp(otp.clone())).expect("beam node starts")
}

/// A counter: `get`, `{add, N}` (call and cast), `{sleep, Ms}`, `ping`.
struct Calc(i64);

impl GenServer for Calc {
    async fn handle_call(&mut self, req: Term, _from: GenFrom, _p: &mut Process) -> CallReply {
        match (req.tuple_tag().or(req.as_atom()), req.elem(1)) {
            (Some("get"), _) => CallReply::Reply(int(self.0)),
            (Some("add"), Some(n)) => {
                self.0 += n.as_i64().unwrap_or(0);
                CallReply::Reply(int(self.0))
            }
            (Some("sleep"), Some(ms)) => {
                let ms = u64::try_from(ms.as_i64().unwrap_or(0)).unwrap_or(0);
                tokio::time::sleep(Duration::from_millis(ms)).await;
                CallReply::Reply(atom("slept"))
            }
            (Some("ping"), _) => CallReply::Reply(atom("pong")),
            _ => CallReply::Reply(term!({unknown, (req)})),
        }
    }

    async fn handle_cast(&mut self, req: Term, _p: &mut Process) -> Next {
        if let (Some("add"), Some(n)) = (req.tuple_tag(), req.elem(1)) {
            self.0 += n.as_i64().unwrap_or(0);
        }
        Next::Continue
    }
}

fn start(rust: &RustNode, name: Option<ServerName>) -> distro::term::Pid {
    let node = rust.node.clone();
    rust.run(async move { gen_server::start(&node, name, Calc(0)).await })
        .expect("server starts")
}

#[test]
fn beam_calls_casts_and_multi_calls_a_rust_gen_server() {
    let Some(otp) = require_otp() else { return };
    let epmd = Epmd::start().unwrap();
    let rust = RustNode::start(&epmd, "r");
    let b = beam(&epmd, "b", &otp);
    let r = rust.atom();
    let pid = start(&rust, Some(ServerName::local("calc")));
    assert_eq!(
        b.eval(&format!("gen_server:call({{calc, {r}}}, {{add, 2}})."))
            .unwrap(),
        "2"
    );
    b.eval(&format!("gen_server:cast({{calc, {r}}}, {{add, 3}})."))
        .unwrap();
    assert_eq!(
        b.eval(&format!("gen_server:call({}, get).", pid_literal(&pid)))
            .unwrap(),
        "5"
    );
    // A pre-OTP-24 caller's plain reference tag gets {Ref, Reply} back.
    assert_eq!(
        b.eval(&format!(
            "Ref = make_ref(), {{calc, {r}}} ! {{'$gen_call', {{self(), Ref}}, get}}, \
             receive {{Ref, V}} -> V after 5000 -> timeout end."
        ))
        .unwrap(),
        "5"
    );
    // multi_call: the BEAM node has no calc; OTP 25 tags {Ref, Node}, OTP 26+ [[alias|A]|Mon].
    assert_eq!(
        b.eval(&format!("gen_server:multi_call([{r}, node()], calc, get)."))
            .unwrap(),
        format!("{{[{{{r},5}}],[{}]}}", b.atom())
    );
    // Exit shapes: noproc, timeout.
    assert_eq!(
        b.eval(&format!("catch gen_server:call({{nobody, {r}}}, x, 1000)."))
            .unwrap(),
        format!("{{'EXIT',{{noproc,{{gen_server,call,[{{nobody,{r}}},x,1000]}}}}}}")
    );
    assert_eq!(
        b.eval(&format!(
            "catch gen_server:call({{calc, {r}}}, {{sleep, 1000}}, 100)."
        ))
        .unwrap(),
        format!("{{'EXIT',{{timeout,{{gen_server,call,[{{calc,{r}}},{{sleep,1000}},100]}}}}}}")
    );
    // gen_server:stop/1 (sys:terminate) stops it.
    assert_eq!(
        b.eval(&format!("gen_server:stop({{calc, {r}}}).")).unwrap(),
        "ok"
    );
    assert_eq!(
        b.eval(&format!("rpc:call({r}, erlang, whereis, [calc])."))
            .unwrap(),
        "undefined"
    );
}

#[test]
fn beam_reaches_global_and_elixir_named_rust_servers() {
    let Some(otp) = require_otp() else { return };
    let epmd = Epmd::start().unwrap();
    let rust = RustNode::start(&epmd, "r");
    let b = beam(&epmd, "b", &otp);
    let r = rust.atom();
    assert_eq!(b.eval(&format!("net_adm:ping({r}).")).unwrap(), "pong");
    let g = rust.kernel.global.clone();
    start(&rust, Some(ServerName::via(g.clone(), atom("gcalc"))));
    let cal = elixir_alias("Distro.DistroCal");
    assert_eq!(cal.name, "Elixir.Distro.DistroCal");
    start(&rust, Some(ServerName::Local(cal.clone())));
    start(&rust, Some(ServerName::via(g, Term::Atom(cal))));
    b.eval_until(
        "global:whereis_name('Elixir.Distro.DistroCal') =/= undefined andalso global:whereis_name(gcalc) =/= undefined.",
        "true",
        T,
    )
    .unwrap();
    assert_eq!(
        b.eval("gen_server:call({global, gcalc}, {add, 7}).")
            .unwrap(),
        "7"
    );
    b.eval("gen_server:cast({global, gcalc}, {add, 1}).")
        .unwrap();
    assert_eq!(
        b.eval("gen_server:call({global, gcalc}, get).").unwrap(),
        "8"
    );
    assert_eq!(
        b.eval(&format!(
            "gen_server:call({{'Elixir.Distro.DistroCal', {r}}}, ping)."
        ))
        .unwrap(),
        "pong"
    );
    assert_eq!(
        b.eval("gen_server:call({global, 'Elixir.Distro.DistroCal'}, ping).")
            .unwrap(),
        "pong"
    );
    assert_eq!(
        b.eval("node(global:whereis_name('Elixir.Distro.DistroCal')).")
            .unwrap(),
        r
    );
    assert_eq!(
        b.eval("catch gen_server:call({global, nobody}, x).")
            .unwrap(),
        "{'EXIT',{noproc,{gen_server,call,[{global,nobody},x]}}}"
    );
}

/// A `kv` gen_server module compiled into the BEAM node: `get`,
/// `{sleep, Ms}`, anything else echoed; cast `{set, V}`.
const KV_FORMS: &[&str] = &[
    "-module(kv).",
    "-behaviour(gen_server).",
    "-export([init/1, handle_call/3, handle_cast/2, handle_info/2]).",
    "init(S) -> {ok, S}.",
    "handle_call(get, _F, S) -> {reply, S, S}; \
     handle_call({sleep, T}, _F, S) -> timer:sleep(T), {reply, slept, S}; \
     handle_call(R, _F, S) -> {reply, {echo, R}, S}.",
    "handle_cast({set, V}, _S) -> {noreply, V}.",
    "handle_info(_, S) -> {noreply, S}.",
];

fn load_kv(b: &BeamNode) {
    let forms: Vec<String> = KV_FORMS.iter().map(|f| format!("{f:?}")).collect();
    b.eval(&format!(
        "KvForms = [begin {{ok, KvT, _}} = erl_scan:string(KvF), {{ok, KvFm}} = erl_parse:parse_form(KvT), KvFm end \
         || KvF <- [{}]], {{ok, kv, KvBin}} = compile:forms(KvForms), \
         {{module, kv}} = code:load_binary(kv, \"kv.erl\", KvBin), ok.",
        forms.join(", ")
    ))
    .unwrap();
}

#[test]
fn rust_calls_casts_multi_calls_and_stops_beam_gen_servers() {
    let Some(otp) = require_otp() else { return };
    let epmd = Epmd::start().unwrap();
    let rust = RustNode::start(&epmd, "r");
    let b1 = beam(&epmd, "b1", &otp);
    let b2 = beam(&epmd, "b2", &otp);
    load_kv(&b1);
    b1.eval("{ok, _} = gen_server:start({local, kv}, kv, 0, []), {ok, _} = gen_server:start({global, gkv}, kv, 100, []), ok.")
        .unwrap();
    assert!(rust.run(rust.node.ping(b1.node_name())));
    assert!(rust.run(rust.node.ping(b2.node_name())));
    // A Rust kv too, for the mixed multi_call.
    start(&rust, Some(ServerName::local("kv")));
    let g = rust.kernel.global.clone();
    for _ in 0..100 {
        if g.whereis_name(&atom("gkv")).is_some() {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let (b1n, b2n, me) = (
        b1.node_name().to_owned(),
        b2.node_name().to_owned(),
        rust.name().to_owned(),
    );
    let out = rust.in_process(T * 3, move |mut p| async move {
        let kv = ServerRef::from(("kv", b1n.as_str()));
        let echo = gen_server::call(&mut p, kv.clone(), atom("hi"), Timeout::DEFAULT).await;
        gen_server::cast(&p, kv.clone(), term!({set, 42}));
        let got = gen_server::call(&mut p, kv.clone(), atom("get"), T).await;
        let global = gen_server::call(&mut p, ServerRef::via(g, atom("gkv")), atom("get"), T).await;
        let nodes = [
            Atom::from(b1n.as_str()),
            Atom::from(b2n.as_str()),
            Atom::from(me.as_str()),
        ];
        let multi = gen_server::multi_call(&mut p, &nodes, "kv", atom("get"), T).await;
        let noproc = gen_server::call(
            &mut p,
            ("nobody", b1n.as_str()),
            atom("x"),
            Duration::from_millis(1000),
        )
        .await;
        let sleep = term!({sleep, 1000});
        let timeout = gen_server::call(&mut p, kv.clone(), sleep, Duration::from_millis(100)).await;
        let nodedown = gen_server::call(&mut p, ("kv", "missing@127.0.0.1"), atom("x"), T).await;
        let stopped = gen_server::stop(&mut p, kv, atom("normal"), T).await;
        (echo, got, global, multi, noproc, timeout, nodedown, stopped)
    });
    let (echo, got, global, multi, noproc, timeout, nodedown, stopped) = out;
    assert_eq!(echo, Ok(term!({echo, hi})));
    assert_eq!(got, Ok(int(42)));
    assert_eq!(global, Ok(int(100)));
    assert_eq!(
        multi,
        (
            vec![
                (Atom::from(b1.node_name()), int(42)),
                (Atom::from(rust.name()), int(0))
            ],
            vec![Atom::from(b2.node_name())]
        )
    );
    let b1a = atom(b1.node_name());
    assert_eq!(
        noproc.unwrap_err().to_term(),
        term!({noproc, {gen_server, call, [{nobody, (b1a.clone())}, x, 1000]}})
    );
    let timeout = timeout.unwrap_err();
    assert!(timeout.is_timeout());
    assert_eq!(timeout.args[0], term!({kv, (b1a)}));
    assert_eq!(
        nodedown.unwrap_err().reason,
        term!({nodedown, :"missing@127.0.0.1"})
    );
    assert_eq!(stopped, Ok(()));
    b1.eval_until("whereis(kv).", "undefined", T).unwrap();
}

#[test]
fn a_call_to_a_beam_node_that_dies_exits_nodedown() {
    let Some(otp) = require_otp() else { return };
    let epmd = Epmd::start().unwrap();
    let rust = RustNode::start(&epmd, "r");
    let b = beam(&epmd, "b", &otp);
    load_kv(&b);
    b.eval("{ok, _} = gen_server:start({local, kv}, kv, 0, []), ok.")
        .unwrap();
    let bn = b.node_name().to_owned();
    let (tx, rx) = std::sync::mpsc::channel();
    let _g = rust.rt.enter();
    rust.node.spawn(move |mut p| async move {
        let sleep = term!({sleep, 30_000});
        let r = gen_server::call(&mut p, ("kv", bn.as_str()), sleep, Timeout::Infinity).await;
        let _ = tx.send(r);
    });
    std::thread::sleep(Duration::from_millis(500));
    b.kill();
    let r = rx.recv_timeout(T).expect("the call ends");
    let exit = r.unwrap_err();
    assert_eq!(exit.reason, term!({nodedown, (atom(b.node_name()))}));
    assert_eq!(exit.args[2], atom("infinity"));
}
