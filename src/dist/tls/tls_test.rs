//! TLS distribution without BEAM: the options as OTP reads them, the host
//! name check, configuration errors, and TLS handshakes between two
//! [`TlsDist`]s over loopback sockets with generated certificates.

#[path = "test_pki.rs"]
pub(crate) mod test_pki;

use super::hostname::verify_hostname;
use super::options::{Sni, SslDistOptions, TlsVersion, Verify};
use super::{TlsDist, TlsError};
use rcgen::SanType;
use std::path::{Path, PathBuf};
use test_pki::{Pki, Validity};

fn file(text: &str) -> Result<SslDistOptions, String> {
    SslDistOptions::read(&[], Some(("opts.conf", text))).map_err(|e| e.to_string())
}

fn args(line: &str) -> Result<SslDistOptions, String> {
    let v: Vec<String> = line.split_whitespace().map(String::from).collect();
    SslDistOptions::read(&v, None).map_err(|e| e.to_string())
}

#[test]
fn the_options_file_as_otp_documents_it() {
    let o = file(
        r#"%% from the OTP guide
[{server,
  [{certfile, "/etc/ssl/node.pem"},
   {keyfile, <<"/etc/ssl/node.key">>},
   {cacertfile, "/etc/ssl/ca.pem"},
   {verify, verify_peer},
   {fail_if_no_peer_cert, true},
   {depth, 2},
   {secure_renegotiate, true},
   {verify_fun, {fun inet_tls_dist:verify_client/3, []}}]},
 {client,
  [{certfile, "/etc/ssl/node.pem"},
   {verify, verify_peer},
   {versions, ['tlsv1.2', 'tlsv1.3']},
   {ciphers, ["ECDHE-ECDSA-AES256-GCM-SHA384", "TLS_AES_128_GCM_SHA256"]},
   {server_name_indication, disable}]}].
"#,
    )
    .unwrap();
    let s = &o.server;
    assert_eq!(s.certfile.as_deref(), Some(Path::new("/etc/ssl/node.pem")));
    assert_eq!(s.keyfile.as_deref(), Some(Path::new("/etc/ssl/node.key")));
    assert_eq!(s.cacertfile.as_deref(), Some(Path::new("/etc/ssl/ca.pem")));
    assert_eq!(s.verify, Some(Verify::Peer));
    assert_eq!(s.fail_if_no_peer_cert, Some(true));
    assert_eq!(s.depth, Some(2));
    let c = &o.client;
    assert_eq!(c.versions, Some(vec![TlsVersion::Tls12, TlsVersion::Tls13]));
    assert_eq!(
        c.ciphers.as_deref(),
        Some(
            &[
                "ECDHE-ECDSA-AES256-GCM-SHA384".to_owned(),
                "TLS_AES_128_GCM_SHA256".to_owned()
            ][..]
        )
    );
    assert_eq!(c.sni, Some(Sni::Disable));
    assert_eq!(
        o.warnings,
        ["ignoring server option secure_renegotiate (no effect in distro's TLS)"]
    );
}

#[test]
fn ssl_dist_opt_flags_come_first_and_the_first_occurrence_wins() {
    let v: Vec<String> = "server_certfile /a.pem server_verify verify_peer client_depth 3 client_versions tlsv1.3 client_ciphers ECDHE-RSA-AES128-GCM-SHA256:TLS_AES_256_GCM_SHA384"
        .split_whitespace()
        .map(String::from)
        .collect();
    let o = SslDistOptions::read(
        &v,
        Some((
            "f",
            r#"[{server, [{certfile, "/b.pem"}, {verify, verify_none}, {keyfile, "/k.pem"}]}, {other, x}]."#,
        )),
    )
    .unwrap();
    assert_eq!(o.server.certfile.as_deref(), Some(Path::new("/a.pem")));
    assert_eq!(o.server.verify, Some(Verify::Peer));
    assert_eq!(o.server.keyfile.as_deref(), Some(Path::new("/k.pem")));
    assert_eq!(o.client.depth, Some(3));
    assert_eq!(o.client.versions, Some(vec![TlsVersion::Tls13]));
    assert_eq!(o.client.ciphers.as_ref().map(Vec::len), Some(2));
    assert_eq!(
        o.warnings,
        ["-ssl_dist_optfile f: ignoring entry other (only server and client are used)"]
    );
    let o =
        args("client_verify_fun {inet_tls_dist,verify_client,[]} client_server_name_indication x")
            .unwrap_err();
    assert_eq!(
        o,
        "-ssl_dist_opt: client_server_name_indication: unknown option"
    );
}

#[test]
fn bad_options_are_one_line_errors() {
    let cases: &[(&str, &str)] = &[
        (
            "[{server, [{verify_fun, {fun(_, _, S) -> {valid, S} end, []}}]}].",
            "-ssl_dist_optfile opts.conf:1:26: bad term: only external funs (fun M:F/A) are allowed in a term; distro reads the file as a term and runs no Erlang code (a verify_fun or other fun is not supported)",
        ),
        (
            "[{server, [{verify_fun, {fun my_mod:check/3, []}}]}].",
            "-ssl_dist_optfile opts.conf: server option {verify_fun,{fun my_mod:check/3,[]}}: a verify_fun runs Erlang code, which distro does not run; use verify and cacertfile",
        ),
        (
            "[{client, [{verify, sometimes}]}].",
            "-ssl_dist_optfile opts.conf: client option {verify,sometimes}: expected verify_none or verify_peer",
        ),
        (
            "[{client, [{versions, ['tlsv1.1']}]}].",
            "-ssl_dist_optfile opts.conf: client option {versions,['tlsv1.1']}: tlsv1.1 is not supported by distro's TLS library (rustls: 'tlsv1.2' and 'tlsv1.3')",
        ),
        (
            "[{server, [{password, \"secret\"}]}].",
            "-ssl_dist_optfile opts.conf: server option {password,\"secret\"}: encrypted private keys are not supported; give an unencrypted keyfile",
        ),
        (
            "[{server, [{crl_check, true}]}].",
            "-ssl_dist_optfile opts.conf: server option {crl_check,true}: CRL checks are not supported by distro (crl_check must be false)",
        ),
        (
            "[{client, [{fail_if_no_peer_cert, true}]}].",
            "-ssl_dist_optfile opts.conf: client option {fail_if_no_peer_cert,true}: a server option, not a client one",
        ),
        (
            "[{server, [{depth, -1}]}].",
            "-ssl_dist_optfile opts.conf: server option {depth,-1}: expected a non-negative integer",
        ),
        (
            "[{server, [{certfile, 42}]}].",
            "-ssl_dist_optfile opts.conf: server option {certfile,42}: expected a file name (a string)",
        ),
        (
            "[{server, [certfile]}].",
            "-ssl_dist_optfile opts.conf: server option certfile: expected {Name, Value}",
        ),
        (
            "[{server, [{ciphers, [#{cipher => aes_128_gcm}]}]}].",
            "-ssl_dist_optfile opts.conf: server option {ciphers,[#{cipher => aes_128_gcm}]}: cipher #{cipher => aes_128_gcm}: give suites by name (e.g. \"ECDHE-ECDSA-AES256-GCM-SHA384\")",
        ),
        (
            "{server, []}.",
            "-ssl_dist_optfile opts.conf: expected a list [{server, Opts}, {client, Opts}]",
        ),
        (
            "[{server, []}]. [].",
            "-ssl_dist_optfile opts.conf: expected one term, [{server, Opts}, {client, Opts}], found 2",
        ),
        (
            "[{server, [{certfile, \"a\"}]}",
            "-ssl_dist_optfile opts.conf:1:29: no ending <dot> found",
        ),
    ];
    for (text, want) in cases {
        assert_eq!(file(text).unwrap_err(), *want, "{text}");
    }
    let cases: &[(&str, &str)] = &[
        (
            "server_certfile",
            "-ssl_dist_opt: expects Name Value pairs, got 1 arguments: server_certfile",
        ),
        (
            "certfile a.pem",
            "-ssl_dist_opt: certfile: expected server_NAME or client_NAME (e.g. server_certfile)",
        ),
        (
            "server_depth deep",
            "-ssl_dist_opt: server_depth deep: expected an integer",
        ),
        (
            "client_fail_if_no_peer_cert true",
            "-ssl_dist_opt: client_fail_if_no_peer_cert true: a server option, not a client one",
        ),
        (
            "server_verify_fun {my_mod,check,[]}",
            "-ssl_dist_opt: server_verify_fun {my_mod,check,[]}: a verify_fun runs Erlang code, which distro does not run; use verify and cacertfile",
        ),
    ];
    for (line, want) in cases {
        assert_eq!(args(line).unwrap_err(), *want, "{line}");
    }
}

#[test]
fn host_names_are_checked_as_otp_27_checks_them() {
    let pki = Pki::new("ca");
    let ip_and_dns = pki.node("n", &["127.0.0.1", "node.example.com"], Validity::Current);
    assert!(verify_hostname(&ip_and_dns.der, "127.0.0.1"));
    assert!(verify_hostname(&ip_and_dns.der, "NODE.Example.com"));
    assert!(verify_hostname(&ip_and_dns.der, "node.example.com."));
    assert!(!verify_hostname(&ip_and_dns.der, "127.0.0.2"));
    assert!(!verify_hostname(&ip_and_dns.der, "other.example.com"));
    // An address only matches an iPAddress name (OTP 27+; OTP 25 compared
    // the text with the dNSNames).
    let dns_only = pki.leaf(
        "n",
        vec![SanType::DnsName("127.0.0.1".try_into().unwrap())],
        Validity::Current,
    );
    assert!(!verify_hostname(&dns_only.der, "127.0.0.1"));
    let v6 = pki.leaf(
        "n",
        vec![SanType::IpAddress("::1".parse().unwrap())],
        Validity::Current,
    );
    assert!(verify_hostname(&v6.der, "::1"));
    // dNSNames match exactly: no wildcards.
    let wild = pki.leaf(
        "n",
        vec![SanType::DnsName("*.example.com".try_into().unwrap())],
        Validity::Current,
    );
    assert!(!verify_hostname(&wild.der, "a.example.com"));
    // Without subjectAltNames, the common name, with a wildcard allowed in
    // its first label; never for an address.
    let cn_wild = pki.leaf("*.example.com", vec![], Validity::Current);
    assert!(verify_hostname(&cn_wild.der, "a.example.com"));
    assert!(!verify_hostname(&cn_wild.der, "a.b.example.com"));
    let cn_prefix = pki.leaf("node*.example.com", vec![], Validity::Current);
    assert!(verify_hostname(&cn_prefix.der, "node7.example.com"));
    assert!(!verify_hostname(&cn_prefix.der, "web7.example.com"));
    let cn_ip = pki.leaf("127.0.0.1", vec![], Validity::Current);
    assert!(!verify_hostname(&cn_ip.der, "127.0.0.1"));
    // With subjectAltNames the common name does not count.
    let san_and_cn = pki.leaf(
        "cn.example.com",
        vec![SanType::DnsName("san.example.com".try_into().unwrap())],
        Validity::Current,
    );
    assert!(!verify_hostname(&san_and_cn.der, "cn.example.com"));
}

#[test]
fn malformed_certificates_match_nothing() {
    let pki = Pki::new("ca");
    let der = pki.node("n", &["127.0.0.1"], Validity::Current).der;
    for n in 0..der.len() {
        assert!(
            !verify_hostname(&der[..n], "127.0.0.1"),
            "prefix of {n} bytes"
        );
    }
    let mut flipped = der.clone();
    for i in 0..flipped.len() {
        flipped[i] ^= 0xff;
        let _ = verify_hostname(&flipped, "127.0.0.1");
        flipped[i] ^= 0xff;
    }
    assert!(!verify_hostname(&[0x30, 0x84, 0xff, 0xff, 0xff, 0xff], "x"));
}

/// Files of one node in a temporary directory.
struct Files {
    dir: tempfile::TempDir,
}

impl Files {
    fn new() -> Self {
        Self {
            dir: tempfile::tempdir().unwrap(),
        }
    }

    fn write(&self, name: &str, text: &str) -> PathBuf {
        let p = self.dir.path().join(name);
        std::fs::write(&p, text).unwrap();
        p
    }

    /// The options file for `leaf`, trusting `ca`.
    fn optfile(
        &self,
        name: &str,
        leaf: Option<&test_pki::Leaf>,
        ca: &Pki,
        extra_server: &str,
        extra_client: &str,
    ) -> PathBuf {
        let ca = self.write(&format!("{name}_ca.pem"), &ca.ca_pem());
        let mine = match leaf {
            Some(l) => {
                let c = self.write(&format!("{name}.pem"), &l.cert_pem);
                let k = self.write(&format!("{name}.key"), &l.key_pem);
                format!("{{certfile, {c:?}}}, {{keyfile, {k:?}}}, ")
            }
            None => String::new(),
        };
        self.write(
            &format!("{name}.conf"),
            &format!(
                "[{{server, [{mine}{{cacertfile, {ca:?}}}, {{verify, verify_peer}}, {{fail_if_no_peer_cert, true}}{extra_server}]}},\n \
                 {{client, [{mine}{{cacertfile, {ca:?}}}, {{verify, verify_peer}}{extra_client}]}}]."
            ),
        )
    }
}

fn load(path: &Path) -> Result<TlsDist, String> {
    TlsDist::load(Some(path), &[])
        .map(|(t, _)| t)
        .map_err(|e| e.to_string())
}

/// A TLS handshake between `client` (dialling `host`) and `server` over a
/// loopback socket: what each side got.
fn handshake(
    client: &TlsDist,
    server: &TlsDist,
    host: &str,
) -> (Result<(), String>, Result<(), String>) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let accept = async {
            let (tcp, _) = listener.accept().await.unwrap();
            server.accept(tcp).await.map_err(|e| e.to_string())
        };
        let connect = async {
            let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
            match client.connect(host, tcp).await {
                Ok(mut s) => {
                    // TLS 1.3 clients finish first: read to see the verdict.
                    use tokio::io::{AsyncReadExt, AsyncWriteExt};
                    let _ = s.write_all(b"x").await;
                    let mut b = [0u8; 1];
                    match tokio::time::timeout(
                        std::time::Duration::from_millis(300),
                        s.read(&mut b),
                    )
                    .await
                    {
                        Ok(Err(e)) => Err(e.to_string()),
                        _ => Ok(()),
                    }
                }
                Err(e) => Err(e.to_string()),
            }
        };
        // The accepted stream lives until both sides are done.
        let (c, s) = tokio::join!(connect, accept);
        (c, s.map(drop))
    })
}

#[test]
fn mutual_verification_over_loopback() {
    let pki = Pki::new("ca");
    let other = Pki::new("other ca");
    let f = Files::new();
    let a = load(&f.optfile(
        "a",
        Some(&pki.node("a", &["127.0.0.1"], Validity::Current)),
        &pki,
        "",
        "",
    ))
    .unwrap();
    let b = load(&f.optfile(
        "b",
        Some(&pki.node("b", &["127.0.0.1"], Validity::Current)),
        &pki,
        "",
        "",
    ))
    .unwrap();
    assert_eq!(handshake(&a, &b, "127.0.0.1"), (Ok(()), Ok(())));
    // TLS 1.3 as well.
    let v13 = ", {versions, ['tlsv1.3']}";
    let a13 = load(&f.optfile(
        "a13",
        Some(&pki.node("a", &["127.0.0.1"], Validity::Current)),
        &pki,
        v13,
        v13,
    ))
    .unwrap();
    let b13 = load(&f.optfile(
        "b13",
        Some(&pki.node("b", &["127.0.0.1"], Validity::Current)),
        &pki,
        v13,
        v13,
    ))
    .unwrap();
    assert_eq!(handshake(&a13, &b13, "127.0.0.1"), (Ok(()), Ok(())));

    // The server's certificate is for another host.
    let (c, _) = handshake(&a, &b, "localhost");
    assert!(c.unwrap_err().contains("certificate not valid for name \"localhost\"; certificate is only valid for DNS:127.0.0.1 or IP:127.0.0.1"));
    // A client of another CA: the server refuses it, and it refuses the server.
    let stranger = load(&f.optfile(
        "s",
        Some(&other.node("s", &["127.0.0.1"], Validity::Current)),
        &other,
        "",
        "",
    ))
    .unwrap();
    let (c, s) = handshake(&stranger, &b, "127.0.0.1");
    assert!(c.unwrap_err().contains("UnknownIssuer"));
    assert!(s.is_err());
    // A client that trusts our CA but whose certificate is of another.
    let foreign = load(&f.optfile(
        "f",
        Some(&other.node("f", &["127.0.0.1"], Validity::Current)),
        &pki,
        "",
        "",
    ))
    .unwrap();
    let (_, s) = handshake(&foreign, &b, "127.0.0.1");
    assert!(
        s.unwrap_err().contains("UnknownIssuer"),
        "server refuses the client's CA"
    );
    // Expired certificates.
    let old = load(&f.optfile(
        "o",
        Some(&pki.node("o", &["127.0.0.1"], Validity::Expired)),
        &pki,
        "",
        "",
    ))
    .unwrap();
    let (c, _) = handshake(&a, &old, "127.0.0.1");
    assert!(c.unwrap_err().contains("expired"));
    let (_, s) = handshake(&old, &b, "127.0.0.1");
    assert!(s.unwrap_err().contains("expired"));
    // No client certificate, where fail_if_no_peer_cert is true.
    let n = pki.node("n", &["127.0.0.1"], Validity::Current);
    let (cert, key, ca) = (
        f.write("n.pem", &n.cert_pem),
        f.write("n.key", &n.key_pem),
        f.write("n_ca.pem", &pki.ca_pem()),
    );
    let certless = load(&f.write(
        "n.conf",
        &format!("[{{server, [{{certfile, {cert:?}}}, {{keyfile, {key:?}}}]}}, {{client, [{{cacertfile, {ca:?}}}]}}]."),
    ))
    .unwrap();
    let (_, s) = handshake(&certless, &b, "127.0.0.1");
    assert!(s.unwrap_err().contains("no certificates"));
}

#[test]
fn depth_limits_the_intermediate_cas() {
    let root = Pki::new("root");
    let inter = root.intermediate("intermediate");
    let f = Files::new();
    let leaf = inter.node("a", &["127.0.0.1"], Validity::Current);
    let a = load(&f.optfile("a", Some(&leaf), &root, "", "")).unwrap();
    let b = load(&f.optfile(
        "b",
        Some(&inter.node("b", &["127.0.0.1"], Validity::Current)),
        &root,
        "",
        "",
    ))
    .unwrap();
    assert_eq!(handshake(&a, &b, "127.0.0.1"), (Ok(()), Ok(())));
    let b0 = load(&f.optfile(
        "b0",
        Some(&inter.node("b", &["127.0.0.1"], Validity::Current)),
        &root,
        ", {depth, 0}",
        "",
    ))
    .unwrap();
    let (_, s) = handshake(&a, &b0, "127.0.0.1");
    assert!(s.unwrap_err().contains("longer than depth 0"));
}

#[test]
fn configuration_errors_name_the_option_and_file() {
    let pki = Pki::new("ca");
    let f = Files::new();
    let leaf = pki.node("a", &["127.0.0.1"], Validity::Current);
    let cert = f.write("a.pem", &leaf.cert_pem);
    let key = f.write("a.key", &leaf.key_pem);
    let ca = f.write("ca.pem", &pki.ca_pem());
    let junk = f.write("junk.pem", "not a certificate\n");
    let enc = f.write(
        "enc.key",
        "-----BEGIN ENCRYPTED PRIVATE KEY-----\nMIIB\n-----END ENCRYPTED PRIVATE KEY-----\n",
    );
    let missing = f.dir.path().join("missing.pem");
    let try_opts = |text: String| -> String {
        let o = SslDistOptions::read(&[], Some(("f", &text))).unwrap();
        match TlsDist::from_options(&o) {
            Ok(_) => "ok".into(),
            Err(e) => e.to_string(),
        }
    };
    let client_ok = format!("{{client, [{{cacertfile, {ca:?}}}]}}");
    let cases = [
        (format!("[{{server, [{{keyfile, {key:?}}}]}}, {client_ok}]."),
         "the server options need a certfile ({certfile, File} in the server list of -ssl_dist_optfile, or -ssl_dist_opt server_certfile File)".to_owned()),
        (format!("[{{server, [{{certfile, {cert:?}}}, {{keyfile, {key:?}}}]}}, {{client, []}}]."),
         "client options: verify_peer (the default) needs the CAs to trust: {cacertfile, File} (or {verify, verify_none})".to_owned()),
        (format!("[{{server, [{{certfile, {cert:?}}}, {{keyfile, {key:?}}}, {{fail_if_no_peer_cert, true}}]}}, {client_ok}]."),
         "server options: {fail_if_no_peer_cert, true} needs {verify, verify_peer}".to_owned()),
        (format!("[{{server, [{{certfile, {missing:?}}}]}}, {client_ok}]."),
         format!("server certfile {}: No such file or directory (os error 2)", missing.display())),
        (format!("[{{server, [{{certfile, {junk:?}}}]}}, {client_ok}]."),
         format!("server certfile {}: no PEM certificate (-----BEGIN CERTIFICATE-----) in it", junk.display())),
        (format!("[{{server, [{{certfile, {cert:?}}}, {{keyfile, {enc:?}}}]}}, {client_ok}]."),
         format!("server keyfile {}: the private key is encrypted; distro needs an unencrypted key", enc.display())),
        (format!("[{{server, [{{certfile, {cert:?}}}]}}, {client_ok}]."),
         format!("server certfile (no keyfile given) {}: no usable private key: no items found", cert.display())),
        (format!("[{{server, [{{certfile, {cert:?}}}, {{keyfile, {key:?}}}, {{ciphers, [\"AES128-SHA\"]}}]}}, {client_ok}]."),
         "server ciphers: none of AES128-SHA is available; rustls has TLS_AES_256_GCM_SHA384, TLS_AES_128_GCM_SHA256, TLS_CHACHA20_POLY1305_SHA256, ECDHE-ECDSA-AES256-GCM-SHA384, ECDHE-ECDSA-AES128-GCM-SHA256, ECDHE-ECDSA-CHACHA20-POLY1305, ECDHE-RSA-AES256-GCM-SHA384, ECDHE-RSA-AES128-GCM-SHA256, ECDHE-RSA-CHACHA20-POLY1305".to_owned()),
        (format!("[{{server, [{{certfile, {cert:?}}}, {{keyfile, {key:?}}}]}}, {client_ok}]."), "ok".to_owned()),
    ];
    for (text, want) in cases {
        assert_eq!(try_opts(text.clone()), want, "{text}");
    }
    // A certfile holding the key too, as OTP allows.
    let both = f.write("both.pem", &format!("{}{}", leaf.cert_pem, leaf.key_pem));
    assert_eq!(
        try_opts(format!(
            "[{{server, [{{certfile, {both:?}}}]}}, {client_ok}]."
        )),
        "ok"
    );
    let e = TlsDist::load(Some(&missing), &[]).unwrap_err();
    assert!(matches!(e, TlsError::OptFile { .. }), "{e}");
}
