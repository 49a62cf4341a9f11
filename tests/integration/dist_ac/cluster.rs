//! dist_ac clusters over the shared harness ([`crate::support`]): one
//! private EPMD, BEAM nodes of the selected release with `-config` files
//! and `erl_interop/myapp` compiled by that release's `erlc`, Elixir nodes
//! of that release running `erl_interop/distro` compiled by its `mix`, and
//! Rust nodes booted in the test process through the library.

use crate::support::{
    BeamNode, BeamOpts, DistroNode, DistroOpts, ElixirNode, ElixirOpts, Epmd, Otp, SharedDir,
    mix_compile,
};
use distro::kernel::application_controller::{AcConfig, HaltFn, RestartType};
use distro::kernel::dist_ac::{Config, DistEntry, NodeSpec, NodesSpec, RestartTime};
use distro::kernel::kernel_config::{SyncNodes, SyncTimeout};
use distro::kernel::{Applications, AppsConfig};
use distro::runtime::{Node, NodeConfig};
use distro::term::Atom;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

pub(crate) const COOKIE: &str = "distac_cookie";
pub(crate) const LONG: Duration = Duration::from_secs(60);

/// A short node name no other test uses that keeps `prefix` first, so that
/// names compare as their prefixes do (`cp2… < cp3…`: ties go to cp2).
pub(crate) fn unique(prefix: &str) -> String {
    static N: AtomicU32 = AtomicU32::new(0);
    format!(
        "{prefix}x{}x{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

/// `unique(prefix)@127.0.0.1`.
pub(crate) fn name(prefix: &str) -> String {
    format!("{}@127.0.0.1", unique(prefix))
}

/// Three fresh names `[cp1, cp2, cp3]`.
pub(crate) fn names() -> [String; 3] {
    [name("cp1"), name("cp2"), name("cp3")]
}

/// `{App, 5000, [N1, {N2, N3}]}`.
pub(crate) fn spec(app: &str, n: &[String; 3]) -> DistEntry {
    DistEntry {
        app: Atom::from(app),
        restart_time: RestartTime::Ms(5000),
        nodes: NodesSpec(vec![
            NodeSpec::One(Atom::from(n[0].as_str())),
            NodeSpec::Any(vec![Atom::from(n[1].as_str()), Atom::from(n[2].as_str())]),
        ]),
    }
}

/// The kernel env of node `me` of the cluster `n` (three nodes in most
/// tests): `{distributed, [{App, 5000, [N1, {N2, N3...}]}]}`,
/// `sync_nodes_<sync>` of the others, `sync_nodes_timeout`, then `extra`
/// (terms, each after a comma).
pub(crate) fn cluster_env(
    app: &str,
    n: &[String],
    me: &str,
    sync: &str,
    timeout_ms: u32,
    extra: &str,
) -> String {
    let quoted = |x: &String| format!("'{x}'");
    let others: Vec<String> = n.iter().filter(|x| *x != me).map(quoted).collect();
    // The seed's priority list: the first node, then all the others at
    // one level (`[one, {two, three}]` for three nodes).
    let rest: Vec<String> = n[1..].iter().map(quoted).collect();
    format!(
        "{{distributed, [{{{app}, 5000, ['{}', {{{}}}]}}]}}, {{sync_nodes_{sync}, [{}]}}, {{sync_nodes_timeout, {timeout_ms}}}{extra}",
        n[0],
        rest.join(", "),
        others.join(", ")
    )
}

/// The kernel env of a BEAM node of the cluster `n`, as in cpN.config.
pub(crate) fn beam_env(n: &[String; 3], me: &str) -> String {
    cluster_env("myapp", n, me, "mandatory", 30000, "")
}

/// Runs blocking harness code (eval, start) without stalling the Rust nodes.
/// `(i, j)` where the dist_ac of `n[i]` does not count `n[j]` among its
/// known nodes (`dist_ac:get_known_nodes()` over rpc from `observer`; a
/// dist_ac that does not answer in 5 s knows nobody).
pub(crate) fn unknown_pairs(observer: &BeamNode, n: &[String]) -> Vec<(usize, usize)> {
    let known: Vec<String> = n
        .iter()
        .map(|node| {
            block(|| {
                observer.eval(&format!(
                    "rpc:call('{node}', dist_ac, get_known_nodes, [], 5000)."
                ))
            })
            .unwrap_or_default()
        })
        .collect();
    let len = n.len();
    (0..len)
        .flat_map(|i| (0..len).map(move |j| (i, j)))
        .filter(|&(i, j)| i != j && !known[i].contains(&format!("'{}'", n[j])))
        .collect()
}

pub(crate) fn block<T>(f: impl FnOnce() -> T) -> T {
    tokio::task::block_in_place(f)
}

/// A private EPMD, a shared directory with `myapp` compiled by the release
/// (and the seed's Elixir `distro` app, once a test asks for an Elixir node).
pub(crate) struct Cluster {
    pub(crate) otp: Otp,
    pub(crate) epmd: Arc<Epmd>,
    dir: SharedDir,
    /// `ebin` of the compiled Elixir `distro` app, as the release sees it.
    distro_ebin: OnceLock<PathBuf>,
}

/// What [`Cluster::elixir`] evaluates: start the seed's `distro` app.
const START_DISTRO: &str =
    "{:ok, _} = Application.ensure_all_started(:distro); IO.puts(\"@@distro start returned\")";

impl Cluster {
    /// `start_phases`: `myapp.app` gets `{start_phases, [{go, []}]}`.
    pub(crate) fn new(otp: Otp, start_phases: bool) -> Self {
        let epmd = Arc::new(Epmd::start().expect("epmd"));
        let dir = otp.shared_dir().expect("shared dir");
        let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("erl_interop/myapp/src");
        std::fs::create_dir_all(dir.host_path().join("ebin")).unwrap();
        for m in ["myapp_app", "myapp_sup", "myapp_server"] {
            let f = format!("{m}.erl");
            std::fs::copy(src.join(&f), dir.host_path().join(&f)).unwrap();
        }
        let app = std::fs::read_to_string(src.join("myapp.app.src")).unwrap();
        let app = if start_phases {
            app.replace(
                "{mod, {myapp_app, []}}",
                "{mod, {myapp_app, []}},\n  {start_phases, [{go, []}]}",
            )
        } else {
            app
        };
        std::fs::write(dir.host_path().join("ebin/myapp.app"), app).unwrap();
        let node_dir = dir.node_path().to_owned();
        let mut erlc = otp.command("erlc");
        erlc.arg("-o").arg(node_dir.join("ebin"));
        for m in ["myapp_app", "myapp_sup", "myapp_server"] {
            erlc.arg(node_dir.join(format!("{m}.erl")));
        }
        assert!(erlc.status().expect("erlc").success(), "erlc failed");
        Self {
            otp,
            epmd,
            dir,
            distro_ebin: OnceLock::new(),
        }
    }

    fn config(&self, full_name: &str, kernel_env: &str) -> String {
        let short = full_name.split('@').next().unwrap_or(full_name);
        self.dir
            .write(
                &format!("{short}.config"),
                format!("[{{kernel, [{kernel_env}]}}].\n"),
            )
            .expect("config")
            .display()
            .to_string()
    }

    /// Options for a BEAM node `full_name` with `kernel_env` in its sys.config.
    pub(crate) fn beam_opts(&self, full_name: &str, kernel_env: &str) -> BeamOpts {
        let short = full_name.split('@').next().unwrap_or(full_name);
        let cfg = self.config(full_name, kernel_env);
        let ebin = self.dir.node_path().join("ebin").display().to_string();
        BeamOpts::new(short)
            .name(short)
            .cookie(COOKIE)
            .otp(self.otp.clone())
            .args(["-config".to_owned(), cfg])
            .args(["-pa".to_owned(), ebin])
            .start_timeout(LONG)
    }

    /// Starts a BEAM node in the background: its boot waits for its
    /// `sync_nodes_mandatory` nodes, which may be Rust nodes of this test.
    pub(crate) fn spawn_beam(
        &self,
        full_name: &str,
        kernel_env: &str,
    ) -> tokio::task::JoinHandle<BeamNode> {
        let (epmd, opts) = (self.epmd.clone(), self.beam_opts(full_name, kernel_env));
        tokio::task::spawn_blocking(move || BeamNode::start(&epmd, opts).expect("BEAM node"))
    }

    /// An Elixir node `full_name` of the release running the seed's `distro`
    /// app (`erl_interop/distro`, compiled by the release's own `mix` on
    /// first use), with `kernel_env` in its sys.config. Prints
    /// `@@distro start returned` once `Application.ensure_all_started`
    /// returned. The test must have checked
    /// [`crate::support::require_elixir`] first.
    pub(crate) fn elixir(&self, full_name: &str, kernel_env: &str) -> ElixirNode {
        self.elixir_run(full_name, kernel_env, START_DISTRO, Vec::new())
    }

    /// [`Self::elixir`] with more `erl` arguments (e.g. TLS distribution's).
    pub(crate) fn elixir_with(
        &self,
        full_name: &str,
        kernel_env: &str,
        erl_args: Vec<String>,
    ) -> ElixirNode {
        self.elixir_run(full_name, kernel_env, START_DISTRO, erl_args)
    }

    /// [`Self::elixir`] running `eval` instead (e.g. starting `distro` as
    /// `:permanent`).
    pub(crate) fn elixir_eval(&self, full_name: &str, kernel_env: &str, eval: &str) -> ElixirNode {
        self.elixir_run(full_name, kernel_env, eval, Vec::new())
    }

    fn elixir_run(
        &self,
        full_name: &str,
        kernel_env: &str,
        eval: &str,
        erl_args: Vec<String>,
    ) -> ElixirNode {
        let ebin = self.distro_ebin.get_or_init(|| {
            let project = Path::new(env!("CARGO_MANIFEST_DIR")).join("erl_interop/distro");
            mix_compile(&self.otp, &project, &self.dir, "distro_app").expect("mix compile")
        });
        let cfg = self.config(full_name, kernel_env);
        let opts = ElixirOpts::new(self.otp.clone(), full_name, COOKIE, eval)
            .erl_args(["-config".to_owned(), cfg])
            .erl_args(erl_args)
            .code_path(ebin);
        ElixirNode::start(&self.epmd, opts).expect("elixir node")
    }

    /// The `distro` binary as `me` with `kernel_env` in its sys.config and
    /// `--app app`: a Rust node that a test can `kill -9` (stopping it from
    /// inside would let its kernel react to its own connections closing).
    pub(crate) fn distro_bin(&self, me: &str, kernel_env: &str, app: &str) -> DistroNode {
        self.distro_bin_with(me, kernel_env, app, Vec::new())
    }

    /// [`Self::distro_bin`] with more arguments (e.g. TLS distribution's).
    pub(crate) fn distro_bin_with(
        &self,
        me: &str,
        kernel_env: &str,
        app: &str,
        extra: Vec<String>,
    ) -> DistroNode {
        let short = me.split('@').next().unwrap_or(me);
        let path = self.dir.host_path().join(format!("{short}_bin.config"));
        std::fs::write(&path, format!("[{{kernel, [{kernel_env}]}}].\n")).unwrap();
        DistroNode::start(
            &self.epmd,
            DistroOpts::new()
                .label(short)
                .args([
                    "-name".to_owned(),
                    me.to_owned(),
                    "-setcookie".to_owned(),
                    COOKIE.to_owned(),
                    "-config".to_owned(),
                    path.with_extension("").display().to_string(),
                    "--app".to_owned(),
                    app.to_owned(),
                ])
                .args(extra),
        )
        .expect("distro binary")
    }

    /// Boots a Rust node `me` with `distributed = dist` and the given
    /// `sync_nodes_*`; `myapp` and `distro` are available.
    pub(crate) async fn rust(
        &self,
        me: &str,
        dist: Vec<DistEntry>,
        sync: Option<SyncNodes>,
        phases: bool,
        halt: HaltFn,
    ) -> RustNode {
        let mut cfg = NodeConfig::new(me, COOKIE);
        cfg.epmd_port = self.epmd.port();
        cfg.listen_addr = Some("127.0.0.1".parse().unwrap());
        let (node, kernel) = distro::start(cfg).await.expect("rust node");
        let apps = distro::kernel::start_applications(
            &node,
            &kernel,
            AppsConfig {
                dist: Config {
                    distributed: dist,
                    permissions: vec![],
                    heal_partitions: false,
                },
                start_dist_ac: None,
                sync,
                env: AcConfig::default(),
                halt,
                locks: None,
            },
        )
        .await
        .expect("kernel_config");
        apps.ac
            .add(Arc::new(distro::apps::myapp::MyApp::new(phases)));
        apps.ac.add(Arc::new(distro::apps::distro::Distro));
        RustNode { node, apps }
    }

    /// A Rust cpN of the cluster `n` (mandatory sync with the two others).
    pub(crate) async fn rust_cp(&self, me: &str, n: &[String; 3], phases: bool) -> RustNode {
        let others = n
            .iter()
            .filter(|x| *x != me)
            .map(|x| Atom::from(x.as_str()))
            .collect();
        let sync = SyncNodes {
            mandatory: others,
            optional: vec![],
            timeout: SyncTimeout::Ms(30000),
        };
        self.rust(me, vec![spec("myapp", n)], Some(sync), phases, no_halt())
            .await
    }
}

/// A Rust node of the cluster.
pub(crate) struct RustNode {
    pub(crate) node: Node,
    pub(crate) apps: Applications,
}

impl RustNode {
    /// `application:start(myapp)` (returns once dist_ac decided).
    pub(crate) async fn start_myapp(&self) {
        self.spawn_start_myapp().await.expect("start task");
    }

    /// `application:start(myapp)` in the background.
    pub(crate) fn spawn_start_myapp(&self) -> tokio::task::JoinHandle<()> {
        let ac = self.apps.ac.clone();
        tokio::spawn(async move {
            tokio::time::timeout(LONG, ac.start_app("myapp", RestartType::Temporary))
                .await
                .expect("start returns")
                .expect("start ok");
        })
    }

    /// Whether myapp runs here.
    pub(crate) fn runs(&self) -> bool {
        self.apps.ac.is_running("myapp")
    }
}

/// A halt that fails the test.
pub(crate) fn no_halt() -> HaltFn {
    Arc::new(|code, line| panic!("node halted ({code}): {line}"))
}

/// `application:start(myapp)` at a BEAM node.
pub(crate) fn beam_start_myapp(b: &BeamNode) {
    let r = block(|| b.eval_timeout("application:start(myapp).", LONG));
    assert_eq!(r.expect("application:start(myapp)"), "ok");
}

/// Whether myapp runs at a BEAM node.
pub(crate) fn beam_runs(b: &BeamNode) -> bool {
    block(|| b.eval("lists:keymember(myapp, 1, application:which_applications())."))
        .is_ok_and(|v| v == "true")
}

/// What a BEAM node's application controller lists for `app` among the
/// running applications: a pid where it runs here, `{distributed,Node}`
/// where it runs elsewhere, `undefined` when it is not started.
pub(crate) fn beam_running_entry(b: &BeamNode, app: &str) -> String {
    block(|| {
        b.eval(&format!(
            "proplists:get_value({app}, proplists:get_value(running, application:info()))."
        ))
    })
    .unwrap_or_else(|e| e.to_string())
}

/// Polls `cond` every 50 ms for up to `limit`; returns the time it took.
pub(crate) async fn until(what: &str, limit: Duration, mut cond: impl FnMut() -> bool) -> Duration {
    let t0 = Instant::now();
    while !block(&mut cond) {
        assert!(t0.elapsed() < limit, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    t0.elapsed()
}

/// Whether `app` runs at `node` (any node), asked by rpc from a BEAM node.
///
/// The eval loop keeps bindings between lines, so a `case … of L` here
/// would bind `L` on the first call and then only match that same list; a
/// fun head's variables are fresh on every call.
pub(crate) fn runs_at(via: &BeamNode, node: &str, app: &str) -> bool {
    block(|| {
        via.eval(&format!(
            "(fun(Apps) when is_list(Apps) -> lists:keymember({app}, 1, Apps); (_) -> false end)(rpc:call('{node}', application, which_applications, []))."
        ))
    })
    .is_ok_and(|v| v == "true")
}
