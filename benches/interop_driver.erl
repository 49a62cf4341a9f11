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
%%
%% The load round (`main(["load", Quick, T1, OsPid1, T2, OsPid2])`) runs
%% against targets that have bench_target's processes (benches/
%% bench_target.erl on BEAM, the same in Rust on distro) and reads each
%% target's CPU time from /proc/OsPid/task/*/schedstat, measuring the
%% targets in turns:
%%   in_100b / in_64k     messages sent to the target (dropped there), per s
%%   out_100b / out_64k   messages the target's bench_streamer sends us, per s
%%   senders8             8 of our processes streaming 100 B in at once, per s
%%   echo1 / echo64       gen_server:call to bench_echo from 1 and 64 callers:
%%                        calls per s, p50 and p99 in µs, the target's CPU
%%                        per call in µs
%%   echo10m              a 10 MiB binary there and back, ms (median of 5)
%%   *_cpu                the target's CPU per message (µs) or per KiB (ns)
-module(interop_driver).
-export([main/1]).

main(["load", Quick | Targets]) ->
    Scale = case Quick of "quick" -> 1; _ -> 4 end,
    load([{list_to_atom(T), OsPid} || [T, OsPid] <- pairs(Targets)], Scale),
    io:format("DONE~n"),
    halt(0);
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

pairs([]) -> [];
pairs([A, B | Rest]) -> [[A, B] | pairs(Rest)].

%% Every measurement alternates between the targets (warm-up of each, then
%% three timed rounds of each, in turns), so that drift in the machine's
%% load reaches both alike.
load(Targets, Scale) ->
    [pong = net_adm:ping(T) || {T, _} <- Targets],
    Small = binary:copy(<<1>>, 100),
    Chunk = binary:copy(<<9>>, 65536),
    N = 50000 * Scale,
    %% 200 MiB per timed run and Scale (~50 ms at 4 GiB/s).
    S = 3200 * Scale,
    [each(measure(Targets, K, fun(T) -> Run(T, K, Bin) end),
          fun(T, {R, Cpu}) -> stream_report(T, Dir, Bin, R, Cpu) end)
     || {Dir, Run} <- [{in, fun sink/3}, {out, fun from_streamer/3}],
        {K, Bin} <- [{N, Small}, {S, Chunk}]],
    each(measure(Targets, N, fun(T) -> parallel(8, fun() -> sink(T, N div 8, Small) end) end),
         fun(T, {R, _}) -> report(T, senders8_per_s, R) end),
    [each(echo_rounds(Targets, Callers, 4000 * Scale div Callers),
          fun(T, {Rate, P50, P99, Cpu}) ->
                  Name = "echo" ++ integer_to_list(Callers),
                  report(T, list_to_atom(Name ++ "_per_s"), Rate),
                  report(T, list_to_atom(Name ++ "_p50_us"), P50),
                  report(T, list_to_atom(Name ++ "_p99_us"), P99),
                  report(T, list_to_atom(Name ++ "_cpu_us"), Cpu)
          end)
     || Callers <- [1, 64]],
    Ten = binary:copy(<<5>>, 10 * 1024 * 1024),
    Call10 = fun(T) ->
                     {Us, Ten} = timer:tc(gen_server, call, [{bench_echo, T}, Ten, infinity]),
                     Us div 1000
             end,
    [Call10(T) || {T, _} <- Targets],
    Ms = turns(Targets, 5, fun(T, _) -> Call10(T) end),
    each(Ms, fun(T, L) -> report(T, echo10m_ms, median(L)) end),
    ok.

%% A stream's rows: messages/s and CPU µs per message for 100 B, MiB/s
%% and CPU ns per KiB for 64 KiB.
stream_report(T, Dir, Bin, R, Cpu) when byte_size(Bin) =:= 100 ->
    report(T, list_to_atom(atom_to_list(Dir) ++ "_100b_per_s"), R),
    report(T, list_to_atom(atom_to_list(Dir) ++ "_100b_cpu_us"), Cpu);
stream_report(T, Dir, _Bin, R, Cpu) ->
    report(T, list_to_atom(atom_to_list(Dir) ++ "_64k_mib_per_s"), R div 16),
    report(T, list_to_atom(atom_to_list(Dir) ++ "_64k_cpu_ns_per_kib"), round(Cpu * 1000 / 64)).

%% Runs F(T, OsPid) Rounds times for each target, in turns; returns
%% [{T, [Result]}].
turns(Targets, Rounds, F) ->
    Runs = [{T, F(T, OsPid)} || _ <- lists:seq(1, Rounds), {T, OsPid} <- Targets],
    [{T, [R || {T1, R} <- Runs, T1 =:= T]} || {T, _} <- Targets].

each(PerTarget, F) ->
    [F(T, V) || {T, V} <- PerTarget],
    ok.

%% The best rate of three timed runs of each target, in turns, after a
%% warm-up of each, and the target's CPU time per unit over its timed runs
%% (µs).
measure(Targets, N, F) ->
    [F(T) || {T, _} <- Targets],
    Runs = turns(Targets, 3, fun(T, OsPid) ->
                                     C0 = cpu_us(OsPid),
                                     {Us, _} = timer:tc(fun() -> F(T) end),
                                     {round(N * 1000000 / max(Us, 1)), cpu_us(OsPid) - C0}
                             end),
    [{T, {lists:max([R || {R, _} <- L]), lists:sum([C || {_, C} <- L]) / (3 * N)}}
     || {T, L} <- Runs].

%% Three rounds of echo calls from C callers per target, in turns, after a
%% warm-up: the median round's rate, p50 and p99 of all rounds' calls, and
%% the target's CPU time per call (µs) over the three rounds.
echo_rounds(Targets, C, Each) ->
    [echo(T, C, Each) || {T, _} <- Targets],
    Runs = turns(Targets, 3, fun(T, OsPid) ->
                                     C0 = cpu_us(OsPid),
                                     {R, L} = echo(T, C, Each),
                                     {R, L, cpu_us(OsPid) - C0}
                             end),
    [{T, begin
             Lat = lists:sort(lists:append([L || {_, L, _} <- Rounds])),
             Len = length(Lat),
             {median([R || {R, _, _} <- Rounds]),
              lists:nth(max(1, Len div 2), Lat),
              lists:nth(max(1, (Len * 99) div 100), Lat),
              lists:sum([Cpu || {_, _, Cpu} <- Rounds]) / Len}
         end}
     || {T, Rounds} <- Runs].

%% Messages to a name nobody registered there (decoded and dropped), then a
%% call to know they all arrived (per-pair ordering).
sink(T, K, Bin) ->
    [{bench_sink, T} ! Bin || _ <- lists:seq(1, K)],
    sync = gen_server:call({bench_echo, T}, sync, infinity),
    ok.

from_streamer(T, K, Bin) ->
    {bench_streamer, T} ! {stream, self(), K, Bin},
    receive_n(K),
    receive {stream_done, K} -> ok end.

receive_n(0) -> ok;
receive_n(K) -> receive B when is_binary(B) -> receive_n(K - 1) end.

%% Calls from C callers, Each calls each: {calls/s, latencies in µs}.
echo(T, C, Each) ->
    Self = self(),
    Call = fun() -> [begin
                         {Us, x} = timer:tc(gen_server, call, [{bench_echo, T}, x]),
                         Us
                     end || _ <- lists:seq(1, Each)]
           end,
    T0 = erlang:monotonic_time(microsecond),
    Pids = [spawn_link(fun() -> Self ! {lat, self(), Call()} end) || _ <- lists:seq(1, C)],
    Lat = lists:append([receive {lat, P, L} -> L end || P <- Pids]),
    Us = erlang:monotonic_time(microsecond) - T0,
    {round(length(Lat) * 1000000 / max(Us, 1)), Lat}.

%% The CPU time of an OS process, µs: the time its threads spent on a CPU
%% (/proc/OsPid/task/*/schedstat, ns), not utime + stime, which count
%% 10 ms clock ticks (a 64 KiB stream's CPU per KiB would move by steps
%% of one tick). A thread that ended between two readings drops out of
%% the second: the targets' threads live as long as they do.
cpu_us(OsPid) ->
    Dir = "/proc/" ++ OsPid ++ "/task",
    {ok, Tids} = file:list_dir(Dir),
    lists:sum([thread_ns(Dir ++ "/" ++ T ++ "/schedstat") || T <- Tids]) div 1000.

thread_ns(File) ->
    case file:read_file(File) of
        {ok, B} ->
            [Ns | _] = string:tokens(binary_to_list(B), " \n"),
            list_to_integer(Ns);
        {error, _} ->
            0
    end.
