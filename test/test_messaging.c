/* Messaging between actors on scheduler threads: message blocks recycled
 * across threads (every size class and larger, copied and owned payloads,
 * contents intact), sends gathered per receiver during a turn (order per
 * sender and receiver kept across casts, requests, more receivers than the
 * outbox holds, and the sender's own exit), and bounded mailboxes refusing
 * at once from inside a callback. */
#include "testutil.h"

enum { T_GO = 1, T_DATA, T_OWNED, T_GET, T_COUNT, T_SEQ, T_DONE };

/* ------------------------------------------------------------------------ */
/* A mesh of actors sending payloads of every size to each other            */
/* ------------------------------------------------------------------------ */

#define MESH 6
#define MESH_MAX_SIZE 1500 /* past the largest cached class (1,024 bytes) */

typedef struct mesh_ctx {
    tr_pid pids[MESH];
    int64_t per_peer; /* messages each actor sends to each other actor */
    atomic_long received;
    atomic_long errors;
    atomic_long send_errors;
    atomic_int owned_freed;
} mesh_ctx;

typedef struct mesh_state {
    mesh_ctx *ctx;
    int index;
    int64_t sent;           /* to each peer */
    int64_t next_seq[MESH]; /* expected from each peer */
} mesh_state;

typedef struct mesh_hdr {
    uint32_t from;
    uint32_t size;
    int64_t seq;
} mesh_hdr;

static size_t mesh_size(int from, int64_t seq) {
    return sizeof(mesh_hdr) + (size_t)((seq * 37 + from * 11) % MESH_MAX_SIZE);
}

static unsigned char mesh_byte(int from, int64_t seq, size_t i) {
    return (unsigned char)(from * 31 + seq * 7 + i);
}

static void mesh_fill(unsigned char *buf, int from, int64_t seq, size_t size) {
    mesh_hdr h = {(uint32_t)from, (uint32_t)size, seq};
    memcpy(buf, &h, sizeof h);
    for (size_t i = sizeof h; i < size; i++)
        buf[i] = mesh_byte(from, seq, i);
}

static void mesh_owned_free(void *p) {
    mesh_ctx **c = p;
    atomic_fetch_add(&(*c)->owned_freed, 1);
    free(p);
}

static int mesh_init(tr_self *self, void *state, const void *arg) {
    (void)self;
    mesh_state *s = state;
    s->ctx = *(mesh_ctx *const *)arg;
    for (int i = 0; i < MESH; i++)
        if (tr_pid_eq(s->ctx->pids[i], TR_PID_NONE)) {
            s->index = i;
            break;
        }
    return TR_CONTINUE;
}

/* Sends the next 50 messages to every peer, then goes on later (a self
 * cast), so that turns interleave with receiving. */
static void mesh_send_some(tr_self *self, mesh_state *s) {
    mesh_ctx *c = s->ctx;
    tr_runtime *rt = tr_self_runtime(self);
    static _Thread_local unsigned char buf[MESH_MAX_SIZE + sizeof(mesh_hdr)];
    int64_t end = s->sent + 50 < c->per_peer ? s->sent + 50 : c->per_peer;
    for (; s->sent < end; s->sent++) {
        for (int p = 0; p < MESH; p++) {
            if (p == s->index)
                continue;
            size_t size = mesh_size(s->index, s->sent);
            int rc;
            if (s->sent % 5 == 4) {
                /* Owned: the buffer starts with a pointer to ctx (for the
                 * destructor's count); the checked bytes follow it. */
                unsigned char *o = malloc(size + sizeof(mesh_ctx *));
                memcpy(o, &c, sizeof c);
                mesh_fill(o + sizeof c, s->index, s->sent, size);
                rc = tr_cast_owned(rt, c->pids[p], T_OWNED, o, size + sizeof c, mesh_owned_free);
                if (rc != 0)
                    free(o);
            } else {
                mesh_fill(buf, s->index, s->sent, size);
                rc = tr_cast(rt, c->pids[p], T_DATA, buf, size);
            }
            if (rc != 0)
                atomic_fetch_add(&c->send_errors, 1);
        }
    }
    if (s->sent < c->per_peer)
        tr_cast(rt, tr_self_pid(self), T_GO, NULL, 0);
}

static void mesh_check(mesh_state *s, const unsigned char *p, size_t size) {
    mesh_ctx *c = s->ctx;
    mesh_hdr h;
    bool ok = size >= sizeof h;
    if (ok) {
        memcpy(&h, p, sizeof h);
        ok = h.from < MESH && h.size == size && h.seq == s->next_seq[h.from] &&
             size == mesh_size((int)h.from, h.seq);
    }
    for (size_t i = sizeof h; ok && i < size; i++)
        ok = p[i] == mesh_byte((int)h.from, h.seq, i);
    if (!ok) {
        atomic_fetch_add(&c->errors, 1);
        return;
    }
    s->next_seq[h.from]++;
    atomic_fetch_add(&c->received, 1);
}

static int mesh_cast(tr_self *self, void *state, const tr_msg *m) {
    mesh_state *s = state;
    if (m->tag == T_GO)
        mesh_send_some(self, s);
    else if (m->tag == T_DATA)
        mesh_check(s, m->data, m->size);
    else if (m->tag == T_OWNED && m->size >= sizeof(mesh_ctx *))
        mesh_check(s, (const unsigned char *)m->data + sizeof(mesh_ctx *),
                   m->size - sizeof(mesh_ctx *));
    else
        atomic_fetch_add(&s->ctx->errors, 1);
    return TR_CONTINUE;
}

static const tr_behaviour k_mesh = {
    .name = "mesh", .state_size = sizeof(mesh_state), .init = mesh_init, .handle_cast = mesh_cast};

/* Every message arrives once, in order per sender, with its bytes intact,
 * whatever its size class and whichever threads allocated and freed it;
 * every owned payload's destructor runs once. */
static void test_mesh_every_size_across_threads(void **state) {
    tu_fix *f = *state;
    mesh_ctx *c = calloc(1, sizeof *c);
    assert_non_null(c);
    c->per_peer = TU_SCALE(3000, 300);
    for (int i = 0; i < MESH; i++) {
        c->pids[i] = TR_PID_NONE;
        assert_int_equal(tr_spawn(f->rt, &k_mesh, &c, NULL, &c->pids[i]), TR_OK);
    }
    for (int i = 0; i < MESH; i++)
        assert_int_equal(tr_cast(f->rt, c->pids[i], T_GO, NULL, 0), TR_OK);
    long want = (long)(c->per_peer * MESH * (MESH - 1));
    bool done = TU_WAIT(atomic_load(&c->received) + atomic_load(&c->errors) >= want, 60000);
    assert_true(done);
    assert_int_equal(atomic_load(&c->errors), 0);
    assert_int_equal(atomic_load(&c->send_errors), 0);
    assert_int_equal(atomic_load(&c->received), want);
    long owned = (long)(c->per_peer / 5) * MESH * (MESH - 1);
    assert_true(TU_WAIT(atomic_load(&c->owned_freed) == owned, 10000));
    for (int i = 0; i < MESH; i++)
        assert_int_equal(tr_exit(f->rt, c->pids[i], tr_reason_kill()), TR_OK);
    for (int i = 0; i < MESH; i++)
        tu_await(f->rt, c->pids[i]);
    free(c);
}

/* ------------------------------------------------------------------------ */
/* Order: casts, then a request, to one receiver; many receivers per turn    */
/* ------------------------------------------------------------------------ */

#define FAN 12 /* more receivers than one turn's outbox holds */

typedef struct ord_ctx {
    tr_pid counter;
    tr_pid fan[FAN];
    int64_t n;
    atomic_long reply; /* casts the counter had seen when the call came */
    atomic_int replied;
    atomic_long fan_seen[FAN];
    atomic_long fan_errors;
} ord_ctx;

typedef struct ord_state {
    ord_ctx *ctx;
    int64_t count;
    int index;
} ord_state;

static int ord_init(tr_self *self, void *state, const void *arg) {
    (void)self;
    ord_state *s = state;
    s->ctx = *(ord_ctx *const *)arg;
    s->index = -1;
    for (int i = 0; i < FAN; i++)
        if (tr_pid_eq(s->ctx->fan[i], TR_PID_NONE)) {
            s->index = i;
            break;
        }
    return TR_CONTINUE;
}

/* Counter: counts T_SEQ casts (checking their numbers); answers T_GET with
 * the count. */
static int ord_counter_cast(tr_self *self, void *state, const tr_msg *m) {
    (void)self;
    ord_state *s = state;
    int64_t v = -1;
    if (m->size == sizeof v)
        memcpy(&v, m->data, sizeof v);
    if (m->tag == T_SEQ && v == s->count)
        s->count++;
    return TR_CONTINUE;
}

static int ord_counter_call(tr_self *self, void *state, const tr_msg *m, tr_from from) {
    (void)self;
    ord_state *s = state;
    return tr_reply(from, T_COUNT, &s->count, sizeof s->count) == 0
               ? TR_CONTINUE
               : tr_stop(self, tr_reason_normal());
}

static const tr_behaviour k_counter = {.name = "counter",
                                       .state_size = sizeof(ord_state),
                                       .init = ord_init,
                                       .handle_cast = ord_counter_cast,
                                       .handle_call = ord_counter_call};

/* Fan receivers: check that their T_SEQ numbers come in order. */
static int ord_fan_cast(tr_self *self, void *state, const tr_msg *m) {
    (void)self;
    ord_state *s = state;
    int64_t v = -1;
    if (m->size == sizeof v)
        memcpy(&v, m->data, sizeof v);
    if (m->tag != T_SEQ || v != s->count)
        atomic_fetch_add(&s->ctx->fan_errors, 1);
    s->count++;
    atomic_store(&s->ctx->fan_seen[s->index], s->count);
    return TR_CONTINUE;
}

static const tr_behaviour k_fan = {
    .name = "fan", .state_size = sizeof(ord_state), .init = ord_init, .handle_cast = ord_fan_cast};

/* Sender: in one callback, n casts to the counter interleaved with casts to
 * every fan receiver, then a request to the counter. */
static int ord_sender_cast(tr_self *self, void *state, const tr_msg *m) {
    ord_state *s = state;
    ord_ctx *c = s->ctx;
    tr_runtime *rt = tr_self_runtime(self);
    if (m->tag != T_GO)
        return TR_CONTINUE;
    for (int64_t k = 0; k < c->n; k++) {
        int64_t i = s->count + k; /* numbered across rounds */
        tr_cast(rt, c->counter, T_SEQ, &i, sizeof i);
        tr_cast(rt, c->fan[i % FAN], T_SEQ, &(int64_t){i / FAN}, sizeof(int64_t));
    }
    s->count += c->n;
    tr_request(self, c->counter, T_GET, NULL, 0, TR_INFINITY, NULL);
    return TR_CONTINUE;
}

static int ord_sender_info(tr_self *self, void *state, const tr_msg *m) {
    (void)self;
    ord_state *s = state;
    if (m->kind == TR_MSG_REPLY && m->status == 0 && m->size == sizeof(int64_t)) {
        int64_t v;
        memcpy(&v, m->data, sizeof v);
        atomic_store(&s->ctx->reply, v);
        atomic_store(&s->ctx->replied, 1);
    }
    return TR_CONTINUE;
}

static const tr_behaviour k_sender = {.name = "sender",
                                      .state_size = sizeof(ord_state),
                                      .init = ord_init,
                                      .handle_cast = ord_sender_cast,
                                      .handle_info = ord_sender_info};

/* A request sent after casts to the same server is handled after them
 * (gen_server: cast then call from one client are seen in that order),
 * and every receiver of a turn gets its messages in order, even when the
 * turn writes to more receivers than are gathered at once. */
static void test_order_casts_then_request(void **state) {
    tu_fix *f = *state;
    ord_ctx *c = calloc(1, sizeof *c);
    assert_non_null(c);
    c->n = FAN * 500; /* chains of many lengths, several per receiver */
    for (int i = 0; i < FAN; i++)
        c->fan[i] = TR_PID_NONE;
    assert_int_equal(tr_spawn(f->rt, &k_counter, &c, NULL, &c->counter), TR_OK);
    for (int i = 0; i < FAN; i++)
        assert_int_equal(tr_spawn(f->rt, &k_fan, &c, NULL, &c->fan[i]), TR_OK);
    tr_pid sender;
    assert_int_equal(tr_spawn(f->rt, &k_sender, &c, NULL, &sender), TR_OK);
    for (int round = 0; round < 3; round++) {
        atomic_store(&c->replied, 0);
        assert_int_equal(tr_cast(f->rt, sender, T_GO, NULL, 0), TR_OK);
        assert_true(TU_WAIT(atomic_load(&c->replied), 10000));
        /* every cast of this round (and the earlier ones) came first */
        assert_int_equal(atomic_load(&c->reply), c->n * (round + 1));
    }
    for (int i = 0; i < FAN; i++)
        assert_true(TU_WAIT(atomic_load(&c->fan_seen[i]) == c->n / FAN * 3, 10000));
    assert_int_equal(atomic_load(&c->fan_errors), 0);
    free(c);
}

/* ------------------------------------------------------------------------ */
/* The sender's exit: what it sent in its last turn, then its DOWN           */
/* ------------------------------------------------------------------------ */

typedef struct last_ctx {
    tr_pid watcher;
    int64_t n;
    atomic_long seen;  /* T_SEQ casts before the DOWN */
    atomic_long after; /* T_SEQ casts after the DOWN (must stay 0) */
    atomic_int down;
    atomic_int order_errors;
} last_ctx;

typedef struct last_state {
    last_ctx *ctx;
    int64_t next;
    bool down;
} last_state;

static int last_init(tr_self *self, void *state, const void *arg) {
    (void)self;
    ((last_state *)state)->ctx = *(last_ctx *const *)arg;
    return TR_CONTINUE;
}

/* Watcher: T_GO carries the sender's pid: monitor it, then start it. */
static int last_watcher_cast(tr_self *self, void *state, const tr_msg *m) {
    last_state *s = state;
    if (m->tag == T_GO && m->size == sizeof(tr_pid)) {
        tr_pid sender;
        memcpy(&sender, m->data, sizeof sender);
        uint64_t ref;
        s->next = 0; /* a new sender numbers from 0 */
        s->down = false;
        if (tr_monitor(self, sender, &ref) != 0 ||
            tr_cast(tr_self_runtime(self), sender, T_GO, NULL, 0) != 0)
            atomic_fetch_add(&s->ctx->order_errors, 1);
        return TR_CONTINUE;
    }
    int64_t v = -1;
    if (m->size == sizeof v)
        memcpy(&v, m->data, sizeof v);
    if (v != s->next)
        atomic_fetch_add(&s->ctx->order_errors, 1);
    s->next++;
    atomic_fetch_add(s->down ? &s->ctx->after : &s->ctx->seen, 1);
    return TR_CONTINUE;
}

static int last_watcher_info(tr_self *self, void *state, const tr_msg *m) {
    (void)self;
    last_state *s = state;
    if (m->kind == TR_MSG_DOWN) {
        s->down = true;
        atomic_store(&s->ctx->down, 1);
    }
    return TR_CONTINUE;
}

static const tr_behaviour k_watcher = {.name = "watcher",
                                       .state_size = sizeof(last_state),
                                       .init = last_init,
                                       .handle_cast = last_watcher_cast,
                                       .handle_info = last_watcher_info};

static int last_sender_cast(tr_self *self, void *state, const tr_msg *m) {
    (void)m;
    last_state *s = state;
    tr_runtime *rt = tr_self_runtime(self);
    for (int64_t i = 0; i < s->ctx->n; i++)
        tr_cast(rt, s->ctx->watcher, T_SEQ, &i, sizeof i);
    return tr_stop(self, tr_reason_normal());
}

static const tr_behaviour k_last_sender = {.name = "last_sender",
                                           .state_size = sizeof(last_state),
                                           .init = last_init,
                                           .handle_cast = last_sender_cast};

/* Messages an actor sends in the callback that stops it all arrive, and its
 * DOWN comes after them (OTP orders signals between two processes). */
static void test_last_turn_sends_then_down(void **state) {
    tu_fix *f = *state;
    last_ctx *c = calloc(1, sizeof *c);
    assert_non_null(c);
    c->n = 1000;
    assert_int_equal(tr_spawn(f->rt, &k_watcher, &c, NULL, &c->watcher), TR_OK);
    for (int round = 0; round < 20; round++) {
        atomic_store(&c->down, 0);
        tr_pid sender;
        assert_int_equal(tr_spawn(f->rt, &k_last_sender, &c, NULL, &sender), TR_OK);
        assert_int_equal(tr_cast(f->rt, c->watcher, T_GO, &sender, sizeof sender), TR_OK);
        assert_true(TU_WAIT(atomic_load(&c->down), 10000));
        assert_int_equal(atomic_load(&c->seen), c->n * (round + 1));
    }
    assert_int_equal(atomic_load(&c->after), 0);
    assert_int_equal(atomic_load(&c->order_errors), 0);
    free(c);
}

/* ------------------------------------------------------------------------ */
/* Bounded mailboxes refuse at once, also from a callback                    */
/* ------------------------------------------------------------------------ */

#define BND_SENDS 10

typedef struct bnd_ctx {
    tr_pid bounded;
    int rc[BND_SENDS];
    atomic_int sent;
    atomic_long handled;
} bnd_ctx;

static int bnd_init(tr_self *self, void *state, const void *arg) {
    (void)self;
    *(bnd_ctx **)state = *(bnd_ctx *const *)arg;
    return TR_CONTINUE;
}

/* The bounded actor: T_GO carries a gate to wait at; T_DATA is counted. */
static int bnd_cast(tr_self *self, void *state, const tr_msg *m) {
    (void)self;
    bnd_ctx *c = *(bnd_ctx **)state;
    if (m->tag == T_GO && m->size == sizeof(tu_gate *)) {
        tu_gate *g;
        memcpy(&g, m->data, sizeof g);
        tu_gate_block(g);
    } else if (m->tag == T_DATA) {
        atomic_fetch_add(&c->handled, 1);
    }
    return TR_CONTINUE;
}

static const tr_behaviour k_bounded = {
    .name = "bounded", .state_size = sizeof(bnd_ctx *), .init = bnd_init, .handle_cast = bnd_cast};

/* The sender: BND_SENDS casts in one callback, each result recorded. */
static int bnd_sender_cast(tr_self *self, void *state, const tr_msg *m) {
    (void)m;
    bnd_ctx *c = *(bnd_ctx **)state;
    for (int i = 0; i < BND_SENDS; i++)
        c->rc[i] = tr_cast(tr_self_runtime(self), c->bounded, T_DATA, &i, sizeof i);
    atomic_store(&c->sent, 1);
    return TR_CONTINUE;
}

static const tr_behaviour k_bnd_sender = {.name = "bnd_sender",
                                          .state_size = sizeof(bnd_ctx *),
                                          .init = bnd_init,
                                          .handle_cast = bnd_sender_cast};

/* A callback that sends to a full bounded mailbox learns it at once
 * (TR_EFULL), and what was accepted is delivered. */
static void test_bounded_mailbox_from_callback(void **state) {
    tu_fix *f = *state;
    bnd_ctx *c = calloc(1, sizeof *c);
    assert_non_null(c);
    tr_spawn_opts o = {.max_mailbox = 4};
    assert_int_equal(tr_spawn(f->rt, &k_bounded, &c, &o, &c->bounded), TR_OK);
    tu_gate *g = &f->gate[0];
    assert_int_equal(tr_cast(f->rt, c->bounded, T_GO, &g, sizeof g), TR_OK);
    assert_true(tu_gate_wait_entered(g, 1, 5000));
    tr_pid sender;
    assert_int_equal(tr_spawn(f->rt, &k_bnd_sender, &c, NULL, &sender), TR_OK);
    assert_int_equal(tr_cast(f->rt, sender, T_GO, NULL, 0), TR_OK);
    assert_true(TU_WAIT(atomic_load(&c->sent), 5000));
    for (int i = 0; i < BND_SENDS; i++)
        assert_int_equal(c->rc[i], i < 4 ? TR_OK : TR_EFULL);
    tu_gate_open(g);
    assert_true(TU_WAIT(atomic_load(&c->handled) == 4, 5000));
    tu_sleep_ms(20);
    assert_int_equal(atomic_load(&c->handled), 4);
    assert_int_equal(tr_exit(f->rt, c->bounded, tr_reason_kill()), TR_OK);
    tu_await(f->rt, c->bounded);
    free(c);
}

/* ------------------------------------------------------------------------ */
/* What a child's init sends stays ahead of what its first turns send       */
/* ------------------------------------------------------------------------ */

typedef struct spn_ctx {
    tr_pid recorder;
    tu_gate gate;
    atomic_int child_sent; /* the child's first turn has sent its message */
    atomic_int parent_done;
    int order[4];
    atomic_int n;        /* slots taken in order[] */
    atomic_int recorded; /* slots written (the reader waits on this) */
} spn_ctx;

static int spn_init_ctx(tr_self *self, void *state, const void *arg) {
    (void)self;
    *(spn_ctx **)state = *(spn_ctx *const *)arg;
    return TR_CONTINUE;
}

/* The recorder: T_GO blocks it at the gate (it is busy, so sends to it are
 * gathered in the sender's outbox); T_SEQ values are recorded in order. */
static int spn_rec_cast(tr_self *self, void *state, const tr_msg *m) {
    (void)self;
    spn_ctx *c = *(spn_ctx **)state;
    if (m->tag == T_GO) {
        tu_gate_block(&c->gate);
    } else if (m->tag == T_SEQ && m->size == sizeof(int)) {
        int i = atomic_fetch_add(&c->n, 1);
        if (i < 4)
            memcpy(&c->order[i], m->data, sizeof(int));
        atomic_fetch_add(&c->recorded, 1);
    }
    return TR_CONTINUE;
}

static const tr_behaviour k_spn_rec = {.name = "spawn_recorder",
                                       .state_size = sizeof(spn_ctx *),
                                       .init = spn_init_ctx,
                                       .handle_cast = spn_rec_cast};

/* The child: init sends 1; its first cast sends 2. */
static int spn_child_init(tr_self *self, void *state, const void *arg) {
    spn_ctx *c = *(spn_ctx *const *)arg;
    *(spn_ctx **)state = c;
    int one = 1;
    return tr_cast(tr_self_runtime(self), c->recorder, T_SEQ, &one, sizeof one) == TR_OK
               ? TR_CONTINUE
               : TR_STOP;
}

static int spn_child_cast(tr_self *self, void *state, const tr_msg *m) {
    (void)m;
    spn_ctx *c = *(spn_ctx **)state;
    int two = 2;
    tr_cast(tr_self_runtime(self), c->recorder, T_SEQ, &two, sizeof two);
    atomic_store(&c->child_sent, 1);
    return TR_CONTINUE;
}

static const tr_behaviour k_spn_child = {.name = "spawn_child",
                                         .state_size = sizeof(spn_ctx *),
                                         .init = spn_child_init,
                                         .handle_cast = spn_child_cast};

/* The parent: spawns the child from its callback, starts it, and stays in
 * the callback until the child's first turn has sent (or 200 ms pass). */
static int spn_parent_cast(tr_self *self, void *state, const tr_msg *m) {
    (void)m;
    spn_ctx *c = *(spn_ctx **)state;
    tr_runtime *rt = tr_self_runtime(self);
    tr_pid child;
    if (tr_spawn(rt, &k_spn_child, &c, NULL, &child) == TR_OK) {
        tr_cast(rt, child, T_GO, NULL, 0);
        int64_t end = tu_now_ms() + 200;
        while (!atomic_load(&c->child_sent) && tu_now_ms() < end)
            sched_yield();
    }
    atomic_store(&c->parent_done, 1);
    return TR_CONTINUE;
}

static const tr_behaviour k_spn_parent = {.name = "spawn_parent",
                                          .state_size = sizeof(spn_ctx *),
                                          .init = spn_init_ctx,
                                          .handle_cast = spn_parent_cast};

/* A child spawned from a callback sends from its init (gathered in the
 * parent's outbox) and then from its first turn on another thread: the
 * receiver gets the init's message first (one sender, one receiver: FIFO). */
static void test_init_sends_before_first_turn(void **state) {
    tu_fix *f = *state;
    int bad = 0;
    for (int round = 0; round < 20; round++) {
        spn_ctx *c = calloc(1, sizeof *c);
        assert_non_null(c);
        tu_gate_init(&c->gate);
        spn_ctx *cp = c;
        assert_int_equal(tr_spawn(f->rt, &k_spn_rec, &cp, NULL, &c->recorder), TR_OK);
        assert_int_equal(tr_cast(f->rt, c->recorder, T_GO, NULL, 0), TR_OK);
        assert_true(tu_gate_wait_entered(&c->gate, 1, 5000));
        tr_pid parent;
        assert_int_equal(tr_spawn(f->rt, &k_spn_parent, &cp, NULL, &parent), TR_OK);
        assert_int_equal(tr_cast(f->rt, parent, T_GO, NULL, 0), TR_OK);
        assert_true(TU_WAIT(atomic_load(&c->parent_done), 5000));
        tu_gate_open(&c->gate);
        assert_true(TU_WAIT(atomic_load(&c->recorded) == 2, 5000));
        if (c->order[0] != 1 || c->order[1] != 2) {
            print_error("round %d: the recorder got %d then %d\n", round, c->order[0], c->order[1]);
            bad++;
        }
        assert_int_equal(tr_exit(f->rt, c->recorder, tr_reason_kill()), TR_OK);
        tu_await(f->rt, c->recorder);
        tu_gate_destroy(&c->gate);
        free(c);
    }
    assert_int_equal(bad, 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        TU_TEST4(test_mesh_every_size_across_threads), TU_TEST(test_order_casts_then_request),
        TU_TEST(test_last_turn_sends_then_down),       TU_TEST(test_bounded_mailbox_from_callback),
        TU_TEST4(test_init_sends_before_first_turn),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
