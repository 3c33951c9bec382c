/* troupe — the task pool (include/troupe/task_pool.h): the manager and
 * worker actors that run tasks, and the pool's lifecycle. The futures they
 * complete are in task/future.c.
 *
 * Built on plain actors: one manager actor (traps exits) owns a FIFO of
 * submitted futures and `n` worker actors linked to it; it hands one task
 * at a time to an idle worker, and restarts a worker that crashed after
 * failing the future it was running. The manager supervises its workers
 * itself (rather than through tr_supervisor/tr_pool) because it must know
 * which task each worker held when it died.
 *
 * Lifetimes are reference counts:
 *  - a future: see task/future.h. Messages carry the future by ownership
 *    transfer with a destructor, so a message dropped undelivered (its
 *    receiver died) still releases its reference — and fails the future
 *    with TR_ECLOSED if nobody took it.
 *  - the pool: 1 for the user, 1 for the manager actor (dropped in its
 *    terminate), 1 for each future not yet completed.
 */
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <troupe/fiber.h>
#include <troupe/task_pool.h>

#include "base/clock.h"
#include "actor/internal.h"
#include "base/alloc.h"
#include "base/atomic.h"
#include "base/fifo.h"
#include "task/future.h"

/* Message tags of the manager and the workers, in the task pool's reserved
 * range 0xFFFF0400-0xFFFF04FF (the table of reserved tags is in
 * troupe/actor.h, above tr_send). */
#define TP_SUBMIT 0xFFFF0401u /* cast_owned to manager: a tr_future * */
#define TP_DONE 0xFFFF0402u   /* info to manager: worker index (unsigned) */
#define TP_STOP 0xFFFF0403u   /* cast to manager: drain done, stop */
#define TP_RUN 0xFFFF0404u    /* send_owned to worker: a tr_future * */

struct tr_task_pool {
    tr_runtime *rt;
    tr_pid manager;
    unsigned workers;
    size_t max_pending;
    pthread_mutex_t mu;
    pthread_cond_t cv;   /* pending reached 0, manager exited */
    uint64_t pending;    /* written under mu; read atomically */
    bool closed;         /* under mu: submissions refused */
    bool stop_sent;      /* under mu */
    bool manager_exited; /* under mu */
    bool freed;          /* user released it (debug aid) */
    uint32_t refs;       /* atomic */
    int start_err;       /* manager init's error, for tr_task_pool_start */
};

struct tr_task {
    tr_self *self;
    void *res;
    size_t res_size;
    bool has_text;
    char text[TR__TASK_TEXT_MAX];
};

/* ------------------------------------------------------------------------ */
/* Reference counts                                                          */
/* ------------------------------------------------------------------------ */

/* True on a thread that runs actor callbacks (blocking is refused there). */
static bool on_actor_thread(void) {
    return tr__current() != NULL;
}

static void pool_ref(tr_task_pool *p) {
    tr__faa_acqrel_u32(&p->refs, 1);
}

static void pool_unref(tr_task_pool *p) {
    if (tr__faa_acqrel_u32(&p->refs, (uint32_t)-1) != 1)
        return;
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->cv);
    tr__free(p);
}

void tr__task_pool_future_done(tr_task_pool *p) {
    pthread_mutex_lock(&p->mu);
    tr__store_rel_u64(&p->pending, p->pending - 1);
    if (p->pending == 0)
        pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
    pool_unref(p);
}

/* ------------------------------------------------------------------------ */
/* Workers                                                                   */
/* ------------------------------------------------------------------------ */

/* A worker is a fiber: a task may block (sleep, await a future, use
 * channels, tr_blocking) and only its fiber parks. Its manager is the
 * process that spawned it (linked, trapping exits): a worker that crashes
 * inside a task ends, and the manager fails that task's future with the
 * crash reason and starts a fresh worker. */

static const char *default_text(int code) {
    if (strcmp(tr_err_name(code), "TR_UNKNOWN") != 0)
        return tr_strerror(code);
    return "task failed";
}

/* What a worker holds while it runs a task: released at its exit however
 * it ends (tr__fiber_on_exit), so a crash or a kill mid-task leaks
 * nothing. */
typedef struct worker_hold {
    tr_msg *run; /* the RUN message (its destructor drops the future's reference) */
    tr_task task;
} worker_hold;

static void worker_release(void *arg) {
    worker_hold *h = arg;
    tr_msg_free(h->run);
    h->run = NULL;
    tr__free(h->task.res);
    h->task.res = NULL;
}

static int worker_main(tr_self *self, void *arg) {
    unsigned idx = (unsigned)(uintptr_t)arg;
    tr_pid manager = tr__self_parent(self);
    worker_hold h = {0};
    tr__fiber_on_exit(self, worker_release, &h);
    for (;;) {
        int rc = tr_receive_tag(self, TP_RUN, TR_INFINITY, &h.run);
        if (rc)
            return rc;
        if (h.run->kind != TR_MSG_INFO) {
            worker_release(&h);
            continue;
        }
        tr_future *f = (tr_future *)h.run->data;
        f->started = true;
        memset(&h.task, 0, sizeof h.task);
        h.task.self = self;

        rc = f->fn(&h.task, f->arg, f->arg_size);

        if (rc == 0) {
            tr__future_complete(f, 0, h.task.res, h.task.res_size);
        } else { /* the task's own code: TR_EREMOTE, the code beside it */
            tr__free(h.task.res);
            tr__future_fail_code(f, rc, h.task.has_text ? h.task.text : default_text(rc));
        }
        h.task.res = NULL;
        worker_release(&h);
        /* The manager counts this worker busy until DONE comes: if DONE
         * cannot be allocated, crash instead; the manager sees the EXIT
         * (its memory is reserved with the link) and starts a fresh
         * worker. */
        if (tr_send(tr_self_runtime(self), manager, TP_DONE, &idx, sizeof idx) == TR_ENOMEM)
            tr_fail(self, tr_reason_error(TR_ENOMEM, "task pool worker out of memory"));
    }
}

/* Destructor of a RUN message: drops its reference; a task no worker began
 * (the worker died first) is failed here. */
static void run_msg_dtor(void *p) {
    tr_future *f = p;
    if (!f->started)
        tr__future_fail_text(f, TR_ECLOSED, "worker stopped before running the task");
    tr__future_unref(f);
}

/* ------------------------------------------------------------------------ */
/* Manager                                                                   */
/* ------------------------------------------------------------------------ */

typedef struct mgr_worker {
    tr_pid pid;         /* TR_PID_NONE when not running */
    tr_future *current; /* assigned task (manager's reference) */
} mgr_worker;

typedef struct mgr_state {
    tr_task_pool *pool;
    unsigned n;
    mgr_worker *w;
    unsigned *idle; /* stack of idle worker indexes */
    unsigned n_idle;
    unsigned n_missing;        /* workers that exited and could not be started again */
    TR__FIFO(tr_future) queue; /* submitted, not yet handed to a worker */
} mgr_state;

/* Puts f back at the head of the queue (a task that could not be handed
 * out goes first again). */
static void queue_push_front(mgr_state *st, tr_future *f) {
    f->next = st->queue.head;
    st->queue.head = f;
    if (!st->queue.tail)
        st->queue.tail = f;
}

static int spawn_worker(tr_self *self, mgr_state *st, unsigned i) {
    tr_fiber_opts o = {.link_to = tr_self_pid(self)};
    tr_pid pid;
    int rc = tr_spawn_fiber(tr_self_runtime(self), worker_main, (void *)(uintptr_t)i, &o, &pid);
    if (rc != 0)
        return rc;
    st->w[i].pid = pid;
    st->w[i].current = NULL;
    st->idle[st->n_idle++] = i;
    return 0;
}

static unsigned alive_workers(const mgr_state *st) {
    unsigned k = 0;
    for (unsigned i = 0; i < st->n; i++)
        k += !tr_pid_is_none(st->w[i].pid);
    return k;
}

static void fail_queue(mgr_state *st, int status, const char *text) {
    tr_future *f;
    while ((f = TR__FIFO_POP(&st->queue, next))) {
        tr__future_fail_text(f, status, text);
        tr__future_unref(f);
    }
}

/* Starts the workers that could not be restarted when they exited (out of
 * memory then): tried again whenever there is work to hand out. */
static void respawn_missing(tr_self *self, mgr_state *st) {
    if (!st->n_missing || tr__runtime_stopping(tr_self_runtime(self)))
        return;
    for (unsigned i = 0; i < st->n && st->n_missing; i++)
        if (tr_pid_is_none(st->w[i].pid) && spawn_worker(self, st, i) == 0)
            st->n_missing--;
}

static void dispatch(tr_self *self, mgr_state *st) {
    tr_runtime *rt = tr_self_runtime(self);
    if (st->queue.head)
        respawn_missing(self, st);
    while (st->queue.head && st->n_idle > 0) {
        unsigned i = st->idle[--st->n_idle];
        tr_future *f = TR__FIFO_POP(&st->queue, next);
        tr__future_ref(f); /* the RUN message's reference */
        int rc = tr_send_owned(rt, st->w[i].pid, TP_RUN, f, sizeof *f, run_msg_dtor);
        if (rc == TR_ENOMEM) {
            /* The worker stays idle; the task ends here, and its owner
             * learns why. */
            st->idle[st->n_idle++] = i;
            tr__future_unref(f);
            tr__future_fail_text(f, TR_ENOMEM, "out of memory: the task could not be handed out");
            tr__future_unref(f); /* the manager's reference */
            continue;
        }
        if (rc != 0) {
            /* The worker is dying (its EXIT is on the way) or the runtime
             * stops: keep the task for another worker. */
            tr__future_unref(f);
            queue_push_front(st, f);
            if (rc == TR_ECLOSED)
                return;
            continue;
        }
        st->w[i].current = f;
    }
    if (st->queue.head && alive_workers(st) == 0) {
        if (st->n_missing) /* none could be started again */
            fail_queue(st, TR_ENOMEM, "out of memory: task pool has no workers left");
        else
            fail_queue(st, TR_ECLOSED, "task pool has no workers left");
    }
}

static int mgr_init(tr_self *self, void *state, const void *arg) {
    mgr_state *st = state;
    tr_task_pool *p = (tr_task_pool *)arg;
    st->pool = p;
    st->n = p->workers;
    st->w = tr__calloc(sizeof(mgr_worker) * st->n);
    st->idle = tr__calloc(sizeof(unsigned) * st->n);
    if (!st->w || !st->idle) {
        p->start_err = TR_ENOMEM;
        goto fail;
    }
    tr_trap_exit(self, true);
    for (unsigned i = 0; i < st->n; i++) {
        int rc = spawn_worker(self, st, i);
        if (rc != 0) {
            p->start_err = rc;
            goto fail;
        }
    }
    return TR_CONTINUE;
fail:
    if (st->w) {
        for (unsigned i = 0; i < st->n; i++)
            if (!tr_pid_is_none(st->w[i].pid))
                tr_exit(tr_self_runtime(self), st->w[i].pid, tr_reason_kill());
    }
    tr__free(st->w);
    tr__free(st->idle);
    st->w = NULL;
    st->idle = NULL;
    st->pool = NULL; /* tr_task_pool_start frees it: nothing for mgr_cleanup */
    return tr_stop(self, tr_reason_shutdown());
}

static void submit_msg_dtor(void *p) {
    tr_future *f = p;
    if (!f->accepted) /* the manager died before taking it */
        tr__future_fail_text(f, TR_ECLOSED, "task pool stopped before the task ran");
    tr__future_unref(f);
}

static int mgr_cast(tr_self *self, void *state, const tr_msg *msg) {
    mgr_state *st = state;
    if (msg->tag == TP_SUBMIT) {
        tr_future *f = (tr_future *)msg->data;
        f->accepted = true;
        tr__future_ref(f); /* the manager's reference */
        TR__FIFO_PUSH(&st->queue, f, next);
        dispatch(self, st);
        return TR_CONTINUE;
    }
    if (msg->tag == TP_STOP)
        return tr_stop(self, tr_reason_normal());
    return TR_CONTINUE;
}

static int find_worker(const mgr_state *st, tr_pid pid) {
    for (unsigned i = 0; i < st->n; i++)
        if (tr_pid_eq(st->w[i].pid, pid))
            return (int)i;
    return -1;
}

static int mgr_info(tr_self *self, void *state, const tr_msg *msg) {
    mgr_state *st = state;
    if (msg->kind == TR_MSG_INFO && msg->tag == TP_DONE && msg->size == sizeof(unsigned)) {
        unsigned i;
        memcpy(&i, msg->data, sizeof i);
        if (i < st->n && st->w[i].current && tr_pid_eq(st->w[i].pid, msg->sender)) {
            tr__future_unref(st->w[i].current);
            st->w[i].current = NULL;
            st->idle[st->n_idle++] = i;
            dispatch(self, st);
        }
        return TR_CONTINUE;
    }
    if (msg->kind == TR_MSG_EXIT) {
        int i = find_worker(st, msg->sender);
        const tr_reason *r = tr_msg_reason(msg);
        if (i < 0) {
            /* Not a worker: an exit signal meant for the manager. */
            if (r && r->kind != TR_EXIT_NORMAL)
                return tr_stop(self, *r);
            return TR_CONTINUE;
        }
        mgr_worker *w = &st->w[i];
        if (w->current) {
            tr_reason crash = r ? *r : tr_reason_error(TR_ECRASHED, "worker exited");
            tr__future_fail_reason(w->current, &crash);
            tr__future_unref(w->current);
            w->current = NULL;
        } else {
            /* An idle worker died: take it off the idle stack. */
            for (unsigned k = 0; k < st->n_idle; k++) {
                if (st->idle[k] == (unsigned)i) {
                    st->idle[k] = st->idle[--st->n_idle];
                    break;
                }
            }
        }
        w->pid = TR_PID_NONE;
        if (!tr__runtime_stopping(tr_self_runtime(self)) &&
            spawn_worker(self, st, (unsigned)i) != 0) /* restart, as one_for_one */
            st->n_missing++;                          /* out of memory: later */
        dispatch(self, st);
    }
    return TR_CONTINUE;
}

/* An orderly stop: the workers are told to stop (a task in progress runs
 * to its end and completes its future). What the manager owns is released
 * in mgr_cleanup, which also runs when the manager is killed. */
static void mgr_terminate(tr_self *self, void *state, tr_reason reason) {
    mgr_state *st = state;
    tr_task_pool *p = st->pool;
    pthread_mutex_lock(&p->mu);
    p->closed = true;
    pthread_mutex_unlock(&p->mu);
    if (st->w)
        for (unsigned i = 0; i < st->n; i++)
            if (!tr_pid_is_none(st->w[i].pid) &&
                tr__exit_linked(self, st->w[i].pid, tr_reason_shutdown()) == TR_ENOMEM)
                tr_exit(tr_self_runtime(self), st->w[i].pid, tr_reason_kill());
}

/* Every exit, kill included (terminate does not run then; the workers,
 * linked, get the EXIT and stop): queued tasks fail with TR_ECLOSED, the
 * tables go, and tr_task_pool_stop/free learn that the manager is
 * gone. A task a worker is running completes its future from the worker
 * (or fails it through the RUN message's destructor). */
static void mgr_cleanup(void *state) {
    mgr_state *st = state;
    tr_task_pool *p = st->pool;
    if (!p)
        return; /* init failed: tr_task_pool_start frees the pool */
    pthread_mutex_lock(&p->mu);
    p->closed = true;
    pthread_mutex_unlock(&p->mu);
    fail_queue(st, TR_ECLOSED, "task pool stopped before the task ran");
    if (st->w)
        for (unsigned i = 0; i < st->n; i++)
            if (st->w[i].current) /* the worker (or its RUN message) completes it */
                tr__future_unref(st->w[i].current);
    tr__free(st->w);
    tr__free(st->idle);
    st->w = NULL;
    st->idle = NULL;
    pthread_mutex_lock(&p->mu);
    p->manager_exited = true;
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
    pool_unref(p);
}

static const tr_behaviour manager_behaviour = {
    .name = "tr_task_pool",
    .state_size = sizeof(mgr_state),
    .init = mgr_init,
    .handle_cast = mgr_cast,
    .handle_info = mgr_info,
    .terminate = mgr_terminate,
    .cleanup = mgr_cleanup,
};

/* ------------------------------------------------------------------------ */
/* Public API: pool                                                          */
/* ------------------------------------------------------------------------ */

int tr_task_pool_start(tr_runtime *rt, const tr_task_pool_opts *opts, tr_task_pool **out) {
    if (!rt || !out)
        return TR_EINVAL;
    tr_task_pool_opts o = {0};
    if (opts)
        o = *opts;
    if (o.workers > TR_TASK_POOL_MAX_WORKERS)
        return TR_EINVAL;
    if (o.workers == 0)
        o.workers = tr_runtime_threads(rt);
    if (o.workers == 0)
        o.workers = 1;

    tr_task_pool *p = tr__calloc(sizeof *p);
    if (!p)
        return TR_ENOMEM;
    p->rt = rt;
    p->workers = o.workers;
    p->max_pending = o.max_pending;
    p->refs = 2; /* the user and the manager actor */
    if (pthread_mutex_init(&p->mu, NULL) != 0) {
        tr__free(p);
        return TR_ENOMEM;
    }
    if (tr__cond_init_monotonic(&p->cv) != 0) {
        pthread_mutex_destroy(&p->mu);
        tr__free(p);
        return TR_ENOMEM;
    }
    int rc = tr_spawn(rt, &manager_behaviour, p, NULL, &p->manager);
    if (rc != 0) {
        if (rc == TR_EINIT && p->start_err != 0)
            rc = p->start_err;
        pthread_mutex_destroy(&p->mu);
        pthread_cond_destroy(&p->cv);
        tr__free(p);
        return rc;
    }
    *out = p;
    return 0;
}

int tr_task_pool_drain(tr_task_pool *pool, tr_duration_ms timeout_ms) {
    if (!pool || !tr__task_valid_timeout(timeout_ms))
        return TR_EINVAL;
    if (on_actor_thread())
        return TR_EDEADLK;
    /* A timeout past time_t's range waits as TR_INFINITY does. */
    struct timespec dl;
    bool timed = timeout_ms != TR_INFINITY && tr__abstime_after(&dl, timeout_ms);
    int rc = 0;
    pthread_mutex_lock(&pool->mu);
    while (pool->pending > 0) {
        if (!timed) {
            pthread_cond_wait(&pool->cv, &pool->mu);
        } else if (pthread_cond_timedwait(&pool->cv, &pool->mu, &dl) != 0 && pool->pending > 0) {
            rc = TR_ETIMEDOUT;
            break;
        }
    }
    pthread_mutex_unlock(&pool->mu);
    return rc;
}

int tr_task_pool_stop(tr_task_pool *pool, tr_duration_ms timeout_ms) {
    if (!pool || !tr__task_valid_timeout(timeout_ms))
        return TR_EINVAL;
    if (on_actor_thread())
        return TR_EDEADLK;
    pthread_mutex_lock(&pool->mu);
    pool->closed = true;
    pthread_mutex_unlock(&pool->mu);

    int rc = tr_task_pool_drain(pool, timeout_ms);
    if (rc != 0)
        return rc;

    pthread_mutex_lock(&pool->mu);
    bool send = !pool->stop_sent && !pool->manager_exited;
    pool->stop_sent = true;
    while (!pool->manager_exited) {
        if (send) {
            pthread_mutex_unlock(&pool->mu);
            /* Any error but TR_ENOMEM: the manager is gone already (runtime
             * stopped), its terminate ran or is running. */
            send = tr_cast(pool->rt, pool->manager, TP_STOP, NULL, 0) == TR_ENOMEM;
            pthread_mutex_lock(&pool->mu);
            if (send && !pool->manager_exited) { /* out of memory: try again in 10 ms */
                struct timespec dl;
                if (tr__abstime_after(&dl, 10))
                    pthread_cond_timedwait(&pool->cv, &pool->mu, &dl);
            }
            continue;
        }
        pthread_cond_wait(&pool->cv, &pool->mu);
    }
    pthread_mutex_unlock(&pool->mu);
    return 0;
}

int tr_task_pool_free(tr_task_pool *pool) {
    if (!pool)
        return 0;
    if (on_actor_thread())
        return TR_EDEADLK;
    int rc = tr_task_pool_stop(pool, TR_INFINITY);
    pool->freed = true;
    pool_unref(pool);
    return rc;
}

size_t tr_task_pool_pending_count(const tr_task_pool *pool) {
    if (!pool)
        return 0;
    return (size_t)tr__load_acq_u64(&pool->pending);
}

unsigned tr_task_pool_workers(const tr_task_pool *pool) {
    return pool ? pool->workers : 0;
}

/* ------------------------------------------------------------------------ */
/* Public API: submitting                                                    */
/* ------------------------------------------------------------------------ */

int tr_task_submit(tr_task_pool *pool, tr_task_fn fn, const void *arg, size_t arg_size,
                   tr_future **out) {
    if (!pool || !fn || !out || (!arg && arg_size > 0) || arg_size > TR__SIZE_MAX)
        return TR_EINVAL;
    tr_future *f = tr__future_new(fn, arg, arg_size);
    if (!f)
        return TR_ENOMEM;
    f->pool = pool;
    f->rt = pool->rt;
    f->refs = 2; /* the user and the SUBMIT message */
    f->id = tr__make_ref(pool->rt);

    pthread_mutex_lock(&pool->mu);
    int rc = 0;
    if (pool->closed)
        rc = TR_ECLOSED;
    else if (pool->max_pending && pool->pending >= pool->max_pending)
        rc = TR_EFULL;
    else
        tr__store_rel_u64(&pool->pending, pool->pending + 1);
    pthread_mutex_unlock(&pool->mu);
    if (rc != 0) {
        f->refs = 1;
        tr__future_unref(f);
        return rc;
    }
    pool_ref(pool); /* the future's reference, until completion */

    rc = tr_cast_owned(pool->rt, pool->manager, TP_SUBMIT, f, sizeof *f, submit_msg_dtor);
    if (rc != 0) {
        /* Not queued: complete it so the counts stay right, then drop it. */
        f->accepted = true;
        tr__future_fail_text(f, TR_ECLOSED, "not submitted");
        f->refs = 1;
        tr__future_unref(f);
        return rc == TR_ENOPROC ? TR_ECLOSED : rc;
    }
    *out = f;
    return 0;
}

int tr_task_pool_map(tr_task_pool *pool, tr_task_fn fn, const void *inputs, size_t elem_size,
                     size_t n, tr_buf *results, int *codes, tr_duration_ms timeout_ms) {
    if (!pool || !fn || (!inputs && n > 0 && elem_size > 0) || !tr__task_valid_timeout(timeout_ms))
        return TR_EINVAL;
    /* The inputs array, the results array and the futures' table must
     * each fit in memory: counts that overflow are invalid. */
    size_t bytes;
    if (!tr__size_mul(n, elem_size, &bytes) || !tr__size_mul(n, sizeof(tr_buf), &bytes) ||
        !tr__size_mul(n, sizeof(tr_future *), &bytes))
        return TR_EINVAL;
    if (on_actor_thread())
        return TR_EDEADLK;
    if (results)
        memset(results, 0, sizeof(tr_buf) * n);
    if (n == 0)
        return 0;
    tr_future **fs = tr__calloc(sizeof(tr_future *) * n);
    if (!fs)
        return TR_ENOMEM;
    int submit_err = 0;
    size_t submitted = 0;
    for (; submitted < n; submitted++) {
        const void *arg = elem_size ? (const char *)inputs + submitted * elem_size : NULL;
        submit_err = tr_task_submit(pool, fn, arg, elem_size, &fs[submitted]);
        if (submit_err != 0)
            break;
    }
    int64_t deadline = tr__deadline_ms(timeout_ms);
    int first = 0;
    for (size_t i = 0; i < n; i++) {
        int code;
        if (i >= submitted) {
            code = submit_err;
        } else {
            /* TR_INFINITY only for TR__NEVER: a finite timeout ends. */
            tr_duration_ms left = tr__remaining_ms(deadline);
            if (left == 0)
                left = 1; /* still collect what is complete */
            code = tr_future_await(fs[i], left, results ? &results[i] : NULL);
            tr_future_free(fs[i]);
        }
        if (codes)
            codes[i] = code;
        if (code != 0 && first == 0)
            first = code;
    }
    tr__free(fs);
    return first;
}

/* ------------------------------------------------------------------------ */
/* Public API: inside a task                                                 */
/* ------------------------------------------------------------------------ */

int tr_task_set_result(tr_task *task, const void *data, size_t size) {
    if (!task || (!data && size > 0))
        return TR_EINVAL;
    if (size > UINT32_MAX)
        return TR_ETOOBIG;
    void *copy = NULL;
    if (size > 0) {
        copy = tr__malloc(size);
        if (!copy)
            return TR_ENOMEM;
        memcpy(copy, data, size);
    }
    tr__free(task->res);
    task->res = copy;
    task->res_size = size;
    return 0;
}

int tr_task_error(tr_task *task, int code, const char *text) {
    if (code == 0)
        code = TR_EREMOTE;
    if (task) {
        const char *t = text ? text : default_text(code);
        snprintf(task->text, sizeof task->text, "%s", t);
        task->has_text = true;
    }
    return code;
}

_Noreturn void tr_task_fail(tr_task *task, int code, const char *text) {
    tr_self *self = task ? task->self : NULL;
    if (task) {
        tr__free(task->res);
        task->res = NULL;
    }
    tr_fail(self, tr_reason_error(code, text ? text : "task crashed"));
}

tr_self *tr_task_self(tr_task *task) {
    return task ? task->self : NULL;
}
