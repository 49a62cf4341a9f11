//! Pid and reference allocation for one node incarnation.
//!
//! Pids use the classic layout BEAM still emits (15-bit id, 13-bit serial),
//! references three 32-bit words with 18 significant bits in the first (as
//! `NEWER_REFERENCE_EXT` requires without `DFLAG_V4_NC`). A per-incarnation
//! salt in the third word keeps references of a restarted node distinct.

use crate::term::{Atom, Pid, Reference};
use std::sync::atomic::{AtomicU64, Ordering};

/// Allocates pids and references carrying this node's name and creation.
#[derive(Debug)]
pub(crate) struct Ids {
    node: Atom,
    creation: u32,
    next_pid: AtomicU64,
    next_ref: AtomicU64,
    salt: u32,
}

impl Ids {
    pub(crate) fn new(node: Atom, creation: u32, salt: u32) -> Self {
        Self {
            node,
            creation,
            // <N.0.0> is reserved for the node itself (sends made by no process).
            next_pid: AtomicU64::new(1),
            next_ref: AtomicU64::new(1),
            salt,
        }
    }

    /// The pid standing for "this node" when a message has no sending process.
    pub(crate) fn node_pid(&self) -> Pid {
        Pid {
            node: self.node.clone(),
            id: 0,
            serial: 0,
            creation: self.creation,
        }
    }

    pub(crate) fn new_pid(&self) -> Pid {
        let n = self.next_pid.fetch_add(1, Ordering::Relaxed);
        // Skip id 0 of serial 0 (the node pid) after wrapping.
        let n = n % (1 << 28);
        let n = if n == 0 { 1 } else { n };
        Pid {
            node: self.node.clone(),
            id: (n & 0x7fff) as u32,
            serial: ((n >> 15) & 0x1fff) as u32,
            creation: self.creation,
        }
    }

    pub(crate) fn new_ref(&self) -> Reference {
        let n = self.next_ref.fetch_add(1, Ordering::Relaxed);
        Reference {
            node: self.node.clone(),
            id: vec![(n & 0x3ffff) as u32, (n >> 18) as u32, self.salt],
            creation: self.creation,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pids_and_refs_are_unique_and_well_formed() {
        let ids = Ids::new(Atom::from("a@h"), 5, 9);
        let a = ids.new_pid();
        let b = ids.new_pid();
        assert_ne!(a, b);
        assert!(a.id < 1 << 15 && a.serial < 1 << 13 && a.creation == 5);
        let r = ids.new_ref();
        assert!(r.id[0] < 1 << 18);
        assert_ne!(r, ids.new_ref());
    }
}
