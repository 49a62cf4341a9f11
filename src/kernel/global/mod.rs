//! `global` — mirrors `lib/kernel/src/global.erl`.
pub mod core;
