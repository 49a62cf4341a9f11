//! TLS distribution, as `-proto_dist inet_tls` runs it: EPMD as for TCP,
//! then TLS from the first byte of every connection, then the ordinary
//! distribution handshake inside TLS with 4-byte length headers
//! ([`Framing::Packet4`](super::handshake::Framing)), then the data phase
//! unchanged. The cookie is still checked by that handshake.
//!
//! Dialling, the host part of the peer's node name is sent as SNI (a DNS
//! name; an address is not sent, as RFC 6066 wants, where OTP 25 sent its
//! text) and the peer's certificate must be valid for it
//! ([`hostname::verify_hostname`]); `{server_name_indication, disable}`
//! turns both off and `{server_name_indication, Host}` uses `Host`.
//! Accepting, SNI is ignored, as OTP ignores it without `sni_fun`.
//!
//! Mirrors `otp:lib/ssl/src/inet_tls_dist.erl` (`do_setup/7`,
//! `accept_one/3`, `get_ssl_options/1`) and `ssl_dist_sup.erl` (the options
//! file). Options are read by [`options`], turned into rustls
//! configurations by `build`, and certificates checked by `verify`
//! (with [`hostname`] for the client's host name check).
//!
//! ```no_run
//! use distro::dist::tls::TlsDist;
//! # fn main() -> Result<(), distro::dist::tls::TlsError> {
//! // erl -proto_dist inet_tls -ssl_dist_optfile /etc/ssl_dist.conf
//! let (tls, warnings) = TlsDist::load(Some("/etc/ssl_dist.conf".as_ref()), &[])?;
//! let mut cfg = distro::runtime::NodeConfig::new("rust@127.0.0.1", "secret");
//! cfg.tls = Some(std::sync::Arc::new(tls));
//! # Ok(()) }
//! ```

mod build;
pub mod hostname;
pub mod options;
mod verify;

#[cfg(test)]
mod tls_test;

use options::{OptionsError, Sni, SslDistOptions};
use rustls::pki_types::ServerName;
use std::net::IpAddr;
use std::path::Path;
use std::sync::Arc;
use tokio::net::TcpStream;

/// Largest `-ssl_dist_optfile` read.
const MAX_OPTFILE: u64 = 1024 * 1024;

/// Why the TLS distribution could not be set up; `Display` is one line.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// A bad option or options file.
    #[error(transparent)]
    Options(#[from] OptionsError),
    /// The options file cannot be read.
    #[error("-ssl_dist_optfile {path}: {why}")]
    OptFile {
        /// The file.
        path: String,
        /// Why.
        why: String,
    },
    /// A certificate, key or CA file named by the options is unusable.
    #[error("{what} {path}: {why}")]
    File {
        /// Which option (`server certfile`).
        what: String,
        /// The file.
        path: String,
        /// Why.
        why: String,
    },
    /// Options that do not make a TLS configuration.
    #[error("{0}")]
    Config(String),
}

/// The TLS side of a node: what it presents and checks, accepting and
/// dialling. Built once at start; cheap to share.
pub struct TlsDist {
    server: Arc<rustls::ServerConfig>,
    client: build::ClientSide,
}

impl std::fmt::Debug for TlsDist {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsDist")
            .field("client_verify", &self.client.trust.is_some())
            .field("client_sni", &self.client.sni)
            .finish_non_exhaustive()
    }
}

impl TlsDist {
    /// Reads `-ssl_dist_optfile FILE` (if any) and the `-ssl_dist_opt`
    /// arguments, and loads the files they name. Returns the options that
    /// were accepted but have no effect, one warning line each.
    pub fn load(optfile: Option<&Path>, args: &[String]) -> Result<(Self, Vec<String>), TlsError> {
        let text = match optfile {
            None => None,
            Some(path) => Some((path.display().to_string(), read_optfile(path)?)),
        };
        let opts =
            SslDistOptions::read(args, text.as_ref().map(|(p, t)| (p.as_str(), t.as_str())))?;
        Self::from_options(&opts)
    }

    /// Builds from parsed options, loading the files they name.
    pub fn from_options(opts: &SslDistOptions) -> Result<(Self, Vec<String>), TlsError> {
        let mut warnings = opts.warnings.clone();
        let server = build::server(opts, &mut warnings)?;
        let client = build::client(opts, &mut warnings)?;
        Ok((Self { server, client }, warnings))
    }

    /// The TLS handshake as the client, towards a node on `host` (the host
    /// part of its name, also sent as SNI and checked against its
    /// certificate, unless `server_name_indication` says otherwise).
    pub(crate) async fn connect(
        &self,
        host: &str,
        tcp: TcpStream,
    ) -> std::io::Result<tokio_rustls::client::TlsStream<TcpStream>> {
        let checked = match &self.client.sni {
            Some(Sni::Disable) => None,
            Some(Sni::Host(h)) => Some(h.clone()),
            None => Some(host.strip_suffix('.').unwrap_or(host).to_owned()),
        };
        let mut config = (*self.client.config).clone();
        config.enable_sni = checked.is_some();
        let verifier = verify::ServerVerifier {
            trust: self.client.trust.clone(),
            host: checked.clone(),
            algs: config.crypto_provider().signature_verification_algorithms,
        };
        config
            .dangerous()
            .set_certificate_verifier(Arc::new(verifier));
        // rustls needs a name or an address; a host that is neither (no
        // SNI can carry it) is still what the verifier checks.
        let name = checked
            .and_then(|h| ServerName::try_from(h).ok())
            .unwrap_or_else(|| {
                let ip = tcp
                    .peer_addr()
                    .map_or(IpAddr::from([127, 0, 0, 1]), |a| a.ip());
                ServerName::IpAddress(ip.into())
            });
        tokio_rustls::TlsConnector::from(Arc::new(config))
            .connect(name, tcp)
            .await
    }

    /// The TLS handshake as the server.
    pub(crate) async fn accept(
        &self,
        tcp: TcpStream,
    ) -> std::io::Result<tokio_rustls::server::TlsStream<TcpStream>> {
        tokio_rustls::TlsAcceptor::from(self.server.clone())
            .accept(tcp)
            .await
    }
}

fn read_optfile(path: &Path) -> Result<String, TlsError> {
    let err = |why: String| TlsError::OptFile {
        path: path.display().to_string(),
        why,
    };
    let meta = std::fs::metadata(path).map_err(|e| err(e.to_string()))?;
    if meta.len() > MAX_OPTFILE {
        return Err(err(format!("larger than {MAX_OPTFILE} bytes")));
    }
    let bytes = std::fs::read(path).map_err(|e| err(e.to_string()))?;
    // epp's default encoding for a file without a coding comment is
    // Latin-1; UTF-8 text is read as UTF-8.
    Ok(String::from_utf8(bytes)
        .unwrap_or_else(|e| e.into_bytes().iter().map(|&b| char::from(b)).collect()))
}

/// Whether the first bytes of a connection are a TLS record (a handshake
/// or an alert of TLS 1.x): what a TLS node sends where a TCP
/// distribution message was expected.
pub fn looks_like_tls(first: &[u8]) -> bool {
    matches!(first, [0x15 | 0x16, 0x03, ..])
}
