//! Why a handshake ends without a connection.
//!
//! The `Display` texts of the variants that OTP logs are OTP's own log lines
//! (`dist_util.erl`: `check_dflags/2`, `recv_challenge_reply/3`,
//! `recv_challenge_ack/3`, `check_allowed/2`) without the `** node:` prefix,
//! with node names printed the way `~w` prints atoms.

use std::fmt;

/// A handshake message, named after the `dist_util` function that sends it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MessageKind {
    /// `send_name`: `'N'`, flags, creation, name (initiator → acceptor).
    Name,
    /// `send_status`: `'s'` + status text (acceptor → initiator).
    Status,
    /// The initiator's answer to `alive`: `'s'` + `true` / `false`.
    StatusReply,
    /// `send_challenge`: `'N'`, flags, challenge, creation, name (acceptor → initiator).
    Challenge,
    /// `send_challenge_reply`: `'r'`, challenge, digest (initiator → acceptor).
    ChallengeReply,
    /// `send_challenge_ack`: `'a'`, digest (acceptor → initiator).
    ChallengeAck,
}

impl fmt::Display for MessageKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Name => "send_name",
            Self::Status => "send_status",
            Self::StatusReply => "status reply",
            Self::Challenge => "send_challenge",
            Self::ChallengeReply => "send_challenge_reply",
            Self::ChallengeAck => "send_challenge_ack",
        })
    }
}

/// Why a handshake ended without a connection.
///
/// Some endings are normal outcomes of a race rather than failures; see
/// [`HandshakeError::is_benign`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HandshakeError {
    /// A handshake frame with an empty body.
    #[error("empty handshake message where {expected} was expected")]
    EmptyMessage {
        /// What was expected.
        expected: MessageKind,
    },
    /// A message whose tag byte is not the one expected in this state.
    #[error("unexpected handshake message tag {got:#04x} where {expected} was expected")]
    UnexpectedMessage {
        /// What was expected.
        expected: MessageKind,
        /// The tag byte received.
        got: u8,
    },
    /// A message with the right tag but an impossible length (too short,
    /// too long, or bytes after the name).
    #[error("malformed {message}: {len} bytes")]
    BadLength {
        /// The message.
        message: MessageKind,
        /// Its length (the 2-byte frame length).
        len: usize,
    },
    /// The peer sent the old `'n'` name message of protocol version 5; like
    /// OTP 25+, only version 6 (`'N'`, `DFLAG_HANDSHAKE_23`) is spoken.
    #[error(
        "peer uses the old distribution protocol (version 5 'n' name message); only version 6 is supported"
    )]
    OldProtocol,
    /// The name in `send_name` is not of the form `name@host` (`is_name_ok/2`).
    #[error("invalid node name {name:?} in send_name")]
    InvalidPeerName {
        /// The name as received (Latin-1).
        name: String,
    },
    /// The peer asked for a dynamic node name (`DFLAG_NAME_ME`) and the
    /// node gave none; it was answered `not_allowed`.
    #[error(
        "connection attempt from host {host:?} asking for a dynamic node name (NAME_ME) rejected"
    )]
    DynamicNameUnsupported {
        /// The host part the peer sent.
        host: String,
    },
    /// The acceptor answered `named:` although we never asked for a dynamic name.
    #[error("connection to node {} cancelled: peer answered status named: but no dynamic name was requested", Atom(.peer))]
    UnexpectedNamed {
        /// The node dialled.
        peer: String,
    },
    /// A status text that `recv_status/1` (or `recv_status_reply/1`) does not know.
    #[error("connection with node {}: unknown handshake status {status:?}", Atom(.peer))]
    UnknownStatus {
        /// The peer.
        peer: String,
        /// The status text (lossy UTF-8).
        status: String,
    },
    /// (initiator) The acceptor answered `not_allowed`: we lack flags it
    /// requires, or `net_kernel:allow/1` excludes us.
    #[error("connection to node {} not allowed by the peer (status not_allowed)", Atom(.peer))]
    NotAllowed {
        /// The node dialled.
        peer: String,
    },
    /// (initiator) The acceptor answered `nok`: simultaneous connect that
    /// the other connection (the peer's own attempt to us) wins. Benign.
    #[error("connection to node {} given up: simultaneous connect won by the peer (status nok)", Atom(.peer))]
    Nok {
        /// The node dialled.
        peer: String,
    },
    /// (initiator) The acceptor answered `alive` and the node said this
    /// attempt is no longer the pending one; `false` was sent. Benign.
    #[error("connection to node {} given up: the peer says we are alive but this attempt is no longer pending", Atom(.peer))]
    NotPending {
        /// The node dialled.
        peer: String,
    },
    /// (initiator) The challenge came from another node than the one dialled
    /// (`recv_challenge_new/2`).
    #[error("connection attempt to node {} cancelled: the challenge came from node {}", Atom(.expected), Atom(.got))]
    WrongPeerName {
        /// The node dialled.
        expected: String,
        /// The name in the challenge (Latin-1).
        got: String,
    },
    /// (acceptor) The peer lacks flags we require; `not_allowed` was sent
    /// (`check_dflags/2`, other side started).
    #[error("Connection attempt from node {} rejected since it cannot handle {}.", Atom(.peer), FlagList(.missing))]
    FlagsRejected {
        /// The peer.
        peer: String,
        /// The missing flags, as `check_dflags/2` lists them (highest bit first).
        missing: Vec<&'static str>,
    },
    /// (initiator) The negotiated flags lack flags we require
    /// (`check_dflags/2`, we started).
    #[error("Connection attempt to node {} aborted since it cannot handle {}.", Atom(.peer), FlagList(.missing))]
    FlagsAborted {
        /// The node dialled.
        peer: String,
        /// The missing flags, as `check_dflags/2` lists them (highest bit first).
        missing: Vec<&'static str>,
    },
    /// (acceptor) The node refused the peer (`net_kernel:allow/1`);
    /// `not_allowed` was sent (`check_allowed/2`).
    #[error("Connection attempt from disallowed node {peer}")]
    Disallowed {
        /// The peer.
        peer: String,
    },
    /// (acceptor) Simultaneous connect that our own attempt wins; `nok` was
    /// sent (`mark_pending/1`, `nok_pending`). Benign.
    #[error("connection from node {} refused: simultaneous connect won by our own attempt (sent nok)", Atom(.peer))]
    NokSent {
        /// The peer.
        peer: String,
    },
    /// (acceptor) Another acceptor is already replacing the connection to
    /// this peer (`already_pending`); closed without a status. Benign.
    #[error("connection from node {} dropped: a replacement connection is already pending", Atom(.peer))]
    AlreadyPending {
        /// The peer.
        peer: String,
    },
    /// (acceptor) We answered `alive` and the peer said `false`. Benign.
    #[error("connection from node {} dropped: peer answered false to alive", Atom(.peer))]
    AliveRefused {
        /// The peer.
        peer: String,
    },
    /// (acceptor) Wrong digest in the challenge reply: different cookies.
    #[error("Connection attempt from node {} rejected. Invalid challenge reply.", Atom(.peer))]
    InvalidChallengeReply {
        /// The peer.
        peer: String,
    },
    /// (initiator) Wrong digest in the challenge ack: different cookies.
    #[error("Connection attempt to node {} cancelled. Invalid challenge ack.", Atom(.peer))]
    InvalidChallengeAck {
        /// The node dialled.
        peer: String,
    },
    /// Our own node name cannot be sent (not `name@host`, or longer than an
    /// atom's 255 characters).
    #[error("invalid local node name {name:?}")]
    InvalidLocalName {
        /// The configured name.
        name: String,
    },
    /// A `handle_*` answer the machine is not waiting for (a driver bug);
    /// the state is left unchanged.
    #[error("{call} called while the handshake is in state {state}")]
    UnexpectedCall {
        /// The method called.
        call: &'static str,
        /// The current state.
        state: &'static str,
    },
    /// More bytes arrived than the handshake can hold before they are read
    /// (the peer does not wait for our answers).
    #[error("peer sent {len} bytes ahead of the handshake")]
    TooMuchData {
        /// Bytes buffered.
        len: usize,
    },
}

impl HandshakeError {
    /// The peer's node name, when the error happened after the peer said
    /// who it is (the error's text then names it, as OTP's log lines do).
    pub fn peer(&self) -> Option<&str> {
        match self {
            Self::UnexpectedNamed { peer }
            | Self::UnknownStatus { peer, .. }
            | Self::NotAllowed { peer }
            | Self::Nok { peer }
            | Self::NotPending { peer }
            | Self::FlagsRejected { peer, .. }
            | Self::FlagsAborted { peer, .. }
            | Self::Disallowed { peer }
            | Self::NokSent { peer }
            | Self::AlreadyPending { peer }
            | Self::AliveRefused { peer }
            | Self::InvalidChallengeReply { peer }
            | Self::InvalidChallengeAck { peer } => Some(peer),
            _ => None,
        }
    }

    /// Whether this ending is a normal outcome of connection races rather
    /// than a failure (`nok` either way, `alive` answered `false`,
    /// `already_pending`): the driver should close quietly.
    pub fn is_benign(&self) -> bool {
        matches!(
            self,
            Self::Nok { .. }
                | Self::NotPending { .. }
                | Self::NokSent { .. }
                | Self::AlreadyPending { .. }
                | Self::AliveRefused { .. }
        )
    }
}

/// Prints a node name the way Erlang's `~w` prints an atom (quoted when needed).
pub(crate) struct Atom<'a>(pub(crate) &'a str);

const RESERVED: &[&str] = &[
    "after", "and", "andalso", "band", "begin", "bnot", "bor", "bsl", "bsr", "bxor", "case",
    "catch", "cond", "div", "else", "end", "fun", "if", "let", "maybe", "not", "of", "or",
    "orelse", "receive", "rem", "try", "when", "xor",
];

fn is_lower(c: char) -> bool {
    c.is_ascii_lowercase() || (('\u{df}'..='\u{ff}').contains(&c) && c != '\u{f7}')
}

fn is_name_char(c: char) -> bool {
    is_lower(c)
        || c.is_ascii_uppercase()
        || (('\u{c0}'..='\u{de}').contains(&c) && c != '\u{d7}')
        || c.is_ascii_digit()
        || c == '_'
        || c == '@'
}

impl fmt::Display for Atom<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = self.0;
        let bare = s.chars().next().is_some_and(is_lower)
            && s.chars().all(is_name_char)
            && !RESERVED.contains(&s);
        if bare {
            return f.write_str(s);
        }
        f.write_str("'")?;
        for c in s.chars() {
            match c {
                '\'' => f.write_str("\\'")?,
                '\\' => f.write_str("\\\\")?,
                '\n' => f.write_str("\\n")?,
                '\t' => f.write_str("\\t")?,
                c if (c as u32) < 0x20 || c == '\u{7f}' => write!(f, "\\{:o}", c as u32)?,
                c => write!(f, "{c}")?,
            }
        }
        f.write_str("'")
    }
}

/// Prints flag names the way `~p` prints a short list of strings: `["A","B"]`.
struct FlagList<'a>(&'a [&'static str]);

impl fmt::Display for FlagList<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[")?;
        for (i, name) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            write!(f, "\"{name}\"")?;
        }
        f.write_str("]")
    }
}
