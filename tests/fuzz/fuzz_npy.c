/* fuzz_npy.c - the .npy reader: any bytes as a .npy image (npy_read_mem).
 * A parsed array must have a sane shape and data for every value; it is
 * then printed as NumPy would (sq_tensor_format) to run the formatter on
 * whatever values the file holds (NaN, infinities, subnormals, ...). */
#include <stdlib.h>
#include <string.h>
#include "io/npy.h"
#include "fuzz.h"

FUZZ_ENTRY(npy)
{
    sq_tensor t;
    sq_error err;
    memset(&t, 0, sizeof t);
    err.msg[0] = '\0';
    if (npy_read_mem(data, size, &t, &err) != 0) {
        if (!err.msg[0] || !memchr(err.msg, '\0', sizeof err.msg))
            abort();                       /* a refusal must say why */
        return 0;
    }
    if (t.shape.rank < 0 || t.shape.rank > SQ_MAX_RANK)
        abort();
    size_t n = 1;
    for (int i = 0; i < t.shape.rank; i++) {
        if (t.shape.d[i] < 0)
            abort();
        n *= (size_t)t.shape.d[i];
    }
    if (n != sq_shape_count(&t.shape) && t.shape.rank > 0)
        abort();
    volatile float sink = 0;
    for (size_t i = 0; i < n; i++)
        sink += t.data[i];                 /* every value must be readable */
    (void)sink;
    char *s = sq_tensor_format(&t);
    free(s);
    sq_tensor_free(&t);
    return 0;
}
