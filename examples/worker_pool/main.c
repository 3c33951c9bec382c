/* worker_pool — the main demo of troupe (`make demo` runs it twice).
 *
 * Without arguments it plays the classic GenServer worker-pool transcript:
 * a pool of 4 round-robin workers gets five jobs one after another, four
 * jobs from four threads at once, is scaled down to 2 workers, gets three
 * more jobs, and stops. Each worker answers `Processed "<job>" by worker N`.
 *
 * With --dir (or any other option of that mode) it counts the lines, words
 * and bytes of every regular file under a directory with a supervised pool
 * whose workers can be told to crash (see count.c). */
#include "worker_pool.h"

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void wp_die_on(int rc, const char *what) {
    if (rc >= 0)
        return;
    fprintf(stderr, "worker_pool: %s: %s (%s)\n", what, tr_err_name(rc), tr_strerror(rc));
    exit(1);
}

/* ---------------------------------------------------------------------- */
/* The classic transcript                                                  */
/* ---------------------------------------------------------------------- */

/* The worker: a gen_server whose only call is "process this job". */
static int echo_handle_call(tr_self *self, void *state, const tr_msg *msg, tr_from from) {
    (void)state;
    char text[160];
    int len = snprintf(text, sizeof text, "Processed \"%.*s\" by worker %d", (int)msg->size,
                       (const char *)msg->data, tr_pool_worker_index(self));
    if (len < 0 || (size_t)len >= sizeof text)
        tr_reply_error(from, TR_ETOOBIG, "job name too long");
    else
        tr_reply(from, 0, text, (size_t)len);
    return TR_CONTINUE;
}

static const tr_behaviour echo_worker = {
    .name = "echo_worker",
    .handle_call = echo_handle_call,
};

/* Submits one job to the pool and prints its result. */
static int submit(tr_runtime *rt, tr_pid pool, const char *job, char *out, size_t outsize) {
    tr_buf reply = {0};
    int rc = tr_call(rt, pool, 0, job, strlen(job), &reply, TR_DEFAULT_TIMEOUT);
    if (rc == 0)
        snprintf(out, outsize, "Result: %.*s", (int)reply.size, (const char *)reply.data);
    else if (rc == TR_EREMOTE) /* the worker's own error: its code and text in the reply */
        snprintf(out, outsize, "Error: %s: worker error %d: %s", job, reply.code,
                 reply.data ? (const char *)reply.data : "");
    else
        snprintf(out, outsize, "Error: %s: %s%s%s", job, tr_err_name(rc), reply.data ? ": " : "",
                 reply.data ? (const char *)reply.data : "");
    tr_buf_free(&reply);
    return rc;
}

static int submit_print(tr_runtime *rt, tr_pid pool, const char *job) {
    char line[256];
    int rc = submit(rt, pool, job, line, sizeof line);
    puts(line);
    return rc;
}

typedef struct parallel_job {
    tr_runtime *rt;
    tr_pid pool;
    char job[32];
    char line[256];
    int rc;
} parallel_job;

static void *parallel_client(void *p) {
    parallel_job *j = p;
    j->rc = submit(j->rt, j->pool, j->job, j->line, sizeof j->line);
    return NULL;
}

static int run_classic(void) {
    tr_runtime *rt;
    wp_die_on(tr_runtime_start(NULL, &rt), "tr_runtime_start");

    tr_pool_opts opts = {.worker = &echo_worker, .size = 4, .strategy = TR_POOL_ROUND_ROBIN};
    tr_pid pool;
    wp_die_on(tr_pool_start(rt, &opts, &pool), "tr_pool_start");
    printf("Pool started: %u workers, round-robin\n", opts.size);
    int failures = 0;

    /* One after another: workers 0, 1, 2, 3, 0. */
    for (int i = 1; i <= 5; i++) {
        char job[32];
        snprintf(job, sizeof job, "task-%d", i);
        failures += submit_print(rt, pool, job) != 0;
    }

    /* Four plain threads call at once; results are printed in job order. */
    printf("Submitting parallel-1..parallel-4 from 4 threads\n");
    parallel_job pj[4];
    pthread_t th[4];
    for (int i = 0; i < 4; i++) {
        pj[i] = (parallel_job){.rt = rt, .pool = pool};
        snprintf(pj[i].job, sizeof pj[i].job, "parallel-%d", i + 1);
        if (pthread_create(&th[i], NULL, parallel_client, &pj[i]) != 0) {
            fprintf(stderr, "worker_pool: pthread_create failed\n");
            return 1;
        }
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
        puts(pj[i].line);
        failures += pj[i].rc != 0;
    }

    /* Scale down: workers 2 and 3 finish what they have and stop;
     * round-robin starts again at worker 0. */
    wp_die_on(tr_pool_resize(rt, pool, 2), "tr_pool_resize");
    printf("Pool resized to 2 workers\n");
    for (int i = 1; i <= 3; i++) {
        char job[32];
        snprintf(job, sizeof job, "small-pool-%d", i);
        failures += submit_print(rt, pool, job) != 0;
    }

    wp_die_on(tr_pool_stop(rt, pool, TR_DEFAULT_TIMEOUT), "tr_pool_stop");
    printf("Pool stopped\n");
    wp_die_on(tr_runtime_free(&rt), "tr_runtime_free");
    return failures ? 1 : 0;
}

/* ---------------------------------------------------------------------- */
/* Arguments                                                               */
/* ---------------------------------------------------------------------- */

static void usage(FILE *to) {
    fprintf(to,
            "usage: worker_pool                 the classic pool transcript\n"
            "       worker_pool [--dir PATH] [--workers N] [--strategy round_robin|least_loaded]\n"
            "                   [--crash-every K] [--clients N] [--client-threads] [--tries N]\n"
            "                   [--blocking-reads] [--verbose]\n"
            "  count lines, words and bytes of every regular file under PATH\n"
            "  (default /usr/share/doc) with a supervised pool of N workers (default 8,\n"
            "  least_loaded);\n"
            "  a worker crashes on every K-th job it gets (default 0: never), the pool\n"
            "  restarts it and the job is submitted again, up to --tries times (default 5);\n"
            "  --clients fibers submit jobs at once (default 2 x workers); with\n"
            "  --client-threads they are plain threads instead.\n"
            "  The workers read files in the page cache on their own fibers and the\n"
            "  rest on the runtime's blocking pool; --blocking-reads sends every open\n"
            "  and read to the blocking pool.\n"
            "  --verbose prints the runtime's crash reports and supervisor reports\n"
            "  (stderr, one line each); without it they are only counted.\n"
            "  Exit status: 0 when the totals match a single-threaded pass, 1 when they\n"
            "  do not or on any error, 2 for bad arguments.\n");
}

static void bad_usage(const char *fmt, const char *what) {
    fprintf(stderr, "worker_pool: ");
    fprintf(stderr, fmt, what);
    fprintf(stderr, "\n");
    usage(stderr);
    exit(2);
}

/* Parses a decimal unsigned in [lo, hi] or exits with status 2. */
static unsigned parse_uint(const char *opt, const char *s, unsigned lo, unsigned hi) {
    char *end;
    errno = 0;
    if (*s < '0' || *s > '9')
        bad_usage("bad number for %s", opt);
    unsigned long v = strtoul(s, &end, 10);
    if (errno || *end || v < lo || v > hi)
        bad_usage("bad number for %s", opt);
    return (unsigned)v;
}

int main(int argc, char **argv) {
    if (argc == 1)
        return run_classic();

    /* 8 workers: a file that is not in the page cache is read on the
     * blocking pool while its worker waits, so more workers than cores keep
     * the scheduler threads counting meanwhile (a cold run had up to 8
     * reads in flight at once). With a warm cache they cost nothing: idle
     * workers are parked fibers. least_loaded: a job never waits behind a
     * big file (8 MB take one worker ~20 ms) while other workers are free;
     * with round-robin, every client whose turn comes to that worker
     * waits there, until no client is left to feed the other thread. */
    wp_count_opts o = {
        .dir = "/usr/share/doc", .workers = 8, .strategy = TR_POOL_LEAST_LOADED, .max_tries = 5};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            usage(stdout);
            return 0;
        }
        if (!strcmp(a, "--verbose")) {
            o.verbose = true;
            continue;
        }
        if (!strcmp(a, "--client-threads")) {
            o.client_threads = true;
            continue;
        }
        if (!strcmp(a, "--blocking-reads")) {
            o.blocking_reads = true;
            continue;
        }
        /* Every other option takes a value: "--opt VALUE" or "--opt=VALUE". */
        const char *eq = strchr(a, '=');
        size_t nlen = eq ? (size_t)(eq - a) : strlen(a);
        const char *val = eq ? eq + 1 : (i + 1 < argc ? argv[i + 1] : NULL);
        char name[32];
        if (strncmp(a, "--", 2) != 0 || nlen >= sizeof name)
            bad_usage("unknown argument %s", a);
        memcpy(name, a, nlen);
        name[nlen] = '\0';
        if (strcmp(name, "--dir") && strcmp(name, "--workers") && strcmp(name, "--strategy") &&
            strcmp(name, "--crash-every") && strcmp(name, "--clients") && strcmp(name, "--tries"))
            bad_usage("unknown option %s", name);
        if (!val)
            bad_usage("%s needs a value", name);
        if (!eq)
            i++;
        if (!strcmp(name, "--dir")) {
            if (!*val)
                bad_usage("%s needs a value", name);
            o.dir = val;
        } else if (!strcmp(name, "--workers")) {
            o.workers = parse_uint(name, val, 1, TR_POOL_MAX_WORKERS);
        } else if (!strcmp(name, "--strategy")) {
            if (!strcmp(val, "round_robin"))
                o.strategy = TR_POOL_ROUND_ROBIN;
            else if (!strcmp(val, "least_loaded"))
                o.strategy = TR_POOL_LEAST_LOADED;
            else
                bad_usage("unknown strategy %s", val);
        } else if (!strcmp(name, "--crash-every")) {
            o.crash_every = parse_uint(name, val, 0, UINT_MAX);
        } else if (!strcmp(name, "--clients")) {
            o.clients = parse_uint(name, val, 1, 1024);
        } else {
            o.max_tries = parse_uint(name, val, 1, 100);
        }
    }
    if (!o.clients)
        o.clients = o.workers * 2 > 1024 ? 1024 : o.workers * 2;
    return wp_run_count(&o);
}
