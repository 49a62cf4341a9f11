//! Running EPMD as a process: our server in the foreground, detached as a
//! daemon, and [`ensure_running`], which makes sure some EPMD answers before
//! a node registers, as `erl` does (`erts/etc/common/erlexec.c` starts
//! `epmd -daemon` unless `-start_epmd false`).
//!
//! # Wiring into the `distro` command line
//!
//! The CLI owns argument parsing; it should map epmd's own options to these
//! functions (`N` defaults to [`epmd_port_from_env`], as epmd's does):
//!
//! | command line | call |
//! |---|---|
//! | `distro epmd [-port N]` | [`run_foreground`]`(N)` on a tokio runtime; exit 0 when it returns `Ok` (a `KILL_REQ`); if the error [`EpmdError::is_addr_in_use`], another EPMD already serves the port: exit 0 like epmd |
//! | `distro epmd -relaxed_command_check …` | [`run_foreground_with`] with [`ServerConfig::relaxed_command_check`] |
//! | `distro epmd -address IP,…` | [`run_foreground_on`] |
//! | `distro epmd -daemon …` | [`daemonize_self_with`] (before starting any runtime), then exit 0 |
//!
//! [`daemonize_self`] re-runs the current executable as `<exe> epmd -port N`
//! in a new session with stdin, stdout and stderr on `/dev/null`, so the
//! child outlives its parent and its terminal, like `epmd -daemon`.
//!
//! [`epmd_port_from_env`]: super::epmd_port_from_env

use super::client::names_within;
use super::error::EpmdError;
use super::server::{ServerConfig, serve_on};
use std::ffi::{OsStr, OsString};
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;
use tokio::net::TcpListener;

impl EpmdError {
    /// Whether this is a failure to listen because the port is taken,
    /// which for an EPMD server means "another EPMD is already running".
    pub fn is_addr_in_use(&self) -> bool {
        matches!(self, Self::Listen { source, .. } if source.kind() == io::ErrorKind::AddrInUse)
    }
}

/// Runs our EPMD server on `port` of every interface, IPv4 and IPv6 (like
/// epmd: `0.0.0.0` and `::`), until a `KILL_REQ` stops it. Registration,
/// `DUMP` and `KILL` are only served to local peers; remote hosts may look
/// names up.
pub async fn run_foreground(port: u16) -> Result<(), EpmdError> {
    run_foreground_with(port, ServerConfig::default()).await
}

/// [`run_foreground`] with explicit server options.
pub async fn run_foreground_with(port: u16, config: ServerConfig) -> Result<(), EpmdError> {
    run_foreground_on(port, &[], config).await
}

/// [`run_foreground_with`] on the addresses epmd's `-address` list gives
/// (see [`listen_addresses`]).
pub async fn run_foreground_on(
    port: u16,
    addresses: &[IpAddr],
    config: ServerConfig,
) -> Result<(), EpmdError> {
    let mut listeners = Vec::new();
    for ip in listen_addresses(addresses) {
        let addr = SocketAddr::new(ip, port);
        match bind(addr) {
            Ok(l) => listeners.push(l),
            // No IPv6 (or IPv4) on this host: epmd skips the family.
            Err(e)
                if matches!(
                    e.raw_os_error(),
                    Some(libc::EAFNOSUPPORT | libc::EADDRNOTAVAIL)
                ) && ip.is_unspecified() =>
            {
                tracing::debug!(%addr, error = %e, "address family not available, skipped");
            }
            Err(source) => return Err(EpmdError::Listen { addr, source }),
        }
    }
    serve_on(listeners, config).await
}

/// Where epmd listens (`erts/epmd/src/epmd_srv.c` `run/1`): without an
/// `-address` list on `0.0.0.0` and `::`; with one, always on the
/// loopbacks `127.0.0.1` and `::1`, then on each other address given.
pub fn listen_addresses(addresses: &[IpAddr]) -> Vec<IpAddr> {
    if addresses.is_empty() {
        return vec![Ipv4Addr::UNSPECIFIED.into(), Ipv6Addr::UNSPECIFIED.into()];
    }
    let mut out: Vec<IpAddr> = vec![Ipv4Addr::LOCALHOST.into(), Ipv6Addr::LOCALHOST.into()];
    for ip in addresses {
        if !ip.is_loopback() && !out.contains(ip) {
            out.push(*ip);
        }
    }
    out
}

/// One listening socket as epmd opens it: `SO_REUSEADDR`, and IPv6 sockets
/// `IPV6_V6ONLY` (the IPv4 socket takes IPv4).
fn bind(addr: SocketAddr) -> io::Result<TcpListener> {
    let socket = match addr {
        SocketAddr::V4(_) => tokio::net::TcpSocket::new_v4()?,
        SocketAddr::V6(_) => {
            let s = tokio::net::TcpSocket::new_v6()?;
            set_v6only(&s)?;
            s
        }
    };
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(1024)
}

fn set_v6only(socket: &tokio::net::TcpSocket) -> io::Result<()> {
    use std::os::fd::AsRawFd as _;
    let on: libc::c_int = 1;
    // SAFETY: a valid socket descriptor and a c_int option of the size passed.
    let r = unsafe {
        libc::setsockopt(
            socket.as_raw_fd(),
            libc::IPPROTO_IPV6,
            libc::IPV6_V6ONLY,
            (&raw const on).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    if r == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// Starts `program args…` detached: in a new session (`setsid`), working
/// directory `/`, stdin/stdout/stderr on `/dev/null`. It survives the exit
/// of this process and of its terminal. Returns its pid.
///
/// While this process lives, a small thread waits for the child so that it
/// never lingers as a zombie; after this process exits, init adopts it.
pub fn spawn_detached<I, S>(program: &Path, args: I) -> io::Result<u32>
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    spawn_detached_in(Path::new("/"), &[], program, args)
}

/// [`spawn_detached`] with working directory `dir` (`distro -detached`
/// keeps the caller's, so relative `-config` paths still resolve) and the
/// extra environment variables `env`.
pub fn spawn_detached_in<I, S>(
    dir: &Path,
    env: &[(&str, &str)],
    program: &Path,
    args: I,
) -> io::Result<u32>
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    use std::os::unix::process::CommandExt as _;
    let mut command = Command::new(program);
    command
        .args(args)
        .envs(env.iter().copied())
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    // SAFETY: the closure runs in the forked child before exec and only
    // calls setsid(2), which is async-signal-safe; it touches no memory
    // shared with the parent.
    unsafe {
        command.pre_exec(|| {
            if libc::setsid() == -1 {
                return Err(io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let mut child = command.spawn()?;
    let pid = child.id();
    tracing::info!(program = %program.display(), pid, "started detached process");
    let reaper = std::thread::Builder::new()
        .name(format!("reap-{pid}"))
        .spawn(move || {
            let status = child.wait();
            tracing::debug!(pid, ?status, "detached process exited");
        });
    if let Err(e) = reaper {
        tracing::warn!(pid, error = %e, "no thread to reap the detached process");
    }
    Ok(pid)
}

/// The arguments that make the `distro` binary run our EPMD server in the
/// foreground on `port`: `epmd -port N`.
pub fn own_daemon_args(port: u16) -> [OsString; 3] {
    ["epmd".into(), "-port".into(), port.to_string().into()]
}

/// Starts `exe epmd -port N` detached (see [`spawn_detached`]); `exe` is the
/// `distro` binary. Returns the daemon's pid.
pub fn spawn_own_daemon(exe: &Path, port: u16) -> io::Result<u32> {
    spawn_detached(exe, own_daemon_args(port))
}

/// `distro epmd -daemon`: re-runs the current executable as a detached
/// `epmd -port N`. Returns the daemon's pid; the caller then exits.
pub fn daemonize_self(port: u16) -> io::Result<u32> {
    spawn_own_daemon(&std::env::current_exe()?, port)
}

/// `distro epmd -daemon ARGS...`: re-runs the current executable detached
/// as `epmd ARGS...` (`-daemon` left out), so that every server option
/// (`-port`, `-address`, `-relaxed_command_check`) reaches the daemon.
pub fn daemonize_self_with(args: &[String]) -> io::Result<u32> {
    let args =
        std::iter::once("epmd").chain(args.iter().map(String::as_str).filter(|a| *a != "-daemon"));
    spawn_detached(&std::env::current_exe()?, args)
}

/// What [`ensure_running`] found or did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EpmdStarted {
    /// An EPMD already answered.
    AlreadyRunning,
    /// The system `epmd` was started with `-daemon` (it detaches itself; its
    /// pid is not known).
    SystemEpmd {
        /// The `epmd` executable.
        program: PathBuf,
    },
    /// Our own server was started detached from the `distro` executable.
    OwnDaemon {
        /// The executable, run as `exe epmd -port N`.
        exe: PathBuf,
        /// The daemon's pid.
        pid: u32,
    },
}

/// Where [`ensure_running_with`] looks for an EPMD to start, and how long it
/// waits.
#[derive(Debug, Clone)]
pub struct EnsureOptions {
    /// The system `epmd`, run as `epmd -daemon -port N`; `None` skips it.
    pub system_epmd: Option<PathBuf>,
    /// The `distro` executable, run detached as `exe epmd -port N` when
    /// there is no system `epmd` (or it cannot be run); `None` skips it.
    pub own_exe: Option<PathBuf>,
    /// How long one probe (`NAMES_REQ`) may take.
    pub probe_timeout: Duration,
    /// How long a started EPMD may take to answer.
    pub start_timeout: Duration,
}

impl EnsureOptions {
    /// `epmd` from `PATH` and the current executable, 1 s probes, 10 s to
    /// start.
    pub fn from_environment() -> Self {
        Self {
            system_epmd: find_in_path("epmd"),
            own_exe: std::env::current_exe().ok(),
            probe_timeout: Duration::from_secs(1),
            start_timeout: Duration::from_secs(10),
        }
    }
}

/// Makes sure an EPMD answers on `127.0.0.1:port`, starting one that
/// outlives this process if none does. See [`ensure_running_with`].
pub async fn ensure_running(port: u16) -> Result<EpmdStarted, EpmdError> {
    ensure_running_with(port, &EnsureOptions::from_environment()).await
}

/// Makes sure an EPMD answers `NAMES_REQ` on `127.0.0.1:port`.
///
/// If none does, starts the system `epmd -daemon -port N` (like `erl`) or,
/// failing that, our own server detached from `options.own_exe`, then polls
/// until it answers or `options.start_timeout` passes
/// ([`EpmdError::StartTimeout`]). Two nodes racing here are fine: the second
/// EPMD finds the port taken and exits, and both see the first answer.
pub async fn ensure_running_with(
    port: u16,
    options: &EnsureOptions,
) -> Result<EpmdStarted, EpmdError> {
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    if names_within(addr, options.probe_timeout).await.is_ok() {
        tracing::debug!(%addr, "EPMD already running");
        return Ok(EpmdStarted::AlreadyRunning);
    }
    let mut last_spawn_error = None;
    if let Some(epmd) = &options.system_epmd {
        match run_system_epmd_daemon(epmd, port).await {
            Ok(()) => {
                wait_until_answering(addr, epmd, options).await?;
                return Ok(EpmdStarted::SystemEpmd {
                    program: epmd.clone(),
                });
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot run the system epmd, trying our own");
                last_spawn_error = Some(e);
            }
        }
    }
    if let Some(exe) = &options.own_exe {
        let pid = spawn_own_daemon(exe, port).map_err(|source| EpmdError::Spawn {
            program: exe.clone(),
            source,
        })?;
        wait_until_answering(addr, exe, options).await?;
        return Ok(EpmdStarted::OwnDaemon {
            exe: exe.clone(),
            pid,
        });
    }
    Err(last_spawn_error.unwrap_or_else(|| EpmdError::NoLauncher {
        port,
        reason: "no `epmd` on PATH and no executable of our own to run".into(),
    }))
}

/// `epmd -daemon -port N`: epmd forks, the child detaches, the parent exits
/// at once.
async fn run_system_epmd_daemon(epmd: &Path, port: u16) -> Result<(), EpmdError> {
    let spawn_error = |source| EpmdError::Spawn {
        program: epmd.to_owned(),
        source,
    };
    let mut child = tokio::process::Command::new(epmd)
        .args(["-daemon", "-port", &port.to_string()])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .map_err(spawn_error)?;
    let status = tokio::time::timeout(Duration::from_secs(10), child.wait())
        .await
        .map_err(|_| spawn_error(io::ErrorKind::TimedOut.into()))?
        .map_err(spawn_error)?;
    if !status.success() {
        return Err(spawn_error(io::Error::other(format!(
            "`{} -daemon` exited with {status}",
            epmd.display()
        ))));
    }
    tracing::info!(epmd = %epmd.display(), port, "started the system epmd");
    Ok(())
}

async fn wait_until_answering(
    addr: SocketAddr,
    program: &Path,
    options: &EnsureOptions,
) -> Result<(), EpmdError> {
    let deadline = tokio::time::Instant::now() + options.start_timeout;
    loop {
        if names_within(addr, options.probe_timeout).await.is_ok() {
            return Ok(());
        }
        if tokio::time::Instant::now() >= deadline {
            return Err(EpmdError::StartTimeout {
                program: program.to_owned(),
                addr,
                waited: options.start_timeout,
            });
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The first executable file called `name` in the directories of `PATH`.
pub fn find_in_path(name: &str) -> Option<PathBuf> {
    use std::os::unix::fs::PermissionsExt as _;
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|candidate| {
            std::fs::metadata(candidate)
                .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        })
}

#[cfg(test)]
#[path = "daemon_test.rs"]
mod daemon_test;
