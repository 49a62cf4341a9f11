//! The fault campaign of issue 9 (`scripts/campaign.sh` runs it): the
//! seed's cluster, `{myapp, 5000, [one, {two, three}]}` (with four or five
//! nodes `[one, {two, three, four...}]`) with `sync_nodes_optional` and
//! `net_ticktime` 8, in any mix of `distro` binaries (d) and BEAM nodes
//! (b), goes through a seeded random sequence
//! of faults. After each one, once the cluster has settled, it checks:
//!
//! - at most one running copy of myapp;
//! - exactly one when a permitted node is up;
//! - `global:whereis_name(myapp_server)` the same on every node, and on the
//!   node running myapp;
//! - myapp where OTP's rules put it (at `one` when it is up and reachable,
//!   else at another node);
//! - no node died that the campaign did not kill;
//! - the recovery time, from the fault to the last change before the
//!   cluster settled with one copy.
//!
//! Partitions need root: each node lives in a cgroup (v2) of its own (it
//! is forked there, so that its listen socket is too), and
//! an iptables chain marks every connection a partitioned node sends on
//! (`CONNMARK` by `-m cgroup`) and drops the marked packets both ways.
//! Loopback addresses stay as they are, so the partitioned node's process
//! keeps running, ticking into the void. A partition into two groups marks
//! instead what a node sends to the listen port of a node on the other
//! side, so each side stays whole. The heal removes the chain.
//!
//! After each event whatever is left apart is reconnected (a send from each
//! node to each other one, as any traffic would), and a cluster that does
//! not come back to one copy at the right place, with every dist_ac knowing
//! the others, is restarted from scratch, so that one event's outcome
//! does not decide the next ones'. The invariants are checked before that
//! reconnection (after a heal nothing reconnects by itself, in OTP as in
//! distro); a restart with two copies still running after it counts as a
//! split that did not heal (`two_after`).
//!
//! Driven by environment variables (the script sets them): `CAMPAIGN_MIX`
//! (`dbb`...), `CAMPAIGN_EVENTS`, `CAMPAIGN_SEED`, and `CAMPAIGN_ONLY`
//! (`K` or `K:R`: only event kind `K` of [`EVENTS`], on role `R`),
//! `CAMPAIGN_TAIL` (log lines per member printed with a failure; a replay
//! with `DISTRO_LOG=info,distro::kernel::dist_ac=debug` wants more). Prints one
//! `CAMPAIGN-RESULT` line the script aggregates.

use crate::dist_ac::cluster::{COOKIE, Cluster, LONG, block, unique, unknown_pairs};
use crate::support::{BeamNode, BeamOpts, DistroNode, eval_term, require_otp};
use distro::term::{Term, TermExt};
use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

/// How long the observed state must stay the same to count as settled.
const STABLE: Duration = Duration::from_secs(9);
/// The longest an event's outcome may take to settle.
const SETTLE_LIMIT: Duration = Duration::from_secs(90);

/// SplitMix64: the campaign's only source of randomness.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }

    fn ms(&mut self, lo: u64, hi: u64) -> Duration {
        Duration::from_millis(lo + self.below(hi - lo + 1))
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Distro,
    Beam,
}

enum Member {
    Beam(BeamNode),
    Distro(DistroNode),
}

impl Member {
    fn alive(&mut self) -> bool {
        match self {
            Self::Beam(b) => b.is_alive(),
            Self::Distro(d) => d.is_running(),
        }
    }

    fn kill(&mut self) {
        match self {
            Self::Beam(b) => drop(b.kill()),
            Self::Distro(d) => drop(d.kill()),
        }
    }

    fn signal(&mut self, sig: libc::c_int) {
        let _ = match self {
            Self::Beam(b) => b.signal(sig),
            Self::Distro(d) => d.signal(sig),
        };
    }

    fn log_contains(&self, needle: &str) -> bool {
        match self {
            Self::Beam(b) => b.log_contains(needle),
            Self::Distro(d) => d.log_contains(needle),
        }
    }

    fn tail(&self, n: usize) -> String {
        match self {
            Self::Beam(b) => b.log().tail(n),
            Self::Distro(d) => d.log().tail(n),
        }
    }
}

/// The events, as the report names them. Three nodes draw from the first
/// seven (two groups of three nodes are one node and the rest).
const EVENTS: [&str; 8] = [
    "kill+restart",
    "two killed",
    "stop<tick",
    "stop>tick",
    "kill in takeover",
    "partition one node",
    "partition+heal one",
    "partition+heal two groups",
];

/// The roles' names, in the priority order of `distributed`.
const ROLES: [&str; 5] = ["one", "two", "three", "four", "five"];

/// Per-invariant violation counts, crashes and recovery times.
#[derive(Default, Debug)]
struct Stats {
    events: usize,
    at_most_one: usize,
    exactly_one: usize,
    global: usize,
    placement: usize,
    crashes: usize,
    resets: usize,
    /// Restarts with more than one copy still running after the
    /// reconnection: a split that did not heal.
    two_after: usize,
    recovery_ms: Vec<u128>,
    failing: Vec<usize>,
}

/// What the observer sees at one node.
#[derive(Clone, Debug, PartialEq, Eq)]
struct View {
    runs: bool,
    /// The node of `global:whereis_name(myapp_server)` there.
    global: String,
    /// The visible nodes it is connected to (roles).
    sees: Vec<usize>,
}

struct Campaign {
    cl: Cluster,
    n: Vec<String>,
    kinds: Vec<Kind>,
    members: Vec<Option<Member>>,
    observer: BeamNode,
    rng: Rng,
    stats: Stats,
    /// cgroup directories (when partitions are possible).
    cgroups: Option<Vec<PathBuf>>,
    chain: String,
    /// The role cut off from everything, if any.
    cut: Option<usize>,
    /// A partition into two groups is in place (its chain is `chain`).
    split: bool,
    stopped: Option<usize>,
    mark: u32,
}

fn env(n: &[String], me: &str) -> String {
    // distro's healing beyond OTP (the default), unless `--no-heal`
    // (CAMPAIGN_HEAL=0); BEAM nodes ignore the parameter.
    let heal = if std::env::var("CAMPAIGN_HEAL").is_ok_and(|v| v == "0") {
        ", {distro_heal_partitions, false}"
    } else {
        ""
    };
    crate::dist_ac::cluster::cluster_env(
        "myapp",
        n,
        me,
        "optional",
        5000,
        &format!(", {{net_ticktime, 8}}{heal}"),
    )
}

fn iptables(args: &[&str]) -> bool {
    Command::new("iptables")
        .args(args)
        .output()
        .is_ok_and(|o| o.status.success())
}

impl Campaign {
    fn new(mix: &str, seed: u64) -> Option<Self> {
        let otp = require_otp()?;
        crate::support::rust_log::init();
        let kinds: Vec<Kind> = mix
            .chars()
            .map(|c| if c == 'd' { Kind::Distro } else { Kind::Beam })
            .collect();
        assert!(
            (3..=ROLES.len()).contains(&kinds.len()),
            "a mix of 3 to 5 nodes, e.g. dbb"
        );
        let cl = Cluster::new(otp.clone(), false);
        let observer = BeamNode::start(
            &cl.epmd,
            BeamOpts::new("campobs")
                .cookie(COOKIE)
                .otp(otp)
                .hidden()
                .kernel("net_ticktime", "8")
                .start_timeout(LONG),
        )
        .expect("observer node");
        let tag = unique("camp");
        let cgroups = Self::cgroups(&tag, kinds.len());
        let n: Vec<String> = ROLES[..kinds.len()]
            .iter()
            .map(|r| format!("{}@127.0.0.1", unique(r)))
            .collect();
        Some(Self {
            cl,
            n,
            members: kinds.iter().map(|_| None).collect(),
            kinds,
            observer,
            rng: Rng(seed),
            stats: Stats::default(),
            cgroups,
            chain: tag.chars().take(28).collect(),
            cut: None,
            split: false,
            stopped: None,
            mark: 0,
        })
    }

    /// A cgroup per role under the cgroup v2 root, if we may make them and
    /// iptables has the cgroup match.
    fn cgroups(tag: &str, roles: usize) -> Option<Vec<PathBuf>> {
        let root = ["/sys/fs/cgroup/unified", "/sys/fs/cgroup"]
            .into_iter()
            .map(PathBuf::from)
            .find(|p| {
                p.join("cgroup.procs").exists() && p.join("cgroup.subtree_control").exists()
            })?;
        let dirs: Vec<PathBuf> = (0..roles)
            .map(|i| root.join(format!("{tag}_{i}")))
            .collect();
        for d in &dirs {
            std::fs::create_dir_all(d).ok()?;
        }
        let probe = format!("{tag}_0");
        let rel = dirs[0].strip_prefix(&root).ok()?.display().to_string();
        let ok = iptables(&["-N", &probe])
            && iptables(&["-A", &probe, "-m", "cgroup", "--path", &rel, "-j", "RETURN"]);
        iptables(&["-F", &probe]);
        iptables(&["-X", &probe]);
        if !ok {
            for d in &dirs {
                let _ = std::fs::remove_dir(d);
            }
            return None;
        }
        Some(dirs)
    }

    fn label(&self) -> String {
        self.kinds
            .iter()
            .map(|k| if *k == Kind::Distro { 'd' } else { 'b' })
            .collect()
    }

    /// Starts role `i` (a `distro --app myapp`, or a BEAM node that then
    /// runs `application:start(myapp)` in the background).
    fn start(&mut self, i: usize) {
        let me = self.n[i].clone();
        // A socket stays in the cgroup its process was in when it was
        // made, and a node makes its listen socket (which accepted
        // connections inherit) and its first connections at boot: so the
        // node is forked inside its cgroup. This process goes there for the
        // spawn and comes back after.
        let home = self.cgroups.as_ref().and_then(|cg| {
            let root = cg[i].parent()?.to_owned();
            let own = std::fs::read_to_string("/proc/self/cgroup").ok()?;
            let path = own.lines().find_map(|l| l.strip_prefix("0::"))?.to_owned();
            std::fs::write(cg[i].join("cgroup.procs"), std::process::id().to_string()).ok()?;
            Some(root.join(path.trim_start_matches('/')))
        });
        let m = match self.kinds[i] {
            Kind::Distro => Member::Distro(self.cl.distro_bin(&me, &env(&self.n, &me), "myapp")),
            Kind::Beam => {
                let opts = self.cl.beam_opts(&me, &env(&self.n, &me));
                let b = block(|| BeamNode::start(&self.cl.epmd, opts)).expect("BEAM node");
                block(|| b.eval("spawn(fun() -> application:start(myapp) end), ok."))
                    .expect("start myapp");
                Member::Beam(b)
            }
        };
        if let Some(home) = home {
            let _ = std::fs::write(home.join("cgroup.procs"), std::process::id().to_string());
        }
        self.members[i] = Some(m);
    }

    fn kill(&mut self, i: usize) {
        if let Some(mut m) = self.members[i].take() {
            m.kill();
        }
        if self.stopped == Some(i) {
            self.stopped = None;
        }
    }

    /// Role `i`'s cgroup, as iptables' cgroup match names it.
    fn cgroup_path(&self, i: usize) -> Option<String> {
        let cg = self.cgroups.as_ref()?;
        let root = cg[i].parent()?;
        Some(cg[i].strip_prefix(root).ok()?.display().to_string())
    }

    /// Puts the campaign's chain in place: `marks` (iptables match
    /// arguments) set a new connection mark, and packets of a marked
    /// connection are dropped both ways (loopback's packets of both ends
    /// pass OUTPUT).
    fn drop_marked(&mut self, marks: &[Vec<String>]) {
        self.mark += 1;
        let mark = format!("{:#x}", 0x6d00 + self.mark);
        let c = self.chain.clone();
        iptables(&["-N", &c]);
        for m in marks {
            let mut args: Vec<&str> = vec!["-A", &c];
            args.extend(m.iter().map(String::as_str));
            args.extend(["-j", "CONNMARK", "--set-mark", &mark]);
            iptables(&args);
        }
        iptables(&["-A", &c, "-m", "connmark", "--mark", &mark, "-j", "DROP"]);
        iptables(&["-I", "OUTPUT", "-j", &c]);
    }

    /// Isolates role `i`: every connection it sends on is marked, marked
    /// packets are dropped.
    fn cut(&mut self, i: usize) {
        let Some(rel) = self.cgroup_path(i) else {
            return;
        };
        self.drop_marked(&[vec!["-m".into(), "cgroup".into(), "--path".into(), rel]]);
        self.cut = Some(i);
    }

    /// Splits the cluster into `group` and the other roles: a connection
    /// between the two sides is marked by any packet that one side sends to
    /// the other's listen port (its SYN, or a tick on it later), and its
    /// packets are dropped. Each side stays whole, and the observer (a
    /// hidden node) still sees both.
    fn split(&mut self, group: &[usize]) {
        if self.cgroups.is_none() {
            return;
        }
        let ports: Vec<Option<i64>> = self
            .n
            .iter()
            .map(|n| {
                let name = n.split('@').next().unwrap_or(n);
                block(|| {
                    eval_term(
                        &self.observer,
                        &format!(
                            "case erl_epmd:port_please(\"{name}\", {{127,0,0,1}}) of \
                             {{port, P, _}} -> P; _ -> none end"
                        ),
                    )
                })
                .as_i64()
            })
            .collect();
        let mut marks = Vec::new();
        for x in 0..self.n.len() {
            for (y, port) in ports.iter().enumerate() {
                if group.contains(&x) == group.contains(&y) {
                    continue;
                }
                let (Some(rel), Some(port)) = (self.cgroup_path(x), port) else {
                    continue;
                };
                marks.push(
                    [
                        "-m",
                        "cgroup",
                        "--path",
                        &rel,
                        "-p",
                        "tcp",
                        "--dport",
                        &port.to_string(),
                    ]
                    .map(str::to_owned)
                    .to_vec(),
                );
            }
        }
        self.drop_marked(&marks);
        self.split = true;
    }

    fn heal(&mut self) {
        if self.cut.take().is_some() || std::mem::take(&mut self.split) {
            let c = self.chain.clone();
            while iptables(&["-D", "OUTPUT", "-j", &c]) {}
            iptables(&["-F", &c]);
            iptables(&["-X", &c]);
        }
    }

    /// What every running, reachable member looks like from the observer.
    fn views(&self) -> Vec<Option<View>> {
        let all = 0..self.n.len();
        all.clone().map(|i| {
            if self.members[i].is_none() || self.cut == Some(i) || self.stopped == Some(i) {
                return None;
            }
            let n = &self.n[i];
            let t = block(|| {
                eval_term(
                    &self.observer,
                    &format!(
                        "{{case rpc:call('{n}', application, which_applications, [], 5000) of \
                         Apps when is_list(Apps) -> lists:keymember(myapp, 1, Apps); _ -> badrpc end, \
                         case rpc:call('{n}', global, whereis_name, [myapp_server], 5000) of \
                         P when is_pid(P) -> node(P); Other -> Other end, \
                         rpc:call('{n}', erlang, nodes, [], 5000)}}"
                    ),
                )
            });
            let el = t.as_tuple().unwrap_or(&[]).to_vec();
            if el.len() != 3 || el[0].as_atom() == Some("badrpc") {
                return None;
            }
            let nodes: Vec<Term> = el[2].as_list().map(|l| l.to_vec()).unwrap_or_default();
            Some(View {
                runs: el[0].as_atom() == Some("true"),
                global: match &el[1] {
                    Term::Atom(a) => a.name.clone(),
                    other => format!("{other:?}"),
                },
                sees: all
                    .clone()
                    .filter(|&j| nodes.iter().any(|x| x.as_atom() == Some(self.n[j].as_str())))
                    .collect(),
            })
        })
        .collect()
    }

    /// Polls until the views stay the same for [`STABLE`]; returns them and
    /// when they last changed.
    async fn settle(&self) -> (Vec<Option<View>>, Instant) {
        let t0 = Instant::now();
        let mut last = self.views();
        let mut changed = Instant::now();
        loop {
            tokio::time::sleep(Duration::from_millis(500)).await;
            let now = self.views();
            if now != last {
                last = now;
                changed = Instant::now();
            } else if changed.elapsed() >= STABLE || t0.elapsed() > SETTLE_LIMIT {
                return (last, changed);
            }
        }
    }

    /// Checks the invariants once settled; true when all hold.
    async fn check(&mut self, k: usize, what: &str, fault: Instant) -> bool {
        let (v, changed) = self.settle().await;
        let mut bad = Vec::new();
        let all = 0..self.n.len();
        for i in all.clone() {
            if let Some(m) = self.members[i].as_mut()
                && !m.alive()
            {
                self.stats.crashes += 1;
                bad.push(format!("role {i} died on its own"));
                self.members[i] = None;
            }
        }
        let running: Vec<usize> = all
            .clone()
            .filter(|&i| v[i].as_ref().is_some_and(|x| x.runs))
            .collect();
        let up: Vec<usize> = all.filter(|&i| v[i].is_some()).collect();
        if running.len() > 1 {
            self.stats.at_most_one += 1;
            bad.push(format!("myapp runs at {running:?}"));
        }
        if running.is_empty() && !up.is_empty() {
            self.stats.exactly_one += 1;
            bad.push(format!("myapp runs nowhere, up {up:?}"));
            // Rare (a kill in a takeover), and what the nodes said is all
            // there is to go on.
            for m in self.members.iter().flatten() {
                eprintln!("{}", m.tail(tail_lines()));
            }
        }
        let globals: Vec<&str> = up
            .iter()
            .filter_map(|&i| v[i].as_ref().map(|x| x.global.as_str()))
            .collect();
        let agree = globals.windows(2).all(|w| w[0] == w[1]);
        let at_runner = match running[..] {
            [r] => globals.iter().all(|g| *g == self.n[r]),
            _ => true,
        };
        if !agree || !at_runner {
            self.stats.global += 1;
            bad.push(format!("global names: {globals:?}"));
        }
        if let [r] = running[..] {
            let one_up = v[0].is_some();
            if (one_up && r != 0) || (!one_up && r == 0) {
                self.stats.placement += 1;
                bad.push(format!("myapp at role {r}, one up: {one_up}"));
            }
            self.stats
                .recovery_ms
                .push(changed.saturating_duration_since(fault).as_millis());
        }
        if !bad.is_empty() {
            self.stats.failing.push(k);
            eprintln!(
                "[{}] event {k} ({what}): {}\n  views: {v:?}",
                self.label(),
                bad.join("; ")
            );
        } else {
            eprintln!("[{}] event {k} ({what}): ok, at {running:?}", self.label());
        }
        bad.is_empty()
    }

    /// Reconnects every pair (a send from each node to each other one),
    /// waits, and restarts everything if the cluster is not whole with one
    /// copy at one.
    async fn restore(&mut self) {
        self.heal();
        if let Some(i) = self.stopped.take()
            && let Some(m) = self.members[i].as_mut()
        {
            m.signal(libc::SIGCONT);
        }
        let len = self.n.len();
        for i in 0..len {
            if self.members[i].is_none() {
                self.start(i);
            }
        }
        for i in 0..len {
            for j in 0..len {
                if i != j {
                    let _ = block(|| {
                        self.observer.eval(&format!(
                            "rpc:call('{}', erlang, send, [{{campaign_nobody, '{}'}}, hello], 5000).",
                            self.n[i], self.n[j]
                        ))
                    });
                }
            }
        }
        let (v, _) = self.settle().await;
        let whole = v.iter().enumerate().all(|(i, x)| {
            x.as_ref().is_some_and(|x| {
                x.runs == (i == 0) && x.sees.len() == len - 1 && x.global == self.n[0]
            })
        });
        // Every dist_ac knows the others: OTP's dist_ac takes a node out
        // of its known nodes on nodedown and only a booting dist_ac
        // introduces itself, so after a split two BEAM nodes stay unknown
        // to each other (distro introduces itself again; it cannot do it
        // for two BEAM nodes, README "Netsplits that heal"), and a later
        // failover between them can start the app at both.
        // A dist_ac busy in a start decision answers late: up to 30 s.
        let t = Instant::now();
        let apart = loop {
            // (i, j): i's dist_ac does not know j (or did not answer).
            let apart = unknown_pairs(&self.observer, &self.n);
            if apart.is_empty() || !whole || t.elapsed() > Duration::from_secs(30) {
                break apart;
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        };
        if !whole || !apart.is_empty() {
            self.stats.resets += 1;
            if v.iter().flatten().filter(|x| x.runs).count() > 1 {
                self.stats.two_after += 1;
            }
            eprintln!(
                "[{}] restarting the cluster: {v:?}, dist_ac at i not knowing j (roles): {apart:?}",
                self.label()
            );
            if whole {
                for m in self.members.iter().flatten() {
                    eprintln!("{}", m.tail(tail_lines()));
                }
            }
            for i in 0..len {
                self.kill(i);
            }
            for i in 0..len {
                self.start(i);
            }
            let _ = self.settle().await;
        }
    }

    /// Runs event `k`; returns what it was and when the fault began.
    async fn event(&mut self, k: usize) -> (String, Instant) {
        let len = self.n.len();
        let kinds = if len > 3 {
            EVENTS.len()
        } else {
            EVENTS.len() - 1
        };
        let mut e = self.rng.below(kinds as u64) as usize;
        let mut r = self.rng.below(len as u64) as usize;
        if let Some((kind, role)) = only() {
            e = kind;
            r = role.map_or(r, |role| role % len);
        }
        if e >= 5 && self.cgroups.is_none() {
            e = 0; // no partitions without root and cgroup v2
        }
        // The other node killed, or the other one of the group split off
        // (drawn only for those, so that the draws stay those of earlier
        // campaigns for the same seed).
        let s = if matches!(e, 1 | 7) {
            (r + 1 + self.rng.below(len as u64 - 1) as usize) % len
        } else {
            r
        };
        let what = match e {
            1 | 7 => format!("{} (roles {r}, {s})", EVENTS[e]),
            _ => format!("{} (role {r})", EVENTS[e]),
        };
        eprintln!("[{}] event {k}: {what}", self.label());
        let t0 = Instant::now();
        match e {
            0 => {
                self.kill(r);
                tokio::time::sleep(self.rng.ms(0, 10_000)).await;
                self.start(r);
            }
            1 => {
                self.kill(r);
                tokio::time::sleep(self.rng.ms(0, 3_000)).await;
                self.kill(s);
                tokio::time::sleep(self.rng.ms(0, 8_000)).await;
                self.start(r);
                tokio::time::sleep(self.rng.ms(0, 4_000)).await;
                self.start(s);
            }
            2 | 3 => {
                let d = if e == 2 {
                    self.rng.ms(1_000, 5_000)
                } else {
                    self.rng.ms(10_500, 14_000)
                };
                if let Some(m) = self.members[r].as_mut() {
                    m.signal(libc::SIGSTOP);
                    self.stopped = Some(r);
                }
                tokio::time::sleep(d).await;
                if let Some(m) = self.members[r].as_mut() {
                    m.signal(libc::SIGCONT);
                }
                self.stopped = None;
            }
            4 => {
                // one down, failover, one back: kill one of the two ends
                // within the first second of the takeover.
                self.kill(0);
                let t = Instant::now();
                while t.elapsed() < LONG && !self.views().iter().flatten().any(|v| v.runs) {
                    tokio::time::sleep(Duration::from_millis(250)).await;
                }
                self.start(0);
                let t = Instant::now();
                while t.elapsed() < LONG
                    && !self.members[0]
                        .as_ref()
                        .is_some_and(|m| m.log_contains("StartType = {takeover"))
                {
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
                tokio::time::sleep(self.rng.ms(0, 1_000)).await;
                let victim = if r == 0 {
                    0
                } else {
                    (1..len)
                        .find(|&i| self.views()[i].as_ref().is_some_and(|v| v.runs))
                        .unwrap_or(r)
                };
                self.kill(victim);
                tokio::time::sleep(self.rng.ms(0, 6_000)).await;
                self.start(victim);
            }
            7 => {
                self.split(&[r, s]);
                tokio::time::sleep(self.rng.ms(10_500, 20_000)).await;
                self.heal();
            }
            _ => {
                self.cut(r);
                tokio::time::sleep(self.rng.ms(10_500, 20_000)).await;
                if e == 6 {
                    self.heal();
                }
            }
        }
        (what, t0)
    }

    async fn run(mut self, events: usize, seed: u64) -> Stats {
        for i in 0..self.n.len() {
            self.start(i);
        }
        let _ = self.settle().await;
        self.restore().await;
        for k in 1..=events {
            let (what, t0) = self.event(k).await;
            self.stats.events += 1;
            if !self.check(k, &what, t0).await {
                eprintln!(
                    "replay: scripts/campaign.sh --mix {} --seed {seed} --events {k}",
                    self.label()
                );
            }
            println!(
                "{}",
                result_line(
                    "CAMPAIGN-PROGRESS",
                    &self.label(),
                    seed,
                    self.cgroups.is_some(),
                    &self.stats
                )
            );
            self.restore().await;
        }
        // Drop heals, kills the members and removes the cgroups.
        std::mem::take(&mut self.stats)
    }
}

impl Drop for Campaign {
    /// Also when a run panics: the chain goes, the members are killed, and
    /// their (then empty) cgroups are removed.
    fn drop(&mut self) {
        self.heal();
        for i in 0..self.n.len() {
            self.kill(i);
        }
        for d in self.cgroups.iter().flatten() {
            let _ = std::fs::remove_dir(d);
        }
    }
}

/// How many of each member's last log lines a failure prints
/// (`CAMPAIGN_TAIL`, default 40; more for a replay with debug logs).
fn tail_lines() -> usize {
    std::env::var("CAMPAIGN_TAIL")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(40)
}

/// `CAMPAIGN_ONLY` (`K` or `K:R`): only event kind `K`, on role `R` if given.
fn only() -> Option<(usize, Option<usize>)> {
    let v = std::env::var("CAMPAIGN_ONLY").ok()?;
    let (k, r) = match v.split_once(':') {
        Some((k, r)) => (k, Some(r)),
        None => (v.as_str(), None),
    };
    let bad = || {
        panic!(
            "CAMPAIGN_ONLY={v}: K or K:R, K below {}, R below {}",
            EVENTS.len(),
            ROLES.len()
        )
    };
    let k = k
        .parse()
        .ok()
        .filter(|k| *k < EVENTS.len())
        .unwrap_or_else(bad);
    let r = r.map(|r| {
        r.parse()
            .ok()
            .filter(|r| *r < ROLES.len())
            .unwrap_or_else(bad)
    });
    Some((k, r))
}

/// `scripts/campaign.sh` runs this with `--ignored`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "the fault campaign: run by scripts/campaign.sh"]
async fn run() {
    let mix = std::env::var("CAMPAIGN_MIX").unwrap_or_else(|_| "dbb".into());
    let events: usize = std::env::var("CAMPAIGN_EVENTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(5);
    let seed: u64 = std::env::var("CAMPAIGN_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1);
    let Some(c) = Campaign::new(&mix, seed) else {
        return;
    };
    let partitions = c.cgroups.is_some();
    let s = c.run(events, seed).await;
    println!(
        "{}",
        result_line("CAMPAIGN-RESULT", &mix, seed, partitions, &s)
    );
}

/// The line the script aggregates (also printed after every event, as
/// `CAMPAIGN-PROGRESS`, so that a run cut short still counts).
fn result_line(tag: &str, mix: &str, seed: u64, partitions: bool, s: &Stats) -> String {
    let rec: Vec<String> = s.recovery_ms.iter().map(u128::to_string).collect();
    format!(
        "{tag} mix={mix} seed={seed} events={} at_most_one={} exactly_one={} global={} placement={} crashes={} resets={} two_after={} partitions={partitions} failing={:?} recovery_ms={}",
        s.events,
        s.at_most_one,
        s.exactly_one,
        s.global,
        s.placement,
        s.crashes,
        s.resets,
        s.two_after,
        s.failing,
        rec.join(",")
    )
}
