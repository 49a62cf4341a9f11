//! Golden bytes for every handshake message, field by field, and the
//! parsers' answers to malformed bodies.
//!
//! Reference: `dist_util:send_name/1`, `send_status/2`, `send_challenge/2`,
//! `send_challenge_reply/3`, `send_challenge_ack/2`, `gen_digest/2`
//! (OTP 25.2.3); digests checked against `erlang:md5/1` on OTP 25.

use super::error::{HandshakeError, MessageKind};
use super::message::*;
use crate::dist::DFlags;

/// `erts_internal:get_dflags()` default of OTP 25, plus PUBLISHED.
const OTP25: DFlags = DFlags(0x0000_000D_07DF_7FBD);

fn cat(parts: &[&[u8]]) -> Vec<u8> {
    parts.concat()
}

#[test]
fn golden_send_name() {
    let msg = Name {
        flags: OTP25,
        creation: 0x1122_3344,
        name: b"a@127.0.0.1".to_vec(),
    };
    let bytes = cat(&[
        &[0x00, 0x1a],                                     // frame length 26
        b"N",                                              // tag: send_name, version 6
        &[0x00, 0x00, 0x00, 0x0d, 0x07, 0xdf, 0x7f, 0xbd], // flags:64
        &[0x11, 0x22, 0x33, 0x44],                         // creation:32
        &[0x00, 0x0b],                                     // name length:16 = 11
        b"a@127.0.0.1",                                    // name
    ]);
    assert_eq!(msg.encode(), bytes);
    assert_eq!(Name::parse(&bytes[2..]), Ok(msg));
}

#[test]
fn golden_status() {
    for (status, text) in [
        (Status::Ok, &b"ok"[..]),
        (Status::OkSimultaneous, b"ok_simultaneous"),
        (Status::Nok, b"nok"),
        (Status::NotAllowed, b"not_allowed"),
        (Status::Alive, b"alive"),
        (Status::True, b"true"),
        (Status::False, b"false"),
    ] {
        let bytes = cat(&[
            &[0x00, 1 + text.len() as u8], // frame length
            b"s",                          // tag: send_status
            text,                          // the status atom's text
        ]);
        assert_eq!(status.encode(), bytes);
        assert_eq!(Status::parse(&bytes[2..], MessageKind::Status), Ok(status));
    }
    let named = Status::Named {
        name: b"x@h".to_vec(),
        creation: 5,
    };
    let bytes = cat(&[
        &[0x00, 0x10],             // frame length 16
        b"s",                      // tag: send_status
        b"named:",                 // status text
        &[0x00, 0x03],             // name length:16
        b"x@h",                    // the name given to the peer
        &[0x00, 0x00, 0x00, 0x05], // creation:32
    ]);
    assert_eq!(named.encode(), bytes);
    assert_eq!(Status::parse(&bytes[2..], MessageKind::Status), Ok(named));
    assert_eq!(
        Status::parse(b"sweird", MessageKind::Status),
        Ok(Status::Unknown(b"weird".to_vec()))
    );
}

#[test]
fn golden_challenge() {
    let msg = Challenge {
        flags: OTP25,
        challenge: 4_000_000_000,
        creation: 0x0a0b_0c0d,
        name: b"b@127.0.0.1".to_vec(),
    };
    let bytes = cat(&[
        &[0x00, 0x1e],                                     // frame length 30
        b"N",                                              // tag: send_challenge
        &[0x00, 0x00, 0x00, 0x0d, 0x07, 0xdf, 0x7f, 0xbd], // flags:64
        &[0xee, 0x6b, 0x28, 0x00],                         // challenge:32 = 4000000000
        &[0x0a, 0x0b, 0x0c, 0x0d],                         // creation:32
        &[0x00, 0x0b],                                     // name length:16
        b"b@127.0.0.1",                                    // name
    ]);
    assert_eq!(msg.encode(), bytes);
    assert_eq!(Challenge::parse(&bytes[2..]), Ok(msg));
}

/// `erlang:md5([atom_to_list(protocookie) | integer_to_list(4000000000)])` on OTP 25.
const DIGEST_PROTOCOOKIE_4E9: [u8; 16] = [
    89, 95, 250, 101, 164, 8, 107, 49, 195, 182, 194, 126, 174, 125, 72, 206,
];
/// `erlang:md5(["c" | integer_to_list(16#01020304)])` on OTP 25.
const DIGEST_C_01020304: [u8; 16] = [
    104, 134, 177, 210, 81, 159, 129, 61, 31, 36, 9, 234, 142, 170, 39, 234,
];

#[test]
fn digest_matches_otp() {
    assert_eq!(
        gen_digest(4_000_000_000, "protocookie"),
        DIGEST_PROTOCOOKIE_4E9
    );
    assert_eq!(gen_digest(0x0102_0304, "c"), DIGEST_C_01020304);
}

#[test]
fn golden_challenge_reply() {
    let msg = ChallengeReply {
        challenge: 0x0102_0304,
        digest: DIGEST_PROTOCOOKIE_4E9,
    };
    let bytes = cat(&[
        &[0x00, 0x15],             // frame length 21
        b"r",                      // tag: send_challenge_reply
        &[0x01, 0x02, 0x03, 0x04], // the initiator's challenge:32
        &DIGEST_PROTOCOOKIE_4E9,   // digest of the acceptor's challenge:128
    ]);
    assert_eq!(msg.encode(), bytes);
    assert_eq!(ChallengeReply::parse(&bytes[2..]), Ok(msg));
}

#[test]
fn golden_challenge_ack() {
    let msg = ChallengeAck {
        digest: DIGEST_C_01020304,
    };
    let bytes = cat(&[
        &[0x00, 0x11],      // frame length 17
        b"a",               // tag: send_challenge_ack
        &DIGEST_C_01020304, // digest of the initiator's challenge:128
    ]);
    assert_eq!(msg.encode(), bytes);
    assert_eq!(ChallengeAck::parse(&bytes[2..]), Ok(msg));
}

#[test]
fn latin1_names() {
    assert_eq!(&*latin1("a@h"), b"a@h");
    assert_eq!(&*latin1("\u{e9}@h"), &[0xe9, b'@', b'h']);
    assert_eq!(from_latin1(&[0xe9, b'@', b'h']), "\u{e9}@h");
}

#[test]
fn frame_check() {
    use MessageKind::*;
    assert_eq!(check_frame(&[], Status, Framing::Packet2), Ok(None));
    assert_eq!(check_frame(&[0], Status, Framing::Packet2), Ok(None));
    assert_eq!(
        check_frame(&[0, 3, b's', b'o'], Status, Framing::Packet2),
        Ok(None)
    );
    assert_eq!(
        check_frame(&[0, 3, b's', b'o', b'k', 9], Status, Framing::Packet2),
        Ok(Some(3))
    );
    assert_eq!(
        check_frame(&[0, 0], Status, Framing::Packet2),
        Err(HandshakeError::EmptyMessage { expected: Status })
    );
    // Refused from the header alone: no body is waited for.
    assert_eq!(
        check_frame(&[0xff, 0xff], ChallengeAck, Framing::Packet2),
        Err(HandshakeError::BadLength {
            message: ChallengeAck,
            len: 65535
        })
    );
    assert_eq!(
        check_frame(&[0, 18], ChallengeAck, Framing::Packet2),
        Err(HandshakeError::BadLength {
            message: ChallengeAck,
            len: 18
        })
    );
}

#[test]
fn malformed_bodies() {
    use HandshakeError::*;
    use MessageKind as K;
    let bad = |message, len| BadLength { message, len };
    assert_eq!(Name::parse(b"n\x00\x05"), Err(OldProtocol));
    assert_eq!(
        Name::parse(b"x"),
        Err(UnexpectedMessage {
            expected: K::Name,
            got: b'x'
        })
    );
    assert_eq!(Name::parse(b""), Err(EmptyMessage { expected: K::Name }));
    let good = Name {
        flags: OTP25,
        creation: 1,
        name: b"a@h".to_vec(),
    }
    .encode();
    let body = &good[2..];
    // Every truncation, and a byte too many.
    for k in 1..body.len() {
        assert_eq!(Name::parse(&body[..k]), Err(bad(K::Name, k)), "prefix {k}");
    }
    let mut long = body.to_vec();
    long.push(0);
    assert_eq!(Name::parse(&long), Err(bad(K::Name, long.len())));

    let good = Challenge {
        flags: OTP25,
        challenge: 1,
        creation: 1,
        name: b"b@h".to_vec(),
    }
    .encode();
    let body = &good[2..];
    for k in 1..body.len() {
        assert_eq!(
            Challenge::parse(&body[..k]),
            Err(bad(K::Challenge, k)),
            "prefix {k}"
        );
    }
    let good = ChallengeReply {
        challenge: 1,
        digest: [7; 16],
    }
    .encode();
    let body = &good[2..];
    for k in 1..body.len() {
        assert_eq!(
            ChallengeReply::parse(&body[..k]),
            Err(bad(K::ChallengeReply, k))
        );
    }
    let good = ChallengeAck { digest: [7; 16] }.encode();
    let body = &good[2..];
    for k in 1..body.len() {
        assert_eq!(
            ChallengeAck::parse(&body[..k]),
            Err(bad(K::ChallengeAck, k))
        );
    }
    // named: with a name length that disagrees with the body.
    assert_eq!(
        Status::parse(b"snamed:\x00\x09x@h\x00\x00\x00\x05", K::Status),
        Err(bad(K::Status, 16))
    );
    assert_eq!(
        Status::parse(b"snamed:\x00", K::Status),
        Err(bad(K::Status, 8))
    );
}
