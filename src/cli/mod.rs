//! The `erl`-compatible command line.

pub mod args;
