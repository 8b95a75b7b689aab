/* test-surface.c: multi-label marching cubes, smoothing, incremental updates. */
#include "mesh-private.h"
#include "nifti.h"

#include <math.h>
#include <string.h>
#include <glib/gstdio.h>
#include "test-util.h"

/* ---- helpers ---- */

static LabelVolume *
make_volume (int64_t nx, int64_t ny, int64_t nz, double sx, double sy, double sz, int bpv)
{
  double sp[3] = { sx, sy, sz };
  g_autoptr (GError) error = NULL;
  LabelVolume *v = lv_volume_new (nx, ny, nz, sp, bpv, &error);
  g_assert_no_error (error);
  return v;
}

/* Random blobs of labels 1..n_labels with noise: odd shapes, thin parts, diagonal contacts. */
static LabelVolume *
make_random (int64_t nx, int64_t ny, int64_t nz, int n_labels, guint32 seed, int bpv)
{
  LabelVolume *v = make_volume (nx, ny, nz, 1, 1, 1, bpv);
  GRand *r = g_rand_new_with_seed (seed);
  for (int64_t k = 0; k < nz; k++)
    for (int64_t j = 0; j < ny; j++)
      for (int64_t i = 0; i < nx; i++)
        {
          int32_t l = 0;
          double x = (double) i / nx, y = (double) j / ny, z = (double) k / nz;
          double f = sin (7 * x + 3 * y) + cos (5 * z - 2 * x) + 0.6 * g_rand_double (r);
          if (f > 0.4)
            l = 1 + (int32_t) ((f - 0.4) * 2.3) % n_labels;
          if (g_rand_double (r) < 0.05)
            l = g_rand_int_range (r, 0, n_labels + 1);
          if (bpv == 4 && l != 0)
            l = l * 100003 - 7;   /* large ids */
          lv_volume_set (v, i, j, k, l);
        }
  g_rand_free (r);
  return v;
}

typedef struct {
  uint64_t k[3];
} KeyTri;

static int
cmp_keytri (const void *a, const void *b)
{
  return memcmp (a, b, sizeof (KeyTri));
}

/* Triangles of a mesh as key triples, rotated so the smallest key comes first
 * (orientation is kept), sorted. */
static KeyTri *
canonical (const SurfaceMesh *m)
{
  KeyTri *t = g_new (KeyTri, MAX (m->n_triangles, 1));
  for (uint32_t n = 0; n < m->n_triangles; n++)
    {
      uint64_t a = m->keys[m->indices[3 * n]], b = m->keys[m->indices[3 * n + 1]],
               c = m->keys[m->indices[3 * n + 2]];
      if (a < b && a < c)
        t[n] = (KeyTri) { { a, b, c } };
      else if (b < a && b < c)
        t[n] = (KeyTri) { { b, c, a } };
      else
        t[n] = (KeyTri) { { c, a, b } };
    }
  qsort (t, m->n_triangles, sizeof (KeyTri), cmp_keytri);
  return t;
}

static void
assert_same_sets (const SurfaceSet *a, const SurfaceSet *b)
{
  g_assert_cmpuint (a->n_meshes, ==, b->n_meshes);
  for (guint i = 0; i < a->n_meshes; i++)
    {
      const SurfaceMesh *ma = a->meshes[i], *mb = b->meshes[i];
      g_assert_cmpint (ma->label, ==, mb->label);
      g_assert_cmpuint (ma->n_triangles, ==, mb->n_triangles);
      g_assert_cmpuint (ma->n_vertices, ==, mb->n_vertices);
      for (int d = 0; d < 6; d++)
        g_assert_cmpint (ma->voxel_box[d], ==, mb->voxel_box[d]);
      g_autofree KeyTri *ta = canonical (ma);
      g_autofree KeyTri *tb = canonical (mb);
      g_assert_cmpmem (ta, sizeof (KeyTri) * ma->n_triangles, tb, sizeof (KeyTri) * mb->n_triangles);
    }
}

static int
cmp_u64 (const void *a, const void *b)
{
  uint64_t x = *(const uint64_t *) a, y = *(const uint64_t *) b;
  return (x > y) - (x < y);
}

/* Every edge in exactly two triangles, traversed once each way (closed, 2-manifold along
 * edges, consistently oriented); every vertex has a single umbrella; no repeated vertex
 * keys; no degenerate triangles. */
static void
assert_closed_manifold (const SurfaceMesh *m)
{
  uint64_t ne = 3 * (uint64_t) m->n_triangles;
  uint64_t *dir = g_new (uint64_t, MAX (ne, 1));
  for (uint32_t t = 0; t < m->n_triangles; t++)
    for (int c = 0; c < 3; c++)
      {
        uint64_t a = m->indices[3 * t + c], b = m->indices[3 * t + (c + 1) % 3];
        g_assert_cmpuint (a, !=, b);
        g_assert_cmpuint (a, <, m->n_vertices);
        dir[3 * t + c] = a << 32 | b;
      }
  qsort (dir, ne, sizeof (uint64_t), cmp_u64);
  for (uint64_t e = 0; e < ne; e++)
    {
      /* a directed edge occurs once, and its reverse occurs too */
      g_assert_true (e == 0 || dir[e] != dir[e - 1]);
      uint64_t rev = (dir[e] & 0xffffffffu) << 32 | dir[e] >> 32;
      g_assert_nonnull (bsearch (&rev, dir, ne, sizeof (uint64_t), cmp_u64));
    }
  g_free (dir);

  /* vertex-manifold: the link of every vertex (edge b->c of each triangle (v,b,c)) is
   * one single cycle, so each vertex has one umbrella of triangles */
  uint32_t *first = g_new0 (uint32_t, m->n_vertices + 1);
  for (uint64_t i = 0; i < ne; i++)
    first[m->indices[i] + 1]++;
  for (uint32_t v = 0; v < m->n_vertices; v++)
    first[v + 1] += first[v];
  uint32_t *link = g_new (uint32_t, 2 * MAX (ne, 1));
  uint32_t *cur = g_memdup2 (first, sizeof (uint32_t) * (m->n_vertices + 1));
  for (uint32_t t = 0; t < m->n_triangles; t++)
    for (int c = 0; c < 3; c++)
      {
        uint32_t v = m->indices[3 * t + c];
        link[2 * cur[v]] = m->indices[3 * t + (c + 1) % 3];
        link[2 * cur[v] + 1] = m->indices[3 * t + (c + 2) % 3];
        cur[v]++;
      }
  for (uint32_t v = 0; v < m->n_vertices; v++)
    {
      uint32_t a = first[v], k = first[v + 1] - a;
      g_assert_cmpuint (k, >=, 3);
      uint32_t start = link[2 * a], at = start, steps = 0;
      do
        {
          uint32_t i;
          for (i = 0; i < k && link[2 * (a + i)] != at; i++)
            ;
          g_assert_cmpuint (i, <, k);
          at = link[2 * (a + i) + 1];
          steps++;
        }
      while (at != start && steps <= k);
      g_assert_cmpuint (steps, ==, k);
    }
  g_free (first);
  g_free (link);
  g_free (cur);

  uint64_t *keys = g_memdup2 (m->keys, sizeof (uint64_t) * MAX (m->n_vertices, 1));
  qsort (keys, m->n_vertices, sizeof (uint64_t), cmp_u64);
  for (uint32_t i = 1; i < m->n_vertices; i++)
    g_assert_cmpuint (keys[i], !=, keys[i - 1]);
  g_free (keys);
}

/* Grid edge key -> position (3 floats) of each vertex of @m, borrowed from @m. */
static GHashTable *
positions_by_key (const SurfaceMesh *m)
{
  GHashTable *pos = g_hash_table_new (g_int64_hash, g_int64_equal);
  for (uint32_t n = 0; n < m->n_vertices; n++)
    g_hash_table_insert (pos, &m->keys[n], m->positions + 3 * n);
  return pos;
}

static SurfaceSet *
extract (const LabelVolume *v, int threads, guint smooth)
{
  SurfaceOptions o;
  surface_options_init (&o);
  o.n_threads = threads;
  o.smooth_iterations = smooth;
  g_autoptr (GError) error = NULL;
  SurfaceSet *s = surface_extract (v, &o, NULL, &error);
  g_assert_no_error (error);
  g_assert_nonnull (s);
  return s;
}

/* ---- tests ---- */

static void
test_tables (void)
{
  const McTables *t = mc_tables_get ();
  g_assert_cmpuint (t->n_tris[0], ==, 0);
  g_assert_cmpuint (t->n_tris[255], ==, 0);
  g_assert_cmpuint (t->n_tris[1], ==, 1);
  g_assert_cmpuint (t->max_tris, <=, MC_MAX_TRIS);
  for (int m = 0; m < 256; m++)
    {
      /* every crossed edge is used, no other edge is */
      unsigned used = 0, crossed = 0;
      for (int e = 0; e < 12; e++)
        if (((m >> t->edge_corner[e][0]) ^ (m >> t->edge_corner[e][1])) & 1)
          crossed |= 1u << e;
      for (int n = 0; n < 3 * t->n_tris[m]; n++)
        used |= 1u << t->tris[m][n];
      g_assert_cmphex (used, ==, crossed);
      /* complementary cases without ambiguous faces are mirror images */
      g_assert_cmpuint (t->n_tris[m] > 0, ==, crossed != 0);
    }
}

static void
test_empty (void)
{
  g_autoptr (LabelVolume) v = make_volume (9, 8, 7, 1, 1, 1, 1);
  g_autoptr (SurfaceSet) s = extract (v, 2, 0);
  g_assert_cmpuint (s->n_meshes, ==, 0);
  g_assert_cmpuint (surface_set_n_triangles (s), ==, 0);
  g_autoptr (SurfaceSet) s2 = extract (v, 1, 5);
  g_assert_cmpuint (s2->n_meshes, ==, 0);
  /* 1x1x1 volume, empty and full */
  g_autoptr (LabelVolume) one = make_volume (1, 1, 1, 1, 1, 1, 1);
  g_autoptr (SurfaceSet) s3 = extract (one, 2, 0);
  g_assert_cmpuint (s3->n_meshes, ==, 0);
  lv_volume_set (one, 0, 0, 0, 3);
  g_autoptr (SurfaceSet) s4 = extract (one, 2, 0);
  g_assert_cmpuint (s4->n_meshes, ==, 1);
  g_assert_cmpint (s4->meshes[0]->label, ==, 3);
  /* a single voxel is an octahedron: 8 triangles, 6 vertices, volume 1/6 */
  g_assert_cmpuint (s4->meshes[0]->n_triangles, ==, 8);
  g_assert_cmpuint (s4->meshes[0]->n_vertices, ==, 6);
  g_assert_cmpfloat_with_epsilon (surface_mesh_volume (s4->meshes[0]), 1.0 / 6.0, 1e-6);
  assert_closed_manifold (s4->meshes[0]);
}

/* Optimised vs naive extraction on odd shapes, storage widths and thread counts. */
static void
test_vs_reference (void)
{
  static const int64_t shapes[][3] = { { 13, 7, 11 }, { 1, 9, 5 }, { 17, 1, 3 }, { 6, 5, 1 }, { 23, 19, 29 } };
  static const int bpvs[] = { 1, 2, 4 };
  for (gsize s = 0; s < G_N_ELEMENTS (shapes); s++)
    for (gsize b = 0; b < G_N_ELEMENTS (bpvs); b++)
      {
        g_autoptr (LabelVolume) v = make_random (shapes[s][0], shapes[s][1], shapes[s][2], 4,
                                                 (guint32) (s * 7 + b), bpvs[b]);
        g_autoptr (SurfaceSet) ref = surface_extract_reference (v, NULL, NULL);
        for (int th = 1; th <= 3; th++)
          {
            g_autoptr (SurfaceSet) fast = extract (v, th, 0);
            assert_same_sets (ref, fast);
            for (guint i = 0; i < fast->n_meshes; i++)
              {
                assert_closed_manifold (fast->meshes[i]);
                g_assert_cmpfloat (surface_mesh_volume (fast->meshes[i]), >, 0);
              }
          }
        g_test_message ("shape %" G_GINT64_FORMAT "x%" G_GINT64_FORMAT "x%" G_GINT64_FORMAT
                        " bpv %d: %u labels, %" G_GUINT64_FORMAT " triangles",
                        shapes[s][0], shapes[s][1], shapes[s][2], bpvs[b], ref->n_meshes,
                        surface_set_n_triangles (ref));
      }
}

static void
test_label_subset (void)
{
  g_autoptr (LabelVolume) v = make_random (15, 12, 10, 5, 99, 1);
  int32_t want[] = { 4, 2, 2, 0, 77 };
  SurfaceOptions o;
  surface_options_init (&o);
  o.labels = want;
  o.n_labels = G_N_ELEMENTS (want);
  g_autoptr (GError) error = NULL;
  g_autoptr (SurfaceSet) fast = surface_extract (v, &o, NULL, &error);
  g_assert_no_error (error);
  g_autoptr (SurfaceSet) ref = surface_extract_reference (v, &o, NULL);
  g_assert_cmpuint (fast->n_meshes, ==, 2);
  g_assert_cmpint (fast->meshes[0]->label, ==, 2);
  g_assert_cmpint (fast->meshes[1]->label, ==, 4);
  assert_same_sets (ref, fast);
}

/* Ball of radius r (mm) centred in the grid. */
static LabelVolume *
make_ball (double r, const double sp[3], int32_t label)
{
  int64_t n[3];
  for (int d = 0; d < 3; d++)
    n[d] = (int64_t) ceil (2 * r / sp[d]) + 4;
  LabelVolume *v = make_volume (n[0], n[1], n[2], sp[0], sp[1], sp[2], 1);
  for (int64_t k = 0; k < n[2]; k++)
    for (int64_t j = 0; j < n[1]; j++)
      for (int64_t i = 0; i < n[0]; i++)
        {
          double x = (i - (n[0] - 1) / 2.0) * sp[0], y = (j - (n[1] - 1) / 2.0) * sp[1],
                 z = (k - (n[2] - 1) / 2.0) * sp[2];
          if (x * x + y * y + z * z <= r * r)
            lv_volume_set (v, i, j, k, label);
        }
  return v;
}

static void
test_sphere (void)
{
  const double sp[3] = { 0.4, 0.55, 0.7 }, r = 20;
  g_autoptr (LabelVolume) v = make_ball (r, sp, 5);
  double A = 4 * G_PI * r * r, V = 4.0 / 3.0 * G_PI * r * r * r;
  for (int smooth = 0; smooth <= 1; smooth++)
    {
      g_autoptr (SurfaceSet) s = extract (v, 2, smooth ? 10 : 0);
      g_assert_cmpuint (s->n_meshes, ==, 1);
      const SurfaceMesh *m = s->meshes[0];
      if (!smooth)
        assert_closed_manifold (m);
      double area = surface_mesh_area (m), vol = surface_mesh_volume (m);
      g_test_message ("sphere r=%g on %.2fx%.2fx%.2f grid, smooth %d: area %.1f (%.2f%%), volume %.1f (%.2f%%)",
                      r, sp[0], sp[1], sp[2], smooth, area, 100 * (area / A - 1), vol, 100 * (vol / V - 1));
      g_assert_cmpfloat (fabs (vol / V - 1), <, 0.02);
      if (smooth)
        g_assert_cmpfloat (fabs (area / A - 1), <, 0.02);
      else
        g_assert_cmpfloat (fabs (area / A - 1), <, 0.12);   /* staircase: see docs/surfaces.md */
      /* normals point outwards: away from the centre */
      float c[3];
      for (int d = 0; d < 3; d++)
        c[d] = 0.5f * (m->bbox_min[d] + m->bbox_max[d]);
      uint32_t bad = 0;
      for (uint32_t i = 0; i < m->n_vertices; i++)
        {
          const float *p = m->positions + 3 * i, *n = m->normals + 3 * i;
          if ((p[0] - c[0]) * n[0] + (p[1] - c[1]) * n[1] + (p[2] - c[2]) * n[2] <= 0)
            bad++;
        }
      g_assert_cmpuint (bad, ==, 0);
    }
}

/* A flipped affine (det < 0) keeps outward winding; positions follow the affine. */
static void
test_affine (void)
{
  const double sp[3] = { 1, 1, 1 };
  g_autoptr (LabelVolume) v = make_ball (6, sp, 2);
  double aff[4][4] = { { -1.5, 0, 0, 10 }, { 0, 0, 2, -5 }, { 0, 0.5, 0, 3 }, { 0, 0, 0, 1 } };
  lv_volume_set_affine (v, aff);
  g_autoptr (SurfaceSet) s = extract (v, 2, 0);
  const SurfaceMesh *m = s->meshes[0];
  assert_closed_manifold (m);
  int64_t nvox = 0;
  for (int64_t n = 0; n < lv_volume_n_voxels (v); n++)
    nvox += lv_volume_get_index (v, n) != 0;
  double vol = surface_mesh_volume (m), expect = nvox * lv_volume_voxel_mm3 (v);
  g_test_message ("flipped affine: volume %.1f vs voxels %.1f", vol, expect);
  g_assert_cmpfloat (vol, >, 0);
  g_assert_cmpfloat (fabs (vol / expect - 1), <, 0.1);
  /* vertex 0 sits at the affine image of its edge midpoint */
  int64_t ijk[3];
  int axis;
  mesh_key_decode (s->dims, m->keys[0], ijk, &axis);
  double p[3] = { (double) ijk[0], (double) ijk[1], (double) ijk[2] };
  p[axis] += 0.5;
  for (int r = 0; r < 3; r++)
    g_assert_cmpfloat_with_epsilon (m->positions[r],
                                    aff[r][0] * p[0] + aff[r][1] * p[1] + aff[r][2] * p[2] + aff[r][3], 1e-4);
}

/* Several organs touching each other, some enclosed. */
static LabelVolume *
make_organs (void)
{
  LabelVolume *v = make_volume (60, 50, 40, 1.2, 0.9, 1.5, 1);
  for (int64_t k = 0; k < 40; k++)
    for (int64_t j = 0; j < 50; j++)
      for (int64_t i = 0; i < 60; i++)
        {
          double x = i - 30, y = j - 25, z = k - 20;
          int32_t l = 0;
          if (x * x / 600 + y * y / 400 + z * z / 300 < 1)
            l = 1;
          if ((x - 8) * (x - 8) + y * y + z * z < 90)
            l = 2;
          if (x < -5 && x * x / 600 + y * y / 400 + z * z / 300 < 1)
            l = 3;
          if ((x + 12) * (x + 12) + (y - 4) * (y - 4) + z * z < 30)
            l = 4;   /* inside 3 */
          v->data ? lv_volume_set (v, i, j, k, l) : (void) 0;
        }
  return v;
}

static void
test_smoothing (void)
{
  g_autoptr (LabelVolume) v = make_organs ();
  g_autoptr (SurfaceSet) raw = extract (v, 2, 0);
  g_autoptr (SurfaceSet) sm = extract (v, 2, 15);
  g_assert_cmpuint (raw->n_meshes, ==, 4);
  g_assert_cmpuint (sm->n_meshes, ==, 4);
  for (guint i = 0; i < raw->n_meshes; i++)
    {
      double v0 = surface_mesh_volume (raw->meshes[i]), v1 = surface_mesh_volume (sm->meshes[i]);
      double a0 = surface_mesh_area (raw->meshes[i]), a1 = surface_mesh_area (sm->meshes[i]);
      g_test_message ("label %d: volume %.1f -> %.1f (%.2f%%), area %.1f -> %.1f",
                      raw->meshes[i]->label, v0, v1, 100 * (v1 / v0 - 1), a0, a1);
      g_assert_cmpfloat (fabs (v1 / v0 - 1), <, 0.02);
      g_assert_cmpfloat (a1, <, a0);   /* the staircase is gone */
      /* same connectivity, only positions moved */
      g_autofree KeyTri *ta = canonical (raw->meshes[i]);
      g_autofree KeyTri *tb = canonical (sm->meshes[i]);
      g_assert_cmpmem (ta, sizeof (KeyTri) * raw->meshes[i]->n_triangles,
                       tb, sizeof (KeyTri) * sm->meshes[i]->n_triangles);
    }
  /* shared boundaries stay together: equal keys have equal positions in every mesh */
  g_autoptr (GHashTable) where = g_hash_table_new (g_int64_hash, g_int64_equal);
  guint shared = 0;
  for (guint i = 0; i < sm->n_meshes; i++)
    for (uint32_t n = 0; n < sm->meshes[i]->n_vertices; n++)
      {
        const float *p = sm->meshes[i]->positions + 3 * n;
        const float *q = g_hash_table_lookup (where, &sm->meshes[i]->keys[n]);
        if (q)
          {
            g_assert_cmpmem (p, 3 * sizeof (float), q, 3 * sizeof (float));
            shared++;
          }
        else
          g_hash_table_insert (where, &sm->meshes[i]->keys[n], (gpointer) p);
      }
  g_assert_cmpuint (shared, >, 100);

  /* surface_set_smooth on the raw set gives the same result as smoothing during extraction */
  g_autoptr (SurfaceSet) later = surface_set_dup (raw);
  surface_set_smooth (later, 15, 0.1);
  for (guint i = 0; i < raw->n_meshes; i++)
    {
      const SurfaceMesh *a = later->meshes[i], *b = sm->meshes[i];
      g_autoptr (GHashTable) pos = positions_by_key (b);
      double maxd = 0;
      for (uint32_t n = 0; n < a->n_vertices; n++)
        {
          const float *q = g_hash_table_lookup (pos, &a->keys[n]);
          g_assert_nonnull (q);
          for (int d = 0; d < 3; d++)
            maxd = MAX (maxd, fabs (a->positions[3 * n + d] - q[d]));
        }
      g_assert_cmpfloat (maxd, <, 1e-3);
    }
}

/* mesh_taubin on @threads threads against its naive twin mesh_taubin_reference on @m
 * (@iterations, 0.1), every @pin_every-th vertex pinned: pinned vertices stay, the others
 * move (more than 0.05 somewhere) and the two agree within @tol. */
static void
check_taubin (const SurfaceMesh *m, int pin_every, int iterations, int threads, double tol)
{
  gsize bytes = 3 * sizeof (float) * m->n_vertices;
  g_autofree float *p = g_memdup2 (m->positions, bytes);
  g_autofree float *ref = g_memdup2 (m->positions, bytes);
  g_autofree uint8_t *fixed = g_new0 (uint8_t, m->n_vertices);
  for (uint32_t i = 0; i < m->n_vertices; i += pin_every)
    fixed[i] = 1;
  mesh_taubin (p, m->n_vertices, m->indices, m->n_triangles, fixed, iterations, 0.1, threads);
  mesh_taubin_reference (ref, m->n_vertices, m->indices, m->n_triangles, fixed, iterations, 0.1);
  double maxd = 0, moved = 0;
  for (uint32_t i = 0; i < 3 * m->n_vertices; i++)
    {
      maxd = MAX (maxd, fabs (p[i] - ref[i]));
      moved = MAX (moved, fabs (p[i] - m->positions[i]));
      if (fixed[i / 3])
        g_assert_cmpfloat (p[i], ==, m->positions[i]);
    }
  g_test_message ("taubin, %d thread(s), %u vertices: max difference from the reference %.3g "
                  "(max move %.3g)", threads, m->n_vertices, maxd, moved);
  g_assert_cmpfloat (maxd, <, tol);
  g_assert_cmpfloat (moved, >, 0.05);
}

/* Optimised Taubin vs naive twin on an odd shape with pinned vertices. */
static void
test_taubin_reference (void)
{
  g_autoptr (LabelVolume) v = make_random (11, 9, 7, 3, 5, 1);
  g_autoptr (SurfaceSet) s = extract (v, 1, 0);
  check_taubin (s->meshes[0], 7, 6, 2, 1e-5);
}

/* The optimised Taubin (1 and 3 threads) vs the naive twin on a larger mesh whose
 * vertices have every degree, with pinned vertices. */
static void
test_taubin_large (void)
{
  g_autoptr (LabelVolume) v = make_organs ();
  g_autoptr (SurfaceSet) s = extract (v, 2, 0);
  /* coordinates reach 60 mm, where a float ulp is 3.8e-6: both round differently */
  for (int threads = 1; threads <= 3; threads += 2)
    check_taubin (surface_set_get (s, 1), 11, 7, threads, 5e-5);
}

/* Rebuilding only changed labels equals a full extraction (unsmoothed). */
static void
test_update (void)
{
  g_autoptr (LabelVolume) v = make_organs ();
  g_autoptr (SurfaceSet) s = extract (v, 2, 0);
  guint64 serial3 = surface_set_get (s, 3)->serial, serial1 = surface_set_get (s, 1)->serial;
  /* grow label 2 into 1 inside a box, erase label 4 entirely, create label 9 */
  int64_t box[6] = { 30, 20, 15, 45, 32, 26 };
  for (int64_t k = box[2]; k <= box[5]; k++)
    for (int64_t j = box[1]; j <= box[4]; j++)
      for (int64_t i = box[0]; i <= box[3]; i++)
        if (lv_volume_get (v, i, j, k) == 1 && (i + j) % 3)
          lv_volume_set (v, i, j, k, 2);
  lv_volume_set (v, 44, 30, 25, 9);
  for (int64_t n = 0; n < lv_volume_n_voxels (v); n++)
    if (lv_volume_get_index (v, n) == 4)
      lv_volume_set_index (v, n, 3);
  int32_t changed[] = { 1, 2, 4, 9, 3 };
  int64_t dirty[6] = { 0, 0, 0, 59, 49, 39 };
  g_autoptr (GError) error = NULL;
  /* first with the exact dirty box of labels 1, 2, 9, then 3 and 4 with no box */
  int64_t sub[6] = { 30, 20, 15, 45, 32, 26 };
  g_assert_true (surface_set_update (s, v, changed, 3, sub, NULL, NULL, &error));
  g_assert_no_error (error);
  g_assert_true (surface_set_update (s, v, changed + 3, 1, sub, NULL, NULL, &error));
  g_assert_true (surface_set_update (s, v, changed + 2, 1, NULL, NULL, NULL, &error));
  g_assert_true (surface_set_update (s, v, changed + 4, 1, dirty, NULL, NULL, &error));
  g_autoptr (SurfaceSet) full = extract (v, 2, 0);
  assert_same_sets (full, s);
  g_assert_null (surface_set_get (s, 4));
  g_assert_nonnull (surface_set_get (s, 9));
  g_assert_cmpuint (surface_set_get (s, 3)->serial, !=, serial3);
  g_assert_cmpuint (surface_set_get (s, 1)->serial, !=, serial1);

  /* smoothed update: changed label stays glued to the unchanged neighbour */
  g_autoptr (SurfaceSet) sm = extract (v, 2, 10);
  guint64 keep = surface_set_get (sm, 1)->serial;
  for (int64_t n = 0; n < lv_volume_n_voxels (v); n++)
    if (lv_volume_get_index (v, n) == 9)
      lv_volume_set_index (v, n, 0);
  SurfaceOptions o;
  surface_options_init (&o);
  o.smooth_iterations = 10;
  int32_t nine = 9, two = 2;
  g_assert_true (surface_set_update (sm, v, &nine, 1, NULL, &o, NULL, &error));
  g_assert_null (surface_set_get (sm, 9));
  g_assert_true (surface_set_update (sm, v, &two, 1, NULL, &o, NULL, &error));
  g_assert_cmpuint (surface_set_get (sm, 1)->serial, ==, keep);
  const SurfaceMesh *m1 = surface_set_get (sm, 1), *m2 = surface_set_get (sm, 2);
  g_autoptr (GHashTable) pos = positions_by_key (m1);
  guint shared = 0;
  for (uint32_t n = 0; n < m2->n_vertices; n++)
    {
      const float *q = g_hash_table_lookup (pos, &m2->keys[n]);
      if (q)
        {
          g_assert_cmpmem (q, 3 * sizeof (float), m2->positions + 3 * n, 3 * sizeof (float));
          shared++;
        }
    }
  g_assert_cmpuint (shared, >, 50);
  assert_closed_manifold (m2);
}

static void
test_decimate (void)
{
  g_autoptr (LabelVolume) v = make_organs ();
  g_autoptr (SurfaceSet) s = extract (v, 2, 5);
  guint64 n0 = surface_set_n_triangles (s);
  g_autoptr (SurfaceSet) d = surface_set_decimate (s, n0 / 5);
  guint64 n1 = surface_set_n_triangles (d);
  g_test_message ("decimate %" G_GUINT64_FORMAT " -> %" G_GUINT64_FORMAT " (target %" G_GUINT64_FORMAT ")",
                  n0, n1, n0 / 5);
  g_assert_cmpuint (n1, <=, n0 / 5 + n0 / 50);
  g_assert_cmpuint (n1, >=, n0 / 20);
  g_assert_cmpuint (d->n_meshes, ==, s->n_meshes);
  for (guint i = 0; i < s->n_meshes; i++)
    {
      double v0 = surface_mesh_volume (s->meshes[i]), v1 = surface_mesh_volume (d->meshes[i]);
      g_test_message ("label %d volume %.0f -> %.0f", s->meshes[i]->label, v0, v1);
      g_assert_cmpfloat (fabs (v1 / v0 - 1), <, 0.1);
    }
  g_autoptr (SurfaceSet) same = surface_set_decimate (s, n0 * 2);
  g_assert_cmpuint (surface_set_n_triangles (same), ==, n0);
}

/* Naive twin of mesh_cluster_indices: a hash of cell coordinates per vertex, first
 * vertex of each cell as its representative. */
static uint32_t *
cluster_indices_reference (const float *pos, uint32_t nv, const uint32_t *idx, uint32_t nt,
                           float cell, uint32_t *n_out)
{
  g_autoptr (GHashTable) first = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  g_autofree uint32_t *rep = g_new (uint32_t, MAX (nv, 1));
  for (uint32_t v = 0; v < nv; v++)
    {
      int64_t c[3];
      for (int d = 0; d < 3; d++)
        c[d] = (int64_t) floor (pos[3 * v + d] * (1.0 / cell));
      char *name = g_strdup_printf ("%" G_GINT64_FORMAT " %" G_GINT64_FORMAT " %" G_GINT64_FORMAT,
                                    c[0], c[1], c[2]);
      gpointer found;
      if (g_hash_table_lookup_extended (first, name, NULL, &found))
        {
          rep[v] = GPOINTER_TO_UINT (found);
          g_free (name);
        }
      else
        {
          rep[v] = v;
          g_hash_table_insert (first, name, GUINT_TO_POINTER (v));
        }
    }
  uint32_t *out = g_new (uint32_t, 3 * (gsize) MAX (nt, 1)), n = 0;
  for (uint32_t t = 0; t < nt; t++)
    {
      const uint32_t *x = idx + 3 * t;
      if (x[0] >= nv || x[1] >= nv || x[2] >= nv)
        continue;
      uint32_t a = rep[x[0]], b = rep[x[1]], c = rep[x[2]];
      if (a != b && b != c && a != c)
        {
          out[3 * n] = a;
          out[3 * n + 1] = b;
          out[3 * n + 2] = c;
          n++;
        }
    }
  *n_out = n;
  return out;
}

static void
test_cluster_indices (void)
{
  g_autoptr (LabelVolume) v = make_organs ();
  g_autoptr (SurfaceSet) s = extract (v, 2, 5);
  const SurfaceMesh *m = s->meshes[0];
  /* small cells (the hash map) to coarse ones (the dense array) */
  const float cells[] = { 0.05f, 0.7f, 2.f, 4.5f, 30.f };
  for (gsize i = 0; i < G_N_ELEMENTS (cells); i++)
    {
      uint32_t n = 0, n_ref = 0;
      g_autofree uint32_t *out = mesh_cluster_indices (m->positions, m->n_vertices, m->indices,
                                                       m->n_triangles, cells[i], &n);
      g_autofree uint32_t *ref = cluster_indices_reference (m->positions, m->n_vertices, m->indices,
                                                            m->n_triangles, cells[i], &n_ref);
      g_test_message ("cell %.2f mm: %u -> %u triangles", cells[i], m->n_triangles, n);
      g_assert_cmpuint (n, ==, n_ref);
      g_assert_cmpmem (out, 3 * sizeof (uint32_t) * n, ref, 3 * sizeof (uint32_t) * n_ref);
      g_assert_cmpuint (n, <=, m->n_triangles);
    }
  /* Coarse cells collapse everything: no degenerate triangle survives; bad indices go. */
  float pos[9] = { 0, 0, 0, 0.1f, 0, 0, 0, 0.1f, 0 };
  uint32_t idx[6] = { 0, 1, 2, 0, 1, 7 }, n = 99;
  g_autofree uint32_t *out = mesh_cluster_indices (pos, 3, idx, 2, 10.f, &n);
  g_assert_cmpuint (n, ==, 0);
  g_autofree uint32_t *fine = mesh_cluster_indices (pos, 3, idx, 2, 0.01f, &n);
  g_assert_cmpuint (n, ==, 1);
  g_assert_cmpmem (fine, 3 * sizeof (uint32_t), idx, 3 * sizeof (uint32_t));
}

static void
test_pack (void)
{
  g_autoptr (LabelVolume) v = make_organs ();
  g_autoptr (SurfaceSet) s = extract (v, 2, 0);
  g_autoptr (GError) error = NULL;
  g_autoptr (SurfacePacked) p = surface_set_pack (s, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (p->n_ranges, ==, s->n_meshes);
  g_assert_cmpuint (p->n_indices, ==, 3 * surface_set_n_triangles (s));
  for (guint r = 0; r < p->n_ranges; r++)
    {
      const SurfaceMesh *m = s->meshes[r];
      const SurfaceRange *rg = &p->ranges[r];
      g_assert_cmpint (rg->label, ==, m->label);
      for (uint32_t i = 0; i < rg->n_indices; i++)
        {
          uint32_t gv = p->indices[rg->first_index + i], lv = m->indices[i];
          g_assert_cmpuint (gv, ==, rg->first_vertex + lv);
          g_assert_cmpmem (p->vertices + 6 * gv, 12, m->positions + 3 * lv, 12);
          g_assert_cmpmem (p->vertices + 6 * gv + 3, 12, m->normals + 3 * lv, 12);
        }
    }
}


static guint
count_prefix (const char *text, const char *prefix)
{
  guint n = 0;
  gsize len = strlen (prefix);
  for (const char *p = text; p && *p; p = strchr (p, '\n') ? strchr (p, '\n') + 1 : NULL)
    n += strncmp (p, prefix, len) == 0;
  return n;
}

static void
test_export (void)
{
  g_autoptr (LabelVolume) v = make_organs ();
  g_autoptr (SurfaceSet) s = extract (v, 2, 3);
  g_autoptr (GError) error = NULL;
  g_autofree char *dir = g_dir_make_tmp ("test-surface-XXXXXX", &error);
  g_assert_no_error (error);
  g_autoptr (LabelTable) table = lt_table_new ("test");
  guint8 red[4] = { 255, 0, 0, 255 };
  lt_table_set (table, 2, "left kidney", red);
  MeshExportOptions o = { .table = table };
  guint64 nt = surface_set_n_triangles (s), nv = surface_set_n_vertices (s);

  /* STL: 84-byte header + 50 bytes per triangle */
  g_autofree char *stl = g_build_filename (dir, "all.stl", NULL);
  g_assert_true (mesh_export (s, stl, &o, &error));
  g_assert_no_error (error);
  g_autofree char *data = NULL;
  gsize len;
  g_assert_true (g_file_get_contents (stl, &data, &len, NULL));
  g_assert_cmpuint (len, ==, 84 + 50 * nt);
  guint32 n32;
  memcpy (&n32, data + 80, 4);
  g_assert_cmpuint (GUINT32_FROM_LE (n32), ==, nt);
  g_clear_pointer (&data, g_free);

  /* no overwrite unless asked; nothing left behind */
  g_assert_false (mesh_export (s, stl, &o, &error));
  g_assert_error (error, MESH_ERROR, MESH_ERROR_EXISTS);
  g_clear_error (&error);
  o.overwrite = TRUE;
  g_assert_true (mesh_export (s, stl, &o, &error));
  o.overwrite = FALSE;

  /* PLY: header counts, then exactly the binary records */
  g_autofree char *ply = g_build_filename (dir, "all.ply", NULL);
  g_assert_true (mesh_export (s, ply, &o, &error));
  g_assert_true (g_file_get_contents (ply, &data, &len, NULL));
  g_autofree char *expect_v = g_strdup_printf ("element vertex %" G_GUINT64_FORMAT "\n", nv);
  g_autofree char *expect_f = g_strdup_printf ("element face %" G_GUINT64_FORMAT "\n", nt);
  test_assert_contains (data, expect_v, expect_f, NULL);
  const char *end = strstr (data, "end_header\n") + strlen ("end_header\n");
  g_assert_cmpuint (len - (gsize) (end - data), ==, 28 * nv + 17 * nt);
  /* first vertex of label 2 is red */
  guint64 first2 = 0;
  for (guint i = 0; s->meshes[i]->label != 2; i++)
    first2 += s->meshes[i]->n_vertices;
  const guint8 *rgba = (const guint8 *) end + 28 * first2 + 24;
  g_assert_cmpuint (rgba[0], ==, 255);
  g_assert_cmpuint (rgba[1], ==, 0);
  g_clear_pointer (&data, g_free);

  /* OBJ + MTL: one group and material per organ, C-locale numbers */
  g_autofree char *obj = g_build_filename (dir, "all.obj", NULL);
  g_autofree char *mtl = g_build_filename (dir, "all.mtl", NULL);
  g_assert_true (mesh_export (s, obj, &o, &error));
  g_assert_true (g_file_get_contents (obj, &data, NULL, NULL));
  g_assert_cmpuint (count_prefix (data, "o "), ==, s->n_meshes);
  g_assert_cmpuint (count_prefix (data, "v "), ==, nv);
  g_assert_cmpuint (count_prefix (data, "vn "), ==, nv);
  g_assert_cmpuint (count_prefix (data, "f "), ==, nt);
  g_assert_nonnull (strstr (data, "o left_kidney\n"));
  g_assert_null (strstr (data, ","));
  g_clear_pointer (&data, g_free);
  g_assert_true (g_file_get_contents (mtl, &data, NULL, NULL));
  g_assert_cmpuint (count_prefix (data, "newmtl "), ==, s->n_meshes);
  g_assert_nonnull (strstr (data, "newmtl left_kidney\nKa 0.2000 0.0000 0.0000\nKd 1.0000 0.0000 0.0000\n"));
  g_clear_pointer (&data, g_free);

  /* one file per organ */
  g_autofree char *stem = g_build_filename (dir, "part.stl", NULL);
  o.per_label = TRUE;
  g_assert_true (mesh_export (s, stem, &o, &error));
  g_autofree char *kid = g_build_filename (dir, "part_left_kidney.stl", NULL);
  g_assert_true (g_file_get_contents (kid, &data, &len, NULL));
  g_assert_cmpuint (len, ==, 84 + 50 * surface_set_get (s, 2)->n_triangles);
  g_clear_pointer (&data, g_free);

  /* directory listing: only the files asked for (no temporary leftovers) */
  g_autoptr (GDir) d = g_dir_open (dir, 0, NULL);
  const char *name;
  guint n_files = 0;
  while ((name = g_dir_read_name (d)))
    {
      g_assert_false (name[0] == '.');
      g_autofree char *p = g_build_filename (dir, name, NULL);
      g_unlink (p);
      n_files++;
    }
  g_assert_cmpuint (n_files, ==, 4 + s->n_meshes);
  g_rmdir (dir);

  /* unknown format */
  g_assert_false (mesh_export (s, "/nonexistent/x.vtk", NULL, &error));
  g_assert_error (error, MESH_ERROR, MESH_ERROR_INVALID);
}

static void
test_cancel (void)
{
  g_autoptr (LabelVolume) v = make_organs ();
  g_autoptr (GCancellable) c = g_cancellable_new ();
  g_cancellable_cancel (c);
  g_autoptr (GError) error = NULL;
  SurfaceSet *s = surface_extract (v, NULL, c, &error);
  g_assert_null (s);
  g_assert_error (error, MESH_ERROR, MESH_ERROR_CANCELLED);
}

/* The real atlas: closed manifold meshes, volume near the voxel volume. */
static void
test_aal (void)
{
  const char *path = "/usr/share/mricron/templates/aal.nii.gz";
  if (!g_file_test (path, G_FILE_TEST_EXISTS))
    {
      g_test_skip ("aal.nii.gz missing (apt-get install mricron-data)");
      return;
    }
  g_autoptr (GError) error = NULL;
  g_autoptr (LabelVolume) v = nifti_read (path, NULL, &error);
  g_assert_no_error (error);
  int32_t n_hist = 0;
  g_autofree int64_t *hist = lv_volume_histogram (v, &n_hist);
  g_autoptr (SurfaceSet) s = extract (v, 2, 0);
  guint n_labels = 0;
  for (int32_t l = 1; l < n_hist; l++)
    n_labels += hist[l] > 0;
  g_assert_cmpuint (s->n_meshes, ==, n_labels);
  double worst = 0;
  for (guint i = 0; i < s->n_meshes; i++)
    {
      const SurfaceMesh *m = s->meshes[i];
      assert_closed_manifold (m);
      double vol = surface_mesh_volume (m), vox = hist[m->label] * lv_volume_voxel_mm3 (v);
      worst = MAX (worst, fabs (vol / vox - 1));
      g_assert_cmpfloat (fabs (vol / vox - 1), <, 0.06);
    }
  g_test_message ("aal: %u labels, %" G_GUINT64_FORMAT " triangles, all closed and manifold, "
                  "worst volume deviation from the voxel volume %.2f%%",
                  s->n_meshes, surface_set_n_triangles (s), 100 * worst);
  g_autoptr (SurfaceSet) sm = extract (v, 2, 10);
  double worst_sm = 0;
  for (guint i = 0; i < s->n_meshes; i++)
    {
      double v0 = surface_mesh_volume (s->meshes[i]), v1 = surface_mesh_volume (sm->meshes[i]);
      worst_sm = MAX (worst_sm, fabs (v1 / v0 - 1));
    }
  g_test_message ("aal smoothed (10 iterations): worst volume change %.2f%%", 100 * worst_sm);
  g_assert_cmpfloat (worst_sm, <, 0.02);
}

static const TestCase test_cases[] = {
  { "/surface/tables", test_tables },
  { "/surface/empty", test_empty },
  { "/surface/vs-reference", test_vs_reference },
  { "/surface/label-subset", test_label_subset },
  { "/surface/sphere-anisotropic", test_sphere },
  { "/surface/affine-flipped", test_affine },
  { "/surface/smoothing", test_smoothing },
  { "/surface/taubin-vs-reference", test_taubin_reference },
  { "/surface/taubin-large-vs-reference", test_taubin_large },
  { "/surface/update", test_update },
  { "/surface/decimate", test_decimate },
  { "/surface/cluster-indices", test_cluster_indices },
  { "/surface/pack", test_pack },
  { "/surface/export", test_export },
  { "/surface/cancel", test_cancel },
  { "/surface/aal", test_aal },
};

TEST_UTIL_MAIN (test_cases)
