/* dist.c - data-parallel training over MPI: which rank this process is, how
 * many there are, and the few collectives training needs (sums of the
 * gradients and statistics, agreement on failures and interrupts, and
 * gathering predictions). Built over Open MPI when configure finds it; MPI
 * is started only when the process was launched by mpirun, so the same
 * binary run by hand is one rank of one and calls no MPI at all. */
#include "config.h"
#include <stdlib.h>
#include <string.h>
#include "dist/dist.h"
#ifdef HAVE_MPI
#include <mpi.h>
#endif

static int rank, size = 1, started;

/* Was this process launched by mpirun (Open MPI, or a PMI launcher)? */
static int under_launcher(void)
{
    static const char *const vars[] = { "OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_RANK" };
    for (size_t i = 0; i < sizeof vars / sizeof *vars; i++)
        if (getenv(vars[i]))
            return 1;
    return 0;
}

int sq_dist_init(int *argc, char ***argv)
{
#ifdef HAVE_MPI
    if (!under_launcher())
        return 0;
    int provided;
    if (MPI_Init_thread(argc, argv, MPI_THREAD_FUNNELED, &provided) != MPI_SUCCESS)
        return -1;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    /* a failing collective returns an error instead of aborting the job */
    MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
    started = 1;
#else
    (void)argc;
    (void)argv;
    (void)under_launcher;
#endif
    return 0;
}

void sq_dist_finalize(void)
{
#ifdef HAVE_MPI
    if (started)
        MPI_Finalize();
    started = 0;
#endif
}

void sq_dist_abort(int status)
{
#ifdef HAVE_MPI
    if (started)
        MPI_Abort(MPI_COMM_WORLD, status);
#endif
    (void)status;
}

int sq_dist_rank(void) { return rank; }
int sq_dist_size(void) { return size; }

int sq_dist_available(void)
{
#ifdef HAVE_MPI
    return 1;
#else
    return 0;
#endif
}

void sq_dist_sum_float(float *v, size_t n)
{
#ifdef HAVE_MPI
    /* in pieces: MPI counts are ints */
    while (started && size > 1 && n > 0) {
        int k = n > (size_t)1 << 30 ? 1 << 30 : (int)n;
        MPI_Allreduce(MPI_IN_PLACE, v, k, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
        v += k;
        n -= (size_t)k;
    }
#else
    (void)v;
    (void)n;
#endif
}

void sq_dist_sum_double(double *v, size_t n)
{
#ifdef HAVE_MPI
    while (started && size > 1 && n > 0) {
        int k = n > (size_t)1 << 30 ? 1 << 30 : (int)n;
        MPI_Allreduce(MPI_IN_PLACE, v, k, MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD);
        v += k;
        n -= (size_t)k;
    }
#else
    (void)v;
    (void)n;
#endif
}

int sq_dist_first(int flag)
{
#ifdef HAVE_MPI
    if (started && size > 1) {
        int mine = flag ? rank : size, first = size;
        MPI_Allreduce(&mine, &first, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD);
        return first < size ? first : -1;
    }
#endif
    return flag ? 0 : -1;
}

int sq_dist_gather_rows(const float *mine, long rows, size_t per_row, float *all)
{
#ifdef HAVE_MPI
    if (started && size > 1) {
        int *counts = calloc((size_t)size * 2, sizeof *counts);
        if (!counts)
            return -1;
        int *displs = counts + size;
        long total = 0;
        int my = (int)((size_t)rows * per_row);
        MPI_Allgather(&my, 1, MPI_INT, counts, 1, MPI_INT, MPI_COMM_WORLD);
        for (int r = 0; r < size; r++) {
            displs[r] = (int)total;
            total += counts[r];
        }
        int rc = MPI_Allgatherv(mine, my, MPI_FLOAT, all, counts, displs, MPI_FLOAT,
                                MPI_COMM_WORLD);
        free(counts);
        return rc == MPI_SUCCESS ? 0 : -1;
    }
#endif
    if (all != mine)
        memcpy(all, mine, (size_t)rows * per_row * sizeof *all);
    return 0;
}

void sq_dist_share(long n, int r, long *from, long *to)
{
    long base = n / size, extra = n % size;
    *from = (long)r * base + (r < extra ? r : extra);
    *to = *from + base + (r < extra ? 1 : 0);
}
