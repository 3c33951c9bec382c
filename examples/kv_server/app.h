/* kv_server — the application: its shared counters, the message tags of
 * its processes, and the behaviours of its supervision tree:
 *
 *   kv_top (one_for_one)
 *   +-- kv_shards (one_for_one): kv_shard_0 .. kv_shard_N-1, permanent,
 *   |                            registered under those names
 *   +-- kv_conns (simple_one_for_one): one kv_conn per client, temporary
 *   +-- kv_acceptor: a fiber accepting on the listener, transient
 *
 * Nothing here is global: main owns the kv_app and passes its address to
 * every process (child spec args).
 */
#ifndef KV_APP_H
#define KV_APP_H

#include <stdatomic.h>
#include <stdint.h>

#include <troupe/troupe.h>
#include <troupe/net.h>

#define KV_TAG_EXEC 0x4b560001u  /* call to a shard: a request of ops */
#define KV_TAG_SWEEP 0x4b560002u /* a shard's expiry sweep timer */
#define KV_TAG_GO 0x4b560003u    /* acceptor -> connection: the socket is yours */

#define KV_MAX_SHARDS 256
#define KV_SWEEP_MS 100
#define KV_SEND_MAX ((size_t)1024 * 1024)
#define KV_MAX_BATCH 256                    /* commands per batch */
#define KV_BIG_BATCH ((size_t)65536)        /* replies over this: next batches of one */
#define KV_PAUSE_BYTES ((size_t)256 * 1024) /* input waiting: stop reading */

typedef struct kv_app {
    tr_runtime *rt;
    unsigned nshards;
    unsigned threads;
    uint16_t port;
    tr_sock listener;
    tr_pid top;
    int64_t start_ms;
    atomic_long clients;      /* connections open now */
    atomic_long conns_total;  /* connections accepted */
    atomic_long conn_crashes; /* connection processes that crashed */
    atomic_long shard_starts; /* shard inits (restarts = starts - shards) */
    atomic_long commands;     /* commands processed */
    atomic_ullong next_id;    /* CLIENT ID */
    void *tree;               /* the supervisors' specs (app.c), kept while they run */
} kv_app;

/* What a shard's and a connection's init get (copied by the supervisor). */
typedef struct kv_shard_arg {
    kv_app *app;
    unsigned index;
} kv_shard_arg;

typedef struct kv_conn_arg {
    kv_app *app;
    tr_sock sock;
} kv_conn_arg;

const tr_behaviour *kv_shard_behaviour(void);
const tr_behaviour *kv_conn_behaviour(void);
int kv_acceptor_main(tr_self *self, void *arg);

/* The registered name of shard i, into buf (at least 32 bytes). */
void kv_shard_name(unsigned i, char *buf, size_t cap);

/* Starts the tree (shards, connections, then the acceptor on
 * app->listener). Returns 0 or a TR_E* code. */
int kv_app_start(kv_app *app);
/* Frees what kv_app_start allocated, once kv_top has stopped. */
void kv_app_free_tree(kv_app *app);

#endif
