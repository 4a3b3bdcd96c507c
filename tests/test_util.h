/* test_util.h - helpers the engine's Check suites share. */
#ifndef SEQSH_TEST_UTIL_H
#define SEQSH_TEST_UTIL_H

#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include "seqsh/engine.h"

/* Deterministic test data: xorshift64*, one stream per test program. */
static inline uint64_t *trng_state_at(void)
{
    static uint64_t state = 0x9e3779b97f4a7c15ULL;
    return &state;
}

static inline void trng_seed(uint64_t s)
{
    *trng_state_at() = s * 0x9e3779b97f4a7c15ULL + 1;
}

/* the next 64 random bits */
static inline uint64_t trng_u64(void)
{
    uint64_t *st = trng_state_at();
    *st ^= *st >> 12;
    *st ^= *st << 25;
    *st ^= *st >> 27;
    return *st * 0x2545f4914f6cdd1dULL;
}

/* uniform in [lo, hi) */
static inline double drand(double lo, double hi)
{
    double u = (double)(trng_u64() >> 11) / 9007199254740992.0;
    return lo + (hi - lo) * u;
}

/* `add` from one line of words: "conv2d 8 3 strides=2 relu". */
static inline int add_line(sq_session *s, const char *line, sq_error *err)
{
    char buf[512], *argv[32];
    int argc = 0;
    snprintf(buf, sizeof buf, "%s", line);
    for (char *t = strtok(buf, " "); t && argc < 32; t = strtok(NULL, " "))
        argv[argc++] = t;
    return sq_add(s, argv[0], argc - 1, argv + 1, err);
}

/* Runs a suite and returns main's exit status. */
static inline int run_suite(Suite *su)
{
    SRunner *sr = srunner_create(su);
    srunner_run_all(sr, CK_ENV);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}

#endif
