/* eval-benchmark.c: `anatomy eval` on a dataset in the benchmark layout (DIR/complete +
 * DIR/incomplete): per-organ and binary Dice of every method against the complete volume,
 * and per removed organ its HD95 and volume difference (organ-metrics.h). */
#include "eval-private.h"
#include "atlas.h"
#include "completion.h"
#include "label-file.h"
#include "label-scheme.h"
#include "label-table.h"
#include "nifti.h"
#include "nn-net.h"
#include "phantom.h"
#include "metrics.h"
#include "organ-metrics.h"
#include "stats-util.h"
#include "removal-plan.h"
#include "surface-distance.h"
#include "train-data.h"

#include <json-glib/json-glib.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
  EvalOverlap o;
  eval_overlap (&o, pred, truth);
  /* binary: every organ merged (b), and the organs @removed merged (r) */
  int64_t bi = 0, bp = 0, bt = 0, ri = 0, rp = 0, rt = 0;
  for (int p = 0; p < LT_N_CLASSES; p++)
    for (int t = 0; t < LT_N_CLASSES; t++)
      {
        int64_t c = o.pair[p][t];
        gboolean pr = (removed >> p) & 1u, tr = (removed >> t) & 1u;
        bp += p != 0 ? c : 0;
        bt += t != 0 ? c : 0;
        bi += p != 0 && t != 0 ? c : 0;
        rp += pr ? c : 0;
        rt += tr ? c : 0;
        ri += pr && tr ? c : 0;
      }
  for (int l = 1; l < LT_N_CLASSES; l++)
    {
      if (o.truth[l] == 0)
        continue;
      double d = metrics_dice (o.pred[l], o.truth[l], o.pair[l][l]);
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

/* One removed organ of one partial volume, scored by every method. */
typedef struct {
  int case_index;
  int organ;
  double truth_ml;
  EvalScores scores;
} Item;

/* Fills method @k's column of the items @first.. (the organs removed from one partial
 * volume) from @pred against @truth. */
static gboolean
score_items (GArray *items, guint first, int k, const LabelVolume *pred, const LabelVolume *truth, gboolean hd95,
             GError **error)
{
  if (first >= items->len)
    return TRUE;  /* nothing removed */
  int32_t n = 0;
  g_autofree OrganMetrics *om = organ_metrics_compare (truth, pred, hd95, &n, NULL, error);
  if (om == NULL)
    return FALSE;
  for (guint t = first; t < items->len; t++)
    {
      Item *it = &g_array_index (items, Item, t);
      OrganMetrics o = it->organ < n ? om[it->organ] : (OrganMetrics) { .m = { .dice = NAN }, .hd95_mm = NAN };
      it->scores.dice[k] = o.m.dice;
      it->scores.ml[k] = o.m.ml_test;
      organ_metrics_volume_diff (it->truth_ml, o.m.ml_test, &it->scores.dml[k], &it->scores.dpct[k]);
      it->scores.hd95[k] = hd95 ? o.hd95_mm : NAN;
    }
  return TRUE;
}

/* Median per organ (and over all items, index 0) of column @k of @field (an Item member
 * offset), NAN values left out. */
static void
item_medians (GArray *items, int k, size_t field, double *per_organ)
{
  g_autofree double *col = g_new (double, MAX (1u, items->len));
  for (int l = 0; l < LT_N_CLASSES; l++)
    {
      int n = 0;
      for (guint t = 0; t < items->len; t++)
        {
          const Item *it = &g_array_index (items, Item, t);
          double v = (*(double *const *) ((const char *) it + field))[k];
          if ((l == 0 || it->organ == l) && !isnan (v))
            col[n++] = v;
        }
      per_organ[l] = n ? stats_median_inplace (col, n) : NAN;
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

/* @key: the medians of item_medians, per organ and "all_removed" */
static void
json_add_medians (JsonBuilder *b, const char *key, const double *per)
{
  eval_json_add_per_organ (b, key, per, "all_removed", per[0]);
}

int
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
  g_autoptr (GArray) items = g_array_new (FALSE, FALSE, sizeof (Item));
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
      /* one item per removed organ */
      guint first_item = items->len;
      for (int l = 1; l < LT_N_CLASSES; l++)
        if ((removed >> l) & 1u)
          {
            Item it = { .case_index = (int) c, .organ = l };
            int64_t nt = 0, nv = lv_volume_n_voxels (truth);
            for (int64_t q = 0; q < nv; q++)
              nt += lv_volume_get_index (truth, q) == l;
            it.truth_ml = nt * lv_volume_voxel_mm3 (truth) / 1000.0;
            eval_scores_init (&it.scores, n_methods);
            g_array_append_val (items, it);
          }
      /* copy */
      score (&m[0], in, truth, removed);
      if (!score_items (items, first_item, 0, in, truth, st->hd95, &error))
        return cli_fail ("%s: %s", (char *) g_ptr_array_index (cpaths, c), error->message);
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
        if (!score_items (items, first_item, 1, pred, truth, st->hd95, &error))
          return cli_fail ("%s: %s", (char *) g_ptr_array_index (cpaths, c), error->message);
      }
      if (with_atlas)
        {
          g_autofree char *truth_real = eval_real_path (g_ptr_array_index (cpaths, c));
          g_autoptr (GPtrArray) use = eval_atlases_for_case (atlases, truth_real, truth);
          g_timer_start (timer);
          g_autoptr (LabelVolume) pred =
            removed ? eval_run_atlas (use, in, removed, st, NULL, &error) : lv_volume_dup (in);
          if (pred == NULL)
            return cli_fail ("atlas: %s: %s", (char *) g_ptr_array_index (ppaths, c), error->message);
          m[2].seconds += g_timer_elapsed (timer, NULL);
          m[2].runs += removed != 0;
          score (&m[2], pred, truth, removed);
          if (!score_items (items, first_item, 2, pred, truth, st->hd95, &error))
            return cli_fail ("%s: %s", (char *) g_ptr_array_index (cpaths, c), error->message);
        }
      for (guint i = 0; i < nets->len; i++)
        {
          Method *mm = &m[first_net + i];
          if (removed == 0)
            {
              score (mm, in, truth, removed);
              continue;  /* no item */
            }
          g_timer_start (timer);
          g_autoptr (LabelVolume) pred = eval_run_net (g_ptr_array_index (nets, i), in, removed, st, &error);
          if (pred == NULL)
            return cli_fail ("%s: %s", mm->name, error->message);
          mm->seconds += g_timer_elapsed (timer, NULL);
          mm->runs++;
          score (mm, pred, truth, removed);
          if (!score_items (items, first_item, first_net + (int) i, pred, truth, st->hd95, &error))
            return cli_fail ("%s: %s", (char *) g_ptr_array_index (cpaths, c), error->message);
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
            eval_print_cell (t[k * LT_N_CLASSES + l], 3);
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
  /* HD95 and volume difference of the removed organs: medians over the items */
  g_autofree double *hd_med = g_new (double, n_methods * LT_N_CLASSES);
  g_autofree double *dv_med = g_new (double, n_methods * LT_N_CLASSES);
  g_autofree double *dml_med = g_new (double, n_methods * LT_N_CLASSES);
  for (int k = 0; k < n_methods; k++)
    {
      item_medians (items, k, G_STRUCT_OFFSET (Item, scores.hd95), hd_med + k * LT_N_CLASSES);
      item_medians (items, k, G_STRUCT_OFFSET (Item, scores.dpct), dv_med + k * LT_N_CLASSES);
      item_medians (items, k, G_STRUCT_OFFSET (Item, scores.dml), dml_med + k * LT_N_CLASSES);
    }
  for (int table = st->hd95 ? 0 : 1; table < 2; table++)
    {
      const double *t = table == 0 ? hd_med : dv_med;
      printf ("%s\n", table == 0 ? "HD95 of removed organs in mm (median over the cases where the method added "
                                   "some of it)"
                                 : "Volume difference of removed organs, % of the complete map's (median; -100: "
                                   "nothing added)");
      printf ("%-18s %8s", "organ", "removed");
      for (int k = 0; k < n_methods; k++)
        printf (" %14s", m[k].name);
      printf ("\n");
      for (int l = 0; l < LT_N_CLASSES; l++)
        {
          if (l > 0 && m[0].rem_n[l] == 0)
            continue;
          printf ("%-18s %8d", l == 0 ? "all removed" : lt_default_class_name (l), l == 0 ? (int) items->len
                                                                                          : m[0].rem_n[l]);
          for (int k = 0; k < n_methods; k++)
            eval_print_cell (t[k * LT_N_CLASSES + l], 1);
          printf ("\n");
        }
      printf ("\n");
    }
  for (int k = 2; k < n_methods; k++)
    printf ("%s: %.2f s per completion\n", m[k].name, m[k].seconds / MAX (1, m[k].runs));

  if (json_path)
    {
      g_autoptr (JsonBuilder) b = json_builder_new ();
      json_builder_begin_object (b);
      cli_json_string (b, "data", data_dir);
      cli_json_int (b, "cases", n_cases);
      json_builder_set_member_name (b, "population_mean");
      json_builder_begin_object (b);
      cli_json_int (b, "seed", mean_seed);
      cli_json_int (b, "subjects", mean_subjects);
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
          cli_json_int (b, lt_default_class_name (l), m[0].rem_n[l]);
        }
      json_builder_end_object (b);
      json_builder_set_member_name (b, "methods");
      json_builder_begin_array (b);
      for (int k = 0; k < n_methods; k++)
        {
          json_builder_begin_object (b);
          cli_json_string (b, "name", m[k].name);
          if (m[k].file)
            {
              cli_json_string (b, "file", m[k].file);
            }
          if (k >= 2)
            {
              cli_json_double (b, "seconds_per_case", m[k].seconds / MAX (1, m[k].runs));
            }
          eval_json_add_per_organ (b, "removed_dice", rem + k * LT_N_CLASSES, "mean", rem_mean[k]);
          eval_json_add_per_organ (b, "all_dice", all + k * LT_N_CLASSES, "mean", all_mean[k]);
          cli_json_double (b, "binary_dice_all", m[k].bin_all_sum / MAX (1, m[k].bin_n));
          cli_json_double (b, "binary_dice_removed", m[k].bin_rem_n ? m[k].bin_rem_sum / m[k].bin_rem_n : -1);
          if (st->hd95)
            json_add_medians (b, "removed_hd95_median_mm", hd_med + k * LT_N_CLASSES);
          json_add_medians (b, "removed_volume_diff_percent_median", dv_med + k * LT_N_CLASSES);
          json_add_medians (b, "removed_volume_diff_ml_median", dml_med + k * LT_N_CLASSES);
          json_builder_end_object (b);
        }
      json_builder_end_array (b);
      /* every removed organ of every partial volume, its scores by method name */
      g_autofree const char **names = g_new (const char *, n_methods);
      for (int k = 0; k < n_methods; k++)
        names[k] = m[k].name;
      json_builder_set_member_name (b, "items");
      json_builder_begin_array (b);
      for (guint t = 0; t < items->len; t++)
        {
          const Item *it = &g_array_index (items, Item, t);
          json_builder_begin_object (b);
          cli_json_string (b, "partial", g_ptr_array_index (ppaths, it->case_index));
          cli_json_string (b, "complete", g_ptr_array_index (cpaths, it->case_index));
          cli_json_string (b, "organ", lt_default_class_name (it->organ));
          cli_json_double (b, "truth_ml", it->truth_ml);
          eval_json_add_scores (b, &it->scores, names, n_methods, st->hd95);
          json_builder_end_object (b);
        }
      json_builder_end_array (b);
      json_builder_end_object (b);
      if (!eval_write_json (b, outputs, json_path, &error))
        return cli_fail_output (error);
    }
  for (int k = 0; k < n_methods; k++)
    g_free (m[k].name);
  for (guint t = 0; t < items->len; t++)
    eval_scores_clear (&g_array_index (items, Item, t).scores);
  return 0;
}
