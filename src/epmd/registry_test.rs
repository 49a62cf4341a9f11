//! The EPMD state machine against the behaviour observed on OTP 25's epmd.

use super::*;

/// The clock when epmd handed out creation 0x6b0135d3 to a new name.
const T0: u64 = 0x6b01_35d2;

fn peer(conn: ConnId) -> Peer {
    Peer {
        conn,
        fd: i64::try_from(conn).unwrap() + 4,
        local: true,
    }
}

fn alive(name: &str, highest_version: u16) -> Request {
    Request::Alive2(Alive2Req {
        port: 5555,
        node_type: 77,
        protocol: 0,
        highest_version,
        lowest_version: 5,
        name: name.into(),
        extra: vec![],
    })
}

fn keep(outcome: Outcome) -> Vec<u8> {
    match outcome {
        Outcome::ReplyAndKeep(bytes) => bytes,
        other => panic!("expected ReplyAndKeep, got {other:?}"),
    }
}

fn reply(outcome: Outcome) -> Vec<u8> {
    match outcome {
        Outcome::Reply(bytes) => bytes,
        other => panic!("expected Reply, got {other:?}"),
    }
}

#[test]
fn new_names_get_the_clock_and_reregistrations_count_up() {
    let mut epmd = Epmd::new(14369, false);
    // Seen: "foo" registered and closed four times -> ..d3, d4, d5, d6
    // whatever the clock; a new name "bar" a second later -> ..d4.
    for (i, creation) in [0x6b01_35d3_u32, 0x6b01_35d4, 0x6b01_35d5]
        .into_iter()
        .enumerate()
    {
        let conn = ConnId::try_from(i).unwrap();
        let now = T0 + u64::try_from(i).unwrap();
        let bytes = keep(epmd.handle_request(now, peer(conn), alive("foo", 6)));
        let mut expected = vec![118, 0];
        expected.extend_from_slice(&creation.to_be_bytes());
        assert_eq!(bytes, expected);
        assert_eq!(epmd.handle_closed(conn).as_deref(), Some("foo"));
    }
    let bar = keep(epmd.handle_request(T0 + 1, peer(10), alive("bar", 6)));
    assert_eq!(bar, [118, 0, 0x6b, 0x01, 0x35, 0xd4]);
}

#[test]
fn duplicate_name_is_refused_with_99() {
    let mut epmd = Epmd::new(14369, false);
    keep(epmd.handle_request(T0, peer(1), alive("bar", 6)));
    assert_eq!(
        keep(epmd.handle_request(T0, peer(2), alive("bar", 6))),
        [118, 1, 0, 0, 0, 99]
    );
    assert_eq!(
        keep(epmd.handle_request(T0, peer(3), alive("bar", 5))),
        [121, 1, 0, 99]
    );
    // The refused connections hold nothing: closing them changes nothing.
    assert_eq!(epmd.handle_closed(2), None);
    assert!(epmd.lookup("bar").is_some());
}

#[test]
fn legacy_nodes_get_creations_cycling_through_1_to_3() {
    // Seen: five registrations of "old" (highest version 5) answered
    // 2, 3, 1, 2, 3; its 32-bit creation started at 0x6b0135e3.
    let mut epmd = Epmd::new(14369, false);
    let mut seen = vec![];
    for conn in 0..5 {
        let bytes = keep(epmd.handle_request(0x6b01_35e2, peer(conn), alive("old", 5)));
        seen.push(u16::from_be_bytes([bytes[2], bytes[3]]));
        epmd.handle_closed(conn);
    }
    assert_eq!(seen, [2, 3, 1, 2, 3]);
}

#[test]
fn creation_never_falls_below_4() {
    let mut epmd = Epmd::new(1, false);
    assert_eq!(
        keep(epmd.handle_request(0, peer(1), alive("z", 6))),
        [118, 0, 0, 0, 0, 4]
    );
    epmd.handle_closed(1);
    let mut epmd2 = Epmd::new(1, false);
    assert_eq!(
        keep(epmd2.handle_request(u64::from(u32::MAX - 1), peer(1), alive("w", 6))),
        [118, 0, 0xff, 0xff, 0xff, 0xff]
    );
    epmd2.handle_closed(1);
    // u32::MAX + 1 wraps to 0 and is lifted to 4.
    assert_eq!(
        keep(epmd2.handle_request(0, peer(2), alive("w", 6))),
        [118, 0, 0, 0, 0, 4]
    );
}

#[test]
fn remembered_names_are_bounded() {
    let mut epmd = Epmd::new(1, false).with_max_remembered(2);
    for (conn, name) in ["a", "b", "c"].into_iter().enumerate() {
        let conn = ConnId::try_from(conn).unwrap();
        keep(epmd.handle_request(100, peer(conn), alive(name, 6)));
        epmd.handle_closed(conn);
    }
    // "a" was forgotten: it gets the clock again; "c" is remembered.
    let a = keep(epmd.handle_request(500, peer(10), alive("a", 6)));
    assert_eq!(a, [118, 0, 0, 0, 0x01, 0xf5]);
    let c = keep(epmd.handle_request(500, peer(11), alive("c", 6)));
    assert_eq!(c, [118, 0, 0, 0, 0, 102]);
}

#[test]
fn port_please_and_names() {
    let mut epmd = Epmd::new(14369, false);
    keep(epmd.handle_request(T0, peer(1), alive("bar", 6)));
    keep(epmd.handle_request(T0, peer(2), alive("pro", 6)));
    assert_eq!(
        reply(epmd.handle_request(T0, peer(3), Request::PortPlease2 { name: "bar".into() })),
        [
            119, 0, 0x15, 0xb3, 77, 0, 0, 6, 0, 5, 0, 3, b'b', b'a', b'r', 0, 0
        ]
    );
    assert_eq!(
        reply(epmd.handle_request(
            T0,
            peer(3),
            Request::PortPlease2 {
                name: "nope".into()
            }
        )),
        [119, 1]
    );
    assert_eq!(
        reply(epmd.handle_request(T0, peer(4), Request::Names)),
        b"\x00\x008!name pro at port 5555\nname bar at port 5555\n"
    );
    let names: Vec<_> = epmd.names().map(|(n, _, _)| n).collect();
    assert_eq!(names, ["pro", "bar"]);
}

#[test]
fn dump_lists_active_then_old() {
    let mut epmd = Epmd::new(14369, false);
    keep(epmd.handle_request(T0, peer(1), alive("foo", 6)));
    epmd.handle_closed(1);
    keep(epmd.handle_request(T0, peer(7), alive("pro", 6)));
    assert_eq!(
        reply(epmd.handle_request(T0, peer(8), Request::Dump)),
        b"\x00\x008!active name     <pro> at port 5555, fd = 11\n\x00\
          old/unused name <foo>, port = 5555, fd = 5 \n\x00"
    );
}

#[test]
fn kill_is_refused_while_nodes_are_registered() {
    let mut epmd = Epmd::new(1, false);
    keep(epmd.handle_request(T0, peer(1), alive("x", 6)));
    assert_eq!(
        reply(epmd.handle_request(T0, peer(2), Request::Kill)),
        b"NO"
    );
    epmd.handle_closed(1);
    assert_eq!(
        epmd.handle_request(T0, peer(3), Request::Kill),
        Outcome::ReplyAndExit(b"OK".to_vec())
    );
}

#[test]
fn relaxed_kill_and_stop() {
    let mut strict = Epmd::new(1, false);
    keep(strict.handle_request(T0, peer(1), alive("y", 6)));
    assert_eq!(
        strict.handle_request(T0, peer(2), Request::Stop { name: "y".into() }),
        Outcome::Close
    );

    let mut relaxed = Epmd::new(1, true);
    keep(relaxed.handle_request(T0, peer(1), alive("y", 6)));
    assert_eq!(
        relaxed.handle_request(T0, peer(2), Request::Stop { name: "y".into() }),
        Outcome::ReplyAndDrop {
            reply: b"STOPPED".to_vec(),
            stop: 1
        }
    );
    assert!(relaxed.lookup("y").is_none());
    // The connection closing afterwards finds nothing left to unregister.
    assert_eq!(relaxed.handle_closed(1), None);
    assert_eq!(
        reply(relaxed.handle_request(T0, peer(3), Request::Stop { name: "y".into() })),
        b"NOEXIST"
    );
    keep(relaxed.handle_request(T0, peer(4), alive("z", 6)));
    assert_eq!(
        relaxed.handle_request(T0, peer(5), Request::Kill),
        Outcome::ReplyAndExit(b"OK".to_vec())
    );
}

#[test]
fn remote_peers_may_only_look_up() {
    let mut epmd = Epmd::new(1, false);
    let remote = Peer {
        local: false,
        ..peer(1)
    };
    assert_eq!(
        epmd.handle_request(T0, remote, alive("r", 6)),
        Outcome::Close
    );
    assert_eq!(
        epmd.handle_request(T0, remote, Request::Kill),
        Outcome::Close
    );
    assert_eq!(
        epmd.handle_request(T0, remote, Request::Dump),
        Outcome::Close
    );
    assert!(matches!(
        epmd.handle_request(T0, remote, Request::Names),
        Outcome::Reply(_)
    ));
    assert!(epmd.is_empty());
}

#[test]
fn over_long_names_are_refused_not_dropped() {
    let mut epmd = Epmd::new(1, false);
    let long = "é".repeat(256);
    assert_eq!(
        keep(epmd.handle_request(T0, peer(1), alive(&long, 6))),
        [118, 1, 0, 0, 0, 99]
    );
    let ok = "é".repeat(255);
    assert_eq!(keep(epmd.handle_request(T0, peer(2), alive(&ok, 6)))[1], 0);
}
