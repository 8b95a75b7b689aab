/* renderer-private.h: what the GL side of the renderer (renderer.c) reads of the CPU
 * meshes built in render-mesh.c. */
#pragma once

#include "renderer.h"

G_BEGIN_DECLS

struct _ArRenderMesh {
  int32_t label;
  guint32 n_vertices;
  float *vertices;        /* (n_vertices, 6): x y z nx ny nz */
  float *values;          /* (n_vertices) per-vertex values, or NULL */
  guint32 n_triangles;
  guint32 *indices;       /* (n_triangles, 3) */
  /* Simplified levels, finest first: (n_triangles_lod[k], 3) indices into the same
   * vertices; levels beyond n_lod are absent. */
  int n_lod;
  guint32 n_triangles_lod[AR_RENDER_MESH_MAX_LOD];
  guint32 *indices_lod[AR_RENDER_MESH_MAX_LOD];
  float bmin[3], bmax[3];
};

/* The GLSL function vec3 value_color (float v) of ar_value_color (newly allocated). */
char *ar_value_color_glsl (void);

G_END_DECLS
