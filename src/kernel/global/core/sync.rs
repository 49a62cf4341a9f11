//! The connect-time sync protocol, server side — mirrors `handle_nodeup/2`,
//! `init_connect/6`, `restart_connect/3`, `lock_is_set/3`, `exchange/3`,
//! `resolved/5`, `new_nodes/6`, `sync_others/1`, the `in_sync`,
//! `init_connect_ack` and `cancel_connect` handlers, `cancel_locker/4`,
//! `handle_nodedown/3` and the `prevent_overlapping_partitions` messages
//! (`lost_connection`, `remove_connection`) of `lib/kernel/src/global.erl`.
//!
//! Message order of one sync between A and B (as real OTP 25 nodes exchange it; see `tests/integration/global.rs`):
//! `init_connect` both ways, `his_the_locker` to the own locker,
//! `init_connect_ack` both ways, lockers' `set_lock {global, [LA, LB]}`,
//! `lock_set` (server as proxy), `lock_is_set`, `exchange` both ways,
//! `exchange_ops` from the resolver, `resolved` both ways, `cancel` (with
//! the new_nodes fun) to the locker, `add_to_known`, `new_nodes` to the
//! old partition from the locker, `del_lock`, `in_sync` from `sync_other`.

use super::locker::{LockerMsg, NewNodesFun};
use super::{
    GlobalCore, LOST_CONN_INFO_CLEANUP, LostInfo, MIN_64BIT_SMALL_INT, Output, PGPV_VSN, POP_VSN,
    Role, SaveOps, VERIFY_CONNECT_VSN, VSN, WaitLock, a, gen_cast, opt_tag_eq, resolve, tag_eq,
    undefined_or,
};
use crate::term;
use crate::term::{Atom, Term, TermExt, int, list, map, tuple};

/// A node name as `~p` / `~w` print it (`'r@127.0.0.1'`).
fn q(node: &str) -> String {
    crate::term::Pretty(&a(node)).to_string()
}

/// The warning OTP logs when `prevent_overlapping_partitions` takes a
/// connection down (`handle_info({lost_connection, ...})` and
/// `handle_info({remove_connection, ...})`): `"'global' at node ~p ~s node
/// ~p in order to prevent overlapping partitions"`.
pub(super) fn pop_warning(me: &str, what: &str, node: &str) -> String {
    format!(
        "'global' at node {} {what} node {} in order to prevent overlapping partitions",
        q(me),
        q(node)
    )
}

/// The `What` of `handle_nodedown/3`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum NodeDownType {
    /// `disconnected`: a real nodedown; may multicast `lost_connection`.
    Disconnected,
    /// `remove_connection`: we asked for the disconnect.
    RemoveConnection,
    /// `ignore_node`.
    IgnoreNode,
}

impl GlobalCore {
    // ------------------------------------------------------------------
    // known bookkeeping
    // ------------------------------------------------------------------

    /// `node_vsn/2`.
    pub(super) fn node_vsn(&self, node: &str) -> i64 {
        if node == self.me {
            return VSN;
        }
        self.known
            .get(node)
            .or_else(|| self.pending.get(node))
            .copied()
            .unwrap_or(0)
    }

    /// `mk_known_list/2`: `[{Node, Vsn}]` (or `[Node]` for `Vsn < 7`), in
    /// the order OTP's fold over the small map produces (descending).
    pub(super) fn mk_known_list(&self, vsn: i64) -> Term {
        list(
            self.known
                .iter()
                .rev()
                .map(|(n, v)| {
                    if vsn < PGPV_VSN {
                        a(n)
                    } else {
                        term!({(a(n)), (int(*v))})
                    }
                })
                .collect(),
        )
    }

    /// The whole `known` map as `init_connect` carries it (receivers ignore it).
    fn known_map_term(&self) -> Term {
        let mut pairs: Vec<(Term, Term)> = Vec::new();
        for (n, v) in &self.known {
            pairs.push((a(n), int(*v)));
        }
        for (n, v) in &self.pending {
            pairs.push((term!({(a("pending")), (a(n))}), int(*v)));
        }
        for n in &self.removing {
            pairs.push((term!({(a("removing")), (a(n))}), a("yes")));
        }
        for (n, c) in &self.conn_ids {
            pairs.push((term!({(a("connection_id")), (a(n))}), c.clone()));
        }
        map(pairs)
    }

    /// `add_to_known/2`: returns the added nodes (last added first).
    fn add_to_known(&mut self, add: &[Term]) -> Vec<String> {
        let mut added = Vec::new();
        for t in add {
            let (n, v) = match t {
                Term::Atom(n) => (n.name.clone(), None),
                _ => match t.as_tuple() {
                    Some([Term::Atom(n), v]) => (n.name.clone(), v.as_i64()),
                    _ => continue,
                },
            };
            if n == self.me {
                continue;
            }
            match (self.known.get(&n).copied(), v) {
                (None, v) => {
                    self.known.insert(n.clone(), v.unwrap_or(0));
                    added.insert(0, n);
                }
                (Some(old), Some(v)) if old < 0 => {
                    self.known.insert(n, v);
                }
                _ => {}
            }
        }
        if !added.is_empty() {
            self.touch();
        }
        added
    }

    /// `make_node_vsn_list/2`.
    fn make_node_vsn_list(&self, nodes: &[Term]) -> Vec<Term> {
        nodes
            .iter()
            .filter_map(|t| match t {
                Term::Atom(n) => Some(term!({(t.clone()), (int(self.node_vsn(&n.name)))})),
                _ => match t.as_tuple() {
                    Some([Term::Atom(n), v]) if v.as_i64() == Some(0) => {
                        Some(term!({(Term::Atom(n.clone())), (int(self.node_vsn(&n.name)))}))
                    }
                    Some([Term::Atom(_), v]) if v.as_i64().is_some() => Some(t.clone()),
                    _ => None,
                },
            })
            .collect()
    }

    fn node_list(nodes: &[Term]) -> Vec<String> {
        nodes
            .iter()
            .filter_map(|t| match t {
                Term::Atom(n) => Some(n.name.clone()),
                _ => match t.as_tuple() {
                    Some([Term::Atom(n), _]) => Some(n.name.clone()),
                    _ => None,
                },
            })
            .collect()
    }

    /// `is_node_potentially_known/2`.
    fn potentially_known(&self, node: &str) -> bool {
        self.known.contains_key(node) || self.pending.contains_key(node)
    }

    /// `sync_others/1`: one `sync_other/2` per node.
    fn sync_others(&mut self, nodes: &[String]) {
        for n in nodes {
            let msg = gen_cast(term!({(a("in_sync")), (self.me_atom()), (a("true"))}));
            self.emit(Output::SyncOther {
                node: Atom::from(n.as_str()),
                msg,
            });
        }
    }

    // ------------------------------------------------------------------
    // nodeup / nodedown
    // ------------------------------------------------------------------

    pub(super) fn handle_nodeup_msg(&mut self, node: String, info: &Term) {
        if node == self.me {
            return;
        }
        let cid = match info {
            Term::Map(m) => m.map.get(&a("connection_id")).cloned(),
            _ => None,
        }
        .unwrap_or_else(|| a("undefined"));
        self.conn_ids.insert(node.clone(), cid);
        if self.cfg.connect_all {
            self.handle_nodeup(node);
        }
    }

    /// `handle_nodeup/2`: start a sync session with `node`.
    pub(super) fn handle_nodeup(&mut self, node: String) {
        if self.known.contains_key(&node) || self.resolvers.iter().any(|r| r.node == node) {
            return;
        }
        let pre = self
            .sessions
            .get_mut(&node)
            .and_then(|s| s.pre_connect.take());
        let tag = self.unique();
        self.session(&node).sync_tag_my = Some(tag.clone());
        let init = term!({(a("init_connect")), {(int(VSN)), (tag.clone())}, (self.me_atom()), {(a("locker")), (a("no_longer_a_pid")), (self.known_map_term()), (Term::Pid(self.cfg.locker.clone()))}});
        self.cast_to(Role::Server, &node, init);
        self.resolvers
            .insert(0, resolve::Resolver::new(node.clone(), tag));
        // resend_pre_connect/1: handle the init_connect that came first.
        if let Some((vsn, init_msg, his_tag)) = pre {
            let v = term!({(int(vsn)), (his_tag)});
            self.handle_init_connect(&v, node, init_msg);
        }
    }

    pub(super) fn handle_nodedown_msg(&mut self, node: String) {
        if node == self.me {
            return;
        }
        self.syncers_nodedown(&node);
        if self.ignore_nodedown.remove(&node) {
            return;
        }
        self.handle_nodedown(&node, NodeDownType::Disconnected);
        self.conn_ids.remove(&node);
    }

    /// `{extra_nodedown, Node}` from a failed `sync_other`.
    pub(super) fn extra_nodedown(&mut self, node: String) {
        tracing::warn!(
            "'global' at {} failed to connect to {}",
            q(&self.me),
            q(&node)
        );
        self.syncers_nodedown(&node);
        self.handle_nodedown(&node, NodeDownType::Disconnected);
        self.conn_ids.remove(&node);
    }

    /// `handle_nodedown/3`.
    pub(super) fn handle_nodedown(&mut self, node: &str, what: NodeDownType) {
        let tag = self.session_tag_my(node).cloned();
        self.cancel_locker(node, tag, None);
        self.send_locker(LockerMsg::RemoveFromKnown(node.to_owned()));
        self.sessions.remove(node);
        match what {
            NodeDownType::RemoveConnection => {
                self.removing.insert(node.to_owned());
            }
            NodeDownType::IgnoreNode => {
                self.removing.remove(node);
            }
            NodeDownType::Disconnected => {
                if !self.removing.remove(node) {
                    self.inform_connection_loss(node);
                }
            }
        }
        self.pending.remove(node);
        self.known.remove(node);
        self.synced.retain(|n| n != node);
        self.touch();
    }

    /// `inform_connection_loss/2`.
    fn inform_connection_loss(&mut self, node: &str) {
        if !(self.cfg.connect_all && self.cfg.prevent_overlapping_partitions) {
            return;
        }
        let xcre = self.creation_extension + i64::from(self.cfg.creation) - MIN_64BIT_SMALL_INT;
        let op = self.unique();
        let msg = term!({(a("lost_connection")), (self.me_atom()), (int(xcre)), (op), (a(node))});
        self.volatile_multicast(&msg, node);
    }

    /// `gns_volatile_multicast(Msg, IgnoreNode, ?pop_vsn, true, S)`.
    fn volatile_multicast(&mut self, msg: &Term, ignore: &str) {
        let mut targets: Vec<String> = self
            .known
            .iter()
            .chain(self.pending.iter())
            .filter(|(n, v)| n.as_str() != ignore && **v >= POP_VSN)
            .map(|(n, _)| n.clone())
            .collect();
        targets.dedup();
        for n in targets {
            self.volatile_send(&n, msg.clone());
        }
    }

    // ------------------------------------------------------------------
    // init_connect, init_connect_ack, cancel_connect
    // ------------------------------------------------------------------

    pub(super) fn handle_init_connect(&mut self, vsn: &Term, node: String, init: Term) {
        let (his_vsn, his_tag) = match vsn.as_tuple() {
            Some([v, t, ..]) if v.as_i64().is_some() => (v.as_i64().unwrap_or(0), t.clone()),
            _ => {
                tracing::info!(
                    "Illegal global protocol version {} Node: {}",
                    crate::term::Pretty(vsn),
                    node
                );
                return;
            }
        };
        let v = his_vsn.min(VSN);
        self.init_connect(v, node, init, his_tag, his_vsn);
    }

    /// `init_connect/6` (with OTP 27's fix of returning after a restart).
    fn init_connect(&mut self, vsn: i64, node: String, init: Term, his_tag: Term, his_vsn: i64) {
        if self.pending.contains_key(&node) {
            if his_vsn < VERIFY_CONNECT_VSN {
                self.emit(Output::Disconnect {
                    node: Atom::from(node.as_str()),
                });
                tracing::error!(
                    "'global' at node {} got an out of sync connection attempt from old version {} node {}. Disconnecting from it.",
                    q(&self.me),
                    his_vsn,
                    q(&node)
                );
                return;
            }
            self.send_cancel_connect_message(&node, his_tag);
            let old = self.session_tag_my(&node).cloned();
            self.restart_connect(&node, old);
            return;
        }
        let s = self.session(&node);
        s.prot_vsn = Some(vsn);
        s.sync_tag_his = Some(his_tag.clone());
        let my_tag = self
            .resolvers
            .iter()
            .find(|r| r.node == node)
            .map(|r| r.tag.clone());
        match my_tag {
            Some(my_tag) => {
                let his_locker = match init.as_tuple() {
                    Some([_, _, _, Term::Pid(l)]) => l.clone(),
                    _ => return,
                };
                self.send_locker(LockerMsg::HisTheLocker {
                    locker: his_locker,
                    vsn,
                    his_tag: his_tag.clone(),
                    my_tag: my_tag.clone(),
                });
                if his_vsn >= VERIFY_CONNECT_VSN {
                    let ack =
                        term!({(a("init_connect_ack")), (self.me_atom()), (his_tag), (my_tag)});
                    self.volatile_send(&node, ack);
                }
                self.pending.insert(node, his_vsn);
            }
            None => self.session(&node).pre_connect = Some((vsn, init, his_tag)),
        }
    }

    /// `restart_connect/3`.
    fn restart_connect(&mut self, node: &str, my_tag: Option<Term>) {
        self.cancel_locker(node, my_tag.clone(), None);
        self.sessions.remove(node);
        self.pending.remove(node);
        if my_tag.as_ref().and_then(|t| t.as_i64()).is_some() {
            self.handle_nodeup(node.to_owned());
        }
    }

    pub(super) fn handle_init_connect_ack(&mut self, node: String, his_my: Term, his_his: Term) {
        let my = self.session_tag_my(&node).cloned();
        let his = self
            .sessions
            .get(&node)
            .and_then(|s| s.sync_tag_his.clone());
        if opt_tag_eq(my.as_ref(), &his_my) && opt_tag_eq(his.as_ref(), &his_his) {
            return;
        }
        self.send_cancel_connect_message(&node, his_his);
        self.restart_connect(&node, my);
    }

    pub(super) fn handle_cancel_connect(&mut self, node: String, tag: Term) {
        let my = self.session_tag_my(&node).cloned();
        if !opt_tag_eq(my.as_ref(), &tag) {
            return;
        }
        self.cancel_locker(&node, my.clone(), None);
        self.sessions.remove(&node);
        self.pending.remove(&node);
        self.restart_connect(&node, my);
    }

    fn send_cancel_connect_message(&mut self, node: &str, his_tag: Term) {
        let msg = term!({(a("cancel_connect")), (self.me_atom()), (his_tag)});
        self.volatile_send(node, msg);
    }

    /// `cancel_locker/4`: tells the locker, the peer (if a session is
    /// pending) and kills the resolver of that session.
    pub(super) fn cancel_locker(
        &mut self,
        node: &str,
        tag: Option<Term>,
        fun: Option<NewNodesFun>,
    ) {
        self.send_locker(LockerMsg::Cancel {
            node: node.to_owned(),
            tag: tag.clone(),
            fun,
        });
        // send_cancel_connect/3
        if let (Some(v), Some(t)) = (self.pending.get(node), tag.as_ref()) {
            if *v >= VERIFY_CONNECT_VSN && opt_tag_eq(self.session_tag_my(node), t) {
                let his = undefined_or(
                    self.sessions
                        .get(node)
                        .and_then(|s| s.sync_tag_his.as_ref()),
                );
                self.send_cancel_connect_message(node, his);
            }
        }
        if let Some(t) = tag {
            self.resolvers
                .retain(|r| !(r.node == node && tag_eq(&r.tag, &t)));
        }
    }

    // ------------------------------------------------------------------
    // lock_is_set, exchange, exchange_ops, resolved
    // ------------------------------------------------------------------

    /// `{lock_is_set, Node, MyTag, LockId}` from our locker.
    pub(super) fn handle_lock_is_set(&mut self, node: String, tag: Term, lock_id: Term) {
        if !opt_tag_eq(self.session_tag_my(&node), &tag) {
            return self.cancel_locker(&node, Some(tag), None);
        }
        // lock_is_set/3
        let his = undefined_or(
            self.sessions
                .get(&node)
                .and_then(|s| s.sync_tag_his.as_ref()),
        );
        let names = self.names.exchange_list();
        let msg = term!({(a("exchange")), (self.me_atom()), (names), [], (his)});
        self.cast_to(Role::Server, &node, msg);
        let s = self.session(&node);
        s.lock_id = Some(lock_id);
        match s.wait_lock.take() {
            Some(WaitLock::Exchange(names)) => {
                s.wait_lock = Some(WaitLock::LockIsSet);
                self.exchange(&node, names);
            }
            _ => s.wait_lock = Some(WaitLock::LockIsSet),
        }
    }

    pub(super) fn handle_exchange(&mut self, node: String, names: Vec<Term>, tag: Term) {
        if !opt_tag_eq(self.session_tag_my(&node), &tag) {
            return self.cancel_locker(&node, Some(tag), None);
        }
        self.exchange(&node, names);
    }

    /// `exchange/3`.
    fn exchange(&mut self, node: &str, names: Vec<Term>) {
        let s = self.session(node);
        match s.wait_lock.take() {
            Some(WaitLock::LockIsSet) => self.resolver_start(node, names),
            _ => s.wait_lock = Some(WaitLock::Exchange(names)),
        }
    }

    /// `{exchange_ops, Node, MyTag, Ops, Resolved}` from the resolver.
    pub(super) fn handle_exchange_ops(
        &mut self,
        node: String,
        tag: Term,
        ops: Vec<Term>,
        res: Vec<Term>,
    ) {
        if !opt_tag_eq(self.session_tag_my(&node), &tag) {
            return self.cancel_locker(&node, Some(tag), None);
        }
        let known = self.mk_known_list(self.node_vsn(&node));
        let his = undefined_or(
            self.sessions
                .get(&node)
                .and_then(|s| s.sync_tag_his.as_ref()),
        );
        let msg = term!({(a("resolved")), (self.me_atom()), (list(res)), (known), (a("unused")), (self.names.ext_list()), (his)});
        self.cast_to(Role::Server, &node, msg);
        let s = self.session(&node);
        if let Some(SaveOps::Resolved {
            his_known,
            names_ext,
            his_resolved,
        }) = s.save_ops.replace(SaveOps::Ops(ops))
        {
            self.resolved(&node, his_resolved, his_known, names_ext);
        }
    }

    pub(super) fn handle_resolved_cast(
        &mut self,
        node: String,
        his_resolved: Vec<Term>,
        his_known: Vec<Term>,
        names_ext: Term,
        tag: Term,
    ) {
        if !opt_tag_eq(self.session_tag_my(&node), &tag) {
            return self.cancel_locker(&node, Some(tag), None);
        }
        let s = self.session(&node);
        match s.save_ops {
            Some(SaveOps::Ops(_)) => self.resolved(&node, his_resolved, his_known, names_ext),
            _ => {
                s.save_ops = Some(SaveOps::Resolved {
                    his_known,
                    names_ext,
                    his_resolved,
                })
            }
        }
    }

    /// `resolved/5`: both sides' ops are here; apply them and merge partitions.
    fn resolved(
        &mut self,
        node: &str,
        his_resolved: Vec<Term>,
        his_known: Vec<Term>,
        names_ext: Term,
    ) {
        let mut ops = match self.session(node).save_ops.take() {
            Some(SaveOps::Ops(o)) => o,
            _ => Vec::new(),
        };
        ops.extend(his_resolved);
        let old_known: Vec<(String, i64)> =
            self.known.iter().map(|(n, v)| (n.clone(), *v)).collect();
        let mut nn = vec![a(node)];
        nn.extend(his_known.iter().cloned());
        let new_nodes = self.make_node_vsn_list(&nn);
        let his_known_nodes = Self::node_list(&his_known);
        self.sync_others(&his_known_nodes);
        let s = self.sessions.get(node);
        let extra = vec![
            tuple(vec![
                a("vsn"),
                s.and_then(|s| s.prot_vsn)
                    .map(int)
                    .unwrap_or_else(|| a("undefined")),
            ]),
            tuple(vec![
                a("lock"),
                undefined_or(s.and_then(|s| s.lock_id.as_ref())),
            ]),
        ];
        let me = self.me.clone();
        self.do_ops(&ops, &me, &names_ext, &extra);
        self.syncers_synced(node);
        for c in &his_known_nodes {
            // cancel_resolved_locker(CnclNode, cancel_locker, S)
            let tag = self.session_tag_my(c).cloned();
            self.pending.remove(c);
            self.cancel_locker(c, tag, None);
            self.sessions.remove(c);
        }
        let new_msg = term!({(a("new_nodes")), (self.me_atom()), (list(ops.clone())), (names_ext.clone()), (list(new_nodes.clone())), (list(extra.clone()))});
        let old_msg = tuple(vec![
            a("new_nodes"),
            self.me_atom(),
            list(ops),
            names_ext,
            list(Self::node_list(&new_nodes).iter().map(|n| a(n)).collect()),
            list(extra),
        ]);
        let fun = NewNodesFun {
            targets: old_known,
            new_msg,
            old_msg,
        };
        let tag = self.session_tag_my(node).cloned();
        self.pending.remove(node);
        self.cancel_locker(node, tag, Some(fun));
        self.sessions.remove(node);
        let added = self.add_to_known(&new_nodes);
        self.send_locker(LockerMsg::AddToKnown(added));
        if !self.synced.iter().any(|n| n == node) {
            self.synced.insert(0, node.to_owned());
        }
        self.touch();
    }

    /// `new_nodes/6`: our partition merged with another one.
    pub(super) fn handle_new_nodes(
        &mut self,
        ops: Vec<Term>,
        conn_node: String,
        names_ext: Term,
        nodes: Vec<Term>,
        extra: Vec<Term>,
    ) {
        let added = self.add_to_known(&nodes);
        self.sync_others(&added);
        self.do_ops(&ops, &conn_node, &names_ext, &extra);
        self.send_locker(LockerMsg::AddToKnown(added));
    }

    /// `{in_sync, Node, IsKnown}`.
    pub(super) fn handle_in_sync(&mut self, node: String) {
        self.syncers_synced(&node);
        if !self.synced.contains(&node) {
            self.synced.insert(0, node.clone());
        }
        self.pending.remove(&node);
        let tag = self.session_tag_my(&node).cloned();
        self.cancel_locker(&node, tag, None);
        self.sessions.remove(&node);
        self.touch();
    }

    // ------------------------------------------------------------------
    // prevent_overlapping_partitions
    // ------------------------------------------------------------------

    pub(super) fn handle_lost_connection(
        &mut self,
        msg: Term,
        node_a: String,
        xcre: Term,
        op: Term,
        node_b: String,
    ) {
        if !(self.cfg.connect_all && self.cfg.prevent_overlapping_partitions) {
            return;
        }
        let key = (node_a.clone(), node_b.clone());
        if let Some(old) = self.lost.get(&key) {
            let seen = old.xcreation == xcre
                && matches!((op.as_i64(), old.op_id.as_i64()), (Some(x), Some(y)) if x <= y);
            if seen {
                return;
            }
        }
        self.volatile_multicast(&msg, &node_a);
        self.lost.insert(
            key,
            LostInfo {
                xcreation: xcre,
                op_id: op,
                expires: self.now + LOST_CONN_INFO_CLEANUP,
            },
        );
        let rm = if node_b == self.me { node_a } else { node_b };
        if !self.potentially_known(&rm) {
            return;
        }
        let what = if self.node_vsn(&rm) < POP_VSN {
            self.emit(Output::Disconnect {
                node: Atom::from(rm.as_str()),
            });
            "disconnected old"
        } else {
            let m = term!({(a("remove_connection")), (self.me_atom())});
            self.volatile_send(&rm, m);
            "requested disconnect from"
        };
        tracing::warn!("{}", pop_warning(&self.me, what, &rm));
        self.handle_nodedown(&rm, NodeDownType::RemoveConnection);
    }

    pub(super) fn handle_remove_connection(&mut self, node: String) {
        if !self.potentially_known(&node) {
            return;
        }
        self.emit(Output::Disconnect {
            node: Atom::from(node.as_str()),
        });
        self.handle_nodedown(&node, NodeDownType::RemoveConnection);
        tracing::warn!("{}", pop_warning(&self.me, "disconnected", &node));
    }
}
