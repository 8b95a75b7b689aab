/* test-metrics.c: per-label Dice and volumes against hand-computed values. */
#include "metrics.h"

#include <math.h>
#include <string.h>
#include "test-util.h"

static LabelVolume *
volume_from (const int32_t *labels, int64_t nx, int64_t ny, int64_t nz, const double sp[3], int bpv)
{
  g_autoptr (GError) error = NULL;
  LabelVolume *v = lv_volume_new (nx, ny, nz, sp, bpv, &error);
  g_assert_no_error (error);
  for (int64_t i = 0; i < nx * ny * nz; i++)
    lv_volume_set_index (v, i, labels[i]);
  return v;
}

/* 4x3x2 voxels of 2 x 1 x 1 mm (0.002 mL each).  By hand, voxel indices:
 *   label 1: reference {1,2,3,13,14}, test {1,2,12,13,14}, both {1,2,13,14}
 *            -> Dice 2*4/(5+5) = 0.8
 *   label 2: reference {4,5,16}, test {4,16,17,18}, both {4,16} -> Dice 4/7
 *   label 3: reference {8}, test {} -> Dice 0
 *   label 4: reference {}, test {10} -> Dice 0
 *   label 0: 15 and 14 voxels, 11 in both -> Dice 22/29 */
static const int32_t ref_labels[24] = { 0, 1, 1, 1, 2, 2, 0, 0, 3, 0, 0, 0,
                                        0, 1, 1, 0, 2, 0, 0, 0, 0, 0, 0, 0 };
static const int32_t test_labels[24] = { 0, 1, 1, 0, 2, 0, 0, 0, 0, 0, 4, 0,
                                         1, 1, 1, 0, 2, 2, 2, 0, 0, 0, 0, 0 };

static void
test_hand_computed (void)
{
  const double sp[3] = { 2.0, 1.0, 1.0 };
  g_autoptr (LabelVolume) r = volume_from (ref_labels, 4, 3, 2, sp, 1);
  /* a different storage width must not matter */
  g_autoptr (LabelVolume) t = volume_from (test_labels, 4, 3, 2, sp, 2);
  g_autoptr (GError) error = NULL;
  int32_t n = 0;
  g_autofree MetricsLabel *m = metrics_compare (r, t, &n, &error);
  g_assert_no_error (error);
  g_assert_cmpint (n, ==, 5);

  g_assert_cmpint (m[1].n_reference, ==, 5);
  g_assert_cmpint (m[1].n_test, ==, 5);
  g_assert_cmpint (m[1].n_both, ==, 4);
  g_assert_cmpfloat_with_epsilon (m[1].dice, 0.8, 1e-12);
  g_assert_cmpfloat_with_epsilon (m[1].ml_reference, 0.010, 1e-12);
  g_assert_cmpfloat_with_epsilon (m[1].ml_test, 0.010, 1e-12);

  g_assert_cmpint (m[2].n_reference, ==, 3);
  g_assert_cmpint (m[2].n_test, ==, 4);
  g_assert_cmpint (m[2].n_both, ==, 2);
  g_assert_cmpfloat_with_epsilon (m[2].dice, 4.0 / 7.0, 1e-12);
  g_assert_cmpfloat_with_epsilon (m[2].ml_reference, 0.006, 1e-12);
  g_assert_cmpfloat_with_epsilon (m[2].ml_test, 0.008, 1e-12);

  g_assert_cmpfloat (m[3].dice, ==, 0.0);
  g_assert_cmpint (m[3].n_reference, ==, 1);
  g_assert_cmpfloat (m[4].dice, ==, 0.0);
  g_assert_cmpint (m[4].n_test, ==, 1);
  g_assert_cmpfloat_with_epsilon (m[0].dice, 22.0 / 29.0, 1e-12);

  /* the definition, label by label, agrees */
  int32_t n2 = 0;
  g_autofree MetricsLabel *m2 = metrics_compare_ref (r, t, &n2, &error);
  g_assert_no_error (error);
  g_assert_cmpint (n2, ==, n);
  for (int32_t l = 0; l < n; l++)
    {
      g_assert_cmpint (m2[l].n_reference, ==, m[l].n_reference);
      g_assert_cmpint (m2[l].n_test, ==, m[l].n_test);
      g_assert_cmpint (m2[l].n_both, ==, m[l].n_both);
    }

  /* a map against itself: Dice 1 for every label present */
  g_autofree MetricsLabel *self = metrics_compare (r, r, &n2, &error);
  g_assert_cmpint (n2, ==, 4);
  for (int32_t l = 0; l < n2; l++)
    g_assert_cmpfloat (self[l].dice, ==, 1.0);
}

static void
test_absent_label (void)
{
  const double sp[3] = { 1.0, 1.0, 1.0 };
  const int32_t a[4] = { 0, 2, 2, 0 }, b[4] = { 2, 2, 0, 0 };
  g_autoptr (LabelVolume) r = volume_from (a, 2, 2, 1, sp, 1);
  g_autoptr (LabelVolume) t = volume_from (b, 2, 2, 1, sp, 1);
  int32_t n = 0;
  g_autofree MetricsLabel *m = metrics_compare (r, t, &n, NULL);
  g_assert_cmpint (n, ==, 3);
  g_assert_true (isnan (m[1].dice));         /* in neither map: undefined */
  g_assert_cmpfloat_with_epsilon (m[2].dice, 0.5, 1e-12);
  g_assert_true (isnan (metrics_dice (0, 0, 0)));
  g_assert_cmpfloat (metrics_dice (3, 1, 1), ==, 0.5);
}

static void
test_grid_mismatch (void)
{
  const double sp[3] = { 1.0, 1.0, 1.0 };
  g_autoptr (LabelVolume) r = lv_volume_new (4, 3, 2, sp, 1, NULL);
  g_autoptr (LabelVolume) t = lv_volume_new (4, 2, 3, sp, 1, NULL);
  g_autoptr (GError) error = NULL;
  int32_t n = 0;
  g_assert_null (metrics_compare (r, t, &n, &error));
  g_assert_error (error, METRICS_ERROR, METRICS_ERROR_GRID);
  g_assert_nonnull (strstr (error->message, "4x3x2"));
}

static void
random_against_definition (int bpv_reference, int bpv_test)
{
  const double sp[3] = { 0.7, 1.3, 2.1 };
  const int64_t nx = 13, ny = 7, nz = 5, nv = nx * ny * nz;
  g_autofree int32_t *la = g_new (int32_t, nv), *lb = g_new (int32_t, nv);
  GRand *rng = g_rand_new_with_seed (7);
  for (int64_t i = 0; i < nv; i++)
    {
      la[i] = g_rand_int_range (rng, 0, 9);
      lb[i] = g_rand_boolean (rng) ? la[i] : g_rand_int_range (rng, 0, 11);
    }
  g_rand_free (rng);
  g_autoptr (LabelVolume) r = volume_from (la, nx, ny, nz, sp, bpv_reference);
  g_autoptr (LabelVolume) t = volume_from (lb, nx, ny, nz, sp, bpv_test);
  int32_t n = 0, n2 = 0;
  g_autofree MetricsLabel *m = metrics_compare (r, t, &n, NULL);
  g_autofree MetricsLabel *m2 = metrics_compare_ref (r, t, &n2, NULL);
  g_assert_cmpint (n, ==, n2);
  int64_t sum_r = 0, sum_t = 0;
  for (int32_t l = 0; l < n; l++)
    {
      g_assert_cmpint (m[l].n_both, ==, m2[l].n_both);
      g_assert_cmpint (m[l].n_reference, ==, m2[l].n_reference);
      g_assert_cmpint (m[l].n_test, ==, m2[l].n_test);
      g_assert_true (isnan (m[l].dice) ? isnan (m2[l].dice) : m[l].dice == m2[l].dice);
      sum_r += m[l].n_reference;
      sum_t += m[l].n_test;
    }
  g_assert_cmpint (sum_r, ==, nv);
  g_assert_cmpint (sum_t, ==, nv);
}

/* odd shape, many labels: the generic path (int32 against uint8) and the uint8 one */
static void
test_random_against_definition (void)
{
  random_against_definition (4, 1);
  random_against_definition (1, 2);
  random_against_definition (1, 1);
}

static const TestCase test_cases[] = {
  { "/metrics/hand-computed", test_hand_computed },
  { "/metrics/absent-label", test_absent_label },
  { "/metrics/grid-mismatch", test_grid_mismatch },
  { "/metrics/random", test_random_against_definition },
};

TEST_UTIL_MAIN (test_cases)
