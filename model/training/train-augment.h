/* train-augment.h: training samples made the way real label maps arrive.
 *
 * A sample starts from a complete subject in the 12 classes (a fresh phantom, or a real
 * label map of the training set) and simulates an acquisition of it:
 *
 *  1. a random deformation of the body: ±scale (isotropic, plus a little per axis),
 *     small rotations, and a smooth elastic displacement (a 5³ lattice of random
 *     offsets, trilinear);
 *  2. a field of view: the whole torso with the neck and the pelvis cut or not, or a
 *     slab of 60 mm and up anywhere along the body, sometimes trimmed at the sides;
 *  3. a voxel grid: in-plane and slice sizes drawn from 0.7 to 8 mm, thick slices
 *     included (sizes under TRAIN_AUGMENT_MIN_VOXEL_MM are made at that size: at the
 *     network's 7 mm they look the same);
 *  4. a partial version: some soft organs present in the field of view are removed;
 *  5. the faults of automatic segmentations on what remains: ragged boundaries,
 *     holes, small spurious islands (organs cut flat at the edge of the field of view
 *     come from step 2);
 *  6. the network's view of it through the very code that completion uses
 *     (completion-frame.h): the input placed in the cube by its anatomy, one-hot; the
 *     target is the complete, undamaged subject seen through the same cube (beyond a
 *     real subject's own scan it is NN_LOSS_IGNORE: nothing is known there; a real
 *     subject's background within 60 mm of the heart is NN_LOSS_BACKGROUND_OR when its
 *     source labels no pulmonary artery, so that the loss (or_class = pulmonary artery)
 *     does not teach that the artery never exists).
 *
 * Every sample is a pure function of (seed, index, subjects, options): resuming needs no
 * random state.
 */
#pragma once

#include <glib.h>
#include <stdint.h>
#include "label-volume.h"

G_BEGIN_DECLS

#define TRAIN_AUGMENT_MIN_VOXEL_MM 2.5

typedef struct {
  double p_real;          /* probability of drawing a real subject (when there are some) */
  double p_clean;         /* probability that a phantom is acquired as the benchmark's are: the
                           * whole phantom at 3.5 mm, no deformation, no segmentation faults (0) */
  double p_sparse;        /* probability that the input lacks the context other sources never
                           * label: the muscles, or the skeleton and muscles, or everything but
                           * the abdominal organs (AMOS); the target keeps them (0) */
  double p_slab;          /* probability of a slab field of view */
  double slab_min_mm;     /* shortest slab (60) */
  double voxel_min_mm, voxel_max_mm;   /* 0.7 .. 8 */
  double scale;           /* ±fraction (0.15) */
  double rotate_deg;      /* ±degrees about each axis (8) */
  double elastic_mm;      /* amplitude of the elastic offsets (10) */
  double noise;           /* segmentation faults, 0 = none, 1 = like real automatic labels */
} TrainAugmentOptions;

void train_augment_options_init (TrainAugmentOptions *o);

/* The complete subjects: real label maps in the 12 classes (any geometry), and phantoms
 * drawn fresh for every sample. */
typedef struct _TrainSubjects TrainSubjects;

TrainSubjects *train_subjects_new (void);
void train_subjects_free (TrainSubjects *s);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (TrainSubjects, train_subjects_free)

/* Adds a real subject (taken over); FALSE when it holds no organ of the 12 classes. */
gboolean train_subjects_add (TrainSubjects *s, LabelVolume *complete, const char *name, GError **error);
guint train_subjects_get_n (const TrainSubjects *s);

/* Sample @index of a run with @seed on a cube of @grid voxels of @voxel_mm: input
 * (n_classes, D, H, W) one-hot, target (D*H*W) complete labels, partial_out (D*H*W, may be
 * NULL) the partial labels as the network sees them, *removed the removed labels
 * (bit L = label L).  @subject (>= 0) forces one real subject (validation), -1 draws. */
gboolean train_augment_sample (const TrainSubjects *subjects, const TrainAugmentOptions *o, guint64 seed,
                               guint64 index, int subject, const int grid[3], double voxel_mm, int n_classes,
                               float *input, guint8 *target, guint8 *partial_out, guint32 *removed,
                               GError **error);

G_END_DECLS
