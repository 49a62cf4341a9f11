//! The driver's `sync_other/2` connect step against real connections
//! between two in-process nodes (the crate's own EPMD on 127.0.0.1).
//!
//! Reference: `sync_other/2` of `lib/kernel/src/global.erl`: after
//! `monitor_node(Node, true, [allow_passive_connect])` it looks for a
//! nodedown with `after 0` and ends — only a failed connection attempt
//! becomes `{extra_nodedown, Node}`.

use super::service::connect;
use crate::runtime::{Node, NodeConfig, Process};
use crate::term::Atom;
use std::net::Ipv4Addr;
use std::time::Duration;

async fn start(name: &str, epmd_port: u16) -> Node {
    let mut cfg = NodeConfig::new(name, "service_test");
    cfg.epmd_port = epmd_port;
    cfg.listen_addr = Some(Ipv4Addr::LOCALHOST.into());
    Node::start(cfg).await.expect("node starts")
}

/// `connect` run by a fresh process of `on`.
async fn connect_from(on: &Node, node: &str) -> bool {
    let (tx, rx) = tokio::sync::oneshot::channel();
    let node = Atom::from(node);
    on.spawn(move |mut h: Process| async move {
        let _ = tx.send(connect(&mut h, &node).await);
    });
    tokio::time::timeout(Duration::from_secs(30), rx)
        .await
        .expect("connect ends with the attempt")
        .expect("the helper answers")
}

/// A failed attempt is a failure; a made connection is a success at once,
/// whatever happens to it later (the Rust helper used to wait 10 s for a
/// nodedown, so a peer disconnected soon after a sync counted as "failed
/// to connect": a spurious warning and a second `lost_connection`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sync_other_connect_is_about_the_attempt_only() {
    let l = tokio::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .await
        .unwrap();
    let port = l.local_addr().unwrap().port();
    let epmd = tokio::spawn(crate::epmd::server::serve(l));
    let a = start("a@127.0.0.1", port).await;
    let b = start("b@127.0.0.1", port).await;

    assert!(!connect_from(&a, "nobody@127.0.0.1").await);
    assert!(connect_from(&a, "b@127.0.0.1").await);
    assert_eq!(a.nodes(), vec![Atom::from("b@127.0.0.1")]);
    // Already connected: at once.
    assert!(connect_from(&a, "b@127.0.0.1").await);

    a.stop().await;
    b.stop().await;
    epmd.abort();
}

/// A name is visible to `whereis_name` (local reads and the rpc served
/// from the same snapshot) as soon as `register_name` has returned `true`:
/// the driver publishes the state before it answers. Registering and
/// looking up many names from another worker thread catches an answer
/// sent before the snapshot was written.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_registered_name_is_visible_when_register_name_returns() {
    let node = Node::local("a@h");
    let rpc = crate::kernel::rex::Registry::with_builtins();
    let g = super::start(&node, super::Config::default(), &rpc);
    for i in 0..2000 {
        // One pid per name: global refuses a second name for a pid
        // (check_dupname/2 without global_multi_name_action).
        let holder = node.spawn(|mut p: Process| async move {
            let _ = p.recv().await;
        });
        let name = crate::term::atom(&format!("n{i}"));
        assert!(g.register_name(name.clone(), &holder).await.unwrap());
        assert_eq!(g.whereis_name(&name), Some(holder.clone()), "name {i}");
    }
}
