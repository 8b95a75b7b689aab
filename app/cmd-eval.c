/* cmd-eval.c: `anatomy eval`: Dice of completion networks and baselines, either on a
 * dataset in the benchmark layout (DIR/complete + DIR/incomplete) or on complete label
 * maps from which the command makes the removals itself (removal-plan.h), with
 * multi-atlas transfer (atlas.h) as the classical baseline.
 *
 * This file: the options, the dispatch to the two modes (eval-benchmark.c, eval-maps.c)
 * and the loading and scoring helpers they share (eval-private.h). */
#include "eval-private.h"
#include "atlas.h"
#include "completion.h"
#include "label-file.h"
#include "label-folder.h"
#include "label-scheme.h"
#include "label-table.h"
#include "nifti.h"
#include "nn-net.h"
#include "phantom.h"
#include "metrics.h"
#include "removal-plan.h"
#include "surface-distance.h"
#include "train-data.h"

#include <json-glib/json-glib.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>


static void
atlas_entry_free (gpointer p)
{
  Atlas *a = p;
  atlas_subject_free (a->s);
  lv_volume_free (a->v);
  g_free (a->path);
  g_free (a->real);
  g_free (a->name);
  g_free (a->scheme);
  g_free (a);
}

char *
eval_real_path (const char *path)
{
  char *r = realpath (path, NULL);
  char *out = g_strdup (r ? r : path);
  free (r);
  return out;
}

char *
eval_file_stem (const char *path)
{
  g_autofree char *base = g_path_get_basename (path);
  return nifti_path_stem (base);
}

/* @path as a 12-class map: its scheme (@scheme, else detected from the names beside it or
 * in its header, else benchmark12 when every id is in 0..12) mapped to the 12 classes. */
LabelVolume *
eval_read_12class (const char *path, const char *scheme, char **scheme_used, GError **error)
{
  /* any label file (NIfTI, NRRD, .seg.nrrd, a mask folder): a table beside it, else the
   * names it carries */
  g_autoptr (LabelTable) own = NULL;
  g_autoptr (LabelVolume) v = label_file_read (path, 0, &own, NULL, error);
  if (v == NULL)
    return NULL;
  g_autoptr (LabelTable) table = label_folder_path_is_folder (path) ? NULL
                                 : lt_table_find_for_volume (path, v, NULL, error);
  if (table == NULL && error && *error)
    return NULL;
  if (table == NULL)
    table = g_steal_pointer (&own);
  gboolean by_names = FALSE;
  const LabelScheme *s = label_scheme_resolve (scheme, table, v, path, &by_names, error);
  if (s == NULL)
    return NULL;
  if (scheme_used)
    *scheme_used = g_strdup (label_scheme_get_name (s));
  return by_names ? label_scheme_map_volume_by_names (s, table, v, path, error)
                  : label_scheme_map_volume (s, v, path, error);
}

static int
cmp_paths (gconstpointer a, gconstpointer b)
{
  return strcmp (*(char *const *) a, *(char *const *) b);
}

static gboolean
has_nifti_suffix (const char *name)
{
  return g_str_has_suffix (name, ".nii") || g_str_has_suffix (name, ".nii.gz");
}

/* The .nii / .nii.gz files of @dir (matching @match when not NULL), sorted, appended to @out. */
static gboolean
list_maps (const char *dir, const char *match, GPtrArray *out, GError **error)
{
  g_autoptr (GDir) d = g_dir_open (dir, 0, error);
  if (d == NULL)
    return FALSE;
  g_autoptr (GPtrArray) names = g_ptr_array_new_with_free_func (g_free);
  const char *n;
  while ((n = g_dir_read_name (d)))
    {
      g_autofree char *full = g_build_filename (dir, n, NULL);
      if (has_nifti_suffix (n) && (match == NULL || g_pattern_match_simple (match, n))
          && g_file_test (full, G_FILE_TEST_IS_REGULAR))
        g_ptr_array_add (names, g_steal_pointer (&full));
    }
  g_ptr_array_sort (names, cmp_paths);
  for (guint i = 0; i < names->len; i++)
    g_ptr_array_add (out, g_strdup (g_ptr_array_index (names, i)));
  return TRUE;
}

static gboolean
load_atlases (GPtrArray *files, const char *scheme, double min_ml, GPtrArray *atlases, GError **error)
{
  for (guint i = 0; i < files->len; i++)
    {
      const char *p = g_ptr_array_index (files, i);
      Atlas *a = g_new0 (Atlas, 1);
      g_ptr_array_add (atlases, a);
      a->path = g_strdup (p);
      a->real = eval_real_path (p);
      a->name = eval_file_stem (p);
      if ((a->v = eval_read_12class (p, scheme, &a->scheme, error)) == NULL)
        return FALSE;
      if ((a->s = atlas_subject_new (a->v, min_ml, error)) == NULL)
        {
          g_prefix_error (error, "atlas %s: ", p);
          return FALSE;
        }
      cli_progress ("atlases", (i + 1.0) / files->len, a->name);
    }
  cli_progress_done ();
  return TRUE;
}

/* Does @atlas label every labelled voxel of @truth as @truth does (same grid)?  Then the
 * case is the atlas's patient: the same map, or one with fewer structures labelled. */
static gboolean
holds_case (const LabelVolume *atlas, const LabelVolume *truth)
{
  if (atlas->nx != truth->nx || atlas->ny != truth->ny || atlas->nz != truth->nz)
    return FALSE;
  int64_t n = lv_volume_n_voxels (truth);
  for (int64_t q = 0; q < n; q++)
    {
      int32_t l = lv_volume_get_index (truth, q);
      if (l != 0 && lv_volume_get_index (atlas, q) != l)
        return FALSE;
    }
  return TRUE;
}

/* The atlases for a case: all but those that are the case itself (same file, or the same
 * patient: one in another label scheme, or with structures a sparser source leaves
 * unlabelled).  Borrowed pointers. */
GPtrArray *
eval_atlases_for_case (GPtrArray *atlases, const char *case_real, const LabelVolume *truth)
{
  GPtrArray *out = g_ptr_array_new ();
  for (guint i = 0; i < atlases->len; i++)
    {
      Atlas *a = g_ptr_array_index (atlases, i);
      if ((case_real && strcmp (a->real, case_real) == 0) || holds_case (a->v, truth))
        continue;
      g_ptr_array_add (out, a);
    }
  return out;
}

LabelVolume *
eval_run_atlas (GPtrArray *use, const LabelVolume *in, guint32 removed, const EvalSettings *st, AtlasFit *fits,
                GError **error)
{
  g_autofree AtlasSubject **subj = g_new0 (AtlasSubject *, MAX (1u, use->len));
  for (guint i = 0; i < use->len; i++)
    subj[i] = ((Atlas *) g_ptr_array_index (use, i))->s;
  AtlasOptions opt = st->atlas;
  opt.n_threads = st->threads;
  opt.keep_fragments = st->keep_fragments;
  for (int l = 0; l < ATLAS_N_CLASSES; l++)
    opt.selected[l] = l > 0 && (removed >> l) & 1u;
  return atlas_complete (in, subj, (int) use->len, &opt, fits, NULL, NULL, error);
}

LabelVolume *
eval_run_net (NnNet *net, const LabelVolume *in, guint32 removed, const EvalSettings *st, GError **error)
{
  CompletionOptions opt = { .n_threads = st->threads, .keep_fragments = st->keep_fragments };
  for (int l = 1; l < LT_N_CLASSES; l++)
    opt.selected[l] = (removed >> l) & 1u;
  return completion_run (net, in, &opt, NULL, error);
}

/* The networks of --model (default: every shipped one), with their names. */
static gboolean
load_models (char **models, gboolean none, GPtrArray *nets, GPtrArray *paths, GPtrArray *names)
{
  g_autoptr (GError) error = NULL;
  if (none)
    return TRUE;
  if (models == NULL)
    {
      for (int a = 0; a < NN_N_ARCHS; a++)
        {
          g_autoptr (GError) e2 = NULL;
          char *p = cli_find_model (nn_arch_to_string ((NnArch) a), &e2);
          if (p)
            g_ptr_array_add (paths, p);
        }
    }
  else
    for (int i = 0; models[i]; i++)
      {
        char *p = cli_find_model (models[i], &error);
        if (p == NULL)
          {
            cli_fail ("%s", error->message);
            return FALSE;
          }
        g_ptr_array_add (paths, p);
      }
  for (guint i = 0; i < paths->len; i++)
    {
      g_autoptr (GPtrArray) warnings = cli_warnings_new ();
      NnNet *net = nn_net_load_full (g_ptr_array_index (paths, i), warnings, &error);
      cli_warn (warnings);
      if (net == NULL)
        {
          cli_fail ("%s", error->message);
          return FALSE;
        }
      g_ptr_array_add (nets, net);
      char *base = g_path_get_basename (g_ptr_array_index (paths, i));
      if (g_str_has_suffix (base, ".safetensors"))
        base[strlen (base) - strlen (".safetensors")] = '\0';
      g_ptr_array_add (names, base);
    }
  return TRUE;
}

const char *
eval_transform_name (AtlasTransform t)
{
  switch (t)
    {
    case ATLAS_TRANSFORM_TRANSLATION_SCALE: return "translation+scale";
    case ATLAS_TRANSFORM_SIMILARITY: return "similarity";
    default: return "affine";
    }
}

void
eval_overlap (EvalOverlap *o, const LabelVolume *pred, const LabelVolume *truth)
{
  memset (o, 0, sizeof *o);
  int64_t n = lv_volume_n_voxels (truth);
  for (int64_t q = 0; q < n; q++)
    {
      int p = lv_volume_get_index (pred, q), t = lv_volume_get_index (truth, q);
      p = p >= 0 && p < LT_N_CLASSES ? p : 0;
      t = t >= 0 && t < LT_N_CLASSES ? t : 0;
      o->pair[p][t]++;
    }
  for (int p = 0; p < LT_N_CLASSES; p++)
    for (int t = 0; t < LT_N_CLASSES; t++)
      {
        o->pred[p] += o->pair[p][t];
        o->truth[t] += o->pair[p][t];
      }
}

/* The columns of @s, for init and clear alike. */
#define EVAL_SCORES_COLUMNS(s) { &(s)->dice, &(s)->ml, &(s)->hd95, &(s)->dml, &(s)->dpct }

void
eval_scores_init (EvalScores *s, int n_methods)
{
  double **cols[] = EVAL_SCORES_COLUMNS (s);
  for (gsize i = 0; i < G_N_ELEMENTS (cols); i++)
    *cols[i] = g_new (double, n_methods);
}

void
eval_scores_clear (EvalScores *s)
{
  double **cols[] = EVAL_SCORES_COLUMNS (s);
  for (gsize i = 0; i < G_N_ELEMENTS (cols); i++)
    g_clear_pointer (cols[i], g_free);
}

void
eval_json_add_scores (JsonBuilder *b, const EvalScores *s, const char *const *names, int n_methods,
                      gboolean hd95)
{
  const struct {
    const char *key;
    const double *v;
  } cols[] = {
    { "dice", s->dice }, { "ml", s->ml }, { "volume_diff_ml", s->dml }, { "volume_diff_percent", s->dpct },
    { "hd95_mm", hd95 ? s->hd95 : NULL },
  };
  for (gsize f = 0; f < G_N_ELEMENTS (cols); f++)
    if (cols[f].v != NULL)
      {
        json_builder_set_member_name (b, cols[f].key);
        json_builder_begin_object (b);
        for (int k = 0; k < n_methods; k++)
          eval_json_add_number_or_null (b, names[k], cols[f].v[k]);
        json_builder_end_object (b);
      }
}

void
eval_json_add_per_organ (JsonBuilder *b, const char *key, const double *per, const char *last, double last_value)
{
  json_builder_set_member_name (b, key);
  json_builder_begin_object (b);
  for (int l = 1; l < LT_N_CLASSES; l++)
    eval_json_add_number_or_null (b, lt_default_class_name (l), per[l]);
  if (last != NULL)
    eval_json_add_number_or_null (b, last, last_value);
  json_builder_end_object (b);
}

void
eval_print_cell (double v, int decimals)
{
  if (isnan (v))
    printf (" %14s", "-");
  else
    printf (" %14.*f", decimals, v);
}

void
eval_json_add_number_or_null (JsonBuilder *b, const char *key, double v)
{
  json_builder_set_member_name (b, key);
  if (isnan (v))
    json_builder_add_null_value (b);
  else
    json_builder_add_double_value (b, v);
}

gboolean
eval_write_json (JsonBuilder *b, OutSet *outputs, const char *path, GError **error)
{
  gsize len;
  g_autofree char *text = cli_json_dup_text (b, &len);
  OutFile *f = out_set_open (outputs, path, OUT_FILE_PLAIN, error);
  return f != NULL && out_file_write (f, text, len, error) && out_file_finish (f, error)
         && out_set_commit (outputs, error);
}

/* =================================================================================== */

/* the --help text of `anatomy eval` */
static const char summary[] =
  "Two kinds of data, and one completed map:\n"
  "\n"
  "Benchmark layout (DIR/incomplete exists): complete every partial volume of DIR\n"
  "(incomplete/sXXXX/*.nii.gz) with each model and compare with\n"
  "DIR/complete/sXXXX_full.nii.gz.  Each model may add exactly the organs missing from\n"
  "its input.  Baselines: \"copy\" (the input unchanged) and \"mean\" (the per-voxel most\n"
  "frequent label over training phantoms, added where the input is background and the\n"
  "label is a missing organ), and \"atlas\" when atlases are given.  Reports per-organ Dice\n"
  "on all voxels and on removed organs only, their means over organs, and binary Dice\n"
  "(all organs merged; removed organs merged).\n"
  "\n"
  "Complete label maps (--case FILE, or the .nii/.nii.gz files of a --data DIR without\n"
  "incomplete/): each map is read in its label scheme (detected, or --scheme) and mapped\n"
  "to the 12 classes; the removals are made here, the same for every method: each soft\n"
  "organ (all but spine and rib cage) of at least --min-ml alone, then spleen+liver+kidney,\n"
  "heart+aorta+pulmonary artery and spleen+stomach+pancreas when all three are present.\n"
  "Every method completes each partial input with the removed organs selected.  Reports\n"
  "the Dice of each removed organ: the mean per organ, over all (case, removal, organ)\n"
  "items, alone / in triples, and per case, and its 95 % Hausdorff distance (HD95, mm;\n"
  "median per organ); --json has every item.\n"
  "\n"
  "One completed map (--completed FILE --reference FILE [--input FILE]): per organ of either\n"
  "map in their own ids, as the GUI's comparison table: volumes, Dice, HD95 (mm) and the\n"
  "volume difference (mL and % of the reference), organs missing from the input first;\n"
  "--json and --csv write the same rows.\n"
  "\n"
  "Multi-atlas transfer (\"atlas\", with --atlas / --atlas-dir): each atlas is fitted to the\n"
  "input on the organs both contain (trimmed ICP on organ boundaries, similarity by default,\n"
  "translation + scale with fewer than 4 shared organs), its copies of the removed organs\n"
  "are warped into the input's grid and fused by majority vote into background voxels.\n"
  "A case is never its own atlas (same file or same voxels).  See docs/evaluation.md.";

int
cmd_eval (int argc, char **argv)
{
  g_autofree char *data_dir = NULL, *json_path = NULL, *atlas_dir = NULL, *scheme = NULL, *match = NULL,
                  *transform = NULL, *atlas_scheme = NULL, *completed = NULL, *reference = NULL,
                  *input = NULL, *csv_path = NULL;
  g_auto (GStrv) models = NULL;
  g_auto (GStrv) case_files = NULL;
  g_auto (GStrv) atlas_files = NULL;
  gint64 mean_seed = 1;
  int mean_subjects = 50, threads = 0, limit = 0;
  double min_ml = REMOVAL_PLAN_MIN_ML;
  gboolean keep_fragments = FALSE, no_models = FALSE, no_hd95 = FALSE, force = FALSE;
  GOptionEntry entries[] = {
    { "data", 'd', 0, G_OPTION_ARG_FILENAME, &data_dir,
      "Benchmark layout (complete/, incomplete/), or a folder of complete label maps", "DIR" },
    { "case", 'c', 0, G_OPTION_ARG_FILENAME_ARRAY, &case_files, "A complete label map to evaluate on (repeat)", "FILE" },
    { "match", 0, 0, G_OPTION_ARG_STRING, &match,
      "Only the files of --data and --atlas-dir folders whose name matches (e.g. '*_12class.nii.gz')", "GLOB" },
    { "model", 'm', 0, G_OPTION_ARG_STRING_ARRAY, &models,
      "unet, unet-skip, googlenet-skip or FILE (repeat; default: every shipped model)", "MODEL" },
    { "no-models", 0, 0, G_OPTION_ARG_NONE, &no_models, "Evaluate no network (only the atlas and baselines)", NULL },
    { "atlas", 'a', 0, G_OPTION_ARG_FILENAME_ARRAY, &atlas_files,
      "A complete label map to use as an atlas (repeat); adds the method \"atlas\"", "FILE" },
    { "atlas-dir", 0, 0, G_OPTION_ARG_FILENAME, &atlas_dir, "Every .nii / .nii.gz of DIR as an atlas", "DIR" },
    { "transform", 0, 0, G_OPTION_ARG_STRING, &transform,
      "Atlas transform: similarity (default), affine or translation-scale", "KIND" },
    { "scheme", 0, 0, G_OPTION_ARG_STRING, &scheme,
      "Label scheme of the complete maps (default: detected; see docs/label-schemes.md)", "NAME" },
    { "atlas-scheme", 0, 0, G_OPTION_ARG_STRING, &atlas_scheme, "Label scheme of the atlases (default: detected)",
      "NAME" },
    { "min-ml", 0, 0, G_OPTION_ARG_DOUBLE, &min_ml,
      "An organ is present (removed and scored) from this volume on (default 5 mL)", "ML" },
    { "no-hd95", 0, 0, G_OPTION_ARG_NONE, &no_hd95,
      "Skip the 95 % Hausdorff distances of the removed organs (of the organs, with --completed)", NULL },
    { "completed", 0, 0, G_OPTION_ARG_FILENAME, &completed,
      "Compare this completed label map with --reference, organ by organ (as the GUI's table)", "FILE" },
    { "reference", 0, 0, G_OPTION_ARG_FILENAME, &reference, "The reference (complete) map for --completed", "FILE" },
    { "input", 0, 0, G_OPTION_ARG_FILENAME, &input,
      "With --completed: the partial input, to list the organs missing from it first", "FILE" },
    { "csv", 0, 0, G_OPTION_ARG_FILENAME, &csv_path, "With --completed: also write the table as CSV", "FILE" },
    { "json", 'j', 0, G_OPTION_ARG_FILENAME, &json_path, "Also write every figure as JSON", "FILE" },
    { "force", 'f', 0, G_OPTION_ARG_NONE, &force, "Replace the --json (and --csv) FILE if it exists", NULL },
    { "mean-seed", 0, 0, G_OPTION_ARG_INT64, &mean_seed,
      "Benchmark layout: training seed whose first subjects make the population mean (default 1)", "S" },
    { "mean-subjects", 0, 0, G_OPTION_ARG_INT, &mean_subjects,
      "Benchmark layout: training subjects in the population mean (default 50)", "N" },
    { "threads", 't', 0, G_OPTION_ARG_INT, &threads, "Threads for the networks and the atlas vote (default: all)", "N" },
    { "limit", 0, 0, G_OPTION_ARG_INT, &limit,
      "Use only the first N partial volumes (benchmark layout) or complete maps", "N" },
    { "keep-fragments", 0, 0, G_OPTION_ARG_NONE, &keep_fragments,
      "Keep small disconnected pieces of added organs, as 'complete --keep-fragments'", NULL },
    { NULL },
  };
  if (!cli_parse_options (&argc, &argv, NULL, summary, entries))
    return CLI_EXIT_USAGE;
  if ((completed != NULL) != (reference != NULL))
    return cli_fail ("--completed and --reference go together");
  if (completed && (data_dir || case_files))
    return cli_fail ("--completed compares one map: it excludes --data and --case");
  if (!completed && (input || csv_path))
    return cli_fail ("--input and --csv apply to --completed only");
  if (completed)
    {
      const char *inputs[] = { completed, reference, input, NULL };
      g_autoptr (OutSet) outputs = cli_outputs_new (force, inputs);
      if ((json_path && !cli_outputs_reserve (outputs, json_path))
          || (csv_path && !cli_outputs_reserve (outputs, csv_path)))
        return 1;
      return eval_pair (completed, reference, input, !no_hd95, outputs, json_path, csv_path);
    }
  if (data_dir == NULL && case_files == NULL)
    return cli_fail ("--data DIR, --case FILE or --completed FILE is required");
  if (mean_subjects < 1)
    return cli_fail ("--mean-subjects must be at least 1");
  if (threads < 0 || threads > 256)
    return cli_fail ("--threads must be in 0..256");
  if (!(min_ml >= 0.0))
    return cli_fail ("--min-ml must be at least 0");
  if (no_models && models)
    return cli_fail ("--no-models and --model exclude each other");

  EvalSettings st = { .threads = threads, .keep_fragments = keep_fragments, .hd95 = !no_hd95 };
  atlas_options_init (&st.atlas);
  st.atlas.min_ml = min_ml;
  if (transform)
    {
      if (g_ascii_strcasecmp (transform, "similarity") == 0)
        st.atlas.transform = ATLAS_TRANSFORM_SIMILARITY;
      else if (g_ascii_strcasecmp (transform, "affine") == 0)
        st.atlas.transform = ATLAS_TRANSFORM_AFFINE;
      else if (g_ascii_strcasecmp (transform, "translation-scale") == 0)
        st.atlas.transform = ATLAS_TRANSFORM_TRANSLATION_SCALE;
      else
        return cli_fail ("--transform must be similarity, affine or translation-scale");
    }
  g_autoptr (GError) error = NULL;
  if (scheme && label_scheme_lookup (scheme, &error) == NULL)
    return cli_fail ("--scheme: %s", error->message);
  if (atlas_scheme && label_scheme_lookup (atlas_scheme, &error) == NULL)
    return cli_fail ("--atlas-scheme: %s", error->message);

  gboolean benchmark = FALSE;
  if (data_dir)
    {
      if (!g_file_test (data_dir, G_FILE_TEST_IS_DIR))
        return cli_fail ("%s is not a folder", data_dir);
      g_autofree char *inc = g_build_filename (data_dir, "incomplete", NULL);
      benchmark = g_file_test (inc, G_FILE_TEST_IS_DIR);
      if (benchmark && case_files)
        return cli_fail ("%s is in the benchmark layout: --case applies to complete label maps only", data_dir);
    }

  /* the atlases */
  g_autoptr (GPtrArray) atlas_paths = g_ptr_array_new_with_free_func (g_free);
  for (int i = 0; atlas_files && atlas_files[i]; i++)
    g_ptr_array_add (atlas_paths, g_strdup (atlas_files[i]));
  if (atlas_dir && !list_maps (atlas_dir, match, atlas_paths, &error))
    return cli_fail ("--atlas-dir: %s", error->message);
  if (atlas_dir && atlas_paths->len == 0)
    return cli_fail ("--atlas-dir %s holds no .nii or .nii.gz label map%s", atlas_dir, match ? " matching --match" : "");
  const gboolean with_atlas = atlas_paths->len > 0;
  g_autoptr (GPtrArray) atlases = g_ptr_array_new_with_free_func (atlas_entry_free);
  if (with_atlas && !load_atlases (atlas_paths, atlas_scheme, min_ml, atlases, &error))
    {
      cli_progress_done ();
      return cli_fail ("%s", error->message);
    }

  /* the JSON file is checked before the work: replaced only with --force */
  g_autoptr (OutSet) outputs = cli_outputs_new (force, NULL);
  if (json_path && !cli_outputs_reserve (outputs, json_path))
    return 1;

  /* the networks */
  g_autoptr (GPtrArray) nets = g_ptr_array_new_with_free_func ((GDestroyNotify) nn_net_free);
  g_autoptr (GPtrArray) model_paths = g_ptr_array_new_with_free_func (g_free);
  g_autoptr (GPtrArray) model_names = g_ptr_array_new_with_free_func (g_free);
  if (!load_models (models, no_models, nets, model_paths, model_names))
    return 1;

  if (benchmark)
    return eval_benchmark (data_dir, nets, model_paths, model_names, atlases, &st, mean_seed, mean_subjects, limit,
                           outputs, json_path);

  g_autoptr (GPtrArray) cases = g_ptr_array_new_with_free_func (g_free);
  for (int i = 0; case_files && case_files[i]; i++)
    g_ptr_array_add (cases, g_strdup (case_files[i]));
  if (data_dir && !list_maps (data_dir, match, cases, &error))
    return cli_fail ("--data: %s", error->message);
  if (cases->len == 0)
    return cli_fail ("%s holds no .nii or .nii.gz label map%s (and no incomplete/ folder)",
                     data_dir ? data_dir : "--case", match ? " matching --match" : "");
  return eval_maps (cases, nets, model_paths, model_names, atlases, with_atlas, &st, scheme, min_ml, limit,
                    outputs, json_path);
}
