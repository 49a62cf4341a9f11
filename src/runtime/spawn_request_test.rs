//! `spawn_request/5` without sockets: local requests through the node's
//! spawn service, reply filtering, monitors and links of the new process,
//! `noconnection`, and what an abandoned request undoes. Expected shapes
//! are ERTS's (`erlang:spawn_request/5` documentation, OTP 25).

use super::state::{Effects, State};
use super::*;
use crate::dist::control::Control;
use crate::runtime::testkit::{T, in_process};
use crate::term::{TermExt, atom, int};
use std::sync::Arc;
use std::time::Duration;

/// Runs `m:f(Args)` as: `test:exit_with(R)` exits with `R`, `test:wait()`
/// waits for a message and exits with it; anything else is `badarg`.
struct TestService;

impl SpawnService for TestService {
    fn spawn_request(&self, _node: &Node, req: &SpawnRequest) -> Result<ProcessFn, Term> {
        let args = req
            .args
            .as_list()
            .map(|l| l.into_owned())
            .unwrap_or_default();
        match (req.module.name.as_str(), req.function.name.as_str()) {
            ("test", "exit_with") => {
                let reason = args.first().cloned().unwrap_or_else(|| atom("normal"));
                Ok(Box::new(move |_p: Process| Box::pin(async move { reason })))
            }
            ("test", "wait") => Ok(Box::new(|mut p: Process| {
                Box::pin(async move { p.recv().await })
            })),
            _ => Err(atom("badarg")),
        }
    }
}

fn node() -> Node {
    let n = Node::local("a@h");
    n.set_spawn_service(Arc::new(TestService));
    n
}

fn is_for(m: &Term, req: &Reference) -> bool {
    m.elem(1).and_then(TermExt::as_reference) == Some(req)
}

#[tokio::test]
async fn local_request_with_monitor_and_error_only_gives_just_the_down() {
    let node = node();
    let (first, down) = in_process(&node, |mut p: Process| async move {
        let opts = SpawnOpts {
            monitor: true,
            reply: SpawnReply::ErrorOnly,
            ..Default::default()
        };
        let req = p.spawn_request("a@h", "test", "exit_with", vec![atom("bye")], opts);
        let down = p.receive_timeout(T, |m| is_for(m, &req)).await;
        (p.recv_timeout(Duration::from_millis(50)).await, down)
    })
    .await;
    assert_eq!(first, None, "no spawn_reply with error_only on success");
    let down = down.expect("DOWN");
    assert_eq!(down.tuple_tag(), Some("DOWN"));
    assert!(down.elem(3).and_then(TermExt::as_pid).is_some());
    assert_eq!(down.elem(4), Some(&atom("bye")));
}

#[tokio::test]
async fn local_request_with_reply_yes_and_link() {
    let node = node();
    let (reply, exit) = in_process(&node, |mut p: Process| async move {
        p.trap_exit(true);
        let opts = SpawnOpts {
            link: true,
            ..Default::default()
        };
        let req = p.spawn_request("a@h", "test", "wait", vec![], opts);
        let reply = p.receive_timeout(T, |m| is_for(m, &req)).await.unwrap();
        let child = reply.elem(3).and_then(TermExt::as_pid).cloned().unwrap();
        p.send(&child, atom("done"));
        let exit = p
            .receive_timeout(T, |m| m.tuple_tag() == Some("EXIT"))
            .await;
        (reply, exit)
    })
    .await;
    assert_eq!(reply.tuple_tag(), Some("spawn_reply"));
    assert_eq!(reply.elem(2), Some(&atom("ok")));
    assert_eq!(exit.and_then(|e| e.elem(2).cloned()), Some(atom("done")));
}

#[tokio::test]
async fn a_refused_request_and_an_unreachable_node_reply_with_errors() {
    let node = node();
    let (refused, unreachable, silent) = in_process(&node, |mut p: Process| async move {
        let r1 = p.spawn_request("a@h", "nope", "nope", vec![], SpawnOpts::default());
        let refused = p.receive_timeout(T, |m| is_for(m, &r1)).await;
        let opts = SpawnOpts {
            monitor: true,
            reply: SpawnReply::ErrorOnly,
            ..Default::default()
        };
        let r2 = p.spawn_request("b@h", "m", "f", vec![int(1)], opts);
        let unreachable = p.receive_timeout(T, |m| is_for(m, &r2)).await;
        let opts = SpawnOpts {
            reply: SpawnReply::SuccessOnly,
            ..Default::default()
        };
        let r3 = p.spawn_request("b@h", "m", "f", vec![], opts);
        let silent = p
            .receive_timeout(Duration::from_millis(50), |m| is_for(m, &r3))
            .await;
        (refused, unreachable, silent)
    })
    .await;
    let refused = refused.expect("error reply");
    assert_eq!(refused.elem(2), Some(&atom("error")));
    assert_eq!(refused.elem(3), Some(&atom("badarg")));
    let unreachable = unreachable.expect("noconnection reply");
    assert_eq!(unreachable.elem(2), Some(&atom("error")));
    assert_eq!(unreachable.elem(3), Some(&atom("noconnection")));
    assert_eq!(silent, None, "success_only hides errors");
}

#[tokio::test]
async fn abandon_only_succeeds_while_the_reply_is_pending() {
    let node = node();
    let (after_reply, unknown) = in_process(&node, |mut p: Process| async move {
        let req = p.spawn_request("a@h", "test", "wait", vec![], SpawnOpts::default());
        let _ = p.receive_timeout(T, |m| is_for(m, &req)).await;
        (
            p.spawn_request_abandon(&req),
            p.spawn_request_abandon(&p.make_ref()),
        )
    })
    .await;
    assert!(!after_reply);
    assert!(!unknown);
}

#[test]
fn a_reply_to_an_abandoned_request_demonitors_and_unlinks_the_child() {
    // The requester is gone (its request was dropped with it): the other
    // node's monitor is removed and the linked child gets an exit signal.
    let me = crate::term::Atom::from("a@h");
    let peer = crate::term::Atom::from("b@h");
    let mut st = State::default();
    let mut fx = Effects::default();
    st.new_pending(&peer);
    let mut rx = st.conns.get_mut(&peer).unwrap().rx.take().unwrap();
    let ids = super::ids::Ids::new(me.clone(), 1, 0);
    let requester = ids.new_pid();
    let child = Pid {
        node: peer.clone(),
        id: 7,
        serial: 0,
        creation: 3,
    };
    let ctrl = Control::SpawnReply {
        req_id: ids.new_ref(),
        to: requester.clone(),
        flags: 3,
        result: Term::Pid(child.clone()),
    };
    assert!(st.handle_control(&me, 1, &peer, ctrl, &mut fx).is_none());
    let sent: Vec<&'static str> = std::iter::from_fn(|| rx.try_recv())
        .map(|q| q.ctrl.op_name())
        .collect();
    assert_eq!(sent, ["DEMONITOR_P", "EXIT"]);
}
