/* test-label-scheme-detect.c: schemes detected from tables and names (and the real NIfTI's
 * header extension), the rule for unnamed volumes, resolving, and volumes mapped to the 12
 * classes: synthetic ones made here, and the real label maps when they are present. */
#include "test-label-scheme-util.h"
#include "nifti.h"

#include <string.h>
#include "test-util.h"

/* ------------------------------------------------------------------------- */
/* Detection                                                                 */

/* A table of the scheme's (id, name) pairs for the names given. */
static LabelTable *
table_of (const LabelScheme *s, const char *const *names)
{
  LabelTable *t = lt_table_new ("test");
  const guint8 grey[4] = { 128, 128, 128, 255 };

  for (int i = 0; names[i] != NULL; i++)
    {
      int32_t id = label_scheme_find_name (s, names[i]);
      g_assert_cmpint (id, >, 0);
      lt_table_set (t, id, names[i], grey);
    }
  return t;
}

static const LabelScheme *
detect (const LabelTable *t, const int32_t *ids, int n, double *score)
{
  g_autoptr (GError) error = NULL;
  const LabelScheme *s = label_scheme_detect (t, ids, n, score, &error);
  g_assert_no_error (error);
  return s;
}

void
test_detect_tables (void)
{
  const LabelScheme *v1 = get ("totalseg-v1"), *v2 = get ("totalseg-v2");
  const char *const v2_subset[] = { "liver", "pancreas", "kidney_left", "heart", "aorta", NULL };
  const char *const v1_subset[] = { "liver", "pancreas", "aorta", "heart_myocardium", NULL };
  const char *const common[] = { "spleen", "liver", "kidney_right", NULL };
  double score = 0;
  g_autoptr (GError) error = NULL;
  const guint8 grey[4] = { 128, 128, 128, 255 };

  /* A file holding only some organs. */
  g_autoptr (LabelTable) t2 = table_of (v2, v2_subset);
  g_assert_true (detect (t2, NULL, 0, &score) == v2);
  g_assert_cmpfloat (score, ==, 1.0);
  g_autoptr (LabelTable) t1 = table_of (v1, v1_subset);
  g_assert_true (detect (t1, NULL, 0, &score) == v1);
  g_assert_cmpfloat (score, ==, 1.0);

  /* Names shared by v1 and v2 at the same ids: a tie, which goes to v2 (listed first). */
  g_autoptr (LabelTable) tc = table_of (v2, common);
  g_assert_true (detect (tc, NULL, 0, &score) == v2);
  LabelSchemeScore sc;
  label_scheme_score_table (v1, tc, NULL, 0, &sc);
  g_assert_cmpfloat (sc.score, ==, 1.0);

  /* Background, placeholders and a few unknown names are tolerated... */
  g_autoptr (LabelTable) full = label_scheme_dup_table (v2, LABEL_SCHEME_TABLE_DEFAULT);
  lt_table_set (full, 118, "my tumour", grey);
  lt_table_set (full, 119, "label 119", grey);
  lt_table_set (full, 120, "Clear Label", grey);
  g_assert_true (detect (full, NULL, 0, &score) == v2);
  g_assert_cmpfloat_with_epsilon (score, 117.0 / 118.0, 1e-9);
  label_scheme_score_table (v2, full, NULL, 0, &sc);
  g_assert_cmpint (sc.n_names, ==, 118);
  g_assert_cmpint (sc.n_unknown, ==, 1);
  /* ... v1 scores low on v2's table: most names sit at other ids. */
  label_scheme_score_table (v1, full, NULL, 0, &sc);
  g_assert_cmpfloat (sc.score, <, 0.2);
  g_assert_cmpint (sc.n_wrong_id, >, 50);

  /* ... but not many: 2 known of 5. */
  g_autoptr (LabelTable) mixed = lt_table_new ("mixed");
  lt_table_set (mixed, 5, "liver", grey);
  lt_table_set (mixed, 1, "spleen", grey);
  lt_table_set (mixed, 20, "tumour", grey);
  lt_table_set (mixed, 21, "cyst", grey);
  lt_table_set (mixed, 22, "metastasis", grey);
  g_assert_null (label_scheme_detect (mixed, NULL, 0, &score, &error));
  g_assert_error (error, LABEL_SCHEME_ERROR, LABEL_SCHEME_ERROR_NOT_DETECTED);
  test_assert_message_has (error, "--scheme", "mixed", NULL);
  g_assert_cmpfloat_with_epsilon (score, 0.4, 1e-9);
  g_clear_error (&error);

  /* Ids present that neither the table nor the scheme knows count against it. */
  const int32_t ids[] = { 0, 5, 6, 7, 900, 901, 902 };
  g_assert_null (label_scheme_detect (t2, ids, G_N_ELEMENTS (ids), &score, &error));
  g_assert_error (error, LABEL_SCHEME_ERROR, LABEL_SCHEME_ERROR_NOT_DETECTED);
  g_clear_error (&error);
  label_scheme_score_table (v2, t2, ids, G_N_ELEMENTS (ids), &sc);
  g_assert_cmpint (sc.n_ids_outside, ==, 3);  /* 6 is v2's stomach: not counted */
  g_assert_cmpfloat_with_epsilon (sc.score, 5.0 / 8.0, 1e-9);

  /* Names right, ids wrong (a segmentation with its own label values): no match. */
  g_autoptr (LabelTable) shifted = lt_table_new ("shifted");
  for (int i = 0; v2_subset[i] != NULL; i++)
    lt_table_set (shifted, 1 + i, v2_subset[i], grey);
  g_assert_null (label_scheme_detect (shifted, NULL, 0, NULL, &error));
  g_clear_error (&error);

  /* The built-in 12-class table is the benchmark; an AMOS dataset.json table is AMOS. */
  g_autoptr (LabelTable) def = lt_table_new_default ();
  g_assert_true (detect (def, NULL, 0, &score) == get ("benchmark12"));
  g_assert_cmpfloat (score, ==, 1.0);
  static const char *const amos_json[] = {
    "spleen", "right kidney", "left kidney", "gall bladder", "esophagus", "liver", "stomach",
    "arota", "postcava", "pancreas", "right adrenal gland", "left adrenal gland", "duodenum",
    "bladder", "prostate/uterus",
  };
  g_autoptr (LabelTable) amos = lt_table_new ("dataset.json");
  lt_table_set (amos, 0, "background", grey);
  for (int i = 0; i < 15; i++)
    lt_table_set (amos, i + 1, amos_json[i], grey);
  g_assert_true (detect (amos, NULL, 0, &score) == get ("amos15"));
  g_assert_cmpfloat_with_epsilon (score, (14 + 0.9) / 15, 1e-9);

  /* Nothing to go by. */
  g_autoptr (LabelTable) empty = lt_table_new ("empty");
  g_assert_null (label_scheme_detect (empty, NULL, 0, &score, &error));
  g_assert_error (error, LABEL_SCHEME_ERROR, LABEL_SCHEME_ERROR_NOT_DETECTED);
  g_assert_nonnull (strstr (error->message, "no label names"));
  g_assert_cmpfloat (score, ==, 0.0);
}

void
test_detect_names (void)
{
  const char *const masks_v2[] = {
    "segmentations/liver.nii.gz", "segmentations/kidney_left.nii.gz",
    "segmentations/lung_upper_lobe_left.nii.gz", "segmentations/heart.nii.gz",
    "segmentations/sternum.nii.gz", "segmentations/vertebrae_S1.nii.gz",
  };
  const char *const masks_v1[] = {
    "liver.nii.gz", "heart_myocardium.nii.gz", "pulmonary_artery.nii", "rib_left_3.nii.gz", NULL,
  };
  const char *const segments[] = { "Lung", "Heart", "Rib cage", "Spine", "Autochthon muscles", NULL };
  const char *const amos[] = { "right kidney", "postcava", "gall bladder", "arota", NULL };
  const char *const nonsense[] = { "foo", "bar.nii.gz", "baz", "liver", NULL };
  const char *const placeholders[] = { "background", "", "Label 3", NULL };
  const char *const invalid_utf8[] = { "\xff\xfeliver", "liver", "/", "", ".nii.gz", NULL };
  double score = 0;
  g_autoptr (GError) error = NULL;
  const LabelScheme *s;

  s = label_scheme_detect_names (masks_v2, G_N_ELEMENTS (masks_v2), &score, &error);
  g_assert_no_error (error);
  g_assert_true (s == get ("totalseg-v2"));
  g_assert_cmpfloat (score, ==, 1.0);

  s = label_scheme_detect_names (masks_v1, -1, &score, &error);
  g_assert_no_error (error);
  g_assert_true (s == get ("totalseg-v1"));

  s = label_scheme_detect_names (segments, -1, &score, &error);
  g_assert_no_error (error);
  g_assert_true (s == get ("benchmark12"));

  s = label_scheme_detect_names (amos, -1, &score, &error);
  g_assert_no_error (error);
  g_assert_true (s == get ("amos15"));
  g_assert_cmpfloat_with_epsilon (score, (3 + 0.9) / 4, 1e-9);

  /* TotalSegmentator spellings fit v2 by name and AMOS only by alias: v2 wins. */
  const char *const ts_abdomen[] = { "kidney_right", "kidney_left", "inferior_vena_cava", NULL };
  g_assert_true (label_scheme_detect_names (ts_abdomen, -1, NULL, NULL) == get ("totalseg-v2"));

  g_assert_null (label_scheme_detect_names (nonsense, -1, &score, &error));
  g_assert_error (error, LABEL_SCHEME_ERROR, LABEL_SCHEME_ERROR_NOT_DETECTED);
  g_assert_cmpfloat_with_epsilon (score, 0.25, 1e-9);
  g_clear_error (&error);
  g_assert_null (label_scheme_detect_names (placeholders, -1, &score, &error));
  g_assert_error (error, LABEL_SCHEME_ERROR, LABEL_SCHEME_ERROR_NOT_DETECTED);
  g_clear_error (&error);
  /* Invalid UTF-8 and degenerate file names are names like any other. */
  s = label_scheme_detect_names (invalid_utf8, -1, &score, &error);
  g_assert_error (error, LABEL_SCHEME_ERROR, LABEL_SCHEME_ERROR_NOT_DETECTED);
  g_clear_error (&error);
  g_assert_null (s);
  g_assert_null (label_scheme_detect_names (NULL, 0, &score, &error));
  g_assert_error (error, LABEL_SCHEME_ERROR, LABEL_SCHEME_ERROR_NOT_DETECTED);
  g_clear_error (&error);

  /* The whole v2 mask folder (every class, as TotalSegmentator writes it) scores 1 for
   * v2 and clearly less for v1. */
  const LabelScheme *v2 = get ("totalseg-v2");
  g_autoptr (GPtrArray) all = g_ptr_array_new_with_free_func (g_free);
  for (int i = 0; i < label_scheme_get_n_entries (v2); i++)
    g_ptr_array_add (all, g_strdup_printf ("%s.nii.gz", label_scheme_get_entry (v2, i)->name));
  LabelSchemeScore sc;
  label_scheme_score_names (v2, (const char *const *) all->pdata, (int) all->len, &sc);
  g_assert_cmpfloat (sc.score, ==, 1.0);
  label_scheme_score_names (get ("totalseg-v1"), (const char *const *) all->pdata,
                            (int) all->len, &sc);
  g_assert_cmpfloat_with_epsilon (sc.score, 97.0 / 117.0, 1e-9);  /* 97 names in common */
  g_assert_true (label_scheme_detect_names ((const char *const *) all->pdata, (int) all->len,
                                            NULL, NULL) == v2);
}

/* The v2 scheme against TotalSegmentator's own label table (tests/data/schemes). */
void
test_detect_caret_xml (void)
{
  g_autofree char *path = g_test_build_filename (G_TEST_DIST, "data", "schemes",
                                                 "totalseg-v2-caret.xml", NULL);
  g_autofree char *xml = NULL;
  gsize len = 0;
  g_autoptr (GError) error = NULL;
  g_autoptr (LabelTable) t = NULL;
  const LabelScheme *v2 = get ("totalseg-v2");
  double score = 0;

  g_file_get_contents (path, &xml, &len, &error);
  g_assert_no_error (error);
  t = lt_table_from_xml (xml, len, path, &error);
  g_assert_no_error (error);
  g_assert_nonnull (t);
  g_assert_cmpuint (t->entries->len, ==, 117);
  for (guint i = 0; i < t->entries->len; i++)
    {
      const LabelEntry *e = &g_array_index (t->entries, LabelEntry, i);
      const LabelSchemeEntry *se = label_scheme_lookup_id (v2, e->id);
      g_assert_nonnull (se);
      g_assert_cmpstr (se->name, ==, e->name);
    }
  g_assert_true (detect (t, NULL, 0, &score) == v2);
  g_assert_cmpfloat (score, ==, 1.0);
}

/* The same from the real NIfTI, its header extension and the ids it holds. */
void
test_detect_real_nifti (void)
{
  g_autofree char *path = real_file_or_skip ("tsexample_totalseg_v2_fast.nii.gz");
  g_autoptr (GError) error = NULL;
  g_autoptr (LabelVolume) v = NULL;
  g_autoptr (LabelTable) t = NULL;
  g_autofree char *found = NULL;
  gboolean by_names = TRUE;

  if (path == NULL)
    return;
  v = nifti_read (path, NULL, &error);
  g_assert_no_error (error);
  t = lt_table_find_for_volume (path, v, &found, &error);
  g_assert_no_error (error);
  g_assert_nonnull (t);
  g_assert_true (label_scheme_resolve (NULL, t, v, path, &by_names, &error) == get ("totalseg-v2"));
  g_assert_no_error (error);
  g_assert_false (by_names);
}

/* ------------------------------------------------------------------------- */
/* Unnamed volumes and resolving                                             */

static LabelVolume *
volume_with (const int32_t *labels, int n, int bytes_per_voxel)
{
  const double spacing[3] = { 1.5, 1.5, 3.0 };
  g_autoptr (GError) error = NULL;
  LabelVolume *v = lv_volume_new (n, 1, 1, spacing, bytes_per_voxel, &error);

  g_assert_no_error (error);
  for (int i = 0; i < n; i++)
    lv_volume_set_index (v, i, labels[i]);
  return v;
}

void
test_unnamed (void)
{
  const int32_t small[] = { 0, 1, 12, 5, 0 };
  const int32_t big[] = { 0, 1, 40, 117 };
  const int32_t negative[] = { 0, -2, 3 };
  g_autoptr (LabelVolume) a = volume_with (small, G_N_ELEMENTS (small), 1);
  g_autoptr (LabelVolume) b = volume_with (big, G_N_ELEMENTS (big), 1);
  g_autoptr (LabelVolume) c = volume_with (negative, G_N_ELEMENTS (negative), 4);
  g_autoptr (GError) error = NULL;

  g_assert_true (label_scheme_for_unnamed (a, "a.nii.gz", &error) == get ("benchmark12"));
  g_assert_no_error (error);

  g_assert_null (label_scheme_for_unnamed (b, "case7.nii.gz", &error));
  g_assert_error (error, LABEL_SCHEME_ERROR, LABEL_SCHEME_ERROR_NEEDS_SCHEME);
  g_test_message ("message: %s", error->message);
  test_assert_message_has (error, "case7.nii.gz", "117", "--scheme NAME", "label table", NULL);
  for (int i = 0; i < 4; i++)
    g_assert_nonnull (strstr (error->message, label_scheme_get_name (label_scheme_list (NULL)[i])));
  g_clear_error (&error);

  g_assert_null (label_scheme_for_unnamed (c, NULL, &error));
  g_assert_error (error, LABEL_SCHEME_ERROR, LABEL_SCHEME_ERROR_UNKNOWN_ID);
  g_assert_nonnull (strstr (error->message, "-2"));
  g_clear_error (&error);
}

void
test_resolve (void)
{
  const int32_t labels[] = { 0, 5, 3, 2, 52 };
  g_autoptr (LabelVolume) v = volume_with (labels, G_N_ELEMENTS (labels), 1);
  g_autoptr (LabelTable) t2 = label_scheme_dup_table (get ("totalseg-v2"), 0);
  g_autoptr (LabelTable) slicer = lt_table_new ("slicer");
  g_autoptr (LabelTable) junk = lt_table_new ("junk");
  const guint8 grey[4] = { 128, 128, 128, 255 };
  g_autoptr (GError) error = NULL;
  gboolean by_names = FALSE;

  /* Asked for by name, detected from ids and names, from names alone, by the rule. */
  g_assert_true (label_scheme_resolve ("totalseg-v1", t2, v, "x", &by_names, &error) == get ("totalseg-v1"));
  g_assert_false (by_names);
  g_assert_true (label_scheme_resolve (NULL, t2, v, "x", &by_names, &error) == get ("totalseg-v2"));
  g_assert_false (by_names);
  lt_table_set (slicer, 2, "liver", grey);
  lt_table_set (slicer, 3, "kidney_left", grey);
  lt_table_set (slicer, 5, "aorta", grey);
  lt_table_set (slicer, 52, "heart", grey);
  g_assert_true (label_scheme_resolve (NULL, slicer, v, "x", &by_names, &error) == get ("totalseg-v2"));
  g_assert_no_error (error);
  g_assert_true (by_names);
  g_assert_null (label_scheme_resolve (NULL, NULL, v, "x.nii", &by_names, &error));
  g_assert_error (error, LABEL_SCHEME_ERROR, LABEL_SCHEME_ERROR_NEEDS_SCHEME);
  g_clear_error (&error);
  /* A table with placeholders only is no table. */
  g_autoptr (LabelTable) bare = lt_table_new ("bare");
  lt_table_set (bare, 0, "Background", grey);
  lt_table_set (bare, 52, "Label 52", grey);
  g_assert_null (label_scheme_resolve (NULL, bare, v, "x.nii", &by_names, &error));
  g_assert_error (error, LABEL_SCHEME_ERROR, LABEL_SCHEME_ERROR_NEEDS_SCHEME);
  g_clear_error (&error);
  lt_table_set (junk, 1, "alpha", grey);
  lt_table_set (junk, 2, "beta", grey);
  g_assert_null (label_scheme_resolve (NULL, junk, v, "y.nii", &by_names, &error));
  g_assert_error (error, LABEL_SCHEME_ERROR, LABEL_SCHEME_ERROR_NOT_DETECTED);
  g_assert_true (g_str_has_prefix (error->message, "y.nii: "));
  g_clear_error (&error);
  g_assert_null (label_scheme_resolve ("v9", NULL, v, NULL, &by_names, &error));
  g_assert_error (error, LABEL_SCHEME_ERROR, LABEL_SCHEME_ERROR_UNKNOWN);
}

/* ------------------------------------------------------------------------- */
/* Mapping volumes                                                           */

/* A volume holding every id 0..max of @s (plus the reserved ids) in turn, made here:
 * the committed stand-in for the real files, which CI lacks. */
static void
check_map_every_id (const char *scheme, const Range *r, gsize n_r, int bytes_per_voxel)
{
  const LabelScheme *s = get (scheme);
  int32_t max = label_scheme_get_max_id (s);
  int n = (int) (max + LT_N_ORGANS + 1) * 3;
  g_autofree int32_t *labels = g_new0 (int32_t, n);
  g_autoptr (GError) error = NULL;
  g_autoptr (LabelVolume) v = NULL, m = NULL;
  int k = 0;

  for (int rep = 0; rep < 3; rep++)
    for (int32_t id = 0; id <= max + LT_N_ORGANS; id++)
      {
        /* Keep only ids the scheme defines. */
        if (label_scheme_class_of (s, id) >= 0)
          labels[k++] = id;
      }
  v = volume_with (labels, k, bytes_per_voxel);
  m = label_scheme_map_volume (s, v, "every-id", &error);
  g_assert_no_error (error);
  g_assert_cmpint (m->bytes_per_voxel, ==, 1);
  g_assert_cmpint (m->nx, ==, v->nx);
  g_assert_null (m->source);
  g_assert_cmpfloat (m->spacing[2], ==, 3.0);
  g_assert_cmpfloat (m->affine[2][2], ==, 3.0);
  for (int i = 0; i < k; i++)
    {
      int32_t id = labels[i], want;
      if (id <= max)
        want = expected_organ (r, n_r, id);
      else
        want = id - max;  /* a reserved id */
      if (lv_volume_get_index (m, i) != want)
        g_error ("%s: id %d mapped to %d, expected %d", scheme, id, lv_volume_get_index (m, i), want);
    }
}

void
test_map_synthetic (void)
{
  check_map_every_id ("totalseg-v2", v2_ranges, G_N_ELEMENTS (v2_ranges), 1);
  check_map_every_id ("totalseg-v2", v2_ranges, G_N_ELEMENTS (v2_ranges), 2);
  check_map_every_id ("totalseg-v1", v1_ranges, G_N_ELEMENTS (v1_ranges), 4);
  check_map_every_id ("amos15", amos_ranges, G_N_ELEMENTS (amos_ranges), 1);

  /* Ids the scheme lacks are named in the error, with their voxel counts. */
  const int32_t bad[] = { 0, 5, 200, 200, 250, 5 };
  g_autoptr (LabelVolume) v = volume_with (bad, G_N_ELEMENTS (bad), 1);
  g_autoptr (GError) error = NULL;
  g_assert_null (label_scheme_map_volume (get ("totalseg-v2"), v, "bad.nii.gz", &error));
  g_assert_error (error, LABEL_SCHEME_ERROR, LABEL_SCHEME_ERROR_UNKNOWN_ID);
  g_test_message ("message: %s", error->message);
  test_assert_message_has (error, "bad.nii.gz", "200 (2 voxels)", "250 (1 voxel)", "totalseg-v2", NULL);
  g_clear_error (&error);

  /* Huge and negative int32 labels: an error, and no table indexed by label. */
  const int32_t huge[] = { 0, 1000000000, -7, 5 };
  g_autoptr (LabelVolume) h = volume_with (huge, G_N_ELEMENTS (huge), 4);
  g_assert_null (label_scheme_map_volume (get ("totalseg-v2"), h, NULL, &error));
  g_assert_error (error, LABEL_SCHEME_ERROR, LABEL_SCHEME_ERROR_UNKNOWN_ID);
  test_assert_message_has (error, "1000000000", "-7", NULL);
  g_clear_error (&error);

  /* By names: each id by its name in the table; unknown names map to none. */
  const int32_t ids[] = { 0, 1, 2, 3, 4, 7 };
  g_autoptr (LabelVolume) w = volume_with (ids, G_N_ELEMENTS (ids), 2);
  g_autoptr (LabelTable) t = lt_table_new ("segments");
  const guint8 grey[4] = { 128, 128, 128, 255 };
  lt_table_set (t, 1, "Liver", grey);
  lt_table_set (t, 2, "kidney-left", grey);
  lt_table_set (t, 3, "tumour", grey);
  lt_table_set (t, 4, "rib cage (completed)", grey);
  g_assert_null (label_scheme_map_volume_by_names (get ("totalseg-v2"), t, w, "seg", &error));
  g_assert_error (error, LABEL_SCHEME_ERROR, LABEL_SCHEME_ERROR_UNKNOWN_ID);
  g_assert_nonnull (strstr (error->message, "7 (1 voxel)"));
  g_clear_error (&error);
  lt_table_set (t, 7, "vertebrae_S1", grey);
  g_autoptr (LabelVolume) wm = label_scheme_map_volume_by_names (get ("totalseg-v2"), t, w, "seg", &error);
  g_assert_no_error (error);
  const int32_t want[] = { 0, LT_LIVER, LT_KIDNEY, 0, LT_RIB_CAGE, 0 };
  for (guint i = 0; i < G_N_ELEMENTS (want); i++)
    g_assert_cmpint (lv_volume_get_index (wm, i), ==, want[i]);
}

/* Real TotalSegmentator / AMOS label maps against their 12-class versions, voxel for voxel. */
static void
check_real_pair (const char *scheme, const char *input, const char *reference)
{
  g_autofree char *in_path = real_file_or_skip (input);
  g_autofree char *ref_path = NULL;
  g_autoptr (GError) error = NULL;
  g_autoptr (LabelVolume) v = NULL, ref = NULL, m = NULL;
  int64_t n, differ = 0;

  if (in_path == NULL)
    return;
  ref_path = real_file_or_skip (reference);
  if (ref_path == NULL)
    return;
  v = nifti_read (in_path, NULL, &error);
  g_assert_no_error (error);
  ref = nifti_read (ref_path, NULL, &error);
  g_assert_no_error (error);
  m = label_scheme_map_volume (get (scheme), v, in_path, &error);
  g_assert_no_error (error);
  g_assert_cmpint (m->nx, ==, ref->nx);
  g_assert_cmpint (m->ny, ==, ref->ny);
  g_assert_cmpint (m->nz, ==, ref->nz);
  n = lv_volume_n_voxels (m);
  for (int64_t i = 0; i < n; i++)
    differ += lv_volume_get_index (m, i) != lv_volume_get_index (ref, i);
  g_test_message ("%s -> 12 classes: %" G_GINT64_FORMAT " of %" G_GINT64_FORMAT
                  " voxels differ from %s", input, differ, n, reference);
  g_assert_cmpint (differ, ==, 0);
}

void
test_map_real_s0004 (void)
{
  check_real_pair ("totalseg-v2", "s0004_totalseg_v2.nii.gz", "s0004_12class.nii.gz");
}

void
test_map_real_other (void)
{
  static const char *const v2_subjects[] = { "s0001", "s0006", "s0009", "s0011", "s0328" };

  for (guint i = 0; i < G_N_ELEMENTS (v2_subjects); i++)
    {
      g_autofree char *in = g_strdup_printf ("%s_totalseg_v2.nii.gz", v2_subjects[i]);
      g_autofree char *ref = g_strdup_printf ("%s_12class.nii.gz", v2_subjects[i]);
      check_real_pair ("totalseg-v2", in, ref);
    }
  check_real_pair ("totalseg-v1", "tsexample_totalseg_v1.nii.gz", "tsexample_12class.nii.gz");
  check_real_pair ("amos15", "amos0013_amos15.nii.gz", "amos0013_12class.nii.gz");
}
