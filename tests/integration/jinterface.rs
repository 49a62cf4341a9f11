//! jinterface, the Java library of the release under test (Debian's
//! `erlang-jinterface`; for the chroot releases `scripts/provision.sh`
//! unpacks its jar into the chroot), against a Rust node: ping, rpc (the
//! legacy `{From, {call, M, F, A, user}}` form rex serves as `rpc.erl`
//! does), a send to a registered name, and a link that sees the Rust
//! process exit. The host's Java 17 runs it.

use crate::support::rust_node::RustNode;
use crate::support::{DEFAULT_COOKIE, Epmd, Otp, process, require_otp, unique_name};
use distro::term;
use distro::term::{TermExt, atom};
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

const JAVA_SOURCE: &str = include_str!("support/JInterop.java");

/// `OtpErlang.jar` of `otp`: `lib/jinterface-*/priv/OtpErlang.jar` under its
/// root (the chroot's, or the host's `/usr/lib/erlang`).
pub(crate) fn jinterface_jar(otp: &Otp) -> Option<PathBuf> {
    let root = otp
        .chroot_dir()
        .map_or_else(|| PathBuf::from("/"), PathBuf::from)
        .join("usr/lib/erlang/lib");
    std::fs::read_dir(root)
        .ok()?
        .filter_map(Result::ok)
        .filter(|e| e.file_name().to_string_lossy().starts_with("jinterface-"))
        .map(|e| e.path().join("priv/OtpErlang.jar"))
        .find(|p| p.is_file())
}

/// The jar and `java`, or `None` (a skip locally, a failure under CI).
fn require_jinterface(otp: &Otp) -> Option<PathBuf> {
    let jar = jinterface_jar(otp);
    let java = crate::support::otp::on_path("java");
    match (jar, java) {
        (Some(jar), true) => Some(jar),
        (jar, java) => {
            let why = format!(
                "jinterface of {} ({}) and java ({}) are needed; scripts/provision.sh installs them",
                otp.describe(),
                if jar.is_some() { "found" } else { "missing" },
                if java { "found" } else { "missing" }
            );
            assert!(!crate::support::otp::in_ci(), "{why}");
            eprintln!("skipping: {why}");
            None
        }
    }
}

#[test]
fn jinterface_pings_calls_sends_and_links() {
    let Some(otp) = require_otp() else { return };
    let Some(jar) = require_jinterface(&otp) else {
        return;
    };
    let epmd = Epmd::start().unwrap();
    let rust = RustNode::start(&epmd, "jr");
    {
        let _guard = rust.rt.enter();
        // `echo`: {From, Msg} -> From ! {echo, Msg}.
        rust.node.spawn(|mut p| async move {
            p.register("echo").unwrap();
            loop {
                let m = p.recv().await;
                if let Some(from) = m.elem(0).and_then(TermExt::as_pid) {
                    let reply = term!({echo, (m.elem(1).cloned().unwrap_or(m.clone()))});
                    p.send(from, reply);
                }
            }
        });
        // `linkme`: exits with `bye` when told `die`.
        rust.node.spawn(|mut p| async move {
            p.register("linkme").unwrap();
            p.receive(|m| m.as_atom() == Some("die")).await;
            atom("bye")
        });
    }
    let dir = tempfile::tempdir().unwrap();
    let source = dir.path().join("JInterop.java");
    std::fs::write(&source, JAVA_SOURCE).unwrap();
    let me = format!("{}@127.0.0.1", unique_name("java"));
    let mut cmd = Command::new("java");
    cmd.arg("-cp")
        .arg(&jar)
        .arg(&source)
        .args([rust.name(), DEFAULT_COOKIE, &me])
        .env("ERL_EPMD_PORT", epmd.port().to_string());
    let out = process::run("java JInterop", cmd, Duration::from_secs(180)).unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{}\n{stdout}\n{stderr}", out.status);
    let line = |key: &str| {
        stdout
            .lines()
            .find_map(|l| l.strip_prefix(&format!("{key} ")))
            .unwrap_or_else(|| panic!("no `{key}` line in:\n{stdout}\n{stderr}"))
            .to_owned()
    };
    assert_eq!(line("ping"), "true");
    assert_eq!(line("rpc_node"), format!("'{}'", rust.name()));
    assert_eq!(line("rpc_wordsize"), "8");
    assert_eq!(
        line("rpc_undef"),
        "{badrpc,{'EXIT',{undef,[{nosuch,f,[a],[]}]}}}"
    );
    assert_eq!(line("echo"), "{echo,hello}");
    assert_eq!(line("link_exit"), "bye true");
}
