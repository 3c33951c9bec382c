/* troupe — internal hooks of the actor core for the other folders
 * (supervisor/, registry/, examples' helpers inside the library). Private:
 * not installed, not part of the public API. */
#ifndef TROUPE_ACTOR_RUNTIME_API_H
#define TROUPE_ACTOR_RUNTIME_API_H

#include <troupe/actor.h>

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
/* From handle_call: hands the call being handled, as it is (same block,
 * sender, ref, tag and payload), to `to`, which gets it as a call from the
 * original caller and replies to it directly. The forwarder then answers for
 * it: if `to` dies before replying, the runtime sends the caller nothing
 * (the pool sends TR_ECRASHED). The forwarded message is not freed when the
 * callback returns. tr__msg_forwarded tells the receiver's callback.
 * Errors: TR_EINVAL (not inside handle_call), TR_ENOPROC (to is dead),
 * TR_EBUSY (to has a bounded mailbox: copy instead); on error nothing was
 * sent and the call is still the forwarder's. */
int tr__forward_call(tr_self *self, tr_pid to);
bool tr__msg_forwarded(const tr_msg *msg);
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
