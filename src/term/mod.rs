//! Erlang terms: the [`eetf`] term model, a hardened external-term-format
//! codec, builders and matchers, Erlang term order and printing, and the
//! Erlang term *text* parser used for `.config` files.
//!
//! The term model is `eetf`'s [`Term`]. Decoding untrusted bytes never goes
//! through `eetf`'s own decoder (it panics on some tags, aborts on huge length
//! fields and recurses without limit); use [`decode`] / [`decode_prefix`]
//! from [`codec`] instead.
//!
//! ```
//! use distro::term::{atom, int, tuple, TermExt};
//! let t = tuple(vec![atom("ok"), int(42)]);
//! let bytes = distro::term::encode_to_vec(&t).unwrap();
//! let back = distro::term::decode(&bytes).unwrap();
//! assert_eq!(back.tuple_tag(), Some("ok"));
//! assert_eq!(back.elem(1).and_then(|t| t.as_i64()), Some(42));
//! ```

pub mod codec;
mod display;
mod macros;
#[cfg(test)]
mod macros_test;
mod order;
pub mod text;

pub(crate) use codec::{AtomRefs, DistEncoding, encode_dist};
pub use codec::{
    AtomTable, DecodeError, EncodeError, Field, Limits, decode, decode_detached,
    decode_dist_prefix, decode_owned_with, decode_prefix, decode_prefix_with, encode, encode_body,
    encode_to_vec, encode_tuple_body,
};
pub use display::Pretty;
pub use eetf::{
    Atom, BigInteger, Binary, BitBinary, ByteList, ExternalFun, FixInteger, Float, ImproperList,
    InternalFun, List, Map, Pid, Port, Reference, Term, Tuple,
};
#[doc(hidden)]
pub use macros::__private;
pub use macros::{FromTerm, IntoTerm};
pub(crate) use order::cmp_map_keys;
pub use order::{cmp_atoms, cmp_pids, cmp_terms, exact_eq};

use num_bigint::BigInt;
use num_traits::ToPrimitive;

/// `atom("ok")` → the atom `ok`.
pub fn atom(name: &str) -> Term {
    Term::Atom(Atom::from(name))
}

/// An integer; uses the small representation when it fits in 32 bits.
pub fn int(value: i64) -> Term {
    match i32::try_from(value) {
        Ok(v) => Term::FixInteger(FixInteger::from(v)),
        Err(_) => Term::BigInteger(BigInteger::from(value)),
    }
}

/// An integer from a `u64`.
pub fn uint(value: u64) -> Term {
    match i32::try_from(value) {
        Ok(v) => Term::FixInteger(FixInteger::from(v)),
        Err(_) => Term::BigInteger(BigInteger::from(value)),
    }
}

/// A tuple.
pub fn tuple(elements: Vec<Term>) -> Term {
    Term::Tuple(Tuple::from(elements))
}

/// A proper list.
pub fn list(elements: Vec<Term>) -> Term {
    Term::List(List::from(elements))
}

/// The empty list `[]`.
pub fn nil() -> Term {
    Term::List(List::nil())
}

/// A binary.
pub fn binary(bytes: impl Into<Vec<u8>>) -> Term {
    Term::Binary(Binary::from(bytes.into()))
}

/// A charlist (an Erlang "string"), as `"abc"` is in Erlang source.
pub fn charlist(s: &str) -> Term {
    if s.chars().all(|c| (c as u32) < 256) && !s.is_empty() {
        Term::ByteList(ByteList::from(
            s.chars().map(|c| c as u32 as u8).collect::<Vec<u8>>(),
        ))
    } else {
        list(s.chars().map(|c| int(c as i64)).collect())
    }
}

/// `true` or `false`.
pub fn boolean(b: bool) -> Term {
    atom(if b { "true" } else { "false" })
}

/// An improper list `[H1, H2 | Tail]`.
pub fn improper_list(elements: Vec<Term>, tail: Term) -> Term {
    Term::ImproperList(ImproperList::from((elements, tail)))
}

/// A map from key/value pairs.
pub fn map(pairs: Vec<(Term, Term)>) -> Term {
    Term::Map(Map::from(
        pairs
            .into_iter()
            .collect::<std::collections::HashMap<_, _>>(),
    ))
}

/// Read-only views of a [`Term`], so that matching a message reads like a
/// pattern: `msg.tuple_tag() == Some("$gen_call")`.
pub trait TermExt {
    /// The atom's text.
    fn as_atom(&self) -> Option<&str>;
    /// The tuple's elements.
    fn as_tuple(&self) -> Option<&[Term]>;
    /// The tuple's first element when it is an atom: `{tag, ...}` → `"tag"`.
    fn tuple_tag(&self) -> Option<&str>;
    /// Element `i` (0-based) of a tuple.
    fn elem(&self, i: usize) -> Option<&Term>;
    /// Any integer that fits in an `i64`.
    fn as_i64(&self) -> Option<i64>;
    /// A pid.
    fn as_pid(&self) -> Option<&Pid>;
    /// A reference.
    fn as_reference(&self) -> Option<&Reference>;
    /// Elements of a proper list; a charlist is expanded to integers.
    fn as_list(&self) -> Option<std::borrow::Cow<'_, [Term]>>;
    /// `true` / `false`.
    fn as_bool(&self) -> Option<bool>;
    /// A charlist or a binary read as UTF-8 text.
    fn as_text(&self) -> Option<String>;
    /// Whether the term is `[]`.
    fn is_nil(&self) -> bool;
}

impl TermExt for Term {
    fn as_atom(&self) -> Option<&str> {
        match self {
            Self::Atom(a) => Some(&a.name),
            _ => None,
        }
    }

    fn as_tuple(&self) -> Option<&[Term]> {
        match self {
            Self::Tuple(t) => Some(&t.elements),
            _ => None,
        }
    }

    fn tuple_tag(&self) -> Option<&str> {
        self.as_tuple()?.first()?.as_atom()
    }

    fn elem(&self, i: usize) -> Option<&Term> {
        self.as_tuple()?.get(i)
    }

    fn as_i64(&self) -> Option<i64> {
        match self {
            Self::FixInteger(i) => Some(i64::from(i.value)),
            Self::BigInteger(b) => b.value.to_i64(),
            _ => None,
        }
    }

    fn as_pid(&self) -> Option<&Pid> {
        match self {
            Self::Pid(p) => Some(p),
            _ => None,
        }
    }

    fn as_reference(&self) -> Option<&Reference> {
        match self {
            Self::Reference(r) => Some(r),
            _ => None,
        }
    }

    fn as_list(&self) -> Option<std::borrow::Cow<'_, [Term]>> {
        match self {
            Self::List(l) => Some(std::borrow::Cow::Borrowed(&l.elements)),
            Self::ByteList(b) => Some(std::borrow::Cow::Owned(
                b.bytes.iter().map(|&c| int(i64::from(c))).collect(),
            )),
            _ => None,
        }
    }

    fn as_bool(&self) -> Option<bool> {
        match self.as_atom()? {
            "true" => Some(true),
            "false" => Some(false),
            _ => None,
        }
    }

    fn as_text(&self) -> Option<String> {
        match self {
            Self::Binary(b) => String::from_utf8(b.bytes.clone()).ok(),
            Self::ByteList(b) => Some(b.bytes.iter().map(|&c| c as char).collect()),
            Self::List(l) => l
                .elements
                .iter()
                .map(|e| {
                    e.as_i64()
                        .and_then(|c| u32::try_from(c).ok())
                        .and_then(char::from_u32)
                })
                .collect(),
            _ => None,
        }
    }

    fn is_nil(&self) -> bool {
        matches!(self, Self::List(l) if l.elements.is_empty())
    }
}

/// A big integer term from a [`BigInt`], normalised to the small form when it fits.
pub fn bigint(value: BigInt) -> Term {
    match value.to_i32() {
        Some(v) => Term::FixInteger(FixInteger::from(v)),
        None => Term::BigInteger(BigInteger { value }),
    }
}
