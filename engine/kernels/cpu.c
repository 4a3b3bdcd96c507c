/* cpu.c - which OpenBLAS kernel this CPU deserves. Debian's OpenBLAS 0.3.21
 * does not recognise some recent CPUs and silently falls back to its SSE3
 * "Prescott" kernels, several times slower than the AVX-512 or AVX2 ones
 * that give the same results. */
#include <cblas.h>
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
