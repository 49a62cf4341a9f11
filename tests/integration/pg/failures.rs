//! Members dying, nodes dying, a partition and its heal.

use super::cluster::{
    Event, PG, PgNode, T, assert_quiet, beam, beam_with, expect, g, rust, rust_with, wait_agree,
    wait_events,
};
use crate::support::{AnyNode, Epmd, require_otp, unique_name, wait_until};
use distro::term::{Pid, TermExt};

fn ev(join: bool, group: &distro::term::Term, p: &Pid) -> Event {
    (join, group.clone(), p.clone())
}

/// Members die on both sides; scope watchers on the BEAM and the Rust node
/// (`monitor_scope`) and group watchers (`monitor`) see the same joins and
/// leaves, and every node agrees after each step.
#[test]
fn member_death_and_monitors() {
    let Some(otp) = require_otp() else { return };
    let epmd = Epmd::start().unwrap();
    let id = unique_name("pgd");
    let a = beam(&epmd, &otp, &format!("{id}_a"));
    let r = rust(&epmd, &format!("{id}_r"));
    assert!(r.ping(a.name()));
    let (g1, g2) = (g("g1"), g("g2"));
    let (a1, a2) = (a.spawn_member(), a.spawn_member());
    let (r1, r2) = (r.spawn_member(), r.spawn_member());
    a.join(PG, &g1, &[&a1]);
    r.join(PG, &g1, &[&r1]);
    let all = [&a, &r];
    wait_agree(&all, PG, &expect(&[(&g1, &[&a1, &r1])]));

    let (wa, init_a) = a.watch(PG, None);
    let (wr, init_r) = r.watch(PG, None);
    let (ga, members_a) = a.watch(PG, Some(&g2));
    let (gr, members_r) = r.watch(PG, Some(&g2));
    assert_eq!(init_a.as_list().is_none(), init_r.as_list().is_none());
    assert!(members_a.is_nil() && members_r.is_nil());

    // Joins on both sides, then each side's members die.
    a.join(PG, &g2, &[&a2]);
    r.join(PG, &g2, &[&r2, &r2]);
    wait_agree(
        &all,
        PG,
        &expect(&[(&g1, &[&a1, &r1]), (&g2, &[&a2, &r2, &r2])]),
    );
    r.kill(&r2);
    a.kill(&a1);
    wait_agree(&all, PG, &expect(&[(&g1, &[&r1]), (&g2, &[&a2])]));
    r.stop_member(&r1);
    a.kill(&a2);
    wait_agree(&all, PG, &expect(&[]));

    let scope_events = vec![
        ev(true, &g2, &a2),
        ev(true, &g2, &r2),
        ev(true, &g2, &r2),
        ev(false, &g2, &r2),
        ev(false, &g2, &r2),
        ev(false, &g1, &a1),
        ev(false, &g1, &r1),
        ev(false, &g2, &a2),
    ];
    wait_events(&a, &wa, &scope_events);
    wait_events(&r, &wr, &scope_events);
    let group_events: Vec<Event> = scope_events
        .iter()
        .filter(|(_, grp, _)| *grp == g2)
        .cloned()
        .collect();
    wait_events(&a, &ga, &group_events);
    wait_events(&r, &gr, &group_events);
    assert_quiet(&all);
}

/// A BEAM node is killed, then the Rust node stops: the others drop their
/// members. A new Rust node under the same name joins the scope again.
/// (Without `prevent_overlapping_partitions`: with it, global on the
/// surviving BEAM node warns that it disconnects the dead one, which has
/// nothing to do with pg.)
#[test]
fn node_death() {
    let Some(otp) = require_otp() else { return };
    let epmd = Epmd::start().unwrap();
    let id = unique_name("pgn");
    let a = beam_with(&epmd, &otp, &format!("{id}_a"), false);
    let b = beam_with(&epmd, &otp, &format!("{id}_b"), false);
    let r = rust_with(&epmd, &format!("{id}_r"), false);
    assert!(a.ping(b.name()) && r.ping(a.name()));
    wait_until("a full mesh", T, || {
        r.nodes().len() == 2 && b.nodes().len() == 2
    })
    .unwrap();
    let grp = g("workers");
    let (a1, b1, r1) = (a.spawn_member(), b.spawn_member(), r.spawn_member());
    a.join(PG, &grp, &[&a1]);
    b.join(PG, &grp, &[&b1]);
    r.join(PG, &grp, &[&r1]);
    wait_agree(&[&a, &b, &r], PG, &expect(&[(&grp, &[&a1, &b1, &r1])]));

    if let AnyNode::Beam(bb) = &b {
        bb.kill();
    }
    wait_agree(&[&a, &r], PG, &expect(&[(&grp, &[&a1, &r1])]));

    let rust_name = r.name().to_owned();
    drop(r);
    wait_agree(&[&a], PG, &expect(&[(&grp, &[&a1])]));

    let short = rust_name.split('@').next().unwrap();
    // The old node's EPMD registration goes when EPMD sees its socket close.
    wait_until("EPMD forgets the stopped node", T, || {
        epmd.names()
            .is_ok_and(|ns| ns.iter().all(|(n, _)| n != short))
    })
    .unwrap();
    let r2 = rust_with(&epmd, short, false);
    let m = r2.spawn_member();
    r2.join(PG, &grp, &[&m]);
    assert!(r2.ping(a.name()));
    wait_agree(&[&a, &r2], PG, &expect(&[(&grp, &[&a1, &m])]));
    assert_quiet(&[&a, &r2]);
}

/// `erlang:disconnect_node/1` from the BEAM side, then from the Rust side:
/// each half keeps only its own members, changes membership while apart,
/// and after the heal (a ping) both agree again.
#[test]
fn partition_and_heal() {
    let Some(otp) = require_otp() else { return };
    let epmd = Epmd::start().unwrap();
    let id = unique_name("pgp");
    let a = beam(&epmd, &otp, &format!("{id}_a"));
    let r = rust(&epmd, &format!("{id}_r"));
    assert!(r.ping(a.name()));
    let grp = g("g");
    let (a1, a2) = (a.spawn_member(), a.spawn_member());
    let (r1, r2) = (r.spawn_member(), r.spawn_member());
    a.join(PG, &grp, &[&a1]);
    r.join(PG, &grp, &[&r1]);
    let all = [&a, &r];
    wait_agree(&all, PG, &expect(&[(&grp, &[&a1, &r1])]));

    for (cut, heal) in [(&a, &r), (&r, &a)] {
        assert!(cut.disconnect(heal.name()));
        wait_until("the partition", T, || {
            a.nodes().is_empty() && r.nodes().is_empty()
        })
        .unwrap();
        wait_agree(&[&a], PG, &vec![(grp.clone(), a.local_members(PG, &grp))]);
        wait_agree(&[&r], PG, &vec![(grp.clone(), r.local_members(PG, &grp))]);
        // Changes on both sides while apart.
        a.join(PG, &grp, &[&a2]);
        r.join(PG, &grp, &[&r2]);
        assert!(a.leave(PG, &grp, &[&a2]));
        assert!(heal.ping(cut.name()));
        let want = [a.local_members(PG, &grp), r.local_members(PG, &grp)].concat();
        wait_agree(&all, PG, &vec![(grp.clone(), want)]);
    }
    assert_quiet(&all);
}
