/* tensor.c - tensors the shell hands in and out: generated inputs and
 * .npy output (reading data sets is data.c's). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "model.h"
#include "io/npy.h"
#include "kernels/threads.h"

void sq_tensor_free(sq_tensor *t)
{
    if (t) {
        sq_free(t->data);
        t->data = NULL;
    }
}

typedef struct {
    float *d;
    int which;   /* 0 zeros, 1 ones, 3 range */
} fill_job;

/* Values [b, e) of a generated input. */
static void fill_range(void *ctx, long b, long e, int tid)
{
    (void)tid;
    const fill_job *j = ctx;
    float *d = j->d;
    if (j->which == 0)
        memset(d + b, 0, (size_t)(e - b) * sizeof *d);
    else if (j->which == 1)
        for (long i = b; i < e; i++)
            d[i] = 1.0f;
    else
        for (long i = b; i < e; i++)
            d[i] = (float)i;
}

int sq_tensor_generate(sq_session *s, const char *kind, int ndims,
                       const long *dims, sq_tensor *out, sq_error *err)
{
    int which;
    if (strcmp(kind, "ones") == 0) which = 1;
    else if (strcmp(kind, "zeros") == 0) which = 0;
    else if (strcmp(kind, "random") == 0) which = 2;
    else if (strcmp(kind, "range") == 0) which = 3;
    else
        return sq_fail(err, "unknown input generator '%s' (expected ones, zeros, random or range)", kind);
    if (ndims < 1 || ndims > SQ_MAX_RANK)
        return sq_fail(err, "%s needs 1 to %d dimensions (batch first), got %d",
                       kind, SQ_MAX_RANK, ndims);
    sq_shape sh = { .rank = ndims };
    for (int i = 0; i < ndims; i++) {
        if (dims[i] <= 0)
            return sq_fail(err, "dimensions must be positive, got %ld", dims[i]);
        sh.d[i] = dims[i];
    }
    size_t n = sq_shape_count(&sh);
    char what[128];
    snprintf(what, sizeof what, "an input of shape %s", sq_shape_str(&sh, (char[96]){0}, 96));
    if (n == SIZE_MAX || sq_check_memory((double)n * sizeof(float), what, err) < 0)
        return n == SIZE_MAX ? sq_fail(err, "%s is too large", what) : -1;
    float *d = sq_malloc(n * sizeof *d);
    if (!d)
        return sq_fail(err, "out of memory for an input of %zu values", n);
    /* one plain loop per kind: ones, zeros and range fill at memory speed,
     * in shares of at least 256 KB, each thread the part of the input its
     * share of the first layer will read (as the thread pool's shares
     * fall), so that it finds it in its own core's cache */
    if (which != 2) {
        fill_job j = { d, which };
        sq_parallel_for((long)n, 65536, fill_range, &j);
    } else {
        for (size_t i = 0; i < n; i++)
            d[i] = sq_rng_uniform(&s->rng);
    }
    out->shape = sh;
    out->data = d;
    return 0;
}

int sq_tensor_save(const char *path, const sq_tensor *t, sq_error *err)
{
    return npy_write_file(path, t, err);
}
