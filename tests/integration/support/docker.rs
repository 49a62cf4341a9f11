//! Clusters of one host per node in Docker containers: the nodes of
//! `docker-compose.yml` (`erl_interop/start_node.sh` in the images of
//! `scripts/images.sh`), started by a test on a network of its own, and
//! watched over rpc from a hidden BEAM node `ctl` in a container too.
//!
//! ```text
//!   test ── DockerCluster ── Network (internal bridge, unique name, removed at the end)
//!             │                 ├── one    distro:latest    start_node.sh distro one
//!             │                 ├── two    distro-otp:NN    start_node.sh elixir two
//!             │                 ├── three  distro-otp:NN    start_node.sh elixir three
//!             └── ctl (BeamNode, eval loop over `docker start -ai`, -hidden)
//! ```
//!
//! Containers and networks come from `distro::docker` (the crate's own
//! thin layer over the docker command line) and are removed by id when the
//! cluster is dropped; nothing else is ever touched. A `distro` container
//! runs the binary of this build (bind-mounted over the image's), and every
//! container gets this checkout's `erl_interop/config` and `start_node.sh`,
//! so a stale image never hides a change; the Elixir app is the one each
//! image's own Elixir compiled.
//!
//! [`require_images`] skips (locally) or fails (under CI) when the images
//! are missing. Kills, pauses and partitions act on whole containers:
//! `docker kill`, `docker pause`, `docker network disconnect`.

use std::path::Path;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use distro::docker::{Container, ContainerSpec, Network, OTP_IMAGE, image_exists};

use super::beam::{BeamNode, EVAL_LOOP};
use super::otp::{Otp, in_ci};
use super::process::{Log, ProcessGuard};

/// The cookie of erl_interop's configs and docker-compose.yml.
pub(crate) const COOKIE: &str = "distro";

/// The domain of `-name` nodes (`one@one.distro.test`).
pub(crate) const DOMAIN: &str = "distro.test";

/// The image of the `distro` binary.
pub(crate) const DISTRO_IMAGE: &str = "distro:latest";

/// Lines of each node's output in failure messages (`DISTRO_TEST_TAIL`
/// overrides, e.g. to see a whole debug log).
fn tail_lines() -> usize {
    std::env::var("DISTRO_TEST_TAIL")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(30)
}

/// How long boots, failovers and other cluster-wide changes may take.
pub(crate) const LONG: Duration = Duration::from_secs(90);

/// The OTP image of `release`.
pub(crate) fn otp_image(release: u32) -> String {
    format!("{OTP_IMAGE}:{release}")
}

/// Whether Docker answers and the images of `releases` and `distro:latest`
/// exist. Under CI a missing one **panics** (container tests never skip
/// there); locally it prints a notice and returns `false`.
pub(crate) fn require_images(releases: &[u32]) -> bool {
    let rt = super::tokio_runtime();
    let mut wanted: Vec<String> = releases.iter().map(|&r| otp_image(r)).collect();
    wanted.push(DISTRO_IMAGE.to_owned());
    let missing: Vec<String> = rt.block_on(async {
        let mut missing = Vec::new();
        for image in &wanted {
            if !image_exists(image).await {
                missing.push(image.clone());
            }
        }
        missing
    });
    if missing.is_empty() {
        return true;
    }
    let reason = format!(
        "Docker images missing (or no Docker engine): {} (scripts/images.sh builds them)",
        missing.join(", ")
    );
    assert!(!in_ci(), "container tests need them under CI: {reason}");
    eprintln!("skipping: {reason}");
    false
}

/// What runs on a node.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    /// The `distro` binary (`start_node.sh distro NAME`: `--app distro`
    /// for one/two/three, `--app myapp` for cp1..cp3).
    Distro,
    /// Elixir with erl_interop's `distro` app (`start_node.sh elixir NAME`).
    Elixir,
    /// erl with the OTP guide's `myapp` (`start_node.sh erlang NAME`).
    Erlang,
}

/// `-sname one` (`one@one`) or `-name one@one.distro.test`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Naming {
    /// Short names: `NAMING=sname`.
    Short,
    /// Long names: `NAMING=name`.
    Long,
}

impl Naming {
    /// The node name of host `name`.
    pub(crate) fn node(self, name: &str) -> String {
        match self {
            Self::Short => format!("{name}@{name}"),
            Self::Long => format!("{name}@{name}.{DOMAIN}"),
        }
    }

    fn env(self) -> &'static str {
        match self {
            Self::Short => "sname",
            Self::Long => "name",
        }
    }
}

/// One node of a [`DockerCluster`]: a container whose output is captured
/// run by run (a restart is a new run).
pub(crate) struct DockerNode {
    name: String,
    node: String,
    kind: Kind,
    release: Option<u32>,
    container: Container,
    runs: Mutex<Vec<ProcessGuard>>,
}

impl DockerNode {
    /// The host (and container) name, e.g. `one`.
    pub(crate) fn name(&self) -> &str {
        &self.name
    }

    /// The node name, e.g. `one@one`.
    pub(crate) fn node_name(&self) -> &str {
        &self.node
    }

    /// What runs there.
    pub(crate) fn kind(&self) -> Kind {
        self.kind
    }

    /// `distro`, `Elixir/OTP 27`...
    pub(crate) fn describe(&self) -> String {
        match (self.kind, self.release) {
            (Kind::Distro, _) => "distro".to_owned(),
            (Kind::Elixir, Some(r)) => format!("Elixir/OTP {r}"),
            (Kind::Erlang, Some(r)) => format!("erl/OTP {r}"),
            (k, None) => format!("{k:?}"),
        }
    }

    /// The output of the current run (since the last start).
    pub(crate) fn log(&self) -> Log {
        let runs = self.runs.lock().unwrap_or_else(|e| e.into_inner());
        runs.last().expect("the node was started").log().clone()
    }

    /// Waits for a line containing `needle` in the current run.
    pub(crate) fn wait_for_log(&self, needle: &str, timeout: Duration) -> anyhow::Result<String> {
        self.log().wait_for(needle, timeout)
    }

    /// The last lines of every run.
    pub(crate) fn tail(&self, n: usize) -> String {
        let runs = self.runs.lock().unwrap_or_else(|e| e.into_inner());
        runs.iter().map(|r| r.log().tail(n)).collect()
    }

    /// The container.
    pub(crate) fn container(&self) -> &Container {
        &self.container
    }

    fn start(&self) -> anyhow::Result<()> {
        let label = format!("{} [{}, container]", self.node, self.describe());
        let guard = ProcessGuard::spawn(label, self.container.attach_command(false))?;
        self.runs
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(guard);
        Ok(())
    }
}

/// A network, its nodes and the hidden observer `ctl`; everything is
/// removed when dropped (nodes first, the network last).
pub(crate) struct DockerCluster {
    nodes: Vec<DockerNode>,
    ctl: Option<BeamNode>,
    ctl_container: Option<Container>,
    naming: Naming,
    node_args: Vec<String>,
    label: String,
    net: Network,
    rt: tokio::runtime::Runtime,
}

impl DockerCluster {
    /// A fresh network named after `label`, with `ctl` (the release of
    /// `DISTRO_OTP`) up. `node_args` are given to every node, `ctl`
    /// included (e.g. `["-kernel", "net_ticktime", "4"]`).
    pub(crate) fn new(label: &str, naming: Naming, node_args: &[&str]) -> anyhow::Result<Self> {
        let rt = super::tokio_runtime();
        let net = rt.block_on(Network::create("distro-test"))?;
        let mut cl = Self {
            nodes: Vec::new(),
            ctl: None,
            ctl_container: None,
            naming,
            node_args: node_args.iter().map(|&a| a.to_owned()).collect(),
            label: label.to_owned(),
            net,
            rt,
        };
        cl.start_ctl()?;
        Ok(cl)
    }

    fn start_ctl(&mut self) -> anyhow::Result<()> {
        let otp = Otp::from_env();
        let name_flag = match self.naming {
            Naming::Short => "-sname",
            Naming::Long => "-name",
        };
        let mut command: Vec<String> = [
            "erl",
            "-noshell",
            "-hidden",
            name_flag,
            &self.naming.node("ctl"),
            "-setcookie",
            COOKIE,
        ]
        .map(str::to_owned)
        .to_vec();
        command.extend(self.node_args.iter().cloned());
        command.extend(["-eval".to_owned(), EVAL_LOOP.to_owned()]);
        let spec = ContainerSpec::new(&otp_image(otp.number()))
            .network(&self.net)
            .hostname("ctl")
            .domainname(DOMAIN)
            .init()
            .stdin()
            .command(command);
        let container = self.rt.block_on(Container::create(&spec))?;
        let label = format!("{}: ctl [OTP {}, container]", self.label, otp.number());
        let ctl = BeamNode::attach(&label, container.attach_command(true), otp, COOKIE, LONG);
        self.ctl_container = Some(container);
        self.ctl = Some(ctl?);
        Ok(())
    }

    /// The observer: a hidden BEAM node on the network.
    pub(crate) fn ctl(&self) -> &BeamNode {
        self.ctl.as_ref().expect("ctl is up")
    }

    /// The network.
    pub(crate) fn network(&self) -> &Network {
        &self.net
    }

    /// The node named `name`.
    pub(crate) fn node(&self, name: &str) -> &DockerNode {
        self.nodes
            .iter()
            .find(|n| n.name == name)
            .unwrap_or_else(|| panic!("no node {name} in {}", self.label))
    }

    /// The node name of host `name` in this cluster's naming.
    pub(crate) fn node_name(&self, name: &str) -> String {
        self.naming.node(name)
    }

    /// Creates and starts node `name` running `kind` (`release`: the OTP
    /// image of a BEAM node; ignored for `distro`). Returns at once: wait
    /// with [`Self::wait_up`].
    pub(crate) fn start(&mut self, name: &str, kind: Kind, release: u32) -> anyhow::Result<()> {
        let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
        let script = repo.join("erl_interop/start_node.sh");
        let (image, kind_arg, release) = match kind {
            Kind::Distro => (DISTRO_IMAGE.to_owned(), "distro", None),
            Kind::Elixir => (otp_image(release), "elixir", Some(release)),
            Kind::Erlang => (otp_image(release), "erlang", Some(release)),
        };
        let mut spec = ContainerSpec::new(&image)
            .network(&self.net)
            .hostname(name)
            .domainname(DOMAIN)
            .init()
            .env("NAMING", self.naming.env())
            .env("COOKIE", COOKIE)
            .env("NOSHELL", "1")
            .env("NODE_ARGS", &self.node_args.join(" "))
            .mount_ro(repo.join("erl_interop/config"), "/erl_interop/config")
            .mount_ro(script, "/erl_interop/start_node.sh")
            .command(["./start_node.sh", kind_arg, name]);
        if kind == Kind::Distro {
            spec = spec.mount_ro(super::DistroNode::BIN, "/usr/local/bin/distro");
            // The test's log filter (e.g. DISTRO_LOG=debug) reaches distro.
            if let Ok(filter) = std::env::var("DISTRO_LOG") {
                spec = spec.env("DISTRO_LOG", &filter);
            }
        }
        let container = self.rt.block_on(Container::create(&spec))?;
        let node = DockerNode {
            name: name.to_owned(),
            node: self.naming.node(name),
            kind,
            release,
            container,
            runs: Mutex::new(Vec::new()),
        };
        node.start()?;
        self.nodes.push(node);
        Ok(())
    }

    /// Waits until node `name` answers a ping from `ctl` (it is registered
    /// with its EPMD: what docker-compose.yml's health checks wait for).
    pub(crate) fn wait_registered(&self, name: &str) -> anyhow::Result<()> {
        let node = self.node_name(name);
        self.ctl()
            .eval_until(&format!("net_adm:ping('{node}')."), "pong", LONG)
            .with_context(|| format!("{node} did not come up\n{}", self.node(name).tail(40)))
    }

    /// Waits until node `name` answers a ping from `ctl` and has loaded
    /// `app` (the node's start script has got to starting it; an Elixir
    /// node only then has its code path).
    pub(crate) fn wait_up(&self, name: &str, app: &str) -> anyhow::Result<()> {
        let node = self.node_name(name);
        let loaded = format!("{{{app},");
        self.ctl()
            .eval_until_match(
                &format!(
                    "case net_adm:ping('{node}') of pong -> \
                     rpc:call('{node}', application, loaded_applications, [], 5000); \
                     pang -> pang end."
                ),
                LONG,
                |v| v.contains(&loaded),
            )
            .map(drop)
            .with_context(|| format!("{node} did not come up\n{}", self.node(name).tail(40)))
    }

    /// Evaluates `expr` at `ctl`.
    pub(crate) fn eval(&self, expr: &str) -> anyhow::Result<String> {
        Ok(self.ctl().eval(expr)?)
    }

    /// `rpc:call(Node, M, F, Args, 5000)` from `ctl`; `args` is Erlang text.
    pub(crate) fn rpc(&self, name: &str, m: &str, f: &str, args: &str) -> String {
        let node = self.node_name(name);
        self.ctl()
            .eval(&format!("rpc:call('{node}', {m}, {f}, {args}, 5000)."))
            .unwrap_or_else(|e| format!("{{eval_failed, {e}}}"))
    }

    /// Whether `app` is in `application:which_applications()` at `name`
    /// (`false` if the node does not answer).
    pub(crate) fn runs(&self, name: &str, app: &str) -> bool {
        let apps = self.rpc(name, "application", "which_applications", "[]");
        apps.starts_with('[') && apps.contains(&format!("{{{app},"))
    }

    /// The nodes among `among` where `app` runs.
    pub(crate) fn running(&self, app: &str, among: &[&str]) -> Vec<String> {
        among
            .iter()
            .filter(|n| self.runs(n, app))
            .map(|n| (*n).to_owned())
            .collect()
    }

    /// Waits until `app` runs at exactly `at` among `among`; returns how
    /// long that took.
    pub(crate) fn until_only(
        &self,
        app: &str,
        at: &str,
        among: &[&str],
        what: &str,
    ) -> anyhow::Result<Duration> {
        let t0 = Instant::now();
        loop {
            let now = self.running(app, among);
            if now == [at] {
                return Ok(t0.elapsed());
            }
            if t0.elapsed() > LONG {
                bail!(
                    "{}: {what}: {app} runs at {now:?}, not only at {at}\n{}",
                    self.label,
                    self.tails()
                );
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Waits until the dist_ac of every node of `among` is free and knows
    /// the others: `dist_ac:get_known_nodes()` answers there (a dist_ac
    /// in a start decision answers nothing until it is over, BEAM's and
    /// ours alike) with every other node of `among`.
    ///
    /// A node still deciding where an application starts when the node
    /// that runs it dies starts it at once, as OTP's `wait_dist_start`
    /// does on a nodedown; a fault injected before this returns does not
    /// measure the restart time.
    pub(crate) fn until_settled(&self, among: &[&str], what: &str) -> anyhow::Result<()> {
        let t0 = Instant::now();
        let nodes: Vec<String> = among.iter().map(|n| self.node_name(n)).collect();
        loop {
            let unsettled: Vec<(&str, String)> = among
                .iter()
                .zip(&nodes)
                .map(|(n, me)| (*n, me, self.rpc(n, "dist_ac", "get_known_nodes", "[]")))
                .filter(|(_, me, known)| {
                    !known.starts_with('[')
                        || nodes
                            .iter()
                            .any(|o| o != *me && !known.contains(o.as_str()))
                })
                .map(|(n, _, known)| (n, known))
                .collect();
            if unsettled.is_empty() {
                return Ok(());
            }
            if t0.elapsed() > LONG {
                bail!(
                    "{}: {what}: dist_ac not settled: {unsettled:?}\n{}",
                    self.label,
                    self.tails()
                );
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// `docker kill` of node `name`.
    pub(crate) fn kill(&self, name: &str) -> anyhow::Result<()> {
        Ok(self.rt.block_on(self.node(name).container.kill())?)
    }

    /// `docker start` of a killed node `name` (a new run of its output).
    pub(crate) fn restart(&self, name: &str) -> anyhow::Result<()> {
        self.node(name).start()
    }

    /// `docker pause` of node `name`. runc gives up freezing a cgroup that
    /// does not settle in time ("unable to freeze", seen once under load)
    /// and thaws it again: that is tried again, up to four times.
    pub(crate) fn pause(&self, name: &str) -> anyhow::Result<()> {
        let mut tries = 0;
        loop {
            match self.rt.block_on(self.node(name).container.pause()) {
                Err(e) if tries < 4 && e.to_string().contains("unable to freeze") => {
                    tries += 1;
                    eprintln!("docker pause {name}: {e}; trying again");
                    std::thread::sleep(std::time::Duration::from_secs(1));
                }
                r => return Ok(r?),
            }
        }
    }

    /// `docker unpause` of node `name`.
    pub(crate) fn unpause(&self, name: &str) -> anyhow::Result<()> {
        Ok(self.rt.block_on(self.node(name).container.unpause())?)
    }

    /// `docker network disconnect` of node `name`: a partition.
    pub(crate) fn disconnect(&self, name: &str) -> anyhow::Result<()> {
        let node = self.node(name);
        Ok(self.rt.block_on(node.container.disconnect(&self.net))?)
    }

    /// `docker network connect` of node `name`, with its aliases: the heal.
    pub(crate) fn connect(&self, name: &str) -> anyhow::Result<()> {
        let node = self.node(name);
        Ok(self.rt.block_on(node.container.connect(&self.net))?)
    }

    /// The last output lines of every node, and `ctl`'s.
    pub(crate) fn tails(&self) -> String {
        let mut out: String = self
            .nodes
            .iter()
            .map(|n| {
                format!(
                    "=== {} ({}) ===\n{}",
                    n.node,
                    n.describe(),
                    n.tail(tail_lines())
                )
            })
            .collect();
        if let Some(ctl) = &self.ctl {
            out.push_str(&ctl.log().tail(20));
        }
        out
    }
}
