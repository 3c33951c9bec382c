/* troupe — the services: the one place that lists the subsystems outside
 * actor/ that keep state per runtime, and brings them up and down (as
 * nng's init.c calls each nni_*_sys_init). The actor core knows them only
 * through their tr__service descriptors (actor/internal.h). */
#include "actor/core.h"

extern const tr__service tr__registry_service; /* registry/registry.c */
extern const tr__service tr__blocking_service; /* task/blocking.c */

static const tr__service *const services[TR__SVC_COUNT] = {
    [TR__SVC_REGISTRY] = &tr__registry_service,
    [TR__SVC_BLOCKING] = &tr__blocking_service,
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

void tr__services_on_exit(tr_runtime *rt, tr_pid pid) {
    for (unsigned i = 0; i < TR__SVC_COUNT; i++)
        if (services[i]->on_exit && rt->services[i])
            services[i]->on_exit(rt, rt->services[i], pid);
}

void *tr__service_state(const tr_runtime *rt, unsigned id) {
    return rt && id < TR__SVC_COUNT ? rt->services[id] : NULL;
}
