%% Pool worker gen_server (pool, pool_sleep), registered under its name so
%% that the manager reaches the incarnation its supervisor restarted last.
%% Cast {job, X, Client}: replies {result, X*X} to Client with a plain
%% message. With Sleep > 0 it first waits Sleep ms in `receive after`
%% (timer:sleep): the process is suspended, no OS thread is held.
-module(tp_pool_worker).
-behaviour(gen_server).
-export([start_link/2]).
-export([init/1, handle_call/3, handle_cast/2]).

start_link(Name, Sleep) -> gen_server:start_link({local, Name}, ?MODULE, Sleep, []).

init(Sleep) -> {ok, Sleep}.

handle_call(_Req, _From, Sleep) -> {reply, ok, Sleep}.

handle_cast({job, X, Client}, 0) ->
    Client ! {result, X * X},
    {noreply, 0};
handle_cast({job, X, Client}, Sleep) ->
    timer:sleep(Sleep),
    Client ! {result, X * X},
    {noreply, Sleep}.
