//! `distro::epmd` against the real thing, for the OTP release selected by
//! `DISTRO_OTP`:
//!
//! * our client against that release's `epmd` (a private one per test, see
//!   [`Epmd::start_release`]);
//! * that `epmd` binary as a client (`-names`, `-kill`, `-stop`) of our
//!   server, which runs in-process on a free port;
//! * our server serving real `erl` nodes: registration, two nodes finding
//!   each other (`net_adm:ping` → `pong`), duplicate names, unregistration on
//!   exit, the next creation on restart;
//! * `ensure_running` starting that `epmd -daemon`, and a detached daemon
//!   through a stand-in `distro` executable.
//!
//! The async client and server run on a tokio runtime of the test
//! ([`tokio_runtime`]); everything else is the shared harness.

use crate::support::epmd::kill_on;
use crate::support::{
    BeamNode, BeamOpts, Epmd, Otp, process, require_otp, tokio_runtime, unique_name, wait_until,
    write_script,
};
use distro::epmd::{self, EnsureOptions, EpmdError, EpmdStarted, NodeType, ServerConfig};
use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;
use tokio::runtime::Runtime;

/// How long any single step may take.
const T: Duration = Duration::from_secs(60);

fn local(port: u16) -> SocketAddr {
    SocketAddr::from((Ipv4Addr::LOCALHOST, port))
}

fn unix_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock after 1970")
        .as_secs()
}

async fn eventually<F, Fut>(what: &str, limit: Duration, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + limit;
    while !check().await {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting until {what}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn listed(addr: SocketAddr, name: &str) -> bool {
    epmd::names(addr)
        .await
        .is_ok_and(|names| names.iter().any(|(n, _)| n == name))
}

/// Our EPMD server on a free port, in a task of `rt`.
fn our_server(
    rt: &Runtime,
    config: ServerConfig,
) -> (u16, tokio::task::JoinHandle<Result<(), EpmdError>>) {
    let listener = rt
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .expect("binding 127.0.0.1:0");
    let port = listener.local_addr().expect("bound").port();
    (port, rt.spawn(epmd::serve_with(listener, config)))
}

/// `epmd -port P ARGS…` of the release, as a client of the EPMD on `port`:
/// its output (stdout, then stderr) and whether it exited 0.
fn epmd_cli(otp: &Otp, port: u16, args: &[&str]) -> (String, bool) {
    let mut cmd = otp.command("epmd");
    cmd.args(["-port", &port.to_string()]).args(args);
    let out = process::run("epmd client", cmd, T).expect("epmd client runs");
    let mut text = String::from_utf8_lossy(&out.stdout).into_owned();
    text.push_str(&String::from_utf8_lossy(&out.stderr));
    (text, out.status.success())
}

// ------------------------------------------- our client, the real epmd

#[test]
fn client_against_the_real_epmd() {
    let Some(otp) = require_otp() else { return };
    let mut real = Epmd::start_release(&otp, &[]).unwrap();
    let addr = real.addr();
    let (name, hidden) = (unique_name("rs_a"), unique_name("rs_h"));
    tokio_runtime().block_on(async {
        let first = epmd::register(addr, &name, 5555, false).await.unwrap();
        let creation = first.creation();
        // epmd (OTP >= 23) gives a new name the Unix clock plus one.
        let clock = unix_secs();
        assert!(
            (clock..=clock + 2).contains(&u64::from(creation)),
            "a clock-based 32-bit creation: {creation} at {clock}"
        );
        let entry = epmd::port_please(addr, &name)
            .await
            .unwrap()
            .expect("found");
        assert_eq!(
            (entry.name.as_str(), entry.port, entry.node_type),
            (name.as_str(), 5555, NodeType::Normal)
        );
        assert_eq!((entry.highest_version, entry.lowest_version), (6, 6));
        assert!(entry.extra.is_empty());

        let _hidden = epmd::register(addr, &hidden, 5556, true).await.unwrap();
        let h = epmd::port_please(addr, &hidden).await.unwrap().unwrap();
        assert_eq!(h.node_type, NodeType::Hidden);
        // Newest first, exactly as our server lists them.
        assert_eq!(
            epmd::names(addr).await.unwrap(),
            [(hidden.clone(), 5556), (name.clone(), 5555)]
        );
        let dump = epmd::dump(addr).await.unwrap();
        assert!(dump.contains(&format!("active name     <{name}> at port 5555, fd = ")));

        let err = epmd::register(addr, &name, 5557, false).await.unwrap_err();
        assert!(matches!(err, EpmdError::NameInUse { code: 1, .. }), "{err}");
        assert!(
            err.to_string().contains(&format!(
                "the name {name} seems to be in use by another Erlang node"
            )),
            "{err}"
        );
        assert!(
            epmd::port_please(addr, "nobody_here")
                .await
                .unwrap()
                .is_none()
        );

        // KILL is refused while nodes are registered.
        assert!(!epmd::kill(addr).await.unwrap());

        // Closing the connection unregisters; the name comes back with the
        // next creation.
        first.unregister();
        eventually("unregistered", Duration::from_secs(5), || async {
            epmd::port_please(addr, &name).await.unwrap().is_none()
        })
        .await;
        let again = epmd::register(addr, &name, 5555, false).await.unwrap();
        assert_eq!(again.creation(), creation.wrapping_add(1));

        drop((again, _hidden));
        eventually("all unregistered", Duration::from_secs(5), || async {
            epmd::names(addr).await.unwrap().is_empty()
        })
        .await;
        assert!(epmd::kill(addr).await.unwrap());
    });
    let status = real
        .wait_exit(Duration::from_secs(5))
        .expect("epmd exits after KILL_REQ");
    assert!(status.success(), "{status}");
}

#[test]
fn registration_notices_when_the_real_epmd_dies() {
    let Some(otp) = require_otp() else { return };
    let real = Epmd::start_release(&otp, &["-relaxed_command_check"]).unwrap();
    let addr = real.addr();
    let rt = tokio_runtime();
    let mut registration = rt
        .block_on(epmd::register(addr, &unique_name("rs_l"), 1, false))
        .unwrap();
    drop(real); // SIGKILL, by PID
    let lost = rt
        .block_on(async { tokio::time::timeout(Duration::from_secs(5), registration.lost()).await })
        .expect("lost() resolves when epmd dies");
    assert!(matches!(lost, EpmdError::RegistrationLost { .. }), "{lost}");
}

// ------------------------------------- the epmd CLI against our server

#[test]
fn epmd_cli_against_our_server() {
    let Some(otp) = require_otp() else { return };
    let rt = tokio_runtime();
    let (port, server) = our_server(&rt, ServerConfig::default());
    let name = unique_name("held");
    let held = rt
        .block_on(epmd::register(local(port), &name, 5555, false))
        .unwrap();

    let (text, ok) = epmd_cli(&otp, port, &["-names"]);
    assert!(ok, "{text}");
    assert_eq!(
        text,
        format!("epmd: up and running on port {port} with data:\nname {name} at port 5555\n")
    );
    // Same words as against the real epmd (checked by hand on OTP 25).
    let (text, ok) = epmd_cli(&otp, port, &["-kill"]);
    assert!(
        !ok && text.contains("Killing not allowed - living nodes in database."),
        "{text}"
    );
    let (text, ok) = epmd_cli(&otp, port, &["-stop", &name]);
    assert!(
        !ok && text.contains("local epmd responded with <>"),
        "{text}"
    );

    drop(held);
    rt.block_on(eventually(
        "unregistered",
        Duration::from_secs(5),
        || async { !listed(local(port), &name).await },
    ));
    let (text, ok) = epmd_cli(&otp, port, &["-kill"]);
    assert!(ok && text.trim() == "Killed", "{text}");
    let stopped = rt.block_on(async { tokio::time::timeout(Duration::from_secs(5), server).await });
    assert!(matches!(stopped, Ok(Ok(Ok(())))), "{stopped:?}");
}

#[test]
fn epmd_cli_against_our_relaxed_server() {
    let Some(otp) = require_otp() else { return };
    let rt = tokio_runtime();
    let config = ServerConfig {
        relaxed_command_check: true,
        ..ServerConfig::default()
    };
    let (port, server) = our_server(&rt, config);
    let name = unique_name("held");
    let mut held = rt
        .block_on(epmd::register(local(port), &name, 5555, false))
        .unwrap();

    let (text, ok) = epmd_cli(&otp, port, &["-stop", &name]);
    assert!(ok && text.trim() == "STOPPED", "{text}");
    let lost =
        rt.block_on(async { tokio::time::timeout(Duration::from_secs(5), held.lost()).await });
    assert!(lost.is_ok(), "the stopped registration is closed");
    let (text, ok) = epmd_cli(&otp, port, &["-stop", &name]);
    assert!(ok && text.trim() == "NOEXIST", "{text}");

    let _other = rt
        .block_on(epmd::register(local(port), &unique_name("kept"), 1, false))
        .unwrap();
    let (text, ok) = epmd_cli(&otp, port, &["-kill"]);
    assert!(ok && text.trim() == "Killed", "{text}");
    let stopped = rt.block_on(async { tokio::time::timeout(Duration::from_secs(5), server).await });
    assert!(matches!(stopped, Ok(Ok(Ok(())))), "{stopped:?}");
}

// ------------------------------------------------ ensure_running

/// Sends `KILL_REQ` to the EPMD on `port` when dropped: stops a detached
/// `epmd -daemon` this test started, whose pid is unknown.
struct KillReqGuard(u16);

impl Drop for KillReqGuard {
    fn drop(&mut self) {
        let _ = kill_on(self.0);
    }
}

/// Kills a detached process this test started, by pid, when dropped.
struct PidGuard(libc::pid_t);

impl Drop for PidGuard {
    fn drop(&mut self) {
        // SAFETY: kill(2) only reads its integer arguments; the pid is a
        // process this test started.
        unsafe {
            libc::kill(self.0, libc::SIGKILL);
        }
    }
}

#[test]
fn ensure_running_starts_the_real_epmd_daemon() {
    let Some(otp) = require_otp() else { return };
    // The release's epmd behind a script, so that it runs from its chroot
    // and listens on 127.0.0.1 only.
    let dir = tempfile::tempdir().unwrap();
    let program = write_script(
        &dir.path().join("epmd"),
        &format!(
            "ERL_EPMD_ADDRESS=127.0.0.1 exec {} \"$@\"",
            otp.shell_command("epmd")
        ),
    )
    .unwrap();
    let port = crate::support::free_port();
    let _cleanup = KillReqGuard(port);
    let options = EnsureOptions {
        system_epmd: Some(program.clone()),
        own_exe: None,
        ..EnsureOptions::from_environment()
    };
    tokio_runtime().block_on(async {
        let started = epmd::ensure_running_with(port, &options).await.unwrap();
        assert_eq!(started, EpmdStarted::SystemEpmd { program });
        assert_eq!(
            epmd::ensure_running_with(port, &options).await.unwrap(),
            EpmdStarted::AlreadyRunning
        );
        assert!(epmd::kill(local(port)).await.unwrap());
    });
}

#[test]
fn ensure_running_detaches_our_own_daemon() {
    // A stand-in for the `distro` binary, whose `epmd` subcommand is wired
    // elsewhere: `<exe> epmd -port N` runs the release's epmd in the
    // foreground (every step execs, so the pid is epmd's).
    let Some(otp) = require_otp() else { return };
    let dir = tempfile::tempdir().unwrap();
    let exe = write_script(
        &dir.path().join("distro"),
        &format!(
            "[ \"$1\" = epmd ] || exit 2\nshift\nERL_EPMD_ADDRESS=127.0.0.1 exec {} \"$@\"",
            otp.shell_command("epmd")
        ),
    )
    .unwrap();
    let port = crate::support::free_port();
    let options = EnsureOptions {
        system_epmd: None,
        own_exe: Some(exe.clone()),
        ..EnsureOptions::from_environment()
    };
    tokio_runtime().block_on(async {
        let started = epmd::ensure_running_with(port, &options).await.unwrap();
        let EpmdStarted::OwnDaemon { exe: ran, pid } = started else {
            panic!("expected OwnDaemon, got {started:?}");
        };
        let pid = libc::pid_t::try_from(pid).unwrap();
        let _guard = PidGuard(pid);
        assert_eq!(ran, exe);
        // SAFETY: getsid(2) only reads its integer argument.
        assert_eq!(unsafe { libc::getsid(pid) }, pid, "runs in its own session");
        assert!(epmd::names(local(port)).await.is_ok());
        assert!(epmd::kill(local(port)).await.unwrap());
    });
}

// ------------------------------------------ our server, real erl nodes

/// `{net_adm:ping(A), rpc:call(A, erlang, system_info, [creation])}` on
/// `from`: A's creation, after asserting `pong`.
fn ping_and_creation(from: &BeamNode, a: &BeamNode) -> u64 {
    let label = from.otp().describe();
    let text = from
        .eval(&format!(
            "{{net_adm:ping({a}), rpc:call({a}, erlang, system_info, [creation])}}.",
            a = a.atom()
        ))
        .unwrap();
    match text
        .strip_prefix("{pong,")
        .and_then(|rest| rest.strip_suffix('}'))
    {
        Some(creation) => creation.parse().expect("a creation"),
        None => panic!("{label}: expected `{{pong,<creation>}}`, got {text:?}"),
    }
}

#[test]
fn our_server_serves_beam_nodes() {
    let Some(otp) = require_otp() else { return };
    let label = otp.describe();
    let rt = tokio_runtime();
    let (port, server) = our_server(&rt, ServerConfig::default());
    let addr = local(port);
    let is_listed = |name: &str| rt.block_on(listed(addr, name));
    let beam = |label: &str| BeamOpts::new(label).otp(otp.clone());

    let node_a = BeamNode::start_on(port, beam("a1")).unwrap();
    let a1 = node_a.alive_name().to_owned();
    wait_until(&format!("{label} {a1} registers"), T, || is_listed(&a1)).unwrap();
    let entry = rt.block_on(epmd::port_please(addr, &a1)).unwrap().unwrap();
    assert_eq!(entry.node_type, NodeType::Normal, "{label}");
    assert!(entry.highest_version >= 6, "{label}: {entry:?}");

    // The real epmd binary, as a client, reads our NAMES reply.
    let (text, _) = epmd_cli(&otp, port, &["-names"]);
    assert!(
        text.contains(&format!("up and running on port {port} with data:")),
        "{label}: {text}"
    );
    assert!(
        text.contains(&format!("name {a1} at port {}", entry.port)),
        "{label}: {text}"
    );

    // A second node finds the first through us.
    let node_b1 = BeamNode::start_on(port, beam("b1")).unwrap();
    let creation = ping_and_creation(&node_b1, &node_a);
    let b1 = node_b1.alive_name().to_owned();
    node_b1.stop().unwrap();
    wait_until(&format!("{label} {b1} unregisters"), T, || !is_listed(&b1)).unwrap();

    // The same name again is refused, and erl says so.
    let Err(err) = BeamNode::start_on(port, beam("dup").name(&a1)) else {
        panic!("{label}: a second node named {a1} started");
    };
    let text = format!("{err:#}");
    assert!(text.contains("seems to be in use"), "{label}: {text}");

    // The node goes away: unregistered. Back again: the next creation.
    node_a.kill();
    wait_until(&format!("{label} {a1} unregisters"), T, || !is_listed(&a1)).unwrap();
    let node_a2 = BeamNode::start_on(port, beam("a1").name(&a1)).unwrap();
    wait_until(&format!("{label} {a1} re-registers"), T, || is_listed(&a1)).unwrap();
    let node_b2 = BeamNode::start_on(port, beam("b2")).unwrap();
    assert_eq!(
        ping_and_creation(&node_b2, &node_a2),
        creation + 1,
        "{label}"
    );
    eprintln!(
        "{label}: {a1} served by our EPMD, creation {creation} then {}",
        creation + 1
    );
    server.abort();
}
