/* kv_server — the command table and the batch plan. See session.h.
 * Replies and error texts follow redis-server 7.0 for the commands it
 * shares, so that redis-cli shows the same thing for both. */
#define _GNU_SOURCE /* fnmatch FNM_CASEFOLD */
#include "session.h"

#include <ctype.h>
#include <fnmatch.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <strings.h>

#include "store.h"

enum { P_IMM, P_ONE, P_ARRAY, P_SUM, P_OK, P_INFO };

#define SHARD_DOWN_ERR "ERR shard unavailable: it crashed and is being restarted"

bool kv_session_init(kv_session *s, unsigned nshards, uint64_t id) {
    *s = (kv_session){0};
    s->nshards = nshards;
    s->id = id;
    s->rd = kv_reader_new();
    s->req = (kv_buf *)calloc(nshards, sizeof(kv_buf));
    s->rep = (kv_buf *)calloc(nshards, sizeof(kv_buf));
    if (!s->rd || !s->req || !s->rep) {
        kv_session_fini(s);
        return false;
    }
    return true;
}

void kv_session_fini(kv_session *s) {
    kv_reader_free(s->rd);
    for (unsigned i = 0; s->req && i < s->nshards; i++)
        kv_buf_free(&s->req[i]);
    for (unsigned i = 0; s->rep && i < s->nshards; i++)
        kv_buf_free(&s->rep[i]);
    free(s->req);
    free(s->rep);
    free(s->pend);
    free(s->ops);
    kv_buf_free(&s->imm);
    kv_buf_free(&s->out);
    *s = (kv_session){0};
}

bool kv_session_feed(kv_session *s, const char *data, size_t len) {
    return kv_reader_feed(s->rd, data, len);
}

/* ------------------------------------------------------------------------ */
/* Building the plan                                                         */
/* ------------------------------------------------------------------------ */

static kv_pend *pend_new(kv_session *s, uint8_t kind) {
    if (s->npend == s->cap_pend) {
        size_t cap = s->cap_pend ? s->cap_pend * 2 : 64;
        kv_pend *p = (kv_pend *)realloc(s->pend, cap * sizeof *p);
        if (!p) {
            s->failed = true;
            return NULL;
        }
        s->pend = p;
        s->cap_pend = cap;
    }
    kv_pend *p = &s->pend[s->npend++];
    *p = (kv_pend){.kind = kind, .first = (uint32_t)s->nops, .imm_off = s->imm.len};
    return p;
}

/* An immediate reply: call, then write into s->imm, then imm_done. */
static void imm_done(kv_session *s, kv_pend *p) {
    if (p)
        p->imm_len = s->imm.len - p->imm_off;
}

static void reply_error(kv_session *s, const char *text) {
    kv_pend *p = pend_new(s, P_IMM);
    if (!p)
        return;
    kv_w_error(&s->imm, text);
    imm_done(s, p);
}

static void reply_status(kv_session *s, const char *text) {
    kv_pend *p = pend_new(s, P_IMM);
    if (!p)
        return;
    kv_w_status(&s->imm, text);
    imm_done(s, p);
}

/* A new op result slot (cleared): its id, or -1 when out of memory (the
 * session has failed). */
static int64_t new_op(kv_session *s) {
    if (s->nops == s->cap_ops) {
        size_t cap = s->cap_ops ? s->cap_ops * 2 : 64;
        kv_opres *o = (kv_opres *)realloc(s->ops, cap * sizeof *o);
        if (!o) {
            s->failed = true;
            return -1;
        }
        s->ops = o;
        s->cap_ops = cap;
    }
    uint32_t id = (uint32_t)s->nops++;
    s->ops[id] = (kv_opres){0};
    return id;
}

/* Adds an op for one key to its shard's request. */
static void op_key(kv_session *s, kv_pend *p, uint8_t code, uint8_t flags, int64_t num,
                   const kv_arg *key, const kv_arg *val) {
    int64_t id = new_op(s);
    if (id < 0)
        return;
    uint64_t h = kv_hash(key->p, key->len);
    kv_op_put_hashed(&s->req[kv_shard_of(h, s->nshards)], (uint32_t)id, code, flags, num, h, key->p,
                     key->len, val ? val->p : NULL, val ? val->len : 0);
    p->n++;
}

/* Adds one op (no key) for every shard. */
static void op_all(kv_session *s, kv_pend *p, uint8_t code) {
    for (unsigned i = 0; i < s->nshards; i++) {
        int64_t id = new_op(s);
        if (id < 0)
            return;
        kv_op_put(&s->req[i], (uint32_t)id, code, 0, 0, NULL, 0, NULL, 0);
        p->n++;
    }
}

static bool arg_is(const kv_arg *a, const char *s) {
    size_t n = strlen(s);
    return a->len == n && strncasecmp(a->p, s, n) == 0;
}

static bool arg_ll(const kv_arg *a, long long *v) {
    return kv_str2ll(a->p, a->len, v);
}

/* ------------------------------------------------------------------------ */
/* Commands                                                                  */
/* ------------------------------------------------------------------------ */

typedef void (*cmd_fn)(kv_session *s, kv_cmd *c, int64_t now, int64_t wall);

static void c_ping(kv_session *s, kv_cmd *c, int64_t now, int64_t wall) {
    if (c->argc > 2) {
        reply_error(s, "ERR wrong number of arguments for 'ping' command");
        return;
    }
    if (c->argc == 1) {
        reply_status(s, "PONG");
        return;
    }
    kv_pend *p = pend_new(s, P_IMM);
    if (!p)
        return;
    kv_w_bulk(&s->imm, c->argv[1].p, c->argv[1].len);
    imm_done(s, p);
}

static void c_echo(kv_session *s, kv_cmd *c, int64_t now, int64_t wall) {
    kv_pend *p = pend_new(s, P_IMM);
    if (!p)
        return;
    kv_w_bulk(&s->imm, c->argv[1].p, c->argv[1].len);
    imm_done(s, p);
}

static void c_get(kv_session *s, kv_cmd *c, int64_t now, int64_t wall) {
    kv_pend *p = pend_new(s, P_ONE);
    if (p)
        op_key(s, p, KV_OP_GET, 0, 0, &c->argv[1], NULL);
}

/* A deadline `v` units (ms per unit) from now, or at Unix time v (ms per
 * unit) when `at`; false when it overflows. */
static bool deadline(long long v, long long unit, bool at, int64_t now, int64_t wall,
                     int64_t *out) {
    long long ms;
    if (__builtin_mul_overflow(v, unit, &ms))
        return false;
    if (at) {
        long long rel;
        if (__builtin_sub_overflow(ms, (long long)wall, &rel))
            return false;
        ms = rel;
    }
    long long d;
    if (__builtin_add_overflow((long long)now, ms, &d))
        return false;
    *out = d;
    return true;
}

static void c_set(kv_session *s, kv_cmd *c, int64_t now, int64_t wall) {
    uint8_t flags = 0;
    int64_t when = 0;
    bool have_exp = false;
    for (int i = 3; i < c->argc; i++) {
        kv_arg *a = &c->argv[i];
        long long unit = 0;
        bool at = false;
        if (arg_is(a, "NX") && !(flags & KV_SET_XX)) {
            flags |= KV_SET_NX;
        } else if (arg_is(a, "XX") && !(flags & KV_SET_NX)) {
            flags |= KV_SET_XX;
        } else if (arg_is(a, "GET")) {
            flags |= KV_SET_GET;
        } else if (arg_is(a, "KEEPTTL") && !have_exp) {
            flags |= KV_SET_KEEPTTL;
        } else if ((arg_is(a, "EX") || arg_is(a, "PX") || arg_is(a, "EXAT") || arg_is(a, "PXAT")) &&
                   !have_exp && !(flags & KV_SET_KEEPTTL) && i + 1 < c->argc) {
            unit = (a->p[0] == 'E' || a->p[0] == 'e') ? 1000 : 1;
            at = a->len == 4;
            long long v;
            if (!arg_ll(&c->argv[i + 1], &v)) {
                reply_error(s, "ERR value is not an integer or out of range");
                return;
            }
            if (v <= 0 || !deadline(v, unit, at, now, wall, &when)) {
                reply_error(s, "ERR invalid expire time in 'set' command");
                return;
            }
            if (when < 1)
                when = 1; /* already past: expires at once, still "set" */
            have_exp = true;
            i++;
        } else {
            reply_error(s, "ERR syntax error");
            return;
        }
    }
    kv_pend *p = pend_new(s, P_ONE);
    if (p)
        op_key(s, p, KV_OP_SET, flags, when, &c->argv[1], &c->argv[2]);
}

static void c_keys_sum(kv_session *s, kv_cmd *c, uint8_t code) {
    kv_pend *p = pend_new(s, P_SUM);
    for (int i = 1; p && i < c->argc; i++)
        op_key(s, p, code, 0, 0, &c->argv[i], NULL);
}

static void c_del(kv_session *s, kv_cmd *c, int64_t now, int64_t wall) {
    c_keys_sum(s, c, KV_OP_DEL);
}

static void c_exists(kv_session *s, kv_cmd *c, int64_t now, int64_t wall) {
    c_keys_sum(s, c, KV_OP_EXISTS);
}

static void incr_by(kv_session *s, kv_cmd *c, long long by) {
    kv_pend *p = pend_new(s, P_ONE);
    if (p)
        op_key(s, p, KV_OP_INCRBY, 0, by, &c->argv[1], NULL);
}

static void c_incr(kv_session *s, kv_cmd *c, int64_t now, int64_t wall) {
    incr_by(s, c, 1);
}

static void c_decr(kv_session *s, kv_cmd *c, int64_t now, int64_t wall) {
    incr_by(s, c, -1);
}

static void c_incrby(kv_session *s, kv_cmd *c, int64_t now, int64_t wall) {
    long long v;
    if (!arg_ll(&c->argv[2], &v)) {
        reply_error(s, "ERR value is not an integer or out of range");
        return;
    }
    incr_by(s, c, v);
}

static void c_decrby(kv_session *s, kv_cmd *c, int64_t now, int64_t wall) {
    long long v;
    if (!arg_ll(&c->argv[2], &v)) {
        reply_error(s, "ERR value is not an integer or out of range");
        return;
    }
    if (v == LLONG_MIN) {
        reply_error(s, "ERR decrement would overflow");
        return;
    }
    incr_by(s, c, -v);
}

static void c_mget(kv_session *s, kv_cmd *c, int64_t now, int64_t wall) {
    kv_pend *p = pend_new(s, P_ARRAY);
    for (int i = 1; p && i < c->argc; i++)
        op_key(s, p, KV_OP_GET, 0, 0, &c->argv[i], NULL);
}

static void c_mset(kv_session *s, kv_cmd *c, int64_t now, int64_t wall) {
    if (c->argc % 2 == 0) {
        reply_error(s, "ERR wrong number of arguments for 'mset' command");
        return;
    }
    kv_pend *p = pend_new(s, P_OK);
    for (int i = 1; p && i + 1 < c->argc; i += 2)
        op_key(s, p, KV_OP_SET, 0, 0, &c->argv[i], &c->argv[i + 1]);
}

static void expire_cmd(kv_session *s, kv_cmd *c, int64_t now, long long unit, const char *name) {
    if (c->argc > 3) {
        char text[256];
        snprintf(text, sizeof text, "ERR Unsupported option %.128s", c->argv[3].p);
        reply_error(s, text);
        return;
    }
    long long v;
    if (!arg_ll(&c->argv[2], &v)) {
        reply_error(s, "ERR value is not an integer or out of range");
        return;
    }
    int64_t when;
    if (!deadline(v, unit, false, now, 0, &when)) {
        char text[80];
        snprintf(text, sizeof text, "ERR invalid expire time in '%s' command", name);
        reply_error(s, text);
        return;
    }
    kv_pend *p = pend_new(s, P_ONE);
    if (p)
        op_key(s, p, KV_OP_EXPIRE, 0, when, &c->argv[1], NULL);
}

static void c_expire(kv_session *s, kv_cmd *c, int64_t now, int64_t wall) {
    expire_cmd(s, c, now, 1000, "expire");
}

static void c_pexpire(kv_session *s, kv_cmd *c, int64_t now, int64_t wall) {
    expire_cmd(s, c, now, 1, "pexpire");
}

static void c_ttl(kv_session *s, kv_cmd *c, int64_t now, int64_t wall) {
    kv_pend *p = pend_new(s, P_ONE);
    if (p)
        op_key(s, p, KV_OP_TTL, 0, 0, &c->argv[1], NULL);
}

static void c_pttl(kv_session *s, kv_cmd *c, int64_t now, int64_t wall) {
    kv_pend *p = pend_new(s, P_ONE);
    if (p)
        op_key(s, p, KV_OP_TTL, KV_TTL_MS, 0, &c->argv[1], NULL);
}

static void c_dbsize(kv_session *s, kv_cmd *c, int64_t now, int64_t wall) {
    kv_pend *p = pend_new(s, P_SUM);
    if (p)
        op_all(s, p, KV_OP_DBSIZE);
}

static void c_flushall(kv_session *s, kv_cmd *c, int64_t now, int64_t wall) {
    if (c->argc > 2 ||
        (c->argc == 2 && !arg_is(&c->argv[1], "ASYNC") && !arg_is(&c->argv[1], "SYNC"))) {
        reply_error(s, "ERR syntax error");
        return;
    }
    kv_pend *p = pend_new(s, P_OK);
    if (p)
        op_all(s, p, KV_OP_FLUSH);
}

static void c_info(kv_session *s, kv_cmd *c, int64_t now, int64_t wall) {
    kv_pend *p = pend_new(s, P_INFO);
    if (!p)
        return;
    if (s->info)
        s->info(s->ctx, &s->imm);
    imm_done(s, p);
    op_all(s, p, KV_OP_DBSIZE);
}

static void c_quit(kv_session *s, kv_cmd *c, int64_t now, int64_t wall) {
    reply_status(s, "OK");
    s->closing = true;
}

static void c_select(kv_session *s, kv_cmd *c, int64_t now, int64_t wall) {
    long long v;
    if (!arg_ll(&c->argv[1], &v)) {
        reply_error(s, "ERR value is not an integer or out of range");
        return;
    }
    if (v != 0) {
        reply_error(s, "ERR DB index is out of range");
        return;
    }
    reply_status(s, "OK");
}

/* CONFIG GET: what redis-benchmark and redis-cli ask, answered as a
 * server without persistence would. */
static const char *const config_params[][2] = {
    {"save", ""},
    {"appendonly", "no"},
    {"databases", "1"},
    {"maxmemory", "0"},
    {"proto-max-bulk-len", "536870912"},
    {"client-query-buffer-limit", "537919488"},
    {"io-threads", "1"},
};

static void c_config(kv_session *s, kv_cmd *c, int64_t now, int64_t wall) {
    kv_arg *sub = &c->argv[1];
    if (arg_is(sub, "GET") && c->argc >= 3) {
        kv_pend *p = pend_new(s, P_IMM);
        if (!p)
            return;
        kv_buf tmp = {0};
        long long n = 0;
        for (size_t k = 0; k < sizeof config_params / sizeof config_params[0]; k++) {
            for (int i = 2; i < c->argc; i++) {
                if (fnmatch(c->argv[i].p, config_params[k][0], FNM_CASEFOLD) == 0) {
                    kv_w_bulk(&tmp, config_params[k][0], strlen(config_params[k][0]));
                    kv_w_bulk(&tmp, config_params[k][1], strlen(config_params[k][1]));
                    n += 2;
                    break;
                }
            }
        }
        kv_w_array(&s->imm, n);
        kv_buf_put(&s->imm, tmp.p, tmp.len);
        if (tmp.failed)
            s->imm.failed = true;
        kv_buf_free(&tmp);
        imm_done(s, p);
    } else if ((arg_is(sub, "SET") && c->argc >= 4) || (arg_is(sub, "RESETSTAT") && c->argc == 2)) {
        reply_status(s, "OK");
    } else {
        char text[256];
        snprintf(text, sizeof text,
                 "ERR unknown subcommand or wrong number of arguments for '%.128s'. Try CONFIG "
                 "HELP.",
                 sub->p);
        reply_error(s, text);
    }
}

static void c_client(kv_session *s, kv_cmd *c, int64_t now, int64_t wall) {
    kv_arg *sub = &c->argv[1];
    if (arg_is(sub, "SETNAME") && c->argc == 3) {
        for (size_t i = 0; i < c->argv[2].len; i++)
            if (c->argv[2].p[i] < '!' || c->argv[2].p[i] > '~') {
                reply_error(s, "ERR Client names cannot contain spaces, newlines or special "
                               "characters.");
                return;
            }
        snprintf(s->name, sizeof s->name, "%s", c->argv[2].p);
        reply_status(s, "OK");
    } else if (arg_is(sub, "GETNAME") && c->argc == 2) {
        kv_pend *p = pend_new(s, P_IMM);
        if (!p)
            return;
        if (s->name[0])
            kv_w_bulk(&s->imm, s->name, strlen(s->name));
        else
            kv_w_nil(&s->imm);
        imm_done(s, p);
    } else if (arg_is(sub, "ID") && c->argc == 2) {
        kv_pend *p = pend_new(s, P_IMM);
        if (!p)
            return;
        kv_w_int(&s->imm, (long long)s->id);
        imm_done(s, p);
    } else if ((arg_is(sub, "INFO") || arg_is(sub, "LIST")) && c->argc == 2) {
        kv_pend *p = pend_new(s, P_IMM);
        if (!p)
            return;
        char line[160];
        int n = snprintf(line, sizeof line, "id=%llu name=%s db=0\n", (unsigned long long)s->id,
                         s->name);
        kv_w_bulk(&s->imm, line, (size_t)n);
        imm_done(s, p);
    } else if ((arg_is(sub, "SETINFO") && c->argc == 4) ||
               ((arg_is(sub, "NO-EVICT") || arg_is(sub, "NO-TOUCH")) && c->argc == 3)) {
        reply_status(s, "OK");
    } else {
        char text[256];
        snprintf(text, sizeof text,
                 "ERR unknown subcommand or wrong number of arguments for '%.128s'. Try CLIENT "
                 "HELP.",
                 sub->p);
        reply_error(s, text);
    }
}

static void c_debug(kv_session *s, kv_cmd *c, int64_t now, int64_t wall);
static void c_command(kv_session *s, kv_cmd *c, int64_t now, int64_t wall);

/* The command table: name, arity as redis-server counts it (n: exactly
 * n arguments with the name; -n: at least n), handler. */
static const struct {
    const char *name;
    int arity;
    cmd_fn fn;
} commands[] = {
    {"get", 2, c_get},           {"set", -3, c_set},         {"ping", -1, c_ping},
    {"incr", 2, c_incr},         {"mget", -2, c_mget},       {"mset", -3, c_mset},
    {"del", -2, c_del},          {"exists", -2, c_exists},   {"incrby", 3, c_incrby},
    {"decr", 2, c_decr},         {"decrby", 3, c_decrby},    {"echo", 2, c_echo},
    {"expire", -3, c_expire},    {"pexpire", -3, c_pexpire}, {"ttl", 2, c_ttl},
    {"pttl", 2, c_pttl},         {"dbsize", 1, c_dbsize},    {"flushall", -1, c_flushall},
    {"flushdb", -1, c_flushall}, {"info", -1, c_info},       {"quit", -1, c_quit},
    {"select", 2, c_select},     {"config", -2, c_config},   {"client", -2, c_client},
    {"command", -1, c_command},  {"debug", -2, c_debug},
};
#define N_COMMANDS (sizeof commands / sizeof commands[0])

static void c_command(kv_session *s, kv_cmd *c, int64_t now, int64_t wall) {
    kv_pend *p = pend_new(s, P_IMM);
    if (!p)
        return;
    if (c->argc >= 2 && arg_is(&c->argv[1], "COUNT")) {
        kv_w_int(&s->imm, (long long)N_COMMANDS);
    } else if (c->argc >= 2 && arg_is(&c->argv[1], "INFO")) {
        /* no command documentation: a nil per name asked */
        kv_w_array(&s->imm, c->argc - 2);
        for (int i = 2; i < c->argc; i++)
            kv_w_nil(&s->imm);
    } else {
        /* COMMAND, COMMAND DOCS (redis-cli asks at start): an empty
         * answer, which makes redis-cli use its built-in help. */
        kv_w_array(&s->imm, 0);
    }
    imm_done(s, p);
}

static void c_debug(kv_session *s, kv_cmd *c, int64_t now, int64_t wall) {
    kv_arg *sub = &c->argv[1];
    if (arg_is(sub, "CRASH") && c->argc == 2) {
        s->crash = true; /* the connection process crashes: no reply */
    } else if (arg_is(sub, "SHARD-CRASH") && c->argc == 3) {
        /* the shard that owns the key crashes (its supervisor restarts it) */
        kv_pend *p = pend_new(s, P_ONE);
        if (p)
            op_key(s, p, KV_OP_CRASH, 0, 0, &c->argv[2], NULL);
    } else if (arg_is(sub, "SLEEP") && c->argc == 3 && arg_is(&c->argv[2], "0")) {
        reply_status(s, "OK");
    } else {
        reply_error(s, "ERR DEBUG subcommands: CRASH (this connection), SHARD-CRASH key");
    }
}

static void dispatch(kv_session *s, kv_cmd *c, int64_t now, int64_t wall) {
    kv_arg *name = &c->argv[0];
    for (size_t i = 0; i < N_COMMANDS; i++) {
        if (!arg_is(name, commands[i].name))
            continue;
        int a = commands[i].arity;
        if ((a > 0 && c->argc != a) || (a < 0 && c->argc < -a)) {
            char text[160];
            snprintf(text, sizeof text, "ERR wrong number of arguments for '%s' command",
                     commands[i].name);
            reply_error(s, text);
            return;
        }
        commands[i].fn(s, c, now, wall);
        return;
    }
    /* As redis-server: the name and the first arguments, quoted. */
    char args[160] = "";
    size_t n = 0;
    for (int i = 1; i < c->argc && n < 128; i++) {
        int w = snprintf(args + n, sizeof args - n, "'%.*s' ", (int)(128 - n), c->argv[i].p);
        if (w < 0 || (size_t)w >= sizeof args - n)
            break;
        n += (size_t)w;
    }
    char text[400];
    snprintf(text, sizeof text, "ERR unknown command '%.128s', with args beginning with: %s",
             name->p, args);
    for (char *q = text; *q; q++)
        if (*q == '\r' || *q == '\n')
            *q = ' ';
    reply_error(s, text);
}

unsigned kv_session_plan(kv_session *s, int64_t now, int64_t wall) {
    unsigned planned = 0;
    s->more = false;
    while (!s->closing && !s->crash && !s->failed) {
        if (s->max_batch && planned == s->max_batch) {
            s->more = true;
            break;
        }
        kv_cmd *c = NULL;
        int r = kv_reader_next(s->rd, &c);
        if (r == 0)
            break;
        if (r < 0) {
            char text[256];
            snprintf(text, sizeof text, "ERR %s", kv_reader_error(s->rd));
            reply_error(s, text);
            s->closing = true;
            break;
        }
        s->commands++;
        planned++;
        dispatch(s, c, now, wall);
        kv_cmd_free(c);
    }
    unsigned n = 0;
    for (unsigned i = 0; i < s->nshards; i++) {
        if (s->req[i].failed)
            s->failed = true;
        n += s->req[i].len > 0;
    }
    if (s->imm.failed)
        s->failed = true;
    return n;
}

void kv_session_reply(kv_session *s, unsigned shard, int status, const void *data, size_t len) {
    if (status != 0 || shard >= s->nshards)
        return; /* its ops stay not done: they get the error reply */
    kv_buf *rep = &s->rep[shard];
    rep->len = 0;
    kv_buf_put(rep, data, len);
    if (rep->failed) {
        s->failed = true;
        return;
    }
    size_t at = 0;
    while (len - at >= sizeof(kv_res_hdr)) {
        kv_res_hdr h;
        memcpy(&h, rep->p + at, sizeof h);
        if (h.len > len - at - sizeof h || h.id >= s->nops)
            break;
        s->ops[h.id] =
            (kv_opres){.num = h.num, .p = rep->p + at + sizeof h, .len = h.len, .done = true};
        at += (sizeof h + h.len + 7) & ~(size_t)7;
    }
}

void kv_session_finish(kv_session *s) {
    kv_buf *out = &s->out;
    for (size_t i = 0; i < s->npend; i++) {
        kv_pend *p = &s->pend[i];
        bool down = false;
        for (uint32_t k = 0; k < p->n; k++)
            down |= !s->ops[p->first + k].done;
        if (down && p->kind != P_IMM) {
            kv_w_error(out, SHARD_DOWN_ERR);
            continue;
        }
        switch (p->kind) {
        case P_IMM:
            kv_buf_put(out, s->imm.p + p->imm_off, p->imm_len);
            break;
        case P_ONE:
            kv_buf_put(out, s->ops[p->first].p, s->ops[p->first].len);
            break;
        case P_ARRAY:
            kv_w_array(out, p->n);
            for (uint32_t k = 0; k < p->n; k++)
                kv_buf_put(out, s->ops[p->first + k].p, s->ops[p->first + k].len);
            break;
        case P_SUM: {
            long long sum = 0;
            for (uint32_t k = 0; k < p->n; k++)
                sum += s->ops[p->first + k].num;
            kv_w_int(out, sum);
            break;
        }
        case P_OK:
            kv_w_status(out, "OK");
            break;
        case P_INFO: {
            long long keys = 0;
            for (uint32_t k = 0; k < p->n; k++)
                keys += s->ops[p->first + k].num;
            kv_buf text = {0};
            kv_buf_put(&text, s->imm.p + p->imm_off, p->imm_len);
            char ks[96];
            int n = snprintf(ks, sizeof ks, "# Keyspace\r\n");
            if (keys)
                n += snprintf(ks + n, sizeof ks - (size_t)n, "db0:keys=%lld,expires=0\r\n", keys);
            kv_buf_put(&text, ks, (size_t)n);
            kv_w_bulk(out, text.p, text.len);
            if (text.failed)
                out->failed = true;
            kv_buf_free(&text);
            break;
        }
        }
    }
    if (out->failed)
        s->failed = true;
    s->npend = 0;
    s->nops = 0;
    kv_buf_reset(&s->imm);
    for (unsigned i = 0; i < s->nshards; i++) {
        kv_buf_reset(&s->req[i]);
        kv_buf_reset(&s->rep[i]);
    }
}
