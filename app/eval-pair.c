/* eval-pair.c: `anatomy eval --completed FILE --reference FILE`: one completed label map
 * against its reference, organ by organ, as the GUI's comparison table shows it (Dice,
 * volumes, volume difference, HD95; organs missing from --input first), as text, JSON and
 * CSV. */
#include "eval-private.h"
#include "label-file.h"
#include "label-folder.h"
#include "label-table.h"
#include "organ-metrics.h"

#include <json-glib/json-glib.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

/* @path in its own ids, with its names (a table beside it, else the names it carries). */
static LabelVolume *
read_map (const char *path, LabelTable **table, GError **error)
{
  g_autoptr (LabelTable) own = NULL;
  g_autoptr (LabelVolume) v = label_file_read (path, 0, &own, NULL, error);
  if (v == NULL)
    return NULL;
  g_autoptr (LabelTable) found = label_folder_path_is_folder (path) ? NULL
                                 : lt_table_find_for_volume (path, v, NULL, error);
  if (found == NULL && error && *error)
    return NULL;
  *table = found ? g_steal_pointer (&found) : g_steal_pointer (&own);
  return g_steal_pointer (&v);
}

typedef struct {
  int32_t label;
  const char *status;   /* "missing" / "present" (with --input), else NULL */
  double input_ml;      /* NAN without --input */
} PairRow;

/* @l's name: the reference's, else the completed map's, else the 12 classes' when both
 * maps stay within them (a file without names whose ids are 0..12, as the GUI reads it) */
static const char *
row_name (int32_t l, int32_t n_labels, const LabelTable *ref_table, const LabelTable *test_table, char *buf,
          gsize len)
{
  if (ref_table && lt_table_lookup (ref_table, l))
    return lt_table_get_name (ref_table, l, buf, len);
  if (test_table && lt_table_lookup (test_table, l))
    return lt_table_get_name (test_table, l, buf, len);
  if (n_labels <= LT_N_CLASSES && l > 0)
    return lt_default_class_name (l);
  return lt_table_get_name (NULL, l, buf, len);
}

static void
print_number (double v, const char *fmt, int width)
{
  if (isnan (v))
    printf (" %*s", width, "-");
  else
    printf (fmt, width, v);
}

static void
json_number (JsonBuilder *b, const char *key, double v)
{
  eval_json_add_number_or_null (b, key, v);
}

int
eval_pair (const char *completed, const char *reference, const char *input, gboolean hd95, OutSet *outputs,
           const char *json_path, const char *csv_path)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (LabelTable) ref_table = NULL, test_table = NULL, in_table = NULL;
  g_autoptr (LabelVolume) ref = read_map (reference, &ref_table, &error);
  if (ref == NULL)
    return cli_fail ("%s", error->message);
  g_autoptr (LabelVolume) test = read_map (completed, &test_table, &error);
  if (test == NULL)
    return cli_fail ("%s", error->message);
  g_autoptr (LabelVolume) in = input ? read_map (input, &in_table, &error) : NULL;
  if (input && in == NULL)
    return cli_fail ("%s", error->message);
  if (in && (in->nx != ref->nx || in->ny != ref->ny || in->nz != ref->nz))
    return cli_fail ("%s: its grid differs from the reference's %s", input, reference);
  int32_t n = 0;
  g_autofree OrganMetrics *om = organ_metrics_compare (ref, test, hd95, &n, NULL, &error);
  if (om == NULL)
    return cli_fail ("%s against %s: %s", completed, reference, error->message);
  g_autofree int64_t *in_count = g_new0 (int64_t, MAX (n, 1));
  if (in)
    {
      int64_t nv = lv_volume_n_voxels (in);
      for (int64_t q = 0; q < nv; q++)
        {
          int32_t l = lv_volume_get_index (in, q);
          if (l > 0 && l < n)
            in_count[l]++;
        }
    }
  double in_ml_per_voxel = in ? lv_volume_voxel_mm3 (in) / 1000.0 : NAN;

  /* rows: the organs of either map; missing from the input first, then present */
  g_autoptr (GArray) rows = g_array_new (FALSE, FALSE, sizeof (PairRow));
  for (int pass = 0; pass < (in ? 2 : 1); pass++)
    for (int32_t l = 1; l < n; l++)
      {
        if (om[l].m.n_reference == 0 && om[l].m.n_test == 0)
          continue;
        gboolean missing = in && in_count[l] == 0;
        if (in && missing != (pass == 0))
          continue;
        PairRow r = { .label = l, .status = in ? (missing ? "missing" : "present") : NULL,
                      .input_ml = in ? in_count[l] * in_ml_per_voxel : NAN };
        g_array_append_val (rows, r);
      }
  double sum_missing = 0, sum_all = 0;
  int n_missing = 0, n_all = 0;
  for (guint i = 0; i < rows->len; i++)
    {
      const PairRow *r = &g_array_index (rows, PairRow, i);
      const OrganMetrics *o = &om[r->label];
      if (o->m.n_reference == 0)
        continue;
      sum_all += o->m.dice;
      n_all++;
      if (r->status && r->status[0] == 'm')
        {
          sum_missing += o->m.dice;
          n_missing++;
        }
    }

  char buf[64];
  printf ("%s against the reference %s%s%s\n\n", completed, reference, in ? ", input " : "", in ? input : "");
  printf ("%5s %-24s %-8s %10s %10s %10s %7s %9s %10s %9s\n", "label", "organ", in ? "status" : "", "ref mL",
          "input mL", "mL", "Dice", "HD95 mm", "dV mL", "dV %");
  for (guint i = 0; i < rows->len; i++)
    {
      const PairRow *r = &g_array_index (rows, PairRow, i);
      const OrganMetrics *o = &om[r->label];
      printf ("%5d %-24s %-8s", r->label, row_name (r->label, n, ref_table, test_table, buf, sizeof buf),
              r->status ? r->status : "");
      print_number (o->m.ml_reference, " %*.1f", 10);
      print_number (r->input_ml, " %*.1f", 10);
      print_number (o->m.ml_test, " %*.1f", 10);
      print_number (o->m.dice, " %*.3f", 7);
      print_number (o->hd95_mm, " %*.1f", 9);
      print_number (o->ml_diff, " %*.1f", 10);
      print_number (o->percent_diff, " %*.1f", 9);
      printf ("\n");
    }
  if (n_missing)
    printf ("\nmean Dice over the %d organs missing from the input: %.3f", n_missing, sum_missing / n_missing);
  if (n_all)
    printf ("\nmean Dice over all %d organs of the reference: %.3f", n_all, sum_all / n_all);
  printf ("\n");

  if (csv_path)
    {
      g_autoptr (GString) csv = g_string_new ("label,organ,status,reference_ml,input_ml,completed_ml,dice,"
                                              "hd95_mm,volume_diff_ml,volume_diff_percent\n");
      for (guint i = 0; i < rows->len; i++)
        {
          const PairRow *r = &g_array_index (rows, PairRow, i);
          const OrganMetrics *o = &om[r->label];
          g_string_append_printf (csv, "%d,", r->label);
          organ_metrics_csv_text (csv, row_name (r->label, n, ref_table, test_table, buf, sizeof buf));
          g_string_append_c (csv, ',');
          organ_metrics_csv_text (csv, r->status);
          const double v[] = { o->m.ml_reference, r->input_ml, o->m.ml_test, o->m.dice, o->hd95_mm, o->ml_diff,
                               o->percent_diff };
          const int dec[] = { 3, 3, 3, 4, 2, 3, 2 };
          for (gsize k = 0; k < G_N_ELEMENTS (v); k++)
            {
              g_string_append_c (csv, ',');
              organ_metrics_csv_number (csv, v[k], dec[k]);
            }
          g_string_append_c (csv, '\n');
        }
      OutFile *f = out_set_open (outputs, csv_path, OUT_FILE_PLAIN, &error);
      if (f == NULL || !out_file_write (f, csv->str, csv->len, &error) || !out_file_finish (f, &error))
        return cli_fail_output (error);
    }
  if (json_path)
    {
      g_autoptr (JsonBuilder) b = json_builder_new ();
      json_builder_begin_object (b);
      cli_json_string (b, "mode", "pair");
      cli_json_string (b, "reference", reference);
      cli_json_string (b, "completed", completed);
      cli_json_string_or_null (b, "input", input);
      json_builder_set_member_name (b, "organs");
      json_builder_begin_array (b);
      for (guint i = 0; i < rows->len; i++)
        {
          const PairRow *r = &g_array_index (rows, PairRow, i);
          const OrganMetrics *o = &om[r->label];
          json_builder_begin_object (b);
          cli_json_int (b, "label", r->label);
          cli_json_string (b, "name", row_name (r->label, n, ref_table, test_table, buf, sizeof buf));
          if (r->status)
            {
              cli_json_string (b, "status", r->status);
            }
          cli_json_int (b, "reference_voxels", o->m.n_reference);
          cli_json_int (b, "completed_voxels", o->m.n_test);
          json_number (b, "reference_ml", o->m.ml_reference);
          if (in)
            json_number (b, "input_ml", r->input_ml);
          json_number (b, "completed_ml", o->m.ml_test);
          json_number (b, "dice", o->m.dice);
          if (hd95)
            json_number (b, "hd95_mm", o->hd95_mm);
          json_number (b, "volume_diff_ml", o->ml_diff);
          json_number (b, "volume_diff_percent", o->percent_diff);
          json_builder_end_object (b);
        }
      json_builder_end_array (b);
      json_number (b, "mean_dice_missing", n_missing ? sum_missing / n_missing : NAN);
      json_number (b, "mean_dice_all", n_all ? sum_all / n_all : NAN);
      json_builder_end_object (b);
      /* eval_write_json commits the set, the CSV with it */
      if (!eval_write_json (b, outputs, json_path, &error))
        return cli_fail_output (error);
    }
  else if (csv_path && !out_set_commit (outputs, &error))
    return cli_fail_output (error);
  return 0;
}
