/* troupe — local name registry (erlang:register/2, whereis/1).
 *
 * Names are NUL-terminated strings of 1..TR_NAME_MAX bytes. A name is
 * removed automatically when its actor exits. One actor may hold several
 * names; a name names one actor. Lookups are lock-free (ck_hs read under an
 * epoch section); register/unregister serialize on a mutex.
 */
#ifndef TROUPE_REGISTRY_H
#define TROUPE_REGISTRY_H

#include "actor.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Longest name, in bytes, without the NUL. */
#define TR_NAME_MAX 255

/** tr_register: binds name to pid (erlang:register/2). The name is copied.
 *  Errors: TR_EINVAL (NULL rt/name, empty or longer than TR_NAME_MAX),
 *  TR_ENOPROC (pid dead), TR_EEXIST (name taken: *holder, if not NULL,
 *  receives the current holder's pid), TR_EAGAIN (a supervisor keeps the
 *  name for a child it is restarting: see tr_child_spec.name; *holder gets
 *  TR_PID_NONE), TR_ENOMEM, TR_ECLOSED.
 *  Thread-safety: any thread. */
TR_API int tr_register(tr_runtime *rt, const char *name, tr_pid pid, tr_pid *holder);

/** tr_unregister: removes the name (erlang:unregister/1).
 *  Errors: TR_EINVAL, TR_ENOTFOUND (not registered). Thread-safety: any
 *  thread. */
TR_API int tr_unregister(tr_runtime *rt, const char *name);

/** tr_whereis: the pid registered under name (erlang:whereis/1), or
 *  TR_PID_NONE when nobody holds it (also while a supervisor restarts the
 *  child it keeps the name for) and for bad arguments (never fails
 *  otherwise). Lock-free. Thread-safety: any thread. */
TR_API tr_pid tr_whereis(tr_runtime *rt, const char *name);

/** tr_send_named: tr_send to the actor registered under name (Name ! Msg).
 *  Errors: TR_EINVAL (bad name), TR_ENOTFOUND (nobody holds it), TR_EAGAIN
 *  (the name's supervisor is restarting its child: try again; the same
 *  when the holder exits between the lookup and the send and its
 *  supervisor will restart it; an actor that exited and was replaced
 *  meanwhile is tried once more), then as tr_send. Ownership: data is copied. Thread-safety: any
 * thread. */
TR_API int tr_send_named(tr_runtime *rt, const char *name, uint32_t tag, const void *data,
                         size_t size);
/** tr_cast_named: tr_cast by registered name (gen_server:cast(Name, ...)).
 *  Errors: TR_EINVAL, TR_ENOTFOUND, TR_EAGAIN (as tr_send_named), then as
 *  tr_cast. Ownership: data is
 *  copied. Thread-safety: any thread. */
TR_API int tr_cast_named(tr_runtime *rt, const char *name, uint32_t tag, const void *data,
                         size_t size);
/** tr_call_named: tr_call by registered name (gen_server:call(Name, ...)).
 *  Errors: TR_EINVAL, TR_ENOTFOUND, TR_EAGAIN (as tr_send_named), then as
 *  tr_call (a call that reached the old pid before it exited still ends
 *  with TR_EEXITED). Ownership: as
 *  tr_call (reply freed by the caller with tr_buf_free); timeout_ms as
 *  tr_call's. Thread-safety: any non-scheduler thread, outside callbacks
 *  (TR_EDEADLK on a scheduler thread or inside any callback). */
TR_API int tr_call_named(tr_runtime *rt, const char *name, uint32_t tag, const void *req,
                         size_t size, tr_buf *reply, tr_duration_ms timeout_ms);

/** tr_registered_count: number of names bound to a process, as
 *  tr_registered lists them (0 for rt NULL). A name a supervisor keeps for
 *  a restarting child (troupe/supervisor.h, tr_child_spec.name) is bound to
 *  no process until the restart, so it is not counted: as in OTP, where
 *  registered/0 has no entry for a process that is being restarted. O(n)
 *  in the number of names (a walk under the registry's lock).
 *  Never fails. Thread-safety: any thread. */
TR_API size_t tr_registered_count(tr_runtime *rt);

/** A registered name and its holder (tr_registered). */
typedef struct tr_reg_entry {
    char name[TR_NAME_MAX + 1];
    tr_pid pid;
} tr_reg_entry;

/** tr_registered: the registered names (erlang:registered/0), a snapshot
 *  taken under the registry's lock, in no particular order. Names kept for
 *  a restarting child (bound to no process; tr_whereis gives TR_PID_NONE
 *  and the _named calls TR_EAGAIN) are left out, as tr_registered_count
 *  leaves them out.
 *  Arguments: out, room for max entries (NULL when max is 0: to ask how
 *  many there are); *n receives the number of names registered (which may
 *  exceed max: then out holds the first max).
 *  Errors: TR_EINVAL (rt or n NULL, out NULL with max > 0).
 *  Thread-safety: any thread. */
TR_API int tr_registered(tr_runtime *rt, tr_reg_entry *out, size_t max, size_t *n);

/** tr_name_of: a name pid is registered under (the reverse of
 *  tr_whereis; OTP's process_info(Pid, registered_name)), copied into buf
 *  (size bytes, NUL-terminated, truncated to fit). When pid holds several
 *  names, which one is unspecified (tr_process_info lists them all).
 *  Errors: TR_EINVAL (rt or buf NULL, size 0), TR_ENOTFOUND (pid holds no
 *  name, or is dead). Thread-safety: any thread. */
TR_API int tr_name_of(tr_runtime *rt, tr_pid pid, char *buf, size_t size);

#ifdef __cplusplus
}
#endif
#endif
