//! The core against a scripted OTP 25 peer: messages as recorded from real
//! OTP 25 nodes (a probe node joining cp2; the recording is not kept in the
//! repository, its messages are written out below), checked shape by shape.

use super::{Config, GlobalCore, Input, Output, Role, Target};
use crate::runtime::Dest;
use crate::term;
use crate::term::{Atom, Pid, Reference, Term, TermExt, atom, int, map};
use std::time::{Duration, Instant};

fn pid(node: &str, id: u32) -> Pid {
    Pid {
        node: Atom::from(node),
        id,
        serial: 0,
        creation: 1,
    }
}

fn core(now: Instant) -> GlobalCore {
    let mut n = 0;
    let cfg = Config {
        node: Atom::from("probe@127.0.0.1"),
        creation: 1,
        server: pid("probe@127.0.0.1", 40),
        locker: pid("probe@127.0.0.1", 41),
        registrar: pid("probe@127.0.0.1", 42),
        connect_all: true,
        prevent_overlapping_partitions: true,
        hostname: "elsewhere".into(),
        rng_seed: 1,
    };
    GlobalCore::new(
        cfg,
        now,
        Box::new(move || {
            n += 1;
            Reference {
                node: Atom::from("probe@127.0.0.1"),
                id: vec![n, 0, 0],
                creation: 1,
            }
        }),
    )
}

fn drain(c: &mut GlobalCore) -> Vec<Output> {
    std::iter::from_fn(|| c.poll_output()).collect()
}

fn cast_body(o: &Output) -> Option<&Term> {
    match o {
        Output::Send { msg, .. } => match msg.as_tuple() {
            Some([c, m]) if c.as_atom() == Some("$gen_cast") => Some(m),
            _ => None,
        },
        _ => None,
    }
}

#[test]
fn join_cp2_as_in_s4_probe() {
    let t0 = Instant::now();
    let mut c = core(t0);
    let cp2 = "cp2@127.0.0.1";
    let cp2_locker = pid(cp2, 77);
    // s4_probe.txt:162 — {nodeup, cp2, #{connection_id => 776613}}
    let nodeup = term!({nodeup, (atom(cp2)), (map(vec![(atom("connection_id"), int(776613))]))});
    c.handle(
        t0,
        Input::Message {
            to: Role::Server,
            msg: nodeup,
        },
    );
    let out = drain(&mut c);
    // s4_probe.txt:164 — {init_connect, {8, Tag}, probe, {locker, no_longer_a_pid, Known, Locker}}
    let init = cast_body(&out[0]).expect("init_connect cast");
    let [tag, vsn_tag, me, locker] = init.as_tuple().unwrap() else {
        panic!("{init:?}")
    };
    assert_eq!(tag.as_atom(), Some("init_connect"));
    assert_eq!(vsn_tag.elem(0).and_then(TermExt::as_i64), Some(8));
    let my_tag = vsn_tag.elem(1).unwrap().clone();
    assert_eq!(me.as_atom(), Some("probe@127.0.0.1"));
    assert_eq!(
        locker.elem(1).and_then(TermExt::as_atom),
        Some("no_longer_a_pid")
    );
    assert_eq!(locker.elem(3), Some(&Term::Pid(pid("probe@127.0.0.1", 41))));
    // s4_probe.txt:179/182 — cp2's init_connect and init_connect_ack.
    let his_tag = int(-576_460_752_303_423_477);
    let his_init = term!({:"$gen_cast", {init_connect, {8, (his_tag.clone())}, (atom(cp2)), {locker, no_longer_a_pid, (map(vec![])), (Term::Pid(cp2_locker.clone()))}}});
    c.handle(
        t0,
        Input::Message {
            to: Role::Server,
            msg: his_init,
        },
    );
    let ack = term!({init_connect_ack, (atom(cp2)), (my_tag.clone()), (his_tag.clone())});
    c.handle(
        t0,
        Input::Message {
            to: Role::Server,
            msg: ack,
        },
    );
    let out = drain(&mut c);
    // s4_probe.txt:198 — {init_connect_ack, probe, HisTag, MyTag}, a plain message.
    assert_eq!(
        out,
        vec![Output::SendNoConnect {
            from: Role::Server,
            node: Atom::from(cp2),
            msg: term!({init_connect_ack, :"probe@127.0.0.1", (his_tag.clone()), (my_tag.clone())}),
        }]
    );
    // s4_probe.txt:207–210 — 200 ms later the locker locks probe and cp2.
    assert_eq!(c.poll_timeout(), Some(t0 + Duration::from_millis(200)));
    let t1 = t0 + Duration::from_millis(200);
    c.handle_timeout(t1);
    let out = drain(&mut c);
    let lock_id =
        term!({global, [(Term::Pid(pid("probe@127.0.0.1", 41))), (Term::Pid(cp2_locker.clone()))]});
    assert!(out.iter().any(|o| matches!(o, Output::Monitor { role: Role::Locker, target: Target::Server(n), .. } if n.name == cp2)));
    let call = out
        .iter()
        .find_map(|o| match o {
            Output::Send {
                from: Role::Locker,
                to: Dest::Remote(name, node),
                msg,
            } if name.name == "global_name_server" && node.name == cp2 => Some(msg.clone()),
            _ => None,
        })
        .expect("set_lock call to cp2");
    assert_eq!(call.elem(2), Some(&term!({set_lock, (lock_id.clone())})));
    // cp2 says true (s4_probe.txt:215) → lock_set cast with cp2's tag (:217).
    let tag_ref = call.elem(1).and_then(|f| f.elem(1)).unwrap().clone();
    c.handle(
        t1,
        Input::Message {
            to: Role::Locker,
            msg: term!({(tag_ref), true}),
        },
    );
    let out = drain(&mut c);
    let ls = out
        .iter()
        .filter_map(cast_body)
        .find(|m| m.tuple_tag() == Some("lock_set"))
        .expect("lock_set");
    assert_eq!(
        ls,
        &term!({lock_set, (Term::Pid(pid("probe@127.0.0.1", 41))), true, [], (his_tag.clone())})
    );
    // cp2's lock_set and exchange (s4_probe.txt:238–239) → our exchange with cp2's tag (:244).
    let his_ls = term!({:"$gen_cast", {lock_set, (Term::Pid(cp2_locker)), true, [:"cp1@127.0.0.1"], (my_tag.clone())}});
    c.handle(
        t1,
        Input::Message {
            to: Role::Server,
            msg: his_ls,
        },
    );
    let out = drain(&mut c);
    let ex = out
        .iter()
        .filter_map(cast_body)
        .find(|m| m.tuple_tag() == Some("exchange"))
        .expect("exchange");
    assert_eq!(
        ex,
        &term!({exchange, :"probe@127.0.0.1", [], [], (his_tag)})
    );
}

/// The `prevent_overlapping_partitions` warnings print node names as
/// OTP's `~p` does (quoted atoms), so they read exactly like BEAM's:
/// `'global' at node 'r@127.0.0.1' requested disconnect from node
/// 'b2@127.0.0.1' in order to prevent overlapping partitions` (recorded
/// from OTP 25, 27 and 29; `tests/integration/global_partitions.rs`).
#[test]
fn pop_warnings_read_as_otp_logs_them() {
    assert_eq!(
        super::sync::pop_warning("r@127.0.0.1", "requested disconnect from", "b2@127.0.0.1"),
        "'global' at node 'r@127.0.0.1' requested disconnect from node 'b2@127.0.0.1' \
         in order to prevent overlapping partitions"
    );
    assert_eq!(
        super::sync::pop_warning("b1@127.0.0.1", "disconnected", "r@127.0.0.1"),
        "'global' at node 'b1@127.0.0.1' disconnected node 'r@127.0.0.1' \
         in order to prevent overlapping partitions"
    );
}
