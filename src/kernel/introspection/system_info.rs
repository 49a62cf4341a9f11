//! `erlang:system_info/1` — mirrors `erts/emulator/beam/erl_bif_info.c`
//! (`system_info_1`) for the keys inspection tools ask, with values for the
//! node as distro knows it. An unknown key is `badarg`, as on BEAM.

use super::Facts;
use crate::kernel::rex::{Exception, Registry};
use crate::runtime::Node;
use crate::term;
use crate::term::{Term, TermExt, atom, boolean, charlist, int, list, nil};
use std::sync::Arc;

/// The release distro reports (see the module docs of `introspection`).
pub const OTP_RELEASE: &str = "25";

/// BEAM's largest `+P`: distro has no process limit of its own.
const PROCESS_LIMIT: i64 = 134_217_727;

pub(super) fn register(rpc: &Registry, facts: &Arc<Facts>) {
    let f = facts.clone();
    rpc.register_sync("erlang", "system_info", 1, move |node, args| match args {
        [key] => system_info(node, &f, key),
        _ => Err(Exception::badarg()),
    });
}

/// The value of `erlang:system_info(Key)`.
pub(crate) fn system_info(node: &Node, _facts: &Facts, key: &Term) -> Result<Term, Exception> {
    if let Some([Term::Atom(k), Term::Atom(v)]) = key.as_tuple() {
        return match (k.name.as_str(), v.name.as_str()) {
            ("wordsize", "internal" | "external") => Ok(int(8)),
            _ => Err(Exception::badarg()),
        };
    }
    let Some(key) = key.as_atom() else {
        return Err(Exception::badarg());
    };
    let schedulers = || {
        let n = tokio::runtime::Handle::try_current().map_or(1, |h| h.metrics().num_workers());
        int(i64::try_from(n).unwrap_or(1))
    };
    Ok(match key {
        "otp_release" => charlist(OTP_RELEASE),
        "version" => charlist(env!("CARGO_PKG_VERSION")),
        "system_version" => charlist(&system_version()),
        "machine" => charlist("distro"),
        "system_architecture" => charlist(&architecture()),
        "wordsize" => int(8),
        "process_count" => int(i64::try_from(node.process_count()).unwrap_or(i64::MAX)),
        "process_limit" => int(PROCESS_LIMIT),
        "port_count" | "ets_count" | "atom_count" => int(0),
        "port_limit" => int(65536),
        "ets_limit" => int(8192),
        "atom_limit" => int(1_048_576),
        "schedulers" | "schedulers_online" => schedulers(),
        "dirty_cpu_schedulers"
        | "dirty_cpu_schedulers_online"
        | "dirty_io_schedulers"
        | "thread_pool_size" => int(0),
        "logical_processors" => cpus(libc::_SC_NPROCESSORS_CONF),
        "logical_processors_online" => cpus(libc::_SC_NPROCESSORS_ONLN),
        "logical_processors_available" => available_cpus(),
        "creation" => int(i64::from(node.creation())),
        "threads" | "smp_support" | "kernel_poll" | "time_correction" => boolean(true),
        "debug_compiled" | "lock_checking" | "port_parallelism" => boolean(false),
        "heap_type" => atom("private"),
        "build_type" | "emu_type" => atom("opt"),
        "multi_scheduling" => atom("enabled"),
        "multi_scheduling_blockers" | "normal_multi_scheduling_blockers" => nil(),
        "time_offset" => atom("final"),
        "time_warp_mode" => atom("no_time_warp"),
        "cpu_topology" => atom("undefined"),
        "otp_correction_package" => atom("undefined"),
        "dist_ctrl" => list(
            node.nodes()
                .into_iter()
                .chain(node.hidden_nodes())
                .map(|n| term!({(Term::Atom(n)), (Term::Pid(node.init_pid()))}))
                .collect(),
        ),
        _ => return Err(Exception::badarg()),
    })
}

/// `Erlang/OTP 25 [erts-...] ...` for distro.
fn system_version() -> String {
    let cpus = std::thread::available_parallelism().map_or(1, usize::from);
    format!(
        "Erlang/OTP {OTP_RELEASE} [distro {}] [64-bit] [smp:{cpus}:{cpus}] [rust]\n",
        env!("CARGO_PKG_VERSION")
    )
}

fn architecture() -> String {
    let vendor = if std::env::consts::ARCH == "x86_64" {
        "pc"
    } else {
        "unknown"
    };
    format!(
        "{}-{vendor}-{}-gnu",
        std::env::consts::ARCH,
        std::env::consts::OS
    )
}

fn cpus(which: libc::c_int) -> Term {
    // SAFETY: sysconf only reads a system value.
    match unsafe { libc::sysconf(which) } {
        n if n > 0 => int(i64::from(n as i32)),
        _ => atom("unknown"),
    }
}

/// The CPUs this process may run on (`sched_getaffinity`), as BEAM counts them.
fn available_cpus() -> Term {
    // SAFETY: `set` is a plain bit set of the size passed; the call writes
    // at most that many bytes.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        if libc::sched_getaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &mut set) == 0 {
            return int(i64::from(libc::CPU_COUNT(&set)));
        }
    }
    atom("unknown")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts() -> Facts {
        Facts {
            init: Default::default(),
            started: std::time::Instant::now(),
            stats: Default::default(),
        }
    }

    #[tokio::test]
    async fn keys_have_beam_shapes() {
        let node = Node::local("n@h");
        let f = facts();
        let get = |k: Term| system_info(&node, &f, &k);
        assert_eq!(get(atom("otp_release")), Ok(charlist("25")));
        assert_eq!(get(atom("wordsize")), Ok(int(8)));
        assert_eq!(get(term!({wordsize, external})), Ok(int(8)));
        assert!(matches!(
            get(atom("process_count")),
            Ok(Term::FixInteger(_))
        ));
        assert!(get(atom("system_version")).unwrap().as_list().is_some());
        assert!(matches!(
            get(atom("logical_processors")),
            Ok(Term::FixInteger(_))
        ));
        assert_eq!(get(atom("no_such_key")), Err(Exception::badarg()));
        assert_eq!(get(int(1)), Err(Exception::badarg()));
    }
}
