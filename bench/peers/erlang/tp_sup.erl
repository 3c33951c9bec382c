%% one_for_one supervisor. pool: the named pool workers; restart: the
%% crasher, with an intensity that never escalates during the run (N + 10
%% restarts per second).
-module(tp_sup).
-behaviour(supervisor).
-export([start_link/1]).
-export([init/1]).

start_link(Arg) -> supervisor:start_link(?MODULE, Arg).

init({pool, Names, Sleep}) ->
    Specs = [#{id => Name, start => {tp_pool_worker, start_link, [Name, Sleep]}}
             || Name <- Names],
    {ok, {#{strategy => one_for_one, intensity => 10, period => 1}, Specs}};
init({restart, N, Arg}) ->
    {ok, {#{strategy => one_for_one, intensity => N + 10, period => 1},
          [#{id => tp_crasher, start => {tp_crasher, start_link, [Arg]}}]}}.
