//! The `gen` call protocol (`stdlib/src/gen.erl`): recognising
//! `{'$gen_call', From, Request}`, replying to it, and calling a
//! gen_server on any node from a Rust process.
//!
//! OTP 24+ callers tag calls with `[alias|Ref]` and accept only
//! `{[alias|Ref], Reply}`; a reply to such a tag goes to the alias
//! (`ALIAS_SEND`), so that a late reply after a timeout is dropped, as
//! `gen:reply/2` does.

use super::state::MonitorTarget;
use super::{Dest, Process};
use crate::term;
use crate::term::{Atom, ImproperList, Pid, Reference, Term, TermExt, atom};
use std::time::Duration;

/// The `From` of a call: the caller and its tag.
#[derive(Debug, Clone, PartialEq)]
pub struct GenFrom {
    /// The calling process.
    pub pid: Pid,
    /// The tag (`[alias|Ref]`, a plain reference, or `{Ref, Node}` from multi_call).
    pub tag: Term,
}

/// A `{'$gen_call', From, Request}` message.
#[derive(Debug, Clone, PartialEq)]
pub struct GenCall {
    /// Who to reply to.
    pub from: GenFrom,
    /// The request.
    pub request: Term,
}

impl GenCall {
    /// Takes a gen call message apart without copying its request (a
    /// 10 MiB binary in a call stays where the decoder put it); any other
    /// message comes back unchanged.
    pub fn take(mut msg: Term) -> Result<Self, Term> {
        let Term::Tuple(t) = &mut msg else {
            return Err(msg);
        };
        let [Term::Atom(a), Term::Tuple(from), request] = t.elements.as_mut_slice() else {
            return Err(msg);
        };
        if a.name != "$gen_call" {
            return Err(msg);
        }
        let [Term::Pid(pid), tag] = from.elements.as_mut_slice() else {
            return Err(msg);
        };
        // What is left behind is dropped with the message's shell.
        let hole = || Term::from(crate::term::List::nil());
        let no_pid = Pid {
            node: Atom::from(""),
            id: 0,
            serial: 0,
            creation: 0,
        };
        let (pid, tag, request) = (
            std::mem::replace(pid, no_pid),
            std::mem::replace(tag, hole()),
            std::mem::replace(request, hole()),
        );
        Ok(Self {
            from: GenFrom { pid, tag },
            request,
        })
    }

    /// The caller's pid and the request of a gen call message, borrowed.
    fn peek(msg: &Term) -> Option<(&Pid, &Term, &Term)> {
        let [Term::Atom(tag), from, request] = msg.as_tuple()? else {
            return None;
        };
        if tag.name != "$gen_call" {
            return None;
        }
        let [Term::Pid(pid), tag] = from.as_tuple()? else {
            return None;
        };
        Some((pid, tag, request))
    }

    /// Recognises a gen call message, copying what it keeps of it (see
    /// [`GenCall::take`] to move it instead).
    pub fn parse(msg: &Term) -> Option<Self> {
        let (pid, tag, request) = Self::peek(msg)?;
        Some(Self {
            from: GenFrom {
                pid: pid.clone(),
                tag: tag.clone(),
            },
            request: request.clone(),
        })
    }
}

/// The alias in an `[alias|Ref]` tag, or in the `[[alias|Ref]|Mon]` tag
/// of OTP 26+ `gen_server:multi_call` (`gen:reply/2` sends to the alias
/// for both).
pub(crate) fn alias_of(tag: &Term) -> Option<&Reference> {
    match tag {
        Term::ImproperList(l)
            if l.elements.len() == 1 && l.elements[0].as_atom() == Some("alias") =>
        {
            l.last.as_reference()
        }
        Term::ImproperList(l) if l.elements.len() == 1 => match &l.elements[0] {
            Term::ImproperList(_) => alias_of(&l.elements[0]),
            _ => None,
        },
        _ => None,
    }
}

/// Why a call failed, shaped like the exits of `gen:call/4`.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum CallError {
    /// No reply within the timeout (`timeout`).
    #[error("timeout")]
    Timeout,
    /// The server is gone: `noproc`, its exit reason, or `{nodedown, Node}`.
    #[error("{}", crate::term::Pretty(.0))]
    Exit(Term),
}

impl CallError {
    /// The reason as OTP's caller would exit with it (without the `{gen_server, call, ...}` part).
    pub fn reason(&self) -> Term {
        match self {
            Self::Timeout => atom("timeout"),
            Self::Exit(t) => t.clone(),
        }
    }
}

impl Process {
    /// Replies to a gen call (`gen:reply/2`).
    pub fn reply(&self, from: &GenFrom, reply: Term) {
        let msg = term!({(from.tag.clone()), (reply)});
        match alias_of(&from.tag) {
            Some(alias) => self.send(Dest::Alias(alias.clone()), msg),
            None => self.send(&from.pid, msg),
        }
    }

    /// `gen_server:call(Dest, Request, Timeout)` from this process, to a
    /// server on this node or any other.
    pub async fn call(
        &mut self,
        dest: impl Into<Dest>,
        request: Term,
        timeout: Duration,
    ) -> Result<Term, CallError> {
        let dest = dest.into();
        let me = self.node.name().clone();
        let target = match &dest {
            Dest::Pid(p) => MonitorTarget::Pid(p.clone()),
            Dest::Name(n) => MonitorTarget::Name(n.clone(), me.clone()),
            Dest::Remote(n, node) => MonitorTarget::Name(n.clone(), node.clone()),
            Dest::Alias(_) => return Err(CallError::Exit(atom("badarg"))),
        };
        let mref = self.monitor(target);
        self.node.inner.add_alias(&self.pid, mref.clone());
        let mref_t = Term::Reference(Box::new(mref.clone()));
        let tag = Term::ImproperList(ImproperList::from((vec![atom("alias")], mref_t.clone())));
        let from = term!({(Term::Pid(self.pid.clone())), (tag.clone())});
        self.send(dest, term!({:"$gen_call", (from), (request)}));
        let answer = self
            .receive_timeout(timeout, |m| match m.as_tuple() {
                Some([t, _]) => *t == tag || *t == mref_t,
                Some([Term::Atom(d), r, ..]) => d.name == "DOWN" && *r == mref_t,
                _ => false,
            })
            .await;
        self.node.inner.remove_alias(&self.pid, &mref);
        match answer {
            Some(m) if m.tuple_tag() == Some("DOWN") => {
                let reason = m.elem(4).cloned().unwrap_or_else(|| atom("noproc"));
                let reason = if reason.as_atom() == Some("noconnection") {
                    let node = match self_node_of(&m) {
                        Some(n) => Term::Atom(n),
                        None => atom("nonode@nohost"),
                    };
                    term!({nodedown, (node)})
                } else {
                    reason
                };
                Err(CallError::Exit(reason))
            }
            Some(m) => {
                self.demonitor(&mref, true);
                Ok(m.elem(1).cloned().unwrap_or_else(|| atom("undefined")))
            }
            None => {
                self.demonitor(&mref, true);
                Err(CallError::Timeout)
            }
        }
    }
}

/// The node of the monitored object in a DOWN message (pid or `{Name, Node}`).
fn self_node_of(down: &Term) -> Option<Atom> {
    match down.elem(3)? {
        Term::Pid(p) => Some(p.node.clone()),
        t => match t.elem(1)? {
            Term::Atom(a) => Some(a.clone()),
            _ => None,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::term::{Atom, Reference};

    #[test]
    fn parses_alias_tagged_calls() {
        let pid = Pid {
            node: Atom::from("b@h"),
            id: 1,
            serial: 0,
            creation: 1,
        };
        let r = Reference {
            node: Atom::from("b@h"),
            id: vec![1, 2, 3],
            creation: 1,
        };
        let tag = Term::ImproperList(ImproperList::from((
            vec![atom("alias")],
            Term::Reference(Box::new(r.clone())),
        )));
        let msg = term!({:"$gen_call", {(Term::Pid(pid.clone())), (tag.clone())}, req});
        let call = GenCall::parse(&msg).unwrap();
        assert_eq!(call.from.pid, pid);
        assert_eq!(call.request, atom("req"));
        assert_eq!(alias_of(&call.from.tag), Some(&r));
        assert_eq!(GenCall::parse(&atom("x")), None);
        assert_eq!(GenCall::take(msg.clone()), Ok(call));
        assert_eq!(GenCall::take(atom("x")), Err(atom("x")));
        let not_a_call = term!({:"$gen_call", {x, (tag.clone())}, req});
        assert_eq!(GenCall::take(not_a_call.clone()), Err(not_a_call));
        // OTP 26+ multi_call: [[alias|Alias]|Mon].
        let mc = Term::ImproperList(ImproperList::from((vec![tag.clone()], atom("mon"))));
        assert_eq!(alias_of(&mc), Some(&r));
        let plain = Term::ImproperList(ImproperList::from((vec![atom("x")], atom("y"))));
        assert_eq!(alias_of(&plain), None);
    }
}
