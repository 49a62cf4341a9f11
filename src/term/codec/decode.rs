//! The decoder: one pass over a byte slice with a cursor and an explicit
//! stack of open containers, so nesting costs heap (bounded by
//! [`Limits::max_depth`](super::Limits)) instead of native stack.
//!
//! Two invariants keep hostile input from costing more than it weighs:
//!
//! * `pending` counts the values that open containers still expect and
//!   that have not started yet. Each needs at least one byte, so a header
//!   is refused as soon as `pending` would exceed the bytes left. The sum
//!   of all `Vec::with_capacity` calls in flight is therefore bounded by
//!   the input length.
//! * Every other length is checked against the bytes left before use.
//!
//! Decoded terms are canonical: an integer that fits in 32 bits is a
//! `FixInteger`, a proper list of 1..=65535 small integers in 0..=255 is a
//! `ByteList`, a list tail that is itself a list is spliced in, a
//! `LIST_EXT` of zero elements is its tail, and a bitstring of whole bytes
//! is a `Binary`. So `decode(encode(t))` gives back `t` for every decoded
//! `t`, and `encode` of it gives back the same bytes. (Compare maps whose
//! keys hold maps through their encodings: see the module docs of
//! [`codec`](super) on eetf's map hashing.)

use super::canon::{duplicate_keys, eetf_eq_unreliable, finish_list};
use super::error::DecodeError;
use super::tags::*;
use crate::term::{
    Atom, BigInteger, Binary, BitBinary, ByteList, ExternalFun, FixInteger, Float, InternalFun,
    List, Map, Pid, Port, Reference, Term, Tuple,
};
use num_bigint::{BigInt, Sign};
use num_traits::ToPrimitive;
use std::collections::HashMap;

/// A container whose elements are still being decoded.
enum Frame {
    /// `LIST_EXT`: `left` elements to go, then the tail.
    List {
        elems: Vec<Term>,
        left: usize,
    },
    Tuple {
        elems: Vec<Term>,
        left: usize,
    },
    /// `left` pairs to go; `key` holds a key waiting for its value.
    /// `recheck` is set once a key holds a term whose eetf equality is not
    /// Erlang's (see `canon::eetf_eq_unreliable`): the keys are then
    /// checked again in map-key order once all are in.
    Map {
        at: usize,
        map: HashMap<Term, Term>,
        key: Option<Term>,
        left: usize,
        recheck: bool,
    },
    /// A fun's free variables.
    Fun {
        head: Box<FunHead>,
        vars: Vec<Term>,
        left: usize,
    },
    /// A finished container about to be popped.
    Spent,
}

/// The fixed fields of a `NEW_FUN_EXT`, read before its free variables.
struct FunHead {
    at: usize,
    size_at: usize,
    size: u32,
    arity: u8,
    uniq: [u8; 16],
    index: u32,
    module: Atom,
    old_index: i32,
    old_uniq: i32,
    pid: Pid,
}

/// What reading one value's head produced.
enum Step {
    Value(Term),
    Open(Frame),
}

/// The atoms a distribution header's atom cache references stand for:
/// reference `i` is `slots[refs[i]]` (the connection's atom cache and the
/// cache indices the header names, so that nothing is copied per message).
#[derive(Debug, Clone, Copy, Default)]
pub struct AtomTable<'a> {
    slots: &'a [Option<Atom>],
    refs: &'a [u16],
}

/// `0, 1, 2 ... 254`: the references of a table whose slots are its atoms.
static IN_ORDER: [u16; 255] = {
    let mut a = [0u16; 255];
    let mut i = 0;
    while i < 255 {
        a[i] = i as u16;
        i += 1;
    }
    a
};

impl<'a> AtomTable<'a> {
    /// Reference `i` is `slots[refs[i]]`.
    pub fn new(slots: &'a [Option<Atom>], refs: &'a [u16]) -> Self {
        Self { slots, refs }
    }

    /// Reference `i` is `atoms[i]` (at most 255 of them).
    pub fn in_order(atoms: &'a [Option<Atom>]) -> Self {
        let n = atoms.len().min(IN_ORDER.len());
        Self {
            slots: &atoms[..n],
            refs: &IN_ORDER[..n],
        }
    }

    /// Whether there are no references.
    pub fn is_empty(&self) -> bool {
        self.refs.is_empty()
    }

    /// The atom of reference `i`.
    pub fn get(&self, i: u8) -> Option<&'a Atom> {
        let slot = *self.refs.get(usize::from(i))?;
        self.slots.get(usize::from(slot))?.as_ref()
    }
}

/// Decodes one term starting at `pos` in `buf`.
pub(crate) struct Decoder<'a> {
    buf: &'a [u8],
    pos: usize,
    max_depth: usize,
    pending: usize,
    /// With [`Decoder::leave_tail_binary`]: the smallest binary left in
    /// place, and where the one left starts.
    tail_min: Option<usize>,
    tail_at: Option<usize>,
    /// With [`Decoder::detached_tail`]: the length of the binary whose
    /// bytes are not in the buffer.
    detached: Option<usize>,
    /// The atoms `ATOM_CACHE_REF`s point to (a distribution header's
    /// references, in order); empty outside the distribution.
    atoms: AtomTable<'a>,
}

impl<'a> Decoder<'a> {
    /// A decoder for the term at `pos` (its tag, not a version byte).
    pub(crate) fn new(buf: &'a [u8], pos: usize, max_depth: usize) -> Self {
        Self {
            buf,
            pos,
            max_depth,
            pending: 0,
            tail_min: None,
            tail_at: None,
            detached: None,
            atoms: AtomTable::default(),
        }
    }

    /// `ATOM_CACHE_REF` index `i` is `atoms[i]` (a distribution header's
    /// references); without this every `ATOM_CACHE_REF` is refused.
    pub(crate) fn with_atoms(mut self, atoms: AtomTable<'a>) -> Self {
        self.atoms = atoms;
        self
    }

    /// A `BINARY_EXT` of at least `min` bytes that ends the buffer is not
    /// copied: it is decoded as an empty binary, and [`Decoder::run_tail`]
    /// says where its bytes start, for a caller that owns the buffer to
    /// move them in instead.
    pub(crate) fn leave_tail_binary(mut self, min: usize) -> Self {
        self.tail_min = Some(min);
        self
    }

    /// The buffer ends with the header of a `BINARY_EXT` of `len` bytes
    /// whose bytes the caller holds elsewhere: it is decoded as an empty
    /// binary, and [`Decoder::run_tail`] says it was (the buffer's end).
    pub(crate) fn detached_tail(mut self, len: usize) -> Self {
        self.detached = Some(len);
        self
    }

    /// [`Decoder::run`], and where the binary left in place starts.
    pub(crate) fn run_tail(mut self) -> Result<(Term, usize, Option<usize>), DecodeError> {
        let (t, end) = self.run_mut()?;
        Ok((t, end, self.tail_at))
    }

    /// Decodes the term; returns it and the offset just past it.
    pub(crate) fn run(mut self) -> Result<(Term, usize), DecodeError> {
        self.run_mut()
    }

    fn run_mut(&mut self) -> Result<(Term, usize), DecodeError> {
        let mut stack: Vec<Frame> = Vec::new();
        'values: loop {
            if !stack.is_empty() {
                // This value fills one slot its parent asked for.
                self.pending = self.pending.saturating_sub(1);
            }
            let mut value = match self.head(stack.len())? {
                Step::Value(t) => t,
                Step::Open(frame) => {
                    stack.push(frame);
                    continue;
                }
            };
            while let Some(top) = stack.last_mut() {
                match top.accept(value, self.pos)? {
                    None => continue 'values,
                    Some(done) => {
                        stack.pop();
                        value = done;
                    }
                }
            }
            return Ok((value, self.pos));
        }
    }

    fn remaining(&self) -> usize {
        self.buf.len().saturating_sub(self.pos)
    }

    fn take(&mut self, n: usize, what: &'static str) -> Result<&'a [u8], DecodeError> {
        let end = self.pos.checked_add(n);
        match end.and_then(|end| self.buf.get(self.pos..end)) {
            Some(bytes) => {
                self.pos += n;
                Ok(bytes)
            }
            None => Err(DecodeError::Truncated {
                offset: self.pos,
                what,
                needed: n,
                remaining: self.remaining(),
            }),
        }
    }

    fn array<const N: usize>(&mut self, what: &'static str) -> Result<[u8; N], DecodeError> {
        let bytes = self.take(N, what)?;
        let mut out = [0; N];
        out.copy_from_slice(bytes);
        Ok(out)
    }

    fn u8(&mut self, what: &'static str) -> Result<u8, DecodeError> {
        Ok(self.array::<1>(what)?[0])
    }

    fn u16(&mut self, what: &'static str) -> Result<u16, DecodeError> {
        Ok(u16::from_be_bytes(self.array(what)?))
    }

    fn u32(&mut self, what: &'static str) -> Result<u32, DecodeError> {
        Ok(u32::from_be_bytes(self.array(what)?))
    }

    fn u64(&mut self, what: &'static str) -> Result<u64, DecodeError> {
        Ok(u64::from_be_bytes(self.array(what)?))
    }

    /// Reserves `slots` values (each at least one byte) for a container
    /// claiming `claimed` units; refuses before anything is allocated.
    fn claim(
        &mut self,
        at: usize,
        tag: u8,
        claimed: u64,
        slots: u64,
        unit: &'static str,
    ) -> Result<(), DecodeError> {
        let available = self.remaining().saturating_sub(self.pending) as u64;
        if slots > available {
            return Err(DecodeError::LengthExceedsInput {
                offset: at,
                tag_name: tag_name(tag),
                claimed,
                unit,
                remaining: self.remaining(),
                promised: self.pending,
            });
        }
        // `slots <= available <= usize::MAX`, so this cannot truncate.
        self.pending += slots as usize;
        Ok(())
    }

    fn check_depth(&self, at: usize, depth: usize) -> Result<(), DecodeError> {
        if depth >= self.max_depth {
            return Err(DecodeError::TooDeep {
                offset: at,
                max_depth: self.max_depth,
            });
        }
        Ok(())
    }

    /// Reads one value's head. Scalars come back whole; containers with
    /// elements come back as a frame to push.
    fn head(&mut self, depth: usize) -> Result<Step, DecodeError> {
        loop {
            let at = self.pos;
            let tag = self.u8("a tag")?;
            let term = match tag {
                SMALL_INTEGER_EXT => int(i32::from(self.u8("SMALL_INTEGER_EXT")?)),
                INTEGER_EXT => int(i32::from_be_bytes(self.array("INTEGER_EXT")?)),
                SMALL_BIG_EXT => {
                    let n = self.u8("SMALL_BIG_EXT length")?;
                    self.big(at, usize::from(n))?
                }
                LARGE_BIG_EXT => {
                    let n = self.u32("LARGE_BIG_EXT length")?;
                    self.big(at, n as usize)?
                }
                NEW_FLOAT_EXT => {
                    let value = f64::from_bits(self.u64("NEW_FLOAT_EXT")?);
                    finite(value, at)?
                }
                FLOAT_EXT => self.old_float(at)?,
                ATOM_EXT | SMALL_ATOM_EXT | ATOM_UTF8_EXT | SMALL_ATOM_UTF8_EXT => {
                    Term::Atom(self.atom_body(at, tag)?)
                }
                ATOM_CACHE_REF if !self.atoms.is_empty() => Term::Atom(self.cached_atom(at)?),
                NIL_EXT => Term::List(List::nil()),
                STRING_EXT => {
                    let n = self.u16("STRING_EXT length")?;
                    let bytes = self.take(usize::from(n), "STRING_EXT bytes")?;
                    if bytes.is_empty() {
                        Term::List(List::nil())
                    } else {
                        Term::ByteList(ByteList::from(bytes.to_vec()))
                    }
                }
                BINARY_EXT => {
                    let n = self.u32("BINARY_EXT length")?;
                    let start = self.pos;
                    if self.detached == Some(n as usize) && start == self.buf.len() {
                        self.tail_at = Some(start);
                        return Ok(Step::Value(Term::Binary(Binary::from(Vec::new()))));
                    }
                    let bytes = self.take(n as usize, "BINARY_EXT bytes")?;
                    if self.tail_min.is_some_and(|min| bytes.len() >= min)
                        && self.pos == self.buf.len()
                    {
                        self.tail_at = Some(start);
                        Term::Binary(Binary::from(Vec::new()))
                    } else {
                        Term::Binary(Binary::from(bytes))
                    }
                }
                BIT_BINARY_EXT => self.bit_binary(at)?,
                SMALL_TUPLE_EXT => {
                    let n = self.u8("SMALL_TUPLE_EXT arity")?;
                    return self.tuple(at, tag, usize::from(n), depth);
                }
                LARGE_TUPLE_EXT => {
                    let n = self.u32("LARGE_TUPLE_EXT arity")?;
                    return self.tuple(at, tag, n as usize, depth);
                }
                LIST_EXT => {
                    let n = self.u32("LIST_EXT length")?;
                    if n == 0 {
                        // `[] ++ Tail`: the value is the tail itself.
                        continue;
                    }
                    self.check_depth(at, depth)?;
                    self.claim(at, tag, u64::from(n), u64::from(n) + 1, "elements")?;
                    return Ok(Step::Open(Frame::List {
                        elems: Vec::with_capacity(n as usize),
                        left: n as usize,
                    }));
                }
                MAP_EXT => {
                    let n = self.u32("MAP_EXT arity")?;
                    if n == 0 {
                        Term::Map(Map {
                            map: HashMap::new(),
                        })
                    } else {
                        self.check_depth(at, depth)?;
                        self.claim(at, tag, u64::from(n), 2 * u64::from(n), "pairs")?;
                        return Ok(Step::Open(Frame::Map {
                            at,
                            map: HashMap::with_capacity(n as usize),
                            key: None,
                            left: n as usize,
                            recheck: false,
                        }));
                    }
                }
                PID_EXT | NEW_PID_EXT => Term::Pid(self.pid_body(tag)?),
                PORT_EXT | NEW_PORT_EXT | V4_PORT_EXT => Term::Port(self.port_body(tag)?),
                REFERENCE_EXT | NEW_REFERENCE_EXT | NEWER_REFERENCE_EXT => {
                    Term::Reference(Box::new(self.reference_body(at, tag)?))
                }
                EXPORT_EXT => Term::ExternalFun(Box::new(self.export_body()?)),
                NEW_FUN_EXT => return self.fun(at, tag, depth),
                _ => return Err(refused(at, tag)),
            };
            return Ok(Step::Value(term));
        }
    }

    fn tuple(&mut self, at: usize, tag: u8, n: usize, depth: usize) -> Result<Step, DecodeError> {
        if n == 0 {
            return Ok(Step::Value(Term::Tuple(Tuple::nil())));
        }
        self.check_depth(at, depth)?;
        self.claim(at, tag, n as u64, n as u64, "elements")?;
        Ok(Step::Open(Frame::Tuple {
            elems: Vec::with_capacity(n),
            left: n,
        }))
    }

    fn big(&mut self, at: usize, n: usize) -> Result<Term, DecodeError> {
        let sign = self.u8("bignum sign")?;
        let sign = match sign {
            0 => Sign::Plus,
            1 => Sign::Minus,
            _ => return Err(DecodeError::BadBigSign { offset: at, sign }),
        };
        let digits = self.take(n, "bignum digits")?;
        let value = BigInt::from_bytes_le(sign, digits);
        Ok(match value.to_i32() {
            Some(small) => int(small),
            None => Term::BigInteger(BigInteger { value }),
        })
    }

    /// `FLOAT_EXT`: 31 bytes of `"%.20e"` text, NUL padded.
    fn old_float(&mut self, at: usize) -> Result<Term, DecodeError> {
        let raw = self.take(31, "FLOAT_EXT text")?;
        let text = raw.split(|&b| b == 0).next().unwrap_or_default();
        let value = std::str::from_utf8(text)
            .ok()
            .filter(|s| {
                s.bytes()
                    .all(|b| b.is_ascii_digit() || b"+-.eE".contains(&b))
            })
            .and_then(|s| s.parse::<f64>().ok())
            .ok_or(DecodeError::BadFloatText { offset: at })?;
        finite(value, at)
    }

    fn bit_binary(&mut self, at: usize) -> Result<Term, DecodeError> {
        let len = self.u32("BIT_BINARY_EXT length")? as usize;
        let bits = self.u8("BIT_BINARY_EXT bits")?;
        let data = self.take(len, "BIT_BINARY_EXT bytes")?;
        match (data.split_last(), bits) {
            // BEAM: `<<>>` is written with 0 bits; 8 bits is a whole byte.
            (None, 0) => Ok(Term::Binary(Binary::from(Vec::new()))),
            (Some(_), 8) => Ok(Term::Binary(Binary::from(data))),
            (Some((&last, init)), 1..=7) => {
                // eetf keeps the used bits right-aligned; the unused low
                // bits on the wire are dropped (BEAM zeroes them too).
                let mut bytes = Vec::with_capacity(len);
                bytes.extend_from_slice(init);
                bytes.push(last >> (8 - bits));
                Ok(Term::BitBinary(BitBinary::from((bytes, bits))))
            }
            _ => Err(DecodeError::BadBitCount {
                offset: at,
                bits,
                len,
            }),
        }
    }

    /// The body of an atom whose tag is already read.
    fn atom_body(&mut self, at: usize, tag: u8) -> Result<Atom, DecodeError> {
        let len = match tag {
            ATOM_EXT | ATOM_UTF8_EXT => usize::from(self.u16("atom length")?),
            _ => usize::from(self.u8("atom length")?),
        };
        let bytes = self.take(len, "atom text")?;
        let name = if tag == ATOM_EXT || tag == SMALL_ATOM_EXT {
            // Latin-1: one byte per character.
            if len > MAX_ATOM_CHARS {
                return Err(DecodeError::AtomTooLong {
                    offset: at,
                    chars: len,
                });
            }
            bytes.iter().map(|&b| char::from(b)).collect()
        } else {
            let text =
                std::str::from_utf8(bytes).map_err(|_| DecodeError::InvalidUtf8 { offset: at })?;
            if len > MAX_ATOM_CHARS {
                let chars = text.chars().count();
                if chars > MAX_ATOM_CHARS {
                    return Err(DecodeError::AtomTooLong { offset: at, chars });
                }
            }
            text.to_owned()
        };
        Ok(Atom { name })
    }

    /// The atom an `ATOM_CACHE_REF` (tag already read) points to.
    fn cached_atom(&mut self, at: usize) -> Result<Atom, DecodeError> {
        let i = self.u8("atom cache reference index")?;
        self.atoms
            .get(i)
            .cloned()
            .ok_or(DecodeError::UnsupportedTag {
                offset: at,
                tag: ATOM_CACHE_REF,
                tag_name: tag_name(ATOM_CACHE_REF),
                why: "its index is past the distribution header's atom cache references",
            })
    }

    /// An atom field of a pid, port, reference or fun.
    fn atom(&mut self, expected: &'static str) -> Result<Atom, DecodeError> {
        let at = self.pos;
        let tag = self.u8("an atom tag")?;
        match tag {
            ATOM_EXT | SMALL_ATOM_EXT | ATOM_UTF8_EXT | SMALL_ATOM_UTF8_EXT => {
                self.atom_body(at, tag)
            }
            ATOM_CACHE_REF if !self.atoms.is_empty() => self.cached_atom(at),
            ATOM_CACHE_REF => Err(refused(at, tag)),
            _ => Err(unexpected(at, tag, expected)),
        }
    }

    /// A small-integer field (`SMALL_INTEGER_EXT` or `INTEGER_EXT`).
    fn int_field(&mut self, expected: &'static str) -> Result<(usize, i32), DecodeError> {
        let at = self.pos;
        match self.u8("an integer tag")? {
            SMALL_INTEGER_EXT => Ok((at, i32::from(self.u8(expected)?))),
            INTEGER_EXT => Ok((at, i32::from_be_bytes(self.array(expected)?))),
            tag => Err(unexpected(at, tag, expected)),
        }
    }

    fn pid_field(&mut self) -> Result<Pid, DecodeError> {
        let at = self.pos;
        match self.u8("a pid tag")? {
            tag @ (PID_EXT | NEW_PID_EXT) => self.pid_body(tag),
            tag => Err(unexpected(at, tag, "a pid (fun creator)")),
        }
    }

    fn pid_body(&mut self, tag: u8) -> Result<Pid, DecodeError> {
        let node = self.atom("an atom (pid node name)")?;
        let id = self.u32("pid id")?;
        let serial = self.u32("pid serial")?;
        let creation = self.creation(tag == PID_EXT)?;
        Ok(Pid {
            node,
            id,
            serial,
            creation,
        })
    }

    fn creation(&mut self, old: bool) -> Result<u32, DecodeError> {
        if old {
            Ok(u32::from(self.u8("creation")?))
        } else {
            self.u32("creation")
        }
    }

    fn port_body(&mut self, tag: u8) -> Result<Port, DecodeError> {
        let node = self.atom("an atom (port node name)")?;
        let id = if tag == V4_PORT_EXT {
            self.u64("port id")?
        } else {
            u64::from(self.u32("port id")?)
        };
        let creation = self.creation(tag == PORT_EXT)?;
        Ok(Port { node, id, creation })
    }

    fn reference_body(&mut self, at: usize, tag: u8) -> Result<Reference, DecodeError> {
        if tag == REFERENCE_EXT {
            let node = self.atom("an atom (reference node name)")?;
            let id = vec![self.u32("reference id")?];
            let creation = self.creation(true)?;
            return Ok(Reference { node, id, creation });
        }
        let words = usize::from(self.u16("reference length")?);
        // BEAM accepts an empty NEWER_REFERENCE_EXT but not an empty
        // NEW_REFERENCE_EXT (checked on OTP 25).
        let min = usize::from(tag == NEW_REFERENCE_EXT);
        if words < min || words > MAX_REF_WORDS {
            return Err(DecodeError::BadReferenceLength {
                offset: at,
                tag_name: tag_name(tag),
                words,
                min,
            });
        }
        let node = self.atom("an atom (reference node name)")?;
        let creation = self.creation(tag == NEW_REFERENCE_EXT)?;
        let raw = self.take(4 * words, "reference id words")?;
        let id = raw
            .chunks_exact(4)
            .map(|w| u32::from_be_bytes([w[0], w[1], w[2], w[3]]))
            .collect();
        Ok(Reference { node, id, creation })
    }

    fn export_body(&mut self) -> Result<ExternalFun, DecodeError> {
        let module = self.atom("an atom (EXPORT_EXT module)")?;
        let function = self.atom("an atom (EXPORT_EXT function)")?;
        let (at, arity) = self.int_field("an integer (EXPORT_EXT arity)")?;
        let arity = u8::try_from(arity).map_err(|_| DecodeError::IntegerOutOfRange {
            offset: at,
            what: "EXPORT_EXT arity",
            value: arity.to_string(),
        })?;
        Ok(ExternalFun {
            module,
            function,
            arity,
        })
    }

    /// `NEW_FUN_EXT` (the only fun format OTP 23 and later decode).
    fn fun(&mut self, at: usize, tag: u8, depth: usize) -> Result<Step, DecodeError> {
        let size_at = self.pos;
        let size = self.u32("NEW_FUN_EXT size")?;
        if size as usize > self.buf.len().saturating_sub(size_at) {
            return Err(DecodeError::LengthExceedsInput {
                offset: at,
                tag_name: tag_name(tag),
                claimed: u64::from(size),
                unit: "bytes",
                remaining: self.buf.len().saturating_sub(size_at),
                promised: self.pending,
            });
        }
        let arity = self.u8("NEW_FUN_EXT arity")?;
        let uniq = self.array::<16>("NEW_FUN_EXT uniq")?;
        let index = self.u32("NEW_FUN_EXT index")?;
        let num_free = self.u32("NEW_FUN_EXT free variable count")?;
        let module = self.atom("an atom (fun module)")?;
        let (_, old_index) = self.int_field("an integer (fun old index)")?;
        let (_, old_uniq) = self.int_field("an integer (fun old uniq)")?;
        let pid = self.pid_field()?;
        let head = FunHead {
            at,
            size_at,
            size,
            arity,
            uniq,
            index,
            module,
            old_index,
            old_uniq,
            pid,
        };
        if num_free == 0 {
            return Ok(Step::Value(head.finish(Vec::new(), self.pos)?));
        }
        self.check_depth(at, depth)?;
        let n = u64::from(num_free);
        self.claim(at, tag, n, n, "free variables")?;
        Ok(Step::Open(Frame::Fun {
            head: Box::new(head),
            vars: Vec::with_capacity(num_free as usize),
            left: num_free as usize,
        }))
    }
}

impl Frame {
    /// Adds a decoded element; returns the finished container once the
    /// last one is in (leaving `Spent` behind, to be popped).
    fn accept(&mut self, value: Term, pos: usize) -> Result<Option<Term>, DecodeError> {
        let complete = match self {
            Self::List { elems, left } => {
                if *left == 0 {
                    let elems = std::mem::take(elems);
                    *self = Self::Spent;
                    return Ok(Some(finish_list(elems, value)));
                }
                elems.push(value);
                *left -= 1;
                false
            }
            Self::Tuple { elems, left }
            | Self::Fun {
                vars: elems, left, ..
            } => {
                elems.push(value);
                *left -= 1;
                *left == 0
            }
            Self::Map {
                at,
                map,
                key,
                left,
                recheck,
            } => match key.take() {
                None => {
                    *key = Some(value);
                    false
                }
                Some(k) => {
                    *recheck = *recheck || eetf_eq_unreliable(&k);
                    if map.insert(k, value).is_some() {
                        return Err(DecodeError::DuplicateMapKey {
                            offset: *at,
                            pair_end: pos,
                        });
                    }
                    *left -= 1;
                    if *left == 0 && *recheck && duplicate_keys(map) {
                        return Err(DecodeError::DuplicateMapKey {
                            offset: *at,
                            pair_end: pos,
                        });
                    }
                    *left == 0
                }
            },
            Self::Spent => false,
        };
        if !complete {
            return Ok(None);
        }
        Ok(Some(match std::mem::replace(self, Self::Spent) {
            Self::Tuple { elems, .. } => Term::Tuple(Tuple::from(elems)),
            Self::Map { map, .. } => Term::Map(Map { map }),
            Self::Fun { head, vars, .. } => head.finish(vars, pos)?,
            Self::List { .. } | Self::Spent => return Ok(None),
        }))
    }
}

impl FunHead {
    fn finish(self, free_vars: Vec<Term>, pos: usize) -> Result<Term, DecodeError> {
        // BEAM ignores `Size`; we insist on it being right.
        let actual = pos.saturating_sub(self.size_at);
        if actual != self.size as usize {
            return Err(DecodeError::FunSizeMismatch {
                offset: self.at,
                declared: self.size,
                actual,
            });
        }
        Ok(Term::InternalFun(Box::new(InternalFun::New {
            module: self.module,
            arity: self.arity,
            pid: self.pid,
            free_vars,
            index: self.index,
            uniq: self.uniq,
            old_index: self.old_index,
            old_uniq: self.old_uniq,
        })))
    }
}

pub(super) fn int(value: i32) -> Term {
    Term::FixInteger(FixInteger { value })
}

fn finite(value: f64, at: usize) -> Result<Term, DecodeError> {
    if value.is_finite() {
        Ok(Term::Float(Float { value }))
    } else {
        Err(DecodeError::NonFiniteFloat { offset: at })
    }
}

fn unexpected(at: usize, tag: u8, expected: &'static str) -> DecodeError {
    DecodeError::UnexpectedTag {
        offset: at,
        tag,
        tag_name: tag_name(tag),
        expected,
    }
}

/// The error for a tag that cannot start a value here.
pub(crate) fn refused(at: usize, tag: u8) -> DecodeError {
    let why = match tag {
        DIST_HEADER | DIST_FRAG_HEADER => "distribution headers are read by the dist layer",
        ATOM_CACHE_REF => "atom cache references are resolved by the dist layer",
        COMPRESSED => "a compressed term may only be the whole term",
        LOCAL_EXT => "local encodings are only valid inside the node that made them",
        // binary_to_term/1 refuses every FUN_EXT on OTP 25, 27 and 29.
        FUN_EXT => "the pre-OTP 23 fun format, which OTP 23 and later refuse",
        VERSION => "a version byte may only start the whole term",
        _ => return DecodeError::UnknownTag { offset: at, tag },
    };
    DecodeError::UnsupportedTag {
        offset: at,
        tag,
        tag_name: tag_name(tag),
        why,
    }
}
