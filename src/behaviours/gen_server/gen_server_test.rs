//! The GenServer behaviour without sockets ([`Node::local`]): callbacks,
//! reply tags of every OTP generation, start errors, stop, exit shapes and
//! multi_call. Expected results are those of OTP 25–29's `gen_server`
//! (`gen_server.erl` / `gen.erl`); where they differ, the comment says so.

use super::*;
use crate::runtime::testkit::{T, in_process, next, wait_dead};
use crate::runtime::{Node, Process};
use crate::term;
use crate::term::{ImproperList, TermExt, int};
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;
use tokio::sync::mpsc;

/// A key-value server that reports `init`, `handle_info` and `terminate`.
struct Kv {
    data: Vec<(Term, Term)>,
    init: Init,
    trap: bool,
    parked: Option<GenFrom>,
    events: mpsc::UnboundedSender<Term>,
}

fn kv(events: &mpsc::UnboundedSender<Term>) -> Kv {
    Kv {
        data: Vec::new(),
        init: Init::Ok,
        trap: false,
        parked: None,
        events: events.clone(),
    }
}

impl GenServer for Kv {
    async fn init(&mut self, p: &mut Process) -> Init {
        p.trap_exit(self.trap);
        self.init.clone()
    }

    async fn handle_call(&mut self, req: Term, from: GenFrom, p: &mut Process) -> CallReply {
        match (req.tuple_tag(), req.elem(1), req.elem(2)) {
            (Some("get"), Some(k), _) => CallReply::Reply(
                self.data
                    .iter()
                    .find(|(key, _)| key == k)
                    .map(|(_, v)| v.clone())
                    .unwrap_or_else(|| atom("undefined")),
            ),
            (Some("put"), Some(k), Some(v)) => {
                self.data.push((k.clone(), v.clone()));
                CallReply::Reply(atom("ok"))
            }
            (Some("park"), _, _) => {
                self.parked = Some(from);
                CallReply::NoReply
            }
            (Some("release"), Some(r), _) => {
                if let Some(f) = self.parked.take() {
                    reply(p, &f, r.clone());
                }
                CallReply::Reply(atom("released"))
            }
            (Some("sleep"), Some(ms), _) => {
                let ms = ms.as_i64().unwrap_or(0).max(0) as u64;
                tokio::time::sleep(Duration::from_millis(ms)).await;
                CallReply::Reply(atom("slept"))
            }
            (Some("stop"), Some(r), _) => CallReply::Stop {
                reason: r.clone(),
                reply: Some(atom("stopping")),
            },
            _ => CallReply::Reply(term!({echo, (req)})),
        }
    }

    async fn handle_cast(&mut self, req: Term, _p: &mut Process) -> Next {
        match (req.tuple_tag(), req.elem(1), req.elem(2)) {
            (Some("put"), Some(k), Some(v)) => {
                self.data.push((k.clone(), v.clone()));
                Next::Continue
            }
            (Some("stop"), Some(r), _) => Next::Stop(r.clone()),
            _ => Next::Continue,
        }
    }

    async fn handle_info(&mut self, msg: Term, _p: &mut Process) -> Next {
        let _ = self.events.send(term!({info, (msg)}));
        Next::Continue
    }

    async fn terminate(&mut self, reason: &Term, _p: &mut Process) {
        let _ = self.events.send(term!({terminate, (reason.clone())}));
    }
}

fn ms(n: u64) -> Timeout {
    Timeout::After(Duration::from_millis(n))
}

#[tokio::test]
async fn call_cast_info_and_a_deferred_reply() {
    let node = Node::local("a@h");
    let (tx, mut rx) = mpsc::unbounded_channel();
    let pid = start(&node, Some(ServerName::local("kv")), kv(&tx))
        .await
        .unwrap();
    assert_eq!(node.whereis("kv"), Some(pid.clone()));
    let got = in_process(&node, |mut p| async move {
        let put = call(&mut p, "kv", term!({put, a, 1}), T).await;
        cast(&p, "kv", term!({put, b, 2}));
        let b = call(&mut p, "kv", term!({get, b}), T).await;
        (put, b)
    })
    .await;
    assert_eq!(got, (Ok(atom("ok")), Ok(int(2))));
    node.send("kv", atom("hello"));
    assert_eq!(next(&mut rx).await, term!({info, hello}));

    // A call left open by handle_call is answered later by another call.
    let parked = {
        let node2 = node.clone();
        tokio::spawn(async move {
            in_process(&node2, |mut p| async move {
                call(&mut p, "kv", term!({ park }), T).await
            })
            .await
        })
    };
    tokio::time::sleep(Duration::from_millis(50)).await;
    let released = in_process(&node, |mut p| async move {
        call(&mut p, "kv", term!({release, later}), T).await
    })
    .await;
    assert_eq!(released, Ok(atom("released")));
    assert_eq!(parked.await.unwrap(), Ok(atom("later")));
}

#[tokio::test]
async fn replies_follow_the_callers_tag() {
    // gen:reply/2: a plain ref (pre-OTP-24) or {Ref, Node} (OTP 25
    // multi_call) gets {Tag, Reply} at the pid; [alias|Ref] at the alias.
    let node = Node::local("a@h");
    let (tx, _rx) = mpsc::unbounded_channel();
    start(&node, Some(ServerName::local("kv")), kv(&tx))
        .await
        .unwrap();
    let (plain, node_tag, alias) = in_process(&node, |mut p| async move {
        let me = Term::Pid(p.pid().clone());
        let r = Term::Reference(Box::new(p.make_ref()));
        let gen_call = |tag: Term| term!({:"$gen_call", {(me.clone()), (tag)}, x});
        p.send("kv", gen_call(r.clone()));
        let plain = p.receive_timeout(T, |m| m.elem(0) == Some(&r)).await;
        let nt = term!({(r.clone()), :"a@h"});
        p.send("kv", gen_call(nt.clone()));
        let node_tag = p.receive_timeout(T, |m| m.elem(0) == Some(&nt)).await;
        let a = Term::Reference(Box::new(p.alias()));
        let at = Term::ImproperList(ImproperList::from((vec![atom("alias")], a)));
        p.send("kv", gen_call(at.clone()));
        let alias = p.receive_timeout(T, |m| m.elem(0) == Some(&at)).await;
        (plain, node_tag, alias)
    })
    .await;
    let echo = term!({echo, x});
    assert_eq!(plain.and_then(|m| m.elem(1).cloned()), Some(echo.clone()));
    assert_eq!(
        node_tag.and_then(|m| m.elem(1).cloned()),
        Some(echo.clone())
    );
    assert_eq!(alias.and_then(|m| m.elem(1).cloned()), Some(echo));
}

#[tokio::test]
async fn stop_from_a_call_replies_after_terminate() {
    let node = Node::local("a@h");
    let (tx, mut rx) = mpsc::unbounded_channel();
    let pid = start(&node, None, kv(&tx)).await.unwrap();
    let p2 = pid.clone();
    let r = in_process(&node, move |mut p| async move {
        call(&mut p, &p2, term!({stop, done}), T).await
    })
    .await;
    assert_eq!(next(&mut rx).await, term!({terminate, done}));
    assert_eq!(r, Ok(atom("stopping")));
    wait_dead(&node, &pid).await;
    // A cast that stops, and gen_server:stop/3.
    let pid = start(&node, None, kv(&tx)).await.unwrap();
    let p2 = pid.clone();
    in_process(&node, move |p| async move {
        cast(&p, &p2, term!({stop, normal}));
    })
    .await;
    assert_eq!(next(&mut rx).await, term!({terminate, normal}));
    wait_dead(&node, &pid).await;
    let pid = start(&node, None, kv(&tx)).await.unwrap();
    let p2 = pid.clone();
    let r = in_process(&node, move |mut p| async move {
        stop(&mut p, &p2, atom("shutdown"), T).await
    })
    .await;
    assert_eq!(r, Ok(()));
    assert_eq!(next(&mut rx).await, term!({terminate, shutdown}));
    wait_dead(&node, &pid).await;
}

#[tokio::test]
async fn start_errors_have_otp_shapes() {
    let node = Node::local("a@h");
    let (tx, _rx) = mpsc::unbounded_channel();
    let first = start(&node, Some(ServerName::local("kv")), kv(&tx))
        .await
        .unwrap();
    let again = start(&node, Some(ServerName::local("kv")), kv(&tx)).await;
    assert_eq!(again, Err(StartError::AlreadyStarted(first.clone())));
    assert_eq!(
        again.unwrap_err().to_term(),
        term!({error, {already_started, (Term::Pid(first))}})
    );
    let ignoring = Kv {
        init: Init::Ignore,
        ..kv(&tx)
    };
    assert_eq!(
        start(&node, Some(ServerName::local("ig")), ignoring).await,
        Err(StartError::Ignore)
    );
    assert_eq!(node.whereis("ig"), None);
    let failing = Kv {
        init: Init::Stop(atom("bad_config")),
        ..kv(&tx)
    };
    let e = start(&node, None, failing).await.unwrap_err();
    assert_eq!(e.to_term(), term!({error, bad_config}));
}

#[tokio::test]
async fn call_exits_name_the_call() {
    let node = Node::local("a@h");
    let (tx, _rx) = mpsc::unbounded_channel();
    start(&node, Some(ServerName::local("kv")), kv(&tx))
        .await
        .unwrap();
    let (noproc, timeout, nodedown, late) = in_process(&node, |mut p| async move {
        p.register("me").unwrap();
        let me = p.pid().clone();
        assert_eq!(
            call(&mut p, "me", atom("x"), T).await.unwrap_err().reason,
            atom("calling_self")
        );
        assert_eq!(
            call(&mut p, &me, atom("x"), T).await.unwrap_err().reason,
            atom("calling_self")
        );
        let noproc = call(&mut p, "nobody", atom("req"), ms(100)).await;
        let sleep = term!({sleep, 300});
        let timeout = call(&mut p, "kv", sleep, ms(50)).await;
        let nodedown = call(&mut p, ("kv", "b@h"), atom("req"), ms(1000)).await;
        // The late reply to the timed-out call never shows up.
        tokio::time::sleep(Duration::from_millis(400)).await;
        let late = p.recv_timeout(Duration::from_millis(10)).await;
        (noproc, timeout, nodedown, late)
    })
    .await;
    let exit = |reason: Term, dest: Term, req: Term, t: Term| term!({(reason), {gen_server, call, [(dest), (req), (t)]}});
    assert_eq!(
        noproc.unwrap_err().to_term(),
        exit(atom("noproc"), atom("nobody"), atom("req"), int(100))
    );
    let timeout = timeout.unwrap_err();
    assert!(timeout.is_timeout());
    assert_eq!(
        timeout.to_term(),
        exit(atom("timeout"), atom("kv"), term!({sleep, 300}), int(50))
    );
    assert_eq!(nodedown.unwrap_err().reason, term!({nodedown, :"b@h"}));
    assert_eq!(late, None);
}

#[tokio::test]
async fn a_server_that_dies_during_a_call_gives_its_exit_reason() {
    let node = Node::local("a@h");
    let (tx, _rx) = mpsc::unbounded_channel();
    let pid = start(&node, Some(ServerName::local("kv")), kv(&tx))
        .await
        .unwrap();
    let n2 = node.clone();
    let killer = pid.clone();
    let r = in_process(&node, move |mut p| async move {
        let t = tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(50)).await;
            n2.exit(&killer, atom("boom"));
        });
        let r = call(&mut p, "kv", term!({sleep, 1000}), T).await;
        let _ = t.await;
        r
    })
    .await;
    assert_eq!(r.unwrap_err().reason, atom("boom"));
}

#[tokio::test]
async fn multi_call_sorts_replies_and_bad_nodes() {
    let node = Node::local("a@h");
    let (tx, _rx) = mpsc::unbounded_channel();
    start(&node, Some(ServerName::local("kv")), kv(&tx))
        .await
        .unwrap();
    let (replies, bad) = in_process(&node, |mut p| async move {
        let nodes = [Atom::from("a@h"), Atom::from("b@h")];
        multi_call(&mut p, &nodes, "kv", atom("hi"), Timeout::Infinity).await
    })
    .await;
    assert_eq!(replies, vec![(Atom::from("a@h"), term!({echo, hi}))]);
    assert_eq!(bad, vec![Atom::from("b@h")]);
    // No server by that name, and a server that does not answer in time.
    let (replies, bad) = in_process(&node, |mut p| async move {
        let me = [Atom::from("a@h")];
        let none = multi_call(&mut p, &me, "nobody", atom("hi"), ms(500)).await;
        let slow = multi_call(&mut p, &me, "kv", term!({sleep, 300}), ms(50)).await;
        tokio::time::sleep(Duration::from_millis(400)).await;
        assert_eq!(
            p.recv_timeout(Duration::from_millis(10)).await,
            None,
            "late reply dropped"
        );
        (none, slow)
    })
    .await;
    assert_eq!(replies, (vec![], vec![Atom::from("a@h")]));
    assert_eq!(bad, (vec![], vec![Atom::from("a@h")]));
}

/// A `{via, test_reg, Name}` registry.
#[derive(Clone, Default)]
struct TestReg(Arc<Mutex<HashMap<String, Pid>>>);

impl NameRegistry for TestReg {
    fn module(&self) -> Atom {
        Atom::from("test_reg")
    }
    fn register_name(&self, name: Term, pid: Pid) -> BoxFuture<'static, bool> {
        let mut m = self.0.lock().unwrap();
        let key = Pretty(&name).to_string();
        let fresh = !m.contains_key(&key);
        if fresh {
            m.insert(key, pid);
        }
        Box::pin(async move { fresh })
    }
    fn unregister_name(&self, name: Term) -> BoxFuture<'static, ()> {
        self.0.lock().unwrap().remove(&Pretty(&name).to_string());
        Box::pin(async {})
    }
    fn whereis_name(&self, name: &Term) -> Option<Pid> {
        self.0
            .lock()
            .unwrap()
            .get(&Pretty(name).to_string())
            .cloned()
    }
}

#[tokio::test]
async fn via_names_and_elixir_names() {
    let node = Node::local("a@h");
    let (tx, _rx) = mpsc::unbounded_channel();
    let reg = TestReg::default();
    let name = ServerName::via(reg.clone(), atom("Elixir.Distro.DistroCal"));
    let pid = start(&node, Some(name.clone()), kv(&tx)).await.unwrap();
    assert_eq!(
        start(&node, Some(name.clone()), kv(&tx)).await,
        Err(StartError::AlreadyStarted(pid))
    );
    let elixir = ServerName::Local(elixir_alias("Distro.DistroCal"));
    start(&node, Some(elixir), kv(&tx)).await.unwrap();
    let r2 = reg.clone();
    let (via, local, missing) = in_process(&node, move |mut p| async move {
        let via = call(&mut p, &name, atom("x"), T).await;
        let local = call(&mut p, "Elixir.Distro.DistroCal", atom("y"), T).await;
        let missing = call(&mut p, ServerRef::via(r2, atom("nope")), atom("z"), T).await;
        (via, local, missing)
    })
    .await;
    assert_eq!(via, Ok(term!({echo, x})));
    assert_eq!(local, Ok(term!({echo, y})));
    let missing = missing.unwrap_err();
    assert_eq!(missing.reason, atom("noproc"));
    assert_eq!(missing.args[0], term!({via, test_reg, nope}));
    assert_eq!(elixir_alias("Elixir.A"), Atom::from("Elixir.A"));
}

#[tokio::test]
async fn a_linked_server_that_traps_exits_terminates_with_its_parent() {
    let node = Node::local("a@h");
    let (tx, mut rx) = mpsc::unbounded_channel();
    let server = Kv {
        trap: true,
        ..kv(&tx)
    };
    // The parent returns right after the start, i.e. exits `normal`; a
    // trapping server gets {'EXIT', Parent, normal} and terminates with it.
    let pid = in_process(&node, |p| async move {
        start_link(&p, None, server).await.unwrap()
    })
    .await;
    assert_eq!(next(&mut rx).await, term!({terminate, normal}));
    wait_dead(&node, &pid).await;
    // A failing init does not take the parent down.
    let failing = Kv {
        init: Init::Stop(atom("nope")),
        ..kv(&tx)
    };
    let (r, alive) = in_process(&node, |p| async move {
        let r = start_link(&p, None, failing).await;
        tokio::time::sleep(Duration::from_millis(50)).await;
        (r, p.node().is_process_alive(p.pid()))
    })
    .await;
    assert_eq!(r, Err(StartError::Init(atom("nope"))));
    assert!(alive);
}

/// A server that uses every [`Then`]: `init` continues, calls and casts
/// set idle timeouts, a continue chain, hibernate.
struct Timed {
    events: mpsc::UnboundedSender<Term>,
}

fn idle_ms(req: &Term) -> Option<Duration> {
    match (req.tuple_tag(), req.elem(1)) {
        (Some("idle"), Some(ms)) => Some(Duration::from_millis(ms.as_i64()? as u64)),
        _ => None,
    }
}

impl GenServer for Timed {
    async fn init(&mut self, _p: &mut Process) -> Init {
        Init::OkThen(Then::Continue(atom("boot")))
    }

    async fn handle_continue(&mut self, arg: Term, _p: &mut Process) -> Next {
        let _ = self.events.send(term!({continue, (arg.clone())}));
        match arg.as_atom() {
            Some("again") => Next::ContinueThen(Then::Continue(atom("last"))),
            _ => Next::Continue,
        }
    }

    async fn handle_call(&mut self, req: Term, _from: GenFrom, _p: &mut Process) -> CallReply {
        if let Some(d) = idle_ms(&req) {
            return CallReply::ReplyThen(atom("ok"), Then::Timeout(d));
        }
        match req.as_atom() {
            Some("chain") => CallReply::ReplyThen(atom("ok"), Then::Continue(atom("again"))),
            Some("hibernate") => CallReply::ReplyThen(atom("ok"), Then::Hibernate),
            _ => {
                let _ = self.events.send(term!({call, (req.clone())}));
                CallReply::Reply(req)
            }
        }
    }

    async fn handle_cast(&mut self, req: Term, _p: &mut Process) -> Next {
        match idle_ms(&req) {
            Some(d) => Next::ContinueThen(Then::Timeout(d)),
            None => Next::Continue,
        }
    }

    async fn handle_info(&mut self, msg: Term, _p: &mut Process) -> Next {
        let _ = self.events.send(term!({info, (msg)}));
        Next::Continue
    }
}

/// `{continue, _}` runs before any message, chains, and `Timeout` gives
/// `handle_info(timeout)` unless a message comes first (gen_server's
/// `loop/7` with `Time`, `handle_continue/2`).
#[tokio::test]
async fn continue_timeout_and_hibernate() {
    let node = Node::local("a@h");
    let (tx, mut rx) = mpsc::unbounded_channel();
    start(
        &node,
        Some(ServerName::local("timed")),
        Timed { events: tx },
    )
    .await
    .unwrap();
    let ev = |tag: &str, t: Term| term!({(atom(tag)), (t)});
    let call1 = |req: Term| {
        let node = node.clone();
        async move {
            in_process(
                &node,
                |mut p| async move { call(&mut p, "timed", req, T).await },
            )
            .await
        }
    };
    // init's continue comes before the first call.
    assert_eq!(call1(atom("ping")).await, Ok(atom("ping")));
    assert_eq!(next(&mut rx).await, ev("continue", atom("boot")));
    assert_eq!(next(&mut rx).await, ev("call", atom("ping")));

    // An idle timeout from a call, then one from a cast.
    let idle = |ms| term!({idle, (int(ms))});
    assert_eq!(call1(idle(30)).await, Ok(atom("ok")));
    assert_eq!(next(&mut rx).await, ev("info", atom("timeout")));
    node.send("timed", term!({:"$gen_cast", (idle(30))}));
    assert_eq!(next(&mut rx).await, ev("info", atom("timeout")));

    // A message before the timeout cancels it; handle_info's plain
    // Continue sets no new one.
    assert_eq!(call1(idle(300)).await, Ok(atom("ok")));
    node.send("timed", atom("poke"));
    assert_eq!(next(&mut rx).await, ev("info", atom("poke")));
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(rx.try_recv().is_err(), "no timeout after the message");

    // A continue chain runs to its end before the next call.
    assert_eq!(call1(atom("chain")).await, Ok(atom("ok")));
    assert_eq!(call1(atom("after")).await, Ok(atom("after")));
    assert_eq!(next(&mut rx).await, ev("continue", atom("again")));
    assert_eq!(next(&mut rx).await, ev("continue", atom("last")));
    assert_eq!(next(&mut rx).await, ev("call", atom("after")));

    // hibernate: the server just goes on.
    assert_eq!(call1(atom("hibernate")).await, Ok(atom("ok")));
    assert_eq!(call1(atom("awake")).await, Ok(atom("awake")));
}

/// `{continue, _}` to a module without `handle_continue/2` stops the
/// server (`undef`), through `terminate`.
#[tokio::test]
async fn continue_without_handle_continue_stops() {
    let node = Node::local("a@h");
    let (tx, mut rx) = mpsc::unbounded_channel();
    let server = Kv {
        init: Init::OkThen(Then::Continue(atom("x"))),
        ..kv(&tx)
    };
    let pid = start(&node, None, server).await.unwrap();
    assert_eq!(next(&mut rx).await, term!({terminate, undef}));
    wait_dead(&node, &pid).await;
}

#[tokio::test]
async fn a_client_calls_and_casts_in_order_from_plain_rust() {
    let node = Node::local("a@h");
    let (tx, _rx) = mpsc::unbounded_channel();
    start(&node, Some(ServerName::local("kv")), kv(&tx))
        .await
        .unwrap();
    let client = node.client();
    assert_ne!(node.whereis("kv").as_ref(), Some(client.pid()));
    // The cast leaves first: the call that follows sees it.
    client.cast("kv", term!({put, b, 2}));
    assert_eq!(client.call("kv", term!({get, b}), T).await, Ok(int(2)));
    let other = client.clone();
    assert_eq!(
        other.call("kv", term!({ hi }), T).await,
        Ok(term!({echo, {hi}}))
    );
    let e = client.call("nosuch", term!({get, b}), T).await.unwrap_err();
    assert_eq!(e.reason, atom("noproc"));
    assert_eq!(
        client.stop("kv", atom("normal"), T).await,
        Ok(()),
        "stop through the client"
    );
    // A killed client process answers every later call with `killed`.
    node.exit(client.pid(), atom("kill"));
    let e = client.call("kv", term!({get, b}), T).await.unwrap_err();
    assert_eq!(e.reason, atom("killed"));
}
