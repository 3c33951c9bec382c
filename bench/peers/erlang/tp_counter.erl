%% gen_server of the counting and call workloads: cast `increment` adds 1
%% (counting), call `get` answers the count, call `add` adds 1 and answers
%% the new value (call).
-module(tp_counter).
-behaviour(gen_server).
-export([start_link/0]).
-export([init/1, handle_call/3, handle_cast/2]).

start_link() -> gen_server:start_link(?MODULE, [], []).

init([]) -> {ok, 0}.

handle_call(get, _From, N) -> {reply, N, N};
handle_call(add, _From, N) -> {reply, N + 1, N + 1}.

handle_cast(increment, N) -> {noreply, N + 1}.
