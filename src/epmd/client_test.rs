//! Client pieces that need no server: ERL_EPMD_PORT parsing, name checks,
//! the reply cap.

use super::*;
use futures::io::AsyncReadExt as _;

#[test]
fn epmd_port_values() {
    assert_eq!(parse_epmd_port(None), 4369);
    assert_eq!(parse_epmd_port(Some("")), 4369);
    assert_eq!(parse_epmd_port(Some("14369")), 14369);
    assert_eq!(parse_epmd_port(Some(" 5000\n")), 5000);
    assert_eq!(parse_epmd_port(Some("0")), 4369);
    assert_eq!(parse_epmd_port(Some("70000")), 4369);
    assert_eq!(parse_epmd_port(Some("epmd")), 4369);
}

#[test]
fn names_are_checked_before_connecting() {
    for (name, reason) in [
        ("", "empty"),
        ("a@host", "'@'"),
        ("a\0b", "NUL"),
        (&"x".repeat(256), "255"),
    ] {
        match validate_name(name) {
            Err(EpmdError::InvalidName { reason: r, .. }) => assert!(r.contains(reason), "{r}"),
            other => panic!("{name:?}: {other:?}"),
        }
    }
    assert!(validate_name(&"é".repeat(255)).is_ok());
}

#[tokio::test]
async fn invalid_name_needs_no_epmd() {
    // Port 9 (discard) on loopback is never contacted: validation comes first.
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, 9));
    let err = register(addr, "cp1@host", 1, false).await.unwrap_err();
    assert!(err.to_string().contains("invalid node name"), "{err}");
}

#[test]
fn capped_stream_stops_at_the_budget() {
    futures::executor::block_on(async {
        let data = vec![b'x'; 10];
        let mut exact = Capped {
            inner: futures::io::Cursor::new(data.clone()),
            left: 10,
        };
        let mut out = Vec::new();
        exact.read_to_end(&mut out).await.unwrap();
        assert_eq!(out, data);

        let mut short = Capped {
            inner: futures::io::Cursor::new(data),
            left: 9,
        };
        let mut out = Vec::new();
        let err = short.read_to_end(&mut out).await.unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidData);
        assert_eq!(out.len(), 9);
    });
}

#[test]
fn errors_read_like_erl() {
    let err = EpmdError::NameInUse {
        name: "cp1".into(),
        addr: SocketAddr::from((Ipv4Addr::LOCALHOST, 4369)),
        code: 1,
    };
    assert!(
        err.to_string()
            .starts_with("the name cp1 seems to be in use by another Erlang node"),
        "{err}"
    );
}
