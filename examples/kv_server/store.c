/* kv_server — one shard's hash table and the shard protocol. See store.h. */
#include "store.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "resp.h"

/* FNV-1a, 64 bits, then a murmur-style finalizer so that the high bits
 * (the shard) and the low bits (the bucket) are both well mixed. */
uint64_t kv_hash(const void *key, size_t len) {
    const unsigned char *p = (const unsigned char *)key;
    uint64_t h = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < len; i++) {
        h ^= p[i];
        h *= 0x100000001b3ull;
    }
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdull;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53ull;
    h ^= h >> 33;
    return h;
}

bool kv_store_init(kv_store *s) {
    *s = (kv_store){0};
    s->tab = (kv_entry **)calloc(16, sizeof(kv_entry *));
    if (!s->tab)
        return false;
    s->mask = 15;
    return true;
}

static void entry_free(kv_entry *e) {
    free(e->val);
    free(e);
}

void kv_store_clear(kv_store *s) {
    for (size_t i = 0; i <= s->mask; i++) {
        kv_entry *e = s->tab[i];
        while (e) {
            kv_entry *n = e->next;
            entry_free(e);
            e = n;
        }
        s->tab[i] = NULL;
    }
    s->count = s->expires = 0;
}

void kv_store_fini(kv_store *s) {
    if (!s->tab)
        return;
    kv_store_clear(s);
    free(s->tab);
    s->tab = NULL;
}

static void grow(kv_store *s) {
    size_t n = (s->mask + 1) * 2;
    kv_entry **t = (kv_entry **)calloc(n, sizeof(kv_entry *));
    if (!t)
        return; /* longer chains, still correct */
    for (size_t i = 0; i <= s->mask; i++) {
        kv_entry *e = s->tab[i];
        while (e) {
            kv_entry *next = e->next;
            size_t j = e->hash & (n - 1);
            e->next = t[j];
            t[j] = e;
            e = next;
        }
    }
    free(s->tab);
    s->tab = t;
    s->mask = n - 1;
    s->sweep_pos = 0;
}

static void unlink_entry(kv_store *s, kv_entry **link) {
    kv_entry *e = *link;
    *link = e->next;
    s->count--;
    if (e->expire_ms)
        s->expires--;
    entry_free(e);
}

/* The link that points at the live entry for key, or NULL; an expired
 * entry found on the way is deleted. */
static kv_entry **find(kv_store *s, const char *key, size_t klen, uint64_t h, int64_t now) {
    kv_entry **link = &s->tab[h & s->mask];
    for (; *link; link = &(*link)->next) {
        kv_entry *e = *link;
        if (e->hash == h && e->klen == klen && memcmp(e->key, key, klen) == 0) {
            if (e->expire_ms && e->expire_ms <= now) {
                unlink_entry(s, link);
                return NULL;
            }
            return link;
        }
    }
    return NULL;
}

size_t kv_store_sweep(kv_store *s, int64_t now, size_t buckets) {
    size_t gone = 0;
    if (!s->expires)
        return 0;
    for (size_t k = 0; k < buckets && k <= s->mask; k++) {
        size_t i = s->sweep_pos++ & s->mask;
        kv_entry **link = &s->tab[i];
        while (*link) {
            if ((*link)->expire_ms && (*link)->expire_ms <= now) {
                unlink_entry(s, link);
                gone++;
            } else {
                link = &(*link)->next;
            }
        }
    }
    return gone;
}

static void set_expire(kv_store *s, kv_entry *e, int64_t at) {
    if (e->expire_ms && !at)
        s->expires--;
    else if (!e->expire_ms && at)
        s->expires++;
    e->expire_ms = at;
}

/* Sets key to a copy of val; returns the entry or NULL (no memory). */
static kv_entry *store_set(kv_store *s, kv_entry **link, const char *key, size_t klen, uint64_t h,
                           const char *val, size_t vlen) {
    char *v = (char *)malloc(vlen ? vlen : 1);
    if (!v)
        return NULL;
    memcpy(v, val, vlen);
    if (link) {
        kv_entry *e = *link;
        free(e->val);
        e->val = v;
        e->vlen = vlen;
        return e;
    }
    kv_entry *e = (kv_entry *)malloc(sizeof(kv_entry) + klen + 1);
    if (!e) {
        free(v);
        return NULL;
    }
    e->hash = h;
    e->expire_ms = 0;
    e->val = v;
    e->vlen = vlen;
    e->klen = klen;
    memcpy(e->key, key, klen);
    e->key[klen] = 0;
    size_t b = h & s->mask;
    e->next = s->tab[b];
    s->tab[b] = e;
    s->count++;
    if (s->count > s->mask + 1)
        grow(s);
    return e;
}

void kv_op_put(kv_buf *req, uint32_t id, uint8_t code, uint8_t flags, int64_t num, const void *key,
               size_t klen, const void *val, size_t vlen) {
    kv_op_hdr h = {.id = id,
                   .code = code,
                   .flags = flags,
                   .num = num,
                   .klen = (uint32_t)klen,
                   .vlen = (uint32_t)vlen};
    kv_buf_reserve(req, sizeof h + klen + vlen + 8);
    kv_buf_put(req, &h, sizeof h);
    kv_buf_put(req, key, klen);
    kv_buf_put(req, val, vlen);
    kv_buf_align8(req);
}

/* Starts a result; the RESP bytes follow (res_end fixes the length). */
static size_t res_begin(kv_buf *out, uint32_t id, int64_t num) {
    kv_res_hdr h = {.id = id, .len = 0, .num = num};
    size_t at = out->len;
    kv_buf_put(out, &h, sizeof h);
    return at;
}

static void res_end(kv_buf *out, size_t at) {
    if (out->failed)
        return;
    kv_res_hdr *h = (kv_res_hdr *)(out->p + at);
    h->len = (uint32_t)(out->len - at - sizeof(kv_res_hdr));
    kv_buf_align8(out);
}

static void exec_set(kv_store *s, const kv_op_hdr *op, const char *key, const char *val, uint64_t h,
                     int64_t now, kv_buf *out) {
    kv_entry **link = find(s, key, op->klen, h, now);
    bool exists = link != NULL;
    if (op->flags & KV_SET_GET) {
        if (exists)
            kv_w_bulk(out, (*link)->val, (*link)->vlen);
        else
            kv_w_nil(out);
    }
    if (((op->flags & KV_SET_NX) && exists) || ((op->flags & KV_SET_XX) && !exists)) {
        if (!(op->flags & KV_SET_GET))
            kv_w_nil(out);
        return;
    }
    kv_entry *e = store_set(s, link, key, op->klen, h, val, op->vlen);
    if (!e) {
        if (!(op->flags & KV_SET_GET))
            kv_w_error(out, "OOM command not allowed when used memory > 'maxmemory'.");
        return;
    }
    if (!(op->flags & KV_SET_KEEPTTL))
        set_expire(s, e, op->num);
    if (!(op->flags & KV_SET_GET))
        kv_w_status(out, "OK");
}

static void exec_incrby(kv_store *s, const kv_op_hdr *op, const char *key, uint64_t h, int64_t now,
                        kv_buf *out) {
    kv_entry **link = find(s, key, op->klen, h, now);
    long long v = 0;
    if (link && !kv_str2ll((*link)->val, (*link)->vlen, &v)) {
        kv_w_error(out, "ERR value is not an integer or out of range");
        return;
    }
    long long by = op->num;
    if ((by > 0 && v > LLONG_MAX - by) || (by < 0 && v < LLONG_MIN - by)) {
        kv_w_error(out, "ERR increment or decrement would overflow");
        return;
    }
    v += by;
    char tmp[24];
    int n = snprintf(tmp, sizeof tmp, "%lld", v);
    int64_t keep = link ? (*link)->expire_ms : 0;
    kv_entry *e = store_set(s, link, key, op->klen, h, tmp, (size_t)n);
    if (!e) {
        kv_w_error(out, "OOM command not allowed when used memory > 'maxmemory'.");
        return;
    }
    set_expire(s, e, keep);
    kv_w_int(out, v);
}

int kv_store_exec(kv_store *s, const char *req, size_t len, int64_t now, kv_buf *out) {
    size_t at = 0;
    while (at < len) {
        if (len - at < sizeof(kv_op_hdr))
            return -1;
        kv_op_hdr op;
        memcpy(&op, req + at, sizeof op);
        size_t body = (size_t)op.klen + op.vlen;
        if (body > len - at - sizeof op)
            return -1;
        const char *key = req + at + sizeof op;
        const char *val = key + op.klen;
        at += (sizeof op + body + 7) & ~(size_t)7;
        uint64_t h = op.klen || op.code <= KV_OP_TTL ? kv_hash(key, op.klen) : 0;
        size_t r = res_begin(out, op.id, 0);
        kv_res_hdr *rh;
        switch (op.code) {
        case KV_OP_GET: {
            kv_entry **link = find(s, key, op.klen, h, now);
            if (link)
                kv_w_bulk(out, (*link)->val, (*link)->vlen);
            else
                kv_w_nil(out);
            break;
        }
        case KV_OP_SET:
            exec_set(s, &op, key, val, h, now, out);
            break;
        case KV_OP_DEL:
        case KV_OP_EXISTS: {
            kv_entry **link = find(s, key, op.klen, h, now);
            if (link && op.code == KV_OP_DEL)
                unlink_entry(s, link);
            if (!out->failed) {
                rh = (kv_res_hdr *)(out->p + r);
                rh->num = link != NULL;
            }
            break;
        }
        case KV_OP_INCRBY:
            exec_incrby(s, &op, key, h, now, out);
            break;
        case KV_OP_EXPIRE: {
            kv_entry **link = find(s, key, op.klen, h, now);
            if (!link) {
                kv_w_int(out, 0);
            } else if (op.num <= now) {
                unlink_entry(s, link);
                kv_w_int(out, 1);
            } else {
                set_expire(s, *link, op.num);
                kv_w_int(out, 1);
            }
            break;
        }
        case KV_OP_TTL: {
            kv_entry **link = find(s, key, op.klen, h, now);
            long long t;
            if (!link)
                t = -2;
            else if (!(*link)->expire_ms)
                t = -1;
            else if (op.flags & KV_TTL_MS)
                t = (*link)->expire_ms - now;
            else
                t = ((*link)->expire_ms - now + 500) / 1000;
            kv_w_int(out, t);
            break;
        }
        case KV_OP_DBSIZE:
            if (!out->failed) {
                rh = (kv_res_hdr *)(out->p + r);
                rh->num = (int64_t)s->count;
            }
            break;
        case KV_OP_FLUSH:
            kv_store_clear(s);
            break;
        case KV_OP_CRASH:
            return 1;
        default:
            return -1;
        }
        res_end(out, r);
    }
    return 0;
}
