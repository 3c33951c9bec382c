/* troupe — signals, links and monitors (private to actor/): signal.c. */
#ifndef TROUPE_ACTOR_SIGNAL_H
#define TROUPE_ACTOR_SIGNAL_H

#include "actor/runtime.h"

/* tr__send_exit_signal: sends the exit signal r from `from` to `to`
 * (via_link: an EXIT of a link, else an explicit tr_exit). */
void tr__send_exit_signal(tr_runtime *rt, tr_pid to, tr_pid from, tr_reason r, bool via_link);
/* tr__exit_actor: a's exit: tells its links and monitors (not its links
 * when skip_links), then retires its pid. Owner thread. */
void tr__exit_actor(tr__actor *a, tr_reason reason, bool skip_links);
/* tr__link_pair: links a and target both ways (fresh: target was just
 * spawned by a). TR_ENOPROC, TR_ENOMEM. */
int tr__link_pair(tr__actor *a, tr_pid target, bool fresh);
/* Entries of a's link list (a->lock held): remove the first entry of kind
 * matching pid or ref; find the entry of kind with ref. True if found. */
bool tr__links_remove_locked(tr__actor *a, uint32_t kind, tr_pid pid, uint64_t ref);
bool tr__links_find_locked(tr__actor *a, uint32_t kind, uint64_t ref, tr_pid *pid);
/* tr__pre_free: frees an EXIT or DOWN block made ahead of time (NULL ok). */
void tr__pre_free(tr__msg *m);
/* Monitors of actor w (owner thread) and of a waiter (its blocking
 * thread): as tr_monitor / tr_demonitor. */
int tr__monitor(tr__actor *w, tr_pid target, uint64_t *ref_out);
int tr__demonitor(tr__actor *w, uint64_t ref);
int tr__waiter_monitor(tr__actor *waiter, tr_pid target, uint64_t *ref);
int tr__waiter_demonitor(tr__actor *waiter, uint64_t ref);
/* tr__acquire_target: a reference to the target of a link, monitor or exit
 * signal named by pid: an actor or a receiver (never a blocking caller's
 * waiter); NULL if none. Release with tr__release. */
tr__actor *tr__acquire_target(tr_runtime *rt, tr_pid pid);
/* Links of a (an actor, or a receiver from its thread): as tr_link (pid
 * dead: a noproc exit signal to a, TR_OK) and tr_unlink. */
int tr__link_to(tr__actor *a, tr_pid pid);
void tr__unlink_from(tr__actor *a, tr_pid pid);

#endif
