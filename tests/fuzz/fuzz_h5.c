/* fuzz_h5.c - the Keras HDF5 reader (sq_load of FILE.h5) through a file in
 * the scratch folder; the input is the file. A model that loads is looked
 * at, saved as rt.h5 and loaded again: the reloaded model must have the
 * same summary and weights. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "model.h"
#include "fuzz.h"

FUZZ_ENTRY(h5)
{
    static int ready;
    if (!ready) {
        if (chdir(fuzz_scratch_dir()) != 0)
            abort();
        ready = 1;
    }
    if (!fuzz_write_scratch("m.h5", data, size))
        abort();
    sq_session *s = sq_session_new();
    sq_error e;
    e.msg[0] = '\0';
    if (sq_load(s, "m.h5", &e) != 0) {
        if (!e.msg[0] || !memchr(e.msg, '\0', sizeof e.msg))
            abort();
        sq_session_free(s);
        fuzz_clean_scratch();
        return 0;
    }
    char *sum1 = sq_summary(s, &e), *w1 = sq_weights_text(s, NULL, &e);
    if (sq_save(s, "rt.h5", &e) == 0) {
        sq_session *r = sq_session_new();
        if (sq_load(r, "rt.h5", &e) != 0) {
            fprintf(stderr, "reloading a saved .h5 failed: %s\n", e.msg);
            abort();
        }
        char *sum2 = sq_summary(r, &e), *w2 = sq_weights_text(r, NULL, &e);
        if ((sum1 == NULL) != (sum2 == NULL) || (sum1 && strcmp(sum1, sum2))
            || (w1 == NULL) != (w2 == NULL) || (w1 && strcmp(w1, w2))) {
            fprintf(stderr, "save/load changed the model\n");
            abort();
        }
        free(sum2);
        free(w2);
        sq_session_free(r);
    }
    free(sum1);
    free(w1);
    sq_session_free(s);
    fuzz_clean_scratch();
    return 0;
}
