#!/usr/bin/env escript
%% Regenerates the fuzz seeds that are derived from files of the repository
%% (run from the repository root: escript fuzz/seeds/make_seeds.escript):
%%
%%   etf/          every term of src/term/codec/testdata/corpus_otp*.txt
%%                 (real BEAM encodings) up to 512 bytes, one file each;
%%   config_text/  erl_interop/config/*.config;
%%   dist_ac/      one op byte, then term_to_binary of dist_ac messages.
%%
%% The hand-kept seeds (dist_frame/, handshake/, config_text/hand_*,
%% etf/issue9_*) are left as they are.
main(_) ->
    Etf = "fuzz/seeds/etf",
    ok = filelib:ensure_dir(Etf ++ "/x"),
    [ok = file:delete(F) || F <- filelib:wildcard(Etf ++ "/*_otp*")],
    Seen = lists:foldl(fun(Rel, Seen0) -> etf_seeds(Etf, Rel, Seen0) end,
                       #{}, ["25", "27", "29"]),
    io:format("etf: ~p seeds~n", [maps:size(Seen)]),
    Cfg = "fuzz/seeds/config_text",
    ok = filelib:ensure_dir(Cfg ++ "/x"),
    [begin
         {ok, B} = file:read_file(F),
         ok = file:write_file(filename:join(Cfg, filename:basename(F)), B)
     end || F <- filelib:wildcard("erl_interop/config/*.config")],
    Dac = "fuzz/seeds/dist_ac",
    ok = filelib:ensure_dir(Dac ++ "/x"),
    Msgs = [{dist_ac_new_node, 1, 'a@h',
             [{appl, myapp, undefined, 5000, [a@h, {b@h, c@h}], [{a@h, true}]}], []},
            {dist_ac_app_loaded, 'a@h', myapp, [a@h, {b@h, c@h}], true, false},
            {dist_ac_app_started, 'a@h', myapp, ok},
            {dist_ac_app_started, 'a@h', myapp, {error, x}},
            {dist_ac_app_stopped, myapp},
            {dist_ac_weight, myapp, 3, 'a@h'},
            {dist_ac_new_permission, 'a@h', myapp, false, true},
            {dist_ac_app_unloaded, 'a@h', myapp}],
    %% Op bytes: 5 (no event), 0 (a@h down), 1 (a@h up), 4 (timeout).
    [ok = file:write_file(filename:join(Dac, io_lib:format("~s_~p", [element(1, M), Op])),
                          [Op, term_to_binary(M)])
     || M <- Msgs, Op <- [5, 1]],
    ok = file:write_file(filename:join(Dac, "down_up_timeout"),
                         [0, term_to_binary(lists:nth(2, Msgs)), 1,
                          term_to_binary(lists:nth(6, Msgs)), 4]),
    ok.

etf_seeds(Dir, Rel, Seen0) ->
    {ok, Text} = file:read_file("src/term/codec/testdata/corpus_otp" ++ Rel ++ ".txt"),
    Lines = string:lexemes(binary_to_list(Text), "\n"),
    lists:foldl(
      fun(Line, Seen) ->
              case string:lexemes(Line, " ") of
                  [Name, _, Hex | _] when length(Hex) =< 1024 ->
                      Bin = binary:decode_hex(list_to_binary(Hex)),
                      case maps:is_key(Bin, Seen) of
                          true -> Seen;
                          false ->
                              ok = file:write_file(
                                     filename:join(Dir, Name ++ "_otp" ++ Rel), Bin),
                              Seen#{Bin => true}
                      end;
                  _ -> Seen
              end
      end, Seen0, Lines).
