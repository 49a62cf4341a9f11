//! The handshake state machine against real BEAM nodes: OTP 25 (the
//! system `erl`) and OTP 27 / 29 (chroots under `/opt/distro-otp`).
//!
//! Every test starts its own `epmd -port P` and `erl -name …` as children
//! (killed by PID on drop, also on panic), with unique names and ports, on
//! 127.0.0.1 only; the default EPMD on 4369 is never used. A release whose
//! `erl` is missing is skipped with a message, unless `CI=true`, where that
//! is a failure.
//!
//! Reference: `dist_util:handshake_we_started/1`,
//! `handshake_other_started/1`, `net_kernel` `accept_pending` (OTP 25.2.3).

#[path = "handshake_interop/beam.rs"]
mod beam;

use distro::dist::DFlags;
use distro::dist::handshake::{
    AcceptPending, Config, Established, Event, Handshake, HandshakeError,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::time::timeout;

use beam::{Epmd, Erl, OTP25, OTP27, OTP29, Release, STEP, alive2, node_name, unique};

// ---- a tiny test driver ----

#[derive(Debug)]
enum Outcome {
    Up(Established, Vec<u8>),
    Failed(HandshakeError),
    /// The peer closed the socket mid-handshake.
    Closed,
}

/// How the simulated node table answers.
#[derive(Clone, Copy, PartialEq, Eq)]
struct Answers {
    accept_pending: AcceptPending,
    is_pending: bool,
}

const OK: Answers = Answers {
    accept_pending: AcceptPending::Ok,
    is_pending: true,
};

/// What a handshake run over a socket gave.
struct Run {
    outcome: Outcome,
    /// The node questions asked ([`Event::AcceptPending`], `IsPending`, `WaitPending`).
    asked: Vec<Event>,
    /// Every byte read from the peer.
    received: Vec<u8>,
}

/// Runs `hs` over `sock`, answering the node questions from `ans`.
async fn drive(sock: &mut TcpStream, mut hs: Handshake, ans: Answers) -> Run {
    let mut run = Run {
        outcome: Outcome::Closed,
        asked: Vec::new(),
        received: Vec::new(),
    };
    let mut buf = vec![0; 4096];
    loop {
        let mut failed = None;
        while let Some(ev) = hs.poll_event() {
            let r = match &ev {
                Event::Send(bytes) => {
                    // Best effort: the peer may already have closed.
                    let _ = sock.write_all(bytes).await;
                    continue;
                }
                Event::AcceptPending { .. } => hs.handle_accept_pending(ans.accept_pending),
                Event::IsPending => hs.handle_is_pending(ans.is_pending),
                Event::WaitPending => hs.handle_wait_pending_done(),
                Event::Established(e) => {
                    run.outcome = Outcome::Up(e.clone(), hs.into_leftover());
                    return run;
                }
            };
            run.asked.push(ev);
            if let Err(e) = r {
                failed = Some(e);
            }
        }
        if let Some(e) = failed {
            run.outcome = Outcome::Failed(e);
            return run;
        }
        let n = match timeout(STEP, sock.read(&mut buf))
            .await
            .expect("handshake stalled")
        {
            Ok(0) | Err(_) => return run,
            Ok(n) => n,
        };
        run.received.extend_from_slice(&buf[..n]);
        if let Err(e) = hs.handle_data(&buf[..n]) {
            // Write what was queued before the error (e.g. not_allowed).
            while let Some(Event::Send(bytes)) = hs.poll_event() {
                let _ = sock.write_all(&bytes).await;
            }
            run.outcome = Outcome::Failed(e);
            return run;
        }
    }
}

/// The next non-tick data packet (4-byte length), starting from `buf`.
async fn next_packet(sock: &mut TcpStream, mut buf: Vec<u8>) -> Vec<u8> {
    loop {
        if let [a, b, c, d, rest @ ..] = &buf[..] {
            let len = u32::from_be_bytes([*a, *b, *c, *d]) as usize;
            if len == 0 {
                buf.drain(..4);
                continue;
            }
            if rest.len() >= len {
                return rest[..len].to_vec();
            }
        }
        let mut chunk = [0; 4096];
        let n = timeout(STEP, sock.read(&mut chunk))
            .await
            .expect("no data packet")
            .expect("read");
        assert!(n > 0, "closed before any data packet");
        buf.extend_from_slice(&chunk[..n]);
    }
}

/// Reads until the peer closes the socket.
async fn closed_by_peer(sock: &mut TcpStream) -> bool {
    let mut chunk = [0; 4096];
    loop {
        match timeout(STEP, sock.read(&mut chunk)).await {
            Ok(Ok(0) | Err(_)) => return true,
            Ok(Ok(_)) => {}
            Err(_) => return false,
        }
    }
}

fn flags() -> DFlags {
    DFlags::OURS | DFlags::PUBLISHED
}

fn config(node: &str, flags: DFlags, cookie: &str) -> Config {
    Config {
        this_node: node.into(),
        flags,
        creation: 0x5eed_0001,
        cookie: cookie.into(),
    }
}

/// Dials `erl` as `node` and runs the initiator.
async fn dial(
    erl: &Erl,
    port: u16,
    node: &str,
    flags: DFlags,
    cookie: &str,
    ans: Answers,
) -> (Run, TcpStream) {
    let mut sock = TcpStream::connect(("127.0.0.1", port))
        .await
        .expect("connect");
    let hs = Handshake::initiator(config(node, flags, cookie), &erl.node, 0x0bad_cafe);
    let run = timeout(STEP * 2, drive(&mut sock, hs, ans))
        .await
        .expect("handshake timed out");
    (run, sock)
}

fn assert_sane(release: Release, est: &Established, ours: DFlags) {
    let ours = ours.expand_mandatory_25();
    assert_eq!(
        est.flags & !ours,
        DFlags::EMPTY,
        "{}: negotiated beyond ours",
        release.label
    );
    let expected = DFlags::MANDATORY_25
        | DFlags::MANDATORY_26
        | DFlags::PUBLISHED
        | DFlags::DIST_MONITOR
        | DFlags::DIST_MONITOR_NAME
        | DFlags::SPAWN
        | DFlags::ALIAS;
    assert!(
        est.flags.contains(expected & ours),
        "{}: {:?}",
        release.label,
        est.flags
    );
    assert!(est.peer_published);
    assert_ne!(est.peer_creation, 0);
}

/// BEAM's first data packet: pass-through (112, then the control term in
/// external format) unless FRAGMENTS or the atom cache was negotiated; then
/// the normal distribution header (131, 68) with no atom cache references.
fn assert_first_packet(label: &str, negotiated: DFlags, packet: &[u8]) {
    eprintln!("{label}: first packet {:?}", &packet[..packet.len().min(8)]);
    if negotiated.contains(DFlags::FRAGMENTS) || negotiated.contains(DFlags::DIST_HDR_ATOM_CACHE) {
        assert_eq!(
            packet.get(..3),
            Some(&[131, 68, 0][..]),
            "{label}: DIST_HEADER"
        );
    } else {
        assert_eq!(
            packet.get(..2),
            Some(&[112, 131][..]),
            "{label}: pass-through"
        );
    }
}

/// `send_status` as it arrives on the wire.
fn status_bytes(text: &str) -> Vec<u8> {
    let mut v = ((1 + text.len()) as u16).to_be_bytes().to_vec();
    v.push(b's');
    v.extend(text.as_bytes());
    v
}

// ---- scenarios ----

/// (a) We dial BEAM: up, then data; `alive` answered true and false; wrong
/// cookie; missing BIG_CREATION; the MANDATORY_25_DIGEST shorthand.
async fn we_dial(release: Release) {
    if !release.available("we_dial") {
        return;
    }
    let label = release.label;
    let epmd = Epmd::start(release).await;
    let erl = Erl::start(release, &epmd, &unique("hs"), "hscookie", None);
    let port = erl.port(&epmd).await;

    // ok: established, then BEAM's first data packet (rex features_request
    // or global init_connect).
    let me = node_name("rs");
    let (run, mut first) = dial(&erl, port, &me, flags(), "hscookie", OK).await;
    let Outcome::Up(est, leftover) = run.outcome else {
        panic!("{label}: {:?}\n{}", run.outcome, erl.proc.output())
    };
    assert!(run.asked.is_empty());
    assert!(run.received.starts_with(&status_bytes("ok")));
    assert_eq!(est.peer, erl.node);
    assert_sane(release, &est, flags());
    eprintln!("{label}: negotiated {:?}", est.flags);
    let packet = next_packet(&mut first, leftover).await;
    assert_first_packet(label, est.flags, &packet);

    // Without FRAGMENTS, BEAM sends plain pass-through packets.
    let plain_flags = flags() & !DFlags::FRAGMENTS;
    let (run, mut sock) = dial(&erl, port, &node_name("rp"), plain_flags, "hscookie", OK).await;
    let Outcome::Up(est, leftover) = run.outcome else {
        panic!("{label}: {:?}\n{}", run.outcome, erl.proc.output())
    };
    assert_sane(release, &est, plain_flags);
    let packet = next_packet(&mut sock, leftover).await;
    assert_first_packet(label, est.flags, &packet);
    drop(sock);

    // alive → true: the same node dials again while connected; BEAM asks,
    // we say this attempt is pending, BEAM drops the old connection.
    let (run, mut second) = dial(&erl, port, &me, flags(), "hscookie", OK).await;
    let Outcome::Up(est, leftover) = run.outcome else {
        panic!("{label}: {:?}", run.outcome)
    };
    assert_eq!(est.peer, erl.node);
    assert_eq!(run.asked, vec![Event::IsPending]);
    assert!(run.received.starts_with(&status_bytes("alive")));
    assert!(
        closed_by_peer(&mut first).await,
        "{label}: old connection not closed"
    );
    // BEAM acks before its nodeup; its first data packet comes after. Only
    // then is the connection `up` in its table (else the next dial would be
    // a simultaneous connect).
    next_packet(&mut second, leftover).await;

    // alive → false: we give up, BEAM keeps the live connection.
    let no = Answers {
        is_pending: false,
        ..OK
    };
    let (run, _) = dial(&erl, port, &me, flags(), "hscookie", no).await;
    let expected = HandshakeError::NotPending {
        peer: erl.node.clone(),
    };
    let outcome = run.outcome;
    assert!(
        matches!(outcome, Outcome::Failed(ref e) if *e == expected),
        "{label}: {outcome:?}"
    );
    assert_eq!(run.asked, vec![Event::IsPending]);
    drop(second);

    // Wrong cookie: BEAM closes after our reply and logs OTP's line, which is
    // our acceptor's Display text.
    let wrong = node_name("rw");
    let outcome = dial(&erl, port, &wrong, flags(), "nottheone", OK)
        .await
        .0
        .outcome;
    assert!(matches!(outcome, Outcome::Closed), "{label}: {outcome:?}");
    let line = HandshakeError::InvalidChallengeReply { peer: wrong }.to_string();
    erl.proc.wait_output(&line).await;

    // Missing BIG_CREATION (and no digest): not_allowed, and BEAM logs the
    // line our acceptor would.
    let old = node_name("ro");
    let old_flags = flags() & !(DFlags::BIG_CREATION | DFlags::MANDATORY_25_DIGEST);
    let (run, mut sock) = dial(&erl, port, &old, old_flags, "hscookie", OK).await;
    let expected = HandshakeError::NotAllowed {
        peer: erl.node.clone(),
    };
    let outcome = run.outcome;
    assert!(
        matches!(outcome, Outcome::Failed(ref e) if *e == expected),
        "{label}: {outcome:?}"
    );
    assert_eq!(run.received, status_bytes("not_allowed"), "{label}");
    assert!(closed_by_peer(&mut sock).await);
    let line = HandshakeError::FlagsRejected {
        peer: old,
        missing: vec!["BIG_CREATION"],
    }
    .to_string();
    erl.proc.wait_output(&line).await;

    // MANDATORY_25_DIGEST standing alone for the OTP 25 mandatory set.
    let digest_flags = (flags() & !DFlags::MANDATORY_25) | DFlags::MANDATORY_25_DIGEST;
    let outcome = dial(&erl, port, &node_name("rd"), digest_flags, "hscookie", OK)
        .await
        .0
        .outcome;
    let Outcome::Up(est, _) = outcome else {
        panic!(
            "{label}: digest-only flags refused: {outcome:?}\n{}",
            erl.proc.output()
        )
    };
    assert_sane(release, &est, digest_flags);
    eprintln!("{label}: erl output:\n{}", erl.proc.output());
}

/// (b) BEAM dials us (`net_adm:ping/1`, three times): up with `ok`; up
/// after `alive` (BEAM answers `true`, we wait for the "old" connection);
/// then, with another cookie, our acceptor rejects the challenge reply.
async fn they_dial(release: Release) {
    if !release.available("they_dial") {
        return;
    }
    let label = release.label;
    let epmd = Epmd::start(release).await;
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("listen");
    let probe = unique("probe");
    let (_registration, creation) =
        alive2(&epmd, &probe, listener.local_addr().unwrap().port()).await;
    let me = format!("{probe}@127.0.0.1");
    let eval = format!(
        "P = '{me}', io:format(\"PING1 ~p~n\", [net_adm:ping(P)]), \
         io:format(\"PING2 ~p~n\", [net_adm:ping(P)]), \
         erlang:set_cookie(P, nottheone), io:format(\"PING3 ~p~n\", [net_adm:ping(P)])."
    );
    let erl = Erl::start(release, &epmd, &unique("hs"), "hscookie", Some(&eval));
    let cfg = Config {
        creation,
        ..config(&me, flags(), "hscookie")
    };
    let up_pending = Answers {
        accept_pending: AcceptPending::UpPending,
        ..OK
    };

    for (ping, ans) in [("PING1", OK), ("PING2", up_pending)] {
        let (mut sock, _) = timeout(STEP, listener.accept())
            .await
            .expect("no connection")
            .expect("accept");
        let hs = Handshake::acceptor(cfg.clone(), 0x7777_0001);
        let run = timeout(STEP, drive(&mut sock, hs, ans))
            .await
            .expect("timed out");
        let Outcome::Up(est, leftover) = run.outcome else {
            panic!("{label} {ping}: {:?}\n{}", run.outcome, erl.proc.output())
        };
        assert_eq!(est.peer, erl.node);
        assert_sane(release, &est, flags());
        let Some(Event::AcceptPending {
            peer,
            flags: peer_flags,
            creation,
        }) = run.asked.first()
        else {
            panic!("{label}: {:?}", run.asked)
        };
        assert_eq!((peer, *creation), (&erl.node, est.peer_creation));
        if ans == OK {
            assert_eq!(run.asked.len(), 1, "{label}: {:?}", run.asked);
            eprintln!("{label}: send_name flags {peer_flags:?}");
        } else {
            // alive → BEAM's is_pending says true → we wait_pending, then ack.
            assert_eq!(run.asked[1..], [Event::WaitPending], "{label}");
        }
        // BEAM goes on with the ping: its first data packet (is_auth & co).
        let packet = next_packet(&mut sock, leftover).await;
        assert_first_packet(label, est.flags, &packet);
        drop(sock);
        erl.proc.wait_output(&format!("{ping} pang")).await;
    }

    let (mut sock, _) = timeout(STEP, listener.accept())
        .await
        .expect("no connection")
        .expect("accept");
    let hs = Handshake::acceptor(cfg, 0x7777_0002);
    let outcome = timeout(STEP, drive(&mut sock, hs, OK))
        .await
        .expect("timed out")
        .outcome;
    let expected = HandshakeError::InvalidChallengeReply {
        peer: erl.node.clone(),
    };
    assert!(
        matches!(outcome, Outcome::Failed(ref e) if *e == expected),
        "{label}: {outcome:?}"
    );
    drop(sock);
    erl.proc.wait_output("PING3 pang").await;
}

/// A BEAM node with a dynamic name (`-name undefined@…`, `DFLAG_NAME_ME`)
/// dials us: refused with `not_allowed`; `connect_node/1` says false.
async fn dynamic_name(release: Release) {
    if !release.available("dynamic_name") {
        return;
    }
    let label = release.label;
    let epmd = Epmd::start(release).await;
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("listen");
    let probe = unique("probe");
    let (_registration, creation) =
        alive2(&epmd, &probe, listener.local_addr().unwrap().port()).await;
    let me = format!("{probe}@127.0.0.1");
    // (A dynamic-name node does not auto-connect on ping; connect explicitly.)
    let eval = format!("io:format(\"CONNECT ~p~n\", [net_kernel:connect_node('{me}')]).");
    let erl = Erl::start(release, &epmd, "undefined", "hscookie", Some(&eval));
    let (mut sock, _) = timeout(STEP, listener.accept())
        .await
        .expect("no connection")
        .expect("accept");
    let cfg = Config {
        creation,
        ..config(&me, flags(), "hscookie")
    };
    let run = timeout(STEP, drive(&mut sock, Handshake::acceptor(cfg, 5), OK))
        .await
        .expect("timed out");
    let expected = HandshakeError::DynamicNameUnsupported {
        host: "127.0.0.1".into(),
    };
    assert!(
        matches!(run.outcome, Outcome::Failed(ref e) if *e == expected),
        "{label}: {:?}",
        run.outcome
    );
    erl.proc.wait_output("CONNECT false").await;
}

/// Accepts BEAM's attempt and reads its `send_name`, leaving it pending.
async fn hold_incoming(listener: &TcpListener, me: &str) -> TcpStream {
    let (mut sock, _) = timeout(STEP, listener.accept())
        .await
        .expect("no connection")
        .expect("accept");
    let mut hs = Handshake::acceptor(config(me, flags(), "hscookie"), 1);
    let mut buf = [0; 1024];
    loop {
        if let Some(ev) = hs.poll_event() {
            assert!(matches!(ev, Event::AcceptPending { .. }), "{ev:?}");
            return sock;
        }
        let n = timeout(STEP, sock.read(&mut buf))
            .await
            .expect("no name")
            .expect("read");
        assert!(n > 0, "closed");
        hs.handle_data(&buf[..n]).expect("send_name");
    }
}

/// (c) Simultaneous connect: BEAM dials us while we dial it. The lower name
/// loses: BEAM (`hs…`) answers `nok` to `a…` and `ok_simultaneous` to `z…`
/// (net_kernel `accept_pending`: `MyNode > Node`).
async fn simultaneous(release: Release) {
    if !release.available("simultaneous") {
        return;
    }
    let label = release.label;
    let epmd = Epmd::start(release).await;
    let low = unique("a");
    let high = unique("z");
    let mut sides = Vec::new();
    for name in [&low, &high] {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("listen");
        let (reg, _) = alive2(&epmd, name, listener.local_addr().unwrap().port()).await;
        sides.push((format!("{name}@127.0.0.1"), listener, reg));
    }
    let eval = format!(
        "[spawn(fun() -> net_adm:ping(N) end) || N <- ['{}', '{}']].",
        sides[0].0, sides[1].0
    );
    let erl = Erl::start(release, &epmd, &unique("hs"), "hscookie", Some(&eval));
    let port = erl.port(&epmd).await;

    // Lower name: we lose, BEAM's attempt stands.
    let (me, listener, _) = &sides[0];
    let _incoming = hold_incoming(listener, me).await;
    let mut sock = TcpStream::connect(("127.0.0.1", port))
        .await
        .expect("connect");
    let hs = Handshake::initiator(config(me, flags(), "hscookie"), &erl.node, 3);
    let Run {
        outcome, received, ..
    } = drive(&mut sock, hs, OK).await;
    let expected = HandshakeError::Nok {
        peer: erl.node.clone(),
    };
    assert!(
        matches!(outcome, Outcome::Failed(ref e) if *e == expected),
        "{label}: {outcome:?}"
    );
    assert!(expected.is_benign());
    assert_eq!(received, status_bytes("nok"));

    // Higher name: BEAM gives its attempt up (exit `remarked`) and lets ours in.
    let (me, listener, _) = &sides[1];
    let mut incoming = hold_incoming(listener, me).await;
    let mut sock = TcpStream::connect(("127.0.0.1", port))
        .await
        .expect("connect");
    let hs = Handshake::initiator(config(me, flags(), "hscookie"), &erl.node, 4);
    let Run {
        outcome, received, ..
    } = drive(&mut sock, hs, OK).await;
    assert!(
        matches!(outcome, Outcome::Up(ref e, _) if e.peer == erl.node),
        "{label}: {outcome:?}"
    );
    assert!(
        received.starts_with(&status_bytes("ok_simultaneous")),
        "{label}: {received:?}"
    );
    assert!(
        closed_by_peer(&mut incoming).await,
        "{label}: BEAM kept its own attempt"
    );
}

macro_rules! releases {
    ($($module:ident => $release:expr;)*) => {$(
        mod $module {
            #[tokio::test]
            async fn we_dial() {
                super::we_dial($release).await;
            }

            #[tokio::test]
            async fn they_dial() {
                super::they_dial($release).await;
            }

            #[tokio::test]
            async fn dynamic_name() {
                super::dynamic_name($release).await;
            }

            #[tokio::test]
            async fn simultaneous() {
                super::simultaneous($release).await;
            }
        }
    )*};
}

releases! {
    otp25 => super::OTP25;
    otp27 => super::OTP27;
    otp29 => super::OTP29;
}
