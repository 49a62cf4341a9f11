//! The examples of `examples/` against real BEAM nodes: the supervised
//! counter application (`counter_app.rs`) called by a BEAM node through
//! `{global, counter}`, and the client (`beam_client.rs`) calling a BEAM
//! gen_server. (`pubsub_relay.rs` runs in `phoenix_pubsub`.)

#[path = "../../examples/beam_client.rs"]
#[allow(dead_code)]
mod beam_client;
#[path = "../../examples/counter_app.rs"]
#[allow(dead_code)]
mod counter_app;

use crate::support::names::unique_node;
use crate::support::{BeamNode, BeamOpts, DEFAULT_COOKIE, Epmd, require_otp};
use distro::term;

#[test]
fn the_counter_application_answers_beam_through_global() {
    let Some(otp) = require_otp() else { return };
    let epmd = Epmd::start().unwrap();
    let rt = crate::support::tokio_runtime();
    let port = epmd.port();
    let name = unique_node("counter");
    let running = rt
        .block_on(
            distro::Node::builder(&name)
                .cookie(DEFAULT_COOKIE)
                .start_epmd(false)
                .configure(move |c| {
                    c.epmd_port = port;
                    c.listen_addr = Some(std::net::Ipv4Addr::LOCALHOST.into());
                })
                .halt(std::sync::Arc::new(|code, line| {
                    panic!("the node would halt ({code}): {line}")
                }))
                .app(counter_app::CounterApp)
                .start(),
        )
        .expect("the node and the counter application start");
    assert!(running.apps.ac.is_running("counter"));
    let b = BeamNode::start(&epmd, BeamOpts::new("b").otp(otp)).expect("beam node starts");
    assert_eq!(b.eval(&format!("net_adm:ping('{name}').")).unwrap(), "pong");
    b.eval("global:sync().").unwrap();
    assert_eq!(
        b.eval("gen_server:call({global, counter}, {add, 2}).")
            .unwrap(),
        "2"
    );
    assert_eq!(
        b.eval("gen_server:call({global, counter}, {add, 3}).")
            .unwrap(),
        "5"
    );
    // The server is supervised: killed, it restarts (from 0) under its name.
    b.eval("exit(global:whereis_name(counter), kill).").unwrap();
    let mut reply = String::new();
    for _ in 0..100 {
        match b.eval("catch gen_server:call({global, counter}, {add, 1}).") {
            Ok(r) if r == "1" => {
                reply = r;
                break;
            }
            _ => std::thread::sleep(std::time::Duration::from_millis(50)),
        }
    }
    assert_eq!(reply, "1");
    rt.block_on(running.node.stop());
}

#[test]
fn the_client_example_calls_a_beam_gen_server() {
    let Some(otp) = require_otp() else { return };
    let epmd = Epmd::start().unwrap();
    let b = BeamNode::start(&epmd, BeamOpts::new("b").otp(otp)).expect("beam node starts");
    // A minimal server answering gen_server calls (`get` -> 42).
    b.eval("register(kv, spawn(fun Loop() -> receive {'$gen_call', {P, T}, get} -> gen:reply({P, T}, 42), Loop() end end)), ok.")
        .unwrap();
    let r = crate::support::rust_node::RustNode::start(&epmd, "client");
    let reply = r.run(beam_client::call_beam(
        &r.node,
        b.node_name(),
        "kv",
        term!(get),
    ));
    assert_eq!(reply, Ok(term!(42)));
    let e = r
        .run(beam_client::call_beam(
            &r.node,
            b.node_name(),
            "nosuch",
            term!(get),
        ))
        .unwrap_err();
    assert_eq!(e.reason, term!(noproc));
}

/// `Node::builder(..).sys_config(path)`: the file sets the node (the
/// listen port range), and the applications' environment.
#[test]
fn the_builder_applies_a_sys_config_file() {
    let Some(_otp) = require_otp() else { return };
    let epmd = Epmd::start().unwrap();
    let rt = crate::support::tokio_runtime();
    let dir = tempfile::tempdir().unwrap();
    let port = crate::support::free_port();
    let path = dir.path().join("sys.config");
    std::fs::write(
        &path,
        format!(
            "[{{kernel, [{{inet_dist_listen_min, {port}}}, {{inet_dist_listen_max, {port}}}]}},\n \
             {{counter, [{{step, 5}}]}}]."
        ),
    )
    .unwrap();
    let epmd_port = epmd.port();
    let running = rt
        .block_on(
            distro::Node::builder(&unique_node("sys"))
                .cookie(DEFAULT_COOKIE)
                .sys_config(&path)
                .start_epmd(false)
                .configure(move |c| c.epmd_port = epmd_port)
                .app(counter_app::CounterApp)
                .start(),
        )
        .expect("the node starts");
    assert_eq!(running.node.listen_port(), port);
    assert_eq!(running.apps.ac.get_env("counter", "step"), Some(term!(5)));
    rt.block_on(running.node.stop());
}
