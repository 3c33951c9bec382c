/* troupe — the services: the one place that lists the subsystems outside
 * actor/ that keep state per runtime, and brings them up and down (as
 * nng's init.c calls each nni_*_sys_init). The actor core knows them only
 * through their tr__service descriptors (actor/internal.h). */
#include "actor/core.h"

extern const tr__service tr__registry_service; /* registry/registry.c */
extern const tr__service tr__blocking_service; /* task/blocking.c */
extern const tr__service tr__net_service;      /* io/net.c */

static const tr__service *const services[TR__SVC_COUNT] = {
    [TR__SVC_REGISTRY] = &tr__registry_service,
    [TR__SVC_BLOCKING] = &tr__blocking_service,
    [TR__SVC_NET] = &tr__net_service,
};

int tr__services_init(tr_runtime *rt) {
    for (unsigned i = 0; i < TR__SVC_COUNT; i++) {
        int err = services[i]->init(rt, &rt->services[i]);
        if (err) {
            while (i-- > 0) {
                services[i]->fini(rt, rt->services[i]);
                rt->services[i] = NULL;
            }
            return err;
        }
    }
    return TR_OK;
}

void tr__services_fini(tr_runtime *rt) {
    for (unsigned i = TR__SVC_COUNT; i-- > 0;) {
        if (rt->services[i])
            services[i]->fini(rt, rt->services[i]);
        rt->services[i] = NULL;
    }
}

void tr__services_on_exit(tr_runtime *rt, tr_pid pid, unsigned marks) {
    for (unsigned i = 0; i < TR__SVC_COUNT; i++)
        if ((marks & (1u << i)) && services[i]->on_exit && rt->services[i])
            services[i]->on_exit(rt, rt->services[i], pid);
}

void tr__services_on_io(tr_runtime *rt, uint64_t key, uint32_t events) {
    /* One service has descriptors today (the network's); the key says
     * nothing about which, so each with on_io is asked. */
    for (unsigned i = 0; i < TR__SVC_COUNT; i++)
        if (services[i]->on_io && rt->services[i])
            services[i]->on_io(rt, rt->services[i], key, events);
}

int64_t tr__services_io_tick(tr_runtime *rt) {
    int64_t next = INT64_MAX;
    for (unsigned i = 0; i < TR__SVC_COUNT; i++)
        if (services[i]->io_tick && rt->services[i]) {
            int64_t d = services[i]->io_tick(rt, rt->services[i]);
            if (d < next)
                next = d;
        }
    return next;
}

void tr__services_stop(tr_runtime *rt) {
    for (unsigned i = TR__SVC_COUNT; i-- > 0;)
        if (services[i]->on_stop && rt->services[i])
            services[i]->on_stop(rt, rt->services[i]);
}

void *tr__service_state(const tr_runtime *rt, unsigned id) {
    return rt && id < TR__SVC_COUNT ? rt->services[id] : NULL;
}

size_t tr__services_names_of(tr_runtime *rt, tr_pid pid, char *buf, size_t size, size_t max) {
    for (unsigned i = 0; i < TR__SVC_COUNT; i++) {
        if (!services[i]->names_of || !rt->services[i])
            continue;
        size_t n = services[i]->names_of(rt, rt->services[i], pid, buf, size, max);
        if (n)
            return n;
    }
    return 0;
}

int tr__name_claim(tr_runtime *rt, const char *name, tr_pid pid, tr_pid keeper, tr_pid *holder) {
    const tr__service *r = services[TR__SVC_REGISTRY];
    return r->claim(rt, rt->services[TR__SVC_REGISTRY], name, pid, keeper, holder);
}

void tr__name_release(tr_runtime *rt, const char *name, tr_pid keeper) {
    const tr__service *r = services[TR__SVC_REGISTRY];
    r->release(rt, rt->services[TR__SVC_REGISTRY], name, keeper);
}
