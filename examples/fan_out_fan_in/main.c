/* fan_out_fan_in — three worker actors take jobs from a shared buffered
 * queue, "work" 200 ms on each (a timer, never sleep()), and send their
 * results to one collector, which prints them as they arrive.
 *
 *   main ──push 1..10──▶ [queue: 10 slots] ◀──take── worker 1..3
 *                                                      │ 200 ms timer
 *                                                      ▼
 *                                                  collector ──▶ stdout
 *
 * The queue is an actor with a bounded buffer, like a buffered channel: a
 * take on an empty queue is a call whose reply waits until a job arrives
 * (the queue keeps the caller's `from` and answers later); a push on a full
 * queue blocks the pusher the same way; closing the queue answers every
 * waiting and later take with TR_ECLOSED, which stops the workers.
 *
 * Usage: fan_out_fan_in            (10 jobs, 3 workers, 200 ms each)
 * Expected: 10 "Job #n: n^2 = ..." lines in completion order, then
 * "All jobs done." and the wall time, about 4 x 200 ms rather than 10 x.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <troupe/troupe.h>

#define NUM_JOBS 10
#define NUM_WORKERS 3
#define QUEUE_SLOTS 10
#define WORK_MS 200

enum {
    Q_PUSH = 1, /* call: int job; reply empty once the job is buffered */
    Q_TAKE,     /* call: no payload; reply int job, or error TR_ECLOSED */
    Q_CLOSE,    /* cast: no more jobs */
    W_START,    /* info: start taking jobs */
    W_WORKED,   /* timer: the simulated work of one job is over */
    C_RESULT    /* info: a result for the collector */
};

/* ------------------------------------------------------------------------ */
/* The job queue: a buffered channel of QUEUE_SLOTS ints                     */
/* ------------------------------------------------------------------------ */

typedef struct queue_state {
    int buf[QUEUE_SLOTS];
    unsigned head, count;
    bool closed;
    tr_from takers[NUM_WORKERS * 2]; /* takes waiting for a job */
    unsigned n_takers;
    tr_from pushers[4]; /* pushes waiting for a free slot */
    int pushed[4];
    unsigned n_pushers;
} queue_state;

static void queue_put(queue_state *q, int job) {
    q->buf[(q->head + q->count) % QUEUE_SLOTS] = job;
    q->count++;
}

static int queue_get(queue_state *q) {
    int job = q->buf[q->head];
    q->head = (q->head + 1) % QUEUE_SLOTS;
    q->count--;
    return job;
}

static int queue_call(tr_self *self, void *state, const tr_msg *msg, tr_from from) {
    queue_state *q = state;
    if (msg->tag == Q_PUSH && msg->size == sizeof(int)) {
        int job;
        memcpy(&job, msg->data, sizeof job);
        if (q->closed) {
            tr_reply_error(from, TR_ECLOSED, "queue closed");
        } else if (q->n_takers > 0) { /* a worker is waiting: hand it over */
            tr_from taker = q->takers[0];
            memmove(q->takers, q->takers + 1, --q->n_takers * sizeof(tr_from));
            tr_reply(taker, 0, &job, sizeof job);
            tr_reply(from, 0, NULL, 0);
        } else if (q->count < QUEUE_SLOTS) {
            queue_put(q, job);
            tr_reply(from, 0, NULL, 0);
        } else if (q->n_pushers < 4) { /* full: the pusher waits */
            q->pushers[q->n_pushers] = from;
            q->pushed[q->n_pushers++] = job;
        } else {
            tr_reply_error(from, TR_EFULL, "queue full");
        }
    } else if (msg->tag == Q_TAKE) {
        if (q->count > 0) {
            int job = queue_get(q);
            tr_reply(from, 0, &job, sizeof job);
            if (q->n_pushers > 0) { /* a slot freed: let a pusher in */
                queue_put(q, q->pushed[0]);
                tr_reply(q->pushers[0], 0, NULL, 0);
                q->n_pushers--;
                memmove(q->pushers, q->pushers + 1, q->n_pushers * sizeof(tr_from));
                memmove(q->pushed, q->pushed + 1, q->n_pushers * sizeof(int));
            }
        } else if (q->closed) {
            tr_reply_error(from, TR_ECLOSED, "queue closed");
        } else if (q->n_takers < NUM_WORKERS * 2) {
            q->takers[q->n_takers++] = from;
        } else {
            tr_reply_error(from, TR_EFULL, "too many waiting takers");
        }
    } else {
        tr_reply_error(from, TR_EINVAL, "unknown request");
    }
    return TR_CONTINUE;
}

static int queue_cast(tr_self *self, void *state, const tr_msg *msg) {
    queue_state *q = state;
    if (msg->tag == Q_CLOSE) {
        q->closed = true;
        if (q->count == 0) { /* nothing left: release every waiting taker */
            for (unsigned i = 0; i < q->n_takers; i++)
                tr_reply_error(q->takers[i], TR_ECLOSED, "queue closed");
            q->n_takers = 0;
        }
    }
    return TR_CONTINUE;
}

static const tr_behaviour queue_behaviour = {
    .name = "job_queue",
    .state_size = sizeof(queue_state),
    .handle_call = queue_call,
    .handle_cast = queue_cast,
};

/* ------------------------------------------------------------------------ */
/* Workers                                                                   */
/* ------------------------------------------------------------------------ */

typedef struct worker_arg {
    int id;
    tr_pid queue, collector;
} worker_arg;

typedef struct result_msg {
    int job, square, worker;
} result_msg;

static int worker_init(tr_self *self, void *state, const void *arg) {
    memcpy(state, arg, sizeof(worker_arg));
    return TR_CONTINUE;
}

static int worker_take(tr_self *self, worker_arg *w) {
    int rc = tr_request(self, w->queue, Q_TAKE, NULL, 0, TR_INFINITY, NULL);
    if (rc != 0) /* the queue is gone: nothing more to do */
        return tr_stop(self, tr_reason_normal());
    return TR_CONTINUE;
}

static int worker_info(tr_self *self, void *state, const tr_msg *msg) {
    worker_arg *w = state;
    switch (msg->kind) {
    case TR_MSG_INFO:
        if (msg->tag == W_START)
            return worker_take(self, w);
        break;
    case TR_MSG_REPLY:
        if (msg->status != 0) /* TR_ECLOSED: no more jobs */
            return tr_stop(self, tr_reason_normal());
        /* Simulate 200 ms of work without blocking the scheduler thread:
         * the job comes back to us as a timer message. */
        tr_send_after(tr_self_runtime(self), tr_self_pid(self), WORK_MS, W_WORKED, msg->data,
                      msg->size, NULL);
        break;
    case TR_MSG_TIMER:
        if (msg->tag == W_WORKED && msg->size == sizeof(int)) {
            result_msg r;
            memcpy(&r.job, msg->data, sizeof r.job);
            r.square = r.job * r.job;
            r.worker = w->id;
            tr_send(tr_self_runtime(self), w->collector, C_RESULT, &r, sizeof r);
            return worker_take(self, w);
        }
        break;
    default:
        break;
    }
    return TR_CONTINUE;
}

static const tr_behaviour worker_behaviour = {
    .name = "worker",
    .state_size = sizeof(worker_arg),
    .init = worker_init,
    .handle_info = worker_info,
};

/* ------------------------------------------------------------------------ */
/* Collector                                                                 */
/* ------------------------------------------------------------------------ */

typedef struct collector_state {
    int expected, received;
} collector_state;

static int collector_init(tr_self *self, void *state, const void *arg) {
    ((collector_state *)state)->expected = *(const int *)arg;
    return TR_CONTINUE;
}

static int collector_info(tr_self *self, void *state, const tr_msg *msg) {
    collector_state *c = state;
    if (msg->kind != TR_MSG_INFO || msg->tag != C_RESULT || msg->size != sizeof(result_msg))
        return TR_CONTINUE;
    result_msg r;
    memcpy(&r, msg->data, sizeof r);
    printf("Job #%d: %d^2 = %d  (worker %d)\n", r.job, r.job, r.square, r.worker);
    if (++c->received == c->expected) {
        printf("All jobs done.\n");
        return tr_stop(self, tr_reason_normal());
    }
    return TR_CONTINUE;
}

static const tr_behaviour collector_behaviour = {
    .name = "collector",
    .state_size = sizeof(collector_state),
    .init = collector_init,
    .handle_info = collector_info,
};

/* ------------------------------------------------------------------------ */

static int die(const char *what, int rc) {
    fprintf(stderr, "fan_out_fan_in: %s: %s (%s)\n", what, tr_strerror(rc), tr_err_name(rc));
    return 1;
}

int main(void) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    tr_runtime *rt;
    int rc = tr_runtime_start(NULL, &rt);
    if (rc != 0)
        return die("runtime start", rc);

    int jobs = NUM_JOBS;
    tr_pid collector, queue, workers[NUM_WORKERS];
    if ((rc = tr_spawn(rt, &collector_behaviour, &jobs, NULL, &collector)) != 0 ||
        (rc = tr_spawn(rt, &queue_behaviour, NULL, NULL, &queue)) != 0) {
        tr_runtime_free(&rt);
        return die("spawn", rc);
    }
    for (int i = 0; i < NUM_WORKERS; i++) {
        worker_arg wa = {.id = i + 1, .queue = queue, .collector = collector};
        if ((rc = tr_spawn(rt, &worker_behaviour, &wa, NULL, &workers[i])) != 0) {
            tr_runtime_free(&rt);
            return die("spawn worker", rc);
        }
    }
    printf("%d jobs, %d workers, %d ms of work each, queue of %d slots\n", NUM_JOBS, NUM_WORKERS,
           WORK_MS, QUEUE_SLOTS);

    int64_t t0 = tr_now_ms();
    for (int i = 0; i < NUM_WORKERS; i++)
        tr_send(rt, workers[i], W_START, NULL, 0);
    for (int job = 1; job <= NUM_JOBS; job++) {
        /* Blocks while the queue is full (back-pressure), as a send on a
         * buffered channel would. */
        if ((rc = tr_call(rt, queue, Q_PUSH, &job, sizeof job, NULL, TR_DEFAULT_TIMEOUT)) != 0) {
            tr_runtime_free(&rt);
            return die("push job", rc);
        }
    }
    tr_cast(rt, queue, Q_CLOSE, NULL, 0);

    tr_reason why;
    rc = tr_await_exit(rt, collector, 30000, &why);
    int64_t elapsed = tr_now_ms() - t0;
    if (rc != 0) {
        tr_runtime_free(&rt);
        return die("waiting for the collector", rc);
    }
    printf("Total time: %lld ms (%d jobs x %d ms on %d workers; one worker would take %d ms)\n",
           (long long)elapsed, NUM_JOBS, WORK_MS, NUM_WORKERS, NUM_JOBS * WORK_MS);
    tr_runtime_free(&rt);
    return 0;
}
