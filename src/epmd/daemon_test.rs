//! The launcher paths that need no system `epmd`: already running, nothing
//! to start, a launcher that never answers, detaching, port in use.

use super::*;
use crate::epmd::server::serve;
use std::os::unix::fs::PermissionsExt as _;

async fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    listener.local_addr().unwrap().port()
}

fn nothing_to_start() -> EnsureOptions {
    EnsureOptions {
        system_epmd: None,
        own_exe: None,
        probe_timeout: Duration::from_millis(500),
        start_timeout: Duration::from_millis(300),
    }
}

fn script(dir: &Path, name: &str, body: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, format!("#!/bin/sh\n{body}\n")).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    path
}

#[tokio::test]
async fn our_server_counts_as_running() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = tokio::spawn(serve(listener));
    let started = ensure_running_with(port, &nothing_to_start())
        .await
        .unwrap();
    assert_eq!(started, EpmdStarted::AlreadyRunning);
    server.abort();
}

#[tokio::test]
async fn nothing_running_and_nothing_to_start() {
    let port = free_port().await;
    let err = ensure_running_with(port, &nothing_to_start())
        .await
        .unwrap_err();
    assert!(matches!(err, EpmdError::NoLauncher { .. }), "{err}");
}

#[tokio::test]
async fn a_launcher_that_never_answers_times_out() {
    let dir = tempfile::tempdir().unwrap();
    let options = EnsureOptions {
        own_exe: Some(script(dir.path(), "distro", "exit 0")),
        ..nothing_to_start()
    };
    let err = ensure_running_with(free_port().await, &options)
        .await
        .unwrap_err();
    assert!(matches!(err, EpmdError::StartTimeout { .. }), "{err}");
    assert!(err.to_string().contains("NAMES_REQ"), "{err}");
}

#[tokio::test]
async fn a_missing_system_epmd_falls_back_to_our_own() {
    let dir = tempfile::tempdir().unwrap();
    let options = EnsureOptions {
        system_epmd: Some(dir.path().join("no-such-epmd")),
        own_exe: Some(script(dir.path(), "distro", "exit 0")),
        ..nothing_to_start()
    };
    let err = ensure_running_with(free_port().await, &options)
        .await
        .unwrap_err();
    // The fallback ran (and, being a stub, never answered).
    assert!(
        matches!(&err, EpmdError::StartTimeout { program, .. } if program.ends_with("distro")),
        "{err}"
    );
}

#[test]
fn detached_processes_get_their_own_session() {
    let sleep = find_in_path("sleep").expect("sleep on PATH");
    let pid = spawn_detached(&sleep, ["30"]).unwrap();
    let pid = libc::pid_t::try_from(pid).unwrap();
    // SAFETY: getsid and kill only read their integer arguments; `pid` is
    // the child we just started.
    unsafe {
        assert_eq!(libc::getsid(pid), pid, "the child leads a new session");
        assert_ne!(libc::getsid(0), pid);
        assert_eq!(libc::kill(pid, libc::SIGKILL), 0);
    }
}

#[test]
fn own_daemon_arguments() {
    assert_eq!(own_daemon_args(14369), ["epmd", "-port", "14369"]);
}

#[tokio::test]
async fn foreground_server_reports_a_taken_port() {
    let taken = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = taken.local_addr().unwrap().port();
    // Binding 0.0.0.0:port conflicts with the listening 127.0.0.1:port.
    let run = tokio::time::timeout(Duration::from_secs(5), run_foreground(port)).await;
    let err = run.expect("returns at once").unwrap_err();
    assert!(err.is_addr_in_use(), "{err}");
}

#[test]
fn path_lookup() {
    assert!(find_in_path("sh").is_some());
    assert!(find_in_path("surely-not-a-command-xyz").is_none());
}
