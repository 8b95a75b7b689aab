/* completion-frame.h: the network's canonical frame for a label map of any geometry.
 *
 * A network sees anatomy in one physical frame: a cube of grid[0..2] voxels of voxel_mm
 * millimetres whose axes run along world (RAS+) x (towards the patient's right), y
 * (anterior) and z (superior), the way it was trained.  An input of any orientation
 * (axis permutations, flips, oblique affines), voxel size and field of view is brought
 * into that cube through its affine, in world millimetres, never stretched:
 *
 *  - orientation and size come from the input's affine alone;
 *  - position comes from the anatomy present: for each world axis the cube is shifted
 *    so that the organs present sit where the training population has them on average
 *    (the median, over the organs present, of reference centroid - input centroid).
 *    Organs cut by the input's field of view along an axis are not used for that
 *    axis, and the long structures (spine, rib cage, aorta, autochthon muscles), whose
 *    extent along the body depends on the field of view, only position left-right and
 *    anterior-posterior.  Where no organ qualifies for an axis, the organs present are
 *    used even if cut; an input without any label is refused;
 *  - a field of view smaller than the cube is padded with background; anatomy outside
 *    the cube (a neck-to-thigh scan's neck and thighs) is not completed: the cube, set by
 *    the organs, covers every organ the networks complete.
 *
 * Sampling the input into the cube is a majority vote in world space: each cube voxel
 * takes the most frequent label (ties: the lower) at COMPLETION_FRAME_SUBSAMPLES³ points
 * spread evenly over it, each point taking the label of the input voxel containing it
 * (background outside the input), so that the cube sees the same anatomy whatever the
 * input's voxel size;
 * probabilities return to the input's own grid by trilinear interpolation at each input
 * voxel centre (background outside the cube).
 */
#pragma once

#include "label-volume.h"
#include "worker-pool.h"

G_BEGIN_DECLS

#define COMPLETION_FRAME_N_CLASSES 13
#define COMPLETION_FRAME_SUBSAMPLES 3

typedef struct {
  int grid[3];                  /* cube voxels along world x, y, z */
  double voxel_mm;
  double cube_to_input[4][4];   /* cube voxel index (x, y, z, 1) -> input voxel index */
  double input_to_cube[4][4];   /* the inverse */
  double shift_mm[3];           /* translation from input world to the reference frame */
  int n_anchors[3];             /* organs that set the position along each axis */
} CompletionFrame;

/* Mean centroids (mm, relative to the cube's centre, RAS) of the 12 classes in the
 * training population; row 0 (background) is unused. */
typedef struct {
  double centroid[COMPLETION_FRAME_N_CLASSES][3];
} CompletionFrameReference;

/* The reference of the shipped networks: the phantom population (docs/network.md). */
const CompletionFrameReference *completion_frame_reference_default (void);

/* Places @input in a cube of @grid voxels of @voxel_mm.  FALSE when the input has no
 * usable label or a singular affine. */
gboolean completion_frame_init (CompletionFrame *f, const LabelVolume *input, const int grid[3],
                                double voxel_mm, const CompletionFrameReference *ref, GError **error);

/* One-hot cube input: x is (in_channels, D, H, W) with (D, H, W) = grid (z, y, x);
 * labels outside 0..in_channels-1 count as background.  Every element is written. */
void completion_frame_sample_input (const CompletionFrame *f, const LabelVolume *input, int in_channels,
                                    float *x);

/* Probabilities of the classes @classes[0..n_classes-1] of @probs (C, D, H, W) at input
 * voxel position (i, j, k) (integers: voxel centres), trilinear in the cube; @p receives n_classes values.  Outside the cube,
 * class 0 (background) has probability 1 and every other 0. */
void completion_frame_probs_at (const CompletionFrame *f, const float *probs, int C, const int *classes,
                                int n_classes, double i, double j, double k, float *p);

G_END_DECLS
