//! Issue #2 against real BEAM nodes: a Rust node that BEAM accepts as a
//! visible peer — ping both ways with long and short names, messages by
//! pid and by name, gen_server calls, links and monitors both ways, node
//! death, large messages, and hostile input.

use crate::support::rust_node::{Probe, RustNode, pid_literal};
use crate::support::{BeamNode, BeamOpts, Epmd, require_otp, unique_node};
use distro::term;
use distro::term::{Term, TermExt, atom, binary, int};
use std::time::Duration;

const T: Duration = Duration::from_secs(10);

fn beam(epmd: &Epmd, label: &str, otp: &crate::support::Otp) -> BeamNode {
    BeamNode::start(epmd, BeamOpts::new(label).otp(otp.clone())).expect("beam node starts")
}

#[test]
fn ping_both_ways_with_long_names() {
    let Some(otp) = require_otp() else { return };
    let epmd = Epmd::start().unwrap();
    let rust = RustNode::start(&epmd, "r");
    let b1 = beam(&epmd, "b1", &otp);
    let b2 = beam(&epmd, "b2", &otp);
    // BEAM dials us.
    assert_eq!(
        b1.eval(&format!("net_adm:ping({}).", rust.atom())).unwrap(),
        "pong"
    );
    assert_eq!(b1.eval("nodes().").unwrap(), format!("[{}]", rust.atom()));
    // We dial BEAM.
    assert!(rust.run(rust.node.ping(b2.node_name())));
    b2.eval_until(
        &format!("lists:member({}, nodes()).", rust.atom()),
        "true",
        T,
    )
    .unwrap();
    // A node that does not exist: pang, no connection left behind.
    assert!(!rust.run(rust.node.ping("nobody@127.0.0.1")));
    let visible: Vec<String> = rust.node.nodes().into_iter().map(|a| a.name).collect();
    assert!(
        visible.contains(&b1.node_name().to_owned())
            && visible.contains(&b2.node_name().to_owned())
    );
    assert!(!visible.iter().any(|n| n.starts_with("nobody")));
}

#[test]
fn ping_both_ways_with_short_names() {
    let Some(otp) = require_otp() else { return };
    let epmd = Epmd::start().unwrap();
    let host = crate::support::beam::short_hostname().unwrap();
    let rust = RustNode::start_named(
        &epmd,
        &format!("{}@{host}", crate::support::unique_name("rs")),
        |_| {},
    );
    let b1 = BeamNode::start(&epmd, BeamOpts::new("sb1").sname().otp(otp.clone())).unwrap();
    let b2 = BeamNode::start(&epmd, BeamOpts::new("sb2").sname().otp(otp)).unwrap();
    assert_eq!(
        b1.eval(&format!("net_adm:ping({}).", rust.atom())).unwrap(),
        "pong"
    );
    assert!(rust.run(rust.node.ping(b2.node_name())));
}

#[test]
fn messages_by_pid_and_by_name_both_ways() {
    let Some(otp) = require_otp() else { return };
    let epmd = Epmd::start().unwrap();
    let rust = RustNode::start(&epmd, "r");
    let b = beam(&epmd, "b", &otp);
    let probe = rust.probe(Some("rproc"), false, |_| {});
    // BEAM → Rust by registered name and by pid.
    b.eval(&format!(
        "register(bproc, self()), {{rproc, {}}} ! {{hello, self()}}.",
        rust.atom()
    ))
    .unwrap();
    let m = probe.recv(T).expect("message by name");
    assert_eq!(m.tuple_tag(), Some("hello"));
    let beam_pid = m
        .elem(1)
        .and_then(TermExt::as_pid)
        .cloned()
        .expect("sender pid");
    b.eval(&format!("{} ! by_pid.", pid_literal(&probe.pid)))
        .unwrap();
    assert_eq!(probe.recv(T), Some(atom("by_pid")));
    // Rust → BEAM by pid and by {Name, Node}.
    rust.node.send(&beam_pid, term!({to_pid, ok}));
    assert_eq!(
        b.eval("receive {to_pid, X} -> X after 5000 -> timeout end.")
            .unwrap(),
        "ok"
    );
    rust.node.send(("bproc", b.node_name()), atom("to_name"));
    assert_eq!(
        b.eval("receive to_name -> got after 5000 -> timeout end.")
            .unwrap(),
        "got"
    );
    // Per-pair ordering: 1000 messages arrive in order.
    b.eval(&format!(
        "[{{rproc, {}}} ! {{seq, N}} || N <- lists:seq(1, 1000)], ok.",
        rust.atom()
    ))
    .unwrap();
    for n in 1..=1000 {
        let m = probe.recv(T).expect("sequence message");
        assert_eq!(m.elem(1).and_then(TermExt::as_i64), Some(n));
    }
}

/// `Node::async_disconnect` (`net_kernel:async_disconnect/1`, what global
/// disconnects with): the connection is gone for the Rust node at once,
/// but everything sent before is still written, then the socket closes.
/// The BEAM node is stopped (SIGSTOP) while 10 MB are sent, so most of it
/// still waits in the writer when the disconnect comes; `Node::disconnect`
/// drops that part. The BEAM node is hidden, so that no global traffic
/// reconnects in the meantime (a new connection would make BEAM drop the
/// old one, as it must).
#[test]
fn async_disconnect_still_writes_what_was_sent() {
    const N: usize = 10_000;
    let Some(otp) = require_otp() else { return };
    let epmd = Epmd::start().unwrap();
    let rust = RustNode::start(&epmd, "r");
    let b = BeamNode::start(&epmd, BeamOpts::new("b").otp(otp.clone()).hidden())
        .expect("beam node starts");
    b.eval("register(sink, spawn(fun() -> receive stop -> ok end end)), ok.")
        .unwrap();
    assert!(rust.run(rust.node.ping(b.node_name())));
    b.suspend().unwrap();
    let payload = binary(vec![7u8; 1000]);
    for n in 0..N {
        let m = term!({m, (int(n as i64)), (payload.clone())});
        rust.node.send(("sink", b.node_name()), m);
    }
    assert!(rust.node.async_disconnect(b.node_name()));
    assert!(
        rust.node.hidden_nodes().is_empty(),
        "gone at once for the Rust node"
    );
    b.resume().unwrap();
    b.eval_until("nodes(connected).", "[]", Duration::from_secs(30))
        .unwrap();
    assert_eq!(
        b.eval("element(2, process_info(whereis(sink), message_queue_len)).")
            .unwrap(),
        N.to_string()
    );
}

#[test]
fn gen_server_call_from_beam_is_answered_by_a_rust_process() {
    let Some(otp) = require_otp() else { return };
    let epmd = Epmd::start().unwrap();
    let rust = RustNode::start(&epmd, "r");
    let b = beam(&epmd, "b", &otp);
    let server = rust.spawn_echo_server(Some("echo"));
    let by_name = b
        .eval(&format!(
            "gen_server:call({{echo, {}}}, hello).",
            rust.atom()
        ))
        .unwrap();
    assert_eq!(by_name, "{echo,hello}");
    let by_pid = b
        .eval(&format!(
            "gen_server:call({}, {{add, 4, 5}}).",
            pid_literal(&server)
        ))
        .unwrap();
    assert_eq!(by_pid, "{echo,{add,4,5}}");
    let missing = b
        .eval(&format!(
            "catch gen_server:call({{nobody, {}}}, x, 2000).",
            rust.atom()
        ))
        .unwrap();
    assert!(missing.starts_with("{'EXIT',{noproc,"), "{missing}");
    // And the other way: a Rust process calls a BEAM gen_server (here net_kernel).
    let (tx, rx) = std::sync::mpsc::channel();
    let target = b.node_name().to_owned();
    let me = rust.name().to_owned();
    let _guard = rust.rt.enter();
    rust.node.spawn(move |mut p| async move {
        let r = p
            .call(
                ("net_kernel", target.as_str()),
                term!({is_auth, (atom(&me))}),
                T,
            )
            .await;
        let _ = tx.send(r);
    });
    assert_eq!(rx.recv_timeout(T).unwrap(), Ok(atom("yes")));
}

#[test]
fn links_and_monitors_fire_both_ways() {
    let Some(otp) = require_otp() else { return };
    let epmd = Epmd::start().unwrap();
    let rust = RustNode::start(&epmd, "r");
    let b = beam(&epmd, "b", &otp);
    b.eval(&format!("true = net_kernel:connect_node({}).", rust.atom()))
        .unwrap();

    // BEAM links to and monitors a Rust process that then exits with `boom`.
    let victim = rust.probe(None, false, |_| {});
    b.eval("process_flag(trap_exit, true).").unwrap();
    b.eval(&format!(
        "V = {}, link(V), MRef = monitor(process, V), ok.",
        pid_literal(&victim.pid)
    ))
    .unwrap();
    std::thread::sleep(Duration::from_millis(200));
    rust.node.exit(&victim.pid, atom("boom"));
    assert_eq!(
        b.eval("receive {'EXIT', V, R} -> R after 5000 -> timeout end.")
            .unwrap(),
        "boom"
    );
    assert_eq!(
        b.eval("receive {'DOWN', MRef, process, V, R2} -> R2 after 5000 -> timeout end.")
            .unwrap(),
        "boom"
    );

    // A Rust process monitors a BEAM process by name and links to it by pid;
    // the BEAM process is killed.
    b.eval("B = spawn(fun() -> receive stop -> ok end end), register(bvictim, B), ok.")
        .unwrap();
    let watcher = linker(&rust, Some(("bvictim", b.node_name())));
    b.eval(&format!("{} ! {{pid, B}}.", pid_literal(&watcher.pid)))
        .unwrap();
    assert_eq!(watcher.recv(T), Some(atom("linked")));
    // `linked` means the LINK is queued; wait until BEAM has applied it.
    b.eval_until(
        &format!(
            "lists:member({}, element(2, process_info(B, links))).",
            pid_literal(&watcher.pid)
        ),
        "true",
        T,
    )
    .unwrap();
    b.eval("exit(B, kill).").unwrap();
    let mut got = [
        watcher.recv(T).expect("first signal"),
        watcher.recv(T).expect("second signal"),
    ];
    got.sort_by_key(|m| m.tuple_tag().map(str::to_owned));
    assert_eq!(got[0].tuple_tag(), Some("DOWN"));
    assert_eq!(
        got[0].elem(3),
        Some(&term!({bvictim, (atom(b.node_name()))}))
    );
    assert_eq!(got[0].elem(4), Some(&atom("killed")));
    assert_eq!(got[1].tuple_tag(), Some("EXIT"));
    assert_eq!(got[1].elem(2), Some(&atom("killed")));

    // Node death: the link gives noconnection, a monitor DOWN noconnection.
    b.eval("C = spawn(fun() -> receive stop -> ok end end), ok.")
        .unwrap();
    let watcher = linker(&rust, None);
    b.eval(&format!("{} ! {{pid, C}}.", pid_literal(&watcher.pid)))
        .unwrap();
    assert_eq!(watcher.recv(T), Some(atom("linked")));
    b.eval_until(
        &format!(
            "lists:member({}, element(2, process_info(C, links))).",
            pid_literal(&watcher.pid)
        ),
        "true",
        T,
    )
    .unwrap();
    b.kill();
    let mut got = [
        watcher.recv(T).expect("first signal"),
        watcher.recv(T).expect("second signal"),
    ];
    got.sort_by_key(|m| m.tuple_tag().map(str::to_owned));
    assert_eq!(got[0].tuple_tag(), Some("DOWN"));
    assert_eq!(got[0].elem(4), Some(&atom("noconnection")));
    assert_eq!(got[1].tuple_tag(), Some("EXIT"));
    assert_eq!(got[1].elem(2), Some(&atom("noconnection")));
}

/// A trapping Rust process that (optionally) monitors `{Name, Node}`, then
/// waits for `{pid, P}`, links to `P` (and monitors it when there is no
/// name monitor), says `linked`, and forwards everything else it receives.
fn linker(rust: &RustNode, by_name: Option<(&str, &str)>) -> Probe {
    let by_name = by_name.map(|(n, node)| (n.to_owned(), node.to_owned()));
    let (tx, rx) = std::sync::mpsc::channel();
    let _g = rust.rt.enter();
    let pid = rust.node.spawn(move |mut p| async move {
        p.trap_exit(true);
        if let Some((n, node)) = &by_name {
            let _ = p.monitor((n.as_str(), node.as_str()));
        }
        let m = p.receive(|m| m.tuple_tag() == Some("pid")).await;
        let Some(target) = m.elem(1).and_then(TermExt::as_pid).cloned() else {
            return;
        };
        p.link(&target);
        if by_name.is_none() {
            let _ = p.monitor(&target);
        }
        let _ = tx.send(atom("linked"));
        loop {
            let m = p.recv().await;
            if tx.send(m).is_err() {
                return;
            }
        }
    });
    Probe::new(pid, rx)
}

#[test]
fn ten_megabyte_binaries_both_ways() {
    let Some(otp) = require_otp() else { return };
    let epmd = Epmd::start().unwrap();
    let rust = RustNode::start(&epmd, "r");
    let b = beam(&epmd, "b", &otp);
    let _g = rust.rt.enter();
    rust.node.spawn(|mut p| async move {
        p.register("echo").unwrap();
        loop {
            let m = p.recv().await;
            if let Some(Term::Pid(from)) = m.elem(0).cloned() {
                p.send(&from, m);
            }
        }
    });
    let r = b
        .eval(&format!(
            "Big = rand:bytes(10 * 1024 * 1024), {{echo, {}}} ! {{self(), Big}}, \
             receive {{_, Back}} -> Back =:= Big after 20000 -> timeout end.",
            rust.atom()
        ))
        .unwrap();
    assert_eq!(r, "true");
    // Rust starts a 12 MB message to a BEAM process.
    b.eval("register(sink, self()).").unwrap();
    rust.node.send(
        ("sink", b.node_name()),
        binary(vec![0x5a; 12 * 1024 * 1024]),
    );
    assert_eq!(
        b.eval("receive S -> byte_size(S) after 20000 -> timeout end.")
            .unwrap(),
        "12582912"
    );
}

#[test]
fn a_too_deep_term_is_refused_and_the_node_stays_up() {
    let Some(otp) = require_otp() else { return };
    let epmd = Epmd::start().unwrap();
    let rust = RustNode::start(&epmd, "r");
    let b = beam(&epmd, "b", &otp);
    let probe = rust.probe(Some("rproc"), false, |_| {});
    b.eval(&format!(
        "Deep = lists:foldl(fun(_, A) -> [A] end, [], lists:seq(1, 5000)), \
         {{rproc, {0}}} ! Deep, {{rproc, {0}}} ! after_deep, ok.",
        rust.atom()
    ))
    .unwrap();
    assert_eq!(
        probe.recv(T),
        Some(atom("after_deep")),
        "the deep message is dropped, the next one arrives"
    );
    assert_eq!(
        b.eval(&format!("net_adm:ping({}).", rust.atom())).unwrap(),
        "pong"
    );
    // A moderately deep term (within the limit) still arrives.
    b.eval(&format!(
        "D = lists:foldl(fun(_, A) -> [A] end, [], lists:seq(1, 500)), {{rproc, {}}} ! D, ok.",
        rust.atom()
    ))
    .unwrap();
    assert!(probe.recv(T).is_some());
}

#[test]
fn a_stopped_peer_is_dropped_after_net_ticktime() {
    let Some(otp) = require_otp() else { return };
    let epmd = Epmd::start().unwrap();
    let name = unique_node("rt");
    let rust = RustNode::start_named(&epmd, &name, |c| c.net_ticktime = 4);
    let b = BeamNode::start(
        &epmd,
        BeamOpts::new("bt").otp(otp).kernel("net_ticktime", "4"),
    )
    .unwrap();
    let watcher = rust.probe(None, false, |p| p.monitor_nodes(true, false));
    assert_eq!(
        b.eval(&format!("net_adm:ping({}).", rust.atom())).unwrap(),
        "pong"
    );
    assert_eq!(
        watcher.recv(T),
        Some(term!({nodeup, (atom(b.node_name()))}))
    );
    let stopped = std::time::Instant::now();
    b.suspend().unwrap();
    let down = watcher.recv(Duration::from_secs(15));
    let waited = stopped.elapsed();
    b.resume().unwrap();
    assert_eq!(down, Some(term!({nodedown, (atom(b.node_name()))})));
    assert!(
        waited >= Duration::from_secs(2),
        "nodedown came too early: {waited:?}"
    );
    // Connection comes back once the peer runs again.
    b.eval_until(&format!("net_adm:ping({}).", rust.atom()), "pong", T)
        .unwrap();
}

#[test]
fn a_new_incarnation_replaces_a_connection_beam_thinks_is_alive() {
    // The `alive` handshake status: BEAM still has a connection up to our
    // name when a new incarnation connects. It asks, we answer `true`, BEAM
    // drops the old connection and accepts the new one.
    let Some(otp) = require_otp() else { return };
    let epmd = Epmd::start().unwrap();
    let b = beam(&epmd, "b", &otp);
    let name = unique_node("ra");
    let old = RustNode::start_named(&epmd, &name, |_| {});
    let watcher = old.probe(None, false, |p| p.monitor_nodes(true, false));
    assert!(old.run(old.node.ping(b.node_name())));
    assert_eq!(
        watcher.recv(T),
        Some(term!({nodeup, (atom(b.node_name()))}))
    );
    // A second EPMD where the new incarnation registers, and where BEAM's
    // real port is published under BEAM's name so the new node can dial it.
    let epmd2 = Epmd::start().unwrap();
    let beam_port = b.dist_port(&epmd).unwrap();
    let new = RustNode::start_named(&epmd2, &name, |_| {});
    let _fake = epmd2.register(b.alive_name(), beam_port).unwrap();
    assert!(
        new.run(new.node.ping(b.node_name())),
        "BEAM lets the new incarnation in"
    );
    assert_eq!(
        watcher.recv(T),
        Some(term!({nodedown, (atom(b.node_name()))})),
        "the old connection is dropped"
    );
    assert_eq!(b.eval("nodes().").unwrap(), format!("['{name}']"));
}

/// A BEAM node started with a dynamic name (`-name undefined@127.0.0.1`)
/// connects to the Rust node and is named by it (`named:`, a name like
/// OTP's `generate_node_name/2`): BEAM's `node()` becomes that name, the
/// connection is hidden on both sides, and rpc and messages work both ways.
#[test]
fn a_dynamic_name_beam_node_is_named_by_the_rust_node() {
    let Some(otp) = require_otp() else { return };
    let epmd = Epmd::start().unwrap();
    let rust = RustNode::start(&epmd, "r");
    let b = BeamNode::start(&epmd, BeamOpts::new("dyn").name("undefined").otp(otp)).unwrap();
    assert_eq!(
        b.eval(&format!("net_kernel:connect_node({}).", rust.atom()))
            .unwrap(),
        "true"
    );
    let given = b.eval("node().").unwrap();
    let given = given.trim_matches('\'');
    let (alive, host) = given.split_once('@').expect("name@host");
    assert_eq!(host, "127.0.0.1");
    assert!(
        alive != "undefined" && alive.bytes().all(|c| c.is_ascii_alphanumeric()),
        "{given}"
    );
    assert_eq!(
        b.eval("{nodes(), nodes(hidden)}.").unwrap(),
        format!("{{[],[{}]}}", rust.atom())
    );
    let hidden: Vec<String> = rust
        .node
        .hidden_nodes()
        .into_iter()
        .map(|a| a.name)
        .collect();
    assert_eq!(hidden, [given]);
    assert!(rust.node.nodes().is_empty());
    // rpc into the Rust node: the answer reaches a pid of the new name.
    assert_eq!(
        b.eval(&format!("rpc:call({}, erlang, node, []).", rust.atom()))
            .unwrap(),
        rust.atom()
    );
    // The Rust node sends to a name on the BEAM node.
    b.eval("register(dyn_inbox, self()).").unwrap();
    rust.node.send(("dyn_inbox", given), atom("hello"));
    assert_eq!(
        b.eval("(fun() -> receive Got -> Got after 5000 -> timeout end end)().")
            .unwrap(),
        "hello"
    );
}
