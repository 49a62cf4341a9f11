//! EPMD wire messages, without any I/O.
//!
//! Mirrors the request handling of `erts/epmd/src/epmd_srv.c` (`do_request`)
//! and the client side in `lib/kernel/src/erl_epmd.erl`, as documented in the
//! ERTS User's Guide, "Distribution Protocol", section "EPMD Protocol".
//!
//! Every request travels in a frame `Length:16, Request:Length` (big endian).
//! Every connection carries exactly one request; the server closes it after
//! its reply, except after `ALIVE2_REQ`, where the connection *is* the
//! registration.
//!
//! ```text
//!   tag  request            reply
//!   120  ALIVE2_REQ     ──► 118 ALIVE2_X_RESP result:8 creation:32  (highest version >= 6)
//!                           121 ALIVE2_RESP   result:8 creation:16  (older nodes)
//!   122  PORT_PLEASE2_REQ ► 119 PORT2_RESP    result:8 [entry]
//!   110  NAMES_REQ      ──► epmd_port:32 then "name N at port P\n"...
//!   100  DUMP_REQ       ──► epmd_port:32 then "active name     <N> at port P, fd = F\n\0"...
//!   107  KILL_REQ       ──► "OK" | "NO"
//!   115  STOP_REQ       ──► "STOPPED" | "NOEXIST"   (only with -relaxed_command_check)
//! ```
//!
//! Requests are decoded in two steps, in the style of mini-redis's
//! `Frame::check`/`Frame::parse`: [`check`] says whether a whole frame is
//! buffered ([`ProtoError::Incomplete`] otherwise) and rejects oversized
//! length prefixes before anything is allocated; [`parse`] decodes it. Neither
//! panics on any input.

use erl_dist::epmd::{NodeEntry, NodeType, TransportProtocol};
use std::fmt::Write as _;

/// `DUMP_REQ` tag (`'d'`).
pub const DUMP_REQ: u8 = 100;
/// `KILL_REQ` tag (`'k'`).
pub const KILL_REQ: u8 = 107;
/// `NAMES_REQ` tag (`'n'`).
pub const NAMES_REQ: u8 = 110;
/// `STOP_REQ` tag (`'s'`).
pub const STOP_REQ: u8 = 115;
/// `ALIVE2_X_RESP` tag (`'v'`): registration reply with a 32-bit creation.
pub const ALIVE2_X_RESP: u8 = 118;
/// `PORT2_RESP` tag (`'w'`).
pub const PORT2_RESP: u8 = 119;
/// `ALIVE2_REQ` tag (`'x'`).
pub const ALIVE2_REQ: u8 = 120;
/// `ALIVE2_RESP` tag (`'y'`): registration reply with a 16-bit creation.
pub const ALIVE2_RESP: u8 = 121;
/// `PORT_PLEASE2_REQ` tag (`'z'`).
pub const PORT_PLEASE2_REQ: u8 = 122;

/// Longest node name in characters (a node name is an atom: 255 characters).
pub const MAX_NAME_CHARS: usize = 255;
/// Longest node name or extra field in bytes (`MAXSYMLEN` in epmd: 255 UTF-8
/// characters of up to 4 bytes).
pub const MAX_SYM_BYTES: usize = 255 * 4;
/// Largest request body accepted (epmd reads requests into a buffer of
/// `INBUF_SIZE = 3 * MAXSYMLEN` bytes, one of which it keeps for a NUL).
pub const MAX_REQUEST_LEN: usize = 3 * MAX_SYM_BYTES - 1;
/// The first distribution protocol version whose nodes understand a 32-bit
/// creation: epmd answers `ALIVE2_X_RESP` to nodes whose highest version is at
/// least this, `ALIVE2_RESP` to the others.
pub const EXTENDED_CREATION_VERSION: u16 = 6;

/// Fixed part of an `ALIVE2_REQ` body: tag, port, type, protocol, highest,
/// lowest, name length, extra length.
const ALIVE2_FIXED_LEN: usize = 1 + 2 + 1 + 1 + 2 + 2 + 2 + 2;

/// Why a request could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProtoError {
    /// Not enough bytes yet: read more and try again.
    #[error("incomplete EPMD request")]
    Incomplete,
    /// A zero length prefix: there is no request tag.
    #[error("empty EPMD request (length prefix 0)")]
    Empty,
    /// The length prefix exceeds [`MAX_REQUEST_LEN`].
    #[error("EPMD request of {len} bytes exceeds the limit of {max} bytes")]
    TooLong {
        /// The announced body length.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// The first byte of the body is no request tag epmd knows.
    #[error("unknown EPMD request tag {tag}")]
    UnknownTag {
        /// The offending tag.
        tag: u8,
    },
    /// A known request whose body does not have the documented layout.
    #[error("malformed {request}: {reason}")]
    Malformed {
        /// Request name, e.g. `"ALIVE2_REQ"`.
        request: &'static str,
        /// What is wrong with it.
        reason: &'static str,
    },
}

/// `ALIVE2_REQ`: a node asks to be registered.
///
/// The name is kept as it came (checked only for NUL bytes and UTF-8); its
/// length is checked by the registry, because epmd answers an over-long name
/// with a refusal (result 1) rather than by closing the connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Alive2Req {
    /// Port on which the node accepts distribution connections.
    pub port: u16,
    /// 77 (`'M'`) normal node, 72 (`'H'`) hidden node; epmd does not check it.
    pub node_type: u8,
    /// 0 = TCP/IPv4; epmd does not check it.
    pub protocol: u8,
    /// Highest distribution protocol version the node speaks.
    pub highest_version: u16,
    /// Lowest distribution protocol version the node speaks.
    pub lowest_version: u16,
    /// Node name without the `@host` part.
    pub name: String,
    /// The "extra" field, returned verbatim by `PORT2_RESP`.
    pub extra: Vec<u8>,
}

impl Alive2Req {
    /// The request that registers `entry`.
    pub fn from_entry(entry: &NodeEntry) -> Self {
        Self {
            port: entry.port,
            node_type: entry.node_type.into(),
            protocol: entry.protocol.into(),
            highest_version: entry.highest_version,
            lowest_version: entry.lowest_version,
            name: entry.name.clone(),
            extra: entry.extra.clone(),
        }
    }

    /// The entry `PORT2_RESP` reports for this registration.
    pub fn to_entry(&self) -> NodeEntry {
        NodeEntry {
            name: self.name.clone(),
            port: self.port,
            node_type: NodeType::from(self.node_type),
            protocol: TransportProtocol::from(self.protocol),
            highest_version: self.highest_version,
            lowest_version: self.lowest_version,
            extra: self.extra.clone(),
        }
    }
}

/// A decoded EPMD request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Request {
    /// `ALIVE2_REQ` (120): register a node.
    Alive2(Alive2Req),
    /// `PORT_PLEASE2_REQ` (122): look a node up by name.
    PortPlease2 {
        /// Node name without the `@host` part.
        name: String,
    },
    /// `NAMES_REQ` (110): list registered names and ports.
    Names,
    /// `DUMP_REQ` (100): debug listing, including remembered old names.
    Dump,
    /// `KILL_REQ` (107): stop the EPMD server.
    Kill,
    /// `STOP_REQ` (115): forcibly unregister a node (needs
    /// `-relaxed_command_check`).
    Stop {
        /// Node name without the `@host` part.
        name: String,
    },
}

impl Request {
    /// Request name as written in the protocol documentation.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Alive2(_) => "ALIVE2_REQ",
            Self::PortPlease2 { .. } => "PORT_PLEASE2_REQ",
            Self::Names => "NAMES_REQ",
            Self::Dump => "DUMP_REQ",
            Self::Kill => "KILL_REQ",
            Self::Stop { .. } => "STOP_REQ",
        }
    }

    /// Encodes the request, length prefix included.
    ///
    /// Fields too long for their 16-bit length prefix are truncated to
    /// [`MAX_REQUEST_LEN`] worth of frame; requests built from [`parse`]
    /// always fit.
    pub fn encode(&self) -> Vec<u8> {
        let mut body = Vec::new();
        match self {
            Self::Alive2(req) => {
                body.push(ALIVE2_REQ);
                body.extend_from_slice(&req.port.to_be_bytes());
                body.push(req.node_type);
                body.push(req.protocol);
                body.extend_from_slice(&req.highest_version.to_be_bytes());
                body.extend_from_slice(&req.lowest_version.to_be_bytes());
                push_u16_prefixed(&mut body, req.name.as_bytes());
                push_u16_prefixed(&mut body, &req.extra);
            }
            Self::PortPlease2 { name } => {
                body.push(PORT_PLEASE2_REQ);
                body.extend_from_slice(name.as_bytes());
            }
            Self::Names => body.push(NAMES_REQ),
            Self::Dump => body.push(DUMP_REQ),
            Self::Kill => body.push(KILL_REQ),
            Self::Stop { name } => {
                body.push(STOP_REQ);
                body.extend_from_slice(name.as_bytes());
            }
        }
        body.truncate(usize::from(u16::MAX));
        let mut frame = Vec::with_capacity(2 + body.len());
        frame.extend_from_slice(&u16_len(body.len()).to_be_bytes());
        frame.extend_from_slice(&body);
        frame
    }
}

/// Checks whether `buf` starts with a whole request frame.
///
/// Returns the frame length (prefix included), [`ProtoError::Incomplete`] if
/// more bytes are needed, or an error for a frame that can never be valid
/// (zero or oversized length prefix). Allocates nothing.
pub fn check(buf: &[u8]) -> Result<usize, ProtoError> {
    let [hi, lo, ..] = *buf else {
        return Err(ProtoError::Incomplete);
    };
    let len = usize::from(u16::from_be_bytes([hi, lo]));
    if len == 0 {
        return Err(ProtoError::Empty);
    }
    if len > MAX_REQUEST_LEN {
        return Err(ProtoError::TooLong {
            len,
            max: MAX_REQUEST_LEN,
        });
    }
    if buf.len() < 2 + len {
        return Err(ProtoError::Incomplete);
    }
    Ok(2 + len)
}

/// Decodes the request frame at the start of `buf`.
///
/// Returns the request and the number of bytes it used. Validation follows
/// epmd: an `ALIVE2_REQ` must hold at least one name byte and its length
/// fields must fit in the frame (trailing bytes are ignored, as epmd does);
/// names must not contain NUL and must be UTF-8; a `PORT_PLEASE2_REQ` name
/// may end with one NUL (sent by very old clients) and must be 1 to 255
/// characters long.
pub fn parse(buf: &[u8]) -> Result<(Request, usize), ProtoError> {
    let used = check(buf)?;
    let body = &buf[2..used];
    let request = match body[0] {
        ALIVE2_REQ => Request::Alive2(parse_alive2(body)?),
        PORT_PLEASE2_REQ => {
            let name = parse_name("PORT_PLEASE2_REQ", &body[1..])?;
            if name.chars().count() > MAX_NAME_CHARS {
                return Err(ProtoError::Malformed {
                    request: "PORT_PLEASE2_REQ",
                    reason: "node name longer than 255 characters",
                });
            }
            Request::PortPlease2 { name }
        }
        NAMES_REQ => Request::Names,
        DUMP_REQ => Request::Dump,
        KILL_REQ => Request::Kill,
        STOP_REQ => Request::Stop {
            name: parse_name("STOP_REQ", &body[1..])?,
        },
        tag => return Err(ProtoError::UnknownTag { tag }),
    };
    Ok((request, used))
}

fn parse_alive2(body: &[u8]) -> Result<Alive2Req, ProtoError> {
    let malformed = |reason| ProtoError::Malformed {
        request: "ALIVE2_REQ",
        reason,
    };
    if body.len() <= ALIVE2_FIXED_LEN {
        return Err(malformed(
            "shorter than the fixed fields and a one-byte name",
        ));
    }
    let u16_at = |at: usize| u16::from_be_bytes([body[at], body[at + 1]]);
    let name_len = usize::from(u16_at(9));
    let name_end = 11 + name_len;
    if name_end + 2 > body.len() {
        return Err(malformed("node name length exceeds the request"));
    }
    let extra_len = usize::from(u16_at(name_end));
    let extra_end = name_end + 2 + extra_len;
    if extra_end > body.len() {
        return Err(malformed("extra field length exceeds the request"));
    }
    let name_bytes = &body[11..name_end];
    if name_bytes.contains(&0) {
        return Err(malformed("node name contains a NUL byte"));
    }
    let name = std::str::from_utf8(name_bytes)
        .map_err(|_| malformed("node name is not UTF-8"))?
        .to_owned();
    Ok(Alive2Req {
        port: u16_at(1),
        node_type: body[3],
        protocol: body[4],
        highest_version: u16_at(5),
        lowest_version: u16_at(7),
        name,
        extra: body[name_end + 2..extra_end].to_vec(),
    })
}

fn parse_name(request: &'static str, raw: &[u8]) -> Result<String, ProtoError> {
    let raw = raw.strip_suffix(&[0]).unwrap_or(raw);
    if raw.is_empty() {
        return Err(ProtoError::Malformed {
            request,
            reason: "empty node name",
        });
    }
    if raw.contains(&0) {
        return Err(ProtoError::Malformed {
            request,
            reason: "node name contains a NUL byte",
        });
    }
    std::str::from_utf8(raw)
        .map(str::to_owned)
        .map_err(|_| ProtoError::Malformed {
            request,
            reason: "node name is not UTF-8",
        })
}

/// A registration reply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Alive2Resp {
    /// `ALIVE2_X_RESP` (118): result and 32-bit creation.
    Extended {
        /// 0 = registered, anything else = refused.
        result: u8,
        /// The creation assigned (epmd sends 99 with a refusal).
        creation: u32,
    },
    /// `ALIVE2_RESP` (121): result and 16-bit creation (1..=3).
    Legacy {
        /// 0 = registered, anything else = refused.
        result: u8,
        /// The creation assigned (epmd sends 99 with a refusal).
        creation: u16,
    },
}

impl Alive2Resp {
    /// The creation epmd sends along with a refusal.
    pub const REFUSED_CREATION: u16 = 99;

    /// The reply epmd gives a node announcing `highest_version`: accepted
    /// with `creation`, or refused (`None`).
    ///
    /// Nodes older than version 6 get the 16-bit reply with the creation
    /// folded into 1..=3, exactly as epmd folds it (`creation % 3 + 1`).
    pub fn for_version(highest_version: u16, creation: Option<u32>) -> Self {
        let result = u8::from(creation.is_none());
        if highest_version >= EXTENDED_CREATION_VERSION {
            Self::Extended {
                result,
                creation: creation.unwrap_or(u32::from(Self::REFUSED_CREATION)),
            }
        } else {
            Self::Legacy {
                result,
                // `c % 3 + 1` is at most 3, so the cast cannot truncate.
                creation: creation.map_or(Self::REFUSED_CREATION, |c| (c % 3 + 1) as u16),
            }
        }
    }

    /// Encodes the reply (no length prefix: replies have none).
    pub fn encode(&self) -> Vec<u8> {
        match *self {
            Self::Extended { result, creation } => {
                let mut out = vec![ALIVE2_X_RESP, result];
                out.extend_from_slice(&creation.to_be_bytes());
                out
            }
            Self::Legacy { result, creation } => {
                let mut out = vec![ALIVE2_RESP, result];
                out.extend_from_slice(&creation.to_be_bytes());
                out
            }
        }
    }
}

/// Encodes `PORT2_RESP`: result 0 and the entry, or result 1 alone when the
/// name is not registered.
pub fn encode_port2_resp(entry: Option<&NodeEntry>) -> Vec<u8> {
    let Some(entry) = entry else {
        return vec![PORT2_RESP, 1];
    };
    let mut out = vec![PORT2_RESP, 0];
    out.extend_from_slice(&entry.port.to_be_bytes());
    out.push(entry.node_type.into());
    out.push(entry.protocol.into());
    out.extend_from_slice(&entry.highest_version.to_be_bytes());
    out.extend_from_slice(&entry.lowest_version.to_be_bytes());
    push_u16_prefixed(&mut out, entry.name.as_bytes());
    push_u16_prefixed(&mut out, &entry.extra);
    out
}

/// Encodes the `NAMES_REQ` reply: the EPMD port as 32 bits, then one
/// `name N at port P\n` line per registered node, newest first as epmd lists
/// them. `erl_epmd:names/1` compares that port with its own `ERL_EPMD_PORT`,
/// so it must be the port the server really listens on.
pub fn encode_names_resp<'a>(
    epmd_port: u16,
    nodes: impl IntoIterator<Item = (&'a str, u16)>,
) -> Vec<u8> {
    let mut text = String::new();
    for (name, port) in nodes {
        // Writing to a String cannot fail.
        let _ = writeln!(text, "name {name} at port {port}");
    }
    let mut out = u32::from(epmd_port).to_be_bytes().to_vec();
    out.extend_from_slice(text.as_bytes());
    out
}

/// One line of a `DUMP_REQ` reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DumpLine<'a> {
    /// Node name.
    pub name: &'a str,
    /// Its distribution port.
    pub port: u16,
    /// The file descriptor epmd held (or holds) for its registration.
    pub fd: i64,
    /// Still registered (`true`) or only remembered for its creation.
    pub active: bool,
}

/// Encodes the `DUMP_REQ` reply: the EPMD port as 32 bits, then one line per
/// node, each terminated by `\n` *and* a NUL byte, as epmd writes them
/// (active nodes first, then remembered ones).
pub fn encode_dump_resp<'a>(
    epmd_port: u16,
    lines: impl IntoIterator<Item = DumpLine<'a>>,
) -> Vec<u8> {
    let mut text = String::new();
    for l in lines {
        // Writing to a String cannot fail.
        let _ = if l.active {
            write!(
                text,
                "active name     <{}> at port {}, fd = {}\n\0",
                l.name, l.port, l.fd
            )
        } else {
            write!(
                text,
                "old/unused name <{}>, port = {}, fd = {} \n\0",
                l.name, l.port, l.fd
            )
        };
    }
    let mut out = u32::from(epmd_port).to_be_bytes().to_vec();
    out.extend_from_slice(text.as_bytes());
    out
}

/// `KILL_REQ` reply when the server stops.
pub const KILL_OK: &[u8] = b"OK";
/// `KILL_REQ` reply when nodes are registered and the check is not relaxed.
pub const KILL_REFUSED: &[u8] = b"NO";
/// `STOP_REQ` reply when the node was unregistered.
pub const STOP_STOPPED: &[u8] = b"STOPPED";
/// `STOP_REQ` reply when no such node is registered.
pub const STOP_NOEXIST: &[u8] = b"NOEXIST";

fn u16_len(len: usize) -> u16 {
    u16::try_from(len).unwrap_or(u16::MAX)
}

fn push_u16_prefixed(out: &mut Vec<u8>, bytes: &[u8]) {
    let bytes = &bytes[..bytes.len().min(usize::from(u16::MAX))];
    out.extend_from_slice(&u16_len(bytes.len()).to_be_bytes());
    out.extend_from_slice(bytes);
}

#[cfg(test)]
#[path = "proto_test.rs"]
mod proto_test;
