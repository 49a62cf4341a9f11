//! dist_ac against real BEAM nodes of the release `DISTRO_OTP` selects
//! (25, 27 or 29), on the shared harness: the OTP guide's cp1/cp2/cp3 with
//! the Rust node first in the priority list, in the failover group, two
//! Rust nodes and one BEAM; the guide's whole story (cp1 down, cp2 down,
//! cp2 back, cp1 back) with `distro` as cp1, cp2, cp3, cp1+cp2 and with
//! BEAM only (`guide.rs`); the first node back inside the restart time;
//! `application:takeover/2` both ways; start phases; `distribution_mismatch`;
//! a missing mandatory node (library and binary); the seed walkthrough
//! with Elixir nodes; failover times of clusters with a Rust node and of
//! an all-BEAM one (printed as `[OTP NN] failover ...`).
//!
//! Reference: OTP 25's behaviour at boot, failover, takeover and with start
//! phases (the BEAM-only runs below), and `failover_comp/1` in OTP's
//! `application_SUITE.erl`.

pub(crate) mod cluster;
mod guide;
mod stopped;

use crate::support::{
    BeamNode, BeamOpts, DistroNode, DistroOpts, Epmd, require_elixir, require_otp,
};
use cluster::*;
use distro::kernel::application_controller::{HaltFn, RestartType, StartType};
use distro::kernel::dist_ac::{DistEntry, NodeSpec, NodesSpec, RestartTime};
use distro::kernel::kernel_config::{SyncNodes, SyncTimeout};
use distro::term::Atom;
use std::sync::Arc;
use std::time::{Duration, Instant};

fn setup() -> Option<crate::support::Otp> {
    let otp = require_otp()?;
    crate::support::rust_log::init();
    Some(otp)
}

fn label(otp: &crate::support::Otp) -> String {
    format!("OTP {}", otp.number())
}

/// OTP guide with the Rust node as cp1: starts at cp1 (`normal`); killed →
/// after 5 s at cp2 (weights 2/2, smaller name); back → `{takeover, cp2}`
/// and cp2 stops its instance (s1, s2, s3).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn guide_with_rust_first() {
    let Some(otp) = setup() else { return };
    let cl = Cluster::new(otp.clone(), false);
    let n = names();
    let (h2, h3) = (
        cl.spawn_beam(&n[1], &beam_env(&n, &n[1])),
        cl.spawn_beam(&n[2], &beam_env(&n, &n[2])),
    );
    let mut bin = cl.distro_bin(&n[0], &beam_env(&n, &n[0]), "myapp");
    let (cp2, cp3) = (h2.await.unwrap(), h3.await.unwrap());
    block(|| bin.wait_for_log("myapp starting: StartType = normal", LONG)).unwrap();
    beam_start_myapp(&cp2);
    beam_start_myapp(&cp3);
    assert!(runs_at(&cp2, &n[0], "myapp"));
    assert!(!beam_runs(&cp2) && !beam_runs(&cp3));

    let killed = Instant::now();
    bin.kill();
    let t = until("failover to cp2", LONG, || beam_runs(&cp2)).await;
    eprintln!(
        "[{}] failover (Rust cp1 killed -> BEAM cp2 runs myapp): {:?}",
        label(&otp),
        killed.elapsed()
    );
    assert!(
        t >= Duration::from_millis(4900),
        "before the restart time: {t:?}"
    );
    assert!(!beam_runs(&cp3));
    cp2.wait_for_log("StartType = normal", LONG)
        .expect("start type logged");

    let cp1 = cl.rust_cp(&n[0], &n, false).await;
    cp1.start_myapp().await;
    assert_eq!(
        cp1.apps.ac.start_type("myapp"),
        Some(StartType::Takeover(Atom::from(n[1].as_str())))
    );
    until("cp2 stops", LONG, || !beam_runs(&cp2)).await;
    block(|| cp2.wait_for_log("myapp stop", LONG)).unwrap();
    assert!(cp1.runs());
}

/// The Rust node as cp2 (in the failover group): BEAM cp1 dies, the Rust
/// node wins the 2/2 tie and starts myapp `normal`; cp1 back takes over
/// and the Rust node stops its instance.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn guide_with_rust_in_the_failover_group() {
    let Some(otp) = setup() else { return };
    let cl = Cluster::new(otp.clone(), false);
    let n = names();
    let (h1, h3) = (
        cl.spawn_beam(&n[0], &beam_env(&n, &n[0])),
        cl.spawn_beam(&n[2], &beam_env(&n, &n[2])),
    );
    let cp2 = cl.rust_cp(&n[1], &n, false).await;
    let (cp1, cp3) = (h1.await.unwrap(), h3.await.unwrap());
    let started = cp2.spawn_start_myapp();
    beam_start_myapp(&cp1);
    beam_start_myapp(&cp3);
    started.await.unwrap();
    assert!(beam_runs(&cp1) && !cp2.runs());

    let killed = Instant::now();
    cp1.kill();
    until("failover to the Rust cp2", LONG, || cp2.runs()).await;
    eprintln!(
        "[{}] failover (BEAM cp1 killed -> Rust cp2 runs myapp): {:?}",
        label(&otp),
        killed.elapsed()
    );
    assert!(killed.elapsed() >= Duration::from_millis(4900));
    assert_eq!(cp2.apps.ac.start_type("myapp"), Some(StartType::Normal));
    assert!(!beam_runs(&cp3));

    let cp1 = cl.spawn_beam(&n[0], &beam_env(&n, &n[0])).await.unwrap();
    beam_start_myapp(&cp1);
    assert!(beam_runs(&cp1));
    until("the Rust cp2 stops", LONG, || !cp2.runs()).await;
    block(|| cp1.wait_for_log(&format!("StartType = {{takeover,'{}'}}", n[1]), LONG))
        .expect("start type logged");
}

/// The guide's cluster with the Rust node as cp1 and BEAM cp2, cp3, all
/// started; myapp runs at cp1.
async fn rust_cp1_running_myapp(cl: &Cluster, n: &[String; 3]) -> (RustNode, BeamNode, BeamNode) {
    let (h2, h3) = (
        cl.spawn_beam(&n[1], &beam_env(n, &n[1])),
        cl.spawn_beam(&n[2], &beam_env(n, &n[2])),
    );
    let cp1 = cl.rust_cp(&n[0], n, false).await;
    let (cp2, cp3) = (h2.await.unwrap(), h3.await.unwrap());
    cp1.start_myapp().await;
    beam_start_myapp(&cp2);
    beam_start_myapp(&cp3);
    assert!(cp1.runs());
    (cp1, cp2, cp3)
}

/// `application:takeover(myapp, permanent)` called on a BEAM node moves
/// the app from the Rust node; the Rust API moves it back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn takeover_both_ways() {
    let Some(otp) = setup() else { return };
    let cl = Cluster::new(otp, false);
    let n = names();
    let (cp1, _cp2, cp3) = rust_cp1_running_myapp(&cl, &n).await;
    let r = block(|| cp3.eval_timeout("application:takeover(myapp, permanent).", LONG));
    assert_eq!(r.unwrap(), "ok");
    assert!(beam_runs(&cp3));
    until("the Rust cp1 stops", LONG, || !cp1.runs()).await;
    tokio::time::timeout(LONG, cp1.apps.takeover("myapp", RestartType::Permanent))
        .await
        .expect("takeover returns")
        .expect("takeover ok");
    assert_eq!(
        cp1.apps.ac.start_type("myapp"),
        Some(StartType::Takeover(Atom::from(n[2].as_str())))
    );
    until("cp3 stops", LONG, || !beam_runs(&cp3)).await;
}

/// The all-BEAM reference: the same cluster without a Rust node.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn all_beam_failover_time() {
    let Some(otp) = setup() else { return };
    let cl = Cluster::new(otp.clone(), false);
    let n = names();
    let h: Vec<_> = n
        .iter()
        .map(|x| cl.spawn_beam(x, &beam_env(&n, x)))
        .collect();
    let mut nodes = Vec::new();
    for j in h {
        nodes.push(j.await.unwrap());
    }
    for b in &nodes {
        beam_start_myapp(b);
    }
    assert!(beam_runs(&nodes[0]));
    let killed = Instant::now();
    nodes[0].kill();
    until("failover to cp2", LONG, || beam_runs(&nodes[1])).await;
    eprintln!(
        "[{}] failover (all BEAM, cp1 killed -> cp2 runs myapp): {:?}",
        label(&otp),
        killed.elapsed()
    );
}

/// `sync_nodes_mandatory` with a node that never comes: kernel_config fails
/// the boot with OTP's message.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_mandatory_node_fails_the_boot() {
    let Some(otp) = setup() else { return };
    let cl = Cluster::new(otp, false);
    let missing = name("missing");
    let mut cfg = distro::runtime::NodeConfig::new(&name("lonely"), COOKIE);
    cfg.epmd_port = cl.epmd.port();
    cfg.listen_addr = Some("127.0.0.1".parse().unwrap());
    let (node, kernel) = distro::start(cfg).await.unwrap();
    let t0 = Instant::now();
    let r = distro::kernel::start_applications(
        &node,
        &kernel,
        distro::kernel::AppsConfig {
            dist: Default::default(),
            start_dist_ac: None,
            sync: Some(SyncNodes {
                mandatory: vec![Atom::from(missing.as_str())],
                optional: vec![],
                timeout: SyncTimeout::Ms(1000),
            }),
            env: Default::default(),
            halt: no_halt(),
            locks: None,
        },
    )
    .await;
    let e = r.expect_err("must fail");
    assert!(t0.elapsed() >= Duration::from_millis(1000));
    let (out, err) = e.halt_lines();
    assert_eq!(
        out,
        format!(
            "{{\"Kernel pid terminated\",application_controller,\"{{application_start_failure,kernel,{{{{shutdown,{{failed_to_start_child,kernel_config,{{mandatory_nodes_down,['{missing}']}}}}}},{{kernel,start,[normal,[]]}}}}}}\"}}"
        )
    );
    assert!(err.starts_with(
        "Kernel pid terminated (application_controller) ({application_start_failure,kernel,"
    ));
}

/// With `{start_phases, [{go, []}]}` (as OTP 25 does it): the
/// Rust cp2 fails over from BEAM cp1 as `{failover, cp1}`, and cp1 back
/// starts `{takeover, cp2}` with `start_phase(go, {takeover, cp2}, [])`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn start_phases_failover_and_takeover() {
    let Some(otp) = setup() else { return };
    let cl = Cluster::new(otp, true);
    let n = names();
    let (h1, h3) = (
        cl.spawn_beam(&n[0], &beam_env(&n, &n[0])),
        cl.spawn_beam(&n[2], &beam_env(&n, &n[2])),
    );
    let cp2 = cl.rust_cp(&n[1], &n, true).await;
    let (cp1, cp3) = (h1.await.unwrap(), h3.await.unwrap());
    let started = cp2.spawn_start_myapp();
    beam_start_myapp(&cp1);
    beam_start_myapp(&cp3);
    started.await.unwrap();
    block(|| cp1.wait_for_log("myapp start_phase(go, normal, [])", LONG))
        .expect("start phase logged");
    cp1.kill();
    until("failover to the Rust cp2", LONG, || cp2.runs()).await;
    assert_eq!(
        cp2.apps.ac.start_type("myapp"),
        Some(StartType::Failover(Atom::from(n[0].as_str())))
    );
    let cp1 = cl.spawn_beam(&n[0], &beam_env(&n, &n[0])).await.unwrap();
    beam_start_myapp(&cp1);
    block(|| cp1.wait_for_log(&format!("StartType = {{takeover,'{}'}}", n[1]), LONG))
        .expect("start type logged");
    block(|| {
        cp1.wait_for_log(
            &format!("myapp start_phase(go, {{takeover,'{}'}}, [])", n[1]),
            LONG,
        )
    })
    .expect("start phase logged");
    until("the Rust cp2 stops", LONG, || !cp2.runs()).await;
    drop(cp3);
}

/// The first-priority node back inside the restart time gets the app
/// back, and nobody starts it in between.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn first_node_back_within_the_restart_time() {
    let Some(otp) = setup() else { return };
    let cl = Cluster::new(otp, false);
    let n = names();
    let (h2, h3) = (
        cl.spawn_beam(&n[1], &beam_env(&n, &n[1])),
        cl.spawn_beam(&n[2], &beam_env(&n, &n[2])),
    );
    let mut bin = cl.distro_bin(&n[0], &beam_env(&n, &n[0]), "myapp");
    let (cp2, cp3) = (h2.await.unwrap(), h3.await.unwrap());
    block(|| bin.wait_for_log("myapp starting", LONG)).unwrap();
    beam_start_myapp(&cp2);
    beam_start_myapp(&cp3);
    bin.kill();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let cp1 = cl.rust_cp(&n[0], &n, false).await;
    cp1.start_myapp().await;
    assert_eq!(cp1.apps.ac.start_type("myapp"), Some(StartType::Normal));
    // Past the others' 5 s restart timers.
    tokio::time::sleep(Duration::from_millis(5000)).await;
    assert!(cp1.runs());
    for b in [&cp2, &cp3] {
        assert!(
            !b.log_contains("myapp starting"),
            "{} started it",
            b.node_name()
        );
        assert!(!beam_runs(b));
    }
}

/// Two Rust nodes (cp1, cp2) and one BEAM (cp3): start at cp1, failover to
/// the Rust cp2, takeover back by cp1.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_rust_nodes_and_one_beam() {
    let Some(otp) = setup() else { return };
    let cl = Cluster::new(otp.clone(), false);
    let n = names();
    let h3 = cl.spawn_beam(&n[2], &beam_env(&n, &n[2]));
    let mut bin = cl.distro_bin(&n[0], &beam_env(&n, &n[0]), "myapp");
    let cp2 = cl.rust_cp(&n[1], &n, false).await;
    let cp3 = h3.await.unwrap();
    let s2 = cp2.spawn_start_myapp();
    beam_start_myapp(&cp3);
    s2.await.unwrap();
    assert!(runs_at(&cp3, &n[0], "myapp") && !cp2.runs());
    let killed = Instant::now();
    bin.kill();
    until("failover to the Rust cp2", LONG, || cp2.runs()).await;
    eprintln!(
        "[{}] failover (Rust cp1 killed -> Rust cp2, BEAM cp3): {:?}",
        label(&otp),
        killed.elapsed()
    );
    assert!(killed.elapsed() >= Duration::from_millis(4900));
    assert!(!beam_runs(&cp3));
    let cp1 = cl.rust_cp(&n[0], &n, false).await;
    cp1.start_myapp().await;
    assert_eq!(
        cp1.apps.ac.start_type("myapp"),
        Some(StartType::Takeover(Atom::from(n[1].as_str())))
    );
    until("the Rust cp2 stops", LONG, || !cp2.runs()).await;
}

/// `distributed` lists that differ only in order (`dist_ac.erl`'s `equal_nodes/2`):
/// whichever dist_ac first receives the other's `dist_ac_app_loaded` exits
/// `distribution_mismatch`. (a) the BEAM node loads myapp, the Rust one
/// does not: the Rust dist_ac stops and halts its node; (b) the Rust node
/// loads it, the BEAM one does not: BEAM's dist_ac crashes and takes the
/// BEAM node down.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn distribution_mismatch_stops_dist_ac_on_either_side() {
    let Some(otp) = setup() else { return };
    let cl = Cluster::new(otp.clone(), false);
    for rust_loads in [false, true] {
        let n = names();
        let env = format!(
            "{{distributed, [{{myapp, 5000, ['{}', {{'{}', '{}'}}]}}]}}, {{sync_nodes_mandatory, ['{}']}}, {{sync_nodes_timeout, 30000}}",
            n[0], n[1], n[2], n[1]
        );
        let h = cl.spawn_beam(&n[0], &env);
        let halts = Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
        let hs = halts.clone();
        let halt: HaltFn = Arc::new(move |_, line| hs.lock().unwrap().push(line));
        let reversed = DistEntry {
            app: Atom::from("myapp"),
            restart_time: RestartTime::Ms(5000),
            nodes: NodesSpec(vec![
                NodeSpec::Any(vec![Atom::from(n[1].as_str()), Atom::from(n[2].as_str())]),
                NodeSpec::One(Atom::from(n[0].as_str())),
            ]),
        };
        let sync = SyncNodes {
            mandatory: vec![Atom::from(n[0].as_str())],
            optional: vec![],
            timeout: SyncTimeout::Ms(30000),
        };
        let rust = cl
            .rust(&n[1], vec![reversed], Some(sync), false, halt)
            .await;
        let beam = h.await.unwrap();
        if rust_loads {
            rust.apps.dist_ac.as_ref().unwrap().wait_for_sync().await;
            rust.apps.ac.load("myapp").await.unwrap();
            block(|| beam.wait_for_log("Distribution mismatch", LONG)).unwrap();
            until("the BEAM node halts", LONG, || !beam.is_alive()).await;
        } else {
            // application:load(myapp) at the BEAM node tells us its list.
            let _ = block(|| beam.eval("application:load(myapp)."));
            until("the Rust dist_ac exits", LONG, || {
                halts
                    .lock()
                    .unwrap()
                    .iter()
                    .any(|l| l.contains("application_terminated,kernel"))
            })
            .await;
            eprintln!("[{}] Rust halt: {:?}", label(&otp), halts.lock().unwrap());
        }
        rust.node.stop().await;
    }
}

/// The binary: `distro -name N -config C` with a missing
/// `sync_nodes_mandatory` node exits with status 1 and prints what `erl`
/// prints (checked against OTP 25: the crash tuple on stdout, `Kernel pid
/// terminated (application_controller) (...)` on stderr).
#[test]
fn binary_exits_like_erl_when_a_mandatory_node_is_missing() {
    let epmd = Epmd::start().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("m.config");
    std::fs::write(
        &cfg,
        "[{kernel, [{sync_nodes_mandatory, ['missing@127.0.0.1']}, {sync_nodes_timeout, 1000}]}].\n",
    )
    .unwrap();
    let mut d = DistroNode::start(
        &epmd,
        DistroOpts::new().args([
            "-name".to_owned(),
            name("kc"),
            "-setcookie".to_owned(),
            COOKIE.to_owned(),
            "-config".to_owned(),
            cfg.with_extension("").display().to_string(),
        ]),
    )
    .unwrap();
    let status = d.wait_exit(Duration::from_secs(30)).expect("exits");
    assert_eq!(status.code(), Some(1), "{}", d.log().tail(20));
    assert!(d.log_contains(r#"{"Kernel pid terminated",application_controller,"{application_start_failure,kernel,{{shutdown,{failed_to_start_child,kernel_config,{mandatory_nodes_down,['missing@127.0.0.1']}}},{kernel,start,[normal,[]]}}}"}"#));
    assert!(d.log_contains("Kernel pid terminated (application_controller) ({application_start_failure,kernel,{{shutdown,{failed_to_start_child,kernel_config,{mandatory_nodes_down,['missing@127.0.0.1']}}},{kernel,start,[normal,[]]}}})"));
}

/// The binary in the OTP guide: `distro -name cp1 -config cp1 --app myapp`
/// beside BEAM cp2 and cp3 runs myapp; killed, cp2 takes it after 5 s.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn binary_with_app_myapp_in_the_guide_cluster() {
    let Some(otp) = setup() else { return };
    let cl = Cluster::new(otp, false);
    let n = names();
    let (h2, h3) = (
        cl.spawn_beam(&n[1], &beam_env(&n, &n[1])),
        cl.spawn_beam(&n[2], &beam_env(&n, &n[2])),
    );
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("cp1.config");
    std::fs::write(&cfg, format!("[{{kernel, [{}]}}].\n", beam_env(&n, &n[0]))).unwrap();
    let mut d = DistroNode::start(
        &cl.epmd,
        DistroOpts::new().args([
            "-name".to_owned(),
            n[0].clone(),
            "-setcookie".to_owned(),
            COOKIE.to_owned(),
            "-config".to_owned(),
            cfg.with_extension("").display().to_string(),
            "--app".to_owned(),
            "myapp".to_owned(),
        ]),
    )
    .unwrap();
    let (cp2, cp3) = (h2.await.unwrap(), h3.await.unwrap());
    block(|| d.wait_for_log("myapp starting: StartType = normal", LONG)).unwrap();
    beam_start_myapp(&cp2);
    beam_start_myapp(&cp3);
    assert!(!beam_runs(&cp2));
    d.kill();
    until("failover to cp2", LONG, || beam_runs(&cp2)).await;
}

/// The seed's walkthrough with the Elixir demo, on every release (Elixir
/// of the host's Debian for OTP 25, of the chroot for 27 and 29, the demo
/// compiled by that Elixir): Rust `one`, Elixir `two` and `three`,
/// `{distro, 5000, [one, {two, three}]}`; `Distro.DistroCal.add(4, 5)` is 9
/// from a BEAM node wherever the app runs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seed_walkthrough_with_elixir_nodes() {
    let Some(otp) = setup() else { return };
    // Skips locally without Elixir for the release; fails under CI.
    let Some(elixir) = require_elixir(&otp) else {
        return;
    };
    eprintln!("[{}] Elixir {elixir}", label(&otp));
    let cl = Cluster::new(otp.clone(), false);
    let n = [name("one"), name("two"), name("three")];
    let env =
        |me: &str| crate::dist_ac::cluster::cluster_env("distro", &n, me, "optional", 5000, "");
    let two = cl.elixir(&n[1], &env(&n[1]));
    let three = cl.elixir(&n[2], &env(&n[2]));
    let sync = SyncNodes {
        mandatory: vec![],
        optional: vec![Atom::from(n[1].as_str()), Atom::from(n[2].as_str())],
        timeout: SyncTimeout::Ms(5000),
    };
    let start_one = || async {
        let one = cl
            .rust(
                &n[0],
                vec![spec("distro", &n)],
                Some(sync.clone()),
                false,
                no_halt(),
            )
            .await;
        tokio::time::timeout(
            LONG,
            one.apps.ac.start_app("distro", RestartType::Temporary),
        )
        .await
        .expect("returns")
        .expect("start distro");
        one
    };
    // `distro -name one -config one --app distro`, killed with SIGKILL later.
    let mut one_bin = cl.distro_bin(&n[0], &env(&n[0]), "distro");
    block(|| one_bin.wait_for_log("Distro application in :normal mode", LONG)).unwrap();
    block(|| two.log().wait_for("@@distro start returned", LONG)).unwrap();
    block(|| three.log().wait_for("@@distro start returned", LONG)).unwrap();
    // A hidden BEAM probe asks the Elixir nodes.
    let probe = block(|| {
        BeamNode::start(
            &cl.epmd,
            BeamOpts::new("probe")
                .cookie(COOKIE)
                .hidden()
                .otp(otp.clone()),
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
    let add_at_one = format!(
        "rpc:call('{}', 'Elixir.Distro.DistroCal', add, [4, 5])",
        n[0]
    );
    assert_eq!(at_two(add_at_one.clone()).unwrap(), "9");
    // Distro.DistroCal.add(4, 5) at two: GenServer.call({:global, ...}) to
    // the Rust node's server, once global has synced the name.
    until("Distro.DistroCal.add(4, 5) at two", LONG, || {
        at_two("'Elixir.Distro.DistroCal':add(4, 5)".into()).is_ok_and(|v| v == "9")
    })
    .await;

    let killed = Instant::now();
    one_bin.kill();
    block(|| {
        three
            .log()
            .wait_for("Distro application in :normal mode", LONG)
    })
    .unwrap();
    eprintln!(
        "[{}] failover (Rust one killed -> Elixir three): {:?}",
        label(&otp),
        killed.elapsed()
    );
    assert!(killed.elapsed() >= Duration::from_millis(4900));
    assert!(!two.log().contains("Distro application in"));
    until(
        "Distro.DistroCal.add(4, 5) at two, served by three",
        LONG,
        || at_two("'Elixir.Distro.DistroCal':add(4, 5)".into()).is_ok_and(|v| v == "9"),
    )
    .await;

    let one = start_one().await;
    assert_eq!(
        one.apps.ac.start_type("distro"),
        Some(StartType::Takeover(Atom::from(n[2].as_str()))),
        "two:\n{}\nthree:\n{}",
        two.log().tail(40),
        three.log().tail(40)
    );
    block(|| three.log().wait_for("Application distro exited", LONG)).unwrap();
    assert_eq!(at_two(add_at_one).unwrap(), "9");
    until(
        "Distro.DistroCal.add(4, 5) at two after the takeover",
        LONG,
        || at_two("'Elixir.Distro.DistroCal':add(4, 5)".into()).is_ok_and(|v| v == "9"),
    )
    .await;
}

/// `application:permit(myapp, false)` at the BEAM node running it sends
/// `dist_ac_new_permission` with `IsHisApp = true`: the Rust cp2 and BEAM
/// cp3 decide between them by weight (the Rust node takes part), the app
/// moves to one of them, and `application:permit(myapp, true)` takes it back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn permit_moves_the_app_and_back() {
    let Some(otp) = setup() else { return };
    let cl = Cluster::new(otp, false);
    let n = names();
    let (h1, h3) = (
        cl.spawn_beam(&n[0], &beam_env(&n, &n[0])),
        cl.spawn_beam(&n[2], &beam_env(&n, &n[2])),
    );
    let cp2 = cl.rust_cp(&n[1], &n, false).await;
    let (cp1, cp3) = (h1.await.unwrap(), h3.await.unwrap());
    let started = cp2.spawn_start_myapp();
    beam_start_myapp(&cp1);
    beam_start_myapp(&cp3);
    started.await.unwrap();
    assert!(beam_runs(&cp1));
    let r = block(|| cp1.eval_timeout("application:permit(myapp, false).", LONG));
    assert_eq!(r.unwrap(), "ok");
    // Usually the Rust cp2 (equal weights, smaller name). When cp2's
    // weight reaches cp3 before cp1's new permission does, OTP's weight
    // exchange starts it at cp2 and then at cp3, which takes it from cp2
    // (see the permit test of the simulation); CI once saw cp3 start
    // `{takeover, cp1}` and stop 2 ms later on cp2's `dist_ac_app_started`.
    // Permitting cp1 again while such a move is in flight is a race in OTP
    // itself, so wait until it has settled (one instance the BEAM nodes'
    // application controllers agree on, or none), unchanged over several
    // polls.
    let settled = |ns: &[String; 3]| {
        let at: Vec<&str> = [
            beam_runs(&cp1).then_some(ns[0].as_str()),
            cp2.runs().then_some(ns[1].as_str()),
            beam_runs(&cp3).then_some(ns[2].as_str()),
        ]
        .into_iter()
        .flatten()
        .collect();
        match at[..] {
            [x] if x != ns[0] => {
                let remote = format!("{{distributed,'{x}'}}");
                let views = [
                    beam_running_entry(&cp1, "myapp"),
                    beam_running_entry(&cp3, "myapp"),
                ];
                views
                    .iter()
                    .all(|v| *v == remote || (x == ns[2] && v.starts_with('<')))
                    .then(|| x.to_owned())
            }
            // Both started and each stopped on the other's
            // dist_ac_app_started: OTP's race can end with no instance.
            [] => Some("nowhere".to_owned()),
            _ => None,
        }
    };
    let mut last = None;
    let mut same = 0;
    until("myapp moves off cp1 and settles", LONG, || {
        let now = settled(&n);
        same = if now.is_some() && now == last {
            same + 1
        } else {
            0
        };
        last = now;
        std::thread::sleep(Duration::from_millis(250));
        same >= 3
    })
    .await;
    // Whichever way it settled, permitting cp1 again must bring it back.
    eprintln!(
        "permit(false): myapp moved to {}",
        last.as_deref().unwrap_or("?")
    );
    let r = block(|| cp1.eval_timeout("application:permit(myapp, true).", LONG));
    assert_eq!(r.unwrap(), "ok");
    let t0 = Instant::now();
    while !(beam_runs(&cp1) && !cp2.runs() && !beam_runs(&cp3)) {
        if t0.elapsed() > LONG {
            // What each node thinks, and the BEAM nodes' own lines.
            let notes = |b: &BeamNode| -> String {
                b.log()
                    .lines()
                    .iter()
                    .filter(|l| !l.text.starts_with("@@R"))
                    .map(|l| format!("  {}\n", l.text))
                    .collect()
            };
            panic!(
                "myapp not back at cp1: running entries cp1 {} cp3 {}; cp2 runs {} ({:?})\n\
                 cp1:\n{}cp3:\n{}",
                beam_running_entry(&cp1, "myapp"),
                beam_running_entry(&cp3, "myapp"),
                cp2.runs(),
                cp2.apps.ac.start_type("myapp"),
                notes(&cp1),
                notes(&cp3)
            );
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// `distro takeover` / `distro permit`, run as separate processes that act
/// on the running cluster as hidden nodes: moving myapp to a BEAM node
/// (BEAM's `application:takeover/2` answers), back to the Rust node (the
/// Rust node serves `application:takeover/2`), and off it with a permit.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn control_subcommands_act_on_a_running_cluster() {
    let Some(otp) = setup() else { return };
    let cl = Cluster::new(otp, false);
    let n = names();
    let (cp1, cp2, cp3) = rust_cp1_running_myapp(&cl, &n).await;
    let control = |args: &[&str]| {
        let mut cmd = std::process::Command::new(crate::support::DistroNode::BIN);
        cmd.args(args).args(["-setcookie", COOKIE]);
        let (k, v) = cl.epmd.env();
        cmd.env(k, v);
        let out =
            block(|| crate::support::process::run("distro control", cmd, LONG)).expect("runs");
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
        )
    };
    // To the BEAM cp3.
    let (ok, out) = control(&["takeover", "myapp", "-on", &n[2]]);
    assert!(ok, "{out}");
    assert!(out.contains(": ok"), "{out}");
    until("myapp at cp3", LONG, || beam_runs(&cp3) && !cp1.runs()).await;
    // Back to the Rust cp1, through the Rust node's application:takeover/2.
    let (ok, out) = control(&["takeover", "myapp", "-on", &n[0], "-type", "permanent"]);
    assert!(ok, "{out}");
    until("myapp back at the Rust cp1", LONG, || {
        cp1.runs() && !beam_runs(&cp3)
    })
    .await;
    assert_eq!(
        cp1.apps.ac.start_type("myapp"),
        Some(StartType::Takeover(Atom::from(n[2].as_str())))
    );
    // Not permitted at cp1 any more: it moves to cp2 or cp3.
    let (ok, out) = control(&["permit", "myapp", "false", "-on", &n[0]]);
    assert!(ok, "{out}");
    until("myapp moves off cp1", LONG, || {
        !cp1.runs() && (beam_runs(&cp2) ^ beam_runs(&cp3))
    })
    .await;
    // A takeover at a node that does not exist fails with a clear answer.
    let (ok, out) = control(&["takeover", "myapp", "-on", "nobody@127.0.0.1"]);
    assert!(!ok, "{out}");
    assert!(out.contains("nodedown"), "{out}");
}
