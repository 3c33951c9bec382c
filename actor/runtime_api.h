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
/* A process-unique reference (monitor refs, request ids). Any thread. */
uint64_t tr__make_ref(tr_runtime *rt);
/* A fast per-runtime pseudo-random number (jitter). Any thread. */
uint64_t tr__random(tr_runtime *rt);

#endif
