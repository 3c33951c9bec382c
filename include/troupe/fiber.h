/* troupe — fibers: processes written in a blocking style.
 *
 * A fiber is a process like an actor: it has a pid, a mailbox, links,
 * monitors, trap_exit and registered names, and it runs on the same
 * scheduler threads. Instead of callbacks it has one body function that
 * may block: receive a message (selectively, with a timeout), sleep, call
 * a server, wait on a channel or a future, or run a blocking system call
 * on the blocking pool (tr_blocking). Blocking parks the fiber and its
 * scheduler thread runs other work meanwhile. Each fiber has its own stack
 * (mmap'd, committed lazily, with a guard page: an overflow is reported
 * with the fiber's pid, not silent corruption).
 *
 * The body returns 0 (the fiber exits with reason normal), or an error
 * code (it exits with {error, code}); tr_fail(self, reason) and
 * tr_stop(self, reason) end it at once with that reason. Its exit reaches
 * its links and monitors as an actor's does, and a supervisor restarts it
 * as it restarts an actor (tr_child_spec.fiber).
 *
 * Inside the body, self works with the actor API as inside a callback:
 * tr_send, tr_cast, tr_reply, tr_link, tr_monitor, tr_trap_exit,
 * tr_spawn_link, tr_request... Blocking calls that are refused inside an
 * actor's callbacks (tr_call, tr_await_exit, channel operations,
 * tr_future_await, tr_blocking) park the fiber instead.
 *
 * As Erlang processes (receive ... after, timer:sleep/1, erlang:yield/0),
 * Go's goroutines and Lua's coroutines.
 */
#ifndef TROUPE_FIBER_H
#define TROUPE_FIBER_H

#include <troupe/actor.h>

#ifdef __cplusplus
extern "C" {
#endif

/** A fiber's body. self is the fiber (valid until the body returns); arg
 *  is what tr_spawn_fiber got. Returns 0 for a normal exit, or an error
 *  code (the exit reason is then {error, code, "fiber returned an
 *  error"}). */
typedef int (*tr_fiber_fn)(tr_self *self, void *arg);

/** Fiber options. Zero-initialize, then set what you need. */
typedef struct tr_fiber_opts {
    tr_pid link_to;     /* link the new fiber to this process; NONE = no link */
    bool trap_exit;     /* start with trap_exit set */
    size_t max_mailbox; /* 0 = unbounded (as tr_spawn_opts) */
    size_t stack_size;  /* bytes; 0 = TR_FIBER_STACK_DEFAULT; 16 KiB .. 1 GiB */
} tr_fiber_opts;

/** The default stack size of a fiber (bytes). Only the pages a fiber
 *  touches are committed. */
#define TR_FIBER_STACK_DEFAULT ((size_t)128 * 1024)

/** tr_spawn_fiber: creates a fiber running fn(self, arg) and returns its
 *  pid; the body starts on a scheduler thread soon after (as Erlang's
 *  spawn/1: asynchronously).
 *  Arguments: rt; fn non-NULL; arg passed as it is (the caller keeps it
 *  alive as long as the fiber uses it); opts may be NULL; out may be NULL.
 *  Errors: TR_EINVAL (rt or fn NULL, stack_size out of range), TR_ENOMEM
 *  (the process or its stack), TR_EFULL (the actor limit), TR_ECLOSED (the
 *  runtime is stopping), TR_ENOPROC (link_to is not a live process),
 *  TR_EKILLED (called from a killed callback).
 *  Thread-safety: any thread, including callbacks and fibers. */
TR_API int tr_spawn_fiber(tr_runtime *rt, tr_fiber_fn fn, void *arg, const tr_fiber_opts *opts,
                          tr_pid *out);

/** tr_self_is_fiber: true when self is a fiber (tr_spawn_fiber, or a
 *  behaviour spawned with tr_spawn_opts.on_fiber); false for an actor and
 *  for NULL. Never fails. Thread-safety: self's callback or body. */
TR_API bool tr_self_is_fiber(const tr_self *self);

/** A selective-receive predicate: true when the fiber wants msg now. Runs
 *  on the fiber, once per queued message it looks at; must not block. */
typedef bool (*tr_match_fn)(const tr_msg *msg, void *arg);

/** tr_receive: the oldest message in the fiber's mailbox for which match
 *  returns true (match NULL: any message), waiting up to timeout_ms
 *  milliseconds for one to arrive; messages that do not match stay queued
 *  in their order, as Erlang's selective receive (receive ... after).
 *  Exit signals of trapped links arrive as TR_MSG_EXIT messages, monitors'
 *  as TR_MSG_DOWN; a call is a TR_MSG_CALL: answer it with
 *  tr_reply(tr_msg_from(self, msg), ...).
 *  Arguments: self, the running fiber; timeout_ms 0 (do not wait: only
 *  what is queued), > 0, or TR_INFINITY; *out receives the message.
 *  Ownership: *out is the fiber's until it calls tr_msg_free(*out); its
 *  data stays valid until then.
 *  Errors: TR_ETIMEDOUT (nothing matched in time; *out NULL), TR_EINVAL
 *  (self not the running fiber, out NULL, negative timeout), TR_ENOMEM
 *  (the timeout's timer could not be made), TR_EKILLED (the fiber was
 *  killed: it exits when the body next blocks).
 *  Thread-safety: the fiber's own body only. */
TR_API int tr_receive(tr_self *self, tr_match_fn match, void *arg, tr_duration_ms timeout_ms,
                      tr_msg **out);

/** tr_receive_tag / tr_receive_ref: tr_receive for the first message with
 *  that tag (any kind) / with that ref (a REPLY to a tr_request, a DOWN of
 *  a monitor). Errors and thread-safety as tr_receive. */
TR_API int tr_receive_tag(tr_self *self, uint32_t tag, tr_duration_ms timeout_ms, tr_msg **out);
TR_API int tr_receive_ref(tr_self *self, uint64_t ref, tr_duration_ms timeout_ms, tr_msg **out);

/** tr_msg_free: releases a message tr_receive returned (its owned payload's
 *  destructor runs). NULL is a no-op. Thread-safety: the fiber that
 *  received it. */
TR_API void tr_msg_free(tr_msg *msg);

/** tr_msg_from: the reply address of a TR_MSG_CALL a fiber received, for
 *  tr_reply / tr_reply_error (gen_server:reply/2 on a From taken from a
 *  plain receive). Never fails: for self or msg NULL, or a message that is
 *  not a call, it gives an empty tr_from (rt NULL), which tr_reply refuses
 *  with TR_EINVAL. The tr_from is a value: it stays valid after
 *  tr_msg_free. Thread-safety: the fiber that received it. */
TR_API tr_from tr_msg_from(const tr_self *self, const tr_msg *msg);

/** tr_sleep: parks the fiber for ms milliseconds (timer:sleep/1); messages
 *  that arrive meanwhile stay queued. ms 0 yields (tr_yield).
 *  Errors: TR_EINVAL (self not the running fiber, ms < 0), TR_ENOMEM (no
 *  timer), TR_EKILLED. Thread-safety: the fiber's own body only. */
TR_API int tr_sleep(tr_self *self, tr_duration_ms ms);

/** tr_yield: lets the other runnable processes of this scheduler thread
 *  run, then goes on (erlang:yield/0, Go's runtime.Gosched).
 *  Errors: TR_EINVAL (self not the running fiber), TR_EKILLED.
 *  Thread-safety: the fiber's own body only. */
TR_API int tr_yield(tr_self *self);

#ifdef __cplusplus
}
#endif

#endif
