//! The distribution header's atom cache (`DFLAG_DIST_HDR_ATOM_CACHE`).
//!
//! Each side of a connection keeps 2048 atoms (8 segments of 256) for the
//! atoms it sends. A message's distribution header lists the atoms its
//! terms use, up to 255: one that the cache slot already holds costs a
//! byte, a new one its text, which the receiver stores in the same slot.
//! The terms then write `ATOM_CACHE_REF` and an index into that list
//! instead of the atom's text. The two caches stay equal because the
//! receiver reads headers in the order the sender wrote them.
//!
//! Pure code: [`SendAtomCache`] builds the header of a message as its
//! terms are encoded; [`RecvAtomCache`] reads a header and is the table
//! the terms after it are decoded with. Mirrors `erts_encode_ext_dist_header_*`
//! and `erts_decode_dist_ext` in `erts/emulator/beam/external.c`; the
//! format is in OTP's `erl_ext_dist` documentation ("Distribution Header").

use crate::term::{Atom, AtomRefs, AtomTable};

/// Slots per cache: 8 segments of 256.
pub const CACHE_SIZE: usize = 2048;
/// Most references in one header.
pub const MAX_REFS: usize = 255;
/// Longest atom text (bytes) cached; a longer one is written in full, so
/// every header we write has 1-byte lengths (`LongAtoms` unset).
const MAX_CACHED_LEN: usize = 255;

/// Why a received distribution header's atom cache references are wrong.
/// The connection's cache can no longer be trusted after one: the
/// connection is closed over it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AtomCacheError {
    /// The header ends early.
    #[error("truncated atom cache references")]
    Truncated,
    /// A reference to a slot nothing was stored in.
    #[error("atom cache reference to empty slot {0}")]
    EmptySlot(u16),
    /// An atom's text is not UTF-8 or longer than 255 characters.
    #[error("atom cache entry for slot {0} is not a valid atom")]
    BadAtom(u16),
}

/// The slot an atom's text goes to (FNV-1a; any function will do, the
/// receiver is told the slot).
pub(crate) fn slot_of(text: &str) -> u16 {
    let mut h: u32 = 0x811c_9dc5;
    for &b in text.as_bytes() {
        h = (h ^ u32::from(b)).wrapping_mul(0x0100_0193);
    }
    (h % CACHE_SIZE as u32) as u16
}

/// One reference of the message being encoded.
#[derive(Debug)]
struct Ref {
    slot: u16,
    /// The text, when it is a new entry for the slot.
    new: Option<Box<str>>,
}

/// The cache of the atoms we send on one connection.
///
/// [`SendAtomCache::begin`] starts a message; the encoder asks for each
/// atom through its `AtomRefs::reference`; [`SendAtomCache::finish`] writes
/// the header and stores the new entries, [`SendAtomCache::abort`] forgets
/// them (a message that could not be encoded is not sent).
#[derive(Debug)]
pub struct SendAtomCache {
    slots: Vec<Option<Box<str>>>,
    /// Per slot: the message (`generation`) that last referred to it, and
    /// the index of that reference.
    stamp: Vec<(u32, u8)>,
    generation: u32,
    refs: Vec<Ref>,
}

impl Default for SendAtomCache {
    fn default() -> Self {
        Self {
            slots: vec![None; CACHE_SIZE],
            stamp: vec![(0, 0); CACHE_SIZE],
            generation: 0,
            refs: Vec::with_capacity(8),
        }
    }
}

impl SendAtomCache {
    /// Starts the references of a new message.
    pub fn begin(&mut self) {
        self.refs.clear();
        self.generation = self.generation.wrapping_add(1);
        if self.generation == 0 {
            self.stamp.fill((0, 0));
            self.generation = 1;
        }
    }

    /// Forgets the references of the message begun (it is not sent).
    pub fn abort(&mut self) {
        self.refs.clear();
        self.generation = self.generation.wrapping_add(1);
    }

    /// The size of the header [`SendAtomCache::finish`] writes.
    pub fn header_len(&self) -> usize {
        let n = self.refs.len();
        let flags = if n == 0 { 0 } else { n / 2 + 1 };
        let refs: usize = self
            .refs
            .iter()
            .map(|r| 1 + r.new.as_ref().map_or(0, |t| 1 + t.len()))
            .sum();
        1 + flags + refs
    }

    /// Appends the header of the message begun (from
    /// `NumberOfAtomCacheRefs` on) and stores its new entries.
    pub fn finish(&mut self, out: &mut Vec<u8>) {
        let n = self.refs.len();
        out.push(n as u8);
        if n > 0 {
            let flags_at = out.len();
            out.resize(flags_at + n / 2 + 1, 0);
            for (i, r) in self.refs.iter().enumerate() {
                let half = (u8::from(r.new.is_some()) << 3) | (r.slot >> 8) as u8;
                out[flags_at + i / 2] |= half << (4 * (i % 2));
            }
            // The half byte after the last reference's: LongAtoms = 0.
            for r in &mut self.refs {
                out.push(r.slot as u8);
                if let Some(text) = r.new.take() {
                    out.push(text.len() as u8);
                    out.extend_from_slice(text.as_bytes());
                    self.slots[usize::from(r.slot)] = Some(text);
                }
            }
        }
        self.refs.clear();
    }
}

impl AtomRefs for SendAtomCache {
    fn reference(&mut self, text: &str) -> Option<u8> {
        if text.len() > MAX_CACHED_LEN {
            return None;
        }
        let slot = slot_of(text);
        let s = usize::from(slot);
        let (generation, index) = self.stamp[s];
        if generation == self.generation {
            // The slot is already referred to by this message: by this
            // atom, or by another one (which keeps it).
            let r = &self.refs[usize::from(index)];
            let held = r.new.as_deref().or(self.slots[s].as_deref());
            return (held == Some(text)).then_some(index);
        }
        if self.refs.len() >= MAX_REFS {
            return None;
        }
        let index = self.refs.len() as u8;
        let new = (self.slots[s].as_deref() != Some(text)).then(|| Box::from(text));
        self.refs.push(Ref { slot, new });
        self.stamp[s] = (self.generation, index);
        Some(index)
    }
}

/// The cache of the atoms a peer sends us on one connection.
#[derive(Debug)]
pub struct RecvAtomCache {
    slots: Vec<Option<Atom>>,
    /// The slots the last header referred to, in order.
    refs: Vec<u16>,
}

impl Default for RecvAtomCache {
    fn default() -> Self {
        Self {
            slots: vec![None; CACHE_SIZE],
            refs: Vec::with_capacity(16),
        }
    }
}

impl RecvAtomCache {
    /// Reads the `n` atom cache references at the front of `bytes` (the
    /// header after its `NumberOfAtomCacheRefs` byte), storing new
    /// entries; returns the bytes read. [`RecvAtomCache::table`] is then
    /// the message's table.
    pub fn read(&mut self, n: u8, bytes: &[u8]) -> Result<usize, AtomCacheError> {
        self.refs.clear();
        let n = usize::from(n);
        if n == 0 {
            return Ok(0);
        }
        let flag_len = n / 2 + 1;
        let flags = bytes.get(..flag_len).ok_or(AtomCacheError::Truncated)?;
        let half = |i: usize| (flags[i / 2] >> (4 * (i % 2))) & 0x0f;
        let long_atoms = half(n) & 1 == 1;
        let mut at = flag_len;
        for i in 0..n {
            let h = half(i);
            let low = *bytes.get(at).ok_or(AtomCacheError::Truncated)?;
            at += 1;
            let slot = (u16::from(h & 0x07) << 8) | u16::from(low);
            if h & 0x08 != 0 {
                let len = if long_atoms {
                    let b = bytes.get(at..at + 2).ok_or(AtomCacheError::Truncated)?;
                    at += 2;
                    usize::from(u16::from_be_bytes([b[0], b[1]]))
                } else {
                    let b = *bytes.get(at).ok_or(AtomCacheError::Truncated)?;
                    at += 1;
                    usize::from(b)
                };
                let text = bytes.get(at..at + len).ok_or(AtomCacheError::Truncated)?;
                at += len;
                let text = std::str::from_utf8(text)
                    .ok()
                    .filter(|t| t.chars().count() <= 255)
                    .ok_or(AtomCacheError::BadAtom(slot))?;
                self.slots[usize::from(slot)] = Some(Atom::from(text));
            } else if self.slots[usize::from(slot)].is_none() {
                return Err(AtomCacheError::EmptySlot(slot));
            }
            self.refs.push(slot);
        }
        Ok(at)
    }

    /// The atoms of the last header read, for the decoder.
    pub fn table(&self) -> AtomTable<'_> {
        AtomTable::new(&self.slots, &self.refs)
    }

    /// The atoms of the last header read, copied (for a fragmented
    /// message, decoded after later headers may have changed the slots).
    pub fn snapshot(&self) -> Vec<Option<Atom>> {
        self.refs
            .iter()
            .map(|&s| self.slots[usize::from(s)].clone())
            .collect()
    }
}

#[cfg(test)]
#[path = "atom_cache_test.rs"]
mod atom_cache_test;
