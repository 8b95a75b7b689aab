/* mesh.c: SurfaceMesh / SurfaceSet basics, normals, measures, packing. */
#include "mesh-private.h"

#include <math.h>
#include <string.h>

G_DEFINE_QUARK (mesh-error-quark, mesh_error)

int
mesh_default_threads (void)
{
  return CLAMP ((int) g_get_num_processors (), 1, 8);
}

guint64
mesh_next_serial (void)
{
  static guint64 serial;
  static GMutex lock;
  g_mutex_lock (&lock);
  guint64 s = ++serial;
  g_mutex_unlock (&lock);
  return s;
}

void
mesh_key_position (const double A[4][4], const int64_t dims[3], uint64_t key, float out[3])
{
  int64_t ijk[3];
  int axis;
  mesh_key_decode (dims, key, ijk, &axis);
  double p[3] = { (double) ijk[0], (double) ijk[1], (double) ijk[2] };
  p[axis] += 0.5;
  for (int r = 0; r < 3; r++)
    out[r] = (float) (A[r][0] * p[0] + A[r][1] * p[1] + A[r][2] * p[2] + A[r][3]);
}

void
surface_options_init (SurfaceOptions *opts)
{
  memset (opts, 0, sizeof *opts);
  opts->method = SURFACE_METHOD_MARCHING_CUBES;
  opts->smooth_passband = 0.1;
}

/* ---- meshes ---- */

SurfaceMesh *
surface_mesh_new (int32_t label, uint32_t n_vertices, uint32_t n_triangles)
{
  SurfaceMesh *m = g_new0 (SurfaceMesh, 1);
  m->label = label;
  m->n_vertices = n_vertices;
  m->n_triangles = n_triangles;
  m->positions = g_new (float, 3 * (gsize) MAX (n_vertices, 1));
  m->normals = g_new (float, 3 * (gsize) MAX (n_vertices, 1));
  m->keys = g_new (uint64_t, MAX (n_vertices, 1));
  m->indices = g_new (uint32_t, 3 * (gsize) MAX (n_triangles, 1));
  m->serial = mesh_next_serial ();
  return m;
}

SurfaceMesh *
surface_mesh_dup (const SurfaceMesh *m)
{
  SurfaceMesh *d = g_new (SurfaceMesh, 1);
  *d = *m;
  d->positions = g_memdup2 (m->positions, 3 * sizeof (float) * MAX (m->n_vertices, 1));
  d->normals = g_memdup2 (m->normals, 3 * sizeof (float) * MAX (m->n_vertices, 1));
  d->keys = g_memdup2 (m->keys, sizeof (uint64_t) * MAX (m->n_vertices, 1));
  d->indices = g_memdup2 (m->indices, 3 * sizeof (uint32_t) * MAX (m->n_triangles, 1));
  return d;
}

void
surface_mesh_free (SurfaceMesh *m)
{
  if (m == NULL)
    return;
  g_free (m->positions);
  g_free (m->normals);
  g_free (m->keys);
  g_free (m->indices);
  g_free (m);
}

void
surface_mesh_update_normals (SurfaceMesh *m)
{
  float *n = m->normals;
  const float *p = m->positions;
  memset (n, 0, 3 * sizeof (float) * m->n_vertices);
  for (uint32_t t = 0; t < m->n_triangles; t++)
    {
      const uint32_t *tri = m->indices + 3 * (gsize) t;
      const float *a = p + 3 * (gsize) tri[0], *b = p + 3 * (gsize) tri[1], *c = p + 3 * (gsize) tri[2];
      float u[3] = { b[0] - a[0], b[1] - a[1], b[2] - a[2] };
      float w[3] = { c[0] - a[0], c[1] - a[1], c[2] - a[2] };
      /* cross product = 2 * area * unit normal: area weighting for free */
      float f[3] = { u[1] * w[2] - u[2] * w[1], u[2] * w[0] - u[0] * w[2], u[0] * w[1] - u[1] * w[0] };
      for (int c2 = 0; c2 < 3; c2++)
        {
          float *nv = n + 3 * (gsize) tri[c2];
          nv[0] += f[0];
          nv[1] += f[1];
          nv[2] += f[2];
        }
    }
  for (uint32_t v = 0; v < m->n_vertices; v++)
    {
      float *nv = n + 3 * (gsize) v;
      float len = sqrtf (nv[0] * nv[0] + nv[1] * nv[1] + nv[2] * nv[2]);
      if (len > 0)
        {
          nv[0] /= len;
          nv[1] /= len;
          nv[2] /= len;
        }
      else
        nv[0] = nv[1] = 0, nv[2] = 1;
    }
  m->serial = mesh_next_serial ();
}

void
surface_mesh_update_bounds (SurfaceMesh *m)
{
  if (m->n_vertices == 0)
    {
      memset (m->bbox_min, 0, sizeof m->bbox_min);
      memset (m->bbox_max, 0, sizeof m->bbox_max);
      return;
    }
  for (int d = 0; d < 3; d++)
    m->bbox_min[d] = m->bbox_max[d] = m->positions[d];
  for (uint32_t v = 1; v < m->n_vertices; v++)
    for (int d = 0; d < 3; d++)
      {
        float x = m->positions[3 * (gsize) v + d];
        m->bbox_min[d] = MIN (m->bbox_min[d], x);
        m->bbox_max[d] = MAX (m->bbox_max[d], x);
      }
}

double
surface_mesh_area (const SurfaceMesh *m)
{
  double area = 0;
  for (uint32_t t = 0; t < m->n_triangles; t++)
    {
      const uint32_t *tri = m->indices + 3 * (gsize) t;
      const float *a = m->positions + 3 * (gsize) tri[0];
      const float *b = m->positions + 3 * (gsize) tri[1];
      const float *c = m->positions + 3 * (gsize) tri[2];
      double u[3] = { b[0] - a[0], b[1] - a[1], b[2] - a[2] };
      double w[3] = { c[0] - a[0], c[1] - a[1], c[2] - a[2] };
      double f[3] = { u[1] * w[2] - u[2] * w[1], u[2] * w[0] - u[0] * w[2], u[0] * w[1] - u[1] * w[0] };
      area += 0.5 * sqrt (f[0] * f[0] + f[1] * f[1] + f[2] * f[2]);
    }
  return area;
}

double
surface_mesh_volume (const SurfaceMesh *m)
{
  /* divergence theorem relative to the box centre (less cancellation) */
  double o[3];
  for (int d = 0; d < 3; d++)
    o[d] = 0.5 * ((double) m->bbox_min[d] + m->bbox_max[d]);
  double vol = 0;
  for (uint32_t t = 0; t < m->n_triangles; t++)
    {
      const uint32_t *tri = m->indices + 3 * (gsize) t;
      double p[3][3];
      for (int c = 0; c < 3; c++)
        for (int d = 0; d < 3; d++)
          p[c][d] = m->positions[3 * (gsize) tri[c] + d] - o[d];
      vol += p[0][0] * (p[1][1] * p[2][2] - p[1][2] * p[2][1])
             - p[0][1] * (p[1][0] * p[2][2] - p[1][2] * p[2][0])
             + p[0][2] * (p[1][0] * p[2][1] - p[1][1] * p[2][0]);
    }
  return vol / 6.0;
}

/* ---- sets ---- */

SurfaceSet *
surface_set_new (void)
{
  SurfaceSet *s = g_new0 (SurfaceSet, 1);
  for (int d = 0; d < 4; d++)
    s->affine[d][d] = 1;
  s->smooth_passband = 0.1;
  return s;
}

SurfaceSet *
mesh_set_new_like (const LabelVolume *v)
{
  SurfaceSet *s = surface_set_new ();
  memcpy (s->affine, v->affine, sizeof s->affine);
  s->dims[0] = v->nx;
  s->dims[1] = v->ny;
  s->dims[2] = v->nz;
  return s;
}

void
surface_set_free (SurfaceSet *set)
{
  if (set == NULL)
    return;
  for (guint i = 0; i < set->n_meshes; i++)
    surface_mesh_free (set->meshes[i]);
  g_free (set->meshes);
  g_free (set);
}

SurfaceSet *
surface_set_dup (const SurfaceSet *set)
{
  SurfaceSet *d = g_new (SurfaceSet, 1);
  *d = *set;
  d->meshes = g_new0 (SurfaceMesh *, MAX (set->n_meshes, 1));
  for (guint i = 0; i < set->n_meshes; i++)
    d->meshes[i] = surface_mesh_dup (set->meshes[i]);
  return d;
}

SurfaceMesh *
surface_set_get (const SurfaceSet *set, int32_t label)
{
  guint lo = 0, hi = set->n_meshes;
  while (lo < hi)
    {
      guint mid = (lo + hi) / 2;
      if (set->meshes[mid]->label < label)
        lo = mid + 1;
      else
        hi = mid;
    }
  return lo < set->n_meshes && set->meshes[lo]->label == label ? set->meshes[lo] : NULL;
}

guint64
surface_set_n_triangles (const SurfaceSet *set)
{
  guint64 n = 0;
  for (guint i = 0; i < set->n_meshes; i++)
    n += set->meshes[i]->n_triangles;
  return n;
}

guint64
surface_set_n_vertices (const SurfaceSet *set)
{
  guint64 n = 0;
  for (guint i = 0; i < set->n_meshes; i++)
    n += set->meshes[i]->n_vertices;
  return n;
}

gboolean
surface_set_bounds (const SurfaceSet *set, float min[3], float max[3])
{
  gboolean any = FALSE;
  for (guint i = 0; i < set->n_meshes; i++)
    {
      const SurfaceMesh *m = set->meshes[i];
      if (m->n_vertices > 0)
        mesh_bounds_add (min, max, &any, m->bbox_min, m->bbox_max);
    }
  return any;
}

void
mesh_bounds_add (float min[3], float max[3], gboolean *any, const float lo[3], const float hi[3])
{
  for (int d = 0; d < 3; d++)
    {
      min[d] = *any ? MIN (min[d], lo[d]) : lo[d];
      max[d] = *any ? MAX (max[d], hi[d]) : hi[d];
    }
  *any = TRUE;
}

SurfacePacked *
surface_set_pack (const SurfaceSet *set, GError **error)
{
  guint64 nv = surface_set_n_vertices (set), ni = 3 * surface_set_n_triangles (set);
  if (nv >= UINT32_MAX || ni >= UINT32_MAX)
    {
      g_set_error (error, MESH_ERROR, MESH_ERROR_TOO_LARGE,
                   "Cannot pack %" G_GUINT64_FORMAT " vertices into one buffer", nv);
      return NULL;
    }
  SurfacePacked *p = g_new0 (SurfacePacked, 1);
  p->vertices = g_try_new (float, 6 * MAX (nv, 1));
  p->indices = g_try_new (uint32_t, MAX (ni, 1));
  p->ranges = g_new0 (SurfaceRange, MAX (set->n_meshes, 1));
  if (!p->vertices || !p->indices)
    {
      surface_packed_free (p);
      g_set_error (error, MESH_ERROR, MESH_ERROR_TOO_LARGE, "Out of memory packing surfaces");
      return NULL;
    }
  uint32_t v0 = 0, i0 = 0;
  for (guint k = 0; k < set->n_meshes; k++)
    {
      const SurfaceMesh *m = set->meshes[k];
      SurfaceRange *r = &p->ranges[k];
      r->label = m->label;
      r->first_vertex = v0;
      r->n_vertices = m->n_vertices;
      r->first_index = i0;
      r->n_indices = 3 * m->n_triangles;
      for (uint32_t v = 0; v < m->n_vertices; v++)
        {
          float *o = p->vertices + 6 * (gsize) (v0 + v);
          memcpy (o, m->positions + 3 * (gsize) v, 3 * sizeof (float));
          memcpy (o + 3, m->normals + 3 * (gsize) v, 3 * sizeof (float));
        }
      for (uint32_t i = 0; i < 3 * m->n_triangles; i++)
        p->indices[i0 + i] = v0 + m->indices[i];
      v0 += m->n_vertices;
      i0 += 3 * m->n_triangles;
    }
  p->n_vertices = v0;
  p->n_indices = i0;
  p->n_ranges = set->n_meshes;
  return p;
}

void
surface_packed_free (SurfacePacked *p)
{
  if (p == NULL)
    return;
  g_free (p->vertices);
  g_free (p->indices);
  g_free (p->ranges);
  g_free (p);
}
