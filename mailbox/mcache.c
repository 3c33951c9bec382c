/* troupe — per-scheduler message block caches. See mcache.h. */
#include "mailbox/mcache.h"

#include <troupe/errors.h>

#include "base/atomic.h"

__thread tr__mcache *tr__tls_mcache;

static void free_chain(tr__mfree *b, unsigned k) {
    while (b) {
        tr__mfree *next = b->next;
        tr__free_sized(b, tr__mc_class_size(k));
        b = next;
    }
}

int tr__mc_init_all(tr__mcache *base, unsigned n) {
    for (unsigned i = 0; i < n; i++) {
        tr__mcache *c = &base[i];
        c->base = base;
        c->n = n;
        c->index = i;
        c->pending = (tr__mlist *)tr__calloc(sizeof(tr__mlist) * TR__MC_CLASSES * n);
        if (!c->pending)
            return TR_ENOMEM;
    }
    return TR_OK;
}

void tr__mc_fini_all(tr__mcache *base, unsigned n) {
    for (unsigned i = 0; i < n; i++) {
        tr__mcache *c = &base[i];
        for (unsigned k = 0; k < TR__MC_CLASSES; k++) {
            free_chain(c->local[k].head, k);
            c->local[k] = (tr__mlist){0};
            /* batches: each batch's blocks are linked through next, and its
             * tail ends in NULL */
            tr__mfree *b = c->remote[k];
            c->remote[k] = NULL;
            while (b) {
                tr__mfree *nb = b->next_batch;
                free_chain(b, k);
                b = nb;
            }
        }
        if (c->pending) {
            for (unsigned j = 0; j < TR__MC_CLASSES * n; j++)
                free_chain(c->pending[j].head, j % TR__MC_CLASSES);
            tr__free(c->pending);
            c->pending = NULL;
        }
        c->n_pending = 0;
    }
}

/* Hands list l (blocks of class k owned by `owner`) back as one batch. */
static void give_back(tr__mcache *owner, unsigned k, tr__mlist *l) {
    tr__mfree *head = l->head;
    head->tail = l->tail;
    head->count = l->count;
    l->tail->next = NULL;
    tr__mfree **top = &owner->remote[k];
    tr__mfree *old = tr__load_acq_ptr((void *const *)top);
    for (;;) {
        head->next_batch = old;
        /* release: the owner that takes the batch sees its links */
        if (tr__cas_acqrel_ptr((void **)top, old, head))
            break;
        old = tr__load_acq_ptr((void *const *)top);
    }
    *l = (tr__mlist){0};
}

void tr__mc_flush(tr__mcache *c) {
    if (!c || c->n_pending == 0)
        return;
    for (unsigned i = 0; i < c->n; i++) {
        for (unsigned k = 0; k < TR__MC_CLASSES; k++) {
            tr__mlist *l = &c->pending[i * TR__MC_CLASSES + k];
            if (l->count)
                give_back(&c->base[i], k, l);
        }
    }
    c->n_pending = 0;
}

void *tr__mc_refill(tr__mcache *c, unsigned k) {
    /* Acquire: pairs with the release of the exchange or CAS that handed
     * each batch over (give_back), so the links inside the batches, written
     * on the giving thread, are visible here. */
    tr__mfree *b = tr__xchg_acqrel_ptr((void **)&c->remote[k], NULL);
    if (!b)
        return tr__malloc(tr__mc_class_size(k));
    /* Splice the batches into the (empty) local list, up to its bound; the
     * rest goes back to jemalloc. */
    uint32_t room = TR__MC_LOCAL_BYTES / tr__mc_class_size(k);
    tr__mfree *head = b, *tail = NULL;
    uint32_t count = 0;
    while (b) {
        tr__mfree *nb = b->next_batch;
        if (count + b->count > room && count > 0) {
            free_chain(b, k);
        } else {
            if (tail)
                tail->next = b;
            tail = b->tail;
            count += b->count;
        }
        b = nb;
    }
    tail->next = NULL;
    tr__mfree *out = head;
    c->local[k].head = head->next;
    c->local[k].count = count - 1;
    return out;
}

void tr__mc_free_slow(tr__mcache *mine, tr__mcache *owner, unsigned k, void *p) {
    /* A sibling's block (compared by address: owner is not dereferenced
     * unless it is one of this runtime's caches, which outlive its
     * threads). */
    if (mine && owner != mine &&
        (uintptr_t)owner - (uintptr_t)mine->base < mine->n * sizeof *mine) {
        tr__mlist *l = &mine->pending[owner->index * TR__MC_CLASSES + k];
        tr__mfree *b = (tr__mfree *)p;
        b->next = l->head;
        l->head = b;
        if (!l->tail) {
            l->tail = b;
            mine->n_pending++;
        }
        if (++l->count == TR__MC_BATCH) {
            give_back(owner, k, l);
            mine->n_pending--;
        }
        return;
    }
    tr__free_sized(p, tr__mc_class_size(k));
}
