/* optim_impl.h - what optim.c (options, creation, step coefficients,
 * state) and optim_update.c (the update loops) share (engine-internal). */
#ifndef SEQSH_OPTIM_IMPL_H
#define SEQSH_OPTIM_IMPL_H

#include <stddef.h>
#include "train/optim.h"
#include "train/schedule.h"

#define BACKEND_EPSILON 1e-7   /* keras.backend.epsilon() */

enum { K_SGD, K_ADAM, K_RMSPROP, K_ADAGRAD, K_ADADELTA, K_ADAMAX, K_NADAM,
       K_FTRL, K_COUNT };

enum { P_LR, P_DECAY, P_MOMENTUM, P_NESTEROV, P_BETA_1, P_BETA_2,
       P_EPSILON, P_RHO, P_CENTERED, P_AMSGRAD, P_IAV, P_LR_POWER, P_L1,
       P_L2, P_L2_SHRINK, P_BETA, P_SCHED_DECAY, P_COUNT };

/* One step's coefficients, float as TF hands them to its kernels. */
typedef struct {
    float lr;                  /* lr_t: learning rate after `decay` */
    float alpha;               /* Adam: lr*sqrt(1-b2^t)/(1-b1^t); Adamax: lr/(1-b1^t) */
    float b1, b2, omb1, omb2;  /* beta_1, beta_2 and 1 - each */
    float eps;
    float rho, omrho;          /* rho and 1 - rho */
    float mom;                 /* momentum */
    /* Nadam */
    float one_minus_m_t, m_t_1, one_minus_msched_new, one_minus_msched_next,
          v_prime_den;
    /* Ftrl */
    float l1, two_l2, two_l2_shrink, lr_power;
} coefs;

struct sq_optim {
    int kind;
    double p[P_COUNT];         /* hyperparameters as Python would hold them */
    int has_mom;               /* SGD/RMSprop: momentum > 0, so a slot */
    size_t n;
    int nslots;
    float *slots;              /* nslots * n floats, slot k at k * n */
    int s_mom, s_mg;           /* RMSprop: slot indices, -1 when absent */
    sq_schedule sched;         /* learning_rate=NAME(...), or kind S_NONE */
    char sched_text[256];      /* as given, for describe */
    double clip[3];            /* clipvalue, clipnorm, global_clipnorm; NaN when not given */
    /* mutable state (saved and restored) */
    long long t;               /* iterations; the step under way is t */
    double m_cache;            /* Nadam's momentum_cache, starts at 1 */
    coefs c;                   /* for step t, set by begin_step */
};

/* clipping's loops (optim_update.c) */
double sq_sumsq(const float *g, size_t n);
void sq_clip_scale(float *g, size_t n, float c, float norm);
void sq_clip_value(float *g, size_t n, float v);
void sq_scale(float *g, size_t n, float s);
/* Adam's update with the gradient (g + a sign(w) + b w) * c / norm in
 * its loop; *s1, *s2 get the sums of |w| and w^2 of the updated weights
 * (0 without a penalty). -1 (nothing done) where sq_optim_fuses_pen says
 * no: another optimizer, AMSGrad, or a norm only the division takes. */
int sq_optim_apply_pen(sq_optim *o, float *params, const float *g, size_t off, size_t len,
                       float a, float b, float c, float norm, double *s1, double *s2);
int sq_optim_fuses_pen(const sq_optim *o, float c, float norm);
/* The sums of |w| and w^2 in the order Adam's loop adds them. */
void sq_weight_sums(const float *w, size_t n, double *s1, double *s2);
/* sum over n of (g + a sign(w) + b w)^2 (a = b = 0: of g^2); with a
 * penalty, its sums of |w| and w^2 are added to *s1, *s2 */
double sq_pen_sumsq(const float *w, const float *g, size_t n, float a, float b, double *s1,
                    double *s2);
/* out = (g + a sign(w) + b w) * c / norm; the penalty's sums of |w| and
 * w^2 are added to *s1 and *s2 (not with a = b = 0) */
void sq_pen_scale(const float *w, const float *g, float *out, size_t n, float a, float b,
                  float c, float norm, double *s1, double *s2);

#endif
