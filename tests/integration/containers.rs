//! Clusters of one host per node in Docker containers (images of
//! `scripts/images.sh`, nodes as `docker-compose.yml` starts them,
//! harness in `support::docker`), against the release `DISTRO_OTP`
//! selects:
//!
//! * `seed`: the seed walkthrough (app at one, `docker kill` one →
//!   failover to three, `docker start` one → takeover) with `distro` as
//!   one, two and three, beside the same story on Elixir nodes only;
//! * `guide`: the OTP guide's cp1/cp2/cp3 story likewise;
//! * `faults`: a hung node (`docker pause`) and a partition (`docker
//!   network disconnect`/`connect`), distro as one against all-BEAM;
//! * `mixed`: distro between an OTP 25 and an OTP 29 container (run in the
//!   OTP 25 pass);
//! * `compose`: README's `docker compose up` of the seed cluster;
//! * `example`: `examples/docker_otp.rs` (a Rust node against an OTP
//!   container through `distro::docker`).
//!
//! Every variant of a scenario runs at the same time in its own cluster, so
//! the times printed side by side (`[containers OTP NN] …`) were measured
//! under the same load.

mod compose;
mod example;
mod faults;
mod guide;
mod mixed;
mod seed;

use crate::support::docker::{DockerCluster, Kind, LONG, require_images};
use crate::support::{Otp, require_otp};
use std::time::Duration;

/// The release under test, if its images (and distro's) exist.
fn setup() -> Option<Otp> {
    let otp = require_otp()?;
    require_images(&[otp.number()]).then_some(otp)
}

/// `[containers OTP NN]`, the prefix of printed measurements.
fn tag(otp: &Otp) -> String {
    format!("[containers OTP {}]", otp.number())
}

/// Runs `f` on each of `variants` in parallel threads; results in order.
fn in_parallel<V: Sync, T: Send>(variants: &[V], f: impl Fn(&V) -> T + Sync) -> Vec<T> {
    std::thread::scope(|s| {
        let handles: Vec<_> = variants.iter().map(|v| s.spawn(|| f(v))).collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or_else(|e| std::panic::resume_unwind(e)))
            .collect()
    })
}

/// A waited-for log line, or a panic with every node's output.
fn expect_log(cl: &DockerCluster, name: &str, needle: &str) {
    if let Err(e) = cl.node(name).wait_for_log(needle, LONG) {
        panic!("{e:#}\n{}", cl.tails());
    }
}

/// Seconds with one decimal, for the printed tables.
fn secs(d: Duration) -> String {
    format!("{:.1} s", d.as_secs_f64())
}

/// `distro` at `at`, else `beam`.
fn kind_at(at: Option<&str>, name: &str, beam: Kind) -> Kind {
    if at == Some(name) { Kind::Distro } else { beam }
}
