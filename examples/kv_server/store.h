/* kv_server — one shard's keys: a chained hash table of string keys and
 * values with optional expiry times, and the shard protocol that the
 * connections speak to it (a request of ops, a reply of results). Plain
 * data, no actors: shard.c wraps it in a gen_server, the tests drive it
 * directly.
 *
 * Expiry: an entry whose deadline (CLOCK_MONOTONIC ms, tr_now_ms) has
 * passed is deleted when it is next looked up (lazily, as redis-server)
 * and by kv_store_sweep, which the shard runs from a timer and which
 * visits a bounded number of buckets per call.
 */
#ifndef KV_STORE_H
#define KV_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"

/* One allocation holds the entry, its key and, when it fits in the room
 * left after the key (icap bytes, the allocation rounded up), its value:
 * a GET then reads one cache line or two instead of following a second
 * pointer. A value too big for that room has an allocation of its own. */
typedef struct kv_entry {
    struct kv_entry *next;
    uint64_t hash;
    int64_t expire_ms; /* 0: no expiry */
    char *val;         /* key + klen + 1 (inline) or its own allocation */
    uint32_t vlen;
    uint32_t klen;
    uint32_t icap; /* bytes for an inline value after the key's NUL */
    char key[];    /* klen bytes and a NUL, then icap bytes */
} kv_entry;

typedef struct kv_store {
    kv_entry **tab;
    size_t mask;    /* buckets - 1 (a power of two) */
    size_t count;   /* entries */
    size_t expires; /* entries with a deadline */
    size_t sweep_pos;
} kv_store;

/* The key hash: picks the shard (kv_shard_of) and the bucket. */
uint64_t kv_hash(const void *key, size_t len);
static inline unsigned kv_shard_of(uint64_t hash, unsigned nshards) {
    return (unsigned)((hash >> 32) % nshards);
}

bool kv_store_init(kv_store *s);
void kv_store_fini(kv_store *s);
void kv_store_clear(kv_store *s);
/* Deletes expired entries among the next `buckets` buckets (round robin);
 * returns how many. */
size_t kv_store_sweep(kv_store *s, int64_t now_ms, size_t buckets);

/* The shard protocol. A request is a sequence of ops, each an 8-aligned
 * record: kv_op_hdr, the key, the value (SET), padding. A reply is a
 * sequence of 8-aligned results, one per op in the request's order:
 * kv_res_hdr and len bytes of RESP (or none: the number is the result). */
enum kv_opcode {
    KV_OP_GET = 1,
    KV_OP_SET,    /* flags KV_SET_*; num: absolute deadline ms, 0 none */
    KV_OP_DEL,    /* result num 1/0 */
    KV_OP_EXISTS, /* result num 1/0 */
    KV_OP_INCRBY, /* num: the increment; RESP :n or an error */
    KV_OP_EXPIRE, /* num: absolute deadline ms; RESP :1/:0 */
    KV_OP_TTL,    /* flags KV_TTL_MS for PTTL; RESP :n */
    KV_OP_DBSIZE, /* no key; result num = keys */
    KV_OP_FLUSH,  /* no key; no result bytes */
    KV_OP_CRASH,  /* no key; the shard crashes (DEBUG SHARD-CRASH) */
};
#define KV_SET_NX 1u
#define KV_SET_XX 2u
#define KV_SET_KEEPTTL 4u
#define KV_SET_GET 8u
#define KV_TTL_MS 1u

typedef struct kv_op_hdr {
    uint32_t id; /* the connection's op number, returned in the result */
    uint8_t code;
    uint8_t flags;
    uint16_t pad;
    int64_t num;
    uint64_t hash; /* kv_hash of the key (the connection has it already) */
    uint32_t klen, vlen;
} kv_op_hdr;

typedef struct kv_res_hdr {
    uint32_t id;
    uint32_t len;
    int64_t num;
} kv_res_hdr;

/* Appends one op to a request. */
void kv_op_put(kv_buf *req, uint32_t id, uint8_t code, uint8_t flags, int64_t num, const void *key,
               size_t klen, const void *val, size_t vlen);
/* The same, with the key's kv_hash already known. */
void kv_op_put_hashed(kv_buf *req, uint32_t id, uint8_t code, uint8_t flags, int64_t num,
                      uint64_t hash, const void *key, size_t klen, const void *val, size_t vlen);

/* Runs a request against the store and writes the reply into out (the
 * buckets and entries of all its keys are prefetched first, so that their
 * cache misses overlap). Returns
 * 0, or -1 for a malformed request, or 1 when the request holds
 * KV_OP_CRASH (the ops before it have run). */
int kv_store_exec(kv_store *s, const char *req, size_t len, int64_t now_ms, kv_buf *out);

#endif
