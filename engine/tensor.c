/* tensor.c - tensors the shell hands in and out: generated inputs, .npy
 * files and FILE.npz:KEY members. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "internal.h"
#include "npy.h"

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
    if (n == SIZE_MAX || n > ((size_t)1 << 34) / sizeof(float))
        return sq_fail(err, "input of shape %s is too large", sq_shape_str(&sh, (char[96]){0}, 96));
    float *d = malloc(n * sizeof *d);
    if (!d)
        return sq_fail(err, "out of memory for an input of %zu values", n);
    for (size_t i = 0; i < n; i++)
        d[i] = which == 1 ? 1.0f : which == 0 ? 0.0f
             : which == 3 ? (float)i : sq_rng_uniform(&s->rng);
    out->shape = sh;
    out->data = d;
    return 0;
}

int sq_tensor_load(const char *spec, sq_tensor *out, sq_error *err)
{
    const char *colon = strstr(spec, ".npz:");
    if (!colon)
        return npy_read_file(spec, out, err);
    size_t plen = (size_t)(colon - spec) + 4;
    char *path = strndup(spec, plen);
    if (!path)
        return sq_fail(err, "out of memory");
    const char *key = colon + 5;
    npz_entry *e = NULL;
    int n = 0, rc = -1;
    if (npz_read_file(path, &e, &n, err) == 0) {
        for (int i = 0; i < n; i++) {
            if (strcmp(e[i].name, key) == 0) {
                *out = e[i].t;
                e[i].t.data = NULL;
                rc = 0;
                break;
            }
        }
        if (rc != 0) {
            char keys[512] = "";
            for (int i = 0; i < n; i++) {
                size_t l = strlen(keys);
                snprintf(keys + l, sizeof keys - l, "%s%s", i ? ", " : "", e[i].name);
            }
            sq_fail(err, "'%s' has no array '%s' (it has: %s)", path, key, keys);
        }
        npz_entries_free(e, n);
    }
    free(path);
    return rc;
}

int sq_tensor_save(const char *path, const sq_tensor *t, sq_error *err)
{
    return npy_write_file(path, t, err);
}
