//! Distribution handshake (protocol version 6, `DFLAG_HANDSHAKE_23`) as a
//! sans-IO state machine. Mirrors `lib/kernel/src/dist_util.erl`
//! (`handshake_we_started/1`, `handshake_other_started/1`).
//!
//! Bytes go in with [`Handshake::handle_data`]; what to write, what to ask
//! the node, and the final result come out of [`Handshake::poll_event`].
//! No socket, clock or randomness is touched: challenges are passed in.

use super::DFlags;

/// What this node tells a peer about itself.
#[derive(Debug, Clone)]
pub struct Config {
    /// Full node name, `name@host`.
    pub this_node: String,
    /// Flags advertised (including `PUBLISHED` unless hidden).
    pub flags: DFlags,
    /// Creation assigned by EPMD.
    pub creation: u32,
    /// The cookie shared with the peer.
    pub cookie: String,
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
    /// Write these bytes (already framed with the 2-byte length) to the socket.
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
    /// Negotiated flags: ours AND the peer's (OTP's `adjust_flags/2`).
    pub flags: DFlags,
    /// The peer's creation.
    pub peer_creation: u32,
    /// Whether the peer is visible (`DFLAG_PUBLISHED` in its flags).
    pub peer_published: bool,
}

/// Why a handshake ended without a connection.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HandshakeError {
    /// Placeholder until the state machine lands.
    #[error("handshake not implemented")]
    Unimplemented,
    /// The peer answered `nok`: its own simultaneous attempt wins.
    #[error("simultaneous connect: the other attempt wins")]
    Nok,
}

impl HandshakeError {
    /// Whether this is a refusal worth an error log line (cookie, flags, not allowed).
    pub fn is_refusal(&self) -> bool {
        false
    }
}

/// The handshake state machine.
#[derive(Debug)]
pub struct Handshake {
    _priv: (),
}

impl Handshake {
    /// Starts the initiator side (we dialled `peer`); `challenge` is our random challenge.
    pub fn initiator(_cfg: Config, _peer: &str, _challenge: u32) -> Self {
        todo!()
    }

    /// Starts the acceptor side; `challenge` is our random challenge.
    pub fn acceptor(_cfg: Config, _challenge: u32) -> Self {
        todo!()
    }

    /// Feeds bytes read from the socket.
    pub fn handle_data(&mut self, _bytes: &[u8]) -> Result<(), HandshakeError> {
        todo!()
    }

    /// Answers an [`Event::AcceptPending`].
    pub fn handle_accept_pending(&mut self, _reply: AcceptPending) -> Result<(), HandshakeError> {
        todo!()
    }

    /// Answers an [`Event::IsPending`].
    pub fn handle_is_pending(&mut self, _pending: bool) -> Result<(), HandshakeError> {
        todo!()
    }

    /// Answers an [`Event::WaitPending`].
    pub fn handle_wait_pending_done(&mut self) -> Result<(), HandshakeError> {
        todo!()
    }

    /// The next thing for the driver to do.
    pub fn poll_event(&mut self) -> Option<Event> {
        todo!()
    }

    /// Bytes received after the last handshake message (start of the data phase).
    pub fn into_leftover(self) -> Vec<u8> {
        todo!()
    }
}
