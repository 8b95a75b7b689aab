/* nn-loss.c: the training loss, cross-entropy + soft Dice over softmax probabilities,
 * and its gradient (see nn-loss.h). */
#include "nn-loss.h"
#include "nn-simd-private.h"

#include <math.h>
#include <string.h>

void
nn_loss_params_init (NnLossParams *p)
{
  p->ce_weight = 1.0f;
  p->dice_weight = 1.0f;
  p->removed_weight = 0.0f;
  p->dice_smooth = 1.0f;
  p->or_class = -1;
}

/* How a voxel with @target takes part: -1 not at all, 0 as class *t, 1 as "background
 * or @or_class". */
static inline int
loss_kind (guint8 target, int C, int or_class, int *t)
{
  if (target == NN_LOSS_IGNORE)
    return -1;
  if (target == NN_LOSS_BACKGROUND_OR && or_class > 0 && or_class < C)
    {
      *t = 0;
      return 1;
    }
  *t = target < C ? target : 0;
  return 0;
}

/* The loss works on fixed blocks of voxels: each block's sums are its own, and they are
 * added in block order, so the value does not depend on the number of threads.  Within a
 * block the per-class work runs along rows of LOSS_VL voxels (explicit vectors: the
 * compiler would not reorder these sums by itself), the per-voxel work is scalar. */
#define LOSS_BLOCK 4096
#define LOSS_VL BW_VL

typedef struct {
  const float *prob;
  const guint8 *target;
  int C;
  int64_t n;
  guint32 removed_mask;
  const NnLossParams *params;
  double *part;          /* per block: wsum, ce, inter[C], gsum[C], psum[C] */
  const float *A, *B;    /* the Dice part's gradient terms (see nn_softmax_loss) */
  double wsum;
  float *dlogits;
} LossJob;

#define LOSS_PART(C) (2 + 3 * (int64_t) (C))

/* the cross-entropy weight of a voxel whose target is class @t */
static inline double
loss_voxel_weight (const LossJob *j, int t)
{
  return 1.0 + (t < 32 && (j->removed_mask >> t) & 1u ? j->params->removed_weight : 0.0);
}

/* sum_i row[i] * m[i] over @len voxels, in 8 double lanes then the tail */
static inline double
loss_masked_sum (const float *row, const float *m, int64_t len)
{
  bw_vd8 acc = { 0 };
  int64_t i = 0;
  for (; i + 8 <= len; i += 8)
    acc += __builtin_convertvector (*(const bw_vf8 *) (row + i) * *(const bw_vf8 *) (m + i), bw_vd8);
  double s = bw_vd8_sum (acc);
  for (; i < len; i++)
    s += row[i] * m[i];
  return s;
}

NN_SIMD_CLONES
static void
loss_sum_task (int64_t task, int thread, void *data)
{
  const LossJob *j = data;
  const int C = j->C, alt = j->params->or_class;
  const int64_t n = j->n, q0 = task * LOSS_BLOCK, len = MIN (LOSS_BLOCK, n - q0);
  const float *prob = j->prob;
  double *part = j->part + task * LOSS_PART (C);
  double *inter = part + 2, *gsum = inter + C, *psum = gsum + C;
  float m[LOSS_BLOCK];   /* 1 where the voxel's target is a class (Dice), else 0 */
  (void) thread;

  for (int64_t i = 0; i < len; i++)
    {
      int64_t q = q0 + i;
      int t, kind = loss_kind (j->target[q], C, alt, &t);
      m[i] = kind == 0 ? 1.0f : 0.0f;
      if (kind < 0)
        continue;
      if (kind > 0)
        {
          part[0] += 1.0;
          part[1] -= log (MAX ((double) prob[q] + prob[(int64_t) alt * n + q], 1e-12));
          continue;
        }
      double wv = loss_voxel_weight (j, t);
      double pt = prob[(int64_t) t * n + q];
      part[0] += wv;
      part[1] -= wv * log (MAX (pt, 1e-12));
      inter[t] += pt;
      gsum[t] += 1.0;
    }
  for (int c = 0; c < C; c++)
    psum[c] += loss_masked_sum (prob + (int64_t) c * n + q0, m, len);
}

NN_SIMD_CLONES
static void
loss_grad_task (int64_t task, int thread, void *data)
{
  const LossJob *j = data;
  const int C = j->C, alt = j->params->or_class;
  const int64_t n = j->n, q0 = task * LOSS_BLOCK, len = MIN (LOSS_BLOCK, n - q0);
  const int64_t vlen = len & ~(int64_t) (LOSS_VL - 1);
  const float *prob = j->prob + q0;
  float *dl = j->dlogits + q0;
  /* per voxel: d = sum_c B_c p_c, then dl_c = p_c (B_c mb + s), then the fix-ups */
  float d[LOSS_BLOCK], mb[LOSS_BLOCK], s[LOSS_BLOCK];
  gint8 kind_of[LOSS_BLOCK];   /* loss_kind () of each voxel, and its class */
  guint8 t_of[LOSS_BLOCK];
  (void) thread;

  for (int64_t i = 0; i < len; i++)
    d[i] = 0.0f;
  for (int c = 0; c < C; c++)
    {
      const float *pc = prob + (int64_t) c * n, bc = j->B[c];
      int64_t i = 0;
      for (; i < vlen; i += LOSS_VL)
        *(bw_vf *) (d + i) += *(const bw_vf *) (pc + i) * bc;
      for (; i < len; i++)
        d[i] += pc[i] * bc;
    }
  /* a class voxel: dl_c = p_c (B_c - dot + kce) + [c = t] (p_t A_t - kce), with
   * dot = sum_k p_k B_k + p_t A_t (the Dice part through the softmax) and kce the
   * voxel's cross-entropy weight; a "background or" voxel: dl_c = kce p_c, less
   * kce p_c / (p_0 + p_a) for c in {0, a}; an ignored voxel: 0 */
  for (int64_t i = 0; i < len; i++)
    {
      int t = 0, kind = loss_kind (j->target[q0 + i], C, alt, &t);
      kind_of[i] = (gint8) kind;
      t_of[i] = (guint8) t;
      mb[i] = 0.0f;
      s[i] = 0.0f;
      if (kind > 0)
        s[i] = (float) (j->params->ce_weight / j->wsum);
      else if (kind == 0)
        {
          double wv = loss_voxel_weight (j, t);
          double kce = j->params->ce_weight * wv / j->wsum;
          mb[i] = 1.0f;
          s[i] = (float) (kce - (d[i] + prob[(int64_t) t * n + i] * j->A[t]));
          d[i] = (float) kce;   /* kept for the fix-up */
        }
    }
  for (int c = 0; c < C; c++)
    {
      const float *pc = prob + (int64_t) c * n, bc = j->B[c];
      float *dc = dl + (int64_t) c * n;
      int64_t i = 0;
      for (; i < vlen; i += LOSS_VL)
        *(bw_vf *) (dc + i) = *(const bw_vf *) (pc + i) * (*(const bw_vf *) (mb + i) * bc + *(const bw_vf *) (s + i));
      for (; i < len; i++)
        dc[i] = pc[i] * (mb[i] * bc + s[i]);
    }
  for (int64_t i = 0; i < len; i++)
    {
      const int t = t_of[i], kind = kind_of[i];
      if (kind < 0)
        for (int c = 0; c < C; c++)
          dl[(int64_t) c * n + i] = 0.0f;
      else if (kind > 0)
        {
          double ps = MAX ((double) prob[i] + prob[(int64_t) alt * n + i], 1e-12);
          dl[i] -= (float) (s[i] * prob[i] / ps);
          dl[(int64_t) alt * n + i] -= (float) (s[i] * prob[(int64_t) alt * n + i] / ps);
        }
      else
        dl[(int64_t) t * n + i] += prob[(int64_t) t * n + i] * j->A[t] - d[i];
    }
}

NnLossValue
nn_softmax_loss (WorkerPool *pool, const float *prob, const guint8 *target, int C, int64_t n,
                 guint32 removed_mask, const NnLossParams *params, float *dlogits)
{
  NnLossValue v = { 0 };
  const int64_t n_blocks = (n + LOSS_BLOCK - 1) / LOSS_BLOCK;
  g_autofree double *part = g_new0 (double, MAX (n_blocks, 1) * LOSS_PART (C));
  g_autofree double *sum = g_new0 (double, LOSS_PART (C));
  LossJob j = { prob, target, C, n, removed_mask, params, part, NULL, NULL, 0.0, dlogits };

  worker_pool_run (pool, n_blocks, loss_sum_task, &j);
  for (int64_t b = 0; b < n_blocks; b++)
    for (int64_t i = 0; i < LOSS_PART (C); i++)
      sum[i] += part[b * LOSS_PART (C) + i];
  const double wsum = sum[0], *inter = sum + 2, *gsum = inter + C, *psum = gsum + C;

  double dice_mean = 0.0, sm = params->dice_smooth;
  for (int c = 0; c < C; c++)
    {
      double num = 2.0 * inter[c] + sm, den = psum[c] + gsum[c] + sm;
      dice_mean += num / den / C;
    }
  v.ce = wsum > 0 ? sum[1] / wsum : 0.0;
  v.dice = 1.0 - dice_mean;
  v.total = params->ce_weight * v.ce + params->dice_weight * v.dice;
  if (dlogits == NULL)
    return v;

  /* dDice_c/dp_cv = (2 g_cv den - num) / den²; dL/dp_cv = -dice_weight / C * that
   * = A_c g_cv + B_c with A_c = -dw/C * 2/den, B_c = dw/C * num/den² */
  g_autofree float *A = g_new0 (float, C), *B = g_new0 (float, C);
  for (int c = 0; c < C; c++)
    {
      double num = 2.0 * inter[c] + sm, den = psum[c] + gsum[c] + sm;
      A[c] = (float) (-params->dice_weight / C * 2.0 / den);
      B[c] = (float) (params->dice_weight / C * num / (den * den));
    }
  j.A = A;
  j.B = B;
  j.wsum = wsum;
  worker_pool_run (pool, n_blocks, loss_grad_task, &j);
  return v;
}
