/* troupe — runtime, actors, messages, calls, links, monitors and timers.
 *
 * Vocabulary follows Erlang/OTP: a pid names an actor; an actor runs a
 * behaviour (gen_server callbacks) on one of the runtime's scheduler threads;
 * messages arrive in its mailbox and are handled one at a time.
 *
 * Threads. "Scheduler thread" means one of the runtime's worker threads, on
 * which every behaviour callback runs. "Any thread" means a scheduler thread
 * (inside a callback) or any other thread of the process. Calls that block
 * (tr_call, tr_await_exit, tr_runtime_stop/free, and the supervisor,
 * pool and task pool calls built on them) refuse to run on a scheduler
 * thread and inside any callback, wherever it runs (init included: it runs
 * on the spawning thread at a first start and on a scheduler thread at a
 * supervisor's restart, and gets the same answer on both), and return
 * TR_EDEADLK instead of stalling actors.
 *
 * Memory. Every allocation of the runtime goes through jemalloc's
 * non-standard API (mallocx/sdallocx), so the runtime's memory use is
 * independent of the process's malloc. Buffers troupe hands to the caller
 * (call replies) are released with tr_buf_free().
 */
#ifndef TROUPE_ACTOR_H
#define TROUPE_ACTOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "errors.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------------ */
/* Basic types                                                               */
/* ------------------------------------------------------------------------ */

/** A duration in milliseconds.
 *
 *  Huge durations: every timeout, delay and period the API takes goes
 *  through checked arithmetic, never a wrapping sum. One past the clock's
 *  range (deadlines are kept in microseconds of CLOCK_MONOTONIC, about
 *  292,000 years; INT64_MAX is the usual way to ask for it) saturates: a
 *  timer with it never fires (it stays pending until cancelled), and a wait
 *  with it waits as with TR_INFINITY. A finite timeout always ends.
 *  Negative durations other than TR_INFINITY give TR_EINVAL (and so does
 *  TR_INFINITY where a function does not take it).
 *
 *  Huge sizes, likewise: a size that no allocation could hold (more than
 *  PTRDIFF_MAX / 2 bytes, such as SIZE_MAX), or a count times an element
 *  size that overflows, gives TR_EINVAL at the call (or the error of a
 *  smaller limit the function documents); a size that could exist but
 *  cannot be allocated gives TR_ENOMEM at the call. A payload
 *  copied into a message (sends, casts, calls, replies, timers; not the
 *  _owned sends) is at most 4 GiB less a small header; a larger one gives
 *  TR_ENOMEM at the call. */
typedef int64_t tr_duration_ms;

/** No timeout: wait forever. */
#define TR_INFINITY ((tr_duration_ms)-1)
/** The default call timeout, as OTP gen_server:call/2 (5000 ms). */
#define TR_DEFAULT_TIMEOUT ((tr_duration_ms)5000)

/** A process identifier: slot index (bits 0..30) and generation (bits
 *  31..55) in the runtime's actor table, and the runtime's id (bits
 *  56..63). Passed by value; treat it as opaque. A pid whose actor has
 *  exited never reaches another actor (the generation no longer matches;
 *  it wraps after 2^25 reuses of one slot). A pid belongs to its runtime,
 *  as an Erlang pid to its node: used with another runtime of the process
 *  it names no process there (TR_ENOPROC, tr_is_alive false); live
 *  runtimes never share ids. The id 0 is never a valid pid (TR_PID_NONE). */
typedef struct tr_pid {
    uint64_t id;
} tr_pid;

#define TR_PID_NONE ((tr_pid){0})

/** True when the two pids name the same actor. Thread-safety: pure, any
 *  thread. */
static inline bool tr_pid_eq(tr_pid a, tr_pid b) {
    return a.id == b.id;
}
/** True for TR_PID_NONE. Thread-safety: pure, any thread. */
static inline bool tr_pid_is_none(tr_pid p) {
    return p.id == 0;
}

/** The runtime: scheduler threads, actor table, timers, registry. Opaque. */
typedef struct tr_runtime tr_runtime;

/** The running actor, as seen from inside its own callbacks. Opaque; valid
 *  only during the callback it was passed to. */
typedef struct tr_self tr_self;

/* ------------------------------------------------------------------------ */
/* Exit reasons                                                              */
/* ------------------------------------------------------------------------ */

/** The kinds of exit reason, as OTP's atoms. */
typedef enum tr_exit_kind {
    TR_EXIT_NORMAL = 0, /* normal: not propagated to links, not restarted by transient */
    TR_EXIT_SHUTDOWN,   /* shutdown: orderly stop ordered by a supervisor */
    TR_EXIT_KILL,       /* kill: as an exit signal, cannot be trapped */
    TR_EXIT_KILLED,     /* killed: the reason of an actor that received kill */
    TR_EXIT_NOPROC,     /* noproc: DOWN for a monitor on an actor already dead */
    TR_EXIT_ERROR       /* a crash: code and text say what happened */
} tr_exit_kind;

/** An exit reason. A value (copy it freely); text is NUL-terminated and
 *  truncated to fit (55 bytes). A reason the runtime receives (tr_exit,
 *  tr_stop, tr_fail) has its last text byte set to NUL, so a reason built
 *  by hand without one still reaches links, monitors and terminate as a
 *  string. */
typedef struct tr_reason {
    int32_t kind; /* tr_exit_kind */
    int32_t code; /* TR_EXIT_ERROR: the application's or troupe's error code */
    char text[56];
} tr_reason;

/** tr_reason_normal: the reason normal (OTP's `normal`). Never fails.
 *  Thread-safety: pure, any thread. */
TR_API tr_reason tr_reason_normal(void);
/** tr_reason_shutdown: the reason shutdown (OTP's `shutdown`). Never fails.
 *  Thread-safety: pure, any thread. */
TR_API tr_reason tr_reason_shutdown(void);
/** tr_reason_kill: the reason kill, for tr_exit (OTP's `kill`). Never
 *  fails. Thread-safety: pure, any thread. */
TR_API tr_reason tr_reason_kill(void);

/** tr_reason_error: a crash reason with an error code and a text.
 *  Arguments: code, any int (application-defined or a TR_E* code); text, a
 *  NUL-terminated string copied into the reason (truncated to 55 bytes;
 *  NULL gives ""). Thread-safety: pure, any thread. */
TR_API tr_reason tr_reason_error(int code, const char *text);

/** tr_reason_is_normal: true for normal (and only normal); false for NULL.
 *  Never fails. Thread-safety: pure, any thread. */
TR_API bool tr_reason_is_normal(const tr_reason *r);

/** tr_reason_format: writes "normal", "shutdown", "killed", "noproc" or
 *  "error(CODE): TEXT" into buf (size bytes, always NUL-terminated when
 *  size > 0); a shutdown with a text (a supervisor that gave up because a
 *  child could not start) gives "shutdown(CODE): TEXT". At most 55 bytes
 *  of TEXT are read, NUL or not. Returns buf (NULL and size 0 write
 *  nothing; r NULL gives "(null)"). Thread-safety: any thread. */
TR_API char *tr_reason_format(const tr_reason *r, char *buf, size_t size);

/* ------------------------------------------------------------------------ */
/* Messages                                                                  */
/* ------------------------------------------------------------------------ */

/** What a message is. Casts go to handle_cast, calls to handle_call,
 *  everything else to handle_info. */
typedef enum tr_msg_kind {
    TR_MSG_INFO = 0, /* tr_send: a plain message (Erlang's Pid ! Msg) */
    TR_MSG_CAST,     /* tr_cast: gen_server:cast */
    TR_MSG_CALL,     /* tr_call / tr_request: gen_server:call */
    TR_MSG_REPLY,    /* reply to a tr_request; status 0, or an error / TR_ETIMEDOUT */
    TR_MSG_EXIT,     /* {'EXIT', sender, reason} for an actor that traps exits */
    TR_MSG_DOWN,     /* {'DOWN', ref, process, sender, reason} for a monitor */
    TR_MSG_TIMER,    /* a timer from tr_send_after / tr_send_interval fired */
    TR_MSG_CONTINUE, /* handle_continue's message: the continuation set by tr_continue */
    TR_MSG_TIMEOUT   /* handle_info: the idle timeout set by tr_idle_timeout expired */
} tr_msg_kind;

/** A message as a callback sees it. Borrowed: valid only until the callback
 *  returns; copy what you keep.
 *  - data/size: the payload bytes (size 0: data may be NULL). For EXIT and
 *    DOWN, data points to a tr_reason (use tr_msg_reason()).
 *  - sender: the sending actor, or TR_PID_NONE when sent from a plain thread
 *    (or by a timer). For EXIT/DOWN: the actor that exited.
 *  - ref: REPLY: the request id returned by tr_request; DOWN: the monitor
 *    reference; TIMER: the timer id; otherwise 0.
 *  - status: REPLY: 0 for a reply, TR_ETIMEDOUT for the timeout notice,
 *    TR_EEXITED when the server exited first, TR_EREMOTE when the server
 *    answered with tr_reply_error() (code then holds its application code
 *    and data its text), or another TR_E* code of troupe's (a pool or a
 *    supervisor refusing the request); otherwise 0. status is always 0 or
 *    a TR_E* code: the error space is closed (docs/errors.md).
 *  - code: REPLY with status TR_EREMOTE: the application's code, any int;
 *    otherwise 0. */
typedef struct tr_msg {
    uint32_t kind; /* tr_msg_kind */
    uint32_t tag;
    tr_pid sender;
    uint64_t ref;
    int32_t status;
    int32_t code; /* REPLY with status TR_EREMOTE: the application's code (tr_reply_error) */
    const void *data;
    size_t size;
} tr_msg;

/** tr_msg_reason: the exit reason carried by an EXIT or DOWN message, or
 *  NULL for any other kind. Borrowed like the message.
 *  Thread-safety: the callback's thread. */
TR_API const tr_reason *tr_msg_reason(const tr_msg *msg);

/** The caller of a call: where tr_reply sends the answer. A value: copy it,
 *  keep it in state, hand it to another actor (as the pool manager does) and
 *  reply later from any actor or thread (OTP's {noreply, S} +
 *  gen_server:reply/2). For a blocking caller (tr_call) pid is a reply-only
 *  address, as OTP's alias: tr_reply/tr_reply_error reach the thread
 *  through it; every other call refuses it with TR_ENOPROC (send, cast,
 *  call, request, exit, link, monitor, link_to, timers, registration,
 *  tr_mailbox_len) and tr_is_alive is false for it. */
typedef struct tr_from {
    tr_runtime *rt;
    tr_pid pid;   /* the caller (an actor, or the blocking thread's reply address) */
    uint64_t ref; /* the request id */
} tr_from;

/* ------------------------------------------------------------------------ */
/* Behaviours                                                                */
/* ------------------------------------------------------------------------ */

/** Callback results: continue, or stop (see tr_stop). */
#define TR_CONTINUE 0
#define TR_STOP 1

/** A behaviour: the callbacks of a gen_server. Fill with designated
 *  initializers; unset callbacks get OTP's defaults. Every callback runs on
 *  a scheduler thread (init: on the spawning thread at a first start, on a
 *  scheduler thread at a supervisor's restart), one at a time per actor,
 *  and must not block: blocking calls return TR_EDEADLK in every callback,
 *  init included, wherever it runs.
 *
 *  - state_size: bytes of state the runtime allocates (zeroed) with the
 *    actor and passes to every callback; 0 gives NULL state. More than
 *    PTRDIFF_MAX / 2 makes tr_spawn fail with TR_EINVAL.
 *  - init(self, state, arg): runs inside tr_spawn, before it returns (at
 *    a supervisor's restart, inside the supervisor's callback on a
 *    scheduler thread). Blocking calls return TR_EDEADLK here as in every
 *    callback; send a tr_request to ask another actor. Return TR_CONTINUE,
 *    or tr_stop()/tr_fail() to refuse: spawn then returns TR_EINIT and
 *    nothing is left behind (terminate is not called, as OTP). Default:
 *    accept.
 *  - handle_call(self, state, msg, from): reply with tr_reply(from, ...) now
 *    or keep `from` and reply later. Default: crash with TR_EINVAL
 *    ("unexpected call"), as OTP.
 *  - handle_cast(self, state, msg): Default: crash ("unexpected cast").
 *  - handle_info(self, state, msg): plain messages, timers, EXIT, DOWN and
 *    request replies. Default: drop the message.
 *  - terminate(self, state, reason): runs at most once, when the actor
 *    stops by returning stop, by tr_stop, by tr_fail (a crash), or at
 *    runtime shutdown (reason shutdown); then the state is freed. As OTP's
 *    gen_server, it does NOT run when the actor is killed by an exit signal
 *    it does not trap (a linked actor's crash, tr_exit, kill), nor after a
 *    failed init: trap exits (tr_trap_exit) to get EXIT messages and stop
 *    cleanly instead — supervisors' children that need cleanup do so.
 *    Sends are allowed inside terminate.
 *  - cleanup(state): releases what the state owns. Runs exactly once for
 *    every actor whose spawn got as far as allocating it, whatever the exit:
 *    normal stop, crash, exit signal, kill, runtime shutdown, and a failed
 *    init (after init's own unwinding: the state starts zeroed, so cleanup
 *    must accept whatever init left, e.g. NULL pointers). It runs after
 *    terminate (if terminate runs), after the actor is dead (its pid is no
 *    longer alive; links and monitors were told), on the thread that ran
 *    the actor's last callback (for a killed actor: when that callback
 *    returns), just before the state's memory is freed. It gets no
 *    tr_self: it must only release memory and other resources, not send,
 *    call troupe functions that act for the actor, or tr_fail. Memory a
 *    behaviour allocates and keeps in its state must be freed here (not
 *    in terminate, which a kill skips). Default: nothing.
 *  - handle_continue(self, state, msg): runs the continuation that init or
 *    any callback set with tr_continue, right after that callback and
 *    before any other message (OTP 21's {continue, C} and
 *    handle_continue/2): msg->kind is TR_MSG_CONTINUE, msg->tag, data and
 *    size are what tr_continue was given, msg->sender is the actor itself.
 *    It returns as the other callbacks do, and may set a new continuation.
 *    Default (NULL) with a continuation set: crash with TR_EINVAL
 *    ("unexpected continue"), as OTP's undefined callback.
 *  Kill while running: C code cannot be preempted, so a kill (tr_exit with
 *  tr_reason_kill()) that finds the actor inside a callback takes effect
 *  for everyone else at once (see tr_exit); the callback runs on until it
 *  returns, but its sends, replies, requests, exits, links, monitors and
 *  spawns fail with TR_EKILLED and nothing is sent; then no terminate
 *  runs, cleanup does, and the state is freed. */
typedef struct tr_behaviour {
    const char *name;
    size_t state_size;
    int (*init)(tr_self *self, void *state, const void *arg);
    int (*handle_call)(tr_self *self, void *state, const tr_msg *msg, tr_from from);
    int (*handle_cast)(tr_self *self, void *state, const tr_msg *msg);
    int (*handle_info)(tr_self *self, void *state, const tr_msg *msg);
    void (*terminate)(tr_self *self, void *state, tr_reason reason);
    void (*cleanup)(void *state);
    int (*handle_continue)(tr_self *self, void *state, const tr_msg *msg);
} tr_behaviour;

/* ------------------------------------------------------------------------ */
/* Runtime                                                                   */
/* ------------------------------------------------------------------------ */

/** A log event and a log handler (log.h has the event's fields). */
typedef struct tr_log_event tr_log_event;
typedef void (*tr_log_fn)(const tr_log_event *ev, void *user);

/** Runtime options. Zero-initialize, then set what you need. */
typedef struct tr_runtime_opts {
    unsigned threads;    /* scheduler threads; 0 = online CPUs */
    unsigned max_actors; /* most live actors; 0 = 4,194,304; at most 2^30 */
    unsigned batch;      /* messages per actor turn; 0 = 256 */
    /* tr_blocking's pool (blocking.h): most blocking threads, started on
     * demand and exiting after 10 s idle; 0 = 16; at most 1024 */
    unsigned blocking_threads;
    /* The logger (log.h): the handler of crash, supervisor and init
     * reports, called on the runtime's logger thread; NULL = the default
     * handler (one line per event to stderr). log_level: the least level
     * reported (tr_log_level; 0 = TR_LOG_NOTICE); log_queue: events queued
     * for the handler at most, beyond which they are counted and reported
     * as dropped (0 = 1024; at most 2^20). */
    tr_log_fn log_fn;
    void *log_user;
    int log_level;
    unsigned log_queue;
} tr_runtime_opts;

/** tr_runtime_start: creates a runtime and starts its scheduler threads,
 *  timer thread and logger thread (log.h).
 *  Arguments: opts may be NULL (all defaults); out receives the runtime.
 *  Ownership: the caller owns *out and releases it with tr_runtime_free.
 *  Errors: TR_EINVAL (out NULL, threads > 1024, max_actors > 2^30,
 *  blocking_threads > 1024, log_level not 0..TR_LOG_ERROR, log_queue >
 *  2^20),
 *  TR_EFULL (256 runtimes are alive in the process: each needs its own id
 *  in its pids; shut one down first), TR_ENOMEM (allocation or
 *  thread creation failed; nothing is left behind).
 *  Thread-safety: any thread that is not a scheduler thread of another
 *  runtime. */
TR_API int tr_runtime_start(const tr_runtime_opts *opts, tr_runtime **out);

/** tr_runtime_free: frees the runtime, stopping it first if it still runs
 *  (tr_runtime_stop: every actor still alive stops, each terminate runs
 *  once, with reason shutdown, in reverse spawn order for the top-level
 *  actors; children of supervisors are stopped by their supervisor; the
 *  timers stop and the threads are joined), then frees everything and
 *  sets *rt to NULL. The lifecycle rule of the whole API: `_stop` stops
 *  and keeps the object, `_free` frees (stopping first if needed).
 *  Messages still queued are dropped; pending blocking calls return
 *  TR_ECLOSED.
 *  Arguments: rt, the address of the variable tr_runtime_start filled;
 *  rt NULL or *rt NULL is a no-op, so calling it twice is harmless.
 *  Ownership: the runtime is freed; *rt becomes NULL.
 *  Errors: TR_EDEADLK when called from one of the runtime's scheduler
 *  threads or inside any callback (the runtime is left running, *rt
 *  unchanged). Other threads
 *  that may still be calling into the runtime: tr_runtime_stop first (they
 *  get TR_ECLOSED), join them, then free.
 *  Thread-safety: one thread, not a scheduler thread. */
TR_API int tr_runtime_free(tr_runtime **rt);

/** tr_runtime_stop: the first half of shutdown — stops every actor and the
 *  threads, but keeps the tr_runtime object so that other threads' calls
 *  get TR_ECLOSED instead of touching freed memory. Calling it twice (or
 *  from several threads) is harmless: later calls return 0 at once.
 *  tr_runtime_free calls it, then frees.
 *  Errors: TR_EINVAL (rt NULL), TR_EDEADLK (on a scheduler thread, or
 *  inside any callback).
 *  Thread-safety: any thread that is not a scheduler thread. */
TR_API int tr_runtime_stop(tr_runtime *rt);

/** tr_runtime_threads: number of scheduler threads (0 for rt NULL). Never
 *  fails. Thread-safety: any thread. */
TR_API unsigned tr_runtime_threads(const tr_runtime *rt);

/** tr_runtime_actor_count: number of live actors (approximate while
 *  actors start and stop). Never fails. Thread-safety: any thread. */
TR_API size_t tr_runtime_actor_count(const tr_runtime *rt);

/** tr_on_scheduler: true when the calling thread is a scheduler thread of
 *  rt (blocking calls are refused there); false for rt NULL. Never fails.
 *  Thread-safety: any thread. */
TR_API bool tr_on_scheduler(const tr_runtime *rt);

/* ------------------------------------------------------------------------ */
/* Spawning and stopping                                                     */
/* ------------------------------------------------------------------------ */

/** Why a start failed: filled by tr_spawn (tr_spawn_opts.error) and
 *  tr_supervisor_start_ex, as OTP's {error, Reason} from start/start_link
 *  and supervisor:start_link ({shutdown, {failed_to_start_child, Id, R}},
 *  or the bad_start_spec / duplicate_child_name errors of a spec check).
 *  A value; the caller owns it. On success it is zeroed (reason normal,
 *  child_index -1). On failure:
 *  - reason: for TR_EINIT (and a TR_ENOMEM that init reported) the reason
 *    init stopped or failed with (tr_stop/tr_fail; normal when init just
 *    returned non-zero); for a spec refused with TR_EINVAL, an error
 *    reason whose code is TR_EINVAL and whose text says what is wrong
 *    ("duplicate id", "missing behaviour", "bad restart type", ...); for
 *    any other error, an error reason with that code and tr_strerror's
 *    text.
 *  - child_id / child_index: for a supervisor, the child that failed to
 *    start or whose spec is wrong (its id, NUL-terminated, cut to 63 bytes;
 *    its index in spec->children); "" and -1 when no child is concerned. */
typedef struct tr_start_error {
    tr_reason reason;
    char child_id[64];
    long child_index;
} tr_start_error;

/** Spawn options. Zero-initialize. */
typedef struct tr_spawn_opts {
    tr_pid link_to;        /* link the new actor to this actor (spawn_link); NONE = no link.
                              Inside a callback, tr_spawn_link links to self. */
    bool trap_exit;        /* start with trap_exit set (before init runs) */
    size_t max_mailbox;    /* 0 = unbounded; else sends to a mailbox holding this
                             many messages fail with TR_EFULL */
    bool on_fiber;         /* run the callbacks (after init) on a fiber of their own, as
                              an Erlang gen_server runs in its process: they may block
                              (tr_call, tr_blocking, channels, tr_future_await,
                              tr_sleep) and only this process parks (troupe/fiber.h) */
    size_t stack_size;     /* with on_fiber: as tr_fiber_opts.stack_size (0 = default) */
    const char *name;      /* named start (gen_server:start/4 with {local, Name}): register
                              the actor under this name (troupe/registry.h) before init runs;
                              NULL = no name. Taken: tr_spawn returns TR_EEXIST and *out gets
                              the holder's pid; init never runs and no actor is left */
    tr_start_error *error; /* NULL, or filled with why the spawn failed (zeroed on success):
                              init's own reason for TR_EINIT */
} tr_spawn_opts;

/** tr_spawn: creates an actor running behaviour b and runs b->init(arg) on
 *  the calling thread before returning (as gen_server:start/3: the caller
 *  learns whether init succeeded).
 *  Arguments: rt; b (borrowed: must outlive the actor); arg passed to init
 *  as is (borrowed for the duration of init); opts may be NULL; out may be
 *  NULL, else receives the pid.
 *  Errors: TR_EINVAL (rt or b NULL, b->state_size over PTRDIFF_MAX / 2,
 *  with on_fiber a stack_size outside 16 KiB .. 1 GiB: init is not
 *  called), TR_ENOMEM also for a fiber's stack, TR_ECLOSED (runtime stopping), TR_EFULL (actor
 *  table full), TR_ENOMEM (the state cannot be allocated; also when init
 *  stopped or failed with an error reason whose code is TR_ENOMEM, as the
 *  supervisor and the pools do when their set-up runs out of memory),
 *  TR_EINIT (init stopped or failed for any other reason: the actor is
 *  gone, its links got the exit signal, terminate was not called; *out is
 *  left unchanged), TR_ENOPROC (opts->link_to is dead, or names no process
 *  of rt: another runtime's pid, a blocking caller's reply address).
 *  With opts->name: TR_EINVAL also for an empty name or one longer than
 *  TR_NAME_MAX; TR_EEXIST (a live actor holds the name: *out receives its
 *  pid, OTP's {error, {already_started, Pid}}; nothing was started, init
 *  did not run); TR_EAGAIN (a supervisor holds the name for a child it is
 *  restarting). The name is dropped when the actor exits, a failed init
 *  included (the registry's rule).
 *  Thread-safety: any thread. */
TR_API int tr_spawn(tr_runtime *rt, const tr_behaviour *b, const void *arg,
                    const tr_spawn_opts *opts, tr_pid *out);

/** tr_spawn_link: tr_spawn from inside a callback, linked to the calling
 *  actor (spawn_link/gen_server:start_link). Errors: as tr_spawn. If init
 *  fails and the caller does not trap exits, the caller still gets
 *  TR_EINIT (the failed child's exit signal is not propagated: OTP's
 *  start_link returns {error, Reason} too). Thread-safety: the callback's
 *  thread. */
TR_API int tr_spawn_link(tr_self *self, const tr_behaviour *b, const void *arg, tr_pid *out);

/** tr_stop: asks the running actor to stop after the current callback with
 *  the given reason; returns TR_STOP so that a callback can say
 *  `return tr_stop(self, tr_reason_normal());`. In init it makes spawn fail
 *  with TR_EINIT. Thread-safety: the callback's thread. */
TR_API int tr_stop(tr_self *self, tr_reason reason);

/** tr_continue: sets a continuation: after the running callback returns
 *  (init included), the behaviour's handle_continue runs with a message of
 *  kind TR_MSG_CONTINUE carrying tag and a copy of the size bytes at data,
 *  before any other message is handled (OTP 21's {noreply, S, {continue,
 *  C}} and {ok, S, {continue, C}}). This is the way to do slow set-up after
 *  init: tr_spawn returns once init has, and the set-up runs on a scheduler
 *  thread before the first message. Exit signals still act first (a kill,
 *  or an exit to an actor that does not trap exits, ends the actor and the
 *  continuation is dropped), as in OTP. Returns TR_CONTINUE (0), so that a
 *  callback can end with `return tr_continue(self, TAG, &x, sizeof x);`.
 *  A callback that stops (returns TR_STOP, tr_stop, tr_fail) drops it.
 *  Arguments: self, the running actor, inside one of its callbacks; tag,
 *  application-defined; data may be NULL when size is 0 (copied; the
 *  caller keeps it).
 *  Errors: TR_EINVAL (self NULL or not the actor whose callback runs on
 *  this thread, data NULL with size > 0, a plain fiber (tr_spawn_fiber),
 *  which has no handle_continue), TR_EBUSY (a continuation is already set
 *  in this callback: one per callback, as OTP's one return value),
 *  TR_ENOMEM (also for a payload over the message limit): nothing is set;
 *  a callback that returns the error stops with reason normal, as any
 *  non-zero return. Thread-safety: the callback's thread. */
TR_API int tr_continue(tr_self *self, uint32_t tag, const void *data, size_t size);

/** tr_idle_timeout: the idle timeout of a callback's return, OTP's
 *  {noreply, S, Timeout} (and {ok, S, Timeout} from init): if no message
 *  reaches the actor within timeout_ms, handle_info gets a message of kind
 *  TR_MSG_TIMEOUT (tag 0, no data, sender TR_PID_NONE). Any message the
 *  actor handles first cancels it (a call, a cast, an info, a timer, a
 *  trapped EXIT, a DOWN, a reply, a continuation, the state requests), as
 *  does the actor's exit; so does a later tr_idle_timeout, whose timeout
 *  replaces this one (TR_INFINITY: none). The time counts from this call
 *  (callbacks are short), never shorter than timeout_ms. 0 gives the
 *  timeout at once unless a message is already queued. Returns
 *  TR_CONTINUE (0), so a callback may end with
 *  `return tr_idle_timeout(self, 30000);`.
 *  Errors: TR_EINVAL (self NULL or not the actor whose callback runs here,
 *  a negative timeout other than TR_INFINITY, a plain fiber: use
 *  tr_receive's timeout), TR_EKILLED, TR_ENOMEM, TR_ECLOSED (runtime
 *  stopping): no timeout is set (a callback returning the error stops with
 *  reason normal, as any non-zero return). Thread-safety: the callback's
 *  thread. */
TR_API int tr_idle_timeout(tr_self *self, tr_duration_ms timeout_ms);

/** tr_fail: crashes the running actor at once: unwinds out of the current
 *  callback (longjmp to the dispatch point, skipping the rest of the
 *  callback), runs terminate with `reason`, and propagates the exit to
 *  links and monitors. Use it where an Erlang process would raise. The
 *  callback's local resources are not released by the unwind; release them
 *  before calling. Does not return. Called outside a callback (or with
 *  self NULL) it aborts the process, as a failed assert would.
 *  Thread-safety: the callback's thread. */
TR_API TR_NORETURN void tr_fail(tr_self *self, tr_reason reason);

/** tr_exit: sends an exit signal to pid (erlang:exit/2).
 *  - kill: the target dies with reason killed even if it traps exits or
 *    its mailbox is flooded, and even while it is inside a callback: when
 *    tr_exit returns, pid is dead (tr_is_alive false, sends TR_ENOPROC),
 *    its links got the exit signal killed and its monitors DOWN killed. A
 *    callback that was running goes on until it returns, with its sends
 *    dropped (TR_EKILLED); then cleanup runs (not terminate) and the state
 *    is freed. Messages that callback sent before the kill may arrive after
 *    the DOWN.
 *  - any other reason, to a target that traps exits: an EXIT message,
 *    queued behind every message the caller (the same actor, or the same
 *    plain thread) sent to pid before it, as signals between two Erlang
 *    processes keep their order.
 *  - any other reason, to a target that does not trap exits: it dies with
 *    `reason` before its next message (normal is ignored then), without
 *    terminate.
 *  - a plain thread's receiver (troupe/receiver.h), any reason, kill too:
 *    an EXIT message for tr_receiver_recv (a receiver traps exits; a thread
 *    is never killed).
 *  The reason's text is NUL-terminated on receipt (its last byte).
 *  Errors: TR_EINVAL (rt NULL, pid TR_PID_NONE, reason.kind not one of
 *  tr_exit_kind: nothing is sent), TR_ENOPROC (dead pid, or no process of
 *  rt: another runtime's pid, a blocking caller's reply address), TR_ECLOSED,
 *  TR_ENOMEM (the signal could not be allocated: nothing was sent; never
 *  with kill, which needs no memory and always takes effect), TR_EKILLED
 *  (called from a callback of an actor that was killed).
 *  Thread-safety: any thread. */
TR_API int tr_exit(tr_runtime *rt, tr_pid pid, tr_reason reason);

/** tr_is_alive: true while pid names a live actor or an open receiver
 *  (troupe/receiver.h) (is_process_alive/1);
 *  false for a dead or never-existing pid, another runtime's pid, a blocking
 *  caller's reply address, TR_PID_NONE or rt NULL. Never fails.
 *  Thread-safety: any thread. */
TR_API bool tr_is_alive(tr_runtime *rt, tr_pid pid);

/** tr_await_exit: blocks the calling thread until pid has exited (it
 *  monitors pid, as a thread cannot hold a monitor otherwise), up to
 *  timeout_ms (> 0 or TR_INFINITY; a timeout past the clock's range waits
 *  as TR_INFINITY, see tr_duration_ms). reason (may be NULL) receives the exit
 *  reason; an actor already dead gives 0 and reason noproc.
 *  Errors: TR_EINVAL, TR_ETIMEDOUT, TR_EDEADLK (scheduler thread, or inside
 *  any callback), TR_ENOPROC (pid names no process of rt: another runtime's
 *  pid, a blocking caller's reply address), TR_ECLOSED (runtime stopped
 *  while waiting), TR_ENOMEM. Thread-safety: any non-scheduler thread,
 *  outside callbacks. */
TR_API int tr_await_exit(tr_runtime *rt, tr_pid pid, tr_duration_ms timeout_ms, tr_reason *reason);

/** tr_stop_server: stops the actor pid in an orderly way and waits until it
 *  has exited (gen_server:stop/3): a stop request is queued in pid's
 *  mailbox, behind the messages this thread sent it before; when the actor
 *  comes to it, it stops with `reason` and its terminate runs with that
 *  reason (whether or not it traps exits), then cleanup, then its links and
 *  monitors learn of the exit with that reason. This call returns after
 *  all of that, so terminate has run when it returns 0.
 *  Arguments: reason, a reason of any tr_exit_kind (its text is
 *  NUL-terminated on receipt); timeout_ms > 0 or TR_INFINITY (past the
 *  clock's range waits as TR_INFINITY); exit_reason may be NULL, else
 *  receives the reason the actor exited with (on 0 and TR_EEXITED).
 *  Returns 0 when pid exited with `reason`; TR_EEXITED when it exited with
 *  another one first (it crashed, or was killed, before it came to the
 *  request: *exit_reason says why; OTP's stop exits with that reason).
 *  Errors: TR_EINVAL (rt NULL, pid TR_PID_NONE, reason.kind not a
 *  tr_exit_kind, bad timeout), TR_ENOPROC (pid dead, never existed, or
 *  names no process of rt: another runtime's pid, a blocking caller's
 *  reply address), TR_ETIMEDOUT (pid has not exited in time: it was not
 *  killed, and the request stays queued: it still stops when it comes to
 *  it, as OTP), TR_EDEADLK (on a scheduler thread or inside any callback;
 *  from a fiber, pid being the fiber itself: OTP's calling_self), TR_ECLOSED
 *  (runtime stopping), TR_ENOMEM. A fiber (troupe/fiber.h) may call it for
 *  another pid: it parks.
 *  Thread-safety: any non-scheduler thread outside callbacks, or a fiber. */
TR_API int tr_stop_server(tr_runtime *rt, tr_pid pid, tr_reason reason, tr_duration_ms timeout_ms,
                          tr_reason *exit_reason);

/* ------------------------------------------------------------------------ */
/* Inside a callback                                                         */
/* ------------------------------------------------------------------------ */

/** tr_self_pid: the running actor's pid (self() in Erlang); TR_PID_NONE
 *  for self NULL. Thread-safety: the callback's thread. */
TR_API tr_pid tr_self_pid(const tr_self *self);
/** tr_self_runtime: the running actor's runtime (not owned: do not shut it
 *  down from a callback); NULL for self NULL. Thread-safety: the
 *  callback's thread. */
TR_API tr_runtime *tr_self_runtime(const tr_self *self);

/** tr_trap_exit: sets trap_exit (process_flag(trap_exit, on)); returns the
 *  old value. Thread-safety: the callback's thread. */
TR_API bool tr_trap_exit(tr_self *self, bool on);

/** tr_link: links the running actor and pid (link/1), bidirectional. pid
 *  is an actor or a plain thread's receiver (troupe/receiver.h: it traps
 *  exits; its close sends an exit signal normal).
 *  Linking to a dead pid: the running actor receives an exit signal with
 *  reason noproc (an EXIT message when trapping; otherwise it crashes after
 *  the current callback), as OTP, and 0 is returned. Linking twice is one
 *  link. Errors: TR_EINVAL (self NULL, pid none or self), TR_ENOPROC (pid
 *  names no process of this runtime: another runtime's pid, a blocking
 *  caller's reply address; nothing is linked, no signal follows), TR_ENOMEM.
 *  Thread-safety: the callback's thread. */
TR_API int tr_link(tr_self *self, tr_pid pid);

/** tr_unlink: removes the link, if any (unlink/1); no EXIT from pid arrives
 *  afterwards for that link. Errors: TR_EINVAL. Thread-safety: the
 *  callback's thread. */
TR_API int tr_unlink(tr_self *self, tr_pid pid);

/** tr_monitor: monitors pid (erlang:monitor(process, Pid)); one DOWN message
 *  arrives when it exits, with its reason, or at once with reason noproc
 *  if it is already dead. pid is an actor or a plain thread's receiver
 *  (troupe/receiver.h; DOWN normal when it closes). *ref (may be NULL) receives the monitor
 *  reference, carried in the DOWN message's ref.
 *  Errors: TR_EINVAL, TR_ENOPROC (pid names no process of this runtime:
 *  another runtime's pid, a blocking caller's reply address; nothing is
 *  monitored, no DOWN follows), TR_ENOMEM. Thread-safety: the callback's
 *  thread. */
TR_API int tr_monitor(tr_self *self, tr_pid pid, uint64_t *ref);

/** tr_demonitor: removes a monitor and drops its DOWN message if one is
 *  already queued (demonitor(Ref, [flush])): after this returns no DOWN for
 *  ref reaches a callback. Errors: TR_EINVAL, TR_ENOTFOUND (unknown ref or
 *  DOWN already handled). Thread-safety: the callback's thread. */
TR_API int tr_demonitor(tr_self *self, uint64_t ref);

/* ------------------------------------------------------------------------ */
/* Sending                                                                   */
/* ------------------------------------------------------------------------ */

/* Message tags. A tag is a uint32_t that the application chooses freely
 * below TR_TAG_RESERVED_MIN; tags from 0xFFFF0000 up are reserved for
 * troupe's own messages: the requests its actors understand and the
 * messages they send each other. Each part of troupe keeps to one range,
 * and its defines point back at this table:
 *
 *   0x00000000 - 0xFFFEFFFF  the application
 *   0xFFFF0000 - 0xFFFF00FF  the runtime (actor/): the calls every actor
 *                            answers itself, TR_TAG_GET_STATE and
 *                            TR_TAG_REPLACE_STATE (from 0xFFFF0001)
 *   0xFFFF0100 - 0xFFFF01FF  the supervisor: TR_SUP_* requests
 *                            (troupe/supervisor.h) from 0xFFFF0101, its
 *                            private messages (supervisor/sup_internal.h)
 *                            from 0xFFFF01A0
 *   0xFFFF0200 - 0xFFFF02FF  the pool: TR_POOL_* requests (troupe/pool.h)
 *                            from 0xFFFF0201, the pool/worker messages
 *                            (supervisor/pool_worker.h) from 0xFFFF0280
 *   0xFFFF0300 - 0xFFFF03FF  not assigned
 *   0xFFFF0400 - 0xFFFF04FF  the task pool's manager and workers
 *                            (task/task_pool.c)
 *   0xFFFF0500 - 0xFFFF05FF  the network: TR_TAG_TCP_* messages to a
 *                            socket's owner (troupe/net.h)
 *   0xFFFF0600 - 0xFFFFFFFF  not assigned
 *
 * A pool refuses a call with a reserved tag (TR_EINVAL) rather than hand
 * it to a worker. */

/** The first reserved message tag (see the table above). */
#define TR_TAG_RESERVED_MIN 0xFFFF0000u

/** tr_send: sends a plain message (Pid ! Msg) that arrives in handle_info
 *  with kind TR_MSG_INFO. The size bytes at data are copied; the caller
 *  keeps data. Messages from one sender to one receiver arrive in order.
 *  Sent from a callback, the message is queued to the receiver by the end
 *  of the sender's turn at the latest (sends are pushed in chains, one per
 *  receiver); from any other thread, at once. Backpressure (as Pony's
 *  muting): an actor whose turn sent thousands of messages, some to a
 *  receiver with thousands waiting, runs again only once that backlog
 *  has shrunk (docs/architecture.md, "Backpressure"); the sends
 *  themselves succeed.
 *  Arguments: tag, application-defined (below TR_TAG_RESERVED_MIN: see
 *  the table above); data may be NULL when size is 0.
 *  Errors: TR_EINVAL (rt NULL, data NULL with size > 0), TR_ENOPROC (dead
 *  or never-existing pid, another runtime's pid, a blocking caller's reply
 *  address: nothing is queued), TR_EFULL (bounded mailbox full), TR_ENOMEM
 *  (also for a payload over the message limit, 4 GiB less a small header),
 *  TR_ECLOSED. Thread-safety: any thread. */
TR_API int tr_send(tr_runtime *rt, tr_pid to, uint32_t tag, const void *data, size_t size);

/** tr_cast: as tr_send, but the message arrives in handle_cast
 *  (gen_server:cast/2). Errors: as tr_send. Thread-safety: any thread (as
 *  tr_send). */
TR_API int tr_cast(tr_runtime *rt, tr_pid to, uint32_t tag, const void *data, size_t size);

/** tr_cast_owned: ownership-transfer cast: the runtime takes `data` without
 *  copying and calls dtor(data) after the receiver's handle_cast returns or
 *  when the message is dropped (dtor may be NULL when data needs no
 *  release). If this returns 0 the runtime owns data; on error the caller
 *  still does (dtor is not called). Errors: as tr_send. Thread-safety: any
 *  thread (as tr_send). */
TR_API int tr_cast_owned(tr_runtime *rt, tr_pid to, uint32_t tag, void *data, size_t size,
                         void (*dtor)(void *));

/** tr_send_owned: the ownership-transfer form of tr_send (arrives in
 *  handle_info). Ownership as tr_cast_owned: on 0 the runtime owns data and
 *  calls dtor(data) after handle_info returns or when the message is
 *  dropped; on error the caller still owns it. Errors: as tr_send.
 *  Thread-safety: any thread. */
TR_API int tr_send_owned(tr_runtime *rt, tr_pid to, uint32_t tag, void *data, size_t size,
                         void (*dtor)(void *));

/* ------------------------------------------------------------------------ */
/* Calls and replies                                                         */
/* ------------------------------------------------------------------------ */

/** A reply buffer handed to the caller of tr_call. Release with
 *  tr_buf_free. */
typedef struct tr_buf {
    uint32_t tag;
    int32_t code; /* TR_EREMOTE: the application's code (tr_reply_error, a task's error) */
    void *data;   /* owned by the caller after tr_call; NULL when size is 0 */
    size_t size;
} tr_buf;

/** tr_buf_free: releases a reply buffer's data and zeroes it. NULL and
 *  empty buffers are fine; never fails. Thread-safety: any thread (one
 *  thread per buffer). */
TR_API void tr_buf_free(tr_buf *buf);

/** tr_call: synchronous call (gen_server:call/3) from a thread that is not
 *  a scheduler thread, outside any callback: sends a TR_MSG_CALL to `to`
 *  and blocks until the reply or the timeout. The server answers with
 *  tr_reply (at once or later, from anywhere); the from.pid it gets is a
 *  reply-only address (see tr_from). A thread's sequential calls usually
 *  come from the same address (the runtime keeps idle ones); a late reply
 *  to an earlier call never reaches a later one. When a core is likely
 *  free (more than one CPU, and a scheduler thread parked or fewer
 *  scheduler threads than CPUs), the caller spins for up to 20
 *  microseconds before it sleeps, so a quick server answers without a
 *  thread wake-up on either side.
 *  Arguments: req/size copied as in tr_send; reply may be NULL (the reply
 *  is discarded), else receives the reply (caller frees with tr_buf_free;
 *  on error it is zeroed, except for TR_EREMOTE, where code holds the
 *  server's application code and data its NUL-terminated error text (both
 *  from tr_reply_error), TR_ECRASHED and the troupe codes a pool or a
 *  supervisor answers with, where data holds the error text, and TR_EEXITED where data
 *  holds the server's exit reason as tr_reason_format writes it, e.g.
 *  "error(42): boom", NUL-terminated and counted in size: the same text an
 *  actor's tr_request gets; the caller frees it with tr_buf_free as any
 *  reply); timeout_ms > 0 or TR_INFINITY (a timeout past the clock's range,
 *  such as INT64_MAX, waits as TR_INFINITY; see tr_duration_ms).
 *  Errors: TR_EINVAL (bad arguments, timeout 0 or < -1), TR_EDEADLK (on a
 *  scheduler thread, or inside any callback — init included, wherever it
 *  runs: use tr_request), TR_ENOPROC (to is dead, or names no process of
 *  rt: another runtime's pid, a blocking caller's reply address),
 *  TR_ETIMEDOUT (no reply in time; a late reply is dropped, and the server
 *  may still have handled the request), TR_EEXITED (the server exited before
 *  replying), TR_ECLOSED (runtime stopping), TR_ENOMEM, TR_EREMOTE (the
 *  server answered with tr_reply_error: reply->code is its code), or the
 *  troupe code a library server (pool, supervisor) refused the request
 *  with. Never a code outside troupe's table. Thread-safety: any
 *  non-scheduler thread, outside callbacks; many threads may call at once. */
TR_API int tr_call(tr_runtime *rt, tr_pid to, uint32_t tag, const void *req, size_t size,
                   tr_buf *reply, tr_duration_ms timeout_ms);

/** tr_request: asynchronous call from inside an actor (gen_server:send_request
 *  + receive): sends a TR_MSG_CALL to `to` and returns at once. Exactly one
 *  TR_MSG_REPLY with msg->ref == *req_id later reaches handle_info: the
 *  reply (status 0), or status TR_ETIMEDOUT after timeout_ms, or TR_EEXITED
 *  (data: the server's exit reason as text, as tr_reason_format writes it)
 *  if the server exits before replying to a request it had received, or
 *  TR_EREMOTE with msg->code the server's tr_reply_error code. Later
 *  replies are dropped.
 *  Arguments: timeout_ms > 0 or TR_INFINITY (a timeout past the clock's
 *  range never fires, as TR_INFINITY); req_id may be NULL.
 *  Errors: TR_EINVAL, TR_ENOPROC (to is dead or names no process of this
 *  runtime: no REPLY will come),
 *  TR_EFULL, TR_ENOMEM. Thread-safety: the callback's thread. */
TR_API int tr_request(tr_self *self, tr_pid to, uint32_t tag, const void *req, size_t size,
                      tr_duration_ms timeout_ms, uint64_t *req_id);

/** tr_reply: answers a call (gen_server:reply/2). Copies data. May be
 *  called from any thread, at most once per from; replying to a caller
 *  that gave up (timeout) or died is not an error: the reply is dropped
 *  and 0 returned.
 *  Errors: TR_EINVAL (from.rt NULL, data NULL with size > 0), TR_ENOMEM
 *  (the reply could not be allocated: the caller is then answered with
 *  the error TR_ENOMEM and no data instead, when even that small block can
 *  be had; if not, the server should fail, so that the caller learns of it
 *  through its monitor, as the supervisor does).
 *  Thread-safety: any thread. */
TR_API int tr_reply(tr_from from, uint32_t tag, const void *data, size_t size);

/** tr_reply_error: answers a call with an application error (as nng and
 *  libuv keep their code space closed, troupe's codes and the
 *  application's never mix): the blocking caller's tr_call returns
 *  TR_EREMOTE, with reply->code = code and the text in reply->data; an
 *  actor's REPLY message has status TR_EREMOTE, msg->code = code and
 *  data = the text. code is the application's, any int (0 and troupe's
 *  own values included: they are passed on as they are, in the code
 *  field). text may be NULL (""). Errors: as tr_reply. Thread-safety: any
 *  thread (as tr_reply). */
TR_API int tr_reply_error(tr_from from, int code, const char *text);

/** tr_forward: hands the message being handled, as it is (the same block:
 *  sender, ref, tag and payload, an owned payload included, nothing
 *  copied), to the actor `to`, as Akka's `forward` and CAF's `delegate`.
 *  A call arrives at `to` as a call from the original caller, and `to`
 *  replies to it directly (tr_reply on the `from` its handle_call gets);
 *  a cast arrives as a cast, a plain message (TR_MSG_INFO or TR_MSG_TIMER)
 *  as that. Routers, proxies and pools (tr_pool) dispatch this way.
 *  The forwarder answers for a forwarded call: if `to` exits before it
 *  replies, the runtime tells the caller nothing (the caller monitors the
 *  actor it called, as gen_server:call does, not `to`): the forwarder
 *  should monitor `to` and tr_reply_error for it, as the pool does, or
 *  the caller's timeout ends its wait. A failure of the forwarder's own
 *  callback after a successful tr_forward does not answer the call
 *  either.
 *  Arguments: self, the running actor, inside handle_call, handle_cast or
 *  handle_info; to, an actor of the same runtime with an unbounded
 *  mailbox.
 *  Ownership: on success the message is `to`'s; the callback must not
 *  use msg after tr_forward returns 0 (its data is no longer the
 *  callback's), and it is not freed when the callback returns. On error
 *  nothing was sent and the message is still the callback's.
 *  Errors: TR_EINVAL (self NULL, not inside a callback of self, the
 *  message is a reply, an EXIT or a DOWN, or it was forwarded already in
 *  this callback), TR_ENOPROC (to is not a live actor of this runtime),
 *  TR_EBUSY (to has a bounded mailbox, which could refuse the block:
 *  copy the message with tr_cast or tr_send instead), TR_EKILLED (self
 *  was killed inside this callback).
 *  Thread-safety: the calling actor's callback only. */
TR_API int tr_forward(tr_self *self, tr_pid to);

/** tr_msg_forwarded: true when msg reached this actor through tr_forward
 *  (its sender is the original sender, not the forwarder). Never fails
 *  (false for NULL). Thread-safety: the callback that got msg. */
TR_API bool tr_msg_forwarded(const tr_msg *msg);

/** tr_get_state: a copy of the actor's state bytes, taken between two of
 *  its callbacks (sys:get_state/2), for debugging: the actor answers the
 *  request itself, in its mailbox's order, without calling any callback.
 *  Arguments: out receives behaviour->state_size bytes (freed with
 *  tr_buf_free; size 0 and data NULL for a stateless behaviour or a plain
 *  fiber); timeout_ms as tr_call's. The bytes are a shallow copy: pointers
 *  in the state point into the live actor's memory, which it may free at
 *  any time. A behaviour run on a fiber (on_fiber) may be parked inside a
 *  callback: the copy is then taken where it blocked.
 *  Errors: as tr_call (TR_EINVAL, TR_EDEADLK, TR_ENOPROC, TR_ETIMEDOUT,
 *  TR_EEXITED, TR_ECLOSED, TR_ENOMEM); out is zeroed on error.
 *  Thread-safety: as tr_call (a plain thread, or a fiber, which parks).
 *  From an actor: tr_request with tag TR_TAG_GET_STATE and no payload; the
 *  REPLY carries the bytes. */
TR_API int tr_get_state(tr_runtime *rt, tr_pid pid, tr_buf *out, tr_duration_ms timeout_ms);

/** A function tr_replace_state runs on the actor's state: state is its
 *  state block (size bytes, behaviour->state_size; NULL and 0 for a
 *  stateless behaviour), arg is tr_replace_state's. */
typedef void (*tr_state_fn)(void *state, size_t size, void *arg);

/** tr_replace_state: runs fn(state, size, arg) inside the actor, between
 *  two of its callbacks, and waits until it has run (sys:replace_state/2,
 *  whose StateFun is this fn). fn runs on the actor's scheduler thread
 *  while the caller waits: it must not block, and must not call troupe
 *  functions that act for the actor (it has no tr_self). A behaviour run
 *  on a fiber may be parked inside a callback: fn then runs while that
 *  callback waits.
 *  Arguments: fn not NULL; arg passed as is (borrowed until this returns);
 *  timeout_ms as tr_call's. After TR_ETIMEDOUT fn may still run later, with
 *  arg: keep arg alive (or use a timeout you can afford to wait).
 *  Errors: as tr_get_state (TR_EINVAL also for fn NULL).
 *  Thread-safety: as tr_call. From an actor: tr_request with tag
 *  TR_TAG_REPLACE_STATE and a tr_state_change payload. */
TR_API int tr_replace_state(tr_runtime *rt, tr_pid pid, tr_state_fn fn, void *arg,
                            tr_duration_ms timeout_ms);

/** Call tags every actor answers itself (before handle_call): the state
 *  requests of tr_get_state and tr_replace_state, for tr_request. */
#define TR_TAG_GET_STATE 0xFFFF0001u
#define TR_TAG_REPLACE_STATE 0xFFFF0002u

/** The payload of a TR_TAG_REPLACE_STATE request. */
typedef struct tr_state_change {
    tr_state_fn fn;
    void *arg;
} tr_state_change;

/* ------------------------------------------------------------------------ */
/* Timers                                                                    */
/* ------------------------------------------------------------------------ */

/** A timer id: names a pending timer for tr_cancel_timer. 0 is never a
 *  timer. */
typedef uint64_t tr_timer;

/** tr_send_after: after delay_ms milliseconds, delivers a TR_MSG_TIMER with
 *  this tag and a copy of data to `to` (erlang:send_after/3). Never
 *  earlier than delay_ms; later by the wake-up latency plus a slack of
 *  1/512 of the delay, at most 1 ms (timers that fall close together share
 *  one wake-up). Timers do not occupy a thread each. A timer whose target
 *  is dead when it fires is discarded.
 *  Arguments: delay_ms >= 0 (a delay past the clock's range, such as
 *  INT64_MAX, saturates: the timer never fires and stays pending until
 *  cancelled or the runtime shuts down); data/size copied at the call;
 *  timer may be NULL, else receives the id (also in the message's ref).
 *  Errors: TR_EINVAL (rt NULL, delay_ms < 0, data NULL with size > 0, to
 *  TR_PID_NONE), TR_ENOPROC (to names no process of rt: another runtime's
 *  pid, a blocking caller's reply address; a dead pid of rt is accepted),
 *  TR_ENOMEM (no memory, or a payload over the message limit, 4 GiB less a
 *  small header: refused here, never dropped when the timer fires),
 *  TR_ECLOSED. Thread-safety: any thread. */
TR_API int tr_send_after(tr_runtime *rt, tr_pid to, tr_duration_ms delay_ms, uint32_t tag,
                         const void *data, size_t size, tr_timer *timer);

/** tr_send_interval: as tr_send_after, but fires every period_ms (> 0)
 *  until cancelled or until the target is dead (timer:send_interval/3).
 *  Ticks that fall behind are not bunched up: the next tick is scheduled
 *  from the intended time. A period past the clock's range never fires
 *  (as tr_send_after). Errors as tr_send_after (TR_EINVAL also for
 *  period_ms <= 0). Thread-safety: any thread. */
TR_API int tr_send_interval(tr_runtime *rt, tr_pid to, tr_duration_ms period_ms, uint32_t tag,
                            const void *data, size_t size, tr_timer *timer);

/** tr_cancel_timer: cancels a timer in O(log n) for n pending timers
 *  (erlang:cancel_timer/1); its memory is released at once.
 *  Returns 1 if the timer was still pending (its message will not be
 *  sent), 0 if it already fired or was cancelled, TR_EINVAL for rt NULL
 *  or timer 0. A message already queued is not recalled.
 *  Thread-safety: any thread. */
TR_API int tr_cancel_timer(tr_runtime *rt, tr_timer timer);

/** tr_now_ms: the runtime's monotonic clock (CLOCK_MONOTONIC) in
 *  milliseconds. Never fails. Thread-safety: any thread. */
TR_API int64_t tr_now_ms(void);

/* ------------------------------------------------------------------------ */
/* Introspection                                                             */
/* ------------------------------------------------------------------------ */

/** tr_mailbox_len: messages waiting in pid's mailbox (approximate while
 *  senders race), as process_info(P, message_queue_len).
 *  Errors: TR_EINVAL, TR_ENOPROC (dead, or no process of rt: another
 *  runtime's pid, a blocking caller's reply address). Returns the count (>=
 *  0) on success. Thread-safety: any thread. */
TR_API long tr_mailbox_len(tr_runtime *rt, tr_pid pid);

#ifdef __cplusplus
}
#endif
#endif
