/* dist.c - data-parallel training over MPI: which rank this process is, how
 * many there are, and the few collectives training needs (sums of the
 * gradients and statistics, agreement on failures and interrupts, and
 * gathering predictions). Built over Open MPI when configure finds it; MPI
 * is started only when the process was launched by mpirun, so the same
 * binary run by hand is one rank of one and calls no MPI at all. */
#include "config.h"
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "dist/dist.h"
#include "kernels/threads.h"
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
    /* the processes on one machine share its processors: unless told
     * (OMP_NUM_THREADS, OPENBLAS_NUM_THREADS, `threads`), each takes its
     * part of them (mpirun may have bound it to fewer already) */
    MPI_Comm node;
    int local = 1;
    if (MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, rank, MPI_INFO_NULL, &node)
        == MPI_SUCCESS) {
        MPI_Comm_size(node, &local);
        MPI_Comm_free(&node);
    }
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    if (local > 1 && !getenv("OMP_NUM_THREADS") && !getenv("OPENBLAS_NUM_THREADS")) {
        int share = cpus > local ? (int)(cpus / local) : 1;
        if (sq_pool_default() > share)
            sq_pool_set_default(share);
    }
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
int sq_dist_launched(void) { return started; }
int sq_dist_size(void) { return size; }

int sq_dist_available(void)
{
#ifdef HAVE_MPI
    return 1;
#else
    return 0;
#endif
}

#ifdef HAVE_MPI
/* n values of elem bytes summed over the ranks (or, bcast, rank 0's sent
 * to all), in place; in pieces, since MPI counts are ints. */
static void collective(void *v, size_t n, MPI_Datatype type, size_t elem, int bcast)
{
    char *p = v;
    while (started && size > 1 && n > 0) {
        int k = n > (size_t)1 << 30 ? 1 << 30 : (int)n;
        if (bcast)
            MPI_Bcast(p, k, type, 0, MPI_COMM_WORLD);
        else
            MPI_Allreduce(MPI_IN_PLACE, p, k, type, MPI_SUM, MPI_COMM_WORLD);
        p += (size_t)k * elem;
        n -= (size_t)k;
    }
}
#endif

void sq_dist_sum_float(float *v, size_t n)
{
#ifdef HAVE_MPI
    collective(v, n, MPI_FLOAT, sizeof *v, 0);
#else
    (void)v;
    (void)n;
#endif
}

void sq_dist_sum_double(double *v, size_t n)
{
#ifdef HAVE_MPI
    collective(v, n, MPI_DOUBLE, sizeof *v, 0);
#else
    (void)v;
    (void)n;
#endif
}

const char *sq_dist_library(void)
{
#ifdef HAVE_MPI
    static char line[MPI_MAX_LIBRARY_VERSION_STRING + 64];
    char v[MPI_MAX_LIBRARY_VERSION_STRING];
    int len = 0;
    if (MPI_Get_library_version(v, &len) != MPI_SUCCESS)
        len = 0;
    v[len < MPI_MAX_LIBRARY_VERSION_STRING ? len : MPI_MAX_LIBRARY_VERSION_STRING - 1] = '\0';
    v[strcspn(v, ",\n")] = '\0';
    snprintf(line, sizeof line, "%s; data-parallel training under mpirun",
             *v ? v : "MPI");
    return line;
#else
    return "not built in (configure found no Open MPI); no data-parallel training";
#endif
}

void sq_dist_bcast_double(double *v, size_t n)
{
#ifdef HAVE_MPI
    collective(v, n, MPI_DOUBLE, sizeof *v, 1);
#else
    (void)v;
    (void)n;
#endif
}

int sq_dist_agree(int failed, char *msg, size_t n)
{
    int first = sq_dist_first(failed);
#ifdef HAVE_MPI
    if (first >= 0 && started && size > 1 && n > 0) {
        MPI_Bcast(msg, n > INT_MAX ? INT_MAX : (int)n, MPI_CHAR, first, MPI_COMM_WORLD);
        msg[n - 1] = '\0';
    }
#else
    (void)msg;
    (void)n;
#endif
    return first;
}

int sq_dist_error(int failed, sq_error *err)
{
    return sq_dist_agree(failed, err->msg, sizeof err->msg) < 0 ? 0 : -1;
}

int sq_dist_max(int v)
{
#ifdef HAVE_MPI
    if (started && size > 1) {
        int all = v;
        MPI_Allreduce(&v, &all, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
        return all;
    }
#endif
    return v;
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
        /* counted in rows of per_row floats (MPI's counts are ints): every
         * rank has the same per_row, and the caller keeps the rows and
         * per_row within INT_MAX */
        MPI_Datatype row;
        if (per_row > INT_MAX || rows > INT_MAX
            || MPI_Type_contiguous((int)per_row, MPI_FLOAT, &row) != MPI_SUCCESS) {
            free(counts);
            return -1;
        }
        MPI_Type_commit(&row);
        int my = (int)rows;
        MPI_Allgather(&my, 1, MPI_INT, counts, 1, MPI_INT, MPI_COMM_WORLD);
        for (int r = 0; r < size; r++) {
            displs[r] = (int)total;
            total += counts[r];
        }
        int rc = total > INT_MAX ? MPI_ERR_COUNT
               : MPI_Allgatherv(mine, my, row, all, counts, displs, row, MPI_COMM_WORLD);
        MPI_Type_free(&row);
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
