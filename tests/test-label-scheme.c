/* test-label-scheme.c: the label schemes (ids, names, 12-class mapping, sides,
 * write-back rules, tables), detection from tables and names, the rule for unnamed
 * volumes, and volumes mapped to the 12 classes: synthetic ones made here, and the
 * real label maps of ../shared/real when that folder is present. */
#include "label-scheme.h"
#include "nifti.h"

#include <string.h>
#include "test-util.h"

/* ------------------------------------------------------------------------- */
/* The expected mapping, written from TotalSegmentator's map_to_binary.py ranges
 * independently of the data files. */

typedef struct {
  int32_t first, last, organ;
} Range;

static const Range v2_ranges[] = {
  { 1, 1, LT_SPLEEN }, { 2, 3, LT_KIDNEY }, { 5, 5, LT_LIVER }, { 6, 6, LT_STOMACH },
  { 7, 7, LT_PANCREAS }, { 10, 14, LT_LUNG }, { 27, 50, LT_SPINE }, { 51, 51, LT_HEART },
  { 52, 52, LT_AORTA }, { 86, 87, LT_AUTOCHTHON }, { 92, 117, LT_RIB_CAGE },
};

static const Range v1_ranges[] = {
  { 1, 1, LT_SPLEEN }, { 2, 3, LT_KIDNEY }, { 5, 5, LT_LIVER }, { 6, 6, LT_STOMACH },
  { 7, 7, LT_AORTA }, { 10, 10, LT_PANCREAS }, { 13, 17, LT_LUNG }, { 18, 41, LT_SPINE },
  { 44, 48, LT_HEART }, { 49, 49, LT_PULMONARY_ARTERY }, { 58, 81, LT_RIB_CAGE },
  { 100, 101, LT_AUTOCHTHON },
};

static const Range amos_ranges[] = {
  { 1, 1, LT_SPLEEN }, { 2, 3, LT_KIDNEY }, { 6, 6, LT_LIVER }, { 7, 7, LT_STOMACH },
  { 8, 8, LT_AORTA }, { 10, 10, LT_PANCREAS },
};

static int32_t
expected_organ (const Range *r, gsize n, int32_t id)
{
  for (gsize i = 0; i < n; i++)
    if (id >= r[i].first && id <= r[i].last)
      return r[i].organ;
  return 0;
}

static const LabelScheme *
get (const char *name)
{
  const LabelScheme *s = label_scheme_get (name);
  g_assert_nonnull (s);
  return s;
}

static void
assert_entry (const LabelScheme *s, int32_t id, const char *name, int32_t organ, LabelSide side)
{
  const LabelSchemeEntry *e = label_scheme_lookup_id (s, id);

  if (e == NULL)
    g_error ("%s: no id %d", label_scheme_get_name (s), id);
  if (strcmp (e->name, name) != 0)
    g_error ("%s: id %d is “%s”, expected “%s”", label_scheme_get_name (s), id, e->name, name);
  g_assert_cmpint (e->organ, ==, organ);
  g_assert_cmpint (label_scheme_class_of (s, id), ==, organ);
  g_assert_cmpint (e->side, ==, side);
  g_assert_cmpint (label_scheme_side_of (s, id), ==, side);
  g_assert_cmpint (label_scheme_find_name (s, name), ==, id);
}

static char *
real_path (const char *name)
{
  const char *dir = g_getenv ("AR_REAL_DIR");
  const char *root = g_getenv ("AR_SOURCE_ROOT");

  if (dir != NULL && dir[0] != '\0')
    return g_build_filename (dir, name, NULL);
  return g_build_filename (root != NULL ? root : ".", "..", "shared", "real", name, NULL);
}

/* The real file @name, or NULL after marking the test skipped. */
static char *
real_file_or_skip (const char *name)
{
  char *path = real_path (name);

  if (!g_file_test (path, G_FILE_TEST_IS_REGULAR))
    {
      g_autofree char *msg = g_strdup_printf ("%s is absent (the real label maps are not part of "
                                              "the repository; set AR_REAL_DIR to their folder)",
                                              path);
      g_test_skip (msg);
      g_free (path);
      return NULL;
    }
  return path;
}

/* ------------------------------------------------------------------------- */
/* The schemes                                                               */

static void
test_registry (void)
{
  int n = 0;
  const LabelScheme *const *list = label_scheme_list (&n);
  g_autoptr (GError) error = NULL;
  g_autofree char *names = label_scheme_dup_names ();

  g_assert_cmpint (n, ==, 4);
  g_assert_null (list[n]);
  g_assert_cmpstr (label_scheme_get_name (list[0]), ==, "benchmark12");
  g_assert_cmpstr (label_scheme_get_name (list[1]), ==, "totalseg-v2");
  g_assert_cmpstr (label_scheme_get_name (list[2]), ==, "totalseg-v1");
  g_assert_cmpstr (label_scheme_get_name (list[3]), ==, "amos15");
  g_assert_cmpstr (names, ==, "benchmark12, totalseg-v2, totalseg-v1, amos15");
  for (int i = 0; i < n; i++)
    {
      g_assert_true (label_scheme_get (label_scheme_get_name (list[i])) == list[i]);
      g_assert_nonnull (label_scheme_get_title (list[i]));
    }

  /* TotalSegmentator's dict names, case and separators. */
  g_assert_true (label_scheme_get ("total") == get ("totalseg-v2"));
  g_assert_true (label_scheme_get ("total_v1") == get ("totalseg-v1"));
  g_assert_true (label_scheme_get ("TotalSeg_V2") == get ("totalseg-v2"));
  g_assert_true (label_scheme_get ("AMOS") == get ("amos15"));
  g_assert_null (label_scheme_get ("totalseg-v3"));
  g_assert_null (label_scheme_get (NULL));

  g_assert_null (label_scheme_lookup ("nope", &error));
  g_assert_error (error, LABEL_SCHEME_ERROR, LABEL_SCHEME_ERROR_UNKNOWN);
  g_assert_nonnull (strstr (error->message, "nope"));
  g_assert_nonnull (strstr (error->message, "totalseg-v1"));
  g_assert_nonnull (strstr (error->message, "amos15"));
}

/* Every scheme: sorted unique ids, names that find their own id, organs in range. */
static void
test_data_consistent (void)
{
  int n = 0;
  const LabelScheme *const *list = label_scheme_list (&n);
  const int expected_n[] = { 12, 117, 104, 15 };

  for (int k = 0; k < n; k++)
    {
      const LabelScheme *s = list[k];
      int m = label_scheme_get_n_entries (s);

      g_assert_cmpint (m, ==, expected_n[k]);
      g_assert_cmpint (label_scheme_get_max_id (s), ==, expected_n[k]);
      g_assert_null (label_scheme_get_entry (s, -1));
      g_assert_null (label_scheme_get_entry (s, m));
      g_assert_null (label_scheme_lookup_id (s, 0));
      g_assert_cmpint (label_scheme_class_of (s, 0), ==, 0);
      g_assert_cmpint (label_scheme_class_of (s, -3), ==, -1);
      for (int i = 0; i < m; i++)
        {
          const LabelSchemeEntry *e = label_scheme_get_entry (s, i);
          /* Ids 1..N without gaps in all four schemes. */
          g_assert_cmpint (e->id, ==, i + 1);
          g_assert_true (label_scheme_lookup_id (s, e->id) == e);
          g_assert_cmpuint (strlen (e->name), >, 0);
          g_assert_cmpint (e->organ, >=, 0);
          g_assert_cmpint (e->organ, <=, LT_N_ORGANS);
          if (label_scheme_find_name (s, e->name) != e->id)
            g_error ("%s: “%s” finds id %d, not %d", label_scheme_get_name (s), e->name,
                     label_scheme_find_name (s, e->name), e->id);
        }
    }
}

static void
check_against_ranges (const LabelScheme *s, const Range *r, gsize n)
{
  for (int i = 0; i < label_scheme_get_n_entries (s); i++)
    {
      const LabelSchemeEntry *e = label_scheme_get_entry (s, i);
      int32_t want = expected_organ (r, n, e->id);
      if (e->organ != want)
        g_error ("%s: id %d “%s” maps to %d, expected %d", label_scheme_get_name (s), e->id,
                 e->name, e->organ, want);
    }
}

static void
test_totalseg_v2 (void)
{
  const LabelScheme *s = get ("totalseg-v2");
  g_autofree char *name = NULL;
  int n = 0;
  g_autofree int32_t *ribs = NULL;

  g_assert_cmpint (label_scheme_get_n_entries (s), ==, 117);
  check_against_ranges (s, v2_ranges, G_N_ELEMENTS (v2_ranges));

  assert_entry (s, 1, "spleen", LT_SPLEEN, LABEL_SIDE_NONE);
  assert_entry (s, 2, "kidney_right", LT_KIDNEY, LABEL_SIDE_RIGHT);
  assert_entry (s, 3, "kidney_left", LT_KIDNEY, LABEL_SIDE_LEFT);
  assert_entry (s, 4, "gallbladder", 0, LABEL_SIDE_NONE);
  assert_entry (s, 5, "liver", LT_LIVER, LABEL_SIDE_NONE);
  assert_entry (s, 6, "stomach", LT_STOMACH, LABEL_SIDE_NONE);
  assert_entry (s, 7, "pancreas", LT_PANCREAS, LABEL_SIDE_NONE);
  assert_entry (s, 8, "adrenal_gland_right", 0, LABEL_SIDE_RIGHT);
  assert_entry (s, 10, "lung_upper_lobe_left", LT_LUNG, LABEL_SIDE_LEFT);
  assert_entry (s, 11, "lung_lower_lobe_left", LT_LUNG, LABEL_SIDE_LEFT);
  assert_entry (s, 12, "lung_upper_lobe_right", LT_LUNG, LABEL_SIDE_RIGHT);
  assert_entry (s, 13, "lung_middle_lobe_right", LT_LUNG, LABEL_SIDE_RIGHT);
  assert_entry (s, 14, "lung_lower_lobe_right", LT_LUNG, LABEL_SIDE_RIGHT);
  assert_entry (s, 23, "kidney_cyst_left", 0, LABEL_SIDE_LEFT);
  assert_entry (s, 24, "kidney_cyst_right", 0, LABEL_SIDE_RIGHT);
  assert_entry (s, 25, "sacrum", 0, LABEL_SIDE_NONE);
  assert_entry (s, 26, "vertebrae_S1", 0, LABEL_SIDE_NONE);
  assert_entry (s, 27, "vertebrae_L5", LT_SPINE, LABEL_SIDE_NONE);
  assert_entry (s, 31, "vertebrae_L1", LT_SPINE, LABEL_SIDE_NONE);
  assert_entry (s, 32, "vertebrae_T12", LT_SPINE, LABEL_SIDE_NONE);
  assert_entry (s, 43, "vertebrae_T1", LT_SPINE, LABEL_SIDE_NONE);
  assert_entry (s, 44, "vertebrae_C7", LT_SPINE, LABEL_SIDE_NONE);
  assert_entry (s, 50, "vertebrae_C1", LT_SPINE, LABEL_SIDE_NONE);
  assert_entry (s, 51, "heart", LT_HEART, LABEL_SIDE_NONE);
  assert_entry (s, 52, "aorta", LT_AORTA, LABEL_SIDE_NONE);
  assert_entry (s, 53, "pulmonary_vein", 0, LABEL_SIDE_NONE);
  assert_entry (s, 61, "atrial_appendage_left", 0, LABEL_SIDE_LEFT);
  assert_entry (s, 63, "inferior_vena_cava", 0, LABEL_SIDE_NONE);
  assert_entry (s, 79, "spinal_cord", 0, LABEL_SIDE_NONE);
  assert_entry (s, 86, "autochthon_left", LT_AUTOCHTHON, LABEL_SIDE_LEFT);
  assert_entry (s, 87, "autochthon_right", LT_AUTOCHTHON, LABEL_SIDE_RIGHT);
  assert_entry (s, 88, "iliopsoas_left", 0, LABEL_SIDE_LEFT);
  assert_entry (s, 91, "skull", 0, LABEL_SIDE_NONE);
  assert_entry (s, 92, "rib_left_1", LT_RIB_CAGE, LABEL_SIDE_LEFT);
  assert_entry (s, 103, "rib_left_12", LT_RIB_CAGE, LABEL_SIDE_LEFT);
  assert_entry (s, 104, "rib_right_1", LT_RIB_CAGE, LABEL_SIDE_RIGHT);
  assert_entry (s, 115, "rib_right_12", LT_RIB_CAGE, LABEL_SIDE_RIGHT);
  assert_entry (s, 116, "sternum", LT_RIB_CAGE, LABEL_SIDE_NONE);
  assert_entry (s, 117, "costal_cartilages", LT_RIB_CAGE, LABEL_SIDE_NONE);

  /* All vertebrae by name: C1..C7, T1..T12, L1..L5 are spine. */
  for (int level = 0; level < 3; level++)
    for (int k = 1; k <= (int []) { 7, 12, 5 }[level]; k++)
      {
        g_free (name);
        name = g_strdup_printf ("vertebrae_%c%d", "CTL"[level], k);
        g_assert_cmpint (label_scheme_class_of (s, label_scheme_find_name (s, name)), ==, LT_SPINE);
      }

  ribs = label_scheme_dup_ids_of_class (s, LT_RIB_CAGE, &n);
  g_assert_cmpint (n, ==, 26);
  g_assert_cmpint (ribs[0], ==, 92);
  g_assert_cmpint (ribs[25], ==, 117);
  g_free (label_scheme_dup_ids_of_class (s, LT_PULMONARY_ARTERY, &n));
  g_assert_cmpint (n, ==, 0);
  g_free (label_scheme_dup_ids_of_class (s, LT_SPINE, &n));
  g_assert_cmpint (n, ==, 24);
  g_free (label_scheme_dup_ids_of_class (s, 0, &n));
  g_assert_cmpint (n, ==, 0);
  g_assert_cmpint (label_scheme_class_of (s, 118), ==, LT_LUNG);  /* reserved, see below */
  g_assert_cmpint (label_scheme_class_of (s, 200), ==, -1);
}

static void
test_totalseg_v1 (void)
{
  const LabelScheme *s = get ("totalseg-v1");
  int n = 0;

  g_assert_cmpint (label_scheme_get_n_entries (s), ==, 104);
  check_against_ranges (s, v1_ranges, G_N_ELEMENTS (v1_ranges));

  assert_entry (s, 1, "spleen", LT_SPLEEN, LABEL_SIDE_NONE);
  assert_entry (s, 2, "kidney_right", LT_KIDNEY, LABEL_SIDE_RIGHT);
  assert_entry (s, 3, "kidney_left", LT_KIDNEY, LABEL_SIDE_LEFT);
  assert_entry (s, 5, "liver", LT_LIVER, LABEL_SIDE_NONE);
  assert_entry (s, 6, "stomach", LT_STOMACH, LABEL_SIDE_NONE);
  assert_entry (s, 7, "aorta", LT_AORTA, LABEL_SIDE_NONE);
  assert_entry (s, 8, "inferior_vena_cava", 0, LABEL_SIDE_NONE);
  assert_entry (s, 10, "pancreas", LT_PANCREAS, LABEL_SIDE_NONE);
  assert_entry (s, 13, "lung_upper_lobe_left", LT_LUNG, LABEL_SIDE_LEFT);
  assert_entry (s, 17, "lung_lower_lobe_right", LT_LUNG, LABEL_SIDE_RIGHT);
  assert_entry (s, 18, "vertebrae_L5", LT_SPINE, LABEL_SIDE_NONE);
  assert_entry (s, 41, "vertebrae_C1", LT_SPINE, LABEL_SIDE_NONE);
  assert_entry (s, 42, "esophagus", 0, LABEL_SIDE_NONE);
  assert_entry (s, 44, "heart_myocardium", LT_HEART, LABEL_SIDE_NONE);
  assert_entry (s, 45, "heart_atrium_left", LT_HEART, LABEL_SIDE_LEFT);
  assert_entry (s, 48, "heart_ventricle_right", LT_HEART, LABEL_SIDE_RIGHT);
  assert_entry (s, 49, "pulmonary_artery", LT_PULMONARY_ARTERY, LABEL_SIDE_NONE);
  assert_entry (s, 58, "rib_left_1", LT_RIB_CAGE, LABEL_SIDE_LEFT);
  assert_entry (s, 81, "rib_right_12", LT_RIB_CAGE, LABEL_SIDE_RIGHT);
  assert_entry (s, 92, "sacrum", 0, LABEL_SIDE_NONE);
  assert_entry (s, 93, "face", 0, LABEL_SIDE_NONE);
  assert_entry (s, 100, "autochthon_left", LT_AUTOCHTHON, LABEL_SIDE_LEFT);
  assert_entry (s, 101, "autochthon_right", LT_AUTOCHTHON, LABEL_SIDE_RIGHT);
  assert_entry (s, 104, "urinary_bladder", 0, LABEL_SIDE_NONE);

  /* v1 has no sternum, costal cartilages, S1 or v2-style heart. */
  g_assert_cmpint (label_scheme_find_name (s, "sternum"), ==, -1);
  g_assert_cmpint (label_scheme_find_name (s, "costal_cartilages"), ==, -1);
  g_assert_cmpint (label_scheme_find_name (s, "vertebrae_S1"), ==, -1);
  g_assert_cmpint (label_scheme_find_name (s, "heart"), ==, -1);
  g_free (label_scheme_dup_ids_of_class (s, LT_RIB_CAGE, &n));
  g_assert_cmpint (n, ==, 24);
  g_free (label_scheme_dup_ids_of_class (s, LT_HEART, &n));
  g_assert_cmpint (n, ==, 5);
}

static void
test_amos_and_benchmark (void)
{
  const LabelScheme *a = get ("amos15");
  const LabelScheme *b = get ("benchmark12");

  check_against_ranges (a, amos_ranges, G_N_ELEMENTS (amos_ranges));
  assert_entry (a, 1, "spleen", LT_SPLEEN, LABEL_SIDE_NONE);
  assert_entry (a, 2, "right kidney", LT_KIDNEY, LABEL_SIDE_RIGHT);
  assert_entry (a, 3, "left kidney", LT_KIDNEY, LABEL_SIDE_LEFT);
  assert_entry (a, 4, "gall bladder", 0, LABEL_SIDE_NONE);
  assert_entry (a, 5, "esophagus", 0, LABEL_SIDE_NONE);
  assert_entry (a, 6, "liver", LT_LIVER, LABEL_SIDE_NONE);
  assert_entry (a, 7, "stomach", LT_STOMACH, LABEL_SIDE_NONE);
  assert_entry (a, 8, "aorta", LT_AORTA, LABEL_SIDE_NONE);
  assert_entry (a, 9, "postcava", 0, LABEL_SIDE_NONE);
  assert_entry (a, 10, "pancreas", LT_PANCREAS, LABEL_SIDE_NONE);
  assert_entry (a, 11, "right adrenal gland", 0, LABEL_SIDE_RIGHT);
  assert_entry (a, 12, "left adrenal gland", 0, LABEL_SIDE_LEFT);
  assert_entry (a, 13, "duodenum", 0, LABEL_SIDE_NONE);
  assert_entry (a, 14, "bladder", 0, LABEL_SIDE_NONE);
  assert_entry (a, 15, "prostate/uterus", 0, LABEL_SIDE_NONE);
  /* The dataset.json spellings and the TotalSegmentator ones find the same ids. */
  g_assert_cmpint (label_scheme_find_name (a, "arota"), ==, 8);
  g_assert_cmpint (label_scheme_find_name (a, "inferior_vena_cava"), ==, 9);
  g_assert_cmpint (label_scheme_find_name (a, "kidney_left"), ==, 3);
  g_assert_cmpint (label_scheme_find_name (a, "Prostate_Uterus"), ==, 15);
  g_assert_cmpint (label_scheme_find_name (a, "background"), ==, 0);

  for (int32_t c = 1; c <= LT_N_ORGANS; c++)
    assert_entry (b, c, lt_default_class_name (c), c, LABEL_SIDE_NONE);
  g_assert_cmpint (label_scheme_find_name (b, "Rib_Cage"), ==, LT_RIB_CAGE);
  g_assert_cmpint (label_scheme_find_name (b, "autochthon"), ==, LT_AUTOCHTHON);
  g_assert_cmpint (label_scheme_class_of (b, 13), ==, -1);
}

/* ------------------------------------------------------------------------- */
/* Write-back                                                                */

static void
assert_write_back (const char *scheme, int32_t organ, LabelSchemeWriteKind kind, int32_t id,
                   const char *name, int32_t left, int32_t right, int n_parts)
{
  const LabelScheme *s = get (scheme);
  const LabelSchemeWriteBack *wb = label_scheme_get_write_back (s, organ);

  g_assert_nonnull (wb);
  if (wb->kind != kind || wb->id != id || wb->left_id != left || wb->right_id != right
      || wb->n_parts != n_parts || strcmp (wb->name, name) != 0)
    g_error ("%s, organ %d: kind %d id %d “%s” left %d right %d parts %d; expected "
             "%d %d “%s” %d %d %d", scheme, organ, wb->kind, wb->id, wb->name, wb->left_id,
             wb->right_id, wb->n_parts, kind, id, name, left, right, n_parts);
  g_assert_cmpint (label_scheme_class_of (s, wb->id), ==, organ);
  g_assert_cmpint (label_scheme_find_name (s, wb->name), ==, wb->id);
}

static void
test_write_back (void)
{
  const LabelSchemeWriteKind S = LABEL_SCHEME_WRITE_SINGLE, B = LABEL_SCHEME_WRITE_BY_SIDE,
                             N = LABEL_SCHEME_WRITE_NEW_ID;

  /* v2: max id 117, reserved ids 117 + organ. */
  assert_write_back ("totalseg-v2", LT_LUNG, N, 118, "lung (completed)", -1, -1, 5);
  assert_write_back ("totalseg-v2", LT_HEART, S, 51, "heart", -1, -1, 1);
  assert_write_back ("totalseg-v2", LT_SPLEEN, S, 1, "spleen", -1, -1, 1);
  assert_write_back ("totalseg-v2", LT_STOMACH, S, 6, "stomach", -1, -1, 1);
  assert_write_back ("totalseg-v2", LT_PANCREAS, S, 7, "pancreas", -1, -1, 1);
  assert_write_back ("totalseg-v2", LT_SPINE, N, 123, "spine (completed)", -1, -1, 24);
  assert_write_back ("totalseg-v2", LT_RIB_CAGE, N, 124, "rib cage (completed)", -1, -1, 26);
  assert_write_back ("totalseg-v2", LT_LIVER, S, 5, "liver", -1, -1, 1);
  assert_write_back ("totalseg-v2", LT_KIDNEY, B, 126, "kidney (completed)", 3, 2, 2);
  assert_write_back ("totalseg-v2", LT_AORTA, S, 52, "aorta", -1, -1, 1);
  assert_write_back ("totalseg-v2", LT_AUTOCHTHON, B, 128, "autochthon muscles (completed)", 86, 87, 2);
  assert_write_back ("totalseg-v2", LT_PULMONARY_ARTERY, N, 129, "pulmonary artery (completed)", -1, -1, 0);

  /* v1: max id 104. */
  assert_write_back ("totalseg-v1", LT_LUNG, N, 105, "lung (completed)", -1, -1, 5);
  assert_write_back ("totalseg-v1", LT_HEART, N, 106, "heart (completed)", -1, -1, 5);
  assert_write_back ("totalseg-v1", LT_PANCREAS, S, 10, "pancreas", -1, -1, 1);
  assert_write_back ("totalseg-v1", LT_SPINE, N, 110, "spine (completed)", -1, -1, 24);
  assert_write_back ("totalseg-v1", LT_RIB_CAGE, N, 111, "rib cage (completed)", -1, -1, 24);
  assert_write_back ("totalseg-v1", LT_KIDNEY, B, 113, "kidney (completed)", 3, 2, 2);
  assert_write_back ("totalseg-v1", LT_AORTA, S, 7, "aorta", -1, -1, 1);
  assert_write_back ("totalseg-v1", LT_AUTOCHTHON, B, 115, "autochthon muscles (completed)", 100, 101, 2);
  assert_write_back ("totalseg-v1", LT_PULMONARY_ARTERY, S, 49, "pulmonary_artery", -1, -1, 1);

  /* AMOS: max id 15; no lung, heart, spine, ribs, autochthon or pulmonary artery. */
  assert_write_back ("amos15", LT_LUNG, N, 16, "lung (completed)", -1, -1, 0);
  assert_write_back ("amos15", LT_HEART, N, 17, "heart (completed)", -1, -1, 0);
  assert_write_back ("amos15", LT_SPLEEN, S, 1, "spleen", -1, -1, 1);
  assert_write_back ("amos15", LT_STOMACH, S, 7, "stomach", -1, -1, 1);
  assert_write_back ("amos15", LT_PANCREAS, S, 10, "pancreas", -1, -1, 1);
  assert_write_back ("amos15", LT_SPINE, N, 21, "spine (completed)", -1, -1, 0);
  assert_write_back ("amos15", LT_LIVER, S, 6, "liver", -1, -1, 1);
  assert_write_back ("amos15", LT_KIDNEY, B, 24, "kidney (completed)", 3, 2, 2);
  assert_write_back ("amos15", LT_AORTA, S, 8, "aorta", -1, -1, 1);
  assert_write_back ("amos15", LT_PULMONARY_ARTERY, N, 27, "pulmonary artery (completed)", -1, -1, 0);

  /* The benchmark writes each organ with its own id, and has no reserved ids. */
  for (int32_t c = 1; c <= LT_N_ORGANS; c++)
    assert_write_back ("benchmark12", c, S, c, lt_default_class_name (c), -1, -1, 1);

  /* Reserved ids exist only for organs without a single id. */
  g_assert_cmpint (label_scheme_class_of (get ("totalseg-v2"), 117 + LT_LIVER), ==, -1);
  g_assert_cmpint (label_scheme_class_of (get ("totalseg-v2"), 117 + LT_N_ORGANS + 1), ==, -1);
  g_assert_null (label_scheme_lookup_id (get ("totalseg-v2"), 118));
  g_assert_null (label_scheme_get_write_back (get ("totalseg-v2"), 0));
  g_assert_null (label_scheme_get_write_back (get ("totalseg-v2"), 13));
}

/* ------------------------------------------------------------------------- */
/* Tables                                                                    */

static int
colour_distance (const guint8 a[4], const guint8 b[4])
{
  return abs (a[0] - b[0]) + abs (a[1] - b[1]) + abs (a[2] - b[2]);
}

static void
test_dup_table (void)
{
  const LabelScheme *s = get ("totalseg-v2");
  g_autoptr (LabelTable) t = label_scheme_dup_table (s, LABEL_SCHEME_TABLE_DEFAULT);
  g_autoptr (LabelTable) tc = label_scheme_dup_table (s, LABEL_SCHEME_TABLE_COMPLETED);
  g_autoptr (LabelTable) classes = lt_table_new_default ();
  guint8 left[4], right[4], kidney[4], liver[4], c[4];

  g_assert_cmpuint (t->entries->len, ==, 118);  /* background + 117 */
  g_assert_cmpstr (lt_table_lookup (t, 0)->name, ==, "background");
  g_assert_cmpstr (lt_table_lookup (t, 87)->name, ==, "autochthon_right");
  g_assert_null (lt_table_lookup (t, 118));
  g_assert_cmpint (lt_table_find_name (t, "Lung Upper Lobe Left"), ==, 10);

  /* One organ, one colour family: both kidneys near the kidney colour, yet distinct. */
  lt_table_get_color (t, 3, left);
  lt_table_get_color (t, 2, right);
  lt_table_get_color (classes, LT_KIDNEY, kidney);
  g_assert_cmpint (colour_distance (left, right), >, 30);
  g_assert_cmpint (colour_distance (left, kidney), <, 200);
  g_assert_cmpint (colour_distance (right, kidney), <, 200);
  /* A one-id organ has the class colour exactly; every id is opaque. */
  lt_table_get_color (t, 5, c);
  lt_table_get_color (classes, LT_LIVER, liver);
  g_assert_cmpint (colour_distance (c, liver), ==, 0);
  for (guint i = 1; i < t->entries->len; i++)
    g_assert_cmpint (g_array_index (t->entries, LabelEntry, i).rgba[3], ==, 255);

  /* The completed table adds the reserved ids: lung, spine, rib cage, kidney,
   * autochthon, pulmonary artery. */
  g_assert_cmpuint (tc->entries->len, ==, 118 + 6);
  g_assert_cmpstr (lt_table_lookup (tc, 118)->name, ==, "lung (completed)");
  g_assert_cmpstr (lt_table_lookup (tc, 129)->name, ==, "pulmonary artery (completed)");
  g_assert_null (lt_table_lookup (tc, 117 + LT_LIVER));

  /* Every scheme's table names what the scheme names. */
  int n = 0;
  const LabelScheme *const *list = label_scheme_list (&n);
  for (int k = 0; k < n; k++)
    {
      g_autoptr (LabelTable) tk = label_scheme_dup_table (list[k], LABEL_SCHEME_TABLE_DEFAULT);
      for (int i = 0; i < label_scheme_get_n_entries (list[k]); i++)
        {
          const LabelSchemeEntry *e = label_scheme_get_entry (list[k], i);
          g_assert_cmpstr (lt_table_lookup (tk, e->id)->name, ==, e->name);
        }
    }
}

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

static void
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
  g_assert_nonnull (strstr (error->message, "--scheme"));
  g_assert_nonnull (strstr (error->message, "mixed"));
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

static void
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
static void
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
static void
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

static void
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
  g_assert_nonnull (strstr (error->message, "case7.nii.gz"));
  g_assert_nonnull (strstr (error->message, "117"));
  g_assert_nonnull (strstr (error->message, "--scheme NAME"));
  g_assert_nonnull (strstr (error->message, "label table"));
  for (int i = 0; i < 4; i++)
    g_assert_nonnull (strstr (error->message, label_scheme_get_name (label_scheme_list (NULL)[i])));
  g_clear_error (&error);

  g_assert_null (label_scheme_for_unnamed (c, NULL, &error));
  g_assert_error (error, LABEL_SCHEME_ERROR, LABEL_SCHEME_ERROR_UNKNOWN_ID);
  g_assert_nonnull (strstr (error->message, "-2"));
  g_clear_error (&error);
}

static void
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

static void
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
  g_assert_nonnull (strstr (error->message, "bad.nii.gz"));
  g_assert_nonnull (strstr (error->message, "200 (2 voxels)"));
  g_assert_nonnull (strstr (error->message, "250 (1 voxel)"));
  g_assert_nonnull (strstr (error->message, "totalseg-v2"));
  g_clear_error (&error);

  /* Huge and negative int32 labels: an error, and no table indexed by label. */
  const int32_t huge[] = { 0, 1000000000, -7, 5 };
  g_autoptr (LabelVolume) h = volume_with (huge, G_N_ELEMENTS (huge), 4);
  g_assert_null (label_scheme_map_volume (get ("totalseg-v2"), h, NULL, &error));
  g_assert_error (error, LABEL_SCHEME_ERROR, LABEL_SCHEME_ERROR_UNKNOWN_ID);
  g_assert_nonnull (strstr (error->message, "1000000000"));
  g_assert_nonnull (strstr (error->message, "-7"));
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

static void
test_map_real_s0004 (void)
{
  check_real_pair ("totalseg-v2", "s0004_totalseg_v2.nii.gz", "s0004_12class.nii.gz");
}

static void
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

/* Schemes are built once, on first use, from any thread. */
static gpointer
list_in_thread (gpointer data)
{
  int n = 0;
  const LabelScheme *const *list = label_scheme_list (&n);
  return (gpointer) list[GPOINTER_TO_INT (data) % n];
}

static void
test_threads (void)
{
  GThread *threads[8];

  for (int i = 0; i < 8; i++)
    threads[i] = g_thread_new ("scheme", list_in_thread, GINT_TO_POINTER (i));
  for (int i = 0; i < 8; i++)
    g_assert_true (g_thread_join (threads[i]) == label_scheme_list (NULL)[i % 4]);
}

static const TestCase test_cases[] = {
  { "/label-scheme/threads", test_threads },
  { "/label-scheme/registry", test_registry },
  { "/label-scheme/data-consistent", test_data_consistent },
  { "/label-scheme/totalseg-v2", test_totalseg_v2 },
  { "/label-scheme/totalseg-v1", test_totalseg_v1 },
  { "/label-scheme/amos-benchmark", test_amos_and_benchmark },
  { "/label-scheme/write-back", test_write_back },
  { "/label-scheme/dup-table", test_dup_table },
  { "/label-scheme/detect-tables", test_detect_tables },
  { "/label-scheme/detect-names", test_detect_names },
  { "/label-scheme/detect-caret-xml", test_detect_caret_xml },
  { "/label-scheme/detect-real-nifti", test_detect_real_nifti },
  { "/label-scheme/unnamed", test_unnamed },
  { "/label-scheme/resolve", test_resolve },
  { "/label-scheme/map-synthetic", test_map_synthetic },
  { "/label-scheme/map-real-s0004", test_map_real_s0004 },
  { "/label-scheme/map-real-others", test_map_real_other },
};

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  /* First, so that the schemes get built by concurrent callers. */
  test_util_add (test_cases, G_N_ELEMENTS (test_cases));
  return g_test_run ();
}
