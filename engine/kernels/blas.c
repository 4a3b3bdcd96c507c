/* blas.c - wraps OpenBLAS so the rest of the engine stays BLAS-agnostic. */
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include "base/base.h"
#include "kernels/blas.h"
#include "kernels/conv_kernels.h"
#include "kernels/gemm_z.h"
#include "kernels/threads.h"

/* The engine has one thread pool (threads.c). OpenBLAS's own workers spin
 * for ~0.1 s after starting and after every threaded call, fighting the
 * engine's workers for the cores, so OpenBLAS is made single-threaded and
 * its workers are stopped as the program starts (blas_thread_shutdown_ is
 * its fork handler; a single-threaded OpenBLAS never restarts them, and a
 * build without it has no workers). Big GEMMs are cut into parts of rows
 * (or columns) that the pool's threads multiply at the same time. */
extern int blas_thread_shutdown_(void) __attribute__((weak));


static void blas_single(void)
{
    static int done;
    if (done)
        return;
    done = 1;
    sq_pool_set_default(openblas_get_num_threads());
    openblas_set_num_threads(1);
    if (blas_thread_shutdown_)
        blas_thread_shutdown_();
}

__attribute__((constructor)) static void blas_at_start(void)
{
    blas_single();
}

typedef struct {
    int ta, tb, m, n, k;
    float alpha, beta;
    const float *a, *b;
    float *c;
    int lda, ldb, ldc;
    int by_rows;       /* parts of rows of C, else of columns */
    int part;          /* rows (columns) per part */
} gemm_job;

/* Below this many flops one thread does it all: ~50 us of work. A parallel
 * region costs ~1 us while the pool's workers spin, but splitting a small
 * GEMM also splits the data it shares with the jobs before and after it
 * (an optimizer's step over the same weights) across the cores' caches: on
 * the Zen 5 machine of docs/speed.md, W2's 6.4 MFLOP GEMMs at batch 32 on
 * two threads made the epoch 15-35% slower than on one. */
#define GEMM_PARALLEL_FLOPS 1e7
/* From this many, each thread takes several parts, so that a thread the
 * system delays leaves some of its share to the others. */
#define GEMM_MANY_FLOPS 4e7
#define GEMM_ALIGN 16      /* parts are multiples of a vector of floats */

/* GEMMs with B as stored (and alpha 1, beta 0 or 1) run on the engine's
 * own AVX-512 product (gemm_z.c) when the layers use AVX-512: on the Zen 5
 * machine of docs/speed.md it runs W2's training GEMMs at 1.8-2.1x
 * OpenBLAS 0.3.21's AVX2 (Haswell) kernel, and those that carry the work
 * at 1.1-1.5x its AVX-512 (Cooperlake) one (the 10-column ones at
 * 0.8-1.2x), and 1024^3 at 1.2x; SEQSH_ISA=avx2 or c leaves them all to
 * OpenBLAS. */
static int own_kernel(void)
{
    return sq_isa_active() == SQ_ISA_AVX512;
}

static void gemm(int ta, int tb, int m, int n, int k, float alpha, const float *a, int lda,
                 const float *b, int ldb, float beta, float *c, int ldc)
{
    if (!tb && alpha == 1.0f && (beta == 0.0f || beta == 1.0f) && own_kernel()) {
        sq_gemm_z(ta, beta != 0.0f, m, n, k, a, lda, b, ldb, c, ldc);
        return;
    }
    cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans,
                tb ? CblasTrans : CblasNoTrans, m, n, k, alpha, a, lda, b,
                ldb, beta, c, ldc);
}

static void gemm_range(void *ctx, long b, long e, int tid)
{
    const gemm_job *j = ctx;
    (void)tid;
    long lo = b * j->part, hi = e * j->part, dim = j->by_rows ? j->m : j->n;
    if (hi > dim)
        hi = dim;
    if (j->by_rows)
        gemm(j->ta, j->tb, (int)(hi - lo), j->n, j->k, j->alpha,
             j->ta ? j->a + lo : j->a + (size_t)lo * (size_t)j->lda, j->lda, j->b, j->ldb,
             j->beta, j->c + (size_t)lo * (size_t)j->ldc, j->ldc);
    else
        gemm(j->ta, j->tb, j->m, (int)(hi - lo), j->k, j->alpha, j->a, j->lda,
             j->tb ? j->b + (size_t)lo * (size_t)j->ldb : j->b + lo, j->ldb, j->beta,
             j->c + lo, j->ldc);
}

/* A GEMM big enough to share is cut along the longer side of C into one
 * part per thread (several for big ones), each a whole GEMM of its own for
 * OpenBLAS: large parts keep its packing of the shared operand to one per
 * part. */
void sq_gemm(int ta, int tb, int m, int n, int k, float alpha,
             const float *a, int lda, const float *b, int ldb, float beta,
             float *c, int ldc)
{
    if (m == 0 || n == 0)
        return;
    int nt = sq_pool_threads();
    double flops = 2.0 * m * n * k;
    if (nt > 1 && flops >= GEMM_PARALLEL_FLOPS) {
        int by_rows = m >= n;
        long dim = by_rows ? m : n;
        long parts = flops >= GEMM_MANY_FLOPS ? 4L * nt : nt;
        long part = (dim + parts - 1) / parts;
        part = (part + GEMM_ALIGN - 1) / GEMM_ALIGN * GEMM_ALIGN;
        if (part < dim) {
            gemm_job j = { ta, tb, m, n, k, alpha, beta, a, b, c, lda, ldb, ldc, by_rows,
                           (int)part };
            sq_parallel_for((dim + part - 1) / part, 1, gemm_range, &j);
            return;
        }
    }
    gemm(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}

void sq_set_threads(int n)
{
    blas_single();
    sq_pool_set_threads(n);
}

int sq_get_threads(void)
{
    return sq_pool_threads();
}

const char *sq_backend_info(void)
{
    static char buf[512];
    char note[160] = "";
    int n = sq_pool_threads();
    const char *core = openblas_get_corename();
    const char *why = sq_blas_kernel_note(core), *forced = getenv("OPENBLAS_CORETYPE");
    if (why)
        snprintf(note, sizeof note, " (%s%s%s)", why, forced ? ", set by OPENBLAS_CORETYPE=" : "",
                 forced ? forced : "");
    snprintf(buf, sizeof buf, "%s; kernel %s%s; convolution kernels %s; %d thread%s",
             openblas_get_config(), core, note, sq_isa_name(sq_isa_active()),
             n, n == 1 ? "" : "s");
    return buf;
}

/* ---- LAPACK (OpenBLAS ships it) ---------------------------------------------- */

void sgeqrf_(const int *m, const int *n, float *a, const int *lda, float *tau, float *work,
             const int *lwork, int *info);
void sorgqr_(const int *m, const int *n, const int *k, float *a, const int *lda,
             const float *tau, float *work, const int *lwork, int *info);

int sq_qr(int m, int n, float *a, float *diag_r, sq_error *err)
{
    int info = 0, lwork = -1;
    float query = 0;
    sgeqrf_(&m, &n, a, &m, NULL, &query, &lwork, &info);
    int lw1 = info == 0 ? (int)query : n;
    sorgqr_(&m, &n, &n, a, &m, NULL, &query, &lwork, &info);
    int lw2 = info == 0 ? (int)query : n;
    lwork = lw1 > lw2 ? lw1 : lw2;
    if (lwork < n)
        lwork = n;
    float *tau = sq_malloc(((size_t)n + (size_t)lwork) * sizeof(float));
    if (!tau)
        return sq_fail(err, "out of memory for a QR factorization of %d x %d", m, n);
    float *work = tau + n;
    sgeqrf_(&m, &n, a, &m, tau, work, &lwork, &info);
    if (info == 0) {
        for (int j = 0; j < n; j++)
            diag_r[j] = a[(size_t)j * (size_t)m + (size_t)j];
        sorgqr_(&m, &n, &n, a, &m, tau, work, &lwork, &info);
    }
    free(tau);
    if (info != 0)
        return sq_fail(err, "the QR factorization failed (LAPACK info %d)", info);
    return 0;
}
