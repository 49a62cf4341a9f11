//! `global_name_server`'s `handle_call/3`, `handle_cast/2` and
//! `handle_info/2` of `lib/kernel/src/global.erl`, plus the local API
//! requests and `sync/0,1` (`start_sync/2`, `sync_loop/2`).

use super::{ApiRequest, GlobalCore, Origin, Output, ReplyTo, Role, Syncer, VSN, a, names, sync};
use super::{locker, node_of, opt_tag_eq, random_sleep_max};
use crate::runtime::{Dest, GenCall, GenFrom};
use crate::term;
use crate::term::{Atom, Term, TermExt, int};
use std::time::Duration;

impl GlobalCore {
    // ----------------------------------------------------------------
    // global_name_server: dispatch of handle_call / handle_cast / handle_info
    // ----------------------------------------------------------------

    pub(super) fn server_message(&mut self, msg: Term) {
        let msg = match GenCall::take(msg) {
            Ok(call) => return self.handle_call(call.request, call.from),
            Err(msg) => msg,
        };
        if let Some([tag, m]) = msg.as_tuple() {
            if tag.as_atom() == Some("$gen_cast") {
                return self.handle_cast(m.clone());
            }
        }
        self.handle_info(msg);
    }

    pub(super) fn handle_call(&mut self, req: Term, from: GenFrom) {
        let el = req.as_tuple().unwrap_or(&[]);
        match (req.tuple_tag().or(req.as_atom()), el) {
            (Some("register"), [_, name, Term::Pid(pid), method]) => {
                let caller = from.pid.clone();
                self.ins_name(
                    name.clone(),
                    pid.clone(),
                    method.clone(),
                    Origin::Pid(caller),
                    &[],
                );
                self.reply(ReplyTo::Gen(from), a("yes"));
            }
            (Some("unregister"), [_, name]) => {
                self.delete_global_name2(name);
                self.reply(ReplyTo::Gen(from), a("ok"));
            }
            (Some("register_ext"), [_, name, Term::Pid(pid), method, Term::Atom(reg)]) => {
                let caller = from.pid.clone();
                self.names
                    .insert_ext(name.clone(), pid.clone(), reg.clone());
                self.ins_name(
                    name.clone(),
                    pid.clone(),
                    method.clone(),
                    Origin::Pid(caller),
                    &[],
                );
                self.reply(ReplyTo::Gen(from), a("yes"));
            }
            (Some("set_lock"), [_, id]) => {
                let r = self.handle_set_lock(id, &from.pid);
                self.reply(ReplyTo::Gen(from), crate::term::boolean(r));
            }
            (Some("del_lock"), [_, id]) => {
                self.handle_del_lock(id, &from.pid);
                self.reply(ReplyTo::Gen(from), a("true"));
            }
            (Some("get_known"), _) => {
                let k = self.mk_known_list(0);
                self.reply(ReplyTo::Gen(from), k);
            }
            (Some("get_synced"), _) => {
                let s = crate::term::list(self.synced.iter().map(|n| a(n)).collect());
                self.reply(ReplyTo::Gen(from), s);
            }
            (Some("sync"), [_, nodes]) => {
                let nodes = nodes
                    .as_list()
                    .map(|l| {
                        l.iter()
                            .filter_map(|n| n.as_atom().map(str::to_owned))
                            .collect()
                    })
                    .unwrap_or_default();
                self.start_sync(nodes, ReplyTo::Gen(from));
            }
            (Some("get_protocol_version"), _) => self.reply(ReplyTo::Gen(from), int(VSN)),
            (Some("get_names_ext"), _) => {
                let ext = self.names.ext_list();
                self.reply(ReplyTo::Gen(from), ext);
            }
            (Some("disconnect"), _) => {
                let nodes = self.disconnect_all();
                self.reply(ReplyTo::Gen(from), nodes);
            }
            (Some("registrar"), _) => {
                // A BEAM fun we cannot run; only local Erlang code sends this.
                tracing::warn!("The global_name_server received a registrar call it cannot run");
            }
            _ => tracing::warn!(
                "The global_name_server received an unexpected message:\nhandle_call({}, {}, _)",
                crate::term::Pretty(&req),
                crate::term::Pretty(&Term::Pid(from.pid.clone()))
            ),
        }
    }

    pub(super) fn handle_cast(&mut self, msg: Term) {
        let el = msg.as_tuple().unwrap_or(&[]).to_vec();
        match (msg.tuple_tag(), el.as_slice()) {
            (Some("init_connect"), [_, vsn, Term::Atom(node), init]) => {
                self.handle_init_connect(vsn, node.name.clone(), init.clone())
            }
            (Some("exchange"), [_, Term::Atom(node), names, _ext, tag]) => {
                let names = names.as_list().map(|l| l.into_owned()).unwrap_or_default();
                self.handle_exchange(node.name.clone(), names, tag.clone())
            }
            (Some("resolved"), [_, Term::Atom(node), his_resolved, his_known, _, ext, tag]) => self
                .handle_resolved_cast(
                    node.name.clone(),
                    his_resolved
                        .as_list()
                        .map(|l| l.into_owned())
                        .unwrap_or_default(),
                    his_known
                        .as_list()
                        .map(|l| l.into_owned())
                        .unwrap_or_default(),
                    ext.clone(),
                    tag.clone(),
                ),
            (Some("new_nodes"), [_, Term::Atom(node), ops, ext, nodes, extra]) => self
                .handle_new_nodes(
                    ops.as_list().map(|l| l.into_owned()).unwrap_or_default(),
                    node.name.clone(),
                    ext.clone(),
                    nodes.as_list().map(|l| l.into_owned()).unwrap_or_default(),
                    extra.as_list().map(|l| l.into_owned()).unwrap_or_default(),
                ),
            (Some("in_sync"), [_, Term::Atom(node), _]) => self.handle_in_sync(node.name.clone()),
            (Some("async_del_name" | "async_del_lock"), [_, _, _]) => {}
            (Some("lock_set"), [_, Term::Pid(pid), set, known, tag]) => {
                let node = node_of(pid);
                if opt_tag_eq(self.session_tag_my(&node), tag) {
                    self.send_locker(locker::LockerMsg::LockSet {
                        pid: pid.clone(),
                        set: set.as_bool() == Some(true),
                        his_known: known.clone(),
                        tag: Some(tag.clone()),
                    });
                }
            }
            (Some("lock_set"), [_, Term::Pid(pid), set, known]) => {
                self.send_locker(locker::LockerMsg::LockSet {
                    pid: pid.clone(),
                    set: set.as_bool() == Some(true),
                    his_known: known.clone(),
                    tag: None,
                });
            }
            _ => tracing::warn!(
                "The global_name_server received an unexpected message:\nhandle_cast({}, _)",
                crate::term::Pretty(&msg)
            ),
        }
    }

    pub(super) fn handle_info(&mut self, msg: Term) {
        let el = msg.as_tuple().unwrap_or(&[]).to_vec();
        match (msg.tuple_tag(), el.as_slice()) {
            (Some("nodeup"), [_, Term::Atom(node), info]) => {
                self.handle_nodeup_msg(node.name.clone(), info)
            }
            (Some("nodedown"), [_, Term::Atom(node), _info]) => {
                self.handle_nodedown_msg(node.name.clone())
            }
            // monitor_node/2 of a syncer.
            (Some("nodedown"), [_, Term::Atom(node)]) => self.syncers_nodedown(&node.name),
            (Some("DOWN"), [_, Term::Reference(r), _, _, _]) => {
                let r = (**r).clone();
                self.delete_lock_by_ref(&r);
                self.del_name_by_ref(&r);
            }
            (Some("lost_connection"), [_, Term::Atom(na), xcre, op, Term::Atom(nb)]) => self
                .handle_lost_connection(
                    msg.clone(),
                    na.name.clone(),
                    xcre.clone(),
                    op.clone(),
                    nb.name.clone(),
                ),
            (Some("remove_connection"), [_, Term::Atom(node)]) => {
                self.handle_remove_connection(node.name.clone())
            }
            (Some("cancel_connect"), [_, Term::Atom(node), tag]) => {
                self.handle_cancel_connect(node.name.clone(), tag.clone())
            }
            (Some("init_connect_ack"), [_, Term::Atom(node), his_my, his_his]) => {
                self.handle_init_connect_ack(node.name.clone(), his_my.clone(), his_his.clone())
            }
            (Some("whereis"), [_, name, from]) => self.do_whereis(name.clone(), from.clone()),
            (Some("prepare_shutdown"), [_, Term::Pid(from), r]) => {
                self.cfg.connect_all = false;
                self.cfg.prevent_overlapping_partitions = false;
                let (from, r) = (from.clone(), r.clone());
                self.emit(Output::Send {
                    from: Role::Server,
                    to: Dest::Pid(from),
                    msg: term!({(r), (a("ok"))}),
                });
            }
            (Some("EXIT"), _) => {}
            _ => tracing::warn!(
                "The global_name_server received an unexpected message:\nhandle_info({}, _)",
                crate::term::Pretty(&msg)
            ),
        }
    }

    pub(super) fn api_request(&mut self, token: u64, request: ApiRequest) {
        match request {
            ApiRequest::Register { name, pid, method } => {
                self.registrar_enqueue(names::RegAction::Register { name, pid, method }, token)
            }
            ApiRequest::ReRegister { name, pid, method } => {
                self.registrar_enqueue(names::RegAction::ReRegister { name, pid, method }, token)
            }
            ApiRequest::Unregister { name } => {
                // unregister_name/1 checks where(Name) before calling the registrar.
                if self.names.get(&name).is_none() {
                    self.emit(Output::ApiReply {
                        token,
                        reply: a("ok"),
                    });
                } else {
                    self.registrar_enqueue(names::RegAction::Unregister { name }, token)
                }
            }
            ApiRequest::Sync { nodes } => {
                let nodes = match nodes {
                    Some(n) => n.into_iter().map(|a| a.name).collect(),
                    None => self.conn_ids.keys().cloned().collect(),
                };
                self.start_sync(nodes, ReplyTo::Api(token));
            }
        }
    }

    /// `do_whereis/2`: answers `{whereis, Name, From}` unless the global lock is set.
    pub(super) fn do_whereis(&mut self, name: Term, from: Term) {
        if self.locks.is_set(&a("global")) {
            let t = self.now + Duration::from_millis(self.random_sleep(5));
            self.whereis_retry.push((t, name, from));
            return;
        }
        let reply = self
            .names
            .get(&name)
            .map(|e| Term::Pid(e.pid.clone()))
            .unwrap_or_else(|| a("undefined"));
        if let Some([Term::Pid(pid), tag]) = from.as_tuple() {
            let from = GenFrom {
                pid: pid.clone(),
                tag: tag.clone(),
            };
            self.emit(Output::Reply { from, reply });
        }
    }

    /// `random_sleep(Times)` as a duration in milliseconds.
    pub(super) fn random_sleep(&mut self, times: u32) -> u64 {
        self.rng.uniform(random_sleep_max(times))
    }

    /// `sync/0,1` → `start_sync/2` + `sync_loop/2`.
    pub(super) fn start_sync(&mut self, nodes: Vec<String>, reply: ReplyTo) {
        let pending: Vec<String> = nodes
            .into_iter()
            .filter(|n| *n != self.me && !self.synced.contains(n))
            .collect();
        if pending.is_empty() {
            return self.reply(reply, a("ok"));
        }
        for n in &pending {
            if !self.conn_ids.contains_key(n) {
                self.emit(Output::MonitorNode {
                    node: Atom::from(n.as_str()),
                });
            }
        }
        self.syncers.push(Syncer { reply, pending });
    }

    /// `Pid ! {synced, Nodes}` to every syncer.
    pub(super) fn syncers_synced(&mut self, node: &str) {
        self.syncers_remove(node);
    }

    pub(super) fn syncers_nodedown(&mut self, node: &str) {
        self.syncers_remove(node);
    }

    pub(super) fn syncers_remove(&mut self, node: &str) {
        for s in &mut self.syncers {
            s.pending.retain(|n| n != node);
        }
        let (done, keep): (Vec<_>, Vec<_>) = std::mem::take(&mut self.syncers)
            .into_iter()
            .partition(|s| s.pending.is_empty());
        self.syncers = keep;
        for s in done {
            self.reply(s.reply, a("ok"));
        }
    }

    pub(super) fn rpc_result(&mut self, token: u64, result: Term) {
        self.resolver_rpc_result(token, result);
    }

    /// `handle_call(disconnect, ...)`: disconnect every node with a
    /// connection id, as nodedowns of type `ignore_node`.
    pub(super) fn disconnect_all(&mut self) -> Term {
        let nodes: Vec<String> = self.conn_ids.keys().cloned().collect();
        for n in &nodes {
            self.emit(Output::Disconnect {
                node: Atom::from(n.as_str()),
            });
            self.ignore_nodedown.insert(n.clone());
            self.handle_nodedown(n, sync::NodeDownType::IgnoreNode);
            self.conn_ids.remove(n);
            self.syncers_nodedown(n);
        }
        crate::term::list(nodes.iter().map(|n| a(n)).collect())
    }
}
