// CAF peer of troupe's actor workloads (../../WORKLOADS.md), for the C++
// Actor Framework 0.17 (Debian libcaf-dev): skynet, pingpong, counting,
// fanin, call, call_thread (alias call_blocking), call_thread_4, spawn_idle,
// ring, pool, pool_sleep, restart, tickers.
//
// Usage: bench-caf [--scale F] [--threads T] workload   (or SCALE=F ...)
//
// An actor is an event-based CAF actor (stateful where it has state). The
// main thread starts the clock, starts the workload and waits on a
// caf::scoped_actor for the final message; only call_thread and
// call_thread_4 block a thread per call (their clients are scoped_actors).
// Each run gets a fresh actor_system with the default work-stealing
// scheduler and scheduler.max-threads = the number of CPUs ("all cores"; CAF 0.17's own
// default would be max(CPUs, 4)); --threads or CAF_THREADS overrides it.
// One workload per process: the process ends with _Exit after its RESULT
// line, so no workload waits for the system's shutdown.
// stdout carries only the RESULT line; anything else goes to stderr.
#include <caf/all.hpp>

#include <sys/resource.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

using namespace caf;
using clk = std::chrono::steady_clock;

// Message tags (CAF 0.17 atoms, at most 10 characters, prefixed so that
// they never clash with CAF's own).
using t_ping = atom_constant<atom("t_ping")>;
using t_pong = atom_constant<atom("t_pong")>;
using t_inc = atom_constant<atom("t_inc")>;
using t_get = atom_constant<atom("t_get")>;
using t_add = atom_constant<atom("t_add")>;
using t_cont = atom_constant<atom("t_cont")>;
using t_val = atom_constant<atom("t_val")>;
using t_done = atom_constant<atom("t_done")>;
using t_start = atom_constant<atom("t_start")>;
using t_stop = atom_constant<atom("t_stop")>;
using t_next = atom_constant<atom("t_next")>;
using t_token = atom_constant<atom("t_token")>;
using t_job = atom_constant<atom("t_job")>;
using t_wake = atom_constant<atom("t_wake")>;
using t_crash = atom_constant<atom("t_crash")>;
using t_up = atom_constant<atom("t_up")>;
using t_tick = atom_constant<atom("t_tick")>;

namespace {

struct bench_result {
    std::string workload;
    int64_t n = 0;
    double ms = 0;
    double units = 0;
    bool ok = false;
    std::string extra;
};

double ms_since(clk::time_point t0) {
    return std::chrono::duration<double, std::milli>(clk::now() - t0).count();
}

int64_t scaled(double def, double scale) {
    auto n = static_cast<int64_t>(std::llround(def * scale));
    return n < 1 ? 1 : n;
}

// Messages a producer sends in one turn before it yields to its mailbox (a
// message to itself), so that one handler never holds a worker for N sends.
constexpr int64_t chunk = 4096;

// ------------------------------------------------------------------ skynet
// A node over the leaves [lo, hi): a leaf sends its ordinal to its parent
// and ends (an empty behavior); an inner node spawns min(10, size) children
// over equal slices of its range (the 10-ary tree when N is a power of 10),
// adds their replies, sends the sum up and quits.

struct sky_state {
    int64_t sum = 0;
    int64_t pending = 0;
};

behavior sky_node(stateful_actor<sky_state> *self, actor parent, int64_t lo, int64_t hi,
                  std::atomic<int64_t> *actors) {
    int64_t size = hi - lo;
    if (size == 1) {
        self->send(parent, t_val::value, lo);
        return {};
    }
    int64_t k = size < 10 ? size : 10;
    actors->fetch_add(k, std::memory_order_relaxed);
    auto me = actor_cast<actor>(self);
    for (int64_t c = 0; c < k; c++)
        self->spawn(sky_node, me, lo + size * c / k, lo + size * (c + 1) / k, actors);
    self->state.pending = k;
    return {[=](t_val, int64_t v) {
        self->state.sum += v;
        if (--self->state.pending == 0) {
            self->send(parent, t_val::value, self->state.sum);
            self->quit();
        }
    }};
}

bench_result skynet(actor_system &sys, double scale) {
    int64_t n = scaled(1e6, scale);
    std::atomic<int64_t> actors{1};
    scoped_actor self{sys};
    int64_t sum = -1;
    auto t0 = clk::now();
    self->spawn(sky_node, actor_cast<actor>(self), int64_t{0}, n, &actors);
    self->receive([&](t_val, int64_t v) { sum = v; });
    double ms = ms_since(t0);
    return {"skynet",
            n,
            ms,
            double(n),
            sum == n * (n - 1) / 2,
            "actors=" + std::to_string(actors.load())};
}

// ---------------------------------------------------------------- pingpong
// A sends (ping, i) to B, B answers (pong, i); A waits for each answer
// before the next ping. rate counts messages (2 per round trip).

behavior pp_b(event_based_actor *self) {
    return {[=](t_ping, int64_t i, const actor &a) { self->send(a, t_pong::value, i); },
            [=](t_stop) { self->quit(); }};
}

struct pp_state {
    actor b;
    int64_t i = 0;
    bool ok = true;
};

behavior pp_a(stateful_actor<pp_state> *self, actor main, int64_t n) {
    self->state.b = self->spawn(pp_b);
    auto me = actor_cast<actor>(self);
    self->send(self->state.b, t_ping::value, int64_t{0}, me);
    return {[=](t_pong, int64_t v) {
        auto &s = self->state;
        s.ok = s.ok && v == s.i;
        if (++s.i == n) {
            self->send(s.b, t_stop::value);
            self->send(main, t_done::value, s.ok);
            self->quit();
            return;
        }
        self->send(s.b, t_ping::value, s.i, me);
    }};
}

bench_result pingpong(actor_system &sys, double scale) {
    int64_t n = scaled(2e6, scale);
    scoped_actor self{sys};
    bool ok = false;
    auto t0 = clk::now();
    self->spawn(pp_a, actor_cast<actor>(self), n);
    self->receive([&](t_done, bool v) { ok = v; });
    double ms = ms_since(t0);
    char extra[96];
    std::snprintf(extra, sizeof extra, "msgs=%lld roundtrips_per_s=%.0f", (long long)(2 * n),
                  n / (ms / 1e3));
    return {"pingpong", n, ms, 2.0 * n, ok, extra};
}

// ---------------------------------------------------------------- counting
// A producer sends N inc to a counter (in chunks of 4,096 per turn), then
// one request get; the reply must be N.

struct counter_state {
    int64_t n = 0;
};

behavior counter(stateful_actor<counter_state> *self) {
    return {[=](t_inc) { self->state.n++; }, [=](t_get) { return self->state.n; },
            [=](t_add) { return ++self->state.n; }};
}

struct producer_state {
    int64_t sent = 0;
};

behavior count_producer(stateful_actor<producer_state> *self, actor main, actor ctr, int64_t n) {
    self->send(self, t_cont::value);
    return {[=](t_cont) {
        auto &s = self->state;
        int64_t end = s.sent + chunk < n ? s.sent + chunk : n;
        for (; s.sent < end; s.sent++)
            self->send(ctr, t_inc::value);
        if (s.sent < n) {
            self->send(self, t_cont::value);
            return;
        }
        self->request(ctr, infinite, t_get::value).then([=](int64_t v) {
            self->send(main, t_done::value, v);
            self->quit();
        });
    }};
}

bench_result counting(actor_system &sys, double scale) {
    int64_t n = scaled(1e7, scale);
    scoped_actor self{sys};
    auto ctr = sys.spawn(counter);
    int64_t got = -1;
    auto t0 = clk::now();
    self->spawn(count_producer, actor_cast<actor>(self), ctr, n);
    self->receive([&](t_done, int64_t v) { got = v; });
    double ms = ms_since(t0);
    anon_send_exit(ctr, exit_reason::user_shutdown);
    return {"counting", n, ms, double(n), got == n, ""};
}

// ------------------------------------------------------------------- fanin
// Producer k sends [N*k/8, N*(k+1)/8) to the sink (4,096 per turn); the
// sink adds until it has N values.

struct sink_state {
    int64_t count = 0, sum = 0;
};

behavior fan_sink(stateful_actor<sink_state> *self, actor main, int64_t n) {
    return {[=](t_val, int64_t v) {
        auto &s = self->state;
        s.sum += v;
        if (++s.count == n) {
            self->send(main, t_done::value, s.count, s.sum);
            self->quit();
        }
    }};
}

behavior fan_producer(stateful_actor<producer_state> *self, actor sink, int64_t lo, int64_t hi) {
    self->state.sent = lo;
    self->send(self, t_cont::value);
    return {[=](t_cont) {
        auto &s = self->state;
        int64_t end = s.sent + chunk < hi ? s.sent + chunk : hi;
        for (; s.sent < end; s.sent++)
            self->send(sink, t_val::value, s.sent);
        if (s.sent < hi)
            self->send(self, t_cont::value);
        else
            self->quit();
    }};
}

bench_result fanin(actor_system &sys, double scale) {
    const int64_t producers = 8;
    int64_t n = scaled(8e6, scale);
    scoped_actor self{sys};
    int64_t count = -1, sum = -1;
    auto t0 = clk::now();
    auto sink = self->spawn(fan_sink, actor_cast<actor>(self), n);
    for (int64_t k = 0; k < producers; k++)
        self->spawn(fan_producer, sink, n * k / producers, n * (k + 1) / producers);
    self->receive([&](t_done, int64_t c, int64_t s) { count = c, sum = s; });
    double ms = ms_since(t0);
    return {"fanin", n, ms, double(n), count == n && sum == n * (n - 1) / 2, "producers=8"};
}

// -------------------------------------------------------------------- call
// An event-based client makes N sequential request(add) to the counter
// server (request(...).then, the next call made from the reply handler);
// reply i must be i.

struct client_state {
    int64_t i = 0;
    bool ok = true;
};

behavior call_client(stateful_actor<client_state> *self, actor main, actor server, int64_t n) {
    auto step = std::make_shared<std::function<void()>>();
    *step = [=] {
        self->request(server, infinite, t_add::value).then([=](int64_t v) {
            auto &s = self->state;
            s.ok = s.ok && v == ++s.i;
            if (s.i == n) {
                self->send(main, t_done::value, s.ok);
                self->quit();
            } else {
                (*step)();
            }
        });
    };
    (*step)();
    return {[](t_stop) {}};
}

bench_result call(actor_system &sys, double scale) {
    int64_t n = scaled(1e6, scale);
    scoped_actor self{sys};
    auto server = sys.spawn(counter);
    bool ok = false;
    auto t0 = clk::now();
    self->spawn(call_client, actor_cast<actor>(self), server, n);
    self->receive([&](t_done, bool v) { ok = v; });
    double ms = ms_since(t0);
    anon_send_exit(server, exit_reason::user_shutdown);
    return {"call", n, ms, double(n), ok, ""};
}

// call_thread (also named call_blocking): the client is a scoped_actor on
// the main thread, a plain OS thread that blocks in receive for each reply.
bench_result call_thread(actor_system &sys, double scale, const std::string &name) {
    int64_t n = scaled(1e6, scale);
    scoped_actor self{sys};
    auto server = sys.spawn(counter);
    bool ok = true;
    int64_t i = 0;
    auto t0 = clk::now();
    for (; i < n && ok; i++)
        self->request(server, infinite, t_add::value)
            .receive([&](int64_t v) { ok = v == i + 1; }, [&](error &) { ok = false; });
    double ms = ms_since(t0);
    anon_send_exit(server, exit_reason::user_shutdown);
    return {name, n, ms, double(i), ok && i == n, "client=scoped_actor"};
}

// call_thread_4: the same server called by 4 std::threads at once, n/4
// calls each, each thread with its own scoped_actor blocking in receive per
// reply. Each thread checks that its replies (the server's counter) grow;
// the calls add up to n and the largest reply seen is n.
bench_result call_thread_4(actor_system &sys, double scale) {
    constexpr int clients = 4;
    int64_t per = scaled(1e6, scale) / clients;
    if (per < 1)
        per = 1;
    int64_t n = per * clients;
    auto server = sys.spawn(counter);
    struct client {
        int64_t done = 0, last = 0;
        bool ok = true;
    };
    std::vector<client> cl(clients);
    std::vector<std::thread> threads;
    auto t0 = clk::now();
    for (int k = 0; k < clients; k++)
        threads.emplace_back([&sys, &server, per, c = &cl[k]] {
            scoped_actor self{sys};
            for (; c->done < per && c->ok; c->done++)
                self->request(server, infinite, t_add::value)
                    .receive(
                        [&](int64_t v) {
                            c->ok = v > c->last;
                            c->last = v;
                        },
                        [&](error &) { c->ok = false; });
        });
    for (auto &t : threads)
        t.join();
    double ms = ms_since(t0);
    anon_send_exit(server, exit_reason::user_shutdown);
    int64_t calls = 0, top = 0;
    bool ok = true;
    for (auto &c : cl) {
        calls += c.done;
        top = c.last > top ? c.last : top;
        ok = ok && c.ok;
    }
    return {"call_thread_4",
            n,
            ms,
            double(calls),
            ok && calls == n && top == n,
            "clients=4 client=scoped_actor"};
}

// -------------------------------------------------------------- spawn_idle
// The main thread spawns N actors; each counts itself started in its init
// (the last one tells the main thread) and waits for stop. ms runs until
// all have started; bytes_per_actor = VmRSS growth / N with the table of N
// handles allocated and touched before the baseline; teardown_ms: send
// each its stop (the last to count itself out tells the main thread).

long vm_rss() {
    std::ifstream f("/proc/self/status");
    std::string line;
    while (std::getline(f, line))
        if (line.compare(0, 6, "VmRSS:") == 0)
            return std::atol(line.c_str() + 6) * 1024;
    return -1;
}

struct idle_shared {
    std::atomic<int64_t> started{0}, stopped{0};
    int64_t n = 0;
    actor main;
};

behavior idle_actor(event_based_actor *self, idle_shared *sh) {
    if (sh->started.fetch_add(1, std::memory_order_acq_rel) + 1 == sh->n)
        anon_send(sh->main, t_start::value);
    return {[=](t_stop) {
        if (sh->stopped.fetch_add(1, std::memory_order_acq_rel) + 1 == sh->n)
            anon_send(sh->main, t_stop::value);
        self->quit();
    }};
}

bench_result spawn_idle(actor_system &sys, double scale) {
    int64_t n = scaled(1e6, scale);
    scoped_actor self{sys};
    idle_shared sh;
    sh.n = n;
    sh.main = actor_cast<actor>(self);
    std::vector<actor> handles(static_cast<size_t>(n));
    std::memset(static_cast<void *>(handles.data()), 0, handles.size() * sizeof(actor));
    long before = vm_rss();
    auto t0 = clk::now();
    for (auto &h : handles)
        h = sys.spawn(idle_actor, &sh);
    self->receive([](t_start) {});
    double ms = ms_since(t0);
    long after = vm_rss();
    auto t1 = clk::now();
    for (auto &h : handles)
        anon_send(h, t_stop::value);
    self->receive([](t_stop) {});
    double teardown = ms_since(t1);
    char extra[128];
    std::snprintf(extra, sizeof extra, "bytes_per_actor=%.0f teardown_ms=%.3f rss_growth_mb=%.1f",
                  double(after - before) / n, teardown, (after - before) / 1048576.0);
    return {"spawn_idle", n, ms, double(n), before > 0 && after > 0, extra};
}

// -------------------------------------------------------------------- ring
// 1,000 actors; member i forwards to member i+1 mod 1000 (its handle set
// by a message before the clock starts). The token starts at N at member
// 0; each hop decrements it; the member that gets 0 tells the main thread.
// Check: the token ends at member N mod 1000 and the forwards add up to N.

struct ring_state {
    actor next;
    int64_t forwards = 0;
};

behavior ring_member(stateful_actor<ring_state> *self, actor main, int64_t idx) {
    return {[=](t_next, const actor &next) { self->state.next = next; },
            [=](t_token, int64_t t) {
                if (t == 0) {
                    self->send(main, t_done::value, idx);
                    return;
                }
                self->state.forwards++;
                self->send(self->state.next, t_token::value, t - 1);
            },
            [=](t_stop) {
                self->send(main, t_val::value, self->state.forwards);
                self->state.next = nullptr;
                self->quit();
            }};
}

bench_result ring(actor_system &sys, double scale) {
    const int64_t size = 1000;
    int64_t n = scaled(1e7, scale);
    scoped_actor self{sys};
    auto me = actor_cast<actor>(self);
    std::vector<actor> members;
    for (int64_t i = 0; i < size; i++)
        members.push_back(sys.spawn(ring_member, me, i));
    for (int64_t i = 0; i < size; i++)
        self->send(members[i], t_next::value, members[(i + 1) % size]);
    int64_t last = -1;
    auto t0 = clk::now();
    self->send(members[0], t_token::value, n);
    self->receive([&](t_done, int64_t i) { last = i; });
    double ms = ms_since(t0);
    int64_t total = 0;
    for (auto &m : members)
        self->send(m, t_stop::value);
    for (int64_t i = 0; i < size; i++)
        self->receive([&](t_val, int64_t f) { total += f; });
    return {"ring", n, ms, double(n), last == n % size && total == n, "actors=1000"};
}

// ------------------------------------------------------- pool, pool_sleep
// A manager actor over W worker actors: it monitors them and spawns a new
// one in place of a worker that goes down (one_for_one emulation: CAF 0.17
// has no supervisor), and hands each job round-robin with delegate, so the
// worker's reply goes straight to the client. The client keeps at most
// 1,000 request(job) in flight and checks the sum of x*x for x = 1..N
// (wrapping uint64). pool_sleep: 100 workers; a worker serves one job at a
// time and each takes 10 ms of timer (delayed_send to itself; the job's
// response_promise is delivered on the wake-up; no thread sleeps).

struct sleep_worker_state {
    std::deque<std::pair<response_promise, int64_t>> queue;
};

behavior pool_worker(stateful_actor<sleep_worker_state> *self, int pause_ms) {
    if (pause_ms == 0)
        return {[](t_job, int64_t x) { return x * x; }};
    return {[=](t_job, int64_t x) {
                auto &q = self->state.queue;
                q.emplace_back(self->make_response_promise(), x);
                if (q.size() == 1)
                    self->delayed_send(self, std::chrono::milliseconds(pause_ms), t_wake::value);
            },
            [=](t_wake) {
                auto &q = self->state.queue;
                auto &front = q.front();
                front.first.deliver(front.second * front.second);
                q.pop_front();
                if (!q.empty())
                    self->delayed_send(self, std::chrono::milliseconds(pause_ms), t_wake::value);
            }};
}

struct manager_state {
    std::vector<actor> workers;
    size_t next = 0;
    int64_t restarts = 0;
};

behavior pool_manager(stateful_actor<manager_state> *self, int workers, int pause_ms) {
    for (int i = 0; i < workers; i++) {
        auto w = self->spawn(pool_worker, pause_ms);
        self->monitor(w);
        self->state.workers.push_back(w);
    }
    self->set_down_handler([=](down_msg &dm) {
        for (auto &w : self->state.workers)
            if (w.address() == dm.source) {
                w = self->spawn(pool_worker, pause_ms);
                self->monitor(w);
                self->state.restarts++;
            }
    });
    return {[=](t_job, int64_t x) {
                auto &s = self->state;
                auto &w = s.workers[s.next];
                s.next = (s.next + 1) % s.workers.size();
                return self->delegate(w, t_job::value, x);
            },
            [=](t_get) { return self->state.restarts; }};
}

struct pool_client_state {
    int64_t next = 1, got = 0;
    uint64_t sum = 0;
};

behavior pool_client(stateful_actor<pool_client_state> *self, actor main, actor mgr, int64_t n) {
    auto send_job = std::make_shared<std::function<void()>>();
    *send_job = [=] {
        int64_t x = self->state.next++;
        self->request(mgr, infinite, t_job::value, x).then([=](int64_t r) {
            auto &s = self->state;
            s.sum += static_cast<uint64_t>(r);
            if (++s.got == n) {
                self->send(main, t_done::value, static_cast<int64_t>(s.sum));
                self->quit();
            } else if (s.next <= n) {
                (*send_job)();
            }
        });
    };
    for (int64_t i = 0; i < 1000 && self->state.next <= n; i++)
        (*send_job)();
    return {[](t_stop) {}};
}

bench_result pool_run(actor_system &sys, const char *name, int64_t n, int workers, int pause_ms) {
    scoped_actor self{sys};
    auto mgr = sys.spawn(pool_manager, workers, pause_ms);
    uint64_t sum = 0;
    auto t0 = clk::now();
    self->spawn(pool_client, actor_cast<actor>(self), mgr, n);
    self->receive([&](t_done, int64_t s) { sum = static_cast<uint64_t>(s); });
    double ms = ms_since(t0);
    int64_t restarts = -1;
    self->request(mgr, infinite, t_get::value)
        .receive([&](int64_t r) { restarts = r; }, [](error &) {});
    uint64_t want = 0;
    for (uint64_t x = 1; x <= static_cast<uint64_t>(n); x++)
        want += x * x;
    char extra[200];
    if (pause_ms > 0) {
        double ideal = double((n + workers - 1) / workers * pause_ms);
        std::snprintf(
            extra, sizeof extra,
            "ideal_ratio=%.3f ideal_ms=%.0f workers=%d in_flight=1000 supervised=emulated",
            ms / ideal, ideal, workers);
    } else {
        std::snprintf(extra, sizeof extra, "workers=%d in_flight=1000 supervised=emulated",
                      workers);
    }
    return {name, n, ms, double(n), sum == want && restarts == 0, extra};
}

// ----------------------------------------------------------------- restart
// A supervisor actor spawns and monitors the worker; on its down_msg it
// spawns the next incarnation (generation + 1), monitors it and tells the
// client (up, generation, handle). The worker crashes on crash: it quits
// with an error reason (an abnormal exit, as exit(crash) in Erlang; no
// exception is thrown). The client, N times: send crash to the supervisor
// (forwarded to the current worker), wait for up, then request ping from
// the new worker, whose reply must be its generation i+1.

behavior crash_worker(event_based_actor *self, int64_t gen) {
    return {[=](t_crash) { self->quit(sec::runtime_error); }, [=](t_ping) { return gen; }};
}

struct rsup_state {
    actor worker;
    int64_t gen = 1;
    actor client;
};

behavior restart_sup(stateful_actor<rsup_state> *self) {
    self->state.worker = self->spawn(crash_worker, int64_t{1});
    self->monitor(self->state.worker);
    self->set_down_handler([=](down_msg &) {
        auto &s = self->state;
        s.worker = self->spawn(crash_worker, ++s.gen);
        self->monitor(s.worker);
        if (s.client)
            self->send(s.client, t_up::value, s.gen, s.worker);
    });
    return {[=](t_crash, const actor &client) {
                self->state.client = client;
                self->send(self->state.worker, t_crash::value);
            },
            [=](t_get) { return self->state.gen - 1; }};
}

struct rclient_state {
    int64_t i = 0;
    bool ok = true;
};

behavior restart_client(stateful_actor<rclient_state> *self, actor main, actor sup, int64_t n) {
    auto me = actor_cast<actor>(self);
    self->send(sup, t_crash::value, me);
    return {[=](t_up, int64_t gen, const actor &w) {
        self->request(w, infinite, t_ping::value)
            .then(
                [=](int64_t g) {
                    auto &s = self->state;
                    s.i++;
                    s.ok = s.ok && g == gen && g == s.i + 1;
                    if (s.i == n) {
                        self->send(main, t_done::value, s.ok);
                        self->quit();
                    } else {
                        self->send(sup, t_crash::value, me);
                    }
                },
                [=](error &) {
                    self->send(main, t_done::value, false);
                    self->quit();
                });
    }};
}

bench_result restart(actor_system &sys, double scale) {
    int64_t n = scaled(1e5, scale);
    scoped_actor self{sys};
    auto sup = sys.spawn(restart_sup);
    bool ok = false;
    auto t0 = clk::now();
    self->spawn(restart_client, actor_cast<actor>(self), sup, n);
    self->receive([&](t_done, bool v) { ok = v; });
    double ms = ms_since(t0);
    int64_t restarts = -1;
    self->request(sup, infinite, t_get::value)
        .receive([&](int64_t r) { restarts = r; }, [](error &) {});
    return {"restart",
            n,
            ms,
            double(n),
            ok && restarts == n,
            "restarts=" + std::to_string(restarts) + " supervised=emulated"};
}

// ----------------------------------------------------------------- tickers
// 10,000 actors, each with a period uniform in 500..3000 ms (splitmix64,
// fixed seed), wake on scheduled_send to themselves at start + k*period
// (absolute deadlines, no drift) and send tick to a collector. The run
// lasts max(2 s, 10 s x scale); the actor count is not scaled. cpu_pct =
// getrusage(RUSAGE_SELF) user + system over the window / wall;
// tick_accuracy = ticks counted / sum(floor(window_i / period_i)).

double cpu_ms() {
    rusage ru{};
    getrusage(RUSAGE_SELF, &ru);
    return (ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e3 +
           (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e3;
}

behavior collector(stateful_actor<counter_state> *self) {
    return {[=](t_tick) { self->state.n++; }, [=](t_get) { return self->state.n; }};
}

struct ticker_state {
    actor_clock::time_point next;
};

behavior ticker(stateful_actor<ticker_state> *self, actor coll, clk::time_point start,
                int64_t period_ms) {
    auto period = std::chrono::milliseconds(period_ms);
    self->state.next = start + period;
    auto me = actor_cast<actor>(self);
    self->scheduled_send(me, self->state.next, t_wake::value);
    return {[=](t_wake) {
                self->send(coll, t_tick::value);
                self->state.next += period;
                self->scheduled_send(me, self->state.next, t_wake::value);
            },
            [=](t_stop) { self->quit(); }};
}

bench_result tickers(actor_system &sys, double scale) {
    const int count = 10000;
    double dur_s = 10.0 * scale < 2.0 ? 2.0 : 10.0 * scale;
    scoped_actor self{sys};
    auto coll = sys.spawn(collector);
    std::vector<int64_t> periods(count);
    std::vector<clk::time_point> starts(count);
    std::vector<actor> tks(count);
    uint64_t seed = 42;
    for (auto &p : periods) {
        seed += 0x9e3779b97f4a7c15ULL;
        uint64_t z = seed;
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
        z ^= z >> 31;
        p = 500 + static_cast<int64_t>(z % 2501);
    }
    for (int i = 0; i < count; i++) {
        starts[i] = clk::now();
        tks[i] = sys.spawn(ticker, coll, starts[i], periods[i]);
    }
    double cpu0 = cpu_ms();
    auto t0 = clk::now();
    std::this_thread::sleep_until(t0 + std::chrono::duration<double>(dur_s));
    double cpu1 = cpu_ms();
    auto t_end = clk::now();
    int64_t observed = -1;
    self->request(coll, infinite, t_get::value)
        .receive([&](int64_t v) { observed = v; }, [](error &) {});
    for (auto &t : tks)
        anon_send(t, t_stop::value);
    int64_t expected = 0;
    for (int i = 0; i < count; i++)
        expected +=
            std::chrono::duration_cast<std::chrono::milliseconds>(t_end - starts[i]).count() /
            periods[i];
    double wall = std::chrono::duration<double, std::milli>(t_end - t0).count();
    double acc = expected > 0 ? double(observed) / double(expected) : 0;
    char extra[160];
    std::snprintf(extra, sizeof extra,
                  "cpu_pct=%.2f tick_accuracy=%.4f ticks=%lld expected_ticks=%lld",
                  100.0 * (cpu1 - cpu0) / wall, acc, (long long)observed, (long long)expected);
    return {"tickers", count, wall, double(observed), expected > 0 && std::fabs(acc - 1) <= 0.05,
            extra};
}

const char *const names[] = {"skynet",      "pingpong",      "counting",      "fanin",      "call",
                             "call_thread", "call_blocking", "call_thread_4", "spawn_idle", "ring",
                             "pool",        "pool_sleep",    "restart",       "tickers"};

int usage(const char *prog, int status) {
    std::fprintf(stderr, "usage: %s [--scale F] [--threads T] workload\nworkloads:", prog);
    for (auto n : names)
        std::fprintf(stderr, " %s", n);
    std::fprintf(stderr, "\n");
    return status;
}

bool parse_scale(const char *s, double *out) {
    char *end = nullptr;
    double v = std::strtod(s, &end);
    if (!*s || *end || !(v > 0) || !std::isfinite(v))
        return false;
    *out = v;
    return true;
}

} // namespace

int main(int argc, char **argv) {
    double scale = 1.0;
    long threads = static_cast<long>(std::thread::hardware_concurrency());
    if (const char *s = std::getenv("SCALE"); s && *s && !parse_scale(s, &scale)) {
        std::fprintf(stderr, "bad scale %s\n", s);
        return 2;
    }
    if (const char *t = std::getenv("CAF_THREADS"); t && *t)
        threads = std::atol(t);
    std::string name;
    for (int i = 1; i < argc; i++) {
        std::string a = argv[i];
        if ((a == "--scale" || a == "--threads") && i + 1 < argc) {
            if (a == "--scale" && !parse_scale(argv[++i], &scale)) {
                std::fprintf(stderr, "bad scale %s\n", argv[i]);
                return 2;
            }
            if (a == "--threads")
                threads = std::atol(argv[++i]);
        } else if (a == "-h" || a == "--help") {
            return usage(argv[0], 0);
        } else if (!a.empty() && a[0] != '-' && name.empty()) {
            name = a;
        } else {
            return usage(argv[0], 2);
        }
    }
    bool known = false;
    for (auto n : names)
        known = known || name == n;
    if (!known || threads < 1)
        return usage(argv[0], 2);

    actor_system_config cfg;
    cfg.set("scheduler.max-threads", static_cast<size_t>(threads));
    bench_result r;
    {
        actor_system sys{cfg};
        if (name == "skynet")
            r = skynet(sys, scale);
        else if (name == "pingpong")
            r = pingpong(sys, scale);
        else if (name == "counting")
            r = counting(sys, scale);
        else if (name == "fanin")
            r = fanin(sys, scale);
        else if (name == "call")
            r = call(sys, scale);
        else if (name == "call_thread" || name == "call_blocking")
            r = call_thread(sys, scale, name);
        else if (name == "call_thread_4")
            r = call_thread_4(sys, scale);
        else if (name == "spawn_idle")
            r = spawn_idle(sys, scale);
        else if (name == "ring")
            r = ring(sys, scale);
        else if (name == "pool")
            r = pool_run(sys, "pool", scaled(1e6, scale), 4, 0);
        else if (name == "pool_sleep")
            r = pool_run(sys, "pool_sleep", scaled(1e4, scale), 100, 10);
        else if (name == "restart")
            r = restart(sys, scale);
        else
            r = tickers(sys, scale);
        std::printf("RESULT workload=%s impl=caf n=%lld ms=%.3f rate=%.0f check=%s%s%s\n",
                    r.workload.c_str(), (long long)r.n, r.ms,
                    r.ms > 0 ? r.units / (r.ms / 1e3) : 0.0, r.ok ? "ok" : "FAIL",
                    r.extra.empty() ? "" : " ", r.extra.c_str());
        std::fflush(stdout);
        // Ends here, without the system's shutdown (it would wait for every
        // actor still alive, such as the ring's members holding each other).
        std::_Exit(r.ok ? 0 : 1);
    }
}
