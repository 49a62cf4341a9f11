//! `distro epmd` side by side with the real `epmd` of the release under
//! test, as programs: each server is run the same way and asked the same
//! things by both clients, and every combination must print the same and
//! exit with the same code — listening on IPv4 and IPv6 with `-address`,
//! serving `inet6_tcp` BEAM nodes, `-relaxed_command_check` through
//! `-daemon`, `-stop`, `-kill`, an unreachable EPMD, a bad address and a
//! taken port.

use crate::support::epmd::{alive2_on, kill_on};
use crate::support::{
    BeamNode, BeamOpts, DistroNode, Otp, ProcessGuard, free_port, process, require_otp,
    unique_name, wait_until,
};
use std::net::{Ipv6Addr, SocketAddr, TcpStream};
use std::process::Command;
use std::time::Duration;

const T: Duration = Duration::from_secs(30);

/// One of the two EPMD programs.
#[derive(Clone, Debug)]
enum Epmd {
    /// OTP's `epmd` of the release.
    Real(Otp),
    /// `distro epmd`.
    Ours,
}

impl Epmd {
    fn command(&self, args: &[&str]) -> Command {
        let mut cmd = match self {
            Self::Real(otp) => otp.command("epmd"),
            Self::Ours => {
                let mut c = Command::new(DistroNode::BIN);
                c.arg("epmd");
                c
            }
        };
        cmd.args(args)
            .env_remove("ERL_EPMD_ADDRESS")
            .env_remove("ERL_EPMD_PORT")
            .env_remove("ERL_EPMD_RELAXED_COMMAND_CHECK");
        cmd
    }

    fn label(&self) -> &'static str {
        match self {
            Self::Real(_) => "epmd",
            Self::Ours => "distro epmd",
        }
    }

    /// Runs to completion: exit code and stdout (stderr appended).
    fn run(&self, args: &[&str]) -> (i32, String) {
        let out = process::run(self.label(), self.command(args), T).expect("runs");
        let mut text = String::from_utf8_lossy(&out.stdout).into_owned();
        text.push_str(&String::from_utf8_lossy(&out.stderr));
        (out.status.code().unwrap_or(-1), text)
    }

    /// A foreground server on `port`, killed (by pid) when dropped.
    fn serve(&self, port: u16, extra: &[&str]) -> ProcessGuard {
        let p = port.to_string();
        let mut args = vec!["-port", p.as_str()];
        args.extend_from_slice(extra);
        let guard = ProcessGuard::spawn(format!("{}:{port}", self.label()), self.command(&args))
            .expect("server starts");
        wait_until("the server answers", T, || reachable(v4(port))).unwrap();
        guard
    }
}

fn v4(port: u16) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], port))
}

fn v6(port: u16) -> SocketAddr {
    SocketAddr::from((Ipv6Addr::LOCALHOST, port))
}

fn reachable(addr: SocketAddr) -> bool {
    TcpStream::connect_timeout(&addr, Duration::from_secs(1)).is_ok()
}

fn both(otp: &Otp) -> [Epmd; 2] {
    [Epmd::Real(otp.clone()), Epmd::Ours]
}

#[test]
fn both_servers_listen_on_both_families_and_serve_inet6_nodes() {
    let Some(otp) = require_otp() else { return };
    for server in both(&otp) {
        let port = free_port();
        let _s = server.serve(port, &["-address", "127.0.0.1"]);
        assert!(
            reachable(v6(port)),
            "{}: ::1 with -address 127.0.0.1",
            server.label()
        );
        let b6 =
            BeamNode::start_on(port, BeamOpts::new("e6").ipv6("::1").otp(otp.clone())).unwrap();
        let b4 = BeamNode::start_on(port, BeamOpts::new("e4").otp(otp.clone())).unwrap();
        let names: Vec<(i32, String)> = both(&otp)
            .iter()
            .map(|client| client.run(&["-port", &port.to_string(), "-names"]))
            .collect();
        assert_eq!(
            names[0],
            names[1],
            "the clients agree about {}",
            server.label()
        );
        for b in [&b6, &b4] {
            assert!(
                names[0]
                    .1
                    .contains(&format!("name {} at port", b.alive_name())),
                "{names:?}"
            );
        }
        // inet6 nodes find each other through this EPMD over ::1.
        let b6b =
            BeamNode::start_on(port, BeamOpts::new("e6b").ipv6("::1").otp(otp.clone())).unwrap();
        assert_eq!(
            b6.eval(&format!("net_adm:ping('{}').", b6b.node_name()))
                .unwrap(),
            "pong",
            "{}",
            server.label()
        );
    }
}

#[test]
fn clients_and_servers_answer_alike() {
    let Some(otp) = require_otp() else { return };
    // Nothing listens: both clients fail the same way.
    let nobody = free_port().to_string();
    for args in [
        vec!["-port", &nobody, "-names"],
        vec!["-port", &nobody, "-kill"],
    ] {
        let answers: Vec<_> = both(&otp).iter().map(|c| c.run(&args)).collect();
        assert_eq!(answers[0], answers[1], "{args:?}");
        assert_eq!(answers[0].0, 1, "{args:?}");
    }
    let mut seen: Vec<Vec<(i32, String)>> = Vec::new();
    for server in both(&otp) {
        let port = free_port();
        let p = port.to_string();
        let _s = server.serve(port, &["-address", "127.0.0.1"]);
        let name = unique_name("held");
        let _held = alive2_on(port, &name, 5555).unwrap();
        let mut answers = Vec::new();
        for client in both(&otp) {
            for args in [
                vec!["-port", &p, "-names"],
                vec!["-port", &p, "-kill"],
                vec!["-port", &p, "-stop", &name],
            ] {
                let (code, text) = client.run(&args);
                answers.push((code, text.replace(&p, "PORT").replace(&name, "NAME")));
            }
        }
        // Both clients print the same against this server...
        let (a, b) = answers.split_at(3);
        assert_eq!(a, b, "the clients differ against {}", server.label());
        assert_eq!(a[1].0, 1, "a refused -kill exits 1: {:?}", a[1]);
        assert_eq!(a[2].0, 1, "a refused -stop exits 1: {:?}", a[2]);
        // ... and a second server on the taken port exits 0, as epmd does.
        for other in both(&otp) {
            let (code, text) = other.run(&["-port", &p, "-address", "127.0.0.1"]);
            assert_eq!(code, 0, "{} on a taken port: {text}", other.label());
        }
        seen.push(answers);
    }
    // ... and the same against either server.
    assert_eq!(seen[0], seen[1], "real epmd vs distro epmd");
    // A bad address: exit 1 from both.
    for server in both(&otp) {
        let (code, text) = server.run(&["-port", &free_port().to_string(), "-address", "1.2.3.x"]);
        assert_eq!(code, 1, "{}: {text}", server.label());
    }
}

/// Sends `KILL_REQ` to `port` when dropped: stops a daemon this test
/// started (its pid is not known; it was started relaxed, so KILL works).
struct KillOnDrop(u16);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = kill_on(self.0);
    }
}

#[test]
fn daemons_keep_relaxed_command_check() {
    let Some(otp) = require_otp() else { return };
    for daemon in both(&otp) {
        let port = free_port();
        let p = port.to_string();
        let (code, text) = daemon.run(&[
            "-daemon",
            "-relaxed_command_check",
            "-port",
            &p,
            "-address",
            "127.0.0.1",
        ]);
        assert_eq!(code, 0, "{}: {text}", daemon.label());
        let _kill = KillOnDrop(port);
        wait_until("the daemon answers", T, || reachable(v4(port))).unwrap();
        assert!(reachable(v6(port)), "{} daemon on ::1", daemon.label());
        let name = unique_name("gone");
        let _held = alive2_on(port, &name, 5555).unwrap();
        let mut answers = Vec::new();
        for client in both(&otp) {
            answers.push(client.run(&["-port", &p, "-stop", &name]));
        }
        assert_eq!(
            answers,
            [(0, "STOPPED\n".to_owned()), (0, "NOEXIST\n".to_owned())],
            "-stop through the {} daemon",
            daemon.label()
        );
        let _other = alive2_on(port, &unique_name("kept"), 5556).unwrap();
        let (code, text) = Epmd::Ours.run(&["-port", &p, "-kill"]);
        assert_eq!((code, text.as_str()), (0, "Killed\n"), "{}", daemon.label());
        wait_until("the daemon is gone", T, || !reachable(v4(port))).unwrap();
    }
}
