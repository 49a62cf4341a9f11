//! Erlang term order (`<`, `lists:sort/1`), needed wherever OTP compares
//! node names, pids or global names.
//!
//! TEMPORARY: atoms only.

use super::{Atom, Term};
use std::cmp::Ordering;

/// Compares two atoms as Erlang does (by their characters).
pub fn cmp_atoms(a: &Atom, b: &Atom) -> Ordering {
    a.name.chars().cmp(b.name.chars())
}

/// Compares two terms in Erlang term order.
pub fn cmp_terms(a: &Term, b: &Term) -> Ordering {
    match (a, b) {
        (Term::Atom(x), Term::Atom(y)) => cmp_atoms(x, y),
        _ => format!("{a}").cmp(&format!("{b}")),
    }
}
