/* init.c - weight initialisation: Keras's initializers drawn from the
 * session's seeded generator. */
#include <math.h>
#include "layers/layer.h"

size_t sq_weight_count(const sq_weight_spec *w)
{
    return sq_shape_count(&w->shape);
}

/* A standard normal draw (Box-Muller, one of the pair). */
static double normal(sq_rng *rng)
{
    double u1 = sq_rng_uniform(rng), u2 = sq_rng_uniform(rng);
    if (u1 < 1e-300)
        u1 = 1e-300;
    return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}

/* keras.initializers.Orthogonal(gain=1): a normal (big x small) matrix
 * made orthonormal by QR (here modified Gram-Schmidt, whose R has a
 * positive diagonal, as Keras's sign correction gives) and transposed when
 * the weight has fewer rows than columns: the weight's rows or columns,
 * whichever are fewer, come out orthonormal. Done in place: vector j is
 * column j of the weight (stride cols) or, transposed, its row j. */
static void orthogonal(const sq_shape *sh, float *dst, sq_rng *rng)
{
    size_t rows = 1, cols = sh->rank ? (size_t)sh->d[sh->rank - 1] : 1;
    for (int i = 0; i < sh->rank - 1; i++)
        rows *= (size_t)sh->d[i];
    int tall = rows >= cols;
    size_t big = tall ? rows : cols, small = tall ? cols : rows;
    size_t step = tall ? cols : 1;     /* between a vector's entries */
    size_t vstep = tall ? 1 : cols;    /* between vectors */
    /* draw in the (big, small) matrix's row-major order, as Keras does */
    for (size_t i = 0; i < big; i++)
        for (size_t j = 0; j < small; j++)
            dst[j * vstep + i * step] = (float)normal(rng);
    for (size_t j = 0; j < small; j++) {
        float *v = dst + j * vstep;
        for (size_t k = 0; k < j; k++) {
            const float *u = dst + k * vstep;
            double dot = 0;
            for (size_t i = 0; i < big; i++)
                dot += (double)u[i * step] * v[i * step];
            for (size_t i = 0; i < big; i++)
                v[i * step] = (float)(v[i * step] - dot * u[i * step]);
        }
        double norm = 0;
        for (size_t i = 0; i < big; i++)
            norm += (double)v[i * step] * v[i * step];
        norm = sqrt(norm);
        for (size_t i = 0; i < big; i++)
            v[i * step] = norm > 0 ? (float)(v[i * step] / norm) : 0.0f;
    }
}

void sq_weight_init(const sq_weight_spec *w, float *dst, sq_rng *rng)
{
    size_t n = sq_weight_count(w);
    switch (w->init) {
    case INIT_ZEROS:
    case INIT_ONES:
        for (size_t i = 0; i < n; i++)
            dst[i] = w->init == INIT_ONES ? 1.0f : 0.0f;
        return;
    case INIT_FORGET_BIAS:
        /* LSTM's bias of 4 * units: i, f, c, o */
        for (size_t i = 0; i < n; i++)
            dst[i] = i >= n / 4 && i < n / 2 ? 1.0f : 0.0f;
        return;
    case INIT_UNIFORM:
        for (size_t i = 0; i < n; i++)
            dst[i] = (2.0f * sq_rng_uniform(rng) - 1.0f) * 0.05f;
        return;
    case INIT_ORTHOGONAL:
        orthogonal(&w->shape, dst, rng);
        return;
    case INIT_GLOROT_UNIFORM:
        break;
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
