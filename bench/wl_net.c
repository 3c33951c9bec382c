/* troupe benchmarks — TCP echo round trips on the loopback (troupe/net.h).
 *
 * tcp_echo: the server is one actor with an active listener; every
 * connection is active once, and each DATA is sent back and the socket
 * re-armed ({active, once}, gen_tcp's usual server loop).
 * tcp_echo_fiber: the server is a fiber per connection, in a loop of
 * tr_tcp_recv and tr_tcp_send (Go's net.Conn style).
 *
 * Clients: CLIENTS plain threads with blocking POSIX sockets (not troupe:
 * the same client for both servers), each on its own connection, sending
 * MSG bytes and reading them back, N round trips in all. Figures: round
 * trips per second, and the p50 / p99 of one round trip in microseconds
 * (each client times every round trip). */
#include "bench.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define CLIENTS 4
#define MSG 64

/* ---- the clients ------------------------------------------------------------- */

typedef struct client {
    uint16_t port;
    int64_t rounds;
    int64_t *lat_ns; /* rounds samples */
    bool ok;
    pthread_t th;
} client;

static void *client_main(void *arg) {
    client *c = (client *)arg;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(c->port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof a) != 0)
        return NULL;
    char out[MSG], in[MSG];
    memset(out, 'x', sizeof out);
    for (int64_t i = 0; i < c->rounds; i++) {
        memcpy(out, &i, sizeof i);
        int64_t t0 = bench_now_ns();
        if (write(fd, out, MSG) != MSG)
            goto out;
        size_t got = 0;
        while (got < MSG) {
            ssize_t r = read(fd, in + got, MSG - got);
            if (r <= 0)
                goto out;
            got += (size_t)r;
        }
        c->lat_ns[i] = bench_now_ns() - t0;
        if (memcmp(in, out, MSG) != 0)
            goto out;
    }
    c->ok = true;
out:
    close(fd);
    return NULL;
}

static int cmp_i64(const void *x, const void *y) {
    int64_t a = *(const int64_t *)x, b = *(const int64_t *)y;
    return a < b ? -1 : a > b;
}

/* Runs the clients against port; prints the RESULT line. */
static void drive(const char *workload, uint16_t port, int64_t n) {
    client cl[CLIENTS];
    int64_t per = n / CLIENTS;
    if (per < 1)
        per = 1;
    int64_t *lat = (int64_t *)malloc(sizeof(int64_t) * (size_t)(per * CLIENTS));
    int64_t t0 = bench_now_ns();
    for (int i = 0; i < CLIENTS; i++) {
        cl[i] = (client){.port = port, .rounds = per, .lat_ns = lat + i * per};
        pthread_create(&cl[i].th, NULL, client_main, &cl[i]);
    }
    bool ok = true;
    for (int i = 0; i < CLIENTS; i++) {
        pthread_join(cl[i].th, NULL);
        ok = ok && cl[i].ok;
    }
    double ms = (double)(bench_now_ns() - t0) / 1e6;
    int64_t total = per * CLIENTS;
    char extra[128] = "";
    if (ok) {
        qsort(lat, (size_t)total, sizeof *lat, cmp_i64);
        snprintf(extra, sizeof extra, "clients=%d msg=%d p50_us=%.1f p99_us=%.1f", CLIENTS, MSG,
                 (double)lat[total / 2] / 1e3, (double)lat[total * 99 / 100] / 1e3);
    }
    free(lat);
    bench_result(workload, total, ms, (double)total, ok, extra);
}

/* ---- the actor server ------------------------------------------------------ */

typedef struct echo_state {
    int dummy;
} echo_state;

static int echo_init(tr_self *self, void *state, const void *arg) {
    (void)state;
    tr_tcp_opts o = {.active = TR_TCP_ACTIVE_ONCE, .nodelay = true};
    tr_sock ls;
    int rc = tr_tcp_listen(tr_self_runtime(self), "127.0.0.1", 0, &o, &ls);
    if (rc)
        return rc;
    return tr_tcp_local_port(tr_self_runtime(self), ls, (uint16_t *)arg);
}

static int echo_info(tr_self *self, void *state, const tr_msg *m) {
    (void)state;
    tr_runtime *rt = tr_self_runtime(self);
    tr_sock s = tr_msg_sock(m);
    switch (m->tag) {
    case TR_TAG_TCP_ACCEPTED: {
        tr_sock l;
        memcpy(&l, m->data, sizeof l);
        tr_tcp_active(rt, l, TR_TCP_ACTIVE_ONCE);
        break;
    }
    case TR_TAG_TCP_DATA:
        tr_tcp_send(rt, s, m->data, m->size, 0);
        tr_tcp_active(rt, s, TR_TCP_ACTIVE_ONCE);
        break;
    case TR_TAG_TCP_CLOSED:
        tr_tcp_close(rt, s);
        break;
    default:
        break;
    }
    return TR_CONTINUE;
}

static const tr_behaviour echo_b = {.name = "tcp_echo",
                                    .state_size = sizeof(echo_state),
                                    .init = echo_init,
                                    .handle_info = echo_info};

void wl_tcp_echo(double scale) {
    int64_t n = bench_scaled(200000, scale);
    tr_runtime *rt = bench_runtime("tcp_echo");
    uint16_t port = 0;
    tr_pid p;
    int rc = tr_spawn(rt, &echo_b, &port, NULL, &p);
    if (rc) {
        bench_err("tcp_echo", "tr_spawn", rc);
        bench_result("tcp_echo", n, 0, 0, false, "error=spawn");
        return;
    }
    drive("tcp_echo", port, n);
    tr_runtime_free(&rt);
}

/* ---- the fiber server ---------------------------------------------------------- */

typedef struct fsrv {
    tr_runtime *rt;
    tr_sock ls;
} fsrv;

static int conn_fiber(tr_self *self, void *arg) {
    (void)self;
    fsrv *srv = (fsrv *)arg;
    tr_msg *m;
    /* The acceptor sends the socket (then hands it over). */
    if (tr_receive(self, NULL, NULL, TR_INFINITY, &m) != TR_OK)
        return 0;
    tr_sock s;
    memcpy(&s, m->data, sizeof s);
    tr_msg_free(m);
    char buf[4096];
    size_t got;
    while (tr_tcp_recv(srv->rt, s, buf, sizeof buf, TR_INFINITY, &got) == TR_OK)
        if (tr_tcp_send(srv->rt, s, buf, got, TR_INFINITY) != TR_OK)
            break;
    tr_tcp_close(srv->rt, s);
    return 0;
}

static int acceptor_fiber(tr_self *self, void *arg) {
    (void)self;
    fsrv *srv = (fsrv *)arg;
    for (;;) {
        tr_sock s;
        if (tr_tcp_accept(srv->rt, srv->ls, TR_INFINITY, &s) != TR_OK)
            return 0;
        tr_pid p;
        if (tr_spawn_fiber(srv->rt, conn_fiber, srv, NULL, &p) != TR_OK ||
            tr_tcp_controlling_process(srv->rt, s, p) != TR_OK) {
            tr_tcp_close(srv->rt, s);
            continue;
        }
        tr_send(srv->rt, p, TAG_GO, &s, sizeof s);
    }
}

void wl_tcp_echo_fiber(double scale) {
    int64_t n = bench_scaled(200000, scale);
    tr_runtime *rt = bench_runtime("tcp_echo_fiber");
    fsrv srv = {.rt = rt};
    tr_tcp_opts o = {.nodelay = true};
    uint16_t port = 0;
    int rc = tr_tcp_listen(rt, "127.0.0.1", 0, &o, &srv.ls);
    if (!rc)
        rc = tr_tcp_local_port(rt, srv.ls, &port);
    tr_pid p;
    if (!rc)
        rc = tr_spawn_fiber(rt, acceptor_fiber, &srv, NULL, &p);
    if (rc) {
        bench_err("tcp_echo_fiber", "listen/spawn", rc);
        bench_result("tcp_echo_fiber", n, 0, 0, false, "error=listen");
        return;
    }
    drive("tcp_echo_fiber", port, n);
    tr_tcp_close(rt, srv.ls);
    tr_runtime_free(&rt);
}
