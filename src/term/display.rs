//! Erlang-style printing of terms, for logs and error messages.
//!
//! [`Pretty`] prints what `io_lib:format("~0p", [T])` prints on OTP 27+
//! with the default (latin1) printable range, except for pids, ports and
//! references, where BEAM prints a node *index* we cannot know
//! (`<0.85.0>`, `<5985.85.0>`): we print the node name instead
//! (`<beam@host.85.0>`, `#Port<beam@host.7>`, `#Ref<beam@host.3.2.1>`).
//!
//! * Atoms are quoted only when needed (`ok`, `'hello world'`,
//!   `'Elixir.Foo'`, `'maybe'`), with `~p`'s escapes (`'a\'b'`, `'\x{4E16}'`).
//! * A proper list of printable Latin-1 characters prints as `"..."`;
//!   a binary of them as `<<"...">>`; other binaries as `<<1,2,3>>`;
//!   bitstrings as `<<1,2,3:4>>`.
//! * Floats print as the shortest text that reads back to the same value,
//!   choosing between `0.001` and `1.0e-5` the way `float_to_list(F,
//!   [short])` does.
//! * Maps print their keys in map-key order: `#{1 => a,b => c}`. (BEAM
//!   prints maps of over 32 keys in its internal hash order instead.)
//!
//! Printing is iterative, so any nesting depth is fine.

use super::order::cmp_map_keys;
use super::{InternalFun, Term};
use std::fmt::{self, Write};

/// Wraps a term so that `{}` prints it the way Erlang's `~0p` would.
pub struct Pretty<'a>(pub &'a Term);

impl fmt::Display for Pretty<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut jobs = vec![Job::Term(self.0)];
        while let Some(job) = jobs.pop() {
            match job {
                Job::Text(s) => f.write_str(s)?,
                Job::Byte(b) => write!(f, "{b}")?,
                Job::Term(t) => term(f, t, &mut jobs)?,
            }
        }
        Ok(())
    }
}

/// Something left to print.
enum Job<'a> {
    Term(&'a Term),
    /// A list element that only exists as a byte of a `ByteList`.
    Byte(u8),
    Text(&'static str),
}

/// A list element, borrowed.
#[derive(Clone, Copy)]
enum Elem<'a> {
    Term(&'a Term),
    Byte(u8),
}

fn term<'a>(f: &mut fmt::Formatter<'_>, t: &'a Term, jobs: &mut Vec<Job<'a>>) -> fmt::Result {
    match t {
        Term::Atom(a) => atom(f, &a.name),
        Term::FixInteger(i) => write!(f, "{}", i.value),
        Term::BigInteger(b) => write!(f, "{}", b.value),
        Term::Float(x) => float(f, x.value),
        Term::Pid(p) => write!(f, "<{}.{}.{}>", p.node.name, p.id, p.serial),
        Term::Port(p) => write!(f, "#Port<{}.{}>", p.node.name, p.id),
        Term::Reference(r) => {
            // BEAM prints the id words most significant (last) first.
            write!(f, "#Ref<{}", r.node.name)?;
            for word in r.id.iter().rev() {
                write!(f, ".{word}")?;
            }
            f.write_char('>')
        }
        Term::ExternalFun(x) => {
            f.write_str("fun ")?;
            atom(f, &x.module.name)?;
            f.write_char(':')?;
            atom(f, &x.function.name)?;
            write!(f, "/{}", x.arity)
        }
        Term::InternalFun(x) => match &**x {
            InternalFun::New {
                module,
                old_index,
                old_uniq,
                ..
            } => write!(f, "#Fun<{}.{}.{}>", module.name, old_index, old_uniq),
            InternalFun::Old {
                module,
                index,
                uniq,
                ..
            } => write!(f, "#Fun<{}.{}.{}>", module.name, index, uniq),
        },
        Term::Binary(b) => bits(f, &b.bytes, None),
        Term::BitBinary(b) => match (b.bytes.split_last(), b.tail_bits_size) {
            (Some((&last, init)), n @ 1..=7) => bits(f, init, Some((last, n))),
            (Some((_, init)), 0) => bits(f, init, None),
            _ => bits(f, &b.bytes, None),
        },
        Term::Tuple(x) => {
            f.write_char('{')?;
            push_seq(jobs, x.elements.iter().map(Job::Term), "}");
            Ok(())
        }
        Term::Map(m) => {
            let mut pairs: Vec<(&Term, &Term)> = m.map.iter().collect();
            pairs.sort_unstable_by(|a, b| cmp_map_keys(a.0, b.0));
            f.write_str("#{")?;
            jobs.push(Job::Text("}"));
            for (i, (k, v)) in pairs.into_iter().enumerate().rev() {
                jobs.push(Job::Term(v));
                jobs.push(Job::Text(" => "));
                jobs.push(Job::Term(k));
                if i > 0 {
                    jobs.push(Job::Text(","));
                }
            }
            Ok(())
        }
        Term::List(_) | Term::ByteList(_) | Term::ImproperList(_) => list(f, t, jobs),
    }
}

/// Pushes `items` separated by commas, then `close`.
fn push_seq<'a, I>(jobs: &mut Vec<Job<'a>>, items: I, close: &'static str)
where
    I: DoubleEndedIterator<Item = Job<'a>> + ExactSizeIterator,
{
    jobs.push(Job::Text(close));
    let n = items.len();
    for (i, item) in items.rev().enumerate() {
        jobs.push(item);
        if i + 1 < n {
            jobs.push(Job::Text(","));
        }
    }
}

fn list<'a>(f: &mut fmt::Formatter<'_>, t: &'a Term, jobs: &mut Vec<Job<'a>>) -> fmt::Result {
    // Flatten hand-built tails that are lists themselves.
    let mut elems: Vec<Elem<'a>> = Vec::new();
    let mut tail: Option<&'a Term> = Some(t);
    while let Some(cur) = tail {
        match cur {
            Term::List(l) => {
                elems.extend(l.elements.iter().map(Elem::Term));
                tail = None;
            }
            Term::ByteList(l) => {
                elems.extend(l.bytes.iter().map(|&b| Elem::Byte(b)));
                tail = None;
            }
            Term::ImproperList(l) => {
                elems.extend(l.elements.iter().map(Elem::Term));
                tail = Some(&l.last);
            }
            _ => break,
        }
    }
    match tail {
        Some(last) if elems.is_empty() => {
            jobs.push(Job::Term(last));
            return Ok(());
        }
        None if elems.is_empty() => return f.write_str("[]"),
        None => {
            let chars: Option<Vec<u32>> = elems.iter().map(|e| printable_elem(*e)).collect();
            if let Some(chars) = chars {
                return quoted(f, chars.into_iter(), '"');
            }
        }
        Some(_) => {}
    }
    f.write_char('[')?;
    let items = elems.iter().map(|e| match *e {
        Elem::Term(t) => Job::Term(t),
        Elem::Byte(b) => Job::Byte(b),
    });
    match tail {
        None => push_seq(jobs, items, "]"),
        Some(last) => {
            jobs.push(Job::Text("]"));
            jobs.push(Job::Term(last));
            jobs.push(Job::Text("|"));
            let n = items.len();
            for (i, item) in items.rev().enumerate() {
                jobs.push(item);
                if i + 1 < n {
                    jobs.push(Job::Text(","));
                }
            }
        }
    }
    Ok(())
}

/// The character of a list element that `~p` would print inside `"..."`.
fn printable_elem(e: Elem<'_>) -> Option<u32> {
    let c = match e {
        Elem::Byte(b) => u32::from(b),
        Elem::Term(Term::FixInteger(i)) => u32::try_from(i.value).ok()?,
        Elem::Term(_) => return None,
    };
    is_printable(c).then_some(c)
}

/// `io_lib:printable_latin1_list/1`, one character.
fn is_printable(c: u32) -> bool {
    matches!(c, 32..=126 | 160..=255 | 8..=13 | 27)
}

fn bits(f: &mut fmt::Formatter<'_>, bytes: &[u8], tail: Option<(u8, u8)>) -> fmt::Result {
    f.write_str("<<")?;
    if tail.is_none() && !bytes.is_empty() && bytes.iter().all(|&b| is_printable(u32::from(b))) {
        quoted(f, bytes.iter().map(|&b| u32::from(b)), '"')?;
        return f.write_str(">>");
    }
    for (i, b) in bytes.iter().enumerate() {
        if i > 0 {
            f.write_char(',')?;
        }
        write!(f, "{b}")?;
    }
    if let Some((last, n)) = tail {
        if !bytes.is_empty() {
            f.write_char(',')?;
        }
        write!(f, "{}:{}", last & (0xFF >> (8 - n)), n)?;
    }
    f.write_str(">>")
}

/// Writes an atom, quoted only when Erlang needs quotes.
fn atom(f: &mut fmt::Formatter<'_>, name: &str) -> fmt::Result {
    if needs_quotes(name) {
        quoted(f, name.chars().map(u32::from), '\'')
    } else {
        f.write_str(name)
    }
}

/// Reserved words of OTP 27+ (`maybe` and `else` became reserved when the
/// `maybe_expr` feature was enabled by default).
const RESERVED: &[&str] = &[
    "after", "and", "andalso", "band", "begin", "bnot", "bor", "bsl", "bsr", "bxor", "case",
    "catch", "cond", "div", "else", "end", "fun", "if", "let", "maybe", "not", "of", "or",
    "orelse", "receive", "rem", "try", "when", "xor",
];

fn needs_quotes(name: &str) -> bool {
    let mut chars = name.chars();
    let Some(first) = chars.next() else {
        return true;
    };
    let lower = |c: char| c.is_ascii_lowercase() || (('ß'..='ÿ').contains(&c) && c != '÷');
    let name_char = |c: char| {
        lower(c)
            || c.is_ascii_uppercase()
            || c.is_ascii_digit()
            || c == '_'
            || c == '@'
            || (('À'..='Þ').contains(&c) && c != '×')
    };
    !lower(first) || !chars.all(name_char) || RESERVED.contains(&name)
}

/// Writes `chars` between `q` quotes with `io_lib`'s escapes.
fn quoted(f: &mut fmt::Formatter<'_>, chars: impl Iterator<Item = u32>, q: char) -> fmt::Result {
    f.write_char(q)?;
    for c in chars {
        match c {
            _ if c == u32::from(q) || c == u32::from('\\') => {
                f.write_char('\\')?;
                f.write_char(char::from_u32(c).unwrap_or('?'))?;
            }
            32..=126 | 160..=255 => f.write_char(char::from_u32(c).unwrap_or('?'))?,
            10 => f.write_str("\\n")?,
            13 => f.write_str("\\r")?,
            9 => f.write_str("\\t")?,
            11 => f.write_str("\\v")?,
            8 => f.write_str("\\b")?,
            12 => f.write_str("\\f")?,
            27 => f.write_str("\\e")?,
            127 => f.write_str("\\d")?,
            0..=159 => write!(f, "\\{c:03o}")?,
            _ => write!(f, "\\x{{{c:X}}}")?,
        }
    }
    f.write_char(q)
}

/// Writes a float as `float_to_list(F, [short])` does (OTP 25+).
fn float(f: &mut fmt::Formatter<'_>, v: f64) -> fmt::Result {
    if v == 0.0 {
        return f.write_str(if v.is_sign_negative() { "-0.0" } else { "0.0" });
    }
    if !v.is_finite() {
        // BEAM has no such floats; only a hand-built term can hold one.
        return write!(f, "{v}");
    }
    if v < 0.0 {
        f.write_char('-')?;
    }
    // Rust's `{:e}` gives the shortest digits that read back exactly.
    let sci = format!("{:e}", v.abs());
    let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    let sci_exp: i32 = exp.parse().unwrap_or(0);
    let n = digits.len() as i32;
    // value = digits * 10^e
    let e = sci_exp - (n - 1);
    let d: u64 = digits.parse().unwrap_or(0);
    let (lower, upper) = match (n, sci_exp) {
        (1, _) => (-4, 2),
        (_, 10..) => (-(n + 2), 2),
        _ => (-(n + 2), 1),
    };
    // Fixed notation would print digits that are not really there.
    let inexact =
        (d >= 1 << 53 && e == 0) || (d > (1 << 52) / 5 && e == 1) || (d > (1 << 51) / 25 && e == 2);
    if (lower..=upper).contains(&e) && !inexact {
        let whole = n + e;
        if e >= 0 {
            f.write_str(&digits)?;
            for _ in 0..e {
                f.write_char('0')?;
            }
            f.write_str(".0")
        } else if whole > 0 {
            let (int, frac) = digits.split_at(whole as usize);
            write!(f, "{int}.{frac}")
        } else {
            f.write_str("0.")?;
            for _ in 0..-whole {
                f.write_char('0')?;
            }
            f.write_str(&digits)
        }
    } else {
        let (first, rest) = digits.split_at(1.min(digits.len()));
        let rest = if rest.is_empty() { "0" } else { rest };
        write!(f, "{first}.{rest}e{sci_exp}")
    }
}

#[cfg(test)]
#[path = "display_test.rs"]
mod display_test;
