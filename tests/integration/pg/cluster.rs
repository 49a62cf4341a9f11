//! pg operations on a BEAM or a Rust node, so that a scenario reads the
//! same for both kinds, and the checks every pg test ends with: all nodes
//! running a scope agree on its membership, and no BEAM node logged
//! anything but eval answers (a crashed scope or a warning shows up there).

use crate::support::rust_node::pid_literal;
use crate::support::{AnyNode, Epmd, Otp, eval_term, rust_log, wait_until};
use distro::kernel::KernelConfig;
use distro::runtime::Process;
use distro::term::atom;
use distro::term::{Pid, Pretty, Term, TermExt, cmp_pids, cmp_terms};
use std::time::Duration;

/// How long membership may take to converge.
pub(crate) const T: Duration = Duration::from_secs(30);

/// A group's expected members (any order, duplicates count).
pub(crate) type Expect = Vec<(Term, Vec<Pid>)>;

pub(crate) fn sorted_pids(mut v: Vec<Pid>) -> Vec<Pid> {
    v.sort_by(cmp_pids);
    v
}

fn sorted_terms(mut v: Vec<Term>) -> Vec<Term> {
    v.sort_by(cmp_terms);
    v
}

fn pids_of(t: &Term) -> Vec<Pid> {
    t.as_list()
        .map(|l| l.iter().filter_map(|p| p.as_pid().cloned()).collect())
        .unwrap_or_default()
}

/// Erlang text of a list of pids.
fn pid_list(pids: &[Pid]) -> String {
    let v: Vec<String> = pids.iter().map(pid_literal).collect();
    format!("[{}]", v.join(","))
}

pub(crate) const PG: &str = "pg";

pub(crate) fn rust(epmd: &Epmd, name: &str) -> AnyNode {
    rust_with(epmd, name, true)
}

/// A Rust node with `start_pg`; `pop`: global's `prevent_overlapping_partitions`.
pub(crate) fn rust_with(epmd: &Epmd, name: &str, pop: bool) -> AnyNode {
    let mut k = KernelConfig {
        start_pg: true,
        ..Default::default()
    };
    k.global.prevent_overlapping_partitions = pop;
    AnyNode::rust(epmd, name, k)
}

pub(crate) fn beam(epmd: &Epmd, otp: &Otp, name: &str) -> AnyNode {
    beam_with(epmd, otp, name, true)
}

/// A BEAM node with `-kernel start_pg true`; `pop` as for [`rust_with`].
pub(crate) fn beam_with(epmd: &Epmd, otp: &Otp, name: &str, pop: bool) -> AnyNode {
    let pop = if pop { "true" } else { "false" };
    AnyNode::beam(
        epmd,
        otp,
        name,
        &[
            "-kernel",
            "start_pg",
            "true",
            "-kernel",
            "prevent_overlapping_partitions",
            pop,
        ],
    )
}

pub(crate) fn g(name: &str) -> Term {
    atom(name)
}

/// `[(Group, Members)]`.
pub(crate) fn expect(groups: &[(&Term, &[&Pid])]) -> Expect {
    groups
        .iter()
        .map(|(g, ps)| ((*g).clone(), ps.iter().map(|p| (*p).clone()).collect()))
        .collect()
}

/// pg on either kind of node.
pub(crate) trait PgNode {
    /// A process that waits for `stop` and exits `normal`.
    fn spawn_member(&self) -> Pid;
    /// `pg:start(Scope)` (the Rust node: [`distro::kernel::pg::Pg::start_scope`]).
    fn start_scope(&self, scope: &str);
    /// Stops the scope (`gen_server:stop/1`).
    fn stop_scope(&self, scope: &str);
    /// `pg:join(Scope, Group, Pids)`.
    fn join(&self, scope: &str, group: &Term, pids: &[&Pid]);
    /// `pg:leave(Scope, Group, Pids)`: `ok` → true, `not_joined` → false.
    fn leave(&self, scope: &str, group: &Term, pids: &[&Pid]) -> bool;
    /// `pg:get_members(Scope, Group)`, sorted.
    fn members(&self, scope: &str, group: &Term) -> Vec<Pid>;
    /// `pg:get_local_members(Scope, Group)`, sorted.
    fn local_members(&self, scope: &str, group: &Term) -> Vec<Pid>;
    /// `pg:which_groups(Scope)`, sorted; `None` if the scope is not running.
    fn groups(&self, scope: &str) -> Option<Vec<Term>>;
    /// The scope's pid (`whereis(Scope)`).
    fn scope_pid(&self, scope: &str) -> Option<Pid>;
    /// `exit(Pid, kill)`.
    fn kill(&self, pid: &Pid);
    /// `Pid ! stop`: a member made by [`PgNode::spawn_member`] exits `normal`.
    fn stop_member(&self, pid: &Pid);
}

impl PgNode for AnyNode {
    fn spawn_member(&self) -> Pid {
        match self {
            Self::Beam(b) => match eval_term(b, "spawn(fun() -> receive stop -> ok end end)") {
                Term::Pid(p) => p,
                t => panic!("not a pid: {t:?}"),
            },
            Self::Rust { node, .. } => {
                let _g = node.rt.enter();
                node.node.spawn(|mut p: Process| async move {
                    let _ = p.receive(|m| m.as_atom() == Some("stop")).await;
                })
            }
        }
    }

    fn start_scope(&self, scope: &str) {
        match self {
            Self::Beam(b) => {
                let r = eval_term(b, &format!("element(1, pg:start({scope}))"));
                assert_eq!(
                    r.as_atom(),
                    Some("ok"),
                    "pg:start({scope}) on {}",
                    b.node_name()
                );
            }
            Self::Rust { node, .. } => {
                let _g = node.rt.enter();
                node.kernel.pg.start_scope(scope).expect("scope starts");
            }
        }
    }

    fn stop_scope(&self, scope: &str) {
        match self {
            Self::Beam(b) => {
                b.eval(&format!("gen_server:stop({scope}).")).unwrap();
            }
            Self::Rust { node, .. } => {
                let s = node.kernel.pg.scope(scope).expect("scope runs");
                s.stop();
                wait_until("the Rust scope stops", T, || !s.is_running()).unwrap();
            }
        }
    }

    fn join(&self, scope: &str, group: &Term, pids: &[&Pid]) {
        let pids: Vec<Pid> = pids.iter().map(|p| (*p).clone()).collect();
        let pids = pids.as_slice();
        match self {
            Self::Beam(b) => {
                let r = b
                    .eval(&format!(
                        "pg:join({scope}, {}, {}).",
                        Pretty(group),
                        pid_list(pids)
                    ))
                    .unwrap();
                assert_eq!(r, "ok");
            }
            Self::Rust { node, .. } => {
                let s = node.kernel.pg.scope(scope).expect("scope runs");
                node.run(s.join(group.clone(), pids)).expect("join");
            }
        }
    }

    fn leave(&self, scope: &str, group: &Term, pids: &[&Pid]) -> bool {
        let pids: Vec<Pid> = pids.iter().map(|p| (*p).clone()).collect();
        let pids = pids.as_slice();
        match self {
            Self::Beam(b) => {
                let r = b
                    .eval(&format!(
                        "pg:leave({scope}, {}, {}).",
                        Pretty(group),
                        pid_list(pids)
                    ))
                    .unwrap();
                r == "ok"
            }
            Self::Rust { node, .. } => {
                let s = node.kernel.pg.scope(scope).expect("scope runs");
                node.run(s.leave(group.clone(), pids)).expect("leave")
            }
        }
    }

    fn members(&self, scope: &str, group: &Term) -> Vec<Pid> {
        sorted_pids(match self {
            Self::Beam(b) => pids_of(&eval_term(
                b,
                &format!("pg:get_members({scope}, {})", Pretty(group)),
            )),
            Self::Rust { node, .. } => node
                .kernel
                .pg
                .scope(scope)
                .map(|s| s.get_members(group))
                .unwrap_or_default(),
        })
    }

    fn local_members(&self, scope: &str, group: &Term) -> Vec<Pid> {
        sorted_pids(match self {
            Self::Beam(b) => pids_of(&eval_term(
                b,
                &format!("pg:get_local_members({scope}, {})", Pretty(group)),
            )),
            Self::Rust { node, .. } => node
                .kernel
                .pg
                .scope(scope)
                .map(|s| s.get_local_members(group))
                .unwrap_or_default(),
        })
    }

    fn groups(&self, scope: &str) -> Option<Vec<Term>> {
        match self {
            Self::Beam(b) => {
                let t = eval_term(
                    b,
                    &format!(
                        "case whereis({scope}) of undefined -> undefined; _ -> pg:which_groups({scope}) end"
                    ),
                );
                t.as_list().map(|l| sorted_terms(l.into_owned()))
            }
            Self::Rust { node, .. } => node
                .kernel
                .pg
                .scope(scope)
                .map(|s| sorted_terms(s.which_groups())),
        }
    }

    fn scope_pid(&self, scope: &str) -> Option<Pid> {
        match self {
            Self::Beam(b) => eval_term(b, &format!("whereis({scope})")).as_pid().cloned(),
            Self::Rust { node, .. } => node.kernel.pg.scope(scope).map(|s| s.pid().clone()),
        }
    }

    fn kill(&self, pid: &Pid) {
        match self {
            Self::Beam(b) => {
                b.eval(&format!("exit({}, kill).", pid_literal(pid)))
                    .unwrap();
            }
            Self::Rust { node, .. } => node.node.exit(pid, distro::term::atom("kill")),
        }
    }

    fn stop_member(&self, pid: &Pid) {
        match self {
            Self::Beam(b) => {
                b.eval(&format!("{} ! stop.", pid_literal(pid))).unwrap();
            }
            Self::Rust { node, .. } => node.node.send(pid, atom("stop")),
        }
    }
}

/// What `node` sees of `scope` against `expect`: `None` if it agrees.
fn disagreement(node: &AnyNode, scope: &str, expect: &Expect) -> Option<String> {
    let want_groups = sorted_terms(
        expect
            .iter()
            .filter(|(_, ps)| !ps.is_empty())
            .map(|(g, _)| g.clone())
            .collect(),
    );
    let groups = node.groups(scope).unwrap_or_default();
    if groups != want_groups {
        return Some(format!(
            "{} groups {:?}, want {:?}",
            node.describe(),
            groups
                .iter()
                .map(|g| Pretty(g).to_string())
                .collect::<Vec<_>>(),
            want_groups
                .iter()
                .map(|g| Pretty(g).to_string())
                .collect::<Vec<_>>()
        ));
    }
    for (g, want) in expect {
        let want = sorted_pids(want.clone());
        let got = node.members(scope, g);
        if got != want {
            return Some(format!(
                "{} members of {}: {} pids, want {}",
                node.describe(),
                Pretty(g),
                got.len(),
                want.len()
            ));
        }
        let want_local: Vec<Pid> = want
            .iter()
            .filter(|p| p.node.name == node.name())
            .cloned()
            .collect();
        let local = node.local_members(scope, g);
        if local != want_local {
            return Some(format!(
                "{} local members of {}: {} pids, want {}",
                node.describe(),
                Pretty(g),
                local.len(),
                want_local.len()
            ));
        }
    }
    None
}

/// Waits until every node in `nodes` sees exactly `expect` in `scope`
/// (groups, members, local members).
pub(crate) fn wait_agree(nodes: &[&AnyNode], scope: &str, expect: &Expect) {
    let mut last = None;
    let r = wait_until(&format!("agreement on scope {scope}"), T, || {
        last = nodes.iter().find_map(|n| disagreement(n, scope, expect));
        last.is_none()
    });
    if let Err(e) = r {
        panic!("{e}: {}", last.unwrap_or_default());
    }
}

/// Asserts that each BEAM node's output is only eval answers (no crash
/// report, no warning), and that no Rust node logged a pg warning.
pub(crate) fn assert_quiet(nodes: &[&AnyNode]) {
    for n in nodes {
        match n {
            AnyNode::Beam(b) => {
                let noise: Vec<String> = b
                    .log()
                    .lines()
                    .into_iter()
                    .map(|l| l.text)
                    .filter(|t| !t.starts_with("@@R ") && !t.starts_with("@@READY "))
                    .collect();
                assert!(
                    noise.is_empty(),
                    "{} logged:\n{}",
                    n.describe(),
                    noise.join("\n")
                );
            }
            AnyNode::Rust { .. } => {
                let warnings = rust_log::lines_with(&["pg scope", n.name()]);
                assert!(warnings.is_empty(), "{} logged {warnings:#?}", n.describe());
            }
        }
    }
}

/// A process subscribed with `pg:monitor_scope/1` or `pg:monitor/2`.
pub(crate) enum Watcher {
    /// On a BEAM node: registered under this name, messages left in its mailbox.
    Beam(String),
    /// On the Rust node: notifications forwarded to the test, and the
    /// events read from them so far.
    Rust(
        std::sync::mpsc::Receiver<Term>,
        std::sync::Mutex<Vec<Event>>,
    ),
}

/// One member joining or leaving one group, as a watcher saw it.
pub(crate) type Event = (bool, Term, Pid);

fn flatten(join: bool, group: &Term, pids: &[Pid]) -> Vec<Event> {
    pids.iter()
        .map(|p| (join, group.clone(), p.clone()))
        .collect()
}

/// Sorts events (join before leave, then group, then pid).
pub(crate) fn sorted_events(mut v: Vec<Event>) -> Vec<Event> {
    v.sort_by(|a, b| {
        b.0.cmp(&a.0)
            .then_with(|| cmp_terms(&a.1, &b.1))
            .then_with(|| cmp_pids(&a.2, &b.2))
    });
    v
}

impl AnyNode {
    /// Subscribes a new process to `scope` (all groups) or one `group`;
    /// returns it with the members the subscription started with.
    pub(crate) fn watch(&self, scope: &str, group: Option<&Term>) -> (Watcher, Term) {
        match self {
            Self::Beam(b) => {
                let name = crate::support::unique_name("pgw");
                let call = match group {
                    Some(g) => format!("pg:monitor({scope}, {})", Pretty(g)),
                    None => format!("pg:monitor_scope({scope})"),
                };
                let init = eval_term(
                    b,
                    &format!(
                        "Self = self(), spawn(fun() -> {{_, Init}} = {call}, register({name}, self()), \
                         Self ! {{{name}, Init}}, receive stop -> ok end end), \
                         receive {{{name}, I}} -> I end"
                    ),
                );
                (Watcher::Beam(name), init)
            }
            Self::Rust { node, .. } => {
                let s = node.kernel.pg.scope(scope).expect("scope runs");
                let (tx, rx) = std::sync::mpsc::channel();
                let (init_tx, init_rx) = std::sync::mpsc::channel();
                let group = group.cloned();
                let _g = node.rt.enter();
                node.node.spawn(move |mut p: Process| async move {
                    let init = match group {
                        Some(g) => s.monitor(&p, g).await.map(|(_, ps)| {
                            distro::term::list(ps.into_iter().map(Term::Pid).collect())
                        }),
                        None => s.monitor_scope(&p).await.map(|(_, gs)| {
                            let pairs = gs
                                .into_iter()
                                .map(|(g, ps)| {
                                    (
                                        g,
                                        distro::term::list(ps.into_iter().map(Term::Pid).collect()),
                                    )
                                })
                                .collect();
                            distro::term::map(pairs)
                        }),
                    };
                    let _ = init_tx.send(init.expect("monitor"));
                    loop {
                        let m = p.recv().await;
                        if tx.send(m).is_err() {
                            return;
                        }
                    }
                });
                let init = init_rx.recv_timeout(T).expect("the watcher subscribed");
                (Watcher::Rust(rx, Default::default()), init)
            }
        }
    }

    /// The join/leave events `w` received so far, one per pid, sorted.
    pub(crate) fn events(&self, w: &Watcher) -> Vec<Event> {
        match (self, w) {
            (Self::Beam(b), Watcher::Beam(name)) => {
                let msgs = eval_term(
                    b,
                    &format!("element(2, process_info(whereis({name}), messages))"),
                );
                let mut v = Vec::new();
                for m in msgs.as_list().unwrap_or_default().iter() {
                    let n = distro::kernel::pg::Notification::parse(m)
                        .unwrap_or_else(|| panic!("not a notification: {}", Pretty(m)));
                    v.extend(flatten(
                        n.change == distro::kernel::pg::Change::Join,
                        &n.group,
                        &n.pids,
                    ));
                }
                sorted_events(v)
            }
            (Self::Rust { .. }, Watcher::Rust(rx, seen)) => {
                let mut seen = seen.lock().unwrap();
                while let Ok(m) = rx.try_recv() {
                    let n = distro::kernel::pg::Notification::parse(&m)
                        .unwrap_or_else(|| panic!("not a notification: {}", Pretty(&m)));
                    seen.extend(flatten(
                        n.change == distro::kernel::pg::Change::Join,
                        &n.group,
                        &n.pids,
                    ));
                }
                sorted_events(seen.clone())
            }
            _ => panic!("a watcher of another node"),
        }
    }
}

/// Waits until the watcher on `node` saw exactly `want` (any order).
pub(crate) fn wait_events(node: &AnyNode, w: &Watcher, want: &[Event]) {
    let want = sorted_events(want.to_vec());
    let mut got = Vec::new();
    let r = wait_until(&format!("{}'s watcher events", node.describe()), T, || {
        got = node.events(w);
        got == want
    });
    if let Err(e) = r {
        let show = |v: &[Event]| -> Vec<String> {
            v.iter()
                .map(|(j, g, p)| {
                    format!(
                        "{} {} {}",
                        if *j { "join" } else { "leave" },
                        Pretty(g),
                        Pretty(&Term::Pid(p.clone()))
                    )
                })
                .collect()
        };
        panic!("{e}\ngot  {:#?}\nwant {:#?}", show(&got), show(&want));
    }
}
