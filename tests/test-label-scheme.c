/* test-label-scheme.c: the label schemes (ids, names, 12-class mapping, sides,
 * write-back rules, tables) and their building from many threads here; detection, unnamed
 * volumes and mapping in test-label-scheme-detect.c. */
#include "test-label-scheme-util.h"
#include "nifti.h"

#include <string.h>
#include "test-util.h"

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

/* The entries the schemes must have: the scheme, the id, name, benchmark class
 * (LT_BACKGROUND: none of the 12) and side. */
static const struct {
  const char *scheme;
  int32_t id;
  const char *name;
  int32_t organ;
  LabelSide side;
} expected_entries[] = {
  { "totalseg-v2", 1, "spleen", LT_SPLEEN, LABEL_SIDE_NONE },
  { "totalseg-v2", 2, "kidney_right", LT_KIDNEY, LABEL_SIDE_RIGHT },
  { "totalseg-v2", 3, "kidney_left", LT_KIDNEY, LABEL_SIDE_LEFT },
  { "totalseg-v2", 4, "gallbladder", LT_BACKGROUND, LABEL_SIDE_NONE },
  { "totalseg-v2", 5, "liver", LT_LIVER, LABEL_SIDE_NONE },
  { "totalseg-v2", 6, "stomach", LT_STOMACH, LABEL_SIDE_NONE },
  { "totalseg-v2", 7, "pancreas", LT_PANCREAS, LABEL_SIDE_NONE },
  { "totalseg-v2", 8, "adrenal_gland_right", LT_BACKGROUND, LABEL_SIDE_RIGHT },
  { "totalseg-v2", 10, "lung_upper_lobe_left", LT_LUNG, LABEL_SIDE_LEFT },
  { "totalseg-v2", 11, "lung_lower_lobe_left", LT_LUNG, LABEL_SIDE_LEFT },
  { "totalseg-v2", 12, "lung_upper_lobe_right", LT_LUNG, LABEL_SIDE_RIGHT },
  { "totalseg-v2", 13, "lung_middle_lobe_right", LT_LUNG, LABEL_SIDE_RIGHT },
  { "totalseg-v2", 14, "lung_lower_lobe_right", LT_LUNG, LABEL_SIDE_RIGHT },
  { "totalseg-v2", 23, "kidney_cyst_left", LT_BACKGROUND, LABEL_SIDE_LEFT },
  { "totalseg-v2", 24, "kidney_cyst_right", LT_BACKGROUND, LABEL_SIDE_RIGHT },
  { "totalseg-v2", 25, "sacrum", LT_BACKGROUND, LABEL_SIDE_NONE },
  { "totalseg-v2", 26, "vertebrae_S1", LT_BACKGROUND, LABEL_SIDE_NONE },
  { "totalseg-v2", 27, "vertebrae_L5", LT_SPINE, LABEL_SIDE_NONE },
  { "totalseg-v2", 31, "vertebrae_L1", LT_SPINE, LABEL_SIDE_NONE },
  { "totalseg-v2", 32, "vertebrae_T12", LT_SPINE, LABEL_SIDE_NONE },
  { "totalseg-v2", 43, "vertebrae_T1", LT_SPINE, LABEL_SIDE_NONE },
  { "totalseg-v2", 44, "vertebrae_C7", LT_SPINE, LABEL_SIDE_NONE },
  { "totalseg-v2", 50, "vertebrae_C1", LT_SPINE, LABEL_SIDE_NONE },
  { "totalseg-v2", 51, "heart", LT_HEART, LABEL_SIDE_NONE },
  { "totalseg-v2", 52, "aorta", LT_AORTA, LABEL_SIDE_NONE },
  { "totalseg-v2", 53, "pulmonary_vein", LT_BACKGROUND, LABEL_SIDE_NONE },
  { "totalseg-v2", 61, "atrial_appendage_left", LT_BACKGROUND, LABEL_SIDE_LEFT },
  { "totalseg-v2", 63, "inferior_vena_cava", LT_BACKGROUND, LABEL_SIDE_NONE },
  { "totalseg-v2", 79, "spinal_cord", LT_BACKGROUND, LABEL_SIDE_NONE },
  { "totalseg-v2", 86, "autochthon_left", LT_AUTOCHTHON, LABEL_SIDE_LEFT },
  { "totalseg-v2", 87, "autochthon_right", LT_AUTOCHTHON, LABEL_SIDE_RIGHT },
  { "totalseg-v2", 88, "iliopsoas_left", LT_BACKGROUND, LABEL_SIDE_LEFT },
  { "totalseg-v2", 91, "skull", LT_BACKGROUND, LABEL_SIDE_NONE },
  { "totalseg-v2", 92, "rib_left_1", LT_RIB_CAGE, LABEL_SIDE_LEFT },
  { "totalseg-v2", 103, "rib_left_12", LT_RIB_CAGE, LABEL_SIDE_LEFT },
  { "totalseg-v2", 104, "rib_right_1", LT_RIB_CAGE, LABEL_SIDE_RIGHT },
  { "totalseg-v2", 115, "rib_right_12", LT_RIB_CAGE, LABEL_SIDE_RIGHT },
  { "totalseg-v2", 116, "sternum", LT_RIB_CAGE, LABEL_SIDE_NONE },
  { "totalseg-v2", 117, "costal_cartilages", LT_RIB_CAGE, LABEL_SIDE_NONE },
  { "totalseg-v1", 1, "spleen", LT_SPLEEN, LABEL_SIDE_NONE },
  { "totalseg-v1", 2, "kidney_right", LT_KIDNEY, LABEL_SIDE_RIGHT },
  { "totalseg-v1", 3, "kidney_left", LT_KIDNEY, LABEL_SIDE_LEFT },
  { "totalseg-v1", 5, "liver", LT_LIVER, LABEL_SIDE_NONE },
  { "totalseg-v1", 6, "stomach", LT_STOMACH, LABEL_SIDE_NONE },
  { "totalseg-v1", 7, "aorta", LT_AORTA, LABEL_SIDE_NONE },
  { "totalseg-v1", 8, "inferior_vena_cava", LT_BACKGROUND, LABEL_SIDE_NONE },
  { "totalseg-v1", 10, "pancreas", LT_PANCREAS, LABEL_SIDE_NONE },
  { "totalseg-v1", 13, "lung_upper_lobe_left", LT_LUNG, LABEL_SIDE_LEFT },
  { "totalseg-v1", 17, "lung_lower_lobe_right", LT_LUNG, LABEL_SIDE_RIGHT },
  { "totalseg-v1", 18, "vertebrae_L5", LT_SPINE, LABEL_SIDE_NONE },
  { "totalseg-v1", 41, "vertebrae_C1", LT_SPINE, LABEL_SIDE_NONE },
  { "totalseg-v1", 42, "esophagus", LT_BACKGROUND, LABEL_SIDE_NONE },
  { "totalseg-v1", 44, "heart_myocardium", LT_HEART, LABEL_SIDE_NONE },
  { "totalseg-v1", 45, "heart_atrium_left", LT_HEART, LABEL_SIDE_LEFT },
  { "totalseg-v1", 48, "heart_ventricle_right", LT_HEART, LABEL_SIDE_RIGHT },
  { "totalseg-v1", 49, "pulmonary_artery", LT_PULMONARY_ARTERY, LABEL_SIDE_NONE },
  { "totalseg-v1", 58, "rib_left_1", LT_RIB_CAGE, LABEL_SIDE_LEFT },
  { "totalseg-v1", 81, "rib_right_12", LT_RIB_CAGE, LABEL_SIDE_RIGHT },
  { "totalseg-v1", 92, "sacrum", LT_BACKGROUND, LABEL_SIDE_NONE },
  { "totalseg-v1", 93, "face", LT_BACKGROUND, LABEL_SIDE_NONE },
  { "totalseg-v1", 100, "autochthon_left", LT_AUTOCHTHON, LABEL_SIDE_LEFT },
  { "totalseg-v1", 101, "autochthon_right", LT_AUTOCHTHON, LABEL_SIDE_RIGHT },
  { "totalseg-v1", 104, "urinary_bladder", LT_BACKGROUND, LABEL_SIDE_NONE },
  { "amos15", 1, "spleen", LT_SPLEEN, LABEL_SIDE_NONE },
  { "amos15", 2, "right kidney", LT_KIDNEY, LABEL_SIDE_RIGHT },
  { "amos15", 3, "left kidney", LT_KIDNEY, LABEL_SIDE_LEFT },
  { "amos15", 4, "gall bladder", LT_BACKGROUND, LABEL_SIDE_NONE },
  { "amos15", 5, "esophagus", LT_BACKGROUND, LABEL_SIDE_NONE },
  { "amos15", 6, "liver", LT_LIVER, LABEL_SIDE_NONE },
  { "amos15", 7, "stomach", LT_STOMACH, LABEL_SIDE_NONE },
  { "amos15", 8, "aorta", LT_AORTA, LABEL_SIDE_NONE },
  { "amos15", 9, "postcava", LT_BACKGROUND, LABEL_SIDE_NONE },
  { "amos15", 10, "pancreas", LT_PANCREAS, LABEL_SIDE_NONE },
  { "amos15", 11, "right adrenal gland", LT_BACKGROUND, LABEL_SIDE_RIGHT },
  { "amos15", 12, "left adrenal gland", LT_BACKGROUND, LABEL_SIDE_LEFT },
  { "amos15", 13, "duodenum", LT_BACKGROUND, LABEL_SIDE_NONE },
  { "amos15", 14, "bladder", LT_BACKGROUND, LABEL_SIDE_NONE },
  { "amos15", 15, "prostate/uterus", LT_BACKGROUND, LABEL_SIDE_NONE },
};

/* assert_entry for each of the expected_entries of @s. */
static void
assert_entries (const LabelScheme *s)
{
  int n = 0;

  for (gsize i = 0; i < G_N_ELEMENTS (expected_entries); i++)
    if (strcmp (expected_entries[i].scheme, label_scheme_get_name (s)) == 0)
      {
        assert_entry (s, expected_entries[i].id, expected_entries[i].name, expected_entries[i].organ,
                      expected_entries[i].side);
        n++;
      }
  g_assert_cmpint (n, >, 0);
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
  test_assert_message_has (error, "nope", "totalseg-v1", "amos15", NULL);
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

  assert_entries (s);

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
  g_assert_false (label_scheme_labels_organ (s, LT_PULMONARY_ARTERY));
  g_free (label_scheme_dup_ids_of_class (s, LT_SPINE, &n));
  g_assert_cmpint (n, ==, 24);
  g_assert_true (label_scheme_labels_organ (s, LT_SPINE));
  g_assert_false (label_scheme_labels_organ (s, 0));
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

  assert_entries (s);

  /* v1 has no sternum, costal cartilages, S1 or v2-style heart. */
  g_assert_cmpint (label_scheme_find_name (s, "sternum"), ==, -1);
  g_assert_cmpint (label_scheme_find_name (s, "costal_cartilages"), ==, -1);
  g_assert_cmpint (label_scheme_find_name (s, "vertebrae_S1"), ==, -1);
  g_assert_cmpint (label_scheme_find_name (s, "heart"), ==, -1);
  g_free (label_scheme_dup_ids_of_class (s, LT_RIB_CAGE, &n));
  g_assert_cmpint (n, ==, 24);
  g_free (label_scheme_dup_ids_of_class (s, LT_HEART, &n));
  g_assert_cmpint (n, ==, 5);
  g_assert_true (label_scheme_labels_organ (s, LT_PULMONARY_ARTERY));
}

static void
test_amos_and_benchmark (void)
{
  const LabelScheme *a = get ("amos15");
  const LabelScheme *b = get ("benchmark12");

  check_against_ranges (a, amos_ranges, G_N_ELEMENTS (amos_ranges));
  assert_entries (a);
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

  /* The write-back of each scheme's organ.  v2: max id 117, reserved ids 117 + organ; v1:
   * max id 104; AMOS: max id 15, no lung, heart, spine, ribs, autochthon or pulmonary
   * artery.  With one id or a new id: the kind, id, name and parts (no side ids). */
  const struct {
    const char *scheme;
    int32_t organ;
    LabelSchemeWriteKind kind;
    int32_t id;
    const char *name;
    int n_parts;
  } one_id[] = {
    { "totalseg-v2", LT_LUNG, N, 118, "lung (completed)", 5 },
    { "totalseg-v2", LT_HEART, S, 51, "heart", 1 },
    { "totalseg-v2", LT_SPLEEN, S, 1, "spleen", 1 },
    { "totalseg-v2", LT_STOMACH, S, 6, "stomach", 1 },
    { "totalseg-v2", LT_PANCREAS, S, 7, "pancreas", 1 },
    { "totalseg-v2", LT_SPINE, N, 123, "spine (completed)", 24 },
    { "totalseg-v2", LT_RIB_CAGE, N, 124, "rib cage (completed)", 26 },
    { "totalseg-v2", LT_LIVER, S, 5, "liver", 1 },
    { "totalseg-v2", LT_AORTA, S, 52, "aorta", 1 },
    { "totalseg-v2", LT_PULMONARY_ARTERY, N, 129, "pulmonary artery (completed)", 0 },
    { "totalseg-v1", LT_LUNG, N, 105, "lung (completed)", 5 },
    { "totalseg-v1", LT_HEART, N, 106, "heart (completed)", 5 },
    { "totalseg-v1", LT_PANCREAS, S, 10, "pancreas", 1 },
    { "totalseg-v1", LT_SPINE, N, 110, "spine (completed)", 24 },
    { "totalseg-v1", LT_RIB_CAGE, N, 111, "rib cage (completed)", 24 },
    { "totalseg-v1", LT_AORTA, S, 7, "aorta", 1 },
    { "totalseg-v1", LT_PULMONARY_ARTERY, S, 49, "pulmonary_artery", 1 },
    { "amos15", LT_LUNG, N, 16, "lung (completed)", 0 },
    { "amos15", LT_HEART, N, 17, "heart (completed)", 0 },
    { "amos15", LT_SPLEEN, S, 1, "spleen", 1 },
    { "amos15", LT_STOMACH, S, 7, "stomach", 1 },
    { "amos15", LT_PANCREAS, S, 10, "pancreas", 1 },
    { "amos15", LT_SPINE, N, 21, "spine (completed)", 0 },
    { "amos15", LT_LIVER, S, 6, "liver", 1 },
    { "amos15", LT_AORTA, S, 8, "aorta", 1 },
    { "amos15", LT_PULMONARY_ARTERY, N, 27, "pulmonary artery (completed)", 0 },
  };
  /* By side: the id of the organ and of its left and right parts. */
  const struct {
    const char *scheme;
    int32_t organ;
    int32_t id;
    const char *name;
    int32_t left, right;
    int n_parts;
  } by_side[] = {
    { "totalseg-v2", LT_KIDNEY, 126, "kidney (completed)", 3, 2, 2 },
    { "totalseg-v2", LT_AUTOCHTHON, 128, "autochthon muscles (completed)", 86, 87, 2 },
    { "totalseg-v1", LT_KIDNEY, 113, "kidney (completed)", 3, 2, 2 },
    { "totalseg-v1", LT_AUTOCHTHON, 115, "autochthon muscles (completed)", 100, 101, 2 },
    { "amos15", LT_KIDNEY, 24, "kidney (completed)", 3, 2, 2 },
  };

  for (gsize i = 0; i < G_N_ELEMENTS (one_id); i++)
    assert_write_back (one_id[i].scheme, one_id[i].organ, one_id[i].kind, one_id[i].id, one_id[i].name, -1, -1,
                       one_id[i].n_parts);
  for (gsize i = 0; i < G_N_ELEMENTS (by_side); i++)
    assert_write_back (by_side[i].scheme, by_side[i].organ, B, by_side[i].id, by_side[i].name, by_side[i].left,
                       by_side[i].right, by_side[i].n_parts);

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

/* threads first, so that the schemes get built by concurrent callers */
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

TEST_UTIL_MAIN (test_cases)
