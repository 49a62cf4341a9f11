//! Printing, compared with `io:format("~0p~n", [T])` on OTP 27 (OTP 25
//! differs only in not quoting `maybe` and `else`). The golden corpus test
//! (`codec/corpus_test.rs`) also checks every corpus term against the
//! `~0p` output BEAM recorded for it.

use super::*;
use crate::term;
use crate::term::{
    BigInteger, BitBinary, ExternalFun, Float, ImproperList, Pid, Port, Reference, atom, binary,
    charlist, improper_list, int, list, map, nil, tuple,
};

#[track_caller]
fn prints(t: Term, expected: &str) {
    assert_eq!(Pretty(&t).to_string(), expected);
}

fn atom_from_chars(chars: &[u32]) -> Term {
    atom(
        &chars
            .iter()
            .filter_map(|&c| char::from_u32(c))
            .collect::<String>(),
    )
}

#[test]
fn atoms_are_quoted_only_when_needed() {
    let cases = [
        ("ok", "ok"),
        ("hello world", "'hello world'"),
        ("Elixir.Distro.DistroCal", "'Elixir.Distro.DistroCal'"),
        ("a@b.c", "'a@b.c'"),
        ("foo@bar", "foo@bar"),
        ("a1@Z_9", "a1@Z_9"),
        ("", "''"),
        ("é", "é"),
        ("ÿx", "ÿx"),
        ("ß", "ß"),
        ("é@", "é@"),
        ("aÀ", "aÀ"),
        ("x÷", "'x÷'"),
        ("Ça", "'Ça'"),
        ("_a", "'_a'"),
        ("A", "'A'"),
        ("1a", "'1a'"),
        ("a-b", "'a-b'"),
        ("a.b", "'a.b'"),
        ("a'b", "'a\\'b'"),
        ("a\\b", "'a\\\\b'"),
        ("a\nb", "'a\\nb'"),
        ("a\tb", "'a\\tb'"),
        ("a\"b", "'a\"b'"),
        ("true", "true"),
        ("$end", "'$end'"),
        ("and", "'and'"),
        ("fun", "'fun'"),
        ("receive", "'receive'"),
        ("orelse", "'orelse'"),
        ("cond", "'cond'"),
        ("maybe", "'maybe'"),
        ("else", "'else'"),
        ("hello_世界", "'hello_\\x{4E16}\\x{754C}'"),
        ("世", "'\\x{4E16}'"),
    ];
    for (name, expected) in cases {
        prints(atom(name), expected);
    }
    // list_to_atom([1, $a]), "a" ++ [127], [$a, 150], [$a, 160]
    prints(atom_from_chars(&[1, 97]), "'\\001a'");
    prints(atom_from_chars(&[97, 127]), "'a\\d'");
    prints(atom_from_chars(&[97, 150]), "'a\\226'");
    prints(atom_from_chars(&[97, 160]), "'a\u{a0}'");
}

#[test]
fn lists_and_strings() {
    prints(nil(), "[]");
    prints(charlist("abc"), "\"abc\"");
    prints(charlist("a\nb\t\"c\\"), "\"a\\nb\\t\\\"c\\\\\"");
    prints(charlist("\"'"), "\"\\\"'\"");
    prints(charlist("é"), "\"é\"");
    prints(charlist("\u{1b}\u{b}\u{8}\u{c}\r"), "\"\\e\\v\\b\\f\\r\"");
    prints(list(vec![int(160)]), "\"\u{a0}\"");
    prints(list(vec![int(1), int(2)]), "[1,2]");
    prints(list(vec![int(97), int(1)]), "[97,1]");
    prints(list(vec![int(127)]), "[127]");
    prints(list(vec![int(31)]), "[31]");
    prints(list(vec![int(256)]), "[256]");
    prints(list(vec![int(955), int(956)]), "[955,956]");
    prints(list(vec![int(-1)]), "[-1]");
    prints(list(vec![int(0)]), "[0]");
    prints(list(vec![nil()]), "[[]]");
    prints(
        list(vec![charlist("ab"), charlist("cd")]),
        "[\"ab\",\"cd\"]",
    );
    prints(list(vec![term!({a, 1})]), "[{a,1}]");
    prints(improper_list(vec![int(1)], int(2)), "[1|2]");
    prints(
        improper_list(vec![atom("a"), atom("b")], atom("c")),
        "[a,b|c]",
    );
    prints(
        improper_list(vec![int(97)], binary(*b"b")),
        "[97|<<\"b\">>]",
    );
    // Hand-built: [$a | "b"] is the string "ab"; [] ++ x is x.
    prints(improper_list(vec![int(97)], charlist("b")), "\"ab\"");
    prints(
        Term::ImproperList(ImproperList::from((vec![], atom("x")))),
        "x",
    );
}

#[test]
fn binaries_and_bitstrings() {
    prints(binary(*b"text"), "<<\"text\">>");
    prints(binary(vec![1, 2, 3]), "<<1,2,3>>");
    prints(binary(Vec::new()), "<<>>");
    prints(binary(*b"a\nb"), "<<\"a\\nb\">>");
    prints(binary(*b"\"'"), "<<\"\\\"'\">>");
    // <<"é"/utf8>> is two Latin-1 characters to ~p.
    prints(binary("é".as_bytes().to_vec()), "<<\"Ã©\">>");
    prints(binary(vec![233]), "<<\"é\">>");
    prints(binary(vec![97, 1]), "<<97,1>>");
    prints(binary(vec![97, 127]), "<<97,127>>");
    let bits = |bytes: Vec<u8>, n| Term::BitBinary(BitBinary::from((bytes, n)));
    prints(bits(vec![1], 3), "<<1:3>>");
    prints(bits(vec![1, 2, 3], 4), "<<1,2,3:4>>");
    prints(bits(vec![97, 98, 5], 3), "<<97,98,5:3>>");
    prints(bits(vec![127], 7), "<<127:7>>");
}

#[test]
fn tuples_and_maps() {
    prints(term!({}), "{}");
    prints(term!({ a }), "{a}");
    prints(term!({a, {b, c}}), "{a,{b,c}}");
    prints(
        term!({1, (charlist("x")), (binary(*b"y"))}),
        "{1,\"x\",<<\"y\">>}",
    );
    prints(map(vec![]), "#{}");
    prints(map(vec![(atom("a"), int(1))]), "#{a => 1}");
    prints(
        map(vec![
            (charlist("k"), term!({ x })),
            (atom("b"), list(vec![int(1)])),
            (int(1), Term::Float(Float { value: 2.0 })),
        ]),
        "#{1 => 2.0,b => [1],\"k\" => {x}}",
    );
    prints(
        term!({[1, 2, 3], (map(vec![(tuple(vec![atom("a")]), list(vec![atom("x")]))]))}),
        "{[1,2,3],#{{a} => [x]}}",
    );
}

#[test]
fn numbers() {
    prints(int(-42), "-42");
    prints(
        Term::BigInteger(BigInteger {
            value: "12345678901234567890".parse().unwrap(),
        }),
        "12345678901234567890",
    );
    // io:format("~0p", [F]) for each F.
    let cases = [
        (1.0, "1.0"),
        (0.1, "0.1"),
        (0.1 + 0.2, "0.30000000000000004"),
        (1.0e10, "1.0e10"),
        (1.0e15, "1.0e15"),
        (1.0e16, "1.0e16"),
        (123_456_789_012_345_678.0, "1.2345678901234568e17"),
        (1.0e21, "1.0e21"),
        (1.0e23, "1.0e23"),
        (0.001, "0.001"),
        (0.0001, "0.0001"),
        (1.0e-5, "1.0e-5"),
        (0.000_123_45, "1.2345e-4"),
        (0.000_123, "1.23e-4"),
        (1.25e-5, "1.25e-5"),
        (4.35e-5, "4.35e-5"),
        (1.5e-7, "1.5e-7"),
        (5.0e-324, "5.0e-324"),
        (f64::MAX, "1.7976931348623157e308"),
        (-0.0, "-0.0"),
        (0.0, "0.0"),
        (-1.5, "-1.5"),
        (100.0, "100.0"),
        (1.0e100, "1.0e100"),
        (2.5e-10, "2.5e-10"),
        (123.456, "123.456"),
        (1_234_567.0, "1234567.0"),
        (123_456_789.0, "123456789.0"),
        (1.0e9, "1.0e9"),
        (0.5, "0.5"),
        (3.0e5, "3.0e5"),
        (12_340.0, "12340.0"),
        (123_400.0, "1.234e5"),
        (9_007_199_254_740_992.0, "9.007199254740992e15"),
        (9_007_199_254_740_991.0, "9007199254740991.0"),
        (4_503_599_627_370_496.5, "4503599627370496.0"),
        (1_801_439_850_948_198.5, "1801439850948198.5"),
        (18_014_398_509_481_984.0, "1.8014398509481984e16"),
        (36_028_797_018_963_970.0, "3.602879701896397e16"),
        (1.5e300, "1.5e300"),
    ];
    for (value, expected) in cases {
        prints(Term::Float(Float { value }), expected);
    }
}

#[test]
fn pids_ports_refs_funs() {
    prints(Term::Pid(Pid::new("a@h", 5, 7, 1)), "<a@h.5.7>");
    prints(Term::Port(Port::from(("a@h", 5))), "#Port<a@h.5>");
    // BEAM prints the id words last first: [1,2,3] is #Ref<N.3.2.1>.
    prints(
        Term::Reference(Box::new(Reference::from(("a@h", vec![1, 2, 3])))),
        "#Ref<a@h.3.2.1>",
    );
    let ext = |m, f, a| Term::ExternalFun(Box::new(ExternalFun::from((m, f, a))));
    prints(ext("lists", "map", 2), "fun lists:map/2");
    prints(ext("erlang", "+", 2), "fun erlang:'+'/2");
    prints(ext("Elixir.Foo", "bar?", 1), "fun 'Elixir.Foo':'bar?'/1");
    // #Fun<Module.OldIndex.OldUniq>, the module unquoted
    let local = |module: &str| {
        Term::InternalFun(Box::new(crate::term::InternalFun::New {
            module: module.into(),
            arity: 1,
            pid: Pid::new("a@h", 0, 0, 0),
            free_vars: vec![],
            index: 1,
            uniq: [0; 16],
            old_index: 1,
            old_uniq: 56_230_312,
        }))
    };
    prints(local("p1"), "#Fun<p1.1.56230312>");
    prints(local("Elixir.Foo!"), "#Fun<Elixir.Foo!.1.56230312>");
}

#[test]
fn deep_terms_print_without_recursion() {
    let mut t = atom("x");
    for _ in 0..100_000 {
        t = term!({ (t) });
    }
    let text = Pretty(&t).to_string();
    let mut stack = vec![t];
    while let Some(t) = stack.pop() {
        if let Term::Tuple(x) = t {
            stack.extend(x.elements);
        }
    }
    assert_eq!(
        text,
        format!("{}x{}", "{".repeat(100_000), "}".repeat(100_000))
    );
}
