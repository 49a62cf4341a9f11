%% A server registered globally as `myapp_server`, answering {add, X, Y}.
%% At a takeover the old instance may still hold the name: re-register.
-module(myapp_server).
-behaviour(gen_server).
-export([start_link/0, add/2]).
-export([init/1, handle_call/3, handle_cast/2]).

start_link() ->
    gen_server:start_link(?MODULE, [], []).

add(X, Y) ->
    gen_server:call({global, myapp_server}, {add, X, Y}).

init([]) ->
    yes = global:re_register_name(myapp_server, self()),
    {ok, #{}}.

handle_call({add, X, Y}, _From, S) ->
    {reply, X + Y, S};
handle_call(_, _From, S) ->
    {reply, {error, unknown_call}, S}.

handle_cast(_, S) ->
    {noreply, S}.
