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
    cfg.listen_addr = Ipv4Addr::LOCALHOST.into();
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
