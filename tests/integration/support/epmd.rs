//! A private EPMD per test.
//!
//! Each test starts its own `epmd -port P` (foreground, not `-daemon`) as a
//! child process on a free port, listening on 127.0.0.1 only, and gives
//! `ERL_EPMD_PORT=P` to every node it starts. Tests therefore never see each
//! other's node names and never touch the machine's default EPMD on 4369.

use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

use super::names::free_port;
use super::otp::{Otp, on_path};
use super::process::{ProcessGuard, TAIL_LINES};

/// `NAMES_REQ` of the EPMD protocol.
const NAMES_REQ: u8 = 110;

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
        let mut last_err = None;
        for _ in 0..5 {
            match Self::try_start(free_port()) {
                Ok(epmd) => return Ok(epmd),
                Err(e) => last_err = Some(e),
            }
        }
        Err(last_err
            .expect("at least one attempt")
            .context("starting a private epmd"))
    }

    fn try_start(port: u16) -> anyhow::Result<Self> {
        let mut cmd = if on_path("epmd") {
            Command::new("epmd")
        } else {
            Otp::from_env().command("epmd")
        };
        cmd.arg("-port")
            .arg(port.to_string())
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

/// Sends `NAMES_REQ` to the EPMD on 127.0.0.1:`port`; returns the port it
/// reports and the text of the answer.
fn names_on(port: u16) -> anyhow::Result<(u32, String)> {
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(2))?;
    stream.set_read_timeout(Some(Duration::from_secs(5)))?;
    // Request: 2-byte big-endian length, then the request byte.
    stream.write_all(&[0, 1, NAMES_REQ])?;
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer)?;
    if answer.len() < 4 {
        bail!("short NAMES answer from port {port}: {answer:?}");
    }
    let reported = u32::from_be_bytes([answer[0], answer[1], answer[2], answer[3]]);
    Ok((reported, String::from_utf8_lossy(&answer[4..]).into_owned()))
}
