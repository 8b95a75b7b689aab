/* mc-tables.c: derive marching-cubes case tables from the cube's geometry. */
#include "mc-tables.h"

#include <glib.h>
#include <string.h>

static McTables tables;

static int
edge_of (int c0, int c1)
{
  int diff = c0 ^ c1;
  int axis = diff == 1 ? 0 : diff == 2 ? 1 : 2;
  int lo = c0 & c1;   /* the corner with 0 along the axis */
  int o;
  if (axis == 0)
    o = ((lo >> 1) & 1) | (((lo >> 2) & 1) << 1);
  else if (axis == 1)
    o = (lo & 1) | (((lo >> 2) & 1) << 1);
  else
    o = (lo & 1) | (((lo >> 1) & 1) << 1);
  return axis * 4 + o;
}

static void
corner_pos (int c, double p[3])
{
  p[0] = c & 1;
  p[1] = (c >> 1) & 1;
  p[2] = (c >> 2) & 1;
}

static void
edge_mid (const McTables *t, int e, double p[3])
{
  double a[3], b[3];
  corner_pos (t->edge_corner[e][0], a);
  corner_pos (t->edge_corner[e][1], b);
  for (int d = 0; d < 3; d++)
    p[d] = 0.5 * (a[d] + b[d]);
}

/* Add the segment between edges e1 and e2 of face (axis, side), oriented so that the
 * inside corner @ci lies on its right seen from outside the cube. */
static void
add_segment (McTables *t, int8_t next[12], int axis, int side, int e1, int e2, int ci)
{
  double p1[3], p2[3], c[3], n[3] = { 0, 0, 0 }, d[3], w[3], m[3];
  edge_mid (t, e1, p1);
  edge_mid (t, e2, p2);
  corner_pos (ci, c);
  n[axis] = side ? 1.0 : -1.0;
  for (int k = 0; k < 3; k++)
    {
      d[k] = p2[k] - p1[k];
      m[k] = 0.5 * (p1[k] + p2[k]);
    }
  w[0] = n[1] * d[2] - n[2] * d[1];
  w[1] = n[2] * d[0] - n[0] * d[2];
  w[2] = n[0] * d[1] - n[1] * d[0];
  double dot = w[0] * (c[0] - m[0]) + w[1] * (c[1] - m[1]) + w[2] * (c[2] - m[2]);
  /* n x d points to the left of the walking direction */
  if (dot > 0)
    {
      int tmp = e1;
      e1 = e2;
      e2 = tmp;
    }
  g_assert (next[e1] < 0);
  next[e1] = (int8_t) e2;
}

/* Faces containing edge e, as bits (axis * 2 + side). */
static unsigned
edge_faces (const McTables *t, int e)
{
  unsigned f = 0;
  int axis = t->edge_axis[e], lo = t->edge_corner[e][0];
  for (int a = 0; a < 3; a++)
    if (a != axis)
      f |= 1u << (a * 2 + ((lo >> a) & 1));
  return f;
}

/* A diagonal between two loop vertices may not lie in a cube face: the neighbouring
 * cube could use the same diagonal, and the edge would then have four triangles. */
static gboolean
diagonal_ok (const McTables *t, int a, int b)
{
  return (edge_faces (t, a) & edge_faces (t, b)) == 0;
}

/* Triangulate polygon p[0..n-1] (loop order kept) with only allowed diagonals
 * (p[0]-p[n-1] is a polygon side).  Writes triangles to out; returns their count or -1. */
static int
triangulate_rec (const McTables *t, const int *p, int n, uint8_t *out)
{
  if (n == 3)
    {
      out[0] = (uint8_t) p[0];
      out[1] = (uint8_t) p[1];
      out[2] = (uint8_t) p[2];
      return 1;
    }
  /* the triangle on side p[0]-p[1] has apex p[k] */
  for (int k = 2; k < n; k++)
    {
      if (k != 2 && !diagonal_ok (t, p[1], p[k]))
        continue;
      if (k != n - 1 && !diagonal_ok (t, p[k], p[0]))
        continue;
      uint8_t buf[MC_MAX_TRIS * 3];
      int m = 0, r;
      buf[0] = (uint8_t) p[0];
      buf[1] = (uint8_t) p[1];
      buf[2] = (uint8_t) p[k];
      m = 1;
      if (k > 2)   /* polygon p[1] .. p[k] */
        {
          if ((r = triangulate_rec (t, p + 1, k, buf + 3 * m)) < 0)
            continue;
          m += r;
        }
      if (k < n - 1)   /* polygon p[k] .. p[n-1], p[0] */
        {
          int q[12], nq = 0;
          for (int i = k; i < n; i++)
            q[nq++] = p[i];
          q[nq++] = p[0];
          if ((r = triangulate_rec (t, q, nq, buf + 3 * m)) < 0)
            continue;
          m += r;
        }
      memcpy (out, buf, 3 * (size_t) m);
      return m;
    }
  return -1;
}

static int
triangulate (const McTables *t, const int *loop, int n, uint8_t *out)
{
  /* try every rotation so a valid triangulation is found if one exists */
  for (int s = 0; s < n; s++)
    {
      int p[12];
      for (int i = 0; i < n; i++)
        p[i] = loop[(s + i) % n];
      int r = triangulate_rec (t, p, n, out);
      if (r >= 0)
        return r;
    }
  return -1;
}

static void
build_case (McTables *t, int mask)
{
  int8_t next[12];
  memset (next, -1, sizeof next);

  for (int axis = 0; axis < 3; axis++)
    for (int side = 0; side < 2; side++)
      {
        int u = (axis + 1) % 3, v = (axis + 2) % 3;
        int q[4];
        /* corners in cyclic order around the face */
        static const int cu[4] = { 0, 1, 1, 0 }, cv[4] = { 0, 0, 1, 1 };
        for (int s = 0; s < 4; s++)
          q[s] = (side << axis) | (cu[s] << u) | (cv[s] << v);
        int in[4], n_cross = 0, cross_side[4];
        for (int s = 0; s < 4; s++)
          in[s] = (mask >> q[s]) & 1;
        for (int s = 0; s < 4; s++)
          if (in[s] != in[(s + 1) % 4])
            cross_side[n_cross++] = s;   /* side s joins q[s] and q[s+1] */
        if (n_cross == 2)
          {
            int s1 = cross_side[0], s2 = cross_side[1];
            int ci = -1;
            for (int s = 0; s < 4; s++)
              if (in[s])
                ci = q[s];
            add_segment (t, next, axis, side,
                         edge_of (q[s1], q[(s1 + 1) % 4]),
                         edge_of (q[s2], q[(s2 + 1) % 4]), ci);
          }
        else if (n_cross == 4)
          {
            /* diagonal: cut off each inside corner on its own */
            for (int s = 0; s < 4; s++)
              if (in[s])
                {
                  int prev = (s + 3) % 4;
                  add_segment (t, next, axis, side,
                               edge_of (q[prev], q[s]),
                               edge_of (q[s], q[(s + 1) % 4]), q[s]);
                }
          }
        else
          g_assert (n_cross == 0);
      }

  /* follow the loops and triangulate them */
  gboolean used[12] = { FALSE };
  int nt = 0;
  for (int e0 = 0; e0 < 12; e0++)
    {
      if (next[e0] < 0 || used[e0])
        continue;
      int loop[12], n = 0, e = e0;
      do
        {
          g_assert (n < 12 && next[e] >= 0);
          used[e] = TRUE;
          loop[n++] = e;
          e = next[e];
        }
      while (e != e0);
      g_assert (n >= 3);
      uint8_t tri[MC_MAX_TRIS * 3];
      int got = triangulate (t, loop, n, tri);
      g_assert (got == n - 2 && nt + got <= MC_MAX_TRIS);
      memcpy (&t->tris[mask][nt * 3], tri, 3 * (size_t) got);
      nt += got;
    }
  t->n_tris[mask] = (uint8_t) nt;
  if (nt > t->max_tris)
    t->max_tris = (uint8_t) nt;
}

static gpointer
build_tables (gpointer data)
{
  (void) data;
  McTables *t = &tables;
  for (int e = 0; e < 12; e++)
    {
      int axis = e / 4, o = e % 4, lo;
      if (axis == 0)
        lo = ((o & 1) << 1) | (((o >> 1) & 1) << 2);
      else if (axis == 1)
        lo = (o & 1) | (((o >> 1) & 1) << 2);
      else
        lo = (o & 1) | (((o >> 1) & 1) << 1);
      t->edge_corner[e][0] = (uint8_t) lo;
      t->edge_corner[e][1] = (uint8_t) (lo | (1 << axis));
      t->edge_axis[e] = (uint8_t) axis;
      g_assert (edge_of (lo, lo | (1 << axis)) == e);
    }
  for (int mask = 0; mask < 256; mask++)
    build_case (t, mask);
  return t;
}

const McTables *
mc_tables_get (void)
{
  static GOnce once = G_ONCE_INIT;
  return g_once (&once, build_tables, NULL);
}
