//! The PubSub on one local node: names, local delivery, the workers'
//! `forward_to_local`, `direct_broadcast` to itself, subscriber exits,
//! custom dispatchers, configuration errors.

use super::*;
use crate::runtime::Process;
use crate::runtime::testkit::{T, wait_dead};
use crate::term;
use crate::term::{TermExt, int};
use std::time::Duration;

fn msg(n: i64) -> Term {
    term!({msg, (int(n))})
}

/// A process that forwards everything it receives to the test.
fn collector(node: &Node) -> (Pid, tokio::sync::mpsc::UnboundedReceiver<Term>) {
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    let pid = node.spawn(move |mut p: Process| async move {
        loop {
            let m = p.recv().await;
            if m.as_atom() == Some("stop") || tx.send(m).is_err() {
                return;
            }
        }
    });
    (pid, rx)
}

async fn nothing_more(rx: &mut tokio::sync::mpsc::UnboundedReceiver<Term>) {
    let extra = tokio::time::timeout(Duration::from_millis(100), rx.recv()).await;
    assert!(extra.is_err(), "unexpected {extra:?}");
}

async fn got(rx: &mut tokio::sync::mpsc::UnboundedReceiver<Term>) -> Term {
    tokio::time::timeout(T, rx.recv()).await.unwrap().unwrap()
}

#[test]
fn names_follow_module_concat() {
    let c = PubSubConfig::new("MyApp.PubSub").pool_size(3);
    assert_eq!(c.name, "Elixir.MyApp.PubSub");
    assert_eq!(c.adapter_name(), "Elixir.MyApp.PubSub.Adapter");
    let g: Vec<String> = c.groups(3).into_iter().map(|a| a.name).collect();
    assert_eq!(
        g,
        [
            "Elixir.MyApp.PubSub.Adapter",
            "Elixir.MyApp.PubSub.Adapter_2",
            "Elixir.MyApp.PubSub.Adapter_3"
        ]
    );
    assert_eq!(PubSubConfig::new("Elixir.A").name, "Elixir.A");
    let plain = PubSubConfig::new("my_pubsub");
    assert_eq!(plain.name, "my_pubsub");
    assert_eq!(plain.adapter_name(), "Elixir.my_pubsub.Adapter");
}

#[tokio::test]
async fn local_delivery_and_the_workers() {
    let node = Node::local("r@h");
    let kernel = crate::kernel::start(&node);
    let cfg = PubSubConfig::new("MyApp.PubSub").pool_size(2);
    let ps = PubSub::start(&node, &kernel.pg, cfg.clone()).await.unwrap();
    let scope = kernel.pg.scope(SCOPE).expect("the scope started");
    for (g, w) in cfg.groups(2).into_iter().zip(ps.workers()) {
        assert_eq!(scope.get_members(&Term::Atom(g.clone())), vec![w.clone()]);
        assert_eq!(node.whereis(&g.name).as_ref(), Some(w));
    }
    let (a, mut ra) = collector(&node);
    let (b, mut rb) = collector(&node);
    ps.subscribe(&a, "t").unwrap();
    ps.subscribe(&b, "t").unwrap();
    ps.subscribe(&b, "u").unwrap();
    assert_eq!(ps.topics_of(&b), vec!["t".to_owned(), "u".to_owned()]);

    ps.broadcast("t", msg(1)).unwrap();
    ps.broadcast_from(&a, "t", msg(2)).unwrap();
    ps.local_broadcast("u", msg(3));
    ps.direct_broadcast(&node.name().name, "t", msg(4));
    // What another node's broadcast looks like when it reaches a worker
    // (the same worker as the direct broadcast: one order).
    let forward = |n: i64| term!({forward_to_local, (binary(b"t".to_vec())), (msg(n)), (atom(DEFAULT_DISPATCHER))});
    node.send(&ps.workers()[0], forward(5));
    for n in [1, 4, 5] {
        assert_eq!(got(&mut ra).await, msg(n));
    }
    for n in [1, 2, 3, 4, 5] {
        assert_eq!(got(&mut rb).await, msg(n));
    }
    node.send(&ps.workers()[1], forward(7));
    assert_eq!(got(&mut ra).await, msg(7));
    assert_eq!(got(&mut rb).await, msg(7));
    nothing_more(&mut ra).await;

    ps.unsubscribe(&a, "t");
    ps.broadcast("t", msg(6)).unwrap();
    assert_eq!(got(&mut rb).await, msg(6));
    nothing_more(&mut ra).await;

    // A subscriber that exits loses its subscriptions.
    node.send(&b, atom("stop"));
    wait_dead(&node, &b).await;
    for _ in 0..100 {
        if ps.subscribers("t").is_empty() && ps.subscribers("u").is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(ps.subscribers("t").is_empty() && ps.subscribers("u").is_empty());

    // A second PubSub of the same name cannot register its workers.
    let again = PubSub::start(&node, &kernel.pg, cfg).await;
    assert!(matches!(again, Err(PubSubError::NameTaken(_))), "{again:?}");
}

struct Tagging;

impl Dispatcher for Tagging {
    fn dispatch(&self, node: &Node, entries: &[(Pid, Term)], _from: Option<&Pid>, msg: &Term) {
        for (pid, meta) in entries {
            node.send(pid, term!({(meta.clone()), (msg.clone())}));
        }
    }
}

#[tokio::test]
async fn custom_dispatchers_and_bad_configs() {
    let node = Node::local("r@h");
    let kernel = crate::kernel::start(&node);
    for bad in [
        PubSubConfig::new("A").pool_size(0),
        PubSubConfig::new("A").pool_size(1).broadcast_pool_size(2),
    ] {
        let r = PubSub::start(&node, &kernel.pg, bad).await;
        assert_eq!(r.err(), Some(PubSubError::PoolSize));
    }
    let ps = PubSub::start(&node, &kernel.pg, PubSubConfig::new("B"))
        .await
        .unwrap();
    ps.register_dispatcher("Elixir.Tagging", Arc::new(Tagging));
    let (a, mut ra) = collector(&node);
    ps.subscribe_with(&a, "t", atom("fastlane")).unwrap();
    ps.broadcast_with(None, "t", msg(1), "Elixir.Tagging")
        .unwrap();
    assert_eq!(got(&mut ra).await, term!({fastlane, (msg(1))}));
    // An unknown dispatcher drops the broadcast (Elixir's worker would crash).
    ps.broadcast_with(None, "t", msg(2), "Elixir.Nope").unwrap();
    nothing_more(&mut ra).await;
    let remote = Pid::new("other@h", 1, 0, 1);
    assert_eq!(
        ps.subscribe(&remote, "t").err(),
        Some(PubSubError::NotLocal(remote.clone()))
    );
}
