//! The `distro` binary: an `erl`-like command line around the library.

fn main() -> std::process::ExitCode {
    distro::cli::main()
}
