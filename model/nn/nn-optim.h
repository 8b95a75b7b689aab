/* nn-optim.h: the AdamW optimiser (decoupled weight decay, Loshchilov & Hutter),
 * with PyTorch's torch.optim.AdamW semantics:
 *   p -= lr * wd * p
 *   m = b1 m + (1 - b1) g;  v = b2 v + (1 - b2) g²
 *   p -= lr * (m / (1 - b1^t)) / (sqrt (v / (1 - b2^t)) + eps)
 * t counts steps from 1. */
#pragma once

#include <glib.h>
#include <stdint.h>

G_BEGIN_DECLS

typedef struct {
  float beta1, beta2, eps;
} NnAdamParams;

void nn_adam_params_init (NnAdamParams *p);   /* 0.9, 0.999, 1e-8 */

/* One step on n parameters p with gradient g and moments m, v (all (n)). */
void nn_adamw_step (float *p, const float *g, float *m, float *v, int64_t n, int64_t t,
                    float lr, float weight_decay, const NnAdamParams *h);
void nn_adamw_step_ref (float *p, const float *g, float *m, float *v, int64_t n, int64_t t,
                        float lr, float weight_decay, const NnAdamParams *h);

/* Global L2 norm of a set of gradients, and scaling them to at most @max_norm
 * (no-op when max_norm <= 0).  Returns the norm before clipping. */
double nn_clip_grad_norm (float *const *grads, const int64_t *sizes, int n, double max_norm);

G_END_DECLS
