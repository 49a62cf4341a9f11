//! Data-phase framing: 4-byte length prefix, zero-length ticks, the
//! pass-through (`'p'`) packet, the distribution header (`131, 68`) and
//! fragmented messages (`131, 69` first fragment, `131, 70` the rest).
//!
//! Pure code: [`FrameReader`] turns received bytes into [`Packet`]s with the
//! `check`/`parse` split of mini-redis (an incomplete frame is not an error),
//! [`Defragmenter`] reassembles fragments, [`encode_control`] appends the
//! frames of one message to an output buffer, and
//! [`encode_control_vectored`] does the same but leaves the message's large
//! binaries where they are, for one vectored write ([`io_slices`]).
//!
//! A distribution header's atom cache references (`DFLAG_DIST_HDR_ATOM_CACHE`)
//! are read and written through [`super::atom_cache`].

use super::DFlags;
use super::atom_cache::{AtomCacheError, RecvAtomCache, SendAtomCache};
use super::control::{Control, ControlError};
use crate::term::{self, AtomTable, DecodeError, EncodeError, Limits, Term};
use std::collections::HashMap;
use std::io::IoSlice;

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
    /// A distribution header's atom cache references are wrong. The
    /// connection is closed over it: its atom cache is no longer the
    /// peer's.
    #[error("bad distribution header: {0}")]
    AtomCache(#[from] AtomCacheError),
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

    /// The incomplete frame at the front of the buffer, once
    /// [`Self::next_packet`] returned `None`: the bytes of it that arrived
    /// (after its length) and the length it declares.
    pub fn partial(&self) -> Option<(&[u8], usize)> {
        let avail = &self.buf[self.start..];
        let len = u32::from_be_bytes(avail.get(..4)?.try_into().ok()?) as usize;
        if len > self.max_frame || avail.len() >= 4 + len {
            return None;
        }
        Some((&avail[4..], len))
    }

    /// Drops the bytes of the incomplete frame ([`Self::partial`]): the
    /// caller took them, and reads the rest of the frame itself
    /// ([`Defragmenter::direct`]).
    pub fn take_partial(&mut self) {
        self.start = self.buf.len();
    }
}

/// A fragment whose body goes from the socket straight into its message's
/// reassembly buffer, without passing through the [`FrameReader`]'s
/// buffer: from [`Defragmenter::direct`], read into
/// [`Defragmenter::direct_buffer`], ended with [`Defragmenter::direct_done`].
#[derive(Debug)]
pub struct Direct {
    seq: u64,
    frag: u64,
    first: bool,
    remaining: usize,
}

impl Direct {
    /// The bytes of the fragment still to read.
    pub fn remaining(&self) -> usize {
        self.remaining
    }
}

struct Partial {
    next: u64,
    /// The message's bytes so far; with `split`, the bytes of the binary
    /// that ends it.
    bytes: Vec<u8>,
    /// When the first fragment held the control message and the start of
    /// a large binary that ends the message: the control, decoded, the
    /// message's bytes before the binary's, and the binary's length.
    split: Option<(Term, Vec<u8>, usize)>,
    /// The atoms of its header's atom cache references.
    atoms: Vec<Option<term::Atom>>,
    /// The bytes of it counted against the limit.
    counted: usize,
    /// What was reserved for it from the first fragment's count.
    reserved: usize,
}

/// Where the bytes of a `BINARY_EXT` of at least [`MOVE_TAIL_BINARY`]
/// bytes start in `msg` (a message's first bytes), and its length, when
/// its header is there and nothing can follow it in the message: the
/// message is the binary, or a tuple whose last element is such a
/// message (`{'$gen_call', From, Bin}`).
fn tail_binary(msg: &[u8], atoms: AtomTable<'_>, limits: &Limits) -> Option<(usize, usize)> {
    const BINARY_EXT: u8 = 109;
    const SMALL_TUPLE_EXT: u8 = 104;
    let mut pos = 0;
    for _ in 0..8 {
        match *msg.get(pos)? {
            BINARY_EXT => {
                let len = u32::from_be_bytes(msg.get(pos + 1..pos + 5)?.try_into().ok()?) as usize;
                return (len >= MOVE_TAIL_BINARY).then_some((pos + 5, len));
            }
            SMALL_TUPLE_EXT => {
                let arity = *msg.get(pos + 1)?;
                pos += 2;
                for _ in 1..arity {
                    let (_, n) = term::decode_dist_prefix(msg.get(pos..)?, atoms, limits).ok()?;
                    pos += n;
                }
                if arity == 0 {
                    return None;
                }
            }
            _ => return None,
        }
    }
    None
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
    atoms: Option<Box<RecvAtomCache>>,
    total: usize,
    reserved: usize,
    limit: usize,
}

impl Default for Defragmenter {
    fn default() -> Self {
        Self {
            partial: HashMap::new(),
            atoms: None,
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

    /// Reads the atom cache references of a header at the front of
    /// `bytes` (`NumberOfAtomCacheRefs` first); returns the rest.
    fn read_refs<'b>(&mut self, bytes: &'b [u8]) -> Result<&'b [u8], FrameError> {
        let (&n, rest) = bytes.split_first().ok_or(FrameError::Truncated)?;
        if n == 0 {
            if let Some(c) = &mut self.atoms {
                c.read(0, rest)?;
            }
            return Ok(rest);
        }
        let cache = self.atoms.get_or_insert_with(Default::default);
        let used = cache.read(n, rest)?;
        Ok(&rest[used..])
    }

    /// The atoms of the header read last.
    fn table(&self) -> AtomTable<'_> {
        self.atoms.as_ref().map(|c| c.table()).unwrap_or_default()
    }

    /// Turns one data packet into a control message, or `None` when it was
    /// a fragment of a message not yet complete. A bad header
    /// ([`FrameError::AtomCache`]) leaves the connection's atom cache
    /// unusable: close the connection.
    pub fn decode_packet(
        &mut self,
        data: &[u8],
        limits: &Limits,
    ) -> Result<Option<Control>, FrameError> {
        match data {
            [112, rest @ ..] => decode_body(rest, None, limits).map(Some),
            [131, 68, rest @ ..] => {
                let body = self.read_refs(rest)?;
                decode_body(body, Some(self.table()), limits).map(Some)
            }
            [131, 69, rest @ ..] => {
                let seq = be_u64(rest).ok_or(FrameError::Truncated)?;
                let frag = be_u64(rest.get(8..).ok_or(FrameError::Truncated)?)
                    .ok_or(FrameError::Truncated)?;
                let body = self.read_refs(rest.get(16..).ok_or(FrameError::Truncated)?)?;
                if frag <= 1 {
                    return decode_body(body, Some(self.table()), limits).map(Some);
                }
                self.first_fragment(seq, frag, body, body.len(), false, limits)?;
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
                p.counted += body.len();
                p.bytes.extend_from_slice(body);
                p.next -= 1;
                if frag == 1 {
                    self.complete(seq, limits)
                } else {
                    Ok(None)
                }
            }
            other => Err(FrameError::UnknownType(
                other.iter().take(2).copied().collect(),
            )),
        }
    }

    /// A first fragment (`131, 69`) of `frag` fragments: `body` is the
    /// fragment's body after the atom cache references, all of it or its
    /// first bytes of `body_len` (a direct read). A large binary that ends
    /// the message and starts here is reassembled in a buffer of its own,
    /// which becomes the binary: reserved for its length, never moved.
    /// With `split_only`, nothing is done (`false`) unless that is so.
    fn first_fragment(
        &mut self,
        seq: u64,
        frag: u64,
        body: &[u8],
        body_len: usize,
        split_only: bool,
        limits: &Limits,
    ) -> Result<bool, FrameError> {
        let atoms = self
            .atoms
            .as_ref()
            .map(|c| c.snapshot())
            .unwrap_or_default();
        let table = AtomTable::in_order(&atoms);
        let split = term::decode_dist_prefix(body, table, limits)
            .ok()
            .and_then(|(ctrl, n)| {
                let (at, len) = tail_binary(&body[n..], table, limits)?;
                Some((ctrl, n, n + at, len))
            });
        if split_only && split.is_none() {
            return Ok(false);
        }
        self.grow(body_len)?;
        let (first, split, want) = match split {
            Some((ctrl, n, at, len)) => (&body[at..], Some((ctrl, body[n..at].to_vec(), len)), len),
            None => (body, None, usize::MAX),
        };
        let want = usize::try_from(frag)
            .unwrap_or(usize::MAX)
            .saturating_mul(body_len)
            .min(want);
        let reserved = want
            .min(self.limit.saturating_sub(self.reserved))
            .max(first.len());
        let mut bytes = Vec::with_capacity(reserved);
        bytes.extend_from_slice(first);
        self.reserved += reserved;
        if let Some(old) = self.partial.insert(
            seq,
            Partial {
                next: frag - 1,
                bytes,
                split,
                atoms,
                counted: body_len,
                reserved,
            },
        ) {
            self.total -= old.counted;
            self.reserved -= old.reserved;
        }
        Ok(true)
    }

    /// The last fragment of message `seq` arrived: the message.
    fn complete(&mut self, seq: u64, limits: &Limits) -> Result<Option<Control>, FrameError> {
        let Some(done) = self.partial.remove(&seq) else {
            return Ok(None);
        };
        self.total -= done.counted;
        self.reserved -= done.reserved;
        let atoms = AtomTable::in_order(&done.atoms);
        match done.split {
            Some((ctrl, head, len)) => {
                decode_split(ctrl, head, len, done.bytes, atoms, limits).map(Some)
            }
            None => decode_reassembled(done.bytes, atoms, limits).map(Some),
        }
    }

    /// Whether the incomplete frame `head` (the bytes of it that arrived,
    /// of `len` declared; [`FrameReader::partial`]) is a fragment whose
    /// body the caller can read straight into its message's reassembly
    /// buffer: a next fragment of a message under way, or a first one
    /// whose message ends with a large binary (the binary's own buffer).
    /// Then the bytes of `head` are taken (drop them from the reader with
    /// [`FrameReader::take_partial`]) and counted against the limit with
    /// the rest. `None` for anything else, and for anything wrong: the
    /// frame then goes the ordinary way, and its error with it.
    pub fn direct(&mut self, head: &[u8], len: usize, limits: &Limits) -> Option<Direct> {
        let remaining = len.checked_sub(head.len())?;
        match head {
            [131, 69, rest @ ..] => {
                let seq = be_u64(rest)?;
                let frag = be_u64(rest.get(8..)?)?;
                if frag <= 1 {
                    return None;
                }
                let body = self.read_refs(rest.get(16..)?).ok()?;
                let body_len = len - (head.len() - body.len());
                self.first_fragment(seq, frag, body, body_len, true, limits)
                    .ok()?
                    .then_some(Direct {
                        seq,
                        frag,
                        first: true,
                        remaining,
                    })
            }
            [131, 70, rest @ ..] => {
                let seq = be_u64(rest)?;
                let frag = be_u64(rest.get(8..)?)?;
                let body = rest.get(16..)?;
                let body_len = len - 18;
                if self.total + body_len > self.limit {
                    return None;
                }
                let p = self.partial.get_mut(&seq).filter(|p| p.next == frag)?;
                p.counted += body_len;
                p.bytes.extend_from_slice(body);
                self.total += body_len;
                Some(Direct {
                    seq,
                    frag,
                    first: false,
                    remaining,
                })
            }
            _ => None,
        }
    }

    /// Where the rest of a [`Direct`] fragment's body goes: append to it
    /// (`AsyncReadExt::read_buf` of at most [`Direct::remaining`] bytes).
    pub fn direct_buffer(&mut self, d: &Direct) -> Option<&mut Vec<u8>> {
        self.partial.get_mut(&d.seq).map(|p| &mut p.bytes)
    }

    /// All of a [`Direct`] fragment's body was read: the message, when it
    /// was the last fragment.
    pub fn direct_done(
        &mut self,
        d: Direct,
        limits: &Limits,
    ) -> Result<Option<Control>, FrameError> {
        if d.first {
            return Ok(None);
        }
        let Some(p) = self.partial.get_mut(&d.seq) else {
            return Ok(None);
        };
        p.next -= 1;
        if d.frag == 1 {
            self.complete(d.seq, limits)
        } else {
            Ok(None)
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
            self.total -= p.counted;
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
fn decode_reassembled(
    body: Vec<u8>,
    atoms: AtomTable<'_>,
    limits: &Limits,
) -> Result<Control, FrameError> {
    let (ctrl, n) = term::decode_dist_prefix(&body, atoms, limits)?;
    let msg = if n == body.len() {
        None
    } else {
        match term::decode_owned_with(body, n, MOVE_TAIL_BINARY, atoms, limits) {
            Ok(m) => Some(m),
            Err(DecodeError::TrailingBytes { count, .. }) => {
                return Err(FrameError::Trailing(count));
            }
            Err(e) => return Err(e.into()),
        }
    };
    Ok(Control::from_owned_terms(ctrl, msg)?)
}

/// A message reassembled in two parts: its control (decoded), `head` (the
/// message's bytes up to those of the binary that ends it, of `len`
/// bytes) and `tail`, the binary's bytes, which become the binary. A
/// message that turns out otherwise (the binary's length is not what
/// arrived) is decoded from the bytes put together.
fn decode_split(
    ctrl: Term,
    head: Vec<u8>,
    len: usize,
    mut tail: Vec<u8>,
    atoms: AtomTable<'_>,
    limits: &Limits,
) -> Result<Control, FrameError> {
    if tail.len() == len {
        if let Some(msg) = term::decode_detached(&head, &mut tail, atoms, limits) {
            return Ok(Control::from_owned_terms(ctrl, Some(msg))?);
        }
    }
    let mut bytes = head;
    bytes.extend_from_slice(&tail);
    drop(tail);
    match term::decode_owned_with(bytes, 0, MOVE_TAIL_BINARY, atoms, limits) {
        Ok(msg) => Ok(Control::from_owned_terms(ctrl, Some(msg))?),
        Err(DecodeError::TrailingBytes { count, .. }) => Err(FrameError::Trailing(count)),
        Err(e) => Err(e.into()),
    }
}

/// Decodes a control term and its optional message term: with version
/// bytes (a pass-through packet, `atoms` `None`), or after a distribution
/// header with its `atoms`.
fn decode_body(
    body: &[u8],
    atoms: Option<AtomTable<'_>>,
    limits: &Limits,
) -> Result<Control, FrameError> {
    let one = |bytes: &[u8]| match atoms {
        None => term::decode_prefix_with(bytes, true, limits),
        Some(a) => term::decode_dist_prefix(bytes, a, limits),
    };
    let (ctrl, n) = one(body)?;
    let rest = &body[n..];
    let msg = if rest.is_empty() {
        None
    } else {
        let (msg, m) = one(rest)?;
        if m != rest.len() {
            return Err(FrameError::Trailing(rest.len() - m));
        }
        Some(msg)
    };
    Ok(Control::from_owned_terms(ctrl, msg)?)
}

/// Binaries of at least this many bytes are not copied into the writer's
/// scratch buffer when a message is encoded for the atom cache: they go
/// straight from the term to the output, once.
const SPILL_MIN: usize = 1024;

/// A scratch buffer larger than this is given back after its message.
const SCRATCH_KEEP: usize = 1 << 20;

/// What the sending side of a connection keeps from one message to the
/// next: the sequence numbers of fragmented messages, the atom cache
/// (once `DFLAG_DIST_HDR_ATOM_CACHE` is negotiated) and the buffer a
/// message is encoded in before its header is known.
#[derive(Debug, Default)]
pub struct FrameWriter {
    sequence: u64,
    atoms: Option<Box<SendAtomCache>>,
    scratch: Vec<u8>,
    /// A fragmented message's atom cache references, before its first
    /// fragment's header is written.
    refs: Vec<u8>,
}

/// Appends the frame(s) carrying `ctrl` to `out`: one pass-through frame, or
/// fragments when the message is larger than [`FRAGMENT_SIZE`] and
/// `DFLAG_FRAGMENTS` was negotiated. `w` numbers fragmented messages and
/// holds the atom cache.
pub fn encode_control(
    ctrl: &Control,
    flags: DFlags,
    w: &mut FrameWriter,
    out: &mut Vec<u8>,
) -> Result<(), EncodeError> {
    if let Some((fields, n, msg)) = ctrl.send_fields(flags) {
        return encode_packet(Ok(&fields[..n]), Some(msg), flags, w, out, None);
    }
    let (c, m) = ctrl.to_terms(flags);
    encode_terms(&c, m, flags, w, out)
}

/// The bytes of a large binary of a message, left in the message: they
/// belong at `at` in the output of [`encode_control_vectored`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ext<'a> {
    /// Offset in the output.
    pub at: usize,
    /// Bytes of a binary of the message (a fragment's share of it).
    pub bytes: &'a [u8],
}

/// Like [`encode_control`], but the message's binaries of at least 1 KiB
/// are not copied: they are listed in `ext`, each with the offset in
/// `out` where it belongs (in fragments, cut where fragment headers go).
/// [`io_slices`] gives the whole for one vectored write, so that a large
/// binary goes from the sending process's message to the socket with no
/// copy in between. Messages other than sends (`SEND`, `SEND_SENDER`,
/// `REG_SEND`, `ALIAS_SEND`), and packets without a distribution header,
/// are copied whole.
pub fn encode_control_vectored<'a>(
    ctrl: &'a Control,
    flags: DFlags,
    w: &mut FrameWriter,
    out: &mut Vec<u8>,
    ext: &mut Vec<Ext<'a>>,
) -> Result<(), EncodeError> {
    if let Some((fields, n, msg)) = ctrl.send_fields(flags) {
        return encode_packet(Ok(&fields[..n]), Some(msg), flags, w, out, Some(ext));
    }
    let (c, m) = ctrl.to_terms(flags);
    encode_terms(&c, m, flags, w, out)
}

/// `out` with the `ext` bytes of [`encode_control_vectored`] put where they
/// belong: the slices of one vectored write, empty ones left out.
pub fn io_slices<'b>(out: &'b [u8], ext: &[Ext<'b>]) -> Vec<IoSlice<'b>> {
    let mut slices = Vec::with_capacity(2 * ext.len() + 1);
    let mut from = 0;
    for e in ext {
        if e.at > from {
            slices.push(IoSlice::new(&out[from..e.at]));
        }
        if !e.bytes.is_empty() {
            slices.push(IoSlice::new(e.bytes));
        }
        from = e.at;
    }
    if out.len() > from {
        slices.push(IoSlice::new(&out[from..]));
    }
    slices
}

/// A control tuple to encode: the fields of one, or a term.
type Ctrl<'f, 'a> = Result<&'f [term::Field<'a>], &'a Term>;

/// Appends the version byte and the control tuple (a pass-through packet's).
fn encode_ctrl(ctrl: Ctrl<'_, '_>, out: &mut Vec<u8>) -> Result<(), EncodeError> {
    let start = out.len();
    out.push(131);
    let r = match ctrl {
        Err(t) => term::encode_body(t, out),
        Ok(f) => term::encode_tuple_body(f, out),
    };
    if r.is_err() {
        out.truncate(start);
    }
    r
}

/// The 4-byte length of a packet of `len` bytes (without fragments).
fn packet_len(len: usize) -> Result<u32, EncodeError> {
    u32::try_from(len).map_err(|_| EncodeError::TooLarge {
        what: "distribution packet",
        len,
    })
}

/// Like [`encode_control`] for an already built control tuple and message.
///
/// Without `DFLAG_FRAGMENTS` a message is a pass-through packet (`112`,
/// then the terms with their version bytes). With it, BEAM expects every
/// packet to start with a distribution header: `131, 68` and the atom
/// cache references (just `0` without `DFLAG_DIST_HDR_ATOM_CACHE`)
/// followed by the terms *without* version bytes, or the fragment headers
/// `131, 69` / `131, 70` for messages larger than [`FRAGMENT_SIZE`]
/// (verified against OTP 25–29: a pass-through packet on such a
/// connection is refused as "incompatible erlang").
pub fn encode_terms(
    ctrl: &Term,
    msg: Option<&Term>,
    flags: DFlags,
    w: &mut FrameWriter,
    out: &mut Vec<u8>,
) -> Result<(), EncodeError> {
    encode_packet(Err(ctrl), msg, flags, w, out, None)
}

fn encode_packet<'a>(
    ctrl: Ctrl<'_, 'a>,
    msg: Option<&'a Term>,
    flags: DFlags,
    w: &mut FrameWriter,
    out: &mut Vec<u8>,
    ext: Option<&mut Vec<Ext<'a>>>,
) -> Result<(), EncodeError> {
    if flags.contains(DFlags::FRAGMENTS) || flags.contains(DFlags::DIST_HDR_ATOM_CACHE) {
        return encode_with_header(ctrl, msg, flags, w, out, ext);
    }
    let start = out.len();
    out.extend_from_slice(&[0, 0, 0, 0, 112]);
    let encoded = encode_ctrl(ctrl, out)
        .and_then(|()| msg.map_or(Ok(()), |m| term::encode(m, out)))
        .and_then(|()| packet_len(out.len() - start - 4));
    match encoded {
        Ok(len32) => {
            out[start..start + 4].copy_from_slice(&len32.to_be_bytes());
            Ok(())
        }
        Err(e) => {
            out.truncate(start);
            Err(e)
        }
    }
}

/// [`encode_packet`] behind a distribution header: the terms are encoded
/// into the writer's scratch buffer first (large binaries left out), since
/// the header before them lists the atoms they use, then written as one
/// packet or as fragments. With `ext`, the large binaries stay out of
/// `out` and are listed there.
fn encode_with_header<'a>(
    ctrl: Ctrl<'_, 'a>,
    msg: Option<&'a Term>,
    flags: DFlags,
    w: &mut FrameWriter,
    out: &mut Vec<u8>,
    mut ext: Option<&mut Vec<Ext<'a>>>,
) -> Result<(), EncodeError> {
    let mut cache = flags
        .contains(DFlags::DIST_HDR_ATOM_CACHE)
        .then(|| &mut **w.atoms.get_or_insert_with(Default::default));
    if let Some(c) = &mut cache {
        c.begin();
    }
    w.scratch.clear();
    let mut spill = Vec::new();
    let encoded = term::encode_dist(
        ctrl,
        msg,
        &mut w.scratch,
        term::DistEncoding {
            atoms: cache.as_mut().map(|c| &mut **c as &mut dyn term::AtomRefs),
            spill: &mut spill,
            spill_min: SPILL_MIN,
        },
    );
    let abort = |cache: Option<&mut SendAtomCache>| {
        if let Some(c) = cache {
            c.abort();
        }
    };
    if let Err(e) = encoded {
        abort(cache);
        return Err(e);
    }
    let fragments = flags.contains(DFlags::FRAGMENTS);
    let header = cache.as_ref().map_or(1, |c| c.header_len());
    let spilled: usize = spill.iter().map(|s| s.bytes.len()).sum();
    let len = 2 + header + w.scratch.len() + spilled;
    if !fragments && let Err(e) = packet_len(len) {
        abort(cache);
        return Err(e);
    }
    // The atom cache references (`NumberOfAtomCacheRefs` on; just `0`
    // without the cache).
    let finish = |cache: Option<&mut SendAtomCache>, out: &mut Vec<u8>| match cache {
        Some(c) => c.finish(out),
        None => out.push(0),
    };
    let copied = if ext.is_some() { len - spilled } else { len };
    out.reserve(4 + copied + (len / FRAGMENT_SIZE + 1) * FRAGMENT_HEADER);
    let mut frames = if fragments && len > FRAGMENT_SIZE {
        // Written as fragments straight away: the references go to a
        // small buffer first, the first fragment's header carries them.
        let mut refs = std::mem::take(&mut w.refs);
        refs.clear();
        finish(cache, &mut refs);
        w.sequence += 1;
        let body = len - 2 - header;
        Frames::Fragments {
            out,
            sequence: w.sequence,
            next_id: body.div_ceil(FRAGMENT_SIZE) as u64,
            left_in_fragment: 0,
            left: body,
            refs,
        }
    } else {
        out.extend_from_slice(&(len as u32).to_be_bytes());
        out.extend_from_slice(&[131, 68]);
        finish(cache, out);
        Frames::One(out)
    };
    let mut from = 0;
    for s in &spill {
        frames.push(&w.scratch[from..s.at]);
        match &mut ext {
            Some(ext) => frames.push_ext(s.bytes, ext),
            None => frames.push(s.bytes),
        }
        from = s.at;
    }
    frames.push(&w.scratch[from..]);
    if let Frames::Fragments { refs, .. } = frames {
        w.refs = refs;
    }
    if w.scratch.capacity() > SCRATCH_KEEP {
        w.scratch = Vec::new();
    }
    Ok(())
}

/// A fragment's header: length, `131, 69` or `131, 70`, sequence id and
/// fragment id (the first one has the atom cache references after it).
const FRAGMENT_HEADER: usize = 4 + 2 + 8 + 8;

/// Where the bytes of a message behind a distribution header go: one packet
/// (its length and header written), or fragments whose headers are
/// written as the body's bytes come, every [`FRAGMENT_SIZE`] of them
/// (dist.c's layout: the body cut into chunks behind headers).
enum Frames<'o> {
    One(&'o mut Vec<u8>),
    Fragments {
        out: &'o mut Vec<u8>,
        sequence: u64,
        /// The id of the next fragment (they count down to 1).
        next_id: u64,
        /// Body bytes still to come in the current fragment, and in all.
        left_in_fragment: usize,
        left: usize,
        /// The atom cache references, for the first fragment's header.
        refs: Vec<u8>,
    },
}

impl Frames<'_> {
    /// Copies `bytes` to the output.
    fn push(&mut self, mut bytes: &[u8]) {
        while !bytes.is_empty() {
            let n = self.room(bytes.len());
            self.out().extend_from_slice(&bytes[..n]);
            bytes = &bytes[n..];
        }
    }

    /// Lists `bytes` in `ext` at their place in the output, cut where
    /// fragment headers go.
    fn push_ext<'a>(&mut self, mut bytes: &'a [u8], ext: &mut Vec<Ext<'a>>) {
        while !bytes.is_empty() {
            let n = self.room(bytes.len());
            let at = self.out().len();
            ext.push(Ext {
                at,
                bytes: &bytes[..n],
            });
            bytes = &bytes[n..];
        }
    }

    fn out(&mut self) -> &mut Vec<u8> {
        match self {
            Self::One(out) | Self::Fragments { out, .. } => out,
        }
    }

    /// How many of the next `want` body bytes go in the current packet,
    /// counted as gone: in fragments, a fragment's header is written first
    /// when one begins here.
    fn room(&mut self, want: usize) -> usize {
        let Self::Fragments {
            out,
            sequence,
            next_id,
            left_in_fragment,
            left,
            refs,
        } = self
        else {
            return want;
        };
        if *left_in_fragment == 0 {
            let chunk = FRAGMENT_SIZE.min(*left);
            let first = !refs.is_empty();
            let head = FRAGMENT_HEADER - 4 + if first { refs.len() } else { 0 };
            out.extend_from_slice(&((head + chunk) as u32).to_be_bytes());
            out.extend_from_slice(&[131, if first { 69 } else { 70 }]);
            out.extend_from_slice(&sequence.to_be_bytes());
            out.extend_from_slice(&next_id.to_be_bytes());
            if first {
                out.extend_from_slice(refs);
                refs.clear();
            }
            *next_id -= 1;
            *left_in_fragment = chunk;
        }
        let n = want.min(*left_in_fragment);
        *left_in_fragment -= n;
        *left -= n;
        n
    }
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
        encode_control(c, flags, &mut FrameWriter::default(), &mut out).unwrap();
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
            DFlags::OURS & !DFlags::DIST_HDR_ATOM_CACHE,
            DFlags::OURS & !DFlags::SEND_SENDER,
            DFlags::OURS & !DFlags::FRAGMENTS,
            DFlags::OURS & !DFlags::FRAGMENTS & !DFlags::DIST_HDR_ATOM_CACHE,
        ] {
            for c in &sends {
                assert!(c.send_fields(flags).is_some());
                let (mut fast, mut built) = (vec![1, 2], vec![1, 2]);
                let (mut s1, mut s2) = (FrameWriter::default(), FrameWriter::default());
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

    /// Packets of `bytes` (our own frames), without their length prefixes.
    fn packets(bytes: &[u8]) -> Vec<Vec<u8>> {
        let mut reader = FrameReader::default();
        reader.buffer().extend_from_slice(bytes);
        let mut out = Vec::new();
        while let Some(Packet::Data(d)) = reader.next_packet().unwrap() {
            out.push(d.to_vec());
        }
        out
    }

    fn send(to: &str, msg: Term) -> Control {
        Control::Send {
            from: None,
            to: Pid {
                node: Atom::from(to),
                id: 1,
                serial: 0,
                creation: 1,
            },
            msg,
        }
    }

    /// With the atom cache, the atoms of a message sent again are a byte
    /// each, and one writer's messages decode in order on one reader.
    #[test]
    fn atoms_sent_again_are_cache_references() {
        let c = send("target@host", crate::term!({hello, target, [a, b]}));
        let mut w = FrameWriter::default();
        let (mut first, mut second) = (Vec::new(), Vec::new());
        encode_control(&c, DFlags::OURS, &mut w, &mut first).unwrap();
        encode_control(&c, DFlags::OURS, &mut w, &mut second).unwrap();
        let mut plain = Vec::new();
        let flags = DFlags::OURS & !DFlags::DIST_HDR_ATOM_CACHE;
        encode_control(&c, flags, &mut FrameWriter::default(), &mut plain).unwrap();
        assert!(second.len() < first.len());
        assert!(second.len() + 10 < plain.len(), "{second:?} vs {plain:?}");
        let mut d = Defragmenter::default();
        for p in packets(&first).iter().chain(&packets(&second)) {
            let back = d.decode_packet(p, &Limits::default()).unwrap();
            assert_eq!(back, Some(c.clone()));
        }
    }

    /// A fragmented message is decoded with the atoms of its own header,
    /// although a message between its fragments put another atom in the
    /// same slot.
    #[test]
    fn fragments_keep_their_atoms_while_the_cache_changes() {
        let node = "target@host";
        let other = (0..)
            .map(|i| format!("x{i}@host"))
            .find(|t| {
                super::super::atom_cache::slot_of(t) == super::super::atom_cache::slot_of(node)
            })
            .unwrap();
        let big = send(
            node,
            crate::term!({(binary(vec![1; 2 * FRAGMENT_SIZE])), (crate::term::atom(node))}),
        );
        let small = send(&other, crate::term!(hello));
        let mut w = FrameWriter::default();
        let mut bytes = Vec::new();
        encode_control(&big, DFlags::OURS, &mut w, &mut bytes).unwrap();
        let big_packets = packets(&bytes);
        assert_eq!(big_packets.len(), 3);
        bytes.clear();
        encode_control(&small, DFlags::OURS, &mut w, &mut bytes).unwrap();
        let small_packet = packets(&bytes).remove(0);
        let l = Limits::default();
        let mut d = Defragmenter::default();
        assert_eq!(d.decode_packet(&big_packets[0], &l).unwrap(), None);
        assert_eq!(d.decode_packet(&small_packet, &l).unwrap(), Some(small));
        assert_eq!(d.decode_packet(&big_packets[1], &l).unwrap(), None);
        assert_eq!(d.decode_packet(&big_packets[2], &l).unwrap(), Some(big));
    }

    /// `body` (the terms after the references) cut into chunks behind
    /// fragment headers of message `seq`, `refs` in the first one
    /// (dist.c's layout).
    fn cut(refs: &[u8], body: &[u8], seq: u64) -> Vec<u8> {
        let mut want = Vec::new();
        let count = body.len().div_ceil(FRAGMENT_SIZE) as u64;
        for (i, chunk) in body.chunks(FRAGMENT_SIZE).enumerate() {
            let (head, refs): (&[u8], &[u8]) = if i == 0 {
                (&[131, 69], refs)
            } else {
                (&[131, 70], &[])
            };
            want.extend(((18 + refs.len() + chunk.len()) as u32).to_be_bytes());
            want.extend(head);
            want.extend(seq.to_be_bytes());
            want.extend((count - i as u64).to_be_bytes());
            want.extend(refs);
            want.extend(chunk);
        }
        want
    }

    /// Fragments are byte for byte the encoded body cut into chunks
    /// behind headers, after whatever the buffer already held.
    #[test]
    fn fragments_are_the_body_cut_behind_headers() {
        let c = msg(3 * FRAGMENT_SIZE + 17);
        let flags = DFlags::OURS & !DFlags::DIST_HDR_ATOM_CACHE;
        // The body without version bytes, as after `131, 68, 0`.
        let mut body = Vec::new();
        let (ctrl, m) = c.to_terms(flags);
        term::encode_body(&ctrl, &mut body).unwrap();
        term::encode_body(m.unwrap(), &mut body).unwrap();
        let mut want = vec![9, 9, 9];
        want.extend(cut(&[0], &body, 7));
        let mut got = vec![9, 9, 9];
        let mut w = FrameWriter {
            sequence: 6,
            ..FrameWriter::default()
        };
        encode_control(&c, flags, &mut w, &mut got).unwrap();
        assert_eq!(w.sequence, 7);
        assert_eq!(packets(&got[3..]).len(), 4);
        assert!(got == want, "fragments differ");
    }

    /// With the atom cache too, with the references in the first
    /// fragment's header.
    #[test]
    fn fragments_with_atom_cache_references_are_the_body_cut_behind_headers() {
        let c = send(
            "target@host",
            crate::term!({hello, (binary(vec![4u8; 2 * FRAGMENT_SIZE + 100])), [a, b]}),
        );
        let mut w = FrameWriter {
            sequence: 41,
            ..FrameWriter::default()
        };
        let mut got = vec![9, 9];
        encode_control(&c, DFlags::OURS, &mut w, &mut got).unwrap();
        assert_eq!(w.sequence, 42);
        let frames = packets(&got[2..]);
        assert_eq!(frames.len(), 3);
        let first = &frames[0][18..];
        let used = RecvAtomCache::default()
            .read(first[0], &first[1..])
            .unwrap();
        assert!(first[0] > 0, "references to hello, a, b and the node");
        let mut body = first[1 + used..].to_vec();
        for f in &frames[1..] {
            body.extend_from_slice(&f[18..]);
        }
        assert_eq!(&got[2..], &cut(&first[..1 + used], &body, 42)[..]);
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

    /// A large binary that ends a fragmented message (the message itself,
    /// or the last element of `{'$gen_call', From, Bin}`) is reassembled in
    /// a buffer reserved for exactly its length, which becomes the binary.
    #[test]
    fn a_binary_ending_a_fragmented_message_is_its_own_buffer() {
        let len = 3 * FRAGMENT_SIZE + 5;
        let call = crate::term!({(crate::term::atom("$gen_call")), {(Term::Pid(Pid {
            node: Atom::from("a@h"),
            id: 7,
            serial: 0,
            creation: 1,
        })), x}, (binary(vec![3u8; len]))});
        for m in [binary(vec![3u8; len]), call] {
            let c = send("a@h", m);
            for flags in [DFlags::OURS, DFlags::OURS & !DFlags::DIST_HDR_ATOM_CACHE] {
                let (frames, back) = roundtrip(&c, flags);
                assert_eq!(frames, 4);
                assert_eq!(back, c);
                let Control::Send { msg, .. } = back else {
                    unreachable!()
                };
                let bin = match &msg {
                    Term::Binary(b) => b,
                    Term::Tuple(t) => match &t.elements[2] {
                        Term::Binary(b) => b,
                        _ => unreachable!(),
                    },
                    _ => unreachable!(),
                };
                assert_eq!(bin.bytes.capacity(), len, "reserved once, never moved");
            }
        }
    }

    /// A binary that claims fewer bytes than its fragments bring: the
    /// message is decoded from the bytes put together, and the bytes past
    /// the binary are an error, as for a message in one packet.
    #[test]
    fn a_binary_shorter_than_its_fragments_is_an_error() {
        let mut body = Vec::new();
        let (ctrl, _) = send("a@h", crate::term!(x)).to_terms(DFlags::OURS);
        term::encode_body(&ctrl, &mut body).unwrap();
        body.push(109);
        body.extend(70_000u32.to_be_bytes());
        body.extend(vec![1u8; 60_000]);
        let l = Limits::default();
        let mut d = Defragmenter::default();
        assert_eq!(
            d.decode_packet(&first_fragment(1, 2, &body), &l).unwrap(),
            None
        );
        let last = next_fragment(1, 1, &[2u8; 20_000]);
        assert!(matches!(
            d.decode_packet(&last, &l),
            Err(FrameError::Trailing(10_000))
        ));
        assert_eq!(d.total, 0);
        assert_eq!(d.reserved, 0);
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
            encode_control(&c, DFlags::OURS, &mut FrameWriter::default(), &mut out).unwrap();
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
            Err(FrameError::AtomCache(AtomCacheError::Truncated))
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

    /// A vectored encoding, its slices joined, is the copied encoding byte
    /// for byte, with and without fragments and the atom cache, one
    /// writer's messages in a row; the large binaries stay out of the
    /// buffer.
    #[test]
    fn vectored_encoding_is_the_copied_one_without_the_binaries() {
        use crate::term::binary;
        for flags in [
            DFlags::OURS,
            DFlags::OURS & !DFlags::DIST_HDR_ATOM_CACHE,
            DFlags::OURS & !DFlags::FRAGMENTS,
            DFlags::OURS & !DFlags::FRAGMENTS & !DFlags::DIST_HDR_ATOM_CACHE,
        ] {
            let (mut copied, mut vectored) = (FrameWriter::default(), FrameWriter::default());
            for size in [
                10,
                1023,
                1024,
                5000,
                FRAGMENT_SIZE - 40,
                FRAGMENT_SIZE,
                FRAGMENT_SIZE + 1,
                3 * FRAGMENT_SIZE + 7,
            ] {
                let big = || binary(vec![(size % 251) as u8; size]);
                let msgs = [
                    send("t@h", big()),
                    send("t@h", crate::term!({tag, (big()), [a, (big())], (big())})),
                    Control::RegSend {
                        from: Pid {
                            node: Atom::from("f@h"),
                            id: 2,
                            serial: 0,
                            creation: 1,
                        },
                        name: Atom::from("reg"),
                        msg: crate::term!({(big()), done}),
                    },
                ];
                for c in &msgs {
                    let (mut a, mut b, mut ext) = (Vec::new(), Vec::new(), Vec::new());
                    encode_control(c, flags, &mut copied, &mut a).unwrap();
                    encode_control_vectored(c, flags, &mut vectored, &mut b, &mut ext).unwrap();
                    let joined: Vec<u8> = io_slices(&b, &ext)
                        .iter()
                        .flat_map(|s| s.iter().copied())
                        .collect();
                    assert_eq!(joined, a, "{size} bytes, {flags:?}");
                    let header = flags.contains(DFlags::FRAGMENTS)
                        || flags.contains(DFlags::DIST_HDR_ATOM_CACHE);
                    if size >= 1024 && header {
                        assert!(b.len() + size <= a.len(), "{size} bytes copied, {flags:?}");
                    } else {
                        assert!(ext.is_empty());
                    }
                }
            }
        }
    }

    /// Reads `stream` in `chunk`-byte reads as the connection's reader
    /// does: complete packets from the reader's buffer, the rest of a
    /// fragment with at least `min` bytes to come straight into its
    /// message's buffer. The messages, and how many fragments went direct.
    fn read_direct(
        stream: &[u8],
        chunk: usize,
        min: usize,
        defrag: &mut Defragmenter,
    ) -> (Vec<Result<Control, FrameError>>, usize) {
        let limits = Limits::default();
        let mut reader = FrameReader::default();
        let (mut pos, mut out, mut direct) = (0, Vec::new(), 0);
        loop {
            while let Some(p) = reader.next_packet().unwrap() {
                if let Packet::Data(d) = p {
                    match defrag.decode_packet(d, &limits) {
                        Ok(Some(c)) => out.push(Ok(c)),
                        Ok(None) => {}
                        Err(e) => out.push(Err(e)),
                    }
                }
            }
            let d = reader
                .partial()
                .filter(|(head, len)| len - head.len() >= min)
                .and_then(|(head, len)| defrag.direct(head, len, &limits));
            if let Some(d) = d {
                reader.take_partial();
                direct += 1;
                let mut left = d.remaining();
                while left > 0 {
                    let n = left.min(chunk).min(stream.len() - pos);
                    assert!(n > 0, "the stream ended within a fragment");
                    let buf = defrag.direct_buffer(&d).unwrap();
                    buf.extend_from_slice(&stream[pos..pos + n]);
                    pos += n;
                    left -= n;
                }
                match defrag.direct_done(d, &limits) {
                    Ok(Some(c)) => out.push(Ok(c)),
                    Ok(None) => {}
                    Err(e) => out.push(Err(e)),
                }
                continue;
            }
            if pos == stream.len() {
                return (out, direct);
            }
            let n = chunk.min(stream.len() - pos);
            reader.buffer().extend_from_slice(&stream[pos..pos + n]);
            pos += n;
        }
    }

    /// Fragments read straight into their message's buffer give the same
    /// messages as fragments read through the reader's buffer, whatever
    /// the reads' sizes; with the atom cache, binaries that end the
    /// message or not, and small messages in between.
    #[test]
    fn fragments_read_direct_give_the_same_messages() {
        use crate::term::binary;
        let big = |n: usize| binary((0..n).map(|i| (i % 253) as u8).collect::<Vec<u8>>());
        let from = Term::Pid(Pid {
            node: Atom::from("f@h"),
            id: 3,
            serial: 0,
            creation: 1,
        });
        let msgs = vec![
            send("t@h", big(65536)),
            send("t@h", crate::term!({x, y})),
            send(
                "t@h",
                crate::term!({:"$gen_call", {(from), tag}, (big(200_000))}),
            ),
            send("t@h", big(FRAGMENT_SIZE * 3 + 5)),
            send("t@h", crate::term!([(big(100_000)), tail])),
            send("t@h", big(10)),
        ];
        let mut w = FrameWriter::default();
        let mut stream = Vec::new();
        for m in &msgs {
            encode_control(m, DFlags::OURS, &mut w, &mut stream).unwrap();
        }
        for chunk in [7, 1000, 4096, 70_000, 1 << 20] {
            for min in [1, 16 * 1024] {
                let (out, direct) = read_direct(&stream, chunk, min, &mut Defragmenter::default());
                let out: Vec<Control> = out.into_iter().map(Result::unwrap).collect();
                assert_eq!(out, msgs, "reads of {chunk}, direct from {min}");
                if chunk < 70_000 {
                    assert!(direct > 0, "reads of {chunk}: nothing went direct");
                }
            }
        }
    }

    /// A direct read counts against the reassembly limit like any other:
    /// past it, the fragment goes the ordinary way and fails there.
    #[test]
    fn direct_reads_keep_the_reassembly_limit() {
        use crate::term::binary;
        let mut stream = Vec::new();
        let m = send("t@h", binary(vec![1u8; 300_000]));
        encode_control(&m, DFlags::OURS, &mut FrameWriter::default(), &mut stream).unwrap();
        let mut defrag = Defragmenter::default().with_limit(100_000);
        let (out, _) = read_direct(&stream, 1000, 1, &mut defrag);
        // The first error; the connection closes over it.
        assert!(
            matches!(
                out.first(),
                Some(Err(FrameError::ReassemblyTooLarge { limit: 100_000 }))
            ),
            "{out:?}"
        );
    }
}
