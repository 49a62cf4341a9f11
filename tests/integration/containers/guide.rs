//! The OTP guide's story (Distributed Applications) across containers:
//! hosts cp1, cp2, cp3 with `erl_interop/config/sname/cpN.config`
//! (`sync_nodes_mandatory`, restart time 5 s) and `myapp`:
//!
//! 1. all three up: myapp runs at cp1 (`StartType = normal`);
//! 2. `docker kill cp1`: after 5 s at cp2 (equal weights, smaller name);
//! 3. `docker start cp1`: `{takeover,cp2@cp2}` at cp1, cp2 stops myapp.
//!
//! With `distro` as cp1, cp2 and cp3, and with erl nodes only; all four
//! at once, times printed side by side. (The loopback suite,
//! `dist_ac::guide`, also kills cp2 and restarts it.)

use super::*;
use crate::support::docker::{Kind, Naming};
use std::time::Instant;

/// Runs the story; returns (kill cp1 → cp2 runs myapp, start cp1 →
/// takeover done).
fn story(label: &str, distro_at: Option<&str>, release: u32) -> (Duration, Duration) {
    let mut cl = DockerCluster::new(label, Naming::Short, &[]).expect("cluster");
    let all = ["cp1", "cp2", "cp3"];
    for n in all {
        cl.start(n, kind_at(distro_at, n, Kind::Erlang), release)
            .expect("node");
    }
    for n in all {
        cl.wait_up(n, "myapp").unwrap();
    }
    cl.until_only("myapp", "cp1", &all, "boot").unwrap();
    cl.until_settled(&all, "boot").unwrap();
    expect_log(&cl, "cp1", "myapp starting: StartType = normal");

    let t0 = Instant::now();
    cl.kill("cp1").unwrap();
    cl.until_only("myapp", "cp2", &["cp2", "cp3"], "cp1 killed")
        .unwrap();
    let failover = t0.elapsed();
    expect_log(&cl, "cp2", "myapp starting: StartType = normal");
    assert!(
        failover >= Duration::from_millis(4900),
        "{label}: failed over before the 5 s restart time: {failover:?}\n{}",
        cl.tails()
    );

    let t1 = Instant::now();
    cl.restart("cp1").unwrap();
    cl.until_only("myapp", "cp1", &all, "cp1 restarted")
        .unwrap();
    let takeover = t1.elapsed();
    // ~0p prints cp2@cp2 without quotes.
    expect_log(&cl, "cp1", "myapp starting: StartType = {takeover,cp2@cp2}");
    expect_log(&cl, "cp2", "myapp stop");
    (failover, takeover)
}

/// distro as cp1, cp2 and cp3, and erl only, side by side.
#[test]
fn guide_story_with_distro_in_each_role() {
    let Some(otp) = setup() else { return };
    let roles = [None, Some("cp1"), Some("cp2"), Some("cp3")];
    let outcomes = in_parallel(&roles, |at| {
        let label = format!("guide, distro as {}", at.unwrap_or("none"));
        story(&label, *at, otp.number())
    });
    for (at, (failover, takeover)) in roles.iter().zip(&outcomes) {
        eprintln!(
            "{} OTP guide, {:<18} kill cp1 -> myapp at cp2 {}, start cp1 -> takeover {}",
            tag(&otp),
            match at {
                None => "all erl:".to_owned(),
                Some(n) => format!("distro as {n}:"),
            },
            secs(*failover),
            secs(*takeover)
        );
    }
}
