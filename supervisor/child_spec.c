/* troupe — child specs (supervisor/child_spec.h): validating a
 * tr_child_spec or a tr_sup_spec, and the supervisor's copy of a child's
 * spec. */
#include <string.h>

#include <troupe/registry.h>

#include "base/alloc.h"
#include "supervisor/child_spec.h"

/* ------------------------------------------------------------------------ */
/* Validation                                                                */
/* ------------------------------------------------------------------------ */

int tr__sup_validate_child(const tr_child_spec *c, bool need_id) {
    if (!c || !c->behaviour == !c->fiber) /* exactly one of the two */
        return TR_EINVAL;
    if ((c->fiber || c->on_fiber) && c->stack_size &&
        (c->stack_size < 16 * 1024 || c->stack_size > ((size_t)1 << 30)))
        return TR_EINVAL;
    if (c->id) {
        size_t len = strnlen(c->id, TR_CHILD_ID_MAX + 1);
        if (len > TR_CHILD_ID_MAX || (need_id && len == 0))
            return TR_EINVAL;
    } else if (need_id) {
        return TR_EINVAL;
    }
    if ((int)c->restart < (int)TR_PERMANENT || (int)c->restart > (int)TR_TEMPORARY)
        return TR_EINVAL;
    if (c->shutdown_ms < 0 && c->shutdown_ms != TR_INFINITY)
        return TR_EINVAL;
    if ((int)c->type != (int)TR_WORKER && (int)c->type != (int)TR_SUPERVISOR)
        return TR_EINVAL;
    if (c->arg_size > 0 && !c->arg)
        return TR_EINVAL;
    if (c->name) {
        size_t len = strnlen(c->name, TR_NAME_MAX + 1);
        if (len == 0 || len > TR_NAME_MAX || c->fiber || !need_id)
            return TR_EINVAL; /* !need_id: a simple_one_for_one template */
    }
    /* Sizes no allocation can hold: refused here, not as TR_EINIT later. */
    if (c->arg_size > TR__SIZE_MAX || (c->behaviour && c->behaviour->state_size > TR__SIZE_MAX))
        return TR_EINVAL;
    return 0;
}

int tr__sup_validate_spec(const tr_sup_spec *spec) {
    if (!spec)
        return TR_EINVAL;
    const tr_sup_flags *f = &spec->flags;
    if ((int)f->strategy < (int)TR_ONE_FOR_ONE || (int)f->strategy > (int)TR_SIMPLE_ONE_FOR_ONE)
        return TR_EINVAL;
    if (f->intensity < 0 || f->period_ms < 0 || f->backoff_initial_ms < 0 ||
        f->backoff_max_ms < 0 || f->backoff_jitter_pct > 100)
        return TR_EINVAL;
    if (spec->n_children > 0 && !spec->children)
        return TR_EINVAL;
    if (f->strategy == TR_SIMPLE_ONE_FOR_ONE) {
        if (spec->n_children != 1)
            return TR_EINVAL;
        return tr__sup_validate_child(&spec->children[0], false);
    }
    for (size_t i = 0; i < spec->n_children; i++) {
        int rc = tr__sup_validate_child(&spec->children[i], true);
        if (rc)
            return rc;
        for (size_t j = 0; j < i; j++) {
            if (strcmp(spec->children[i].id, spec->children[j].id) == 0)
                return TR_EINVAL;
            const char *a = spec->children[i].name, *b = spec->children[j].name;
            if (a && b && strcmp(a, b) == 0)
                return TR_EINVAL;
        }
    }
    return 0;
}

/* ------------------------------------------------------------------------ */
/* The supervisor's copy                                                     */
/* ------------------------------------------------------------------------ */

void tr__sup_child_free(tr__sup_child *c) {
    if (!c)
        return;
    tr__free(c->arg_copy);
    tr__free(c->name);
    tr__free(c);
}

/* Fills c from spec (copying id and arg). Returns 0 or TR_ENOMEM. */
int tr__sup_child_fill(tr__sup_child *c, const tr_child_spec *spec) {
    memset(c, 0, sizeof(*c));
    if (spec->id)
        memcpy(c->id, spec->id, strnlen(spec->id, TR_CHILD_ID_MAX));
    c->behaviour = spec->behaviour;
    c->fiber = spec->fiber;
    c->stack_size = spec->stack_size;
    c->on_fiber = spec->on_fiber;
    c->restart = spec->restart;
    c->type = spec->type;
    c->shutdown_ms = spec->shutdown_ms;
    if (c->type == TR_SUPERVISOR && c->shutdown_ms == 0)
        c->shutdown_ms = TR_INFINITY;
    c->arg_size = spec->arg_size;
    if (spec->name) {
        size_t len = strlen(spec->name) + 1; /* validated: at most TR_NAME_MAX */
        c->name = tr__malloc(len);
        if (!c->name)
            return TR_ENOMEM;
        memcpy(c->name, spec->name, len);
    }
    if (spec->arg_size > 0) {
        c->arg_copy = tr__malloc(spec->arg_size);
        if (!c->arg_copy)
            return TR_ENOMEM;
        memcpy(c->arg_copy, spec->arg, spec->arg_size);
        c->arg = c->arg_copy;
    } else {
        c->arg = spec->arg;
    }
    return 0;
}
