/* outputs.c - writing what call, predict and extract return, in the format
 * the file's extension names: .npy (one array), .npz (one member per
 * tensor) or .csv (one line per sample, a header naming the columns). Any
 * other extension is refused before anything runs, so a NumPy file never
 * lands under a .csv name. */
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "io/npy.h"

enum { OUT_NPY, OUT_NPZ, OUT_CSV };

/* The format of path by its extension, or -1 with a message. */
static int out_format(const char *path, int n, sq_error *err)
{
    const char *slash = strrchr(path, '/'), *base = slash ? slash + 1 : path;
    const char *dot = strrchr(base, '.');
    if (!*base)
        return sq_fail(err, "save=%s: a file name is needed, ending in .npy, .npz or .csv",
                       path);
    if (!dot || dot == base)
        return sq_fail(err, "save=%s: the extension picks the format; end the name in "
                       ".npy, .npz or .csv", path);
    int f = !strcasecmp(dot, ".npy") ? OUT_NPY : !strcasecmp(dot, ".npz") ? OUT_NPZ
          : !strcasecmp(dot, ".csv") ? OUT_CSV : -1;
    if (f < 0)
        return sq_fail(err, "save=%s: seqsh writes .npy, .npz or .csv (picked by the "
                       "extension), not '%s'", path, dot);
    if (f == OUT_NPY && n != 1)
        return sq_fail(err, "save=%s: a .npy file holds one array and there are %d; use "
                       ".npz (one array per layer) or .csv", path, n);
    return f;
}

int sq_check_output_path(const char *path, int n, sq_error *err)
{
    return out_format(path, n, err) < 0 ? -1 : 0;
}

/* The shortest text that reads back as the same float32. */
static void put_float(sbuf *b, float v)
{
    char buf[32];
    if (isnan(v)) {
        sb_printf(b, "nan");
        return;
    }
    if (isinf(v)) {
        sb_printf(b, v < 0 ? "-inf" : "inf");
        return;
    }
    for (int p = 1; p <= 9; p++) {
        snprintf(buf, sizeof buf, "%.*g", p, (double)v);
        if (strtof(buf, NULL) == v)
            break;
    }
    sb_printf(b, "%s", buf);
}

/* Values per sample of t (its first axis is the batch). */
static size_t per_row(const sq_tensor *t)
{
    return t->shape.d[0] ? sq_shape_count(&t->shape) / (size_t)t->shape.d[0] : 0;
}

static int write_csv(const char *path, const sq_named_tensor *t, int n, int integer,
                     sq_error *err)
{
    long rows = -1;
    for (int i = 0; i < n; i++) {
        if (t[i].t.shape.rank < 1)
            return sq_fail(err, "save=%s: '%s' has no rows to write", path, t[i].name);
        if (rows >= 0 && t[i].t.shape.d[0] != rows)
            return sq_fail(err, "save=%s: the arrays have different numbers of rows", path);
        rows = t[i].t.shape.d[0];
    }
    double bytes = 0;
    for (int i = 0; i < n; i++)
        bytes += (double)sq_shape_count(&t[i].t.shape) * 16.0;
    if (sq_check_memory(bytes, "the CSV text", err) < 0)
        return -1;
    sbuf b = { 0 };
    /* the header: NAME for a single column, NAME[j] for each of several */
    int first = 1;
    for (int i = 0; i < n; i++) {
        size_t k = per_row(&t[i].t);
        for (size_t j = 0; j < k; j++) {
            sb_printf(&b, first ? "" : ",");
            if (k == 1 && t[i].t.shape.rank == 1)
                sb_printf(&b, "%s", t[i].name);
            else
                sb_printf(&b, "%s[%zu]", t[i].name, j);
            first = 0;
        }
    }
    sb_printf(&b, "\n");
    for (long r = 0; r < rows && !b.oom; r++) {
        first = 1;
        for (int i = 0; i < n; i++) {
            size_t k = per_row(&t[i].t);
            const float *v = t[i].t.data + (size_t)r * k;
            for (size_t j = 0; j < k; j++) {
                sb_printf(&b, first ? "" : ",");
                if (integer)
                    sb_printf(&b, "%lld", (long long)v[j]);
                else
                    put_float(&b, v[j]);
                first = 0;
            }
        }
        sb_printf(&b, "\n");
    }
    char *text = sb_finish(&b, err);
    if (!text)
        return -1;
    int rc = sq_write_file_atomic(path, text, strlen(text), err);
    free(text);
    return rc;
}

int sq_save_outputs(const char *path, const sq_named_tensor *t, int n, int integer,
                    sq_error *err)
{
    int f = out_format(path, n, err);
    if (f < 0)
        return -1;
    if (f == OUT_CSV)
        return write_csv(path, t, n, integer, err);
    if (f == OUT_NPZ)
        return npz_write_file_as(path, t, n, integer, err);
    bbuf b = { 0 };
    char subject[600];
    snprintf(subject, sizeof subject, "'%.590s'", path);
    int rc = npy_append_as(&b, &t[0].t, integer, subject, err);
    if (rc == 0)
        rc = sq_write_file_atomic(path, b.p, b.len, err);
    free(b.p);
    return rc;
}
