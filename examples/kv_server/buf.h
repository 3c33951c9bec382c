/* kv_server — a growable byte buffer (the reply writer's and the shard
 * protocol's output). A failed allocation sets `failed` and later writes
 * do nothing: the owner checks the flag once, where it can act on it (a
 * connection crashes itself, a shard answers an error), instead of after
 * every write. */
#ifndef KV_BUF_H
#define KV_BUF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

typedef struct kv_buf {
    char *p;
    size_t len, cap;
    bool failed; /* an allocation failed: the contents are incomplete */
} kv_buf;

/* Makes room for `extra` more bytes; false (and failed set) when it cannot. */
static inline bool kv_buf_reserve(kv_buf *b, size_t extra) {
    if (b->failed)
        return false;
    if (b->cap - b->len >= extra)
        return true;
    size_t cap = b->cap ? b->cap : 256;
    while (cap - b->len < extra) {
        if (cap > SIZE_MAX / 2) {
            b->failed = true;
            return false;
        }
        cap *= 2;
    }
    char *p = (char *)realloc(b->p, cap);
    if (!p) {
        b->failed = true;
        return false;
    }
    b->p = p;
    b->cap = cap;
    return true;
}

static inline void kv_buf_put(kv_buf *b, const void *data, size_t len) {
    if (len && kv_buf_reserve(b, len)) {
        memcpy(b->p + b->len, data, len);
        b->len += len;
    }
}

static inline void kv_buf_puts(kv_buf *b, const char *s) {
    kv_buf_put(b, s, strlen(s));
}

/* Pads with zero bytes to a multiple of 8 (the shard protocol's records). */
static inline void kv_buf_align8(kv_buf *b) {
    static const char zero[8];
    kv_buf_put(b, zero, (8 - (b->len & 7)) & 7);
}

/* Empties the buffer; keeps the memory when it is small (at most 64 KiB),
 * so a connection's steady state allocates nothing, and gives a big one
 * back (a 512 MB value does not stay on a connection that sent it once). */
static inline void kv_buf_reset(kv_buf *b) {
    b->len = 0;
    b->failed = false;
    if (b->cap > 65536) {
        free(b->p);
        b->p = NULL;
        b->cap = 0;
    }
}

static inline void kv_buf_free(kv_buf *b) {
    free(b->p);
    *b = (kv_buf){0};
}

#endif
