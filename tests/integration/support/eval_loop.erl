%% The stdin-driven eval loop of the interop test harness.
%%
%% This is NOT a module: it is an expression sequence that the harness passes
%% verbatim to `erl -noshell -eval`, so that no .beam file has to be compiled
%% or copied (it runs unchanged inside the OTP 27/29 chroots). The harness
%% (tests/integration/support/beam.rs) owns the protocol:
%%
%%   node -> harness   @@READY <os pid> <node name> <otp release>   once, first
%%   harness -> node   one line = one Erlang expression sequence ending in "."
%%   node -> harness   @@R <n> <value>            the value, printed with ~0tp
%%                     @@E <n> <class>:<reason>   an exception, reason ~0tp
%%                     (n counts input lines from 1; results are one line)
%%   node -> harness   @@FATAL <term>             the loop itself crashed
%%
%% Bindings are kept from one line to the next. End of input (the harness
%% dropped its end of the pipe, or the test process died) halts the node.
io:setopts(standard_io, [{encoding, unicode}]),
HarnessOut = fun(Io) -> io:put_chars(standard_io, Io) end,
HarnessFmt = fun(T) -> io_lib:format("~0tp", [T]) end,
spawn(fun() ->
    HarnessLoop = fun HarnessLoop(N, B) ->
        case io:get_line(standard_io, "") of
            eof -> erlang:halt(0);
            {error, _} -> erlang:halt(0);
            Line ->
                {Res, B2} =
                    try
                        case erl_scan:string(unicode:characters_to_list(Line)) of
                            {ok, Toks, _} ->
                                case erl_parse:parse_exprs(Toks) of
                                    {ok, Es} ->
                                        {value, V, NB} = erl_eval:exprs(Es, B),
                                        {{ok, V}, NB};
                                    {error, PE} ->
                                        {{error, error, {parse_error, PE}}, B}
                                end;
                            {error, SE, _} ->
                                {{error, error, {scan_error, SE}}, B}
                        end
                    catch
                        C:R -> {{error, C, R}, B}
                    end,
                case Res of
                    {ok, Val} ->
                        HarnessOut(["@@R ", integer_to_list(N), " ", HarnessFmt(Val), "\n"]);
                    {error, Cl, Re} ->
                        HarnessOut(["@@E ", integer_to_list(N), " ", atom_to_list(Cl), ":",
                                    HarnessFmt(Re), "\n"])
                end,
                HarnessLoop(N + 1, B2)
        end
    end,
    HarnessOut(["@@READY ", os:getpid(), " ", atom_to_list(node()), " ",
                erlang:system_info(otp_release), "\n"]),
    try
        HarnessLoop(1, erl_eval:new_bindings())
    catch
        C:R:S ->
            HarnessOut(["@@FATAL ", HarnessFmt({C, R, S}), "\n"]),
            erlang:halt(3)
    end
end).
