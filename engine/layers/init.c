/* init.c - weight initialisation: every Keras 2.6 initializer
 * (keras/initializers/initializers_v2.py), drawn from the session's seeded
 * generator, or from the initializer's own when it was given seed=.
 *
 * The numbers cannot be TensorFlow's (another generator); the
 * distributions are: VarianceScaling divides scale by the fan (fan_in,
 * fan_out or their mean, at least 1) and draws a normal truncated at two
 * standard deviations with stddev sqrt(scale)/.87962566103423978 (so the
 * samples' std is sqrt(scale)), an untruncated normal with stddev
 * sqrt(scale), or a uniform in +-sqrt(3 scale); glorot_* are scale 1 over
 * fan_avg, he_* scale 2 over fan_in, lecun_* scale 1 over fan_in.
 * TruncatedNormal redraws what falls beyond two standard deviations.
 * Orthogonal takes the QR of a normal (max(r,c), min(r,c)) matrix for a
 * weight flattened to (r = all dims but the last, c = the last), turns
 * the columns by the signs of R's diagonal, and transposes when r < c. */
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "layers/layer.h"
#include "kernels/blas.h"

size_t sq_weight_count(const sq_weight_spec *w)
{
    return sq_shape_count(&w->shape);
}

/* keras initializers _compute_fans */
static void fans(const sq_shape *sh, double *fan_in, double *fan_out)
{
    if (sh->rank == 0) {
        *fan_in = *fan_out = 1;
    } else if (sh->rank == 1) {
        *fan_in = *fan_out = (double)sh->d[0];
    } else if (sh->rank == 2) {
        *fan_in = (double)sh->d[0];
        *fan_out = (double)sh->d[1];
    } else {
        double receptive = 1;
        for (int i = 0; i < sh->rank - 2; i++)
            receptive *= (double)sh->d[i];
        *fan_in = receptive * (double)sh->d[sh->rank - 2];
        *fan_out = receptive * (double)sh->d[sh->rank - 1];
    }
}

/* ---- the table ------------------------------------------------------------ */

#define MAX_NAMES 4
static const struct {
    int kind;
    const char *names[MAX_NAMES + 1];   /* the function name first, then aliases */
    const char *params[5];              /* positional order of the constructor */
    const char *help;
} inits[] = {
    { INIT_GLOROT_UNIFORM, { "glorot_uniform", "GlorotUniform" }, { "seed" },
      "uniform in +-sqrt(6 / (fan_in + fan_out)) (Xavier uniform); the default kernel "
      "initializer" },
    { INIT_GLOROT_NORMAL, { "glorot_normal", "GlorotNormal" }, { "seed" },
      "truncated normal with stddev sqrt(2 / (fan_in + fan_out)) (Xavier normal)" },
    { INIT_HE_NORMAL, { "he_normal", "HeNormal" }, { "seed" },
      "truncated normal with stddev sqrt(2 / fan_in), for relu layers" },
    { INIT_HE_UNIFORM, { "he_uniform", "HeUniform" }, { "seed" },
      "uniform in +-sqrt(6 / fan_in)" },
    { INIT_LECUN_NORMAL, { "lecun_normal", "LecunNormal" }, { "seed" },
      "truncated normal with stddev sqrt(1 / fan_in), for selu layers" },
    { INIT_LECUN_UNIFORM, { "lecun_uniform", "LecunUniform" }, { "seed" },
      "uniform in +-sqrt(3 / fan_in)" },
    { INIT_ORTHOGONAL, { "orthogonal", "Orthogonal" }, { "gain", "seed" },
      "a random orthogonal matrix times gain (default 1.0): orthonormal columns, or rows "
      "when there are more columns; the weight is seen as (all dims but the last, last)" },
    { INIT_ZEROS, { "zeros", "Zeros", "zero" }, { NULL },
      "all 0; the default bias initializer" },
    { INIT_ONES, { "ones", "Ones", "one" }, { NULL }, "all 1" },
    { INIT_CONSTANT, { "constant", "Constant" }, { "value" },
      "every value the same: constant(0.1) (default 0)" },
    { INIT_RANDOM_NORMAL, { "random_normal", "RandomNormal", "normal" },
      { "mean", "stddev", "seed" },
      "normal with mean (default 0.0) and stddev (default 0.05), not truncated" },
    { INIT_RANDOM_UNIFORM, { "random_uniform", "RandomUniform", "uniform" },
      { "minval", "maxval", "seed" },
      "uniform in [minval, maxval) (default -0.05, 0.05)" },
    { INIT_TRUNCATED_NORMAL, { "truncated_normal", "TruncatedNormal" },
      { "mean", "stddev", "seed" },
      "normal with mean (default 0.0) and stddev (default 0.05), values beyond two stddev "
      "drawn again (so the samples' std is 0.88 stddev)" },
    { INIT_VARIANCE_SCALING, { "variance_scaling", "VarianceScaling" },
      { "scale", "mode", "distribution", "seed" },
      "scale (default 1.0) divided by the fan of mode (fan_in, fan_out or fan_avg; default "
      "fan_in); distribution truncated_normal (default; 'normal' is the same), "
      "untruncated_normal or uniform" },
    { INIT_IDENTITY, { "identity", "Identity" }, { "gain" },
      "gain (default 1.0) times the identity matrix; 2-D weights only" },
};
#define NINITS (int)(sizeof inits / sizeof *inits)

static int find(const char *name)
{
    for (int i = 0; i < NINITS; i++)
        for (int j = 0; inits[i].names[j]; j++)
            if (sq_names_match(inits[i].names[j], name))
                return i;
    return -1;
}

const char *sq_init_name(int kind)
{
    for (int i = 0; i < NINITS; i++)
        if (inits[i].kind == kind)
            return inits[i].names[0];
    return "?";
}

const char *sq_initializer_name_at(int i, const char **aliases)
{
    static char buf[128];
    if (i < 0 || i >= NINITS)
        return NULL;
    if (aliases) {
        size_t k = 0;
        buf[0] = '\0';
        for (int j = 1; inits[i].names[j] && k + 1 < sizeof buf; j++)
            k += (size_t)snprintf(buf + k, sizeof buf - k, "%s%s", j > 1 ? ", " : "",
                                  inits[i].names[j]);
        *aliases = buf;
    }
    return inits[i].names[0];
}

char *sq_initializer_help(const char *name)
{
    int i = find(name);
    if (i < 0)
        return NULL;
    sbuf b = { 0 };
    sb_printf(&b, "%s (keras.initializers.%s): %s.\n\nusage: %s", inits[i].names[0],
              inits[i].names[1], inits[i].help, inits[i].names[0]);
    if (inits[i].params[0]) {
        sb_printf(&b, " or %s(", inits[i].names[0]);
        for (int p = 0; inits[i].params[p]; p++)
            sb_printf(&b, "%s%s=...", p ? ", " : "", inits[i].params[p]);
        sb_printf(&b, ")");
    }
    sb_printf(&b, "\nfor: kernel_initializer=, bias_initializer= and the other WEIGHT_initializer= "
              "options of a layer; seed= gives the initializer its own generator, otherwise "
              "the session's (see 'seed') draws it.\n\nexample: add dense 64 relu "
              "kernel_initializer=%s\n", inits[i].names[0]);
    return sb_finish(&b, NULL);
}

/* ---- parsing ----------------------------------------------------------------- */

static int fail_unknown(const char *name, sq_error *err)
{
    return sq_fail(err, "Unknown initializer: %s. Please ensure this object is passed to the "
                   "`custom_objects` argument. See https://www.tensorflow.org/guide/keras/"
                   "save_and_serialize#registering_the_custom_object for details.", name);
}

int sq_initializer_parse(const char *text, sq_initializer *out, sq_error *err)
{
    sq_callform c;
    if (sq_call_parse(&c, text, err) < 0) {
        if (!c.name[0])   /* not a name at all: a number, a list */
            return sq_fail(err, "Could not interpret initializer identifier: %s", text);
        return -1;
    }
    int i = find(c.name);
    if (i < 0)
        return fail_unknown(c.name, err);
    const char *cls = inits[i].names[1];
    if (sq_call_bind(&c, cls, inits[i].params, err) < 0)
        return -1;
    sq_initializer v = { .kind = inits[i].kind };
    long seed = -1;
    if (sq_arg_long(&c.a, "seed", 0, LONG_MAX, &seed, err) < 0)
        return -1;
    if (seed >= 0) {
        v.seeded = 1;
        v.seed = (unsigned long long)seed;
    }
    switch (v.kind) {
    case INIT_ORTHOGONAL:
    case INIT_IDENTITY:
        v.a = 1.0;
        if (sq_arg_double(&c.a, "gain", -HUGE_VAL, HUGE_VAL, &v.a, err) < 0)
            return -1;
        break;
    case INIT_CONSTANT:
        if (sq_arg_double(&c.a, "value", -HUGE_VAL, HUGE_VAL, &v.a, err) < 0)
            return -1;
        break;
    case INIT_RANDOM_NORMAL:
    case INIT_TRUNCATED_NORMAL:
        v.a = 0.0;
        v.b = 0.05;
        if (sq_arg_double(&c.a, "mean", -HUGE_VAL, HUGE_VAL, &v.a, err) < 0
            || sq_arg_double(&c.a, "stddev", 0, HUGE_VAL, &v.b, err) < 0)
            return -1;
        break;
    case INIT_RANDOM_UNIFORM:
        v.a = -0.05;
        v.b = 0.05;
        if (sq_arg_double(&c.a, "minval", -HUGE_VAL, HUGE_VAL, &v.a, err) < 0
            || sq_arg_double(&c.a, "maxval", -HUGE_VAL, HUGE_VAL, &v.b, err) < 0)
            return -1;
        break;
    case INIT_VARIANCE_SCALING: {
        v.a = 1.0;
        if (sq_arg_double(&c.a, "scale", -HUGE_VAL, HUGE_VAL, &v.a, err) < 0)
            return -1;
        /* VarianceScaling.__init__'s checks, in its order */
        if (!(v.a > 0))
            return sq_fail(err, "`scale` must be positive float.");
        const char *mode = sq_arg(&c.a, "mode"), *dist = sq_arg(&c.a, "distribution");
        static const char *const modes[] = { "fan_in", "fan_out", "fan_avg" };
        v.mode = mode ? -1 : 0;
        for (int m = 0; mode && m < 3; m++)
            if (!strcmp(mode, modes[m]))
                v.mode = m;
        if (v.mode < 0)
            return sq_fail(err, "Invalid `mode` argument: %s", mode);
        char low[32] = "truncated_normal";
        if (dist) {
            size_t k = 0;
            for (; dist[k] && k + 1 < sizeof low; k++)
                low[k] = (char)((dist[k] >= 'A' && dist[k] <= 'Z') ? dist[k] + 32 : dist[k]);
            low[k] = '\0';
            if (!strcmp(low, "normal"))
                strcpy(low, "truncated_normal");
        }
        if (!strcmp(low, "truncated_normal"))
            v.dist = 0;
        else if (!strcmp(low, "untruncated_normal"))
            v.dist = 1;
        else if (!strcmp(low, "uniform"))
            v.dist = 2;
        else
            return sq_fail(err, "Invalid `distribution` argument: %s", low);
        break;
    }
    default:
        break;
    }
    if (sq_args_finish(&c.a, err) < 0)
        return -1;
    *out = v;
    return 0;
}

/* ---- writing ----------------------------------------------------------------- */

/* Appends ",key=value" (or "(key=value" for the first) to buf. */
static void arg_text(char *buf, size_t n, int *first, const char *key, const char *val)
{
    size_t k = strlen(buf);
    if (k < n)
        snprintf(buf + k, n - k, "%s%s=%s", *first ? "(" : ",", key, val);
    *first = 0;
}

static void num_arg(char *buf, size_t n, int *first, const char *key, double v, double def)
{
    char t[48];
    if (v != def)
        arg_text(buf, n, first, key, sq_py_float(v, t, sizeof t));
}

void sq_initializer_text(const sq_initializer *ini, char *buf, size_t n)
{
    static const char *const modes[] = { "fan_in", "fan_out", "fan_avg" };
    static const char *const dists[] = { "truncated_normal", "untruncated_normal", "uniform" };
    int first = 1;
    snprintf(buf, n, "%s", sq_init_name(ini->kind));
    switch (ini->kind) {
    case INIT_ORTHOGONAL:
    case INIT_IDENTITY:
        num_arg(buf, n, &first, "gain", ini->a, 1.0);
        break;
    case INIT_CONSTANT:
        num_arg(buf, n, &first, "value", ini->a, 0.0);
        break;
    case INIT_RANDOM_NORMAL:
    case INIT_TRUNCATED_NORMAL:
        num_arg(buf, n, &first, "mean", ini->a, 0.0);
        num_arg(buf, n, &first, "stddev", ini->b, 0.05);
        break;
    case INIT_RANDOM_UNIFORM:
        num_arg(buf, n, &first, "minval", ini->a, -0.05);
        num_arg(buf, n, &first, "maxval", ini->b, 0.05);
        break;
    case INIT_VARIANCE_SCALING:
        num_arg(buf, n, &first, "scale", ini->a, 1.0);
        if (ini->mode > 0 && ini->mode < 3)
            arg_text(buf, n, &first, "mode", modes[ini->mode]);
        if (ini->dist > 0 && ini->dist < 3)
            arg_text(buf, n, &first, "distribution", dists[ini->dist]);
        break;
    default:
        break;
    }
    if (ini->seeded) {
        char t[32];
        snprintf(t, sizeof t, "%llu", ini->seed);
        arg_text(buf, n, &first, "seed", t);
    }
    size_t k = strlen(buf);
    if (!first && k + 1 < n)
        snprintf(buf + k, n - k, ")");
}

int sq_initializer_same(const sq_initializer *a, const sq_initializer *b)
{
    if (a->kind != b->kind || a->seeded != b->seeded || (a->seeded && a->seed != b->seed))
        return 0;
    switch (a->kind) {
    case INIT_ORTHOGONAL:
    case INIT_IDENTITY:
    case INIT_CONSTANT:
        return a->a == b->a;
    case INIT_RANDOM_NORMAL:
    case INIT_TRUNCATED_NORMAL:
    case INIT_RANDOM_UNIFORM:
        return a->a == b->a && a->b == b->b;
    case INIT_VARIANCE_SCALING:
        return a->a == b->a && a->mode == b->mode && a->dist == b->dist;
    default:
        return 1;
    }
}

/* ---- drawing ------------------------------------------------------------------ */

/* Uniform in (0, 1) with 53 bits. */
static double unif(sq_rng *r)
{
    return ((double)(sq_rng_next(r) >> 11) + 0.5) * (1.0 / 9007199254740992.0);
}

/* Standard normals, two per Box-Muller draw. */
static void normals(sq_rng *r, float *dst, size_t n, double mean, double stddev, int truncate)
{
    size_t i = 0;
    while (i < n) {
        double u1 = unif(r), u2 = unif(r);
        double rad = sqrt(-2.0 * log(u1)), th = 6.283185307179586 * u2;
        double z[2] = { rad * cos(th), rad * sin(th) };
        for (int k = 0; k < 2 && i < n; k++) {
            if (truncate && fabs(z[k]) > 2.0)
                continue;
            dst[i++] = (float)(mean + stddev * z[k]);
        }
    }
}

static void uniforms(sq_rng *r, float *dst, size_t n, double lo, double hi)
{
    for (size_t i = 0; i < n; i++)
        dst[i] = (float)(lo + (hi - lo) * unif(r));
}

static int orthogonal(const sq_shape *sh, float *dst, double gain, sq_rng *r, sq_error *err)
{
    if (sh->rank < 2)
        return sq_fail(err, "The tensor to initialize must be at least two-dimensional");
    size_t rows = 1;
    for (int i = 0; i < sh->rank - 1; i++)
        rows *= (size_t)sh->d[i];
    size_t cols = (size_t)sh->d[sh->rank - 1];
    if (rows == 0 || cols == 0)
        return 0;
    size_t m = rows > cols ? rows : cols, n = rows > cols ? cols : rows;
    if (m > 1u << 30)
        return sq_fail(err, "the weight is too large for an orthogonal initializer");
    float *a = sq_malloc((m * n + n) * sizeof(float));
    if (!a)
        return sq_fail(err, "out of memory for an orthogonal initializer of %zu x %zu", m, n);
    float *d = a + m * n;
    normals(r, a, m * n, 0, 1, 0);
    if (sq_qr((int)m, (int)n, a, d, err) < 0) {
        free(a);
        return -1;
    }
    /* q *= sign(diag(r)); Q is column-major m x n */
    for (size_t j = 0; j < n; j++) {
        float s = d[j] > 0 ? 1.0f : d[j] < 0 ? -1.0f : 0.0f;
        for (size_t i = 0; i < m; i++)
            a[j * m + i] *= s;
    }
    for (size_t i = 0; i < rows; i++)
        for (size_t j = 0; j < cols; j++) {
            /* rows >= cols: W = Q (m = rows); else W = Q^T (m = cols) */
            float q = rows >= cols ? a[j * m + i] : a[i * m + j];
            dst[i * cols + j] = (float)(gain * q);
        }
    free(a);
    return 0;
}

int sq_initializer_run(const sq_initializer *ini, const sq_shape *sh, float *dst, sq_rng *rng,
                       sq_error *err)
{
    size_t n = sq_shape_count(sh);
    sq_rng own;
    if (ini->seeded) {
        sq_rng_seed(&own, ini->seed);
        rng = &own;
    }
    double fan_in, fan_out, scale = 1;
    int mode = 0, dist = 0;
    fans(sh, &fan_in, &fan_out);
    switch (ini->kind) {
    case INIT_FORGET_BIAS:
        /* LSTM's bias of 4 * units: i, f, c, o, with the forget gate at 1 */
        for (size_t i = 0; i < n; i++)
            dst[i] = i >= n / 4 && i < n / 2 ? 1.0f : 0.0f;
        return 0;
    case INIT_ZEROS:
    case INIT_ONES:
    case INIT_CONSTANT: {
        float v = ini->kind == INIT_ONES ? 1.0f : ini->kind == INIT_ZEROS ? 0.0f : (float)ini->a;
        for (size_t i = 0; i < n; i++)
            dst[i] = v;
        return 0;
    }
    case INIT_GLOROT_UNIFORM: {
        /* the seqsh 0.1 arithmetic, kept so old scripts give the same weights */
        float limit = (float)sqrt(6.0 / (fan_in + fan_out));
        for (size_t i = 0; i < n; i++)
            dst[i] = (2.0f * sq_rng_uniform(rng) - 1.0f) * limit;
        return 0;
    }
    case INIT_RANDOM_NORMAL:
    case INIT_TRUNCATED_NORMAL:
        normals(rng, dst, n, ini->a, ini->b, ini->kind == INIT_TRUNCATED_NORMAL);
        return 0;
    case INIT_RANDOM_UNIFORM:
        uniforms(rng, dst, n, ini->a, ini->b);
        return 0;
    case INIT_ORTHOGONAL:
        return orthogonal(sh, dst, ini->a, rng, err);
    case INIT_IDENTITY:
        if (sh->rank != 2)
            return sq_fail(err, "Identity matrix initializer can only be used for 2D matrices.");
        for (long i = 0; i < sh->d[0]; i++)
            for (long j = 0; j < sh->d[1]; j++)
                dst[i * sh->d[1] + j] = i == j ? (float)ini->a : 0.0f;
        return 0;
    case INIT_GLOROT_NORMAL: scale = 1; mode = 2; dist = 0; break;
    case INIT_HE_NORMAL: scale = 2; mode = 0; dist = 0; break;
    case INIT_HE_UNIFORM: scale = 2; mode = 0; dist = 2; break;
    case INIT_LECUN_NORMAL: scale = 1; mode = 0; dist = 0; break;
    case INIT_LECUN_UNIFORM: scale = 1; mode = 0; dist = 2; break;
    case INIT_VARIANCE_SCALING: scale = ini->a; mode = ini->mode; dist = ini->dist; break;
    default:
        return sq_fail(err, "internal: unknown initializer %d", ini->kind);
    }
    double fan = mode == 0 ? fan_in : mode == 1 ? fan_out : (fan_in + fan_out) / 2;
    scale /= fan > 1 ? fan : 1;
    if (dist == 0)
        normals(rng, dst, n, 0, sqrt(scale) / .87962566103423978, 1);
    else if (dist == 1)
        normals(rng, dst, n, 0, sqrt(scale), 0);
    else
        uniforms(rng, dst, n, -sqrt(3 * scale), sqrt(3 * scale));
    return 0;
}

void sq_initializer_default(int kind, sq_initializer *ini)
{
    if (kind == INIT_FORGET_BIAS) {
        *ini = (sq_initializer){ .kind = INIT_FORGET_BIAS };
        return;
    }
    sq_error ignored;
    if (sq_initializer_parse(sq_init_name(kind), ini, &ignored) < 0)
        *ini = (sq_initializer){ .kind = INIT_ZEROS };
}
