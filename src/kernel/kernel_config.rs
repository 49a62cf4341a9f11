//! `kernel_config` — mirrors
//! [`lib/kernel/src/kernel_config.erl`](https://github.com/erlang/otp/blob/OTP-25.2.3/lib/kernel/src/kernel_config.erl):
//! at boot, wait for the `sync_nodes_mandatory` and `sync_nodes_optional`
//! nodes (pinging each once, then waiting for `nodeup`s) until
//! `sync_nodes_timeout`; then hand over to dist_ac (`{go, self()}`, wait for
//! `dist_ac_took_control`). Missing mandatory nodes at the timeout fail the
//! boot with `{mandatory_nodes_down, Nodes}`; the node halts with the lines
//! OTP prints ([`KernelConfigError::halt_lines`]) and exit status 1.
//!
//! Nothing is waited for when `sync_nodes_timeout` is unset. With
//! `infinity`, every listed node is waited for. Only connections are
//! waited for, not global or dist_ac sync (`kernel_config.erl`).
//!
//! [`SyncWait`] is the sans-IO part (`rec_nodes/2`, `check_up/3`); [`run`]
//! is the process.

use crate::kernel::dist_ac::DistAcHandle;
use crate::runtime::Node;
use crate::term;
use crate::term::{Atom, Term, TermExt};
use std::time::{Duration, Instant};

/// `sync_nodes_timeout`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SyncTimeout {
    /// Milliseconds (> 0).
    Ms(u64),
    /// `infinity`.
    Infinity,
}

/// The `sync_nodes_*` kernel parameters (only when `sync_nodes_timeout` is set).
#[derive(Debug, Clone, PartialEq)]
pub struct SyncNodes {
    /// `sync_nodes_mandatory`.
    pub mandatory: Vec<Atom>,
    /// `sync_nodes_optional`.
    pub optional: Vec<Atom>,
    /// `sync_nodes_timeout`.
    pub timeout: SyncTimeout,
}

impl SyncNodes {
    /// `get_sync_data/0` from kernel parameters (`None` when
    /// `sync_nodes_timeout` is unset; `Err` as OTP's `{badopt, ...}`).
    pub fn from_env(
        timeout: Option<&Term>,
        mandatory: Option<&Term>,
        optional: Option<&Term>,
    ) -> Result<Option<Self>, KernelConfigError> {
        let Some(t) = timeout else { return Ok(None) };
        let timeout = match (t.as_i64(), t.as_atom()) {
            (Some(ms), _) if ms > 0 => SyncTimeout::Ms(ms as u64),
            (_, Some("infinity")) => SyncTimeout::Infinity,
            _ => return Err(KernelConfigError::BadOpt("sync_nodes_timeout", t.clone())),
        };
        let nodes =
            |name: &'static str, v: Option<&Term>| -> Result<Vec<Atom>, KernelConfigError> {
                match v {
                    None => Ok(Vec::new()),
                    Some(l) => l
                        .as_list()
                        .and_then(|l| l.iter().map(|n| n.as_atom().map(Atom::from)).collect())
                        .ok_or_else(|| KernelConfigError::BadOpt(name, l.clone())),
                }
            };
        Ok(Some(Self {
            mandatory: nodes("sync_nodes_mandatory", mandatory)?,
            optional: nodes("sync_nodes_optional", optional)?,
            timeout,
        }))
    }
}

/// Why kernel_config stopped the boot.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum KernelConfigError {
    /// `{mandatory_nodes_down, Nodes}`.
    #[error("{{mandatory_nodes_down,{}}}", atom_list(.0))]
    MandatoryNodesDown(Vec<Atom>),
    /// `{badopt, {Par, Value}}`.
    #[error("{{badopt,{{{name},{}}}}}", erl_format(.1), name = .0)]
    BadOpt(&'static str, Term),
}

impl KernelConfigError {
    /// What `erl` prints when this stops the boot: the line on stdout and
    /// the line on stderr (checked against OTP 25 with a missing mandatory node).
    pub fn halt_lines(&self) -> (String, String) {
        let reason = format!(
            "{{application_start_failure,kernel,{{{{shutdown,{{failed_to_start_child,kernel_config,{self}}}}},{{kernel,start,[normal,[]]}}}}}}"
        );
        (
            format!("{{\"Kernel pid terminated\",application_controller,\"{reason}\"}}"),
            format!("Kernel pid terminated (application_controller) ({reason})"),
        )
    }
}

/// An atom as `~p` prints it (quoted when needed).
pub fn quote_atom(a: &str) -> String {
    let plain = a.chars().next().is_some_and(|c| c.is_ascii_lowercase())
        && a.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '@');
    if plain {
        a.to_owned()
    } else {
        format!("'{}'", a.replace('\\', "\\\\").replace('\'', "\\'"))
    }
}

/// A term as `~0p` prints it (atoms quoted only when needed, printable
/// charlists as strings), for the lines OTP prints when the node halts.
pub fn erl_format(t: &Term) -> String {
    let join = |v: &[Term]| v.iter().map(erl_format).collect::<Vec<_>>().join(",");
    match t {
        Term::Atom(a) => quote_atom(&a.name),
        Term::FixInteger(i) => i.value.to_string(),
        Term::BigInteger(b) => b.value.to_string(),
        Term::Tuple(tp) => format!("{{{}}}", join(&tp.elements)),
        Term::List(l) => format!("[{}]", join(&l.elements)),
        Term::ByteList(b) if b.bytes.iter().all(|c| (32..127).contains(c)) => {
            format!("\"{}\"", String::from_utf8_lossy(&b.bytes))
        }
        Term::ImproperList(l) => format!("[{}|{}]", join(&l.elements), erl_format(&l.last)),
        Term::Pid(p) => format!("<{}.{}.{}>", p.node.name, p.id, p.serial),
        other => format!("{}", crate::term::Pretty(other)),
    }
}

fn atom_list(v: &[Atom]) -> String {
    let items: Vec<String> = v.iter().map(|a| quote_atom(&a.name)).collect();
    format!("[{}]", items.join(","))
}

/// `rec_nodes/2` and `check_up/3`: the wait, without I/O.
#[derive(Debug, Clone, PartialEq)]
pub struct SyncWait {
    mandatory: Vec<Atom>,
    optional: Vec<Atom>,
    deadline: Option<Instant>,
}

/// Where a [`SyncWait`] is.
#[derive(Debug, Clone, PartialEq)]
pub enum SyncState {
    /// Still waiting.
    Waiting,
    /// Every listed node is up, or the timeout came with all mandatory ones up.
    Done,
    /// The timeout came with these mandatory nodes missing.
    Failed(Vec<Atom>),
}

impl SyncWait {
    /// Starts waiting at `now`.
    pub fn new(s: &SyncNodes, now: Instant) -> Self {
        Self {
            mandatory: s.mandatory.clone(),
            optional: s.optional.clone(),
            deadline: match s.timeout {
                SyncTimeout::Ms(ms) => Some(now + Duration::from_millis(ms)),
                SyncTimeout::Infinity => None,
            },
        }
    }

    /// `{nodeup, Node}`.
    pub fn handle_nodeup(&mut self, node: &Atom) -> SyncState {
        if let Some(i) = self.mandatory.iter().position(|n| n == node) {
            self.mandatory.remove(i);
        } else if let Some(i) = self.optional.iter().position(|n| n == node) {
            self.optional.remove(i);
        }
        self.state()
    }

    /// The `timeout` message.
    pub fn handle_timeout(&mut self, now: Instant) -> SyncState {
        match self.deadline {
            Some(d) if now >= d => {
                if self.mandatory.is_empty() {
                    SyncState::Done
                } else {
                    SyncState::Failed(self.mandatory.clone())
                }
            }
            _ => self.state(),
        }
    }

    /// When the timeout fires.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.deadline
    }

    /// Where the wait is.
    pub fn state(&self) -> SyncState {
        if self.mandatory.is_empty() && self.optional.is_empty() {
            SyncState::Done
        } else {
            SyncState::Waiting
        }
    }
}

/// Runs kernel_config: the node wait, then `{go, Pid}` to dist_ac and the
/// wait for `dist_ac_took_control`.
pub async fn run(
    node: &Node,
    sync: Option<SyncNodes>,
    dist_ac: Option<&DistAcHandle>,
) -> Result<(), KernelConfigError> {
    let dac = dist_ac.map(|d| d.pid().clone());
    let run = node.run_in_process(move |mut p| async move {
        p.trap_exit(true);
        if let Some(s) = sync {
            let start = tokio::time::Instant::now();
            let mut w = SyncWait::new(&s, start.into_std());
            p.monitor_nodes(true, false);
            for n in s.mandatory.iter().chain(&s.optional) {
                if p.node().ping(&n.name).await {
                    p.send(p.pid(), term!({nodeup, (Term::Atom(n.clone()))}));
                }
            }
            let mut state = w.state();
            while state == SyncState::Waiting {
                let msg = match w.poll_timeout() {
                    Some(d) => {
                        let left =
                            d.saturating_duration_since(tokio::time::Instant::now().into_std());
                        p.receive_timeout(left, |m| m.tuple_tag() == Some("nodeup"))
                            .await
                    }
                    None => Some(p.receive(|m| m.tuple_tag() == Some("nodeup")).await),
                };
                state = match msg
                    .as_ref()
                    .and_then(|m| m.elem(1))
                    .and_then(TermExt::as_atom)
                {
                    Some(n) => w.handle_nodeup(&Atom::from(n)),
                    None => w.handle_timeout(tokio::time::Instant::now().into_std()),
                };
            }
            p.monitor_nodes(false, false);
            if let SyncState::Failed(missing) = state {
                return Err(KernelConfigError::MandatoryNodesDown(missing));
            }
        }
        if let Some(dac) = dac {
            p.send(&dac, term!({go, (Term::Pid(p.pid().clone()))}));
            p.receive(|m| m.as_atom() == Some("dist_ac_took_control"))
                .await;
        }
        Ok(())
    });
    run.await.unwrap_or(Ok(()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::term::atom;

    fn a(s: &str) -> Atom {
        Atom::from(s)
    }

    /// kernel_config.erl `rec_nodes/2`: optional nodes may be missing at
    /// the timeout, mandatory ones may not; with every node up it ends early.
    #[test]
    fn rec_nodes_semantics() {
        let t0 = Instant::now();
        let s = SyncNodes {
            mandatory: vec![a("m@h")],
            optional: vec![a("o@h")],
            timeout: SyncTimeout::Ms(1000),
        };
        let mut w = SyncWait::new(&s, t0);
        assert_eq!(w.handle_nodeup(&a("x@h")), SyncState::Waiting);
        assert_eq!(w.handle_nodeup(&a("m@h")), SyncState::Waiting);
        assert_eq!(
            w.handle_timeout(t0 + Duration::from_millis(999)),
            SyncState::Waiting
        );
        assert_eq!(
            w.handle_timeout(t0 + Duration::from_millis(1000)),
            SyncState::Done
        );

        let mut w = SyncWait::new(&s, t0);
        assert_eq!(
            w.handle_timeout(t0 + Duration::from_secs(2)),
            SyncState::Failed(vec![a("m@h")])
        );
        let mut w = SyncWait::new(&s, t0);
        w.handle_nodeup(&a("o@h"));
        assert_eq!(w.handle_nodeup(&a("m@h")), SyncState::Done);
    }

    /// The exact output of OTP 25 `erl -sname kctest@localhost -config m`
    /// with `{sync_nodes_mandatory, ['missing@localhost']}`, timeout 2000.
    #[test]
    fn halt_lines_match_otp() {
        let e = KernelConfigError::MandatoryNodesDown(vec![a("missing@localhost")]);
        let (out, err) = e.halt_lines();
        assert_eq!(
            out,
            r#"{"Kernel pid terminated",application_controller,"{application_start_failure,kernel,{{shutdown,{failed_to_start_child,kernel_config,{mandatory_nodes_down,[missing@localhost]}}},{kernel,start,[normal,[]]}}}"}"#
        );
        assert_eq!(
            err,
            "Kernel pid terminated (application_controller) ({application_start_failure,kernel,{{shutdown,{failed_to_start_child,kernel_config,{mandatory_nodes_down,[missing@localhost]}}},{kernel,start,[normal,[]]}}})"
        );
        let e = KernelConfigError::MandatoryNodesDown(vec![a("cp2@127.0.0.1")]);
        assert!(e.to_string().contains("['cp2@127.0.0.1']"));
    }

    #[test]
    fn terms_print_like_p() {
        use crate::term::charlist;
        let t = term!({distribution_mismatch, myapp, :"cp1@127.0.0.1", [1, (charlist("ab"))]});
        assert_eq!(
            erl_format(&t),
            "{distribution_mismatch,myapp,'cp1@127.0.0.1',[1,\"ab\"]}"
        );
        assert_eq!(erl_format(&atom("Elixir.Distro")), "'Elixir.Distro'");
    }

    #[test]
    fn bad_options_are_reported_like_otp() {
        assert_eq!(SyncNodes::from_env(None, None, None), Ok(None));
        let r = SyncNodes::from_env(Some(&atom("soon")), None, None);
        assert!(matches!(
            r,
            Err(KernelConfigError::BadOpt("sync_nodes_timeout", _))
        ));
        let r = SyncNodes::from_env(Some(&atom("infinity")), None, None)
            .unwrap()
            .unwrap();
        assert_eq!(r.timeout, SyncTimeout::Infinity);
    }
}
