//! Test certificates, generated at run time with rcgen (no key is ever
//! stored in the repository): a CA and the node certificates it signs.
//! Shared by the unit tests (`src/dist/tls`) and the interop tests
//! (`tests/integration/support/tls.rs` includes this file).

use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DistinguishedName, DnType,
    ExtendedKeyUsagePurpose, IsCa, KeyPair, KeyUsagePurpose, SanType,
};
use std::time::{Duration, SystemTime};

/// A test CA (a root, or an intermediate CA under another).
pub(crate) struct Pki {
    ca: CertifiedIssuer<'static, KeyPair>,
    /// PEM of the intermediate CAs from this one up to the root, excluded.
    chain: String,
}

/// When a certificate is valid.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Validity {
    /// From a day ago to thirty days ahead.
    Current,
    /// Expired yesterday.
    Expired,
}

/// A certificate and its private key, both PEM.
pub(crate) struct Leaf {
    /// The certificate followed by its intermediate CAs (the `certfile`).
    pub(crate) cert_pem: String,
    pub(crate) key_pem: String,
    pub(crate) der: Vec<u8>,
}

fn dn(cn: &str) -> DistinguishedName {
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, cn);
    dn
}

const DAY: Duration = Duration::from_secs(86_400);

impl Pki {
    /// A self-signed CA whose subject is `CN=<name>`.
    pub(crate) fn new(name: &str) -> Self {
        let mut params = CertificateParams::default();
        params.distinguished_name = dn(name);
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        params.not_before = (SystemTime::now() - DAY).into();
        params.not_after = (SystemTime::now() + 365 * DAY).into();
        let key = KeyPair::generate().expect("CA key");
        Self {
            ca: CertifiedIssuer::self_signed(params, key).expect("CA certificate"),
            chain: String::new(),
        }
    }

    /// An intermediate CA `CN=<name>` signed by this one.
    pub(crate) fn intermediate(&self, name: &str) -> Self {
        let mut params = CertificateParams::default();
        params.distinguished_name = dn(name);
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        params.not_before = (SystemTime::now() - DAY).into();
        params.not_after = (SystemTime::now() + 365 * DAY).into();
        let key = KeyPair::generate().expect("CA key");
        let ca = CertifiedIssuer::signed_by(params, key, &self.ca).expect("CA certificate");
        let chain = format!("{}{}", ca.pem(), self.chain);
        Self { ca, chain }
    }

    /// The CA certificate, PEM (the `cacertfile`).
    pub(crate) fn ca_pem(&self) -> String {
        self.ca.pem()
    }

    /// A node certificate for `hosts`, each both a `dNSName` and, when it
    /// is an address, an `iPAddress` subjectAltName (so that OTP 25, which
    /// matches the text, and OTP 27+, which matches the address, both
    /// accept it), for TLS servers and clients alike.
    pub(crate) fn node(&self, cn: &str, hosts: &[&str], validity: Validity) -> Leaf {
        let mut sans = Vec::new();
        for h in hosts {
            sans.push(SanType::DnsName((*h).try_into().expect("DNS SAN")));
            if let Ok(ip) = h.parse() {
                sans.push(SanType::IpAddress(ip));
            }
        }
        self.leaf(cn, sans, validity)
    }

    /// A certificate with exactly these subjectAltNames (none: a subject
    /// common name only).
    pub(crate) fn leaf(&self, cn: &str, sans: Vec<SanType>, validity: Validity) -> Leaf {
        let mut params = CertificateParams::default();
        params.distinguished_name = dn(cn);
        params.subject_alt_names = sans;
        params.extended_key_usages = vec![
            ExtendedKeyUsagePurpose::ServerAuth,
            ExtendedKeyUsagePurpose::ClientAuth,
        ];
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        let now = SystemTime::now();
        (params.not_before, params.not_after) = match validity {
            Validity::Current => ((now - DAY).into(), (now + 30 * DAY).into()),
            Validity::Expired => ((now - 30 * DAY).into(), (now - DAY).into()),
        };
        let key = KeyPair::generate().expect("node key");
        let cert = params.signed_by(&key, &self.ca).expect("node certificate");
        Leaf {
            cert_pem: format!("{}{}", cert.pem(), self.chain),
            key_pem: key.serialize_pem(),
            der: cert.der().to_vec(),
        }
    }
}
