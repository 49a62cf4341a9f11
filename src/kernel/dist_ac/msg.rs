//! The terms `dist_ac` exchanges — mirrors the message shapes of
//! [`lib/kernel/src/dist_ac.erl`](https://github.com/erlang/otp/blob/OTP-25.2.3/lib/kernel/src/dist_ac.erl)
//! (protocol `vsn` 1, unchanged in OTP 25–29) and the AC ↔ dist_ac protocol
//! of `application_controller.erl` (comment block, lines 60–117).
//!
//! Everything coming from a peer is parsed with [`DacMsg::from_term`],
//! which returns `None` for anything malformed (never panics); what we
//! send is built with [`DacMsg::to_term`] so that BEAM reads the records by
//! position exactly as it reads its own (`{appl, Name, Id, RestartTime,
//! Nodes, Run}`).

use crate::term;
use crate::term::{Atom, Term, TermExt, atom, int, list, nil, tuple};

/// A node name.
pub type NodeName = Atom;

/// One entry of an application's priority list in the `distributed`
/// kernel parameter: a node, or a tuple of equal-priority nodes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NodeSpec {
    /// `Node`.
    One(NodeName),
    /// `{Node1, Node2, ...}`: any of these, the least loaded wins.
    Any(Vec<NodeName>),
}

/// An application's `Nodes` list, in priority order, kept exactly as
/// written in the configuration (BEAM compares it with `equal_nodes/2`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct NodesSpec(pub Vec<NodeSpec>);

impl NodesSpec {
    /// Parses `[Node | {Node, ...}]`.
    pub fn from_term(t: &Term) -> Option<Self> {
        let mut v = Vec::new();
        for e in t.as_list()?.iter() {
            match e {
                Term::Atom(a) => v.push(NodeSpec::One(a.clone())),
                Term::Tuple(tp) => {
                    let mut ns = Vec::new();
                    for n in &tp.elements {
                        ns.push(n.as_atom().map(Atom::from)?);
                    }
                    v.push(NodeSpec::Any(ns));
                }
                _ => return None,
            }
        }
        Some(Self(v))
    }

    /// The term, as written in the configuration.
    pub fn to_term(&self) -> Term {
        list(
            self.0
                .iter()
                .map(|s| match s {
                    NodeSpec::One(n) => Term::Atom(n.clone()),
                    NodeSpec::Any(ns) => tuple(ns.iter().cloned().map(Term::Atom).collect()),
                })
                .collect(),
        )
    }

    /// `flat_nodes/1`: note that OTP's fold *reverses* the order
    /// (`[a, {b, c}, d]` → `[d, b, c, a]`).
    pub fn flat(&self) -> Vec<NodeName> {
        let mut res: Vec<NodeName> = Vec::new();
        for s in &self.0 {
            match s {
                NodeSpec::One(n) => res.insert(0, n.clone()),
                NodeSpec::Any(ns) => {
                    let mut v = ns.clone();
                    v.extend(res);
                    res = v;
                }
            }
        }
        res
    }

    /// `equal_nodes/2`: list order is significant, order inside tuples is not.
    pub fn equal(&self, other: &Self) -> bool {
        self.0.len() == other.0.len()
            && self.0.iter().zip(&other.0).all(|(a, b)| match (a, b) {
                (NodeSpec::One(x), NodeSpec::One(y)) => x == y,
                (NodeSpec::Any(x), NodeSpec::Any(y)) => same_multiset(x, y),
                _ => false,
            })
    }
}

fn same_multiset(a: &[NodeName], b: &[NodeName]) -> bool {
    let mut rest = b.to_vec();
    for x in a {
        match rest.iter().position(|y| y == x) {
            Some(i) => {
                rest.remove(i);
            }
            None => return false,
        }
    }
    rest.is_empty()
}

/// How long to wait before restarting an application after its node died.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RestartTime {
    /// Milliseconds.
    Ms(u64),
    /// `infinity`: never restart elsewhere.
    Infinity,
}

impl RestartTime {
    fn to_term(self) -> Term {
        match self {
            Self::Ms(ms) => crate::term::uint(ms),
            Self::Infinity => atom("infinity"),
        }
    }

    fn from_term(t: &Term) -> Option<Self> {
        match t {
            Term::Atom(a) if a.name == "infinity" => Some(Self::Infinity),
            _ => t.as_i64().and_then(|v| u64::try_from(v).ok()).map(Self::Ms),
        }
    }
}

/// A node's permission to run an application (`#appl.run` values).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Perm {
    /// `true`: loaded there and permitted.
    True,
    /// `false`: loaded there, not permitted (`application:permit(App, false)`).
    False,
    /// `undefined`: not loaded there.
    Undefined,
}

impl Perm {
    /// The atom.
    pub fn to_term(self) -> Term {
        atom(match self {
            Self::True => "true",
            Self::False => "false",
            Self::Undefined => "undefined",
        })
    }

    /// From `true | false | undefined`.
    pub fn from_term(t: &Term) -> Option<Self> {
        match t.as_atom()? {
            "true" => Some(Self::True),
            "false" => Some(Self::False),
            "undefined" => Some(Self::Undefined),
            _ => None,
        }
    }

    /// From a boolean.
    pub fn from_bool(b: bool) -> Self {
        if b { Self::True } else { Self::False }
    }
}

/// `#appl.id`: where the application is, from this node's point of view.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ApplId {
    /// `undefined`: not started (anywhere we know of).
    Undefined,
    /// `local`: running here.
    Local,
    /// `{distributed, Node}`: running at `Node`, we are standby.
    Distributed(NodeName),
    /// `{failover, Node}`: `Node` died, our restart timer runs.
    Failover(NodeName),
    /// `{takeover, Node}`.
    Takeover(NodeName),
    /// `takeover`: `application:takeover/2` ordered, waiting for the AC.
    TakeoverRequested,
    /// `run_waiting`: we decided to run it here, waiting for the AC's result.
    RunWaiting,
    /// Anything else a peer sent (kept only to be sent back unchanged).
    Other(Term),
}

impl ApplId {
    /// The term.
    pub fn to_term(&self) -> Term {
        let pair = |tag: &str, n: &NodeName| term!({(atom(tag)), (Term::Atom(n.clone()))});
        match self {
            Self::Undefined => atom("undefined"),
            Self::Local => atom("local"),
            Self::Distributed(n) => pair("distributed", n),
            Self::Failover(n) => pair("failover", n),
            Self::Takeover(n) => pair("takeover", n),
            Self::TakeoverRequested => atom("takeover"),
            Self::RunWaiting => atom("run_waiting"),
            Self::Other(t) => t.clone(),
        }
    }

    /// From any term (unknown shapes become [`ApplId::Other`]).
    pub fn from_term(t: &Term) -> Self {
        match (t.as_atom(), t.as_tuple()) {
            (Some("undefined"), _) => Self::Undefined,
            (Some("local"), _) => Self::Local,
            (Some("takeover"), _) => Self::TakeoverRequested,
            (Some("run_waiting"), _) => Self::RunWaiting,
            (_, Some([Term::Atom(tag), Term::Atom(n)])) => match tag.name.as_str() {
                "distributed" => Self::Distributed(n.clone()),
                "failover" => Self::Failover(n.clone()),
                "takeover" => Self::Takeover(n.clone()),
                _ => Self::Other(t.clone()),
            },
            _ => Self::Other(t.clone()),
        }
    }

    /// `element(1, Id) =:= distributed`.
    pub fn distributed_node(&self) -> Option<&NodeName> {
        match self {
            Self::Distributed(n) => Some(n),
            _ => None,
        }
    }
}

/// `#appl{}`: `{appl, Name, Id, RestartTime, Nodes, Run}`.
#[derive(Debug, Clone, PartialEq)]
pub struct Appl {
    /// Application name.
    pub name: Atom,
    /// Where it runs.
    pub id: ApplId,
    /// Failover delay.
    pub restart_time: RestartTime,
    /// Priority list.
    pub nodes: NodesSpec,
    /// Permissions per node (`[{Node, true | false | undefined}]`), in OTP's list order.
    pub run: Vec<(NodeName, Perm)>,
}

impl Appl {
    /// The 6-tuple BEAM reads by position.
    pub fn to_term(&self) -> Term {
        tuple(vec![
            atom("appl"),
            Term::Atom(self.name.clone()),
            self.id.to_term(),
            self.restart_time.to_term(),
            self.nodes.to_term(),
            list(
                self.run
                    .iter()
                    .map(|(n, p)| term!({(Term::Atom(n.clone())), (p.to_term())}))
                    .collect(),
            ),
        ])
    }

    /// Parses a peer's record; `None` if it is not a 6-tuple `appl` record.
    pub fn from_term(t: &Term) -> Option<Self> {
        let [tag, name, id, rt, nodes, run] = t.as_tuple()? else {
            return None;
        };
        if tag.as_atom() != Some("appl") {
            return None;
        }
        let mut r = Vec::new();
        for e in run.as_list()?.iter() {
            let [Term::Atom(n), p] = e.as_tuple()? else {
                return None;
            };
            r.push((n.clone(), Perm::from_term(p)?));
        }
        Some(Self {
            name: name.as_atom().map(Atom::from)?,
            id: ApplId::from_term(id),
            restart_time: RestartTime::from_term(rt)?,
            nodes: NodesSpec::from_term(nodes).unwrap_or_default(),
            run: r,
        })
    }

    /// The permission of `node`, as `keysearch(Node, 1, Run)`.
    pub fn perm_of(&self, node: &NodeName) -> Option<Perm> {
        self.run.iter().find(|(n, _)| n == node).map(|(_, p)| *p)
    }

    /// `keyreplaceadd(Node, 1, Run, {Node, Perm})`.
    pub fn set_perm(&mut self, node: &NodeName, perm: Perm) {
        match self.run.iter_mut().find(|(n, _)| n == node) {
            Some(e) => e.1 = perm,
            None => self.run.insert(0, (node.clone(), perm)),
        }
    }
}

/// A message between dist_ac processes of two nodes.
#[derive(Debug, Clone, PartialEq)]
pub enum DacMsg {
    /// `{dist_ac_new_node, Vsn, Node, Appls, Started}`: introduction
    /// (`Started = []`) or the reply to one.
    NewNode {
        /// Protocol version (1).
        vsn: i64,
        /// The sender.
        node: NodeName,
        /// The sender's records.
        appls: Vec<Appl>,
        /// `[{Node, App}]` running at the sender.
        started: Vec<(NodeName, Atom)>,
    },
    /// `{dist_ac_app_loaded, Node, App, Nodes, Permission, HeKnowsMe}`.
    AppLoaded {
        /// The sender.
        node: NodeName,
        /// The application.
        app: Atom,
        /// The sender's priority list.
        nodes: NodesSpec,
        /// The sender's permission.
        permission: Perm,
        /// Whether the sender already saw our load.
        he_knows_me: bool,
    },
    /// `{dist_ac_app_unloaded, Node, App}`.
    AppUnloaded {
        /// The sender.
        node: NodeName,
        /// The application.
        app: Atom,
    },
    /// `{dist_ac_app_started, Node, App, ok | {error, R}}`.
    AppStarted {
        /// Where it started.
        node: NodeName,
        /// The application.
        app: Atom,
        /// `ok`, or the `{error, R}` term.
        result: Result<(), Term>,
    },
    /// `{dist_ac_app_stopped, App}`.
    AppStopped {
        /// The application.
        app: Atom,
    },
    /// `{dist_ac_weight, App, Weight, Node}`.
    Weight {
        /// The application.
        app: Atom,
        /// Number of applications running at `node`.
        weight: i64,
        /// The sender.
        node: NodeName,
    },
    /// `{dist_ac_new_permission, Node, App, Bool, IsHisApp}`.
    NewPermission {
        /// The sender.
        node: NodeName,
        /// The application.
        app: Atom,
        /// The new permission.
        permitted: bool,
        /// Whether the app ran at the sender.
        is_his_app: bool,
    },
}

fn node_of(t: &Term) -> Option<NodeName> {
    t.as_atom().map(Atom::from)
}

impl DacMsg {
    /// Parses a message received by dist_ac; `None` if it is not one.
    pub fn from_term(t: &Term) -> Option<Self> {
        let e = t.as_tuple()?;
        let tag = e.first()?.as_atom()?;
        Some(match (tag, &e[1..]) {
            ("dist_ac_new_node", [vsn, node, appls, started]) => {
                let mut st = Vec::new();
                for s in started.as_list()?.iter() {
                    let [Term::Atom(n), Term::Atom(a)] = s.as_tuple()? else {
                        return None;
                    };
                    st.push((n.clone(), a.clone()));
                }
                Self::NewNode {
                    vsn: vsn.as_i64()?,
                    node: node_of(node)?,
                    // Records we cannot read are skipped, as dist_merge/3
                    // only looks for records of our own applications.
                    appls: appls
                        .as_list()?
                        .iter()
                        .filter_map(Appl::from_term)
                        .collect(),
                    started: st,
                }
            }
            ("dist_ac_app_loaded", [node, app, nodes, perm, knows]) => Self::AppLoaded {
                node: node_of(node)?,
                app: node_of(app)?,
                nodes: NodesSpec::from_term(nodes)?,
                permission: Perm::from_term(perm)?,
                he_knows_me: knows.as_bool()?,
            },
            ("dist_ac_app_unloaded", [node, app]) => Self::AppUnloaded {
                node: node_of(node)?,
                app: node_of(app)?,
            },
            ("dist_ac_app_started", [node, app, res]) => Self::AppStarted {
                node: node_of(node)?,
                app: node_of(app)?,
                result: if res.as_atom() == Some("ok") {
                    Ok(())
                } else {
                    Err(res.clone())
                },
            },
            ("dist_ac_app_stopped", [app]) => Self::AppStopped { app: node_of(app)? },
            ("dist_ac_weight", [app, w, node]) => Self::Weight {
                app: node_of(app)?,
                weight: w.as_i64()?,
                node: node_of(node)?,
            },
            ("dist_ac_new_permission", [node, app, b, his]) => Self::NewPermission {
                node: node_of(node)?,
                app: node_of(app)?,
                permitted: b.as_bool()?,
                is_his_app: his.as_bool()?,
            },
            _ => return None,
        })
    }

    /// The term sent on the wire.
    pub fn to_term(&self) -> Term {
        let a = |n: &Atom| Term::Atom(n.clone());
        match self {
            Self::NewNode {
                vsn,
                node,
                appls,
                started,
            } => tuple(vec![
                atom("dist_ac_new_node"),
                int(*vsn),
                a(node),
                list(appls.iter().map(Appl::to_term).collect()),
                if started.is_empty() {
                    nil()
                } else {
                    list(
                        started
                            .iter()
                            .map(|(n, app)| term!({(a(n)), (a(app))}))
                            .collect(),
                    )
                },
            ]),
            Self::AppLoaded {
                node,
                app,
                nodes,
                permission,
                he_knows_me,
            } => {
                term!({dist_ac_app_loaded, (a(node)), (a(app)), (nodes.to_term()), (permission.to_term()), (crate::term::boolean(*he_knows_me))})
            }
            Self::AppUnloaded { node, app } => {
                term!({dist_ac_app_unloaded, (a(node)), (a(app))})
            }
            Self::AppStarted { node, app, result } => {
                term!({dist_ac_app_started, (a(node)), (a(app)), (match result {
                    Ok(()) => atom("ok"),
                    Err(t) => t.clone(),
                })})
            }
            Self::AppStopped { app } => term!({dist_ac_app_stopped, (a(app))}),
            Self::Weight { app, weight, node } => {
                term!({dist_ac_weight, (a(app)), (int(*weight)), (a(node))})
            }
            Self::NewPermission {
                node,
                app,
                permitted,
                is_his_app,
            } => {
                term!({dist_ac_new_permission, (a(node)), (a(app)), (crate::term::boolean(*permitted)), (crate::term::boolean(*is_his_app))})
            }
        }
    }

    /// The application the message is about, if any.
    pub fn app(&self) -> Option<&Atom> {
        match self {
            Self::NewNode { .. } => None,
            Self::AppLoaded { app, .. }
            | Self::AppUnloaded { app, .. }
            | Self::AppStarted { app, .. }
            | Self::AppStopped { app }
            | Self::Weight { app, .. }
            | Self::NewPermission { app, .. } => Some(app),
        }
    }
}

/// What dist_ac tells the local application controller.
#[derive(Debug, Clone, PartialEq)]
pub enum ToAc {
    /// `application_controller:control_application(App)` (a call; its answer is not used).
    ControlApplication(Atom),
    /// `{ac_load_application_reply, App, ok}`.
    LoadReply(Atom),
    /// `{ac_start_application_reply, App, Reply}`.
    StartReply(Atom, StartReply),
    /// `{ac_change_application_req, App, Req}`.
    ChangeReq(Atom, ChangeReq),
}

/// `StartReply` of the AC protocol.
#[derive(Debug, Clone, PartialEq)]
pub enum StartReply {
    /// `start_it`.
    StartIt,
    /// `{started, Node}`.
    Started(NodeName),
    /// `not_started`.
    NotStarted,
    /// `{takeover, Node}`.
    Takeover(NodeName),
    /// `{error, R}`.
    Error(Term),
}

/// `Req` of `{ac_change_application_req, App, Req}`.
#[derive(Debug, Clone, PartialEq)]
pub enum ChangeReq {
    /// `start_it`.
    StartIt,
    /// `stop_it`.
    StopIt,
    /// `{started, Node}`: runs at `Node`; stop the local instance if any.
    Started(NodeName),
    /// `{takeover, Node, RestartType}` (`undefined` restart type = `None`).
    Takeover(NodeName, Option<Atom>),
    /// `{failover, Node, RestartType}`.
    Failover(NodeName, Option<Atom>),
    /// `not_running`.
    NotRunning,
}

impl ToAc {
    /// Parses what the application controller receives from dist_ac;
    /// `None` if it is not one of these (`ControlApplication` arrives as
    /// a call and is not parsed here).
    pub fn from_term(t: &Term) -> Option<Self> {
        let e = t.as_tuple()?;
        let app = e.get(1).and_then(node_of)?;
        let r = e.get(2)?;
        let node = |i: usize| r.elem(i).and_then(node_of);
        let rt = || {
            r.elem(2)
                .and_then(TermExt::as_atom)
                .filter(|a| *a != "undefined")
                .map(Atom::from)
        };
        let tag = r.as_atom().or(r.tuple_tag())?;
        Some(match (e.first()?.as_atom()?, e.len()) {
            // dist_ac.erl only ever answers `ok`.
            ("ac_load_application_reply", 3) if tag == "ok" => Self::LoadReply(app),
            ("ac_start_application_reply", 3) => Self::StartReply(
                app,
                match tag {
                    "start_it" => StartReply::StartIt,
                    "started" => StartReply::Started(node(1)?),
                    "not_started" => StartReply::NotStarted,
                    "takeover" => StartReply::Takeover(node(1)?),
                    "error" => StartReply::Error(r.elem(1)?.clone()),
                    _ => return None,
                },
            ),
            ("ac_change_application_req", 3) => Self::ChangeReq(
                app,
                match tag {
                    "start_it" => ChangeReq::StartIt,
                    "stop_it" => ChangeReq::StopIt,
                    "started" => ChangeReq::Started(node(1)?),
                    "takeover" => ChangeReq::Takeover(node(1)?, rt()),
                    "failover" => ChangeReq::Failover(node(1)?, rt()),
                    "not_running" => ChangeReq::NotRunning,
                    _ => return None,
                },
            ),
            _ => return None,
        })
    }

    /// Parses the request of a call to the AC from dist_ac: only
    /// `{control_application, App}` ([`ToAc::ControlApplication`]).
    pub fn from_call(req: &Term) -> Option<Self> {
        match req.as_tuple()? {
            [t, Term::Atom(app)] if t.as_atom() == Some("control_application") => {
                Some(Self::ControlApplication(app.clone()))
            }
            _ => None,
        }
    }

    /// The message as the Erlang AC receives it (`ControlApplication` is a
    /// call; its request term is returned).
    pub fn to_term(&self) -> Term {
        let a = |n: &Atom| Term::Atom(n.clone());
        let rt = |r: &Option<Atom>| r.as_ref().map_or_else(|| atom("undefined"), a);
        match self {
            Self::ControlApplication(app) => term!({control_application, (a(app))}),
            Self::LoadReply(app) => {
                term!({ac_load_application_reply, (a(app)), ok})
            }
            Self::StartReply(app, r) => term!({ac_start_application_reply, (a(app)), (match r {
                StartReply::StartIt => atom("start_it"),
                StartReply::Started(n) => tuple(vec![atom("started"), a(n)]),
                StartReply::NotStarted => atom("not_started"),
                StartReply::Takeover(n) => tuple(vec![atom("takeover"), a(n)]),
                StartReply::Error(e) => tuple(vec![atom("error"), e.clone()]),
            })}),
            Self::ChangeReq(app, r) => term!({ac_change_application_req, (a(app)), (match r {
                ChangeReq::StartIt => atom("start_it"),
                ChangeReq::StopIt => atom("stop_it"),
                ChangeReq::Started(n) => tuple(vec![atom("started"), a(n)]),
                ChangeReq::Takeover(n, r) => tuple(vec![atom("takeover"), a(n), rt(r)]),
                ChangeReq::Failover(n, r) => tuple(vec![atom("failover"), a(n), rt(r)]),
                ChangeReq::NotRunning => atom("not_running"),
            })}),
        }
    }
}

/// What the local application controller tells dist_ac.
#[derive(Debug, Clone, PartialEq)]
pub enum FromAc {
    /// `{ac_load_application_req, App}`.
    LoadReq(Atom),
    /// `{ac_start_application_req, App}`.
    StartReq(Atom),
    /// `{ac_application_run, App, ok | {error, R}}`.
    Run(Atom, Result<(), Term>),
    /// `{ac_application_not_run, App}`.
    NotRun(Atom),
    /// `{ac_application_stopped, App}`.
    Stopped(Atom),
    /// `{ac_application_unloaded, App}`.
    Unloaded(Atom),
}

impl FromAc {
    /// Parses an AC message; `None` if it is not one.
    pub fn from_term(t: &Term) -> Option<Self> {
        let e = t.as_tuple()?;
        let app = || e.get(1).and_then(node_of);
        Some(match (e.first()?.as_atom()?, e.len()) {
            ("ac_load_application_req", 2) => Self::LoadReq(app()?),
            ("ac_start_application_req", 2) => Self::StartReq(app()?),
            ("ac_application_run", 3) => Self::Run(
                app()?,
                if e[2].as_atom() == Some("ok") {
                    Ok(())
                } else {
                    Err(e[2].clone())
                },
            ),
            ("ac_application_not_run", _) => Self::NotRun(app()?),
            ("ac_application_stopped", 2) => Self::Stopped(app()?),
            ("ac_application_unloaded", 2) => Self::Unloaded(app()?),
            _ => return None,
        })
    }

    /// The term the AC sends.
    pub fn to_term(&self) -> Term {
        let a = |n: &Atom| Term::Atom(n.clone());
        match self {
            Self::LoadReq(x) => term!({ac_load_application_req, (a(x))}),
            Self::StartReq(x) => term!({ac_start_application_req, (a(x))}),
            Self::Run(x, r) => term!({ac_application_run, (a(x)), (match r {
                Ok(()) => atom("ok"),
                Err(t) => t.clone(),
            })}),
            Self::NotRun(x) => term!({ac_application_not_run, (a(x))}),
            Self::Stopped(x) => term!({ac_application_stopped, (a(x))}),
            Self::Unloaded(x) => term!({ac_application_unloaded, (a(x))}),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The application controller reads what dist_ac writes, variant by
    /// variant, and the other way round.
    #[test]
    fn the_ac_contract_round_trips() {
        let (app, n) = (Atom::from("myapp"), Atom::from("cp2@cave"));
        let to_ac = [
            ToAc::LoadReply(app.clone()),
            ToAc::StartReply(app.clone(), StartReply::StartIt),
            ToAc::StartReply(app.clone(), StartReply::Started(n.clone())),
            ToAc::StartReply(app.clone(), StartReply::NotStarted),
            ToAc::StartReply(app.clone(), StartReply::Takeover(n.clone())),
            ToAc::StartReply(app.clone(), StartReply::Error(atom("badarg"))),
            ToAc::ChangeReq(app.clone(), ChangeReq::StartIt),
            ToAc::ChangeReq(app.clone(), ChangeReq::StopIt),
            ToAc::ChangeReq(app.clone(), ChangeReq::Started(n.clone())),
            ToAc::ChangeReq(
                app.clone(),
                ChangeReq::Takeover(n.clone(), Some(Atom::from("permanent"))),
            ),
            ToAc::ChangeReq(app.clone(), ChangeReq::Failover(n.clone(), None)),
            ToAc::ChangeReq(app.clone(), ChangeReq::NotRunning),
        ];
        for m in to_ac {
            assert_eq!(ToAc::from_term(&m.to_term()), Some(m.clone()));
            assert_eq!(ToAc::from_call(&m.to_term()), None);
        }
        let control = ToAc::ControlApplication(app.clone());
        assert_eq!(ToAc::from_call(&control.to_term()), Some(control.clone()));
        assert_eq!(ToAc::from_term(&control.to_term()), None);
        let from_ac = [
            FromAc::LoadReq(app.clone()),
            FromAc::StartReq(app.clone()),
            FromAc::Run(app.clone(), Ok(())),
            FromAc::Run(app.clone(), Err(tuple(vec![atom("error"), atom("x")]))),
            FromAc::NotRun(app.clone()),
            FromAc::Stopped(app.clone()),
            FromAc::Unloaded(app),
        ];
        for m in from_ac {
            assert_eq!(FromAc::from_term(&m.to_term()), Some(m));
        }
    }
}
