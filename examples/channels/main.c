/* channels — the channel programs of the go-llmspell Lua examples, with
 * troupe's fibers, channels and select (as Go's goroutines, chan, select).
 *
 * Six sections, each printing what it does:
 *
 *   producer-consumer  one fiber sends 1..5 on an unbuffered channel and
 *                      closes it; another receives until it is closed
 *   fan-out-fan-in     3 worker fibers read one jobs channel, and write
 *                      their squares to one results channel (fan-in)
 *   pipeline           generate -> square -> print, three stages joined by
 *                      two channels; each stage closes its output when done
 *   select-timeout     select on two channels with a timeout
 *   select-default     select with a default: a non-blocking poll
 *                      (TR_EAGAIN when nothing is ready)
 *   shutdown           workers select on a jobs channel and a done channel;
 *                      closing done wakes every one of them at once
 *
 * Usage: channels [SECTION...]     (no argument: every section, in order)
 *
 * Who blocks where: every blocking step runs in a fiber (tr_spawn_fiber:
 * it parks, its scheduler thread runs other fibers meanwhile) or in main,
 * a plain thread, which may block on a channel too. Each fiber holds its
 * own reference to the channels it uses (tr_chan_ref) and releases it
 * when it is done; main waits for the fibers with tr_await_exit.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <troupe/troupe.h>

static tr_runtime *rt;

/* Ends the program on an unexpected error: the example keeps its error
 * handling short, a real program would recover. */
static void check(int rc, const char *what) {
    if (rc != 0) {
        fprintf(stderr, "channels: %s: %s (%s)\n", what, tr_strerror(rc), tr_err_name(rc));
        exit(1);
    }
}

static tr_chan *new_chan(size_t elem_size, size_t capacity) {
    tr_chan *ch;
    check(tr_chan_new(elem_size, capacity, &ch), "tr_chan_new");
    return ch;
}

static tr_pid spawn(tr_fiber_fn fn, void *arg) {
    tr_pid pid;
    check(tr_spawn_fiber(rt, fn, arg, NULL, &pid), "tr_spawn_fiber");
    return pid;
}

/* Waits until the fiber has returned (its body returned 0: reason normal). */
static void join(tr_pid pid) {
    tr_reason why;
    check(tr_await_exit(rt, pid, 10000, &why), "tr_await_exit");
}

/* ------------------------------------------------------------------------ */
/* 1. Producer / consumer                                                     */
/* ------------------------------------------------------------------------ */

static int producer(tr_self *self, void *arg) {
    tr_chan *ch = arg;
    for (int i = 1; i <= 5; i++) {
        /* Unbuffered: each send waits until the consumer takes the value. */
        check(tr_chan_send(ch, &i, TR_INFINITY), "producer send");
    }
    printf("producer: sent 1..5, closing the channel\n");
    tr_chan_close(ch); /* no more values: the consumer's loop ends */
    tr_chan_release(ch);
    return 0;
}

static int consumer(tr_self *self, void *arg) {
    tr_chan *ch = arg;
    int v, n = 0;
    while (tr_chan_recv(ch, &v, TR_INFINITY) == 0) { /* for v := range ch */
        printf("consumer: received %d\n", v);
        n++;
    }
    /* TR_ECLOSED: closed and drained */
    printf("consumer: channel closed after %d values\n", n);
    tr_chan_release(ch);
    return 0;
}

static void producer_consumer(void) {
    printf("== producer-consumer: an unbuffered channel between two fibers\n");
    tr_chan *ch = new_chan(sizeof(int), 0);
    tr_pid p = spawn(producer, tr_chan_ref(ch));
    tr_pid c = spawn(consumer, tr_chan_ref(ch));
    tr_chan_release(ch); /* the fibers hold their own references */
    join(p);
    join(c);
}

/* ------------------------------------------------------------------------ */
/* 2. Fan-out to 3 workers, fan-in of their results                           */
/* ------------------------------------------------------------------------ */

#define FAN_JOBS 9
#define FAN_WORKERS 3

typedef struct fan_result {
    int job, square, worker;
} fan_result;

typedef struct fan_worker {
    int id;
    tr_chan *jobs, *results;
} fan_worker;

static int fan_worker_main(tr_self *self, void *arg) {
    fan_worker *w = arg;
    int job;
    while (tr_chan_recv(w->jobs, &job, TR_INFINITY) == 0) {
        tr_sleep(self, 10); /* a little work, so that the three share the jobs */
        fan_result r = {job, job * job, w->id};
        check(tr_chan_send(w->results, &r, TR_INFINITY), "worker send");
    }
    tr_chan_release(w->jobs);
    tr_chan_release(w->results);
    return 0;
}

static int cmp_result(const void *a, const void *b) {
    return ((const fan_result *)a)->job - ((const fan_result *)b)->job;
}

static void fan_out_fan_in(void) {
    printf("== fan-out-fan-in: %d jobs to %d workers, results fanned back in\n", FAN_JOBS,
           FAN_WORKERS);
    tr_chan *jobs = new_chan(sizeof(int), FAN_JOBS);
    tr_chan *results = new_chan(sizeof(fan_result), FAN_JOBS);
    fan_worker w[FAN_WORKERS];
    tr_pid pids[FAN_WORKERS];
    for (int i = 0; i < FAN_WORKERS; i++) {
        w[i] = (fan_worker){i + 1, tr_chan_ref(jobs), tr_chan_ref(results)};
        pids[i] = spawn(fan_worker_main, &w[i]);
    }
    for (int job = 1; job <= FAN_JOBS; job++) /* fan out */
        check(tr_chan_send(jobs, &job, TR_INFINITY), "send job");
    tr_chan_close(jobs); /* the workers' loops end once the jobs are taken */

    fan_result got[FAN_JOBS];
    int per_worker[FAN_WORKERS + 1] = {0};
    for (int i = 0; i < FAN_JOBS; i++) { /* fan in: exactly one result per job */
        check(tr_chan_recv(results, &got[i], TR_INFINITY), "receive result");
        per_worker[got[i].worker]++;
    }
    for (int i = 0; i < FAN_WORKERS; i++)
        join(pids[i]);
    tr_chan_release(jobs);
    tr_chan_release(results);

    /* They arrive in completion order; sort them to print a stable list. */
    qsort(got, FAN_JOBS, sizeof got[0], cmp_result);
    printf("fan-in: %d results:", FAN_JOBS);
    for (int i = 0; i < FAN_JOBS; i++)
        printf(" %d^2=%d", got[i].job, got[i].square);
    printf("\nfan-in: jobs per worker:");
    for (int i = 1; i <= FAN_WORKERS; i++)
        printf(" worker %d: %d", i, per_worker[i]);
    printf("\n");
}

/* ------------------------------------------------------------------------ */
/* 3. Pipeline: generate -> square -> print                                   */
/* ------------------------------------------------------------------------ */

typedef struct stage {
    tr_chan *in, *out;
} stage;

static int generate(tr_self *self, void *arg) {
    stage *s = arg;
    for (int i = 1; i <= 5; i++)
        check(tr_chan_send(s->out, &i, TR_INFINITY), "generate send");
    tr_chan_close(s->out);
    tr_chan_release(s->out);
    return 0;
}

static int square(tr_self *self, void *arg) {
    stage *s = arg;
    int v;
    while (tr_chan_recv(s->in, &v, TR_INFINITY) == 0) {
        int sq = v * v;
        check(tr_chan_send(s->out, &sq, TR_INFINITY), "square send");
    }
    tr_chan_close(s->out); /* the input is closed: so is the output */
    tr_chan_release(s->in);
    tr_chan_release(s->out);
    return 0;
}

static void pipeline(void) {
    printf("== pipeline: generate -> square -> print\n");
    tr_chan *numbers = new_chan(sizeof(int), 0), *squares = new_chan(sizeof(int), 0);
    stage gen = {NULL, tr_chan_ref(numbers)}, sq = {tr_chan_ref(numbers), tr_chan_ref(squares)};
    tr_pid g = spawn(generate, &gen), s = spawn(square, &sq);
    /* The print stage is main itself (a plain thread may block too). */
    int v;
    printf("pipeline:");
    while (tr_chan_recv(squares, &v, TR_INFINITY) == 0)
        printf(" %d", v);
    printf("\npipeline: done (squares closed)\n");
    join(g);
    join(s);
    tr_chan_release(numbers);
    tr_chan_release(squares);
}

/* ------------------------------------------------------------------------ */
/* 4. Select with a timeout                                                   */
/* ------------------------------------------------------------------------ */

typedef struct delayed {
    tr_chan *ch;
    tr_duration_ms after;
    int value;
} delayed;

/* Sends value on ch after a delay. */
static int send_later(tr_self *self, void *arg) {
    delayed *d = arg;
    tr_sleep(self, d->after);
    check(tr_chan_send(d->ch, &d->value, TR_INFINITY), "send_later");
    tr_chan_release(d->ch);
    return 0;
}

static void select_timeout(void) {
    printf("== select-timeout: wait on two channels, at most 1000 ms, then at most 100 ms\n");
    tr_chan *fast = new_chan(sizeof(int), 0), *slow = new_chan(sizeof(int), 0);
    delayed df = {tr_chan_ref(fast), 50, 1}, ds = {tr_chan_ref(slow), 500, 2};
    tr_pid f = spawn(send_later, &df);

    int v = 0;
    tr_select_case cs[] = {
        {.chan = fast, .dir = TR_CHAN_RECV, .elem = &v},
        {.chan = slow, .dir = TR_CHAN_RECV, .elem = &v},
    };
    int i = tr_select(cs, 2, 1000); /* fast answers after 50 ms */
    if (i == 0)
        printf("select: case 0 (fast) received %d\n", v);
    else
        printf("select: unexpected %d\n", i);
    tr_pid s = spawn(send_later, &ds);
    i = tr_select(cs, 2, 100); /* slow answers only after 500 ms */
    if (i == TR_ETIMEDOUT)
        printf("select: nothing within 100 ms: TR_ETIMEDOUT\n");
    else
        printf("select: unexpected %d\n", i);

    /* Take the slow value after all, so its sender can finish. */
    check(tr_chan_recv(slow, &v, TR_INFINITY), "receive slow");
    printf("select: slow arrived later with %d\n", v);
    join(f);
    join(s);
    tr_chan_release(fast);
    tr_chan_release(slow);
}

/* ------------------------------------------------------------------------ */
/* 5. Select with a default: a non-blocking poll                              */
/* ------------------------------------------------------------------------ */

static void select_default(void) {
    printf("== select-default: poll a channel of capacity 3 without waiting\n");
    tr_chan *msgs = new_chan(sizeof(int), 3);
    int v;
    tr_select_case recv_case = {.chan = msgs, .dir = TR_CHAN_RECV, .elem = &v};
    if (tr_select(&recv_case, 1, 0) == TR_EAGAIN) /* select { case v := <-msgs: default: } */
        printf("poll: no message ready (default case)\n");

    /* Non-blocking sends: the fourth finds the buffer full. */
    for (int i = 1; i <= 4; i++) {
        tr_select_case send_case = {.chan = msgs, .dir = TR_CHAN_SEND, .elem = &i};
        if (tr_select(&send_case, 1, 0) == 0)
            printf("poll: sent %d (len %zu of cap %zu)\n", i, tr_chan_len(msgs), tr_chan_cap(msgs));
        else
            printf("poll: buffer full, %d dropped (default case)\n", i);
    }
    /* Drain without waiting until the default case says empty. */
    while (tr_select(&recv_case, 1, 0) == 0)
        printf("poll: received %d\n", v);
    printf("poll: empty again (default case)\n");
    tr_chan_release(msgs);
}

/* ------------------------------------------------------------------------ */
/* 6. Graceful shutdown through a done channel                                */
/* ------------------------------------------------------------------------ */

#define SHUT_WORKERS 3
#define SHUT_JOBS 6

typedef struct shut_worker {
    int id;
    tr_chan *jobs, *done, *reports;
} shut_worker;

typedef struct shut_report {
    int worker, jobs_done;
} shut_report;

static int shut_worker_main(tr_self *self, void *arg) {
    shut_worker *w = arg;
    int job, n = 0;
    char stop;
    for (;;) {
        tr_select_case cs[] = {
            {.chan = w->jobs, .dir = TR_CHAN_RECV, .elem = &job},
            {.chan = w->done, .dir = TR_CHAN_RECV, .elem = &stop},
        };
        int i = tr_select(cs, 2, TR_INFINITY);
        if (i == 1) /* done was closed: result TR_ECLOSED */
            break;
        check(i < 0 ? i : cs[0].result, "worker select");
        n++;
    }
    shut_report r = {w->id, n};
    check(tr_chan_send(w->reports, &r, TR_INFINITY), "report");
    tr_chan_release(w->jobs);
    tr_chan_release(w->done);
    tr_chan_release(w->reports);
    return 0;
}

static void shutdown_demo(void) {
    printf("== shutdown: %d workers wait on jobs and done; closing done stops them all\n",
           SHUT_WORKERS);
    tr_chan *jobs = new_chan(sizeof(int), 0), *done = new_chan(1, 0),
            *reports = new_chan(sizeof(shut_report), SHUT_WORKERS);
    shut_worker w[SHUT_WORKERS];
    tr_pid pids[SHUT_WORKERS];
    for (int i = 0; i < SHUT_WORKERS; i++) {
        w[i] = (shut_worker){i + 1, tr_chan_ref(jobs), tr_chan_ref(done), tr_chan_ref(reports)};
        pids[i] = spawn(shut_worker_main, &w[i]);
    }
    for (int job = 1; job <= SHUT_JOBS; job++) /* unbuffered: each send meets a worker */
        check(tr_chan_send(jobs, &job, TR_INFINITY), "send job");
    printf("shutdown: %d jobs handed out, closing done\n", SHUT_JOBS);
    tr_chan_close(done); /* wakes every worker blocked in its select */

    shut_report by_id[SHUT_WORKERS + 1];
    int total = 0;
    for (int i = 0; i < SHUT_WORKERS; i++) {
        shut_report r;
        check(tr_chan_recv(reports, &r, TR_INFINITY), "receive report");
        by_id[r.worker] = r;
        total += r.jobs_done;
    }
    for (int i = 1; i <= SHUT_WORKERS; i++)
        printf("shutdown: worker %d stopped after %d jobs\n", i, by_id[i].jobs_done);
    for (int i = 0; i < SHUT_WORKERS; i++)
        join(pids[i]);
    printf("shutdown: all %d workers stopped, %d jobs done in total\n", SHUT_WORKERS, total);
    tr_chan_release(jobs);
    tr_chan_release(done);
    tr_chan_release(reports);
}

/* ------------------------------------------------------------------------ */

static const struct section {
    const char *name;
    void (*run)(void);
} sections[] = {
    {"producer-consumer", producer_consumer},
    {"fan-out-fan-in", fan_out_fan_in},
    {"pipeline", pipeline},
    {"select-timeout", select_timeout},
    {"select-default", select_default},
    {"shutdown", shutdown_demo},
};
#define N_SECTIONS (sizeof sections / sizeof sections[0])

static void usage(FILE *to) {
    fprintf(to, "usage: channels [--help] [section...]\n"
                "  runs the named sections in order (all of them without arguments):\n ");
    for (size_t k = 0; k < N_SECTIONS; k++)
        fprintf(to, " %s", sections[k].name);
    fprintf(to, "\n");
}

int main(int argc, char **argv) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    for (int a = 1; a < argc; a++) { /* check the names before starting anything */
        if (strcmp(argv[a], "--help") == 0) {
            usage(stdout);
            return 0;
        }
        size_t k = 0;
        while (k < N_SECTIONS && strcmp(argv[a], sections[k].name) != 0)
            k++;
        if (k == N_SECTIONS) {
            fprintf(stderr, "channels: unknown section \"%s\"\n", argv[a]);
            usage(stderr);
            return 2;
        }
    }
    check(tr_runtime_start(NULL, &rt), "tr_runtime_start");
    for (size_t k = 0; k < N_SECTIONS; k++) {
        bool wanted = argc == 1;
        for (int a = 1; a < argc; a++)
            wanted |= strcmp(argv[a], sections[k].name) == 0;
        if (wanted)
            sections[k].run();
    }
    tr_runtime_free(&rt);
    printf("channels: done\n");
    return 0;
}
