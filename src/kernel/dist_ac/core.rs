//! The sans-IO dist_ac — a port of
//! [`lib/kernel/src/dist_ac.erl`](https://github.com/erlang/otp/blob/OTP-25.2.3/lib/kernel/src/dist_ac.erl)
//! (OTP 25.2.3; the protocol is unchanged up to OTP 29).
//!
//! [`DistAc`] is fed inputs ([`DistAc::handle`], [`DistAc::handle_timeout`])
//! and hands out commands ([`DistAc::poll_output`]); it never touches a
//! socket, a clock or a task. `now` is passed in.
//!
//! ```text
//!  Input::Dac / NodeDown / Ac / Call / Go      ┌──────────────┐  Output::Send {dist_ac_*}
//!  Input::LockResult / Unlocked / Whereis ───► │    DistAc     │ ─► Output::ToAc(ac_*)
//!  handle_timeout(now) (send_after timers) ──► │ mailbox+wait  │ ─► Output::SetLock / DelLock / Whereis
//!                                              └──────────────┘ ─► Output::Reply / TookControl / SyncDone / Stop
//! ```
//!
//! # One process, explicit waits
//!
//! OTP's dist_ac is one gen_server that blocks inside some handlers in
//! selective receives (`wait_dacs/4`, `collect_answers/4`,
//! `wait_dist_start/7`, `wait_dist_start2/6`) and in synchronous calls
//! (`global:set_lock/del_lock`, `rpc:call(N, erlang, whereis, [dist_ac])`).
//! While it waits, every other message stays in its mailbox. Peers can see
//! that (a weight request is answered only after the current decision), so
//! this port keeps it: a blocking receive is an explicit [`Wait`] value
//! naming the application and the state it is in (`CollectingWeights`,
//! `WaitDistStart`, ...), the rest of the mailbox is a queue, and a new wait
//! first scans the queue, as `receive` does.
//!
//! `nodedown` comes twice in OTP when a wait has a `monitor_node/2` on the
//! node (once from the monitor, once from `net_kernel:monitor_nodes/1`):
//! such a wait consumes one copy and the main loop still sees the other.
//! `wait_dist_start2/6` has no monitor and consumes the only copy. Both are
//! reproduced.
//!
//! Waits are not run concurrently per application, although each names its
//! application and the per-application `#appl.id` values (`run_waiting`,
//! `{failover, N}`, ...) are kept as OTP keeps them: concurrent waits would
//! answer weight requests that OTP defers, and the weight exchange's
//! outcome depends on exactly that order (see the permit test of
//! `sim_test.rs`). One known difference: `monitor_node(N, true)` on a node
//! that is not connected gives `{nodedown, N}` at once here, where OTP
//! first tries to connect to it (dist_ac only waits for nodes it has just
//! heard from, so this does not arise in practice).

use super::msg::{
    Appl, ChangeReq, DacMsg, FromAc, NodeName, NodesSpec, Perm, RestartTime, StartReply, ToAc,
};
use crate::term;
use crate::term::{Atom, Term};
use std::collections::VecDeque;
use std::time::{Duration, Instant};

pub use super::decide::{After, DecisionWait, StartType};

/// Identifies a call made to dist_ac (from the Rust API or a BEAM caller),
/// so that its reply can be routed back.
pub type CallId = u64;

/// A request made with a call to dist_ac (`gen_server:call(dist_ac, ...)`).
#[derive(Debug, Clone, PartialEq)]
pub enum Call {
    /// `{takeover_application, App, RestartType}` (`application:takeover/2`).
    TakeoverApplication {
        /// The application.
        app: Atom,
        /// `permanent | transient | temporary`.
        restart_type: Atom,
    },
    /// `{permit_application, App, Bool, LockId, started | only_loaded}`.
    PermitApplication {
        /// The application.
        app: Atom,
        /// The new permission.
        permitted: bool,
        /// `{dist_ac, CallerPid}`, held by the caller around the call.
        lock_id: Term,
        /// `only_loaded` instead of `started`.
        only_loaded: bool,
    },
    /// `{get_nodes, App}`: the alive nodes of the application.
    GetNodes {
        /// The application.
        app: Atom,
    },
    /// `get_known_nodes`.
    GetKnownNodes,
    /// `{load_application, App, DistNodes}` (`application:load/2`).
    LoadApplication {
        /// The application.
        app: Atom,
        /// `default` (None) or `{App, Time, Nodes}`.
        dist: Option<(RestartTime, NodesSpec)>,
    },
}

/// Where a dist_ac message goes.
#[derive(Debug, Clone, PartialEq)]
pub enum Dest {
    /// `{dist_ac, Node}` (REG_SEND).
    Name(NodeName),
    /// A dist_ac pid learnt from `rpc:call(Node, erlang, whereis, [dist_ac])`.
    Pid(Term),
}

/// An input to [`DistAc::handle`].
#[derive(Debug, Clone, PartialEq)]
pub enum Input {
    /// `{go, KernelConfig}` from kernel_config: read the config, sync.
    Go,
    /// A `dist_ac_*` message from a peer.
    Dac(DacMsg),
    /// `{nodeup, Node}` (a visible node connected).
    NodeUp(NodeName),
    /// `{nodedown, Node}`.
    NodeDown(NodeName),
    /// A message from the local application controller.
    Ac(FromAc),
    /// A call.
    Call(CallId, Call),
    /// The answer to the outstanding [`Output::SetLock`].
    LockResult(bool),
    /// The outstanding [`Output::DelLock`] is done.
    Unlocked,
    /// The answer to the outstanding [`Output::Whereis`]: the pid, if any.
    Whereis(Option<Term>),
    /// An answer to an [`Output::AskPeer`]: `app` runs at `node` (not in
    /// OTP).
    RunsAt {
        /// The node asked.
        node: NodeName,
        /// An application it runs.
        app: Atom,
        /// What that node is.
        peer: Peer,
        /// The question's [`Output::AskPeer`] `asked`.
        asked: u64,
    },
    /// The first answer to an [`Output::AskPeer`]: `node`'s dist_ac does not
    /// count us among its known nodes.
    Unknown {
        /// The node asked.
        node: NodeName,
    },
    /// The first answer to an [`Output::AskPeer`] of a distro node: its
    /// dist_ac counts us among its known nodes (it saw no nodedown of us,
    /// while we did of it). When we do not count it, we introduce ourselves
    /// again (a distro dist_ac does not count a known node twice).
    KnowsUs {
        /// The node asked.
        node: NodeName,
    },
    /// The answer to an [`Output::RemoteTakeover`] of `app` by `node`.
    TookOver {
        /// The node asked to take it over.
        node: NodeName,
        /// The application.
        app: Atom,
        /// Whether it answered `ok` (the application runs there now).
        ok: bool,
    },
    /// The answer to an [`Output::AwaitStopped`]: `app` no longer runs at
    /// `node` (or `node` did not answer, or the wait ran out).
    Stopped {
        /// The node watched (this one, or the other side).
        node: NodeName,
        /// The application.
        app: Atom,
    },
}

/// The node an [`Output::AskPeer`] asked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Peer {
    /// A distro node (`erlang:system_info(machine)` is `"distro"`): it
    /// heals partitions too.
    Distro,
    /// A BEAM node, which does not.
    Beam {
        /// Whether its dist_ac counts us among its known nodes
        /// (`dist_ac:get_known_nodes()`): it does after it restarted (its
        /// dist_ac introduced itself), not after a partition (nodedown took
        /// us out). When it does, its own takeover is what ends the second
        /// copy.
        knows_us: bool,
    },
}

/// A command for the driver.
#[derive(Debug, Clone, PartialEq)]
pub enum Output {
    /// Send a message to a peer's dist_ac.
    Send {
        /// Where.
        to: Dest,
        /// What.
        msg: DacMsg,
    },
    /// Tell the local application controller.
    ToAc(ToAc),
    /// `global:set_lock(Id, Nodes, Retries)` from the dist_ac process;
    /// answer with [`Input::LockResult`]. `retries: None` = infinity.
    SetLock {
        /// `{dist_ac, sync_dacs}` or `{dist_ac, Pid}`.
        id: Term,
        /// Where.
        nodes: Vec<NodeName>,
        /// Retries (None = infinity).
        retries: Option<u32>,
    },
    /// `global:del_lock(Id, Nodes)`; answer with [`Input::Unlocked`].
    DelLock {
        /// The lock.
        id: Term,
        /// Where.
        nodes: Vec<NodeName>,
    },
    /// `rpc:call(Node, erlang, whereis, [dist_ac])`; answer with [`Input::Whereis`].
    Whereis {
        /// The node asked.
        node: NodeName,
    },
    /// The reply to a [`Call`].
    Reply {
        /// Which call.
        call: CallId,
        /// `gen_server:reply/2` value.
        reply: Term,
    },
    /// `dist_ac_took_control` to kernel_config.
    TookControl,
    /// Beyond OTP (healing a partition): asked of a node of the
    /// `distributed` lists that comes back after a nodedown. First
    /// `rpc:call(Node, dist_ac, get_known_nodes, [])` (which waits until
    /// its dist_ac is past its boot sync) and `rpc:call(Node, erlang,
    /// system_info, [machine])`, answered with [`Input::Unknown`] when we
    /// are not among them (a partition took each side out of the other's
    /// known nodes, and OTP's dist_ac leaves it so, deciding later
    /// failovers without it), or [`Input::KnowsUs`] when we are and it is
    /// a distro node; then, when `apps` is not empty,
    /// `rpc:call(Node, application, which_applications, [])`, answered
    /// with an [`Input::RunsAt`] for each of `apps` that runs there, whose
    /// [`Peer::Beam`] `knows_us` comes from that same first answer.
    AskPeer {
        /// The node that came back.
        node: NodeName,
        /// Applications we run that it may run too.
        apps: Vec<Atom>,
        /// Given back in each [`Input::RunsAt`]: how many healings had
        /// begun here when this was asked. An answer that a healing with
        /// that node begun since overtook is stale (a connection that went
        /// down and up again asks twice) and is ignored.
        asked: u64,
    },
    /// Beyond OTP (healing a partition): wait until `app` no longer runs
    /// at `node` (this node or the other side): `which_applications` of
    /// `node`'s application controller, asked again every 100 ms until
    /// `app` is not among them, `node` does not answer, or 30 s pass.
    /// Answered with [`Input::Stopped`]. The copy that stays starts its new
    /// instance only after the other one is gone: a process of the other
    /// copy that `global` killed in its name clash and its supervisor
    /// restarted would otherwise register the name again, over the new
    /// instance's, and take it away when that copy stops.
    AwaitStopped {
        /// Where `app` is stopping.
        node: NodeName,
        /// The application.
        app: Atom,
    },
    /// Beyond OTP (healing a partition, we lose to a BEAM node): after our
    /// copy stopped and `{dist_ac_app_started, Me, App, ok}` made `node`
    /// stop its copy and record the application as running here, have it
    /// take the application over, as `application:takeover(App, Type)`
    /// called there does: `rpc:call(Node, application, takeover, [App,
    /// Type])`, with the restart type its application controller started
    /// `app` with (`application:info()`). Answered with [`Input::TookOver`]
    /// (`node`'s dist_ac tells only its `known` nodes, which no longer
    /// include us).
    RemoteTakeover {
        /// The node of higher priority.
        node: NodeName,
        /// The application.
        app: Atom,
    },
    /// The boot sync is over (`ets:insert(ac_tab, {sync_dacs, ok})`).
    SyncDone,
    /// dist_ac exits (e.g. `{distribution_mismatch, App, Node}`); on BEAM
    /// this takes the kernel, and the node, down.
    Stop {
        /// Exit reason.
        reason: Term,
    },
}

/// One `distributed` entry: `{App, Nodes}`, `{App, Time, Nodes}`.
#[derive(Debug, Clone, PartialEq)]
pub struct DistEntry {
    /// Application.
    pub app: Atom,
    /// Restart time.
    pub restart_time: RestartTime,
    /// Priority list.
    pub nodes: NodesSpec,
}

/// What dist_ac reads from the kernel environment.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Config {
    /// kernel `distributed`.
    pub distributed: Vec<DistEntry>,
    /// kernel `permissions` (`[{App, Bool}]`).
    pub permissions: Vec<(Atom, bool)>,
    /// kernel `distro_heal_partitions` (default `true`; `false` is OTP's
    /// behaviour: both copies keep running): when a node comes back after
    /// a partition and both sides run the application, one copy stays,
    /// where the priority order puts it, through an ordinary takeover
    /// (README, "Netsplits that heal").
    pub heal_partitions: bool,
}

/// A message in the mailbox (inputs handled by the main loop).
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Mail {
    Go,
    Dac(DacMsg),
    NodeUp(NodeName),
    NodeDown(NodeName),
    Ac(FromAc),
    Call(CallId, Call),
    /// `{internal_restart_appl, App}` from a `send_after` timer.
    RestartAppl(Atom),
    /// [`Input::RunsAt`].
    RunsAt(NodeName, Atom, Peer, u64),
    /// [`Input::TookOver`].
    TookOver(NodeName, Atom, bool),
    /// [`Input::Stopped`].
    Stopped(NodeName, Atom),
    /// [`Input::Unknown`].
    Unknown(NodeName),
    /// [`Input::KnowsUs`].
    KnowsUs(NodeName),
}

/// `{From, App, Bool, Nodes}` of `#state.p_reqs`.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct PermitReq {
    pub(super) from: Option<CallId>,
    pub(super) app: Atom,
    pub(super) permitted: bool,
    pub(super) nodes: Vec<NodeName>,
}

/// The blocking receive or call dist_ac is in.
#[derive(Debug, Clone)]
pub enum Wait {
    /// `handle_cast(init_sync)`: waiting for `{go, KC}`.
    Go,
    /// Boot: `global:trans({dist_ac, sync_dacs}, ...)` taking the lock.
    SyncLock {
        /// Nodes of the lock.
        lock_nodes: Vec<NodeName>,
    },
    /// Boot: `introduce_me/2`, one `rpc:call` per node in turn.
    Introducing {
        /// Nodes of the lock.
        lock_nodes: Vec<NodeName>,
        /// The node asked now, then the rest.
        remaining: VecDeque<NodeName>,
        /// Nodes that have a dist_ac and got our introduction.
        introduced: Vec<NodeName>,
    },
    /// Boot: `wait_dacs/4`, one node after the other.
    WaitDacs {
        /// Nodes of the lock.
        lock_nodes: Vec<NodeName>,
        /// The node waited for now, then the rest.
        remaining: VecDeque<NodeName>,
        /// `[node()]` plus the nodes that answered.
        known: Vec<NodeName>,
        /// Our records merged with the answers.
        appls: Vec<Appl>,
        /// `Started` lists of the answers.
        rstarted: Vec<(NodeName, Atom)>,
    },
    /// Boot: the `del_lock` that ends the trans.
    SyncUnlock {
        /// Result of the sync.
        known: Vec<NodeName>,
        /// Result of the sync.
        appls: Vec<Appl>,
        /// Result of the sync.
        rstarted: Vec<(NodeName, Atom)>,
    },
    /// `ac_start_application_req`: `global:set_lock({dist_ac, self()}, [node()], 0)`.
    StartLock {
        /// The application.
        app: Atom,
    },
    /// A start decision is waiting (see [`DecisionWait`]).
    Deciding(Box<DecisionWait>),
    /// `global:del_lock/1` after a start decision or a permit.
    Unlock {
        /// What to do once released.
        then: Box<AfterUnlock>,
    },
}

/// What follows a `del_lock` made from inside a handler.
#[derive(Debug, Clone)]
pub enum AfterUnlock {
    /// Nothing.
    Nothing,
    /// `permit/6`: remember the caller in `t_reqs`.
    TakeoverWaiter {
        /// The application.
        app: Atom,
        /// The caller.
        call: CallId,
    },
}

/// A `send_after/2` timer.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Timer {
    pub(super) at: Instant,
    pub(super) seq: u64,
    pub(super) msg: TimerMsg,
}

/// What a timer sends to dist_ac.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum TimerMsg {
    /// `{internal_restart_appl, App}`.
    RestartAppl(Atom),
    /// `{ac_start_application_req, App}` (lock busy, retry in 100 ms).
    StartReq(Atom),
}

/// The distributed application controller of one node.
#[derive(Debug, Clone)]
pub struct DistAc {
    pub(super) me: NodeName,
    pub(super) self_pid: Term,
    pub(super) config: Config,
    // #state{}
    pub(super) appls: Vec<Appl>,
    pub(super) tmp_locals: Vec<(Atom, i64, NodeName)>,
    /// `[{Node, App}]`: where an application not started here runs.
    /// Beyond OTP, at most one entry per application (see
    /// [`Self::note_remote_started`]).
    pub(super) remote_started: Vec<(NodeName, Atom)>,
    pub(super) known: Vec<NodeName>,
    pub(super) started: Vec<Atom>,
    pub(super) tmp_weights: Vec<(Atom, i64)>,
    pub(super) dist_loaded: Vec<(Atom, NodeName, NodesSpec, Perm)>,
    pub(super) t_reqs: Vec<(Atom, CallId)>,
    pub(super) s_reqs: Vec<(Atom, CallId)>,
    pub(super) p_reqs: Vec<PermitReq>,
    /// Nodes that went down while this dist_ac ran (not in OTP): a nodeup
    /// of one of them may heal a partition (`heal_nodeup`).
    pub(super) lost: Vec<NodeName>,
    /// Healing takeovers under way here (not in OTP): `(App, From)`. OTP's
    /// dist_ac tells only its `known` nodes that the application runs
    /// here, and a node apart for a while is no longer one of them, so
    /// `From` is told on its own.
    pub(super) healing: Vec<(Atom, NodeName)>,
    /// Healing stops under way (not in OTP): `(App, Other)`, waiting for
    /// an [`Input::Stopped`] before the copy that stays starts again.
    pub(super) heal_stops: Vec<(Atom, NodeName)>,
    /// Healings begun here (not in OTP): how many, and the last one with
    /// each node, `(App, Node, Number)`, against stale [`Input::RunsAt`].
    pub(super) heals_begun: u64,
    pub(super) last_heal: Vec<(Atom, NodeName, u64)>,
    /// Nodes we introduced ourselves to again after a partition (not in
    /// OTP): their `dist_ac_new_node` reply makes them known again.
    pub(super) reintroduced: Vec<NodeName>,
    // process machinery
    pub(super) connected: Vec<NodeName>,
    pub(super) monitoring: bool,
    pub(super) mailbox: VecDeque<Mail>,
    pub(super) wait: Option<Wait>,
    pub(super) timers: Vec<Timer>,
    pub(super) timer_seq: u64,
    pub(super) now: Option<Instant>,
    pub(super) out: VecDeque<Output>,
    pub(super) weight: i64,
    pub(super) sync_done: bool,
    pub(super) stopped: Option<Term>,
}

impl DistAc {
    /// A dist_ac for node `me` whose process is `self_pid` (used in lock
    /// ids `{dist_ac, Pid}`), started and waiting for [`Input::Go`].
    pub fn new(me: NodeName, self_pid: Term, config: Config) -> Self {
        Self {
            me,
            self_pid,
            config,
            appls: Vec::new(),
            tmp_locals: Vec::new(),
            remote_started: Vec::new(),
            known: Vec::new(),
            healing: Vec::new(),
            heal_stops: Vec::new(),
            heals_begun: 0,
            last_heal: Vec::new(),
            reintroduced: Vec::new(),
            started: Vec::new(),
            tmp_weights: Vec::new(),
            dist_loaded: Vec::new(),
            t_reqs: Vec::new(),
            s_reqs: Vec::new(),
            p_reqs: Vec::new(),
            lost: Vec::new(),
            connected: Vec::new(),
            monitoring: false,
            mailbox: VecDeque::new(),
            wait: Some(Wait::Go),
            timers: Vec::new(),
            timer_seq: 0,
            now: None,
            out: VecDeque::new(),
            weight: 0,
            sync_done: false,
            stopped: None,
        }
    }

    // ----- getters ---------------------------------------------------

    /// This node.
    pub fn node(&self) -> &NodeName {
        &self.me
    }

    /// The records of the controlled applications (`#state.appls`).
    pub fn appls(&self) -> &[Appl] {
        &self.appls
    }

    /// The record of `app`.
    pub fn appl(&self, app: &str) -> Option<&Appl> {
        self.appls.iter().find(|a| a.name.name == app)
    }

    /// `#state.known`.
    pub fn known(&self) -> &[NodeName] {
        &self.known
    }

    /// Whether the boot sync (`sync_dacs`) is over.
    pub fn is_synced(&self) -> bool {
        self.sync_done
    }

    /// The exit reason, once dist_ac has stopped.
    pub fn stopped(&self) -> Option<&Term> {
        self.stopped.as_ref()
    }

    /// The blocking receive or call dist_ac is in, if any.
    pub fn waiting(&self) -> Option<&Wait> {
        self.wait.as_ref()
    }

    /// Number of messages waiting in the mailbox.
    pub fn mailbox_len(&self) -> usize {
        self.mailbox.len()
    }

    // ----- inputs ------------------------------------------------------

    /// The weight this node announces: `length(application:which_applications())`,
    /// read by OTP at the moment of each decision. The driver keeps it current.
    pub fn set_weight(&mut self, weight: i64) {
        self.weight = weight;
    }

    /// Feeds one input.
    pub fn handle(&mut self, now: Instant, input: Input) {
        self.now = Some(now);
        if self.stopped.is_some() {
            return;
        }
        let mail = match input {
            Input::Go => Mail::Go,
            Input::Dac(m) => Mail::Dac(m),
            Input::NodeUp(n) => {
                if !self.connected.contains(&n) && n != self.me {
                    self.connected.push(n.clone());
                }
                if !self.monitoring {
                    return;
                }
                Mail::NodeUp(n)
            }
            Input::NodeDown(n) => {
                self.connected.retain(|c| *c != n);
                if !self.monitoring {
                    // Not subscribed yet (before `go`): no monitor_node wait
                    // exists either.
                    return;
                }
                Mail::NodeDown(n)
            }
            Input::Ac(m) => Mail::Ac(m),
            Input::Call(id, c) => Mail::Call(id, c),
            Input::LockResult(ok) => return self.op_done(OpAnswer::Lock(ok)),
            Input::Unlocked => return self.op_done(OpAnswer::Unlocked),
            Input::Whereis(pid) => return self.op_done(OpAnswer::Whereis(pid)),
            Input::RunsAt {
                node,
                app,
                peer,
                asked,
            } => Mail::RunsAt(node, app, peer, asked),
            Input::TookOver { node, app, ok } => Mail::TookOver(node, app, ok),
            Input::Stopped { node, app } => Mail::Stopped(node, app),
            Input::Unknown { node } => Mail::Unknown(node),
            Input::KnowsUs { node } => Mail::KnowsUs(node),
        };
        self.deliver(mail);
    }

    /// Fires the timers due at `now`.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.now = Some(now);
        if self.stopped.is_some() {
            return;
        }
        loop {
            let due = self
                .timers
                .iter()
                .enumerate()
                .filter(|(_, t)| t.at <= now)
                .min_by_key(|(_, t)| (t.at, t.seq))
                .map(|(i, _)| i);
            let Some(i) = due else { break };
            let t = self.timers.remove(i);
            let mail = match t.msg {
                TimerMsg::RestartAppl(a) => Mail::RestartAppl(a),
                TimerMsg::StartReq(a) => Mail::Ac(FromAc::StartReq(a)),
            };
            self.deliver(mail);
        }
    }

    // ----- outputs ----------------------------------------------------

    /// The next command.
    pub fn poll_output(&mut self) -> Option<Output> {
        self.out.pop_front()
    }

    /// When [`DistAc::handle_timeout`] must be called next.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.timers.iter().map(|t| t.at).min()
    }

    // ----- process machinery -----------------------------------------

    /// `[{Node, App} | RemoteStarted]`, with the application's older
    /// entries dropped. OTP keeps them, and `keydelete/3` later removes
    /// only the newest: after a takeover (cp3 ran the app, then cp1 took
    /// it over) a node that heard of both keeps `{cp3, App}` once cp1's
    /// entry is gone. When cp1 then went down, that node's failover
    /// decision read "already running at cp3" and never sent its weight,
    /// while cp3, which had stopped, waited for that weight for ever: the
    /// application ran nowhere (the fault campaign, ddd seed 43).
    pub(super) fn note_remote_started(&mut self, node: NodeName, app: Atom) {
        self.remote_started.retain(|(_, a)| *a != app);
        self.remote_started.insert(0, (node, app));
    }

    pub(super) fn emit(&mut self, o: Output) {
        self.out.push_back(o);
    }

    pub(super) fn send(&mut self, node: &NodeName, msg: DacMsg) {
        if *node != self.me {
            self.emit(Output::Send {
                to: Dest::Name(node.clone()),
                msg,
            });
        }
    }

    /// `send_msg/2`: to `{dist_ac, N}` for every N but us.
    pub(super) fn send_all(&mut self, nodes: &[NodeName], msg: &DacMsg) {
        for n in nodes {
            self.send(n, msg.clone());
        }
    }

    pub(super) fn tell_ac(&mut self, m: ToAc) {
        self.emit(Output::ToAc(m));
    }

    pub(super) fn reply(&mut self, call: CallId, reply: Term) {
        self.emit(Output::Reply { call, reply });
    }

    pub(super) fn send_after(&mut self, time: RestartTime, msg: TimerMsg) {
        let RestartTime::Ms(ms) = time else { return };
        let now = self.now.unwrap_or_else(Instant::now);
        self.timer_seq += 1;
        self.timers.push(Timer {
            at: now + Duration::from_millis(ms),
            seq: self.timer_seq,
            msg,
        });
    }

    pub(super) fn stop(&mut self, reason: Term) {
        tracing::error!(
            "dist_ac on node {}: exiting with reason {}",
            self.me.name,
            crate::term::Pretty(&reason)
        );
        self.stopped = Some(reason.clone());
        self.wait = None;
        self.mailbox.clear();
        self.timers.clear();
        self.emit(Output::Stop { reason });
    }

    /// `[node() | nodes()]`.
    pub(super) fn all_nodes(&self) -> Vec<NodeName> {
        let mut v = vec![self.me.clone()];
        v.extend(self.connected.iter().cloned());
        v
    }

    /// A message arrives: a waiting receive may take it, else it queues.
    fn deliver(&mut self, mail: Mail) {
        if self.wait.is_none() {
            self.mailbox.push_back(mail);
            self.run();
            return;
        }
        // With a monitor_node/2 on the node, OTP gets {nodedown, Node} twice
        // (monitor and monitor_nodes): the wait takes one, the other stays.
        if matches!(&mail, Mail::NodeDown(n) if self.wait_monitors(n)) {
            self.mailbox.push_back(mail.clone());
        }
        if self.try_wait(&mail) == Consumed::No {
            self.mailbox.push_back(mail);
        }
        self.run();
    }

    /// Handles queued mail while no wait blocks the process.
    pub(super) fn run(&mut self) {
        while self.wait.is_none() && self.stopped.is_none() {
            let Some(m) = self.mailbox.pop_front() else {
                break;
            };
            self.handle_mail(m);
        }
    }

    /// Enters a blocking receive: first scans the mailbox, as `receive` does.
    pub(super) fn block(&mut self, w: Wait) {
        self.wait = Some(w);
        // monitor_node(Node, true) on a node that is not connected delivers
        // {nodedown, Node} at once, behind what is already queued.
        if let Some(n) = self.monitored_node() {
            if !self.connected.contains(&n) {
                self.mailbox.push_back(Mail::NodeDown(n));
            }
        }
        let mut i = 0;
        while i < self.mailbox.len() && self.wait.is_some() {
            let Some(m) = self.mailbox.remove(i) else {
                break;
            };
            // Taken out first: what the wait continues with may block again
            // and scan the mailbox.
            if self.try_wait(&m) == Consumed::Yes {
                return;
            }
            self.mailbox.insert(i, m);
            i += 1;
        }
    }

    /// The node a `monitor_node(Node, true)` wait watches.
    fn monitored_node(&self) -> Option<NodeName> {
        match self.wait.as_ref()? {
            Wait::WaitDacs { remaining, .. } => remaining.front().cloned(),
            Wait::Deciding(d) => d.monitored_node(),
            _ => None,
        }
    }

    fn wait_monitors(&self, n: &NodeName) -> bool {
        self.monitored_node().as_ref() == Some(n)
    }

    /// Offers a message to the current wait.
    fn try_wait(&mut self, m: &Mail) -> Consumed {
        let Some(w) = self.wait.take() else {
            return Consumed::No;
        };
        match (w, m) {
            (Wait::Go, Mail::Go) => {
                self.on_go();
                Consumed::Yes
            }
            (
                Wait::WaitDacs {
                    lock_nodes,
                    mut remaining,
                    mut known,
                    appls,
                    mut rstarted,
                },
                m,
            ) => {
                let Some(node) = remaining.front().cloned() else {
                    self.wait = None;
                    return Consumed::No;
                };
                let next = match m {
                    Mail::Dac(DacMsg::NewNode {
                        node: from,
                        appls: his,
                        started,
                        ..
                    }) if *from == node => {
                        rstarted.extend(started.iter().cloned());
                        known.insert(0, node.clone());
                        Some(super::sync::dist_merge(appls.clone(), his, &node))
                    }
                    Mail::NodeDown(n) if *n == node => Some(appls.clone()),
                    _ => None,
                };
                match next {
                    None => {
                        self.wait = Some(Wait::WaitDacs {
                            lock_nodes,
                            remaining,
                            known,
                            appls,
                            rstarted,
                        });
                        Consumed::No
                    }
                    Some(appls) => {
                        remaining.pop_front();
                        self.wait_dacs(lock_nodes, remaining, known, appls, rstarted);
                        Consumed::Yes
                    }
                }
            }
            (Wait::Deciding(d), m) => self.try_decision(*d, m),
            (w, _) => {
                self.wait = Some(w);
                Consumed::No
            }
        }
    }

    /// The answer to the outstanding lock operation or rpc.
    fn op_done(&mut self, a: OpAnswer) {
        let Some(w) = self.wait.take() else { return };
        match (w, a) {
            (Wait::SyncLock { lock_nodes }, OpAnswer::Lock(ok)) => {
                if !ok {
                    // trans/2 returned `aborted`: the match in init_sync fails.
                    self.stop(term!({badmatch, aborted}));
                    return;
                }
                let nodes: VecDeque<NodeName> = self.connected.iter().cloned().collect();
                self.introduce(lock_nodes, nodes, Vec::new());
            }
            (
                Wait::Introducing {
                    lock_nodes,
                    mut remaining,
                    mut introduced,
                },
                OpAnswer::Whereis(pid),
            ) => {
                if let (Some(node), Some(pid)) = (remaining.pop_front(), pid) {
                    let appls = self.appls.clone();
                    self.emit(Output::Send {
                        to: Dest::Pid(pid),
                        msg: DacMsg::NewNode {
                            vsn: 1,
                            node: self.me.clone(),
                            appls,
                            started: Vec::new(),
                        },
                    });
                    introduced.push(node);
                }
                self.introduce(lock_nodes, remaining, introduced);
            }
            (
                Wait::SyncUnlock {
                    known,
                    appls,
                    rstarted,
                },
                OpAnswer::Unlocked,
            ) => {
                self.appls = appls;
                self.known = known;
                // `RStarted ++ HisStarted`: only the first entry of an
                // application counts (`keysearch`), so keep only it.
                self.remote_started.clear();
                for (n, app) in rstarted.into_iter().rev() {
                    self.note_remote_started(n, app);
                }
                self.sync_done = true;
                self.emit(Output::SyncDone);
                tracing::debug!(node = %self.me.name, known = ?self.known, "dist_ac synced");
            }
            (Wait::StartLock { app }, OpAnswer::Lock(ok)) => {
                if ok {
                    self.start_appl(app, StartType::Reply, After::StartReq);
                } else {
                    self.send_after(RestartTime::Ms(100), TimerMsg::StartReq(app));
                }
            }
            (Wait::Unlock { then }, OpAnswer::Unlocked) => match *then {
                AfterUnlock::Nothing => {}
                AfterUnlock::TakeoverWaiter { app, call } => self.t_reqs.insert(0, (app, call)),
            },
            (w, a) => {
                tracing::warn!("dist_ac: unexpected {a:?} while in {w:?}");
                self.wait = Some(w);
            }
        }
        self.run();
    }
}

/// The answer to a lock operation or rpc the process is blocked in.
#[derive(Debug)]
enum OpAnswer {
    Lock(bool),
    Unlocked,
    Whereis(Option<Term>),
}

/// Whether a wait took a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Consumed {
    Yes,
    No,
}

impl StartReply {
    /// Convenience for tests: `{error, R}`.
    pub fn error(r: Term) -> Self {
        Self::Error(r)
    }
}

impl ChangeReq {
    /// `{failover, Node, undefined}` as dist_ac sends it.
    pub fn failover(n: &NodeName) -> Self {
        Self::Failover(n.clone(), None)
    }
}
