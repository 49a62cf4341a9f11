//! Our EPMD server: a tokio driver around the [`Epmd`] state machine,
//! wire-compatible with OTP's `epmd` (`erts/epmd/src/epmd_srv.c`).
//!
//! ```text
//!   TcpListener ──accept──► one task per connection
//!                              │ read one request frame (bounded, timed)
//!                              ▼
//!                     Epmd::handle_request ──► Outcome
//!                              │
//!        Reply / Close ◄───────┼────────► ReplyAndKeep: wait for the peer to
//!        ReplyAndExit: stop ◄──┘          close, then Epmd::handle_closed
//! ```
//!
//! Robustness: a request frame is at most [`proto::MAX_REQUEST_LEN`] bytes;
//! a connection that sends garbage, an unknown tag, or nothing within
//! [`ServerConfig::packet_timeout`] is closed; nothing a peer sends can
//! panic the server. Registration connections have no timeout: they live as
//! long as their node.

use super::error::EpmdError;
use super::proto::{self, ProtoError};
use super::registry::{ConnId, Epmd, Outcome, Peer};
use std::collections::HashMap;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinSet;

/// How the server behaves; the defaults are epmd's.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// epmd's `-relaxed_command_check`: `KILL_REQ` works even with nodes
    /// registered, and `STOP_REQ` (forced unregistration) is allowed.
    pub relaxed_command_check: bool,
    /// How long a connection may take to send its request (and to take its
    /// reply); epmd's `-packet_timeout`, 60 s by default.
    pub packet_timeout: Duration,
    /// Connections served at once (registrations included); further ones
    /// are closed on accept.
    pub max_connections: usize,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            relaxed_command_check: false,
            packet_timeout: Duration::from_secs(60),
            max_connections: 1024,
        }
    }
}

/// Serves EPMD requests on `listener` with the default [`ServerConfig`]
/// until a `KILL_REQ` is accepted. See [`serve_with`].
pub async fn serve(listener: TcpListener) -> Result<(), EpmdError> {
    serve_with(listener, ServerConfig::default()).await
}

/// Serves EPMD requests on `listener` until a `KILL_REQ` is accepted; then
/// closes every connection (which unregisters every node, as when epmd
/// exits) and returns `Ok(())`.
///
/// The port reported in `NAMES` and `DUMP` replies is the listener's own.
/// Dropping the returned future stops the server the same way.
pub async fn serve_with(listener: TcpListener, config: ServerConfig) -> Result<(), EpmdError> {
    serve_on(vec![listener], config).await
}

/// [`serve_with`] over several listeners (epmd listens on one socket per
/// address: `0.0.0.0` and `::`, or the loopbacks and each `-address`), all
/// on the same port, sharing one registry.
pub async fn serve_on(listeners: Vec<TcpListener>, config: ServerConfig) -> Result<(), EpmdError> {
    let no_addr = SocketAddr::from(([0, 0, 0, 0], 0));
    let first = listeners.first().ok_or_else(|| EpmdError::Listen {
        addr: no_addr,
        source: io::Error::new(io::ErrorKind::AddrNotAvailable, "no address to listen on"),
    })?;
    let local = first.local_addr().map_err(|source| EpmdError::Listen {
        addr: no_addr,
        source,
    })?;
    let (accepted_tx, mut accepted_rx) = mpsc::channel::<(TcpStream, SocketAddr)>(64);
    let mut acceptors = JoinSet::new();
    for listener in listeners {
        let addr = listener.local_addr().unwrap_or(no_addr);
        tracing::info!(%addr, relaxed = config.relaxed_command_check, "EPMD server listening");
        let tx = accepted_tx.clone();
        acceptors.spawn(async move {
            loop {
                match listener.accept().await {
                    Ok(conn) => {
                        if tx.send(conn).await.is_err() {
                            return;
                        }
                    }
                    Err(e) => {
                        // Out of file descriptors and the like: back off briefly.
                        tracing::warn!(error = %e, "accept failed");
                        tokio::time::sleep(Duration::from_millis(100)).await;
                    }
                }
            }
        });
    }
    drop(accepted_tx);
    let shared = Arc::new(Shared {
        state: Mutex::new(State {
            epmd: Epmd::new(local.port(), config.relaxed_command_check),
            stops: HashMap::new(),
        }),
        packet_timeout: config.packet_timeout,
    });
    let (kill_tx, mut kill_rx) = mpsc::channel::<()>(1);
    let mut tasks = JoinSet::new();
    let mut next_conn: ConnId = 0;
    loop {
        tokio::select! {
            _ = kill_rx.recv() => break,
            Some(_) = tasks.join_next(), if !tasks.is_empty() => {}
            Some((stream, peer)) = accepted_rx.recv() => {
                if tasks.len() >= config.max_connections {
                    tracing::warn!(%peer, limit = config.max_connections, "too many connections, closing");
                    continue;
                }
                next_conn += 1;
                let conn = Connection {
                    id: next_conn,
                    stream,
                    peer,
                    shared: Arc::clone(&shared),
                    kill: kill_tx.clone(),
                };
                tasks.spawn(conn.run());
            }
        }
    }
    tracing::info!(port = local.port(), "EPMD server stopping (KILL_REQ)");
    acceptors.shutdown().await;
    tasks.shutdown().await;
    Ok(())
}

struct Shared {
    state: Mutex<State>,
    packet_timeout: Duration,
}

struct State {
    epmd: Epmd,
    /// Registration connections, to close one on `STOP_REQ`.
    stops: HashMap<ConnId, oneshot::Sender<()>>,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        // The state stays consistent even if a holder panicked: every
        // mutation is a single call into `Epmd`.
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

struct Connection {
    id: ConnId,
    stream: TcpStream,
    peer: SocketAddr,
    shared: Arc<Shared>,
    kill: mpsc::Sender<()>,
}

impl Connection {
    async fn run(mut self) {
        let timeout = self.shared.packet_timeout;
        let read = tokio::time::timeout(timeout, read_request(&mut self.stream)).await;
        let request = match read {
            Err(_) => {
                tracing::debug!(peer = %self.peer, "closing: no request within {timeout:?}");
                return;
            }
            Ok(Err(e)) => {
                tracing::debug!(peer = %self.peer, error = %e, "closing: bad request");
                return;
            }
            Ok(Ok(request)) => request,
        };
        tracing::debug!(peer = %self.peer, request = request.kind(), "request");
        let peer = Peer {
            conn: self.id,
            fd: raw_fd(&self.stream).unwrap_or_else(|| i64::try_from(self.id).unwrap_or(-1)),
            local: is_local(&self.stream, self.peer),
        };
        // The stop handle is filed under the same lock as the registration,
        // so a STOP_REQ can never see one without the other.
        let (stop_tx, stop_rx) = oneshot::channel();
        let outcome = {
            let mut state = self.shared.lock();
            let outcome = state.epmd.handle_request(unix_secs(), peer, request);
            if matches!(outcome, Outcome::ReplyAndKeep(_)) {
                state.stops.insert(self.id, stop_tx);
            }
            outcome
        };
        match outcome {
            Outcome::Close => {}
            Outcome::Reply(bytes) => {
                self.reply(&bytes).await;
            }
            Outcome::ReplyAndDrop { reply, stop } => {
                let stopper = self.shared.lock().stops.remove(&stop);
                if let Some(stopper) = stopper {
                    let _ = stopper.send(());
                }
                self.reply(&reply).await;
            }
            Outcome::ReplyAndExit(bytes) => {
                self.reply(&bytes).await;
                let _ = self.kill.try_send(());
            }
            Outcome::ReplyAndKeep(bytes) => {
                if tokio::time::timeout(timeout, self.stream.write_all(&bytes))
                    .await
                    .is_ok_and(|r| r.is_ok())
                {
                    self.hold_registration(stop_rx).await;
                }
                let mut state = self.shared.lock();
                state.stops.remove(&self.id);
                state.epmd.handle_closed(self.id);
            }
        }
    }

    /// Waits until the registration ends: the peer closes, errors, or sends
    /// anything (epmd unregisters on "more than expected"), or `STOP_REQ`.
    async fn hold_registration(&mut self, stop: oneshot::Receiver<()>) {
        let mut buf = [0u8; 64];
        tokio::select! {
            read = self.stream.read(&mut buf) => match read {
                Ok(0) => tracing::debug!(peer = %self.peer, "registration closed"),
                Ok(n) => tracing::warn!(peer = %self.peer, bytes = n, "data on a registration connection, unregistering"),
                Err(e) => tracing::debug!(peer = %self.peer, error = %e, "registration connection failed"),
            },
            _ = stop => tracing::info!(peer = %self.peer, "registration stopped by STOP_REQ"),
        }
    }

    async fn reply(&mut self, bytes: &[u8]) {
        let write = async {
            self.stream.write_all(bytes).await?;
            self.stream.shutdown().await
        };
        if let Err(e) = tokio::time::timeout(self.shared.packet_timeout, write)
            .await
            .unwrap_or_else(|_| Err(io::ErrorKind::TimedOut.into()))
        {
            tracing::debug!(peer = %self.peer, error = %e, "reply not delivered");
        }
    }
}

/// Reads one request frame. Bytes arriving together with it make it
/// garbage, as in epmd, which closes such a connection without replying.
/// Never buffers more than one frame and one read chunk.
async fn read_request(stream: &mut TcpStream) -> Result<proto::Request, ReadError> {
    let mut buf = Vec::with_capacity(64);
    let mut chunk = [0u8; 512];
    loop {
        match proto::parse(&buf) {
            Ok((request, used)) if used == buf.len() => return Ok(request),
            Ok((_, used)) => {
                return Err(ReadError::Surplus {
                    extra: buf.len() - used,
                });
            }
            Err(ProtoError::Incomplete) => {}
            Err(e) => return Err(ReadError::Proto(e)),
        }
        let n = stream.read(&mut chunk).await.map_err(ReadError::Io)?;
        if n == 0 {
            return Err(ReadError::Closed { got: buf.len() });
        }
        buf.extend_from_slice(&chunk[..n]);
    }
}

#[derive(Debug, thiserror::Error)]
enum ReadError {
    #[error("connection closed after {got} bytes of a request")]
    Closed { got: usize },
    #[error("{extra} bytes after the request frame")]
    Surplus { extra: usize },
    #[error(transparent)]
    Io(io::Error),
    #[error(transparent)]
    Proto(ProtoError),
}

/// epmd's `local_peer` test: 127.0.0.0/8 (or ::1), or the very address the
/// connection arrived on.
fn is_local(stream: &TcpStream, peer: SocketAddr) -> bool {
    let peer_ip = canonical(peer.ip());
    peer_ip.is_loopback()
        || stream
            .local_addr()
            .is_ok_and(|local| canonical(local.ip()) == peer_ip)
}

fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        IpAddr::V4(_) => ip,
    }
}

fn unix_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

#[cfg(unix)]
fn raw_fd(stream: &TcpStream) -> Option<i64> {
    use std::os::fd::AsRawFd as _;
    Some(i64::from(stream.as_raw_fd()))
}

#[cfg(not(unix))]
fn raw_fd(_stream: &TcpStream) -> Option<i64> {
    None
}

#[cfg(test)]
#[path = "server_test.rs"]
mod server_test;
