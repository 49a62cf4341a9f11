//! Name conflicts resolved by `global:random_notify_name/3` and
//! `global:notify_all_name/3` when two partitions that registered the
//! same name merge, with the Rust node on either side, as the resolving
//! node and as the node that runs `global:resolve_it/4` for it — against
//! the same scenario with BEAM nodes only.
//!
//! Reference: `lib/kernel/src/global.erl` `exchange_names/4` (the node
//! with the smaller name resolves, by `rpc:call(node(MyPid), global,
//! resolve_it, [MyMethod, Name, HisPid, MyPid])`), `random_notify_name/3`
//! (keeps the pid on the smaller node, sends `{global_name_conflict,
//! Name}` to the other), `notify_all_name/3` (unregisters the name and
//! sends `{global_name_conflict, Name, OtherPid}` to both).
//!
//! Recorded with BEAM nodes only (OTP 25, 27 and 29): every loser gets
//! exactly one such message, nobody is killed, and `global:sync()` returns
//! on every node after the merge. Node names decide who resolves and who
//! wins, so they carry a prefix: `a_…` < `m_…` < `z_…`.

use crate::support::{AnyNode, Epmd, Otp, prefixed_unique_name, require_otp, wait_until};
use distro::kernel::global::Method;
use distro::term;
use distro::term::{Pid, Term, atom};
use std::time::Duration;

/// How long polling waits may take.
const T: Duration = Duration::from_secs(30);

/// The registered name.
const NAME: &str = "clash";

/// What the holders must have received once the partitions merged.
fn expected(method: Method, winner_side: &Pid, loser_side: &Pid) -> (Vec<Term>, Vec<Term>) {
    match method {
        // The pid on the smaller node keeps the name; only the other hears.
        Method::RandomNotify => (vec![], vec![term!({global_name_conflict, (atom(NAME))})]),
        // Both lose the name and hear of the other pid.
        Method::NotifyAll => (
            vec![term!({global_name_conflict, (atom(NAME)), (Term::Pid(loser_side.clone()))})],
            vec![term!({global_name_conflict, (atom(NAME)), (Term::Pid(winner_side.clone()))})],
        ),
        m => panic!("no notification expectation for {m:?}"),
    }
}

/// After the merge: messages as OTP sends them, both holders alive, the
/// name on the smaller node's pid (random_notify) or nowhere (notify_all)
/// on every node, and `global:sync()` returning everywhere.
fn check_outcome(
    method: Method,
    all: &[&AnyNode],
    small: (&AnyNode, &Pid),
    large: (&AnyNode, &Pid),
    label: &str,
) {
    for n in all {
        assert!(n.sync(None, T), "{label}: sync on {}", n.describe());
    }
    let (want_small, want_large) = expected(method, small.1, large.1);
    for (holder, want) in [(small.0, &want_small), (large.0, &want_large)] {
        wait_until(
            &format!("{label}: {}'s holder hears", holder.describe()),
            T,
            || holder.holder_messages().len() >= want.len(),
        )
        .unwrap();
        assert!(holder.holder_alive(), "{label}: {}", holder.describe());
    }
    let owner = match method {
        Method::RandomNotify => Some(small.1.clone()),
        _ => None,
    };
    for n in all {
        wait_until(&format!("{label}: the name on {}", n.describe()), T, || {
            n.whereis(NAME) == owner
        })
        .unwrap_or_else(|e| panic!("{e}: {:?}", n.whereis(NAME)));
    }
    // Once more, after the syncs: exactly these messages, nothing else.
    for n in all {
        assert!(n.sync(None, T), "{label}: sync on {}", n.describe());
    }
    assert_eq!(
        small.0.holder_messages(),
        want_small,
        "{label}: winner side"
    );
    assert_eq!(large.0.holder_messages(), want_large, "{label}: loser side");
}

/// Two nodes `a_…` (resolves) and `z_…`, in sync, then disconnected; each
/// registers the name with `method`; `z_…` pings `a_…` again.
fn two_nodes(otp: &Otp, method: Method, rust_a: bool, rust_z: bool) {
    let label = format!(
        "{method:?}, two nodes, Rust {}",
        match (rust_a, rust_z) {
            (true, _) => "resolves",
            (_, true) => "is resolved",
            _ => "nowhere",
        }
    );
    let epmd = Epmd::start().unwrap();
    let a = AnyNode::start(&epmd, otp, &prefixed_unique_name("a", "c"), rust_a);
    let z = AnyNode::start(&epmd, otp, &prefixed_unique_name("z", "c"), rust_z);
    assert!(z.ping(a.name()));
    for (n, other) in [(&a, &z), (&z, &a)] {
        wait_until(&format!("{label}: {} synced", n.describe()), T, || {
            n.known() == [other.name()]
        })
        .unwrap();
        assert!(n.sync(None, T), "{label}");
    }
    // A del_lock still in flight would reconnect at once (see global.rs).
    for n in [&a, &z] {
        wait_until("no locks", T, || n.lock_resources().is_empty()).unwrap();
    }
    assert!(a.disconnect(z.name()));
    for n in [&a, &z] {
        wait_until(&format!("{label}: {} alone", n.describe()), T, || {
            n.nodes().is_empty() && n.known().is_empty()
        })
        .unwrap();
    }
    let pa = a.register_holder(NAME, method).expect("registered on a");
    let pz = z.register_holder(NAME, method).expect("registered on z");
    assert!(z.ping(a.name()));
    wait_until(&format!("{label}: merged"), T, || {
        a.known() == [z.name()] && z.known() == [a.name()]
    })
    .unwrap();
    check_outcome(method, &[&a, &z], (&a, &pa), (&z, &pz), &label);
}

/// Where the Rust node sits in [`three_nodes`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum RustAs {
    Nowhere,
    /// `a_…`: resolves by rpc to `m_…`'s `global:resolve_it/4`.
    Resolver,
    /// `m_…`: holds the name; runs `global:resolve_it/4` for `a_…`.
    Holder,
}

/// `a_…` and `m_…` in one partition, the name registered on `m_…`;
/// `z_…` alone with the same name; `z_…` pings `a_…`. `a_…` resolves by
/// running `resolve_it` on `m_…`, whose pid wins random_notify.
fn three_nodes(otp: &Otp, method: Method, rust: RustAs) {
    let label = format!("{method:?}, three nodes, Rust {rust:?}");
    let epmd = Epmd::start().unwrap();
    let a = AnyNode::start(
        &epmd,
        otp,
        &prefixed_unique_name("a", "c"),
        rust == RustAs::Resolver,
    );
    let m = AnyNode::start(
        &epmd,
        otp,
        &prefixed_unique_name("m", "c"),
        rust == RustAs::Holder,
    );
    let z = AnyNode::start(&epmd, otp, &prefixed_unique_name("z", "c"), false);
    assert!(m.ping(a.name()));
    assert!(m.sync(None, T) && a.sync(None, T), "{label}");
    let pm = m.register_holder(NAME, method).expect("registered on m");
    let pz = z.register_holder(NAME, method).expect("registered on z");
    wait_until(&format!("{label}: a_ sees m_'s name"), T, || {
        a.whereis(NAME).as_ref() == Some(&pm)
    })
    .unwrap();
    assert!(z.ping(a.name()));
    let all = [&a, &m, &z];
    for n in all {
        wait_until(&format!("{label}: {} in the mesh", n.describe()), T, || {
            n.nodes().len() == 2 && n.known().len() == 2
        })
        .unwrap();
    }
    check_outcome(method, &all, (&m, &pm), (&z, &pz), &label);
}

/// random_notify_name/3 between two nodes: all BEAM, Rust resolving, Rust resolved.
#[test]
fn random_notify_two_nodes() {
    let Some(otp) = require_otp() else { return };
    for (ra, rz) in [(false, false), (true, false), (false, true)] {
        two_nodes(&otp, Method::RandomNotify, ra, rz);
    }
}

/// notify_all_name/3 between two nodes: all BEAM, Rust resolving, Rust resolved.
#[test]
fn notify_all_two_nodes() {
    let Some(otp) = require_otp() else { return };
    for (ra, rz) in [(false, false), (true, false), (false, true)] {
        two_nodes(&otp, Method::NotifyAll, ra, rz);
    }
}

/// random_notify_name/3 with `resolve_it` run by rpc: all BEAM, from Rust, on Rust.
#[test]
fn random_notify_three_nodes() {
    let Some(otp) = require_otp() else { return };
    for rust in [RustAs::Nowhere, RustAs::Resolver, RustAs::Holder] {
        three_nodes(&otp, Method::RandomNotify, rust);
    }
}

/// notify_all_name/3 with `resolve_it` run by rpc: all BEAM, from Rust, on Rust.
#[test]
fn notify_all_three_nodes() {
    let Some(otp) = require_otp() else { return };
    for rust in [RustAs::Nowhere, RustAs::Resolver, RustAs::Holder] {
        three_nodes(&otp, Method::NotifyAll, rust);
    }
}
