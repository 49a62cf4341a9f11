//! `proc_lib` — mirrors the parts of `lib/stdlib/src/proc_lib.erl` that
//! behaviour processes rely on: the `'$ancestors'` and `'$initial_call'`
//! entries of the process dictionary (what `sys:get_status/1`,
//! `gen:get_parent/0` and observer tools read), and the crash report of a
//! process that exits abnormally.
//!
//! ```text
//! =CRASH REPORT====
//!   crasher:
//!     initial call: Mod:init/1
//!     pid: <0.80.0>
//!     registered_name: []
//!     exception exit: Reason
//!     ancestors: [Parent, …]
//!     message_queue_len: 0
//!     messages: []
//!     links: [<0.79.0>]
//!     dictionary: []
//!     trap_exit: false
//!     status: running
//!   neighbours:
//! ```
//!
//! A Rust process has no heap, stack or reduction counter, so the report
//! leaves out `heap_size`, `stack_size`, `reductions` and the stack trace.

use crate::runtime::Process;
use crate::term;
use crate::term::{Pretty, Term, TermExt, atom, list};

/// The `'$ancestors'` key.
pub(crate) fn ancestors_key() -> Term {
    atom("$ancestors")
}

/// The `'$initial_call'` key.
pub(crate) fn initial_call_key() -> Term {
    atom("$initial_call")
}

/// `proc_lib:get_my_name/0` of `p`: its registered name, else its pid.
pub(crate) fn my_name(p: &Process) -> Term {
    match p.registered_name() {
        Some(n) => Term::Atom(n),
        None => Term::Pid(p.pid().clone()),
    }
}

/// The `'$ancestors'` a process started by `parent` gets:
/// `[ParentName | ParentAncestors]` (`proc_lib:get_ancestors/0`).
pub(crate) fn ancestors_from(parent: &Process) -> Vec<Term> {
    let mut v = vec![my_name(parent)];
    if let Some(l) = parent.get(&ancestors_key()).and_then(TermExt::as_list) {
        v.extend(l.iter().cloned());
    }
    v
}

/// `proc_lib:init_p/5`: records where the process comes from.
pub(crate) fn init_p(p: &mut Process, ancestors: Vec<Term>, initial_call: Term) {
    p.put(initial_call_key(), initial_call);
    p.put(ancestors_key(), list(ancestors));
}

/// `{Mod, init, 1}`, the initial call of a gen_server.
pub(crate) fn mfa(module: Term, function: &str, arity: i64) -> Term {
    term!({(module), (atom(function)), (crate::term::int(arity))})
}

/// `proc_lib:crash_report/4`: logs the report of `p` exiting with
/// `reason` (call it only for abnormal exits).
pub(crate) fn crash_report(p: &mut Process, reason: &Term) {
    let info = p.info();
    let messages = p.messages();
    let initial = match p.get(&initial_call_key()).and_then(TermExt::as_tuple) {
        Some([m, f, a]) => format!("{}:{}/{}", Pretty(m), Pretty(f), Pretty(a)),
        _ => "[]".into(),
    };
    let ancestors = p
        .get(&ancestors_key())
        .cloned()
        .unwrap_or_else(crate::term::nil);
    let registered = match info.as_ref().and_then(|i| i.registered_name.as_ref()) {
        Some(n) => Pretty(&Term::Atom(n.clone())).to_string(),
        None => "[]".into(),
    };
    let dictionary: Vec<Term> = p
        .get_dictionary()
        .into_iter()
        .filter(|(k, _)| *k != ancestors_key() && *k != initial_call_key())
        .map(|(k, v)| term!({(k), (v)}))
        .collect();
    let links = list(
        info.iter()
            .flat_map(|i| i.links.iter().cloned().map(Term::Pid))
            .collect(),
    );
    tracing::error!(
        "=CRASH REPORT====\n  crasher:\n    initial call: {initial}\n    pid: {}\n    registered_name: {registered}\n    exception exit: {}\n    ancestors: {}\n    message_queue_len: {}\n    messages: {}\n    links: {}\n    dictionary: {}\n    trap_exit: {}\n    status: running\n  neighbours:",
        Pretty(&Term::Pid(p.pid().clone())),
        Pretty(reason),
        Pretty(&ancestors),
        messages.len(),
        Pretty(&list(messages)),
        Pretty(&links),
        Pretty(&list(dictionary)),
        info.is_some_and(|i| i.trap_exit),
    );
}
