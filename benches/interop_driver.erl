%% Driver of `cargo bench --bench interop`: runs on a BEAM node and measures
%% the same operations against a BEAM target and a distro target, printing
%% one line per result: "R <target> <metric> <value>".
%%
%% Operations (all answered by each node's own implementation):
%%   connect      net_kernel:connect_node/1 after disconnect_node/1 (handshake), µs, median
%%   call         gen_server:call({net_kernel, T}, {is_auth, node()}) round trips per second
%%   call_par     the same from 8 concurrent callers, calls per second in total
%%   rpc          rpc:call(T, erlang, node, []) (erpc spawn_request), calls per second
%%   call_1k      the call with a 1 KiB binary in the request, calls per second
%%   stream       64 KiB binaries sent to a name nobody registered (each target
%%                decodes and drops them), then one call to know they all
%%                arrived (per-pair ordering), MiB per second
-module(interop_driver).
-export([main/1]).

main([Quick | Targets]) ->
    Scale = case Quick of "quick" -> 1; _ -> 5 end,
    [bench(list_to_atom(T), Scale) || T <- Targets],
    io:format("DONE~n"),
    halt(0).

bench(T, Scale) ->
    pong = net_adm:ping(T),
    Conn = median([connect_once(T) || _ <- lists:seq(1, 10 * Scale)]),
    report(T, connect_us, Conn),
    N = 4000 * Scale,
    report(T, call_per_s, rate(N, fun() -> calls(T, N) end)),
    P = 8,
    report(T, call_par_per_s, rate(N, fun() -> parallel(P, fun() -> calls(T, N div P) end) end)),
    R = 1000 * Scale,
    report(T, rpc_per_s, rate(R, fun() -> [T = rpc:call(T, erlang, node, []) || _ <- lists:seq(1, R)] end)),
    Big = binary:copy(<<7>>, 1024),
    report(T, call_1k_per_s, rate(N, fun() -> big_calls(T, N, Big) end)),
    S = 800 * Scale,
    Chunk = binary:copy(<<9>>, 65536),
    report(T, stream_mib_per_s, rate(S, fun() -> stream(T, S, Chunk) end) div 16),
    ok.

stream(T, S, Chunk) ->
    [{bench_sink, T} ! Chunk || _ <- lists:seq(1, S)],
    yes = gen_server:call({net_kernel, T}, {is_auth, node()}, infinity),
    ok.

connect_once(T) ->
    true = erlang:disconnect_node(T),
    wait_gone(T),
    {Us, true} = timer:tc(net_kernel, connect_node, [T]),
    Us.

wait_gone(T) ->
    case lists:member(T, nodes()) of
        true -> timer:sleep(5), wait_gone(T);
        false -> ok
    end.

calls(_T, 0) -> ok;
calls(T, K) ->
    yes = gen_server:call({net_kernel, T}, {is_auth, node()}),
    calls(T, K - 1).

big_calls(_T, 0, _B) -> ok;
big_calls(T, K, B) ->
    yes = gen_server:call({net_kernel, T}, {is_auth, B}),
    big_calls(T, K - 1, B).

parallel(P, F) ->
    Self = self(),
    Pids = [spawn_link(fun() -> F(), Self ! {done, self()} end) || _ <- lists:seq(1, P)],
    [receive {done, Pid} -> ok end || Pid <- Pids],
    ok.

%% Best of three runs, after one untimed warm-up run.
rate(N, F) ->
    F(),
    lists:max([begin {Us, _} = timer:tc(F), round(N * 1000000 / max(Us, 1)) end
               || _ <- lists:seq(1, 3)]).

median(L) ->
    lists:nth((length(L) + 1) div 2, lists:sort(L)).

report(T, Metric, Value) ->
    io:format("R ~s ~s ~p~n", [T, Metric, Value]).
