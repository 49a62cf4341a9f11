//! A Rust client of a gen_server running on a BEAM node:
//! `cargo run --example beam_client -- client@127.0.0.1 secret beam@127.0.0.1 kv get`
//! calls `gen_server:call({kv, 'beam@127.0.0.1'}, get)` and prints the reply.
use distro::prelude::*;

/// Connects to `beam` and calls the server registered there as `server`.
pub(crate) async fn call_beam(
    node: &Node,
    beam: &str,
    server: &str,
    request: Term,
) -> Result<Term, distro::CallExit> {
    node.ping(beam).await;
    node.client().call((server, beam), request, 5000).await
}

#[allow(dead_code)] // the integration test includes this file for call_beam
#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [name, cookie, beam, server, request] = &args[..] else {
        return Err("usage: NAME COOKIE BEAM_NODE SERVER REQUEST_ATOM".into());
    };
    let running = Node::builder(name).cookie(cookie).start().await?;
    let request = distro::term::atom(request);
    let reply = call_beam(&running.node, beam, server, request).await?;
    println!("{}", distro::term::Pretty(&reply));
    Ok(())
}
