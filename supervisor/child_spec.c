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

int tr__sup_check_child(const tr_child_spec *c, bool need_id, const char **what) {
    const char *w = NULL;
    if (!c)
        w = "no child spec";
    else if (!c->behaviour && !c->fiber)
        w = "missing behaviour";
    else if (c->behaviour && c->fiber)
        w = "both a behaviour and a fiber";
    else if ((c->fiber || c->on_fiber) && c->stack_size &&
             (c->stack_size < 16 * 1024 || c->stack_size > ((size_t)1 << 30)))
        w = "bad stack size";
    else if (c->id && strnlen(c->id, TR_CHILD_ID_MAX + 1) > TR_CHILD_ID_MAX)
        w = "id too long";
    else if (need_id && (!c->id || c->id[0] == '\0'))
        w = "missing id";
    else if ((int)c->restart < (int)TR_PERMANENT || (int)c->restart > (int)TR_TEMPORARY)
        w = "bad restart type";
    else if (c->shutdown_ms < 0 && c->shutdown_ms != TR_INFINITY)
        w = "bad shutdown";
    else if ((int)c->type != (int)TR_WORKER && (int)c->type != (int)TR_SUPERVISOR)
        w = "bad child type";
    else if (c->arg_size > 0 && !c->arg)
        w = "arg NULL with arg_size";
    /* Sizes no allocation can hold: refused here, not as TR_EINIT later. */
    else if (c->arg_size > TR__SIZE_MAX ||
             (c->behaviour && c->behaviour->state_size > TR__SIZE_MAX))
        w = "size too large";
    else if (c->significant && c->restart == TR_PERMANENT)
        w = "significant permanent child";
    else if (c->name) {
        size_t len = strnlen(c->name, TR_NAME_MAX + 1);
        if (len == 0 || len > TR_NAME_MAX)
            w = "bad name";
        else if (!need_id) /* many children, one name: OTP names none either */
            w = "name on a simple_one_for_one template (many children)";
    }
    if (what)
        *what = w;
    return w ? TR_EINVAL : 0;
}

int tr__sup_validate_child(const tr_child_spec *c, bool need_id) {
    return tr__sup_check_child(c, need_id, NULL);
}

int tr__sup_check_spec(const tr_sup_spec *spec, const char **what, long *index) {
    const char *w = NULL;
    long at = -1;
    int rc = 0;
    const tr_sup_flags *f = spec ? &spec->flags : NULL;
    if (!spec)
        w = "no spec";
    else if ((int)f->strategy < (int)TR_ONE_FOR_ONE ||
             (int)f->strategy > (int)TR_SIMPLE_ONE_FOR_ONE)
        w = "bad strategy";
    else if (f->intensity < 0 || f->period_ms < 0)
        w = "bad intensity or period";
    else if (f->backoff_initial_ms < 0 || f->backoff_max_ms < 0 || f->backoff_jitter_pct > 100)
        w = "bad backoff";
    else if ((int)f->auto_shutdown < (int)TR_AUTO_SHUTDOWN_NEVER ||
             (int)f->auto_shutdown > (int)TR_AUTO_SHUTDOWN_ALL_SIGNIFICANT)
        w = "bad auto_shutdown";
    else if (spec->n_children > 0 && !spec->children)
        w = "children NULL";
    else if (f->strategy == TR_SIMPLE_ONE_FOR_ONE) {
        if (spec->n_children != 1)
            w = "simple_one_for_one needs exactly one template";
        else if ((rc = tr__sup_check_child(&spec->children[0], false, &w)) != 0)
            at = 0;
        else if (spec->children[0].significant && f->auto_shutdown == TR_AUTO_SHUTDOWN_NEVER) {
            w = "significant child without auto_shutdown";
            at = 0;
        }
    } else {
        for (size_t i = 0; i < spec->n_children && !w; i++) {
            if (tr__sup_check_child(&spec->children[i], true, &w)) {
                at = (long)i;
                break;
            }
            if (spec->children[i].significant && f->auto_shutdown == TR_AUTO_SHUTDOWN_NEVER) {
                w = "significant child without auto_shutdown";
                at = (long)i;
                break;
            }
            for (size_t j = 0; j < i; j++) {
                if (strcmp(spec->children[i].id, spec->children[j].id) == 0) {
                    w = "duplicate id";
                    at = (long)i;
                    break;
                }
                const char *a = spec->children[i].name, *b = spec->children[j].name;
                if (a && b && strcmp(a, b) == 0) {
                    w = "duplicate name";
                    at = (long)i;
                    break;
                }
            }
        }
    }
    if (what)
        *what = w;
    if (index)
        *index = w ? at : -1;
    return w ? TR_EINVAL : 0;
}

int tr__sup_validate_spec(const tr_sup_spec *spec) {
    return tr__sup_check_spec(spec, NULL, NULL);
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
    c->significant = spec->significant;
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
