/* atlas.h: multi-atlas transfer, the classical baseline for completing a label map.
 *
 * Atlases are complete 12-class label maps of other subjects.  For a partial input and
 * each atlas:
 *
 *  1. fit: a transform G from the input's world (mm, through its affine) to the atlas's
 *     world, from the organs both contain and that are not being added ("shared").
 *     Each organ is represented by points sampled on its boundary (voxels with a
 *     face neighbour of another label inside the grid; faces of the grid, where a scan
 *     cuts an organ flat, are not boundary).  G is found by label-wise trimmed ICP: each
 *     input point p of organ l is paired with the nearest atlas boundary point of the
 *     same organ to G(p); pairs whose G(p) falls outside the atlas's field of view, and
 *     the ATLAS_TRIM_FRACTION farthest pairs, are dropped; G is refitted in closed form
 *     to the pairs; repeat.  The transform grows in stages: translation, then
 *     translation + isotropic scale, then the requested model (similarity: Horn's
 *     quaternion solution with scale; or affine: least squares).  Start: scale from the
 *     cube root of the organs' volume ratio (organs not cut by either field of view),
 *     translation from the median centroid offset per world axis (organs not cut along
 *     that axis).  With fewer than opt->min_shared_rotation shared organs the fit stays
 *     at translation + isotropic scale (rotation and shear are not determined by one or
 *     two blobs); affine needs ATLAS_MIN_SHARED_AFFINE.  Scale stays within
 *     ATLAS_MIN_SCALE..ATLAS_MAX_SCALE, rotation within ATLAS_MAX_ROTATION_DEG, an
 *     affine's singular values within the same scale range: a step beyond that keeps
 *     the simpler model.
 *  2. warp: each free input voxel (background) is mapped by inverse mapping (input voxel
 *     -> world -> G -> atlas voxel, nearest neighbour) into the atlas.
 *  3. fuse: majority vote per voxel and organ among the atlases that can say: an atlas
 *     votes on organ l at a voxel when it contains l and the voxel maps inside its grid.
 *     A free voxel takes the organ with most votes among those that a strict majority
 *     of their voters give; otherwise it stays background.  Only free voxels of the
 *     input are written: the merge rule of completion (completion.h step 4), and small
 *     disconnected pieces are dropped as there (step 5) unless keep_fragments.
 *
 * Labels are the 12 classes of label-table.h; other labels count as "some other organ".
 */
#pragma once

#include <gio/gio.h>
#include "label-volume.h"

G_BEGIN_DECLS

#define ATLAS_ERROR (atlas_error_quark ())
GQuark atlas_error_quark (void);

typedef enum {
  ATLAS_ERROR_INPUT,      /* unusable input or atlas (no organ, singular affine) */
  ATLAS_ERROR_NO_MEMORY,
} AtlasError;

#define ATLAS_N_CLASSES 13

typedef enum {
  ATLAS_TRANSFORM_TRANSLATION_SCALE,  /* translation + isotropic scale */
  ATLAS_TRANSFORM_SIMILARITY,         /* + rotation */
  ATLAS_TRANSFORM_AFFINE,             /* 12 parameters */
} AtlasTransform;

/* Boundary points kept per organ and subject (evenly strided), and per organ of the
 * input in each ICP iteration. */
#define ATLAS_SURFACE_POINTS 6000
#define ATLAS_FIT_POINTS 700
/* Fraction of the farthest pairs dropped in each ICP iteration. */
#define ATLAS_TRIM_FRACTION 0.2
#define ATLAS_MIN_SCALE 0.6
#define ATLAS_MAX_SCALE 1.6
#define ATLAS_MAX_ROTATION_DEG 30.0
#define ATLAS_MIN_SHARED_ROTATION 4
#define ATLAS_MIN_SHARED_AFFINE 6
#define ATLAS_MIN_ML 5.0

typedef struct {
  /* organs that may be added; all FALSE = every organ with no voxel in the input */
  gboolean selected[ATLAS_N_CLASSES];
  AtlasTransform transform;     /* the most general model used (default similarity) */
  int min_shared_rotation;      /* below: translation + scale only (default ATLAS_MIN_SHARED_ROTATION) */
  double min_ml;                /* an organ is present from this volume on (default ATLAS_MIN_ML) */
  int n_threads;                /* 0 = all processors */
  gboolean keep_fragments;      /* keep small disconnected pieces of added organs */
  gboolean reference_search;    /* nearest points by looking at all (the k-d tree's twin, for tests) */
} AtlasOptions;

void atlas_options_init (AtlasOptions *o);

/* What the fit of one atlas gave. */
typedef struct {
  gboolean used;                /* FALSE: no shared organ, or nothing to contribute */
  AtlasTransform transform;     /* the model that was fitted */
  double input_to_atlas[4][4];  /* world mm of the input -> world mm of the atlas (row 3: 0 0 0 1) */
  double scale;                 /* cube root of the determinant of the linear part */
  double rms_mm;                /* distance of the kept pairs at the end */
  int n_shared;                 /* organs used for the fit */
  guint32 shared;               /* their bit mask (bit L = class L) */
  int n_pairs;                  /* kept pairs at the end */
  int n_iterations;
} AtlasFit;

/* A label map prepared as an atlas (or input): organ volumes, centroids, cuts by the
 * field of view, boundary points.  Borrows @v, which must outlive it and not change. */
typedef struct _AtlasSubject AtlasSubject;

AtlasSubject *atlas_subject_new (const LabelVolume *v, double min_ml, GError **error);
void atlas_subject_free (AtlasSubject *s);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (AtlasSubject, atlas_subject_free)

const LabelVolume *atlas_subject_get_volume (const AtlasSubject *s);
/* Organs present (bit L = class L, volume >= min_ml). */
guint32 atlas_subject_get_present (const AtlasSubject *s);

/* Fit @atlas to @input on the organs of @use (restricted to those present in both).
 * FALSE with ATLAS_ERROR_INPUT when they share none. */
gboolean atlas_fit (const AtlasSubject *input, const AtlasSubject *atlas, guint32 use,
                    const AtlasOptions *opt, AtlasFit *fit, GError **error);

/* The completed volume (same geometry and storage as @input): the selected organs
 * transferred from @atlases as described above.  @fits (may be NULL) receives n_atlases
 * entries.  @added (may be NULL) receives ATLAS_N_CLASSES voxel counts.  @cancellable is
 * checked between atlases (G_IO_ERROR_CANCELLED). */
LabelVolume *atlas_complete (const LabelVolume *input, AtlasSubject *const *atlases, int n_atlases,
                             const AtlasOptions *opt, AtlasFit *fits, int64_t *added,
                             GCancellable *cancellable, GError **error);

G_END_DECLS
