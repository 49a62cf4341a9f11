//! TLS distribution material for interop tests: certificates generated at
//! run time (the CA and node certificates of `src/dist/tls/test_pki.rs`,
//! shared with the unit tests) and `-ssl_dist_optfile` files written where
//! BEAM nodes of the release and the test process both can read them.
//! Nothing is stored in the repository; everything is removed with the
//! directory.

#[path = "../../../src/dist/tls/test_pki.rs"]
mod test_pki;

pub(crate) use test_pki::{Leaf, Pki, Validity};

use super::otp::{Otp, SharedDir};
use distro::dist::tls::TlsDist;
use std::path::PathBuf;
use std::sync::Arc;

/// A directory of certificates and options files for one test.
pub(crate) struct TlsDir {
    dir: SharedDir,
}

/// One node's options file, as BEAM nodes of the release see it and as
/// the test process (and the `distro` binary) sees it.
#[derive(Clone, Debug)]
pub(crate) struct OptFile {
    /// The path for BEAM nodes (inside their chroot).
    pub(crate) node: PathBuf,
    /// The path for the test process.
    pub(crate) host: PathBuf,
}

impl TlsDir {
    /// A fresh directory readable by nodes of `otp`.
    pub(crate) fn new(otp: &Otp) -> Self {
        Self {
            dir: otp.shared_dir().expect("shared dir for TLS files"),
        }
    }

    /// Writes `leaf` (if any: without one a node can only dial, and only
    /// servers that ask for no certificate), the CA certificate of `trust`
    /// and an options file for mutual verification: both sides
    /// `verify_peer`, the server `fail_if_no_peer_cert`; `extra` (e.g.
    /// `, {versions, ['tlsv1.3']}`) is appended to both option lists.
    pub(crate) fn optfile(
        &self,
        name: &str,
        leaf: Option<&Leaf>,
        trust: &Pki,
        extra: &str,
    ) -> OptFile {
        self.dir
            .write(&format!("{name}_ca.pem"), trust.ca_pem())
            .expect("CA file");
        if let Some(l) = leaf {
            self.dir
                .write(&format!("{name}.pem"), &l.cert_pem)
                .expect("cert file");
            self.dir
                .write(&format!("{name}.key"), &l.key_pem)
                .expect("key file");
        }
        let text = |base: &std::path::Path| {
            let f = |suffix: &str| base.join(format!("{name}{suffix}")).display().to_string();
            let mine = if leaf.is_some() {
                format!(
                    "{{certfile, {:?}}}, {{keyfile, {:?}}}, ",
                    f(".pem"),
                    f(".key")
                )
            } else {
                String::new()
            };
            let ca = f("_ca.pem");
            format!(
                "%% written by the distro test harness\n\
                 [{{server, [{mine}{{cacertfile, {ca:?}}}, {{verify, verify_peer}}, {{fail_if_no_peer_cert, true}}{extra}]}},\n \
                 {{client, [{mine}{{cacertfile, {ca:?}}}, {{verify, verify_peer}}{extra}]}}].\n"
            )
        };
        let node = self
            .dir
            .write(&format!("{name}.conf"), text(self.dir.node_path()))
            .expect("options file");
        self.dir
            .write(&format!("{name}.host.conf"), text(self.dir.host_path()))
            .expect("options file");
        OptFile {
            node,
            host: self.dir.host_path().join(format!("{name}.host.conf")),
        }
    }
}

impl OptFile {
    /// `erl` arguments: `-proto_dist inet_tls -ssl_dist_optfile FILE`.
    pub(crate) fn beam_args(&self) -> Vec<String> {
        vec![
            "-proto_dist".into(),
            "inet_tls".into(),
            "-ssl_dist_optfile".into(),
            self.node.display().to_string(),
        ]
    }

    /// The same arguments for the `distro` binary.
    pub(crate) fn distro_args(&self) -> Vec<String> {
        vec![
            "-proto_dist".into(),
            "inet_tls".into(),
            "-ssl_dist_optfile".into(),
            self.host.display().to_string(),
        ]
    }

    /// [`OptFile::beam_args`] with another carrier (`inet6_tls`).
    pub(crate) fn beam_args_over(&self, proto: &str) -> Vec<String> {
        let mut args = self.beam_args();
        args[1] = proto.into();
        args
    }

    /// The TLS configuration for an in-process node.
    pub(crate) fn load(&self) -> Arc<TlsDist> {
        let (tls, _warnings) = TlsDist::load(Some(&self.host), &[]).expect("TLS options load");
        Arc::new(tls)
    }
}
