//! The supervisor process on a [`Node::local`] node: restarts of real
//! gen_servers, the intensity with a paused clock, `init` failures of
//! children, `start_child` with term specs, `shutdown` timeouts, `sys`.

use super::*;
use crate::behaviours::gen_server::{CallReply, GenFrom, Init};
use crate::runtime::testkit::{T, in_process, next, wait_dead};
use crate::term;
use crate::term::{TermExt, charlist, list, map};
use std::time::Duration;
use tokio::sync::mpsc;

/// A worker that reports `init` and `terminate`.
struct W {
    name: &'static str,
    trap: bool,
    init: Init,
    events: mpsc::UnboundedSender<Term>,
}

impl GenServer for W {
    async fn init(&mut self, p: &mut Process) -> Init {
        p.trap_exit(self.trap);
        let _ = self.events.send(term!({init, (atom(self.name))}));
        self.init.clone()
    }

    async fn handle_call(&mut self, _req: Term, _from: GenFrom, _p: &mut Process) -> CallReply {
        CallReply::Reply(atom(self.name))
    }

    async fn terminate(&mut self, reason: &Term, _p: &mut Process) {
        let _ = self
            .events
            .send(term!({terminate, (atom(self.name)), (reason.clone())}));
    }

    fn module(&self) -> Atom {
        Atom::from("w")
    }
}

fn worker(
    name: &'static str,
    trap: bool,
    init: Init,
    tx: &mpsc::UnboundedSender<Term>,
) -> ChildSpec {
    let tx = tx.clone();
    ChildSpec::gen_server(
        atom(name),
        Mfa::new("w", "start_link", vec![atom(name)]),
        Some(ServerName::local(name)),
        move |_| W {
            name,
            trap,
            init: init.clone(),
            events: tx.clone(),
        },
    )
}

async fn new_pid(node: &Node, name: &str, old: &Pid) -> Pid {
    for _ in 0..400 {
        if let Some(p) = node.whereis(name).filter(|p| p != old) {
            return p;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    panic!("{name} was not restarted");
}

#[tokio::test]
async fn a_killed_child_is_restarted_under_its_name() {
    let node = Node::local("a@h");
    let (tx, mut rx) = mpsc::unbounded_channel();
    let spec = SupSpec::new("test_sup")
        .child(worker("a", false, Init::Ok, &tx))
        .child(worker("b", false, Init::Ok, &tx));
    let sup = start(&node, Some(ServerName::local("test_sup")), spec)
        .await
        .unwrap();
    assert_eq!(next(&mut rx).await, term!({init, a}));
    assert_eq!(next(&mut rx).await, term!({init, b}));
    let a1 = node.whereis("a").unwrap();
    node.exit(&a1, atom("kill"));
    let a2 = new_pid(&node, "a", &a1).await;
    assert_eq!(next(&mut rx).await, term!({init, a}));
    let (which, count) = in_process(&node, |mut p| async move {
        let w = which_children(&mut p, "test_sup").await.unwrap();
        let c = count_children(&mut p, "test_sup").await.unwrap();
        (w, c)
    })
    .await;
    let b = node.whereis("b").unwrap();
    let entry = |id: &str, pid: &Pid| term!({(atom(id)), (Term::Pid(pid.clone())), worker, [w]});
    assert_eq!(which, list(vec![entry("b", &b), entry("a", &a2)]));
    assert_eq!(
        crate::term::Pretty(&count).to_string(),
        "[{specs,2},{active,2},{supervisors,0},{workers,2}]"
    );
    assert!(node.is_process_alive(&sup));
}

#[tokio::test(start_paused = true)]
async fn more_restarts_than_the_intensity_shut_the_supervisor_down() {
    let node = Node::local("a@h");
    let (tx, mut rx) = mpsc::unbounded_channel();
    // Default flags: 1 restart in 5 s. `b` traps exits, so it terminates.
    let spec = SupSpec::new("test_sup")
        .child(worker("a", false, Init::Ok, &tx))
        .child(worker("b", true, Init::Ok, &tx));
    let sup = start(&node, None, spec).await.unwrap();
    let (watch_tx, watch_rx) = tokio::sync::oneshot::channel();
    let s = sup.clone();
    node.spawn(move |mut p| async move {
        let r = Term::Reference(Box::new(p.monitor(&s)));
        let d = p
            .receive(|m| m.tuple_tag() == Some("DOWN") && m.elem(1) == Some(&r))
            .await;
        let _ = watch_tx.send(d.elem(4).cloned());
    });
    next(&mut rx).await;
    next(&mut rx).await;
    let a1 = node.whereis("a").unwrap();
    node.exit(&a1, atom("kill"));
    let a2 = new_pid(&node, "a", &a1).await;
    next(&mut rx).await;
    // 6 s later the first restart no longer counts.
    tokio::time::advance(Duration::from_secs(6)).await;
    node.exit(&a2, atom("kill"));
    let a3 = new_pid(&node, "a", &a2).await;
    next(&mut rx).await;
    // Within the same second: two restarts in 5 s.
    node.exit(&a3, atom("kill"));
    assert_eq!(next(&mut rx).await, term!({terminate, b, shutdown}));
    assert_eq!(watch_rx.await.unwrap(), Some(atom("shutdown")));
    wait_dead(&node, &sup).await;
    assert_eq!(node.whereis("b"), None);
}

#[tokio::test]
async fn child_init_stop_fails_the_supervisor_and_ignore_leaves_no_process() {
    let node = Node::local("a@h");
    let (tx, mut rx) = mpsc::unbounded_channel();
    let spec = SupSpec::new("test_sup")
        .child(worker("a", true, Init::Ok, &tx))
        .child(worker("bad", false, Init::Stop(atom("boom")), &tx));
    let r = start(&node, None, spec).await;
    assert_eq!(
        r,
        Err(StartError::Init(
            term!({shutdown, {failed_to_start_child, bad, boom}})
        ))
    );
    assert_eq!(next(&mut rx).await, term!({init, a}));
    assert_eq!(next(&mut rx).await, term!({init, bad}));
    assert_eq!(next(&mut rx).await, term!({terminate, a, shutdown}));
    let spec = SupSpec::new("test_sup")
        .child(worker("ig", false, Init::Ignore, &tx))
        .child(worker("a", false, Init::Ok, &tx));
    let sup = start(&node, None, spec).await.unwrap();
    let which = in_process(&node, move |mut p| async move {
        which_children(&mut p, &sup).await.unwrap()
    })
    .await;
    assert_eq!(
        crate::term::Pretty(&which.as_list().unwrap()[1]).to_string(),
        "{ig,undefined,worker,[w]}"
    );
}

#[tokio::test]
async fn start_child_with_a_term_spec_uses_the_code_the_supervisor_knows() {
    let node = Node::local("a@h");
    let (tx, _rx) = mpsc::unbounded_channel();
    let spec = SupSpec::new("test_sup").child(worker("a", false, Init::Ok, &tx));
    let sup = start(&node, None, spec).await.unwrap();
    let spec_of = |id: &str, m: &str| {
        map(vec![
            (atom("id"), atom(id)),
            (atom("start"), term!({(atom(m)), start_link, []})),
        ])
    };
    let (ok, undef, bad) = in_process(&node, move |mut p| async move {
        // `w:start_link` is the start function of child `a`: a second
        // child with another id runs the same code (registered as `a`,
        // so it fails with already_started).
        let ok = start_child(&mut p, &sup, spec_of("a2", "w")).await.unwrap();
        let undef = start_child(&mut p, &sup, spec_of("x", "nomod"))
            .await
            .unwrap();
        let bad = start_child(&mut p, &sup, map(vec![(atom("id"), atom("y"))]))
            .await
            .unwrap();
        (ok, undef, bad)
    })
    .await;
    let a = node.whereis("a").unwrap();
    assert_eq!(
        crate::term::Pretty(&ok).to_string(),
        format!(
            "{{error,{{{{already_started,{}}},{{child,undefined,a2,{{w,start_link,[]}},permanent,false,5000,worker,[w]}}}}}}",
            crate::term::Pretty(&Term::Pid(a))
        )
    );
    assert_eq!(
        crate::term::Pretty(&undef).to_string(),
        "{error,{{'EXIT',{undef,[{nomod,start_link,[],[]}]}},{child,undefined,x,{nomod,start_link,[]},permanent,false,5000,worker,[nomod]}}}"
    );
    assert_eq!(bad, term!({error, missing_start}));
}

#[tokio::test(start_paused = true)]
async fn a_child_that_ignores_shutdown_is_killed_after_its_timeout() {
    let node = Node::local("a@h");
    let stubborn = start_fn(|p, _args| {
        Box::pin(async move {
            let pid = p.spawn_link(|c| async move {
                c.trap_exit(true);
                let mut c = c;
                loop {
                    c.recv().await;
                }
            });
            StartOutcome::Ok(pid)
        })
    });
    let spec = SupSpec::new("test_sup").child(
        ChildSpec::new(atom("s"), Mfa::new("s", "start_link", vec![]), stubborn)
            .shutdown(Shutdown::Timeout(Duration::from_secs(1))),
    );
    let sup = start(&node, None, spec).await.unwrap();
    let (child, r, t) = in_process(&node, move |mut p| async move {
        let w = which_children(&mut p, &sup).await.unwrap();
        let child = w.as_list().unwrap()[0].elem(1).cloned().unwrap();
        let t0 = tokio::time::Instant::now();
        let r = terminate_child(&mut p, &sup, atom("s")).await.unwrap();
        (child, r, t0.elapsed())
    })
    .await;
    assert_eq!(r, atom("ok"));
    assert!(t >= Duration::from_secs(1), "{t:?}");
    assert!(!node.is_process_alive(child.as_pid().unwrap()));
}

#[tokio::test]
async fn the_supervisor_answers_sys_like_otps() {
    let node = Node::local("a@h");
    let (tx, _rx) = mpsc::unbounded_channel();
    let spec = SupSpec::new("test_sup")
        .intensity(3)
        .child(worker("a", false, Init::Ok, &tx));
    let sup = start(&node, Some(ServerName::local("test_sup")), spec)
        .await
        .unwrap();
    let (state, status) = in_process(&node, |mut p| async move {
        let s = crate::behaviours::sys::get_state(&mut p, "test_sup", T)
            .await
            .unwrap();
        let st = crate::behaviours::sys::get_status(&mut p, "test_sup", T)
            .await
            .unwrap();
        (s, st)
    })
    .await;
    assert_eq!(state.elem(0), Some(&atom("state")));
    assert_eq!(state.elem(1), Some(&term!({local, test_sup})));
    assert_eq!(state.elem(5), Some(&crate::term::uint(3)));
    let s = Term::Pid(sup.clone());
    let [tag, pid, module, info] = status.as_tuple().unwrap() else {
        panic!("{status:?}")
    };
    assert_eq!((tag, pid), (&atom("status"), &s));
    assert_eq!(module, &term!({module, gen_server}));
    let info = info.as_list().unwrap();
    assert_eq!(
        info[0],
        list(vec![
            term!({:"$initial_call", {supervisor, test_sup, 1}}),
            term!({:"$ancestors", []}),
        ])
    );
    let misc = info[4].as_list().unwrap();
    assert_eq!(
        misc[0],
        term!({header, (charlist("Status for generic server test_sup"))})
    );
    assert_eq!(
        misc[3],
        term!({supervisor, [{(charlist("Callback")), test_sup}]})
    );
}

/// A dynamic child: a gen_server whose state is its start argument.
struct Dynamic(Term);

impl GenServer for Dynamic {
    async fn handle_call(&mut self, _req: Term, _from: GenFrom, _p: &mut Process) -> CallReply {
        CallReply::Reply(self.0.clone())
    }
}

#[tokio::test]
async fn simple_one_for_one_starts_restarts_and_stops_dynamic_children() {
    let node = Node::local("a@h");
    let spec = SupSpec::new("pool_sup")
        .strategy(Strategy::SimpleOneForOne)
        .intensity(5)
        .child(ChildSpec::gen_server(
            atom("worker"),
            Mfa::new("pool_worker", "start_link", vec![]),
            None,
            |args| Dynamic(args.first().cloned().unwrap_or_else(|| atom("none"))),
        ));
    let sup = start(&node, Some(ServerName::local("pool_sup")), spec)
        .await
        .unwrap();
    let s = sup.clone();
    let (p1, p2, which) = in_process(&node, move |mut p| async move {
        let r1 = start_child(&mut p, &s, list(vec![atom("one")]))
            .await
            .unwrap();
        let r2 = start_child(&mut p, &s, list(vec![atom("two")]))
            .await
            .unwrap();
        let which = which_children(&mut p, &s).await.unwrap();
        (
            r1.elem(1).cloned().unwrap(),
            r2.elem(1).cloned().unwrap(),
            which,
        )
    })
    .await;
    assert_eq!(which.as_list().unwrap().len(), 2);
    let p1 = p1.as_pid().unwrap().clone();
    node.exit(&p1, atom("kill"));
    // Restarted with the same arguments: a new child answering `one`.
    let mut again = None;
    for _ in 0..400 {
        let s = sup.clone();
        let w = in_process(&node, move |mut p| async move {
            which_children(&mut p, &s).await.unwrap()
        })
        .await;
        let pids: Vec<Pid> = w
            .as_list()
            .unwrap()
            .iter()
            .filter_map(|c| c.elem(1).and_then(TermExt::as_pid).cloned())
            .collect();
        if pids.len() == 2 && !pids.contains(&p1) {
            again = pids.into_iter().find(|p| Some(p) != p2.as_pid());
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let again = again.expect("restarted");
    let (answer, stop, count, delete) = in_process(&node, move |mut p| async move {
        let a = gen_server::call(&mut p, again, atom("who"), T)
            .await
            .unwrap();
        let st = terminate_child(&mut p, &sup, p2).await.unwrap();
        let c = count_children(&mut p, &sup).await.unwrap();
        let d = delete_child(&mut p, &sup, atom("worker")).await.unwrap();
        (a, st, c, d)
    })
    .await;
    assert_eq!(answer, atom("one"));
    assert_eq!(stop, atom("ok"));
    assert_eq!(
        crate::term::Pretty(&count).to_string(),
        "[{specs,1},{active,1},{supervisors,0},{workers,1}]"
    );
    assert_eq!(delete, term!({error, simple_one_for_one}));
}

#[tokio::test]
async fn a_start_function_that_panics_is_a_failed_start() {
    let node = Node::local("a@h");
    let boom = start_fn(|_p, _args| Box::pin(async { panic!("no child today") }));
    let spec = SupSpec::new("test_sup").child(ChildSpec::new(
        atom("p"),
        Mfa::new("p", "start_link", vec![]),
        boom,
    ));
    assert_eq!(
        start(&node, None, spec).await,
        Err(StartError::Init(
            term!({shutdown, {failed_to_start_child, p, {EXIT, panic}}})
        ))
    );
}
