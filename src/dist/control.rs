//! Distribution control messages (`DOP_*` in `erts/emulator/beam/dist.h`):
//! the typed form of the control tuple plus its message part, decoded from
//! and encoded to terms.
//!
//! The `_TT` (trace token) variants are accepted on receive and their token
//! dropped; the `PAYLOAD_*` variants are folded into the plain ones, and
//! chosen on send when `DFLAG_EXIT_PAYLOAD` was negotiated.

use super::DFlags;
use crate::term;
use crate::term::{Atom, Field, Pid, Reference, Term, TermExt, int, uint};

/// A process addressed by pid or by registered name (`ToProc` / `FromProc`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ProcRef {
    /// A pid.
    Pid(Pid),
    /// A registered name on the receiving (or sending) node.
    Name(Atom),
}

impl ProcRef {
    fn to_term(&self) -> Term {
        match self {
            Self::Pid(p) => Term::Pid(p.clone()),
            Self::Name(a) => Term::Atom(a.clone()),
        }
    }

    fn from_term(t: &Term) -> Option<Self> {
        match t {
            Term::Pid(p) => Some(Self::Pid(p.clone())),
            Term::Atom(a) => Some(Self::Name(a.clone())),
            _ => None,
        }
    }
}

/// One distribution operation.
#[derive(Debug, Clone, PartialEq)]
pub enum Control {
    /// `LINK {1, From, To}`.
    Link {
        /// Linking process.
        from: Pid,
        /// Linked process.
        to: Pid,
    },
    /// `SEND {2, '', To}` / `SEND_SENDER {22, From, To}` + message.
    Send {
        /// The sender, when known (`SEND_SENDER`).
        from: Option<Pid>,
        /// The receiver.
        to: Pid,
        /// The message.
        msg: Term,
    },
    /// `EXIT {3, From, To, Reason}` / `PAYLOAD_EXIT {24, From, To}` + reason: a link broke.
    Exit {
        /// The exiting process.
        from: Pid,
        /// The linked process.
        to: Pid,
        /// Exit reason.
        reason: Term,
    },
    /// `UNLINK {4, From, To}` (the pre-`UNLINK_ID` protocol).
    Unlink {
        /// Unlinking process.
        from: Pid,
        /// Unlinked process.
        to: Pid,
    },
    /// `REG_SEND {6, From, '', Name}` + message.
    RegSend {
        /// The sender.
        from: Pid,
        /// Registered name on the receiving node.
        name: Atom,
        /// The message.
        msg: Term,
    },
    /// `GROUP_LEADER {7, From, To}`.
    GroupLeader {
        /// The new group leader.
        from: Pid,
        /// The process whose group leader changes.
        to: Pid,
    },
    /// `EXIT2 {8, From, To, Reason}` / `PAYLOAD_EXIT2 {26, From, To}` + reason: `exit/2`.
    Exit2 {
        /// The process calling `exit/2`.
        from: Pid,
        /// The target.
        to: Pid,
        /// Exit reason.
        reason: Term,
    },
    /// `MONITOR_P {19, From, ToProc, Ref}`.
    MonitorP {
        /// Monitoring process.
        from: Pid,
        /// Monitored process (pid or name).
        target: ProcRef,
        /// Monitor reference.
        reference: Reference,
    },
    /// `DEMONITOR_P {20, From, ToProc, Ref}`.
    DemonitorP {
        /// Monitoring process.
        from: Pid,
        /// Monitored process (pid or name).
        target: ProcRef,
        /// Monitor reference.
        reference: Reference,
    },
    /// `MONITOR_P_EXIT {21, FromProc, To, Ref, Reason}` / `PAYLOAD_MONITOR_P_EXIT {28, ...}` + reason.
    MonitorPExit {
        /// The monitored process (a name if it was monitored by name).
        from: ProcRef,
        /// The monitoring process.
        to: Pid,
        /// Monitor reference.
        reference: Reference,
        /// Exit reason.
        reason: Term,
    },
    /// `SPAWN_REQUEST {29, ReqId, From, GroupLeader, {M, F, A}, OptList}` + ArgList.
    SpawnRequest {
        /// Request id (a reference).
        req_id: Reference,
        /// The requesting process.
        from: Pid,
        /// Group leader for the new process.
        group_leader: Pid,
        /// Module.
        module: Atom,
        /// Function.
        function: Atom,
        /// Arity.
        arity: u32,
        /// Spawn options (as sent: `[monitor]`, `[link]`, ...).
        opts: Term,
        /// Argument list.
        args: Term,
    },
    /// `SPAWN_REPLY {31, ReqId, To, Flags, Result}`.
    SpawnReply {
        /// The request id.
        req_id: Reference,
        /// The requesting process.
        to: Pid,
        /// Bit 1: link set up, bit 2: monitor set up.
        flags: u32,
        /// The new pid, or an error atom.
        result: Term,
    },
    /// `UNLINK_ID {35, Id, From, To}`.
    UnlinkId {
        /// Unlink operation id.
        id: u64,
        /// Unlinking process.
        from: Pid,
        /// Unlinked process.
        to: Pid,
    },
    /// `UNLINK_ID_ACK {36, Id, From, To}`.
    UnlinkIdAck {
        /// The acknowledged unlink id.
        id: u64,
        /// The acknowledging process.
        from: Pid,
        /// The process that unlinked.
        to: Pid,
    },
    /// `ALIAS_SEND {33, From, Alias}` + message.
    AliasSend {
        /// The sender.
        from: Pid,
        /// The alias (a reference).
        alias: Reference,
        /// The message.
        msg: Term,
    },
}

/// A control message that could not be understood.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ControlError {
    /// The control term is not a tuple with an integer operation first.
    #[error("control message is not a tuple starting with an operation: {0}")]
    NotAControlTuple(String),
    /// An operation this node does not know.
    #[error("unknown distribution operation {0}")]
    UnknownOp(i64),
    /// The operation is known but its fields have the wrong shape.
    #[error("malformed {op} control message: {detail}")]
    Malformed {
        /// Operation name.
        op: &'static str,
        /// What was wrong.
        detail: String,
    },
    /// The operation needs a message part that was not there.
    #[error("{0} control message without its message part")]
    MissingPayload(&'static str),
}

fn malformed(op: &'static str, t: &Term) -> ControlError {
    ControlError::Malformed {
        op,
        detail: format!("{}", crate::term::Pretty(t)),
    }
}

fn pid(op: &'static str, ctrl: &Term, i: usize) -> Result<Pid, ControlError> {
    ctrl.elem(i)
        .and_then(TermExt::as_pid)
        .cloned()
        .ok_or_else(|| malformed(op, ctrl))
}

fn reference(op: &'static str, ctrl: &Term, i: usize) -> Result<Reference, ControlError> {
    ctrl.elem(i)
        .and_then(TermExt::as_reference)
        .cloned()
        .ok_or_else(|| malformed(op, ctrl))
}

fn name(op: &'static str, ctrl: &Term, i: usize) -> Result<Atom, ControlError> {
    match ctrl.elem(i) {
        Some(Term::Atom(a)) => Ok(a.clone()),
        _ => Err(malformed(op, ctrl)),
    }
}

fn proc_ref(op: &'static str, ctrl: &Term, i: usize) -> Result<ProcRef, ControlError> {
    ctrl.elem(i)
        .and_then(ProcRef::from_term)
        .ok_or_else(|| malformed(op, ctrl))
}

fn any(op: &'static str, ctrl: &Term, i: usize) -> Result<Term, ControlError> {
    ctrl.elem(i).cloned().ok_or_else(|| malformed(op, ctrl))
}

fn unsigned(op: &'static str, ctrl: &Term, i: usize) -> Result<u64, ControlError> {
    use num_traits::ToPrimitive;
    match ctrl.elem(i) {
        Some(Term::FixInteger(x)) if x.value >= 0 => Ok(x.value as u64),
        Some(Term::BigInteger(b)) => b.value.to_u64().ok_or_else(|| malformed(op, ctrl)),
        _ => Err(malformed(op, ctrl)),
    }
}

fn arity(op: &'static str, ctrl: &Term, n: usize) -> Result<(), ControlError> {
    if ctrl.as_tuple().map(<[Term]>::len) == Some(n) {
        Ok(())
    } else {
        Err(malformed(op, ctrl))
    }
}

fn payload(op: &'static str, msg: Option<Term>) -> Result<Term, ControlError> {
    msg.ok_or(ControlError::MissingPayload(op))
}

impl Control {
    /// [`Control::from_terms`] taking the control tuple by value: the
    /// pids and references of a message send (`SEND`, `SEND_SENDER`,
    /// `REG_SEND`, `ALIAS_SEND`) are moved out of it, not cloned.
    pub fn from_owned_terms(mut ctrl: Term, msg: Option<Term>) -> Result<Self, ControlError> {
        let Some(msg) = msg else {
            return Self::from_terms(&ctrl, None);
        };
        let Term::Tuple(t) = &mut ctrl else {
            return Self::from_terms(&ctrl, Some(msg));
        };
        let take_pid = |p: &mut Pid| {
            std::mem::replace(
                p,
                Pid {
                    node: Atom::from(""),
                    id: 0,
                    serial: 0,
                    creation: 0,
                },
            )
        };
        match t.elements.as_mut_slice() {
            [Term::FixInteger(op), Term::Atom(_), Term::Pid(to)] if op.value == 2 => {
                Ok(Self::Send {
                    from: None,
                    to: take_pid(to),
                    msg,
                })
            }
            [Term::FixInteger(op), from, Term::Pid(to)] if op.value == 22 => Ok(Self::Send {
                from: match from {
                    Term::Pid(f) => Some(take_pid(f)),
                    _ => None,
                },
                to: take_pid(to),
                msg,
            }),
            [
                Term::FixInteger(op),
                Term::Pid(from),
                Term::Atom(_),
                Term::Atom(name),
            ] if op.value == 6 => Ok(Self::RegSend {
                from: take_pid(from),
                name: std::mem::replace(name, Atom::from("")),
                msg,
            }),
            [
                Term::FixInteger(op),
                Term::Pid(from),
                Term::Reference(alias),
            ] if op.value == 33 => {
                let alias = std::mem::replace(
                    &mut **alias,
                    Reference {
                        node: Atom::from(""),
                        id: Vec::new(),
                        creation: 0,
                    },
                );
                Ok(Self::AliasSend {
                    from: take_pid(from),
                    alias,
                    msg,
                })
            }
            _ => Self::from_terms(&ctrl, Some(msg)),
        }
    }

    /// Builds the typed message from the decoded control tuple and the
    /// optional message term that followed it.
    pub fn from_terms(ctrl: &Term, msg: Option<Term>) -> Result<Self, ControlError> {
        let op = ctrl.elem(0).and_then(TermExt::as_i64).ok_or_else(|| {
            ControlError::NotAControlTuple(format!("{}", crate::term::Pretty(ctrl)))
        })?;
        Ok(match op {
            1 => {
                arity("LINK", ctrl, 3)?;
                Self::Link {
                    from: pid("LINK", ctrl, 1)?,
                    to: pid("LINK", ctrl, 2)?,
                }
            }
            2 | 12 => {
                let op_name = if op == 2 { "SEND" } else { "SEND_TT" };
                arity(op_name, ctrl, if op == 2 { 3 } else { 4 })?;
                Self::Send {
                    from: None,
                    to: pid(op_name, ctrl, 2)?,
                    msg: payload(op_name, msg)?,
                }
            }
            22 | 23 => {
                let op_name = if op == 22 {
                    "SEND_SENDER"
                } else {
                    "SEND_SENDER_TT"
                };
                arity(op_name, ctrl, if op == 22 { 3 } else { 4 })?;
                // FromPid may be `undefined` when the sender was not a process.
                let from = ctrl.elem(1).and_then(TermExt::as_pid).cloned();
                Self::Send {
                    from,
                    to: pid(op_name, ctrl, 2)?,
                    msg: payload(op_name, msg)?,
                }
            }
            3 | 13 => {
                let (op_name, ri) = if op == 3 { ("EXIT", 3) } else { ("EXIT_TT", 4) };
                arity(op_name, ctrl, ri + 1)?;
                Self::Exit {
                    from: pid(op_name, ctrl, 1)?,
                    to: pid(op_name, ctrl, 2)?,
                    reason: any(op_name, ctrl, ri)?,
                }
            }
            24 | 25 => {
                let op_name = if op == 24 {
                    "PAYLOAD_EXIT"
                } else {
                    "PAYLOAD_EXIT_TT"
                };
                Self::Exit {
                    from: pid(op_name, ctrl, 1)?,
                    to: pid(op_name, ctrl, 2)?,
                    reason: payload(op_name, msg)?,
                }
            }
            4 => {
                arity("UNLINK", ctrl, 3)?;
                Self::Unlink {
                    from: pid("UNLINK", ctrl, 1)?,
                    to: pid("UNLINK", ctrl, 2)?,
                }
            }
            6 | 16 => {
                let op_name = if op == 6 { "REG_SEND" } else { "REG_SEND_TT" };
                arity(op_name, ctrl, if op == 6 { 4 } else { 5 })?;
                Self::RegSend {
                    from: pid(op_name, ctrl, 1)?,
                    name: name(op_name, ctrl, 3)?,
                    msg: payload(op_name, msg)?,
                }
            }
            7 => {
                arity("GROUP_LEADER", ctrl, 3)?;
                Self::GroupLeader {
                    from: pid("GROUP_LEADER", ctrl, 1)?,
                    to: pid("GROUP_LEADER", ctrl, 2)?,
                }
            }
            8 | 18 => {
                let (op_name, ri) = if op == 8 {
                    ("EXIT2", 3)
                } else {
                    ("EXIT2_TT", 4)
                };
                arity(op_name, ctrl, ri + 1)?;
                Self::Exit2 {
                    from: pid(op_name, ctrl, 1)?,
                    to: pid(op_name, ctrl, 2)?,
                    reason: any(op_name, ctrl, ri)?,
                }
            }
            26 | 27 => {
                let op_name = if op == 26 {
                    "PAYLOAD_EXIT2"
                } else {
                    "PAYLOAD_EXIT2_TT"
                };
                Self::Exit2 {
                    from: pid(op_name, ctrl, 1)?,
                    to: pid(op_name, ctrl, 2)?,
                    reason: payload(op_name, msg)?,
                }
            }
            19 => {
                arity("MONITOR_P", ctrl, 4)?;
                Self::MonitorP {
                    from: pid("MONITOR_P", ctrl, 1)?,
                    target: proc_ref("MONITOR_P", ctrl, 2)?,
                    reference: reference("MONITOR_P", ctrl, 3)?,
                }
            }
            20 => {
                arity("DEMONITOR_P", ctrl, 4)?;
                Self::DemonitorP {
                    from: pid("DEMONITOR_P", ctrl, 1)?,
                    target: proc_ref("DEMONITOR_P", ctrl, 2)?,
                    reference: reference("DEMONITOR_P", ctrl, 3)?,
                }
            }
            21 => {
                arity("MONITOR_P_EXIT", ctrl, 5)?;
                Self::MonitorPExit {
                    from: proc_ref("MONITOR_P_EXIT", ctrl, 1)?,
                    to: pid("MONITOR_P_EXIT", ctrl, 2)?,
                    reference: reference("MONITOR_P_EXIT", ctrl, 3)?,
                    reason: any("MONITOR_P_EXIT", ctrl, 4)?,
                }
            }
            28 => Self::MonitorPExit {
                from: proc_ref("PAYLOAD_MONITOR_P_EXIT", ctrl, 1)?,
                to: pid("PAYLOAD_MONITOR_P_EXIT", ctrl, 2)?,
                reference: reference("PAYLOAD_MONITOR_P_EXIT", ctrl, 3)?,
                reason: payload("PAYLOAD_MONITOR_P_EXIT", msg)?,
            },
            29 | 30 => {
                let op_name = if op == 29 {
                    "SPAWN_REQUEST"
                } else {
                    "SPAWN_REQUEST_TT"
                };
                arity(op_name, ctrl, if op == 29 { 6 } else { 7 })?;
                let mfa = ctrl
                    .elem(4)
                    .and_then(TermExt::as_tuple)
                    .ok_or_else(|| malformed(op_name, ctrl))?;
                let (module, function, arity) = match mfa {
                    [Term::Atom(m), Term::Atom(f), a] => (
                        m.clone(),
                        f.clone(),
                        a.as_i64()
                            .and_then(|a| u32::try_from(a).ok())
                            .ok_or_else(|| malformed(op_name, ctrl))?,
                    ),
                    _ => return Err(malformed(op_name, ctrl)),
                };
                Self::SpawnRequest {
                    req_id: reference(op_name, ctrl, 1)?,
                    from: pid(op_name, ctrl, 2)?,
                    group_leader: pid(op_name, ctrl, 3)?,
                    module,
                    function,
                    arity,
                    opts: any(op_name, ctrl, 5)?,
                    args: payload(op_name, msg)?,
                }
            }
            31 | 32 => {
                let op_name = if op == 31 {
                    "SPAWN_REPLY"
                } else {
                    "SPAWN_REPLY_TT"
                };
                arity(op_name, ctrl, if op == 31 { 5 } else { 6 })?;
                Self::SpawnReply {
                    req_id: reference(op_name, ctrl, 1)?,
                    to: pid(op_name, ctrl, 2)?,
                    flags: u32::try_from(unsigned(op_name, ctrl, 3)?)
                        .map_err(|_| malformed(op_name, ctrl))?,
                    result: any(op_name, ctrl, 4)?,
                }
            }
            33 | 34 => {
                let op_name = if op == 33 {
                    "ALIAS_SEND"
                } else {
                    "ALIAS_SEND_TT"
                };
                arity(op_name, ctrl, if op == 33 { 3 } else { 4 })?;
                Self::AliasSend {
                    from: pid(op_name, ctrl, 1)?,
                    alias: reference(op_name, ctrl, 2)?,
                    msg: payload(op_name, msg)?,
                }
            }
            35 => {
                arity("UNLINK_ID", ctrl, 4)?;
                Self::UnlinkId {
                    id: unsigned("UNLINK_ID", ctrl, 1)?,
                    from: pid("UNLINK_ID", ctrl, 2)?,
                    to: pid("UNLINK_ID", ctrl, 3)?,
                }
            }
            36 => {
                arity("UNLINK_ID_ACK", ctrl, 4)?;
                Self::UnlinkIdAck {
                    id: unsigned("UNLINK_ID_ACK", ctrl, 1)?,
                    from: pid("UNLINK_ID_ACK", ctrl, 2)?,
                    to: pid("UNLINK_ID_ACK", ctrl, 3)?,
                }
            }
            other => return Err(ControlError::UnknownOp(other)),
        })
    }

    /// The control tuple of a message send (`SEND`, `SEND_SENDER`,
    /// `REG_SEND`, `ALIAS_SEND`) as fields to encode in place, and the
    /// message: what [`Control::to_terms`] gives for them, without cloning
    /// pids into a new tuple for every message. `None` for other
    /// operations.
    pub fn send_fields(&self, flags: DFlags) -> Option<([Field<'_>; 4], usize, &Term)> {
        const PAD: Field<'static> = Field::Int(0);
        Some(match self {
            Self::Send {
                from: Some(from),
                to,
                msg,
            } if flags.contains(DFlags::SEND_SENDER) => (
                [Field::Int(22), Field::Pid(from), Field::Pid(to), PAD],
                3,
                msg,
            ),
            Self::Send { to, msg, .. } => (
                [Field::Int(2), Field::Atom(""), Field::Pid(to), PAD],
                3,
                msg,
            ),
            Self::RegSend { from, name, msg } => (
                [
                    Field::Int(6),
                    Field::Pid(from),
                    Field::Atom(""),
                    Field::Atom(&name.name),
                ],
                4,
                msg,
            ),
            Self::AliasSend { from, alias, msg } => (
                [Field::Int(33), Field::Pid(from), Field::Ref(alias), PAD],
                3,
                msg,
            ),
            _ => return None,
        })
    }

    /// The control tuple and message part to put on the wire for a
    /// connection with the negotiated `flags`.
    pub fn to_terms(&self, flags: DFlags) -> (Term, Option<&Term>) {
        let payload_exit = flags.contains(DFlags::EXIT_PAYLOAD);
        let p = |p: &Pid| Term::Pid(p.clone());
        let r = |r: &Reference| Term::Reference(Box::new(r.clone()));
        match self {
            Self::Link { from, to } => (term!({1, (p(from)), (p(to))}), None),
            Self::Send {
                from: Some(from),
                to,
                msg,
            } if flags.contains(DFlags::SEND_SENDER) => {
                (term!({22, (p(from)), (p(to))}), Some(msg))
            }
            Self::Send { to, msg, .. } => (term!({2, :"", (p(to))}), Some(msg)),
            Self::Exit { from, to, reason } if payload_exit => {
                (term!({24, (p(from)), (p(to))}), Some(reason))
            }
            Self::Exit { from, to, reason } => {
                (term!({3, (p(from)), (p(to)), (reason.clone())}), None)
            }
            Self::Unlink { from, to } => (term!({4, (p(from)), (p(to))}), None),
            Self::RegSend { from, name, msg } => (
                term!({6, (p(from)), :"", (Term::Atom(name.clone()))}),
                Some(msg),
            ),
            Self::GroupLeader { from, to } => (term!({7, (p(from)), (p(to))}), None),
            Self::Exit2 { from, to, reason } if payload_exit => {
                (term!({26, (p(from)), (p(to))}), Some(reason))
            }
            Self::Exit2 { from, to, reason } => {
                (term!({8, (p(from)), (p(to)), (reason.clone())}), None)
            }
            Self::MonitorP {
                from,
                target,
                reference,
            } => (
                term!({19, (p(from)), (target.to_term()), (r(reference))}),
                None,
            ),
            Self::DemonitorP {
                from,
                target,
                reference,
            } => (
                term!({20, (p(from)), (target.to_term()), (r(reference))}),
                None,
            ),
            Self::MonitorPExit {
                from,
                to,
                reference,
                reason,
            } if payload_exit => (
                term!({28, (from.to_term()), (p(to)), (r(reference))}),
                Some(reason),
            ),
            Self::MonitorPExit {
                from,
                to,
                reference,
                reason,
            } => (
                term!({21, (from.to_term()), (p(to)), (r(reference)), (reason.clone())}),
                None,
            ),
            Self::SpawnRequest {
                req_id,
                from,
                group_leader,
                module,
                function,
                arity,
                opts,
                args,
            } => (
                term!({29, (r(req_id)), (p(from)), (p(group_leader)), {(Term::Atom(module.clone())), (Term::Atom(function.clone())), (int(i64::from(*arity)))}, (opts.clone())}),
                Some(args),
            ),
            Self::SpawnReply {
                req_id,
                to,
                flags,
                result,
            } => (
                term!({31, (r(req_id)), (p(to)), (int(i64::from(*flags))), (result.clone())}),
                None,
            ),
            Self::UnlinkId { id, from, to } => (term!({35, (uint(*id)), (p(from)), (p(to))}), None),
            Self::UnlinkIdAck { id, from, to } => {
                (term!({36, (uint(*id)), (p(from)), (p(to))}), None)
            }
            Self::AliasSend { from, alias, msg } => (term!({33, (p(from)), (r(alias))}), Some(msg)),
        }
    }

    /// The OTP name of the operation, for logs.
    pub fn op_name(&self) -> &'static str {
        match self {
            Self::Link { .. } => "LINK",
            Self::Send { .. } => "SEND",
            Self::Exit { .. } => "EXIT",
            Self::Unlink { .. } => "UNLINK",
            Self::RegSend { .. } => "REG_SEND",
            Self::GroupLeader { .. } => "GROUP_LEADER",
            Self::Exit2 { .. } => "EXIT2",
            Self::MonitorP { .. } => "MONITOR_P",
            Self::DemonitorP { .. } => "DEMONITOR_P",
            Self::MonitorPExit { .. } => "MONITOR_P_EXIT",
            Self::SpawnRequest { .. } => "SPAWN_REQUEST",
            Self::SpawnReply { .. } => "SPAWN_REPLY",
            Self::UnlinkId { .. } => "UNLINK_ID",
            Self::UnlinkIdAck { .. } => "UNLINK_ID_ACK",
            Self::AliasSend { .. } => "ALIAS_SEND",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::term::{Atom, Pid, atom};

    fn pid_of(node: &str, id: u32) -> Pid {
        Pid {
            node: Atom::from(node),
            id,
            serial: 0,
            creation: 7,
        }
    }

    fn reference_of(node: &str) -> Reference {
        Reference {
            node: Atom::from(node),
            id: vec![1, 2, 3],
            creation: 7,
        }
    }

    #[test]
    fn round_trips_every_operation_with_and_without_payload_flags() {
        let a = pid_of("a@h", 1);
        let b = pid_of("b@h", 2);
        let msgs = vec![
            Control::Link {
                from: a.clone(),
                to: b.clone(),
            },
            Control::Send {
                from: Some(a.clone()),
                to: b.clone(),
                msg: atom("hi"),
            },
            Control::Exit {
                from: a.clone(),
                to: b.clone(),
                reason: atom("boom"),
            },
            Control::Unlink {
                from: a.clone(),
                to: b.clone(),
            },
            Control::RegSend {
                from: a.clone(),
                name: Atom::from("rex"),
                msg: int(1),
            },
            Control::Exit2 {
                from: a.clone(),
                to: b.clone(),
                reason: atom("kill"),
            },
            Control::MonitorP {
                from: a.clone(),
                target: ProcRef::Name(Atom::from("net_kernel")),
                reference: reference_of("a@h"),
            },
            Control::MonitorPExit {
                from: ProcRef::Name(Atom::from("x")),
                to: a.clone(),
                reference: reference_of("a@h"),
                reason: atom("noproc"),
            },
            Control::SpawnReply {
                req_id: reference_of("a@h"),
                to: a.clone(),
                flags: 2,
                result: Term::Pid(b.clone()),
            },
            Control::UnlinkId {
                id: u64::MAX,
                from: a.clone(),
                to: b.clone(),
            },
            Control::AliasSend {
                from: a.clone(),
                alias: reference_of("b@h"),
                msg: atom("r"),
            },
        ];
        for flags in [DFlags::EMPTY, DFlags::OURS] {
            for m in &msgs {
                let (ctrl, payload) = m.to_terms(flags);
                let back = Control::from_terms(&ctrl, payload.cloned()).unwrap();
                match (m, &back) {
                    (
                        Control::Send { to, msg, .. },
                        Control::Send {
                            to: t2, msg: m2, ..
                        },
                    ) => {
                        assert_eq!((to, msg), (t2, m2));
                    }
                    _ => assert_eq!(m, &back),
                }
            }
        }
    }

    #[test]
    fn rejects_malformed_and_unknown() {
        assert!(matches!(
            Control::from_terms(&atom("x"), None),
            Err(ControlError::NotAControlTuple(_))
        ));
        assert_eq!(
            Control::from_terms(&term!({ 99 }), None),
            Err(ControlError::UnknownOp(99))
        );
        assert!(matches!(
            Control::from_terms(&term!({1, a, b}), None),
            Err(ControlError::Malformed { op: "LINK", .. })
        ));
        assert_eq!(
            Control::from_terms(&term!({2, :"", (Term::Pid(pid_of("a@h", 1)))}), None),
            Err(ControlError::MissingPayload("SEND"))
        );
    }
}
