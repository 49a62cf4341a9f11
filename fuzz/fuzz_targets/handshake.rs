//! The distribution handshake state machine (`distro::dist::handshake`)
//! under hostile input. Nothing a peer sends, in any chunking, and no answer
//! the node gives to the machine's questions may panic. Also checked:
//!
//! * every `Event::Send` is one handshake message framed with its 2-byte
//!   length (4-byte, as over TLS, when bit 1 of the mode byte is set);
//! * once an input returned an error, every later input returns that same
//!   error (the documented contract);
//! * bytes fed after `Event::Established` are kept for `into_leftover`.
//!
//! Input: the first byte picks the mode, the rest is a little program read
//! by [`Script`]:
//!
//! * even mode: an acceptor and then an initiator each read the program as
//!   `[op, len, bytes…]` steps: op picks between feeding the next `len`
//!   bytes as socket data and calling one of the `handle_*` answers out of
//!   turn; questions the machine asks are answered with the next byte;
//! * odd mode: an initiator and an acceptor talk to each other, so the
//!   fuzzer reaches the later steps (challenge, reply, ack) with valid
//!   digests; the program picks how each message is chunked, which bytes
//!   of it are flipped on the way, and the answers to the questions.
//!
//! Run from the repository root (see `fuzz/README.md`):
//!
//! ```text
//! cargo fuzz run --sanitizer none handshake -- -max_total_time=60
//! ```

#![no_main]

use distro::dist::DFlags;
use distro::dist::handshake::{AcceptPending, Config, Event, Framing, Handshake, HandshakeError};
use libfuzzer_sys::fuzz_target;

const A: &str = "a@127.0.0.1";
const B: &str = "b@127.0.0.1";

/// Reads the fuzzer's choices; an exhausted script reads as zeros.
struct Script<'a> {
    data: &'a [u8],
}

impl Script<'_> {
    fn done(&self) -> bool {
        self.data.is_empty()
    }

    fn byte(&mut self) -> u8 {
        match self.data.split_first() {
            Some((&b, rest)) => {
                self.data = rest;
                b
            }
            None => 0,
        }
    }

    fn u32(&mut self) -> u32 {
        u32::from_be_bytes([self.byte(), self.byte(), self.byte(), self.byte()])
    }

    fn bytes(&mut self, len: usize) -> &[u8] {
        let (now, rest) = self.data.split_at(len.min(self.data.len()));
        self.data = rest;
        now
    }

    fn accept_pending(&mut self) -> AcceptPending {
        match self.byte() % 6 {
            0 => AcceptPending::Ok,
            1 => AcceptPending::OkSimultaneous,
            2 => AcceptPending::Nok,
            3 => AcceptPending::UpPending,
            4 => AcceptPending::AlreadyPending,
            _ => AcceptPending::NotAllowed,
        }
    }

    /// The answer to a dynamic-name request: a name, or a refusal.
    fn name_me(&mut self) -> Option<(&'static str, u32)> {
        match self.byte() % 3 {
            0 => None,
            1 => Some(("DYN1@127.0.0.1", self.u32())),
            // Not a valid node name: the machine must still not panic.
            _ => Some(("", self.u32())),
        }
    }

    /// Our flags: usually ours, sometimes with a few bits flipped.
    fn flags(&mut self) -> DFlags {
        let flip = match self.byte() {
            0..128 => 0,
            b => 1u64 << (b % 64),
        };
        DFlags(DFlags::OURS.0 ^ flip) | DFlags::PUBLISHED
    }
}

fn config(script: &mut Script<'_>, node: &str) -> Config {
    Config {
        this_node: node.into(),
        flags: script.flags(),
        creation: script.u32(),
        cookie: "cookie".into(),
    }
}

/// One side of a handshake and what it has told us so far.
struct Side {
    /// The length header of its messages.
    framing: Framing,
    hs: Option<Handshake>,
    /// The first error returned: every later input must return it again.
    failed: Option<HandshakeError>,
    established: bool,
    /// Bytes fed after `Event::Established`.
    after_established: usize,
    /// Messages to deliver to the other side (odd mode).
    outbox: Vec<Vec<u8>>,
}

impl Side {
    fn new(hs: Handshake, framing: Framing) -> Self {
        Self {
            framing,
            hs: Some(hs),
            failed: None,
            established: false,
            after_established: 0,
            outbox: Vec::new(),
        }
    }

    fn hs(&mut self) -> &mut Handshake {
        self.hs.as_mut().expect("not finished")
    }

    /// Checks the result of one input against the error contract.
    fn check(&mut self, result: Result<(), HandshakeError>) {
        match (&self.failed, result) {
            (Some(first), r) => {
                assert_eq!(r.as_ref(), Err(first), "a failed handshake stays failed")
            }
            (None, Err(e)) => self.failed = Some(e),
            (None, Ok(())) => {}
        }
    }

    fn feed(&mut self, bytes: &[u8]) {
        let was_established = self.established;
        let result = self.hs().handle_data(bytes);
        if was_established {
            assert_eq!(result, Ok(()), "after Established, data is kept");
            self.after_established += bytes.len();
        }
        self.check(result);
    }

    /// Drains the events, answering the machine's questions from `script`.
    fn pump(&mut self, script: &mut Script<'_>) {
        while let Some(event) = self.hs().poll_event() {
            let result = match event {
                Event::Send(bytes) => {
                    let h = self.framing.header_len();
                    let len = bytes[..h]
                        .iter()
                        .fold(0usize, |a, &b| (a << 8) | usize::from(b));
                    assert_eq!(bytes.len(), h + len, "one framed message: {bytes:?}");
                    self.outbox.push(bytes);
                    continue;
                }
                Event::Established(_) => {
                    assert!(!self.established, "established twice");
                    self.established = true;
                    continue;
                }
                Event::AcceptPending { .. } => {
                    let answer = script.accept_pending();
                    self.hs().handle_accept_pending(answer)
                }
                Event::NameMe { .. } => {
                    let answer = script.name_me();
                    self.hs().handle_name_me(answer)
                }
                Event::IsPending => {
                    let answer = script.byte() & 1 == 0;
                    self.hs().handle_is_pending(answer)
                }
                Event::WaitPending => self.hs().handle_wait_pending_done(),
            };
            self.check(result);
        }
    }

    /// One answer given out of turn (the machine must refuse it cleanly
    /// unless it happens to be waiting for exactly that answer).
    fn unasked(&mut self, op: u8, script: &mut Script<'_>) {
        let result = match op % 4 {
            0 => {
                let answer = script.accept_pending();
                self.hs().handle_accept_pending(answer)
            }
            1 => {
                let answer = script.byte() & 1 == 0;
                self.hs().handle_is_pending(answer)
            }
            2 => {
                let answer = script.name_me();
                self.hs().handle_name_me(answer)
            }
            _ => self.hs().handle_wait_pending_done(),
        };
        // An out-of-turn answer is refused without ending the handshake, so
        // only the sticky error is checked here.
        if let Some(first) = &self.failed {
            assert_eq!(
                result.as_ref(),
                Err(first),
                "a failed handshake stays failed"
            );
        }
    }

    fn finish(mut self) {
        let hs = self.hs.take().expect("not finished");
        if self.established && self.failed.is_none() {
            assert!(
                hs.into_leftover().len() >= self.after_established,
                "data after the handshake is kept"
            );
        }
    }
}

/// Even mode: one machine against the fuzzer's bytes.
fn against_bytes(mut side: Side, script: &mut Script<'_>) {
    side.pump(script);
    while !script.done() {
        let op = script.byte();
        if op < 0xf0 {
            let len = usize::from(script.byte());
            let chunk = script.bytes(len).to_vec();
            side.feed(&chunk);
        } else {
            side.unasked(op, script);
        }
        side.pump(script);
        side.outbox.clear();
    }
    side.finish();
}

/// Odd mode: an initiator and an acceptor connected through the fuzzer.
fn against_each_other(mut a: Side, mut b: Side, script: &mut Script<'_>) {
    a.pump(script);
    b.pump(script);
    // Each round delivers everything each side has queued; the number of
    // rounds is bounded by the input, and a handshake is over in a few.
    for _ in 0..16 {
        if a.outbox.is_empty() && b.outbox.is_empty() {
            break;
        }
        deliver(&mut a, &mut b, script);
        deliver(&mut b, &mut a, script);
    }
    // The peer's next bytes arrive behind the last handshake message.
    let tail = script.bytes(64).to_vec();
    a.feed(&tail);
    a.finish();
    b.finish();
}

/// Delivers `from`'s queued messages to `to`, as the script says.
fn deliver(from: &mut Side, to: &mut Side, script: &mut Script<'_>) {
    for mut msg in std::mem::take(&mut from.outbox) {
        // Flip a byte on the way, sometimes.
        if script.byte() >= 0xe0 {
            let at = usize::from(script.byte()) % msg.len();
            msg[at] ^= script.byte() | 1;
        }
        // Deliver in chunks of a chosen size.
        let chunk = usize::from(script.byte() % 16) + 1;
        for piece in msg.chunks(chunk) {
            to.feed(piece);
        }
        to.pump(script);
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, program)) = data.split_first() else {
        return;
    };
    // Bit 1 of the mode: 4-byte lengths, as over TLS (inet_tls_dist).
    let framing = if mode & 2 == 0 {
        Framing::Packet2
    } else {
        Framing::Packet4
    };
    if mode % 2 == 0 {
        for initiator in [false, true] {
            let mut script = Script { data: program };
            let cfg = config(&mut script, A);
            let challenge = script.u32();
            let hs = if initiator {
                Handshake::initiator_framed(cfg, B, challenge, framing)
            } else {
                Handshake::acceptor_framed(cfg, challenge, framing)
            };
            against_bytes(Side::new(hs, framing), &mut script);
        }
    } else {
        let mut script = Script { data: program };
        let a_cfg = config(&mut script, A);
        let b_cfg = config(&mut script, B);
        let a = Handshake::initiator_framed(a_cfg, B, script.u32(), framing);
        let b = Handshake::acceptor_framed(b_cfg, script.u32(), framing);
        against_each_other(Side::new(a, framing), Side::new(b, framing), &mut script);
    }
});
