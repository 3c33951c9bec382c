/* worker_pool — counting mode: lines, words and bytes of every regular
 * file under a directory, one pool job per file.
 *
 * The job's payload is the file's path. The workers' callbacks run on
 * fibers (tr_pool_opts.fiber_workers). Each file is read on the
 * runtime's blocking pool (tr_blocking, as Erlang's dirty I/O schedulers),
 * 64 KB per call: only the worker's fiber waits for the read, and the
 * scheduler threads go on running the other workers and the pool. The
 * counting is CPU work and runs on the worker's fiber, on the scheduler
 * threads. The summary shows the blocking pool's figures.
 *
 * Crashes are injected on purpose: with --crash-every K, each worker
 * incarnation calls tr_fail on the K-th job it receives (its counter lives
 * in its state, which a restart zeroes). The pool answers that job, and
 * every other job queued to the crashed worker, with TR_ECRASHED and the
 * supervisor restarts the worker; the client thread submits the job again
 * through the pool (round-robin or least-loaded picks the worker), up to
 * --tries attempts. A job is never silently lost: it ends counted, or
 * reported as failed. */
#define _GNU_SOURCE 1 /* nftw */
#include "worker_pool.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* A job may take long on a loaded machine; this only guards against a
 * hang. A timed-out job is retried like a crashed one. */
#define JOB_TIMEOUT_MS 60000

/* ---------------------------------------------------------------------- */
/* The worker                                                              */
/* ---------------------------------------------------------------------- */

typedef struct wc_worker_arg {
    unsigned crash_every;
} wc_worker_arg;

typedef struct wc_worker_state {
    unsigned crash_every;
    uint64_t jobs; /* jobs this incarnation received */
} wc_worker_state;

/* How much one blocking call reads: files up to this size (most of them)
 * take one trip to the blocking pool. Below malloc's mmap threshold, so
 * that a job's buffer comes from the heap, not from fresh pages. */
#define READ_CHUNK (64 * 1024)

/* A file being read through the blocking pool. On the heap, not on the
 * worker fiber's stack: a worker killed during a read must not leave the
 * pool thread writing into a stack that is gone. */
typedef struct wc_read {
    char path[PATH_MAX];
    int fd;   /* -1 until opened, and again once closed */
    bool eof; /* the last chunk has been read (fd closed) */
    size_t n; /* bytes in buf */
    unsigned char buf[READ_CHUNK];
} wc_read;

/* Runs on a blocking-pool thread: opens the file on the first call, then
 * fills buf with its next bytes (a short read is retried until buf is
 * full or the file ends) and closes it at its end or on an error. Returns
 * 0 or an errno value. Only the system calls run here: the counting is
 * CPU work, and runs on the worker's fiber, on a scheduler thread (as
 * Erlang keeps dirty I/O schedulers for I/O and the normal ones for
 * computation). */
static int wc_read_chunk(void *arg) {
    wc_read *r = arg;
    if (r->fd < 0) {
        r->fd = open(r->path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
        if (r->fd < 0)
            return errno;
    }
    r->n = 0;
    while (r->n < sizeof r->buf) {
        ssize_t got = read(r->fd, r->buf + r->n, sizeof r->buf - r->n);
        if (got < 0 && errno == EINTR)
            continue;
        if (got <= 0) {
            int e = got < 0 ? errno : 0;
            close(r->fd);
            r->fd = -1;
            r->eof = true;
            return e;
        }
        r->n += (size_t)got;
    }
    return 0;
}

/* The reply of a job. */
typedef struct wc_reply {
    wp_counts counts;
    uint32_t worker;
    uint32_t pad;
} wc_reply;

static int wc_init(tr_self *self, void *state, const void *arg) {
    (void)self;
    wc_worker_state *st = state;
    st->crash_every = ((const wc_worker_arg *)arg)->crash_every;
    return TR_CONTINUE;
}

static int wc_handle_call(tr_self *self, void *state, const tr_msg *msg, tr_from from) {
    wc_worker_state *st = state;
    char path[PATH_MAX];
    if (msg->size == 0 || msg->size >= sizeof path) {
        tr_reply_error(from, TR_EINVAL, "bad path");
        return TR_CONTINUE;
    }
    memcpy(path, msg->data, msg->size);
    path[msg->size] = '\0';

    /* Crash before touching any resource: tr_fail unwinds at once and
     * releases nothing the callback holds. */
    if (++st->jobs == st->crash_every) {
        char text[56];
        snprintf(text, sizeof text, "injected crash on job %llu of worker %d",
                 (unsigned long long)st->jobs, tr_pool_worker_index(self));
        tr_fail(self, tr_reason_error(1, text));
    }

    wc_reply r = {.worker = (uint32_t)tr_pool_worker_index(self)};
    wc_read *rd = malloc(sizeof *rd);
    if (!rd) {
        tr_reply_error(from, TR_ENOMEM, "out of memory");
        return TR_CONTINUE;
    }
    memcpy(rd->path, path, msg->size + 1);
    rd->fd = -1;
    rd->eof = false;
    int rc = 0, e = 0, in_word = 0;
    do {
        rc = tr_blocking(tr_self_runtime(self), wc_read_chunk, rd, &e); /* this fiber parks */
        if (rc || e)
            break;
        wp_count_bytes(&r.counts, &in_word, rd->buf, rd->n);
    } while (!rd->eof);
    r.counts.words += (uint64_t)in_word;
    if (rd->fd >= 0)
        close(rd->fd); /* the runtime is stopping: tr_blocking refused the next read */
    free(rd);
    if (rc)
        tr_reply_error(from, rc, "blocking pool");
    else if (e) /* a positive code: the caller's tr_call returns TR_EREMOTE */
        tr_reply_error(from, e, strerror(e));
    else
        tr_reply(from, 0, &r, sizeof r);
    return TR_CONTINUE;
}

static const tr_behaviour wc_worker = {
    .name = "wc_worker",
    .state_size = sizeof(wc_worker_state),
    .init = wc_init,
    .handle_call = wc_handle_call,
};

/* ---------------------------------------------------------------------- */
/* Collecting the files                                                    */
/* ---------------------------------------------------------------------- */

/* nftw passes no user pointer, hence this one file-scope collector. */
static struct {
    char **paths;
    size_t n, cap;
    size_t unreadable; /* directories or entries nftw could not read */
    int oom;
} files;

static int collect(const char *path, const struct stat *sb, int type, struct FTW *ftw) {
    (void)ftw;
    if (type == FTW_DNR || type == FTW_NS) {
        fprintf(stderr, "worker_pool: cannot read %s\n", path);
        files.unreadable++;
        return 0;
    }
    if (type != FTW_F || !S_ISREG(sb->st_mode))
        return 0; /* directories, symlinks (not followed), devices, fifos */
    if (files.n == files.cap) {
        size_t cap = files.cap ? files.cap * 2 : 1024;
        char **p = realloc(files.paths, cap * sizeof *p);
        if (!p)
            return files.oom = 1;
        files.paths = p;
        files.cap = cap;
    }
    if (!(files.paths[files.n] = strdup(path)))
        return files.oom = 1;
    files.n++;
    return 0;
}

/* ---------------------------------------------------------------------- */
/* The clients                                                             */
/* ---------------------------------------------------------------------- */

#define N_CODES 32 /* -rc of every TR_E* code fits */

typedef struct job_result {
    wp_counts counts;
    int rc;         /* 0, or the last attempt's error */
    unsigned tries; /* attempts made */
} job_result;

typedef struct count_ctx {
    tr_runtime *rt;
    tr_pid pool;
    unsigned max_tries;
    job_result *results;
    atomic_size_t next;            /* next file to submit */
    atomic_int fatal;              /* an unexpected error: stop submitting */
    atomic_ullong retries;         /* attempts that ended in a retryable error */
    atomic_ullong errors[N_CODES]; /* every failed attempt, by -code */
    atomic_ullong *per_worker;     /* successful jobs, by worker index */
    unsigned workers;
    pthread_mutex_t lock; /* example texts below */
    char crash_text[128];
    char fatal_text[160];
    atomic_ullong crash_reports; /* crash reports the runtime made (without --verbose) */
    atomic_ullong reports_dropped;
} count_ctx;

/* The log handler without --verbose: counts crash reports (on the
 * runtime's logger thread), prints nothing. */
static void count_reports(const tr_log_event *ev, void *user) {
    count_ctx *x = user;
    if (ev->kind == TR_LOG_CRASH)
        atomic_fetch_add(&x->crash_reports, 1);
    else if (ev->kind == TR_LOG_DROPPED)
        atomic_fetch_add(&x->reports_dropped, ev->dropped);
}

static bool retryable(count_ctx *x, int rc) {
    switch (rc) {
    case TR_ECRASHED:  /* the worker crashed with the job queued or running */
    case TR_EEXITED:   /* the worker stopped before replying */
    case TR_ETIMEDOUT: /* no reply within JOB_TIMEOUT_MS */
    case TR_EFULL:     /* a bounded mailbox was full */
        return true;
    case TR_ENOPROC: /* a worker vanished under the pool; the pool itself must live */
        return tr_is_alive(x->rt, x->pool);
    default:
        return false;
    }
}

static void run_job(count_ctx *x, size_t i) {
    const char *path = files.paths[i];
    job_result *res = &x->results[i];
    int rc = TR_EINVAL;
    while (res->tries < x->max_tries) {
        res->tries++;
        tr_buf reply = {0};
        rc = tr_call(x->rt, x->pool, 0, path, strlen(path), &reply, JOB_TIMEOUT_MS);
        if (rc == 0 && reply.size != sizeof(wc_reply))
            rc = TR_EINVAL; /* cannot happen with wc_worker */
        if (rc == 0) {
            wc_reply r;
            memcpy(&r, reply.data, sizeof r);
            res->counts = r.counts;
            if (r.worker < x->workers)
                atomic_fetch_add(&x->per_worker[r.worker], 1);
            tr_buf_free(&reply);
            break;
        }
        if (-rc > 0 && -rc < N_CODES)
            atomic_fetch_add(&x->errors[-rc], 1);
        bool again = retryable(x, rc);
        pthread_mutex_lock(&x->lock);
        if (rc == TR_ECRASHED && !x->crash_text[0] && reply.data)
            snprintf(x->crash_text, sizeof x->crash_text, "%s", (const char *)reply.data);
        if (!again && rc != TR_EREMOTE && !x->fatal_text[0])
            snprintf(x->fatal_text, sizeof x->fatal_text, "%s: %s (%s)", path, tr_err_name(rc),
                     reply.data ? (const char *)reply.data : tr_strerror(rc));
        pthread_mutex_unlock(&x->lock);
        if (rc == TR_EREMOTE) /* the worker could not read the file */
            fprintf(stderr, "worker_pool: %s: %s\n", path,
                    reply.data ? (const char *)reply.data : "read error");
        tr_buf_free(&reply);
        if (!again) {
            if (rc != TR_EREMOTE)
                atomic_store(&x->fatal, 1);
            break;
        }
        if (res->tries < x->max_tries)
            atomic_fetch_add(&x->retries, 1);
    }
    res->rc = rc;
}

static void *client(void *p) {
    count_ctx *x = p;
    while (!atomic_load(&x->fatal)) {
        size_t i = atomic_fetch_add(&x->next, 1);
        if (i >= files.n)
            break;
        run_job(x, i);
    }
    return NULL;
}

/* ---------------------------------------------------------------------- */
/* The run                                                                 */
/* ---------------------------------------------------------------------- */

static double now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static const char *ordinal_suffix(unsigned n) {
    if (n % 100 >= 11 && n % 100 <= 13)
        return "th";
    return n % 10 == 1 ? "st" : n % 10 == 2 ? "nd" : n % 10 == 3 ? "rd" : "th";
}

static void add_counts(wp_counts *sum, const wp_counts *c) {
    sum->lines += c->lines;
    sum->words += c->words;
    sum->bytes += c->bytes;
}

int wp_run_count(const wp_count_opts *o) {
    if (nftw(o->dir, collect, 32, FTW_PHYS) != 0 || files.oom) {
        fprintf(stderr, "worker_pool: cannot walk %s: %s\n", o->dir,
                files.oom ? "out of memory" : strerror(errno));
        return 1;
    }
    if (files.n == 0) {
        fprintf(stderr, "worker_pool: no regular files under %s\n", o->dir);
        return 1;
    }
    printf("worker_pool: %zu files under %s; %u workers (%s), %u client threads, ", files.n, o->dir,
           o->workers, o->strategy == TR_POOL_ROUND_ROBIN ? "round_robin" : "least_loaded",
           o->clients);
    if (o->crash_every)
        printf("every worker incarnation crashes on its %u%s job\n", o->crash_every,
               ordinal_suffix(o->crash_every));
    else
        printf("no injected crashes\n");
    fflush(stdout);

    count_ctx *x = calloc(1, sizeof *x);
    job_result *results = calloc(files.n, sizeof *results);
    atomic_ullong *per_worker = calloc(o->workers, sizeof *per_worker);
    pthread_t *th = calloc(o->clients, sizeof *th);
    tr_pool_worker_stats *rows = calloc(o->workers, sizeof *rows);
    if (!x || !results || !per_worker || !th || !rows) {
        fprintf(stderr, "worker_pool: out of memory\n");
        return 1;
    }
    x->results = results;
    x->per_worker = per_worker;
    x->workers = o->workers;
    x->max_tries = o->max_tries;
    pthread_mutex_init(&x->lock, NULL);

    /* The runtime's reports (troupe/log.h): --verbose prints them with the
     * default handler (notice and above: crashes, restarts); otherwise a
     * handler counts the crash reports, and the summary says how many. */
    tr_runtime_opts ro = {0};
    if (o->verbose)
        ro.log_level = TR_LOG_NOTICE;
    else
        ro = (tr_runtime_opts){.log_fn = count_reports, .log_user = x, .log_level = TR_LOG_ERROR};
    wp_die_on(tr_runtime_start(&ro, &x->rt), "tr_runtime_start");
    wc_worker_arg warg = {.crash_every = o->crash_every};
    tr_pool_opts po = {
        .worker = &wc_worker,
        .worker_arg = &warg,
        .worker_arg_size = sizeof warg, /* the pool keeps a copy */
        .size = o->workers,
        .strategy = o->strategy,
        .worker_shutdown_ms = 5000,
        .fiber_workers = true, /* callbacks may park in tr_blocking */
    };
    if (o->crash_every) {
        /* The crashes are on purpose: size the restart intensity so that
         * they never escalate. Each crash consumes crash_every attempts,
         * and there are at most files * max_tries attempts. */
        unsigned long long most = (unsigned long long)files.n * o->max_tries / o->crash_every + 1;
        po.intensity = most > INT_MAX ? INT_MAX : (int)most;
        po.period_ms = 1000;
    }
    wp_die_on(tr_pool_start(x->rt, &po, &x->pool), "tr_pool_start");

    double t0 = now_ms();
    unsigned started = 0;
    for (; started < o->clients; started++)
        if (pthread_create(&th[started], NULL, client, x) != 0)
            break;
    if (started == 0) {
        fprintf(stderr, "worker_pool: pthread_create failed\n");
        return 1;
    }
    for (unsigned i = 0; i < started; i++)
        pthread_join(th[i], NULL);
    double pool_ms = now_ms() - t0;

    /* Every job has its reply, but a worker's "done" reaches the pool's
     * statistics just after its reply reaches the client: read them once
     * no job is queued or running any more (a plain thread may sleep). */
    tr_pool_stats st;
    size_t nrows = 0;
    for (int round = 0;; round++) {
        wp_die_on(tr_pool_get_stats(x->rt, x->pool, &st, rows, o->workers, &nrows),
                  "tr_pool_get_stats");
        uint64_t queued = 0;
        for (size_t i = 0; i < nrows && i < o->workers; i++)
            queued += rows[i].queued;
        if (queued == 0 || round == 500)
            break;
        nanosleep(&(struct timespec){.tv_nsec = 10 * 1000 * 1000}, NULL);
    }
    tr_blocking_stats bs = {0};
    tr_blocking_get_stats(x->rt, &bs);
    wp_die_on(tr_pool_stop(x->rt, x->pool, 30000), "tr_pool_stop");
    wp_die_on(tr_runtime_free(&x->rt), "tr_runtime_free");

    /* Totals of the pool pass. */
    wp_counts total = {0};
    size_t counted = 0, failed = 0, unreadable = 0, not_run = 0;
    for (size_t i = 0; i < files.n; i++) {
        if (results[i].tries == 0) {
            not_run++; /* only after a fatal error */
        } else if (results[i].rc == 0) {
            counted++;
            add_counts(&total, &results[i].counts);
        } else if (results[i].rc == TR_EREMOTE) {
            unreadable++;
        } else {
            failed++;
        }
    }

    /* The single-threaded pass over the same files. */
    static unsigned char buf[64 * 1024];
    wp_counts seq = {0};
    size_t seq_errors = 0;
    double t1 = now_ms();
    for (size_t i = 0; i < files.n; i++) {
        wp_counts c;
        if (wp_count_file(files.paths[i], buf, sizeof buf, &c) != 0)
            seq_errors++;
        add_counts(&seq, &c);
    }
    double seq_ms = now_ms() - t1;

    printf("files        %zu (%zu counted)\n", files.n, counted);
    printf("lines        %llu\n", (unsigned long long)total.lines);
    printf("words        %llu\n", (unsigned long long)total.words);
    printf("bytes        %llu\n", (unsigned long long)total.bytes);
    printf("jobs per worker (pool statistics: jobs done, jobs failed by a crash, restarts):\n");
    for (size_t i = 0; i < nrows && i < o->workers; i++)
        printf("  worker %-3u %8llu done %5llu crashed %4u restarts   (%llu counted files)\n",
               rows[i].index, (unsigned long long)rows[i].jobs_done,
               (unsigned long long)rows[i].jobs_failed, rows[i].restarts,
               rows[i].index < o->workers
                   ? (unsigned long long)atomic_load(&per_worker[rows[i].index])
                   : 0ULL);
    printf("restarts     %llu\n", (unsigned long long)st.restarts);
    unsigned long long failed_attempts = 0;
    for (int c = 1; c < N_CODES; c++)
        if (-c != TR_EREMOTE)
            failed_attempts += atomic_load(&x->errors[c]);
    printf("retries      %llu (after %llu failed attempts",
           (unsigned long long)atomic_load(&x->retries), failed_attempts);
    const char *sep = ": ";
    for (int c = 1; c < N_CODES; c++) {
        unsigned long long k = atomic_load(&x->errors[c]);
        if (k && -c != TR_EREMOTE) {
            printf("%s%s %llu", sep, tr_err_name(-c), k);
            sep = ", ";
        }
    }
    printf(")\n");
    if (x->crash_text[0])
        printf("             e.g. \"%s\"\n", x->crash_text);
    if (!o->verbose) {
        printf("crash reports %llu (--verbose prints them)",
               (unsigned long long)atomic_load(&x->crash_reports));
        if (atomic_load(&x->reports_dropped))
            printf(", %llu more dropped by the logger",
                   (unsigned long long)atomic_load(&x->reports_dropped));
        printf("\n");
    }
    printf("failed jobs  %zu\n", failed + not_run);
    if (unreadable)
        printf("unreadable   %zu\n", unreadable);
    printf("wall time    %.1f ms (pool of %u, %u clients)\n", pool_ms, o->workers, o->clients);
    if (bs.jobs_run)
        printf("file reads   %llu of up to 64 KB on the blocking pool (up to %llu threads at "
               "once): the scheduler threads never waited for a read, and did the counting\n",
               (unsigned long long)bs.jobs_run, (unsigned long long)bs.threads_peak);
    printf("single-threaded pass: lines %llu, words %llu, bytes %llu in %.1f ms\n",
           (unsigned long long)seq.lines, (unsigned long long)seq.words,
           (unsigned long long)seq.bytes, seq_ms);

    int status = 0;
    if (x->fatal_text[0]) {
        fprintf(stderr, "worker_pool: error: %s\n", x->fatal_text);
        status = 1;
    }
    if (total.lines != seq.lines || total.words != seq.words || total.bytes != seq.bytes) {
        printf("totals DIFFER from the single-threaded pass\n");
        status = 1;
    } else {
        printf("totals match the single-threaded pass\n");
    }
    if (failed || not_run || unreadable || seq_errors || files.unreadable) {
        fprintf(stderr,
                "worker_pool: %zu failed jobs, %zu not run, %zu unreadable files, "
                "%zu unreadable entries\n",
                failed, not_run, unreadable + seq_errors, files.unreadable);
        status = 1;
    }

    for (size_t i = 0; i < files.n; i++)
        free(files.paths[i]);
    free(files.paths);
    pthread_mutex_destroy(&x->lock);
    free(rows);
    free(th);
    free(per_worker);
    free(results);
    free(x);
    return status;
}
