//! The seed walkthrough across containers (hosts one, two, three; configs
//! `erl_interop/config/sname/*.config`, restart time 5 s):
//!
//! 1. one starts first, two and three after it (as `docker compose up`
//!    orders them): the app runs at one, `Distro.DistroCal.add(4, 5)` is 9;
//! 2. `docker kill one`: after the restart time the app runs at the
//!    lighter of two and three (dist_ac's weight is the number of running
//!    applications: a `distro` node runs kernel and stdlib, an Elixir node
//!    five), ties to the smaller name three; add is 9;
//! 3. `docker start one`: one takes the app over
//!    (`{:takeover, :three@three}`), the other instance stops.
//!
//! With `distro` as one, two or three, and with Elixir nodes only (OTP's
//! own outcome); all four at once, times printed side by side.

use super::*;
use crate::support::docker::{Kind, Naming};
use std::time::Instant;

const APP: &str = "distro";

/// What a run of the story measured.
pub(super) struct SeedOutcome {
    /// `docker kill one` → the app runs at the heir only.
    pub(super) failover: Duration,
    /// `docker start one` → the app runs at one only.
    pub(super) takeover: Duration,
}

/// Runs the story with `distro` at `distro_at` (or nowhere) and the BEAM
/// nodes one, two, three on `releases`.
pub(super) fn story(label: &str, distro_at: Option<&str>, releases: [u32; 3]) -> SeedOutcome {
    let mut cl = DockerCluster::new(label, Naming::Short, &[]).expect("cluster");
    let all = ["one", "two", "three"];
    let kind = |n: &str| kind_at(distro_at, n, Kind::Elixir);
    cl.start("one", kind("one"), releases[0]).expect("one");
    // Like docker compose: two and three start once one is registered
    // (one waits for them, sync_nodes_optional).
    cl.wait_registered("one").unwrap();
    cl.start("two", kind("two"), releases[1]).expect("two");
    cl.start("three", kind("three"), releases[2])
        .expect("three");
    cl.wait_up("two", APP).unwrap();
    cl.wait_up("three", APP).unwrap();
    cl.wait_up("one", APP).unwrap();

    // 1. the app at one; add(4, 5) from a BEAM node, through the global name.
    cl.until_only("distro", "one", &all, "boot").unwrap();
    cl.until_settled(&all, "boot").unwrap();
    expect_log(&cl, "one", "Distro application in :normal mode");
    let caller = |among: &[&'static str]| -> &'static str {
        among
            .iter()
            .copied()
            .find(|n| distro_at != Some(*n))
            .expect("a BEAM node")
    };
    let add = |at: &str| cl.rpc(at, "'Elixir.Distro.DistroCal'", "add", "[4, 5]");
    let whereis = |at: &str| cl.rpc(at, "global", "whereis_name", "['Elixir.Distro.DistroCal']");
    // two and three learn the name once global has synced them with one.
    cl.ctl()
        .eval_until_match(
            "{rpc:call('two@two', global, whereis_name, ['Elixir.Distro.DistroCal'], 5000), \
              rpc:call('three@three', global, whereis_name, ['Elixir.Distro.DistroCal'], 5000)}.",
            LONG,
            |v| {
                v.starts_with("{<") && v.matches('<').count() == 2 && {
                    let (a, b) = v.split_once(',').unwrap_or_default();
                    a.trim_start_matches('{') == b.trim_end_matches('}')
                }
            },
        )
        .unwrap_or_else(|e| panic!("{label}: {e:#}\n{}", cl.tails()));
    assert_eq!(add(caller(&["two", "three"])), "9", "{}", cl.tails());
    let pid = whereis("two");
    assert!(pid.starts_with('<'), "{pid}\n{}", cl.tails());

    // 2. one killed: the lighter of two and three after the restart time.
    let heir = if distro_at == Some("two") {
        "two"
    } else {
        "three"
    };
    let t0 = Instant::now();
    cl.kill("one").unwrap();
    cl.until_only("distro", heir, &["two", "three"], "one killed")
        .unwrap();
    let failover = t0.elapsed();
    expect_log(&cl, heir, "Distro application in :normal mode");
    assert_eq!(add(caller(&["two", "three"])), "9", "{}", cl.tails());
    assert!(
        failover >= Duration::from_millis(4900),
        "failed over before the 5 s restart time: {failover:?}"
    );

    // 3. one back: takeover from the heir.
    let t1 = Instant::now();
    cl.restart("one").unwrap();
    cl.wait_up("one", APP).unwrap();
    cl.until_only("distro", "one", &all, "one restarted")
        .unwrap();
    let takeover = t1.elapsed();
    let heir_node = cl.node_name(heir);
    expect_log(
        &cl,
        "one",
        &format!("Distro application in {{:takeover, :{heir_node}}} mode"),
    );
    expect_log(&cl, heir, "Application distro exited");
    assert_eq!(add(caller(&["two", "three", "one"])), "9", "{}", cl.tails());
    SeedOutcome { failover, takeover }
}

/// distro as one, two and three, and Elixir only, side by side.
#[test]
fn seed_walkthrough_with_distro_in_each_role() {
    let Some(otp) = setup() else { return };
    let r = otp.number();
    let roles = [None, Some("one"), Some("two"), Some("three")];
    let outcomes = in_parallel(&roles, |at| {
        let label = format!("seed, distro as {}", at.unwrap_or("none"));
        story(&label, *at, [r, r, r])
    });
    for (at, o) in roles.iter().zip(&outcomes) {
        eprintln!(
            "{} seed walkthrough, {:<18} kill one -> app at the heir {}, start one -> takeover {}",
            tag(&otp),
            match at {
                None => "all Elixir:".to_owned(),
                Some(n) => format!("distro as {n}:"),
            },
            secs(o.failover),
            secs(o.takeover)
        );
    }
}
