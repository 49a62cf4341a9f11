//! Testing a Rust service against a real OTP node in a Docker container,
//! with `distro::docker` (cargo feature `docker`).
//!
//! ```sh
//! scripts/images.sh                                  # distro-otp:25|27|29, locally
//! cargo run --features docker --example docker_otp   # DISTRO_OTP=25|27|29 (default 25)
//! ```
//!
//! It starts an `erl` node in a container on a fresh internal network, a
//! Rust node in this process, and then:
//! 1. pings the BEAM node;
//! 2. calls `erlang:system_info(otp_release)` there over rpc;
//! 3. registers a Rust `gen_server` under a global name and has the BEAM
//!    node call it (`gen_server:call({global, calc}, {cal, 4, 5})` → 9).
//!
//! Everything is removed at the end (container, network); the Rust node's
//! EPMD lives in this process. The same steps run as the integration test
//! `containers::example::example_docker_otp_runs`.

use std::time::Duration;

use anyhow::{Context, ensure};
use distro::behaviours::gen_server::{self, CallReply, GenFrom, GenServer};
use distro::docker::{LocalEpmd, Network, OtpNode, OtpNodeOptions};
use distro::kernel::rpc;
use distro::runtime::Process;
use distro::term::{Term, TermExt, atom, int};

/// The Rust service under test: `{cal, X, Y}` → `X + Y`.
struct Calc;

impl GenServer for Calc {
    async fn handle_call(&mut self, req: Term, _from: GenFrom, _p: &mut Process) -> CallReply {
        let sum = req.elem(1).and_then(TermExt::as_i64).unwrap_or(0)
            + req.elem(2).and_then(TermExt::as_i64).unwrap_or(0);
        CallReply::Reply(int(sum))
    }
}

#[tokio::main]
pub(crate) async fn main() -> anyhow::Result<()> {
    let release: u32 = match std::env::var("DISTRO_OTP") {
        Ok(v) => v.parse().context("DISTRO_OTP must be 25, 27 or 29")?,
        Err(_) => 25,
    };

    // The OTP node: its own container and network, the EPMD port of ours.
    let epmd = LocalEpmd::start().await?;
    let net = Network::create("distro-example").await?;
    let beam = OtpNode::start(&net, OtpNodeOptions::new(release).epmd_port(epmd.port()))
        .await
        .with_context(|| format!("starting distro-otp:{release} (did scripts/images.sh run?)"))?;
    let (node, kernel) = distro::start(beam.rust_node_config("rust")).await?;
    println!("{} and {}", node.name().name, beam.node_name());

    // 1. ping
    ensure!(node.ping(beam.node_name()).await, "pang");
    println!("ping: pong");

    // 2. rpc from Rust to BEAM
    let (tx, rx) = tokio::sync::oneshot::channel();
    let target = beam.node_name().to_owned();
    node.spawn(move |mut p| async move {
        let r = rpc::call(
            &mut p,
            &target,
            "erlang",
            "system_info",
            vec![atom("otp_release")],
            Duration::from_secs(10),
        )
        .await;
        let _ = tx.send(r);
    });
    let otp = rx
        .await?
        .map_err(|e| anyhow::anyhow!("rpc failed: {e:?}"))?;
    let otp = otp.as_text().context("otp_release is a string")?;
    println!("rpc:call(erlang, system_info, [otp_release]) = {otp:?}");
    ensure!(
        otp == release.to_string(),
        "expected OTP {release}, got {otp}"
    );

    // 3. BEAM calls a Rust gen_server through a global name
    let pid = gen_server::start(&node, None, Calc).await?;
    ensure!(kernel.global.register_name(atom("calc"), &pid).await?);
    let sum = beam
        .eval("global:sync(), gen_server:call({global, calc}, {cal, 4, 5}).")
        .await?;
    println!("gen_server:call({{global, calc}}, {{cal, 4, 5}}) at the BEAM node = {sum}");
    ensure!(sum == "9", "expected 9, got {sum}");
    Ok(())
}
