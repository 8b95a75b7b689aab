/* nn-optim.c: AdamW (see nn-optim.h). */
#include "nn-optim.h"

#include <math.h>

void
nn_adam_params_init (NnAdamParams *p)
{
  p->beta1 = 0.9f;
  p->beta2 = 0.999f;
  p->eps = 1e-8f;
}

void
nn_adamw_step (float *p, const float *g, float *m, float *v, int64_t n, int64_t t,
               float lr, float weight_decay, const NnAdamParams *h)
{
  const float b1 = h->beta1, b2 = h->beta2;
  const float c1 = (float) (1.0 - pow (b1, (double) t)), c2 = (float) (1.0 - pow (b2, (double) t));
  const float step = lr / c1, inv_sqrt_c2 = 1.0f / sqrtf (c2), decay = 1.0f - lr * weight_decay;

  for (int64_t q = 0; q < n; q++)
    {
      float gq = g[q];
      float mq = b1 * m[q] + (1.0f - b1) * gq;
      float vq = b2 * v[q] + (1.0f - b2) * gq * gq;
      m[q] = mq;
      v[q] = vq;
      p[q] = p[q] * decay - step * mq / (sqrtf (vq) * inv_sqrt_c2 + h->eps);
    }
}

void
nn_adamw_step_ref (float *p, const float *g, float *m, float *v, int64_t n, int64_t t,
                   float lr, float weight_decay, const NnAdamParams *h)
{
  for (int64_t q = 0; q < n; q++)
    {
      double pq = p[q] - (double) lr * weight_decay * p[q];
      double mq = h->beta1 * (double) m[q] + (1.0 - h->beta1) * g[q];
      double vq = h->beta2 * (double) v[q] + (1.0 - h->beta2) * (double) g[q] * g[q];
      double mhat = mq / (1.0 - pow (h->beta1, (double) t));
      double vhat = vq / (1.0 - pow (h->beta2, (double) t));
      m[q] = (float) mq;
      v[q] = (float) vq;
      p[q] = (float) (pq - lr * mhat / (sqrt (vhat) + h->eps));
    }
}

double
nn_clip_grad_norm (float *const *grads, const int64_t *sizes, int n, double max_norm)
{
  double ss = 0.0;
  for (int i = 0; i < n; i++)
    for (int64_t q = 0; q < sizes[i]; q++)
      ss += (double) grads[i][q] * grads[i][q];
  double norm = sqrt (ss);
  if (max_norm > 0.0 && norm > max_norm)
    {
      float s = (float) (max_norm / (norm + 1e-6));
      for (int i = 0; i < n; i++)
        for (int64_t q = 0; q < sizes[i]; q++)
          grads[i][q] *= s;
    }
  return norm;
}
