/* test-phantom.c: the procedural torso phantom population. */
#include "label-table.h"
#include "nifti.h"
#include "phantom.h"

#include <math.h>
#include <string.h>
#include <glib/gstdio.h>

static LabelVolume *
gen (guint64 seed, int grid)
{
  PhantomParams p;
  phantom_params_init (&p);
  p.seed = seed;
  p.grid[0] = p.grid[1] = p.grid[2] = grid;
  g_autoptr (GError) error = NULL;
  LabelVolume *v = phantom_generate (&p, &error);
  g_assert_no_error (error);
  g_assert_nonnull (v);
  return v;
}

/* Centroid (world mm) of @label, restricted to voxels with world x < split
 * (side -1), >= split (side +1) or anywhere (side 0).  FALSE if empty. */
static gboolean
centroid (const LabelVolume *v, int label, int side, double split, double c[3])
{
  double s[3] = { 0, 0, 0 };
  gint64 n = 0;
  const guint8 *d = v->data;
  for (int64_t k = 0; k < v->nz; k++)
    for (int64_t j = 0; j < v->ny; j++)
      for (int64_t i = 0; i < v->nx; i++)
        if (d[i + v->nx * (j + v->ny * k)] == label)
          {
            double w[3];
            for (int a = 0; a < 3; a++)
              w[a] = v->affine[a][0] * i + v->affine[a][1] * j + v->affine[a][2] * k + v->affine[a][3];
            if ((side < 0 && w[0] >= split) || (side > 0 && w[0] < split))
              continue;
            for (int a = 0; a < 3; a++)
              s[a] += w[a];
            n++;
          }
  if (n == 0)
    return FALSE;
  for (int a = 0; a < 3; a++)
    c[a] = s[a] / n;
  return TRUE;
}

/* 6-connected components of @label: count, and for each its size and centroid x (world). */
typedef struct {
  int n;
  gint64 size[64];
  double cx[64];
} Components;

static void
components (const LabelVolume *v, int label, Components *out)
{
  int64_t nx = v->nx, ny = v->ny, nz = v->nz, n = nx * ny * nz;
  const guint8 *d = v->data;
  g_autofree guint8 *seen = g_new0 (guint8, n);
  g_autofree int64_t *queue = g_new (int64_t, n);
  memset (out, 0, sizeof *out);
  for (int64_t s = 0; s < n; s++)
    {
      if (d[s] != label || seen[s])
        continue;
      int64_t head = 0, tail = 0;
      double sx = 0;
      queue[tail++] = s;
      seen[s] = 1;
      while (head < tail)
        {
          int64_t w = queue[head++];
          int64_t i = w % nx, j = (w / nx) % ny, k = w / (nx * ny);
          sx += i;
          int64_t nb[6] = { i > 0 ? w - 1 : -1, i + 1 < nx ? w + 1 : -1,
                            j > 0 ? w - nx : -1, j + 1 < ny ? w + nx : -1,
                            k > 0 ? w - nx * ny : -1, k + 1 < nz ? w + nx * ny : -1 };
          for (int a = 0; a < 6; a++)
            if (nb[a] >= 0 && d[nb[a]] == label && !seen[nb[a]])
              {
                seen[nb[a]] = 1;
                queue[tail++] = nb[a];
              }
        }
      if (out->n < 64)
        {
          out->size[out->n] = tail;
          out->cx[out->n] = v->affine[0][0] * (sx / tail) + v->affine[0][3];
        }
      out->n++;
    }
}

static void
test_labels_and_geometry (void)
{
  for (guint64 seed = 0; seed < 16; seed++)
    {
      g_autoptr (LabelVolume) v = gen (seed, seed < 2 ? 128 : 64);
      g_assert_cmpint (v->bytes_per_voxel, ==, 1);
      int32_t n = 0;
      g_autofree int64_t *h = lv_volume_histogram (v, &n);
      g_assert_cmpint (n, ==, LT_N_CLASSES);   /* max label is 12 */
      for (int l = 1; l <= LT_N_ORGANS; l++)
        {
          if (h[l] == 0)
            g_test_message ("seed %" G_GUINT64_FORMAT ": label %d missing", seed, l);
          g_assert_cmpint (h[l], >, 0);
        }
      char code[4];
      lv_volume_orientation (v, code);
      g_assert_cmpstr (code, ==, "RAS");
      /* the grid is centred on the world origin */
      for (int a = 0; a < 3; a++)
        g_assert_cmpfloat_with_epsilon (v->affine[a][3] + 0.5 * (v->nx - 1) * v->affine[a][a], 0.0, 1e-9);
    }
}

static void
test_anisotropic_grid (void)
{
  PhantomParams p;
  phantom_params_init (&p);
  p.seed = 5;
  p.grid[0] = 72;
  p.grid[1] = 60;
  p.grid[2] = 90;
  p.spacing[0] = 5.0;
  p.spacing[1] = 6.0;
  p.spacing[2] = 4.0;
  g_autoptr (GError) error = NULL;
  g_autoptr (LabelVolume) v = phantom_generate (&p, &error);
  g_assert_no_error (error);
  g_assert_cmpint (v->nx, ==, 72);
  g_assert_cmpint (v->ny, ==, 60);
  g_assert_cmpint (v->nz, ==, 90);
  g_assert_cmpfloat (v->spacing[1], ==, 6.0);
  g_assert_cmpint (__builtin_popcount (phantom_labels_present (v)), ==, LT_N_ORGANS);
  /* the heart is in the same place (mm) as on the isotropic grid */
  g_autoptr (LabelVolume) w = gen (5, 96);
  double a[3], b[3];
  g_assert_true (centroid (v, LT_HEART, 0, 0, a));
  g_assert_true (centroid (w, LT_HEART, 0, 0, b));
  for (int i = 0; i < 3; i++)
    g_assert_cmpfloat (fabs (a[i] - b[i]), <, 6.0);
}

static void
test_invalid_params (void)
{
  PhantomParams p;
  g_autoptr (GError) error = NULL;
  phantom_params_init (&p);
  p.grid[1] = 4;
  g_assert_null (phantom_generate (&p, &error));
  g_assert_error (error, PHANTOM_ERROR, PHANTOM_ERROR_INVALID);
  g_clear_error (&error);
  phantom_params_init (&p);
  p.variation = -1;
  g_assert_null (phantom_generate (&p, &error));
  g_assert_error (error, PHANTOM_ERROR, PHANTOM_ERROR_INVALID);
  g_clear_error (&error);
  phantom_params_init (&p);
  p.spacing[2] = 100;
  g_assert_null (phantom_generate (&p, &error));
  g_assert_error (error, PHANTOM_ERROR, PHANTOM_ERROR_INVALID);
}

static void
test_connectivity (void)
{
  for (guint64 seed = 100; seed < 108; seed++)
    {
      g_autoptr (LabelVolume) v = gen (seed, seed < 102 ? 128 : 96);
      double spine[3];
      g_assert_true (centroid (v, LT_SPINE, 0, 0, spine));
      for (int l = 1; l <= LT_N_ORGANS; l++)
        {
          if (l == LT_SPINE || l == LT_RIB_CAGE)
            continue;
          Components c;
          components (v, l, &c);
          gboolean paired = l == LT_LUNG || l == LT_KIDNEY || l == LT_AUTOCHTHON;
          if (c.n != (paired ? 2 : 1))
            g_test_message ("seed %" G_GUINT64_FORMAT " label %d: %d components", seed, l, c.n);
          g_assert_cmpint (c.n, ==, paired ? 2 : 1);
          if (paired)
            {
              /* one on each side of the spine, of comparable size */
              g_assert_cmpint ((c.cx[0] < spine[0]) + (c.cx[1] < spine[0]), ==, 1);
              double ratio = (double) MIN (c.size[0], c.size[1]) / MAX (c.size[0], c.size[1]);
              g_assert_cmpfloat (ratio, >, 0.4);
            }
        }
    }
}

/* Painting invariant: the diaphragm keeps the lungs off every abdominal organ. */
static void
test_diaphragm_separates (void)
{
  static const int abdominal[] = { LT_LIVER, LT_SPLEEN, LT_STOMACH, LT_KIDNEY, LT_PANCREAS };
  for (guint64 seed = 200; seed < 204; seed++)
    {
      g_autoptr (LabelVolume) v = gen (seed, 128);
      const guint8 *d = v->data;
      int64_t nx = v->nx, nxy = v->nx * v->ny;
      gint64 touching = 0;
      for (int64_t k = 1; k < v->nz - 1; k++)
        for (int64_t j = 1; j < v->ny - 1; j++)
          for (int64_t i = 1; i < v->nx - 1; i++)
            {
              int64_t w = i + nx * j + nxy * k;
              if (d[w] != LT_LUNG)
                continue;
              int64_t nb[6] = { w - 1, w + 1, w - nx, w + nx, w - nxy, w + nxy };
              for (int a = 0; a < 6; a++)
                for (guint o = 0; o < G_N_ELEMENTS (abdominal); o++)
                  touching += d[nb[a]] == abdominal[o];
            }
      g_assert_cmpint (touching, ==, 0);
    }
}

static void
test_anatomical_relations (void)
{
  int n_seeds = 30;
  for (int s = 0; s < n_seeds; s++)
    {
      guint64 seed = 300 + s;
      g_autoptr (LabelVolume) v = gen (seed, 64);
      double sp[3], c[LT_N_CLASSES][3], ll[3], rl[3], lk[3], rk[3], la[3], ra[3];
      g_assert_true (centroid (v, LT_SPINE, 0, 0, sp));
      for (int l = 1; l <= LT_N_ORGANS; l++)
        g_assert_true (centroid (v, l, 0, 0, c[l]));
      g_assert_true (centroid (v, LT_LUNG, -1, sp[0], ll));
      g_assert_true (centroid (v, LT_LUNG, +1, sp[0], rl));
      g_assert_true (centroid (v, LT_KIDNEY, -1, sp[0], lk));
      g_assert_true (centroid (v, LT_KIDNEY, +1, sp[0], rk));
      g_assert_true (centroid (v, LT_AUTOCHTHON, -1, sp[0], la));
      g_assert_true (centroid (v, LT_AUTOCHTHON, +1, sp[0], ra));
      /* RAS: +x is the patient's right, +y anterior, +z superior */
      g_assert_cmpfloat (c[LT_LUNG][2], >, c[LT_LIVER][2]);           /* lungs above the liver */
      g_assert_cmpfloat (ll[0], <, c[LT_HEART][0]);                    /* heart between the lungs */
      g_assert_cmpfloat (c[LT_HEART][0], <, rl[0]);
      g_assert_cmpfloat (c[LT_HEART][0], <, sp[0]);                    /* ... left of the midline */
      g_assert_cmpfloat (c[LT_HEART][1], >, sp[1] + 40);               /* ... and anterior */
      g_assert_cmpfloat (c[LT_HEART][2], >, c[LT_LIVER][2]);
      g_assert_cmpfloat (c[LT_LIVER][0], >, sp[0] + 20);               /* liver right */
      g_assert_cmpfloat (c[LT_SPLEEN][0], <, sp[0] - 40);              /* spleen left ... */
      g_assert_cmpfloat (c[LT_SPLEEN][1], <, c[LT_STOMACH][1]);        /* ... behind the stomach */
      g_assert_cmpfloat (c[LT_STOMACH][0], <, sp[0]);                  /* stomach left */
      g_assert_cmpfloat (lk[0], <, sp[0] - 20);                        /* kidneys either side */
      g_assert_cmpfloat (rk[0], >, sp[0] + 20);
      g_assert_cmpfloat (fabs (lk[1] - sp[1]), <, 45);                 /* ... beside the spine */
      g_assert_cmpfloat (rk[2], <, c[LT_LIVER][2]);                    /* right kidney under the liver */
      g_assert_cmpfloat (c[LT_PANCREAS][1], >, sp[1] + 20);            /* pancreas in front of the spine */
      g_assert_cmpfloat (c[LT_PANCREAS][2], <, c[LT_HEART][2]);
      g_assert_cmpfloat (la[0], <, sp[0]);                             /* autochthon both sides, behind */
      g_assert_cmpfloat (ra[0], >, sp[0]);
      g_assert_cmpfloat (c[LT_AUTOCHTHON][1], <, sp[1] - 10);
      g_assert_cmpfloat (c[LT_PULMONARY_ARTERY][2], >, c[LT_HEART][2]); /* PA above the heart */
      g_assert_cmpfloat (c[LT_LUNG][2], >, c[LT_KIDNEY][2]);

      /* descending aorta: left-anterior of the spine, slice by slice, from the heart's
       * centroid 50 mm down (lower down it moves to the midline, in front of the spine) */
      const guint8 *d = v->data;
      int checked = 0;
      for (int64_t k = 0; k < v->nz; k++)
        {
          double z = v->affine[2][2] * k + v->affine[2][3];
          if (z > c[LT_HEART][2] || z < c[LT_HEART][2] - 50)
            continue;
          double ax = 0, ay = 0, bx = 0, by = 0;
          gint64 na = 0, nb = 0;
          for (int64_t j = 0; j < v->ny; j++)
            for (int64_t i = 0; i < v->nx; i++)
              {
                guint8 l = d[i + v->nx * (j + v->ny * k)];
                if (l == LT_AORTA)
                  ax += i, ay += j, na++;
                else if (l == LT_SPINE)
                  bx += i, by += j, nb++;
              }
          if (na == 0 || nb == 0)
            continue;
          g_assert_cmpfloat (ax / na, <, bx / nb);   /* left (smaller i) */
          g_assert_cmpfloat (ay / na, >, by / nb);   /* anterior (larger j) */
          checked++;
        }
      g_assert_cmpint (checked, >=, 3);
    }
}

/* Voxel count, world z range and world-z histogram helpers for the proportions test. */
static gint64
label_count (const LabelVolume *v, int label, double *zmin, double *zmax)
{
  const guint8 *d = v->data;
  gint64 n = 0;
  *zmin = G_MAXDOUBLE;
  *zmax = -G_MAXDOUBLE;
  for (int64_t k = 0; k < v->nz; k++)
    {
      double z = v->affine[2][2] * k + v->affine[2][3];
      for (int64_t j = 0; j < v->ny; j++)
        for (int64_t i = 0; i < v->nx; i++)
          if (d[i + v->nx * (j + v->ny * k)] == label)
            {
              n++;
              *zmin = MIN (*zmin, z);
              *zmax = MAX (*zmax, z);
            }
    }
  return n;
}

/* Mean cross-section (mm^2) of @label over the slices within 10 mm of world z @zc. */
static double
cross_section (const LabelVolume *v, int label, double zc)
{
  const guint8 *d = v->data;
  gint64 n = 0;
  int slices = 0;
  for (int64_t k = 0; k < v->nz; k++)
    {
      double z = v->affine[2][2] * k + v->affine[2][3];
      if (fabs (z - zc) > 10)
        continue;
      slices++;
      for (int64_t j = 0; j < v->ny; j++)
        for (int64_t i = 0; i < v->nx; i++)
          n += d[i + v->nx * (j + v->ny * k)] == label;
    }
  g_assert_cmpint (slices, >, 0);
  return (double) n * v->affine[0][0] * v->affine[1][1] / slices;
}

/* The population's proportions against real CT label maps (measured by
 * tests/phantom_realism.py, docs/phantom.md): population means must fall in the
 * ranges seen in the real patients.  Each check failed before the realism pass. */
static void
test_proportions (void)
{
  const int n_subj = 10;
  double spleen_ml = 0, liver_ml = 0, liver_si = 0, kidney_lr = 0, lung_over_liver = 0;
  double mus_ratio = 0;
  for (int s = 0; s < n_subj; s++)
    {
      g_autoptr (LabelVolume) v = gen (phantom_derive_seed (500, s), 128);
      double ml = v->affine[0][0] * v->affine[1][1] * v->affine[2][2] / 1000.0;
      double z0, z1, lz0, lz1, sp[3], lk[3], rk[3], heart[3];
      spleen_ml += label_count (v, LT_SPLEEN, &z0, &z1) * ml;
      liver_ml += label_count (v, LT_LIVER, &lz0, &lz1) * ml;
      liver_si += lz1 - lz0;
      label_count (v, LT_LUNG, &z0, &z1);
      lung_over_liver += z1 - lz1;
      g_assert_true (centroid (v, LT_SPINE, 0, 0, sp));
      g_assert_true (centroid (v, LT_KIDNEY, -1, sp[0], lk));
      g_assert_true (centroid (v, LT_KIDNEY, +1, sp[0], rk));
      g_assert_true (centroid (v, LT_HEART, 0, 0, heart));
      kidney_lr += rk[0] - lk[0];
      /* the erector spinae thicken from the thorax down to the loins */
      mus_ratio += cross_section (v, LT_AUTOCHTHON, 0.5 * (lk[2] + rk[2]))
                   / cross_section (v, LT_AUTOCHTHON, heart[2]);
    }
  spleen_ml /= n_subj;
  liver_ml /= n_subj;
  liver_si /= n_subj;
  kidney_lr /= n_subj;
  lung_over_liver /= n_subj;
  mus_ratio /= n_subj;
  g_test_message ("spleen %.0f mL, liver %.0f mL (SI %.0f mm), kidney centroids %.0f mm apart, "
                  "lung top %.0f mm above the liver top, autochthon loins / thorax %.2f",
                  spleen_ml, liver_ml, liver_si, kidney_lr, lung_over_liver, mus_ratio);
  g_assert_cmpfloat (spleen_ml, >, 150);        /* real 189-288 (and one 1100 mL splenomegaly) */
  g_assert_cmpfloat (spleen_ml, <, 350);
  g_assert_cmpfloat (liver_ml, >, 1450);        /* real 1460-2026; phantoms cut by the field of view count too */
  g_assert_cmpfloat (liver_ml, <, 2500);
  g_assert_cmpfloat (liver_si, >, 150);         /* real 173-200 */
  g_assert_cmpfloat (kidney_lr, >, 110);        /* real 107-157 */
  g_assert_cmpfloat (kidney_lr, <, 160);
  g_assert_cmpfloat (lung_over_liver, <, 215);  /* real 142, 195 */
  g_assert_cmpfloat (lung_over_liver, >, 130);
  g_assert_cmpfloat (mus_ratio, >, 1.5);        /* real about 4 (5 cm^2 at T7, 20 at L1-L2) */
}

static double
dice (const LabelVolume *a, const LabelVolume *b, int label)
{
  const guint8 *x = a->data, *y = b->data;
  gint64 na = 0, nb = 0, both = 0, n = lv_volume_n_voxels (a);
  for (gint64 i = 0; i < n; i++)
    {
      na += x[i] == label;
      nb += y[i] == label;
      both += x[i] == label && y[i] == label;
    }
  return na + nb > 0 ? 2.0 * both / (na + nb) : 1.0;
}

static void
test_subjects_differ (void)
{
  double sum[LT_N_CLASSES] = { 0 };
  int pairs = 8;
  for (int p = 0; p < pairs; p++)
    {
      g_autoptr (LabelVolume) a = gen (400 + 2 * p, 64);
      g_autoptr (LabelVolume) b = gen (401 + 2 * p, 64);
      for (int l = 1; l <= LT_N_ORGANS; l++)
        sum[l] += dice (a, b, l);
    }
  double all = 0;
  for (int l = 1; l <= LT_N_ORGANS; l++)
    {
      double m = sum[l] / pairs;
      g_test_message ("label %2d: mean Dice between different subjects %.3f", l, m);
      g_assert_cmpfloat (m, <, 0.85);
      all += m;
    }
  g_test_message ("mean over organs %.3f", all / LT_N_ORGANS);
  g_assert_cmpfloat (all / LT_N_ORGANS, <, 0.7);
}

static void
test_variation_zero (void)
{
  PhantomParams p;
  phantom_params_init (&p);
  p.grid[0] = p.grid[1] = p.grid[2] = 48;
  p.variation = 0;
  p.seed = 1;
  g_autoptr (LabelVolume) a = phantom_generate (&p, NULL);
  p.seed = 2;
  g_autoptr (LabelVolume) b = phantom_generate (&p, NULL);
  /* the mean anatomy does not depend on the seed */
  g_assert_cmpmem (a->data, lv_volume_n_voxels (a), b->data, lv_volume_n_voxels (b));
  p.variation = 1;
  g_autoptr (LabelVolume) c = phantom_generate (&p, NULL);
  g_assert_true (memcmp (b->data, c->data, lv_volume_n_voxels (b)) != 0);
}

static void
test_deterministic (void)
{
  g_autoptr (LabelVolume) a = gen (77, 128);
  g_autoptr (LabelVolume) b = gen (77, 128);
  g_assert_cmpmem (a->data, lv_volume_n_voxels (a), b->data, lv_volume_n_voxels (b));
  g_assert_cmpmem (a->affine, sizeof a->affine, b->affine, sizeof b->affine);

  /* ... and through the NIfTI writer, byte for byte */
  g_autoptr (GError) error = NULL;
  g_autofree char *dir = g_dir_make_tmp ("phantom-XXXXXX", &error);
  g_assert_no_error (error);
  g_autofree char *p1 = g_build_filename (dir, "a.nii.gz", NULL);
  g_autofree char *p2 = g_build_filename (dir, "b.nii.gz", NULL);
  g_assert_true (nifti_write (a, p1, NIFTI_WRITE_NIFTI1, &error));
  g_assert_no_error (error);
  g_assert_true (nifti_write (b, p2, NIFTI_WRITE_NIFTI1, &error));
  g_assert_no_error (error);
  g_autofree char *c1 = NULL, *c2 = NULL;
  gsize l1 = 0, l2 = 0;
  g_assert_true (g_file_get_contents (p1, &c1, &l1, NULL));
  g_assert_true (g_file_get_contents (p2, &c2, &l2, NULL));
  g_assert_cmpmem (c1, l1, c2, l2);
  g_test_message ("128^3 phantom: %" G_GSIZE_FORMAT " bytes gzipped", l1);
  g_autoptr (LabelVolume) r = nifti_read (p1, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpmem (r->data, lv_volume_n_voxels (r), a->data, lv_volume_n_voxels (a));
  char code[4];
  lv_volume_orientation (r, code);
  g_assert_cmpstr (code, ==, "RAS");
  g_unlink (p1);
  g_unlink (p2);
  g_rmdir (dir);

  /* different seeds differ */
  g_autoptr (LabelVolume) c = gen (78, 128);
  g_assert_true (memcmp (a->data, c->data, lv_volume_n_voxels (a)) != 0);
}

static void
test_partial (void)
{
  g_autoptr (LabelVolume) v = gen (9, 64);
  guint32 present = phantom_labels_present (v);
  g_assert_cmphex (present, ==, ((1u << 13) - 2u));
  int hist[PHANTOM_MAX_REMOVED + 2] = { 0 };
  int organ_hits[LT_N_CLASSES] = { 0 };
  for (guint64 s = 0; s < 400; s++)
    {
      guint32 m = phantom_draw_removal (present, s);
      int k = __builtin_popcount (m);
      g_assert_cmpint (k, >=, 1);
      g_assert_cmpint (k, <=, PHANTOM_MAX_REMOVED);
      g_assert_cmphex (m & ((1u << LT_SPINE) | (1u << LT_RIB_CAGE) | 1u), ==, 0);
      g_assert_cmphex (m & ~present, ==, 0);
      g_assert_cmphex (phantom_draw_removal (present, s), ==, m);
      hist[k]++;
      for (int l = 1; l <= LT_N_ORGANS; l++)
        organ_hits[l] += (m >> l) & 1;
    }
  /* every count from one to the maximum occurs, every soft organ gets removed */
  for (int k = 1; k <= PHANTOM_MAX_REMOVED; k++)
    g_assert_cmpint (hist[k], >, 0);
  for (int l = 1; l <= LT_N_ORGANS; l++)
    {
      if (l == LT_SPINE || l == LT_RIB_CAGE)
        g_assert_cmpint (organ_hits[l], ==, 0);
      else
        g_assert_cmpint (organ_hits[l], >, 20);
    }
  /* with only two soft organs present, at most one is removed */
  guint32 two = (1u << LT_SPINE) | (1u << LT_RIB_CAGE) | (1u << LT_LIVER) | (1u << LT_HEART);
  for (guint64 s = 0; s < 50; s++)
    g_assert_cmpint (__builtin_popcount (phantom_draw_removal (two, s)), ==, 1);

  for (guint64 s = 0; s < 5; s++)
    {
      guint32 m = 0, m2 = 0;
      g_autoptr (GError) error = NULL;
      g_autoptr (LabelVolume) p = phantom_make_partial (v, s, &m, &error);
      g_assert_no_error (error);
      g_autoptr (LabelVolume) p2 = phantom_make_partial (v, s, &m2, NULL);
      g_assert_cmphex (m, ==, m2);
      g_assert_cmpmem (p->data, lv_volume_n_voxels (p), p2->data, lv_volume_n_voxels (p2));
      g_assert_cmphex (phantom_labels_present (p), ==, present & ~m);
      const guint8 *a = v->data, *b = p->data;
      for (gint64 i = 0; i < lv_volume_n_voxels (v); i++)
        g_assert_cmpint (b[i], ==, (m >> a[i]) & 1 ? 0 : a[i]);
    }
}

/* The population-mean baseline: predict each removed organ where it is the
 * most frequent label over training subjects.  A population that varies too
 * little would let this trivial predictor score near 1. */
static void
test_population_mean_baseline (void)
{
  const int grid = 64, n_train = 20, n_test = 20;
  gint64 n = (gint64) grid * grid * grid;
  g_autofree guint16 *counts = g_new0 (guint16, n * LT_N_CLASSES);
  for (int s = 0; s < n_train; s++)
    {
      g_autoptr (LabelVolume) v = gen (phantom_derive_seed (1, s), grid);
      const guint8 *d = v->data;
      for (gint64 i = 0; i < n; i++)
        counts[i * LT_N_CLASSES + d[i]]++;
    }
  g_autofree guint8 *mode = g_new (guint8, n);
  for (gint64 i = 0; i < n; i++)
    {
      int best = 0;
      for (int l = 1; l < LT_N_CLASSES; l++)
        if (counts[i * LT_N_CLASSES + l] > counts[i * LT_N_CLASSES + best])
          best = l;
      mode[i] = (guint8) best;
    }
  double sum = 0, per[LT_N_CLASSES] = { 0 };
  int cnt = 0, per_n[LT_N_CLASSES] = { 0 };
  for (int s = 0; s < n_test; s++)
    {
      guint64 seed = phantom_derive_seed (2, s);
      g_autoptr (LabelVolume) v = gen (seed, grid);
      guint32 m = 0;
      g_autoptr (LabelVolume) part = phantom_make_partial (v, seed, &m, NULL);
      const guint8 *d = v->data, *q = part->data;
      for (int l = 1; l <= LT_N_ORGANS; l++)
        {
          if (!((m >> l) & 1))
            continue;
          /* the baseline fills background voxels of the partial volume */
          gint64 a = 0, b = 0, both = 0;
          for (gint64 i = 0; i < n; i++)
            {
              gboolean pred = q[i] == 0 && mode[i] == l, ref = d[i] == l;
              a += pred;
              b += ref;
              both += pred && ref;
            }
          double dsc = a + b ? 2.0 * both / (a + b) : 1.0;
          sum += dsc;
          cnt++;
          per[l] += dsc;
          per_n[l]++;
        }
    }
  for (int l = 1; l <= LT_N_ORGANS; l++)
    if (per_n[l])
      g_test_message ("baseline Dice label %2d: %.3f (%d removals)", l, per[l] / per_n[l], per_n[l]);
  g_test_message ("population-mean baseline: removed-organ Dice %.3f over %d removals", sum / cnt, cnt);
  g_assert_cmpfloat (sum / cnt, <, 0.8);
  g_assert_cmpfloat (sum / cnt, >, 0.1);   /* but the organs are where anatomy says */
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/phantom/labels-and-geometry", test_labels_and_geometry);
  g_test_add_func ("/phantom/anisotropic-grid", test_anisotropic_grid);
  g_test_add_func ("/phantom/invalid-params", test_invalid_params);
  g_test_add_func ("/phantom/connectivity", test_connectivity);
  g_test_add_func ("/phantom/diaphragm-separates", test_diaphragm_separates);
  g_test_add_func ("/phantom/anatomical-relations", test_anatomical_relations);
  g_test_add_func ("/phantom/proportions", test_proportions);
  g_test_add_func ("/phantom/subjects-differ", test_subjects_differ);
  g_test_add_func ("/phantom/variation-zero", test_variation_zero);
  g_test_add_func ("/phantom/deterministic", test_deterministic);
  g_test_add_func ("/phantom/partial", test_partial);
  g_test_add_func ("/phantom/population-mean-baseline", test_population_mean_baseline);
  return g_test_run ();
}
