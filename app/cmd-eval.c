/* cmd-eval.c: `anatomy eval`: Dice of completion networks and baselines, either on a
 * dataset in the benchmark layout (DIR/complete + DIR/incomplete) or on complete label
 * maps from which the command makes the removals itself (removal-plan.h), with
 * multi-atlas transfer (atlas.h) as the classical baseline. */
#include "commands.h"
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

/* Labels are those of the default scheme: background and 12 organs (LT_N_CLASSES),
 * named by lt_default_class_name. */

typedef struct {
  char *path;              /* as given */
  char *real;              /* canonical, to recognise a case's own file */
  char *name;              /* file name without its NIfTI extension */
  char *scheme;            /* scheme the file was read in */
  LabelVolume *v;          /* 12 classes */
  AtlasSubject *s;
} Atlas;

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

/* Options shared by both modes. */
typedef struct {
  int threads;
  gboolean keep_fragments;
  gboolean hd95;           /* also the 95 % Hausdorff distance (complete maps) */
  AtlasOptions atlas;
} EvalSettings;

static char *
real_path (const char *path)
{
  char *r = realpath (path, NULL);
  char *out = g_strdup (r ? r : path);
  free (r);
  return out;
}

static char *
file_stem (const char *path)
{
  g_autofree char *base = g_path_get_basename (path);
  return nifti_path_stem (base);
}

/* @path as a 12-class map: its scheme (@scheme, else detected from the names beside it or
 * in its header, else benchmark12 when every id is in 0..12) mapped to the 12 classes. */
static LabelVolume *
read_12class (const char *path, const char *scheme, char **scheme_used, GError **error)
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
      a->real = real_path (p);
      a->name = file_stem (p);
      if ((a->v = read_12class (p, scheme, &a->scheme, error)) == NULL)
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

static gboolean
same_voxels (const LabelVolume *a, const LabelVolume *b)
{
  if (a->nx != b->nx || a->ny != b->ny || a->nz != b->nz)
    return FALSE;
  int64_t n = lv_volume_n_voxels (a);
  if (a->bytes_per_voxel == b->bytes_per_voxel)
    return memcmp (a->data, b->data, (size_t) n * a->bytes_per_voxel) == 0;
  for (int64_t q = 0; q < n; q++)
    if (lv_volume_get_index (a, q) != lv_volume_get_index (b, q))
      return FALSE;
  return TRUE;
}

/* The atlases for a case: all but those that are the case itself (same file, or the same
 * voxels, e.g. one patient in two label schemes).  Borrowed pointers. */
static GPtrArray *
atlases_for_case (GPtrArray *atlases, const char *case_real, const LabelVolume *truth)
{
  GPtrArray *out = g_ptr_array_new ();
  for (guint i = 0; i < atlases->len; i++)
    {
      Atlas *a = g_ptr_array_index (atlases, i);
      if ((case_real && strcmp (a->real, case_real) == 0) || same_voxels (a->v, truth))
        continue;
      g_ptr_array_add (out, a);
    }
  return out;
}

static LabelVolume *
run_atlas (GPtrArray *use, const LabelVolume *in, guint32 removed, const EvalSettings *st, AtlasFit *fits,
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

static LabelVolume *
run_net (NnNet *net, const LabelVolume *in, guint32 removed, const EvalSettings *st, GError **error)
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

static const char *
transform_name (AtlasTransform t)
{
  switch (t)
    {
    case ATLAS_TRANSFORM_TRANSLATION_SCALE: return "translation+scale";
    case ATLAS_TRANSFORM_SIMILARITY: return "similarity";
    default: return "affine";
    }
}

static void
json_add_number_or_null (JsonBuilder *b, const char *key, double v)
{
  json_builder_set_member_name (b, key);
  if (isnan (v))
    json_builder_add_null_value (b);
  else
    json_builder_add_double_value (b, v);
}

static gboolean
write_json (JsonBuilder *b, OutSet *outputs, const char *path, GError **error)
{
  g_autoptr (JsonGenerator) gen = json_generator_new ();
  g_autoptr (JsonNode) root = json_builder_get_root (b);
  json_generator_set_root (gen, root);
  json_generator_set_pretty (gen, TRUE);
  gsize len;
  g_autofree char *text = json_generator_to_data (gen, &len);
  OutFile *f = out_set_open (outputs, path, OUT_FILE_PLAIN, error);
  return f != NULL && out_file_write (f, text, len, error) && out_file_finish (f, error)
         && out_set_commit (outputs, error);
}

/* ===================================================================================
 * Mode 1: the benchmark layout (partial volumes given)
 * =================================================================================== */

/* Dice sums of one method */
typedef struct {
  char *name;
  const char *file;        /* model file, NULL for baselines */
  double all_sum[LT_N_CLASSES];  int all_n[LT_N_CLASSES];  /* organ present in truth */
  double rem_sum[LT_N_CLASSES];  int rem_n[LT_N_CLASSES];  /* organ removed from the input */
  double bin_all_sum, bin_rem_sum;
  int bin_n, bin_rem_n;
  double seconds;
  int runs;
} Method;

static void
score (Method *m, const LabelVolume *pred, const LabelVolume *truth, guint32 removed)
{
  int64_t n = lv_volume_n_voxels (truth);
  int64_t inter[LT_N_CLASSES] = { 0 }, np[LT_N_CLASSES] = { 0 }, nt[LT_N_CLASSES] = { 0 };
  int64_t bi = 0, bp = 0, bt = 0, ri = 0, rp = 0, rt = 0;
  for (int64_t q = 0; q < n; q++)
    {
      int p = lv_volume_get_index (pred, q), t = lv_volume_get_index (truth, q);
      p = p >= 0 && p < LT_N_CLASSES ? p : 0;
      t = t >= 0 && t < LT_N_CLASSES ? t : 0;
      np[p]++;
      nt[t]++;
      if (p == t)
        inter[p]++;
      bp += p != 0;
      bt += t != 0;
      bi += p != 0 && t != 0;
      gboolean pr = (removed >> p) & 1u, tr = (removed >> t) & 1u;
      rp += pr;
      rt += tr;
      ri += pr && tr;
    }
  for (int l = 1; l < LT_N_CLASSES; l++)
    {
      if (nt[l] == 0)
        continue;
      double d = metrics_dice (np[l], nt[l], inter[l]);
      m->all_sum[l] += d;
      m->all_n[l]++;
      if ((removed >> l) & 1u)
        {
          m->rem_sum[l] += d;
          m->rem_n[l]++;
        }
    }
  /* NAN (nothing in either map) is left out of the means, as metrics.h says */
  double bd = metrics_dice (bp, bt, bi), rd = metrics_dice (rp, rt, ri);
  if (!isnan (bd))
    {
      m->bin_all_sum += bd;
      m->bin_n++;
    }
  if (removed && !isnan (rd))
    {
      m->bin_rem_sum += rd;
      m->bin_rem_n++;
    }
}

static double
organ_mean (const double *sum, const int *cnt, double *per)
{
  double s = 0.0;
  int k = 0;
  for (int l = 1; l < LT_N_CLASSES; l++)
    {
      per[l] = cnt[l] ? sum[l] / cnt[l] : NAN;
      if (cnt[l])
        {
          s += per[l];
          k++;
        }
    }
  return k ? s / k : NAN;
}

/* per-voxel most frequent label over @n_subjects training phantoms of @seed on the
 * data's grid and spacing */
static LabelVolume *
population_mode (const LabelVolume *like, guint64 seed, int n_subjects, GError **error)
{
  int64_t n = lv_volume_n_voxels (like);
  g_autofree guint16 *counts = g_try_new0 (guint16, n * LT_N_CLASSES);
  if (counts == NULL)
    {
      g_set_error (error, G_FILE_ERROR, G_FILE_ERROR_NOMEM, "cannot allocate the population counts");
      return NULL;
    }
  for (int s = 0; s < n_subjects; s++)
    {
      PhantomParams pp;
      phantom_params_init (&pp);
      pp.seed = phantom_derive_seed (seed ^ TRAIN_STREAM_SUBJECT, (guint64) s);
      pp.grid[0] = (int) like->nx;
      pp.grid[1] = (int) like->ny;
      pp.grid[2] = (int) like->nz;
      for (int a = 0; a < 3; a++)
        pp.spacing[a] = like->spacing[a];
      g_autoptr (LabelVolume) v = phantom_generate (&pp, error);
      if (v == NULL)
        return NULL;
      for (int64_t q = 0; q < n; q++)
        {
          int l = lv_volume_get_index (v, q);
          counts[q * LT_N_CLASSES + (l >= 0 && l < LT_N_CLASSES ? l : 0)]++;
        }
      cli_progress ("population mean", (s + 1.0) / n_subjects, NULL);
    }
  LabelVolume *mode = lv_volume_new_like (like, 1);
  for (int64_t q = 0; q < n; q++)
    {
      int best = 0;
      for (int l = 1; l < LT_N_CLASSES; l++)
        if (counts[q * LT_N_CLASSES + l] > counts[q * LT_N_CLASSES + best])
          best = l;
      lv_volume_set_index (mode, q, best);
    }
  return mode;
}

static void
json_add_table (JsonBuilder *b, const char *key, const double *per, double mean)
{
  json_builder_set_member_name (b, key);
  json_builder_begin_object (b);
  for (int l = 1; l < LT_N_CLASSES; l++)
    json_add_number_or_null (b, lt_default_class_name (l), per[l]);
  json_add_number_or_null (b, "mean", mean);
  json_builder_end_object (b);
}

static int
eval_benchmark (const char *data_dir, GPtrArray *nets, GPtrArray *model_paths, GPtrArray *model_names,
                GPtrArray *atlases, const EvalSettings *st, gint64 mean_seed, int mean_subjects, int limit,
                OutSet *outputs, const char *json_path)
{
  g_autoptr (GError) error = NULL;
  /* the pairs */
  g_autoptr (GPtrArray) ppaths = NULL;
  g_autoptr (GPtrArray) cpaths = NULL;
  if (!train_data_scan_dataset (data_dir, &ppaths, &cpaths, &error))
    return cli_fail ("%s", error->message);
  guint n_subjects = 0;   /* pairs come grouped by subject */
  for (guint i = 0; i < cpaths->len; i++)
    n_subjects += i == 0 || strcmp (g_ptr_array_index (cpaths, i), g_ptr_array_index (cpaths, i - 1)) != 0;
  guint n_cases = limit > 0 ? MIN ((guint) limit, ppaths->len) : ppaths->len;

  const gboolean with_atlas = atlases->len > 0;
  const int first_net = 2 + with_atlas;
  int n_methods = first_net + (int) nets->len;
  g_autofree Method *m = g_new0 (Method, n_methods);
  m[0].name = g_strdup ("copy");
  m[1].name = g_strdup ("mean");
  if (with_atlas)
    m[2].name = g_strdup ("atlas");
  for (guint i = 0; i < nets->len; i++)
    {
      m[first_net + i].name = g_strdup (g_ptr_array_index (model_names, i));
      m[first_net + i].file = g_ptr_array_index (model_paths, i);
    }

  g_autoptr (LabelVolume) mode = NULL;
  g_autoptr (GTimer) timer = g_timer_new ();
  for (guint c = 0; c < n_cases; c++)
    {
      g_autoptr (LabelVolume) in = label_file_read (g_ptr_array_index (ppaths, c), 0, NULL, NULL, &error);
      if (in == NULL)
        return cli_fail ("%s", error->message);
      g_autoptr (LabelVolume) truth = label_file_read (g_ptr_array_index (cpaths, c), 0, NULL, NULL, &error);
      if (truth == NULL)
        return cli_fail ("%s", error->message);
      if (in->nx != truth->nx || in->ny != truth->ny || in->nz != truth->nz)
        return cli_fail ("%s and %s differ in size", (char *) g_ptr_array_index (ppaths, c),
                         (char *) g_ptr_array_index (cpaths, c));
      guint32 removed = phantom_labels_present (truth) & ~phantom_labels_present (in)
                        & ((1u << LT_N_CLASSES) - 2u);
      if (mode == NULL || mode->nx != in->nx || mode->ny != in->ny || mode->nz != in->nz)
        {
          g_clear_pointer (&mode, lv_volume_free);
          g_timer_start (timer);
          mode = population_mode (truth, (guint64) mean_seed, mean_subjects, &error);
          cli_progress_done ();
          if (mode == NULL)
            return cli_fail ("%s", error->message);
          m[1].seconds += g_timer_elapsed (timer, NULL);
        }
      /* copy */
      score (&m[0], in, truth, removed);
      /* population mean */
      {
        g_autoptr (LabelVolume) pred = lv_volume_dup (in);
        int64_t n = lv_volume_n_voxels (in);
        for (int64_t q = 0; q < n; q++)
          {
            int l = lv_volume_get_index (mode, q);
            if (lv_volume_get_index (in, q) == 0 && (removed >> l) & 1u)
              lv_volume_set_index (pred, q, l);
          }
        score (&m[1], pred, truth, removed);
      }
      if (with_atlas)
        {
          g_autofree char *truth_real = real_path (g_ptr_array_index (cpaths, c));
          g_autoptr (GPtrArray) use = atlases_for_case (atlases, truth_real, truth);
          g_timer_start (timer);
          g_autoptr (LabelVolume) pred = removed ? run_atlas (use, in, removed, st, NULL, &error) : lv_volume_dup (in);
          if (pred == NULL)
            return cli_fail ("atlas: %s: %s", (char *) g_ptr_array_index (ppaths, c), error->message);
          m[2].seconds += g_timer_elapsed (timer, NULL);
          m[2].runs += removed != 0;
          score (&m[2], pred, truth, removed);
        }
      for (guint i = 0; i < nets->len; i++)
        {
          Method *mm = &m[first_net + i];
          if (removed == 0)
            {
              score (mm, in, truth, removed);
              continue;
            }
          g_timer_start (timer);
          g_autoptr (LabelVolume) pred = run_net (g_ptr_array_index (nets, i), in, removed, st, &error);
          if (pred == NULL)
            return cli_fail ("%s: %s", mm->name, error->message);
          mm->seconds += g_timer_elapsed (timer, NULL);
          mm->runs++;
          score (mm, pred, truth, removed);
        }
      g_autofree char *txt = g_strdup_printf ("%u/%u cases", c + 1, n_cases);
      cli_progress ("eval", (c + 1.0) / n_cases, txt);
    }
  cli_progress_done ();

  /* tables */
  g_autofree double *rem = g_new (double, n_methods * LT_N_CLASSES);
  g_autofree double *all = g_new (double, n_methods * LT_N_CLASSES);
  g_autofree double *rem_mean = g_new (double, n_methods), *all_mean = g_new (double, n_methods);
  for (int k = 0; k < n_methods; k++)
    {
      rem_mean[k] = organ_mean (m[k].rem_sum, m[k].rem_n, rem + k * LT_N_CLASSES);
      all_mean[k] = organ_mean (m[k].all_sum, m[k].all_n, all + k * LT_N_CLASSES);
    }
  printf ("%u partial volumes of %u subjects in %s\n\n", n_cases, n_subjects, data_dir);
  for (int table = 0; table < 2; table++)
    {
      const double *t = table == 0 ? rem : all;
      printf ("%s\n", table == 0 ? "Dice of removed organs only (organ's mean over the cases it was removed from)"
                                 : "Dice on all voxels (organ's mean over the cases containing it)");
      printf ("%-18s %8s", "organ", table == 0 ? "removed" : "cases");
      for (int k = 0; k < n_methods; k++)
        printf (" %14s", m[k].name);
      printf ("\n");
      for (int l = 1; l < LT_N_CLASSES; l++)
        {
          printf ("%-18s %8d", lt_default_class_name (l), table == 0 ? m[0].rem_n[l] : m[0].all_n[l]);
          for (int k = 0; k < n_methods; k++)
            {
              double v = t[k * LT_N_CLASSES + l];
              if (isnan (v))
                printf (" %14s", "-");
              else
                printf (" %14.3f", v);
            }
          printf ("\n");
        }
      printf ("%-18s %8s", "mean over organs", "");
      for (int k = 0; k < n_methods; k++)
        printf (" %14.3f", table == 0 ? rem_mean[k] : all_mean[k]);
      printf ("\n%-18s %8s", table == 0 ? "binary (removed)" : "binary (all)", "");
      for (int k = 0; k < n_methods; k++)
        printf (" %14.3f", table == 0 ? (m[k].bin_rem_n ? m[k].bin_rem_sum / m[k].bin_rem_n : NAN)
                                       : m[k].bin_all_sum / MAX (1, m[k].bin_n));
      printf ("\n\n");
    }
  for (int k = 2; k < n_methods; k++)
    printf ("%s: %.2f s per completion\n", m[k].name, m[k].seconds / MAX (1, m[k].runs));

  if (json_path)
    {
      g_autoptr (JsonBuilder) b = json_builder_new ();
      json_builder_begin_object (b);
      json_builder_set_member_name (b, "data");
      json_builder_add_string_value (b, data_dir);
      json_builder_set_member_name (b, "cases");
      json_builder_add_int_value (b, n_cases);
      json_builder_set_member_name (b, "population_mean");
      json_builder_begin_object (b);
      json_builder_set_member_name (b, "seed");
      json_builder_add_int_value (b, mean_seed);
      json_builder_set_member_name (b, "subjects");
      json_builder_add_int_value (b, mean_subjects);
      json_builder_end_object (b);
      if (with_atlas)
        {
          json_builder_set_member_name (b, "atlases");
          json_builder_begin_array (b);
          for (guint i = 0; i < atlases->len; i++)
            json_builder_add_string_value (b, ((Atlas *) g_ptr_array_index (atlases, i))->path);
          json_builder_end_array (b);
        }
      json_builder_set_member_name (b, "removed_counts");
      json_builder_begin_object (b);
      for (int l = 1; l < LT_N_CLASSES; l++)
        {
          json_builder_set_member_name (b, lt_default_class_name (l));
          json_builder_add_int_value (b, m[0].rem_n[l]);
        }
      json_builder_end_object (b);
      json_builder_set_member_name (b, "methods");
      json_builder_begin_array (b);
      for (int k = 0; k < n_methods; k++)
        {
          json_builder_begin_object (b);
          json_builder_set_member_name (b, "name");
          json_builder_add_string_value (b, m[k].name);
          if (m[k].file)
            {
              json_builder_set_member_name (b, "file");
              json_builder_add_string_value (b, m[k].file);
            }
          if (k >= 2)
            {
              json_builder_set_member_name (b, "seconds_per_case");
              json_builder_add_double_value (b, m[k].seconds / MAX (1, m[k].runs));
            }
          json_add_table (b, "removed_dice", rem + k * LT_N_CLASSES, rem_mean[k]);
          json_add_table (b, "all_dice", all + k * LT_N_CLASSES, all_mean[k]);
          json_builder_set_member_name (b, "binary_dice_all");
          json_builder_add_double_value (b, m[k].bin_all_sum / MAX (1, m[k].bin_n));
          json_builder_set_member_name (b, "binary_dice_removed");
          json_builder_add_double_value (b, m[k].bin_rem_n ? m[k].bin_rem_sum / m[k].bin_rem_n : -1);
          json_builder_end_object (b);
        }
      json_builder_end_array (b);
      json_builder_end_object (b);
      if (!write_json (b, outputs, json_path, &error))
        return cli_fail_output (error);
    }
  for (int k = 0; k < n_methods; k++)
    g_free (m[k].name);
  return 0;
}

/* ===================================================================================
 * Mode 2: complete label maps; the removals come from removal-plan.h
 * =================================================================================== */

/* One removed organ of one removal of one case, scored by every method. */
typedef struct {
  int case_index, removal_index;
  int organ;
  gboolean triple;
  double truth_ml;
  double *dice;     /* n_methods */
  double *ml;       /* n_methods: volume the method gave the organ */
  double *hd95;     /* n_methods: mm, NAN when the method added none of it (or without --hd95) */
} Item;

typedef struct {
  guint32 mask;
  int n_atlases;
  AtlasFit *fits;   /* n_atlases, NULL without atlas method */
  char **atlas_names;  /* borrowed */
} Removal;

typedef struct {
  char *path, *name, *scheme;
  double ml[LT_N_CLASSES];
  guint32 present;
  GArray *removals;  /* Removal */
} Case;

/* organs of @pred and @truth: per-class voxel counts and overlaps */
static void
overlap_counts (const LabelVolume *pred, const LabelVolume *truth, int64_t np[LT_N_CLASSES],
                int64_t nt[LT_N_CLASSES], int64_t both[LT_N_CLASSES])
{
  for (int l = 0; l < LT_N_CLASSES; l++)
    np[l] = nt[l] = both[l] = 0;
  int64_t n = lv_volume_n_voxels (truth);
  for (int64_t q = 0; q < n; q++)
    {
      int p = lv_volume_get_index (pred, q), t = lv_volume_get_index (truth, q);
      p = p >= 0 && p < LT_N_CLASSES ? p : 0;
      t = t >= 0 && t < LT_N_CLASSES ? t : 0;
      np[p]++;
      nt[t]++;
      both[p] += p == t;
    }
}

static double
mean_of (const double *v, int n)
{
  double s = 0.0;
  int k = 0;
  for (int i = 0; i < n; i++)
    if (!isnan (v[i]))
      {
        s += v[i];
        k++;
      }
  return k ? s / k : NAN;
}

static int
cmp_double (const void *a, const void *b)
{
  double x = *(const double *) a, y = *(const double *) b;
  return (x > y) - (x < y);
}

/* median of the values of @v that are not NAN (sorts @v's copy); NAN when none */
static double
median_of (const double *v, int n)
{
  g_autofree double *w = g_new (double, MAX (1, n));
  int k = 0;
  for (int i = 0; i < n; i++)
    if (!isnan (v[i]))
      w[k++] = v[i];
  if (k == 0)
    return NAN;
  qsort (w, (size_t) k, sizeof *w, cmp_double);
  return k % 2 ? w[k / 2] : 0.5 * (w[k / 2 - 1] + w[k / 2]);
}

static void
print_cell (double v)
{
  if (isnan (v))
    printf (" %14s", "-");
  else
    printf (" %14.3f", v);
}

static int
eval_maps (GPtrArray *cases_in, GPtrArray *nets, GPtrArray *model_paths, GPtrArray *model_names,
           GPtrArray *atlases, gboolean with_atlas, const EvalSettings *st, const char *scheme, double min_ml,
           int limit, OutSet *outputs, const char *json_path)
{
  g_autoptr (GError) error = NULL;
  guint n_cases = limit > 0 ? MIN ((guint) limit, cases_in->len) : cases_in->len;
  const int first_net = with_atlas ? 1 : 0;
  const int n_methods = first_net + (int) nets->len;
  if (n_methods == 0)
    return cli_fail ("nothing to evaluate: no network and no atlas (give --model, --atlas or --atlas-dir)");
  g_autofree const char **names = g_new0 (const char *, n_methods);
  if (with_atlas)
    names[0] = "atlas";
  for (guint i = 0; i < nets->len; i++)
    names[first_net + i] = g_ptr_array_index (model_names, i);
  g_autofree double *seconds = g_new0 (double, n_methods);
  g_autofree int *runs = g_new0 (int, n_methods);

  g_autoptr (GArray) items = g_array_new (FALSE, FALSE, sizeof (Item));
  g_autofree Case *cases = g_new0 (Case, MAX (1u, n_cases));
  g_autoptr (GTimer) timer = g_timer_new ();
  int n_removals = 0;
  for (guint c = 0; c < n_cases; c++)
    {
      Case *cs = &cases[c];
      cs->path = g_strdup (g_ptr_array_index (cases_in, c));
      cs->name = file_stem (cs->path);
      cs->removals = g_array_new (FALSE, TRUE, sizeof (Removal));
      g_autoptr (LabelVolume) truth = read_12class (cs->path, scheme, &cs->scheme, &error);
      if (truth == NULL)
        return cli_fail ("%s", error->message);
      int64_t counts[LT_N_CLASSES];
      cs->present = removal_plan_present (truth, min_ml, counts);
      for (int l = 0; l < LT_N_CLASSES; l++)
        cs->ml[l] = counts[l] * lv_volume_voxel_mm3 (truth) / 1000.0;
      g_autoptr (GArray) plan = removal_plan_make (cs->present);
      g_autoptr (SurfacePoints) truth_surf = NULL;
      if (st->hd95 && (truth_surf = surface_points_new (truth, cs->present, &error)) == NULL)
        return cli_fail ("%s: %s", cs->path, error->message);
      g_autofree char *case_real = real_path (cs->path);
      g_autoptr (GPtrArray) use = with_atlas ? atlases_for_case (atlases, case_real, truth) : g_ptr_array_new ();
      for (guint r = 0; r < plan->len; r++)
        {
          guint32 removed = g_array_index (plan, guint32, r);
          g_autoptr (LabelVolume) in = removal_plan_apply (truth, removed);
          Removal rm = { .mask = removed };
          g_autoptr (GPtrArray) preds = g_ptr_array_new_with_free_func ((GDestroyNotify) lv_volume_free);
          if (with_atlas)
            {
              rm.n_atlases = (int) use->len;
              rm.fits = g_new0 (AtlasFit, MAX (1u, use->len));
              rm.atlas_names = g_new0 (char *, use->len + 1);
              for (guint a = 0; a < use->len; a++)
                rm.atlas_names[a] = ((Atlas *) g_ptr_array_index (use, a))->name;
              g_timer_start (timer);
              LabelVolume *p = run_atlas (use, in, removed, st, rm.fits, &error);
              if (p == NULL)
                return cli_fail ("atlas: %s: %s", cs->path, error->message);
              seconds[0] += g_timer_elapsed (timer, NULL);
              runs[0]++;
              g_ptr_array_add (preds, p);
            }
          for (guint i = 0; i < nets->len; i++)
            {
              g_timer_start (timer);
              LabelVolume *p = run_net (g_ptr_array_index (nets, i), in, removed, st, &error);
              if (p == NULL)
                return cli_fail ("%s: %s: %s", names[first_net + i], cs->path, error->message);
              seconds[first_net + i] += g_timer_elapsed (timer, NULL);
              runs[first_net + i]++;
              g_ptr_array_add (preds, p);
            }
          /* score: one item per removed organ */
          int first_item = (int) items->len;
          for (int l = 1; l < LT_N_CLASSES; l++)
            if ((removed >> l) & 1u)
              {
                Item it = { .case_index = (int) c, .removal_index = (int) r, .organ = l,
                            .triple = removal_plan_is_triple (removed), .truth_ml = cs->ml[l] };
                it.dice = g_new (double, n_methods);
                it.ml = g_new (double, n_methods);
                it.hd95 = g_new (double, n_methods);
                g_array_append_val (items, it);
              }
          for (int k = 0; k < n_methods; k++)
            {
              int64_t np[LT_N_CLASSES], nt[LT_N_CLASSES], both[LT_N_CLASSES];
              const LabelVolume *pred = g_ptr_array_index (preds, k);
              overlap_counts (pred, truth, np, nt, both);
              g_autoptr (SurfacePoints) surf = NULL;
              if (st->hd95 && (surf = surface_points_new (pred, removed, &error)) == NULL)
                return cli_fail ("%s: %s", cs->path, error->message);
              for (guint t = (guint) first_item; t < items->len; t++)
                {
                  Item *it = &g_array_index (items, Item, t);
                  it->dice[k] = metrics_dice (np[it->organ], nt[it->organ], both[it->organ]);
                  it->ml[k] = np[it->organ] * lv_volume_voxel_mm3 (truth) / 1000.0;
                  it->hd95[k] = surf ? surface_distance_hd95 (surf, truth_surf, it->organ) : NAN;
                }
            }
          g_array_append_val (cs->removals, rm);
          n_removals++;
          g_autofree char *txt = g_strdup_printf ("case %u/%u %s, removal %u/%u", c + 1, n_cases, cs->name, r + 1,
                                                  plan->len);
          cli_progress ("eval", (c + (r + 1.0) / plan->len) / n_cases, txt);
        }
    }
  cli_progress_done ();

  /* per organ: mean over items; overall; alone / in triples */
  int per_n[LT_N_CLASSES] = { 0 };
  g_autofree double *sum_organ = g_new0 (double, (size_t) n_methods * LT_N_CLASSES);
  g_autofree double *sum_all = g_new0 (double, n_methods), *sum_alone = g_new0 (double, n_methods),
                    *sum_triple = g_new0 (double, n_methods);
  int n_alone = 0, n_triple = 0;
  for (guint t = 0; t < items->len; t++)
    {
      const Item *it = &g_array_index (items, Item, t);
      per_n[it->organ]++;
      n_alone += !it->triple;
      n_triple += it->triple;
      for (int k = 0; k < n_methods; k++)
        {
          sum_organ[k * LT_N_CLASSES + it->organ] += it->dice[k];
          sum_all[k] += it->dice[k];
          (it->triple ? sum_triple : sum_alone)[k] += it->dice[k];
        }
    }
  g_autofree double *organ_means = g_new (double, (size_t) n_methods * LT_N_CLASSES);
  g_autofree double *mean_organs = g_new (double, n_methods);
  for (int k = 0; k < n_methods; k++)
    {
      for (int l = 0; l < LT_N_CLASSES; l++)
        organ_means[k * LT_N_CLASSES + l] = l > 0 && per_n[l] ? sum_organ[k * LT_N_CLASSES + l] / per_n[l] : NAN;
      mean_organs[k] = mean_of (organ_means + k * LT_N_CLASSES + 1, LT_N_CLASSES - 1);
    }
  /* per case */
  g_autofree double *case_sum = g_new0 (double, (size_t) MAX (1u, n_cases) * n_methods);
  g_autofree int *case_n = g_new0 (int, MAX (1u, n_cases));
  for (guint t = 0; t < items->len; t++)
    {
      const Item *it = &g_array_index (items, Item, t);
      case_n[it->case_index]++;
      for (int k = 0; k < n_methods; k++)
        case_sum[it->case_index * n_methods + k] += it->dice[k];
    }

  printf ("%u complete label maps, %d removals (each soft organ of at least %g mL alone, and the triples), "
          "%u removed-organ items\n", n_cases, n_removals, min_ml, items->len);
  if (with_atlas)
    printf ("atlas: %u atlases, %s transform, majority vote (a case is never its own atlas)\n", atlases->len,
            transform_name (st->atlas.transform));
  printf ("\nDice of the removed organ (mean over the items where it was removed)\n");
  printf ("%-18s %6s", "organ", "items");
  for (int k = 0; k < n_methods; k++)
    printf (" %14s", names[k]);
  printf ("\n");
  for (int l = 1; l < LT_N_CLASSES; l++)
    {
      printf ("%-18s %6d", lt_default_class_name (l), per_n[l]);
      for (int k = 0; k < n_methods; k++)
        print_cell (organ_means[k * LT_N_CLASSES + l]);
      printf ("\n");
    }
  printf ("%-18s %6s", "mean over organs", "");
  for (int k = 0; k < n_methods; k++)
    print_cell (mean_organs[k]);
  printf ("\n%-18s %6u", "mean over items", items->len);
  for (int k = 0; k < n_methods; k++)
    print_cell (items->len ? sum_all[k] / items->len : NAN);
  printf ("\n%-18s %6d", "  removed alone", n_alone);
  for (int k = 0; k < n_methods; k++)
    print_cell (n_alone ? sum_alone[k] / n_alone : NAN);
  printf ("\n%-18s %6d", "  in triples", n_triple);
  for (int k = 0; k < n_methods; k++)
    print_cell (n_triple ? sum_triple[k] / n_triple : NAN);
  printf ("\n\nPer case (mean over the case's items)\n%-24s %6s", "case", "items");
  for (int k = 0; k < n_methods; k++)
    printf (" %14s", names[k]);
  printf ("\n");
  for (guint c = 0; c < n_cases; c++)
    {
      printf ("%-24s %6d", cases[c].name, case_n[c]);
      for (int k = 0; k < n_methods; k++)
        print_cell (case_n[c] ? case_sum[c * n_methods + k] / case_n[c] : NAN);
      printf ("\n");
    }
  printf ("\n");
  /* HD95: medians (a method that adds nothing of an organ has no distance: counted apart) */
  g_autofree double *hd_organ = g_new (double, (size_t) n_methods * LT_N_CLASSES);
  g_autofree double *hd_all = g_new (double, n_methods);
  g_autofree int *hd_missing = g_new0 (int, n_methods);
  if (st->hd95)
    {
      g_autofree double *col = g_new (double, MAX (1u, items->len));
      for (int k = 0; k < n_methods; k++)
        {
          for (int l = 0; l < LT_N_CLASSES; l++)
            {
              int n = 0;
              for (guint t = 0; t < items->len; t++)
                {
                  const Item *it = &g_array_index (items, Item, t);
                  if (it->organ == l)
                    col[n++] = it->hd95[k];
                }
              hd_organ[k * LT_N_CLASSES + l] = median_of (col, n);
            }
          for (guint t = 0; t < items->len; t++)
            {
              col[t] = g_array_index (items, Item, t).hd95[k];
              hd_missing[k] += isnan (col[t]);
            }
          hd_all[k] = median_of (col, (int) items->len);
        }
      printf ("HD95 of the removed organ in mm (median over the items where the method added some of it)\n");
      printf ("%-18s %6s", "organ", "items");
      for (int k = 0; k < n_methods; k++)
        printf (" %14s", names[k]);
      printf ("\n");
      for (int l = 1; l < LT_N_CLASSES; l++)
        {
          if (per_n[l] == 0)
            continue;
          printf ("%-18s %6d", lt_default_class_name (l), per_n[l]);
          for (int k = 0; k < n_methods; k++)
            print_cell (hd_organ[k * LT_N_CLASSES + l]);
          printf ("\n");
        }
      printf ("%-18s %6u", "median over items", items->len);
      for (int k = 0; k < n_methods; k++)
        print_cell (hd_all[k]);
      printf ("\n%-18s %6s", "  none added", "");
      for (int k = 0; k < n_methods; k++)
        printf (" %14d", hd_missing[k]);
      printf ("\n\n");
    }
  for (int k = 0; k < n_methods; k++)
    printf ("%s: %.2f s per completion\n", names[k], seconds[k] / MAX (1, runs[k]));

  if (json_path)
    {
      g_autoptr (JsonBuilder) b = json_builder_new ();
      json_builder_begin_object (b);
      json_builder_set_member_name (b, "mode");
      json_builder_add_string_value (b, "complete-maps");
      json_builder_set_member_name (b, "min_ml");
      json_builder_add_double_value (b, min_ml);
      json_builder_set_member_name (b, "items");
      json_builder_add_int_value (b, items->len);
      if (with_atlas)
        {
          json_builder_set_member_name (b, "atlas");
          json_builder_begin_object (b);
          json_builder_set_member_name (b, "transform");
          json_builder_add_string_value (b, transform_name (st->atlas.transform));
          json_builder_set_member_name (b, "files");
          json_builder_begin_array (b);
          for (guint i = 0; i < atlases->len; i++)
            {
              const Atlas *a = g_ptr_array_index (atlases, i);
              json_builder_begin_object (b);
              json_builder_set_member_name (b, "file");
              json_builder_add_string_value (b, a->path);
              json_builder_set_member_name (b, "scheme");
              json_builder_add_string_value (b, a->scheme);
              json_builder_end_object (b);
            }
          json_builder_end_array (b);
          json_builder_end_object (b);
        }
      json_builder_set_member_name (b, "methods");
      json_builder_begin_array (b);
      for (int k = 0; k < n_methods; k++)
        {
          json_builder_begin_object (b);
          json_builder_set_member_name (b, "name");
          json_builder_add_string_value (b, names[k]);
          if (k >= first_net)
            {
              json_builder_set_member_name (b, "file");
              json_builder_add_string_value (b, g_ptr_array_index (model_paths, k - first_net));
            }
          json_builder_set_member_name (b, "seconds_per_completion");
          json_builder_add_double_value (b, seconds[k] / MAX (1, runs[k]));
          json_builder_set_member_name (b, "removed_dice");
          json_builder_begin_object (b);
          for (int l = 1; l < LT_N_CLASSES; l++)
            json_add_number_or_null (b, lt_default_class_name (l), organ_means[k * LT_N_CLASSES + l]);
          json_builder_end_object (b);
          json_add_number_or_null (b, "mean_over_organs", mean_organs[k]);
          json_add_number_or_null (b, "mean_over_items", items->len ? sum_all[k] / items->len : NAN);
          json_add_number_or_null (b, "mean_removed_alone", n_alone ? sum_alone[k] / n_alone : NAN);
          json_add_number_or_null (b, "mean_in_triples", n_triple ? sum_triple[k] / n_triple : NAN);
          if (st->hd95)
            {
              json_builder_set_member_name (b, "hd95_median_mm");
              json_builder_begin_object (b);
              for (int l = 1; l < LT_N_CLASSES; l++)
                json_add_number_or_null (b, lt_default_class_name (l), hd_organ[k * LT_N_CLASSES + l]);
              json_builder_end_object (b);
              json_add_number_or_null (b, "hd95_median_over_items_mm", hd_all[k]);
              json_builder_set_member_name (b, "hd95_none_added");
              json_builder_add_int_value (b, hd_missing[k]);
            }
          json_builder_end_object (b);
        }
      json_builder_end_array (b);
      json_builder_set_member_name (b, "cases");
      json_builder_begin_array (b);
      guint t = 0;
      for (guint c = 0; c < n_cases; c++)
        {
          const Case *cs = &cases[c];
          json_builder_begin_object (b);
          json_builder_set_member_name (b, "file");
          json_builder_add_string_value (b, cs->path);
          json_builder_set_member_name (b, "name");
          json_builder_add_string_value (b, cs->name);
          json_builder_set_member_name (b, "scheme");
          json_builder_add_string_value (b, cs->scheme);
          json_builder_set_member_name (b, "present_ml");
          json_builder_begin_object (b);
          for (int l = 1; l < LT_N_CLASSES; l++)
            if ((cs->present >> l) & 1u)
              {
                json_builder_set_member_name (b, lt_default_class_name (l));
                json_builder_add_double_value (b, cs->ml[l]);
              }
          json_builder_end_object (b);
          json_builder_set_member_name (b, "mean_dice");
          json_builder_begin_object (b);
          for (int k = 0; k < n_methods; k++)
            json_add_number_or_null (b, names[k], case_n[c] ? case_sum[c * n_methods + k] / case_n[c] : NAN);
          json_builder_end_object (b);
          json_builder_set_member_name (b, "removals");
          json_builder_begin_array (b);
          for (guint r = 0; r < cs->removals->len; r++)
            {
              const Removal *rm = &g_array_index (cs->removals, Removal, r);
              g_autofree char *rname = removal_plan_dup_name (rm->mask);
              json_builder_begin_object (b);
              json_builder_set_member_name (b, "removed");
              json_builder_add_string_value (b, rname);
              json_builder_set_member_name (b, "triple");
              json_builder_add_boolean_value (b, removal_plan_is_triple (rm->mask));
              json_builder_set_member_name (b, "organs");
              json_builder_begin_array (b);
              for (; t < items->len; t++)
                {
                  const Item *it = &g_array_index (items, Item, t);
                  if (it->case_index != (int) c || it->removal_index != (int) r)
                    break;
                  json_builder_begin_object (b);
                  json_builder_set_member_name (b, "organ");
                  json_builder_add_string_value (b, lt_default_class_name (it->organ));
                  json_builder_set_member_name (b, "truth_ml");
                  json_builder_add_double_value (b, it->truth_ml);
                  json_builder_set_member_name (b, "dice");
                  json_builder_begin_object (b);
                  for (int k = 0; k < n_methods; k++)
                    json_add_number_or_null (b, names[k], it->dice[k]);
                  json_builder_end_object (b);
                  json_builder_set_member_name (b, "ml");
                  json_builder_begin_object (b);
                  for (int k = 0; k < n_methods; k++)
                    json_add_number_or_null (b, names[k], it->ml[k]);
                  json_builder_end_object (b);
                  if (st->hd95)
                    {
                      json_builder_set_member_name (b, "hd95_mm");
                      json_builder_begin_object (b);
                      for (int k = 0; k < n_methods; k++)
                        json_add_number_or_null (b, names[k], it->hd95[k]);
                      json_builder_end_object (b);
                    }
                  json_builder_end_object (b);
                }
              json_builder_end_array (b);
              if (rm->fits)
                {
                  json_builder_set_member_name (b, "atlas_fits");
                  json_builder_begin_array (b);
                  for (int a = 0; a < rm->n_atlases; a++)
                    {
                      const AtlasFit *f = &rm->fits[a];
                      json_builder_begin_object (b);
                      json_builder_set_member_name (b, "atlas");
                      json_builder_add_string_value (b, rm->atlas_names[a]);
                      json_builder_set_member_name (b, "used");
                      json_builder_add_boolean_value (b, f->used);
                      if (f->used)
                        {
                          json_builder_set_member_name (b, "transform");
                          json_builder_add_string_value (b, transform_name (f->transform));
                          json_builder_set_member_name (b, "shared_organs");
                          json_builder_add_int_value (b, f->n_shared);
                          json_add_number_or_null (b, "scale", f->scale);
                          json_add_number_or_null (b, "rms_mm", f->rms_mm);
                          json_builder_set_member_name (b, "pairs");
                          json_builder_add_int_value (b, f->n_pairs);
                        }
                      json_builder_end_object (b);
                    }
                  json_builder_end_array (b);
                }
              json_builder_end_object (b);
            }
          json_builder_end_array (b);
          json_builder_end_object (b);
        }
      json_builder_end_array (b);
      json_builder_end_object (b);
      if (!write_json (b, outputs, json_path, &error))
        return cli_fail_output (error);
    }

  for (guint t = 0; t < items->len; t++)
    {
      Item *it = &g_array_index (items, Item, t);
      g_free (it->dice);
      g_free (it->ml);
      g_free (it->hd95);
    }
  for (guint c = 0; c < n_cases; c++)
    {
      for (guint r = 0; r < cases[c].removals->len; r++)
        {
          Removal *rm = &g_array_index (cases[c].removals, Removal, r);
          g_free (rm->fits);
          g_free (rm->atlas_names);
        }
      g_array_unref (cases[c].removals);
      g_free (cases[c].path);
      g_free (cases[c].name);
      g_free (cases[c].scheme);
    }
  return 0;
}

/* =================================================================================== */

int
cmd_eval (int argc, char **argv)
{
  g_autofree char *data_dir = NULL, *json_path = NULL, *atlas_dir = NULL, *scheme = NULL, *match = NULL,
                  *transform = NULL, *atlas_scheme = NULL;
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
      "Complete maps: skip the 95 % Hausdorff distances of the removed organs", NULL },
    { "json", 'j', 0, G_OPTION_ARG_FILENAME, &json_path, "Also write every figure as JSON", "FILE" },
    { "force", 'f', 0, G_OPTION_ARG_NONE, &force, "Replace the --json FILE if it exists", NULL },
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
  const char *summary =
    "Two kinds of data:\n"
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
    "Multi-atlas transfer (\"atlas\", with --atlas / --atlas-dir): each atlas is fitted to the\n"
    "input on the organs both contain (trimmed ICP on organ boundaries, similarity by default,\n"
    "translation + scale with fewer than 4 shared organs), its copies of the removed organs\n"
    "are warped into the input's grid and fused by majority vote into background voxels.\n"
    "A case is never its own atlas (same file or same voxels).  See docs/evaluation.md.";
  if (!cli_parse_options (&argc, &argv, NULL, summary, entries))
    return CLI_EXIT_USAGE;
  if (data_dir == NULL && case_files == NULL)
    return cli_fail ("--data DIR or --case FILE is required");
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
