/* kv_server — a key-value server that speaks RESP (the Redis protocol),
 * built as an OTP application on troupe: supervised store shards that own
 * the keys by hash, one process per connection, an acceptor fiber. Any
 * Redis client works: redis-cli, redis-benchmark, hiredis programs.
 *
 * Usage: kv_server [--port N] [--bind ADDR] [--shards N] [--threads N]
 *   --port N      TCP port (default 6380; 0: an ephemeral port, printed)
 *   --bind ADDR   listen address (default: every address, IPv6 and IPv4)
 *   --shards N    store shards (default: one per scheduler thread, at most 256)
 *   --threads N   scheduler threads (default: online CPUs)
 *
 * Commands: PING ECHO GET SET (EX PX EXAT PXAT NX XX KEEPTTL GET) DEL
 * EXISTS INCR DECR INCRBY DECRBY MGET MSET EXPIRE PEXPIRE TTL PTTL DBSIZE
 * FLUSHALL FLUSHDB INFO QUIT SELECT 0, CONFIG GET/SET/RESETSTAT, CLIENT
 * SETNAME/GETNAME/ID/INFO/LIST/SETINFO, COMMAND (COUNT, DOCS, INFO), and
 * DEBUG CRASH (crashes this connection's process only) and DEBUG
 * SHARD-CRASH key (crashes the shard that owns key; it restarts empty).
 * Values are binary safe up to 512 MB (proto-max-bulk-len, as
 * redis-server); see resp.h for the other limits and docs/examples.md.
 *
 * SIGINT or SIGTERM: stop accepting, let every connection finish the
 * batch it is serving and write its replies, close, exit 0.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app.h"

static void usage(FILE *f) {
    fprintf(f, "usage: kv_server [--port N] [--bind ADDR] [--shards N] [--threads N] [--help]\n"
               "  --port N      TCP port (default 6380; 0: ephemeral, printed)\n"
               "  --bind ADDR   listen address (default: all, IPv6 and IPv4)\n"
               "  --shards N    store shards, 1..256 (default: one per thread)\n"
               "  --threads N   scheduler threads (default: online CPUs)\n");
}

static bool num_arg(const char *s, long lo, long hi, long *out) {
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || *end || end == s || v < lo || v > hi)
        return false;
    *out = v;
    return true;
}

int main(int argc, char **argv) {
    long port = 6380, shards = 0, threads = 0;
    const char *bind = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        bool has = i + 1 < argc;
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            usage(stdout);
            return 0;
        } else if (strcmp(a, "--port") == 0 && has && num_arg(argv[i + 1], 0, 65535, &port)) {
            i++;
        } else if (strcmp(a, "--shards") == 0 && has &&
                   num_arg(argv[i + 1], 1, KV_MAX_SHARDS, &shards)) {
            i++;
        } else if (strcmp(a, "--threads") == 0 && has && num_arg(argv[i + 1], 1, 1024, &threads)) {
            i++;
        } else if (strcmp(a, "--bind") == 0 && has) {
            bind = argv[++i];
        } else {
            fprintf(stderr, "kv_server: bad argument '%s'\n", a);
            usage(stderr);
            return 2;
        }
    }

    /* Signals are taken by sigwait in main: block them before the
     * runtime's threads start (they inherit the mask). */
    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    signal(SIGPIPE, SIG_IGN);

    kv_app *app = (kv_app *)calloc(1, sizeof *app);
    if (!app)
        return 1;
    tr_runtime_opts ro = {.threads = (unsigned)threads};
    int err = tr_runtime_start(&ro, &app->rt);
    if (err) {
        fprintf(stderr, "kv_server: runtime: %s\n", tr_strerror(err));
        return 1;
    }
    app->threads = tr_runtime_threads(app->rt);
    /* One shard per thread: a multi-key command's ops, and a pipeline's,
     * go to fewer shards in bigger requests than with more shards (with 2
     * threads, 2 shards against 4: 10-20 % fewer instructions per MGET or
     * pipelined GET), and the shards still keep every thread busy. */
    app->nshards = shards ? (unsigned)shards : app->threads;
    if (app->nshards > KV_MAX_SHARDS)
        app->nshards = KV_MAX_SHARDS;
    app->start_ms = tr_now_ms();

    tr_tcp_opts lo = {.backlog = 4096, .nodelay = true, .send_max = KV_SEND_MAX};
    err = tr_tcp_listen(app->rt, bind, (uint16_t)port, &lo, &app->listener);
    if (!err)
        err = tr_tcp_local_port(app->rt, app->listener, &app->port);
    if (err) {
        fprintf(stderr, "kv_server: listen on port %ld: %s\n", port, tr_strerror(err));
        tr_runtime_free(&app->rt);
        return 1;
    }
    err = kv_app_start(app);
    if (err) {
        fprintf(stderr, "kv_server: start: %s\n", tr_strerror(err));
        tr_runtime_free(&app->rt);
        return 1;
    }
    printf("kv_server: listening on port %u (%u shards, %u threads)\n", app->port, app->nshards,
           app->threads);
    fflush(stdout);

    int sig = 0;
    sigwait(&sigs, &sig);
    printf("kv_server: %s: stopping\n", sig == SIGINT ? "SIGINT" : "SIGTERM");
    fflush(stdout);
    /* Stop accepting (the acceptor's accept returns TR_ECLOSED), then stop
     * the tree: connections first (each finishes its batch in flight),
     * then the shards. */
    tr_tcp_close(app->rt, app->listener);
    err = tr_supervisor_stop(app->rt, app->top, 15000);
    if (err)
        fprintf(stderr, "kv_server: stopping the tree: %s\n", tr_strerror(err));
    tr_runtime_free(&app->rt);
    kv_app_free_tree(app);
    printf("kv_server: stopped (%ld connections served, %ld commands)\n",
           atomic_load(&app->conns_total), atomic_load(&app->commands));
    free(app);
    return 0;
}
