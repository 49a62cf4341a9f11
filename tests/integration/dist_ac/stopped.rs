//! A node running the distributed application is SIGSTOPped for longer
//! than the tick time, then SIGCONTed (issue 9's distro-only failure).
//!
//! The seed's cluster, `{myapp, 5000, [one, {two, three}]}`, with
//! `sync_nodes_optional` and `net_ticktime` 8. While `one` is stopped, two
//! and three time it out, `global` (`prevent_overlapping_partitions`) drops
//! the connection everywhere, and after the 5 s restart time myapp fails
//! over to the failover group. On SIGCONT a BEAM `one` finds its
//! connections closed and stays apart: nothing in OTP dials again until
//! someone sends (global's messages are `noconnect`, dist_ac sends nothing
//! to nodes that went down). So both sides run myapp (OTP's own split
//! brain), the failover group's dist_acs agree, and killing `one` leaves
//! exactly one copy.
//!
//! The same scenario runs with `distro` as `one` and as BEAM, in the same
//! test; the outcomes must be equal. Every state is observed over rpc from
//! a hidden BEAM node.

use super::cluster::*;
use crate::support::{BeamNode, BeamOpts, DistroNode};
use std::time::{Duration, Instant};

/// How long `one` stays stopped: past net_ticktime 8 (peers time it out
/// between 8 and 10 s) but not past the restart time after that.
const STOPPED: Duration = Duration::from_millis(10_600);

enum One {
    Beam(BeamNode),
    Rust(DistroNode),
}

impl One {
    fn signal(&mut self, sig: libc::c_int) {
        match self {
            Self::Beam(b) => b.signal(sig),
            Self::Rust(d) => d.signal(sig),
        }
        .expect("signal");
    }

    fn kill(&mut self) {
        match self {
            Self::Beam(b) => drop(b.kill()),
            Self::Rust(d) => drop(d.kill()),
        }
    }

    fn tail(&self) -> String {
        match self {
            Self::Beam(b) => b.log().tail(40),
            Self::Rust(d) => d.log().tail(40),
        }
    }
}

/// The seed's kernel env with net_ticktime 8.
fn env(n: &[String; 3], me: &str) -> String {
    crate::dist_ac::cluster::cluster_env(
        "myapp",
        n,
        me,
        "optional",
        5000,
        ", {net_ticktime, 8}, {distro_heal_partitions, true}",
    )
}

/// What one run observed, by role (0 = one, 1 = two, 2 = three).
#[derive(Debug, PartialEq, Eq)]
struct Outcome {
    /// Where myapp runs once the cluster settled after SIGCONT.
    after_cont: Vec<usize>,
    /// Whom `one` is connected to then (visible nodes).
    one_sees: Vec<usize>,
    /// Where myapp runs after `one` is made to connect to the others again
    /// (when the run heals), and the node of `myapp_server`'s global name
    /// as each node sees it then.
    after_heal: Option<(Vec<usize>, [String; 3])>,
    /// After the heal: `(i, j)` where `dist_ac:get_known_nodes()` at i
    /// lacks j.
    unknown_after_heal: Vec<(usize, usize)>,
    /// Where myapp runs after `one` is killed.
    after_kill: Vec<usize>,
    /// Whether two's and three's application controllers agree on where
    /// myapp runs after that.
    dist_acs_agree: bool,
}

struct Run {
    _cl: Cluster,
    n: [String; 3],
    observer: BeamNode,
    m: [One; 3],
}

impl Run {
    /// `rust[i]`: role i is a `distro --app myapp`, else a BEAM node.
    async fn start(rust: [bool; 3]) -> Option<Self> {
        let otp = super::setup()?;
        let cl = Cluster::new(otp.clone(), false);
        let n = [name("one"), name("two"), name("three")];
        let observer = BeamNode::start(
            &cl.epmd,
            BeamOpts::new("obs")
                .cookie(COOKIE)
                .otp(otp)
                .hidden()
                .kernel("net_ticktime", "8")
                .start_timeout(LONG),
        )
        .expect("observer node");
        let beams: Vec<_> = (0..3)
            .map(|i| (!rust[i]).then(|| cl.spawn_beam(&n[i], &env(&n, &n[i]))))
            .collect();
        let mut m = Vec::new();
        for (i, h) in beams.into_iter().enumerate() {
            m.push(match h {
                Some(h) => One::Beam(h.await.unwrap()),
                None => One::Rust(cl.distro_bin(&n[i], &env(&n, &n[i]), "myapp")),
            });
        }
        let starts: Vec<_> = m
            .iter()
            .filter_map(|x| match x {
                One::Beam(b) => Some(b.eval_start("application:start(myapp).").expect("eval")),
                One::Rust(_) => None,
            })
            .collect();
        for s in starts {
            assert_eq!(block(|| s.wait(LONG)).expect("application:start"), "ok");
        }
        let m: [One; 3] = m.try_into().ok().expect("three members");
        Some(Self {
            _cl: cl,
            n,
            observer,
            m,
        })
    }

    /// Where myapp runs, over rpc from the observer (`one` only if asked).
    fn running(&self, with_one: bool) -> Vec<usize> {
        (0..3)
            .filter(|&i| (i > 0 || with_one) && runs_at(&self.observer, &self.n[i], "myapp"))
            .collect()
    }

    /// The visible nodes `n[i]` is connected to, as roles.
    fn sees(&self, i: usize) -> Vec<usize> {
        let v = block(|| {
            self.observer.eval(&format!(
                "rpc:call('{}', erlang, nodes, [], 5000).",
                self.n[i]
            ))
        })
        .unwrap_or_default();
        (0..3)
            .filter(|&j| j != i && v.contains(&format!("'{}'", self.n[j])))
            .collect()
    }

    /// `node(global:whereis_name(myapp_server))` at each node, over rpc.
    fn global_at(&self) -> [String; 3] {
        std::array::from_fn(|i| {
            block(|| {
                self.observer.eval(&format!(
                    "(fun(P) when is_pid(P) -> node(P); (Other) -> Other end)\
                     (rpc:call('{}', global, whereis_name, [myapp_server], 5000)).",
                    self.n[i]
                ))
            })
            .unwrap_or_else(|e| e.to_string())
        })
    }

    fn tails(&self) -> String {
        format!(
            "--- one ---\n{}\n--- two ---\n{}\n--- three ---\n{}",
            self.m[0].tail(),
            self.m[1].tail(),
            self.m[2].tail()
        )
    }

    /// Makes `one` connect to the two others again (a send, as any
    /// traffic would).
    fn reconnect_one(&self) {
        for j in 1..3 {
            let r = block(|| {
                self.observer.eval(&format!(
                    "rpc:call('{}', erlang, send, [{{stopped_test_nobody, '{}'}}, hello], 5000).",
                    self.n[0], self.n[j]
                ))
            });
            assert!(r.is_ok(), "{r:?}");
        }
    }

    /// Waits until `f` gives the same value for 8 s in a row (longer than
    /// the restart time; polled every 250 ms) and returns it.
    async fn settled<T: PartialEq + std::fmt::Debug>(&self, what: &str, f: impl Fn() -> T) -> T {
        let t0 = Instant::now();
        let mut last = f();
        let mut since = Instant::now();
        loop {
            tokio::time::sleep(Duration::from_millis(250)).await;
            let now = f();
            if now != last {
                last = now;
                since = Instant::now();
            } else if since.elapsed() >= Duration::from_secs(8) {
                return last;
            }
            assert!(
                t0.elapsed() < LONG,
                "{what} never settled: {last:?}\n{}",
                self.tails()
            );
        }
    }

    async fn run(mut self, heal: bool) -> Outcome {
        until("myapp at one", LONG, || self.running(true) == [0]).await;
        // Stop `one` in a settled cluster, as the campaign does: global
        // synced at two and three (which includes `one`). Stopped in the
        // middle of global's first sync, a peer's locker may dial `one`
        // while it is stopped, and the connection completes on SIGCONT.
        // Stop `one` in a settled cluster, as the campaign does: the global
        // name of myapp_server known at every node (global synced). Stopped
        // in the middle of global's first sync, a peer's locker may send
        // `lock_set` to `one` after timing it out (a `gen_server:cast`,
        // which dials), and that connection completes on SIGCONT.
        let at_one = format!("'{}'", self.n[0]);
        until("myapp_server's global name everywhere", LONG, || {
            self.global_at().iter().all(|v| *v == at_one)
        })
        .await;
        self.m[0].signal(libc::SIGSTOP);
        tokio::time::sleep(STOPPED).await;
        self.m[0].signal(libc::SIGCONT);
        // The failover group starts myapp once the restart time has passed
        // after its nodedown (8 to 10 s into the stop): wait past that,
        // then for everything to settle.
        tokio::time::sleep(Duration::from_secs(7)).await;
        let (after_cont, one_sees) = self
            .settled("after SIGCONT", || (self.running(true), self.sees(0)))
            .await;
        if !one_sees.is_empty() {
            eprintln!("one reconnected to {one_sees:?}\n{}", self.tails());
        }
        let after_heal = if heal {
            self.reconnect_one();
            until("one connected to both", LONG, || self.sees(0) == [1, 2]).await;
            Some(
                self.settled("after the heal", || (self.running(true), self.global_at()))
                    .await,
            )
        } else {
            None
        };
        let unknown_after_heal = if heal {
            super::cluster::unknown_pairs(&self.observer, &self.n)
        } else {
            Vec::new()
        };
        self.m[0].kill();
        let after_kill = self.settled("after the kill", || self.running(false)).await;
        let entry = |b: &BeamNode| {
            block(|| {
                b.eval(
                    "proplists:get_value(myapp, proplists:get_value(running, application:info())).",
                )
            })
            .unwrap_or_else(|e| e.to_string())
        };
        // A `distro` node's view is not asked: it counts as agreeing.
        let entry = |i: usize| match (&self.m[i], &after_kill[..]) {
            (One::Beam(b), _) => entry(b),
            (One::Rust(_), [r]) if *r == i => "<distro>".to_owned(),
            (One::Rust(_), [r]) => format!("{{distributed,'{}'}}", self.n[*r]),
            (One::Rust(_), _) => "?".to_owned(),
        };
        let (e2, e3) = (entry(1), entry(2));
        let dist_acs_agree = match after_kill[..] {
            [1] => e2.starts_with('<') && e3 == format!("{{distributed,'{}'}}", self.n[1]),
            [2] => e3.starts_with('<') && e2 == format!("{{distributed,'{}'}}", self.n[2]),
            _ => false,
        };
        if !dist_acs_agree {
            eprintln!("two: {e2}, three: {e3}\n{}", self.tails());
        }
        Outcome {
            after_cont,
            one_sees,
            after_heal,
            unknown_after_heal,
            after_kill,
            dist_acs_agree,
        }
    }
}

/// `one` stopped past the tick time: `distro` as `one` ends as a BEAM `one`
/// does (apart from the others until someone dials, myapp failed over, one
/// copy left after `one` is killed, the dist_acs in agreement).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stopped_past_tick_time_like_beam() {
    let Some(beam) = Run::start([false; 3]).await else {
        return;
    };
    let rust = Run::start([true, false, false])
        .await
        .expect("same release");
    let (beam, rust) = tokio::join!(beam.run(false), rust.run(false));
    eprintln!("all-BEAM: {beam:?}\ndistro one: {rust:?}");
    assert!(
        beam.dist_acs_agree && beam.after_kill.len() == 1,
        "{beam:?}"
    );
    assert_eq!(rust, beam);
}

/// The split the stop leaves (myapp at `one` and in the failover group)
/// healed by `one` dialling the others: all-BEAM keeps both copies (OTP,
/// erlang/otp#3365); with distro nodes the copy of lower priority stops,
/// whichever side is distro, and `myapp_server`'s global name is at `one`
/// on every node (README, "Netsplits that heal").
async fn heal(rust: [bool; 3]) {
    let Some(r) = Run::start(rust).await else {
        return;
    };
    let r_names = r.n.clone();
    let o = r.run(true).await;
    eprintln!("{rust:?}: {o:?}");
    assert_eq!(o.after_cont.len(), 2, "the stop split the cluster: {o:?}");
    let (runs, names) = o.after_heal.clone().expect("healed");
    if rust == [false; 3] {
        assert_eq!(runs, o.after_cont, "{o:?}");
    } else {
        assert_eq!(runs, [0], "{o:?}");
        let one = format!("'{}'", r_names[0]);
        assert!(names.iter().all(|v| *v == one), "{o:?}");
        // Every dist_ac knows the two others again (a distro node
        // introduces itself again to a node that lost it, and to a distro
        // node it lost that kept it).
        assert_eq!(o.unknown_after_heal, [], "{o:?}");
    }
    // And the failover still works afterwards: `one` killed, one copy in
    // the failover group, the BEAM dist_acs in agreement.
    assert!(o.after_kill.len() == 1 && o.dist_acs_agree, "{o:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn split_healed_all_beam_keeps_both() {
    heal([false; 3]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn split_healed_distro_one_takes_it_back_from_beam() {
    heal([true, false, false]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn split_healed_distro_failover_group_gives_it_up_to_beam_one() {
    heal([false, true, true]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn split_healed_all_distro() {
    heal([true; 3]).await;
}
