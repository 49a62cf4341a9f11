//! A mixed-release cluster: `distro` as one between two on OTP 25 and
//! three on OTP 29 (Elixir of each release). The seed story runs on it:
//! ping (every node comes up and is reached by ctl), `global` (two and
//! three agree on `Distro.DistroCal`'s pid, add(4, 5) goes through it),
//! rpc (every check is an rpc), failover to the OTP 29 node when one is
//! killed, and takeover when it comes back.
//!
//! It does not depend on `DISTRO_OTP`, so it runs in the OTP 25 pass only
//! (the one `scripts/test.sh --quick` runs too).

use super::*;

#[test]
fn distro_between_otp25_and_otp29() {
    let Some(otp) = require_otp() else { return };
    if otp.number() != 25 {
        eprintln!("runs in the OTP 25 pass (it uses OTP 25 and 29 containers)");
        return;
    }
    if !require_images(&[25, 29]) {
        return;
    }
    let o = super::seed::story("mixed 25/29, distro as one", Some("one"), [25, 25, 29]);
    eprintln!(
        "{} mixed: distro one, Elixir/OTP 25 two, Elixir/OTP 29 three: kill one -> app at \
         three {}, start one -> takeover {}",
        tag(&otp),
        secs(o.failover),
        secs(o.takeover)
    );
}
