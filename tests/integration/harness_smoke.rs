//! Tests of the harness itself, against real processes: a private EPMD, BEAM
//! nodes of the selected OTP release (and the other releases when present),
//! the eval loop's protocol, log capture, signals, and cleanup by PID.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use crate::support::otp::{SUPPORTED, in_ci};
use crate::support::{
    BeamNode, BeamOpts, DistroNode, DistroOpts, Epmd, EvalError, Otp, Stream, free_port,
    require_otp, unique_name,
};

const SHORT: Duration = Duration::from_secs(10);

/// State, parent PID and start time of a process, from `/proc/<pid>/stat`.
fn proc_stat(pid: u32) -> Option<(char, u32, u64)> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // "pid (comm) state ppid ... starttime(22nd field) ..."; comm may hold
    // spaces and parentheses, so split after the last ')'.
    let rest = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let state = fields.first()?.chars().next()?;
    let ppid = fields.get(1)?.parse().ok()?;
    let start = fields.get(19)?.parse().ok()?;
    Some((state, ppid, start))
}

/// The PIDs (and start times) of `pid` and all of its descendants.
fn process_tree(pid: u32) -> Vec<(u32, u64)> {
    let mut all: Vec<(u32, u32, u64)> = Vec::new();
    for entry in std::fs::read_dir("/proc").expect("reading /proc").flatten() {
        let Some(p) = entry.file_name().to_str().and_then(|s| s.parse().ok()) else {
            continue;
        };
        if let Some((_, ppid, start)) = proc_stat(p) {
            all.push((p, ppid, start));
        }
    }
    let mut tree = Vec::new();
    let mut seen = HashSet::new();
    let mut frontier = vec![pid];
    while let Some(p) = frontier.pop() {
        if !seen.insert(p) {
            continue;
        }
        if let Some(&(_, _, start)) = all.iter().find(|&&(q, _, _)| q == p) {
            tree.push((p, start));
        }
        frontier.extend(
            all.iter()
                .filter(|&&(_, ppid, _)| ppid == p)
                .map(|&(q, _, _)| q),
        );
    }
    tree
}

/// The local addresses of TCP sockets listening on `port` (IPv4 and IPv6),
/// from `/proc/net/tcp{,6}`, as the kernel prints them (hex).
fn listeners_on(port: u16) -> Vec<String> {
    let mut out = Vec::new();
    for file in ["/proc/net/tcp", "/proc/net/tcp6"] {
        let Ok(text) = std::fs::read_to_string(file) else {
            continue;
        };
        for line in text.lines().skip(1) {
            let fields: Vec<&str> = line.split_whitespace().collect();
            // fields: sl local_address rem_address st ...; LISTEN is 0A.
            let (Some(local), Some("0A")) = (fields.get(1), fields.get(3).copied()) else {
                continue;
            };
            let Some((addr, p)) = local.split_once(':') else {
                continue;
            };
            if u16::from_str_radix(p, 16) == Ok(port) {
                out.push(addr.to_owned());
            }
        }
    }
    out
}

/// Whether an address from `/proc/net/tcp{,6}` is 127.0.0.1 or ::1.
fn is_loopback_hex(addr: &str) -> bool {
    addr == "0100007F" || addr == "00000000000000000000000001000000"
}

/// Whether the process that had `pid` and `start` time is gone (no such
/// PID, a zombie, or the PID now belongs to a newer process).
fn is_gone(pid: u32, start: u64) -> bool {
    match proc_stat(pid) {
        None => true,
        Some((state, _, now_start)) => state == 'Z' || now_start != start,
    }
}

fn wait_all_gone(procs: &[(u32, u64)]) {
    let deadline = Instant::now() + SHORT;
    while procs.iter().any(|&(p, s)| !is_gone(p, s)) {
        assert!(
            Instant::now() < deadline,
            "processes left behind: {:?}",
            procs
                .iter()
                .filter(|&&(p, s)| !is_gone(p, s))
                .collect::<Vec<_>>()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn start(epmd: &Epmd, otp: &Otp, label: &str) -> BeamNode {
    BeamNode::start(epmd, BeamOpts::new(label).otp(otp.clone())).expect("starting a BEAM node")
}

#[test]
fn unique_names_and_free_ports() {
    let a = unique_name("Same Label");
    let b = unique_name("Same Label");
    assert_ne!(a, b);
    assert!(a.starts_with(&format!("t{}_", std::process::id())), "{a}");
    assert!(a.ends_with("_same_label"), "{a}");
    let port = free_port();
    std::net::TcpListener::bind(("127.0.0.1", port)).expect("a free port is bindable");
}

#[test]
fn epmd_is_private_and_killed_on_drop() {
    let Some(_otp) = require_otp() else { return };
    let epmd = Epmd::start().unwrap();
    assert_ne!(epmd.port(), 4369);
    assert_eq!(epmd.names().unwrap(), vec![]);
    let tree = process_tree(epmd.pid());
    drop(epmd);
    wait_all_gone(&tree);
}

#[test]
fn two_nodes_ping() {
    let Some(otp) = require_otp() else { return };
    let epmd = Epmd::start().unwrap();
    let a = start(&epmd, &otp, "a");
    let b = start(&epmd, &otp, "b");
    assert_eq!(a.release(), otp.number().to_string());
    assert!(a.node_name().ends_with("@127.0.0.1"), "{}", a.node_name());

    let names: Vec<String> = epmd.names().unwrap().into_iter().map(|(n, _)| n).collect();
    for node in [&a, &b] {
        let name = node.node_name().split('@').next().unwrap();
        assert!(names.iter().any(|n| n == name), "{name} not in {names:?}");
    }

    assert_eq!(
        a.eval(&format!("net_adm:ping({}).", b.atom())).unwrap(),
        "pong"
    );
    assert_eq!(b.eval("nodes().").unwrap(), format!("[{}]", a.atom()));
    // EPMD and distribution listen on loopback only.
    let mut ports = epmd.names().unwrap();
    ports.push(("epmd".to_owned(), epmd.port()));
    for (name, port) in ports {
        let listeners = listeners_on(port);
        assert!(!listeners.is_empty(), "{name}: nothing listens on {port}");
        assert!(
            listeners.iter().all(|a| is_loopback_hex(a)),
            "{name}: {listeners:?}"
        );
    }
}

#[test]
fn eval_values_bindings_and_errors() {
    let Some(otp) = require_otp() else { return };
    let epmd = Epmd::start().unwrap();
    let a = start(&epmd, &otp, "eval");

    assert_eq!(a.eval("X = 41.").unwrap(), "41");
    assert_eq!(a.eval("X + 1.").unwrap(), "42");
    assert_eq!(
        a.eval("Y = X * 2, {Y, self() =:= self()}.").unwrap(),
        "{82,true}"
    );

    let err = a.eval("1 / 0.").unwrap_err();
    assert_eq!(err.exception(), Some(("error", "badarith")), "{err}");
    let err = a.eval("throw({oops, \"text\"}).").unwrap_err();
    assert_eq!(err.exception(), Some(("throw", "{oops,\"text\"}")), "{err}");
    let err = a.eval("exit(normal).").unwrap_err();
    assert_eq!(err.exception(), Some(("exit", "normal")), "{err}");
    let err = a.eval("X = 1.").unwrap_err();
    assert_eq!(err.exception(), Some(("error", "{badmatch,1}")), "{err}");
    let err = a.eval("foo(.").unwrap_err();
    let (class, reason) = err.exception().unwrap();
    assert_eq!(class, "error");
    assert!(reason.starts_with("{parse_error,"), "{reason}");
    let err = a.eval("\"unterminated.").unwrap_err();
    assert_eq!(err.exception().unwrap().0, "error", "{err}");

    // One line, no depth limit, whatever the size.
    let long = a.eval("lists:seq(1, 3000).").unwrap();
    let expected: Vec<String> = (1..=3000).map(|i| i.to_string()).collect();
    assert_eq!(long, format!("[{}]", expected.join(",")));
    let deep = a
        .eval("lists:foldl(fun(_, Acc) -> [Acc] end, x, lists:seq(1, 100)).")
        .unwrap();
    assert_eq!(deep, format!("{}x{}", "[".repeat(100), "]".repeat(100)));

    // Unicode in and out; escapes stay escapes; newlines in expr are spaces.
    assert_eq!(a.eval("<<\"héllo\"/utf8>>.").unwrap(), "<<\"héllo\"/utf8>>");
    assert_eq!(a.eval("'☃ snow'.").unwrap(), "'☃ snow'");
    // Beyond Latin-1, lists print as code points (nodes run without `+pc unicode`).
    assert_eq!(a.eval("\"☃\".").unwrap(), "[9731]");
    assert_eq!(a.eval("\"a\\nb\".").unwrap(), "\"a\\nb\"");
    assert_eq!(a.eval("lists:sum(\n[1,\n2]).").unwrap(), "3");
    assert_eq!(a.eval("'Quoted Atom'.").unwrap(), "'Quoted Atom'");

    // Output without a newline before the answer does not hide the answer.
    assert_eq!(a.eval("io:format(\"no newline\"), done.").unwrap(), "done");
    assert!(a.log_contains("no newline"));
}

#[test]
fn eval_timeout_then_late_answer_is_ignored() {
    let Some(otp) = require_otp() else { return };
    let epmd = Epmd::start().unwrap();
    let a = start(&epmd, &otp, "slow");
    let err = a
        .eval_timeout("timer:sleep(1500), late.", Duration::from_millis(200))
        .unwrap_err();
    assert!(err.is_timeout(), "{err}");
    // The late answer to the first request must not be taken for this one.
    assert_eq!(a.eval("now_answer.").unwrap(), "now_answer");
    assert!(a.log_contains("@@R 1 late"));
}

#[test]
fn logs_are_captured_from_both_streams() {
    let Some(otp) = require_otp() else { return };
    let epmd = Epmd::start().unwrap();
    let a = start(&epmd, &otp, "log");
    let marker = unique_name("marker");
    a.eval(&format!(
        "logger:error(\"harness says ~s\", [\"{marker}\"])."
    ))
    .unwrap();
    let line = a
        .wait_for_log(&format!("harness says {marker}"), SHORT)
        .unwrap();
    assert!(line.contains(&marker));
    a.eval(&format!(
        "io:format(standard_error, \"to stderr {marker}~n\", [])."
    ))
    .unwrap();
    a.wait_for_log(&format!("to stderr {marker}"), SHORT)
        .unwrap();
    let lines = a.log().lines();
    let err_line = lines
        .iter()
        .find(|l| l.text.contains(&format!("to stderr {marker}")))
        .unwrap();
    assert_eq!(err_line.stream, Stream::Stderr);
    assert!(
        a.wait_for_log("never printed", Duration::from_millis(200))
            .is_err()
    );
}

#[test]
fn suspend_and_resume_with_sigstop() {
    let Some(otp) = require_otp() else { return };
    let epmd = Epmd::start().unwrap();
    let a = start(&epmd, &otp, "a");
    let b = start(&epmd, &otp, "b");
    assert_eq!(
        a.eval(&format!("net_adm:ping({}).", b.atom())).unwrap(),
        "pong"
    );
    let rpc = format!("rpc:call({}, erlang, node, [], 500).", b.atom());

    b.suspend().unwrap();
    let deadline = Instant::now() + SHORT;
    while proc_stat(b.os_pid()).unwrap().0 != 'T' {
        assert!(Instant::now() < deadline, "beam not stopped by SIGSTOP");
        std::thread::sleep(Duration::from_millis(10));
    }
    assert!(b.is_alive());
    let err = b
        .eval_timeout("ok.", Duration::from_millis(300))
        .unwrap_err();
    assert!(err.is_timeout(), "{err}");
    assert_eq!(a.eval(&rpc).unwrap(), "{badrpc,timeout}");

    b.resume().unwrap();
    assert_eq!(b.eval("resumed.").unwrap(), "resumed");
    // A resumed beam may need a moment to catch up under load.
    a.eval_until(&rpc, &b.atom(), SHORT).unwrap();
}

#[test]
fn kill_stop_and_drop_leave_no_process_behind() {
    let Some(otp) = require_otp() else { return };
    let epmd = Epmd::start().unwrap();

    // kill: SIGKILL by PID, the node and its helper processes go away.
    let a = start(&epmd, &otp, "killed");
    let tree = process_tree(a.os_pid());
    assert!(!tree.is_empty());
    let status = a.kill();
    assert!(!status.success());
    assert!(!a.is_alive());
    wait_all_gone(&tree);
    match a.eval("ok.") {
        Err(EvalError::Exited { .. }) => {}
        other => panic!("eval on a killed node: {other:?}"),
    }

    // stop: init:stop() ends the node normally and unregisters it.
    let b = start(&epmd, &otp, "stopped");
    let name = b.node_name().split('@').next().unwrap().to_owned();
    epmd.wait_for_name(&name, true, SHORT).unwrap();
    let tree = process_tree(b.os_pid());
    assert!(b.stop().unwrap().success());
    epmd.wait_for_name(&name, false, SHORT).unwrap();
    wait_all_gone(&tree);

    // Drop, also of a suspended node.
    let c = start(&epmd, &otp, "dropped");
    c.suspend().unwrap();
    let mut tree = process_tree(c.os_pid());
    drop(c);
    tree.extend(process_tree(epmd.pid()));
    drop(epmd);
    wait_all_gone(&tree);
}

#[test]
fn failed_start_reports_the_node_output() {
    let Some(otp) = require_otp() else { return };
    let epmd = Epmd::start().unwrap();
    let a = start(&epmd, &otp, "taken");
    let name = a.node_name().split('@').next().unwrap();
    let Err(err) = BeamNode::start(&epmd, BeamOpts::new("dup").name(name).otp(otp.clone())) else {
        panic!("a second node named {name} started");
    };
    let msg = format!("{err:#}");
    assert!(msg.contains("starting a BEAM node"), "{msg}");
    assert!(
        msg.contains("in use"),
        "BEAM's own complaint is shown: {msg}"
    );
}

#[test]
fn hidden_node() {
    let Some(otp) = require_otp() else { return };
    let epmd = Epmd::start().unwrap();
    let h = BeamNode::start(&epmd, BeamOpts::new("hidden").hidden().otp(otp.clone())).unwrap();
    let v = start(&epmd, &otp, "visible");
    assert_eq!(
        h.eval(&format!("net_adm:ping({}).", v.atom())).unwrap(),
        "pong"
    );
    assert_eq!(v.eval("nodes().").unwrap(), "[]");
    assert_eq!(v.eval("nodes(hidden).").unwrap(), format!("[{}]", h.atom()));
}

#[test]
fn short_names() {
    let Some(otp) = require_otp() else { return };
    let epmd = Epmd::start().unwrap();
    let opts = |label: &str| BeamOpts::new(label).sname().otp(otp.clone());
    let a = BeamNode::start(&epmd, opts("sa")).unwrap();
    let b = BeamNode::start(&epmd, opts("sb")).unwrap();
    let host = crate::support::beam::short_hostname().unwrap();
    assert!(
        a.node_name().ends_with(&format!("@{host}")),
        "{}",
        a.node_name()
    );
    assert_eq!(
        a.eval(&format!("net_adm:ping({}).", b.atom())).unwrap(),
        "pong"
    );
}

#[test]
fn kernel_args_config_file_and_cookie() {
    let Some(otp) = require_otp() else { return };
    let epmd = Epmd::start().unwrap();
    let dir = otp.shared_dir().unwrap();
    let config = dir
        .write(
            "test.config",
            "[{kernel, [{harness_key, \"from config\"}]}].\n",
        )
        .unwrap();
    let config = config.with_extension(""); // -config takes the name without .config
    let a = BeamNode::start(
        &epmd,
        BeamOpts::new("cfg")
            .otp(otp.clone())
            .kernel("net_ticktime", "4")
            .args(["-config".to_owned(), config.display().to_string()])
            .cookie("other_cookie"),
    )
    .unwrap();
    assert_eq!(a.eval("net_kernel:get_net_ticktime().").unwrap(), "4");
    assert_eq!(
        a.eval("application:get_env(kernel, harness_key).").unwrap(),
        "{ok,\"from config\"}"
    );
    assert_eq!(a.eval("erlang:get_cookie().").unwrap(), "other_cookie");
    // A node with the default cookie cannot connect to it.
    let b = start(&epmd, &otp, "cookie");
    assert_eq!(
        b.eval(&format!("net_adm:ping({}).", a.atom())).unwrap(),
        "pang"
    );
}

/// The selected release talks to every other supported release present here
/// (all of them under CI).
#[test]
fn mixed_release_cluster() {
    let Some(otp) = require_otp() else { return };
    let epmd = Epmd::start().unwrap();
    let mut nodes = vec![start(&epmd, &otp, "main")];
    for release in SUPPORTED.into_iter().filter(|&r| r != otp.number()) {
        let other = Otp::release(release);
        match other.probe() {
            Ok(_) => nodes.push(start(&epmd, &other, &format!("otp{release}"))),
            Err(reason) if in_ci() => panic!("OTP {release} missing under CI: {reason}"),
            Err(reason) => eprintln!("mixed cluster without OTP {release}: {reason}"),
        }
    }
    for peer in &nodes[1..] {
        let pong = nodes[0]
            .eval(&format!("net_adm:ping({}).", peer.atom()))
            .unwrap();
        assert_eq!(pong, "pong", "{} -> {}", nodes[0].release(), peer.release());
    }
}

#[test]
fn distro_node_helper_captures_and_cleans_up() {
    let Some(_otp) = require_otp() else { return };
    let epmd = Epmd::start().unwrap();
    // A stand-in program: the real binary is not a node yet.
    let script = "echo \"epmd=$ERL_EPMD_PORT home=$HOME args=$*\"; echo oops >&2; exec sleep 60";
    let node = DistroNode::start(
        &epmd,
        DistroOpts::new()
            .program("/bin/sh")
            .args(["-c", script, "sh", "-name", "x@127.0.0.1"]),
    )
    .unwrap();
    let line = node
        .wait_for_log(&format!("epmd={}", epmd.port()), SHORT)
        .unwrap();
    assert!(
        line.contains("home=/") && !line.contains("home=/root"),
        "{line}"
    );
    assert!(line.ends_with("args=-name x@127.0.0.1"), "{line}");
    node.wait_for_log("oops", SHORT).unwrap();
    let tree = process_tree(node.pid());
    drop(node);
    wait_all_gone(&tree);

    // terminate: SIGTERM first.
    let trap = "trap 'echo got-term; exit 3' TERM; echo ready; while :; do sleep 0.05; done";
    let mut node = DistroNode::start(
        &epmd,
        DistroOpts::new().program("/bin/sh").args(["-c", trap]),
    )
    .unwrap();
    node.wait_for_log("ready", SHORT).unwrap();
    let status = node.terminate(SHORT);
    assert_eq!(status.code(), Some(3));
    assert!(node.log_contains("got-term"));
}

#[test]
fn distro_binary_is_spawned_and_killed() {
    let Some(_otp) = require_otp() else { return };
    let epmd = Epmd::start().unwrap();
    let mut node = DistroNode::start(&epmd, DistroOpts::new()).unwrap();
    let pid = node.pid();
    let start = proc_stat(pid).map(|(_, _, s)| s);
    node.kill();
    assert!(!node.is_running());
    drop(node);
    if let Some(start) = start {
        wait_all_gone(&[(pid, start)]);
    }
}
