/* kv_server — one client's protocol session, without sockets or actors:
 * the command table, and the plan that turns a batch of pipelined
 * commands into ops for the shards and their results back into replies
 * in the commands' order.
 *
 * A batch: kv_session_feed the bytes one read gave, kv_session_plan
 * (parses every complete command; answers at once what needs no shard;
 * appends the ops of the others to one request per shard in req[]), send
 * each non-empty req[i] to shard i, hand each reply to kv_session_reply,
 * then kv_session_finish writes the replies, in command order, into out.
 * Multi-key commands (MGET, MSET, DEL, EXISTS) split into one op per key
 * on the key's shard, and are put together again here.
 */
#ifndef KV_SESSION_H
#define KV_SESSION_H

#include <stdbool.h>
#include <stdint.h>

#include "buf.h"
#include "resp.h"

typedef struct kv_opres {
    int64_t num;
    const char *p; /* RESP bytes of the result, in rep[shard] */
    uint32_t len;
    bool done; /* false: the shard did not answer (it crashed) */
} kv_opres;

typedef struct kv_pend {
    uint8_t kind;
    uint32_t first, n; /* ops */
    size_t imm_off, imm_len;
} kv_pend;

typedef struct kv_session {
    kv_reader *rd;
    unsigned nshards;
    kv_buf *req; /* [nshards]: this batch's request to each shard */
    kv_buf *rep; /* [nshards]: copies of the shards' replies */
    kv_pend *pend;
    size_t npend, cap_pend;
    kv_opres *ops;
    size_t nops, cap_ops;
    kv_buf imm;         /* replies known at plan time */
    kv_buf out;         /* the batch's replies, written by kv_session_finish */
    bool closing;       /* QUIT or a protocol error: close once out is sent */
    bool crash;         /* DEBUG CRASH: the connection is to crash now */
    bool failed;        /* out of memory: the session is unusable */
    bool more;          /* plan stopped at max_batch: commands may be left to plan */
    unsigned max_batch; /* most commands per batch; 0: no limit */
    uint64_t id;        /* CLIENT ID */
    uint64_t commands;  /* commands planned (INFO total_commands_processed) */
    char name[64];      /* CLIENT SETNAME */
    /* INFO's sections other than Keyspace (may be NULL). */
    void (*info)(void *ctx, kv_buf *out);
    void *ctx;
} kv_session;

bool kv_session_init(kv_session *s, unsigned nshards, uint64_t id);
void kv_session_fini(kv_session *s);

/* Appends input. False on a protocol error (the query buffer is over its
 * limit): plan then answers the error and sets closing. */
bool kv_session_feed(kv_session *s, const char *data, size_t len);

/* Parses and plans every complete command. now_ms: tr_now_ms() (expiry
 * deadlines); wall_ms: the Unix time in ms (EXAT, PXAT). Returns how many
 * shards have a request in req[]. Stops after QUIT, DEBUG CRASH or a
 * protocol error, and after max_batch commands (then sets more: plan
 * again, with no new input, once this batch is answered). */
unsigned kv_session_plan(kv_session *s, int64_t now_ms, int64_t wall_ms);

/* A shard's reply to this batch's request: status 0 and its bytes, or a
 * TR_E* status (the shard exited: its ops get an error reply). */
void kv_session_reply(kv_session *s, unsigned shard, int status, const void *data, size_t len);

/* Writes the batch's replies into out (appending) and starts a new batch. */
void kv_session_finish(kv_session *s);

/* True when the batch has no command waiting (nothing planned). */
static inline bool kv_session_idle(const kv_session *s) {
    return s->npend == 0;
}

#endif
