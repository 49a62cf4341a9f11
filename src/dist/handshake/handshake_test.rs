//! An initiator wired to an acceptor in memory; every scenario asserts the
//! whole sequence of events and errors on both sides.
//!
//! Reference: `dist_util:handshake_we_started/1`,
//! `dist_util:handshake_other_started/1` and net_kernel's `accept_pending`
//! answers (OTP 25.2.3, kernel 8.5.3).

use super::*;

const A: &str = "a@127.0.0.1";
const B: &str = "b@127.0.0.1";
const CH_A: u32 = 0x0102_0304;
const CH_B: u32 = 4_000_000_000; // above i32::MAX: decimal text must be unsigned
const CR_A: u32 = 0x1111_1111;
const CR_B: u32 = 0x2222_2222;

fn flags() -> DFlags {
    DFlags::OURS | DFlags::PUBLISHED
}

fn cfg(node: &str, flags: DFlags, creation: u32, cookie: &str) -> Config {
    Config {
        this_node: node.into(),
        flags,
        creation,
        cookie: cookie.into(),
    }
}

fn init(flags: DFlags, cookie: &str, dial: &str) -> Handshake {
    Handshake::initiator(cfg(A, flags, CR_A, cookie), dial, CH_A)
}

fn acc(flags: DFlags, cookie: &str) -> Handshake {
    Handshake::acceptor(cfg(B, flags, CR_B, cookie), CH_B)
}

// ---- expected wire bytes, built independently of message.rs ----

fn framed(body: Vec<u8>) -> Vec<u8> {
    let mut v = (body.len() as u16).to_be_bytes().to_vec();
    v.extend(body);
    v
}

pub(super) fn name_msg(flags: DFlags, creation: u32, name: &str) -> Vec<u8> {
    let mut b = vec![b'N'];
    b.extend(flags.0.to_be_bytes());
    b.extend(creation.to_be_bytes());
    b.extend((name.len() as u16).to_be_bytes());
    b.extend(name.as_bytes());
    framed(b)
}

pub(super) fn status_msg(text: &str) -> Vec<u8> {
    framed([b"s", text.as_bytes()].concat())
}

pub(super) fn challenge_msg(flags: DFlags, ch: u32, creation: u32, name: &str) -> Vec<u8> {
    let mut b = vec![b'N'];
    b.extend(flags.0.to_be_bytes());
    b.extend(ch.to_be_bytes());
    b.extend(creation.to_be_bytes());
    b.extend((name.len() as u16).to_be_bytes());
    b.extend(name.as_bytes());
    framed(b)
}

pub(super) fn digest(cookie: &str, ch: u32) -> [u8; 16] {
    md5::compute(format!("{cookie}{ch}")).0
}

pub(super) fn reply_msg(ch: u32, digest: [u8; 16]) -> Vec<u8> {
    framed([&[b'r'][..], &ch.to_be_bytes(), &digest].concat())
}

pub(super) fn ack_msg(digest: [u8; 16]) -> Vec<u8> {
    framed([&[b'a'][..], &digest].concat())
}

// ---- the in-memory driver ----

/// What happened, in order, on either side.
#[derive(Debug, PartialEq, Eq)]
enum T {
    A(Event),
    B(Event),
    AErr(HandshakeError),
    BErr(HandshakeError),
}

use T::{AErr, BErr};

/// How the simulated node tables answer, and how bytes are chunked.
#[derive(Clone, Copy)]
struct Answers {
    accept_pending: AcceptPending,
    is_pending: bool,
    chunk: usize,
}

const OK: Answers = Answers {
    accept_pending: AcceptPending::Ok,
    is_pending: true,
    chunk: usize::MAX,
};

fn feed(hs: &mut Handshake, bytes: &[u8], chunk: usize) -> Result<(), HandshakeError> {
    for piece in bytes.chunks(chunk.min(bytes.len()).max(1)) {
        hs.handle_data(piece)?;
    }
    Ok(())
}

/// Runs both machines until neither has anything left to do.
fn run(a: &mut Handshake, b: &mut Handshake, ans: Answers) -> Vec<T> {
    let mut trace = Vec::new();
    let mut progress = true;
    while progress {
        progress = false;
        while let Some(ev) = a.poll_event() {
            progress = true;
            let r = match &ev {
                Event::Send(bytes) => feed(b, bytes, ans.chunk).map_err(BErr),
                Event::IsPending => a.handle_is_pending(ans.is_pending).map_err(AErr),
                _ => Ok(()),
            };
            trace.push(T::A(ev));
            trace.extend(r.err());
        }
        while let Some(ev) = b.poll_event() {
            progress = true;
            let r = match &ev {
                Event::Send(bytes) => feed(a, bytes, ans.chunk).map_err(AErr),
                Event::AcceptPending { .. } => {
                    b.handle_accept_pending(ans.accept_pending).map_err(BErr)
                }
                Event::WaitPending => b.handle_wait_pending_done().map_err(BErr),
                _ => Ok(()),
            };
            trace.push(T::B(ev));
            trace.extend(r.err());
        }
    }
    trace
}

fn send_a(bytes: Vec<u8>) -> T {
    T::A(Event::Send(bytes))
}

fn send_b(bytes: Vec<u8>) -> T {
    T::B(Event::Send(bytes))
}

fn accept_pending(flags: DFlags) -> T {
    T::B(Event::AcceptPending {
        peer: A.into(),
        flags: flags.expand_mandatory_25(),
        creation: CR_A,
    })
}

fn up(side: fn(Event) -> T, peer: &str, flags: DFlags, peer_creation: u32) -> T {
    side(Event::Established(Established {
        peer: peer.into(),
        flags,
        peer_creation,
        peer_published: flags.contains(DFlags::PUBLISHED),
    }))
}

/// The part of the exchange from the challenge on, when all goes well.
fn tail_ok(status: &str) -> Vec<T> {
    vec![
        send_b(status_msg(status)),
        send_b(challenge_msg(flags(), CH_B, CR_B, B)),
        send_a(reply_msg(CH_A, digest("c", CH_B))),
        send_b(ack_msg(digest("c", CH_A))),
        up(T::B, A, flags(), CR_A),
        up(T::A, B, flags(), CR_B),
    ]
}

fn ok_trace(status: &str) -> Vec<T> {
    let mut t = vec![send_a(name_msg(flags(), CR_A, A)), accept_pending(flags())];
    t.extend(tail_ok(status));
    t
}

#[test]
fn ok() {
    let (mut a, mut b) = (init(flags(), "c", B), acc(flags(), "c"));
    assert_eq!(run(&mut a, &mut b, OK), ok_trace("ok"));
    assert_eq!(a.into_leftover(), b"");
    assert_eq!(b.into_leftover(), b"");
}

#[test]
fn ok_simultaneous_continues() {
    let (mut a, mut b) = (init(flags(), "c", B), acc(flags(), "c"));
    let ans = Answers {
        accept_pending: AcceptPending::OkSimultaneous,
        ..OK
    };
    assert_eq!(run(&mut a, &mut b, ans), ok_trace("ok_simultaneous"));
}

#[test]
fn nok_other_connection_wins() {
    let (mut a, mut b) = (init(flags(), "c", B), acc(flags(), "c"));
    let ans = Answers {
        accept_pending: AcceptPending::Nok,
        ..OK
    };
    let nok_sent = HandshakeError::NokSent { peer: A.into() };
    let nok = HandshakeError::Nok { peer: B.into() };
    assert!(nok.is_benign() && nok_sent.is_benign());
    assert_eq!(
        run(&mut a, &mut b, ans),
        vec![
            send_a(name_msg(flags(), CR_A, A)),
            accept_pending(flags()),
            BErr(nok_sent.clone()),
            send_b(status_msg("nok")),
            AErr(nok.clone()),
        ]
    );
    // Finished machines keep answering with their error.
    assert_eq!(a.handle_data(b"x"), Err(nok));
    assert_eq!(b.handle_accept_pending(AcceptPending::Ok), Err(nok_sent));
}

#[test]
fn alive_true_waits_for_old_connection() {
    let (mut a, mut b) = (init(flags(), "c", B), acc(flags(), "c"));
    let ans = Answers {
        accept_pending: AcceptPending::UpPending,
        ..OK
    };
    assert_eq!(
        run(&mut a, &mut b, ans),
        vec![
            send_a(name_msg(flags(), CR_A, A)),
            accept_pending(flags()),
            send_b(status_msg("alive")),
            T::A(Event::IsPending),
            send_a(status_msg("true")),
            send_b(challenge_msg(flags(), CH_B, CR_B, B)),
            send_a(reply_msg(CH_A, digest("c", CH_B))),
            T::B(Event::WaitPending),
            send_b(ack_msg(digest("c", CH_A))),
            up(T::B, A, flags(), CR_A),
            up(T::A, B, flags(), CR_B),
        ]
    );
}

#[test]
fn alive_false_ends_both_sides() {
    let (mut a, mut b) = (init(flags(), "c", B), acc(flags(), "c"));
    let ans = Answers {
        accept_pending: AcceptPending::UpPending,
        is_pending: false,
        ..OK
    };
    assert_eq!(
        run(&mut a, &mut b, ans),
        vec![
            send_a(name_msg(flags(), CR_A, A)),
            accept_pending(flags()),
            send_b(status_msg("alive")),
            T::A(Event::IsPending),
            AErr(HandshakeError::NotPending { peer: B.into() }),
            send_a(status_msg("false")),
            BErr(HandshakeError::AliveRefused { peer: A.into() }),
        ]
    );
}

#[test]
fn already_pending_and_disallowed() {
    let (mut a, mut b) = (init(flags(), "c", B), acc(flags(), "c"));
    let ans = Answers {
        accept_pending: AcceptPending::AlreadyPending,
        ..OK
    };
    assert_eq!(
        run(&mut a, &mut b, ans),
        vec![
            send_a(name_msg(flags(), CR_A, A)),
            accept_pending(flags()),
            BErr(HandshakeError::AlreadyPending { peer: A.into() }),
        ]
    );

    let (mut a, mut b) = (init(flags(), "c", B), acc(flags(), "c"));
    let ans = Answers {
        accept_pending: AcceptPending::NotAllowed,
        ..OK
    };
    let err = HandshakeError::Disallowed { peer: A.into() };
    assert_eq!(
        err.to_string(),
        "Connection attempt from disallowed node a@127.0.0.1"
    );
    assert_eq!(
        run(&mut a, &mut b, ans),
        vec![
            send_a(name_msg(flags(), CR_A, A)),
            accept_pending(flags()),
            BErr(err),
            send_b(status_msg("not_allowed")),
            AErr(HandshakeError::NotAllowed { peer: B.into() }),
        ]
    );
}

#[test]
fn wrong_cookie_rejected_by_acceptor() {
    let (mut a, mut b) = (init(flags(), "other", B), acc(flags(), "c"));
    let err = HandshakeError::InvalidChallengeReply { peer: A.into() };
    assert_eq!(
        err.to_string(),
        "Connection attempt from node 'a@127.0.0.1' rejected. Invalid challenge reply."
    );
    assert_eq!(
        run(&mut a, &mut b, OK),
        vec![
            send_a(name_msg(flags(), CR_A, A)),
            accept_pending(flags()),
            send_b(status_msg("ok")),
            send_b(challenge_msg(flags(), CH_B, CR_B, B)),
            send_a(reply_msg(CH_A, digest("other", CH_B))),
            BErr(err),
        ]
    );
}

#[test]
fn wrong_cookie_rejected_by_initiator() {
    // A scripted acceptor that does not check the reply and acks with
    // another cookie.
    let mut a = init(flags(), "c", B);
    assert_eq!(
        a.poll_event(),
        Some(Event::Send(name_msg(flags(), CR_A, A)))
    );
    a.handle_data(&status_msg("ok")).unwrap();
    a.handle_data(&challenge_msg(flags(), CH_B, CR_B, B))
        .unwrap();
    assert_eq!(
        a.poll_event(),
        Some(Event::Send(reply_msg(CH_A, digest("c", CH_B))))
    );
    let err = HandshakeError::InvalidChallengeAck { peer: B.into() };
    assert_eq!(
        err.to_string(),
        "Connection attempt to node 'b@127.0.0.1' cancelled. Invalid challenge ack."
    );
    assert_eq!(a.handle_data(&ack_msg(digest("other", CH_A))), Err(err));
    assert_eq!(a.poll_event(), None);
}

/// `OURS | PUBLISHED` without `BIG_CREATION` nor the digest that implies it.
fn no_big_creation() -> DFlags {
    flags() & !(DFlags::BIG_CREATION | DFlags::MANDATORY_25_DIGEST)
}

#[test]
fn acceptor_rejects_missing_mandatory_flags() {
    // The shape of wire/pyold.wire.log: BIG_CREATION missing → not_allowed.
    let (mut a, mut b) = (init(no_big_creation(), "c", B), acc(flags(), "c"));
    let err = HandshakeError::FlagsRejected {
        peer: A.into(),
        missing: vec!["BIG_CREATION"],
    };
    assert_eq!(
        err.to_string(),
        r#"Connection attempt from node 'a@127.0.0.1' rejected since it cannot handle ["BIG_CREATION"]."#
    );
    assert_eq!(
        run(&mut a, &mut b, OK),
        vec![
            send_a(name_msg(no_big_creation(), CR_A, A)),
            BErr(err),
            send_b(status_msg("not_allowed")),
            AErr(HandshakeError::NotAllowed { peer: B.into() }),
        ]
    );
}

#[test]
fn missing_flags_listed_highest_bit_first() {
    let peer = flags() & !(DFlags::MAP_TAG | DFlags::BIG_CREATION | DFlags::MANDATORY_25_DIGEST);
    let mut b = acc(flags(), "c");
    let err = b.handle_data(&name_msg(peer, CR_A, A)).unwrap_err();
    assert_eq!(
        err.to_string(),
        r#"Connection attempt from node 'a@127.0.0.1' rejected since it cannot handle ["BIG_CREATION","MAP_TAG"]."#
    );
    assert_eq!(b.poll_event(), Some(Event::Send(status_msg("not_allowed"))));
}

#[test]
fn digest_flag_alone_stands_for_mandatory_25() {
    // Only the digest bit and non-mandatory flags: accepted, and the
    // negotiated flags hold the whole expanded set.
    let peer = (flags() & !DFlags::MANDATORY_25) | DFlags::MANDATORY_25_DIGEST;
    assert!(!peer.contains(DFlags::BIG_CREATION));
    let (mut a, mut b) = (init(peer, "c", B), acc(flags(), "c"));
    let negotiated = flags() & peer.expand_mandatory_25();
    assert!(negotiated.contains(DFlags::MANDATORY_25));
    assert_eq!(
        run(&mut a, &mut b, OK),
        vec![
            send_a(name_msg(peer, CR_A, A)),
            accept_pending(peer),
            send_b(status_msg("ok")),
            send_b(challenge_msg(flags(), CH_B, CR_B, B)),
            send_a(reply_msg(CH_A, digest("c", CH_B))),
            send_b(ack_msg(digest("c", CH_A))),
            up(T::B, A, negotiated, CR_A),
            up(T::A, B, negotiated, CR_B),
        ]
    );
}

#[test]
fn initiator_aborts_when_acceptor_lacks_mandatory_flags() {
    let (mut a, mut b) = (init(flags(), "c", B), acc(no_big_creation(), "c"));
    let err = HandshakeError::FlagsAborted {
        peer: B.into(),
        missing: vec!["BIG_CREATION"],
    };
    assert_eq!(
        err.to_string(),
        r#"Connection attempt to node 'b@127.0.0.1' aborted since it cannot handle ["BIG_CREATION"]."#
    );
    assert_eq!(
        run(&mut a, &mut b, OK),
        vec![
            send_a(name_msg(flags(), CR_A, A)),
            accept_pending(flags()),
            send_b(status_msg("ok")),
            send_b(challenge_msg(no_big_creation(), CH_B, CR_B, B)),
            AErr(err),
        ]
    );
}

#[test]
fn hidden_initiator_gives_hidden_connection() {
    let hidden = DFlags::OURS;
    let (mut a, mut b) = (init(hidden, "c", B), acc(flags(), "c"));
    let trace = run(&mut a, &mut b, OK);
    let Some(T::A(Event::Established(e))) = trace.last() else {
        panic!("{trace:?}")
    };
    assert!(!e.peer_published);
    assert_eq!(e.flags, hidden);
}

#[test]
fn challenge_from_wrong_node_is_refused() {
    // We dialled c@…, but b@… answers (a stale EPMD entry, say).
    let c = "c@127.0.0.1";
    let (mut a, mut b) = (init(flags(), "c", c), acc(flags(), "c"));
    assert_eq!(
        run(&mut a, &mut b, OK),
        vec![
            send_a(name_msg(flags(), CR_A, A)),
            accept_pending(flags()),
            send_b(status_msg("ok")),
            send_b(challenge_msg(flags(), CH_B, CR_B, B)),
            AErr(HandshakeError::WrongPeerName {
                expected: c.into(),
                got: B.into(),
            }),
        ]
    );
}

#[test]
fn byte_by_byte_and_odd_chunks() {
    for chunk in [1, 2, 3, 7, 16] {
        let (mut a, mut b) = (init(flags(), "c", B), acc(flags(), "c"));
        let ans = Answers { chunk, ..OK };
        assert_eq!(run(&mut a, &mut b, ans), ok_trace("ok"), "chunk {chunk}");
    }
    for chunk in [1, 5] {
        let (mut a, mut b) = (init(flags(), "c", B), acc(flags(), "c"));
        let ans = Answers {
            chunk,
            accept_pending: AcceptPending::UpPending,
            ..OK
        };
        assert!(matches!(
            run(&mut a, &mut b, ans).last(),
            Some(T::A(Event::Established(_)))
        ));
    }
}

#[test]
fn status_and_challenge_in_one_read() {
    let mut a = init(flags(), "c", B);
    a.poll_event();
    let both = [status_msg("ok"), challenge_msg(flags(), CH_B, CR_B, B)].concat();
    a.handle_data(&both).unwrap();
    assert_eq!(
        a.poll_event(),
        Some(Event::Send(reply_msg(CH_A, digest("c", CH_B))))
    );
}

#[test]
fn bytes_after_the_ack_are_leftover() {
    let mut a = init(flags(), "c", B);
    a.poll_event();
    // BEAM's first data packets follow the ack: 4-byte length, 112 ('p').
    let data = [0, 0, 0, 3, 112, 131, 104];
    let mut stream = [status_msg("ok"), challenge_msg(flags(), CH_B, CR_B, B)].concat();
    stream.extend(ack_msg(digest("c", CH_A)));
    stream.extend(data);
    // The ack split across reads, with data in the same read as its end.
    let (first, second) = stream.split_at(stream.len() - data.len() - 5);
    a.handle_data(first).unwrap();
    a.handle_data(second).unwrap();
    a.handle_data(b"more").unwrap();
    let events: Vec<_> = std::iter::from_fn(|| a.poll_event()).collect();
    assert_eq!(
        events,
        vec![
            Event::Send(reply_msg(CH_A, digest("c", CH_B))),
            Event::Established(Established {
                peer: B.into(),
                flags: flags(),
                peer_creation: CR_B,
                peer_published: true,
            }),
        ]
    );
    assert_eq!(a.into_leftover(), [&data[..], b"more"].concat());
}

#[test]
fn acceptor_keeps_bytes_after_the_reply() {
    let mut b = acc(flags(), "c");
    b.handle_data(&name_msg(flags(), CR_A, A)).unwrap();
    b.handle_accept_pending(AcceptPending::Ok).unwrap();
    let stream = [reply_msg(CH_A, digest("c", CH_B)), vec![0, 0, 0, 0]].concat();
    b.handle_data(&stream).unwrap();
    let last = std::iter::from_fn(|| b.poll_event()).last();
    assert!(matches!(last, Some(Event::Established(_))));
    assert_eq!(b.into_leftover(), [0, 0, 0, 0]);
}

// ---- hostile and broken input ----

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
    let r = b.handle_data(&vec![0; MAX_BUFFERED]);
    assert_eq!(
        r,
        Err(HandshakeError::TooMuchData {
            len: 100 + MAX_BUFFERED
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

#[test]
fn dynamic_name_request_refused() {
    let mut b = acc(flags(), "c");
    let r = b.handle_data(&name_msg(flags() | DFlags::NAME_ME, 0, "127.0.0.1"));
    assert_eq!(
        r,
        Err(HandshakeError::DynamicNameUnsupported {
            host: "127.0.0.1".into()
        })
    );
    assert_eq!(b.poll_event(), Some(Event::Send(status_msg("not_allowed"))));
    assert_eq!(b.poll_event(), None);
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
