//! `global` between an in-process Rust node and real BEAM nodes of the
//! release selected by `DISTRO_OTP`.
//!
//! Reference: `lib/kernel/src/global.erl`.

use crate::support::{
    BeamNode, BeamOpts, Epmd, Otp, RustNode, prefixed_unique_name, require_otp, wait_until,
};
use distro::kernel::global::LockId;
use distro::runtime::Process;
use distro::term;
use distro::term::{Term, TermExt, atom};
use std::time::Duration;

/// How long polling waits may take (names and locks spread asynchronously).
const T: Duration = Duration::from_secs(30);

fn beam(epmd: &Epmd, otp: &Otp, opts: BeamOpts) -> BeamNode {
    BeamNode::start(epmd, opts.otp(otp.clone())).expect("BEAM node starts")
}

/// A BEAM node that the Rust node has pinged.
fn beam_with_rust(otp: &Otp, epmd: &Epmd, rust: &RustNode, opts: BeamOpts) -> BeamNode {
    let b = beam(epmd, otp, opts);
    assert_eq!(b.eval("ok.").unwrap(), "ok");
    assert!(
        rust.run(rust.node.ping(b.node_name())),
        "{}: ping {}\n{}",
        otp.describe(),
        b.node_name(),
        b.log().tail(crate::support::TAIL_LINES)
    );
    b
}

/// Spawns `f` as a Rust process and waits for what it returns.
fn in_process<T, F, Fut>(rust: &RustNode, f: F) -> T
where
    T: Send + 'static,
    F: FnOnce(Process) -> Fut + Send + 'static,
    Fut: Future<Output = T> + Send + 'static,
{
    let (tx, rx) = tokio::sync::oneshot::channel();
    let _guard = rust.rt.enter();
    rust.node.spawn(move |p: Process| async move {
        let _ = tx.send(f(p).await);
    });
    rust.run(rx).expect("the process answers")
}

/// Names both ways, calls both ways, names leave with their owner; global:sync() returns.
#[test]
fn names_and_calls_both_ways() {
    let Some(otp) = require_otp() else { return };
    let label = otp.describe();
    let epmd = Epmd::start().unwrap();
    let rust = RustNode::start(&epmd, "r");
    let g = rust.kernel.global.clone();
    let b = beam_with_rust(&otp, &epmd, &rust, BeamOpts::new("b"));
    assert_eq!(b.eval("global:sync().").unwrap(), "ok", "{label}");
    rust.run(g.sync()).unwrap();

    let srv = rust.spawn_echo_server(None);
    assert!(rust.run(g.register_name(atom("rust_srv"), &srv)).unwrap());
    let r = b.eval("global:whereis_name(rust_srv).").unwrap();
    assert!(r.starts_with('<'), "{label}: {r}");
    assert_eq!(
        b.eval("gen_server:call({global, rust_srv}, hello).")
            .unwrap(),
        "{echo,hello}"
    );

    let r = b
        .eval("global:register_name(beam_srv, spawn(fun() -> (fun L() -> receive {'$gen_call', F, R} -> gen_server:reply(F, {beam, R}), L() end end)() end)).")
        .unwrap();
    assert_eq!(r, "yes", "{label}");
    let bp = g
        .whereis_name(&atom("beam_srv"))
        .expect("beam_srv known to rust");
    assert_eq!(bp.node.name, b.node_name());
    let reply = in_process(&rust, move |mut p| async move {
        p.call(bp, atom("hi"), Duration::from_secs(10)).await
    });
    assert_eq!(reply.unwrap(), term!({beam, hi}));
    let names = b.eval("lists:sort(global:registered_names()).").unwrap();
    assert_eq!(names, "[beam_srv,rust_srv]");
    let mut ours: Vec<String> = g
        .registered_names()
        .iter()
        .filter_map(|t| t.as_atom().map(str::to_owned))
        .collect();
    ours.sort();
    assert_eq!(ours, ["beam_srv", "rust_srv"]);

    // Owners die: the names go everywhere.
    rust.node.exit(&srv, atom("kill"));
    b.eval_until("global:whereis_name(rust_srv).", "undefined", T)
        .unwrap();
    b.eval("exit(global:whereis_name(beam_srv), kill).")
        .unwrap();
    wait_until("beam_srv to go", T, || {
        g.whereis_name(&atom("beam_srv")).is_none()
    })
    .unwrap();

    // A name registered by BEAM dies with its node.
    b.eval("global:register_name(beam2, spawn(fun() -> receive stop -> ok end end)).")
        .unwrap();
    wait_until("beam2", T, || g.whereis_name(&atom("beam2")).is_some()).unwrap();
    drop(b);
    wait_until("beam2 to go with its node", T, || {
        g.whereis_name(&atom("beam2")).is_none()
    })
    .unwrap();
}

/// global:trans from BEAM excludes a Rust holder and the reverse; locks die with holders.
#[test]
fn locks_exclude_across_nodes() {
    let Some(otp) = require_otp() else { return };
    let label = otp.describe();
    let epmd = Epmd::start().unwrap();
    let rust = RustNode::start(&epmd, "r");
    let g = rust.kernel.global.clone();
    let b = beam_with_rust(&otp, &epmd, &rust, BeamOpts::new("b"));
    assert_eq!(b.eval("global:sync().").unwrap(), "ok");

    // A Rust process holds {res, rust} on both nodes.
    let (held_tx, held_rx) = std::sync::mpsc::channel();
    let g2 = g.clone();
    let holder = {
        let _guard = rust.rt.enter();
        rust.node.spawn(move |mut p: Process| async move {
            let id = LockId::new(atom("res"), Term::Pid(p.pid().clone()));
            let ok = g2.set_lock(&mut p, &id, None, Some(0)).await;
            let _ = held_tx.send(ok);
            let _ = p.recv().await;
        })
    };
    assert!(held_rx.recv_timeout(T).unwrap());
    let r = b
        .eval("global:set_lock({res, self()}, [node() | nodes()], 0).")
        .unwrap();
    assert_eq!(r, "false", "{label}: BEAM must be excluded");
    rust.node.exit(&holder, atom("kill"));
    let r = b
        .eval_until_match(
            "global:trans({res, self()}, fun() -> done end, [node() | nodes()], 0).",
            T,
            |r| r != "aborted",
        )
        .unwrap();
    assert_eq!(r, "done");

    // A BEAM process holds it; Rust trans is excluded until it dies.
    b.eval("register(lk, spawn(fun() -> true = global:set_lock({res, lk}, [node() | nodes()]), receive stop -> ok end end)).").unwrap();
    b.eval_until("global:set_lock({res, other}, [node()], 0).", "false", T)
        .unwrap();
    let g3 = g.clone();
    let first = in_process(&rust, move |mut p| async move {
        let id = LockId::new(atom("res"), atom("rust"));
        g3.trans(&mut p, &id, None, Some(0), || async { 1 }).await
    });
    assert_eq!(first, None, "{label}: Rust trans must abort");
    b.eval("exit(whereis(lk), kill).").unwrap();
    let g4 = g.clone();
    let r = in_process(&rust, move |mut p| async move {
        let id = LockId::new(atom("res"), atom("rust"));
        tokio::time::timeout(
            Duration::from_secs(30),
            g4.trans(&mut p, &id, None, None, || async { 2 }),
        )
        .await
    });
    assert_eq!(r.expect("trans within 30 s"), Some(2));
}

/// Three nodes (Rust + two BEAM) joining in every order: full mesh, the
/// same names everywhere, global:sync() returns on each BEAM node.
#[test]
fn three_nodes_every_join_order() {
    let Some(otp) = require_otp() else { return };
    let label = otp.describe();
    for order in 0..3 {
        let epmd = Epmd::start().unwrap();
        let rust = RustNode::start(&epmd, "r");
        let g = rust.kernel.global.clone();
        let b1 = beam(&epmd, &otp, BeamOpts::new("b1"));
        let b2 = beam(&epmd, &otp, BeamOpts::new("b2"));
        let me = rust.name().to_owned();
        let rp = rust.spawn_echo_server(None);
        assert!(rust.run(g.register_name(atom("n_rust"), &rp)).unwrap());
        b1.eval("global:register_name(n_b1, spawn(fun() -> receive stop -> ok end end)).")
            .unwrap();
        b2.eval("global:register_name(n_b2, spawn(fun() -> receive stop -> ok end end)).")
            .unwrap();
        let (n1, n2) = (b1.node_name(), b2.node_name());
        match order {
            // Rust first: b1 joins Rust, then b2 joins b1.
            0 => {
                assert_eq!(b1.eval(&format!("net_adm:ping('{me}').")).unwrap(), "pong");
                assert_eq!(b1.eval("global:sync().").unwrap(), "ok");
                assert_eq!(b2.eval(&format!("net_adm:ping('{n1}').")).unwrap(), "pong");
            }
            // Rust in the middle: b1 joins Rust, Rust is joined by b2.
            1 => {
                assert!(rust.run(rust.node.ping(n1)));
                assert_eq!(b1.eval("global:sync().").unwrap(), "ok");
                assert_eq!(b2.eval(&format!("net_adm:ping('{me}').")).unwrap(), "pong");
            }
            // Rust last: b1 and b2 first, then Rust joins b2.
            _ => {
                assert_eq!(b1.eval(&format!("net_adm:ping('{n2}').")).unwrap(), "pong");
                assert_eq!(b1.eval("global:sync().").unwrap(), "ok");
                assert!(rust.run(rust.node.ping(n2)));
            }
        }
        let want = "[n_b1,n_b2,n_rust]";
        for b in [&b1, &b2] {
            b.eval_until("length(nodes()).", "2", T).unwrap();
            assert_eq!(
                b.eval_timeout("global:sync().", Duration::from_secs(20))
                    .unwrap(),
                "ok",
                "{label} order {order}"
            );
            b.eval_until("lists:sort(global:registered_names()).", want, T)
                .unwrap();
        }
        wait_until("rust names", T, || g.registered_names().len() == 3).unwrap();
        wait_until("rust full mesh", T, || rust.node.nodes().len() == 2).unwrap();
        rust.run(g.sync()).unwrap();
    }
}

/// Partition heal with the same name on both sides: one survives
/// everywhere, the loser is killed (random_exit_name/3: the pid on the
/// larger node name). `a_…` Rust nodes resolve themselves, `r_…` ones let
/// BEAM (`b_…`) resolve.
#[test]
fn name_clash_on_partition_heal() {
    let Some(otp) = require_otp() else { return };
    for prefix in ["a", "r"] {
        let epmd = Epmd::start().unwrap();
        let rust = RustNode::start_named(
            &epmd,
            &format!("{}@127.0.0.1", prefixed_unique_name(prefix, "r")),
            |_| {},
        );
        let g = rust.kernel.global.clone();
        let b = beam_with_rust(
            &otp,
            &epmd,
            &rust,
            BeamOpts::new("b").name(&prefixed_unique_name("b", "b")),
        );
        assert_eq!(b.eval("global:sync().").unwrap(), "ok");
        rust.run(g.sync()).unwrap();
        // global:sync() returns before the lockers have released the
        // `{global, Lockers}` lock of the exchange on both nodes; a
        // `del_lock` still in flight at the partition is answered over a new
        // connection, which heals the partition at once. Each node's lock
        // table is empty once both releases were served there.
        b.eval_until("ets:tab2list(global_locks).", "[]", T)
            .unwrap();
        wait_until("no lock left on the Rust node", T, || g.locks().is_empty()).unwrap();
        let me = rust.name().to_owned();
        assert_eq!(
            b.eval(&format!("erlang:disconnect_node('{me}').")).unwrap(),
            "true"
        );
        // Rust's global must have seen the nodedown too: a registration
        // it serves earlier still asks BEAM for the lock, which reconnects.
        wait_until("disconnect", T, || {
            rust.node.nodes().is_empty() && g.known().is_empty()
        })
        .unwrap();
        let rp = rust.spawn_echo_server(None);
        assert!(rust.run(g.register_name(atom("clash"), &rp)).unwrap());
        let r = b.eval("begin P = spawn(fun() -> receive stop -> ok end end), register(clash_holder, P), global:register_name(clash, P) end.").unwrap();
        assert_eq!(r, "yes");
        let bp = b.eval("whereis(clash_holder).").unwrap();
        assert_eq!(b.eval(&format!("net_adm:ping('{me}').")).unwrap(), "pong");
        assert_eq!(b.eval("global:sync().").unwrap(), "ok");
        rust.run(g.sync()).unwrap();
        let rust_wins = me.as_str() < b.node_name();
        assert_eq!(rust_wins, prefix == "a", "{me} vs {}", b.node_name());
        if rust_wins {
            b.eval_until("whereis(clash_holder).", "undefined", T)
                .unwrap();
            wait_until("rust pid keeps the name", T, || {
                g.whereis_name(&atom("clash")) == Some(rp.clone())
            })
            .unwrap();
            let r = b
                .eval_until_match("global:whereis_name(clash).", T, |r| r.starts_with('<'))
                .unwrap();
            assert_ne!(r, bp);
        } else {
            wait_until("rust loser killed", T, || !rust.node.is_process_alive(&rp)).unwrap();
            b.eval_until("global:whereis_name(clash).", &bp, T).unwrap();
            wait_until("beam pid has the name", T, || {
                g.whereis_name(&atom("clash"))
                    .is_some_and(|p| p.node.name == b.node_name())
            })
            .unwrap();
        }
    }
}
