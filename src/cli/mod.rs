//! The `erl`-compatible command line: `distro -sname cp3 -config cp3`
//! boots a node the way `erl -sname cp3 -config cp3` would (EPMD started
//! if needed, cookie from `~/.erlang.cookie`, kernel parameters from the
//! sys.config files and `-kernel Par Val`), and `distro epmd ...` is our
//! EPMD.

pub mod args;
pub mod args_file;
pub mod control;
pub mod cookie;
pub mod node_name;

use crate::config::KernelParams;
use crate::kernel::application_controller::RestartType;
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
    let env = |k: &str| std::env::var(k).ok();
    let command = match args::parse_with_env(args.clone(), &env) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("{e}");
            // epmd's usage errors exit 1.
            let epmd = args.first().is_some_and(|a| a == "epmd");
            return ExitCode::from(if epmd { 1 } else { 2 });
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
        Command::Epmd(a) => run_epmd(a, &args[1..]),
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

/// `distro epmd ...`, answering, printing and exiting as OTP's `epmd`
/// (`erts/epmd/src/epmd.c`, `epmd_cli.c`): the server listens on IPv4 and
/// IPv6, the client tries `::1` then `127.0.0.1`, a refused `-kill` or
/// `-stop` and an unreachable EPMD exit 1.
fn run_epmd(a: EpmdArgs, raw: &[String]) -> anyhow::Result<ExitCode> {
    use crate::epmd;
    let port = a.port.unwrap_or_else(epmd::epmd_port_from_env);
    match a.action {
        EpmdAction::Serve if a.daemon => {
            epmd::daemonize_self_with(raw).context("cannot start the EPMD daemon")?;
            Ok(ExitCode::SUCCESS)
        }
        EpmdAction::Serve => {
            init_logging();
            let config = epmd::ServerConfig {
                relaxed_command_check: a.relaxed_command_check
                    || std::env::var_os("ERL_EPMD_RELAXED_COMMAND_CHECK").is_some(),
                ..Default::default()
            };
            let addresses = if a.addresses.is_empty() {
                epmd_addresses_from_env()?
            } else {
                a.addresses
            };
            match runtime()?.block_on(epmd::run_foreground_on(port, &addresses, config)) {
                Ok(()) => Ok(ExitCode::SUCCESS),
                // Like epmd: another EPMD already serves this port.
                Err(e) if e.is_addr_in_use() => Ok(ExitCode::SUCCESS),
                Err(e) => Err(e.into()),
            }
        }
        action => runtime()?.block_on(epmd_client(action, port)),
    }
}

/// `ERL_EPMD_ADDRESS`, as epmd reads it when there is no `-address`.
fn epmd_addresses_from_env() -> anyhow::Result<Vec<std::net::IpAddr>> {
    let Ok(list) = std::env::var("ERL_EPMD_ADDRESS") else {
        return Ok(Vec::new());
    };
    list.split([',', ' '])
        .filter(|a| !a.is_empty())
        .map(|a| {
            a.parse()
                .map_err(|_| anyhow::anyhow!("cannot parse IP address \"{a}\" (ERL_EPMD_ADDRESS)"))
        })
        .collect()
}

/// epmd's `conn_to_epmd`: this host's EPMD over `::1`, else `127.0.0.1`.
async fn local_epmd(port: u16) -> Option<std::net::SocketAddr> {
    let candidates = [
        std::net::SocketAddr::from((std::net::Ipv6Addr::LOCALHOST, port)),
        std::net::SocketAddr::from((std::net::Ipv4Addr::LOCALHOST, port)),
    ];
    for addr in candidates {
        let probe = tokio::net::TcpStream::connect(addr);
        if let Ok(Ok(_)) = tokio::time::timeout(crate::epmd::REQUEST_TIMEOUT, probe).await {
            return Some(addr);
        }
    }
    None
}

async fn epmd_client(action: EpmdAction, port: u16) -> anyhow::Result<ExitCode> {
    use crate::epmd;
    let Some(addr) = local_epmd(port).await else {
        eprintln!("epmd: Cannot connect to local epmd");
        return Ok(ExitCode::FAILURE);
    };
    match action {
        EpmdAction::Names => match epmd::names(addr).await {
            Ok(names) => {
                println!("epmd: up and running on port {port} with data:");
                for (name, p) in names {
                    println!("name {name} at port {p}");
                }
                Ok(ExitCode::SUCCESS)
            }
            Err(_) => {
                println!("epmd: no response from local epmd");
                Ok(ExitCode::FAILURE)
            }
        },
        EpmdAction::Kill => match epmd::kill(addr).await {
            Ok(true) => {
                println!("Killed");
                Ok(ExitCode::SUCCESS)
            }
            Ok(false) => {
                println!("Killing not allowed - living nodes in database.");
                Ok(ExitCode::FAILURE)
            }
            Err(_) => {
                println!("epmd: failed to read answer from local epmd");
                Ok(ExitCode::FAILURE)
            }
        },
        EpmdAction::Stop(name) => match epmd::stop(addr, &name).await {
            Ok(Some(answer)) => {
                println!("{answer}");
                Ok(ExitCode::SUCCESS)
            }
            Ok(None) => {
                println!("epmd: local epmd responded with <>");
                Ok(ExitCode::FAILURE)
            }
            Err(_) => {
                println!("epmd: failed to read answer from local epmd");
                Ok(ExitCode::FAILURE)
            }
        },
        // run_epmd serves; a client has nothing to do for it.
        EpmdAction::Serve => Ok(ExitCode::SUCCESS),
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
    cfg.proto_dist = a.proto_dist;
    cfg.tls = tls(a.proto_dist, a.ssl_dist_optfile.as_deref(), &a.ssl_dist_opt)?;
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
        let target = a.target.clone();
        let result = node
            .run_in_process(move |mut p| async move {
                let timeout = std::time::Duration::from_secs(120);
                crate::kernel::rpc::call(&mut p, &target, "application", m, args, timeout).await
            })
            .await
            .context("the rpc process died")?;
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
    builder: crate::NodeBuilder,
    detached: bool,
}

fn prepare(a: ErlArgs) -> anyhow::Result<Boot> {
    if !a.warnings.is_empty() {
        // One line for all of them (a release passes many).
        tracing::warn!("{}", a.warnings.join("; "));
    }
    // Config files are read (and kernel parameters checked) now, so that
    // mistakes are reported before detaching; the builder applies them.
    let sys = a.sys_config()?;
    KernelParams::from_config(&sys)?;
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
    let tls = tls(a.proto_dist, a.ssl_dist_optfile.as_deref(), &a.ssl_dist_opt)?;
    let (hidden, proto_dist, zdbbl) = (a.hidden, a.proto_dist, a.dist_buf_busy_limit);
    let mut builder = crate::runtime::Node::builder(&full)
        .cookie(&cookie)
        .sys(sys)
        .configure(move |node: &mut NodeConfig| {
            node.hidden = hidden;
            node.proto_dist = proto_dist;
            // erl's +zdbbl wins over the kernel parameter; both are in KiB.
            if let Some(kib) = zdbbl {
                node.dist_buf_busy_limit = kib as usize * 1024;
            }
            node.tls = tls;
        })
        .start_epmd(a.start_epmd.unwrap_or(true))
        .init_arguments(a.init_arguments())
        .builtin_apps()
        .start_apps_in_background();
    for arg in &a.apps {
        // `NAME[:TYPE]`, `temporary` unless TYPE says otherwise.
        let (name, rt) = match arg.split_once(':') {
            Some((n, t)) => (n, RestartType::parse(t)),
            None => (arg.as_str(), None),
        };
        builder = builder.start_app(name, rt.unwrap_or(RestartType::Temporary));
    }
    Ok(Boot {
        builder,
        detached: a.detached,
    })
}

/// `-proto_dist inet_tls` with its options (files read now, so that a
/// bad one stops the boot); the options alone are ignored, as erl ignores
/// them without `inet_tls`.
fn tls(
    proto_dist: crate::dist::transport::ProtoDist,
    optfile: Option<&str>,
    opts: &[String],
) -> anyhow::Result<Option<std::sync::Arc<crate::dist::tls::TlsDist>>> {
    if !proto_dist.is_tls() {
        if optfile.is_some() || !opts.is_empty() {
            tracing::warn!(
                "ignoring -ssl_dist_optfile and -ssl_dist_opt: they need -proto_dist inet_tls or inet6_tls"
            );
        }
        return Ok(None);
    }
    let (tls, warnings) = crate::dist::tls::TlsDist::load(optfile.map(std::path::Path::new), opts)?;
    for w in warnings {
        tracing::warn!("{w}");
    }
    Ok(Some(std::sync::Arc::new(tls)))
}

/// Set in the environment of the copy `-detached` starts, so that it runs
/// the node instead of detaching again (its arguments are passed through
/// unchanged).
const DETACHED_ENV: &str = "DISTRO_DETACHED_CHILD";

fn run_node(a: ErlArgs, raw_args: &[String]) -> anyhow::Result<ExitCode> {
    init_logging();
    // Arguments, config files and the cookie are checked before detaching,
    // so that mistakes are reported here rather than lost with the
    // detached copy's output.
    let boot = prepare(a)?;
    if boot.detached && std::env::var_os(DETACHED_ENV).is_none() {
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
    let running = match boot.builder.start().await {
        Ok(r) => r,
        // kernel_config's failure halts with OTP's output and status 1.
        Err(crate::BootError::SyncNodes(e)) => {
            let (out, err) = e.halt_lines();
            tracing::error!("{e}");
            println!("{out}");
            eprintln!("{err}");
            std::process::exit(1);
        }
        Err(e) => return Err(e.into()),
    };
    running.wait().await;
    Ok(ExitCode::SUCCESS)
}
