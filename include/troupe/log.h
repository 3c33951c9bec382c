/* troupe — the logger and the reports it carries (OTP's logger with
 * SASL-style crash and supervisor reports).
 *
 * The runtime reports what would otherwise happen silently: an actor that
 * crashed (crash report), what its supervisor did about it (supervisor
 * reports), an init that failed, and, at debug level, messages a default
 * handle_info dropped. Each report is a tr_log_event with structured fields
 * and a formatted line. Events go through a bounded queue to the runtime's
 * logger thread, which calls the handler set in tr_runtime_opts (or the
 * default handler: one line per event to stderr). The thread that crashed
 * never waits for the handler; when the queue is full the event is counted,
 * and the count is reported in a later event ("N events dropped").
 */
#ifndef TROUPE_LOG_H
#define TROUPE_LOG_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "actor.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Severity levels (a subset of OTP logger's, which are syslog's). The
 *  value 0 in tr_runtime_opts.log_level means the default, notice. */
typedef enum tr_log_level {
    TR_LOG_DEBUG = 1,
    TR_LOG_INFO,
    TR_LOG_NOTICE,
    TR_LOG_WARNING,
    TR_LOG_ERROR
} tr_log_level;

/** What an event reports. */
typedef enum tr_log_kind {
    /* An actor's callback failed: tr_fail, a default handle_call/cast that
     * crashed, or a stop with a reason other than normal or shutdown
     * (OTP's crash report). Level error. Fields: pid, name, behaviour,
     * reason, has_msg/msg_kind/msg_tag (the message being handled, if
     * any), mailbox_len, parent. */
    TR_LOG_CRASH = 1,
    /* init refused (tr_stop/tr_fail in init, or a non-continue return):
     * tr_spawn returns TR_EINIT. Level error. Fields: pid (already dead),
     * behaviour, reason, parent. */
    TR_LOG_INIT_FAILED,
    /* A supervisor started a child (OTP's progress report). Level info.
     * Fields: sup, child_id, child_pid. */
    TR_LOG_CHILD_STARTED,
    /* A supervisor restarted a child. Level notice. Fields: sup, child_id,
     * child_pid (the old pid), new_pid, restarts (of this child). */
    TR_LOG_CHILD_RESTARTED,
    /* A child exited on its own. Level error for a reason other than
     * normal and shutdown, info otherwise. Fields: sup, child_id,
     * child_pid, reason. */
    TR_LOG_CHILD_TERMINATED,
    /* A child could not be started (its init failed). Level error.
     * Fields: sup, child_id, code (what the start returned). */
    TR_LOG_CHILD_START_FAILED,
    /* A restart waits for the supervisor's backoff. Level warning.
     * Fields: sup, child_id, child_pid (the old pid), delay_ms. */
    TR_LOG_RESTART_DELAYED,
    /* A supervisor gives up: more than `intensity` restarts within
     * `period_ms` (OTP's reached_max_restart_intensity). Level error.
     * Fields: sup, child_id (the child whose exit was one too many),
     * reason (the supervisor's exit reason), intensity, period_ms,
     * restarts (within the period). */
    TR_LOG_SUP_GAVE_UP,
    /* A message a default handle_info dropped (no handle_info). Level
     * debug. Fields: pid, behaviour, msg_kind, msg_tag, sender. */
    TR_LOG_UNEXPECTED_MSG,
    /* Events were dropped because the queue to the logger thread was full.
     * Level warning. Fields: dropped (how many since the last such event). */
    TR_LOG_DROPPED
} tr_log_kind;

/** One event. Fields that do not apply to its kind are zero (pids
 *  TR_PID_NONE, strings empty). Strings are NUL-terminated, truncated to
 *  fit. */
struct tr_log_event {
    tr_log_level level;
    tr_log_kind kind;
    int64_t time_us;    /* wall clock (CLOCK_REALTIME), microseconds since the epoch */
    tr_pid pid;         /* the actor the event is about (crash, init, unexpected message) */
    char name[64];      /* a name it was registered under at the crash, or "" */
    char behaviour[48]; /* its behaviour's name ("" when it has none) */
    tr_pid parent;      /* the actor that spawned it (its supervisor), or TR_PID_NONE */
    tr_reason reason;   /* why it stopped */
    int code;           /* TR_LOG_CHILD_START_FAILED: the start's error code */
    bool has_msg;       /* a message was being handled (msg_kind, msg_tag, sender) */
    int msg_kind;       /* tr_msg_kind of that message */
    uint32_t msg_tag;   /* its tag */
    tr_pid sender;      /* its sender */
    size_t mailbox_len; /* messages still queued for the actor */
    tr_pid sup;         /* supervisor reports: the supervisor */
    char child_id[64];  /* supervisor reports: the child's id */
    tr_pid child_pid;   /* supervisor reports: the child's (old) pid */
    tr_pid new_pid;     /* TR_LOG_CHILD_RESTARTED: the new pid */
    uint32_t restarts;  /* restarts of the child, or within the period (gave up) */
    int intensity;      /* TR_LOG_SUP_GAVE_UP: the supervisor's intensity */
    int64_t period_ms;  /* TR_LOG_SUP_GAVE_UP: its period */
    int64_t delay_ms;   /* TR_LOG_RESTART_DELAYED: the backoff */
    uint64_t dropped;   /* TR_LOG_DROPPED: events lost since the last report */
    char line[320];     /* the formatted line, without a newline (the default handler's) */
};

/* tr_log_fn, the handler's type, is declared in actor.h (beside
 * tr_runtime_opts): called on the runtime's logger thread, one event at a
 * time, in the order the events were queued; the event is borrowed for the
 * call. It may take its time (events queue meanwhile, up to the queue's
 * bound, then they are counted as dropped); it must not call
 * tr_runtime_stop or tr_runtime_free, nor block on an actor's answer. */

/** tr_log_level_name: "debug", "info", "notice", "warning", "error", or
 *  "?" for anything else. Never fails. Thread-safety: pure, any thread. */
TR_API const char *tr_log_level_name(int level);

/** tr_log_kind_name: the event kind as a short name ("crash",
 *  "init_failed", "child_started", "child_restarted", "child_terminated",
 *  "child_start_failed", "restart_delayed", "supervisor_gave_up",
 *  "unexpected_message", "dropped"), or "?". Never fails. Thread-safety:
 *  pure, any thread. */
TR_API const char *tr_log_kind_name(int kind);

/** tr_log_default_handler: the default handler: writes ev->line and a
 *  newline to stderr (user is ignored), in one write so lines from
 *  several runtimes do not interleave. A handler can call it to keep the
 *  default output and add its own. Thread-safety: any thread. */
TR_API void tr_log_default_handler(const tr_log_event *ev, void *user);

#ifdef __cplusplus
}
#endif

#endif
