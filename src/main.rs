//! The `distro` binary: an `erl`-like command line around the library.

fn main() {}
