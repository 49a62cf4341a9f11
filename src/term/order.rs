//! Erlang term order (`<`, `lists:sort/1`), needed wherever OTP compares
//! node names, pids or global names.
//!
//! Reference: "Term Comparisons" in the Erlang reference manual, and
//! `erts_cmp` in `erts/emulator/beam/utils.c`. The rules below were
//! checked with `lists:sort/1` on OTP 25, 27 and 29 (see `order_test.rs`):
//!
//! ```text
//! number < atom < reference < fun < port < pid < tuple < map < nil < list < bitstring
//! ```
//!
//! * Numbers compare by exact mathematical value (`9007199254740993 >
//!   9007199254740992.0`); `1 == 1.0` compares equal.
//! * Atoms compare by characters (code points).
//! * Tuples by size, then element by element; lists element by element
//!   (a `STRING_EXT` list equals the same list of small integers), an
//!   improper tail compares as a term (`[a|b] < [a,b]`).
//! * Maps by size, then by their keys taken in map-key order, then by the
//!   values in that key order. Keys compare in *map-key order*, where every
//!   integer sorts before every float (`#{1 => a} < #{0.5 => a}`) and
//!   `-0.0 < 0.0` (OTP 27+).
//! * Bitstrings bit by bit, then shorter first (`<<1:3>> > <<1>>`).
//! * Pids: serial, then id, then node name, then creation.
//! * Ports: node name, then creation, then id.
//! * References: node name, then creation, then the id words, the last
//!   word most significant, a shorter id padded with zero words (so a
//!   one-word ref equals the same ref with two extra zero words, as
//!   `=:=` says in BEAM).
//! * Funs: local funs before external funs; external funs by module,
//!   function, arity; local funs by module, index, old uniq, free-variable
//!   count, then the free variables, as `erts_cmp` does on OTP 25 and 27.
//!   The creator pid, the MD5 `uniq`, the arity and the old index take no
//!   part: two funs that differ only there are equal (`<` and `>` are both
//!   false in BEAM, and a map holding both as keys is refused by
//!   `binary_to_term/1` on OTP 25, 27 and 29). OTP 29 ignores the old uniq
//!   as well, so this order is finer than 29's there.
//!
//! Comparison is iterative: any depth of nesting is fine.

use super::{Atom, InternalFun, Map, Pid, Port, Reference, Term};
use num_bigint::BigInt;
use num_traits::{FromPrimitive, ToPrimitive};
use std::cmp::Ordering;

/// Compares two atoms as Erlang does (by their characters).
pub fn cmp_atoms(a: &Atom, b: &Atom) -> Ordering {
    // UTF-8 byte order is code point order.
    a.name.as_bytes().cmp(b.name.as_bytes())
}

/// Compares two pids as ERTS does: serial, then id, then node name, then
/// creation (checked with `lists:sort/1` on OTP 25, 27 and 29). global's
/// lockers depend on it: both sides must build the same
/// `lists:sort([LockerA, LockerB])`.
pub fn cmp_pids(a: &Pid, b: &Pid) -> Ordering {
    a.serial
        .cmp(&b.serial)
        .then(a.id.cmp(&b.id))
        .then_with(|| cmp_atoms(&a.node, &b.node))
        .then(a.creation.cmp(&b.creation))
}

/// Compares two terms in Erlang term order (`1 == 1.0`).
pub fn cmp_terms(a: &Term, b: &Term) -> Ordering {
    compare(a, b, Mode::Arith)
}

/// Compares two terms in map-key order: like [`cmp_terms`], except that
/// integers sort before floats of any value and `-0.0 < 0.0`. This is the
/// order of keys in a `MAP_EXT` written by BEAM.
pub(crate) fn cmp_map_keys(a: &Term, b: &Term) -> Ordering {
    compare(a, b, Mode::Exact)
}

/// Erlang's `=:=`: exact equality (`1 =/= 1.0`), computed without
/// hashing, so maps whose keys are maps compare by content (eetf's `==`
/// hashes map keys in iteration order and can disagree).
pub fn exact_eq(a: &Term, b: &Term) -> bool {
    compare(a, b, Mode::Exact) == Ordering::Equal
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// `==` order: numbers by value.
    Arith,
    /// `=:=` / map-key order: integers before floats.
    Exact,
}

/// A number, borrowed.
#[derive(Clone, Copy)]
enum Num<'a> {
    Int(i64),
    Big(&'a BigInt),
    Float(f64),
}

/// The rest of a list: elements left in the current segment, then a tail.
#[derive(Clone, Copy)]
struct Cursor<'a> {
    seg: Seg<'a>,
    tail: Option<&'a Term>,
}

#[derive(Clone, Copy)]
enum Seg<'a> {
    Terms(&'a [Term]),
    Bytes(&'a [u8]),
}

/// A term, or a list element that only exists as a byte.
#[derive(Clone, Copy)]
enum View<'a> {
    Num(Num<'a>),
    Atom(&'a Atom),
    Ref(&'a Reference),
    Fun(&'a Term),
    Port(&'a Port),
    Pid(&'a Pid),
    Tuple(&'a [Term]),
    Map(&'a Map),
    Nil,
    /// A non-empty list.
    List(Cursor<'a>),
    /// Whole bytes, then the last byte's used bits left-aligned and their count (0..=7).
    Bits(&'a [u8], u8, u8),
}

/// Work left: compare two views, or the rest of two element sequences.
enum Work<'a> {
    Views(View<'a>, View<'a>, Mode),
    Seq(&'a [Term], &'a [Term], Mode),
}

fn compare(a: &Term, b: &Term, mode: Mode) -> Ordering {
    // Fast paths for the usual map keys and registered names.
    match (a, b) {
        (Term::Atom(x), Term::Atom(y)) => return cmp_atoms(x, y),
        (Term::FixInteger(x), Term::FixInteger(y)) => return x.value.cmp(&y.value),
        _ => {}
    }
    // `Vec::new` does not allocate: comparing scalars never touches the heap.
    let mut stack = Vec::new();
    let mut next = Some(Work::Views(view(a), view(b), mode));
    while let Some(work) = next.take().or_else(|| stack.pop()) {
        let ord = match work {
            Work::Views(x, y, mode) => step(x, y, mode, &mut stack),
            Work::Seq(xs, ys, mode) => match (xs.split_first(), ys.split_first()) {
                (Some((x, xs)), Some((y, ys))) => {
                    stack.push(Work::Seq(xs, ys, mode));
                    next = Some(Work::Views(view(x), view(y), mode));
                    Ordering::Equal
                }
                // Callers compare lengths first.
                _ => xs.len().cmp(&ys.len()),
            },
        };
        if ord != Ordering::Equal {
            return ord;
        }
    }
    Ordering::Equal
}

fn view(t: &Term) -> View<'_> {
    let mut t = t;
    loop {
        return match t {
            Term::FixInteger(i) => View::Num(Num::Int(i64::from(i.value))),
            Term::BigInteger(b) => View::Num(match b.value.to_i64() {
                Some(i) => Num::Int(i),
                None => Num::Big(&b.value),
            }),
            Term::Float(f) => View::Num(Num::Float(f.value)),
            Term::Atom(a) => View::Atom(a),
            Term::Reference(r) => View::Ref(r),
            Term::ExternalFun(_) | Term::InternalFun(_) => View::Fun(t),
            Term::Port(p) => View::Port(p),
            Term::Pid(p) => View::Pid(p),
            Term::Tuple(x) => View::Tuple(&x.elements),
            Term::Map(m) => View::Map(m),
            Term::List(l) => list_view(Seg::Terms(&l.elements), None),
            Term::ByteList(l) => list_view(Seg::Bytes(&l.bytes), None),
            Term::ImproperList(l) if l.elements.is_empty() => {
                // `[] ++ Tail` is just the tail.
                t = &l.last;
                continue;
            }
            Term::ImproperList(l) => list_view(Seg::Terms(&l.elements), Some(&l.last)),
            Term::Binary(b) => View::Bits(&b.bytes, 0, 0),
            Term::BitBinary(b) => match (b.bytes.split_last(), b.tail_bits_size) {
                (Some((&last, init)), bits @ 1..=7) => View::Bits(init, last << (8 - bits), bits),
                (Some((_, init)), 0) => View::Bits(init, 0, 0),
                _ => View::Bits(&b.bytes, 0, 0),
            },
        };
    }
}

/// The view of the list `seg ++ tail`, skipping empty segments.
fn list_view<'a>(seg: Seg<'a>, tail: Option<&'a Term>) -> View<'a> {
    let empty = match seg {
        Seg::Terms(s) => s.is_empty(),
        Seg::Bytes(s) => s.is_empty(),
    };
    match (empty, tail) {
        (false, _) => View::List(Cursor { seg, tail }),
        (true, None) => View::Nil,
        (true, Some(t)) => view(t),
    }
}

impl<'a> Cursor<'a> {
    /// Splits off the head element; returns it and the view of the rest.
    fn split(self) -> (View<'a>, View<'a>) {
        match self.seg {
            Seg::Terms([head, rest @ ..]) => (view(head), list_view(Seg::Terms(rest), self.tail)),
            Seg::Bytes([head, rest @ ..]) => (
                View::Num(Num::Int(i64::from(*head))),
                list_view(Seg::Bytes(rest), self.tail),
            ),
            _ => (View::Nil, View::Nil),
        }
    }
}

fn rank(v: &View<'_>) -> u8 {
    match v {
        View::Num(_) => 0,
        View::Atom(_) => 1,
        View::Ref(_) => 2,
        View::Fun(_) => 3,
        View::Port(_) => 4,
        View::Pid(_) => 5,
        View::Tuple(_) => 6,
        View::Map(_) => 7,
        View::Nil => 8,
        View::List(_) => 9,
        View::Bits(..) => 10,
    }
}

/// Compares two views; scalars give an answer, containers push work.
fn step<'a>(x: View<'a>, y: View<'a>, mode: Mode, stack: &mut Vec<Work<'a>>) -> Ordering {
    match (x, y) {
        (View::Num(a), View::Num(b)) => cmp_num(a, b, mode),
        (View::Atom(a), View::Atom(b)) => cmp_atoms(a, b),
        (View::Ref(a), View::Ref(b)) => cmp_refs(a, b),
        (View::Fun(a), View::Fun(b)) => cmp_funs(a, b, mode, stack),
        (View::Port(a), View::Port(b)) => cmp_atoms(&a.node, &b.node)
            .then(a.creation.cmp(&b.creation))
            .then(a.id.cmp(&b.id)),
        (View::Pid(a), View::Pid(b)) => cmp_pids(a, b),
        (View::Tuple(a), View::Tuple(b)) => {
            let ord = a.len().cmp(&b.len());
            if ord == Ordering::Equal {
                stack.push(Work::Seq(a, b, mode));
            }
            ord
        }
        (View::Map(a), View::Map(b)) => cmp_maps(a, b, mode, stack),
        (View::Nil, View::Nil) => Ordering::Equal,
        (View::List(a), View::List(b)) => {
            let (ha, ra) = a.split();
            let (hb, rb) = b.split();
            stack.push(Work::Views(ra, rb, mode));
            stack.push(Work::Views(ha, hb, mode));
            Ordering::Equal
        }
        (View::Bits(a, la, na), View::Bits(b, lb, nb)) => cmp_bits((a, la, na), (b, lb, nb)),
        (x, y) => rank(&x).cmp(&rank(&y)),
    }
}

fn cmp_num(a: Num<'_>, b: Num<'_>, mode: Mode) -> Ordering {
    match (a, b) {
        (Num::Int(a), Num::Int(b)) => a.cmp(&b),
        (Num::Int(_), Num::Big(b)) => sign_of(b).reverse(),
        (Num::Big(a), Num::Int(_)) => sign_of(a),
        (Num::Big(a), Num::Big(b)) => a.cmp(b),
        (Num::Float(a), Num::Float(b)) => match mode {
            Mode::Arith => a.partial_cmp(&b).unwrap_or_else(|| a.total_cmp(&b)),
            Mode::Exact => a.total_cmp(&b),
        },
        (_, Num::Float(_)) if mode == Mode::Exact => Ordering::Less,
        (Num::Float(_), _) if mode == Mode::Exact => Ordering::Greater,
        (int, Num::Float(f)) => cmp_int_float(int, f),
        (Num::Float(f), int) => cmp_int_float(int, f).reverse(),
    }
}

/// A `Big` never fits in an `i64`, so its sign decides against an `Int`.
fn sign_of(b: &BigInt) -> Ordering {
    b.sign().cmp(&num_bigint::Sign::NoSign)
}

/// Compares an integer with a float by exact value.
fn cmp_int_float(int: Num<'_>, f: f64) -> Ordering {
    const EXACT: i64 = 1 << 53;
    if let Num::Int(i) = int {
        if (-EXACT..=EXACT).contains(&i) {
            // Exactly representable: the float comparison is exact.
            return (i as f64).partial_cmp(&f).unwrap_or(Ordering::Equal);
        }
    }
    if f.is_infinite() {
        return if f > 0.0 {
            Ordering::Less
        } else {
            Ordering::Greater
        };
    }
    let floor = f.floor();
    let Some(whole) = BigInt::from_f64(floor) else {
        return Ordering::Equal;
    };
    let ord = match int {
        Num::Int(i) => BigInt::from(i).cmp(&whole),
        Num::Big(b) => b.cmp(&whole),
        Num::Float(_) => Ordering::Equal,
    };
    match ord {
        // `int == floor(f)`: `f` is larger if it has a fraction.
        Ordering::Equal if f > floor => Ordering::Less,
        ord => ord,
    }
}

fn cmp_refs(a: &Reference, b: &Reference) -> Ordering {
    cmp_atoms(&a.node, &b.node)
        .then(a.creation.cmp(&b.creation))
        .then_with(|| {
            let n = a.id.len().max(b.id.len());
            let word = |ids: &[u32], i: usize| ids.get(i).copied().unwrap_or(0);
            (0..n)
                .rev()
                .map(|i| word(&a.id, i).cmp(&word(&b.id, i)))
                .find(|o| o.is_ne())
                .unwrap_or(Ordering::Equal)
        })
}

fn cmp_funs<'a>(a: &'a Term, b: &'a Term, mode: Mode, stack: &mut Vec<Work<'a>>) -> Ordering {
    let (fa, fb) = match (a, b) {
        (Term::ExternalFun(x), Term::ExternalFun(y)) => {
            return cmp_atoms(&x.module, &y.module)
                .then_with(|| cmp_atoms(&x.function, &y.function))
                .then(x.arity.cmp(&y.arity));
        }
        (Term::InternalFun(_), Term::ExternalFun(_)) => return Ordering::Less,
        (Term::ExternalFun(_), Term::InternalFun(_)) => return Ordering::Greater,
        (Term::InternalFun(x), Term::InternalFun(y)) => (&**x, &**y),
        _ => return Ordering::Equal,
    };
    let ord = match (fa, fb) {
        // `erts_cmp`: module, index, old uniq (then the environment below).
        (
            InternalFun::New {
                module: ma,
                index: ia,
                old_uniq: oua,
                ..
            },
            InternalFun::New {
                module: mb,
                index: ib,
                old_uniq: oub,
                ..
            },
        ) => cmp_atoms(ma, mb).then(ia.cmp(ib)).then(oua.cmp(oub)),
        (
            InternalFun::Old {
                module: ma,
                index: ia,
                uniq: ua,
                ..
            },
            InternalFun::Old {
                module: mb,
                index: ib,
                uniq: ub,
                ..
            },
        ) => cmp_atoms(ma, mb).then(ia.cmp(ib)).then(ua.cmp(ub)),
        (InternalFun::Old { .. }, InternalFun::New { .. }) => Ordering::Less,
        (InternalFun::New { .. }, InternalFun::Old { .. }) => Ordering::Greater,
    };
    let (va, vb) = (free_vars(fa), free_vars(fb));
    let ord = ord.then(va.len().cmp(&vb.len()));
    if ord == Ordering::Equal {
        stack.push(Work::Seq(va, vb, mode));
    }
    ord
}

fn free_vars(f: &InternalFun) -> &[Term] {
    match f {
        InternalFun::New { free_vars, .. } | InternalFun::Old { free_vars, .. } => free_vars,
    }
}

fn cmp_maps<'a>(a: &'a Map, b: &'a Map, mode: Mode, stack: &mut Vec<Work<'a>>) -> Ordering {
    let ord = a.map.len().cmp(&b.map.len());
    if ord != Ordering::Equal {
        return ord;
    }
    let sorted = |m: &'a Map| {
        let mut pairs: Vec<(&'a Term, &'a Term)> = m.map.iter().collect();
        pairs.sort_unstable_by(|x, y| cmp_map_keys(x.0, y.0));
        pairs
    };
    let (pa, pb) = (sorted(a), sorted(b));
    // Values in key order (in the caller's mode) after all keys (exact).
    for (x, y) in pa.iter().zip(&pb).rev() {
        stack.push(Work::Views(view(x.1), view(y.1), mode));
    }
    for (x, y) in pa.iter().zip(&pb).rev() {
        stack.push(Work::Views(view(x.0), view(y.0), Mode::Exact));
    }
    Ordering::Equal
}

/// Bitstrings: bit by bit, then the shorter first.
fn cmp_bits(a: (&[u8], u8, u8), b: (&[u8], u8, u8)) -> Ordering {
    let (abytes, alast, abits) = a;
    let (bbytes, blast, bbits) = b;
    let common = abytes.len().min(bbytes.len());
    let ord = abytes[..common].cmp(&bbytes[..common]);
    if ord != Ordering::Equal {
        return ord;
    }
    // The next chunk of each: a whole byte, or the partial last byte.
    let chunk = |bytes: &[u8], last: u8, bits: u8| match bytes.get(common) {
        Some(&byte) => (byte, 8u8),
        None => (last, bits),
    };
    let (x, nx) = chunk(abytes, alast, abits);
    let (y, ny) = chunk(bbytes, blast, bbits);
    let n = nx.min(ny);
    if n > 0 {
        let mask = !0xFFu8.checked_shr(u32::from(n)).unwrap_or(0);
        let ord = (x & mask).cmp(&(y & mask));
        if ord != Ordering::Equal {
            return ord;
        }
    }
    let total = |bytes: &[u8], bits: u8| bytes.len() as u64 * 8 + u64::from(bits);
    total(abytes, abits).cmp(&total(bbytes, bbits))
}

#[cfg(test)]
#[path = "order_test.rs"]
mod order_test;
