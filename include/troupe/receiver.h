/* troupe — a plain thread that receives messages (CAF's scoped_actor,
 * Erlang's shell process).
 *
 * A thread that is not an actor opens a receiver to get a pid of its own:
 * actors send to it (tr_send, tr_cast), it monitors actors and gets their
 * DOWN, and futures notify it (tr_future_notify). Like the shell's
 * process it is also a target: actors link to it and monitor it, it links
 * to them, and tr_exit reaches it. It takes messages with a selective
 * receive and a timeout, as Erlang's receive ... after, and closes the
 * receiver when done (its pid then dies, with reason normal).
 *
 * A receiver traps exits, always (a thread cannot be killed): every exit
 * signal to it (a linked process's exit, normal too; tr_exit with any
 * reason, kill too; a link to a dead pid: noproc) becomes a TR_MSG_EXIT
 * message in its mailbox, sender the pid the signal came from (TR_PID_NONE:
 * a plain thread's tr_exit), reason by tr_msg_reason(), as
 * process_flag(trap_exit, true). A linked process's EXIT comes after the
 * messages that process sent before it exited (unless another sender's
 * push to the receiver is half-done at that instant: then those may
 * follow the EXIT).
 */
#ifndef TROUPE_RECEIVER_H
#define TROUPE_RECEIVER_H

#include "actor.h"
#include "fiber.h"

#ifdef __cplusplus
extern "C" {
#endif

/** A receiver: a plain thread's mailbox with a pid. Opaque. */
typedef struct tr_receiver tr_receiver;

/** tr_receiver_open: opens a receiver for the calling thread.
 *  Its pid (tr_receiver_pid) is a process of rt for messages: tr_send,
 *  tr_cast, their _owned forms, tr_future_notify and the DOWN of its own
 *  monitors reach it, in each sender's order. It is a target of links,
 *  monitors and exit signals: tr_link and tr_monitor from an actor work
 *  (when the receiver closes, its links get an exit signal normal, its
 *  monitors a DOWN normal; a closed receiver's pid gives DOWN noproc, as a
 *  dead actor's), and tr_exit to it gives it an EXIT message (it traps
 *  exits, see above). What it is not: an actor. tr_call to its pid, timers
 *  (tr_send_after) and tr_register give TR_ENOPROC; it does not count
 *  against max_actors (it uses a waiter's slot, of which there are 65,536).
 *  A blocking caller's own waiter (tr_call's reply address) stays refused
 *  by all of these (TR_ENOPROC).
 *  Arguments: out receives the receiver.
 *  Ownership: the caller owns *out and closes it with tr_receiver_close.
 *  Errors: TR_EINVAL (rt or out NULL), TR_EDEADLK (on a scheduler thread or
 *  inside a callback: actors and fibers have their own mailbox),
 *  TR_ECLOSED (runtime stopping), TR_EFULL (65,536 waiters and receivers
 *  open), TR_ENOMEM.
 *  Thread-safety: any non-scheduler thread; the receiver is then used by
 *  one thread at a time (its tr_receiver_recv). */
TR_API int tr_receiver_open(tr_runtime *rt, tr_receiver **out);

/** tr_receiver_pid: the receiver's pid (TR_PID_NONE for NULL). Never
 *  fails. Thread-safety: any thread. */
TR_API tr_pid tr_receiver_pid(const tr_receiver *r);

/** tr_receiver_monitor: monitors pid, an actor or a receiver
 *  (erlang:monitor/2 from the shell):
 *  one TR_MSG_DOWN with its reason reaches the receiver when pid exits, at
 *  once with reason noproc when it is dead already. *ref (may be NULL)
 *  receives the reference, carried in the DOWN's ref.
 *  Errors: TR_EINVAL, TR_ENOPROC (pid names no process of the runtime),
 *  TR_ENOMEM. Thread-safety: the receiver's thread. */
TR_API int tr_receiver_monitor(tr_receiver *r, tr_pid pid, uint64_t *ref);

/** tr_receiver_demonitor: removes the monitor; its DOWN, if already queued
 *  or kept aside by a selective receive, is dropped. Errors: TR_EINVAL,
 *  TR_ENOTFOUND (unknown ref, or its DOWN was already received).
 *  Thread-safety: the receiver's thread. */
TR_API int tr_receiver_demonitor(tr_receiver *r, uint64_t ref);

/** tr_receiver_link: links the receiver and pid (link/1 from the shell,
 *  which traps exits): when pid exits, with any reason, a TR_MSG_EXIT
 *  message from pid reaches the receiver; when the receiver closes, pid
 *  gets an exit signal normal (ignored unless pid traps exits, as in OTP).
 *  pid dead already: TR_OK and an EXIT message with reason noproc. Linking
 *  twice is one link. Errors: TR_EINVAL (r NULL, pid none or the
 *  receiver's own), TR_ENOPROC (pid names no process of the runtime:
 *  another runtime's pid, a blocking caller's reply address), TR_ENOMEM.
 *  Thread-safety: the receiver's thread. */
TR_API int tr_receiver_link(tr_receiver *r, tr_pid pid);

/** tr_receiver_unlink: removes the link with pid, both sides (unlink/1);
 *  no link is no error. An EXIT of that link not yet received is dropped
 *  if it had not reached the mailbox yet (one that had stays). Errors:
 *  TR_EINVAL (r NULL, pid none). Thread-safety: the receiver's thread. */
TR_API int tr_receiver_unlink(tr_receiver *r, tr_pid pid);

/** tr_receiver_recv: the oldest message for which match returns true
 *  (match NULL: any), waiting up to timeout_ms for one; messages that do
 *  not match are kept, in their order, for later receives (Erlang's
 *  selective receive). tr_match_tag / tr_match_ref below select by tag or
 *  by ref (a DOWN's monitor reference).
 *  Arguments: timeout_ms 0 (only what is queued), > 0 or TR_INFINITY; *out
 *  receives the message, owned by the caller until tr_msg_free(*out).
 *  Errors: TR_EINVAL (r or out NULL, bad timeout), TR_ETIMEDOUT (nothing
 *  matched in time; *out NULL), TR_ECLOSED (the runtime is shutting down).
 *  Thread-safety: one thread at a time per receiver. */
TR_API int tr_receiver_recv(tr_receiver *r, tr_match_fn match, void *arg, tr_duration_ms timeout_ms,
                            tr_msg **out);

/** Matchers for tr_receiver_recv: arg points to a uint32_t tag
 *  (tr_match_tag) or a uint64_t ref (tr_match_ref). Never fail (false for
 *  NULL). Thread-safety: pure. */
TR_API bool tr_match_tag(const tr_msg *msg, void *arg);
TR_API bool tr_match_ref(const tr_msg *msg, void *arg);

/** tr_receiver_close: closes the receiver: its pid dies with reason normal
 *  (later sends give TR_ENOPROC; its links get an exit signal normal, the
 *  processes monitoring it a DOWN normal), its own monitors are removed,
 *  and the messages not received are dropped (owned payloads' destructors
 *  run). Sets *r to NULL; NULL and *r NULL are no-ops. Never fails.
 *  Thread-safety: the receiver's thread. */
TR_API void tr_receiver_close(tr_receiver **r);

#ifdef __cplusplus
}
#endif
#endif
