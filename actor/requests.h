/* troupe — pending requests of an actor (private to actor/): requests.c.
 * Owner thread only. */
#ifndef TROUPE_ACTOR_REQUESTS_H
#define TROUPE_ACTOR_REQUESTS_H

#include "actor/actor.h"

/* tr__req_begin: records request ref to server (and monitors server, one
 * monitor shared by every request to it). TR_ENOMEM. */
int tr__req_begin(tr__actor *a, uint64_t ref, tr_pid server);
/* tr__req_set_timer: the request's timeout timer. */
void tr__req_set_timer(tr__actor *a, uint64_t ref, tr_timer timer);
/* tr__req_take: ends request ref (its reply or its timeout came): true if
 * it was pending. */
bool tr__req_take(tr__actor *a, uint64_t ref, bool timer_fired);
/* tr__req_server_down: the monitor mref fired: true (and *server) if it
 * was a request monitor. */
bool tr__req_server_down(tr__actor *a, uint64_t mref, tr_pid *server);
/* tr__req_next_for_server: a pending request to server (*ref), if any. */
bool tr__req_next_for_server(tr__actor *a, tr_pid server, uint64_t *ref);
/* tr__reqs_fini: frees the table at exit. */
void tr__reqs_fini(tr__actor *a);

#endif
