//! Tokens for the term parser: [`erl_tokenize`] plus the one rule it leaves
//! to the caller, `erl_scan`'s *dot*: a `.` ends a term only when followed
//! by white space, a `%` comment or the end of the input.
//!
//! Tokens are scanned on demand, so the first error in the text is the one
//! reported, as with `erl_scan:tokens/3` term by term.

use super::{ParseError, ParseErrorKind};
use erl_tokenize::{ErrorKind, Keyword, Position, Symbol, TokenValue};
use num_bigint::BigInt;

/// A token with its decoded value.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Tk {
    /// `foo`, `'Foo'`, and the words `maybe` / `else`.
    Atom(String),
    /// `X`, `_x`.
    Var(String),
    /// `"text"` (escapes decoded).
    Str(String),
    /// `~"text"`, `~s"..."` and friends: (prefix, content, suffix).
    Sigil(String, String, String),
    /// An integer literal (always non-negative).
    Int(BigInt),
    /// A character literal `$a`.
    Char(u32),
    /// A float literal.
    Float(f64),
    /// Punctuation or an operator; `.` that does not end a term is
    /// `Sym(Symbol::Dot)`.
    Sym(Symbol),
    /// A reserved word.
    Kw(Keyword),
    /// A `.` that ends a term.
    Dot,
}

/// A token and the byte range it covers.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Tok {
    pub(super) kind: Tk,
    pub(super) start: usize,
    pub(super) end: usize,
}

/// The on-demand token stream.
pub(super) struct Lexer<'a> {
    src: &'a str,
    pos: Position,
    peeked: Option<Option<Tok>>,
}

impl<'a> Lexer<'a> {
    pub(super) fn new(src: &'a str) -> Self {
        Self {
            src,
            pos: Position::new(),
            peeked: None,
        }
    }

    pub(super) fn src(&self) -> &'a str {
        self.src
    }

    /// The next token without consuming it; `None` at the end of the input.
    pub(super) fn peek(&mut self) -> Result<Option<&Tok>, ParseError> {
        if self.peeked.is_none() {
            let t = self.scan()?;
            self.peeked = Some(t);
        }
        Ok(self.peeked.as_ref().and_then(Option::as_ref))
    }

    /// Consumes and returns the next token.
    pub(super) fn next_tok(&mut self) -> Result<Option<Tok>, ParseError> {
        match self.peeked.take() {
            Some(t) => Ok(t),
            None => self.scan(),
        }
    }

    /// Byte offset of the end of the input (for end-of-input errors).
    pub(super) fn end_offset(&self) -> usize {
        self.src.len()
    }

    fn scan(&mut self) -> Result<Option<Tok>, ParseError> {
        loop {
            let token = match erl_tokenize::scan_token(self.src, self.pos) {
                Ok(Some(t)) => t,
                Ok(None) => return Ok(None),
                Err(e) => return Err(self.scan_error(e)),
            };
            self.pos = token.end();
            let start = token.start().offset();
            let end = token.end().offset();
            if let Some(kind) = self.decode(token, start, end)? {
                return Ok(Some(Tok { kind, start, end }));
            }
        }
    }

    /// The token's value; `None` for white space and comments.
    fn decode(
        &self,
        token: erl_tokenize::Token,
        start: usize,
        end: usize,
    ) -> Result<Option<Tk>, ParseError> {
        let text = self.src.get(start..end).unwrap_or("");
        Ok(Some(match token.value(self.src) {
            TokenValue::Atom(a) => {
                if a.chars().count() > 255 {
                    return Err(ParseError::at(
                        self.src,
                        start,
                        ParseErrorKind::Scan("illegal atom (longer than 255 characters)".into()),
                    ));
                }
                Tk::Atom(a.into_owned())
            }
            TokenValue::Char(c) => Tk::Char(u32::from(c)),
            TokenValue::Float(f) => Tk::Float(f),
            TokenValue::Integer(Some(v)) => Tk::Int(BigInt::from(v)),
            TokenValue::Integer(None) => match big_integer(text) {
                Some(v) => Tk::Int(v),
                None => {
                    return Err(ParseError::at(
                        self.src,
                        start,
                        ParseErrorKind::Scan("illegal integer".into()),
                    ));
                }
            },
            TokenValue::Keyword(Keyword::Maybe) => Tk::Atom("maybe".into()),
            TokenValue::Keyword(Keyword::Else) => Tk::Atom("else".into()),
            TokenValue::Keyword(k) => Tk::Kw(k),
            TokenValue::SigilString {
                prefix,
                content,
                suffix,
            } => Tk::Sigil(prefix.into(), content.into_owned(), suffix.into()),
            TokenValue::String(s) => Tk::Str(s.into_owned()),
            TokenValue::Symbol(Symbol::Dot) if self.ends_term(end) => Tk::Dot,
            TokenValue::Symbol(s) => Tk::Sym(s),
            TokenValue::Variable(v) => Tk::Var(v.into()),
            TokenValue::Comment(_) | TokenValue::Whitespace(_) => return Ok(None),
        }))
    }

    /// `erl_scan`: `.` followed by white space (`0..=32` or `128..=160`),
    /// `%`, or the end of the input is a dot.
    fn ends_term(&self, end: usize) -> bool {
        match self.src.get(end..).and_then(|s| s.chars().next()) {
            None | Some('%') => true,
            Some(c) => (c as u32) <= 32 || (128..=160).contains(&(c as u32)),
        }
    }

    fn scan_error(&self, e: erl_tokenize::Error) -> ParseError {
        let offset = e.position.offset();
        let rest = self.src.get(offset..).unwrap_or("");
        let msg = match e.kind {
            ErrorKind::NoClosingQuotation => unterminated(rest),
            ErrorKind::InvalidEscapedChar => "illegal escape sequence".into(),
            ErrorKind::AdjacentStringLiterals => {
                "adjacent string literals without intervening white space".into()
            }
            ErrorKind::MissingToken => "unexpected end of input".into(),
            ErrorKind::InvalidAtomToken => "illegal atom".into(),
            ErrorKind::InvalidCharToken => "illegal character literal".into(),
            ErrorKind::InvalidFloatToken => "illegal float".into(),
            ErrorKind::InvalidIntegerToken => "illegal integer".into(),
            ErrorKind::InvalidStringToken => "illegal string".into(),
            ErrorKind::InvalidSigilStringToken => "illegal sigil string".into(),
            ErrorKind::InvalidVariableToken => "illegal variable".into(),
            ErrorKind::InvalidCommentToken
            | ErrorKind::InvalidSymbolToken
            | ErrorKind::InvalidWhitespaceToken => match rest.chars().next() {
                Some(c) => format!("illegal character {c:?}"),
                None => "illegal character".into(),
            },
        };
        ParseError::at(self.src, offset, ParseErrorKind::Scan(msg))
    }
}

/// `unterminated string starting with "abc"`, as `erl_scan` says it
/// (it shows at most the first 16 characters).
fn unterminated(rest: &str) -> String {
    let mut chars = rest.chars();
    let (what, quote) = match chars.next() {
        Some('"') => ("string", '"'),
        Some('\'') => ("atom", '\''),
        Some('~') => return "unterminated sigil string".into(),
        Some('$') => return "unterminated character".into(),
        _ => return "no closing quotation".into(),
    };
    let head: String = chars.take_while(|c| *c != '\n').take(16).collect();
    format!("unterminated {what} starting with {quote}{head}{quote}")
}

/// Decodes an integer literal too big for `u64`: `Base#Digits` or decimal,
/// with `_` separators.
fn big_integer(text: &str) -> Option<BigInt> {
    let clean: String = text.chars().filter(|c| *c != '_').collect();
    let (radix, digits) = match clean.split_once('#') {
        Some((b, d)) => (b.parse::<u32>().ok()?, d.to_string()),
        None => (10, clean),
    };
    if !(2..=36).contains(&radix) {
        return None;
    }
    BigInt::parse_bytes(digits.as_bytes(), radix)
}
