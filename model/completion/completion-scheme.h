/* completion-scheme.h: completing a label map in its own label scheme.
 *
 * The networks work in the 12 classes; a user's file speaks its own ids (a
 * TotalSegmentator v2 liver is 5, its kidneys 2 and 3, its lung five lobes).  Completing
 * such a file:
 *  1. its ids are mapped to the 12 classes (label-scheme.h) for the network's input;
 *  2. a voxel is free only where the file has no label at all: labels outside the 12
 *     classes (bowel, vessels, limb bones...) stay occupied, untouched;
 *  3. every voxel the file labels keeps its exact value; an added voxel of class c is
 *     written with the scheme's own id for c (its write-back rule): one id when the
 *     scheme has one, the left or right id by the voxel's side (world x against the
 *     midline: the spine's centroid, else that of every label) when the scheme splits
 *     the organ by side, else the reserved id max_id + c named "<class> (completed)".
 *     A file whose ids were matched by names (its table, not the scheme's ids) gets its
 *     own id of that name, or a new id past its largest.
 * The output table names every id of the output, the new ones included.  A class asked
 * for on one side only (CompletionSource.only_side) keeps only that side's added voxels.
 */
#pragma once

#include "completion.h"
#include "label-scheme.h"
#include "label-table.h"

G_BEGIN_DECLS

typedef struct {
  const LabelScheme *scheme;     /* the file's scheme */
  const LabelTable *table;       /* the file's own names, or NULL */
  gboolean by_names;             /* the file's ids are matched to the scheme by these names */
  const char *path;              /* for messages, or NULL */
  /* NULL, or for each 12-class class (LT_N_CLASSES entries) the only side it may be added
   * on: LABEL_SIDE_LEFT / RIGHT keep the added voxels on the patient's left / right of the
   * midline (a request for "kidney_left"), the others go back to background;
   * LABEL_SIDE_NONE keeps both. */
  const LabelSide *only_side;
} CompletionSource;

/* The 12-class class of every id of @src's volume @v (a new uint8 volume). */
LabelVolume *completion_source_map (const CompletionSource *src, const LabelVolume *v, GError **error);

/* The id an added voxel of class @organ is written with on side @right (TRUE: the
 * patient's right), and its name; @used_max is the largest id of the file so far. */
int32_t completion_source_write_id (const CompletionSource *src, int32_t organ, gboolean right, int32_t used_max,
                                    const char **name);

/* Completes @v (in @src's scheme) with @net.  options->selected names 12-class classes;
 * options->added counts voxels per class.  *table_out (may be NULL) receives the names of
 * the output's ids. */
LabelVolume *completion_run_in_scheme (NnNet *net, const CompletionSource *src, const LabelVolume *v,
                                       const CompletionOptions *options, LabelTable **table_out,
                                       GCancellable *cancellable, GError **error);

G_END_DECLS
