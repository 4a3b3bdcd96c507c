/* check_base.c - tests for engine/base: the overflow-checked shape helpers,
 * the one rule for names and for text that may reach a terminal, the
 * interrupt flag every reader polls, and the default memory limit read from
 * cgroup files (fake cgroup trees in a scratch folder) and limits. */
#include <check.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "base/base.h"
#include "test_util.h"

static sq_error err;

/* ---- shapes ----------------------------------------------------------------- */

START_TEST(counts_are_exact_up_to_the_limit)
{
    long d[4] = { 65536, 65536, 2048, 1 }, c;    /* 2^43 */
    ck_assert_int_eq(sq_dims_count(d, 4, "x", &c, &err), 0);
    ck_assert(c == (long)1 << 43);
    long e[2] = { (long)1 << 26, (long)1 << 27 };  /* exactly 2^53 */
    ck_assert_int_eq(sq_dims_count(e, 2, "x", &c, &err), 0);
    ck_assert(c == SQ_COUNT_MAX);
    long z[3] = { 0, 4294967296L, 7 };             /* empty, yet checked */
    ck_assert_int_eq(sq_dims_count(z, 3, "x", &c, &err), 0);
    ck_assert(c == 0);
    ck_assert_int_eq(sq_dims_count(NULL, 0, "x", &c, &err), 0);
    ck_assert(c == 1);
    long r;
    ck_assert(sq_count_mul(3, 5, &r) && r == 15);
    ck_assert(!sq_count_mul((long)1 << 27, ((long)1 << 26) + 1, &r));
    ck_assert(!sq_count_mul(-1, 2, &r));
}
END_TEST

START_TEST(overflows_name_the_dimensions)
{
    long d[4] = { 65536, 65536, 65536, 65536 }, c = 7;
    ck_assert_int_eq(sq_dims_count(d, 4, "layer flatten", &c, &err), -1);
    ck_assert_str_eq(err.msg, "layer flatten: 65536 x 65536 x 65536 x 65536 is too large "
                     "(a shape holds at most 2^53 values)");
    ck_assert(c == 7);
    /* zeros do not hide what a later flatten would meet */
    long z[3] = { 0, 4294967295L, 4294967295L };
    ck_assert_int_eq(sq_dims_count(z, 3, "f", &c, &err), -1);
    ck_assert_str_eq(err.msg, "f: 0 x 4294967295 x 4294967295 is too large (a shape holds at "
                     "most 2^53 values)");
    long big[1] = { 4294967297L }, neg[2] = { 2, -1 };
    ck_assert_int_eq(sq_dims_count(big, 1, "g", &c, &err), -1);
    ck_assert_str_eq(err.msg, "g: dimension 4294967297 is out of range (0 to 2^32)");
    ck_assert_int_eq(sq_dims_count(neg, 2, "h", &c, &err), -1);
    ck_assert_str_eq(err.msg, "h: dimension -1 is out of range (0 to 2^32)");
}
END_TEST

START_TEST(shape_check_allows_none)
{
    sq_shape ok = { 3, { -1, 65536, 65536 } }, wide = { 2, { -1, 4294967297L } },
             many = { 4, { -1, 1 << 20, 1 << 20, 1 << 20 } };
    ck_assert_int_eq(sq_shape_check(&ok, "a", &err), 0);
    ck_assert_int_eq(sq_shape_check(&wide, "layer b", &err), -1);
    ck_assert_str_eq(err.msg, "layer b: the shape (None, 4294967297) has a dimension larger "
                     "than 2^32");
    ck_assert_int_eq(sq_shape_check(&many, "layer c", &err), -1);
    ck_assert_str_eq(err.msg, "layer c: the shape (None, 1048576, 1048576, 1048576) is too "
                     "large (a shape holds at most 2^53 values)");
}
END_TEST

/* ---- text and names ----------------------------------------------------------- */

START_TEST(text_span_stops_at_what_a_terminal_acts_on)
{
    static const struct { const char *s; int lines; size_t ok, bad; } c[] = {
        { "plain text", 0, 10, 0 },
        { "caf\xc3\xa9 \xe2\x82\xac", 0, 9, 0 },     /* UTF-8 is text */
        { "a\x1b[2J", 0, 1, 1 },                     /* ESC */
        { "a\rb", 1, 1, 1 },                         /* CR rewrites a line */
        { "a\nb\tc", 1, 5, 0 },                      /* lines and tabs, when kept */
        { "a\nb", 0, 1, 1 },
        { "x\x7f", 0, 1, 1 },                        /* DEL */
        { "x\xc2\x9b" "31m", 0, 1, 2 },              /* C1 CSI, as UTF-8 */
        { "x\x9b" "31m", 0, 1, 1 },                  /* a lone C1 byte: not UTF-8 */
        { "x\xff", 0, 1, 1 },
        { "x\xe2\x82", 0, 1, 1 },                    /* cut short */
        { "x\xed\xa0\x80", 0, 1, 1 },                /* a surrogate */
        { "x\xc0\xaf", 0, 1, 1 },                    /* overlong */
    };
    for (size_t i = 0; i < sizeof c / sizeof c[0]; i++) {
        size_t bad = 99, ok = sq_text_span(c[i].s, strlen(c[i].s), c[i].lines, &bad);
        ck_assert_msg(ok == c[i].ok && bad == c[i].bad, "case %zu: %zu, %zu", i, ok, bad);
    }
}
END_TEST

START_TEST(escape_shows_control_bytes)
{
    char b[64];
    ck_assert_str_eq(sq_escape("d\x1b]0;t\x07", b, sizeof b), "d\\x1b]0;t\\x07");
    ck_assert_str_eq(sq_escape("a\tb\nc", b, sizeof b), "a\\x09b\\x0ac");
    ck_assert_str_eq(sq_escape("\xc2\x9b\xff\xc3\xa9", b, sizeof b), "\\xc2\\x9b\\xff\xc3\xa9");
    char small[8];
    ck_assert_str_eq(sq_escape("\x1b\x1b\x1b", small, sizeof small), "\\x1b");  /* cut whole */
}
END_TEST

START_TEST(names_refuse_control_characters)
{
    static const char *good[] = { "dense", "conv2d_1", "caf\xc3\xa9", "a.b-c" };
    static const char *bad[] = { "", "a b", "a/b", "a:b", "a\tb", "t\x1b]0;x\x07", "a\rb",
                                 "a\x7f", "a\xc2\x85", "a\xff" };
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++)
        ck_assert_msg(sq_check_name("layer", good[i], &err) == 0, "%s: %s", good[i], err.msg);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        ck_assert_msg(sq_check_name("layer", bad[i], &err) == -1, "bad name %zu passed", i);
    ck_assert_int_eq(sq_check_name("model", "t\x1b]0;x\x07", &err), -1);
    ck_assert_str_eq(err.msg, "invalid model name 't\\x1b]0;x\\x07' (1 to 127 characters of "
                     "UTF-8 text, no blanks, '/', ':' or control characters)");
    char longname[200];
    memset(longname, 'n', sizeof longname - 1);
    longname[sizeof longname - 1] = '\0';
    ck_assert_int_eq(sq_check_name("layer", longname, &err), -1);
    ck_assert_ptr_nonnull(strstr(err.msg, "nnn...'"));
    longname[128] = '\0';
    ck_assert_int_eq(sq_check_name("layer", longname, &err), -1);
    longname[127] = '\0';
    ck_assert_int_eq(sq_check_name("layer", longname, &err), 0);
}
END_TEST

/* ---- the interrupt flag ------------------------------------------------------ */

START_TEST(poll_reads_the_sessions_flag)
{
    volatile int flag = 0;
    ck_assert_int_eq(sq_poll(&err), 0);
    sq_session *s = sq_session_new();
    sq_set_interrupt_flag(s, &flag);
    ck_assert_int_eq(sq_poll(&err), 0);
    flag = 1;
    ck_assert_int_eq(sq_poll(&err), -1);
    ck_assert_str_eq(err.msg, "Interrupted");
    ck_assert_int_eq(sq_interrupted(), 1);
    /* a freed session's flag is no longer watched */
    sq_session_free(s);
    ck_assert_int_eq(sq_poll(&err), 0);
    ck_assert(sq_interrupt_flag() == NULL);
}
END_TEST

/* ---- the default memory limit -------------------------------------------------- */

static char dir[256];

static void put(const char *rel, const char *text)
{
    char p[512], cmd[600];
    snprintf(p, sizeof p, "%s/%s", dir, rel);
    snprintf(cmd, sizeof cmd, "mkdir -p \"$(dirname '%s')\"", p);
    ck_assert_int_eq(system(cmd), 0);
    FILE *f = fopen(p, "w");
    ck_assert_ptr_nonnull(f);
    fputs(text, f);
    fclose(f);
}

static unsigned long long limit_of(const char *proc)
{
    char pc[512], root[512];
    put("proc", proc);
    snprintf(pc, sizeof pc, "%s/proc", dir);
    snprintf(root, sizeof root, "%s/fs", dir);
    return sq_cgroup_memory_limit(pc, root);
}

START_TEST(cgroup_limits_are_found)
{
    strcpy(dir, "/tmp/check_base_XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(dir));
    /* v2: the smallest memory.max from the process's cgroup up */
    put("fs/user.slice/memory.max", "max\n");
    put("fs/user.slice/job/memory.max", "524288000\n");
    put("fs/user.slice/job/step/memory.max", "max\n");
    ck_assert(limit_of("0::/user.slice/job/step\n") == 524288000ULL);
    put("fs/user.slice/memory.max", "400000000\n");
    ck_assert(limit_of("0::/user.slice/job/step\n") == 400000000ULL);
    /* none set: no limit */
    ck_assert(limit_of("0::/elsewhere\n") == ULLONG_MAX);
    /* inside a cgroup namespace the path is "/" and the mount is its own */
    put("fs/memory.max", "300000000\n");
    ck_assert(limit_of("0::/\n") == 300000000ULL);
    /* v1: the memory controller's memory.limit_in_bytes; its "no limit" is huge */
    put("fs/memory/docker/abc/memory.limit_in_bytes", "268435456\n");
    put("fs/memory/docker/memory.limit_in_bytes", "9223372036854771712\n");
    ck_assert(limit_of("5:cpu,cpuacct:/docker/abc\n4:memory:/docker/abc\n") == 268435456ULL);
    ck_assert(limit_of("4:memory:/docker\n") == ULLONG_MAX);
    ck_assert(limit_of("garbage\n\n:::\n") == ULLONG_MAX);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    ck_assert_int_eq(system(cmd), 0);
}
END_TEST

/* Big blocks freed with sq_free come back to the next big allocation of
 * about their size (the memory already faulted in), past the small ones
 * made in between; sq_calloc's comes back zeroed; a refused allocation
 * (fault injection) loses none; a request none fits frees them and gets
 * memory of its own. */
START_TEST(big_blocks_are_kept_for_the_next)
{
    const size_t mib = (size_t)1 << 20;
    unsigned char *p = sq_malloc(20 * mib);
    ck_assert_ptr_nonnull(p);
    memset(p, 0xAB, 20 * mib);
    sq_free(p);
    ck_assert_int_eq(sq_kept_blocks(), 1);
    void *small = sq_malloc(mib);   /* not from the kept block */
    ck_assert_ptr_nonnull(small);
    ck_assert(small != (void *)p);
    unsigned char *q = sq_malloc(18 * mib);
    ck_assert_ptr_eq(q, p);
    sq_free(q);
    sq_alloc_fail_after(0);
    ck_assert_ptr_null(sq_malloc(20 * mib));
    sq_alloc_fail_after(-1);
    unsigned char *c = sq_calloc(5 * mib, 4);
    ck_assert_ptr_eq(c, p);
    for (size_t i = 0; i < 20 * mib; i++)
        if (c[i])
            ck_abort_msg("byte %zu of a reused sq_calloc block is %d", i, c[i]);
    sq_free(c);
    /* too big for it: gets memory of its own */
    unsigned char *b = sq_malloc(40 * mib);
    ck_assert_ptr_nonnull(b);
    b[40 * mib - 1] = 1;
    sq_free(b);
    /* under half the kept one's size: not given it */
    unsigned char *h = sq_malloc(17 * mib);
    ck_assert_ptr_nonnull(h);
    ck_assert(h != b);
    h[17 * mib - 1] = 1;
    sq_free(h);
    sq_free(small);
    /* no more kept than the memory limit; a new limit gives them back */
    sq_free_kept();
    size_t was = sq_get_memory_limit();
    sq_set_memory_limit(30 * mib);
    void *k1 = sq_malloc(20 * mib), *k2 = sq_malloc(20 * mib);
    ck_assert(k1 && k2);
    sq_free(k1);
    sq_free(k2);
    ck_assert_int_eq(sq_kept_blocks(), 1);
    sq_set_memory_limit(was);
    ck_assert_int_eq(sq_kept_blocks(), 0);
}
END_TEST

START_TEST(default_limit_is_half_the_smallest)
{
    unsigned long long g = 1ULL << 30, none = ULLONG_MAX;
    ck_assert(sq_default_memory_limit(16 * g, none, none) == 8 * g);
    ck_assert(sq_default_memory_limit(16 * g, 500000000ULL, none) == 250000000ULL);
    ck_assert(sq_default_memory_limit(16 * g, 4 * g, 2 * g) == g);
    ck_assert(sq_default_memory_limit(none, none, none) == 8 * g);
    ck_assert(sq_default_memory_limit(16 * g, 1000, none) == 1 << 20);
}
END_TEST

int main(void)
{
    Suite *su = suite_create("base");
    TCase *tc = tcase_create("base");
    tcase_add_test(tc, counts_are_exact_up_to_the_limit);
    tcase_add_test(tc, overflows_name_the_dimensions);
    tcase_add_test(tc, shape_check_allows_none);
    tcase_add_test(tc, text_span_stops_at_what_a_terminal_acts_on);
    tcase_add_test(tc, escape_shows_control_bytes);
    tcase_add_test(tc, names_refuse_control_characters);
    tcase_add_test(tc, poll_reads_the_sessions_flag);
    tcase_add_test(tc, cgroup_limits_are_found);
    tcase_add_test(tc, default_limit_is_half_the_smallest);
    tcase_add_test(tc, big_blocks_are_kept_for_the_next);
    suite_add_tcase(su, tc);
    return run_suite(su);
}
