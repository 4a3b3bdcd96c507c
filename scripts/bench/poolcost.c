/* poolcost: what one parallel region of seqsh's thread pool costs.
 *
 * Built by run.sh together with engine/kernels/threads.c (the pool itself,
 * nothing else of the engine):
 *   cc -O2 -pthread -Iengine poolcost.c engine/kernels/threads.c
 * Usage: poolcost THREADS [ROUNDS]
 *
 * A region here is sq_parallel_for over THREADS indices, one per thread
 * (min_each 1), each index WORK_US of busy work, so that every thread takes
 * part.  Its cost is the region's time minus WORK_US (what one thread's
 * share takes): publishing the job, reaching or waking a worker, its claim,
 * the caller waiting for the last index.  Three situations, ROUNDS rounds
 * each:
 *   back-to-back  one region right after the other (the workers spin): a
 *                 layer's rows, a GEMM's blocks;
 *   after-50us    the caller computes for 50 us between regions, less than
 *                 the workers spin: no wake-up;
 *   after-5ms     the caller computes for 5 ms between regions: the workers
 *                 have gone to sleep and are woken through the kernel;
 *   woken-5ms     the same, but the caller wakes them (sq_pool_wake) 30 us
 *                 before the region, as a command does before its setup
 *                 work (checking shapes, allocating).
 * Prints one line per situation, "poolcost THREADS NAME min MIN median
 * MEDIAN" (microseconds: over the rounds, of a round's mean cost per
 * region).  A thread the system does not run at once (another process on
 * its core) shows up as cost: compare the min with the median. */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include "kernels/threads.h"

#define WORK_US 5.0

static double now_us(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1e6 + (double)t.tv_nsec * 1e-3;
}

static volatile long sink;

static void busy(double us)
{
    double end = now_us() + us;
    while (now_us() < end)
        sink++;
}

static void work(void *ctx, long b, long e, int tid)
{
    (void)ctx;
    (void)tid;
    busy(WORK_US * (double)(e - b));
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
    int threads = argc > 1 ? atoi(argv[1]) : 2;
    int rounds = argc > 2 ? atoi(argv[2]) : 30;
    if (threads < 1 || threads > SQ_MAX_THREADS || rounds < 1) {
        fprintf(stderr, "usage: poolcost THREADS [ROUNDS]\n");
        return 2;
    }
    sq_pool_set_threads(threads);
    static const struct { const char *name; double gap_us; int per_round, wake; } sit[] = {
        { "back-to-back", 0, 200, 0 }, { "after-50us", 50, 100, 0 }, { "after-5ms", 5000, 4, 0 },
        { "woken-5ms", 5000, 4, 1 },
    };
    double *cost = malloc((size_t)rounds * sizeof *cost);
    if (!cost)
        return 1;
    sq_parallel_for(threads, 1, work, NULL);   /* starts the workers */
    for (size_t s = 0; s < sizeof sit / sizeof sit[0]; s++) {
        for (int r = 0; r < rounds; r++) {
            double spent = 0;
            for (int i = 0; i < sit[s].per_round; i++) {
                if (sit[s].gap_us > 0)
                    busy(sit[s].gap_us - (sit[s].wake ? 30 : 0));
                if (sit[s].wake) {
                    sq_pool_wake();
                    busy(30);
                }
                double t0 = now_us();
                sq_parallel_for(threads, 1, work, NULL);
                spent += now_us() - t0 - WORK_US;
            }
            cost[r] = spent / sit[s].per_round;
        }
        qsort(cost, (size_t)rounds, sizeof *cost, cmp);
        printf("poolcost %d %s min %.2f median %.2f\n", threads, sit[s].name, cost[0],
               cost[rounds / 2]);
    }
    free(cost);
    return 0;
}
