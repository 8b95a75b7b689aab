/* test-atlas.c: the removal plan of evaluations and multi-atlas transfer (atlas.h) on
 * phantoms. */
#include "atlas.h"
#include "label-table.h"
#include "metrics.h"
#include "organ-metrics.h"
#include "phantom.h"
#include "removal-plan.h"
#include "surface-distance.h"

#include <math.h>
#include <string.h>
#include "test-util.h"

#define BIT(l) (1u << (l))

/* ---- removal plan ---- */

/* a 10x10x10 map of 2 mm voxels (8 uL each) with @voxels[l] voxels of each class */
static LabelVolume *
counted_volume (const int *voxels)
{
  double sp[3] = { 10, 10, 10 };   /* 1 mL per voxel */
  LabelVolume *v = lv_volume_new (20, 20, 20, sp, 1, NULL);
  int64_t q = 0;
  for (int l = 1; l < REMOVAL_PLAN_N_CLASSES; l++)
    for (int i = 0; i < voxels[l]; i++)
      lv_volume_set_index (v, q++, l);
  return v;
}

static void
test_plan_present (void)
{
  /* 1 mL per voxel: 5 voxels reach 5 mL, 4 do not */
  int voxels[REMOVAL_PLAN_N_CLASSES] = { 0, 5, 4, 100, 0, 6, 50, 50, 200, 30, 10, 40, 0 };
  g_autoptr (LabelVolume) v = counted_volume (voxels);
  int64_t counts[REMOVAL_PLAN_N_CLASSES];
  guint32 present = removal_plan_present (v, REMOVAL_PLAN_MIN_ML, counts);
  g_assert_cmpint (counts[2], ==, 4);
  g_assert_cmpint (counts[8], ==, 200);
  g_assert_cmpint (counts[0], ==, 8000 - 495);
  guint32 want = BIT (1) | BIT (3) | BIT (5) | BIT (6) | BIT (7) | BIT (8) | BIT (9) | BIT (10) | BIT (11);
  g_assert_cmphex (present, ==, want);
  g_assert_cmphex (removal_plan_present (v, 0.5, counts), ==, want | BIT (2));
}

static void
test_plan_make (void)
{
  /* everything present: 10 soft organs alone, then the three triples */
  guint32 all = (1u << 13) - 2u;
  g_autoptr (GArray) p = removal_plan_make (all);
  g_assert_cmpuint (p->len, ==, 13);
  const int singles[] = { 1, 2, 3, 4, 5, 8, 9, 10, 11, 12 };
  for (int i = 0; i < 10; i++)
    {
      g_assert_cmphex (g_array_index (p, guint32, i), ==, BIT (singles[i]));
      g_assert_false (removal_plan_is_triple (g_array_index (p, guint32, i)));
    }
  g_assert_cmphex (g_array_index (p, guint32, 10), ==, BIT (3) | BIT (8) | BIT (9));
  g_assert_cmphex (g_array_index (p, guint32, 11), ==, BIT (2) | BIT (10) | BIT (12));
  g_assert_cmphex (g_array_index (p, guint32, 12), ==, BIT (3) | BIT (4) | BIT (5));
  for (int i = 10; i < 13; i++)
    g_assert_true (removal_plan_is_triple (g_array_index (p, guint32, i)));
  /* deterministic: the same again */
  g_autoptr (GArray) p2 = removal_plan_make (all);
  g_assert_cmpmem (p->data, p->len * sizeof (guint32), p2->data, p2->len * sizeof (guint32));

  /* no pulmonary artery (the real files): no heart triple; spine and rib cage never removed */
  guint32 real = all & ~BIT (12);
  g_autoptr (GArray) q = removal_plan_make (real);
  g_assert_cmpuint (q->len, ==, 9 + 2);
  for (guint i = 0; i < q->len; i++)
    {
      guint32 m = g_array_index (q, guint32, i);
      g_assert_cmphex (m & (BIT (6) | BIT (7) | BIT (12)), ==, 0);
      g_assert_cmphex (m & ~real, ==, 0);
    }
  g_assert_cmphex (g_array_index (q, guint32, 9), ==, BIT (3) | BIT (8) | BIT (9));
  g_assert_cmphex (g_array_index (q, guint32, 10), ==, BIT (3) | BIT (4) | BIT (5));

  /* AMOS-like: six abdominal organs, no anchor */
  guint32 amos = BIT (3) | BIT (4) | BIT (5) | BIT (8) | BIT (9) | BIT (10);
  g_autoptr (GArray) r = removal_plan_make (amos);
  g_assert_cmpuint (r->len, ==, 6 + 2);

  /* one organ alone: removing it would leave nothing */
  g_autoptr (GArray) e = removal_plan_make (BIT (8));
  g_assert_cmpuint (e->len, ==, 0);
  /* only the triple: removing it would leave nothing, the singles remain */
  g_autoptr (GArray) t = removal_plan_make (BIT (3) | BIT (8) | BIT (9));
  g_assert_cmpuint (t->len, ==, 3);

  g_autofree char *n1 = removal_plan_dup_name (BIT (3) | BIT (8) | BIT (9));
  g_assert_cmpstr (n1, ==, "spleen+liver+kidney");
  g_autofree char *n2 = removal_plan_dup_name (BIT (12));
  g_assert_cmpstr (n2, ==, "pulmonary artery");
}

static void
test_plan_apply (void)
{
  int voxels[REMOVAL_PLAN_N_CLASSES] = { 0, 5, 4, 100, 0, 6, 50, 50, 200, 30, 10, 40, 0 };
  g_autoptr (LabelVolume) v = counted_volume (voxels);
  g_autoptr (LabelVolume) p = removal_plan_apply (v, BIT (3) | BIT (8));
  int64_t counts[REMOVAL_PLAN_N_CLASSES];
  removal_plan_present (p, 5.0, counts);
  g_assert_cmpint (counts[3], ==, 0);
  g_assert_cmpint (counts[8], ==, 0);
  g_assert_cmpint (counts[9], ==, 30);
  g_assert_cmpint (counts[0], ==, 8000 - 495 + 300);
}

/* ---- atlas ---- */

static LabelVolume *
make_phantom (guint64 seed, int grid, double spacing)
{
  PhantomParams pp;
  phantom_params_init (&pp);
  pp.seed = seed;
  pp.grid[0] = pp.grid[1] = pp.grid[2] = grid;
  pp.spacing[0] = pp.spacing[1] = pp.spacing[2] = spacing;
  g_autoptr (GError) error = NULL;
  LabelVolume *v = phantom_generate (&pp, &error);
  g_assert_no_error (error);
  return v;
}

/* @v's world moved by x -> s R_z(deg) x + t */
static void
move_world (LabelVolume *v, double s, double deg, const double t[3])
{
  double c = cos (deg * G_PI / 180.0), sn = sin (deg * G_PI / 180.0);
  double R[3][3] = { { c, -sn, 0 }, { sn, c, 0 }, { 0, 0, 1 } }, a[4][4] = { { 0 } };
  for (int i = 0; i < 3; i++)
    {
      for (int j = 0; j < 4; j++)
        {
          double sum = 0.0;
          for (int k = 0; k < 3; k++)
            sum += R[i][k] * v->affine[k][j];
          a[i][j] = s * sum;
        }
      a[i][3] += t[i];
    }
  a[3][3] = 1.0;
  lv_volume_set_affine (v, a);
}

static double
dice_of (const LabelVolume *a, const LabelVolume *b, int l)
{
  int64_t na = 0, nb = 0, both = 0, n = lv_volume_n_voxels (a);
  for (int64_t q = 0; q < n; q++)
    {
      gboolean x = lv_volume_get_index (a, q) == l, y = lv_volume_get_index (b, q) == l;
      na += x;
      nb += y;
      both += x && y;
    }
  return metrics_dice (na, nb, both);
}

/* the output keeps every labelled voxel of the input and adds only organs of @allowed */
static void
assert_merge_rule (const LabelVolume *in, const LabelVolume *out, guint32 allowed)
{
  int64_t n = lv_volume_n_voxels (in);
  for (int64_t q = 0; q < n; q++)
    {
      int32_t a = lv_volume_get_index (in, q), b = lv_volume_get_index (out, q);
      if (a != 0)
        g_assert_cmpint (a, ==, b);
      else if (b != 0)
        g_assert_true (b < 32 && (allowed & BIT (b)));
    }
}

/* The case's own voxels under a scaled and shifted affine: the fit must find the inverse
 * and the removed organs come back almost exactly. */
static void
test_atlas_scaled_copy (void)
{
  g_autoptr (LabelVolume) truth = make_phantom (11, 64, 6.0);
  g_autoptr (LabelVolume) atlas = lv_volume_dup (truth);
  const double t[3] = { 23.0, -17.0, 41.0 };
  move_world (atlas, 1.12, 0.0, t);
  g_autoptr (GError) error = NULL;
  g_autoptr (AtlasSubject) as = atlas_subject_new (atlas, ATLAS_MIN_ML, &error);
  g_assert_no_error (error);
  AtlasSubject *list[1] = { as };

  const guint32 removals[] = { BIT (LT_LIVER), BIT (LT_SPLEEN) | BIT (LT_LIVER) | BIT (LT_KIDNEY),
                               BIT (LT_HEART) };
  for (gsize r = 0; r < G_N_ELEMENTS (removals); r++)
    {
      g_autoptr (LabelVolume) in = removal_plan_apply (truth, removals[r]);
      AtlasOptions opt;
      atlas_options_init (&opt);
      opt.n_threads = 2;
      for (int l = 1; l < ATLAS_N_CLASSES; l++)
        opt.selected[l] = (removals[r] >> l) & 1u;
      AtlasFit fit;
      int64_t added[ATLAS_N_CLASSES];
      g_autoptr (LabelVolume) out = atlas_complete (in, list, 1, &opt, &fit, added, NULL, &error);
      g_assert_no_error (error);
      g_assert_true (fit.used);
      g_assert_cmpint (fit.transform, ==, ATLAS_TRANSFORM_SIMILARITY);
      g_assert_cmpfloat_with_epsilon (fit.scale, 1.12, 0.02);
      assert_merge_rule (in, out, removals[r]);
      for (int l = 1; l < ATLAS_N_CLASSES; l++)
        if ((removals[r] >> l) & 1u)
          {
            double d = dice_of (out, truth, l);
            if (g_test_verbose ())
              g_test_message ("removal %zu organ %d: Dice %.4f, scale %.4f, rms %.2f mm, %d iterations", r, l, d,
                              fit.scale, fit.rms_mm, fit.n_iterations);
            g_assert_cmpfloat (d, >, 0.9);
            g_assert_cmpint (added[l], >, 0);
          }
    }
}

/* Another grid of the same body, rotated 8 degrees, scaled and shifted: the transform is
 * recovered and the organ transferred through two resamplings. */
static void
test_atlas_resampled_rotated (void)
{
  g_autoptr (LabelVolume) truth = make_phantom (5, 64, 6.0);
  g_autoptr (LabelVolume) atlas = make_phantom (5, 56, 7.0);
  const double t[3] = { -12.0, 30.0, -25.0 };
  const double s = 0.93, deg = 8.0;
  move_world (atlas, s, deg, t);
  g_autoptr (GError) error = NULL;
  g_autoptr (AtlasSubject) as = atlas_subject_new (atlas, ATLAS_MIN_ML, &error);
  g_assert_no_error (error);
  g_autoptr (AtlasSubject) is = atlas_subject_new (truth, ATLAS_MIN_ML, &error);
  g_assert_no_error (error);
  for (int tr = ATLAS_TRANSFORM_SIMILARITY; tr <= ATLAS_TRANSFORM_AFFINE; tr++)
    {
      AtlasOptions opt;
      atlas_options_init (&opt);
      opt.transform = (AtlasTransform) tr;
      AtlasFit fit;
      g_assert_true (atlas_fit (is, as, ~BIT (LT_LIVER), &opt, &fit, &error));
      g_assert_no_error (error);
      g_assert_cmpint (fit.transform, ==, tr);
      /* world point x of the input lies at s R x + t in the atlas */
      double c = cos (deg * G_PI / 180.0), sn = sin (deg * G_PI / 180.0);
      double R[3][3] = { { c, -sn, 0 }, { sn, c, 0 }, { 0, 0, 1 } }, worst = 0.0;
      for (int corner = 0; corner < 8; corner++)
        {
          double x[3] = { corner & 1 ? 100 : -100, corner & 2 ? 80 : -80, corner & 4 ? 150 : -150 };
          for (int i = 0; i < 3; i++)
            {
              double want = s * (R[i][0] * x[0] + R[i][1] * x[1] + R[i][2] * x[2]) + t[i];
              double got = fit.input_to_atlas[i][0] * x[0] + fit.input_to_atlas[i][1] * x[1]
                           + fit.input_to_atlas[i][2] * x[2] + fit.input_to_atlas[i][3];
              worst = MAX (worst, fabs (want - got));
            }
        }
      if (g_test_verbose ())
        g_test_message ("transform %d: worst corner error %.2f mm, scale %.4f, rms %.2f mm", tr, worst, fit.scale,
                        fit.rms_mm);
      g_assert_cmpfloat (worst, <, 6.0);
    }

  g_autoptr (LabelVolume) in = removal_plan_apply (truth, BIT (LT_LIVER) | BIT (LT_STOMACH));
  AtlasOptions opt;
  atlas_options_init (&opt);
  AtlasSubject *list[1] = { as };
  g_autoptr (LabelVolume) out = atlas_complete (in, list, 1, &opt, NULL, NULL, NULL, &error);
  g_assert_no_error (error);
  assert_merge_rule (in, out, BIT (LT_LIVER) | BIT (LT_STOMACH));
  double d = dice_of (out, truth, LT_LIVER);
  if (g_test_verbose ())
    g_test_message ("liver through a resampled rotated atlas: Dice %.4f", d);
  g_assert_cmpfloat (d, >, 0.85);
}

/* The k-d tree against its brute-force twin: the same fits (equidistant points on the voxel
 * grid may pair differently, so the transforms agree to a fraction of a millimetre). */
static void
test_atlas_search_twin (void)
{
  g_autoptr (LabelVolume) truth = make_phantom (9, 48, 8.0);
  g_autoptr (LabelVolume) atlas = make_phantom (10, 40, 9.5);
  const double t[3] = { 8.0, -6.0, 20.0 };
  move_world (atlas, 1.04, -5.0, t);
  g_autoptr (GError) error = NULL;
  g_autoptr (AtlasSubject) as = atlas_subject_new (atlas, ATLAS_MIN_ML, &error);
  g_autoptr (AtlasSubject) is = atlas_subject_new (truth, ATLAS_MIN_ML, &error);
  g_assert_no_error (error);
  AtlasOptions opt;
  atlas_options_init (&opt);
  AtlasFit fast, slow;
  g_assert_true (atlas_fit (is, as, ~BIT (LT_STOMACH), &opt, &fast, &error));
  opt.reference_search = TRUE;
  g_assert_true (atlas_fit (is, as, ~BIT (LT_STOMACH), &opt, &slow, &error));
  g_assert_no_error (error);
  double worst = 0.0;
  for (int corner = 0; corner < 8; corner++)
    {
      double x[3] = { corner & 1 ? 150 : -150, corner & 2 ? 120 : -120, corner & 4 ? 200 : -200 };
      for (int i = 0; i < 3; i++)
        {
          double a = 0.0, b = 0.0;
          for (int j = 0; j < 3; j++)
            {
              a += fast.input_to_atlas[i][j] * x[j];
              b += slow.input_to_atlas[i][j] * x[j];
            }
          worst = MAX (worst, fabs (a + fast.input_to_atlas[i][3] - b - slow.input_to_atlas[i][3]));
        }
    }
  if (g_test_verbose ())
    g_test_message ("k-d tree vs brute force: %d vs %d pairs, rms %.4f vs %.4f mm, worst corner %.4f mm",
                    fast.n_pairs, slow.n_pairs, fast.rms_mm, slow.rms_mm, worst);
  g_assert_cmpint (fast.n_shared, ==, slow.n_shared);
  g_assert_cmpfloat (fabs (fast.rms_mm - slow.rms_mm), <, 0.05);
  g_assert_cmpfloat (worst, <, 0.5);
}

/* An atlas whose liver covers half the body never overwrites the input's organs, adds
 * only the selected organ, and a majority of atlases decides. */
static void
test_atlas_never_overwrites (void)
{
  g_autoptr (LabelVolume) truth = make_phantom (21, 48, 8.0);
  g_autoptr (LabelVolume) fat = lv_volume_dup (truth);
  int64_t n = lv_volume_n_voxels (fat);
  for (int64_t q = 0; q < n; q++)
    {
      int64_t i = q % fat->nx;
      int32_t l = lv_volume_get_index (fat, q);
      /* the patient's right half: everything but the anchor organs becomes liver */
      if (i < fat->nx / 2 && l != LT_SPINE && l != LT_RIB_CAGE && l != LT_LUNG && l != LT_AUTOCHTHON)
        lv_volume_set_index (fat, q, LT_LIVER);
    }
  g_autoptr (GError) error = NULL;
  g_autoptr (AtlasSubject) fs = atlas_subject_new (fat, ATLAS_MIN_ML, &error);
  g_assert_no_error (error);
  g_autoptr (AtlasSubject) ts = atlas_subject_new (truth, ATLAS_MIN_ML, &error);
  g_assert_no_error (error);
  guint32 rm = BIT (LT_LIVER) | BIT (LT_KIDNEY);
  g_autoptr (LabelVolume) in = removal_plan_apply (truth, rm);
  AtlasOptions opt;
  atlas_options_init (&opt);
  opt.selected[LT_LIVER] = TRUE;   /* kidney missing too, but not selected */
  opt.keep_fragments = TRUE;
  {
    AtlasSubject *list[1] = { fs };
    g_autoptr (LabelVolume) out = atlas_complete (in, list, 1, &opt, NULL, NULL, NULL, &error);
    g_assert_no_error (error);
    assert_merge_rule (in, out, BIT (LT_LIVER));
    /* it did add liver, much more than the true one */
    int64_t added = 0, liver = 0;
    for (int64_t q = 0; q < n; q++)
      {
        added += lv_volume_get_index (out, q) == LT_LIVER;
        liver += lv_volume_get_index (truth, q) == LT_LIVER;
      }
    g_assert_cmpint (added, >, 2 * liver);
  }
  {
    /* two sound atlases outvote the fat one */
    AtlasSubject *list[3] = { fs, ts, ts };
    AtlasFit fits[3];
    g_autoptr (LabelVolume) out = atlas_complete (in, list, 3, &opt, fits, NULL, NULL, &error);
    g_assert_no_error (error);
    assert_merge_rule (in, out, BIT (LT_LIVER));
    g_assert_cmpfloat (dice_of (out, truth, LT_LIVER), >, 0.9);
    for (int a = 0; a < 3; a++)
      g_assert_true (fits[a].used);
  }
  /* nothing selected: every organ absent from the input may be added */
  memset (opt.selected, 0, sizeof opt.selected);
  {
    AtlasSubject *list[1] = { ts };
    g_autoptr (LabelVolume) out = atlas_complete (in, list, 1, &opt, NULL, NULL, NULL, &error);
    g_assert_no_error (error);
    assert_merge_rule (in, out, rm | BIT (LT_PULMONARY_ARTERY));
    g_assert_cmpfloat (dice_of (out, truth, LT_KIDNEY), >, 0.9);
  }
}

/* Two shared organs: translation + isotropic scale only; no shared organ: the atlas is left out. */
static void
test_atlas_few_organs (void)
{
  g_autoptr (LabelVolume) truth = make_phantom (8, 48, 8.0);
  /* keep only liver, kidney and spleen */
  g_autoptr (LabelVolume) small = removal_plan_apply (truth, ((1u << 13) - 2u) & ~(BIT (3) | BIT (8) | BIT (9)));
  g_autoptr (LabelVolume) atlas = lv_volume_dup (small);
  const double t[3] = { 5.0, -9.0, 14.0 };
  move_world (atlas, 1.05, 0.0, t);
  g_autoptr (GError) error = NULL;
  g_autoptr (AtlasSubject) as = atlas_subject_new (atlas, ATLAS_MIN_ML, &error);
  g_assert_no_error (error);
  g_autoptr (LabelVolume) in = removal_plan_apply (small, BIT (LT_SPLEEN));
  AtlasOptions opt;
  atlas_options_init (&opt);
  opt.selected[LT_SPLEEN] = TRUE;
  AtlasSubject *list[1] = { as };
  AtlasFit fit;
  g_autoptr (LabelVolume) out = atlas_complete (in, list, 1, &opt, &fit, NULL, NULL, &error);
  g_assert_no_error (error);
  g_assert_true (fit.used);
  g_assert_cmpint (fit.n_shared, ==, 2);
  g_assert_cmpint (fit.transform, ==, ATLAS_TRANSFORM_TRANSLATION_SCALE);
  g_assert_cmpfloat_with_epsilon (fit.scale, 1.05, 0.03);
  assert_merge_rule (in, out, BIT (LT_SPLEEN));
  g_assert_cmpfloat (dice_of (out, small, LT_SPLEEN), >, 0.8);

  /* an atlas holding only the missing organ shares nothing with the input */
  g_autoptr (LabelVolume) only = removal_plan_apply (atlas, BIT (LT_LIVER) | BIT (LT_KIDNEY));
  g_autoptr (AtlasSubject) os = atlas_subject_new (only, ATLAS_MIN_ML, &error);
  g_assert_no_error (error);
  AtlasSubject *list2[1] = { os };
  g_autoptr (LabelVolume) out2 = atlas_complete (in, list2, 1, &opt, &fit, NULL, NULL, &error);
  g_assert_no_error (error);
  g_assert_false (fit.used);
  g_assert_cmpmem (out2->data, lv_volume_n_voxels (in), in->data, lv_volume_n_voxels (in));

  /* cancelled before it starts */
  g_autoptr (GCancellable) cancel = g_cancellable_new ();
  g_cancellable_cancel (cancel);
  g_assert_null (atlas_complete (in, list, 1, &opt, NULL, NULL, cancel, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_clear_error (&error);

  /* an empty label map is no atlas */
  g_autoptr (LabelVolume) empty = lv_volume_new_like (truth, 1);
  g_assert_null (atlas_subject_new (empty, ATLAS_MIN_ML, &error));
  g_assert_error (error, ATLAS_ERROR, ATLAS_ERROR_INPUT);
}

/* ---- surface distance ---- */

/* HD95 by the definition: every boundary voxel, every pair (reference for the test) */
static double
hd95_ref (const LabelVolume *a, const LabelVolume *b, int l)
{
  GArray *pa = g_array_new (FALSE, FALSE, sizeof (double) * 3), *pb = g_array_new (FALSE, FALSE, sizeof (double) * 3);
  for (int w = 0; w < 2; w++)
    {
      const LabelVolume *v = w ? b : a;
      for (int64_t k = 0; k < v->nz; k++)
        for (int64_t j = 0; j < v->ny; j++)
          for (int64_t i = 0; i < v->nx; i++)
            {
              if (lv_volume_get (v, i, j, k) != l)
                continue;
              int64_t nb[6][3] = { { i - 1, j, k }, { i + 1, j, k }, { i, j - 1, k }, { i, j + 1, k }, { i, j, k - 1 },
                                   { i, j, k + 1 } };
              gboolean edge = FALSE;
              for (int m = 0; m < 6; m++)
                edge |= nb[m][0] < 0 || nb[m][1] < 0 || nb[m][2] < 0 || nb[m][0] >= v->nx || nb[m][1] >= v->ny
                        || nb[m][2] >= v->nz || lv_volume_get (v, nb[m][0], nb[m][1], nb[m][2]) != l;
              if (!edge)
                continue;
              double x[3];
              for (int r = 0; r < 3; r++)
                x[r] = v->affine[r][0] * i + v->affine[r][1] * j + v->affine[r][2] * k + v->affine[r][3];
              g_array_append_val (w ? pb : pa, x);
            }
    }
  double worst = 0.0;
  for (int w = 0; w < 2; w++)
    {
      GArray *from = w ? pb : pa, *to = w ? pa : pb;
      g_autofree double *d = g_new (double, from->len);
      for (guint i = 0; i < from->len; i++)
        {
          const double *x = &g_array_index (from, double, 3 * i);
          double best = INFINITY;
          for (guint m = 0; m < to->len; m++)
            {
              const double *y = &g_array_index (to, double, 3 * m);
              best = MIN (best, (x[0] - y[0]) * (x[0] - y[0]) + (x[1] - y[1]) * (x[1] - y[1]) + (x[2] - y[2]) * (x[2] - y[2]));
            }
          d[i] = sqrt (best);
        }
      /* nearest rank: sort by insertion (small sets) */
      for (guint i = 1; i < from->len; i++)
        for (guint m = i; m > 0 && d[m - 1] > d[m]; m--)
          {
            double t = d[m];
            d[m] = d[m - 1];
            d[m - 1] = t;
          }
      guint rank = (guint) ceil (0.95 * from->len);
      worst = MAX (worst, d[rank - 1]);
    }
  g_array_unref (pa);
  g_array_unref (pb);
  return worst;
}

static void
test_surface_hd95 (void)
{
  /* two overlapping ellipsoids on an anisotropic, oblique grid */
  double sp[3] = { 1.5, 1.0, 2.5 };
  g_autoptr (LabelVolume) a = lv_volume_new (30, 34, 20, sp, 1, NULL);
  g_autoptr (LabelVolume) b = lv_volume_new (30, 34, 20, sp, 1, NULL);
  double aff[4][4] = { { 1.5, 0.1, 0, -20 }, { 0, 1.0, 0.2, 5 }, { 0.05, 0, 2.5, 30 }, { 0, 0, 0, 1 } };
  lv_volume_set_affine (a, aff);
  lv_volume_set_affine (b, aff);
  for (int k = 0; k < 20; k++)
    for (int j = 0; j < 34; j++)
      for (int i = 0; i < 30; i++)
        {
          double x = (i - 14) * 1.5, y = (j - 16) * 1.0, z = (k - 9) * 2.5;
          if (x * x / 225 + y * y / 100 + z * z / 300 < 1)
            lv_volume_set (a, i, j, k, 4);
          double x2 = x - 4, y2 = y + 2;
          if (x2 * x2 / 144 + y2 * y2 / 121 + z * z / 400 < 1)
            lv_volume_set (b, i, j, k, 4);
          /* label 7 touches the grid's face in a only */
          if (i < 4)
            lv_volume_set (a, i, j, k, 7);
          if (i > 0 && i < 4 && j > 2)
            lv_volume_set (b, i, j, k, 7);
        }
  g_autoptr (GError) error = NULL;
  g_autoptr (SurfacePoints) sa = surface_points_new (a, BIT (4) | BIT (7) | BIT (9), &error);
  g_autoptr (SurfacePoints) sb = surface_points_new (b, BIT (4) | BIT (7), &error);
  g_assert_no_error (error);
  for (int l = 4; l <= 7; l += 3)
    {
      double got = surface_distance_hd95 (sa, sb, l), want = hd95_ref (a, b, l);
      if (g_test_verbose ())
        g_test_message ("label %d: HD95 %.4f mm (reference %.4f), %d and %d surface voxels", l, got, want,
                        surface_points_get_count (sa, l), surface_points_get_count (sb, l));
      g_assert_cmpfloat_with_epsilon (got, want, 1e-4);
      g_assert_cmpfloat (got, >, 0.5);
      /* symmetric, and zero against itself */
      g_assert_cmpfloat_with_epsilon (surface_distance_hd95 (sb, sa, l), got, 1e-6);
      g_assert_cmpfloat (surface_distance_hd95 (sa, sa, l), ==, 0.0);
    }
  /* absent or not asked for: NAN */
  g_assert_true (isnan (surface_distance_hd95 (sa, sb, 9)));
  g_assert_true (isnan (surface_distance_hd95 (sa, sb, 5)));
  g_assert_cmpint (surface_points_get_count (sb, 9), ==, 0);
}

/* organ_metrics_compare: any label id (beyond the 31 of surface_points_new's mask), HD95
 * measured only where the voxels differ, against the definition; volume differences
 * against the counts; the CSV helpers. */
static void
test_organ_metrics (void)
{
  double sp[3] = { 1.5, 1.0, 2.5 };
  g_autoptr (LabelVolume) ref = lv_volume_new (26, 30, 18, sp, 2, NULL);
  g_autoptr (LabelVolume) test = lv_volume_new (26, 30, 18, sp, 2, NULL);
  double aff[4][4] = { { -1.5, 0.1, 0, 20 }, { 0, 1.0, 0.2, 5 }, { 0.05, 0, 2.5, -30 }, { 0, 0, 0, 1 } };
  lv_volume_set_affine (ref, aff);
  lv_volume_set_affine (test, aff);
  for (int k = 0; k < 18; k++)
    for (int j = 0; j < 30; j++)
      for (int i = 0; i < 26; i++)
        {
          double x = (i - 12) * 1.5, y = (j - 14) * 1.0, z = (k - 8) * 2.5;
          gboolean in40 = x * x / 100 + y * y / 64 + z * z / 225 < 1;
          gboolean in40s = (x - 3) * (x - 3) / 100 + (y + 2) * (y + 2) / 64 + z * z / 256 < 1;
          if (in40)
            lv_volume_set (ref, i, j, k, 40);
          if (in40s)
            lv_volume_set (test, i, j, k, 40);
          if (j >= 26)  /* a slab on the grid's face, the same in both */
            {
              lv_volume_set (ref, i, j, k, 117);
              lv_volume_set (test, i, j, k, 117);
            }
          if (i < 3 && j < 20)
            lv_volume_set (ref, i, j, k, 4);
          if (i < 4 && j < 18)
            lv_volume_set (test, i, j, k, 4);
          if (k == 0 && i > 20 && j < 5)
            lv_volume_set (ref, i, j, k, 300);  /* only in the reference */
        }
  g_autoptr (GError) error = NULL;
  int32_t n = 0;
  g_autofree OrganMetrics *om = organ_metrics_compare (ref, test, TRUE, &n, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpint (n, ==, 301);
  int32_t n2 = 0;
  g_autofree MetricsLabel *m = metrics_compare (ref, test, &n2, &error);
  g_assert_cmpint (n2, ==, n);
  double ml = lv_volume_voxel_mm3 (ref) / 1000.0;
  const int labels[] = { 4, 40, 117, 300 };
  for (gsize t = 0; t < G_N_ELEMENTS (labels); t++)
    {
      int l = labels[t];
      g_assert_cmpint (om[l].m.n_reference, ==, m[l].n_reference);
      g_assert_cmpint (om[l].m.n_both, ==, m[l].n_both);
      g_assert_cmpfloat_with_epsilon (om[l].ml_diff, (m[l].n_test - m[l].n_reference) * ml, 1e-9);
      g_assert_cmpfloat_with_epsilon (om[l].percent_diff, 100.0 * (m[l].n_test - m[l].n_reference) / m[l].n_reference,
                                      1e-9);
      double want = l == 300 ? NAN : hd95_ref (test, ref, l);
      if (g_test_verbose ())
        g_test_message ("label %d: HD95 %.4f mm (definition %.4f), dV %.3f mL (%.2f %%)", l, om[l].hd95_mm, want,
                        om[l].ml_diff, om[l].percent_diff);
      if (l == 300)
        g_assert_true (isnan (om[l].hd95_mm));
      else
        g_assert_cmpfloat_with_epsilon (om[l].hd95_mm, want, 1e-4);
    }
  g_assert_cmpfloat (om[117].hd95_mm, ==, 0.0);  /* same voxels: not measured, exactly 0 */
  g_assert_cmpfloat (om[40].hd95_mm, >, 1.0);
  g_assert_cmpfloat (om[300].percent_diff, ==, -100.0);
  g_assert_true (isnan (om[5].percent_diff) && isnan (om[5].hd95_mm) && isnan (om[5].m.dice));
  /* without HD95 */
  g_autofree OrganMetrics *om2 = organ_metrics_compare (ref, test, FALSE, &n, NULL, &error);
  g_assert_true (isnan (om2[40].hd95_mm) && isnan (om2[117].hd95_mm));
  /* a cancelled computation stops */
  g_autoptr (GCancellable) c = g_cancellable_new ();
  g_cancellable_cancel (c);
  g_assert_null (organ_metrics_compare (ref, test, TRUE, &n, c, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_clear_error (&error);

  g_autoptr (GString) csv = g_string_new (NULL);
  organ_metrics_csv_text (csv, "kidney");
  g_string_append_c (csv, ',');
  organ_metrics_csv_text (csv, "a,\"b\"");
  g_string_append_c (csv, ',');
  organ_metrics_csv_number (csv, NAN, 2);
  g_string_append_c (csv, ',');
  organ_metrics_csv_number (csv, -12.3456, 2);
  g_assert_cmpstr (csv->str, ==, "kidney,\"a,\"\"b\"\"\",,-12.35");
}

static const TestCase test_cases[] = {
  { "/removal-plan/present", test_plan_present },
  { "/removal-plan/make", test_plan_make },
  { "/removal-plan/apply", test_plan_apply },
  { "/atlas/scaled-copy", test_atlas_scaled_copy },
  { "/atlas/resampled-rotated", test_atlas_resampled_rotated },
  { "/atlas/search-twin", test_atlas_search_twin },
  { "/atlas/never-overwrites", test_atlas_never_overwrites },
  { "/atlas/few-organs", test_atlas_few_organs },
  { "/surface-distance/hd95", test_surface_hd95 },
  { "/organ-metrics/compare", test_organ_metrics },
};

TEST_UTIL_MAIN (test_cases)
