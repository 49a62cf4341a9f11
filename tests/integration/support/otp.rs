//! Which OTP release a test runs against, and how to start its programs.
//!
//! `DISTRO_OTP` selects the release (25, the default, 27 or 29). A release is
//! found in one of two places, checked in this order:
//!
//! 1. a chroot at `$DISTRO_OTP_ROOT/otpNN` (default root `/opt/distro-otp`)
//!    holding `/usr/bin/erl`; programs run as `chroot <dir> /usr/bin/erl …`
//!    (this needs root, and `/proc` and `/dev` bind-mounted into the chroot,
//!    see `scripts/provision.sh`);
//! 2. the host's `erl` on `PATH`, if its release is NN.
//!
//! [`require_otp`] probes the selected release once per test process. When it
//! is missing, tests fail under CI (`CI=true`) and are skipped locally.

use std::ffi::OsStr;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::Duration;

use anyhow::Context;

/// The OTP releases the project supports and tests against.
pub(crate) const SUPPORTED: [u32; 3] = [25, 27, 29];

/// The release used when `DISTRO_OTP` is not set.
pub(crate) const DEFAULT_RELEASE: u32 = 25;

const DEFAULT_ROOT: &str = "/opt/distro-otp";

/// Where a release's programs live.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Location {
    /// On the host's `PATH`.
    Host,
    /// Inside this chroot directory.
    Chroot(PathBuf),
}

/// One OTP release and where to run it from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Otp {
    release: u32,
    location: Location,
}

impl Otp {
    /// The release selected by `DISTRO_OTP` (default 25).
    ///
    /// # Panics
    ///
    /// If `DISTRO_OTP` is set to anything but a supported release: a typo
    /// there must not silently test another release.
    pub(crate) fn from_env() -> Self {
        let release = match std::env::var("DISTRO_OTP") {
            Err(_) => DEFAULT_RELEASE,
            Ok(v) if v.trim().is_empty() => DEFAULT_RELEASE,
            Ok(v) => match v.trim().parse::<u32>() {
                Ok(r) if SUPPORTED.contains(&r) => r,
                _ => panic!("DISTRO_OTP={v:?} is not one of the supported releases {SUPPORTED:?}"),
            },
        };
        Self::release(release)
    }

    /// Release `release`, located as described in the module docs (the
    /// chroot if its directory has `/usr/bin/erl`, else the host).
    pub(crate) fn release(release: u32) -> Self {
        let dir = otp_root().join(format!("otp{release}"));
        let location = if dir.join("usr/bin/erl").exists() {
            Location::Chroot(dir)
        } else {
            Location::Host
        };
        Self { release, location }
    }

    /// The release number (25, 27, 29).
    pub(crate) fn number(&self) -> u32 {
        self.release
    }

    /// The chroot directory, if this release runs in one.
    pub(crate) fn chroot_dir(&self) -> Option<&Path> {
        match &self.location {
            Location::Host => None,
            Location::Chroot(dir) => Some(dir),
        }
    }

    /// A human-readable description, e.g. `OTP 27 (chroot /opt/distro-otp/otp27)`.
    pub(crate) fn describe(&self) -> String {
        match &self.location {
            Location::Host => format!("OTP {} (host erl)", self.release),
            Location::Chroot(dir) => format!("OTP {} (chroot {})", self.release, dir.display()),
        }
    }

    /// A command running `erl` of this release.
    ///
    /// For a chroot release this is `chroot <dir> /usr/bin/erl`; `chroot`,
    /// the `erl` script and `erlexec` each `exec` the next program, so the
    /// spawned PID *is* the `beam.smp` PID. The environment is inherited
    /// (that is how `ERL_EPMD_PORT` reaches chroot'd nodes), except that
    /// `ERL_FLAGS`/`ERL_AFLAGS`/`ERL_ZFLAGS`/`ERL_LIBS` from the developer's
    /// shell are removed and crash dumps are disabled.
    pub(crate) fn erl_command(&self) -> Command {
        self.command("erl")
    }

    /// A command running `program` (`erl`, `escript`, `epmd`, `erlc`, …) of
    /// this release, with the same environment rules as [`Self::erl_command`].
    pub(crate) fn command(&self, program: &str) -> Command {
        let cmd = match &self.location {
            Location::Host => Command::new(program),
            Location::Chroot(dir) => {
                let mut cmd = Command::new("chroot");
                cmd.arg(dir).arg(Path::new("/usr/bin").join(program));
                cmd
            }
        };
        Self::clean_env(cmd)
    }

    /// [`Self::command`] run in the working directory `dir`, a path **as
    /// the release sees it** (e.g. [`SharedDir::node_path`]): `chroot`
    /// always starts in the new root, so a chroot release gets
    /// `chroot <dir> /usr/bin/env -C <dir> /usr/bin/<program>`.
    pub(crate) fn command_in(&self, dir: &Path, program: &str) -> Command {
        match &self.location {
            Location::Host => {
                let mut cmd = self.command(program);
                cmd.current_dir(dir);
                cmd
            }
            Location::Chroot(root) => {
                let mut cmd = Command::new("chroot");
                cmd.arg(root)
                    .arg("/usr/bin/env")
                    .arg("-C")
                    .arg(dir)
                    .arg(Path::new("/usr/bin").join(program));
                Self::clean_env(cmd)
            }
        }
    }

    fn clean_env(mut cmd: Command) -> Command {
        for var in ["ERL_FLAGS", "ERL_AFLAGS", "ERL_ZFLAGS", "ERL_LIBS"] {
            cmd.env_remove(var);
        }
        // Never leave erl_crash.dump files in the working directory.
        cmd.env("ERL_CRASH_DUMP_SECONDS", "0");
        cmd
    }

    /// A `/bin/sh` command (without arguments) that runs `program` of this
    /// release, for scripts: `'epmd'`, or
    /// `chroot '/opt/distro-otp/otp27' '/usr/bin/epmd'`. Unlike
    /// [`Self::command`] it leaves the environment alone.
    pub(crate) fn shell_command(&self, program: &str) -> String {
        match &self.location {
            Location::Host => shell_quote(program),
            Location::Chroot(dir) => format!(
                "chroot {} {}",
                shell_quote(&dir.to_string_lossy()),
                shell_quote(&format!("/usr/bin/{program}"))
            ),
        }
    }

    /// Checks that this release actually runs and is the expected release.
    /// Returns its full version (e.g. `27.3.4`) or a reason why not.
    pub(crate) fn probe(&self) -> Result<String, String> {
        self.probe_inner().map_err(|reason| match self.location {
            Location::Chroot(_) => reason,
            Location::Host => format!(
                "{reason}; no chroot at {}",
                otp_root().join(format!("otp{}", self.release)).display()
            ),
        })
    }

    fn probe_inner(&self) -> Result<String, String> {
        let mut cmd = self.erl_command();
        cmd.args([
            "-noshell",
            "-eval",
            "{ok, V} = file:read_file(filename:join([code:root_dir(), \"releases\", \
             erlang:system_info(otp_release), \"OTP_VERSION\"])), \
             io:format(\"~s ~s~n\", [erlang:system_info(otp_release), string:trim(V)]), \
             halt().",
        ]);
        let out = super::process::run(&self.describe(), cmd, Duration::from_secs(60))
            .map_err(|e| format!("{e:#}"))?;
        let stdout = String::from_utf8_lossy(&out.stdout);
        let stderr = String::from_utf8_lossy(&out.stderr);
        if !out.status.success() {
            return Err(format!(
                "{} exited with {}: {}",
                self.describe(),
                out.status,
                stderr.trim()
            ));
        }
        let mut words = stdout.split_whitespace();
        let (Some(release), Some(version)) = (words.next(), words.next()) else {
            return Err(format!("{} printed {stdout:?}", self.describe()));
        };
        if release != self.release.to_string() {
            return Err(format!(
                "{} is release {release}, not {}",
                self.describe(),
                self.release
            ));
        }
        Ok(version.to_owned())
    }

    /// A fresh temporary directory that nodes of this release can read and
    /// write, e.g. for `-config` files. For a chroot release it is created
    /// under `<chroot>/tmp`, so its path as seen by the node differs from the
    /// host path.
    pub(crate) fn shared_dir(&self) -> anyhow::Result<SharedDir> {
        let (dir, node_base) = match &self.location {
            Location::Host => (tempfile::tempdir()?, None),
            Location::Chroot(root) => (
                tempfile::Builder::new()
                    .prefix("distro-test-")
                    .tempdir_in(root.join("tmp"))
                    .with_context(|| format!("creating a temp dir in {}/tmp", root.display()))?,
                Some(PathBuf::from("/tmp")),
            ),
        };
        let node_path = match node_base {
            None => dir.path().to_owned(),
            Some(base) => base.join(dir.path().file_name().expect("temp dir has a name")),
        };
        Ok(SharedDir { dir, node_path })
    }
}

/// A temporary directory visible both to the test (host path) and to BEAM
/// nodes of one release (node path; differs for chroot releases). Removed on
/// drop.
pub(crate) struct SharedDir {
    dir: tempfile::TempDir,
    node_path: PathBuf,
}

impl SharedDir {
    /// The directory as the test process sees it.
    pub(crate) fn host_path(&self) -> &Path {
        self.dir.path()
    }

    /// The directory as a BEAM node of the release sees it.
    pub(crate) fn node_path(&self) -> &Path {
        &self.node_path
    }

    /// Writes `contents` to file `name` in the directory and returns the
    /// file's path **as the node sees it** (ready to pass to `-config`).
    pub(crate) fn write(&self, name: &str, contents: impl AsRef<[u8]>) -> anyhow::Result<PathBuf> {
        let host = self.dir.path().join(name);
        std::fs::write(&host, contents).with_context(|| format!("writing {}", host.display()))?;
        Ok(self.node_path.join(name))
    }
}

/// The selected release if it is available.
///
/// When it is not: under CI (`CI` set and not `false`/`0`) this **panics**
/// with the reason, because interop tests must never skip silently there;
/// locally it prints `skipping: OTP NN not available (…)` to stderr and
/// returns `None`, and the test should return early:
///
/// ```ignore
/// let Some(otp) = require_otp() else { return };
/// ```
///
/// The probe runs once per test process.
pub(crate) fn require_otp() -> Option<Otp> {
    static PROBED: OnceLock<Result<Otp, String>> = OnceLock::new();
    let result = PROBED.get_or_init(|| {
        let otp = Otp::from_env();
        otp.probe().map(|_| otp)
    });
    match result {
        Ok(otp) => Some(otp.clone()),
        Err(reason) => {
            let release = Otp::from_env().number();
            if in_ci() {
                panic!(
                    "OTP {release} is required under CI but not available: {reason}\n\
                     (run scripts/provision.sh; set DISTRO_OTP_ROOT if the chroots live elsewhere)"
                );
            }
            let notice = format!("skipping: OTP {release} not available ({reason})");
            // Once per process on the real stderr (libtest captures
            // `eprintln!` of passing tests), and in each test's own output.
            static NOTICE: OnceLock<()> = OnceLock::new();
            NOTICE.get_or_init(|| {
                let _ = writeln!(std::io::stderr().lock(), "{notice}");
            });
            eprintln!("{notice}");
            None
        }
    }
}

/// Whether we run under CI: `CI` is set to something other than `false`/`0`.
pub(crate) fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "false" && v != "0")
}

fn otp_root() -> PathBuf {
    std::env::var_os("DISTRO_OTP_ROOT")
        .filter(|v| !v.is_empty())
        .map_or_else(|| PathBuf::from(DEFAULT_ROOT), PathBuf::from)
}

/// Writes an executable `/bin/sh` script with `body` to `path` and returns
/// `path`: a stand-in for a program path that code under test runs (e.g.
/// [`Otp::shell_command`] behind `exec`, for `EnsureOptions::system_epmd`).
pub(crate) fn write_script(path: &Path, body: &str) -> anyhow::Result<PathBuf> {
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::write(path, format!("#!/bin/sh\n{body}\n"))
        .with_context(|| format!("writing {}", path.display()))?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755))
        .with_context(|| format!("making {} executable", path.display()))?;
    Ok(path.to_owned())
}

/// `text` in single quotes for `/bin/sh`.
fn shell_quote(text: &str) -> String {
    format!("'{}'", text.replace('\'', r"'\''"))
}

/// Whether `program` is an executable file in a directory of `PATH`.
pub(crate) fn on_path(program: impl AsRef<OsStr>) -> bool {
    let Some(path) = std::env::var_os("PATH") else {
        return false;
    };
    std::env::split_paths(&path).any(|dir| dir.join(program.as_ref()).is_file())
}
