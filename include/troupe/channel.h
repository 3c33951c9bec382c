/* troupe — channels and select, as Go's chan and select.
 *
 * A channel carries fixed-size elements (copied in and out, byte for byte)
 * from senders to receivers, first in first out. It is unbuffered (a send
 * completes only when a receiver takes the value: Go's make(chan T)) or
 * buffered with a capacity (Go's make(chan T, n)). Handles are
 * reference-counted and any thread, actor or fiber may hold one.
 *
 * Who may block: plain threads and fibers (a fiber parks, its scheduler
 * thread runs other work). Inside an actor's callback, and on a scheduler
 * thread outside a fiber, the blocking forms return TR_EDEADLK: actors use
 * the try forms plus tr_chan_notify (see docs/fibers.md, "Channels and
 * select").
 */
#ifndef TROUPE_CHANNEL_H
#define TROUPE_CHANNEL_H

#include "actor.h"

#ifdef __cplusplus
extern "C" {
#endif

/** A channel. Opaque; made by tr_chan_new, shared with tr_chan_ref, freed
 *  by the last tr_chan_release. */
typedef struct tr_chan tr_chan;

/** Directions, for tr_chan_notify and tr_select_case.dir. */
#define TR_CHAN_RECV 1
#define TR_CHAN_SEND 2

/** Largest element, in bytes. */
#define TR_CHAN_ELEM_MAX ((size_t)64 * 1024)

/** tr_chan_new: makes a channel of elements of elem_size bytes.
 *  Arguments: elem_size 1..TR_CHAN_ELEM_MAX (64 KiB) bytes; capacity in
 *  elements: 0 = unbuffered (rendezvous, as Go's make(chan T)), else a
 *  buffer of that many elements (as make(chan T, capacity)); out receives
 *  the channel.
 *  Ownership: the caller holds the one reference; release it with
 *  tr_chan_release.
 *  Errors: TR_EINVAL (out NULL, elem_size 0 or over 64 KiB, elem_size ×
 *  capacity over PTRDIFF_MAX / 2), TR_ENOMEM (*out is then NULL).
 *  Thread-safety: any thread, including callbacks. */
TR_API int tr_chan_new(size_t elem_size, size_t capacity, tr_chan **out);

/** tr_chan_ref: adds a reference to ch (for another thread, actor or
 *  fiber to hold), and returns ch. NULL gives NULL.
 *  Thread-safety: any thread, by a holder of a reference. */
TR_API tr_chan *tr_chan_ref(tr_chan *ch);

/** tr_chan_release: drops one reference; the last one frees the channel
 *  (values still buffered and pending notifications are dropped).
 *  Releasing does not close: other holders go on using it. NULL is a
 *  no-op; never fails. Every thread that uses a channel, blocked ones
 *  included, must hold its own reference.
 *  Thread-safety: any thread, once per reference held. */
TR_API void tr_chan_release(tr_chan *ch);

/** tr_chan_send: sends the elem_size bytes at elem, waiting up to
 *  timeout_ms while the channel has no room (buffered: the buffer is
 *  full; unbuffered: until a receiver takes the value, as Go's ch <- v).
 *  Arguments: timeout_ms > 0 or TR_INFINITY (waits as long as needed), or
 *  0 (do not wait: as tr_chan_try_send).
 *  Ownership: the bytes are copied; elem is the caller's again on return.
 *  Returns 0 (sent: a receiver has it, or it is in the buffer),
 *  TR_ECLOSED (the channel is closed, or was closed while waiting: not
 *  sent; Go panics instead), TR_ETIMEDOUT (not sent in time), TR_EAGAIN
 *  (timeout 0 and no room), TR_EINVAL (NULL ch or elem, a negative
 *  timeout other than TR_INFINITY), TR_EDEADLK (timeout != 0 inside an
 *  actor's callback, or on a scheduler thread outside a fiber).
 *  Thread-safety: any thread or fiber (see TR_EDEADLK). */
TR_API int tr_chan_send(tr_chan *ch, const void *elem, tr_duration_ms timeout_ms);

/** tr_chan_recv: receives one element into elem (elem_size bytes),
 *  waiting up to timeout_ms while there is none (as Go's v, ok := <-ch).
 *  Arguments: elem may be NULL (the value is taken and dropped); timeout
 *  as tr_chan_send.
 *  Returns 0 (a value in elem), TR_ECLOSED (the channel is closed and
 *  drained: elem is zeroed; Go's ok == false), TR_ETIMEDOUT, TR_EAGAIN
 *  (timeout 0 and nothing to take), TR_EINVAL (NULL ch, bad timeout),
 *  TR_EDEADLK (as tr_chan_send).
 *  Thread-safety: any thread or fiber (see TR_EDEADLK). */
TR_API int tr_chan_recv(tr_chan *ch, void *elem, tr_duration_ms timeout_ms);

/** tr_chan_try_send: tr_chan_send without waiting: sends only if a
 *  receiver waits or the buffer has room. Returns 0, TR_EAGAIN (would
 *  block: nothing sent), TR_ECLOSED, TR_EINVAL (NULL ch or elem).
 *  Thread-safety: any thread, actor callbacks included (never blocks). */
TR_API int tr_chan_try_send(tr_chan *ch, const void *elem);

/** tr_chan_try_recv: tr_chan_recv without waiting. Returns 0, TR_EAGAIN
 *  (nothing to take yet), TR_ECLOSED (closed and drained), TR_EINVAL
 *  (NULL ch).
 *  Thread-safety: any thread, actor callbacks included (never blocks). */
TR_API int tr_chan_try_recv(tr_chan *ch, void *elem);

/** tr_chan_close: closes ch, as Go's close(ch): later sends fail with
 *  TR_ECLOSED; receivers take what is buffered, then get TR_ECLOSED.
 *  Every waiter wakes: blocked senders get TR_ECLOSED (their value was
 *  not sent), blocked receivers TR_ECLOSED (the buffer is empty when a
 *  receiver waits), selects see their case complete; every pending
 *  tr_chan_notify registration fires.
 *  Errors: TR_ECLOSED (already closed; Go panics), TR_EINVAL (NULL).
 *  Thread-safety: any thread, actor callbacks included. */
TR_API int tr_chan_close(tr_chan *ch);

/** tr_chan_len: elements in the buffer now (always 0 when unbuffered),
 *  as Go's len(ch); a snapshot. 0 for NULL. Thread-safety: any thread. */
TR_API size_t tr_chan_len(tr_chan *ch);

/** tr_chan_cap: the capacity given to tr_chan_new, as Go's cap(ch). 0 for
 *  NULL. Thread-safety: any thread. */
TR_API size_t tr_chan_cap(const tr_chan *ch);

/** tr_chan_notify: asks for one message to the calling actor when ch
 *  becomes ready for dir: TR_CHAN_RECV (a value to take, or a sender
 *  waits, or closed), TR_CHAN_SEND (room, or a receiver waits, or
 *  closed). The message is kind TR_MSG_INFO with `tag` and no data, sent
 *  with tr_send to tr_self_pid(self) (the registration keeps the runtime
 *  and the pid, not self). If ch is ready now it goes at once. One-shot:
 *  the registration ends when it fires. The message is a hint: another
 *  consumer may have taken the value by the time it is handled, so the
 *  actor loops: try until TR_EAGAIN, then notify again (docs/fibers.md).
 *  One registration per (actor, dir) on a channel: registering again
 *  while one is pending replaces its tag.
 *  A registration of an actor that died is harmless (its message is
 *  dropped: tr_send gives TR_ENOPROC). It must not outlive the runtime:
 *  cancel it, close the channel or release it before tr_runtime_free.
 *  Errors: TR_EINVAL (NULL ch or self, dir not TR_CHAN_RECV or
 *  TR_CHAN_SEND), TR_ENOMEM.
 *  Thread-safety: the actor's callbacks (self is the running actor's). */
TR_API int tr_chan_notify(tr_chan *ch, tr_self *self, int dir, uint32_t tag);

/** tr_chan_notify_cancel: withdraws the calling actor's pending
 *  registration for dir on ch. A message already sent stays in the
 *  mailbox. Returns 0, TR_ENOTFOUND (none pending: it fired, or never
 *  was), TR_EINVAL (NULL ch or self, bad dir).
 *  Thread-safety: the actor's callbacks. */
TR_API int tr_chan_notify_cancel(tr_chan *ch, tr_self *self, int dir);

/** One case of tr_select. chan NULL: the case is never ready (Go's nil
 *  channel). dir TR_CHAN_SEND: sends the chan's elem_size bytes at elem
 *  (required); TR_CHAN_RECV: receives into elem (NULL: dropped). result:
 *  set by tr_select in the case that completed: 0 (sent, or a value
 *  received) or TR_ECLOSED (the channel is closed: a receive got no
 *  value and elem is zeroed, as Go's ok == false; a send was not made,
 *  where Go panics). */
typedef struct tr_select_case {
    tr_chan *chan;
    int dir;
    void *elem;
    int result;
} tr_select_case;

/** tr_select: waits until one of the cases can complete, completes it
 *  and returns its index, as Go's select. When several are ready, one is
 *  chosen at random (fairly, as Go's pollorder). A channel may appear in
 *  several cases. No wake-up is lost: a case that becomes ready while the
 *  select is registering is seen.
 *  Arguments: cases, n (<= INT_MAX; n 0 or every chan NULL waits the
 *  whole timeout, as Go's select {}); timeout_ms > 0 or TR_INFINITY, or 0
 *  (Go's default: return at once).
 *  Returns the index (>= 0) of the completed case (see its result),
 *  TR_EAGAIN (timeout 0 and no case ready: Go's default branch),
 *  TR_ETIMEDOUT (none completed in time), TR_EINVAL (cases NULL with
 *  n > 0, n > INT_MAX, a case with a chan and a bad dir, a send case with
 *  elem NULL, bad timeout), TR_ENOMEM (more than 8 cases need a
 *  scratch allocation), TR_EDEADLK (timeout != 0, as tr_chan_send). On
 *  an error no case completed.
 *  Thread-safety: any thread or fiber (see TR_EDEADLK); timeout 0 from
 *  actor callbacks too. */
TR_API int tr_select(tr_select_case *cases, size_t n, tr_duration_ms timeout_ms);

#ifdef __cplusplus
}
#endif
#endif
