//! Hostile input: truncations, mutations, deep nesting, huge length
//! fields, compression bombs. Every case must return `Err` (or a term
//! that survives a round trip), never panic, overflow the stack or abort.

use super::*;
use crate::term::{atom, list};

/// The OTP 25 corpus entries small enough to mutate exhaustively.
fn seeds() -> Vec<Vec<u8>> {
    include_str!("testdata/corpus_otp25.txt")
        .lines()
        .filter_map(|l| l.split(' ').nth(2))
        .filter(|hex| hex.len() <= 2 * 4096)
        .map(|hex| {
            (0..hex.len())
                .step_by(2)
                .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).expect("hex"))
                .collect()
        })
        .collect()
}

/// xorshift64*: small, deterministic, good enough to pick bytes.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

/// Whatever decodes must encode and decode back to itself. (Compared
/// through its encoding: eetf's `Map` equality breaks on map keys that
/// hold maps, see `decode.rs`.)
#[track_caller]
fn survives(bytes: &[u8]) {
    if let Ok(t) = decode(bytes) {
        let again = encode_to_vec(&t).unwrap_or_else(|e| panic!("{bytes:?}: {e}"));
        let back = decode(&again).unwrap_or_else(|e| panic!("{bytes:?}: {e}"));
        assert_eq!(encode_to_vec(&back).as_ref(), Ok(&again), "{bytes:?}");
        assert!(crate::term::cmp_terms(&back, &t).is_eq(), "{bytes:?}");
    }
    let _ = decode_prefix_with(bytes, false, &Limits::default());
}

#[test]
fn every_truncation_is_an_error() {
    for seed in seeds() {
        for len in 0..seed.len() {
            assert!(decode(&seed[..len]).is_err(), "{:?}", &seed[..len]);
            assert!(decode_prefix(&seed[..len]).is_err());
        }
    }
}

#[test]
fn random_mutations_never_panic() {
    let seeds = seeds();
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    for _ in 0..20_000 {
        let mut bytes = seeds[rng.below(seeds.len())].clone();
        for _ in 0..=rng.below(4) {
            let at = rng.below(bytes.len());
            match rng.below(5) {
                0 => bytes[at] = rng.next() as u8,
                1 => bytes[at] ^= 1 << rng.below(8),
                2 => bytes.insert(at, rng.next() as u8),
                3 if bytes.len() > 1 => {
                    bytes.remove(at);
                }
                // Length fields are the interesting bytes: max them out.
                _ => bytes[at] = [0, 1, 0x7F, 0x80, 0xFF][rng.below(5)],
            }
        }
        survives(&bytes);
    }
}

#[test]
fn random_bytes_never_panic() {
    let mut rng = Rng(42);
    for _ in 0..20_000 {
        let len = rng.below(64);
        let mut bytes: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
        if rng.below(2) == 0 {
            bytes.insert(0, 131);
        }
        survives(&bytes);
    }
}

/// `depth` containers, each holding the next, around a small integer.
fn nested(open: &[u8], close: &[u8], depth: usize) -> Vec<u8> {
    let mut bytes = vec![131];
    for _ in 0..depth {
        bytes.extend_from_slice(open);
    }
    bytes.extend([97, 1]);
    for _ in 0..depth {
        bytes.extend_from_slice(close);
    }
    bytes
}

#[test]
fn deep_nesting_is_an_error_not_a_stack_overflow() {
    let cases: [(&[u8], &[u8]); 4] = [
        // LIST_EXT [X]
        (&[108, 0, 0, 0, 1], &[106]),
        // LIST_EXT [X|a] (improper)
        (&[108, 0, 0, 0, 1], &[119, 1, b'a']),
        // SMALL_TUPLE_EXT {X}
        (&[104, 1], &[]),
        // MAP_EXT #{a => X}
        (&[116, 0, 0, 0, 1, 119, 1, b'a'], &[]),
    ];
    for (open, close) in cases {
        let ok = nested(open, close, 1000);
        assert!(decode(&ok).is_ok(), "{open:?}");
        let deep = nested(open, close, 5000);
        assert!(
            matches!(
                decode(&deep),
                Err(DecodeError::TooDeep {
                    max_depth: 1024,
                    ..
                })
            ),
            "{open:?}"
        );
    }
}

/// A `NEW_FUN_EXT` (no version byte) of module `m`, creator `a@b`, with
/// the given old index, old uniq, creator pid id, MD5 byte and arity, whose
/// free variables are `free` (already encoded, `n_free` of them).
fn new_fun(old: (i32, i32), pid_id: u32, md5: u8, arity: u8, n_free: u32, free: &[u8]) -> Vec<u8> {
    let mut body = vec![arity];
    body.extend([md5; 16]);
    body.extend(0u32.to_be_bytes()); // index
    body.extend(n_free.to_be_bytes());
    body.extend([119, 1, b'm', 98]);
    body.extend(old.0.to_be_bytes());
    body.push(98);
    body.extend(old.1.to_be_bytes());
    body.extend([88, 119, 3, b'a', b'@', b'b']);
    body.extend(pid_id.to_be_bytes());
    body.extend([0, 0, 0, 0, 0, 0, 0, 1]);
    body.extend_from_slice(free);
    let mut out = vec![112];
    out.extend(u32::try_from(body.len() + 4).unwrap().to_be_bytes());
    out.extend(body);
    out
}

#[test]
fn deep_fun_environments_are_an_error() {
    // A fun whose one free variable is a fun whose ...
    let deep = |levels: usize| {
        let mut t = new_fun((0, 1), 1, 1, 0, 0, &[]);
        for _ in 0..levels {
            t = new_fun((0, 1), 1, 1, 0, 1, &t);
        }
        t.insert(0, 131);
        t
    };
    assert!(matches!(
        decode(&deep(5000)),
        Err(DecodeError::TooDeep { .. })
    ));
    assert!(decode(&deep(100)).is_ok());
}

/// `#{K1 => 1, K2 => 2}`, with version byte.
fn map_of_two(k1: &[u8], k2: &[u8]) -> Vec<u8> {
    let mut bytes = vec![131, 116, 0, 0, 0, 2];
    bytes.extend_from_slice(k1);
    bytes.extend([97, 1]);
    bytes.extend_from_slice(k2);
    bytes.extend([97, 2]);
    bytes
}

#[test]
fn issue_9_map_with_funs_equal_but_for_their_pid() {
    // The `etf` fuzz target's failure in issue #9 (minimised, version
    // byte added): a map of 5 pairs whose two FUN_EXT keys differ only in
    // their creator pid. BEAM refuses it (OTP 25, 27 and 29: badarg).
    // The decoder used to accept it: eetf's `==` told the keys apart,
    // term order did not, so the re-encoding's key order was arbitrary and
    // the map compared unequal to itself.
    let hex = "74000000057301d06e0000770400046161616175000000016777000200000d7301906e\
               7773006262965e626262000f6262000000626100616161617500000001677700020000\
               057301906e7773006262965e626262000f6262000000626146";
    let mut bytes = vec![131];
    bytes.extend(
        (0..hex.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).expect("hex")),
    );
    assert!(decode(&bytes).is_err());
    survives(&bytes);
    // The same map with NEW_FUN_EXT keys (the format OTP 23+ decodes) is
    // refused as a repeated key.
    let same_but_pid = map_of_two(
        &new_fun((0, 1), 13, 1, 0, 1, &[97, 98]),
        &new_fun((0, 1), 5, 1, 0, 1, &[97, 98]),
    );
    assert!(matches!(
        decode(&same_but_pid),
        Err(DecodeError::DuplicateMapKey { offset: 1, .. })
    ));
}

#[test]
fn map_keys_equal_as_beam_compares_them_are_refused() {
    // Each pair was fed to binary_to_term/1 on OTP 25, 27 and 29.
    let fun = |old, pid, md5, arity| new_fun(old, pid, md5, arity, 0, &[]);
    let base = fun((0, 1), 1, 1, 0);
    let reference = |ids: &[u32]| {
        let mut r = vec![90, 0, ids.len() as u8, 119, 3, b'a', b'@', b'b', 0, 0, 0, 1];
        ids.iter().for_each(|w| r.extend(w.to_be_bytes()));
        r
    };
    // badarg on all three releases: the keys are the same key.
    let refused = [
        (&base, fun((0, 1), 2, 1, 0)),          // creator pid
        (&base, fun((0, 1), 1, 2, 0)),          // MD5 uniq
        (&base, fun((0, 1), 1, 1, 1)),          // arity
        (&base, fun((1, 1), 1, 1, 0)),          // old index
        (&base, base.clone()),                  // identical
        (&reference(&[1]), reference(&[1, 0])), // zero id words
        (&reference(&[1]), reference(&[1, 0, 0])),
        (&reference(&[]), reference(&[0])),
    ];
    for (k1, k2) in refused {
        let bytes = map_of_two(k1, &k2);
        assert!(
            matches!(decode(&bytes), Err(DecodeError::DuplicateMapKey { .. })),
            "{bytes:?}"
        );
        // Inside a tuple too: `{K}` and `{K2}` are equal keys.
        let wrap = |k: &[u8]| [&[104, 1][..], k].concat();
        let bytes = map_of_two(&wrap(k1), &wrap(&k2));
        assert!(decode(&bytes).is_err(), "{bytes:?}");
    }
    // Accepted by OTP 25 and 27 (29 ignores the old uniq): distinct keys,
    // which round-trip exactly.
    let bytes = map_of_two(&base, &fun((0, 2), 1, 1, 0));
    let t = decode(&bytes).expect("distinct in term order");
    let again = encode_to_vec(&t).expect("encodes");
    for _ in 0..10 {
        let back = decode(&again).expect("decodes");
        assert_eq!(encode_to_vec(&back).as_ref(), Ok(&again));
        assert!(crate::term::cmp_terms(&back, &t).is_eq());
    }
}

#[test]
fn deep_terms_inside_compressed_data_are_an_error() {
    let inner = nested(&[108, 0, 0, 0, 1], &[106], 5000);
    let zlib = miniz_oxide::deflate::compress_to_vec_zlib(&inner[1..], 6);
    let mut bytes = vec![131, 80];
    bytes.extend(((inner.len() - 1) as u32).to_be_bytes());
    bytes.extend(zlib);
    let err = decode(&bytes).unwrap_err();
    assert!(
        matches!(&err, DecodeError::InCompressed { inner, .. }
            if matches!(**inner, DecodeError::TooDeep { .. })),
        "{err}"
    );
    // The wrapper itself counts as a level.
    let inner = nested(&[108, 0, 0, 0, 1], &[106], 1024);
    let zlib = miniz_oxide::deflate::compress_to_vec_zlib(&inner[1..], 6);
    let mut bytes = vec![131, 80];
    bytes.extend(((inner.len() - 1) as u32).to_be_bytes());
    bytes.extend(zlib);
    assert!(decode(&bytes).is_err());
    assert!(decode(&inner).is_ok());
}

#[test]
fn huge_length_fields_are_refused_before_allocating() {
    let cases: &[&[u8]] = &[
        // LARGE_TUPLE_EXT of 2^32 - 1 elements: the 6-byte header that
        // made eetf abort.
        &[131, 105, 255, 255, 255, 255],
        // LIST_EXT, MAP_EXT, BINARY_EXT, BIT_BINARY_EXT, LARGE_BIG_EXT
        &[131, 108, 255, 255, 255, 255, 106],
        &[131, 116, 255, 255, 255, 255],
        &[131, 109, 255, 255, 255, 255, 0],
        &[131, 77, 255, 255, 255, 255, 3, 0],
        &[131, 111, 255, 255, 255, 255, 0, 0],
        // STRING_EXT, ATOM_UTF8_EXT
        &[131, 107, 255, 255, 0],
        &[131, 118, 255, 255, b'a'],
        // NEWER_REFERENCE_EXT, NEW_FUN_EXT with huge counts
        &[131, 90, 255, 255, 119, 1, b'a'],
        &[131, 112, 255, 255, 255, 255, 0],
        // FUN_EXT (refused whatever it claims) of 2^32 - 1 free variables
        &[
            131, 117, 255, 255, 255, 255, 88, 119, 1, b'n', 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
            119, 1, b'm', 97, 0, 97, 0,
        ],
    ];
    for bytes in cases {
        assert!(decode(bytes).is_err(), "{bytes:?}");
    }
}

#[test]
fn nested_claims_share_one_budget() {
    // Each LIST_EXT claims as many elements as bytes remain after it; each
    // claim alone fits, together they cannot.
    let depth = 100;
    let total = 1 + depth * 5 + 2 * depth + 1;
    let mut bytes = vec![131];
    for level in 0..depth {
        let remaining = total - bytes.len() - 5;
        bytes.push(108);
        bytes.extend((remaining as u32 / 2 - level as u32).to_be_bytes());
    }
    bytes.resize(total, 106);
    assert!(matches!(
        decode(&bytes),
        Err(DecodeError::LengthExceedsInput { .. })
    ));
}

#[test]
fn compression_bombs_are_bounded() {
    // 2 MiB of zeros compresses to about 2 KiB.
    let zeros = vec![0u8; 2 << 20];
    let mut payload = vec![109];
    payload.extend(((zeros.len()) as u32).to_be_bytes());
    payload.extend(&zeros);
    let zlib = miniz_oxide::deflate::compress_to_vec_zlib(&payload, 6);
    let wrap = |declared: u32| {
        let mut bytes = vec![131, 80];
        bytes.extend(declared.to_be_bytes());
        bytes.extend(&zlib);
        bytes
    };
    let limits = Limits {
        max_decompressed_size: 1 << 20,
        ..Limits::default()
    };
    // Declared over the limit: refused before inflating.
    assert!(matches!(
        decode_prefix_with(&wrap(payload.len() as u32), true, &limits),
        Err(DecodeError::DecompressedTooLarge { .. })
    ));
    // Declared small but inflating to more: stops at the declared size.
    assert!(matches!(
        decode(&wrap(1000)),
        Err(DecodeError::BadCompression { .. })
    ));
    // Declared honestly and within the default limit: fine.
    let t = decode(&wrap(payload.len() as u32)).unwrap();
    assert!(matches!(&t, Term::Binary(b) if b.bytes.len() == 2 << 20));
    // Not zlib at all.
    assert!(decode(&[131, 80, 0, 0, 0, 5, 1, 2, 3]).is_err());
    assert!(decode(&[131, 80, 0, 0, 0]).is_err());
}

#[test]
fn dist_layer_tags_are_errors() {
    for bytes in [
        &[131, 68, 0][..],
        &[131, 82, 0],
        &[131, 69, 0, 0, 0, 0, 0, 0, 0, 1],
        &[131, 104, 2, 82, 0, 82, 1],
        &[131, 131, 97, 1],
    ] {
        assert!(decode(bytes).is_err(), "{bytes:?}");
    }
}

#[test]
fn deep_terms_of_our_own_are_an_error_to_encode() {
    let mut t = atom("x");
    for _ in 0..5000 {
        t = list(vec![t]);
    }
    assert!(matches!(
        encode_to_vec(&t),
        Err(EncodeError::TooDeep { max_depth: 1024 })
    ));
    let mut out = Vec::new();
    let roomy = Limits {
        max_depth: 10_000,
        ..Limits::default()
    };
    encode_with(&t, &mut out, &roomy).unwrap();
    assert!(matches!(decode(&out), Err(DecodeError::TooDeep { .. })));
    let (back, used) = decode_prefix_with(&out, true, &roomy).unwrap();
    assert_eq!(used, out.len());
    let mut again = Vec::new();
    encode_with(&back, &mut again, &roomy).unwrap();
    assert_eq!(again, out);
    dismantle(back);
    dismantle(t);
}

/// Takes a deep term apart without recursion (dropping it would recurse).
fn dismantle(t: Term) {
    let mut stack = vec![t];
    while let Some(t) = stack.pop() {
        if let Term::List(l) = t {
            stack.extend(l.elements);
        }
    }
}
