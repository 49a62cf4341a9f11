//! The project's own binary, `distro`, as a child process of a test.

use std::ffi::OsString;
use std::path::PathBuf;
use std::process::{Command, ExitStatus};
use std::time::Duration;

use anyhow::Context;

use super::epmd::Epmd;
use super::process::{Log, ProcessGuard};

/// How to start a [`DistroNode`]. Build with [`DistroOpts::new`].
#[derive(Clone, Debug, Default)]
pub(crate) struct DistroOpts {
    label: Option<String>,
    program: Option<PathBuf>,
    args: Vec<OsString>,
    env: Vec<(OsString, OsString)>,
}

impl DistroOpts {
    /// Runs the `distro` binary built by Cargo for this test run, with no
    /// arguments.
    pub(crate) fn new() -> Self {
        Self::default()
    }

    /// A label for messages (default: the program name).
    pub(crate) fn label(mut self, label: &str) -> Self {
        self.label = Some(label.to_owned());
        self
    }

    /// Appends arguments, e.g. `["-name", "rust@127.0.0.1", "-setcookie", c]`.
    pub(crate) fn args<I, S>(mut self, args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<OsString>,
    {
        self.args.extend(args.into_iter().map(Into::into));
        self
    }

    /// Sets an environment variable (after the harness's own ones, so it can
    /// override them).
    pub(crate) fn env(mut self, key: impl Into<OsString>, value: impl Into<OsString>) -> Self {
        self.env.push((key.into(), value.into()));
        self
    }

    /// Runs another program instead of `distro`; for tests of the harness
    /// itself.
    pub(crate) fn program(mut self, program: impl Into<PathBuf>) -> Self {
        self.program = Some(program.into());
        self
    }
}

/// A running `distro` process; killed (SIGKILL, by PID) when dropped.
pub(crate) struct DistroNode {
    process: ProcessGuard,
    /// A private, initially empty `HOME` (removed on drop, after the kill).
    _home: tempfile::TempDir,
}

impl DistroNode {
    /// Path of the `distro` binary Cargo built for this test run.
    pub(crate) const BIN: &'static str = env!("CARGO_BIN_EXE_distro");

    /// Starts the process with `ERL_EPMD_PORT` of `epmd`, `HOME` set to a
    /// fresh empty directory (so the developer's `~/.erlang.cookie` is never
    /// read or written; pass `-setcookie`), and `RUST_BACKTRACE=1`.
    pub(crate) fn start(epmd: &Epmd, opts: DistroOpts) -> anyhow::Result<Self> {
        let program = opts.program.unwrap_or_else(|| PathBuf::from(Self::BIN));
        let label = opts.label.unwrap_or_else(|| {
            program
                .file_name()
                .map_or_else(|| "distro".to_owned(), |n| n.to_string_lossy().into_owned())
        });
        let home = tempfile::Builder::new()
            .prefix("distro-home-")
            .tempdir()
            .context("creating a temporary HOME")?;
        let mut cmd = Command::new(&program);
        cmd.args(&opts.args)
            .env("HOME", home.path())
            .env("RUST_BACKTRACE", "1");
        let (key, value) = epmd.env();
        cmd.env(key, value);
        for (k, v) in &opts.env {
            cmd.env(k, v);
        }
        let process = ProcessGuard::spawn(label, cmd)?;
        Ok(Self {
            process,
            _home: home,
        })
    }

    /// The OS PID.
    pub(crate) fn pid(&self) -> u32 {
        self.process.pid()
    }

    /// The captured output.
    pub(crate) fn log(&self) -> &Log {
        self.process.log()
    }

    /// Whether any captured stdout/stderr line contains `needle`.
    pub(crate) fn log_contains(&self, needle: &str) -> bool {
        self.process.log().contains(needle)
    }

    /// Waits up to `timeout` for an output line containing `needle`.
    pub(crate) fn wait_for_log(&self, needle: &str, timeout: Duration) -> anyhow::Result<String> {
        self.process.log().wait_for(needle, timeout)
    }

    /// The process's stdin (e.g. for a CLI that reads commands).
    pub(crate) fn stdin(&mut self) -> Option<&mut std::process::ChildStdin> {
        self.process.stdin()
    }

    /// Whether it is still running.
    pub(crate) fn is_running(&mut self) -> bool {
        self.process.is_running()
    }

    /// Waits up to `timeout` for it to exit on its own.
    pub(crate) fn wait_exit(&mut self, timeout: Duration) -> Option<ExitStatus> {
        self.process.wait_exit(timeout)
    }

    /// Sends a signal, e.g. `libc::SIGSTOP`.
    pub(crate) fn signal(&mut self, signal: libc::c_int) -> anyhow::Result<()> {
        self.process.signal(signal)
    }

    /// SIGKILLs it (by PID) and reaps it.
    pub(crate) fn kill(&mut self) -> ExitStatus {
        self.process.kill()
    }

    /// SIGTERMs it, waits up to `timeout`, then SIGKILLs it if needed.
    pub(crate) fn terminate(&mut self, timeout: Duration) -> ExitStatus {
        self.process.terminate(timeout)
    }
}
