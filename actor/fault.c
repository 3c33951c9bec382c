/* troupe — allocation-failure injection (test builds only; actor/fault.h). */
#include "actor/fault.h"
#include "actor/core.h"

#ifdef TR_FAULT_INJECTION
__thread tr__fault *tr__tls_fault;

void tr__fault_arm(tr_runtime *rt, uint64_t nth, uint64_t every) {
    tr__store_rel_u32(&rt->fault.armed, 0);
    tr__store_rel_u64(&rt->fault.n, 0);
    tr__store_rel_u64(&rt->fault.failed, 0);
    rt->fault.nth = nth;
    rt->fault.every = every;
    tr__tls_fault = &rt->fault;
    tr__store_rel_u32(&rt->fault.armed, 1);
}

uint64_t tr__fault_disarm(tr_runtime *rt) {
    tr__store_rel_u32(&rt->fault.armed, 0);
    if (tr__tls_fault == &rt->fault)
        tr__tls_fault = NULL; /* the runtime may be stopped and freed next */
    return tr__load_acq_u64(&rt->fault.failed);
}

void tr__fault_detach(void) {
    tr__tls_fault = NULL;
}

uint64_t tr__fault_count(tr_runtime *rt) {
    return tr__load_acq_u64(&rt->fault.n);
}
#else
typedef int tr__fault_unused; /* ISO C: a translation unit is not empty */
#endif
