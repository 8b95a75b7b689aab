/* completion.h: complete a partial label map with a network.
 *
 * 1. the input is placed in the network's physical frame (completion-frame.h: by its
 *    affine, at the network's voxel size, positioned by the organs present) and
 *    one-hot encoded (labels outside 0..in_channels-1 count as background);
 * 2. the network runs (progress and cancellation between layers);
 * 3. the probabilities of background and of the classes that may be added are
 *    brought back to every input voxel by trilinear interpolation in the cube, one
 *    input slice per task (memory stays bounded for large inputs);
 * 4. merge: voxels labelled in the input keep their label; a background voxel
 *    takes the most probable of background and the selected classes (all
 *    classes when none is selected), unless it lies beyond the scanned slab: slices
 *    across the body axis with no label at all at either end of the input
 *    (completion_scanned_slab) lie outside the scan's field of view, so nothing is
 *    known there and nothing is added (an organ removed from the end slices, which
 *    then hold no label, is not completed there);
 * 5. fragments: a connected piece (6-neighbourhood) of an added organ smaller than
 *    COMPLETION_FRAGMENT_FRACTION of that organ's largest added piece goes back to
 *    background (unless keep_fragments).  Paired organs keep both sides;
 * 6. if asked, the probabilities are kept with each added class's confidence
 *    (completion-probs.h).
 */
#pragma once

#include <gio/gio.h>
#include "label-volume.h"
#include "completion-probs.h"
#include "nn-net.h"

G_BEGIN_DECLS

#define COMPLETION_ERROR (completion_error_quark ())
GQuark completion_error_quark (void);

typedef enum {
  COMPLETION_ERROR_INPUT,     /* unusable input volume */
  COMPLETION_ERROR_NO_MEMORY,
  COMPLETION_ERROR_MODEL,     /* the network cannot be used (its output is not finite) */
} CompletionError;

#define COMPLETION_MAX_CLASSES 64

typedef struct {
  /* classes that may be added; all FALSE = every class but background */
  gboolean selected[COMPLETION_MAX_CLASSES];
  int n_threads;                    /* 0 = all processors */
  NnProgressFunc progress;          /* fraction of the whole completion, stage name */
  gpointer progress_data;
  /* if not NULL, receives the network's probabilities and each added class's
   * confidence (completion-probs.h) */
  CompletionProbs **probs_out;
  /* if not NULL, receives the number of voxels added per class (n_classes entries) */
  int64_t *added;
  gboolean keep_fragments;          /* skip step 5 */
  /* if not NULL (same grid as the input), a voxel is free, i.e. may be added to, only
   * where this volume is 0 (labels the network does not know still occupy voxels) */
  const LabelVolume *occupied;
} CompletionOptions;

#define COMPLETION_FRAGMENT_FRACTION 0.1

/* Edge of the network's cube in mm for models whose metadata gives no voxel size: the
 * networks before the physical frame learnt from phantoms spanning 448 mm (7 mm voxels
 * at 64³). */
#define COMPLETION_DEFAULT_CUBE_MM 448.0

/* The network's voxel size: its metadata's voxel_mm, else COMPLETION_DEFAULT_CUBE_MM / grid. */
double completion_voxel_mm (const NnConfig *cfg);

/* The shipped model file of @arch, <arch>.safetensors: in $ANATOMY_MODELS_DIR when that is
 * set (only there), otherwise in data/models of the source tree, then of the installed
 * data.  NULL when there is none; @looked (may be NULL) then names the folders searched. */
char *completion_find_model (NnArch arch, char **looked);

/* Returns the completed volume (same geometry and header as @input). */
LabelVolume *completion_run (NnNet *net, const LabelVolume *input, const CompletionOptions *options,
                             GCancellable *cancellable, GError **error);

/* The slab of @v that holds labels along its body axis: returns the voxel axis (0, 1, 2
 * = i, j, k) closest to world z (superior; for an oblique affine, the nearest) and sets
 * [*lo, *hi] to the first and last slice across it with a label other than 0 (*lo > *hi
 * when there is none). */
int completion_scanned_slab (const LabelVolume *v, int64_t *lo, int64_t *hi);

/* Step 5 alone: in @out, pieces of voxels added to @input (background there) that are
 * smaller than @fraction of their label's largest added piece become background;
 * @added (n_classes counts, may be NULL) is decreased accordingly. */
gboolean completion_drop_fragments (const LabelVolume *input, LabelVolume *out, double fraction,
                                    int64_t *added, int n_classes, GError **error);


G_END_DECLS
