//! Certificate verification as OTP's `ssl` does it for the distribution:
//! `verify_peer` checks the peer's chain against the `cacertfile` CAs
//! (validity dates, signatures, extended key usage), at most `depth`
//! intermediate CAs deep; the client also checks the host name
//! ([`super::hostname`]); the server asks for a client certificate and,
//! with `fail_if_no_peer_cert`, refuses a client without one.
//! `verify_none` checks nothing but the handshake signatures.
//!
//! The chain itself is checked by `webpki` (the verifier rustls uses),
//! which limits paths to 6 intermediate CAs whatever `depth` says.

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{WebPkiSupportedAlgorithms, verify_tls12_signature, verify_tls13_signature};
use rustls::pki_types::{CertificateDer, ServerName, TrustAnchor, UnixTime};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::{
    CertificateError, DigitallySignedStruct, DistinguishedName, Error, OtherError, SignatureScheme,
};
use std::sync::Arc;

/// The CAs a side trusts and how deep a path may be.
#[derive(Debug, Clone)]
pub(crate) struct Trust {
    /// Trust anchors from `cacertfile` / `cacerts`.
    pub(crate) roots: Arc<Vec<TrustAnchor<'static>>>,
    /// `depth`: most intermediate CAs between the peer and a root.
    pub(crate) depth: u32,
    /// The provider's signature algorithms.
    pub(crate) algs: WebPkiSupportedAlgorithms,
}

impl Trust {
    /// Checks `end_entity` and `intermediates` against the roots for `usage`.
    fn verify_chain(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        now: UnixTime,
        usage: webpki::KeyUsage,
    ) -> Result<(), Error> {
        let cert = webpki::EndEntityCert::try_from(end_entity).map_err(pki_error)?;
        let depth = self.depth as usize;
        let within_depth = |path: &webpki::VerifiedPath<'_>| {
            if path.intermediate_certificates().count() > depth {
                Err(webpki::Error::MaximumPathDepthExceeded)
            } else {
                Ok(())
            }
        };
        cert.verify_for_usage(
            self.algs.all,
            &self.roots,
            intermediates,
            now,
            usage,
            None,
            Some(&within_depth),
        )
        .map(drop)
        .map_err(|e| match e {
            webpki::Error::MaximumPathDepthExceeded => other(format!(
                "the certification path is longer than depth {} allows",
                self.depth
            )),
            e => pki_error(e),
        })
    }
}

/// What the client checks of the server it dials.
#[derive(Debug)]
pub(crate) struct ServerVerifier {
    /// `None`: `verify_none`.
    pub(crate) trust: Option<Trust>,
    /// The host the certificate must be valid for; `None` when
    /// `server_name_indication` is `disable`.
    pub(crate) host: Option<String>,
    /// The provider's signature algorithms.
    pub(crate) algs: WebPkiSupportedAlgorithms,
}

impl ServerCertVerifier for ServerVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, Error> {
        let Some(trust) = &self.trust else {
            return Ok(ServerCertVerified::assertion());
        };
        trust.verify_chain(
            end_entity,
            intermediates,
            now,
            webpki::KeyUsage::server_auth(),
        )?;
        if let Some(host) = &self.host {
            if !super::hostname::verify_hostname(end_entity, host) {
                // OTP: {bad_cert, {hostname_check_failed, {requested, Host}, {received, Names}}}
                let presented = super::hostname::presented_names(end_entity);
                return Err(match ServerName::try_from(host.as_str()) {
                    Ok(expected) => {
                        Error::InvalidCertificate(CertificateError::NotValidForNameContext {
                            expected: expected.to_owned(),
                            presented,
                        })
                    }
                    Err(_) => other(format!(
                        "certificate not valid for name {host:?}; it names {}",
                        presented.join(", ")
                    )),
                });
            }
        }
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        verify_tls12_signature(message, cert, dss, &self.algs)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        verify_tls13_signature(message, cert, dss, &self.algs)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algs.supported_schemes()
    }
}

/// What the server checks of a client (`verify_peer` on the server side).
#[derive(Debug)]
pub(crate) struct ClientVerifier {
    pub(crate) trust: Trust,
    /// `fail_if_no_peer_cert`.
    pub(crate) mandatory: bool,
    /// The roots' subjects, sent as `certificate_authorities`.
    pub(crate) hints: Vec<DistinguishedName>,
}

impl ClientVerifier {
    pub(crate) fn new(trust: Trust, mandatory: bool) -> Self {
        let hints = trust
            .roots
            .iter()
            .map(|ta| DistinguishedName::in_sequence(ta.subject.as_ref()))
            .collect();
        Self {
            trust,
            mandatory,
            hints,
        }
    }
}

impl ClientCertVerifier for ClientVerifier {
    fn offer_client_auth(&self) -> bool {
        true
    }

    fn client_auth_mandatory(&self) -> bool {
        self.mandatory
    }

    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        &self.hints
    }

    fn verify_client_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        now: UnixTime,
    ) -> Result<ClientCertVerified, Error> {
        self.trust.verify_chain(
            end_entity,
            intermediates,
            now,
            webpki::KeyUsage::client_auth(),
        )?;
        Ok(ClientCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        verify_tls12_signature(message, cert, dss, &self.trust.algs)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        verify_tls13_signature(message, cert, dss, &self.trust.algs)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.trust.algs.supported_schemes()
    }
}

/// Our own text for a certificate error; rustls prints it with `{:?}`.
struct Message(String);

impl std::fmt::Debug for Message {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::fmt::Display for Message {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Message {}

/// A certificate error with our own text.
fn other(text: String) -> Error {
    Error::InvalidCertificate(CertificateError::Other(OtherError(Arc::new(Message(text)))))
}

/// webpki's verdict as a rustls error (alert and log text follow from it).
fn pki_error(e: webpki::Error) -> Error {
    use webpki::Error as W;
    let ce = match e {
        W::BadDer | W::BadDerTime | W::TrailingData(_) => CertificateError::BadEncoding,
        W::CertExpired { time, not_after } => CertificateError::ExpiredContext { time, not_after },
        W::CertNotValidYet { time, not_before } => {
            CertificateError::NotValidYetContext { time, not_before }
        }
        W::InvalidCertValidity => CertificateError::Expired,
        W::UnknownIssuer => CertificateError::UnknownIssuer,
        W::InvalidSignatureForPublicKey => CertificateError::BadSignature,
        #[allow(deprecated)]
        W::RequiredEkuNotFound | W::RequiredEkuNotFoundContext(_) => {
            CertificateError::InvalidPurpose
        }
        e => return other(format!("{e:?}")),
    };
    Error::InvalidCertificate(ce)
}
