//! Golden corpus written by real BEAM nodes (OTP 25, 27 and 29) with
//! `term_to_binary(T, [{minor_version, 2}])`; see
//! `testdata/gen_corpus.escript` for how each file was made and what the
//! modes mean.

use super::{decode, encode_to_vec};
use crate::term::{Pretty, Term};

const CORPORA: &[(&str, &str)] = &[
    ("OTP 25", include_str!("testdata/corpus_otp25.txt")),
    ("OTP 27", include_str!("testdata/corpus_otp27.txt")),
    ("OTP 29", include_str!("testdata/corpus_otp29.txt")),
];

struct Entry {
    otp: &'static str,
    name: &'static str,
    mode: &'static str,
    bytes: Vec<u8>,
    expected: Option<Vec<u8>>,
    printed: Option<String>,
}

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex"))
        .collect()
}

fn entries() -> Vec<Entry> {
    let mut out = Vec::new();
    for &(otp, text) in CORPORA {
        for line in text.lines().filter(|l| !l.is_empty()) {
            let f: Vec<&'static str> = line.split(' ').collect();
            assert_eq!(f.len(), 5, "{otp}: bad corpus line {line:.60}");
            let opt = |s: &str| (s != "-").then(|| unhex(s));
            out.push(Entry {
                otp,
                name: f[0],
                mode: f[1],
                bytes: unhex(f[2]),
                expected: opt(f[3]),
                printed: opt(f[4]).map(|b| String::from_utf8(b).expect("utf-8")),
            });
        }
    }
    out
}

/// Whether `t` holds a pid, port or reference (printed with a node index
/// by BEAM and with the node name by us).
fn has_node_local_ids(t: &Term) -> bool {
    let mut stack = vec![t];
    while let Some(t) = stack.pop() {
        match t {
            Term::Pid(_) | Term::Port(_) | Term::Reference(_) => return true,
            Term::Tuple(x) => stack.extend(&x.elements),
            Term::List(x) => stack.extend(&x.elements),
            Term::ImproperList(x) => {
                stack.extend(&x.elements);
                stack.push(&x.last);
            }
            Term::Map(m) => stack.extend(m.map.iter().flat_map(|(k, v)| [k, v])),
            _ => {}
        }
    }
    false
}

#[test]
fn corpus_is_complete() {
    let all = entries();
    for (otp, _) in CORPORA {
        let n = all.iter().filter(|e| e.otp == *otp).count();
        assert!(n > 100, "{otp}: only {n} corpus entries");
    }
}

#[test]
fn corpus_round_trips_byte_for_byte() {
    for e in entries() {
        let what = format!("{} {} ({})", e.otp, e.name, e.mode);
        let t = decode(&e.bytes).unwrap_or_else(|err| panic!("{what}: {err}"));
        let again = encode_to_vec(&t).unwrap_or_else(|err| panic!("{what}: {err}"));
        match e.mode {
            "exact" => assert_eq!(again, e.bytes, "{what}"),
            "canon" => assert_eq!(Some(&again), e.expected.as_ref(), "{what}"),
            "same" => {}
            other => panic!("{what}: unknown mode {other}"),
        }
        // Whatever the bytes, the term survives another round.
        assert_eq!(decode(&again).as_ref(), Ok(&t), "{what}");
    }
}

#[test]
fn corpus_prints_like_erl() {
    let mut checked = 0;
    for e in entries() {
        let Some(printed) = &e.printed else { continue };
        if e.mode == "same" {
            // Maps over 32 keys: BEAM prints them in its hash order.
            continue;
        }
        let t = decode(&e.bytes).expect("decodes");
        if has_node_local_ids(&t) {
            continue;
        }
        assert_eq!(&Pretty(&t).to_string(), printed, "{} {}", e.otp, e.name);
        checked += 1;
    }
    assert!(checked > 250, "only {checked} printed terms checked");
}
