/* worker_pool — the main demo of troupe (see README.md, docs/pool.md).
 *
 *   worker_pool                      the classic GenServer pool transcript
 *   worker_pool --dir PATH [...]     count lines, words and bytes of every
 *                                    regular file under PATH with a
 *                                    supervised pool, then check the totals
 *                                    against a single-threaded pass
 *
 * Files: main.c (arguments, classic transcript), count.c (the file
 * counting mode), wc.c (the counting routine both passes share). */
#ifndef WORKER_POOL_H
#define WORKER_POOL_H

#include <stddef.h>
#include <stdint.h>

#include <troupe/troupe.h>

/* Counts of one file or of many, as `LC_ALL=C wc -l -w -c`. */
typedef struct wp_counts {
    uint64_t lines, words, bytes;
} wp_counts;

/* wp_count_bytes: adds the n bytes at buf to *c; *in_word carries
 * whether the bytes so far end inside a word (0 at the start of a file; add
 * it to c->words at the end). Pure computation: no system call. */
void wp_count_bytes(wp_counts *c, int *in_word, const unsigned char *buf, size_t n);

/* wp_count_file: counts path into *out. buf (bufsize bytes) is scratch
 * space for read(2). Returns 0 or an errno value (out is then zeroed).
 * Blocking: reads the whole file. Thread-safety: any thread, own buf. */
int wp_count_file(const char *path, unsigned char *buf, size_t bufsize, wp_counts *out);

/* Options of the counting mode. */
typedef struct wp_count_opts {
    const char *dir;  /* tree to count (default /usr/share/doc) */
    unsigned workers; /* pool size (default 4) */
    tr_pool_strategy strategy;
    unsigned crash_every; /* a worker crashes on its K-th job; 0 = never */
    unsigned clients;     /* submitting fibers or threads (default 2 * workers) */
    bool client_threads;  /* the clients are plain threads, not fibers */
    bool blocking_reads;  /* every open and read on the blocking pool */
    unsigned max_tries;   /* attempts per job (default 5) */
    bool verbose;         /* print the runtime's crash and supervisor reports */
} wp_count_opts;

/* wp_run_count: the counting mode. Returns the process exit status:
 * 0 when the pool's totals equal the single-threaded pass and no job
 * failed, 1 otherwise or on any error. */
int wp_run_count(const wp_count_opts *opts);

/* wp_die_on: prints "worker_pool: WHAT: TR_E... (text)" and exits 1 when
 * rc is an error; returns otherwise. */
void wp_die_on(int rc, const char *what);

#endif
