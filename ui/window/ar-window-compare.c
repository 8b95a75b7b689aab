/* ar-window-compare.c: ArWindow's comparison concerns: the compare-all grid (the input
 * and one view per network, one linked camera), the reference label map and the
 * per-organ comparison table (volume and Dice against the reference). */
#include "ar-window-private.h"

#include <math.h>
#include <string.h>

#include "nifti.h"

/* ------------------------------------------------------------------------ */
/* Views */

ArView **
ar_window_get_views (ArWindow *self, guint *n)
{
  /* Filled per call and used at once (the UI is single-threaded). */
  static ArView *views[2 + AR_N_GRID_VIEWS];
  guint k = 0;
  views[k++] = self->view_input;
  views[k++] = self->view_result;
  for (int g = 0; g < AR_N_GRID_VIEWS; g++)
    if (self->grid_views[g])
      views[k++] = self->grid_views[g];
  *n = k;
  return views;
}

static gboolean
grid_shown (ArWindow *self)
{
  return g_strcmp0 (gtk_stack_get_visible_child_name (GTK_STACK (self->views_stack)), "grid") == 0;
}

/* The drag budget is shared by the views on screen. */
void
ar_window_update_budgets (ArWindow *self)
{
  gboolean grid = grid_shown (self);
  guint64 per_view = AR_DRAG_TRIANGLE_BUDGET / (grid ? AR_N_GRID_VIEWS : 2);
  ar_view_set_triangle_budget (self->view_input, per_view);
  ar_view_set_triangle_budget (self->view_result, per_view);
  for (int g = 0; g < AR_N_GRID_VIEWS; g++)
    ar_view_set_triangle_budget (self->grid_views[g], per_view);
}

static void
stack_changed (GObject *stack, GParamSpec *p, ArWindow *self)
{
  ar_window_update_budgets (self);
  ar_window_apply_styles (self);
}

static gboolean
metrics_ready (ArWindow *self, const ArResult *s)
{
  return s && s->metrics && s->metrics_serial == self->reference_serial;
}

/* Titles and notes of the grid cells: what each network shows, or why it shows nothing. */
static void
update_grid (ArWindow *self)
{
  for (int g = 1; g < AR_N_GRID_VIEWS; g++)
    {
      NnArch net = g - 1;
      ArResult *s = self->results[net];
      g_autofree char *reason = NULL;
      gboolean avail = ar_completion_is_available (net, &reason);
      gboolean running = ar_window_is_busy (self) && self->job_cancellable && self->job_network == (int) net;
      const char *note = NULL;
      g_autofree char *owned = NULL;
      if (running)
        note = "Completing…";
      else if (s && !ar_window_result_is_current (self, net))
        note = "Computed for other organs: press Compare All to redo";
      else if (s)
        note = NULL;
      else if (self->net_error[net])
        note = owned = g_strdup_printf ("Completion failed: %s", self->net_error[net]);
      else if (!avail)
        note = reason;
      else if (self->compare_pending & (1u << net))
        note = "Waiting for its turn…";
      else
        note = "Not computed yet: press Compare All";
      gtk_label_set_text (GTK_LABEL (self->grid_notes[g]), note ? note : "");
      gtk_widget_set_visible (self->grid_notes[g], note != NULL && self->input != NULL);
      g_autofree char *title = NULL;
      if (self->results[AR_RESULT_REFERENCE] && metrics_ready (self, s))
        {
          /* mean Dice over the organs the input lacks and the reference has */
          double sum = 0;
          int n = 0;
          for (int32_t l = 1; l < s->n_metrics; l++)
            if (s->metrics[l].n_reference > 0 && ar_scene_count (self->input, l) == 0)
              {
                sum += s->metrics[l].dice;
                n++;
              }
          if (n > 0)
            title = g_strdup_printf ("%s · Dice %.2f on %d missing organ%s", ar_network_get_title (net),
                                     sum / n, n, n == 1 ? "" : "s");
        }
      gtk_label_set_text (GTK_LABEL (self->grid_titles[g]), title ? title : ar_network_get_title (net));
    }
  gtk_widget_set_visible (self->grid_notes[0], FALSE);
}

static void
set_grid_scene (ArWindow *self, int g, ArScene *s)
{
  ArRenderer *r = ar_view_get_renderer (self->grid_views[g]);
  ar_renderer_clear (r);
  ar_scene_add_to_renderer (s, r);
  ar_view_queue_quick_redraw (self->grid_views[g]);
}

/* ------------------------------------------------------------------------ */
/* The comparison table */

/* Overlap with the reference, computed in a worker: a volume of 512×512×300 voxels takes
 * about 85 ms, too long for the main thread.  The job holds references to the results,
 * released on the main thread. */
typedef struct {
  ArResult *ref;
  GPtrArray *scenes;     /* ArResult*, each referenced */
  guint n;               /* scenes->len, kept after the results are released */
  MetricsLabel **metrics;
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
      j->metrics[i] = metrics_compare (j->ref->scene->volume, s->scene->volume, &j->n_metrics[i], &error);
      if (!j->metrics[i])
        j->errors[i] = g_strdup (error->message);
    }
  g_task_return_boolean (task, TRUE);
}

static void update_metrics (ArWindow *self);

static void
metrics_done (GObject *source, GAsyncResult *res, gpointer data)
{
  ArWindow *self = AR_WINDOW (source);
  MetricsJob *j = g_task_get_task_data (G_TASK (res));
  self->metrics_jobs--;
  for (guint i = 0; i < j->scenes->len; i++)
    {
      ArResult *s = j->scenes->pdata[i];
      if (s->metrics_pending == j->serial)
        s->metrics_pending = 0;
      if (j->serial != self->reference_serial)
        continue;  /* the reference changed meanwhile: another job is on it */
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
  if (j->serial == self->reference_serial && !g_cancellable_is_cancelled (self->cancellable))
    {
      update_metrics (self);
      update_grid (self);
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

/* Start computing the overlap of every result that lacks it for the current reference. */
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
  j->metrics = g_new0 (MetricsLabel *, todo->len);
  j->n_metrics = g_new0 (int32_t, todo->len);
  j->errors = g_new0 (char *, todo->len);
  j->n = todo->len;
  j->scenes = g_steal_pointer (&todo);
  /* not cancellable: metrics_compare cannot stop midway; the window's cancellable
   * only tells metrics_done that the window is closing */
  g_autoptr (GTask) task = g_task_new (self, NULL, metrics_done, NULL);
  g_task_set_task_data (task, j, (GDestroyNotify) metrics_job_free);
  self->metrics_jobs++;
  g_task_run_in_thread (task, metrics_thread);
}

static GtkWidget *
cell (const char *text, float xalign, const char *css)
{
  GtkWidget *l = gtk_label_new (text);
  gtk_label_set_xalign (GTK_LABEL (l), xalign);
  if (css)
    gtk_widget_add_css_class (l, css);
  return l;
}

static GtkWidget *
organ_cell (ArWindow *self, int32_t label, gboolean missing)
{
  GtkWidget *row = gtk_box_new (GTK_ORIENTATION_HORIZONTAL, 8);
  guint8 rgba[4];
  ar_label_panel_get_color (self->label_panel, label, rgba);
  GtkWidget *sw = ar_window_swatch_new (rgba, 12, FALSE);
  gtk_widget_set_valign (sw, GTK_ALIGN_CENTER);
  gtk_box_append (GTK_BOX (row), sw);
  const char *name = ar_label_panel_get_name (self->label_panel, label);
  g_autofree char *fallback = g_strdup_printf ("label %d", label);
  gtk_box_append (GTK_BOX (row), cell (name && *name ? name : fallback, 0.f, missing ? "accent" : NULL));
  return row;
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

static void
update_metrics (ArWindow *self)
{
  GtkGrid *grid = GTK_GRID (self->metrics_grid);
  GtkWidget *child;
  while ((child = gtk_widget_get_first_child (self->metrics_grid)))
    gtk_grid_remove (grid, child);
  ArScene *ref = ar_window_get_result_scene (self, AR_RESULT_REFERENCE);
  if (!ref || !self->input)
    return;
  request_metrics (self);
  int cols[NN_N_ARCHS + 1], n_cols = 0;
  for (int i = 0; i <= AR_RESULT_FILE; i++)
    if (i < NN_N_ARCHS || self->results[i])
      cols[n_cols++] = i;
  g_autofree char *base = g_path_get_basename (ref->path);
  g_autofree char *heading = g_strdup_printf ("Comparison with the reference %s", base);
  GtkWidget *h = cell (heading, 0.f, "heading");
  gtk_grid_attach (grid, h, 0, 0, 3 + 2 * n_cols, 1);
  /* header: Organ | Reference | Input | per result: mL, Dice */
  gtk_grid_attach (grid, cell ("Organ", 0.f, "metrics-header"), 0, 1, 1, 2);
  gtk_grid_attach (grid, cell ("Reference", 1.f, "metrics-header"), 1, 1, 1, 1);
  gtk_grid_attach (grid, cell ("Input", 1.f, "metrics-header"), 2, 1, 1, 1);
  gtk_grid_attach (grid, cell ("mL", 1.f, "dim-label"), 1, 2, 1, 1);
  gtk_grid_attach (grid, cell ("mL", 1.f, "dim-label"), 2, 2, 1, 1);
  for (int c = 0; c < n_cols; c++)
    {
      int i = cols[c];
      ArResult *s = self->results[i];
      g_autofree char *fname = i == AR_RESULT_FILE ? g_path_get_basename (s->scene->path) : NULL;
      g_autofree char *title = NULL;
      if (i == AR_RESULT_FILE)
        title = g_strdup_printf ("%s (file)", fname);
      else if (s)
        title = g_strdup (ar_network_get_title (i));
      else if (!ar_completion_is_available (i, NULL))
        title = g_strdup_printf ("%s (no model)", ar_network_get_title (i));
      else
        title = g_strdup_printf ("%s (not computed)", ar_network_get_title (i));
      GtkWidget *t = cell (title, 0.5f, "metrics-header");
      if (s && s->metrics_error && s->metrics_serial == self->reference_serial)
        gtk_widget_set_tooltip_text (t, s->metrics_error);
      gtk_grid_attach (grid, t, 3 + 2 * c, 1, 2, 1);
      gtk_grid_attach (grid, cell ("mL", 1.f, "dim-label"), 3 + 2 * c, 2, 1, 1);
      gtk_grid_attach (grid, cell ("Dice", 1.f, "dim-label"), 4 + 2 * c, 2, 1, 1);
    }
  /* rows: organs of the reference or of any result */
  int32_t n_labels = ref->n_hist;
  for (int c = 0; c < n_cols; c++)
    if (self->results[cols[c]])
      n_labels = MAX (n_labels, self->results[cols[c]]->scene->n_hist);
  int row = 3;
  double sum_missing[NN_N_ARCHS + 1] = { 0 }, sum_all[NN_N_ARCHS + 1] = { 0 };
  int n_missing = 0, n_all = 0;
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
      int64_t n_in = ar_scene_count (self->input, l);
      gboolean missing = n_in == 0 && in_ref;
      gtk_grid_attach (grid, organ_cell (self, l, missing), 0, row, 1, 1);
      g_autofree char *ref_ml = fmt_ml (ar_scene_count (ref, l) * ref->ml_per_voxel);
      g_autofree char *in_ml = n_in ? fmt_ml (n_in * self->input->ml_per_voxel) : g_strdup ("—");
      gtk_grid_attach (grid, cell (ref_ml, 1.f, "numeric"), 1, row, 1, 1);
      gtk_grid_attach (grid, cell (in_ml, 1.f, n_in ? "numeric" : "dim-label"), 2, row, 1, 1);
      for (int c = 0; c < n_cols; c++)
        {
          ArResult *s = self->results[cols[c]];
          g_autofree char *ml = NULL, *dice = NULL;
          double d = NAN;
          if (metrics_ready (self, s))
            {
              const MetricsLabel *m = l < s->n_metrics ? &s->metrics[l] : NULL;
              d = m ? m->dice : 0.0;
              ml = fmt_ml (m ? m->ml_test : 0.0);
              dice = fmt_dice (d);
              if (in_ref)
                {
                  sum_all[c] += d;
                  if (missing)
                    sum_missing[c] += d;
                }
            }
          const char *none = s && s->metrics_pending ? "…" : "—";
          gtk_grid_attach (grid, cell (ml ? ml : none, 1.f, ml ? "numeric" : "dim-label"), 3 + 2 * c, row, 1, 1);
          gtk_grid_attach (grid, cell (dice ? dice : none, 1.f, dice ? dice_class (d) : "dim-label"),
                           4 + 2 * c, row, 1, 1);
        }
      n_all += in_ref;
      n_missing += missing;
      row++;
    }
  /* means */
  for (int k = 0; k < 2; k++)
    {
      int n = k == 0 ? n_missing : n_all;
      if (n == 0)
        continue;
      g_autofree char *what = g_strdup_printf (k == 0 ? "Mean Dice, %d organ%s missing from the input"
                                                      : "Mean Dice, all %d organ%s", n, n == 1 ? "" : "s");
      gtk_grid_attach (grid, cell (what, 0.f, "metrics-mean"), 0, row, 3, 1);
      for (int c = 0; c < n_cols; c++)
        {
          ArResult *s = self->results[cols[c]];
          double d = (k == 0 ? sum_missing[c] : sum_all[c]) / n;
          gboolean ready = metrics_ready (self, s);
          g_autofree char *t = ready ? fmt_dice (d) : g_strdup (s && s->metrics_pending ? "…" : "—");
          gtk_grid_attach (grid, cell (t, 1.f, ready ? "metrics-mean" : "dim-label"), 4 + 2 * c, row, 1, 1);
        }
      row++;
    }
}

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

/* ------------------------------------------------------------------------ */
/* State changes */

void
ar_window_compare_result_changed (ArWindow *self, int index)
{
  if (index >= 0 && index < NN_N_ARCHS)
    set_grid_scene (self, 1 + index, ar_window_get_result_scene (self, index));
  update_metrics (self);
  update_grid (self);
  ar_window_apply_styles (self);
}

void
ar_window_compare_input_changed (ArWindow *self)
{
  if (self->reference_job)
    g_cancellable_cancel (self->reference_job);
  g_clear_object (&self->reference_job);
  self->reference_serial++;
  for (int i = 0; i < NN_N_ARCHS; i++)
    g_clear_pointer (&self->net_error[i], g_free);
  self->compare_pending = 0;
  set_grid_scene (self, 0, self->input);
  for (int g = 1; g < AR_N_GRID_VIEWS; g++)
    set_grid_scene (self, g, NULL);
  update_metrics (self);
  update_grid (self);
  ar_window_update_actions (self);
  /* nothing runs: the window has left the grid (set_input) */
}

void
ar_window_compare_completion_failed (ArWindow *self, NnArch net, const GError *error)
{
  if (net >= NN_N_ARCHS)
    return;
  g_free (self->net_error[net]);
  self->net_error[net] = g_strdup (error ? error->message : "unknown error");
  update_grid (self);
}

void
ar_window_compare_request_changed (ArWindow *self)
{
  update_grid (self);
}

void
ar_window_compare_next (ArWindow *self)
{
  if (self->job_cancellable)
    return;  /* called again when that job ends */
  while (self->compare_pending && self->input)
    {
      int net = g_bit_nth_lsf (self->compare_pending, -1);
      self->compare_pending &= ~(1u << net);
      if (ar_window_result_is_current (self, net) || !ar_completion_is_available (net, NULL))
        continue;
      ar_window_start_completion (self, net);
      break;
    }
  update_grid (self);
}

/* ------------------------------------------------------------------------ */
/* The reference */

char *
ar_window_guess_reference (const char *input_path)
{
  g_autofree char *dir = g_path_get_dirname (input_path);
  g_autofree char *base = g_path_get_basename (input_path);
  const char *ext = g_str_has_suffix (base, ".nii.gz") ? ".nii.gz" : g_str_has_suffix (base, ".nii") ? ".nii" : NULL;
  if (!ext)
    return NULL;
  g_autofree char *stem = g_strndup (base, strlen (base) - strlen (ext));
  /* the demo: NAME_incomplete -> NAME_complete beside it */
  if (g_str_has_suffix (stem, "_incomplete"))
    {
      g_autofree char *name = g_strdup_printf ("%.*s_complete%s", (int) (strlen (stem) - strlen ("_incomplete")),
                                               stem, ext);
      char *p = g_build_filename (dir, name, NULL);
      if (g_file_test (p, G_FILE_TEST_IS_REGULAR))
        return p;
      g_free (p);
    }
  /* the benchmark: .../incomplete/sXXXX/sXXXX_k.nii.gz -> .../complete/sXXXX_full.nii.gz */
  g_autofree char *subject = g_path_get_basename (dir);
  g_autofree char *parent = g_path_get_dirname (dir);
  g_autofree char *parent_name = g_path_get_basename (parent);
  gsize ls = strlen (subject);
  if (g_str_equal (parent_name, "incomplete") && g_str_has_prefix (stem, subject) && stem[ls] == '_' && stem[ls + 1])
    {
      const char *k = stem + ls + 1;
      for (const char *c = k; *c; c++)
        if (!g_ascii_isdigit (*c))
          return NULL;
      g_autofree char *root = g_path_get_dirname (parent);
      g_autofree char *name = g_strdup_printf ("%s_full", subject);
      const char *exts[] = { ".nii.gz", ".nii" };
      for (gsize e = 0; e < G_N_ELEMENTS (exts); e++)
        {
          g_autofree char *file = g_strconcat (name, exts[e], NULL);
          char *p = g_build_filename (root, "complete", file, NULL);
          if (g_file_test (p, G_FILE_TEST_IS_REGULAR))
            return p;
          g_free (p);
        }
    }
  return NULL;
}

static void
reference_loaded (GObject *source, GAsyncResult *res, gpointer data)
{
  g_autoptr (ArLoadJob) j = data;
  ArWindow *self = j->self;
  const char *path = j->path;
  g_autoptr (GError) error = NULL;
  g_autoptr (ArScene) s = ar_scene_load_finish (res, &error);
  if (j->job == self->reference_job)
    g_clear_object (&self->reference_job);
  if (g_cancellable_is_cancelled (self->cancellable))
    return; /* the window is closed */
  g_autofree char *base = g_path_get_basename (path);
  g_autofree char *primary = g_strdup_printf ("Cannot load “%s” as the reference", base);
  if (!s)
    {
      if (!g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        ar_window_show_error (self, primary, error);
      ar_window_update_actions (self);
      return;
    }
  if (!self->input || s->volume->nx != self->input->volume->nx || s->volume->ny != self->input->volume->ny
      || s->volume->nz != self->input->volume->nz)
    {
      g_autofree char *msg = g_strdup_printf ("%s: its grid (%" G_GINT64_FORMAT "x%" G_GINT64_FORMAT "x%" G_GINT64_FORMAT
                                              ") differs from the input's", path, s->volume->nx, s->volume->ny,
                                              s->volume->nz);
      GError e = { G_IO_ERROR, G_IO_ERROR_INVALID_DATA, msg };
      ar_window_show_error (self, primary, &e);
      ar_window_update_actions (self);
      return;
    }
  gboolean was_shown = self->shown_result == AR_RESULT_REFERENCE;
  g_clear_pointer (&self->results[AR_RESULT_REFERENCE], ar_result_unref);
  self->results[AR_RESULT_REFERENCE] = ar_result_new (g_steal_pointer (&s));
  self->reference_serial++;
  if (was_shown)
    ar_window_show_result (self, AR_RESULT_REFERENCE);
  update_metrics (self);
  update_grid (self);
  ar_window_update_actions (self);
}

void
ar_window_load_reference (ArWindow *self, GFile *file)
{
  g_autofree char *path = g_file_get_path (file);
  if (!path)
    return;
  if (self->reference_job)
    g_cancellable_cancel (self->reference_job);
  g_clear_object (&self->reference_job);
  self->reference_job = g_cancellable_new ();
  g_signal_connect_object (self->cancellable, "cancelled", G_CALLBACK (g_cancellable_cancel),
                           self->reference_job, G_CONNECT_SWAPPED);
  ar_window_load_scene_async (self, path, NULL, FALSE, NULL, NULL, self->reference_job, NULL, reference_loaded);
}

/* ------------------------------------------------------------------------ */
/* Actions */

static void
compare_all_changed (GSimpleAction *a, GVariant *state, gpointer data)
{
  ArWindow *self = data;
  gboolean on = g_variant_get_boolean (state);
  g_simple_action_set_state (a, state);
  self->comparing = on;
  gtk_stack_set_visible_child_name (GTK_STACK (self->views_stack), on ? "grid" : "pair");
  if (on)
    {
      self->compare_pending = 0;
      for (int n = 0; n < NN_N_ARCHS; n++)
        if (!ar_window_result_is_current (self, n) && ar_completion_is_available (n, NULL))
          self->compare_pending |= 1u << n;
      if (self->results[AR_RESULT_REFERENCE])
        g_action_group_change_action_state (G_ACTION_GROUP (self), "show-metrics", g_variant_new_boolean (TRUE));
      ar_window_compare_next (self);
    }
  else
    {
      self->compare_pending = 0;  /* a running completion finishes and is kept */
      update_grid (self);
    }
}

static void
show_reference_changed (GSimpleAction *a, GVariant *state, gpointer data)
{
  ArWindow *self = data;
  gboolean on = g_variant_get_boolean (state) && self->results[AR_RESULT_REFERENCE];
  g_simple_action_set_state (a, g_variant_new_boolean (on));
  if (on)
    ar_window_show_result (self, AR_RESULT_REFERENCE);
  else if (self->shown_result == AR_RESULT_REFERENCE)
    {
      int net = gtk_drop_down_get_selected (GTK_DROP_DOWN (self->network_dropdown));
      ar_window_show_result (self, self->results[net] ? net : self->results[AR_RESULT_FILE] ? AR_RESULT_FILE : -1);
    }
}

static void
show_metrics_changed (GSimpleAction *a, GVariant *state, gpointer data)
{
  ArWindow *self = data;
  g_simple_action_set_state (a, state);
  gtk_revealer_set_reveal_child (GTK_REVEALER (self->metrics_revealer), g_variant_get_boolean (state));
}

const GActionEntry ar_window_compare_actions[] = {
  { "compare-all", NULL, NULL, "false", compare_all_changed },
  { "show-reference", NULL, NULL, "false", show_reference_changed },
  { "show-metrics", NULL, NULL, "false", show_metrics_changed },
};
const gsize ar_window_n_compare_actions = G_N_ELEMENTS (ar_window_compare_actions);

/* ------------------------------------------------------------------------ */

void
ar_window_compare_init (ArWindow *self)
{
  /* Input | U-Net / U-Net + skip | GoogLeNet + skip */
  for (int g = 0; g < AR_N_GRID_VIEWS; g++)
    {
      GtkWidget *overlay = gtk_overlay_new ();
      GtkWidget *view = ar_view_new ();
      self->grid_views[g] = AR_VIEW (view);
      gtk_overlay_set_child (GTK_OVERLAY (overlay), view);
      GtkWidget *title = gtk_label_new (g == 0 ? "Input" : ar_network_get_title (g - 1));
      gtk_widget_set_halign (title, GTK_ALIGN_START);
      gtk_widget_set_valign (title, GTK_ALIGN_START);
      gtk_widget_add_css_class (title, "view-title");
      gtk_overlay_add_overlay (GTK_OVERLAY (overlay), title);
      self->grid_titles[g] = title;
      GtkWidget *note = gtk_label_new (NULL);
      gtk_widget_set_halign (note, GTK_ALIGN_CENTER);
      gtk_widget_set_valign (note, GTK_ALIGN_CENTER);
      gtk_label_set_justify (GTK_LABEL (note), GTK_JUSTIFY_CENTER);
      gtk_label_set_wrap (GTK_LABEL (note), TRUE);
      gtk_label_set_max_width_chars (GTK_LABEL (note), 40);
      gtk_widget_add_css_class (note, "view-placeholder");
      gtk_widget_set_visible (note, FALSE);
      gtk_overlay_add_overlay (GTK_OVERLAY (overlay), note);
      self->grid_notes[g] = note;
      gtk_grid_attach (GTK_GRID (self->grid_box), overlay, g % 2, g / 2, 1, 1);
    }
  g_signal_connect (self->views_stack, "notify::visible-child", G_CALLBACK (stack_changed), self);
  ar_window_update_budgets (self);
  update_grid (self);
}
