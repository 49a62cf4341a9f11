//! The side that dialled: `dist_util:handshake_we_started/1`.
//!
//! ```text
//! send_name ──► ExpectStatus ──ok / ok_simultaneous──► ExpectChallenge ──► ExpectChallengeAck ──► up
//!                   │  nok, not_allowed, named:                  send_challenge_reply
//!                   │  → error
//!                   └─alive──► ExpectIsPending ──true: send "true"──► ExpectChallenge
//!                                    └─false: send "false" → error
//! ```

use super::error::{HandshakeError, MessageKind};
use super::message::{Challenge, ChallengeAck, ChallengeReply, Status, from_latin1, gen_digest};
use super::{Context, Established, Event, Step};
use crate::dist::DFlags;

/// Waiting for the acceptor's `send_status` (`recv_status/1`).
#[derive(Debug)]
pub(super) struct ExpectStatus {
    /// The node dialled.
    pub(super) peer: String,
}

impl ExpectStatus {
    pub(super) const KIND: MessageKind = MessageKind::Status;

    pub(super) fn handle(self, cx: &mut Context, body: &[u8]) -> Result<Step, HandshakeError> {
        let peer = self.peer;
        match Status::parse(body, Self::KIND)? {
            Status::Ok | Status::OkSimultaneous => {
                Ok(Step::ExpectChallenge(ExpectChallenge { peer }))
            }
            Status::Alive => {
                cx.events.push_back(Event::IsPending);
                Ok(Step::ExpectIsPending(ExpectIsPending { peer }))
            }
            // OTP's setup process waits to be killed by net_kernel, whose own
            // pending connection (the peer's attempt to us) wins.
            Status::Nok => Err(HandshakeError::Nok { peer }),
            Status::NotAllowed => Err(HandshakeError::NotAllowed { peer }),
            Status::Named { .. } => Err(HandshakeError::UnexpectedNamed { peer }),
            Status::True | Status::False | Status::Unknown(_) => {
                Err(HandshakeError::UnknownStatus {
                    peer,
                    status: String::from_utf8_lossy(&body[1..]).into_owned(),
                })
            }
        }
    }
}

/// The acceptor said `alive`; waiting for the node's `is_pending` answer.
#[derive(Debug)]
pub(super) struct ExpectIsPending {
    peer: String,
}

impl ExpectIsPending {
    pub(super) fn handle(self, cx: &mut Context, pending: bool) -> Result<Step, HandshakeError> {
        if pending {
            cx.send(Status::True.encode());
            Ok(Step::ExpectChallenge(ExpectChallenge { peer: self.peer }))
        } else {
            cx.send(Status::False.encode());
            Err(HandshakeError::NotPending { peer: self.peer })
        }
    }
}

/// Waiting for the acceptor's `send_challenge` (`recv_challenge_new/2`).
#[derive(Debug)]
pub(super) struct ExpectChallenge {
    peer: String,
}

impl ExpectChallenge {
    pub(super) const KIND: MessageKind = MessageKind::Challenge;

    pub(super) fn handle(self, cx: &mut Context, body: &[u8]) -> Result<Step, HandshakeError> {
        let msg = Challenge::parse(body)?;
        let peer = self.peer;
        if msg.name != cx.encode_name(&peer) {
            return Err(HandshakeError::WrongPeerName {
                expected: peer,
                got: from_latin1(&msg.name),
            });
        }
        // adjust_flags/2 then check_dflags/2 on the result, as OTP does.
        let flags = cx.our_flags() & msg.flags.expand_mandatory_25();
        let missing = super::missing(flags);
        if !missing.is_empty() {
            return Err(HandshakeError::FlagsAborted { peer, missing });
        }
        cx.send(
            ChallengeReply {
                challenge: cx.challenge,
                digest: gen_digest(msg.challenge, &cx.cfg.cookie),
            }
            .encode(),
        );
        Ok(Step::ExpectChallengeAck(ExpectChallengeAck {
            peer,
            flags,
            peer_creation: msg.creation,
        }))
    }
}

/// Waiting for the acceptor's `send_challenge_ack` (`recv_challenge_ack/3`).
#[derive(Debug)]
pub(super) struct ExpectChallengeAck {
    peer: String,
    flags: DFlags,
    peer_creation: u32,
}

impl ExpectChallengeAck {
    pub(super) const KIND: MessageKind = MessageKind::ChallengeAck;

    pub(super) fn handle(self, cx: &mut Context, body: &[u8]) -> Result<Step, HandshakeError> {
        let msg = ChallengeAck::parse(body)?;
        if msg.digest != gen_digest(cx.challenge, &cx.cfg.cookie) {
            return Err(HandshakeError::InvalidChallengeAck { peer: self.peer });
        }
        cx.events.push_back(Event::Established(Established {
            peer: self.peer,
            flags: self.flags,
            peer_creation: self.peer_creation,
            peer_published: self.flags.contains(DFlags::PUBLISHED),
        }));
        Ok(Step::Established)
    }
}
