/* point-tree.c: an implicit k-d tree for nearest-point queries (see point-tree.h). */
#include "point-tree.h"

#include <math.h>

static void
swap_pt (float *p, int a, int b)
{
  for (int c = 0; c < 3; c++)
    {
      float t = p[3 * a + c];
      p[3 * a + c] = p[3 * b + c];
      p[3 * b + c] = t;
    }
}

/* puts the point of rank @k (by coordinate @ax) of p[lo..hi) at k, smaller before, larger after */
static void
select_kth (float *p, int lo, int hi, int k, int ax)
{
  hi--;
  while (hi > lo)
    {
      float pivot = p[3 * ((lo + hi) / 2) + ax];
      int i = lo, j = hi;
      while (i <= j)
        {
          while (p[3 * i + ax] < pivot)
            i++;
          while (p[3 * j + ax] > pivot)
            j--;
          if (i <= j)
            swap_pt (p, i++, j--);
        }
      if (k <= j)
        hi = j;
      else if (k >= i)
        lo = i;
      else
        return;
    }
}

static void
kd_build (PointTree *t, int lo, int hi)
{
  if (hi - lo < 1)
    return;
  int mid = lo + (hi - lo) / 2;
  if (hi - lo == 1)
    {
      t->axis[mid] = 0;
      return;
    }
  float mn[3] = { INFINITY, INFINITY, INFINITY }, mx[3] = { -INFINITY, -INFINITY, -INFINITY };
  for (int i = lo; i < hi; i++)
    for (int c = 0; c < 3; c++)
      {
        mn[c] = MIN (mn[c], t->p[3 * i + c]);
        mx[c] = MAX (mx[c], t->p[3 * i + c]);
      }
  int ax = 0;
  for (int c = 1; c < 3; c++)
    if (mx[c] - mn[c] > mx[ax] - mn[ax])
      ax = c;
  select_kth (t->p, lo, hi, mid, ax);
  t->axis[mid] = (guint8) ax;
  kd_build (t, lo, mid);
  kd_build (t, mid + 1, hi);
}

static void
nearest (const PointTree *t, int lo, int hi, const float q[3], int *best, float *best_d2)
{
  while (hi > lo)
    {
      int mid = lo + (hi - lo) / 2;
      const float *c = t->p + 3 * mid;
      float dx = q[0] - c[0], dy = q[1] - c[1], dz = q[2] - c[2];
      float d2 = dx * dx + dy * dy + dz * dz;
      if (d2 < *best_d2)
        {
          *best_d2 = d2;
          *best = mid;
        }
      if (hi - lo == 1)
        return;
      int ax = t->axis[mid];
      float diff = q[ax] - c[ax];
      /* the near side now, the far side only if the splitting plane is closer than the best */
      if (diff < 0)
        {
          if (diff * diff < *best_d2)
            nearest (t, mid + 1, hi, q, best, best_d2);
          hi = mid;
        }
      else
        {
          if (diff * diff < *best_d2)
            nearest (t, lo, mid, q, best, best_d2);
          lo = mid + 1;
        }
    }
}

gboolean
point_tree_init (PointTree *t, float *points, int n)
{
  t->p = points;
  t->n = n;
  t->axis = n > 0 ? g_try_new (guint8, n) : NULL;
  if (n > 0 && t->axis == NULL)
    {
      g_free (points);
      t->p = NULL;
      t->n = 0;
      return FALSE;
    }
  kd_build (t, 0, n);
  return TRUE;
}

void
point_tree_clear (PointTree *t)
{
  g_clear_pointer (&t->p, g_free);
  g_clear_pointer (&t->axis, g_free);
  t->n = 0;
}

void
point_tree_nearest (const PointTree *t, const float q[3], int *best, float *best_d2)
{
  nearest (t, 0, t->n, q, best, best_d2);
}

void
point_tree_nearest_ref (const PointTree *t, const float q[3], int *best, float *best_d2)
{
  for (int i = 0; i < t->n; i++)
    {
      const float *c = t->p + 3 * i;
      float d2 = (q[0] - c[0]) * (q[0] - c[0]) + (q[1] - c[1]) * (q[1] - c[1]) + (q[2] - c[2]) * (q[2] - c[2]);
      if (d2 < *best_d2)
        {
          *best_d2 = d2;
          *best = i;
        }
    }
}
