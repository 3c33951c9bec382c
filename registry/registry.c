/* troupe — local name registry: a service of the runtime (actor/internal.h).
 *
 * Names live in a ck_hs set in SPMC mode: lookups (whereis, send by name)
 * run without locks inside an epoch section; register and unregister
 * serialize on a mutex. Removed entries and replaced hash-set maps are
 * freed only after an epoch grace period (ck_epoch_synchronize), so a
 * reader never touches freed memory. An actor that gets a name is marked
 * (tr__actor_mark_named), and its exit calls registry_on_exit, which drops
 * its names before its links and monitors learn of the exit.
 */
#include <pthread.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <ck_hs.h>

#include <troupe/registry.h>

#include "actor/internal.h"
#include "base/alloc.h"
#include "base/atomic.h"

typedef struct reg_entry {
    ck_epoch_entry_t ep; /* deferred free */
    /* Both atomic: readers load them without the mutex. pid 0 with a live
     * keeper: the keeper (a supervisor) restarts the name's actor. */
    tr_pid pid;
    tr_pid keeper;
    size_t len;
    char name[TR_NAME_MAX + 1];
} reg_entry;

/* Maps the hash set gave back while a writer held the mutex; freed after
 * the grace period. ck_malloc carries no context, so the writer publishes
 * its registry in a thread-local for the duration of the operation. */
typedef struct deferred {
    ck_epoch_entry_t ep; /* deferred free on a scheduler thread */
    struct deferred *next;
} deferred;

/* Room in front of every map allocation for its `deferred` header. */
#define MAP_HDR 32
_Static_assert(sizeof(deferred) <= MAP_HDR, "map header");

typedef struct tr__registry {
    pthread_mutex_t mu;
    ck_hs_t hs;
    deferred *garbage;
} tr__registry;

static __thread tr__registry *tls_writer;

static void *hs_malloc(size_t n) {
    char *p = (char *)tr__malloc(n + MAP_HDR);
    return p ? p + MAP_HDR : NULL;
}
static void hs_free(void *p, size_t n, bool defer) {
    (void)n;
    if (!p)
        return;
    char *base = (char *)p - MAP_HDR;
    if (defer && tls_writer) {
        deferred *d = (deferred *)base;
        d->next = tls_writer->garbage;
        tls_writer->garbage = d;
        return;
    }
    tr__free(base);
}
static struct ck_malloc hs_allocator = {.malloc = hs_malloc, .realloc = NULL, .free = hs_free};

static unsigned long hs_hash(const void *obj, unsigned long seed) {
    const reg_entry *e = (const reg_entry *)obj;
    unsigned long h = 1469598103934665603ul ^ seed;
    for (size_t i = 0; i < e->len; i++) {
        h ^= (unsigned char)e->name[i];
        h *= 1099511628211ul;
    }
    return h;
}
static bool hs_compare(const void *a, const void *b) {
    const reg_entry *x = (const reg_entry *)a, *y = (const reg_entry *)b;
    /* ck_hs calls this on a published entry before ck_hs_get returns it:
     * the reader's side of tr_register's release (TSan cannot see ck_hs's
     * own ordering). */
    TR__TSAN_ACQUIRE(x);
    TR__TSAN_ACQUIRE(y);
    return x->len == y->len && memcmp(x->name, y->name, x->len) == 0;
}

static tr__registry *reg(const tr_runtime *rt) {
    return (tr__registry *)tr__service_state(rt, TR__SVC_REGISTRY);
}

static int registry_init(tr_runtime *rt, void **state) {
    (void)rt;
    tr__registry *r = (tr__registry *)tr__calloc(sizeof *r);
    if (!r)
        return TR_ENOMEM;
    pthread_mutex_init(&r->mu, NULL);
    if (!ck_hs_init(&r->hs, CK_HS_MODE_OBJECT | CK_HS_MODE_SPMC, hs_hash, hs_compare, &hs_allocator,
                    64, 0x5eed)) {
        pthread_mutex_destroy(&r->mu);
        tr__free(r);
        return TR_ENOMEM;
    }
    *state = r;
    return TR_OK;
}

static void registry_fini(tr_runtime *rt, void *state) {
    (void)rt;
    tr__registry *r = (tr__registry *)state;
    ck_hs_iterator_t it = CK_HS_ITERATOR_INITIALIZER;
    void *obj;
    while (ck_hs_next(&r->hs, &it, &obj))
        tr__free(obj);
    ck_hs_destroy(&r->hs);
    while (r->garbage) {
        deferred *d = r->garbage;
        r->garbage = d->next;
        tr__free(d);
    }
    pthread_mutex_destroy(&r->mu);
    tr__free(r);
}

/* Writer side: lock, and note ourselves for deferred frees. */
static void writer_begin(tr__registry *r) {
    pthread_mutex_lock(&r->mu);
    tls_writer = r;
}

static void entry_free_cb(ck_epoch_entry_t *e) {
    reg_entry *entry = (reg_entry *)((char *)e - offsetof(reg_entry, ep));
    TR__TSAN_ACQUIRE(entry); /* readers released it after use */
    tr__free(entry);
}

static void map_free_cb(ck_epoch_entry_t *e) {
    tr__free((char *)e - offsetof(deferred, ep));
}

/* Writer side: frees `dead` entries and replaced maps once no reader can
 * still see them, and unlocks. A scheduler thread may be inside its epoch
 * section (it holds one across callbacks), so there the frees are deferred
 * to its record (tr__retire_defer). A plain thread unlocks first, then
 * waits for the grace period itself: waiting while holding the mutex could
 * deadlock with a scheduler thread that, inside its section, waits for the
 * mutex. */
static void writer_end(tr_runtime *rt, tr__registry *r, reg_entry **dead, size_t n_dead) {
    tls_writer = NULL;
    deferred *garbage = r->garbage;
    r->garbage = NULL;
    size_t i = 0;
    while (i < n_dead && tr__retire_defer(rt, &dead[i]->ep, entry_free_cb))
        i++;
    while (garbage) {
        deferred *next = garbage->next;
        if (!tr__retire_defer(rt, &garbage->ep, map_free_cb))
            break;
        garbage = next;
    }
    pthread_mutex_unlock(&r->mu);
    if (i == n_dead && !garbage)
        return;
    if (!tr__grace_wait(rt))
        return; /* no record (no memory): leak them, never free early */
    for (; i < n_dead; i++) {
        TR__TSAN_ACQUIRE(dead[i]); /* readers released it after use */
        tr__free(dead[i]);
    }
    while (garbage) {
        deferred *d = garbage;
        garbage = d->next;
        tr__free(d);
    }
}

static int check_name(const char *name, size_t *len) {
    if (!name)
        return TR_EINVAL;
    size_t n = strnlen(name, TR_NAME_MAX + 1);
    if (n == 0 || n > TR_NAME_MAX)
        return TR_EINVAL;
    *len = n;
    return TR_OK;
}

static void make_key(reg_entry *k, const char *name, size_t len) {
    k->pid = TR_PID_NONE;
    k->len = len;
    memcpy(k->name, name, len);
    k->name[len] = '\0';
}

static tr_pid e_pid(const reg_entry *e) {
    return (tr_pid){tr__load_acq_u64(&e->pid.id)};
}
static tr_pid e_keeper(const reg_entry *e) {
    return (tr_pid){tr__load_acq_u64(&e->keeper.id)};
}

static int claim(tr_runtime *rt, tr__registry *r, const char *name, tr_pid pid, tr_pid keeper,
                 tr_pid *holder);

int tr_register(tr_runtime *rt, const char *name, tr_pid pid, tr_pid *holder) {
    return claim(rt, rt ? reg(rt) : NULL, name, pid, TR_PID_NONE, holder);
}

static int registry_claim(tr_runtime *rt, void *state, const char *name, tr_pid pid, tr_pid keeper,
                          tr_pid *holder) {
    return claim(rt, (tr__registry *)state, name, pid, keeper, holder);
}

static int claim(tr_runtime *rt, tr__registry *r, const char *name, tr_pid pid, tr_pid keeper,
                 tr_pid *holder) {
    size_t len;
    if (!rt || check_name(name, &len) != TR_OK || pid.id == 0)
        return TR_EINVAL;
    if (tr__runtime_stopping(rt))
        return TR_ECLOSED;
    reg_entry *e = (reg_entry *)tr__malloc(sizeof *e);
    if (!e)
        return TR_ENOMEM;
    make_key(e, name, len);
    e->pid = pid;
    e->keeper = keeper;
    unsigned long h = CK_HS_HASH(&r->hs, hs_hash, e);
    writer_begin(r);
    /* A keeper is marked too: its exit (registry_on_exit) drops the names
     * it keeps, killed or not. One whose exit has begun keeps nothing. */
    if (keeper.id && tr__actor_mark_named(rt, keeper) != TR_OK)
        e->keeper = keeper = TR_PID_NONE;
    reg_entry *cur = (reg_entry *)ck_hs_get(&r->hs, h, e);
    if (cur) {
        tr_pid cp = e_pid(cur), ck = e_keeper(cur);
        int err = TR_OK;
        if (cp.id && tr_is_alive(rt, cp)) {
            if (holder)
                *holder = cp;
            err = TR_EEXIST;
        } else if (ck.id && !tr_pid_eq(ck, keeper) && tr_is_alive(rt, ck)) {
            /* Another keeper restarts the name's actor. */
            if (holder)
                *holder = TR_PID_NONE;
            err = TR_EAGAIN;
        } else if (tr__actor_mark_named(rt, pid) != TR_OK) {
            err = TR_ENOPROC;
        } else {
            /* The holder exited (its exit processing may not have reached
             * the registry yet: it will find the name taken over), or its
             * keeper restarts it now: the entry is rebound in place, so a
             * reader sees the old pid, none, or the new one, never a gap. */
            tr__store_rel_u64(&cur->keeper.id, keeper.id);
            tr__store_rel_u64(&cur->pid.id, pid.id);
        }
        writer_end(rt, r, NULL, 0);
        tr__free(e);
        return err;
    }
    /* Either the actor's exit has not begun and will call registry_on_exit
     * (after we unlock), or it has begun and we refuse. */
    if (tr__actor_mark_named(rt, pid) != TR_OK) {
        writer_end(rt, r, NULL, 0);
        tr__free(e);
        return TR_ENOPROC;
    }
    TR__TSAN_RELEASE(e); /* publication through ck_hs */
    if (!ck_hs_put(&r->hs, h, e)) {
        writer_end(rt, r, NULL, 0);
        tr__free(e);
        return TR_ENOMEM;
    }
    writer_end(rt, r, NULL, 0);
    return TR_OK;
}

static void registry_release(tr_runtime *rt, void *state, const char *name, tr_pid keeper) {
    tr__registry *r = (tr__registry *)state;
    size_t len;
    if (!r || check_name(name, &len) != TR_OK || keeper.id == 0)
        return;
    reg_entry key;
    make_key(&key, name, len);
    unsigned long h = CK_HS_HASH(&r->hs, hs_hash, &key);
    writer_begin(r);
    reg_entry *e = (reg_entry *)ck_hs_get(&r->hs, h, &key);
    if (e && tr_pid_eq(e_keeper(e), keeper) && !tr_is_alive(rt, e_pid(e)))
        e = (reg_entry *)ck_hs_remove(&r->hs, h, e);
    else
        e = NULL;
    writer_end(rt, r, e ? &e : NULL, e ? 1 : 0);
}

int tr_unregister(tr_runtime *rt, const char *name) {
    size_t len;
    if (!rt || check_name(name, &len) != TR_OK)
        return TR_EINVAL;
    tr__registry *r = reg(rt);
    reg_entry key;
    make_key(&key, name, len);
    unsigned long h = CK_HS_HASH(&r->hs, hs_hash, &key);
    writer_begin(r);
    reg_entry *e = (reg_entry *)ck_hs_remove(&r->hs, h, &key);
    writer_end(rt, r, e ? &e : NULL, e ? 1 : 0);
    return e ? TR_OK : TR_ENOTFOUND;
}

static void registry_on_exit(tr_runtime *rt, void *state, tr_pid pid) {
    tr__registry *r = (tr__registry *)state;
    reg_entry *dead[16];
    for (;;) {
        size_t n = 0;
        writer_begin(r);
        ck_hs_iterator_t it = CK_HS_ITERATOR_INITIALIZER;
        void *obj;
        while (n < 16 && ck_hs_next(&r->hs, &it, &obj)) {
            reg_entry *e = (reg_entry *)obj;
            tr_pid ep = e_pid(e), k = e_keeper(e);
            if (tr_pid_eq(k, pid)) {
                /* pid kept this name for a child (a supervisor, exiting
                 * for any reason, kill included): no restart will come.
                 * A kept name goes; a running child's name stays its own
                 * until the child exits (it is linked: it will). */
                if (ep.id && !tr_pid_eq(ep, pid) && tr_is_alive(rt, ep))
                    tr__store_rel_u64(&e->keeper.id, 0);
                else
                    dead[n++] = e;
                continue;
            }
            if (!tr_pid_eq(ep, pid))
                continue;
            if (k.id && tr_is_alive(rt, k))
                tr__store_rel_u64(&e->pid.id, 0); /* kept: its keeper restarts it */
            else
                dead[n++] = e;
        }
        for (size_t i = 0; i < n; i++)
            ck_hs_remove(&r->hs, CK_HS_HASH(&r->hs, hs_hash, dead[i]), dead[i]);
        writer_end(rt, r, dead, n);
        if (n < 16)
            return;
    }
}

/* The pid bound to name (TR_PID_NONE: none, or restarting) and, when
 * keeper is not NULL, the name's keeper (left as is when there is no
 * entry). Lock-free. */
static tr_pid lookup(tr_runtime *rt, const char *name, tr_pid *keeper) {
    size_t len;
    if (!rt || !reg(rt) || check_name(name, &len) != TR_OK)
        return TR_PID_NONE;
    tr__registry *r = reg(rt);
    reg_entry key;
    make_key(&key, name, len);
    unsigned long h = CK_HS_HASH(&r->hs, hs_hash, &key);
    bool borrowed;
    ck_epoch_record_t *rec = tr__epoch_enter(rt, &borrowed);
    if (!rec)
        return TR_PID_NONE;
    tr_pid pid = TR_PID_NONE;
    ck_epoch_begin(rec, NULL);
    reg_entry *e = (reg_entry *)ck_hs_get(&r->hs, h, &key);
    if (e) {
        TR__TSAN_ACQUIRE(e);
        pid = e_pid(e);
        if (keeper)
            *keeper = e_keeper(e);
        TR__TSAN_RELEASE(e);
    }
    ck_epoch_end(rec, NULL);
    tr__epoch_leave(rt, rec, borrowed);
    return pid;
}

tr_pid tr_whereis(tr_runtime *rt, const char *name) {
    return lookup(rt, name, NULL);
}

size_t tr_registered_count(tr_runtime *rt) {
    if (!rt || !reg(rt))
        return 0;
    tr__registry *r = reg(rt);
    size_t n = 0;
    pthread_mutex_lock(&r->mu);
    ck_hs_iterator_t it = CK_HS_ITERATOR_INITIALIZER;
    void *obj;
    while (ck_hs_next(&r->hs, &it, &obj))
        n += ((const reg_entry *)obj)->pid.id != 0; /* not the kept ones */
    pthread_mutex_unlock(&r->mu);
    return n;
}

/* Resolves a name for the *_named functions: TR_EINVAL for a bad name,
 * TR_EAGAIN when its keeper (a supervisor) is restarting its actor,
 * TR_ENOTFOUND when nobody holds it. */
static int resolve(tr_runtime *rt, const char *name, tr_pid *pid) {
    size_t len;
    if (!rt || check_name(name, &len) != TR_OK)
        return TR_EINVAL;
    tr_pid keeper = TR_PID_NONE;
    *pid = lookup(rt, name, &keeper);
    if (pid->id)
        return TR_OK;
    return keeper.id && tr_is_alive(rt, keeper) ? TR_EAGAIN : TR_ENOTFOUND;
}

/* A *_named operation found `old` dead (TR_ENOPROC): the name's actor
 * exited between the lookup and the send. TR_OK with *pid when the name
 * names another live actor now (try once more), TR_EAGAIN when its keeper
 * restarts it (or will: the exit has not reached the registry yet), else
 * err. */
static int resolve_again(tr_runtime *rt, const char *name, tr_pid old, int err, tr_pid *pid) {
    if (err != TR_ENOPROC)
        return err;
    tr_pid keeper = TR_PID_NONE;
    *pid = lookup(rt, name, &keeper);
    if (pid->id && !tr_pid_eq(*pid, old))
        return TR_OK;
    return keeper.id && tr_is_alive(rt, keeper) ? TR_EAGAIN : err;
}

int tr_send_named(tr_runtime *rt, const char *name, uint32_t tag, const void *data, size_t size) {
    tr_pid pid;
    int err = resolve(rt, name, &pid);
    if (err)
        return err;
    err = tr_send(rt, pid, tag, data, size);
    tr_pid again;
    if (err == TR_ENOPROC && (err = resolve_again(rt, name, pid, err, &again)) == TR_OK)
        err = tr_send(rt, again, tag, data, size);
    return err;
}

int tr_cast_named(tr_runtime *rt, const char *name, uint32_t tag, const void *data, size_t size) {
    tr_pid pid;
    int err = resolve(rt, name, &pid);
    if (err)
        return err;
    err = tr_cast(rt, pid, tag, data, size);
    tr_pid again;
    if (err == TR_ENOPROC && (err = resolve_again(rt, name, pid, err, &again)) == TR_OK)
        err = tr_cast(rt, again, tag, data, size);
    return err;
}

int tr_call_named(tr_runtime *rt, const char *name, uint32_t tag, const void *req, size_t size,
                  tr_buf *reply, tr_duration_ms timeout_ms) {
    if (reply)
        memset(reply, 0, sizeof *reply);
    tr_pid pid;
    int err = resolve(rt, name, &pid);
    if (err)
        return err;
    err = tr_call(rt, pid, tag, req, size, reply, timeout_ms);
    tr_pid again;
    if (err == TR_ENOPROC && (err = resolve_again(rt, name, pid, err, &again)) == TR_OK)
        err = tr_call(rt, again, tag, req, size, reply, timeout_ms);
    return err;
}

static size_t registry_names_of(tr_runtime *rt, void *state, tr_pid pid, char *buf, size_t size,
                                size_t max) {
    (void)rt;
    tr__registry *r = (tr__registry *)state;
    size_t n = 0;
    pthread_mutex_lock(&r->mu);
    ck_hs_iterator_t it = CK_HS_ITERATOR_INITIALIZER;
    void *obj;
    while (ck_hs_next(&r->hs, &it, &obj)) {
        const reg_entry *e = (const reg_entry *)obj;
        if (!tr_pid_eq(e->pid, pid))
            continue;
        if (n < max && size > 0)
            snprintf(buf + n * size, size, "%s", e->name);
        n++;
    }
    pthread_mutex_unlock(&r->mu);
    return n;
}

int tr_registered(tr_runtime *rt, tr_reg_entry *out, size_t max, size_t *n) {
    if (!rt || !n || (!out && max > 0))
        return TR_EINVAL;
    *n = 0;
    tr__registry *r = reg(rt);
    if (!r)
        return TR_OK;
    size_t k = 0;
    pthread_mutex_lock(&r->mu);
    ck_hs_iterator_t it = CK_HS_ITERATOR_INITIALIZER;
    void *obj;
    while (ck_hs_next(&r->hs, &it, &obj)) {
        const reg_entry *e = (const reg_entry *)obj;
        if (e->pid.id == 0)
            continue; /* kept for a restarting child: bound to no process */
        if (k < max) {
            memcpy(out[k].name, e->name, e->len);
            out[k].name[e->len] = '\0';
            out[k].pid = e->pid;
        }
        k++;
    }
    pthread_mutex_unlock(&r->mu);
    *n = k;
    return TR_OK;
}

int tr_name_of(tr_runtime *rt, tr_pid pid, char *buf, size_t size) {
    if (!rt || !buf || size == 0)
        return TR_EINVAL;
    buf[0] = '\0';
    tr__registry *r = reg(rt);
    if (!r || pid.id == 0)
        return TR_ENOTFOUND;
    return registry_names_of(rt, r, pid, buf, size, 1) ? TR_OK : TR_ENOTFOUND;
}

const tr__service tr__registry_service = {
    .name = "registry",
    .init = registry_init,
    .fini = registry_fini,
    .on_exit = registry_on_exit,
    .names_of = registry_names_of,
    .claim = registry_claim,
    .release = registry_release,
};
