//! The `distro` binary as users run it: `erl`-like flags, clear errors,
//! the cookie file, hostile input on the distribution port, restarts, and
//! `init:stop/0` over rpc.

use crate::support::{
    BeamNode, BeamOpts, DEFAULT_COOKIE, DistroNode, DistroOpts, Epmd, require_otp, unique_name,
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

fn run_to_end(args: &[&str]) -> (i32, String) {
    let out = std::process::Command::new(DistroNode::BIN)
        .args(args)
        .env("HOME", std::env::temp_dir())
        .output()
        .expect("distro runs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
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

    let (code, out) = {
        let o = std::process::Command::new(DistroNode::BIN)
            .arg("--help")
            .output()
            .unwrap();
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
    let name = format!("{}@127.0.0.1", unique_name("ck"));
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
    let name = format!("{}@127.0.0.1", unique_name("gd"));
    let d = start_distro(&epmd, &name, &[]);
    let alive = name.split('@').next().unwrap();
    let port = epmd
        .names()
        .unwrap()
        .into_iter()
        .find(|(n, _)| n == alive)
        .expect("registered")
        .1;

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
    let name = format!("{}@127.0.0.1", unique_name("rs"));
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
    let name = format!("{}@127.0.0.1", unique_name("st"));
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
    let o = std::process::Command::new(DistroNode::BIN)
        .args(["epmd", "-names", "-port", &port.to_string()])
        .output()
        .ok()?;
    o.status
        .success()
        .then(|| String::from_utf8_lossy(&o.stdout).into_owned())
}

fn epmd_kill(port: u16) {
    let _ = std::process::Command::new(DistroNode::BIN)
        .args(["epmd", "-kill", "-port", &port.to_string()])
        .output();
}

#[test]
fn when_no_epmd_answers_distro_starts_its_own_that_outlives_the_node() {
    let Some(otp) = require_otp() else { return };
    let port = crate::support::free_port();
    // An EPMD is needed for the harness's bookkeeping only; the node under
    // test is pointed at `port`, where nothing listens yet.
    let harness_epmd = Epmd::start().unwrap();
    let name = format!("{}@127.0.0.1", unique_name("ep"));
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
    let b = BeamNode::start(
        &harness_epmd,
        BeamOpts::new("ep")
            .otp(otp)
            .env("ERL_EPMD_PORT", &port.to_string()),
    )
    .unwrap();
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
    let st = std::process::Command::new(DistroNode::BIN)
        .args(["epmd", "-daemon", "-port", &port.to_string()])
        .status()
        .unwrap();
    assert!(st.success());
    let deadline = std::time::Instant::now() + T;
    while epmd_names(port).is_none() {
        assert!(std::time::Instant::now() < deadline, "daemon answers");
        std::thread::sleep(Duration::from_millis(50));
    }
    // The harness's own EPMD is overridden: these nodes use our daemon.
    let unused = Epmd::start().unwrap();
    let on_port = |label: &str| {
        BeamOpts::new(label)
            .otp(otp.clone())
            .env("ERL_EPMD_PORT", &port.to_string())
    };
    let a = BeamNode::start(&unused, on_port("da")).unwrap();
    let b = BeamNode::start(&unused, on_port("db")).unwrap();
    assert_eq!(
        a.eval(&format!("net_adm:ping({}).", b.atom())).unwrap(),
        "pong"
    );
    // The system epmd binary, as a client, lists them through our server.
    let out = std::process::Command::new("epmd")
        .args(["-port", &port.to_string(), "-names"])
        .output();
    if let Ok(o) = out {
        let text = String::from_utf8_lossy(&o.stdout).into_owned();
        assert!(
            text.contains(a.node_name().split('@').next().unwrap()),
            "{text}"
        );
    }
    drop(a);
    drop(b);
    std::thread::sleep(Duration::from_millis(300));
    epmd_kill(port);
    std::thread::sleep(Duration::from_millis(300));
    assert!(epmd_names(port).is_none());
}
