use super::*;
use crate::term::AtomRefs;

/// Another atom text that goes to the same slot as `text`.
fn colliding(text: &str) -> String {
    (0..)
        .map(|i| format!("x{i}"))
        .find(|t| slot_of(t) == slot_of(text))
        .expect("some text collides")
}

/// Refers to each of `atoms` in a new message; returns the indices and
/// the header written.
fn message(cache: &mut SendAtomCache, atoms: &[&str]) -> (Vec<Option<u8>>, Vec<u8>) {
    cache.begin();
    let idx = atoms.iter().map(|a| cache.reference(a)).collect();
    let want = cache.header_len();
    let mut out = Vec::new();
    cache.finish(&mut out);
    assert_eq!(out.len(), want, "header_len agrees with finish");
    (idx, out)
}

/// Reads a header written by [`message`]; returns the atoms of its table.
fn receive(cache: &mut RecvAtomCache, header: &[u8]) -> Vec<String> {
    let used = cache.read(header[0], &header[1..]).expect("reads");
    assert_eq!(used, header.len() - 1);
    let table = cache.table();
    (0..=255u8)
        .map_while(|i| table.get(i).map(|a| a.name.clone()))
        .collect()
}

#[test]
fn a_header_is_read_back_as_the_atoms_referred_to() {
    let (mut tx, mut rx) = (SendAtomCache::default(), RecvAtomCache::default());
    let atoms = ["a@host", "bench_sink", "'$gen_call'", "a@host"];
    let (idx, header) = message(&mut tx, &atoms);
    // The repeated atom is one reference.
    assert_eq!(idx, [Some(0), Some(1), Some(2), Some(0)]);
    assert_eq!(header[0], 3);
    // Flags: three new entries (bit 3 of each half byte), then LongAtoms 0.
    let half = |i: usize| (header[1 + i / 2] >> (4 * (i % 2))) & 0x0f;
    assert!((0..3).all(|i| half(i) & 0x08 != 0));
    assert_eq!(half(3), 0);
    assert_eq!(
        receive(&mut rx, &header),
        ["a@host", "bench_sink", "'$gen_call'"]
    );
}

#[test]
fn atoms_sent_before_cost_a_byte_and_resolve_from_the_cache() {
    let (mut tx, mut rx) = (SendAtomCache::default(), RecvAtomCache::default());
    let (_, first) = message(&mut tx, &["node_one@host", "node_two@host"]);
    receive(&mut rx, &first);
    let (idx, second) = message(&mut tx, &["node_two@host", "node_one@host"]);
    assert_eq!(idx, [Some(0), Some(1)]);
    // Count, one flags byte (two old entries, LongAtoms 0), two slot bytes.
    assert_eq!(second.len(), 1 + 2 + 2);
    assert_eq!(second[1] & 0x88, 0, "no new entries");
    assert_eq!(
        receive(&mut rx, &second),
        ["node_two@host", "node_one@host"]
    );
}

#[test]
fn a_slot_taken_by_another_atom_is_replaced_and_sent_again() {
    let (mut tx, mut rx) = (SendAtomCache::default(), RecvAtomCache::default());
    let other = colliding("a@host");
    let (_, h) = message(&mut tx, &["a@host"]);
    receive(&mut rx, &h);
    let (_, h) = message(&mut tx, &[other.as_str()]);
    assert_eq!(receive(&mut rx, &h), [other.as_str()]);
    // a@host lost its slot: it is a new entry again.
    let (_, h) = message(&mut tx, &["a@host"]);
    assert_ne!(h[1] & 0x08, 0);
    assert_eq!(receive(&mut rx, &h), ["a@host"]);
}

#[test]
fn two_atoms_of_one_slot_in_one_message_leave_the_second_uncached() {
    let mut tx = SendAtomCache::default();
    let other = colliding("a@host");
    let (idx, h) = message(&mut tx, &["a@host", other.as_str(), "a@host"]);
    assert_eq!(idx, [Some(0), None, Some(0)]);
    assert_eq!(h[0], 1);
}

#[test]
fn at_most_255_references_and_no_long_atoms() {
    let mut tx = SendAtomCache::default();
    tx.begin();
    let mut cached = 0;
    for i in 0..2000 {
        if tx.reference(&format!("atom_{i}")).is_some() {
            cached += 1;
        }
    }
    assert_eq!(cached, MAX_REFS);
    tx.abort();
    tx.begin();
    assert_eq!(tx.reference(&"é".repeat(200)), None, "400 bytes");
}

#[test]
fn an_aborted_message_stores_nothing() {
    let (mut tx, mut rx) = (SendAtomCache::default(), RecvAtomCache::default());
    tx.begin();
    assert_eq!(tx.reference("a@host"), Some(0));
    tx.abort();
    let (_, h) = message(&mut tx, &["a@host"]);
    assert_ne!(h[1] & 0x08, 0, "still a new entry");
    assert_eq!(receive(&mut rx, &h), ["a@host"]);
}

/// Headers as the format describes them, with what BEAM may send and we
/// never write: long atoms, segment indices above 0.
#[test]
fn headers_written_by_hand_are_read() {
    let mut rx = RecvAtomCache::default();
    // Two new entries: slot 0x305 ("ab"), slot 0x7ff ("c"); LongAtoms.
    let header = [
        2, 0xfb, 0x01, // flags: 1|011 (low half), 1|111, then LongAtoms
        0x05, 0, 2, b'a', b'b', // slot 0x305
        0xff, 0, 1, b'c', // slot 0x7ff
    ];
    assert_eq!(receive(&mut rx, &header), ["ab", "c"]);
    // Old entries, in another order, one byte length this time.
    let header = [2, 0x37, 0x00, 0xff, 0x05];
    assert_eq!(receive(&mut rx, &header), ["c", "ab"]);
}

#[test]
fn bad_headers_are_errors() {
    let mut rx = RecvAtomCache::default();
    assert_eq!(rx.read(1, &[]), Err(AtomCacheError::Truncated));
    assert_eq!(rx.read(1, &[0x00, 5]), Err(AtomCacheError::EmptySlot(5)));
    assert_eq!(
        rx.read(1, &[0x08, 5, 2, 0xff, 0xfe]),
        Err(AtomCacheError::BadAtom(5))
    );
    assert_eq!(
        rx.read(1, &[0x08, 5, 9, b'a']),
        Err(AtomCacheError::Truncated)
    );
    assert_eq!(
        rx.read(3, &[0x88, 0x08, 1, 0, 2, 0]),
        Err(AtomCacheError::Truncated)
    );
    // LongAtoms (high half of the one flags byte): 2-byte lengths.
    let long = |len: u16, chars: usize| {
        let mut h = vec![0x18, 6];
        h.extend(len.to_be_bytes());
        h.extend("ä".repeat(chars).as_bytes());
        h
    };
    assert_eq!(rx.read(1, &long(768, 256)), Err(AtomCacheError::Truncated));
    assert_eq!(rx.read(1, &long(512, 256)), Err(AtomCacheError::BadAtom(6)));
    assert_eq!(rx.read(1, &long(510, 255)), Ok(4 + 510));
}
