/* fuzz_h5.c - the Keras HDF5 reader (sq_load of FILE.h5) through a file in
 * the scratch folder; the input is the file. A model that loads is looked
 * at, saved as rt.h5, rt.seqm and rt.json and loaded again from each: the
 * reloaded model must have the same summary and weights. */
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
    fuzz_round_trip(s, "rt.h5");
    fuzz_round_trip(s, "rt.seqm");
    fuzz_round_trip(s, "rt.json");
    sq_session_free(s);
    fuzz_clean_scratch();
    return 0;
}
