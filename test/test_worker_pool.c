/* Runs the main demo, examples/worker_pool ($TROUPE_EXAMPLES_DIR), as a user
 * would: the classic transcript (round-robin order, scale-down, "Pool
 * stopped"), and the file-counting mode on a directory made here, with
 * injected crashes: exit 0, totals equal to the single-threaded pass,
 * restarts > 0 and no failed job; with client fibers (the default) and
 * client threads, with reads on the worker fibers where they cannot block
 * (the default) and every read on the blocking pool (--blocking-reads).
 * Bad arguments exit 2. */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

typedef struct out {
    char *text;
    int exit_code;
} out;

/* Runs the demo with args through the shell; stdout+stderr into o->text. */
static void run_demo(const char *args, out *o) {
    const char *dir = getenv("TROUPE_EXAMPLES_DIR");
    if (!dir || !*dir)
        dir = "../examples";
    char cmd[4096];
    snprintf(cmd, sizeof cmd, "timeout 100 '%s/worker_pool' %s 2>&1", dir, args);
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    size_t cap = 1 << 16, len = 0;
    o->text = malloc(cap);
    size_t k;
    while ((k = fread(o->text + len, 1, cap - len - 1, p)) > 0) {
        len += k;
        if (cap - len < 4096) {
            cap *= 2;
            o->text = realloc(o->text, cap);
        }
    }
    o->text[len] = '\0';
    int st = pclose(p);
    o->exit_code = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void expect_line(const out *o, const char *line) {
    if (!strstr(o->text, line)) {
        fprintf(stderr, "---- demo output ----\n%s----\n", o->text);
        fail_msg("missing line: %s", line);
    }
}

static void test_transcript(void **state) {
    (void)state;
    out o;
    run_demo("", &o);
    if (o.exit_code != 0)
        fprintf(stderr, "%s", o.text);
    assert_int_equal(o.exit_code, 0);
    /* one after another: round-robin 0,1,2,3,0 */
    expect_line(&o, "Result: Processed \"task-1\" by worker 0\n");
    expect_line(&o, "Result: Processed \"task-2\" by worker 1\n");
    expect_line(&o, "Result: Processed \"task-3\" by worker 2\n");
    expect_line(&o, "Result: Processed \"task-4\" by worker 3\n");
    expect_line(&o, "Result: Processed \"task-5\" by worker 0\n");
    /* concurrent: each answered once, by some worker */
    for (int i = 1; i <= 4; i++) {
        char want[64];
        snprintf(want, sizeof want, "Result: Processed \"parallel-%d\" by worker ", i);
        expect_line(&o, want);
    }
    /* after the scale-down to 2: 0,1,0 */
    expect_line(&o, "Result: Processed \"small-pool-1\" by worker 0\n");
    expect_line(&o, "Result: Processed \"small-pool-2\" by worker 1\n");
    expect_line(&o, "Result: Processed \"small-pool-3\" by worker 0\n");
    expect_line(&o, "Pool stopped\n");
    free(o.text);
}

static void write_file(const char *path, const char *content, int repeat) {
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    for (int i = 0; i < repeat; i++)
        fputs(content, f);
    fclose(f);
}

/* Reads the number after `label` on its line. */
static long number_after(const out *o, const char *label) {
    const char *p = strstr(o->text, label);
    if (!p)
        return -1;
    return strtol(p + strlen(label), NULL, 10);
}

/* Makes a directory of 60 files (3 lines and 6 words each, repeated i+1
 * times, half of them in a subdirectory) into dir (a mkdtemp template). */
static void make_tree(char *dir) {
    assert_non_null(mkdtemp(dir));
    char path[512];
    snprintf(path, sizeof path, "%s/sub", dir);
    assert_int_equal(mkdir(path, 0755), 0);
    for (int i = 0; i < 60; i++) {
        snprintf(path, sizeof path, "%s/%sf%02d.txt", dir, i % 2 ? "sub/" : "", i);
        write_file(path, "alpha beta\ngamma  delta\n\tepsilon zeta\n", i + 1);
    }
}

static void remove_tree(const char *dir) {
    char rm[600];
    snprintf(rm, sizeof rm, "rm -rf '%s'", dir);
    assert_int_equal(system(rm), 0);
}

/* The checks every counting run of make_tree's directory passes: exit 0,
 * the totals, no failed job, restarts after the injected crashes, each
 * file opened once by a successful attempt (on a fiber or on the blocking
 * pool). */
static void expect_counted(const out *o) {
    if (o->exit_code != 0)
        fprintf(stderr, "%s", o->text);
    assert_int_equal(o->exit_code, 0);
    expect_line(o, "totals match the single-threaded pass");
    /* sum over i of (i+1): 1830 repeats of 3 lines, 6 words */
    assert_int_equal(number_after(o, "\nfiles"), 60);
    assert_int_equal(number_after(o, "\nlines"), 3 * 1830);
    assert_int_equal(number_after(o, "\nwords"), 6 * 1830);
    assert_true(number_after(o, "\nrestarts") > 0);
    assert_int_equal(number_after(o, "\nfailed jobs"), 0);
    long on_fiber = number_after(o, "\nfile opens");
    const char *p = strstr(o->text, "\nfile opens");
    assert_non_null(p);
    p = strstr(p, "), ");
    assert_non_null(p);
    assert_int_equal(on_fiber + strtol(p + 3, NULL, 10), 60);
}

static void test_count_files_with_crashes(void **state) {
    (void)state;
    char dir[] = "/tmp/troupe_wp_XXXXXX";
    make_tree(dir);
    char args[600];
    snprintf(args, sizeof args, "--dir %s --workers 3 --crash-every 6 --tries 50", dir);
    out o;
    run_demo(args, &o);
    expect_counted(&o);
    expect_line(&o, " 6 client fibers, ");
    /* without --verbose the crash reports are counted, not printed: one
     * per crash, and each restart follows a crash */
    assert_true(number_after(&o, "\ncrash reports") >= number_after(&o, "\nrestarts"));
    assert_null(strstr(o.text, "troupe error crash"));
    free(o.text);

    /* --verbose: the runtime's crash and supervisor reports, one line each */
    snprintf(args, sizeof args, "--dir %s --workers 3 --crash-every 6 --tries 50 --verbose", dir);
    run_demo(args, &o);
    if (o.exit_code != 0)
        fprintf(stderr, "%s", o.text);
    assert_int_equal(o.exit_code, 0);
    expect_line(&o, "totals match the single-threaded pass");
    expect_line(&o, " troupe error crash pid=<");
    expect_line(&o, "behaviour=wc_worker reason=\"error(1): injected crash on job 6 of worker ");
    expect_line(&o, " troupe error child_terminated supervisor=<");
    expect_line(&o, " troupe notice child_restarted supervisor=<");
    assert_null(strstr(o.text, "\ncrash reports"));
    free(o.text);
    remove_tree(dir);
}

/* --blocking-reads: every open and every read goes through tr_blocking;
 * --client-threads: the clients are plain threads. Same totals. */
static void test_count_blocking_reads_client_threads(void **state) {
    (void)state;
    char dir[] = "/tmp/troupe_wp_XXXXXX";
    make_tree(dir);
    char args[600];
    snprintf(args, sizeof args,
             "--dir %s --workers 3 --crash-every 6 --tries 50 --blocking-reads --client-threads",
             dir);
    out o;
    run_demo(args, &o);
    expect_counted(&o);
    expect_line(&o, " 6 client threads, ");
    expect_line(&o, "\nfile opens   0 on the worker fibers (path in the dentry cache), 60 on the "
                    "blocking pool (--blocking-reads)\n");
    expect_line(&o, "\nfile reads   0 of up to 64 KB on the worker fibers");
    /* at least one blocking-pool job per file (its open and first read) */
    assert_true(number_after(&o, "\nblocking pool") >= 60);
    free(o.text);
    remove_tree(dir);
}

static void test_bad_arguments_exit_2(void **state) {
    (void)state;
    out o;
    run_demo("--workers 0", &o);
    assert_int_equal(o.exit_code, 2);
    free(o.text);
    run_demo("--strategy fastest", &o);
    assert_int_equal(o.exit_code, 2);
    free(o.text);
    run_demo("--blocking-reads=1", &o);
    assert_int_equal(o.exit_code, 2);
    free(o.text);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_transcript),
        cmocka_unit_test(test_count_files_with_crashes),
        cmocka_unit_test(test_count_blocking_reads_client_threads),
        cmocka_unit_test(test_bad_arguments_exit_2),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
