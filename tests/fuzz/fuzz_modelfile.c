/* fuzz_modelfile.c - the model-file reader (sq_load, sq_add_model), through
 * a file in the scratch folder as `load FILE` reads it.
 *
 * The first byte chooses how the rest becomes a file: bit 0 set: the rest
 * is the architecture text, a NUL, then the weights, and the harness writes
 * a well-formed container around them (magic, version, lengths, CRC), so
 * the fuzzer reaches the architecture parser; bit 0 clear and bit 1 set:
 * the rest is the file with its last four bytes replaced by the right
 * CRC-32; both clear: the rest as it is. A model that loads is then looked
 * at (summary, layers, weights), called on ones of its input shape, stacked
 * onto an empty model and onto itself with add model, and saved (as
 * rt.seqm, and as rt.json when TF.js can hold it) and loaded again: the
 * reloaded model must have the same summary and weights (as a Keras format
 * keeps them, fuzz_round_trip). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>
#include "model.h"
#include "fuzz.h"

static void put_le(unsigned char *p, uint64_t v, int n)
{
    for (int i = 0; i < n; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

static unsigned char *container(const uint8_t *d, size_t n, size_t *out)
{
    const uint8_t *nul = memchr(d, '\0', n);
    size_t t = nul ? (size_t)(nul - d) : n;
    size_t wbytes = nul ? n - t - 1 : 0;
    size_t p = wbytes / 4;
    size_t len = 16 + t + 8 + 4 * p + 4;
    unsigned char *b = malloc(len);
    if (!b)
        return NULL;
    memcpy(b, "SEQSHMDL", 8);
    put_le(b + 8, 1, 4);
    put_le(b + 12, t, 4);
    memcpy(b + 16, d, t);
    put_le(b + 16 + t, p, 8);
    if (p)
        memcpy(b + 24 + t, nul + 1, 4 * p);
    put_le(b + len - 4, crc32(0L, b, (uInt)(len - 4)), 4);
    *out = len;
    return b;
}

static char *text_or_die(char *t, const sq_error *e)
{
    if (!t && (!e->msg[0] || !memchr(e->msg, '\0', sizeof e->msg)))
        abort();
    return t;
}

static void look(sq_session *s)
{
    sq_error e;
    e.msg[0] = '\0';
    free(text_or_die(sq_summary(s, &e), &e));
    free(text_or_die(sq_layers_text(s, &e), &e));
    free(text_or_die(sq_weights_text(s, NULL, &e), &e));
    for (int i = 0; i < sq_layer_count(s); i++) {
        sq_layer_info li;
        if (sq_layer_get(s, i, &li) != 0 || !li.name || !li.class_name)
            abort();
    }
    /* what `add` guarantees: named layers, distinct entry names, and no
     * name a terminal would act on */
    const sq_model *m = s->model;
    if (sq_check_name("model", m->name, &e) != 0)
        abort();
    for (int i = 0; i < m->n; i++)
        if (!m->layers[i]->name[0] || sq_check_name("layer", m->layers[i]->name, &e) != 0
            || (m->layers[i]->group && sq_check_name("model", m->layers[i]->group->name, &e)))
            abort();
    int ne = sq_entry_count(m);
    for (int a = 0; a < ne; a++)
        for (int b = a + 1; b < ne; b++)
            if (!strcmp(sq_entry_name(m, a), sq_entry_name(m, b))) {
                fprintf(stderr, "two entries named %s\n", sq_entry_name(m, a));
                abort();
            }
}

FUZZ_ENTRY(modelfile)
{
    static int ready;
    if (!ready) {
        if (chdir(fuzz_scratch_dir()) != 0)
            abort();
        ready = 1;
    }
    if (size < 1)
        return 0;
    unsigned mode = data[0];
    const uint8_t *body = data + 1;
    size_t blen = size - 1;
    unsigned char *own = NULL;
    if (mode & 1) {
        own = container(body, blen, &blen);
        if (!own)
            return 0;
        body = own;
    } else if ((mode & 2) && blen >= 4) {
        own = malloc(blen);
        if (!own)
            return 0;
        memcpy(own, body, blen);
        put_le(own + blen - 4, crc32(0L, own, (uInt)(blen - 4)), 4);
        body = own;
    }
    const char *p = fuzz_write_scratch("m.seqm", body, blen);
    free(own);
    if (!p)
        abort();

    sq_session *s = sq_session_new();
    if (!s)
        abort();
    sq_error e;
    e.msg[0] = '\0';
    if (sq_load(s, "m.seqm", &e) != 0) {
        if (!e.msg[0] || !memchr(e.msg, '\0', sizeof e.msg))
            abort();
        sq_session_free(s);
        return 0;
    }
    look(s);

    /* round trip: save, load, same summary and weights */
    fuzz_round_trip(s, "rt.seqm");
    fuzz_round_trip(s, "rt.json");

    /* run it on ones of its input shape (None -> 2), when that is small */
    if (s->model->built && s->model->n > 0) {
        const sq_shape *in = &s->model->input_shape;
        long dims[SQ_MAX_RANK];
        size_t c = 1;
        for (int i = 0; i < in->rank; i++) {
            dims[i] = in->d[i] < 0 ? 2 : in->d[i];
            c = dims[i] > 0 && c <= (1u << 16) ? c * (size_t)dims[i] : (size_t)1 << 20;
        }
        sq_tensor x, y;
        if (c <= (1u << 16) && sq_tensor_generate(s, "ones", in->rank, dims, &x, &e) == 0) {
            if (sq_call(s, &x, &y, &e) == 0)
                sq_tensor_free(&y);
            sq_tensor_free(&x);
        }
    }

    /* stack it onto an empty model, and onto itself */
    sq_session *t = sq_session_new();
    if (sq_add_model(t, "m.seqm", NULL, -1, &e) == 0)
        look(t);
    if (sq_add_model(t, "m.seqm", "again", 0, &e) == 0)
        look(t);
    sq_session_free(t);
    if (sq_add_model(s, "m.seqm", "inner", 1, &e) == 0)
        look(s);
    sq_session_free(s);
    fuzz_clean_scratch();
    return 0;
}
