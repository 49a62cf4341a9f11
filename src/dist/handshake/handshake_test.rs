//! An initiator wired to an acceptor in memory; every scenario asserts the
//! whole sequence of events and errors on both sides.
//!
//! Reference: `dist_util:handshake_we_started/1`,
//! `dist_util:handshake_other_started/1` and net_kernel's `accept_pending`
//! answers (OTP 25.2.3, kernel 8.5.3).

use super::*;

pub(super) const A: &str = "a@127.0.0.1";
pub(super) const B: &str = "b@127.0.0.1";
pub(super) const CH_A: u32 = 0x0102_0304;
pub(super) const CH_B: u32 = 4_000_000_000; // above i32::MAX: decimal text must be unsigned
pub(super) const CR_A: u32 = 0x1111_1111;
pub(super) const CR_B: u32 = 0x2222_2222;

pub(super) fn flags() -> DFlags {
    DFlags::OURS | DFlags::PUBLISHED
}

pub(super) fn cfg(node: &str, flags: DFlags, creation: u32, cookie: &str) -> Config {
    Config {
        this_node: node.into(),
        flags,
        creation,
        cookie: cookie.into(),
    }
}

pub(super) fn init(flags: DFlags, cookie: &str, dial: &str) -> Handshake {
    Handshake::initiator(cfg(A, flags, CR_A, cookie), dial, CH_A)
}

pub(super) fn acc(flags: DFlags, cookie: &str) -> Handshake {
    Handshake::acceptor(cfg(B, flags, CR_B, cookie), CH_B)
}

// ---- expected wire bytes, built independently of message.rs ----

pub(super) fn framed(body: Vec<u8>) -> Vec<u8> {
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

/// A 2-byte framed message with a 4-byte length instead (`inet_tls_dist`).
fn packet4(framed2: Vec<u8>) -> Vec<u8> {
    let body = &framed2[2..];
    [&(body.len() as u32).to_be_bytes()[..], body].concat()
}

#[test]
fn over_tls_every_message_has_a_4_byte_length() {
    let mut a = Handshake::initiator_framed(cfg(A, flags(), CR_A, "c"), B, CH_A, Framing::Packet4);
    let mut b = Handshake::acceptor_framed(cfg(B, flags(), CR_B, "c"), CH_B, Framing::Packet4);
    let want: Vec<T> = ok_trace("ok")
        .into_iter()
        .map(|t| match t {
            T::A(Event::Send(m)) => send_a(packet4(m)),
            T::B(Event::Send(m)) => send_b(packet4(m)),
            t => t,
        })
        .collect();
    // Byte by byte too: the 4-byte header may arrive in pieces.
    assert_eq!(run(&mut a, &mut b, Answers { chunk: 1, ..OK }), want);
    // A TCP-framed name on a TLS connection is refused from its length.
    let mut b = Handshake::acceptor_framed(cfg(B, flags(), CR_B, "c"), CH_B, Framing::Packet4);
    assert!(matches!(
        b.handle_data(&name_msg(flags(), CR_A, A)),
        Err(HandshakeError::BadLength { .. })
    ));
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
pub(super) fn no_big_creation() -> DFlags {
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
