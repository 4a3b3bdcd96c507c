/* suggest.c - the layer kind a mistyped or foreign name most likely means:
 * Keras's class names and aliases within a small edit distance, the short
 * forms people bring from other libraries and papers (maxpool, linear,
 * batchnorm, ...), and activation names, which are `add activation NAME`. */
#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include "layers/layer.h"

/* Short forms and other libraries' names, squashed (lower case, no '_'),
 * and the Keras class each means. A class not registered is skipped. */
static const struct {
    const char *word, *class_name;
} short_forms[] = {
    { "maxpool", "MaxPooling2D" },
    { "maxpooling", "MaxPooling2D" },
    { "pool", "MaxPooling2D" },
    { "pooling", "MaxPooling2D" },
    { "avgpool", "AveragePooling2D" },
    { "avgpooling", "AveragePooling2D" },
    { "averagepool", "AveragePooling2D" },
    { "averagepooling", "AveragePooling2D" },
    { "globalmaxpool", "GlobalMaxPooling2D" },
    { "globalavgpool", "GlobalAveragePooling2D" },
    { "globalaveragepool", "GlobalAveragePooling2D" },
    { "gap", "GlobalAveragePooling2D" },
    { "adaptiveavgpool2d", "GlobalAveragePooling2D" },
    { "conv", "Conv2D" },
    { "convolution", "Conv2D" },
    { "convolution2d", "Conv2D" },
    { "convolution1d", "Conv1D" },
    { "linear", "Dense" },
    { "fc", "Dense" },
    { "fullyconnected", "Dense" },
    { "affine", "Dense" },
    { "bn", "BatchNormalization" },
    { "batchnorm", "BatchNormalization" },
    { "batchnorm1d", "BatchNormalization" },
    { "batchnorm2d", "BatchNormalization" },
    { "layernorm", "LayerNormalization" },
    { "ln", "LayerNormalization" },
    { "flat", "Flatten" },
    { "drop", "Dropout" },
    { "act", "Activation" },
    { "view", "Reshape" },
    { "rescale", "Rescaling" },
    { "scale", "Rescaling" },
    { "upsample", "UpSampling2D" },
    { "upsample1d", "UpSampling1D" },
    { "upsample2d", "UpSampling2D" },
    { "pad", "ZeroPadding2D" },
    { "pad1d", "ZeroPadding1D" },
    { "crop", "Cropping2D" },
    { "crop1d", "Cropping1D" },
    { "leaky", "LeakyReLU" },
    { "embed", "Embedding" },
    { "rnn", "SimpleRNN" },
};
#define NSHORT (int)(sizeof short_forms / sizeof *short_forms)

/* Lower case without underscores, as kinds are matched. */
static void squash(const char *s, char *out, size_t n)
{
    size_t k = 0;
    for (; *s && k + 1 < n; s++)
        if (*s != '_')
            out[k++] = (char)tolower((unsigned char)*s);
    out[k] = '\0';
}

/* The registered kind called class_name, or NULL. */
static const sq_layer_kind *registered(const char *class_name)
{
    for (int i = 0; sq_kinds[i]; i++)
        if (!strcmp(sq_kinds[i]->class_name, class_name))
            return sq_kinds[i];
    return NULL;
}

int sq_kind_suggest(const char *word, char *buf, size_t n)
{
    enum { MAXC = 256 };
    char w[64], names[MAXC][48];
    const char *cands[MAXC], *means[MAXC];
    int k = 0;
    if (!n || strlen(word) >= sizeof w)
        return 0;
    squash(word, w, sizeof w);
    if (!*w)
        return 0;
    /* a known short form, as it is */
    for (int i = 0; i < NSHORT; i++) {
        const sq_layer_kind *kind = registered(short_forms[i].class_name);
        if (kind && !strcmp(w, short_forms[i].word)) {
            squash(kind->class_name, buf, n);
            return 1;
        }
    }
    /* an activation is a layer through `add activation NAME` */
    for (int i = 0; i < sq_activation_count(); i++) {
        if (!strcmp(word, sq_activation_name(i))) {
            snprintf(buf, n, "activation %s", word);
            return 1;
        }
    }
    /* the nearest class name, alias or short form */
    for (int i = 0; sq_kinds[i] && k < MAXC; i++) {
        const sq_layer_kind *kind = sq_kinds[i];
        squash(kind->class_name, names[k], sizeof names[k]);
        cands[k] = names[k];
        means[k] = names[k];
        const char *cls = names[k++];
        for (int j = 0; kind->aliases && kind->aliases[j] && k < MAXC; j++) {
            squash(kind->aliases[j], names[k], sizeof names[k]);
            cands[k] = names[k];
            means[k] = names[k];
            k++;
        }
        for (int j = 0; j < NSHORT && k < MAXC; j++) {
            if (strcmp(short_forms[j].class_name, kind->class_name))
                continue;
            cands[k] = short_forms[j].word;
            means[k++] = cls;
        }
    }
    const char *best = sq_nearest(w, cands, k);
    /* or the first class the word begins, at least four letters of it */
    for (int i = 0; !best && strlen(w) >= 4 && i < k; i++)
        if (!strncmp(cands[i], w, strlen(w)))
            best = cands[i];
    if (!best)
        return 0;
    for (int i = 0; i < k; i++) {
        if (cands[i] == best) {
            snprintf(buf, n, "%s", means[i]);
            return 1;
        }
    }
    return 0;
}
