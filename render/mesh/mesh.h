/* mesh.h: per-label triangle surfaces of a label volume, their smoothing,
 * simplification and export.  No GL, no GTK: usable from worker threads.
 *
 * One SurfaceMesh per label.  Its arrays are plain contiguous buffers that a GL
 * renderer uploads as they are:
 *   glBufferData (GL_ARRAY_BUFFER, m->n_vertices * 3 * sizeof (float), m->positions, ...)
 *   glBufferData (GL_ARRAY_BUFFER, m->n_vertices * 3 * sizeof (float), m->normals, ...)
 *   glBufferData (GL_ELEMENT_ARRAY_BUFFER, m->n_triangles * 3 * sizeof (uint32_t), m->indices, ...)
 * or, for one buffer holding every label, surface_set_pack() gives an interleaved
 * array with per-label ranges.
 *
 * Geometry: positions are world millimetres (the volume's affine applied), triangles
 * are counter-clockwise seen from outside the organ (so the geometric normal
 * (b-a)x(c-a) points outwards, also when the affine flips handedness), normals are
 * unit, outward, area-weighted vertex normals.  Neighbouring organs share the exact
 * same vertex positions along their common boundary (also after smoothing), so there
 * are no gaps between them.
 *
 * Threading: a SurfaceSet is not locked; extraction itself uses several threads
 * internally.  Every function may be called from any thread.
 */
#pragma once

#include <glib.h>
#include <gio/gio.h>
#include <stdint.h>
#include "label-volume.h"
#include "label-table.h"

G_BEGIN_DECLS

#define MESH_ERROR (mesh_error_quark ())
GQuark mesh_error_quark (void);

typedef enum {
  MESH_ERROR_INVALID,    /* bad argument: empty volume, unknown format, bad option */
  MESH_ERROR_TOO_LARGE,  /* more than 2^32-1 vertices or triangles in one mesh */
  MESH_ERROR_IO,         /* cannot write a file */
  MESH_ERROR_EXISTS,     /* output exists and overwrite was not asked */
  MESH_ERROR_CANCELLED,  /* the GCancellable was triggered */
} MeshError;

/* The surface of one label. */
typedef struct {
  int32_t label;          /* label id in the volume */
  uint32_t n_vertices;
  uint32_t n_triangles;
  float *positions;       /* (n_vertices, 3) world mm */
  float *normals;         /* (n_vertices, 3) unit, outward */
  uint32_t *indices;      /* (n_triangles, 3) into this mesh's vertices */
  uint64_t *keys;         /* (n_vertices) grid edge of each vertex; equal keys in two
                           * meshes of one set = the same (shared) point */
  float bbox_min[3];      /* world mm; all zero for an empty mesh */
  float bbox_max[3];
  int64_t voxel_box[6];   /* i0 j0 k0 i1 j1 k1: inclusive voxel extent of the label */
  guint64 serial;         /* new value whenever the arrays change (re-upload when it differs) */
} SurfaceMesh;

/* Surfaces of several labels of one volume. */
typedef struct {
  guint n_meshes;
  SurfaceMesh **meshes;   /* (n_meshes) owned, sorted by label, no empty meshes */
  double affine[4][4];    /* voxel -> world mm of the source volume */
  int64_t dims[3];        /* nx ny nz of the source volume */
  guint smooth_iterations; /* smoothing applied to these meshes (0: raw) */
  double smooth_passband;
} SurfaceSet;

typedef enum {
  SURFACE_METHOD_MARCHING_CUBES = 0,  /* discrete marching cubes, vertices at edge midpoints */
} SurfaceMethod;

typedef struct {
  const int32_t *labels;  /* (n_labels) labels to extract; NULL: every non-zero label */
  guint n_labels;
  int n_threads;          /* 0: one per core (at most 8) */
  SurfaceMethod method;
  guint smooth_iterations; /* Taubin lambda/mu pairs; 0: no smoothing; 10-30 typical */
  double smooth_passband;  /* Taubin pass-band frequency k_pb in (0, 1); 0: 0.1 */
} SurfaceOptions;

/* Sensible defaults: all labels, all cores, marching cubes, no smoothing. */
void surface_options_init (SurfaceOptions *opts);

/* Extract the surfaces of all requested labels in one pass over @v (virtually padded
 * with background so every surface is closed), then smooth them if asked.
 * @opts and @cancellable may be NULL.  Returns NULL with @error set on failure or
 * cancellation.  A volume without labels gives a set with no meshes. */
SurfaceSet *surface_extract (const LabelVolume *v, const SurfaceOptions *opts,
                             GCancellable *cancellable, GError **error);

/* Rebuild only the labels in @changed (n_changed of them) after their voxels changed
 * in @v (same geometry as @set).  @dirty_box (i0 j0 k0 i1 j1 k1, inclusive voxels) bounds
 * every voxel that changed, or NULL if unknown.  Other meshes are kept as they are;
 * vertices shared with them keep their positions, so boundaries stay closed.  Labels
 * that vanished are removed, new ones added.  Meshes that change get a new serial. */
gboolean surface_set_update (SurfaceSet *set, const LabelVolume *v,
                             const int32_t *changed, guint n_changed,
                             const int64_t *dirty_box, const SurfaceOptions *opts,
                             GCancellable *cancellable, GError **error);

SurfaceSet *surface_set_new (void);
void surface_set_free (SurfaceSet *set);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (SurfaceSet, surface_set_free)
SurfaceSet *surface_set_dup (const SurfaceSet *set);

/* Borrowed mesh of @label, or NULL. */
SurfaceMesh *surface_set_get (const SurfaceSet *set, int32_t label);
guint64 surface_set_n_triangles (const SurfaceSet *set);
guint64 surface_set_n_vertices (const SurfaceSet *set);
/* World bounding box of all meshes; FALSE when the set is empty. */
gboolean surface_set_bounds (const SurfaceSet *set, float min[3], float max[3]);
/* Grow the box @min..@max by the box @lo..@hi; while *@any is FALSE the box is empty
 * (it becomes @lo..@hi and *@any TRUE). */
void mesh_bounds_add (float min[3], float max[3], gboolean *any, const float lo[3], const float hi[3]);

/* Taubin lambda/mu smoothing of all meshes of @set together: a point shared by several
 * meshes moves once, identically in all of them.  Volume is preserved to about 1%. */
void surface_set_smooth (SurfaceSet *set, guint iterations, double passband);

/* A simplified copy with about @target_triangles triangles in total (vertex clustering
 * on one grid for the whole set, so shared boundaries stay shared).  Meant for
 * interaction; the result may be non-manifold.  Returns a dup if already small enough. */
SurfaceSet *surface_set_decimate (const SurfaceSet *set, guint64 target_triangles);

/* The same vertex clustering on one indexed mesh, keeping its vertices: on a grid of
 * @cell mm cubes aligned at the origin, each vertex stands for the first vertex of its
 * cell, and a triangle survives when its corners fall into three distinct cells.
 * Indices out of range are dropped.  positions is (n_vertices, 3), indices
 * (n_triangles, 3); returns (*n_out, 3) indices into the same positions (a renderer's
 * levels of detail share one vertex buffer). */
uint32_t *mesh_cluster_indices (const float *positions, uint32_t n_vertices,
                                const uint32_t *indices, uint32_t n_triangles,
                                float cell, uint32_t *n_out);

SurfaceMesh *surface_mesh_new (int32_t label, uint32_t n_vertices, uint32_t n_triangles);
SurfaceMesh *surface_mesh_dup (const SurfaceMesh *m);
void surface_mesh_free (SurfaceMesh *m);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (SurfaceMesh, surface_mesh_free)
/* Recompute area-weighted vertex normals and the bounding box from positions/indices. */
void surface_mesh_update_normals (SurfaceMesh *m);
void surface_mesh_update_bounds (SurfaceMesh *m);
/* Surface area (mm^2) and enclosed signed volume (mm^3, positive for outward winding). */
double surface_mesh_area (const SurfaceMesh *m);
double surface_mesh_volume (const SurfaceMesh *m);

/* One buffer for all meshes: vertices interleaved as px py pz nx ny nz (6 floats),
 * indices already offset into the shared vertex array (glDrawElements with
 * first_index * 4 as the byte offset draws one label). */
typedef struct {
  int32_t label;
  uint32_t first_vertex, n_vertices;
  uint32_t first_index, n_indices;  /* in indices, i.e. 3 per triangle */
} SurfaceRange;

typedef struct {
  float *vertices;        /* (n_vertices, 6) */
  uint32_t *indices;      /* (n_indices) */
  uint32_t n_vertices, n_indices;
  SurfaceRange *ranges;   /* (n_ranges), in the set's order */
  guint n_ranges;
} SurfacePacked;

SurfacePacked *surface_set_pack (const SurfaceSet *set, GError **error);
void surface_packed_free (SurfacePacked *p);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (SurfacePacked, surface_packed_free)

/* ---- export ---- */

typedef enum {
  MESH_FORMAT_AUTO = 0,   /* from the file name's extension */
  MESH_FORMAT_OBJ,        /* Wavefront OBJ + MTL: one group and material per organ */
  MESH_FORMAT_PLY,        /* binary little-endian PLY with per-vertex RGBA colours */
  MESH_FORMAT_STL,        /* binary STL */
} MeshFormat;

typedef struct {
  MeshFormat format;
  gboolean overwrite;     /* replace existing files (default: fail with MESH_ERROR_EXISTS) */
  gboolean per_label;     /* one file per organ: PATH-STEM_<name>.EXT */
  const LabelTable *table; /* names and colours; NULL: generated */
  OutSet *outputs;        /* a command's outputs (out-file.h): the files join it and are moved
                           * into place when its owner commits it (then @overwrite is the
                           * set's); NULL: mesh_export() commits them itself, all or none */
} MeshExportOptions;

/* Write @set to @path (atomically: temporary files, fsync, rename, and with several files
 * all of them or none).  With per_label, each mesh goes to its own file and @path names
 * the stem.  Returns FALSE with @error. */
gboolean mesh_export (const SurfaceSet *set, const char *path,
                      const MeshExportOptions *opts, GError **error);
/* Parse "obj", "ply", "stl" (or a path ending so); MESH_FORMAT_AUTO if unknown. */
MeshFormat mesh_format_from_name (const char *name_or_path);

G_END_DECLS
