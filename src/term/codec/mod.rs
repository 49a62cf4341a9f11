//! External term format (ETF) codec, hardened against untrusted input.
//!
//! Reference: `erts/doc/src/erl_ext_dist.md` ("External Term Format") and
//! `erts/emulator/beam/external.c` in OTP.
//!
//! ```text
//!  bytes from a peer                                   Term
//!  ─────────────────┐                            ┌──────────────
//!  131 | 80 size zlib ─► inflate (bounded) ─┐    │
//!  131 | tag ...  ──────────────────────────┴─► decode ─► canonical Term
//!  tag ... (after a dist header, no 131) ────┘  (iterative, depth- and
//!                                                length-checked)
//!  Term ─► encode (iterative, BEAM's choice of tags) ─► 131 | tag ...
//! ```
//!
//! The decoder never recurses, checks every length against the bytes left
//! before allocating, refuses nesting deeper than [`Limits::max_depth`],
//! and returns a [`DecodeError`] (with the byte offset) for anything BEAM
//! would refuse: it never panics and never aborts on any input. Decoded
//! terms are canonical (see `decode.rs`), so
//! `decode(&encode_to_vec(&t)?)? == t` for every decoded `t` (but see the
//! note on maps below). The encoder writes what BEAM writes (see
//! `encode.rs` for the table), so a term decoded from BEAM re-encodes to
//! the same bytes, except for the key order of maps over 32 keys.
//!
//! What this module does not do: distribution headers (tag 68), atom
//! cache references (82) and fragment headers (69; tag 70 in a term is
//! `NEW_FLOAT_EXT`) belong to the distribution layer and are refused
//! here; `LOCAL_EXT` (121) is refused as well.
//!
//! Choices where BEAM leaves room, checked against OTP 25, 27 and 29:
//!
//! * Bitstrings: eetf's [`BitBinary`](crate::term::BitBinary) keeps the
//!   used bits of the last byte right-aligned, so unused low bits on the
//!   wire cannot be kept; they are dropped, and re-encoding writes zeros,
//!   exactly as `term_to_binary(binary_to_term(B))` does in BEAM.
//!   `BIT_BINARY_EXT` with 8 bits decodes to a `Binary`; with 0 bits it is
//!   only accepted for empty data (as in BEAM).
//! * Bignum sign bytes other than 0/1 are refused (BEAM reads them as
//!   negative; no encoder writes them).
//! * A `NEW_FUN_EXT` whose `Size` field is wrong is refused (BEAM ignores
//!   the field).
//! * As in BEAM: `NEWER_REFERENCE_EXT` may carry 0..=5 id words,
//!   `NEW_REFERENCE_EXT` 1..=5; an `EXPORT_EXT` arity may be an
//!   `INTEGER_EXT` (0..=255); `LIST_EXT` of zero elements is its tail; a
//!   list tail that is a list is spliced in.
//! * Maps: two keys that compare equal are refused, as `binary_to_term/1`
//!   refuses them, so every decoded map has keys that are pairwise
//!   distinct in map-key order and encodes in exactly one order. Equal
//!   means Erlang's `=:=`, not eetf's `==`: local funs that differ only in
//!   creator pid, MD5 `uniq`, arity or old index are the same key, and so
//!   are references `[1]` and `[1, 0]` (refused by OTP 25, 27 and 29; see
//!   `canon.rs` for when the keys are re-checked in term order). Two keys
//!   that eetf's `Term` cannot tell apart but OTP 27+ can (`0.0` and
//!   `-0.0`) are reported as a duplicate too. `==` and `HashMap::get` on
//!   maps whose keys hold maps stay unreliable (eetf hashes a `Map` in
//!   `HashMap` iteration order), compare them with
//!   [`cmp_terms`](crate::term::cmp_terms) or through their encodings.
//! * `FUN_EXT` (tag 117, funs from before OTP 23) is refused, as OTP 25, 27
//!   and 29 refuse it; the encoder refuses `InternalFun::Old` likewise.
//! * Trailing bytes after the term are refused by [`decode`] (BEAM's
//!   `binary_to_term/1` ignores them) and inside compressed data.
//!
//! Fuzzing: `fuzz/fuzz_targets/etf.rs` checks decode → encode → decode;
//! `scripts/fuzz.sh etf` runs it from the repository root (see
//! `fuzz/README.md`).
//!
//! ```
//! use distro::term::{atom, decode, encode_to_vec, int, tuple};
//! let t = tuple(vec![atom("ok"), int(300)]);
//! let bytes = encode_to_vec(&t).unwrap();
//! // SMALL_TUPLE_EXT 2, SMALL_ATOM_UTF8_EXT "ok", INTEGER_EXT 300
//! assert_eq!(bytes, [131, 104, 2, 119, 2, b'o', b'k', 98, 0, 0, 1, 44]);
//! assert_eq!(decode(&bytes).unwrap(), t);
//! assert!(decode(&[131, 108, 255, 255, 255, 255]).is_err());
//! ```

mod canon;
mod decode;
mod encode;
mod error;
mod inflate;
mod tags;

pub use decode::AtomTable;
pub use encode::Field;
pub(crate) use encode::{AtomRefs, DistEncoding};
pub use error::{DecodeError, EncodeError};

use super::Term;

/// Limits applied while decoding untrusted bytes (and, for depth, while
/// encoding).
///
/// BEAM itself has neither limit. 1024 levels is far beyond what OTP's own
/// messages use (records, proplists, `$gen_call` envelopes nest a handful
/// of levels) while keeping a hostile packet's cost small. The codec keeps
/// its frames on the heap, but dropping, hashing or `==` on an eetf `Term`
/// recurses, so keep a custom limit in the low thousands. 64 MiB of
/// inflated data bounds what a few KiB of zlib can make us allocate; the
/// distribution protocol never compresses, so only `binary_to_term`-style
/// uses meet compressed terms at all.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Maximum nesting depth of containers: non-empty lists, improper
    /// lists, tuples and maps, funs with free variables, and the
    /// compressed wrapper each count as one level. Default 1024.
    pub max_depth: usize,
    /// Maximum uncompressed size a `COMPRESSED` term may declare, in bytes.
    /// Default 64 MiB.
    pub max_decompressed_size: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_depth: 1024,
            max_decompressed_size: 64 << 20,
        }
    }
}

/// Decodes one term that must fill `bytes` exactly (starting with the version byte 131).
pub fn decode(bytes: &[u8]) -> Result<Term, DecodeError> {
    let (t, n) = decode_prefix(bytes)?;
    if n != bytes.len() {
        return Err(DecodeError::TrailingBytes {
            offset: n,
            count: bytes.len() - n,
        });
    }
    Ok(t)
}

/// Decodes one term (with version byte) at the front of `bytes`; returns it and the bytes consumed.
pub fn decode_prefix(bytes: &[u8]) -> Result<(Term, usize), DecodeError> {
    decode_prefix_with(bytes, true, &Limits::default())
}

/// Decodes one term at the front of `bytes`. `with_version` tells whether
/// the term starts with the version byte 131 (terms after a distribution
/// header do not).
pub fn decode_prefix_with(
    bytes: &[u8],
    with_version: bool,
    limits: &Limits,
) -> Result<(Term, usize), DecodeError> {
    let mut pos = 0;
    if with_version {
        match bytes.first() {
            Some(&tags::VERSION) => pos = 1,
            Some(&found) => return Err(DecodeError::BadVersion { offset: 0, found }),
            None => {
                return Err(DecodeError::Truncated {
                    offset: 0,
                    what: "the version byte",
                    needed: 1,
                    remaining: 0,
                });
            }
        }
    }
    if bytes.get(pos) == Some(&tags::COMPRESSED) {
        return inflate::decode_compressed(bytes, pos, limits);
    }
    decode::Decoder::new(bytes, pos, limits.max_depth).run()
}

/// Decodes one term (no version byte) at the front of `bytes`, as it
/// follows a distribution header: `ATOM_CACHE_REF` index `i` stands for
/// `atoms[i]`, the header's atom cache references in order. With no
/// `atoms` this is [`decode_prefix_with`] without a version byte.
pub fn decode_dist_prefix(
    bytes: &[u8],
    atoms: AtomTable<'_>,
    limits: &Limits,
) -> Result<(Term, usize), DecodeError> {
    if atoms.is_empty() || bytes.first() == Some(&tags::COMPRESSED) {
        return decode_prefix_with(bytes, false, limits);
    }
    decode::Decoder::new(bytes, 0, limits.max_depth)
        .with_atoms(atoms)
        .run()
}

/// Decodes the term (no version byte) that starts at `start` and ends
/// `bytes`, moving a binary of at least `min` bytes that ends `bytes` into
/// the term instead of copying it: the bytes before it are shifted out of
/// the vector, which becomes the binary. For a message reassembled from
/// fragments (a call carrying 10 MiB) the buffer it was reassembled in
/// becomes the binary. Decodes as [`decode_dist_prefix`] does otherwise
/// (`atoms` are the distribution header's atom cache references); bytes
/// after the term are an error.
pub fn decode_owned_with(
    mut bytes: Vec<u8>,
    start: usize,
    min: usize,
    atoms: AtomTable<'_>,
    limits: &Limits,
) -> Result<Term, DecodeError> {
    let len = bytes.len();
    let copying = |bytes: &[u8]| {
        let (t, n) = decode_dist_prefix(bytes.get(start..).unwrap_or_default(), atoms, limits)?;
        trailing(t, start + n, len)
    };
    if bytes.get(start) == Some(&tags::COMPRESSED) {
        return copying(&bytes);
    }
    let (mut t, n, tail) = decode::Decoder::new(&bytes, start, limits.max_depth)
        .with_atoms(atoms)
        .leave_tail_binary(min)
        .run_tail()?;
    let Some(at) = tail else {
        return trailing(t, n, len);
    };
    match rightmost_leaf(&mut t) {
        Some(Term::Binary(b)) if b.bytes.is_empty() => {
            bytes.drain(..at);
            b.bytes = bytes;
            Ok(t)
        }
        // The binary sits where the rightmost leaf cannot be told (in a
        // map): decode again, copying.
        _ => copying(&bytes),
    }
}

/// Decodes the term (no version byte) that `head` holds but for the bytes
/// of the binary that ends it, which are `tail` (as many as the binary's
/// header in `head` says): `tail` is moved into the term (left empty).
/// `None`, with `tail` untouched, when `head` is not such a term (decode
/// the bytes put together instead, for the term or the error).
pub fn decode_detached(
    head: &[u8],
    tail: &mut Vec<u8>,
    atoms: AtomTable<'_>,
    limits: &Limits,
) -> Option<Term> {
    if head.first() == Some(&tags::COMPRESSED) {
        return None;
    }
    let (mut t, n, at) = decode::Decoder::new(head, 0, limits.max_depth)
        .with_atoms(atoms)
        .detached_tail(tail.len())
        .run_tail()
        .ok()?;
    if n != head.len() || at != Some(head.len()) {
        return None;
    }
    match rightmost_leaf(&mut t) {
        Some(Term::Binary(b)) if b.bytes.is_empty() => {
            b.bytes = std::mem::take(tail);
            Some(t)
        }
        _ => None,
    }
}

fn trailing(t: Term, n: usize, len: usize) -> Result<Term, DecodeError> {
    if n == len {
        Ok(t)
    } else {
        Err(DecodeError::TrailingBytes {
            offset: n,
            count: len - n,
        })
    }
}

/// The term whose encoding comes last in `t`'s: the last element of a
/// tuple, the tail of an improper list, recursively (`None` past a map or
/// a proper list, whose encodings end otherwise or in an order not kept).
fn rightmost_leaf(t: &mut Term) -> Option<&mut Term> {
    let mut t = t;
    loop {
        t = match t {
            Term::Tuple(x) => x.elements.last_mut()?,
            Term::ImproperList(l) => &mut l.last,
            Term::Binary(_) => return Some(t),
            _ => return None,
        };
    }
}

/// Appends `131` and the encoding of `term` to `out`.
pub fn encode(term: &Term, out: &mut Vec<u8>) -> Result<(), EncodeError> {
    encode_with(term, out, &Limits::default())
}

/// Like [`encode`], with the nesting limit taken from `limits`. On error
/// `out` is left as it was.
pub fn encode_with(term: &Term, out: &mut Vec<u8>, limits: &Limits) -> Result<(), EncodeError> {
    out.push(tags::VERSION);
    let result = encode::encode_term(term, out, limits.max_depth);
    if result.is_err() {
        out.pop();
    }
    result
}

/// Appends the encoding of `term` without the version byte.
pub fn encode_body(term: &Term, out: &mut Vec<u8>) -> Result<(), EncodeError> {
    encode::encode_term(term, out, Limits::default().max_depth)
}

/// Appends the encoding of the tuple of `fields` without the version
/// byte: the bytes [`encode_body`] writes for the tuple term of the same
/// elements, without building that term.
pub fn encode_tuple_body(fields: &[Field<'_>], out: &mut Vec<u8>) -> Result<(), EncodeError> {
    encode::encode_tuple(fields, out, Limits::default().max_depth)
}

/// Appends a distribution message's terms without version bytes: the
/// control tuple (its `fields`, or a built tuple), then `msg`, atoms
/// through the connection's atom cache and large binaries left out (see
/// [`DistEncoding`]). On error `out` is left as it was.
pub(crate) fn encode_dist<'a>(
    ctrl: Result<&[Field<'a>], &'a Term>,
    msg: Option<&'a Term>,
    out: &mut Vec<u8>,
    dist: DistEncoding<'_, 'a>,
) -> Result<(), EncodeError> {
    encode::encode_dist(ctrl, msg, out, dist, Limits::default().max_depth)
}

/// Encodes `term` with the version byte into a new vector.
pub fn encode_to_vec(term: &Term) -> Result<Vec<u8>, EncodeError> {
    let mut v = Vec::with_capacity(64);
    encode(term, &mut v)?;
    Ok(v)
}

#[cfg(test)]
mod codec_test;
#[cfg(test)]
mod corpus_test;
#[cfg(test)]
mod robust_test;
