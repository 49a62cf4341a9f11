//! The seed walkthrough over TLS: the Rust `one` (the `distro` binary) and
//! the Elixir `two` and `three` with `{distributed, [{distro, 5000, [one,
//! {two, three}]}]}`, every node `-proto_dist inet_tls` with mutual
//! verification. `Distro.DistroCal.add(4, 5)` is 9 at `two` throughout:
//! served by `one`, by `three` after `one` is killed (failover), by `one`
//! again after it restarts (takeover).

use crate::dist_ac::cluster::{COOKIE, Cluster, LONG, block, name, until};
use crate::support::tls::{Pki, TlsDir, Validity};
use crate::support::{BeamNode, BeamOpts, require_elixir, require_otp};
use std::time::{Duration, Instant};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seed_walkthrough_over_tls() {
    let Some(otp) = require_otp() else { return };
    crate::support::rust_log::init();
    let Some(elixir) = require_elixir(&otp) else {
        return;
    };
    let label = format!("OTP {} (Elixir {elixir})", otp.number());
    let cl = Cluster::new(otp.clone(), false);
    let pki = Pki::new("distro seed CA");
    let dir = TlsDir::new(&otp);
    let n = [name("one"), name("two"), name("three")];
    let opt = |node: &str| {
        let short = node.split('@').next().unwrap_or(node);
        dir.optfile(
            short,
            Some(&pki.node(short, &["127.0.0.1"], Validity::Current)),
            &pki,
            "",
        )
    };
    let env =
        |me: &str| crate::dist_ac::cluster::cluster_env("distro", &n, me, "optional", 5000, "");
    let two = cl.elixir_with(&n[1], &env(&n[1]), opt(&n[1]).beam_args());
    let three = cl.elixir_with(&n[2], &env(&n[2]), opt(&n[2]).beam_args());
    let one_opt = opt(&n[0]);
    let mut one = cl.distro_bin_with(&n[0], &env(&n[0]), "distro", one_opt.distro_args());
    block(|| one.wait_for_log("Distro application in :normal mode", LONG)).unwrap();
    block(|| two.log().wait_for("@@distro start returned", LONG)).unwrap();
    block(|| three.log().wait_for("@@distro start returned", LONG)).unwrap();

    // A hidden BEAM probe (over TLS too) asks the Elixir nodes.
    let probe_opt = opt("probe");
    let probe = block(|| {
        BeamNode::start(
            &cl.epmd,
            BeamOpts::new("probe")
                .cookie(COOKIE)
                .hidden()
                .otp(otp.clone())
                .args(probe_opt.beam_args()),
        )
    })
    .unwrap();
    let at_two = |expr: String| {
        block(|| {
            probe.eval(&format!(
                "rpc:call('{}', erlang, apply, [fun() -> {expr} end, []]).",
                n[1]
            ))
        })
    };
    let add = "'Elixir.Distro.DistroCal':add(4, 5)".to_owned();
    until(
        "Distro.DistroCal.add(4, 5) at two, served by one",
        LONG,
        || at_two(add.clone()).is_ok_and(|v| v == "9"),
    )
    .await;
    // two reaches one over TLS.
    let protocol = format!(
        "element(4, proplists:get_value(address, element(2, net_kernel:node_info('{}'))))",
        n[0]
    );
    assert_eq!(at_two(protocol.clone()).unwrap(), "tls", "{label}");

    // Failover: one is killed, three takes the application after 5 s.
    let killed = Instant::now();
    one.kill();
    block(|| {
        three
            .log()
            .wait_for("Distro application in :normal mode", LONG)
    })
    .unwrap();
    let failover = killed.elapsed();
    eprintln!("[{label}] failover over TLS (Rust one killed -> Elixir three): {failover:?}");
    assert!(
        failover >= Duration::from_millis(4900),
        "{label}: {failover:?}"
    );
    assert!(!two.log().contains("Distro application in"));
    until(
        "Distro.DistroCal.add(4, 5) at two, served by three",
        LONG,
        || at_two(add.clone()).is_ok_and(|v| v == "9"),
    )
    .await;

    // Takeover: one comes back and takes the application from three.
    let mut one = cl.distro_bin_with(&n[0], &env(&n[0]), "distro", one_opt.distro_args());
    let line = block(|| one.wait_for_log("Distro application in {:takeover", LONG)).unwrap();
    assert!(line.contains(&n[2]), "{label}: {line}");
    block(|| three.log().wait_for("Application distro exited", LONG)).unwrap();
    until(
        "Distro.DistroCal.add(4, 5) at two after the takeover",
        LONG,
        || at_two(add.clone()).is_ok_and(|v| v == "9"),
    )
    .await;
    assert_eq!(at_two(protocol).unwrap(), "tls", "{label}");
    one.kill();
}
