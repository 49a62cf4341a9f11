use crate::term::{
    Term, atom, binary, boolean, charlist, improper_list, int, list, map, nil, tuple, uint,
};
use crate::{term, term_match};

#[test]
fn builds_every_kind_of_term() {
    assert_eq!(term!(ok), atom("ok"));
    assert_eq!(term!(true), boolean(true));
    assert_eq!(term!(false), atom("false"));
    assert_eq!(term!(type), atom("type"));
    assert_eq!(term!(:"EXIT"), atom("EXIT"));
    assert_eq!(term!(-7), int(-7));
    assert_eq!(term!(5_000_000_000i64), int(5_000_000_000));
    assert_eq!(term!((u64::MAX)), uint(u64::MAX));
    assert_eq!(term!("hi"), charlist("hi"));
    assert_eq!(term!(<<>>), binary(Vec::new()));
    assert_eq!(term!(<<(vec![1u8, 2])>>), binary(vec![1, 2]));
    assert_eq!(term!({}), tuple(vec![]));
    assert_eq!(term!(#{}), map(vec![]));
    assert_eq!(
        term!(#{a => {1, 2}, "k" => [x, y], (3) => 4}),
        map(vec![
            (atom("a"), tuple(vec![int(1), int(2)])),
            (charlist("k"), list(vec![atom("x"), atom("y")])),
            (int(3), int(4)),
        ])
    );
    assert_eq!(
        term!([a, b | c]),
        improper_list(vec![atom("a"), atom("b")], atom("c"))
    );
    assert_eq!(term!([a | []]), list(vec![atom("a")]));
    assert_eq!(term!([]), nil());
    let inner = term!({ x });
    assert_eq!(
        term!({{nested, (inner.clone())}, [(&inner)], ((1, "s"))}),
        tuple(vec![
            tuple(vec![atom("nested"), tuple(vec![atom("x")])]),
            list(vec![tuple(vec![atom("x")])]),
            tuple(vec![int(1), binary("s")]),
        ])
    );
}

fn classify(t: &Term) -> String {
    term_match!(t,
        {ok, (n: i64)} => format!("int {n}"),
        {ok, (s: String)} => format!("text {s}"),
        {ok, (a: &str)} => format!("atom {a}"),
        {error, _} => "error".to_string(),
        "abc" => "charlist".to_string(),
        [(h), _ | (rest)] => format!("list {h} {}", rest),
        #{kind => circle, r => (r: i64)} => format!("circle {r}"),
        -1 => "minus one".to_string(),
        <<"abc">> => "binary".to_string(),
        _ => "other".to_string(),
    )
}

#[test]
fn matches_arm_by_arm() {
    assert_eq!(classify(&term!({ok, 3})), "int 3");
    assert_eq!(classify(&term!({ok, "x"})), "text x");
    assert_eq!(classify(&term!({ok, <<"y">>})), "text y");
    assert_eq!(classify(&term!({ok, z})), "atom z");
    assert_eq!(classify(&term!({ok, 1, 2})), "other");
    assert_eq!(classify(&term!({error, {bad, thing}})), "error");
    assert_eq!(classify(&term!([1, 2, 3])), "list 1 [3]");
    assert_eq!(classify(&term!([1])), "other");
    assert_eq!(
        classify(&term!(#{kind => circle, r => 2, extra => 0})),
        "circle 2"
    );
    assert_eq!(classify(&term!(#{kind => square, r => 2})), "other");
    assert_eq!(classify(&term!(-1)), "minus one");
    assert_eq!(classify(&list(vec![int(97), int(98), int(99)])), "charlist");
    assert_eq!(classify(&term!(<<"abc">>)), "binary");
    assert_eq!(classify(&term!(abc)), "other");
}

#[test]
fn bodies_can_use_question_mark_and_bindings_borrow_the_scrutinee() {
    fn first(t: &Term) -> Option<&Term> {
        let x = term_match!(t, {_, (x)} => x, _ => None?);
        Some(x)
    }
    let t = term!({a, b});
    assert_eq!(first(&t), Some(&atom("b")));
    assert_eq!(first(&term!(nope)), None);
}

#[test]
#[should_panic(expected = "no arm matched")]
fn no_matching_arm_panics() {
    let _: i32 = term_match!(term!(x), y => 1);
}
