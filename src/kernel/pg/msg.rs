//! The messages a pg scope receives and sends, as `pg.erl` of OTP 25 and
//! 27 and `pg.erl` + `data_publisher.erl` of OTP 29 shape them.
//!
//! | message | OTP 25 | OTP 26–28 | OTP 29 |
//! |---|---|---|---|
//! | `{discover, Peer}` | sends, accepts | sends, accepts | accepts (peer version 0) |
//! | `{discover, Peer, Vsn}` | **crashes** (`badarg`) | accepts, ignores `Vsn` | sends `Vsn = 1`, accepts |
//! | `{'$gen_cast', {sync, Peer, [{G, Pids}]}}` | sends, accepts | sends, accepts | sends to version 0, accepts |
//! | `{join, Peer, G, PidOrPids}` | sends, accepts | sends, accepts | sends to version 0, accepts |
//! | `{leave, Peer, PidOrPids, [G]}` | sends, accepts | sends, accepts | sends to version 0, accepts |
//! | `{'$gen_cast', {local_data, Peer, Vsn, #{G => Pids}}}` | crashes | crashes | sends to version 1, accepts |
//! | `{update, Peer, [{G, Add, Remove}]}` | crashes | crashes | sends to version 1, accepts |
//!
//! Anything else crashes a BEAM scope (`erlang:error(badarg)`), which then
//! loses its local members: this node sends the version-1 messages only to
//! a peer that announced version 1 itself.

use crate::runtime::{GenCall, GenFrom};
use crate::term;
use crate::term::{Atom, Map, Pid, Reference, Term, TermExt, atom, int, list, tuple};
use std::collections::HashMap;

/// The `data_publisher` protocol version this node speaks with peers that
/// announce one (`pg:version/0` of OTP 29).
pub(crate) const VERSION: i64 = 1;

/// One change of an OTP 29 `update`: `{Group, Add, Remove}`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Change {
    pub(crate) group: Term,
    pub(crate) add: Vec<Pid>,
    pub(crate) remove: Vec<Pid>,
}

/// A message from a peer scope.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum PeerMsg {
    /// `{discover, Peer}` (`version: None`) or `{discover, Peer, Vsn}`.
    Discover { peer: Pid, version: Option<Term> },
    /// `{'$gen_cast', {sync, Peer, Groups}}`: the peer's local members.
    Sync {
        peer: Pid,
        groups: Vec<(Term, Vec<Pid>)>,
    },
    /// `{local_data, Peer, Vsn, #{G => Pids}}`, as a cast or a plain message.
    LocalData {
        peer: Pid,
        version: Term,
        groups: Vec<(Term, Vec<Pid>)>,
    },
    /// `{join, Peer, Group, PidOrPids}`.
    Join {
        peer: Pid,
        group: Term,
        pids: Vec<Pid>,
    },
    /// `{leave, Peer, PidOrPids, Groups}`.
    Leave {
        peer: Pid,
        pids: Vec<Pid>,
        groups: Vec<Term>,
    },
    /// `{update, Peer, [{Group, Add, Remove}]}`.
    Update { peer: Pid, changes: Vec<Change> },
}

/// A request to the scope, from the Rust API or a `gen_server:call`.
#[derive(Debug, Clone, PartialEq)]
pub enum Request {
    /// `{join_local, Group, Pids}`.
    Join {
        /// The group.
        group: Term,
        /// Local processes (a process may appear several times).
        pids: Vec<Pid>,
    },
    /// `{leave_local, Group, Pids}`.
    Leave {
        /// The group.
        group: Term,
        /// Local processes.
        pids: Vec<Pid>,
    },
    /// `monitor` (`pg:monitor_scope/1`).
    MonitorScope,
    /// `{monitor, Group}` (`pg:monitor/2`).
    MonitorGroup(Term),
    /// `{demonitor, Ref}` (`pg:demonitor/2`).
    Demonitor(Reference),
}

/// What arrived in a scope's mailbox.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Incoming {
    Peer(PeerMsg),
    Call(GenFrom, Request),
    /// `{'DOWN', Ref, process, Pid, Reason}`.
    Down {
        reference: Reference,
        pid: Pid,
    },
    NodeUp(Atom),
    NodeDown(Atom),
    /// Anything else (OTP's scope would crash on it; this one logs it).
    Unexpected,
}

/// A pid or a proper list of pids (`PidOrPids`).
fn pids(t: &Term) -> Option<Vec<Pid>> {
    match t {
        Term::Pid(p) => Some(vec![p.clone()]),
        _ => pid_list(t),
    }
}

/// A proper list of pids.
fn pid_list(t: &Term) -> Option<Vec<Pid>> {
    t.as_list()?
        .iter()
        .map(|p| p.as_pid().cloned())
        .collect::<Option<Vec<_>>>()
}

/// `[{Group, [Pid]}]`.
fn group_list(t: &Term) -> Option<Vec<(Term, Vec<Pid>)>> {
    t.as_list()?
        .iter()
        .map(|e| match e.as_tuple()? {
            [g, ps] => Some((g.clone(), pid_list(ps)?)),
            _ => None,
        })
        .collect()
}

/// `#{Group => [Pid]}`.
fn group_map(t: &Term) -> Option<Vec<(Term, Vec<Pid>)>> {
    let Term::Map(m) = t else { return None };
    m.map
        .iter()
        .map(|(g, ps)| Some((g.clone(), pid_list(ps)?)))
        .collect()
}

fn changes(t: &Term) -> Option<Vec<Change>> {
    t.as_list()?
        .iter()
        .map(|e| match e.as_tuple()? {
            [g, add, remove] => Some(Change {
                group: g.clone(),
                add: pid_list(add)?,
                remove: pid_list(remove)?,
            }),
            _ => None,
        })
        .collect()
}

fn cast(body: &Term) -> Option<PeerMsg> {
    match body.as_tuple()? {
        [Term::Atom(t), Term::Pid(peer), groups] if t.name == "sync" => Some(PeerMsg::Sync {
            peer: peer.clone(),
            groups: group_list(groups)?,
        }),
        [Term::Atom(t), Term::Pid(peer), vsn, data] if t.name == "local_data" => {
            Some(PeerMsg::LocalData {
                peer: peer.clone(),
                version: vsn.clone(),
                groups: group_map(data)?,
            })
        }
        _ => None,
    }
}

fn request(r: &Term) -> Option<Request> {
    if r.as_atom() == Some("monitor") {
        return Some(Request::MonitorScope);
    }
    match r.as_tuple()? {
        [Term::Atom(t), g, ps] if t.name == "join_local" => Some(Request::Join {
            group: g.clone(),
            pids: pids(ps)?,
        }),
        [Term::Atom(t), g, ps] if t.name == "leave_local" => Some(Request::Leave {
            group: g.clone(),
            pids: pids(ps)?,
        }),
        [Term::Atom(t), g] if t.name == "monitor" => Some(Request::MonitorGroup(g.clone())),
        [Term::Atom(t), Term::Reference(r)] if t.name == "demonitor" => {
            Some(Request::Demonitor((**r).clone()))
        }
        _ => None,
    }
}

/// Classifies a message of the scope's mailbox.
pub(crate) fn parse(msg: &Term) -> Incoming {
    parse_known(msg).unwrap_or(Incoming::Unexpected)
}

fn parse_known(msg: &Term) -> Option<Incoming> {
    if let Some(c) = GenCall::parse(msg) {
        return Some(Incoming::Call(c.from, request(&c.request)?));
    }
    let el = msg.as_tuple()?;
    let Term::Atom(tag) = el.first()? else {
        return None;
    };
    let peer = |i: usize| el.get(i).and_then(TermExt::as_pid).cloned();
    Some(match (tag.name.as_str(), el.len()) {
        ("$gen_cast", 2) => Incoming::Peer(cast(&el[1])?),
        ("discover", 2) => Incoming::Peer(PeerMsg::Discover {
            peer: peer(1)?,
            version: None,
        }),
        ("discover", 3) => Incoming::Peer(PeerMsg::Discover {
            peer: peer(1)?,
            version: Some(el[2].clone()),
        }),
        ("local_data", 4) => Incoming::Peer(cast(msg)?),
        ("join", 4) => Incoming::Peer(PeerMsg::Join {
            peer: peer(1)?,
            group: el[2].clone(),
            pids: pids(&el[3])?,
        }),
        ("leave", 4) => Incoming::Peer(PeerMsg::Leave {
            peer: peer(1)?,
            pids: pids(&el[2])?,
            groups: el[3].as_list()?.into_owned(),
        }),
        ("update", 3) => Incoming::Peer(PeerMsg::Update {
            peer: peer(1)?,
            changes: changes(&el[2])?,
        }),
        ("DOWN", 5) if el[2].as_atom() == Some("process") => Incoming::Down {
            reference: el[1].as_reference()?.clone(),
            pid: peer(3)?,
        },
        ("nodeup", 2 | 3) => Incoming::NodeUp(el[1].as_atom().map(Atom::from)?),
        ("nodedown", 2 | 3) => Incoming::NodeDown(el[1].as_atom().map(Atom::from)?),
        _ => return None,
    })
}

fn pid_terms(pids: &[Pid]) -> Term {
    list(pids.iter().cloned().map(Term::Pid).collect())
}

/// `{discover, Me}` or, to a peer that accepts it, `{discover, Me, 1}`.
pub(crate) fn discover(me: &Pid, versioned: bool) -> Term {
    let mut el = vec![atom("discover"), Term::Pid(me.clone())];
    if versioned {
        el.push(int(VERSION));
    }
    tuple(el)
}

/// `{'$gen_cast', {sync, Me, [{Group, LocalPids}]}}`.
pub(crate) fn sync(me: &Pid, local: &[(Term, Vec<Pid>)]) -> Term {
    let groups = local
        .iter()
        .map(|(g, ps)| term!({(g.clone()), (pid_terms(ps))}))
        .collect();
    term!({:"$gen_cast", {sync, (Term::Pid(me.clone())), (list(groups))}})
}

/// `{'$gen_cast', {local_data, Me, 1, #{Group => LocalPids}}}`.
pub(crate) fn local_data(me: &Pid, local: &[(Term, Vec<Pid>)]) -> Term {
    let map: HashMap<Term, Term> = local
        .iter()
        .map(|(g, ps)| (g.clone(), pid_terms(ps)))
        .collect();
    term!({:"$gen_cast", {local_data, (Term::Pid(me.clone())), (int(VERSION)), (Term::Map(Map::from(map)))}})
}

/// `{join, Me, Group, Pids}`.
pub(crate) fn join(me: &Pid, group: &Term, pids: &[Pid]) -> Term {
    term!({join, (Term::Pid(me.clone())), (group.clone()), (pid_terms(pids))})
}

/// `{leave, Me, Pids, Groups}`.
pub(crate) fn leave(me: &Pid, pids: &[Pid], groups: &[Term]) -> Term {
    term!({leave, (Term::Pid(me.clone())), (pid_terms(pids)), (list(groups.to_vec()))})
}

/// `{update, Me, [{Group, Add, Remove}]}`.
pub(crate) fn update(me: &Pid, changes: &[Change]) -> Term {
    let cs = changes
        .iter()
        .map(|c| term!({(c.group.clone()), (pid_terms(&c.add)), (pid_terms(&c.remove))}))
        .collect();
    term!({update, (Term::Pid(me.clone())), (list(cs))})
}

/// `{Ref, join | leave, Group, Pids}`: what a monitor of the scope or the
/// group receives.
pub(crate) fn notification(reference: &Reference, join: bool, group: &Term, pids: &[Pid]) -> Term {
    term!({(Term::Reference(Box::new(reference.clone()))), (atom(if join { "join" } else { "leave" })), (group.clone()), (pid_terms(pids))})
}
