//! The side that accepted: `dist_util:handshake_other_started/1`.
//!
//! ```text
//! ExpectName ──► (check_dflags: missing → send not_allowed, error)
//!     │ Event::AcceptPending     └─NAME_ME: Event::NameMe──► ExpectNameMe
//!     ▼                                 name given: send named: + challenge──► ExpectChallengeReply
//!                                       none: send not_allowed, error
//! ExpectAcceptPending ──ok / ok_simultaneous: send status + challenge──► ExpectChallengeReply
//!     │  nok → send nok; not_allowed → send not_allowed; already_pending → error
//!     └─up_pending: send alive──► ExpectStatusReply ──true: send challenge──► ExpectChallengeReply
//!                                        └─false → error
//! ExpectChallengeReply ──(was up_pending) Event::WaitPending──► ExpectWaitPending ──┐
//!     └──────────────────────────────────── send_challenge_ack ◄──────────────────┘──► up
//! ```

use super::error::{HandshakeError, MessageKind};
use super::message::{
    Challenge, ChallengeAck, ChallengeReply, Name, Status, from_latin1, gen_digest,
};
use super::{AcceptPending, Context, Established, Event, Step};
use crate::dist::DFlags;

/// The peer as it introduced itself.
#[derive(Debug)]
struct Peer {
    name: String,
    /// Its flags, `MANDATORY_25_DIGEST` expanded.
    flags: DFlags,
    creation: u32,
}

/// Waiting for the initiator's `send_name` (`recv_name/1`).
#[derive(Debug)]
pub(super) struct ExpectName;

impl ExpectName {
    pub(super) const KIND: MessageKind = MessageKind::Name;

    pub(super) fn handle(self, cx: &mut Context, body: &[u8]) -> Result<Step, HandshakeError> {
        let msg = Name::parse(body)?;
        let name = from_latin1(&msg.name);
        // A peer without a name yet (DFLAG_NAME_ME) sends its host alone.
        let dynamic = msg.flags.contains(DFlags::NAME_ME);
        // is_name_ok/2: `name@host` with both sides non-empty, or a
        // non-empty host for a dynamic name. Closed without a status, as
        // OTP does.
        let name_ok = if dynamic {
            !name.is_empty() && !name.contains('@')
        } else {
            matches!(name.split_once('@'), Some((n, h)) if !n.is_empty() && !h.is_empty() && !h.contains('@'))
        };
        if !name_ok {
            return Err(HandshakeError::InvalidPeerName { name });
        }
        let flags = msg.flags.expand_mandatory_25();
        let missing = super::missing(flags);
        if !missing.is_empty() {
            cx.send(Status::NotAllowed.encode());
            return Err(HandshakeError::FlagsRejected {
                peer: name,
                missing,
            });
        }
        if dynamic {
            cx.events.push_back(Event::NameMe {
                host: name.clone(),
                flags,
            });
            return Ok(Step::ExpectNameMe(ExpectNameMe { host: name, flags }));
        }
        cx.events.push_back(Event::AcceptPending {
            peer: name.clone(),
            flags,
            creation: msg.creation,
        });
        Ok(Step::ExpectAcceptPending(ExpectAcceptPending {
            peer: Peer {
                name,
                flags,
                creation: msg.creation,
            },
        }))
    }
}

/// The peer asked for a dynamic name (`DFLAG_NAME_ME`, OTP 23+): waiting
/// for the node to pick one (net_kernel's `generate_node_name/2` inside
/// `accept_pending`), answered `named:` (`mark_pending/1`).
#[derive(Debug)]
pub(super) struct ExpectNameMe {
    host: String,
    flags: DFlags,
}

impl ExpectNameMe {
    pub(super) fn handle(
        self,
        cx: &mut Context,
        assigned: Option<(&str, u32)>,
    ) -> Result<Step, HandshakeError> {
        let Some((node, creation)) = assigned else {
            cx.send(Status::NotAllowed.encode());
            return Err(HandshakeError::DynamicNameUnsupported { host: self.host });
        };
        cx.send(
            Status::Named {
                name: cx.encode_name(node),
                creation,
            }
            .encode(),
        );
        // make_this_flags/6 with publish_flag/3: towards a peer that asked
        // for a name we advertise NAME_ME instead of PUBLISHED, and the
        // peer checks that NAME_ME survives the AND of both sides' flags
        // (do_setnode/1: `dynamic = name_type(ThisFlags)`).
        cx.cfg.flags = (cx.cfg.flags & !DFlags::PUBLISHED) | DFlags::NAME_ME;
        let peer = Peer {
            name: node.to_owned(),
            flags: self.flags,
            creation,
        };
        Ok(send_challenge(cx, peer, false))
    }
}

/// Waiting for net_kernel's `accept_pending` answer (`mark_pending/1`).
#[derive(Debug)]
pub(super) struct ExpectAcceptPending {
    peer: Peer,
}

impl ExpectAcceptPending {
    pub(super) fn handle(
        self,
        cx: &mut Context,
        reply: AcceptPending,
    ) -> Result<Step, HandshakeError> {
        let peer = self.peer;
        match reply {
            AcceptPending::Ok => {
                cx.send(Status::Ok.encode());
                Ok(send_challenge(cx, peer, false))
            }
            AcceptPending::OkSimultaneous => {
                cx.send(Status::OkSimultaneous.encode());
                Ok(send_challenge(cx, peer, false))
            }
            AcceptPending::Nok => {
                cx.send(Status::Nok.encode());
                Err(HandshakeError::NokSent { peer: peer.name })
            }
            AcceptPending::UpPending => {
                cx.send(Status::Alive.encode());
                Ok(Step::ExpectStatusReply(ExpectStatusReply { peer }))
            }
            AcceptPending::AlreadyPending => {
                Err(HandshakeError::AlreadyPending { peer: peer.name })
            }
            AcceptPending::NotAllowed => {
                cx.send(Status::NotAllowed.encode());
                Err(HandshakeError::Disallowed { peer: peer.name })
            }
        }
    }
}

/// `send_challenge/2`, then wait for the reply.
fn send_challenge(cx: &mut Context, peer: Peer, up_pending: bool) -> Step {
    cx.send(
        Challenge {
            flags: cx.cfg.flags,
            challenge: cx.challenge,
            creation: cx.cfg.creation,
            name: cx.encode_name(&cx.cfg.this_node),
        }
        .encode(),
    );
    Step::ExpectChallengeReply(ExpectChallengeReply { peer, up_pending })
}

/// We answered `alive`; waiting for `'s'` + `true`/`false` (`recv_status_reply/1`).
#[derive(Debug)]
pub(super) struct ExpectStatusReply {
    peer: Peer,
}

impl ExpectStatusReply {
    pub(super) const KIND: MessageKind = MessageKind::StatusReply;

    pub(super) fn handle(self, cx: &mut Context, body: &[u8]) -> Result<Step, HandshakeError> {
        match Status::parse(body, Self::KIND)? {
            Status::True => Ok(send_challenge(cx, self.peer, true)),
            Status::False => Err(HandshakeError::AliveRefused {
                peer: self.peer.name,
            }),
            _ => Err(HandshakeError::UnknownStatus {
                peer: self.peer.name,
                status: String::from_utf8_lossy(&body[1..]).into_owned(),
            }),
        }
    }
}

/// Waiting for the initiator's `send_challenge_reply` (`recv_challenge_reply/3`).
#[derive(Debug)]
pub(super) struct ExpectChallengeReply {
    peer: Peer,
    /// net_kernel answered `up_pending`: wait for the old connection to go
    /// before acknowledging.
    up_pending: bool,
}

impl ExpectChallengeReply {
    pub(super) const KIND: MessageKind = MessageKind::ChallengeReply;

    pub(super) fn handle(self, cx: &mut Context, body: &[u8]) -> Result<Step, HandshakeError> {
        let msg = ChallengeReply::parse(body)?;
        if msg.digest != gen_digest(cx.challenge, &cx.cfg.cookie) {
            return Err(HandshakeError::InvalidChallengeReply {
                peer: self.peer.name,
            });
        }
        let next = ExpectWaitPending {
            peer: self.peer,
            their_challenge: msg.challenge,
        };
        if self.up_pending {
            cx.events.push_back(Event::WaitPending);
            Ok(Step::ExpectWaitPending(next))
        } else {
            next.handle(cx)
        }
    }
}

/// The old connection must die before the ack (`wait_pending/1`).
#[derive(Debug)]
pub(super) struct ExpectWaitPending {
    peer: Peer,
    their_challenge: u32,
}

impl ExpectWaitPending {
    /// `send_challenge_ack/2`, then the connection is up.
    pub(super) fn handle(self, cx: &mut Context) -> Result<Step, HandshakeError> {
        let digest = gen_digest(self.their_challenge, &cx.cfg.cookie);
        cx.send(ChallengeAck { digest }.encode());
        let flags = cx.our_flags() & self.peer.flags;
        cx.events.push_back(Event::Established(Established {
            peer: self.peer.name,
            flags,
            peer_creation: self.peer.creation,
            peer_published: flags.contains(DFlags::PUBLISHED),
        }));
        Ok(Step::Established)
    }
}
