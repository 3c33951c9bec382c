/* troupe — supervisors (OTP supervisor).
 *
 * A supervisor is an actor that traps exits, starts its children in spec
 * order (each linked to it), restarts them by their restart type and the
 * strategy, and stops them in reverse start order. Too many restarts
 * (more than `intensity` within `period_ms`) make it stop all children and
 * exit with reason shutdown, which its own supervisor sees. Supervisors
 * nest: a child whose behaviour is tr_supervisor_behaviour() and whose arg
 * is a tr_sup_spec is a supervisor.
 *
 * Children are stopped as OTP does: brutal_kill sends kill; a timeout
 * sends shutdown, waits up to shutdown_ms for the exit, then kills.
 */
#ifndef TROUPE_SUPERVISOR_H
#define TROUPE_SUPERVISOR_H

#include "actor.h"
#include "fiber.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Restart types, as OTP. */
typedef enum tr_restart_type {
    TR_PERMANENT = 0, /* always restarted */
    TR_TRANSIENT,     /* restarted after an abnormal exit (not normal/shutdown) */
    TR_TEMPORARY      /* never restarted; its spec is removed when it exits */
} tr_restart_type;

/** Child types, as OTP. */
typedef enum tr_child_type { TR_WORKER = 0, TR_SUPERVISOR } tr_child_type;

/** shutdown_ms value: kill the child at once (brutal_kill). */
#define TR_BRUTAL_KILL ((tr_duration_ms)0)

/** Longest child id, in bytes, without the NUL. */
#define TR_CHILD_ID_MAX 63

/** A child spec. The supervisor copies it (id, and arg when arg_size > 0)
 *  when it accepts it.
 *  - id: 1..TR_CHILD_ID_MAX bytes, unique within the supervisor (may be
 *    NULL for simple_one_for_one, where the template's id is used).
 *  - behaviour/arg: what to spawn. arg_size > 0: the supervisor keeps a
 *    copy of those bytes and passes the copy to every init; arg_size 0: arg
 *    is passed as is (the caller keeps it alive while the child may be
 *    restarted). arg_size, or the behaviour's state_size, over
 *    PTRDIFF_MAX / 2 is invalid (TR_EINVAL).
 *  - restart: permanent, transient or temporary.
 *  - shutdown_ms: TR_BRUTAL_KILL (0), a timeout in ms (> 0) or TR_INFINITY
 *    (one past the clock's range waits as TR_INFINITY); other negative
 *    values are invalid.
 *    Zero-initialized means brutal_kill; OTP's default for workers is
 *    5000, so set it.
 *  - type: worker or supervisor (a supervisor child gets shutdown_ms
 *    TR_INFINITY when left 0, as OTP). */
typedef struct tr_child_spec {
    const char *id;
    const tr_behaviour *behaviour;
    const void *arg;
    size_t arg_size;
    tr_restart_type restart;
    tr_duration_ms shutdown_ms;
    tr_child_type type;
    /* A fiber child instead of a behaviour: set fiber (and leave behaviour
     * NULL); the fiber runs fiber(self, arg) (arg as the child's init would
     * get it: the supervisor's copy when arg_size > 0). stack_size as
     * tr_fiber_opts (0 = default). A fiber child is restarted, shut down
     * (tr_exit shutdown, then kill after shutdown_ms) and counted as any
     * child; it traps no exits unless it asks (tr_trap_exit). */
    tr_fiber_fn fiber;
    size_t stack_size;
    /* With a behaviour: run its callbacks on a fiber of their own
     * (tr_spawn_opts.on_fiber), so they may block. */
    bool on_fiber;
    /* Register the child under this name before its init runs
     * (tr_spawn_opts.name; copied; NULL = none); a fiber child is
     * registered before its body starts, by the same rules. Across a restart the
     * supervisor keeps the name: from the child's exit until its next pid
     * is registered (also through a backoff delay), tr_whereis gives
     * TR_PID_NONE and tr_send_named, tr_cast_named, tr_call_named and
     * tr_register give TR_EAGAIN ("restarting, try again"), never
     * TR_ENOTFOUND; a call queued at the old pid still ends with TR_EEXITED.
     * When the child is not restarted (temporary, transient after a normal
     * exit, terminate_child, the supervisor stopping or giving up) the name
     * is freed; so are the names a supervisor keeps when it exits for any
     * reason, kill included. A name taken by another actor makes the start
     * fail with TR_EEXIST. Invalid (TR_EINVAL): empty, longer than
     * TR_NAME_MAX, the same name twice in one spec, or on a
     * simple_one_for_one template ("name on a simple_one_for_one template
     * (many children)": its children would share one name; OTP's
     * simple_one_for_one children have no names either). */
    const char *name;
    /* OTP 24's significant child: its own exit (not one the supervisor
     * orders) can make the supervisor shut down, as tr_sup_flags
     * .auto_shutdown says. Only for transient and temporary children, and
     * only with auto_shutdown other than TR_AUTO_SHUTDOWN_NEVER (else
     * TR_EINVAL: "significant permanent child", "significant child without
     * auto_shutdown"). */
    bool significant;
} tr_child_spec;

/** Strategies, as OTP. */
typedef enum tr_strategy {
    TR_ONE_FOR_ONE = 0,
    TR_ONE_FOR_ALL,
    TR_REST_FOR_ONE,
    TR_SIMPLE_ONE_FOR_ONE
} tr_strategy;

/** auto_shutdown (OTP 24): whether significant children's exits shut the
 *  supervisor down. Only a significant child that exits by itself and is
 *  not restarted counts (a transient one after a normal or shutdown exit, a
 *  temporary one after any exit); children the supervisor stops (terminate
 *  child, a group restart, its own shutdown) do not. */
typedef enum tr_auto_shutdown {
    TR_AUTO_SHUTDOWN_NEVER = 0,       /* never: significant children are refused */
    TR_AUTO_SHUTDOWN_ANY_SIGNIFICANT, /* any_significant: when one significant child exits */
    TR_AUTO_SHUTDOWN_ALL_SIGNIFICANT  /* all_significant: when no significant child is left */
} tr_auto_shutdown;

/** Supervisor flags. Zero-initialized: one_for_one, 1 restart in 5000 ms
 *  (OTP's defaults), no backoff.
 *  - intensity/period_ms: more than `intensity` restarts within
 *    `period_ms` escalate. With period_ms 0 both take OTP's defaults; to
 *    allow no restart at all, set intensity 0 and period_ms > 0.
 *  - backoff_initial_ms > 0 delays each restart of a child: the first by
 *    backoff_initial_ms, each consecutive one by twice the previous, capped
 *    at backoff_max_ms (0 = no cap), plus a random jitter of up to
 *    backoff_jitter_pct percent. The delay returns to the initial value
 *    after the child has run for backoff_max_ms (or 5 s when no cap)
 *    without exiting. The doubling and the jitter saturate: a delay past
 *    the clock's range (INT64_MAX, say) means the child is not restarted.
 *    Negative values, or a jitter over 100, are invalid (TR_EINVAL).
 *    one_for_all and rest_for_one honour it too: after a child's exit the
 *    group is stopped at once and started again, in order, when the
 *    crashed child's delay has passed (nothing of the group starts before).
 *  - auto_shutdown: see tr_auto_shutdown; the supervisor then exits with
 *    reason shutdown, stopping its other children first (OTP 24). */
typedef struct tr_sup_flags {
    tr_strategy strategy;
    int intensity;
    tr_duration_ms period_ms;
    tr_duration_ms backoff_initial_ms;
    tr_duration_ms backoff_max_ms;
    unsigned backoff_jitter_pct;
    tr_auto_shutdown auto_shutdown;
} tr_sup_flags;

/** A supervisor spec: flags and the children in start order. For
 *  simple_one_for_one, exactly one child spec: the template for
 *  tr_supervisor_start_child. The supervisor copies everything in init. */
typedef struct tr_sup_spec {
    tr_sup_flags flags;
    const tr_child_spec *children;
    size_t n_children;
} tr_sup_spec;

/** tr_supervisor_behaviour: the supervisor behaviour, for a child spec
 *  whose arg is a tr_sup_spec (a nested supervisor) or for tr_spawn.
 *  Returns a static object (never NULL, never freed); never fails.
 *  Thread-safety: any thread. */
TR_API const tr_behaviour *tr_supervisor_behaviour(void);

/** tr_supervisor_start: spawns a supervisor and starts its children in
 *  order before returning (supervisor:start_link/2 without the link; use
 *  a spec child of another supervisor, or tr_spawn_link with
 *  tr_supervisor_behaviour(), for a linked one).
 *  Arguments: spec (copied); out may be NULL.
 *  Errors: TR_EINVAL (NULL, malformed spec: duplicate or bad id, missing
 *  behaviour, bad restart/shutdown values, arg_size or state_size over
 *  PTRDIFF_MAX / 2, negative flags, simple_one_for_one without
 *  exactly one template), TR_EINIT (a child's init failed: the children
 *  already started are stopped in reverse order, nothing is left),
 *  TR_ENOMEM, TR_ECLOSED. A child's init runs on the calling thread here
 *  and on a scheduler thread at a restart; in both, blocking calls return
 *  TR_EDEADLK (the rule of every callback). A restart whose init fails
 *  counts as a restart; when that makes the supervisor give up, its exit
 *  reason is shutdown with code TR_EINIT and text "failed to start child
 *  ID" (OTP's {shutdown, {failed_to_start_child, Id, _}}).
 *  Thread-safety: any thread. */
TR_API int tr_supervisor_start(tr_runtime *rt, const tr_sup_spec *spec, tr_pid *out);

/** tr_supervisor_start_ex: tr_supervisor_start that says why it failed
 *  (supervisor:start_link/2's {error, Reason}). Arguments and errors as
 *  tr_supervisor_start; error may be NULL (then exactly
 *  tr_supervisor_start), else it is zeroed on success (child_index -1) and
 *  filled on failure (see tr_start_error in troupe/actor.h):
 *  - TR_EINVAL for a malformed spec: reason error(TR_EINVAL, WHAT), WHAT
 *    one of "no spec", "bad strategy", "bad intensity or period", "bad
 *    backoff", "children NULL", "simple_one_for_one needs exactly one
 *    template", or for one child (child_id and child_index name it):
 *    "missing behaviour", "both a behaviour and a fiber", "bad stack
 *    size", "id too long", "missing id", "bad restart type", "bad
 *    shutdown", "bad child type", "arg NULL with arg_size", "size too
 *    large", "bad name", "name on a simple_one_for_one template (many
 *    children)", "duplicate id", "duplicate name",
 *    "significant permanent child", "significant child without
 *    auto_shutdown", and for the flags "bad auto_shutdown";
 *  - TR_EINIT (or TR_ENOMEM from a child's init): child_id and
 *    child_index name the child that failed, reason is the reason its init
 *    stopped or failed with (tr_stop/tr_fail), or error(TR_EEXIST, ...)
 *    when its name was taken;
 *  - other errors: an error reason with that code.
 *  Thread-safety: any thread. */
TR_API int tr_supervisor_start_ex(tr_runtime *rt, const tr_sup_spec *spec, tr_pid *out,
                                  tr_start_error *error);

/** Information about one child (supervisor:which_children/1). */
typedef struct tr_child_info {
    char id[TR_CHILD_ID_MAX + 1];
    tr_pid pid; /* TR_PID_NONE when not running */
    tr_child_type type;
    tr_restart_type restart;
    uint32_t restarts; /* times this child was restarted by the supervisor */
} tr_child_info;

/** Child counts (supervisor:count_children/1). */
typedef struct tr_child_counts {
    size_t specs, active, supervisors, workers;
} tr_child_counts;

/* The management calls below are blocking calls to the supervisor (each is
 * a tr_call, so: any thread that is not a scheduler thread, outside any
 * callback; timeout as OTP's, infinity). From inside an actor, send the
 * same requests with tr_request and the TR_SUP_* tags below. Common errors:
 * TR_EINVAL (NULL arguments), TR_ENOPROC (sup dead, TR_PID_NONE, another
 * runtime's pid), TR_EDEADLK (scheduler thread, or inside any callback: a
 * child's init included, on its first start as on a restart), TR_ECLOSED,
 * TR_ESHUTDOWN (the supervisor is stopping: its shutdown sequence has
 * begun), TR_EEXITED (the supervisor exited while the call waited: killed,
 * or it gave up; also when sup is an actor that is not a supervisor and
 * crashes on the unexpected call, as gen_server:call to the wrong process
 * in OTP), TR_ENOMEM (the supervisor could not allocate its reply). */

/** tr_supervisor_start_child: adds a child spec and starts it
 *  (supervisor:start_child/2). For simple_one_for_one, spec may be NULL
 *  (the template is used) or give an arg (and arg_size) for this child
 *  only; other fields are taken from the template.
 *  Errors: TR_EEXIST (id taken), TR_EINIT (init failed; the spec is not
 *  kept), TR_EINVAL (malformed spec, arg_size over PTRDIFF_MAX / 2),
 *  TR_ENOMEM (arg could not be copied). *out (may be NULL) gets the pid.
 *  Thread-safety: any non-scheduler thread. */
TR_API int tr_supervisor_start_child(tr_runtime *rt, tr_pid sup, const tr_child_spec *spec,
                                     tr_pid *out);

/** tr_supervisor_start_child_ex: tr_supervisor_start_child that also says
 *  why a start failed, as tr_supervisor_start_ex does for a whole spec
 *  (OTP's {error, Reason} from supervisor:start_child/2). error may be
 *  NULL (then it is tr_supervisor_start_child); else it is zeroed on
 *  success (reason normal, child_index -1) and on failure filled as
 *  tr_start_error (troupe/actor.h) says:
 *  - child_id: the spec's id (simple_one_for_one: the template's id);
 *    child_index is always -1 (there is no spec array);
 *  - reason: for TR_EINIT (and a TR_ENOMEM init reported) the reason the
 *    child's init stopped or failed with; for TR_EINVAL an error reason
 *    with code TR_EINVAL saying what is wrong ("missing behaviour", "bad
 *    restart type", "bad arg", ...), for TR_EEXIST "duplicate id"; a name
 *    held by another actor is TR_EEXIST with tr_strerror's text; any other
 *    error (the call itself failing: TR_EEXITED, TR_ESHUTDOWN, ...) an
 *    error reason with that code and tr_strerror's text.
 *  Arguments, return value and errors: as tr_supervisor_start_child.
 *  Thread-safety: any non-scheduler thread. */
TR_API int tr_supervisor_start_child_ex(tr_runtime *rt, tr_pid sup, const tr_child_spec *spec,
                                        tr_pid *out, tr_start_error *error);

/** tr_supervisor_terminate_child: stops the child by its shutdown rule and
 *  keeps its spec (supervisor:terminate_child/2); returns once it is gone.
 *  For simple_one_for_one, id is ignored and pid names the child;
 *  elsewhere pid is ignored. Errors: TR_ENOTFOUND (no such child), and the
 *  common ones above. Thread-safety: any non-scheduler thread. */
TR_API int tr_supervisor_terminate_child(tr_runtime *rt, tr_pid sup, const char *id, tr_pid pid);

/** tr_supervisor_restart_child: starts a stopped child again from its spec
 *  (supervisor:restart_child/2); *out (may be NULL) gets its pid. Errors:
 *  TR_ENOTFOUND, TR_ERUNNING (it runs), TR_EINIT, and the common ones
 *  above. Thread-safety: any non-scheduler thread. */
TR_API int tr_supervisor_restart_child(tr_runtime *rt, tr_pid sup, const char *id, tr_pid *out);

/** tr_supervisor_restart_child_ex: tr_supervisor_restart_child that also
 *  says why the start failed, as tr_supervisor_start_child_ex: error (may
 *  be NULL) is zeroed on success; on failure child_id is id, child_index
 *  -1, and reason the child's init reason for TR_EINIT, else an error
 *  reason with the code (TR_ENOTFOUND, TR_ERUNNING, ...) and tr_strerror's
 *  text. Arguments, return value and errors: as
 *  tr_supervisor_restart_child. Thread-safety: any non-scheduler thread. */
TR_API int tr_supervisor_restart_child_ex(tr_runtime *rt, tr_pid sup, const char *id, tr_pid *out,
                                          tr_start_error *error);

/** tr_supervisor_delete_child: removes a stopped child's spec
 *  (supervisor:delete_child/2). Errors: TR_ENOTFOUND, TR_ERUNNING, and the
 *  common ones above. Thread-safety: any non-scheduler thread. */
TR_API int tr_supervisor_delete_child(tr_runtime *rt, tr_pid sup, const char *id);

/** tr_supervisor_which_children: copies up to max children (start order)
 *  into out (caller-owned array of max entries) and their total number
 *  into *n (supervisor:which_children/1). out may be NULL when max is 0;
 *  n may be NULL. Errors: the common ones above (TR_EINVAL also for out
 *  NULL with max > 0). Thread-safety: any non-scheduler thread. */
TR_API int tr_supervisor_which_children(tr_runtime *rt, tr_pid sup, tr_child_info *out, size_t max,
                                        size_t *n);

/** tr_supervisor_count_children: the counts of specs, running children,
 *  supervisors and workers into *out (supervisor:count_children/1).
 *  Errors: the common ones above. Thread-safety: any non-scheduler thread. */
TR_API int tr_supervisor_count_children(tr_runtime *rt, tr_pid sup, tr_child_counts *out);

/** tr_supervisor_stop: stops the supervisor with reason shutdown (its
 *  children stop first, in reverse start order) and waits for it to exit,
 *  up to timeout_ms (> 0 or TR_INFINITY; past the clock's range waits as
 *  TR_INFINITY). Errors: TR_EINVAL (bad timeout), TR_ETIMEDOUT, and the
 *  common ones above. Thread-safety: any non-scheduler thread. */
TR_API int tr_supervisor_stop(tr_runtime *rt, tr_pid sup, tr_duration_ms timeout_ms);

/* Request tags understood by a supervisor's handle_call (for tr_request from
 * an actor), in the supervisor's reserved range 0xFFFF0100-0xFFFF01FF (the
 * table of reserved tags is in troupe/actor.h, above tr_send). Payloads: START_CHILD a
 * tr_child_spec (its pointers must stay valid until the reply), reply a tr_pid;
 * TERMINATE/RESTART/DELETE a tr_sup_child_ref, reply empty (RESTART: a tr_pid); WHICH: no payload,
 * reply an array of tr_child_info; COUNT: no payload, reply a
 * tr_child_counts. Errors come back as REPLY status. */
#define TR_SUP_START_CHILD 0xFFFF0101u
#define TR_SUP_TERMINATE_CHILD 0xFFFF0102u
#define TR_SUP_RESTART_CHILD 0xFFFF0103u
#define TR_SUP_DELETE_CHILD 0xFFFF0104u
#define TR_SUP_WHICH_CHILDREN 0xFFFF0105u
#define TR_SUP_COUNT_CHILDREN 0xFFFF0106u

/** Payload naming a child for the TERMINATE/RESTART/DELETE requests. */
typedef struct tr_sup_child_ref {
    char id[TR_CHILD_ID_MAX + 1];
    tr_pid pid; /* simple_one_for_one */
} tr_sup_child_ref;

#ifdef __cplusplus
}
#endif
#endif
