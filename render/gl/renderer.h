/* renderer.h: the OpenGL renderer shared by the GtkGLArea views and the offscreen
 * `anatomy render` command.
 *
 * Two halves:
 *  - ArRenderMesh (render-mesh.c): CPU-side, immutable, reference-counted surface data
 *    (interleaved position+normal, triangle indices, simplified index sets for
 *    interaction and the bounding box).  Built anywhere, including worker threads.
 *  - ArRenderer (renderer.c): the GL side.  Everything that touches GL needs the caller's context
 *    current: ar_renderer_realize() creates shaders and buffers, ar_renderer_unrealize()
 *    deletes them (the CPU scene is kept, so a later realize uploads it again),
 *    ar_renderer_draw() uploads meshes marked dirty and draws.  Setting meshes or
 *    styles never calls GL; it only marks the scene dirty.
 *
 * Drawing: multisampled (4x by default; see ar_renderer_set_samples), opaque surfaces
 * nearest first, then the transparent ones blended over them, far sides before near
 * sides and farthest mesh first (sorted at every draw, so the result does not depend
 * on the order meshes were added); a final pass composites the result into the
 * caller's framebuffer over a gradient background.  Shading: hemisphere ambient plus
 * key, fill and rim lights and a Blinn-Phong highlight, two-sided.
 */
#pragma once

#include <glib.h>
#include <stdint.h>
#include "camera.h"
#include "mesh.h"

G_BEGIN_DECLS

#define AR_RENDERER_ERROR (ar_renderer_error_quark ())
GQuark ar_renderer_error_quark (void);

typedef enum {
  AR_RENDERER_ERROR_SHADER,     /* compile or link failure */
  AR_RENDERER_ERROR_FRAMEBUFFER, /* incomplete framebuffer */
  AR_RENDERER_ERROR_CONTEXT,    /* GL version or extension missing */
} ArRendererError;

typedef struct _ArRenderMesh ArRenderMesh;

/* Build from separate arrays (copied): positions and normals are (n_vertices, 3) floats
 * in world mm, indices are (n_triangles, 3).  @normals may be NULL (computed from the
 * triangles, area-weighted).  Thread-safe. */
ArRenderMesh *ar_render_mesh_new (int32_t label,
                                  const float *positions, const float *normals,
                                  guint32 n_vertices,
                                  const guint32 *indices, guint32 n_triangles);
/* Per-vertex values (n_vertices, copied; e.g. the network's probability of the organ at
 * each vertex) for ArLabelStyle.by_value.  Only before the mesh is first drawn. */
void ar_render_mesh_set_values (ArRenderMesh *m, const float *values);
gboolean ar_render_mesh_has_values (const ArRenderMesh *m);
/* The same from an extracted surface (copied; @m is not kept). */
ArRenderMesh *ar_render_mesh_new_from_surface (const SurfaceMesh *m);
ArRenderMesh *ar_render_mesh_ref (ArRenderMesh *m);
void ar_render_mesh_unref (ArRenderMesh *m);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (ArRenderMesh, ar_render_mesh_unref)
int32_t ar_render_mesh_get_label (const ArRenderMesh *m);
guint32 ar_render_mesh_get_n_triangles (const ArRenderMesh *m);
/* Levels of detail: level 0 is the full mesh, levels 1 .. n-1 are simplified by
 * vertex clustering (mesh_cluster_indices) on grids of 2, 3, 4.5, 7 and 10 mean edge
 * lengths (each about 0.35-0.5 of the triangles of the one before).  Small meshes have
 * fewer levels; asking for a level beyond the last gives the last. */
#define AR_RENDER_MESH_MAX_LOD 5
int ar_render_mesh_get_n_levels (const ArRenderMesh *m);
guint32 ar_render_mesh_get_n_triangles_level (const ArRenderMesh *m, int level);
/* The same as level 1. */
guint32 ar_render_mesh_get_n_triangles_lod (const ArRenderMesh *m);
void ar_render_mesh_get_bounds (const ArRenderMesh *m, float min[3], float max[3]);

typedef struct _ArRenderer ArRenderer;

typedef struct {
  float rgba[4];        /* base colour (sRGB, 0..1); rgba[3] is the opacity */
  gboolean visible;
  gboolean highlight;   /* draw a glowing rim: "newly completed" */
  gboolean by_value;    /* colour by the mesh's per-vertex values on the value scale
                         * (ar_value_color), where it has them */
} ArLabelStyle;

/* The value scale of by_value (e.g. the network's probability): 0 dark violet, 0.5 red,
 * 0.75 orange, 1 pale yellow (sRGB, 0..1); values are clamped to 0..1. */
void ar_value_color (float value, float rgb[3]);

ArRenderer *ar_renderer_new (void);
void ar_renderer_free (ArRenderer *r);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (ArRenderer, ar_renderer_free)

/* GL context must be current. */
gboolean ar_renderer_realize (ArRenderer *r, GError **error);
void ar_renderer_unrealize (ArRenderer *r);
gboolean ar_renderer_is_realized (const ArRenderer *r);

/* Replace the mesh of @m's label (takes a reference).  No GL. */
void ar_renderer_set_mesh (ArRenderer *r, ArRenderMesh *m);
void ar_renderer_remove_mesh (ArRenderer *r, int32_t label);
void ar_renderer_clear (ArRenderer *r);
guint ar_renderer_get_n_meshes (const ArRenderer *r);
/* Union of the meshes' bounding boxes; FALSE when empty. */
gboolean ar_renderer_get_bounds (const ArRenderer *r, float min[3], float max[3]);
/* Style of a label (a default grey opaque style until set).  No GL. */
void ar_renderer_set_style (ArRenderer *r, int32_t label, const ArLabelStyle *style);
void ar_renderer_get_style (const ArRenderer *r, int32_t label, ArLabelStyle *style);
/* Draw simplified meshes with one sample, transparent ones from their near side only
 * (while the user drags).  The level is the finest whose visible triangles fit the
 * budget (the coarsest if none fits); budget 0 means level 1.  Full quality returns with
 * interactive FALSE. */
void ar_renderer_set_interactive (ArRenderer *r, gboolean interactive);
void ar_renderer_set_triangle_budget (ArRenderer *r, guint64 max_triangles);
/* Resolution scale while interactive (0.25..1, default 1): the passes run at
 * scale × the size and the composite scales them up bilinearly. */
void ar_renderer_set_interactive_scale (ArRenderer *r, float scale);
/* Level of detail used by the last draw (0: full meshes). */
int ar_renderer_get_last_level (const ArRenderer *r);
/* Gradient background, top and bottom colours (sRGB). */
void ar_renderer_set_background (ArRenderer *r, const float top[3], const float bottom[3]);
/* Multisampling: 1 disables it; clamped to what the context allows (default 4).  0 is
 * automatic, taken when the renderer is realized: 4 samples on a GPU; on a software
 * rasteriser (llvmpipe) 1 sample and the edges smoothed in the composite. */
void ar_renderer_set_samples (ArRenderer *r, int samples);

/* Draw into framebuffer @target_fbo (0 = default) of @width x @height pixels.
 * Uploads dirty meshes first.  GL context must be current. */
gboolean ar_renderer_draw (ArRenderer *r, const ArCamera *cam, int width, int height,
                           guint target_fbo, GError **error);
/* Triangles drawn by the last ar_renderer_draw. */
guint64 ar_renderer_get_last_triangles (const ArRenderer *r);

G_END_DECLS
