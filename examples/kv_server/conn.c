/* kv_server — a connection process: one per client, a temporary child of
 * the kv_conns simple_one_for_one supervisor. It owns its socket (the
 * acceptor hands it over, then sends KV_TAG_GO) and reads it in
 * {active, true} mode: every read arrives as a TR_TAG_TCP_DATA message.
 * Input that comes while a batch is being served waits in the reader; past
 * KV_PAUSE_BYTES of it the socket goes passive until the batch is out, as
 * a gen_tcp server flips {active, false}. So a client that pipelines is
 * served a batch at a time, in order, and a client that does not read its
 * replies stops being read (the kernel's buffers fill and TCP throttles
 * it) instead of making the server's memory grow. ({active, once}, which
 * needs a tr_tcp_active call per batch, measured 6-13% fewer GETs/s at
 * pipeline depth 1 on the 2-core machine.)
 *
 * A batch: every complete command in the input is planned (session.h);
 * the ops go to their shards, one tr_request per shard (a request watches
 * its shard with a monitor, so a shard that crashes answers TR_EEXITED
 * instead of leaving the connection waiting); when every shard answered,
 * the replies are written in command order. A reply that does not fit in
 * the socket's output queue (send_max) waits for TR_TAG_TCP_DRAINED.
 *
 * It traps exits, so that the supervisor's shutdown (at SIGINT/SIGTERM)
 * lets the batch in flight finish before the process stops. DEBUG CRASH
 * crashes it (tr_fail): its socket closes with it (owner death), nobody
 * else notices. */
#include <stdio.h>
#include <stdlib.h>
#include <sys/time.h>
#include <unistd.h>

#include "app.h"
#include "session.h"
#include "store.h"

typedef struct kv_conn {
    kv_app *app;
    tr_runtime *rt;
    tr_sock sock;
    kv_session *sess;  /* made at the first input (conn_ready) */
    tr_pid *shards;    /* [nshards] cached pids (NONE: look up again) */
    uint64_t *req_ids; /* [nshards] this batch's request to each shard, 0 none */
    unsigned waiting;  /* shard replies still to come */
    size_t out_off;    /* bytes of sess.out already queued */
    uint64_t id;       /* CLIENT ID */
    bool owned;        /* KV_TAG_GO came: counted in app->clients */
    bool blocked;      /* a send got TR_EAGAIN: wait for DRAINED */
    bool fed;          /* input came while a batch was being served */
    bool paused;       /* too much input waits: the socket is passive */
    bool peer_closed;  /* TR_TAG_TCP_CLOSED came: answer what was read, then close */
    bool stopping;     /* shutdown asked: stop once the batch is out */
} kv_conn;

static void conn_info(void *ctx, kv_buf *out) {
    kv_conn *c = (kv_conn *)ctx;
    kv_app *app = c->app;
    char text[1024];
    int n = snprintf(
        text, sizeof text,
        "# Server\r\nredis_version:7.0.0\r\ntroupe_kv_server:1\r\nprocess_id:%ld\r\n"
        "tcp_port:%u\r\nuptime_in_seconds:%lld\r\n"
        "# Clients\r\nconnected_clients:%ld\r\n"
        "# Stats\r\ntotal_connections_received:%ld\r\ntotal_commands_processed:%ld\r\n"
        "# Troupe\r\nscheduler_threads:%u\r\nactors:%zu\r\nshards:%u\r\n"
        "shard_restarts:%ld\r\nconnection_crashes:%ld\r\n",
        (long)getpid(), app->port, (long long)((tr_now_ms() - app->start_ms) / 1000),
        atomic_load(&app->clients), atomic_load(&app->conns_total), atomic_load(&app->commands),
        tr_runtime_threads(app->rt), tr_runtime_actor_count(app->rt), app->nshards,
        atomic_load(&app->shard_starts) - (long)app->nshards, atomic_load(&app->conn_crashes));
    kv_buf_put(out, text, (size_t)n);
}

static int conn_init(tr_self *self, void *state, const void *arg) {
    kv_conn *c = (kv_conn *)state;
    const kv_conn_arg *a = (const kv_conn_arg *)arg;
    c->app = a->app;
    c->rt = tr_self_runtime(self);
    c->sock = a->sock;
    c->id = atomic_fetch_add(&c->app->next_id, 1) + 1;
    tr_trap_exit(self, true);
    return TR_CONTINUE;
}

/* The session, the shard pids and the request ids are made when the
 * client first sends something: an idle connection holds only its process
 * and this state (docs/examples.md gives the bytes per connection). */
static bool conn_ready(kv_conn *c) {
    if (c->shards)
        return true;
    unsigned n = c->app->nshards;
    if (!c->sess)
        c->sess = (kv_session *)calloc(1, sizeof(kv_session));
    if (!c->sess || !kv_session_init(c->sess, n, c->id))
        return false;
    c->sess->info = conn_info;
    c->sess->max_batch = KV_MAX_BATCH;
    c->sess->ctx = c;
    c->req_ids = (uint64_t *)calloc(n, sizeof(uint64_t));
    c->shards = (tr_pid *)calloc(n, sizeof(tr_pid));
    return c->shards && c->req_ids;
}

static int run_batch(tr_self *self, kv_conn *c);

static int stop_now(tr_self *self, kv_conn *c) {
    tr_tcp_close(c->rt, c->sock);
    return tr_stop(self, tr_reason_normal());
}

/* Queues what is left of the batch's replies, in chunks of at most half
 * the queue's bound (so that a DRAINED, which comes at half, always makes
 * room for the next chunk). Then re-arms the socket, or stops. */
static int flush(tr_self *self, kv_conn *c) {
    kv_buf *out = &c->sess->out;
    while (c->out_off < out->len) {
        size_t chunk = out->len - c->out_off;
        if (chunk > KV_SEND_MAX / 2)
            chunk = KV_SEND_MAX / 2;
        int err = tr_tcp_send(c->rt, c->sock, out->p + c->out_off, chunk, 0);
        if (err == TR_EAGAIN) {
            c->blocked = true;
            return TR_CONTINUE;
        }
        if (err)
            return stop_now(self, c); /* the peer is gone */
        c->out_off += chunk;
    }
    /* A batch whose replies were big makes the next ones one command long
     * (until the replies are small again): with the wait for DRAINED
     * above, a client that asks for big values and does not read them
     * holds at most about one reply and one output queue of memory. */
    c->sess->max_batch = out->len > KV_BIG_BATCH ? 1 : KV_MAX_BATCH;
    c->out_off = 0;
    kv_buf_reset(out);
    if (c->sess->closing || c->stopping)
        return stop_now(self, c); /* tr_tcp_close writes the queue out first */
    if (c->sess->more || c->fed) {
        c->fed = false;
        return run_batch(self, c); /* commands already read wait their turn */
    }
    if (c->peer_closed)
        return stop_now(self, c);
    if (c->paused) {
        c->paused = false;
        if (tr_tcp_active(c->rt, c->sock, TR_TCP_ACTIVE_ALWAYS) != 0)
            return stop_now(self, c);
    }
    return TR_CONTINUE;
}

static int complete(tr_self *self, kv_conn *c) {
    kv_session_finish(c->sess);
    if (c->sess->failed)
        tr_fail(self, tr_reason_error(TR_ENOMEM, "connection out of memory"));
    return flush(self, c);
}

static tr_pid shard_pid(kv_conn *c, unsigned i) {
    if (tr_pid_is_none(c->shards[i])) {
        char name[32];
        kv_shard_name(i, name, sizeof name);
        c->shards[i] = tr_whereis(c->rt, name);
    }
    return c->shards[i];
}

/* Plans the commands in the input and sends their ops to the shards. */
static int run_batch(tr_self *self, kv_conn *c) {
    struct timeval tv;
    gettimeofday(&tv, NULL);
    int64_t wall = (int64_t)tv.tv_sec * 1000 + tv.tv_usec / 1000;
    uint64_t before = c->sess->commands;
    unsigned n = kv_session_plan(c->sess, tr_now_ms(), wall);
    atomic_fetch_add(&c->app->commands, (long)(c->sess->commands - before));
    if (c->sess->crash)
        tr_fail(self, tr_reason_error(TR_EINVAL, "DEBUG CRASH"));
    if (c->sess->failed)
        tr_fail(self, tr_reason_error(TR_ENOMEM, "connection out of memory"));
    c->waiting = 0;
    for (unsigned i = 0; n && i < c->app->nshards; i++) {
        kv_buf *req = &c->sess->req[i];
        c->req_ids[i] = 0;
        if (!req->len)
            continue;
        int err = TR_ENOPROC;
        for (int attempt = 0; attempt < 2 && err == TR_ENOPROC; attempt++) {
            tr_pid pid = shard_pid(c, i);
            if (tr_pid_is_none(pid))
                break;
            err = tr_request(self, pid, KV_TAG_EXEC, req->p, req->len, TR_INFINITY, &c->req_ids[i]);
            if (err == TR_ENOPROC)
                c->shards[i] = TR_PID_NONE; /* restarted: look it up again */
        }
        if (err)
            kv_session_reply(c->sess, i, err, NULL, 0); /* its ops answer an error */
        else
            c->waiting++;
    }
    if (c->waiting == 0)
        return complete(self, c);
    return TR_CONTINUE;
}

static int on_data(tr_self *self, kv_conn *c, const tr_msg *m) {
    if (!conn_ready(c))
        tr_fail(self, tr_reason_error(TR_ENOMEM, "connection state"));
    kv_session_feed(c->sess, (const char *)m->data, m->size); /* an error: plan answers it */
    if (c->waiting || c->blocked) {
        /* A batch is being served: this input waits its turn. Past
         * KV_PAUSE_BYTES of it the socket goes passive (the kernel holds
         * the rest and TCP throttles the client) until the batch is out. */
        c->fed = true;
        if (!c->paused && kv_reader_pending(c->sess->rd) > KV_PAUSE_BYTES) {
            c->paused = true;
            tr_tcp_active(c->rt, c->sock, TR_TCP_PASSIVE);
        }
        return TR_CONTINUE;
    }
    return run_batch(self, c);
}

static int on_reply(tr_self *self, kv_conn *c, const tr_msg *m) {
    for (unsigned i = 0; i < c->app->nshards; i++) {
        if (c->req_ids[i] != m->ref || m->ref == 0)
            continue;
        c->req_ids[i] = 0;
        if (m->status == TR_EEXITED || m->status == TR_ENOPROC)
            c->shards[i] = TR_PID_NONE;
        kv_session_reply(c->sess, i, m->status, m->data, m->size);
        if (--c->waiting == 0)
            return complete(self, c);
        break;
    }
    return TR_CONTINUE;
}

static int conn_info_msg(tr_self *self, void *state, const tr_msg *m) {
    kv_conn *c = (kv_conn *)state;
    switch (m->kind) {
    case TR_MSG_REPLY:
        return on_reply(self, c, m);
    case TR_MSG_EXIT:
        /* the supervisor's shutdown (or a linked process's exit) */
        if (c->waiting || (c->sess && c->out_off < c->sess->out.len)) {
            c->stopping = true;
            return TR_CONTINUE;
        }
        return stop_now(self, c);
    case TR_MSG_INFO:
        break;
    default:
        return TR_CONTINUE;
    }
    switch (m->tag) {
    case KV_TAG_GO:
        c->owned = true;
        atomic_fetch_add(&c->app->clients, 1);
        atomic_fetch_add(&c->app->conns_total, 1);
        if (tr_tcp_active(c->rt, c->sock, TR_TCP_ACTIVE_ALWAYS) != 0)
            return stop_now(self, c);
        return TR_CONTINUE;
    case TR_TAG_TCP_DATA:
        return on_data(self, c, m);
    case TR_TAG_TCP_DRAINED:
        if (c->blocked) {
            c->blocked = false;
            return flush(self, c);
        }
        return TR_CONTINUE;
    case TR_TAG_TCP_CLOSED:
        /* the client sent all it will: answer what it sent, then close */
        if (c->waiting || c->blocked || c->fed) {
            c->peer_closed = true;
            return TR_CONTINUE;
        }
        return stop_now(self, c);
    case TR_TAG_TCP_ERROR:
        return stop_now(self, c);
    default:
        return TR_CONTINUE;
    }
}

static void conn_terminate(tr_self *self, void *state, tr_reason reason) {
    kv_conn *c = (kv_conn *)state;
    if (reason.kind == TR_EXIT_ERROR && c->app)
        atomic_fetch_add(&c->app->conn_crashes, 1);
}

static void conn_cleanup(void *state) {
    kv_conn *c = (kv_conn *)state;
    if (c->owned)
        atomic_fetch_sub(&c->app->clients, 1);
    if (c->sess) {
        kv_session_fini(c->sess);
        free(c->sess);
    }
    free(c->shards);
    free(c->req_ids);
}

static const tr_behaviour conn_behaviour = {
    .name = "kv_conn",
    .state_size = sizeof(kv_conn),
    .init = conn_init,
    .handle_info = conn_info_msg,
    .terminate = conn_terminate,
    .cleanup = conn_cleanup,
};

const tr_behaviour *kv_conn_behaviour(void) {
    return &conn_behaviour;
}
