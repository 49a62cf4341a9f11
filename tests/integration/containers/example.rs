//! `examples/docker_otp.rs`, compiled into this binary and run as is: a
//! Rust node in the test process against an OTP container of the release
//! `DISTRO_OTP` selects (ping, rpc, a global Rust gen_server called from
//! BEAM), through `distro::docker`.

use super::*;

#[path = "../../../examples/docker_otp.rs"]
mod docker_otp;

#[test]
fn example_docker_otp_runs() {
    if setup().is_none() {
        return;
    }
    // The example reads DISTRO_OTP itself (default 27), like require_otp.
    docker_otp::main().expect("examples/docker_otp.rs");
}
