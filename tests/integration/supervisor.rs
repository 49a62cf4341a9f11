//! Supervision trees, applications that heal, and the `sys` protocol
//! against real BEAM nodes of the release `DISTRO_OTP` selects:
//!
//! * `sys:get_state/get_status/replace_state/suspend/resume/statistics/
//!   log/trace` and unknown system messages from BEAM on a Rust gen_server,
//!   compared with what the same release answers for an Erlang gen_server;
//! * `supervisor:start_child/terminate_child/restart_child/delete_child`
//!   and `rest_for_one` restarts of a Rust supervisor, compared with a BEAM
//!   supervisor with the same child specs;
//! * `supervisor:which_children/count_children/get_childspec/
//!   get_callback_module` and `sys` on the Rust `distro` and `myapp`
//!   trees, compared with the Elixir `distro`'s and the Erlang `myapp`'s
//!   (and the time from a kill to the restarted child, both sides);
//! * BEAM kills the Rust `Distro.DistroCal`: it is restarted, the global
//!   name is back, `add(4, 5)` is 9 again; killed more often than the
//!   intensity allows, the application exits as its restart type says
//!   (temporary: logged; transient: the node stops);
//! * with `permanent`, the distro node stops; what the others' dist_ac do
//!   then is compared with an Elixir node in distro's place (OTP stops the
//!   application cluster-wide: no failover).

use crate::dist_ac::cluster::{COOKIE, Cluster, LONG, block, name, until};
use crate::support::rust_node::RustNode;
use crate::support::{
    BeamNode, BeamOpts, DistroNode, DistroOpts, Epmd, Otp, require_elixir, require_otp,
};
use distro::behaviours::gen_server::{self, CallReply, GenFrom, GenServer, ServerName};
use distro::behaviours::supervisor::{
    self, ChildSpec, Mfa, Restart, Shutdown, StartOutcome, Strategy, SupSpec, start_fn,
};
use distro::runtime::Process;
use distro::term::{Atom, Term, TermExt, atom, int};
use std::time::{Duration, Instant};

const T: Duration = Duration::from_secs(30);

/// `Norm(T)`: pids and references replaced by atoms (they differ between
/// any two runs), and `St(S)`: `sys:get_status/1` with the process
/// dictionary reduced to its keys (its values name the starting process)
/// and a pid in the header (`Status for generic server <0.85.0>`) as `pid`.
const HELPERS: &str = "Norm = fun Norm(P) when is_pid(P) -> pid; Norm(R) when is_reference(R) -> ref; \
     Norm([H|Tl]) -> [Norm(H)|Norm(Tl)]; Norm(Tu) when is_tuple(Tu) -> list_to_tuple(Norm(tuple_to_list(Tu))); \
     Norm(M) when is_map(M) -> maps:from_list(Norm(maps:to_list(M))); Norm(X) -> X end, \
     Hd = fun({header, H}) when is_list(H) -> {header, re:replace(H, \"<[0-9.]+>\", \"pid\", [{return, list}])}; (M) -> M end, \
     St = fun(S) -> {status, _, Mod, [PD, SS, _, Dbg, Misc]} = sys:get_status(S), \
     {Mod, lists:sort([K || {K, _} <- PD]), SS, Dbg, Norm([Hd(M) || M <- Misc])} end, ok.";

/// The same `sys` sequence on a server `S` whose state is an integer
/// (5 at first) and that answers `get` and `{add, N}`.
const SYS_SEQUENCE: &str = "Q = fun(S) -> \
     A1 = sys:get_state(S), A2 = St(S), \
     A3 = sys:replace_state(S, fun(X) -> X + 10 end), A4 = sys:get_state(S), \
     A5 = element(1, element(2, catch sys:replace_state(S, fun(_) -> error(boom) end))), \
     A6 = sys:suspend(S), A7 = St(S), \
     A8 = element(1, element(2, catch gen_server:call(S, get, 300))), \
     A9 = sys:resume(S), A10 = gen_server:call(S, {add, 1}), \
     A11 = sys:statistics(S, get), ok = sys:statistics(S, true), _ = gen_server:call(S, get), \
     {ok, Stats} = sys:statistics(S, get), \
     A12 = [lists:keyfind(K, 1, Stats) || K <- [messages_in, messages_out]], \
     ok = sys:statistics(S, false), A13 = sys:log(S, get), ok = sys:log(S, true), \
     _ = gen_server:call(S, get), A14 = Norm(sys:log(S, get)), ok = sys:no_debug(S), \
     A15 = sys:trace(S, false), A16 = gen:call(S, system, foo), \
     A17 = gen:call(S, system, {debug, foo}), A18 = St(S), \
     [A1, A2, A3, A4, A5, A6, A7, A8, A9, A10, A11, A12, A13, A14, A15, A16, A17, A18] end, ok.";

const SYS_PROBE_ERL: &str = "-module(sys_probe).\n\
-behaviour(gen_server).\n\
-export([init/1, handle_call/3, handle_cast/2]).\n\
init(N) -> {ok, N}.\n\
handle_call(get, _From, N) -> {reply, N, N};\n\
handle_call({add, X}, _From, N) -> {reply, N + X, N + X}.\n\
handle_cast(_, N) -> {noreply, N}.\n";

/// The Rust twin of `sys_probe.erl`.
struct SysProbe(i64);

impl GenServer for SysProbe {
    async fn handle_call(&mut self, req: Term, _from: GenFrom, _p: &mut Process) -> CallReply {
        if let (Some("add"), Some(x)) = (req.tuple_tag(), req.elem(1).and_then(TermExt::as_i64)) {
            self.0 += x;
        }
        CallReply::Reply(int(self.0))
    }

    fn module(&self) -> Atom {
        Atom::from("sys_probe")
    }

    fn get_state(&self) -> Term {
        int(self.0)
    }

    fn replace_state(&mut self, state: Term) -> Result<(), Term> {
        self.0 = state.as_i64().ok_or_else(|| atom("badarg"))?;
        Ok(())
    }
}

/// `sys_probe.erl` compiled by the release, in a directory its nodes see.
fn compile_sys_probe(otp: &Otp) -> (crate::support::SharedDir, String) {
    let dir = otp.shared_dir().expect("shared dir");
    dir.write("sys_probe.erl", SYS_PROBE_ERL).unwrap();
    let node_dir = dir.node_path().to_owned();
    let mut erlc = otp.command("erlc");
    erlc.arg("-o")
        .arg(&node_dir)
        .arg(node_dir.join("sys_probe.erl"));
    assert!(erlc.status().expect("erlc").success(), "erlc failed");
    let path = node_dir.display().to_string();
    (dir, path)
}

#[test]
fn sys_on_a_rust_gen_server_answers_as_on_beam() {
    let Some(otp) = require_otp() else { return };
    let epmd = Epmd::start().unwrap();
    let (_dir, ebin) = compile_sys_probe(&otp);
    let rust = RustNode::start(&epmd, "r");
    let b = BeamNode::start(
        &epmd,
        BeamOpts::new("b")
            .otp(otp.clone())
            .args(["-pa".to_owned(), ebin]),
    )
    .unwrap();
    let node = rust.node.clone();
    rust.run(async move {
        gen_server::start(&node, Some(ServerName::local("sys_probe")), SysProbe(5)).await
    })
    .expect("rust sys_probe");
    b.eval("{ok, _} = gen_server:start({local, sys_probe}, sys_probe, 5, []), ok.")
        .unwrap();
    b.eval(HELPERS).unwrap();
    b.eval(SYS_SEQUENCE).unwrap();
    let beam = b.eval_timeout("Q(sys_probe).", T).unwrap();
    let r = rust.atom();
    let ours = b
        .eval_timeout(&format!("Q({{sys_probe, {r}}})."), T)
        .unwrap();
    eprintln!("[OTP {}] sys answers: {beam}", otp.number());
    assert_eq!(ours, beam);
    assert!(beam.contains("callback_failed"), "{beam}");
    // sys:terminate/2 stops both the same way, with OTP's error report and
    // crash report for an abnormal reason.
    for s in ["sys_probe".to_owned(), format!("{{sys_probe, {r}}}")] {
        assert_eq!(b.eval(&format!("sys:terminate({s}, boom).")).unwrap(), "ok");
    }
    for needle in [
        "** Generic server sys_probe terminating",
        "** Last message in was []",
        "** When Server state == 16",
        "crasher:",
        "initial call: sys_probe:init/1",
        "exception exit: boom",
    ] {
        b.wait_for_log(needle, T).unwrap();
        crate::support::rust_log::wait_for(&["sys_probe", needle], T).unwrap();
    }
    assert_eq!(
        b.eval(&format!("rpc:call({r}, erlang, whereis, [sys_probe])."))
            .unwrap(),
        "undefined"
    );
}

const SUP_PROBE_ERL: &str = "-module(sup_probe).\n\
-behaviour(supervisor).\n\
-export([start/0, init/1, w/1]).\n\
start() -> {ok, P} = supervisor:start_link({local, sup_probe}, ?MODULE, []), unlink(P), ok.\n\
w(Id) -> {ok, spawn_link(fun() -> receive stop -> ok end end)}.\n\
init([]) ->\n\
    {ok, {#{strategy => rest_for_one, intensity => 10, period => 5},\n\
          [#{id => a, start => {sup_probe, w, [a]}},\n\
           #{id => b, start => {sup_probe, w, [b]}, shutdown => brutal_kill},\n\
           #{id => c, start => {sup_probe, w, [c]}, restart => transient}]}}.\n";

/// The `sup_probe` supervisor above, in Rust: same flags, children and
/// MFAs; `sup_probe:w/1` spawns a linked process that waits for `stop`.
fn rust_sup_probe() -> SupSpec {
    let w = start_fn(|p, _args| {
        Box::pin(async move {
            let pid = p.spawn_link(|mut c| async move {
                c.receive(|m| *m == atom("stop")).await;
            });
            StartOutcome::Ok(pid)
        })
    });
    let child = |id: &str| {
        ChildSpec::new(
            atom(id),
            Mfa::new("sup_probe", "w", vec![atom(id)]),
            w.clone(),
        )
    };
    SupSpec::new("sup_probe")
        .strategy(Strategy::RestForOne)
        .intensity(10)
        .period(5)
        .child(child("a"))
        .child(child("b").shutdown(Shutdown::BrutalKill))
        .child(child("c").restart(Restart::Transient))
}

/// The same calls on supervisor `S` (`sup_probe` with children a, b, c):
/// kills, `start_child` (good, duplicate, unknown module, bad specs),
/// `terminate_child`, `restart_child`, `delete_child`, with each result and
/// `which_children` after it. Pids are normalised; of an `undef` stack
/// only the first frame (the function that does not exist) is kept.
const SUP_SEQUENCE: &str = "SQ = fun(S) -> \
     WC = fun() -> Norm(supervisor:which_children(S)) end, \
     Kid = fun(Id) -> {Id, P, _, _} = lists:keyfind(Id, 1, supervisor:which_children(S)), P end, \
     Undef = fun({error, {{'EXIT', {undef, [F | _]}}, C}}) -> {error, {{'EXIT', {undef, [F]}}, C}}; (X) -> X end, \
     Wait = fun Wait(Id, Old, N) -> case Kid(Id) of P when is_pid(P), P =/= Old -> ok; _ when N > 0 -> timer:sleep(10), Wait(Id, Old, N - 1); _ -> timeout end end, \
     R0 = WC(), \
     R1 = Norm(supervisor:start_child(S, #{id => d, start => {sup_probe, w, [d]}})), R2 = WC(), \
     A0 = Kid(a), C0 = Kid(c), D0 = Kid(d), \
     B = Kid(b), exit(B, kill), R3 = Wait(b, B, 300), \
     R4 = {WC(), Kid(a) =:= A0, Kid(c) =/= C0, Kid(d) =/= D0}, \
     C = Kid(c), C ! stop, R5 = Wait(c, C, 30), R6 = WC(), \
     R7 = supervisor:terminate_child(S, b), R8 = WC(), R9 = supervisor:count_children(S), \
     R10 = Norm(supervisor:restart_child(S, b)), R11 = supervisor:delete_child(S, b), \
     R12 = supervisor:terminate_child(S, b), R13 = supervisor:terminate_child(S, a), \
     R14 = supervisor:delete_child(S, a), R15 = supervisor:delete_child(S, a), R16 = WC(), \
     R17 = Norm(supervisor:start_child(S, #{id => d, start => {sup_probe, w, [d]}})), \
     R18 = Undef(supervisor:start_child(S, #{id => e, start => {nomod, w, [e]}})), \
     R19 = supervisor:start_child(S, #{id => e}), R20 = supervisor:start_child(S, [x]), \
     R21 = supervisor:restart_child(S, zz), R22 = supervisor:get_childspec(S, d), \
     [R0, R1, R2, R3, R4, R5, R6, R7, R8, R9, R10, R11, R12, R13, R14, R15, R16, R17, R18, R19, R20, R21, R22] end, ok.";

#[test]
fn supervisor_calls_from_beam_answer_as_a_beam_supervisor() {
    let Some(otp) = require_otp() else { return };
    let epmd = Epmd::start().unwrap();
    let dir = otp.shared_dir().expect("shared dir");
    dir.write("sup_probe.erl", SUP_PROBE_ERL).unwrap();
    let node_dir = dir.node_path().to_owned();
    let mut erlc = otp.command("erlc");
    erlc.arg("-o")
        .arg(&node_dir)
        .arg(node_dir.join("sup_probe.erl"));
    assert!(erlc.status().expect("erlc").success(), "erlc failed");
    let rust = RustNode::start(&epmd, "r");
    let b = BeamNode::start(
        &epmd,
        BeamOpts::new("b")
            .otp(otp.clone())
            .args(["-pa".to_owned(), node_dir.display().to_string()]),
    )
    .unwrap();
    let node = rust.node.clone();
    rust.run(async move {
        supervisor::start(
            &node,
            Some(ServerName::local("sup_probe")),
            rust_sup_probe(),
        )
        .await
    })
    .expect("rust sup_probe");
    b.eval("ok = sup_probe:start().").unwrap();
    b.eval(HELPERS).unwrap();
    b.eval(SUP_SEQUENCE).unwrap();
    let beam = b.eval_timeout("SQ(sup_probe).", T).unwrap();
    let r = rust.atom();
    let ours = b
        .eval_timeout(&format!("SQ({{sup_probe, {r}}})."), T)
        .unwrap();
    eprintln!("[OTP {}] supervisor answers: {beam}", otp.number());
    assert_eq!(ours, beam);
}

fn distro_bin(epmd: &Epmd, me: &str, app: &str) -> DistroNode {
    let short = me.split('@').next().unwrap_or(me);
    DistroNode::start(
        epmd,
        DistroOpts::new().label(short).args([
            "-name".to_owned(),
            me.to_owned(),
            "-setcookie".to_owned(),
            COOKIE.to_owned(),
            "--app".to_owned(),
            app.to_owned(),
        ]),
    )
    .expect("distro binary")
}

/// What a hidden BEAM node sees of the tree of supervisor `SupName` at
/// node `N` with the one child `Id`. The
/// supervisor's status is compared without `{supervisor, [{"Callback",
/// Mod}]}` (OTP 25 shows it, 27+ do not; the Rust supervisor always does, so
/// that `supervisor:get_callback_module/1` works with every release), and
/// without the `#state{}` record on OTP 29, whose record has more fields.
/// The record's last field, the `Args` of `init/1`, is what Elixir's
/// `Supervisor.init/2` returned, which differs between Elixir releases.
const TREE_QUERY: &str = "Args = fun(X) when is_tuple(X), element(1, X) =:= state -> setelement(tuple_size(X), X, args); (X) -> X end, \
     SupSt = fun(S) -> {Mod, PD, SS, Dbg, Misc} = St(S), \
     Misc1 = [case M of {data, [{\"State\", X}]} -> {data, [{\"State\", Args(X)}]}; _ -> M end \
              || M <- lists:keydelete(supervisor, 1, Misc)], \
     Misc2 = case erlang:system_info(otp_release) < \"29\" of true -> Misc1; false -> lists:droplast(Misc1) end, \
     {Mod, PD, SS, Dbg, Misc2} end, \
     W = fun(N, SupName, Id) -> S = {SupName, N}, \
     [{_, Cal, worker, _}] = supervisor:which_children(S), \
     Sup = rpc:call(N, erlang, whereis, [SupName]), \
     [Norm(supervisor:which_children(S)), supervisor:count_children(S), \
      supervisor:get_childspec(S, Id), supervisor:get_childspec(S, nope), \
      supervisor:get_callback_module(Sup), sys:get_state(Cal), St(Cal), SupSt(S), \
      case erlang:system_info(otp_release) < \"29\" of true -> Norm(Args(sys:get_state(S))); false -> newer_record end] end, ok.";

/// The Rust `distro` and `myapp` supervision trees, seen from BEAM, are
/// those of the Elixir `distro` (`Distro.Supervisor`) and the Erlang
/// `myapp` (`myapp_sup`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_app_trees_answer_as_the_elixir_and_erlang_ones() {
    let Some(otp) = require_otp() else { return };
    let Some(_) = require_elixir(&otp) else {
        return;
    };
    crate::support::rust_log::init();
    let cl = Cluster::new(otp.clone(), false);
    // No kernel config: neither knows the other, so their global names
    // never meet; a hidden node asks both.
    let (rust_name, ex_name) = (name("rtree"), name("etree"));
    let ex = cl.elixir(&ex_name, "");
    let rust = distro_bin(&cl.epmd, &rust_name, "distro");
    block(|| rust.wait_for_log("Distro application in :normal mode", LONG)).unwrap();
    block(|| ex.log().wait_for("@@distro start returned", LONG)).unwrap();
    let probe = block(|| {
        BeamNode::start(
            &cl.epmd,
            BeamOpts::new("probe")
                .cookie(COOKIE)
                .hidden()
                .otp(otp.clone()),
        )
    })
    .unwrap();
    block(|| probe.eval(HELPERS)).unwrap();
    block(|| probe.eval(TREE_QUERY)).unwrap();
    let tree = |n: &str| {
        block(|| {
            probe.eval(&format!(
                "W('{n}', 'Elixir.Distro.Supervisor', 'Elixir.Distro.DistroCal')."
            ))
        })
        .unwrap()
    };
    let (elixir, ours) = (tree(&ex_name), tree(&rust_name));
    eprintln!("[OTP {}] the Elixir distro tree: {elixir}", otp.number());
    assert_eq!(ours, elixir);
    // myapp: an Erlang node and a Rust node, neither distributed.
    let (erl_name, rmy_name) = (name("emyapp"), name("rmyapp"));
    let erl = block(|| BeamNode::start(&cl.epmd, cl.beam_opts(&erl_name, ""))).unwrap();
    assert_eq!(
        block(|| erl.eval("application:start(myapp).")).unwrap(),
        "ok"
    );
    let rmy = distro_bin(&cl.epmd, &rmy_name, "myapp");
    block(|| rmy.wait_for_log("myapp starting: StartType = normal", LONG)).unwrap();
    let tree =
        |n: &str| block(|| probe.eval(&format!("W('{n}', myapp_sup, myapp_server)."))).unwrap();
    let (erlang, ours) = (tree(&erl_name), tree(&rmy_name));
    eprintln!("[OTP {}] the Erlang myapp tree: {erlang}", otp.number());
    assert_eq!(ours, erlang);
    // How long from the kill until which_children shows the new child, as
    // seen from the probe (three kills: within the intensity of 3 in 5 s).
    block(|| {
        probe.eval(
            "RT = fun(N) -> S = {'Elixir.Distro.Supervisor', N}, \
             One = fun() -> [{_, Old, _, _}] = supervisor:which_children(S), \
             T0 = erlang:monotonic_time(microsecond), exit(Old, kill), \
             L = fun L() -> case supervisor:which_children(S) of \
             [{_, P, _, _}] when is_pid(P), P =/= Old -> erlang:monotonic_time(microsecond) - T0; \
             _ -> L() end end, L() end, \
             lists:nth(2, lists:sort([One() || _ <- [1, 2, 3]])) end, ok.",
        )
    })
    .unwrap();
    let us = |n: &str| -> f64 {
        block(|| probe.eval(&format!("RT('{n}').")))
            .unwrap()
            .parse()
            .unwrap()
    };
    let (e, r) = (us(&ex_name), us(&rust_name));
    eprintln!(
        "[OTP {}] kill -> child restarted (median of 3, µs): Elixir {e}, distro {r}, distro/BEAM {:.2}",
        otp.number(),
        r / e
    );
}

/// `exit(global:whereis_name('Elixir.Distro.DistroCal'), kill)` at `b`, then
/// waits until a new pid holds the name; returns it (or `undefined`).
fn kill_cal(b: &BeamNode) -> String {
    b.eval_timeout(
        "(fun() -> K = fun K(Old, D) -> case global:whereis_name('Elixir.Distro.DistroCal') of \
         P when is_pid(P), P =/= Old -> P; _ when D > 0 -> timer:sleep(10), K(Old, D - 1); \
         _ -> undefined end end, Old = K(undefined, 500), exit(Old, kill), K(Old, 500) end)().",
        T,
    )
    .unwrap_or_else(|e| e.to_string())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn beam_kills_the_rust_distro_cal_and_it_comes_back() {
    let Some(otp) = require_otp() else { return };
    crate::support::rust_log::init();
    let epmd = Epmd::start().unwrap();
    let me = name("one");
    let rust = distro_bin(&epmd, &me, "distro");
    block(|| rust.wait_for_log("Distro application in :normal mode", LONG)).unwrap();
    let b = block(|| BeamNode::start(&epmd, BeamOpts::new("b").cookie(COOKIE).otp(otp.clone())))
        .unwrap();
    block(|| b.eval(&format!("pong = net_adm:ping('{me}'), global:sync()."))).unwrap();
    let add = format!("rpc:call('{me}', 'Elixir.Distro.DistroCal', add, [4, 5]).");
    assert_eq!(block(|| b.eval(&add)).unwrap(), "9");
    let killed = Instant::now();
    let new = block(|| kill_cal(&b));
    assert!(new.starts_with('<'), "not restarted: {new}");
    eprintln!(
        "[OTP {}] kill -> DistroCal registered again: {:?}",
        otp.number(),
        killed.elapsed()
    );
    assert_eq!(block(|| b.eval(&add)).unwrap(), "9");
    assert_eq!(
        block(|| b.eval("gen_server:call({global, 'Elixir.Distro.DistroCal'}, {cal, 4, 5})."))
            .unwrap(),
        "9"
    );
    block(|| rust.wait_for_log("errorContext: child_terminated", LONG)).unwrap();
    assert!(rust.log_contains("supervisor: {local,'Elixir.Distro.Supervisor'}"));
    assert!(rust.log_contains("reason: killed"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn too_many_kills_end_the_app_as_its_restart_type_says() {
    let Some(otp) = require_otp() else { return };
    crate::support::rust_log::init();
    let epmd = Epmd::start().unwrap();
    let b = block(|| BeamNode::start(&epmd, BeamOpts::new("b").cookie(COOKIE).otp(otp.clone())))
        .unwrap();
    // temporary: the application exits, the node goes on.
    let me = name("tmp");
    let tmp = distro_bin(&epmd, &me, "distro");
    block(|| tmp.wait_for_log("Distro application in :normal mode", LONG)).unwrap();
    block(|| b.eval(&format!("pong = net_adm:ping('{me}'), global:sync()."))).unwrap();
    // Elixir's default intensity, 3 restarts in 5 s: the fourth kill is one
    // too many.
    for _ in 0..3 {
        let new = block(|| kill_cal(&b));
        assert!(new.starts_with('<'), "not restarted: {new}");
    }
    assert_eq!(block(|| kill_cal(&b)), "undefined");
    block(|| tmp.wait_for_log("Application distro exited: shutdown", LONG)).unwrap();
    assert!(tmp.log_contains("reason: reached_max_restart_intensity"));
    assert!(tmp.log_contains("errorContext: shutdown"));
    assert_eq!(
        block(|| b.eval(&format!("net_adm:ping('{me}')."))).unwrap(),
        "pong"
    );
    assert_eq!(
        block(|| b.eval(&format!(
            "lists:keymember(distro, 1, rpc:call('{me}', application, which_applications, []))."
        )))
        .unwrap(),
        "false"
    );
    // The module is still loaded: add/2 answers as Elixir's does without a server.
    let noproc = block(|| {
        b.eval(&format!(
            "{{badrpc, {{'EXIT', {{R, _}}}}}} = rpc:call('{me}', 'Elixir.Distro.DistroCal', add, [4, 5]), R."
        ))
    })
    .unwrap();
    assert_eq!(noproc, "noproc");
    drop(tmp);
    // transient: the reason is `shutdown`, not `normal`: the node stops.
    let me = name("trans");
    let mut trans = distro_bin(&epmd, &me, "distro:transient");
    block(|| trans.wait_for_log("Distro application in :normal mode", LONG)).unwrap();
    block(|| b.eval(&format!("pong = net_adm:ping('{me}'), global:sync()."))).unwrap();
    for _ in 0..3 {
        let new = block(|| kill_cal(&b));
        assert!(new.starts_with('<'), "not restarted: {new}");
    }
    block(|| kill_cal(&b));
    let status = block(|| trans.wait_exit(LONG)).expect("the transient node stops");
    assert_eq!(status.code(), Some(1));
    assert!(trans.log_contains(
        "Kernel pid terminated (application_controller) ({application_terminated,distro,shutdown})"
    ));
}

/// What became of a cluster after its `one` stopped.
#[derive(Debug, PartialEq)]
struct AfterHalt {
    /// `one` stopped: the `Kernel pid terminated` line it printed.
    halted: Option<String>,
    /// two or three started `distro` within the restart time and 5 s more.
    failed_over: bool,
    /// `'Elixir.Distro.DistroCal':add(4, 5)` at two (the exit reason if it
    /// raised).
    add_at_two: String,
}

/// `one` runs `distro` permanently with `{distro, 5000, [one, {two,
/// three}]}`; two and three are Elixir nodes. Four kills of DistroCal stop
/// the application and with it `one`.
async fn permanent_app_killed(cl: &Cluster, rust_one: bool) -> AfterHalt {
    let otp = cl.otp.clone();
    let n = [name("one"), name("two"), name("three")];
    let env =
        |me: &str| crate::dist_ac::cluster::cluster_env("distro", &n, me, "optional", 5000, "");
    let two = cl.elixir(&n[1], &env(&n[1]));
    let three = cl.elixir(&n[2], &env(&n[2]));
    enum One {
        Rust(DistroNode),
        Elixir(crate::support::ElixirNode),
    }
    let one = if rust_one {
        let d = cl.distro_bin(&n[0], &env(&n[0]), "distro:permanent");
        block(|| d.wait_for_log("Distro application in :normal mode", LONG)).unwrap();
        One::Rust(d)
    } else {
        let e = cl.elixir_eval(
            &n[0],
            &env(&n[0]),
            "{:ok, _} = Application.ensure_all_started(:distro, :permanent); IO.puts(\"@@distro start returned\")",
        );
        block(|| e.log().wait_for("Distro application in :normal mode", LONG)).unwrap();
        One::Elixir(e)
    };
    block(|| two.log().wait_for("@@distro start returned", LONG)).unwrap();
    block(|| three.log().wait_for("@@distro start returned", LONG)).unwrap();
    let probe = block(|| {
        BeamNode::start(
            &cl.epmd,
            BeamOpts::new("probe")
                .cookie(COOKIE)
                .hidden()
                .otp(otp.clone()),
        )
    })
    .unwrap();
    let at_two = |expr: &str| {
        block(|| {
            probe.eval_timeout(
                &format!(
                    "rpc:call('{}', erlang, apply, [fun() -> {expr} end, []]).",
                    n[1]
                ),
                T,
            )
        })
    };
    until("Distro.DistroCal.add(4, 5) at two", LONG, || {
        at_two("'Elixir.Distro.DistroCal':add(4, 5)").is_ok_and(|v| v == "9")
    })
    .await;
    // Four kills at two, each once the name is back.
    let kills = "K = fun K(Old, D) -> case global:whereis_name('Elixir.Distro.DistroCal') of \
         P when is_pid(P), P =/= Old -> P; _ when D > 0 -> timer:sleep(10), K(Old, D - 1); \
         _ -> undefined end end, \
         L = fun L(0, _) -> ok; L(I, Old) -> P = K(Old, 500), exit(P, kill), L(I - 1, P) end, \
         L(4, undefined)";
    assert_eq!(at_two(kills).unwrap(), "ok");
    // OTP 27+ print the reason quoted (`("{application_terminated,…}")`),
    // OTP 25 and distro without the quotes.
    let line = |l: &crate::support::process::Log| {
        l.lines()
            .into_iter()
            .map(|l| l.text.replace('"', ""))
            .find(|t| t.starts_with("Kernel pid terminated"))
    };
    let halted = match one {
        One::Rust(mut d) => {
            let status = block(|| d.wait_exit(LONG));
            assert_eq!(status.and_then(|s| s.code()), Some(1));
            line(d.log())
        }
        One::Elixir(e) => {
            assert!(block(|| e.log().wait_closed(LONG)), "{}", e.log().tail(30));
            line(e.log())
        }
    };
    // dist_ac's restart time is 5 s: give it that and 5 s more.
    tokio::time::sleep(Duration::from_secs(10)).await;
    let started = |l: &crate::support::process::Log| l.contains("Distro application in");
    AfterHalt {
        halted,
        failed_over: started(two.log()) || started(three.log()),
        add_at_two: at_two(
            "case catch 'Elixir.Distro.DistroCal':add(4, 5) of {'EXIT', {R, _}} -> R; V -> V end",
        )
        .unwrap_or_else(|e| e.to_string()),
    }
}

/// When a permanent application exits, OTP's application_controller
/// tells dist_ac (`ac_application_stopped`, which tells the other nodes
/// `dist_ac_app_stopped`) before the node halts, so the others do not
/// restart it when the node goes down: the application is stopped in the
/// whole cluster. The Rust node does what an Elixir node in its place
/// does.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_permanent_app_stops_the_node_as_on_beam() {
    let Some(otp) = require_otp() else { return };
    let Some(_) = require_elixir(&otp) else {
        return;
    };
    crate::support::rust_log::init();
    let cl = Cluster::new(otp.clone(), false);
    let elixir = permanent_app_killed(&cl, false).await;
    let rust = permanent_app_killed(&cl, true).await;
    eprintln!(
        "[OTP {}] permanent distro killed 4 times: Elixir one {elixir:?}, Rust one {rust:?}",
        otp.number()
    );
    assert!(elixir.halted.is_some(), "{elixir:?}");
    assert_eq!(rust, elixir);
}
