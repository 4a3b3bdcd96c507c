/* session.c - the session: the current model, Keras's automatic-name
 * counters, the RNG, and read-only questions about the model. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "internal.h"

sq_session *sq_session_new(void)
{
    sq_session *s = sq_calloc(1, sizeof *s);
    if (!s)
        return NULL;
    sq_rng_seed(&s->rng, 0);
    sq_error err;
    if (sq_model_new(s, NULL, &err) < 0) {
        free(s);
        return NULL;
    }
    return s;
}

void sq_session_free(sq_session *s)
{
    if (!s)
        return;
    sq_model_free(s->model);
    for (int i = 0; i < s->ncounters; i++)
        free(s->counters[i].base);
    free(s->counters);
    free(s);
}

void sq_seed(sq_session *s, unsigned long long seed)
{
    sq_rng_seed(&s->rng, seed);
}

void sq_reset(sq_session *s)
{
    for (int i = 0; i < s->ncounters; i++)
        free(s->counters[i].base);
    free(s->counters);
    s->counters = NULL;
    s->ncounters = 0;
}

void sq_set_interrupt_flag(sq_session *s, volatile int *flag)
{
    s->interrupt = flag;
}

/* The next automatic name for `base` ("dense", "dense_1", ...) without
 * taking it; sq_name_take commits it. input_ names are one-based. */
void sq_name_peek(const sq_session *s, const char *base, char *out, size_t n)
{
    long next = 0;
    for (int i = 0; i < s->ncounters; i++)
        if (!strcmp(s->counters[i].base, base))
            next = s->counters[i].next;
    if (!strcmp(base, "input"))
        snprintf(out, n, "input_%ld", next + 1);
    else if (next == 0)
        snprintf(out, n, "%s", base);
    else
        snprintf(out, n, "%s_%ld", base, next);
}

int sq_name_take(sq_session *s, const char *base, sq_error *err)
{
    for (int i = 0; i < s->ncounters; i++) {
        if (!strcmp(s->counters[i].base, base)) {
            s->counters[i].next++;
            return 0;
        }
    }
    struct sq_counter *c = sq_realloc(s->counters, (size_t)(s->ncounters + 1) * sizeof *c);
    if (!c)
        return sq_fail(err, "out of memory");
    s->counters = c;
    char *b = sq_strdup(base);
    if (!b)
        return sq_fail(err, "out of memory");
    c[s->ncounters++] = (struct sq_counter){ b, 1 };
    return 0;
}

const char *sq_model_name(const sq_session *s) { return s->model->name; }
int sq_model_is_built(const sq_session *s) { return s->model->built; }
int sq_layer_count(const sq_session *s) { return sq_entry_count(s->model); }

int sq_layer_get(const sq_session *s, int i, sq_layer_info *info)
{
    const sq_model *m = s->model;
    if (i < 0 || i >= sq_entry_count(m))
        return -1;
    int first, count;
    sq_entry_span(m, i, &first, &count);
    const sq_layer *l = m->layers[first], *last = m->layers[first + count - 1];
    info->name = sq_entry_name(m, i);
    info->class_name = l->group ? "Sequential" : l->kind->class_name;
    info->built = last->built;
    info->output_shape = last->out_shape;
    info->params = 0;
    info->trainable = 1;
    for (int k = first; k < first + count; k++) {
        info->params += m->layers[k]->param_count;
        if (!m->layers[k]->trainable)
            info->trainable = 0;
    }
    return 0;
}

size_t sq_weight_count(const sq_weight_spec *w)
{
    return sq_shape_count(&w->shape);
}

void sq_weight_init(const sq_weight_spec *w, float *dst, sq_rng *rng)
{
    size_t n = sq_weight_count(w);
    if (w->init != INIT_GLOROT_UNIFORM) {
        for (size_t i = 0; i < n; i++)
            dst[i] = w->init == INIT_ONES ? 1.0f : 0.0f;
        return;
    }
    /* keras initializers _compute_fans */
    double fan_in, fan_out;
    const sq_shape *sh = &w->shape;
    if (sh->rank == 0) {
        fan_in = fan_out = 1;
    } else if (sh->rank == 1) {
        fan_in = fan_out = (double)sh->d[0];
    } else if (sh->rank == 2) {
        fan_in = (double)sh->d[0];
        fan_out = (double)sh->d[1];
    } else {
        double receptive = 1;
        for (int i = 0; i < sh->rank - 2; i++)
            receptive *= (double)sh->d[i];
        fan_in = receptive * (double)sh->d[sh->rank - 2];
        fan_out = receptive * (double)sh->d[sh->rank - 1];
    }
    float limit = (float)sqrt(6.0 / (fan_in + fan_out));
    for (size_t i = 0; i < n; i++)
        dst[i] = (2.0f * sq_rng_uniform(rng) - 1.0f) * limit;
}

sq_rng_state sq_rng_get(const sq_session *s)
{
    sq_rng_state st;
    for (int i = 0; i < 4; i++)
        st.s[i] = s->rng.s[i];
    return st;
}

void sq_rng_set(sq_session *s, sq_rng_state st)
{
    for (int i = 0; i < 4; i++)
        s->rng.s[i] = st.s[i];
}
