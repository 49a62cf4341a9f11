//! The `distro` binary: an `erl`-like command line around the library.

/// Counts live heap bytes for `erlang:memory/0` over rpc.
#[global_allocator]
static ALLOC: distro::kernel::introspection::CountingAlloc =
    distro::kernel::introspection::CountingAlloc;

fn main() -> std::process::ExitCode {
    distro::cli::main()
}
