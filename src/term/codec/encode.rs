//! The encoder: an explicit work stack (no recursion), choosing the same
//! encoding BEAM's `term_to_binary/2` with `{minor_version, 2}` picks
//! wherever the format leaves a choice:
//!
//! | term                          | encoding                                   |
//! |-------------------------------|--------------------------------------------|
//! | integer 0..=255               | `SMALL_INTEGER_EXT`                        |
//! | other 32-bit integer          | `INTEGER_EXT`                              |
//! | larger integer                | `SMALL_BIG_EXT` / `LARGE_BIG_EXT`          |
//! | float                         | `NEW_FLOAT_EXT`                            |
//! | atom                          | `SMALL_ATOM_UTF8_EXT` / `ATOM_UTF8_EXT`    |
//! | `[]`                          | `NIL_EXT`                                  |
//! | proper list of 1..=65535 bytes| `STRING_EXT`                               |
//! | other list                    | `LIST_EXT`                                 |
//! | tuple                         | `SMALL_TUPLE_EXT` / `LARGE_TUPLE_EXT`      |
//! | map                           | `MAP_EXT`, keys in map-key order           |
//! | pid / reference               | `NEW_PID_EXT` / `NEWER_REFERENCE_EXT`      |
//! | port                          | `NEW_PORT_EXT`, `V4_PORT_EXT` if id > 32 bits |
//! | binary / bitstring            | `BINARY_EXT` / `BIT_BINARY_EXT`            |
//! | external / local fun          | `EXPORT_EXT` / `NEW_FUN_EXT` (an old fun is an error) |
//!
//! Maps are written with their keys sorted in map-key order, which is the
//! order BEAM writes maps of up to 32 keys in; for larger maps BEAM uses
//! its internal hash order, which we do not reproduce (the bytes differ,
//! the decoded map is the same). OTP 27+ writes every port as
//! `V4_PORT_EXT`; we keep the shorter `NEW_PORT_EXT` that OTP 25/26 write
//! and every OTP from 24 on reads.

use super::error::EncodeError;
use super::tags::*;
use crate::term::order::cmp_map_keys;
use crate::term::{
    Atom, BigInteger, BitBinary, ImproperList, InternalFun, List, Map, Pid, Reference, Term,
};
use num_bigint::Sign;
use num_traits::ToPrimitive;

/// A piece of work left on the stack.
enum Job<'a> {
    /// A term, with the number of containers around it.
    Term(&'a Term, usize),
    /// A list element taken from a `ByteList` spliced into a longer list.
    Byte(u8),
    /// The `NIL_EXT` that ends a proper list.
    Nil,
    /// Fill in the `Size` field of the `NEW_FUN_EXT` at this offset (the
    /// second number: bytes spilled before its fields were written).
    FunSize(usize, usize),
}

/// An element of a list being flattened.
#[derive(Clone, Copy)]
enum Elem<'a> {
    Term(&'a Term),
    Byte(u8),
}

/// Appends the encoding of `term` (no version byte) to `out`. On error,
/// `out` is left as it was.
pub(crate) fn encode_term(
    term: &Term,
    out: &mut Vec<u8>,
    max_depth: usize,
) -> Result<(), EncodeError> {
    let start = out.len();
    let result = Encoder::new(out, max_depth).run(term);
    if result.is_err() {
        out.truncate(start);
    }
    result
}

/// The distribution's atom cache, as an encoder sees it.
pub(crate) trait AtomRefs {
    /// The index among the current message's atom cache references that
    /// stands for the atom `text` (made one now if need be), or `None`
    /// to write the atom itself.
    fn reference(&mut self, text: &str) -> Option<u8>;
}

/// A binary left out of an encoding: its bytes belong at `at` in the
/// output, where its `BINARY_EXT` header ends.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Spilled<'a> {
    /// Offset in the output.
    pub(crate) at: usize,
    /// The binary's bytes.
    pub(crate) bytes: &'a [u8],
}

/// How a distribution message is encoded: atoms through the atom cache,
/// binaries of at least `spill_min` bytes listed instead of copied.
pub(crate) struct DistEncoding<'o, 'a> {
    /// The atom cache of the connection, if negotiated.
    pub(crate) atoms: Option<&'o mut dyn AtomRefs>,
    /// The binaries left out, in output order.
    pub(crate) spill: &'o mut Vec<Spilled<'a>>,
    /// The smallest binary left out.
    pub(crate) spill_min: usize,
}

/// Appends the encoding (no version byte) of the tuple of `fields`, then
/// of `msg`, the way `dist` says. On error `out` is left as it was (the
/// atom cache may hold references made for it).
pub(crate) fn encode_dist<'a>(
    fields: Result<&[Field<'a>], &'a Term>,
    msg: Option<&'a Term>,
    out: &mut Vec<u8>,
    dist: DistEncoding<'_, 'a>,
    max_depth: usize,
) -> Result<(), EncodeError> {
    let start = out.len();
    let spilled = dist.spill.len();
    let mut enc = Encoder {
        out,
        max_depth,
        atoms: dist.atoms.map(|a| a as &mut dyn AtomRefs),
        spill: Some(dist.spill),
        spill_min: dist.spill_min,
        spilled: 0,
    };
    let mut result = match fields {
        Ok(fields) => enc.tuple_fields(fields),
        Err(ctrl) => enc.run(ctrl),
    };
    if let (Ok(()), Some(msg)) = (&result, msg) {
        result = enc.run(msg);
    }
    if result.is_err() {
        if let Some(spill) = enc.spill {
            spill.truncate(spilled);
        }
        out.truncate(start);
    }
    result
}

/// One element of a tuple written by `encode_tuple`: a term, or a pid,
/// atom, reference or small integer encoded straight from its parts, so
/// that a distribution control tuple (`{22, From, To}`) is written without
/// building (and cloning into) a term first.
#[derive(Debug, Clone, Copy)]
pub enum Field<'a> {
    /// Any term.
    Term(&'a Term),
    /// A pid.
    Pid(&'a Pid),
    /// An atom, by its text.
    Atom(&'a str),
    /// A reference.
    Ref(&'a Reference),
    /// An integer.
    Int(i32),
}

/// Appends the encoding (no version byte) of the tuple of `fields` to
/// `out`; the same bytes as the tuple term of the same elements. On error
/// `out` is left as it was.
pub(crate) fn encode_tuple(
    fields: &[Field<'_>],
    out: &mut Vec<u8>,
    max_depth: usize,
) -> Result<(), EncodeError> {
    let start = out.len();
    let mut enc = Encoder::new(out, max_depth);
    let result = enc.tuple_fields(fields);
    if result.is_err() {
        out.truncate(start);
    }
    result
}

struct Encoder<'o, 'a> {
    out: &'o mut Vec<u8>,
    max_depth: usize,
    /// With the distribution's atom cache: where atoms are looked up.
    atoms: Option<&'o mut dyn AtomRefs>,
    /// Binaries of at least `spill_min` bytes are listed here, not written.
    spill: Option<&'o mut Vec<Spilled<'a>>>,
    spill_min: usize,
    /// Bytes left out so far (for a fun's `Size`).
    spilled: usize,
}

impl<'o, 'a> Encoder<'o, 'a> {
    fn new(out: &'o mut Vec<u8>, max_depth: usize) -> Self {
        Self {
            out,
            max_depth,
            atoms: None,
            spill: None,
            spill_min: usize::MAX,
            spilled: 0,
        }
    }

    fn run(&mut self, term: &'a Term) -> Result<(), EncodeError> {
        // A leaf (a binary, an atom, a pid...) needs no work stack: the
        // stack is allocated only once the root has children.
        let mut jobs = Vec::new();
        self.term(term, 0, &mut jobs)?;
        self.drain(jobs)
    }

    fn drain(&mut self, mut jobs: Vec<Job<'a>>) -> Result<(), EncodeError> {
        jobs.reserve(32);
        while let Some(job) = jobs.pop() {
            match job {
                Job::Term(t, depth) => self.term(t, depth, &mut jobs)?,
                Job::Byte(b) => self.small_int(b),
                Job::Nil => self.out.push(NIL_EXT),
                Job::FunSize(at, spilled) => self.patch_size(at, spilled)?,
            }
        }
        Ok(())
    }

    fn tuple_fields(&mut self, fields: &[Field<'a>]) -> Result<(), EncodeError> {
        match u8::try_from(fields.len()) {
            Ok(small) => self.out.extend_from_slice(&[SMALL_TUPLE_EXT, small]),
            Err(_) => {
                self.out.push(LARGE_TUPLE_EXT);
                self.len32(fields.len(), "tuple")?;
            }
        }
        for f in fields {
            match *f {
                Field::Term(t) => {
                    let inner = self.deeper(0)?;
                    let mut jobs = Vec::new();
                    self.term(t, inner, &mut jobs)?;
                    if !jobs.is_empty() {
                        self.drain(jobs)?;
                    }
                }
                Field::Pid(p) => self.pid(p)?,
                Field::Atom(a) => self.atom_text(a)?,
                Field::Ref(r) => self.reference(r)?,
                Field::Int(i) => self.int(i),
            }
        }
        Ok(())
    }

    /// Writes `t`'s head; pushes its children (last first).
    fn term(
        &mut self,
        t: &'a Term,
        depth: usize,
        jobs: &mut Vec<Job<'a>>,
    ) -> Result<(), EncodeError> {
        match t {
            Term::Atom(a) => self.atom(a)?,
            Term::FixInteger(i) => self.int(i.value),
            Term::BigInteger(b) => self.big(b)?,
            Term::Float(f) => {
                if !f.value.is_finite() {
                    return Err(EncodeError::NonFiniteFloat {
                        value: f.value.to_string(),
                    });
                }
                self.out.push(NEW_FLOAT_EXT);
                self.out.extend_from_slice(&f.value.to_bits().to_be_bytes());
            }
            Term::Pid(p) => self.pid(p)?,
            Term::Port(p) => {
                match u32::try_from(p.id) {
                    Ok(id) => {
                        self.out.push(NEW_PORT_EXT);
                        self.atom(&p.node)?;
                        self.out.extend_from_slice(&id.to_be_bytes());
                    }
                    Err(_) => {
                        self.out.push(V4_PORT_EXT);
                        self.atom(&p.node)?;
                        self.out.extend_from_slice(&p.id.to_be_bytes());
                    }
                }
                self.out.extend_from_slice(&p.creation.to_be_bytes());
            }
            Term::Reference(r) => self.reference(r)?,
            Term::ExternalFun(f) => {
                self.out.push(EXPORT_EXT);
                self.atom(&f.module)?;
                self.atom(&f.function)?;
                self.small_int(f.arity);
            }
            Term::InternalFun(f) => self.fun(f, depth, jobs)?,
            Term::Binary(b) => self.binary(&b.bytes)?,
            Term::BitBinary(b) => self.bit_binary(b)?,
            Term::ByteList(b) => self.byte_list(&b.bytes)?,
            Term::List(l) => self.list(l, depth, jobs)?,
            Term::ImproperList(l) => self.improper_list(l, depth, jobs)?,
            Term::Tuple(tuple) => {
                let n = tuple.elements.len();
                match u8::try_from(n) {
                    Ok(small) => self.out.extend_from_slice(&[SMALL_TUPLE_EXT, small]),
                    Err(_) => {
                        self.out.push(LARGE_TUPLE_EXT);
                        self.len32(n, "tuple")?;
                    }
                }
                self.children(&tuple.elements, depth, jobs)?;
            }
            Term::Map(m) => self.map(m, depth, jobs)?,
        }
        Ok(())
    }

    /// Pushes `elems` (first on top) one level below `depth`.
    fn children(
        &mut self,
        elems: &'a [Term],
        depth: usize,
        jobs: &mut Vec<Job<'a>>,
    ) -> Result<(), EncodeError> {
        if elems.is_empty() {
            return Ok(());
        }
        let inner = self.deeper(depth)?;
        jobs.extend(elems.iter().rev().map(|e| Job::Term(e, inner)));
        Ok(())
    }

    fn deeper(&self, depth: usize) -> Result<usize, EncodeError> {
        if depth >= self.max_depth {
            return Err(EncodeError::TooDeep {
                max_depth: self.max_depth,
            });
        }
        Ok(depth + 1)
    }

    fn len32(&mut self, n: usize, what: &'static str) -> Result<(), EncodeError> {
        let n = u32::try_from(n).map_err(|_| EncodeError::TooLarge { what, len: n })?;
        self.out.extend_from_slice(&n.to_be_bytes());
        Ok(())
    }

    fn atom(&mut self, atom: &Atom) -> Result<(), EncodeError> {
        self.atom_text(&atom.name)
    }

    fn atom_text(&mut self, text: &str) -> Result<(), EncodeError> {
        if let Some(i) = self.atoms.as_mut().and_then(|a| a.reference(text)) {
            self.out.extend_from_slice(&[ATOM_CACHE_REF, i]);
            return Ok(());
        }
        let name = text.as_bytes();
        // At most 4 bytes per character, so 255 characters fit in 1020 bytes.
        if name.len() > MAX_ATOM_CHARS {
            let chars = text.chars().count();
            if chars > MAX_ATOM_CHARS {
                return Err(EncodeError::AtomTooLong {
                    prefix: text.chars().take(32).collect(),
                    chars,
                });
            }
        }
        match u8::try_from(name.len()) {
            Ok(n) => self.out.extend_from_slice(&[SMALL_ATOM_UTF8_EXT, n]),
            Err(_) => {
                self.out.push(ATOM_UTF8_EXT);
                self.out
                    .extend_from_slice(&(name.len() as u16).to_be_bytes());
            }
        }
        self.out.extend_from_slice(name);
        Ok(())
    }

    fn small_int(&mut self, b: u8) {
        self.out.extend_from_slice(&[SMALL_INTEGER_EXT, b]);
    }

    fn int(&mut self, value: i32) {
        match u8::try_from(value) {
            Ok(b) => self.small_int(b),
            Err(_) => {
                self.out.push(INTEGER_EXT);
                self.out.extend_from_slice(&value.to_be_bytes());
            }
        }
    }

    fn big(&mut self, b: &BigInteger) -> Result<(), EncodeError> {
        if let Some(small) = b.value.to_i32() {
            self.int(small);
            return Ok(());
        }
        let (sign, digits) = b.value.to_bytes_le();
        match u8::try_from(digits.len()) {
            Ok(n) => self.out.extend_from_slice(&[SMALL_BIG_EXT, n]),
            Err(_) => {
                self.out.push(LARGE_BIG_EXT);
                self.len32(digits.len(), "bignum")?;
            }
        }
        self.out.push(u8::from(sign == Sign::Minus));
        self.out.extend_from_slice(&digits);
        Ok(())
    }

    fn reference(&mut self, r: &Reference) -> Result<(), EncodeError> {
        if r.id.len() > MAX_REF_WORDS {
            return Err(EncodeError::ReferenceTooLong { words: r.id.len() });
        }
        self.out.push(NEWER_REFERENCE_EXT);
        self.out
            .extend_from_slice(&(r.id.len() as u16).to_be_bytes());
        self.atom(&r.node)?;
        self.out.extend_from_slice(&r.creation.to_be_bytes());
        for word in &r.id {
            self.out.extend_from_slice(&word.to_be_bytes());
        }
        Ok(())
    }

    fn pid(&mut self, p: &Pid) -> Result<(), EncodeError> {
        self.out.push(NEW_PID_EXT);
        self.atom(&p.node)?;
        self.out.extend_from_slice(&p.id.to_be_bytes());
        self.out.extend_from_slice(&p.serial.to_be_bytes());
        self.out.extend_from_slice(&p.creation.to_be_bytes());
        Ok(())
    }

    fn fun(
        &mut self,
        f: &'a InternalFun,
        depth: usize,
        jobs: &mut Vec<Job<'a>>,
    ) -> Result<(), EncodeError> {
        match f {
            InternalFun::New {
                module,
                arity,
                pid,
                free_vars,
                index,
                uniq,
                old_index,
                old_uniq,
            } => {
                self.out.push(NEW_FUN_EXT);
                let size_at = self.out.len();
                self.out.extend_from_slice(&[0; 4]);
                self.out.push(*arity);
                self.out.extend_from_slice(uniq);
                self.out.extend_from_slice(&index.to_be_bytes());
                self.len32(free_vars.len(), "fun environment")?;
                self.atom(module)?;
                self.int(*old_index);
                self.int(*old_uniq);
                self.pid(pid)?;
                jobs.push(Job::FunSize(size_at, self.spilled));
                self.children(free_vars, depth, jobs)
            }
            // FUN_EXT: binary_to_term/1 refuses it on OTP 25, 27 and 29, and a
            // BEAM peer would drop the connection over it.
            InternalFun::Old { .. } => Err(EncodeError::Unsupported {
                what: "an old-format fun (FUN_EXT)",
                why: "OTP 23 and later refuse it",
            }),
        }
    }

    fn patch_size(&mut self, at: usize, spilled: usize) -> Result<(), EncodeError> {
        let size = self.out.len() - at + (self.spilled - spilled);
        let size = u32::try_from(size).map_err(|_| EncodeError::TooLarge {
            what: "fun",
            len: size,
        })?;
        if let Some(field) = self.out.get_mut(at..at + 4) {
            field.copy_from_slice(&size.to_be_bytes());
        }
        Ok(())
    }

    fn binary(&mut self, bytes: &'a [u8]) -> Result<(), EncodeError> {
        self.out.push(BINARY_EXT);
        self.len32(bytes.len(), "binary")?;
        match &mut self.spill {
            Some(spill) if bytes.len() >= self.spill_min => {
                spill.push(Spilled {
                    at: self.out.len(),
                    bytes,
                });
                self.spilled += bytes.len();
            }
            _ => self.out.extend_from_slice(bytes),
        }
        Ok(())
    }

    /// eetf keeps the `tail_bits_size` used bits of the last byte
    /// right-aligned; the wire wants them left-aligned, unused bits zero.
    /// 8 tail bits is a plain binary; 0 means the last byte holds no bits.
    fn bit_binary(&mut self, b: &'a BitBinary) -> Result<(), EncodeError> {
        let bits = b.tail_bits_size;
        match (b.bytes.split_last(), bits) {
            (None, 0) => self.binary(&[]),
            (Some((_, init)), 0) => self.binary(init),
            (Some(_), 8) => self.binary(&b.bytes),
            (Some((&last, init)), 1..=7) => {
                self.out.push(BIT_BINARY_EXT);
                self.len32(b.bytes.len(), "bitstring")?;
                self.out.push(bits);
                self.out.extend_from_slice(init);
                self.out.push(last << (8 - bits));
                Ok(())
            }
            _ => Err(EncodeError::InvalidBitBinary {
                len: b.bytes.len(),
                tail_bits: bits,
            }),
        }
    }

    fn byte_list(&mut self, bytes: &[u8]) -> Result<(), EncodeError> {
        if bytes.is_empty() {
            self.out.push(NIL_EXT);
        } else if bytes.len() <= MAX_STRING_EXT {
            self.out.push(STRING_EXT);
            self.out
                .extend_from_slice(&(bytes.len() as u16).to_be_bytes());
            self.out.extend_from_slice(bytes);
        } else {
            self.out.push(LIST_EXT);
            self.len32(bytes.len(), "list")?;
            self.out.reserve(2 * bytes.len() + 1);
            for &b in bytes {
                self.small_int(b);
            }
            self.out.push(NIL_EXT);
        }
        Ok(())
    }

    fn list(
        &mut self,
        l: &'a List,
        depth: usize,
        jobs: &mut Vec<Job<'a>>,
    ) -> Result<(), EncodeError> {
        let elems = &l.elements;
        if elems.is_empty() {
            self.out.push(NIL_EXT);
            return Ok(());
        }
        if elems.len() <= MAX_STRING_EXT && elems.iter().all(|e| as_byte(e).is_some()) {
            self.out.push(STRING_EXT);
            self.out
                .extend_from_slice(&(elems.len() as u16).to_be_bytes());
            self.out.extend(elems.iter().filter_map(as_byte));
            return Ok(());
        }
        self.out.push(LIST_EXT);
        self.len32(elems.len(), "list")?;
        jobs.push(Job::Nil);
        self.children(elems, depth, jobs)
    }

    fn improper_list(
        &mut self,
        l: &'a ImproperList,
        depth: usize,
        jobs: &mut Vec<Job<'a>>,
    ) -> Result<(), EncodeError> {
        if !l.elements.is_empty() && !is_list(&l.last) {
            // The canonical shape: what BEAM and our decoder produce.
            self.out.push(LIST_EXT);
            self.len32(l.elements.len(), "list")?;
            let inner = self.deeper(depth)?;
            jobs.push(Job::Term(&l.last, inner));
            jobs.extend(l.elements.iter().rev().map(|e| Job::Term(e, inner)));
            return Ok(());
        }
        // A hand-built list whose tail is itself a list (or which has no
        // elements): write the list it stands for.
        let mut elems: Vec<Elem<'a>> = l.elements.iter().map(Elem::Term).collect();
        let mut tail = Some(&*l.last);
        while let Some(t) = tail {
            match t {
                Term::ImproperList(more) => {
                    elems.extend(more.elements.iter().map(Elem::Term));
                    tail = Some(&more.last);
                }
                Term::List(more) => {
                    elems.extend(more.elements.iter().map(Elem::Term));
                    tail = None;
                }
                Term::ByteList(more) => {
                    elems.extend(more.bytes.iter().map(|&b| Elem::Byte(b)));
                    tail = None;
                }
                _ => break,
            }
        }
        let byte = |e: &Elem<'_>| match e {
            Elem::Byte(b) => Some(*b),
            Elem::Term(t) => as_byte(t),
        };
        match tail {
            Some(last) if elems.is_empty() => jobs.push(Job::Term(last, depth)),
            None if elems.is_empty() => self.out.push(NIL_EXT),
            None if elems.len() <= MAX_STRING_EXT && elems.iter().all(|e| byte(e).is_some()) => {
                self.out.push(STRING_EXT);
                self.out
                    .extend_from_slice(&(elems.len() as u16).to_be_bytes());
                self.out.extend(elems.iter().filter_map(byte));
            }
            _ => {
                self.out.push(LIST_EXT);
                self.len32(elems.len(), "list")?;
                let inner = self.deeper(depth)?;
                jobs.push(match tail {
                    Some(last) => Job::Term(last, inner),
                    None => Job::Nil,
                });
                jobs.extend(elems.iter().rev().map(|e| match *e {
                    Elem::Term(t) => Job::Term(t, inner),
                    Elem::Byte(b) => Job::Byte(b),
                }));
            }
        }
        Ok(())
    }

    fn map(
        &mut self,
        m: &'a Map,
        depth: usize,
        jobs: &mut Vec<Job<'a>>,
    ) -> Result<(), EncodeError> {
        self.out.push(MAP_EXT);
        self.len32(m.map.len(), "map")?;
        if m.map.is_empty() {
            return Ok(());
        }
        let inner = self.deeper(depth)?;
        let mut pairs: Vec<(&'a Term, &'a Term)> = m.map.iter().collect();
        pairs.sort_unstable_by(|a, b| {
            cmp_map_keys(a.0, b.0)
                .then_with(|| tie_break(a.0, b.0))
                .then_with(|| tie_break(a.1, b.1))
        });
        for (k, v) in pairs.into_iter().rev() {
            jobs.push(Job::Term(v, inner));
            jobs.push(Job::Term(k, inner));
        }
        Ok(())
    }
}

/// The value of a list element that `STRING_EXT` can carry.
fn as_byte(t: &Term) -> Option<u8> {
    match t {
        Term::FixInteger(i) => u8::try_from(i.value).ok(),
        Term::BigInteger(b) => b.value.to_u8(),
        _ => None,
    }
}

fn is_list(t: &Term) -> bool {
    matches!(t, Term::List(_) | Term::ByteList(_) | Term::ImproperList(_))
}

/// Orders two distinct keys that Erlang considers equal (only possible in
/// hand-built maps, e.g. `"a"` as a `ByteList` and as a `List`; BEAM will
/// refuse such a map) by their encodings, then by their values', so that
/// the output does not depend on hash order.
fn tie_break(a: &Term, b: &Term) -> std::cmp::Ordering {
    let (mut x, mut y) = (Vec::new(), Vec::new());
    let limit = super::Limits::default().max_depth;
    let _ = encode_term(a, &mut x, limit);
    let _ = encode_term(b, &mut y, limit);
    x.cmp(&y)
}
