/* ar-window-table.c: ArWindow's comparison table: per organ of the reference (or of any
 * result), its volume in the reference and the input, and per network result (and a loaded
 * result file) its Dice, 95 % Hausdorff distance and volume difference against the
 * reference (organ-metrics.h).  The organs missing from the input (those completion adds)
 * come first, highlighted; those present in the input, where every network keeps the
 * input's voxels, are folded under "Present in the input (N)".  The table is copied to the
 * clipboard or saved as CSV. */
#include "ar-window-private.h"

#include "label-file.h"
#include "organ-metrics.h"

#include <math.h>
#include <string.h>

/* ------------------------------------------------------------------------ */
/* The metrics, in a worker */

/* Overlap, volume difference and HD95 against the reference, computed in a worker: for a
 * volume of 512×512×300 voxels the overlap alone takes about 85 ms, too long for the main
 * thread, and HD95 takes longer (only organs whose voxels differ are measured).  The job
 * holds references to the results, released on the main thread. */
typedef struct {
  ArResult *ref;
  GPtrArray *scenes;     /* ArResult*, each referenced */
  guint n;               /* scenes->len, kept after the results are released */
  OrganMetrics **metrics;
  int32_t *n_metrics;
  char **errors;
  guint serial;
} MetricsJob;

static void
metrics_thread (GTask *task, gpointer source, gpointer data, GCancellable *cancellable)
{
  MetricsJob *j = data;
  for (guint i = 0; i < j->scenes->len; i++)
    {
      ArResult *s = j->scenes->pdata[i];
      g_autoptr (GError) error = NULL;
      j->metrics[i] = organ_metrics_compare (j->ref->scene->volume, s->scene->volume, TRUE, &j->n_metrics[i],
                                             cancellable, &error);
      if (!j->metrics[i])
        j->errors[i] = g_strdup (error->message);
    }
  g_task_return_boolean (task, TRUE);
}

gboolean
ar_window_metrics_ready (ArWindow *self, const ArResult *s)
{
  return s && s->metrics && s->metrics_serial == self->reference_serial;
}

static void
metrics_done (GObject *source, GAsyncResult *res, gpointer data)
{
  ArWindow *self = AR_WINDOW (source);
  MetricsJob *j = g_task_get_task_data (G_TASK (res));
  self->metrics_jobs--;
  gboolean closing = g_cancellable_is_cancelled (self->cancellable);
  for (guint i = 0; i < j->scenes->len; i++)
    {
      ArResult *s = j->scenes->pdata[i];
      if (s->metrics_pending == j->serial)
        s->metrics_pending = 0;
      if (j->serial != self->reference_serial || closing)
        continue;  /* the reference changed meanwhile (another job is on it), or the window closes */
      g_free (s->metrics);
      g_free (s->metrics_error);
      s->metrics = g_steal_pointer (&j->metrics[i]);
      s->n_metrics = s->metrics ? j->n_metrics[i] : 0;
      s->metrics_error = g_steal_pointer (&j->errors[i]);
      s->metrics_serial = j->serial;
    }
  /* drop the scene references here, on the main thread */
  g_clear_pointer (&j->scenes, g_ptr_array_unref);
  g_clear_pointer (&j->ref, ar_result_unref);
  if (j->serial == self->reference_serial && !closing)
    {
      ar_window_table_update (self);
      ar_window_compare_update_grid (self);
    }
}

static void
metrics_job_free (MetricsJob *j)
{
  for (guint i = 0; i < j->n; i++)
    {
      g_free (j->metrics[i]);
      g_free (j->errors[i]);
    }
  g_clear_pointer (&j->scenes, g_ptr_array_unref);
  g_clear_pointer (&j->ref, ar_result_unref);
  g_free (j->metrics);
  g_free (j->n_metrics);
  g_free (j->errors);
  g_free (j);
}

/* Start computing the metrics of every result that lacks them for the current reference. */
static void
request_metrics (ArWindow *self)
{
  ArResult *ref = self->results[AR_RESULT_REFERENCE];
  if (!ref)
    return;
  g_autoptr (GPtrArray) todo = g_ptr_array_new_with_free_func ((GDestroyNotify) ar_result_unref);
  for (int i = 0; i <= AR_RESULT_FILE; i++)
    {
      ArResult *s = self->results[i];
      if (s && s->metrics_serial != self->reference_serial && s->metrics_pending != self->reference_serial)
        {
          s->metrics_pending = self->reference_serial;
          g_ptr_array_add (todo, ar_result_ref (s));
        }
    }
  if (todo->len == 0)
    return;
  MetricsJob *j = g_new0 (MetricsJob, 1);
  j->ref = ar_result_ref (ref);
  j->serial = self->reference_serial;
  j->metrics = g_new0 (OrganMetrics *, todo->len);
  j->n_metrics = g_new0 (int32_t, todo->len);
  j->errors = g_new0 (char *, todo->len);
  j->n = todo->len;
  j->scenes = g_steal_pointer (&todo);
  /* the window's cancellable stops the HD95 between organs when the window closes */
  g_autoptr (GTask) task = g_task_new (self, self->cancellable, metrics_done, NULL);
  g_task_set_task_data (task, j, (GDestroyNotify) metrics_job_free);
  g_task_set_return_on_cancel (task, FALSE);
  self->metrics_jobs++;
  g_task_run_in_thread (task, metrics_thread);
}

/* ------------------------------------------------------------------------ */
/* Rows and columns */

/* The result slots shown as columns: every network, and a loaded result file. */
static int
table_columns (ArWindow *self, int cols[NN_N_ARCHS + 1])
{
  int n = 0;
  for (int i = 0; i <= AR_RESULT_FILE; i++)
    if (i < NN_N_ARCHS || self->results[i])
      cols[n++] = i;
  return n;
}

static char *
column_title (ArWindow *self, int i)
{
  ArResult *s = self->results[i];
  if (i == AR_RESULT_FILE)
    {
      g_autofree char *fname = g_path_get_basename (s->scene->path);
      return g_strdup_printf ("%s (file)", fname);
    }
  if (s)
    return g_strdup (ar_network_get_title (i));
  if (!ar_completion_is_available (i, NULL))
    return g_strdup_printf ("%s (no model)", ar_network_get_title (i));
  return g_strdup_printf ("%s (not computed)", ar_network_get_title (i));
}

typedef enum {
  ROW_MISSING,       /* in the reference, not in the input: what completion is for */
  ROW_ADDED,         /* not in the input and not in the reference, added by a result */
  ROW_PRESENT,       /* in the input */
} RowKind;

typedef struct {
  int32_t label;
  RowKind kind;
} TableRow;

static const char *const row_status[] = { "missing", "added, not in the reference", "present" };

/* The organs of the reference or of any result: those not in the input first (missing,
 * then added), then those present, each in label order. */
static GArray *
table_rows (ArWindow *self, ArScene *ref, const int *cols, int n_cols)
{
  GArray *rows = g_array_new (FALSE, FALSE, sizeof (TableRow));
  int32_t n_labels = ref->n_hist;
  for (int c = 0; c < n_cols; c++)
    if (self->results[cols[c]])
      n_labels = MAX (n_labels, self->results[cols[c]]->scene->n_hist);
  for (int kind = ROW_MISSING; kind <= ROW_PRESENT; kind++)
    for (int32_t l = 1; l < n_labels; l++)
      {
        gboolean in_ref = ar_scene_count (ref, l) > 0;
        gboolean in_any = in_ref;
        for (int c = 0; c < n_cols; c++)
          {
            ArScene *s = ar_window_get_result_scene (self, cols[c]);
            in_any |= s && ar_scene_count (s, l) > 0;
          }
        if (!in_any)
          continue;
        RowKind k = ar_scene_count (self->input, l) > 0 ? ROW_PRESENT : in_ref ? ROW_MISSING : ROW_ADDED;
        if ((int) k != kind)
          continue;
        TableRow r = { l, k };
        g_array_append_val (rows, r);
      }
  return rows;
}

/* @s's metrics of @label; a label in neither map has no entry: zero volumes, no Dice. */
static OrganMetrics
result_metrics (const ArResult *s, int32_t label)
{
  if (label < s->n_metrics)
    return s->metrics[label];
  OrganMetrics none = { .m = { .dice = NAN }, .percent_diff = NAN, .hd95_mm = NAN };
  return none;
}

/* ------------------------------------------------------------------------ */
/* The widget */

static GtkWidget *
cell (const char *text, float xalign, const char *css)
{
  GtkWidget *l = gtk_label_new (text);
  gtk_label_set_xalign (GTK_LABEL (l), xalign);
  if (css)
    gtk_widget_add_css_class (l, css);
  return l;
}

static const char *
organ_name (ArWindow *self, int32_t label, char *buf, gsize len)
{
  const char *name = ar_label_panel_get_name (self->label_panel, label);
  if (name && *name)
    return name;
  g_snprintf (buf, len, "label %d", label);
  return buf;
}

static GtkWidget *
organ_cell (ArWindow *self, int32_t label, gboolean highlight)
{
  GtkWidget *row = gtk_box_new (GTK_ORIENTATION_HORIZONTAL, 8);
  guint8 rgba[4];
  ar_label_panel_get_color (self->label_panel, label, rgba);
  GtkWidget *sw = ar_window_swatch_new (rgba, 12, highlight);
  gtk_widget_set_valign (sw, GTK_ALIGN_CENTER);
  gtk_box_append (GTK_BOX (row), sw);
  char buf[32];
  gtk_box_append (GTK_BOX (row), cell (organ_name (self, label, buf, sizeof buf), 0.f, highlight ? "accent" : NULL));
  return row;
}

/* Columns per result: Dice, HD95, volume difference (its volume is in the tooltip of the
 * last, and in the CSV). */
#define AR_TABLE_RESULT_COLUMNS 3

/* @w, the @k-th cell of a result's block: the first is set off from the block before. */
static GtkWidget *
block_cell (GtkWidget *w, int k)
{
  if (k == 0)
    gtk_widget_set_margin_start (w, 14);
  return w;
}

static const char *
dice_class (double d)
{
  return isnan (d) ? "dim-label" : d >= 0.8 ? "dice-good" : d >= 0.5 ? "dice-fair" : "dice-poor";
}

static char *
fmt_ml (double ml)
{
  return ml >= 100 ? g_strdup_printf ("%.0f", ml) : g_strdup_printf ("%.1f", ml);
}

static char *
fmt_dice (double d)
{
  return isnan (d) ? g_strdup ("—") : g_strdup_printf ("%.3f", d);
}

static char *
fmt_mm (double mm)
{
  return isnan (mm) ? g_strdup ("—") : g_strdup_printf ("%.1f", mm);
}

/* "+12.3 (+8 %)": the difference in mL and in % of the reference (none without one); "0"
 * for none at all */
static char *
fmt_diff (double ml, double percent)
{
  if (ml == 0)
    return g_strdup ("0");
  g_autofree char *v = fabs (ml) >= 100 ? g_strdup_printf ("%+.0f", ml) : g_strdup_printf ("%+.1f", ml);
  if (isnan (percent))
    return g_steal_pointer (&v);
  return fabs (percent) >= 10 ? g_strdup_printf ("%s (%+.0f %%)", v, percent)
                              : g_strdup_printf ("%s (%+.1f %%)", v, percent);
}

/* Shows or hides the cells of the rows of the present organs (the grid then gives their
 * rows no height). */
static void
apply_present_shown (ArWindow *self)
{
  GtkGrid *grid = GTK_GRID (self->metrics_grid);
  int first = GPOINTER_TO_INT (g_object_get_data (G_OBJECT (grid), "ar-present-first"));
  int last = GPOINTER_TO_INT (g_object_get_data (G_OBJECT (grid), "ar-present-last"));
  for (GtkWidget *c = gtk_widget_get_first_child (self->metrics_grid); c; c = gtk_widget_get_next_sibling (c))
    {
      int col, row, w, h;
      gtk_grid_query_child (grid, c, &col, &row, &w, &h);
      if (row >= first && row < last)
        gtk_widget_set_visible (c, self->metrics_present_shown);
    }
}

static void
present_expanded (GObject *expander, GParamSpec *p, ArWindow *self)
{
  self->metrics_present_shown = gtk_expander_get_expanded (GTK_EXPANDER (expander));
  apply_present_shown (self);
}

void
ar_window_table_show_present (ArWindow *self, gboolean shown)
{
  self->metrics_present_shown = shown;
  ar_window_table_update (self);
}

static void
enable (ArWindow *self, const char *action, gboolean enabled)
{
  GAction *a = g_action_map_lookup_action (G_ACTION_MAP (self), action);
  if (a)
    g_simple_action_set_enabled (G_SIMPLE_ACTION (a), enabled);
}

/* One organ's row: its name, volumes, and per column the result's figures. */
static void
attach_row (ArWindow *self, GtkGrid *grid, int row, const TableRow *r, ArScene *ref, const int *cols, int n_cols,
            double *sum_missing, double *sum_all)
{
  int32_t l = r->label;
  int64_t n_in = ar_scene_count (self->input, l);
  gtk_grid_attach (grid, organ_cell (self, l, r->kind != ROW_PRESENT), 0, row, 1, 1);
  g_autofree char *ref_ml = fmt_ml (ar_scene_count (ref, l) * ref->ml_per_voxel);
  g_autofree char *in_ml = n_in ? fmt_ml (n_in * self->input->ml_per_voxel) : g_strdup ("—");
  gtk_grid_attach (grid, cell (ref_ml, 1.f, "numeric"), 1, row, 1, 1);
  gtk_grid_attach (grid, cell (in_ml, 1.f, n_in ? "numeric" : "dim-label"), 2, row, 1, 1);
  for (int c = 0; c < n_cols; c++)
    {
      ArResult *s = self->results[cols[c]];
      int x = 3 + AR_TABLE_RESULT_COLUMNS * c;
      if (!ar_window_metrics_ready (self, s))
        {
          const char *none = s && s->metrics_pending ? "…" : "—";
          for (int k = 0; k < AR_TABLE_RESULT_COLUMNS; k++)
            gtk_grid_attach (grid, block_cell (cell (none, 1.f, "dim-label"), k), x + k, row, 1, 1);
          continue;
        }
      OrganMetrics m = result_metrics (s, l);
      g_autofree char *dice = fmt_dice (m.m.dice), *hd = fmt_mm (m.hd95_mm);
      g_autofree char *diff = fmt_diff (m.ml_diff, m.percent_diff);
      g_autofree char *ml = fmt_ml (m.m.ml_test);
      g_autofree char *tip = g_strdup_printf ("%s mL in the result, %s in the reference", ml, ref_ml);
      GtkWidget *dv = cell (diff, 1.f, "numeric");
      gtk_widget_set_tooltip_text (dv, tip);
      gtk_grid_attach (grid, block_cell (cell (dice, 1.f, dice_class (m.m.dice)), 0), x, row, 1, 1);
      gtk_grid_attach (grid, cell (hd, 1.f, isnan (m.hd95_mm) ? "dim-label" : "numeric"), x + 1, row, 1, 1);
      gtk_grid_attach (grid, dv, x + 2, row, 1, 1);
      if (r->kind != ROW_ADDED)
        {
          sum_all[c] += m.m.dice;
          if (r->kind == ROW_MISSING)
            sum_missing[c] += m.m.dice;
        }
    }
}

static void
attach_mean (ArWindow *self, GtkGrid *grid, int row, const char *what, const double *sum, int n, const int *cols,
             int n_cols)
{
  gtk_grid_attach (grid, cell (what, 0.f, "metrics-mean"), 0, row, 3, 1);
  for (int c = 0; c < n_cols; c++)
    {
      ArResult *s = self->results[cols[c]];
      gboolean ready = ar_window_metrics_ready (self, s);
      g_autofree char *t = ready ? fmt_dice (sum[c] / n) : g_strdup (s && s->metrics_pending ? "…" : "—");
      gtk_grid_attach (grid, block_cell (cell (t, 1.f, ready ? "metrics-mean" : "dim-label"), 0),
                       3 + AR_TABLE_RESULT_COLUMNS * c, row, 1, 1);
    }
}

void
ar_window_table_update (ArWindow *self)
{
  GtkGrid *grid = GTK_GRID (self->metrics_grid);
  GtkWidget *child;
  while ((child = gtk_widget_get_first_child (self->metrics_grid)))
    gtk_grid_remove (grid, child);
  ArScene *ref = ar_window_get_result_scene (self, AR_RESULT_REFERENCE);
  gboolean have = ref && self->input;
  enable (self, "copy-metrics", have);
  enable (self, "save-metrics", have);
  if (!have)
    {
      gtk_label_set_text (GTK_LABEL (self->metrics_heading), "");
      return;
    }
  request_metrics (self);
  int cols[NN_N_ARCHS + 1];
  int n_cols = table_columns (self, cols);
  g_autofree char *base = g_path_get_basename (ref->path);
  g_autofree char *heading = g_strdup_printf ("Comparison with the reference %s", base);
  gtk_label_set_text (GTK_LABEL (self->metrics_heading), heading);
  int width = 3 + AR_TABLE_RESULT_COLUMNS * n_cols;
  /* header: Organ | Reference | Input | per result: Dice, HD95 mm, ΔV mL (%) */
  gtk_grid_attach (grid, cell ("Organ", 0.f, "metrics-header"), 0, 0, 1, 2);
  gtk_grid_attach (grid, cell ("Reference", 1.f, "metrics-header"), 1, 0, 1, 1);
  gtk_grid_attach (grid, cell ("Input", 1.f, "metrics-header"), 2, 0, 1, 1);
  gtk_grid_attach (grid, cell ("mL", 1.f, "dim-label"), 1, 1, 1, 1);
  gtk_grid_attach (grid, cell ("mL", 1.f, "dim-label"), 2, 1, 1, 1);
  for (int c = 0; c < n_cols; c++)
    {
      ArResult *s = self->results[cols[c]];
      g_autofree char *title = column_title (self, cols[c]);
      GtkWidget *t = cell (title, 0.5f, "metrics-header");
      if (s && s->metrics_error && s->metrics_serial == self->reference_serial)
        gtk_widget_set_tooltip_text (t, s->metrics_error);
      gtk_grid_attach (grid, block_cell (t, 0), 3 + AR_TABLE_RESULT_COLUMNS * c, 0, AR_TABLE_RESULT_COLUMNS, 1);
      static const char *const units[] = { "Dice", "HD95 mm", "ΔV mL (%)" };
      static const char *const tips[] = {
        "Dice overlap with the reference",
        "95th-percentile Hausdorff distance between the organ's surfaces in the result and the reference (mm): "
        "the larger of the two directed 95th percentiles", "Volume difference, result minus reference, in mL and "
        "in % of the reference" };
      for (int k = 0; k < AR_TABLE_RESULT_COLUMNS; k++)
        {
          GtkWidget *u = cell (units[k], 1.f, "dim-label");
          gtk_widget_set_tooltip_text (u, tips[k]);
          gtk_grid_attach (grid, block_cell (u, k), 3 + AR_TABLE_RESULT_COLUMNS * c + k, 1, 1, 1);
        }
    }
  g_autoptr (GArray) rows = table_rows (self, ref, cols, n_cols);
  int n_top = 0, n_missing = 0, n_present = 0;
  for (guint i = 0; i < rows->len; i++)
    {
      const TableRow *r = &g_array_index (rows, TableRow, i);
      n_top += r->kind != ROW_PRESENT;
      n_missing += r->kind == ROW_MISSING;
      n_present += r->kind == ROW_PRESENT;
    }
  double sum_missing[NN_N_ARCHS + 1] = { 0 }, sum_all[NN_N_ARCHS + 1] = { 0 };
  int row = 2;
  if (n_top > 0)
    {
      g_autofree char *t = g_strdup_printf ("Missing from the input (%d)", n_top);
      GtkWidget *h = cell (t, 0.f, "metrics-section");
      gtk_widget_add_css_class (h, "accent");
      gtk_grid_attach (grid, h, 0, row++, width, 1);
    }
  guint i = 0;
  for (; i < rows->len && g_array_index (rows, TableRow, i).kind != ROW_PRESENT; i++)
    attach_row (self, grid, row++, &g_array_index (rows, TableRow, i), ref, cols, n_cols, sum_missing, sum_all);
  if (n_missing > 0)
    {
      g_autofree char *what = g_strdup_printf ("Mean Dice, %d organ%s missing from the input", n_missing,
                                               n_missing == 1 ? "" : "s");
      attach_mean (self, grid, row++, what, sum_missing, n_missing, cols, n_cols);
    }
  if (n_present > 0)
    {
      g_autofree char *t = g_strdup_printf ("Present in the input (%d)", n_present);
      GtkWidget *e = gtk_expander_new (t);
      gtk_expander_set_expanded (GTK_EXPANDER (e), self->metrics_present_shown);
      gtk_widget_set_tooltip_text (e, "Organs of the input: every network keeps the input's voxels, so their "
                                      "figures only confirm it");
      gtk_widget_add_css_class (e, "metrics-section");
      gtk_widget_set_margin_top (e, n_top > 0 ? 6 : 0);
      gtk_grid_attach (grid, e, 0, row++, width, 1);
      g_signal_connect (e, "notify::expanded", G_CALLBACK (present_expanded), self);
    }
  int first_present = row;
  for (; i < rows->len; i++)
    attach_row (self, grid, row++, &g_array_index (rows, TableRow, i), ref, cols, n_cols, sum_missing, sum_all);
  g_object_set_data (G_OBJECT (grid), "ar-present-first", GINT_TO_POINTER (first_present));
  g_object_set_data (G_OBJECT (grid), "ar-present-last", GINT_TO_POINTER (row));
  apply_present_shown (self);
  int n_all = n_missing + n_present;
  if (n_all > 0)
    {
      g_autofree char *what = g_strdup_printf ("Mean Dice, all %d organ%s", n_all, n_all == 1 ? "" : "s");
      attach_mean (self, grid, row++, what, sum_all, n_all, cols, n_cols);
    }
}

/* ------------------------------------------------------------------------ */
/* As text and CSV */

static void
collect_text (GtkWidget *w, GString *out)
{
  if (GTK_IS_LABEL (w))
    {
      g_string_append (out, gtk_label_get_text (GTK_LABEL (w)));
      return;
    }
  for (GtkWidget *c = gtk_widget_get_first_child (w); c; c = gtk_widget_get_next_sibling (c))
    collect_text (c, out);
}

char *
ar_window_dup_metrics_text (ArWindow *self)
{
  GString *out = g_string_new (NULL);
  const char *heading = gtk_label_get_text (GTK_LABEL (self->metrics_heading));
  if (*heading)
    g_string_append_printf (out, "%s\n", heading);
  GtkGrid *grid = GTK_GRID (self->metrics_grid);
  int max_row = -1, max_col = -1;
  for (GtkWidget *c = gtk_widget_get_first_child (self->metrics_grid); c; c = gtk_widget_get_next_sibling (c))
    {
      int col, row, w, h;
      gtk_grid_query_child (grid, c, &col, &row, &w, &h);
      max_row = MAX (max_row, row + h - 1);
      max_col = MAX (max_col, col + w - 1);
    }
  for (int r = 0; r <= max_row; r++)
    {
      for (int c = 0; c <= max_col; c++)
        {
          GtkWidget *w = gtk_grid_get_child_at (grid, c, r);
          int col = c, row = r, cw = 1, ch = 1;
          if (w)
            gtk_grid_query_child (grid, w, &col, &row, &cw, &ch);
          if (c > 0)
            g_string_append (out, " | ");
          if (w && col == c && row == r)  /* spanning cells are written once */
            collect_text (w, out);
        }
      g_string_append_c (out, '\n');
    }
  return g_string_free (out, FALSE);
}

/* The table as CSV (RFC 4180), one line per organ in the table's order:
 *   label,organ,status,reference_ml,input_ml, then per column TITLE: "TITLE ml",
 *   "TITLE dice", "TITLE hd95_mm", "TITLE volume_diff_ml", "TITLE volume_diff_percent"
 * status is "missing", "added, not in the reference" or "present"; a figure that does not
 * exist (no input volume, a Dice or HD95 of an organ absent from a map, a result not
 * computed) is an empty field.  Numbers are written with a point, whatever the locale. */
char *
ar_window_dup_metrics_csv (ArWindow *self)
{
  ArScene *ref = ar_window_get_result_scene (self, AR_RESULT_REFERENCE);
  if (!ref || !self->input)
    return NULL;
  int cols[NN_N_ARCHS + 1];
  int n_cols = table_columns (self, cols);
  GString *out = g_string_new ("label,organ,status,reference_ml,input_ml");
  for (int c = 0; c < n_cols; c++)
    {
      g_autofree char *title = column_title (self, cols[c]);
      static const char *const keys[] = { "ml", "dice", "hd95_mm", "volume_diff_ml", "volume_diff_percent" };
      for (gsize k = 0; k < G_N_ELEMENTS (keys); k++)
        {
          g_autofree char *h = g_strdup_printf ("%s %s", title, keys[k]);
          g_string_append_c (out, ',');
          organ_metrics_csv_text (out, h);
        }
    }
  g_string_append_c (out, '\n');
  g_autoptr (GArray) rows = table_rows (self, ref, cols, n_cols);
  for (guint i = 0; i < rows->len; i++)
    {
      const TableRow *r = &g_array_index (rows, TableRow, i);
      char buf[32];
      int64_t n_in = ar_scene_count (self->input, r->label);
      g_string_append_printf (out, "%d,", r->label);
      organ_metrics_csv_text (out, organ_name (self, r->label, buf, sizeof buf));
      g_string_append_c (out, ',');
      organ_metrics_csv_text (out, row_status[r->kind]);
      g_string_append_c (out, ',');
      organ_metrics_csv_number (out, ar_scene_count (ref, r->label) * ref->ml_per_voxel, 3);
      g_string_append_c (out, ',');
      organ_metrics_csv_number (out, n_in ? n_in * self->input->ml_per_voxel : NAN, 3);
      for (int c = 0; c < n_cols; c++)
        {
          ArResult *s = self->results[cols[c]];
          gboolean ready = ar_window_metrics_ready (self, s);
          OrganMetrics m = ready ? result_metrics (s, r->label) : (OrganMetrics) { .m = { .dice = NAN } };
          const double v[] = { ready ? m.m.ml_test : NAN, m.m.dice, ready ? m.hd95_mm : NAN,
                               ready ? m.ml_diff : NAN, ready ? m.percent_diff : NAN };
          const int dec[] = { 3, 4, 2, 3, 2 };
          for (gsize k = 0; k < G_N_ELEMENTS (v); k++)
            {
              g_string_append_c (out, ',');
              organ_metrics_csv_number (out, v[k], dec[k]);
            }
        }
      g_string_append_c (out, '\n');
    }
  return g_string_free (out, FALSE);
}

gboolean
ar_window_save_metrics_csv (ArWindow *self, const char *path, gboolean overwrite, GError **error)
{
  g_autofree char *csv = ar_window_dup_metrics_csv (self);
  if (!csv)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED, "There is no comparison table: no reference is known");
      return FALSE;
    }
  g_autoptr (OutSet) outputs = ar_window_outputs_new (self, overwrite);
  OutFile *f = out_set_open (outputs, path, OUT_FILE_PLAIN, error);
  return f && out_file_write (f, csv, strlen (csv), error) && out_file_finish (f, error)
         && out_set_commit (outputs, error);
}

/* ------------------------------------------------------------------------ */
/* Actions */

static void
action_copy_metrics (GSimpleAction *a, GVariant *p, gpointer data)
{
  ArWindow *self = data;
  g_autofree char *csv = ar_window_dup_metrics_csv (self);
  if (csv)
    gdk_clipboard_set_text (gtk_widget_get_clipboard (GTK_WIDGET (self)), csv);
}

static void
action_save_metrics (GSimpleAction *a, GVariant *p, gpointer data)
{
  ArWindow *self = data;
  if (!self->input)
    return;
  ar_window_choose (self, AR_CHOOSE_METRICS);
}

static const GActionEntry table_actions[] = {
  { "copy-metrics", action_copy_metrics, NULL, NULL, NULL },
  { "save-metrics", action_save_metrics, NULL, NULL, NULL },
};

void
ar_window_table_init (ArWindow *self)
{
  g_action_map_add_action_entries (G_ACTION_MAP (self), table_actions, G_N_ELEMENTS (table_actions), self);
  enable (self, "copy-metrics", FALSE);
  enable (self, "save-metrics", FALSE);
}
