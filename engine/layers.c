/* layers.c - the registry of layer kinds, keyed by Keras class name, and
 * the input-spec messages every kind shares. */
#include <ctype.h>
#include <string.h>
#include "internal.h"

extern const sq_layer_kind sq_kind_dense, sq_kind_conv2d, sq_kind_max_pooling2d,
    sq_kind_average_pooling2d, sq_kind_global_max_pooling2d,
    sq_kind_global_average_pooling2d, sq_kind_flatten, sq_kind_dropout,
    sq_kind_activation, sq_kind_reshape, sq_kind_batch_normalization,
    sq_kind_rescaling;

const sq_layer_kind *const sq_kinds[] = {
    &sq_kind_dense, &sq_kind_conv2d, &sq_kind_max_pooling2d,
    &sq_kind_average_pooling2d, &sq_kind_global_max_pooling2d,
    &sq_kind_global_average_pooling2d, &sq_kind_flatten, &sq_kind_dropout,
    &sq_kind_activation, &sq_kind_reshape, &sq_kind_batch_normalization,
    &sq_kind_rescaling, NULL,
};

int sq_kind_count(void)
{
    int n = 0;
    while (sq_kinds[n])
        n++;
    return n;
}

const char *sq_kind_class(int i) { return sq_kinds[i]->class_name; }
const char *sq_kind_base(int i) { return sq_kinds[i]->base_name; }

/* Lower-case without underscores: "Max_Pooling2D" -> "maxpooling2d". */
static void normalise(const char *s, char *out, size_t n)
{
    size_t k = 0;
    for (; *s && k + 1 < n; s++)
        if (*s != '_')
            out[k++] = (char)tolower((unsigned char)*s);
    out[k] = '\0';
}

const sq_layer_kind *sq_kind_find(const char *name)
{
    char want[64], have[64];
    if (strlen(name) >= sizeof want)
        return NULL;
    normalise(name, want, sizeof want);
    for (int i = 0; sq_kinds[i]; i++) {
        const sq_layer_kind *k = sq_kinds[i];
        normalise(k->class_name, have, sizeof have);
        if (!strcmp(want, have))
            return k;
        for (int j = 0; k->aliases && k->aliases[j]; j++) {
            normalise(k->aliases[j], have, sizeof have);
            if (!strcmp(want, have))
                return k;
        }
    }
    return NULL;
}

int sq_fail_min_ndim(sq_error *err, const sq_layer *l, int min, const sq_shape *in)
{
    char s[128];
    return sq_fail(err, "Input 0 of layer %s is incompatible with the layer: : expected "
                   "min_ndim=%d, found ndim=%d. Full shape received: %s",
                   l->name, min, in->rank, sq_shape_str(in, s, sizeof s));
}

int sq_fail_ndim(sq_error *err, const sq_layer *l, int ndim, const sq_shape *in)
{
    char s[128];
    return sq_fail(err, "Input 0 of layer %s is incompatible with the layer: expected "
                   "ndim=%d, found ndim=%d. Full shape received: %s",
                   l->name, ndim, in->rank, sq_shape_str(in, s, sizeof s));
}
