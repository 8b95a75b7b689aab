/* mesh-decimate.c: simplification to a triangle budget by vertex clustering.
 *
 * All meshes of a set are clustered on one grid of cubic cells: every vertex moves to the
 * mean of all points of the set in its cell, so points shared by two organs land on the
 * same place in both.  Triangles whose corners fall in fewer than three cells vanish.
 * The cell size starts from the total area (about two triangles per cell a surface
 * crosses) and is refined a few times to land at or below the budget.
 */
#include "mesh-private.h"

#include <math.h>
#include <string.h>

typedef struct {
  uint64_t *keys;     /* (cap) cell key + 1, 0 = empty */
  uint32_t *vals;     /* (cap) */
  uint64_t cap, n;
} CellMap;

static void
cellmap_init (CellMap *m, uint64_t expected)
{
  m->cap = 1024;
  while (m->cap < 2 * expected)
    m->cap *= 2;
  m->keys = g_new0 (uint64_t, m->cap);
  m->vals = g_new (uint32_t, m->cap);
  m->n = 0;
}

static void
cellmap_clear (CellMap *m)
{
  g_free (m->keys);
  g_free (m->vals);
}

/* Index of the cluster of @key, creating it as @fresh if new. */
static uint32_t
cellmap_get (CellMap *m, uint64_t key, uint32_t fresh, gboolean *created)
{
  uint64_t k = key + 1, h = (key * 0x9E3779B97F4A7C15ull) >> 20;
  for (uint64_t i = h & (m->cap - 1);; i = (i + 1) & (m->cap - 1))
    {
      if (m->keys[i] == k)
        {
          *created = FALSE;
          return m->vals[i];
        }
      if (m->keys[i] == 0)
        {
          m->keys[i] = k;
          m->vals[i] = fresh;
          m->n++;
          *created = TRUE;
          return fresh;
        }
    }
}

typedef struct {
  uint32_t **cluster;   /* per mesh (n_vertices) */
  double *sum;          /* (n_clusters, 4): x y z count */
  uint64_t *cell;       /* (n_clusters) cell key */
  uint32_t n_clusters;
  uint64_t n_kept;
} Clustering;

static void
clustering_free (Clustering *c, guint n_meshes)
{
  for (guint i = 0; i < n_meshes; i++)
    g_free (c->cluster[i]);
  g_free (c->cluster);
  g_free (c->sum);
  g_free (c->cell);
}

static void
cluster (const SurfaceSet *set, const float lo[3], const float hi[3], double h, Clustering *c)
{
  guint64 nv = surface_set_n_vertices (set);
  /* a dense grid of cluster ids when it is small enough, else a hash map */
  uint64_t gd[3];
  for (int d = 0; d < 3; d++)
    gd[d] = (uint64_t) ((hi[d] - lo[d]) / h) + 2;
  uint32_t *dense = NULL;
  if (gd[0] * gd[1] * gd[2] <= ((uint64_t) 1 << 23))
    {
      dense = g_new (uint32_t, gd[0] * gd[1] * gd[2]);
      memset (dense, 0xff, sizeof (uint32_t) * gd[0] * gd[1] * gd[2]);
    }
  CellMap map;
  cellmap_init (&map, dense ? 0 : MIN (nv, (guint64) 1 << 26));
  c->cluster = g_new0 (uint32_t *, MAX (set->n_meshes, 1));
  uint64_t cap = 1024;
  c->sum = g_new0 (double, 4 * cap);
  c->cell = g_new (uint64_t, cap);
  c->n_clusters = 0;
  c->n_kept = 0;
  for (guint mi = 0; mi < set->n_meshes; mi++)
    {
      const SurfaceMesh *m = set->meshes[mi];
      uint32_t *cl = c->cluster[mi] = g_new (uint32_t, MAX (m->n_vertices, 1));
      for (uint32_t v = 0; v < m->n_vertices; v++)
        {
          const float *p = m->positions + 3 * (gsize) v;
          uint64_t ix = (uint64_t) floor ((p[0] - lo[0]) / h), iy = (uint64_t) floor ((p[1] - lo[1]) / h),
                   iz = (uint64_t) floor ((p[2] - lo[2]) / h);
          uint64_t key = ix | iy << 21 | iz << 42;
          gboolean created;
          uint32_t id;
          if (dense)
            {
              uint32_t *slot = &dense[ix + gd[0] * (iy + gd[1] * iz)];
              created = *slot == UINT32_MAX;
              if (created)
                *slot = c->n_clusters;
              id = *slot;
            }
          else
            {
          if (map.n * 2 >= map.cap)
            {
              /* grow */
              CellMap bigger;
              cellmap_init (&bigger, map.cap);
              for (uint64_t i = 0; i < map.cap; i++)
                if (map.keys[i])
                  cellmap_get (&bigger, map.keys[i] - 1, map.vals[i], &created);
              cellmap_clear (&map);
              map = bigger;
            }
          id = cellmap_get (&map, key, c->n_clusters, &created);
            }
          if (created)
            {
              if (c->n_clusters == cap)
                {
                  cap *= 2;
                  c->sum = g_renew (double, c->sum, 4 * cap);
                  c->cell = g_renew (uint64_t, c->cell, cap);
                }
              memset (c->sum + 4 * (gsize) id, 0, 4 * sizeof (double));
              c->cell[id] = key;
              c->n_clusters++;
            }
          double *s = c->sum + 4 * (gsize) id;
          s[0] += p[0];
          s[1] += p[1];
          s[2] += p[2];
          s[3] += 1;
          cl[v] = id;
        }
      for (uint32_t t = 0; t < m->n_triangles; t++)
        {
          const uint32_t *x = m->indices + 3 * (gsize) t;
          uint32_t a = cl[x[0]], b = cl[x[1]], d = cl[x[2]];
          c->n_kept += a != b && b != d && a != d;
        }
    }
  cellmap_clear (&map);
  g_free (dense);
}

SurfaceSet *
surface_set_decimate (const SurfaceSet *set, guint64 target_triangles)
{
  guint64 n0 = surface_set_n_triangles (set);
  float lo[3], hi[3];
  if (n0 <= target_triangles || !surface_set_bounds (set, lo, hi))
    return surface_set_dup (set);
  target_triangles = MAX (target_triangles, 4);
  double area = 0;
  for (guint i = 0; i < set->n_meshes; i++)
    area += surface_mesh_area (set->meshes[i]);
  double h = sqrt (2.0 * area / (double) target_triangles);
  for (int d = 0; d < 3; d++)
    lo[d] -= (float) h;   /* keep cell indices positive */

  Clustering best = { 0 };
  gboolean have = FALSE;
  for (int attempt = 0; attempt < 8; attempt++)
    {
      Clustering c;
      cluster (set, lo, hi, h, &c);
      double ratio = (double) c.n_kept / (double) target_triangles;
      if (c.n_kept <= target_triangles)
        {
          if (have)
            clustering_free (&best, set->n_meshes);
          best = c;
          have = TRUE;
          if (ratio > 0.85)
            break;
          h *= MAX (sqrt (ratio), 0.5) * 1.01;   /* finer */
        }
      else
        {
          clustering_free (&c, set->n_meshes);
          h *= MIN (sqrt (ratio), 2.0) * 1.03;   /* coarser */
        }
    }
  if (!have)
    cluster (set, lo, hi, h * 2, &best);

  SurfaceSet *out = surface_set_new ();
  memcpy (out->affine, set->affine, sizeof out->affine);
  memcpy (out->dims, set->dims, sizeof out->dims);
  out->smooth_iterations = set->smooth_iterations;
  out->smooth_passband = set->smooth_passband;
  out->meshes = g_new0 (SurfaceMesh *, MAX (set->n_meshes, 1));
  uint32_t *local = g_new0 (uint32_t, MAX (best.n_clusters, 1));
  uint32_t *used = g_new (uint32_t, MAX (best.n_clusters, 1));
  for (guint mi = 0; mi < set->n_meshes; mi++)
    {
      const SurfaceMesh *m = set->meshes[mi];
      const uint32_t *cl = best.cluster[mi];
      uint32_t nt = 0, nv = 0;
      for (uint32_t t = 0; t < m->n_triangles; t++)
        {
          const uint32_t *x = m->indices + 3 * (gsize) t;
          uint32_t a = cl[x[0]], b = cl[x[1]], d = cl[x[2]];
          if (a != b && b != d && a != d)
            nt++;
        }
      if (nt == 0)
        continue;
      SurfaceMesh *o = surface_mesh_new (m->label, 0, nt);
      memcpy (o->voxel_box, m->voxel_box, sizeof o->voxel_box);
      nt = 0;
      for (uint32_t t = 0; t < m->n_triangles; t++)
        {
          const uint32_t *x = m->indices + 3 * (gsize) t;
          uint32_t c3[3] = { cl[x[0]], cl[x[1]], cl[x[2]] };
          if (c3[0] == c3[1] || c3[1] == c3[2] || c3[0] == c3[2])
            continue;
          for (int k = 0; k < 3; k++)
            {
              uint32_t id = c3[k];
              if (!(local[id] < nv && used[local[id]] == id))
                {
                  local[id] = nv;
                  used[nv++] = id;
                }
              o->indices[3 * (gsize) nt + k] = local[id];
            }
          nt++;
        }
      o->n_vertices = nv;
      o->positions = g_renew (float, o->positions, 3 * (gsize) MAX (nv, 1));
      o->normals = g_renew (float, o->normals, 3 * (gsize) MAX (nv, 1));
      o->keys = g_renew (uint64_t, o->keys, MAX (nv, 1));
      for (uint32_t v = 0; v < nv; v++)
        {
          const double *s = best.sum + 4 * (gsize) used[v];
          for (int d = 0; d < 3; d++)
            o->positions[3 * (gsize) v + d] = (float) (s[d] / s[3]);
          o->keys[v] = best.cell[used[v]];
        }
      surface_mesh_update_normals (o);
      surface_mesh_update_bounds (o);
      out->meshes[out->n_meshes++] = o;
    }
  g_free (local);
  g_free (used);
  clustering_free (&best, set->n_meshes);
  return out;
}
