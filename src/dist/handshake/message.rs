//! Handshake messages of protocol version 6: pure encoding and parsing, and
//! the 2-byte length framing used until the connection is up.
//!
//! Layouts follow `dist_util.erl` (`send_name/1`, `send_status/2`,
//! `send_challenge/2`, `send_challenge_reply/3`, `send_challenge_ack/2`) and
//! the matching `recv_*` functions. Parsing is strict: a message with bytes
//! after its last field is rejected (OTP ignores trailing bytes after a name;
//! no OTP release sends any).

use std::borrow::Cow;

use super::error::{HandshakeError, MessageKind};
use crate::dist::DFlags;

/// Longest node name accepted or sent, in bytes: an atom holds at most 255
/// characters and names travel as Latin-1 (`atom_to_binary(Node, latin1)`).
pub(crate) const MAX_NAME_LEN: usize = 255;

/// `'N'` + flags:64 + creation:32 + name_len:16.
const NAME_HEADER: usize = 1 + 8 + 4 + 2;
/// `'N'` + flags:64 + challenge:32 + creation:32 + name_len:16.
const CHALLENGE_HEADER: usize = 1 + 8 + 4 + 4 + 2;
/// `'s'` + `"named:"` + name_len:16 + name + creation:32, the longest status.
pub(crate) const MAX_STATUS_LEN: usize = 1 + 6 + 2 + MAX_NAME_LEN + 4;

/// Longest body of each message, used to refuse a frame from its 2-byte
/// header alone instead of buffering a body that can only be rejected.
pub(crate) const fn max_len(kind: MessageKind) -> usize {
    match kind {
        MessageKind::Name => NAME_HEADER + MAX_NAME_LEN,
        MessageKind::Status => MAX_STATUS_LEN,
        MessageKind::StatusReply => 1 + 5, // "sfalse"
        MessageKind::Challenge => CHALLENGE_HEADER + MAX_NAME_LEN,
        MessageKind::ChallengeReply => 1 + 4 + 16,
        MessageKind::ChallengeAck => 1 + 16,
    }
}

/// The longest handshake message body of all.
pub(crate) const MAX_MESSAGE_LEN: usize = max_len(MessageKind::Status);

/// The length header of handshake messages: `{packet, 2}` over TCP
/// (`inet_tcp_dist`), `{packet, 4}` over TLS (`inet_tls_dist` opens its
/// sockets with `{packet, 4}` and keeps it for the handshake).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Framing {
    /// A 2-byte big-endian length (`inet_tcp_dist`).
    #[default]
    Packet2,
    /// A 4-byte big-endian length (`inet_tls_dist`).
    Packet4,
}

impl Framing {
    /// Bytes of the length header.
    pub const fn header_len(self) -> usize {
        match self {
            Self::Packet2 => 2,
            Self::Packet4 => 4,
        }
    }

    /// `frame` (2-byte header) re-framed for this framing.
    pub(crate) fn reframe(self, frame: Vec<u8>) -> Vec<u8> {
        match self {
            Self::Packet2 => frame,
            Self::Packet4 => {
                let body = frame.get(2..).unwrap_or_default();
                let mut out = Vec::with_capacity(4 + body.len());
                out.extend_from_slice(&(body.len() as u32).to_be_bytes());
                out.extend_from_slice(body);
                out
            }
        }
    }
}

/// Looks at the start of `buf` for a frame (a `framing` big-endian length,
/// then the body) carrying a `kind` message. `Ok(None)`: incomplete, read
/// more. `Ok(Some(len))`: the body is `buf[h..h + len]` with `h` the header
/// length. Errors when the header announces a body longer than `kind` can
/// be, without waiting for it.
pub(crate) fn check_frame(
    buf: &[u8],
    kind: MessageKind,
    framing: Framing,
) -> Result<Option<usize>, HandshakeError> {
    let h = framing.header_len();
    let Some(header) = buf.get(..h) else {
        return Ok(None);
    };
    let len = header
        .iter()
        .fold(0usize, |acc, &b| (acc << 8) | usize::from(b));
    if len == 0 {
        return Err(HandshakeError::EmptyMessage { expected: kind });
    }
    if len > max_len(kind) {
        return Err(HandshakeError::BadLength { message: kind, len });
    }
    Ok((buf.len() - h >= len).then_some(len))
}

/// Prefixes `body` with its 2-byte big-endian length. Bodies are built here
/// from validated names and never exceed [`MAX_MESSAGE_LEN`].
fn frame(body: &[u8]) -> Vec<u8> {
    debug_assert!(body.len() <= MAX_MESSAGE_LEN);
    let mut out = Vec::with_capacity(2 + body.len());
    out.extend_from_slice(&(body.len() as u16).to_be_bytes());
    out.extend_from_slice(body);
    out
}

/// Encodes a string the way OTP puts atoms and cookies on the wire: Latin-1
/// when every character fits, else UTF-8 (which OTP 25 itself cannot send).
pub(crate) fn latin1(s: &str) -> Cow<'_, [u8]> {
    if s.is_ascii() {
        Cow::Borrowed(s.as_bytes())
    } else if s.chars().all(|c| u32::from(c) <= 0xff) {
        Cow::Owned(s.chars().map(|c| c as u8).collect())
    } else {
        Cow::Borrowed(s.as_bytes())
    }
}

/// Decodes received name bytes as Latin-1 (`list_to_atom/1` of the bytes).
pub(crate) fn from_latin1(bytes: &[u8]) -> String {
    bytes.iter().map(|&b| char::from(b)).collect()
}

/// `gen_digest/2`: MD5 of the cookie followed by the challenge in decimal.
pub(crate) fn gen_digest(challenge: u32, cookie: &str) -> [u8; 16] {
    let mut ctx = md5::Context::new();
    ctx.consume(latin1(cookie));
    ctx.consume(challenge.to_string());
    ctx.finalize().0
}

fn be_u32(b: &[u8]) -> u32 {
    u32::from_be_bytes([b[0], b[1], b[2], b[3]])
}

fn be_u64(b: &[u8]) -> u64 {
    u64::from_be_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]])
}

/// Checks the tag byte of a non-empty body.
fn expect_tag(body: &[u8], tag: u8, kind: MessageKind) -> Result<(), HandshakeError> {
    match body.first() {
        None => Err(HandshakeError::EmptyMessage { expected: kind }),
        Some(&t) if t == tag => Ok(()),
        Some(&got) => Err(HandshakeError::UnexpectedMessage {
            expected: kind,
            got,
        }),
    }
}

/// Splits `name_len:16, name` at `at` off `body`, requiring it to end the body.
fn name_at(body: &[u8], at: usize, kind: MessageKind) -> Result<Vec<u8>, HandshakeError> {
    let bad = HandshakeError::BadLength {
        message: kind,
        len: body.len(),
    };
    let Some(&[hi, lo]) = body.get(at..at + 2) else {
        return Err(bad);
    };
    let name_len = usize::from(u16::from_be_bytes([hi, lo]));
    if name_len > MAX_NAME_LEN || body.len() != at + 2 + name_len {
        return Err(bad);
    }
    Ok(body[at + 2..].to_vec())
}

/// `send_name`: `'N'`, flags:64, creation:32, name_len:16, name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Name {
    pub(crate) flags: DFlags,
    pub(crate) creation: u32,
    pub(crate) name: Vec<u8>,
}

impl Name {
    pub(crate) fn encode(&self) -> Vec<u8> {
        let mut b = Vec::with_capacity(NAME_HEADER + self.name.len());
        b.push(b'N');
        b.extend_from_slice(&self.flags.0.to_be_bytes());
        b.extend_from_slice(&self.creation.to_be_bytes());
        b.extend_from_slice(&(self.name.len() as u16).to_be_bytes());
        b.extend_from_slice(&self.name);
        frame(&b)
    }

    /// `recv_name/1`: only `'N'`; the 5-style `'n'` gets [`HandshakeError::OldProtocol`].
    pub(crate) fn parse(body: &[u8]) -> Result<Self, HandshakeError> {
        const KIND: MessageKind = MessageKind::Name;
        if body.first() == Some(&b'n') {
            return Err(HandshakeError::OldProtocol);
        }
        expect_tag(body, b'N', KIND)?;
        if body.len() < NAME_HEADER {
            return Err(HandshakeError::BadLength {
                message: KIND,
                len: body.len(),
            });
        }
        Ok(Self {
            flags: DFlags(be_u64(&body[1..9])),
            creation: be_u32(&body[9..13]),
            name: name_at(body, 13, KIND)?,
        })
    }
}

/// `send_status`: `'s'` followed by the status atom's text, or the `named:`
/// form. Also carries the initiator's `true`/`false` answer to `alive`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Status {
    Ok,
    OkSimultaneous,
    Nok,
    NotAllowed,
    Alive,
    True,
    False,
    /// `named:` + name_len:16 + name + creation:32 (dynamic names).
    Named {
        name: Vec<u8>,
        creation: u32,
    },
    /// Anything else after `'s'`.
    Unknown(Vec<u8>),
}

impl Status {
    fn text(&self) -> &[u8] {
        match self {
            Self::Ok => b"ok",
            Self::OkSimultaneous => b"ok_simultaneous",
            Self::Nok => b"nok",
            Self::NotAllowed => b"not_allowed",
            Self::Alive => b"alive",
            Self::True => b"true",
            Self::False => b"false",
            Self::Named { .. } => b"named:",
            Self::Unknown(text) => text,
        }
    }

    pub(crate) fn encode(&self) -> Vec<u8> {
        let mut b = vec![b's'];
        b.extend_from_slice(self.text());
        if let Self::Named { name, creation } = self {
            b.extend_from_slice(&(name.len() as u16).to_be_bytes());
            b.extend_from_slice(name);
            b.extend_from_slice(&creation.to_be_bytes());
        }
        frame(&b)
    }

    /// `recv_status/1` and `recv_status_reply/1`.
    pub(crate) fn parse(body: &[u8], kind: MessageKind) -> Result<Self, HandshakeError> {
        expect_tag(body, b's', kind)?;
        let text = &body[1..];
        Ok(match text {
            b"ok" => Self::Ok,
            b"ok_simultaneous" => Self::OkSimultaneous,
            b"nok" => Self::Nok,
            b"not_allowed" => Self::NotAllowed,
            b"alive" => Self::Alive,
            b"true" => Self::True,
            b"false" => Self::False,
            [b'n', b'a', b'm', b'e', b'd', b':', rest @ ..] => {
                let bad = HandshakeError::BadLength {
                    message: kind,
                    len: body.len(),
                };
                let [hi, lo, rest @ ..] = rest else {
                    return Err(bad);
                };
                let name_len = usize::from(u16::from_be_bytes([*hi, *lo]));
                if rest.len() != name_len + 4 {
                    return Err(bad);
                }
                Self::Named {
                    name: rest[..name_len].to_vec(),
                    creation: be_u32(&rest[name_len..]),
                }
            }
            other => Self::Unknown(other.to_vec()),
        })
    }
}

/// `send_challenge`: `'N'`, flags:64, challenge:32, creation:32,
/// name_len:16, name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Challenge {
    pub(crate) flags: DFlags,
    pub(crate) challenge: u32,
    pub(crate) creation: u32,
    pub(crate) name: Vec<u8>,
}

impl Challenge {
    pub(crate) fn encode(&self) -> Vec<u8> {
        let mut b = Vec::with_capacity(CHALLENGE_HEADER + self.name.len());
        b.push(b'N');
        b.extend_from_slice(&self.flags.0.to_be_bytes());
        b.extend_from_slice(&self.challenge.to_be_bytes());
        b.extend_from_slice(&self.creation.to_be_bytes());
        b.extend_from_slice(&(self.name.len() as u16).to_be_bytes());
        b.extend_from_slice(&self.name);
        frame(&b)
    }

    /// `recv_challenge/1`, `recv_challenge_new/2`.
    pub(crate) fn parse(body: &[u8]) -> Result<Self, HandshakeError> {
        const KIND: MessageKind = MessageKind::Challenge;
        expect_tag(body, b'N', KIND)?;
        if body.len() < CHALLENGE_HEADER {
            return Err(HandshakeError::BadLength {
                message: KIND,
                len: body.len(),
            });
        }
        Ok(Self {
            flags: DFlags(be_u64(&body[1..9])),
            challenge: be_u32(&body[9..13]),
            creation: be_u32(&body[13..17]),
            name: name_at(body, 17, KIND)?,
        })
    }
}

/// `send_challenge_reply`: `'r'`, challenge:32, digest:16 bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ChallengeReply {
    pub(crate) challenge: u32,
    pub(crate) digest: [u8; 16],
}

impl ChallengeReply {
    pub(crate) fn encode(&self) -> Vec<u8> {
        let mut b = Vec::with_capacity(21);
        b.push(b'r');
        b.extend_from_slice(&self.challenge.to_be_bytes());
        b.extend_from_slice(&self.digest);
        frame(&b)
    }

    /// `recv_challenge_reply/3`: exactly 21 bytes.
    pub(crate) fn parse(body: &[u8]) -> Result<Self, HandshakeError> {
        const KIND: MessageKind = MessageKind::ChallengeReply;
        expect_tag(body, b'r', KIND)?;
        let Ok(rest) = <&[u8; 20]>::try_from(&body[1..]) else {
            return Err(HandshakeError::BadLength {
                message: KIND,
                len: body.len(),
            });
        };
        let mut digest = [0; 16];
        digest.copy_from_slice(&rest[4..]);
        Ok(Self {
            challenge: be_u32(&rest[..4]),
            digest,
        })
    }
}

/// `send_challenge_ack`: `'a'`, digest:16 bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ChallengeAck {
    pub(crate) digest: [u8; 16],
}

impl ChallengeAck {
    pub(crate) fn encode(&self) -> Vec<u8> {
        let mut b = Vec::with_capacity(17);
        b.push(b'a');
        b.extend_from_slice(&self.digest);
        frame(&b)
    }

    /// `recv_challenge_ack/3`: exactly 17 bytes.
    pub(crate) fn parse(body: &[u8]) -> Result<Self, HandshakeError> {
        const KIND: MessageKind = MessageKind::ChallengeAck;
        expect_tag(body, b'a', KIND)?;
        let Ok(digest) = <[u8; 16]>::try_from(&body[1..]) else {
            return Err(HandshakeError::BadLength {
                message: KIND,
                len: body.len(),
            });
        };
        Ok(Self { digest })
    }
}
