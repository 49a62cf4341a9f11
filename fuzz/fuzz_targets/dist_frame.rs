//! Data-phase framing round trip: bytes from a peer go through
//! `FrameReader` (4-byte length prefix, ticks) and
//! `Defragmenter::decode_packet` (pass-through `112`, distribution header
//! `131, 68`, fragments `131, 69` / `131, 70`). Every control message that
//! comes out must encode with `encode_control`, decode back to the same
//! message, and encode to the same bytes again. Any panic is a bug.
//!
//! Input: the first byte picks the read size (how the stream is chunked,
//! 1 to 256 bytes), the negotiated flags of the re-encoding (with or
//! without `DFLAG_FRAGMENTS`, `DFLAG_DIST_HDR_ATOM_CACHE`) and whether the
//! rest of a fragment is read straight into its message's buffer
//! (`Defragmenter::direct`); the rest is the byte stream, whose
//! distribution headers may carry atom cache references.
//!
//! Run from the repository root (see `fuzz/README.md`):
//!
//! ```text
//! cargo fuzz run --sanitizer none dist_frame -- -max_total_time=60
//! ```

#![no_main]

use distro::dist::DFlags;
use distro::dist::control::Control;
use distro::dist::frame::{Defragmenter, FrameReader, FrameWriter, Packet, encode_control};
use distro::term::{Limits, cmp_terms};
use libfuzzer_sys::fuzz_target;

/// Decodes every complete control message in `bytes` (all of them at once).
fn decode_all(bytes: &[u8], limits: &Limits) -> Vec<Control> {
    let mut reader = FrameReader::default();
    reader.buffer().extend_from_slice(bytes);
    let mut defrag = Defragmenter::default();
    let mut out = Vec::new();
    while let Some(packet) = reader.next_packet().expect("our own frames split") {
        if let Packet::Data(data) = packet
            && let Some(ctrl) = defrag
                .decode_packet(&data, limits)
                .expect("our own encoding decodes")
        {
            out.push(ctrl);
        }
    }
    out
}

fn encode(ctrl: &Control, flags: DFlags) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    // A decoded term may still be refused by the encoder (e.g. sizes it
    // cannot represent); that is an error, not a panic.
    encode_control(ctrl, flags, &mut FrameWriter::default(), &mut out).ok()?;
    Some(out)
}

/// Equal control messages, compared through their terms (`cmp_terms`, as
/// eetf's `==` is unreliable for maps whose keys hold maps).
fn same(a: &Control, b: &Control, flags: DFlags) -> bool {
    let (ca, ma) = a.to_terms(flags);
    let (cb, mb) = b.to_terms(flags);
    cmp_terms(&ca, &cb).is_eq()
        && match (ma, mb) {
            (None, None) => true,
            (Some(x), Some(y)) => cmp_terms(x, y).is_eq(),
            _ => false,
        }
}

fn round_trip(ctrl: &Control, flags: DFlags, limits: &Limits) {
    let Some(bytes) = encode(ctrl, flags) else {
        return;
    };
    let back = decode_all(&bytes, limits);
    assert_eq!(back.len(), 1, "one message, one control: {ctrl:?}");
    assert!(
        same(&back[0], ctrl, flags),
        "{ctrl:?} came back as {:?}",
        back[0]
    );
    assert_eq!(
        encode(&back[0], flags).expect("a decoded message encodes"),
        bytes,
        "canonical encoding of {ctrl:?}"
    );
}

fuzz_target!(|data: &[u8]| {
    let Some((&control, stream)) = data.split_first() else {
        return;
    };
    let chunk = usize::from(control) + 1;
    let mut flags = if control & 1 == 0 {
        DFlags::OURS
    } else {
        DFlags::OURS & !DFlags::FRAGMENTS
    };
    if control & 2 != 0 {
        flags = flags & !DFlags::DIST_HDR_ATOM_CACHE;
    }
    // With bit 2, the rest of a fragment goes straight into its message's
    // buffer when the defragmenter takes it (`Defragmenter::direct`), as
    // the connection's reader does.
    let direct = control & 4 != 0;
    let limits = Limits::default();
    let mut reader = FrameReader::default();
    let mut defrag = Defragmenter::default();
    let mut pos = 0;
    while pos < stream.len() {
        let piece = &stream[pos..stream.len().min(pos + chunk)];
        pos += piece.len();
        reader.buffer().extend_from_slice(piece);
        loop {
            match reader.next_packet() {
                Ok(Some(Packet::Tick)) => {}
                Ok(Some(Packet::Data(packet))) => {
                    if let Ok(Some(ctrl)) = defrag.decode_packet(&packet, &limits) {
                        round_trip(&ctrl, flags, &limits);
                    }
                }
                Ok(None) => break,
                // A bad length ends the connection.
                Err(_) => return,
            }
        }
        let taken = reader
            .partial()
            .filter(|_| direct)
            .and_then(|(head, len)| defrag.direct(head, len, &limits));
        if let Some(d) = taken {
            reader.take_partial();
            let rest = d.remaining().min(stream.len() - pos);
            if rest < d.remaining() {
                // The stream ends within the fragment.
                return;
            }
            defrag
                .direct_buffer(&d)
                .expect("a direct fragment has its buffer")
                .extend_from_slice(&stream[pos..pos + rest]);
            pos += rest;
            if let Ok(Some(ctrl)) = defrag.direct_done(d, &limits) {
                round_trip(&ctrl, flags, &limits);
            }
        }
    }
});
