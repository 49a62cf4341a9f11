use distro::runtime::{GenCall, NodeConfig};
use distro::term::{atom, tuple};
#[tokio::main]
async fn main() {
    tracing_subscriber::fmt().with_env_filter("debug").init();
    let mut cfg = NodeConfig::new("rust@127.0.0.1", "scratch");
    cfg.epmd_port = std::env::var("ERL_EPMD_PORT")
        .ok()
        .and_then(|p| p.parse().ok())
        .unwrap_or(4369);
    let (node, _k) = distro::start(cfg).await.unwrap();
    node.spawn(|mut p| async move {
        p.register("echo").unwrap();
        loop {
            let m = p.recv().await;
            if let Some(c) = GenCall::parse(&m) {
                p.reply(&c.from, tuple(vec![atom("echo"), c.request.clone()]));
            } else if let Some(distro::term::Term::Pid(from)) = distro::term::TermExt::elem(&m, 0) {
                p.send(from, m.clone());
            }
        }
    });
    let peer = std::env::args().nth(1);
    if let Some(peer) = peer {
        println!("ping {peer}: {}", node.ping(&peer).await);
    }
    tokio::time::sleep(std::time::Duration::from_secs(30)).await;
}
