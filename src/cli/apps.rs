//! `--app NAME`: the application side of the boot (what `kernel:init/1`
//! and the boot script's `application:start/1` do on BEAM):
//! application_controller, dist_ac when `distributed` is set, kernel_config's
//! `sync_nodes_*` wait, then the named built-in applications.

use crate::config::{KernelParams, NodeGroup, RestartTime as CfgRestart, SysConfig, Timeout};
use crate::kernel::application_controller::{AcConfig, HaltFn, RestartType};
use crate::kernel::dist_ac::{Config, DistEntry, NodeSpec, NodesSpec, RestartTime};
use crate::kernel::kernel_config::{SyncNodes, SyncTimeout};
use crate::kernel::{Applications, AppsConfig, Kernel};
use crate::runtime::Node;
use crate::term::{Atom, TermExt};
use std::sync::Arc;

/// dist_ac's view of the kernel parameters (`dist_check/1`).
pub fn dist_config(params: &KernelParams, sys: &SysConfig) -> Config {
    let distributed = params
        .distributed
        .iter()
        .map(|d| DistEntry {
            app: Atom::from(d.app.as_str()),
            restart_time: match d.restart_time {
                CfgRestart::Millis(ms) => RestartTime::Ms(ms),
                CfgRestart::Infinity => RestartTime::Infinity,
            },
            // The raw term keeps the order BEAM compares; the typed groups
            // are the fallback.
            nodes: NodesSpec::from_term(&d.raw_nodes).unwrap_or_else(|| {
                NodesSpec(
                    d.nodes
                        .iter()
                        .map(|g| match g {
                            NodeGroup::Node(n) => NodeSpec::One(Atom::from(n.as_str())),
                            NodeGroup::Group(ns) => {
                                NodeSpec::Any(ns.iter().map(|n| Atom::from(n.as_str())).collect())
                            }
                        })
                        .collect(),
                )
            }),
        })
        .collect();
    let permissions = sys
        .get("kernel", "permissions")
        .and_then(|t| t.as_list().map(|l| l.into_owned()))
        .unwrap_or_default()
        .iter()
        .filter_map(|p| match p.as_tuple() {
            Some([a, b]) => Some((Atom::from(a.as_atom()?), b.as_bool()?)),
            _ => None,
        })
        .collect();
    Config {
        distributed,
        permissions,
    }
}

/// `sync_nodes_*` (None when `sync_nodes_timeout` is unset).
pub fn sync_nodes(params: &KernelParams) -> Option<SyncNodes> {
    let timeout = match params.sync_nodes_timeout? {
        Timeout::Millis(ms) => SyncTimeout::Ms(ms),
        Timeout::Infinity => SyncTimeout::Infinity,
    };
    let atoms = |v: &[String]| v.iter().map(|n| Atom::from(n.as_str())).collect();
    Some(SyncNodes {
        mandatory: atoms(&params.sync_nodes_mandatory),
        optional: atoms(&params.sync_nodes_optional),
        timeout,
    })
}

/// Halts like BEAM: the crash tuple on stdout, the `Kernel pid terminated`
/// line on stderr, exit status 1.
pub fn erl_halt() -> HaltFn {
    Arc::new(|code, line| {
        if let Some(reason) = line
            .strip_prefix("Kernel pid terminated (application_controller) (")
            .and_then(|r| r.strip_suffix(')'))
        {
            println!("{{\"Kernel pid terminated\",application_controller,\"{reason}\"}}");
        }
        eprintln!("{line}");
        std::process::exit(code);
    })
}

/// Boots the applications and starts `--app` ones (each as
/// `application:start(App, Type)`, `temporary` unless `NAME:TYPE` says
/// otherwise). A kernel_config failure halts with OTP's output and status 1.
pub async fn start(
    node: &Node,
    kernel: &Kernel,
    params: &KernelParams,
    sys: &SysConfig,
    names: &[String],
) -> Applications {
    let halt = erl_halt();
    let env = sys
        .apps()
        .map(|a| (a.to_owned(), sys.app_env(a).to_vec()))
        .collect();
    let cfg = AppsConfig {
        dist: dist_config(params, sys),
        start_dist_ac: Some(params.start_dist_ac),
        sync: sync_nodes(params),
        env: AcConfig {
            env,
            cmdline: Vec::new(),
        },
        halt: halt.clone(),
        locks: None,
    };
    let apps = match crate::kernel::start_applications(node, kernel, cfg).await {
        Ok(a) => a,
        Err(e) => {
            let (out, err) = e.halt_lines();
            tracing::error!("{e}");
            println!("{out}");
            eprintln!("{err}");
            std::process::exit(1);
        }
    };
    crate::apps::add_builtin(&apps.ac);
    for arg in names {
        let ac = apps.ac.clone();
        let (name, rt) = match arg.split_once(':') {
            Some((n, t)) => (n.to_owned(), RestartType::parse(t)),
            None => (arg.clone(), Some(RestartType::Temporary)),
        };
        let rt = rt.unwrap_or(RestartType::Temporary);
        tokio::spawn(async move {
            if let Err(e) = ac.start_app(&name, rt).await {
                tracing::error!("application:start({name}) failed: {e}");
            }
        });
    }
    apps
}
