//! Unit tests of the pg scope core: what it sends each kind of peer, and a
//! small simulated cluster of cores that must agree on membership.

use super::core::{Input, Output, ScopeCore};
use super::msg::{self, Request};
use crate::runtime::{Dest, GenFrom};
use crate::term;
use crate::term::{Atom, Pid, Reference, Term, TermExt, atom, int, list};
use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

fn pid(node: &str, id: u32) -> Pid {
    Pid::new(node, id, 0, 1)
}

fn refs(node: &'static str) -> Box<dyn FnMut() -> Reference + Send> {
    let n = Arc::new(AtomicU32::new(0));
    Box::new(move || Reference {
        node: Atom::from(node),
        id: vec![n.fetch_add(1, Ordering::Relaxed) + 1, 0, 0],
        creation: 1,
    })
}

fn core(node: &'static str) -> ScopeCore {
    ScopeCore::new(Atom::from("pg"), pid(node, 1), refs(node))
}

fn drain(c: &mut ScopeCore) -> Vec<Output> {
    std::iter::from_fn(|| c.poll_output()).collect()
}

fn pids(ps: &[&Pid]) -> Term {
    list(ps.iter().map(|p| Term::Pid((*p).clone())).collect())
}

fn api(c: &mut ScopeCore, caller: Option<&Pid>, request: Request) -> (Term, Vec<Output>) {
    c.handle(Input::Api {
        token: 7,
        caller: caller.cloned(),
        request,
    });
    let out = drain(c);
    let reply = out
        .iter()
        .find_map(|o| match o {
            Output::ApiReply { token: 7, reply } => Some(reply.clone()),
            _ => None,
        })
        .expect("an API reply");
    (reply, out)
}

fn join(c: &mut ScopeCore, group: Term, ps: &[&Pid]) -> Vec<Output> {
    let pids = ps.iter().map(|p| (*p).clone()).collect();
    let (r, out) = api(c, None, Request::Join { group, pids });
    assert_eq!(r, atom("ok"));
    out
}

fn sends_to(out: &[Output], to: &Pid) -> Vec<Term> {
    out.iter()
        .filter_map(|o| match o {
            Output::Send {
                to: Dest::Pid(p),
                msg,
            }
            | Output::SendNoConnect {
                to: Dest::Pid(p),
                msg,
            } if p == to => Some(msg.clone()),
            _ => None,
        })
        .collect()
}

fn monitor_ref(out: &[Output], of: &Pid) -> Reference {
    out.iter()
        .find_map(|o| match o {
            Output::Monitor { pid, reference } if pid == of => Some(reference.clone()),
            _ => None,
        })
        .expect("a monitor")
}

fn down(r: &Reference, p: &Pid) -> Input {
    Input::Message(
        term!({DOWN, (Term::Reference(Box::new(r.clone()))), process, (Term::Pid(p.clone())), noconnection}),
    )
}

fn discover2(peer: &Pid) -> Input {
    Input::Message(term!({discover, (Term::Pid(peer.clone()))}))
}

fn discover3(peer: &Pid, v: i64) -> Input {
    Input::Message(term!({discover, (Term::Pid(peer.clone())), (int(v))}))
}

#[test]
fn an_otp25_peer_gets_sync_and_the_two_tuple_discover() {
    let mut c = core("r@h");
    let m = pid("r@h", 10);
    join(&mut c, atom("g"), &[&m]);
    let peer = pid("b@h", 1);
    c.handle(discover2(&peer));
    let out = drain(&mut c);
    let to_peer = sends_to(&out, &peer);
    assert_eq!(
        to_peer,
        vec![
            msg::sync(&pid("r@h", 1), &[(atom("g"), vec![m.clone()])]),
            term!({discover, (Term::Pid(pid("r@h", 1)))}),
        ]
    );
    monitor_ref(&out, &peer);
    // A join now goes as {join, Me, G, Pids}.
    let out = join(&mut c, atom("h"), &[&m]);
    assert_eq!(
        sends_to(&out, &peer),
        vec![term!({join, (Term::Pid(pid("r@h", 1))), h, (pids(&[&m]))})]
    );
}

#[test]
fn an_otp29_peer_gets_local_data_and_updates() {
    let mut c = core("r@h");
    let me = pid("r@h", 1);
    let m = pid("r@h", 10);
    let mref = monitor_ref(&join(&mut c, atom("g"), &[&m]), &m);
    let peer = pid("b@h", 1);
    c.handle(discover3(&peer, 1));
    let out = drain(&mut c);
    let to_peer = sends_to(&out, &peer);
    assert_eq!(to_peer.len(), 2);
    let cast = to_peer[0].elem(1).expect("a cast");
    assert_eq!(cast.tuple_tag(), Some("local_data"));
    assert_eq!(cast.elem(2), Some(&int(1)));
    assert_eq!(to_peer[1], msg::discover(&me, true));
    let out = join(&mut c, atom("h"), &[&m]);
    assert_eq!(
        sends_to(&out, &peer),
        vec![term!({update, (Term::Pid(me.clone())), [{h, (pids(&[&m])), []}]})]
    );
    // The member dies: one update removing it from both groups.
    c.handle(down(&mref, &m));
    let out = drain(&mut c);
    let sent = sends_to(&out, &peer);
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].tuple_tag(), Some("update"));
    assert!(c.table().read().unwrap().is_empty());
}

#[test]
fn nodeup_discovers_with_the_form_the_node_accepts() {
    let mut c = core("r@h");
    for (versioned, arity) in [(false, 2), (true, 3)] {
        c.handle(Input::NodeUp {
            node: Atom::from("b@h"),
            versioned,
        });
        let out = drain(&mut c);
        assert_eq!(out.len(), 1);
        let Output::SendNoConnect {
            to: Dest::Remote(name, node),
            msg,
        } = &out[0]
        else {
            panic!("{out:?}")
        };
        assert_eq!((name.name.as_str(), node.name.as_str()), ("pg", "b@h"));
        assert_eq!(msg.as_tuple().map(<[Term]>::len), Some(arity));
    }
    c.handle(Input::NodeUp {
        node: Atom::from("r@h"),
        versioned: true,
    });
    assert!(drain(&mut c).is_empty(), "no discover to itself");
}

#[test]
fn peer_members_come_and_go_with_sync_join_leave_update_and_down() {
    let mut c = core("r@h");
    let watcher = pid("r@h", 50);
    let (r, _) = api(&mut c, Some(&watcher), Request::MonitorScope);
    let mref = r.elem(0).and_then(TermExt::as_reference).unwrap().clone();
    let peer = pid("b@h", 1);
    let (b1, b2) = (pid("b@h", 10), pid("b@h", 11));
    let sync = |groups: Vec<Term>| {
        Input::Message(term!({:"$gen_cast", {sync, (Term::Pid(peer.clone())), (list(groups))}}))
    };
    c.handle(sync(vec![term!({g, (pids(&[&b1, &b2]))})]));
    let out = drain(&mut c);
    let peer_ref = monitor_ref(&out, &peer);
    assert_eq!(
        sends_to(&out, &watcher),
        vec![msg::notification(
            &mref,
            true,
            &atom("g"),
            &[b1.clone(), b2.clone()]
        )]
    );
    // A second sync replaces the first: b2 left g, b1 joined h.
    c.handle(sync(vec![
        term!({g, (pids(&[&b1]))}),
        term!({h, (pids(&[&b1]))}),
    ]));
    let out = drain(&mut c);
    assert_eq!(
        sends_to(&out, &watcher),
        vec![
            msg::notification(&mref, false, &atom("g"), std::slice::from_ref(&b2)),
            msg::notification(&mref, true, &atom("h"), std::slice::from_ref(&b1)),
        ]
    );
    let t = c.table();
    assert_eq!(t.read().unwrap().members(&atom("g")), vec![b1.clone()]);
    c.handle(Input::Message(
        term!({leave, (Term::Pid(peer.clone())), (Term::Pid(b1.clone())), [g, nope]}),
    ));
    c.handle(Input::Message(
        term!({join, (Term::Pid(peer.clone())), k, (Term::Pid(b2.clone()))}),
    ));
    c.handle(Input::Message(
        term!({update, (Term::Pid(peer.clone())), [{h, (pids(&[&b2])), (pids(&[&b1]))}]}),
    ));
    drain(&mut c);
    assert_eq!(t.read().unwrap().groups(), vec![atom("h"), atom("k")]);
    assert_eq!(t.read().unwrap().members(&atom("h")), vec![b2.clone()]);
    assert!(t.read().unwrap().local_members(&atom("h")).is_empty());
    // Its node goes down: all its members leave.
    c.handle(down(&peer_ref, &peer));
    drain(&mut c);
    assert!(t.read().unwrap().is_empty());
    // Late messages from a peer no longer known are ignored.
    c.handle(Input::Message(
        term!({join, (Term::Pid(peer.clone())), k, (Term::Pid(b2.clone()))}),
    ));
    assert!(drain(&mut c).is_empty());
    assert!(t.read().unwrap().is_empty());
}

#[test]
fn leave_takes_one_join_and_says_not_joined() {
    let mut c = core("r@h");
    let m = pid("r@h", 10);
    join(&mut c, atom("g"), &[&m, &m]);
    let t = c.table();
    assert_eq!(
        t.read().unwrap().members(&atom("g")),
        vec![m.clone(), m.clone()]
    );
    let leave = |c: &mut ScopeCore| {
        api(
            c,
            None,
            Request::Leave {
                group: atom("g"),
                pids: vec![m.clone()],
            },
        )
    };
    assert_eq!(leave(&mut c).0, atom("ok"));
    assert_eq!(t.read().unwrap().local_members(&atom("g")), vec![m.clone()]);
    let (r, out) = leave(&mut c);
    assert_eq!(r, atom("ok"));
    assert!(out.iter().any(|o| matches!(o, Output::Demonitor { .. })));
    assert_eq!(leave(&mut c).0, atom("not_joined"));
    assert!(t.read().unwrap().is_empty());
}

#[test]
fn only_local_processes_join() {
    let mut c = core("r@h");
    let (r, out) = api(
        &mut c,
        None,
        Request::Join {
            group: atom("g"),
            pids: vec![pid("r@h", 3), pid("b@h", 3)],
        },
    );
    assert_eq!(r, term!({error, {nolocal, (Term::Pid(pid("b@h", 3)))}}));
    assert!(out.iter().all(|o| matches!(o, Output::ApiReply { .. })));
}

#[test]
fn group_monitors_see_their_group_and_stop_on_demonitor() {
    let mut c = core("r@h");
    let w = pid("r@h", 50);
    let m = pid("r@h", 10);
    join(&mut c, atom("g"), &[&m]);
    let (r, _) = api(&mut c, Some(&w), Request::MonitorGroup(atom("g")));
    assert_eq!(r.elem(1), Some(&pids(&[&m])));
    let mref = r.elem(0).and_then(TermExt::as_reference).unwrap().clone();
    let out = join(&mut c, atom("h"), &[&m]);
    assert!(
        sends_to(&out, &w).is_empty(),
        "other groups are not notified"
    );
    let out = join(&mut c, atom("g"), &[&m]);
    assert_eq!(
        sends_to(&out, &w),
        vec![msg::notification(
            &mref,
            true,
            &atom("g"),
            std::slice::from_ref(&m)
        )]
    );
    let (r, out) = api(&mut c, Some(&w), Request::Demonitor(mref.clone()));
    assert_eq!(r, atom("ok"));
    assert!(out.contains(&Output::Demonitor {
        reference: mref.clone()
    }));
    assert_eq!(
        api(&mut c, Some(&w), Request::Demonitor(mref)).0,
        atom("false")
    );
    let out = join(&mut c, atom("g"), &[&m]);
    assert!(sends_to(&out, &w).is_empty());
}

#[test]
fn gen_server_calls_are_answered_and_garbage_is_ignored() {
    let mut c = core("r@h");
    let caller = pid("b@h", 9);
    let from = term!({(Term::Pid(caller.clone())), tag});
    c.handle(Input::Message(term!({:"$gen_call", (from), monitor})));
    let out = drain(&mut c);
    assert!(out.iter().any(|o| matches!(
        o,
        Output::Reply { to: GenFrom { pid, .. }, .. } if *pid == caller
    )));
    for junk in [
        atom("hello"),
        term!({discover, notapid}),
        term!({join, (Term::Pid(caller.clone())), g, x}),
        term!({:"$gen_cast", what}),
    ] {
        c.handle(Input::Message(junk));
        assert!(drain(&mut c).is_empty());
    }
}

/// Cores of several nodes exchanging their outputs; `versioned[i]`: node
/// i's flags show OTP 28+.
struct Sim {
    cores: Vec<ScopeCore>,
    queue: VecDeque<(usize, Term)>,
}

impl Sim {
    fn new(nodes: &[&'static str]) -> Self {
        Self {
            cores: nodes.iter().map(|n| core(n)).collect(),
            queue: VecDeque::new(),
        }
    }

    fn index(&self, node: &Atom) -> Option<usize> {
        self.cores.iter().position(|c| c.table_node() == node)
    }

    fn route(&mut self, from: usize) {
        while let Some(o) = self.cores[from].poll_output() {
            let (Output::Send { to, msg } | Output::SendNoConnect { to, msg }) = o else {
                continue;
            };
            let node = match &to {
                Dest::Pid(p) => p.node.clone(),
                Dest::Remote(_, n) => n.clone(),
                _ => continue,
            };
            // Only scope processes (id 1) receive; members and watchers drop it.
            if let Dest::Pid(p) = &to {
                if p.id != 1 {
                    continue;
                }
            }
            if let Some(i) = self.index(&node) {
                self.queue.push_back((i, msg));
            }
        }
    }

    fn api(&mut self, i: usize, request: Request) {
        self.cores[i].handle(Input::Api {
            token: 1,
            caller: None,
            request,
        });
        self.route(i);
    }

    fn run(&mut self) {
        for i in 0..self.cores.len() {
            self.route(i);
        }
        while let Some((i, m)) = self.queue.pop_front() {
            self.cores[i].handle(Input::Message(m));
            self.route(i);
        }
    }
}

impl ScopeCore {
    fn table_node(&self) -> &Atom {
        &self.me().node
    }
}

#[test]
fn a_simulated_cluster_of_old_and_new_peers_agrees() {
    let mut sim = Sim::new(&["a@h", "b@h", "c@h"]);
    let members: Vec<Pid> = (0..3)
        .map(|i| pid(["a@h", "b@h", "c@h"][i], 10 + i as u32))
        .collect();
    for (i, m) in members.iter().enumerate() {
        join(&mut sim.cores[i], atom("g"), &[m]);
        drain(&mut sim.cores[i]);
    }
    // a and b see each other as OTP 28+; c is older.
    let nodes = ["a@h", "b@h", "c@h"];
    for i in 0..3 {
        let peers: Vec<(Atom, bool)> = (0..3)
            .filter(|&j| j != i)
            .map(|j| (Atom::from(nodes[j]), i != 2 && j != 2))
            .collect();
        sim.cores[i].start(&peers);
    }
    sim.run();
    for c in &sim.cores {
        let mut got = c.table().read().unwrap().members(&atom("g"));
        got.sort_by(crate::term::cmp_pids);
        assert_eq!(got, members);
        let v1: Vec<bool> = {
            let mut p = c.peers();
            p.sort_by(|a, b| crate::term::cmp_pids(&a.0, &b.0));
            p.into_iter().map(|(_, v)| v).collect()
        };
        match c.table_node().name.as_str() {
            "a@h" => assert_eq!(v1, vec![true, false]),
            "b@h" => assert_eq!(v1, vec![true, false]),
            _ => assert_eq!(v1, vec![false, false]),
        }
    }
    // Changes reach everyone, in each peer's form.
    let extra = pid("a@h", 20);
    sim.api(
        0,
        Request::Join {
            group: atom("h"),
            pids: vec![extra.clone()],
        },
    );
    sim.api(
        0,
        Request::Leave {
            group: atom("g"),
            pids: vec![members[0].clone()],
        },
    );
    sim.run();
    for c in &sim.cores {
        let t = c.table();
        let t = t.read().unwrap();
        assert_eq!(t.members(&atom("h")), vec![extra.clone()]);
        assert_eq!(t.members(&atom("g")).len(), 2);
    }
}
