/* troupe — the public headers from C++ (C++17, -Wall -Wextra -Werror):
 * every header under include/troupe/ is included (the generated
 * troupe_all_headers.hpp, see test/CMakeLists.txt), and a behaviour written
 * in C++ runs on a runtime: init, a call and its reply, terminate.
 * Exits 0 when every check passed, 1 with a message otherwise. */
#include "troupe_all_headers.hpp"

#include <cstdio>
#include <cstring>

namespace {

struct counter {
    int n;
    bool *terminated;
};

int counter_init(tr_self *, void *state, const void *arg) {
    auto *c = static_cast<counter *>(state);
    c->n = 0;
    c->terminated = static_cast<bool *>(const_cast<void *>(arg));
    return TR_CONTINUE;
}

int counter_call(tr_self *, void *state, const tr_msg *msg, tr_from from) {
    auto *c = static_cast<counter *>(state);
    int add = 0;
    if (msg->size == sizeof add)
        std::memcpy(&add, msg->data, sizeof add);
    c->n += add;
    return tr_reply(from, msg->tag, &c->n, sizeof c->n) == 0 ? TR_CONTINUE : TR_STOP;
}

void counter_terminate(tr_self *, void *state, tr_reason) {
    *static_cast<counter *>(state)->terminated = true;
}

int fails = 0;

void check(bool ok, const char *what) {
    if (!ok) {
        std::fprintf(stderr, "cxx_check: %s\n", what);
        fails++;
    }
}

} // namespace

int main() {
    tr_behaviour b{};
    b.name = "cxx_counter";
    b.state_size = sizeof(counter);
    b.init = counter_init;
    b.handle_call = counter_call;
    b.terminate = counter_terminate;

    tr_runtime_opts o{};
    o.threads = 2;
    tr_runtime *rt = nullptr;
    check(tr_runtime_start(&o, &rt) == 0, "tr_runtime_start");
    if (!rt)
        return 1;
    bool terminated = false;
    tr_pid pid = TR_PID_NONE;
    check(tr_spawn(rt, &b, &terminated, nullptr, &pid) == 0, "tr_spawn");
    int total = 0;
    for (int i = 1; i <= 3; i++) {
        tr_buf reply{};
        check(tr_call(rt, pid, 7, &i, sizeof i, &reply, 10000) == 0, "tr_call");
        check(reply.size == sizeof total, "reply size");
        if (reply.size == sizeof total)
            std::memcpy(&total, reply.data, sizeof total);
        tr_buf_free(&reply);
    }
    check(total == 6, "the counter adds 1 + 2 + 3");
    check(std::strcmp(tr_err_name(TR_ENOPROC), "TR_ENOPROC") == 0, "tr_err_name");
    check(tr_runtime_free(&rt) == 0, "tr_runtime_free");
    check(terminated, "terminate ran at shutdown");
    if (fails == 0)
        std::printf("cxx_check: every public header compiles as C++17; a C++ behaviour ran\n");
    return fails ? 1 : 0;
}
