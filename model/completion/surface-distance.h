/* surface-distance.h: distances between organ surfaces of two label maps on one grid.
 *
 * An organ's surface is the set of its boundary voxels: voxels of the label with a face
 * neighbour of another label or outside the grid (an organ cut by the field of view has
 * its cut face as surface, in both maps alike), taken at their centres in world mm.
 *
 *   HD95 = max (P95 { d(a, B) : a in A }, P95 { d(b, A) : b in B })
 *
 * with d(x, S) the distance from x to the nearest point of S and P95 the nearest-rank
 * 95th percentile (the ceil(0.95 n)-th smallest of n), as in the usual definition of the
 * 95 % Hausdorff distance (e.g. MONAI's, which also takes the larger directed value).
 */
#pragma once

#include <glib.h>
#include <stdint.h>
#include "label-volume.h"

G_BEGIN_DECLS

typedef struct _SurfacePoints SurfacePoints;

/* Boundary voxels of the labels in @labels (bit L = label L, labels 1..31) of @v.  NULL
 * with COMPLETION_ERROR_NO_MEMORY when out of memory. */
SurfacePoints *surface_points_new (const LabelVolume *v, guint32 labels, GError **error);
void surface_points_free (SurfacePoints *s);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (SurfacePoints, surface_points_free)

/* The same for any label ids: label L when L < @n_want and @want[L] is not 0 (@want is
 * indexed by label, 0 is never taken). */
SurfacePoints *surface_points_new_for (const LabelVolume *v, const guint8 *want, int32_t n_want, GError **error);

/* Number of boundary voxels of @label (0 when it is absent or was not asked for). */
int surface_points_get_count (const SurfacePoints *s, int32_t label);

/* HD95 in mm between @label of @a and of @b; NAN when either has no voxel of it. */
double surface_distance_hd95 (const SurfacePoints *a, const SurfacePoints *b, int32_t label);

G_END_DECLS
