//! Property tests: the checks of `fuzz/fuzz_targets/config_text.rs`, run
//! over deterministic pseudo-random inputs so that `cargo test` covers them.

use super::*;
use crate::term::exact_eq;

/// A small deterministic generator (xorshift), so that the properties of
/// `fuzz/fuzz_targets/config_text.rs` also run under `cargo test`.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len())]
    }
}

/// Round trip through the printer, as the fuzz target checks it.
fn check_round_trip(src: &str) {
    let check = |t: &Term| {
        let text = to_text(t).unwrap_or_else(|| panic!("{src:?}: no text"));
        let back = parse_term(&text).unwrap_or_else(|e| panic!("{src:?} printed as {text:?}: {e}"));
        assert!(
            exact_eq(&back, t),
            "{src:?} printed as {text:?}: {back:?} != {t:?}"
        );
    };
    if let Ok(terms) = parse_terms(src) {
        terms.iter().for_each(check);
    }
    if let Ok(t) = parse_term(src) {
        check(&t);
    }
}

#[test]
fn token_soup_never_panics_and_round_trips() {
    const FRAGMENTS: &[&str] = &[
        "[",
        "]",
        "{",
        "}",
        "#{",
        "#",
        "=>",
        ":=",
        "<<",
        ">>",
        ",",
        "|",
        ".",
        ". ",
        " ",
        "\n",
        "%c\n",
        "a",
        "'Q x'",
        "'\\n'",
        "X",
        "_",
        "1",
        "-",
        "+",
        "16#fF",
        "1_0",
        "$a",
        "$\\n",
        "1.5e3",
        "\"s\"",
        "\"é\\x{100}\"",
        ":",
        "/",
        "utf8",
        "binary",
        "bits",
        "integer",
        "little",
        "float",
        "unit",
        "(",
        ")",
        "fun",
        "m",
        "case",
        "maybe",
        "~\"x\"",
        "~s\"y\"",
        "123456789012345678901234567890",
        "2.0",
        "0",
        "8",
        "300",
        "$",
        "\"",
        "'",
        "\\",
        "\u{2603}",
        "é",
        "..",
        "=",
        "++",
        "div",
    ];
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    for _ in 0..20_000 {
        let n = 1 + rng.below(24);
        let src: String = (0..n).map(|_| rng.pick(FRAGMENTS)).collect();
        check_round_trip(&src);
        let _ = crate::config::SysConfig::parse(&src);
    }
}

/// Text of a random valid term, `depth` levels deep at most.
fn gen_term(rng: &mut Rng, depth: usize, out: &mut String) {
    const LEAVES: &[&str] = &[
        "a",
        "'B c'",
        "''",
        "0",
        "-7",
        "2147483648",
        "-123456789012345678901234567890",
        "16#ff",
        "$z",
        "1.0e-3",
        "-2.5",
        "\"str\"",
        "\"\"",
        "\"\\x{263A}\"",
        "[]",
        "{}",
        "#{}",
        "<<>>",
        "<<1,2>>",
        "<<\"é\"/utf8>>",
        "<<5:3>>",
        "<<1.5/float>>",
        "fun m:f/2",
        "~\"sig\"",
        "[300]",
    ];
    let choice = if depth == 0 { 0 } else { rng.below(6) };
    let seq = |rng: &mut Rng, out: &mut String, open: &str, close: &str| {
        out.push_str(open);
        for i in 0..rng.below(4) {
            if i > 0 {
                out.push_str(", ");
            }
            gen_term(rng, depth - 1, out);
        }
        out.push_str(close);
    };
    match choice {
        0 | 1 => out.push_str(rng.pick(LEAVES)),
        2 => seq(rng, out, "[", "]"),
        3 => seq(rng, out, "{", "}"),
        4 => {
            out.push('[');
            gen_term(rng, depth - 1, out);
            out.push_str(" | ");
            gen_term(rng, depth - 1, out);
            out.push(']');
        }
        _ => {
            out.push_str("#{");
            for i in 0..rng.below(3) {
                if i > 0 {
                    out.push(',');
                }
                gen_term(rng, depth - 1, out);
                out.push_str(" => ");
                gen_term(rng, depth - 1, out);
            }
            out.push('}');
        }
    }
}

#[test]
fn random_valid_terms_parse_and_round_trip() {
    let mut rng = Rng(0x2545_F491_4F6C_DD1D);
    for _ in 0..5_000 {
        let mut src = String::new();
        gen_term(&mut rng, 5, &mut src);
        assert!(parse_term(&src).is_ok(), "{src}");
        src.push_str(".\n");
        check_round_trip(&src);
    }
}
