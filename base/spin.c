/* troupe — the spinlock's slow path. */
#include <sched.h>

#include "base/spin.h"

void tr__spin_lock_slow(tr__spin *s) {
    for (unsigned i = 0;; i++) {
        if (tr__load_acq_u32(&s->v) == 0 && tr__cas_acqrel_u32(&s->v, 0, 1))
            return;
        if (i < 64)
            tr__cpu_relax();
        else
            sched_yield();
    }
}
