//! The handshake state machine against real BEAM nodes of the release
//! selected by `DISTRO_OTP`.
//!
//! The tests play a node by hand: the sans-IO [`Handshake`] is driven over a
//! blocking socket here, and the node table's answers (`accept_pending`,
//! `is_pending`, `wait_pending`) are chosen by each scenario. When BEAM
//! dials us, the name we answer to is registered with a raw `ALIVE2`
//! ([`Epmd::register`]).
//!
//! Reference: `dist_util:handshake_we_started/1`,
//! `handshake_other_started/1`, `net_kernel` `accept_pending` (OTP 25.2.3).

use std::io::{ErrorKind, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::time::{Duration, Instant};

use distro::dist::DFlags;
use distro::dist::handshake::{
    AcceptPending, Config, Established, Event, Handshake, HandshakeError,
};

use crate::support::{
    BeamNode, BeamOpts, Epmd, Otp, TAIL_LINES, prefixed_unique_name, require_otp, unique_name,
    unique_node,
};

/// How long any single wait may take.
const STEP: Duration = Duration::from_secs(20);

const COOKIE: &str = "hscookie";

// ---- a tiny test driver ----

#[derive(Debug)]
pub(crate) enum Outcome {
    Up(Established, Vec<u8>),
    Failed(HandshakeError),
    /// The peer closed the socket mid-handshake.
    Closed,
}

/// How the simulated node table answers.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) struct Answers {
    accept_pending: AcceptPending,
    is_pending: bool,
    /// The name and creation given to a peer that asks for one.
    name_me: Option<(&'static str, u32)>,
}

pub(crate) const OK: Answers = Answers {
    accept_pending: AcceptPending::Ok,
    is_pending: true,
    name_me: None,
};

/// What a handshake run over a socket gave.
pub(crate) struct Run {
    pub(crate) outcome: Outcome,
    /// The node questions asked ([`Event::AcceptPending`], `IsPending`, `WaitPending`).
    asked: Vec<Event>,
    /// Every byte read from the peer.
    received: Vec<u8>,
}

fn is_timeout(e: &std::io::Error) -> bool {
    matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut)
}

/// A blocking socket whose reads give up after [`STEP`].
fn with_step_timeout(sock: TcpStream) -> TcpStream {
    sock.set_nonblocking(false).expect("blocking socket");
    sock.set_read_timeout(Some(STEP)).expect("read timeout");
    sock
}

fn connect(port: u16) -> TcpStream {
    with_step_timeout(TcpStream::connect(("127.0.0.1", port)).expect("connect"))
}

/// A listener on 127.0.0.1 for BEAM to dial, with its port.
fn listen() -> (TcpListener, u16) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("listen");
    listener
        .set_nonblocking(true)
        .expect("non-blocking listener");
    let port = listener.local_addr().expect("bound").port();
    (listener, port)
}

/// The next connection, within [`STEP`].
fn accept(listener: &TcpListener) -> TcpStream {
    let deadline = Instant::now() + STEP;
    loop {
        match listener.accept() {
            Ok((sock, _)) => return with_step_timeout(sock),
            Err(e) if e.kind() == ErrorKind::WouldBlock => {
                assert!(Instant::now() < deadline, "no connection");
                std::thread::sleep(Duration::from_millis(10));
            }
            Err(e) => panic!("accept: {e}"),
        }
    }
}

/// Accepts and checks the connections that BEAM opened and gave up while
/// a ping ended, so that the next [`accept`] gets the next attempt.
///
/// `net_adm:ping/1` is a `gen:call` to our `net_kernel`: when we close the
/// connection right after the handshake, its `is_auth` request can be sent
/// after the close and dial us again; the ping then sees the monitor's
/// `noconnection`, returns `pang` and calls `erlang:disconnect_node/1`, which
/// aborts that attempt. Its socket may still sit in our listen queue.
fn drop_abandoned(listener: &TcpListener) {
    while let Ok((sock, _)) = listener.accept() {
        let mut sock = with_step_timeout(sock);
        assert!(
            closed_by_peer(&mut sock),
            "BEAM kept a connection open after its ping returned"
        );
    }
}

/// Runs `hs` over `sock`, answering the node questions from `ans`; the
/// whole handshake must be over within `limit`.
pub(crate) fn drive(sock: &mut TcpStream, mut hs: Handshake, ans: Answers, limit: Duration) -> Run {
    let deadline = Instant::now() + limit;
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
                    let _ = sock.write_all(bytes);
                    continue;
                }
                Event::AcceptPending { .. } => hs.handle_accept_pending(ans.accept_pending),
                Event::NameMe { .. } => hs.handle_name_me(ans.name_me),
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
        assert!(Instant::now() < deadline, "handshake timed out");
        let n = match sock.read(&mut buf) {
            Err(e) if is_timeout(&e) => panic!("handshake stalled"),
            Ok(0) | Err(_) => return run,
            Ok(n) => n,
        };
        run.received.extend_from_slice(&buf[..n]);
        if let Err(e) = hs.handle_data(&buf[..n]) {
            // Write what was queued before the error (e.g. not_allowed).
            while let Some(Event::Send(bytes)) = hs.poll_event() {
                let _ = sock.write_all(&bytes);
            }
            run.outcome = Outcome::Failed(e);
            return run;
        }
    }
}

/// The next non-tick data packet (4-byte length), starting from `buf`.
fn next_packet(sock: &mut TcpStream, mut buf: Vec<u8>) -> Vec<u8> {
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
        let n = match sock.read(&mut chunk) {
            Err(e) if is_timeout(&e) => panic!("no data packet"),
            r => r.expect("read"),
        };
        assert!(n > 0, "closed before any data packet");
        buf.extend_from_slice(&chunk[..n]);
    }
}

/// Reads until the peer closes the socket (`true`), or nothing arrived for
/// [`STEP`] (`false`).
fn closed_by_peer(sock: &mut TcpStream) -> bool {
    let mut chunk = [0; 4096];
    loop {
        match sock.read(&mut chunk) {
            Err(e) if is_timeout(&e) => return false,
            Ok(0) | Err(_) => return true,
            Ok(_) => {}
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

/// A BEAM node with the handshake tests' cookie.
fn beam(epmd: &Epmd, otp: &Otp, opts: BeamOpts) -> BeamNode {
    BeamNode::start(epmd, opts.otp(otp.clone()).cookie(COOKIE)).expect("BEAM node starts")
}

/// Dials `erl` (listening on `port`) as `node` and runs the initiator.
fn dial(
    erl: &BeamNode,
    port: u16,
    node: &str,
    flags: DFlags,
    cookie: &str,
    ans: Answers,
) -> (Run, TcpStream) {
    let mut sock = connect(port);
    let hs = Handshake::initiator(config(node, flags, cookie), erl.node_name(), 0x0bad_cafe);
    let run = drive(&mut sock, hs, ans, STEP * 2);
    (run, sock)
}

fn assert_sane(otp: &Otp, est: &Established, ours: DFlags) {
    let label = otp.describe();
    let ours = ours.expand_mandatory_25();
    assert_eq!(
        est.flags & !ours,
        DFlags::EMPTY,
        "{label}: negotiated beyond ours"
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
        "{label}: {:?}",
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
    if negotiated.contains(DFlags::DIST_HDR_ATOM_CACHE) {
        // With atom cache references or without: BEAM sends some messages
        // (a monitor from no process, say) without.
        assert_eq!(
            packet.get(..2),
            Some(&[131, 68][..]),
            "{label}: DIST_HEADER"
        );
    } else if negotiated.contains(DFlags::FRAGMENTS) {
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
#[test]
fn we_dial() {
    let Some(otp) = require_otp() else { return };
    let label = &otp.describe();
    let epmd = Epmd::start().unwrap();
    let erl = beam(&epmd, &otp, BeamOpts::new("hs"));
    let port = erl.dist_port(&epmd).unwrap();
    let output = || erl.log().tail(TAIL_LINES);

    // ok: established, then BEAM's first data packet (rex features_request
    // or global init_connect).
    let me = unique_node("rs");
    let (run, mut first) = dial(&erl, port, &me, flags(), COOKIE, OK);
    let Outcome::Up(est, leftover) = run.outcome else {
        panic!("{label}: {:?}\n{}", run.outcome, output())
    };
    assert!(run.asked.is_empty());
    assert!(run.received.starts_with(&status_bytes("ok")));
    assert_eq!(est.peer, erl.node_name());
    assert_sane(&otp, &est, flags());
    eprintln!("{label}: negotiated {:?}", est.flags);
    let packet = next_packet(&mut first, leftover);
    assert_first_packet(label, est.flags, &packet);
    // The `alive` step below needs net_kernel to list this connection as
    // `up`, which can happen after BEAM's first data packet (see below).
    let wait_up = |node: &str| {
        erl.eval_until(
            &format!("net_kernel:node_info('{node}', state)."),
            "{ok,up}",
            STEP,
        )
        .unwrap_or_else(|e| panic!("{label}: {e:#}\n{}", output()))
    };
    wait_up(&me);

    // Without FRAGMENTS, BEAM sends plain pass-through packets.
    let plain_flags = flags() & !DFlags::FRAGMENTS;
    let (run, mut sock) = dial(&erl, port, &unique_node("rp"), plain_flags, COOKIE, OK);
    let Outcome::Up(est, leftover) = run.outcome else {
        panic!("{label}: {:?}\n{}", run.outcome, output())
    };
    assert_sane(&otp, &est, plain_flags);
    let packet = next_packet(&mut sock, leftover);
    assert_first_packet(label, est.flags, &packet);
    drop(sock);

    // alive → true: the same node dials again while connected; BEAM asks,
    // we say this attempt is pending, BEAM drops the old connection.
    let (run, mut second) = dial(&erl, port, &me, flags(), COOKIE, OK);
    let Outcome::Up(est, leftover) = run.outcome else {
        panic!("{label}: {:?}", run.outcome)
    };
    assert_eq!(est.peer, erl.node_name());
    assert_eq!(run.asked, vec![Event::IsPending]);
    assert!(run.received.starts_with(&status_bytes("alive")));
    assert!(
        closed_by_peer(&mut first),
        "{label}: old connection not closed"
    );
    // BEAM acks before its nodeup, and its first data packet (sent on the
    // emulator's nodeup) can still come before net_kernel marks the
    // connection `up`. Until it does, the next dial would meet a `pending`
    // entry and be treated as a simultaneous connect, so wait for `up`.
    next_packet(&mut second, leftover);
    wait_up(&me);

    // alive → false: we give up, BEAM keeps the live connection.
    let no = Answers {
        is_pending: false,
        ..OK
    };
    let (run, _) = dial(&erl, port, &me, flags(), COOKIE, no);
    let expected = HandshakeError::NotPending {
        peer: erl.node_name().to_owned(),
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
    let wrong = unique_node("rw");
    let outcome = dial(&erl, port, &wrong, flags(), "nottheone", OK).0.outcome;
    assert!(matches!(outcome, Outcome::Closed), "{label}: {outcome:?}");
    let line = HandshakeError::InvalidChallengeReply { peer: wrong }.to_string();
    erl.wait_for_log(&line, STEP).unwrap();

    // Missing BIG_CREATION (and no digest): not_allowed, and BEAM logs the
    // line our acceptor would.
    let old = unique_node("ro");
    let old_flags = flags() & !(DFlags::BIG_CREATION | DFlags::MANDATORY_25_DIGEST);
    let (run, mut sock) = dial(&erl, port, &old, old_flags, COOKIE, OK);
    let expected = HandshakeError::NotAllowed {
        peer: erl.node_name().to_owned(),
    };
    let outcome = run.outcome;
    assert!(
        matches!(outcome, Outcome::Failed(ref e) if *e == expected),
        "{label}: {outcome:?}"
    );
    assert_eq!(run.received, status_bytes("not_allowed"), "{label}");
    assert!(closed_by_peer(&mut sock));
    let line = HandshakeError::FlagsRejected {
        peer: old,
        missing: vec!["BIG_CREATION"],
    }
    .to_string();
    erl.wait_for_log(&line, STEP).unwrap();

    // MANDATORY_25_DIGEST standing alone for the OTP 25 mandatory set.
    let digest_flags = (flags() & !DFlags::MANDATORY_25) | DFlags::MANDATORY_25_DIGEST;
    let outcome = dial(&erl, port, &unique_node("rd"), digest_flags, COOKIE, OK)
        .0
        .outcome;
    let Outcome::Up(est, _) = outcome else {
        panic!(
            "{label}: digest-only flags refused: {outcome:?}\n{}",
            output()
        )
    };
    assert_sane(&otp, &est, digest_flags);
    eprintln!("{label}: erl output:\n{}", output());
}

/// (b) BEAM dials us (`net_adm:ping/1`, three times): up with `ok`; up
/// after `alive` (BEAM answers `true`, we wait for the "old" connection);
/// then, with another cookie, our acceptor rejects the challenge reply.
#[test]
fn they_dial() {
    let Some(otp) = require_otp() else { return };
    let label = &otp.describe();
    let epmd = Epmd::start().unwrap();
    let (listener, port) = listen();
    let probe = unique_name("probe");
    let registration = epmd.register(&probe, port).unwrap();
    let me = format!("{probe}@127.0.0.1");
    let erl = beam(&epmd, &otp, BeamOpts::new("hs"));
    let cfg = Config {
        creation: registration.creation(),
        ..config(&me, flags(), COOKIE)
    };
    let up_pending = Answers {
        accept_pending: AcceptPending::UpPending,
        ..OK
    };

    for (ping, ans) in [("PING1", OK), ("PING2", up_pending)] {
        let pong = erl.eval_start(&format!("net_adm:ping('{me}').")).unwrap();
        let mut sock = accept(&listener);
        let hs = Handshake::acceptor(cfg.clone(), 0x7777_0001);
        let run = drive(&mut sock, hs, ans, STEP);
        let Outcome::Up(est, leftover) = run.outcome else {
            panic!(
                "{label} {ping}: {:?}\n{}",
                run.outcome,
                erl.log().tail(TAIL_LINES)
            )
        };
        assert_eq!(est.peer, erl.node_name());
        assert_sane(&otp, &est, flags());
        let Some(Event::AcceptPending {
            peer,
            flags: peer_flags,
            creation,
        }) = run.asked.first()
        else {
            panic!("{label}: {:?}", run.asked)
        };
        assert_eq!(
            (peer.as_str(), *creation),
            (erl.node_name(), est.peer_creation)
        );
        if ans == OK {
            assert_eq!(run.asked.len(), 1, "{label}: {:?}", run.asked);
            eprintln!("{label}: send_name flags {peer_flags:?}");
        } else {
            // alive → BEAM's is_pending says true → we wait_pending, then ack.
            assert_eq!(run.asked[1..], [Event::WaitPending], "{label}");
        }
        // BEAM goes on with the ping: its first data packet (is_auth & co).
        let packet = next_packet(&mut sock, leftover);
        assert_first_packet(label, est.flags, &packet);
        drop(sock);
        assert_eq!(pong.wait(STEP).unwrap(), "pang", "{label} {ping}");
        drop_abandoned(&listener);
    }

    let pong = erl
        .eval_start(&format!(
            "erlang:set_cookie('{me}', nottheone), net_adm:ping('{me}')."
        ))
        .unwrap();
    // A dial BEAM made before the cookie changed (a retry of the last
    // ping's connection, seen once on OTP 29) may come first: it completes
    // with the right cookie and is dropped; the next one is PING3's.
    let started = Instant::now();
    let (sock, run) = loop {
        let mut sock = accept(&listener);
        let hs = Handshake::acceptor(cfg.clone(), 0x7777_0002);
        let run = drive(&mut sock, hs, OK, STEP);
        if matches!(run.outcome, Outcome::Up(..)) && started.elapsed() < STEP {
            eprintln!("{label}: a dial from before the cookie changed, dropped");
            continue;
        }
        break (sock, run);
    };
    let expected = HandshakeError::InvalidChallengeReply {
        peer: erl.node_name().to_owned(),
    };
    assert!(
        matches!(run.outcome, Outcome::Failed(ref e) if *e == expected),
        "{label}: {:?} after {:?}; asked {:?}; received {:?}",
        run.outcome,
        started.elapsed(),
        run.asked,
        run.received
    );
    drop(sock);
    assert_eq!(pong.wait(STEP).unwrap(), "pang", "{label} PING3");
}

/// A BEAM node with a dynamic name (`-name undefined@…`, `DFLAG_NAME_ME`)
/// dials us. Refused (no name given): `not_allowed`, `connect_node/1` says
/// false. Then named: we answer `named:` with a name and creation of our
/// choosing, and the BEAM node takes both (`node()`, its creation), on a
/// hidden connection.
#[test]
fn dynamic_name() {
    let Some(otp) = require_otp() else { return };
    let label = &otp.describe();
    let epmd = Epmd::start().unwrap();
    let (listener, port) = listen();
    let probe = unique_name("probe");
    let registration = epmd.register(&probe, port).unwrap();
    let me = format!("{probe}@127.0.0.1");
    let erl = beam(&epmd, &otp, BeamOpts::new("dyn").name("undefined"));
    let cfg = Config {
        creation: registration.creation(),
        ..config(&me, flags(), COOKIE)
    };
    // (A dynamic-name node does not auto-connect on ping; connect explicitly.)
    let connect = format!("net_kernel:connect_node('{me}').");

    let connected = erl.eval_start(&connect).unwrap();
    let mut sock = accept(&listener);
    let run = drive(&mut sock, Handshake::acceptor(cfg.clone(), 5), OK, STEP);
    let expected = HandshakeError::DynamicNameUnsupported {
        host: "127.0.0.1".into(),
    };
    assert!(
        matches!(run.outcome, Outcome::Failed(ref e) if *e == expected),
        "{label}: {:?}",
        run.outcome
    );
    assert!(matches!(run.asked[..], [Event::NameMe { ref host, .. }] if host == "127.0.0.1"));
    assert_eq!(connected.wait(STEP).unwrap(), "false", "{label}");
    drop(sock);

    let given: &'static str =
        Box::leak(format!("{}@127.0.0.1", unique_name("DYN")).into_boxed_str());
    let creation = 0x5EED_0001;
    let connected = erl.eval_start(&connect).unwrap();
    let mut sock = accept(&listener);
    let named = Answers {
        name_me: Some((given, creation)),
        ..OK
    };
    let run = drive(&mut sock, Handshake::acceptor(cfg, 6), named, STEP);
    let Outcome::Up(est, _) = run.outcome else {
        panic!("{label}: {:?}", run.outcome)
    };
    assert_eq!(est.peer, given);
    assert_eq!(est.peer_creation, creation);
    assert!(!est.peer_published, "a dynamic-name node is hidden");
    assert_eq!(connected.wait(STEP).unwrap(), "true", "{label}");
    assert_eq!(
        erl.eval("{node(), erlang:system_info(creation)}.").unwrap(),
        format!("{{'{given}',{creation}}}"),
        "{label}"
    );
    drop(sock);
}

/// Accepts BEAM's attempt and reads its `send_name`, leaving it pending.
fn hold_incoming(listener: &TcpListener, me: &str) -> TcpStream {
    let mut sock = accept(listener);
    let mut hs = Handshake::acceptor(config(me, flags(), COOKIE), 1);
    let mut buf = [0; 1024];
    loop {
        if let Some(ev) = hs.poll_event() {
            assert!(matches!(ev, Event::AcceptPending { .. }), "{ev:?}");
            return sock;
        }
        let n = match sock.read(&mut buf) {
            Err(e) if is_timeout(&e) => panic!("no name"),
            r => r.expect("read"),
        };
        assert!(n > 0, "closed");
        hs.handle_data(&buf[..n]).expect("send_name");
    }
}

/// (c) Simultaneous connect: BEAM dials us while we dial it. The lower name
/// loses: BEAM (`m_…`) answers `nok` to `a_…` and `ok_simultaneous` to
/// `z_…` (net_kernel `accept_pending`: `MyNode > Node`).
#[test]
fn simultaneous() {
    let Some(otp) = require_otp() else { return };
    let label = &otp.describe();
    let epmd = Epmd::start().unwrap();
    let mut sides = Vec::new();
    for name in [
        prefixed_unique_name("a", "lo"),
        prefixed_unique_name("z", "hi"),
    ] {
        let (listener, port) = listen();
        let registration = epmd.register(&name, port).unwrap();
        sides.push((format!("{name}@127.0.0.1"), listener, registration));
    }
    let erl = beam(
        &epmd,
        &otp,
        BeamOpts::new("hs").name(&prefixed_unique_name("m", "hs")),
    );
    assert!(
        sides[0].0.as_str() < erl.node_name() && erl.node_name() < sides[1].0.as_str(),
        "{} {} {}",
        sides[0].0,
        erl.node_name(),
        sides[1].0
    );
    let port = erl.dist_port(&epmd).unwrap();
    erl.eval(&format!(
        "[spawn(fun() -> net_adm:ping(N) end) || N <- ['{}', '{}']].",
        sides[0].0, sides[1].0
    ))
    .unwrap();

    // Lower name: we lose, BEAM's attempt stands.
    let (me, listener, _) = &sides[0];
    let _incoming = hold_incoming(listener, me);
    let mut sock = connect(port);
    let hs = Handshake::initiator(config(me, flags(), COOKIE), erl.node_name(), 3);
    let Run {
        outcome, received, ..
    } = drive(&mut sock, hs, OK, STEP * 2);
    let expected = HandshakeError::Nok {
        peer: erl.node_name().to_owned(),
    };
    assert!(
        matches!(outcome, Outcome::Failed(ref e) if *e == expected),
        "{label}: {outcome:?}"
    );
    assert!(expected.is_benign());
    assert_eq!(received, status_bytes("nok"));

    // Higher name: BEAM gives its attempt up (exit `remarked`) and lets ours in.
    let (me, listener, _) = &sides[1];
    let mut incoming = hold_incoming(listener, me);
    let mut sock = connect(port);
    let hs = Handshake::initiator(config(me, flags(), COOKIE), erl.node_name(), 4);
    let Run {
        outcome, received, ..
    } = drive(&mut sock, hs, OK, STEP * 2);
    assert!(
        matches!(outcome, Outcome::Up(ref e, _) if e.peer == erl.node_name()),
        "{label}: {outcome:?}"
    );
    assert!(
        received.starts_with(&status_bytes("ok_simultaneous")),
        "{label}: {received:?}"
    );
    assert!(
        closed_by_peer(&mut incoming),
        "{label}: BEAM kept its own attempt"
    );
}
