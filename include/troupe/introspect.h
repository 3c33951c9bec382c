/* troupe — introspection: live actors, one actor's particulars, the
 * supervision tree and the runtime's metrics, from any thread (OTP's
 * erlang:processes/0, process_info/2, supervisor:which_children/1 walked
 * as a tree, and what observer shows).
 *
 * Everything here is a snapshot: actors start and exit while it is taken,
 * so an answer may be out of date by the time it is read, never torn.
 */
#ifndef TROUPE_INTROSPECT_H
#define TROUPE_INTROSPECT_H

#include <stdio.h>

#include "actor.h"
#include "registry.h"

#ifdef __cplusplus
extern "C" {
#endif

/** tr_pid_format: writes pid as "<R.I.G>" (the runtime's id, the slot
 *  index, the slot's generation: Erlang's <0.I.S> shape; "<none>" for
 *  TR_PID_NONE) into buf (size bytes; 32 always suffice) and returns buf.
 *  Never fails (buf NULL or size 0: returns buf, writes nothing).
 *  Thread-safety: pure, any thread. */
TR_API char *tr_pid_format(tr_pid pid, char *buf, size_t size);

/* ---- live actors ------------------------------------------------------- */

/** A snapshot of the live actors (opaque). */
typedef struct tr_proc_iter tr_proc_iter;

/** tr_processes_open: takes a snapshot of the pids of every live actor
 *  (erlang:processes/0; blocking callers' reply addresses are not actors
 *  and are not listed), in slot order. Walk it with tr_processes_next.
 *  An actor spawned after the snapshot is not in it; one that exits after
 *  it is still listed (tr_is_alive tells).
 *  Ownership: the caller frees *out with tr_processes_close.
 *  Errors: TR_EINVAL (rt or out NULL), TR_ENOMEM.
 *  Thread-safety: any thread (it takes the pid table's lock briefly and
 *  reads the slots lock-free). */
TR_API int tr_processes_open(tr_runtime *rt, tr_proc_iter **out);
/** tr_processes_next: the next pid of the snapshot in *pid: true, or false
 *  at the end (and for NULL arguments). Thread-safety: one thread per
 *  iterator. */
TR_API bool tr_processes_next(tr_proc_iter *it, tr_pid *pid);
/** tr_processes_count: how many pids the snapshot holds (0 for NULL). */
TR_API size_t tr_processes_count(const tr_proc_iter *it);
/** tr_processes_close: frees the snapshot; NULL is a no-op. */
TR_API void tr_processes_close(tr_proc_iter *it);

/* ---- one actor ----------------------------------------------------------- */

#define TR_INFO_NAMES 4 /* names tr_proc_info lists */
#define TR_INFO_PIDS 16 /* pids of each list tr_proc_info holds */

/** What tr_process_info tells about an actor (process_info/2). The lists
 *  hold their first TR_INFO_PIDS (or TR_INFO_NAMES) entries; the n_*
 *  counts are the full numbers. */
typedef struct tr_proc_info {
    tr_pid pid;
    char behaviour[48]; /* the behaviour's name, "" when it has none */
    size_t n_names;     /* names it is registered under */
    char names[TR_INFO_NAMES][TR_NAME_MAX + 1];
    size_t mailbox_len;        /* messages queued */
    uint64_t messages_handled; /* messages its callbacks handled (counted at each turn's end) */
    size_t n_links;
    tr_pid links[TR_INFO_PIDS];
    size_t n_monitors; /* monitors it holds (on other actors) */
    tr_pid monitors[TR_INFO_PIDS];
    size_t n_monitored_by; /* monitors others hold on it */
    tr_pid monitored_by[TR_INFO_PIDS];
    bool trap_exit;
    bool is_fiber;      /* a fiber, or a behaviour run on a fiber */
    tr_pid parent;      /* the actor that spawned it (its supervisor for a child), or TR_PID_NONE */
    int last_scheduler; /* index of the scheduler thread of its last turn, -1: none yet */
} tr_proc_info;

/** tr_process_info: what pid is and holds now (OTP's process_info/2).
 *  Fields written by its owner while a callback runs (messages handled,
 *  the scheduler, trap_exit) are as of its latest turn.
 *  Arguments: info, filled (zeroed first).
 *  Errors: TR_EINVAL (rt or info NULL, pid TR_PID_NONE), TR_ENOPROC (not
 *  a live actor of rt: dead, another runtime's, or a blocking caller's
 *  reply address).
 *  Thread-safety: any thread, callbacks included. */
TR_API int tr_process_info(tr_runtime *rt, tr_pid pid, tr_proc_info *info);

/* ---- formats --------------------------------------------------------------- */

/** Output formats of the writers below. */
typedef enum tr_format {
    TR_FORMAT_TEXT = 0,  /* for people: an indented tree / aligned lines */
    TR_FORMAT_JSON,      /* one JSON value (RFC 8259) */
    TR_FORMAT_PROMETHEUS /* the Prometheus text exposition format (metrics only) */
} tr_format;

/* ---- the supervision tree ------------------------------------------------ */

/** tr_supervision_tree_write: writes the supervision tree under root as
 *  text or JSON (supervisor:which_children/1 applied down the tree, as
 *  observer's application view): each supervisor with its children in
 *  start order, each child with its id, pid (or "-" / null when not
 *  running), type, restart type, restarts and, for a running child, its
 *  behaviour, registered name and mailbox length. root TR_PID_NONE: every
 *  top-level supervisor (one spawned from a plain thread), in pid order.
 *  A supervisor that exits while the tree is walked shows no children.
 *  Text: one line per node, two spaces of indent per level. JSON: an
 *  object {"supervisors": [node...]} where a node is {"id", "pid",
 *  "type", "restart", "restarts", "behaviour", "name", "mailbox",
 *  "children": [node...]} ("children" only for supervisors).
 *  Errors: TR_EINVAL (rt or out NULL, format not TEXT/JSON, root not a
 *  supervisor), TR_ENOPROC (root dead), TR_EDEADLK (on a scheduler thread
 *  or inside a callback: it calls each supervisor), TR_ENOMEM, TR_EIO (a
 *  write to out failed).
 *  Thread-safety: any thread that may block (not a scheduler thread,
 *  outside callbacks). */
TR_API int tr_supervision_tree_write(tr_runtime *rt, tr_pid root, FILE *out, tr_format format);

/* ---- metrics ------------------------------------------------------------- */

/** One scheduler thread's figures. */
typedef struct tr_sched_metrics {
    uint64_t busy_ns;   /* not parked (running, spinning, looking for work) since start */
    uint64_t parked_ns; /* parked on its condition variable */
    uint64_t steals;    /* actors it took from other threads' run queues */
    uint64_t messages;  /* messages handled on it */
} tr_sched_metrics;

/** Runtime metrics: counters since tr_runtime_start, gauges now. */
typedef struct tr_metrics {
    uint64_t uptime_ns;
    unsigned n_sched;           /* entries of sched */
    tr_sched_metrics sched[64]; /* the first 64 scheduler threads */
    uint64_t spawns;            /* actors spawned (a failed init included) */
    uint64_t exits[6];          /* exits by tr_exit_kind (kill counts as killed) */
    uint64_t restarts;          /* children restarted by supervisors */
    uint64_t actors;            /* live actors (gauge) */
    uint64_t timers_pending;    /* timers armed (gauge) */
    uint64_t messages;          /* messages handled, all threads */
} tr_metrics;

/** tr_metrics_get: the runtime's metrics now. Per-thread figures are each
 *  thread's own counters, read without stopping it (each is exact for some
 *  recent moment). Errors: TR_EINVAL (NULL argument). Thread-safety: any
 *  thread. */
TR_API int tr_metrics_get(tr_runtime *rt, tr_metrics *m);

/** tr_metrics_write: writes the metrics to out as the Prometheus text
 *  exposition format (TR_FORMAT_PROMETHEUS, version 0.0.4: # HELP and
 *  # TYPE lines, counters suffixed _total, seconds as floats, per-thread
 *  series labelled scheduler="N", exits labelled kind="..."), as JSON
 *  (TR_FORMAT_JSON: one object), or as text (TR_FORMAT_TEXT: one
 *  "name value" per line). The names: troupe_uptime_seconds,
 *  troupe_scheduler_busy_seconds_total, troupe_scheduler_parked_seconds_total,
 *  troupe_scheduler_steals_total, troupe_scheduler_messages_total,
 *  troupe_spawns_total, troupe_exits_total, troupe_restarts_total,
 *  troupe_actors, troupe_timers_pending.
 *  Errors: TR_EINVAL (rt or out NULL, unknown format), TR_EIO (a write to
 *  out failed). Thread-safety: any thread. */
TR_API int tr_metrics_write(tr_runtime *rt, FILE *out, tr_format format);

#ifdef __cplusplus
}
#endif
#endif
