/* optim.c - the Keras 2.6 optimizers (keras/optimizer_v2/) with the
 * update rules of the TensorFlow 2.6 CPU kernels they call
 * (tensorflow/core/kernels/training_ops.cc), over flat float buffers.
 *
 * Numbers: weights, gradients and slots are float, and every per-element
 * expression is written in the order TF evaluates it in float32. The scalar
 * coefficients of a step (decayed learning rate, bias corrections, Nadam's
 * momentum schedule) are worked out once per step in double from the
 * hyperparameters as given and rounded to float at the end. (TF works them
 * out in float32, beta powers included, so its Adam step at small t can
 * differ from this one by ~1e-5 relative; ours is the exact formula.)
 *
 * Keras behaviours kept on purpose:
 *  - names are matched case-insensitively (keras/optimizers.py deserialize);
 *  - `lr` is the base class's alias of learning_rate (OptimizerV2.__init__
 *    checks `lr` and `decay` >= 0 with "Expected lr >= 0, received: -1");
 *  - epsilon=0 means backend epsilon 1e-7 (`epsilon or backend_config.epsilon()`);
 *  - SGD and RMSprop only keep a momentum slot when momentum > 0;
 *  - `decay` divides the learning rate: lr_t = lr / (1 + decay * iterations)
 *    with iterations counted before this step (OptimizerV2._decayed_lr);
 *    Nadam uses no decayed lr, and takes `schedule_decay` (default 0.004)
 *    for its momentum schedule instead. */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "train/optim_impl.h"
#include "kernels/threads.h"

/* ---- kinds and their options ------------------------------------------- */

static const struct {
    const char *name;
    int is_bool;
} pdefs[P_COUNT] = {
    [P_LR] = { "learning_rate", 0 },
    [P_DECAY] = { "decay", 0 },
    [P_MOMENTUM] = { "momentum", 0 },
    [P_NESTEROV] = { "nesterov", 1 },
    [P_BETA_1] = { "beta_1", 0 },
    [P_BETA_2] = { "beta_2", 0 },
    [P_EPSILON] = { "epsilon", 0 },
    [P_RHO] = { "rho", 0 },
    [P_CENTERED] = { "centered", 1 },
    [P_AMSGRAD] = { "amsgrad", 1 },
    [P_IAV] = { "initial_accumulator_value", 0 },
    [P_LR_POWER] = { "learning_rate_power", 0 },
    [P_L1] = { "l1_regularization_strength", 0 },
    [P_L2] = { "l2_regularization_strength", 0 },
    [P_L2_SHRINK] = { "l2_shrinkage_regularization_strength", 0 },
    [P_BETA] = { "beta", 0 },
    [P_SCHED_DECAY] = { "schedule_decay", 0 },
};

/* Each class's keyword arguments, in the order of its __init__ (which is
 * also the order sq_optim_describe prints them), and its defaults. */
#define MAX_KIND_PARAMS 8
static const struct {
    const char *key;          /* keras.optimizers.get name */
    const char *class_name;
    int np;
    int order[MAX_KIND_PARAMS];
    double def[P_COUNT];      /* only the class's own entries matter */
} kinds[K_COUNT] = {
    [K_SGD] = { "sgd", "SGD", 4, { P_LR, P_MOMENTUM, P_NESTEROV, P_DECAY },
                { [P_LR] = 0.01 } },
    [K_ADAM] = { "adam", "Adam", 6,
                 { P_LR, P_BETA_1, P_BETA_2, P_EPSILON, P_AMSGRAD, P_DECAY },
                 { [P_LR] = 0.001, [P_BETA_1] = 0.9, [P_BETA_2] = 0.999,
                   [P_EPSILON] = 1e-7 } },
    [K_RMSPROP] = { "rmsprop", "RMSprop", 6,
                    { P_LR, P_RHO, P_MOMENTUM, P_EPSILON, P_CENTERED, P_DECAY },
                    { [P_LR] = 0.001, [P_RHO] = 0.9, [P_EPSILON] = 1e-7 } },
    [K_ADAGRAD] = { "adagrad", "Adagrad", 4,
                    { P_LR, P_IAV, P_EPSILON, P_DECAY },
                    { [P_LR] = 0.001, [P_IAV] = 0.1, [P_EPSILON] = 1e-7 } },
    [K_ADADELTA] = { "adadelta", "Adadelta", 4,
                     { P_LR, P_RHO, P_EPSILON, P_DECAY },
                     { [P_LR] = 0.001, [P_RHO] = 0.95, [P_EPSILON] = 1e-7 } },
    [K_ADAMAX] = { "adamax", "Adamax", 5,
                   { P_LR, P_BETA_1, P_BETA_2, P_EPSILON, P_DECAY },
                   { [P_LR] = 0.001, [P_BETA_1] = 0.9, [P_BETA_2] = 0.999,
                     [P_EPSILON] = 1e-7 } },
    [K_NADAM] = { "nadam", "Nadam", 5,
                  { P_LR, P_BETA_1, P_BETA_2, P_EPSILON, P_SCHED_DECAY },
                  { [P_LR] = 0.001, [P_BETA_1] = 0.9, [P_BETA_2] = 0.999,
                    [P_EPSILON] = 1e-7, [P_SCHED_DECAY] = 0.004 } },
    [K_FTRL] = { "ftrl", "Ftrl", 8,
                 { P_LR, P_LR_POWER, P_IAV, P_L1, P_L2, P_L2_SHRINK, P_BETA,
                   P_DECAY },
                 { [P_LR] = 0.001, [P_LR_POWER] = -0.5, [P_IAV] = 0.1 } },
};


typedef struct {
    long long t;
    double m_cache;
    double lr;                 /* ReduceLROnPlateau changes it */
} state_head;

static const char *const clip_names[3] = { "clipvalue", "clipnorm", "global_clipnorm" };

/* ---- text helpers --------------------------------------------------------- */

static int name_eq_nocase(const char *a, const char *b)
{
    for (; *a && *b; a++, b++)
        if (tolower((unsigned char)*a) != tolower((unsigned char)*b))
            return 0;
    return *a == *b;
}

/* ---- the names, for help and completion ----------------------------------- */

const char *sq_optimizer_name(int i, const char **class_name)
{
    if (i < 0 || i >= K_COUNT)
        return NULL;
    if (class_name)
        *class_name = kinds[i].class_name;
    return kinds[i].key;
}

/* ---- creation ------------------------------------------------------------- */

static int find_kind(const char *name)
{
    for (int k = 0; k < K_COUNT; k++)
        if (name_eq_nocase(name, kinds[k].key))
            return k;
    return -1;
}

static int kind_has(int kind, int p)
{
    for (int i = 0; i < kinds[kind].np; i++)
        if (kinds[kind].order[i] == p)
            return 1;
    return 0;
}

static int find_param(const char *key)
{
    for (int p = 0; p < P_COUNT; p++)
        if (!strcmp(pdefs[p].name, key))
            return p;
    return -1;
}

/* What the user typed for q, or the default as Python prints it. */
static const char *shown(const char *const *text, const double *p, int q,
                         char *buf, size_t n)
{
    return text[q] ? text[q] : sq_py_float(p[q], buf, n);
}

/* Checks the values in the order Keras 2.6 does where it checks them at
 * all; other limits are seqsh's, to keep the arithmetic finite. text[q] is
 * what the user typed for q (NULL for a default). */
static int check_values(int kind, const double *p, const char *const *text,
                        int lr_alias, int scheduled, sq_error *err)
{
    const char *cls = kinds[kind].class_name;
    char num[64];

    /* Adagrad checks this before calling OptimizerV2.__init__. */
    if (kind == K_ADAGRAD && p[P_IAV] < 0)
        return sq_fail(err, "initial_accumulator_value must be non-negative: %s",
                       sq_py_number(text[P_IAV], p[P_IAV], num, sizeof num));
    /* OptimizerV2.__init__: every **kwargs value must be >= 0. Nadam passes
     * schedule_decay on as `decay`. */
    if (lr_alias && !scheduled && p[P_LR] < 0)
        return sq_fail(err, "Expected lr >= 0, received: %s",
                       sq_py_number(text[P_LR], p[P_LR], num, sizeof num));
    if (p[P_DECAY] < 0)
        return sq_fail(err, "Expected decay >= 0, received: %s",
                       sq_py_number(text[P_DECAY], p[P_DECAY], num, sizeof num));
    if (p[P_SCHED_DECAY] < 0)
        return sq_fail(err, "Expected decay >= 0, received: %s",
                       sq_py_number(text[P_SCHED_DECAY], p[P_SCHED_DECAY], num, sizeof num));
    if (kind == K_FTRL) {
        if (p[P_IAV] < 0)
            return sq_fail(err, "initial_accumulator_value %f needs to be positive or zero",
                           p[P_IAV]);
        if (p[P_LR_POWER] > 0)
            return sq_fail(err, "learning_rate_power %f needs to be negative or zero",
                           p[P_LR_POWER]);
        if (p[P_L1] < 0)
            return sq_fail(err, "l1_regularization_strength %f needs to be positive or zero",
                           p[P_L1]);
        if (p[P_L2] < 0)
            return sq_fail(err, "l2_regularization_strength %f needs to be positive or zero",
                           p[P_L2]);
        if (p[P_L2_SHRINK] < 0)
            return sq_fail(err, "l2_shrinkage_regularization_strength %f needs to be "
                           "positive or zero", p[P_L2_SHRINK]);
        if (p[P_BETA] < 0)
            return sq_fail(err, "%s: `beta` must be >= 0, got '%s'", cls,
                           shown(text, p, P_BETA, num, sizeof num));
    }
    if ((kind == K_SGD || kind == K_RMSPROP) && (p[P_MOMENTUM] < 0 || p[P_MOMENTUM] > 1))
        return sq_fail(err, "`momentum` must be between [0, 1].");
    /* seqsh's own limits. */
    if (!scheduled && !(p[P_LR] > 0))
        return sq_fail(err, "%s: `%s` must be > 0, got '%s'", cls,
                       lr_alias ? "lr" : "learning_rate",
                       shown(text, p, P_LR, num, sizeof num));
    for (int b = P_BETA_1; b <= P_BETA_2; b++)
        if (kind_has(kind, b) && (p[b] < 0 || p[b] >= 1))
            return sq_fail(err, "%s: `%s` must be in [0, 1), got '%s'", cls,
                           pdefs[b].name, shown(text, p, b, num, sizeof num));
    if (kind_has(kind, P_RHO) && (p[P_RHO] < 0 || p[P_RHO] > 1))
        return sq_fail(err, "%s: `rho` must be between [0, 1], got '%s'", cls,
                       shown(text, p, P_RHO, num, sizeof num));
    if (kind_has(kind, P_EPSILON) && p[P_EPSILON] < 0)
        return sq_fail(err, "%s: `epsilon` must be >= 0, got '%s'", cls,
                       shown(text, p, P_EPSILON, num, sizeof num));
    return 0;
}

int sq_optim_new(const char *name, int nopts, const char *const *keys,
                 const char *const *values, size_t n, sq_optim **out,
                 sq_error *err)
{
    int kind = name ? find_kind(name) : -1;
    if (kind < 0) {
        if (name && (name_eq_nocase(name, "lossscaleoptimizer") ||
                     name_eq_nocase(name, "lossscaleoptimizerv1")))
            return sq_fail(err, "LossScaleOptimizer wraps another optimizer; "
                           "seqsh does not support it");
        return sq_fail(err, "Unknown optimizer: %s. Please ensure this object is "
                       "passed to the `custom_objects` argument. See "
                       "https://www.tensorflow.org/guide/keras/save_and_serialize"
                       "#registering_the_custom_object for details.",
                       name ? name : "None");
    }
    const char *cls = kinds[kind].class_name;

    double p[P_COUNT];
    const char *text[P_COUNT] = { 0 };
    memcpy(p, kinds[kind].def, sizeof p);
    int lr_alias = 0;
    sq_schedule sched = { .kind = S_NONE };
    double clip[3] = { NAN, NAN, NAN };
    const char *clip_text[3] = { NULL, NULL, NULL };

    for (int i = 0; i < nopts; i++) {
        const char *key = keys[i], *val = values[i];
        int is_lr = !strcmp(key, "lr");
        int pi = is_lr ? P_LR : find_param(key);

        int ci = -1;
        for (int k = 0; k < 3; k++)
            if (!strcmp(key, clip_names[k]))
                ci = k;
        if (ci >= 0) {
            /* OptimizerV2.__init__: every keyword argument must be >= 0 */
            if (clip_text[ci])
                return sq_fail(err, "%s got multiple values for argument '%s'", cls, key);
            if (sq_check_double(cls, key, val, -HUGE_VAL, HUGE_VAL, &clip[ci], err) < 0)
                return -1;
            if (clip[ci] < 0) {
                char num[64];
                return sq_fail(err, "Expected %s >= 0, received: %s", key,
                               sq_py_number(val, clip[ci], num, sizeof num));
            }
            clip_text[ci] = val;
            continue;
        }
        if (!strcmp(key, "name"))
            return sq_fail(err, "%s: `%s` is not supported by seqsh", cls, key);
        if (kind == K_NADAM && !strcmp(key, "decay"))
            return sq_fail(err, "Nadam: Keras 2.6 ignores `decay` for Nadam "
                           "(it takes `schedule_decay` for its momentum schedule)");
        if (kind == K_FTRL && is_lr)
            return sq_fail(err, "Ftrl: Keras 2.6 ignores `lr` for Ftrl; "
                           "use `learning_rate`");
        if (pi < 0 || !kind_has(kind, pi))
            return sq_fail(err, "Unexpected keyword argument passed to optimizer: %s",
                           key);
        if (text[pi]) {
            if (pi == P_LR && (is_lr != lr_alias))
                return sq_fail(err, "%s: both `lr` and `learning_rate` given; "
                               "use `learning_rate`", cls);
            return sq_fail(err, "%s got multiple values for argument '%s'", cls, key);
        }
        if (pi == P_LR && sq_schedule_is(val)) {
            if (kind == K_NADAM)
                return sq_fail(err, "The Nadam optimizer does not support "
                               "tf.keras.optimizers.LearningRateSchedules as the learning "
                               "rate.");
            if (strlen(val) >= sizeof ((sq_optim *)0)->sched_text)
                return sq_fail(err, "%s: the learning-rate schedule is too long", cls);
            if (sq_schedule_parse(val, &sched, err) < 0)
                return -1;
            p[P_LR] = sq_schedule_lr(&sched, 0);
        } else if (pdefs[pi].is_bool) {
            int b;
            if (sq_check_bool(cls, key, val, &b, err) < 0)
                return -1;
            p[pi] = b;
        } else if (sq_check_double(cls, key, val, -HUGE_VAL, HUGE_VAL, &p[pi], err) < 0) {
            return -1;
        }
        text[pi] = val;
        if (is_lr)
            lr_alias = 1;
    }
    if (!isnan(clip[1]) && !isnan(clip[2])) {
        char a[64], b[64];
        return sq_fail(err, "Cannot accept both `clipnorm` and `global_clipnorm`, passed "
                       "`clipnorm` %s, `global_clipnorm` %s",
                       sq_py_number(clip_text[1], clip[1], a, sizeof a),
                       sq_py_number(clip_text[2], clip[2], b, sizeof b));
    }
    if (sched.kind != S_NONE)
        text[P_LR] = NULL;   /* the schedule's own numbers */
    if (check_values(kind, p, text, lr_alias, sched.kind != S_NONE, err) < 0)
        return -1;

    if (kind_has(kind, P_EPSILON) && p[P_EPSILON] == 0)
        p[P_EPSILON] = BACKEND_EPSILON;   /* `epsilon or backend_config.epsilon()` */

    sq_optim *o = sq_calloc(1, sizeof *o);
    if (!o)
        return sq_fail(err, "out of memory");
    o->kind = kind;
    memcpy(o->p, p, sizeof p);
    o->sched = sched;
    for (int i = 0; i < nopts && sched.kind != S_NONE; i++)
        if (!strcmp(keys[i], "learning_rate") || !strcmp(keys[i], "lr"))
            sq_squeeze_blanks(o->sched_text, sizeof o->sched_text, values[i]);
    memcpy(o->clip, clip, sizeof clip);
    o->n = n;
    o->m_cache = 1.0;
    o->s_mom = o->s_mg = -1;
    o->has_mom = (kind == K_SGD || kind == K_RMSPROP) && p[P_MOMENTUM] > 0;
    switch (kind) {
    case K_SGD: o->nslots = o->has_mom; break;
    case K_ADAM: o->nslots = p[P_AMSGRAD] ? 3 : 2; break;
    case K_RMSPROP:
        o->nslots = 1;
        if (o->has_mom)
            o->s_mom = o->nslots++;
        if (p[P_CENTERED])
            o->s_mg = o->nslots++;
        break;
    case K_ADAGRAD: o->nslots = 1; break;
    default: o->nslots = 2; break;   /* adadelta, adamax, nadam, ftrl */
    }
    size_t total = (size_t)o->nslots * n;
    if (total) {
        if (total / n != (size_t)o->nslots || total > SIZE_MAX / sizeof(float) ||
            !(o->slots = sq_calloc(total, sizeof(float)))) {
            sq_fail(err, "out of memory for %d optimizer slots of %zu weights",
                    o->nslots, n);
            free(o);
            return -1;
        }
    }
    /* Adagrad's and Ftrl's accumulator (slot 0) start at
     * initial_accumulator_value. */
    if (kind == K_ADAGRAD || kind == K_FTRL) {
        float iav = (float)p[P_IAV];
        for (size_t i = 0; i < n; i++)
            o->slots[i] = iav;
    }
    *out = o;
    return 0;
}

void sq_optim_free(sq_optim *o)
{
    if (!o)
        return;
    free(o->slots);
    free(o);
}

long long sq_optim_iterations(const sq_optim *o)
{
    return o->t;
}

/* ---- one step's scalars --------------------------------------------------- */

void sq_optim_begin_step(sq_optim *o)
{
    const double *p = o->p;
    coefs *c = &o->c;
    double iter = (double)o->t;           /* `iterations` before this step */
    double t = (double)(o->t + 1);        /* local_step = iterations + 1 */
    o->t++;

    memset(c, 0, sizeof *c);
    /* OptimizerV2._decayed_lr: lr_t = lr / (1 + decay * iterations).
     * Nadam's _prepare_local reads the plain learning_rate. */
    double lr = o->sched.kind != S_NONE ? sq_schedule_lr(&o->sched, o->t - 1) : p[P_LR];
    if (o->kind != K_NADAM && p[P_DECAY] > 0)
        lr /= 1.0 + p[P_DECAY] * iter;
    c->lr = (float)lr;
    c->eps = (float)p[P_EPSILON];
    c->mom = (float)p[P_MOMENTUM];
    c->rho = (float)p[P_RHO];
    c->omrho = (float)(1.0 - p[P_RHO]);
    c->b1 = (float)p[P_BETA_1];
    c->b2 = (float)p[P_BETA_2];
    c->omb1 = (float)(1.0 - p[P_BETA_1]);
    c->omb2 = (float)(1.0 - p[P_BETA_2]);
    double b1p = pow(p[P_BETA_1], t);     /* beta_1_power */
    double b2p = pow(p[P_BETA_2], t);     /* beta_2_power */

    switch (o->kind) {
    case K_ADAM:
        /* ApplyAdamNonCuda: alpha = lr * sqrt(1 - beta2_power) / (1 - beta1_power) */
        c->alpha = (float)(lr * sqrt(1.0 - b2p) / (1.0 - b1p));
        break;
    case K_ADAMAX:
        /* ApplyAdaMaxNonCuda: lr / (1 - beta1_power) */
        c->alpha = (float)(lr / (1.0 - b1p));
        break;
    case K_NADAM: {
        /* nadam.py _prepare_local, decay = schedule_decay:
         *   m_t   = beta_1 * (1 - 0.5 * 0.96^(decay * t))
         *   m_t_1 = beta_1 * (1 - 0.5 * 0.96^(decay * (t + 1)))
         *   m_schedule_new  = momentum_cache * m_t   (stored back)
         *   m_schedule_next = m_schedule_new * m_t_1 */
        double b1 = p[P_BETA_1], sd = p[P_SCHED_DECAY];
        double m_t = b1 * (1.0 - 0.5 * pow(0.96, sd * t));
        double m_t_1 = b1 * (1.0 - 0.5 * pow(0.96, sd * (t + 1.0)));
        double msched_new = o->m_cache * m_t;
        double msched_next = msched_new * m_t_1;
        o->m_cache = msched_new;
        c->one_minus_m_t = (float)(1.0 - m_t);
        c->m_t_1 = (float)m_t_1;
        c->one_minus_msched_new = (float)(1.0 - msched_new);
        c->one_minus_msched_next = (float)(1.0 - msched_next);
        c->v_prime_den = (float)(1.0 - b2p);
        break;
    }
    case K_FTRL:
        /* ftrl.py: l2 is adjusted by beta: l2 + beta / (2 * lr_t) */
        c->l1 = (float)p[P_L1];
        c->two_l2 = (float)(2.0 * (p[P_L2] + p[P_BETA] / (2.0 * lr)));
        c->two_l2_shrink = (float)(2.0 * p[P_L2_SHRINK]);
        c->lr_power = (float)p[P_LR_POWER];
        break;
    default:
        break;
    }
}

/* ---- description and state ------------------------------------------------ */

const char *sq_optim_describe(const sq_optim *o, char *buf, size_t n)
{
    char num[64];
    size_t k = 0;
    int first = 1;

    if (!n)
        return buf;
#define PUT(...) do { \
        int w_ = snprintf(k < n ? buf + k : NULL, k < n ? n - k : 0, \
                          __VA_ARGS__); \
        if (w_ > 0) k += (size_t)w_; \
    } while (0)
    PUT("%s (", kinds[o->kind].key);
    for (int i = 0; i < kinds[o->kind].np; i++) {
        int q = kinds[o->kind].order[i];
        double v = o->p[q];
        if (pdefs[q].is_bool) {
            if (!v)
                continue;
            PUT("%s%s=True", first ? "" : ", ", pdefs[q].name);
        } else {
            if ((q == P_DECAY && v == 0) ||
                (q == P_SCHED_DECAY && v == kinds[K_NADAM].def[P_SCHED_DECAY]))
                continue;
            if (q == P_LR && o->sched.kind != S_NONE)
                PUT("%s%s=%s", first ? "" : ", ", pdefs[q].name, o->sched_text);
            else
                PUT("%s%s=%s", first ? "" : ", ", pdefs[q].name,
                    sq_py_float(v, num, sizeof num));
        }
        first = 0;
    }
    for (int ci = 0; ci < 3; ci++)
        if (!isnan(o->clip[ci]))
            PUT(", %s=%s", clip_names[ci], sq_py_float(o->clip[ci], num, sizeof num));
    PUT(")");
#undef PUT
    if (k >= n)
        buf[n - 1] = '\0';
    return buf;
}

size_t sq_optim_state_size(const sq_optim *o)
{
    return sizeof(state_head) + (size_t)o->nslots * o->n * sizeof(float);
}

void sq_optim_state_save(const sq_optim *o, void *dst)
{
    state_head h = { o->t, o->m_cache, o->p[P_LR] };
    memcpy(dst, &h, sizeof h);
    if (o->slots)
        memcpy((char *)dst + sizeof h, o->slots,
               (size_t)o->nslots * o->n * sizeof(float));
}

void sq_optim_state_restore(sq_optim *o, const void *src)
{
    state_head h;
    memcpy(&h, src, sizeof h);
    o->t = h.t;
    o->m_cache = h.m_cache;
    o->p[P_LR] = h.lr;
    if (o->slots)
        memcpy(o->slots, (const char *)src + sizeof h,
               (size_t)o->nslots * o->n * sizeof(float));
    /* The coefficients belong to a step not yet begun: the next
     * sq_optim_begin_step recomputes them from t and m_cache. */
    memset(&o->c, 0, sizeof o->c);
}


/* ---- what fit and the model file need -------------------------------------- */

int sq_optim_has_schedule(const sq_optim *o)
{
    return o->sched.kind != S_NONE;
}

double sq_optim_lr(const sq_optim *o)
{
    return o->p[P_LR];
}

void sq_optim_set_lr(sq_optim *o, double lr)
{
    o->p[P_LR] = lr;
}

int sq_optim_nslots(const sq_optim *o)
{
    return o->nslots;
}

size_t sq_optim_size(const sq_optim *o)
{
    return o->n;
}

float *sq_optim_slots(sq_optim *o)
{
    return o->slots;
}

void sq_optim_get_counters(const sq_optim *o, long long *t, double *m_cache)
{
    *t = o->t;
    *m_cache = o->m_cache;
}

void sq_optim_set_counters(sq_optim *o, long long t, double m_cache)
{
    o->t = t;
    o->m_cache = m_cache;
    memset(&o->c, 0, sizeof o->c);
}

/* Clipping follows optimizer_v2.py _transform_gradients: clipvalue, then
 * clipnorm (each tensor by its own norm: tf.clip_by_norm, t * c /
 * max(|t|, c)), then global_clipnorm (tf.clip_by_global_norm: all by
 * their joint norm), on the gradients with the penalties' added. A tensor
 * already within its norm is left as it is. */

/* One chunk of range k's gradient as the optimizer takes it: plus the
 * penalty's gradient, clipped to +-clipvalue; the penalty of w is added
 * to *value. Returns the chunk (out, or g itself when nothing changes). */
static const float *chunk_grad(const sq_optim *o, const float *w, const float *g,
                               const sq_regularizer *pen, float *out, size_t n, double *value)
{
    const float *src = g;
    if (pen) {
        *value += sq_regularizer_grad_into(pen, w, g, out, n);
        src = out;
    }
    if (!isnan(o->clip[0])) {
        if (src != out)
            memcpy(out, src, n * sizeof *out);
        sq_clip_value(out, n, (float)o->clip[0]);
        src = out;
    }
    return src;
}

/* A penalty's value from the sums of |w| and w^2. */
static double pen_value(const sq_regularizer *pen, double s1, double s2)
{
    return (pen->l1 != 0 ? pen->l1 * s1 : 0) + (pen->l2 != 0 ? pen->l2 * s2 : 0);
}

/* The squared norm of range k's gradient with its penalty's (and
 * clipvalue's) change: one read of w and g, which also gives the
 * penalty's value (*value, or -1 when it does not: with clipvalue), or
 * chunk by chunk with clipvalue. */
static double range_sumsq(const sq_optim *o, const float *params, const float *grads,
                          const sq_range *r, const sq_regularizer *pen, float *chunk,
                          double *value)
{
    const float *w = params + r->off, *g = grads + r->off;
    *value = -1;
    if (isnan(o->clip[0])) {
        if (!pen)
            return sq_sumsq(g, r->len);
        double s1 = 0, s2 = 0;
        double ss = sq_pen_sumsq(w, g, r->len, (float)pen->l1, 2.0f * (float)pen->l2, &s1, &s2);
        *value = pen_value(pen, s1, s2);
        return ss;
    }
    double ss = 0, ignored = 0;
    for (size_t at = 0; at < r->len; at += SQ_OPTIM_CHUNK) {
        size_t m = r->len - at < SQ_OPTIM_CHUNK ? r->len - at : SQ_OPTIM_CHUNK;
        ss += sq_sumsq(chunk_grad(o, w + at, g + at, pen, chunk, m, &ignored), m);
    }
    return ss;
}

/* Updates range k with its gradient transformed chunk by chunk in `chunk`
 * (L1-sized), scaled by c / norm (clipnorm, when norm > 0) or by scale;
 * returns the penalty of the weights before the update (`known` when it
 * is >= 0: the norm pass or the sums found it). Adam's fused loop leaves
 * the sums of the updated weights in *ws (when given); any other update
 * marks them unknown. */
static double range_update(sq_optim *o, float *params, const float *grads, const sq_range *r,
                           const sq_regularizer *pen, float *chunk, float c, float norm,
                           float scale, double known, sq_wsums *ws)
{
    double value = 0, s1 = 0, s2 = 0;
    /* without clipvalue, the penalty and the scale are one loop */
    int fused = isnan(o->clip[0]) && (norm > 0 || scale != 1);
    float a = pen ? (float)pen->l1 : 0, b = pen ? 2.0f * (float)pen->l2 : 0;
    if (norm <= 0) {
        c = scale;
        norm = 1;
    }
    /* Adam takes the transform in its own loop: one pass */
    if (isnan(o->clip[0]) && sq_optim_fuses_pen(o, c, norm)) {
        if (pen && known < 0) {
            sq_weight_sums(params + r->off, r->len, &s1, &s2);
            known = pen_value(pen, s1, s2);
        }
        if (sq_optim_apply_pen(o, params, grads + r->off, r->off, r->len, a, b, c, norm, &s1,
                               &s2) == 0) {
            if (ws)
                *ws = (sq_wsums){ s1, s2, pen != NULL };
            return pen ? known : 0;
        }
    }
    if (ws)
        ws->valid = 0;
    for (size_t at = 0; at < r->len; at += SQ_OPTIM_CHUNK) {
        size_t m = r->len - at < SQ_OPTIM_CHUNK ? r->len - at : SQ_OPTIM_CHUNK;
        const float *w = params + r->off + at, *g = grads + r->off + at;
        if (fused) {
            sq_pen_scale(w, g, chunk, m, a, b, c, norm, &s1, &s2);
            g = chunk;
        } else {
            g = chunk_grad(o, w, g, pen, chunk, m, &value);
            if (c != 1 || norm != 1) {
                if (g != chunk)
                    memcpy(chunk, g, m * sizeof *chunk);
                sq_clip_scale(chunk, m, c, norm);
                g = chunk;
            }
        }
        sq_optim_apply(o, params, g, r->off + at, m);
    }
    if (pen && fused)
        value = pen_value(pen, s1, s2);
    return value;
}

/* Whether clipnorm c certainly leaves range k's gradient as it is, found
 * from a read of g alone: |g + a sign(w) + b w| <= |g| + a sqrt(len) +
 * |b| |w|, with |w| from the sums the last update left. A tenth of a
 * percent to spare covers the rounding of the sums (float lanes of at most
 * 256 terms: under 2e-5). Where the clip may bind, or g holds a NaN or an
 * infinity, the caller reads w and g for the norm itself. With a small
 * penalty the bound is close to the norm: it settles every step whose
 * norm is below c by more than b |w|. */
static int clip_cannot_bind(const float *g, size_t len, const sq_regularizer *pen,
                            const sq_wsums *ws, float c)
{
    double bound = sqrt(sq_sumsq(g, len)) + pen->l1 * sqrt((double)len)
                 + 2.0 * pen->l2 * sqrt(ws->s2);
    return bound * 1.001 < c;
}

/* The step runs with flush-to-zero and denormals-are-zero, as
 * TensorFlow's threads do (port::ScopedFlushDenormal) and the engine's
 * workers do: the same results on one thread as on several, and an Adam
 * moment that decays below 2^-126 (a weight whose gradient stays 0, as
 * MNIST's border pixels' do) costs no microcode assist; W2's update ran
 * at half speed on one thread with half its moments subnormal. */
static double step_body(sq_optim *o, float *params, const float *grads, const sq_range *r,
                        const sq_regularizer *const *pen, int n, float *chunk, sq_wsums *ws);

double sq_optim_step(sq_optim *o, float *params, const float *grads, const sq_range *r,
                     const sq_regularizer *const *pen, int n, float *chunk, sq_wsums *ws)
{
    unsigned fp = sq_fp_fast();
    double v = step_body(o, params, grads, r, pen, n, chunk, ws);
    sq_fp_restore(fp);
    return v;
}

static double step_body(sq_optim *o, float *params, const float *grads, const sq_range *r,
                        const sq_regularizer *const *pen, int n, float *chunk, sq_wsums *ws)
{
    sq_optim_begin_step(o);
    int cv = !isnan(o->clip[0]), cn = !isnan(o->clip[1]), gn = !isnan(o->clip[2]);
    double value = 0, known;
    float scale = 1;
    if (gn) {
        /* the joint norm first (the penalties' values then come from the
         * updates) */
        double ss = 0;
        for (int k = 0; k < n; k++)
            ss += range_sumsq(o, params, grads, &r[k], pen[k], chunk, &known);
        float c = (float)o->clip[2], norm = (float)sqrt(ss);
        if (norm > c)
            scale = c * fminf(1.0f / norm, 1.0f / c);
    }
    for (int k = 0; k < n; k++) {
        if (!pen[k] && !cv && !cn && scale == 1) {
            sq_optim_apply(o, params, grads + r[k].off, r[k].off, r[k].len);
            continue;
        }
        float c = 0, norm = 0;
        sq_wsums *wk = ws ? &ws[k] : NULL;
        /* the sums the last update left: this step's penalty without a read of w */
        int have = wk && wk->valid && pen[k];
        known = have ? pen_value(pen[k], wk->s1, wk->s2) : -1;
        if (cn) {
            c = (float)o->clip[1];
            if (!(have && !cv && clip_cannot_bind(grads + r[k].off, r[k].len, pen[k], wk, c))) {
                double found;
                double ss = range_sumsq(o, params, grads, &r[k], pen[k], chunk, &found);
                if (found >= 0)
                    known = found;
                norm = (float)sqrt(ss);
                if (!(ss > 0 && norm > c))
                    norm = 0;
            }
        }
        value += range_update(o, params, grads, &r[k], pen[k], chunk, c, norm, scale, known,
                              wk);
    }
    return value;
}
