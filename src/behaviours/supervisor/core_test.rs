//! The supervisor core without processes or clocks: every strategy, the
//! restart intensity with injected instants, the calls. Expected results
//! are OTP 25–29's `supervisor.erl` (checked against a real `ref_sup` on
//! each release where noted).

use super::core::{ChildPid, Cmd, Core, Report, StartOutcome, shutdown_result};
use super::spec::{AutoShutdown, ChildData, Mfa, Restart, Shutdown, Strategy, SupFlags};
use crate::term;
use crate::term::{Pid, Pretty, Term, TermExt, atom, int, list};
use std::time::Duration;
use tokio::time::Instant;

fn pid(n: u32) -> Pid {
    Pid::new("t@h", n, 0, 1)
}

fn child(id: &str) -> (ChildData, &'static str) {
    let label: &'static str = Box::leak(id.to_owned().into_boxed_str());
    (
        ChildData::worker(atom(id), Mfa::new("m", "start_link", vec![atom(id)])),
        label,
    )
}

fn flags(strategy: Strategy, intensity: u32, period: u32) -> SupFlags {
    SupFlags {
        strategy,
        intensity,
        period,
        auto_shutdown: AutoShutdown::Never,
    }
}

/// A scripted driver: starts succeed with fresh pids unless `fail` names
/// the child; stops end with `shutdown`. Records what the core asked for.
struct Driver {
    next_pid: u32,
    fail: Vec<&'static str>,
    log: Vec<String>,
    now: Instant,
}

impl Driver {
    fn new(now: Instant) -> Self {
        Self {
            next_pid: 100,
            fail: Vec::new(),
            log: Vec::new(),
            now,
        }
    }

    fn run(&mut self, core: &mut Core<&'static str>, mut cmds: Vec<Cmd<&'static str>>) {
        loop {
            let mut next = None;
            for c in cmds {
                match c {
                    Cmd::Report(Report::Progress { .. }) => {}
                    Cmd::Report(Report::Error {
                        context, reason, ..
                    }) => self
                        .log
                        .push(format!("report {context} {}", Pretty(&reason))),
                    Cmd::Reply(t) => self.log.push(format!("reply {}", Pretty(&t))),
                    Cmd::Exit(t) => self.log.push(format!("exit {}", Pretty(&t))),
                    Cmd::TryAgain(k) => self.log.push(format!("try_again {}", Pretty(&k))),
                    Cmd::Start { start, mfa } => {
                        let args = mfa.args.clone().unwrap_or_default();
                        self.log
                            .push(format!("start {start} {}", Pretty(&list(args))));
                        let o = if self.fail.contains(&start) {
                            StartOutcome::Error(atom("boom"))
                        } else {
                            self.next_pid += 1;
                            StartOutcome::Ok(pid(self.next_pid))
                        };
                        next = Some(core.started(o, self.now));
                    }
                    Cmd::Stop { pid, .. } => {
                        self.log.push(format!("stop {}", pid.id));
                        next = Some(core.stopped(atom("shutdown")));
                    }
                    Cmd::StopAll { pids, .. } => {
                        let ids: Vec<String> = pids.iter().map(|p| p.id.to_string()).collect();
                        self.log.push(format!("stop_all {}", ids.join(",")));
                        let r = pids.into_iter().map(|p| (p, atom("shutdown"))).collect();
                        next = Some(core.stopped_all(r));
                    }
                }
            }
            match next {
                Some(n) => cmds = n,
                None => return,
            }
        }
    }

    fn take(&mut self) -> Vec<String> {
        std::mem::take(&mut self.log)
    }
}

fn running(core: &Core<&'static str>, id: &str) -> Pid {
    core.children()
        .iter()
        .find(|c| c.data.id == atom(id))
        .and_then(|c| match &c.pid {
            ChildPid::Running(p) => Some(p.clone()),
            _ => None,
        })
        .unwrap_or_else(|| panic!("{id} is not running"))
}

fn sup(strategy: Strategy, intensity: u32, ids: &[&str]) -> (Core<&'static str>, Driver) {
    let t0 = Instant::now();
    let mut core = Core::new(
        atom("sup"),
        flags(strategy, intensity, 5),
        ids.iter().map(|i| child(i)).collect(),
        t0,
    );
    let mut d = Driver::new(t0);
    let cmds = core.init();
    d.run(&mut core, cmds);
    assert_eq!(
        d.take(),
        ids.iter()
            .map(|i| format!("start {i} [{i}]"))
            .collect::<Vec<_>>()
    );
    (core, d)
}

#[test]
fn starts_in_order_and_stops_newest_first() {
    let (mut core, mut d) = sup(Strategy::OneForOne, 1, &["a", "b", "c"]);
    let which = Pretty(&core.which_children()).to_string();
    assert!(
        which.starts_with("[{c,<t@h.103.0>,worker,[m]},{b,"),
        "{which}"
    );
    let cmds = core.terminate();
    d.run(&mut core, cmds);
    assert_eq!(d.take(), ["stop 103", "stop 102", "stop 101"]);
}

#[test]
fn a_failed_start_in_init_stops_the_others_and_fails() {
    let t0 = Instant::now();
    let mut core = Core::new(
        atom("sup"),
        flags(Strategy::OneForOne, 1, 5),
        vec![child("a"), child("b"), child("c")],
        t0,
    );
    let mut d = Driver::new(t0);
    d.fail = vec!["c"];
    let cmds = core.init();
    d.run(&mut core, cmds);
    assert_eq!(
        d.take(),
        [
            "start a [a]",
            "start b [b]",
            "start c [c]",
            "report start_error boom",
            "stop 102",
            "stop 101",
            "exit {shutdown,{failed_to_start_child,c,boom}}",
        ]
    );
}

#[test]
fn one_for_one_restarts_only_the_child() {
    let (mut core, mut d) = sup(Strategy::OneForOne, 1, &["a", "b", "c"]);
    let b = running(&core, "b");
    let cmds = core.exit(&b, atom("killed"), d.now);
    d.run(&mut core, cmds);
    assert_eq!(d.take(), ["report child_terminated killed", "start b [b]"]);
    assert_eq!(running(&core, "b"), pid(104));
    // An exit from a pid that is no child any more is ignored.
    let cmds = core.exit(&b, atom("killed"), d.now);
    assert!(cmds.is_empty());
}

#[test]
fn rest_for_one_restarts_the_child_and_those_after_it() {
    let (mut core, mut d) = sup(Strategy::RestForOne, 1, &["a", "b", "c", "d"]);
    let b = running(&core, "b");
    let cmds = core.exit(&b, atom("boom"), d.now);
    d.run(&mut core, cmds);
    assert_eq!(
        d.take(),
        [
            "report child_terminated boom",
            "stop 104",
            "stop 103",
            "start b [b]",
            "start c [c]",
            "start d [d]",
        ]
    );
    assert_eq!(running(&core, "a"), pid(101));
}

#[test]
fn one_for_all_restarts_every_child() {
    let (mut core, mut d) = sup(Strategy::OneForAll, 1, &["a", "b", "c"]);
    let b = running(&core, "b");
    let cmds = core.exit(&b, atom("boom"), d.now);
    d.run(&mut core, cmds);
    assert_eq!(
        d.take(),
        [
            "report child_terminated boom",
            "stop 103",
            "stop 101",
            "start a [a]",
            "start b [b]",
            "start c [c]",
        ]
    );
}

#[test]
fn temporary_children_are_dropped_by_multi_restarts() {
    let t0 = Instant::now();
    let (c, c_start) = child("c");
    let c = (
        ChildData {
            restart: Restart::Temporary,
            ..c
        },
        c_start,
    );
    let mut core = Core::new(
        atom("sup"),
        flags(Strategy::OneForAll, 1, 5),
        vec![child("a"), child("b"), c],
        t0,
    );
    let mut d = Driver::new(t0);
    let cmds = core.init();
    d.run(&mut core, cmds);
    d.take();
    let a = running(&core, "a");
    let cmds = core.exit(&a, atom("boom"), d.now);
    d.run(&mut core, cmds);
    assert_eq!(
        d.take(),
        [
            "report child_terminated boom",
            "stop 103",
            "stop 102",
            "start a [a]",
            "start b [b]"
        ]
    );
    assert_eq!(core.children().len(), 2);
}

#[test]
fn restart_types_decide_on_the_exit_reason() {
    let t0 = Instant::now();
    let mk = |id: &str, r: Restart| {
        let (c, s) = child(id);
        (ChildData { restart: r, ..c }, s)
    };
    let mut core = Core::new(
        atom("sup"),
        flags(Strategy::OneForOne, 10, 5),
        vec![
            mk("p", Restart::Permanent),
            mk("t", Restart::Transient),
            mk("tmp", Restart::Temporary),
        ],
        t0,
    );
    let mut d = Driver::new(t0);
    let cmds = core.init();
    d.run(&mut core, cmds);
    d.take();
    // permanent: restarted even after `normal`, with a report.
    let cmds = core.exit(&running(&core, "p"), atom("normal"), t0);
    d.run(&mut core, cmds);
    assert_eq!(d.take(), ["report child_terminated normal", "start p [p]"]);
    // transient: `{shutdown, _}` is normal — kept without a process, no report.
    let t = running(&core, "t");
    let cmds = core.exit(&t, term!({shutdown, x}), t0);
    d.run(&mut core, cmds);
    assert!(d.take().is_empty());
    assert_eq!(
        Pretty(&core.which_children()).to_string(),
        "[{tmp,<t@h.103.0>,worker,[m]},{t,undefined,worker,[m]},{p,<t@h.104.0>,worker,[m]}]"
    );
    // temporary: reported, then removed.
    let cmds = core.exit(&running(&core, "tmp"), atom("boom"), t0);
    d.run(&mut core, cmds);
    assert_eq!(d.take(), ["report child_terminated boom"]);
    assert_eq!(core.children().len(), 2);
}

#[test]
fn intensity_one_in_five_seconds_by_default() {
    let (mut core, mut d) = sup(Strategy::OneForOne, 1, &["a"]);
    let t0 = d.now;
    // t = 0 s: the first restart is within the intensity.
    let cmds = core.exit(&running(&core, "a"), atom("boom"), t0);
    d.run(&mut core, cmds);
    assert_eq!(d.take(), ["report child_terminated boom", "start a [a]"]);
    // t = 6 s: the restart at 0 s is out of the period.
    d.now = t0 + Duration::from_secs(6);
    let cmds = core.exit(&running(&core, "a"), atom("boom"), d.now);
    d.run(&mut core, cmds);
    assert_eq!(d.take(), ["report child_terminated boom", "start a [a]"]);
    // t = 11 s: 6 s is still counted (R >= Now - Period): two in 5 s.
    d.now = t0 + Duration::from_secs(11);
    let cmds = core.exit(&running(&core, "a"), atom("boom"), d.now);
    d.run(&mut core, cmds);
    assert_eq!(
        d.take(),
        [
            "report child_terminated boom",
            "report shutdown reached_max_restart_intensity",
            "exit shutdown",
        ]
    );
}

#[test]
fn intensity_three_allows_three_restarts_in_the_period() {
    let (mut core, mut d) = sup(Strategy::OneForOne, 3, &["a"]);
    let t0 = d.now;
    for i in 0..3 {
        d.now = t0 + Duration::from_millis(300 * i);
        let cmds = core.exit(&running(&core, "a"), atom("killed"), d.now);
        d.run(&mut core, cmds);
        assert_eq!(d.take(), ["report child_terminated killed", "start a [a]"]);
    }
    d.now = t0 + Duration::from_millis(4900);
    let cmds = core.exit(&running(&core, "a"), atom("killed"), d.now);
    d.run(&mut core, cmds);
    assert_eq!(d.take().last().map(String::as_str), Some("exit shutdown"));
}

#[test]
fn a_failed_restart_is_tried_again_and_counts() {
    let (mut core, mut d) = sup(Strategy::OneForOne, 2, &["a", "b"]);
    d.fail = vec!["b"];
    let b = running(&core, "b");
    let cmds = core.exit(&b, atom("boom"), d.now);
    d.run(&mut core, cmds);
    assert_eq!(
        d.take(),
        [
            "report child_terminated boom",
            "start b [b]",
            "report start_error boom",
            "try_again b",
        ]
    );
    assert_eq!(
        Pretty(&core.which_children()).to_string(),
        "[{b,restarting,worker,[m]},{a,<t@h.101.0>,worker,[m]}]"
    );
    assert_eq!(core.restart_child(&atom("b")).len(), 1);
    d.fail.clear();
    let cmds = core.try_again(&atom("b"), d.now);
    d.run(&mut core, cmds);
    assert_eq!(d.take(), ["start b [b]"]);
    // That was the second restart: the third within the period is too many.
    d.fail = vec!["b"];
    let cmds = core.exit(&running(&core, "b"), atom("boom"), d.now);
    d.run(&mut core, cmds);
    assert_eq!(
        d.take(),
        [
            "report child_terminated boom",
            "report shutdown reached_max_restart_intensity",
            "exit shutdown"
        ]
    );
}

#[test]
fn rest_for_one_failure_marks_the_failed_child_restarting() {
    let (mut core, mut d) = sup(Strategy::RestForOne, 5, &["a", "b", "c"]);
    d.fail = vec!["c"];
    let cmds = core.exit(&running(&core, "b"), atom("boom"), d.now);
    d.run(&mut core, cmds);
    assert_eq!(
        d.take(),
        [
            "report child_terminated boom",
            "stop 103",
            "start b [b]",
            "start c [c]",
            "report start_error boom",
            "try_again c",
        ]
    );
    let w = Pretty(&core.which_children()).to_string();
    assert!(
        w.starts_with("[{c,restarting,worker,[m]},{b,<t@h.104.0>"),
        "{w}"
    );
}

#[test]
fn calls_answer_as_otp() {
    // The answers of ref_sup2 on OTP 25, 27 and 29 (see the module doc).
    let (mut core, mut d) = sup(Strategy::OneForOne, 5, &["a", "b"]);
    let (dd, s) = child("d");
    let cmds = core.start_child(dd.clone(), s);
    d.run(&mut core, cmds);
    assert_eq!(d.take(), ["start d [d]", "reply {ok,<t@h.103.0>}"]);
    let cmds = core.start_child(dd.clone(), s);
    d.run(&mut core, cmds);
    assert_eq!(d.take(), ["reply {error,{already_started,<t@h.103.0>}}"]);
    let cmds = core.terminate_child(&atom("b"), |_| true);
    d.run(&mut core, cmds);
    assert_eq!(d.take(), ["stop 102", "reply ok"]);
    let count = |c: &Core<&'static str>| Pretty(&c.count_children(|_| true)).to_string();
    assert_eq!(
        count(&core),
        "[{specs,3},{active,2},{supervisors,0},{workers,3}]"
    );
    let (bd, bs) = child("b");
    let cmds = core.start_child(bd, bs);
    d.run(&mut core, cmds);
    assert_eq!(d.take(), ["reply {error,already_present}"]);
    let cmds = core.restart_child(&atom("b"));
    d.run(&mut core, cmds);
    assert_eq!(d.take(), ["start b [b]", "reply {ok,<t@h.104.0>}"]);
    assert_eq!(
        Pretty(&core.delete_child(&atom("b"))).to_string(),
        "{error,running}"
    );
    let cmds = core.terminate_child(&atom("a"), |_| true);
    d.run(&mut core, cmds);
    d.take();
    assert_eq!(Pretty(&core.delete_child(&atom("a"))).to_string(), "ok");
    assert_eq!(
        Pretty(&core.delete_child(&atom("a"))).to_string(),
        "{error,not_found}"
    );
    let cmds = core.restart_child(&atom("zz"));
    d.run(&mut core, cmds);
    assert_eq!(d.take(), ["reply {error,not_found}"]);
    assert_eq!(
        Pretty(&core.get_childspec(&atom("d"), |_| true)).to_string(),
        "{ok,#{id => d,modules => [m],restart => permanent,shutdown => 5000,significant => false,start => {m,start_link,[d]},type => worker}}"
    );
    assert_eq!(
        Pretty(&core.which_children()).to_string(),
        "[{d,<t@h.103.0>,worker,[m]},{b,<t@h.104.0>,worker,[m]}]"
    );
    // A start error names the child record, as OTP 25–29 do.
    d.fail = vec!["e"];
    let (ed, es) = child("e");
    let cmds = core.start_child(ed, es);
    d.run(&mut core, cmds);
    assert_eq!(
        d.take(),
        [
            "start e [e]",
            "reply {error,{boom,{child,undefined,e,{m,start_link,[e]},permanent,false,5000,worker,[m]}}}"
        ]
    );
}

#[test]
fn simple_one_for_one_children_come_and_go() {
    let t0 = Instant::now();
    let mut core = Core::new(
        atom("sup"),
        flags(Strategy::SimpleOneForOne, 1, 5),
        vec![child("w")],
        t0,
    );
    let mut d = Driver::new(t0);
    let cmds = core.init();
    assert!(cmds.is_empty());
    for x in [1, 2] {
        let cmds = core.start_dynamic(vec![int(x)]);
        d.run(&mut core, cmds);
    }
    assert_eq!(
        d.take(),
        [
            "start w [w,1]",
            "reply {ok,<t@h.101.0>}",
            "start w [w,2]",
            "reply {ok,<t@h.102.0>}"
        ]
    );
    assert_eq!(
        Pretty(&core.which_children()).to_string(),
        "[{undefined,<t@h.101.0>,worker,[m]},{undefined,<t@h.102.0>,worker,[m]}]"
    );
    // A restart keeps the child's arguments.
    let cmds = core.exit(&pid(101), atom("boom"), t0);
    d.run(&mut core, cmds);
    assert_eq!(d.take(), ["report child_terminated boom", "start w [w,1]"]);
    let cmds = core.terminate_child(&Term::Pid(pid(102)), |_| true);
    d.run(&mut core, cmds);
    assert_eq!(d.take(), ["stop_all 102", "reply ok"]);
    assert_eq!(
        Pretty(&core.count_children(|_| true)).to_string(),
        "[{specs,1},{active,1},{supervisors,0},{workers,1}]"
    );
    let cmds = core.terminate_child(&atom("w"), |_| true);
    d.run(&mut core, cmds);
    assert_eq!(d.take(), ["reply {error,simple_one_for_one}"]);
    let cmds = core.terminate();
    d.run(&mut core, cmds);
    assert_eq!(d.take(), ["stop_all 103"]);
}

#[test]
fn shutdown_verdicts_follow_shutdown_1() {
    let p = Restart::Permanent;
    let t = Restart::Transient;
    let to = Shutdown::Timeout(Duration::from_secs(5));
    let bk = Shutdown::BrutalKill;
    assert!(shutdown_result(p, bk, &atom("killed")).is_ok());
    assert!(shutdown_result(p, to, &atom("shutdown")).is_ok());
    assert!(shutdown_result(p, to, &atom("killed")).is_err());
    assert!(shutdown_result(p, to, &atom("normal")).is_err());
    assert!(shutdown_result(t, to, &atom("normal")).is_ok());
    assert!(shutdown_result(t, bk, &atom("shutdown")).is_ok());
    assert!(shutdown_result(p, bk, &atom("shutdown")).is_err());
}

#[test]
fn the_state_is_otps_record() {
    let (core, _d) = sup(Strategy::OneForOne, 1, &["a"]);
    let s = core.state_term(atom("ref_sup"), list(vec![]));
    assert_eq!(s.elem(0), Some(&atom("state")));
    assert_eq!(s.as_tuple().map(<[Term]>::len), Some(12));
    assert_eq!(
        Pretty(s.elem(3).unwrap()).to_string(),
        "{[a],#{a => {child,<t@h.101.0>,a,{m,start_link,[a]},permanent,false,5000,worker,[m]}}}"
    );
}
