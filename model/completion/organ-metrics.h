/* organ-metrics.h: per-organ comparison of a label map with a reference on one grid: the
 * overlap and volumes of metrics.h, the volume difference and the 95 % Hausdorff distance
 * (surface-distance.h).  One definition for the GUI's comparison table and `anatomy eval`.
 *
 * For label l, with R_l the reference's voxels of l and T_l the test map's:
 *   ml_diff      = ml(T_l) - ml(R_l)                      (mL; both by the reference's voxel size)
 *   percent_diff = 100 * ml_diff / ml(R_l)                (NAN when R_l is empty)
 *   hd95_mm      = surface_distance_hd95 of R_l and T_l   (NAN when either is empty)
 * HD95 is computed only for labels whose voxels differ in the two maps: identical voxel
 * sets have identical boundary voxels, so their HD95 is exactly 0.
 */
#pragma once

#include <gio/gio.h>
#include <stdint.h>
#include "label-volume.h"
#include "metrics.h"

G_BEGIN_DECLS

typedef struct {
  MetricsLabel m;       /* counts, Dice, volumes (metrics.h) */
  double ml_diff;
  double percent_diff;
  double hd95_mm;       /* NAN without @hd95 */
} OrganMetrics;

/* Labels 0 .. n-1 (n one more than the largest label of either map, in *n_labels), index =
 * label; free with g_free.  NULL with METRICS_ERROR_GRID when the grids differ, a
 * COMPLETION_ERROR when out of memory, G_IO_ERROR_CANCELLED when @cancellable is
 * cancelled (checked between labels). */
OrganMetrics *organ_metrics_compare (const LabelVolume *reference, const LabelVolume *test, gboolean hd95,
                                     int32_t *n_labels, GCancellable *cancellable, GError **error);

/* Volume difference of raw volumes: test - reference in *ml_diff and in % of the
 * reference in *percent_diff (NAN when @ml_reference is 0). */
void organ_metrics_volume_diff (double ml_reference, double ml_test, double *ml_diff, double *percent_diff);

/* CSV (RFC 4180) as the comparison tables write it: @text appended to @out, quoted when it
 * holds a comma, quote or line break (quotes doubled); a number with @decimals digits after
 * the point whatever the locale, nothing for a NAN. */
void organ_metrics_csv_text (GString *out, const char *text);
void organ_metrics_csv_number (GString *out, double v, int decimals);

G_END_DECLS
