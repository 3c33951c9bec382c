/* kv_server — the RESP command reader (hiredis's reader plus inline
 * commands) and the reply writer. See resp.h.
 *
 * hiredis reads RESP replies; a client's command is an array of bulk
 * strings, which is a reply as far as the grammar goes, so its reader
 * parses commands too. Our object functions (createArray, createString...)
 * build a kv_cmd in place of hiredis's redisReply tree: one allocation for
 * the argument vector, one per argument, no tree to walk afterwards.
 * Anything but an array of bulk strings is a protocol error, as in
 * redis-server. Two things hiredis does not do are done here, on its
 * public reader struct (read.h) between commands: inline commands (a line
 * that does not start with '*' is split into words, and the reader's
 * cursor moved past it) and the limits of resp.h, checked on the headers
 * before hiredis waits for a huge bulk string to arrive in full.
 */
#include "resp.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hiredis/read.h>
#include <hiredis/sds.h>

struct kv_reader {
    redisReader *r;
    char err[160]; /* "" until a protocol error */
};

/* A non-NULL object for what is not kept: a nil at the top ("*-1"),
 * elements of a rejected command. Never written. */
static const char kv_skip_obj = 0;
#define SKIP ((void *)&kv_skip_obj)

static void set_err(kv_reader *kr, const char *text) {
    if (!kr->err[0])
        snprintf(kr->err, sizeof kr->err, "Protocol error: %s", text);
}

static const char *type_char(int type) {
    switch (type) {
    case REDIS_REPLY_ARRAY:
        return "*";
    case REDIS_REPLY_INTEGER:
        return ":";
    case REDIS_REPLY_STATUS:
        return "+";
    case REDIS_REPLY_ERROR:
        return "-";
    default:
        return "?";
    }
}

/* An element that is not a bulk string: remembered, and reported when the
 * array is complete (the error reply is "expected '$', got 'X'"). */
static void *bad_element(const redisReadTask *t, int type) {
    kv_reader *kr = (kv_reader *)t->privdata;
    char text[64];
    snprintf(text, sizeof text, "expected '$', got '%s'", type_char(type));
    set_err(kr, text);
    return SKIP;
}

static void *create_array(const redisReadTask *t, int n) {
    if (t->parent)
        return bad_element(t, REDIS_REPLY_ARRAY);
    if (n < 0 || n > KV_MAX_MULTIBULK) {
        set_err((kv_reader *)t->privdata, "invalid multibulk length");
        return NULL;
    }
    kv_cmd *c = (kv_cmd *)calloc(1, sizeof(kv_cmd) + (size_t)n * sizeof(kv_arg));
    if (c)
        c->argc = n;
    return c;
}

static void *create_string(const redisReadTask *t, char *s, size_t len) {
    if (!t->parent)
        return SKIP; /* not reached: the top is always an array */
    if (t->type != REDIS_REPLY_STRING)
        return bad_element(t, t->type);
    if (t->parent->obj == SKIP)
        return SKIP;
    kv_cmd *c = (kv_cmd *)t->parent->obj;
    char *p = (char *)malloc(len + 1);
    if (!p)
        return NULL;
    memcpy(p, s, len);
    p[len] = 0;
    c->argv[t->idx] = (kv_arg){p, len};
    return p;
}

static void *create_integer(const redisReadTask *t, long long v) {
    (void)v;
    return t->parent ? bad_element(t, REDIS_REPLY_INTEGER) : SKIP;
}

static void *create_nil(const redisReadTask *t) {
    if (t->parent) {
        set_err((kv_reader *)t->privdata, "invalid bulk length");
        return SKIP;
    }
    return SKIP; /* "*-1": a null array, ignored as redis-server does */
}

/* hiredis frees the top object of an incomplete command on an error and
 * when the reader is freed; the strings belong to the command. */
static void free_object(void *obj) {
    if (obj && obj != SKIP)
        kv_cmd_free((kv_cmd *)obj);
}

static redisReplyObjectFunctions kv_fns = {
    .createString = create_string,
    .createArray = create_array,
    .createInteger = create_integer,
    .createNil = create_nil,
    .freeObject = free_object,
};

void kv_cmd_free(kv_cmd *c) {
    if (!c)
        return;
    for (int i = 0; !c->borrowed && i < c->argc; i++)
        free(c->argv[i].p);
    free(c);
}

kv_reader *kv_reader_new(void) {
    kv_reader *kr = (kv_reader *)calloc(1, sizeof *kr);
    if (!kr)
        return NULL;
    kr->r = redisReaderCreateWithFunctions(&kv_fns);
    if (!kr->r) {
        free(kr);
        return NULL;
    }
    kr->r->privdata = kr;
    return kr;
}

void kv_reader_free(kv_reader *kr) {
    if (!kr)
        return;
    redisReaderFree(kr->r);
    free(kr);
}

const char *kv_reader_error(const kv_reader *kr) {
    return kr->err[0] ? kr->err : "Protocol error: unknown";
}

size_t kv_reader_pending(const kv_reader *kr) {
    return kr->r->len - kr->r->pos;
}

/* Drops the consumed bytes at the front of the buffer once there are 1 KiB
 * of them or nothing else (as hiredis does after a reply it reads). */
static void compact(redisReader *r) {
    if (r->pos == r->len && r->len) {
        sdsclear(r->buf);
        r->pos = r->len = 0;
    } else if (r->pos >= 1024) {
        sdsrange(r->buf, (int)r->pos, -1);
        r->pos = 0;
        r->len = sdslen(r->buf);
    }
}

bool kv_reader_feed(kv_reader *kr, const char *data, size_t len) {
    if (kr->err[0])
        return false;
    compact(kr->r);
    if (kv_reader_pending(kr) + len > KV_QUERY_BUF_MAX) {
        set_err(kr, "query buffer limit exceeded");
        return false;
    }
    if (redisReaderFeed(kr->r, data, len) != REDIS_OK) {
        set_err(kr, "out of memory");
        return false;
    }
    return true;
}

bool kv_str2ll(const char *s, size_t len, long long *out) {
    if (len == 0 || len > 20)
        return false;
    if (len == 1 && s[0] == '0') {
        *out = 0;
        return true;
    }
    size_t i = 0;
    bool neg = false;
    if (s[0] == '-') {
        neg = true;
        i = 1;
        if (len == 1)
            return false;
    }
    if (s[i] < '1' || s[i] > '9')
        return false;
    unsigned long long v = 0;
    for (; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        unsigned d = (unsigned)(s[i] - '0');
        if (v > (ULLONG_MAX - d) / 10)
            return false;
        v = v * 10 + d;
    }
    if (neg) {
        if (v > (unsigned long long)LLONG_MAX + 1)
            return false;
        *out = v == (unsigned long long)LLONG_MAX + 1 ? LLONG_MIN : -(long long)v;
    } else {
        if (v > (unsigned long long)LLONG_MAX)
            return false;
        *out = (long long)v;
    }
    return true;
}

/* A length header ("*N\r\n" or "$N\r\n" after its type byte) at p, n
 * bytes available: 1 and *v when complete, 0 when the line is not all
 * there yet, -1 when it is not a number. */
static int header_len(const char *p, size_t n, long long *v) {
    const char *nl = (const char *)memchr(p, '\r', n < 32 ? n : 32);
    if (!nl)
        return n < 32 ? 0 : -1;
    return kv_str2ll(p, (size_t)(nl - p), v) ? 1 : -1;
}

static int hex_val(char c) {
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* A "<n>\r\n" length at *pp (before end): true and *v, *pp past it, when
 * it is all there and a plain number (no sign, no leading zero, at most
 * 10 digits). Anything else is left to the slow path, which reads it as
 * redis-server does. */
static bool line_len(const char **pp, const char *end, long long *v) {
    const char *p = *pp;
    long long n = 0;
    int digits = 0;
    for (; p < end && *p >= '0' && *p <= '9' && digits < 11; p++, digits++)
        n = n * 10 + (*p - '0');
    if (digits == 0 || digits > 10 || (digits > 1 && **pp == '0') || end - p < 2 || p[0] != '\r' ||
        p[1] != '\n')
        return false;
    *v = n;
    *pp = p + 2;
    return true;
}

#define FAST_ARGS 64

/* The common case read without hiredis and without copies: a command of
 * at most FAST_ARGS bulk strings that is all in the buffer. Its arguments
 * are borrowed (the NUL of each is written over the CR after it) and the
 * cursor moves past it. NULL leaves everything else (incomplete, big or
 * malformed input, which gets hiredis's reading and our errors) as it
 * was. */
static kv_cmd *fast_multibulk(redisReader *r) {
    char *p = r->buf + r->pos;
    const char *end = r->buf + r->len;
    const char *q = p + 1;
    long long n;
    if (!line_len(&q, end, &n) || n <= 0 || n > FAST_ARGS)
        return NULL;
    kv_arg args[FAST_ARGS];
    for (long long i = 0; i < n; i++) {
        long long len;
        if (q >= end || *q != '$')
            return NULL;
        q++;
        if (!line_len(&q, end, &len) || (unsigned long long)len > KV_PROTO_MAX_BULK_LEN ||
            (size_t)(end - q) < (size_t)len + 2 || q[len] != '\r' || q[len + 1] != '\n')
            return NULL;
        args[i] = (kv_arg){(char *)q, (size_t)len};
        q += len + 2;
    }
    kv_cmd *c = (kv_cmd *)malloc(sizeof(kv_cmd) + (size_t)n * sizeof(kv_arg));
    if (!c)
        return NULL; /* hiredis tries, and reports the lack of memory */
    c->argc = (int)n;
    c->borrowed = true;
    for (long long i = 0; i < n; i++) {
        args[i].p[args[i].len] = 0;
        c->argv[i] = args[i];
    }
    r->pos = (size_t)(q - r->buf);
    return c;
}

/* Splits an inline line into words as redis-server's sdssplitargs does:
 * spaces separate, "double quotes" take \n \r \t \b \a \\ \" and \xHH
 * escapes, 'single quotes' take \'. A closing quote must be followed by a
 * space or the end. Returns the command (NULL with *bad set on
 * unbalanced quotes, NULL without it when memory ran out). */
static kv_cmd *split_inline(const char *p, size_t n, bool *bad) {
    *bad = false;
    size_t cap = 8;
    int argc = 0;
    kv_cmd *c = (kv_cmd *)calloc(1, sizeof(kv_cmd) + cap * sizeof(kv_arg));
    if (!c)
        return NULL;
    size_t i = 0;
    while (1) {
        while (i < n &&
               (p[i] == ' ' || p[i] == '\t' || p[i] == '\r' || p[i] == '\v' || p[i] == '\f'))
            i++;
        if (i >= n)
            break;
        char *w = (char *)malloc(n - i + 1);
        if (!w)
            goto fail;
        size_t wl = 0;
        bool inq = false, insq = false, done = false;
        while (!done) {
            if (inq) {
                if (i >= n)
                    goto unbalanced_w;
                if (p[i] == '\\' && i + 3 < n && p[i + 1] == 'x' && hex_val(p[i + 2]) >= 0 &&
                    hex_val(p[i + 3]) >= 0) {
                    w[wl++] = (char)(hex_val(p[i + 2]) * 16 + hex_val(p[i + 3]));
                    i += 4;
                } else if (p[i] == '\\' && i + 1 < n) {
                    char e = p[i + 1];
                    w[wl++] = e == 'n'   ? '\n'
                              : e == 'r' ? '\r'
                              : e == 't' ? '\t'
                              : e == 'b' ? '\b'
                              : e == 'a' ? '\a'
                                         : e;
                    i += 2;
                } else if (p[i] == '"') {
                    i++;
                    if (i < n && p[i] != ' ' && p[i] != '\t' && p[i] != '\r')
                        goto unbalanced_w;
                    done = true;
                } else {
                    w[wl++] = p[i++];
                }
            } else if (insq) {
                if (i >= n)
                    goto unbalanced_w;
                if (p[i] == '\\' && i + 1 < n && p[i + 1] == '\'') {
                    w[wl++] = '\'';
                    i += 2;
                } else if (p[i] == '\'') {
                    i++;
                    if (i < n && p[i] != ' ' && p[i] != '\t' && p[i] != '\r')
                        goto unbalanced_w;
                    done = true;
                } else {
                    w[wl++] = p[i++];
                }
            } else if (i >= n || p[i] == ' ' || p[i] == '\t' || p[i] == '\r' || p[i] == '\v' ||
                       p[i] == '\f') {
                done = true;
            } else if (p[i] == '"') {
                inq = true;
                i++;
            } else if (p[i] == '\'') {
                insq = true;
                i++;
            } else {
                w[wl++] = p[i++];
            }
        }
        w[wl] = 0;
        if ((size_t)argc == cap) {
            cap *= 2;
            kv_cmd *g = (kv_cmd *)realloc(c, sizeof(kv_cmd) + cap * sizeof(kv_arg));
            if (!g) {
                free(w);
                goto fail;
            }
            c = g;
        }
        c->argv[argc++] = (kv_arg){w, wl};
        c->argc = argc;
        continue;
    unbalanced_w:
        free(w);
        *bad = true;
        goto fail;
    }
    return c;
fail:
    kv_cmd_free(c);
    return NULL;
}

int kv_reader_next(kv_reader *kr, kv_cmd **out) {
    redisReader *r = kr->r;
    *out = NULL;
    for (;;) {
        if (kr->err[0])
            return -1;
        /* Between commands (hiredis has no task, or only the root one that
         * has not read its type byte yet): inline commands and the array
         * header's limit are ours. */
        bool idle = r->ridx == -1 || (r->ridx == 0 && r->rstack[0].type < 0);
        if (idle) {
            compact(r);
            if (r->pos >= r->len)
                return 0;
            if (r->buf[r->pos] == '*') {
                kv_cmd *c = fast_multibulk(r);
                if (c) {
                    *out = c;
                    return 1;
                }
            }
            const char *p = r->buf + r->pos;
            size_t n = r->len - r->pos;
            if (p[0] != '*') {
                const char *nl = (const char *)memchr(p, '\n', n);
                if (!nl) {
                    if (n > KV_MAX_INLINE) {
                        set_err(kr, "too big inline request");
                        return -1;
                    }
                    return 0;
                }
                bool bad = false;
                kv_cmd *c = split_inline(p, (size_t)(nl - p), &bad);
                r->pos += (size_t)(nl - p) + 1;
                if (!c) {
                    set_err(kr, bad ? "unbalanced quotes in request" : "out of memory");
                    return -1;
                }
                if (c->argc == 0) {
                    kv_cmd_free(c);
                    continue;
                }
                *out = c;
                return 1;
            }
            long long v = 0;
            int h = header_len(p + 1, n - 1, &v);
            if (h == 0)
                return 0;
            if (h < 0 || v > KV_MAX_MULTIBULK) {
                set_err(kr, "invalid multibulk length");
                return -1;
            }
        } else if (r->rstack[r->ridx].type == REDIS_REPLY_STRING && r->pos < r->len) {
            /* Waiting inside a bulk string: its length is known before the
             * bytes are, so a bulk over the limit is refused now rather
             * than after 512 MB arrived. */
            long long v = 0;
            int h = header_len(r->buf + r->pos, r->len - r->pos, &v);
            if (h < 0 || (h > 0 && (v < -1 || (unsigned long long)v > KV_PROTO_MAX_BULK_LEN))) {
                set_err(kr, "invalid bulk length");
                return -1;
            }
        }
        void *obj = NULL;
        if (redisReaderGetReply(r, &obj) != REDIS_OK) {
            /* hiredis's words for what redis-server calls invalid lengths */
            if (strstr(r->errstr, "ulti-bulk") || strstr(r->errstr, "ultibulk"))
                set_err(kr, "invalid multibulk length");
            else if (strstr(r->errstr, "ulk"))
                set_err(kr, "invalid bulk length");
            else
                set_err(kr, r->errstr);
            return -1;
        }
        if (!obj) {
            /* Incomplete. Look at the header hiredis now waits on once. */
            bool now_idle = r->ridx == -1 || (r->ridx == 0 && r->rstack[0].type < 0);
            if (!now_idle && r->rstack[r->ridx].type == REDIS_REPLY_STRING && r->pos < r->len) {
                long long v = 0;
                int h = header_len(r->buf + r->pos, r->len - r->pos, &v);
                if (h < 0 || (h > 0 && (v < -1 || (unsigned long long)v > KV_PROTO_MAX_BULK_LEN))) {
                    set_err(kr, "invalid bulk length");
                    return -1;
                }
            }
            return 0;
        }
        if (obj == SKIP)
            continue;
        kv_cmd *c = (kv_cmd *)obj;
        if (kr->err[0]) {
            kv_cmd_free(c);
            return -1;
        }
        if (c->argc == 0) {
            kv_cmd_free(c);
            continue;
        }
        *out = c;
        return 1;
    }
}

/* ------------------------------------------------------------------------ */
/* Replies                                                                   */
/* ------------------------------------------------------------------------ */

static void w_line(kv_buf *b, char type, const char *s, size_t len) {
    if (!kv_buf_reserve(b, len + 3))
        return;
    b->p[b->len++] = type;
    memcpy(b->p + b->len, s, len);
    b->len += len;
    b->p[b->len++] = '\r';
    b->p[b->len++] = '\n';
}

char *kv_fmt_ll(char *end, long long v) {
    unsigned long long u = v < 0 ? 0ull - (unsigned long long)v : (unsigned long long)v;
    char *p = end;
    do {
        *--p = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    if (v < 0)
        *--p = '-';
    return p;
}

static void w_num(kv_buf *b, char type, long long v) {
    char tmp[24];
    char *p = kv_fmt_ll(tmp + sizeof tmp, v);
    w_line(b, type, p, (size_t)(tmp + sizeof tmp - p));
}

void kv_w_status(kv_buf *b, const char *s) {
    w_line(b, '+', s, strlen(s));
}

void kv_w_error(kv_buf *b, const char *s) {
    w_line(b, '-', s, strlen(s));
}

void kv_w_int(kv_buf *b, long long v) {
    w_num(b, ':', v);
}

void kv_w_nil(kv_buf *b) {
    kv_buf_put(b, "$-1\r\n", 5);
}

void kv_w_array(kv_buf *b, long long n) {
    w_num(b, '*', n);
}

void kv_w_bulk(kv_buf *b, const void *p, size_t len) {
    w_num(b, '$', (long long)len);
    if (kv_buf_reserve(b, len + 2)) {
        memcpy(b->p + b->len, p, len);
        b->len += len;
        b->p[b->len++] = '\r';
        b->p[b->len++] = '\n';
    }
}
