/* troupe — futures: the eventual outcome of a task (as Elixir's Task
 * struct, awaited with Task.await/2 or received as Task's {ref, result}
 * message).
 *
 * A future is returned by tr_task_submit (troupe/task_pool.h) and completed
 * exactly once, with the task's result, its error, TR_ECRASHED, TR_ECLOSED
 * or TR_ENOMEM (task_pool.h says when each comes). It is awaited from a
 * plain thread (blocking, with a timeout: tr_future_await) or from an actor
 * (the outcome arrives as a message: tr_future_notify), and released with
 * tr_future_free.
 */
#ifndef TROUPE_FUTURE_H
#define TROUPE_FUTURE_H

#include "actor.h"

#ifdef __cplusplus
extern "C" {
#endif

/** A future: the eventual result of one task. Opaque; returned by
 *  tr_task_submit, released by tr_future_free. */
typedef struct tr_future tr_future;

/** Status of a future that has not completed yet (tr_future_status). */
#define TR_FUTURE_PENDING 1

/** tr_future_await: blocks the calling thread until the future completes
 *  or timeout_ms passes (Elixir Task.await/2, whose default is 5000 ms;
 *  TR_DEFAULT_TIMEOUT is the same).
 *  Arguments: timeout_ms > 0 or TR_INFINITY (past the clock's range waits
 *  as TR_INFINITY); result may be NULL, else
 *  receives a copy of the task's result bytes on success, or the error's
 *  NUL-terminated text (its data, size including the NUL) when the task
 *  failed; the caller frees it with tr_buf_free. On TR_ETIMEDOUT, TR_EINVAL
 *  and TR_EDEADLK it is zeroed. A completed future can be awaited again
 *  (each await gets its own copy).
 *  Returns 0 (success), TR_EREMOTE (the task returned a non-zero code
 *  of its own: result->code holds it, result->data its text; the space
 *  of return values is closed: a task's code never comes back as the
 *  return value, and cannot be mistaken for TR_ETIMEDOUT), TR_ECRASHED
 *  (the worker crashed while running it; text = the crash reason's text),
 *  TR_ECLOSED (the pool or runtime stopped before it ran), TR_ENOMEM
 *  (the result could not be copied, or the task could not be handed to a
 *  worker: it did not run), TR_ETIMEDOUT (not complete yet: the
 *  future stays valid, the task still runs; await again or free it),
 *  TR_EINVAL (NULL future, bad timeout), TR_EDEADLK (called on a
 *  scheduler thread: use tr_future_notify there).
 *  Thread-safety: any non-scheduler thread; several threads may await the
 *  same future. */
TR_API int tr_future_await(tr_future *future, tr_duration_ms timeout_ms, tr_buf *result);

/** tr_future_status: TR_FUTURE_PENDING (1) while the task has not
 *  completed, else its outcome as tr_future_await would return it (0 or
 *  an error). Never blocks. TR_EINVAL for NULL.
 *  Thread-safety: any thread (Elixir Task.yield/2 with timeout 0). */
TR_API int tr_future_status(const tr_future *future);

/** tr_future_id: a number naming the future, unique within the process
 *  (also carried in tr_future_reply.id), as the ref in Elixir's Task
 *  struct names its reply. The future is borrowed. 0 for NULL; never fails.
 *  Thread-safety: any thread. */
TR_API uint64_t tr_future_id(const tr_future *future);

/** The payload of the message tr_future_notify sends: kind TR_MSG_INFO,
 *  the tag given to tr_future_notify, data = this header followed by
 *  `size` bytes (the result on success, or the NUL-terminated error text).
 *  Read it with tr_future_reply_of(msg). */
typedef struct tr_future_reply {
    uint64_t id;          /* tr_future_id of the future */
    tr_future *future;    /* the future, still owned by whoever owned it */
    int32_t status;       /* as tr_future_await's return value (never PENDING) */
    int32_t code;         /* status TR_EREMOTE: the task's own error code; else 0 */
    uint32_t size;        /* bytes in data */
    unsigned char data[]; /* the result, or the error text */
} tr_future_reply;

/** tr_future_notify: asks for the future's outcome as a message to pid
 *  (the actor form of await, like receiving Task's {ref, result} message):
 *  one TR_MSG_INFO with `tag` and a tr_future_reply payload reaches pid's
 *  handle_info when the task completes — at once if it already has.
 *  Arguments: pid, any actor (typically tr_self_pid(self)); tag,
 *  application-defined.
 *  Errors: TR_EINVAL (NULL future, pid none), TR_EBUSY (a notification is
 *  already registered for this future; one per future), TR_ENOPROC (the
 *  future is already complete and pid is dead), TR_ENOMEM. If pid dies
 *  before the task completes, the notification is dropped.
 *  Thread-safety: any thread, including callbacks (it does not block). */
TR_API int tr_future_notify(tr_future *future, tr_pid pid, uint32_t tag);

/** tr_future_reply_of: the tr_future_reply carried by a message sent by
 *  tr_future_notify, or NULL when msg is not one (wrong size; never fails
 *  otherwise): the match on {Ref, Result} in a receive. Borrowed like the
 *  message: valid during the callback.
 *  Thread-safety: the callback's thread. */
TR_API const tr_future_reply *tr_future_reply_of(const tr_msg *msg);

/** tr_future_free: releases the caller's reference to the future. A task
 *  still pending keeps running and its outcome is dropped, as Elixir's
 *  Task.ignore/1 (a registered notification is still sent; its `future`
 *  field must then not be dereferenced). NULL is a no-op; never fails. Do
 *  not use the future afterwards.
 *  Thread-safety: any thread, once per future, not concurrently with an
 *  await of the same future. */
TR_API void tr_future_free(tr_future *future);

#ifdef __cplusplus
}
#endif
#endif
