/* train-data.h: training samples and Dice scores for the completion networks.
 *
 * A sample is a (partial, complete) pair of label maps on the network grid:
 * the partial one-hot encoded as the network input (n_classes, nz, ny, nx) and
 * the complete one as the target labels (nz*ny*nx, x fastest: a LabelVolume's
 * voxel order).  Phantom samples are drawn from a seed and an index only, so a
 * training run is a pure function of (seed, step): resuming needs no RNG state.
 *
 * Augmentation keeps left/right (and anterior/posterior, superior/inferior)
 * meaning: only an integer translation of up to max_shift voxels per axis,
 * applied identically to input and target, background coming in at the edges.
 */
#pragma once

#include <glib.h>
#include <stdint.h>
#include "label-volume.h"

G_BEGIN_DECLS

#define TRAIN_DATA_ERROR (train_data_error_quark ())
GQuark train_data_error_quark (void);

typedef enum {
  TRAIN_DATA_ERROR_INPUT,   /* volumes do not match */
} TrainDataError;

/* Seed streams derived from a run's seed (phantom_derive_seed (seed ^ stream, index)). */
#define TRAIN_STREAM_SUBJECT  0x5355424aull   /* "SUBJ" */
#define TRAIN_STREAM_PARTIAL  0x50415254ull   /* "PART" */
#define TRAIN_STREAM_SHIFT    0x53484946ull   /* "SHIF" */

/* Resample (nearest) @partial and @complete to grid (nx, ny, nz), translate by
 * shift (voxels, along x, y, z), one-hot encode the partial into input
 * (n_classes, nz, ny, nx) (labels >= n_classes count as background), write the
 * complete labels to target and, if not NULL, the partial labels to partial_out. */
gboolean train_data_encode (const LabelVolume *partial, const LabelVolume *complete, const int grid[3],
                            const int shift[3], int n_classes, float *input, guint8 *target,
                            guint8 *partial_out, GError **error);

/* The augmentation shift of sample @index of a run with @seed: each axis uniform in
 * -max_shift..max_shift voxels (all 0 when max_shift is 0). */
void train_data_shift (guint64 seed, guint64 index, int max_shift, int shift[3]);

/* Phantom sample @index of a run with @seed: a fresh subject generated directly on
 * the grid, a fresh partial version, a random shift in -max_shift..max_shift.
 * *removed receives the removed labels (bit L = label L). */
gboolean train_data_phantom_sample (guint64 seed, guint64 index, const int grid[3], int max_shift,
                                    int n_classes, float *input, guint8 *target, guint8 *partial_out,
                                    guint32 *removed, GError **error);

/* Completed labels from class probabilities prob (C, n), merged like completion:
 * labelled voxels of the partial keep their label, background takes the argmax. */
void train_data_predict (const float *prob, int C, int64_t n, const guint8 *partial, guint8 *pred);

/* Dice of label L between pred and truth for every L < 32 (labels taken modulo 32), by
 * metrics_dice(): dice[L] is NAN where L is in neither (see metrics.h).  Voxels whose
 * truth is NN_LOSS_IGNORE (unknown) are left out; NN_LOSS_BACKGROUND_OR counts as 0. */
void train_data_dice (const guint8 *pred, const guint8 *truth, int64_t n, double dice[32]);

/* Mean Dice over the removed labels (bit L of @removed), NAN ones left out; NAN when no
 * removed label is in either map. */
double train_data_removed_dice (const guint8 *pred, const guint8 *truth, int64_t n, guint32 removed);

/* The pairs of a dataset in the benchmark layout: DIR/complete/sXXXX_full.nii[.gz] with
 * DIR/incomplete/sXXXX/sXXXX_k.nii[.gz], sorted; one (partial, complete) path pair per partial
 * volume.  FALSE with an error naming DIR when there is none. */
gboolean train_data_scan_dataset (const char *dir, GPtrArray **partials, GPtrArray **completes, GError **error);

G_END_DECLS
