//! The EPMD client: register this node, look peers up, list names.
//!
//! Mirrors `lib/kernel/src/erl_epmd.erl` (`register_node/3`,
//! `port_please/3`, `names/1`).
//!
//! # Why this is built on `erl_dist`
//!
//! The wire work is done by `erl_dist::epmd::EpmdClient` (erl_dist 0.8),
//! over a tokio `TcpStream` adapted with `tokio_util::compat`. It was checked
//! against OTP 25's epmd before being adopted (and `tests/integration/epmd.rs`
//! keeps checking it against OTP 25, 27 and 29):
//!
//! * `register` sends `ALIVE2_REQ` with highest = lowest = 6 and reads both
//!   `ALIVE2_X_RESP` (32-bit creation, what epmd ≥ OTP 23 sends to version-6
//!   nodes) and the old `ALIVE2_RESP`; it hands the connection back, so the
//!   registration lives exactly as long as [`Registration`].
//! * `get_node` parses `PORT2_RESP` field by field (result 1 = not
//!   registered) with exact, 16-bit-bounded reads.
//! * `get_names` skips the 32-bit port and parses `name N at port P` lines.
//!
//! It reads unbuffered, so nothing is lost when the stream is taken back.
//! Two gaps are closed here: it has no timeouts (every exchange here runs
//! under [`REQUEST_TIMEOUT`], like `erl_epmd`'s 10 s), and `get_names`/`dump`
//! read until EOF without a bound (the stream is capped at
//! [`MAX_REPLY_BYTES`]). The server side does not use it: it needs request
//! *parsing*, which lives in [`super::proto`].

use super::error::EpmdError;
use erl_dist::epmd::{EpmdClient, NodeEntry};
use futures::io::{AsyncRead, AsyncWrite};
use std::io;
use std::net::{Ipv4Addr, SocketAddr};
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use std::time::Duration;
use tokio::io::AsyncReadExt as _;
use tokio::net::TcpStream;
use tokio_util::compat::{Compat, TokioAsyncReadCompatExt as _};

/// The port EPMD listens on unless `ERL_EPMD_PORT` says otherwise.
pub const DEFAULT_EPMD_PORT: u16 = 4369;

/// How long one EPMD exchange (connect, request, reply) may take; the
/// timeout `erl_epmd` uses for its replies.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// The most bytes read from one EPMD reply (a `NAMES` reply for a thousand
/// nodes with long names stays far below).
pub const MAX_REPLY_BYTES: usize = 1 << 20;

/// The EPMD port from `ERL_EPMD_PORT`, as `erl` reads it, else 4369.
///
/// An unparsable value is logged and ignored.
pub fn epmd_port_from_env() -> u16 {
    parse_epmd_port(std::env::var("ERL_EPMD_PORT").ok().as_deref())
}

/// The EPMD port a value of `ERL_EPMD_PORT` denotes (`None`: unset).
pub fn parse_epmd_port(value: Option<&str>) -> u16 {
    match value.map(str::trim) {
        None | Some("") => DEFAULT_EPMD_PORT,
        Some(text) => match text.parse::<u16>() {
            Ok(port) if port != 0 => port,
            _ => {
                tracing::warn!(value = text, "ignoring invalid ERL_EPMD_PORT");
                DEFAULT_EPMD_PORT
            }
        },
    }
}

/// This host's EPMD: `127.0.0.1` at [`epmd_port_from_env`].
pub fn local_epmd_addr() -> SocketAddr {
    SocketAddr::from((Ipv4Addr::LOCALHOST, epmd_port_from_env()))
}

/// A live registration with EPMD.
///
/// Holds the `ALIVE2` connection: dropping it (or calling
/// [`Registration::unregister`]) closes the connection, which is how EPMD
/// learns that the node is gone.
#[derive(Debug)]
pub struct Registration {
    stream: TcpStream,
    epmd: SocketAddr,
    name: String,
    listen_port: u16,
    creation: u32,
}

impl Registration {
    /// The creation EPMD assigned; pids, refs and ports of this node, and
    /// the handshake, carry it.
    pub fn creation(&self) -> u32 {
        self.creation
    }

    /// The registered name (without host).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The registered distribution port.
    pub fn listen_port(&self) -> u16 {
        self.listen_port
    }

    /// The EPMD this registration lives in.
    pub fn epmd_addr(&self) -> SocketAddr {
        self.epmd
    }

    /// Resolves when EPMD closes the registration connection (EPMD was
    /// killed or restarted), with the reason as an error. EPMD never writes
    /// on this connection; stray bytes are logged and ignored.
    ///
    /// Cancel safe: use it in `tokio::select!` beside the node's work, then
    /// re-register (or stop) when it fires.
    pub async fn lost(&mut self) -> EpmdError {
        let mut buf = [0u8; 64];
        let reason = loop {
            match self.stream.read(&mut buf).await {
                Ok(0) => break "EPMD closed the connection".to_owned(),
                Ok(n) => {
                    tracing::warn!(name = %self.name, bytes = n, "unexpected data from EPMD");
                }
                Err(e) => break e.to_string(),
            }
        };
        tracing::warn!(name = %self.name, epmd = %self.epmd, %reason, "EPMD registration lost");
        EpmdError::RegistrationLost {
            addr: self.epmd,
            name: self.name.clone(),
            reason,
        }
    }

    /// Unregisters now (same as dropping).
    pub fn unregister(self) {
        tracing::debug!(name = %self.name, "unregistering from EPMD");
    }
}

/// Registers `name` (without `@host`) with the EPMD at `epmd`, announcing
/// `listen_port` for distribution connections, as a normal node (type 77) or
/// a hidden one (type 72).
///
/// Fails with [`EpmdError::NameInUse`] when the name is taken.
pub async fn register(
    epmd: SocketAddr,
    name: &str,
    listen_port: u16,
    hidden: bool,
) -> Result<Registration, EpmdError> {
    validate_name(name)?;
    let entry = if hidden {
        NodeEntry::new_hidden(name, listen_port)
    } else {
        NodeEntry::new(name, listen_port)
    };
    let client = connect(epmd, "ALIVE2_REQ").await?;
    let reply = tokio::time::timeout(REQUEST_TIMEOUT, client.register(entry)).await;
    let (stream, creation) = match reply {
        Err(_) => return Err(timeout(epmd, "ALIVE2_REQ")),
        Ok(Err(erl_dist::epmd::EpmdError::RegisterNodeError { code })) => {
            return Err(EpmdError::NameInUse {
                name: name.to_owned(),
                addr: epmd,
                code,
            });
        }
        Ok(Err(source)) => return Err(request_error(epmd, "ALIVE2_REQ", source)),
        Ok(Ok(done)) => done,
    };
    let creation = creation.get();
    tracing::info!(name, listen_port, creation, %epmd, "registered with EPMD");
    Ok(Registration {
        stream: stream.into_inner().into_inner(),
        epmd,
        name: name.to_owned(),
        listen_port,
        creation,
    })
}

/// Looks `name` (without `@host`) up in the EPMD at `epmd`; `None` if it is
/// not registered there. To reach another host's EPMD use its address with
/// [`epmd_port_from_env`].
pub async fn port_please(epmd: SocketAddr, name: &str) -> Result<Option<NodeEntry>, EpmdError> {
    validate_name(name)?;
    let client = connect(epmd, "PORT_PLEASE2_REQ").await?;
    match tokio::time::timeout(REQUEST_TIMEOUT, client.get_node(name)).await {
        Err(_) => Err(timeout(epmd, "PORT_PLEASE2_REQ")),
        Ok(reply) => reply.map_err(|e| request_error(epmd, "PORT_PLEASE2_REQ", e)),
    }
}

/// The names and ports registered in the EPMD at `epmd`, newest first.
pub async fn names(epmd: SocketAddr) -> Result<Vec<(String, u16)>, EpmdError> {
    names_within(epmd, REQUEST_TIMEOUT).await
}

/// [`names`] with a caller-chosen timeout (used to probe for a running EPMD).
pub(crate) async fn names_within(
    epmd: SocketAddr,
    limit: Duration,
) -> Result<Vec<(String, u16)>, EpmdError> {
    let exchange = async {
        let client = connect(epmd, "NAMES_REQ").await?;
        client
            .get_names()
            .await
            .map_err(|e| request_error(epmd, "NAMES_REQ", e))
    };
    tokio::time::timeout(limit, exchange)
        .await
        .unwrap_or_else(|_| Err(timeout_after(epmd, "NAMES_REQ", limit)))
}

/// Sends `KILL_REQ`: `true` if EPMD answered `OK` and stops, `false` if it
/// refused (`NO`: nodes are registered and it runs without
/// `-relaxed_command_check`).
pub async fn kill(epmd: SocketAddr) -> Result<bool, EpmdError> {
    let client = connect(epmd, "KILL_REQ").await?;
    match tokio::time::timeout(REQUEST_TIMEOUT, client.kill()).await {
        Err(_) => Err(timeout(epmd, "KILL_REQ")),
        Ok(reply) => Ok(reply.map_err(|e| request_error(epmd, "KILL_REQ", e))? == "OK"),
    }
}

/// Sends `STOP_REQ` for `name` (epmd's `-stop`): the answer (`STOPPED`,
/// or `NOEXIST` when no such node is registered), or `None` when EPMD
/// closes without one (it refuses without `-relaxed_command_check`).
pub async fn stop(epmd: SocketAddr, name: &str) -> Result<Option<String>, EpmdError> {
    use tokio::io::AsyncWriteExt as _;
    let io_error = |source| EpmdError::Connect { addr: epmd, source };
    let exchange = async {
        let mut stream = TcpStream::connect(epmd).await.map_err(io_error)?;
        let request = super::proto::Request::Stop {
            name: name.to_owned(),
        };
        stream
            .write_all(&request.encode())
            .await
            .map_err(io_error)?;
        // epmd's answer is 7 bytes; read until it closes, at most a little more.
        let mut answer = Vec::new();
        let mut buf = [0u8; 16];
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => answer.extend_from_slice(&buf[..n]),
            }
            if answer.len() >= 7 {
                break;
            }
        }
        Ok(if answer.len() >= 7 {
            Some(String::from_utf8_lossy(&answer[..7]).into_owned())
        } else {
            None
        })
    };
    tokio::time::timeout(REQUEST_TIMEOUT, exchange)
        .await
        .unwrap_or_else(|_| Err(timeout(epmd, "STOP_REQ")))
}

/// Sends `DUMP_REQ` and returns the text after the 32-bit port: one
/// NUL-terminated line per active and per remembered node.
pub async fn dump(epmd: SocketAddr) -> Result<String, EpmdError> {
    let client = connect(epmd, "DUMP_REQ").await?;
    match tokio::time::timeout(REQUEST_TIMEOUT, client.dump()).await {
        Err(_) => Err(timeout(epmd, "DUMP_REQ")),
        Ok(reply) => reply.map_err(|e| request_error(epmd, "DUMP_REQ", e)),
    }
}

fn validate_name(name: &str) -> Result<(), EpmdError> {
    let reason = if name.is_empty() {
        "empty"
    } else if name.contains('@') {
        "contains '@' (give the name without the host)"
    } else if name.contains('\0') {
        "contains a NUL character"
    } else if name.chars().count() > super::proto::MAX_NAME_CHARS {
        "longer than 255 characters"
    } else {
        return Ok(());
    };
    Err(EpmdError::InvalidName {
        name: name.to_owned(),
        reason,
    })
}

type Stream = Capped<Compat<TcpStream>>;

async fn connect(epmd: SocketAddr, request: &'static str) -> Result<EpmdClient<Stream>, EpmdError> {
    let stream = match tokio::time::timeout(REQUEST_TIMEOUT, TcpStream::connect(epmd)).await {
        Err(_) => return Err(timeout(epmd, request)),
        Ok(Err(source)) => return Err(EpmdError::Connect { addr: epmd, source }),
        Ok(Ok(stream)) => stream,
    };
    // Requests are small and sent in pieces by erl_dist; do not delay them.
    let _ = stream.set_nodelay(true);
    Ok(EpmdClient::new(Capped {
        inner: stream.compat(),
        left: MAX_REPLY_BYTES,
    }))
}

fn timeout(addr: SocketAddr, request: &'static str) -> EpmdError {
    timeout_after(addr, request, REQUEST_TIMEOUT)
}

fn timeout_after(addr: SocketAddr, request: &'static str, limit: Duration) -> EpmdError {
    EpmdError::Timeout {
        addr,
        request,
        timeout: limit,
    }
}

fn request_error(
    addr: SocketAddr,
    request: &'static str,
    source: erl_dist::epmd::EpmdError,
) -> EpmdError {
    EpmdError::Request {
        addr,
        request,
        source,
    }
}

/// A stream that fails reads past a byte budget, so a misbehaving EPMD
/// cannot make `get_names`/`dump` buffer without bound.
#[derive(Debug)]
struct Capped<T> {
    inner: T,
    left: usize,
}

impl<T> Capped<T> {
    fn into_inner(self) -> T {
        self.inner
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for Capped<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        if buf.is_empty() {
            return Poll::Ready(Ok(0));
        }
        if self.left == 0 {
            // Budget spent: only a clean EOF is still acceptable.
            let mut probe = [0u8; 1];
            let n = ready!(Pin::new(&mut self.inner).poll_read(cx, &mut probe))?;
            return Poll::Ready(if n == 0 {
                Ok(0)
            } else {
                Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!("EPMD reply longer than {MAX_REPLY_BYTES} bytes"),
                ))
            });
        }
        let max = buf.len().min(self.left);
        let n = ready!(Pin::new(&mut self.inner).poll_read(cx, &mut buf[..max]))?;
        self.left -= n;
        Poll::Ready(Ok(n))
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for Capped<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_close(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_close(cx)
    }
}

#[cfg(test)]
#[path = "client_test.rs"]
mod client_test;
