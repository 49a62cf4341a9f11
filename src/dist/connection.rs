//! The tokio driver of one distribution connection: dial (EPMD lookup,
//! TCP connect) or accept, over TLS when the node runs `inet_tls`
//! ([`TlsDist`]), run the [`Handshake`] state machine,
//! then move bytes: a writer that batches queued control messages into one
//! write and sends ticks, and a reader that reassembles packets and hands
//! control messages to the [`Host`] (the node) in arrival order. TCP and
//! TLS connections share this one path; only the stream differs.
//!
//! The writer never waits on the socket with its tick timer stopped: a
//! write the peer does not drain is a pending future beside the timer, so
//! a peer that stops reading is still timed out when it also stops
//! sending, ticks go out whenever nothing else did, and what the writer
//! has taken from the [`queue`](super::queue) is released (waking senders
//! held by the busy limit) only once it is on the socket.
//!
//! Mirrors the connection half of `dist_util.erl` (`con_loop/2`,
//! `send_tick/2`), `inet_tcp_dist.erl` and `inet_tls_dist.erl`. All
//! decisions that need the node's connection table (simultaneous connects,
//! `alive`) are delegated to the [`Host`], which mirrors `net_kernel`'s
//! `accept_pending`.

use super::DFlags;
use super::control::Control;
use super::frame::{
    Defragmenter, FrameError, FrameReader, FrameWriter, Packet, encode_control_vectored, io_slices,
};
use super::handshake::{
    self, AcceptPending, Established, Event, Framing, Handshake, HandshakeError,
};
use super::queue::{QueueRx, Queued};
use super::tls::TlsDist;
use crate::term::{Limits, Term, atom};
use std::io::IoSlice;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;

/// What the driver needs from the node that owns the connection table.
pub trait Host: Send + Sync + 'static {
    /// net_kernel's `accept_pending` for an incoming attempt `attempt` from `peer`.
    fn accept_pending(&self, peer: &str, attempt: u64) -> AcceptPending;
    /// net_kernel's `accept_pending` for an incoming attempt `attempt` from
    /// a node on `host` that asks for a dynamic name: the node name and
    /// creation it gets (registered as pending), or `None` to refuse.
    fn name_me(&self, host: &str, attempt: u64) -> Option<(String, u32)>;
    /// net_kernel's `is_pending`: is outgoing attempt `attempt` still the pending one?
    fn is_pending(&self, peer: &str, attempt: u64) -> bool;
    /// Close the old connection to `peer`, which `attempt` replaces (the `alive` path).
    fn wait_pending(&self, peer: &str, attempt: u64);
    /// The handshake of `attempt` succeeded. Returns the queue of messages to
    /// send, or `None` if this attempt no longer owns the connection.
    fn connection_up(&self, attempt: u64, est: &Established, running: Running) -> Option<QueueRx>;
    /// The attempt failed before the connection came up.
    fn attempt_failed(&self, peer: &str, attempt: u64, nok: bool);
    /// The connection `id` to `peer` is down.
    fn connection_down(&self, peer: &str, id: u64, reason: Term);
    /// A control message arrived from `peer`.
    fn deliver(&self, peer: &crate::term::Atom, ctrl: Control);
    /// Control messages that arrived from `peer` together (one read), in
    /// order; `ctrls` is left empty. A host may handle them in one go (one
    /// lock of its table instead of one per message).
    fn deliver_all(&self, peer: &crate::term::Atom, ctrls: &mut Vec<Control>) {
        for c in ctrls.drain(..) {
            self.deliver(peer, c);
        }
    }
    /// Where `node` listens (an EPMD lookup).
    fn resolve(
        &self,
        node: &str,
    ) -> futures::future::BoxFuture<'static, std::io::Result<std::net::SocketAddr>>;
}

/// Per-node settings of the driver.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Our full node name.
    pub this_node: String,
    /// The cookie.
    pub cookie: String,
    /// Flags we advertise.
    pub flags: DFlags,
    /// Our creation.
    pub creation: u32,
    /// `net_ticktime / net_tickintensity`.
    pub tick_interval: Duration,
    /// `net_tickintensity`: silent tick periods before the peer is declared dead.
    pub tick_intensity: u32,
    /// `net_setuptime`.
    pub setup_timeout: Duration,
    /// Decoding limits for received terms.
    pub limits: Limits,
    /// `-proto_dist inet_tls`: every connection runs over TLS.
    pub tls: Option<Arc<TlsDist>>,
    /// Largest message accepted from a peer, as one frame or as the
    /// fragments of unfinished messages together; more closes the
    /// connection.
    pub max_message_size: usize,
}

impl Settings {
    fn handshake_config(&self) -> handshake::Config {
        handshake::Config {
            this_node: self.this_node.clone(),
            flags: self.flags,
            creation: self.creation,
            cookie: self.cookie.clone(),
        }
    }
}

/// Why an attempt ended without a connection.
#[derive(Debug, thiserror::Error)]
enum SetupError {
    #[error("{0}")]
    Handshake(#[from] HandshakeError),
    #[error("{0}")]
    Io(#[from] std::io::Error),
    #[error("connection closed during the handshake")]
    Closed,
    /// The TLS handshake failed (certificates, versions, a closed socket).
    #[error("{0}")]
    Tls(std::io::Error),
    /// Our TLS listener got something else than a TLS handshake.
    #[error("not a TLS handshake (a plain TCP distribution node? it needs -proto_dist inet_tls)")]
    NotTls,
    /// TLS records where TCP distribution messages were expected.
    #[error("the peer speaks TLS (-proto_dist inet_tls) but this node runs inet_tcp distribution")]
    PeerSpeaksTls,
}

/// A connection whose handshake is done.
enum Conn {
    Tcp(TcpStream),
    Tls(Box<tokio_rustls::TlsStream<TcpStream>>),
}

/// Dials `peer` and runs the connection until it is down.
pub async fn connect<H: Host>(host: Arc<H>, settings: Arc<Settings>, peer: String, attempt: u64) {
    let cfg = settings.handshake_config();
    if let Err(e) = cfg.validate() {
        tracing::error!("** cannot connect to {peer}: {e} **");
        host.attempt_failed(&peer, attempt, false);
        return;
    }
    // Set while the TLS handshake runs: a timeout then means the peer
    // never answered it (a TCP node reads a ClientHello as a long message).
    let in_tls = std::sync::atomic::AtomicBool::new(false);
    let setup = async {
        let addr = host.resolve(&peer).await?;
        let stream = super::transport::dial(addr).await?;
        let challenge = rand::random::<u32>();
        match &settings.tls {
            None => {
                let hs = Handshake::initiator(cfg, &peer, challenge);
                let (s, est, left) =
                    drive_handshake(&*host, stream, hs, attempt, Some(&peer), Framing::Packet2)
                        .await?;
                Ok((Conn::Tcp(s), est, left))
            }
            Some(tls) => {
                let peer_host = peer.split_once('@').map_or("", |(_, h)| h);
                in_tls.store(true, Ordering::Relaxed);
                let s = tls
                    .connect(peer_host, stream)
                    .await
                    .map_err(SetupError::Tls)?;
                in_tls.store(false, Ordering::Relaxed);
                let hs = Handshake::initiator_framed(cfg, &peer, challenge, Framing::Packet4);
                let (s, est, left) =
                    drive_handshake(&*host, s, hs, attempt, Some(&peer), Framing::Packet4).await?;
                Ok((Conn::Tls(Box::new(s.into())), est, left))
            }
        }
    };
    match tokio::time::timeout(settings.setup_timeout, setup).await {
        Ok(Ok((conn, est, leftover))) => {
            run_conn(host, settings, conn, est, leftover, attempt).await
        }
        Ok(Err(SetupError::Handshake(HandshakeError::Nok { .. }))) => {
            tracing::debug!(peer, "simultaneous connect: the other attempt wins");
            // Wait for the peer's own attempt to take over the pending entry.
            tokio::time::sleep(settings.setup_timeout).await;
            host.attempt_failed(&peer, attempt, true);
        }
        Ok(Err(e)) => {
            log_setup_error(&peer, false, &e);
            host.attempt_failed(&peer, attempt, false);
        }
        Err(_) if in_tls.load(Ordering::Relaxed) => {
            tracing::error!(
                "** TLS distribution connection to {peer} failed: no answer to the TLS handshake within {:?} (does it run -proto_dist inet_tls?) **",
                settings.setup_timeout
            );
            host.attempt_failed(&peer, attempt, false);
        }
        Err(_) => {
            tracing::debug!(peer, "connection setup timed out");
            host.attempt_failed(&peer, attempt, false);
        }
    }
}

/// Runs an accepted connection until it is down.
pub async fn accept<H: Host>(
    host: Arc<H>,
    settings: Arc<Settings>,
    stream: TcpStream,
    attempt: u64,
) {
    let _ = stream.set_nodelay(true);
    let from = stream
        .peer_addr()
        .map_or_else(|_| "an unknown address".to_owned(), |a| a.to_string());
    let cfg = settings.handshake_config();
    let challenge = rand::random::<u32>();
    let setup = async {
        match &settings.tls {
            None => {
                let hs = Handshake::acceptor(cfg, challenge);
                let (s, est, left) =
                    drive_handshake(&*host, stream, hs, attempt, None, Framing::Packet2).await?;
                Ok((Conn::Tcp(s), est, left))
            }
            Some(tls) => {
                // A TLS client opens with a handshake record; a TCP
                // distribution node with the 2-byte length of its name.
                let mut first = [0u8; 1];
                if stream.peek(&mut first).await? == 0 {
                    return Err(SetupError::Closed);
                }
                if first[0] != 0x16 {
                    return Err(SetupError::NotTls);
                }
                let s = tls.accept(stream).await.map_err(SetupError::Tls)?;
                let hs = Handshake::acceptor_framed(cfg, challenge, Framing::Packet4);
                let (s, est, left) =
                    drive_handshake(&*host, s, hs, attempt, None, Framing::Packet4).await?;
                Ok((Conn::Tls(Box::new(s.into())), est, left))
            }
        }
    };
    match tokio::time::timeout(settings.setup_timeout, setup).await {
        Ok(Ok((conn, est, leftover))) => {
            run_conn(host, settings, conn, est, leftover, attempt).await
        }
        Ok(Err(e)) => {
            log_setup_error(&from, true, &e);
        }
        Err(_) => tracing::debug!("incoming connection setup timed out"),
    }
}

fn log_setup_error(peer: &str, incoming: bool, e: &SetupError) {
    match e {
        SetupError::Handshake(h) if h.is_benign() => {
            tracing::debug!(peer, "connection setup ended: {h}")
        }
        // Refusals with a peer name (cookie, flags) read as dist_util's;
        // garbage from an unnamed peer gets its address.
        SetupError::Handshake(h) if h.peer().is_some() => tracing::error!("** {h} **"),
        SetupError::Handshake(h) if incoming => {
            tracing::error!("** Connection attempt from {peer} refused: {h} **")
        }
        SetupError::Handshake(h) => {
            tracing::error!("** Connection attempt to {peer} failed: {h} **")
        }
        SetupError::Tls(e) if incoming => {
            tracing::error!("** TLS distribution connection attempt from {peer} refused: {e} **")
        }
        SetupError::Tls(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => tracing::error!(
            "** TLS distribution connection to {peer} failed: the peer closed the connection in the TLS handshake (does it run -proto_dist inet_tls?) **"
        ),
        SetupError::Tls(e) => {
            tracing::error!("** TLS distribution connection to {peer} failed: {e} **")
        }
        SetupError::NotTls => {
            tracing::error!("** TLS distribution connection attempt from {peer} refused: {e} **")
        }
        SetupError::PeerSpeaksTls if incoming => {
            tracing::error!("** Connection attempt from {peer} refused: {e} **")
        }
        SetupError::PeerSpeaksTls => {
            tracing::error!("** Connection attempt to {peer} failed: {e} **")
        }
        _ if incoming => tracing::debug!("incoming connection attempt failed: {e}"),
        _ => tracing::debug!(peer, "connection attempt failed: {e}"),
    }
}

async fn drive_handshake<H: Host, S: AsyncRead + AsyncWrite + Unpin>(
    host: &H,
    mut stream: S,
    mut hs: Handshake,
    attempt: u64,
    dialled: Option<&str>,
    framing: Framing,
) -> Result<(S, Established, Vec<u8>), SetupError> {
    let mut buf = vec![0u8; 4096];
    let mut peer_name: Option<String> = dialled.map(str::to_owned);
    let mut first_read = true;
    loop {
        let mut established = None;
        let mut failure = None;
        while let Some(ev) = hs.poll_event() {
            match ev {
                Event::Send(bytes) => {
                    stream.write_all(&bytes).await?;
                    stream.flush().await?;
                }
                Event::AcceptPending { peer, .. } => {
                    let answer = host.accept_pending(&peer, attempt);
                    peer_name = Some(peer);
                    if let Err(e) = hs.handle_accept_pending(answer) {
                        failure = Some(e);
                    }
                }
                Event::NameMe {
                    host: peer_host, ..
                } => {
                    let assigned = host.name_me(&peer_host, attempt);
                    if let Some((node, _)) = &assigned {
                        peer_name = Some(node.clone());
                    }
                    let assigned = assigned.as_ref().map(|(n, c)| (n.as_str(), *c));
                    if let Err(e) = hs.handle_name_me(assigned) {
                        failure = Some(e);
                    }
                }
                Event::IsPending => {
                    let p = peer_name.as_deref().unwrap_or_default();
                    if let Err(e) = hs.handle_is_pending(host.is_pending(p, attempt)) {
                        failure = Some(e);
                    }
                }
                Event::WaitPending => {
                    host.wait_pending(peer_name.as_deref().unwrap_or_default(), attempt);
                    if let Err(e) = hs.handle_wait_pending_done() {
                        failure = Some(e);
                    }
                }
                Event::Established(est) => established = Some(est),
            }
        }
        if let Some(e) = failure {
            if let Some(p) = &peer_name {
                if dialled.is_none() {
                    host.attempt_failed(p, attempt, false);
                }
            }
            return Err(e.into());
        }
        if let Some(est) = established {
            return Ok((stream, est, hs.into_leftover()));
        }
        let n = stream.read(&mut buf).await?;
        if n == 0 {
            if let (Some(p), None) = (&peer_name, dialled) {
                host.attempt_failed(p, attempt, false);
            }
            return Err(SetupError::Closed);
        }
        if first_read && framing == Framing::Packet2 && super::tls::looks_like_tls(&buf[..n]) {
            return Err(SetupError::PeerSpeaksTls);
        }
        first_read = false;
        if let Err(e) = hs.handle_data(&buf[..n]) {
            // Flush what the machine wants to say (e.g. a status) before closing.
            while let Some(Event::Send(bytes)) = hs.poll_event() {
                let _ = stream.write_all(&bytes).await;
                let _ = stream.flush().await;
            }
            if let (Some(p), None) = (&peer_name, dialled) {
                host.attempt_failed(p, attempt, false);
            }
            return Err(e.into());
        }
    }
}

/// What the connection table keeps of a connection that is up.
#[derive(Debug)]
pub struct Running {
    /// The writer task (it ends by itself once the table drops the sender
    /// of its queue and the queue is written).
    pub writer: tokio::task::AbortHandle,
    /// The reader task.
    pub reader: tokio::task::AbortHandle,
    /// A duplicate of the socket's descriptor: shutting it down closes the
    /// connection at once, before the tasks have been stopped, as
    /// `erlang:disconnect_node/1` closes it before any nodedown is handled.
    pub socket: Option<std::net::TcpStream>,
}

/// Most control messages the reader hands to the host at once.
const DELIVER_BATCH: usize = 64;
/// Fragments with at least this many bytes still to come are read
/// straight into their message's buffer ([`Defragmenter::direct`]).
const DIRECT_MIN: usize = 4 * 1024;
/// While large fragments come, a read into the reader's buffer takes at
/// most this many bytes: the head of the next packet, its body then read
/// straight where it belongs (as BEAM's `inet_drv` reads a packet's body
/// into the packet's own binary).
const HEAD_READ: u64 = 4 * 1024;
/// Packet bytes after which the reader hands its batch over.
const DELIVER_BATCH_BYTES: usize = 16 * 1024;

/// Largest batch of queued messages written with one syscall.
const WRITE_BATCH: usize = 256 * 1024;
/// Batches of at most `4 * WRITE_BATCH` bytes in a row after which the
/// writer gives a larger buffer back.
const SHRINK_AFTER: u32 = 32;

/// A duplicate of the TCP socket under `stream`, for [`Running::socket`].
fn dup_socket(stream: &TcpStream) -> Option<std::net::TcpStream> {
    std::os::fd::AsFd::as_fd(stream)
        .try_clone_to_owned()
        .map(std::net::TcpStream::from)
        .ok()
}

/// Splits the stream and runs the connection: TCP halves without a lock,
/// TLS halves sharing the session.
async fn run_conn<H: Host>(
    host: Arc<H>,
    settings: Arc<Settings>,
    conn: Conn,
    est: Established,
    leftover: Vec<u8>,
    attempt: u64,
) {
    match conn {
        Conn::Tcp(stream) => {
            let socket = dup_socket(&stream);
            let (rd, wr) = stream.into_split();
            run(host, settings, (rd, wr), socket, est, leftover, attempt).await
        }
        Conn::Tls(stream) => {
            let socket = dup_socket(stream.get_ref().0);
            let (rd, wr) = tokio::io::split(*stream);
            run(host, settings, (rd, wr), socket, est, leftover, attempt).await
        }
    }
}

async fn run<H, R, W>(
    host: Arc<H>,
    settings: Arc<Settings>,
    (mut rd, mut wr): (R, W),
    socket: Option<std::net::TcpStream>,
    est: Established,
    leftover: Vec<u8>,
    attempt: u64,
) where
    H: Host,
    R: AsyncRead + Unpin + Send + 'static,
    W: AsyncWrite + Unpin + Send + 'static,
{
    let peer = est.peer.clone();
    let reads = Arc::new(AtomicU64::new(0));

    // The writer runs in its own task so that a slow peer never blocks the reader.
    let (ready_tx, ready_rx) = tokio::sync::oneshot::channel::<QueueRx>();
    let writer = {
        let reads = reads.clone();
        let settings = settings.clone();
        let flags = est.flags;
        tokio::spawn(async move {
            let Ok(rx) = ready_rx.await else {
                return atom("connection_closed");
            };
            write_loop(rx, &mut wr, flags, &settings, &reads).await
        })
    };

    let reader = {
        let host = host.clone();
        let peer = peer.clone();
        // Made once, not per message.
        let peer_atom = crate::term::Atom::from(peer.as_str());
        let limits = settings.limits;
        let max = settings.max_message_size;
        tokio::spawn(async move {
            let mut frames = FrameReader::with_leftover(leftover).with_limit(max);
            let mut defrag = Defragmenter::default().with_limit(max);
            // The messages of one read are decoded first and handed over
            // together: at most DELIVER_BATCH of them, of at most
            // DELIVER_BATCH_BYTES together (large messages go one by one,
            // so that their buffers are reused rather than piled up).
            let mut batch: Vec<Control> = Vec::with_capacity(DELIVER_BATCH);
            let mut batch_bytes = 0usize;
            // Large fragments are coming (a fragment's body was read in
            // place, or a large fragment came whole): a read takes only
            // the head of the next packet. Until a read brings no fragment
            // at all; other large packets (below the fragment size, or
            // from a peer without fragments) are read whole.
            let mut large = false;
            // Fragments among the packets of the last read, and large ones.
            let (mut frags, mut large_frags) = (false, false);
            loop {
                loop {
                    if batch.len() >= DELIVER_BATCH || batch_bytes >= DELIVER_BATCH_BYTES {
                        host.deliver_all(&peer_atom, &mut batch);
                        batch_bytes = 0;
                    }
                    let decoded = match frames.next_packet() {
                        Ok(Some(Packet::Tick)) => continue,
                        Ok(Some(Packet::Data(d))) => {
                            batch_bytes += d.len();
                            if let [131, 69 | 70, ..] = d {
                                frags = true;
                                large_frags |= d.len() >= DIRECT_MIN;
                            }
                            defrag.decode_packet(d, &limits)
                        }
                        Ok(None) => break,
                        Err(e) => {
                            host.deliver_all(&peer_atom, &mut batch);
                            tracing::error!("** Closing distribution channel from {peer}: {e} **");
                            return atom("invalid_data");
                        }
                    };
                    if let Err(reason) = take_decoded(decoded, &peer, &mut batch) {
                        host.deliver_all(&peer_atom, &mut batch);
                        return reason;
                    }
                }
                if !batch.is_empty() {
                    host.deliver_all(&peer_atom, &mut batch);
                    batch_bytes = 0;
                }
                // The rest of a large fragment goes from the socket straight
                // into its message's buffer (a large binary's own).
                let direct = frames
                    .partial()
                    .filter(|(head, len)| len - head.len() >= DIRECT_MIN)
                    .and_then(|(head, len)| defrag.direct(head, len, &limits));
                if let Some(d) = direct {
                    frames.take_partial();
                    let mut left = d.remaining();
                    while left > 0 {
                        // Its message is under way until direct_done.
                        let Some(buf) = defrag.direct_buffer(&d) else {
                            return atom("invalid_data");
                        };
                        buf.reserve(left);
                        match (&mut rd).take(left as u64).read_buf(buf).await {
                            Ok(0) | Err(_) => return atom("connection_closed"),
                            Ok(n) => {
                                left -= n;
                                reads.fetch_add(1, Ordering::Relaxed);
                            }
                        }
                    }
                    let r = take_decoded(defrag.direct_done(d, &limits), &peer, &mut batch);
                    host.deliver_all(&peer_atom, &mut batch);
                    if let Err(reason) = r {
                        return reason;
                    }
                    large = true;
                    continue;
                }
                if large_frags {
                    large = true;
                } else if !frags {
                    large = false;
                }
                (frags, large_frags) = (false, false);
                let read = if large {
                    (&mut rd).take(HEAD_READ).read_buf(frames.buffer()).await
                } else {
                    rd.read_buf(frames.buffer()).await
                };
                match read {
                    Ok(0) | Err(_) => return atom("connection_closed"),
                    Ok(_) => {
                        reads.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
        })
    };

    let running = Running {
        writer: writer.abort_handle(),
        reader: reader.abort_handle(),
        socket,
    };
    let Some(rx) = host.connection_up(attempt, &est, running) else {
        writer.abort();
        reader.abort();
        return;
    };
    let _ = ready_tx.send(rx);

    let (writer_abort, reader_abort) = (writer.abort_handle(), reader.abort_handle());
    let (mut writer, mut reader) = (writer, reader);
    let reason = tokio::select! {
        r = &mut writer => r.unwrap_or_else(|_| atom("disconnect")),
        r = &mut reader => match r {
            Ok(reason) => reason,
            // Stopped here. By `disconnect` the writer is stopped too; by
            // `async_disconnect` it still writes what was queued and ends
            // when the connection table drops the sending side.
            // The writer gets `net_ticktime` for it: a peer that reads
            // nothing for that long counts as dead anyway.
            Err(_) => {
                let grace = settings.tick_interval * settings.tick_intensity;
                let _ = tokio::time::timeout(grace, &mut writer).await;
                atom("disconnect")
            }
        },
    };
    writer_abort.abort();
    reader_abort.abort();
    if reason == atom("net_tick_timeout") {
        tracing::warn!("** Node {peer} not responding ** ** Removing (timedout) connection **");
    }
    host.connection_down(&peer, attempt, reason);
}

/// A decoded packet: its message joins `batch`; an error is logged, and
/// ends the connection (`Err`, with its reason) when it leaves the
/// reassembly or the atom cache unusable.
fn take_decoded(
    decoded: Result<Option<Control>, FrameError>,
    peer: &str,
    batch: &mut Vec<Control>,
) -> Result<(), Term> {
    match decoded {
        Ok(Some(c)) => batch.push(c),
        Ok(None) => {}
        Err(e @ (FrameError::ReassemblyTooLarge { .. } | FrameError::AtomCache(_))) => {
            tracing::error!("** Closing distribution channel from {peer}: {e} **");
            return Err(atom("invalid_data"));
        }
        Err(e) => tracing::error!(
            "** Got invalid data on distribution channel from {peer}: {e}; message dropped **"
        ),
    }
    Ok(())
}

/// The writer: takes batches of queued messages, writes them, and sends a
/// tick in every tick period in which nothing else was written and nothing
/// is waiting to be (`dist_util:send_tick/2`); ends the connection when the
/// peer sent nothing for `net_ticktime`. Returns the connection's exit
/// reason. Over TLS, what a write left in the TLS session is flushed once
/// the batch is written.
///
/// A batch of queued messages is encoded into one buffer but for their
/// large binaries ([`encode_control_vectored`]), and written in one
/// vectored write of the buffer and the binaries' own bytes: a binary
/// goes from the message to the socket with no copy on the way.
async fn write_loop<W: AsyncWrite + Unpin>(
    mut rx: QueueRx,
    wr: &mut W,
    flags: DFlags,
    settings: &Settings,
    reads: &AtomicU64,
) -> Term {
    let mut buf: Vec<u8> = Vec::with_capacity(64 * 1024);
    let mut small_batches = 0u32;
    let mut fw = FrameWriter::default();
    let mut batch: Vec<Queued> = Vec::new();
    let mut ticks = Ticks::new(settings, reads).await;
    // A write went out since the last flush (TLS keeps records back).
    let mut unflushed = false;
    loop {
        let first = tokio::select! {
            m = rx.recv() => match m {
                Some(q) => q,
                None => return atom("disconnect"),
            },
            r = wr.flush(), if unflushed => {
                if r.is_err() {
                    return atom("connection_closed");
                }
                unflushed = false;
                continue;
            }
            _ = ticks.interval.tick() => {
                match ticks.period_over() {
                    Err(reason) => return reason,
                    Ok(false) => {}
                    Ok(true) => {
                        let tick = [0u8; 4];
                        let mut tick = [IoSlice::new(&tick)];
                        if let Err(reason) = write_all(wr, &mut tick, &mut ticks, false).await {
                            return reason;
                        }
                        unflushed = true;
                    }
                }
                continue;
            }
        };
        // A batch: what is queued, up to WRITE_BATCH bytes by the queue's
        // count, encoded into `buf` but for the large binaries, which go
        // from the messages themselves to the socket in one vectored write.
        let mut charged = first.charged;
        batch.push(first);
        while charged < WRITE_BATCH {
            let Some(q) = rx.try_recv() else { break };
            charged += q.charged;
            batch.push(q);
        }
        let mut ext = Vec::new();
        for q in &batch {
            if let Err(e) = encode_control_vectored(&q.ctrl, flags, &mut fw, &mut buf, &mut ext) {
                tracing::error!(
                    "cannot encode {} for the distribution: {e}; message dropped",
                    q.ctrl.op_name()
                );
            }
        }
        let mut slices = io_slices(&buf, &ext);
        if let Err(reason) = write_all(wr, &mut slices, &mut ticks, true).await {
            return reason;
        }
        drop(slices);
        drop(ext);
        batch.clear();
        unflushed = true;
        // The batch is on the socket: its messages are out of the queue.
        rx.release(charged);
        // A large buffer is kept while large batches keep coming, and
        // given back after a run of small ones.
        if buf.len() > 4 * WRITE_BATCH {
            small_batches = 0;
        } else {
            small_batches = small_batches.saturating_add(1);
        }
        buf.clear();
        if buf.capacity() > 4 * WRITE_BATCH && small_batches >= SHRINK_AFTER {
            buf = Vec::with_capacity(64 * 1024);
        }
    }
}

/// The tick periods of a connection's writer.
struct Ticks<'r> {
    interval: tokio::time::Interval,
    /// Anything but a tick went out in this tick period.
    wrote: bool,
    reads: &'r AtomicU64,
    last_reads: u64,
    /// Tick periods in a row in which the peer sent nothing.
    silent: u32,
    intensity: u32,
}

impl<'r> Ticks<'r> {
    async fn new(settings: &Settings, reads: &'r AtomicU64) -> Self {
        let mut interval = tokio::time::interval(settings.tick_interval);
        interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        interval.tick().await;
        Self {
            interval,
            wrote: false,
            reads,
            last_reads: reads.load(Ordering::Relaxed),
            silent: 0,
            intensity: settings.tick_intensity,
        }
    }

    /// A tick period is over: whether a tick is due (nothing else went out
    /// in it), or `net_tick_timeout` when the peer sent nothing for
    /// `tick_intensity` periods.
    fn period_over(&mut self) -> Result<bool, Term> {
        let due = !self.wrote;
        self.wrote = false;
        let r = self.reads.load(Ordering::Relaxed);
        if r == self.last_reads {
            self.silent += 1;
            if self.silent >= self.intensity {
                return Err(atom("net_tick_timeout"));
            }
        } else {
            self.silent = 0;
            self.last_reads = r;
        }
        Ok(due)
    }
}

/// Writes all of `slices`, counting tick periods meanwhile (no tick goes
/// between the bytes of a message); `data`: the bytes count as written in
/// this tick period (a tick does not). Cancel safe at every await: an
/// unfinished write wrote nothing.
async fn write_all<W: AsyncWrite + Unpin>(
    wr: &mut W,
    mut slices: &mut [IoSlice<'_>],
    ticks: &mut Ticks<'_>,
    data: bool,
) -> Result<(), Term> {
    while !slices.is_empty() {
        tokio::select! {
            r = wr.write_vectored(slices) => match r {
                Ok(n) if n > 0 => {
                    ticks.wrote |= data;
                    IoSlice::advance_slices(&mut slices, n);
                }
                _ => return Err(atom("connection_closed")),
            },
            _ = ticks.interval.tick() => {
                ticks.period_over()?;
            }
        }
    }
    Ok(())
}
