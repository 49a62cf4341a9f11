//! Golden bytes for the EPMD messages. The reply bytes were captured from
//! the OTP 25 `epmd` (erts 13.1) on this machine with a raw socket.

use super::*;

/// `ALIVE2_REQ` as OTP 25's `erl_epmd:do_register_node/3` sends it for
/// `a1`, port 5555: type `'M'`, protocol 0, highest 6, lowest 5.
const ALIVE2_A1: &[u8] = &[
    0x00, 0x0f, // length 15
    120,  // ALIVE2_REQ
    0x15, 0xb3, // port 5555
    77,   // 'M' normal node
    0,    // TCP/IPv4
    0x00, 0x06, // highest version
    0x00, 0x05, // lowest version
    0x00, 0x02, b'a', b'1', // name
    0x00, 0x00, // no extra
];

fn a1() -> Alive2Req {
    Alive2Req {
        port: 5555,
        node_type: 77,
        protocol: 0,
        highest_version: 6,
        lowest_version: 5,
        name: "a1".into(),
        extra: vec![],
    }
}

#[test]
fn alive2_req_golden() {
    assert_eq!(
        parse(ALIVE2_A1),
        Ok((Request::Alive2(a1()), ALIVE2_A1.len()))
    );
    assert_eq!(Request::Alive2(a1()).encode(), ALIVE2_A1);
}

#[test]
fn alive2_req_with_extra_and_trailing_bytes() {
    let mut req = a1();
    req.extra = b"xyz".to_vec();
    let mut frame = Request::Alive2(req.clone()).encode();
    // epmd ignores bytes after the extra field; so do we.
    frame.extend_from_slice(b"!!");
    frame[1] += 2;
    assert_eq!(parse(&frame), Ok((Request::Alive2(req), frame.len())));
}

#[test]
fn small_requests_golden() {
    assert_eq!(parse(&[0, 1, 110]), Ok((Request::Names, 3))); // NAMES_REQ
    assert_eq!(parse(&[0, 1, 100]), Ok((Request::Dump, 3))); // DUMP_REQ
    assert_eq!(parse(&[0, 1, 107]), Ok((Request::Kill, 3))); // KILL_REQ
    let port_please = [0, 4, 122, b'b', b'a', b'r']; // PORT_PLEASE2_REQ "bar"
    assert_eq!(
        parse(&port_please),
        Ok((Request::PortPlease2 { name: "bar".into() }, 6))
    );
    assert_eq!(
        Request::PortPlease2 { name: "bar".into() }.encode(),
        port_please
    );
    let stop = [0, 2, 115, b'y']; // STOP_REQ "y"
    assert_eq!(parse(&stop), Ok((Request::Stop { name: "y".into() }, 4)));
    assert_eq!(Request::Names.encode(), [0, 1, 110]);
}

#[test]
fn port_please_accepts_one_trailing_nul() {
    assert_eq!(
        parse(&[0, 5, 122, b'b', b'a', b'r', 0]),
        Ok((Request::PortPlease2 { name: "bar".into() }, 7))
    );
}

#[test]
fn parse_uses_only_the_first_frame() {
    let mut two = vec![0, 1, 110];
    two.extend_from_slice(ALIVE2_A1);
    assert_eq!(parse(&two), Ok((Request::Names, 3)));
}

#[test]
fn every_truncation_is_incomplete() {
    for cut in 0..ALIVE2_A1.len() {
        assert_eq!(
            check(&ALIVE2_A1[..cut]),
            Err(ProtoError::Incomplete),
            "cut {cut}"
        );
        assert_eq!(
            parse(&ALIVE2_A1[..cut]),
            Err(ProtoError::Incomplete),
            "cut {cut}"
        );
    }
}

#[test]
fn bad_frames_are_rejected() {
    assert_eq!(check(&[0, 0]), Err(ProtoError::Empty));
    assert_eq!(
        check(&[0xff, 0xff]),
        Err(ProtoError::TooLong {
            len: 0xffff,
            max: MAX_REQUEST_LEN
        })
    );
    assert_eq!(parse(&[0, 1, 1]), Err(ProtoError::UnknownTag { tag: 1 }));
    // Old R3 requests ('a', 'p') are unknown to a modern epmd as well.
    assert_eq!(
        parse(&[0, 1, b'p']),
        Err(ProtoError::UnknownTag { tag: b'p' })
    );
}

fn malformed(frame: &[u8]) -> &'static str {
    match parse(frame) {
        Err(ProtoError::Malformed { reason, .. }) => reason,
        other => panic!("expected Malformed, got {other:?}"),
    }
}

#[test]
fn malformed_alive2_is_rejected() {
    // No name byte: the body is exactly the fixed part.
    let mut empty_name = Request::Alive2(Alive2Req {
        name: String::new(),
        ..a1()
    })
    .encode();
    assert!(malformed(&empty_name).contains("shorter"));
    // A name length pointing past the frame.
    empty_name.extend_from_slice(b"z");
    empty_name[1] += 1;
    empty_name[12] = 9;
    assert!(malformed(&empty_name).contains("name length"));
    // An extra length pointing past the frame.
    let mut long_extra = ALIVE2_A1.to_vec();
    long_extra[16] = 1;
    assert!(malformed(&long_extra).contains("extra"));
    // NUL and invalid UTF-8 in the name.
    let mut nul = ALIVE2_A1.to_vec();
    nul[14] = 0;
    assert!(malformed(&nul).contains("NUL"));
    let mut latin1 = ALIVE2_A1.to_vec();
    latin1[14] = 0xe9;
    assert!(malformed(&latin1).contains("UTF-8"));
}

#[test]
fn malformed_names_are_rejected() {
    assert!(malformed(&[0, 1, 122]).contains("empty"));
    assert!(malformed(&[0, 2, 122, 0]).contains("empty"));
    assert!(malformed(&[0, 3, 122, 0, b'a']).contains("NUL"));
    assert!(malformed(&[0, 2, 122, 0xff]).contains("UTF-8"));
    let mut long = vec![PORT_PLEASE2_REQ];
    long.extend(std::iter::repeat_n(b'a', 256));
    let mut frame = u16::try_from(long.len()).unwrap().to_be_bytes().to_vec();
    frame.extend(long);
    assert!(malformed(&frame).contains("255"));
    assert!(malformed(&[0, 1, 115]).contains("empty"));
}

#[test]
fn no_panic_on_any_short_input() {
    // Exhaustive over every 1..=3-byte body and a spread of 4-byte bodies.
    for len in 1u16..=3 {
        for n in 0u32..(1 << (8 * len)) {
            let body = &n.to_be_bytes()[4 - usize::from(len)..];
            let mut frame = len.to_be_bytes().to_vec();
            frame.extend_from_slice(body);
            let _ = parse(&frame);
        }
    }
    let mut seed = 0x2545_f491_4f6c_dd1d_u64;
    for _ in 0..20_000 {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        let bytes = seed.to_be_bytes();
        let len = usize::from(bytes[0] % 24);
        let mut frame = vec![0, u8::try_from(len).unwrap()];
        frame.extend((0..len).map(|i| bytes[i % 8].wrapping_add(u8::try_from(i).unwrap())));
        if len > 0 {
            frame[2] = [120, 122, 115, 110][usize::from(bytes[1] % 4)];
        }
        if let Ok((req, used)) = parse(&frame) {
            // Round trip: what we parsed re-encodes to something that parses
            // back to the same request.
            assert!(used <= frame.len());
            assert_eq!(parse(&req.encode()).map(|(r, _)| r), Ok(req));
        }
    }
}

#[test]
fn alive2_replies_golden() {
    // Registered, 32-bit creation 0x6b0135d3.
    assert_eq!(
        Alive2Resp::for_version(6, Some(0x6b01_35d3)).encode(),
        [118, 0, 0x6b, 0x01, 0x35, 0xd3]
    );
    // Name in use: epmd 25 sends result 1 and creation 99.
    assert_eq!(
        Alive2Resp::for_version(6, None).encode(),
        [118, 1, 0, 0, 0, 99]
    );
    // A version-5 node: 16-bit reply, creation folded into 1..=3
    // (0x6b0135e3 % 3 + 1 = 2, as epmd answered).
    assert_eq!(
        Alive2Resp::for_version(5, Some(0x6b01_35e3)).encode(),
        [121, 0, 0, 2]
    );
    assert_eq!(Alive2Resp::for_version(5, None).encode(), [121, 1, 0, 99]);
}

#[test]
fn port2_replies_golden() {
    let bar = Alive2Req {
        name: "bar".into(),
        ..a1()
    };
    assert_eq!(
        encode_port2_resp(Some(&bar.to_entry())),
        [
            119, 0, // PORT2_RESP, ok
            0x15, 0xb3, // port 5555
            77, 0, // 'M', TCP/IPv4
            0, 6, 0, 5, // highest, lowest
            0, 3, b'b', b'a', b'r', // name
            0, 0, // extra
        ]
    );
    let hid = Alive2Req {
        name: "hid".into(),
        node_type: 72,
        extra: b"xyz".to_vec(),
        ..a1()
    };
    assert_eq!(
        encode_port2_resp(Some(&hid.to_entry())),
        hex("770015b34800000600050003686964000378797a")
    );
    assert_eq!(encode_port2_resp(None), [119, 1]);
    assert_eq!(Alive2Req::from_entry(&hid.to_entry()), hid);
}

#[test]
fn names_and_dump_golden() {
    assert_eq!(
        encode_names_resp(14369, [("pro", 5555), ("bar", 5555)]),
        b"\x00\x008!name pro at port 5555\nname bar at port 5555\n"
    );
    assert_eq!(encode_names_resp(14369, []), b"\x00\x008!");
    let dump = encode_dump_resp(
        14369,
        [
            DumpLine {
                name: "pro",
                port: 5555,
                fd: 11,
                active: true,
            },
            DumpLine {
                name: "foo",
                port: 5555,
                fd: 5,
                active: false,
            },
        ],
    );
    assert_eq!(
        dump,
        b"\x00\x008!active name     <pro> at port 5555, fd = 11\n\x00\
          old/unused name <foo>, port = 5555, fd = 5 \n\x00"
    );
}

fn hex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}
