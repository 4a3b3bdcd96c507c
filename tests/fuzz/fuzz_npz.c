/* fuzz_npz.c - the .npz reader: any bytes as a ZIP archive of .npy members
 * (npz_read_mem), stored or deflated, ZIP64 or not. Every entry returned
 * must have a name and readable data. */
#include <stdlib.h>
#include <string.h>
#include "io/npy.h"
#include "fuzz.h"

FUZZ_ENTRY(npz)
{
    npz_entry *e = NULL;
    int n = -1;
    sq_error err;
    err.msg[0] = '\0';
    if (npz_read_mem(data, size, &e, &n, &err) != 0) {
        if (!err.msg[0] || !memchr(err.msg, '\0', sizeof err.msg))
            abort();
        return 0;
    }
    if (n < 0 || (n > 0 && !e))
        abort();
    volatile float sink = 0;
    for (int i = 0; i < n; i++) {
        if (!e[i].name)
            abort();
        (void)strlen(e[i].name);
        if (e[i].t.shape.rank < 0 || e[i].t.shape.rank > SQ_MAX_RANK)
            abort();
        size_t c = 1;
        for (int k = 0; k < e[i].t.shape.rank; k++)
            c *= (size_t)e[i].t.shape.d[k];
        for (size_t k = 0; k < c; k++)
            sink += e[i].t.data[k];
    }
    (void)sink;
    sq_named_free(e, n);
    return 0;
}
