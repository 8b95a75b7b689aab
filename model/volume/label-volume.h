/* label-volume.h: a 3D integer label map with its geometry.
 *
 * Voxels are stored x-fastest: index(i,j,k) = i + nx * (j + ny * k), the NIfTI
 * on-disk order.  Labels are stored compactly: uint8 when every label is in
 * 0..255, uint16 when in 0..65535, otherwise int32 (bytes_per_voxel 1, 2, 4).
 * The affine maps voxel indices (i,j,k,1) to world millimetres in the NIfTI
 * (RAS+) convention.
 */
#pragma once

#include <glib.h>
#include <stdint.h>

G_BEGIN_DECLS

typedef struct _NiftiSource NiftiSource; /* opaque: the header a volume was read from */

typedef struct {
  int64_t nx, ny, nz;      /* dimensions in voxels, each >= 1 */
  double spacing[3];       /* voxel size in mm along i, j, k (> 0) */
  double affine[4][4];     /* voxel (i,j,k,1) -> world mm; row-major, affine[3] = 0 0 0 1 */
  int bytes_per_voxel;     /* 1 (uint8), 2 (uint16) or 4 (int32) */
  void *data;              /* nx*ny*nz labels, x fastest */
  NiftiSource *source;     /* owned; NULL for volumes made in memory */
} LabelVolume;

/* Allocate a zeroed volume with identity-diagonal affine (spacing on the diagonal). */
LabelVolume *lv_volume_new (int64_t nx, int64_t ny, int64_t nz,
                            const double spacing[3], int bytes_per_voxel,
                            GError **error);
void lv_volume_free (LabelVolume *v);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (LabelVolume, lv_volume_free)

/* A deep copy (data, geometry and source header). */
LabelVolume *lv_volume_dup (const LabelVolume *v);
/* A zeroed volume with the same geometry and source header as @v. */
LabelVolume *lv_volume_new_like (const LabelVolume *v, int bytes_per_voxel);

static inline int64_t
lv_volume_n_voxels (const LabelVolume *v)
{
  return v->nx * v->ny * v->nz;
}

static inline int32_t
lv_volume_get_index (const LabelVolume *v, int64_t idx)
{
  switch (v->bytes_per_voxel)
    {
    case 1: return ((const uint8_t *) v->data)[idx];
    case 2: return ((const uint16_t *) v->data)[idx];
    default: return ((const int32_t *) v->data)[idx];
    }
}

static inline int32_t
lv_volume_get (const LabelVolume *v, int64_t i, int64_t j, int64_t k)
{
  return lv_volume_get_index (v, i + v->nx * (j + v->ny * k));
}

/* The caller must make sure @label fits the storage (see lv_volume_widen_for). */
static inline void
lv_volume_set_index (LabelVolume *v, int64_t idx, int32_t label)
{
  switch (v->bytes_per_voxel)
    {
    case 1: ((uint8_t *) v->data)[idx] = (uint8_t) label; break;
    case 2: ((uint16_t *) v->data)[idx] = (uint16_t) label; break;
    default: ((int32_t *) v->data)[idx] = label; break;
    }
}

static inline void
lv_volume_set (LabelVolume *v, int64_t i, int64_t j, int64_t k, int32_t label)
{
  lv_volume_set_index (v, i + v->nx * (j + v->ny * k), label);
}

/* Smallest storage (1, 2 or 4 bytes) that holds every label in min..max. */
int lv_storage_for_range (int64_t min_label, int64_t max_label);
/* Convert the storage in place so that @label fits; FALSE if out of memory. */
gboolean lv_volume_widen_for (LabelVolume *v, int32_t label, GError **error);
void lv_volume_min_max (const LabelVolume *v, int32_t *min_label, int32_t *max_label);

/* Voxel counts per label: returns an array of (max_label + 1) counts (labels < 0 are
 * not counted); *n_out receives its length. */
int64_t *lv_volume_histogram (const LabelVolume *v, int32_t *n_out);

/* Set the affine and derive spacing from its column norms. */
void lv_volume_set_affine (LabelVolume *v, const double affine[4][4]);
/* Volume of one voxel in mm^3 (|det| of the affine's 3x3 part). */
double lv_volume_voxel_mm3 (const LabelVolume *v);
/* ---- 4×4 affines (row-major, last row 0 0 0 1), e.g. voxel -> world ---- */

/* Determinant of the 3×3 linear part. */
double lv_affine_det3 (const double m[4][4]);
/* out = a · b (out may be a or b). */
void lv_affine_mul (const double a[4][4], const double b[4][4], double out[4][4]);
/* out = m · (p, 1), its first three rows (out may be p). */
void lv_affine_apply (const double m[4][4], const double p[3], double out[3]);
/* The inverse; FALSE (out untouched) when m is singular relative to its size or not finite. */
gboolean lv_affine_invert (const double m[4][4], double out[4][4]);

/* The voxel axis (0, 1, 2 = i, j, k) whose direction has the largest component along
 * world axis @world_axis (0, 1, 2 = x, y, z); ties: the lower axis. */
int lv_affine_voxel_axis_along (const double m[4][4], int world_axis);

/* Orientation code of the affine's axes, e.g. "RAS", "LPS" (4 bytes incl. NUL). */
void lv_volume_orientation (const LabelVolume *v, char code[4]);

/* ---- sets of label ids ---- */

/* Orders two int32_t ids, ascending (for g_array_sort and qsort). */
int lv_compare_ids (gconstpointer a, gconstpointer b);
/* The ids of @set (keys GINT_TO_POINTER (id)) as a new array of int32_t, ascending when
 * @sorted, else in the set's order. */
GArray *lv_ids_of_set (GHashTable *set, gboolean sorted);

G_END_DECLS
