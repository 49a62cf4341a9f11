//! Tests for the term text parser and printer. Expected values marked
//! "erl:" were checked against OTP 25 with
//! `erl -noshell -eval 'io:format("~w~n", [file:consult("x.config")]), halt().'`.

use super::*;
use crate::term;
use crate::term::{
    Atom, BitBinary, ExternalFun, Float, atom, bigint, binary, charlist, improper_list, int, list,
    map, nil,
};
use num_bigint::BigInt;

fn one(src: &str) -> Term {
    match parse_term(src) {
        Ok(t) => t,
        Err(e) => panic!("{src:?}: {e}"),
    }
}

fn err(src: &str) -> String {
    match parse_terms(src) {
        Ok(t) => panic!("{src:?} parsed as {t:?}"),
        Err(e) => e.to_string(),
    }
}

fn err1(src: &str) -> String {
    match parse_term(src) {
        Ok(t) => panic!("{src:?} parsed as {t:?}"),
        Err(e) => e.to_string(),
    }
}

fn float(value: f64) -> Term {
    Term::Float(Float { value })
}

fn bits(bytes: Vec<u8>, tail: u8) -> Term {
    Term::BitBinary(BitBinary {
        bytes,
        tail_bits_size: tail,
    })
}

#[test]
fn atoms() {
    let cases: &[(&str, &str)] = &[
        ("a", "a"),
        ("foo_Bar@1", "foo_Bar@1"),
        ("'Foo'", "Foo"),
        ("'it\\'s'", "it's"),
        ("'a b'", "a b"),
        ("''", ""),
        ("'\\x{1F600}'", "\u{1F600}"),
        ("'\\n'", "\n"),
        ("ñ", "ñ"),
        ("'cp1@host'", "cp1@host"),
        ("cp1@host", "cp1@host"),
        // OTP 25/26 atoms, reserved only from OTP 27 on.
        ("maybe", "maybe"),
        ("else", "else"),
        ("'case'", "case"),
    ];
    for (src, name) in cases {
        assert_eq!(one(src), atom(name), "{src}");
    }
}

#[test]
fn integers() {
    let cases: &[(&str, i64)] = &[
        ("0", 0),
        ("42", 42),
        ("-1", -1),
        ("- 5", -5),
        ("+3", 3),
        ("-(1)", -1),
        ("16#ff", 255),
        ("16#FF", 255),
        ("2#1010", 10),
        ("36#zz", 1295),
        ("1_000", 1000),
        ("16#ff_ff", 65535),
        ("$a", 97),
        ("$\\n", 10),
        ("$\\x{41}", 65),
        ("$\\101", 65),
        ("$\\^A", 1),
        ("$\\s", 32),
        ("-$a", -97),
        ("2147483647", 2_147_483_647),
        ("2147483648", 2_147_483_648),
        ("-2147483649", -2_147_483_649),
    ];
    for (src, v) in cases {
        assert_eq!(one(src), int(*v), "{src}");
    }
    // Small values use the 32-bit representation, as BEAM encodes them.
    assert!(matches!(one("7"), Term::FixInteger(_)));
}

#[test]
fn big_integers() {
    // erl: 123456789012345678901234567890
    let big: BigInt = "123456789012345678901234567890".parse().unwrap();
    assert_eq!(one("123456789012345678901234567890"), bigint(big.clone()));
    assert_eq!(one("-123456789012345678901234567890"), bigint(-big));
    let hex: BigInt = BigInt::parse_bytes(b"ffffffffffffffffffffffff", 16).unwrap();
    assert_eq!(one("16#ffff_ffff_ffff_ffff_ffff_ffff"), bigint(hex));
    assert_eq!(one("18446744073709551615"), bigint(BigInt::from(u64::MAX)));
}

#[test]
fn floats() {
    let cases: &[(&str, f64)] = &[
        ("1.5", 1.5),
        ("1.0e3", 1000.0),
        ("1.0E3", 1000.0),
        ("2.5e-3", 0.0025),
        ("-0.5", -0.5),
        ("1_000.5", 1000.5),
        ("0.1", 0.1),
    ];
    for (src, v) in cases {
        assert_eq!(one(src), float(*v), "{src}");
    }
}

#[test]
fn strings() {
    assert_eq!(one(r#""abc""#), charlist("abc"));
    assert_eq!(one(r#""""#), nil());
    // erl: "a" "b" "c" is "abc".
    assert_eq!(one(r#""a" "b"  "c""#), charlist("abc"));
    assert_eq!(one("\"a\"\n%% comment\n\"b\""), charlist("ab"));
    assert_eq!(one(r#""\t\s\e\d""#), charlist("\t \u{1b}\u{7f}"));
    assert_eq!(one(r#""é""#), charlist("é"));
    assert_eq!(one(r#""\x{100}a""#), list(vec![int(256), int(97)]));
    // A string and the list of its codes are the same term.
    assert_eq!(one("[97,98]"), one(r#""ab""#));
    assert_eq!(one("[$a|\"bc\"]"), charlist("abc"));
    // OTP 27 triple-quoted strings and sigils.
    assert_eq!(one("\"\"\"\n  abc\n  \"\"\""), charlist("abc"));
    assert_eq!(one(r#"~"abc""#), binary(b"abc".to_vec()));
    assert_eq!(one(r#"~b"a\nb""#), binary(b"a\nb".to_vec()));
    assert_eq!(one(r#"~s"abc""#), charlist("abc"));
}

#[test]
fn lists_tuples_maps() {
    assert_eq!(one("[]"), nil());
    assert_eq!(one("[ ]"), nil());
    assert_eq!(one("{}"), term!({}));
    assert_eq!(one("{a}"), term!({ a }));
    assert_eq!(one("[a, {b, [c]}]"), list(vec![atom("a"), term!({b, [c]})]));
    assert_eq!(one("[a|b]"), improper_list(vec![atom("a")], atom("b")));
    // erl: [a|[b|c]] is [a,b|c]; [a|[]] is [a].
    assert_eq!(
        one("[a|[b|c]]"),
        improper_list(vec![atom("a"), atom("b")], atom("c"))
    );
    assert_eq!(one("[a|[]]"), list(vec![atom("a")]));
    assert_eq!(one("[a|[b]]"), list(vec![atom("a"), atom("b")]));
    assert_eq!(one("#{}"), map(vec![]));
    assert_eq!(
        one("#{a => 1, \"k\" => [x]}"),
        map(vec![
            (atom("a"), int(1)),
            (charlist("k"), list(vec![atom("x")]))
        ])
    );
    // erl: #{a=>1, a=>2} is #{a => 2}.
    assert_eq!(one("#{a => 1, a => 2}"), map(vec![(atom("a"), int(2))]));
    assert_eq!(one("#{#{} => {}}"), map(vec![(map(vec![]), term!({}))]));
    // erl: (a) and {(a),[(b)]} are fine.
    assert_eq!(one("(a)"), atom("a"));
    assert_eq!(one("{(a),[(b)]}"), term!({a, [b]}));
    assert_eq!(
        one("fun lists:map/2"),
        Term::from(ExternalFun {
            module: Atom::from("lists"),
            function: Atom::from("map"),
            arity: 2,
        })
    );
}

#[test]
fn binaries() {
    // Every expected value below is erl's.
    let cases: &[(&str, Term)] = &[
        ("<<>>", binary(vec![])),
        (r#"<<"bin">>"#, binary(b"bin".to_vec())),
        ("<<1,2,3>>", binary(vec![1, 2, 3])),
        (r#"<<"a"/utf8>>"#, binary(b"a".to_vec())),
        (r#"<<"é"/utf8>>"#, binary("é".as_bytes().to_vec())),
        (r#"<<"é">>"#, binary(vec![233])),
        (r#"<<"\x{100}">>"#, binary(vec![0])),
        ("<<300>>", binary(vec![44])),
        ("<<-1>>", binary(vec![255])),
        ("<<-1:16/little>>", binary(vec![255, 255])),
        ("<<1:16>>", binary(vec![0, 1])),
        ("<<16#123:12>>", bits(vec![0x12, 3], 4)),
        ("<<16#123:12/little>>", bits(vec![35, 1], 4)),
        ("<<1:4>>", bits(vec![1], 4)),
        ("<<1:3/unit:8>>", binary(vec![0, 0, 1])),
        (r#"<<"ab":16>>"#, binary(vec![0, 97, 0, 98])),
        (r#"<<"a"/float>>"#, binary(vec![64, 88, 64, 0, 0, 0, 0, 0])),
        ("<<1/float>>", binary(vec![63, 240, 0, 0, 0, 0, 0, 0])),
        ("<<1.5:32/float-little>>", binary(vec![0, 0, 192, 63])),
        ("<<1.0e300:32/float>>", binary(vec![127, 128, 0, 0])),
        ("<<1:16/float>>", binary(vec![60, 0])),
        ("<<-2.5:16/float>>", binary(vec![0xc1, 0x00])),
        (r#"<<"é"/utf16-little>>"#, binary(vec![233, 0])),
        ("<<$a/utf32>>", binary(vec![0, 0, 0, 97])),
        ("<<16#1F600/utf16>>", binary(vec![0xd8, 0x3d, 0xde, 0x00])),
        ("<<(<<1,2>>)/binary, 3>>", binary(vec![1, 2, 3])),
        ("<<<<1,2>>/binary>>", binary(vec![1, 2])),
        ("<<<<1:4>>/bits, 1:4>>", binary(vec![17])),
        ("<<(<<1,2,3>>):2/binary>>", binary(vec![1, 2])),
        ("<<(<<1,2,3>>):1/bits>>", bits(vec![0], 1)),
        ("<<1:0>>", binary(vec![])),
        (r#"<<"abc":0>>"#, binary(vec![])),
        ("<<(1), (\"ab\")>>", binary(vec![1, 97, 98])),
        ("<<1:(8)/integer-unsigned-big>>", binary(vec![1])),
        ("<<1:8/signed-native>>", binary(vec![1])),
    ];
    for (src, want) in cases {
        assert_eq!(&one(src), want, "{src}");
    }
}

#[test]
fn consult_sequences() {
    assert_eq!(parse_terms("").unwrap(), vec![]);
    assert_eq!(parse_terms("%% only a comment\n").unwrap(), vec![]);
    assert_eq!(
        parse_terms("[a].\n[b]. %% trailing\n").unwrap(),
        vec![list(vec![atom("a")]), list(vec![atom("b")])]
    );
    // A dot at the very end, or before a comment, ends the term.
    assert_eq!(parse_terms("a.").unwrap(), vec![atom("a")]);
    assert_eq!(parse_terms("a.%c\nb.").unwrap(), vec![atom("a"), atom("b")]);
    assert_eq!(parse_terms("1.\t2.\r\n").unwrap(), vec![int(1), int(2)]);
    // parse_term: the final dot is optional, trailing white space is fine.
    assert_eq!(one("a."), atom("a"));
    assert_eq!(one("  a . \n"), atom("a"));
}

#[test]
fn syntax_errors() {
    let cases: &[(&str, &str)] = &[
        // erl: {error,{1,erl_parse,["syntax error before: ","']'"]}}
        ("[a,].", "1:4: syntax error before: ']'"),
        ("[{kernel,\n  [{a,1},]}].", "2:10: syntax error before: ']'"),
        // erl: line 2, "syntax error before: '.'"
        ("%% c\n[a. b].", "2:3: syntax error before: '.'"),
        // erl: "syntax error before: '.'" (a dot not followed by white space)
        ("{a}.{b}.", "1:4: syntax error before: '.'"),
        // erl: "syntax error before: '['"
        ("[a,b] [c].", "1:7: syntax error before: '['"),
        ("{a b}.", "1:4: syntax error before: b"),
        ("[a|b|c].", "1:5: syntax error before: '|'"),
        ("#{a}.", "1:4: syntax error before: '}'"),
        ("#{a => }.", "1:8: syntax error before: '}'"),
        ("<<1:-1>>.", "1:5: syntax error before: '-'"),
        (")", "1:1: syntax error before: ')'"),
        ("[a] b.", "1:5: syntax error before: b"),
        (
            "[\"a very long string that goes on and on and on\" x].",
            "1:50: syntax error before: x",
        ),
        (
            "[x \"a very long string that goes on and on and on\"].",
            "1:4: syntax error before: \"a very long string that goes on and ...",
        ),
        // erl: "syntax error before: ']'" (reserved word)
        (
            "[case].",
            "1:2: syntax error before: 'case' (a reserved word; write 'case' in quotes for the atom)",
        ),
        // erl (load_file): "no ending <dot> found"
        ("[a]", "1:4: no ending <dot> found"),
        ("[a", "1:3: no ending <dot> found"),
        ("[a].\n[b", "2:3: no ending <dot> found"),
    ];
    for (src, want) in cases {
        assert_eq!(err(src), *want, "{src:?}");
    }
}

#[test]
fn bad_terms() {
    let cases: &[(&str, &str)] = &[
        // erl: {error,{1,erl_parse,"bad term"}} for each of these.
        (
            "{a, X}.",
            "1:5: bad term: variable X (a term cannot contain variables; write 'X' for an atom)",
        ),
        (
            "[_].",
            "1:2: bad term: variable _ (a term cannot contain variables; write '_' for an atom)",
        ),
        (
            "#{a := 1}.",
            "1:5: bad term: ':=' in a map literal (use '=>')",
        ),
        (
            "1 + 2.",
            "1:3: bad term: operator '+' (expressions are not allowed in a term)",
        ),
        (
            "[1 -2].",
            "1:4: bad term: operator '-' (expressions are not allowed in a term)",
        ),
        (
            "[a ++ b].",
            "1:4: bad term: operator '++' (expressions are not allowed in a term)",
        ),
        (
            "{a = b}.",
            "1:4: bad term: operator '=' (expressions are not allowed in a term)",
        ),
        (
            "[1 div 2].",
            "1:4: bad term: operator 'div' (expressions are not allowed in a term)",
        ),
        (
            "[not a].",
            "1:2: bad term: operator 'not' (expressions are not allowed in a term)",
        ),
        (
            "-(-1).",
            "1:1: bad term: unary '-' applies only to a number",
        ),
        ("-a.", "1:1: bad term: unary '-' applies only to a number"),
        (
            "- \"a\".",
            "1:1: bad term: unary '-' applies only to a number",
        ),
        (
            "#rec{}.",
            "1:2: bad term: records are not allowed in a term",
        ),
        (
            "fun(X) -> X end.",
            "1:1: bad term: only external funs (fun M:F/A) are allowed in a term",
        ),
        (
            "fun foo/1.",
            "1:1: bad term: only external funs (fun M:F/A) are allowed in a term",
        ),
        (
            "fun m:f/256.",
            "1:9: bad term: fun arity must be at most 255",
        ),
        (
            "<<a>>.",
            "1:3: bad term: binary segment: not a number, string or binary",
        ),
        (
            "<<1/binary>>.",
            "1:3: bad term: binary segment: binary and bitstring segments take a binary",
        ),
        (
            "<<1:8/utf8>>.",
            "1:3: bad term: binary segment: utf8/utf16/utf32 segments take no size or unit",
        ),
        (
            "<<16#110000/utf8>>.",
            "1:3: bad term: binary segment: 1114112 is not a Unicode code point",
        ),
        (
            "<<16#D800/utf8>>.",
            "1:3: bad term: binary segment: 55296 is not a Unicode code point",
        ),
        (
            "<<1/unit:8>>.",
            "1:3: bad term: binary segment: a unit needs a size",
        ),
        (
            "<<\"a\"/binary>>.",
            "1:3: bad term: binary segment: binary and bitstring segments take a binary",
        ),
        (
            "<<<<1:4>>/binary>>.",
            "1:3: bad term: binary segment: a bit string of 4 bits is not a multiple of unit 8",
        ),
        (
            "<<1.5>>.",
            "1:3: bad term: binary segment: a float needs the float type",
        ),
        (
            "<<1:24/float>>.",
            "1:3: bad term: binary segment: a float must be 16, 32 or 64 bits, not 24",
        ),
        (
            "<<1/foo>>.",
            "1:3: bad term: binary segment: unknown type specifier foo",
        ),
        (
            "<<1/integer-float>>.",
            "1:3: bad term: binary segment: conflicting types (float)",
        ),
        (
            "<<1/big-little>>.",
            "1:3: bad term: binary segment: conflicting endianness",
        ),
        (
            "<<1:8/unit:300>>.",
            "1:3: bad term: binary segment: unit:300 is out of range 1..256",
        ),
        (
            "<<0:8388609>>.",
            "1:3: bad term: binary segment: more than 8388608 bits of binary data in one text",
        ),
        (
            "<<0:(1 bsl 70)>>.",
            "1:8: bad term: operator 'bsl' (expressions are not allowed in a term)",
        ),
        (
            "<<0:1180591620717411303424>>.",
            "1:3: bad term: binary segment: more than 8388608 bits of binary data in one text",
        ),
        (
            "<<0:8388608/unit:2>>.",
            "1:3: bad term: binary segment: more than 8388608 bits of binary data in one text",
        ),
        (
            "[<<0:8388600>>, <<1,2>>].",
            "1:21: bad term: binary segment: more than 8388608 bits of binary data in one text",
        ),
        (
            "<<\"abcdefghij\":1048576>>.",
            "1:3: bad term: binary segment: more than 8388608 bits of binary data in one text",
        ),
        (
            "<<(<<1>>):16/binary>>.",
            "1:3: bad term: binary segment: size 128 bits is larger than the 8-bit value",
        ),
        (
            "<<X>>.",
            "1:3: bad term: variable X (a term cannot contain variables; write 'X' for an atom)",
        ),
        (
            "<<1:N>>.",
            "1:5: bad term: variable N (a term cannot contain variables; write 'N' for an atom)",
        ),
        ("~x\"a\".", "1:1: bad term: sigil ~x is not supported"),
    ];
    for (src, want) in cases {
        assert_eq!(err(src), *want, "{src:?}");
    }
}

#[test]
fn scan_errors() {
    let long = format!("'{}'.", "a".repeat(256));
    let cases: &[(&str, &str)] = &[
        // erl_scan: {string,34,"abc"} is "unterminated string starting with \"abc\"".
        ("\"abc", "1:1: unterminated string starting with \"abc\""),
        (
            "[{a, \"abcdefghijklmnopqrstuvwxyz}].",
            "1:6: unterminated string starting with \"abcdefghijklmnop\"",
        ),
        ("'abc", "1:1: unterminated atom starting with 'abc'"),
        ("1.0e400.", "1:1: illegal float"),
        ("$", "1:1: illegal character literal"),
        ("[\u{2603}].", "1:2: illegal character '\u{2603}'"),
        (
            "\"a\"\"b\".",
            "1:4: adjacent string literals without intervening white space",
        ),
        // erl_scan: {illegal,atom}
        (&long, "1:1: illegal atom (longer than 255 characters)"),
    ];
    for (src, want) in cases {
        assert_eq!(err(src), *want, "{src:?}");
    }
}

#[test]
fn columns_count_characters() {
    // "é" is two bytes but one column.
    assert_eq!(err("[\"é\", ]."), "1:7: syntax error before: ']'");
    assert_eq!(err("\n\n   [a,]."), "3:7: syntax error before: ']'");
}

#[test]
fn single_term_errors() {
    assert_eq!(err1(""), "1:1: unexpected end of input");
    assert_eq!(err1("  "), "1:3: unexpected end of input");
    assert_eq!(err1("[a"), "1:3: unexpected end of input");
    assert_eq!(err1("a b"), "1:3: syntax error before: b");
    assert_eq!(err1("a. b"), "1:4: syntax error before: b");
    assert_eq!(err1("a.."), "1:2: syntax error before: '..'");
    assert_eq!(err1("foo bar"), "1:5: syntax error before: bar");
}

#[test]
fn error_with_file() {
    let e = parse_terms("[a,].").unwrap_err().with_file("cp1.config");
    assert_eq!(e.to_string(), "cp1.config:1:4: syntax error before: ']'");
    assert_eq!((e.line, e.column), (1, 4));
    assert_eq!(e.kind, ParseErrorKind::SyntaxBefore("']'".into()));
}

#[test]
fn depth_is_limited() {
    let ok = format!("{}{}", "[".repeat(MAX_DEPTH), "]".repeat(MAX_DEPTH));
    assert!(parse_term(&ok).is_ok());
    let deep = format!("{}{}", "[".repeat(MAX_DEPTH + 1), "]".repeat(MAX_DEPTH + 1));
    let e = parse_term(&deep).unwrap_err();
    assert_eq!(e.kind, ParseErrorKind::TooDeep);
    assert_eq!(e.column, MAX_DEPTH + 1);
    // Far deeper input of every nesting kind fails cleanly, without
    // exhausting the (2 MiB) test thread stack.
    let parens = "(".repeat(100_000);
    let prefixed = [
        format!("-{parens}"),
        format!("<<1:{parens}"),
        format!("<<-{parens}"),
    ];
    for open in ["[", "{", "#{", "<<", "<<(", "(", "[a|", "#{a=>"] {
        let src = open.repeat(100_000);
        let e = parse_term(&src).unwrap_err();
        assert_eq!(e.kind, ParseErrorKind::TooDeep, "{open}");
    }
    for src in prefixed {
        let e = parse_term(&src).unwrap_err();
        assert_eq!(e.kind, ParseErrorKind::TooDeep, "{}", &src[..5]);
    }
}

#[test]
fn print_round_trips() {
    let srcs = [
        "a",
        "'Foo'",
        "'it\\'s'",
        "''",
        "'case'",
        "maybe",
        "'\\x{1F600}'",
        "'a\\nb'",
        "-12",
        "123456789012345678901234567890",
        "-123456789012345678901234567890",
        "1.5",
        "-0.0",
        "1.0e-7",
        "1.7976931348623157e308",
        "5.0e-324",
        "0.1",
        "\"abc\"",
        "\"a\\\"b\\\\c\\n\\x{0}\\x{7f}\\x{9f}\"",
        "\"é\\x{100}\"",
        "[]",
        "{}",
        "[1,2,300]",
        "[a|b]",
        "[a,b|<<1>>]",
        "{a,{b,[c,\"d\"]},#{k=>v,<<1>>=><<2>>,-1=>-1.5}}",
        "<<>>",
        "<<1,2,3>>",
        "<<1:1>>",
        "<<255,127:7>>",
        "fun 'M':'f-g'/0",
        "#{{a}=>[#{}]}",
    ];
    for src in srcs {
        let t = one(src);
        let printed = to_text(&t).unwrap_or_else(|| panic!("{src}: no text"));
        assert_eq!(one(&printed), t, "{src} printed as {printed}");
    }
    assert_eq!(
        to_text(&one("[a,'B',\"c\",1.5,-2]")).as_deref(),
        Some("[a,'B',\"c\",1.5e0,-2]")
    );
    assert_eq!(to_text(&one("'else'")).as_deref(), Some("'else'"));
}

#[test]
fn print_rejects_terms_without_text() {
    let pid = Term::Pid(crate::term::Pid::new("a@b", 1, 2, 3));
    assert_eq!(to_text(&pid), None);
    assert_eq!(to_text(&list(vec![atom("ok"), pid])), None);
    assert_eq!(to_text(&float(f64::NAN)), None);
    let mut deep = nil();
    for _ in 0..2000 {
        deep = list(vec![deep]);
    }
    assert_eq!(to_text(&deep), None);
}
