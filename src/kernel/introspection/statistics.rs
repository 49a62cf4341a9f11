//! `erlang:memory/0,1` and `erlang:statistics/1` — mirrors `erts_memory`
//! (`erts/emulator/beam/erl_alloc.c`) and `statistics/1`
//! (`erl_bif_info.c`), with figures from the OS and from Rust's allocator.
//!
//! Memory: `total` is the resident set size (`/proc/self/statm`);
//! `processes` (and `processes_used`) the bytes live on the Rust heap when
//! the binary installs [`CountingAlloc`] (the `distro` binary does), else
//! 0; `code` the text segment; `system` what is left of `total`. distro has
//! no atom table, ETS or off-heap binaries of its own: those are 0.

use super::Facts;
use crate::kernel::rex::{Exception, Registry};
use crate::term;
use crate::term::{Term, TermExt, atom, int, list};
use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

static LIVE_BYTES: AtomicUsize = AtomicUsize::new(0);

/// A global allocator that counts the bytes live on the heap, for
/// `erlang:memory/0`. Install it in a binary with
/// `#[global_allocator] static A: CountingAlloc = CountingAlloc;`.
#[derive(Debug, Clone, Copy, Default)]
pub struct CountingAlloc;

// SAFETY: every call is forwarded to the system allocator unchanged; the
// counter is only bookkeeping.
unsafe impl GlobalAlloc for CountingAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: same contract as ours.
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            LIVE_BYTES.fetch_add(layout.size(), Ordering::Relaxed);
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as ours.
        unsafe { System.dealloc(ptr, layout) };
        LIVE_BYTES.fetch_sub(layout.size(), Ordering::Relaxed);
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: same contract as ours.
        let p = unsafe { System.alloc_zeroed(layout) };
        if !p.is_null() {
            LIVE_BYTES.fetch_add(layout.size(), Ordering::Relaxed);
        }
        p
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: same contract as ours.
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            LIVE_BYTES.fetch_sub(layout.size(), Ordering::Relaxed);
            LIVE_BYTES.fetch_add(new_size, Ordering::Relaxed);
        }
        p
    }
}

/// The `since last call` halves of `statistics/1`.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    last_runtime_ms: Mutex<u64>,
    last_wall_ms: Mutex<u64>,
}

/// The memory figures, in `erlang:memory/0` order.
pub(crate) fn memory() -> Vec<(&'static str, u64)> {
    let page = page_size();
    let (rss, text) = std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| {
            let f: Vec<u64> = s
                .split_whitespace()
                .filter_map(|w| w.parse().ok())
                .collect();
            Some((*f.get(1)? * page, *f.get(3)? * page))
        })
        .unwrap_or((0, 0));
    let heap = LIVE_BYTES.load(Ordering::Relaxed) as u64;
    let total = rss.max(heap + text);
    vec![
        ("total", total),
        ("processes", heap),
        ("processes_used", heap),
        ("system", total - heap),
        ("atom", 0),
        ("atom_used", 0),
        ("binary", 0),
        ("code", text),
        ("ets", 0),
    ]
}

fn page_size() -> u64 {
    // SAFETY: sysconf only reads a system value.
    let n = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    u64::try_from(n).unwrap_or(4096)
}

fn num(n: u64) -> Term {
    int(i64::try_from(n).unwrap_or(i64::MAX))
}

/// `erlang:memory(Type)` / `erlang:memory([Type])`.
fn memory_of(arg: &Term) -> Result<Term, Exception> {
    let all = memory();
    let one = |t: &Term| {
        let name = t.as_atom().ok_or_else(Exception::badarg)?;
        all.iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| *v)
            .ok_or_else(Exception::badarg)
    };
    match arg.as_list() {
        Some(items) => Ok(list(
            items
                .iter()
                .map(|t| Ok(term!({(t.clone()), (num(one(t)?))})))
                .collect::<Result<_, Exception>>()?,
        )),
        None => Ok(num(one(arg)?)),
    }
}

/// CPU time of this process, in milliseconds, and its context switches.
fn rusage() -> (u64, u64) {
    // SAFETY: getrusage writes into the struct we pass.
    let mut u: libc::rusage = unsafe { std::mem::zeroed() };
    if unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut u) } != 0 {
        return (0, 0);
    }
    let ms = |t: libc::timeval| (t.tv_sec as u64) * 1000 + (t.tv_usec as u64) / 1000;
    let cpu = ms(u.ru_utime) + ms(u.ru_stime);
    (cpu, (u.ru_nvcsw + u.ru_nivcsw) as u64)
}

/// `erlang:statistics(Item)`.
pub(crate) fn statistics(facts: &Facts, item: &Term) -> Result<Term, Exception> {
    let since = |last: &Mutex<u64>, now: u64| {
        let mut l = last.lock().unwrap_or_else(|e| e.into_inner());
        let d = now.saturating_sub(*l);
        *l = now;
        term!({(num(now)), (num(d))})
    };
    let schedulers = tokio::runtime::Handle::try_current().map_or(1, |h| h.metrics().num_workers());
    let zeros = |n: usize| list(vec![int(0); n]);
    Ok(match item.as_atom().ok_or_else(Exception::badarg)? {
        "runtime" => since(&facts.stats.last_runtime_ms, rusage().0),
        "wall_clock" => {
            let now = u64::try_from(facts.started.elapsed().as_millis()).unwrap_or(u64::MAX);
            since(&facts.stats.last_wall_ms, now)
        }
        "context_switches" => term!({(num(rusage().1)), 0}),
        "reductions" | "exact_reductions" => term!({0, 0}),
        "garbage_collection" => term!({0, 0, 0}),
        "io" => {
            let (input, output) = io_bytes();
            term!({{input, (num(input))}, {output, (num(output))}})
        }
        "run_queue" | "total_run_queue_lengths" | "total_run_queue_lengths_all" => int(0),
        "total_active_tasks" | "total_active_tasks_all" => int(0),
        "run_queue_lengths" | "active_tasks" => zeros(schedulers),
        "run_queue_lengths_all" | "active_tasks_all" => zeros(schedulers + 1),
        "scheduler_wall_time" | "scheduler_wall_time_all" => atom("undefined"),
        _ => return Err(Exception::badarg()),
    })
}

/// Bytes read and written by this process (`/proc/self/io`), as BEAM
/// counts its ports' I/O.
fn io_bytes() -> (u64, u64) {
    let text = std::fs::read_to_string("/proc/self/io").unwrap_or_default();
    let field = |name: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(name)?.trim().parse().ok())
            .unwrap_or(0)
    };
    (field("rchar:"), field("wchar:"))
}

pub(super) fn register(rpc: &Registry, facts: &Arc<Facts>) {
    rpc.register_sync("erlang", "memory", 0, |_, _| {
        Ok(list(
            memory()
                .into_iter()
                .map(|(k, v)| term!({(atom(k)), (num(v))}))
                .collect(),
        ))
    });
    rpc.register_sync("erlang", "memory", 1, |_, args| match args {
        [arg] => memory_of(arg),
        _ => Err(Exception::badarg()),
    });
    let f = facts.clone();
    rpc.register_sync("erlang", "statistics", 1, move |_, args| match args {
        [item] => statistics(&f, item),
        _ => Err(Exception::badarg()),
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_has_beam_keys_and_adds_up() {
        let m = memory();
        let keys: Vec<&str> = m.iter().map(|(k, _)| *k).collect();
        assert_eq!(
            keys,
            [
                "total",
                "processes",
                "processes_used",
                "system",
                "atom",
                "atom_used",
                "binary",
                "code",
                "ets"
            ]
        );
        let get = |k: &str| m.iter().find(|(n, _)| *n == k).unwrap().1;
        assert!(get("total") > 0, "RSS is read from /proc");
        assert_eq!(get("total"), get("processes") + get("system"));
        assert_eq!(
            memory_of(&list(vec![atom("total"), atom("ets")]))
                .unwrap()
                .as_list()
                .map(|l| l.len()),
            Some(2)
        );
        assert_eq!(memory_of(&atom("nonsense")), Err(Exception::badarg()));
    }

    #[test]
    fn statistics_items() {
        let f = Facts {
            init: Default::default(),
            started: std::time::Instant::now(),
            stats: Default::default(),
        };
        let wc = statistics(&f, &atom("wall_clock")).unwrap();
        assert_eq!(wc.as_tuple().map(<[Term]>::len), Some(2));
        assert!(statistics(&f, &atom("runtime")).is_ok());
        assert_eq!(statistics(&f, &atom("run_queue")), Ok(int(0)));
        assert_eq!(statistics(&f, &atom("bogus")), Err(Exception::badarg()));
    }
}
