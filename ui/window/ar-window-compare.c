/* ar-window-compare.c: ArWindow's comparison concerns: the compare-all grid (the input
 * and one view per network, one linked camera) and the reference label map; the
 * per-organ comparison table is in ar-window-table.c. */
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

/* Titles and notes of the grid cells: what each network shows, or why it shows nothing. */
void
ar_window_compare_update_grid (ArWindow *self)
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
      if (self->results[AR_RESULT_REFERENCE] && ar_window_metrics_ready (self, s))
        {
          /* mean Dice over the organs the input lacks and the reference has */
          double sum = 0;
          int n = 0;
          for (int32_t l = 1; l < s->n_metrics; l++)
            if (s->metrics[l].m.n_reference > 0 && ar_scene_count (self->input, l) == 0)
              {
                sum += s->metrics[l].m.dice;
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
/* State changes */

void
ar_window_compare_result_changed (ArWindow *self, int index)
{
  if (index >= 0 && index < NN_N_ARCHS)
    set_grid_scene (self, 1 + index, ar_window_get_result_scene (self, index));
  ar_window_table_update (self);
  ar_window_compare_update_grid (self);
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
  ar_window_table_update (self);
  ar_window_compare_update_grid (self);
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
  ar_window_compare_update_grid (self);
}

void
ar_window_compare_request_changed (ArWindow *self)
{
  ar_window_compare_update_grid (self);
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
  ar_window_compare_update_grid (self);
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
  ar_window_table_update (self);
  ar_window_compare_update_grid (self);
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
      ar_window_compare_update_grid (self);
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
  ar_window_table_init (self);
  ar_window_update_budgets (self);
  ar_window_compare_update_grid (self);
}
