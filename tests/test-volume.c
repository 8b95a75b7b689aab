/* test-volume.c: the label volume type. */
#include "label-volume.h"

#include <string.h>
#include "test-util.h"

static void
test_new_and_access (void)
{
  const double sp[3] = { 0.5, 2.0, 3.0 };
  g_autoptr (GError) error = NULL;
  g_autoptr (LabelVolume) v = lv_volume_new (23, 17, 11, sp, 1, &error);
  g_assert_no_error (error);
  g_assert_cmpint (lv_volume_n_voxels (v), ==, 23 * 17 * 11);
  g_assert_cmpfloat (v->affine[1][1], ==, 2.0);
  lv_volume_set (v, 22, 16, 10, 200);
  g_assert_cmpint (lv_volume_get (v, 22, 16, 10), ==, 200);
  g_assert_cmpint (lv_volume_get_index (v, 23 * 17 * 11 - 1), ==, 200);
  g_assert_cmpfloat_with_epsilon (lv_volume_voxel_mm3 (v), 3.0, 1e-12);

  int32_t lo, hi;
  lv_volume_min_max (v, &lo, &hi);
  g_assert_cmpint (lo, ==, 0);
  g_assert_cmpint (hi, ==, 200);

  /* widening keeps every label */
  g_assert_true (lv_volume_widen_for (v, 70000, &error));
  g_assert_cmpint (v->bytes_per_voxel, ==, 4);
  g_assert_cmpint (lv_volume_get (v, 22, 16, 10), ==, 200);
  lv_volume_set (v, 0, 0, 0, 70000);
  int32_t n_hist;
  g_autofree int64_t *hist = lv_volume_histogram (v, &n_hist);
  g_assert_cmpint (n_hist, ==, 70001);
  g_assert_cmpint (hist[200], ==, 1);
  g_assert_cmpint (hist[70000], ==, 1);
  g_assert_cmpint (hist[0], ==, 23 * 17 * 11 - 2);

  g_autoptr (LabelVolume) d = lv_volume_dup (v);
  g_assert_cmpmem (d->data, 23 * 17 * 11 * 4, v->data, 23 * 17 * 11 * 4);
}

static void
test_storage (void)
{
  g_assert_cmpint (lv_storage_for_range (0, 255), ==, 1);
  g_assert_cmpint (lv_storage_for_range (0, 256), ==, 2);
  g_assert_cmpint (lv_storage_for_range (0, 65535), ==, 2);
  g_assert_cmpint (lv_storage_for_range (0, 65536), ==, 4);
  g_assert_cmpint (lv_storage_for_range (-1, 3), ==, 4);
}

static void
test_invalid (void)
{
  g_autoptr (GError) error = NULL;
  g_assert_null (lv_volume_new (0, 5, 5, NULL, 1, &error));
  g_assert_nonnull (error);
  g_clear_error (&error);
  g_assert_null (lv_volume_new (INT64_MAX / 2, INT64_MAX / 2, 5, NULL, 1, &error));
  g_assert_nonnull (strstr (error->message, "overflow"));
}

static void
check_orientation (const double a[4][4], const char *want)
{
  g_autoptr (LabelVolume) v = lv_volume_new (2, 2, 2, NULL, 1, NULL);
  char code[4];
  lv_volume_set_affine (v, a);
  lv_volume_orientation (v, code);
  g_assert_cmpstr (code, ==, want);
}

static void
test_orientation (void)
{
  const double ras[4][4] = { { 1, 0, 0, 0 }, { 0, 1, 0, 0 }, { 0, 0, 1, 0 }, { 0, 0, 0, 1 } };
  const double lps[4][4] = { { -1, 0, 0, 0 }, { 0, -1, 0, 0 }, { 0, 0, 1, 0 }, { 0, 0, 0, 1 } };
  const double las[4][4] = { { -2, 0, 0, 0 }, { 0, 3, 0, 0 }, { 0, 0, 1, 0 }, { 0, 0, 0, 1 } };
  /* i runs superior, j anterior-to-posterior, k left: "SPL" (sagittal-ish) */
  const double spl[4][4] = { { 0, 0, -1, 0 }, { 0, -1, 0, 0 }, { 1, 0, 0, 0 }, { 0, 0, 0, 1 } };
  /* slightly oblique RAS */
  const double obl[4][4] = { { 0.98, 0.17, 0, 0 }, { -0.17, 0.98, 0, 0 }, { 0, 0, 1, 0 }, { 0, 0, 0, 1 } };
  check_orientation (ras, "RAS");
  check_orientation (lps, "LPS");
  check_orientation (las, "LAS");
  check_orientation (spl, "SPL");
  check_orientation (obl, "RAS");
}

static const TestCase test_cases[] = {
  { "/volume/new-and-access", test_new_and_access },
  { "/volume/storage", test_storage },
  { "/volume/invalid", test_invalid },
  { "/volume/orientation", test_orientation },
};

TEST_UTIL_MAIN (test_cases)
