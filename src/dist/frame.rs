//! Data-phase framing: 4-byte length prefix, zero-length ticks, the
//! pass-through (`'p'`) packet, the distribution header (`131, 68`) and
//! fragmented messages (`131, 69` first fragment, `131, 70` the rest).
//!
//! Pure code: [`FrameReader`] turns received bytes into [`Packet`]s with the
//! `check`/`parse` split of mini-redis (an incomplete frame is not an error),
//! [`Defragmenter`] reassembles fragments, [`encode_control`] appends the
//! frames of one message to an output buffer.
//!
//! The atom cache (`DFLAG_DIST_HDR_ATOM_CACHE`) is not negotiated, so a
//! distribution header must carry zero atom-cache references; anything else
//! is an error.

use super::DFlags;
use super::control::{Control, ControlError};
use crate::term::{self, DecodeError, EncodeError, Limits, Term};
use std::collections::HashMap;

/// Largest buffer growth made ahead of received bytes for one frame.
const RESERVE_STEP: usize = 8 * 1024 * 1024;

/// Messages whose encoding exceeds this many bytes are sent as fragments
/// when `DFLAG_FRAGMENTS` was negotiated (BEAM uses 64 KiB too).
pub const FRAGMENT_SIZE: usize = 64 * 1024;

/// Largest data packet accepted from a peer (a single frame), unless set
/// with [`FrameReader::with_limit`].
pub const MAX_FRAME: usize = 1 << 30;

/// Largest total of partly reassembled messages per connection, unless
/// set with [`Defragmenter::with_limit`].
pub const MAX_REASSEMBLY: usize = 1 << 30;

/// Why received bytes could not be turned into a control message.
#[derive(Debug, thiserror::Error)]
pub enum FrameError {
    /// A frame claims to be larger than the reader's limit ([`MAX_FRAME`]
    /// by default).
    #[error("distribution packet of {size} bytes is larger than the {limit}-byte limit")]
    TooLarge {
        /// The size the frame claims.
        size: usize,
        /// The limit.
        limit: usize,
    },
    /// The first byte(s) of a packet are not a known packet type.
    #[error("unknown distribution packet type {0:?}")]
    UnknownType(Vec<u8>),
    /// A distribution header with atom-cache references (never negotiated).
    #[error(
        "distribution header with {0} atom cache references, but the atom cache was not negotiated"
    )]
    AtomCache(u8),
    /// A packet ended before its header did.
    #[error("truncated distribution header")]
    Truncated,
    /// A fragment for a message that was never started.
    #[error("fragment {fragment} of unknown message {sequence}")]
    UnknownSequence {
        /// Sequence id.
        sequence: u64,
        /// Fragment id.
        fragment: u64,
    },
    /// Fragments out of order.
    #[error("fragment {got} of message {sequence} arrived where {expected} was expected")]
    FragmentOrder {
        /// Sequence id.
        sequence: u64,
        /// Expected fragment id.
        expected: u64,
        /// Received fragment id.
        got: u64,
    },
    /// The fragments of unfinished messages would hold more than the
    /// reassembly limit ([`MAX_REASSEMBLY`] by default). The connection is
    /// closed over it: its partial messages can only be freed that way.
    #[error("fragmented messages exceed the {limit}-byte reassembly limit")]
    ReassemblyTooLarge {
        /// The limit.
        limit: usize,
    },
    /// A term could not be decoded.
    #[error("cannot decode term: {0}")]
    Decode(#[from] DecodeError),
    /// The control message is not understood.
    #[error(transparent)]
    Control(#[from] ControlError),
    /// Bytes left over after the control message and its payload.
    #[error("{0} unexpected trailing bytes after the message")]
    Trailing(usize),
}

/// One complete data packet: a tick or the bytes of a message.
#[derive(Debug, PartialEq, Eq)]
pub enum Packet<'a> {
    /// A zero-length packet (keep-alive).
    Tick,
    /// The bytes of one packet, without the length prefix, borrowed from
    /// the reader's buffer (no copy).
    Data(&'a [u8]),
}

/// Splits a byte stream into 4-byte-length-prefixed packets.
#[derive(Debug)]
pub struct FrameReader {
    buf: Vec<u8>,
    start: usize,
    max_frame: usize,
}

impl Default for FrameReader {
    fn default() -> Self {
        Self::with_leftover(Vec::new())
    }
}

impl FrameReader {
    /// A reader whose buffer starts with `leftover` (bytes read with the
    /// last handshake message).
    pub fn with_leftover(leftover: Vec<u8>) -> Self {
        Self {
            buf: leftover,
            start: 0,
            max_frame: MAX_FRAME,
        }
    }

    /// The same reader, refusing frames larger than `max_frame` bytes.
    pub fn with_limit(mut self, max_frame: usize) -> Self {
        self.max_frame = max_frame;
        self
    }

    /// The buffer to read into: the caller appends received bytes to it
    /// (e.g. with `AsyncReadExt::read_buf`) and then calls
    /// [`FrameReader::next_packet`] until it returns `None`.
    pub fn buffer(&mut self) -> &mut Vec<u8> {
        if self.start > 0 && (self.start == self.buf.len() || self.start > 64 * 1024) {
            self.buf.drain(..self.start);
            self.start = 0;
        }
        &mut self.buf
    }

    /// The next complete packet, if one is buffered.
    pub fn next_packet(&mut self) -> Result<Option<Packet<'_>>, FrameError> {
        let start = self.start;
        let avail = &self.buf[start..];
        let Some(len_bytes) = avail.get(..4) else {
            return Ok(None);
        };
        let len =
            u32::from_be_bytes([len_bytes[0], len_bytes[1], len_bytes[2], len_bytes[3]]) as usize;
        if len > self.max_frame {
            return Err(FrameError::TooLarge {
                size: len,
                limit: self.max_frame,
            });
        }
        if len == 0 {
            self.start += 4;
            return Ok(Some(Packet::Tick));
        }
        if avail.len() < 4 + len {
            // Make room for the rest of the frame, but never more than
            // RESERVE_STEP ahead of what actually arrived: a 4-byte header
            // alone must not make us allocate a gigabyte.
            let missing = 4 + len - avail.len();
            self.buf.reserve(missing.min(RESERVE_STEP));
            return Ok(None);
        }
        self.start += 4 + len;
        Ok(Some(Packet::Data(&self.buf[start + 4..start + 4 + len])))
    }
}

struct Partial {
    next: u64,
    bytes: Vec<u8>,
    /// What was reserved for it from the first fragment's count.
    reserved: usize,
}

/// Reassembles fragmented messages (`131, 69` / `131, 70`).
///
/// The first fragment says how many follow, so a message's buffer is
/// reserved once (`count * first fragment's size`) instead of growing by
/// doubling. The limit counts the bytes that arrived; reservations together
/// stay within it too (past that a buffer grows as bytes arrive), so a peer
/// that claims more fragments than it sends cannot make us reserve more.
pub struct Defragmenter {
    partial: HashMap<u64, Partial>,
    total: usize,
    reserved: usize,
    limit: usize,
}

impl Default for Defragmenter {
    fn default() -> Self {
        Self {
            partial: HashMap::new(),
            total: 0,
            reserved: 0,
            limit: MAX_REASSEMBLY,
        }
    }
}

impl std::fmt::Debug for Defragmenter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Defragmenter")
            .field("in_progress", &self.partial.len())
            .finish()
    }
}

fn be_u64(b: &[u8]) -> Option<u64> {
    Some(u64::from_be_bytes(b.get(..8)?.try_into().ok()?))
}

impl Defragmenter {
    /// The same defragmenter, holding at most `limit` bytes of unfinished
    /// messages (all sequences together).
    pub fn with_limit(mut self, limit: usize) -> Self {
        self.limit = limit;
        self
    }

    /// Turns one data packet into a control message, or `None` when it was
    /// a fragment of a message not yet complete.
    pub fn decode_packet(
        &mut self,
        data: &[u8],
        limits: &Limits,
    ) -> Result<Option<Control>, FrameError> {
        match data {
            [112, rest @ ..] => decode_body(rest, true, limits).map(Some),
            [131, 68, rest @ ..] => {
                let (&n, body) = rest.split_first().ok_or(FrameError::Truncated)?;
                if n != 0 {
                    return Err(FrameError::AtomCache(n));
                }
                decode_body(body, false, limits).map(Some)
            }
            [131, 69, rest @ ..] => {
                let seq = be_u64(rest).ok_or(FrameError::Truncated)?;
                let frag = be_u64(rest.get(8..).ok_or(FrameError::Truncated)?)
                    .ok_or(FrameError::Truncated)?;
                let n = *rest.get(16).ok_or(FrameError::Truncated)?;
                if n != 0 {
                    return Err(FrameError::AtomCache(n));
                }
                let body = &rest[17..];
                if frag <= 1 {
                    return decode_body(body, false, limits).map(Some);
                }
                self.grow(body.len())?;
                let want = usize::try_from(frag)
                    .unwrap_or(usize::MAX)
                    .saturating_mul(body.len());
                let reserved = want
                    .min(self.limit.saturating_sub(self.reserved))
                    .max(body.len());
                let mut bytes = Vec::with_capacity(reserved);
                bytes.extend_from_slice(body);
                self.reserved += reserved;
                if let Some(old) = self.partial.insert(
                    seq,
                    Partial {
                        next: frag - 1,
                        bytes,
                        reserved,
                    },
                ) {
                    self.total -= old.bytes.len();
                    self.reserved -= old.reserved;
                }
                Ok(None)
            }
            [131, 70, rest @ ..] => {
                let seq = be_u64(rest).ok_or(FrameError::Truncated)?;
                let frag = be_u64(rest.get(8..).ok_or(FrameError::Truncated)?)
                    .ok_or(FrameError::Truncated)?;
                let body = &rest[16..];
                let Some(p) = self.partial.get_mut(&seq) else {
                    return Err(FrameError::UnknownSequence {
                        sequence: seq,
                        fragment: frag,
                    });
                };
                if p.next != frag {
                    let expected = p.next;
                    self.forget(seq);
                    return Err(FrameError::FragmentOrder {
                        sequence: seq,
                        expected,
                        got: frag,
                    });
                }
                if self.total + body.len() > self.limit {
                    self.forget(seq);
                    return Err(FrameError::ReassemblyTooLarge { limit: self.limit });
                }
                self.total += body.len();
                p.bytes.extend_from_slice(body);
                p.next -= 1;
                if frag == 1 {
                    let Some(done) = self.partial.remove(&seq) else {
                        return Ok(None);
                    };
                    self.total -= done.bytes.len();
                    self.reserved -= done.reserved;
                    decode_reassembled(done.bytes, limits).map(Some)
                } else {
                    Ok(None)
                }
            }
            other => Err(FrameError::UnknownType(
                other.iter().take(2).copied().collect(),
            )),
        }
    }

    fn grow(&mut self, n: usize) -> Result<(), FrameError> {
        if self.total + n > self.limit {
            return Err(FrameError::ReassemblyTooLarge { limit: self.limit });
        }
        self.total += n;
        Ok(())
    }

    fn forget(&mut self, seq: u64) {
        if let Some(p) = self.partial.remove(&seq) {
            self.total -= p.bytes.len();
            self.reserved -= p.reserved;
        }
    }
}

/// Binaries of at least this many bytes that end a reassembled message
/// become the message's binary in the reassembly buffer itself.
const MOVE_TAIL_BINARY: usize = 64 * 1024;

/// [`decode_body`] for a reassembled message, whose buffer we own: a large
/// binary at its end (the request of a call carrying 10 MiB) is moved into
/// the term, not copied out of the buffer.
fn decode_reassembled(body: Vec<u8>, limits: &Limits) -> Result<Control, FrameError> {
    let (ctrl, n) = term::decode_prefix_with(&body, false, limits)?;
    let msg = if n == body.len() {
        None
    } else {
        match term::decode_owned_with(body, n, MOVE_TAIL_BINARY, limits) {
            Ok(m) => Some(m),
            Err(DecodeError::TrailingBytes { count, .. }) => {
                return Err(FrameError::Trailing(count));
            }
            Err(e) => return Err(e.into()),
        }
    };
    Ok(Control::from_owned_terms(ctrl, msg)?)
}

/// Decodes a control term and its optional message term.
fn decode_body(body: &[u8], with_version: bool, limits: &Limits) -> Result<Control, FrameError> {
    let (ctrl, n) = term::decode_prefix_with(body, with_version, limits)?;
    let rest = &body[n..];
    let msg = if rest.is_empty() {
        None
    } else {
        let (msg, m) = term::decode_prefix_with(rest, with_version, limits)?;
        if m != rest.len() {
            return Err(FrameError::Trailing(rest.len() - m));
        }
        Some(msg)
    };
    Ok(Control::from_owned_terms(ctrl, msg)?)
}

/// Appends the frame(s) carrying `ctrl` to `out`: one pass-through frame, or
/// fragments when the message is larger than [`FRAGMENT_SIZE`] and
/// `DFLAG_FRAGMENTS` was negotiated. `sequence` numbers fragmented messages.
pub fn encode_control(
    ctrl: &Control,
    flags: DFlags,
    sequence: &mut u64,
    out: &mut Vec<u8>,
) -> Result<(), EncodeError> {
    if let Some((fields, n, msg)) = ctrl.send_fields(flags) {
        return encode_packet(Ctrl::Fields(&fields[..n]), Some(msg), flags, sequence, out);
    }
    let (c, m) = ctrl.to_terms(flags);
    encode_terms(&c, m, flags, sequence, out)
}

/// A control tuple to encode: a term, or the fields of one.
#[derive(Clone, Copy)]
enum Ctrl<'a> {
    Term(&'a Term),
    Fields(&'a [term::Field<'a>]),
}

impl Ctrl<'_> {
    /// Appends the tuple without the version byte.
    fn encode_body(self, out: &mut Vec<u8>) -> Result<(), EncodeError> {
        match self {
            Self::Term(t) => term::encode_body(t, out),
            Self::Fields(f) => term::encode_tuple_body(f, out),
        }
    }

    /// Appends the version byte and the tuple.
    fn encode(self, out: &mut Vec<u8>) -> Result<(), EncodeError> {
        match self {
            Self::Term(t) => term::encode(t, out),
            Self::Fields(f) => {
                out.push(131);
                let r = term::encode_tuple_body(f, out);
                if r.is_err() {
                    out.pop();
                }
                r
            }
        }
    }
}

/// Like [`encode_control`] for an already built control tuple and message.
///
/// Without `DFLAG_FRAGMENTS` a message is a pass-through packet (`112`,
/// then the terms with their version bytes). With it, BEAM expects every
/// packet to start with a distribution header: `131, 68, 0` (no atom-cache
/// references) followed by the terms *without* version bytes, or the
/// fragment headers `131, 69` / `131, 70` for messages larger than
/// [`FRAGMENT_SIZE`] (verified against OTP 25–29: a pass-through packet on
/// such a connection is refused as "incompatible erlang").
pub fn encode_terms(
    ctrl: &Term,
    msg: Option<&Term>,
    flags: DFlags,
    sequence: &mut u64,
    out: &mut Vec<u8>,
) -> Result<(), EncodeError> {
    encode_packet(Ctrl::Term(ctrl), msg, flags, sequence, out)
}

fn encode_packet(
    ctrl: Ctrl<'_>,
    msg: Option<&Term>,
    flags: DFlags,
    sequence: &mut u64,
    out: &mut Vec<u8>,
) -> Result<(), EncodeError> {
    let start = out.len();
    let fragments = flags.contains(DFlags::FRAGMENTS);
    let encoded = if fragments {
        out.extend_from_slice(&[0, 0, 0, 0, 131, 68, 0]);
        ctrl.encode_body(out)
            .and_then(|()| msg.map_or(Ok(()), |m| term::encode_body(m, out)))
    } else {
        out.extend_from_slice(&[0, 0, 0, 0, 112]);
        ctrl.encode(out)
            .and_then(|()| msg.map_or(Ok(()), |m| term::encode(m, out)))
    };
    if let Err(e) = encoded {
        out.truncate(start);
        return Err(e);
    }
    let len = out.len() - start - 4;
    if !fragments || len <= FRAGMENT_SIZE {
        let Ok(len32) = u32::try_from(len) else {
            out.truncate(start);
            return Err(EncodeError::TooLarge {
                what: "distribution packet",
                len,
            });
        };
        out[start..start + 4].copy_from_slice(&len32.to_be_bytes());
        return Ok(());
    }
    // Put the body (after `131, 68, 0`) behind fragment headers, in place:
    // the buffer grows by the headers and each chunk moves back to its
    // place, last chunk first, so the body is neither copied out nor
    // allocated twice.
    *sequence += 1;
    let seq = *sequence;
    let body_start = start + 7;
    let body_len = out.len() - body_start;
    let count = body_len.div_ceil(FRAGMENT_SIZE);
    // Every fragment has a 4 + 2 + 8 + 8 byte header, the first one byte
    // more (NumberOfAtomCacheRefs).
    const HEADER: usize = 4 + 2 + 8 + 8;
    let header = |i: usize| if i == 0 { HEADER + 1 } else { HEADER };
    out.resize(start + body_len + count * HEADER + 1, 0);
    for i in (0..count).rev() {
        let from = body_start + i * FRAGMENT_SIZE;
        let len = FRAGMENT_SIZE.min(body_len - i * FRAGMENT_SIZE);
        // Fragment i starts after i chunks and i headers.
        let at = start + i * (FRAGMENT_SIZE + HEADER) + usize::from(i > 0);
        let data_at = at + header(i);
        out.copy_within(from..from + len, data_at);
        let frag_id = (count - i) as u64;
        let frame_len = (header(i) - 4 + len) as u32;
        let h = &mut out[at..data_at];
        h[..4].copy_from_slice(&frame_len.to_be_bytes());
        h[4] = 131;
        h[5] = if i == 0 { 69 } else { 70 };
        h[6..14].copy_from_slice(&seq.to_be_bytes());
        h[14..22].copy_from_slice(&frag_id.to_be_bytes());
        if i == 0 {
            h[22] = 0; // NumberOfAtomCacheRefs
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::term::{Atom, Pid, binary};

    fn msg(size: usize) -> Control {
        Control::Send {
            from: None,
            to: Pid {
                node: Atom::from("a@h"),
                id: 1,
                serial: 0,
                creation: 1,
            },
            msg: binary(vec![7u8; size]),
        }
    }

    fn roundtrip(c: &Control, flags: DFlags) -> (usize, Control) {
        let mut out = Vec::new();
        let mut seq = 0;
        encode_control(c, flags, &mut seq, &mut out).unwrap();
        let mut reader = FrameReader::default();
        reader.buffer().extend_from_slice(&out);
        let mut defrag = Defragmenter::default();
        let mut frames = 0;
        let mut result = None;
        while let Some(p) = reader.next_packet().unwrap() {
            frames += 1;
            let Packet::Data(d) = p else { panic!("tick") };
            if let Some(c) = defrag.decode_packet(d, &Limits::default()).unwrap() {
                result = Some(c);
            }
        }
        (frames, result.unwrap())
    }

    #[test]
    fn small_message_is_one_pass_through_frame() {
        let c = msg(10);
        let (frames, back) = roundtrip(&c, DFlags::OURS);
        assert_eq!(frames, 1);
        assert_eq!(back, c);
    }

    #[test]
    fn large_message_is_fragmented_and_reassembled() {
        let c = msg(10 * 1024 * 1024);
        let (frames, back) = roundtrip(&c, DFlags::OURS);
        assert_eq!(frames, 161);
        assert_eq!(back, c);
        let (frames, back) = roundtrip(&c, DFlags::OURS & !DFlags::FRAGMENTS);
        assert_eq!(frames, 1);
        assert_eq!(back, c);
    }

    /// Sends are encoded from their fields, without building the control
    /// tuple; the bytes are those of the built tuple, with and without
    /// `SEND_SENDER` and fragments, and they decode (moving the pids out of
    /// the decoded tuple) to the same message.
    #[test]
    fn sends_encode_as_their_control_tuples() {
        let pid = |n: u32| Pid {
            node: Atom::from("node@host"),
            id: n,
            serial: 2,
            creation: 3,
        };
        let alias = crate::term::Reference {
            node: Atom::from("node@host"),
            id: vec![1, 2, 3],
            creation: 3,
        };
        let payload = crate::term!({hello, [a, 300], (binary(vec![5; 100]))});
        let sends = [
            Control::Send {
                from: Some(pid(1)),
                to: pid(2),
                msg: payload.clone(),
            },
            Control::Send {
                from: None,
                to: pid(2),
                msg: payload.clone(),
            },
            Control::RegSend {
                from: pid(1),
                name: Atom::from("bench_sink"),
                msg: payload.clone(),
            },
            Control::AliasSend {
                from: pid(1),
                alias,
                msg: binary(vec![9; 3 * FRAGMENT_SIZE]),
            },
        ];
        for flags in [
            DFlags::OURS,
            DFlags::OURS & !DFlags::SEND_SENDER,
            DFlags::OURS & !DFlags::FRAGMENTS,
        ] {
            for c in &sends {
                assert!(c.send_fields(flags).is_some());
                let (mut fast, mut built) = (vec![1, 2], vec![1, 2]);
                let (mut s1, mut s2) = (0, 0);
                encode_control(c, flags, &mut s1, &mut fast).unwrap();
                let (ctrl, m) = c.to_terms(flags);
                encode_terms(&ctrl, m, flags, &mut s2, &mut built).unwrap();
                assert_eq!(fast, built, "{} with {flags:?}", c.op_name());
                let (_, back) = roundtrip(c, flags);
                let expected = match c {
                    Control::Send { to, msg, .. } if !flags.contains(DFlags::SEND_SENDER) => {
                        Control::Send {
                            from: None,
                            to: to.clone(),
                            msg: msg.clone(),
                        }
                    }
                    c => c.clone(),
                };
                assert_eq!(back, expected);
            }
        }
        let link = Control::Link {
            from: pid(1),
            to: pid(2),
        };
        assert!(link.send_fields(DFlags::OURS).is_none());
    }

    /// The fragments written in place are byte for byte those of cutting
    /// the encoded body into chunks behind headers (dist.c's layout), after
    /// whatever the buffer already held.
    #[test]
    fn fragments_are_the_body_cut_behind_headers() {
        let c = msg(3 * FRAGMENT_SIZE + 17);
        // The body without version bytes, as after `131, 68, 0`.
        let mut body = Vec::new();
        let (ctrl, m) = c.to_terms(DFlags::OURS);
        term::encode_body(&ctrl, &mut body).unwrap();
        term::encode_body(m.unwrap(), &mut body).unwrap();
        let mut want = vec![9, 9, 9];
        let count = body.len().div_ceil(FRAGMENT_SIZE) as u64;
        for (i, chunk) in body.chunks(FRAGMENT_SIZE).enumerate() {
            let head: &[u8] = if i == 0 { &[131, 69] } else { &[131, 70] };
            let extra = usize::from(i == 0);
            want.extend(((18 + extra + chunk.len()) as u32).to_be_bytes());
            want.extend(head);
            want.extend(7u64.to_be_bytes());
            want.extend((count - i as u64).to_be_bytes());
            if i == 0 {
                want.push(0);
            }
            want.extend(chunk);
        }
        let mut got = vec![9, 9, 9];
        let mut seq = 6;
        encode_control(&c, DFlags::OURS, &mut seq, &mut got).unwrap();
        assert_eq!(seq, 7);
        assert_eq!(count, 4);
        assert!(got == want, "fragments differ");
    }

    #[test]
    fn ticks_and_partial_frames() {
        let mut r = FrameReader::default();
        r.buffer().extend_from_slice(&[0, 0, 0, 0, 0, 0, 0, 3, 112]);
        assert_eq!(r.next_packet().unwrap(), Some(Packet::Tick));
        assert_eq!(r.next_packet().unwrap(), None);
        r.buffer().extend_from_slice(&[1, 2]);
        assert_eq!(r.next_packet().unwrap(), Some(Packet::Data(&[112, 1, 2])));
    }

    #[test]
    fn a_huge_frame_header_alone_does_not_allocate_the_frame() {
        let mut r = FrameReader::default();
        r.buffer()
            .extend_from_slice(&(MAX_FRAME as u32).to_be_bytes());
        assert_eq!(r.next_packet().unwrap(), None);
        assert!(r.buffer().capacity() <= RESERVE_STEP + 64);
    }

    /// A first fragment (`131, 69`) of `seq` claiming `count` fragments.
    fn first_fragment(seq: u64, count: u64, body: &[u8]) -> Vec<u8> {
        let mut p = vec![131, 69];
        p.extend(seq.to_be_bytes());
        p.extend(count.to_be_bytes());
        p.push(0);
        p.extend_from_slice(body);
        p
    }

    /// A later fragment (`131, 70`).
    fn next_fragment(seq: u64, id: u64, body: &[u8]) -> Vec<u8> {
        let mut p = vec![131, 70];
        p.extend(seq.to_be_bytes());
        p.extend(id.to_be_bytes());
        p.extend_from_slice(body);
        p
    }

    #[test]
    fn unfinished_messages_share_one_reassembly_limit() {
        let l = Limits::default();
        let mut d = Defragmenter::default().with_limit(300 * 1024);
        let chunk = vec![0u8; 64 * 1024];
        // Sequences that never complete, whatever they claim (2^40 fragments).
        for seq in 1..=4 {
            assert!(matches!(
                d.decode_packet(&first_fragment(seq, 1 << 40, &chunk), &l),
                Ok(None)
            ));
        }
        // What they claim is reserved only within the limit.
        assert!(d.reserved <= d.limit + d.total, "{} reserved", d.reserved);
        assert!(matches!(
            d.decode_packet(&first_fragment(5, 1 << 40, &chunk), &l),
            Err(FrameError::ReassemblyTooLarge { limit }) if limit == 300 * 1024
        ));
        // A sequence that grows past the limit is dropped with the error.
        assert!(matches!(
            d.decode_packet(&next_fragment(1, (1 << 40) - 1, &chunk), &l),
            Err(FrameError::ReassemblyTooLarge { .. })
        ));
        assert!(matches!(
            d.decode_packet(&next_fragment(1, (1 << 40) - 2, &chunk), &l),
            Err(FrameError::UnknownSequence { .. })
        ));
        // Completed messages give their room back.
        // A 150 KiB message travels as 3 fragments.
        let mut e = Defragmenter::default().with_limit(200 * 1024);
        let c = msg(150 * 1024);
        let mut out = Vec::new();
        for _ in 0..5 {
            out.clear();
            encode_control(&c, DFlags::OURS, &mut 0, &mut out).unwrap();
            let mut r = FrameReader::default();
            r.buffer().extend_from_slice(&out);
            let (mut got, mut frames) = (None, 0);
            while let Some(Packet::Data(p)) = r.next_packet().unwrap() {
                frames += 1;
                got = e.decode_packet(p, &l).unwrap();
            }
            assert_eq!(frames, 3);
            assert_eq!(got.as_ref(), Some(&c));
        }
    }

    #[test]
    fn a_frame_over_the_readers_limit_is_an_error_from_its_header() {
        let mut r = FrameReader::default().with_limit(1000);
        r.buffer().extend_from_slice(&1001u32.to_be_bytes());
        assert!(matches!(
            r.next_packet(),
            Err(FrameError::TooLarge {
                size: 1001,
                limit: 1000
            })
        ));
        let mut r = FrameReader::default().with_limit(1000);
        r.buffer().extend_from_slice(&1000u32.to_be_bytes());
        assert!(matches!(r.next_packet(), Ok(None)));
    }

    #[test]
    fn bad_packets_are_errors() {
        let mut d = Defragmenter::default();
        let l = Limits::default();
        assert!(matches!(
            d.decode_packet(&[1, 2, 3], &l),
            Err(FrameError::UnknownType(_))
        ));
        assert!(matches!(
            d.decode_packet(&[131, 68, 3], &l),
            Err(FrameError::AtomCache(3))
        ));
        assert!(matches!(
            d.decode_packet(&[131, 69, 0], &l),
            Err(FrameError::Truncated)
        ));
        let mut frag = vec![131, 70];
        frag.extend_from_slice(&5u64.to_be_bytes());
        frag.extend_from_slice(&1u64.to_be_bytes());
        assert!(matches!(
            d.decode_packet(&frag, &l),
            Err(FrameError::UnknownSequence { .. })
        ));
        assert!(matches!(
            d.decode_packet(&[112, 131, 100], &l),
            Err(FrameError::Decode(_))
        ));
        let mut r = FrameReader::default();
        r.buffer().extend_from_slice(&[0xff, 0xff, 0xff, 0xff]);
        assert!(matches!(r.next_packet(), Err(FrameError::TooLarge { .. })));
    }
}
