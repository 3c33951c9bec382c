/* troupe — the actor core's private headers, all of them (private to
 * actor/; other folders include actor/internal.h). */
#ifndef TROUPE_ACTOR_CORE_H
#define TROUPE_ACTOR_CORE_H

#include "actor/actor.h"
#include "actor/fiber.h"
#include "actor/pidtab.h"
#include "actor/reason.h"
#include "actor/requests.h"
#include "actor/runtime.h"
#include "actor/sched.h"
#include "actor/send.h"
#include "actor/signal.h"
#include "actor/timer.h"
#include "actor/waiter.h"

#endif
