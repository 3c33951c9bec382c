/* kv_server — a store shard: a gen_server that owns the keys whose hash
 * falls on it (store.h) and runs the connections' requests one at a time,
 * so no key needs a lock. Registered as kv_shard_<i> so that connections
 * find its current pid after a restart. A crash loses the shard's keys
 * (they lived in its state) and the requests queued in its mailbox (their
 * callers get TR_EEXITED and answer an error); the supervisor starts an
 * empty shard under the same name. */
#include <stdio.h>

#include "app.h"
#include "store.h"

typedef struct kv_shard {
    kv_app *app;
    unsigned index;
    kv_store store;
    kv_buf out;
    tr_timer sweep;
} kv_shard;

void kv_shard_name(unsigned i, char *buf, size_t cap) {
    snprintf(buf, cap, "kv_shard_%u", i);
}

static int shard_init(tr_self *self, void *state, const void *arg) {
    kv_shard *sh = (kv_shard *)state;
    const kv_shard_arg *a = (const kv_shard_arg *)arg;
    sh->app = a->app;
    sh->index = a->index;
    if (!kv_store_init(&sh->store))
        return tr_stop(self, tr_reason_error(TR_ENOMEM, "shard store"));
    char name[32];
    kv_shard_name(sh->index, name, sizeof name);
    tr_runtime *rt = tr_self_runtime(self);
    int err = tr_register(rt, name, tr_self_pid(self), NULL);
    if (err)
        return tr_stop(self, tr_reason_error(err, "shard name taken"));
    err = tr_send_interval(rt, tr_self_pid(self), KV_SWEEP_MS, KV_TAG_SWEEP, NULL, 0, &sh->sweep);
    if (err)
        return tr_stop(self, tr_reason_error(err, "shard sweep timer"));
    atomic_fetch_add(&sh->app->shard_starts, 1);
    return TR_CONTINUE;
}

static int shard_call(tr_self *self, void *state, const tr_msg *msg, tr_from from) {
    kv_shard *sh = (kv_shard *)state;
    if (msg->tag != KV_TAG_EXEC) {
        tr_reply_error(from, TR_EINVAL, "unknown request");
        return TR_CONTINUE;
    }
    sh->out.len = 0;
    int r = kv_store_exec(&sh->store, (const char *)msg->data, msg->size, tr_now_ms(), &sh->out);
    if (r == 1)
        tr_fail(self, tr_reason_error(TR_EINVAL, "DEBUG SHARD-CRASH"));
    if (r < 0 || sh->out.failed) {
        tr_reply_error(from, r < 0 ? TR_EINVAL : TR_ENOMEM, "bad request or no memory");
        kv_buf_reset(&sh->out);
        return TR_CONTINUE;
    }
    tr_reply(from, 0, sh->out.p, sh->out.len);
    if (sh->out.cap > 65536)
        kv_buf_reset(&sh->out);
    return TR_CONTINUE;
}

static int shard_info(tr_self *self, void *state, const tr_msg *msg) {
    kv_shard *sh = (kv_shard *)state;
    if (msg->tag == KV_TAG_SWEEP)
        kv_store_sweep(&sh->store, tr_now_ms(), 256);
    return TR_CONTINUE;
}

static void shard_cleanup(void *state) {
    kv_shard *sh = (kv_shard *)state;
    kv_store_fini(&sh->store);
    kv_buf_free(&sh->out);
}

static const tr_behaviour shard_behaviour = {
    .name = "kv_shard",
    .state_size = sizeof(kv_shard),
    .init = shard_init,
    .handle_call = shard_call,
    .handle_info = shard_info,
    .cleanup = shard_cleanup,
};

const tr_behaviour *kv_shard_behaviour(void) {
    return &shard_behaviour;
}
