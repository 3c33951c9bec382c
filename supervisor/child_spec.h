/* troupe — child specs inside a supervisor (private): validating a
 * tr_child_spec or a whole tr_sup_spec, and the supervisor's own copy of a
 * child's spec (tr__sup_child), with the state it keeps about the child.
 */
#ifndef TROUPE_SUPERVISOR_CHILD_SPEC_H
#define TROUPE_SUPERVISOR_CHILD_SPEC_H

#include <stdbool.h>

#include <troupe/supervisor.h>

/* A supervisor's child: its spec, copied (id and arg), and what the
 * supervisor knows of it. */
typedef struct tr__sup_child {
    char id[TR_CHILD_ID_MAX + 1];
    const tr_behaviour *behaviour;
    tr_fiber_fn fiber; /* a fiber child (behaviour NULL) */
    size_t stack_size;
    bool on_fiber;   /* the behaviour's callbacks run on a fiber */
    const void *arg; /* what init gets: arg_copy, the template's copy, or the caller's */
    void *arg_copy;  /* owned copy, or NULL */
    size_t arg_size;
    tr_restart_type restart;
    tr_duration_ms shutdown_ms;
    tr_child_type type;
    char *name;      /* owned copy of the spec's name, or NULL */
    tr_pid pid;      /* NONE when not running */
    tr_pid prev_pid; /* the pid of its latest start (reports: a restart's old pid) */
    bool significant;
    uint32_t restarts;
    bool should_run;      /* the supervisor wants it running (restart due) */
    bool backoff_pending; /* a backoff timer will start it */
    tr_timer backoff_timer;
    tr_duration_ms backoff_next;
    int64_t started_ms;
    uint64_t serial; /* names the child in timers and ops */
} tr__sup_child;

/* tr__sup_validate_child: 0 when c is a well-formed child spec (need_id:
 * a non-empty id is required, as in every strategy but
 * simple_one_for_one), else TR_EINVAL. */
int tr__sup_validate_child(const tr_child_spec *c, bool need_id);

/* The same checks saying what is wrong: *what (may be NULL) gets a static
 * text ("duplicate id", "missing behaviour", "bad restart type", ...) or
 * NULL when valid; for a spec, *index (may be NULL) the index of the child
 * concerned in spec->children, -1 when none. */
int tr__sup_check_child(const tr_child_spec *c, bool need_id, const char **what);
int tr__sup_check_spec(const tr_sup_spec *spec, const char **what, long *index);

/* tr__sup_validate_spec: 0 when spec is well formed, else TR_EINVAL.
 * Used by tr_supervisor_start and the supervisor's init before spawning. */
int tr__sup_validate_spec(const tr_sup_spec *spec);

/* tr__sup_child_fill: zeroes c and fills it from spec (a valid one),
 * copying id and arg. Returns 0 or TR_ENOMEM (free c with
 * tr__sup_child_free then). */
int tr__sup_child_fill(tr__sup_child *c, const tr_child_spec *spec);

/* tr__sup_child_free: frees c (allocated with tr__malloc) and its arg
 * copy. NULL is a no-op. */
void tr__sup_child_free(tr__sup_child *c);

#endif
