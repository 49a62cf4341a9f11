//! Printing a term as Erlang text that [`parse_term`](super::parse_term)
//! reads back: `to_text(t)` then `parse_term` gives `t` again for every
//! canonical term (every term the parser produces).
//!
//! This is *not* `~p` (see [`Pretty`](crate::term::Pretty) for logs): it is
//! compact, quotes every atom that is not plain `[a-z][a-zA-Z0-9_@]*`, and
//! writes floats in the `1.5e0` form so that they read back exactly.

use crate::term::Term;
use std::fmt::Write;

/// Deepest term [`to_text`] prints (the decoder's default depth limit).
const MAX_PRINT_DEPTH: usize = 1024;

/// Erlang text for `term`, or `None` when it has no text form: it contains
/// a pid, port, reference or local fun, a non-finite float, or is nested
/// deeper than 1024 levels.
///
/// ```
/// use distro::term::text::{parse_term, to_text};
/// let t = parse_term(r#"{'Node', [1.5, "é", <<1:4>>, #{k => v}, fun m:f/1 | x]}"#).unwrap();
/// let s = to_text(&t).unwrap();
/// assert_eq!(s, r#"{'Node',[1.5e0,"é",<<1:4>>,#{k=>v},fun m:f/1|x]}"#);
/// assert_eq!(parse_term(&s).unwrap(), t);
/// ```
pub fn to_text(term: &Term) -> Option<String> {
    let mut out = String::new();
    write_term(&mut out, term, 0)?;
    Some(out)
}

fn write_term(out: &mut String, term: &Term, depth: usize) -> Option<()> {
    if depth > MAX_PRINT_DEPTH {
        return None;
    }
    match term {
        Term::Atom(a) => write_atom(out, &a.name),
        Term::FixInteger(i) => {
            let _ = write!(out, "{}", i.value);
        }
        Term::BigInteger(b) => {
            let _ = write!(out, "{}", b.value);
        }
        Term::Float(f) => write_float(out, f.value)?,
        Term::ByteList(b) => write_string(out, b.bytes.iter().map(|&c| char::from(c))),
        Term::List(l) => {
            out.push('[');
            write_seq(out, &l.elements, depth)?;
            out.push(']');
        }
        Term::ImproperList(l) => {
            if l.elements.is_empty() {
                return write_term(out, &l.last, depth);
            }
            out.push('[');
            write_seq(out, &l.elements, depth)?;
            out.push('|');
            write_term(out, &l.last, depth + 1)?;
            out.push(']');
        }
        Term::Tuple(t) => {
            out.push('{');
            write_seq(out, &t.elements, depth)?;
            out.push('}');
        }
        Term::Map(m) => {
            out.push_str("#{");
            for (i, (k, v)) in m.map.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_term(out, k, depth + 1)?;
                out.push_str("=>");
                write_term(out, v, depth + 1)?;
            }
            out.push('}');
        }
        Term::Binary(b) => write_binary(out, &b.bytes, 8),
        Term::BitBinary(b) => write_binary(out, &b.bytes, b.tail_bits_size),
        Term::ExternalFun(f) => {
            out.push_str("fun ");
            write_atom(out, &f.module.name);
            out.push(':');
            write_atom(out, &f.function.name);
            let _ = write!(out, "/{}", f.arity);
        }
        Term::Pid(_) | Term::Port(_) | Term::Reference(_) | Term::InternalFun(_) => return None,
    }
    Some(())
}

fn write_seq(out: &mut String, elems: &[Term], depth: usize) -> Option<()> {
    for (i, e) in elems.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        write_term(out, e, depth + 1)?;
    }
    Some(())
}

/// Whether `name` can be written without quotes (conservatively: plain
/// ASCII and not a reserved word, including `maybe` and `else`).
fn is_bare_atom(name: &str) -> bool {
    const RESERVED: &[&str] = &[
        "after", "and", "andalso", "band", "begin", "bnot", "bor", "bsl", "bsr", "bxor", "case",
        "catch", "cond", "div", "end", "fun", "if", "let", "not", "of", "or", "orelse", "receive",
        "rem", "try", "when", "xor", "maybe", "else",
    ];
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_lowercase())
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '@')
        && !RESERVED.contains(&name)
}

fn write_atom(out: &mut String, name: &str) {
    if is_bare_atom(name) {
        out.push_str(name);
    } else {
        write_quoted(out, name.chars(), '\'');
    }
}

fn write_string(out: &mut String, chars: impl Iterator<Item = char>) {
    write_quoted(out, chars, '"');
}

fn write_quoted(out: &mut String, chars: impl Iterator<Item = char>, quote: char) {
    out.push(quote);
    for c in chars {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if c == quote => {
                out.push('\\');
                out.push(c);
            }
            c if (c as u32) < 32 || (127..160).contains(&(c as u32)) => {
                let _ = write!(out, "\\x{{{:X}}}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push(quote);
}

/// `1.5e0`, `-1.0e-7`: Rust's shortest round-trip digits, in a form
/// Erlang's scanner accepts (a `.` in the mantissa is mandatory).
fn write_float(out: &mut String, f: f64) -> Option<()> {
    if !f.is_finite() {
        return None;
    }
    let s = format!("{f:e}");
    let (mantissa, exp) = s.split_once('e')?;
    out.push_str(mantissa);
    if !mantissa.contains('.') {
        out.push_str(".0");
    }
    out.push('e');
    out.push_str(exp);
    Some(())
}

/// `<<1,2,3>>`, with the last byte written as `V:Bits` when it is partial
/// (`eetf` keeps a partial byte's bits in its low end).
fn write_binary(out: &mut String, bytes: &[u8], tail_bits: u8) {
    out.push_str("<<");
    let partial = (1..8).contains(&tail_bits);
    for (i, &b) in bytes.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        if partial && i + 1 == bytes.len() {
            let _ = write!(out, "{}:{}", b & (0xff >> (8 - tail_bits)), tail_bits);
        } else {
            let _ = write!(out, "{b}");
        }
    }
    out.push_str(">>");
}
