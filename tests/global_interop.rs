//! `global` against real BEAM nodes (OTP 25, and 27 / 29 from the chroots
//! under `/opt/distro-otp`; `DISTRO_OTP=25|27|29` picks one).
//!
//! Reference: `lib/kernel/src/global.erl`; `shared/protocol/NOTES.md` §c.

#[path = "global_interop/erl.rs"]
mod erl;

use distro::runtime::{GenCall, Node, NodeConfig, Process};
use distro::term::{Atom, Term, TermExt, atom, tuple};
use erl::{BeamNode, Epmd, Release, releases, unique};
use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

const COOKIE: &str = "globalcookie";

async fn rust_node(epmd: &Epmd) -> (Node, distro::kernel::Kernel) {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_test_writer()
        .try_init();
    let mut cfg = NodeConfig::new(&format!("{}@127.0.0.1", unique("r")), COOKIE);
    cfg.epmd_port = epmd.port;
    cfg.listen_addr = IpAddr::V4(Ipv4Addr::LOCALHOST);
    distro::start(cfg).await.expect("rust node starts")
}

fn echo_server(node: &Node) -> distro::term::Pid {
    node.spawn(|mut p: Process| async move {
        loop {
            let m = p.recv().await;
            if let Some(c) = GenCall::parse(&m) {
                p.reply(&c.from, tuple(vec![atom("echo"), c.request.clone()]));
            }
        }
    })
}

async fn wait_for(what: &str, mut f: impl FnMut() -> bool) {
    for _ in 0..300 {
        if f() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("timed out waiting for {what}");
}

async fn beam_with_rust(rel: Release, epmd: &Epmd, node: &Node) -> BeamNode {
    let mut b = BeamNode::start(rel, epmd, COOKIE, &[]);
    assert_eq!(b.eval("ok.").await, "ok");
    assert!(
        node.ping(&b.node).await,
        "{}: ping {}\n{}",
        rel.label,
        b.node,
        b.output()
    );
    b
}

/// Names both ways, calls both ways, names leave with their owner; global:sync() returns.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn names_and_calls_both_ways() {
    for rel in releases() {
        let epmd = Epmd::start(rel).await;
        let (node, kernel) = rust_node(&epmd).await;
        let g = kernel.global.clone();
        let mut b = beam_with_rust(rel, &epmd, &node).await;
        assert_eq!(b.eval("global:sync().").await, "ok", "{}", rel.label);
        g.sync().await.unwrap();

        let srv = echo_server(&node);
        assert!(g.register_name(atom("rust_srv"), &srv).await.unwrap());
        let r = b.eval("global:whereis_name(rust_srv).").await;
        assert!(r.starts_with('<'), "{}: {r}", rel.label);
        assert_eq!(
            b.eval("gen_server:call({global, rust_srv}, hello).").await,
            "{echo,hello}"
        );

        let r = b
            .eval("global:register_name(beam_srv, spawn(fun() -> (fun L() -> receive {'$gen_call', F, R} -> gen_server:reply(F, {beam, R}), L() end end)() end)).")
            .await;
        assert_eq!(r, "yes", "{}", rel.label);
        let bp = g
            .whereis_name(&atom("beam_srv"))
            .expect("beam_srv known to rust");
        assert_eq!(bp.node.name, b.node);
        let (tx, rx) = tokio::sync::oneshot::channel();
        node.spawn(move |mut p: Process| async move {
            let r = p.call(bp, atom("hi"), Duration::from_secs(10)).await;
            let _ = tx.send(r);
        });
        assert_eq!(
            rx.await.unwrap().unwrap(),
            tuple(vec![atom("beam"), atom("hi")])
        );
        let names = b.eval("lists:sort(global:registered_names()).").await;
        assert_eq!(names, "[beam_srv,rust_srv]");
        let mut ours: Vec<String> = g
            .registered_names()
            .iter()
            .filter_map(|t| t.as_atom().map(str::to_owned))
            .collect();
        ours.sort();
        assert_eq!(ours, ["beam_srv", "rust_srv"]);

        // Owners die: the names go everywhere.
        node.exit(&srv, atom("kill"));
        b.eval_until("global:whereis_name(rust_srv).", |r| r == "undefined")
            .await;
        b.eval("exit(global:whereis_name(beam_srv), kill).").await;
        wait_for("beam_srv to go", || {
            g.whereis_name(&atom("beam_srv")).is_none()
        })
        .await;

        // A name registered by BEAM dies with its node.
        b.eval("global:register_name(beam2, spawn(fun() -> receive stop -> ok end end)).")
            .await;
        wait_for("beam2", || g.whereis_name(&atom("beam2")).is_some()).await;
        drop(b);
        wait_for("beam2 to go with its node", || {
            g.whereis_name(&atom("beam2")).is_none()
        })
        .await;
        node.stop().await;
    }
}

/// global:trans from BEAM excludes a Rust holder and the reverse; locks die with holders.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn locks_exclude_across_nodes() {
    for rel in releases() {
        let epmd = Epmd::start(rel).await;
        let (node, kernel) = rust_node(&epmd).await;
        let g = kernel.global.clone();
        let mut b = beam_with_rust(rel, &epmd, &node).await;
        assert_eq!(b.eval("global:sync().").await, "ok");

        // A Rust process holds {res, rust} on both nodes.
        let (held_tx, held_rx) = tokio::sync::oneshot::channel();
        let g2 = g.clone();
        let holder = node.spawn(move |mut p: Process| async move {
            let id = distro::kernel::global::LockId::new(atom("res"), Term::Pid(p.pid().clone()));
            let ok = g2.set_lock(&mut p, &id, None, Some(0)).await;
            let _ = held_tx.send(ok);
            let _ = p.recv().await;
        });
        assert!(held_rx.await.unwrap());
        let r = b
            .eval("global:set_lock({res, self()}, [node() | nodes()], 0).")
            .await;
        assert_eq!(r, "false", "{}: BEAM must be excluded", rel.label);
        node.exit(&holder, atom("kill"));
        let r = b
            .eval_until(
                "global:trans({res, self()}, fun() -> done end, [node() | nodes()], 0).",
                |r| r != "aborted",
            )
            .await;
        assert_eq!(r, "done");

        // A BEAM process holds it; Rust trans is excluded until it dies.
        b.eval("register(lk, spawn(fun() -> true = global:set_lock({res, lk}, [node() | nodes()]), receive stop -> ok end end)).").await;
        b.eval_until("global:set_lock({res, other}, [node()], 0).", |r| {
            r == "false"
        })
        .await;
        let (tx, rx) = tokio::sync::oneshot::channel();
        let g3 = g.clone();
        node.spawn(move |mut p: Process| async move {
            let id = distro::kernel::global::LockId::new(atom("res"), atom("rust"));
            let first = g3.trans(&mut p, &id, None, Some(0), || async { 1 }).await;
            let _ = tx.send(first);
        });
        assert_eq!(
            rx.await.unwrap(),
            None,
            "{}: Rust trans must abort",
            rel.label
        );
        b.eval("exit(whereis(lk), kill).").await;
        let (tx, rx) = tokio::sync::oneshot::channel();
        let g4 = g.clone();
        node.spawn(move |mut p: Process| async move {
            let id = distro::kernel::global::LockId::new(atom("res"), atom("rust"));
            let r = g4.trans(&mut p, &id, None, None, || async { 2 }).await;
            let _ = tx.send(r);
        });
        assert_eq!(
            tokio::time::timeout(Duration::from_secs(30), rx)
                .await
                .unwrap()
                .unwrap(),
            Some(2)
        );
        node.stop().await;
        let _: Atom = Atom::from("x");
    }
}

async fn rust_node_named(epmd: &Epmd, prefix: &str) -> (Node, distro::kernel::Kernel) {
    let mut cfg = NodeConfig::new(&format!("{}@127.0.0.1", unique(prefix)), COOKIE);
    cfg.epmd_port = epmd.port;
    cfg.listen_addr = IpAddr::V4(Ipv4Addr::LOCALHOST);
    distro::start(cfg).await.expect("rust node starts")
}

/// Three nodes (Rust + two BEAM) joining in every order: full mesh, the
/// same names everywhere, global:sync() returns on each BEAM node.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_nodes_every_join_order() {
    for rel in releases() {
        for order in 0..3 {
            let epmd = Epmd::start(rel).await;
            let (node, kernel) = rust_node(&epmd).await;
            let g = kernel.global.clone();
            let mut b1 = BeamNode::start(rel, &epmd, COOKIE, &[]);
            let mut b2 = BeamNode::start(rel, &epmd, COOKIE, &[]);
            b1.eval("ok.").await;
            b2.eval("ok.").await;
            let me = node.name().name.clone();
            let rp = echo_server(&node);
            assert!(g.register_name(atom("n_rust"), &rp).await.unwrap());
            b1.eval("global:register_name(n_b1, spawn(fun() -> receive stop -> ok end end)).")
                .await;
            b2.eval("global:register_name(n_b2, spawn(fun() -> receive stop -> ok end end)).")
                .await;
            let (n1, n2) = (b1.node.clone(), b2.node.clone());
            match order {
                // Rust first: b1 joins Rust, then b2 joins b1.
                0 => {
                    assert_eq!(b1.eval(&format!("net_adm:ping('{me}').")).await, "pong");
                    assert_eq!(b1.eval("global:sync().").await, "ok");
                    assert_eq!(b2.eval(&format!("net_adm:ping('{n1}').")).await, "pong");
                }
                // Rust in the middle: b1 joins Rust, Rust is joined by b2.
                1 => {
                    assert!(node.ping(&n1).await);
                    assert_eq!(b1.eval("global:sync().").await, "ok");
                    assert_eq!(b2.eval(&format!("net_adm:ping('{me}').")).await, "pong");
                }
                // Rust last: b1 and b2 first, then Rust joins b2.
                _ => {
                    assert_eq!(b1.eval(&format!("net_adm:ping('{n2}').")).await, "pong");
                    assert_eq!(b1.eval("global:sync().").await, "ok");
                    assert!(node.ping(&n2).await);
                }
            }
            let want = "[n_b1,n_b2,n_rust]";
            for b in [&mut b1, &mut b2] {
                b.eval_until("length(nodes()).", |r| r == "2").await;
                assert_eq!(
                    b.eval_timeout("global:sync().", Duration::from_secs(20))
                        .await,
                    "ok",
                    "{} order {order}",
                    rel.label
                );
                b.eval_until("lists:sort(global:registered_names()).", |r| r == want)
                    .await;
            }
            wait_for("rust names", || g.registered_names().len() == 3).await;
            wait_for("rust full mesh", || node.nodes().len() == 2).await;
            g.sync().await.unwrap();
            node.stop().await;
        }
    }
}

/// Partition heal with the same name on both sides: one survives
/// everywhere, the loser is killed (random_exit_name/3: the pid on the
/// larger node name). `a…` Rust nodes resolve themselves, `r…` ones let BEAM resolve.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn name_clash_on_partition_heal() {
    for rel in releases() {
        for prefix in ["a", "r"] {
            let epmd = Epmd::start(rel).await;
            let (node, kernel) = rust_node_named(&epmd, prefix).await;
            let g = kernel.global.clone();
            let mut b = beam_with_rust(rel, &epmd, &node).await;
            assert_eq!(b.eval("global:sync().").await, "ok");
            let me = node.name().name.clone();
            assert_eq!(
                b.eval(&format!("erlang:disconnect_node('{me}').")).await,
                "true"
            );
            wait_for("disconnect", || node.nodes().is_empty()).await;
            let rp = echo_server(&node);
            assert!(g.register_name(atom("clash"), &rp).await.unwrap());
            let r = b.eval("begin P = spawn(fun() -> receive stop -> ok end end), register(clash_holder, P), global:register_name(clash, P) end.").await;
            assert_eq!(r, "yes");
            let bp = b.eval("whereis(clash_holder).").await;
            assert_eq!(b.eval(&format!("net_adm:ping('{me}').")).await, "pong");
            assert_eq!(b.eval("global:sync().").await, "ok");
            g.sync().await.unwrap();
            let rust_wins = me.as_str() < b.node.as_str();
            if rust_wins {
                b.eval_until("whereis(clash_holder).", |r| r == "undefined")
                    .await;
                wait_for("rust pid keeps the name", || {
                    g.whereis_name(&atom("clash")) == Some(rp.clone())
                })
                .await;
                let r = b
                    .eval_until("global:whereis_name(clash).", |r| r.starts_with('<'))
                    .await;
                assert_ne!(r, bp);
            } else {
                wait_for("rust loser killed", || !node.is_process_alive(&rp)).await;
                b.eval_until("global:whereis_name(clash).", |r| r == bp)
                    .await;
                wait_for("beam pid has the name", || {
                    g.whereis_name(&atom("clash"))
                        .is_some_and(|p| p.node.name == b.node)
                })
                .await;
            }
            node.stop().await;
        }
    }
}
