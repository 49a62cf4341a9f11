//! `pg` — mirrors `lib/kernel/src/pg.erl` (OTP 25.2, 27.3) and OTP 29.1's
//! `pg.erl` on `data_publisher.erl`: process groups with eventually
//! consistent membership, in scopes (overlay networks) shared with BEAM
//! nodes.
//!
//! * `table`: a scope's table (`{Group, AllPids, LocalPids}` rows).
//! * `msg`: the wire messages, per release (`discover`, `sync`, `join`,
//!   `leave`; OTP 29's `local_data` and `update`).
//! * [`core`]: the sans-IO scope process.
//! * `service`: its tokio driver.
//! * [`Pg`] / [`Scope`]: the API, one method per `pg` function; the same
//!   functions answer over rpc (`rpc:call(Node, pg, get_members, [G])`).
//!
//! ```no_run
//! # async fn demo(node: distro::runtime::Node, kernel: distro::kernel::Kernel) -> Result<(), distro::kernel::pg::PgError> {
//! use distro::term::atom;
//! let scope = kernel.pg.start_scope("my_scope")?;
//! let member = node.spawn(|mut p| async move { let _ = p.recv().await; });
//! scope.join(atom("workers"), &[member.clone()]).await?;
//! // Members on every node running `my_scope`, BEAM or Rust:
//! let everywhere = scope.get_members(&atom("workers"));
//! # let _ = everywhere; Ok(())
//! # }
//! ```

use crate::term;
pub mod core;
mod msg;
mod service;
mod table;

#[cfg(test)]
mod core_test;

pub use msg::Request;
pub use table::Table;

use crate::kernel::rex::{self, Class, Exception};
use crate::runtime::{Node, Process};
use crate::term::{Atom, Pid, Reference, Term, TermExt, atom, list};
use service::Event;
use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};

/// The default scope, started by kernel when `start_pg` is `true`.
pub const DEFAULT_SCOPE: &str = "pg";

/// Why a pg operation failed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PgError {
    /// The scope process is gone (`noproc`).
    #[error("pg scope {0} is not running")]
    NotRunning(String),
    /// A scope of that name is already running (or the name is taken).
    #[error("pg scope {0} is already started")]
    AlreadyStarted(String, Option<Pid>),
    /// Only processes of this node may join or leave (`{nolocal, Pid}`).
    #[error("{} is not a process of this node", crate::term::Pretty(&Term::Pid(.0.clone())))]
    NotLocal(Pid),
    /// The scope answered something this API does not expect.
    #[error("unexpected reply from the pg scope: {}", crate::term::Pretty(.0))]
    Unexpected(Term),
}

/// A handle to the scopes of this node (cheap to clone).
#[derive(Clone)]
pub struct Pg {
    node: Node,
    scopes: Arc<RwLock<HashMap<String, Scope>>>,
}

impl std::fmt::Debug for Pg {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let n = self.scopes.read().map(|s| s.len()).unwrap_or(0);
        write!(f, "Pg({} scopes)", n)
    }
}

/// A running scope (cheap to clone). Reads (`get_members`…) go to its
/// table directly, as they read ETS in OTP; changes go through the scope
/// process.
#[derive(Clone)]
pub struct Scope {
    name: Atom,
    pid: Pid,
    events: mpsc::UnboundedSender<Event>,
    table: Arc<RwLock<Table>>,
}

impl std::fmt::Debug for Scope {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Scope({} {})",
            self.name.name,
            Term::Pid(self.pid.clone())
        )
    }
}

/// `join` or `leave`, in a [`Notification`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    /// Processes joined.
    Join,
    /// Processes left.
    Leave,
}

/// `{Ref, join | leave, Group, Pids}`: what a process monitoring a scope
/// or a group receives.
#[derive(Debug, Clone, PartialEq)]
pub struct Notification {
    /// The reference `monitor_scope` / `monitor` returned.
    pub reference: Reference,
    /// What happened.
    pub change: Change,
    /// The group.
    pub group: Term,
    /// The processes that joined or left.
    pub pids: Vec<Pid>,
}

impl Notification {
    /// Recognises a notification message.
    pub fn parse(msg: &Term) -> Option<Self> {
        let [Term::Reference(r), Term::Atom(a), group, pids] = msg.as_tuple()? else {
            return None;
        };
        let change = match a.name.as_str() {
            "join" => Change::Join,
            "leave" => Change::Leave,
            _ => return None,
        };
        let pids = pids
            .as_list()?
            .iter()
            .map(|p| p.as_pid().cloned())
            .collect::<Option<Vec<_>>>()?;
        Some(Self {
            reference: (**r).clone(),
            change,
            group: group.clone(),
            pids,
        })
    }
}

/// Starts pg on `node`: the default scope if `start_pg` (kernel's
/// `start_pg`), and the `pg` functions over rpc.
pub fn start(node: &Node, rpc: &rex::Registry, start_pg: bool) -> Pg {
    let pg = Pg {
        node: node.clone(),
        scopes: Arc::default(),
    };
    if start_pg {
        if let Err(e) = pg.start_scope(DEFAULT_SCOPE) {
            tracing::error!("cannot start the default pg scope: {e}");
        }
    }
    pg.serve_rpc(rpc);
    pg
}

impl Pg {
    /// `pg:start(Scope)`: starts a scope process registered as `scope`.
    pub fn start_scope(&self, scope: &str) -> Result<Scope, PgError> {
        let scopes = self.scopes.clone();
        let name = scope.to_owned();
        let pid_cell: Arc<std::sync::OnceLock<Pid>> = Arc::default();
        let mine = pid_cell.clone();
        let started = service::start(&self.node, Atom::from(scope), move || {
            let mut s = scopes.write().unwrap_or_else(|e| e.into_inner());
            if s.get(&name).is_some_and(|s| Some(&s.pid) == mine.get()) {
                s.remove(&name);
            }
        })
        .map_err(|holder| PgError::AlreadyStarted(scope.to_owned(), holder))?;
        let _ = pid_cell.set(started.pid.clone());
        let s = Scope {
            name: Atom::from(scope),
            pid: started.pid,
            events: started.events,
            table: started.table,
        };
        self.scopes
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .insert(scope.to_owned(), s.clone());
        Ok(s)
    }

    /// The running scope named `scope`.
    pub fn scope(&self, scope: &str) -> Option<Scope> {
        self.scopes
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(scope)
            .filter(|s| s.is_running())
            .cloned()
    }

    /// The default scope `pg`, if running.
    pub fn default_scope(&self) -> Option<Scope> {
        self.scope(DEFAULT_SCOPE)
    }

    /// The running scope `scope`, or a new one.
    pub fn scope_or_start(&self, scope: &str) -> Result<Scope, PgError> {
        if let Some(s) = self.scope(scope) {
            return Ok(s);
        }
        // Another caller may have started it meanwhile.
        self.start_scope(scope)
            .or_else(|e| self.scope(scope).ok_or(e))
    }

    /// `get_members/2` on a scope that may not run (then `[]`, as OTP's
    /// `catch error:badarg`).
    fn members(&self, scope: &str, group: &Term, local: bool) -> Vec<Pid> {
        self.scope(scope).map_or_else(Vec::new, |s| {
            if local {
                s.get_local_members(group)
            } else {
                s.get_members(group)
            }
        })
    }

    fn serve_rpc(&self, rpc: &rex::Registry) {
        let pids = |v: Vec<Pid>| list(v.into_iter().map(Term::Pid).collect());
        let scope_arg = |t: &Term| t.as_atom().map(str::to_owned);
        for (f, local) in [("get_members", false), ("get_local_members", true)] {
            let pg = self.clone();
            rpc.register_sync("pg", f, 1, move |_, args| match args {
                [g] => Ok(pids(pg.members(DEFAULT_SCOPE, g, local))),
                _ => Err(Exception::badarg()),
            });
            let pg = self.clone();
            rpc.register_sync("pg", f, 2, move |_, args| match args {
                [s, g] => {
                    let s = scope_arg(s).ok_or_else(Exception::badarg)?;
                    Ok(pids(pg.members(&s, g, local)))
                }
                _ => Err(Exception::badarg()),
            });
        }
        for (f, local) in [("which_groups", false), ("which_local_groups", true)] {
            let groups = move |pg: &Self, scope: &str| -> rex::RpcResult {
                // ets:match/select on a missing table: error(badarg).
                let s = pg.scope(scope).ok_or_else(Exception::badarg)?;
                Ok(list(if local {
                    s.which_local_groups()
                } else {
                    s.which_groups()
                }))
            };
            let pg = self.clone();
            rpc.register_sync("pg", f, 0, move |_, _| groups(&pg, DEFAULT_SCOPE));
            let pg = self.clone();
            rpc.register_sync("pg", f, 1, move |_, args| match args {
                [s] => groups(&pg, &scope_arg(s).ok_or_else(Exception::badarg)?),
                _ => Err(Exception::badarg()),
            });
        }
        for (f, join) in [("join", true), ("leave", false)] {
            for arity in [2, 3] {
                rpc.register_with(
                    "pg",
                    f,
                    arity,
                    self.clone(),
                    move |pg, _, args| async move { pg.rpc_join_leave(join, args).await },
                );
            }
        }
        let pg = self.clone();
        rpc.register_sync("pg", "start", 1, move |_, args| {
            let Some(scope) = args.first().and_then(scope_arg) else {
                return Err(Exception::error(term!({ function_clause })));
            };
            Ok(match pg.start_scope(&scope) {
                Ok(s) => term!({ok, (Term::Pid(s.pid))}),
                Err(PgError::AlreadyStarted(_, Some(p))) => {
                    term!({error, {already_started, (Term::Pid(p))}})
                }
                Err(e) => term!({error, (atom(&e.to_string()))}),
            })
        });
    }

    /// `pg:join/2,3` and `pg:leave/2,3` called over rpc.
    async fn rpc_join_leave(&self, join: bool, args: Vec<Term>) -> rex::RpcResult {
        let (scope, group, who) = match args.as_slice() {
            [g, w] => (DEFAULT_SCOPE.to_owned(), g.clone(), w.clone()),
            [Term::Atom(s), g, w] => (s.name.clone(), g.clone(), w.clone()),
            _ => return Err(Exception::error(atom("function_clause"))),
        };
        let pids: Vec<Pid> = match &who {
            Term::Pid(p) => vec![p.clone()],
            t => match t.as_list() {
                Some(l) => l
                    .iter()
                    .map(|p| p.as_pid().cloned())
                    .collect::<Option<Vec<_>>>()
                    .ok_or_else(|| nolocal(&who))?,
                None => return Err(Exception::error(atom("function_clause"))),
            },
        };
        if let Some(bad) = pids.iter().find(|p| p.node != *self.node.name()) {
            return Err(nolocal(&Term::Pid(bad.clone())));
        }
        let noproc = || {
            let req = term!({(atom(if join { "join_local" } else { "leave_local" })), (group.clone()), (who.clone())});
            let call = list(vec![atom(&scope), req, atom("infinity")]);
            Exception {
                class: Class::Exit,
                reason: term!({noproc, {gen_server, call, (call)}}),
            }
        };
        let s = self.scope(&scope).ok_or_else(noproc)?;
        let r = if join {
            s.join(group.clone(), &pids).await.map(|()| atom("ok"))
        } else {
            s.leave(group.clone(), &pids)
                .await
                .map(|left| atom(if left { "ok" } else { "not_joined" }))
        };
        r.map_err(|_| noproc())
    }
}

fn nolocal(bad: &Term) -> Exception {
    Exception::error(term!({nolocal, (bad.clone())}))
}

impl Scope {
    /// The scope's name.
    pub fn name(&self) -> &str {
        &self.name.name
    }

    /// The scope process.
    pub fn pid(&self) -> &Pid {
        &self.pid
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Table> {
        self.table.read().unwrap_or_else(|e| e.into_inner())
    }

    async fn call(&self, caller: Option<Pid>, request: Request) -> Result<Term, PgError> {
        let (tx, rx) = oneshot::channel();
        let gone = || PgError::NotRunning(self.name.name.clone());
        self.events
            .send(Event::Api {
                caller,
                request,
                reply: tx,
            })
            .map_err(|_| gone())?;
        let r = rx.await.map_err(|_| gone())?;
        if r.tuple_tag() == Some("error") {
            if let Some(Term::Pid(p)) = r.elem(1).and_then(|e| e.elem(1)) {
                return Err(PgError::NotLocal(p.clone()));
            }
        }
        Ok(r)
    }

    /// `pg:join(Scope, Group, Pids)`: processes of this node join `group`
    /// (a process may join several times, and must then leave as often).
    pub async fn join(&self, group: Term, pids: &[Pid]) -> Result<(), PgError> {
        let pids = pids.to_vec();
        match self.call(None, Request::Join { group, pids }).await? {
            r if r.as_atom() == Some("ok") => Ok(()),
            r => Err(PgError::Unexpected(r)),
        }
    }

    /// `pg:leave(Scope, Group, Pids)`: `true` for `ok`, `false` for
    /// `not_joined` (none of them was a member).
    pub async fn leave(&self, group: Term, pids: &[Pid]) -> Result<bool, PgError> {
        let pids = pids.to_vec();
        match self.call(None, Request::Leave { group, pids }).await? {
            r if r.as_atom() == Some("ok") => Ok(true),
            r if r.as_atom() == Some("not_joined") => Ok(false),
            r => Err(PgError::Unexpected(r)),
        }
    }

    /// `pg:get_members(Scope, Group)`: the members on every node.
    pub fn get_members(&self, group: &Term) -> Vec<Pid> {
        self.read().members(group)
    }

    /// `pg:get_local_members(Scope, Group)`: the members on this node.
    pub fn get_local_members(&self, group: &Term) -> Vec<Pid> {
        self.read().local_members(group)
    }

    /// `pg:which_groups(Scope)`: the groups with members.
    pub fn which_groups(&self) -> Vec<Term> {
        self.read().groups()
    }

    /// `pg:which_local_groups(Scope)`: the groups with members on this node.
    pub fn which_local_groups(&self) -> Vec<Term> {
        self.read().local_groups()
    }

    /// `pg:monitor_scope(Scope)` from process `p`: every group with its
    /// members, and the reference of the [`Notification`]s `p` receives
    /// from now on.
    pub async fn monitor_scope(
        &self,
        p: &Process,
    ) -> Result<(Reference, Vec<(Term, Vec<Pid>)>), PgError> {
        let r = self
            .call(Some(p.pid().clone()), Request::MonitorScope)
            .await?;
        let bad = || PgError::Unexpected(r.clone());
        let (Some(Term::Reference(mref)), Some(Term::Map(m))) = (r.elem(0), r.elem(1)) else {
            return Err(bad());
        };
        let mut groups: Vec<(Term, Vec<Pid>)> = m
            .map
            .iter()
            .map(|(g, ps)| {
                let ps = ps
                    .as_list()
                    .map(|l| l.iter().filter_map(|p| p.as_pid().cloned()).collect())
                    .unwrap_or_default();
                (g.clone(), ps)
            })
            .collect();
        groups.sort_by(|a, b| crate::term::cmp_terms(&a.0, &b.0));
        Ok(((**mref).clone(), groups))
    }

    /// `pg:monitor(Scope, Group)` from process `p`: the members of `group`
    /// and the reference of the [`Notification`]s `p` receives about it.
    pub async fn monitor(
        &self,
        p: &Process,
        group: Term,
    ) -> Result<(Reference, Vec<Pid>), PgError> {
        let r = self
            .call(Some(p.pid().clone()), Request::MonitorGroup(group))
            .await?;
        let (Some(Term::Reference(mref)), Some(ps)) =
            (r.elem(0), r.elem(1).and_then(TermExt::as_list))
        else {
            return Err(PgError::Unexpected(r));
        };
        let pids = ps.iter().filter_map(|p| p.as_pid().cloned()).collect();
        Ok(((**mref).clone(), pids))
    }

    /// `pg:demonitor(Scope, Ref)` from process `p`: stops the
    /// notifications and removes those already in `p`'s mailbox; `false`
    /// if `reference` was not a monitor of this scope.
    pub async fn demonitor(&self, p: &mut Process, reference: &Reference) -> Result<bool, PgError> {
        let r = self
            .call(Some(p.pid().clone()), Request::Demonitor(reference.clone()))
            .await?;
        if r.as_atom() != Some("ok") {
            return Ok(false);
        }
        let ours = |m: &Term| Notification::parse(m).is_some_and(|n| &n.reference == reference);
        while p.receive_timeout(Duration::ZERO, ours).await.is_some() {}
        Ok(true)
    }

    /// Stops the scope process (`gen_server:stop/1`): peers drop its
    /// members, and its table is gone.
    pub fn stop(&self) {
        let _ = self.events.send(Event::Stop);
    }

    /// Whether the scope process still runs.
    pub fn is_running(&self) -> bool {
        !self.events.is_closed()
    }
}
