//! Hostile and broken input: garbage, truncations and wrong messages in
//! every state, answers out of turn, bounded buffering. Nothing the peer
//! sends may panic; every refusal is a [`HandshakeError`].
//!
//! Reference: `dist_util:recv_name/1`, `recv_status/1`,
//! `recv_challenge_new/2`, `recv_challenge_reply/3`, `recv_challenge_ack/3`
//! (OTP 25.2.3): any message that does not match closes the connection.

use super::handshake_test::*;
use super::*;

/// Machines parked in every state that reads from the socket.
fn machines_in_every_reading_state() -> Vec<(&'static str, Handshake)> {
    let mut out = vec![("initiator/ExpectStatus", init(flags(), "c", B))];
    let mut a = init(flags(), "c", B);
    a.handle_data(&status_msg("ok")).unwrap();
    out.push(("initiator/ExpectChallenge", a));
    let mut a = init(flags(), "c", B);
    a.handle_data(&[status_msg("ok"), challenge_msg(flags(), CH_B, CR_B, B)].concat())
        .unwrap();
    out.push(("initiator/ExpectChallengeAck", a));
    out.push(("acceptor/ExpectName", acc(flags(), "c")));
    let mut b = acc(flags(), "c");
    b.handle_data(&name_msg(flags(), CR_A, A)).unwrap();
    b.handle_accept_pending(AcceptPending::UpPending).unwrap();
    out.push(("acceptor/ExpectStatusReply", b));
    let mut b = acc(flags(), "c");
    b.handle_data(&name_msg(flags(), CR_A, A)).unwrap();
    b.handle_accept_pending(AcceptPending::Ok).unwrap();
    out.push(("acceptor/ExpectChallengeReply", b));
    out
}

/// Every valid message, and a few near misses.
fn sample_messages() -> Vec<Vec<u8>> {
    vec![
        name_msg(flags(), CR_A, A),
        status_msg("ok"),
        status_msg("alive"),
        status_msg("true"),
        status_msg("named:"),
        challenge_msg(flags(), CH_B, CR_B, B),
        reply_msg(CH_A, digest("c", CH_B)),
        ack_msg(digest("c", CH_A)),
        framed(b"n\x00\x05\x00\x00\x00\x00a@h".to_vec()),
    ]
}

/// Deterministic xorshift bytes, so failures replay.
fn noise(seed: u64, len: usize) -> Vec<u8> {
    let mut x = seed | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

#[test]
fn every_prefix_of_every_message_in_every_state() {
    for msg in sample_messages() {
        for cut in 0..=msg.len() {
            for (state, mut hs) in machines_in_every_reading_state() {
                // A prefix is either waited on or refused; never a panic.
                let r = hs.handle_data(&msg[..cut]);
                if cut < 2 {
                    assert_eq!(r, Ok(()), "{state} cut {cut}");
                }
                while hs.poll_event().is_some() {}
                // The rest of the bytes, then garbage: still no panic.
                let _ = hs.handle_data(&msg[cut..]);
                let _ = hs.handle_data(&noise(cut as u64, 64));
            }
        }
    }
}

#[test]
fn truncated_frames_are_errors() {
    // A frame whose length cuts a message short: the body is complete as far
    // as framing goes, so it must be refused at once.
    for msg in sample_messages() {
        let body = &msg[2..];
        for k in 1..body.len() {
            for (state, mut hs) in machines_in_every_reading_state() {
                let r = hs.handle_data(&framed(body[..k].to_vec()));
                // No proper prefix of a message is a valid message in any state.
                let Err(e) = r else {
                    panic!("{state}: prefix {k} of {msg:?} accepted")
                };
                assert_eq!(hs.handle_data(b""), Err(e), "{state}");
            }
        }
    }
}

#[test]
fn random_garbage_never_panics() {
    for seed in 0..200u64 {
        for (_, mut hs) in machines_in_every_reading_state() {
            let bytes = noise(seed, (seed as usize * 37) % 700);
            for piece in bytes.chunks(1 + seed as usize % 9) {
                if hs.handle_data(piece).is_err() {
                    break;
                }
            }
            // Plausible frame headers with garbage bodies.
            let mut framed_noise = vec![0, (seed % 40) as u8];
            framed_noise.extend(noise(seed + 1000, (seed % 40) as usize));
            let _ = hs.handle_data(&framed_noise);
            let _ = hs.handle_accept_pending(AcceptPending::Ok);
            let _ = hs.handle_is_pending(true);
            let _ = hs.handle_wait_pending_done();
            while hs.poll_event().is_some() {}
        }
    }
}

#[test]
fn oversized_frame_refused_from_its_header() {
    for (state, mut hs) in machines_in_every_reading_state() {
        let r = hs.handle_data(&[0xff, 0xff, b'N']);
        assert!(
            matches!(r, Err(HandshakeError::BadLength { len: 65535, .. })),
            "{state}: {r:?}"
        );
        assert!(hs.into_leftover().is_empty(), "{state}: buffer released");
    }
}

#[test]
fn peer_that_does_not_wait_is_cut_off() {
    let mut b = acc(flags(), "c");
    b.handle_data(&name_msg(flags(), CR_A, A)).unwrap();
    // Waiting for net_kernel: a little early data is held ...
    b.handle_data(&[0; 100]).unwrap();
    // ... but not without bound.
    let r = b.handle_data(&vec![0; max_buffered(Framing::Packet2)]);
    assert_eq!(
        r,
        Err(HandshakeError::TooMuchData {
            len: 100 + max_buffered(Framing::Packet2)
        })
    );
}

#[test]
fn old_protocol_refused_without_status() {
    let mut b = acc(flags(), "c");
    // 'n', version:16 = 5, flags:32, name: the protocol 5 send_name.
    let old = framed(b"n\x00\x05\x00\x07\xdf\x7d\x61@127.0.0.1".to_vec());
    assert_eq!(b.handle_data(&old), Err(HandshakeError::OldProtocol));
    assert_eq!(b.poll_event(), None);
}

/// `DFLAG_NAME_ME` (a peer started with `-name undefined@Host`): the node
/// is asked for a name; without one the answer is `not_allowed`.
#[test]
fn dynamic_name_request_refused() {
    let mut b = acc(flags(), "c");
    let asking = flags() | DFlags::NAME_ME;
    assert_eq!(b.handle_data(&name_msg(asking, 0, "127.0.0.1")), Ok(()));
    assert_eq!(
        b.poll_event(),
        Some(Event::NameMe {
            host: "127.0.0.1".into(),
            flags: asking.expand_mandatory_25(),
        })
    );
    assert_eq!(b.poll_event(), None);
    assert_eq!(
        b.handle_name_me(None),
        Err(HandshakeError::DynamicNameUnsupported {
            host: "127.0.0.1".into()
        })
    );
    assert_eq!(b.poll_event(), Some(Event::Send(status_msg("not_allowed"))));
    assert_eq!(b.poll_event(), None);
}

/// A name given: `named:` with its length, the name and the creation
/// (`send_status/2`), then our challenge advertising NAME_ME instead of
/// PUBLISHED (`publish_flag/3`); the connection comes up hidden, under the
/// given name and creation.
#[test]
fn dynamic_name_given() {
    let mut b = acc(flags(), "c");
    let asking = flags() | DFlags::NAME_ME;
    b.handle_data(&name_msg(asking, 0, "127.0.0.1")).unwrap();
    assert!(matches!(b.poll_event(), Some(Event::NameMe { .. })));
    let given = "3W5E11264SGSF@127.0.0.1";
    b.handle_name_me(Some((given, 77))).unwrap();
    let mut named = b"snamed:".to_vec();
    named.extend((given.len() as u16).to_be_bytes());
    named.extend(given.as_bytes());
    named.extend(77u32.to_be_bytes());
    assert_eq!(b.poll_event(), Some(Event::Send(framed(named))));
    let ours = (flags() & !DFlags::PUBLISHED) | DFlags::NAME_ME;
    assert_eq!(
        b.poll_event(),
        Some(Event::Send(challenge_msg(ours, CH_B, CR_B, B)))
    );
    b.handle_data(&reply_msg(CH_A, digest("c", CH_B))).unwrap();
    assert_eq!(
        b.poll_event(),
        Some(Event::Send(ack_msg(digest("c", CH_A))))
    );
    let Some(Event::Established(est)) = b.poll_event() else {
        panic!("not established")
    };
    assert_eq!(est.peer, given);
    assert_eq!(est.peer_creation, 77);
    assert!(est.flags.contains(DFlags::NAME_ME));
    assert!(!est.peer_published);
}

/// With NAME_ME the peer sends a host alone: `is_name_ok/2` refuses a
/// full name or an empty host without a status; missing mandatory flags
/// are refused as for a static name.
#[test]
fn dynamic_name_requests_checked_like_names() {
    for host in ["a@h", ""] {
        let mut b = acc(flags(), "c");
        let r = b.handle_data(&name_msg(flags() | DFlags::NAME_ME, 0, host));
        assert_eq!(
            r,
            Err(HandshakeError::InvalidPeerName { name: host.into() })
        );
        assert_eq!(b.poll_event(), None);
    }
    let mut b = acc(flags(), "c");
    let r = b.handle_data(&name_msg(no_big_creation() | DFlags::NAME_ME, 0, "h"));
    assert!(
        matches!(r, Err(HandshakeError::FlagsRejected { .. })),
        "{r:?}"
    );
    assert_eq!(b.poll_event(), Some(Event::Send(status_msg("not_allowed"))));
}

#[test]
fn invalid_peer_names_refused_without_status() {
    for name in ["noat", "@h", "n@", "a@b@c", ""] {
        let mut b = acc(flags(), "c");
        let r = b.handle_data(&name_msg(flags(), CR_A, name));
        assert_eq!(
            r,
            Err(HandshakeError::InvalidPeerName { name: name.into() })
        );
        assert_eq!(b.poll_event(), None);
    }
}

#[test]
fn initiator_status_errors() {
    let named = framed(b"snamed:\x00\x03x@h\x00\x00\x00\x05".to_vec());
    for (bytes, err) in [
        (named, HandshakeError::UnexpectedNamed { peer: B.into() }),
        (
            status_msg("not_allowed"),
            HandshakeError::NotAllowed { peer: B.into() },
        ),
        (
            status_msg("maybe"),
            HandshakeError::UnknownStatus {
                peer: B.into(),
                status: "maybe".into(),
            },
        ),
        (
            status_msg("true"),
            HandshakeError::UnknownStatus {
                peer: B.into(),
                status: "true".into(),
            },
        ),
        (
            challenge_msg(flags(), CH_B, CR_B, B),
            HandshakeError::UnexpectedMessage {
                expected: MessageKind::Status,
                got: b'N',
            },
        ),
    ] {
        let mut a = init(flags(), "c", B);
        a.poll_event();
        assert_eq!(a.handle_data(&bytes), Err(err));
        assert_eq!(a.poll_event(), None);
    }
}

#[test]
fn answers_out_of_turn_are_driver_errors() {
    let mut a = init(flags(), "c", B);
    let err = HandshakeError::UnexpectedCall {
        call: "handle_accept_pending",
        state: "ExpectStatus",
    };
    assert_eq!(a.handle_accept_pending(AcceptPending::Ok), Err(err));
    // The machine carries on.
    a.poll_event();
    assert_eq!(a.handle_data(&status_msg("ok")), Ok(()));
    let mut b = acc(flags(), "c");
    assert!(matches!(
        b.handle_wait_pending_done(),
        Err(HandshakeError::UnexpectedCall { .. })
    ));
    assert!(matches!(
        b.handle_is_pending(true),
        Err(HandshakeError::UnexpectedCall { .. })
    ));
}

#[test]
fn invalid_local_name_fails_first_call() {
    for name in ["nohost", "a@", "x@".repeat(200).as_str()] {
        let mut a = Handshake::initiator(cfg(name, flags(), 1, "c"), B, 1);
        let err = HandshakeError::InvalidLocalName { name: name.into() };
        assert_eq!(a.poll_event(), None);
        assert_eq!(a.handle_data(b""), Err(err.clone()));
        let mut b = Handshake::acceptor(cfg(name, flags(), 1, "c"), 1);
        assert_eq!(b.handle_data(&name_msg(flags(), 1, A)), Err(err));
    }
}

#[test]
fn name_me_never_sent() {
    let mut a = init(flags() | DFlags::NAME_ME, "c", B);
    assert_eq!(
        a.poll_event(),
        Some(Event::Send(name_msg(flags(), CR_A, A)))
    );
}

#[test]
fn node_names_printed_as_erlang_atoms() {
    use super::error::Atom;
    assert_eq!(Atom("a@host").to_string(), "a@host");
    assert_eq!(Atom("a@127.0.0.1").to_string(), "'a@127.0.0.1'");
    assert_eq!(Atom("Abc@h").to_string(), "'Abc@h'");
    assert_eq!(Atom("it's@h").to_string(), r"'it\'s@h'");
    assert_eq!(Atom("end").to_string(), "'end'");
    assert_eq!(Atom("\u{e9}t\u{e9}@h").to_string(), "\u{e9}t\u{e9}@h");
}

#[test]
fn debug_output_hides_the_cookie() {
    let hs = Handshake::initiator(cfg(A, flags(), 1, "s3cr3t"), B, 1);
    assert!(!format!("{hs:?}").contains("s3cr3t"));
}
