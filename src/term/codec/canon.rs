//! Canonical forms the decoder builds, so that every decoded term has
//! exactly one encoding (see `decode.rs`).

use super::decode::int;
use super::tags::MAX_STRING_EXT;
use crate::term::order::cmp_map_keys;
use crate::term::{ByteList, ImproperList, List, Term};
use std::collections::HashMap;

/// Whether eetf's `==`/`Hash` on `t` may disagree with Erlang's exact
/// equality, so that a `HashMap` cannot be trusted to spot a repeated map
/// key equal to `t`:
///
/// * a map: eetf hashes a `Map` by iterating its `HashMap`, whose order
///   differs between equal maps;
/// * a local fun: Erlang ignores its creator pid, MD5 `uniq`, arity and
///   old index (see `order.rs`), eetf compares them;
/// * a reference: Erlang pads a shorter id with zero words (`[1]` and
///   `[1, 0]` are the same reference), eetf compares the vectors.
///
/// Everything else the decoder builds is canonical (see `decode.rs`), so
/// eetf's equality is Erlang's `=:=` there.
pub(super) fn eetf_eq_unreliable(t: &Term) -> bool {
    match t {
        Term::Map(_) | Term::InternalFun(_) | Term::Reference(_) => return true,
        Term::Tuple(_) | Term::List(_) | Term::ImproperList(_) => {}
        // Atoms, numbers, binaries, pids...: the common keys, no walk.
        _ => return false,
    }
    let mut stack = vec![t];
    while let Some(t) = stack.pop() {
        match t {
            Term::Map(_) | Term::InternalFun(_) | Term::Reference(_) => return true,
            Term::Tuple(x) => stack.extend(&x.elements),
            Term::List(x) => stack.extend(&x.elements),
            Term::ImproperList(x) => {
                stack.extend(&x.elements);
                stack.push(&x.last);
            }
            _ => {}
        }
    }
    false
}

/// Whether two keys of `map` are equal in map-key order (the check BEAM
/// makes: `binary_to_term/1` refuses a map with two keys that compare
/// equal), for maps where hashing cannot be trusted.
pub(super) fn duplicate_keys(map: &HashMap<Term, Term>) -> bool {
    let mut keys: Vec<&Term> = map.keys().collect();
    keys.sort_unstable_by(|a, b| cmp_map_keys(a, b));
    keys.windows(2).any(|w| cmp_map_keys(w[0], w[1]).is_eq())
}

/// Builds a list from its elements and tail, in canonical form.
pub(super) fn finish_list(mut elems: Vec<Term>, tail: Term) -> Term {
    match tail {
        Term::List(rest) => {
            elems.extend(rest.elements);
            proper_list(elems)
        }
        Term::ByteList(rest) => {
            elems.extend(rest.bytes.into_iter().map(|b| int(i32::from(b))));
            proper_list(elems)
        }
        Term::ImproperList(rest) => {
            elems.extend(rest.elements);
            Term::ImproperList(ImproperList {
                elements: elems,
                last: rest.last,
            })
        }
        last => Term::ImproperList(ImproperList {
            elements: elems,
            last: Box::new(last),
        }),
    }
}

/// A proper list; a `ByteList` when `STRING_EXT` could carry it.
fn proper_list(elems: Vec<Term>) -> Term {
    let is_byte = |t: &Term| matches!(t, Term::FixInteger(i) if (0..=255).contains(&i.value));
    if !elems.is_empty() && elems.len() <= MAX_STRING_EXT && elems.iter().all(is_byte) {
        let bytes = elems
            .iter()
            .filter_map(|t| match t {
                Term::FixInteger(i) => u8::try_from(i.value).ok(),
                _ => None,
            })
            .collect::<Vec<u8>>();
        return Term::ByteList(ByteList::from(bytes));
    }
    Term::List(List::from(elems))
}
