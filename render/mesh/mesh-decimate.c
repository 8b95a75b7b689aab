/* mesh-decimate.c: simplification by vertex clustering, the one decimator of the project.
 *
 * Both users put the vertices on a grid of cubic cells (CellGrid below) and drop the
 * triangles whose corners fall in fewer than three cells:
 *  - surface_set_decimate() clusters all meshes of a set on one grid and moves every
 *    vertex to the mean of all points of the set in its cell, so points shared by two
 *    organs land on the same place in both.  The cell size starts from the total area
 *    (about two triangles per cell a surface crosses) and is refined a few times to land
 *    at or below the budget.
 *  - mesh_cluster_indices() keeps the vertices where they are: each stands for the first
 *    vertex of its cell, so the simplified triangles index the same vertex array (the
 *    renderer's levels of detail share one vertex buffer).
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

/* Cells of @h mm; the cell of point p is floor ((p - origin) / h) on each axis.  Cells get
 * ids 0, 1, 2 ... in the order they are first met: a dense array of ids when the box of
 * cells is small enough, else an open-addressing map on the cell key. */
#define CELL_MASK 0x1fffffull   /* 21 bits per axis in a key */

typedef struct {
  double origin[3], inv;
  int64_t c0[3];        /* first cell of the box on each axis */
  uint64_t gd[3];       /* cells of the box on each axis */
  uint32_t *dense;      /* (gd[0] * gd[1] * gd[2]) ids, UINT32_MAX = none yet; or NULL */
  CellMap map;          /* without dense */
  uint32_t n_cells;
} CellGrid;

/* @lo, @hi bound the points; @n_points is how many will be added. */
static void
cell_grid_init (CellGrid *g, const double origin[3], double h, const float lo[3], const float hi[3],
                uint64_t n_points)
{
  memset (g, 0, sizeof *g);
  g->inv = 1.0 / h;
  uint64_t n_box = 1;
  for (int d = 0; d < 3; d++)
    {
      g->origin[d] = origin[d];
      g->c0[d] = (int64_t) floor ((lo[d] - origin[d]) * g->inv);
      int64_t c1 = (int64_t) floor ((hi[d] - origin[d]) * g->inv);
      g->gd[d] = (uint64_t) MAX (c1 - g->c0[d], 0) + 1;
      n_box = n_box <= ((uint64_t) 1 << 40) ? n_box * g->gd[d] : UINT64_MAX;
    }
  /* dense only when it costs at most a few ids per point */
  if (n_box <= ((uint64_t) 1 << 23) && n_box <= 16 * n_points + 65536)
    {
      g->dense = g_new (uint32_t, n_box);
      memset (g->dense, 0xff, sizeof (uint32_t) * n_box);
    }
  else
    cellmap_init (&g->map, MIN (n_points, (uint64_t) 1 << 26));
}

static void
cell_grid_clear (CellGrid *g)
{
  g_free (g->dense);
  if (!g->dense)
    cellmap_clear (&g->map);
}

/* The id of the cell of @p (*created when @p is the first point in it); @key, if not NULL,
 * gets the cell's key (equal for equal cells). */
static uint32_t
cell_grid_add (CellGrid *g, const float p[3], uint64_t *key, gboolean *created)
{
  int64_t c[3];
  for (int d = 0; d < 3; d++)
    c[d] = (int64_t) floor ((p[d] - g->origin[d]) * g->inv);
  uint64_t k = ((uint64_t) c[0] & CELL_MASK) | ((uint64_t) c[1] & CELL_MASK) << 21
               | ((uint64_t) c[2] & CELL_MASK) << 42;
  if (key)
    *key = k;
  uint32_t id;
  if (g->dense)
    {
      uint64_t at = 0;
      for (int d = 2; d >= 0; d--)
        at = at * g->gd[d] + (uint64_t) CLAMP (c[d] - g->c0[d], 0, (int64_t) g->gd[d] - 1);
      uint32_t *slot = &g->dense[at];
      *created = *slot == UINT32_MAX;
      if (*created)
        *slot = g->n_cells;
      id = *slot;
    }
  else
    {
      if (g->map.n * 2 >= g->map.cap)
        {
          CellMap bigger;
          gboolean unused;
          cellmap_init (&bigger, g->map.cap);
          for (uint64_t i = 0; i < g->map.cap; i++)
            if (g->map.keys[i])
              cellmap_get (&bigger, g->map.keys[i] - 1, g->map.vals[i], &unused);
          cellmap_clear (&g->map);
          g->map = bigger;
        }
      id = cellmap_get (&g->map, k, g->n_cells, created);
    }
  if (*created)
    g->n_cells++;
  return id;
}

uint32_t *
mesh_cluster_indices (const float *positions, uint32_t n_vertices, const uint32_t *indices,
                      uint32_t n_triangles, float cell, uint32_t *n_out)
{
  /* positions (n_vertices, 3); indices (n_triangles, 3); cells aligned at the origin. */
  float lo[3] = { 0, 0, 0 }, hi[3] = { 0, 0, 0 };
  for (uint32_t v = 0; v < n_vertices; v++)
    for (int d = 0; d < 3; d++)
      {
        float x = positions[3 * (gsize) v + d];
        lo[d] = v ? MIN (lo[d], x) : x;
        hi[d] = v ? MAX (hi[d], x) : x;
      }
  const double origin[3] = { 0, 0, 0 };
  CellGrid grid;
  cell_grid_init (&grid, origin, cell > 0.f ? cell : 1.0, lo, hi, n_vertices);
  uint32_t *rep = g_new (uint32_t, MAX (n_vertices, 1));    /* (n_vertices) */
  uint32_t *first = g_new (uint32_t, MAX (n_vertices, 1));  /* (cells) first vertex of each */
  for (uint32_t v = 0; v < n_vertices; v++)
    {
      gboolean created;
      uint32_t id = cell_grid_add (&grid, positions + 3 * (gsize) v, NULL, &created);
      if (created)
        first[id] = v;
      rep[v] = first[id];
    }
  cell_grid_clear (&grid);
  g_free (first);
  uint32_t *out = g_new (uint32_t, 3 * (gsize) MAX (n_triangles, 1));
  uint32_t n = 0;
  for (uint32_t t = 0; t < n_triangles; t++)
    {
      const uint32_t *tri = indices + 3 * (gsize) t;
      if (tri[0] >= n_vertices || tri[1] >= n_vertices || tri[2] >= n_vertices)
        continue;
      uint32_t a = rep[tri[0]], b = rep[tri[1]], c = rep[tri[2]];
      if (a == b || b == c || a == c)
        continue;
      out[3 * (gsize) n] = a;
      out[3 * (gsize) n + 1] = b;
      out[3 * (gsize) n + 2] = c;
      n++;
    }
  g_free (rep);
  *n_out = n;
  return g_renew (uint32_t, out, 3 * (gsize) MAX (n, 1));
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
  const double origin[3] = { lo[0], lo[1], lo[2] };
  CellGrid grid;
  cell_grid_init (&grid, origin, h, lo, hi, surface_set_n_vertices (set));
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
          uint64_t key;
          gboolean created;
          uint32_t id = cell_grid_add (&grid, p, &key, &created);
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
  cell_grid_clear (&grid);
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
