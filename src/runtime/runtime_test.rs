//! Local process semantics (no sockets): messages, selective receive,
//! links, exit signals, monitors, names, aliases and gen calls. Expected
//! behaviour is ERTS's (the "Processes" chapter of the Erlang reference
//! manual), checked on OTP 25 where noted.

use super::*;
use crate::runtime::testkit::{T, next, wait_dead};
use crate::term;
use crate::term::{TermExt, atom, int};
use std::time::Duration;

/// Spawns a process that forwards everything it receives to a channel.
fn probe(node: &Node, trap: bool) -> (Pid, tokio::sync::mpsc::UnboundedReceiver<Term>) {
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    let pid = node.spawn(move |mut p| async move {
        p.trap_exit(trap);
        loop {
            let m = p.recv().await;
            if tx.send(m).is_err() {
                return;
            }
        }
    });
    (pid, rx)
}

#[tokio::test]
async fn send_by_pid_and_name_and_selective_receive() {
    let node = Node::local("a@h");
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let pid = node.spawn(move |mut p| async move {
        p.register("srv").unwrap();
        let second = p.receive(|m| m.tuple_tag() == Some("second")).await;
        let first = p.recv().await;
        tx.send((first, second)).unwrap();
    });
    tokio::task::yield_now().await;
    node.send(&pid, term!({ first }));
    node.send("srv", term!({ second }));
    let (first, second) = tokio::time::timeout(T, rx.recv()).await.unwrap().unwrap();
    assert_eq!(first.tuple_tag(), Some("first"));
    assert_eq!(second.tuple_tag(), Some("second"));
    wait_dead(&node, &pid).await;
    assert_eq!(node.whereis("srv"), None, "name released on exit");
}

#[tokio::test]
async fn link_propagates_abnormal_exit_and_trap_exit_turns_it_into_a_message() {
    let node = Node::local("a@h");
    let (trapper, mut rx) = probe(&node, true);
    let plain = node.spawn(|mut p| async move {
        p.recv().await;
    });
    let linker = node.spawn({
        let (trapper, plain) = (trapper.clone(), plain.clone());
        move |p| async move {
            p.link(&trapper);
            p.link(&plain);
            atom("crash")
        }
    });
    let m = next(&mut rx).await;
    assert_eq!(m, term!({EXIT, (Term::Pid(linker)), crash}));
    wait_dead(&node, &plain).await;
    assert!(node.is_process_alive(&trapper));
}

#[tokio::test]
async fn normal_exit_does_not_kill_linked_processes_but_kill_does() {
    let node = Node::local("a@h");
    let (a, _rx) = probe(&node, false);
    let b = node.spawn({
        let a = a.clone();
        move |p| async move {
            p.link(&a);
        }
    });
    wait_dead(&node, &b).await;
    tokio::time::sleep(Duration::from_millis(20)).await;
    assert!(node.is_process_alive(&a), "normal exit must not propagate");

    let (trapper, mut rx) = probe(&node, true);
    node.exit(&trapper, atom("kill"));
    wait_dead(&node, &trapper).await;
    assert!(
        tokio::time::timeout(Duration::from_millis(50), rx.recv())
            .await
            .map(|m| m.is_none())
            .unwrap_or(true)
    );
}

#[tokio::test]
async fn monitors_deliver_down_and_noproc() {
    let node = Node::local("a@h");
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let target = node.spawn(|mut p| async move {
        p.recv().await;
        atom("bye")
    });
    let t2 = target.clone();
    node.spawn(move |mut p| async move {
        let r1 = p.monitor(&t2);
        let r2 = p.monitor(("nosuch", "a@h"));
        let d2 = p.recv().await;
        p.send(&t2, atom("go"));
        let d1 = p.recv().await;
        tx.send((r1, d1, r2, d2)).unwrap();
    });
    let (r1, d1, r2, d2) = tokio::time::timeout(T, rx.recv()).await.unwrap().unwrap();
    assert_eq!(
        d2,
        term!({DOWN, (Term::Reference(Box::new(r2))), process, {nosuch, :"a@h"}, noproc})
    );
    assert_eq!(
        d1,
        term!({DOWN, (Term::Reference(Box::new(r1))), process, (Term::Pid(target)), bye})
    );
}

#[tokio::test]
async fn gen_call_to_a_local_server_and_to_a_missing_one() {
    let node = Node::local("a@h");
    node.spawn(|mut p| async move {
        p.register("adder").unwrap();
        loop {
            let m = p.recv().await;
            if let Some(c) = GenCall::parse(&m) {
                let sum = c.request.elem(1).and_then(TermExt::as_i64).unwrap_or(0)
                    + c.request.elem(2).and_then(TermExt::as_i64).unwrap_or(0);
                p.reply(&c.from, int(sum));
            }
        }
    });
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    node.spawn(move |mut p| async move {
        let ok = p.call("adder", term!({add, 4, 5}), T).await;
        let missing = p.call("nobody", atom("x"), T).await;
        tx.send((ok, missing)).unwrap();
    });
    let (ok, missing) = tokio::time::timeout(T, rx.recv()).await.unwrap().unwrap();
    assert_eq!(ok, Ok(int(9)));
    assert_eq!(missing, Err(CallError::Exit(atom("noproc"))));
}

#[tokio::test]
async fn call_timeout_and_late_reply_is_dropped_through_the_alias() {
    let node = Node::local("a@h");
    node.spawn(|mut p| async move {
        p.register("slow").unwrap();
        let m = p.recv().await;
        let c = GenCall::parse(&m).unwrap();
        tokio::time::sleep(Duration::from_millis(100)).await;
        p.reply(&c.from, atom("late"));
        p.recv().await;
    });
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    node.spawn(move |mut p| async move {
        let r = p.call("slow", atom("x"), Duration::from_millis(20)).await;
        let stray = p.recv_timeout(Duration::from_millis(200)).await;
        tx.send((r, stray)).unwrap();
    });
    let (r, stray) = tokio::time::timeout(T, rx.recv()).await.unwrap().unwrap();
    assert_eq!(r, Err(CallError::Timeout));
    assert_eq!(
        stray, None,
        "a late reply to a dead alias must not reach the caller"
    );
}

#[tokio::test]
async fn panics_become_exit_reasons() {
    let node = Node::local("a@h");
    let (trapper, mut rx) = probe(&node, true);
    let t = trapper.clone();
    let child = node.spawn(move |p| async move {
        p.link(&t);
        if p.pid().id > 0 {
            panic!("deliberate");
        }
    });
    let m = next(&mut rx).await;
    assert_eq!(m.elem(1), Some(&Term::Pid(child)));
    assert_eq!(m.elem(2).and_then(TermExt::tuple_tag), Some("panic"));
}

#[tokio::test]
async fn registering_twice_fails() {
    let node = Node::local("a@h");
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    node.spawn(move |p| async move {
        let first = p.register("x");
        let again = p.register("y");
        tx.send((first.is_ok(), again.is_ok())).unwrap();
        std::future::pending::<()>().await;
    });
    assert_eq!(rx.recv().await.unwrap(), (true, false));
}

#[test]
fn a_busy_connection_refuses_waiting_sends_and_takes_forced_ones() {
    use super::state::{BusyLimit, Effects, State};
    use crate::dist::control::Control;
    let peer = Atom::from("b@h");
    let mut st = State {
        busy_limit: BusyLimit(100),
        ..State::default()
    };
    let mut fx = Effects::default();
    st.new_pending(&peer);
    let from = Pid::new("a@h", 1, 0, 1);
    let reg_send = |size: usize| Control::RegSend {
        from: from.clone(),
        name: Atom::from("sink"),
        msg: crate::term::binary(vec![0; size]),
    };
    // Below the limit a send is queued, even one that takes it over.
    assert!(matches!(
        st.try_send_remote(&peer, reg_send(200), 200, true, &mut fx),
        Ok(true)
    ));
    // Busy now: nothing queued, the message comes back.
    match st
        .try_send_remote(&peer, reg_send(1), 1, true, &mut fx)
        .map_err(|b| b.0)
    {
        Err(Control::RegSend { msg, .. }) => {
            assert_eq!(msg, crate::term::binary(vec![0]))
        }
        _ => panic!("busy"),
    }
    // The runtime's own sends are queued anyway.
    st.send_remote(&peer, reg_send(1), true, &mut fx);
    let mut rx = st.conns.get_mut(&peer).unwrap().rx.take().unwrap();
    let mut sent = 0;
    while rx.try_recv().is_some() {
        sent += 1;
    }
    assert_eq!(sent, 2);
    // `noconnect`: no connection, no attempt.
    assert!(matches!(
        st.try_send_remote(&Atom::from("c@h"), reg_send(1), 1, false, &mut fx),
        Ok(false)
    ));
    assert!(fx.connects.is_empty());
    assert!(!st.conns.contains_key(&Atom::from("c@h")));
}
