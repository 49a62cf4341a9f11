//! From [`SslDistOptions`] to rustls configurations: OTP's defaults, the
//! certificate, key and CA files read, versions and cipher suites mapped.
//!
//! Defaults are OTP 26+'s: the client verifies the server (`verify_peer`,
//! which then needs CAs), the server asks for no client certificate
//! (`verify_none`) unless told to, `depth` is 10, and a side with any option
//! speaks only TLS 1.2 unless `versions` says otherwise
//! (`inet_tls_dist:dist_defaults/1`).

use super::TlsError;
use super::options::{SideOptions, Sni, SslDistOptions, TlsVersion, Verify};
use super::verify::{ClientVerifier, Trust};
use rustls::SupportedCipherSuite;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, TrustAnchor};
use rustls::{CipherSuite, ClientConfig, ServerConfig, SupportedProtocolVersion};
use std::path::Path;
use std::sync::Arc;

/// Largest certificate, key or CA file read.
const MAX_FILE: u64 = 4 * 1024 * 1024;

/// OTP's default `depth`.
const DEFAULT_DEPTH: u32 = 10;

/// What the client side needs besides its rustls configuration.
#[derive(Debug, Clone)]
pub(crate) struct ClientSide {
    pub(crate) config: Arc<ClientConfig>,
    /// `None`: `verify_none`.
    pub(crate) trust: Option<Trust>,
    pub(crate) sni: Option<Sni>,
}

/// Builds the server (accepting) configuration.
pub(crate) fn server(
    opts: &SslDistOptions,
    warnings: &mut Vec<String>,
) -> Result<Arc<ServerConfig>, TlsError> {
    let o = &opts.server;
    let provider = provider(o, "server", warnings)?;
    let certfile = o.certfile.as_deref().ok_or_else(|| {
        TlsError::Config(
            "the server options need a certfile ({certfile, File} in the server list of -ssl_dist_optfile, or -ssl_dist_opt server_certfile File)".into(),
        )
    })?;
    let chain = certs(certfile, "server certfile")?;
    let key = key(
        o.keyfile.as_deref().unwrap_or(certfile),
        o.keyfile.is_some(),
        "server",
    )?;
    let verify = o.verify.unwrap_or(Verify::None);
    let fail = o.fail_if_no_peer_cert.unwrap_or(false);
    let builder = ServerConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(&versions(o))
        .map_err(|e| TlsError::Config(format!("server options: {e}")))?;
    let builder = match verify {
        Verify::None if fail => {
            return Err(TlsError::Config(
                "server options: {fail_if_no_peer_cert, true} needs {verify, verify_peer}".into(),
            ));
        }
        Verify::None => builder.with_no_client_auth(),
        Verify::Peer => {
            let trust = trust(o, "server", &provider)?;
            builder.with_client_cert_verifier(Arc::new(ClientVerifier::new(trust, fail)))
        }
    };
    let mut config = builder
        .with_single_cert(chain, key)
        .map_err(|e| TlsError::Config(format!("server certfile and keyfile: {e}")))?;
    // Distribution connections live long; no session resumption.
    config.session_storage = Arc::new(rustls::server::NoServerSessionStorage {});
    config.send_tls13_tickets = 0;
    Ok(Arc::new(config))
}

/// Builds the client (dialling) configuration, without its verifier (set
/// per connection, as it knows the host dialled).
pub(crate) fn client(
    opts: &SslDistOptions,
    warnings: &mut Vec<String>,
) -> Result<ClientSide, TlsError> {
    let o = &opts.client;
    let provider = provider(o, "client", warnings)?;
    let trust = match o.verify.unwrap_or(Verify::Peer) {
        Verify::None => None,
        Verify::Peer => Some(trust(o, "client", &provider)?),
    };
    let placeholder = Arc::new(super::verify::ServerVerifier {
        trust: None,
        host: None,
        algs: provider.signature_verification_algorithms,
    });
    let builder = ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(&versions(o))
        .map_err(|e| TlsError::Config(format!("client options: {e}")))?
        .dangerous()
        .with_custom_certificate_verifier(placeholder);
    let mut config = match &o.certfile {
        Some(certfile) => {
            let chain = certs(certfile, "client certfile")?;
            let key = key(
                o.keyfile.as_deref().unwrap_or(certfile),
                o.keyfile.is_some(),
                "client",
            )?;
            builder
                .with_client_auth_cert(chain, key)
                .map_err(|e| TlsError::Config(format!("client certfile and keyfile: {e}")))?
        }
        None => builder.with_no_client_auth(),
    };
    config.resumption = rustls::client::Resumption::disabled();
    Ok(ClientSide {
        config: Arc::new(config),
        trust,
        sni: o.sni.clone(),
    })
}

/// `versions`, or TLS 1.2 alone (`dist_defaults/1`); every version when
/// a side has no option at all.
fn versions(o: &SideOptions) -> Vec<&'static SupportedProtocolVersion> {
    match &o.versions {
        Some(v) => v
            .iter()
            .map(|v| match v {
                TlsVersion::Tls12 => &rustls::version::TLS12,
                TlsVersion::Tls13 => &rustls::version::TLS13,
            })
            .collect(),
        None if o.any => vec![&rustls::version::TLS12],
        None => vec![&rustls::version::TLS13, &rustls::version::TLS12],
    }
}

/// Cipher suites rustls's ring provider has, under their RFC and OpenSSL
/// names (TLS 1.3 suites have the same name in both).
const SUITE_NAMES: &[(CipherSuite, &str, &str)] = &[
    (
        CipherSuite::TLS13_AES_256_GCM_SHA384,
        "TLS_AES_256_GCM_SHA384",
        "TLS_AES_256_GCM_SHA384",
    ),
    (
        CipherSuite::TLS13_AES_128_GCM_SHA256,
        "TLS_AES_128_GCM_SHA256",
        "TLS_AES_128_GCM_SHA256",
    ),
    (
        CipherSuite::TLS13_CHACHA20_POLY1305_SHA256,
        "TLS_CHACHA20_POLY1305_SHA256",
        "TLS_CHACHA20_POLY1305_SHA256",
    ),
    (
        CipherSuite::TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
        "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
        "ECDHE-ECDSA-AES256-GCM-SHA384",
    ),
    (
        CipherSuite::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
        "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
        "ECDHE-ECDSA-AES128-GCM-SHA256",
    ),
    (
        CipherSuite::TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
        "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256",
        "ECDHE-ECDSA-CHACHA20-POLY1305",
    ),
    (
        CipherSuite::TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
        "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
        "ECDHE-RSA-AES256-GCM-SHA384",
    ),
    (
        CipherSuite::TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
        "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
        "ECDHE-RSA-AES128-GCM-SHA256",
    ),
    (
        CipherSuite::TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
        "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256",
        "ECDHE-RSA-CHACHA20-POLY1305",
    ),
];

/// The ring provider, its suites restricted to `ciphers` (in the order
/// given). Names rustls lacks (CBC, DHE, RSA key exchange...) are skipped
/// with a warning; none left is an error.
fn provider(
    o: &SideOptions,
    side: &str,
    warnings: &mut Vec<String>,
) -> Result<Arc<CryptoProvider>, TlsError> {
    let mut provider = rustls::crypto::ring::default_provider();
    if let Some(names) = &o.ciphers {
        let all = provider.cipher_suites.clone();
        let mut chosen: Vec<SupportedCipherSuite> = Vec::new();
        let mut skipped = Vec::new();
        for name in names {
            let found = SUITE_NAMES
                .iter()
                .find(|(_, rfc, openssl)| {
                    name.eq_ignore_ascii_case(rfc) || name.eq_ignore_ascii_case(openssl)
                })
                .and_then(|(suite, _, _)| all.iter().find(|s| s.suite() == *suite));
            match found {
                Some(s) if !chosen.iter().any(|c| c.suite() == s.suite()) => chosen.push(*s),
                Some(_) => {}
                None => skipped.push(name.as_str()),
            }
        }
        if !skipped.is_empty() {
            warnings.push(format!(
                "{side} ciphers: skipping {} (not available in rustls)",
                skipped.join(", ")
            ));
        }
        if chosen.is_empty() {
            let supported: Vec<&str> = SUITE_NAMES.iter().map(|(_, _, n)| *n).collect();
            return Err(TlsError::Config(format!(
                "{side} ciphers: none of {} is available; rustls has {}",
                names.join(", "),
                supported.join(", ")
            )));
        }
        provider.cipher_suites = chosen;
    }
    Ok(Arc::new(provider))
}

fn trust(o: &SideOptions, side: &str, provider: &CryptoProvider) -> Result<Trust, TlsError> {
    let mut ders: Vec<CertificateDer<'static>> = o
        .cacerts
        .iter()
        .map(|d| CertificateDer::from(d.clone()))
        .collect();
    if let Some(file) = &o.cacertfile {
        ders.extend(certs(file, &format!("{side} cacertfile"))?);
    }
    if ders.is_empty() {
        return Err(TlsError::Config(format!(
            "{side} options: verify_peer{} needs the CAs to trust: {{cacertfile, File}} (or {{verify, verify_none}})",
            if side == "client" {
                " (the default)"
            } else {
                ""
            }
        )));
    }
    let roots = ders
        .iter()
        .map(|d| {
            webpki::anchor_from_trusted_cert(d)
                .map(|a| a.to_owned())
                .map_err(|e| {
                    TlsError::Config(format!(
                        "{side} cacertfile: a CA certificate is malformed: {e:?}"
                    ))
                })
        })
        .collect::<Result<Vec<TrustAnchor<'static>>, _>>()?;
    Ok(Trust {
        roots: Arc::new(roots),
        depth: o.depth.unwrap_or(DEFAULT_DEPTH),
        algs: provider.signature_verification_algorithms,
    })
}

fn read(path: &Path, what: &str) -> Result<Vec<u8>, TlsError> {
    let file = |why: String| TlsError::File {
        what: what.to_owned(),
        path: path.display().to_string(),
        why,
    };
    let meta = std::fs::metadata(path).map_err(|e| file(e.to_string()))?;
    if meta.len() > MAX_FILE {
        return Err(file(format!("larger than {MAX_FILE} bytes")));
    }
    std::fs::read(path).map_err(|e| file(e.to_string()))
}

/// The PEM certificates of `path`, in order.
fn certs(path: &Path, what: &str) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let bytes = read(path, what)?;
    let certs = CertificateDer::pem_slice_iter(&bytes)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| TlsError::File {
            what: what.to_owned(),
            path: path.display().to_string(),
            why: format!("bad PEM: {e}"),
        })?;
    if certs.is_empty() {
        return Err(TlsError::File {
            what: what.to_owned(),
            path: path.display().to_string(),
            why: "no PEM certificate (-----BEGIN CERTIFICATE-----) in it".into(),
        });
    }
    Ok(certs)
}

/// The private key in `path` (the keyfile, or the certfile holding both).
fn key(path: &Path, is_keyfile: bool, side: &str) -> Result<PrivateKeyDer<'static>, TlsError> {
    let what = format!(
        "{side} {}",
        if is_keyfile {
            "keyfile"
        } else {
            "certfile (no keyfile given)"
        }
    );
    let bytes = read(path, &what)?;
    let err = |why: String| TlsError::File {
        what: what.clone(),
        path: path.display().to_string(),
        why,
    };
    if bytes.windows(9).any(|w| w == b"ENCRYPTED") {
        return Err(err(
            "the private key is encrypted; distro needs an unencrypted key".into(),
        ));
    }
    PrivateKeyDer::from_pem_slice(&bytes).map_err(|e| err(format!("no usable private key: {e}")))
}
