/* gendata: write the benchmark's training data as NumPy .npy v1.0 files.
 *
 *   gendata [-ids V] [-classes K] X.npy Y.npy N D1 [D2 ...]
 *
 * X: float32, shape (N, D1, D2, ...), uniform in [0, 1), or with -ids V
 * whole numbers (token ids) uniform in [0, V); Y: int32, shape (N,), labels
 * 0..K-1 (K = 10 unless -classes says).  A fixed xorshift generator, so
 * every run trains on the same bytes. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stdint.h>

static uint64_t state = 0x9E3779B97F4A7C15ull;
static uint64_t next(void)
{
    state ^= state << 13;
    state ^= state >> 7;
    state ^= state << 17;
    return state;
}

static int header(FILE *f, const char *descr, const char *shape)
{
    char dict[256];
    int n = snprintf(dict, sizeof dict,
                     "{'descr': '%s', 'fortran_order': False, 'shape': %s, }",
                     descr, shape);
    if (n < 0 || n > 200) return -1;
    int total = 10 + n + 1;               /* magic+version+len, dict, '\n' */
    int pad = (64 - total % 64) % 64;
    int hlen = n + pad + 1;
    fwrite("\x93NUMPY\x01\x00", 1, 8, f);
    unsigned char l[2] = { (unsigned char)(hlen & 0xff), (unsigned char)(hlen >> 8) };
    fwrite(l, 1, 2, f);
    fwrite(dict, 1, (size_t)n, f);
    for (int i = 0; i < pad; i++) fputc(' ', f);
    fputc('\n', f);
    return 0;
}

int main(int argc, char **argv)
{
    long ids = 0, classes = 10;
    while (argc > 2 && argv[1][0] == '-') {
        long v = atol(argv[2]);
        if (v <= 0 || v > (1L << 24)) { fprintf(stderr, "gendata: bad %s\n", argv[1]); return 2; }
        if (!strcmp(argv[1], "-ids")) ids = v;
        else if (!strcmp(argv[1], "-classes")) classes = v;
        else { fprintf(stderr, "gendata: unknown option %s\n", argv[1]); return 2; }
        argv += 2;
        argc -= 2;
    }
    if (argc < 5) {
        fprintf(stderr, "usage: gendata [-ids V] [-classes K] X.npy Y.npy N D1 [D2 ...]\n");
        return 2;
    }
    long n = atol(argv[3]);
    long per = 1;
    char shape[160], *p = shape;
    p += sprintf(p, "(%ld", n);
    for (int i = 4; i < argc; i++) {
        long d = atol(argv[i]);
        if (d <= 0 || p - shape > 120) { fprintf(stderr, "gendata: bad dims\n"); return 2; }
        per *= d;
        p += sprintf(p, ", %ld", d);
    }
    strcpy(p, ")");
    if (n <= 0) { fprintf(stderr, "gendata: bad N\n"); return 2; }

    FILE *fx = fopen(argv[1], "wb"), *fy = fopen(argv[2], "wb");
    if (!fx || !fy) { perror("gendata"); return 1; }
    char yshape[64];
    snprintf(yshape, sizeof yshape, "(%ld,)", n);
    if (header(fx, "<f4", shape) || header(fy, "<i4", yshape)) return 1;
    float *row = malloc(sizeof(float) * (size_t)per);
    if (!row) return 1;
    for (long i = 0; i < n; i++) {
        for (long j = 0; j < per; j++)
            row[j] = ids ? (float)(next() % (uint64_t)ids)
                         : (float)(next() >> 40) * (1.0f / 16777216.0f);
        fwrite(row, sizeof(float), (size_t)per, fx);
        int32_t y = (int32_t)(next() % (uint64_t)classes);
        fwrite(&y, sizeof y, 1, fy);
    }
    free(row);
    if (fclose(fx) || fclose(fy)) { perror("gendata"); return 1; }
    return 0;
}
