//! The pg scenarios (see the parent module).

use super::cluster::{PG, PgNode, T, assert_quiet, beam, expect, g, rust, sorted_pids, wait_agree};
use crate::support::{AnyNode, Epmd, Otp, eval_term, require_otp, unique_name, wait_until};
use distro::term;
use distro::term::{Pid, Term, TermExt, atom, binary};

/// On OTP 29, the BEAM scope speaks version 1 (`update`) to the Rust scope:
/// `data_publisher`'s state keeps `{Ref, Version, LocalData}` per peer.
fn assert_peer_version(b: &AnyNode, scope: &str, rust_scope: &Pid, otp: &Otp) {
    let Some(beam) = b.as_beam() else { return };
    let lit = crate::support::rust_node::pid_literal(rust_scope);
    let v = if otp.number() >= 29 {
        eval_term(
            beam,
            &format!("element(2, maps:get({lit}, element(8, sys:get_state({scope}))))"),
        )
    } else {
        // pg.erl's #state.remote: #{Peer => {MRef, Groups}}; no versions.
        eval_term(
            beam,
            &format!("maps:is_key({lit}, element(4, sys:get_state({scope})))"),
        )
    };
    let want = if otp.number() >= 29 {
        distro::term::int(1)
    } else {
        atom("true")
    };
    assert_eq!(v, want, "{} knows the Rust scope as a peer", b.describe());
}

/// Two BEAM nodes and a Rust node, each with members joined before the
/// nodes connect (so `sync` carries them) and after (so `join` does);
/// groups of any term, a process joined twice, leaves, `not_joined`, and
/// the pg functions answered over rpc by the Rust node.
#[test]
fn mixed_membership() {
    let Some(otp) = require_otp() else { return };
    let epmd = Epmd::start().unwrap();
    let id = unique_name("pgm");
    let a = beam(&epmd, &otp, &format!("{id}_a"));
    let b = beam(&epmd, &otp, &format!("{id}_b"));
    let r = rust(&epmd, &format!("{id}_r"));
    let (g1, g2, g3) = (g("g1"), g("g2"), g("g3"));
    let room = term!({room, (binary(b"lobby".to_vec()))});

    let (a1, a2) = (a.spawn_member(), a.spawn_member());
    let b1 = b.spawn_member();
    let (r1, r2) = (r.spawn_member(), r.spawn_member());
    a.join(PG, &g1, &[&a1, &a2]);
    b.join(PG, &g2, &[&b1]);
    r.join(PG, &g1, &[&r1, &r2]);
    r.join(PG, &room, &[&r1]);
    let scope_pids: Vec<Option<Pid>> = [&a, &b].iter().map(|n| n.scope_pid(PG)).collect();

    assert!(a.ping(b.name()));
    assert!(r.ping(a.name()));
    wait_until("a full mesh", T, || {
        r.nodes().len() == 2 && b.nodes().len() == 2
    })
    .unwrap();
    let all = [&a, &b, &r];
    wait_agree(
        &all,
        PG,
        &expect(&[(&g1, &[&a1, &a2, &r1, &r2]), (&g2, &[&b1]), (&room, &[&r1])]),
    );

    // Joins once connected: join messages (update on OTP 29).
    b.join(PG, &g1, &[&b1]);
    r.join(PG, &g1, &[&r1]);
    r.join(PG, &g3, &[&r2]);
    a.join(PG, &room, &[&a2]);
    wait_agree(
        &all,
        PG,
        &expect(&[
            (&g1, &[&a1, &a2, &b1, &r1, &r1, &r2]),
            (&g2, &[&b1]),
            (&g3, &[&r2]),
            (&room, &[&r1, &a2]),
        ]),
    );

    // Leaves: one of the two joins of r1, a whole group, not_joined.
    assert!(r.leave(PG, &g1, &[&r1]));
    assert!(r.leave(PG, &g3, &[&r2]));
    assert!(!r.leave(PG, &g3, &[&r2]), "r2 left g3 already");
    assert!(a.leave(PG, &g1, &[&a1]));
    assert!(b.leave(PG, &g2, &[&b1]));
    let now = expect(&[(&g1, &[&a2, &b1, &r1, &r2]), (&room, &[&r1, &a2])]);
    wait_agree(&all, PG, &now);

    // The pg functions over rpc, answered by the Rust node.
    let beam_a = a.as_beam().unwrap();
    let via_rpc = eval_term(
        beam_a,
        &format!(
            "lists:sort(rpc:call('{}', pg, get_members, [g1]))",
            r.name()
        ),
    );
    let want: Vec<Term> = sorted_pids(now[0].1.clone())
        .into_iter()
        .map(Term::Pid)
        .collect();
    assert_eq!(via_rpc, distro::term::list(want));
    let local = eval_term(
        beam_a,
        &format!(
            "lists:sort(rpc:call('{}', pg, get_local_members, [pg, g1]))",
            r.name()
        ),
    );
    let want: Vec<Term> = sorted_pids(vec![r1.clone(), r2.clone()])
        .into_iter()
        .map(Term::Pid)
        .collect();
    assert_eq!(local, distro::term::list(want));
    let groups = eval_term(
        beam_a,
        &format!("lists:sort(rpc:call('{}', pg, which_groups, []))", r.name()),
    );
    let mut want = vec![g1.clone(), room.clone()];
    want.sort_by(distro::term::cmp_terms);
    assert_eq!(groups, distro::term::list(want));
    let undef = eval_term(
        beam_a,
        &format!("rpc:call('{}', pg, get_members, [nope, g1])", r.name()),
    );
    assert!(
        undef.is_nil(),
        "a scope that does not run has no members: {undef:?}"
    );

    // join/leave over rpc: Rust processes only, like pg:join/3's ensure_local.
    let r2_lit = crate::support::rust_node::pid_literal(&r2);
    let rpc = |f: &str, who: &str| {
        beam_a
            .eval(&format!("rpc:call('{}', pg, {f}, [g4, {who}]).", r.name()))
            .unwrap()
    };
    assert_eq!(rpc("join", &r2_lit), "ok");
    wait_agree(
        &all,
        PG,
        &[now.clone(), expect(&[(&g("g4"), &[&r2])])].concat(),
    );
    assert!(rpc("join", "self()").starts_with("{badrpc,{'EXIT',{{nolocal,"));
    assert_eq!(rpc("leave", &r2_lit), "ok");
    assert_eq!(rpc("leave", &r2_lit), "not_joined");
    wait_agree(&all, PG, &now);

    let rust_scope = r.scope_pid(PG).unwrap();
    for n in [&a, &b] {
        assert_peer_version(n, PG, &rust_scope, &otp);
    }
    let after: Vec<Option<Pid>> = [&a, &b].iter().map(|n| n.scope_pid(PG)).collect();
    assert_eq!(scope_pids, after, "no BEAM scope restarted");
    assert_quiet(&all);
}

/// One Rust node between an OTP 25 node and an OTP 29 node that are not
/// connected to each other (`-connect_all false`; OTP 29's scope would
/// crash OTP 25's with its `{discover, Pid, 1}`): the Rust scope speaks
/// version 0 to one and version 1 to the other at the same time. Runs
/// with `DISTRO_OTP=29` (it needs OTP 25 too).
#[test]
fn one_rust_scope_speaks_to_otp25_and_otp29() {
    let Some(otp) = require_otp() else { return };
    if otp.number() != 29 {
        return;
    }
    let old = Otp::release(25);
    if let Err(e) = old.probe() {
        assert!(
            !crate::support::otp::in_ci(),
            "OTP 25 is required under CI: {e}"
        );
        eprintln!("skipping: no OTP 25 ({e})");
        return;
    }
    let epmd = Epmd::start().unwrap();
    let id = unique_name("pgx");
    let no_mesh = ["-kernel", "start_pg", "true", "-connect_all", "false"];
    let a = AnyNode::beam(&epmd, &old, &format!("{id}_a25"), &no_mesh);
    let c = AnyNode::beam(&epmd, &otp, &format!("{id}_c29"), &no_mesh);
    let mut k = distro::kernel::KernelConfig {
        start_pg: true,
        ..Default::default()
    };
    k.global.connect_all = false;
    let r = AnyNode::rust(&epmd, &format!("{id}_r"), k);
    let grp = g("g");
    let (a1, c1, r1) = (a.spawn_member(), c.spawn_member(), r.spawn_member());
    a.join(PG, &grp, &[&a1]);
    c.join(PG, &grp, &[&c1]);
    r.join(PG, &grp, &[&r1]);
    assert!(r.ping(a.name()) && r.ping(c.name()));
    wait_agree(&[&r], PG, &expect(&[(&grp, &[&a1, &c1, &r1])]));
    wait_agree(&[&a], PG, &expect(&[(&grp, &[&a1, &r1])]));
    wait_agree(&[&c], PG, &expect(&[(&grp, &[&c1, &r1])]));
    assert_eq!(
        a.nodes(),
        vec![r.name().to_owned()],
        "OTP 25 and 29 stay apart"
    );
    let rust_scope = r.scope_pid(PG).unwrap();
    assert_peer_version(&a, PG, &rust_scope, &old);
    assert_peer_version(&c, PG, &rust_scope, &otp);

    let r2 = r.spawn_member();
    r.join(PG, &grp, &[&r2]);
    r.kill(&r1);
    a.stop_member(&a1);
    wait_agree(&[&r], PG, &expect(&[(&grp, &[&c1, &r2])]));
    wait_agree(&[&a], PG, &expect(&[(&grp, &[&r2])]));
    wait_agree(&[&c], PG, &expect(&[(&grp, &[&c1, &r2])]));
    assert_quiet(&[&a, &c, &r]);
}

/// Two Rust nodes and a BEAM node: the Rust scopes speak to each other
/// (version 0: distro does not advertise OTP 28's flags) and to the BEAM
/// scope; a member's death reaches everyone.
#[test]
fn two_rust_nodes_and_a_beam_node() {
    let Some(otp) = require_otp() else { return };
    let epmd = Epmd::start().unwrap();
    let id = unique_name("pg2r");
    let a = beam(&epmd, &otp, &format!("{id}_a"));
    let r = rust(&epmd, &format!("{id}_r"));
    let s = rust(&epmd, &format!("{id}_s"));
    assert!(r.ping(a.name()) && s.ping(a.name()));
    wait_until("a full mesh", T, || {
        r.nodes().len() == 2 && s.nodes().len() == 2
    })
    .unwrap();
    let grp = g("g");
    let (a1, r1, s1) = (a.spawn_member(), r.spawn_member(), s.spawn_member());
    a.join(PG, &grp, &[&a1]);
    r.join(PG, &grp, &[&r1, &r1]);
    s.join(PG, &grp, &[&s1]);
    let all = [&a, &r, &s];
    wait_agree(&all, PG, &expect(&[(&grp, &[&a1, &r1, &r1, &s1])]));
    r.kill(&r1);
    assert!(s.leave(PG, &grp, &[&s1]));
    wait_agree(&all, PG, &expect(&[(&grp, &[&a1])]));
    assert_quiet(&all);
}
