//! The `erl`-compatible command line.

pub mod cookie;
pub mod node_name;
