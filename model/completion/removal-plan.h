/* removal-plan.h: which organs an evaluation removes from a complete label map.
 *
 * A complete 12-class map (label-table.h) is turned into partial inputs the same way for
 * every case and every method, with no randomness:
 *
 *  1. each soft organ present, removed alone, in class order (soft: every class but
 *     spine 6 and rib cage 7, the anchor the benchmark always keeps);
 *  2. then the fixed triples, each only when all three organs are present:
 *     spleen + liver + kidney, heart + aorta + pulmonary artery,
 *     spleen + stomach + pancreas.
 *
 * "Present" is a volume: at least @min_ml millilitres (REMOVAL_PLAN_MIN_ML by default),
 * so that a few stray voxels (an organ just touching the edge of a scan) are neither
 * removed nor scored.  A removal that would leave no organ present at all is skipped.
 */
#pragma once

#include <glib.h>
#include <stdint.h>
#include "label-volume.h"

G_BEGIN_DECLS

/* Classes of the 12-class scheme, background included. */
#define REMOVAL_PLAN_N_CLASSES 13

/* An organ counts as present from this volume on (mL). */
#define REMOVAL_PLAN_MIN_ML 5.0

/* Bit L = class L: the soft organs (every class 1..12 but spine and rib cage). */
#define REMOVAL_PLAN_SOFT_MASK (((1u << REMOVAL_PLAN_N_CLASSES) - 2u) & ~((1u << 6) | (1u << 7)))

/* The fixed triples, as bit masks: spleen+liver+kidney, heart+aorta+pulmonary artery,
 * spleen+stomach+pancreas. */
#define REMOVAL_PLAN_N_TRIPLES 3
extern const guint32 removal_plan_triples[REMOVAL_PLAN_N_TRIPLES];

/* Voxel counts of classes 0..12 of @v into @counts (labels outside 0..12 are not
 * counted), and the mask of classes 1..12 whose volume reaches @min_ml mL. */
guint32 removal_plan_present (const LabelVolume *v, double min_ml, int64_t counts[REMOVAL_PLAN_N_CLASSES]);

/* The removals for a map whose present organs are @present (bit L = class L): the bit
 * masks of the organs each removal takes out, in the order above.  Free with
 * g_array_unref; elements are guint32. */
GArray *removal_plan_make (guint32 present);

/* TRUE when @mask is one of the fixed triples. */
gboolean removal_plan_is_triple (guint32 mask);

/* "liver", "spleen+liver+kidney": the class names of @mask joined by '+'. */
char *removal_plan_dup_name (guint32 mask);

/* A copy of @v (same geometry) where the classes of @mask are background. */
LabelVolume *removal_plan_apply (const LabelVolume *v, guint32 mask);

G_END_DECLS
