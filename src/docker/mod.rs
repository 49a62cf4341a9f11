//! Real OTP nodes in Docker containers, for tests of Rust services that talk
//! to BEAM with this crate (cargo feature `docker`).
//!
//! A thin layer over the `docker` command line (no daemon API client, no
//! registry): networks and containers that are removed when dropped, and
//! [`OtpNode`], an `erl` node of a chosen release in a container of the
//! images that `scripts/images.sh` builds locally from Debian packages
//! (`distro-otp:25`, `:27`, `:29`; see `docker/otp.Dockerfile`).
//!
//! ```text
//!   host (your test)                         Network (internal bridge, unique name)
//!   ┌───────────────────────────┐            ┌───────────────────────────────┐
//!   │ EPMD 127.0.0.1:P           │            │ container distro-otp:27        │
//!   │ Rust node rust@<gateway> ──┼── dials ──►│ epmd :P, beam@<container ip>   │
//!   └───────────────────────────┘            └───────────────────────────────┘
//! ```
//!
//! The Rust node runs in the test process on the host, named after the
//! host's address on the network ([`Network::gateway`]), and **dials** the
//! container: its EPMD lookups go to `<container ip>:P`, where the
//! container's own EPMD listens because the node there runs with
//! `ERL_EPMD_PORT=P` as well. Everything then flows over that connection,
//! both ways (rpc, `gen_server` calls, `global`, monitors). The container
//! cannot open a connection to the Rust node itself (the host's EPMD is not
//! reachable from an internal network), so after a disconnect the Rust
//! side dials again on its next send, never the BEAM side.
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use distro::docker::{LocalEpmd, Network, OtpNode, OtpNodeOptions};
//!
//! let epmd = LocalEpmd::start().await?;               // in-process, 127.0.0.1:P
//! let net = Network::create("mytest").await?;
//! let beam = OtpNode::start(&net, OtpNodeOptions::new(27).epmd_port(epmd.port())).await?;
//! let (node, _kernel) = distro::start(beam.rust_node_config("rust")).await?;
//! assert!(node.ping(beam.node_name()).await);
//! assert_eq!(beam.eval("1 + 2.").await?, "3");
//! # Ok(())
//! # }
//! ```
//!
//! Dropping a [`Container`] or [`Network`] removes it (`docker rm -f`,
//! `docker network rm`, by id); only what this module created is ever
//! touched. Drop containers before their network.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use tokio::process::Command;

use crate::runtime::NodeConfig;

/// Label put on every network and container created here (value: the
/// creating process's id), to tell them apart in `docker ps`.
pub const LABEL: &str = "distro.test";

/// The repository of the OTP images (`distro-otp:25`, `:27`, `:29`).
pub const OTP_IMAGE: &str = "distro-otp";

/// How long a `docker` command may take (image creation on a busy machine
/// included).
const DOCKER_TIMEOUT: Duration = Duration::from_secs(120);

/// How long an [`OtpNode`] may take to register with its EPMD.
const START_TIMEOUT: Duration = Duration::from_secs(60);

/// What went wrong driving Docker.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DockerError {
    /// The `docker` program could not be run.
    #[error("cannot run `docker {command}`: {source}")]
    Spawn {
        /// The arguments, joined.
        command: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// A `docker` command exited with an error.
    #[error("`docker {command}` failed ({status}): {stderr}")]
    Failed {
        /// The arguments, joined.
        command: String,
        /// Its exit status.
        status: std::process::ExitStatus,
        /// What it printed on stderr (trimmed).
        stderr: String,
    },
    /// A `docker` command did not finish in time.
    #[error("`docker {command}` did not finish within {after:?}")]
    Timeout {
        /// The arguments, joined.
        command: String,
        /// The limit.
        after: Duration,
    },
    /// Docker answered something this module cannot use.
    #[error("unexpected answer from `docker {command}`: {answer:?}")]
    Unexpected {
        /// The arguments, joined.
        command: String,
        /// The output.
        answer: String,
    },
    /// The node in the container did not come up.
    #[error("{node} did not register with EPMD at {epmd} within {after:?}; its output:\n{logs}")]
    NotReady {
        /// The node name.
        node: String,
        /// The EPMD asked.
        epmd: SocketAddr,
        /// How long we waited.
        after: Duration,
        /// The container's output so far.
        logs: String,
    },
    /// An in-process EPMD could not listen.
    #[error("cannot start an EPMD on 127.0.0.1: {0}")]
    Epmd(#[source] std::io::Error),
}

/// Runs `docker ARGS` and returns its stdout (trimmed); an error if it
/// exits non-zero or takes longer than two minutes.
pub async fn docker<I, S>(args: I) -> Result<String, DockerError>
where
    I: IntoIterator<Item = S>,
    S: AsRef<std::ffi::OsStr>,
{
    let args: Vec<std::ffi::OsString> = args.into_iter().map(|a| a.as_ref().to_owned()).collect();
    let command = args
        .iter()
        .map(|a| a.to_string_lossy())
        .collect::<Vec<_>>()
        .join(" ");
    let child = Command::new("docker")
        .args(&args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|source| DockerError::Spawn {
            command: command.clone(),
            source,
        })?;
    let out = tokio::time::timeout(DOCKER_TIMEOUT, child.wait_with_output())
        .await
        .map_err(|_| DockerError::Timeout {
            command: command.clone(),
            after: DOCKER_TIMEOUT,
        })?
        .map_err(|source| DockerError::Spawn {
            command: command.clone(),
            source,
        })?;
    if !out.status.success() {
        return Err(DockerError::Failed {
            command,
            status: out.status,
            stderr: String::from_utf8_lossy(&out.stderr).trim().to_owned(),
        });
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

/// Whether the image `reference` (e.g. `distro-otp:27`) exists locally.
pub async fn image_exists(reference: &str) -> bool {
    docker(["image", "inspect", "--format", "{{.Id}}", reference])
        .await
        .is_ok()
}

/// `docker rm -f`-style removal from a destructor (blocking, errors ignored:
/// there is nobody left to report them to).
fn remove_now(args: &[&str]) {
    let _ = std::process::Command::new("docker")
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
}

/// `prefix-<pid>-<n>-<random>`: a name no other test run uses.
fn unique(prefix: &str) -> String {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    format!(
        "{prefix}-{}-{n}-{:06x}",
        std::process::id(),
        rand::random::<u32>() & 0xff_ffff
    )
}

/// A user-defined bridge network with `--internal` (containers reach each
/// other and the host, nothing outside), removed when dropped.
#[derive(Debug)]
pub struct Network {
    id: String,
    name: String,
}

impl Network {
    /// Creates a network named `<prefix>-<pid>-<n>-<random>`.
    pub async fn create(prefix: &str) -> Result<Self, DockerError> {
        let name = unique(prefix);
        let label = format!("{LABEL}={}", std::process::id());
        let id = docker(["network", "create", "--internal", "--label", &label, &name]).await?;
        Ok(Self { id, name })
    }

    /// The network's name (what `--network` and `docker network connect`
    /// take).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The network's id.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The host's address on this network (the bridge's gateway): the
    /// address containers reach the host at.
    pub async fn gateway(&self) -> Result<Ipv4Addr, DockerError> {
        let args = [
            "network",
            "inspect",
            "--format",
            "{{range .IPAM.Config}}{{.Gateway}} {{end}}",
            &self.id,
        ];
        let out = docker(args).await?;
        out.split_whitespace()
            .find_map(|a| a.parse().ok())
            .ok_or_else(|| DockerError::Unexpected {
                command: args.join(" "),
                answer: out.clone(),
            })
    }
}

impl Drop for Network {
    fn drop(&mut self) {
        remove_now(&["network", "rm", &self.id]);
    }
}

/// What to run in a [`Container`]: `docker create` options, set with the
/// chainable methods.
#[derive(Clone, Debug, Default)]
pub struct ContainerSpec {
    image: String,
    command: Vec<String>,
    network: Option<String>,
    hostname: Option<String>,
    domainname: Option<String>,
    aliases: Vec<String>,
    env: Vec<(String, String)>,
    mounts: Vec<(PathBuf, String)>,
    init: bool,
    stdin: bool,
}

impl ContainerSpec {
    /// A container of `image` running its default command.
    pub fn new(image: &str) -> Self {
        Self {
            image: image.to_owned(),
            ..Self::default()
        }
    }

    /// The command (and its arguments) to run instead of the image's.
    pub fn command<I, S>(mut self, command: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.command = command.into_iter().map(Into::into).collect();
        self
    }

    /// Attaches the container to `network` (`--network`).
    pub fn network(mut self, network: &Network) -> Self {
        self.network = Some(network.name.clone());
        self
    }

    /// `--hostname`; also a network alias, so the other containers resolve it.
    pub fn hostname(mut self, hostname: &str) -> Self {
        self.hostname = Some(hostname.to_owned());
        self.aliases.push(hostname.to_owned());
        self
    }

    /// `--domainname`; `hostname.domain` becomes a network alias too (what
    /// `-name` nodes need).
    pub fn domainname(mut self, domain: &str) -> Self {
        self.domainname = Some(domain.to_owned());
        self
    }

    /// One more network alias.
    pub fn alias(mut self, alias: &str) -> Self {
        self.aliases.push(alias.to_owned());
        self
    }

    /// An environment variable.
    pub fn env(mut self, key: &str, value: &str) -> Self {
        self.env.push((key.to_owned(), value.to_owned()));
        self
    }

    /// Bind-mounts the host path `host` read-only at `target`.
    pub fn mount_ro(mut self, host: impl Into<PathBuf>, target: &str) -> Self {
        self.mounts.push((host.into(), target.to_owned()));
        self
    }

    /// `--init`: a tiny init as PID 1 that reaps orphans (e.g. epmd).
    pub fn init(mut self) -> Self {
        self.init = true;
        self
    }

    /// `--interactive`: keep stdin open, for `docker start -ai`.
    pub fn stdin(mut self) -> Self {
        self.stdin = true;
        self
    }

    /// The network aliases: the explicit ones, the host name, and
    /// `hostname.domainname` if both are set.
    pub fn aliases(&self) -> Vec<String> {
        let mut all = self.aliases.clone();
        if let (Some(h), Some(d)) = (&self.hostname, &self.domainname) {
            all.push(format!("{h}.{d}"));
        }
        let mut unique: Vec<String> = Vec::new();
        for alias in all {
            if !unique.contains(&alias) {
                unique.push(alias);
            }
        }
        unique
    }

    fn create_args(&self) -> Vec<String> {
        let mut a = vec![
            "create".to_owned(),
            "--label".to_owned(),
            format!("{LABEL}={}", std::process::id()),
        ];
        let mut opt = |flag: &str, value: &str| {
            a.push(flag.to_owned());
            a.push(value.to_owned());
        };
        if let Some(n) = &self.network {
            opt("--network", n);
            for alias in self.aliases() {
                opt("--network-alias", &alias);
            }
        }
        if let Some(h) = &self.hostname {
            opt("--hostname", h);
        }
        if let Some(d) = &self.domainname {
            opt("--domainname", d);
        }
        for (k, v) in &self.env {
            opt("--env", &format!("{k}={v}"));
        }
        for (host, target) in &self.mounts {
            opt("--volume", &format!("{}:{target}:ro", host.display()));
        }
        if self.init {
            a.push("--init".to_owned());
        }
        if self.stdin {
            a.push("--interactive".to_owned());
        }
        a.push(self.image.clone());
        a.extend(self.command.iter().cloned());
        a
    }
}

/// A container created by this process, removed (`docker rm -f`) when
/// dropped.
#[derive(Debug)]
pub struct Container {
    id: String,
    aliases: Vec<String>,
}

impl Container {
    /// `docker create` (not started yet: see [`Self::start`] and
    /// [`Self::attach_command`]).
    pub async fn create(spec: &ContainerSpec) -> Result<Self, DockerError> {
        let id = docker(spec.create_args()).await?;
        Ok(Self {
            id,
            aliases: spec.aliases(),
        })
    }

    /// `docker create` then `docker start`.
    pub async fn run(spec: &ContainerSpec) -> Result<Self, DockerError> {
        let c = Self::create(spec).await?;
        c.start().await?;
        Ok(c)
    }

    /// The container id.
    pub fn id(&self) -> &str {
        &self.id
    }

    async fn cmd(&self, verb: &str) -> Result<(), DockerError> {
        docker([verb, &self.id]).await.map(drop)
    }

    /// `docker start` (also after [`Self::kill`]: a restart).
    pub async fn start(&self) -> Result<(), DockerError> {
        self.cmd("start").await
    }

    /// `docker kill` (SIGKILL): the node dies, its sockets close.
    pub async fn kill(&self) -> Result<(), DockerError> {
        self.cmd("kill").await
    }

    /// `docker pause`: every process freezes (a hung node); the kernel
    /// still answers TCP, so peers notice only when ticks stop arriving.
    pub async fn pause(&self) -> Result<(), DockerError> {
        self.cmd("pause").await
    }

    /// `docker unpause`.
    pub async fn unpause(&self) -> Result<(), DockerError> {
        self.cmd("unpause").await
    }

    /// `docker network disconnect`: the container loses its address on
    /// `network` (a partition; its processes keep running).
    pub async fn disconnect(&self, network: &Network) -> Result<(), DockerError> {
        docker(["network", "disconnect", &network.name, &self.id])
            .await
            .map(drop)
    }

    /// `docker network connect` with the container's aliases again (the
    /// heal of [`Self::disconnect`]).
    pub async fn connect(&self, network: &Network) -> Result<(), DockerError> {
        let mut args = vec!["network".to_owned(), "connect".to_owned()];
        for alias in &self.aliases {
            args.push("--alias".to_owned());
            args.push(alias.clone());
        }
        args.push(network.name.clone());
        args.push(self.id.clone());
        docker(args).await.map(drop)
    }

    /// The container's address on `network`.
    pub async fn ip(&self, network: &Network) -> Result<Ipv4Addr, DockerError> {
        let format = format!(
            "{{{{with index .NetworkSettings.Networks \"{}\"}}}}{{{{.IPAddress}}}}{{{{end}}}}",
            network.name
        );
        let args = ["inspect", "--format", &format, &self.id];
        let out = docker(args).await?;
        out.parse().map_err(|_| DockerError::Unexpected {
            command: args.join(" "),
            answer: out.clone(),
        })
    }

    /// Whether the container is running (a paused one is).
    pub async fn is_running(&self) -> Result<bool, DockerError> {
        Ok(docker(["inspect", "--format", "{{.State.Running}}", &self.id]).await? == "true")
    }

    /// `docker exec CONTAINER ARGS...`; its stdout.
    pub async fn exec(&self, args: &[&str]) -> Result<String, DockerError> {
        let mut all = vec!["exec", self.id.as_str()];
        all.extend_from_slice(args);
        docker(all).await
    }

    /// Everything the container wrote so far (stdout and stderr).
    pub async fn logs(&self) -> Result<String, DockerError> {
        let out = Command::new("docker")
            .args(["logs", &self.id])
            .stdin(Stdio::null())
            .output()
            .await
            .map_err(|source| DockerError::Spawn {
                command: format!("logs {}", self.id),
                source,
            })?;
        let mut text = String::from_utf8_lossy(&out.stdout).into_owned();
        text.push_str(&String::from_utf8_lossy(&out.stderr));
        Ok(text)
    }

    /// `docker start --attach [--interactive] ID`, not yet spawned: it starts
    /// the container and relays its output (and, with `stdin`, its input)
    /// until the container stops. For callers that capture output line by
    /// line; killing this process leaves the container running.
    pub fn attach_command(&self, stdin: bool) -> std::process::Command {
        let mut cmd = std::process::Command::new("docker");
        cmd.args(["start", "--attach"]);
        if stdin {
            cmd.arg("--interactive");
        }
        cmd.arg(&self.id);
        cmd
    }
}

impl Drop for Container {
    fn drop(&mut self) {
        remove_now(&["rm", "--force", "--volumes", &self.id]);
    }
}

/// An EPMD server inside this process on 127.0.0.1 (an ephemeral port),
/// for the Rust node of a test; stopped when dropped.
#[derive(Debug)]
pub struct LocalEpmd {
    port: u16,
    task: tokio::task::JoinHandle<()>,
}

impl LocalEpmd {
    /// Binds 127.0.0.1:0 and serves EPMD there (`crate::epmd::server`).
    pub async fn start() -> Result<Self, DockerError> {
        let listener = tokio::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
            .await
            .map_err(DockerError::Epmd)?;
        let port = listener.local_addr().map_err(DockerError::Epmd)?.port();
        let task = tokio::spawn(async move {
            if let Err(e) = crate::epmd::server::serve(listener).await {
                tracing::warn!(error = %e, "in-process EPMD stopped");
            }
        });
        Ok(Self { port, task })
    }

    /// Its port (give it to [`OtpNodeOptions::epmd_port`]).
    pub fn port(&self) -> u16 {
        self.port
    }
}

impl Drop for LocalEpmd {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// How to start an [`OtpNode`].
#[derive(Clone, Debug)]
pub struct OtpNodeOptions {
    image: String,
    alive: String,
    cookie: String,
    epmd_port: u16,
    args: Vec<String>,
}

impl OtpNodeOptions {
    /// A node `beam@<container ip>` of `distro-otp:<release>` (25, 27 or
    /// 29), cookie `distro`, EPMD port 4369.
    pub fn new(release: u32) -> Self {
        Self::image(&format!("{OTP_IMAGE}:{release}"))
    }

    /// The same with any image that has `erl`, `epmd`, `sh` and `hostname`.
    pub fn image(image: &str) -> Self {
        Self {
            image: image.to_owned(),
            alive: "beam".to_owned(),
            cookie: "distro".to_owned(),
            epmd_port: crate::epmd::DEFAULT_EPMD_PORT,
            args: Vec::new(),
        }
    }

    /// The node name before the `@`.
    pub fn alive(mut self, alive: &str) -> Self {
        self.alive = alive.to_owned();
        self
    }

    /// The cookie.
    pub fn cookie(mut self, cookie: &str) -> Self {
        self.cookie = cookie.to_owned();
        self
    }

    /// `ERL_EPMD_PORT` in the container: the port of the Rust node's EPMD,
    /// because a node looks every peer's EPMD up on its own EPMD port.
    pub fn epmd_port(mut self, port: u16) -> Self {
        self.epmd_port = port;
        self
    }

    /// More `erl` arguments, e.g. `["-kernel", "net_ticktime", "10"]`.
    pub fn args<I, S>(mut self, args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.args.extend(args.into_iter().map(Into::into));
        self
    }
}

/// `erl -noshell -name ALIVE@<container ip>` in its own container on a
/// [`Network`]; removed when dropped.
#[derive(Debug)]
pub struct OtpNode {
    container: Container,
    node: String,
    cookie: String,
    epmd_port: u16,
    ip: Ipv4Addr,
    gateway: Ipv4Addr,
}

impl OtpNode {
    /// Starts the node and waits until it is registered with its EPMD
    /// (asked from the host at `<container ip>:<epmd port>`).
    pub async fn start(network: &Network, opts: OtpNodeOptions) -> Result<Self, DockerError> {
        // The container learns its address only when it runs: the shell
        // names the node after it.
        let script = "exec erl -noshell -name \"$NODE_ALIVE@$(hostname -i | cut -d' ' -f1)\" \
                      -setcookie \"$NODE_COOKIE\" \"$@\"";
        let mut command = vec![
            "sh".to_owned(),
            "-c".to_owned(),
            script.to_owned(),
            "erl".to_owned(),
        ];
        command.extend(opts.args.iter().cloned());
        let spec = ContainerSpec::new(&opts.image)
            .network(network)
            .hostname(&opts.alive)
            .init()
            .env("NODE_ALIVE", &opts.alive)
            .env("NODE_COOKIE", &opts.cookie)
            .env("ERL_EPMD_PORT", &opts.epmd_port.to_string())
            .command(command);
        let container = Container::run(&spec).await?;
        let ip = container.ip(network).await?;
        let gateway = network.gateway().await?;
        let epmd = SocketAddr::new(IpAddr::V4(ip), opts.epmd_port);
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            if let Ok(Some(_)) = crate::epmd::port_please(epmd, &opts.alive).await {
                break;
            }
            if Instant::now() >= deadline || !container.is_running().await.unwrap_or(false) {
                return Err(DockerError::NotReady {
                    node: format!("{}@{ip}", opts.alive),
                    epmd,
                    after: START_TIMEOUT,
                    logs: container.logs().await.unwrap_or_default(),
                });
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Ok(Self {
            container,
            node: format!("{}@{ip}", opts.alive),
            cookie: opts.cookie,
            epmd_port: opts.epmd_port,
            ip,
            gateway,
        })
    }

    /// The full node name, `alive@<container ip>`.
    pub fn node_name(&self) -> &str {
        &self.node
    }

    /// The container's address.
    pub fn ip(&self) -> Ipv4Addr {
        self.ip
    }

    /// The container (to kill, pause, disconnect it...).
    pub fn container(&self) -> &Container {
        &self.container
    }

    /// A [`NodeConfig`] for a Rust node on the host that can talk to this
    /// one: `alive@<gateway>`, the same cookie and EPMD port, listening on
    /// the host's address on the network. Register it with an EPMD on
    /// 127.0.0.1 at that port first (e.g. [`LocalEpmd`]).
    pub fn rust_node_config(&self, alive: &str) -> NodeConfig {
        let mut cfg = NodeConfig::new(&format!("{alive}@{}", self.gateway), &self.cookie);
        cfg.epmd_port = self.epmd_port;
        cfg.listen_addr = Some(IpAddr::V4(self.gateway));
        cfg
    }

    /// Evaluates the Erlang expression sequence `expr` (ending in `.`) on
    /// the node and returns its value printed with `~0tp`. Runs a
    /// short-lived hidden node in the container (about a second); an
    /// exception or a parse error is [`DockerError::Failed`].
    pub async fn eval(&self, expr: &str) -> Result<String, DockerError> {
        let probe = format!("p{:08x}@{}", rand::random::<u32>(), self.ip);
        let code = format!(
            "Node = '{node}', Expr = os:getenv(\"EVAL_EXPR\"), \
             {{ok, Ts, _}} = erl_scan:string(Expr), {{ok, Es}} = erl_parse:parse_exprs(Ts), \
             case rpc:call(Node, erl_eval, exprs, [Es, []]) of \
                 {{value, V, _}} -> io:format(\"~0tp~n\", [V]), halt(0); \
                 Other -> io:format(standard_error, \"~0tp~n\", [Other]), halt(1) \
             end.",
            node = self.node
        );
        let env = format!("EVAL_EXPR={expr}");
        let cookie = self.cookie.as_str();
        let args = [
            "exec",
            "--env",
            &env,
            &self.container.id,
            "erl",
            "-noshell",
            "-hidden",
            "-name",
            &probe,
            "-setcookie",
            cookie,
            "-eval",
            &code,
        ];
        docker(args).await
    }
}
