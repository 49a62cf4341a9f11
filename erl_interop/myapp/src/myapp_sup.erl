-module(myapp_sup).
-behaviour(supervisor).
-export([start_link/0, init/1]).

start_link() ->
    supervisor:start_link({local, myapp_sup}, ?MODULE, []).

init([]) ->
    Server = #{id => myapp_server,
               start => {myapp_server, start_link, []}},
    {ok, {#{strategy => one_for_one, intensity => 3, period => 5}, [Server]}}.
