//! The sans-IO application controller: whole output lists for the calls,
//! the `ac_*` exchanges with dist_ac and the restart types, as
//! `application_controller.erl` (OTP 25.2.3) orders them.

use super::app::{RestartType, StartType};
use super::core::{AcCore, CallId, Input, LoadSpec, Output, Request};
use crate::kernel::dist_ac::msg::{ChangeReq, FromAc, StartReply, ToAc};
use crate::term;
use crate::term::{Atom, Pid, Term, TermExt, atom, int};

fn pid(id: u32) -> Pid {
    Pid {
        node: Atom::from("cp1@h"),
        id,
        serial: 0,
        creation: 1,
    }
}

/// The caller of the API calls, dist_ac, and the masters.
fn user() -> Pid {
    pid(10)
}
fn dac() -> Pid {
    pid(20)
}
fn master(n: u32) -> Pid {
    pid(100 + n)
}

fn spec(deps: &[&str], has_phases: bool) -> LoadSpec {
    LoadSpec {
        description: "test app".into(),
        vsn: "1.0".into(),
        applications: deps.iter().map(|d| (*d).to_owned()).collect(),
        env: vec![("par".into(), int(1))],
        has_phases,
    }
}

fn core() -> AcCore {
    let mut c = AcCore::new(Atom::from("cp1@h"), "0.1");
    let boot = drain(&mut c);
    assert_eq!(
        boot,
        vec![
            Output::Load {
                app: "kernel".into(),
                env: vec![]
            },
            Output::Load {
                app: "stdlib".into(),
                env: vec![]
            },
        ]
    );
    c
}

fn drain(c: &mut AcCore) -> Vec<Output> {
    std::iter::from_fn(|| c.poll_output()).collect()
}

fn call(c: &mut AcCore, id: CallId, caller: Pid, req: Request) -> Vec<Output> {
    c.handle(Input::Call { id, caller, req });
    drain(c)
}

fn load(c: &mut AcCore, id: CallId, app: &str, s: LoadSpec) -> Vec<Output> {
    let req = Request::Load {
        app: app.into(),
        spec: Some(s),
    };
    call(c, id, user(), req)
}

fn start(c: &mut AcCore, id: CallId, app: &str, rt: RestartType) -> Vec<Output> {
    let req = Request::Start {
        app: app.into(),
        restart_type: Ok(rt),
    };
    call(c, id, user(), req)
}

fn input(c: &mut AcCore, i: Input) -> Vec<Output> {
    c.handle(i);
    drain(c)
}

fn started(c: &mut AcCore, app: &str, m: Pid) -> Vec<Output> {
    input(
        c,
        Input::MasterStarted {
            app: app.into(),
            result: Ok(m),
        },
    )
}

fn from_dac(c: &mut AcCore, m: ToAc) -> Vec<Output> {
    input(c, Input::DistAc(m))
}

fn reply(call: CallId, reply: Term) -> Output {
    Output::Reply { call, reply }
}

fn to_dac(msg: FromAc) -> Output {
    Output::ToDistAc { to: dac(), msg }
}

fn a(s: &str) -> Atom {
    Atom::from(s)
}

fn names(c: &AcCore) -> Vec<String> {
    c.which_applications()
        .iter()
        .map(|t| match t.as_tuple() {
            Some([Term::Atom(n), ..]) => n.name.clone(),
            _ => panic!("{t}"),
        })
        .collect()
}

/// A local application: load merges its env and answers at once, start
/// spawns a master with `normal` and answers once the master reports;
/// `which_applications` (newest first) and the weight count it.
#[test]
fn local_load_start_and_stop() {
    let mut c = core();
    assert_eq!(c.weight(), 2);
    assert_eq!(
        load(&mut c, 1, "a", spec(&[], false)),
        vec![
            Output::Load {
                app: "a".into(),
                env: vec![("par".into(), int(1))]
            },
            reply(1, atom("ok")),
        ]
    );
    assert_eq!(
        load(&mut c, 2, "a", spec(&[], false)),
        vec![reply(2, term!({error, {already_loaded, a}}))]
    );
    assert_eq!(
        start(&mut c, 3, "a", RestartType::Temporary),
        vec![Output::StartMaster {
            app: "a".into(),
            typ: StartType::Normal
        }]
    );
    assert_eq!(c.weight(), 2, "not running before the master reports");
    assert_eq!(started(&mut c, "a", master(1)), vec![reply(3, atom("ok"))]);
    assert_eq!(names(&c), ["a", "stdlib", "kernel"]);
    assert_eq!(c.weight(), 3);
    assert_eq!(c.runs_here("a"), Some(&StartType::Normal));
    assert_eq!(
        start(&mut c, 4, "a", RestartType::Temporary),
        vec![reply(4, term!({error, {already_started, a}}))]
    );
    // stop_appl/3 first, then the answer.
    assert_eq!(
        call(&mut c, 5, user(), Request::Stop { app: "a".into() }),
        vec![
            Output::StopMaster {
                app: "a".into(),
                master: Some(master(1)),
                typ: RestartType::Temporary
            },
            reply(5, atom("ok")),
        ]
    );
    assert_eq!(names(&c), ["stdlib", "kernel"]);
    assert_eq!(
        call(&mut c, 6, user(), Request::Stop { app: "a".into() }),
        vec![reply(6, term!({error, {not_started, a}}))]
    );
}

/// `check_start_cond/4`: not loaded, dependencies not started; a second
/// start of an application being started waits for the same answer.
#[test]
fn start_conditions_and_waiting_requesters() {
    let mut c = core();
    assert_eq!(
        start(&mut c, 1, "b", RestartType::Temporary),
        vec![reply(1, term!({error, {not_loaded, b}}))]
    );
    load(&mut c, 2, "a", spec(&[], false));
    load(&mut c, 3, "b", spec(&["a"], false));
    assert_eq!(
        start(&mut c, 4, "b", RestartType::Temporary),
        vec![reply(4, term!({error, {not_started, a}}))]
    );
    assert_eq!(start(&mut c, 5, "a", RestartType::Temporary).len(), 1);
    assert_eq!(start(&mut c, 6, "a", RestartType::Temporary), vec![]);
    assert_eq!(
        started(&mut c, "a", master(1)),
        vec![reply(6, atom("ok")), reply(5, atom("ok"))]
    );
    assert_eq!(start(&mut c, 7, "b", RestartType::Temporary).len(), 1);
    started(&mut c, "b", master(2));
    assert_eq!(names(&c), ["b", "a", "stdlib", "kernel"]);
    let bad = Request::from_term(&term!({start_application, a, forever}));
    assert_eq!(
        call(&mut c, 8, user(), bad),
        vec![reply(8, term!({error, {invalid_restart_type, forever}}))]
    );
}

/// `handle_info({'EXIT', ...})`: temporary is only reported, transient
/// stops the node unless the reason is `normal`, permanent always does
/// (after its controller heard `ac_application_stopped`).
#[test]
fn restart_types_decide_what_an_exit_does() {
    let cases = [
        (RestartType::Temporary, atom("crash"), false),
        (RestartType::Transient, atom("normal"), false),
        (RestartType::Transient, atom("crash"), true),
        (RestartType::Permanent, atom("normal"), true),
    ];
    for (rt, reason, halts) in cases {
        let mut c = core();
        load(&mut c, 1, "a", spec(&[], false));
        start(&mut c, 2, "a", rt);
        started(&mut c, "a", master(1));
        let out = input(
            &mut c,
            Input::Exit {
                pid: master(1),
                reason: reason.clone(),
            },
        );
        let want = if halts {
            vec![Output::Terminate {
                reason: format!(
                    "{{application_terminated,a,{}}}",
                    reason.as_atom().unwrap_or_default()
                ),
                sync: None,
            }]
        } else {
            vec![]
        };
        assert_eq!(out, want, "{rt:?} {reason}");
        assert_eq!(names(&c), ["stdlib", "kernel"]);
    }
    // A failed start of a non-temporary application halts at once.
    let mut c = core();
    load(&mut c, 1, "a", spec(&[], false));
    start(&mut c, 2, "a", RestartType::Permanent);
    let out = input(
        &mut c,
        Input::MasterStarted {
            app: "a".into(),
            result: Err(atom("bad")),
        },
    );
    assert_eq!(
        out,
        vec![
            reply(2, term!({error, bad})),
            Output::Halt {
                reason: "{application_start_failure,a,bad}".into()
            },
        ]
    );
    // An exit of something else (a controller) only drops its control.
    assert_eq!(
        input(
            &mut c,
            Input::Exit {
                pid: pid(77),
                reason: atom("x")
            }
        ),
        vec![]
    );
}

/// dist_ac takes control, then load and start go through it:
/// `ac_load_application_req` → `ac_load_application_reply`,
/// `ac_start_application_req` → `start_it` → master →
/// the caller's `ok`, then `ac_application_run`.
#[test]
fn controlled_load_and_start_go_through_dist_ac() {
    let mut c = core();
    let control = Request::from_term(&ToAc::ControlApplication(a("myapp")).to_term());
    assert_eq!(
        call(&mut c, 1, dac(), control.clone()),
        vec![Output::Link(dac()), reply(1, atom("true"))]
    );
    assert_eq!(
        call(&mut c, 2, dac(), control),
        vec![reply(2, atom("false"))]
    );
    assert_eq!(
        load(&mut c, 3, "myapp", spec(&[], false)),
        vec![
            Output::Load {
                app: "myapp".into(),
                env: vec![("par".into(), int(1))]
            },
            to_dac(FromAc::LoadReq(a("myapp"))),
        ]
    );
    assert_eq!(
        from_dac(&mut c, ToAc::LoadReply(a("myapp"))),
        vec![reply(3, atom("ok"))]
    );
    assert_eq!(
        start(&mut c, 4, "myapp", RestartType::Permanent),
        vec![to_dac(FromAc::StartReq(a("myapp")))]
    );
    assert_eq!(
        from_dac(&mut c, ToAc::StartReply(a("myapp"), StartReply::StartIt)),
        vec![Output::StartMaster {
            app: "myapp".into(),
            typ: StartType::Normal
        }]
    );
    assert_eq!(
        started(&mut c, "myapp", master(1)),
        vec![
            reply(4, atom("ok")),
            to_dac(FromAc::Run(a("myapp"), Ok(())))
        ]
    );
    // A permanent controlled application that exits: dist_ac hears it
    // first, and the node waits for dist_ac before it stops.
    assert_eq!(
        input(
            &mut c,
            Input::Exit {
                pid: master(1),
                reason: atom("crash")
            }
        ),
        vec![
            to_dac(FromAc::Stopped(a("myapp"))),
            Output::Terminate {
                reason: "{application_terminated,myapp,crash}".into(),
                sync: Some(dac()),
            },
        ]
    );
}

fn controlled(rt: RestartType, has_phases: bool) -> AcCore {
    let mut c = core();
    let control = Request::ControlApplication {
        app: "myapp".into(),
    };
    call(&mut c, 1, dac(), control);
    load(&mut c, 2, "myapp", spec(&[], has_phases));
    from_dac(&mut c, ToAc::LoadReply(a("myapp")));
    start(&mut c, 3, "myapp", rt);
    c
}

/// `{started, Node}`: the caller gets `ok`, the application counts as
/// running (`is_running`) but not in `which_applications`; then a
/// failover moves it here, `normal` without start phases and
/// `{failover, Node}` with them, with the restart type dist_ac names.
#[test]
fn started_elsewhere_then_failover_here() {
    for has_phases in [false, true] {
        let mut c = controlled(RestartType::Temporary, has_phases);
        assert_eq!(
            from_dac(
                &mut c,
                ToAc::StartReply(a("myapp"), StartReply::Started(a("cp2@h")))
            ),
            vec![reply(3, atom("ok"))]
        );
        assert_eq!(c.weight(), 2);
        assert_eq!(
            call(
                &mut c,
                4,
                user(),
                Request::IsRunning {
                    app: "myapp".into()
                }
            ),
            vec![reply(4, atom("true"))]
        );
        let typ = if has_phases {
            StartType::Failover(a("cp2@h"))
        } else {
            StartType::Normal
        };
        let req = ChangeReq::Failover(a("cp2@h"), Some(a("permanent")));
        assert_eq!(
            from_dac(&mut c, ToAc::ChangeReq(a("myapp"), req)),
            vec![Output::StartMaster {
                app: "myapp".into(),
                typ: typ.clone()
            }]
        );
        // Nobody waits on this start: only dist_ac hears of it.
        assert_eq!(
            started(&mut c, "myapp", master(1)),
            vec![to_dac(FromAc::Run(a("myapp"), Ok(())))]
        );
        assert_eq!(c.runs_here("myapp"), Some(&typ));
        // The restart type came with the failover: permanent now.
        let out = input(
            &mut c,
            Input::Exit {
                pid: master(1),
                reason: atom("normal"),
            },
        );
        assert!(
            matches!(out.last(), Some(Output::Terminate { .. })),
            "{out:?}"
        );
    }
}

/// Takeover: `{takeover, Node}` starts the master with that start type;
/// the old node's AC gets `{started, Node}` and stops its instance;
/// `stop_it` stops it and answers `ac_application_not_run`; a change to a
/// running instance is answered `ac_application_run`.
#[test]
fn takeover_started_elsewhere_and_stop_it() {
    let mut c = controlled(RestartType::Temporary, false);
    assert_eq!(
        from_dac(
            &mut c,
            ToAc::StartReply(a("myapp"), StartReply::Takeover(a("cp2@h")))
        ),
        vec![Output::StartMaster {
            app: "myapp".into(),
            typ: StartType::Takeover(a("cp2@h"))
        }]
    );
    started(&mut c, "myapp", master(1));
    assert_eq!(c.runs_here("myapp"), Some(&StartType::Takeover(a("cp2@h"))));
    for req in [
        ChangeReq::StartIt,
        ChangeReq::Takeover(a("cp3@h"), None),
        ChangeReq::Failover(a("cp3@h"), None),
    ] {
        assert_eq!(
            from_dac(&mut c, ToAc::ChangeReq(a("myapp"), req)),
            vec![to_dac(FromAc::Run(a("myapp"), Ok(())))]
        );
    }
    assert_eq!(
        from_dac(
            &mut c,
            ToAc::ChangeReq(a("myapp"), ChangeReq::Started(a("cp3@h")))
        ),
        vec![Output::StopMaster {
            app: "myapp".into(),
            master: Some(master(1)),
            typ: RestartType::Temporary
        }]
    );
    assert_eq!(c.runs_here("myapp"), None);
    assert_eq!(c.weight(), 2);
    // Taken back: takeover from cp3 (it runs there), then stop_it.
    let req = ChangeReq::Takeover(a("cp3@h"), None);
    assert_eq!(
        from_dac(&mut c, ToAc::ChangeReq(a("myapp"), req)),
        vec![Output::StartMaster {
            app: "myapp".into(),
            typ: StartType::Takeover(a("cp3@h"))
        }]
    );
    started(&mut c, "myapp", master(2));
    assert_eq!(
        from_dac(&mut c, ToAc::ChangeReq(a("myapp"), ChangeReq::StopIt)),
        vec![
            Output::StopMaster {
                app: "myapp".into(),
                master: Some(master(2)),
                typ: RestartType::Temporary
            },
            to_dac(FromAc::NotRun(a("myapp"))),
        ]
    );
    assert_eq!(c.weight(), 2);
    // stop_application of an instance that runs nowhere: dist_ac hears it.
    assert_eq!(
        call(
            &mut c,
            9,
            user(),
            Request::Stop {
                app: "myapp".into()
            }
        ),
        vec![to_dac(FromAc::Stopped(a("myapp"))), reply(9, atom("ok"))]
    );
}

/// `not_started` answers `ok` (the application may start later by
/// `start_it`); `{error, R}` answers the error and halts a permanent one.
#[test]
fn not_started_then_start_it_and_start_errors() {
    let mut c = controlled(RestartType::Temporary, false);
    assert_eq!(
        from_dac(&mut c, ToAc::StartReply(a("myapp"), StartReply::NotStarted)),
        vec![reply(3, atom("ok"))]
    );
    assert_eq!(c.weight(), 2);
    assert_eq!(
        from_dac(&mut c, ToAc::ChangeReq(a("myapp"), ChangeReq::StartIt)),
        vec![Output::StartMaster {
            app: "myapp".into(),
            typ: StartType::Normal
        }]
    );
    assert_eq!(
        started(&mut c, "myapp", master(1)),
        vec![to_dac(FromAc::Run(a("myapp"), Ok(())))]
    );
    let mut c = controlled(RestartType::Permanent, false);
    assert_eq!(
        from_dac(
            &mut c,
            ToAc::StartReply(a("myapp"), StartReply::Error(atom("no")))
        ),
        vec![
            reply(3, term!({error, no})),
            Output::Halt {
                reason: "no".into()
            }
        ]
    );
}

/// `{permit_application, App, Bool}`: the permission goes into kernel's
/// env first; a local application not permitted is stopped; a controlled
/// one is left to dist_ac.
#[test]
fn permit_application() {
    let mut c = core();
    let permit = |app: &str, permitted| Request::Permit {
        app: app.into(),
        permitted,
    };
    let set = |permitted| Output::SetPermission {
        app: "a".into(),
        permitted,
    };
    assert_eq!(
        call(&mut c, 1, user(), permit("a", false)),
        vec![set(false), reply(1, term!({error, {not_loaded, a}}))]
    );
    load(&mut c, 2, "a", spec(&[], false));
    start(&mut c, 3, "a", RestartType::Temporary);
    started(&mut c, "a", master(1));
    assert_eq!(
        call(&mut c, 4, user(), permit("a", false)),
        vec![
            set(false),
            Output::StopMaster {
                app: "a".into(),
                master: Some(master(1)),
                typ: RestartType::Temporary
            },
            reply(4, atom("ok")),
        ]
    );
    let mut c = core();
    let control = Request::ControlApplication {
        app: "myapp".into(),
    };
    call(&mut c, 1, dac(), control);
    load(&mut c, 2, "myapp", spec(&[], false));
    assert_eq!(
        call(&mut c, 3, user(), permit("myapp", true)).last(),
        Some(&reply(3, term!({distributed_application, only_loaded})))
    );
    start(&mut c, 4, "myapp", RestartType::Temporary);
    assert_eq!(
        call(&mut c, 5, user(), permit("myapp", false)).last(),
        Some(&reply(5, atom("distributed_application")))
    );
}

/// The calls as BEAM makes them.
#[test]
fn requests_parse_from_the_call_terms() {
    let cases = [
        (term!(which_applications), Request::WhichApplications),
        (term!(loaded_applications), Request::LoadedApplications),
        (
            term!({which_applications, (int(5000))}),
            Request::WhichApplications,
        ),
        (
            term!({load_application, a}),
            Request::Load {
                app: "a".into(),
                spec: None,
            },
        ),
        (
            term!({start_application, a, permanent}),
            Request::Start {
                app: "a".into(),
                restart_type: Ok(RestartType::Permanent),
            },
        ),
        (
            term!({stop_application, a}),
            Request::Stop { app: "a".into() },
        ),
        (
            term!({control_application, a}),
            Request::ControlApplication { app: "a".into() },
        ),
        (
            term!({permit_application, a, false}),
            Request::Permit {
                app: "a".into(),
                permitted: false,
            },
        ),
        (
            term!({is_running, a}),
            Request::IsRunning { app: "a".into() },
        ),
        (term!({start_application, a, (int(1))}), Request::Other),
        (term!({nonsense, a}), Request::Other),
    ];
    for (t, want) in cases {
        assert_eq!(Request::from_term(&t), want, "{t}");
    }
}
