//! pg scopes with Rust and BEAM members, against real BEAM nodes of the
//! release `DISTRO_OTP` selects (25, 27 or 29): mixed membership, member
//! death with scope and group monitors, node death, a partition and its
//! heal from either side, scopes that run on only some nodes. In every
//! test all nodes running a scope end up agreeing on its membership
//! (groups, members, local members), and no BEAM node logs anything but
//! eval answers: a BEAM scope that got a message it does not expect
//! crashes with a report on its output.
//!
//! Reference: `lib/kernel/src/pg.erl` of OTP 25.2 and 27.3, `pg.erl` and
//! `data_publisher.erl` of OTP 29.1.

mod cluster;
mod failures;
mod scenarios;
mod scopes;
