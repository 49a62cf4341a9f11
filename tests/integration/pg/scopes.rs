//! Scopes that run on only some nodes, start late, stop and restart.

use super::cluster::{PgNode, T, assert_quiet, beam, expect, g, rust, wait_agree};
use crate::support::{Epmd, require_otp, unique_name, wait_until};

/// `s1` runs on a BEAM node and the Rust node, not on a second BEAM node,
/// which starts it later; the Rust node's `s1` stops (its members vanish
/// everywhere) and starts again; `s2` runs on the Rust node only (BEAM
/// nodes drop its `discover`).
#[test]
fn scopes_on_some_nodes() {
    let Some(otp) = require_otp() else { return };
    let epmd = Epmd::start().unwrap();
    let id = unique_name("pgs");
    let a = beam(&epmd, &otp, &format!("{id}_a"));
    let b = beam(&epmd, &otp, &format!("{id}_b"));
    let r = rust(&epmd, &format!("{id}_r"));
    let (s1, s2) = ("s1", "s2");
    a.start_scope(s1);
    r.start_scope(s1);
    r.start_scope(s2);
    let grp = g("g");
    let (a1, b1, r1) = (a.spawn_member(), b.spawn_member(), r.spawn_member());
    a.join(s1, &grp, &[&a1]);
    r.join(s1, &grp, &[&r1]);
    r.join(s2, &grp, &[&r1]);
    assert!(a.ping(b.name()) && r.ping(a.name()));
    wait_until("a full mesh", T, || {
        r.nodes().len() == 2 && b.nodes().len() == 2
    })
    .unwrap();
    wait_agree(&[&a, &r], s1, &expect(&[(&grp, &[&a1, &r1])]));
    wait_agree(&[&r], s2, &expect(&[(&grp, &[&r1])]));
    assert_eq!(b.groups(s1), None, "b does not run s1");
    assert!(a.members(s2, &grp).is_empty());

    // b starts s1 late: its init discovers the others.
    b.start_scope(s1);
    b.join(s1, &grp, &[&b1]);
    let all = [&a, &b, &r];
    wait_agree(&all, s1, &expect(&[(&grp, &[&a1, &b1, &r1])]));

    // The Rust scope stops: its members vanish; it starts again and
    // learns the others' members; its new members reach them.
    r.stop_scope(s1);
    wait_agree(&[&a, &b], s1, &expect(&[(&grp, &[&a1, &b1])]));
    assert_eq!(r.groups(s1), None);
    r.start_scope(s1);
    wait_agree(&all, s1, &expect(&[(&grp, &[&a1, &b1])]));
    r.join(s1, &grp, &[&r1]);
    wait_agree(&all, s1, &expect(&[(&grp, &[&a1, &b1, &r1])]));

    // A BEAM scope stops and starts again: the Rust node follows.
    a.stop_scope(s1);
    wait_agree(&[&b, &r], s1, &expect(&[(&grp, &[&b1, &r1])]));
    a.start_scope(s1);
    wait_agree(&all, s1, &expect(&[(&grp, &[&b1, &r1])]));
    assert_quiet(&all);
}

/// The `distro` binary with `-kernel start_pg true` runs the default scope:
/// a BEAM node's members show in it, over rpc.
#[test]
fn the_binary_starts_the_default_scope() {
    use crate::support::{DEFAULT_COOKIE, DistroNode, DistroOpts, eval_term, unique_node};
    let Some(otp) = require_otp() else { return };
    let epmd = Epmd::start().unwrap();
    let name = unique_node("pgbin");
    let d = DistroNode::start(
        &epmd,
        DistroOpts::new().args([
            "-name",
            &name,
            "-setcookie",
            DEFAULT_COOKIE,
            "-kernel",
            "start_pg",
            "true",
        ]),
    )
    .unwrap();
    d.wait_for_log("distribution started", T).unwrap();
    let a = beam(&epmd, &otp, &unique_name("pgbin_a"));
    let a1 = a.spawn_member();
    a.join(super::cluster::PG, &g("g"), &[&a1]);
    assert!(a.ping(&name));
    let b = a.as_beam().unwrap();
    let q = format!("rpc:call('{name}', pg, get_members, [g])");
    wait_until("the binary's pg sees the BEAM member", T, || {
        eval_term(b, &q) == distro::term::list(vec![distro::term::Term::Pid(a1.clone())])
    })
    .unwrap();
    assert_quiet(&[&a]);
}
