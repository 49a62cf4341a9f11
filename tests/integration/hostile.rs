//! Hostile peers on the wire against the `distro` binary (issue #9): a
//! peer that sends only ticks, one that stops reading, half-open
//! connections, a flood of connection attempts, fragments over any sane
//! size and fragment sequences that never complete.
//!
//! The hostile peer is played by hand: a real handshake (the crate's
//! [`Handshake`] over a blocking socket, as in `handshake.rs`), then raw
//! frames. In every case the distro node must stay up, keep serving a real
//! BEAM node of the release under test (`net_adm:ping/1`, `rpc:call/4`),
//! and keep its memory bounded: its peak RSS (`VmHWM` in
//! `/proc/<pid>/status`, reset through `/proc/<pid>/clear_refs` when a case
//! starts) is checked against the idle node's RSS plus a bound far below
//! what the peer pushes.

use distro::term;
use std::io::{Read, Write};
use std::net::{Shutdown, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, mpsc};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use distro::dist::DFlags;
use distro::dist::control::Control;
use distro::dist::frame::{Defragmenter, FrameReader, FrameWriter, Packet, encode_control};
use distro::dist::handshake::{Config, Established, Handshake};
use distro::term::{Atom, Limits, Pid, Reference, Term, atom};

use crate::handshake::{OK, Outcome, drive};
use crate::support::{
    BeamNode, BeamOpts, DistroNode, DistroOpts, Epmd, Otp, require_otp, unique_node, wait_until,
};

const COOKIE: &str = "hostile_cookie";
const CREATION: u32 = 0x5eed_0002;
/// Any single wait.
const T: Duration = Duration::from_secs(30);
/// KiB in a MiB (RSS is in KiB).
const MIB: u64 = 1024;

/// A distro node (`-kernel net_ticktime 4 net_setuptime 2`) and a BEAM node
/// (`net_ticktime 4`) connected to it.
struct Cluster {
    epmd: Epmd,
    distro: DistroNode,
    beam: BeamNode,
    name: String,
}

fn cluster(otp: Otp, extra: &[&str]) -> Cluster {
    let epmd = Epmd::start().expect("epmd");
    let name = unique_node("hostile_d");
    let mut args = vec!["-name", &name, "-setcookie", COOKIE];
    args.extend(["-kernel", "net_ticktime", "4", "net_setuptime", "2"]);
    args.extend(extra);
    let distro = DistroNode::start(&epmd, DistroOpts::new().args(args)).expect("distro starts");
    distro
        .wait_for_log("distribution started", T)
        .expect("distro is up");
    // The same net_ticktime on both sides, as a cluster must have.
    let opts = BeamOpts::new("hostile_b")
        .otp(otp)
        .cookie(COOKIE)
        .kernel("net_ticktime", "4");
    let beam = BeamNode::start(&epmd, opts).expect("BEAM node starts");
    let c = Cluster {
        epmd,
        distro,
        beam,
        name,
    };
    c.serves_beam();
    c
}

impl Cluster {
    /// The BEAM node reaches the distro node: ping, and an rpc answered by
    /// this very process.
    fn serves_beam(&self) {
        let ping = format!("net_adm:ping('{}').", self.name);
        assert_eq!(self.beam.eval(&ping).expect("ping"), "pong");
        let rpc = format!("rpc:call('{}', os, getpid, [], 10000).", self.name);
        let pid = format!("\"{}\"", self.distro.pid());
        assert_eq!(self.beam.eval(&rpc).expect("rpc"), pid);
    }

    fn port(&self) -> u16 {
        let alive = self.name.split('@').next().unwrap_or_default();
        self.epmd.port_of(alive).expect("distro registered")
    }

    fn rss_kib(&self) -> u64 {
        rss_kib(self.distro.pid())
    }

    /// Open file descriptors of the distro process.
    fn fds(&self) -> usize {
        std::fs::read_dir(format!("/proc/{}/fd", self.distro.pid()))
            .map(|d| d.count())
            .unwrap_or(0)
    }

    fn assert_log(&self, needle: &str) {
        self.distro
            .wait_for_log(needle, T)
            .unwrap_or_else(|e| panic!("distro never logged {needle:?}: {e}"));
    }
}

fn rss_kib(pid: u32) -> u64 {
    status_kib(pid, "VmRSS:")
}

/// A `... kB` line of `/proc/<pid>/status`.
fn status_kib(pid: u32, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

/// The peak RSS of a process from now on: the kernel's high-water mark,
/// reset when the watch starts, and samples every 50 ms (in case the
/// reset is not allowed).
struct RssWatch {
    pid: u32,
    max: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl RssWatch {
    fn start(pid: u32) -> Self {
        // "5" resets VmHWM to the current RSS (proc(5), clear_refs).
        let _ = std::fs::write(format!("/proc/{pid}/clear_refs"), "5");
        let max = Arc::new(AtomicU64::new(rss_kib(pid)));
        let stop = Arc::new(AtomicBool::new(false));
        let thread = std::thread::spawn({
            let (max, stop) = (max.clone(), stop.clone());
            move || {
                while !stop.load(Ordering::Relaxed) {
                    max.fetch_max(rss_kib(pid), Ordering::Relaxed);
                    max.fetch_max(status_kib(pid, "VmHWM:"), Ordering::Relaxed);
                    std::thread::sleep(Duration::from_millis(50));
                }
            }
        });
        Self {
            pid,
            max,
            stop,
            thread: Some(thread),
        }
    }

    fn max_kib(&self) -> u64 {
        let hwm = status_kib(self.pid, "VmHWM:");
        self.max.fetch_max(hwm, Ordering::Relaxed).max(hwm)
    }
}

impl Drop for RssWatch {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Asserts that the RSS never grew more than `bound` KiB over `base`.
#[track_caller]
fn assert_bounded(what: &str, base: u64, watch: &RssWatch, bound: u64) {
    let growth = watch.max_kib().saturating_sub(base);
    eprintln!(
        "{what}: distro RSS {base} KiB idle, {} KiB at most (+{growth} KiB, bound +{bound} KiB)",
        watch.max_kib()
    );
    assert!(growth <= bound, "{what}: RSS grew by {growth} KiB");
}

/// A peer that completed a real handshake with the distro node (as a
/// hidden node: no global traffic), and the frames it sends.
struct Peer {
    sock: TcpStream,
    est: Established,
    leftover: Vec<u8>,
    name: String,
    writer: FrameWriter,
}

fn peer(c: &Cluster) -> Peer {
    let name = unique_node("hostile_p");
    let mut sock = TcpStream::connect(("127.0.0.1", c.port())).expect("connect");
    sock.set_read_timeout(Some(T)).expect("timeout");
    let cfg = Config {
        this_node: name.clone(),
        flags: DFlags::OURS,
        creation: CREATION,
        cookie: COOKIE.into(),
    };
    let hs = Handshake::initiator(cfg, &c.name, 0x0bad_beef);
    let run = drive(&mut sock, hs, OK, T);
    let Outcome::Up(est, leftover) = run.outcome else {
        panic!("handshake with distro: {:?}", run.outcome)
    };
    sock.set_read_timeout(None).expect("no timeout");
    Peer {
        sock,
        est,
        leftover,
        name,
        writer: FrameWriter::default(),
    }
}

impl Peer {
    fn pid(&self) -> Pid {
        Pid::new(self.name.as_str(), 1, 0, CREATION)
    }

    fn frames(&mut self, ctrl: &Control) -> Vec<u8> {
        let mut out = Vec::new();
        encode_control(ctrl, self.est.flags, &mut self.writer, &mut out).expect("encodes");
        out
    }

    fn write(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        self.sock.write_all(bytes)
    }

    /// Reads everything the node sends, in a thread, decoding it.
    fn reader(&mut self) -> Reader {
        let mut sock = self.sock.try_clone().expect("clone");
        let leftover = std::mem::take(&mut self.leftover);
        let (tx, rx) = mpsc::channel();
        let eof = Arc::new(AtomicBool::new(false));
        let bytes = Arc::new(AtomicU64::new(0));
        std::thread::spawn({
            let (eof, bytes) = (eof.clone(), bytes.clone());
            move || {
                let mut frames = FrameReader::with_leftover(leftover);
                let mut defrag = Defragmenter::default();
                let mut chunk = vec![0; 64 * 1024];
                loop {
                    while let Ok(Some(p)) = frames.next_packet() {
                        if let Packet::Data(d) = p {
                            if let Ok(Some(c)) = defrag.decode_packet(d, &Limits::default()) {
                                let _ = tx.send(c);
                            }
                        }
                    }
                    match sock.read(&mut chunk) {
                        Ok(0) | Err(_) => break,
                        Ok(n) => {
                            bytes.fetch_add(n as u64, Ordering::Relaxed);
                            frames.buffer().extend_from_slice(&chunk[..n]);
                        }
                    }
                }
                eof.store(true, Ordering::Relaxed);
            }
        });
        Reader { rx, eof, bytes }
    }

    /// Sends a tick every `every` from a thread until the returned flag is set.
    fn ticker(&self, every: Duration) -> Arc<AtomicBool> {
        let stop = Arc::new(AtomicBool::new(false));
        let mut sock = self.sock.try_clone().expect("clone");
        std::thread::spawn({
            let stop = stop.clone();
            move || {
                while !stop.load(Ordering::Relaxed) {
                    if sock.write_all(&[0, 0, 0, 0]).is_err() {
                        return;
                    }
                    std::thread::sleep(every);
                }
            }
        });
        stop
    }

    /// `{'$gen_call', {Pid, Ref}, {is_auth, Me}}` to the node's net_kernel.
    fn is_auth(&mut self, id: u32) -> Vec<u8> {
        let req = term!({:"$gen_call", {(Term::Pid(self.pid())), (reference(&self.name, id))}, {is_auth, (atom(&self.name))}});
        let ctrl = Control::RegSend {
            from: self.pid(),
            name: Atom::from("net_kernel"),
            msg: req,
        };
        self.frames(&ctrl)
    }
}

fn reference(node: &str, id: u32) -> Term {
    Term::Reference(Box::new(Reference {
        node: Atom::from(node),
        id: vec![id, 0, 0],
        creation: CREATION,
    }))
}

/// What the node sends a [`Peer`].
struct Reader {
    rx: mpsc::Receiver<Control>,
    eof: Arc<AtomicBool>,
    bytes: Arc<AtomicU64>,
}

impl Reader {
    fn closed(&self) -> bool {
        self.eof.load(Ordering::Relaxed)
    }

    fn wait_closed(&self, what: &str) {
        wait_until(what, T, || self.closed()).unwrap();
    }

    /// The reply to [`Peer::is_auth`] with `id`.
    fn wait_is_auth(&self, node: &str, id: u32) {
        let want = term!({(reference(node, id)), yes});
        let deadline = Instant::now() + T;
        while let Some(left) = deadline.checked_duration_since(Instant::now()) {
            match self.rx.recv_timeout(left) {
                Ok(Control::Send { msg, .. }) if msg == want => return,
                Ok(_) => {}
                Err(_) => break,
            }
        }
        panic!("no reply to is_auth {id}");
    }
}

/// A first fragment (`131, 69`) of message `seq` claiming `count` fragments.
fn first_fragment(seq: u64, count: u64, body: &[u8]) -> Vec<u8> {
    framed(&[
        &[131, 69],
        &seq.to_be_bytes()[..],
        &count.to_be_bytes(),
        &[0],
        body,
    ])
}

/// A later fragment (`131, 70`) of message `seq`.
fn next_fragment(seq: u64, id: u64, body: &[u8]) -> Vec<u8> {
    framed(&[&[131, 70], &seq.to_be_bytes()[..], &id.to_be_bytes(), body])
}

fn framed(parts: &[&[u8]]) -> Vec<u8> {
    let body: Vec<u8> = parts.concat();
    let mut out = u32::try_from(body.len()).unwrap().to_be_bytes().to_vec();
    out.extend(body);
    out
}

// ---- the cases ----

/// Only ticks, as fast as a socket takes them (16 MiB of them), then one
/// every half second for longer than net_ticktime: the connection stays up
/// and the node ticks back. When the ticks stop (a peer gone without a
/// FIN, a half-open connection) the node removes it after net_ticktime.
#[test]
fn a_peer_that_sends_only_ticks() {
    let Some(otp) = require_otp() else { return };
    let c = cluster(otp, &[]);
    let mut p = peer(&c);
    let reader = p.reader();
    let base = c.rss_kib();
    let watch = RssWatch::start(c.distro.pid());
    let flood = vec![0u8; 64 * 1024];
    for _ in 0..256 {
        p.write(&flood).expect("the node reads ticks");
    }
    let stop = p.ticker(Duration::from_millis(500));
    std::thread::sleep(Duration::from_secs(6));
    assert!(!reader.closed(), "a peer that ticks stays connected");
    let from_node = reader.bytes.load(Ordering::Relaxed);
    assert!(from_node >= 4 * 4, "the node ticks too: {from_node} bytes");
    c.serves_beam();
    assert_bounded("16 MiB of ticks", base, &watch, 4 * MIB);
    stop.store(true, Ordering::Relaxed);
    reader.wait_closed("the silent peer is removed");
    c.assert_log(&format!("Node {} not responding", p.name));
    c.serves_beam();
}

/// Atom cache references that cannot be followed: a distribution header
/// naming a cache slot the peer never filled, and one whose new entry is
/// not UTF-8. Either closes that connection (its atom cache is no longer
/// the peer's), logged as invalid data; the node goes on serving BEAM.
#[test]
fn atom_cache_references_to_nothing() {
    let Some(otp) = require_otp() else { return };
    let c = cluster(otp, &[]);
    for (header, log) in [
        (
            &[1u8, 0x03, 0x05][..],
            "atom cache reference to empty slot 773",
        ),
        (
            &[1u8, 0x08, 0x07, 2, 0xff, 0xfe][..],
            "atom cache entry for slot 7 is not a valid atom",
        ),
    ] {
        let mut p = peer(&c);
        assert!(p.est.flags.contains(DFlags::DIST_HDR_ATOM_CACHE));
        let reader = p.reader();
        // {6, From, '', bench_sink} with the name as cache reference 0.
        let mut body = vec![104, 4, 97, 6];
        term::encode_body(&term::Term::Pid(p.pid()), &mut body).expect("pid");
        body.extend([119, 0, 82, 0, 106]);
        p.write(&framed(&[&[131, 68], header, &body]))
            .expect("write");
        reader.wait_closed("a bad atom cache header closes the connection");
        c.assert_log(log);
    }
    c.serves_beam();
}

/// A peer that ticks but never reads, while a BEAM process streams 2000
/// messages of 64 KiB (125 MiB) to it through the distro node
/// (`rpc:call(D, erlang, send, [{sink, P}, Bin])`, one at a time). With
/// `+zdbbl 256` the send suspends once the connection's queue is busy, as
/// on BEAM, so the stream stalls and the node's memory stays put;
/// `[nosuspend]` answers `nosuspend` meanwhile. When the peer also stops
/// ticking the node times it out although its writer is stuck in a write,
/// and the stream resumes (sends to a node that is gone are dropped).
#[test]
fn a_peer_that_stops_reading() {
    let Some(otp) = require_otp() else { return };
    let c = cluster(otp, &["+zdbbl", "256"]);
    let p = peer(&c);
    let stop_ticks = p.ticker(Duration::from_millis(500));
    let base = c.rss_kib();
    let watch = RssWatch::start(c.distro.pid());
    let stream = format!(
        "Bin = binary:copy(<<7>>, 65536), \
         Streamer = spawn(fun() -> \
             ets:new(hostile_progress, [named_table, public]), \
             ets:insert(hostile_progress, {{n, 0}}), \
             lists:foreach(fun(I) -> \
                 rpc:call('{d}', erlang, send, [{{sink, '{p}'}}, Bin], infinity), \
                 ets:insert(hostile_progress, {{n, I}}) \
             end, lists:seq(1, 2000)), \
             receive stop -> ok end \
         end), \
         register(hostile_streamer, Streamer), ok.",
        d = c.name,
        p = p.name
    );
    assert_eq!(c.beam.eval(&stream).expect("streamer"), "ok");
    let progress = || -> u64 {
        let n = c
            .beam
            // No variables: the eval loop keeps bindings between evals.
            .eval("try ets:lookup_element(hostile_progress, n, 2) catch _:_ -> 0 end.")
            .expect("progress");
        n.parse().expect("an integer")
    };
    // Wait until the stream stalls: the same count two seconds apart.
    let mut last = u64::MAX;
    let stalled = loop {
        std::thread::sleep(Duration::from_secs(2));
        let n = progress();
        assert!(
            n < 2000,
            "the stream never stalled: the busy limit did not hold"
        );
        if n == last && n > 0 {
            break n;
        }
        last = n;
    };
    eprintln!(
        "stalled after {stalled} messages ({} KiB)",
        stalled * 64 // KiB each
    );
    let nosuspend = format!(
        "rpc:call('{}', erlang, send, [{{sink, '{}'}}, x, [nosuspend]]).",
        c.name, p.name
    );
    assert_eq!(c.beam.eval(&nosuspend).expect("nosuspend"), "nosuspend");
    let noconnect = format!(
        "rpc:call('{}', erlang, send, [{{sink, 'nobody@127.0.0.1'}}, x, [noconnect]]).",
        c.name
    );
    assert_eq!(c.beam.eval(&noconnect).expect("noconnect"), "noconnect");
    c.serves_beam();
    assert_eq!(progress(), stalled, "still stalled");
    // The peer goes silent too: removed after net_ticktime, though the
    // node's write to it never finishes.
    stop_ticks.store(true, Ordering::Relaxed);
    c.assert_log(&format!("Node {} not responding", p.name));
    wait_until("the stream finishes", Duration::from_secs(120), || {
        progress() == 2000
    })
    .unwrap();
    assert_bounded(
        "125 MiB streamed to a peer that reads nothing",
        base,
        &watch,
        8 * MIB,
    );
    c.serves_beam();
    let _ = c.beam.eval("hostile_streamer ! stop, ok.");
}

/// Half-open connections: 100 sockets that send nothing and 100 that send
/// half a name message are closed after net_setuptime (2 s here) and leave
/// no descriptor behind; a peer that shuts down its sending side after the
/// handshake is disconnected.
#[test]
fn half_open_connections() {
    let Some(otp) = require_otp() else { return };
    let c = cluster(otp, &[]);
    let base_fds = c.fds();
    let base = c.rss_kib();
    let watch = RssWatch::start(c.distro.pid());
    let mut socks: Vec<TcpStream> = (0..200)
        .map(|i| {
            let mut s = TcpStream::connect(("127.0.0.1", c.port())).expect("connect");
            if i % 2 == 1 {
                // Length 40, 'N', then nothing more.
                s.write_all(&[0, 40, b'N', 0, 0]).expect("write");
            }
            s.set_read_timeout(Some(T)).expect("timeout");
            s
        })
        .collect();
    let start = Instant::now();
    for s in &mut socks {
        let mut b = [0; 64];
        loop {
            match s.read(&mut b) {
                Ok(0) => break,
                Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => break,
                Ok(_) => {}
                Err(e) => panic!("a half-open connection was kept: {e}"),
            }
        }
    }
    eprintln!(
        "200 half-open connections closed after {:?}",
        start.elapsed()
    );
    drop(socks);
    wait_until("descriptors are released", T, || c.fds() <= base_fds + 2).unwrap();
    let mut p = peer(&c);
    let reader = p.reader();
    p.sock.shutdown(Shutdown::Write).expect("shutdown");
    reader.wait_closed("a half-closed peer is disconnected");
    c.serves_beam();
    assert_bounded("200 half-open connections", base, &watch, 8 * MIB);
}

/// 3000 connection attempts in waves of 300 open at once: closed at once,
/// garbage, a name message and silence, or a wrong cookie. The node keeps
/// serving the BEAM node, and its descriptors and memory come back.
#[test]
fn a_flood_of_connection_attempts() {
    let Some(otp) = require_otp() else { return };
    let c = cluster(otp, &[]);
    let base_fds = c.fds();
    let base = c.rss_kib();
    let watch = RssWatch::start(c.distro.pid());
    let port = c.port();
    let start = Instant::now();
    for wave in 0..10 {
        let mut held = Vec::new();
        for i in 0..300 {
            let Ok(mut s) = TcpStream::connect(("127.0.0.1", port)) else {
                continue;
            };
            match i % 4 {
                0 => drop(s),
                1 => {
                    let _ = s.write_all(&[0x5a; 64]);
                    held.push(s);
                }
                2 => {
                    let _ = s.write_all(&name_message("flood@127.0.0.1"));
                    held.push(s);
                }
                _ => {
                    s.set_read_timeout(Some(T)).expect("timeout");
                    let cfg = Config {
                        this_node: format!("flood{wave}_{i}@127.0.0.1"),
                        flags: DFlags::OURS,
                        creation: CREATION,
                        cookie: "not_the_cookie".into(),
                    };
                    let hs = Handshake::initiator(cfg, &c.name, 7);
                    let run = drive(&mut s, hs, OK, T);
                    assert!(
                        !matches!(run.outcome, Outcome::Up(..)),
                        "wrong cookie let in"
                    );
                }
            }
        }
        if wave % 3 == 0 {
            c.serves_beam();
        }
        drop(held);
    }
    eprintln!("3000 attempts in {:?}", start.elapsed());
    c.serves_beam();
    wait_until("descriptors are released", T, || c.fds() <= base_fds + 2).unwrap();
    assert_bounded("3000 connection attempts", base, &watch, 8 * MIB);
}

/// The handshake's name message (`N`, version 6) for `node`.
fn name_message(node: &str) -> Vec<u8> {
    let mut body = vec![b'N'];
    body.extend(DFlags::OURS.0.to_be_bytes());
    body.extend(CREATION.to_be_bytes());
    body.extend(u16::try_from(node.len()).unwrap().to_be_bytes());
    body.extend(node.as_bytes());
    let mut out = u16::try_from(body.len()).unwrap().to_be_bytes().to_vec();
    out.extend(body);
    out
}

/// With `-kernel dist_max_message_size 8388608`: a message whose first
/// fragment claims 2^40 fragments is cut off once its fragments pass 8 MiB
/// (the connection is closed: nothing else would free them), and so is a
/// single frame that claims 16 MiB, from its header.
#[test]
fn fragments_over_any_sane_size() {
    let Some(otp) = require_otp() else { return };
    let c = cluster(otp, &["-kernel", "dist_max_message_size", "8388608"]);
    let base = c.rss_kib();
    let watch = RssWatch::start(c.distro.pid());
    let mut p = peer(&c);
    assert!(p.est.flags.contains(DFlags::FRAGMENTS));
    let reader = p.reader();
    let body = vec![0x42u8; 64 * 1024];
    let mut sent = 0u64;
    let mut frame = first_fragment(1, 1 << 40, &body);
    for id in (1..(1u64 << 40)).rev() {
        if reader.closed() || sent > 256 << 20 || p.write(&frame).is_err() {
            break;
        }
        sent += frame.len() as u64;
        frame = next_fragment(1, id, &body);
    }
    reader.wait_closed("the connection is closed past the limit");
    eprintln!("closed after {} KiB of fragments", sent / 1024);
    assert!(sent >= 8 << 20, "closed before the limit: {sent} bytes");
    c.assert_log("fragmented messages exceed the 8388608-byte reassembly limit");
    let mut q = peer(&c);
    let reader = q.reader();
    let mut big = (16u32 << 20).to_be_bytes().to_vec();
    big.extend(vec![112u8; 1 << 20]);
    let _ = q.write(&big);
    reader.wait_closed("a 16 MiB frame is refused from its header");
    c.assert_log("larger than the 8388608-byte limit");
    c.serves_beam();
    // The 8 MiB limit, and 4 MiB for everything else.
    assert_bounded("fragments past an 8 MiB limit", base, &watch, 12 * MIB);
}

/// 100 messages whose first fragments (64 KiB each) arrive and nothing
/// more: the node keeps them (6.4 MiB, under its 8 MiB limit) and goes on
/// answering the same peer's complete messages in between; 40 more and the
/// connection is closed.
#[test]
fn fragment_sequences_that_never_complete() {
    let Some(otp) = require_otp() else { return };
    let c = cluster(otp, &["-kernel", "dist_max_message_size", "8388608"]);
    let base = c.rss_kib();
    let watch = RssWatch::start(c.distro.pid());
    let mut p = peer(&c);
    let reader = p.reader();
    let body = vec![0x42u8; 64 * 1024];
    for seq in 1..=100u64 {
        p.write(&first_fragment(seq, 3, &body)).expect("write");
        if seq % 20 == 0 {
            let ask = p.is_auth(seq as u32);
            p.write(&ask).expect("write");
            reader.wait_is_auth(&p.name, seq as u32);
        }
    }
    assert!(!reader.closed(), "under the limit the peer stays");
    c.serves_beam();
    for seq in 101..=140u64 {
        if p.write(&first_fragment(seq, 3, &body)).is_err() {
            break;
        }
    }
    reader.wait_closed("past the limit the connection is closed");
    c.assert_log("reassembly limit");
    c.serves_beam();
    assert_bounded("unfinished fragment sequences", base, &watch, 12 * MIB);
}
