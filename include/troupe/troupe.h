/* troupe — an actor runtime for C in the tradition of Erlang/OTP.
 * Umbrella header: include this one. */
#ifndef TROUPE_TROUPE_H
#define TROUPE_TROUPE_H

#include "errors.h"
#include "actor.h"
#include "registry.h"
#include "supervisor.h"
#include "pool.h"
#include "future.h"
#include "task_pool.h"
#include "fiber.h"
#include "blocking.h"
#include "channel.h"
#include "net.h"
#include "log.h"
#include "introspect.h"
#include "receiver.h"

#define TROUPE_VERSION_MAJOR 0
#define TROUPE_VERSION_MINOR 1
#define TROUPE_VERSION_PATCH 0

#endif
