/* init.c - weight initialisation: Keras's initializers drawn from the
 * session's seeded generator. */
#include <math.h>
#include "layers/layer.h"

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
