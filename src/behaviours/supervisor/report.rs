//! Supervisor reports as `supervisor:format_log/2` lays them out
//! (`logger_formatter` title `SUPERVISOR REPORT` / `PROGRESS REPORT`):
//!
//! ```text
//! =SUPERVISOR REPORT====
//!     supervisor: {local,'Elixir.Distro.Supervisor'}
//!     errorContext: child_terminated
//!     reason: killed
//!     offender: [{pid,<…>},{id,'Elixir.Distro.DistroCal'},{mfargs,{…}},{restart_type,permanent},{significant,false},{shutdown,5000},{child_type,worker}]
//! ```
//!
//! Error reports go out at `error` level; progress reports at `debug`, as
//! OTP's default logger level (`notice`) hides them.

use super::core::Report;
use crate::term::{Pretty, Term};

/// Logs `report` of the supervisor `name`.
pub(super) fn log(name: &Term, report: &Report) {
    match report {
        Report::Progress { started } => tracing::debug!(
            "=PROGRESS REPORT====\n    supervisor: {}\n    started: {}",
            Pretty(name),
            Pretty(started),
        ),
        Report::Error {
            context,
            reason,
            offender,
        } => tracing::error!(
            "=SUPERVISOR REPORT====\n    supervisor: {}\n    errorContext: {context}\n    reason: {}\n    offender: {}",
            Pretty(name),
            Pretty(reason),
            Pretty(offender),
        ),
    }
}
