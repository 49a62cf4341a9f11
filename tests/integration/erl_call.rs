//! `erl_call` (erl_interface of the release under test) against the
//! `distro` binary: `-a` is answered through rex's legacy `{From, {call, M,
//! F, A, user}}` form, `-e` gets a clear `{error, "..."}` (distro runs no
//! Erlang code), `-q` halts the node with status 0 — each compared with what
//! the same erl_call does against a BEAM node.

use crate::support::{
    BeamNode, BeamOpts, DEFAULT_COOKIE, DistroNode, DistroOpts, Epmd, Otp, process, require_otp,
    unique_node,
};
use std::process::Command;
use std::time::Duration;

const T: Duration = Duration::from_secs(60);

fn start_distro(epmd: &Epmd, name: &str) -> DistroNode {
    let args = ["-name", name, "-setcookie", DEFAULT_COOKIE];
    let d = DistroNode::start(epmd, DistroOpts::new().args(args)).expect("distro starts");
    d.wait_for_log("distribution started", T)
        .expect("distro is up");
    d
}

/// `erl_call -n NODE -c COOKIE ARGS...` of `otp`, with `stdin` fed to it:
/// its exit code, stdout and stderr.
fn erl_call(
    otp: &Otp,
    epmd: &Epmd,
    node: &str,
    args: &[&str],
    stdin: &str,
) -> (i32, String, String) {
    let quoted: Vec<String> = args
        .iter()
        .map(|a| format!("'{}'", a.replace('\'', r"'\''")))
        .collect();
    let script = format!(
        "printf '%s' '{}' | {} -n '{node}' -c '{DEFAULT_COOKIE}' {}",
        stdin.replace('\'', r"'\''"),
        otp.shell_command("erl_call"),
        quoted.join(" ")
    );
    let mut cmd = Command::new("sh");
    cmd.arg("-c")
        .arg(script)
        .env("ERL_EPMD_PORT", epmd.port().to_string());
    let out = process::run("erl_call", cmd, T).expect("erl_call runs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).trim().to_owned(),
        String::from_utf8_lossy(&out.stderr).trim().to_owned(),
    )
}

#[test]
fn erl_call_apply_eval_and_halt() {
    let Some(otp) = require_otp() else { return };
    let epmd = Epmd::start().unwrap();
    let name = unique_node("ec");
    let mut d = start_distro(&epmd, &name);
    let beam = BeamNode::start(&epmd, BeamOpts::new("ecb").otp(otp.clone())).unwrap();

    // -a: the same answers as a BEAM node gives. erl_call always names
    // itself c17 and reconnects at once: a close the node has not read yet
    // must not make it answer `alive` (which erl_interface takes as failure).
    for _ in 0..5 {
        let (code, out, err) = erl_call(&otp, &epmd, &name, &["-a", "erlang node"], "");
        assert_eq!(
            (code, out.as_str()),
            (0, format!("'{name}'").as_str()),
            "{err}"
        );
    }
    for apply in [
        "erlang is_alive",
        "nosuch f [a]",
        "erlang system_info [wordsize]",
    ] {
        let (rc, ours, e1) = erl_call(&otp, &epmd, &name, &["-a", apply], "");
        let (brc, theirs, e2) = erl_call(&otp, &epmd, beam.node_name(), &["-a", apply], "");
        assert_eq!(
            (rc, ours.as_str()),
            (brc, theirs.as_str()),
            "-a {apply}: {e1} / {e2}"
        );
    }

    // -e: BEAM evaluates; distro says clearly that it cannot.
    let (code, out, err) = erl_call(&otp, &epmd, beam.node_name(), &["-e"], "1 + 2.\n");
    assert_eq!((code, out.as_str()), (0, "{ok, 3}"), "{err}");
    let (code, out, err) = erl_call(&otp, &epmd, &name, &["-e"], "1 + 2.\n");
    assert_eq!(code, 0, "{err}");
    assert!(
        out.starts_with("{error, \"*** distro runs no Erlang code"),
        "erl_call -e printed {out:?}"
    );
    d.wait_for_log("distro runs no Erlang code", T).unwrap();

    // -q: the node halts with status 0, at once.
    let (code, _, err) = erl_call(&otp, &epmd, &name, &["-q"], "");
    assert_eq!(code, 0, "{err}");
    let status = d.wait_exit(T).expect("distro halts after erl_call -q");
    assert_eq!(status.code(), Some(0));
}
