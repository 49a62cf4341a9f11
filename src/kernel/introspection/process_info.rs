//! `erlang:processes/0`, `erlang:process_info/1,2` and
//! `erlang:is_process_alive/1` — mirrors `process_info_aux` in
//! `erts/emulator/beam/erl_bif_info.c` for Rust processes.
//!
//! What a Rust process has is reported as is (registered name, status,
//! message queue length, links, monitors, monitored_by, trap_exit); what
//! only a BEAM process has gets BEAM's value for a process that never ran
//! Erlang code: `current_function` is `undefined`, `initial_call`
//! `{erlang, apply, 2}` (a process spawned from a closure), heap, stack,
//! memory and reductions 0, the dictionary empty, and the group leader the
//! node's own `<0.0.0>`.

use crate::kernel::rex::{Exception, Registry};
use crate::runtime::{Node, ProcessInfo};
use crate::term;
use crate::term::{Pid, Term, TermExt, atom, boolean, int, list, nil};

/// The items of `process_info/1`, in BEAM's order (`registered_name`
/// first when the process has one).
const DEFAULT_ITEMS: &[&str] = &[
    "current_function",
    "initial_call",
    "status",
    "message_queue_len",
    "links",
    "dictionary",
    "trap_exit",
    "error_handler",
    "priority",
    "group_leader",
    "total_heap_size",
    "heap_size",
    "stack_size",
    "reductions",
    "garbage_collection",
    "suspending",
];

pub(super) fn register(rpc: &Registry) {
    rpc.register_sync("erlang", "processes", 0, |node, _| {
        Ok(list(node.processes().into_iter().map(Term::Pid).collect()))
    });
    rpc.register_sync("erlang", "is_process_alive", 1, |node, args| match args {
        [Term::Pid(p)] if p.node == *node.name() => Ok(boolean(node.is_process_alive(p))),
        _ => Err(Exception::badarg()),
    });
    rpc.register_sync("erlang", "process_info", 1, |node, args| match args {
        [Term::Pid(p)] => process_info_1(node, p),
        _ => Err(Exception::badarg()),
    });
    rpc.register_sync("erlang", "process_info", 2, |node, args| match args {
        [Term::Pid(p), items] => process_info_2(node, p, items),
        _ => Err(Exception::badarg()),
    });
}

fn local_info(node: &Node, pid: &Pid) -> Result<Option<ProcessInfo>, Exception> {
    if pid.node != *node.name() {
        // process_info/1,2 of a remote pid is badarg on BEAM.
        return Err(Exception::badarg());
    }
    Ok(node.process_info(pid))
}

/// `process_info(Pid)`.
pub(crate) fn process_info_1(node: &Node, pid: &Pid) -> Result<Term, Exception> {
    let Some(info) = local_info(node, pid)? else {
        return Ok(atom("undefined"));
    };
    let mut items = Vec::new();
    if info.registered_name.is_some() {
        items.push(item(node, &info, "registered_name")?);
    }
    for name in DEFAULT_ITEMS {
        items.push(item(node, &info, name)?);
    }
    Ok(list(items))
}

/// `process_info(Pid, Item | [Item])`.
pub(crate) fn process_info_2(node: &Node, pid: &Pid, items: &Term) -> Result<Term, Exception> {
    let names: Vec<String> = match items.as_list() {
        Some(l) => l
            .iter()
            .map(|t| t.as_atom().map(str::to_owned).ok_or_else(Exception::badarg))
            .collect::<Result<_, _>>()?,
        None => vec![items.as_atom().ok_or_else(Exception::badarg)?.to_owned()],
    };
    // Unknown items are badarg even for a dead process.
    for n in &names {
        if !KNOWN.contains(&n.as_str()) {
            return Err(Exception::badarg());
        }
    }
    let Some(info) = local_info(node, pid)? else {
        return Ok(atom("undefined"));
    };
    let values = names
        .iter()
        .map(|n| item(node, &info, n))
        .collect::<Result<Vec<_>, _>>()?;
    if items.as_list().is_some() {
        Ok(list(values))
    } else {
        Ok(values.into_iter().next().unwrap_or_else(nil))
    }
}

const KNOWN: &[&str] = &[
    "registered_name",
    "current_function",
    "current_stacktrace",
    "initial_call",
    "status",
    "message_queue_len",
    "links",
    "monitors",
    "monitored_by",
    "dictionary",
    "trap_exit",
    "error_handler",
    "priority",
    "group_leader",
    "total_heap_size",
    "heap_size",
    "stack_size",
    "reductions",
    "memory",
    "garbage_collection",
    "suspending",
    "message_queue_data",
];

fn pids(v: &[Pid]) -> Term {
    list(v.iter().cloned().map(Term::Pid).collect())
}

/// One `{Item, Value}`.
fn item(node: &Node, info: &ProcessInfo, name: &str) -> Result<Term, Exception> {
    let value = match name {
        // BEAM answers [] (not a tuple value) for a process without a name.
        "registered_name" => match &info.registered_name {
            Some(n) => Term::Atom(n.clone()),
            None => return Ok(term!({(atom(name)), []})),
        },
        "current_function" => atom("undefined"),
        "current_stacktrace" | "dictionary" | "suspending" => nil(),
        "initial_call" => term!({erlang, apply, 2}),
        "status" => atom(info.status),
        "message_queue_len" => int(i64::try_from(info.message_queue_len).unwrap_or(i64::MAX)),
        "links" => pids(&info.links),
        "monitors" => list(
            info.monitors
                .iter()
                .map(|o| term!({process, (o.clone())}))
                .collect(),
        ),
        "monitored_by" => pids(&info.monitored_by),
        "trap_exit" => boolean(info.trap_exit),
        "error_handler" => atom("error_handler"),
        "priority" => atom("normal"),
        "group_leader" => Term::Pid(node.init_pid()),
        "total_heap_size" | "heap_size" | "stack_size" | "reductions" | "memory" => int(0),
        "garbage_collection" => list(vec![
            term!({min_heap_size, 233}),
            term!({fullsweep_after, 65535}),
            term!({minor_gcs, 0}),
        ]),
        "message_queue_data" => atom("on_heap"),
        _ => return Err(Exception::badarg()),
    };
    Ok(term!({(atom(name)), (value)}))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn info_of_a_registered_waiting_process() {
        let node = Node::local("n@h");
        let (tx, rx) = tokio::sync::oneshot::channel();
        let pid = node.spawn(move |mut p| async move {
            p.register("probe").unwrap();
            p.trap_exit(true);
            let _ = tx.send(());
            p.receive(|m| m.as_atom() == Some("never")).await;
        });
        rx.await.unwrap();
        node.send(&pid, atom("one"));
        node.send(&pid, atom("two"));
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        let all = process_info_1(&node, &pid).unwrap();
        let first = all.as_list().unwrap()[0].clone();
        assert_eq!(first, term!({registered_name, probe}));
        let got = process_info_2(
            &node,
            &pid,
            &list(vec![
                atom("status"),
                atom("message_queue_len"),
                atom("trap_exit"),
            ]),
        )
        .unwrap();
        assert_eq!(
            got,
            list(vec![
                term!({status, waiting}),
                term!({message_queue_len, 2}),
                term!({trap_exit, (boolean(true))}),
            ])
        );
        assert_eq!(
            process_info_2(&node, &pid, &atom("bogus")),
            Err(Exception::badarg())
        );
        node.exit(&pid, atom("kill"));
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        assert_eq!(
            process_info_2(&node, &pid, &atom("status")),
            Ok(atom("undefined"))
        );
    }
}
