//! The `erl`-compatible command line.
