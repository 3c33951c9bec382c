/* troupe — the pool manager: a supervised set of workers behind a pool actor.
 *
 * Shape: the pool actor (traps exits) spawn_links a one_for_one supervisor
 * whose children are the workers. Workers run a wrapper behaviour
 * (supervisor/pool_worker.c) that holds the user's state after a small
 * header and calls the user's callbacks; the wrapper's init casts (slot
 * serial, pid) to the pool, which monitors each worker incarnation.
 *
 * Jobs: the pool forwards a call it receives to a worker as it came (no
 * new message, no copy: tr_forward); the worker's handle_call gets
 * the caller's tr_from, so the user's tr_reply reaches the caller directly.
 * Only a call the pool has to hold (no worker alive) or cannot forward (a
 * full bounded mailbox) goes as a cast carrying a job header with the
 * caller's tr_from; casts to the pool always go that way. Completion is tracked
 * without a message per job: each worker slot has a shared counter of jobs
 * finished (incremented by the worker after the handler returns, read by
 * the pool); jobs finish in FIFO order per worker, so the pool's per-slot
 * FIFO of dispatched jobs minus the counter is the set of unfinished jobs.
 * When a worker dies, the counter is final (the DOWN comes after the last
 * increment), and the jobs left in the FIFO get TR_ECRASHED.
 *
 * Scale-down: removed workers are "draining": they get no new job and a
 * DRAIN cast that arrives after every job the pool sent them (one sender,
 * FIFO: a forwarded call and a cast from the pool take the same path, and
 * the runtime pushes a turn's gathered sends before the pool's next turn
 * can start). Both the drain and the FIFO of unfinished jobs rely on that
 * order. The wrapper then stops with reason normal. Workers are transient,
 * so the supervisor does not restart them; the pool then deletes their
 * spec. An active worker that exits normally is restarted by the pool
 * (restart_child).
 *
 * Memory shared with the workers (the wrapper behaviour, the user's arg
 * copy, the job counters) lives in a tr__pool_shared block counted by
 * references (supervisor/pool_worker.h): one for the pool, one for the
 * workers' supervisor (whose child specs point to it: it restarts workers
 * from them), one per worker incarnation whose user init succeeded. Each
 * is dropped in the holder's cleanup callback, which runs on every exit,
 * kill included.
 */
#include <stdio.h>
#include <string.h>

#include <troupe/pool.h>
#include <troupe/supervisor.h>

#include "actor/internal.h"
#include "base/alloc.h"
#include "base/atomic.h"
#include "base/fifo.h"
#include "supervisor/pool_worker.h"
#include "supervisor/sup_internal.h"

#define POOL_DEFAULT_RESTARTS_PER_WORKER 10
#define POOL_DEFAULT_PERIOD_MS 1000
#define POOL_DEFAULT_SHUTDOWN_MS 5000

/* ------------------------------------------------------------------------ */
/* Pool actor state                                                          */
/* ------------------------------------------------------------------------ */

typedef struct job_rec {
    tr_from from; /* from.rt NULL: a cast */
} job_rec;

typedef struct job_fifo {
    job_rec *v;
    size_t cap, head, len;
} job_fifo;

static int fifo_push(job_fifo *f, job_rec r) {
    if (f->len == f->cap) {
        size_t cap = f->cap ? f->cap * 2 : 16;
        job_rec *v = tr__malloc(cap * sizeof(*v));
        if (!v)
            return TR_ENOMEM;
        for (size_t i = 0; i < f->len; i++)
            v[i] = f->v[(f->head + i) % f->cap];
        tr__free(f->v);
        f->v = v;
        f->cap = cap;
        f->head = 0;
    }
    f->v[(f->head + f->len) % f->cap] = r;
    f->len++;
    return 0;
}

static job_rec fifo_pop(job_fifo *f) {
    job_rec r = f->v[f->head];
    f->head = (f->head + 1) % f->cap;
    f->len--;
    return r;
}

typedef struct pslot {
    unsigned index;
    uint64_t serial;
    char id[32];
    tr__pool_worker_arg arg;
    tr__pool_ctr *ctr;
    tr_pid pid;
    uint64_t mref;
    bool cast_failed; /* pid found dead; its DOWN is on its way */
    job_fifo out;     /* dispatched, not known finished */
    uint64_t done_seen;
    uint64_t jobs_failed;
    uint32_t restarts;
    uint32_t registrations;
    bool draining;
    uint64_t del_req; /* pending DELETE_CHILD request */
    /* the previous incarnation when the new one registered before its DOWN
     * arrived: its unfinished jobs wait for the DOWN's reason */
    tr_pid zpid;
    uint64_t zmref;
    job_fifo zout;
} pslot;

typedef struct pending_job {
    tr_from from; /* from.rt NULL: a cast */
    tr_pid sender;
    uint32_t tag;
    void *data;
    size_t size;
    struct pending_job *next;
} pending_job;

typedef struct resize_req {
    tr_from from;
    unsigned target;
    struct resize_req *next;
} resize_req;

/* What the removed workers of one index did (a row of the statistics
 * covers every worker that has had its index). */
typedef struct ix_hist {
    uint64_t done, failed;
    uint32_t restarts;
} ix_hist;

typedef struct pool_state {
    tr__pool_shared *sh;
    tr_pid sup;
    bool sup_dead;
    tr_pool_strategy strategy;
    bool default_intensity;
    tr_duration_ms shutdown_ms;
    bool fiber_workers; /* workers' callbacks on fibers (tr_pool_opts) */
    size_t worker_stack_size;
    pslot **act;
    unsigned n_act, cap_act;
    pslot **drain;
    unsigned n_drain, cap_drain;
    unsigned rr;
    uint64_t next_serial;
    uint64_t dispatched;
    uint64_t removed_done, removed_failed, removed_restarts;
    ix_hist *ix; /* per index, removed workers' counters */
    unsigned cap_ix;
    TR__FIFO(pending_job) pend;
    /* resizes run one at a time */
    TR__FIFO(resize_req) rz;
    bool rz_active;
    pslot *growing;
    uint64_t grow_req;
    bool stopping;
    tr_reason stop_reason;
} pool_state;

static void slot_free(pool_state *p, pslot *s, bool free_ctr) {
    if (!s)
        return;
    if (free_ctr && s->ctr) {
        tr__pool_ctr *c = s->ctr;
        if (c->prev)
            c->prev->next = c->next;
        else
            p->sh->ctrs = c->next;
        if (c->next)
            c->next->prev = c->prev;
        tr__free(c);
    }
    tr__free(s->out.v);
    tr__free(s->zout.v);
    tr__free(s);
}

static pslot *slot_new(tr_self *self, pool_state *p, unsigned index) {
    pslot *s = tr__calloc(sizeof(*s));
    tr__pool_ctr *c = tr__aligned_calloc(64, sizeof(*c));
    if (!s || !c) {
        tr__free(s);
        tr__free(c);
        return NULL;
    }
    c->next = p->sh->ctrs;
    if (c->next)
        c->next->prev = c;
    p->sh->ctrs = c;
    s->index = index;
    s->serial = ++p->next_serial;
    snprintf(s->id, sizeof(s->id), "worker.%u.%llu", index, (unsigned long long)s->serial);
    s->ctr = c;
    s->arg.sh = p->sh;
    s->arg.ctr = c;
    s->arg.pool = tr_self_pid(self);
    s->arg.index = index;
    s->arg.serial = s->serial;
    return s;
}

static tr_child_spec slot_spec(pool_state *p, pslot *s) {
    tr_child_spec cs = {0};
    cs.id = s->id;
    cs.behaviour = &p->sh->wb;
    cs.arg = &s->arg;
    cs.arg_size = sizeof(s->arg);
    cs.restart = TR_TRANSIENT;
    cs.shutdown_ms = p->shutdown_ms;
    cs.type = TR_WORKER;
    cs.on_fiber = p->fiber_workers;
    cs.stack_size = p->worker_stack_size;
    return cs;
}

static bool slot_alive(const pslot *s) {
    return !tr_pid_is_none(s->pid) && !s->cast_failed;
}

/* Pops the jobs the worker finished. */
static void slot_sync(pslot *s) {
    uint64_t d = tr__load_acq_u64(&s->ctr->done);
    while (s->done_seen < d && s->out.len > 0) {
        fifo_pop(&s->out);
        s->done_seen++;
    }
    s->done_seen = d;
}

/* Every job the slot had accepted and not finished gets err. */
static void slot_fail_jobs(pslot *s, int err, const char *text, bool count) {
    slot_sync(s);
    while (s->out.len > 0) {
        job_rec r = fifo_pop(&s->out);
        if (r.from.rt)
            tr__reply_status(r.from, err, text);
        if (count)
            s->jobs_failed++;
    }
}

static pslot *find_serial(pool_state *p, uint64_t serial) {
    for (unsigned i = 0; i < p->n_act; i++)
        if (p->act[i]->serial == serial)
            return p->act[i];
    for (unsigned i = 0; i < p->n_drain; i++)
        if (p->drain[i]->serial == serial)
            return p->drain[i];
    if (p->growing && p->growing->serial == serial)
        return p->growing;
    return NULL;
}

static bool has_mref(const pslot *s, uint64_t mref) {
    return mref && (s->mref == mref || s->zmref == mref);
}

static pslot *find_mref(pool_state *p, uint64_t mref) {
    for (unsigned i = 0; i < p->n_act; i++)
        if (has_mref(p->act[i], mref))
            return p->act[i];
    for (unsigned i = 0; i < p->n_drain; i++)
        if (has_mref(p->drain[i], mref))
            return p->drain[i];
    if (p->growing && has_mref(p->growing, mref))
        return p->growing;
    return NULL;
}

/* Answers the jobs of a dead incarnation kept aside (see pslot.zout). */
static void zombie_fail(pslot *s, int err, const char *text, bool count) {
    while (s->zout.len > 0) {
        job_rec r = fifo_pop(&s->zout);
        if (r.from.rt)
            tr__reply_status(r.from, err, text);
        if (count)
            s->jobs_failed++;
    }
    s->zpid = TR_PID_NONE;
    s->zmref = 0;
}

static int vec_push(pslot ***v, unsigned *n, unsigned *cap, pslot *s) {
    if (!TR__GROW(*v, *n, *cap, 8))
        return TR_ENOMEM;
    (*v)[(*n)++] = s;
    return 0;
}

/* Room for the history of indexes 0..n-1 (allocated when an index is
 * created, so that removing a worker never needs memory). */
static int ix_reserve(pool_state *p, unsigned n) {
    if (n <= p->cap_ix)
        return 0;
    unsigned c = p->cap_ix ? p->cap_ix : 8;
    while (c < n)
        c *= 2;
    ix_hist *v = tr__realloc(p->ix, c * sizeof(*v));
    if (!v)
        return TR_ENOMEM;
    memset(v + p->cap_ix, 0, (c - p->cap_ix) * sizeof(*v));
    p->ix = v;
    p->cap_ix = c;
    return 0;
}

/* ------------------------------------------------------------------------ */
/* Dispatch                                                                  */
/* ------------------------------------------------------------------------ */

static pslot *choose(pool_state *p) {
    if (p->n_act == 0)
        return NULL;
    if (p->strategy == TR_POOL_LEAST_LOADED) {
        pslot *best = NULL;
        for (unsigned i = 0; i < p->n_act; i++) {
            pslot *s = p->act[i];
            if (!slot_alive(s))
                continue;
            slot_sync(s);
            if (!best || s->out.len < best->out.len)
                best = s;
        }
        return best;
    }
    for (unsigned k = 0; k < p->n_act; k++) {
        unsigned i = (p->rr + k) % p->n_act;
        if (slot_alive(p->act[i])) {
            p->rr = (i + 1) % p->n_act;
            return p->act[i];
        }
    }
    return NULL;
}

static void buf_free(void *p) {
    tr__free(p);
}

static int queue_pending(pool_state *p, tr_from from, tr_pid sender, uint32_t tag, const void *data,
                         size_t size) {
    pending_job *j = tr__malloc(sizeof(*j));
    void *copy = tr__malloc(size);
    if (!j || !copy) {
        tr__free(j);
        tr__free(copy);
        return TR_ENOMEM;
    }
    if (size)
        memcpy(copy, data, size);
    j->from = from;
    j->sender = sender;
    j->tag = tag;
    j->data = copy;
    j->size = size;
    TR__FIFO_PUSH(&p->pend, j, next);
    return 0;
}

/* Records a job sent to s (for TR_ECRASHED if its worker dies). Round-robin
 * never looks at loads, so the records of jobs the worker has finished are
 * dropped every SYNC_EVERY jobs: the FIFO holds about what is in flight,
 * not every job ever dispatched. 0 or TR_ENOMEM. */
#define SYNC_EVERY 64

static int slot_track(pslot *s, tr_from from) {
    if (s->out.len >= SYNC_EVERY && s->out.len % SYNC_EVERY == 0)
        slot_sync(s);
    return fifo_push(&s->out, (job_rec){from});
}

/* Sends a job to a worker, or queues it in the pool while none is alive.
 * Returns 0 when the job is accepted (sent or queued); on error the
 * caller is told nothing yet. */
static int dispatch(tr_self *self, pool_state *p, tr_from from, tr_pid sender, uint32_t tag,
                    const void *data, size_t size, bool current) {
    tr_runtime *rt = tr_self_runtime(self);
    for (;;) {
        pslot *s = choose(p);
        if (!s)
            return queue_pending(p, from, sender, tag, data, size);
        if (current && from.rt) {
            /* The call being handled goes to the worker as it is: no new
             * message, no copy; the worker replies to the caller. */
            if (slot_track(s, from))
                return TR_ENOMEM;
            int rc = tr_forward(self, s->pid);
            if (rc == 0) {
                p->dispatched++;
                return 0;
            }
            s->out.len--; /* undo the push (the newest entry) */
            if (rc == TR_ENOPROC) {
                s->cast_failed = true; /* dead: its DOWN will come; try another */
                continue;
            }
            current = false; /* bounded mailbox: send a copy below */
        }
        tr__pool_job_hdr jh = {0};
        jh.from = from;
        jh.sender = sender;
        jh.tag = tag;
        size_t len = sizeof(jh) + size;
        /* Small jobs are built on the stack and copied once, into the
         * message itself; larger ones go in a buffer the message owns. */
        char small[256];
        bool on_stack = len <= sizeof small;
        char *buf = on_stack ? small : tr__malloc(len);
        if (!buf)
            return TR_ENOMEM;
        memcpy(buf, &jh, sizeof(jh));
        if (size)
            memcpy(buf + sizeof(jh), data, size);
        if (slot_track(s, from)) {
            if (!on_stack)
                tr__free(buf);
            return TR_ENOMEM;
        }
        uint32_t wtag = from.rt ? TR__POOL_TAG_JOB_CALL : TR__POOL_TAG_JOB_CAST;
        int rc = on_stack ? tr_cast(rt, s->pid, wtag, buf, len)
                          : tr_cast_owned(rt, s->pid, wtag, buf, len, buf_free);
        if (rc == 0) {
            p->dispatched++;
            return 0;
        }
        /* undo the push (the newest entry) */
        s->out.len--;
        if (!on_stack)
            tr__free(buf);
        if (rc != TR_ENOPROC)
            return rc;
        s->cast_failed = true; /* dead: its DOWN will come; try another */
    }
}

static void flush_pending(tr_self *self, pool_state *p) {
    while (p->pend.head) {
        pslot *s = NULL;
        for (unsigned i = 0; i < p->n_act && !s; i++)
            if (slot_alive(p->act[i]))
                s = p->act[i];
        if (!s)
            return;
        pending_job *j = TR__FIFO_POP(&p->pend, next);
        int rc = dispatch(self, p, j->from, j->sender, j->tag, j->data, j->size, false);
        if (rc && j->from.rt)
            tr__reply_status(j->from, rc, tr_strerror(rc));
        tr__free(j->data);
        tr__free(j);
    }
}

static void fail_pending(pool_state *p, int err) {
    pending_job *j;
    while ((j = TR__FIFO_POP(&p->pend, next))) {
        if (j->from.rt)
            tr__reply_status(j->from, err, tr_strerror(err));
        tr__free(j->data);
        tr__free(j);
    }
}

/* ------------------------------------------------------------------------ */
/* Resize                                                                    */
/* ------------------------------------------------------------------------ */

static void set_intensity(tr_self *self, pool_state *p) {
    if (!p->default_intensity || p->sup_dead)
        return;
    unsigned n = p->n_act ? p->n_act : 1;
    tr__sup_intensity in = {POOL_DEFAULT_RESTARTS_PER_WORKER * (int)n, POOL_DEFAULT_PERIOD_MS};
    tr_request(self, p->sup, TR__SUP_SET_INTENSITY, &in, sizeof(in), TR_INFINITY, NULL);
}

static void resize_next(tr_self *self, pool_state *p);

static void resize_done(tr_self *self, pool_state *p, int err) {
    resize_req *r = TR__FIFO_POP(&p->rz, next);
    p->rz_active = false;
    set_intensity(self, p);
    if (err)
        tr__reply_status(r->from, err, tr_strerror(err));
    else
        tr_reply(r->from, TR_POOL_RESIZE, NULL, 0);
    tr__free(r);
    resize_next(self, p);
}

/* Starts the next worker of a growing resize, or finishes the resize. */
static void grow_step(tr_self *self, pool_state *p) {
    resize_req *r = p->rz.head;
    if (p->n_act >= r->target) {
        resize_done(self, p, 0);
        return;
    }
    pslot *s = ix_reserve(p, p->n_act + 1) ? NULL : slot_new(self, p, p->n_act);
    if (!s) {
        resize_done(self, p, TR_ENOMEM);
        return;
    }
    tr_child_spec cs = slot_spec(p, s);
    int rc =
        tr_request(self, p->sup, TR_SUP_START_CHILD, &cs, sizeof(cs), TR_INFINITY, &p->grow_req);
    if (rc) {
        slot_free(p, s, true);
        resize_done(self, p, rc);
        return;
    }
    p->growing = s;
}

static void grow_reply(tr_self *self, pool_state *p, const tr_msg *msg) {
    pslot *s = p->growing;
    p->growing = NULL;
    p->grow_req = 0;
    if (msg->status != 0) {
        if (!tr_pid_is_none(s->pid))
            tr_demonitor(self, s->mref);
        slot_free(p, s, true);
        resize_done(self, p, msg->status == TR_EINIT ? TR_EINIT : msg->status);
        return;
    }
    if (vec_push(&p->act, &p->n_act, &p->cap_act, s)) {
        /* cannot track it: let it drain away */
        s->draining = true;
        if (vec_push(&p->drain, &p->n_drain, &p->cap_drain, s) == 0 && slot_alive(s))
            tr_cast(tr_self_runtime(self), s->pid, TR__POOL_TAG_DRAIN, NULL, 0);
        resize_done(self, p, TR_ENOMEM);
        return;
    }
    flush_pending(self, p);
    grow_step(self, p);
}

static void resize_next(tr_self *self, pool_state *p) {
    while (p->rz.head && !p->rz_active) {
        resize_req *r = p->rz.head;
        p->rr = 0;
        if (r->target > p->n_act) {
            p->rz_active = true;
            grow_step(self, p);
            return;
        }
        /* shrink (or same size): the highest indexes drain */
        while (p->n_act > r->target) {
            pslot *s = p->act[p->n_act - 1];
            if (vec_push(&p->drain, &p->n_drain, &p->cap_drain, s))
                break;
            p->n_act--;
            s->draining = true;
            if (slot_alive(s))
                tr_cast(tr_self_runtime(self), s->pid, TR__POOL_TAG_DRAIN, NULL, 0);
        }
        p->rz_active = true;
        resize_done(self, p, p->n_act == r->target ? 0 : TR_ENOMEM);
        return;
    }
}

static void drain_remove(pool_state *p, pslot *s) {
    for (unsigned i = 0; i < p->n_drain; i++) {
        if (p->drain[i] == s) {
            memmove(&p->drain[i], &p->drain[i + 1], (p->n_drain - i - 1) * sizeof(pslot *));
            p->n_drain--;
            break;
        }
    }
    uint64_t done = tr__load_acq_u64(&s->ctr->done);
    p->removed_done += done;
    p->removed_failed += s->jobs_failed;
    p->removed_restarts += s->restarts;
    if (s->index < p->cap_ix) { /* always: reserved when the index was created */
        p->ix[s->index].done += done;
        p->ix[s->index].failed += s->jobs_failed;
        p->ix[s->index].restarts += s->restarts;
    }
    slot_free(p, s, true);
}

/* ------------------------------------------------------------------------ */
/* Stats                                                                     */
/* ------------------------------------------------------------------------ */

static void reply_stats(pool_state *p, tr_from from) {
    size_t len = sizeof(tr_pool_stats) + p->n_act * sizeof(tr_pool_worker_stats);
    char *buf = tr__calloc(len);
    if (!buf) {
        tr__reply_status(from, TR_ENOMEM, tr_strerror(TR_ENOMEM));
        return;
    }
    tr_pool_stats st = {0};
    st.size = p->n_act;
    st.jobs_dispatched = p->dispatched;
    st.jobs_done = p->removed_done;
    st.jobs_failed = p->removed_failed;
    st.restarts = p->removed_restarts;
    for (unsigned k = 0; k < 2; k++) {
        pslot **v = k ? p->drain : p->act;
        unsigned n = k ? p->n_drain : p->n_act;
        for (unsigned i = 0; i < n; i++) {
            pslot *s = v[i];
            slot_sync(s);
            uint64_t done = tr__load_acq_u64(&s->ctr->done);
            st.jobs_done += done;
            st.jobs_failed += s->jobs_failed;
            st.restarts += s->restarts;
            if (k == 0) {
                tr_pool_worker_stats w = {0};
                w.index = s->index;
                w.pid = s->pid;
                w.jobs_done = done;
                w.jobs_failed = s->jobs_failed;
                w.restarts = s->restarts;
                w.queued = (uint32_t)(s->out.len + s->zout.len);
                /* earlier workers at this index: removed, or still draining */
                if (s->index < p->cap_ix) {
                    w.jobs_done += p->ix[s->index].done;
                    w.jobs_failed += p->ix[s->index].failed;
                    w.restarts += p->ix[s->index].restarts;
                }
                for (unsigned j = 0; j < p->n_drain; j++) {
                    pslot *d = p->drain[j];
                    if (d->index == s->index) {
                        w.jobs_done += tr__load_acq_u64(&d->ctr->done);
                        w.jobs_failed += d->jobs_failed;
                        w.restarts += d->restarts;
                    }
                }
                memcpy(buf + sizeof(st) + i * sizeof(w), &w, sizeof(w));
            }
        }
    }
    memcpy(buf, &st, sizeof(st));
    tr_reply(from, TR_POOL_STATS, buf, len);
    tr__free(buf);
}

/* ------------------------------------------------------------------------ */
/* Workers coming and going                                                  */
/* ------------------------------------------------------------------------ */

static void on_register(tr_self *self, pool_state *p, const tr_msg *msg) {
    if (msg->size != sizeof(tr__pool_reg))
        return;
    tr__pool_reg reg;
    memcpy(&reg, msg->data, sizeof(reg));
    if (!tr_pid_eq(reg.pid, msg->sender))
        return;
    pslot *s = find_serial(p, reg.serial);
    if (!s)
        return;
    if (!tr_pid_is_none(s->pid) && !tr_pid_eq(s->pid, reg.pid)) {
        /* the previous incarnation is dead (the supervisor restarted it)
         * but its DOWN is not here yet: its counter is final, so its
         * unfinished jobs are known; they get the DOWN's reason later */
        if (s->zmref) { /* two restarts before one DOWN: no reason to wait for */
            tr_demonitor(self, s->zmref);
            zombie_fail(s, p->stopping ? TR_EEXITED : TR_ECRASHED, "worker restarted", true);
        }
        slot_sync(s);
        job_fifo t = s->zout;
        s->zout = s->out;
        s->out = t; /* empty, keeps its buffer */
        s->out.len = 0;
        s->out.head = 0;
        s->zpid = s->pid;
        s->zmref = s->mref;
    }
    s->pid = reg.pid;
    s->cast_failed = false;
    if (tr_monitor(self, reg.pid, &s->mref))
        s->mref = 0;
    if (++s->registrations > 1)
        s->restarts++;
    if (s->draining)
        tr_cast(tr_self_runtime(self), s->pid, TR__POOL_TAG_DRAIN, NULL, 0);
    else if (!p->stopping)
        flush_pending(self, p);
}

static void on_down(tr_self *self, pool_state *p, const tr_msg *msg) {
    pslot *s = find_mref(p, msg->ref);
    if (!s)
        return;
    const tr_reason *r = tr_msg_reason(msg);
    tr_reason reason = r ? *r : tr_reason_error(TR_ECRASHED, "unknown");
    char text[96];
    tr_reason_format(&reason, text, sizeof(text));
    if (s->zmref == msg->ref) {
        zombie_fail(s, p->stopping ? TR_EEXITED : TR_ECRASHED, text, !p->stopping);
        return;
    }
    if (!tr_pid_eq(s->pid, msg->sender))
        return;
    slot_fail_jobs(s, p->stopping ? TR_EEXITED : TR_ECRASHED, text, !p->stopping);
    s->pid = TR_PID_NONE;
    s->mref = 0;
    s->cast_failed = false;
    if (p->stopping || p->sup_dead)
        return;
    tr_sup_child_ref ref = {0};
    memcpy(ref.id, s->id, strlen(s->id));
    bool stopped = reason.kind == TR_EXIT_NORMAL || reason.kind == TR_EXIT_SHUTDOWN ||
                   reason.kind == TR_EXIT_NOPROC;
    if (s->draining) {
        /* Succeeds only if the supervisor does not restart it. */
        tr_request(self, p->sup, TR_SUP_DELETE_CHILD, &ref, sizeof(ref), TR_INFINITY, &s->del_req);
    } else if (stopped) {
        /* transient: the supervisor leaves it stopped; an active worker
         * must run, so restart it (TR_ERUNNING if it already was) */
        tr_request(self, p->sup, TR_SUP_RESTART_CHILD, &ref, sizeof(ref), TR_INFINITY, NULL);
    }
}

static void on_reply(tr_self *self, pool_state *p, const tr_msg *msg) {
    if (p->growing && msg->ref == p->grow_req) {
        grow_reply(self, p, msg);
        return;
    }
    for (unsigned i = 0; i < p->n_drain; i++) {
        pslot *s = p->drain[i];
        if (s->del_req && s->del_req == msg->ref) {
            s->del_req = 0;
            if (msg->status == 0 && tr_pid_is_none(s->pid))
                drain_remove(p, s);
            return;
        }
    }
}

/* ------------------------------------------------------------------------ */
/* Pool callbacks                                                            */
/* ------------------------------------------------------------------------ */

static bool opts_valid(const tr_pool_opts *o) {
    /* Sizes no allocation can hold are invalid (the worker's state also
     * carries the pool's header: the sum must not wrap). */
    return o && o->worker && o->size >= 1 && o->size <= TR_POOL_MAX_WORKERS &&
           (o->worker_arg_size == 0 || o->worker_arg) && o->worker_arg_size <= TR__SIZE_MAX &&
           tr__pool_worker_state_fits(o->worker->state_size) &&
           ((int)o->strategy == TR_POOL_ROUND_ROBIN || (int)o->strategy == TR_POOL_LEAST_LOADED) &&
           o->intensity >= 0 && o->period_ms >= 0 && o->worker_shutdown_ms >= 0 &&
           (o->worker_stack_size == 0 ||
            (o->worker_stack_size >= 16 * 1024 && o->worker_stack_size <= ((size_t)1 << 30)));
}

static void pool_free(pool_state *p, bool release_shared) {
    for (unsigned i = 0; i < p->n_act; i++)
        slot_free(p, p->act[i], false);
    for (unsigned i = 0; i < p->n_drain; i++)
        slot_free(p, p->drain[i], false);
    slot_free(p, p->growing, false);
    p->growing = NULL;
    tr__free(p->act);
    tr__free(p->drain);
    tr__free(p->ix);
    p->ix = NULL;
    p->cap_ix = 0;
    p->act = p->drain = NULL;
    p->n_act = p->n_drain = 0;
    resize_req *r;
    while ((r = TR__FIFO_POP(&p->rz, next)))
        tr__free(r);
    if (release_shared && p->sh)
        tr__pool_shared_release(p->sh);
    p->sh = NULL;
}

static int pool_init(tr_self *self, void *state, const void *arg) {
    pool_state *p = state;
    const tr_pool_opts *o = arg;
    if (!opts_valid(o))
        return tr_stop(self, tr_reason_error(TR_EINVAL, "bad pool options"));
    tr_trap_exit(self, true);
    tr__pool_shared *sh = tr__pool_shared_new(o->worker, o->worker_arg, o->worker_arg_size);
    if (!sh)
        return tr_stop(self, tr_reason_error(TR_ENOMEM, "pool out of memory"));
    p->sh = sh;
    p->strategy = o->strategy;
    p->shutdown_ms = o->worker_shutdown_ms ? o->worker_shutdown_ms : POOL_DEFAULT_SHUTDOWN_MS;
    p->fiber_workers = o->fiber_workers;
    p->worker_stack_size = o->worker_stack_size;
    p->default_intensity = o->period_ms == 0;

    tr_child_spec *specs = tr__calloc(o->size * sizeof(*specs));
    int rc = specs && ix_reserve(p, o->size) == 0 ? 0 : TR_ENOMEM;
    for (unsigned i = 0; rc == 0 && i < o->size; i++) {
        pslot *s = slot_new(self, p, i);
        if (!s || vec_push(&p->act, &p->n_act, &p->cap_act, s)) {
            slot_free(p, s, true);
            rc = TR_ENOMEM;
            break;
        }
        specs[i] = slot_spec(p, s);
    }
    if (rc == 0) {
        tr_sup_spec ss = {0};
        ss.flags.strategy = TR_ONE_FOR_ONE;
        if (p->default_intensity) {
            ss.flags.intensity = POOL_DEFAULT_RESTARTS_PER_WORKER * (int)o->size;
            ss.flags.period_ms = POOL_DEFAULT_PERIOD_MS;
        } else {
            ss.flags.intensity = o->intensity;
            ss.flags.period_ms = o->period_ms;
        }
        ss.children = specs;
        ss.n_children = o->size;
        tr__sup_owned_arg oa = {&ss, {tr__pool_shared_retain, tr__pool_shared_release, sh}, NULL};
        rc = tr_spawn_link(self, tr__supervisor_owned_behaviour(), &oa, &p->sup);
    }
    tr__free(specs);
    if (rc) {
        /* workers that started hold their own references to sh */
        pool_free(p, true);
        return tr_stop(self, tr_reason_error(rc, "pool workers failed to start"));
    }
    return TR_CONTINUE;
}

/* Tells the supervisor to shut down: in the block reserved with the link
 * when the heap is full; without even that, a kill (which needs none): a
 * stop never waits for a signal that was not sent. */
static void stop_sup(tr_self *self, pool_state *p) {
    int rc = tr__exit_linked(self, p->sup, tr_reason_shutdown());
    if (rc == TR_ENOMEM)
        rc = tr_exit(tr_self_runtime(self), p->sup, tr_reason_kill());
    if (rc == TR_ENOPROC)
        p->sup_dead = true;
}

static void begin_stop(tr_self *self, pool_state *p, tr_reason reason) {
    if (p->stopping)
        return;
    p->stopping = true;
    p->stop_reason = reason;
    fail_pending(p, TR_EEXITED);
    /* the supervisor stops the workers (their queued jobs: TR_EEXITED on
     * their DOWN), then exits; its EXIT ends the pool */
    stop_sup(self, p);
}

static int pool_handle_call(tr_self *self, void *state, const tr_msg *msg, tr_from from) {
    pool_state *p = state;
    if (p->stopping) {
        tr__reply_status(from, TR_ESHUTDOWN, tr_strerror(TR_ESHUTDOWN));
        return TR_CONTINUE;
    }
    if (msg->tag == TR_POOL_STATS) {
        reply_stats(p, from);
        return TR_CONTINUE;
    }
    if (msg->tag == TR_POOL_RESIZE) {
        unsigned target;
        if (msg->size != sizeof(target)) {
            tr__reply_status(from, TR_EINVAL, "resize payload: unsigned");
            return TR_CONTINUE;
        }
        memcpy(&target, msg->data, sizeof(target));
        if (target < 1 || target > TR_POOL_MAX_WORKERS) {
            tr__reply_status(from, TR_EINVAL, "pool size out of range");
            return TR_CONTINUE;
        }
        resize_req *r = tr__calloc(sizeof(*r));
        if (!r) {
            tr__reply_status(from, TR_ENOMEM, tr_strerror(TR_ENOMEM));
            return TR_CONTINUE;
        }
        r->from = from;
        r->target = target;
        TR__FIFO_PUSH(&p->rz, r, next);
        resize_next(self, p);
        return TR_CONTINUE;
    }
    if (msg->tag >= TR_TAG_RESERVED_MIN) {
        tr__reply_status(from, TR_EINVAL, "reserved tag");
        return TR_CONTINUE;
    }
    int rc = dispatch(self, p, from, msg->sender, msg->tag, msg->data, msg->size, true);
    if (rc)
        tr__reply_status(from, rc, tr_strerror(rc));
    return TR_CONTINUE;
}

static int pool_handle_cast(tr_self *self, void *state, const tr_msg *msg) {
    pool_state *p = state;
    if (msg->tag == TR__POOL_TAG_REGISTER) {
        on_register(self, p, msg);
        return TR_CONTINUE;
    }
    if (msg->tag >= TR_TAG_RESERVED_MIN || p->stopping)
        return TR_CONTINUE; /* a cast cannot be answered: dropped */
    dispatch(self, p, (tr_from){0}, msg->sender, msg->tag, msg->data, msg->size, false);
    return TR_CONTINUE;
}

static int pool_handle_info(tr_self *self, void *state, const tr_msg *msg) {
    pool_state *p = state;
    switch (msg->kind) {
    case TR_MSG_DOWN:
        on_down(self, p, msg);
        break;
    case TR_MSG_REPLY:
        on_reply(self, p, msg);
        break;
    case TR_MSG_EXIT: {
        const tr_reason *r = tr_msg_reason(msg);
        tr_reason reason = r ? *r : tr_reason_shutdown();
        if (tr_pid_eq(msg->sender, p->sup)) {
            p->sup_dead = true;
            /* every worker is gone: fail what they had */
            int err = p->stopping ? TR_EEXITED : TR_ECRASHED;
            for (unsigned k = 0; k < 2; k++) {
                pslot **v = k ? p->drain : p->act;
                unsigned n = k ? p->n_drain : p->n_act;
                for (unsigned i = 0; i < n; i++) {
                    zombie_fail(v[i], err, "pool supervisor exited", !p->stopping);
                    slot_fail_jobs(v[i], err, "pool supervisor exited", !p->stopping);
                }
            }
            fail_pending(p, err);
            return tr_stop(self, p->stopping ? p->stop_reason : reason);
        }
        if (reason.kind != TR_EXIT_NORMAL)
            begin_stop(self, p, reason);
        if (p->sup_dead)
            return tr_stop(self, reason);
        break;
    }
    default:
        break;
    }
    return TR_CONTINUE;
}

static void pool_terminate(tr_self *self, void *state, tr_reason reason) {
    (void)reason;
    pool_state *p = state;
    tr_runtime *rt = tr_self_runtime(self);
    for (unsigned k = 0; k < 2; k++) {
        pslot **v = k ? p->drain : p->act;
        unsigned n = k ? p->n_drain : p->n_act;
        for (unsigned i = 0; i < n; i++) {
            zombie_fail(v[i], TR_EEXITED, "pool exited", false);
            slot_fail_jobs(v[i], TR_EEXITED, "pool exited", false);
        }
    }
    fail_pending(p, TR_EEXITED);
    for (resize_req *r = p->rz.head; r; r = r->next)
        tr__reply_status(r->from, TR_ESHUTDOWN, tr_strerror(TR_ESHUTDOWN));
    if (!p->sup_dead && !tr__runtime_stopping(rt))
        tr__exit_linked(self, p->sup, tr_reason_shutdown());
    /* the tables go in pool_cleanup, which also runs when we are killed */
}

/* Every exit of the pool, kill included: its tables and its reference on
 * the shared block (the supervisor and the workers hold their own). */
static void pool_cleanup(void *state) {
    pool_free(state, true);
}

static const tr_behaviour pool_behaviour = {
    .name = "pool",
    .state_size = sizeof(pool_state),
    .init = pool_init,
    .handle_call = pool_handle_call,
    .handle_cast = pool_handle_cast,
    .handle_info = pool_handle_info,
    .terminate = pool_terminate,
    .cleanup = pool_cleanup,
};

/* ------------------------------------------------------------------------ */
/* Blocking API                                                              */
/* ------------------------------------------------------------------------ */

int tr_pool_start(tr_runtime *rt, const tr_pool_opts *opts, tr_pid *out) {
    if (!rt || !out || !opts_valid(opts))
        return TR_EINVAL;
    return tr_spawn(rt, &pool_behaviour, opts, NULL, out);
}

int tr_pool_resize(tr_runtime *rt, tr_pid pool, unsigned size) {
    if (!rt || size < 1 || size > TR_POOL_MAX_WORKERS)
        return TR_EINVAL;
    return tr_call(rt, pool, TR_POOL_RESIZE, &size, sizeof(size), NULL, TR_INFINITY);
}

int tr_pool_get_stats(tr_runtime *rt, tr_pid pool, tr_pool_stats *stats,
                      tr_pool_worker_stats *workers, size_t max, size_t *n) {
    if (!rt || (!workers && max > 0))
        return TR_EINVAL;
    tr_buf reply = {0};
    int rc = tr_call(rt, pool, TR_POOL_STATS, NULL, 0, &reply, TR_INFINITY);
    if (rc == 0) {
        if (reply.size < sizeof(tr_pool_stats)) {
            rc = TR_EREMOTE;
        } else {
            size_t total = (reply.size - sizeof(tr_pool_stats)) / sizeof(tr_pool_worker_stats);
            if (stats)
                memcpy(stats, reply.data, sizeof(*stats));
            size_t k = total < max ? total : max;
            if (k)
                memcpy(workers, (char *)reply.data + sizeof(tr_pool_stats),
                       k * sizeof(tr_pool_worker_stats));
            if (n)
                *n = total;
        }
    }
    tr_buf_free(&reply);
    return rc;
}

int tr_pool_stop(tr_runtime *rt, tr_pid pool, tr_duration_ms timeout_ms) {
    return tr__sup_stop_await(rt, pool, timeout_ms);
}
