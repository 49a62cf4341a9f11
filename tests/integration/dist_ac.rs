//! dist_ac against real BEAM nodes (the release of `DISTRO_OTP`: 25, 27 or
//! 29): the OTP guide's cp1/cp2/cp3 with the Rust node first in the
//! priority list, in the failover group, two Rust nodes and one BEAM; the
//! first node back inside the restart time; `application:takeover/2` both
//! ways; start phases; a missing mandatory node; failover times of a
//! cluster with a Rust node and of an all-BEAM one.
//!
//! Reference: traces/s1_boot.txt, s2_kill_cp1.txt, s3_restart_cp1.txt,
//! variant_start_phases/ (OTP 25 behaviour), and `failover_comp/1` in
//! OTP's `application_SUITE.erl`.

mod beam;

use beam::{COOKIE, Cluster, Erl, Release, unique};
use distro::kernel::application_controller::{AcConfig, HaltFn, RestartType, StartType};
use distro::kernel::dist_ac::{Config, DistEntry, NodeSpec, NodesSpec, RestartTime};
use distro::kernel::kernel_config::{SyncNodes, SyncTimeout};
use distro::kernel::{Applications, AppsConfig};
use distro::runtime::{Node, NodeConfig};
use distro::term::Atom;
use std::sync::Arc;
use std::time::{Duration, Instant};

const LONG: Duration = Duration::from_secs(60);

fn name(prefix: &str) -> String {
    format!("{}@127.0.0.1", unique(prefix))
}

/// `{myapp, 5000, [N1, {N2, N3}]}`.
fn spec(n: &[String; 3]) -> DistEntry {
    DistEntry {
        app: Atom::from("myapp"),
        restart_time: RestartTime::Ms(5000),
        nodes: NodesSpec(vec![
            NodeSpec::One(Atom::from(n[0].as_str())),
            NodeSpec::Any(vec![Atom::from(n[1].as_str()), Atom::from(n[2].as_str())]),
        ]),
    }
}

/// The kernel env of a BEAM node of the cluster `n`, as in cpN.config.
fn beam_env(n: &[String; 3], me: &str) -> String {
    let others: Vec<String> = n
        .iter()
        .filter(|x| *x != me)
        .map(|x| format!("'{x}'"))
        .collect();
    format!(
        "{{distributed, [{{myapp, 5000, ['{}', {{'{}', '{}'}}]}}]}}, {{sync_nodes_mandatory, [{}]}}, {{sync_nodes_timeout, 30000}}",
        n[0],
        n[1],
        n[2],
        others.join(", ")
    )
}

struct RustNode {
    node: Node,
    apps: Applications,
}

fn no_halt() -> HaltFn {
    Arc::new(|code, line| panic!("node halted ({code}): {line}"))
}

async fn rust_node(cl: &Cluster, me: &str, n: &[String; 3], phases: bool) -> RustNode {
    let mut cfg = NodeConfig::new(me, COOKIE);
    cfg.epmd_port = cl.epmd.port;
    cfg.listen_addr = "127.0.0.1".parse().unwrap();
    let (node, kernel) = distro::start(cfg).await.expect("rust node");
    let others = n
        .iter()
        .filter(|x| *x != me)
        .map(|x| Atom::from(x.as_str()))
        .collect();
    let apps = distro::kernel::start_applications(
        &node,
        &kernel,
        AppsConfig {
            dist: Config {
                distributed: vec![spec(n)],
                permissions: vec![],
            },
            start_dist_ac: None,
            sync: Some(SyncNodes {
                mandatory: others,
                optional: vec![],
                timeout: SyncTimeout::Ms(30000),
            }),
            env: AcConfig::default(),
            halt: no_halt(),
            locks: None,
        },
    )
    .await
    .expect("kernel_config");
    apps.ac
        .add(Arc::new(distro::apps::myapp::MyApp::new(phases)));
    let ac = apps.ac.clone();
    // application:start(myapp) returns once dist_ac decided where it runs.
    tokio::time::timeout(LONG, ac.start_app("myapp", RestartType::Temporary))
        .await
        .expect("start returns")
        .expect("start ok");
    RustNode { node, apps }
}

fn names() -> [String; 3] {
    [name("cp1"), name("cp2"), name("cp3")]
}

async fn runs_at(cl: &Cluster, beam: &Erl) -> bool {
    cl.which(&beam.node)
        .await
        .is_some_and(|v| v.iter().any(|a| a == "myapp"))
}

fn setup(test: &str) -> Option<Release> {
    let r = Release::selected();
    if !r.available(test) {
        return None;
    }
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_test_writer()
        .try_init();
    Some(r)
}

/// OTP guide with the Rust node as cp1: starts at cp1 (`normal`); killed →
/// after 5 s at cp2 (weights 2/2, smaller name); back → `{takeover, cp2}`
/// and cp2 stops its instance (s1, s2, s3).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn guide_with_rust_first() {
    let Some(rel) = setup("guide_with_rust_first") else {
        return;
    };
    let cl = Cluster::new(rel, false).await;
    let n = names();
    let cp2 = cl.erl(&n[1], &beam_env(&n, &n[1]), true);
    let cp3 = cl.erl(&n[2], &beam_env(&n, &n[2]), true);
    let cp1 = rust_node(&cl, &n[0], &n, false).await;
    assert_eq!(cp1.apps.ac.start_type("myapp"), Some(StartType::Normal));
    cp2.started().await;
    cp3.started().await;
    assert!(!runs_at(&cl, &cp2).await && !runs_at(&cl, &cp3).await);

    let killed = Instant::now();
    cp1.node.stop().await;
    drop(cp1);
    let t = cl
        .until("failover to cp2", LONG, || runs_at(&cl, &cp2))
        .await;
    if t < Duration::from_millis(4900) {
        eprintln!("cp2:\n{}\ncp3:\n{}", cp2.proc.output(), cp3.proc.output());
    }
    eprintln!(
        "[{}] failover (Rust cp1 killed -> BEAM cp2 runs myapp): {:?}",
        rel.label,
        killed.elapsed()
    );
    assert!(
        t >= Duration::from_millis(4900),
        "before the restart time: {t:?}"
    );
    assert!(!runs_at(&cl, &cp3).await);
    assert!(
        cp2.proc.output().contains("StartType = normal"),
        "{}",
        cp2.proc.output()
    );

    let cp1 = rust_node(&cl, &n[0], &n, false).await;
    assert_eq!(
        cp1.apps.ac.start_type("myapp"),
        Some(StartType::Takeover(Atom::from(n[1].as_str())))
    );
    cl.until("cp2 stops", LONG, || async { !runs_at(&cl, &cp2).await })
        .await;
    cl.until("prep_stop logged", LONG, || async {
        cp2.proc.output().contains("myapp stop")
    })
    .await;
    assert!(cp1.apps.ac.is_running("myapp"));
}

/// The Rust node as cp2 (in the failover group): BEAM cp1 dies, the Rust
/// node wins the 2/2 tie and starts myapp `normal`; cp1 back takes over
/// and the Rust node stops its instance.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn guide_with_rust_in_the_failover_group() {
    let Some(rel) = setup("guide_with_rust_in_the_failover_group") else {
        return;
    };
    let cl = Cluster::new(rel, false).await;
    let n = names();
    let mut cp1 = cl.erl(&n[0], &beam_env(&n, &n[0]), true);
    let cp3 = cl.erl(&n[2], &beam_env(&n, &n[2]), true);
    let cp2 = rust_node(&cl, &n[1], &n, false).await;
    cp1.started().await;
    cp3.started().await;
    assert!(runs_at(&cl, &cp1).await);
    assert!(!cp2.apps.ac.is_running("myapp"));

    let killed = Instant::now();
    cp1.proc.kill();
    let ac = cp2.apps.ac.clone();
    cl.until("failover to the Rust cp2", LONG, || {
        let ac = ac.clone();
        async move { ac.is_running("myapp") }
    })
    .await;
    eprintln!(
        "[{}] failover (BEAM cp1 killed -> Rust cp2 runs myapp): {:?}",
        rel.label,
        killed.elapsed()
    );
    assert!(killed.elapsed() >= Duration::from_millis(4900));
    assert_eq!(ac.start_type("myapp"), Some(StartType::Normal));
    assert!(!runs_at(&cl, &cp3).await);

    let cp1 = cl.erl(&n[0], &beam_env(&n, &n[0]), true);
    cp1.started().await;
    assert!(runs_at(&cl, &cp1).await);
    cl.until("the Rust cp2 stops", LONG, || {
        let ac = ac.clone();
        async move { !ac.is_running("myapp") }
    })
    .await;
    let out = cp1.proc.output();
    assert!(
        out.contains(&format!("StartType = {{takeover,'{}'}}", n[1])),
        "{out}"
    );
    drop(cp2);
}

/// `application:takeover(myapp, permanent)` called on a BEAM node moves
/// the app from the Rust node; the Rust API moves it back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn takeover_both_ways() {
    let Some(rel) = setup("takeover_both_ways") else {
        return;
    };
    let cl = Cluster::new(rel, false).await;
    let n = names();
    let cp2 = cl.erl(&n[1], &beam_env(&n, &n[1]), true);
    let cp3 = cl.erl(&n[2], &beam_env(&n, &n[2]), true);
    let cp1 = rust_node(&cl, &n[0], &n, false).await;
    assert!(cp1.apps.ac.is_running("myapp"));
    cp2.started().await;
    cp3.started().await;
    let r = cl
        .rpc(
            &cp3.node,
            "application",
            "takeover",
            vec![distro::term::atom("myapp"), distro::term::atom("permanent")],
        )
        .await;
    assert_eq!(r, Some(distro::term::atom("ok")), "takeover at cp3");
    assert!(runs_at(&cl, &cp3).await);
    let ac = cp1.apps.ac.clone();
    cl.until("the Rust cp1 stops", LONG, || {
        let ac = ac.clone();
        async move { !ac.is_running("myapp") }
    })
    .await;
    let dac = cp1.apps.dist_ac.clone().expect("dist_ac");
    tokio::time::timeout(
        LONG,
        dac.takeover_application("myapp", RestartType::Permanent),
    )
    .await
    .expect("takeover returns")
    .expect("takeover ok");
    assert_eq!(
        ac.start_type("myapp"),
        Some(StartType::Takeover(Atom::from(n[2].as_str())))
    );
    cl.until("cp3 stops", LONG, || async { !runs_at(&cl, &cp3).await })
        .await;
}

/// The all-BEAM reference: the same cluster without a Rust node.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn all_beam_failover_time() {
    let Some(rel) = setup("all_beam_failover_time") else {
        return;
    };
    let cl = Cluster::new(rel, false).await;
    let n = names();
    let mut cp1 = cl.erl(&n[0], &beam_env(&n, &n[0]), true);
    let cp2 = cl.erl(&n[1], &beam_env(&n, &n[1]), true);
    let cp3 = cl.erl(&n[2], &beam_env(&n, &n[2]), true);
    for n in [&cp1, &cp2, &cp3] {
        n.started().await;
    }
    assert!(runs_at(&cl, &cp1).await);
    let killed = Instant::now();
    cp1.proc.kill();
    cl.until("failover to cp2", LONG, || runs_at(&cl, &cp2))
        .await;
    eprintln!(
        "[{}] failover (all BEAM, cp1 killed -> cp2 runs myapp): {:?}",
        rel.label,
        killed.elapsed()
    );
}

/// `sync_nodes_mandatory` with a node that never comes: kernel_config
/// fails the boot with OTP's message (exit status 1 by the default halt).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_mandatory_node_fails_the_boot() {
    let Some(rel) = setup("missing_mandatory_node_fails_the_boot") else {
        return;
    };
    let cl = Cluster::new(rel, false).await;
    let mut cfg = NodeConfig::new(&name("lonely"), COOKIE);
    cfg.epmd_port = cl.epmd.port;
    cfg.listen_addr = "127.0.0.1".parse().unwrap();
    let (node, kernel) = distro::start(cfg).await.unwrap();
    let missing = name("missing");
    let t0 = Instant::now();
    let r = distro::kernel::start_applications(
        &node,
        &kernel,
        AppsConfig {
            dist: Config::default(),
            start_dist_ac: None,
            sync: Some(SyncNodes {
                mandatory: vec![Atom::from(missing.as_str())],
                optional: vec![],
                timeout: SyncTimeout::Ms(1000),
            }),
            env: AcConfig::default(),
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

/// With `{start_phases, [{go, []}]}` (traces/variant_start_phases): the
/// Rust cp2 fails over from BEAM cp1 as `{failover, cp1}` (start_phase
/// too), and cp1 back starts `{takeover, cp2}` with `start_phase(go, ...)`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn start_phases_failover_and_takeover() {
    let Some(rel) = setup("start_phases_failover_and_takeover") else {
        return;
    };
    let cl = Cluster::new(rel, true).await;
    let n = names();
    let mut cp1 = cl.erl(&n[0], &beam_env(&n, &n[0]), true);
    let cp3 = cl.erl(&n[2], &beam_env(&n, &n[2]), true);
    let cp2 = rust_node(&cl, &n[1], &n, true).await;
    cp1.started().await;
    cp3.started().await;
    assert!(
        cp1.proc
            .output()
            .contains("myapp start_phase(go, normal, [])"),
        "{}",
        cp1.proc.output()
    );
    cp1.proc.kill();
    let ac = cp2.apps.ac.clone();
    cl.until("failover to the Rust cp2", LONG, || {
        let ac = ac.clone();
        async move { ac.is_running("myapp") }
    })
    .await;
    assert_eq!(
        ac.start_type("myapp"),
        Some(StartType::Failover(Atom::from(n[0].as_str())))
    );
    let cp1 = cl.erl(&n[0], &beam_env(&n, &n[0]), true);
    cp1.started().await;
    let out = cp1.proc.output();
    assert!(
        out.contains(&format!("StartType = {{takeover,'{}'}}", n[1])),
        "{out}"
    );
    assert!(
        out.contains(&format!(
            "myapp start_phase(go, {{takeover,'{}'}}, [])",
            n[1]
        )),
        "{out}"
    );
    cl.until("the Rust cp2 stops", LONG, || {
        let ac = ac.clone();
        async move { !ac.is_running("myapp") }
    })
    .await;
}

/// The first-priority node back inside the restart time gets the app back,
/// and nobody starts it in between.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn first_node_back_within_the_restart_time() {
    let Some(rel) = setup("first_node_back_within_the_restart_time") else {
        return;
    };
    let cl = Cluster::new(rel, false).await;
    let n = names();
    let cp2 = cl.erl(&n[1], &beam_env(&n, &n[1]), true);
    let cp3 = cl.erl(&n[2], &beam_env(&n, &n[2]), true);
    let cp1 = rust_node(&cl, &n[0], &n, false).await;
    cp2.started().await;
    cp3.started().await;
    cp1.node.stop().await;
    drop(cp1);
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let cp1 = rust_node(&cl, &n[0], &n, false).await;
    assert_eq!(cp1.apps.ac.start_type("myapp"), Some(StartType::Normal));
    // Past the 5 s restart time of the others.
    tokio::time::sleep(Duration::from_millis(5000)).await;
    assert!(cp1.apps.ac.is_running("myapp"));
    for b in [&cp2, &cp3] {
        assert!(
            !b.proc.output().contains("myapp starting"),
            "{}: {}",
            b.node,
            b.proc.output()
        );
        assert!(!runs_at(&cl, b).await);
    }
}

/// Two Rust nodes (cp1, cp2) and one BEAM (cp3): start at cp1, failover to
/// the Rust cp2, takeover back by cp1.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_rust_nodes_and_one_beam() {
    let Some(rel) = setup("two_rust_nodes_and_one_beam") else {
        return;
    };
    let cl = Cluster::new(rel, false).await;
    let n = names();
    let cp3 = cl.erl(&n[2], &beam_env(&n, &n[2]), true);
    let (cp1, cp2) = tokio::join!(
        rust_node(&cl, &n[0], &n, false),
        rust_node(&cl, &n[1], &n, false)
    );
    cp3.started().await;
    assert!(cp1.apps.ac.is_running("myapp"));
    assert!(!cp2.apps.ac.is_running("myapp"));
    let killed = Instant::now();
    cp1.node.stop().await;
    drop(cp1);
    let ac2 = cp2.apps.ac.clone();
    cl.until("failover to the Rust cp2", LONG, || {
        let ac = ac2.clone();
        async move { ac.is_running("myapp") }
    })
    .await;
    eprintln!(
        "[{}] failover (Rust cp1 killed -> Rust cp2, BEAM cp3): {:?}",
        rel.label,
        killed.elapsed()
    );
    assert!(killed.elapsed() >= Duration::from_millis(4900));
    assert!(!runs_at(&cl, &cp3).await);
    let cp1 = rust_node(&cl, &n[0], &n, false).await;
    assert_eq!(
        cp1.apps.ac.start_type("myapp"),
        Some(StartType::Takeover(Atom::from(n[1].as_str())))
    );
    cl.until("the Rust cp2 stops", LONG, || {
        let ac = ac2.clone();
        async move { !ac.is_running("myapp") }
    })
    .await;
}

/// The seed's walkthrough with the Elixir demo (OTP 25 only: Elixir is not
/// in the OTP 27/29 chroots): Rust `one`, Elixir `two` and `three`,
/// `{distro, 5000, [one, {two, three}]}`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seed_walkthrough_with_elixir_nodes() {
    use distro::term::{atom, int, list};
    let Some(rel) = setup("seed_walkthrough_with_elixir_nodes") else {
        return;
    };
    let cl = Cluster::new(rel, false).await;
    let n = [name("one"), name("two"), name("three")];
    let env = |me: &str| {
        let others: Vec<String> = n
            .iter()
            .filter(|x| *x != me)
            .map(|x| format!("'{x}'"))
            .collect();
        format!(
            "{{distributed, [{{distro, 5000, ['{}', {{'{}', '{}'}}]}}]}}, {{sync_nodes_optional, [{}]}}, {{sync_nodes_timeout, 5000}}",
            n[0],
            n[1],
            n[2],
            others.join(", ")
        )
    };
    let Some(two) = cl.elixir(&n[1], &env(&n[1])) else {
        eprintln!(
            "SKIP seed_walkthrough_with_elixir_nodes: no elixir for {}",
            rel.label
        );
        return;
    };
    let three = cl.elixir(&n[2], &env(&n[2])).expect("elixir");
    let dist = DistEntry {
        app: Atom::from("distro"),
        restart_time: RestartTime::Ms(5000),
        nodes: NodesSpec(vec![
            NodeSpec::One(Atom::from(n[0].as_str())),
            NodeSpec::Any(vec![Atom::from(n[1].as_str()), Atom::from(n[2].as_str())]),
        ]),
    };
    let start_one = || async {
        let mut cfg = NodeConfig::new(&n[0], COOKIE);
        cfg.epmd_port = cl.epmd.port;
        cfg.listen_addr = "127.0.0.1".parse().unwrap();
        let (node, kernel) = distro::start(cfg).await.expect("one");
        let apps = distro::kernel::start_applications(
            &node,
            &kernel,
            AppsConfig {
                dist: Config {
                    distributed: vec![dist.clone()],
                    permissions: vec![],
                },
                start_dist_ac: None,
                sync: Some(SyncNodes {
                    mandatory: vec![],
                    optional: vec![Atom::from(n[1].as_str()), Atom::from(n[2].as_str())],
                    timeout: SyncTimeout::Ms(5000),
                }),
                env: AcConfig::default(),
                halt: no_halt(),
                locks: None,
            },
        )
        .await
        .expect("boot");
        distro::apps::add_builtin(&apps.ac);
        apps.ac
            .start_app("distro", RestartType::Temporary)
            .await
            .expect("start distro");
        RustNode { node, apps }
    };
    let one = start_one().await;
    assert_eq!(one.apps.ac.start_type("distro"), Some(StartType::Normal));
    two.wait_for("@@distro start returned").await;
    three.wait_for("@@distro start returned").await;
    let add = |at: &str| {
        vec![
            atom(at),
            atom("Elixir.Distro.DistroCal"),
            atom("add"),
            list(vec![int(4), int(5)]),
        ]
    };
    // From the BEAM node two: rpc:call(one, 'Elixir.Distro.DistroCal', add, [4, 5]).
    let r = cl.rpc(&two.node, "rpc", "call", add(&n[0])).await;
    assert_eq!(r, Some(int(9)));
    // Distro.DistroCal.add(4, 5) on two: GenServer.call({:global, ...}) to
    // the Rust node's server, once global has synced the name.
    cl.until("Distro.DistroCal.add(4, 5) at two", LONG, || async {
        cl.rpc(
            &two.node,
            "Elixir.Distro.DistroCal",
            "add",
            vec![int(4), int(5)],
        )
        .await
            == Some(int(9))
    })
    .await;

    let killed = Instant::now();
    one.node.stop().await;
    drop(one);
    three.wait_for("Distro application in :normal mode").await;
    eprintln!(
        "[{}] failover (Rust one killed -> Elixir three): {:?}",
        rel.label,
        killed.elapsed()
    );
    assert!(killed.elapsed() >= Duration::from_millis(4900));
    assert!(!two.proc.output().contains("Distro application in"));
    // Distro.DistroCal.add(4, 5) on two: served by three through global.
    let r = cl
        .rpc(
            &two.node,
            "Elixir.Distro.DistroCal",
            "add",
            vec![int(4), int(5)],
        )
        .await;
    assert_eq!(r, Some(int(9)));

    let one = start_one().await;
    assert_eq!(
        one.apps.ac.start_type("distro"),
        Some(StartType::Takeover(Atom::from(n[2].as_str())))
    );
    three.wait_for("Application distro exited").await;
    let r = cl.rpc(&two.node, "rpc", "call", add(&n[0])).await;
    assert_eq!(r, Some(int(9)));
    cl.until(
        "Distro.DistroCal.add(4, 5) at two after the takeover",
        LONG,
        || async {
            cl.rpc(
                &two.node,
                "Elixir.Distro.DistroCal",
                "add",
                vec![int(4), int(5)],
            )
            .await
                == Some(int(9))
        },
    )
    .await;
}

/// The binary: `distro -name N -config C` with a missing
/// `sync_nodes_mandatory` node exits with status 1 and prints what `erl`
/// prints (checked against OTP 25: the crash tuple on stdout, `Kernel pid
/// terminated (application_controller) (...)` on stderr).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn binary_exits_like_erl_when_a_mandatory_node_is_missing() {
    let Some(rel) = setup("binary_exits_like_erl_when_a_mandatory_node_is_missing") else {
        return;
    };
    let epmd = beam::Epmd::start(rel).await;
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("m.config");
    std::fs::write(
        &cfg,
        "[{kernel, [{sync_nodes_mandatory, ['missing@127.0.0.1']}, {sync_nodes_timeout, 1000}]}].\n",
    )
    .unwrap();
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_distro"))
        .args(["-name", &name("kc"), "-setcookie", COOKIE, "-config"])
        .arg(cfg.with_extension(""))
        .env("ERL_EPMD_PORT", epmd.port.to_string())
        .output()
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stdout}\n{stderr}");
    assert!(stdout.contains(r#"{"Kernel pid terminated",application_controller,"{application_start_failure,kernel,{{shutdown,{failed_to_start_child,kernel_config,{mandatory_nodes_down,['missing@127.0.0.1']}}},{kernel,start,[normal,[]]}}}"}"#), "{stdout}");
    assert!(stderr.contains("Kernel pid terminated (application_controller) ({application_start_failure,kernel,{{shutdown,{failed_to_start_child,kernel_config,{mandatory_nodes_down,['missing@127.0.0.1']}}},{kernel,start,[normal,[]]}}})"), "{stderr}");
}

/// `distributed` lists that differ only in order (NOTES.md e.1 pitfall 10):
/// whichever dist_ac first receives the other's `dist_ac_app_loaded`
/// exits `distribution_mismatch`. (a) the BEAM node loads myapp, the Rust
/// one does not: the Rust dist_ac stops and halts its node; (b) the Rust
/// node loads it, the BEAM one does not: BEAM's dist_ac crashes and takes
/// the BEAM node down.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn distribution_mismatch_stops_dist_ac_on_either_side() {
    let Some(rel) = setup("distribution_mismatch_stops_dist_ac_on_either_side") else {
        return;
    };
    let cl = Cluster::new(rel, false).await;
    for rust_loads in [false, true] {
        let n = names();
        let env = format!(
            "{{distributed, [{{myapp, 5000, ['{}', {{'{}', '{}'}}]}}]}}, {{sync_nodes_mandatory, ['{}']}}, {{sync_nodes_timeout, 30000}}",
            n[0], n[1], n[2], n[1]
        );
        let beam = cl.erl(&n[0], &env, !rust_loads);
        let halts = Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
        let h = halts.clone();
        let halt: HaltFn = Arc::new(move |_, line| h.lock().unwrap().push(line));
        let mut cfg = NodeConfig::new(&n[1], COOKIE);
        cfg.epmd_port = cl.epmd.port;
        cfg.listen_addr = "127.0.0.1".parse().unwrap();
        let (node, kernel) = distro::start(cfg).await.unwrap();
        let reversed = DistEntry {
            app: Atom::from("myapp"),
            restart_time: RestartTime::Ms(5000),
            nodes: NodesSpec(vec![
                NodeSpec::Any(vec![Atom::from(n[1].as_str()), Atom::from(n[2].as_str())]),
                NodeSpec::One(Atom::from(n[0].as_str())),
            ]),
        };
        let apps = distro::kernel::start_applications(
            &node,
            &kernel,
            AppsConfig {
                dist: Config {
                    distributed: vec![reversed],
                    permissions: vec![],
                },
                start_dist_ac: None,
                sync: Some(SyncNodes {
                    mandatory: vec![Atom::from(n[0].as_str())],
                    optional: vec![],
                    timeout: SyncTimeout::Ms(30000),
                }),
                env: AcConfig::default(),
                halt,
                locks: None,
            },
        )
        .await
        .unwrap();
        apps.ac
            .add(Arc::new(distro::apps::myapp::MyApp::new(false)));
        if rust_loads {
            apps.dist_ac.as_ref().unwrap().wait_for_sync().await;
            apps.ac.load("myapp").await.unwrap();
            cl.until("BEAM's dist_ac exits", LONG, || async {
                let out = beam.proc.output();
                out.contains("Distribution mismatch") && out.contains("Kernel pid terminated")
            })
            .await;
        } else {
            cl.until("the Rust dist_ac exits", LONG, || async {
                halts
                    .lock()
                    .unwrap()
                    .iter()
                    .any(|l| l.contains("application_terminated,kernel"))
            })
            .await;
            eprintln!("[{}] Rust halt: {:?}", rel.label, halts.lock().unwrap());
        }
        node.stop().await;
    }
}
