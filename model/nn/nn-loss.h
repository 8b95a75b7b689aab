/* nn-loss.h: the training loss of the network engine, cross-entropy + soft Dice over the
 * softmax probabilities, with its gradient with respect to the logits.  Checked against
 * finite differences in tests/test-nn-train.c. */
#pragma once

#include <glib.h>
#include <stdint.h>
#include "nn-ops.h"

G_BEGIN_DECLS

typedef struct {
  float ce_weight;        /* weight of the cross-entropy term (1) */
  float dice_weight;      /* weight of the soft Dice term (1) */
  float removed_weight;   /* extra cross-entropy weight of voxels whose target is a removed organ (0) */
  float dice_smooth;      /* Dice smoothing (1) */
  int or_class;           /* the class a NN_LOSS_BACKGROUND_OR voxel may also be (-1: none) */
} NnLossParams;

void nn_loss_params_init (NnLossParams *p);

typedef struct {
  double total, ce, dice;
} NnLossValue;

/* A target value that takes no part in the loss (e.g. outside what a real subject's scan
 * shows): its voxel counts in neither term and gets a zero gradient. */
#define NN_LOSS_IGNORE 255
/* A target value meaning "background or class or_class" (e.g. where a real subject's
 * source labels no such organ): it takes part in the cross-entropy only, as
 * -log(prob[0] + prob[or_class]); with no or_class it counts as 0. */
#define NN_LOSS_BACKGROUND_OR 254

/* Loss of softmax probabilities prob (C, n) against target labels (n, values
 * 0..C-1, NN_LOSS_IGNORE or NN_LOSS_BACKGROUND_OR; other values count as 0), over the
 * voxels not ignored:
 *   ce   = sum_v w_v (-log prob[t_v, v]) / sum_v w_v,  w_v = 1 + removed_weight·[t_v removed]
 *          (prob[t_v, v] = prob[0, v] + prob[or_class, v] where t_v is BACKGROUND_OR)
 *   dice = 1 - mean_c (2 sum_v p_cv g_cv + s) / (sum_v p_cv + sum_v g_cv + s)
 *          (over the voxels whose target is a class)
 *   total = ce_weight·ce + dice_weight·dice
 * removed_mask: bit L = label L is a removed organ (voxel weights), may be 0.
 * dlogits (C, n), if not NULL, receives dtotal/dlogits (the softmax's input), written.
 * Sums over fixed blocks of voxels, added in block order: the same value for any
 * @pool (NULL: the calling thread alone). */
NnLossValue nn_softmax_loss (WorkerPool *pool, const float *prob, const guint8 *target, int C, int64_t n,
                             guint32 removed_mask, const NnLossParams *params, float *dlogits);

G_END_DECLS
