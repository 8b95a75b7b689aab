/* render-mesh.c: the CPU half of the renderer (see renderer.h): immutable,
 * reference-counted meshes in the layout the GL side uploads (interleaved position and
 * normal), with their levels of detail.  No GL: built on any thread. */
#include "renderer-private.h"

#include <string.h>

static void
render_mesh_clear (ArRenderMesh *m)
{
  g_free (m->vertices);
  g_free (m->values);
  g_free (m->indices);
  for (int k = 0; k < m->n_lod; k++)
    g_free (m->indices_lod[k]);
}

/* Below this many triangles the full mesh is cheap enough to draw while dragging. */
#define LOD_MIN_TRIANGLES 4000

ArRenderMesh *
ar_render_mesh_new (int32_t label, const float *positions, const float *normals,
                    guint32 n_vertices, const guint32 *indices, guint32 n_triangles)
{
  ArRenderMesh *m = g_atomic_rc_box_new0 (ArRenderMesh);
  m->label = label;
  m->n_vertices = n_vertices;
  m->n_triangles = n_triangles;
  m->vertices = g_new (float, (gsize) n_vertices * 6);
  m->indices = g_memdup2 (indices, (gsize) n_triangles * 3 * sizeof (guint32));
  for (int a = 0; a < 3; a++)
    {
      m->bmin[a] = n_vertices ? G_MAXFLOAT : 0.f;
      m->bmax[a] = n_vertices ? -G_MAXFLOAT : 0.f;
    }
  for (guint32 v = 0; v < n_vertices; v++)
    for (int a = 0; a < 3; a++)
      {
        float p = positions[3 * v + a];
        m->vertices[6 * v + a] = p;
        m->vertices[6 * v + 3 + a] = normals ? normals[3 * v + a] : 0.f;
        m->bmin[a] = MIN (m->bmin[a], p);
        m->bmax[a] = MAX (m->bmax[a], p);
      }
  if (!normals)
    {
      /* Area-weighted vertex normals: the cross product's length is twice the area. */
      for (guint32 t = 0; t < n_triangles; t++)
        {
          const guint32 *tri = indices + 3 * t;
          if (tri[0] >= n_vertices || tri[1] >= n_vertices || tri[2] >= n_vertices)
            continue;
          vec3 p0, e1, e2, n;
          glm_vec3_copy ((float *) positions + 3 * tri[0], p0);
          glm_vec3_sub ((float *) positions + 3 * tri[1], p0, e1);
          glm_vec3_sub ((float *) positions + 3 * tri[2], p0, e2);
          glm_vec3_cross (e1, e2, n);
          for (int c = 0; c < 3; c++)
            glm_vec3_add (m->vertices + 6 * tri[c] + 3, n, m->vertices + 6 * tri[c] + 3);
        }
      for (guint32 v = 0; v < n_vertices; v++)
        glm_vec3_normalize (m->vertices + 6 * v + 3);
    }
  if (n_triangles > LOD_MIN_TRIANGLES)
    {
      /* Cells of k mean edge lengths keep roughly 1/k² of the triangles (the count
       * scales with (size / cell)²); the mean edge comes from a sample of the
       * triangles.  Each level clusters the previous one's triangles. */
      static const float factors[AR_RENDER_MESH_MAX_LOD] = { 2.f, 3.f, 4.5f, 7.f, 10.f };
      double sum = 0.0;
      guint32 n_sum = 0, step = MAX (n_triangles / 2048, 1u);
      for (guint32 t = 0; t < n_triangles; t += step)
        {
          const guint32 *tri = indices + 3 * t;
          if (tri[0] >= n_vertices || tri[1] >= n_vertices)
            continue;
          sum += glm_vec3_distance ((float *) positions + 3 * tri[0], (float *) positions + 3 * tri[1]);
          n_sum++;
        }
      float edge = (float) (n_sum ? sum / n_sum : 1.0);
      const guint32 *prev = indices;
      guint32 n_prev = n_triangles;
      for (int k = 0; k < AR_RENDER_MESH_MAX_LOD && n_prev > LOD_MIN_TRIANGLES / 4; k++)
        {
          m->indices_lod[k] = mesh_cluster_indices (positions, n_vertices, prev, n_prev,
                                                    factors[k] * edge, &m->n_triangles_lod[k]);
          prev = m->indices_lod[k];
          n_prev = m->n_triangles_lod[k];
          m->n_lod = k + 1;
        }
    }
  return m;
}

ArRenderMesh *
ar_render_mesh_new_from_surface (const SurfaceMesh *m)
{
  return ar_render_mesh_new (m->label, m->positions, m->normals, m->n_vertices,
                             m->indices, m->n_triangles);
}

void
ar_render_mesh_set_values (ArRenderMesh *m, const float *values)
{
  g_free (m->values);
  m->values = values ? g_memdup2 (values, (gsize) m->n_vertices * sizeof (float)) : NULL;
}

gboolean
ar_render_mesh_has_values (const ArRenderMesh *m)
{
  return m->values != NULL;
}

/* value, sRGB colour: dark violet, red, orange, pale yellow */
static const float value_stops[][4] = {
  { 0.00f, 0.16f, 0.06f, 0.38f },
  { 0.50f, 0.86f, 0.20f, 0.26f },
  { 0.75f, 0.98f, 0.58f, 0.14f },
  { 1.00f, 0.99f, 0.96f, 0.64f },
};

void
ar_value_color (float value, float rgb[3])
{
  float v = CLAMP (value, 0.f, 1.f);
  guint k = 1;
  while (k + 1 < G_N_ELEMENTS (value_stops) && v > value_stops[k][0])
    k++;
  const float *a = value_stops[k - 1], *b = value_stops[k];
  float t = (v - a[0]) / (b[0] - a[0]);
  t = CLAMP (t, 0.f, 1.f);
  for (int c = 0; c < 3; c++)
    rgb[c] = a[c + 1] + t * (b[c + 1] - a[c + 1]);
}

/* @x as GLSL wants it, whatever the locale */
static const char *
glsl_float (char buf[G_ASCII_DTOSTR_BUF_SIZE], float x)
{
  return g_ascii_formatd (buf, G_ASCII_DTOSTR_BUF_SIZE, "%.4f", x);
}

char *
ar_value_color_glsl (void)
{
  GString *s = g_string_new ("vec3 value_color (float v) {\n  v = clamp (v, 0.0, 1.0);\n");
  for (guint k = 1; k < G_N_ELEMENTS (value_stops); k++)
    {
      const float *a = value_stops[k - 1], *b = value_stops[k];
      char f[9][G_ASCII_DTOSTR_BUF_SIZE];
      g_string_append_printf (s, "  if (v <= %s) return mix (vec3 (%s, %s, %s), vec3 (%s, %s, %s), (v - %s) / %s);\n",
                              glsl_float (f[0], b[0]), glsl_float (f[1], a[1]), glsl_float (f[2], a[2]),
                              glsl_float (f[3], a[3]), glsl_float (f[4], b[1]), glsl_float (f[5], b[2]),
                              glsl_float (f[6], b[3]), glsl_float (f[7], a[0]),
                              glsl_float (f[8], b[0] - a[0]));
    }
  g_string_append (s, "  return vec3 (1.0);\n}\n");
  return g_string_free (s, FALSE);
}

ArRenderMesh *
ar_render_mesh_ref (ArRenderMesh *m)
{
  return g_atomic_rc_box_acquire (m);
}

void
ar_render_mesh_unref (ArRenderMesh *m)
{
  g_atomic_rc_box_release_full (m, (GDestroyNotify) render_mesh_clear);
}

int32_t ar_render_mesh_get_label (const ArRenderMesh *m) { return m->label; }
guint32 ar_render_mesh_get_n_triangles (const ArRenderMesh *m) { return m->n_triangles; }

guint32
ar_render_mesh_get_n_triangles_lod (const ArRenderMesh *m)
{
  return ar_render_mesh_get_n_triangles_level (m, 1);
}

int
ar_render_mesh_get_n_levels (const ArRenderMesh *m)
{
  return 1 + m->n_lod;
}

guint32
ar_render_mesh_get_n_triangles_level (const ArRenderMesh *m, int level)
{
  level = MIN (level, m->n_lod);
  return level <= 0 ? m->n_triangles : m->n_triangles_lod[level - 1];
}

void
ar_render_mesh_get_bounds (const ArRenderMesh *m, float min[3], float max[3])
{
  memcpy (min, m->bmin, sizeof m->bmin);
  memcpy (max, m->bmax, sizeof m->bmax);
}
