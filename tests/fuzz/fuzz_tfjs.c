/* fuzz_tfjs.c - the TF.js Layers reader (sq_load of a model.json), through
 * files in the scratch folder.
 *
 * The input is model.json's text, a NUL, then the bytes of the weight
 * shard, written as group1-shard1of1.bin beside it. A model that loads is
 * looked at (summary, layers, weights), called on ones of its input shape,
 * saved as rt.json and as rt.seqm and loaded again from each: the reloaded
 * model must have the same summary and weights. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "model.h"
#include "fuzz.h"

static void no_null_message(char *t, const sq_error *e)
{
    if (!t && (!e->msg[0] || !memchr(e->msg, '\0', sizeof e->msg)))
        abort();
    free(t);
}

FUZZ_ENTRY(tfjs)
{
    static int ready;
    if (!ready) {
        if (chdir(fuzz_scratch_dir()) != 0)
            abort();
        ready = 1;
    }
    const uint8_t *nul = memchr(data, '\0', size);
    size_t jlen = nul ? (size_t)(nul - data) : size;
    if (!fuzz_write_scratch("model.json", data, jlen)
        || !fuzz_write_scratch("group1-shard1of1.bin", nul ? nul + 1 : data,
                               nul ? size - jlen - 1 : 0))
        abort();
    sq_session *s = sq_session_new();
    sq_error e;
    e.msg[0] = '\0';
    if (sq_load(s, "model.json", &e) != 0) {
        if (!e.msg[0] || !memchr(e.msg, '\0', sizeof e.msg))
            abort();
        sq_session_free(s);
        fuzz_clean_scratch();
        return 0;
    }
    no_null_message(sq_summary(s, &e), &e);
    no_null_message(sq_layers_text(s, &e), &e);
    fuzz_round_trip(s, "rt.json");
    fuzz_round_trip(s, "rt.seqm");
    if (s->model->built && s->model->n > 0) {
        const sq_shape *in = &s->model->input_shape;
        long dims[SQ_MAX_RANK];
        size_t c = 1;
        for (int i = 0; i < in->rank; i++) {
            dims[i] = in->d[i] < 0 ? 2 : in->d[i];
            c = c <= (1u << 16) ? c * (size_t)dims[i] : (size_t)1 << 20;
        }
        sq_tensor x, y;
        if (c <= (1u << 16) && sq_tensor_generate(s, "ones", in->rank, dims, &x, &e) == 0) {
            if (sq_call(s, &x, &y, &e) == 0)
                sq_tensor_free(&y);
            sq_tensor_free(&x);
        }
    }
    sq_session_free(s);
    fuzz_clean_scratch();
    return 0;
}
