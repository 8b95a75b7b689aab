/* test-completion-scheme.c: completion in the file's own scheme.
 *
 * A phantom is written in TotalSegmentator v2 ids (lobes and kidneys by side, vertebrae
 * and ribs as several ids, plus labels outside the 12 classes); with the liver (and the
 * kidneys) removed, completion must add only the source's own liver id 5 (kidney_right 2
 * on the patient's right, kidney_left 3 on the left), keep every labelled voxel, and
 * never write into voxels held by labels the network does not know. */
#include "completion-scheme.h"
#include "phantom.h"

#include <math.h>
#include <string.h>
#define TEST_UTIL_COMPLETION
#include "test-util.h"

/* The phantom's 12 classes in v2 ids: a class with several ids alternates them by slab
 * of k (vertebrae, ribs), a sided class takes the id of the voxel's side. */
static LabelVolume *
phantom_in_v2 (const LabelVolume *ph, const LabelScheme *v2)
{
  g_autoptr (GError) error = NULL;
  LabelVolume *out = lv_volume_new_like (ph, 1);
  double mid = 0;
  int64_t n_spine = 0, idx = 0;
  for (int64_t k = 0; k < ph->nz; k++)
    for (int64_t j = 0; j < ph->ny; j++)
      for (int64_t i = 0; i < ph->nx; i++, idx++)
        if (lv_volume_get_index (ph, idx) == LT_SPINE)
          {
            mid += ph->affine[0][0] * i + ph->affine[0][3];
            n_spine++;
          }
  mid /= MAX (n_spine, 1);
  int32_t *ids[LT_N_CLASSES] = { NULL };
  int n_ids[LT_N_CLASSES] = { 0 };
  for (int c = 1; c < LT_N_CLASSES; c++)
    ids[c] = label_scheme_dup_ids_of_class (v2, c, &n_ids[c]);
  idx = 0;
  for (int64_t k = 0; k < ph->nz; k++)
    for (int64_t j = 0; j < ph->ny; j++)
      for (int64_t i = 0; i < ph->nx; i++, idx++)
        {
          int c = lv_volume_get_index (ph, idx);
          if (c == 0 || n_ids[c] == 0)
            continue;
          gboolean right = ph->affine[0][0] * i + ph->affine[0][3] > mid;
          int32_t pick = ids[c][(k / 4) % n_ids[c]];
          for (int q = 0; q < n_ids[c]; q++)
            {
              LabelSide s = label_scheme_side_of (v2, ids[c][q]);
              if (s == (right ? LABEL_SIDE_RIGHT : LABEL_SIDE_LEFT) && (q + (int) (k / 4)) % 2 == 0)
                pick = ids[c][q];
            }
          lv_volume_set_index (out, idx, pick);
        }
  for (int c = 1; c < LT_N_CLASSES; c++)
    g_free (ids[c]);
  g_assert_no_error (error);
  return out;
}

static void
test_v2_liver_and_kidneys (void)
{
  g_autoptr (NnNet) net = test_shipped_net ();
  if (net == NULL)
    return;
  g_autoptr (GError) error = NULL;
  const LabelScheme *v2 = label_scheme_get (LABEL_SCHEME_TOTALSEG_V2);
  const int32_t liver = label_scheme_find_name (v2, "liver");
  const int32_t kid_r = label_scheme_find_name (v2, "kidney_right"), kid_l = label_scheme_find_name (v2, "kidney_left");
  const int32_t gallbladder = label_scheme_find_name (v2, "gallbladder");
  g_assert_cmpint (liver, ==, 5);
  g_assert_cmpint (kid_r, ==, 2);
  g_assert_cmpint (kid_l, ==, 3);

  PhantomParams pp;
  phantom_params_init (&pp);
  pp.seed = 21;
  g_autoptr (LabelVolume) ph = phantom_generate (&pp, &error);
  g_assert_no_error (error);
  g_autoptr (LabelVolume) full = phantom_in_v2 (ph, v2);
  /* the partial file: liver and kidneys gone; a gallbladder (outside the 12 classes)
   * sits in part of where the liver was */
  g_autoptr (LabelVolume) in = lv_volume_dup (full);
  int64_t n_gb = 0, n = lv_volume_n_voxels (in);
  for (int64_t q = 0; q < n; q++)
    {
      int32_t l = lv_volume_get_index (in, q);
      if (l == liver || l == kid_r || l == kid_l)
        lv_volume_set_index (in, q, 0);
      if (l == liver && q % 7 == 0)
        {
          lv_volume_set_index (in, q, gallbladder);
          n_gb++;
        }
    }
  g_assert_cmpint (n_gb, >, 0);

  CompletionSource src = { .scheme = v2, .path = "v2 phantom" };
  CompletionOptions opt = { .n_threads = 2 };
  opt.selected[LT_LIVER] = opt.selected[LT_KIDNEY] = TRUE;
  g_autoptr (LabelTable) table = NULL;
  g_autoptr (LabelVolume) out = completion_run_in_scheme (net, &src, in, &opt, &table, NULL, &error);
  g_assert_no_error (error);

  int64_t added[3] = { 0 }, liver_hit = 0, liver_truth = 0;
  double x_r = 0, x_l = 0;
  for (int64_t q = 0; q < n; q++)
    {
      int32_t a = lv_volume_get_index (in, q), b = lv_volume_get_index (out, q);
      if (a != 0)
        {
          g_assert_cmpint (b, ==, a);   /* every labelled voxel keeps its exact value */
          continue;
        }
      if (b == 0)
        continue;
      g_assert_true (b == liver || b == kid_r || b == kid_l);
      int64_t i = q % in->nx;
      double x = in->affine[0][0] * i + in->affine[0][3];
      added[b == liver ? 0 : b == kid_r ? 1 : 2]++;
      if (b == kid_r)
        x_r += x;
      if (b == kid_l)
        x_l += x;
      liver_hit += b == liver && lv_volume_get_index (full, q) == liver;
    }
  for (int64_t q = 0; q < n; q++)
    liver_truth += lv_volume_get_index (full, q) == liver;
  g_test_message ("added liver %" G_GINT64_FORMAT ", kidney_right %" G_GINT64_FORMAT ", kidney_left %" G_GINT64_FORMAT
                  " voxels; liver overlap %.2f", added[0], added[1], added[2], (double) liver_hit / liver_truth);
  g_assert_cmpint (added[0], >, liver_truth / 4);
  g_assert_cmpint (added[1], >, 0);
  g_assert_cmpint (added[2], >, 0);
  /* sides: the right kidney lies on the patient's right (+x in RAS) of the left one */
  g_assert_cmpfloat (x_r / added[1], >, x_l / added[2]);
  g_assert_cmpstr (lt_table_lookup (table, liver)->name, ==, "liver");
  g_assert_cmpstr (lt_table_lookup (table, kid_l)->name, ==, "kidney_left");
}

/* A class the scheme splits into parts gets the reserved id, named in the table. */
static void
test_write_ids (void)
{
  const LabelScheme *v2 = label_scheme_get (LABEL_SCHEME_TOTALSEG_V2);
  CompletionSource src = { .scheme = v2 };
  const char *name;
  g_assert_cmpint (completion_source_write_id (&src, LT_LIVER, FALSE, 117, &name), ==, 5);
  g_assert_cmpstr (name, ==, "liver");
  g_assert_cmpint (completion_source_write_id (&src, LT_KIDNEY, TRUE, 117, &name), ==, 2);
  g_assert_cmpint (completion_source_write_id (&src, LT_KIDNEY, FALSE, 117, &name), ==, 3);
  int32_t lung = completion_source_write_id (&src, LT_LUNG, TRUE, 117, &name);
  g_assert_cmpint (lung, >, label_scheme_get_max_id (v2));
  g_assert_nonnull (strstr (name, "completed"));
  /* ids matched by names: the file's own id for the name, else one past its largest */
  g_autoptr (LabelTable) own = lt_table_new ("test");
  const guint8 red[4] = { 255, 0, 0, 255 };
  lt_table_set (own, 40, "liver", red);
  lt_table_set (own, 41, "spleen", red);
  CompletionSource named = { .scheme = v2, .table = own, .by_names = TRUE };
  g_assert_cmpint (completion_source_write_id (&named, LT_LIVER, FALSE, 41, &name), ==, 40);
  g_assert_cmpint (completion_source_write_id (&named, LT_STOMACH, FALSE, 200, &name), ==, 200 + LT_STOMACH);
}

static const TestCase test_cases[] = {
  { "/completion-scheme/write-ids", test_write_ids },
  { "/completion-scheme/v2-liver-kidneys", test_v2_liver_and_kidneys },
};

TEST_UTIL_MAIN (test_cases)
