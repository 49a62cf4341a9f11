//! Our server and our client, in-process on 127.0.0.1.

use super::*;
use crate::epmd::client::{self, Registration};
use crate::epmd::{NodeType, dump, kill, names, port_please, register};
use std::sync::atomic::{AtomicU32, Ordering};
use tokio::task::JoinHandle;

async fn start(config: ServerConfig) -> (SocketAddr, JoinHandle<Result<(), EpmdError>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    (addr, tokio::spawn(serve_with(listener, config)))
}

fn unique(prefix: &str) -> String {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    format!(
        "{prefix}_{}_{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

async fn eventually_unregistered(addr: SocketAddr, name: &str) {
    for _ in 0..200 {
        if port_please(addr, name).await.unwrap().is_none() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("{name} still registered");
}

/// Sends raw bytes and returns everything the server sends before closing.
async fn raw(addr: SocketAddr, bytes: &[u8]) -> Vec<u8> {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream.write_all(bytes).await.unwrap();
    let mut out = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut out)).await;
    match read {
        Ok(Ok(_)) => out,
        // A reset after garbage is as good as a close.
        Ok(Err(e)) if e.kind() == io::ErrorKind::ConnectionReset => out,
        other => panic!("server did not close: {other:?}"),
    }
}

#[tokio::test]
async fn register_lookup_list_and_unregister_on_close() {
    let (addr, _server) = start(ServerConfig::default()).await;
    let name = unique("cp1");
    let registration = register(addr, &name, 4711, false).await.unwrap();
    let clock = unix_secs();
    assert!(
        (clock..=clock + 2).contains(&u64::from(registration.creation())),
        "clock-based creation, like epmd: {} at {clock}",
        registration.creation()
    );
    assert_eq!(registration.name(), name);

    let entry = port_please(addr, &name).await.unwrap().expect("registered");
    assert_eq!(entry.port, 4711);
    assert_eq!(entry.node_type, NodeType::Normal);
    assert_eq!((entry.highest_version, entry.lowest_version), (6, 6));
    assert_eq!(names(addr).await.unwrap(), [(name.clone(), 4711)]);

    let err = register(addr, &name, 4712, false).await.unwrap_err();
    assert!(matches!(err, EpmdError::NameInUse { code: 1, .. }), "{err}");
    assert!(
        err.to_string()
            .contains(&format!("the name {name} seems to be in use"))
    );

    registration.unregister();
    eventually_unregistered(addr, &name).await;
    assert!(names(addr).await.unwrap().is_empty());
}

#[tokio::test]
async fn reregistration_gets_the_next_creation() {
    let (addr, _server) = start(ServerConfig::default()).await;
    let name = unique("again");
    let first = register(addr, &name, 1, false).await.unwrap();
    let creation = first.creation();
    drop(first);
    eventually_unregistered(addr, &name).await;
    let second = register(addr, &name, 1, true).await.unwrap();
    assert_eq!(second.creation(), creation.wrapping_add(1));
    let entry = port_please(addr, &name).await.unwrap().unwrap();
    assert_eq!(entry.node_type, NodeType::Hidden);
}

#[tokio::test]
async fn names_lists_newest_first() {
    let (addr, _server) = start(ServerConfig::default()).await;
    let (a, b) = (unique("a"), unique("b"));
    let _ra = register(addr, &a, 10, false).await.unwrap();
    let _rb = register(addr, &b, 11, false).await.unwrap();
    assert_eq!(names(addr).await.unwrap(), [(b, 11), (a, 10)]);
}

#[tokio::test]
async fn garbage_is_disconnected_and_the_server_survives() {
    let (addr, _server) = start(ServerConfig::default()).await;
    for junk in [
        &b"\x00\x00"[..],                     // empty request
        b"\xff\xff",                          // oversized length
        b"\x00\x01\x01",                      // unknown tag
        b"\x00\x03\x78\x00\x01",              // ALIVE2 too short
        b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", // someone else's protocol
    ] {
        assert_eq!(raw(addr, junk).await, b"", "{junk:?}");
    }
    // A client that goes away in the middle of a frame.
    drop(TcpStream::connect(addr).await.unwrap());
    let mut half = TcpStream::connect(addr).await.unwrap();
    half.write_all(&[0, 9, 122]).await.unwrap();
    drop(half);
    assert_eq!(names(addr).await.unwrap(), []);
}

#[tokio::test]
async fn requests_split_into_single_bytes_are_served() {
    let (addr, _server) = start(ServerConfig::default()).await;
    let name = unique("split");
    let _r = register(addr, &name, 99, false).await.unwrap();
    let mut stream = TcpStream::connect(addr).await.unwrap();
    let frame = proto::Request::PortPlease2 { name: name.clone() }.encode();
    for byte in frame {
        stream.write_all(&[byte]).await.unwrap();
        stream.flush().await.unwrap();
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    let mut reply = Vec::new();
    stream.read_to_end(&mut reply).await.unwrap();
    assert_eq!(&reply[..4], [119, 0, 0, 99]);
}

#[tokio::test]
async fn idle_connections_time_out() {
    let config = ServerConfig {
        packet_timeout: Duration::from_millis(100),
        ..ServerConfig::default()
    };
    let (addr, _server) = start(config).await;
    let mut idle = TcpStream::connect(addr).await.unwrap();
    idle.write_all(&[0, 5]).await.unwrap();
    let mut out = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(5), idle.read_to_end(&mut out)).await;
    assert!(matches!(read, Ok(Ok(0))), "{read:?}");
}

#[tokio::test]
async fn data_on_a_registration_connection_unregisters() {
    let (addr, _server) = start(ServerConfig::default()).await;
    let name = unique("chatty");
    let mut stream = TcpStream::connect(addr).await.unwrap();
    let req = proto::Request::Alive2(proto::Alive2Req {
        port: 7,
        node_type: 77,
        protocol: 0,
        highest_version: 6,
        lowest_version: 5,
        name: name.clone(),
        extra: vec![],
    });
    stream.write_all(&req.encode()).await.unwrap();
    let mut reply = [0u8; 6];
    stream.read_exact(&mut reply).await.unwrap();
    assert_eq!(reply[..2], [118, 0]);
    assert!(port_please(addr, &name).await.unwrap().is_some());
    stream.write_all(b"zz").await.unwrap();
    eventually_unregistered(addr, &name).await;
}

#[tokio::test]
async fn bytes_sent_along_with_a_request_make_it_garbage() {
    // Seen on OTP 25's epmd: ALIVE2_REQ + "zz" in one write is closed
    // without a reply and registers nothing.
    let (addr, _server) = start(ServerConfig::default()).await;
    let name = unique("eager");
    let mut frame = proto::Request::Alive2(proto::Alive2Req {
        port: 7,
        node_type: 77,
        protocol: 0,
        highest_version: 6,
        lowest_version: 5,
        name: name.clone(),
        extra: vec![],
    })
    .encode();
    frame.extend_from_slice(b"zz");
    assert_eq!(raw(addr, &frame).await, b"");
    assert!(port_please(addr, &name).await.unwrap().is_none());
    assert_eq!(raw(addr, b"\x00\x01n\x00").await, b"");
}

#[tokio::test]
async fn kill_is_refused_while_nodes_are_registered() {
    let (addr, server) = start(ServerConfig::default()).await;
    let name = unique("k");
    let registration = register(addr, &name, 1, false).await.unwrap();
    assert!(!kill(addr).await.unwrap());
    drop(registration);
    eventually_unregistered(addr, &name).await;
    assert!(kill(addr).await.unwrap());
    let stopped = tokio::time::timeout(Duration::from_secs(5), server).await;
    assert!(matches!(stopped, Ok(Ok(Ok(())))), "{stopped:?}");
    assert!(matches!(
        names(addr).await.unwrap_err(),
        EpmdError::Connect { .. }
    ));
}

#[tokio::test]
async fn registrations_notice_when_epmd_goes_away() {
    let config = ServerConfig {
        relaxed_command_check: true,
        ..ServerConfig::default()
    };
    let (addr, server) = start(config).await;
    let mut registration: Registration = register(addr, &unique("orphan"), 1, false).await.unwrap();
    assert!(
        kill(addr).await.unwrap(),
        "relaxed KILL works with nodes registered"
    );
    let lost = tokio::time::timeout(Duration::from_secs(5), registration.lost())
        .await
        .expect("lost() resolves");
    assert!(matches!(lost, EpmdError::RegistrationLost { .. }), "{lost}");
    server.await.unwrap().unwrap();
}

#[tokio::test]
async fn stop_needs_relaxed_command_check() {
    let (strict, _s) = start(ServerConfig::default()).await;
    let name = unique("st");
    let _r = register(strict, &name, 1, false).await.unwrap();
    let stop = proto::Request::Stop { name: name.clone() }.encode();
    assert_eq!(raw(strict, &stop).await, b"");
    assert!(port_please(strict, &name).await.unwrap().is_some());

    let (relaxed, _s2) = start(ServerConfig {
        relaxed_command_check: true,
        ..ServerConfig::default()
    })
    .await;
    let mut victim = register(relaxed, &name, 1, false).await.unwrap();
    let stop = proto::Request::Stop { name: name.clone() }.encode();
    assert_eq!(raw(relaxed, &stop).await, b"STOPPED");
    let lost = tokio::time::timeout(Duration::from_secs(5), victim.lost()).await;
    assert!(lost.is_ok(), "the stopped node's connection is closed");
    assert!(port_please(relaxed, &name).await.unwrap().is_none());
    assert_eq!(raw(relaxed, &stop).await, b"NOEXIST");
}

#[tokio::test]
async fn dump_shows_active_and_old_names() {
    let (addr, _server) = start(ServerConfig::default()).await;
    let (old, live) = (unique("old"), unique("live"));
    drop(register(addr, &old, 5, false).await.unwrap());
    eventually_unregistered(addr, &old).await;
    let _live = register(addr, &live, 6, false).await.unwrap();
    let text = dump(addr).await.unwrap();
    let lines: Vec<&str> = text.split_terminator('\0').collect();
    assert_eq!(lines.len(), 2, "{text:?}");
    assert!(lines[0].starts_with(&format!("active name     <{live}> at port 6, fd = ")));
    assert!(lines[1].starts_with(&format!("old/unused name <{old}>, port = 5, fd = ")));
    assert!(lines[1].ends_with(" \n"));
}

#[tokio::test]
async fn names_reply_reports_the_listening_port() {
    let (addr, _server) = start(ServerConfig::default()).await;
    let reply = raw(addr, &proto::Request::Names.encode()).await;
    assert_eq!(reply, u32::from(addr.port()).to_be_bytes());
}

#[tokio::test]
async fn connection_limit_closes_extra_connections() {
    let (addr, _server) = start(ServerConfig {
        max_connections: 1,
        ..ServerConfig::default()
    })
    .await;
    let _held = register(addr, &unique("only"), 1, false).await.unwrap();
    let err = client::names(addr).await.unwrap_err();
    assert!(matches!(err, EpmdError::Request { .. }), "{err}");
}
