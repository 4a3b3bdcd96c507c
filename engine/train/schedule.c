/* schedule.c - Keras 2.6's learning-rate schedules
 * (keras/optimizer_v2/learning_rate_schedule.py), written as
 * `learning_rate=NAME(...)` in compile. The optimizer asks for the rate
 * at step = optimizer.iterations, the number of updates made so far (the
 * first batch uses step 0); it counts batches across epochs and fits and
 * restarts only when compile makes a new optimizer. Computed in double,
 * rounded to float32 by the optimizer. */
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include "train/schedule.h"

static const struct {
    int kind;
    const char *names[3];
    const char *params[7];
    const char *formula;
} scheds[] = {
    { S_EXPONENTIAL, { "exponential_decay", "ExponentialDecay" },
      { "initial_learning_rate", "decay_steps", "decay_rate", "staircase", "name" },
      "initial_learning_rate * decay_rate ^ (step / decay_steps), the exponent floored "
      "when staircase=true" },
    { S_PIECEWISE, { "piecewise_constant_decay", "PiecewiseConstantDecay" },
      { "boundaries", "values", "name" },
      "values[i] for the first i with step <= boundaries[i], else the last value; "
      "one more value than boundaries" },
    { S_POLYNOMIAL, { "polynomial_decay", "PolynomialDecay" },
      { "initial_learning_rate", "decay_steps", "end_learning_rate", "power", "cycle", "name" },
      "(initial_learning_rate - end_learning_rate) * (1 - min(step, decay_steps) / "
      "decay_steps) ^ power + end_learning_rate (defaults 0.0001 and 1.0); cycle=true "
      "stretches decay_steps to the next multiple past step instead" },
    { S_INVERSE_TIME, { "inverse_time_decay", "InverseTimeDecay" },
      { "initial_learning_rate", "decay_steps", "decay_rate", "staircase", "name" },
      "initial_learning_rate / (1 + decay_rate * step / decay_steps), the ratio floored "
      "when staircase=true" },
    { S_COSINE, { "cosine_decay", "CosineDecay" },
      { "initial_learning_rate", "decay_steps", "alpha", "name" },
      "initial_learning_rate * ((1 - alpha) * 0.5 (1 + cos(pi min(step, decay_steps) / "
      "decay_steps)) + alpha), alpha default 0.0" },
};
#define NSCHED (int)(sizeof scheds / sizeof *scheds)

static int find(const char *name)
{
    for (int i = 0; i < NSCHED; i++)
        for (int j = 0; scheds[i].names[j]; j++)
            if (sq_names_match(scheds[i].names[j], name))
                return i;
    return -1;
}

const char *sq_schedule_name_at(int i, const char **aliases)
{
    if (i < 0 || i >= NSCHED)
        return NULL;
    if (aliases)
        *aliases = scheds[i].names[1];
    return scheds[i].names[0];
}

char *sq_schedule_help(const char *name)
{
    int i = find(name);
    if (i < 0)
        return NULL;
    sbuf b = { 0 };
    sb_printf(&b, "%s (keras.optimizers.schedules.%s): a learning rate that changes with the "
              "step: %s.\n\nusage: compile ... learning_rate=%s(", scheds[i].names[0],
              scheds[i].names[1], scheds[i].formula, scheds[i].names[0]);
    for (int p = 0; scheds[i].params[p] && strcmp(scheds[i].params[p], "name"); p++)
        sb_printf(&b, "%s%s", p ? ", " : "", scheds[i].params[p]);
    sb_printf(&b, ")\nstep is the number of updates the optimizer has made (batches, not "
              "epochs; the first batch uses step 0); it carries over later fits and save/load "
              "and starts again at compile. Nadam takes no schedule (Keras 2.6 refuses it).\n\n"
              "example: compile optimizer=sgd loss=mse learning_rate=%s\n",
              i == 0 ? "exponential_decay(0.1,decay_steps=100,decay_rate=0.5)"
              : i == 1 ? "piecewise_constant_decay(boundaries=[100,200],values=[0.1,0.01,0.001])"
              : i == 2 ? "polynomial_decay(0.1,decay_steps=1000)"
              : i == 3 ? "inverse_time_decay(0.1,decay_steps=100,decay_rate=0.5)"
              : "cosine_decay(0.1,decay_steps=1000)");
    return sb_finish(&b, NULL);
}

int sq_schedule_is(const char *text)
{
    while (isspace((unsigned char)*text))
        text++;
    if (!isalpha((unsigned char)*text) && *text != '_')
        return 0;
    if (strchr(text, '('))
        return 1;
    return find(text) >= 0;
}

/* A required argument of the constructor. */
static int need(sq_args *a, const char *cls, const char *key, double *v, double lo,
                sq_error *err)
{
    if (!sq_arg(a, key))
        return sq_fail(err, "%s.__init__() missing 1 required positional argument: '%s'", cls,
                       key);
    return sq_arg_double(a, key, lo, HUGE_VAL, v, err);
}

int sq_schedule_parse(const char *text, sq_schedule *s, sq_error *err)
{
    sq_callform c;
    if (sq_call_parse(&c, text, err) < 0)
        return -1;
    int i = find(c.name);
    if (i < 0)
        return sq_fail(err, "Unknown decay: %s. Please ensure this object is passed to the "
                       "`custom_objects` argument. See https://www.tensorflow.org/guide/keras/"
                       "save_and_serialize#registering_the_custom_object for details.", c.name);
    const char *cls = scheds[i].names[1];
    if (sq_call_bind(&c, cls, scheds[i].params, err) < 0)
        return -1;
    sq_schedule v;
    memset(&v, 0, sizeof v);
    v.kind = scheds[i].kind;
    v.end = 0.0001;
    v.power = 1.0;
    (void)sq_arg(&c.a, "name");
    switch (v.kind) {
    case S_PIECEWISE: {
        const char *b = sq_arg(&c.a, "boundaries"), *vals = sq_arg(&c.a, "values");
        if (!b || !vals)
            return sq_fail(err, "%s.__init__() missing 1 required positional argument: '%s'",
                           cls, b ? "values" : "boundaries");
        int nv;
        if (sq_check_doubles(cls, "boundaries", b, v.b, SQ_SCHEDULE_MAX_PIECES, &v.nb, err) < 0
            || sq_check_doubles(cls, "values", vals, v.v, SQ_SCHEDULE_MAX_PIECES + 1, &nv,
                                err) < 0)
            return -1;
        if (v.nb != nv - 1)
            return sq_fail(err, "The length of boundaries should be 1 less than the length of "
                           "values");
        for (int k = 0; k < v.nb; k++)
            v.b[k] = trunc(v.b[k]);   /* cast to the step's int64 */
        break;
    }
    default:
        if (need(&c.a, cls, "initial_learning_rate", &v.lr0, -HUGE_VAL, err) < 0
            || need(&c.a, cls, "decay_steps", &v.steps, -HUGE_VAL, err) < 0)
            return -1;
        /* Keras divides by it unchecked; seqsh keeps the rate finite */
        if (!(v.steps > 0))
            return sq_fail(err, "%s: `decay_steps` must be > 0, got '%s'", cls,
                           sq_arg(&c.a, "decay_steps"));
        if (v.kind == S_EXPONENTIAL || v.kind == S_INVERSE_TIME) {
            if (need(&c.a, cls, "decay_rate", &v.rate, -HUGE_VAL, err) < 0
                || sq_arg_bool(&c.a, "staircase", &v.staircase, err) < 0)
                return -1;
        } else if (v.kind == S_POLYNOMIAL) {
            if (sq_arg_double(&c.a, "end_learning_rate", -HUGE_VAL, HUGE_VAL, &v.end, err) < 0
                || sq_arg_double(&c.a, "power", -HUGE_VAL, HUGE_VAL, &v.power, err) < 0
                || sq_arg_bool(&c.a, "cycle", &v.cycle, err) < 0)
                return -1;
        } else if (sq_arg_double(&c.a, "alpha", -HUGE_VAL, HUGE_VAL, &v.alpha, err) < 0) {
            return -1;
        }
        break;
    }
    if (sq_args_finish(&c.a, err) < 0)
        return -1;
    *s = v;
    return 0;
}

double sq_schedule_lr(const sq_schedule *s, long long step)
{
    double t = (double)step, p;
    switch (s->kind) {
    case S_EXPONENTIAL:
        p = t / s->steps;
        if (s->staircase)
            p = floor(p);
        return s->lr0 * pow(s->rate, p);
    case S_PIECEWISE:
        for (int k = 0; k < s->nb; k++)
            if (t <= s->b[k])
                return s->v[k];
        return s->v[s->nb];
    case S_POLYNOMIAL: {
        double steps = s->steps;
        if (s->cycle)
            steps *= t == 0 ? 1.0 : ceil(t / s->steps);
        else if (t > steps)
            t = steps;
        return (s->lr0 - s->end) * pow(1 - t / steps, s->power) + s->end;
    }
    case S_INVERSE_TIME:
        p = t / s->steps;
        if (s->staircase)
            p = floor(p);
        return s->lr0 / (1 + s->rate * p);
    case S_COSINE: {
        if (t > s->steps)
            t = s->steps;
        double cd = 0.5 * (1 + cos(3.14159265358979323846 * t / s->steps));
        return s->lr0 * ((1 - s->alpha) * cd + s->alpha);
    }
    }
    return 0;
}
