//! A Rust service in an Elixir application's cluster: it subscribes to one
//! topic of the application's Phoenix.PubSub and republishes every message
//! it receives there on another topic, for the subscribers on every node.
//!
//! ```sh
//! cargo run --example pubsub_relay -- --name relay@127.0.0.1 --cookie secret \
//!     --connect app@127.0.0.1 --pubsub MyApp.PubSub --from orders:new --to orders:audit
//! ```
//!
//! and on the Elixir node `app@127.0.0.1` (running `MyApp.PubSub`):
//!
//! ```elixir
//! Phoenix.PubSub.subscribe(MyApp.PubSub, "orders:audit")
//! Phoenix.PubSub.broadcast(MyApp.PubSub, "orders:new", {:order, 42})
//! flush()   # {:order, 42}, republished by the Rust node
//! ```
//!
//! Options: `--pool-size N` (must match the Elixir side, default 1),
//! `--connect` may be repeated; `ERL_EPMD_PORT` is honoured.

use distro::kernel::pg::Pg;
use distro::phoenix_pubsub::{PubSub, PubSubConfig, PubSubError};
use distro::runtime::{Node, NodeConfig, Process};
use distro::term::Pid;

/// The relay: a process subscribed to `from` that broadcasts whatever it
/// receives on `to` (to every subscriber but itself). Returns its pid.
pub(crate) async fn relay(
    node: &Node,
    pg: &Pg,
    cfg: PubSubConfig,
    from: String,
    to: String,
) -> Result<(PubSub, Pid), PubSubError> {
    let pubsub = PubSub::start(node, pg, cfg).await?;
    let ps = pubsub.clone();
    let (ready_tx, ready_rx) = tokio::sync::oneshot::channel();
    let pid = node.spawn(move |mut p: Process| async move {
        let subscribed = ps.subscribe(p.pid(), &from);
        let failed = subscribed.is_err();
        let _ = ready_tx.send(subscribed);
        if failed {
            return;
        }
        loop {
            let msg = p.recv().await;
            tracing::info!(
                "relaying {} from {from} to {to}",
                distro::term::Pretty(&msg)
            );
            if let Err(e) = ps.broadcast_from(p.pid(), &to, msg) {
                tracing::error!("cannot republish on {to}: {e}");
            }
        }
    });
    ready_rx.await.map_err(|_| {
        PubSubError::Pg(distro::kernel::pg::PgError::NotRunning("relay".to_owned()))
    })??;
    Ok((pubsub, pid))
}

/// The command line.
struct Args {
    name: String,
    cookie: String,
    connect: Vec<String>,
    pubsub: String,
    pool_size: usize,
    from: String,
    to: String,
}

fn parse_args() -> anyhow::Result<Args> {
    let mut a = Args {
        name: String::new(),
        cookie: String::new(),
        connect: Vec::new(),
        pubsub: "MyApp.PubSub".to_owned(),
        pool_size: 1,
        from: String::new(),
        to: String::new(),
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || {
            it.next()
                .ok_or_else(|| anyhow::anyhow!("{flag} needs a value"))
        };
        match flag.as_str() {
            "--name" => a.name = value()?,
            "--cookie" => a.cookie = value()?,
            "--connect" => a.connect.push(value()?),
            "--pubsub" => a.pubsub = value()?,
            "--pool-size" => a.pool_size = value()?.parse()?,
            "--from" => a.from = value()?,
            "--to" => a.to = value()?,
            other => anyhow::bail!("unknown option {other}"),
        }
    }
    for (what, v) in [
        ("--name", &a.name),
        ("--cookie", &a.cookie),
        ("--from", &a.from),
        ("--to", &a.to),
    ] {
        anyhow::ensure!(!v.is_empty(), "{what} is required");
    }
    anyhow::ensure!(
        a.from != a.to,
        "--from and --to must differ (the relay would loop)"
    );
    Ok(a)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("DISTRO_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
    let args = parse_args()?;
    let mut cfg = NodeConfig::new(&args.name, &args.cookie);
    if let Some(port) = std::env::var("ERL_EPMD_PORT")
        .ok()
        .and_then(|p| p.parse().ok())
    {
        cfg.epmd_port = port;
    }
    let (node, kernel) = distro::start(cfg).await?;
    for peer in &args.connect {
        if !node.ping(peer).await {
            anyhow::bail!("cannot connect to {peer}");
        }
    }
    let ps_cfg = PubSubConfig::new(&args.pubsub).pool_size(args.pool_size);
    let (_pubsub, _pid) = relay(
        &node,
        &kernel.pg,
        ps_cfg,
        args.from.clone(),
        args.to.clone(),
    )
    .await?;
    tracing::info!("relaying {} → {} on {}", args.from, args.to, args.pubsub);
    tokio::signal::ctrl_c().await?;
    node.stop().await;
    Ok(())
}
