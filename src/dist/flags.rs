//! Distribution flags, with the values of OTP's `kernel/include/dist.hrl`.
//!
//! `erl_dist::DistributionFlags` is not used: its `MANDATORY_25_DIGEST` is bit
//! 36 where OTP's is `16#04000000`, and it lacks the OTP 27+ bits.

use std::fmt;
use std::ops::{BitAnd, BitOr, BitOrAssign, Not};

/// A set of `DFLAG_*` bits.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct DFlags(pub u64);

macro_rules! dflags {
    ($($(#[$doc:meta])* $name:ident = $value:expr;)*) => {
        impl DFlags {
            $($(#[$doc])* pub const $name: Self = Self($value);)*
        }
        const NAMES: &[(&str, u64)] = &[$((stringify!($name), $value)),*];
    };
}

dflags! {
    /// `DFLAG_PUBLISHED`: the node is visible (in `nodes()`, global, dist_ac).
    PUBLISHED = 0x01;
    /// `DFLAG_ATOM_CACHE` (obsolete).
    ATOM_CACHE = 0x02;
    /// `DFLAG_EXTENDED_REFERENCES`.
    EXTENDED_REFERENCES = 0x04;
    /// `DFLAG_DIST_MONITOR`.
    DIST_MONITOR = 0x08;
    /// `DFLAG_FUN_TAGS`.
    FUN_TAGS = 0x10;
    /// `DFLAG_DIST_MONITOR_NAME`.
    DIST_MONITOR_NAME = 0x20;
    /// `DFLAG_HIDDEN_ATOM_CACHE` (obsolete).
    HIDDEN_ATOM_CACHE = 0x40;
    /// `DFLAG_NEW_FUN_TAGS`.
    NEW_FUN_TAGS = 0x80;
    /// `DFLAG_EXTENDED_PIDS_PORTS`.
    EXTENDED_PIDS_PORTS = 0x100;
    /// `DFLAG_EXPORT_PTR_TAG`.
    EXPORT_PTR_TAG = 0x200;
    /// `DFLAG_BIT_BINARIES`.
    BIT_BINARIES = 0x400;
    /// `DFLAG_NEW_FLOATS`.
    NEW_FLOATS = 0x800;
    /// `DFLAG_UNICODE_IO`.
    UNICODE_IO = 0x1000;
    /// `DFLAG_DIST_HDR_ATOM_CACHE`.
    DIST_HDR_ATOM_CACHE = 0x2000;
    /// `DFLAG_SMALL_ATOM_TAGS`.
    SMALL_ATOM_TAGS = 0x4000;
    /// `DFLAG_UTF8_ATOMS`.
    UTF8_ATOMS = 0x10000;
    /// `DFLAG_MAP_TAG`.
    MAP_TAG = 0x20000;
    /// `DFLAG_BIG_CREATION`.
    BIG_CREATION = 0x40000;
    /// `DFLAG_SEND_SENDER`.
    SEND_SENDER = 0x80000;
    /// `DFLAG_BIG_SEQTRACE_LABELS`.
    BIG_SEQTRACE_LABELS = 0x100000;
    /// `DFLAG_EXIT_PAYLOAD`.
    EXIT_PAYLOAD = 0x400000;
    /// `DFLAG_FRAGMENTS`.
    FRAGMENTS = 0x800000;
    /// `DFLAG_HANDSHAKE_23`.
    HANDSHAKE_23 = 0x1000000;
    /// `DFLAG_UNLINK_ID`.
    UNLINK_ID = 0x2000000;
    /// `DFLAG_MANDATORY_25_DIGEST` (`16#04000000`): shorthand for [`DFlags::MANDATORY_25`].
    MANDATORY_25_DIGEST = 0x4000000;
    /// `DFLAG_SPAWN`.
    SPAWN = 1 << 32;
    /// `DFLAG_NAME_ME`.
    NAME_ME = 1 << 33;
    /// `DFLAG_V4_NC`.
    V4_NC = 1 << 34;
    /// `DFLAG_ALIAS`.
    ALIAS = 1 << 35;
    /// `DFLAG_LOCAL_EXT` (OTP 27+, internal to a node; never sent).
    LOCAL_EXT = 1 << 36;
    /// `DFLAG_ALTACT_SIG` (advertised by OTP 29 here; OTP 27 does not send it).
    ALTACT_SIG = 1 << 37;
    /// `DFLAG_NATIVE_RECORDS` (OTP 29).
    NATIVE_RECORDS = 1 << 38;
}

impl DFlags {
    /// No flags.
    pub const EMPTY: Self = Self(0);

    /// `MANDATORY_DFLAGS_25`: what OTP 25+ refuses to connect without.
    pub const MANDATORY_25: Self = Self(
        Self::EXTENDED_REFERENCES.0
            | Self::FUN_TAGS.0
            | Self::EXTENDED_PIDS_PORTS.0
            | Self::NEW_FUN_TAGS.0
            | Self::EXPORT_PTR_TAG.0
            | Self::BIT_BINARIES.0
            | Self::NEW_FLOATS.0
            | Self::UTF8_ATOMS.0
            | Self::MAP_TAG.0
            | Self::BIG_CREATION.0
            | Self::HANDSHAKE_23.0,
    );

    /// `MANDATORY_DFLAGS_26`: added to the mandatory set by OTP 26.
    pub const MANDATORY_26: Self = Self(Self::V4_NC.0 | Self::UNLINK_ID.0);

    /// What this node requires of a peer. We only need OTP 25's set: an OTP 25
    /// peer is accepted even though OTP 26+ peers require more of each other.
    pub const REQUIRED: Self = Self::MANDATORY_25;

    /// The flags this node advertises (without [`DFlags::PUBLISHED`], which
    /// depends on `-hidden`).
    pub const OURS: Self = Self(
        Self::MANDATORY_25.0
            | Self::MANDATORY_26.0
            | Self::MANDATORY_25_DIGEST.0
            | Self::DIST_MONITOR.0
            | Self::DIST_MONITOR_NAME.0
            | Self::UNICODE_IO.0
            | Self::SMALL_ATOM_TAGS.0
            | Self::SEND_SENDER.0
            | Self::BIG_SEQTRACE_LABELS.0
            | Self::EXIT_PAYLOAD.0
            | Self::FRAGMENTS.0
            | Self::DIST_HDR_ATOM_CACHE.0
            | Self::SPAWN.0
            | Self::ALIAS.0,
    );

    /// Whether every bit of `other` is set in `self`.
    pub const fn contains(self, other: Self) -> bool {
        self.0 & other.0 == other.0
    }

    /// OTP's `expand_mandatory_25_flag/1`: the digest bit stands for the whole
    /// OTP 25 mandatory set.
    pub const fn expand_mandatory_25(self) -> Self {
        if self.0 & Self::MANDATORY_25_DIGEST.0 != 0 {
            Self(self.0 | Self::MANDATORY_25.0)
        } else {
            self
        }
    }

    /// Names of the flags in `required` that `self` lacks, as OTP prints them
    /// (`"BIG_CREATION"`), lowest bit first.
    pub fn missing(self, required: Self) -> Vec<&'static str> {
        NAMES
            .iter()
            .filter(|(_, v)| required.0 & v != 0 && self.0 & v == 0)
            .map(|(n, _)| *n)
            .collect()
    }
}

impl BitOr for DFlags {
    type Output = Self;
    fn bitor(self, rhs: Self) -> Self {
        Self(self.0 | rhs.0)
    }
}

impl BitOrAssign for DFlags {
    fn bitor_assign(&mut self, rhs: Self) {
        self.0 |= rhs.0;
    }
}

impl BitAnd for DFlags {
    type Output = Self;
    fn bitand(self, rhs: Self) -> Self {
        Self(self.0 & rhs.0)
    }
}

impl Not for DFlags {
    type Output = Self;
    fn not(self) -> Self {
        Self(!self.0)
    }
}

impl fmt::Debug for DFlags {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:#x} ", self.0)?;
        let mut first = true;
        let mut known = 0;
        for (name, v) in NAMES {
            if self.0 & v != 0 {
                known |= v;
                if !first {
                    f.write_str("|")?;
                }
                f.write_str(name)?;
                first = false;
            }
        }
        if self.0 & !known != 0 {
            write!(f, "|UNKNOWN<{:#x}>", self.0 & !known)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_match_dist_hrl() {
        assert_eq!(DFlags::MANDATORY_25_DIGEST.0, 0x0400_0000);
        assert_eq!(DFlags::SPAWN.0, 0x1_0000_0000);
        assert_eq!(DFlags::ALIAS.0, 0x8_0000_0000);
        assert_eq!(DFlags::DIST_HDR_ATOM_CACHE.0, 0x2000);
        // The set the protocol notes recorded being accepted by OTP 25, plus
        // FRAGMENTS and the atom cache.
        assert_eq!(
            (DFlags::OURS | DFlags::PUBLISHED).0,
            0x0000_000D_075F_5FBD | DFlags::FRAGMENTS.0 | DFlags::DIST_HDR_ATOM_CACHE.0
        );
    }

    #[test]
    fn digest_expands_to_mandatory_set() {
        let f = DFlags::MANDATORY_25_DIGEST.expand_mandatory_25();
        assert!(f.contains(DFlags::MANDATORY_25));
        assert!(
            DFlags::EMPTY
                .missing(DFlags::MANDATORY_25)
                .contains(&"BIG_CREATION")
        );
    }
}
