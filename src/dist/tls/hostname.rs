//! The host name check of a TLS client, as OTP's `ssl` makes it for
//! `inet_tls_dist` (`server_name_indication` = the host part of the node
//! name): `public_key:pkix_verify_hostname/3` with the default match
//! function (`otp:lib/public_key/src/public_key.erl`), as OTP 27 and later
//! call it.
//!
//! - A host that is an IP address (`x@127.0.0.1`) must be one of the
//!   certificate's `iPAddress` subjectAltNames. (OTP 25 instead compared it
//!   with the `dNSName`s as text: a certificate meant for every release
//!   carries both.)
//! - Any other host must equal one of the `dNSName` subjectAltNames, ASCII
//!   case aside; wildcards are not expanded.
//! - A certificate without subjectAltNames is matched on its subject's
//!   common names instead, where a wildcard in the first label is allowed
//!   (`*.example.com`, `node*.example.com`), but never for an IP address.
//!
//! The certificate is read with a small bounded DER reader: only the
//! fields on the way to the subject and the extensions are looked at, and
//! anything malformed is "no match".

use std::net::IpAddr;

/// Whether the certificate `cert_der` is valid for `host` (see the module
/// documentation).
pub fn verify_hostname(cert_der: &[u8], host: &str) -> bool {
    let Some(names) = CertNames::parse(cert_der) else {
        return false;
    };
    let host = host.strip_suffix('.').unwrap_or(host);
    if let Ok(ip) = host.parse::<IpAddr>() {
        return names.ips.contains(&ip);
    }
    let host = host.to_ascii_lowercase();
    if names.has_san {
        return names.dns.iter().any(|d| d.to_ascii_lowercase() == host);
    }
    names
        .cns
        .iter()
        .any(|cn| cn_matches(&host, &cn.to_ascii_lowercase()))
}

/// The names `cert_der` presents, for messages: its subjectAltNames
/// (`DNS:`, `IP:`), or its common names (`CN=`) when it has none.
pub fn presented_names(cert_der: &[u8]) -> Vec<String> {
    let Some(names) = CertNames::parse(cert_der) else {
        return vec!["(a malformed certificate)".to_owned()];
    };
    if names.has_san {
        let dns = names.dns.iter().map(|d| format!("DNS:{d}"));
        dns.chain(names.ips.iter().map(|ip| format!("IP:{ip}")))
            .collect()
    } else {
        names.cns.iter().map(|cn| format!("CN={cn}")).collect()
    }
}

/// `verify_hostname_match_default0/2` for `{cn, Name}`: equal, or a
/// wildcard pattern in the first label and equal other labels.
fn cn_matches(host: &str, cn: &str) -> bool {
    if host == cn {
        return !host.contains('*');
    }
    let (Some((h1, hrest)), Some((c1, crest))) = (host.split_once('.'), cn.split_once('.')) else {
        return false;
    };
    hrest == crest && !h1.is_empty() && match_wild(h1, c1)
}

/// `match_wild/2`: `*` alone, or one `*` with a literal prefix and suffix.
fn match_wild(label: &str, pattern: &str) -> bool {
    match pattern.split_once('*') {
        None => label == pattern,
        Some((pre, post)) if !post.contains('*') => {
            label.len() >= pre.len() + post.len() && label.starts_with(pre) && label.ends_with(post)
        }
        Some(_) => false,
    }
}

/// The names a certificate presents.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct CertNames {
    /// Whether it has a subjectAltName extension.
    pub(crate) has_san: bool,
    /// `dNSName` entries.
    pub(crate) dns: Vec<String>,
    /// `iPAddress` entries.
    pub(crate) ips: Vec<IpAddr>,
    /// Common names of the subject.
    pub(crate) cns: Vec<String>,
}

const SEQUENCE: u8 = 0x30;
const SET: u8 = 0x31;
const OID: u8 = 0x06;
const OCTET_STRING: u8 = 0x04;
const BOOLEAN: u8 = 0x01;
/// `[3]` EXPLICIT: the extensions of a TBSCertificate.
const EXTENSIONS: u8 = 0xa3;
/// `[0]` EXPLICIT: the version of a TBSCertificate.
const VERSION: u8 = 0xa0;
/// GeneralName `dNSName [2] IA5String` and `iPAddress [7] OCTET STRING`.
const GN_DNS: u8 = 0x82;
const GN_IP: u8 = 0x87;
/// id-ce-subjectAltName (2.5.29.17).
const OID_SAN: &[u8] = &[0x55, 0x1d, 0x11];
/// id-at-commonName (2.5.4.3).
const OID_CN: &[u8] = &[0x55, 0x04, 0x03];

impl CertNames {
    /// Reads the names of a DER certificate; `None` if it is malformed.
    pub(crate) fn parse(der: &[u8]) -> Option<Self> {
        let (tag, cert, _) = tlv(der)?;
        if tag != SEQUENCE {
            return None;
        }
        let (tag, tbs, _) = tlv(cert)?;
        if tag != SEQUENCE {
            return None;
        }
        let mut fields = Tlvs(tbs);
        // [version], serialNumber, signature, issuer, validity, subject.
        if fields.next()?.0 == VERSION {
            let _serial = fields.next()?;
        }
        let _signature = fields.next()?;
        let _issuer = fields.next()?;
        let _validity = fields.next()?;
        let (tag, subject) = fields.next()?;
        if tag != SEQUENCE {
            return None;
        }
        let mut names = Self {
            cns: common_names(subject)?,
            ..Self::default()
        };
        for (tag, value) in fields {
            if tag == EXTENSIONS {
                names.read_extensions(value)?;
            }
        }
        Some(names)
    }

    fn read_extensions(&mut self, explicit: &[u8]) -> Option<()> {
        let (tag, exts, _) = tlv(explicit)?;
        if tag != SEQUENCE {
            return None;
        }
        for (tag, ext) in Tlvs(exts) {
            if tag != SEQUENCE {
                return None;
            }
            let mut parts = Tlvs(ext);
            let (tag, oid) = parts.next()?;
            if tag != OID || oid != OID_SAN {
                continue;
            }
            let mut value = parts.next()?;
            if value.0 == BOOLEAN {
                value = parts.next()?;
            }
            if value.0 != OCTET_STRING {
                return None;
            }
            let (tag, general_names, _) = tlv(value.1)?;
            if tag != SEQUENCE {
                return None;
            }
            self.has_san = true;
            for (tag, name) in Tlvs(general_names) {
                match tag {
                    GN_DNS => self.dns.push(String::from_utf8_lossy(name).into_owned()),
                    GN_IP => match name.len() {
                        4 => self.ips.push(IpAddr::from(<[u8; 4]>::try_from(name).ok()?)),
                        16 => self
                            .ips
                            .push(IpAddr::from(<[u8; 16]>::try_from(name).ok()?)),
                        _ => {}
                    },
                    _ => {}
                }
            }
        }
        Some(())
    }
}

/// The common names in a Name (`RDNSequence`), in order.
fn common_names(rdns: &[u8]) -> Option<Vec<String>> {
    let mut out = Vec::new();
    for (tag, rdn) in Tlvs(rdns) {
        if tag != SET {
            return None;
        }
        for (tag, atv) in Tlvs(rdn) {
            if tag != SEQUENCE {
                return None;
            }
            let mut parts = Tlvs(atv);
            let (tag, oid) = parts.next()?;
            let (string_tag, value) = parts.next()?;
            if tag != OID || oid != OID_CN {
                continue;
            }
            match string_tag {
                // UTF8String, PrintableString, IA5String
                0x0c | 0x13 | 0x16 => out.push(String::from_utf8_lossy(value).into_owned()),
                // TeletexString, read as Latin-1 as OTP does
                0x14 => out.push(value.iter().map(|&b| char::from(b)).collect()),
                _ => {}
            }
        }
    }
    Some(out)
}

/// One DER element at the start of `buf`: its tag, contents and what
/// follows. Only definite lengths of up to four bytes, as DER allows.
fn tlv(buf: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, rest) = buf.split_first()?;
    if tag & 0x1f == 0x1f {
        return None; // multi-byte tags do not occur on our path
    }
    let (&first, rest) = rest.split_first()?;
    let (len, rest) = if first < 0x80 {
        (usize::from(first), rest)
    } else {
        let n = usize::from(first & 0x7f);
        if n == 0 || n > 4 || rest.len() < n {
            return None;
        }
        let len = rest[..n]
            .iter()
            .fold(0usize, |a, &b| (a << 8) | usize::from(b));
        (len, &rest[n..])
    };
    if rest.len() < len {
        return None;
    }
    Some((tag, &rest[..len], &rest[len..]))
}

/// The elements of a constructed value, in order; stops at the first
/// malformed one.
struct Tlvs<'a>(&'a [u8]);

impl<'a> Iterator for Tlvs<'a> {
    type Item = (u8, &'a [u8]);

    fn next(&mut self) -> Option<Self::Item> {
        let (tag, value, rest) = tlv(self.0)?;
        self.0 = rest;
        Some((tag, value))
    }
}
