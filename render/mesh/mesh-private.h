/* mesh-private.h: internals shared by the render/ mesh files and their tests. */
#pragma once

#include "mesh.h"
#include "mc-tables.h"
#include "worker-pool.h"
#include "mem-advise.h"

G_BEGIN_DECLS

/* Threads used when SurfaceOptions.n_threads is 0: one per core, at most 8. */
int mesh_default_threads (void);

/* Next value for SurfaceMesh.serial (process-wide, atomic). */
guint64 mesh_next_serial (void);

/* Voxel (i,j,k) of the virtually padded grid (each in -1..n) and edge axis -> key. */
static inline uint64_t
mesh_edge_key (const int64_t dims[3], int64_t i, int64_t j, int64_t k, int axis)
{
  uint64_t p = (uint64_t) ((i + 1) + (dims[0] + 2) * ((j + 1) + (dims[1] + 2) * (k + 1)));
  return p * 3 + (uint64_t) axis;
}

static inline void
mesh_key_decode (const int64_t dims[3], uint64_t key, int64_t ijk[3], int *axis)
{
  *axis = (int) (key % 3);
  uint64_t p = key / 3;
  uint64_t w = (uint64_t) dims[0] + 2, h = (uint64_t) dims[1] + 2;
  ijk[0] = (int64_t) (p % w) - 1;
  ijk[1] = (int64_t) ((p / w) % h) - 1;
  ijk[2] = (int64_t) (p / (w * h)) - 1;
}

/* qsort comparator of int32_t. */
static inline int
mesh_cmp_i32 (const void *a, const void *b)
{
  int32_t x = *(const int32_t *) a, y = *(const int32_t *) b;
  return (x > y) - (x < y);
}

/* The first index of @sorted (n ascending labels) whose label is >= @l (n if none). */
static inline guint
mesh_lower_bound (const int32_t *sorted, guint n, int32_t l)
{
  guint lo = 0, hi = n;
  while (lo < hi)
    {
      guint mid = (lo + hi) / 2;
      if (sorted[mid] < l)
        lo = mid + 1;
      else
        hi = mid;
    }
  return lo;
}

/* A set without meshes, with the geometry (affine, dims) of @v. */
SurfaceSet *mesh_set_new_like (const LabelVolume *v);

/* @opts, or the defaults (written to @def) when it is NULL. */
static inline const SurfaceOptions *
mesh_options_or_default (const SurfaceOptions *opts, SurfaceOptions *def)
{
  if (opts)
    return opts;
  surface_options_init (def);
  return def;
}

/* The checks every extraction starts with: a non-empty volume of a size we can index. */
gboolean mesh_check_volume (const LabelVolume *v, GError **error);
/* The distinct non-zero labels of @labels (n), ascending, in a new array of *n_out. */
int32_t *mesh_sorted_labels (const int32_t *labels, guint n, guint *n_out);

/* World position of the midpoint of edge @key. */
void mesh_key_position (const double affine[4][4], const int64_t dims[3], uint64_t key, float out[3]);

/* Taubin lambda/mu smoothing in place.
 * pos is (nv, 3); tris is (nt, 3) indices into pos (closed, consistently wound surfaces:
 * every edge is taken once per surface from its a < b direction); fixed is (nv) flags
 * or NULL (fixed vertices do not move). */
void mesh_taubin (float *pos, uint32_t nv, const uint32_t *tris, uint64_t nt,
                  const uint8_t *fixed, guint iterations, double passband, int n_threads);
/* The same with vertex ids stored as tris[i] >> shift (the low bits carry other data). */
void mesh_taubin_shifted (float *pos, uint32_t nv, const uint32_t *tris, uint64_t nt, int shift,
                          const uint8_t *fixed, guint iterations, double passband, int n_threads);
/* Naive twin: builds neighbour sets with explicit de-duplication of directed edges. */
void mesh_taubin_reference (float *pos, uint32_t nv, const uint32_t *tris, uint64_t nt,
                            const uint8_t *fixed, guint iterations, double passband);
void mesh_taubin_factors (double passband, double *lambda, double *mu);

/* Naive reference extraction: one label at a time, every cell, a hash per label for the
 * vertices.  Same output (as sets of keyed triangles) as surface_extract without smoothing. */
SurfaceSet *surface_extract_reference (const LabelVolume *v, const SurfaceOptions *opts,
                                       GError **error);

/* Voxel box limited extraction used by surface_set_update: labels @want (sorted, n_want),
 * cells covering voxels box[0..5] (inclusive, already grown by one and clipped to -1..n). */
SurfaceSet *surface_extract_box (const LabelVolume *v, const int32_t *want, guint n_want,
                                 const int64_t box[6], int n_threads,
                                 const SurfaceSet *pins, const SurfaceOptions *opts,
                                 GCancellable *cancellable, GError **error);

G_END_DECLS
