%% The load round's processes on the BEAM target of `cargo bench --bench
%% interop`; the distro target runs the same two in Rust (benches/interop.rs,
%% `load_target`). Plain receive loops on both sides, so that each side's
%% runtime is measured, not a behaviour's bookkeeping.
%%
%%   bench_echo      answers {'$gen_call', From, Req} with Req (gen_server:call
%%                   from the driver) and {From, Tag, Msg} with {Tag, Msg}
%%   bench_streamer  on {stream, To, N, Bin} sends Bin to To N times, then
%%                   {stream_done, N}
-module(bench_target).
-export([start/0]).

start() ->
    register(bench_echo, spawn(fun echo/0)),
    register(bench_streamer, spawn(fun streamer/0)),
    ok.

echo() ->
    receive
        {'$gen_call', From, Req} -> gen:reply(From, Req);
        {From, Tag, Msg} when is_pid(From) -> From ! {Tag, Msg};
        _ -> ok
    end,
    echo().

streamer() ->
    receive
        {stream, To, N, Bin} ->
            [To ! Bin || _ <- lists:seq(1, N)],
            To ! {stream_done, N};
        _ -> ok
    end,
    streamer().
