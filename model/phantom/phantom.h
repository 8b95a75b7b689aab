/* phantom.h: a procedural torso phantom population.
 *
 * One call makes one subject (a label map in the 12-organ scheme of
 * label-table.h) from a seed.  Every organ is an implicit shape placed
 * relative to a skeleton (spine curve with vertebrae, rib cage, sternum) and
 * to the diaphragm domes, so organs that remain predict organs that are
 * missing.  See docs/phantom.md for the anatomy model and its parameters.
 *
 * Geometry: voxel (i,j,k) -> world mm in NIfTI RAS+ (i towards the patient's
 * right, j anterior, k superior; orientation code "RAS"), the grid centred on
 * the world origin.  Output is uint8.
 */
#pragma once

#include <glib.h>
#include <stdint.h>
#include "label-volume.h"

G_BEGIN_DECLS

#define PHANTOM_ERROR (phantom_error_quark ())
GQuark phantom_error_quark (void);

typedef enum {
  PHANTOM_ERROR_INVALID,  /* bad grid, spacing or variation */
  PHANTOM_ERROR_MEMORY,   /* cannot allocate the volume */
} PhantomError;

/* Field of view (mm) the default spacing is chosen to cover: spacing = this / grid. */
#define PHANTOM_DEFAULT_FOV_MM 448.0
#define PHANTOM_DEFAULT_GRID 128

typedef struct {
  guint64 seed;
  int grid[3];         /* voxels along i, j, k (each 8..1024); default 128 */
  double spacing[3];   /* mm; <= 0 means PHANTOM_DEFAULT_FOV_MM / grid */
  double variation;    /* 1 = the population's natural spread, 0 = the mean anatomy (0..2) */
} PhantomParams;

/* Defaults: seed 0, 128^3, automatic spacing (3.5 mm), variation 1. */
void phantom_params_init (PhantomParams *p);

/* One subject.  Deterministic: the same parameters give identical voxels. */
LabelVolume *phantom_generate (const PhantomParams *p, GError **error);

/* Labels that may be removed by phantom_make_partial: every organ but spine (6)
 * and rib cage (7).  Bit L set = label L. */
#define PHANTOM_SOFT_ORGANS_MASK \
  (((1u << 13) - 2u) & ~((1u << 6) | (1u << 7)))
/* At most this many soft organs are removed from one partial volume. */
#define PHANTOM_MAX_REMOVED 7

/* The subset of soft organs a partial version removes: between 1 and
 * PHANTOM_MAX_REMOVED (never more than present - 1) of the labels in
 * @present_mask (bit L = label L present), drawn from @seed. */
guint32 phantom_draw_removal (guint32 present_mask, guint64 seed);

/* A copy of @v with every label in @mask (bit L = label L, L < 32) set to background. */
LabelVolume *phantom_remove_labels (const LabelVolume *v, guint32 mask, GError **error);

/* A partial version of @complete like the benchmark's: a random subset of the
 * soft organs present is set to background (spine and rib cage always kept).
 * *removed_mask_out (may be NULL) receives the removed labels (bit L = label L). */
LabelVolume *phantom_make_partial (const LabelVolume *complete, guint64 seed,
                                   guint32 *removed_mask_out, GError **error);

/* Bit mask of labels 1..31 present in @v. */
guint32 phantom_labels_present (const LabelVolume *v);

/* A well-mixed 64-bit value from @seed and @index (splitmix64): seeds of
 * subjects and partial versions derived from one dataset seed. */
guint64 phantom_derive_seed (guint64 seed, guint64 index);

G_END_DECLS
