//! Elixir of an OTP release: a Mix project compiled by that release's own
//! `mix`, and `elixir` nodes started from it.
//!
//! Like the release's `erl` ([`Otp::command`]), `elixir` and `mix` run from
//! the host's `PATH` (OTP 25 on Debian bookworm, whose `elixir` package is
//! 1.14) or inside the release's chroot (Debian's `elixir` of trixie and
//! forky, installed there by `scripts/provision.sh`). The project is copied
//! into a [`SharedDir`] and compiled there, so its `.beam` files always come
//! from the sources of this checkout and the Elixir of the node that loads
//! them.
//!
//! `chroot`, the `elixir` script, the `erl` script and `erlexec` each `exec`
//! the next program, so an [`ElixirNode`]'s spawned PID is its `beam.smp`
//! PID; [`ElixirNode::start`] checks that, and kills go to that PID only.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

use super::epmd::Epmd;
use super::otp::{Otp, SharedDir, in_ci};
use super::process::{self, Log, ProcessGuard};

/// How long `mix compile` may take (a fresh Mix on two busy cores).
const COMPILE_TIMEOUT: Duration = Duration::from_secs(300);

/// How long the launcher scripts may take to `exec` the beam.
const EXEC_TIMEOUT: Duration = Duration::from_secs(20);

/// `elixir` or `mix` of `otp`, with the environment of
/// [`Otp::command`] less the developer's Elixir settings, and a UTF-8
/// locale (Elixir warns on a latin1 VM; minimal chroots have no locales but
/// glibc's built-in `C.UTF-8`).
pub(crate) fn elixir_command(otp: &Otp, dir: Option<&Path>, program: &str) -> Command {
    let mut cmd = match dir {
        Some(dir) => otp.command_in(dir, program),
        None => otp.command(program),
    };
    for var in [
        "ELIXIR_ERL_OPTIONS",
        "MIX_ENV",
        "MIX_TARGET",
        "MIX_EXS",
        "MIX_BUILD_PATH",
    ] {
        cmd.env_remove(var);
    }
    cmd.env("LANG", "C.UTF-8").env_remove("LC_ALL");
    cmd
}

/// Checks that `elixir` of `otp` runs on that release; returns its version
/// (e.g. `1.18.3`) or why not.
pub(crate) fn probe_elixir(otp: &Otp) -> Result<String, String> {
    let mut cmd = elixir_command(otp, None, "elixir");
    cmd.args([
        "-e",
        "IO.puts(System.version() <> \" \" <> System.otp_release())",
    ]);
    let what = format!("elixir of {}", otp.describe());
    let out = process::run(&what, cmd, Duration::from_secs(120)).map_err(|e| format!("{e:#}"))?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() {
        return Err(format!(
            "{what} exited with {}: {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    let mut words = stdout.split_whitespace();
    match (words.next(), words.next()) {
        (Some(version), Some(release)) if release == otp.number().to_string() => {
            Ok(version.to_owned())
        }
        _ => Err(format!("{what} printed {stdout:?}")),
    }
}

/// Elixir of `otp` if it is available, like [`super::require_otp`]: under CI
/// (`CI=true`) a missing Elixir **panics**, because interop tests must never
/// skip there; locally it prints `skipping: no Elixir for OTP NN (…)` and
/// returns `None`, and the test should return early. Like `require_otp`, the
/// probe runs once per test process (which tests one release).
pub(crate) fn require_elixir(otp: &Otp) -> Option<String> {
    static PROBED: OnceLock<Result<String, String>> = OnceLock::new();
    match PROBED.get_or_init(|| probe_elixir(otp)) {
        Ok(version) => Some(version.clone()),
        Err(reason) => {
            assert!(
                !in_ci(),
                "Elixir of OTP {} is required under CI but not available: {reason}\n\
                 (run scripts/provision.sh)",
                otp.number()
            );
            let notice = format!(
                "skipping: no Elixir for OTP {} ({reason}); scripts/provision.sh installs it",
                otp.number()
            );
            // On the real stderr (libtest captures `eprintln!` of passing
            // tests), and in the test's own output.
            let _ = writeln!(std::io::stderr().lock(), "{notice}");
            eprintln!("{notice}");
            None
        }
    }
}

/// A Mix project copied into `dir/name` and compiled there with
/// `MIX_ENV=prod mix compile` of `otp` (no network: the project must have no
/// dependencies). Only `mix.exs`, `lib/` and `config/` (if any) are copied.
/// Returns the application's `ebin` **as the release sees it**, for `-pa`.
pub(crate) fn mix_compile(
    otp: &Otp,
    project: &Path,
    dir: &SharedDir,
    name: &str,
) -> anyhow::Result<PathBuf> {
    let host = dir.host_path().join(name);
    let node = dir.node_path().join(name);
    std::fs::create_dir_all(&host).with_context(|| format!("creating {}", host.display()))?;
    std::fs::copy(project.join("mix.exs"), host.join("mix.exs"))
        .with_context(|| format!("copying {}/mix.exs", project.display()))?;
    for sub in ["lib", "config"] {
        if project.join(sub).is_dir() {
            copy_tree(&project.join(sub), &host.join(sub))?;
        }
    }
    // Mix writes to ~/.mix (and ~/.hex would be looked up) and keeps its
    // compile locks in the temp dir: a writable home and temp dir inside the
    // shared directory, never the real ones, all removed with it.
    std::fs::create_dir_all(host.join(".home/.mix"))?;
    std::fs::create_dir_all(host.join(".tmp"))?;
    let mut cmd = elixir_command(otp, Some(&node), "mix");
    cmd.arg("compile")
        .env("MIX_ENV", "prod")
        .env("HOME", node.join(".home"))
        .env("MIX_HOME", node.join(".home/.mix"))
        .env("TMPDIR", node.join(".tmp"));
    let what = format!(
        "mix compile of {} with {}",
        project.display(),
        otp.describe()
    );
    let out = process::run(&what, cmd, COMPILE_TIMEOUT)?;
    if !out.status.success() {
        bail!(
            "{what} exited with {}:\n{}\n{}",
            out.status,
            String::from_utf8_lossy(&out.stdout).trim(),
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    let app = project
        .file_name()
        .context("project directory has no name")?;
    let ebin = Path::new("_build/prod/lib").join(app).join("ebin");
    anyhow::ensure!(
        host.join(&ebin).is_dir(),
        "{what} succeeded but left no {}",
        ebin.display()
    );
    Ok(node.join(ebin))
}

/// Copies the directory tree `from` to `to` (regular files and directories).
fn copy_tree(from: &Path, to: &Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(to).with_context(|| format!("creating {}", to.display()))?;
    for entry in std::fs::read_dir(from).with_context(|| format!("reading {}", from.display()))? {
        let entry = entry?;
        let (src, dst) = (entry.path(), to.join(entry.file_name()));
        if entry.file_type()?.is_dir() {
            copy_tree(&src, &dst)?;
        } else {
            std::fs::copy(&src, &dst).with_context(|| format!("copying {}", src.display()))?;
        }
    }
    Ok(())
}

/// How to start an [`ElixirNode`].
#[derive(Clone, Debug)]
pub(crate) struct ElixirOpts {
    otp: Otp,
    name: String,
    cookie: String,
    erl_args: Vec<String>,
    code_paths: Vec<PathBuf>,
    eval: String,
}

impl ElixirOpts {
    /// `elixir --name <name> --cookie <cookie> --no-halt -e <eval>` of `otp`;
    /// `name` is a full `alive@127.0.0.1` name.
    pub(crate) fn new(otp: Otp, name: &str, cookie: &str, eval: &str) -> Self {
        Self {
            otp,
            name: name.to_owned(),
            cookie: cookie.to_owned(),
            erl_args: vec![],
            code_paths: vec![],
            eval: eval.to_owned(),
        }
    }

    /// Appends `erl` arguments (given through `--erl`, which the `elixir`
    /// script splits at white space: no argument may contain any), e.g.
    /// `["-config", path]` with a path as the release sees it.
    pub(crate) fn erl_args<I, S>(mut self, args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.erl_args.extend(args.into_iter().map(Into::into));
        self
    }

    /// Adds a code path (`-pa`), as the release sees it.
    pub(crate) fn code_path(mut self, path: impl Into<PathBuf>) -> Self {
        self.code_paths.push(path.into());
        self
    }
}

/// A running `elixir` node; killed (SIGKILL, by PID) when dropped.
pub(crate) struct ElixirNode {
    process: ProcessGuard,
    name: String,
}

impl ElixirNode {
    /// Starts the node with `ERL_EPMD_PORT` of `epmd`, listening for
    /// distribution on 127.0.0.1 only and never starting an EPMD itself.
    /// Returns once the launcher scripts have `exec`ed the beam (its boot
    /// and the `-e` code go on in the background: wait for their output
    /// with [`Self::log`]).
    pub(crate) fn start(epmd: &Epmd, opts: ElixirOpts) -> anyhow::Result<Self> {
        let mut erl = vec![
            "-start_epmd".to_owned(),
            "false".to_owned(),
            "-kernel".to_owned(),
            "inet_dist_use_interface".to_owned(),
            "{127,0,0,1}".to_owned(),
        ];
        erl.extend(opts.erl_args.iter().cloned());
        if let Some(bad) = erl
            .iter()
            .find(|a| a.is_empty() || a.contains(char::is_whitespace))
        {
            bail!(
                "{}: erl argument {bad:?} cannot pass through --erl",
                opts.name
            );
        }
        let mut cmd = elixir_command(&opts.otp, None, "elixir");
        cmd.args(["--name", &opts.name, "--cookie", &opts.cookie])
            .args(["--erl", &erl.join(" ")]);
        for path in &opts.code_paths {
            cmd.arg("-pa").arg(path);
        }
        cmd.args(["--no-halt", "-e", &opts.eval]);
        let (key, value) = epmd.env();
        cmd.env(key, value);
        let label = format!("{} [elixir, {}]", opts.name, opts.otp.describe());
        let mut process = ProcessGuard::spawn(label.clone(), cmd)?;
        // chroot -> elixir (sh) -> erl (sh) -> erlexec -> beam.smp, all by
        // exec: our child becomes the beam. Were a launcher to fork instead,
        // killing our child would leave the node running.
        let deadline = Instant::now() + EXEC_TIMEOUT;
        loop {
            if let Some(status) = process.try_wait() {
                bail!(
                    "{label}: exited during start ({status})\n{}",
                    process.tail(40)
                );
            }
            let comm = std::fs::read_to_string(format!("/proc/{}/comm", process.pid()))
                .unwrap_or_default();
            if comm.trim_end() == "beam.smp" {
                break;
            }
            if Instant::now() >= deadline {
                bail!(
                    "{label}: spawned pid {} is still {:?} after {EXEC_TIMEOUT:?}, not \
                     beam.smp; the harness cannot safely kill this node",
                    process.pid(),
                    comm.trim_end()
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Ok(Self {
            process,
            name: opts.name,
        })
    }

    /// The full node name.
    pub(crate) fn node_name(&self) -> &str {
        &self.name
    }

    /// The OS PID of the node's `beam.smp` (also the PID the harness spawned).
    pub(crate) fn os_pid(&self) -> u32 {
        self.process.pid()
    }

    /// The node's captured stdout and stderr.
    pub(crate) fn log(&self) -> &Log {
        self.process.log()
    }

    /// SIGKILLs the beam (by PID) and reaps it.
    pub(crate) fn kill(&mut self) {
        self.process.kill();
    }
}
