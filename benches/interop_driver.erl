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
%% target's CPU time from /proc/OsPid/stat:
%%   in_100b / in_64k     messages sent to the target (dropped there), per s
%%   out_100b / out_64k   messages the target's bench_streamer sends us, per s
%%   senders8             8 of our processes streaming 100 B in at once, per s
%%   echo1 / echo64       gen_server:call to bench_echo from 1 and 64 callers:
%%                        calls per s, p50 and p99 in µs
%%   echo10m              a 10 MiB binary there and back, ms (median of 5)
%%   *_cpu                the target's CPU per message (µs) or per KiB (ns)
-module(interop_driver).
-export([main/1]).

main(["load", Quick | Targets]) ->
    Scale = case Quick of "quick" -> 1; _ -> 4 end,
    [load(list_to_atom(T), OsPid, Scale) || [T, OsPid] <- pairs(Targets)],
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

load(T, OsPid, Scale) ->
    pong = net_adm:ping(T),
    Small = binary:copy(<<1>>, 100),
    Chunk = binary:copy(<<9>>, 65536),
    N = 50000 * Scale,
    S = 400 * Scale,
    {In100, In100Cpu} = measure(OsPid, N, fun() -> sink(T, N, Small) end),
    report(T, in_100b_per_s, In100),
    report(T, in_100b_cpu_us, In100Cpu),
    {In64, In64Cpu} = measure(OsPid, S, fun() -> sink(T, S, Chunk) end),
    report(T, in_64k_mib_per_s, In64 div 16),
    report(T, in_64k_cpu_ns_per_kib, round(In64Cpu * 1000 / 64)),
    {Out100, Out100Cpu} = measure(OsPid, N, fun() -> from_streamer(T, N, Small) end),
    report(T, out_100b_per_s, Out100),
    report(T, out_100b_cpu_us, Out100Cpu),
    {Out64, Out64Cpu} = measure(OsPid, S, fun() -> from_streamer(T, S, Chunk) end),
    report(T, out_64k_mib_per_s, Out64 div 16),
    report(T, out_64k_cpu_ns_per_kib, round(Out64Cpu * 1000 / 64)),
    {Par, _} = measure(OsPid, N, fun() -> parallel(8, fun() -> sink(T, N div 8, Small) end) end),
    report(T, senders8_per_s, Par),
    [begin
         {Rate, P50, P99} = echo(T, Callers, 4000 * Scale div Callers),
         report(T, list_to_atom("echo" ++ integer_to_list(Callers) ++ "_per_s"), Rate),
         report(T, list_to_atom("echo" ++ integer_to_list(Callers) ++ "_p50_us"), P50),
         report(T, list_to_atom("echo" ++ integer_to_list(Callers) ++ "_p99_us"), P99)
     end || Callers <- [1, 64]],
    Ten = binary:copy(<<5>>, 10 * 1024 * 1024),
    Ms = [begin
              {Us, Ten} = timer:tc(gen_server, call, [{bench_echo, T}, Ten, infinity]),
              Us div 1000
          end || _ <- lists:seq(1, 6)],
    report(T, echo10m_ms, median(tl(Ms))),
    ok.

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

%% Calls from C callers, Each calls each: {calls/s, p50 µs, p99 µs}.
echo(T, C, Each) ->
    Self = self(),
    Call = fun() -> [begin
                         {Us, x} = timer:tc(gen_server, call, [{bench_echo, T}, x]),
                         Us
                     end || _ <- lists:seq(1, Each)]
           end,
    Call(),
    T0 = erlang:monotonic_time(microsecond),
    Pids = [spawn_link(fun() -> Self ! {lat, self(), Call()} end) || _ <- lists:seq(1, C)],
    Lat = lists:sort(lists:append([receive {lat, P, L} -> L end || P <- Pids])),
    Us = erlang:monotonic_time(microsecond) - T0,
    Len = length(Lat),
    {round(Len * 1000000 / max(Us, 1)),
     lists:nth(max(1, Len div 2), Lat),
     lists:nth(max(1, (Len * 99) div 100), Lat)}.

%% Best rate of three timed runs after a warm-up, and the target's CPU time
%% per unit over the timed runs (µs).
measure(OsPid, N, F) ->
    F(),
    C0 = cpu_us(OsPid),
    Rates = [begin {Us, _} = timer:tc(F), round(N * 1000000 / max(Us, 1)) end
             || _ <- lists:seq(1, 3)],
    C1 = cpu_us(OsPid),
    {lists:max(Rates), (C1 - C0) / (3 * N)}.

%% utime + stime of an OS process, µs (clock ticks of 10 ms).
cpu_us(OsPid) ->
    {ok, B} = file:read_file("/proc/" ++ OsPid ++ "/stat"),
    S = binary_to_list(B),
    Fields = string:tokens(lists:nthtail(string:rchr(S, $)), S), " "),
    (list_to_integer(lists:nth(12, Fields)) + list_to_integer(lists:nth(13, Fields))) * 10000.
