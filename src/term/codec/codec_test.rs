//! Golden bytes, one tag at a time. Expected bytes are what OTP 25+
//! `term_to_binary(T, [{minor_version, 2}])` writes for the same term.

use super::*;
use crate::term;
use crate::term::{
    BigInteger, BitBinary, ByteList, ExternalFun, Float, ImproperList, InternalFun, List, Pid,
    Port, Reference, atom, binary, charlist, improper_list, int, list, map, nil, tuple, uint,
};
use num_bigint::BigInt;

/// `encode(term) == bytes` and `decode(bytes) == term`.
#[track_caller]
fn golden(term: Term, bytes: &[u8]) {
    assert_eq!(
        encode_to_vec(&term).as_deref(),
        Ok(bytes),
        "encoding {term:?}"
    );
    assert_eq!(decode(bytes).as_ref(), Ok(&term), "decoding {bytes:?}");
}

/// `decode(bytes) == term` (an encoding we read but never write).
#[track_caller]
fn reads(bytes: &[u8], term: Term) {
    assert_eq!(decode(bytes), Ok(term), "decoding {bytes:?}");
}

fn pid(node: &str, id: u32, serial: u32, creation: u32) -> Pid {
    Pid::new(node, id, serial, creation)
}

#[test]
fn integers() {
    // SMALL_INTEGER_EXT
    golden(int(0), &[131, 97, 0]);
    golden(int(255), &[131, 97, 255]);
    // INTEGER_EXT
    golden(int(256), &[131, 98, 0, 0, 1, 0]);
    golden(int(-1), &[131, 98, 255, 255, 255, 255]);
    golden(int(i64::from(i32::MIN)), &[131, 98, 128, 0, 0, 0]);
    // SMALL_BIG_EXT: 2^31, -(2^31) - 1, u64::MAX
    golden(int(1 << 31), &[131, 110, 4, 0, 0, 0, 0, 128]);
    golden(int(-(1 << 31) - 1), &[131, 110, 4, 1, 1, 0, 0, 128]);
    golden(
        uint(u64::MAX),
        &[131, 110, 8, 0, 255, 255, 255, 255, 255, 255, 255, 255],
    );
    // LARGE_BIG_EXT: 2^2040 needs 256 bytes
    let mut large = vec![131, 111, 0, 0, 1, 0, 0];
    large.extend([0; 255]);
    large.push(1);
    let big = Term::BigInteger(BigInteger {
        value: BigInt::from(1) << 2040,
    });
    golden(big, &large);
}

#[test]
fn integers_are_read_in_canonical_form() {
    // SMALL_BIG_EXT holding 5 is the small integer 5; so is -0.
    reads(&[131, 110, 1, 0, 5], int(5));
    reads(&[131, 110, 1, 1, 0], int(0));
    reads(&[131, 110, 0, 0], int(0));
    // A BigInteger that fits is written small, as BEAM would.
    let five = Term::BigInteger(BigInteger::from(5));
    assert_eq!(encode_to_vec(&five), Ok(vec![131, 97, 5]));
    // Sign bytes other than 0/1 are refused.
    assert!(matches!(
        decode(&[131, 110, 1, 2, 5]),
        Err(DecodeError::BadBigSign { sign: 2, .. })
    ));
}

#[test]
fn floats() {
    // NEW_FLOAT_EXT
    golden(
        Term::Float(Float { value: 1.5 }),
        &[131, 70, 63, 248, 0, 0, 0, 0, 0, 0],
    );
    golden(
        Term::Float(Float { value: -0.0 }),
        &[131, 70, 128, 0, 0, 0, 0, 0, 0, 0],
    );
    // FLOAT_EXT: `term_to_binary(1.5, [{minor_version, 0}])` on OTP 25
    let mut old = vec![131, 99];
    old.extend_from_slice(b"1.50000000000000000000e+00");
    old.resize(2 + 31, 0);
    reads(&old, Term::Float(Float { value: 1.5 }));
    old[4] = b'x';
    assert!(matches!(
        decode(&old),
        Err(DecodeError::BadFloatText { offset: 1 })
    ));
    // NaN and infinities exist neither in BEAM nor on the wire.
    assert!(matches!(
        decode(&[131, 70, 127, 248, 0, 0, 0, 0, 0, 0]),
        Err(DecodeError::NonFiniteFloat { offset: 1 })
    ));
    let nan = Term::Float(Float { value: f64::NAN });
    assert!(matches!(
        encode_to_vec(&nan),
        Err(EncodeError::NonFiniteFloat { .. })
    ));
}

#[test]
fn atoms() {
    // SMALL_ATOM_UTF8_EXT
    golden(atom("ok"), &[131, 119, 2, b'o', b'k']);
    golden(atom("é"), &[131, 119, 2, 0xc3, 0xa9]);
    // ATOM_UTF8_EXT: 255 characters of 2 bytes each
    let long = "é".repeat(255);
    let mut bytes = vec![131, 118, 1, 254];
    bytes.extend_from_slice(long.as_bytes());
    golden(atom(&long), &bytes);
    // ATOM_EXT and SMALL_ATOM_EXT are Latin-1
    reads(&[131, 100, 0, 1, 233], atom("é"));
    reads(&[131, 115, 2, b'o', 233], atom("oé"));
    // 256 characters is one too many, both ways.
    let too_long = "a".repeat(256);
    assert!(matches!(
        encode_to_vec(&atom(&too_long)),
        Err(EncodeError::AtomTooLong { chars: 256, .. })
    ));
    let mut bytes = vec![131, 118, 1, 0];
    bytes.extend_from_slice(too_long.as_bytes());
    assert!(matches!(
        decode(&bytes),
        Err(DecodeError::AtomTooLong { chars: 256, .. })
    ));
    assert!(matches!(
        decode(&[131, 119, 1, 255]),
        Err(DecodeError::InvalidUtf8 { offset: 1 })
    ));
}

#[test]
fn lists() {
    // NIL_EXT
    golden(nil(), &[131, 106]);
    // STRING_EXT
    golden(charlist("abc"), &[131, 107, 0, 3, b'a', b'b', b'c']);
    // A List of small integers is written as STRING_EXT too.
    let ints = list(vec![int(1), int(2), int(3)]);
    assert_eq!(encode_to_vec(&ints), Ok(vec![131, 107, 0, 3, 1, 2, 3]));
    // LIST_EXT
    golden(
        list(vec![int(1), int(256)]),
        &[131, 108, 0, 0, 0, 2, 97, 1, 98, 0, 0, 1, 0, 106],
    );
    // LIST_EXT with an atom tail: [a|b]
    golden(
        improper_list(vec![atom("a")], atom("b")),
        &[131, 108, 0, 0, 0, 1, 119, 1, b'a', 119, 1, b'b'],
    );
    // STRING_EXT of length 0 and LIST_EXT of bytes are read canonically.
    reads(&[131, 107, 0, 0], nil());
    reads(
        &[131, 108, 0, 0, 0, 2, 97, 1, 97, 2, 106],
        Term::ByteList(ByteList::from(vec![1, 2])),
    );
    // LIST_EXT of 0 elements is its tail; a list tail is spliced in.
    reads(&[131, 108, 0, 0, 0, 0, 97, 5], int(5));
    reads(
        &[131, 108, 0, 0, 0, 1, 97, 1, 107, 0, 2, 2, 3],
        Term::ByteList(ByteList::from(vec![1, 2, 3])),
    );
}

#[test]
fn long_byte_lists_use_list_ext() {
    // STRING_EXT's length is 16 bits: 65536 bytes need LIST_EXT.
    let bytes = vec![b'x'; 65536];
    let out = encode_to_vec(&Term::ByteList(ByteList::from(bytes))).unwrap();
    assert_eq!(&out[..6], &[131, 108, 0, 1, 0, 0]);
    assert_eq!(&out[6..8], &[97, b'x']);
    assert_eq!(out.last(), Some(&106));
    assert_eq!(out.len(), 6 + 2 * 65536 + 1);
    let back = decode(&out).unwrap();
    assert!(matches!(&back, Term::List(l) if l.elements.len() == 65536));
    let max = vec![b'y'; 65535];
    let out = encode_to_vec(&Term::ByteList(ByteList::from(max))).unwrap();
    assert_eq!(&out[..4], &[131, 107, 255, 255]);
}

#[test]
fn hand_built_lists_are_written_as_the_list_they_stand_for() {
    // [1 | [2, 3]] is [1, 2, 3]: STRING_EXT
    let spliced = improper_list(vec![int(1)], list(vec![int(2), int(3)]));
    assert_eq!(encode_to_vec(&spliced), Ok(vec![131, 107, 0, 3, 1, 2, 3]));
    // [a | "b"] is [a, 98]
    let spliced = improper_list(vec![atom("a")], charlist("b"));
    assert_eq!(
        encode_to_vec(&spliced),
        Ok(vec![131, 108, 0, 0, 0, 2, 119, 1, b'a', 97, b'b', 106])
    );
    // [] ++ x is x
    let bare = Term::ImproperList(ImproperList::from((vec![], atom("x"))));
    assert_eq!(encode_to_vec(&bare), Ok(vec![131, 119, 1, b'x']));
}

#[test]
fn tuples() {
    // SMALL_TUPLE_EXT
    golden(term!({}), &[131, 104, 0]);
    golden(term!({ok, 1}), &[131, 104, 2, 119, 2, b'o', b'k', 97, 1]);
    // LARGE_TUPLE_EXT
    let elems = vec![nil(); 256];
    let mut bytes = vec![131, 105, 0, 0, 1, 0];
    bytes.extend([106; 256]);
    golden(tuple(elems), &bytes);
}

#[test]
fn maps() {
    // MAP_EXT: keys in map-key order, integers before atoms
    golden(
        map(vec![(atom("a"), int(1)), (int(1), atom("a"))]),
        &[
            131, 116, 0, 0, 0, 2, 97, 1, 119, 1, b'a', 119, 1, b'a', 97, 1,
        ],
    );
    golden(map(vec![]), &[131, 116, 0, 0, 0, 0]);
    // Duplicate keys are refused, including "a" written two ways.
    assert!(matches!(
        decode(&[131, 116, 0, 0, 0, 2, 97, 1, 97, 2, 97, 1, 97, 3]),
        Err(DecodeError::DuplicateMapKey {
            offset: 1,
            pair_end: 14
        })
    ));
    let two_as = [
        131, 116, 0, 0, 0, 2, 107, 0, 1, 97, 97, 2, 108, 0, 0, 0, 1, 97, 97, 106, 97, 3,
    ];
    assert!(matches!(
        decode(&two_as),
        Err(DecodeError::DuplicateMapKey { .. })
    ));
}

#[test]
fn hand_built_map_with_erlang_equal_keys_is_deterministic() {
    let m = map(vec![(charlist("a"), int(1)), (list(vec![int(97)]), int(2))]);
    let first = encode_to_vec(&m).unwrap();
    for _ in 0..10 {
        let again = map(vec![(list(vec![int(97)]), int(2)), (charlist("a"), int(1))]);
        assert_eq!(encode_to_vec(&again).unwrap(), first);
    }
}

#[test]
fn binaries_and_bitstrings() {
    // BINARY_EXT
    golden(binary(*b"hi"), &[131, 109, 0, 0, 0, 2, b'h', b'i']);
    golden(binary(Vec::new()), &[131, 109, 0, 0, 0, 0]);
    // BIT_BINARY_EXT: <<5:3>> is 101 followed by five zero bits
    let bits = |bytes: Vec<u8>, n| Term::BitBinary(BitBinary::from((bytes, n)));
    golden(bits(vec![5], 3), &[131, 77, 0, 0, 0, 1, 3, 0b1010_0000]);
    // <<"a", 1:1>>
    golden(
        bits(vec![b'a', 1], 1),
        &[131, 77, 0, 0, 0, 2, 1, b'a', 0x80],
    );
    // Unused low bits are dropped on read and written as zeros.
    reads(&[131, 77, 0, 0, 0, 1, 3, 255], bits(vec![7], 3));
    // 8 bits is a binary; 0 bits only for empty data (as in BEAM).
    reads(&[131, 77, 0, 0, 0, 1, 8, 255], binary(vec![255]));
    reads(&[131, 77, 0, 0, 0, 0, 0], binary(Vec::new()));
    for bad in [
        &[131, 77, 0, 0, 0, 1, 0, 255][..],
        &[131, 77, 0, 0, 0, 1, 9, 255],
        &[131, 77, 0, 0, 0, 0, 3],
    ] {
        assert!(
            matches!(decode(bad), Err(DecodeError::BadBitCount { .. })),
            "{bad:?}"
        );
    }
}

#[test]
fn hand_built_bitstrings() {
    let bits = |bytes: Vec<u8>, n| Term::BitBinary(BitBinary::from((bytes, n)));
    // Bits above the used ones are ignored.
    assert_eq!(
        encode_to_vec(&bits(vec![0xFF], 3)),
        Ok(vec![131, 77, 0, 0, 0, 1, 3, 0b1110_0000])
    );
    // 8 tail bits: a binary. 0 tail bits: the last byte holds nothing.
    assert_eq!(
        encode_to_vec(&bits(vec![1, 2], 8)),
        Ok(vec![131, 109, 0, 0, 0, 2, 1, 2])
    );
    assert_eq!(
        encode_to_vec(&bits(vec![1, 2], 0)),
        Ok(vec![131, 109, 0, 0, 0, 1, 1])
    );
    assert_eq!(
        encode_to_vec(&bits(vec![], 0)),
        Ok(vec![131, 109, 0, 0, 0, 0])
    );
    for (bytes, n) in [(vec![1], 9), (vec![], 3)] {
        assert!(matches!(
            encode_to_vec(&bits(bytes, n)),
            Err(EncodeError::InvalidBitBinary { .. })
        ));
    }
}

#[test]
fn pids_ports_references() {
    // NEW_PID_EXT
    golden(
        Term::Pid(pid("a@h", 1, 2, 3)),
        &[
            131, 88, 119, 3, b'a', b'@', b'h', 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3,
        ],
    );
    // PID_EXT (creation is one byte)
    reads(
        &[
            131, 103, 119, 3, b'a', b'@', b'h', 0, 0, 0, 1, 0, 0, 0, 2, 3,
        ],
        Term::Pid(pid("a@h", 1, 2, 3)),
    );
    // NEW_PORT_EXT, and V4_PORT_EXT when the id needs 64 bits
    let port = |id, creation| {
        Term::Port(Port {
            node: "a@h".into(),
            id,
            creation,
        })
    };
    golden(
        port(5, 1),
        &[131, 89, 119, 3, b'a', b'@', b'h', 0, 0, 0, 5, 0, 0, 0, 1],
    );
    golden(
        port(1 << 40, 1),
        &[
            131, 120, 119, 3, b'a', b'@', b'h', 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 1,
        ],
    );
    // PORT_EXT
    reads(
        &[131, 102, 119, 3, b'a', b'@', b'h', 0, 0, 0, 5, 1],
        port(5, 1),
    );
    // NEWER_REFERENCE_EXT
    let reference = |id: Vec<u32>, creation| {
        Term::Reference(Box::new(Reference {
            node: "a@h".into(),
            id,
            creation,
        }))
    };
    golden(
        reference(vec![1, 2, 3], 4),
        &[
            131, 90, 0, 3, 119, 3, b'a', b'@', b'h', 0, 0, 0, 4, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3,
        ],
    );
    // NEW_REFERENCE_EXT and REFERENCE_EXT
    reads(
        &[131, 114, 0, 1, 119, 3, b'a', b'@', b'h', 4, 0, 0, 0, 1],
        reference(vec![1], 4),
    );
    reads(
        &[131, 101, 119, 3, b'a', b'@', b'h', 0, 0, 0, 9, 4],
        reference(vec![9], 4),
    );
    // Word counts: 0..=5 for NEWER, 1..=5 for NEW (as BEAM).
    reads(
        &[131, 90, 0, 0, 119, 1, b'a', 0, 0, 0, 1],
        Term::Reference(Box::new(Reference {
            node: "a".into(),
            id: vec![],
            creation: 1,
        })),
    );
    for bad in [
        &[131, 90, 0, 6, 119, 1, b'a'][..],
        &[131, 114, 0, 0, 119, 1, b'a', 1],
    ] {
        assert!(matches!(
            decode(bad),
            Err(DecodeError::BadReferenceLength { .. })
        ));
    }
    assert!(matches!(
        encode_to_vec(&reference(vec![0; 6], 1)),
        Err(EncodeError::ReferenceTooLong { words: 6 })
    ));
}

#[test]
fn funs() {
    // EXPORT_EXT: fun lists:map/2
    golden(
        Term::ExternalFun(Box::new(ExternalFun::from(("lists", "map", 2)))),
        &[
            131, 113, 119, 5, b'l', b'i', b's', b't', b's', 119, 3, b'm', b'a', b'p', 97, 2,
        ],
    );
    // An INTEGER_EXT arity is read (BEAM does); 256 is out of range.
    let mut bytes = vec![131, 113, 119, 1, b'l', 119, 1, b'm', 98, 0, 0, 0, 2];
    reads(
        &bytes,
        Term::ExternalFun(Box::new(ExternalFun::from(("l", "m", 2)))),
    );
    bytes[12] = 0;
    bytes[11] = 1;
    assert!(matches!(
        decode(&bytes),
        Err(DecodeError::IntegerOutOfRange { .. })
    ));
    // NEW_FUN_EXT: Size counts from the Size field to the end.
    let fun = Term::InternalFun(Box::new(InternalFun::New {
        module: "m".into(),
        arity: 1,
        pid: pid("a@h", 9, 0, 0),
        free_vars: vec![int(42)],
        index: 3,
        uniq: [7; 16],
        old_index: 3,
        old_uniq: 123_456_789,
    }));
    let out = encode_to_vec(&fun).unwrap();
    assert_eq!(out[1], 112);
    let size = u32::from_be_bytes([out[2], out[3], out[4], out[5]]) as usize;
    assert_eq!(size, out.len() - 2);
    assert_eq!(decode(&out).as_ref(), Ok(&fun));
    let mut wrong = out.clone();
    wrong[5] -= 1;
    assert!(matches!(
        decode(&wrong),
        Err(DecodeError::FunSizeMismatch { .. })
    ));
    // FUN_EXT (pre-OTP 23 funs): OTP 25, 27 and 29 refuse it in
    // binary_to_term/1, so neither side of the codec takes it.
    let old = Term::InternalFun(Box::new(InternalFun::Old {
        module: "m".into(),
        pid: pid("a@h", 9, 0, 0),
        free_vars: vec![atom("x")],
        index: 1,
        uniq: -5,
    }));
    assert!(matches!(
        encode_to_vec(&old),
        Err(EncodeError::Unsupported { .. })
    ));
    // <<131, 117, 0:32, PidExt/binary, ModuleAtom/binary, 97, 1, 97, 1>>
    let mut bytes = vec![131, 117, 0, 0, 0, 0, 88, 119, 3, b'a', b'@', b'b'];
    bytes.extend([0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1]);
    bytes.extend([119, 1, b'm', 97, 1, 97, 1]);
    assert!(matches!(
        decode(&bytes),
        Err(DecodeError::UnsupportedTag { tag: 117, .. })
    ));
}

#[test]
fn compressed_terms() {
    // term_to_binary(lists:duplicate(100, 1), [compressed]) on OTP 25
    let bytes = [
        131, 80, 0, 0, 0, 103, 120, 156, 203, 102, 72, 97, 164, 3, 0, 0, 102, 162, 1, 52,
    ];
    let expected = Term::ByteList(ByteList::from(vec![1; 100]));
    assert_eq!(decode(&bytes).as_ref(), Ok(&expected));
    // decode_prefix reports the bytes the zlib stream took.
    let mut two = bytes.to_vec();
    two.extend([131, 106]);
    assert_eq!(decode_prefix(&two), Ok((expected, bytes.len())));
    // The declared size must be met exactly and must respect the limit.
    let mut short = bytes;
    short[5] = 102;
    assert!(matches!(
        decode(&short),
        Err(DecodeError::BadCompression { .. })
    ));
    let small = Limits {
        max_decompressed_size: 100,
        ..Limits::default()
    };
    assert!(matches!(
        decode_prefix_with(&bytes, true, &small),
        Err(DecodeError::DecompressedTooLarge {
            declared: 103,
            limit: 100,
            ..
        })
    ));
    // Corrupt checksum.
    let mut bad = bytes;
    bad[19] ^= 1;
    assert!(matches!(
        decode(&bad),
        Err(DecodeError::BadCompression { .. })
    ));
}

#[test]
fn prefixes_and_bodies() {
    // A dist packet carries two terms back to back.
    let bytes = [131, 97, 1, 131, 104, 0];
    assert_eq!(decode_prefix(&bytes), Ok((int(1), 3)));
    assert_eq!(decode_prefix(&bytes[3..]), Ok((term!({}), 3)));
    // After a distribution header the version byte is left out.
    let limits = Limits::default();
    assert_eq!(
        decode_prefix_with(&[97, 1, 106], false, &limits),
        Ok((int(1), 2))
    );
    let mut body = Vec::new();
    encode_body(&atom("a"), &mut body).unwrap();
    assert_eq!(body, [119, 1, b'a']);
    assert!(matches!(
        decode(&[131, 97, 1, 0]),
        Err(DecodeError::TrailingBytes {
            offset: 3,
            count: 1
        })
    ));
    assert!(matches!(
        decode(&[130, 97, 1]),
        Err(DecodeError::BadVersion {
            offset: 0,
            found: 130
        })
    ));
}

#[test]
fn encode_leaves_output_alone_on_error() {
    let mut out = vec![1, 2, 3];
    let bad = term!({1, (atom(&"a".repeat(300)))});
    assert!(encode(&bad, &mut out).is_err());
    assert_eq!(out, [1, 2, 3]);
    assert!(encode_body(&bad, &mut out).is_err());
    assert_eq!(out, [1, 2, 3]);
}

#[test]
fn depth_limit_is_exact() {
    let nest = |depth: usize| {
        let mut t = int(1);
        for _ in 0..depth {
            t = list(vec![t, atom("x")]);
        }
        t
    };
    let limits = Limits {
        max_depth: 3,
        ..Limits::default()
    };
    let bytes = encode_to_vec(&nest(3)).unwrap();
    assert!(decode_prefix_with(&bytes, true, &limits).is_ok());
    let bytes = encode_to_vec(&nest(4)).unwrap();
    assert!(matches!(
        decode_prefix_with(&bytes, true, &limits),
        Err(DecodeError::TooDeep { max_depth: 3, .. })
    ));
    let mut out = Vec::new();
    assert!(matches!(
        encode_with(&nest(4), &mut out, &limits),
        Err(EncodeError::TooDeep { max_depth: 3 })
    ));
    assert!(out.is_empty());
}

#[test]
fn refused_tags() {
    for (tag, name) in [
        (68, "DIST_HEADER"),
        (69, "DIST_FRAG_HEADER"),
        (82, "ATOM_CACHE_REF"),
        (121, "LOCAL_EXT"),
        (80, "COMPRESSED"),
    ] {
        // Inside a tuple, so that COMPRESSED is not at the top.
        let err = decode(&[131, 104, 1, tag, 0, 0, 0, 0]).unwrap_err();
        assert!(
            matches!(err, DecodeError::UnsupportedTag { offset: 3, tag_name, .. } if tag_name == name),
            "{err}"
        );
    }
    let err = decode(&[131, 0]).unwrap_err();
    assert_eq!(err, DecodeError::UnknownTag { offset: 1, tag: 0 });
    assert_eq!(err.to_string(), "unknown tag 0 at offset 1");
    // An atom cache reference as a pid's node name.
    assert!(matches!(
        decode(&[131, 88, 82, 0]),
        Err(DecodeError::UnsupportedTag { tag: 82, .. })
    ));
    // A non-atom as a pid's node name.
    assert!(matches!(
        decode(&[131, 88, 97, 0]),
        Err(DecodeError::UnexpectedTag { tag: 97, .. })
    ));
}

#[test]
fn error_messages_read_well_in_a_log() {
    let err = decode(&[131, 105, 255, 255, 255, 255]).unwrap_err();
    assert_eq!(
        err.to_string(),
        "LARGE_TUPLE_EXT at offset 1 claims 4294967295 elements, but only 0 bytes remain \
         (0 of them owed to enclosing terms)"
    );
    let err = decode(&[131, 109, 0, 0, 0, 9, 1]).unwrap_err();
    assert_eq!(
        err.to_string(),
        "input ends at offset 6: BINARY_EXT bytes needs 9 more bytes, 1 remain"
    );
}

#[test]
fn builders_round_trip() {
    let t = term!({:"$gen_call", {(Term::Pid(pid("beam@host", 85, 0, 1_700_000_000))), (Term::Reference(Box::new(Reference {
            node: "beam@host".into(),
            id: vec![1, 2, 3],
            creation: 1_700_000_000,
        })))}, (map(vec![
        (atom("k"), list(vec![])),
        (
            binary(*b"v"),
            Term::List(List::from(vec![int(-1), int(1 << 40)])),
        ),
    ]))});
    let bytes = encode_to_vec(&t).unwrap();
    assert_eq!(decode(&bytes), Ok(t));
}

#[test]
fn map_keys_holding_maps() {
    // eetf hashes a Map in HashMap order, so a HashMap cannot see that
    // these two keys are equal; BEAM refuses this map, and so do we:
    // binary_to_term(<<131,116,2:32, 116,2:32,119,1,$a,97,1,119,1,$b,97,2,
    //   119,1,$x, 116,2:32,119,1,$b,97,2,119,1,$a,97,1, 119,1,$y>>) -> badarg
    let inner_ab = [116, 0, 0, 0, 2, 119, 1, b'a', 97, 1, 119, 1, b'b', 97, 2];
    let inner_ba = [116, 0, 0, 0, 2, 119, 1, b'b', 97, 2, 119, 1, b'a', 97, 1];
    let mut bytes = vec![131, 116, 0, 0, 0, 2];
    bytes.extend(inner_ab);
    bytes.extend([119, 1, b'x']);
    bytes.extend(inner_ba);
    bytes.extend([119, 1, b'y']);
    assert!(matches!(
        decode(&bytes),
        Err(DecodeError::DuplicateMapKey { offset: 1, .. })
    ));
    // Distinct map keys are fine, and encode in a stable order.
    let key = |v| map(vec![(atom("a"), int(1)), (atom("b"), int(v))]);
    let m = map((0..20).map(|i| (key(i), int(i))).collect());
    let bytes = encode_to_vec(&m).unwrap();
    let back = decode(&bytes).unwrap();
    assert_eq!(encode_to_vec(&back), Ok(bytes));
}

/// `decode_owned_with` gives the terms `decode_prefix_with` gives; a large
/// binary that ends the buffer becomes the buffer itself (its allocation
/// is kept), anything else is copied as usual.
#[test]
fn owned_decode_moves_the_tail_binary_into_the_term() {
    let big = vec![5u8; 200_000];
    let call = term!({:"$gen_call", {(Term::Pid(pid("a@h", 1, 0, 1))), x}, (crate::term::binary(big.clone()))});
    let cases = [
        // The binary ends the buffer and is large: moved.
        (call.clone(), true),
        (crate::term::binary(big.clone()), true),
        (
            Term::ImproperList(crate::term::ImproperList::from((
                vec![term!(a)],
                crate::term::binary(big.clone()),
            ))),
            true,
        ),
        // A proper list ends with NIL_EXT; a small binary is copied.
        (term!([(crate::term::binary(big.clone()))]), false),
        (term!({a, (crate::term::binary(vec![1; 10]))}), false),
        // A binary last in a map: decoded again, copying.
        (term!(#{k => (crate::term::binary(big.clone()))}), false),
    ];
    for (t, moved) in cases {
        let mut bytes = vec![9, 9, 9];
        encode_body(&t, &mut bytes).unwrap();
        let buffer_at = bytes.as_ptr();
        let back = decode_owned_with(
            bytes,
            3,
            64 * 1024,
            AtomTable::default(),
            &Limits::default(),
        )
        .unwrap();
        assert_eq!(back, t);
        let mut leaf = &back;
        while let Some(last) = match leaf {
            Term::Tuple(x) => x.elements.last(),
            Term::ImproperList(l) => Some(&*l.last),
            Term::List(l) => l.elements.last(),
            Term::Map(m) => m.map.values().next(),
            _ => None,
        } {
            leaf = last;
        }
        let Term::Binary(b) = leaf else {
            panic!("{t:?}")
        };
        assert_eq!(b.bytes.as_ptr() == buffer_at, moved, "{t:?}");
    }
    // Bytes after the term are refused, as by `decode`.
    let mut bytes = Vec::new();
    encode_body(&call, &mut bytes).unwrap();
    bytes.push(0);
    assert!(matches!(
        decode_owned_with(bytes, 0, 1, AtomTable::default(), &Limits::default()),
        Err(DecodeError::TrailingBytes { count: 1, .. })
    ));
}
