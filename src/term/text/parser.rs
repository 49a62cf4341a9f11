//! Recursive-descent parser for literal terms: the subset of
//! `erl_parse.yrl` expressions that `erl_parse:normalise/1` turns into a
//! term. Nesting is counted and capped at [`MAX_DEPTH`].

use super::bits::{self, SegValue, Segment, Spec};
use super::lexer::{Lexer, Tk, Tok};
use super::{MAX_BINARY_BITS, MAX_DEPTH, ParseError, ParseErrorKind};
use crate::term::{
    Atom, ByteList, ExternalFun, Float, ImproperList, List, Term, atom, bigint, binary, int, map,
    nil,
};
use erl_tokenize::{Keyword, Symbol};
use num_bigint::BigInt;
use num_traits::ToPrimitive;

/// A number literal, before a unary `-` is applied.
enum Num {
    Int(BigInt),
    Float(f64),
}

pub(super) struct Parser<'a> {
    lex: Lexer<'a>,
    depth: usize,
    /// Bits of binary data still allowed ([`MAX_BINARY_BITS`]).
    binary_budget: u64,
    /// What running out of input means: `NoEndingDot` for consult,
    /// `UnexpectedEnd` for a single term.
    end_kind: ParseErrorKind,
}

impl<'a> Parser<'a> {
    pub(super) fn new(src: &'a str) -> Self {
        Self {
            lex: Lexer::new(src),
            depth: 0,
            binary_budget: MAX_BINARY_BITS,
            end_kind: ParseErrorKind::NoEndingDot,
        }
    }

    /// `file:consult/1`: terms, each ended by a dot.
    pub(super) fn terms(mut self) -> Result<Vec<Term>, ParseError> {
        let mut out = Vec::new();
        while self.lex.peek()?.is_some() {
            let t = self.term()?;
            match self.lex.next_tok()? {
                Some(Tok { kind: Tk::Dot, .. }) => out.push(t),
                Some(tok) => return Err(self.after_term(&tok)),
                None => return Err(self.at_end()),
            }
        }
        Ok(out)
    }

    /// One term, optionally followed by a dot, then nothing.
    pub(super) fn single_term(mut self) -> Result<Term, ParseError> {
        self.end_kind = ParseErrorKind::UnexpectedEnd;
        let t = self.term()?;
        match self.lex.next_tok()? {
            None => return Ok(t),
            Some(Tok { kind: Tk::Dot, .. }) => {}
            Some(tok) => return Err(self.after_term(&tok)),
        }
        match self.lex.next_tok()? {
            None => Ok(t),
            Some(tok) => Err(self.syntax_before(&tok)),
        }
    }

    // ---- errors --------------------------------------------------------

    fn err(&self, offset: usize, kind: ParseErrorKind) -> ParseError {
        ParseError::at(self.lex.src(), offset, kind)
    }

    fn at_end(&self) -> ParseError {
        self.err(self.lex.end_offset(), self.end_kind.clone())
    }

    fn text(&self, tok: &Tok) -> &'a str {
        self.lex.src().get(tok.start..tok.end).unwrap_or("")
    }

    /// `syntax error before: X`, with X printed as erl prints tokens
    /// (symbols and reserved words quoted, long literals shortened).
    fn syntax_before(&self, tok: &Tok) -> ParseError {
        let text = self.text(tok);
        let shown = match tok.kind {
            Tk::Sym(_) | Tk::Kw(_) | Tk::Dot => format!("'{text}'"),
            _ if text.chars().count() > 40 => {
                format!("{}...", text.chars().take(37).collect::<String>())
            }
            _ => text.to_string(),
        };
        self.err(tok.start, ParseErrorKind::SyntaxBefore(shown))
    }

    fn bad(&self, offset: usize, why: impl Into<String>) -> ParseError {
        self.err(offset, ParseErrorKind::BadTerm(why.into()))
    }

    /// A token that cannot follow a complete term: an operator means the
    /// text is an expression (erl: `bad term`), anything else is a syntax
    /// error.
    fn after_term(&self, tok: &Tok) -> ParseError {
        if is_operator(&tok.kind) {
            self.bad(
                tok.start,
                format!(
                    "operator '{}' (expressions are not allowed in a term)",
                    self.text(tok)
                ),
            )
        } else {
            self.syntax_before(tok)
        }
    }

    fn variable(&self, tok: &Tok, name: &str) -> ParseError {
        self.bad(
            tok.start,
            format!(
                "variable {name} (a term cannot contain variables; write '{name}' for an atom)"
            ),
        )
    }

    // ---- tokens ---------------------------------------------------------

    fn expect_tok(&mut self) -> Result<Tok, ParseError> {
        match self.lex.next_tok()? {
            Some(t) => Ok(t),
            None => Err(self.at_end()),
        }
    }

    fn expect_sym(&mut self, sym: Symbol) -> Result<Tok, ParseError> {
        let tok = self.expect_tok()?;
        if tok.kind == Tk::Sym(sym) {
            Ok(tok)
        } else {
            Err(self.after_term(&tok))
        }
    }

    /// Consumes the next token if it is `sym`.
    fn eat_sym(&mut self, sym: Symbol) -> Result<bool, ParseError> {
        if matches!(self.lex.peek()?, Some(t) if t.kind == Tk::Sym(sym)) {
            self.lex.next_tok()?;
            Ok(true)
        } else {
            Ok(false)
        }
    }

    /// Runs `f` one nesting level deeper.
    fn nested<T>(
        &mut self,
        offset: usize,
        f: impl FnOnce(&mut Self) -> Result<T, ParseError>,
    ) -> Result<T, ParseError> {
        if self.depth >= MAX_DEPTH {
            return Err(self.err(offset, ParseErrorKind::TooDeep));
        }
        self.depth += 1;
        let r = f(self);
        self.depth -= 1;
        r
    }

    // ---- terms ----------------------------------------------------------

    /// A term. Only containers recurse; they go through [`Self::container`]
    /// so that each nesting level costs a few small stack frames.
    fn term(&mut self) -> Result<Term, ParseError> {
        let tok = self.expect_tok()?;
        match tok.kind {
            Tk::Sym(
                s @ (Symbol::OpenSquare
                | Symbol::OpenBrace
                | Symbol::Sharp
                | Symbol::DoubleLeftAngle
                | Symbol::OpenParen),
            ) => self.container(s, tok.start),
            _ => self.leaf(tok),
        }
    }

    fn container(&mut self, open: Symbol, start: usize) -> Result<Term, ParseError> {
        if self.depth >= MAX_DEPTH {
            return Err(self.too_deep(start));
        }
        self.depth += 1;
        let r = match open {
            Symbol::OpenSquare => self.list(),
            Symbol::OpenBrace => self.tuple(),
            Symbol::Sharp => self.map(),
            Symbol::DoubleLeftAngle => self.binary(start).map(Term::from),
            _ => self.paren_term(),
        };
        self.depth -= 1;
        r
    }

    #[inline(never)]
    fn too_deep(&self, offset: usize) -> ParseError {
        self.err(offset, ParseErrorKind::TooDeep)
    }

    fn paren_term(&mut self) -> Result<Term, ParseError> {
        let t = self.term()?;
        self.expect_sym(Symbol::CloseParen)?;
        Ok(t)
    }

    /// Everything but containers: atoms, numbers, strings, funs, and the
    /// tokens that cannot start a term.
    #[inline(never)]
    fn leaf(&mut self, tok: Tok) -> Result<Term, ParseError> {
        match &tok.kind {
            Tk::Atom(a) => Ok(atom(a)),
            Tk::Str(s) => {
                let s = self.strings(s.clone())?;
                Ok(chars_to_list(s.chars().map(u32::from)))
            }
            Tk::Sigil(prefix, content, suffix) => self.sigil(&tok, prefix, content, suffix),
            Tk::Int(_) | Tk::Char(_) | Tk::Float(_) => Ok(num_term(self.num_literal(&tok)?)),
            Tk::Sym(Symbol::Hyphen) => Ok(num_term(negate(self.number_operand(&tok)?))),
            Tk::Sym(Symbol::Plus) => Ok(num_term(self.number_operand(&tok)?)),
            Tk::Kw(Keyword::Fun) => self.fun(&tok),
            Tk::Var(name) => Err(self.variable(&tok, name)),
            Tk::Kw(k) if is_operator(&tok.kind) => Err(self.bad(
                tok.start,
                format!(
                    "operator '{}' (expressions are not allowed in a term)",
                    k.as_str()
                ),
            )),
            Tk::Kw(k) => Err(self.err(tok.start, ParseErrorKind::ReservedWord(k.as_str().into()))),
            Tk::Sym(Symbol::Match | Symbol::Bang) => Err(self.after_term(&tok)),
            _ => Err(self.syntax_before(&tok)),
        }
    }

    /// Concatenates the string literals that follow `first` (`"a" "b"`).
    fn strings(&mut self, mut first: String) -> Result<String, ParseError> {
        while let Some(Tok {
            kind: Tk::Str(s), ..
        }) = self.lex.peek()?
        {
            first.push_str(s);
            self.lex.next_tok()?;
        }
        Ok(first)
    }

    /// OTP 27 sigils: `~"..."`, `~b"..."`, `~B"..."` are UTF-8 binaries,
    /// `~s"..."` and `~S"..."` strings.
    fn sigil(
        &self,
        tok: &Tok,
        prefix: &str,
        content: &str,
        suffix: &str,
    ) -> Result<Term, ParseError> {
        if !suffix.is_empty() {
            return Err(self.bad(
                tok.start,
                format!("sigil suffix {suffix:?} is not supported"),
            ));
        }
        match prefix {
            "" | "b" | "B" => Ok(binary(content.as_bytes())),
            "s" | "S" => Ok(chars_to_list(content.chars().map(u32::from))),
            _ => Err(self.bad(tok.start, format!("sigil ~{prefix} is not supported"))),
        }
    }

    fn num_literal(&self, tok: &Tok) -> Result<Num, ParseError> {
        match &tok.kind {
            Tk::Int(i) => Ok(Num::Int(i.clone())),
            Tk::Char(c) => Ok(Num::Int(BigInt::from(*c))),
            Tk::Float(f) => Ok(Num::Float(*f)),
            _ => Err(self.syntax_before(tok)),
        }
    }

    /// The operand of a unary `-` or `+`: a number, possibly in
    /// parentheses (`-(1)` is `-1`, `-(-1)` is a bad term, as in erl).
    fn number_operand(&mut self, op: &Tok) -> Result<Num, ParseError> {
        let tok = self.expect_tok()?;
        match &tok.kind {
            Tk::Int(_) | Tk::Char(_) | Tk::Float(_) => self.num_literal(&tok),
            Tk::Sym(Symbol::OpenParen) => self.nested(tok.start, |p| {
                let n = p.number_operand(op)?;
                p.expect_sym(Symbol::CloseParen)?;
                Ok(n)
            }),
            Tk::Var(name) => Err(self.variable(&tok, name)),
            Tk::Dot
            | Tk::Sym(
                Symbol::CloseSquare
                | Symbol::CloseBrace
                | Symbol::CloseParen
                | Symbol::Comma
                | Symbol::VerticalBar
                | Symbol::DoubleRightAngle
                | Symbol::DoubleRightArrow,
            ) => Err(self.syntax_before(&tok)),
            _ => Err(self.bad(
                op.start,
                format!("unary '{}' applies only to a number", self.text(op)),
            )),
        }
    }

    fn list(&mut self) -> Result<Term, ParseError> {
        if self.eat_sym(Symbol::CloseSquare)? {
            return Ok(nil());
        }
        let mut elems = Vec::new();
        loop {
            elems.push(self.term()?);
            let tok = self.expect_tok()?;
            match tok.kind {
                Tk::Sym(Symbol::Comma) => {}
                Tk::Sym(Symbol::CloseSquare) => return Ok(make_list(elems, None)),
                Tk::Sym(Symbol::VerticalBar) => {
                    let tail = self.term()?;
                    self.expect_sym(Symbol::CloseSquare)?;
                    return Ok(make_list(elems, Some(tail)));
                }
                _ => return Err(self.after_term(&tok)),
            }
        }
    }

    fn tuple(&mut self) -> Result<Term, ParseError> {
        let mut elems = Vec::new();
        if self.eat_sym(Symbol::CloseBrace)? {
            return Ok(crate::term::tuple(elems));
        }
        loop {
            elems.push(self.term()?);
            let tok = self.expect_tok()?;
            match tok.kind {
                Tk::Sym(Symbol::Comma) => {}
                Tk::Sym(Symbol::CloseBrace) => return Ok(crate::term::tuple(elems)),
                _ => return Err(self.after_term(&tok)),
            }
        }
    }

    /// After `#`: a map `#{K => V, ...}` (records and `:=` are bad terms).
    fn map(&mut self) -> Result<Term, ParseError> {
        let open = self.expect_tok()?;
        match open.kind {
            Tk::Sym(Symbol::OpenBrace) => {}
            Tk::Atom(_) => return Err(self.bad(open.start, "records are not allowed in a term")),
            _ => return Err(self.syntax_before(&open)),
        }
        let mut pairs = Vec::new();
        if self.eat_sym(Symbol::CloseBrace)? {
            return Ok(map(pairs));
        }
        loop {
            let key = self.term()?;
            let arrow = self.expect_tok()?;
            match arrow.kind {
                Tk::Sym(Symbol::DoubleRightArrow) => {}
                Tk::Sym(Symbol::MapMatch) => {
                    return Err(self.bad(arrow.start, "':=' in a map literal (use '=>')"));
                }
                _ => return Err(self.after_term(&arrow)),
            }
            let value = self.term()?;
            pairs.push((key, value));
            let tok = self.expect_tok()?;
            match tok.kind {
                Tk::Sym(Symbol::Comma) => {}
                Tk::Sym(Symbol::CloseBrace) => return Ok(map(pairs)),
                _ => return Err(self.after_term(&tok)),
            }
        }
    }

    /// After `fun`: only `fun Module:Function/Arity` is a term.
    fn fun(&mut self, fun_tok: &Tok) -> Result<Term, ParseError> {
        let not_external = |p: &Self| {
            p.bad(
                fun_tok.start,
                "only external funs (fun M:F/A) are allowed in a term",
            )
        };
        let Tk::Atom(module) = self.expect_tok()?.kind else {
            return Err(not_external(self));
        };
        if !self.eat_sym(Symbol::Colon)? {
            return Err(not_external(self));
        }
        let Tk::Atom(function) = self.expect_tok()?.kind else {
            return Err(not_external(self));
        };
        self.expect_sym(Symbol::Slash)?;
        let arity_tok = self.expect_tok()?;
        let arity = match &arity_tok.kind {
            Tk::Int(a) => a.to_u8(),
            _ => return Err(self.syntax_before(&arity_tok)),
        };
        let Some(arity) = arity else {
            return Err(self.bad(arity_tok.start, "fun arity must be at most 255"));
        };
        Ok(Term::from(ExternalFun {
            module: Atom::from(module),
            function: Atom::from(function),
            arity,
        }))
    }

    // ---- binaries -------------------------------------------------------

    /// After `<<`: segments up to `>>`.
    fn binary(&mut self, start: usize) -> Result<bits::Bits, ParseError> {
        let mut segments = Vec::new();
        if !self.eat_sym(Symbol::DoubleRightAngle)? {
            loop {
                segments.push(self.segment()?);
                let tok = self.expect_tok()?;
                match tok.kind {
                    Tk::Sym(Symbol::Comma) => {}
                    Tk::Sym(Symbol::DoubleRightAngle) => break,
                    _ => return Err(self.after_term(&tok)),
                }
            }
        }
        bits::build(&segments, &mut self.binary_budget).map_err(|(i, why)| {
            let at = segments.get(i).map_or(start, |s| s.offset);
            self.bad(at, format!("binary segment: {why}"))
        })
    }

    /// `Value[:Size][/Type-Type-unit:N]`.
    fn segment(&mut self) -> Result<Segment, ParseError> {
        let tok = self.expect_tok()?;
        let offset = tok.start;
        let value = match tok.kind {
            Tk::Sym(Symbol::DoubleLeftAngle) => {
                if self.depth >= MAX_DEPTH {
                    return Err(self.too_deep(offset));
                }
                self.depth += 1;
                let b = self.binary(offset);
                self.depth -= 1;
                SegValue::Bits(b?)
            }
            _ => self.segment_value(tok)?,
        };
        let (size, specs) = self.segment_specs()?;
        Ok(Segment {
            value,
            size,
            specs,
            offset,
        })
    }

    /// A segment value other than a nested binary.
    #[inline(never)]
    fn segment_value(&mut self, tok: Tok) -> Result<SegValue, ParseError> {
        let not_a_value =
            |p: &Self| p.bad(tok.start, "binary segment: not a number, string or binary");
        Ok(match &tok.kind {
            Tk::Str(s) => {
                let s = self.strings(s.clone())?;
                SegValue::Str(s.chars().map(u32::from).collect())
            }
            Tk::Int(_) | Tk::Char(_) | Tk::Float(_) => num_value(self.num_literal(&tok)?),
            Tk::Sym(Symbol::Hyphen) => num_value(negate(self.number_operand(&tok)?)),
            Tk::Sym(Symbol::Plus) => num_value(self.number_operand(&tok)?),
            Tk::Sym(Symbol::OpenParen) => {
                let t = self.container(Symbol::OpenParen, tok.start)?;
                match SegValue::from_term(&t) {
                    Some(v) => v,
                    None => return Err(not_a_value(self)),
                }
            }
            Tk::Var(name) => return Err(self.variable(&tok, name)),
            Tk::Atom(_) | Tk::Sym(Symbol::OpenSquare | Symbol::OpenBrace | Symbol::Sharp) => {
                return Err(not_a_value(self));
            }
            _ => return Err(self.syntax_before(&tok)),
        })
    }

    /// The optional `:Size` and `/Type-...` after a segment value.
    #[inline(never)]
    fn segment_specs(&mut self) -> Result<(Option<u64>, Vec<Spec>), ParseError> {
        let mut size = None;
        if self.eat_sym(Symbol::Colon)? {
            size = Some(self.segment_size()?);
        }
        let mut specs = Vec::new();
        if self.eat_sym(Symbol::Slash)? {
            loop {
                let tok = self.expect_tok()?;
                match &tok.kind {
                    Tk::Atom(a) if a == "unit" => {
                        self.expect_sym(Symbol::Colon)?;
                        let n = self.expect_tok()?;
                        match &n.kind {
                            Tk::Int(u) => specs.push(Spec::Unit(u.to_u64().unwrap_or(u64::MAX))),
                            _ => return Err(self.syntax_before(&n)),
                        }
                    }
                    Tk::Atom(a) => specs.push(Spec::Type(a.clone())),
                    _ => return Err(self.syntax_before(&tok)),
                }
                if !self.eat_sym(Symbol::Hyphen)? {
                    break;
                }
            }
        }
        Ok((size, specs))
    }

    /// The size after `:`: an integer, possibly in parentheses.
    fn segment_size(&mut self) -> Result<u64, ParseError> {
        let tok = self.expect_tok()?;
        match &tok.kind {
            Tk::Int(n) => Ok(n.to_u64().unwrap_or(u64::MAX)),
            Tk::Sym(Symbol::OpenParen) => self.nested(tok.start, |p| {
                let n = p.segment_size()?;
                p.expect_sym(Symbol::CloseParen)?;
                Ok(n)
            }),
            Tk::Var(name) => Err(self.variable(&tok, name)),
            _ => Err(self.syntax_before(&tok)),
        }
    }
}

fn is_operator(kind: &Tk) -> bool {
    match kind {
        Tk::Sym(s) => matches!(
            s,
            Symbol::Plus
                | Symbol::Hyphen
                | Symbol::Multiply
                | Symbol::Slash
                | Symbol::PlusPlus
                | Symbol::MinusMinus
                | Symbol::Eq
                | Symbol::ExactEq
                | Symbol::NotEq
                | Symbol::ExactNotEq
                | Symbol::Greater
                | Symbol::GreaterEq
                | Symbol::Less
                | Symbol::LessEq
                | Symbol::Bang
                | Symbol::Match
        ),
        Tk::Kw(k) => matches!(
            k,
            Keyword::Div
                | Keyword::Rem
                | Keyword::Band
                | Keyword::Bor
                | Keyword::Bxor
                | Keyword::Bsl
                | Keyword::Bsr
                | Keyword::Bnot
                | Keyword::And
                | Keyword::Or
                | Keyword::Xor
                | Keyword::Not
                | Keyword::Andalso
                | Keyword::Orelse
        ),
        _ => false,
    }
}

fn negate(n: Num) -> Num {
    match n {
        Num::Int(i) => Num::Int(-i),
        Num::Float(f) => Num::Float(-f),
    }
}

fn num_term(n: Num) -> Term {
    match n {
        Num::Int(i) => bigint(i),
        Num::Float(value) => Term::Float(Float { value }),
    }
}

fn num_value(n: Num) -> SegValue {
    match n {
        Num::Int(i) => SegValue::Int(i),
        Num::Float(f) => SegValue::Float(f),
    }
}

/// Longest list BEAM encodes as `STRING_EXT`.
const MAX_BYTE_LIST: usize = 65535;

/// The canonical proper list of `elems`: `[]`, a [`ByteList`] when every
/// element is an integer in `0..=255` (as BEAM encodes it), else a [`List`].
pub(super) fn proper_list(elems: Vec<Term>) -> Term {
    if elems.is_empty() {
        return nil();
    }
    if elems.len() <= MAX_BYTE_LIST {
        let bytes: Option<Vec<u8>> = elems
            .iter()
            .map(|e| match e {
                Term::FixInteger(i) => u8::try_from(i.value).ok(),
                _ => None,
            })
            .collect();
        if let Some(bytes) = bytes {
            return Term::ByteList(ByteList { bytes });
        }
    }
    Term::List(List { elements: elems })
}

/// A string literal as a canonical list of characters.
fn chars_to_list(chars: impl Iterator<Item = u32>) -> Term {
    proper_list(chars.map(|c| int(i64::from(c))).collect())
}

/// `[E1, ..., En | Tail]`, flattened when the tail is itself a list.
fn make_list(mut elems: Vec<Term>, tail: Option<Term>) -> Term {
    match tail {
        None => proper_list(elems),
        Some(Term::List(l)) => {
            elems.extend(l.elements);
            proper_list(elems)
        }
        Some(Term::ByteList(b)) => {
            elems.extend(b.bytes.iter().map(|&c| int(i64::from(c))));
            proper_list(elems)
        }
        Some(Term::ImproperList(il)) => {
            elems.extend(il.elements);
            Term::ImproperList(ImproperList {
                elements: elems,
                last: il.last,
            })
        }
        Some(other) => Term::ImproperList(ImproperList {
            elements: elems,
            last: Box::new(other),
        }),
    }
}
