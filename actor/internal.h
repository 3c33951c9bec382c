/* troupe — the actor core's interface for the folders above it
 * (registry/, supervisor/, task/): the only private header of actor/ they
 * include. Private: not installed, not part of the public API. Everything
 * else they use is public (the troupe/ headers) or from base/.
 */
#ifndef TROUPE_ACTOR_INTERNAL_H
#define TROUPE_ACTOR_INTERNAL_H

#include <ck_epoch.h>

#include <troupe/actor.h>
#include <troupe/fiber.h>

/* ---- services --------------------------------------------------------- */

/* A subsystem outside actor/ that keeps state per runtime (the registry,
 * the blocking pool). actor/services.c lists them; tr_runtime_start calls every
 * init in that order (a failure undoes the ones before and fails the
 * start), tr_runtime_free every fini in reverse, after every actor has
 * exited and every thread is joined. */
typedef struct tr__service {
    const char *name;
    /* Makes the service's state for rt (*state); 0 or TR_ENOMEM. */
    int (*init)(tr_runtime *rt, void **state);
    /* Frees it. */
    void (*fini)(tr_runtime *rt, void *state);
    /* pid, which the service marked with tr__actor_mark_service, is exiting:
     * called on the exiting actor's thread, before its links and monitors
     * learn of the exit (names go first, as in OTP). May be NULL. */
    void (*on_exit)(tr_runtime *rt, void *state, tr_pid pid);
    /* For a service with descriptors in rt's poller (tr__runtime_poll);
     * each may be NULL.
     * on_io: the descriptor registered with key got events (TR__POLL_*).
     * Called on the thread that took them (actor/sched.c): a scheduler
     * thread, outside any turn, or the timer thread; on several threads
     * at once, for different events.
     * io_tick: on the timer thread, before each of its waits: does what is
     * due and returns the next deadline it needs (microseconds of
     * tr__now_us; INT64_MAX: none).
     * on_stop: tr_runtime_stop, after every actor has exited and before the
     * timer thread stops: closes what is left (any thread). */
    void (*on_io)(tr_runtime *rt, void *state, uint64_t key, uint32_t events);
    int64_t (*io_tick)(tr_runtime *rt, void *state);
    void (*on_stop)(tr_runtime *rt, void *state);
    /* The names pid holds: writes up to max of them, each NUL-terminated
     * in `size` bytes, at buf, buf + size, ...; returns how many it holds
     * (may exceed max). For reports and introspection. May be NULL. */
    size_t (*names_of)(tr_runtime *rt, void *state, tr_pid pid, char *buf, size_t size, size_t max);
    /* The registry only (NULL elsewhere): names held for a keeper. claim
     * binds name to pid as tr_register does, with keeper (TR_PID_NONE: an
     * ordinary name): when pid exits while keeper lives, the name stays,
     * bound to no pid ("restarting": the _named calls give TR_EAGAIN)
     * until keeper claims it again for the restarted pid or releases it.
     * Errors: as tr_register, and TR_EAGAIN (another live keeper holds the
     * name for a restart). release drops name if keeper keeps it and its
     * pid is not alive. */
    int (*claim)(tr_runtime *rt, void *state, const char *name, tr_pid pid, tr_pid keeper,
                 tr_pid *holder);
    void (*release)(tr_runtime *rt, void *state, const char *name, tr_pid keeper);
} tr__service;

enum { TR__SVC_REGISTRY, TR__SVC_BLOCKING, TR__SVC_NET, TR__SVC_COUNT };

/* ---- the poller ----------------------------------------------------------- */

/* rt's poller (io/poll.h), waited on by the timer thread; NULL before
 * the runtime started its timer thread or after it stopped it. Any
 * thread. */
struct tr__poll *tr__runtime_poll(const tr_runtime *rt);
/* Makes the timer thread look again (a service's io_tick deadline moved
 * earlier). Any thread. */
void tr__runtime_poll_wake(tr_runtime *rt);
/* The calling thread's index among rt's scheduler threads (0 ..
 * tr_runtime_threads(rt) - 1), or -1 on any other thread (on_io runs on
 * scheduler threads and on the timer thread). */
int tr__sched_index_here(const tr_runtime *rt);

/* tr__service_state: the state service id made for rt. Any thread. */
void *tr__service_state(const tr_runtime *rt, unsigned id);

/* The registry service's claim and release (see tr__service). Any
 * thread. */
int tr__name_claim(tr_runtime *rt, const char *name, tr_pid pid, tr_pid keeper, tr_pid *holder);
void tr__name_release(tr_runtime *rt, const char *name, tr_pid keeper);

/* tr__spawn_kept: tr_spawn whose opts->name is kept by keeper across the
 * actor's exits (a supervisor's named child: see tr__service.claim). */
int tr__spawn_kept(tr_runtime *rt, const tr_behaviour *b, const void *arg,
                   const tr_spawn_opts *opts, tr_pid keeper, tr_pid *out);
/* tr__spawn_fiber_kept: tr_spawn_fiber that registers the fiber under
 * name (NULL: none) before it starts, kept by keeper across its exits as
 * tr__spawn_kept does (a supervisor's named fiber child). Errors: those of
 * tr_spawn_fiber, and of a named tr_spawn (TR_EEXIST, TR_EAGAIN, TR_EINVAL
 * for a bad name). Any thread, as tr_spawn_fiber. */
int tr__spawn_fiber_kept(tr_runtime *rt, tr_fiber_fn fn, void *arg, const tr_fiber_opts *opts,
                         const char *name, tr_pid keeper, tr_pid *out);

/* tr__actor_mark_service: marks pid so that its exit calls service svc's
 * on_exit (each service marks its own: an exit calls only the services
 * that marked it), under the actor's lock: TR_OK, or TR_ENOPROC when pid
 * is not a live actor of rt (a waiter, dead, or its exit has begun:
 * on_exit may have run already). Any thread. tr__actor_mark_named: the
 * registry's mark. */
int tr__actor_mark_service(tr_runtime *rt, tr_pid pid, unsigned svc);
int tr__actor_mark_named(tr_runtime *rt, tr_pid pid);

/* tr__services_names_of: the names pid is registered under (the
 * services' names_of, the first that knows any): as names_of. Any thread
 * outside the registry's own locks. */
size_t tr__services_names_of(tr_runtime *rt, tr_pid pid, char *buf, size_t size, size_t max);

/* ---- logging and metrics (actor/log.c, actor/introspect.c) -------------- */

struct tr_log_event;
/* True when events of this level reach rt's handler (tr_runtime_opts
 * .log_level). Any thread. */
bool tr__log_enabled(const tr_runtime *rt, int level);
/* tr__log_emit: queues a copy of *ev for rt's logger thread (time and the
 * formatted line are filled there and here); never blocks on the handler:
 * a full queue counts the event as dropped, and a later event says how
 * many. Events below the level are ignored. Any thread. */
void tr__log_emit(tr_runtime *rt, const struct tr_log_event *ev);
/* tr__behaviour_of: the behaviour pid runs (for comparison only: the
 * built-in behaviours identify their own actors), NULL when pid is not a
 * live actor of rt. Any thread. */
const tr_behaviour *tr__behaviour_of(tr_runtime *rt, tr_pid pid);
/* tr__count_restart: one supervisor restart, for the metrics. Any thread. */
void tr__count_restart(tr_runtime *rt);

/* ---- grace periods ---------------------------------------------------- */

/* Memory that lock-free readers may still see (under ck_epoch, as in the
 * registry's hash set and the pid table) is freed after a grace period.
 * On a scheduler thread of rt, tr__retire_defer hands it to the thread's
 * epoch record (freed when the record's epoch moves on) and returns true;
 * elsewhere it returns false, and the caller waits with tr__grace_wait
 * (false when no record could be had, out of memory: keep the memory, never
 * free it early). A plain thread must not wait while holding a lock that a
 * scheduler thread inside its section may wait for. */
bool tr__retire_defer(tr_runtime *rt, ck_epoch_entry_t *e, ck_epoch_cb_t *cb);
bool tr__grace_wait(tr_runtime *rt);
/* A read-side section for a thread outside the scheduler (a scheduler
 * thread gets its own record, *borrowed false). NULL when out of memory. */
ck_epoch_record_t *tr__epoch_enter(tr_runtime *rt, bool *borrowed);
void tr__epoch_leave(tr_runtime *rt, ck_epoch_record_t *rec, bool borrowed);

/* ---- blocking ----------------------------------------------------------- */

/* tr__park_refused: true when the caller must not block (park) here:
 * inside an actor's callback (which is not a fiber), or on a scheduler
 * thread outside any fiber. A fiber may park (its thread runs other work
 * meanwhile) and so may a plain thread. Blocking primitives that are not
 * tied to one runtime (channels, select) return TR_EDEADLK when it is
 * true. Any thread. */
bool tr__park_refused(void);

/* tr__fiber_on_exit: the running fiber self calls fn(arg) when it exits,
 * however it ends (returned, failed, killed while parked), before its
 * stack is freed (arg may point into it). For processes built into the
 * library (the task pool's workers). One hook; NULL fn clears it. */
void tr__fiber_on_exit(tr_self *self, void (*fn)(void *arg), void *arg);

/* ---- the running actor, for behaviours built into the library ---------- */

/* The process running on this thread: the fiber whose body runs here, or
 * the actor whose callback runs here; TR_PID_NONE on a plain thread (and
 * on a scheduler thread outside any process). Reads the thread's state
 * anew at each call (never cache it across a fiber's suspension). */
tr_pid tr__caller_pid(void);

/* tr__send_info: a TR_MSG_INFO message to `to` with this tag, ref and
 * status and a copy of data, from no sender (as a timer's): the messages
 * of the library's own event sources (io/net.c). Errors: as tr__deliver
 * (TR_ENOPROC, TR_EFULL, TR_ECLOSED), TR_ENOMEM. Any thread. */
int tr__send_info(tr_runtime *rt, tr_pid to, uint32_t tag, uint64_t ref, int32_t status,
                  const void *data, size_t size);

/* The running actor's state block (what its callbacks get as `state`). */
void *tr__self_state(const tr_self *self);
/* The running actor's behaviour. */
const tr_behaviour *tr__self_behaviour(const tr_self *self);
/* The actor that spawned the running actor (its parent in OTP's sense:
 * the spawn_link caller, or the actor whose callback called tr_spawn), or
 * TR_PID_NONE when a plain thread spawned it. */
tr_pid tr__self_parent(const tr_self *self);
/* True once tr_runtime_stop has begun (supervisors stop restarting). */
bool tr__runtime_stopping(const tr_runtime *rt);
/* tr_runtime_opts.blocking_threads, defaulted (1..1024): the most threads
 * of rt's blocking pool (task/blocking.c). Any thread. */
unsigned tr__runtime_blocking_threads(const tr_runtime *rt);
/* True when a blocking call (tr_call, tr_await_exit, the stop and
 * management calls) must return TR_EDEADLK: inside any callback (init
 * included, on whatever thread it runs) or on one of rt's scheduler
 * threads. */
bool tr__blocking_refused(const tr_runtime *rt);
/* tr_await_exit without that check, for the supervisor's init on a plain
 * thread (undoing a failed start before tr_supervisor_start returns). */
int tr__await_exit_unchecked(tr_runtime *rt, tr_pid pid, tr_duration_ms timeout_ms,
                             tr_reason *reason);
/* The actor running on the calling thread, or NULL outside callbacks. */
tr_self *tr__current(void);
/* Stores v into *p (release) unless the running actor's exit has been
 * claimed (a kill from another thread): the store and the kill are ordered
 * under the actor's lock, so whoever learns of the exit (DOWN, EXIT) sees
 * the store or knows it never happens. Returns whether it stored. */
bool tr__self_store_if_alive(tr_self *self, uint64_t *p, uint64_t v);
/* As tr_reply (status 0) or tr_reply_error (status < 0, data the text),
 * for a server whose callers may wait without a timeout: true when the
 * caller got nothing at all, neither the reply nor the bare TR_ENOMEM
 * that replaces it when it cannot be allocated. The server should then
 * stop, so that the caller's monitor ends the wait. Any thread. */
bool tr__reply_lost(tr_from from, int status, uint32_t tag, const void *data, size_t size);
/* Answers the call `from` with troupe's own error code err (a library
 * server refusing a request: the pool, the supervisor): the caller's
 * tr_call returns err itself, with text in its reply's data. A value that
 * is not a TR_E* code goes as TR_EREMOTE. tr_reply_error is for an
 * application's codes. Errors: as tr_reply. Any thread. */
int tr__reply_status(tr_from from, int err, const char *text);
/* tr_exit from self's callback to pid, an actor linked to self (a
 * supervisor's child, a pool's supervisor): out of memory for the signal,
 * it goes in the block self's link keeps for self's own exit (reserved with
 * the link), which pid no longer needs once told to exit. Errors: as
 * tr_exit; TR_ENOMEM only when pid is not linked to self. */
int tr__exit_linked(tr_self *self, tr_pid pid, tr_reason reason);
/* tr_exit(pid, reason) then tr_await_exit(pid, timeout_ms), with the wait
 * set up first: when it cannot be (TR_ENOMEM), no signal was sent.
 * Errors: as tr_exit and tr_await_exit. Not on a scheduler thread. */
int tr__exit_await(tr_runtime *rt, tr_pid pid, tr_reason reason, tr_duration_ms timeout_ms);
/* A process-unique reference (monitor refs, request ids). Any thread. */
uint64_t tr__make_ref(tr_runtime *rt);
/* A fast per-runtime pseudo-random number (jitter). Any thread. */
uint64_t tr__random(tr_runtime *rt);

#endif
