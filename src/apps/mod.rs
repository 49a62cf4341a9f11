//! Built-in applications, written only against the public API
//! ([`crate::kernel::application_controller`], [`crate::runtime`],
//! [`crate::kernel::rex`]), as examples for users.
//!
//! * [`distro`]: the seed's Elixir demo (`Distro.DistroCal`).
//! * [`myapp`]: the OTP guide's distributed application example (and the
//!   test application of the golden traces).

pub mod distro;
pub mod myapp;

use crate::kernel::application_controller::ApplicationController;
use std::sync::Arc;

/// Makes the built-in applications available to `ac` (`MYAPP_START_PHASES=1`
/// gives `myapp` a `{start_phases, [{go, []}]}` key, as the traces' harness).
pub fn add_builtin(ac: &ApplicationController) {
    ac.add(Arc::new(distro::Distro));
    let phases = std::env::var("MYAPP_START_PHASES").is_ok_and(|v| v == "1");
    ac.add(Arc::new(myapp::MyApp::new(phases)));
}
