//! The `distro` binary as users run it: `erl`-like flags, clear errors,
//! the cookie file, hostile input on the distribution port, restarts, and
//! `init:stop/0` over rpc.

use crate::support::{
    BeamNode, BeamOpts, DEFAULT_COOKIE, DistroNode, DistroOpts, Epmd, process, require_otp,
    unique_node,
};
use std::io::Write;
use std::time::Duration;

const T: Duration = Duration::from_secs(15);

fn start_distro(epmd: &Epmd, name: &str, extra: &[&str]) -> DistroNode {
    let mut args = vec!["-name", name, "-setcookie", DEFAULT_COOKIE];
    args.extend_from_slice(extra);
    let d = DistroNode::start(epmd, DistroOpts::new().args(args)).expect("distro starts");
    d.wait_for_log("distribution started", T)
        .expect("distro is up");
    d
}

/// Runs the binary to completion: its exit code and stderr.
fn run_to_end(args: &[&str]) -> (i32, String) {
    let out = run_binary(args);
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn run_binary(args: &[&str]) -> std::process::Output {
    let mut cmd = std::process::Command::new(DistroNode::BIN);
    cmd.args(args).env("HOME", std::env::temp_dir());
    process::run("distro", cmd, T).expect("distro runs")
}

#[test]
fn wrong_flags_and_bad_configs_are_one_clear_line_and_a_failure() {
    let (code, err) = run_to_end(&["-sname", "x", "-bogus"]);
    assert_ne!(code, 0);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("-bogus"), "{err}");

    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("broken.config");
    std::fs::write(&cfg, "[{kernel, [{sync_nodes_timeout, 5000}]]\n").unwrap();
    let (code, err) = run_to_end(&["-sname", "x", "-config", cfg.to_str().unwrap()]);
    assert_ne!(code, 0);
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(
        err.contains("broken.config:1:"),
        "names file, line and column: {err}"
    );

    let (code, err) = run_to_end(&["-sname", "x", "-config", "/nonexistent/nothing"]);
    assert_ne!(code, 0);
    assert!(err.contains("nothing.config"), "{err}");

    // An argument that is not UTF-8: an error, not a panic.
    let mut cmd = std::process::Command::new(DistroNode::BIN);
    cmd.arg("-sname")
        .arg(<std::ffi::OsStr as std::os::unix::ffi::OsStrExt>::from_bytes(b"\xff"))
        .env("HOME", std::env::temp_dir());
    let out = process::run("distro", cmd, T).expect("distro runs");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(err.contains("not valid UTF-8"), "{err}");

    let (code, out) = {
        let o = run_binary(&["--help"]);
        (
            o.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&o.stdout).into_owned(),
        )
    };
    assert_eq!(code, 0);
    assert!(out.contains("-sname") && out.contains("--app"));
}

#[test]
fn the_cookie_file_is_created_like_erl_does() {
    let Some(_otp) = require_otp() else { return };
    let epmd = Epmd::start().unwrap();
    let home = tempfile::tempdir().unwrap();
    let name = unique_node("ck");
    let d = DistroNode::start(
        &epmd,
        DistroOpts::new()
            .args(["-name", &name])
            .env("HOME", home.path()),
    )
    .unwrap();
    d.wait_for_log("distribution started", T).unwrap();
    let path = home.path().join(".erlang.cookie");
    let meta = std::fs::metadata(&path).expect("cookie file created");
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(meta.permissions().mode() & 0o777, 0o400);
    let cookie = std::fs::read_to_string(&path).unwrap();
    assert_eq!(cookie.len(), 20);
    // A BEAM node with that cookie can ping the node.
    let b = BeamNode::start(&epmd, BeamOpts::new("ckb").cookie(&cookie)).unwrap();
    assert_eq!(b.eval(&format!("net_adm:ping('{name}').")).unwrap(), "pong");
}

#[test]
fn garbage_and_a_wrong_cookie_are_refused_and_logged_and_the_node_stays_up() {
    let Some(otp) = require_otp() else { return };
    let epmd = Epmd::start().unwrap();
    let name = unique_node("gd");
    let d = start_distro(&epmd, &name, &[]);
    let alive = name.split('@').next().unwrap();
    let port = epmd.port_of(alive).expect("registered");

    // Garbage on the distribution port.
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.write_all(b"\x00\x05GET / HTTP/1.0\r\n\r\n").unwrap();
    drop(s);
    d.wait_for_log("ERROR", T).expect("garbage is logged");

    // A BEAM node with the wrong cookie.
    let bad = BeamNode::start(
        &epmd,
        BeamOpts::new("bad").cookie("wrong_cookie").otp(otp.clone()),
    )
    .unwrap();
    assert_eq!(
        bad.eval(&format!("net_adm:ping('{name}').")).unwrap(),
        "pang"
    );
    d.wait_for_log("Invalid challenge reply", T)
        .expect("wrong cookie is logged");

    // The node is still up for a well-behaved peer.
    let good = BeamNode::start(&epmd, BeamOpts::new("good").otp(otp)).unwrap();
    assert_eq!(
        good.eval(&format!("net_adm:ping('{name}').")).unwrap(),
        "pong"
    );
}

#[test]
fn a_killed_distro_restarted_at_once_is_let_back_in() {
    let Some(otp) = require_otp() else { return };
    let epmd = Epmd::start().unwrap();
    let name = unique_node("rs");
    let b = BeamNode::start(&epmd, BeamOpts::new("rb").otp(otp)).unwrap();
    let mut d = start_distro(&epmd, &name, &[]);
    assert_eq!(b.eval(&format!("net_adm:ping('{name}').")).unwrap(), "pong");
    d.kill();
    let d2 = start_distro(&epmd, &name, &[]);
    b.eval_until(&format!("net_adm:ping('{name}')."), "pong", T)
        .unwrap();
    assert_eq!(b.eval("nodes().").unwrap(), format!("['{name}']"));
    drop(d2);
}

#[test]
fn init_stop_over_rpc_stops_the_node_cleanly() {
    let Some(otp) = require_otp() else { return };
    let epmd = Epmd::start().unwrap();
    let name = unique_node("st");
    let mut d = start_distro(&epmd, &name, &[]);
    let b = BeamNode::start(&epmd, BeamOpts::new("sb").otp(otp)).unwrap();
    assert_eq!(
        b.eval(&format!("rpc:call('{name}', init, stop, [])."))
            .unwrap(),
        "ok"
    );
    let status = d.wait_exit(T).expect("distro exits after init:stop()");
    assert!(status.success(), "{status:?}");
    let alive = name.split('@').next().unwrap().to_owned();
    epmd.wait_for_name(&alive, false, T)
        .expect("unregistered from EPMD");
}

fn epmd_names(port: u16) -> Option<String> {
    let o = run_binary(&["epmd", "-names", "-port", &port.to_string()]);
    o.status
        .success()
        .then(|| String::from_utf8_lossy(&o.stdout).into_owned())
}

fn epmd_kill(port: u16) {
    run_binary(&["epmd", "-kill", "-port", &port.to_string()]);
}

#[test]
fn when_no_epmd_answers_distro_starts_its_own_that_outlives_the_node() {
    let Some(otp) = require_otp() else { return };
    let port = crate::support::free_port();
    // An EPMD is needed for the harness's bookkeeping only; the node under
    // test is pointed at `port`, where nothing listens yet.
    let harness_epmd = Epmd::start().unwrap();
    let name = unique_node("ep");
    let mut d = DistroNode::start(
        &harness_epmd,
        DistroOpts::new()
            .args(["-name", &name, "-setcookie", DEFAULT_COOKIE])
            .env("ERL_EPMD_PORT", port.to_string())
            // No system epmd on PATH: distro must start its own daemon.
            .env("PATH", "/nonexistent"),
    )
    .unwrap();
    d.wait_for_log("distribution started", T).unwrap();
    let listed = epmd_names(port).expect("our EPMD answers");
    assert!(listed.contains(name.split('@').next().unwrap()), "{listed}");
    // A real erl node registers with it and pings the distro node.
    let b = BeamNode::start_on(port, BeamOpts::new("ep").otp(otp)).unwrap();
    assert_eq!(b.eval(&format!("net_adm:ping('{name}').")).unwrap(), "pong");
    drop(b);
    d.kill();
    // The daemon outlives the node that started it.
    std::thread::sleep(Duration::from_millis(300));
    assert!(
        epmd_names(port).is_some(),
        "EPMD still answers after the node died"
    );
    epmd_kill(port);
    std::thread::sleep(Duration::from_millis(300));
    assert!(epmd_names(port).is_none(), "EPMD stopped by KILL_REQ");
}

#[test]
fn distro_epmd_daemon_serves_real_erl_nodes() {
    let Some(otp) = require_otp() else { return };
    let port = crate::support::free_port();
    assert!(
        run_binary(&["epmd", "-daemon", "-port", &port.to_string()])
            .status
            .success()
    );
    let deadline = std::time::Instant::now() + T;
    while epmd_names(port).is_none() {
        assert!(std::time::Instant::now() < deadline, "daemon answers");
        std::thread::sleep(Duration::from_millis(50));
    }
    let a = BeamNode::start_on(port, BeamOpts::new("da").otp(otp.clone())).unwrap();
    let b = BeamNode::start_on(port, BeamOpts::new("db").otp(otp.clone())).unwrap();
    assert_eq!(
        a.eval(&format!("net_adm:ping({}).", b.atom())).unwrap(),
        "pong"
    );
    let listed = epmd_names(port).expect("our daemon answers NAMES");
    assert!(listed.contains(a.alive_name()), "{listed}");
    drop(a);
    drop(b);
    std::thread::sleep(Duration::from_millis(300));
    epmd_kill(port);
    std::thread::sleep(Duration::from_millis(300));
    assert!(epmd_names(port).is_none());
}

#[test]
fn killing_the_distro_node_gives_noconnection_to_beam_links_and_monitors() {
    let Some(otp) = require_otp() else { return };
    let epmd = Epmd::start().unwrap();
    let name = unique_node("kn");
    let mut d = start_distro(&epmd, &name, &[]);
    let b = BeamNode::start(&epmd, BeamOpts::new("kb").otp(otp)).unwrap();
    // A BEAM process links to and monitors the Rust node's net_kernel.
    b.eval(&format!(
        "process_flag(trap_exit, true), NK = rpc:call('{name}', erlang, whereis, [net_kernel]), \
         true = is_pid(NK), link(NK), MRef = monitor(process, NK), ok."
    ))
    .unwrap();
    b.eval_until(
        "lists:member(NK, element(2, process_info(self(), links))).",
        "true",
        T,
    )
    .unwrap();
    d.kill();
    assert_eq!(
        b.eval("receive {'EXIT', NK, R} -> R after 15000 -> timeout end.")
            .unwrap(),
        "noconnection"
    );
    assert_eq!(
        b.eval("receive {'DOWN', MRef, process, NK, R2} -> R2 after 15000 -> timeout end.")
            .unwrap(),
        "noconnection"
    );
}

/// A process this test did not fork but started (the `-detached` copy):
/// SIGKILLed by PID on drop unless it already exited.
struct DetachedGuard(libc::pid_t);

impl DetachedGuard {
    /// Whether the process still runs (a zombie left for init counts as
    /// gone).
    fn alive(&self) -> bool {
        match std::fs::read_to_string(format!("/proc/{}/stat", self.0)) {
            // "pid (comm) S ...": the state follows the last ')'.
            Ok(stat) => stat
                .rsplit_once(')')
                .is_some_and(|(_, rest)| !rest.trim_start().starts_with('Z')),
            Err(_) => false,
        }
    }
}

impl Drop for DetachedGuard {
    fn drop(&mut self) {
        if self.alive() {
            // SAFETY: kill(2) has no memory-safety preconditions.
            unsafe { libc::kill(self.0, libc::SIGKILL) };
        }
    }
}

#[test]
fn detached_runs_in_the_background_like_erl() {
    let Some(otp) = require_otp() else { return };
    let epmd = Epmd::start().unwrap();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("dn.config"),
        "[{kernel, [{net_ticktime, 20}]}].\n",
    )
    .unwrap();
    let run_in_dir = |args: &[&str]| {
        let mut cmd = std::process::Command::new(DistroNode::BIN);
        let (k, v) = epmd.env();
        cmd.args(args)
            .current_dir(dir.path())
            .env("HOME", dir.path())
            .env(k, v);
        process::run("distro -detached", cmd, T).expect("distro runs")
    };

    // Mistakes are reported before detaching.
    let out = run_in_dir(&["-detached", "-sname", "x", "-config", "missing"]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("missing.config"), "{err}");

    // Returns at once; the node comes up in the background, with the config
    // found relative to the caller's working directory.
    let name = unique_node("dt");
    let out = run_in_dir(&[
        "-detached",
        "-name",
        &name,
        "-setcookie",
        DEFAULT_COOKIE,
        "-config",
        "dn",
    ]);
    assert!(out.status.success(), "{out:?}");
    let b = BeamNode::start(&epmd, BeamOpts::new("db").otp(otp)).unwrap();
    b.eval_until(&format!("net_adm:ping('{name}')."), "pong", T)
        .unwrap();
    let pid: libc::pid_t = b
        .eval(&format!("rpc:call('{name}', os, getpid, [])."))
        .unwrap()
        .trim_matches('"')
        .parse()
        .expect("os:getpid() is a number");
    let guard = DetachedGuard(pid);
    assert!(guard.alive());
    // SAFETY: getsid(2) has no memory-safety preconditions.
    assert_eq!(unsafe { libc::getsid(pid) }, pid, "not in its own session");
    assert_eq!(
        b.eval(&format!(
            "rpc:call('{name}', application, get_env, [kernel, net_ticktime])."
        ))
        .unwrap(),
        "{ok,20}"
    );

    // init:stop() ends it like any node.
    assert_eq!(
        b.eval(&format!("rpc:call('{name}', init, stop, [])."))
            .unwrap(),
        "ok"
    );
    let alive = name.split('@').next().unwrap().to_owned();
    epmd.wait_for_name(&alive, false, T)
        .expect("unregistered from EPMD");
    let t0 = std::time::Instant::now();
    while guard.alive() {
        assert!(t0.elapsed() < T, "the detached node did not exit");
        std::thread::sleep(Duration::from_millis(50));
    }
}
