/* worker_pool — counting mode: lines, words and bytes of every regular
 * file under a directory, one pool job per file.
 *
 * The job's payload is the file's path. The workers' callbacks run on
 * fibers (tr_pool_opts.fiber_workers), and so do the clients that submit
 * the jobs (tr_call from a fiber parks only that fiber). A worker opens
 * and reads its file (64 KB per read, as the single-threaded pass) on its
 * own fiber when that cannot block: openat2 with RESOLVE_CACHED when the
 * path is in the dentry cache, preadv2 with RWF_NOWAIT when the data is in
 * the page cache. A step that could block (EAGAIN: the disk would be
 * read) runs on the runtime's blocking pool instead (tr_blocking, as
 * Erlang's dirty I/O schedulers): only the worker's fiber waits, and the
 * scheduler threads go on running the other workers. The counting is CPU
 * work and runs on the worker's fiber, on the scheduler threads. So with a
 * warm page cache a job costs no hand-over between OS threads: client,
 * pool and worker are all processes on the two scheduler threads. The
 * summary shows how many opens and reads went where, and the blocking
 * pool's own figures; --blocking-reads sends every open and read to the
 * blocking pool, --client-threads makes the clients plain threads.
 *
 * Crashes are injected on purpose: with --crash-every K, each worker
 * incarnation calls tr_fail on the K-th job it receives (its counter lives
 * in its state, which a restart zeroes). The pool answers that job, and
 * every other job queued to the crashed worker, with TR_ECRASHED and the
 * supervisor restarts the worker; the client waits 1 ms and submits the
 * job again through the pool (round-robin or least-loaded picks the
 * worker), up to --tries attempts. A job is never silently lost: it ends
 * counted, or reported as failed. */
#define _GNU_SOURCE 1 /* nftw, preadv2, syscall */
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
#if defined(__has_include)
#if __has_include(<linux/openat2.h>)
#include <linux/openat2.h>
#endif
#endif
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

/* A job may take long on a loaded machine; this only guards against a
 * hang. A timed-out job is retried like a crashed one. */
#define JOB_TIMEOUT_MS 60000

/* ---------------------------------------------------------------------- */
/* The worker                                                              */
/* ---------------------------------------------------------------------- */

/* How the workers' reads went, summed over all of them (the summary
 * prints it). */
typedef struct wc_io_stats {
    atomic_ullong opens_fiber;    /* open served from the dentry cache, on the fiber */
    atomic_ullong opens_blocking; /* open on the blocking pool */
    atomic_ullong reads_fiber;    /* reads served from the page cache, on the fiber */
    atomic_ullong reads_blocking; /* reads on the blocking pool */
} wc_io_stats;

typedef struct wc_worker_arg {
    unsigned crash_every;
    bool blocking_reads; /* every open and read on the blocking pool */
    wc_io_stats *io;     /* shared by all workers; outlives the pool */
} wc_worker_arg;

typedef struct wc_worker_state {
    unsigned crash_every;
    bool blocking_reads;
    uint64_t jobs; /* jobs this incarnation received */
    wc_io_stats *io;
} wc_worker_state;

/* How much one read takes: 64 KB, as the single-threaded pass. Below
 * malloc's mmap threshold, so that a job's buffer comes from the heap
 * (the same chunk job after job), not from fresh pages. */
#define READ_CHUNK (64 * 1024)

/* A file being read. On the heap, not on the worker fiber's stack: a
 * worker killed while a blocking-pool thread reads for it must not leave
 * that thread writing into a stack that is gone. */
typedef struct wc_read {
    char path[PATH_MAX];
    int fd;    /* -1 until opened, and again once closed */
    bool eof;  /* the last chunk has been read */
    size_t n;  /* bytes in buf */
    off_t off; /* file offset of the next read */
    unsigned char buf[READ_CHUNK];
} wc_read;

/* Runs on a blocking-pool thread: opens the file when it is not open yet
 * (then an open and the first read cost one trip to the blocking pool, not
 * two), then fills buf with its next bytes (a short read is retried until
 * buf is full or the file ends). Returns 0 or an errno value. Only the
 * system calls run here: the counting is CPU work and runs on the worker's
 * fiber, on a scheduler thread (as Erlang keeps dirty I/O schedulers for
 * I/O and the normal ones for computation). */
static int wc_read_blocking(void *arg) {
    wc_read *r = arg;
    if (r->fd < 0) {
        r->fd = open(r->path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
        if (r->fd < 0)
            return errno;
    }
    r->n = 0;
    while (r->n < sizeof r->buf) {
        ssize_t got = pread(r->fd, r->buf + r->n, sizeof r->buf - r->n, r->off);
        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0)
            return errno;
        if (got == 0) {
            r->eof = true;
            break;
        }
        r->n += (size_t)got;
        r->off += got;
    }
    return 0;
}

/* Opens the file on the fiber when that cannot block: openat2 with
 * RESOLVE_CACHED (Linux 5.12) completes only when every component of the
 * path is in the dentry cache, and fails with EAGAIN instead of reading a
 * directory from the disk; opening a regular file read-only does no I/O
 * of its own. Returns 0 (r->fd set), EAGAIN (it would block: use the
 * blocking pool), or another errno value. */
static int wc_open_nowait(wc_read *r) {
#if defined(SYS_openat2) && defined(RESOLVE_CACHED)
    struct open_how how = {.flags = O_RDONLY | O_NOFOLLOW | O_CLOEXEC, .resolve = RESOLVE_CACHED};
    long fd = syscall(SYS_openat2, AT_FDCWD, r->path, &how, sizeof how);
    if (fd >= 0) {
        r->fd = (int)fd;
        return 0;
    }
    /* A kernel without openat2 or RESOLVE_CACHED: as if it would block. */
    return errno == ENOSYS || errno == EINVAL || errno == E2BIG ? EAGAIN : errno;
#else
    (void)r; /* headers without openat2: every open goes to the blocking pool */
    return EAGAIN;
#endif
}

/* Reads the file's next bytes on the fiber when they are in the page
 * cache: preadv2 with RWF_NOWAIT (Linux 4.14) returns what is cached and
 * fails with EAGAIN instead of waiting for the disk. Returns 0 (r->n bytes
 * in buf; r->eof at the end), EAGAIN (not cached, or the file system does
 * not support it: use the blocking pool), or another errno value. */
static int wc_read_nowait(wc_read *r) {
    struct iovec iov = {.iov_base = r->buf, .iov_len = sizeof r->buf};
    for (;;) {
        ssize_t got = preadv2(r->fd, &iov, 1, r->off, RWF_NOWAIT);
        if (got >= 0) {
            r->n = (size_t)got;
            r->off += got;
            r->eof = got == 0;
            return 0;
        }
        if (errno != EINTR)
            return errno == EOPNOTSUPP || errno == ENOSYS ? EAGAIN : errno;
    }
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
    const wc_worker_arg *a = arg;
    st->crash_every = a->crash_every;
    st->blocking_reads = a->blocking_reads;
    st->io = a->io;
    return TR_CONTINUE;
}

/* Counts the file rd->path into *c: each step (open, then each 64 KB
 * read) runs on the fiber when it cannot block, and on the blocking pool
 * (tr_blocking: this fiber parks, its scheduler thread runs other work)
 * when it could; an open that could block goes with the first read. Returns 0, an errno value
 * (positive) or a TR_E* code from tr_blocking. */
static int wc_count(tr_self *self, wc_worker_state *st, wc_read *rd, wp_counts *c) {
    tr_runtime *rt = tr_self_runtime(self);
    /* EAGAIN: rd->fd stays -1 and the first blocking read opens it. */
    int e = st->blocking_reads ? EAGAIN : wc_open_nowait(rd), in_word = 0;
    if (e == 0)
        atomic_fetch_add_explicit(&st->io->opens_fiber, 1, memory_order_relaxed);
    else if (e != EAGAIN)
        return e;
    uint64_t on_fiber = 0, on_pool = 0;
    while (!rd->eof) {
        e = st->blocking_reads || rd->fd < 0 ? EAGAIN : wc_read_nowait(rd);
        if (e == 0) {
            on_fiber++;
        } else if (e == EAGAIN) {
            bool opening = rd->fd < 0;
            int rc = tr_blocking(rt, wc_read_blocking, rd, &e); /* this fiber parks */
            if (rc) {
                e = rc;
                break;
            }
            if (opening && rd->fd >= 0)
                atomic_fetch_add_explicit(&st->io->opens_blocking, 1, memory_order_relaxed);
            on_pool++;
        }
        if (e)
            break;
        wp_count_bytes(c, &in_word, rd->buf, rd->n);
    }
    c->words += (uint64_t)in_word;
    atomic_fetch_add_explicit(&st->io->reads_fiber, on_fiber, memory_order_relaxed);
    atomic_fetch_add_explicit(&st->io->reads_blocking, on_pool, memory_order_relaxed);
    return e;
}

static int wc_handle_call(tr_self *self, void *state, const tr_msg *msg, tr_from from) {
    wc_worker_state *st = state;
    if (msg->size == 0 || msg->size >= PATH_MAX) {
        tr_reply_error(from, TR_EINVAL, "bad path");
        return TR_CONTINUE;
    }

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
    memcpy(rd->path, msg->data, msg->size);
    rd->path[msg->size] = '\0';
    rd->fd = -1;
    rd->eof = false;
    rd->off = 0;
    int e = wc_count(self, st, rd, &r.counts);
    if (rd->fd >= 0)
        close(rd->fd);
    free(rd);
    if (e < 0) /* tr_blocking refused: the runtime is stopping */
        tr_reply_error(from, e, "blocking pool");
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

/* A regular file to count. */
typedef struct wp_file {
    char *path;
    off_t size; /* when it was found */
} wp_file;

/* nftw passes no user pointer, hence this one file-scope collector. */
static struct {
    wp_file *list;
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
        wp_file *p = realloc(files.list, cap * sizeof *p);
        if (!p)
            return files.oom = 1;
        files.list = p;
        files.cap = cap;
    }
    if (!(files.list[files.n].path = strdup(path)))
        return files.oom = 1;
    files.list[files.n++].size = sb->st_size;
    return 0;
}

/* Largest first, then by path (a stable order from run to run). */
static int larger_first(const void *a, const void *b) {
    const wp_file *x = a, *y = b;
    if (x->size != y->size)
        return x->size < y->size ? 1 : -1;
    return strcmp(x->path, y->path);
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

/* Submits file i until it is counted, or its last attempt failed. self:
 * the client fiber, NULL for a client thread. */
static void run_job(count_ctx *x, tr_self *self, size_t i) {
    const char *path = files.list[i].path;
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
        if (res->tries < x->max_tries) {
            atomic_fetch_add(&x->retries, 1);
            /* Back off for a millisecond before the next attempt. A worker
             * crashes on its K-th job as soon as it receives it, so a job
             * submitted again at once would be the very next job the pool
             * hands out: with round-robin, the next worker's K-th too when
             * all the workers go through their jobs at the same pace, and
             * so on down the line. Meanwhile the other clients keep the
             * workers busy. */
            if (self)
                tr_sleep(self, 1); /* only this fiber parks */
            else
                nanosleep(&(struct timespec){.tv_nsec = 1000 * 1000}, NULL);
        }
    }
    res->rc = rc;
}

/* Takes the next file until none is left. */
static void client_loop(count_ctx *x, tr_self *self) {
    while (!atomic_load(&x->fatal)) {
        size_t i = atomic_fetch_add(&x->next, 1);
        if (i >= files.n)
            break;
        run_job(x, self, i);
    }
}

/* A client fiber (the default): its tr_call parks the fiber, and the
 * reply makes it runnable on a scheduler thread; no OS thread sleeps or
 * is woken per job. */
static int client_fiber(tr_self *self, void *p) {
    client_loop(p, self);
    return 0;
}

/* A client thread (--client-threads): each tr_call blocks the thread. */
static void *client_thread(void *p) {
    client_loop(p, NULL);
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

/* CPU time of the whole process (all threads), user and system. */
static double cpu_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
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
    /* The clients take the files largest first, as a scheduler packs the
     * longest jobs first: a big file found last would otherwise keep one
     * scheduler thread counting at the end while the other has nothing
     * left to do. The single-threaded pass goes in the same order. */
    qsort(files.list, files.n, sizeof *files.list, larger_first);
    printf("worker_pool: %zu files under %s; %u workers (%s), %u client %s, ", files.n, o->dir,
           o->workers, o->strategy == TR_POOL_ROUND_ROBIN ? "round_robin" : "least_loaded",
           o->clients, o->client_threads ? "threads" : "fibers");
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
    tr_pid *fibers = calloc(o->clients, sizeof *fibers);
    tr_pool_worker_stats *rows = calloc(o->workers, sizeof *rows);
    if (!x || !results || !per_worker || !th || !fibers || !rows) {
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
    wc_io_stats io = {0};
    wc_worker_arg warg = {
        .crash_every = o->crash_every, .blocking_reads = o->blocking_reads, .io = &io};
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

    tr_metrics m0, m1;
    wp_die_on(tr_metrics_get(x->rt, &m0), "tr_metrics_get");
    double cpu0 = cpu_ms();
    double t0 = now_ms();
    unsigned started = 0;
    if (o->client_threads) {
        for (; started < o->clients; started++)
            if (pthread_create(&th[started], NULL, client_thread, x) != 0)
                break;
        for (unsigned i = 0; i < started; i++)
            pthread_join(th[i], NULL);
    } else {
        for (; started < o->clients; started++)
            if (tr_spawn_fiber(x->rt, client_fiber, x, NULL, &fibers[started]) != 0)
                break;
        for (unsigned i = 0; i < started; i++)
            wp_die_on(tr_await_exit(x->rt, fibers[i], TR_INFINITY, NULL), "tr_await_exit");
    }
    if (started == 0) {
        fprintf(stderr, "worker_pool: cannot start the clients\n");
        return 1;
    }
    double pool_ms = now_ms() - t0;
    double pool_cpu_ms = cpu_ms() - cpu0;
    wp_die_on(tr_metrics_get(x->rt, &m1), "tr_metrics_get");

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
    double cpu1 = cpu_ms();
    double t1 = now_ms();
    for (size_t i = 0; i < files.n; i++) {
        wp_counts c;
        if (wp_count_file(files.list[i].path, buf, sizeof buf, &c) != 0)
            seq_errors++;
        add_counts(&seq, &c);
    }
    double seq_ms = now_ms() - t1;
    double seq_cpu_ms = cpu_ms() - cpu1;

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
    printf("wall time    %.1f ms (pool of %u, %u clients), %.1f ms of CPU\n", pool_ms, o->workers,
           o->clients, pool_cpu_ms);
    /* Where the scheduler threads spent the pool pass (troupe/introspect.h). */
    printf("schedulers  ");
    for (unsigned i = 0; i < m1.n_sched && i < m0.n_sched; i++) {
        uint64_t busy = m1.sched[i].busy_ns - m0.sched[i].busy_ns;
        uint64_t parked = m1.sched[i].parked_ns - m0.sched[i].parked_ns;
        printf("%s thread %u: %.0f %% busy, %llu steals", i ? ";" : "", i,
               busy + parked ? 100.0 * (double)busy / (double)(busy + parked) : 0.0,
               (unsigned long long)(m1.sched[i].steals - m0.sched[i].steals));
    }
    printf("\n");
    const char *why = o->blocking_reads ? "--blocking-reads" : "not cached";
    printf("file reads   %llu of up to 64 KB on the worker fibers (from the page cache), %llu on "
           "the blocking pool (%s)\n",
           (unsigned long long)atomic_load(&io.reads_fiber),
           (unsigned long long)atomic_load(&io.reads_blocking), why);
    printf("file opens   %llu on the worker fibers (path in the dentry cache), %llu on the "
           "blocking pool (%s)\n",
           (unsigned long long)atomic_load(&io.opens_fiber),
           (unsigned long long)atomic_load(&io.opens_blocking), why);
    printf("blocking pool %llu jobs run, up to %llu threads at once: no scheduler thread waited "
           "for a read that could block\n",
           (unsigned long long)bs.jobs_run, (unsigned long long)bs.threads_peak);
    printf("single-threaded pass: lines %llu, words %llu, bytes %llu in %.1f ms (%.1f ms of CPU)\n",
           (unsigned long long)seq.lines, (unsigned long long)seq.words,
           (unsigned long long)seq.bytes, seq_ms, seq_cpu_ms);
    printf("speed-up     %.2fx (single-threaded wall time / pool wall time)\n",
           pool_ms > 0 ? seq_ms / pool_ms : 0.0);

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
        free(files.list[i].path);
    free(files.list);
    pthread_mutex_destroy(&x->lock);
    free(rows);
    free(th);
    free(fibers);
    free(per_worker);
    free(results);
    free(x);
    return status;
}
