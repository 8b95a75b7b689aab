/* surface-distance.c: organ surfaces and their 95 % Hausdorff distance (see surface-distance.h). */
#include "surface-distance.h"
#include "completion.h"
#include "point-tree.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

struct _SurfacePoints {
  int32_t n_trees;   /* labels 0 .. n_trees - 1 */
  PointTree *tree;   /* (n_trees), index = label; empty for labels not asked for */
};

void
surface_points_free (SurfacePoints *s)
{
  if (s == NULL)
    return;
  for (int32_t l = 0; l < s->n_trees; l++)
    point_tree_clear (&s->tree[l]);
  g_free (s->tree);
  g_free (s);
}

int
surface_points_get_count (const SurfacePoints *s, int32_t label)
{
  return label >= 0 && label < s->n_trees ? s->tree[label].n : 0;
}

SurfacePoints *
surface_points_new (const LabelVolume *v, guint32 labels, GError **error)
{
  guint8 want[32] = { 0 };
  for (int l = 1; l < 32; l++)
    want[l] = (labels >> l) & 1u;
  return surface_points_new_for (v, want, 32, error);
}

SurfacePoints *
surface_points_new_for (const LabelVolume *v, const guint8 *want, int32_t n_want, GError **error)
{
  g_autoptr (SurfacePoints) s = g_new0 (SurfacePoints, 1);
  s->n_trees = MAX (n_want, 1);
  s->tree = g_try_new0 (PointTree, s->n_trees);
  g_autofree GArray **pts = g_try_new0 (GArray *, s->n_trees);
  if (s->tree == NULL || pts == NULL)
    {
      g_set_error (error, COMPLETION_ERROR, COMPLETION_ERROR_NO_MEMORY, "cannot allocate surface points");
      return NULL;
    }
  const int64_t nx = v->nx, ny = v->ny, nz = v->nz, plane = nx * ny;
  for (int32_t l = 1; l < n_want; l++)
    if (want[l])
      pts[l] = g_array_new (FALSE, FALSE, 3 * sizeof (float));
  for (int64_t k = 0; k < nz; k++)
    for (int64_t j = 0; j < ny; j++)
      for (int64_t i = 0; i < nx; i++)
        {
          int64_t q = i + nx * j + plane * k;
          int32_t l = lv_volume_get_index (v, q);
          if (l <= 0 || l >= n_want || pts[l] == NULL)
            continue;
          gboolean b = i == 0 || i + 1 == nx || j == 0 || j + 1 == ny || k == 0 || k + 1 == nz
                       || lv_volume_get_index (v, q - 1) != l || lv_volume_get_index (v, q + 1) != l
                       || lv_volume_get_index (v, q - nx) != l || lv_volume_get_index (v, q + nx) != l
                       || lv_volume_get_index (v, q - plane) != l || lv_volume_get_index (v, q + plane) != l;
          if (!b)
            continue;
          float w[3];
          for (int r = 0; r < 3; r++)
            w[r] = (float) (v->affine[r][0] * i + v->affine[r][1] * j + v->affine[r][2] * k + v->affine[r][3]);
          g_array_append_val (pts[l], w);
        }
  gboolean ok = TRUE;
  for (int32_t l = 1; l < n_want; l++)
    {
      if (pts[l] == NULL)
        continue;
      int n = (int) pts[l]->len;
      float *p = (float *) g_array_free (pts[l], FALSE);
      if (ok)
        ok = point_tree_init (&s->tree[l], p, n);
      else
        g_free (p);
    }
  if (!ok)
    {
      g_set_error (error, COMPLETION_ERROR, COMPLETION_ERROR_NO_MEMORY, "cannot allocate surface points");
      return NULL;
    }
  return g_steal_pointer (&s);
}

static int
cmp_float (const void *a, const void *b)
{
  float x = *(const float *) a, y = *(const float *) b;
  return (x > y) - (x < y);
}

/* nearest-rank 95th percentile of the distances from the points of @from to @to */
static double
directed_p95 (const PointTree *from, const PointTree *to)
{
  g_autofree float *d2 = g_new (float, from->n);
  int best = -1;
  for (int i = 0; i < from->n; i++)
    {
      /* the previous point's nearest bounds the search (neighbours in tree order are close) */
      float bd = INFINITY;
      if (best >= 0)
        {
          const float *c = to->p + 3 * best, *x = from->p + 3 * i;
          bd = (x[0] - c[0]) * (x[0] - c[0]) + (x[1] - c[1]) * (x[1] - c[1]) + (x[2] - c[2]) * (x[2] - c[2]);
        }
      point_tree_nearest (to, from->p + 3 * i, &best, &bd);
      d2[i] = bd;
    }
  qsort (d2, (size_t) from->n, sizeof (float), cmp_float);
  int rank = (int) ceil (0.95 * from->n);
  return sqrt ((double) d2[CLAMP (rank, 1, from->n) - 1]);
}

double
surface_distance_hd95 (const SurfacePoints *a, const SurfacePoints *b, int32_t label)
{
  if (label <= 0 || surface_points_get_count (a, label) == 0 || surface_points_get_count (b, label) == 0)
    return NAN;
  return MAX (directed_p95 (&a->tree[label], &b->tree[label]), directed_p95 (&b->tree[label], &a->tree[label]));
}
