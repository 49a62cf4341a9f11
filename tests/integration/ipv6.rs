//! IPv6 distribution (`-proto_dist inet6_tcp`) between real BEAM nodes and
//! distro, both ways: node names with `::1` and with a host name that
//! resolves to it (`ip6-localhost`, which `scripts/provision.sh` puts in
//! `/etc/hosts`; a short name, as erl takes a host without dots), registration with EPMD over `::1` as erl does it,
//! `inet_dist_use_interface` and `inet_dist_listen_options`.

use crate::support::rust_node::RustNode;
use crate::support::{
    BeamNode, BeamOpts, DEFAULT_COOKIE, DistroNode, DistroOpts, Epmd, require_otp, unique_name,
};
use distro::dist::transport::ProtoDist;
use std::net::{Ipv6Addr, SocketAddr, TcpStream};
use std::time::Duration;

const T: Duration = Duration::from_secs(30);

/// The host name for `::1`, if this machine has one (a failure under CI).
fn ipv6_host_name() -> Option<&'static str> {
    use std::net::ToSocketAddrs as _;
    let host = "ip6-localhost";
    let ok = (host, 0)
        .to_socket_addrs()
        .is_ok_and(|mut a| a.any(|a| a.ip() == Ipv6Addr::LOCALHOST));
    if ok {
        return Some(host);
    }
    let why =
        format!("{host} does not resolve to ::1 (scripts/provision.sh adds it to /etc/hosts)");
    assert!(!crate::support::otp::in_ci(), "{why}");
    eprintln!("skipping: {why}");
    None
}

fn start_distro(epmd: &Epmd, name: &str, extra: &[&str]) -> DistroNode {
    // As erl: a host without dots makes a short name.
    let flag = if name.contains(['.', ':']) {
        "-name"
    } else {
        "-sname"
    };
    let mut args = vec![
        "-proto_dist",
        "inet6_tcp",
        flag,
        name,
        "-setcookie",
        DEFAULT_COOKIE,
    ];
    args.extend_from_slice(extra);
    let d = DistroNode::start(epmd, DistroOpts::new().args(args)).expect("distro starts");
    d.wait_for_log("distribution started", T)
        .expect("distro is up");
    d
}

/// The distribution port a node registered in `epmd`.
fn port_of(epmd: &Epmd, node: &str) -> u16 {
    epmd.port_of(node.split('@').next().unwrap()).unwrap()
}

fn connects(addr: SocketAddr) -> bool {
    TcpStream::connect_timeout(&addr, Duration::from_secs(2)).is_ok()
}

#[test]
fn ipv6_ping_both_ways_with_address_and_host_names() {
    let Some(otp) = require_otp() else { return };
    let Some(host) = ipv6_host_name() else { return };
    let epmd = Epmd::start().unwrap();
    for h in ["::1", host] {
        // BEAM → the distro binary.
        let name = format!("{}@{h}", unique_name("v6d"));
        let d = start_distro(&epmd, &name, &[]);
        let b = BeamNode::start(&epmd, BeamOpts::new("v6b").ipv6(h).otp(otp.clone())).unwrap();
        assert_eq!(
            b.eval(&format!("net_adm:ping('{name}').")).unwrap(),
            "pong",
            "{h}"
        );
        assert_eq!(
            b.eval(&format!("rpc:call('{name}', erlang, node, [])."))
                .unwrap(),
            format!("'{name}'")
        );
        // distro listens on IPv6 (`::`, which also takes IPv4 unless v6only).
        let port = port_of(&epmd, &name);
        assert!(connects(SocketAddr::from((Ipv6Addr::LOCALHOST, port))));
        drop(d);

        // A Rust node (the library) → BEAM.
        let rust = RustNode::start_named(&epmd, &format!("{}@{h}", unique_name("v6r")), |cfg| {
            cfg.proto_dist = ProtoDist::Inet6Tcp;
            cfg.listen_addr = Some(Ipv6Addr::LOCALHOST.into());
        });
        let pong = rust.run(rust.node.ping(b.node_name()));
        assert!(pong, "{} pings {}", rust.name(), b.node_name());
        assert_eq!(
            b.eval(&format!("lists:member('{}', nodes()).", rust.name()))
                .unwrap(),
            "true"
        );
    }
}

#[test]
fn ipv6_interface_and_listen_options() {
    let Some(_otp) = require_otp() else { return };
    let epmd = Epmd::start().unwrap();
    // inet_dist_use_interface: ::1 only.
    let name = format!("{}@::1", unique_name("v6i"));
    let _d = start_distro(
        &epmd,
        &name,
        &["-kernel", "inet_dist_use_interface", "{0,0,0,0,0,0,0,1}"],
    );
    let port = port_of(&epmd, &name);
    assert!(connects(SocketAddr::from((Ipv6Addr::LOCALHOST, port))));
    assert!(!connects(SocketAddr::from(([127, 0, 0, 1], port))));

    // On `::`, IPv4 clients get in too, unless {ipv6_v6only, true}.
    let dual = format!("{}@::1", unique_name("v6a"));
    let _dual = start_distro(&epmd, &dual, &[]);
    assert!(connects(SocketAddr::from((
        [127, 0, 0, 1],
        port_of(&epmd, &dual)
    ))));
    let only = format!("{}@::1", unique_name("v6o"));
    let d = start_distro(
        &epmd,
        &only,
        &[
            "-kernel",
            "inet_dist_listen_options",
            "[{ipv6_v6only, true}, {backlog, 16}, {nodelay, true}]",
        ],
    );
    let port = port_of(&epmd, &only);
    assert!(connects(SocketAddr::from((Ipv6Addr::LOCALHOST, port))));
    assert!(!connects(SocketAddr::from(([127, 0, 0, 1], port))));
    d.wait_for_log("ignoring {nodelay,true}", T).unwrap();
}

#[test]
fn an_unsupported_proto_dist_is_one_line_and_exit_2() {
    let mut cmd = std::process::Command::new(DistroNode::BIN);
    cmd.args(["-proto_dist", "inet6_sctp", "-name", "x@127.0.0.1"]);
    let out = crate::support::process::run("distro", cmd, T).unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        err.trim(),
        "distro: -proto_dist inet6_sctp is not supported (distro speaks inet_tcp, inet6_tcp, inet_tls and inet6_tls)"
    );
}
