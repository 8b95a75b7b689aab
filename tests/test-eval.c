/* test-eval.c: `anatomy eval` end to end on files made here: complete phantom maps (one in
 * TotalSegmentator v2 ids), an untrained tiny network, the maps themselves as atlases
 * (leave-one-out), and the benchmark layout. */
#include "label-scheme.h"
#include "nifti.h"
#include "phantom.h"
#include "removal-plan.h"

#include <glib/gstdio.h>
#include <json-glib/json-glib.h>
#include <string.h>
#include "test-util.h"

static char *tmpdir;

typedef struct {
  gboolean ok;
  char *out, *err;
} Run;

static void
run_clear (Run *r)
{
  g_free (r->out);
  g_free (r->err);
}

static Run
run_anatomy (const char *const *args)
{
  Run r = { 0 };
  r.ok = test_run_anatomy (args, &r.out, &r.err);
  if (g_test_verbose ())
    g_test_message ("anatomy %s: %s\n%s%s", args[0], r.ok ? "ok" : "failed", r.out, r.err);
  return r;
}

static LabelVolume *
phantom (guint64 seed)
{
  PhantomParams pp;
  phantom_params_init (&pp);
  pp.seed = seed;
  pp.grid[0] = pp.grid[1] = pp.grid[2] = 32;   /* 14 mm voxels over 448 mm */
  g_autoptr (GError) error = NULL;
  LabelVolume *v = phantom_generate (&pp, &error);
  g_assert_no_error (error);
  return v;
}

static void
write_volume (const LabelVolume *v, const char *path)
{
  g_autoptr (GError) error = NULL;
  g_assert_true (nifti_write (v, path, NIFTI_WRITE_OVERWRITE, &error));
  g_assert_no_error (error);
}

/* @v (12 classes) in TotalSegmentator v2 ids: each organ with its write-back id (a
 * left/right organ all with its left id) */
static LabelVolume *
to_totalseg (const LabelVolume *v)
{
  const LabelScheme *s = label_scheme_get (LABEL_SCHEME_TOTALSEG_V2);
  g_assert_nonnull (s);
  g_autoptr (GError) error = NULL;
  double sp[3] = { v->spacing[0], v->spacing[1], v->spacing[2] };
  LabelVolume *out = lv_volume_new (v->nx, v->ny, v->nz, sp, 1, &error);
  g_assert_no_error (error);
  lv_volume_set_affine (out, v->affine);
  int64_t n = lv_volume_n_voxels (v);
  for (int64_t q = 0; q < n; q++)
    {
      int32_t l = lv_volume_get_index (v, q);
      if (l == 0)
        continue;
      const LabelSchemeWriteBack *wb = label_scheme_get_write_back (s, l);
      int32_t id = wb->kind == LABEL_SCHEME_WRITE_BY_SIDE ? wb->left_id : wb->id;
      g_assert_true (lv_volume_widen_for (out, id, NULL));
      lv_volume_set_index (out, q, id);
    }
  return out;
}

static JsonNode *
load_json (const char *path)
{
  g_autoptr (JsonParser) p = json_parser_new ();
  g_autoptr (GError) error = NULL;
  g_assert_true (json_parser_load_from_file (p, path, &error));
  g_assert_no_error (error);
  return json_node_copy (json_parser_get_root (p));
}

static const char *
tiny_model (void)
{
  static char *path;
  if (path == NULL)
    {
      path = g_build_filename (tmpdir, "tiny.safetensors", NULL);
      const char *args[] = { "init-model", "--arch", "unet", "--widths", "4,8", "--blocks", "1", "--grid", "16",
                             "--seed", "3", "--out", path, "--force", NULL };
      Run r = run_anatomy (args);
      g_assert_true (r.ok);
      run_clear (&r);
    }
  return path;
}

/* tmpdir/maps: three complete phantom maps case0..2.nii.gz (and a text file); @present
 * (may be NULL) receives their organs present */
static const char *
make_maps (guint32 present[3])
{
  static char *dir;
  static guint32 organs[3];
  if (dir == NULL)
    {
      dir = g_build_filename (tmpdir, "maps", NULL);
      g_assert_cmpint (g_mkdir_with_parents (dir, 0755), ==, 0);
      for (int s = 0; s < 3; s++)
        {
          g_autoptr (LabelVolume) v = phantom (100 + s);
          int64_t counts[REMOVAL_PLAN_N_CLASSES];
          organs[s] = removal_plan_present (v, REMOVAL_PLAN_MIN_ML, counts);
          g_autofree char *name = g_strdup_printf ("case%d.nii.gz", s);
          g_autofree char *path = g_build_filename (dir, name, NULL);
          write_volume (v, path);
        }
      /* a file of another kind in the folder is not a case */
      g_autofree char *junk = g_build_filename (dir, "notes.txt", NULL);
      g_assert_true (g_file_set_contents (junk, "not a label map\n", -1, NULL));
    }
  if (present)
    memcpy (present, organs, sizeof organs);
  return dir;
}

static void
test_complete_maps (void)
{
  if (test_anatomy_or_skip () == NULL)
    return;
  guint32 present[3];
  const char *dir = make_maps (present);
  g_autofree char *json = g_build_filename (tmpdir, "maps.json", NULL);
  const char *args[] = { "eval", "--data", dir, "--atlas-dir", dir, "--model", tiny_model (), "--threads", "1",
                         "--json", json, NULL };
  Run r = run_anatomy (args);
  g_assert_true (r.ok);
  test_assert_contains (r.out, "3 complete label maps", "mean over items", "Per case", NULL);
  run_clear (&r);

  g_autoptr (JsonNode) root = load_json (json);
  JsonObject *o = json_node_get_object (root);
  g_assert_cmpstr (json_object_get_string_member (o, "mode"), ==, "complete-maps");
  JsonArray *methods = json_object_get_array_member (o, "methods");
  g_assert_cmpuint (json_array_get_length (methods), ==, 2);
  JsonObject *atlas = json_array_get_object_element (methods, 0);
  g_assert_cmpstr (json_object_get_string_member (atlas, "name"), ==, "atlas");
  g_assert_cmpstr (json_object_get_string_member (json_array_get_object_element (methods, 1), "name"), ==, "tiny");
  /* phantoms of one population: the other two subjects transfer the organs (about 0.41 at
   * these 14 mm voxels, where a spleen is 25 voxels), an untrained network does not */
  double atlas_mean = json_object_get_double_member (atlas, "mean_over_items");
  double tiny_mean = json_object_get_double_member (json_array_get_object_element (methods, 1), "mean_over_items");
  if (g_test_verbose ())
    g_test_message ("mean over items: atlas %.3f, tiny %.3f", atlas_mean, tiny_mean);
  g_assert_cmpfloat (atlas_mean, >, 0.3);
  g_assert_cmpfloat (atlas_mean, <=, 1.0);
  g_assert_cmpfloat (atlas_mean, >, tiny_mean + 0.2);
  JsonObject *organs = json_object_get_object_member (atlas, "removed_dice");
  g_assert_cmpfloat (json_object_get_double_member (organs, "liver"), >, 0.6);
  g_assert_cmpfloat (json_object_get_double_member (organs, "lung"), >, 0.6);

  JsonArray *cases = json_object_get_array_member (o, "cases");
  g_assert_cmpuint (json_array_get_length (cases), ==, 3);
  int items = 0;
  for (int s = 0; s < 3; s++)
    {
      JsonObject *c = json_array_get_object_element (cases, s);
      g_autofree char *want_name = g_strdup_printf ("case%d", s);
      g_assert_cmpstr (json_object_get_string_member (c, "name"), ==, want_name);
      g_assert_cmpstr (json_object_get_string_member (c, "scheme"), ==, "benchmark12");
      /* the removals are the plan's, in its order */
      g_autoptr (GArray) plan = removal_plan_make (present[s]);
      JsonArray *rms = json_object_get_array_member (c, "removals");
      g_assert_cmpuint (json_array_get_length (rms), ==, plan->len);
      for (guint k = 0; k < plan->len; k++)
        {
          JsonObject *rm = json_array_get_object_element (rms, k);
          guint32 mask = g_array_index (plan, guint32, k);
          g_autofree char *name = removal_plan_dup_name (mask);
          g_assert_cmpstr (json_object_get_string_member (rm, "removed"), ==, name);
          g_assert_cmpint (json_object_get_boolean_member (rm, "triple"), ==, removal_plan_is_triple (mask));
          JsonArray *organs = json_object_get_array_member (rm, "organs");
          guint n_organs = 0;
          for (int l = 1; l < REMOVAL_PLAN_N_CLASSES; l++)
            n_organs += (mask >> l) & 1u;
          g_assert_cmpuint (json_array_get_length (organs), ==, n_organs);
          for (guint t = 0; t < json_array_get_length (organs); t++)
            {
              JsonObject *org = json_array_get_object_element (organs, t);
              JsonObject *dice = json_object_get_object_member (org, "dice");
              JsonObject *ml = json_object_get_object_member (org, "ml");
              JsonObject *dml = json_object_get_object_member (org, "volume_diff_ml");
              JsonObject *dpct = json_object_get_object_member (org, "volume_diff_percent");
              double truth_ml = json_object_get_double_member (org, "truth_ml");
              for (int m = 0; m < 2; m++)
                {
                  const char *name = m == 0 ? "atlas" : "tiny";
                  double d = json_object_get_double_member (dice, name);
                  g_assert_cmpfloat (d, >=, 0.0);
                  g_assert_cmpfloat (d, <=, 1.0);
                  /* the volume difference: the method's volume minus the truth's, in mL and % */
                  double v = json_object_get_double_member (ml, name);
                  g_assert_cmpfloat_with_epsilon (json_object_get_double_member (dml, name), v - truth_ml, 1e-9);
                  g_assert_cmpfloat_with_epsilon (json_object_get_double_member (dpct, name),
                                                  100.0 * (v - truth_ml) / truth_ml, 1e-9);
                }
              items++;
            }
          /* leave-one-out: two atlases, neither the case itself */
          JsonArray *fits = json_object_get_array_member (rm, "atlas_fits");
          g_assert_cmpuint (json_array_get_length (fits), ==, 2);
          for (guint a = 0; a < 2; a++)
            {
              JsonObject *f = json_array_get_object_element (fits, a);
              g_assert_cmpstr (json_object_get_string_member (f, "atlas"), !=, want_name);
              g_assert_true (json_object_get_boolean_member (f, "used"));
            }
        }
      /* the triples this population always has */
      g_assert_cmpuint (plan->len, >=, 8);
    }
  g_assert_cmpint (json_object_get_int_member (o, "items"), ==, items);
}

static void
test_other_scheme (void)
{
  if (test_anatomy_or_skip () == NULL)
    return;
  /* case0 of the maps again, in TotalSegmentator v2 ids */
  const char *dir = make_maps (NULL);
  g_autofree char *ts = g_build_filename (tmpdir, "case0_totalseg.nii.gz", NULL);
  {
    g_autoptr (LabelVolume) v = phantom (100);
    g_autoptr (LabelVolume) t = to_totalseg (v);
    write_volume (t, ts);
  }
  /* without names or --scheme, ids beyond 12 are refused with a hint */
  const char *args1[] = { "eval", "--case", ts, "--atlas-dir", dir, "--no-models", NULL };
  Run r1 = run_anatomy (args1);
  g_assert_false (r1.ok);
  g_assert_nonnull (strstr (r1.err, "--scheme"));
  run_clear (&r1);

  g_autofree char *json = g_build_filename (tmpdir, "ts.json", NULL);
  const char *args2[] = { "eval", "--case", ts, "--scheme", "totalseg-v2", "--atlas-dir", dir, "--no-models",
                          "--threads", "1", "--json", json, NULL };
  Run r2 = run_anatomy (args2);
  g_assert_true (r2.ok);
  run_clear (&r2);
  g_autoptr (JsonNode) root = load_json (json);
  JsonObject *o = json_node_get_object (root);
  JsonArray *methods = json_object_get_array_member (o, "methods");
  g_assert_cmpuint (json_array_get_length (methods), ==, 1);
  JsonObject *c = json_array_get_object_element (json_object_get_array_member (o, "cases"), 0);
  g_assert_cmpstr (json_object_get_string_member (c, "scheme"), ==, "totalseg-v2");
  /* the same voxels as maps/case0.nii.gz once mapped: that atlas is the case itself */
  JsonArray *rms = json_object_get_array_member (c, "removals");
  g_assert_cmpuint (json_array_get_length (rms), >, 0);
  JsonArray *fits = json_object_get_array_member (json_array_get_object_element (rms, 0), "atlas_fits");
  g_assert_cmpuint (json_array_get_length (fits), ==, 2);
  for (guint a = 0; a < 2; a++)
    g_assert_cmpstr (json_object_get_string_member (json_array_get_object_element (fits, a), "atlas"), !=, "case0");
  /* the mapped case has the same organs as the 12-class one */
  JsonObject *ml = json_object_get_object_member (c, "present_ml");
  g_assert_true (json_object_has_member (ml, "liver"));
  g_assert_true (json_object_has_member (ml, "kidney"));
  g_assert_true (json_object_has_member (ml, "lung"));

  /* the other way round: the TotalSegmentator file as an atlas of its 12-class twin is left out */
  g_autofree char *case0 = g_build_filename (dir, "case0.nii.gz", NULL);
  g_autofree char *case1 = g_build_filename (dir, "case1.nii.gz", NULL);
  g_autofree char *json2 = g_build_filename (tmpdir, "ts2.json", NULL);
  const char *args5[] = { "eval", "--case", case0, "--atlas", ts, "--atlas", case1, "--atlas-scheme", "totalseg-v2",
                          "--no-models", "--threads", "1", "--json", json2, NULL };
  Run r5 = run_anatomy (args5);
  /* --atlas-scheme applies to every atlas: case1, in 12-class ids, read as TotalSegmentator
   * v2 ids, holds other organs (id 1 is the spleen there) */
  g_assert_true (r5.ok);
  run_clear (&r5);
  g_autoptr (JsonNode) root2 = load_json (json2);
  JsonObject *o2 = json_node_get_object (root2);
  JsonArray *files = json_object_get_array_member (json_object_get_object_member (o2, "atlas"), "files");
  g_assert_cmpuint (json_array_get_length (files), ==, 2);
  g_assert_cmpstr (json_object_get_string_member (json_array_get_object_element (files, 0), "scheme"), ==,
                   "totalseg-v2");
  JsonObject *c2 = json_array_get_object_element (json_object_get_array_member (o2, "cases"), 0);
  g_assert_cmpstr (json_object_get_string_member (c2, "scheme"), ==, "benchmark12");
  JsonArray *fits2 = json_object_get_array_member (
    json_array_get_object_element (json_object_get_array_member (c2, "removals"), 0), "atlas_fits");
  g_assert_cmpuint (json_array_get_length (fits2), ==, 1);
  g_assert_cmpstr (json_object_get_string_member (json_array_get_object_element (fits2, 0), "atlas"), ==, "case1");

  /* nothing to evaluate, no such scheme: refused */
  const char *args3[] = { "eval", "--case", ts, "--scheme", "totalseg-v2", "--no-models", NULL };
  Run r3 = run_anatomy (args3);
  g_assert_false (r3.ok);
  g_assert_nonnull (strstr (r3.err, "nothing to evaluate"));
  run_clear (&r3);
  const char *args4[] = { "eval", "--case", ts, "--scheme", "no-such-scheme", "--no-models", NULL };
  Run r4 = run_anatomy (args4);
  g_assert_false (r4.ok);
  run_clear (&r4);
}

static void
test_benchmark_layout (void)
{
  if (test_anatomy_or_skip () == NULL)
    return;
  g_autofree char *dir = g_build_filename (tmpdir, "bench", NULL);
  const char *gen[] = { "phantom", "--out", dir, "--subjects", "1", "--partials", "2", "--grid", "32", "--seed",
                        "7", NULL };
  Run r0 = run_anatomy (gen);
  g_assert_true (r0.ok);
  run_clear (&r0);
  const char *maps = make_maps (NULL);
  g_autofree char *json = g_build_filename (tmpdir, "bench.json", NULL);
  const char *args[] = { "eval", "--data", dir, "--model", tiny_model (), "--atlas-dir", maps, "--threads", "1",
                         "--mean-subjects", "2", "--json", json, NULL };
  Run r = run_anatomy (args);
  g_assert_true (r.ok);
  test_assert_contains (r.out, "2 partial volumes of 1 subjects", "Dice of removed organs only", NULL);
  run_clear (&r);
  g_autoptr (JsonNode) root = load_json (json);
  JsonArray *methods = json_object_get_array_member (json_node_get_object (root), "methods");
  const char *want[] = { "copy", "mean", "atlas", "tiny" };
  g_assert_cmpuint (json_array_get_length (methods), ==, G_N_ELEMENTS (want));
  for (guint k = 0; k < G_N_ELEMENTS (want); k++)
    {
      JsonObject *m = json_array_get_object_element (methods, k);
      g_assert_cmpstr (json_object_get_string_member (m, "name"), ==, want[k]);
      g_assert_true (json_object_has_member (m, "removed_hd95_median_mm"));
      g_assert_true (json_object_has_member (m, "removed_volume_diff_percent_median"));
    }
  /* every removed organ: "copy" adds nothing (-100 %, no HD95); every method's difference
   * is its volume minus the truth's */
  JsonArray *items = json_object_get_array_member (json_node_get_object (root), "items");
  g_assert_cmpuint (json_array_get_length (items), >, 0);
  for (guint t = 0; t < json_array_get_length (items); t++)
    {
      JsonObject *it = json_array_get_object_element (items, t);
      double truth_ml = json_object_get_double_member (it, "truth_ml");
      g_assert_cmpfloat (truth_ml, >, 0.0);
      JsonObject *dpct = json_object_get_object_member (it, "volume_diff_percent");
      JsonObject *dml = json_object_get_object_member (it, "volume_diff_ml");
      JsonObject *ml = json_object_get_object_member (it, "ml");
      JsonObject *hd = json_object_get_object_member (it, "hd95_mm");
      g_assert_cmpfloat_with_epsilon (json_object_get_double_member (dpct, "copy"), -100.0, 1e-9);
      g_assert_true (JSON_NODE_HOLDS_NULL (json_object_get_member (hd, "copy")));
      for (guint k = 0; k < G_N_ELEMENTS (want); k++)
        {
          double v = json_object_get_double_member (ml, want[k]);
          g_assert_cmpfloat_with_epsilon (json_object_get_double_member (dml, want[k]), v - truth_ml, 1e-9);
          JsonNode *h = json_object_get_member (hd, want[k]);
          g_assert_true (v == 0 ? JSON_NODE_HOLDS_NULL (h) : json_node_get_double (h) >= 0.0);
        }
    }
}

/* case0 labelled as a sparser source labels it (only the abdominal organs, as AMOS): still
 * the atlas case0's patient, so case0 is not among its atlases (it was, and with the very
 * organs removed from the case it lifted the atlas method's score). */
static void
test_sparse_twin (void)
{
  if (test_anatomy_or_skip () == NULL)
    return;
  const char *dir = make_maps (NULL);
  g_autofree char *sparse = g_build_filename (tmpdir, "case0_abdomen.nii.gz", NULL);
  {
    g_autoptr (LabelVolume) v = phantom (100);
    for (int64_t q = 0, n = lv_volume_n_voxels (v); q < n; q++)
      {
        int32_t l = lv_volume_get_index (v, q);
        if (l == LT_LUNG || l == LT_HEART || l == LT_SPINE || l == LT_RIB_CAGE || l == LT_AUTOCHTHON
            || l == LT_PULMONARY_ARTERY)
          lv_volume_set_index (v, q, 0);
      }
    write_volume (v, sparse);
  }
  g_autofree char *json = g_build_filename (tmpdir, "sparse.json", NULL);
  const char *args[] = { "eval", "--case", sparse, "--atlas-dir", dir, "--no-models", "--threads", "1",
                         "--json", json, NULL };
  Run r = run_anatomy (args);
  g_assert_true (r.ok);
  run_clear (&r);
  g_autoptr (JsonNode) root = load_json (json);
  JsonObject *c = json_array_get_object_element (json_object_get_array_member (json_node_get_object (root), "cases"), 0);
  JsonArray *rms = json_object_get_array_member (c, "removals");
  g_assert_cmpuint (json_array_get_length (rms), >, 0);
  for (guint i = 0; i < json_array_get_length (rms); i++)
    {
      JsonArray *fits = json_object_get_array_member (json_array_get_object_element (rms, i), "atlas_fits");
      g_assert_cmpuint (json_array_get_length (fits), ==, 2);
      for (guint a = 0; a < 2; a++)
        g_assert_cmpstr (json_object_get_string_member (json_array_get_object_element (fits, a), "atlas"), !=, "case0");
    }
}

static const TestCase test_cases[] = {
  { "/eval/complete-maps", test_complete_maps },
  { "/eval/other-scheme", test_other_scheme },
  { "/eval/sparse-twin", test_sparse_twin },
  { "/eval/benchmark-layout", test_benchmark_layout },
};

TEST_UTIL_MAIN_TMPDIR (test_cases, "test-eval-XXXXXX", NULL)
