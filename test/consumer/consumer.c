/* troupe — a program that uses an installed troupe the way an application
 * does (test/consumer/run.sh builds it through pkg-config, shared and
 * static, and through CMake's find_package): an actor answers a call, and
 * a call that crashes it comes back as TR_EEXITED. Exits 0 when all checks
 * passed. */
#include <stdio.h>
#include <string.h>
#include <troupe/troupe.h>

static int echo_call(tr_self *self, void *state, const tr_msg *msg, tr_from from) {
    (void)state;
    if (msg->tag == 2)
        tr_fail(self, tr_reason_error(1, "asked to crash"));
    return tr_reply(from, msg->tag, msg->data, msg->size) == 0 ? TR_CONTINUE : TR_STOP;
}

static const tr_behaviour echo = {.name = "echo", .handle_call = echo_call};

int main(void) {
    tr_runtime *rt = NULL;
    tr_runtime_opts o = {.threads = 2};
    if (tr_runtime_start(&o, &rt) != 0) {
        fprintf(stderr, "consumer: tr_runtime_start failed\n");
        return 1;
    }
    int fails = 0;
    tr_pid p = TR_PID_NONE;
    if (tr_spawn(rt, &echo, NULL, NULL, &p) != 0) {
        fprintf(stderr, "consumer: tr_spawn failed\n");
        fails++;
    }
    tr_buf r = {0};
    int rc = tr_call(rt, p, 1, "hello", 6, &r, 10000);
    if (rc != 0 || r.size != 6 || memcmp(r.data, "hello", 6) != 0) {
        fprintf(stderr, "consumer: the call got %s\n", tr_err_name(rc));
        fails++;
    }
    tr_buf_free(&r);
    rc = tr_call(rt, p, 2, NULL, 0, &r, 10000);
    if (rc != TR_EEXITED) {
        fprintf(stderr, "consumer: a crashing call got %s, not TR_EEXITED\n", tr_err_name(rc));
        fails++;
    }
    tr_buf_free(&r);
    if (tr_runtime_free(&rt) != 0)
        fails++;
    if (!fails)
        printf("consumer: ok (troupe %d.%d.%d)\n", TROUPE_VERSION_MAJOR, TROUPE_VERSION_MINOR,
               TROUPE_VERSION_PATCH);
    return fails ? 1 : 0;
}
