/* kv_server — RESP, the Redis protocol: the command reader and the reply
 * writer.
 *
 * Reading: clients send commands as RESP arrays of bulk strings
 * ("*2\r\n$3\r\nGET\r\n$1\r\nk\r\n", what redis-cli and redis-benchmark
 * send) or as inline commands (a line of words, "GET k\r\n", what telnet
 * and nc users type). Arrays are read by hiredis's reader (Debian
 * libhiredis-dev) with object functions of ours that build a kv_cmd
 * directly; inline lines, which hiredis does not read, are split here.
 * Limits, as redis-server's defaults: a bulk string is at most
 * KV_PROTO_MAX_BULK_LEN bytes (proto-max-bulk-len, 512 MB), an array at
 * most KV_MAX_MULTIBULK elements, an inline line at most
 * KV_MAX_INLINE bytes, and the unparsed input of one client at most
 * KV_QUERY_BUF_MAX (a little over one maximal bulk string). Anything else
 * is a protocol error: the reader stops and reports a text that the
 * connection sends as "-ERR Protocol error: ..." before it closes.
 */
#ifndef KV_RESP_H
#define KV_RESP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"

#define KV_PROTO_MAX_BULK_LEN ((size_t)512 * 1024 * 1024)
#define KV_MAX_MULTIBULK (1024 * 1024)
#define KV_MAX_INLINE ((size_t)64 * 1024)
#define KV_QUERY_BUF_MAX (KV_PROTO_MAX_BULK_LEN + (size_t)1024 * 1024)

/* One argument of a command: len bytes at p (binary safe; a NUL follows). */
typedef struct kv_arg {
    char *p;
    size_t len;
} kv_arg;

/* A parsed command: argc arguments, argv[0] the command name. One
 * allocation with its argv array; each argument string is its own, or,
 * when borrowed, lies in the reader's buffer (valid until the next
 * kv_reader_next or kv_reader_feed on that reader). */
typedef struct kv_cmd {
    int argc;
    bool borrowed;
    kv_arg argv[];
} kv_cmd;

void kv_cmd_free(kv_cmd *c);

/* The reader of one connection. Opaque; kv_reader_new/kv_reader_free. */
typedef struct kv_reader kv_reader;

kv_reader *kv_reader_new(void);
void kv_reader_free(kv_reader *r);

/* Appends input bytes. Returns false on a protocol error (the input is
 * over KV_QUERY_BUF_MAX, or allocation failed): kv_reader_error says
 * what. */
bool kv_reader_feed(kv_reader *r, const char *data, size_t len);

/* The next complete command: 1 and *out (the caller frees it with
 * kv_cmd_free, before the reader's next call: its arguments may be in
 * the reader's buffer), 0 when more input is needed, -1 on a protocol error
 * (kv_reader_error; the reader is unusable afterwards). Empty commands
 * ("*0\r\n", blank inline lines) are skipped, as redis-server does. */
int kv_reader_next(kv_reader *r, kv_cmd **out);

/* The text of the protocol error, "Protocol error: ...". */
const char *kv_reader_error(const kv_reader *r);

/* Bytes fed and not yet returned as commands. */
size_t kv_reader_pending(const kv_reader *r);

/* Reply writers (RESP2, as redis-server answers a client that did not ask
 * for RESP3). */
void kv_w_status(kv_buf *b, const char *s); /* +s */
void kv_w_error(kv_buf *b, const char *s);  /* -s (s without "-", no CR/LF) */
void kv_w_int(kv_buf *b, long long v);      /* :v */
void kv_w_bulk(kv_buf *b, const void *p, size_t len);
void kv_w_nil(kv_buf *b);                /* $-1 */
void kv_w_array(kv_buf *b, long long n); /* *n, then n replies */

/* Writes the decimal digits of v (and a '-') backwards, ending just
 * before end (at most 20 bytes); returns where they start. */
char *kv_fmt_ll(char *end, long long v);

/* Redis's string2ll: the whole of s[0..len) is a decimal long long with no
 * sign other than a leading '-', no leading zeros, no spaces. */
bool kv_str2ll(const char *s, size_t len, long long *out);

#endif
