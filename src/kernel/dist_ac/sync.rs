//! The boot sync of dist_ac — `handle_cast(init_sync, ...)`, `dist_check/1`,
//! `sync_dacs/1`, `introduce_me/2` and `wait_dacs/4` of
//! [`dist_ac.erl`](https://github.com/erlang/otp/blob/OTP-25.2.3/lib/kernel/src/dist_ac.erl)
//! (lines 194–293, 1351–1366) — and the `#appl{}` helpers the handlers share
//! (`dist_find_nodes/2`, `dist_update_run/4`, `dist_merge/3`, ...).
//!
//! What real OTP 25 nodes exchange at boot (checked against BEAM in
//! `tests/integration/dist_ac.rs`): `{go, KC}`, `control_application`,
//! `dist_ac_took_control`, `set_lock {dist_ac, sync_dacs}` on
//! `[node() | nodes()]`, one `whereis(dist_ac)` rpc and introduction per
//! node, the answers in turn, `del_lock`.

use super::core::{DistAc, Output, Wait};
use super::msg::{Appl, ApplId, NodeName, NodesSpec, Perm, ToAc};
use crate::term;
use crate::term::{Atom, Term, list};
use std::collections::VecDeque;

impl DistAc {
    // ----- boot: init_sync / sync_dacs ----------------------------------

    pub(super) fn on_go(&mut self) {
        self.appls = self.dist_check();
        for a in self.appls.clone() {
            self.tell_ac(ToAc::ControlApplication(a.name));
        }
        self.emit(Output::TookControl);
        self.monitoring = true;
        let lock_nodes = self.all_nodes();
        self.emit(Output::SetLock {
            id: term!({dist_ac, sync_dacs}),
            nodes: lock_nodes.clone(),
            retries: None,
        });
        self.wait = Some(Wait::SyncLock { lock_nodes });
    }

    /// `dist_check/1`.
    fn dist_check(&self) -> Vec<Appl> {
        self.config
            .distributed
            .iter()
            .map(|e| Appl {
                name: e.app.clone(),
                id: ApplId::Undefined,
                restart_time: e.restart_time,
                nodes: e.nodes.clone(),
                run: vec![(self.me.clone(), self.default_permission(&e.app))],
            })
            .collect()
    }

    /// `get_default_permission/1`.
    pub(super) fn default_permission(&self, app: &Atom) -> Perm {
        match self.config.permissions.iter().find(|(a, _)| a == app) {
            Some((_, b)) => Perm::from_bool(*b),
            None => Perm::True,
        }
    }

    pub(super) fn introduce(
        &mut self,
        lock_nodes: Vec<NodeName>,
        remaining: VecDeque<NodeName>,
        introduced: Vec<NodeName>,
    ) {
        match remaining.front() {
            Some(n) => {
                self.emit(Output::Whereis { node: n.clone() });
                self.wait = Some(Wait::Introducing {
                    lock_nodes,
                    remaining,
                    introduced,
                });
            }
            None => {
                let appls = self.appls.clone();
                let me = self.me.clone();
                self.wait_dacs(
                    lock_nodes,
                    introduced.into_iter().collect(),
                    vec![me],
                    appls,
                    Vec::new(),
                );
            }
        }
    }

    pub(super) fn wait_dacs(
        &mut self,
        lock_nodes: Vec<NodeName>,
        remaining: VecDeque<NodeName>,
        known: Vec<NodeName>,
        appls: Vec<Appl>,
        rstarted: Vec<(NodeName, Atom)>,
    ) {
        if remaining.is_empty() {
            self.emit(Output::DelLock {
                id: term!({dist_ac, sync_dacs}),
                nodes: lock_nodes,
            });
            self.wait = Some(Wait::SyncUnlock {
                known,
                appls,
                rstarted,
            });
            return;
        }
        self.block(Wait::WaitDacs {
            lock_nodes,
            remaining,
            known,
            appls,
            rstarted,
        });
    }

    /// `{get_nodes, App}`: the nodes of the app that are known (alive).
    pub(super) fn get_nodes(&self, app: &Atom) -> Vec<NodeName> {
        self.find_nodes(app)
            .flat()
            .into_iter()
            .filter(|n| self.known.contains(n))
            .collect()
    }

    /// `dist_find_nodes/2`.
    pub(super) fn find_nodes(&self, app: &Atom) -> NodesSpec {
        self.appls
            .iter()
            .find(|a| a.name == *app)
            .map(|a| a.nodes.clone())
            .unwrap_or_default()
    }

    pub(super) fn appl_mut(&mut self, app: &Atom) -> Option<&mut Appl> {
        self.appls.iter_mut().find(|a| a.name == *app)
    }

    /// `dist_update_run/4`.
    pub(super) fn update_run(&mut self, app: &Atom, node: &NodeName, perm: Perm) {
        if let Some(a) = self.appl_mut(app) {
            a.set_perm(node, perm);
        }
    }

    /// `dist_is_runnable/2`.
    pub(super) fn is_runnable(&self, app: &Atom) -> bool {
        self.appls
            .iter()
            .find(|a| a.name == *app)
            .is_some_and(|a| a.perm_of(&self.me) == Some(Perm::True))
    }

    /// `get_cached_weight/2`.
    pub(super) fn cached_weight(&self, app: &Atom) -> i64 {
        self.tmp_weights
            .iter()
            .find(|(a, _)| a == app)
            .map_or(self.weight, |(_, w)| *w)
    }
}

/// `dist_merge/3`: take his permission for each of our applications.
pub(super) fn dist_merge(mut mine: Vec<Appl>, his: &[Appl], his_node: &NodeName) -> Vec<Appl> {
    for a in &mut mine {
        if let Some(h) = his.iter().find(|h| h.name == a.name) {
            match h.perm_of(his_node) {
                Some(p) => a.set_perm(his_node, p),
                None => a.run.insert(0, (his_node.clone(), Perm::Undefined)),
            }
        }
    }
    mine
}

/// A list of atoms as a term.
pub(super) fn atoms(v: &[NodeName]) -> Term {
    list(v.iter().cloned().map(Term::Atom).collect())
}
