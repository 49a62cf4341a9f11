//! External term format (ETF) codec, hardened against untrusted input.
//!
//! TEMPORARY: delegates to eetf; the hardened implementation replaces this.

use super::Term;

/// Limits applied while decoding untrusted bytes.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Maximum nesting depth of containers (lists, tuples, maps, funs' free variables).
    pub max_depth: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self { max_depth: 1024 }
    }
}

/// A decoding failure.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct DecodeError(pub String);

/// An encoding failure.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct EncodeError(pub String);

/// Decodes one term that must fill `bytes` exactly (starting with the version byte 131).
pub fn decode(bytes: &[u8]) -> Result<Term, DecodeError> {
    let (t, n) = decode_prefix(bytes)?;
    if n != bytes.len() {
        return Err(DecodeError(format!("{} trailing bytes", bytes.len() - n)));
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
    _limits: &Limits,
) -> Result<(Term, usize), DecodeError> {
    let owned;
    let input: &[u8] = if with_version {
        bytes
    } else {
        let mut v = vec![131];
        v.extend_from_slice(bytes);
        owned = v;
        &owned
    };
    let mut cur = std::io::Cursor::new(input);
    let t = Term::decode(&mut cur).map_err(|e| DecodeError(e.to_string()))?;
    let n = cur.position() as usize - usize::from(!with_version);
    Ok((t, n))
}

/// Appends `131` and the encoding of `term` to `out`.
pub fn encode(term: &Term, out: &mut Vec<u8>) -> Result<(), EncodeError> {
    term.encode(out).map_err(|e| EncodeError(e.to_string()))
}

/// Appends the encoding of `term` without the version byte.
pub fn encode_body(term: &Term, out: &mut Vec<u8>) -> Result<(), EncodeError> {
    let mut v = Vec::new();
    encode(term, &mut v)?;
    out.extend_from_slice(&v[1..]);
    Ok(())
}

/// Encodes `term` with the version byte into a new vector.
pub fn encode_to_vec(term: &Term) -> Result<Vec<u8>, EncodeError> {
    let mut v = Vec::new();
    encode(term, &mut v)?;
    Ok(v)
}
