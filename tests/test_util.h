/* test_util.h - helpers the engine's Check suites share. */
#ifndef SEQSH_TEST_UTIL_H
#define SEQSH_TEST_UTIL_H

#include <stdio.h>
#include <string.h>
#include "seqsh/engine.h"

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
