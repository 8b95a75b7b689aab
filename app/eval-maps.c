/* eval-maps.c: `anatomy eval` on complete label maps: the removals of removal-plan.h, the
 * Dice, HD95 and volume difference of every removed organ per method, per organ, per case
 * and as JSON. */
#include "eval-private.h"
#include "stats-util.h"
#include "atlas.h"
#include "completion.h"
#include "label-scheme.h"
#include "label-table.h"
#include "nifti.h"
#include "nn-net.h"
#include "phantom.h"
#include "metrics.h"
#include "organ-metrics.h"
#include "removal-plan.h"
#include "surface-distance.h"
#include "train-data.h"

#include <json-glib/json-glib.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ===================================================================================
 * Mode 2: complete label maps; the removals come from removal-plan.h
 * =================================================================================== */

/* One removed organ of one removal of one case, scored by every method. */
typedef struct {
  int case_index, removal_index;
  int organ;
  gboolean triple;
  double truth_ml;
  EvalScores scores;
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
  return stats_median_inplace (w, k);
}

/* A table's head: @first_col (@width wide), "items", then each method's name. */
static void
print_head (const char *first_col, int width, const char **names, int n_methods)
{
  printf ("%-*s %6s", width, first_col, "items");
  for (int k = 0; k < n_methods; k++)
    printf (" %14s", names[k]);
  printf ("\n");
}

/* One row per organ: its name, its @per_n items and @by_organ[k·LT_N_CLASSES + organ] of
 * each method k; organs without items are left out when @skip_empty. */
static void
print_organ_rows (const int per_n[LT_N_CLASSES], const double *by_organ, int n_methods, gboolean skip_empty)
{
  for (int l = 1; l < LT_N_CLASSES; l++)
    {
      if (skip_empty && per_n[l] == 0)
        continue;
      printf ("%-18s %6d", lt_default_class_name (l), per_n[l]);
      for (int k = 0; k < n_methods; k++)
        eval_print_cell (by_organ[k * LT_N_CLASSES + l], 3);
      printf ("\n");
    }
}

/* The "median over items" row of @all (one value a method). */
static void
print_median_row (guint n_items, const double *all, int n_methods)
{
  printf ("%-18s %6u", "median over items", n_items);
  for (int k = 0; k < n_methods; k++)
    eval_print_cell (all[k], 3);
}

/* Which of an item's values (one a method) a median is taken of. */
typedef enum { ITEM_HD95, ITEM_DPCT, ITEM_DML } ItemValue;

static const double *
item_values (const Item *it, ItemValue which)
{
  return which == ITEM_HD95 ? it->scores.hd95 : which == ITEM_DPCT ? it->scores.dpct : it->scores.dml;
}

/* For method @k: @by_organ[k·LT_N_CLASSES + organ], the median of @which over the items of
 * each organ; @all[k] (when not NULL), over all items.  @col holds items->len values.
 * Returns how many items have no value (NAN). */
static int
medians_of_items (const GArray *items, ItemValue which, int k, double *col, double *by_organ, double *all)
{
  for (int l = 0; l < LT_N_CLASSES; l++)
    {
      int n = 0;
      for (guint t = 0; t < items->len; t++)
        {
          const Item *it = &g_array_index (items, Item, t);
          if (it->organ == l)
            col[n++] = item_values (it, which)[k];
        }
      by_organ[k * LT_N_CLASSES + l] = median_of (col, n);
    }
  int missing = 0;
  for (guint t = 0; t < items->len; t++)
    {
      col[t] = item_values (&g_array_index (items, Item, t), which)[k];
      missing += isnan (col[t]);
    }
  if (all != NULL)
    all[k] = median_of (col, (int) items->len);
  return missing;
}

int
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
      cs->name = eval_file_stem (cs->path);
      cs->removals = g_array_new (FALSE, TRUE, sizeof (Removal));
      g_autoptr (LabelVolume) truth = eval_read_12class (cs->path, scheme, &cs->scheme, &error);
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
      g_autofree char *case_real = eval_real_path (cs->path);
      g_autoptr (GPtrArray) use = with_atlas ? eval_atlases_for_case (atlases, case_real, truth) : g_ptr_array_new ();
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
              LabelVolume *p = eval_run_atlas (use, in, removed, st, rm.fits, &error);
              if (p == NULL)
                return cli_fail ("atlas: %s: %s", cs->path, error->message);
              seconds[0] += g_timer_elapsed (timer, NULL);
              runs[0]++;
              g_ptr_array_add (preds, p);
            }
          for (guint i = 0; i < nets->len; i++)
            {
              g_timer_start (timer);
              LabelVolume *p = eval_run_net (g_ptr_array_index (nets, i), in, removed, st, &error);
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
                eval_scores_init (&it.scores, n_methods);
                g_array_append_val (items, it);
              }
          for (int k = 0; k < n_methods; k++)
            {
              const LabelVolume *pred = g_ptr_array_index (preds, k);
              EvalOverlap o;
              eval_overlap (&o, pred, truth);
              g_autoptr (SurfacePoints) surf = NULL;
              if (st->hd95 && (surf = surface_points_new (pred, removed, &error)) == NULL)
                return cli_fail ("%s: %s", cs->path, error->message);
              for (guint t = (guint) first_item; t < items->len; t++)
                {
                  Item *it = &g_array_index (items, Item, t);
                  int l = it->organ;
                  it->scores.dice[k] = metrics_dice (o.pred[l], o.truth[l], o.pair[l][l]);
                  it->scores.ml[k] = o.pred[l] * lv_volume_voxel_mm3 (truth) / 1000.0;
                  it->scores.hd95[k] = surf ? surface_distance_hd95 (surf, truth_surf, it->organ) : NAN;
                  organ_metrics_volume_diff (it->truth_ml, it->scores.ml[k], &it->scores.dml[k], &it->scores.dpct[k]);
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
          sum_organ[k * LT_N_CLASSES + it->organ] += it->scores.dice[k];
          sum_all[k] += it->scores.dice[k];
          (it->triple ? sum_triple : sum_alone)[k] += it->scores.dice[k];
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
        case_sum[it->case_index * n_methods + k] += it->scores.dice[k];
    }

  printf ("%u complete label maps, %d removals (each soft organ of at least %g mL alone, and the triples), "
          "%u removed-organ items\n", n_cases, n_removals, min_ml, items->len);
  if (with_atlas)
    printf ("atlas: %u atlases, %s transform, majority vote (a case is never its own atlas)\n", atlases->len,
            eval_transform_name (st->atlas.transform));
  printf ("\nDice of the removed organ (mean over the items where it was removed)\n");
  print_head ("organ", 18, names, n_methods);
  print_organ_rows (per_n, organ_means, n_methods, FALSE);
  printf ("%-18s %6s", "mean over organs", "");
  for (int k = 0; k < n_methods; k++)
    eval_print_cell (mean_organs[k], 3);
  printf ("\n%-18s %6u", "mean over items", items->len);
  for (int k = 0; k < n_methods; k++)
    eval_print_cell (items->len ? sum_all[k] / items->len : NAN, 3);
  printf ("\n%-18s %6d", "  removed alone", n_alone);
  for (int k = 0; k < n_methods; k++)
    eval_print_cell (n_alone ? sum_alone[k] / n_alone : NAN, 3);
  printf ("\n%-18s %6d", "  in triples", n_triple);
  for (int k = 0; k < n_methods; k++)
    eval_print_cell (n_triple ? sum_triple[k] / n_triple : NAN, 3);
  printf ("\n\nPer case (mean over the case's items)\n");
  print_head ("case", 24, names, n_methods);
  for (guint c = 0; c < n_cases; c++)
    {
      printf ("%-24s %6d", cases[c].name, case_n[c]);
      for (int k = 0; k < n_methods; k++)
        eval_print_cell (case_n[c] ? case_sum[c * n_methods + k] / case_n[c] : NAN, 3);
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
        hd_missing[k] = medians_of_items (items, ITEM_HD95, k, col, hd_organ, hd_all);
      printf ("HD95 of the removed organ in mm (median over the items where the method added some of it)\n");
      print_head ("organ", 18, names, n_methods);
      print_organ_rows (per_n, hd_organ, n_methods, TRUE);
      print_median_row (items->len, hd_all, n_methods);
      printf ("\n%-18s %6s", "  none added", "");
      for (int k = 0; k < n_methods; k++)
        printf (" %14d", hd_missing[k]);
      printf ("\n\n");
    }
  /* volume difference: medians of the signed difference in % of the truth (and in mL) */
  g_autofree double *dv_organ = g_new (double, (size_t) n_methods * LT_N_CLASSES);
  g_autofree double *dv_ml_organ = g_new (double, (size_t) n_methods * LT_N_CLASSES);
  g_autofree double *dv_all = g_new (double, n_methods);
  {
    g_autofree double *col = g_new (double, MAX (1u, items->len));
    for (int k = 0; k < n_methods; k++)
      {
        medians_of_items (items, ITEM_DPCT, k, col, dv_organ, dv_all);
        medians_of_items (items, ITEM_DML, k, col, dv_ml_organ, NULL);
      }
  }
  printf ("Volume difference of the removed organ, %% of the truth's volume (median over the items; "
          "-100: nothing added)\n");
  print_head ("organ", 18, names, n_methods);
  print_organ_rows (per_n, dv_organ, n_methods, TRUE);
  print_median_row (items->len, dv_all, n_methods);
  printf ("\n\n");
  for (int k = 0; k < n_methods; k++)
    printf ("%s: %.2f s per completion\n", names[k], seconds[k] / MAX (1, runs[k]));

  if (json_path)
    {
      g_autoptr (JsonBuilder) b = json_builder_new ();
      json_builder_begin_object (b);
      cli_json_string (b, "mode", "complete-maps");
      cli_json_double (b, "min_ml", min_ml);
      cli_json_int (b, "items", items->len);
      if (with_atlas)
        {
          json_builder_set_member_name (b, "atlas");
          json_builder_begin_object (b);
          cli_json_string (b, "transform", eval_transform_name (st->atlas.transform));
          json_builder_set_member_name (b, "files");
          json_builder_begin_array (b);
          for (guint i = 0; i < atlases->len; i++)
            {
              const Atlas *a = g_ptr_array_index (atlases, i);
              json_builder_begin_object (b);
              cli_json_string (b, "file", a->path);
              cli_json_string (b, "scheme", a->scheme);
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
          cli_json_string (b, "name", names[k]);
          if (k >= first_net)
            {
              cli_json_string (b, "file", g_ptr_array_index (model_paths, k - first_net));
            }
          cli_json_double (b, "seconds_per_completion", seconds[k] / MAX (1, runs[k]));
          eval_json_add_per_organ (b, "removed_dice", organ_means + k * LT_N_CLASSES, NULL, 0);
          eval_json_add_number_or_null (b, "mean_over_organs", mean_organs[k]);
          eval_json_add_number_or_null (b, "mean_over_items", items->len ? sum_all[k] / items->len : NAN);
          eval_json_add_number_or_null (b, "mean_removed_alone", n_alone ? sum_alone[k] / n_alone : NAN);
          eval_json_add_number_or_null (b, "mean_in_triples", n_triple ? sum_triple[k] / n_triple : NAN);
          if (st->hd95)
            {
              eval_json_add_per_organ (b, "hd95_median_mm", hd_organ + k * LT_N_CLASSES, NULL, 0);
              eval_json_add_number_or_null (b, "hd95_median_over_items_mm", hd_all[k]);
              cli_json_int (b, "hd95_none_added", hd_missing[k]);
            }
          eval_json_add_per_organ (b, "volume_diff_percent_median", dv_organ + k * LT_N_CLASSES, NULL, 0);
          eval_json_add_per_organ (b, "volume_diff_ml_median", dv_ml_organ + k * LT_N_CLASSES, NULL, 0);
          eval_json_add_number_or_null (b, "volume_diff_percent_median_over_items", dv_all[k]);
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
          cli_json_string (b, "file", cs->path);
          cli_json_string (b, "name", cs->name);
          cli_json_string (b, "scheme", cs->scheme);
          json_builder_set_member_name (b, "present_ml");
          json_builder_begin_object (b);
          for (int l = 1; l < LT_N_CLASSES; l++)
            if ((cs->present >> l) & 1u)
              {
                cli_json_double (b, lt_default_class_name (l), cs->ml[l]);
              }
          json_builder_end_object (b);
          json_builder_set_member_name (b, "mean_dice");
          json_builder_begin_object (b);
          for (int k = 0; k < n_methods; k++)
            eval_json_add_number_or_null (b, names[k], case_n[c] ? case_sum[c * n_methods + k] / case_n[c] : NAN);
          json_builder_end_object (b);
          json_builder_set_member_name (b, "removals");
          json_builder_begin_array (b);
          for (guint r = 0; r < cs->removals->len; r++)
            {
              const Removal *rm = &g_array_index (cs->removals, Removal, r);
              g_autofree char *rname = removal_plan_dup_name (rm->mask);
              json_builder_begin_object (b);
              cli_json_string (b, "removed", rname);
              cli_json_bool (b, "triple", removal_plan_is_triple (rm->mask));
              json_builder_set_member_name (b, "organs");
              json_builder_begin_array (b);
              for (; t < items->len; t++)
                {
                  const Item *it = &g_array_index (items, Item, t);
                  if (it->case_index != (int) c || it->removal_index != (int) r)
                    break;
                  json_builder_begin_object (b);
                  cli_json_string (b, "organ", lt_default_class_name (it->organ));
                  cli_json_double (b, "truth_ml", it->truth_ml);
                  eval_json_add_scores (b, &it->scores, names, n_methods, st->hd95);
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
                      cli_json_string (b, "atlas", rm->atlas_names[a]);
                      cli_json_bool (b, "used", f->used);
                      if (f->used)
                        {
                          cli_json_string (b, "transform", eval_transform_name (f->transform));
                          cli_json_int (b, "shared_organs", f->n_shared);
                          eval_json_add_number_or_null (b, "scale", f->scale);
                          eval_json_add_number_or_null (b, "rms_mm", f->rms_mm);
                          cli_json_int (b, "pairs", f->n_pairs);
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
      if (!eval_write_json (b, outputs, json_path, &error))
        return cli_fail_output (error);
    }

  for (guint t = 0; t < items->len; t++)
    eval_scores_clear (&g_array_index (items, Item, t).scores);
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
