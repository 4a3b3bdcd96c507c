/* schedule.h - learning-rate schedules (engine-internal). */
#ifndef SEQSH_SCHEDULE_H
#define SEQSH_SCHEDULE_H

#include "base/base.h"

#define SQ_SCHEDULE_MAX_PIECES 32

enum { S_NONE, S_EXPONENTIAL, S_PIECEWISE, S_POLYNOMIAL, S_INVERSE_TIME, S_COSINE };

typedef struct {
    int kind;
    double lr0, steps, rate, end, power, alpha;
    int staircase, cycle;
    int nb;                                  /* piecewise: boundaries */
    double b[SQ_SCHEDULE_MAX_PIECES], v[SQ_SCHEDULE_MAX_PIECES + 1];
} sq_schedule;

/* Whether text is written as a schedule (a name, not a number). */
int sq_schedule_is(const char *text);
/* Parses "exponential_decay(0.1, decay_steps=10, decay_rate=0.5)", ...
 * (names ignoring case and underscores); Keras's errors. */
int sq_schedule_parse(const char *text, sq_schedule *s, sq_error *err);
/* The learning rate at optimizer step `step` (the updates made so far). */
double sq_schedule_lr(const sq_schedule *s, long long step);
const char *sq_schedule_name_at(int i, const char **aliases);
char *sq_schedule_help(const char *name);

#endif
