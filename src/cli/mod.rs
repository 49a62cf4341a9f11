//! The `erl`-compatible command line: `distro -sname cp3 -config cp3`
//! boots a node the way `erl -sname cp3 -config cp3` would (EPMD started
//! if needed, cookie from `~/.erlang.cookie`, kernel parameters from the
//! sys.config files and `-kernel Par Val`), and `distro epmd ...` is our
//! EPMD.

pub mod apps;
pub mod args;
pub mod control;
pub mod cookie;
pub mod node_name;

use crate::config::KernelParams;
use crate::runtime::NodeConfig;
use anyhow::Context;
use args::{Command, EpmdAction, EpmdArgs, ErlArgs};
use std::process::ExitCode;

/// Runs the command line; the binary's `main`.
pub fn main() -> ExitCode {
    // std::env::args() would panic on an argument that is not UTF-8.
    let args: Vec<String> = match std::env::args_os()
        .skip(1)
        .map(std::ffi::OsString::into_string)
        .collect()
    {
        Ok(args) => args,
        Err(bad) => {
            eprintln!("distro: argument {bad:?} is not valid UTF-8");
            return ExitCode::from(2);
        }
    };
    let command = match args::parse(args.clone()) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    let result = match command {
        Command::Help => {
            print!("{}", args::USAGE);
            return ExitCode::SUCCESS;
        }
        Command::Version => {
            println!("distro {}", env!("CARGO_PKG_VERSION"));
            return ExitCode::SUCCESS;
        }
        Command::Epmd(a) => run_epmd(a),
        Command::Control(a) => run_control(a),
        Command::Run(a) => run_node(a, &args),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("distro: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("DISTRO_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr)
        .try_init();
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")
}

fn run_epmd(a: EpmdArgs) -> anyhow::Result<ExitCode> {
    use crate::epmd;
    let port = a.port.unwrap_or_else(epmd::epmd_port_from_env);
    let addr = std::net::SocketAddr::new(std::net::Ipv4Addr::LOCALHOST.into(), port);
    match a.action {
        EpmdAction::Serve if a.daemon => {
            epmd::daemonize_self(port).context("cannot start the EPMD daemon")?;
            Ok(ExitCode::SUCCESS)
        }
        EpmdAction::Serve => {
            init_logging();
            let config = epmd::ServerConfig {
                relaxed_command_check: a.relaxed_command_check,
                ..Default::default()
            };
            match runtime()?.block_on(epmd::run_foreground_with(port, config)) {
                Ok(()) => Ok(ExitCode::SUCCESS),
                // Like epmd: another EPMD already serves this port.
                Err(e) if e.is_addr_in_use() => Ok(ExitCode::SUCCESS),
                Err(e) => Err(e.into()),
            }
        }
        EpmdAction::Names => {
            let names = runtime()?.block_on(epmd::names(addr))?;
            println!("epmd: up and running on port {port} with data:");
            for (name, p) in names {
                println!("name {name} at port {p}");
            }
            Ok(ExitCode::SUCCESS)
        }
        EpmdAction::Kill => {
            let ok = runtime()?.block_on(epmd::kill(addr))?;
            println!(
                "{}",
                if ok {
                    "Killed"
                } else {
                    "Killing not allowed - living nodes in database."
                }
            );
            Ok(ExitCode::SUCCESS)
        }
        EpmdAction::Stop(name) => {
            anyhow::bail!("epmd -stop {name}: not supported by distro's client")
        }
    }
}

/// `distro takeover` / `distro permit`: a hidden node asks the target
/// node over rpc, prints the answer, and exits 0 when it is `ok`.
fn run_control(a: control::ControlArgs) -> anyhow::Result<ExitCode> {
    init_logging();
    let me = control::own_name(&a);
    let full = node_name::full_name(&me.name, me.long)?;
    let home = std::env::var_os("HOME").map(std::path::PathBuf::from);
    let cookie = cookie::resolve(a.cookie.as_deref(), home.as_deref())?;
    let mut cfg = NodeConfig::new(&full, &cookie);
    cfg.hidden = true;
    cfg.epmd_port = crate::epmd::epmd_port_from_env();
    let (m, f, args) = match &a.action {
        control::Action::Takeover { app, restart_type } => (
            "takeover",
            format!("application:takeover({app}, {restart_type})"),
            vec![crate::term::atom(app), crate::term::atom(restart_type)],
        ),
        control::Action::Permit { app, permitted } => (
            "permit",
            format!("application:permit({app}, {permitted})"),
            vec![crate::term::atom(app), crate::term::boolean(*permitted)],
        ),
    };
    runtime()?.block_on(async move {
        let node = crate::runtime::Node::start(cfg)
            .await
            .with_context(|| format!("cannot start the control node {full}"))?;
        let (tx, rx) = tokio::sync::oneshot::channel();
        let target = a.target.clone();
        node.spawn(move |mut p| async move {
            let timeout = std::time::Duration::from_secs(120);
            let r =
                crate::kernel::rpc::call(&mut p, &target, "application", m, args, timeout).await;
            let _ = tx.send(r);
        });
        let result = rx.await.context("the rpc process died")?;
        node.stop().await;
        let shown = match &result {
            Ok(t) => crate::term::Pretty(t).to_string(),
            Err(e) => format!("{e}"),
        };
        println!("{f} at {}: {shown}", a.target);
        Ok(match result {
            Ok(t) if t == crate::term::atom("ok") => ExitCode::SUCCESS,
            _ => ExitCode::FAILURE,
        })
    })
}

/// Everything needed to boot a node, derived from the command line.
struct Boot {
    node: NodeConfig,
    kernel: KernelParams,
    sys: crate::config::SysConfig,
    start_epmd: bool,
    args: ErlArgs,
}

fn prepare(a: ErlArgs) -> anyhow::Result<Boot> {
    for w in &a.warnings {
        tracing::warn!("{w}");
    }
    let sys = a.sys_config()?;
    let kernel = KernelParams::from_config(&sys)?;
    let name = a
        .node_name
        .as_ref()
        .context("a node name is required: use -sname NAME or -name NAME")?;
    let full = node_name::full_name(&name.name, name.long)?;
    let cookie = if a.nocookie {
        String::new()
    } else {
        let home = std::env::var_os("HOME").map(std::path::PathBuf::from);
        cookie::resolve(a.cookie.as_deref(), home.as_deref())?
    };
    let mut node = NodeConfig::new(&full, &cookie);
    node.hidden = a.hidden;
    node.epmd_port = crate::epmd::epmd_port_from_env();
    node.net_ticktime = kernel.net_ticktime;
    node.net_tickintensity = kernel.net_tickintensity;
    node.net_setuptime = kernel.net_setuptime;
    // erl's +zdbbl wins over the kernel parameter; both are in KiB.
    if let Some(kib) = a.dist_buf_busy_limit.or(kernel.dist_buf_busy_limit) {
        node.dist_buf_busy_limit = kib as usize * 1024;
    }
    if let Some(max) = kernel.dist_max_message_size {
        node.max_message_size = max;
    }
    if let Some(min) = kernel.inet_dist_listen_min {
        node.listen_ports = (min, kernel.inet_dist_listen_max.unwrap_or(min));
    }
    Ok(Boot {
        node,
        kernel,
        sys,
        start_epmd: a.start_epmd.unwrap_or(true),
        args: a,
    })
}

/// Set in the environment of the copy `-detached` starts, so that it runs
/// the node instead of detaching again (its arguments are passed through
/// unchanged).
const DETACHED_ENV: &str = "DISTRO_DETACHED_CHILD";

fn run_node(a: ErlArgs, raw_args: &[String]) -> anyhow::Result<ExitCode> {
    init_logging();
    let detach = a.detached && std::env::var_os(DETACHED_ENV).is_none();
    // Arguments, config files and the cookie are checked before detaching,
    // so that mistakes are reported here rather than lost with the
    // detached copy's output.
    let boot = prepare(a)?;
    if detach {
        return detach_self(raw_args);
    }
    runtime()?.block_on(boot_and_wait(boot))
}

/// `-detached`, as erl: the node runs in a new session with its standard
/// streams on /dev/null, in this working directory; this process exits 0.
fn detach_self(raw_args: &[String]) -> anyhow::Result<ExitCode> {
    let exe = std::env::current_exe().context("cannot find the distro executable")?;
    let dir = std::env::current_dir().context("cannot read the working directory")?;
    crate::epmd::spawn_detached_in(&dir, &[(DETACHED_ENV, "1")], &exe, raw_args)
        .with_context(|| format!("cannot start {} detached", exe.display()))?;
    Ok(ExitCode::SUCCESS)
}

async fn boot_and_wait(boot: Boot) -> anyhow::Result<ExitCode> {
    if boot.start_epmd {
        let opts = crate::epmd::EnsureOptions::from_environment();
        crate::epmd::ensure_running_with(boot.node.epmd_port, &opts)
            .await
            .context("no EPMD is running and none could be started")?;
    }
    let name = boot.node.name.clone();
    let node = crate::runtime::Node::start(boot.node)
        .await
        .with_context(|| format!("cannot start node {name}"))?;
    let cfg = crate::kernel::KernelConfig {
        global: crate::kernel::global::Config {
            connect_all: boot.kernel.connect_all,
            prevent_overlapping_partitions: boot.kernel.prevent_overlapping_partitions,
            ..Default::default()
        },
    };
    let kernel = crate::kernel::start_with(&node, cfg);
    let _apps = apps::start(&node, &kernel, &boot.kernel, &boot.sys, &boot.args.apps).await;
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .context("cannot install the SIGTERM handler")?;
    tokio::select! {
        _ = tokio::signal::ctrl_c() => tracing::info!("interrupted; stopping"),
        _ = term.recv() => tracing::info!("terminated; stopping"),
        _ = kernel.stopped() => tracing::info!("init:stop() called; stopping"),
    }
    node.stop().await;
    Ok(ExitCode::SUCCESS)
}
