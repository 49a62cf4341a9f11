#!/usr/bin/env escript
%%! -noshell
%% Generates the golden ETF corpus used by src/term/codec/corpus_test.rs
%% and src/term/order_test.rs.
%%
%%   cd src/term/codec/testdata
%%   escript gen_corpus.escript full  > corpus_otp25.txt
%%   escript gen_corpus.escript order > order_otp25.txt
%%   cp gen_corpus.escript /opt/distro-otp/otp27/tmp/
%%   chroot /opt/distro-otp/otp27 escript /tmp/gen_corpus.escript small > corpus_otp27.txt
%%   chroot /opt/distro-otp/otp27 escript /tmp/gen_corpus.escript order > order_otp27.txt
%%   (same for otp29)
%%
%% corpus lines:  Name Mode Hex Expected Printed
%%   Mode exact : encode(decode(Hex)) must be Hex byte for byte
%%   Mode canon : encode(decode(Hex)) must be Expected (Hex is an older or
%%                compressed encoding, Expected the minor_version 2 one)
%%   Mode same  : decode(encode(decode(Hex))) must equal decode(Hex)
%%                (BEAM's byte order is not ours: maps over 32 keys are
%%                written in hash order; OTP 27+ writes small ports as
%%                V4_PORT_EXT)
%%   Expected is "-" unless Mode is canon; Printed is the hex of the UTF-8
%%   of io_lib:format("~0p", [T]), or "-" for terms over 4 KiB.
%% order lines: the hex of each term of a shuffled list, in lists:sort order.
-mode(compile).

main([Which]) ->
    Rel = list_to_integer(erlang:system_info(otp_release)),
    case Which of
        "order" -> order();
        _ -> corpus(Which =:= "full", Rel)
    end.

corpus(Full, Rel) ->
    Port = open_port({spawn, "true"}, []),
    Terms = terms(Full) ++ [{port, Port}],
    [emit(Name, T, Rel) || {Name, T} <- Terms],
    [line(Name, legacy_mode(T, Rel), Old, enc(T), T) || {Name, Old, T} <- legacy()],
    ok.

emit(Name, T, Rel) ->
    Bin = enc(T),
    Mode = case T of
               _ when is_map(T), map_size(T) > 32 -> same;
               _ when is_port(T), Rel >= 27 -> same;
               _ -> exact
           end,
    line(Name, Mode, Bin, none, T).

legacy_mode(T, Rel) when is_port(T), Rel >= 27 -> same;
legacy_mode(_, _) -> canon.

enc(T) -> term_to_binary(T, [{minor_version, 2}]).

line(Name, Mode, Bin, Expected, T) ->
    Printed = case byte_size(Bin) > 4096 of
                  true -> "-";
                  false -> hex(unicode:characters_to_binary(io_lib:format("~0p", [T])))
              end,
    io:format("~s ~s ~s ~s ~s~n",
              [Name, Mode, hex(Bin), case Expected of none -> "-"; E -> hex(E) end, Printed]).

hex(Bin) -> [io_lib:format("~2.16.0b", [B]) || <<B>> <= Bin].

neg_zero() -> binary_to_term(<<131, 70, 128, 0:56>>).

atom_ext(A) -> B = atom_to_binary(A, utf8), <<119, (byte_size(B)), B/binary>>.

terms(Full) ->
    X = 42,
    Env = {tuple, "str"},
    [{atom_ok, ok}, {atom_empty, ''}, {atom_space, 'hello world'},
     {atom_elixir, 'Elixir.Distro.DistroCal'}, {atom_latin1, 'é'},
     {atom_unicode, 'hello_世界'}, {atom_true, true}, {atom_quote, 'it\'s'},
     {atom_255, list_to_atom(lists:duplicate(255, $a))},
     {atom_255_2byte, list_to_atom(lists:duplicate(255, 16#e9))},
     {int_0, 0}, {int_1, 1}, {int_255, 255}, {int_256, 256}, {int_m1, -1},
     {int_m256, -256}, {int_max32, 2147483647}, {int_min32, -2147483648},
     {big_2_31, 2147483648}, {big_m2_31_m1, -2147483649}, {big_2_63, 1 bsl 63},
     {big_m2_64, -(1 bsl 64)}, {big_small_max, (1 bsl 2040) - 1},
     {big_large, 1 bsl 2040}, {big_huge, -(1 bsl 5000) + 12345},
     {float_0, 0.0}, {float_neg_0, neg_zero()}, {float_1_5, 1.5},
     {float_pi, math:pi()}, {float_big, 1.0e300}, {float_denorm, 5.0e-324},
     {float_min, -1.7976931348623157e308}, {float_0_1, 0.1}, {float_1e10, 1.0e10},
     {float_sum, 0.1 + 0.2}, {float_1e_5, 1.0e-5}, {float_100, 100.0},
     {string_empty, ""}, {string_abc, "abc"}, {string_latin1, "héllo"},
     {string_escapes, "a\nb\t\"c\\"}, {list_unicode, [256, 1000, 65]},
     {list_neg, [1, -1]}, {string_255, lists:duplicate(255, $s)},
     {bin_empty, <<>>}, {bin_hello, <<"hello">>}, {bin_bytes, <<0, 1, 2, 255>>},
     {bin_1000, list_to_binary(lists:seq(0, 255) ++ lists:seq(0, 255))},
     {bits_1, <<1:1>>}, {bits_2, <<2:2>>}, {bits_3, <<5:3>>}, {bits_4, <<9:4>>},
     {bits_5, <<17:5>>}, {bits_6, <<33:6>>}, {bits_7, <<127:7>>},
     {bits_ab3, <<"ab", 3:2>>}, {bits_255_7, <<255, 85:7>>},
     {tuple_empty, {}}, {tuple_1, {a}}, {tuple_mixed, {a, 1, "s", <<"b">>, 2.5}},
     {tuple_255, list_to_tuple(lists:seq(1, 255))},
     {tuple_256, list_to_tuple(lists:seq(1, 256))},
     {tuple_300, list_to_tuple([{I} || I <- lists:seq(1, 300)])},
     {tuple_nested, {{{}}, {[]}}},
     {map_empty, #{}}, {map_1, #{a => 1}},
     {map_key_order, #{1 => a, 1.0 => b, 0.5 => c, 2 => d, x => e, "s" => f,
                       <<"b">> => g, {t} => h, [] => i, #{} => j}},
     {map_nested, #{a => #{b => #{c => [#{}]}}, z => [1, 2]}},
     {map_32, maps:from_list([{I, I * I} || I <- lists:seq(1, 32)])},
     {map_33, maps:from_list([{I, I * I} || I <- lists:seq(1, 33)])},
     {map_40_mixed, maps:from_list([{{k, I}, [I]} || I <- lists:seq(1, 40)])},
     {list_mixed, [1, 2.0, a, "s", <<"b">>]}, {list_nil, [[]]},
     {improper_atom, [a | b]}, {improper_int, [1, 2 | 3]},
     {improper_bin, [a | <<"x">>]}, {list_of_strings, ["ab", "cd"]},
     {list_deep_100, lists:foldl(fun(_, Acc) -> [Acc] end, [], lists:seq(1, 100))},
     {list_deep_1000, lists:foldl(fun(_, Acc) -> [Acc] end, x, lists:seq(1, 1000))},
     {pid_self, self()}, {pid_local, list_to_pid("<0.42.0>")},
     {pid_external, binary_to_term(<<131, 88, (atom_ext('beam@host'))/binary, 7:32, 3:32, 9:32>>)},
     {ref_make, make_ref()}, {ref_alias, alias()},
     {ref_monitor, erlang:monitor(process, self())},
     {ref_5_words, binary_to_term(<<131, 90, 5:16, (atom_ext('b@h'))/binary, 1:32,
                                    1:32, 2:32, 3:32, 4:32, 5:32>>)},
     {port_v4, binary_to_term(<<131, 120, (atom_ext('b@h'))/binary, (1 bsl 40):64, 2:32>>)},
     {fun_export, fun lists:map/2}, {fun_export_op, fun erlang:'+'/2},
     {fun_export_quoted, erlang:make_fun('Elixir.Foo', 'bar?', 1)},
     {fun_local, fun() -> ok end}, {fun_local_arity2, fun(A, B) -> A + B end},
     {fun_local_env, fun(Y) -> {X, Env, Y} end},
     {gen_call, {'$gen_call', {self(), make_ref()}, {get, key}}}]
    ++ case Full of
           true -> [{string_65535, lists:duplicate(65535, $x)},
                    {list_65536, lists:duplicate(65536, $x)}];
           false -> []
       end.

%% Older or compressed encodings, and the term they stand for.
legacy() ->
    PidOld = <<131, 103, (atom_ext('a@h'))/binary, 5:32, 6:32, 2>>,
    RefOld = <<131, 114, 3:16, (atom_ext('a@h'))/binary, 1, 1:32, 2:32, 3:32>>,
    RefOldest = <<131, 101, (atom_ext('a@h'))/binary, 9:32, 1>>,
    PortOld = <<131, 102, (atom_ext('a@h'))/binary, 5:32, 1>>,
    PortNew = <<131, 89, (atom_ext('a@h'))/binary, 5:32, 1:32>>,
    [{float_ext, term_to_binary(1.5, [{minor_version, 0}]), 1.5},
     {float_ext_pi, term_to_binary(math:pi(), [{minor_version, 0}]), math:pi()},
     {atom_ext_latin1, term_to_binary('é', [{minor_version, 0}]), 'é'},
     {small_atom_ext, term_to_binary({abc, 'X'}, [{minor_version, 1}]), {abc, 'X'}},
     {pid_ext, PidOld, binary_to_term(PidOld)},
     {new_reference_ext, RefOld, binary_to_term(RefOld)},
     {reference_ext, RefOldest, binary_to_term(RefOldest)},
     {port_ext, PortOld, binary_to_term(PortOld)},
     {new_port_ext, PortNew, binary_to_term(PortNew)},
     {compressed_list, term_to_binary(lists:duplicate(100, {a, 1}), [compressed]),
      lists:duplicate(100, {a, 1})},
     {compressed_bin, term_to_binary(<<0:8000>>, [compressed]), <<0:8000>>},
     {compressed_max, term_to_binary(lists:seq(1, 1000), [{compressed, 9}]), lists:seq(1, 1000)},
     {list_ext_bytes, <<131, 108, 3:32, 97, 1, 97, 2, 97, 3, 106>>, [1, 2, 3]},
     {list_ext_zero, <<131, 108, 0:32, 97, 5>>, 5},
     {list_tail_string, <<131, 108, 1:32, 97, 1, 107, 2:16, 2, 3>>, [1, 2, 3]},
     {string_ext_empty, <<131, 107, 0:16>>, []},
     {small_big_small, <<131, 110, 1, 0, 5>>, 5},
     {bits_8, <<131, 77, 1:32, 8, 255>>, <<255>>},
     {bits_garbage, <<131, 77, 1:32, 3, 255>>, <<7:3>>},
     {bits_0_empty, <<131, 77, 0:32, 0>>, <<>>},
     {export_integer_arity, <<131, 113, (atom_ext(l))/binary, (atom_ext(m))/binary, 98, 2:32>>,
      erlang:make_fun(l, m, 2)}].

order() ->
    Nodes = ['a@h', 'b@h'],
    Pids = [binary_to_term(<<131, 88, (atom_ext(N))/binary, I:32, S:32, C:32>>)
            || N <- Nodes, I <- [0, 1, 7], S <- [0, 2], C <- [1, 3]],
    Ports = [binary_to_term(<<131, 120, (atom_ext(N))/binary, I:64, C:32>>)
             || N <- Nodes, I <- [0, 5, 1 bsl 33], C <- [1, 4]],
    Refs = [binary_to_term(<<131, 90, (length(Ids)):16, (atom_ext(N))/binary, C:32,
                             << <<W:32>> || W <- Ids >>/binary>>)
            || N <- Nodes, C <- [0, 2],
               Ids <- [[1, 0, 0], [2, 0, 0], [0, 1, 0], [0, 0, 1], [5, 0, 0, 1], [3, 4, 5, 0, 1], [9]]],
    Funs = [fun lists:map/2, fun lists:map/1, fun lists:all/2, fun erlang:abs/1,
            erlang:make_fun(a, b, 0), fun() -> ok end],
    Numbers = [0, 1, -1, 1.5, -2.5, 2, 255, 256, 1 bsl 64, -(1 bsl 64), 1.0e19,
               1.8446744073709556e19, 9007199254740993, 9007199254740992.5e0 * 2,
               -9007199254740993, 1.0e300, -1.0e300, 0.5, 3 / 2 + 1],
    Atoms = [a, b, 'A', 'Z', aa, '', 'é', 'hello_世界', 'z', 'ÿ', '世'],
    Tuples = [{}, {a}, {b}, {a, a}, {1, 2, 3}, {{}}, {[]}, {a, 1.5}],
    Maps = [#{}, #{a => 1}, #{a => 2}, #{b => 0}, #{1 => a}, #{1.0 => a}, #{0.5 => a},
            #{a => 1, b => 2}, #{a => 2, b => 1}, #{{1} => x}, #{{1.0} => x}],
    Lists = [[], [a], [a, b], [a | b], [a | 1], [1], "a", "ab", "b", [97, 98, 99], [[]],
             [1.5], [a, [b]], [<<>>]],
    Bits = [<<>>, <<0:1>>, <<1:1>>, <<1:3>>, <<1>>, <<1, 2>>, <<1, 2:3>>, <<1, 0:1>>,
            <<128:8>>, <<255>>, <<"abc">>, <<"ab">>],
    All = Pids ++ Ports ++ Refs ++ Funs ++ Numbers ++ Atoms ++ Tuples ++ Maps ++ Lists ++ Bits,
    Shuffled = [T || {_, T} <- lists:sort([{erlang:phash2({I, T}), T}
                                           || {I, T} <- lists:enumerate(All)])],
    [io:format("~s~n", [hex(enc(T))]) || T <- lists:sort(Shuffled)],
    ok.
