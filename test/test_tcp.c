/* TCP (troupe/net.h): echo servers as an actor (active once) and as
 * fibers, accept and connect from plain threads, IPv6 loopback, refused
 * and timed-out connects, {active, N} and the PASSIVE message, a change
 * of controlling process, an owner's crash closing its socket, close waking
 * a parked fiber, the output bound (TR_EAGAIN then DRAINED), hundreds of
 * connections at once, runtime stop closing everything, bad input.
 * Everything on the loopback with ephemeral ports. Peers are often plain
 * POSIX sockets, so the library is checked against code it did not write. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <limits.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "testutil.h"

#define WAIT_MS 20000

/* ---- plain sockets, for the peers ------------------------------------------- */

static int raw_connect(uint16_t port) {
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_true(fd >= 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof a), 0);
    return fd;
}

/* Reads exactly n bytes (or up to EOF); returns how many. */
static size_t raw_read(int fd, void *buf, size_t n) {
    size_t got = 0;
    while (got < n) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (poll(&p, 1, WAIT_MS) != 1)
            break;
        ssize_t r = read(fd, (char *)buf + got, n - got);
        if (r <= 0)
            break;
        got += (size_t)r;
    }
    return got;
}

/* True when the peer closed (read gives 0) within the wait. */
static bool raw_eof(int fd) {
    char c;
    struct pollfd p = {.fd = fd, .events = POLLIN};
    if (poll(&p, 1, WAIT_MS) != 1)
        return false;
    ssize_t r = read(fd, &c, 1);
    return r == 0 || (r < 0 && errno == ECONNRESET);
}

static void raw_write(int fd, const void *buf, size_t n) {
    assert_int_equal(write(fd, buf, n), (ssize_t)n);
}

static tr_sock listen_here(tr_runtime *rt, const tr_tcp_opts *o, uint16_t *port) {
    tr_sock ls;
    assert_rc(tr_tcp_listen(rt, "127.0.0.1", 0, o, &ls), TR_OK);
    assert_rc(tr_tcp_local_port(rt, ls, port), TR_OK);
    assert_true(*port != 0);
    return ls;
}

/* Receives exactly n bytes from a passive troupe socket. */
static int recv_exact(tr_runtime *rt, tr_sock s, char *buf, size_t n) {
    size_t have = 0;
    while (have < n) {
        size_t got;
        int rc = tr_tcp_recv(rt, s, buf + have, n - have, WAIT_MS, &got);
        if (rc)
            return rc;
        have += got;
    }
    return TR_OK;
}

/* ---- the test actor ------------------------------------------------------------ */

enum {
    CMD_CRASH = 0x7e57c001u, /* tr_fail */
    CMD_GIVE,                /* data: give_arg: tr_tcp_controlling_process */
    CMD_FLOOD,               /* data: tr_sock: send until TR_EAGAIN */
    CMD_CONNECT,             /* data: connect_arg: tr_tcp_connect from the actor */
    CMD_CLOSE,               /* data: tr_sock: tr_tcp_close */
    CMD_ACCEPT,              /* data: tr_sock: tr_tcp_accept (refused: TR_EDEADLK) */
    CMD_RECV,                /* data: tr_sock: tr_tcp_recv (TR_EAGAIN or data) */
    CMD_GATE,                /* data: tu_gate *: hold the actor in its callback */
};

typedef struct give_arg {
    tr_sock s;
    tr_pid to;
} give_arg;

typedef struct connect_arg {
    uint16_t port;
    tr_duration_ms timeout_ms;
} connect_arg;

#define FLOOD_CHUNK 16384

/* What the test shares with the actor. */
typedef struct net_ctx {
    tu_log *log;
    bool listen;              /* init: an active listener on 127.0.0.1:0 */
    int active;               /* its mode (inherited by accepted sockets) */
    bool echo;                /* DATA: send it back */
    bool rearm;               /* ACCEPTED / DATA: tr_tcp_active(s, 1) again */
    bool then_active;         /* init: listen passive, then tr_tcp_active(ls, -1) */
    _Atomic uint64_t give_to; /* ACCEPTED: hand the new socket to this pid, make it active */
    _Atomic uint16_t port;
    _Atomic uint64_t listener;
    _Atomic uint64_t last;   /* last accepted or connected socket */
    _Atomic int64_t flooded; /* bytes the flood got accepted */
    _Atomic int flood_rc;
    _Atomic int rc; /* of the last command */
    _Atomic int n_data, n_passive, n_closed, n_accepted, n_drained, n_connected, n_error;
    _Atomic int last_status;
    _Atomic int64_t bytes;
} net_ctx;

typedef struct net_state {
    net_ctx *c;
} net_state;

static int na_init(tr_self *self, void *state, const void *arg) {
    net_state *st = (net_state *)state;
    st->c = (net_ctx *)arg;
    if (st->c->listen) {
        tr_tcp_opts o = {.active = st->c->active};
        tr_sock ls;
        int rc = tr_tcp_listen(tr_self_runtime(self), "127.0.0.1", 0, &o, &ls);
        if (rc)
            return rc;
        if (st->c->then_active)
            tr_tcp_active(tr_self_runtime(self), ls, TR_TCP_ACTIVE_ALWAYS);
        uint16_t port;
        tr_tcp_local_port(tr_self_runtime(self), ls, &port);
        st->c->listener = ls.id;
        st->c->port = port;
    }
    return 0;
}

static int na_info(tr_self *self, void *state, const tr_msg *m) {
    net_state *st = (net_state *)state;
    net_ctx *c = st->c;
    tr_runtime *rt = tr_self_runtime(self);
    tr_sock s = tr_msg_sock(m);
    switch (m->tag) {
    case TR_TAG_TCP_ACCEPTED: {
        tr_sock l;
        memcpy(&l, m->data, sizeof l);
        c->last = s.id;
        c->n_accepted++;
        if (c->rearm)
            tr_tcp_active(rt, l, 1);
        if (c->give_to) {
            c->rc = tr_tcp_controlling_process(rt, s, (tr_pid){c->give_to});
            tr_tcp_active(rt, s, TR_TCP_ACTIVE_ONCE); /* the new owner gets the data */
        }
        break;
    }
    case TR_TAG_TCP_DATA:
        c->bytes += (int64_t)m->size;
        if (c->echo)
            tr_tcp_send(rt, s, m->data, m->size, 0);
        c->n_data++;
        if (c->rearm)
            tr_tcp_active(rt, s, 1);
        break;
    case TR_TAG_TCP_PASSIVE:
        c->n_passive++;
        break;
    case TR_TAG_TCP_CLOSED:
        c->n_closed++;
        tr_tcp_close(rt, s);
        break;
    case TR_TAG_TCP_DRAINED:
        c->n_drained++;
        break;
    case TR_TAG_TCP_CONNECTED:
        c->last = s.id;
        c->n_connected++;
        break;
    case TR_TAG_TCP_ERROR:
        c->last_status = m->status;
        c->n_error++;
        break;
    case CMD_CRASH:
        tr_fail(self, tr_reason_error(1, "crash on purpose"));
        break;
    case CMD_GIVE: {
        give_arg g;
        memcpy(&g, m->data, sizeof g);
        c->rc = tr_tcp_controlling_process(rt, g.s, g.to);
        break;
    }
    case CMD_FLOOD: {
        tr_sock fs;
        memcpy(&fs, m->data, sizeof fs);
        static const char chunk[FLOOD_CHUNK];
        int rc;
        int64_t n = 0;
        while ((rc = tr_tcp_send(rt, fs, chunk, sizeof chunk, 0)) == TR_OK)
            n += FLOOD_CHUNK;
        c->flooded = n;
        c->flood_rc = rc;
        break;
    }
    case CMD_CONNECT: {
        connect_arg a;
        memcpy(&a, m->data, sizeof a);
        tr_sock cs;
        c->rc = tr_tcp_connect(rt, "127.0.0.1", a.port, NULL, a.timeout_ms, &cs);
        break;
    }
    case CMD_CLOSE: {
        tr_sock cs;
        memcpy(&cs, m->data, sizeof cs);
        c->rc = tr_tcp_close(rt, cs);
        break;
    }
    case CMD_ACCEPT: {
        tr_sock ls, out;
        memcpy(&ls, m->data, sizeof ls);
        c->rc = tr_tcp_accept(rt, ls, 1000, &out);
        break;
    }
    case CMD_GATE: {
        tu_gate *g;
        memcpy(&g, m->data, sizeof g);
        tu_gate_pass(g, WAIT_MS);
        break;
    }
    case CMD_RECV: {
        tr_sock rs;
        memcpy(&rs, m->data, sizeof rs);
        char buf[16];
        size_t got;
        c->rc = tr_tcp_recv(rt, rs, buf, sizeof buf, 1000, &got);
        break;
    }
    default:
        break;
    }
    return 0;
}

static const tr_behaviour net_actor = {
    .name = "net_actor",
    .state_size = sizeof(net_state),
    .init = na_init,
    .handle_info = na_info,
};

static tr_pid spawn_na(tr_runtime *rt, net_ctx *c) {
    tr_pid p;
    assert_rc(tr_spawn(rt, &net_actor, c, NULL, &p), TR_OK);
    return p;
}

static void cmd(tr_runtime *rt, tr_pid p, uint32_t tag, const void *data, size_t size) {
    assert_rc(tr_send(rt, p, tag, data, size), TR_OK);
}

/* A command whose rc the actor stores: waits until it is set. */
static int cmd_rc(tr_runtime *rt, tr_pid p, net_ctx *c, uint32_t tag, const void *data,
                  size_t size) {
    c->rc = 1;
    cmd(rt, p, tag, data, size);
    assert_true(TU_WAIT(c->rc != 1, WAIT_MS));
    return c->rc;
}

/* ---- threads ------------------------------------------------------------------- */

typedef struct client_arg {
    tr_runtime *rt;
    uint16_t port;
    int rounds;
    int rc;
} client_arg;

/* A troupe client on a plain thread: connect, then rounds of send + recv
 * of a numbered line. */
static void *echo_client(void *p) {
    client_arg *a = (client_arg *)p;
    tr_sock s;
    a->rc = tr_tcp_connect(a->rt, "127.0.0.1", a->port, NULL, WAIT_MS, &s);
    if (a->rc)
        return NULL;
    for (int i = 0; i < a->rounds && !a->rc; i++) {
        char out[32], in[32];
        int n = snprintf(out, sizeof out, "line %05d\n", i);
        a->rc = tr_tcp_send(a->rt, s, out, (size_t)n, WAIT_MS);
        if (!a->rc)
            a->rc = recv_exact(a->rt, s, in, (size_t)n);
        if (!a->rc && memcmp(in, out, (size_t)n) != 0)
            a->rc = -999;
    }
    int rc = tr_tcp_close(a->rt, s);
    if (!a->rc)
        a->rc = rc;
    return NULL;
}

static void test_thread_accept_and_connect(void **state) {
    tu_fix *f = (tu_fix *)*state;
    uint16_t port;
    tr_sock ls = listen_here(f->rt, NULL, &port);
    client_arg a = {.rt = f->rt, .port = port, .rounds = 50};
    pthread_t th;
    pthread_create(&th, NULL, echo_client, &a);
    tr_sock s;
    assert_rc(tr_tcp_accept(f->rt, ls, WAIT_MS, &s), TR_OK);
    char host[64];
    uint16_t pport = 0, lport = 0;
    assert_rc(tr_tcp_peername(f->rt, s, host, sizeof host, &pport), TR_OK);
    assert_string_equal(host, "127.0.0.1");
    assert_true(pport != 0);
    assert_rc(tr_tcp_sockname(f->rt, s, host, sizeof host, &lport), TR_OK);
    assert_int_equal(lport, port);
    /* Echo on this thread until the client closes. */
    char buf[256];
    size_t got;
    int rc, total = 0;
    while ((rc = tr_tcp_recv(f->rt, s, buf, sizeof buf, WAIT_MS, &got)) == TR_OK) {
        assert_rc(tr_tcp_send(f->rt, s, buf, got, WAIT_MS), TR_OK);
        total += (int)got;
    }
    assert_rc(rc, TR_ECLOSED); /* EOF */
    assert_int_equal(got, 0);
    pthread_join(th, NULL);
    assert_rc(a.rc, TR_OK);
    assert_int_equal(total, 50 * 11);
    assert_rc(tr_tcp_close(f->rt, s), TR_OK);
    assert_rc(tr_tcp_close(f->rt, s), TR_ECLOSED);
    assert_rc(tr_tcp_close(f->rt, ls), TR_OK);
    /* A timed accept on nothing: TR_ETIMEDOUT. */
    ls = listen_here(f->rt, NULL, &port);
    int64_t t0 = tu_now_ms();
    assert_rc(tr_tcp_accept(f->rt, ls, 50, &s), TR_ETIMEDOUT);
    assert_true(tu_now_ms() - t0 >= 50);
    assert_rc(tr_tcp_accept(f->rt, ls, 0, &s), TR_ETIMEDOUT);
    assert_rc(tr_tcp_close(f->rt, ls), TR_OK);
}

static void test_sendv(void **state) {
    tu_fix *f = (tu_fix *)*state;
    uint16_t port;
    tr_sock ls = listen_here(f->rt, NULL, &port);
    int fd = raw_connect(port);
    tr_sock s;
    assert_rc(tr_tcp_accept(f->rt, ls, WAIT_MS, &s), TR_OK);
    struct iovec v[3] = {{"ab", 2}, {NULL, 0}, {"cde", 3}};
    assert_rc(tr_tcp_sendv(f->rt, s, v, 3, WAIT_MS), TR_OK);
    assert_rc(tr_tcp_sendv(f->rt, s, NULL, 0, WAIT_MS), TR_OK);
    char in[5];
    assert_int_equal(raw_read(fd, in, 5), 5);
    assert_memory_equal(in, "abcde", 5);
    struct iovec bad[1] = {{NULL, 3}};
    assert_rc(tr_tcp_sendv(f->rt, s, bad, 1, 0), TR_EINVAL);
    assert_rc(tr_tcp_sendv(f->rt, s, NULL, 1, 0), TR_EINVAL);
    assert_rc(tr_tcp_sendv(f->rt, s, v, -1, 0), TR_EINVAL);
    assert_rc(tr_tcp_sendv(f->rt, s, v, 1 << 20, 0), TR_EINVAL); /* over IOV_MAX */
    assert_rc(tr_tcp_sendv(NULL, s, v, 3, 0), TR_EINVAL);
    assert_rc(tr_tcp_sendv(f->rt, TR_SOCK_NONE, v, 3, 0), TR_ECLOSED);
    close(fd);
    tr_tcp_close(f->rt, s);
    tr_tcp_close(f->rt, ls);
}

/* ---- fibers ------------------------------------------------------------------ */

typedef struct fsrv {
    tr_runtime *rt;
    tr_sock ls;
    _Atomic int conns; /* connections served to the end */
    _Atomic int errors;
    _Atomic int rc; /* the acceptor's end */
} fsrv;

typedef struct fconn {
    fsrv *srv;
    tr_sock s;
} fconn;

/* One fiber per connection: echo until EOF. */
static int fiber_conn(tr_self *self, void *arg) {
    (void)self;
    fconn *c = (fconn *)arg;
    fsrv *srv = c->srv;
    tr_sock s = c->s;
    free(c);
    char buf[512];
    size_t got;
    int rc;
    while ((rc = tr_tcp_recv(srv->rt, s, buf, sizeof buf, WAIT_MS, &got)) == TR_OK)
        if (tr_tcp_send(srv->rt, s, buf, got, WAIT_MS) != TR_OK)
            break;
    if (rc != TR_ECLOSED)
        srv->errors++;
    tr_tcp_close(srv->rt, s);
    srv->conns++;
    return 0;
}

/* The acceptor fiber: a fiber per connection, until the listener closes. */
static int fiber_acceptor(tr_self *self, void *arg) {
    (void)self;
    fsrv *srv = (fsrv *)arg;
    for (;;) {
        tr_sock s;
        int rc = tr_tcp_accept(srv->rt, srv->ls, TR_INFINITY, &s);
        if (rc) {
            srv->rc = rc;
            return 0;
        }
        fconn *c = (fconn *)malloc(sizeof *c);
        c->srv = srv;
        c->s = s;
        tr_pid p;
        if (tr_spawn_fiber(srv->rt, fiber_conn, c, NULL, &p) != TR_OK) {
            free(c);
            tr_tcp_close(srv->rt, s);
            srv->errors++;
            continue;
        }
        /* The socket belongs to the acceptor: hand it to its fiber. */
        if (tr_tcp_controlling_process(srv->rt, s, p) != TR_OK)
            srv->errors++;
    }
}

static void test_fiber_echo_server(void **state) {
    tu_fix *f = (tu_fix *)*state;
    fsrv srv = {.rt = f->rt, .rc = 1};
    uint16_t port;
    srv.ls = listen_here(f->rt, NULL, &port);
    tr_pid acc;
    assert_rc(tr_spawn_fiber(f->rt, fiber_acceptor, &srv, NULL, &acc), TR_OK);
    enum { N = 4 };
    client_arg a[N];
    pthread_t th[N];
    for (int i = 0; i < N; i++) {
        a[i] = (client_arg){.rt = f->rt, .port = port, .rounds = 200};
        pthread_create(&th[i], NULL, echo_client, &a[i]);
    }
    for (int i = 0; i < N; i++) {
        pthread_join(th[i], NULL);
        assert_rc(a[i].rc, TR_OK);
    }
    /* A plain socket as a client too. */
    int fd = raw_connect(port);
    raw_write(fd, "hello", 5);
    char in[8];
    assert_int_equal(raw_read(fd, in, 5), 5);
    assert_memory_equal(in, "hello", 5);
    close(fd);
    assert_true(TU_WAIT(srv.conns == N + 1, WAIT_MS));
    assert_int_equal(srv.errors, 0);
    /* Closing the listener wakes the parked acceptor with TR_ECLOSED. */
    assert_rc(tr_tcp_close(f->rt, srv.ls), TR_OK);
    assert_true(TU_WAIT(srv.rc != 1, WAIT_MS));
    assert_rc(srv.rc, TR_ECLOSED);
    assert_rc(tr_await_exit(f->rt, acc, WAIT_MS, NULL), TR_OK);
}

/* A fiber as a client: connect, recv with a timeout, send. */
typedef struct fcli {
    tr_runtime *rt;
    uint16_t port;
    _Atomic int rc_connect, rc_timeout, rc_echo, rc_close;
    _Atomic uint64_t sock;
    _Atomic int done;
} fcli;

static int fiber_client(tr_self *self, void *arg) {
    (void)self;
    fcli *c = (fcli *)arg;
    tr_sock s;
    c->rc_connect = tr_tcp_connect(c->rt, "127.0.0.1", c->port, NULL, WAIT_MS, &s);
    if (c->rc_connect) {
        c->done = 1;
        return 0;
    }
    char buf[16];
    size_t got;
    int64_t t0 = tr_now_ms();
    c->rc_timeout = tr_tcp_recv(c->rt, s, buf, sizeof buf, 30, &got);
    if (tr_now_ms() - t0 < 30)
        c->rc_timeout = -999;
    c->sock = s.id;
    /* The peer echoes this back. */
    tr_tcp_send(c->rt, s, "ping", 4, WAIT_MS);
    c->rc_echo = recv_exact(c->rt, s, buf, 4);
    /* Park in recv until the test thread closes the socket under us. */
    c->done = 1;
    c->rc_close = tr_tcp_recv(c->rt, s, buf, sizeof buf, TR_INFINITY, &got);
    c->done = 2;
    return 0;
}

static void test_fiber_client_and_close_wakes_it(void **state) {
    tu_fix *f = (tu_fix *)*state;
    uint16_t port;
    tr_sock ls = listen_here(f->rt, NULL, &port);
    fcli c = {.rt = f->rt, .port = port};
    tr_pid p;
    assert_rc(tr_spawn_fiber(f->rt, fiber_client, &c, NULL, &p), TR_OK);
    tr_sock s;
    assert_rc(tr_tcp_accept(f->rt, ls, WAIT_MS, &s), TR_OK);
    char buf[4];
    assert_rc(recv_exact(f->rt, s, buf, 4), TR_OK);
    assert_memory_equal(buf, "ping", 4);
    assert_rc(tr_tcp_send(f->rt, s, buf, 4, WAIT_MS), TR_OK);
    assert_true(TU_WAIT(c.done == 1, WAIT_MS));
    assert_rc(c.rc_connect, TR_OK);
    assert_rc(c.rc_timeout, TR_ETIMEDOUT);
    assert_rc(c.rc_echo, TR_OK);
    /* The fiber is parked in recv (or about to be): close its socket. */
    tu_sleep_ms(20); /* let it park; the result is the same if it has not yet */
    assert_rc(tr_tcp_close(f->rt, (tr_sock){c.sock}), TR_OK);
    assert_true(TU_WAIT(c.done == 2, WAIT_MS));
    assert_rc(c.rc_close, TR_ECLOSED);
    assert_rc(tr_await_exit(f->rt, p, WAIT_MS, NULL), TR_OK);
    /* The peer sees EOF. */
    size_t got;
    assert_rc(tr_tcp_recv(f->rt, s, buf, sizeof buf, WAIT_MS, &got), TR_ECLOSED);
    assert_int_equal(got, 0);
    tr_tcp_close(f->rt, s);
    tr_tcp_close(f->rt, ls);
}

/* ---- actors --------------------------------------------------------------------- */

static void test_actor_echo_active_once(void **state) {
    tu_fix *f = (tu_fix *)*state;
    net_ctx c = {
        .log = f->log, .listen = true, .active = TR_TCP_ACTIVE_ONCE, .echo = true, .rearm = true};
    tr_pid a = spawn_na(f->rt, &c);
    assert_true(c.port != 0);
    enum { N = 3 };
    client_arg ca[N];
    pthread_t th[N];
    for (int i = 0; i < N; i++) {
        ca[i] = (client_arg){.rt = f->rt, .port = c.port, .rounds = 200};
        pthread_create(&th[i], NULL, echo_client, &ca[i]);
    }
    for (int i = 0; i < N; i++) {
        pthread_join(th[i], NULL);
        assert_rc(ca[i].rc, TR_OK);
    }
    assert_int_equal(c.n_accepted, N);
    assert_true(TU_WAIT(c.n_closed == N, WAIT_MS));
    assert_int_equal(c.bytes, N * 200 * 11);
    /* An actor may not block in accept; recv on an active socket is
     * refused. */
    tr_sock l = {c.listener};
    assert_rc(cmd_rc(f->rt, a, &c, CMD_ACCEPT, &l, sizeof l), TR_EDEADLK);
    tr_exit(f->rt, a, tr_reason_kill());
    tu_await(f->rt, a);
    /* Its listener died with it. */
    assert_rc(tr_tcp_close(f->rt, l), TR_ECLOSED);
}

static void test_active_n_then_passive(void **state) {
    tu_fix *f = (tu_fix *)*state;
    net_ctx c = {.log = f->log, .listen = true, .active = 3};
    tr_pid a = spawn_na(f->rt, &c);
    int fd = raw_connect(c.port);
    assert_true(TU_WAIT(c.n_accepted == 1, WAIT_MS));
    tr_sock s = {c.last};
    /* One byte at a time, each seen before the next goes: one read each. */
    for (int i = 0; i < 3; i++) {
        raw_write(fd, "x", 1);
        assert_true(TU_WAIT(c.n_data == i + 1, WAIT_MS));
    }
    assert_true(TU_WAIT(c.n_passive == 1, WAIT_MS));
    /* Passive: data stays in the kernel; the actor's recv takes it. */
    raw_write(fd, "yz", 2);
    tu_sleep_ms(50); /* a DATA would come within this; none may */
    assert_int_equal(c.n_data, 3);
    assert_rc(cmd_rc(f->rt, a, &c, CMD_RECV, &s, sizeof s), TR_OK);
    assert_rc(cmd_rc(f->rt, a, &c, CMD_RECV, &s, sizeof s), TR_EAGAIN);
    /* {active, 2} from another thread: the next byte arrives as DATA. */
    assert_rc(tr_tcp_active(f->rt, s, 2), TR_OK);
    raw_write(fd, "w", 1);
    assert_true(TU_WAIT(c.n_data == 4, WAIT_MS));
    assert_rc(tr_tcp_recv(f->rt, s, (char[4]){0}, 4, 0, &(size_t){0}), TR_EINVAL);
    close(fd);
    assert_true(TU_WAIT(c.n_closed == 1, WAIT_MS));
    tr_exit(f->rt, a, tr_reason_kill());
    tu_await(f->rt, a);
}

static void test_controlling_process(void **state) {
    tu_fix *f = (tu_fix *)*state;
    uint16_t port;
    tr_sock ls = listen_here(f->rt, NULL, &port);
    int fd = raw_connect(port);
    tr_sock s;
    assert_rc(tr_tcp_accept(f->rt, ls, WAIT_MS, &s), TR_OK);
    net_ctx c1 = {.log = f->log}, c2 = {.log = f->log};
    tr_pid a1 = spawn_na(f->rt, &c1), a2 = spawn_na(f->rt, &c2);
    /* No owner yet: any thread may give it away. */
    assert_rc(tr_tcp_controlling_process(f->rt, s, a1), TR_OK);
    assert_rc(tr_tcp_active(f->rt, s, TR_TCP_ACTIVE_ALWAYS), TR_OK);
    raw_write(fd, "a", 1);
    assert_true(TU_WAIT(c1.n_data == 1, WAIT_MS));
    /* Not the owner now: TR_EPERM; a dead pid: TR_ENOPROC. */
    assert_rc(tr_tcp_controlling_process(f->rt, s, a2), TR_EPERM);
    /* The owner hands it on. */
    give_arg g = {s, a2};
    assert_rc(cmd_rc(f->rt, a1, &c1, CMD_GIVE, &g, sizeof g), TR_OK);
    raw_write(fd, "b", 1);
    assert_true(TU_WAIT(c2.n_data == 1, WAIT_MS));
    assert_int_equal(c1.n_data, 1);
    g.to = a1;
    assert_rc(cmd_rc(f->rt, a1, &c1, CMD_GIVE, &g, sizeof g), TR_EPERM);
    tr_exit(f->rt, a1, tr_reason_kill());
    tu_await(f->rt, a1);
    g.to = a1; /* dead */
    assert_rc(cmd_rc(f->rt, a2, &c2, CMD_GIVE, &g, sizeof g), TR_ENOPROC);
    /* Still a2's: its exit (a normal stop) closes it, the peer sees EOF. */
    tr_exit(f->rt, a2, tr_reason_shutdown());
    tu_await(f->rt, a2);
    assert_true(raw_eof(fd));
    assert_rc(tr_tcp_send(f->rt, s, "x", 1, 0), TR_ECLOSED);
    close(fd);
    tr_tcp_close(f->rt, ls);
}

/* The acceptor pattern: a listener made passive (so its connections are
 * passive too) and then made active; each ACCEPTED socket is handed to a
 * connection process before any of its data is read. */
static void test_acceptor_hands_over_passive_sockets(void **state) {
    tu_fix *f = (tu_fix *)*state;
    net_ctx cc = {.log = f->log, .echo = true, .rearm = true};
    tr_pid conn = spawn_na(f->rt, &cc);
    net_ctx ac = {.log = f->log, .listen = true, .active = 0, .then_active = true};
    ac.give_to = conn.id;
    tr_pid acc = spawn_na(f->rt, &ac);
    int fd = raw_connect(ac.port);
    raw_write(fd, "hello", 5); /* may be in the kernel before the handover */
    char in[5];
    assert_int_equal(raw_read(fd, in, 5), 5);
    assert_memory_equal(in, "hello", 5);
    assert_int_equal(ac.n_accepted, 1);
    assert_rc(ac.rc, TR_OK);
    assert_true(TU_WAIT(cc.n_data >= 1, WAIT_MS)); /* counted after its echo went */
    assert_int_equal(ac.n_data, 0);                /* the acceptor never saw the data */
    /* The listener stays active: a second connection is accepted too. */
    int fd2 = raw_connect(ac.port);
    assert_true(TU_WAIT(ac.n_accepted == 2, WAIT_MS));
    close(fd2);
    close(fd);
    tr_exit(f->rt, acc, tr_reason_kill());
    tr_exit(f->rt, conn, tr_reason_kill());
    tu_await(f->rt, acc);
    tu_await(f->rt, conn);
}

static void test_owner_crash_closes_socket(void **state) {
    tu_fix *f = (tu_fix *)*state;
    net_ctx c = {.log = f->log, .listen = true, .active = TR_TCP_ACTIVE_ALWAYS, .echo = true};
    tr_pid a = spawn_na(f->rt, &c);
    int fd = raw_connect(c.port);
    raw_write(fd, "hi", 2);
    char in[2];
    assert_int_equal(raw_read(fd, in, 2), 2);
    cmd(f->rt, a, CMD_CRASH, NULL, 0);
    tu_await(f->rt, a);
    assert_true(raw_eof(fd));
    close(fd);
    /* Both its sockets died with it. The pid is dead for tr_await_exit
     * as soon as the exit begins; the exit closes its sockets right after,
     * one by one (the peer's EOF above shows the first): look without
     * closing until the listener is gone too. */
    uint16_t p;
    assert_true(
        TU_WAIT(tr_tcp_local_port(f->rt, (tr_sock){c.listener}, &p) == TR_ECLOSED, WAIT_MS));
    assert_rc(tr_tcp_close(f->rt, (tr_sock){c.listener}), TR_ECLOSED);
    assert_rc(tr_tcp_close(f->rt, (tr_sock){c.last}), TR_ECLOSED);
}

static void test_output_bound_eagain_then_drained(void **state) {
    tu_fix *f = (tu_fix *)*state;
    uint16_t port;
    tr_sock ls = listen_here(f->rt, NULL, &port);
    net_ctx c = {.log = f->log};
    tr_pid a = spawn_na(f->rt, &c);
    connect_arg ca = {.port = port, .timeout_ms = WAIT_MS};
    assert_rc(cmd_rc(f->rt, a, &c, CMD_CONNECT, &ca, sizeof ca), TR_OK);
    assert_true(TU_WAIT(c.n_connected == 1, WAIT_MS));
    tr_sock peer;
    assert_rc(tr_tcp_accept(f->rt, ls, WAIT_MS, &peer), TR_OK);
    tr_sock s = {c.last};
    tr_tcp_opts o = {.send_max = 64 * 1024};
    assert_rc(tr_tcp_setopts(f->rt, s, &o), TR_OK);
    /* The peer does not read: the kernel's buffers, then the queue fill. */
    c.flood_rc = 1;
    cmd(f->rt, a, CMD_FLOOD, &s, sizeof s);
    assert_true(TU_WAIT(c.flood_rc != 1, WAIT_MS));
    assert_rc(c.flood_rc, TR_EAGAIN);
    assert_true(c.flooded > 0);
    assert_int_equal(c.n_drained, 0);
    /* The peer reads everything: DRAINED comes, and no byte was lost. */
    int64_t want = c.flooded, have = 0;
    static char buf[65536];
    bool drained = false;
    while (have < want) {
        size_t got;
        int rc = tr_tcp_recv(f->rt, peer, buf, sizeof buf, WAIT_MS, &got);
        assert_rc(rc, TR_OK);
        have += (int64_t)got;
        if (c.n_drained)
            drained = true;
    }
    assert_int_equal(have, want);
    assert_true(TU_WAIT(c.n_drained == 1, WAIT_MS));
    (void)drained;
    /* Nothing more arrives. */
    size_t got;
    assert_rc(tr_tcp_recv(f->rt, peer, buf, sizeof buf, 20, &got), TR_ETIMEDOUT);
    tr_exit(f->rt, a, tr_reason_kill());
    tu_await(f->rt, a);
    assert_rc(tr_tcp_recv(f->rt, peer, buf, sizeof buf, WAIT_MS, &got), TR_ECLOSED);
    tr_tcp_close(f->rt, peer);
    tr_tcp_close(f->rt, ls);
}

/* A fiber's send parks while the queue is full, and goes on as the peer
 * reads; a thread's send with a timeout gets TR_ETIMEDOUT with nothing
 * queued. Every byte accepted arrives, in order. */
typedef struct writer_arg {
    tr_runtime *rt;
    tr_sock s;
    size_t total;
    _Atomic int rc;
} writer_arg;

static int fiber_writer(tr_self *self, void *arg) {
    (void)self;
    writer_arg *w = (writer_arg *)arg;
    char chunk[16384];
    int rc = TR_OK;
    for (size_t off = 0; off < w->total && rc == TR_OK; off += sizeof chunk) {
        for (size_t i = 0; i < sizeof chunk; i++)
            chunk[i] = (char)((off + i) % 251);
        rc = tr_tcp_send(w->rt, w->s, chunk, sizeof chunk, WAIT_MS);
    }
    w->rc = rc;
    return 0;
}

static void test_send_parks_until_room(void **state) {
    tu_fix *f = (tu_fix *)*state;
    uint16_t port;
    tr_sock ls = listen_here(f->rt, NULL, &port);
    tr_sock c, peer;
    tr_tcp_opts o = {.send_max = 64 * 1024};
    assert_rc(tr_tcp_connect(f->rt, "127.0.0.1", port, &o, WAIT_MS, &c), TR_OK);
    assert_rc(tr_tcp_accept(f->rt, ls, WAIT_MS, &peer), TR_OK);
    writer_arg w = {.rt = f->rt, .s = c, .total = (size_t)TU_SCALE(16, 4) << 20, .rc = 1};
    tr_pid p;
    assert_rc(tr_spawn_fiber(f->rt, fiber_writer, &w, NULL, &p), TR_OK);
    static char buf[65536];
    size_t have = 0;
    while (have < w.total) {
        size_t got;
        assert_rc(tr_tcp_recv(f->rt, peer, buf, sizeof buf, WAIT_MS, &got), TR_OK);
        for (size_t i = 0; i < got; i++)
            if (buf[i] != (char)((have + i) % 251))
                fail_msg("byte %zu differs", have + i);
        have += got;
    }
    assert_true(TU_WAIT(w.rc != 1, WAIT_MS));
    assert_rc(w.rc, TR_OK);
    assert_rc(tr_await_exit(f->rt, p, WAIT_MS, NULL), TR_OK);
    /* This thread: sends until the bound holds it past 20 ms. */
    char chunk[16384];
    memset(chunk, 'z', sizeof chunk);
    size_t sent = 0;
    int rc;
    while ((rc = tr_tcp_send(f->rt, c, chunk, sizeof chunk, 20)) == TR_OK)
        sent += sizeof chunk;
    assert_rc(rc, TR_ETIMEDOUT);
    assert_rc(tr_tcp_close(f->rt, c), TR_OK); /* the queue still goes */
    size_t got, seen = 0;
    while ((rc = tr_tcp_recv(f->rt, peer, buf, sizeof buf, WAIT_MS, &got)) == TR_OK)
        seen += got;
    assert_rc(rc, TR_ECLOSED);
    assert_int_equal(seen, sent);
    tr_tcp_close(f->rt, peer);
    tr_tcp_close(f->rt, ls);
}

static void test_close_flushes_queued_output(void **state) {
    tu_fix *f = (tu_fix *)*state;
    uint16_t port;
    tr_sock ls = listen_here(f->rt, NULL, &port);
    int fd = raw_connect(port);
    tr_sock s;
    assert_rc(tr_tcp_accept(f->rt, ls, WAIT_MS, &s), TR_OK);
    /* 8 MB: more than the kernel takes at once, so some is queued. */
    size_t n = 8u << 20;
    char *big = (char *)malloc(n);
    for (size_t i = 0; i < n; i++)
        big[i] = (char)(i * 7);
    assert_rc(tr_tcp_send(f->rt, s, big, n, WAIT_MS), TR_OK);
    assert_rc(tr_tcp_close(f->rt, s), TR_OK);
    char *in = (char *)malloc(n);
    assert_int_equal(raw_read(fd, in, n), n);
    assert_memory_equal(in, big, n);
    assert_true(raw_eof(fd));
    free(big);
    free(in);
    close(fd);
    tr_tcp_close(f->rt, ls);
}

/* A bounded mailbox that is full: the socket holds the data back (and
 * reads no more) until the owner takes its messages; nothing is lost. */
static void test_full_mailbox_loses_nothing(void **state) {
    tu_fix *f = (tu_fix *)*state;
    uint16_t port;
    tr_sock ls = listen_here(f->rt, NULL, &port);
    int fd = raw_connect(port);
    tr_sock s;
    assert_rc(tr_tcp_accept(f->rt, ls, WAIT_MS, &s), TR_OK);
    net_ctx c = {.log = f->log};
    tr_spawn_opts so = {.max_mailbox = 2};
    tr_pid a;
    assert_rc(tr_spawn(f->rt, &net_actor, &c, &so, &a), TR_OK);
    tr_tcp_opts o = {.recv_max = 1024};
    assert_rc(tr_tcp_setopts(f->rt, s, &o), TR_OK);
    assert_rc(tr_tcp_controlling_process(f->rt, s, a), TR_OK);
    /* Hold the actor, then make it active: its mailbox fills at once. */
    tu_gate *g = &f->gate[0];
    cmd(f->rt, a, CMD_GATE, &g, sizeof g);
    assert_true(tu_gate_wait_entered(g, 1, WAIT_MS));
    assert_rc(tr_tcp_active(f->rt, s, TR_TCP_ACTIVE_ALWAYS), TR_OK);
    enum { TOTAL = 256 * 1024 };
    static char out[TOTAL];
    for (size_t i = 0; i < TOTAL; i++)
        out[i] = (char)i;
    raw_write(fd, out, TOTAL);
    tu_sleep_ms(30); /* the socket meets the full mailbox meanwhile */
    tu_gate_open(g);
    assert_true(TU_WAIT(c.bytes == TOTAL, WAIT_MS));
    close(fd);
    assert_true(TU_WAIT(c.n_closed == 1, WAIT_MS));
    assert_int_equal(c.bytes, TOTAL);
    tr_exit(f->rt, a, tr_reason_kill());
    tu_await(f->rt, a);
    tr_tcp_close(f->rt, ls);
}

/* Sockets are read while every scheduler thread is busy: on a one-thread
 * runtime whose thread is held inside a callback, a client's data still
 * reaches its owner's mailbox (the timer thread looks at the poller while
 * no scheduler thread waits in it), and the owner answers once the thread
 * is free. Before and after, the idle thread waits in the poller itself,
 * and a plain thread's send wakes it there. */
static void test_io_while_every_thread_is_busy(void **state) {
    (void)state;
    tr_runtime *rt = tu_rt_start(1);
    tu_gate g;
    tu_gate_init(&g);
    net_ctx c = {.listen = true, .active = TR_TCP_ACTIVE_ONCE, .echo = true, .rearm = true};
    tr_pid e = spawn_na(rt, &c);
    int fd = raw_connect(c.port);
    assert_true(TU_WAIT(c.n_accepted == 1, WAIT_MS));
    char buf[8];
    for (int i = 0; i < 20; i++) { /* the thread parks in the poller between rounds */
        raw_write(fd, "hi", 2);
        assert_int_equal(raw_read(fd, buf, 2), 2);
        assert_memory_equal(buf, "hi", 2);
        net_ctx c2 = {0};
        tr_pid other = spawn_na(rt, &c2); /* a send from this thread wakes it */
        tr_exit(rt, other, tr_reason_kill());
        tu_await(rt, other);
    }
    net_ctx gc = {0};
    tr_pid holder = spawn_na(rt, &gc);
    tu_gate *gp = &g;
    cmd(rt, holder, CMD_GATE, &gp, sizeof gp);
    assert_true(tu_gate_wait_entered(&g, 1, WAIT_MS));
    raw_write(fd, "busy", 4);
    assert_true(TU_WAIT(tr_mailbox_len(rt, e) >= 1, WAIT_MS));
    tu_gate_open(&g);
    assert_int_equal(raw_read(fd, buf, 4), 4);
    assert_memory_equal(buf, "busy", 4);
    close(fd);
    assert_true(TU_WAIT(c.n_closed == 1, WAIT_MS));
    tu_rt_stop(&rt);
    tu_gate_destroy(&g);
}

/* A fiber killed while parked in recv: its waiter goes with it (ASan
 * checks that nothing touches its stack after), the socket closes. */
typedef struct park_arg {
    tr_runtime *rt;
    uint16_t port;
    _Atomic int parked;
} park_arg;

static int fiber_parks(tr_self *self, void *arg) {
    (void)self;
    park_arg *a = (park_arg *)arg;
    tr_sock s;
    if (tr_tcp_connect(a->rt, "127.0.0.1", a->port, NULL, WAIT_MS, &s) != TR_OK)
        return 1;
    a->parked = 1;
    char buf[8];
    size_t got;
    tr_tcp_recv(a->rt, s, buf, sizeof buf, TR_INFINITY, &got);
    a->parked = 2; /* never: it is killed first */
    return 0;
}

static void test_kill_fiber_parked_in_recv(void **state) {
    tu_fix *f = (tu_fix *)*state;
    uint16_t port;
    tr_sock ls = listen_here(f->rt, NULL, &port);
    park_arg pa = {.rt = f->rt, .port = port};
    tr_pid p;
    assert_rc(tr_spawn_fiber(f->rt, fiber_parks, &pa, NULL, &p), TR_OK);
    tr_sock s;
    assert_rc(tr_tcp_accept(f->rt, ls, WAIT_MS, &s), TR_OK);
    assert_true(TU_WAIT(pa.parked == 1, WAIT_MS));
    tu_sleep_ms(20); /* let it park; the result is the same if it has not yet */
    assert_rc(tr_exit(f->rt, p, tr_reason_kill()), TR_OK);
    tu_await(f->rt, p);
    assert_int_equal(pa.parked, 1);
    /* Its socket closed with it: EOF here. Data for it now goes nowhere. */
    char buf[8];
    size_t got;
    assert_rc(tr_tcp_recv(f->rt, s, buf, sizeof buf, WAIT_MS, &got), TR_ECLOSED);
    tr_tcp_close(f->rt, s);
    tr_tcp_close(f->rt, ls);
}

/* ---- connect errors ----------------------------------------------------------- */

static void test_connect_refused_and_timeout(void **state) {
    tu_fix *f = (tu_fix *)*state;
    uint16_t port;
    tr_sock ls = listen_here(f->rt, NULL, &port);
    assert_rc(tr_tcp_close(f->rt, ls), TR_OK);
    tr_sock s;
    assert_rc(tr_tcp_connect(f->rt, "127.0.0.1", port, NULL, WAIT_MS, &s), TR_ECONNREFUSED);
    assert_true(tr_sock_is_none(s));
    /* From an actor: an ERROR message. */
    net_ctx c = {.log = f->log};
    tr_pid a = spawn_na(f->rt, &c);
    connect_arg ca = {.port = port, .timeout_ms = WAIT_MS};
    assert_rc(cmd_rc(f->rt, a, &c, CMD_CONNECT, &ca, sizeof ca), TR_OK);
    assert_true(TU_WAIT(c.n_error == 1, WAIT_MS));
    assert_rc(c.last_status, TR_ECONNREFUSED);

    /* A listener whose accept queue is full drops new SYNs: connects
     * hang until their timeout. */
    tr_tcp_opts o = {.backlog = 1};
    ls = listen_here(f->rt, &o, &port);
    tr_sock held[16];
    int n_held = 0, rc = TR_OK;
    int64_t took = 0;
    while (n_held < 16) {
        int64_t t0 = tu_now_ms();
        rc = tr_tcp_connect(f->rt, "127.0.0.1", port, NULL, 200, &held[n_held]);
        took = tu_now_ms() - t0;
        if (rc != TR_OK)
            break;
        n_held++;
    }
    assert_rc(rc, TR_ETIMEDOUT);
    assert_true(took >= 200);
    /* The same from an actor: ERROR with TR_ETIMEDOUT. */
    ca.port = port;
    ca.timeout_ms = 100;
    assert_rc(cmd_rc(f->rt, a, &c, CMD_CONNECT, &ca, sizeof ca), TR_OK);
    assert_true(TU_WAIT(c.n_error == 2, WAIT_MS));
    assert_rc(c.last_status, TR_ETIMEDOUT);
    for (int i = 0; i < n_held; i++)
        assert_rc(tr_tcp_close(f->rt, held[i]), TR_OK);
    tr_tcp_close(f->rt, ls);
    tr_exit(f->rt, a, tr_reason_kill());
    tu_await(f->rt, a);
}

/* ---- IPv6 --------------------------------------------------------------------- */

static void test_ipv6_loopback(void **state) {
    tu_fix *f = (tu_fix *)*state;
    tr_sock ls;
    int rc = tr_tcp_listen(f->rt, "::1", 0, NULL, &ls);
    if (rc == TR_EINVAL || rc == TR_EUNREACH || rc == TR_EIO) {
        print_message("skipped: no IPv6 loopback here (%s)\n", tr_err_name(rc));
        return;
    }
    assert_rc(rc, TR_OK);
    uint16_t port;
    assert_rc(tr_tcp_local_port(f->rt, ls, &port), TR_OK);
    tr_sock c, s;
    assert_rc(tr_tcp_connect(f->rt, "::1", port, NULL, WAIT_MS, &c), TR_OK);
    assert_rc(tr_tcp_accept(f->rt, ls, WAIT_MS, &s), TR_OK);
    char host[64];
    assert_rc(tr_tcp_peername(f->rt, s, host, sizeof host, NULL), TR_OK);
    assert_string_equal(host, "::1");
    assert_rc(tr_tcp_send(f->rt, c, "six", 3, WAIT_MS), TR_OK);
    char buf[3];
    assert_rc(recv_exact(f->rt, s, buf, 3), TR_OK);
    assert_memory_equal(buf, "six", 3);
    /* The any-address listener is dual-stack: IPv4 reaches it too. */
    tr_sock any;
    assert_rc(tr_tcp_listen(f->rt, NULL, 0, NULL, &any), TR_OK);
    assert_rc(tr_tcp_local_port(f->rt, any, &port), TR_OK);
    tr_sock c4, s4;
    assert_rc(tr_tcp_connect(f->rt, "127.0.0.1", port, NULL, WAIT_MS, &c4), TR_OK);
    assert_rc(tr_tcp_accept(f->rt, any, WAIT_MS, &s4), TR_OK);
    tr_tcp_close(f->rt, c4);
    tr_tcp_close(f->rt, s4);
    tr_tcp_close(f->rt, any);
    tr_tcp_close(f->rt, c);
    tr_tcp_close(f->rt, s);
    tr_tcp_close(f->rt, ls);
}

/* ---- many connections ------------------------------------------------------------ */

static void test_many_connections(void **state) {
    tu_fix *f = (tu_fix *)*state;
    fsrv srv = {.rt = f->rt, .rc = 1};
    uint16_t port;
    tr_tcp_opts lo = {.backlog = 512};
    srv.ls = listen_here(f->rt, &lo, &port);
    tr_pid acc;
    assert_rc(tr_spawn_fiber(f->rt, fiber_acceptor, &srv, NULL, &acc), TR_OK);
    enum { N = 240 };
    static int fds[N];
    for (int i = 0; i < N; i++)
        fds[i] = raw_connect(port);
    /* All open at once; each echoes its own number. */
    for (int i = 0; i < N; i++) {
        char out[8];
        snprintf(out, sizeof out, "%06d", i);
        raw_write(fds[i], out, 6);
    }
    for (int i = 0; i < N; i++) {
        char out[8], in[8];
        snprintf(out, sizeof out, "%06d", i);
        assert_int_equal(raw_read(fds[i], in, 6), 6);
        assert_memory_equal(in, out, 6);
    }
    for (int i = 0; i < N; i++)
        close(fds[i]);
    assert_true(TU_WAIT(srv.conns == N, WAIT_MS));
    assert_int_equal(srv.errors, 0);
    tr_tcp_close(f->rt, srv.ls);
    assert_rc(tr_await_exit(f->rt, acc, WAIT_MS, NULL), TR_OK);
}

/* Closes, mode changes and sends from other threads race the timer
 * thread's reads and the actor's echoes: every client still ends (echo
 * done or EOF/reset), nothing crashes (TSan: no race). */
typedef struct blast_arg {
    uint16_t port;
    int rounds;
    _Atomic int ended;
} blast_arg;

static void *blaster(void *p) {
    blast_arg *a = (blast_arg *)p;
    int fd = raw_connect(a->port);
    char out[256], in[256];
    memset(out, 'q', sizeof out);
    for (int i = 0; i < a->rounds; i++) {
        if (send(fd, out, sizeof out, MSG_NOSIGNAL) != (ssize_t)sizeof out)
            break;
        if (raw_read(fd, in, sizeof out) != sizeof out)
            break; /* closed under us */
    }
    close(fd);
    a->ended++;
    return NULL;
}

static void test_close_races_io(void **state) {
    tu_fix *f = (tu_fix *)*state;
    net_ctx c = {.log = f->log, .listen = true, .active = TR_TCP_ACTIVE_ALWAYS, .echo = true};
    tr_pid a = spawn_na(f->rt, &c);
    enum { N = 16 };
    blast_arg ba = {.port = c.port, .rounds = TU_SCALE(400, 100)};
    pthread_t th[N];
    for (int i = 0; i < N; i++)
        pthread_create(&th[i], NULL, blaster, &ba);
    /* Meanwhile: flip modes, send, and close the accepted sockets. */
    int closed = 0;
    int64_t end = tu_now_ms() + WAIT_MS;
    while (ba.ended < N && tu_now_ms() < end) {
        tr_sock s = {c.last};
        if (!tr_sock_is_none(s)) {
            tr_tcp_active(f->rt, s, 0);
            tr_tcp_send(f->rt, s, "", 0, 0);
            tr_tcp_active(f->rt, s, TR_TCP_ACTIVE_ALWAYS);
            if (closed < N / 2 && tr_tcp_close(f->rt, s) == TR_OK)
                closed++;
        }
        tu_sleep_ms(1);
    }
    for (int i = 0; i < N; i++)
        pthread_join(th[i], NULL);
    assert_int_equal(ba.ended, N);
    assert_true(closed > 0);
    tr_exit(f->rt, a, tr_reason_kill());
    tu_await(f->rt, a);
}

/* ---- shutdown and runtime stop ------------------------------------------------------ */

static void test_shutdown_write_side(void **state) {
    tu_fix *f = (tu_fix *)*state;
    uint16_t port;
    tr_sock ls = listen_here(f->rt, NULL, &port);
    int fd = raw_connect(port);
    tr_sock s;
    assert_rc(tr_tcp_accept(f->rt, ls, WAIT_MS, &s), TR_OK);
    assert_rc(tr_tcp_send(f->rt, s, "bye", 3, WAIT_MS), TR_OK);
    assert_rc(tr_tcp_shutdown(f->rt, s, SHUT_WR), TR_OK);
    char in[3];
    assert_int_equal(raw_read(fd, in, 3), 3);
    assert_true(raw_eof(fd));
    assert_rc(tr_tcp_send(f->rt, s, "x", 1, 0), TR_ECLOSED);
    /* The read side still works. */
    raw_write(fd, "ok", 2);
    char buf[2];
    assert_rc(recv_exact(f->rt, s, buf, 2), TR_OK);
    assert_rc(tr_tcp_shutdown(f->rt, s, 42), TR_EINVAL);
    assert_rc(tr_tcp_shutdown(f->rt, ls, SHUT_RDWR), TR_EINVAL);
    close(fd);
    tr_tcp_close(f->rt, s);
    tr_tcp_close(f->rt, ls);
}

typedef struct acc_arg {
    tr_runtime *rt;
    tr_sock ls;
    _Atomic int rc;
} acc_arg;

static void *blocked_accept(void *p) {
    acc_arg *a = (acc_arg *)p;
    tr_sock s;
    a->rc = tr_tcp_accept(a->rt, a->ls, TR_INFINITY, &s);
    return NULL;
}

/* Open descriptors of the process. */
static int count_fds(void) {
    int n = 0;
    for (int fd = 0; fd < 4096; fd++)
        if (fcntl(fd, F_GETFD) != -1)
            n++;
    return n;
}

static void test_runtime_stop_closes_everything(void **state) {
    (void)state;
    int fds0 = count_fds();
    tr_runtime *rt = tu_rt_start(2);
    uint16_t port;
    tr_sock ls = listen_here(rt, NULL, &port);
    int fd = raw_connect(port);
    tr_sock s;
    assert_rc(tr_tcp_accept(rt, ls, WAIT_MS, &s), TR_OK);
    /* An actor's socket too. */
    net_ctx c = {.listen = true, .active = TR_TCP_ACTIVE_ALWAYS};
    tr_pid a = spawn_na(rt, &c);
    (void)a;
    int fd2 = raw_connect(c.port);
    assert_true(TU_WAIT(c.n_accepted == 1, WAIT_MS));
    /* A thread parked in accept. */
    tr_sock ls2 = listen_here(rt, NULL, &port);
    acc_arg aa = {.rt = rt, .ls = ls2, .rc = 1};
    pthread_t th;
    pthread_create(&th, NULL, blocked_accept, &aa);
    tu_sleep_ms(20); /* let it park; the result is the same if it has not yet */
    assert_rc(tr_runtime_stop(rt), TR_OK);
    pthread_join(th, NULL);
    assert_rc(aa.rc, TR_ECLOSED);
    assert_true(raw_eof(fd));
    assert_true(raw_eof(fd2));
    assert_rc(tr_tcp_send(rt, s, "x", 1, 0), TR_ECLOSED);
    assert_rc(tr_tcp_listen(rt, "127.0.0.1", 0, NULL, &ls), TR_ECLOSED);
    close(fd);
    close(fd2);
    tu_rt_stop(&rt);
    /* Every socket, the poller and its eventfd are gone. */
    assert_int_equal(count_fds(), fds0);
}

typedef struct recv_arg {
    tr_runtime *rt;
    tr_sock s;
    _Atomic int rc;
} recv_arg;

static void *blocked_recv(void *p) {
    recv_arg *a = (recv_arg *)p;
    char buf[8];
    size_t got;
    a->rc = tr_tcp_recv(a->rt, a->s, buf, sizeof buf, TR_INFINITY, &got);
    return NULL;
}

/* tr_runtime_free (no stop first) while a thread is parked in recv: the
 * thread wakes with TR_ECLOSED and the free waits until it has left the
 * socket (ASan: no use after free). */
static void test_free_with_a_thread_parked(void **state) {
    (void)state;
    tr_runtime *rt = tu_rt_start(2);
    uint16_t port;
    tr_sock ls = listen_here(rt, NULL, &port);
    int fd = raw_connect(port);
    recv_arg ra = {.rt = rt, .rc = 1};
    assert_rc(tr_tcp_accept(rt, ls, WAIT_MS, &ra.s), TR_OK);
    pthread_t th;
    pthread_create(&th, NULL, blocked_recv, &ra);
    tu_sleep_ms(20); /* let it park; the result is the same if it has not yet */
    assert_rc(tr_runtime_free(&rt), TR_OK);
    pthread_join(th, NULL);
    assert_rc(ra.rc, TR_ECLOSED);
    close(fd);
}

/* ---- bad input ------------------------------------------------------------------ */

static void test_bad_input(void **state) {
    tu_fix *f = (tu_fix *)*state;
    tr_runtime *rt = f->rt;
    tr_sock s, none = TR_SOCK_NONE, junk = {0xdeadbeef00000123ull};
    char buf[8];
    size_t got;
    uint16_t port;
    assert_rc(tr_tcp_listen(NULL, NULL, 0, NULL, &s), TR_EINVAL);
    assert_rc(tr_tcp_listen(rt, NULL, 0, NULL, NULL), TR_EINVAL);
    tr_tcp_opts bad = {.backlog = -1};
    assert_rc(tr_tcp_listen(rt, "127.0.0.1", 0, &bad, &s), TR_EINVAL);
    bad = (tr_tcp_opts){.active = -2};
    assert_rc(tr_tcp_listen(rt, "127.0.0.1", 0, &bad, &s), TR_EINVAL);
    /* Active with no owner (a plain thread): no one to tell. */
    bad = (tr_tcp_opts){.active = 1};
    assert_rc(tr_tcp_listen(rt, "127.0.0.1", 0, &bad, &s), TR_EINVAL);
    /* A dead owner. */
    bad = (tr_tcp_opts){.owner = {0x123}};
    assert_rc(tr_tcp_listen(rt, "127.0.0.1", 0, &bad, &s), TR_ENOPROC);
    /* Hosts that are no address and no name (no lookup is made). */
    assert_rc(tr_tcp_listen(rt, "bad:host", 0, NULL, &s), TR_ENOTFOUND);
    assert_rc(tr_tcp_connect(rt, "bad:host", 80, NULL, 100, &s), TR_ENOTFOUND);
    assert_rc(tr_tcp_connect(rt, "", 80, NULL, 100, &s), TR_EINVAL);
    assert_rc(tr_tcp_connect(rt, NULL, 80, NULL, 100, &s), TR_EINVAL);
    assert_rc(tr_tcp_connect(rt, "127.0.0.1", 0, NULL, 100, &s), TR_EINVAL);
    assert_rc(tr_tcp_connect(NULL, "127.0.0.1", 1, NULL, 100, &s), TR_EINVAL);
    assert_rc(tr_tcp_connect(rt, "127.0.0.1", 1, NULL, 100, NULL), TR_EINVAL);
    /* A port in use (without SO_REUSEADDR games: the listener is live). */
    tr_sock ls = listen_here(rt, NULL, &port);
    assert_rc(tr_tcp_listen(rt, "127.0.0.1", port, NULL, &s), TR_EADDRINUSE);
    /* Closed, never-existing and none handles: TR_ECLOSED everywhere. */
    tr_sock handles[] = {none, junk, {ls.id + (1ull << 32)}};
    for (size_t i = 0; i < sizeof handles / sizeof handles[0]; i++) {
        tr_sock h = handles[i];
        assert_rc(tr_tcp_accept(rt, h, 0, &s), TR_ECLOSED);
        assert_rc(tr_tcp_recv(rt, h, buf, sizeof buf, 0, &got), TR_ECLOSED);
        assert_rc(tr_tcp_send(rt, h, "x", 1, 0), TR_ECLOSED);
        assert_rc(tr_tcp_active(rt, h, 1), TR_ECLOSED);
        assert_rc(tr_tcp_controlling_process(rt, h, (tr_pid){1}), TR_ECLOSED);
        assert_rc(tr_tcp_shutdown(rt, h, SHUT_RDWR), TR_ECLOSED);
        assert_rc(tr_tcp_close(rt, h), TR_ECLOSED);
        assert_rc(tr_tcp_setopts(rt, h, &(tr_tcp_opts){0}), TR_ECLOSED);
        assert_rc(tr_tcp_local_port(rt, h, &port), TR_ECLOSED);
        assert_rc(tr_tcp_peername(rt, h, buf, sizeof buf, NULL), TR_ECLOSED);
        assert_int_equal(tr_tcp_errno(rt, h), 0);
    }
    /* NULLs and wrong kinds. */
    assert_rc(tr_tcp_accept(NULL, ls, 0, &s), TR_EINVAL);
    assert_rc(tr_tcp_accept(rt, ls, 0, NULL), TR_EINVAL);
    assert_rc(tr_tcp_recv(rt, ls, NULL, 1, 0, &got), TR_EINVAL);
    assert_rc(tr_tcp_recv(rt, ls, buf, 0, 0, &got), TR_EINVAL);
    assert_rc(tr_tcp_recv(rt, ls, buf, sizeof buf, 0, NULL), TR_EINVAL);
    assert_rc(tr_tcp_recv(rt, ls, buf, sizeof buf, 0, &got), TR_EINVAL); /* a listener */
    assert_rc(tr_tcp_send(rt, ls, "x", 1, 0), TR_EINVAL);                /* a listener */
    assert_rc(tr_tcp_send(rt, ls, NULL, 1, 0), TR_EINVAL);
    assert_rc(tr_tcp_active(rt, ls, -2), TR_EINVAL);
    assert_rc(tr_tcp_active(rt, ls, 1), TR_EINVAL); /* no owner */
    assert_rc(tr_tcp_controlling_process(rt, ls, TR_PID_NONE), TR_EINVAL);
    assert_rc(tr_tcp_controlling_process(rt, ls, (tr_pid){0x123}), TR_ENOPROC);
    assert_rc(tr_tcp_setopts(rt, ls, NULL), TR_EINVAL);
    assert_rc(tr_tcp_local_port(rt, ls, NULL), TR_EINVAL);
    assert_rc(tr_tcp_peername(rt, ls, buf, sizeof buf, NULL), TR_ENOTCONN);
    assert_rc(tr_tcp_sockname(rt, ls, buf, 2, NULL), TR_EINVAL); /* too small */
    assert_int_equal(tr_tcp_errno(NULL, ls), 0);
    /* tr_msg_sock on other messages. */
    assert_true(tr_sock_is_none(tr_msg_sock(NULL)));
    tr_msg m = {.kind = TR_MSG_INFO, .tag = 7, .ref = 9};
    assert_true(tr_sock_is_none(tr_msg_sock(&m)));
    m.tag = TR_TAG_TCP_DATA;
    assert_int_equal(tr_msg_sock(&m).id, 9);
    assert_rc(tr_tcp_close(rt, ls), TR_OK);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        TU_TEST(test_thread_accept_and_connect),
        TU_TEST(test_sendv),
        TU_TEST(test_fiber_echo_server),
        TU_TEST(test_fiber_client_and_close_wakes_it),
        TU_TEST(test_actor_echo_active_once),
        TU_TEST(test_active_n_then_passive),
        TU_TEST(test_controlling_process),
        TU_TEST(test_acceptor_hands_over_passive_sockets),
        TU_TEST(test_owner_crash_closes_socket),
        TU_TEST(test_output_bound_eagain_then_drained),
        TU_TEST(test_send_parks_until_room),
        TU_TEST(test_close_flushes_queued_output),
        TU_TEST(test_full_mailbox_loses_nothing),
        cmocka_unit_test(test_io_while_every_thread_is_busy),
        TU_TEST(test_kill_fiber_parked_in_recv),
        TU_TEST(test_connect_refused_and_timeout),
        TU_TEST(test_ipv6_loopback),
        TU_TEST(test_many_connections),
        TU_TEST(test_close_races_io),
        TU_TEST(test_shutdown_write_side),
        cmocka_unit_test(test_runtime_stop_closes_everything),
        cmocka_unit_test(test_free_with_a_thread_parked),
        TU_TEST(test_bad_input),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
