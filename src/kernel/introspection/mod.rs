//! What remote inspection tools ask a node over rpc, answered the way a
//! BEAM node answers, for the node as distro knows it.
//!
//! These are BIFs and library functions, not processes; each submodule
//! names the OTP code it mirrors:
//!
//! | functions | module | mirrors |
//! |---|---|---|
//! | `erlang:system_info/1` | [`system_info`] | `erts/emulator/beam/erl_bif_info.c` |
//! | `erlang:memory/0,1`, `erlang:statistics/1` | [`statistics`] | `erl_alloc.c` (`erts_memory`), `erl_bif_info.c` |
//! | `erlang:processes/0`, `erlang:process_info/1,2` | [`process_info`] | `erl_bif_info.c` (`process_info_aux`) |
//! | `erlang:halt/0,1,2`, `os:type/0`, `init:get_arguments/0`, `init:get_plain_arguments/0`, `net_kernel:get_net_ticktime/0`, `code:which/1`, `erl_eval:eval_str/1` | here | `init.erl`, `os.erl`, `net_kernel.erl`, `code.erl`, `erl_eval.erl` |
//!
//! `global:registered_names/0` is served by [`super::global`], the
//! application environment functions by [`super::application_controller`].
//! Anything else stays `undef`, as on a BEAM node without the module.
//!
//! distro reports `otp_release` `"25"`: the release whose kernel behaviour
//! and distribution flags it mirrors in full (it talks to 25, 27 and 29);
//! `version` is distro's own version and `system_version` names distro.

use crate::term;
pub mod process_info;
pub mod statistics;
pub mod system_info;

use super::rex::{Exception, Registry};
use crate::runtime::Node;
use crate::term::{Term, TermExt, atom, charlist, int, list, tuple};
use std::sync::Arc;
use std::time::Instant;
use tokio::sync::watch;

pub use statistics::CountingAlloc;

/// The command line as `init` holds it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct InitArguments {
    /// `init:get_arguments/0`: every `-Flag Args...` in order, as strings.
    pub arguments: Vec<(String, Vec<String>)>,
    /// `init:get_plain_arguments/0`.
    pub plain: Vec<String>,
}

impl InitArguments {
    /// Whether `-boot` names a release's boot script: one that loads every
    /// application of the release (anything but OTP's own `start_clean`,
    /// `start_sasl` and `no_dot_erlang`, which load kernel and stdlib).
    pub fn release_boot(&self) -> bool {
        self.arguments.iter().any(|(flag, values)| {
            flag == "boot"
                && values.first().is_some_and(|b| {
                    let base = std::path::Path::new(b)
                        .file_stem()
                        .and_then(|s| s.to_str())
                        .unwrap_or("");
                    !matches!(base, "start_clean" | "start_sasl" | "no_dot_erlang" | "")
                })
        })
    }
}

/// `erlang:halt/1` requests: the exit status the node should stop with.
#[derive(Debug, Clone)]
pub struct HaltSignal {
    tx: Arc<watch::Sender<Option<i32>>>,
}

impl Default for HaltSignal {
    fn default() -> Self {
        Self {
            tx: Arc::new(watch::channel(None).0),
        }
    }
}

impl HaltSignal {
    /// Asks the node to halt with `status`.
    pub fn halt(&self, status: i32) {
        self.tx.send_replace(Some(status));
    }

    /// Completes with the status once `erlang:halt/0,1,2` was called.
    pub async fn halted(&self) -> i32 {
        let mut rx = self.tx.subscribe();
        loop {
            if let Some(code) = *rx.borrow_and_update() {
                return code;
            }
            if rx.changed().await.is_err() {
                return std::future::pending().await;
            }
        }
    }
}

/// What the introspection functions know beyond the [`Node`].
#[derive(Debug)]
pub(crate) struct Facts {
    pub(crate) init: InitArguments,
    pub(crate) started: Instant,
    pub(crate) stats: statistics::Counters,
}

/// Registers the introspection functions in `rpc`.
pub(crate) fn register(rpc: &Registry, init: InitArguments, halt: HaltSignal) {
    let facts = Arc::new(Facts {
        init,
        started: Instant::now(),
        stats: statistics::Counters::default(),
    });
    system_info::register(rpc, &facts);
    statistics::register(rpc, &facts);
    process_info::register(rpc);
    rpc.register_sync("os", "type", 0, |_, _| {
        Ok(term!({unix, (atom(std::env::consts::OS))}))
    });
    let f = facts.clone();
    rpc.register_sync("init", "get_arguments", 0, move |_, _| {
        Ok(list(
            f.init
                .arguments
                .iter()
                .map(|(flag, args)| {
                    tuple(vec![
                        atom(flag),
                        list(args.iter().map(|a| charlist(a)).collect()),
                    ])
                })
                .collect(),
        ))
    });
    let f = facts;
    rpc.register_sync("init", "get_plain_arguments", 0, move |_, _| {
        Ok(list(f.init.plain.iter().map(|a| charlist(a)).collect()))
    });
    rpc.register_sync("net_kernel", "get_net_ticktime", 0, |node, _| {
        Ok(int(i64::from(node.net_ticktime())))
    });
    // distro loads no Erlang modules.
    rpc.register_sync("code", "which", 1, |_, args| match args {
        [Term::Atom(_)] => Ok(atom("non_existing")),
        _ => Err(Exception::error(atom("function_clause"))),
    });
    // erl_call -e: the answer erl_eval:eval_str/1 gives for what it cannot run.
    rpc.register_sync("erl_eval", "eval_str", 1, |node, _| {
        tracing::warn!("erl_eval:eval_str/1 called: distro runs no Erlang code");
        let why = format!(
            "*** distro runs no Erlang code: {} cannot evaluate expressions \
             (call Rust functions with erl_call -a 'Mod Fun [Args]')",
            node.name().name
        );
        Ok(term!({error, (charlist(&why))}))
    });
    for arity in 0..=2 {
        let halt = halt.clone();
        rpc.register(
            "erlang",
            "halt",
            arity,
            Arc::new(move |node: Node, args: Vec<Term>| {
                let status = halt_status(args.first());
                let halt = halt.clone();
                Box::pin(async move {
                    let status = status?;
                    tracing::info!(node = %node.name().name, status, "erlang:halt called; halting");
                    halt.halt(status);
                    // halt/1 never returns: the caller sees the connection go.
                    std::future::pending::<()>().await;
                    Ok(atom("ok"))
                })
            }),
        );
    }
}

/// The exit status of `erlang:halt(Status)`: 0 by default, an integer
/// (`0..255` as the OS keeps it), 1 for a slogan string, 134 for `abort`.
fn halt_status(arg: Option<&Term>) -> Result<i32, Exception> {
    match arg {
        None => Ok(0),
        Some(t) if t.as_atom() == Some("abort") => Ok(134),
        Some(t) => match t.as_i64() {
            Some(n) if n >= 0 => Ok((n & 0xff) as i32),
            Some(_) => Err(Exception::badarg()),
            None if t.as_list().is_some() || matches!(t, Term::Binary(_)) => {
                tracing::error!("erlang:halt slogan: {}", crate::term::Pretty(t));
                Ok(1)
            }
            None => Err(Exception::badarg()),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn halt_statuses() {
        assert_eq!(halt_status(None), Ok(0));
        assert_eq!(halt_status(Some(&int(3))), Ok(3));
        assert_eq!(halt_status(Some(&int(256 + 7))), Ok(7));
        assert_eq!(halt_status(Some(&atom("abort"))), Ok(134));
        assert_eq!(halt_status(Some(&charlist("bye"))), Ok(1));
        assert!(halt_status(Some(&atom("x"))).is_err());
        assert!(halt_status(Some(&int(-1))).is_err());
    }
}
