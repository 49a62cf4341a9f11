%% The OTP guide's distributed application `myapp` (Distributed
%% Applications chapter), as the Rust `distro::apps::myapp` behaves:
%% logs its StartType, runs `myapp_server` registered globally.
-module(myapp_app).
-behaviour(application).
-export([start/2, start_phase/3, prep_stop/1, stop/1]).

start(StartType, _Args) ->
    logger:notice("myapp starting: StartType = ~0p", [StartType]),
    myapp_sup:start_link().

start_phase(Phase, StartType, Args) ->
    logger:notice("myapp start_phase(~0p, ~0p, ~0p)", [Phase, StartType, Args]),
    ok.

prep_stop(State) ->
    logger:notice("myapp prep_stop"),
    State.

stop(_State) ->
    logger:notice("myapp stop"),
    ok.
