/* fan_out_fan_in — a worker pool in the shape of Wippy's: three worker
 * fibers read jobs from one buffered channel, "work" 200 ms on each
 * (tr_sleep: the fiber parks, its scheduler thread is free meanwhile), and
 * write their results to another channel, which main reads in completion
 * order.
 *
 *   main ──send 1..10──▶ [jobs: 10 slots] ──recv── worker 1..3 (fibers)
 *                                                     │ tr_sleep(200 ms)
 *   main ◀──recv 10 results── [results: 10 slots] ◀───┘
 *
 * Closing the jobs channel ends the workers' loops once the jobs are taken
 * (for job := range jobs). Main is a plain thread: it may block on a
 * channel too.
 *
 * Usage: fan_out_fan_in            (10 jobs, 3 workers, 200 ms each)
 *        fan_out_fan_in --help     (this usage; any other argument: exit 2)
 * Expected: 10 "Job #n: n^2 = ..." lines in completion order, then
 * "All jobs done." and the wall time, about 4 x 200 ms rather than 10 x.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <troupe/troupe.h>

#define NUM_JOBS 10
#define NUM_WORKERS 3
#define WORK_MS 200

typedef struct result {
    int job, square, worker;
} result;

typedef struct worker_arg {
    int id;
    tr_chan *jobs, *results; /* the worker's own references */
} worker_arg;

static int worker(tr_self *self, void *arg) {
    worker_arg *w = arg;
    int job, rc = 0;
    while (tr_chan_recv(w->jobs, &job, TR_INFINITY) == 0) { /* TR_ECLOSED ends it */
        if ((rc = tr_sleep(self, WORK_MS)) != 0)            /* the "work" */
            break;
        result r = {job, job * job, w->id};
        if ((rc = tr_chan_send(w->results, &r, TR_INFINITY)) != 0)
            break;
    }
    tr_chan_release(w->jobs);
    tr_chan_release(w->results);
    return rc; /* an error is the fiber's exit reason */
}

static int die(const char *what, int rc) {
    fprintf(stderr, "fan_out_fan_in: %s: %s (%s)\n", what, tr_strerror(rc), tr_err_name(rc));
    return 1;
}

static void usage(FILE *to) {
    fprintf(to,
            "usage: fan_out_fan_in [--help]\n"
            "  %d jobs, %d worker fibers, %d ms of work each: jobs and results go through\n"
            "  buffered channels; prints each result in completion order and the wall time.\n",
            NUM_JOBS, NUM_WORKERS, WORK_MS);
}

int main(int argc, char **argv) {
    if (argc > 1) {
        bool help = argc == 2 && strcmp(argv[1], "--help") == 0;
        if (!help)
            fprintf(stderr, "fan_out_fan_in: unknown argument \"%s\"\n", argv[1]);
        usage(help ? stdout : stderr);
        return help ? 0 : 2;
    }
    setvbuf(stdout, NULL, _IOLBF, 0);
    tr_runtime *rt;
    int rc = tr_runtime_start(NULL, &rt);
    if (rc != 0)
        return die("runtime start", rc);

    tr_chan *jobs, *results;
    if ((rc = tr_chan_new(sizeof(int), NUM_JOBS, &jobs)) != 0 ||
        (rc = tr_chan_new(sizeof(result), NUM_JOBS, &results)) != 0)
        return die("tr_chan_new", rc);

    worker_arg args[NUM_WORKERS];
    tr_pid workers[NUM_WORKERS];
    for (int i = 0; i < NUM_WORKERS; i++) {
        args[i] = (worker_arg){i + 1, tr_chan_ref(jobs), tr_chan_ref(results)};
        if ((rc = tr_spawn_fiber(rt, worker, &args[i], NULL, &workers[i])) != 0)
            return die("tr_spawn_fiber", rc);
    }
    printf("%d jobs, %d fiber workers, %d ms of work each, jobs channel of %d slots\n", NUM_JOBS,
           NUM_WORKERS, WORK_MS, NUM_JOBS);

    int64_t t0 = tr_now_ms();
    for (int job = 1; job <= NUM_JOBS; job++) /* blocks only while the buffer is full */
        if ((rc = tr_chan_send(jobs, &job, TR_INFINITY)) != 0)
            return die("send job", rc);
    tr_chan_close(jobs); /* no more jobs: the workers stop once it is drained */

    for (int i = 0; i < NUM_JOBS; i++) { /* fan in, in completion order */
        result r;
        if ((rc = tr_chan_recv(results, &r, 30000)) != 0)
            return die("receive result", rc);
        printf("Job #%d: %d^2 = %d  (worker %d)\n", r.job, r.job, r.square, r.worker);
    }
    int64_t elapsed = tr_now_ms() - t0;
    printf("All jobs done.\n");

    for (int i = 0; i < NUM_WORKERS; i++) {
        tr_reason why;
        if ((rc = tr_await_exit(rt, workers[i], 10000, &why)) != 0)
            return die("waiting for a worker", rc);
    }
    printf("Total time: %lld ms (%d jobs x %d ms on %d workers; one worker would take %d ms)\n",
           (long long)elapsed, NUM_JOBS, WORK_MS, NUM_WORKERS, NUM_JOBS * WORK_MS);
    tr_chan_release(jobs);
    tr_chan_release(results);
    tr_runtime_free(&rt);
    return 0;
}
