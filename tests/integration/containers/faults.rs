//! A hung node and a partition in the seed cluster, with `distro` as one
//! and with Elixir nodes only, side by side (`-kernel net_ticktime 4` on
//! every node, restart time 5 s):
//!
//! * `docker pause one` freezes every process of one; its kernel still
//!   answers TCP, so two and three notice only when ticks stop: nodedown
//!   after about net_ticktime, then failover to three after the restart
//!   time. `docker unpause one`.
//! * `docker network disconnect` takes one's address away; both sides time
//!   out after about net_ticktime and both keep running: one its instance,
//!   three a new one after the restart time. `docker network connect`.
//!
//! After a partition nothing reconnects by itself (no process sends
//! across), so the cluster stays split, the app running at one and at
//! three, until two pings one; after a pause one sometimes is connected
//! again already, with Elixir only as with distro. Then `global` finds `Distro.DistroCal`
//! registered on both sides and kills the pid of the larger node name
//! (three's, `random_exit_name`); three's supervisor restarts it and its
//! `init` re-registers the name.
//!
//! * All Elixir: the name ends at three while the app keeps running at one
//!   **and** three: OTP's dist_ac never reconciles the two instances after
//!   a netsplit (erlang/otp#3365).
//! * distro as one heals it (`distro_heal_partitions`, on by default): one
//!   comes first in the `distributed` list, so both copies stop, and once
//!   three's is gone one takes the app over: the app runs at one only and
//!   `Distro.DistroCal` is registered at one on every node.
//!
//! The failover between two and three is OTP's own (both Elixir). When
//! their dist_acs start the app at both (a race of OTP's, seen on OTP 25
//! and 27 under load), the run says nothing about distro: a baseline run is
//! reported and skipped, a distro run is tried again on a new cluster (up
//! to three tries).

use super::*;
use crate::support::docker::{Kind, Naming};
use std::time::Instant;

/// How one is cut off.
#[derive(Clone, Copy, Debug)]
enum Fault {
    Pause,
    Partition,
}

/// What a run observed.
struct Outcome {
    /// Fault → two no longer lists one in `nodes()`.
    nodedown: Duration,
    /// Fault → the app runs at three only (among two and three).
    failover: Duration,
    /// After the fault ended, before any ping: whether one still runs the
    /// app (a second instance).
    one_still_runs: bool,
    /// After the fault ended, before any ping: `nodes()` at one.
    one_sees: String,
    /// Two's ping → every node agrees on the name (and, with distro, the
    /// app runs at one only).
    healed: Duration,
    /// After two pinged one and global settled: where the app runs.
    after_heal: Vec<String>,
    /// After the heal: the node of `Distro.DistroCal` as one, two and
    /// three see it (equal once global resolved the clash).
    name_at: [String; 3],
    /// Every node's output, for failure messages.
    logs: String,
}

impl std::fmt::Debug for Outcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(
            f,
            "nodedown {:?}, failover {:?}, one still runs: {}, one sees {}, after heal: {:?}, \
             name at {:?}",
            self.nodedown,
            self.failover,
            self.one_still_runs,
            self.one_sees,
            self.after_heal,
            self.name_at
        )?;
        f.write_str(&self.logs)
    }
}

const APP: &str = "distro";

/// The node of `Distro.DistroCal`'s pid as `at` sees it (`undefined` if
/// not registered there).
fn name_node(cl: &DockerCluster, at: &str) -> String {
    let node = cl.node_name(at);
    cl.eval(&format!(
        "(fun(P) when is_pid(P) -> node(P); (Other) -> Other end)\
         (rpc:call('{node}', global, whereis_name, ['Elixir.Distro.DistroCal'], 5000))."
    ))
    .unwrap_or_else(|e| format!("{e}"))
}

/// `Err` when the cluster ends in a state of OTP's own making that the
/// comparison cannot use: the Elixir nodes' dist_acs started the app at
/// both two and three, (all Elixir) `global` never agreed on the name
/// after the heal, or two and three lost each other although only one was
/// cut off (all seen on OTP 27 under load).
fn run(label: &str, fault: Fault, distro_at_one: bool, release: u32) -> Result<Outcome, String> {
    let ticktime = ["-kernel", "net_ticktime", "4"];
    let mut cl = DockerCluster::new(label, Naming::Short, &ticktime).expect("cluster");
    let all = ["one", "two", "three"];
    let one = if distro_at_one {
        Kind::Distro
    } else {
        Kind::Elixir
    };
    cl.start("one", one, release).expect("one");
    // Like docker compose: two and three start once one is registered
    // (one waits for them, sync_nodes_optional).
    cl.wait_registered("one").unwrap();
    cl.start("two", Kind::Elixir, release).expect("two");
    cl.start("three", Kind::Elixir, release).expect("three");
    cl.wait_up("two", APP).unwrap();
    cl.wait_up("three", APP).unwrap();
    cl.wait_up("one", APP).unwrap();
    cl.until_only(APP, "one", &all, "boot").unwrap();
    cl.until_settled(&all, "boot").unwrap();

    let t0 = Instant::now();
    match fault {
        Fault::Pause => cl.pause("one").unwrap(),
        Fault::Partition => cl.disconnect("one").unwrap(),
    }
    let one_node = cl.node_name("one");
    cl.ctl()
        .eval_until_match("rpc:call('two@two', erlang, nodes, [], 5000).", LONG, |v| {
            v.starts_with('[') && !v.contains(&one_node)
        })
        .unwrap_or_else(|e| panic!("{label}: two never saw one down: {e:#}\n{}", cl.tails()));
    let nodedown = t0.elapsed();
    if let Err(e) = cl.until_only(APP, "three", &["two", "three"], "one cut off") {
        if cl.running(APP, &["two", "three"]) == ["two", "three"] {
            return Err(format!(
                "{label}: OTP's dist_ac started the app at two and three\n{}",
                cl.tails()
            ));
        }
        panic!("{e:#}");
    }
    let failover = t0.elapsed();

    match fault {
        Fault::Pause => cl.unpause("one").unwrap(),
        Fault::Partition => cl.connect("one").unwrap(),
    }
    // Let one notice what happened while it was away (its connections
    // closed or timed out), then look at it from ctl (which reconnects).
    std::thread::sleep(Duration::from_secs(6));
    cl.wait_up("one", APP).unwrap();
    let one_still_runs = cl.runs("one", APP);
    let one_sees = cl.rpc("one", "erlang", "nodes", "[]");

    // Heal: two pings one; global merges and resolves the name clash.
    let t_ping = Instant::now();
    let pong = cl.rpc("two", "net_adm", "ping", &format!("['{one_node}']"));
    assert_eq!(pong, "pong", "{label}: two pinging one after the fault");
    // Past global's merge, its clash resolution and the losing side's
    // supervisor restart (whose init re-registers the name), then until
    // every node agrees on the name.
    if !distro_at_one {
        std::thread::sleep(Duration::from_secs(4));
    }
    let t1 = Instant::now();
    // With distro, the heal is over once the app runs at one only with its
    // name there, and stays so for 2 s: the views are taken one node after
    // the other, so a single look can straddle the healing (one's old
    // instance seen before it stops, three's after).
    let mut since: Option<Instant> = None;
    let name_at = loop {
        let seen = all.map(|n| name_node(&cl, n));
        let agreed = seen.iter().all(|s| s == &seen[0] && s != "undefined");
        if agreed && !distro_at_one {
            break seen;
        }
        if agreed && cl.running(APP, &all) == ["one"] {
            let at = *since.get_or_insert_with(Instant::now);
            if at.elapsed() >= Duration::from_secs(2) {
                break seen;
            }
        } else {
            since = None;
        }
        if t1.elapsed() >= LONG {
            // Only one was cut off; two and three that lost each other
            // (a tick timeout under load, seen once on OTP 27) leave three
            // apart from one, so nothing can heal: a spoiled try.
            let two_sees = cl.rpc("two", "erlang", "nodes", "[]");
            if !two_sees.contains(&cl.node_name("three")) {
                return Err(format!(
                    "{label}: two and three lost each other (two sees {two_sees}), \
                     although only one was cut off\n{}",
                    cl.tails()
                ));
            }
            if !distro_at_one {
                // OTP's own global after a partition (seen on OTP 27).
                return Err(format!(
                    "{label}: OTP's global never agreed on Distro.DistroCal: {seen:?}"
                ));
            }
            panic!(
                "{label}: no single copy with its name after the heal: names {seen:?}, app at {:?}\n{}",
                cl.running(APP, &all),
                cl.tails()
            );
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    // Up to the first look at the final state.
    let healed = since.map_or_else(|| t_ping.elapsed(), |at| at - t_ping);
    let after_heal = cl.running(APP, &all);
    Ok(Outcome {
        healed,
        nodedown,
        failover,
        one_still_runs,
        one_sees,
        after_heal,
        name_at,
        logs: cl.tails(),
    })
}

/// `docker pause`/`unpause` and `docker network disconnect`/`connect` of
/// one, with distro as one and with Elixir only: four clusters at once.
#[test]
fn pause_and_partition_distro_vs_beam() {
    let Some(otp) = setup() else { return };
    let variants = [
        (Fault::Pause, false),
        (Fault::Pause, true),
        (Fault::Partition, false),
        (Fault::Partition, true),
    ];
    let who = |distro: bool| {
        if distro {
            "distro as one:"
        } else {
            "all Elixir:"
        }
    };
    let outcomes = in_parallel(&variants, |&(fault, distro)| {
        let label = format!("{fault:?}, {}", who(distro));
        let mut r = run(&label, fault, distro, otp.number());
        for attempt in 2..=3 {
            match &r {
                Err(e) if distro => {
                    eprintln!("{e}\n{label}: tried again on a new cluster");
                    r = run(
                        &format!("{label} (try {attempt})"),
                        fault,
                        distro,
                        otp.number(),
                    );
                }
                _ => break,
            }
        }
        match r {
            Ok(o) => Some(o),
            Err(e) if !distro => {
                eprintln!("{e}\n{label}: baseline skipped");
                None
            }
            Err(e) => panic!("{e}\n{label}: three times"),
        }
    });
    for ((fault, distro), o) in variants.iter().zip(&outcomes) {
        let Some(o) = o else {
            assert!(!distro, "a distro run is never skipped");
            continue;
        };
        eprintln!(
            "{} {fault:?} one, {:<15} nodedown at two {}, app at three {}; \
             one still runs it: {}, one sees {}; after two pings one: app at {:?}, \
             DistroCal at {} (agreed after {})",
            tag(&otp),
            who(*distro),
            secs(o.nodedown),
            secs(o.failover),
            o.one_still_runs,
            o.one_sees,
            o.after_heal,
            o.name_at[0],
            secs(o.healed),
        );
    }
    // The same story up to the heal; then distro keeps one copy (see the
    // module docs).
    for ((fault, distro), o) in variants.iter().zip(&outcomes) {
        let Some(o) = o else { continue };
        let what = format!("{fault:?}, {}", who(*distro));
        assert!(o.one_still_runs, "{what}: one lost its instance\n{o:?}");
        // After a pause one may be connected again before anybody pings it,
        // with Elixir only as with distro (seen on OTP 25 and 27, each time
        // after a failover that took 2 s longer than usual): the heal then
        // happens without the ping. Across a partition it never is.
        let both = ["[three@three,two@two]", "[two@two,three@three]"];
        if matches!(fault, Fault::Partition) || !both.contains(&o.one_sees.as_str()) {
            assert_eq!(o.one_sees, "[]", "{what}: one reconnected by itself\n{o:?}");
        }
        if *distro {
            assert_eq!(o.after_heal, ["one"], "{what}\n{o:?}");
            assert_eq!(
                o.name_at,
                ["one@one", "one@one", "one@one"],
                "{what}\n{o:?}"
            );
        } else {
            assert_eq!(o.after_heal, ["one", "three"], "{what}\n{o:?}");
            assert_eq!(o.name_at[0], "three@three", "{what}\n{o:?}");
        }
    }
}
