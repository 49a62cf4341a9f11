//! A cluster member that is either a real BEAM node or an in-process Rust
//! node, behind one set of `global`-flavoured operations, so that a
//! scenario runs unchanged with the Rust node in any role — and with no
//! Rust node at all, which records what OTP itself does.
//!
//! BEAM values come back as terms: [`eval_term`] evaluates
//! `binary:encode_hex(term_to_binary(Expr))` and decodes the result, so
//! pids compare exactly with the pids a Rust node sees.

use std::sync::Mutex;
use std::time::Duration;

use distro::kernel::KernelConfig;
use distro::kernel::global::{LockId, Method};
use distro::runtime::Process;
use distro::term::{Pid, Term, TermExt, atom};

use super::rust_node::Probe;
use super::{BeamNode, BeamOpts, Epmd, Otp, RustNode, rust_log};

/// Name under which a BEAM node's name holder is registered locally.
const HOLDER: &str = "global_test_holder";

/// A BEAM or Rust node of a test cluster.
pub(crate) enum AnyNode {
    /// A real BEAM node.
    Beam(BeamNode),
    /// An in-process Rust node, with the holder process of
    /// [`AnyNode::register_holder`] and the messages it got so far.
    Rust {
        /// The node.
        node: RustNode,
        /// The holder of a global name, if one was registered.
        holder: Mutex<Option<Probe>>,
        /// Messages the holder received.
        seen: Mutex<Vec<Term>>,
    },
}

/// Evaluates `expr` (an expression without the final `.`) on `b` and
/// returns its value as a term.
pub(crate) fn eval_term(b: &BeamNode, expr: &str) -> Term {
    let v = b
        .eval(&format!(
            "binary:encode_hex(term_to_binary((fun() -> {expr} end)()))."
        ))
        .unwrap_or_else(|e| panic!("{e}"));
    let hex = v
        .strip_prefix("<<\"")
        .and_then(|v| v.strip_suffix("\">>"))
        .unwrap_or_else(|| panic!("{}: not a hex binary: {v}", b.node_name()));
    let bytes: Vec<u8> = (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).expect("hex digit"))
        .collect();
    distro::term::decode(&bytes).expect("term_to_binary output decodes")
}

/// The atoms of a list term, as strings.
fn atoms(t: &Term) -> Vec<String> {
    t.as_list()
        .map(|l| {
            l.iter()
                .filter_map(|a| a.as_atom().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

/// `'name'`: a node name as OTP's `~p`/`~w` print it in log lines.
pub(crate) fn quoted(node: &str) -> String {
    format!("'{node}'")
}

impl AnyNode {
    /// A BEAM node named `name@127.0.0.1` with extra `erl` arguments.
    pub(crate) fn beam(epmd: &Epmd, otp: &Otp, name: &str, args: &[&str]) -> Self {
        let opts = BeamOpts::new(name)
            .name(name)
            .otp(otp.clone())
            .args(args.iter().copied());
        Self::Beam(BeamNode::start(epmd, opts).expect("BEAM node starts"))
    }

    /// A Rust node named `name@127.0.0.1` with these kernel parameters.
    pub(crate) fn rust(epmd: &Epmd, name: &str, kernel: KernelConfig) -> Self {
        let node = RustNode::start_with_kernel(epmd, &format!("{name}@127.0.0.1"), |_| {}, kernel);
        Self::Rust {
            node,
            holder: Mutex::new(None),
            seen: Mutex::new(Vec::new()),
        }
    }

    /// A BEAM or a Rust node with default kernel parameters.
    pub(crate) fn start(epmd: &Epmd, otp: &Otp, name: &str, rust: bool) -> Self {
        if rust {
            Self::rust(epmd, name, KernelConfig::default())
        } else {
            Self::beam(epmd, otp, name, &[])
        }
    }

    /// The full node name.
    pub(crate) fn name(&self) -> &str {
        match self {
            Self::Beam(b) => b.node_name(),
            Self::Rust { node, .. } => node.name(),
        }
    }

    /// `BEAM x@…` / `Rust x@…`, for messages.
    pub(crate) fn describe(&self) -> String {
        match self {
            Self::Beam(_) => format!("BEAM {}", self.name()),
            Self::Rust { .. } => format!("Rust {}", self.name()),
        }
    }

    /// The BEAM node, if this is one.
    pub(crate) fn as_beam(&self) -> Option<&BeamNode> {
        match self {
            Self::Beam(b) => Some(b),
            Self::Rust { .. } => None,
        }
    }

    /// `net_adm:ping(Other) =:= pong`.
    pub(crate) fn ping(&self, other: &str) -> bool {
        match self {
            Self::Beam(b) => b.eval(&format!("net_adm:ping('{other}').")).unwrap() == "pong",
            Self::Rust { node, .. } => node.run(node.node.ping(other)),
        }
    }

    /// `erlang:disconnect_node(Other)`.
    pub(crate) fn disconnect(&self, other: &str) -> bool {
        match self {
            Self::Beam(b) => {
                b.eval(&format!("erlang:disconnect_node('{other}')."))
                    .unwrap()
                    == "true"
            }
            Self::Rust { node, .. } => node.node.disconnect(other),
        }
    }

    /// `lists:sort(nodes())`.
    pub(crate) fn nodes(&self) -> Vec<String> {
        let mut v = match self {
            Self::Beam(b) => atoms(&eval_term(b, "nodes()")),
            Self::Rust { node, .. } => node.node.nodes().into_iter().map(|a| a.name).collect(),
        };
        v.sort();
        v
    }

    /// The nodes global knows, sorted: `gen_server:call(global_name_server,
    /// get_known)` from a local process on either kind of node, so the
    /// answer comes after the server handled what was in its mailbox
    /// before (e.g. a nodedown already queued).
    pub(crate) fn known(&self) -> Vec<String> {
        let mut v = match self {
            Self::Beam(b) => atoms(&eval_term(
                b,
                "gen_server:call(global_name_server, get_known)",
            )),
            Self::Rust { node, .. } => {
                let r = node.in_process(Duration::from_secs(30), |mut p: Process| async move {
                    p.call(
                        "global_name_server",
                        atom("get_known"),
                        Duration::from_secs(30),
                    )
                    .await
                });
                atoms(&r.expect("global_name_server answers get_known"))
            }
        };
        v.sort();
        v
    }

    /// The resources of the locks set on this node (`global_locks`).
    pub(crate) fn lock_resources(&self) -> Vec<Term> {
        match self {
            Self::Beam(b) => eval_term(b, "[R || {R, _, _} <- ets:tab2list(global_locks)]")
                .as_list()
                .map(|l| l.into_owned())
                .unwrap_or_default(),
            Self::Rust { node, .. } => node
                .kernel
                .global
                .locks()
                .into_iter()
                .map(|(r, _)| r)
                .collect(),
        }
    }

    /// `global:sync()` (or `global:sync(Nodes)`): whether it returned `ok`
    /// within `timeout`.
    pub(crate) fn sync(&self, nodes: Option<&[&str]>, timeout: Duration) -> bool {
        match self {
            Self::Beam(b) => {
                let call = match nodes {
                    None => "global:sync()".to_owned(),
                    Some(ns) => {
                        let l: Vec<String> = ns.iter().map(|n| quoted(n)).collect();
                        format!("global:sync([{}])", l.join(","))
                    }
                };
                let expr = format!(
                    "(fun() -> Self = self(), P = spawn(fun() -> Self ! {{self(), {call}}} end), \
                     receive {{P, R}} -> R after {} -> exit(P, kill), timeout end end)().",
                    timeout.as_millis()
                );
                b.eval_timeout(&expr, timeout + Duration::from_secs(10))
                    .unwrap()
                    == "ok"
            }
            Self::Rust { node, .. } => {
                let g = node.kernel.global.clone();
                let nodes: Option<Vec<distro::term::Atom>> =
                    nodes.map(|ns| ns.iter().map(|n| distro::term::Atom::from(*n)).collect());
                node.run(async move {
                    let f = async {
                        match nodes {
                            None => g.sync().await,
                            Some(ns) => g.sync_nodes(ns).await,
                        }
                    };
                    matches!(tokio::time::timeout(timeout, f).await, Ok(Ok(())))
                })
            }
        }
    }

    /// The warnings global logged on this node about connections, sorted:
    /// `'global' at node 'Me' … in order to prevent overlapping partitions`
    /// (`prevent_overlapping_partitions`) and `'global' at 'Me' failed to
    /// connect to 'Other'` (`sync_other/2`).
    pub(crate) fn global_warnings(&self) -> Vec<String> {
        let me = quoted(self.name());
        let heads = [
            format!("'global' at node {me} "),
            format!("'global' at {me} "),
        ];
        let mut v: Vec<String> = match self {
            Self::Beam(b) => b.log().lines().into_iter().map(|l| l.text).collect(),
            Self::Rust { .. } => rust_log::lines_with(&["'global' at "]),
        };
        v.retain(|l| heads.iter().any(|h| l.contains(h.as_str())));
        for l in &mut v {
            if let Some(at) = l.find("'global' at ") {
                *l = l[at..].trim_end().to_owned();
            }
        }
        v.sort();
        v
    }

    /// `global:whereis_name(Name)`.
    pub(crate) fn whereis(&self, name: &str) -> Option<Pid> {
        match self {
            Self::Beam(b) => match eval_term(b, &format!("global:whereis_name({name})")) {
                Term::Pid(p) => Some(p),
                _ => None,
            },
            Self::Rust { node, .. } => node.kernel.global.whereis_name(&atom(name)),
        }
    }

    /// Spawns a process that only collects messages and registers it as
    /// the global `name` with resolve method `method`; returns its pid, or
    /// `None` if `register_name/3` said `no`. One holder per node.
    pub(crate) fn register_holder(&self, name: &str, method: Method) -> Option<Pid> {
        match self {
            Self::Beam(b) => {
                let f = match method {
                    Method::RandomNotify => "random_notify_name",
                    Method::NotifyAll => "notify_all_name",
                    _ => "random_exit_name",
                };
                let pid = eval_term(
                    b,
                    &format!(
                        "P = spawn(fun() -> receive stop -> ok end end), register({HOLDER}, P), P"
                    ),
                );
                let yes = b
                    .eval(&format!(
                        "global:register_name({name}, whereis({HOLDER}), fun global:{f}/3)."
                    ))
                    .unwrap();
                let Term::Pid(pid) = pid else {
                    panic!("not a pid: {pid:?}")
                };
                (yes == "yes").then_some(pid)
            }
            Self::Rust { node, holder, .. } => {
                let probe = node.probe(None, false, |_| {});
                let pid = probe.pid.clone();
                *holder.lock().unwrap() = Some(probe);
                let g = node.kernel.global.clone();
                let yes = node
                    .run(g.register_name_with(atom(name), &pid, method.to_fun()))
                    .expect("global is running");
                yes.then_some(pid)
            }
        }
    }

    /// Whether the holder process is alive.
    pub(crate) fn holder_alive(&self) -> bool {
        match self {
            Self::Beam(b) => b.eval(&format!("is_pid(whereis({HOLDER})).")).unwrap() == "true",
            Self::Rust { node, holder, .. } => holder
                .lock()
                .unwrap()
                .as_ref()
                .is_some_and(|p| node.node.is_process_alive(&p.pid)),
        }
    }

    /// Every message the holder has received so far, oldest first.
    pub(crate) fn holder_messages(&self) -> Vec<Term> {
        match self {
            Self::Beam(b) => {
                let t = eval_term(
                    b,
                    &format!("{{messages, M}} = process_info(whereis({HOLDER}), messages), M"),
                );
                t.as_list().map(|l| l.into_owned()).unwrap_or_default()
            }
            Self::Rust { holder, seen, .. } => {
                let mut seen = seen.lock().unwrap();
                if let Some(p) = holder.lock().unwrap().as_ref() {
                    while let Some(m) = p.recv(Duration::ZERO) {
                        seen.push(m);
                    }
                }
                seen.clone()
            }
        }
    }

    /// A process that takes the lock `{Resource, self()}` on `[node() |
    /// nodes()]` with no retries and keeps it; whether it got the lock.
    pub(crate) fn hold_lock(&self, resource: &str) -> bool {
        match self {
            Self::Beam(b) => {
                let expr = format!(
                    "(fun() -> Self = self(), spawn(fun() -> Self ! {{locked, \
                     global:set_lock({{{resource}, self()}}, [node() | nodes()], 0)}}, \
                     receive stop -> ok end end), receive {{locked, L}} -> L end end)()."
                );
                b.eval(&expr).unwrap() == "true"
            }
            Self::Rust { node, .. } => {
                let g = node.kernel.global.clone();
                let resource = atom(resource);
                let (tx, rx) = std::sync::mpsc::channel();
                let _guard = node.rt.enter();
                node.node.spawn(move |mut p: Process| async move {
                    let id = LockId::new(resource, Term::Pid(p.pid().clone()));
                    let ok = g.set_lock(&mut p, &id, None, Some(0)).await;
                    let _ = tx.send(ok);
                    let _ = p.recv().await;
                });
                rx.recv_timeout(Duration::from_secs(30))
                    .expect("the lock holder answers")
            }
        }
    }
}
