//! The OTP guide's whole failover story (Distributed Applications chapter)
//! with `distro` binaries in any of the cp1/cp2/cp3 roles, and once with
//! three BEAM nodes so the expectations are OTP's own:
//!
//! 1. all three up: myapp runs at cp1;
//! 2. cp1 killed → after the 5 s restart time at cp2 (equal weights, the
//!    smaller name wins);
//! 3. cp2 killed too → after 5 s at cp3, the last node;
//! 4. cp2 restarts → nothing moves (cp2 and cp3 share a priority group);
//! 5. cp1 restarts → it takes myapp over from cp3 (`{takeover, cp3}`) and
//!    cp3 stops its instance.
//!
//! Every state is observed over rpc from a hidden BEAM node outside the
//! cluster, so no check depends on which roles are Rust.

use super::cluster::*;
use crate::support::{BeamNode, BeamOpts, DistroNode};
use std::time::{Duration, Instant};

/// What runs a cluster role.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Kind {
    Beam,
    Rust,
}

/// A running member: a BEAM node or a `distro -name … --app myapp`.
enum Member {
    Beam(BeamNode),
    Rust(DistroNode),
}

impl Member {
    fn kill(&mut self) {
        match self {
            Self::Beam(b) => drop(b.kill()),
            Self::Rust(d) => drop(d.kill()),
        }
    }

    fn log_contains(&self, needle: &str) -> bool {
        match self {
            Self::Beam(b) => b.log_contains(needle),
            Self::Rust(d) => d.log_contains(needle),
        }
    }

    fn wait_for_log(&self, needle: &str) {
        block(|| match self {
            Self::Beam(b) => b.wait_for_log(needle, LONG),
            Self::Rust(d) => d.wait_for_log(needle, LONG),
        })
        .unwrap_or_else(|e| panic!("{e:#}"));
    }

    fn tail(&self) -> String {
        match self {
            Self::Beam(b) => b.log().tail(40),
            Self::Rust(d) => d.log().tail(40),
        }
    }
}

/// The kernel env of a restarted cpN: `sync_nodes_optional` instead of
/// mandatory, since a restarted cp2 boots while cp1 is still down (with
/// the guide's mandatory list neither BEAM nor `distro` would boot).
fn restart_env(n: &[String; 3], me: &str) -> String {
    beam_env(n, me)
        .replace("sync_nodes_mandatory", "sync_nodes_optional")
        .replace("{sync_nodes_timeout, 30000}", "{sync_nodes_timeout, 2000}")
}

struct Guide {
    cl: Cluster,
    n: [String; 3],
    kinds: [Kind; 3],
    observer: BeamNode,
    members: [Option<Member>; 3],
}

impl Guide {
    fn new(kinds: [Kind; 3]) -> Option<Self> {
        let otp = super::setup()?;
        let cl = Cluster::new(otp.clone(), false);
        let observer = BeamNode::start(
            &cl.epmd,
            BeamOpts::new("obs")
                .cookie(COOKIE)
                .otp(otp)
                .hidden()
                .start_timeout(LONG),
        )
        .expect("observer node");
        Some(Self {
            cl,
            n: names(),
            kinds,
            observer,
            members: [None, None, None],
        })
    }

    /// Starts the roles `which` concurrently with `env(n, me)` as kernel
    /// env, then `application:start(myapp)` at the BEAM ones (the `distro`
    /// ones start it from `--app myapp`).
    async fn start(&mut self, which: &[usize], env: fn(&[String; 3], &str) -> String) {
        let mut beams = Vec::new();
        for &i in which {
            let me = &self.n[i];
            match self.kinds[i] {
                Kind::Beam => beams.push((i, self.cl.spawn_beam(me, &env(&self.n, me)))),
                Kind::Rust => {
                    let d = self.cl.distro_bin(me, &env(&self.n, me), "myapp");
                    self.members[i] = Some(Member::Rust(d));
                }
            }
        }
        for (i, h) in beams {
            self.members[i] = Some(Member::Beam(h.await.expect("BEAM node")));
        }
        // `application:start(myapp)` returns once dist_ac decided; start
        // them together, as the nodes of the guide do at boot.
        let starts: Vec<_> = which
            .iter()
            .filter_map(|&i| match self.members[i].take() {
                Some(Member::Beam(b)) => Some((i, b)),
                other => {
                    self.members[i] = other;
                    None
                }
            })
            .map(|(i, b)| {
                tokio::task::spawn_blocking(move || {
                    let r = b.eval_timeout("application:start(myapp).", LONG);
                    (i, b, r)
                })
            })
            .collect();
        for h in starts {
            let (i, b, r) = h.await.expect("start task");
            assert_eq!(
                r.expect("application:start(myapp)"),
                "ok",
                "{}",
                b.log().tail(40)
            );
            self.members[i] = Some(Member::Beam(b));
        }
    }

    fn member(&self, i: usize) -> &Member {
        self.members[i].as_ref().expect("member is up")
    }

    /// Where myapp runs, as the observer sees it over rpc.
    fn running(&self) -> Vec<usize> {
        (0..3)
            .filter(|&i| self.members[i].is_some() && runs_at(&self.observer, &self.n[i], "myapp"))
            .collect()
    }

    /// Waits until myapp runs at exactly `i`; returns the time it took.
    async fn until_only(&self, i: usize, what: &str) -> Duration {
        let t0 = Instant::now();
        loop {
            let now = self.running();
            if now == [i] {
                return t0.elapsed();
            }
            assert!(
                t0.elapsed() < LONG,
                "{what}: myapp runs at {now:?}, not [{i}]\n{}",
                self.tails()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    fn kill(&mut self, i: usize) -> Instant {
        let mut m = self.members[i].take().expect("member is up");
        m.kill();
        Instant::now()
    }

    fn started_with(&self, i: usize, start_type: &str) {
        self.member(i)
            .wait_for_log(&format!("myapp starting: StartType = {start_type}"));
    }

    fn tails(&self) -> String {
        (0..3)
            .filter_map(|i| {
                let m = self.members[i].as_ref()?;
                let apps = block(|| {
                    self.observer.eval(&format!(
                        "rpc:call('{}', application, which_applications, [], 5000).",
                        self.n[i]
                    ))
                });
                let own = match m {
                    Member::Beam(b) => format!(
                        "{:?}",
                        block(|| b.eval_timeout(
                            "{nodes(connected), application:which_applications()}.",
                            Duration::from_secs(5)
                        ))
                    ),
                    Member::Rust(_) => String::new(),
                };
                Some(format!(
                    "--- cp{} ({:?}), which_applications: {apps:?} {own} ---\n{}",
                    i + 1,
                    self.kinds[i],
                    m.tail()
                ))
            })
            .collect()
    }

    async fn run(mut self) {
        let label = format!(
            "OTP {} {:?}",
            self.cl.otp.number(),
            self.kinds.map(|k| format!("{k:?}"))
        );

        // 1. All up: cp1 runs myapp.
        self.start(&[0, 1, 2], beam_env).await;
        self.until_only(0, "boot").await;
        self.started_with(0, "normal");

        // 2. cp1 down: cp2 after the restart time.
        let killed = self.kill(0);
        self.until_only(1, "cp1 killed").await;
        let t = killed.elapsed();
        eprintln!("[{label}] cp1 killed -> cp2 runs myapp: {t:?}");
        assert!(
            t >= Duration::from_millis(4900),
            "before the restart time: {t:?}"
        );
        self.started_with(1, "normal");

        // 3. cp2 down too: cp3, the last one.
        let killed = self.kill(1);
        self.until_only(2, "cp2 killed").await;
        let t = killed.elapsed();
        eprintln!("[{label}] cp2 killed -> cp3 runs myapp: {t:?}");
        assert!(
            t >= Duration::from_millis(4900),
            "before the restart time: {t:?}"
        );
        self.started_with(2, "normal");

        // 4. cp2 back: same priority as cp3, nothing moves (watched past
        //    the restart time).
        self.start(&[1], restart_env).await;
        let t0 = Instant::now();
        while t0.elapsed() < Duration::from_millis(6000) {
            assert_eq!(self.running(), [2], "cp2 restarted\n{}", self.tails());
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        assert!(
            !self.member(1).log_contains("myapp starting"),
            "[{label}] the restarted cp2 started myapp\n{}",
            self.tails()
        );

        // 5. cp1 back: takes over from cp3, which stops its instance.
        self.start(&[0], beam_env).await;
        self.until_only(0, "cp1 restarted").await;
        self.started_with(0, &format!("{{takeover,'{}'}}", self.n[2]));
        self.member(2).wait_for_log("myapp stop");
        assert!(!self.member(1).log_contains("myapp starting"));
    }
}

async fn guide(kinds: [Kind; 3]) {
    if let Some(g) = Guide::new(kinds) {
        g.run().await;
    }
}

/// Reference: the story with three BEAM nodes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn guide_story_all_beam() {
    guide([Kind::Beam, Kind::Beam, Kind::Beam]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn guide_story_rust_cp1() {
    guide([Kind::Rust, Kind::Beam, Kind::Beam]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn guide_story_rust_cp2() {
    guide([Kind::Beam, Kind::Rust, Kind::Beam]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn guide_story_rust_cp3() {
    guide([Kind::Beam, Kind::Beam, Kind::Rust]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn guide_story_rust_cp1_and_cp2() {
    guide([Kind::Rust, Kind::Rust, Kind::Beam]).await;
}
