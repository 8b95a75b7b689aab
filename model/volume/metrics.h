/* metrics.h: per-label overlap of two label maps (Dice and volumes).
 *
 * Used to compare a completed label map with a reference (ground-truth) one, in
 * the GUI's comparison table and in batch evaluation.  Both maps must share the
 * voxel grid (dimensions); volumes in mL use the reference's voxel size.
 *
 *   Dice(l) = 2 |R_l ∩ T_l| / (|R_l| + |T_l|)
 *
 * where R_l, T_l are the voxels labelled l in the reference and the test map.
 *
 * An empty organ, the one convention wherever the project computes a Dice (metrics_dice:
 * the GUI's comparison table, `anatomy eval`, training validation through train-data.h):
 * a label in neither map has Dice NAN, meaning "organ absent in both", and a NAN is left
 * out of every mean (it is neither a perfect 1 nor a failed 0).  A label in only one of
 * the maps has Dice 0.
 */
#pragma once

#include <glib.h>
#include <stdint.h>
#include "label-volume.h"

G_BEGIN_DECLS

#define METRICS_ERROR (metrics_error_quark ())
GQuark metrics_error_quark (void);

typedef enum {
  METRICS_ERROR_GRID,   /* the two maps have different dimensions */
} MetricsError;

typedef struct {
  int64_t n_reference;  /* voxels labelled l in the reference */
  int64_t n_test;       /* voxels labelled l in the test map */
  int64_t n_both;       /* voxels labelled l in both */
  double dice;          /* 2 n_both / (n_reference + n_test); NAN when both are 0 */
  double ml_reference;  /* n_reference * voxel volume, in mL */
  double ml_test;
} MetricsLabel;

/* Dice of raw counts: 2 n_both / (n_a + n_b), NAN when n_a + n_b == 0 (absent in both). */
double metrics_dice (int64_t n_a, int64_t n_b, int64_t n_both);

/* Per-label overlap for labels 0 .. n-1 where n is one more than the largest label
 * in either map (labels < 0 are ignored).  Returns an array of *n_labels entries,
 * index = label (free with g_free), or NULL with METRICS_ERROR_GRID. */
MetricsLabel *metrics_compare (const LabelVolume *reference, const LabelVolume *test,
                               int32_t *n_labels, GError **error);

/* The same by the definition, one label at a time (reference twin for the tests). */
MetricsLabel *metrics_compare_ref (const LabelVolume *reference, const LabelVolume *test,
                                   int32_t *n_labels, GError **error);

G_END_DECLS
