/* tensor.c - tensors the shell hands in and out: generated inputs and
 * .npy output (reading data sets is data.c's). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "model.h"
#include "io/npy.h"

void sq_tensor_free(sq_tensor *t)
{
    if (t) {
        free(t->data);
        t->data = NULL;
    }
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
    /* one plain loop per kind: ones and zeros fill at memory speed */
    if (which == 0) {
        memset(d, 0, n * sizeof *d);
    } else if (which == 1) {
        for (size_t i = 0; i < n; i++)
            d[i] = 1.0f;
    } else if (which == 3) {
        for (size_t i = 0; i < n; i++)
            d[i] = (float)i;
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
