//! Term order, checked against `lists:sort/1` on real BEAM nodes.
//!
//! The corpus files `codec/testdata/order_otp*.txt` hold about 140 terms of
//! every type, sorted by `lists:sort/1` on OTP 25, 27 and 29 (written by
//! `codec/testdata/gen_corpus.escript order`). The table tests below name
//! the `erl` expression that gave each expected answer; all three releases
//! agree on all of them.

use super::*;
use crate::term;
use crate::term::{
    BitBinary, ByteList, ExternalFun, Float, InternalFun, List, Pid, Port, Reference, atom, binary,
    charlist, decode, improper_list, int, list, map, nil,
};
use num_bigint::BigInt;

const SORTED: &[(&str, &str)] = &[
    ("OTP 25", include_str!("codec/testdata/order_otp25.txt")),
    ("OTP 27", include_str!("codec/testdata/order_otp27.txt")),
    ("OTP 29", include_str!("codec/testdata/order_otp29.txt")),
];

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex"))
        .collect()
}

/// Asserts `terms` is strictly increasing in Erlang term order.
#[track_caller]
fn ascending(terms: &[Term]) {
    for pair in terms.windows(2) {
        assert_eq!(
            cmp_terms(&pair[0], &pair[1]),
            Ordering::Less,
            "{:?} < {:?}",
            pair[0],
            pair[1]
        );
        assert_eq!(cmp_terms(&pair[1], &pair[0]), Ordering::Greater);
    }
}

#[test]
fn sorts_like_lists_sort() {
    for &(otp, text) in SORTED {
        let expected: Vec<Term> = text
            .lines()
            .map(|l| decode(&unhex(l)).expect("decodes"))
            .collect();
        assert!(expected.len() > 100, "{otp}");
        // A deterministic Fisher-Yates shuffle (LCG).
        let mut mixed = expected.clone();
        let mut seed: u64 = 12345;
        for i in (1..mixed.len()).rev() {
            seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
            mixed.swap(i, (seed >> 33) as usize % (i + 1));
        }
        assert_ne!(mixed, expected);
        mixed.sort_by(cmp_terms);
        for (i, (got, want)) in mixed.iter().zip(&expected).enumerate() {
            assert_eq!(got, want, "{otp}: position {i}");
        }
        ascending(&expected);
    }
}

#[test]
fn type_order() {
    // lists:sort([<<>>, [a], [], #{}, {}, self(), Port, fun lists:map/2,
    //             make_ref(), a, 1.0, 1])
    let pid = Term::Pid(Pid::new("a@h", 1, 0, 1));
    let port = Term::Port(Port::from(("a@h", 1)));
    let reference = Term::Reference(Box::new(Reference::from(("a@h", 1))));
    let fun = Term::ExternalFun(Box::new(ExternalFun::from(("lists", "map", 2))));
    ascending(&[
        int(1),
        atom("a"),
        reference,
        fun,
        port,
        pid,
        term!({}),
        map(vec![]),
        nil(),
        list(vec![atom("a")]),
        binary(Vec::new()),
    ]);
}

#[test]
fn numbers_compare_by_exact_value() {
    let float = |value| Term::Float(Float { value });
    let big = |v: BigInt| crate::term::bigint(v);
    // 1 == 1.0, 2 > 1.5
    assert_eq!(cmp_terms(&int(1), &float(1.0)), Ordering::Equal);
    assert_eq!(cmp_terms(&int(2), &float(1.5)), Ordering::Greater);
    // 9007199254740993 > 9007199254740992.0 (no rounding to float)
    assert_eq!(
        cmp_terms(&int(9_007_199_254_740_993), &float(9_007_199_254_740_992.0)),
        Ordering::Greater
    );
    // (1 bsl 64) == 1.8446744073709552e19, (1 bsl 64) > 1.0e19
    let two64 = big(BigInt::from(1u8) << 64u32);
    assert_eq!(
        cmp_terms(&two64, &float(1.844_674_407_370_955_2e19)),
        Ordering::Equal
    );
    assert_eq!(cmp_terms(&two64, &float(1.0e19)), Ordering::Greater);
    assert_eq!(
        cmp_terms(&float(-1.0e300), &big(-(BigInt::from(1u8) << 64u32))),
        Ordering::Less
    );
    // -(1 bsl 64) < -1 < -0.5
    ascending(&[
        big(-(BigInt::from(1u8) << 64u32)),
        int(-1),
        float(-0.5),
        int(0),
        float(0.5),
    ]);
    // {1} == {1.0}, but in map-key order 1 < 0.5 and -0.0 < 0.0 (OTP 27+)
    assert_eq!(
        cmp_terms(&term!({ 1 }), &term!({ (float(1.0)) })),
        Ordering::Equal
    );
    assert_eq!(cmp_map_keys(&int(1), &float(0.5)), Ordering::Less);
    assert_eq!(cmp_map_keys(&float(-0.0), &float(0.0)), Ordering::Less);
    assert_eq!(cmp_terms(&float(-0.0), &float(0.0)), Ordering::Equal);
}

#[test]
fn atoms_compare_by_code_point() {
    // 'a' < 'z' < 'ä' < '世', '' < 'a', 'A' < 'a'
    ascending(&[
        atom(""),
        atom("A"),
        atom("a"),
        atom("z"),
        atom("ä"),
        atom("世"),
    ]);
    assert_eq!(cmp_atoms(&"ab".into(), &"a".into()), Ordering::Greater);
}

#[test]
fn lists_strings_and_tails() {
    // [a|b] < [a,b], [a|1] < [a|b], [] < [a], "ab" =:= [97,98]
    assert_eq!(
        cmp_terms(
            &improper_list(vec![atom("a")], atom("b")),
            &list(vec![atom("a"), atom("b")])
        ),
        Ordering::Less
    );
    assert_eq!(
        cmp_terms(
            &improper_list(vec![atom("a")], int(1)),
            &improper_list(vec![atom("a")], atom("b"))
        ),
        Ordering::Less
    );
    assert_eq!(
        cmp_terms(&charlist("ab"), &list(vec![int(97), int(98)])),
        Ordering::Equal
    );
    // A hand-built list whose tail is a list equals the flat list.
    assert_eq!(
        cmp_terms(
            &improper_list(vec![int(97)], charlist("b")),
            &Term::ByteList(ByteList::from(b"ab".to_vec()))
        ),
        Ordering::Equal
    );
    // "a" < "ab" < "b", [1] < [1.5] < [a]
    ascending(&[charlist("a"), charlist("ab"), charlist("b")]);
    ascending(&[
        list(vec![int(1)]),
        list(vec![Term::Float(Float { value: 1.5 })]),
        list(vec![atom("a")]),
    ]);
}

#[test]
fn tuples_and_maps() {
    // {1,2} < {0,0,0}: size first
    ascending(&[term!({1, 2}), term!({0, 0, 0})]);
    let one = Term::Float(Float { value: 1.0 });
    // #{1 => a} < #{1.0 => a}, #{1 => b} < #{1.0 => a}: keys first, exactly
    assert_eq!(
        cmp_terms(
            &map(vec![(int(1), atom("b"))]),
            &map(vec![(one.clone(), atom("a"))])
        ),
        Ordering::Less
    );
    // #{a => 1} == #{a => 1.0}: values arithmetically
    assert_eq!(
        cmp_terms(
            &map(vec![(atom("a"), int(1))]),
            &map(vec![(atom("a"), one.clone())])
        ),
        Ordering::Equal
    );
    // #{a => 1, b => 3} < #{a => 2, b => 1}; #{b => 0} > #{a => 9}
    ascending(&[
        map(vec![(atom("a"), int(9))]),
        map(vec![(atom("b"), int(0))]),
        map(vec![(atom("a"), int(1)), (atom("b"), int(3))]),
        map(vec![(atom("a"), int(2)), (atom("b"), int(1))]),
    ]);
    // #{1 => a, 2.0 => x} < #{1.0 => a, 2 => x}: keys [1, 2.0] vs [2, 1.0]
    let two = Term::Float(Float { value: 2.0 });
    assert_eq!(
        cmp_terms(
            &map(vec![(int(1), atom("a")), (two, atom("x"))]),
            &map(vec![(one, atom("a")), (int(2), atom("x"))])
        ),
        Ordering::Less
    );
}

#[test]
fn map_key_order_is_what_beam_writes() {
    // term_to_binary(#{1.0 => a, 1 => b, 0.5 => c, 2 => d, x => e, "s" => f,
    //                  <<"b">> => g, {t} => h}) writes the keys in this order:
    let float = |value| Term::Float(Float { value });
    let keys = [
        int(1),
        int(2),
        float(0.5),
        float(1.0),
        atom("x"),
        term!({ t }),
        charlist("s"),
        binary(*b"b"),
    ];
    for pair in keys.windows(2) {
        assert_eq!(cmp_map_keys(&pair[0], &pair[1]), Ordering::Less);
    }
}

#[test]
fn bitstrings_compare_bit_by_bit() {
    let bits = |bytes: Vec<u8>, n| Term::BitBinary(BitBinary::from((bytes, n)));
    // Checked with `<` in erl: <<1:3>> > <<1>>, <<0:1>> < <<1>>,
    // <<1,2:3>> > <<1,2>>, and lists:sort of the list below.
    assert_eq!(
        cmp_terms(&bits(vec![1], 3), &binary(vec![1])),
        Ordering::Greater
    );
    assert_eq!(
        cmp_terms(&bits(vec![0], 1), &binary(vec![1])),
        Ordering::Less
    );
    assert_eq!(
        cmp_terms(&bits(vec![1, 2], 3), &binary(vec![1, 2])),
        Ordering::Greater
    );
    ascending(&[
        binary(Vec::new()),
        bits(vec![0], 1),
        binary(vec![0]),
        binary(vec![1]),
        bits(vec![1, 0], 1),
        binary(vec![1, 2]),
        bits(vec![1, 2], 3),
        bits(vec![1], 1),
        binary(vec![255]),
    ]);
}

#[test]
fn pids_compare_serial_id_node_creation() {
    // erl -noshell -eval '
    //   P = fun(N, Id, Ser, Cr) -> binary_to_term(<<131, 88, 119, (byte_size(N)),
    //         N/binary, Id:32, Ser:32, Cr:32>>) end,
    //   L = [P(<<"b@h">>,1,0,1), P(<<"a@h">>,2,0,1), P(<<"a@h">>,1,1,1),
    //        P(<<"a@h">>,1,0,2), P(<<"a@h">>,1,0,1), P(<<"a@h">>,3,0,1),
    //        P(<<"a@h">>,2,1,1), P(<<"a@h">>,0,2,0), P(<<"b@h">>,0,0,0),
    //        P(<<"a@h">>,1,0,3)],
    //   io:format("~w~n", [[string:str(L, [X]) || X <- lists:sort(L)]]), halt().'
    // prints [9,5,4,10,1,2,6,3,7,8] on OTP 25, 27 and 29: serial, then id,
    // then node name, then creation.
    let p = |node, id, serial, creation| Term::Pid(Pid::new(node, id, serial, creation));
    ascending(&[
        p("b@h", 0, 0, 0),
        p("a@h", 1, 0, 1),
        p("a@h", 1, 0, 2),
        p("a@h", 1, 0, 3),
        p("b@h", 1, 0, 1),
        p("a@h", 2, 0, 1),
        p("a@h", 3, 0, 1),
        p("a@h", 1, 1, 1),
        p("a@h", 2, 1, 1),
        p("a@h", 0, 2, 0),
    ]);
}

#[test]
fn ports_compare_node_creation_id() {
    // As for pids, with Q = fun(N, Id, Cr) -> binary_to_term(<<131, 120, 119,
    //   (byte_size(N)), N/binary, Id:64, Cr:32>>) end: lists:sort puts
    //   Q(a@h,1,1) < Q(a@h,2,1) < Q(a@h,1 bsl 32,1) < Q(a@h,1,2) < Q(a@h,0,3)
    //   < Q(b@h,0,0): node name, then creation, then id.
    let p = |node: &str, id, creation| {
        Term::Port(Port {
            node: node.into(),
            id,
            creation,
        })
    };
    ascending(&[
        p("a@h", 1, 1),
        p("a@h", 2, 1),
        p("a@h", 1 << 32, 1),
        p("a@h", 1, 2),
        p("a@h", 0, 3),
        p("b@h", 0, 0),
    ]);
}

#[test]
fn references_compare_node_creation_words() {
    // With R = fun(N, Cr, Ids) -> binary_to_term(<<131, 90, (length(Ids)):16,
    //   119, (byte_size(N)), N/binary, Cr:32, << <<I:32>> || I <- Ids >>/binary>>)
    //   end, lists:sort gives this order: node name, then creation, then the
    //   id words from the last; R(a@h,1,[1]) =:= R(a@h,1,[1,0,0]) is true.
    let r = |node: &str, creation, id: Vec<u32>| {
        Term::Reference(Box::new(Reference {
            node: node.into(),
            id,
            creation,
        }))
    };
    assert_eq!(
        cmp_terms(&r("a@h", 1, vec![1]), &r("a@h", 1, vec![1, 0, 0])),
        Ordering::Equal
    );
    ascending(&[
        r("a@h", 0, vec![9, 9, 9]),
        r("a@h", 1, vec![1, 0, 0]),
        r("a@h", 1, vec![2, 0, 0]),
        r("a@h", 1, vec![3]),
        r("a@h", 1, vec![5, 0, 0, 0]),
        r("a@h", 1, vec![1, 1, 0]),
        r("a@h", 1, vec![1, 0, 1]),
        r("a@h", 1, vec![0, 0, 2]),
        r("a@h", 1, vec![0, 0, 0, 1]),
        r("a@h", 2, vec![1, 0, 0]),
        r("b@h", 1, vec![1, 0, 0]),
    ]);
}

#[test]
fn funs_local_before_external() {
    // lists:sort([fun lists:map/2, fun erlang:abs/1, fun lists:all/2,
    //             fun lists:map/1, fun() -> ok end])
    let ext = |m, f, a| Term::ExternalFun(Box::new(ExternalFun::from((m, f, a))));
    let local = |module: &str, index, free_vars| {
        Term::InternalFun(Box::new(InternalFun::New {
            module: module.into(),
            arity: 0,
            pid: Pid::new("a@h", 0, 0, 0),
            free_vars,
            index,
            uniq: [1; 16],
            old_index: index as i32,
            old_uniq: 1,
        }))
    };
    ascending(&[
        local("a", 0, vec![]),
        local("a", 0, vec![int(5)]),
        local("a", 0, vec![int(6)]),
        local("a", 0, vec![int(4), int(9)]),
        local("a", 1, vec![]),
        local("b", 0, vec![]),
        ext("erlang", "abs", 1),
        ext("lists", "all", 2),
        ext("lists", "map", 1),
        ext("lists", "map", 2),
    ]);
}

#[test]
fn local_funs_compare_as_erts_cmp() {
    // F(Fields) = binary_to_term(NEW_FUN_EXT with those fields); on OTP 25,
    // 27 and 29 `F1 < F2` and `F1 > F2` are both false when only the creator
    // pid, the MD5 uniq, the arity or the old index differ; the index and
    // the old uniq (25, 27) order them, before the free variables.
    let fun = |index, old_index, old_uniq, pid_id, md5, arity, free_vars| {
        Term::InternalFun(Box::new(InternalFun::New {
            module: "m".into(),
            arity,
            pid: Pid::new("a@b", pid_id, 0, 1),
            free_vars,
            index,
            uniq: [md5; 16],
            old_index,
            old_uniq,
        }))
    };
    let base = fun(0, 0, 1, 1, 1, 0, vec![]);
    for same in [
        fun(0, 0, 1, 2, 1, 0, vec![]),
        fun(0, 0, 1, 1, 2, 0, vec![]),
        fun(0, 0, 1, 1, 1, 1, vec![]),
        fun(0, 1, 1, 1, 1, 0, vec![]),
    ] {
        assert_eq!(cmp_terms(&base, &same), Ordering::Equal, "{same:?}");
        assert!(exact_eq(&base, &same));
    }
    ascending(&[
        base.clone(),
        fun(0, 0, 1, 1, 1, 0, vec![int(4)]),
        fun(0, 0, 2, 1, 1, 0, vec![]),
        fun(1, 0, 1, 1, 1, 0, vec![]),
    ]);
}

#[test]
fn deep_terms_compare_without_recursion() {
    let deep = |leaf: Term| {
        let mut t = leaf;
        for _ in 0..100_000 {
            t = term!({ (t) });
        }
        t
    };
    let (a, b) = (deep(int(1)), deep(int(2)));
    assert_eq!(cmp_terms(&a, &b), Ordering::Less);
    assert_eq!(cmp_terms(&a, &a), Ordering::Equal);
    for t in [a, b] {
        let mut stack = vec![t];
        while let Some(t) = stack.pop() {
            if let Term::Tuple(x) = t {
                stack.extend(x.elements);
            }
        }
    }
    // A long proper list is fine too.
    let long = Term::List(List::from(vec![int(1); 200_000]));
    assert_eq!(cmp_terms(&long, &long), Ordering::Equal);
}
