/* cpu.c - which OpenBLAS kernel this CPU deserves. Debian's OpenBLAS 0.3.21
 * does not recognise some recent CPUs and silently falls back to its SSE3
 * "Prescott" kernels, several times slower than the AVX-512 or AVX2 ones
 * that give the same results. */
#include <cblas.h>
#include <string.h>
#include <strings.h>
#include "seqsh/engine.h"

const char *sq_blas_better_coretype_for(const char *core)
{
#if defined(__x86_64__) || defined(__i386__)
    static const char *const weak[] = { "prescott", "core2", "penryn", "dunnington",
                                        "nehalem", "atom", "katmai", "unknown", NULL };
    int is_weak = 0;
    for (int i = 0; core && weak[i]; i++)
        if (!strcasecmp(core, weak[i]))
            is_weak = 1;
    if (!is_weak)
        return NULL;
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw")
        && __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq"))
        return "SkylakeX";
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
        return "Haswell";
    if (__builtin_cpu_supports("avx"))
        return "Sandybridge";
#endif
    return NULL;
}

const char *sq_blas_better_coretype(void)
{
    return sq_blas_better_coretype_for(openblas_get_corename());
}

/* OpenBLAS's core names by the widest vectors their kernels use (Debian's
 * 0.3.21 DYNAMIC_ARCH list). */
const char *sq_blas_kernel_isa(const char *core)
{
    static const struct { const char *isa; const char *const cores[8]; } classes[] = {
        { "AVX-512", { "skylakex", "cooperlake", "sapphirerapids", NULL } },
        { "AVX2", { "haswell", "zen", "excavator", NULL } },
        { "AVX", { "sandybridge", "bulldozer", "piledriver", "steamroller", NULL } },
    };
    for (size_t c = 0; core && c < sizeof classes / sizeof classes[0]; c++)
        for (int i = 0; classes[c].cores[i]; i++)
            if (!strcasecmp(core, classes[c].cores[i]))
                return classes[c].isa;
    return "SSE";
}

const char *sq_blas_kernel_note(const char *core)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_cpu_init();
    const char *isa = sq_blas_kernel_isa(core);
    if (strcmp(isa, "AVX-512") != 0 && __builtin_cpu_supports("avx512f")) {
        static const char *const notes[] = {
            "an AVX2 kernel on this AVX-512 CPU", "an AVX kernel on this AVX-512 CPU",
            "an SSE kernel on this AVX-512 CPU" };
        return notes[!strcmp(isa, "AVX2") ? 0 : !strcmp(isa, "AVX") ? 1 : 2];
    }
#else
    (void)core;
#endif
    return NULL;
}
