%% Worker of the restart workload, registered as tp_crasher. Cast `crash`
%% ends it with exit(crash); call `generation` answers its incarnation,
%% counted in an atomics array shared with the driver (1 = the first). Its
%% init tells the watcher process {incarnation, G} (the name is registered
%% before init runs), so that the driver waits without polling.
-module(tp_crasher).
-behaviour(gen_server).
-export([start_link/1]).
-export([init/1, handle_call/3, handle_cast/2]).

start_link(Arg) -> gen_server:start_link({local, tp_crasher}, ?MODULE, Arg, []).

init({Gen, Watcher}) ->
    G = atomics:add_get(Gen, 1, 1),
    Watcher ! {incarnation, G},
    {ok, G}.

handle_call(generation, _From, G) -> {reply, G, G}.

handle_cast(crash, _G) -> exit(crash).
