/* troupe — the contract between the pool actor (supervisor/pool.c) and its
 * workers (supervisor/pool_worker.c) (private).
 *
 * Workers run a wrapper behaviour (tr__pool_shared.wb) that holds the
 * user's state after a small header and calls the user's callbacks. Its
 * init casts a tr__pool_reg to the pool (TR__POOL_TAG_REGISTER); jobs come
 * as forwarded calls, or as casts from the pool carrying a
 * tr__pool_job_hdr; each finished job is counted in the worker's slot
 * counter (tr__pool_ctr), written by the worker and read by the pool.
 *
 * The tr__pool_shared block holds what both sides read: the wrapper
 * behaviour, the user's behaviour and arg copy, and the list of counters.
 * It is counted by references: one for the pool, one for the workers'
 * supervisor (whose child specs point to it: it restarts workers from
 * them), one per worker incarnation whose user init succeeded. Each is
 * dropped in the holder's cleanup callback, which runs on every exit, kill
 * included.
 */
#ifndef TROUPE_SUPERVISOR_POOL_WORKER_H
#define TROUPE_SUPERVISOR_POOL_WORKER_H

#include <stdbool.h>
#include <stdint.h>

#include <troupe/pool.h>

/* Messages between the pool and its workers, in the pool's reserved range
 * 0xFFFF0200-0xFFFF02FF above the public TR_POOL_* requests (the table of
 * reserved tags is in troupe/actor.h, above tr_send). */
#define TR__POOL_TAG_REGISTER 0xFFFF0281u /* worker -> pool, cast: tr__pool_reg */
#define TR__POOL_TAG_JOB_CALL 0xFFFF0282u /* pool -> worker, cast: job_hdr + request */
#define TR__POOL_TAG_JOB_CAST 0xFFFF0283u /* pool -> worker, cast: job_hdr + payload */
#define TR__POOL_TAG_DRAIN 0xFFFF0284u    /* pool -> worker, cast: finish the queue, stop */

/* One cache line per slot: workers on different threads would otherwise
 * write the same line for every job. */
typedef struct tr__pool_ctr {
    _Alignas(64) uint64_t done; /* jobs finished by this slot's workers (atomic; only the
                                   slot's one live worker writes it) */
    struct tr__pool_ctr *prev, *next;
} tr__pool_ctr;

typedef struct tr__pool_shared {
    uint32_t refs; /* atomic */
    tr_behaviour wb;
    const tr_behaviour *user;
    const void *user_arg;
    void *user_arg_copy;
    tr__pool_ctr *ctrs; /* every counter not yet freed (list changed by the pool only) */
} tr__pool_shared;

/* The worker's init argument (the supervisor keeps a copy for restarts). */
typedef struct tr__pool_worker_arg {
    tr__pool_shared *sh;
    tr__pool_ctr *ctr;
    tr_pid pool;
    unsigned index;
    uint64_t serial;
} tr__pool_worker_arg;

/* TR__POOL_TAG_REGISTER's payload: this incarnation of slot `serial`. */
typedef struct tr__pool_reg {
    uint64_t serial;
    tr_pid pid;
} tr__pool_reg;

/* The head of a job the pool sends as a cast (TR__POOL_TAG_JOB_CALL or
 * _JOB_CAST); the request's bytes follow it. */
typedef struct tr__pool_job_hdr {
    tr_from from;  /* calls: the caller */
    tr_pid sender; /* the original sender */
    uint32_t tag;
    uint32_t pad;
} tr__pool_job_hdr;

/* tr__pool_shared_new: the shared block of a pool whose workers run user,
 * whose init gets arg (copied when arg_size > 0), with the wrapper
 * behaviour filled in and one reference (the caller's). NULL when out of
 * memory. */
tr__pool_shared *tr__pool_shared_new(const tr_behaviour *user, const void *arg, size_t arg_size);

/* tr__pool_shared_retain / tr__pool_shared_release: take or drop one
 * reference on sh (a tr__pool_shared); the last release frees it with its
 * counters. They fit tr__sup_owner's retain and release. Any thread. */
void tr__pool_shared_retain(void *sh);
void tr__pool_shared_release(void *sh);

/* tr__pool_worker_state_fits: true when a worker's state (the wrapper's
 * header plus user_state_size bytes) stays within what an allocation can
 * hold. */
bool tr__pool_worker_state_fits(size_t user_state_size);

#endif
