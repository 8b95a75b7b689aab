/* completion-probs.h: the network's probabilities behind a completion.
 *
 * They are kept in the network's cube (a few MB whatever the input's size) with the frame
 * that placed the input there, and brought to any input voxel on demand, trilinear as
 * the merge does (completion-frame.h).  They give each added organ's confidence (its
 * mean probability and the share of its voxels under 0.5), the maps of `anatomy
 * complete --probabilities` and the window's confidence colouring and overlay.
 */
#pragma once

#include "completion-frame.h"

G_BEGIN_DECLS

typedef struct _CompletionProbs CompletionProbs;

/* How sure the network was of one added organ, over the voxels it added (after
 * fragments are dropped). */
typedef struct {
  int64_t voxels;
  double mean;           /* mean probability of the organ at its added voxels */
  double below_half;     /* fraction of them where that probability is under 0.5 */
} CompletionConfidence;

/* A copy of the classes @keep[c] of @probs (C, D, H, W) (all when @keep is NULL) with the
 * frame @f that maps @input (its grid) into the cube.  A class not kept reads as 0 and
 * has no confidence. */
CompletionProbs *completion_probs_new (const CompletionFrame *f, const float *probs, int C,
                                       const gboolean *keep, const LabelVolume *input);
void completion_probs_free (CompletionProbs *p);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (CompletionProbs, completion_probs_free)

int completion_probs_get_n_classes (const CompletionProbs *p);
/* The input grid the probabilities come back to. */
void completion_probs_get_dims (const CompletionProbs *p, int64_t dims[3]);

/* Probability of class @c at input voxel position (i, j, k) (voxel centres at integers;
 * outside the cube background is 1, every organ 0). */
float completion_probs_at (const CompletionProbs *p, int c, double i, double j, double k);
/* Row (j, k) of class @c: the input's nx values. */
void completion_probs_row (const CompletionProbs *p, int c, int64_t j, int64_t k, float *row);

/* Measures the confidence of every class over the voxels @out adds to @free_of
 * (free_of 0 there, out of that class). */
void completion_probs_measure (CompletionProbs *p, const LabelVolume *free_of, const LabelVolume *out);
/* The confidence of class @c (voxels 0 when it added nothing). */
const CompletionConfidence *completion_probs_get_confidence (const CompletionProbs *p, int c);

G_END_DECLS
