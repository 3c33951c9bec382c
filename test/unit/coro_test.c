/* Unit tests of the coroutines under fibers (base/coro.h): the context
 * switch, the pooled stacks and the overflow report.
 *
 * - Ping-pong: values passed both ways through many resume/yield pairs;
 *   tr__coro_current inside and outside; done after fn returns.
 * - 64 coroutines resumed round-robin keep their own stack frames.
 * - A coroutine started on one thread and resumed on others.
 * - A coroutine resuming another (nesting): current is restored.
 * - 100k coroutines created, run and freed: no leak (ASan), and RSS does
 *   not grow with them (the pool reuses stacks).
 * - Deep recursion using most of a 1 MiB stack.
 * - A freed stack is reused by the next coroutine of that size; a thread
 *   keeps its 16 newest free stacks, and older ones go back to the shared
 *   list with their deep pages released (read back as zeros).
 * - Bad sizes: over TR__CORO_STACK_MAX gives TR_EINVAL; tiny ones get the
 *   minimum.
 * - Overflow: in a forked child, unbounded recursion hits the guard page;
 *   the child dies by SIGSEGV and its stderr has the report line with the
 *   label and the stack size. */
#include "testutil.h"

#include <limits.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/coro.h"

#if defined(__SANITIZE_ADDRESS__)
#define TU_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define TU_ASAN 1
#endif
#endif
#ifndef TU_ASAN
#define TU_ASAN 0
#endif

/* ---- ping-pong ---- */

typedef struct pp {
    long in, out;
    int steps;
    tr__coro *seen_current;
} pp;

static void pingpong_fn(tr__coro *c, void *arg) {
    pp *p = arg;
    p->seen_current = tr__coro_current();
    for (int i = 0; i < p->steps; i++) {
        p->out = p->in * 2 + 1;
        tr__coro_yield(c);
    }
    p->out = -1;
}

static void test_pingpong(void **state) {
    tr__coro c;
    pp p = {.steps = 1000};
    assert_rc(tr__coro_init(&c, 0, pingpong_fn, &p), TR_OK);
    assert_false(tr__coro_done(&c));
    assert_null(tr__coro_current());
    for (int i = 0; i < p.steps; i++) {
        p.in = i;
        tr__coro_resume(&c);
        assert_int_equal(p.out, 2L * i + 1);
        assert_false(tr__coro_done(&c));
        assert_null(tr__coro_current());
    }
    assert_ptr_equal(p.seen_current, &c);
    tr__coro_resume(&c);
    assert_int_equal(p.out, -1);
    assert_true(tr__coro_done(&c));
    tr__coro_fini(&c);
}

/* ---- interleaved ---- */

#define NINTER 64
static int inter_trace[NINTER];

static void inter_fn(tr__coro *c, void *arg) {
    int id = (int)(intptr_t)arg;
    volatile long local[16]; /* lives on this coroutine's stack */
    for (int i = 0; i < 16; i++)
        local[i] = id * 1000 + i;
    for (int round = 0; round < 50; round++) {
        for (int i = 0; i < 16; i++)
            if (local[i] != id * 1000 + i + round)
                return; /* corrupted: stop early, the test sees it */
        for (int i = 0; i < 16; i++)
            local[i]++;
        inter_trace[id]++;
        tr__coro_yield(c);
    }
}

static void test_interleaved(void **state) {
    static tr__coro cs[NINTER];
    for (int i = 0; i < NINTER; i++) {
        inter_trace[i] = 0;
        assert_rc(tr__coro_init(&cs[i], 16 * 1024, inter_fn, (void *)(intptr_t)i), TR_OK);
    }
    for (int round = 0; round < 50; round++)
        for (int i = NINTER - 1; i >= 0; i--) {
            assert_false(tr__coro_done(&cs[i]));
            tr__coro_resume(&cs[i]);
            assert_int_equal(inter_trace[i], round + 1);
        }
    for (int i = 0; i < NINTER; i++) {
        tr__coro_resume(&cs[i]);
        assert_true(tr__coro_done(&cs[i]));
        tr__coro_fini(&cs[i]);
    }
}

/* ---- another thread ---- */

typedef struct mt {
    pthread_t where[4];
    int n;
} mt;

/* pthread_self is declared const: the compiler may keep its value across
 * a yield (the TLS caution of base/coro.h). Called through a volatile
 * pointer, it is read anew. */
static pthread_t (*volatile self_fn)(void) = pthread_self;

static void mt_fn(tr__coro *c, void *arg) {
    mt *m = arg;
    for (;;) {
        m->where[m->n++] = self_fn();
        if (m->n == 4)
            return;
        tr__coro_yield(c);
    }
}

static void *resume_thread(void *arg) {
    tr__coro *c = arg;
    tr__coro_resume(c);
    return tr__coro_current(); /* NULL again after the resume */
}

static void test_other_thread(void **state) {
    tr__coro c;
    mt m = {.n = 0};
    assert_rc(tr__coro_init(&c, 0, mt_fn, &m), TR_OK);
    tr__coro_resume(&c);
    pthread_t t[2];
    for (int i = 0; i < 2; i++) {
        void *ret = (void *)1;
        assert_int_equal(pthread_create(&t[i], NULL, resume_thread, &c), 0);
        assert_int_equal(pthread_join(t[i], &ret), 0);
        assert_null(ret);
    }
    tr__coro_resume(&c);
    assert_true(tr__coro_done(&c));
    assert_int_equal(m.n, 4);
    assert_true(pthread_equal(m.where[0], pthread_self()));
    assert_true(pthread_equal(m.where[1], t[0]));
    assert_true(pthread_equal(m.where[2], t[1]));
    assert_true(pthread_equal(m.where[3], pthread_self()));
    tr__coro_fini(&c);
}

/* ---- nesting ---- */

typedef struct nest {
    tr__coro inner, outer;
    tr__coro *inner_saw, *outer_after;
    int inner_steps;
} nest;

static void inner_fn(tr__coro *c, void *arg) {
    nest *n = arg;
    n->inner_saw = tr__coro_current();
    n->inner_steps++;
    tr__coro_yield(c);
    n->inner_steps++;
}

static void outer_fn(tr__coro *c, void *arg) {
    nest *n = arg;
    tr__coro_resume(&n->inner);
    n->outer_after = tr__coro_current();
    tr__coro_yield(c);
    tr__coro_resume(&n->inner);
}

static void test_nested(void **state) {
    nest n = {0};
    assert_rc(tr__coro_init(&n.inner, 0, inner_fn, &n), TR_OK);
    assert_rc(tr__coro_init(&n.outer, 0, outer_fn, &n), TR_OK);
    tr__coro_resume(&n.outer);
    assert_ptr_equal(n.inner_saw, &n.inner);
    assert_ptr_equal(n.outer_after, &n.outer);
    assert_int_equal(n.inner_steps, 1);
    assert_null(tr__coro_current());
    tr__coro_resume(&n.outer);
    assert_true(tr__coro_done(&n.outer));
    assert_true(tr__coro_done(&n.inner));
    assert_int_equal(n.inner_steps, 2);
    tr__coro_fini(&n.inner);
    tr__coro_fini(&n.outer);
}

/* ---- churn ---- */

static long rss_kib(void) {
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long kib = -1;
    while (f && fgets(line, sizeof line, f))
        if (sscanf(line, "VmRSS: %ld", &kib) == 1)
            break;
    if (f)
        fclose(f);
    return kib;
}

static void touch_fn(tr__coro *c, void *arg) {
    volatile char buf[6000]; /* two pages of this stack */
    buf[0] = 1;
    buf[sizeof buf - 1] = 2;
    (*(long *)arg) += buf[0] + buf[sizeof buf - 1];
    tr__coro_yield(c);
}

static void test_churn_100k(void **state) {
    long sum = 0;
    long before = rss_kib();
    const int n = TU_SCALE(100000, 3000); /* a TSan fiber costs 0.6-2.5 ms (its fresh pages) */
    for (int i = 0; i < n; i++) {
        tr__coro c;
        assert_rc(tr__coro_init(&c, 0, touch_fn, &sum), TR_OK);
        tr__coro_resume(&c);
        if (i % 2)
            tr__coro_resume(&c); /* half run to the end, half are discarded suspended */
        tr__coro_fini(&c);
    }
    assert_int_equal(sum, 3L * n);
    long after = rss_kib();
    /* without reuse and release this would be n stacks x 8 KiB = 800 MB */
    assert_true(after - before < 64 * 1024);
}

/* ---- deep recursion ---- */

__attribute__((noinline)) static long deep(int n) {
    volatile char frame[1000];
    frame[0] = (char)n;
    frame[999] = (char)n;
    if (n == 0)
        return frame[0];
    return deep(n - 1) + frame[999] - (char)n + 1;
}

static void deep_fn(tr__coro *c, void *arg) {
    *(long *)arg = deep(800); /* ~ 800 KiB of a 1 MiB stack (more frame under ASan) */
}

static void test_deep_recursion(void **state) {
    tr__coro c;
    long r = 0;
    assert_rc(tr__coro_init(&c, (TU_ASAN ? 4 : 1) * 1024 * 1024, deep_fn, &r), TR_OK);
    tr__coro_resume(&c);
    assert_true(tr__coro_done(&c));
    assert_int_equal(r, 800);
    tr__coro_fini(&c);
}

/* ---- reuse ---- */

static void scribble_fn(tr__coro *c, void *arg) {
    char *deep_byte = arg;
    *deep_byte = 0x5a;
}

static void noop_fn(tr__coro *c, void *arg) {}

static void test_reuse(void **state) {
    tr__coro a, b;
    const size_t size = 64 * 1024;
    assert_rc(tr__coro_init(&a, size, noop_fn, NULL), TR_OK);
    char *stack = a.stack;
    assert_int_equal(a.stack_size, size);
    tr__coro_fini(&a);
    assert_rc(tr__coro_init(&b, size, noop_fn, NULL), TR_OK);
    assert_ptr_equal(b.stack, stack); /* the pooled stack, not a new one */
    tr__coro_fini(&b);

    /* 24 stacks of a size no other test uses, each written deep down (below
     * the pages a released stack keeps), then freed in order: the thread
     * keeps the 16 newest; the 8 oldest go back to the shared list with
     * their pages released (zero-filled when read again). */
    enum { N = 24 };
    const size_t size2 = 72 * 1024;
    tr__coro cs[N];
    char *deep_byte[N];
    for (int i = 0; i < N; i++) {
        assert_rc(tr__coro_init(&cs[i], size2, noop_fn, NULL), TR_OK);
        deep_byte[i] = cs[i].stack + 1024;
        cs[i].fn = scribble_fn;
        cs[i].arg = deep_byte[i];
    }
    for (int i = 0; i < N; i++) {
        tr__coro_resume(&cs[i]);
        assert_true(tr__coro_done(&cs[i]));
        assert_int_equal(*deep_byte[i], 0x5a);
    }
    for (int i = 0; i < N; i++)
        tr__coro_fini(&cs[i]);
    for (int i = 0; i < N - TR__CORO_CACHE; i++)
        assert_int_equal(*deep_byte[i], 0);    /* released */
    assert_int_equal(*deep_byte[N - 1], 0x5a); /* cached as it was */
    /* the next 16 of that size come from the thread's cache */
    for (int i = 0; i < TR__CORO_CACHE; i++) {
        assert_rc(tr__coro_init(&cs[i], size2, noop_fn, NULL), TR_OK);
        bool cached = false;
        for (int j = N - TR__CORO_CACHE; j < N; j++)
            cached |= cs[i].stack + 1024 == deep_byte[j];
        assert_true(cached);
    }
    for (int i = 0; i < TR__CORO_CACHE; i++)
        tr__coro_fini(&cs[i]);
}

/* ---- sizes ---- */

static void test_sizes(void **state) {
    tr__coro c;
    assert_rc(tr__coro_init(&c, TR__CORO_STACK_MAX + 1, noop_fn, NULL), TR_EINVAL);
    assert_rc(tr__coro_init(&c, SIZE_MAX, noop_fn, NULL), TR_EINVAL);
    assert_rc(tr__coro_init(&c, 0, NULL, NULL), TR_EINVAL);
    assert_rc(tr__coro_init(&c, 1, noop_fn, NULL), TR_OK);
    assert_int_equal(c.stack_size, TR__CORO_STACK_MIN);
    tr__coro_fini(&c);
    assert_rc(tr__coro_init(&c, 0, noop_fn, NULL), TR_OK);
    assert_int_equal(c.stack_size, TR__CORO_STACK_DEFAULT);
    tr__coro_resume(&c);
    assert_true(tr__coro_done(&c));
    tr__coro_fini(&c);
    assert_rc(tr__coro_init(&c, 20000, noop_fn, NULL), TR_OK);
    assert_int_equal(c.stack_size % (size_t)sysconf(_SC_PAGESIZE), 0);
    assert_true(c.stack_size >= 20000);
    tr__coro_fini(&c);
}

/* ---- overflow ---- */

static volatile long unbounded_limit = LONG_MAX; /* never reached */

__attribute__((noinline)) static long unbounded(long n) {
    volatile char frame[256];
    frame[0] = (char)n;
    if (n == unbounded_limit)
        return 0;
    return unbounded(n + 1) + frame[0];
}

static void overflow_fn(tr__coro *c, void *arg) {
    *(long *)arg = unbounded(0);
}

static void *overflow_thread(void *arg) {
    tr__coro c;
    long r = 0;
    if (tr__coro_init(&c, 32 * 1024, overflow_fn, &r) != TR_OK)
        _exit(3);
    tr__coro_set_label(&c, "pid <0.12.0>");
    tr__coro_resume(&c);
    _exit(4); /* not reached */
}

static void test_overflow(void **state) {
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        struct rlimit no_core = {0, 0};
        setrlimit(RLIMIT_CORE, &no_core);
        dup2(fds[1], STDERR_FILENO);
        close(fds[0]);
        /* on a new thread: its first resume installs the handler again
         * (cmocka replaced it around each test) */
        pthread_t t;
        if (pthread_create(&t, NULL, overflow_thread, NULL) != 0)
            _exit(3);
        pthread_join(t, NULL);
        _exit(4); /* not reached */
    }
    close(fds[1]);
    char out[4096];
    size_t len = 0;
    ssize_t got;
    while (len < sizeof out - 1 && (got = read(fds[0], out + len, sizeof out - 1 - len)) > 0)
        len += (size_t)got;
    out[len] = 0;
    close(fds[0]);
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    if (!WIFSIGNALED(status))
        fail_msg("child exited with %d, stderr: %s", WEXITSTATUS(status), out);
    assert_int_equal(WTERMSIG(status), SIGSEGV);
    if (!strstr(out, "troupe: fiber pid <0.12.0> overflowed its 32768-byte stack (guard page "
                     "hit at 0x"))
        fail_msg("no report line in the child's stderr: %s", out);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pingpong),     cmocka_unit_test(test_interleaved),
        cmocka_unit_test(test_other_thread), cmocka_unit_test(test_nested),
        cmocka_unit_test(test_churn_100k),   cmocka_unit_test(test_deep_recursion),
        cmocka_unit_test(test_reuse),        cmocka_unit_test(test_sizes),
        cmocka_unit_test(test_overflow),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
