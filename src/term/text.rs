//! Erlang term *text*: the parser behind `.config` files and `-App Par Val`
//! values, and its inverse, a printer.
//!
//! Mirrors `file:consult/1` (`otp:lib/kernel/src/file.erl`), that is
//! `erl_scan` (`otp:lib/stdlib/src/erl_scan.erl`) followed by
//! `erl_parse:parse_term/1` (`otp:lib/stdlib/src/erl_parse.yrl`,
//! `normalise/1`). Lexing is done by the [`erl_tokenize`] crate.
//!
//! ```text
//!   &str ──► lexer (erl_tokenize + end-of-term dots) ──► parser ──► Term
//!                                                         │
//!                                     bits (<<...>> segments)
//!   Term ──► print ──► &str   (inverse of the parser, for every term with a text form)
//! ```
//!
//! What is accepted is what `erl_parse:parse_term/1` accepts: atoms, numbers
//! (`16#ff`, `1_000`, `$a`, `-1`, big integers, `1.0e3`), strings (adjacent
//! literals concatenate), OTP 27 sigils (`~"text"` is a binary), lists,
//! improper lists, tuples, maps with `=>`, binaries (`<<"text">>`,
//! `<<1,2,3>>`, `<<"é"/utf8>>`, `<<1:4, 16#123:12/little>>`, floats,
//! nested binaries), external funs (`fun m:f/2`) and parentheses. Variables,
//! operators, `:=` in maps and records are rejected as erl rejects them
//! ("bad term"), with a more specific reason. Deviations from OTP 25,
//! mostly because the lexer follows OTP 27+: `"a""b"` without white space
//! is an error; `$\^?` is 127 (OTP 25: 31); `5000x` is an `illegal
//! integer` (erl: a syntax error before `x`); the words `maybe` and `else`
//! stay atoms (as in OTP 25/26; OTP 27 reserved them); sigils are accepted.
//!
//! Parsed terms are *canonical*, the way a BEAM node would encode them: a
//! proper list of 1 to 65535 integers in `0..=255` is a
//! [`ByteList`](crate::term::ByteList) (so `[97,98]` and `"ab"` are the same
//! term), integers that fit in 32 bits are
//! [`FixInteger`](crate::term::FixInteger)s, `[a|[b]]` is `[a,b]`.
//!
//! ```
//! use distro::term::text::{parse_term, parse_terms, to_text};
//! use distro::term::{atom, int, tuple};
//!
//! let terms = parse_terms("%% a config\n{answer, 42}.\n[].\n").unwrap();
//! assert_eq!(terms[0], tuple(vec![atom("answer"), int(42)]));
//! assert_eq!(parse_term("16#ff").unwrap(), int(255));
//! let err = parse_terms("[a,]. ").unwrap_err().with_file("cp1.config");
//! assert_eq!(err.to_string(), "cp1.config:1:4: syntax error before: ']'");
//! assert_eq!(to_text(&terms[0]).as_deref(), Some("{answer,42}"));
//! ```

mod bits;
mod lexer;
mod parser;
mod print;
#[cfg(test)]
mod prop_test;
#[cfg(test)]
mod text_test;

pub use print::to_text;

use super::Term;
use std::fmt;

/// Deepest nesting of lists, tuples, maps, binaries and parentheses the
/// parser accepts; deeper input is an error, never a stack overflow.
pub const MAX_DEPTH: usize = 128;

/// Most bits of binary data one parse builds (one mebibyte, as in
/// `<<0:8388608>>`): segment sizes let a few bytes of text ask for
/// gigabytes, so binary literals of one call share this budget.
pub const MAX_BINARY_BITS: u64 = 8 * 1024 * 1024;

/// Parses a sequence of terms, each ended by a `.` followed by white space,
/// a `%` comment or the end of the input: `file:consult/1` semantics.
///
/// Empty input (or only comments) gives an empty vector.
pub fn parse_terms(src: &str) -> Result<Vec<Term>, ParseError> {
    parser::Parser::new(src).terms()
}

/// Parses exactly one term; the final `.` is optional. This is how the
/// `Val` of `erl -App Par Val` is read (`application_controller:make_term/1`).
pub fn parse_term(src: &str) -> Result<Term, ParseError> {
    parser::Parser::new(src).single_term()
}

/// A lexical or syntax error, located by line and column (both 1-based;
/// the column counts characters, not bytes).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}{line}:{column}: {kind}", self.file_prefix())]
pub struct ParseError {
    /// The file the text came from, if known (see [`ParseError::with_file`]).
    pub file: Option<String>,
    /// Line of the offending token.
    pub line: usize,
    /// Column of the offending token, in characters.
    pub column: usize,
    /// What went wrong.
    pub kind: ParseErrorKind,
}

impl ParseError {
    /// Names the file the text came from, so that the message reads
    /// `cp1.config:3:14: syntax error before: ']'`.
    #[must_use]
    pub fn with_file(mut self, file: impl Into<String>) -> Self {
        self.file = Some(file.into());
        self
    }

    fn file_prefix(&self) -> String {
        match &self.file {
            Some(f) => format!("{f}:"),
            None => String::new(),
        }
    }

    /// An error at byte `offset` of `src`.
    pub(crate) fn at(src: &str, offset: usize, kind: ParseErrorKind) -> Self {
        let offset = offset.min(src.len());
        let before = src.get(..offset).unwrap_or(src);
        let line = before.matches('\n').count() + 1;
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        let column = before.get(line_start..).map_or(0, |s| s.chars().count()) + 1;
        Self {
            file: None,
            line,
            column,
            kind,
        }
    }
}

/// The reason of a [`ParseError`]; the `Display` texts follow erl's wording
/// where erl has one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ParseErrorKind {
    /// A token that cannot be scanned, e.g. `illegal float` for `1.0e400`
    /// (`erl_scan:format_error/1` wording).
    Scan(String),
    /// `syntax error before: ']'`: the token (as erl prints it) that
    /// cannot continue the term.
    SyntaxBefore(String),
    /// The input ended inside a term, or without the `.` that ends it
    /// (OTP's `no ending <dot> found`).
    NoEndingDot,
    /// The input ended inside a term given to [`parse_term`].
    UnexpectedEnd,
    /// Valid Erlang syntax that is not a literal term (erl's `bad term`):
    /// a variable, an operator, `:=` in a map, a record, a bad binary segment.
    BadTerm(String),
    /// A reserved word such as `case` where an atom was expected.
    ReservedWord(String),
    /// Nesting deeper than [`MAX_DEPTH`].
    TooDeep,
}

impl fmt::Display for ParseErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Scan(msg) => f.write_str(msg),
            Self::SyntaxBefore(tok) => write!(f, "syntax error before: {tok}"),
            Self::NoEndingDot => f.write_str("no ending <dot> found"),
            Self::UnexpectedEnd => f.write_str("unexpected end of input"),
            Self::BadTerm(why) => write!(f, "bad term: {why}"),
            Self::ReservedWord(w) => write!(
                f,
                "syntax error before: '{w}' (a reserved word; write '{w}' in quotes for the atom)"
            ),
            Self::TooDeep => write!(f, "term nested deeper than {MAX_DEPTH} levels"),
        }
    }
}
