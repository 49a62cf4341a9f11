//! Errors of the EPMD client, server and launcher.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

/// Everything that can go wrong talking to, serving as, or starting EPMD.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EpmdError {
    /// No TCP connection to EPMD.
    #[error("cannot connect to EPMD at {addr}: {source}")]
    Connect {
        /// The EPMD address tried.
        addr: SocketAddr,
        /// Why the connection failed.
        #[source]
        source: std::io::Error,
    },
    /// `ALIVE2_REQ` answered with a non-zero result. epmd has a single
    /// refusal code, and a taken name is by far its likeliest reason, which
    /// is how `net_kernel` reports it too.
    #[error(
        "the name {name} seems to be in use by another Erlang node \
         (EPMD at {addr} refused the registration with result {code})"
    )]
    NameInUse {
        /// The node name without host.
        name: String,
        /// The EPMD address.
        addr: SocketAddr,
        /// The result code of the `ALIVE2` reply.
        code: u8,
    },
    /// A node name EPMD would not accept.
    #[error("invalid node name {name:?}: {reason}")]
    InvalidName {
        /// The rejected name.
        name: String,
        /// Why.
        reason: &'static str,
    },
    /// EPMD did not answer in time.
    #[error("EPMD at {addr} did not answer {request} within {timeout:?}")]
    Timeout {
        /// The EPMD address.
        addr: SocketAddr,
        /// The request, e.g. `"ALIVE2_REQ"`.
        request: &'static str,
        /// How long we waited.
        timeout: Duration,
    },
    /// The request failed on the wire: I/O error, early close, unexpected
    /// reply tag or an unparsable reply.
    #[error("{request} to EPMD at {addr} failed: {source}")]
    Request {
        /// The EPMD address.
        addr: SocketAddr,
        /// The request, e.g. `"PORT_PLEASE2_REQ"`.
        request: &'static str,
        /// The underlying failure.
        #[source]
        source: erl_dist::epmd::EpmdError,
    },
    /// The registration connection ended: EPMD went away, or broke the
    /// protocol by sending data on it.
    #[error("EPMD at {addr} dropped the registration of {name}: {reason}")]
    RegistrationLost {
        /// The EPMD address.
        addr: SocketAddr,
        /// The node name without host.
        name: String,
        /// What happened on the connection.
        reason: String,
    },
    /// Our EPMD server could not listen.
    #[error("cannot listen for EPMD requests on {addr}: {source}")]
    Listen {
        /// The address we tried to bind.
        addr: SocketAddr,
        /// Why binding failed (`AddrInUse`: another EPMD is running).
        #[source]
        source: std::io::Error,
    },
    /// Starting an EPMD process failed.
    #[error("cannot start EPMD with {program:?}: {source}")]
    Spawn {
        /// The executable.
        program: PathBuf,
        /// Why it failed.
        #[source]
        source: std::io::Error,
    },
    /// Neither a system `epmd` nor our own executable is available to start.
    #[error("no EPMD answers on port {port} and none can be started: {reason}")]
    NoLauncher {
        /// The EPMD port.
        port: u16,
        /// What is missing.
        reason: String,
    },
    /// An EPMD was started but did not answer in time.
    #[error(
        "started EPMD with {program:?} but nothing answered NAMES_REQ on {addr} within {waited:?}"
    )]
    StartTimeout {
        /// The executable that was started.
        program: PathBuf,
        /// The address polled.
        addr: SocketAddr,
        /// How long we polled.
        waited: Duration,
    },
}
