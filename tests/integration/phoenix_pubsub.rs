//! The Rust Phoenix.PubSub client against Elixir nodes of the release
//! `DISTRO_OTP` selects, running `erl_interop/phoenix_pubsub_wire` (what
//! phoenix_pubsub 2.2.0's PG2 adapter does on the wire): two Elixir nodes
//! and a Rust node share `MyApp.PubSub` with pool size 2. Every kind of
//! broadcast from each side reaches exactly the subscribers it should, in
//! order; the Rust subscriber and the Elixir subscribers receive the same
//! cluster-wide broadcasts; the pg view of the adapter's groups agrees.
//! The relay of `examples/pubsub_relay.rs` republishes what an Elixir node
//! broadcasts.

use distro::term;
// The example, compiled here too so that its relay runs against Elixir.
#[path = "../../examples/pubsub_relay.rs"]
#[allow(dead_code)]
mod pubsub_relay;

use crate::support::rust_node::Probe;
use crate::support::{
    ElixirNode, ElixirOpts, Epmd, Otp, RustNode, mix_compile, require_elixir, require_otp,
    unique_node, wait_until,
};
use distro::kernel::erpc;
use distro::phoenix_pubsub::{PubSub, PubSubConfig, SCOPE};
use distro::runtime::Process;
use distro::term::{Pid, Pretty, Term, TermExt, atom, binary, int};
use std::path::Path;
use std::time::Duration;

const T: Duration = Duration::from_secs(30);
const STARTED: &str = "@@pubsub started";
const PUBSUB: &str = "Elixir.MyApp.PubSub";

fn elixir(epmd: &Epmd, otp: &Otp, ebin: &Path, label: &str) -> ElixirNode {
    let eval = format!(
        "Application.put_env(:phoenix_pubsub_wire, :pubsubs, [[name: MyApp.PubSub, pool_size: 2]]); \
         {{:ok, _}} = Application.ensure_all_started(:phoenix_pubsub_wire); IO.puts(\"{STARTED}\")"
    );
    let opts = ElixirOpts::new(
        otp.clone(),
        &unique_node(label),
        crate::support::DEFAULT_COOKIE,
        &eval,
    )
    .code_path(ebin);
    let node = ElixirNode::start(epmd, opts).expect("elixir node");
    node.log()
        .wait_for(STARTED, Duration::from_secs(120))
        .expect("the PubSub starts");
    node
}

/// `erpc:call(Node, M, F, A)` from a process of the Rust node.
fn call(r: &RustNode, node: &str, m: &str, f: &str, args: Vec<Term>) -> Term {
    let (node, m, f) = (node.to_owned(), m.to_owned(), f.to_owned());
    r.in_process(T, move |mut p: Process| async move {
        erpc::call(&mut p, &node, &m, &f, args, T).await
    })
    .unwrap_or_else(|e| panic!("erpc call failed: {e:?}"))
}

fn msg(n: i64) -> Term {
    term!({msg, (int(n))})
}

fn topic(t: &str) -> Term {
    binary(t.as_bytes().to_vec())
}

/// A subscriber and how to read what it received so far.
enum Sub<'a> {
    Rust(Probe, std::cell::RefCell<Vec<Term>>),
    Elixir(&'a ElixirNode, Term),
}

impl Sub<'_> {
    fn received(&self, r: &RustNode) -> Vec<Term> {
        match self {
            Sub::Rust(p, seen) => {
                let mut seen = seen.borrow_mut();
                while let Some(m) = p.recv(Duration::ZERO) {
                    seen.push(m);
                }
                seen.clone()
            }
            Sub::Elixir(e, pid) => call(
                r,
                e.node_name(),
                "Elixir.PhoenixPubSubWire.Probe",
                "messages",
                vec![pid.clone()],
            )
            .as_list()
            .map(|l| l.into_owned())
            .unwrap_or_default(),
        }
    }
}

/// Waits until each subscriber received exactly `{msg, N}` for its list.
fn wait_received(r: &RustNode, subs: &[(&str, &Sub<'_>, &[i64])]) {
    for (who, sub, want) in subs {
        let want: Vec<Term> = want.iter().map(|&n| msg(n)).collect();
        let mut got = Vec::new();
        let ok = wait_until(&format!("{who} receives {want:?}"), T, || {
            got = sub.received(r);
            got == want
        });
        if let Err(e) = ok {
            let show: Vec<String> = got.iter().map(|m| Pretty(m).to_string()).collect();
            panic!("{e}: {who} got {show:?}");
        }
    }
}

fn assert_quiet(e: &ElixirNode) {
    let noise: Vec<String> = e
        .log()
        .lines()
        .into_iter()
        .map(|l| l.text)
        .filter(|t| t.trim() != STARTED && !t.trim().is_empty())
        .collect();
    assert!(
        noise.is_empty(),
        "{} logged:\n{}",
        e.node_name(),
        noise.join("\n")
    );
}

#[test]
fn rust_and_elixir_subscribers_get_the_same_broadcasts() {
    let Some(otp) = require_otp() else { return };
    if require_elixir(&otp).is_none() {
        return;
    }
    let epmd = Epmd::start().unwrap();
    let dir = otp.shared_dir().unwrap();
    let project = Path::new(env!("CARGO_MANIFEST_DIR")).join("erl_interop/phoenix_pubsub_wire");
    let ebin = mix_compile(&otp, &project, &dir, "ppw").expect("mix compile");
    let e1 = elixir(&epmd, &otp, &ebin, "ps_e1");
    let e2 = elixir(&epmd, &otp, &ebin, "ps_e2");
    let r = RustNode::start(&epmd, "ps_r");
    let cfg = PubSubConfig::new("MyApp.PubSub").pool_size(2);
    assert_eq!(cfg.name, PUBSUB);
    let ps = r
        .run(PubSub::start(&r.node, &r.kernel.pg, cfg))
        .expect("the Rust PubSub starts");
    assert!(r.run(r.node.ping(e1.node_name())) && r.run(r.node.ping(e2.node_name())));

    // The adapter's groups hold one worker per node, seen alike everywhere.
    let groups = [
        atom("Elixir.MyApp.PubSub.Adapter"),
        atom("Elixir.MyApp.PubSub.Adapter_2"),
    ];
    let scope = r
        .kernel
        .pg
        .scope(SCOPE)
        .expect("the Phoenix.PubSub scope runs");
    for g in &groups {
        wait_until("three workers per group", T, || {
            let mut seen: Vec<Vec<Pid>> = [&e1, &e2]
                .iter()
                .map(|e| {
                    let t = call(
                        &r,
                        e.node_name(),
                        "pg",
                        "get_members",
                        vec![atom(SCOPE), g.clone()],
                    );
                    let mut v: Vec<Pid> = t
                        .as_list()
                        .map(|l| l.iter().filter_map(|p| p.as_pid().cloned()).collect())
                        .unwrap_or_default();
                    v.sort_by(distro::term::cmp_pids);
                    v
                })
                .collect();
            let mut mine = scope.get_members(g);
            mine.sort_by(distro::term::cmp_pids);
            seen.push(mine);
            seen[0].len() == 3 && seen.iter().all(|v| *v == seen[0])
        })
        .unwrap();
    }

    let probe = r.probe(None, false, |_| {});
    ps.subscribe(&probe.pid, "room:1").unwrap();
    let rs = Sub::Rust(probe, Default::default());
    let rs_pid = match &rs {
        Sub::Rust(p, _) => p.pid.clone(),
        Sub::Elixir(..) => unreachable!(),
    };
    let sub = |e: &ElixirNode| {
        let pid = call(
            &r,
            e.node_name(),
            "Elixir.PhoenixPubSubWire.Probe",
            "subscriber",
            vec![atom(PUBSUB), topic("room:1")],
        );
        assert!(pid.as_pid().is_some(), "a subscriber pid: {pid:?}");
        pid
    };
    let (p1, p2) = (sub(&e1), sub(&e2));
    let es1 = Sub::Elixir(&e1, p1.clone());
    let es2 = Sub::Elixir(&e2, p2.clone());
    let pubsub_call = |e: &ElixirNode, f: &str, args: Vec<Term>| {
        let v = call(&r, e.node_name(), "Elixir.Phoenix.PubSub", f, args);
        assert_eq!(v, atom("ok"), "{f} on {}", e.node_name());
    };
    let room = || topic("room:1");
    let mut want_r: Vec<i64> = Vec::new();
    let mut want_1: Vec<i64> = Vec::new();
    let mut want_2: Vec<i64> = Vec::new();
    let mut step = |n: i64, to: &[&str], act: &dyn Fn()| {
        act();
        for who in to {
            match *who {
                "r" => want_r.push(n),
                "e1" => want_1.push(n),
                _ => want_2.push(n),
            }
        }
        wait_received(
            &r,
            &[
                ("rust", &rs, &want_r),
                ("e1", &es1, &want_1),
                ("e2", &es2, &want_2),
            ],
        );
    };
    let all = ["r", "e1", "e2"];
    let ps_name = atom(PUBSUB);
    step(1, &all, &|| {
        pubsub_call(&e1, "broadcast", vec![ps_name.clone(), room(), msg(1)])
    });
    step(2, &all, &|| {
        pubsub_call(&e2, "broadcast", vec![ps_name.clone(), room(), msg(2)])
    });
    step(3, &all, &|| ps.broadcast("room:1", msg(3)).unwrap());
    step(4, &["e1", "e2"], &|| {
        ps.broadcast_from(&rs_pid, "room:1", msg(4)).unwrap()
    });
    step(5, &["r"], &|| ps.local_broadcast("room:1", msg(5)));
    step(6, &["e2"], &|| {
        ps.direct_broadcast(e2.node_name(), "room:1", msg(6))
    });
    step(7, &["r"], &|| {
        pubsub_call(
            &e1,
            "direct_broadcast",
            vec![atom(r.name()), ps_name.clone(), room(), msg(7)],
        );
    });
    step(8, &["e1"], &|| {
        pubsub_call(
            &e1,
            "local_broadcast",
            vec![ps_name.clone(), room(), msg(8)],
        )
    });
    step(9, &["r"], &|| {
        ps.direct_broadcast(r.name(), "room:1", msg(9))
    });
    step(10, &["r", "e2"], &|| {
        let v = call(
            &r,
            e1.node_name(),
            "Elixir.PhoenixPubSubWire.Probe",
            "broadcast_from",
            vec![p1.clone(), ps_name.clone(), room(), msg(10)],
        );
        assert_eq!(v, atom("ok"));
    });
    // Another topic reaches none of them; then the Rust subscriber leaves.
    ps.broadcast("room:2", msg(11)).unwrap();
    pubsub_call(
        &e2,
        "broadcast",
        vec![ps_name.clone(), topic("room:2"), msg(11)],
    );
    if let Sub::Rust(p, _) = &rs {
        ps.unsubscribe(&p.pid, "room:1");
    }
    assert!(ps.subscribers("room:1").is_empty());
    step(12, &["e1", "e2"], &|| {
        pubsub_call(&e2, "broadcast", vec![ps_name.clone(), room(), msg(12)])
    });
    step(13, &["e1", "e2"], &|| {
        ps.broadcast("room:1", msg(13)).unwrap()
    });

    // The same cluster-wide broadcasts reached the Rust and the Elixir
    // subscribers, in the same order.
    let common = |v: &[i64]| -> Vec<i64> {
        v.iter()
            .copied()
            .filter(|n| [1, 2, 3].contains(n))
            .collect()
    };
    assert_eq!(common(&want_r), common(&want_1));
    assert_eq!(common(&want_r), common(&want_2));
    assert_quiet(&e1);
    assert_quiet(&e2);
}

/// `examples/pubsub_relay.rs`: an Elixir broadcast on `orders:new` comes
/// back on `orders:audit` to an Elixir subscriber, republished by Rust.
#[test]
fn the_relay_example_republishes() {
    let Some(otp) = require_otp() else { return };
    if require_elixir(&otp).is_none() {
        return;
    }
    let epmd = Epmd::start().unwrap();
    let dir = otp.shared_dir().unwrap();
    let project = Path::new(env!("CARGO_MANIFEST_DIR")).join("erl_interop/phoenix_pubsub_wire");
    let ebin = mix_compile(&otp, &project, &dir, "ppw").expect("mix compile");
    let e = elixir(&epmd, &otp, &ebin, "relay_e");
    let r = RustNode::start(&epmd, "relay_r");
    assert!(r.run(r.node.ping(e.node_name())));
    let cfg = PubSubConfig::new("MyApp.PubSub").pool_size(2);
    let (ps, _relay) = r
        .run(pubsub_relay::relay(
            &r.node,
            &r.kernel.pg,
            cfg,
            "orders:new".to_owned(),
            "orders:audit".to_owned(),
        ))
        .expect("the relay starts");
    let audit = call(
        &r,
        e.node_name(),
        "Elixir.PhoenixPubSubWire.Probe",
        "subscriber",
        vec![atom(PUBSUB), topic("orders:audit")],
    );
    let es = Sub::Elixir(&e, audit);
    // Once the Elixir node sees the Rust workers, its broadcasts reach the relay.
    wait_until("the Rust workers in the Elixir node's groups", T, || {
        let t = call(
            &r,
            e.node_name(),
            "pg",
            "get_members",
            vec![atom(SCOPE), atom("Elixir.MyApp.PubSub.Adapter_2")],
        );
        t.as_list()
            .is_some_and(|l| l.iter().any(|p| p.as_pid() == Some(&ps.workers()[1])))
    })
    .unwrap();
    for n in 1..=3 {
        let v = call(
            &r,
            e.node_name(),
            "Elixir.Phoenix.PubSub",
            "broadcast",
            vec![atom(PUBSUB), topic("orders:new"), msg(n)],
        );
        assert_eq!(v, atom("ok"));
    }
    wait_received(&r, &[("the audit subscriber", &es, &[1, 2, 3])]);
    assert_quiet(&e);
}
