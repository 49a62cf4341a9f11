//! Distribution handshake (protocol version 6, `DFLAG_HANDSHAKE_23`) as a
//! sans-IO state machine. Mirrors `lib/kernel/src/dist_util.erl`
//! (`handshake_we_started/1`, `handshake_other_started/1`).
//!
//! Bytes go in with [`Handshake::handle_data`]; what to write, what to ask
//! the node, and the final result come out of [`Handshake::poll_event`].
//! No socket, clock or randomness is touched: challenges are passed in, and
//! the setup timeout is the driver's.
//!
//! ```text
//!             initiator (we dialled)                 acceptor (they dialled)
//!   Send(send_name) ───────────────────────────────► ExpectName
//!                                                     │ check flags (REQUIRED), Event::AcceptPending
//!                                                     ▼ handle_accept_pending(..)
//!   ExpectStatus ◄──────────────────── Send(status: ok | ok_simultaneous | nok | not_allowed | alive)
//!     │ alive: Event::IsPending, handle_is_pending(b) ─► ExpectStatusReply ("true" / "false")
//!   ExpectChallenge ◄───────────────── Send(send_challenge)
//!     │ name == dialled? flags?
//!   Send(challenge_reply) ─────────────────────────► ExpectChallengeReply (digest?)
//!                                                     │ after alive: Event::WaitPending, handle_wait_pending_done()
//!   ExpectChallengeAck ◄────────────── Send(challenge_ack)
//!     │ digest?                                       │
//!   Event::Established                              Event::Established
//! ```
//!
//! Every handshake message is framed with a 2-byte big-endian length over
//! TCP, a 4-byte one over TLS ([`Framing`]); what follows the last one is
//! the data phase (4-byte lengths) and is handed back by
//! [`Handshake::into_leftover`].
//!
//! Not done here: choosing challenges, timing out (`net_setuptime`), the
//! connection table behind `accept_pending` / `is_pending` / `wait_pending`
//! (net_kernel's), the `net_kernel:allow/1` list (answer
//! [`AcceptPending::NotAllowed`]), picking dynamic node names for peers
//! that ask for one ([`Event::NameMe`]), and protocol version 5 (the `'n'`
//! name message: refused, as OTP 25+ does).
//!
//! ```
//! use distro::dist::DFlags;
//! use distro::dist::handshake::{AcceptPending, Config, Event, Handshake};
//!
//! let cfg = |name: &str| Config {
//!     this_node: name.into(),
//!     flags: DFlags::OURS | DFlags::PUBLISHED,
//!     creation: 7,
//!     cookie: "secret".into(),
//! };
//! let mut a = Handshake::initiator(cfg("a@127.0.0.1"), "b@127.0.0.1", 1);
//! let mut b = Handshake::acceptor(cfg("b@127.0.0.1"), 2);
//! let mut up = 0;
//! while up < 2 {
//!     while let Some(ev) = a.poll_event() {
//!         match ev {
//!             Event::Send(bytes) => b.handle_data(&bytes).unwrap(),
//!             Event::Established(e) => { assert_eq!(e.peer, "b@127.0.0.1"); up += 1 }
//!             other => panic!("{other:?}"),
//!         }
//!     }
//!     while let Some(ev) = b.poll_event() {
//!         match ev {
//!             Event::Send(bytes) => a.handle_data(&bytes).unwrap(),
//!             Event::AcceptPending { .. } => b.handle_accept_pending(AcceptPending::Ok).unwrap(),
//!             Event::Established(e) => { assert_eq!(e.peer, "a@127.0.0.1"); up += 1 }
//!             other => panic!("{other:?}"),
//!         }
//!     }
//! }
//! ```

mod acceptor;
mod error;
mod initiator;
mod message;

#[cfg(test)]
mod handshake_test;
#[cfg(test)]
mod hostile_input_test;
#[cfg(test)]
mod message_test;

use std::collections::VecDeque;
use std::mem;

pub use error::{HandshakeError, MessageKind};
pub use message::Framing;

use super::DFlags;
use message::{MAX_MESSAGE_LEN, MAX_NAME_LEN, Name, check_frame, latin1};

/// What this node tells a peer about itself. Its `Debug` output hides the cookie.
#[derive(Clone)]
pub struct Config {
    /// Full node name, `name@host`.
    pub this_node: String,
    /// Flags advertised (including `PUBLISHED` unless hidden). `NAME_ME` is
    /// never sent: dynamic names are not supported.
    pub flags: DFlags,
    /// Creation assigned by EPMD.
    pub creation: u32,
    /// The cookie shared with the peer.
    pub cookie: String,
}

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("this_node", &self.this_node)
            .field("flags", &self.flags)
            .field("creation", &self.creation)
            .field("cookie", &"<hidden>")
            .finish()
    }
}

impl Config {
    /// Checks that [`Config::this_node`] can be sent: `name@host` with both
    /// parts non-empty, at most 255 bytes. A handshake built from an invalid
    /// config fails with [`HandshakeError::InvalidLocalName`] on its first
    /// `handle_*` call and sends nothing.
    pub fn validate(&self) -> Result<(), HandshakeError> {
        let ok = matches!(self.this_node.split_once('@'),
            Some((n, h)) if !n.is_empty() && !h.is_empty() && !h.contains('@'))
            && latin1(&self.this_node).len() <= MAX_NAME_LEN;
        if ok {
            Ok(())
        } else {
            Err(HandshakeError::InvalidLocalName {
                name: self.this_node.clone(),
            })
        }
    }
}

/// net_kernel's answer to `{accept_pending, MyNode, Node, Type}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AcceptPending {
    /// `ok`: no connection to that node; go on.
    Ok,
    /// `ok_pending`: simultaneous connect that the peer wins; answer `ok_simultaneous`.
    OkSimultaneous,
    /// `nok_pending`: simultaneous connect that we win; answer `nok` and close.
    Nok,
    /// `up_pending`: a connection to that node is up; answer `alive` and ask the peer.
    UpPending,
    /// `already_pending`: close.
    AlreadyPending,
    /// Not allowed to connect (e.g. `net_kernel:allow/1`): answer `not_allowed`.
    NotAllowed,
}

/// A step of the handshake the driver must act on.
#[derive(Debug, PartialEq, Eq)]
pub enum Event {
    /// Write these bytes (already framed with the handshake's [`Framing`]) to the socket.
    Send(Vec<u8>),
    /// (acceptor) The peer said who it is: ask the node for the
    /// `accept_pending` decision and answer with [`Handshake::handle_accept_pending`].
    AcceptPending {
        /// The peer's full node name.
        peer: String,
        /// The peer's flags (after `MANDATORY_25_DIGEST` expansion).
        flags: DFlags,
        /// The peer's creation.
        creation: u32,
    },
    /// (acceptor) The peer has no name yet and asks us for one
    /// (`DFLAG_NAME_ME`, a node started with `-name undefined@Host`): pick a
    /// node name on `host` and a creation, and answer with
    /// [`Handshake::handle_name_me`].
    NameMe {
        /// The host part the peer sent.
        host: String,
        /// The peer's flags (after `MANDATORY_25_DIGEST` expansion).
        flags: DFlags,
    },
    /// (initiator) The peer answered `alive`: ask the node whether this
    /// attempt is still the pending one and answer with [`Handshake::handle_is_pending`].
    IsPending,
    /// (acceptor after `alive`/`true`, cookie verified) The old connection to
    /// the peer must be closed now; call [`Handshake::handle_wait_pending_done`] after.
    WaitPending,
    /// The connection is up.
    Established(Established),
}

/// The result of a successful handshake.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Established {
    /// The peer's full node name.
    pub peer: String,
    /// Negotiated flags: ours AND the peer's, both with `MANDATORY_25_DIGEST`
    /// expanded (OTP's `adjust_flags/2`).
    pub flags: DFlags,
    /// The peer's creation.
    pub peer_creation: u32,
    /// Whether the connection is visible: `DFLAG_PUBLISHED` in the
    /// negotiated flags, i.e. the peer published itself and we did too
    /// (OTP's `publish_type/1` on the adjusted flags: `normal` vs `hidden`).
    pub peer_published: bool,
}

/// Everything a step may read or produce besides its own data.
#[derive(Debug)]
struct Context {
    cfg: Config,
    /// Our challenge (sent in the reply as initiator, in the challenge as acceptor).
    challenge: u32,
    /// The length header of handshake messages.
    framing: Framing,
    events: VecDeque<Event>,
}

impl Context {
    /// Queues a message encoded with the 2-byte header, in our framing.
    fn send(&mut self, bytes: Vec<u8>) {
        let bytes = self.framing.reframe(bytes);
        self.events.push_back(Event::Send(bytes));
    }

    /// The flags we negotiate with (the digest bit expanded like the peer's).
    fn our_flags(&self) -> DFlags {
        self.cfg.flags.expand_mandatory_25()
    }

    fn encode_name(&self, name: &str) -> Vec<u8> {
        latin1(name).into_owned()
    }
}

/// `check_dflags/2`: the flags of [`DFlags::REQUIRED`] missing from `flags`,
/// in the order OTP prints them (highest bit first).
fn missing(flags: DFlags) -> Vec<&'static str> {
    let mut missing = flags.missing(DFlags::REQUIRED);
    missing.reverse();
    missing
}

/// The current step: one struct per expected input, as rustls's `Expect*`.
#[derive(Debug)]
enum Step {
    ExpectStatus(initiator::ExpectStatus),
    ExpectIsPending(initiator::ExpectIsPending),
    ExpectChallenge(initiator::ExpectChallenge),
    ExpectChallengeAck(initiator::ExpectChallengeAck),
    ExpectName(acceptor::ExpectName),
    ExpectAcceptPending(acceptor::ExpectAcceptPending),
    ExpectNameMe(acceptor::ExpectNameMe),
    ExpectStatusReply(acceptor::ExpectStatusReply),
    ExpectChallengeReply(acceptor::ExpectChallengeReply),
    ExpectWaitPending(acceptor::ExpectWaitPending),
    Established,
    Failed(HandshakeError),
    /// Only while a step is being replaced.
    Transition,
}

impl Step {
    /// The message this step reads from the socket, if it reads one.
    fn expects(&self) -> Option<MessageKind> {
        Some(match self {
            Self::ExpectStatus(_) => initiator::ExpectStatus::KIND,
            Self::ExpectChallenge(_) => initiator::ExpectChallenge::KIND,
            Self::ExpectChallengeAck(_) => initiator::ExpectChallengeAck::KIND,
            Self::ExpectName(_) => acceptor::ExpectName::KIND,
            Self::ExpectStatusReply(_) => acceptor::ExpectStatusReply::KIND,
            Self::ExpectChallengeReply(_) => acceptor::ExpectChallengeReply::KIND,
            _ => return None,
        })
    }

    fn name(&self) -> &'static str {
        match self {
            Self::ExpectStatus(_) => "ExpectStatus",
            Self::ExpectIsPending(_) => "ExpectIsPending",
            Self::ExpectChallenge(_) => "ExpectChallenge",
            Self::ExpectChallengeAck(_) => "ExpectChallengeAck",
            Self::ExpectName(_) => "ExpectName",
            Self::ExpectAcceptPending(_) => "ExpectAcceptPending",
            Self::ExpectNameMe(_) => "ExpectNameMe",
            Self::ExpectStatusReply(_) => "ExpectStatusReply",
            Self::ExpectChallengeReply(_) => "ExpectChallengeReply",
            Self::ExpectWaitPending(_) => "ExpectWaitPending",
            Self::Established => "Established",
            Self::Failed(_) => "Failed",
            Self::Transition => "Transition",
        }
    }
}

/// Most bytes held unread while the handshake waits for the driver (the
/// peer should be waiting for us then): one maximal handshake frame.
const fn max_buffered(framing: Framing) -> usize {
    framing.header_len() + MAX_MESSAGE_LEN
}

/// The handshake state machine.
///
/// Inputs: [`handle_data`](Self::handle_data) (socket bytes, any chunking)
/// and the `handle_*` answers to the node questions asked by
/// [`Event::AcceptPending`], [`Event::IsPending`] and [`Event::WaitPending`].
/// Outputs: [`poll_event`](Self::poll_event), to drain after every input.
///
/// When an input returns an error the handshake is over, but events queued
/// before it must still be carried out: e.g. the `not_allowed` status is
/// queued as an [`Event::Send`] to write before closing. Later calls return
/// the same error.
#[derive(Debug)]
pub struct Handshake {
    cx: Context,
    step: Step,
    /// Unread input; after the handshake, the start of the data phase.
    buf: Vec<u8>,
}

impl Handshake {
    /// Starts the initiator side (we dialled `peer`); `challenge` is our
    /// random challenge. Queues our `send_name`. Messages are framed with
    /// 2-byte lengths (TCP).
    pub fn initiator(cfg: Config, peer: &str, challenge: u32) -> Self {
        Self::initiator_framed(cfg, peer, challenge, Framing::Packet2)
    }

    /// [`Self::initiator`] with the given [`Framing`] (4-byte lengths over TLS).
    pub fn initiator_framed(cfg: Config, peer: &str, challenge: u32, framing: Framing) -> Self {
        let mut hs = Self::new(cfg, challenge, framing, || {
            Step::ExpectStatus(initiator::ExpectStatus {
                peer: peer.to_owned(),
            })
        });
        if let Step::ExpectStatus(_) = hs.step {
            let name = Name {
                flags: hs.cx.cfg.flags,
                creation: hs.cx.cfg.creation,
                name: hs.cx.encode_name(&hs.cx.cfg.this_node),
            };
            hs.cx.send(name.encode());
        }
        hs
    }

    /// Starts the acceptor side; `challenge` is our random challenge.
    /// Messages are framed with 2-byte lengths (TCP).
    pub fn acceptor(cfg: Config, challenge: u32) -> Self {
        Self::acceptor_framed(cfg, challenge, Framing::Packet2)
    }

    /// [`Self::acceptor`] with the given [`Framing`] (4-byte lengths over TLS).
    pub fn acceptor_framed(cfg: Config, challenge: u32, framing: Framing) -> Self {
        Self::new(cfg, challenge, framing, || {
            Step::ExpectName(acceptor::ExpectName)
        })
    }

    fn new(
        mut cfg: Config,
        challenge: u32,
        framing: Framing,
        first: impl FnOnce() -> Step,
    ) -> Self {
        cfg.flags = cfg.flags & !DFlags::NAME_ME;
        let step = match cfg.validate() {
            Ok(()) => first(),
            Err(e) => Step::Failed(e),
        };
        Self {
            cx: Context {
                cfg,
                challenge,
                framing,
                events: VecDeque::new(),
            },
            step,
            buf: Vec::new(),
        }
    }

    /// Feeds bytes read from the socket. After [`Event::Established`] the
    /// bytes are kept for [`into_leftover`](Self::into_leftover).
    pub fn handle_data(&mut self, bytes: &[u8]) -> Result<(), HandshakeError> {
        match &self.step {
            Step::Failed(e) => return Err(e.clone()),
            Step::Established => {
                self.buf.extend_from_slice(bytes);
                return Ok(());
            }
            step if step.expects().is_none()
                && self.buf.len() + bytes.len() > max_buffered(self.cx.framing) =>
            {
                let len = self.buf.len() + bytes.len();
                return self.fail(HandshakeError::TooMuchData { len });
            }
            _ => {}
        }
        self.buf.extend_from_slice(bytes);
        self.pump()
    }

    /// Answers an [`Event::AcceptPending`].
    pub fn handle_accept_pending(&mut self, reply: AcceptPending) -> Result<(), HandshakeError> {
        self.answer("handle_accept_pending", |step, cx| match step {
            Step::ExpectAcceptPending(s) => Ok(s.handle(cx, reply)),
            other => Err(other),
        })
    }

    /// Answers an [`Event::NameMe`]: the name and creation given to the
    /// peer (sent as `named:`), or `None` to refuse (`not_allowed`).
    pub fn handle_name_me(&mut self, assigned: Option<(&str, u32)>) -> Result<(), HandshakeError> {
        self.answer("handle_name_me", |step, cx| match step {
            Step::ExpectNameMe(s) => Ok(s.handle(cx, assigned)),
            other => Err(other),
        })
    }

    /// Answers an [`Event::IsPending`].
    pub fn handle_is_pending(&mut self, pending: bool) -> Result<(), HandshakeError> {
        self.answer("handle_is_pending", |step, cx| match step {
            Step::ExpectIsPending(s) => Ok(s.handle(cx, pending)),
            other => Err(other),
        })
    }

    /// Answers an [`Event::WaitPending`]: the old connection is gone.
    pub fn handle_wait_pending_done(&mut self) -> Result<(), HandshakeError> {
        self.answer("handle_wait_pending_done", |step, cx| match step {
            Step::ExpectWaitPending(s) => Ok(s.handle(cx)),
            other => Err(other),
        })
    }

    /// The next thing for the driver to do.
    pub fn poll_event(&mut self) -> Option<Event> {
        self.cx.events.pop_front()
    }

    /// Bytes received after the last handshake message (start of the data
    /// phase). Before [`Event::Established`], the unread handshake bytes.
    pub fn into_leftover(self) -> Vec<u8> {
        self.buf
    }

    /// Runs `f` on the current step if it is the one waiting for this
    /// answer (`f` gives the step back otherwise), then reads on.
    fn answer(
        &mut self,
        call: &'static str,
        f: impl FnOnce(Step, &mut Context) -> Result<Result<Step, HandshakeError>, Step>,
    ) -> Result<(), HandshakeError> {
        if let Step::Failed(e) = &self.step {
            return Err(e.clone());
        }
        let step = mem::replace(&mut self.step, Step::Transition);
        match f(step, &mut self.cx) {
            Ok(Ok(next)) => {
                self.step = next;
                self.pump()
            }
            Ok(Err(e)) => self.fail(e),
            Err(step) => {
                self.step = step;
                Err(HandshakeError::UnexpectedCall {
                    call,
                    state: self.step.name(),
                })
            }
        }
    }

    /// Handles every complete message buffered, as long as the current step
    /// reads one.
    fn pump(&mut self) -> Result<(), HandshakeError> {
        while let Some(kind) = self.step.expects() {
            let h = self.cx.framing.header_len();
            let len = match check_frame(&self.buf, kind, self.cx.framing) {
                Ok(Some(len)) => len,
                Ok(None) => break,
                Err(e) => return self.fail(e),
            };
            let body = &self.buf[h..h + len];
            let cx = &mut self.cx;
            let result = match mem::replace(&mut self.step, Step::Transition) {
                Step::ExpectStatus(s) => s.handle(cx, body),
                Step::ExpectChallenge(s) => s.handle(cx, body),
                Step::ExpectChallengeAck(s) => s.handle(cx, body),
                Step::ExpectName(s) => s.handle(cx, body),
                Step::ExpectStatusReply(s) => s.handle(cx, body),
                Step::ExpectChallengeReply(s) => s.handle(cx, body),
                // expects() is Some only for the steps above.
                other => {
                    self.step = other;
                    break;
                }
            };
            self.buf.drain(..h + len);
            match result {
                Ok(next) => self.step = next,
                Err(e) => return self.fail(e),
            }
        }
        if !matches!(self.step, Step::Established) && self.buf.len() > max_buffered(self.cx.framing)
        {
            let len = self.buf.len();
            return self.fail(HandshakeError::TooMuchData { len });
        }
        Ok(())
    }

    fn fail(&mut self, e: HandshakeError) -> Result<(), HandshakeError> {
        self.step = Step::Failed(e.clone());
        self.buf = Vec::new();
        Err(e)
    }
}
