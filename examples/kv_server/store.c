/* kv_server — one shard's hash table and the shard protocol. See store.h. */
#include "store.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "resp.h"

/* Eight bytes at a time (a multiply and a shift each), the tail as one
 * more word, then a murmur-style finalizer so that the high bits (the
 * shard) and the low bits (the bucket) are both well mixed. */
uint64_t kv_hash(const void *key, size_t len) {
    const unsigned char *p = (const unsigned char *)key;
    uint64_t h = 0x9e3779b97f4a7c15ull ^ ((uint64_t)len * 0xff51afd7ed558ccdull);
    for (; len >= 8; p += 8, len -= 8) {
        uint64_t w;
        memcpy(&w, p, 8);
        h = (h ^ w) * 0xbf58476d1ce4e5b9ull;
        h ^= h >> 29;
    }
    uint64_t w = 0;
    for (size_t i = 0; i < len; i++)
        w |= (uint64_t)p[i] << (8 * i);
    h = (h ^ w) * 0x94d049bb133111ebull;
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

static char *inline_val(kv_entry *e) {
    return e->key + e->klen + 1;
}

static void entry_free(kv_entry *e) {
    if (e->val != inline_val(e))
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

/* Values up to this size are kept inline, in the entry's allocation. */
#define KV_INLINE_MAX 64

/* Sets key to a copy of val; returns the entry or NULL (no memory). */
static kv_entry *store_set(kv_store *s, kv_entry **link, const char *key, size_t klen, uint64_t h,
                           const char *val, size_t vlen) {
    if (link) {
        kv_entry *e = *link;
        char *in = inline_val(e);
        char *v = in;
        if (vlen > e->icap) {
            v = (char *)malloc(vlen);
            if (!v)
                return NULL;
        }
        if (e->val != in && e->val != v)
            free(e->val);
        memcpy(v, val, vlen);
        e->val = v;
        e->vlen = (uint32_t)vlen;
        return e;
    }
    /* the allocation rounded up to 16 bytes: the rest is inline room */
    size_t base = sizeof(kv_entry) + klen + 1;
    size_t want = base + (vlen <= KV_INLINE_MAX ? vlen : 0);
    size_t size = (want + 15) & ~(size_t)15;
    kv_entry *e = (kv_entry *)malloc(size);
    if (!e)
        return NULL;
    e->klen = (uint32_t)klen;
    e->icap = (uint32_t)(size - base);
    char *v = inline_val(e);
    if (vlen > e->icap) {
        v = (char *)malloc(vlen);
        if (!v) {
            free(e);
            return NULL;
        }
    }
    memcpy(v, val, vlen);
    e->hash = h;
    e->expire_ms = 0;
    e->val = v;
    e->vlen = (uint32_t)vlen;
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
    kv_op_put_hashed(req, id, code, flags, num, kv_hash(key, klen), key, klen, val, vlen);
}

void kv_op_put_hashed(kv_buf *req, uint32_t id, uint8_t code, uint8_t flags, int64_t num,
                      uint64_t hash, const void *key, size_t klen, const void *val, size_t vlen) {
    kv_op_hdr h = {.id = id,
                   .code = code,
                   .flags = flags,
                   .num = num,
                   .hash = hash,
                   .klen = (uint32_t)klen,
                   .vlen = (uint32_t)vlen};
    size_t size = (sizeof h + klen + vlen + 7) & ~(size_t)7;
    if (!kv_buf_reserve(req, size))
        return;
    char *p = req->p + req->len;
    memcpy(p, &h, sizeof h);
    if (klen)
        memcpy(p + sizeof h, key, klen);
    if (vlen)
        memcpy(p + sizeof h + klen, val, vlen);
    memset(p + sizeof h + klen + vlen, 0, size - (sizeof h + klen + vlen));
    req->len += size;
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
    char *digits = kv_fmt_ll(tmp + sizeof tmp, v);
    int64_t keep = link ? (*link)->expire_ms : 0;
    kv_entry *e = store_set(s, link, key, op->klen, h, digits, (size_t)(tmp + sizeof tmp - digits));
    if (!e) {
        kv_w_error(out, "OOM command not allowed when used memory > 'maxmemory'.");
        return;
    }
    set_expire(s, e, keep);
    kv_w_int(out, v);
}

/* The next op of a request at *at: its header, key and value, or false
 * when the request is malformed or ends. */
static bool next_op(const char *req, size_t len, size_t *at, kv_op_hdr *op, const char **key) {
    if (len - *at < sizeof(kv_op_hdr))
        return false;
    memcpy(op, req + *at, sizeof *op);
    size_t body = (size_t)op->klen + op->vlen;
    if (body > len - *at - sizeof *op)
        return false;
    *key = req + *at + sizeof *op;
    *at += (sizeof *op + body + 7) & ~(size_t)7;
    return true;
}

/* Prefetches the buckets of the request's keys, then their first entries
 * (the chains are one long on average), so that the misses of several
 * ops overlap instead of coming one after the other in exec. */
static void prefetch(const kv_store *s, const char *req, size_t len) {
    kv_op_hdr op;
    const char *key;
    size_t at = 0;
    while (at < len && next_op(req, len, &at, &op, &key))
        if (op.klen)
            __builtin_prefetch(&s->tab[op.hash & s->mask]);
    at = 0;
    while (at < len && next_op(req, len, &at, &op, &key)) {
        const kv_entry *e = op.klen ? s->tab[op.hash & s->mask] : NULL;
        if (e) {
            __builtin_prefetch(e);
            __builtin_prefetch((const char *)e + 64);
        }
    }
}

int kv_store_exec(kv_store *s, const char *req, size_t len, int64_t now, kv_buf *out) {
    size_t at = 0;
    if (len > sizeof(kv_op_hdr) * 2)
        prefetch(s, req, len);
    while (at < len) {
        kv_op_hdr op;
        const char *key;
        if (!next_op(req, len, &at, &op, &key))
            return -1;
        const char *val = key + op.klen;
        uint64_t h = op.hash;
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
