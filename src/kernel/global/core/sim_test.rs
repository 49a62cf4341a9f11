//! Cluster scenarios on the simulated network ([`super::sim`]), several
//! [`super::GlobalCore`]s talking the real protocol to each other.
//!
//! Reference: `lib/kernel/src/global.erl` (OTP 25.2.3) and recordings of
//! real OTP 25 nodes (a node joining a 3-node cluster; `lost_connection`
//! after a kill), not kept in the repository; `tests/integration/global.rs`
//! checks the same behaviour against BEAM.

use super::sim::Sim;
use super::{ApiRequest, Method};
use crate::term;
use crate::term::{Atom, InternalFun, Pid, Term, TermExt, atom};
use std::time::Duration;

const A: &str = "a@h";
const B: &str = "b@h";
const C: &str = "c@h";

fn settle(s: &mut Sim) {
    s.run_for(Duration::from_secs(30));
}

fn known(s: &Sim, n: &str) -> Vec<String> {
    s.core(n).known().into_iter().map(|a| a.name).collect()
}

fn assert_full_mesh(s: &Sim, names: &[&str]) {
    for n in names {
        let mut want: Vec<String> = names
            .iter()
            .filter(|m| *m != n)
            .map(|m| (*m).to_owned())
            .collect();
        want.sort();
        assert_eq!(known(s, n), want, "known at {n}");
        let mut synced: Vec<String> = s.core(n).synced().into_iter().map(|a| a.name).collect();
        synced.sort();
        assert_eq!(synced, want, "synced at {n}");
        assert!(
            s.core(n).locks().is_empty(),
            "locks left at {n}: {:?}",
            s.core(n).locks()
        );
    }
}

/// `fun random_exit_name/3` as BEAM ships it: a local fun of module global.
fn beam_local_fun(node: &str) -> Term {
    Term::InternalFun(Box::new(InternalFun::New {
        module: Atom::from("global"),
        arity: 3,
        pid: super::sim::pid(node, 0),
        free_vars: vec![],
        index: 9,
        uniq: [7; 16],
        old_index: 9,
        old_uniq: 1234,
    }))
}

fn register(s: &mut Sim, node: &str, name: &str, pid: &Pid, method: Term) -> Term {
    let t = s.api(
        node,
        ApiRequest::Register {
            name: atom(name),
            pid: pid.clone(),
            method,
        },
    );
    settle(s);
    s.api_reply(t).cloned().expect("register answered")
}

/// Two nodes sync; message order as in s4_probe.txt:164–264.
#[test]
fn two_nodes_sync_in_otp_order() {
    let mut s = Sim::new(&[A, B]);
    assert!(s.connect(A, B));
    settle(&mut s);
    assert_full_mesh(&s, &[A, B]);
    let tags: Vec<String> = s
        .tags_sent()
        .into_iter()
        .filter(|(f, _, _)| f == A)
        .map(|(_, _, t)| t)
        .collect();
    // init_connect first, then init_connect_ack (s4_probe.txt:164, :198).
    assert_eq!(tags[0], "init_connect");
    assert_eq!(tags[1], "init_connect_ack");
    for t in ["set_lock", "lock_set", "exchange", "resolved", "del_lock"] {
        assert!(tags.iter().any(|x| x == t), "{t} missing from {tags:?}");
    }
    // The lock is {global, lists:sort([LockerA, LockerB])} (s4_probe.txt:209).
    let lock = s
        .log
        .iter()
        .find_map(|(_, _, _, m)| match m.elem(2).and_then(|r| r.as_tuple()) {
            Some([t, id]) if t.as_atom() == Some("set_lock") => Some(id.clone()),
            _ => None,
        })
        .expect("a set_lock call");
    let want = term!({global, [(Term::Pid(s.nodes[A].locker.clone())), (Term::Pid(s.nodes[B].locker.clone()))]});
    assert_eq!(lock, want);
    // ERTS orders pids by serial, number, node (`lists:sort/1` on OTP 25):
    // <b.2.0> < <a.7.0>, whatever the node names.
    let p = |n: &str, id| super::sim::pid(n, id);
    assert_eq!(
        crate::term::cmp_pids(&p("b@h", 2), &p("a@h", 7)),
        std::cmp::Ordering::Less
    );
    assert_eq!(
        crate::term::cmp_pids(&p("a@h", 5), &p("b@h", 5)),
        std::cmp::Ordering::Less
    );
}

/// Three nodes joining in every order end fully meshed with the same names.
#[test]
fn three_nodes_every_join_order() {
    let orders: [[&str; 3]; 6] = [
        [A, B, C],
        [A, C, B],
        [B, A, C],
        [B, C, A],
        [C, A, B],
        [C, B, A],
    ];
    for o in orders {
        let mut s = Sim::new(&[A, B, C]);
        let p = s.spawn(o[2]);
        assert_eq!(
            register(&mut s, o[2], "late", &p, Method::RandomExit.to_fun()),
            atom("yes")
        );
        // o[0] and o[1] form a cluster, o[2] joins through o[1] only.
        s.block(o[0], o[2], true);
        s.connect(o[0], o[1]);
        settle(&mut s);
        s.block(o[0], o[2], false);
        s.connect(o[1], o[2]);
        settle(&mut s);
        assert_full_mesh(&s, &[A, B, C]);
        for n in [A, B, C] {
            assert_eq!(
                s.core(n).whereis(&atom("late")),
                Some(&p),
                "order {o:?} at {n}"
            );
        }
    }
}

/// Registration takes {global, Registrar} on all known nodes; names leave
/// with their process (global.erl register_name/3, insert_global_name/6).
#[test]
fn names_follow_their_process() {
    let mut s = Sim::new(&[A, B, C]);
    s.connect(A, B);
    s.connect(B, C);
    settle(&mut s);
    let p = s.spawn(B);
    assert_eq!(
        register(&mut s, A, "srv", &p, beam_local_fun(A)),
        atom("yes")
    );
    let q = s.spawn(C);
    assert_eq!(
        register(&mut s, C, "srv", &q, Method::RandomExit.to_fun()),
        atom("no")
    );
    for n in [A, B, C] {
        assert_eq!(s.core(n).whereis(&atom("srv")), Some(&p));
        assert!(s.core(n).locks().is_empty());
    }
    s.kill(&p);
    settle(&mut s);
    for n in [A, B, C] {
        assert_eq!(s.core(n).whereis(&atom("srv")), None, "at {n}");
    }
    // A name dies with its node too.
    let r = s.spawn(C);
    assert_eq!(
        register(&mut s, B, "other", &r, Method::RandomExit.to_fun()),
        atom("yes")
    );
    s.disconnect(A, C);
    s.disconnect(B, C);
    settle(&mut s);
    assert_eq!(s.core(A).whereis(&atom("other")), None);
    assert_eq!(s.core(B).whereis(&atom("other")), None);
}

/// `{set_lock, Id}` / `{del_lock, Id}` semantics (handle_set_lock/3, can_set_lock/1).
#[test]
fn lock_semantics() {
    let mut s = Sim::new(&[A, B]);
    s.connect(A, B);
    settle(&mut s);
    let h1 = s.spawn(A);
    let h2 = s.spawn(B);
    let h3 = s.spawn(B);
    let id = |req: &Pid| term!({res, (Term::Pid(req.clone()))});
    let shared = term!({res, shared});
    let set = |i: Term| term!({set_lock, (i)});
    s.call(&h1, B, set(id(&h1)), 1);
    settle(&mut s);
    assert_eq!(s.reply_for(&h1, 1), Some(atom("true")));
    // Another requester id is refused; the same holder again is re-entrant.
    s.call(&h2, B, set(id(&h2)), 2);
    s.call(&h1, B, set(id(&h1)), 3);
    settle(&mut s);
    assert_eq!(s.reply_for(&h2, 2), Some(atom("false")));
    assert_eq!(s.reply_for(&h1, 3), Some(atom("true")));
    // del_lock removes only the caller; a non-holder's del_lock is a no-op.
    s.call(&h2, B, term!({del_lock, (id(&h1))}), 4);
    settle(&mut s);
    assert_eq!(s.reply_for(&h2, 4), Some(atom("true")));
    assert_eq!(s.core(B).locks().len(), 1);
    s.call(&h1, B, term!({del_lock, (id(&h1))}), 5);
    settle(&mut s);
    assert!(s.core(B).locks().is_empty());
    // Same requester id from two processes: shared; released when both go.
    s.call(&h2, B, set(shared.clone()), 6);
    s.call(&h3, B, set(shared.clone()), 7);
    settle(&mut s);
    assert_eq!(s.reply_for(&h2, 6), Some(atom("true")));
    assert_eq!(s.reply_for(&h3, 7), Some(atom("true")));
    assert_eq!(s.core(B).locks()[0].2.len(), 2);
    s.kill(&h2);
    settle(&mut s);
    assert_eq!(s.core(B).locks()[0].2, vec![h3.clone()]);
    s.kill(&h3);
    settle(&mut s);
    assert!(s.core(B).locks().is_empty());
    // A holder's node going down releases its locks (DOWN noconnection).
    s.call(&h1, B, set(id(&h1)), 8);
    settle(&mut s);
    assert_eq!(s.core(B).locks().len(), 1);
    s.disconnect(A, B);
    settle(&mut s);
    assert!(s.core(B).locks().is_empty());
}

fn clash(method: fn(&str) -> Term) -> (Sim, Pid, Pid) {
    let mut s = Sim::new(&[A, B]);
    s.block(A, B, true);
    let pa = s.spawn(A);
    let pb = s.spawn(B);
    assert_eq!(register(&mut s, A, "x", &pa, method(A)), atom("yes"));
    assert_eq!(register(&mut s, B, "x", &pb, method(B)), atom("yes"));
    s.block(A, B, false);
    s.connect(A, B);
    settle(&mut s);
    (s, pa, pb)
}

/// Partition heal with a clash, default method: the smaller node resolves
/// and keeps the pid on the smaller node; the other is killed (random_exit_name/3).
#[test]
fn clash_random_exit() {
    let (s, pa, pb) = clash(beam_local_fun);
    assert_eq!(s.kills, vec![pb]);
    for n in [A, B] {
        assert_eq!(s.core(n).whereis(&atom("x")), Some(&pa), "at {n}");
    }
    assert_full_mesh(&s, &[A, B]);
}

/// random_notify_name/3: loser gets `{global_name_conflict, Name}`.
#[test]
fn clash_random_notify() {
    let (s, pa, pb) = clash(|_| Method::RandomNotify.to_fun());
    assert!(s.kills.is_empty());
    assert!(s.inbox.contains(&(pb, term!({global_name_conflict, x}))));
    for n in [A, B] {
        assert_eq!(s.core(n).whereis(&atom("x")), Some(&pa));
    }
}

/// notify_all_name/3: both notified, the name is gone everywhere.
#[test]
fn clash_notify_all() {
    let (s, pa, pb) = clash(|_| Method::NotifyAll.to_fun());
    let note = |to: &Pid, other: &Pid| {
        (
            to.clone(),
            term!({global_name_conflict, x, (Term::Pid(other.clone()))}),
        )
    };
    assert!(s.inbox.contains(&note(&pb, &pa)));
    assert!(s.inbox.contains(&note(&pa, &pb)));
    for n in [A, B] {
        assert_eq!(s.core(n).whereis(&atom("x")), None);
    }
}

/// A clash resolved by rpc on a third node of the smaller side's partition.
#[test]
fn clash_resolved_by_rpc_on_partition_member() {
    let mut s = Sim::new(&[A, B, C]);
    s.block(A, C, true);
    s.block(B, C, true);
    s.connect(A, B);
    settle(&mut s);
    let pb = s.spawn(B);
    let pc = s.spawn(C);
    assert_eq!(
        register(&mut s, A, "y", &pb, beam_local_fun(A)),
        atom("yes")
    );
    assert_eq!(
        register(&mut s, C, "y", &pc, beam_local_fun(C)),
        atom("yes")
    );
    s.block(A, C, false);
    s.block(B, C, false);
    s.connect(A, C);
    settle(&mut s);
    assert_full_mesh(&s, &[A, B, C]);
    assert_eq!(s.kills, vec![pc]);
    for n in [A, B, C] {
        assert_eq!(s.core(n).whereis(&atom("y")), Some(&pb), "at {n}");
    }
}

/// prevent_overlapping_partitions: when a–b is lost, c (connected to both)
/// is told by both and disconnects both (global.erl handle_info lost_connection).
#[test]
fn lost_connection_removes_both_sides() {
    let mut s = Sim::new(&[A, B, C]);
    s.connect(A, B);
    s.connect(B, C);
    settle(&mut s);
    assert_full_mesh(&s, &[A, B, C]);
    s.block(A, B, true);
    s.disconnect(A, B);
    settle(&mut s);
    let lost: Vec<_> = s
        .log
        .iter()
        .filter(|(_, _, _, m)| m.tuple_tag() == Some("lost_connection"))
        .collect();
    assert!(lost.iter().any(|(f, _, t, _)| f == A && t == C));
    assert!(lost.iter().any(|(f, _, t, _)| f == B && t == C));
    assert!(!s.is_connected(C, A) && !s.is_connected(C, B));
    assert!(s.core(C).known().is_empty());
}

/// prevent_overlapping_partitions when a `remove_connection` overtakes a
/// `lost_connection`: c (losing b) has just sent `lost_connection` to a
/// when a's `remove_connection` (a heard from b first) reaches it. c
/// disconnects a as asked, but what c sent before still reaches a, as
/// with BEAM (`net_kernel:async_disconnect/1` runs after the send), so a
/// drops b too and every node ends up alone — the outcome recorded with
/// three BEAM nodes (`tests/integration/global_partitions.rs`). A
/// disconnect that lost c's `lost_connection` left a and b connected: seen
/// with the Rust node as c against OTP 29.
#[test]
fn lost_connection_sent_before_a_remove_connection_arrives() {
    let mut s = Sim::new(&[A, B, C]);
    s.connect(A, B);
    s.connect(B, C);
    settle(&mut s);
    assert_full_mesh(&s, &[A, B, C]);
    s.block(B, C, true);
    s.disconnect(B, C);
    let tag = |t: &'static str| move |m: &Term| m.tuple_tag() == Some(t);
    assert!(s.deliver_first(B, A, tag("lost_connection")));
    assert!(s.deliver_first(A, C, tag("remove_connection")));
    settle(&mut s);
    for (x, y) in [(A, B), (A, C), (B, C)] {
        assert!(!s.is_connected(x, y), "{x} and {y} still connected");
    }
    for n in [A, B, C] {
        assert!(
            s.core(n).known().is_empty(),
            "{n} knows {:?}",
            s.core(n).known()
        );
    }
}

/// global:sync() waits for in_sync from every connected node.
#[test]
fn sync_returns_after_sync() {
    let mut s = Sim::new(&[A, B]);
    s.connect(A, B);
    let t = s.api(A, ApiRequest::Sync { nodes: None });
    assert_eq!(s.api_reply(t), None);
    settle(&mut s);
    assert_eq!(s.api_reply(t), Some(&atom("ok")));
}

/// Register, re_register and unregister reach every node.
#[test]
fn register_reregister_unregister() {
    let mut s = Sim::new(&[A, B]);
    s.connect(A, B);
    settle(&mut s);
    let p = s.spawn(A);
    let q = s.spawn(B);
    assert_eq!(
        register(&mut s, A, "n", &p, Method::RandomExit.to_fun()),
        atom("yes")
    );
    let t = s.api(
        B,
        ApiRequest::ReRegister {
            name: atom("n"),
            pid: q.clone(),
            method: Method::RandomExit.to_fun(),
        },
    );
    settle(&mut s);
    assert_eq!(s.api_reply(t), Some(&atom("yes")));
    assert_eq!(s.core(A).whereis(&atom("n")), Some(&q));
    let t = s.api(A, ApiRequest::Unregister { name: atom("n") });
    settle(&mut s);
    assert_eq!(s.api_reply(t), Some(&atom("ok")));
    assert_eq!(s.core(B).whereis(&atom("n")), None);
}
