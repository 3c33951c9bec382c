/* test_kv — examples/kv_server without sockets: the RESP command reader
 * (hiredis plus inline commands, limits, protocol errors), the command
 * table and the batch plan run against shard stores directly (replies as
 * redis-server 7 gives them), expiry, and the shard actors under their
 * supervisor (a request, a crash answered as TR_EEXITED, the restart
 * under the same name). The server over TCP, compared with a real
 * redis-server, is test/kv_compare.sh (ctest kv_redis_compare). */
#include "testutil.h"

#include "../examples/kv_server/app.h"
#include "../examples/kv_server/resp.h"
#include "../examples/kv_server/session.h"
#include "../examples/kv_server/store.h"

#define NSH 3

typedef struct fixture {
    kv_session s;
    kv_store st[NSH];
    int64_t now;
} fixture;

static int fx_setup(void **state) {
    fixture *f = calloc(1, sizeof *f);
    assert_non_null(f);
    assert_true(kv_session_init(&f->s, NSH, 7));
    for (int i = 0; i < NSH; i++)
        assert_true(kv_store_init(&f->st[i]));
    f->now = 1000000;
    *state = f;
    return 0;
}

static int fx_teardown(void **state) {
    fixture *f = *state;
    kv_session_fini(&f->s);
    for (int i = 0; i < NSH; i++)
        kv_store_fini(&f->st[i]);
    free(f);
    return 0;
}

/* Feeds input, runs the batch against the stores, returns the replies
 * (NUL-terminated, valid until the next run). */
static const char *run_n(fixture *f, const char *in, size_t len) {
    kv_session *s = &f->s;
    s->out.len = 0;
    kv_session_feed(s, in, len);
    kv_session_plan(s, f->now, 1700000000000);
    for (unsigned i = 0; i < NSH; i++) {
        if (!s->req[i].len)
            continue;
        kv_buf out = {0};
        int r = kv_store_exec(&f->st[i], s->req[i].p, s->req[i].len, f->now, &out);
        kv_session_reply(s, i, r ? TR_EEXITED : 0, out.p, out.len);
        kv_buf_free(&out);
    }
    kv_session_finish(s);
    kv_buf_put(&s->out, "", 1);
    s->out.len--;
    return s->out.p ? s->out.p : "";
}

static const char *run(fixture *f, const char *in) {
    return run_n(f, in, strlen(in));
}

static void test_reader_forms(void **state) {
    fixture *f = *state;
    /* multibulk, inline, quoted inline, pipelined in one read */
    assert_string_equal(run(f, "*1\r\n$4\r\nPING\r\nPING\r\nping hello\r\n"),
                        "+PONG\r\n+PONG\r\n$5\r\nhello\r\n");
    assert_string_equal(run(f, "set k \"a b\\x41\\n\"\r\nget k\r\n"), "+OK\r\n$5\r\na bA\n\r\n");
    assert_string_equal(run(f, "echo 'it\\'s'\r\n"), "$4\r\nit's\r\n");
    /* blank lines and empty arrays are skipped, as redis-server does */
    assert_string_equal(run(f, "\r\n*0\r\n\nPING\n"), "+PONG\r\n");
    /* binary-safe values: NUL and CR LF inside a bulk string */
    static const char bin[] = "*3\r\n$3\r\nSET\r\n$1\r\nb\r\n$4\r\n\0\r\n\x01\r\n";
    assert_string_equal(run_n(f, bin, sizeof bin - 1), "+OK\r\n");
    const char *r = run(f, "GET b\r\n");
    assert_memory_equal(r, "$4\r\n\0\r\n\x01\r\n", 10);
}

static void test_reader_split_bytes(void **state) {
    fixture *f = *state;
    /* a pipeline fed one byte at a time gives the same replies */
    const char *in = "*3\r\n$3\r\nSET\r\n$3\r\nkey\r\n$5\r\nvalue\r\nINCR n\r\n*2\r\n$3\r\nGET\r\n"
                     "$3\r\nkey\r\n";
    char all[256] = "";
    for (size_t i = 0; in[i]; i++)
        strcat(all, run_n(f, in + i, 1));
    assert_string_equal(all, "+OK\r\n:1\r\n$5\r\nvalue\r\n");
}

static void test_reader_long_pipeline(void **state) {
    fixture *f = *state;
    /* 400 commands (about 20 KiB) fed in 997-byte pieces, so that commands
     * are cut anywhere and the reader's buffer is compacted many times:
     * every reply comes, in order, with the right value */
    kv_buf in = {0}, want = {0}, got = {0};
    for (int i = 0; i < 200; i++) {
        char cmd[128], rep[64];
        int k =
            snprintf(cmd, sizeof cmd, "*3\r\n$3\r\nSET\r\n$5\r\nk%04d\r\n$6\r\nv%05d\r\n", i, i);
        kv_buf_put(&in, cmd, (size_t)k);
        k = snprintf(cmd, sizeof cmd, "*2\r\n$3\r\nGET\r\n$5\r\nk%04d\r\n", i / 2);
        kv_buf_put(&in, cmd, (size_t)k);
        k = snprintf(rep, sizeof rep, "+OK\r\n$6\r\nv%05d\r\n", i / 2);
        kv_buf_put(&want, rep, (size_t)k);
    }
    for (size_t at = 0; at < in.len; at += 997) {
        size_t n = in.len - at < 997 ? in.len - at : 997;
        kv_buf_puts(&got, run_n(f, in.p + at, n));
    }
    kv_buf_put(&got, "", 1);
    kv_buf_put(&want, "", 1);
    assert_string_equal(got.p, want.p);
    assert_int_equal(kv_reader_pending(f->s.rd), 0);
    kv_buf_free(&in);
    kv_buf_free(&want);
    kv_buf_free(&got);
}

static void expect_proto_error(const char *in, size_t len, const char *err) {
    fixture *f = NULL;
    fx_setup((void **)&f);
    const char *r = run_n(f, in, len);
    char want[200];
    snprintf(want, sizeof want, "-ERR Protocol error: %s\r\n", err);
    assert_string_equal(r, want);
    assert_true(f->s.closing);
    fx_teardown((void **)&f);
}

static void test_reader_errors(void **state) {
    expect_proto_error("*2\r\n:1\r\n$1\r\na\r\n", 16, "expected '$', got ':'");
    expect_proto_error("*2\r\n$3\r\nGET\r\n+ab\r\n", 18, "expected '$', got '+'");
    expect_proto_error("*2\r\n$3\r\nGET\r\n$-1\r\n", 18, "invalid bulk length");
    expect_proto_error("*x\r\n", 4, "invalid multibulk length");
    expect_proto_error("*3000000\r\n", 10, "invalid multibulk length");
    expect_proto_error("set \"a\r\n", 8, "unbalanced quotes in request");
    /* over proto-max-bulk-len: refused on the header, before the bytes */
    expect_proto_error("*2\r\n$3\r\nSET\r\n$536870913\r\nabc", 29, "invalid bulk length");
    /* an inline line over 64 KiB without its end */
    size_t big = KV_MAX_INLINE + 10;
    char *p = malloc(big);
    memset(p, 'a', big);
    expect_proto_error(p, big, "too big inline request");
    free(p);
}

static void test_reader_error_after_good_commands(void **state) {
    fixture *f = *state;
    /* the commands before the bad one are answered first */
    assert_string_equal(run(f, "PING\r\n*1\r\n:5\r\nPING\r\n"),
                        "+PONG\r\n-ERR Protocol error: expected '$', got ':'\r\n");
}

static void test_commands(void **state) {
    fixture *f = *state;
    assert_string_equal(run(f, "mset a 1 b 2 c 3 d x\r\nmget a b c z d\r\n"),
                        "+OK\r\n*5\r\n$1\r\n1\r\n$1\r\n2\r\n$1\r\n3\r\n$-1\r\n$1\r\nx\r\n");
    assert_string_equal(run(f, "incr a\r\nincrby a 10\r\ndecr a\r\ndecrby a 5\r\nincr d\r\n"),
                        ":2\r\n:12\r\n:11\r\n:6\r\n-ERR value is not an integer or out of "
                        "range\r\n");
    assert_string_equal(run(f, "set big 9223372036854775807\r\nincr big\r\nincrby a x\r\n"),
                        "+OK\r\n-ERR increment or decrement would overflow\r\n-ERR value is not "
                        "an integer or out of range\r\n");
    assert_string_equal(run(f, "exists a a z\r\ndel a b z\r\ndbsize\r\n"), ":2\r\n:2\r\n:3\r\n");
    assert_string_equal(run(f, "set n v NX\r\nset n w NX\r\nset m v XX\r\nset n w XX GET\r\n"),
                        "+OK\r\n$-1\r\n$-1\r\n$1\r\nv\r\n");
    assert_string_equal(run(f, "set n v EX 0\r\nset n v EX x\r\nset n v NX XX\r\nset n v PX\r\n"),
                        "-ERR invalid expire time in 'set' command\r\n-ERR value is not an "
                        "integer or out of range\r\n-ERR syntax error\r\n-ERR syntax error\r\n");
    assert_string_equal(run(f, "get\r\nmset a\r\nfoo a b\r\nping a b\r\n"),
                        "-ERR wrong number of arguments for 'get' command\r\n"
                        "-ERR wrong number of arguments for 'mset' command\r\n"
                        "-ERR unknown command 'foo', with args beginning with: 'a' 'b' \r\n"
                        "-ERR wrong number of arguments for 'ping' command\r\n");
    assert_string_equal(run(f, "config get save\r\nconfig get appendonly\r\ncommand docs\r\n"),
                        "*2\r\n$4\r\nsave\r\n$0\r\n\r\n*2\r\n$10\r\nappendonly\r\n$2\r\nno\r\n"
                        "*0\r\n");
    assert_string_equal(run(f, "client setname me\r\nclient getname\r\nclient id\r\nselect 0\r\n"),
                        "+OK\r\n$2\r\nme\r\n:7\r\n+OK\r\n");
    assert_string_equal(run(f, "flushall\r\ndbsize\r\n"), "+OK\r\n:0\r\n");
    assert_false(f->s.closing);
    assert_string_equal(run(f, "quit\r\nping\r\n"), "+OK\r\n");
    assert_true(f->s.closing);
}

static void test_max_batch(void **state) {
    fixture *f = *state;
    /* a batch stops after max_batch commands; the rest are planned by
     * the next calls, with no new input, in order */
    f->s.max_batch = 2;
    assert_string_equal(run(f, "ping a\r\nping b\r\nping c\r\nping d\r\nping e\r\n"),
                        "$1\r\na\r\n$1\r\nb\r\n");
    assert_true(f->s.more);
    assert_string_equal(run(f, ""), "$1\r\nc\r\n$1\r\nd\r\n");
    assert_true(f->s.more);
    assert_string_equal(run(f, ""), "$1\r\ne\r\n");
    assert_false(f->s.more);
}

static void test_debug_crash_flags(void **state) {
    fixture *f = *state;
    run(f, "PING\r\nDEBUG CRASH\r\nPING\r\n");
    assert_true(f->s.crash);
}

static void test_shard_down_reply(void **state) {
    fixture *f = *state;
    /* a shard that does not answer: only the commands with ops there get
     * the error; MGET over several shards fails as a whole */
    run(f, "mset a 1 b 2 c 3 d 4 e 5 f 6\r\n");
    kv_session *s = &f->s;
    kv_session_feed(s, "ping\r\nmget a b c d e f\r\nget a\r\n", 31);
    kv_session_plan(s, f->now, 0);
    unsigned a_shard = kv_shard_of(kv_hash("a", 1), NSH);
    for (unsigned i = 0; i < NSH; i++) {
        kv_buf out = {0};
        kv_store_exec(&f->st[i], s->req[i].p, s->req[i].len, f->now, &out);
        kv_session_reply(s, i, i == a_shard ? TR_EEXITED : 0, out.p, out.len);
        kv_buf_free(&out);
    }
    s->out.len = 0;
    kv_session_finish(s);
    kv_buf_put(&s->out, "", 1);
    assert_string_equal(s->out.p, "+PONG\r\n-ERR shard unavailable: it crashed and is being "
                                  "restarted\r\n-ERR shard unavailable: it crashed and is being "
                                  "restarted\r\n");
}

static void test_expiry(void **state) {
    fixture *f = *state;
    assert_string_equal(run(f, "set k v EX 10\r\nttl k\r\npttl k\r\nttl nokey\r\nset p v\r\n"
                               "ttl p\r\n"),
                        "+OK\r\n:10\r\n:10000\r\n:-2\r\n+OK\r\n:-1\r\n");
    f->now += 9400;
    assert_string_equal(run(f, "ttl k\r\nexists k\r\n"), ":1\r\n:1\r\n");
    f->now += 600;
    /* lazy: gone when looked up at its deadline */
    assert_string_equal(run(f, "exists k\r\nget k\r\n"), ":0\r\n$-1\r\n");
    assert_string_equal(run(f, "expire p 5\r\nttl p\r\nexpire nokey 5\r\nexpire p -1\r\n"
                               "exists p\r\n"),
                        ":1\r\n:5\r\n:0\r\n:1\r\n:0\r\n");
    /* SET without KEEPTTL drops the deadline, INCR keeps it */
    assert_string_equal(run(f, "set q 1 PX 5000\r\nincr q\r\npttl q\r\nset q 2\r\nttl q\r\n"),
                        "+OK\r\n:2\r\n:5000\r\n+OK\r\n:-1\r\n");
    /* the sweep deletes expired keys nobody asks for */
    run(f, "set s1 v PX 10\r\nset s2 v PX 10\r\nset s3 v PX 10\r\nset keep v\r\n");
    f->now += 20;
    size_t gone = 0;
    for (int i = 0; i < NSH; i++)
        gone += kv_store_sweep(&f->st[i], f->now, 1u << 20);
    assert_int_equal(gone, 3);
    assert_string_equal(run(f, "dbsize\r\n"), ":2\r\n"); /* keep and q */
}

static void test_store_grows(void **state) {
    kv_store st;
    assert_true(kv_store_init(&st));
    kv_buf req = {0}, out = {0};
    char key[32];
    for (int i = 0; i < 10000; i++) {
        int n = snprintf(key, sizeof key, "key:%d", i);
        kv_op_put(&req, (uint32_t)i, KV_OP_SET, 0, 0, key, (size_t)n, key, (size_t)n);
    }
    assert_int_equal(kv_store_exec(&st, req.p, req.len, 1, &out), 0);
    assert_int_equal(st.count, 10000);
    req.len = out.len = 0;
    for (int i = 0; i < 10000; i += 999) {
        int n = snprintf(key, sizeof key, "key:%d", i);
        kv_op_put(&req, (uint32_t)i, KV_OP_GET, 0, 0, key, (size_t)n, NULL, 0);
    }
    assert_int_equal(kv_store_exec(&st, req.p, req.len, 1, &out), 0);
    kv_res_hdr h;
    memcpy(&h, out.p, sizeof h);
    assert_int_equal(h.id, 0);
    assert_memory_equal(out.p + sizeof h, "$5\r\nkey:0\r\n", 11);
    /* a malformed request is refused, not read past its end */
    assert_int_equal(kv_store_exec(&st, req.p, 5, 1, &out), -1);
    kv_buf_free(&req);
    kv_buf_free(&out);
    kv_store_fini(&st);
}

/* A value that changes size goes between the entry's inline room and an
 * allocation of its own, and back, without losing its bytes or its TTL;
 * INCR grows the number in place. */
static void test_value_sizes(void **state) {
    fixture *f = *state;
    size_t sizes[] = {0, 3, 40, 200, 5, 70000, 64, 1, 100};
    char *big = malloc(70000 + 64);
    assert_non_null(big);
    for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
        size_t n = sizes[k];
        memset(big, 'a' + (int)k, n);
        char cmd[160];
        int h = snprintf(cmd, sizeof cmd, "*3\r\n$3\r\nSET\r\n$1\r\nv\r\n$%zu\r\n", n);
        kv_buf in = {0};
        kv_buf_put(&in, cmd, (size_t)h);
        kv_buf_put(&in, big, n);
        kv_buf_puts(&in, "\r\nPEXPIRE v 500000\r\nGET v\r\n");
        const char *r = run_n(f, in.p, in.len);
        kv_buf_free(&in);
        int pre = snprintf(cmd, sizeof cmd, "+OK\r\n:1\r\n$%zu\r\n", n);
        assert_memory_equal(r, cmd, (size_t)pre);
        assert_memory_equal(r + pre, big, n);
        assert_memory_equal(r + pre + n, "\r\n", 2);
    }
    assert_string_equal(run(f, "PTTL v\r\n"), ":500000\r\n");
    free(big);
    assert_string_equal(run(f, "SET n 9\r\nINCR n\r\nINCRBY n 99999999999990\r\nGET n\r\n"),
                        "+OK\r\n:10\r\n:100000000000000\r\n$15\r\n100000000000000\r\n");
    assert_string_equal(run(f, "DECRBY n 100000000000001\r\nGET n\r\n"), ":-1\r\n$2\r\n-1\r\n");
    assert_string_equal(run(f, "DEL v n\r\nDBSIZE\r\n"), ":2\r\n:0\r\n");
}

/* Calls shard i (by its registered name) with one op; returns the call's
 * result, the reply in *reply. */
static int call_shard(tr_runtime *rt, unsigned i, uint8_t code, const char *key, const char *val,
                      tr_buf *reply) {
    char name[32];
    kv_shard_name(i, name, sizeof name);
    kv_buf req = {0};
    kv_op_put(&req, 0, code, 0, 0, key, key ? strlen(key) : 0, val, val ? strlen(val) : 0);
    int err = tr_call_named(rt, name, KV_TAG_EXEC, req.p, req.len, reply, 5000);
    kv_buf_free(&req);
    return err;
}

static void test_shard_actors(void **state) {
    tr_runtime *rt = tu_rt_start(2);
    kv_app app = {.rt = rt, .nshards = 2};
    kv_shard_arg args[2] = {{&app, 0}, {&app, 1}};
    tr_child_spec specs[2];
    char ids[2][32];
    for (unsigned i = 0; i < 2; i++) {
        kv_shard_name(i, ids[i], sizeof ids[i]);
        specs[i] = (tr_child_spec){.id = ids[i],
                                   .behaviour = kv_shard_behaviour(),
                                   .arg = &args[i],
                                   .arg_size = sizeof args[i],
                                   .restart = TR_PERMANENT,
                                   .shutdown_ms = 1000};
    }
    tr_sup_spec spec = {.flags = {.strategy = TR_ONE_FOR_ONE, .intensity = 10, .period_ms = 5000},
                        .children = specs,
                        .n_children = 2};
    tr_pid sup;
    assert_rc(tr_supervisor_start(rt, &spec, &sup), 0);
    assert_int_equal(atomic_load(&app.shard_starts), 2);

    tr_buf reply = {0};
    assert_rc(call_shard(rt, 1, KV_OP_SET, "k", "v", &reply), 0);
    assert_true(reply.size > sizeof(kv_res_hdr));
    assert_memory_equal((char *)reply.data + sizeof(kv_res_hdr), "+OK\r\n", 5);
    tr_buf_free(&reply);
    assert_rc(call_shard(rt, 1, KV_OP_DBSIZE, NULL, NULL, &reply), 0);
    kv_res_hdr h;
    memcpy(&h, reply.data, sizeof h);
    assert_int_equal(h.num, 1);
    tr_buf_free(&reply);

    /* DEBUG SHARD-CRASH: the caller learns the shard exited; the
     * supervisor restarts it, empty, under the same name */
    tr_pid old = tr_whereis(rt, "kv_shard_1");
    assert_rc(call_shard(rt, 1, KV_OP_CRASH, NULL, NULL, &reply), TR_EEXITED);
    tr_buf_free(&reply);
    assert_true(TU_WAIT(atomic_load(&app.shard_starts) == 3, 5000));
    assert_true(TU_WAIT(!tr_pid_is_none(tr_whereis(rt, "kv_shard_1")), 5000));
    assert_false(tr_pid_eq(old, tr_whereis(rt, "kv_shard_1")));
    assert_rc(call_shard(rt, 1, KV_OP_DBSIZE, NULL, NULL, &reply), 0);
    memcpy(&h, reply.data, sizeof h);
    assert_int_equal(h.num, 0);
    tr_buf_free(&reply);
    /* the other shard was not touched */
    assert_rc(call_shard(rt, 0, KV_OP_GET, "x", NULL, &reply), 0);
    assert_memory_equal((char *)reply.data + sizeof(kv_res_hdr), "$-1\r\n", 5);
    tr_buf_free(&reply);
    /* a malformed request is an error reply, not a crash */
    assert_rc(tr_call_named(rt, "kv_shard_0", KV_TAG_EXEC, "xy", 2, &reply, 5000), TR_EREMOTE);
    assert_int_equal(reply.code, TR_EINVAL); /* the shard's own code travels in the reply */
    tr_buf_free(&reply);
    assert_int_equal(atomic_load(&app.shard_starts), 3);

    assert_rc(tr_supervisor_stop(rt, sup, 5000), 0);
    tu_rt_stop(&rt);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_reader_forms, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_reader_split_bytes, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_reader_long_pipeline, fx_setup, fx_teardown),
        cmocka_unit_test(test_reader_errors),
        cmocka_unit_test_setup_teardown(test_reader_error_after_good_commands, fx_setup,
                                        fx_teardown),
        cmocka_unit_test_setup_teardown(test_commands, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_max_batch, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_debug_crash_flags, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_shard_down_reply, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_expiry, fx_setup, fx_teardown),
        cmocka_unit_test(test_store_grows),
        cmocka_unit_test_setup_teardown(test_value_sizes, fx_setup, fx_teardown),
        cmocka_unit_test(test_shard_actors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
