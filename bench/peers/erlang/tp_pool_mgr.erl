%% Pool manager gen_server: cast {job, X, Client} goes to the next worker
%% name, round-robin (a cast to the registered name).
-module(tp_pool_mgr).
-behaviour(gen_server).
-export([start_link/1]).
-export([init/1, handle_call/3, handle_cast/2]).

start_link(Names) -> gen_server:start_link(?MODULE, Names, []).

init(Names) -> {ok, {list_to_tuple(Names), 1}}.

handle_call(_Req, _From, S) -> {reply, ok, S}.

handle_cast({job, _, _} = Job, {Names, I}) ->
    gen_server:cast(element(I, Names), Job),
    Next = case I of N when N =:= tuple_size(Names) -> 1; N -> N + 1 end,
    {noreply, {Names, Next}}.
