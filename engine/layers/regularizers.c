/* regularizers.c - Keras 2.6's weight and activity penalties
 * (keras/regularizers.py): l1, l2 and l1_l2, each l1 * sum(|w|) +
 * l2 * sum(w^2) with no factor 1/2. The factors are float32, as
 * backend.cast_to_floatx makes them. `l1_l2` takes the function's defaults
 * (both 0.01), also when spelled L1L2 (the class, whose defaults are 0):
 * names are matched ignoring case and underscores. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "layers/layer.h"

static const struct {
    int kind;
    const char *names[3];
    const char *params[3];
    const char *help;
} regs[] = {
    { SQ_REG_L1, { "l1", "L1" }, { "l1" },
      "l1 * sum(|w|), l1 default 0.01: pushes weights to exactly 0" },
    { SQ_REG_L2, { "l2", "L2" }, { "l2" },
      "l2 * sum(w^2), l2 default 0.01 (weight decay; no factor 1/2)" },
    { SQ_REG_L1L2, { "l1_l2", "L1L2" }, { "l1", "l2" },
      "l1 * sum(|w|) + l2 * sum(w^2); both default 0.01, as the function "
      "keras.regularizers.l1_l2 (the class L1L2 defaults to 0, but the names are one "
      "name here)" },
};
#define NREGS (int)(sizeof regs / sizeof *regs)

static int find(const char *name)
{
    for (int i = 0; i < NREGS; i++)
        for (int j = 0; regs[i].names[j]; j++)
            if (sq_names_match(regs[i].names[j], name))
                return i;
    return -1;
}

const char *sq_regularizer_name_at(int i, const char **aliases)
{
    if (i < 0 || i >= NREGS)
        return NULL;
    if (aliases)
        *aliases = regs[i].names[1];
    return regs[i].names[0];
}

char *sq_regularizer_help(const char *name)
{
    int i = find(name);
    if (i < 0)
        return NULL;
    sbuf b = { 0 };
    sb_printf(&b, "%s (keras.regularizers.%s): %s.\n\nusage: %s or %s(", regs[i].names[0],
              regs[i].names[1], regs[i].help, regs[i].names[0], regs[i].names[0]);
    for (int p = 0; regs[i].params[p]; p++)
        sb_printf(&b, "%s%s=...", p ? ", " : "", regs[i].params[p]);
    sb_printf(&b, ")\nfor: kernel_regularizer=, bias_regularizer= (and the other "
              "WEIGHT_regularizer= options of a layer): the penalty of the weight, computed "
              "from the current weights at every step, is added to the loss that is "
              "optimised, to the loss fit reports, to evaluate's and to val_loss (a frozen "
              "layer's too, as in Keras); activity_regularizer=: the penalty of the layer's "
              "output (after its activation) divided by the batch size.\n\n"
              "example: add dense 64 relu kernel_regularizer=%s\n",
              i == 0 ? "l1(0.001)" : i == 1 ? "l2(0.001)" : "l1_l2(l1=0.001,l2=0.001)");
    return sb_finish(&b, NULL);
}

/* _check_penalty_number: Keras's words for a bad factor. */
static int factor(sq_args *a, const char *key, double *v, sq_error *err)
{
    const char *t = sq_arg(a, key);
    if (!t)
        return 0;
    sq_error e2;
    double x;
    if (sq_check_double(a->cmd, key, t, -HUGE_VAL, HUGE_VAL, &x, &e2) < 0) {
        char *end;
        double y = strtod(t, &end);
        if (end != t && !*end && !isfinite(y))
            return sq_fail(err, "Value: %s is not a valid regularization penalty number, a "
                           "positive/negative infinity or NaN is not a property value",
                           isnan(y) ? "nan" : y < 0 ? "-inf" : "inf");
        return sq_fail(err, "Value: %s is not a valid regularization penalty number, "
                       "expected an int or float value", t);
    }
    *v = (double)(float)x;
    return 0;
}

int sq_regularizer_parse(const char *text, sq_regularizer *out, sq_error *err)
{
    sq_callform c;
    if (sq_call_parse(&c, text, err) < 0) {
        if (!c.name[0])   /* not a name at all: a number, a list */
            return sq_fail(err, "Could not interpret regularizer identifier: %s", text);
        return -1;
    }
    int i = find(c.name);
    if (i < 0)
        return sq_fail(err, "Unknown regularizer: %s. Please ensure this object is passed to "
                       "the `custom_objects` argument. See https://www.tensorflow.org/guide/"
                       "keras/save_and_serialize#registering_the_custom_object for details.",
                       c.name);
    if (sq_call_bind(&c, regs[i].names[1], regs[i].params, err) < 0)
        return -1;
    sq_regularizer r = { 0, 0, regs[i].kind };
    double l1 = (double)0.01f, l2 = (double)0.01f;
    if (regs[i].kind != SQ_REG_L2 && factor(&c.a, "l1", &l1, err) < 0)
        return -1;
    if (regs[i].kind != SQ_REG_L1 && factor(&c.a, "l2", &l2, err) < 0)
        return -1;
    if (sq_args_finish(&c.a, err) < 0)
        return -1;
    if (regs[i].kind != SQ_REG_L2)
        r.l1 = l1;
    if (regs[i].kind != SQ_REG_L1)
        r.l2 = l2;
    *out = r;
    return 0;
}

/* The shortest decimal that is float32 v, as Python writes the number:
 * "0.01", "0.0001", "1e-05". */
static const char *f32_text(float v, char *buf, size_t n)
{
    char t[32];
    for (int p = 1; p <= 9; p++) {
        snprintf(t, sizeof t, "%.*g", p, (double)v);
        if ((float)strtod(t, NULL) == v)
            break;
    }
    return sq_py_float(strtod(t, NULL), buf, n);
}

void sq_regularizer_text(const sq_regularizer *r, char *buf, size_t n)
{
    char a[48], b[48];
    f32_text((float)r->l1, a, sizeof a);
    f32_text((float)r->l2, b, sizeof b);
    if (r->form == SQ_REG_L1)
        snprintf(buf, n, "l1(%s)", a);
    else if (r->form == SQ_REG_L2)
        snprintf(buf, n, "l2(%s)", b);
    else
        snprintf(buf, n, "l1_l2(l1=%s,l2=%s)", a, b);
}

double sq_regularizer_value(const sq_regularizer *r, const float *w, size_t n)
{
    double s1 = 0, s2 = 0;
    for (size_t i = 0; i < n; i++) {
        s1 += fabsf(w[i]);
        s2 += (double)w[i] * w[i];
    }
    return r->l1 * s1 + r->l2 * s2;
}

/* The weight-penalty pass of every training step: one loop that reads w
 * and updates g, in blocks whose 16 partial sums vectorise (float lanes,
 * added up in double per block). */
#define LANES 16
#define BLOCK 4096

SQ_VECTOR_CLONES static void pen_block(const float *restrict w, float *restrict g, size_t n,
                                       float a, float b, float *restrict s1,
                                       float *restrict s2)
{
    size_t i = 0;
    for (int k = 0; k < LANES; k++)
        s1[k] = s2[k] = 0;
    if (a == 0) {
        for (; i + LANES <= n; i += LANES)
            for (int k = 0; k < LANES; k++) {
                float x = w[i + k];
                g[i + k] += b * x;
                s2[k] += x * x;
            }
    } else {
        for (; i + LANES <= n; i += LANES)
            for (int k = 0; k < LANES; k++) {
                float x = w[i + k];
                float sg = (float)(x > 0) - (float)(x < 0);
                g[i + k] += a * sg + b * x;
                s1[k] += fabsf(x);
                s2[k] += x * x;
            }
    }
    for (; i < n; i++) {
        float x = w[i];
        float sg = (float)(x > 0) - (float)(x < 0);
        g[i] += a * sg + b * x;
        s1[0] += fabsf(x);
        s2[0] += x * x;
    }
}

double sq_regularizer_add_grad(const sq_regularizer *r, const float *w, float *g, size_t n,
                               float scale)
{
    const float a = (float)r->l1 * scale, b = 2.0f * (float)r->l2 * scale;
    float s1[LANES], s2[LANES];
    double t1 = 0, t2 = 0;
    for (size_t at = 0; at < n; at += BLOCK) {
        size_t m = n - at < BLOCK ? n - at : BLOCK;
        pen_block(w + at, g + at, m, a, b, s1, s2);
        for (int k = 0; k < LANES; k++) {
            t1 += s1[k];
            t2 += s2[k];
        }
    }
    if (r->l1 == 0)
        t1 = 0;
    return r->l1 * t1 + r->l2 * t2;
}

/* out = g + the penalty's gradient at w, for a chunk the optimizer then
 * reads (the same arithmetic as sq_regularizer_add_grad); the penalty's
 * two sums go to *s1 and *s2. */
SQ_VECTOR_CLONES static void pen_into(const float *restrict w, const float *restrict g,
                                      float *restrict out, size_t n, float a, float b,
                                      float *restrict s1, float *restrict s2)
{
    size_t i = 0;
    for (int k = 0; k < LANES; k++)
        s1[k] = s2[k] = 0;
    for (; i + LANES <= n; i += LANES)
        for (int k = 0; k < LANES; k++) {
            float x = w[i + k];
            float sg = (float)(x > 0) - (float)(x < 0);
            out[i + k] = g[i + k] + (a * sg + b * x);
            s1[k] += fabsf(x);
            s2[k] += x * x;
        }
    for (; i < n; i++) {
        float x = w[i];
        float sg = (float)(x > 0) - (float)(x < 0);
        out[i] = g[i] + (a * sg + b * x);
        s1[0] += fabsf(x);
        s2[0] += x * x;
    }
}

double sq_regularizer_grad_into(const sq_regularizer *r, const float *w, const float *g,
                                float *out, size_t n)
{
    float s1[LANES], s2[LANES];
    double t1 = 0, t2 = 0;
    pen_into(w, g, out, n, (float)r->l1, 2.0f * (float)r->l2, s1, s2);
    for (int k = 0; k < LANES; k++) {
        t1 += s1[k];
        t2 += s2[k];
    }
    return r->l1 * t1 + r->l2 * t2;
}
