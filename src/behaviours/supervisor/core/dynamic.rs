//! `simple_one_for_one`: dynamic children, their restarts
//! (`restart(simple_one_for_one, …)`) and `start_child(Sup, ExtraArgs)`.

use super::{ChildPid, Cmd, Core, Dyn, Job, Kind, Op, StartOutcome, is_normal_exit};
use crate::behaviours::supervisor::spec::{ChildData, Restart};
use crate::term::{Term, atom};
use std::collections::VecDeque;
use tokio::time::Instant;

impl<F: Clone> Core<F> {
    pub(super) fn dyn_record(&self, d: &Dyn) -> ChildData {
        let mut data = self.children[0].data.clone();
        data.mfa.args = (data.restart != Restart::Temporary).then(|| d.args.clone());
        data
    }

    /// A dynamic child exited (`reason` is `Some`) or its failed restart
    /// is tried again (`None`).
    pub(super) fn dyn_restart(
        &mut self,
        d: usize,
        reason: Option<Term>,
        now: Instant,
    ) -> Vec<Cmd<F>> {
        let data = self.dyn_record(&self.dynamics[d]);
        let pid = self.dynamics[d].pid.clone();
        let mut out = Vec::new();
        if let Some(reason) = &reason {
            let (restart, normal) = (data.restart, is_normal_exit(reason));
            if !normal || restart == Restart::Permanent {
                out.push(Self::error(
                    "child_terminated",
                    reason.clone(),
                    &data,
                    pid.to_term(),
                ));
            }
            if !(restart == Restart::Permanent || (restart == Restart::Transient && !normal)) {
                self.dynamics.remove(d);
                out.extend(self.auto_shutdown(data.significant));
                return out;
            }
        }
        if !self.add_restart(now) {
            out.push(Self::error(
                "shutdown",
                atom("reached_max_restart_intensity"),
                &data,
                pid.to_term(),
            ));
            self.dynamics.remove(d);
            out.push(Cmd::Exit(atom("shutdown")));
            return out;
        }
        // restart(simple_one_for_one, …)
        if matches!(pid, ChildPid::Restarting(_)) {
            self.dynamic_restarts = self.dynamic_restarts.saturating_sub(1);
        }
        let args = self.dynamics.remove(d).args;
        let mut mfa = self.children[0].data.mfa.clone();
        mfa.args = Some(args.clone());
        self.job = Some(Job {
            kind: Kind::Restart {
                id: atom("undefined"),
                old: pid.clone(),
            },
            ops: VecDeque::new(),
            current: Some(Op::StartDyn {
                args,
                old: Some(pid),
            }),
        });
        out.push(Cmd::Start {
            start: self.children[0].start.clone(),
            mfa,
        });
        out
    }

    pub(super) fn dyn_started(
        &mut self,
        args: Vec<Term>,
        old: Option<ChildPid>,
        o: StartOutcome,
    ) -> Vec<Cmd<F>> {
        self.job = None;
        let temporary = self.children[0].data.restart == Restart::Temporary;
        let stored = if temporary { Vec::new() } else { args.clone() };
        match (old, o) {
            // start_child(Sup, ExtraArgs)
            (None, o) => {
                if let Some(p) = o.pid() {
                    self.dynamics.push(Dyn {
                        pid: ChildPid::Running(p.clone()),
                        args: stored,
                    });
                }
                vec![Cmd::Reply(o.reply())]
            }
            (Some(_), StartOutcome::Ok(p) | StartOutcome::OkInfo(p, _)) => {
                self.dynamics.push(Dyn {
                    pid: ChildPid::Running(p),
                    args: stored,
                });
                Vec::new()
            }
            // `ignore` on a restart is not a pid: OTP tries again as for an error.
            (Some(old), o) => {
                let reason = match o {
                    StartOutcome::Error(r) => r,
                    _ => atom("ignore"),
                };
                let rpid = old.restarting();
                self.dynamic_restarts += 1;
                let mut data = self.children[0].data.clone();
                data.mfa.args = Some(args.clone());
                self.dynamics.push(Dyn {
                    pid: rpid.clone(),
                    args: stored,
                });
                vec![
                    Self::error("start_error", reason, &data, rpid.to_term()),
                    Cmd::TryAgain(rpid.to_term()),
                ]
            }
        }
    }
}
