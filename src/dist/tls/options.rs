//! The TLS distribution options, read the way OTP reads them: the
//! `-ssl_dist_optfile FILE` term `[{server, Opts}, {client, Opts}]`
//! (`ssl_dist_sup:consult/1`) and the older `-ssl_dist_opt server_certfile
//! F client_verify verify_peer ...` flags (`inet_tls_dist:ssl_options/2`),
//! into one typed [`SideOptions`] per side.
//!
//! As in OTP 26+ (`inet_tls_dist:get_ssl_options/1`), options from
//! `-ssl_dist_opt` come first and those of the file after them, and the
//! first occurrence of an option wins (`proplists:get_value/2`). When a side
//! has any option and no `versions`, it gets `{versions, ['tlsv1.2']}`
//! (`dist_defaults/1`).
//!
//! Pure: nothing here reads a file; [`super::TlsDist`] loads the
//! certificates and keys the options name.

use crate::term::text::{ParseError, parse_term, parse_terms};
use crate::term::{Pretty, Term, TermExt, atom, charlist, list};
use std::path::PathBuf;

/// `verify`: whether the peer's certificate is checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verify {
    /// `verify_none`.
    None,
    /// `verify_peer`.
    Peer,
}

/// A TLS protocol version (`versions`); rustls speaks these two.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TlsVersion {
    /// `'tlsv1.2'`.
    Tls12,
    /// `'tlsv1.3'`.
    Tls13,
}

/// `server_name_indication` of the client side.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Sni {
    /// `disable`: no SNI, no host name check.
    Disable,
    /// A fixed host name to send and check instead of the peer's host.
    Host(String),
}

/// The options of one side (`server`: accepting, `client`: dialling), as
/// given, before defaults.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SideOptions {
    /// `certfile`: our certificate chain (PEM).
    pub certfile: Option<PathBuf>,
    /// `keyfile`: our private key (PEM); else the key in `certfile`.
    pub keyfile: Option<PathBuf>,
    /// `cacertfile`: trusted CA certificates (PEM).
    pub cacertfile: Option<PathBuf>,
    /// `cacerts`: trusted CA certificates, DER binaries.
    pub cacerts: Vec<Vec<u8>>,
    /// `verify`.
    pub verify: Option<Verify>,
    /// `fail_if_no_peer_cert` (server).
    pub fail_if_no_peer_cert: Option<bool>,
    /// `depth`: most intermediate CAs in the peer's path.
    pub depth: Option<u32>,
    /// `versions`.
    pub versions: Option<Vec<TlsVersion>>,
    /// `ciphers`: suite names (OpenSSL or RFC style).
    pub ciphers: Option<Vec<String>>,
    /// `server_name_indication` (client).
    pub sni: Option<Sni>,
    /// Whether any option was given (`dist_defaults/1` applies then).
    pub any: bool,
}

/// Both sides, and what was accepted but has no effect in distro.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SslDistOptions {
    /// `{server, Opts}`: used when accepting.
    pub server: SideOptions,
    /// `{client, Opts}`: used when dialling.
    pub client: SideOptions,
    /// One line per option accepted and ignored (e.g. `hibernate_after`).
    pub warnings: Vec<String>,
}

/// A side of the connection, as named in the options.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    /// `server`.
    Server,
    /// `client`.
    Client,
}

impl Side {
    fn name(self) -> &'static str {
        match self {
            Self::Server => "server",
            Self::Client => "client",
        }
    }
}

/// A bad option or options file; `Display` is one line naming where.
#[derive(Debug, thiserror::Error)]
pub enum OptionsError {
    /// The options file does not parse as an Erlang term.
    #[error("-ssl_dist_optfile {0}{1}")]
    Parse(Box<ParseError>, &'static str),
    /// A well-formed term that is not a valid option list.
    #[error("{origin}: {message}")]
    Bad {
        /// `-ssl_dist_optfile FILE` or `-ssl_dist_opt`.
        origin: String,
        /// What is wrong.
        message: String,
    },
}

/// Hint added to a parse error when the file seems to hold a fun.
const FUN_HINT: &str = "; distro reads the file as a term and runs no Erlang code (a verify_fun or other fun is not supported)";

impl SslDistOptions {
    /// Reads the `-ssl_dist_opt` flags' arguments (name/value pairs, in
    /// order) and the text of the `-ssl_dist_optfile` file named `file`.
    pub fn read(args: &[String], file: Option<(&str, &str)>) -> Result<Self, OptionsError> {
        let mut out = Self::default();
        read_args(&mut out, args)?;
        if let Some((name, text)) = file {
            read_file(&mut out, name, text)?;
        }
        Ok(out)
    }
}

fn bad(source: &str, message: impl Into<String>) -> OptionsError {
    OptionsError::Bad {
        origin: source.to_owned(),
        message: message.into(),
    }
}

/// `ssl_dist_sup:consult/1` of the file's text: one term, `[{server,
/// Opts}, {client, Opts}]`; other entries are ignored as OTP ignores them.
fn read_file(out: &mut SslDistOptions, name: &str, text: &str) -> Result<(), OptionsError> {
    let source = format!("-ssl_dist_optfile {name}");
    let terms = parse_terms(text).map_err(|e| {
        let hint = if text.contains("fun(") || text.contains("fun (") {
            FUN_HINT
        } else {
            ""
        };
        OptionsError::Parse(Box::new(e.with_file(name)), hint)
    })?;
    let [term] = terms.as_slice() else {
        return Err(bad(
            &source,
            format!(
                "expected one term, [{{server, Opts}}, {{client, Opts}}], found {}",
                terms.len()
            ),
        ));
    };
    let entries = term
        .as_list()
        .ok_or_else(|| bad(&source, "expected a list [{server, Opts}, {client, Opts}]"))?;
    for entry in entries.iter() {
        let (side, opts) = match entry.as_tuple() {
            Some([k, v]) => match k.as_atom() {
                Some("server") => (Side::Server, v),
                Some("client") => (Side::Client, v),
                Some(other) => {
                    out.warnings.push(format!(
                        "{source}: ignoring entry {other} (only server and client are used)"
                    ));
                    continue;
                }
                None => return Err(bad(&source, format!("bad entry {}", Pretty(entry)))),
            },
            _ => {
                return Err(bad(
                    &source,
                    format!(
                        "bad entry {}: expected {{server | client, Opts}}",
                        Pretty(entry)
                    ),
                ));
            }
        };
        let opts = opts.as_list().ok_or_else(|| {
            bad(
                &source,
                format!(
                    "{} options must be a list, got {}",
                    side.name(),
                    Pretty(opts)
                ),
            )
        })?;
        for opt in opts.iter() {
            let Some([k, v]) = opt.as_tuple() else {
                return Err(bad(
                    &source,
                    format!(
                        "{} option {}: expected {{Name, Value}}",
                        side.name(),
                        Pretty(opt)
                    ),
                ));
            };
            let Some(key) = k.as_atom() else {
                return Err(bad(
                    &source,
                    format!("{} option {}: bad name", side.name(), Pretty(opt)),
                ));
            };
            set(out, side, key, v).map_err(|why| {
                bad(
                    &source,
                    format!("{} option {}: {why}", side.name(), Pretty(opt)),
                )
            })?;
        }
    }
    Ok(())
}

/// `inet_tls_dist:ssl_options/2`: `server_Name Value` / `client_Name Value`
/// pairs, values converted as OTP converts them (`listify`, `atomize`,
/// `list_to_integer`, `termify`).
fn read_args(out: &mut SslDistOptions, args: &[String]) -> Result<(), OptionsError> {
    const SOURCE: &str = "-ssl_dist_opt";
    if args.len() % 2 == 1 {
        return Err(bad(
            SOURCE,
            format!(
                "expects Name Value pairs, got {} arguments: {}",
                args.len(),
                args.join(" ")
            ),
        ));
    }
    for pair in args.chunks_exact(2) {
        let (name, value) = (&pair[0], &pair[1]);
        let (side, key) = if let Some(k) = name.strip_prefix("server_") {
            (Side::Server, k)
        } else if let Some(k) = name.strip_prefix("client_") {
            (Side::Client, k)
        } else {
            return Err(bad(
                SOURCE,
                format!("{name}: expected server_NAME or client_NAME (e.g. server_certfile)"),
            ));
        };
        let term = match key {
            "certfile" | "cacertfile" | "keyfile" | "password" | "dhfile" => charlist(value),
            "verify"
            | "crl_check"
            | "reuse_sessions"
            | "secure_renegotiate"
            | "fail_if_no_peer_cert"
            | "ktls" => atom(value),
            "depth" | "hibernate_after" => match value.parse::<i64>() {
                Ok(n) => crate::term::int(n),
                Err(_) => return Err(bad(SOURCE, format!("{name} {value}: expected an integer"))),
            },
            "ciphers" => list(vec![charlist(value)]),
            "versions" => list(vec![atom(value)]),
            "verify_fun" | "crl_cache" => {
                parse_term(value).map_err(|e| bad(SOURCE, format!("{name} {value}: {e}")))?
            }
            _ => return Err(bad(SOURCE, format!("{name}: unknown option"))),
        };
        set(out, side, key, &term).map_err(|why| bad(SOURCE, format!("{name} {value}: {why}")))?;
    }
    Ok(())
}

/// Records option `key` = `v` of `side` unless it was already given.
fn set(out: &mut SslDistOptions, side: Side, key: &str, v: &Term) -> Result<(), String> {
    let o = match side {
        Side::Server => &mut out.server,
        Side::Client => &mut out.client,
    };
    o.any = true;
    match key {
        "certfile" => first(&mut o.certfile, path(v)?),
        "keyfile" => first(&mut o.keyfile, path(v)?),
        "cacertfile" => first(&mut o.cacertfile, path(v)?),
        "cacerts" => {
            if o.cacerts.is_empty() {
                o.cacerts = ders(v)?;
            }
        }
        "verify" => first(
            &mut o.verify,
            match v.as_atom() {
                Some("verify_none") => Verify::None,
                Some("verify_peer") => Verify::Peer,
                _ => return Err("expected verify_none or verify_peer".into()),
            },
        ),
        "fail_if_no_peer_cert" if side == Side::Server => first(
            &mut o.fail_if_no_peer_cert,
            v.as_bool().ok_or("expected true or false")?,
        ),
        "depth" => first(
            &mut o.depth,
            v.as_i64()
                .and_then(|d| u32::try_from(d).ok())
                .ok_or("expected a non-negative integer")?,
        ),
        "versions" => first(&mut o.versions, versions(v)?),
        "ciphers" => first(&mut o.ciphers, ciphers(v)?),
        "server_name_indication" if side == Side::Client => first(
            &mut o.sni,
            match (v.as_atom(), v.as_text()) {
                (Some("disable"), _) => Sni::Disable,
                (None, Some(host)) if !host.is_empty() => Sni::Host(host),
                _ => return Err("expected disable or a host name".into()),
            },
        ),
        "fail_if_no_peer_cert" => return Err("a server option, not a client one".into()),
        "server_name_indication" => return Err("a client option, not a server one".into()),
        "verify_fun" => verify_fun(v)?,
        "crl_check" => {
            if v.as_bool() != Some(false) {
                return Err(
                    "CRL checks are not supported by distro (crl_check must be false)".into(),
                );
            }
        }
        "password" => {
            return Err(
                "encrypted private keys are not supported; give an unencrypted keyfile".into(),
            );
        }
        "partial_chain"
        | "customize_hostname_check"
        | "sni_fun"
        | "crl_cache"
        | "user_lookup_fun"
        | "cb_info"
        | "sni_hosts"
        | "certs_keys"
        | "cert"
        | "key" => {
            return Err(
                "not supported by distro (it needs Erlang code or keys in the file); use certfile, keyfile and cacertfile".into()
            );
        }
        // Tuning that has no counterpart here, or rustls's fixed behaviour:
        // accepted so that OTP's files are read unchanged.
        "reuse_sessions" | "secure_renegotiate" | "hibernate_after" | "log_level" | "log_alert"
        | "honor_cipher_order" | "dhfile" | "ktls" | "reuse_session" | "handshake" | "eccs"
        | "signature_algs" | "supported_groups" | "packet_size" | "sender_spawn_opts"
        | "keep_secrets" | "session_tickets" => out.warnings.push(format!(
            "ignoring {} option {key} (no effect in distro's TLS)",
            side.name()
        )),
        _ => return Err("unknown or unsupported option".into()),
    }
    Ok(())
}

fn first<T>(slot: &mut Option<T>, value: T) {
    if slot.is_none() {
        *slot = Some(value);
    }
}

fn path(v: &Term) -> Result<PathBuf, String> {
    match v.as_text() {
        Some(s) if !s.is_empty() => Ok(PathBuf::from(s)),
        _ => Err("expected a file name (a string)".into()),
    }
}

fn ders(v: &Term) -> Result<Vec<Vec<u8>>, String> {
    let items = v.as_list().ok_or("expected a list of DER binaries")?;
    items
        .iter()
        .map(|t| match t {
            Term::Binary(b) if !b.bytes.is_empty() => Ok(b.bytes.clone()),
            _ => Err("expected a list of DER binaries".to_owned()),
        })
        .collect()
}

fn versions(v: &Term) -> Result<Vec<TlsVersion>, String> {
    let items = v.as_list().ok_or("expected a list of versions")?;
    if items.is_empty() {
        return Err("expected at least one version".into());
    }
    items
        .iter()
        .map(|t| match t.as_atom() {
            Some("tlsv1.2") => Ok(TlsVersion::Tls12),
            Some("tlsv1.3") => Ok(TlsVersion::Tls13),
            Some(old @ ("tlsv1" | "tlsv1.1" | "sslv3")) => Err(format!(
                "{old} is not supported by distro's TLS library (rustls: 'tlsv1.2' and 'tlsv1.3')"
            )),
            _ => Err(format!("unknown version {}", Pretty(t))),
        })
        .collect()
}

/// `ciphers`: a list of suite names, or one string of `:`-separated names
/// (OpenSSL's format, as `ssl:cipher_suites/3` accepts it). Suites as maps
/// or tuples are refused.
fn ciphers(v: &Term) -> Result<Vec<String>, String> {
    if let Some(s) = v.as_text().filter(|s| !s.is_empty()) {
        return Ok(s
            .split(':')
            .filter(|n| !n.is_empty())
            .map(str::to_owned)
            .collect());
    }
    let items = v.as_list().ok_or("expected a list of cipher suite names")?;
    let mut names = Vec::new();
    for t in items.iter() {
        match t.as_text() {
            Some(s) if !s.is_empty() => {
                names.extend(s.split(':').filter(|n| !n.is_empty()).map(str::to_owned))
            }
            _ => {
                return Err(format!(
                    "cipher {}: give suites by name (e.g. \"ECDHE-ECDSA-AES256-GCM-SHA384\")",
                    Pretty(t)
                ));
            }
        }
    }
    if names.is_empty() {
        return Err("expected at least one cipher suite".into());
    }
    Ok(names)
}

/// `verify_fun`: only `inet_tls_dist:verify_client/3` (as a fun or as
/// `{Mod, Fun, State}`) is known. With no `net_kernel:allow/1` list (distro
/// has none) it accepts every peer `verify_peer` accepts, so it is taken
/// as it is; any other function would need Erlang code.
fn verify_fun(v: &Term) -> Result<(), String> {
    let is_verify_client = match v.as_tuple() {
        Some([Term::ExternalFun(f), _]) => {
            f.module.name == "inet_tls_dist" && f.function.name == "verify_client" && f.arity == 3
        }
        Some([m, f, _]) => {
            m.as_atom() == Some("inet_tls_dist") && f.as_atom() == Some("verify_client")
        }
        _ => false,
    };
    if is_verify_client {
        Ok(())
    } else {
        Err(
            "a verify_fun runs Erlang code, which distro does not run; use verify and cacertfile"
                .into(),
        )
    }
}
