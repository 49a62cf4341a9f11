//! What inspection tools ask a node over rpc, asked of the `distro` binary
//! and of a BEAM node started with the same kernel parameters, from a third
//! (BEAM) node: every answer must have the BEAM answer's shape (types,
//! tuple sizes, list element types; an empty list fits any list), and the
//! values that describe the same machine or the same configuration must be
//! equal.

use crate::support::{
    BeamNode, BeamOpts, DEFAULT_COOKIE, DistroNode, DistroOpts, Epmd, require_otp, unique_node,
};
use std::time::Duration;

const T: Duration = Duration::from_secs(30);

/// `Shape/1` and `Fits/2` as Erlang funs, for an eval that binds `D` (the
/// distro node) and `B` (the BEAM node).
const SHAPE: &str = "
    Shape = fun Shape(T) when is_integer(T) -> integer;
                Shape(T) when is_float(T) -> float;
                Shape(T) when is_atom(T) -> atom;
                Shape(T) when is_pid(T) -> pid;
                Shape(T) when is_port(T) -> port;
                Shape(T) when is_reference(T) -> reference;
                Shape(T) when is_binary(T) -> binary;
                Shape(T) when is_map(T) -> map;
                Shape([]) -> {list, []};
                Shape(T) when is_list(T) ->
                    case io_lib:printable_unicode_list(T) of
                        true -> string;
                        false -> {list, lists:usort([Shape(E) || E <- T])}
                    end;
                Shape(T) when is_tuple(T) -> list_to_tuple([Shape(E) || E <- tuple_to_list(T)]);
                Shape(_) -> other
            end,
    Fits = fun Fits(X, X) -> true;
               Fits({list, []}, {list, _}) -> true;
               Fits({list, []}, string) -> true;
               Fits({list, Xs}, {list, Ys}) ->
                   lists:all(fun(X) -> lists:any(fun(Y) -> Fits(X, Y) end, Ys) end, Xs);
               Fits(X, Y) when is_tuple(X), is_tuple(Y), tuple_size(X) =:= tuple_size(Y) ->
                   lists:all(fun({P, Q}) -> Fits(P, Q) end,
                             lists:zip(tuple_to_list(X), tuple_to_list(Y)));
               Fits(_, _) -> false
           end,";

#[test]
fn introspection_answers_like_a_beam_node() {
    let Some(otp) = require_otp() else { return };
    let epmd = Epmd::start().unwrap();
    let name = unique_node("in");
    let d = DistroNode::start(
        &epmd,
        DistroOpts::new().args([
            "-name",
            &name,
            "-setcookie",
            DEFAULT_COOKIE,
            "-kernel",
            "net_ticktime",
            "20",
        ]),
    )
    .unwrap();
    d.wait_for_log("distribution started", T).unwrap();
    let b = BeamNode::start(
        &epmd,
        BeamOpts::new("inb")
            .otp(otp.clone())
            .kernel("net_ticktime", "20"),
    )
    .unwrap();
    let driver = BeamNode::start(&epmd, BeamOpts::new("ind").otp(otp)).unwrap();
    let eval = |body: &str| {
        driver
            .eval_timeout(
                &format!(
                    "(fun(D, B) -> {SHAPE} {body} end)('{name}', '{}').",
                    b.node_name()
                ),
                T,
            )
            .unwrap_or_else(|e| panic!("{e}"))
    };

    // Shapes: [{M, F, A}] whose distro answer does not fit BEAM's.
    let mfas = "[{erlang, system_info, [K]} || K <- [otp_release, version, system_version, \
        machine, system_architecture, wordsize, {wordsize, internal}, {wordsize, external}, \
        process_count, process_limit, port_count, port_limit, atom_count, atom_limit, \
        ets_count, ets_limit, schedulers, schedulers_online, logical_processors, \
        logical_processors_online, logical_processors_available, creation, thread_pool_size, \
        threads, smp_support, kernel_poll, heap_type, multi_scheduling, time_offset, \
        dirty_cpu_schedulers, build_type]] ++ \
        [{erlang, memory, []}, {erlang, memory, [total]}, {erlang, memory, [[total, processes]]}, \
         {erlang, processes, []}] ++ \
        [{erlang, statistics, [S]} || S <- [runtime, wall_clock, reductions, exact_reductions, \
         run_queue, context_switches, io, garbage_collection, total_run_queue_lengths]] ++ \
        [{application, get_env, [kernel, net_ticktime]}, \
         {application, get_env, [kernel, no_such_param, dflt]}, \
         {application, get_all_env, [kernel]}, \
         {net_kernel, get_net_ticktime, []}, {os, type, []}, \
         {init, get_arguments, []}, {init, get_plain_arguments, []}, \
         {global, registered_names, []}, {code, which, [no_such_module]}]";
    let misfits = eval(&format!(
        "[{{M, F, A, Ours, Theirs}} || {{M, F, A}} <- {mfas}, \
          Ours <- [rpc:call(D, M, F, A)], Theirs <- [rpc:call(B, M, F, A)], \
          not Fits(Shape(Ours), Shape(Theirs))]"
    ));
    assert_eq!(misfits, "[]", "answers that do not fit BEAM's");

    // process_info of rex on both nodes: every item fits, except that a
    // Rust process has no Erlang function to report (`undefined`, which
    // process_info/2's spec allows).
    let items = "[registered_name, status, message_queue_len, links, monitors, monitored_by, \
        trap_exit, current_function, initial_call, group_leader, heap_size, total_heap_size, \
        stack_size, reductions, dictionary, priority, error_handler, garbage_collection, \
        suspending, memory]";
    let misfits = eval(&format!(
        "Info = fun(N) -> rpc:call(N, erlang, process_info, \
                   [rpc:call(N, erlang, whereis, [rex]), {items}]) end, \
         [{{O, T}} || {{O, T}} <- lists:zip(Info(D), Info(B)), \
          O =/= {{current_function, undefined}}, not Fits(Shape(O), Shape(T))]"
    ));
    assert_eq!(misfits, "[]", "process_info items that do not fit BEAM's");
    assert_eq!(
        eval(
            "[rpc:call(N, erlang, process_info, [rpc:call(N, erlang, whereis, [rex]), \
              [registered_name, status]]) || N <- [D, B]]"
        ),
        "[[{registered_name,rex},{status,waiting}],[{registered_name,rex},{status,waiting}]]"
    );
    assert_eq!(
        eval(
            "Mine = self(), [case rpc:call(N, erlang, process_info, [Mine]) of \
               {badrpc, {'EXIT', {badarg, _}}} -> badarg; Other -> Other end || N <- [D, B]]"
        ),
        "[badarg,badarg]",
        "process_info of a pid of another node is badarg, as on BEAM"
    );

    // Values that describe the same machine or configuration.
    let same = [
        "rpc:call(N, os, type, [])",
        "rpc:call(N, erlang, system_info, [wordsize])",
        "rpc:call(N, erlang, system_info, [{wordsize, external}])",
        "rpc:call(N, erlang, system_info, [logical_processors])",
        "rpc:call(N, erlang, system_info, [logical_processors_online])",
        "rpc:call(N, net_kernel, get_net_ticktime, [])",
        "rpc:call(N, application, get_env, [kernel, net_ticktime])",
        "rpc:call(N, application, get_env, [kernel, no_such_param, dflt])",
        "rpc:call(N, code, which, [no_such_module])",
        "rpc:call(N, global, registered_names, [])",
        "lists:member({kernel, [\"net_ticktime\", \"20\"]}, rpc:call(N, init, get_arguments, []))",
        "[K || {K, _} <- rpc:call(N, erlang, memory, [])]",
        // Two calls: a process of the first rpc may still be exiting when
        // the second counts (on BEAM too), so up to five tries.
        "lists:any(fun(_) -> length(rpc:call(N, erlang, processes, [])) =:= \
         rpc:call(N, erlang, system_info, [process_count]) end, lists:seq(1, 5))",
        // A BIF's badarg: BEAM's frame also has error_info.
        "case rpc:call(N, erlang, system_info, [no_such_key]) of \
           {badrpc, {'EXIT', {badarg, [{erlang, system_info, [no_such_key], _}]}}} -> badarg; \
           Other -> Other end",
    ];
    for expr in same {
        let got = eval(&format!("list_to_tuple([{expr} || N <- [D, B]])"));
        let (ours, theirs) = split_pair(&got);
        assert_eq!(ours, theirs, "{expr}");
    }
    assert_eq!(
        eval(
            "{Good, Bad} = rpc:multicall([D, B], erlang, system_info, [wordsize]), \
             {length(Good), lists:sum(Good), Bad}"
        ),
        "{2,16,[]}"
    );

    // memory(total) is the distro process's resident size.
    let total: u64 = eval("rpc:call(D, erlang, memory, [total])")
        .parse()
        .unwrap();
    let rss_kib: u64 = std::fs::read_to_string(format!("/proc/{}/status", d.pid()))
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap();
    let rss = rss_kib * 1024;
    assert!(
        total >= rss / 2 && total <= rss * 2,
        "memory(total) {total} vs VmRSS {rss}"
    );
    let processes: u64 = eval("rpc:call(D, erlang, memory, [processes])")
        .parse()
        .unwrap();
    assert!(
        processes > 0 && processes < total,
        "processes {processes} of {total}"
    );
}

/// `{A,B}` printed by `~0tp` → (`A`, `B`), splitting at the top-level comma.
fn split_pair(list: &str) -> (String, String) {
    let inner = &list[1..list.len() - 1];
    let mut depth = 0i32;
    let mut in_str = false;
    for (i, c) in inner.char_indices() {
        match c {
            '"' => in_str = !in_str,
            '[' | '{' if !in_str => depth += 1,
            ']' | '}' if !in_str => depth -= 1,
            ',' if depth == 0 && !in_str => {
                return (inner[..i].to_owned(), inner[i + 1..].to_owned());
            }
            _ => {}
        }
    }
    panic!("not a pair: {list}")
}

#[test]
fn kernel_parameters_of_the_wrong_type_boot_as_on_beam() {
    let Some(otp) = require_otp() else { return };
    let epmd = Epmd::start().unwrap();
    let name = unique_node("kp");
    // erl ignores both and uses its defaults: 60 s and 7 s.
    let bad = [
        "-kernel",
        "net_ticktime",
        "60.0",
        "-kernel",
        "net_setuptime",
        "\"7\"",
    ];
    let mut args = vec!["-name", name.as_str(), "-setcookie", DEFAULT_COOKIE];
    args.extend(bad);
    let d = DistroNode::start(&epmd, DistroOpts::new().args(args)).unwrap();
    d.wait_for_log("distribution started", T).unwrap();
    d.wait_for_log(
        "kernel parameter net_ticktime: expected an integer (seconds), got 6.0e1; using 60, as erl does",
        T,
    )
    .unwrap();
    let b = BeamNode::start(&epmd, BeamOpts::new("kpb").otp(otp).args(bad)).unwrap();
    assert_eq!(
        b.eval(&format!(
            "list_to_tuple([rpc:call(N, net_kernel, get_net_ticktime, []) || N <- ['{name}', node()]])."
        ))
        .unwrap(),
        "{60,60}"
    );
}
