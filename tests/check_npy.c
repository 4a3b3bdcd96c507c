/* check_npy.c - tests for engine/npy.c: reading what numpy writes (fixtures
 * made by tests/fixtures/make_np_fixtures.py), writing what numpy writes
 * byte for byte, and failing cleanly on bad, truncated or lying files. */
#define _DEFAULT_SOURCE   /* mknod, makedev */
#include <check.h>
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>
#include "io/npy.h"
#include "base/base.h"
#include "seqsh/engine.h"

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

/* TMPDIR/NAME in this run's private folder. */
static const char *tmp_path(char *buf, size_t n, const char *name)
{
    snprintf(buf, n, "%s/%s", tmpdir, name);
    return buf;
}

static void load_ok(const char *name, sq_tensor *t)
{
    sq_error err = {""};
    int rc = npy_read_file(fixture(name), t, &err);
    ck_assert_msg(rc == 0, "%s: %s", name, err.msg);
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

/* A version 1.0 .npy image with header text `dict` and `ndata` data bytes
 * (0, 1, 2, ...); the header is not padded, which readers must accept. */
static unsigned char *mk_npy(const char *dict, size_t ndata, size_t *len)
{
    size_t hl = strlen(dict) + 1;
    unsigned char *b = malloc(10 + hl + ndata + 1);
    ck_assert(b != NULL);
    memcpy(b, "\x93NUMPY\x01\x00", 8);
    b[8] = (unsigned char)(hl & 0xff);
    b[9] = (unsigned char)(hl >> 8);
    memcpy(b + 10, dict, hl - 1);
    b[10 + hl - 1] = '\n';
    for (size_t i = 0; i < ndata; i++)
        b[10 + hl + i] = (unsigned char)i;
    *len = 10 + hl + ndata;
    return b;
}

static uint32_t get32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
           (uint32_t)p[3] << 24;
}

static void put32(unsigned char *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

/* ---- reading .npy ------------------------------------------------------ */

START_TEST(test_f4_2x3)
{
    sq_tensor t;
    static const long d[] = { 2, 3 };
    static const float want[] = { -1.0f, -0.5f, 0.0f, 0.5f, 1.0f, 1.5f };
    load_ok("np_f4_2x3.npy", &t);
    check_shape(&t, 2, d);
    check_values(t.data, want, 6);
    free(t.data);
}
END_TEST

static const struct {
    const char *file;
    int rank;
    long d[SQ_MAX_RANK];
    int n;
    float v[24];
} kinds[] = {
    { "np_f8.npy", 1, { 3 }, 3, { 1.5f, -2.25f, 3.0e10f } },
    { "np_f8_be.npy", 1, { 2 }, 2, { 1.5f, -2.25f } },
    { "np_i1.npy", 1, { 3 }, 3, { -128, 0, 127 } },
    { "np_i2.npy", 1, { 3 }, 3, { -300, 0, 32767 } },
    { "np_i4.npy", 2, { 2, 2 }, 4, { -3, 0, 7, 65536 } },
    { "np_i4_be.npy", 1, { 2 }, 2, { -3, 70000 } },
    { "np_i8.npy", 1, { 2 }, 2, { -5, 1099511627776.0f } },
    { "np_u1.npy", 1, { 3 }, 3, { 0, 1, 255 } },
    { "np_u2.npy", 1, { 2 }, 2, { 0, 65535 } },
    { "np_u4.npy", 1, { 2 }, 2, { 0, 4000000000.0f } },
    { "np_u8.npy", 1, { 2 }, 2, { 0, 1125899906842624.0f } },
    { "np_b1.npy", 1, { 3 }, 3, { 1, 0, 1 } },
    { "np_f4_be.npy", 1, { 3 }, 3, { 1.0f, -2.5f, 3.25f } },
    { "np_fortran.npy", 2, { 2, 3 }, 6, { 0, 1, 2, 3, 4, 5 } },
    { "np_fortran3.npy", 3, { 2, 3, 4 }, 24,
      { 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19,
        20, 21, 22, 23 } },
    { "np_scalar.npy", 0, { 0 }, 1, { 7.5f } },
    { "np_1d.npy", 1, { 4 }, 4, { 0, 1, 2, 3 } },
    { "np_rank5.npy", 5, { 2, 1, 3, 1, 2 }, 12,
      { 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11 } },
    { "np_v2.npy", 2, { 2, 2 }, 4, { 0, 1, 2, 3 } },
    { "np_v3.npy", 1, { 3 }, 3, { 0, 1, 2 } },
};

START_TEST(test_kinds)
{
    sq_tensor t;
    load_ok(kinds[_i].file, &t);
    check_shape(&t, kinds[_i].rank, kinds[_i].d);
    check_values(t.data, kinds[_i].v, (size_t)kinds[_i].n);
    free(t.data);
}
END_TEST

/* A file is read straight into the tensor a piece at a time: every dtype
 * and order gives the same values whatever the piece size (a few values,
 * pieces that split a Fortran walk, one piece for everything). */
START_TEST(test_kinds_in_pieces)
{
    static const size_t pieces[] = { 16, 24, 40, 4096 };
    for (size_t p = 0; p < sizeof pieces / sizeof pieces[0]; p++) {
        sq_tensor t;
        sq_error err = {""};
        struct stat st;
        int fd = open(fixture(kinds[_i].file), O_RDONLY);
        ck_assert_int_ge(fd, 0);
        ck_assert_int_eq(fstat(fd, &st), 0);
        int rc = npy_read_fd(fd, (size_t)st.st_size, "x", pieces[p], &t, &err);
        close(fd);
        ck_assert_msg(rc == 0, "%s, pieces of %zu: %s", kinds[_i].file, pieces[p], err.msg);
        check_shape(&t, kinds[_i].rank, kinds[_i].d);
        check_values(t.data, kinds[_i].v, (size_t)kinds[_i].n);
        free(t.data);
    }
}
END_TEST

/* A file that ends before the size it had when it was opened (another
 * program cut it) is an error, nothing is returned. */
START_TEST(test_file_shrinks)
{
    sq_tensor t = { .data = NULL };
    sq_error err = {""};
    char path[600];
    tmp_path(path, sizeof path, "grown.npy");
    FILE *f = fopen(path, "wb");
    ck_assert(f != NULL);
    /* 24 float32 values: the header says 96 bytes, the file has 80, and
     * the reader is told the file had 16 more when it was opened */
    size_t hl;
    unsigned char *m = mk_npy("{'descr': '<f4', 'fortran_order': False, 'shape': (24,), }",
                              80, &hl);
    ck_assert_uint_eq(fwrite(m, 1, hl, f), hl);
    fclose(f);
    free(m);
    int fd = open(path, O_RDONLY);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(npy_read_fd(fd, hl + 16, "'g'", 16, &t, &err), -1);
    close(fd);
    ck_assert_str_eq(err.msg, "'g' is truncated: it ended while being read");
    ck_assert(t.data == NULL);
}
END_TEST

/* A read of many pieces shared by 2 and 3 threads: every value in its
 * place; a file cut short is the same error as on one thread; a read
 * asked to stop before it starts stops. */
START_TEST(test_read_shared)
{
    enum { N = 10000 };
    char hdr[128];
    snprintf(hdr, sizeof hdr, "{'descr': '<f4', 'fortran_order': False, 'shape': (%d,), }", N);
    size_t hl;
    unsigned char *m = mk_npy(hdr, N * 4, &hl);
    size_t head = hl - N * 4;
    for (int i = 0; i < N; i++) {
        float v = (float)i * 0.25f - 7.0f;
        memcpy(m + head + 4 * (size_t)i, &v, 4);
    }
    char path[600];
    tmp_path(path, sizeof path, "shared.npy");
    FILE *f = fopen(path, "wb");
    ck_assert(f != NULL);
    ck_assert_uint_eq(fwrite(m, 1, hl, f), hl);
    fclose(f);
    char cut[600];
    tmp_path(cut, sizeof cut, "cut.npy");
    f = fopen(cut, "wb");
    ck_assert(f != NULL);
    ck_assert_uint_eq(fwrite(m, 1, hl - 4000, f), hl - 4000);
    fclose(f);
    free(m);
    for (int th = 2; th <= 3; th++) {
        sq_set_threads(th);
        sq_tensor t = { .data = NULL };
        sq_error err = {""};
        int fd = open(path, O_RDONLY);
        ck_assert_int_ge(fd, 0);
        ck_assert_msg(npy_read_fd(fd, hl, "'s'", 64, &t, &err) == 0, "%s", err.msg);
        ck_assert_int_eq(t.shape.d[0], N);
        for (int i = 0; i < N; i++)
            if (t.data[i] != (float)i * 0.25f - 7.0f)
                ck_abort_msg("threads %d: value %d is %g", th, i, (double)t.data[i]);
        free(t.data);
        t.data = NULL;
        /* cut 4000 bytes short after it was opened */
        int fc = open(cut, O_RDONLY);
        ck_assert_int_ge(fc, 0);
        ck_assert_int_eq(npy_read_fd(fc, hl, "'s'", 64, &t, &err), -1);
        close(fc);
        ck_assert_str_eq(err.msg, "'s' is truncated: it ended while being read");
        ck_assert(t.data == NULL);
        volatile int stop = 1;
        sq_interrupt_watch(&stop);
        ck_assert_int_eq(npy_read_fd(fd, hl, "'s'", 64, &t, &err), -1);
        sq_interrupt_watch(NULL);
        ck_assert_str_eq(err.msg, "Interrupted");
        ck_assert(t.data == NULL);
        close(fd);
    }
    sq_set_threads(1);
}
END_TEST

START_TEST(test_zero_size)
{
    sq_tensor t;
    static const long d[] = { 0, 3 };
    load_ok("np_zero.npy", &t);
    check_shape(&t, 2, d);
    free(t.data);
}
END_TEST

/* Header dicts numpy's literal_eval would accept, however they are spaced. */
static const char *good_headers[] = {
    "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }",
    "{'shape': (2, 3), 'fortran_order': False, 'descr': '<f4'}",
    "{'fortran_order':False,'shape':(2,3),'descr':'<f4',}",
    ("  {  \"descr\" : \"<f4\" ,\n 'fortran_order' : False , "
     "'shape' : ( 2 , 3 , ) , }  \n  "),
    "{'descr': '=f4', 'fortran_order': False, 'shape': (2L, 3L)}",
    "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3)}\t\r",
};

START_TEST(test_header_variants)
{
    size_t len;
    unsigned char *b = mk_npy(good_headers[_i], 24, &len);
    sq_tensor t;
    sq_error err = {""};
    static const long d[] = { 2, 3 };
    ck_assert_msg(npy_read_mem(b, len, &t, &err) == 0, "%s: %s",
                  good_headers[_i], err.msg);
    check_shape(&t, 2, d);
    free(t.data);
    free(b);
}
END_TEST

START_TEST(test_header_shapes)
{
    static const struct { const char *shape; int rank; long n; } c[] = {
        { "()", 0, 1 }, { "(3,)", 1, 3 }, { "(0,)", 1, 0 },
        { "(1, 1, 1, 1, 1)", 5, 1 }, { "(4, 0, 4294967296)", 3, 0 },
    };
    for (size_t i = 0; i < sizeof c / sizeof c[0]; i++) {
        char dict[200];
        size_t len;
        sq_tensor t;
        sq_error err = {""};
        snprintf(dict, sizeof dict, "{'descr': '|u1', 'fortran_order': True, "
                 "'shape': %s, }", c[i].shape);
        unsigned char *b = mk_npy(dict, (size_t)c[i].n, &len);
        ck_assert_msg(npy_read_mem(b, len, &t, &err) == 0, "%s: %s",
                      c[i].shape, err.msg);
        ck_assert_int_eq(t.shape.rank, c[i].rank);
        ck_assert(t.data != NULL);
        if (c[i].n == 3)
            ck_assert(t.data[2] == 2.0f);
        free(t.data);
        free(b);
    }
}
END_TEST

static const struct { const char *dict; const char *msg; } bad_headers[] = {
    { "{'descr': '<c8', 'fortran_order': False, 'shape': (1,), }",
      "input: unsupported dtype '<c8'" },
    { "{'descr': '<f2', 'fortran_order': False, 'shape': (1,), }",
      "input: unsupported dtype '<f2'" },
    { "{'descr': '|O', 'fortran_order': False, 'shape': (1,), }",
      "input: unsupported dtype '|O'" },
    { "{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (1,), }",
      "input: unsupported dtype (structured arrays are not supported)" },
    { "{'descr': '<f4', 'fortran_order': False, 'shape': (1, 1, 1, 1, 1, 1), }",
      "input: arrays of rank 6 are not supported (at most 5 dimensions)" },
    { "{'descr': '<f4', 'fortran_order': False, 'shape': (2, -3), }",
      "input: negative dimension -3 in shape" },
    { "{'descr': '<f4', 'fortran_order': False, }",
      "input: .npy header lacks 'shape'" },
    { "{'descr': '<f4', 'shape': (1,), }",
      "input: .npy header lacks 'fortran_order'" },
    { "{'fortran_order': False, 'shape': (1,), }",
      "input: .npy header lacks 'descr'" },
    { "{'descr': '<f4', 'fortran_order': False, 'shape': (1,), 'x': 1}",
      "input: unexpected key 'x' in .npy header" },
    { "{'descr': '<f4', 'fortran_order': 0, 'shape': (1,), }",
      "input: malformed .npy header (bad fortran_order)" },
    { "{'descr': '<f4', 'fortran_order': False, 'shape': [1], }",
      "input: malformed .npy header (shape is not a tuple)" },
    { "{'descr': '<f4', 'fortran_order': False, 'shape': (1 2), }",
      "input: malformed .npy header (bad shape)" },
    { "{'descr': '<f4', 'fortran_order': False, 'shape': (1,) }x",
      "input: malformed .npy header (junk after the dictionary)" },
    { "{'descr': '<f4', 'fortran_order': False, 'shape': (1,)",
      "input: malformed .npy header (expected ',' or '}')" },
    { "['descr']", "input: malformed .npy header (no dictionary)" },
    { "{'descr': '<f4', 'fortran_order': False, "
      "'shape': (99999999999999999999999,), }",
      "input: shape is too large" },
    { "{'descr': '<f4', 'fortran_order': False, "
      "'shape': (4294967296, 4294967296, 4294967296), }",
      "input: shape is too large" },
    { "{'descr': '<f4', 'fortran_order': False, 'shape': (1000000000000,), }",
      "input is truncated: header says 4000000000000 bytes of data, file has "
      "8" },
    /* every shape is checked as a layer's: an empty array may not carry a
     * dimension that one flatten would overflow */
    { "{'descr': '<f4', 'fortran_order': False, 'shape': (0, 4294967297), }",
      "input: dimension 4294967297 is out of range (0 to 2^32)" },
    { "{'descr': '<f4', 'fortran_order': False, "
      "'shape': (0, 4294967295, 4294967295), }",
      "input: 0 x 4294967295 x 4294967295 is too large (a shape holds at most 2^53 values)" },
};

START_TEST(test_header_errors)
{
    size_t len;
    unsigned char *b = mk_npy(bad_headers[_i].dict, 8, &len);
    sq_tensor t = { { 0, { 0 } }, NULL };
    sq_error err = {""};
    ck_assert_int_eq(npy_read_mem(b, len, &t, &err), -1);
    ck_assert_str_eq(err.msg, bad_headers[_i].msg);
    ck_assert(t.data == NULL);      /* *out untouched on failure */
    free(b);
}
END_TEST

START_TEST(test_prefix_errors)
{
    sq_tensor t;
    sq_error err;
    unsigned char b[16] = "\x93NUMPY\x04\x00";
    ck_assert_int_eq(npy_read_mem(b, 16, &t, &err), -1);
    ck_assert_str_eq(err.msg, "input: unsupported .npy format version 4.0");
    ck_assert_int_eq(npy_read_mem((const unsigned char *)"\x93NUMPX", 6, &t,
                                  &err), -1);
    ck_assert_str_eq(err.msg, "input is not a .npy file (bad magic)");
    ck_assert_int_eq(npy_read_mem(NULL, 0, &t, &err), -1);
    ck_assert_str_eq(err.msg, "input is not a .npy file (bad magic)");
    /* Version 1.0 header length beyond the data. */
    memcpy(b, "\x93NUMPY\x01\x00\xff\x00", 10);
    ck_assert_int_eq(npy_read_mem(b, 16, &t, &err), -1);
    ck_assert_str_eq(err.msg, "input is truncated (incomplete header)");
    /* Version 2.0 header length of 4 GiB. */
    memcpy(b, "\x93NUMPY\x02\x00\xff\xff\xff\xff", 12);
    ck_assert_int_eq(npy_read_mem(b, 16, &t, &err), -1);
    ck_assert_str_eq(err.msg, "input is truncated (incomplete header)");
    /* A NUL inside the header. */
    size_t len;
    unsigned char *m = mk_npy("{'descr': '<f4', 'fortran_order': False, "
                              "'shape': (1,), }", 4, &len);
    m[20] = '\0';
    ck_assert_int_eq(npy_read_mem(m, len, &t, &err), -1);
    ck_assert_str_eq(err.msg, "input: malformed .npy header (NUL byte)");
    free(m);
}
END_TEST

/* Every proper prefix of a good file fails cleanly (valgrind watches). */
START_TEST(test_every_prefix)
{
    unsigned char *buf;
    size_t len;
    read_bytes(fixture("np_fortran3.npy"), &buf, &len);
    for (size_t n = 0; n < len; n++) {
        sq_tensor t;
        sq_error err;
        ck_assert_msg(npy_read_mem(buf, n, &t, &err) == -1, "prefix %zu", n);
    }
    free(buf);
}
END_TEST

START_TEST(test_file_errors)
{
    static const struct { const char *file, *fmt; } c[] = {
        { "np_err_magic.npy", "'%s' is not a .npy file (bad magic)" },
        { "np_err_trunc.npy",
          "'%s' is truncated: header says 24 bytes of data, file has 8" },
        { "np_err_huge.npy", "'%s' is truncated: header says 4000000000000 "
          "bytes of data, file has 8" },
        { "np_err_rank6.npy",
          "'%s': arrays of rank 6 are not supported (at most 5 dimensions)" },
        { "np_err_c8.npy", "'%s': unsupported dtype '<c8'" },
        { "np_missing.npy", "cannot open '%s': No such file or directory" },
    };
    for (size_t i = 0; i < sizeof c / sizeof c[0]; i++) {
        char want[1200];
        sq_tensor t;
        sq_error err = {""};
        const char *path = fixture(c[i].file);
        snprintf(want, sizeof want, c[i].fmt, path);
        ck_assert_int_eq(npy_read_file(path, &t, &err), -1);
        ck_assert_str_eq(err.msg, want);
    }
}
END_TEST

/* ---- writing .npy ------------------------------------------------------ */

/* npy_write_file writes exactly what numpy.save wrote for float32 arrays. */
static const char *f4_fixtures[] = {
    "np_f4_2x3.npy", "np_1d.npy", "np_scalar.npy", "np_rank5.npy",
    "np_zero.npy",
};

START_TEST(test_write_npy_exact)
{
    char out[1024];
    sq_tensor t;
    sq_error err = {""};
    unsigned char *a, *b;
    size_t alen, blen;
    load_ok(f4_fixtures[_i], &t);
    tmp_path(out, sizeof out, f4_fixtures[_i]);
    ck_assert_msg(npy_write_file(out, &t, &err) == 0, "%s", err.msg);
    read_bytes(fixture(f4_fixtures[_i]), &a, &alen);
    read_bytes(out, &b, &blen);
    ck_assert_msg(alen == blen && memcmp(a, b, alen) == 0,
                  "%s differs from numpy's output", f4_fixtures[_i]);
    ck_assert_int_eq(unlink(out), 0);
    free(a);
    free(b);
    free(t.data);
}
END_TEST

/* Header padding for a long first axis and the 64-byte alignment. */
START_TEST(test_write_npy_roundtrip)
{
    char out[1024];
    float v[4] = { 1.0f, -2.0f, 3.5f, 1e-30f };
    sq_tensor t = { { 2, { 2, 2 } }, v }, u;
    sq_error err = {""};
    unsigned char *b;
    size_t len;
    tmp_path(out, sizeof out, "rt.npy");
    ck_assert_msg(npy_write_file(out, &t, &err) == 0, "%s", err.msg);
    ck_assert_msg(npy_read_file(out, &u, &err) == 0, "%s", err.msg);
    check_shape(&u, 2, t.shape.d);
    check_values(u.data, v, 4);
    free(u.data);
    read_bytes(out, &b, &len);
    ck_assert_int_eq(len, 128 + 16);
    ck_assert_int_eq(b[127], '\n');
    free(b);

    /* 1234567890123 x 0 elements: a 13-digit first axis, still 128 bytes. */
    sq_tensor z = { { 2, { 1234567890123L, 0 } }, NULL };
    ck_assert_msg(npy_write_file(out, &z, &err) == 0, "%s", err.msg);
    read_bytes(out, &b, &len);
    ck_assert_int_eq(len, 128);
    ck_assert(memcmp(b + 10, "{'descr': '<f4', 'fortran_order': False, "
                     "'shape': (1234567890123, 0), }", 70) == 0);
    free(b);

    /* numpy's room for a 21-digit first axis decides the block count here:
     * numpy.lib.format._write_array_header gives 192 bytes (header length
     * 0xb6) for this shape; without that room it would be 128. */
    static const char hdr[] = "{'descr': '<f4', 'fortran_order': False, "
        "'shape': (0, 9999999999999, 999999999999999999, 0, 0), }";
    sq_tensor g = { { 5, { 0, 9999999999999L, 999999999999999999L, 0, 0 } },
                    NULL };
    ck_assert_msg(npy_write_file(out, &g, &err) == 0, "%s", err.msg);
    read_bytes(out, &b, &len);
    ck_assert_int_eq(len, 192);
    ck_assert(b[8] == 0xb6 && b[9] == 0);
    ck_assert(memcmp(b + 10, hdr, sizeof hdr - 1) == 0);
    for (size_t i = 10 + sizeof hdr - 1; i < 191; i++)
        ck_assert_int_eq(b[i], ' ');
    ck_assert_int_eq(b[191], '\n');
    free(b);
    ck_assert_int_eq(unlink(out), 0);
}
END_TEST

START_TEST(test_write_errors)
{
    char out[1024], want[1200];
    float v = 1.0f;
    sq_tensor t = { { 1, { 1 } }, &v };
    sq_error err = {""};

    tmp_path(out, sizeof out, "no/such/dir/x.npy");
    ck_assert_int_eq(npy_write_file(out, &t, &err), -1);
    snprintf(want, sizeof want, "cannot write '%s': No such file or directory",
             out);
    ck_assert_str_eq(err.msg, want);

    /* The target is a directory: rename fails, the temp file goes away. */
    tmp_path(out, sizeof out, "adir");
    ck_assert_int_eq(mkdir(out, 0700), 0);
    ck_assert_int_eq(npy_write_file(out, &t, &err), -1);
    snprintf(want, sizeof want, "cannot write '%s': Is a directory", out);
    ck_assert_str_eq(err.msg, want);
    DIR *d = opendir(tmpdir);
    ck_assert(d != NULL);
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        ck_assert_msg(strstr(e->d_name, "seqsh-tmp") == NULL, "left %s behind",
                      e->d_name);
    closedir(d);
    ck_assert_int_eq(rmdir(out), 0);

    tmp_path(out, sizeof out, "bad.npy");
    sq_tensor r = { { 6, { 1 } }, &v };
    ck_assert_int_eq(npy_write_file(out, &r, &err), -1);
    snprintf(want, sizeof want, "'%s': cannot save a tensor of rank 6", out);
    ck_assert_str_eq(err.msg, want);
    sq_tensor n = { { 2, { 1, -1 } }, &v };
    ck_assert_int_eq(npy_write_file(out, &n, &err), -1);
    snprintf(want, sizeof want,
             "'%s': cannot save a tensor with unknown dimension 1", out);
    ck_assert_str_eq(err.msg, want);
    sq_tensor nd = { { 1, { 2 } }, NULL };
    ck_assert_int_eq(npy_write_file(out, &nd, &err), -1);
    snprintf(want, sizeof want, "'%s': tensor has no data", out);
    ck_assert_str_eq(err.msg, want);
    ck_assert_int_eq(access(out, F_OK), -1);
}
END_TEST

/* Issue 18: writes go only to regular files or new paths. A FIFO, a socket
 * or a device as the target is refused and stays what it was; a symbolic
 * link is written through to its target, in the target's folder. */
START_TEST(test_write_targets)
{
    char out[1024], want[1200], link[1024], real[1024];
    float v = 1.0f;
    sq_tensor t = { { 1, { 1 } }, &v };
    sq_error err = {""};
    struct stat st;

    tmp_path(out, sizeof out, "a.fifo");
    ck_assert_int_eq(mkfifo(out, 0600), 0);
    ck_assert_int_eq(npy_write_file(out, &t, &err), -1);
    snprintf(want, sizeof want, "cannot write '%s': not a regular file (a FIFO); seqsh "
             "writes only regular files and new paths", out);
    ck_assert_str_eq(err.msg, want);
    ck_assert(lstat(out, &st) == 0 && S_ISFIFO(st.st_mode));
    /* through a link to it, the same */
    tmp_path(link, sizeof link, "to_fifo");
    ck_assert_int_eq(symlink("a.fifo", link), 0);
    ck_assert_int_eq(npy_write_file(link, &t, &err), -1);
    ck_assert(lstat(out, &st) == 0 && S_ISFIFO(st.st_mode));
    ck_assert(lstat(link, &st) == 0 && S_ISLNK(st.st_mode));
    unlink(link);
    unlink(out);

    tmp_path(out, sizeof out, "a.sock");
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    ck_assert(fd >= 0 && strlen(out) < sizeof sa.sun_path);
    strcpy(sa.sun_path, out);
    ck_assert_int_eq(bind(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    ck_assert_int_eq(npy_write_file(out, &t, &err), -1);
    ck_assert_ptr_nonnull(strstr(err.msg, "not a regular file (a socket)"));
    ck_assert(lstat(out, &st) == 0 && S_ISSOCK(st.st_mode));
    close(fd);
    unlink(out);

    /* /dev/full's numbers: a character device (only where mknod is allowed) */
    tmp_path(out, sizeof out, "a.dev");
    if (mknod(out, S_IFCHR | 0666, makedev(1, 7)) == 0) {
        ck_assert_int_eq(npy_write_file(out, &t, &err), -1);
        ck_assert_ptr_nonnull(strstr(err.msg, "not a regular file (a character device)"));
        ck_assert(lstat(out, &st) == 0 && S_ISCHR(st.st_mode));
        unlink(out);
    }

    /* a link, relative to its own folder: its target is written, the link
     * stays a link */
    tmp_path(out, sizeof out, "sub");
    ck_assert_int_eq(mkdir(out, 0700), 0);
    tmp_path(out, sizeof out, "other");
    ck_assert_int_eq(mkdir(out, 0700), 0);
    tmp_path(link, sizeof link, "sub/l.npy");
    tmp_path(real, sizeof real, "other/r.npy");
    ck_assert_int_eq(symlink("../other/r.npy", link), 0);
    ck_assert_msg(npy_write_file(link, &t, &err) == 0, "%s", err.msg);  /* dangling: made */
    ck_assert(lstat(link, &st) == 0 && S_ISLNK(st.st_mode));
    ck_assert(lstat(real, &st) == 0 && S_ISREG(st.st_mode));
    v = 2.0f;
    ck_assert_msg(npy_write_file(link, &t, &err) == 0, "%s", err.msg);  /* replaced */
    ck_assert(lstat(link, &st) == 0 && S_ISLNK(st.st_mode));
    sq_tensor back;
    ck_assert_int_eq(npy_read_file(real, &back, &err), 0);
    ck_assert(back.data[0] == 2.0f);
    free(back.data);
    unlink(link);
    unlink(real);

    tmp_path(link, sizeof link, "loop");
    ck_assert_int_eq(symlink("loop", link), 0);
    ck_assert_int_eq(npy_write_file(link, &t, &err), -1);
    snprintf(want, sizeof want, "cannot write '%s': Too many levels of symbolic links", link);
    ck_assert_str_eq(err.msg, want);
    unlink(link);

    /* a file we may not write is not replaced (root may write anything) */
    tmp_path(out, sizeof out, "ro.npy");
    ck_assert_int_eq(npy_write_file(out, &t, &err), 0);
    ck_assert_int_eq(chmod(out, 0444), 0);
    if (geteuid() != 0) {
        ck_assert_int_eq(npy_write_file(out, &t, &err), -1);
        ck_assert_ptr_nonnull(strstr(err.msg, "Permission denied"));
    }
    unlink(out);
    tmp_path(out, sizeof out, "sub");
    rmdir(out);
    tmp_path(out, sizeof out, "other");
    rmdir(out);
}
END_TEST

/* The host part of temporary names, as fileio.c makes it. */
static void host_tag(char *buf, size_t n)
{
    char h[256] = "localhost";
    gethostname(h, sizeof h);
    h[sizeof h - 1] = '\0';
    size_t k = 0;
    for (const char *p = h; *p && k + 1 < n && k < 64; p++)
        buf[k++] = isalnum((unsigned char)*p) || *p == '-' || *p == '_' ? *p : '_';
    buf[k] = '\0';
}

static void touch(const char *name)
{
    char p[1024];
    tmp_path(p, sizeof p, name);
    FILE *f = fopen(p, "w");
    ck_assert_ptr_nonnull(f);
    fputs("half a save", f);
    fclose(f);
}

static int exists(const char *name)
{
    char p[1024];
    struct stat st;
    tmp_path(p, sizeof p, name);
    return lstat(p, &st) == 0;
}

/* What a seqsh killed mid-save leaves (.NAME.seqsh-tmp-HOST-PID-N) is
 * removed by the next save to NAME; nothing else is: another process's
 * (alive), another host's, another name's, anything that is not a
 * regular file or not named exactly so. */
START_TEST(test_stale_temporaries)
{
    char host[80], dead[300], alive[300], self[300], other[300], dir_[300], lnk[300],
         odd[300], second[300], out[1024], p[1024];
    host_tag(host, sizeof host);
    pid_t pid = fork();
    ck_assert(pid >= 0);
    if (pid == 0)
        _exit(0);
    ck_assert_int_eq(waitpid(pid, NULL, 0), pid);   /* gone: its pid is free */
    snprintf(dead, sizeof dead, ".t.npy.seqsh-tmp-%s-%ld-0", host, (long)pid);
    snprintf(second, sizeof second, ".t.npy.seqsh-tmp-%s-%ld-17", host, (long)pid);
    snprintf(alive, sizeof alive, ".t.npy.seqsh-tmp-%s-1-0", host);
    snprintf(self, sizeof self, ".t.npy.seqsh-tmp-%s-%ld-5", host, (long)getpid());
    snprintf(other, sizeof other, ".t.npy.seqsh-tmp-%sx-%ld-0", host, (long)pid);
    snprintf(dir_, sizeof dir_, ".t.npy.seqsh-tmp-%s-%ld-1", host, (long)pid);
    snprintf(lnk, sizeof lnk, ".t.npy.seqsh-tmp-%s-%ld-2", host, (long)pid);
    snprintf(odd, sizeof odd, ".t.npy.seqsh-tmp-%s-%ldx-0", host, (long)pid);
    const char *kept[] = { alive, self, other, odd, ".u.npy.seqsh-tmp-h-1-0" };
    touch(dead);
    touch(second);
    for (size_t i = 0; i < sizeof kept / sizeof kept[0]; i++)
        touch(kept[i]);
    tmp_path(p, sizeof p, dir_);
    ck_assert_int_eq(mkdir(p, 0700), 0);
    tmp_path(p, sizeof p, lnk);
    ck_assert_int_eq(symlink("t.npy", p), 0);

    float v = 1.0f;
    sq_tensor t = { { 1, { 1 } }, &v };
    sq_error err = {""};
    tmp_path(out, sizeof out, "t.npy");
    ck_assert_msg(npy_write_file(out, &t, &err) == 0, "%s", err.msg);
    ck_assert(!exists(dead) && !exists(second));
    for (size_t i = 0; i < sizeof kept / sizeof kept[0]; i++) {
        ck_assert_msg(exists(kept[i]), "%s was removed", kept[i]);
        tmp_path(p, sizeof p, kept[i]);
        unlink(p);
    }
    ck_assert(exists(dir_) && exists(lnk));
    tmp_path(p, sizeof p, dir_);
    rmdir(p);
    tmp_path(p, sizeof p, lnk);
    unlink(p);
    unlink(out);
}
END_TEST

/* Replacing a file keeps its permissions; a failed write keeps it intact. */
START_TEST(test_atomic_replace)
{
    char out[1024];
    sq_error err = {""};
    unsigned char *b;
    size_t len;
    struct stat st;
    tmp_path(out, sizeof out, "keep.bin");
    ck_assert_int_eq(sq_write_file_atomic(out, "old", 3, &err), 0);
    ck_assert_int_eq(chmod(out, 0640), 0);
    ck_assert_int_eq(sq_write_file_atomic(out, "new!", 4, &err), 0);
    ck_assert_int_eq(stat(out, &st), 0);
    ck_assert_int_eq(st.st_mode & 0777, 0640);
    read_bytes(out, &b, &len);
    ck_assert(len == 4 && memcmp(b, "new!", 4) == 0);
    free(b);
    /* An invalid tensor fails before anything is written. */
    sq_tensor bad = { { 7, { 0 } }, NULL };
    ck_assert_int_eq(npy_write_file(out, &bad, &err), -1);
    read_bytes(out, &b, &len);
    ck_assert(len == 4 && memcmp(b, "new!", 4) == 0);
    free(b);
    /* Empty files read back as zero bytes with a buffer to free. */
    ck_assert_int_eq(sq_write_file_atomic(out, "", 0, &err), 0);
    read_bytes(out, &b, &len);
    ck_assert_int_eq(len, 0);
    ck_assert(b != NULL);
    free(b);
    ck_assert_int_eq(unlink(out), 0);
}
END_TEST

START_TEST(test_read_whole_file_errors)
{
    char want[1200];
    unsigned char *b;
    size_t len;
    sq_error err = {""};
    ck_assert_int_eq(sq_read_whole_file(tmpdir, &b, &len, &err), -1);
    snprintf(want, sizeof want, "cannot read '%s': Is a directory", tmpdir);
    ck_assert_str_eq(err.msg, want);
    ck_assert_int_eq(sq_read_whole_file("", &b, &len, &err), -1);
    ck_assert_str_eq(err.msg, "cannot open '': No such file or directory");
}
END_TEST

/* ---- .npz -------------------------------------------------------------- */

static void check_savez(const npz_entry *e, int n)
{
    static const long dk[] = { 2, 3 }, db[] = { 3 };
    static const float k[] = { -1.0f, -0.5f, 0.0f, 0.5f, 1.0f, 1.5f };
    static const float bias[] = { 0.25f, 0.5f, 0.75f };
    ck_assert_int_eq(n, 2);
    ck_assert_str_eq(e[0].name, "dense/kernel");
    ck_assert_str_eq(e[1].name, "dense/bias");
    check_shape(&e[0].t, 2, dk);
    check_shape(&e[1].t, 1, db);
    check_values(e[0].t.data, k, 6);
    check_values(e[1].t.data, bias, 3);
}

START_TEST(test_npz_savez)
{
    npz_entry *e;
    int n;
    sq_error err = {""};
    ck_assert_msg(npz_read_file(fixture("np_savez.npz"), &e, &n, &err) == 0,
                  "%s", err.msg);
    check_savez(e, n);
    sq_named_free(e, n);
}
END_TEST

START_TEST(test_npz_compressed)
{
    npz_entry *e;
    int n;
    sq_error err = {""};
    static const long da[] = { 2, 2 }, db[] = { 3 };
    static const float a[] = { 1.5f, 2.5f, 3.5f, 4.5f }, b[] = { 1, -2, 3 };
    ck_assert_msg(npz_read_file(fixture("np_savez_compressed.npz"), &e, &n,
                                &err) == 0, "%s", err.msg);
    ck_assert_int_eq(n, 2);
    ck_assert_str_eq(e[0].name, "a");
    ck_assert_str_eq(e[1].name, "b");
    check_shape(&e[0].t, 2, da);
    check_shape(&e[1].t, 1, db);
    check_values(e[0].t.data, a, 4);
    check_values(e[1].t.data, b, 3);
    sq_named_free(e, n);
}
END_TEST

START_TEST(test_npz_zip64)
{
    npz_entry *e;
    int n;
    sq_error err = {""};
    static const long d[] = { 3 };
    static const float w[] = { 0, 1, 2 };
    ck_assert_msg(npz_read_file(fixture("np_zip64.npz"), &e, &n, &err) == 0,
                  "%s", err.msg);
    ck_assert_int_eq(n, 1);
    ck_assert_str_eq(e[0].name, "w");
    check_shape(&e[0].t, 1, d);
    check_values(e[0].t.data, w, 3);
    sq_named_free(e, n);
}
END_TEST

/* npz_write_file writes what numpy.savez wrote, byte for byte. */
START_TEST(test_npz_write_exact)
{
    char out[1024];
    npz_entry *e;
    int n;
    sq_error err = {""};
    unsigned char *a, *b;
    size_t alen, blen;
    ck_assert(npz_read_file(fixture("np_savez.npz"), &e, &n, &err) == 0);
    tmp_path(out, sizeof out, "w.npz");
    ck_assert_msg(npz_write_file(out, e, n, &err) == 0, "%s", err.msg);
    read_bytes(fixture("np_savez.npz"), &a, &alen);
    read_bytes(out, &b, &blen);
    ck_assert_msg(alen == blen && memcmp(a, b, alen) == 0,
                  "npz differs from numpy.savez's output");
    free(a);
    free(b);
    sq_named_free(e, n);
    ck_assert_int_eq(unlink(out), 0);
}
END_TEST

/* Write, read back. numpy.load reads this archive too (checked by hand
 * with /usr/bin/python3: keys, shapes and values match). */
START_TEST(test_npz_roundtrip)
{
    char out[1024];
    float k[6] = { 1, 2, 3, 4, 5, 6 }, s = 42.0f;
    npz_entry in[4] = {
        { "conv2d/kernel", { { 4, { 1, 1, 2, 3 } }, k } },
        { "scalar", { { 0, { 0 } }, &s } },
        { "empty", { { 2, { 0, 5 } }, NULL } },
        { "caf\xc3\xa9", { { 1, { 6 } }, k } },
    };
    npz_entry *e;
    int n;
    sq_error err = {""};
    tmp_path(out, sizeof out, "rt.npz");
    ck_assert_msg(npz_write_file(out, in, 4, &err) == 0, "%s", err.msg);
    ck_assert_msg(npz_read_file(out, &e, &n, &err) == 0, "%s", err.msg);
    ck_assert_int_eq(n, 4);
    for (int i = 0; i < 4; i++) {
        size_t cnt = 1;
        ck_assert_str_eq(e[i].name, in[i].name);
        check_shape(&e[i].t, in[i].t.shape.rank, in[i].t.shape.d);
        for (int j = 0; j < in[i].t.shape.rank; j++)
            cnt *= (size_t)in[i].t.shape.d[j];
        check_values(e[i].t.data, in[i].t.data, cnt);
    }
    sq_named_free(e, n);

    /* No arrays at all: an empty archive. */
    ck_assert_msg(npz_write_file(out, NULL, 0, &err) == 0, "%s", err.msg);
    ck_assert_msg(npz_read_file(out, &e, &n, &err) == 0, "%s", err.msg);
    ck_assert_int_eq(n, 0);
    sq_named_free(e, n);
    ck_assert_int_eq(unlink(out), 0);
}
END_TEST

START_TEST(test_npz_write_errors)
{
    char out[1024], want[1200];
    float v = 1;
    npz_entry dup[2] = { { "a", { { 1, { 1 } }, &v } },
                         { "a", { { 1, { 1 } }, &v } } };
    npz_entry bad[1] = { { "b", { { 6, { 1 } }, &v } } };
    sq_error err = {""};
    tmp_path(out, sizeof out, "bad.npz");
    ck_assert_int_eq(npz_write_file(out, dup, 2, &err), -1);
    snprintf(want, sizeof want, "cannot write '%s': duplicate array name 'a'",
             out);
    ck_assert_str_eq(err.msg, want);
    ck_assert_int_eq(npz_write_file(out, bad, 1, &err), -1);
    snprintf(want, sizeof want,
             "'%s' member 'b.npy': cannot save a tensor of rank 6", out);
    ck_assert_str_eq(err.msg, want);
    ck_assert_int_eq(access(out, F_OK), -1);
}
END_TEST

START_TEST(test_npz_errors)
{
    char want[1200];
    npz_entry *e;
    int n;
    sq_error err = {""};
    const char *path = fixture("np_err_member_trunc.npz");
    snprintf(want, sizeof want, "'%s' member 'a.npy' is truncated: header says "
             "24 bytes of data, file has 8", path);
    ck_assert_int_eq(npz_read_file(path, &e, &n, &err), -1);
    ck_assert_str_eq(err.msg, want);

    path = fixture("np_f4_2x3.npy");
    snprintf(want, sizeof want, "'%s' is not a .npz file (no end of central "
             "directory record)", path);
    ck_assert_int_eq(npz_read_file(path, &e, &n, &err), -1);
    ck_assert_str_eq(err.msg, want);

    path = fixture("np_missing.npz");
    snprintf(want, sizeof want, "cannot open '%s': No such file or directory",
             path);
    ck_assert_int_eq(npz_read_file(path, &e, &n, &err), -1);
    ck_assert_str_eq(err.msg, want);
}
END_TEST

START_TEST(test_npz_corrupt)
{
    unsigned char *buf;
    size_t len;
    npz_entry *e;
    int n;
    sq_error err = {""};

    /* np_savez.npz: local header (30) + "dense/kernel.npy" (16) + ZIP64
     * extra (20), then the 152-byte .npy; flip its last data byte. */
    read_bytes(fixture("np_savez.npz"), &buf, &len);
    buf[66 + 151] ^= 0x40;
    ck_assert_int_eq(npz_read_mem(buf, len, &e, &n, &err), -1);
    ck_assert_str_eq(err.msg, "member 'dense/kernel.npy' fails its CRC-32 "
                     "check (the archive is corrupt)");
    buf[66 + 151] ^= 0x40;

    /* Claim the second member is 2 GiB in both headers: it overruns. */
    size_t eocd = len - 22, cd = get32(buf + eocd + 16);
    size_t c2 = cd + 46 + 16;                 /* second central entry */
    size_t l2 = get32(buf + c2 + 42);
    ck_assert_int_eq(get32(buf + c2), 0x02014b50);
    put32(buf + c2 + 20, 0x7ffffff0);
    put32(buf + c2 + 24, 0x7ffffff0);
    put32(buf + l2 + 18, 0x7ffffff0);
    put32(buf + l2 + 22, 0x7ffffff0);
    ck_assert_int_eq(npz_read_mem(buf, len, &e, &n, &err), -1);
    {
        char want[200];
        snprintf(want, sizeof want, "member 'dense/bias.npy' is truncated: "
                 "archive says 2147483632 bytes, file has %zu",
                 len - (l2 + 30 + 14 + 20));
        ck_assert_str_eq(err.msg, want);
    }
    /* Only the central directory lies: the headers disagree. */
    put32(buf + l2 + 18, 140);
    put32(buf + l2 + 22, 140);
    ck_assert_int_eq(npz_read_mem(buf, len, &e, &n, &err), -1);
    ck_assert_str_eq(err.msg, "member 'dense/bias.npy': local header sizes "
                     "disagree with the central directory");
    free(buf);

    /* np_savez_compressed.npz: a wrong CRC in the central directory. */
    read_bytes(fixture("np_savez_compressed.npz"), &buf, &len);
    cd = get32(buf + len - 22 + 16);
    buf[cd + 16] ^= 1;
    ck_assert_int_eq(npz_read_mem(buf, len, &e, &n, &err), -1);
    ck_assert_str_eq(err.msg, "member 'a.npy' fails its CRC-32 check (the "
                     "archive is corrupt)");
    buf[cd + 16] ^= 1;
    /* A cut archive has no end record. */
    ck_assert_int_eq(npz_read_mem(buf, len - 1, &e, &n, &err), -1);
    ck_assert_str_eq(err.msg, "input is not a .npz file (no end of central "
                     "directory record)");
    /* The central directory offset points past the end. */
    put32(buf + len - 22 + 16, (uint32_t)len);
    ck_assert_int_eq(npz_read_mem(buf, len, &e, &n, &err), -1);
    ck_assert_str_eq(err.msg, "input: corrupt central directory (outside "
                     "the file)");
    free(buf);
}
END_TEST

/* What the fuzzed archives hold, as make_np_fixtures.py wrote them. */
typedef struct {
    const char *name;
    int rank;
    long d[2];
    int n;
    float v[6];
} npz_member;

typedef struct {
    const char *file;
    int n;
    npz_member m[2];
} npz_fixture;

static const npz_fixture fuzz_files[] = {
    { "np_savez.npz", 2,
      { { "dense/kernel", 2, { 2, 3 }, 6, { -1.0f, -0.5f, 0.0f, 0.5f, 1.0f, 1.5f } },
        { "dense/bias", 1, { 3 }, 3, { 0.25f, 0.5f, 0.75f } } } },
    { "np_savez_compressed.npz", 2,
      { { "a", 2, { 2, 2 }, 4, { 1.5f, 2.5f, 3.5f, 4.5f } },
        { "b", 1, { 3 }, 3, { 1, -2, 3 } } } },
    { "np_zip64.npz", 1, { { "w", 1, { 3 }, 3, { 0, 1, 2 } } } },
};

/* Whatever its bytes, an archive of len bytes that npz_read_mem accepted has
 * names that end within what the archive could hold, possible ranks and
 * dimensions, and for a member of c elements c readable floats (valgrind
 * watches the reads), no more than the archive can produce (a one-byte
 * dtype, stored, or deflated at its best ratio of 1032:1). */
static void check_sane(const npz_entry *e, int n, size_t len, const char *what)
{
    ck_assert_msg(n >= 0, "%s: %d members", what, n);
    for (int i = 0; i < n; i++) {
        ck_assert_msg(e[i].name != NULL, "%s: member %d has no name", what, i);
        ck_assert_msg(strnlen(e[i].name, len + 1) <= len,
                      "%s: member %d's name is not terminated", what, i);
        const sq_shape *sh = &e[i].t.shape;
        ck_assert_msg(sh->rank >= 0 && sh->rank <= SQ_MAX_RANK, "%s: member %d has rank %d",
                      what, i, sh->rank);
        size_t count = 1;
        for (int k = 0; k < sh->rank; k++) {
            ck_assert_msg(sh->d[k] >= 0 && (size_t)sh->d[k] <= 1032 * len,
                          "%s: member %d has dimension %ld", what, i, sh->d[k]);
            count *= (size_t)sh->d[k];
            ck_assert_msg(count <= 1032 * len, "%s: member %d claims over %zu elements",
                          what, i, count);
        }
        ck_assert_msg(count == 0 || e[i].t.data != NULL, "%s: member %d has no data",
                      what, i);
        volatile float sink = 0;
        for (size_t k = 0; k < count; k++)
            sink += e[i].t.data[k];
        (void)sink;
    }
}

/* e holds fx's members in order, except that one may be missing when
 * may_drop: numpy loads only members named KEY.npy as arrays. */
static void check_members(const npz_entry *e, int n, const npz_fixture *fx, int may_drop,
                          const char *what)
{
    ck_assert_msg(n == fx->n || (may_drop && n == fx->n - 1), "%s: %d members, want %d",
                  what, n, fx->n);
    for (int i = 0, j = 0; i < n; i++, j++) {
        if (strcmp(e[i].name, fx->m[j].name) != 0 && n < fx->n)
            j++;   /* the dropped one */
        ck_assert_msg(j < fx->n && strcmp(e[i].name, fx->m[j].name) == 0,
                      "%s: member %d is named '%s'", what, i, e[i].name);
        check_shape(&e[i].t, fx->m[j].rank, fx->m[j].d);
        check_values(e[i].t.data, fx->m[j].v, (size_t)fx->m[j].n);
    }
}

/* One parse of buf[0, len) in the fuzz loop. It fails with a message, or
 * gives a sane result which, as every member's bytes are covered by its
 * CRC-32 (which catches any one changed byte), is fx's. Returns 1 when it
 * parsed. */
static int fuzz_one(const unsigned char *buf, size_t len, const npz_fixture *fx,
                    int may_drop, const char *what)
{
    npz_entry *e = NULL;
    int n = -1;
    sq_error err;
    err.msg[0] = '\0';
    if (npz_read_mem(buf, len, &e, &n, &err) == 0) {
        check_sane(e, n, len, what);
        check_members(e, n, fx, may_drop, what);
        sq_named_free(e, n);
        return 1;
    }
    ck_assert_msg(err.msg[0] != '\0', "%s: failed without a message", what);
    return 0;
}

/* Whether byte i of the archive lies in a ".npy" (the end of a member's
 * name in a local header or the central directory). */
static int in_npy_suffix(const unsigned char *buf, size_t len, size_t i)
{
    for (size_t k = i >= 3 ? i - 3 : 0; k <= i && k + 4 <= len; k++)
        if (memcmp(buf + k, ".npy", 4) == 0)
            return 1;
    return 0;
}

/* Every byte of three archives changed two ways, and every cut of them. The
 * archives themselves parse to what numpy wrote; every changed one parses to
 * the same (less a member whose name no longer ends in ".npy") or fails with
 * a message, never crashing or reading out of bounds (valgrind watches). */
START_TEST(test_npz_fuzz)
{
    const size_t nfiles = sizeof fuzz_files / sizeof fuzz_files[0];
    for (size_t f = 0; f < nfiles; f++) {
        const npz_fixture *fx = &fuzz_files[f];
        unsigned char *buf, *orig;
        size_t len;
        read_bytes(fixture(fx->file), &buf, &len);
        read_bytes(fixture(fx->file), &orig, &len);
        ck_assert_msg(fuzz_one(buf, len, fx, 0, fx->file), "%s does not parse", fx->file);
        int parsed = 0, failed = 0;
        for (size_t i = 0; i < len; i++) {
            char what[200];
            int suffix = in_npy_suffix(orig, len, i);
            for (int k = 0; k < 2; k++) {
                buf[i] = k ? 0xff : (unsigned char)(orig[i] ^ 0x55);
                if (buf[i] == orig[i])
                    continue;
                snprintf(what, sizeof what, "%s, byte %zu set to 0x%02x", fx->file, i, buf[i]);
                if (fuzz_one(buf, len, fx, suffix, what))
                    parsed++;
                else
                    failed++;
            }
            buf[i] = orig[i];
            snprintf(what, sizeof what, "%s cut to %zu bytes", fx->file, i);
            if (fuzz_one(buf, i, fx, 0, what))
                parsed++;
            else
                failed++;
        }
        /* both outcomes were reached: headers hold fields no reader needs,
         * and a cut archive has no end record */
        ck_assert_msg(parsed > 0 && failed > 0, "%s: %d parsed, %d failed", fx->file, parsed,
                      failed);
        free(buf);
        free(orig);
    }
}
END_TEST

static Suite *npy_suite(void)
{
    Suite *s = suite_create("npy");
    TCase *tc = tcase_create("read");
    tcase_add_test(tc, test_f4_2x3);
    tcase_add_loop_test(tc, test_kinds, 0, sizeof kinds / sizeof kinds[0]);
    tcase_add_loop_test(tc, test_kinds_in_pieces, 0, sizeof kinds / sizeof kinds[0]);
    tcase_add_test(tc, test_file_shrinks);
    tcase_add_test(tc, test_zero_size);
    tcase_add_test(tc, test_read_shared);
    tcase_add_loop_test(tc, test_header_variants, 0,
                        sizeof good_headers / sizeof good_headers[0]);
    tcase_add_test(tc, test_header_shapes);
    tcase_add_loop_test(tc, test_header_errors, 0,
                        sizeof bad_headers / sizeof bad_headers[0]);
    tcase_add_test(tc, test_prefix_errors);
    tcase_add_test(tc, test_every_prefix);
    tcase_add_test(tc, test_file_errors);
    suite_add_tcase(s, tc);

    tc = tcase_create("write");
    tcase_add_loop_test(tc, test_write_npy_exact, 0,
                        sizeof f4_fixtures / sizeof f4_fixtures[0]);
    tcase_add_test(tc, test_write_npy_roundtrip);
    tcase_add_test(tc, test_write_errors);
    tcase_add_test(tc, test_write_targets);
    tcase_add_test(tc, test_stale_temporaries);
    tcase_add_test(tc, test_atomic_replace);
    tcase_add_test(tc, test_read_whole_file_errors);
    suite_add_tcase(s, tc);

    tc = tcase_create("npz");
    tcase_add_test(tc, test_npz_savez);
    tcase_add_test(tc, test_npz_compressed);
    tcase_add_test(tc, test_npz_zip64);
    tcase_add_test(tc, test_npz_write_exact);
    tcase_add_test(tc, test_npz_roundtrip);
    tcase_add_test(tc, test_npz_write_errors);
    tcase_add_test(tc, test_npz_errors);
    tcase_add_test(tc, test_npz_corrupt);
    tcase_add_test(tc, test_npz_fuzz);
    tcase_set_timeout(tc, 60);   /* the fuzz loop under valgrind */
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
            tmp_path(p, sizeof p, e->d_name);
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
    snprintf(tmpdir, sizeof tmpdir, "%s/check_npy.XXXXXX",
             t && *t ? t : "/tmp");
    if (!mkdtemp(tmpdir)) {
        fprintf(stderr, "check_npy: cannot create %s: %s\n", tmpdir,
                strerror(errno));
        return EXIT_FAILURE;
    }
    SRunner *sr = srunner_create(npy_suite());
    srunner_run_all(sr, CK_ENV);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    remove_tmpdir();
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
