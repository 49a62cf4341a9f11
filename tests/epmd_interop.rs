//! `distro::epmd` against real OTP.
//!
//! * Our client against the system `epmd`, started in the foreground on a
//!   private port (never the default 4369) and killed by pid.
//! * Our server, in-process on a free port, serving real `erl` nodes
//!   (`ERL_EPMD_PORT=P erl -start_epmd false`): registration, `epmd -names`
//!   as a client, two nodes finding each other (`net_adm:ping` → `pong`),
//!   duplicate names, unregistration on exit, creation on restart. Run with
//!   the system OTP (25 here) and with OTP 27 and 29 from the chroots under
//!   `/opt/distro-otp` when present.
//! * `ensure_running` starting the system `epmd -daemon`, and a detached
//!   daemon through a stand-in `distro` executable.
//!
//! A missing `erl`/`epmd` skips these tests with a message, except in CI
//! (`CI=true`), where it fails them. A missing OTP chroot always skips.
//! Every node name and port is unique; every process started here is killed
//! by pid when its guard drops (also on panic); everything stays on
//! 127.0.0.1.

use distro::epmd::{self, EnsureOptions, EpmdError, EpmdStarted, NodeType, ServerConfig};
use std::io::{Read as _, Write as _};
use std::net::{Ipv4Addr, SocketAddr, TcpListener as StdListener, TcpStream as StdStream};
use std::os::unix::fs::PermissionsExt as _;
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;
use tokio::process::{Child, Command};

// ---------------------------------------------------------------- support

/// `Some(path)` if `program` is installed; otherwise skips (prints why and
/// returns `None`) or, in CI, fails.
fn require(program: &str) -> Option<PathBuf> {
    if let Some(path) = epmd::find_in_path(program) {
        return Some(path);
    }
    let msg = format!("`{program}` is not on PATH (install erlang-base)");
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "{msg}: required in CI"
    );
    eprintln!("SKIPPED: {msg}");
    None
}

/// An OTP installation: the host's, or one in a chroot.
#[derive(Debug, Clone)]
struct Otp {
    label: &'static str,
    /// The `chroot` executable and the root.
    chroot: Option<(PathBuf, PathBuf)>,
}

impl Otp {
    fn host() -> Option<Self> {
        require("erl")?;
        Some(Self {
            label: "host OTP",
            chroot: None,
        })
    }

    fn chroot(label: &'static str, root: &str) -> Option<Self> {
        let root = PathBuf::from(root);
        if !root.join("usr/bin/erl").exists() {
            eprintln!("SKIPPED: {label}: no OTP chroot at {}", root.display());
            return None;
        }
        let Some(chroot) = epmd::find_in_path("chroot") else {
            eprintln!("SKIPPED: {label}: no `chroot` on PATH");
            return None;
        };
        Some(Self {
            label,
            chroot: Some((chroot, root)),
        })
    }

    /// `erl` (or `epmd`) of this installation; the chroot shares the host's
    /// loopback, and `chroot` execs the program, so the pid is the node's.
    fn command(&self, program: &str) -> Command {
        let mut command = match &self.chroot {
            Some((chroot, root)) => {
                let mut c = Command::new(chroot);
                c.arg(root).arg(program);
                c
            }
            None => Command::new(program),
        };
        command.kill_on_drop(true).stdin(Stdio::null());
        command
    }

    /// `erl -name NAME@127.0.0.1 -setcookie COOKIE -noshell -start_epmd
    /// false` with `ERL_EPMD_PORT=port`, plus `extra` arguments.
    fn erl(&self, epmd_port: u16, name: &str, extra: &[&str]) -> Command {
        let mut command = self.command("erl");
        command
            .env("ERL_EPMD_PORT", epmd_port.to_string())
            .args(["-name", &format!("{name}@127.0.0.1")])
            .args(["-setcookie", "distro_epmd_interop", "-noshell"])
            .args(["-start_epmd", "false"])
            .args(extra);
        command
    }
}

fn unique(prefix: &str) -> String {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    format!(
        "{prefix}_{}_{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

fn unix_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock after 1970")
        .as_secs()
}

fn free_port() -> u16 {
    StdListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

fn local(port: u16) -> SocketAddr {
    SocketAddr::from((Ipv4Addr::LOCALHOST, port))
}

/// Kills (by pid) the process it holds when dropped.
struct Guard(Child);

impl Guard {
    fn spawn(command: &mut Command) -> Self {
        Self(command.spawn().expect("process starts"))
    }

    async fn stop(mut self) {
        let _ = self.0.kill().await;
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        let _ = self.0.start_kill();
    }
}

/// Kills a detached process we started, by pid, when dropped.
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

/// Sends `KILL_REQ` to the EPMD on `port` when dropped (stops an
/// `epmd -daemon` this test started, whose pid is unknown).
struct KillReqGuard(u16);

impl Drop for KillReqGuard {
    fn drop(&mut self) {
        if let Ok(mut s) = StdStream::connect(local(self.0)) {
            let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
            let _ = s.write_all(&[0, 1, 107]);
            let _ = s.read(&mut [0u8; 2]);
        }
    }
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

/// Runs `command` to completion within `limit`: its stdout and stderr, and
/// whether it exited 0.
async fn run(mut command: Command, limit: Duration) -> (String, bool) {
    command.stdout(Stdio::piped()).stderr(Stdio::piped());
    let child = command.spawn().expect("process starts");
    let out = tokio::time::timeout(limit, child.wait_with_output())
        .await
        .expect("process finishes in time")
        .expect("process output");
    let mut text = String::from_utf8_lossy(&out.stdout).into_owned();
    text.push_str(&String::from_utf8_lossy(&out.stderr));
    (text, out.status.success())
}

async fn output(command: Command, limit: Duration) -> String {
    run(command, limit).await.0
}

// ------------------------------------------- our client, the real epmd

/// `epmd -port P` in the foreground, answering.
async fn system_epmd(extra: &[&str]) -> Option<(u16, Guard)> {
    let program = require("epmd")?;
    let port = free_port();
    let mut command = Command::new(program);
    command
        .args(["-port", &port.to_string()])
        .args(extra)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true);
    let guard = Guard::spawn(&mut command);
    eventually("epmd answers", Duration::from_secs(10), || async {
        epmd::names(local(port)).await.is_ok()
    })
    .await;
    Some((port, guard))
}

#[tokio::test]
async fn client_against_system_epmd() {
    let Some((port, mut epmd_proc)) = system_epmd(&[]).await else {
        return;
    };
    let addr = local(port);
    let (name, hidden) = (unique("rs_a"), unique("rs_h"));

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
    let status = tokio::time::timeout(Duration::from_secs(5), epmd_proc.0.wait())
        .await
        .expect("epmd exits after KILL_REQ")
        .unwrap();
    assert!(status.success(), "{status}");
}

#[tokio::test]
async fn registration_notices_when_system_epmd_dies() {
    let Some((port, epmd_proc)) = system_epmd(&["-relaxed_command_check"]).await else {
        return;
    };
    let mut registration = epmd::register(local(port), &unique("rs_l"), 1, false)
        .await
        .unwrap();
    epmd_proc.stop().await;
    let lost = tokio::time::timeout(Duration::from_secs(5), registration.lost())
        .await
        .expect("lost() resolves when epmd dies");
    assert!(matches!(lost, EpmdError::RegistrationLost { .. }), "{lost}");
}

// ------------------------------------- the epmd CLI against our server

/// `epmd -port P ARGS…` (the real epmd binary as a client): its output and
/// whether it exited 0.
async fn epmd_cli(program: &PathBuf, port: u16, args: &[&str]) -> (String, bool) {
    let mut command = Command::new(program);
    command
        .args(["-port", &port.to_string()])
        .args(args)
        .stdin(Stdio::null())
        .kill_on_drop(true);
    run(command, Duration::from_secs(30)).await
}

#[tokio::test]
async fn epmd_cli_against_our_server() {
    let Some(program) = require("epmd") else {
        return;
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = tokio::spawn(epmd::serve(listener));
    let name = unique("held");
    let held = epmd::register(local(port), &name, 5555, false)
        .await
        .unwrap();

    let (text, ok) = epmd_cli(&program, port, &["-names"]).await;
    assert!(ok, "{text}");
    assert_eq!(
        text,
        format!("epmd: up and running on port {port} with data:\nname {name} at port 5555\n")
    );
    // Same words as against the real epmd (checked by hand on OTP 25).
    let (text, ok) = epmd_cli(&program, port, &["-kill"]).await;
    assert!(
        !ok && text.contains("Killing not allowed - living nodes in database."),
        "{text}"
    );
    let (text, ok) = epmd_cli(&program, port, &["-stop", &name]).await;
    assert!(
        !ok && text.contains("local epmd responded with <>"),
        "{text}"
    );

    drop(held);
    eventually("unregistered", Duration::from_secs(5), || async {
        !listed(local(port), &name).await
    })
    .await;
    let (text, ok) = epmd_cli(&program, port, &["-kill"]).await;
    assert!(ok && text.trim() == "Killed", "{text}");
    let stopped = tokio::time::timeout(Duration::from_secs(5), server).await;
    assert!(matches!(stopped, Ok(Ok(Ok(())))), "{stopped:?}");
}

#[tokio::test]
async fn epmd_cli_against_our_relaxed_server() {
    let Some(program) = require("epmd") else {
        return;
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let config = ServerConfig {
        relaxed_command_check: true,
        ..ServerConfig::default()
    };
    let server = tokio::spawn(epmd::serve_with(listener, config));
    let name = unique("held");
    let mut held = epmd::register(local(port), &name, 5555, false)
        .await
        .unwrap();

    let (text, ok) = epmd_cli(&program, port, &["-stop", &name]).await;
    assert!(ok && text.trim() == "STOPPED", "{text}");
    let lost = tokio::time::timeout(Duration::from_secs(5), held.lost()).await;
    assert!(lost.is_ok(), "the stopped registration is closed");
    let (text, ok) = epmd_cli(&program, port, &["-stop", &name]).await;
    assert!(ok && text.trim() == "NOEXIST", "{text}");

    let _other = epmd::register(local(port), &unique("kept"), 1, false)
        .await
        .unwrap();
    let (text, ok) = epmd_cli(&program, port, &["-kill"]).await;
    assert!(ok && text.trim() == "Killed", "{text}");
    let stopped = tokio::time::timeout(Duration::from_secs(5), server).await;
    assert!(matches!(stopped, Ok(Ok(Ok(())))), "{stopped:?}");
}

// ------------------------------------------------ ensure_running

#[tokio::test]
async fn ensure_running_starts_the_system_epmd_daemon() {
    let Some(program) = require("epmd") else {
        return;
    };
    let port = free_port();
    let _cleanup = KillReqGuard(port);
    let options = EnsureOptions {
        system_epmd: Some(program.clone()),
        own_exe: None,
        ..EnsureOptions::from_environment()
    };
    let started = epmd::ensure_running_with(port, &options).await.unwrap();
    assert_eq!(started, EpmdStarted::SystemEpmd { program });
    assert_eq!(
        epmd::ensure_running_with(port, &options).await.unwrap(),
        EpmdStarted::AlreadyRunning
    );
    assert!(epmd::kill(local(port)).await.unwrap());
}

#[tokio::test]
async fn ensure_running_detaches_our_own_daemon() {
    // A stand-in for the `distro` binary, whose `epmd` subcommand is wired
    // elsewhere: `<exe> epmd -port N` runs the system epmd in the
    // foreground (exec keeps the pid).
    let Some(program) = require("epmd") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let exe = dir.path().join("distro");
    std::fs::write(
        &exe,
        format!(
            "#!/bin/sh\n[ \"$1\" = epmd ] || exit 2\nshift\nexec {} \"$@\"\n",
            program.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&exe, std::fs::Permissions::from_mode(0o755)).unwrap();
    let port = free_port();
    let options = EnsureOptions {
        system_epmd: None,
        own_exe: Some(exe.clone()),
        ..EnsureOptions::from_environment()
    };
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
}

// ------------------------------------------ our server, real erl nodes

async fn our_server_serves(otp: Otp) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let addr = local(port);
    let server = tokio::spawn(epmd::serve_with(listener, ServerConfig::default()));
    let (a1, b1) = (unique("a1"), unique("b1"));
    let long = Duration::from_secs(60);
    let label = otp.label;

    let node_a = Guard::spawn(
        otp.erl(port, &a1, &[])
            .stdout(Stdio::null())
            .stderr(Stdio::null()),
    );
    eventually(&format!("{label} {a1} registers"), long, || {
        listed(addr, &a1)
    })
    .await;
    let entry = epmd::port_please(addr, &a1).await.unwrap().unwrap();
    assert_eq!(entry.node_type, NodeType::Normal, "{label}");
    assert!(entry.highest_version >= 6, "{label}: {entry:?}");

    // The real epmd binary, as a client, reads our NAMES reply.
    if let Some(epmd_bin) = require("epmd") {
        let mut names = Command::new(epmd_bin);
        names
            .args(["-port", &port.to_string(), "-names"])
            .kill_on_drop(true);
        let text = output(names, long).await;
        assert!(
            text.contains(&format!("up and running on port {port} with data:")),
            "{label}: {text}"
        );
        assert!(
            text.contains(&format!("name {a1} at port {}", entry.port)),
            "{label}: {text}"
        );
    }

    // A second node finds the first through us.
    let probe = |name: &str| {
        let eval = format!(
            "io:format(\"~p ~p~n\", [net_adm:ping('{a1}@127.0.0.1'), \
             rpc:call('{a1}@127.0.0.1', erlang, system_info, [creation])]), halt()."
        );
        otp.erl(port, name, &["-eval", &eval])
    };
    let text = output(probe(&b1), long).await;
    let creation: u64 = match text.split_whitespace().collect::<Vec<_>>()[..] {
        ["pong", creation] => creation.parse().expect("a creation"),
        _ => panic!("{label}: expected `pong <creation>`, got {text:?}"),
    };
    eventually(&format!("{label} {b1} unregisters"), long, || async {
        !listed(addr, &b1).await
    })
    .await;

    // The same name again is refused, and erl says so.
    let text = output(otp.erl(port, &a1, &["-eval", "halt()."]), long).await;
    assert!(text.contains("seems to be in use"), "{label}: {text}");

    // The node goes away: unregistered. Back again: the next creation.
    node_a.stop().await;
    eventually(&format!("{label} {a1} unregisters"), long, || async {
        !listed(addr, &a1).await
    })
    .await;
    let _node_a2 = Guard::spawn(
        otp.erl(port, &a1, &[])
            .stdout(Stdio::null())
            .stderr(Stdio::null()),
    );
    eventually(&format!("{label} {a1} re-registers"), long, || {
        listed(addr, &a1)
    })
    .await;
    let text = output(probe(&unique("b2")), long).await;
    assert_eq!(
        text.split_whitespace().collect::<Vec<_>>(),
        ["pong", &(creation + 1).to_string()],
        "{label}"
    );
    eprintln!(
        "{label}: {a1} served by our EPMD, creation {creation} then {}",
        creation + 1
    );
    server.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn our_server_serves_host_otp() {
    if let Some(otp) = Otp::host() {
        our_server_serves(otp).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn our_server_serves_otp27() {
    if let Some(otp) = Otp::chroot("OTP 27", "/opt/distro-otp/otp27") {
        our_server_serves(otp).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn our_server_serves_otp29() {
    if let Some(otp) = Otp::chroot("OTP 29", "/opt/distro-otp/otp29") {
        our_server_serves(otp).await;
    }
}
