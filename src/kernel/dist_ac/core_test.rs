//! The sans-IO dist_ac fed the messages of the golden traces (real OTP 25
//! nodes cp1, cp2, cp3 with `{distributed, [{myapp, 5000, [cp1, {cp2, cp3}]}]}`,
//! recorded once; the recordings are not kept in the repository, their
//! messages are written out below): every command it gives is compared
//! with what the recorded BEAM dist_ac did at the same point.

use super::core::{Call, Config, Dest, DistAc, DistEntry, Input, Output, Peer};
use super::msg::*;
use crate::term;
use crate::term::{Atom, Pid, Term, atom};
use std::time::{Duration, Instant};

pub(super) fn a(s: &str) -> Atom {
    Atom::from(s)
}

pub(super) fn pid(node: &str) -> Term {
    Term::Pid(Pid {
        node: a(node),
        id: 42,
        serial: 0,
        creation: 1,
    })
}

/// `[{myapp, 5000, [cp1, {cp2, cp3}]}]` (the cpN.config of the traces).
pub(super) fn cp_config() -> Config {
    Config {
        distributed: vec![DistEntry {
            app: a("myapp"),
            restart_time: RestartTime::Ms(5000),
            nodes: NodesSpec(vec![
                NodeSpec::One(a("cp1")),
                NodeSpec::Any(vec![a("cp2"), a("cp3")]),
            ]),
        }],
        permissions: Vec::new(),
        heal_partitions: true,
    }
}

fn appl(id: ApplId, run: &[(&str, Perm)]) -> Appl {
    Appl {
        name: a("myapp"),
        id,
        restart_time: RestartTime::Ms(5000),
        nodes: cp_config().distributed[0].nodes.clone(),
        run: run.iter().map(|(n, p)| (a(n), *p)).collect(),
    }
}

fn drain(d: &mut DistAc) -> Vec<Output> {
    std::iter::from_fn(|| d.poll_output()).collect()
}

fn send(to: &str, msg: DacMsg) -> Output {
    Output::Send {
        to: Dest::Name(a(to)),
        msg,
    }
}

fn loaded(from: &str, knows: bool) -> DacMsg {
    DacMsg::AppLoaded {
        node: a(from),
        app: a("myapp"),
        nodes: cp_config().distributed[0].nodes.clone(),
        permission: Perm::True,
        he_knows_me: knows,
    }
}

/// `{dist_ac_weight, myapp, 2, Node}`: `node`'s weight in a failover.
fn weight(node: &str) -> DacMsg {
    DacMsg::Weight {
        app: a("myapp"),
        weight: 2,
        node: a(node),
    }
}

fn sync_lock() -> Term {
    term!({dist_ac, sync_dacs})
}

fn my_lock(node: &str) -> Term {
    term!({dist_ac, (pid(node))})
}

/// Boots `me` in a cluster where `others` are up and answer as
/// `answers` (their `dist_ac_new_node` replies, in the order asked).
fn boot(me: &str, t0: Instant, others: &[&str], answers: Vec<DacMsg>) -> DistAc {
    let mut d = DistAc::new(a(me), pid(me), cp_config());
    for o in others {
        d.handle(t0, Input::NodeUp(a(o)));
    }
    d.handle(t0, Input::Go);
    d.handle(t0, Input::LockResult(true));
    for o in others {
        d.handle(t0, Input::Whereis(Some(pid(o))));
    }
    for m in answers {
        d.handle(t0, Input::Dac(m));
    }
    d.handle(t0, Input::Unlocked);
    assert!(d.is_synced());
    d
}

/// recording s1_boot, cp1's dist_ac (lines 361–699): go, sync_dacs under the
/// global lock with intros to cp3 then cp2 (to their pids), the peers'
/// own intros consumed as replies by wait_dacs, load and start deferred
/// until the sync ends, `start_it`, `del_lock` on all nodes, then
/// `dist_ac_app_started` to cp2 and cp3.
#[test]
fn s1_boot_cp1_matches_the_trace() {
    let t0 = Instant::now();
    let mut d = DistAc::new(a("cp1"), pid("cp1"), cp_config());
    d.handle(t0, Input::NodeUp(a("cp3")));
    d.handle(t0, Input::NodeUp(a("cp2")));
    assert!(drain(&mut d).is_empty());
    d.handle(t0, Input::Go);
    assert_eq!(
        drain(&mut d),
        vec![
            Output::ToAc(ToAc::ControlApplication(a("myapp"))),
            Output::TookControl,
            Output::SetLock {
                id: sync_lock(),
                nodes: vec![a("cp1"), a("cp3"), a("cp2")],
                retries: None
            },
        ]
    );
    d.handle(t0, Input::LockResult(true));
    assert_eq!(drain(&mut d), vec![Output::Whereis { node: a("cp3") }]);
    d.handle(t0, Input::Whereis(Some(pid("cp3"))));
    assert_eq!(
        drain(&mut d),
        vec![
            Output::Send {
                to: Dest::Pid(pid("cp3")),
                msg: intro("cp1", vec![])
            },
            Output::Whereis { node: a("cp2") }
        ]
    );
    // line 520: the AC's load request waits in the mailbox.
    d.handle(t0, Input::Ac(FromAc::LoadReq(a("myapp"))));
    d.handle(t0, Input::Whereis(Some(pid("cp2"))));
    assert_eq!(
        drain(&mut d),
        vec![Output::Send {
            to: Dest::Pid(pid("cp2")),
            msg: intro("cp1", vec![])
        }]
    );
    d.handle(t0, Input::Dac(intro("cp3", vec![]))); // line 556: cp3's intro, taken as its reply
    d.handle(t0, Input::Dac(loaded("cp3", false))); // line 590: waits
    assert!(drain(&mut d).is_empty());
    d.handle(t0, Input::Dac(intro("cp2", vec![]))); // line 602
    assert_eq!(
        drain(&mut d),
        vec![Output::DelLock {
            id: sync_lock(),
            nodes: vec![a("cp1"), a("cp3"), a("cp2")]
        }]
    );
    d.handle(t0, Input::Unlocked);
    // lines 619–624
    assert_eq!(
        drain(&mut d),
        vec![
            Output::SyncDone,
            send("cp2", loaded("cp1", false)),
            send("cp3", loaded("cp1", false)),
            Output::ToAc(ToAc::LoadReply(a("myapp"))),
            send("cp3", loaded("cp1", true)),
        ]
    );
    assert_eq!(d.known(), &[a("cp2"), a("cp3"), a("cp1")]);
    d.set_weight(2);
    d.handle(t0, Input::Ac(FromAc::StartReq(a("myapp"))));
    assert_eq!(
        drain(&mut d),
        vec![Output::SetLock {
            id: my_lock("cp1"),
            nodes: vec![a("cp1")],
            retries: Some(0)
        }]
    );
    d.handle(t0, Input::LockResult(true));
    // lines 634–637
    assert_eq!(
        drain(&mut d),
        vec![
            Output::ToAc(ToAc::StartReply(a("myapp"), StartReply::StartIt)),
            Output::DelLock {
                id: my_lock("cp1"),
                nodes: vec![a("cp1"), a("cp3"), a("cp2")]
            },
        ]
    );
    d.handle(t0, Input::Dac(loaded("cp2", true))); // line 646, while unlocking
    d.handle(t0, Input::Ac(FromAc::Run(a("myapp"), Ok(()))));
    assert!(drain(&mut d).is_empty());
    d.handle(t0, Input::Unlocked);
    let started = DacMsg::AppStarted {
        node: a("cp1"),
        app: a("myapp"),
        result: Ok(()),
    };
    // lines 698–699
    assert_eq!(
        drain(&mut d),
        vec![send("cp2", started.clone()), send("cp3", started)]
    );
    assert_eq!(d.appl("myapp").map(|x| &x.id), Some(&ApplId::Local));
}

/// `me`'s introduction as a node answering a boot sync, with `started`.
fn intro(me: &str, started: Vec<(Atom, Atom)>) -> DacMsg {
    DacMsg::NewNode {
        vsn: 1,
        node: a(me),
        appls: vec![appl(ApplId::Undefined, &[(me, Perm::True)])],
        started,
    }
}

/// A node in the state of cp2/cp3 after s1: myapp runs at cp1.
fn standby(me: &str, t0: Instant) -> DistAc {
    let others: Vec<&str> = ["cp1", "cp2", "cp3"]
        .into_iter()
        .filter(|n| *n != me)
        .collect();
    let answers = others.iter().map(|n| intro(n, vec![])).collect();
    standby_after(me, t0, answers, false)
}

/// `me` boots (the others answering `answers`), loads and starts myapp,
/// and learns that it runs at cp1: cp1's `dist_ac_app_started` comes during
/// the start (as in s1), or before it when `started_first`.
fn standby_after(me: &str, t0: Instant, answers: Vec<DacMsg>, started_first: bool) -> DistAc {
    let others: Vec<&str> = ["cp1", "cp2", "cp3"]
        .into_iter()
        .filter(|n| *n != me)
        .collect();
    let mut d = boot(me, t0, &others, answers);
    d.handle(t0, Input::Ac(FromAc::LoadReq(a("myapp"))));
    for n in &others {
        d.handle(t0, Input::Dac(loaded(n, true)));
    }
    let cp1_started = || {
        Input::Dac(DacMsg::AppStarted {
            node: a("cp1"),
            app: a("myapp"),
            result: Ok(()),
        })
    };
    if started_first {
        d.handle(t0, cp1_started());
    }
    d.handle(t0, Input::Ac(FromAc::StartReq(a("myapp"))));
    d.handle(t0, Input::LockResult(true));
    if !started_first {
        d.handle(t0, cp1_started());
    }
    d.handle(t0, Input::Unlocked);
    let out = drain(&mut d);
    assert!(
        out.contains(&Output::ToAc(ToAc::StartReply(
            a("myapp"),
            StartReply::Started(a("cp1"))
        ))),
        "{out:?}"
    );
    assert_eq!(
        d.appl("myapp").map(|x| &x.id),
        Some(&ApplId::Distributed(a("cp1")))
    );
    d
}

/// recording s2_kill_cp1, cp2's view: nodedown → 5000 ms timer;
/// cp3's weight arrives first and is buffered (tmp_locals); at the timer
/// cp2 sends its weight, finds `[{2,cp2},{2,cp3}]`, wins the tie by name
/// and orders `{failover, cp1, undefined}`.
#[test]
fn s2_failover_cp2_wins_the_tie() {
    let t0 = Instant::now();
    let mut d = standby("cp2", t0);
    d.set_weight(2);
    d.handle(t0, Input::NodeDown(a("cp1")));
    assert!(drain(&mut d).is_empty());
    assert_eq!(d.poll_timeout(), Some(t0 + Duration::from_millis(5000)));
    let t1 = t0 + Duration::from_millis(5000);
    d.handle(t1, Input::Dac(weight("cp3")));
    d.handle_timeout(t1);
    assert_eq!(
        drain(&mut d),
        vec![
            send("cp3", weight("cp2")),
            Output::ToAc(ToAc::ChangeReq(a("myapp"), ChangeReq::failover(&a("cp1")))),
        ]
    );
    d.handle(t1, Input::Ac(FromAc::Run(a("myapp"), Ok(()))));
    assert_eq!(
        drain(&mut d),
        vec![send(
            "cp3",
            DacMsg::AppStarted {
                node: a("cp2"),
                app: a("myapp"),
                result: Ok(())
            }
        )]
    );
}

/// recording s2_kill_cp1, cp3's view: its timer fires first, it
/// blocks in collect_answers until cp2's weight comes, loses the tie, waits
/// for cp2's `dist_ac_app_started` and tells its AC `{started, cp2}`.
#[test]
fn s2_failover_cp3_waits_for_cp2() {
    let t0 = Instant::now();
    let mut d = standby("cp3", t0);
    d.set_weight(2);
    d.handle(t0, Input::NodeDown(a("cp1")));
    let t1 = t0 + Duration::from_millis(5000);
    d.handle_timeout(t1);
    assert_eq!(drain(&mut d), vec![send("cp2", weight("cp3"))]);
    assert!(d.waiting().is_some());
    d.handle(t1, Input::Dac(weight("cp2")));
    assert!(drain(&mut d).is_empty(), "cp2 wins: wait for its start");
    d.handle(
        t1,
        Input::Dac(DacMsg::AppStarted {
            node: a("cp2"),
            app: a("myapp"),
            result: Ok(()),
        }),
    );
    assert_eq!(
        drain(&mut d),
        vec![Output::ToAc(ToAc::ChangeReq(
            a("myapp"),
            ChangeReq::Started(a("cp2"))
        ))]
    );
    assert_eq!(
        d.appl("myapp").map(|x| &x.id),
        Some(&ApplId::Distributed(a("cp2")))
    );
}

/// The fault campaign's ddd seed 43: cp2 boots while cp3 runs myapp
/// (cp3's answer says so), and cp1 takes it over before cp2 asks to start
/// it. When cp1 goes down, cp2's failover must ask cp3 for its weight: a
/// leftover `{cp3, myapp}` in remote_started made it decide "already
/// running at cp3" while cp3, stopped, waited for cp2's weight for ever.
#[test]
fn failover_after_a_takeover_heard_of_before_the_start() {
    let t0 = Instant::now();
    let answers = vec![
        intro("cp1", vec![]),
        intro("cp3", vec![(a("cp3"), a("myapp"))]),
    ];
    let mut d = standby_after("cp2", t0, answers, true);
    d.set_weight(2);
    d.handle(t0, Input::NodeDown(a("cp1")));
    let t1 = t0 + Duration::from_millis(5000);
    d.handle_timeout(t1);
    assert_eq!(drain(&mut d), vec![send("cp3", weight("cp2"))]);
}

/// recording s3_restart_cp1, cp1's view: the replies to its intros
/// say myapp runs at cp2 (`[{cp2, myapp}]`), so the start decision answers
/// `{takeover, cp2}`; once running it broadcasts `dist_ac_app_started`.
#[test]
fn s3_restart_cp1_takes_over() {
    let t0 = Instant::now();
    let cp2_reply = DacMsg::NewNode {
        vsn: 1,
        node: a("cp2"),
        appls: vec![appl(
            ApplId::Local,
            &[("cp3", Perm::True), ("cp2", Perm::True)],
        )],
        started: vec![(a("cp2"), a("myapp"))],
    };
    let cp3_reply = DacMsg::NewNode {
        vsn: 1,
        node: a("cp3"),
        appls: vec![appl(
            ApplId::Distributed(a("cp2")),
            &[("cp2", Perm::True), ("cp3", Perm::True)],
        )],
        started: vec![],
    };
    let mut d = boot("cp1", t0, &["cp2", "cp3"], vec![cp2_reply, cp3_reply]);
    drain(&mut d);
    d.handle(t0, Input::Ac(FromAc::LoadReq(a("myapp"))));
    d.handle(t0, Input::Dac(loaded("cp3", true)));
    d.handle(t0, Input::Dac(loaded("cp2", true)));
    drain(&mut d);
    d.set_weight(2);
    d.handle(t0, Input::Ac(FromAc::StartReq(a("myapp"))));
    drain(&mut d);
    d.handle(t0, Input::LockResult(true));
    let out = drain(&mut d);
    assert_eq!(
        out[0],
        Output::ToAc(ToAc::StartReply(a("myapp"), StartReply::Takeover(a("cp2"))))
    );
}

/// recording s3_restart_cp1, cp2's view: `dist_ac_app_started`
/// from cp1 for the app running here makes dist_ac order `{started, cp1}`,
/// which stops the local instance: the second half of a takeover.
#[test]
fn s3_old_node_stops_its_instance() {
    let t0 = Instant::now();
    let mut d = standby("cp2", t0);
    let t1 = cp2_runs_after_cp1_down(&mut d, t0);
    // cp1 comes back, introduces itself; cp2 answers with what runs here.
    d.handle(t1, Input::NodeUp(a("cp1")));
    d.handle(
        t1,
        Input::Dac(DacMsg::NewNode {
            vsn: 1,
            node: a("cp1"),
            appls: vec![appl(ApplId::Undefined, &[("cp1", Perm::True)])],
            started: vec![],
        }),
    );
    let out = drain(&mut d);
    match &out[..] {
        [
            // Beyond OTP: cp1 went down and is back while cp2 runs myapp;
            // cp1 comes first, so cp2 asks whether it runs it (it does not
            // yet: nothing more happens).
            Output::AskPeer {
                node: asked, apps, ..
            },
            Output::Send {
                to: Dest::Name(n),
                msg: DacMsg::NewNode { started, appls, .. },
            },
        ] => {
            assert_eq!((asked, apps), (&a("cp1"), &vec![a("myapp")]));
            assert_eq!(n, &a("cp1"));
            assert_eq!(started, &vec![(a("cp2"), a("myapp"))]);
            assert_eq!(appls[0].id, ApplId::Local);
            // s3 line 281: run = [{cp3,true},{cp2,true}] (cp1 dropped at nodedown)
            assert_eq!(
                appls[0].run,
                vec![(a("cp3"), Perm::True), (a("cp2"), Perm::True)]
            );
        }
        o => panic!("{o:?}"),
    }
    d.handle(
        t1,
        Input::Dac(DacMsg::AppStarted {
            node: a("cp1"),
            app: a("myapp"),
            result: Ok(()),
        }),
    );
    assert_eq!(
        drain(&mut d),
        vec![Output::ToAc(ToAc::ChangeReq(
            a("myapp"),
            ChangeReq::Started(a("cp1"))
        ))]
    );
}

/// cp2 (a standby of the guide's cluster) after cp1 went down: myapp
/// failed over to it 5 s later and runs here. Returns the time it started.
fn cp2_runs_after_cp1_down(d: &mut DistAc, t0: Instant) -> Instant {
    d.set_weight(2);
    d.handle(t0, Input::NodeDown(a("cp1")));
    let t1 = t0 + Duration::from_millis(5000);
    d.handle(t1, Input::Dac(weight("cp3")));
    d.handle_timeout(t1);
    d.handle(t1, Input::Ac(FromAc::Run(a("myapp"), Ok(()))));
    drain(d);
    t1
}

/// Beyond OTP, healing a partition, the loser's side: cp2 took myapp over
/// while cp1 was apart; when cp1 is back, cp2 (second in the priority
/// order) asks cp1 whether it runs myapp. A distro cp1 heals it itself;
/// for a BEAM cp1, cp2's copy stops first; then cp1 is told that myapp
/// runs here (it stops its copy) and is asked to take it over
/// (`application:takeover/2`), so that its new instance registers its
/// global names again.
#[test]
fn healed_partition_loser_has_the_winner_take_over() {
    let t0 = Instant::now();
    let mut d = standby("cp2", t0);
    let t1 = cp2_runs_after_cp1_down(&mut d, t0);
    d.handle(t1, Input::NodeUp(a("cp1")));
    assert_eq!(
        drain(&mut d),
        vec![Output::AskPeer {
            node: a("cp1"),
            apps: vec![a("myapp")],
            asked: 0,
        }]
    );
    let runs_at = |peer| Input::RunsAt {
        node: a("cp1"),
        app: a("myapp"),
        peer,
        asked: 0,
    };
    let mut beam = d.clone();
    // A BEAM cp1 that knows us restarted and is taking over: nothing either.
    for peer in [Peer::Distro, Peer::Beam { knows_us: true }] {
        let mut d = d.clone();
        d.handle(t1, runs_at(peer));
        assert_eq!(drain(&mut d), vec![]);
        assert_eq!(d.appl("myapp").map(|x| x.id.clone()), Some(ApplId::Local));
    }

    beam.handle(t1, runs_at(Peer::Beam { knows_us: false }));
    // Our copy stops first, and we wait until it is gone...
    assert_eq!(
        drain(&mut beam),
        vec![
            Output::ToAc(ToAc::ChangeReq(a("myapp"), ChangeReq::Started(a("cp1")))),
            Output::AwaitStopped {
                node: a("cp2"),
                app: a("myapp")
            },
        ]
    );
    let mut refused = beam.clone();
    beam.handle(
        t1,
        Input::Stopped {
            node: a("cp2"),
            app: a("myapp"),
        },
    );
    // ...then cp1 stops its copy and takes it over.
    assert_eq!(
        drain(&mut beam),
        vec![
            cp2_app_started_to("cp1"),
            Output::RemoteTakeover {
                node: a("cp1"),
                app: a("myapp")
            }
        ]
    );
    // cp1's takeover answered ok (its dist_ac_app_started goes to its
    // known nodes only, no longer including us): nothing more to do.
    let mut failed = beam.clone();
    beam.handle(
        t1,
        Input::TookOver {
            node: a("cp1"),
            app: a("myapp"),
            ok: true,
        },
    );
    assert_eq!(drain(&mut beam), vec![]);
    assert_eq!(
        beam.appl("myapp").map(|x| x.id.clone()),
        Some(ApplId::Distributed(a("cp1")))
    );
    // It did not take it over: both copies are stopped, ours starts again.
    failed.handle(
        t1,
        Input::TookOver {
            node: a("cp1"),
            app: a("myapp"),
            ok: false,
        },
    );
    assert_eq!(
        drain(&mut failed),
        vec![Output::ToAc(ToAc::ChangeReq(
            a("myapp"),
            ChangeReq::Takeover(a("cp1"), None)
        ))]
    );
    // cp1 went down while ours stopped: the nodedown decides; the late
    // Stopped asks nothing of cp1.
    refused.handle(t1, Input::NodeDown(a("cp1")));
    drain(&mut refused);
    refused.handle(
        t1,
        Input::Stopped {
            node: a("cp2"),
            app: a("myapp"),
        },
    );
    assert!(
        !drain(&mut refused)
            .iter()
            .any(|o| matches!(o, Output::RemoteTakeover { .. } | Output::Send { .. })),
    );
    // A node that never went down gets nothing of this.
    d.handle(t1, Input::NodeUp(a("cp9")));
    assert!(drain(&mut d).is_empty());
}

/// Beyond OTP, after a partition: cp1 no longer counts cp2 among its known
/// nodes (nodedown took it out, on both sides). cp2 introduces itself again
/// as at boot, and cp1's answer makes cp1 known at cp2 again, so later
/// failovers are decided with it.
#[test]
fn healed_partition_reacquaints_both_sides() {
    let t0 = Instant::now();
    let mut d = standby("cp2", t0);
    let t1 = cp2_runs_after_cp1_down(&mut d, t0);
    assert!(!d.known.contains(&a("cp1")));
    d.handle(t1, Input::NodeUp(a("cp1")));
    drain(&mut d);
    d.handle(t1, Input::Unknown { node: a("cp1") });
    match &drain(&mut d)[..] {
        [
            Output::Send {
                to: Dest::Name(n),
                msg: DacMsg::NewNode { node, started, .. },
            },
        ] => {
            assert_eq!((n, node), (&a("cp1"), &a("cp2")));
            assert!(started.is_empty(), "an introduction");
        }
        o => panic!("{o:?}"),
    }
    let reply = || {
        Input::Dac(DacMsg::NewNode {
            vsn: 1,
            node: a("cp1"),
            appls: vec![appl(ApplId::Undefined, &[("cp1", Perm::True)])],
            started: vec![(a("cp1"), a("myapp"))],
        })
    };
    d.handle(t1, reply());
    assert!(drain(&mut d).is_empty());
    assert_eq!(d.known.iter().filter(|n| **n == a("cp1")).count(), 1);
    assert!(
        d.appl("myapp")
            .is_some_and(|x| x.run.contains(&(a("cp1"), Perm::True)))
    );
    // A second reply (or one from a node we did not introduce ourselves
    // to) is ignored, as OTP's main loop ignores it.
    d.handle(t1, reply());
    assert_eq!(d.known.iter().filter(|n| **n == a("cp1")).count(), 1);
}

/// Beyond OTP: a distro cp1 saw no nodedown of cp2 (it was SIGSTOPped past
/// the tick time), so it still counts cp2 while cp2 no longer counts cp1.
/// cp2 introduces itself again to a distro node that knows it only when cp2
/// does not know that node; cp2's own dist_ac takes an introduction from a
/// node it knows without counting it twice.
#[test]
fn healed_partition_known_on_one_side_only() {
    let t0 = Instant::now();
    let mut d = standby("cp2", t0);
    let t1 = cp2_runs_after_cp1_down(&mut d, t0);
    d.handle(t1, Input::NodeUp(a("cp1")));
    drain(&mut d);
    d.handle(t1, Input::KnowsUs { node: a("cp1") });
    assert!(
        matches!(
            &drain(&mut d)[..],
            [Output::Send { to: Dest::Name(n), msg: DacMsg::NewNode { started, .. } }]
                if *n == a("cp1") && started.is_empty()
        ),
        "an introduction"
    );
    d.handle(
        t1,
        Input::Dac(DacMsg::NewNode {
            vsn: 1,
            node: a("cp1"),
            appls: vec![appl(ApplId::Undefined, &[("cp1", Perm::True)])],
            started: vec![],
        }),
    );
    drain(&mut d);
    assert!(d.known.contains(&a("cp1")));
    // Known on both sides now: nothing more.
    d.handle(t1, Input::KnowsUs { node: a("cp1") });
    assert_eq!(drain(&mut d), vec![]);
    // An introduction from a known node (a distro peer reacquainting
    // itself): answered, not counted twice.
    d.handle(
        t1,
        Input::Dac(DacMsg::NewNode {
            vsn: 1,
            node: a("cp1"),
            appls: vec![],
            started: vec![],
        }),
    );
    assert_eq!(drain(&mut d).len(), 1);
    assert_eq!(d.known.iter().filter(|n| **n == a("cp1")).count(), 1);
}

/// Beyond OTP, the winner's side: cp2 runs myapp and gets cp3 (same
/// group, larger name) back after a nodedown. When cp3 runs it too, both
/// copies stop (cp2's `dist_ac_app_started` stops cp3's, BEAM's dist_ac
/// and ours alike), and once cp3's is gone cp2 takes myapp over from cp3:
/// its new instance registers the global names again. Without
/// `distro_heal_partitions`, OTP's behaviour: nothing.
#[test]
fn healed_partition_winner_takes_it_over() {
    let t0 = Instant::now();
    let mut d = standby("cp2", t0);
    let t1 = cp2_runs_after_cp1_down(&mut d, t0);
    d.handle(t1, Input::NodeDown(a("cp3")));
    drain(&mut d);
    let mut off = d.clone();
    d.handle(t1, Input::NodeUp(a("cp3")));
    assert_eq!(
        drain(&mut d),
        vec![Output::AskPeer {
            node: a("cp3"),
            apps: vec![a("myapp")],
            asked: 0,
        }]
    );
    d.handle(
        t1,
        Input::RunsAt {
            node: a("cp3"),
            app: a("myapp"),
            peer: Peer::Beam { knows_us: false },
            asked: 0,
        },
    );
    // Both copies stop: ours as if cp3 ran it, cp3's on our word...
    assert_eq!(
        drain(&mut d),
        vec![
            Output::ToAc(ToAc::ChangeReq(a("myapp"), ChangeReq::Started(a("cp3")))),
            cp2_app_started_to("cp3"),
            Output::AwaitStopped {
                node: a("cp3"),
                app: a("myapp")
            },
        ]
    );
    // ...a Stopped of another node or application is not the one awaited...
    for (node, app) in [("cp1", "myapp"), ("cp3", "other")] {
        d.handle(
            t1,
            Input::Stopped {
                node: a(node),
                app: a(app),
            },
        );
        assert_eq!(drain(&mut d), vec![]);
    }
    // ...and once cp3's is gone, ours starts again as a takeover.
    d.handle(
        t1,
        Input::Stopped {
            node: a("cp3"),
            app: a("myapp"),
        },
    );
    assert_eq!(
        drain(&mut d),
        vec![Output::ToAc(ToAc::ChangeReq(
            a("myapp"),
            ChangeReq::Takeover(a("cp3"), None)
        ))]
    );
    d.handle(t1, Input::Ac(FromAc::Run(a("myapp"), Ok(()))));
    let out = drain(&mut d);
    assert!(out.contains(&cp2_app_started_to("cp3")), "{out:?}");
    assert_eq!(d.appl("myapp").map(|x| x.id.clone()), Some(ApplId::Local));

    // A second answer to a question asked before this healing began (the
    // connection went down and up again meanwhile) is stale: our new
    // instance stays. One asked after it counts.
    let runs_at = |asked| Input::RunsAt {
        node: a("cp3"),
        app: a("myapp"),
        peer: Peer::Beam { knows_us: false },
        asked,
    };
    d.handle(t1, runs_at(0));
    assert_eq!(drain(&mut d), vec![]);
    d.handle(t1, Input::NodeDown(a("cp3")));
    d.handle(t1, Input::NodeUp(a("cp3")));
    let asked = match &drain(&mut d)[..] {
        [.., Output::AskPeer { asked, .. }] => *asked,
        o => panic!("{o:?}"),
    };
    assert_eq!(asked, 1);
    d.handle(t1, runs_at(asked));
    assert!(drain(&mut d).contains(&Output::AwaitStopped {
        node: a("cp3"),
        app: a("myapp")
    }));

    off.config.heal_partitions = false;
    off.handle(t1, Input::NodeUp(a("cp3")));
    assert_eq!(drain(&mut off), vec![]);
}

/// `dist_ac.erl`'s `equal_nodes/2`: a `Nodes` list that differs (here only in
/// order) makes dist_ac exit `{distribution_mismatch, App, Node}`.
#[test]
fn distribution_mismatch_stops_dist_ac() {
    let t0 = Instant::now();
    let mut d = standby("cp2", t0);
    d.handle(
        t0,
        Input::Dac(DacMsg::AppLoaded {
            node: a("cp3"),
            app: a("myapp"),
            nodes: NodesSpec(vec![
                NodeSpec::Any(vec![a("cp2"), a("cp3")]),
                NodeSpec::One(a("cp1")),
            ]),
            permission: Perm::True,
            he_knows_me: true,
        }),
    );
    assert_eq!(
        drain(&mut d),
        vec![Output::Stop {
            reason: term!({distribution_mismatch, myapp, cp3})
        }]
    );
    // Order inside a tuple does not matter (equal_nodes/2).
    let mut d = standby("cp2", t0);
    d.handle(
        t0,
        Input::Dac(DacMsg::AppLoaded {
            node: a("cp3"),
            app: a("myapp"),
            nodes: NodesSpec(vec![
                NodeSpec::One(a("cp1")),
                NodeSpec::Any(vec![a("cp3"), a("cp2")]),
            ]),
            permission: Perm::True,
            he_knows_me: true,
        }),
    );
    assert!(drain(&mut d).is_empty());
}

/// `dist_ac.erl`'s `dist_ac_new_node` handling: a `dist_ac_new_node` with `Started = []`
/// is an introduction outside `wait_dacs/4` (answered once) and a reply
/// inside it (not answered): two nodes never ping-pong.
#[test]
fn new_node_is_answered_only_outside_wait_dacs() {
    let t0 = Instant::now();
    let mut d = DistAc::new(a("cp1"), pid("cp1"), cp_config());
    d.handle(t0, Input::NodeUp(a("cp2")));
    d.handle(t0, Input::Go);
    d.handle(t0, Input::LockResult(true));
    d.handle(t0, Input::Whereis(Some(pid("cp2"))));
    drain(&mut d);
    let intro = DacMsg::NewNode {
        vsn: 1,
        node: a("cp2"),
        appls: vec![],
        started: vec![],
    };
    d.handle(t0, Input::Dac(intro.clone()));
    assert!(
        !drain(&mut d)
            .iter()
            .any(|o| matches!(o, Output::Send { .. })),
        "inside wait_dacs: a reply"
    );
    d.handle(t0, Input::Unlocked);
    drain(&mut d);
    d.handle(t0, Input::Dac(intro));
    let out = drain(&mut d);
    assert!(matches!(&out[..], [Output::Send { to: Dest::Name(n), .. }] if *n == a("cp2")));
}

/// The lock is busy (a node is in sync_dacs): `ac_start_application_req`
/// is retried 100 ms later (dist_ac.erl 418–420).
#[test]
fn busy_start_lock_retries_after_100_ms() {
    let t0 = Instant::now();
    let mut d = boot("cp1", t0, &[], vec![]);
    drain(&mut d);
    d.handle(t0, Input::Ac(FromAc::LoadReq(a("myapp"))));
    drain(&mut d);
    d.handle(t0, Input::Ac(FromAc::StartReq(a("myapp"))));
    drain(&mut d);
    d.handle(t0, Input::LockResult(false));
    assert_eq!(d.poll_timeout(), Some(t0 + Duration::from_millis(100)));
    d.handle_timeout(t0 + Duration::from_millis(100));
    assert_eq!(
        drain(&mut d),
        vec![Output::SetLock {
            id: my_lock("cp1"),
            nodes: vec![a("cp1")],
            retries: Some(0)
        }]
    );
}

/// `application:takeover/2` at a standby node: `{takeover, Node, RT}` to
/// the AC, the caller answered when the AC reports the run.
#[test]
fn takeover_call_orders_a_takeover_and_replies_on_run() {
    let t0 = Instant::now();
    let mut d = standby("cp2", t0);
    d.handle(
        t0,
        Input::Call(
            7,
            Call::TakeoverApplication {
                app: a("myapp"),
                restart_type: a("permanent"),
            },
        ),
    );
    assert_eq!(
        drain(&mut d),
        vec![Output::ToAc(ToAc::ChangeReq(
            a("myapp"),
            ChangeReq::Takeover(a("cp1"), Some(a("permanent")))
        ))]
    );
    d.handle(t0, Input::Ac(FromAc::Run(a("myapp"), Ok(()))));
    let out = drain(&mut d);
    assert!(out.contains(&Output::Reply {
        call: 7,
        reply: atom("ok")
    }));
    assert!(out.contains(&send(
        "cp1",
        DacMsg::AppStarted {
            node: a("cp2"),
            app: a("myapp"),
            result: Ok(())
        }
    )));
    d.handle(
        t0,
        Input::Call(
            8,
            Call::TakeoverApplication {
                app: a("myapp"),
                restart_type: a("permanent"),
            },
        ),
    );
    assert_eq!(
        drain(&mut d),
        vec![Output::Reply {
            call: 8,
            reply: term!({error, {already_running_locally, myapp}})
        }]
    );
}

/// Wire shapes: the record and messages as BEAM prints them in s1/s3.
#[test]
fn terms_have_otp_shapes() {
    let ap = appl(ApplId::Distributed(a("cp2@h")), &[("cp2@h", Perm::True)]);
    assert_eq!(
        format!("{}", crate::term::Pretty(&ap.to_term())),
        format!(
            "{}",
            crate::term::Pretty(
                &term!({appl, myapp, {distributed, :"cp2@h"}, 5000, [cp1, {cp2, cp3}], [{:"cp2@h", true}]})
            )
        )
    );
    assert_eq!(Appl::from_term(&ap.to_term()), Some(ap));
    for m in [
        loaded("cp1", false),
        weight("cp2"),
        DacMsg::AppStarted {
            node: a("cp2"),
            app: a("myapp"),
            result: Err(term!({error, x})),
        },
        DacMsg::NewPermission {
            node: a("cp2"),
            app: a("myapp"),
            permitted: false,
            is_his_app: true,
        },
        DacMsg::AppStopped { app: a("myapp") },
    ] {
        assert_eq!(DacMsg::from_term(&m.to_term()), Some(m));
    }
    assert_eq!(DacMsg::from_term(&atom("garbage")), None);
    assert_eq!(DacMsg::from_term(&term!({dist_ac_weight, x})), None);
    // flat_nodes/1 reverses: [cp1, {cp2, cp3}] -> [cp2, cp3, cp1]
    assert_eq!(
        cp_config().distributed[0].nodes.flat(),
        vec![a("cp2"), a("cp3"), a("cp1")]
    );
}

/// Peers can send anything: 20 000 pseudo-random messages, node events and
/// timer firings (about known and unknown apps and nodes, any ids, weights,
/// permissions) never panic the core; only `distribution_mismatch` stops it.
#[test]
fn random_peer_input_never_panics() {
    let mut seed: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut next = move |n: u64| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed % n
    };
    let nodes = ["cp1", "cp2", "cp3", "zz@h"];
    let apps = ["myapp", "other"];
    let t0 = Instant::now();
    for round in 0..40 {
        let mut d = standby("cp2", t0);
        let mut now = t0;
        for _ in 0..500 {
            now += Duration::from_millis(next(3000));
            let node = a(nodes[next(4) as usize]);
            let app = a(apps[next(2) as usize]);
            let input = match next(12) {
                0 => Input::NodeDown(node),
                1 => Input::NodeUp(node),
                2 => Input::Dac(DacMsg::Weight {
                    app,
                    weight: next(5) as i64,
                    node,
                }),
                3 => Input::Dac(DacMsg::AppStarted {
                    node,
                    app,
                    result: if next(4) == 0 {
                        Err(term!({error, x}))
                    } else {
                        Ok(())
                    },
                }),
                4 => Input::Dac(DacMsg::AppStopped { app }),
                5 => Input::Dac(DacMsg::NewPermission {
                    node,
                    app,
                    permitted: next(2) == 0,
                    is_his_app: next(2) == 0,
                }),
                6 => Input::Dac(DacMsg::NewNode {
                    vsn: 1,
                    node,
                    appls: vec![appl(
                        ApplId::from_term(&atom("local")),
                        &[("cp3", Perm::True)],
                    )],
                    started: if next(2) == 0 {
                        vec![]
                    } else {
                        vec![(a("cp3"), a("myapp"))]
                    },
                }),
                7 => Input::Dac(DacMsg::AppUnloaded { node, app }),
                8 => Input::LockResult(next(2) == 0),
                9 => Input::Unlocked,
                10 => Input::Ac(match next(4) {
                    0 => FromAc::Run(app, Ok(())),
                    1 => FromAc::NotRun(app),
                    2 => FromAc::Stopped(app),
                    _ => FromAc::StartReq(app),
                }),
                _ => {
                    d.handle_timeout(now);
                    continue;
                }
            };
            d.handle(now, input);
            while let Some(o) = d.poll_output() {
                if let Output::Stop { reason } = o {
                    panic!("round {round}: stopped with {reason}");
                }
            }
        }
    }
}

/// What cp2's dist_ac sends `to` when myapp runs at cp2:
/// `{dist_ac_app_started, cp2, myapp, ok}`.
fn cp2_app_started_to(to: &str) -> Output {
    Output::Send {
        to: Dest::Name(a(to)),
        msg: DacMsg::AppStarted {
            node: a("cp2"),
            app: a("myapp"),
            result: Ok(()),
        },
    }
}
