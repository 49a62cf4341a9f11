//! The application controller on a node without distribution: load, start
//! (dependencies first), `which_applications` shapes, stop, restart types
//! (application_controller.erl `handle_info({'EXIT', ...})`), env merge, and
//! dist_ac on a one-node cluster.

use super::*;
use crate::kernel::dist_ac::{Config, DistEntry, NodeSpec, NodesSpec, RestartTime};
use crate::runtime::Node;
use crate::term;
use crate::term::{Pid, atom, int};
use std::sync::Mutex;

type Halts = Arc<Mutex<Vec<(i32, String)>>>;

fn halt_recorder() -> (HaltFn, Halts) {
    let v: Halts = Arc::default();
    let w = v.clone();
    (Arc::new(move |c, l| w.lock().unwrap().push((c, l))), v)
}

/// An app whose top process exits with the reason it receives.
struct Dier {
    name: &'static str,
    deps: Vec<String>,
    top: Arc<Mutex<Option<Pid>>>,
}

impl Application for Dier {
    fn spec(&self) -> AppSpec {
        let mut s = AppSpec::new(self.name, "test app", "1.2");
        s.applications.extend(self.deps.clone());
        s.env = vec![("par".into(), int(1)), ("other".into(), int(2))];
        s
    }
    async fn start(
        &self,
        ctx: AppContext,
        _t: StartType,
        _a: Term,
    ) -> Result<Started, super::AppStartError> {
        let pid = ctx.node.spawn(|mut p| async move { p.recv().await });
        *self.top.lock().unwrap() = Some(pid.clone());
        Ok(Started::from(pid))
    }
}

fn dier(name: &'static str, deps: &[&str]) -> (Arc<Dier>, Arc<Mutex<Option<Pid>>>) {
    let top = Arc::new(Mutex::new(None));
    (
        Arc::new(Dier {
            name,
            deps: deps.iter().map(|d| (*d).to_owned()).collect(),
            top: top.clone(),
        }),
        top,
    )
}

async fn settle() {
    for _ in 0..20 {
        tokio::task::yield_now().await;
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
}

#[tokio::test]
async fn start_with_dependencies_which_applications_and_stop() {
    let node = Node::local("ac@h");
    let kernel = crate::kernel::start(&node);
    let (halt, halts) = halt_recorder();
    let cfg = AcConfig {
        env: vec![("b".into(), vec![("par".into(), int(10))])],
        cmdline: vec![("b".into(), "other".into(), int(20))],
        release_boot: false,
    };
    let ac = ApplicationController::start(&node, &kernel, cfg, halt);
    let (a, _) = dier("a", &[]);
    let (b, _) = dier("b", &["a"]);
    ac.add(a);
    ac.add(b);
    settle().await;
    assert_eq!(ac.weight().load(std::sync::atomic::Ordering::SeqCst), 2);
    ac.start_app("b", RestartType::Temporary).await.unwrap();
    let names: Vec<String> = ac
        .which_applications()
        .into_iter()
        .map(|(n, ..)| n.name)
        .collect();
    assert_eq!(names, ["b", "a", "stdlib", "kernel"]);
    assert_eq!(ac.which_applications()[0].1, "test app");
    assert_eq!(ac.which_applications()[0].2, "1.2");
    assert_eq!(ac.weight().load(std::sync::atomic::Ordering::SeqCst), 4);
    // env: .app default < sys.config < -b other 20
    assert_eq!(ac.get_env("b", "par"), Some(int(10)));
    assert_eq!(ac.get_env("b", "other"), Some(int(20)));
    assert_eq!(ac.get_env("a", "par"), Some(int(1)));
    // which_applications over rpc has OTP's shape.
    let r = kernel
        .rpc
        .apply(
            &node,
            &atom("application"),
            &atom("which_applications"),
            &crate::term::nil(),
        )
        .await
        .unwrap();
    assert_eq!(
        r.as_list().unwrap()[0],
        term!({b, (crate::term::charlist("test app")), (crate::term::charlist("1.2"))})
    );
    ac.stop("b").await.unwrap();
    assert!(!ac.is_running("b"));
    assert_eq!(ac.stop("b").await, Err(AppError(term!({not_started, b}))));
    assert!(halts.lock().unwrap().is_empty());
}

#[tokio::test]
async fn a_permanent_application_that_dies_stops_the_node_a_temporary_one_does_not() {
    let node = Node::local("ac2@h");
    let kernel = crate::kernel::start(&node);
    let (halt, halts) = halt_recorder();
    let ac = ApplicationController::start(&node, &kernel, AcConfig::default(), halt);
    let (t, ttop) = dier("t", &[]);
    let (p, ptop) = dier("p", &[]);
    ac.add(t);
    ac.add(p);
    ac.start_app("t", RestartType::Temporary).await.unwrap();
    ac.start_app("p", RestartType::Permanent).await.unwrap();
    let tpid = ttop.lock().unwrap().clone().unwrap();
    node.send(&tpid, atom("bye"));
    settle().await;
    assert!(!ac.is_running("t"));
    assert!(halts.lock().unwrap().is_empty());
    let ppid = ptop.lock().unwrap().clone().unwrap();
    node.exit(&ppid, atom("crash"));
    settle().await;
    let h = halts.lock().unwrap().clone();
    assert_eq!(h.len(), 1, "{h:?}");
    assert_eq!(h[0].0, 1);
    assert!(
        h[0].1.starts_with(
            "Kernel pid terminated (application_controller) ({application_terminated,p,"
        ),
        "{}",
        h[0].1
    );
}

/// dist_ac on a one-node cluster: `{myapp, 0, [me]}` starts here, `normal`,
/// and `which_applications` counts it.
#[tokio::test]
async fn dist_ac_alone_starts_the_app_here() {
    let node = Node::local("solo@h");
    let kernel = crate::kernel::start(&node);
    let (halt, halts) = halt_recorder();
    let apps = crate::kernel::start_applications(
        &node,
        &kernel,
        crate::kernel::AppsConfig {
            dist: Config {
                distributed: vec![DistEntry {
                    app: atom_of("myapp"),
                    restart_time: RestartTime::Ms(0),
                    nodes: NodesSpec(vec![NodeSpec::One(atom_of("solo@h"))]),
                }],
                permissions: vec![],
                heal_partitions: false,
            },
            start_dist_ac: None,
            sync: None,
            env: AcConfig::default(),
            halt,
            locks: None,
        },
    )
    .await
    .unwrap();
    crate::apps::add_builtin(&apps.ac);
    let dac = apps.dist_ac.clone().unwrap();
    dac.wait_for_sync().await;
    tokio::time::timeout(
        std::time::Duration::from_secs(10),
        apps.ac.start_app("myapp", RestartType::Temporary),
    )
    .await
    .expect("start returns")
    .unwrap();
    assert!(apps.ac.is_running("myapp"));
    assert_eq!(dac.known_nodes().await, vec![atom_of("solo@h")]);
    assert!(halts.lock().unwrap().is_empty());
}

fn atom_of(s: &str) -> crate::term::Atom {
    crate::term::Atom::from(s)
}

/// The seed's Elixir demo logs `inspect(type)`; the Rust `distro` app logs
/// the same text.
#[test]
fn start_types_print_as_elixir_and_erlang_do() {
    let t = StartType::Takeover(atom_of("one@127.0.0.1"));
    assert_eq!(StartType::Normal.inspect_elixir(), ":normal");
    assert_eq!(t.inspect_elixir(), "{:takeover, :\"one@127.0.0.1\"}");
    assert_eq!(
        StartType::Failover(atom_of("cp1")).inspect_elixir(),
        "{:failover, :cp1}"
    );
    // Checked against Elixir 1.14's inspect/1.
    for (name, shown) in [
        ("three@three", ":three@three"),
        ("Foo", ":Foo"),
        ("a@", ":a@"),
        ("foo?", ":foo?"),
        ("@a", ":\"@a\""),
        ("f?o", ":\"f?o\""),
        ("a-b", ":\"a-b\""),
    ] {
        let t = StartType::Takeover(atom_of(name));
        assert_eq!(t.inspect_elixir(), format!("{{:takeover, {shown}}}"));
    }
    assert_eq!(t.to_string(), "{takeover,'one@127.0.0.1'}");
    assert_eq!(StartType::Normal.to_string(), "normal");
}

/// What a start or stop call answered is what `is_running` and the weight
/// say right after, from any thread: the controller publishes its view
/// before it replies (a caller on another worker used to see the old one).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_published_view_is_current_when_a_call_returns() {
    let node = Node::local("ac@h");
    let kernel = crate::kernel::start(&node);
    let (halt, _) = halt_recorder();
    let ac = ApplicationController::start(&node, &kernel, AcConfig::default(), halt);
    let (a, _) = dier("a", &[]);
    ac.add(a);
    let weight = ac.weight();
    for i in 0..300 {
        ac.start_app("a", RestartType::Temporary).await.unwrap();
        assert!(ac.is_running("a"), "round {i}: started");
        assert_eq!(weight.load(std::sync::atomic::Ordering::SeqCst), 3);
        ac.stop("a").await.unwrap();
        assert!(!ac.is_running("a"), "round {i}: stopped");
        assert_eq!(weight.load(std::sync::atomic::Ordering::SeqCst), 2);
    }
}

/// A configured application that is not loaded answers `get_env` only when
/// the node booted from a release's boot script (which loads it), as on
/// BEAM; kernel's own parameters answer either way.
#[tokio::test]
async fn configured_env_of_unloaded_apps_only_after_a_release_boot() {
    for release_boot in [false, true] {
        let node = Node::local("acenv@h");
        let kernel = crate::kernel::start(&node);
        let (halt, _) = halt_recorder();
        let cfg = AcConfig {
            env: vec![
                ("lager".into(), vec![("colored".into(), atom("true"))]),
                ("kernel".into(), vec![("net_ticktime".into(), int(20))]),
            ],
            cmdline: Vec::new(),
            release_boot,
        };
        let ac = ApplicationController::start(&node, &kernel, cfg, halt);
        settle().await;
        assert_eq!(
            ac.get_env("lager", "colored"),
            release_boot.then(|| atom("true")),
            "release_boot {release_boot}"
        );
        assert_eq!(ac.get_env("kernel", "net_ticktime"), Some(int(20)));
    }
}
