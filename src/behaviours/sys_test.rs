//! The `sys` protocol: debug commands as `sys:debug_cmd/2` answers them,
//! and a gen_server's answers to `get_state`, `get_status`, `suspend`,
//! `resume`, `replace_state`, `statistics`, `log` and unknown requests on a
//! [`Node::local`] node (expected values are OTP 25–29's, see
//! `tests/integration/supervisor.rs` for the comparison with BEAM).

use super::sys::*;
use super::sys::{header, mfa};
use crate::behaviours::gen_server::{self, CallReply, GenFrom, GenServer, ServerName};
use crate::runtime::testkit::{T, in_process};
use crate::runtime::{Node, Process};
use crate::term;
use crate::term::{Pretty, Term, TermExt, atom, charlist, int, uint};
use std::time::Duration;

#[test]
fn headers_as_gen_formats_them() {
    assert_eq!(
        header("Status for generic server", &atom("foo")),
        charlist("Status for generic server foo")
    );
    let t = term!({a, b});
    assert_eq!(
        header("Status for generic server", &t),
        term!({(charlist("Status for generic server")), (t.clone())})
    );
}

#[test]
fn debug_commands_answer_as_sys_does() {
    let mut s = Sys::default();
    let n = atom("srv");
    let stats = |flag: &str| term!({statistics, (atom(flag))});
    let no = term!({ok, no_statistics});
    assert_eq!(s.debug_cmd(&n, &stats("get")), no);
    assert_eq!(s.debug_cmd(&n, &stats("true")), atom("ok"));
    s.event(&n, &Event::In(atom("x")));
    s.event(&n, &Event::NoReply(atom("st")));
    let got = s.debug_cmd(&n, &stats("get"));
    let l = got.elem(1).and_then(TermExt::as_list).unwrap().into_owned();
    assert_eq!(l[3], term!({messages_in, (uint(1))}));
    assert_eq!(l[4], term!({messages_out, (uint(0))}));
    assert_eq!(s.debug_cmd(&n, &stats("false")), atom("ok"));
    assert_eq!(s.debug_cmd(&n, &stats("get")), no);
    let log = |a: Term| term!({log, (a)});
    assert_eq!(s.debug_cmd(&n, &log(atom("get"))), term!({ok, []}));
    s.debug_cmd(&n, &log(term!({true, 2})));
    for i in 0..3 {
        s.event(&n, &Event::In(int(i)));
    }
    assert_eq!(
        s.debug_cmd(&n, &log(atom("get"))),
        term!({ok, [{in, 1}, {in, 2}]})
    );
    assert_eq!(s.debug_cmd(&n, &atom("foo")), atom("unknown_debug"));
    assert_eq!(s.debug_cmd(&n, &atom("no_debug")), atom("ok"));
    assert!(!s.is_debugging());
}

#[test]
fn exits_name_the_sys_function() {
    let n = atom("srv");
    assert_eq!(mfa(&n, &atom("get_state")), ("get_state", vec![n.clone()]));
    let st = term!({debug, {statistics, get}});
    assert_eq!(mfa(&n, &st), ("statistics", vec![n.clone(), atom("get")]));
}

/// A counter whose state is a term.
struct Counter(i64);

impl GenServer for Counter {
    async fn handle_call(&mut self, req: Term, _from: GenFrom, _p: &mut Process) -> CallReply {
        self.0 += req.as_i64().unwrap_or(0);
        CallReply::Reply(int(self.0))
    }

    fn module(&self) -> crate::term::Atom {
        crate::term::Atom::from("counter")
    }

    fn get_state(&self) -> Term {
        int(self.0)
    }

    fn replace_state(&mut self, state: Term) -> Result<(), Term> {
        self.0 = state.as_i64().ok_or_else(|| atom("badarg"))?;
        Ok(())
    }
}

#[tokio::test]
async fn get_status_is_otps_format() {
    let node = Node::local("a@h");
    let pid = gen_server::start(&node, Some(ServerName::local("cnt")), Counter(5))
        .await
        .unwrap();
    let (state, status) = in_process(&node, |mut p| async move {
        (
            get_state(&mut p, "cnt", T).await.unwrap(),
            get_status(&mut p, "cnt", T).await.unwrap(),
        )
    })
    .await;
    assert_eq!(state, int(5));
    let me = Term::Pid(pid);
    let expected = term!({status, (me.clone()), {module, gen_server}, [[{:"$initial_call", {counter, init, 1}}, {:"$ancestors", []}], running, (me.clone()), [], [{header, (charlist("Status for generic server cnt"))}, {data, [{(charlist("Status")), running}, {(charlist("Parent")), (me.clone())}, {(charlist("Logged events")), []}]}, {data, [{(charlist("State")), 5}]}]]});
    assert_eq!(status, expected);
}

#[tokio::test]
async fn suspend_holds_calls_until_resume() {
    let node = Node::local("a@h");
    gen_server::start(&node, Some(ServerName::local("cnt")), Counter(0))
        .await
        .unwrap();
    let (held, status, after) = in_process(&node, |mut p| async move {
        suspend(&mut p, "cnt", T).await.unwrap();
        let held = gen_server::call(&mut p, "cnt", int(1), Duration::from_millis(100)).await;
        let st = get_status(&mut p, "cnt", T).await.unwrap();
        resume(&mut p, "cnt", T).await.unwrap();
        // The held call ran after resume (its reply was dropped): 1 + 2.
        let after = gen_server::call(&mut p, "cnt", int(2), T).await;
        (held, st, after)
    })
    .await;
    assert!(held.unwrap_err().is_timeout());
    let info = status
        .elem(3)
        .and_then(TermExt::as_list)
        .unwrap()
        .into_owned();
    assert_eq!(info[1], atom("suspended"));
    assert_eq!(after, Ok(int(3)));
}

#[tokio::test]
async fn statistics_log_and_unknown_requests() {
    let node = Node::local("a@h");
    gen_server::start(&node, Some(ServerName::local("cnt")), Counter(0))
        .await
        .unwrap();
    let got = in_process(&node, |mut p| async move {
        let no = statistics(&mut p, "cnt", "get", T).await.unwrap();
        statistics(&mut p, "cnt", "true", T).await.unwrap();
        let log_on = term!({debug, {log, true}});
        send_system_msg(&mut p, "cnt", log_on, T).await.unwrap();
        gen_server::call(&mut p, "cnt", int(4), T).await.unwrap();
        let stats = statistics(&mut p, "cnt", "get", T).await.unwrap();
        let log_get = term!({debug, {log, get}});
        let log = send_system_msg(&mut p, "cnt", log_get, T).await.unwrap();
        let unknown = send_system_msg(&mut p, "cnt", atom("foo"), T)
            .await
            .unwrap();
        let replace = replace_state(&mut p, "cnt", atom("not_a_fun"), T)
            .await
            .unwrap_err()
            .reason;
        (no, stats, log, unknown, replace)
    })
    .await;
    let (no, stats, log, unknown, replace) = got;
    assert_eq!(no, term!({ok, no_statistics}));
    let stats = stats
        .elem(1)
        .and_then(TermExt::as_list)
        .unwrap()
        .into_owned();
    assert_eq!(stats[3], term!({messages_in, (uint(1))}));
    assert_eq!(stats[4], term!({messages_out, (uint(1))}));
    let events = log.elem(1).and_then(TermExt::as_list).unwrap().into_owned();
    assert_eq!(events.len(), 2, "{}", Pretty(&log));
    assert_eq!(events[0].elem(0), Some(&atom("in")));
    assert_eq!(events[1].elem(0), Some(&atom("out")));
    assert_eq!(events[1].elem(1), Some(&int(4)));
    assert_eq!(events[1].elem(3), Some(&int(4)));
    assert_eq!(unknown, term!({error, {unknown_system_msg, foo}}));
    // No node can run this "fun" (a local node has no erpc service).
    assert_eq!(replace.elem(0), Some(&atom("callback_failed")));
}

#[tokio::test]
async fn a_dead_server_gives_the_exit_of_sys() {
    let node = Node::local("a@h");
    let r = in_process(&node, |mut p| async move {
        get_state(&mut p, "nobody", T).await
    })
    .await;
    let e = r.unwrap_err();
    assert_eq!(
        e.to_term(),
        term!({noproc, {sys, get_state, [nobody, 2000]}})
    );
}
