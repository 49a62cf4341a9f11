//! Typed kernel parameters, read and checked the way the kernel processes
//! that use them read them in OTP 25:
//!
//! | parameter | read by (`otp:lib/kernel/src/…`) |
//! |---|---|
//! | `distributed`, `start_dist_ac` | `dist_ac.erl` `dist_check/1`, `kernel.erl` `start_dist_ac/0`, `application_controller.erl` `check_distributed/1` |
//! | `sync_nodes_mandatory/optional/timeout` | `kernel_config.erl` `get_sync_data/0` |
//! | `net_ticktime`, `net_tickintensity`, `net_setuptime` | `net_kernel.erl` `make_init_opts/1`, `connecttime/0` |
//! | `inet_dist_listen_min/max` | `inet_tcp_dist.erl` `get_port_range/0` |
//! | `connect_all`, `prevent_overlapping_partitions` | `global.erl` `init/1` |
//! | `start_pg` | `kernel.erl` `start_pg/0` |
//! | `inet_dist_use_interface`, `inet_dist_listen_options` | `inet_tcp_dist.erl` `listen_options/0` |
//! | `dist_buf_busy_limit` (distro's; BEAM has only erl's `+zdbbl`) | `erl_init.c`, `+zdbbl` |
//! | `dist_max_message_size` (distro's; BEAM has no such limit) | — |
//!
//! Per parameter, a value of the wrong type does what erl does with it:
//! where OTP falls back to its default (`net_ticktime`,
//! `net_tickintensity`, `net_setuptime`, a non-integer
//! `inet_dist_listen_min`/`max`) distro does too and adds a line to
//! [`KernelParams::warnings`]; where OTP fails to boot (`sync_nodes_*`,
//! `connect_all`, `distributed`, a port out of range, an interface that is
//! not an address) distro reports an error; where OTP clamps a number,
//! distro clamps it the same way.

use super::load::show;
use super::{ConfigError, SysConfig};
use crate::dist::transport::ListenOptions;
use crate::term::{Term, TermExt};
use num_traits::ToPrimitive;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::Duration;

/// An entry of the kernel `distributed` parameter:
/// `{App, Nodes}`, `{App, Time, Nodes}` or `{App, infinity, Nodes}`.
#[derive(Debug, Clone, PartialEq)]
pub struct DistributedApp {
    /// The application.
    pub app: String,
    /// How long to wait for a failed node to come back before failing the
    /// application over (`{App, Nodes}` means 0).
    pub restart_time: RestartTime,
    /// Nodes in priority order; a tuple is a group of equal priority.
    pub nodes: Vec<NodeGroup>,
    /// `Nodes` exactly as written: `dist_ac` sends it to other nodes and
    /// compares it with theirs term for term.
    pub raw_nodes: Term,
}

impl DistributedApp {
    /// Every node named, in order (`dist_ac:flat_nodes/1` without its
    /// reversal).
    pub fn all_nodes(&self) -> impl Iterator<Item = &str> {
        self.nodes
            .iter()
            .flat_map(|g| match g {
                NodeGroup::Node(n) => std::slice::from_ref(n).iter(),
                NodeGroup::Group(ns) => ns.iter(),
            })
            .map(String::as_str)
    }
}

/// The restart time of a distributed application.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RestartTime {
    /// Wait this many milliseconds.
    Millis(u64),
    /// `infinity`: never fail over on node down.
    Infinity,
}

/// One priority level of a distributed application's node list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NodeGroup {
    /// `Node`: a node on its own.
    Node(String),
    /// `{N1, N2, ...}`: nodes of equal priority.
    Group(Vec<String>),
}

/// A timeout that may be `infinity`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Timeout {
    /// Milliseconds.
    Millis(u64),
    /// `infinity`.
    Infinity,
}

/// The kernel parameters distro acts on, with OTP's defaults.
#[derive(Debug, Clone, PartialEq)]
pub struct KernelParams {
    /// `distributed`: the distributed applications (empty when unset).
    pub distributed: Vec<DistributedApp>,
    /// Whether `dist_ac` runs: `start_dist_ac` when set, otherwise whether
    /// `distributed` is set at all, even to `[]` (`kernel:start_dist_ac/0`).
    pub start_dist_ac: bool,
    /// `sync_nodes_mandatory`: nodes that must be up before start.
    pub sync_nodes_mandatory: Vec<String>,
    /// `sync_nodes_optional`: nodes waited for, but not required.
    pub sync_nodes_optional: Vec<String>,
    /// `sync_nodes_timeout`; `None` when unset, in which case
    /// `kernel_config` does not wait for any node, even mandatory ones.
    pub sync_nodes_timeout: Option<Timeout>,
    /// `net_ticktime` in seconds (default 60; values below 1 become 1).
    /// `net_kernel` rounds it, in milliseconds, up to a multiple of
    /// `net_tickintensity`.
    pub net_ticktime: u32,
    /// `net_tickintensity` (OTP 24+; default 4, clamped to `4..=1000`).
    pub net_tickintensity: u32,
    /// `net_setuptime`: connection setup timeout (default 7 s; seconds,
    /// integer or float, capped at 120 s; 0 or less means the default).
    pub net_setuptime: Duration,
    /// `inet_dist_listen_min`: lowest listen port, if set.
    pub inet_dist_listen_min: Option<u16>,
    /// `inet_dist_listen_max`: highest listen port; equal to the minimum
    /// when only the minimum is set, and `None` (ignored, as OTP ignores
    /// it) when the minimum is not set.
    pub inet_dist_listen_max: Option<u16>,
    /// `connect_all` (default `true`). erl's `-connect_all false` counts
    /// only when the parameter is unset (see `cli::args`).
    pub connect_all: bool,
    /// `prevent_overlapping_partitions` (default `true`).
    pub prevent_overlapping_partitions: bool,
    /// `start_pg`: start the default `pg` scope (default `false`).
    pub start_pg: bool,
    /// `inet_dist_use_interface`: the address to listen on.
    pub inet_dist_use_interface: Option<IpAddr>,
    /// `inet_dist_listen_options` distro applies.
    pub inet_dist_listen_options: ListenOptions,
    /// What erl would silently ignore or replace by its default, one line
    /// per parameter.
    pub warnings: Vec<String>,
    /// `dist_buf_busy_limit` in KiB, as erl's `+zdbbl` (1..=2097151; `None`
    /// when unset: 1024 KiB, or `+zdbbl`).
    pub dist_buf_busy_limit: Option<u32>,
    /// `dist_max_message_size` in bytes: the largest message accepted from a
    /// peer (`None` when unset: 1 GiB).
    pub dist_max_message_size: Option<usize>,
}

impl Default for KernelParams {
    fn default() -> Self {
        Self {
            distributed: Vec::new(),
            start_dist_ac: false,
            sync_nodes_mandatory: Vec::new(),
            sync_nodes_optional: Vec::new(),
            sync_nodes_timeout: None,
            net_ticktime: 60,
            net_tickintensity: 4,
            net_setuptime: Duration::from_secs(7),
            inet_dist_listen_min: None,
            inet_dist_listen_max: None,
            connect_all: true,
            prevent_overlapping_partitions: true,
            start_pg: false,
            inet_dist_use_interface: None,
            inet_dist_listen_options: ListenOptions::default(),
            warnings: Vec::new(),
            dist_buf_busy_limit: None,
            dist_max_message_size: None,
        }
    }
}

impl KernelParams {
    /// Reads and checks the `kernel` parameters of `cfg`.
    pub fn from_config(cfg: &SysConfig) -> Result<Self, ConfigError> {
        let get = |par: &str| cfg.get("kernel", par);
        let mut k = Self::default();
        if let Some(v) = get("distributed") {
            k.distributed = parse_distributed(v).map_err(|reason| ConfigError::BadParam {
                app: "kernel".into(),
                par: "distributed".into(),
                reason,
            })?;
            k.start_dist_ac = true;
        }
        if let Some(v) = get("start_dist_ac") {
            k.start_dist_ac = boolean("start_dist_ac", v)?;
        }
        if let Some(v) = get("sync_nodes_mandatory") {
            k.sync_nodes_mandatory = node_list("sync_nodes_mandatory", v)?;
        }
        if let Some(v) = get("sync_nodes_optional") {
            k.sync_nodes_optional = node_list("sync_nodes_optional", v)?;
        }
        if let Some(v) = get("sync_nodes_timeout") {
            k.sync_nodes_timeout = Some(match (v.as_atom(), positive(v)) {
                (Some("infinity"), _) => Timeout::Infinity,
                (_, Some(ms)) => Timeout::Millis(ms),
                _ => {
                    let what = "a positive integer (milliseconds) or infinity";
                    return Err(bad("sync_nodes_timeout", what, v));
                }
            });
        }
        if let Some(v) = get("net_ticktime") {
            match integer(v) {
                Some(t) => k.net_ticktime = t.clamp(1, i64::from(u32::MAX)) as u32,
                None => k.ignore("net_ticktime", "an integer (seconds)", v, "60"),
            }
        }
        if let Some(v) = get("net_tickintensity") {
            match integer(v) {
                Some(t) => k.net_tickintensity = t.clamp(4, 1000) as u32,
                None => k.ignore("net_tickintensity", "an integer", v, "4"),
            }
        }
        if let Some(v) = get("net_setuptime") {
            match setuptime(v) {
                Some(t) => k.net_setuptime = t,
                None => k.ignore("net_setuptime", "a number of seconds", v, "7"),
            }
        }
        if let Some(v) = get("inet_dist_use_interface") {
            k.inet_dist_use_interface = Some(
                ip_address(v)
                    .ok_or_else(|| bad("inet_dist_use_interface", "an IP address tuple", v))?,
            );
        }
        if let Some(v) = get("inet_dist_listen_options") {
            k.inet_dist_listen_options = k.listen_options(v)?;
        }
        let min = get("inet_dist_listen_min");
        if let Some(v) = min.filter(|v| integer(v).is_none()) {
            // inet_tcp_dist:get_port_range/0: any port.
            k.ignore("inet_dist_listen_min", "a port number", v, "any port");
        }
        if let Some(v) = min.filter(|v| integer(v).is_some()) {
            let min = port("inet_dist_listen_min", v)?;
            let max = match get("inet_dist_listen_max") {
                Some(v) if integer(v).is_none() => {
                    let what = "inet_dist_listen_min";
                    k.ignore("inet_dist_listen_max", "a port number", v, what);
                    min
                }
                Some(v) => port("inet_dist_listen_max", v)?,
                None => min,
            };
            if max < min {
                return Err(ConfigError::BadParam {
                    app: "kernel".into(),
                    par: "inet_dist_listen_max".into(),
                    reason: format!(
                        "expected a port not below inet_dist_listen_min ({min}), got {max}"
                    ),
                });
            }
            k.inet_dist_listen_min = Some(min);
            k.inet_dist_listen_max = Some(max);
        }
        if let Some(v) = get("connect_all") {
            k.connect_all = boolean("connect_all", v)?;
        }
        if let Some(v) = get("prevent_overlapping_partitions") {
            k.prevent_overlapping_partitions = boolean("prevent_overlapping_partitions", v)?;
        }
        if let Some(v) = get("start_pg") {
            k.start_pg = boolean("start_pg", v)?;
        }
        if let Some(v) = get("dist_buf_busy_limit") {
            let kib = positive(v)
                .and_then(|n| u32::try_from(n).ok())
                .filter(|&n| n <= MAX_ZDBBL_KIB)
                .ok_or_else(|| bad("dist_buf_busy_limit", "an integer 1..2097151 (KiB)", v))?;
            k.dist_buf_busy_limit = Some(kib);
        }
        if let Some(v) = get("dist_max_message_size") {
            let what = "a positive integer (bytes)";
            let n = positive(v).ok_or_else(|| bad("dist_max_message_size", what, v))?;
            k.dist_max_message_size = Some(usize::try_from(n).unwrap_or(usize::MAX));
        }
        Ok(k)
    }
}

impl KernelParams {
    /// erl ignores `got` for `par` and uses `instead`; distro says so.
    fn ignore(&mut self, par: &str, expected: &str, got: &Term, instead: &str) {
        self.warnings.push(format!(
            "kernel parameter {par}: expected {expected}, got {}; using {instead}, as erl does",
            show(got)
        ));
    }

    /// `inet_dist_listen_options`: the options distro applies; others are
    /// reported and ignored.
    fn listen_options(&mut self, v: &Term) -> Result<ListenOptions, ConfigError> {
        let par = "inet_dist_listen_options";
        let items = v
            .as_list()
            .ok_or_else(|| bad(par, "a list of gen_tcp listen options", v))?;
        let mut o = ListenOptions::default();
        for item in items.iter() {
            let (key, value) = match item.as_tuple() {
                Some([Term::Atom(k), value]) => (k.name.as_str(), value),
                _ => ("", item),
            };
            let applied = match key {
                "backlog" => value
                    .as_i64()
                    .and_then(|n| u32::try_from(n).ok())
                    .map(|n| o.backlog = n),
                "reuseaddr" => value.as_bool().map(|b| o.reuseaddr = b),
                "ipv6_v6only" => value.as_bool().map(|b| o.ipv6_v6only = Some(b)),
                "ip" => ip_address(value).map(|ip| o.ip = Some(ip)),
                _ => None,
            };
            if applied.is_none() {
                self.warnings.push(format!(
                    "kernel parameter {par}: ignoring {} (distro applies backlog, reuseaddr, ipv6_v6only and ip)",
                    show(item)
                ));
            }
        }
        Ok(o)
    }
}

/// `{A, B, C, D}` or `{A, B, C, D, E, F, G, H}`.
fn ip_address(v: &Term) -> Option<IpAddr> {
    let parts: Vec<i64> = v
        .as_tuple()?
        .iter()
        .map(TermExt::as_i64)
        .collect::<Option<_>>()?;
    match parts.as_slice() {
        [a, b, c, d] => {
            let o = [*a, *b, *c, *d].map(|x| u8::try_from(x).ok());
            let [Some(a), Some(b), Some(c), Some(d)] = o else {
                return None;
            };
            Some(Ipv4Addr::new(a, b, c, d).into())
        }
        [_, _, _, _, _, _, _, _] => {
            let mut seg = [0u16; 8];
            for (s, p) in seg.iter_mut().zip(&parts) {
                *s = u16::try_from(*p).ok()?;
            }
            Some(Ipv6Addr::from(seg).into())
        }
        _ => None,
    }
}
/// The largest `+zdbbl` erl accepts, in KiB (`erl_init.c`).
pub(crate) const MAX_ZDBBL_KIB: u32 = 2_097_151;

fn bad(par: &str, expected: &str, got: &Term) -> ConfigError {
    ConfigError::BadParam {
        app: "kernel".into(),
        par: par.into(),
        reason: format!("expected {expected}, got {}", show(got)),
    }
}

fn integer(v: &Term) -> Option<i64> {
    match v {
        Term::FixInteger(i) => Some(i64::from(i.value)),
        Term::BigInteger(b) => Some(if b.value.sign() == num_bigint::Sign::Minus {
            i64::MIN
        } else {
            i64::MAX
        }),
        _ => None,
    }
}

fn positive(v: &Term) -> Option<u64> {
    match v {
        Term::FixInteger(i) if i.value > 0 => u64::try_from(i.value).ok(),
        Term::BigInteger(b) => b.value.to_u64().filter(|&n| n > 0),
        _ => None,
    }
}

fn boolean(par: &str, v: &Term) -> Result<bool, ConfigError> {
    v.as_bool().ok_or_else(|| bad(par, "true or false", v))
}

fn port(par: &str, v: &Term) -> Result<u16, ConfigError> {
    v.as_i64()
        .and_then(|p| u16::try_from(p).ok())
        .ok_or_else(|| bad(par, "a port number (0..65535)", v))
}

/// `net_kernel:connecttime/0`; `None` for a value that is not a number.
fn setuptime(v: &Term) -> Option<Duration> {
    let secs = match v {
        Term::Float(f) => f.value,
        _ => integer(v)? as f64,
    };
    Some(if secs >= 120.0 {
        Duration::from_secs(120)
    } else if secs > 0.0 {
        Duration::from_millis((secs * 1000.0).round() as u64)
    } else {
        Duration::from_secs(7)
    })
}

fn node_list(par: &str, v: &Term) -> Result<Vec<String>, ConfigError> {
    let expected = "a list of node names (atoms)";
    let list = v.as_list().ok_or_else(|| bad(par, expected, v))?;
    list.iter()
        .map(|n| n.as_atom().map(str::to_string))
        .collect::<Option<Vec<_>>>()
        .ok_or_else(|| bad(par, expected, v))
}

/// Parses the `distributed` value; the error says what is wrong.
pub(super) fn parse_distributed(v: &Term) -> Result<Vec<DistributedApp>, String> {
    let entries = v.as_list().ok_or_else(|| {
        format!(
            "expected a list of {{App, Nodes}} or {{App, Time, Nodes}}, got {}",
            show(v)
        )
    })?;
    entries.iter().map(distributed_entry).collect()
}

fn distributed_entry(e: &Term) -> Result<DistributedApp, String> {
    let form = || {
        format!(
            "{} is not {{App, Nodes}}, {{App, Time, Nodes}} or {{App, infinity, Nodes}}",
            show(e)
        )
    };
    let (app, time, nodes) = match e.as_tuple() {
        Some([app, nodes]) => (app, None, nodes),
        Some([app, time, nodes]) => (app, Some(time), nodes),
        _ => return Err(form()),
    };
    let app = app.as_atom().ok_or_else(form)?;
    let restart_time = match time {
        None => RestartTime::Millis(0),
        Some(t) if t.as_atom() == Some("infinity") => RestartTime::Infinity,
        Some(t) => match t {
            Term::FixInteger(_) | Term::BigInteger(_) => {
                RestartTime::Millis(t.as_i64().and_then(|n| u64::try_from(n).ok()).ok_or_else(
                    || {
                        format!(
                            "{app}: restart time {} is not a non-negative integer",
                            show(t)
                        )
                    },
                )?)
            }
            _ => return Err(form()),
        },
    };
    let list = nodes
        .as_list()
        .ok_or_else(|| format!("{app}: nodes {} is not a list", show(nodes)))?;
    let bad_node = |n: &Term| {
        format!(
            "{app}: {} is neither a node name nor a tuple of node names",
            show(n)
        )
    };
    let groups = list
        .iter()
        .map(|n| match n {
            Term::Atom(a) => Ok(NodeGroup::Node(a.name.clone())),
            Term::Tuple(t) => t
                .elements
                .iter()
                .map(|x| x.as_atom().map(str::to_string))
                .collect::<Option<Vec<_>>>()
                .map(NodeGroup::Group)
                .ok_or_else(|| bad_node(n)),
            _ => Err(bad_node(n)),
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(DistributedApp {
        app: app.to_string(),
        restart_time,
        nodes: groups,
        raw_nodes: nodes.clone(),
    })
}
