//! A private EPMD per test.
//!
//! Each test starts its own `epmd -port P` (foreground, not `-daemon`) as a
//! child process on a free port, listening on 127.0.0.1 only, and gives
//! `ERL_EPMD_PORT=P` to every node it starts. Tests therefore never see each
//! other's node names and never touch the machine's default EPMD on 4369.
//!
//! The harness talks to EPMD with its own tiny client (`NAMES_REQ`,
//! `PORT_PLEASE2_REQ`, `ALIVE2_REQ`, `KILL_REQ`), independent of the crate's
//! EPMD code under test.

use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::process::{Command, ExitStatus};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

use super::names::free_port;
use super::otp::{Otp, on_path};
use super::process::{ProcessGuard, TAIL_LINES};

/// `NAMES_REQ` of the EPMD protocol.
const NAMES_REQ: u8 = 110;
/// `KILL_REQ`.
const KILL_REQ: u8 = 107;
/// `PORT_PLEASE2_REQ`, answered by `PORT2_RESP`.
const PORT_PLEASE2_REQ: u8 = 122;
const PORT2_RESP: u8 = 119;
/// `ALIVE2_REQ`, answered by `ALIVE2_X_RESP` (32-bit creation) or, by old
/// EPMDs, `ALIVE2_RESP` (16-bit creation).
const ALIVE2_REQ: u8 = 120;
const ALIVE2_X_RESP: u8 = 118;
const ALIVE2_RESP: u8 = 121;

/// A running private EPMD; killed (by PID) when dropped.
pub(crate) struct Epmd {
    port: u16,
    process: ProcessGuard,
}

impl Epmd {
    /// Starts `epmd -port P` on a free port and waits until it answers.
    ///
    /// Uses the host's `epmd` if it is on `PATH` (the EPMD protocol is the
    /// same in every supported release), else the `epmd` of the release
    /// selected by `DISTRO_OTP`. Retries on another port if the chosen one
    /// was taken in the meantime.
    pub(crate) fn start() -> anyhow::Result<Self> {
        Self::start_with(None, &[])
    }

    /// Starts the `epmd` of exactly this release (for tests of EPMD itself),
    /// with extra arguments such as `-relaxed_command_check`.
    pub(crate) fn start_release(otp: &Otp, args: &[&str]) -> anyhow::Result<Self> {
        Self::start_with(Some(otp), args)
    }

    fn start_with(otp: Option<&Otp>, args: &[&str]) -> anyhow::Result<Self> {
        let mut last_err = None;
        for _ in 0..5 {
            match Self::try_start(free_port(), otp, args) {
                Ok(epmd) => return Ok(epmd),
                Err(e) => last_err = Some(e),
            }
        }
        Err(last_err
            .expect("at least one attempt")
            .context("starting a private epmd"))
    }

    fn try_start(port: u16, otp: Option<&Otp>, args: &[&str]) -> anyhow::Result<Self> {
        let mut cmd = match otp {
            Some(otp) => otp.command("epmd"),
            None if on_path("epmd") => Command::new("epmd"),
            None => Otp::from_env().command("epmd"),
        };
        cmd.arg("-port")
            .arg(port.to_string())
            .args(args)
            .env("ERL_EPMD_ADDRESS", "127.0.0.1")
            .env("ERL_EPMD_PORT", port.to_string());
        let mut process = ProcessGuard::spawn(format!("epmd:{port}"), cmd)?;
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(status) = process.try_wait() {
                bail!(
                    "epmd on port {port} exited early ({status})\n{}",
                    process.tail(TAIL_LINES)
                );
            }
            // Only our epmd reports its own port in a NAMES answer; a random
            // server that grabbed the port in between would not.
            if let Ok((reported, _)) = names_on(port) {
                if reported == u32::from(port) {
                    return Ok(Self { port, process });
                }
                bail!("port {port} is answered by something that is not our epmd");
            }
            if Instant::now() >= deadline {
                bail!("epmd on port {port} did not answer within 10 s");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The port it listens on (give it to nodes as `ERL_EPMD_PORT`).
    pub(crate) fn port(&self) -> u16 {
        self.port
    }

    /// `127.0.0.1:port`, for EPMD clients.
    pub(crate) fn addr(&self) -> SocketAddr {
        SocketAddr::from((Ipv4Addr::LOCALHOST, self.port))
    }

    /// The OS PID of the epmd process.
    pub(crate) fn pid(&self) -> u32 {
        self.process.pid()
    }

    /// The `ERL_EPMD_PORT` environment entry for processes using this EPMD.
    pub(crate) fn env(&self) -> (&'static str, String) {
        ("ERL_EPMD_PORT", self.port.to_string())
    }

    /// The registered names and their distribution ports, asked with a
    /// `NAMES_REQ`. This is the harness's own tiny client, independent of the
    /// crate's EPMD code under test.
    pub(crate) fn names(&self) -> anyhow::Result<Vec<(String, u16)>> {
        let (_, text) = names_on(self.port)?;
        // Lines look like "name foo at port 12345".
        let mut out = Vec::new();
        for line in text.lines() {
            let mut words = line.split_whitespace();
            if let (Some("name"), Some(name), Some("at"), Some("port"), Some(port)) = (
                words.next(),
                words.next(),
                words.next(),
                words.next(),
                words.next(),
            ) {
                out.push((
                    name.to_owned(),
                    port.parse().context("port in NAMES answer")?,
                ));
            }
        }
        Ok(out)
    }

    /// The distribution port registered for `name` (the part before `@`),
    /// asked with a `PORT_PLEASE2_REQ`; an error if it is not registered.
    pub(crate) fn port_of(&self, name: &str) -> anyhow::Result<u16> {
        port_please_on(self.port, name)?
            .with_context(|| format!("epmd:{}: {name:?} is not registered", self.port))
    }

    /// Registers `name` (the part before `@`) at distribution port
    /// `dist_port` with an `ALIVE2_REQ`, as a normal node speaking
    /// distribution version 6, like a node would: for tests that play a node
    /// by hand (e.g. drive the handshake themselves) or publish a port under
    /// another name. The name stays registered until the returned
    /// [`Registration`] is dropped.
    pub(crate) fn register(&self, name: &str, dist_port: u16) -> anyhow::Result<Registration> {
        alive2_on(self.port, name, dist_port)
    }

    /// Waits up to `timeout` for epmd to exit on its own (e.g. after a
    /// `KILL_REQ`), and returns its exit status.
    pub(crate) fn wait_exit(&mut self, timeout: Duration) -> Option<ExitStatus> {
        self.process.wait_exit(timeout)
    }

    /// Waits up to `timeout` until `name` (the part before `@`) is registered
    /// (`registered == true`) or no longer registered (`false`).
    pub(crate) fn wait_for_name(
        &self,
        name: &str,
        registered: bool,
        timeout: Duration,
    ) -> anyhow::Result<()> {
        let deadline = Instant::now() + timeout;
        loop {
            let names = self.names()?;
            if names.iter().any(|(n, _)| n == name) == registered {
                return Ok(());
            }
            if Instant::now() >= deadline {
                bail!(
                    "epmd:{}: {name:?} still {} after {timeout:?}; names: {names:?}",
                    self.port,
                    if registered {
                        "unregistered"
                    } else {
                        "registered"
                    }
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

/// A name registered by [`Epmd::register`]; dropping it closes the
/// `ALIVE2` connection, which unregisters the name.
pub(crate) struct Registration {
    _stream: TcpStream,
    creation: u32,
}

impl Registration {
    /// The creation EPMD assigned.
    pub(crate) fn creation(&self) -> u32 {
        self.creation
    }
}

// The harness's own tiny EPMD client, independent of the crate's EPMD code
// under test. One request per connection, each framed with a 2-byte
// big-endian length, as in the ERTS "EPMD Protocol" section.

/// Connects to the EPMD on 127.0.0.1:`port` and sends one request.
fn request(port: u16, body: &[u8]) -> anyhow::Result<TcpStream> {
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(2))
        .with_context(|| format!("connecting to epmd on port {port}"))?;
    stream.set_read_timeout(Some(Duration::from_secs(5)))?;
    let len = u16::try_from(body.len()).context("EPMD request too long")?;
    let mut req = len.to_be_bytes().to_vec();
    req.extend_from_slice(body);
    stream.write_all(&req)?;
    Ok(stream)
}

/// Sends one request and reads the answer until EPMD closes the connection.
fn request_to_end(port: u16, body: &[u8]) -> anyhow::Result<Vec<u8>> {
    let mut answer = Vec::new();
    request(port, body)?.read_to_end(&mut answer)?;
    Ok(answer)
}

/// `PORT_PLEASE2_REQ` to the EPMD on 127.0.0.1:`port`: the distribution
/// port of `name`, `None` if it is not registered.
pub(crate) fn port_please_on(port: u16, name: &str) -> anyhow::Result<Option<u16>> {
    let mut body = vec![PORT_PLEASE2_REQ];
    body.extend_from_slice(name.as_bytes());
    match request_to_end(port, &body)?[..] {
        // PORT2_RESP, result 0, PortNo, …
        [PORT2_RESP, 0, hi, lo, ..] => Ok(Some(u16::from_be_bytes([hi, lo]))),
        [PORT2_RESP, _, ..] => Ok(None),
        ref other => bail!("epmd:{port}: unexpected PORT_PLEASE2 answer {other:?}"),
    }
}

/// `ALIVE2_REQ` to the EPMD on 127.0.0.1:`port` (see [`Epmd::register`]).
pub(crate) fn alive2_on(port: u16, name: &str, dist_port: u16) -> anyhow::Result<Registration> {
    let name_len = u16::try_from(name.len()).context("node name too long")?;
    let mut body = vec![ALIVE2_REQ];
    body.extend_from_slice(&dist_port.to_be_bytes());
    body.extend_from_slice(&[77, 0]); // NodeType: normal; Protocol: TCP/IPv4
    body.extend_from_slice(&6u16.to_be_bytes()); // HighestVersion
    body.extend_from_slice(&6u16.to_be_bytes()); // LowestVersion
    body.extend_from_slice(&name_len.to_be_bytes());
    body.extend_from_slice(name.as_bytes());
    body.extend_from_slice(&0u16.to_be_bytes()); // no Extra
    let mut stream = request(port, &body)?;
    let mut head = [0u8; 2];
    stream
        .read_exact(&mut head)
        .with_context(|| format!("epmd:{port}: no ALIVE2 answer for {name:?}"))?;
    let creation = match head {
        [ALIVE2_X_RESP, 0] => {
            let mut c = [0u8; 4];
            stream.read_exact(&mut c)?;
            u32::from_be_bytes(c)
        }
        [ALIVE2_RESP, 0] => {
            let mut c = [0u8; 2];
            stream.read_exact(&mut c)?;
            u32::from(u16::from_be_bytes(c))
        }
        other => bail!("epmd:{port}: ALIVE2 of {name:?} refused: {other:?}"),
    };
    // The connection must stay open (and quiet) for as long as the name is
    // registered; EPMD never writes on it again.
    stream.set_read_timeout(None)?;
    Ok(Registration {
        _stream: stream,
        creation,
    })
}

/// `KILL_REQ` to the EPMD on 127.0.0.1:`port`: whether it answered `OK`
/// (it then exits; a real epmd refuses while names are registered).
pub(crate) fn kill_on(port: u16) -> anyhow::Result<bool> {
    Ok(request_to_end(port, &[KILL_REQ])? == b"OK")
}

/// Sends `NAMES_REQ` to the EPMD on 127.0.0.1:`port`; returns the port it
/// reports and the text of the answer.
fn names_on(port: u16) -> anyhow::Result<(u32, String)> {
    let answer = request_to_end(port, &[NAMES_REQ])?;
    if answer.len() < 4 {
        bail!("short NAMES answer from port {port}: {answer:?}");
    }
    let reported = u32::from_be_bytes([answer[0], answer[1], answer[2], answer[3]]);
    Ok((reported, String::from_utf8_lossy(&answer[4..]).into_owned()))
}
