%% Erlang/OTP peer of troupe's actor workloads (../../WORKLOADS.md): skynet,
%% pingpong, counting, fanin, call, spawn_idle, ring, pool, pool_sleep,
%% restart, tickers. An actor is an Erlang process; the GenServer-style
%% actors are gen_servers (tp_counter, tp_pool_mgr, tp_pool_worker,
%% tp_crasher) under a supervisor (tp_sup) where the workload asks for one.
%%
%% Started by ./run as `erl -noshell -run tp_bench main Workload Scale`, one
%% VM per workload. Prints one RESULT line on stdout and halts with 0 when
%% the check passed, 3 when it failed.
-module(tp_bench).
-export([main/1, idle/3]).

main([Name, ScaleS]) ->
    Scale = list_to_float(ScaleS),
    %% The measured code runs in a fresh process, not in the init's -run one.
    Self = self(),
    spawn_link(fun() -> Self ! {res, run(list_to_atom(Name), Scale)} end),
    receive
        {res, {N, Ms, Units, Ok, Extra}} ->
            Rate = case Ms > 0 of true -> Units * 1000 / Ms; false -> 0.0 end,
            io:format("RESULT workload=~s impl=erlang n=~b ms=~.3f rate=~b check=~s~s~n",
                      [Name, N, float(Ms), round(Rate), check(Ok),
                       [[$\s | E] || E <- Extra]]),
            halt(case Ok of true -> 0; false -> 3 end)
    end.

check(true) -> "ok";
check(false) -> "FAIL".

scaled(Def, Scale) -> max(1, round(Def * Scale)).

now_ns() -> erlang:monotonic_time(nanosecond).

ms_since(T0) -> (now_ns() - T0) / 1.0e6.

fmt(F, A) -> lists:flatten(io_lib:format(F, A)).

%% Returns {N, Ms, Units, Ok, ["key=value"]}; rate = Units / seconds.
run(skynet, Scale) -> skynet(scaled(1000000, Scale));
run(pingpong, Scale) -> pingpong(scaled(2000000, Scale));
run(counting, Scale) -> counting(scaled(10000000, Scale));
run(fanin, Scale) -> fanin(scaled(8000000, Scale));
run(call, Scale) -> call(scaled(1000000, Scale));
run(spawn_idle, Scale) -> spawn_idle(scaled(1000000, Scale));
run(ring, Scale) -> ring(scaled(10000000, Scale));
run(pool, Scale) -> pool(scaled(1000000, Scale), 4, 0);
run(pool_sleep, Scale) -> pool(scaled(10000, Scale), 100, 10);
run(restart, Scale) -> restart(scaled(100000, Scale));
run(tickers, Scale) -> tickers(max(2.0, 10.0 * Scale)).

%% ------------------------------------------------------------------ skynet
%% A node over the leaves [Lo, Hi): a leaf sends its ordinal to its parent;
%% an inner node spawns min(10, size) children over equal slices of its
%% range (the 10-ary tree when N is a power of 10), adds their replies and
%% sends the sum up.
skynet(N) ->
    Self = self(),
    T0 = now_ns(),
    spawn(fun() -> sky_node(Self, 0, N) end),
    Sum = receive {sum, S} -> S end,
    {N, ms_since(T0), N, Sum =:= N * (N - 1) div 2, []}.

sky_node(Parent, Lo, Hi) when Hi - Lo =:= 1 ->
    Parent ! {sum, Lo};
sky_node(Parent, Lo, Hi) ->
    Size = Hi - Lo,
    K = min(10, Size),
    Self = self(),
    [spawn(fun() -> sky_node(Self, Lo + Size * C div K, Lo + Size * (C + 1) div K) end)
     || C <- lists:seq(0, K - 1)],
    Parent ! {sum, sky_collect(K, 0)}.

sky_collect(0, Acc) -> Acc;
sky_collect(K, Acc) -> receive {sum, V} -> sky_collect(K - 1, Acc + V) end.

%% ---------------------------------------------------------------- pingpong
%% A sends {ping, I} to B, B answers {pong, I}; A waits for each answer.
%% rate counts messages (2 per round trip).
pingpong(N) ->
    Self = self(),
    B = spawn(fun pp_b/0),
    T0 = now_ns(),
    spawn(fun() -> pp_a(B, 0, N), Self ! done end),
    receive done -> ok end,
    Ms = ms_since(T0),
    B ! stop,
    {N, Ms, 2 * N, true, [fmt("msgs=~b", [2 * N]),
                          fmt("roundtrips_per_s=~b", [round(N * 1000 / Ms)])]}.

pp_a(B, N, N) -> B;
pp_a(B, I, N) ->
    B ! {ping, self(), I},
    receive {pong, I} -> pp_a(B, I + 1, N) end.

pp_b() ->
    receive
        {ping, From, I} -> From ! {pong, I}, pp_b();
        stop -> ok
    end.

%% ---------------------------------------------------------------- counting
%% A producer process casts N `increment`s to the tp_counter gen_server,
%% then calls `get`.
counting(N) ->
    {ok, C} = tp_counter:start_link(),
    Self = self(),
    T0 = now_ns(),
    spawn_link(fun() -> Self ! {got, count_loop(C, N)} end),
    Got = receive {got, G} -> G end,
    {N, ms_since(T0), N, Got =:= N, []}.

count_loop(C, 0) -> gen_server:call(C, get, infinity);
count_loop(C, K) -> gen_server:cast(C, increment), count_loop(C, K - 1).

%% ------------------------------------------------------------------- fanin
%% Producer K sends [N*K/8, N*(K+1)/8) to the sink as bare integers (an
%% immediate term: nothing to copy onto the sink's heap, where a tagged tuple
%% would cost a heap copy per message); the sink adds until it has N values.
fanin(N) ->
    P = 8,
    Self = self(),
    T0 = now_ns(),
    Sink = spawn(fun() -> Self ! {sink, sink_loop(N, 0, 0)} end),
    [spawn(fun() -> fan_send(Sink, N * K div P, N * (K + 1) div P) end)
     || K <- lists:seq(0, P - 1)],
    {Count, Sum} = receive {sink, R} -> R end,
    {N, ms_since(T0), N, Count =:= N andalso Sum =:= N * (N - 1) div 2,
     [fmt("producers=~b", [P])]}.

fan_send(_Sink, Hi, Hi) -> ok;
fan_send(Sink, V, Hi) -> Sink ! V, fan_send(Sink, V + 1, Hi).

sink_loop(0, C, S) -> {C, S};
sink_loop(K, C, S) -> receive V when is_integer(V) -> sink_loop(K - 1, C + 1, S + V) end.

%% -------------------------------------------------------------------- call
%% A client process makes N sequential gen_server:call(add); the reply to
%% call I must be I.
call(N) ->
    {ok, S} = tp_counter:start_link(),
    Self = self(),
    T0 = now_ns(),
    spawn_link(fun() -> Self ! {ok, call_loop(S, 1, N, true)} end),
    Ok = receive {ok, O} -> O end,
    {N, ms_since(T0), N, Ok, []}.

call_loop(_S, I, N, Ok) when I > N -> Ok;
call_loop(S, I, N, Ok) -> call_loop(S, I + 1, N, Ok andalso gen_server:call(S, add) =:= I).

%% -------------------------------------------------------------- spawn_idle
%% N processes that each bump a shared counter (the last one tells the
%% driver) and wait in `receive stop`. ms runs until all have started;
%% bytes_per_actor = VmRSS growth / N, which includes the driver's list of
%% N pids (16 B per actor: Erlang cannot allocate that list before the
%% baseline); vm_bytes_per_actor is the erlang:memory(total) growth;
%% teardown_ms: send each its stop, wait until the last has counted itself
%% out and the process count is back.
spawn_idle(N) ->
    Self = self(),
    Cnt = atomics:new(1, []),
    erlang:garbage_collect(),
    Procs0 = erlang:system_info(process_count),
    Rss0 = vm_rss(),
    Mem0 = erlang:memory(total),
    T0 = now_ns(),
    Pids = idle_spawn(N, Self, Cnt, N, []),
    receive all_started -> ok end,
    Ms = ms_since(T0),
    Rss1 = vm_rss(),
    Mem1 = erlang:memory(total),
    T1 = now_ns(),
    [P ! stop || P <- Pids],
    receive all_stopped -> ok end,
    wait_procs(Procs0),
    Teardown = ms_since(T1),
    {N, Ms, N, Rss0 > 0 andalso Rss1 > 0,
     [fmt("bytes_per_actor=~b", [round((Rss1 - Rss0) / N)]),
      fmt("teardown_ms=~.3f", [Teardown]),
      fmt("rss_growth_mb=~.1f", [(Rss1 - Rss0) / 1048576]),
      fmt("vm_bytes_per_actor=~b", [round((Mem1 - Mem0) / N)])]}.

idle_spawn(0, _Driver, _Cnt, _N, Acc) -> Acc;
idle_spawn(K, Driver, Cnt, N, Acc) ->
    P = spawn(?MODULE, idle, [Driver, Cnt, N]),
    idle_spawn(K - 1, Driver, Cnt, N, [P | Acc]).

idle(Driver, Cnt, N) ->
    case atomics:add_get(Cnt, 1, 1) of
        N -> Driver ! all_started;
        _ -> ok
    end,
    receive
        stop ->
            case atomics:sub_get(Cnt, 1, 1) of
                0 -> Driver ! all_stopped;
                _ -> ok
            end
    end.

wait_procs(N) ->
    case erlang:system_info(process_count) =< N of
        true -> ok;
        false -> erlang:yield(), wait_procs(N)
    end.

vm_rss() ->
    case file:read_file("/proc/self/status") of
        {ok, Bin} ->
            case re:run(Bin, "VmRSS:\\s+([0-9]+) kB", [{capture, all_but_first, list}]) of
                {match, [Kb]} -> list_to_integer(Kb) * 1024;
                nomatch -> -1
            end;
        _ -> -1
    end.

%% -------------------------------------------------------------------- ring
%% 1,000 processes; member I forwards to member I+1 mod 1000. The token N
%% starts at member 0; each hop decrements it; the member that gets 0 tells
%% the driver. The token is a bare integer (no heap copy per hop). Building
%% the ring is not timed. Check: the token ends at member N mod 1000 and the
%% members' forwards add up to N.
ring(N) ->
    Size = 1000,
    Self = self(),
    Members = [spawn(fun() -> ring_init(Self, I) end) || I <- lists:seq(0, Size - 1)],
    Next = tl(Members) ++ [hd(Members)],
    [M ! {next, X} || {M, X} <- lists:zip(Members, Next)],
    T0 = now_ns(),
    hd(Members) ! N,
    Last = receive {done, I} -> I end,
    Ms = ms_since(T0),
    [M ! {stop, Self} || M <- Members],
    Total = lists:sum([receive {forwards, M, F} -> F end || M <- Members]),
    {N, Ms, N, Last =:= N rem Size andalso Total =:= N, [fmt("actors=~b", [Size])]}.

ring_init(Driver, I) ->
    receive {next, Next} -> ring_loop(Driver, I, Next, 0) end.

ring_loop(Driver, I, Next, F) ->
    receive
        0 -> Driver ! {done, I}, ring_loop(Driver, I, Next, F);
        T when is_integer(T) -> Next ! T - 1, ring_loop(Driver, I, Next, F + 1);
        {stop, From} -> From ! {forwards, self(), F}
    end.

%% ------------------------------------------------------- pool, pool_sleep
%% A one_for_one supervisor (tp_sup) over W named tp_pool_worker
%% gen_servers; a tp_pool_mgr gen_server casts jobs to them round-robin;
%% workers reply to the client with a plain message. The client keeps at
%% most 1,000 jobs in flight and checks the sum of X*X for X = 1..N
%% (wrapped to 64 bits, as the other peers). pool_sleep: 100 workers, each
%% job waits 10 ms on a timer; ideal_ratio = ms / (ceil(N/100) * 10 ms).
pool(N, W, Sleep) ->
    process_flag(trap_exit, true),
    Names = [list_to_atom("tp_w" ++ integer_to_list(I)) || I <- lists:seq(1, W)],
    {ok, _Sup} = tp_sup:start_link({pool, Names, Sleep}),
    {ok, Mgr} = tp_pool_mgr:start_link(Names),
    Window = 1000,
    Self = self(),
    T0 = now_ns(),
    spawn_link(fun() ->
                       First = min(N, Window),
                       [gen_server:cast(Mgr, {job, X, self()}) || X <- lists:seq(1, First)],
                       Self ! {sum, pool_client(Mgr, First + 1, N, N, 0)}
               end),
    Sum = receive {sum, S} -> S end,
    Ms = ms_since(T0),
    Want = lists:foldl(fun(X, A) -> (A + X * X) band 16#FFFFFFFFFFFFFFFF end, 0,
                       lists:seq(1, N)),
    Extra = case Sleep of
                0 -> [];
                _ ->
                    Ideal = (N + W - 1) div W * Sleep,
                    [fmt("ideal_ratio=~.3f", [Ms / Ideal]), fmt("ideal_ms=~b", [Ideal])]
            end,
    {N, Ms, N, Sum =:= Want,
     Extra ++ [fmt("workers=~b", [W]), "in_flight=1000", "supervised=yes"]}.

pool_client(_Mgr, _X, _N, 0, Sum) -> Sum;
pool_client(Mgr, X, N, Left, Sum) ->
    receive
        {result, R} ->
            X1 = case X =< N of
                     true -> gen_server:cast(Mgr, {job, X, self()}), X + 1;
                     false -> X
                 end,
            pool_client(Mgr, X1, N, Left - 1, (Sum + R) band 16#FFFFFFFFFFFFFFFF)
    end.

%% ----------------------------------------------------------------- restart
%% A one_for_one supervisor over the registered tp_crasher gen_server.
%% N times: cast `crash`, wait for the new incarnation's init to announce
%% itself ({incarnation, I+1}), then gen_server:call `generation` on the
%% registered name, which must answer I+1 (a failed call is retried and
%% counted in failed_calls). The crash reports are silenced (logger level
%% none) so that logging is not measured.
restart(N) ->
    process_flag(trap_exit, true),
    logger:set_primary_config(level, none),
    Gen = atomics:new(1, []),
    {ok, _Sup} = tp_sup:start_link({restart, N, {Gen, self()}}),
    receive {incarnation, 1} -> ok end,
    T0 = now_ns(),
    Retries = restart_loop(1, N, 0),
    Ms = ms_since(T0),
    {N, Ms, N, atomics:get(Gen, 1) =:= N + 1, [fmt("failed_calls=~b", [Retries])]}.

restart_loop(I, N, R) when I > N -> R;
restart_loop(I, N, R) ->
    gen_server:cast(tp_crasher, crash),
    G = I + 1,
    receive {incarnation, G} -> ok end,
    restart_loop(I + 1, N, R + await_generation(G, 0)).

await_generation(G, R) ->
    case catch gen_server:call(tp_crasher, generation) of
        G -> R;
        _ -> erlang:yield(), await_generation(G, R + 1)
    end.

%% ----------------------------------------------------------------- tickers
%% 10,000 processes, each with a period uniform in 500..3000 ms (splitmix64,
%% fixed seed), arm erlang:send_after on absolute deadlines start + k*period
%% (no drift) and send `tick` to a collector process on each. The run lasts
%% max(2 s, 10 s x scale); the actor count is not scaled. cpu_pct = the
%% process's user + system time (/proc/self/stat, clock ticks of 10 ms) over
%% the window / wall, as getrusage in the other peers (statistics(runtime)
%% leaves system time out: runtime_cpu_pct); tick_accuracy = ticks counted
%% / sum(floor(window_i / period_i)).
tickers(DurS) ->
    Count = 10000,
    Self = self(),
    Collector = spawn(fun() -> collector(0) end),
    Periods = periods(Count, 42, []),
    Tickers = [spawn(fun() -> ticker_start(Self, Collector, P) end) || P <- Periods],
    Starts = [receive {started, T, St} -> St end || T <- Tickers],
    {Rt0, _} = statistics(runtime),
    Cpu0 = proc_cpu_ms(),
    T0 = now_ns(),
    receive after round(DurS * 1000) -> ok end,
    {Rt1, _} = statistics(runtime),
    Cpu1 = proc_cpu_ms(),
    TEnd = now_ns(),
    Collector ! {count, Self},
    Observed = receive {count, C} -> C end,
    [T ! stop || T <- Tickers],
    Expected = lists:sum([(TEnd - St) div (P * 1000000)
                          || {St, P} <- lists:zip(Starts, Periods)]),
    WallMs = (TEnd - T0) / 1.0e6,
    Acc = Observed / max(1, Expected),
    {Count, WallMs, Observed, Expected > 0 andalso abs(Acc - 1) =< 0.05,
     [fmt("cpu_pct=~.2f", [100 * (Cpu1 - Cpu0) / WallMs]),
      fmt("runtime_cpu_pct=~.2f", [100 * (Rt1 - Rt0) / WallMs]),
      fmt("tick_accuracy=~.4f", [Acc]), fmt("ticks=~b", [Observed]),
      fmt("expected_ticks=~b", [Expected])]}.

%% User + system CPU time of the VM process in ms (fields 14 and 15 of
%% /proc/self/stat, in clock ticks of 10 ms).
proc_cpu_ms() ->
    {ok, Bin} = file:read_file("/proc/self/stat"),
    [_, Rest] = binary:split(Bin, <<") ">>),
    Fields = string:lexemes(binary_to_list(Rest), " "),
    (list_to_integer(lists:nth(12, Fields)) + list_to_integer(lists:nth(13, Fields))) * 10.

periods(0, _Seed, Acc) -> lists:reverse(Acc);
periods(K, Seed, Acc) ->
    M = 16#FFFFFFFFFFFFFFFF,
    S = (Seed + 16#9E3779B97F4A7C15) band M,
    Z1 = ((S bxor (S bsr 30)) * 16#BF58476D1CE4E5B9) band M,
    Z2 = ((Z1 bxor (Z1 bsr 27)) * 16#94D049BB133111EB) band M,
    Z = Z2 bxor (Z2 bsr 31),
    periods(K - 1, S, [500 + Z rem 2501 | Acc]).

collector(N) ->
    receive
        tick -> collector(N + 1);
        {count, From} -> From ! {count, N}, collector(N)
    end.

ticker_start(Driver, Collector, P) ->
    Start = erlang:monotonic_time(millisecond),
    Driver ! {started, self(), erlang:convert_time_unit(Start, millisecond, nanosecond)},
    ticker(Collector, Start, P, 1).

ticker(Collector, Start, P, K) ->
    erlang:send_after(Start + K * P, self(), tick, [{abs, true}]),
    receive
        tick -> Collector ! tick, ticker(Collector, Start, P, K + 1);
        stop -> ok
    end.
