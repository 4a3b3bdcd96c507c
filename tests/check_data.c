/* check_data.c - tests for engine/data.c: sq_data_load reading CSV (the
 * iris and digits sets among them, gzip-compressed or not, split into X and
 * Y by label=), IDX files of every type code, .npy and .npz files through
 * the one entry point, kinds told by content rather than name, and the exact
 * error messages for bad, truncated or lying files; every reader polling
 * the interrupt flag, the memory limit applied while reading, FIFOs waited
 * for (issue 18). Fixtures come from
 * tests/fixtures (data_* made by make_data_fixtures.py, np_* by
 * make_np_fixtures.py); scratch files go to a private mkdtemp folder. */
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>
#include "io/data.h"
#include "io/npy.h"
#include "base/base.h"

/* Declared in engine.h by the lead; repeated here so the test also builds
 * against a header that lacks it. */
int sq_data_load(const char *spec, const char *label, sq_tensor *x,
                 sq_tensor *y, sq_error *err);

static char tmpdir[512];

/* $srcdir/tests/fixtures/NAME; the result lives until the next call. */
static const char *fixture(const char *name)
{
    static char buf[1024];
    const char *srcdir = getenv("srcdir");
    snprintf(buf, sizeof buf, "%s/tests/fixtures/%s",
             srcdir && *srcdir ? srcdir : ".", name);
    return buf;
}

/* TMPDIR/NAME in this run's private folder; the result lives until the
 * next call. */
static const char *tmp_path(const char *name)
{
    static char buf[1024];
    snprintf(buf, sizeof buf, "%s/%s", tmpdir, name);
    return buf;
}

/* Writes len bytes to TMPDIR/NAME and returns its path (see tmp_path). */
static const char *write_tmp(const char *name, const void *data, size_t len)
{
    const char *p = tmp_path(name);
    FILE *f = fopen(p, "wb");
    ck_assert_msg(f != NULL, "%s: %s", p, strerror(errno));
    ck_assert(len == 0 || fwrite(data, 1, len, f) == len);
    ck_assert(fclose(f) == 0);
    return p;
}

static const char *write_text(const char *name, const char *text)
{
    return write_tmp(name, text, strlen(text));
}

static void read_bytes(const char *path, unsigned char **buf, size_t *len)
{
    sq_error err = {""};
    ck_assert_msg(sq_read_whole_file(path, buf, len, &err) == 0, "%s",
                  err.msg);
}

static void check_shape(const sq_tensor *t, int rank, const long *d)
{
    ck_assert_int_eq(t->shape.rank, rank);
    for (int i = 0; i < rank; i++)
        ck_assert_msg(t->shape.d[i] == d[i], "dim %d is %ld, want %ld", i,
                      t->shape.d[i], d[i]);
}

static void check_values(const float *got, const float *want, size_t n)
{
    for (size_t i = 0; i < n; i++)
        ck_assert_msg(got[i] == want[i], "value %zu is %.9g, want %.9g", i,
                      (double)got[i], (double)want[i]);
}

/* Loads spec (with label) that must work. */
static void load_ok(const char *spec, const char *label, sq_tensor *x,
                    sq_tensor *y)
{
    sq_error err = {""};
    int rc = sq_data_load(spec, label, x, y, &err);
    ck_assert_msg(rc == 0, "%s: %s", spec, err.msg);
}

/* Loads spec (with label), which must fail with exactly `want`, leaving the
 * output tensors untouched. `want` may hold one %s for the path. */
static void load_fails(const char *spec, const char *label, const char *want,
                       const char *path)
{
    sq_error err = {""};
    float sentinel = 42.0f;
    sq_tensor x = { { 3, { 7, 8, 9 } }, &sentinel }, y = x;
    char expect[2048];
    int rc = sq_data_load(spec, label, &x, label ? &y : NULL, &err);
    if (rc == 0) {
        free(x.data);
        if (label)
            free(y.data);
        ck_abort_msg("%s (label=%s) loaded, want: %s", spec,
                     label ? label : "NULL", want);
    }
    ck_assert_int_eq(rc, -1);
    snprintf(expect, sizeof expect, want, path ? path : spec);
    ck_assert_str_eq(err.msg, expect);
    ck_assert(x.data == &sentinel && y.data == &sentinel);
    ck_assert(x.shape.rank == 3 && x.shape.d[0] == 7 && y.shape.d[2] == 9);
}

/* As load_fails, but only the start of the message is fixed. */
static void load_fails_prefix(const char *spec, const char *want_prefix)
{
    sq_error err = {""};
    sq_tensor x = { { 0, { 0 } }, NULL };
    int rc = sq_data_load(spec, NULL, &x, NULL, &err);
    if (rc == 0)
        free(x.data);
    ck_assert_msg(rc == -1, "%s loaded", spec);
    ck_assert_msg(strncmp(err.msg, want_prefix, strlen(want_prefix)) == 0,
                  "got '%s', want it to start with '%s'", err.msg,
                  want_prefix);
}

/* ---- the shared data sets ------------------------------------------------ */

START_TEST(test_iris_label_last)
{
    sq_tensor x, y;
    static const long dx[] = { 150, 4 }, dy[] = { 150 };
    static const float first[] = { 5.1f, 3.5f, 1.4f, 0.2f };
    static const float last[] = { 5.9f, 3.0f, 5.1f, 1.8f };
    int counts[3] = { 0, 0, 0 };
    load_ok(fixture("data_iris.csv"), "last", &x, &y);
    check_shape(&x, 2, dx);
    check_shape(&y, 1, dy);
    check_values(x.data, first, 4);
    check_values(x.data + 149 * 4, last, 4);
    ck_assert(y.data[0] == 0.0f && y.data[149] == 2.0f);
    for (int i = 0; i < 150; i++) {
        float v = y.data[i];
        ck_assert_msg(v == 0.0f || v == 1.0f || v == 2.0f, "label %d is %g",
                      i, (double)v);
        counts[(int)v]++;
    }
    ck_assert(counts[0] == 50 && counts[1] == 50 && counts[2] == 50);
    sq_tensor_free(&x);
    sq_tensor_free(&y);
}
END_TEST

/* label= picks the column: first, last, an index, a negative index. */
static const struct {
    const char *label;
    float y0;
    float x0[4];
} iris_labels[] = {
    { "first", 5.1f, { 3.5f, 1.4f, 0.2f, 0.0f } },
    { "0", 5.1f, { 3.5f, 1.4f, 0.2f, 0.0f } },
    { "-5", 5.1f, { 3.5f, 1.4f, 0.2f, 0.0f } },
    { "2", 1.4f, { 5.1f, 3.5f, 0.2f, 0.0f } },
    { "+2", 1.4f, { 5.1f, 3.5f, 0.2f, 0.0f } },
    { "-3", 1.4f, { 5.1f, 3.5f, 0.2f, 0.0f } },
    { "4", 0.0f, { 5.1f, 3.5f, 1.4f, 0.2f } },
    { "-1", 0.0f, { 5.1f, 3.5f, 1.4f, 0.2f } },
};

START_TEST(test_iris_label_columns)
{
    sq_tensor x, y;
    static const long dx[] = { 150, 4 }, dy[] = { 150 };
    load_ok(fixture("data_iris.csv"), iris_labels[_i].label, &x, &y);
    check_shape(&x, 2, dx);
    check_shape(&y, 1, dy);
    ck_assert(y.data[0] == iris_labels[_i].y0);
    check_values(x.data, iris_labels[_i].x0, 4);
    sq_tensor_free(&x);
    sq_tensor_free(&y);
}
END_TEST

START_TEST(test_iris_no_label)
{
    sq_tensor x;
    sq_error err = {""};
    static const long dx[] = { 150, 5 };
    static const float first[] = { 5.1f, 3.5f, 1.4f, 0.2f, 0.0f };
    load_ok(fixture("data_iris.csv"), NULL, &x, NULL);
    check_shape(&x, 2, dx);
    check_values(x.data, first, 5);
    sq_tensor_free(&x);
    /* sq_tensor_load is sq_data_load without a label. */
    ck_assert_msg(sq_tensor_load(fixture("data_iris.csv"), &x, &err) == 0,
                  "%s", err.msg);
    check_shape(&x, 2, dx);
    check_values(x.data, first, 5);
    sq_tensor_free(&x);
}
END_TEST

START_TEST(test_digits_gz)
{
    sq_tensor x, y;
    static const long dx[] = { 1797, 64 }, dy[] = { 1797 };
    static const float row0[] = { 0, 0, 5, 13, 9, 1, 0, 0, 0, 0, 13, 15 };
    int seen[10] = { 0 };
    load_ok(fixture("data_digits.csv.gz"), "last", &x, &y);
    check_shape(&x, 2, dx);
    check_shape(&y, 1, dy);
    check_values(x.data, row0, 12);
    for (size_t i = 0; i < 1797 * 64; i++)
        ck_assert_msg(x.data[i] >= 0.0f && x.data[i] <= 16.0f &&
                      x.data[i] == floorf(x.data[i]), "pixel %zu is %g", i,
                      (double)x.data[i]);
    for (int i = 0; i < 1797; i++) {
        ck_assert(y.data[i] >= 0.0f && y.data[i] <= 9.0f &&
                  y.data[i] == floorf(y.data[i]));
        seen[(int)y.data[i]] = 1;
    }
    for (int k = 0; k < 10; k++)
        ck_assert_msg(seen[k], "no digit %d", k);
    ck_assert(y.data[0] == 0.0f && y.data[1] == 1.0f && y.data[1796] == 8.0f);
    sq_tensor_free(&x);
    sq_tensor_free(&y);
}
END_TEST

/* ---- IDX ------------------------------------------------------------------ */

static const struct {
    const char *file;
    int rank;
    long d[SQ_MAX_RANK];
    int n;
    float v[12];
} idx_files[] = {
    { "data_images-idx3-ubyte", 3, { 3, 2, 2 }, 12,
      { 0, 1, 2, 255, 10, 20, 30, 40, 5, 6, 7, 8 } },
    { "data_images-idx3-ubyte.gz", 3, { 3, 2, 2 }, 12,
      { 0, 1, 2, 255, 10, 20, 30, 40, 5, 6, 7, 8 } },
    { "data_labels-idx1-ubyte", 1, { 3 }, 3, { 7, 0, 9 } },
    { "data_f4-idx2-float", 2, { 2, 3 }, 6,
      { 1.5f, -2.25f, 0.0f, 3e10f, -1e-3f, 7.0f } },
    { "data_f8-idx1-double", 1, { 3 }, 3, { 1.5f, -2.25f, 0.0f } },
    { "data_i1-idx1-sbyte", 1, { 3 }, 3, { -128, 0, 127 } },
    { "data_i2-idx1-short", 1, { 3 }, 3, { -300, 0, 32767 } },
    { "data_i4-idx1-int", 1, { 3 }, 3, { -3, 70000, -2147483648.0f } },
    { "data_rank5-idx5-ubyte", 5, { 2, 1, 3, 1, 2 }, 12,
      { 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11 } },
};

START_TEST(test_idx)
{
    sq_tensor x;
    load_ok(fixture(idx_files[_i].file), NULL, &x, NULL);
    check_shape(&x, idx_files[_i].rank, idx_files[_i].d);
    check_values(x.data, idx_files[_i].v, (size_t)idx_files[_i].n);
    sq_tensor_free(&x);
}
END_TEST

/* An IDX image header + data, written to TMPDIR/NAME. */
static const char *write_idx(const char *name, int type, int nd,
                             const uint32_t *dims, size_t ndata)
{
    unsigned char b[256];
    size_t n = 0;
    b[n++] = 0;
    b[n++] = 0;
    b[n++] = (unsigned char)type;
    b[n++] = (unsigned char)nd;
    for (int i = 0; i < nd; i++)
        for (int k = 3; k >= 0; k--)
            b[n++] = (unsigned char)(dims[i] >> (8 * k));
    for (size_t i = 0; i < ndata; i++)
        b[n++] = (unsigned char)(i + 1);
    return write_tmp(name, b, n);
}

START_TEST(test_idx_errors)
{
    const char *p;
    static const uint32_t ten[] = { 10 }, three[] = { 3 }, two2[] = { 2, 2 };
    static const uint32_t huge[] = { 0xffffffffu, 0xffffffffu, 0xffffffffu };
    static const uint32_t six[] = { 1, 1, 1, 1, 1, 1 };

    p = write_idx("short-idx1", 0x08, 1, ten, 3);
    load_fails(p, NULL, "'%s' is truncated: its IDX header claims shape "
               "(10,) (10 bytes of data), the file has 3", NULL);
    p = write_idx("short-idx2-int", 0x0C, 2, two2, 15);
    load_fails(p, NULL, "'%s' is truncated: its IDX header claims shape "
               "(2, 2) (16 bytes of data), the file has 15", NULL);
    p = write_idx("huge-idx3", 0x0E, 3, huge, 8);
    load_fails(p, NULL, "'%s': IDX header claims shape (4294967295, "
               "4294967295, 4294967295), far more than the file's 8 bytes of "
               "data", NULL);
    p = write_idx("long-idx1", 0x08, 1, three, 4);
    load_fails(p, NULL, "'%s': its IDX header claims shape (3,) (3 bytes of "
               "data), but the file has 4 (extra bytes at the end)", NULL);
    p = write_idx("type-idx1", 0x0A, 1, three, 3);
    load_fails(p, NULL, "'%s': unknown IDX type code 0x0A (expected 08, 09, "
               "0B, 0C, 0D or 0E)", NULL);
    p = write_idx("rank0-idx", 0x08, 0, three, 3);
    load_fails(p, NULL, "'%s': IDX arrays of 0 dimensions are not supported "
               "(1 to 5)", NULL);
    p = write_idx("rank6-idx", 0x08, 6, six, 1);
    load_fails(p, NULL, "'%s': IDX arrays of 6 dimensions are not supported "
               "(1 to 5)", NULL);
    p = write_tmp("hdr-idx", "\0\0\x08\x02\0\0\0\x01", 8);
    load_fails(p, NULL, "'%s' is truncated (incomplete IDX header)", NULL);
    p = write_tmp("hdr2-idx", "\0\0\x08", 3);
    load_fails(p, NULL, "'%s' is truncated (incomplete IDX header)", NULL);
    /* A label column belongs to CSV files; IDX labels come in their own file. */
    load_fails(fixture("data_labels-idx1-ubyte"), "last",
               "label= splits only CSV files, and '%s' is an IDX file", NULL);
}
END_TEST

START_TEST(test_idx_empty_dim)
{
    sq_tensor x;
    static const uint32_t dims[] = { 0, 28, 28 };
    static const long d[] = { 0, 28, 28 };
    load_ok(write_idx("empty-idx3", 0x08, 3, dims, 0), NULL, &x, NULL);
    check_shape(&x, 3, d);
    sq_tensor_free(&x);
}
END_TEST

/* ---- .npy and .npz through sq_data_load ------------------------------- */

START_TEST(test_npy_npz)
{
    sq_tensor x;
    char spec[1200];
    static const long d23[] = { 2, 3 }, d3[] = { 3 }, d22[] = { 2, 2 };
    static const float f4[] = { -1.0f, -0.5f, 0.0f, 0.5f, 1.0f, 1.5f };

    load_ok(fixture("np_f4_2x3.npy"), NULL, &x, NULL);
    check_shape(&x, 2, d23);
    check_values(x.data, f4, 6);
    sq_tensor_free(&x);

    load_ok(fixture("data_f4.npy.gz"), NULL, &x, NULL);
    check_shape(&x, 2, d23);
    check_values(x.data, f4, 6);
    sq_tensor_free(&x);

    load_ok(fixture("np_scalar.npy"), NULL, &x, NULL);
    ck_assert_int_eq(x.shape.rank, 0);
    ck_assert(x.data[0] == 7.5f);
    sq_tensor_free(&x);

    snprintf(spec, sizeof spec, "%s:dense/bias", fixture("np_savez.npz"));
    load_ok(spec, NULL, &x, NULL);
    check_shape(&x, 1, d3);
    check_values(x.data, (const float[]){ 0.25f, 0.5f, 0.75f }, 3);
    sq_tensor_free(&x);

    snprintf(spec, sizeof spec, "%s:b", fixture("np_savez_compressed.npz"));
    load_ok(spec, NULL, &x, NULL);
    check_shape(&x, 1, d3);
    check_values(x.data, (const float[]){ 1, -2, 3 }, 3);
    sq_tensor_free(&x);

    /* One array: no key needed, and naming it works too. */
    load_ok(fixture("data_one.npz"), NULL, &x, NULL);
    check_shape(&x, 2, d22);
    check_values(x.data, (const float[]){ 1, 2, 3, 4 }, 4);
    sq_tensor_free(&x);
    snprintf(spec, sizeof spec, "%s:only", fixture("data_one.npz"));
    load_ok(spec, NULL, &x, NULL);
    check_shape(&x, 2, d22);
    sq_tensor_free(&x);
}
END_TEST

START_TEST(test_npy_npz_errors)
{
    char spec[1200], path[1100];

    snprintf(path, sizeof path, "%s", fixture("np_savez.npz"));
    snprintf(spec, sizeof spec, "%s:nope", path);
    load_fails(spec, NULL, "'%s' has no array 'nope' (it has: dense/kernel, "
               "dense/bias)", path);
    /* %s twice: build the message by hand. */
    {
        sq_error err = {""};
        sq_tensor x;
        char want[2400];
        ck_assert_int_eq(sq_data_load(path, NULL, &x, NULL, &err), -1);
        snprintf(want, sizeof want, "'%s' holds 2 arrays (dense/kernel, "
                 "dense/bias); choose one with '%s:KEY'", path, path);
        ck_assert_str_eq(err.msg, want);
    }
    snprintf(spec, sizeof spec, "%s:", path);
    load_fails(spec, NULL, "'%s': no array name after ':'", path);
    load_fails(fixture("np_f4_2x3.npy"), "last",
               "label= splits only CSV files, and '%s' is a .npy file", NULL);
    load_fails(path, "0",
               "label= splits only CSV files, and '%s' is an .npz archive",
               NULL);
    snprintf(path, sizeof path, "%s", fixture("np_f4_2x3.npy"));
    snprintf(spec, sizeof spec, "%s:x", path);
    load_fails(spec, NULL, "'%s' is a .npy file; ':x' selects an array only "
               "in an .npz archive", path);
    snprintf(path, sizeof path, "%s", fixture("data_iris.csv"));
    snprintf(spec, sizeof spec, "%s:x", path);
    load_fails(spec, NULL, "'%s' is a CSV file; ':x' selects an array only "
               "in an .npz archive", path);
    snprintf(path, sizeof path, "%s", fixture("data_digits.csv.gz"));
    snprintf(spec, sizeof spec, "%s:x", path);
    load_fails(spec, NULL, "'%s' is a CSV file (gzip-compressed); ':x' "
               "selects an array only in an .npz archive", path);
    /* The npy/npz readers' messages name the file. */
    snprintf(path, sizeof path, "%s", fixture("np_err_trunc.npy"));
    snprintf(spec, sizeof spec, "'%s' is truncated", path);
    load_fails_prefix(path, spec);
    snprintf(path, sizeof path, "%s", fixture("np_err_member_trunc.npz"));
    snprintf(spec, sizeof spec, "%s:a", path);
    {
        sq_error err = {""};
        sq_tensor x;
        char want[1200];
        ck_assert_int_eq(sq_data_load(spec, NULL, &x, NULL, &err), -1);
        snprintf(want, sizeof want, "'%s' member '", path);
        ck_assert_msg(strstr(err.msg, want) == err.msg, "got '%s'", err.msg);
    }
    snprintf(path, sizeof path, "%s", fixture("np_err_magic.npy"));
    load_fails_prefix(path, "'");
}
END_TEST

/* ---- CSV variants --------------------------------------------------------- */

static const struct {
    const char *name, *text, *label;
    long rows, cols;
    float x[6], y[3];
} csvs[] = {
    /* CRLF, a BOM, blank lines, blanks around cells, quotes */
    { "crlf.csv", "\xEF\xBB\xBF" "a,b,c\r\n\r\n 1 , 2,\"3\"\r\n  \r\n4,5,6\r\n",
      "last", 2, 2, { 1, 2, 4, 5 }, { 3, 6 } },
    /* no header, no final newline */
    { "plain.csv", "1,2\n3,4", NULL, 2, 2, { 1, 2, 3, 4 }, { 0 } },
    /* numbers of every spelling strtod knows (finite ones) */
    { "num.csv", "-1.5e2,+.5,0x10\n1E-3,-0,7.\n", NULL, 2, 3,
      { -150, 0.5f, 16, 1e-3f, 0, 7 }, { 0 } },
    /* pandas' to_csv with its index column */
    { "index.csv", "idx,a,b\n0,1.5,2.5\n1,3.5,4.5\n", "0", 2, 2,
      { 1.5f, 2.5f, 3.5f, 4.5f }, { 0, 1 } },
    /* semicolons, tabs, and numpy.savetxt's blanks */
    { "semi.csv", "x;y\n1;2\n3 ; 4\n", "first", 2, 1, { 2, 4 }, { 1, 3 } },
    { "tab.tsv", "1\t2\t3\n4\t5\t6\n", "-2", 2, 2, { 1, 3, 4, 6 },
      { 2, 5 } },
    { "savetxt.txt", "1.000000000000000000e+00 2.000000000000000000e+00\n"
      "  3.0   4.0  \n", NULL, 2, 2, { 1, 2, 3, 4 }, { 0 } },
    /* one column */
    { "col.csv", "value\n1\n2\n3\n", NULL, 3, 1, { 1, 2, 3 }, { 0 } },
    /* a file name with ':' in it is still a plain path */
    { "a:b.csv", "1,2\n", "last", 1, 1, { 1 }, { 2 } },
};

START_TEST(test_csv_variants)
{
    sq_tensor x, y;
    const char *p = write_text(csvs[_i].name, csvs[_i].text);
    long dx[] = { csvs[_i].rows, csvs[_i].cols }, dy[] = { csvs[_i].rows };
    load_ok(p, csvs[_i].label, &x, csvs[_i].label ? &y : NULL);
    check_shape(&x, 2, dx);
    check_values(x.data, csvs[_i].x, (size_t)(dx[0] * dx[1]));
    sq_tensor_free(&x);
    if (csvs[_i].label) {
        check_shape(&y, 1, dy);
        check_values(y.data, csvs[_i].y, (size_t)dy[0]);
        sq_tensor_free(&y);
    }
}
END_TEST

START_TEST(test_csv_gz_members)
{
    sq_tensor x;
    static const long d[] = { 3, 3 };
    static const float v[] = { 1, 2, 3, 4, 5, 6, 7, 8, 9 };
    load_ok(fixture("data_concat.csv.gz"), NULL, &x, NULL);
    check_shape(&x, 2, d);
    check_values(x.data, v, 9);
    sq_tensor_free(&x);
}
END_TEST

/* One gzip member holding n bytes of text, appended to *gz (grown). */
static void gz_member(const char *text, size_t n, unsigned char **gz, size_t *len)
{
    z_stream zs;
    memset(&zs, 0, sizeof zs);
    ck_assert(deflateInit2(&zs, 6, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY) == Z_OK);
    size_t bound = deflateBound(&zs, n);
    *gz = realloc(*gz, *len + bound);
    ck_assert(*gz != NULL);
    zs.next_in = (unsigned char *)text;
    zs.avail_in = (uInt)n;
    zs.next_out = *gz + *len;
    zs.avail_out = (uInt)bound;
    ck_assert(deflate(&zs, Z_FINISH) == Z_STREAM_END);
    *len += bound - zs.avail_out;
    deflateEnd(&zs);
}

/* The last member's size field says 4 bytes: the buffer starts at a page and
 * grows to ~10 MiB (past the size advised for huge pages) while inflating;
 * every row survives the moves. */
START_TEST(test_gz_grows)
{
    enum { ROWS = 1500000 };
    size_t cap = (size_t)ROWS * 12, n = 0, len = 0;
    char *text = malloc(cap);
    unsigned char *gz = NULL;
    sq_tensor x;
    ck_assert(text != NULL);
    for (long i = 0; i < ROWS; i++)
        n += (size_t)snprintf(text + n, cap - n, "%ld,%ld\n", i % 1000, i % 7);
    gz_member(text, n, &gz, &len);
    gz_member("7,8\n", 4, &gz, &len);
    ck_assert(n > ((size_t)8 << 20));
    load_ok(write_tmp("grows.csv.gz", gz, len), NULL, &x, NULL);
    free(gz);
    free(text);
    ck_assert_int_eq(x.shape.rank, 2);
    ck_assert_int_eq(x.shape.d[0], ROWS + 1);
    ck_assert_int_eq(x.shape.d[1], 2);
    long bad = -1;
    for (long i = 0; i < ROWS && bad < 0; i++)
        if (x.data[2 * i] != (float)(i % 1000) || x.data[2 * i + 1] != (float)(i % 7))
            bad = i;
    ck_assert_msg(bad < 0, "row %ld is %g,%g", bad, bad < 0 ? 0.0 : (double)x.data[2 * bad],
                  bad < 0 ? 0.0 : (double)x.data[2 * bad + 1]);
    ck_assert(x.data[2 * ROWS] == 7.0f && x.data[2 * ROWS + 1] == 8.0f);
    sq_tensor_free(&x);
}
END_TEST

/* A data set read again after the last one was freed lands in the same
 * memory (already faulted in), though a model's worth of small blocks was
 * allocated in between: repeated `fit X.npy` does not fault its data in
 * each time. 20 MB of float32, the values checked. */
START_TEST(test_reread_reuses_memory)
{
    enum { N = 5000000 };
    char head[128];
    int hl = snprintf(head + 10, sizeof head - 10,
                      "{'descr': '<f4', 'fortran_order': False, 'shape': (%d,), }", N);
    memcpy(head, "\223NUMPY\001\000", 8);
    while ((10 + hl + 1) % 64)
        head[10 + hl++] = ' ';
    head[10 + hl++] = '\n';
    head[8] = (char)(hl & 0xff);
    head[9] = (char)(hl >> 8);
    size_t total = 10 + (size_t)hl + (size_t)N * 4;
    unsigned char *file = malloc(total);
    ck_assert_ptr_nonnull(file);
    memcpy(file, head, 10 + (size_t)hl);
    for (int i = 0; i < N; i++) {
        float v = (float)(i % 1000) * 0.5f;
        memcpy(file + 10 + hl + 4 * (size_t)i, &v, 4);
    }
    const char *path = write_tmp("big.npy", file, total);
    free(file);
    sq_tensor x, x2;
    load_ok(path, NULL, &x, NULL);
    float *first = x.data;
    sq_tensor_free(&x);
    ck_assert_int_eq(sq_kept_blocks(), 1);
    void *small[40];
    for (int i = 0; i < 40; i++)
        ck_assert_ptr_nonnull(small[i] = sq_malloc(100000));
    load_ok(path, NULL, &x2, NULL);
    ck_assert_int_eq(sq_kept_blocks(), 0);
    ck_assert_ptr_eq(x2.data, first);
    ck_assert_int_eq(x2.shape.d[0], N);
    for (int i = 0; i < N; i++)
        if (x2.data[i] != (float)(i % 1000) * 0.5f)
            ck_abort_msg("value %d is %g", i, (double)x2.data[i]);
    sq_tensor_free(&x2);
    for (int i = 0; i < 40; i++)
        sq_free(small[i]);
    sq_free_kept();
}
END_TEST

/* Content decides, not the name: a CSV called .npy, an IDX called .csv. */
START_TEST(test_kind_from_content)
{
    sq_tensor x;
    unsigned char *b;
    size_t n;
    static const long d[] = { 3 };
    load_ok(write_text("really-csv.npy", "1,2\n"), NULL, &x, NULL);
    ck_assert(x.shape.rank == 2 && x.data[1] == 2.0f);
    sq_tensor_free(&x);
    read_bytes(fixture("data_labels-idx1-ubyte"), &b, &n);
    load_ok(write_tmp("labels.csv", b, n), NULL, &x, NULL);
    free(b);
    check_shape(&x, 1, d);
    sq_tensor_free(&x);
}
END_TEST

START_TEST(test_csv_errors)
{
    const char *p;

    p = write_text("bad.csv", "a,b,c\n\n1,2,3\n4,abc,6\n");
    load_fails(p, "last", "%s:4: column 2: 'abc' is not a number", NULL);
    p = write_text("bad2.csv", "1,2,3\r\n4,5,6\r\n7,8,x9\r\n");
    load_fails(p, NULL, "%s:3: column 3: 'x9' is not a number", NULL);
    p = write_text("ragged.csv", "1,2,3\n4,5,6\n\n7,8\n");
    load_fails(p, NULL, "%s:4: expected 3 cells, found 2", NULL);
    p = write_text("ragged2.csv", "h1,h2\n1,2\n3,4,5\n");
    load_fails(p, "last", "%s:3: expected 2 cells, found 3", NULL);
    p = write_text("trail.csv", "1,2,\n");
    load_fails(p, NULL, "%s:1: column 3 is empty", NULL);
    /* an empty cell does not make a header: a missing value is loud */
    p = write_text("index.csv", ",0,1\n0,1.5,2.5\n");
    load_fails(p, NULL, "%s:1: column 1 is empty", NULL);
    p = write_text("hole.csv", "h,i\n1,2\n3, \n");
    load_fails(p, NULL, "%s:3: column 2 is empty", NULL);
    p = write_text("nan.csv", "1,2\n3,nan\n");
    load_fails(p, NULL, "%s:2: column 2: 'nan' is not a finite number (NaN "
               "and infinity would poison training)", NULL);
    p = write_text("inf.csv", "-inf,2\n");
    load_fails(p, NULL, "%s:1: column 1: '-inf' is not a finite number (NaN "
               "and infinity would poison training)", NULL);
    p = write_text("big.csv", "1,2\n3,1e39\n");
    load_fails(p, NULL, "%s:2: column 2: '1e39' is out of float32 range", NULL);
    p = write_text("big2.csv", "1,2\n3,1e999\n");
    load_fails(p, NULL, "%s:2: column 2: '1e999' is out of float32 range",
               NULL);
    p = write_text("long.csv", "1\n1234567890123456789012345678901234567890"
                   "1234567890x\n");
    load_fails(p, NULL, "%s:2: column 1: '1234567890123456789012345678901234"
               "567890...' is not a number", NULL);
    p = write_text("ctrl.csv", "1,2\n3,4\x01\n");
    load_fails(p, NULL, "'%s' is not a data file seqsh reads (expected .npy, "
               ".npz, IDX or CSV, possibly gzip-compressed)", NULL);
    {
        /* past the first 4 KiB, which decide text or binary */
        char text[5000] = "";
        for (int i = 0; i < 1100; i++)
            strcat(text, "1,2\n");
        strcat(text, "3,4\x01\n");
        p = write_text("ctrl2.csv", text);
        load_fails(p, NULL, "%s:1101: column 2: '4?' is not a number", NULL);
    }

    /* label= */
    p = fixture("data_iris.csv");
    load_fails(p, "5", "label=5 is out of range: '%s' has 5 columns (0 to 4, "
               "or -5 to -1)", NULL);
    load_fails(p, "-6", "label=-6 is out of range: '%s' has 5 columns (0 to "
               "4, or -5 to -1)", NULL);
    load_fails(p, "middle", "label must be 'last', 'first' or a column index "
               "(0-based, negative counts from the end), got 'middle'", NULL);
    load_fails(p, "1x", "label must be 'last', 'first' or a column index "
               "(0-based, negative counts from the end), got '1x'", NULL);
    load_fails(p, "", "label must be 'last', 'first' or a column index "
               "(0-based, negative counts from the end), got ''", NULL);
    p = write_text("one.csv", "1\n2\n");
    load_fails(p, "last", "label=last would leave no feature columns: '%s' "
               "has only 1 column", NULL);

    /* nothing to read */
    p = write_text("empty.csv", "");
    load_fails(p, NULL, "'%s' is empty", NULL);
    load_fails(p, "last", "'%s' is empty", NULL);
    p = write_text("blank.csv", "\n  \r\n\n");
    load_fails(p, NULL, "'%s' has no data (only blank lines)", NULL);
    p = write_text("header.csv", "150,4,setosa,versicolor,virginica\n\n");
    load_fails(p, "last", "'%s' has a header but no data rows", NULL);
    load_fails(tmp_path("no-such-file.csv"), NULL,
               "cannot open '%s': No such file or directory", NULL);
    p = write_tmp("binary.dat", "\x01\x02\x03\x04", 4);
    load_fails(p, NULL, "'%s' is not a data file seqsh reads (expected .npy, "
               ".npz, IDX or CSV, possibly gzip-compressed)", NULL);
    load_fails("", NULL, "no data file given", NULL);
}
END_TEST

/* ---- gzip ----------------------------------------------------------------- */

START_TEST(test_gzip_errors)
{
    unsigned char *b, *c;
    size_t n;
    const char *p;

    read_bytes(fixture("data_digits.csv.gz"), &b, &n);
    p = write_tmp("trunc.csv.gz", b, n / 2);
    load_fails(p, "last", "'%s' is truncated (gzip data ends early)", NULL);
    p = write_tmp("trunc2.csv.gz", b, 2);
    load_fails(p, NULL, "'%s' is truncated (gzip data ends early)", NULL);
    p = write_tmp("trunc3.csv.gz", b, n - 4);   /* no ISIZE */
    load_fails(p, NULL, "'%s' is truncated (gzip data ends early)", NULL);

    c = malloc(n + 8);
    ck_assert(c != NULL);
    memcpy(c, b, n);
    c[n - 8] ^= 0xff;                            /* the CRC-32 */
    p = write_tmp("crc.csv.gz", c, n);
    load_fails(p, NULL, "'%s': corrupt gzip data (incorrect data check)", NULL);
    memcpy(c, b, n);
    c[3] = 0xe0;                                 /* reserved flag bits */
    p = write_tmp("flags.csv.gz", c, n);
    load_fails_prefix(p, "'");
    memcpy(c, b, n);
    memcpy(c + n, "junk\0\0\0\0", 8);
    p = write_tmp("junk.csv.gz", c, n + 8);
    load_fails(p, NULL, "'%s': junk after the gzip data (at byte 57512)", NULL);
    memset(c + n, 0, 8);                         /* zero padding is fine */
    p = write_tmp("pad.csv.gz", c, n + 8);
    {
        sq_tensor x;
        load_ok(p, NULL, &x, NULL);
        ck_assert(x.shape.rank == 2 && x.shape.d[0] == 1797 &&
                  x.shape.d[1] == 65);
        sq_tensor_free(&x);
    }
    free(c);
    free(b);

    /* gzip inside gzip, and an empty gzip file */
    read_bytes(fixture("data_f4.npy.gz"), &b, &n);
    {
        gzFile g = gzopen(tmp_path("twice.gz"), "wb");
        ck_assert(g != NULL);
        ck_assert_int_eq(gzwrite(g, b, (unsigned)n), (int)n);
        ck_assert_int_eq(gzclose(g), Z_OK);
        load_fails(tmp_path("twice.gz"), NULL, "'%s' is gzip-compressed "
                   "twice; decompress it once first", NULL);
        g = gzopen(tmp_path("empty.gz"), "wb");
        ck_assert(g != NULL);
        ck_assert_int_eq(gzclose(g), Z_OK);
        load_fails(tmp_path("empty.gz"), NULL, "'%s' is empty (after "
                   "decompression)", NULL);
    }
    free(b);
    /* A gzip-compressed bad CSV still reports its line. */
    {
        gzFile g = gzopen(tmp_path("bad.csv.gz"), "wb");
        ck_assert(g != NULL);
        ck_assert(gzputs(g, "1,2\n3,?\n") > 0);
        ck_assert_int_eq(gzclose(g), Z_OK);
        load_fails(tmp_path("bad.csv.gz"), NULL,
                   "%s:2: column 2: '?' is not a number", NULL);
    }
}
END_TEST

/* Every prefix and some corruptions of small files fail cleanly or load. */
START_TEST(test_prefixes)
{
    static const char *const files[] = {
        "data_images-idx3-ubyte", "data_images-idx3-ubyte.gz",
        "data_f4.npy.gz", "data_concat.csv.gz", "data_one.npz",
    };
    for (size_t f = 0; f < sizeof files / sizeof files[0]; f++) {
        unsigned char *b;
        size_t n;
        read_bytes(fixture(files[f]), &b, &n);
        for (size_t i = 0; i <= n; i++) {
            sq_error err = {""};
            sq_tensor x;
            const char *p = write_tmp("prefix", b, i);
            if (sq_data_load(p, NULL, &x, NULL, &err) == 0)
                sq_tensor_free(&x);
            else
                ck_assert_msg(strstr(err.msg, p) != NULL,
                              "message does not name the file: %s", err.msg);
        }
        for (size_t i = 0; i < n; i++) {
            sq_error err = {""};
            sq_tensor x;
            unsigned char old = b[i];
            b[i] ^= 0x5a;
            const char *p = write_tmp("flipped", b, n);
            if (sq_data_load(p, NULL, &x, NULL, &err) == 0)
                sq_tensor_free(&x);
            else
                ck_assert_msg(strstr(err.msg, p) != NULL,
                              "message does not name the file: %s", err.msg);
            b[i] = old;
        }
        free(b);
    }
}
END_TEST

/* ---- row selection -------------------------------------------------------- */

/* Each selection with the rows it must give, written out by hand. */
static const struct {
    const char *sel;
    int n;
    long rows[8];
} iris_sels[] = {
    { "[3]", 1, { 3 } },
    { "[-1]", 1, { 149 } },
    { "[0:3]", 3, { 0, 1, 2 } },
    { "[:2]", 2, { 0, 1 } },
    { "[-2:]", 2, { 148, 149 } },
    { "[::50]", 3, { 0, 50, 100 } },
    { "[::-50]", 3, { 149, 99, 49 } },
    { "[10:4:-3]", 2, { 10, 7 } },
    { "[145:1000]", 5, { 145, 146, 147, 148, 149 } },
    { "[-1000:2]", 2, { 0, 1 } },
    { "[ 1 : 7 : 3 ]", 2, { 1, 4 } },
    { "[149:]", 1, { 149 } },
};

START_TEST(test_row_selection)
{
    sq_tensor all_x, all_y, x, y;
    char spec[1200];
    load_ok(fixture("data_iris.csv"), "last", &all_x, &all_y);
    snprintf(spec, sizeof spec, "%s%s", fixture("data_iris.csv"), iris_sels[_i].sel);
    load_ok(spec, "last", &x, &y);
    long dx[] = { iris_sels[_i].n, 4 }, dy[] = { iris_sels[_i].n };
    check_shape(&x, 2, dx);
    check_shape(&y, 1, dy);
    for (int r = 0; r < iris_sels[_i].n; r++) {
        long k = iris_sels[_i].rows[r];
        check_values(x.data + 4 * r, all_x.data + 4 * k, 4);
        ck_assert(y.data[r] == all_y.data[k]);
    }
    sq_tensor_free(&x);
    sq_tensor_free(&y);
    /* without a label, the same rows of all five columns */
    load_ok(spec, NULL, &x, NULL);
    ck_assert_int_eq(x.shape.d[0], iris_sels[_i].n);
    ck_assert_int_eq(x.shape.d[1], 5);
    for (int r = 0; r < iris_sels[_i].n; r++) {
        long k = iris_sels[_i].rows[r];
        check_values(x.data + 5 * r, all_x.data + 4 * k, 4);
        ck_assert(x.data[5 * r + 4] == all_y.data[k]);
    }
    sq_tensor_free(&x);
    sq_tensor_free(&all_x);
    sq_tensor_free(&all_y);
}
END_TEST

START_TEST(test_row_selection_kinds)
{
    sq_tensor x;
    char spec[1200];
    static const long d13[] = { 1, 3 };
    /* a gzip-compressed .npy, an .npz member, an IDX file */
    snprintf(spec, sizeof spec, "%s[1]", fixture("data_f4.npy.gz"));
    load_ok(spec, NULL, &x, NULL);
    check_shape(&x, 2, d13);
    check_values(x.data, (const float[]){ 0.5f, 1.0f, 1.5f }, 3);
    sq_tensor_free(&x);
    snprintf(spec, sizeof spec, "%s:dense/kernel[-1:]", fixture("np_savez.npz"));
    load_ok(spec, NULL, &x, NULL);
    check_shape(&x, 2, d13);
    sq_tensor_free(&x);
    snprintf(spec, sizeof spec, "%s[2:0:-2]", fixture("data_images-idx3-ubyte"));
    load_ok(spec, NULL, &x, NULL);
    ck_assert_int_eq(x.shape.rank, 3);
    ck_assert_int_eq(x.shape.d[0], 1);
    check_values(x.data, (const float[]){ 5, 6, 7, 8 }, 4);
    sq_tensor_free(&x);
    /* a file whose name ends in brackets is that file */
    unsigned char *b;
    size_t n;
    read_bytes(fixture("data_f4.npy.gz"), &b, &n);
    const char *p = write_tmp("odd[0]", b, n);
    free(b);
    load_ok(p, NULL, &x, NULL);
    ck_assert_int_eq(x.shape.d[0], 2);
    sq_tensor_free(&x);
    snprintf(spec, sizeof spec, "%s[1:]", p);
    load_ok(spec, NULL, &x, NULL);
    check_shape(&x, 2, d13);
    sq_tensor_free(&x);
}
END_TEST

START_TEST(test_row_selection_errors)
{
    char spec[1200], path[1100];
    snprintf(path, sizeof path, "%s", fixture("data_iris.csv"));
    static const struct { const char *sel, *msg; } bad[] = {
        { "[150]", "'%s': index 150 is out of bounds for axis 0 with size 150" },
        { "[-151]", "'%s': index -151 is out of bounds for axis 0 with size 150" },
        { "[5:2]", "'%s' selects no rows (there are 150)" },
        { "[::0]", "'%s': slice step cannot be zero" },
        { "[a]", "'%s': bad row selection [a] (expected one row or a slice of rows: [3], "
                 "[-1], [0:10], [100:], [::2])" },
        { "[]", "'%s': bad row selection [] (expected one row or a slice of rows: [3], "
                "[-1], [0:10], [100:], [::2])" },
        { "[1,2]", "'%s': bad row selection [1,2] (expected one row or a slice of rows: "
                   "[3], [-1], [0:10], [100:], [::2])" },
        { "[1:2:3:4]", "'%s': bad row selection [1:2:3:4] (expected one row or a slice of "
                       "rows: [3], [-1], [0:10], [100:], [::2])" },
        { "[0:99999999999999999999]", "'%s': bad row selection [0:99999999999999999999] "
          "(expected one row or a slice of rows: [3], [-1], [0:10], [100:], [::2])" },
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        snprintf(spec, sizeof spec, "%s%s", path, bad[i].sel);
        load_fails(spec, "last", bad[i].msg, spec);
        load_fails(spec, NULL, bad[i].msg, spec);
    }
    snprintf(spec, sizeof spec, "%s[0]", fixture("np_scalar.npy"));
    load_fails(spec, NULL, "'%s': a row selection needs rows, and the data is a scalar", spec);
    /* the file part is still checked as before */
    snprintf(spec, sizeof spec, "%s/none.csv[0:2]", tmpdir);
    load_fails_prefix(spec, "cannot open");
}
END_TEST

/* ---- issue 18: interrupts, the memory limit, FIFOs ------------------------ */

static volatile int stop;

/* A session whose interrupt flag is `stop`: the readers poll it. */
static sq_session *watching(void)
{
    sq_session *s = sq_session_new();
    ck_assert_ptr_nonnull(s);
    stop = 0;
    sq_set_interrupt_flag(s, &stop);
    return s;
}

/* Every reader stops at its first poll: the file, the gzip stream, and
 * each parser on its own (npy, npz, IDX, CSV), so that none of them can
 * run to its end once interrupted. */
START_TEST(test_every_reader_polls)
{
    static const char *files[] = {
        "data_iris.csv", "data_digits.csv.gz", "np_f4_2x3.npy", "np_savez.npz:dense/bias",
        "np_savez_compressed.npz:a", "data_images-idx3-ubyte", "data_images-idx3-ubyte.gz",
    };
    sq_session *s = watching();
    stop = 1;
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        char spec[1100];
        snprintf(spec, sizeof spec, "%s", fixture(files[i]));
        load_fails(spec, NULL, "Interrupted", NULL);
    }
    /* the parsers, given what a whole-file read would have given them */
    static const char *mems[] = { "np_f4_2x3.npy", "np_savez_compressed.npz",
                                  "data_images-idx3-ubyte", "data_iris.csv" };
    for (size_t i = 0; i < sizeof mems / sizeof mems[0]; i++) {
        unsigned char *b;
        size_t n;
        stop = 0;
        read_bytes(fixture(mems[i]), &b, &n);
        stop = 1;
        sq_error err = {""};
        sq_tensor t = { { 0, { 0 } }, NULL }, y = t;
        npz_entry *e = NULL;
        int ne = 0, rc;
        label_spec ls = { LABEL_NONE, 0, NULL };
        switch (i) {
        case 0: rc = npy_read_mem(b, n, &t, &err); break;
        case 1: rc = npz_read_mem(b, n, &e, &ne, &err); break;
        case 2: rc = sq_idx_parse(b, n, "'f'", &t, &err); break;
        default: rc = sq_csv_parse(b, n, "f", "'f'", &ls, &t, &y, &err); break;
        }
        ck_assert_msg(rc == -1 && !strcmp(err.msg, "Interrupted"), "%s: %d %s", mems[i], rc,
                      err.msg);
        ck_assert(t.data == NULL && e == NULL);
        free(b);
    }
    sq_session_free(s);
}
END_TEST

/* A gzip file of `copies` members, each 16 MiB of "0,0,0,0,0,0,0\n". */
static const char *gzip_bomb(const char *name, int copies)
{
    static const char row[] = "0,0,0,0,0,0,0\n";
    size_t plain = (size_t)16 << 20;
    char *text = malloc(plain);
    ck_assert_ptr_nonnull(text);
    for (size_t i = 0; i < plain; i++)
        text[i] = row[i % (sizeof row - 1)];
    z_stream z;
    memset(&z, 0, sizeof z);
    ck_assert_int_eq(deflateInit2(&z, 9, Z_DEFLATED, 31, 9, Z_DEFAULT_STRATEGY), Z_OK);
    size_t cap = deflateBound(&z, (uLong)plain);
    unsigned char *gz = malloc(cap);
    ck_assert_ptr_nonnull(gz);
    z.next_in = (unsigned char *)text;
    z.avail_in = (uInt)plain;
    z.next_out = gz;
    z.avail_out = (uInt)cap;
    ck_assert_int_eq(deflate(&z, Z_FINISH), Z_STREAM_END);
    size_t len = cap - z.avail_out;
    deflateEnd(&z);
    const char *p = tmp_path(name);
    FILE *f = fopen(p, "wb");
    ck_assert_ptr_nonnull(f);
    for (int i = 0; i < copies; i++)
        ck_assert(fwrite(gz, 1, len, f) == len);
    ck_assert(fclose(f) == 0);
    free(gz);
    free(text);
    return p;
}

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static void *interrupt_later(void *arg)
{
    (void)arg;
    struct timespec d = { 0, 200 * 1000 * 1000 };
    nanosleep(&d, NULL);
    stop = 1;
    return NULL;
}

/* Inflating 1 GiB stops within a second of the interrupt (it used to run
 * to its end: tens of seconds for a bomb). */
START_TEST(test_interrupt_stops_inflating)
{
    char spec[1100];
    snprintf(spec, sizeof spec, "%s", gzip_bomb("bomb.csv.gz", 64));
    size_t was = sq_get_memory_limit();
    sq_set_memory_limit((size_t)64 << 30);
    sq_session *s = watching();
    pthread_t th;
    ck_assert_int_eq(pthread_create(&th, NULL, interrupt_later, NULL), 0);
    double t0 = now();
    load_fails(spec, NULL, "Interrupted", NULL);
    double took = now() - t0;
    pthread_join(th, NULL);
    sq_set_memory_limit(was);
    sq_session_free(s);
    ck_assert_msg(took < 1.2, "took %.2f s", took);
}
END_TEST

/* The memory limit covers reading: declared sizes, inflated sizes and
 * every reader's output are refused as soon as they pass it. */
START_TEST(test_memory_limit_covers_reading)
{
    size_t was = sq_get_memory_limit();
    sq_set_memory_limit((size_t)1 << 20);
    char spec[1100];
    /* gzip: stopped once 1 MiB is inflated */
    snprintf(spec, sizeof spec, "%s", gzip_bomb("small_bomb.csv.gz", 1));
    load_fails(spec, NULL, "'%s' decompresses to more than the memory limit of 1.0 MiB "
               "(change it with 'set memory_limit=SIZE')", NULL);
    /* a file bigger than the limit is not read */
    static char zeros[(1 << 20) + 1000];
    snprintf(spec, sizeof spec, "%s", write_tmp("big.csv", zeros, sizeof zeros));
    load_fails(spec, NULL, "reading '%s' would need 1.0 MiB of memory, more than the memory "
               "limit of 1.0 MiB (change it with 'set memory_limit=SIZE')", NULL);
    /* a deflated .npz member declaring 2 MiB, from a 2 KiB file */
    snprintf(spec, sizeof spec, "%s", fixture("np_big_deflated.npz"));
    load_fails(spec, NULL, "reading '%s' member 'a.npy' would need 2.0 MiB of memory, more "
               "than the memory limit of 1.0 MiB (change it with 'set memory_limit=SIZE')",
               NULL);
    /* three members of 512 KiB: together too much */
    snprintf(spec, sizeof spec, "%s:c", fixture("np_three.npz"));
    load_fails(spec, NULL, "reading '%s' member 'b.npy' would need 1.0 MiB of memory, more "
               "than the memory limit of 1.0 MiB (change it with 'set memory_limit=SIZE')",
               fixture("np_three.npz"));
    /* outputs four times the file: IDX bytes and CSV digits become floats */
    static unsigned char idx[4 + 4 + 400000];
    memcpy(idx, "\0\0\x08\x01\x00\x06\x1a\x80", 8);   /* 400000 ubytes */
    snprintf(spec, sizeof spec, "%s", write_tmp("big-idx1-ubyte", idx, sizeof idx));
    load_fails(spec, NULL, "reading '%s' would need 1.5 MiB of memory, more than the memory "
               "limit of 1.0 MiB (change it with 'set memory_limit=SIZE')", NULL);
    static char csv[2 * 300000];
    for (size_t i = 0; i < sizeof csv; i += 2)
        memcpy(csv + i, "1\n", 2);
    snprintf(spec, sizeof spec, "%s", write_tmp("tall.csv", csv, sizeof csv));
    load_fails(spec, NULL, "reading '%s' would need 1.1 MiB of memory, more than the memory "
               "limit of 1.0 MiB (change it with 'set memory_limit=SIZE')", NULL);
    /* a .npy of 2 MiB of float64 zeros in 1 MiB... is refused as a file */
    sq_set_memory_limit(was);
}
END_TEST

/* A FIFO is read once its writer comes, as sh does; it is not an empty
 * file. */
START_TEST(test_fifo_waits_for_its_writer)
{
    const char *p = tmp_path("data.fifo");
    char path[1100];
    snprintf(path, sizeof path, "%s", p);
    ck_assert_int_eq(mkfifo(path, 0600), 0);
    pid_t pid = fork();
    ck_assert(pid >= 0);
    if (pid == 0) {
        struct timespec d = { 0, 200 * 1000 * 1000 };
        nanosleep(&d, NULL);
        FILE *f = fopen(path, "w");
        if (f) {
            fputs("1,2\n3,4\n", f);
            fclose(f);
        }
        _exit(0);
    }
    sq_tensor x;
    load_ok(path, NULL, &x, NULL);
    long d[2] = { 2, 2 };
    float want[4] = { 1, 2, 3, 4 };
    check_shape(&x, 2, d);
    check_values(x.data, want, 4);
    free(x.data);
    int status;
    waitpid(pid, &status, 0);
    /* no writer at all: an interrupt ends the wait */
    sq_session *s = watching();
    pthread_t th;
    ck_assert_int_eq(pthread_create(&th, NULL, interrupt_later, NULL), 0);
    load_fails(path, NULL, "Interrupted", NULL);
    pthread_join(th, NULL);
    sq_session_free(s);
    unlink(path);
}
END_TEST

static Suite *data_suite(void)
{
    Suite *s = suite_create("data");
    TCase *tc = tcase_create("sets");
    tcase_add_test(tc, test_iris_label_last);
    tcase_add_loop_test(tc, test_iris_label_columns, 0,
                        sizeof iris_labels / sizeof iris_labels[0]);
    tcase_add_test(tc, test_iris_no_label);
    tcase_add_test(tc, test_digits_gz);
    tcase_set_timeout(tc, 60);   /* under valgrind */
    suite_add_tcase(s, tc);

    tc = tcase_create("idx");
    tcase_add_loop_test(tc, test_idx, 0, sizeof idx_files / sizeof idx_files[0]);
    tcase_add_test(tc, test_idx_errors);
    tcase_add_test(tc, test_idx_empty_dim);
    suite_add_tcase(s, tc);

    tc = tcase_create("npy");
    tcase_add_test(tc, test_npy_npz);
    tcase_add_test(tc, test_npy_npz_errors);
    suite_add_tcase(s, tc);

    tc = tcase_create("csv");
    tcase_add_loop_test(tc, test_csv_variants, 0, sizeof csvs / sizeof csvs[0]);
    tcase_add_test(tc, test_csv_gz_members);
    tcase_add_test(tc, test_gz_grows);
    tcase_add_test(tc, test_reread_reuses_memory);
    tcase_add_test(tc, test_kind_from_content);
    tcase_add_test(tc, test_csv_errors);
    suite_add_tcase(s, tc);

    tc = tcase_create("rows");
    tcase_add_loop_test(tc, test_row_selection, 0, sizeof iris_sels / sizeof iris_sels[0]);
    tcase_add_test(tc, test_row_selection_kinds);
    tcase_add_test(tc, test_row_selection_errors);
    suite_add_tcase(s, tc);

    tc = tcase_create("gzip");
    tcase_add_test(tc, test_gzip_errors);
    tcase_add_test(tc, test_prefixes);
    tcase_set_timeout(tc, 60);   /* under valgrind */
    suite_add_tcase(s, tc);

    tc = tcase_create("faults");
    tcase_add_test(tc, test_every_reader_polls);
    tcase_add_test(tc, test_interrupt_stops_inflating);
    tcase_add_test(tc, test_memory_limit_covers_reading);
    tcase_add_test(tc, test_fifo_waits_for_its_writer);
    tcase_set_timeout(tc, 60);
    suite_add_tcase(s, tc);
    return s;
}

/* Removes the scratch folder and whatever a failed test left in it. */
static void remove_tmpdir(void)
{
    DIR *d = opendir(tmpdir);
    if (d) {
        struct dirent *e;
        char p[1024];
        while ((e = readdir(d)) != NULL) {
            if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
                continue;
            snprintf(p, sizeof p, "%s/%s", tmpdir, e->d_name);
            if (unlink(p) != 0)
                rmdir(p);
        }
        closedir(d);
    }
    rmdir(tmpdir);
}

int main(void)
{
    const char *t = getenv("TMPDIR");
    snprintf(tmpdir, sizeof tmpdir, "%s/check_data.XXXXXX",
             t && *t ? t : "/tmp");
    if (!mkdtemp(tmpdir)) {
        fprintf(stderr, "check_data: cannot create %s: %s\n", tmpdir,
                strerror(errno));
        return EXIT_FAILURE;
    }
    SRunner *sr = srunner_create(data_suite());
    srunner_run_all(sr, CK_ENV);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    remove_tmpdir();
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
