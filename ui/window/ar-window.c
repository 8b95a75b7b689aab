/* ar-window.c: the main window (see ar-window.h), its core: the results it holds, error
 * dialogs, the progress bar of background jobs, showing scenes in the views, the
 * widgets' signals and the window's lifecycle.  Loading, saving and completion are in
 * ar-window-load.c, menus and actions in ar-window-actions.c, comparison in
 * ar-window-compare.c. */
#include "ar-window-private.h"

#include <string.h>

G_DEFINE_FINAL_TYPE (ArWindow, ar_window, GTK_TYPE_APPLICATION_WINDOW)

/* ------------------------------------------------------------------------ */
/* Results */

ArResult *
ar_result_new (ArScene *scene)
{
  ArResult *r = g_new0 (ArResult, 1);
  r->refs = 1;
  r->scene = scene;
  return r;
}

ArResult *
ar_result_ref (ArResult *r)
{
  g_atomic_int_inc (&r->refs);
  return r;
}

void
ar_result_unref (ArResult *r)
{
  if (!r || !g_atomic_int_dec_and_test (&r->refs))
    return;
  g_clear_pointer (&r->scene, ar_scene_unref);
  g_free (r->metrics);
  g_free (r->metrics_error);
  g_clear_pointer (&r->request, g_array_unref);
  g_clear_pointer (&r->probs, completion_probs_free);
  g_clear_pointer (&r->decisions, g_hash_table_unref);
  g_clear_pointer (&r->classes, g_hash_table_unref);
  g_clear_pointer (&r->undo, g_array_unref);
  g_free (r);
}

ArScene *
ar_window_get_result_scene (ArWindow *self, int index)
{
  return index >= 0 && index < AR_N_RESULTS && self->results[index] ? self->results[index]->scene : NULL;
}

/* ------------------------------------------------------------------------ */
/* Errors */

static void
error_dialog_response (GtkDialog *d, int response, ArWindow *self)
{
  if (self->error_dialog == GTK_WIDGET (d))
    self->error_dialog = NULL;
  gtk_window_destroy (GTK_WINDOW (d));
}

void
ar_window_show_error (ArWindow *self, const char *primary, const GError *error)
{
  g_free (self->last_error);
  self->last_error = g_strdup_printf ("%s: %s", primary, error ? error->message : "");
  if (self->error_dialog)
    gtk_window_destroy (GTK_WINDOW (self->error_dialog));
  GtkWidget *d = gtk_message_dialog_new (GTK_WINDOW (self), GTK_DIALOG_MODAL | GTK_DIALOG_DESTROY_WITH_PARENT,
                                         GTK_MESSAGE_ERROR, GTK_BUTTONS_CLOSE, "%s", primary);
  if (error)
    gtk_message_dialog_format_secondary_text (GTK_MESSAGE_DIALOG (d), "%s", error->message);
  g_signal_connect (d, "response", G_CALLBACK (error_dialog_response), self);
  self->error_dialog = d;
  gtk_window_present (GTK_WINDOW (d));
}

/* ------------------------------------------------------------------------ */
/* Progress */

static const char *
stage_text (int stage)
{
  switch (stage)
    {
    case AR_SCENE_STAGE_READ: return "Reading";
    case AR_SCENE_STAGE_TABLE: return "Reading the label table of";
    case AR_SCENE_STAGE_MESH: return "Extracting surfaces of";
    case AR_SCENE_STAGE_PREPARE: return "Preparing meshes of";
    case AR_JOB_COMPLETING: return "Completing";
    default: return "";
    }
}

static gboolean
progress_tick (gpointer data)
{
  ArWindow *self = data;
  int stage = g_atomic_int_get (&self->job_stage);
  g_autofree char *t = g_strdup_printf ("%s %s…", stage_text (stage), self->job_text ? self->job_text : "");
  gtk_label_set_text (GTK_LABEL (self->progress_label), t);
  if (stage == AR_JOB_COMPLETING)
    gtk_progress_bar_set_fraction (GTK_PROGRESS_BAR (self->progress_bar),
                                   g_atomic_int_get (&self->job_permille) / 1000.0);
  else
    gtk_progress_bar_set_fraction (GTK_PROGRESS_BAR (self->progress_bar),
                                   stage == AR_SCENE_STAGE_READ ? 0.1 : stage == AR_SCENE_STAGE_TABLE ? 0.25
                                   : stage == AR_SCENE_STAGE_MESH ? 0.4 : 0.9);
  return G_SOURCE_CONTINUE;
}

GCancellable *
ar_window_begin_job (ArWindow *self, const char *what)
{
  if (self->job_cancellable)
    g_cancellable_cancel (self->job_cancellable);
  g_clear_object (&self->job_cancellable);
  self->job_cancellable = g_cancellable_new ();
  /* Closing the window cancels the job too. */
  g_signal_connect_object (self->cancellable, "cancelled", G_CALLBACK (g_cancellable_cancel),
                           self->job_cancellable, G_CONNECT_SWAPPED);
  g_free (self->job_text);
  self->job_text = g_strdup (what);
  g_atomic_int_set (&self->job_stage, AR_SCENE_STAGE_READ);
  gtk_progress_bar_set_fraction (GTK_PROGRESS_BAR (self->progress_bar), 0.0);
  progress_tick (self);
  gtk_revealer_set_reveal_child (GTK_REVEALER (self->progress_revealer), TRUE);
  if (!self->progress_timer)
    self->progress_timer = g_timeout_add (100, progress_tick, self);
  ar_window_update_actions (self);
  return g_object_ref (self->job_cancellable);
}

void
ar_window_end_job (ArWindow *self, GCancellable *job)
{
  if (job != self->job_cancellable)
    return; /* a newer job runs, or the job was cancelled (and ended) already */
  g_clear_object (&self->job_cancellable);
  if (g_cancellable_is_cancelled (self->cancellable))
    return; /* the window is closed: its widgets are gone */
  g_clear_handle_id (&self->progress_timer, g_source_remove);
  gtk_revealer_set_reveal_child (GTK_REVEALER (self->progress_revealer), FALSE);
  g_atomic_int_set (&self->job_stage, AR_SCENE_STAGE_NONE);
  ar_window_update_actions (self);
}

gboolean
ar_window_is_busy (ArWindow *self)
{
  return self->job_cancellable != NULL || self->reference_job != NULL;
}

/* ------------------------------------------------------------------------ */
/* Scene -> views */

void
ar_window_apply_styles (ArWindow *self)
{
  ArRenderer *ri = ar_view_get_renderer (self->view_input);
  ArRenderer *rr = ar_view_get_renderer (self->view_result);
  for (int v = 0; v < 2; v++)
    {
      ArScene *s = v == 0 ? self->input : ar_window_get_result_scene (self, self->shown_result);
      if (!s)
        continue;
      for (guint i = 0; i < s->meshes->len; i++)
        {
          int32_t l = ar_render_mesh_get_label (s->meshes->pdata[i]);
          ArLabelStyle st;
          ar_label_panel_get_style (self->label_panel, l, v == 1, &st);
          if (v == 1)
            ar_window_review_style (self, l, &st);
          ar_renderer_set_style (v == 0 ? ri : rr, l, &st);
        }
    }
  /* The grid: the input, then each network's result with its own new organs lit. */
  for (int g = 0; g < AR_N_GRID_VIEWS; g++)
    {
      ArScene *s = g == 0 ? self->input : ar_window_get_result_scene (self, g - 1);
      if (!s || !self->grid_views[g])
        continue;
      ArRenderer *r = ar_view_get_renderer (self->grid_views[g]);
      for (guint i = 0; i < s->meshes->len; i++)
        {
          int32_t l = ar_render_mesh_get_label (s->meshes->pdata[i]);
          ArLabelStyle st;
          ar_label_panel_get_style (self->label_panel, l, FALSE, &st);
          st.highlight = g > 0 && self->input && ar_scene_count (self->input, l) == 0;
          ar_renderer_set_style (r, l, &st);
        }
    }
  guint n;
  ArView **views = ar_window_get_views (self, &n);
  for (guint i = 0; i < n; i++)
    ar_view_queue_redraw (views[i]);
}

/* data: 0xRRGGBB, with bit 24 for the ring of a new organ */
static void
swatch_draw (GtkDrawingArea *a, cairo_t *cr, int w, int h, gpointer data)
{
  guint32 c = GPOINTER_TO_UINT (data);
  cairo_arc (cr, w / 2.0, h / 2.0, MIN (w, h) / 2.0 - 1, 0, 2 * G_PI);
  cairo_set_source_rgb (cr, ((c >> 16) & 255) / 255.0, ((c >> 8) & 255) / 255.0, (c & 255) / 255.0);
  if (!(c >> 24))
    {
      cairo_fill (cr);
      return;
    }
  cairo_fill_preserve (cr);
  cairo_set_source_rgb (cr, 1.0, 0.78, 0.27);
  cairo_set_line_width (cr, 1.5);
  cairo_stroke (cr);
}

GtkWidget *
ar_window_swatch_new (const guint8 rgba[4], int size, gboolean ringed)
{
  GtkWidget *sw = gtk_drawing_area_new ();
  gtk_drawing_area_set_content_width (GTK_DRAWING_AREA (sw), size);
  gtk_drawing_area_set_content_height (GTK_DRAWING_AREA (sw), size);
  guint32 c = (guint32) !!ringed << 24 | (guint32) rgba[0] << 16 | (guint32) rgba[1] << 8 | rgba[2];
  gtk_drawing_area_set_draw_func (GTK_DRAWING_AREA (sw), swatch_draw, GUINT_TO_POINTER (c), NULL);
  return sw;
}

char *
ar_window_dup_scheme_problem (ArWindow *self)
{
  ArScene *s = self->input;
  if (!s || s->scheme)
    return NULL;
  const GError *e = s->scheme_error;
  if (g_error_matches (e, LABEL_SCHEME_ERROR, LABEL_SCHEME_ERROR_NEEDS_SCHEME)
      || (g_error_matches (e, LABEL_SCHEME_ERROR, LABEL_SCHEME_ERROR_NOT_DETECTED) && !s->names))
    return g_strdup_printf ("its labels go up to %d, beyond the 12 organ classes, and it carries no label "
                            "names that would tell which scheme its ids follow", s->n_hist - 1);
  if (g_error_matches (e, LABEL_SCHEME_ERROR, LABEL_SCHEME_ERROR_NOT_DETECTED))
    return g_strdup ("its label names match none of the known label schemes (the 12 classes, "
                     "TotalSegmentator v1 and v2, AMOS)");
  return g_strdup (e ? e->message : "its label scheme is unknown");
}

void
ar_window_show_input_organs (ArWindow *self)
{
  ArScene *s = self->input;
  g_autofree char *problem = ar_window_dup_scheme_problem (self);
  const ArLabelPanelInput in = {
    .table = s->table, .hist = s->hist, .n_hist = s->n_hist, .ml_per_voxel = s->ml_per_voxel,
    .scheme = s->scheme, .by_names = s->by_names, .scheme_names = s->scheme_names, .no_scheme = problem,
    .forced_scheme = self->scheme_request, .warnings = s->read_warnings,
  };
  ar_label_panel_set_input (self->label_panel, &in);
  /* The torso's enclosing organs are shown see-through so the inner ones stay visible. */
  if (s->scheme)
    {
      ar_label_panel_set_class_opacity (self->label_panel, LT_RIB_CAGE, 0.35);
      ar_label_panel_set_class_opacity (self->label_panel, LT_LUNG, 0.3);
      ar_label_panel_set_class_opacity (self->label_panel, LT_AUTOCHTHON, 0.6);
    }
}

void
ar_window_frame_input (ArWindow *self)
{
  float mn[3], mx[3];
  if (self->input && surface_set_bounds (self->input->surfaces, mn, mx))
    ar_camera_init (&self->camera, mn, mx);
  else
    {
      float lo[3] = { -100, -100, -100 }, hi[3] = { 100, 100, 100 };
      ar_camera_init (&self->camera, lo, hi);
    }
}

void
ar_window_show_result (ArWindow *self, int index)
{
  ArRenderer *rr = ar_view_get_renderer (self->view_result);
  ar_renderer_clear (rr);
  ArScene *s = ar_window_get_result_scene (self, index);
  self->shown_result = s ? index : -1;
  if (s)
    {
      ar_scene_add_to_renderer (s, rr);
      ar_view_queue_quick_redraw (self->view_result);
      ar_label_panel_set_result (self->label_panel, s->hist, s->n_hist, s->ml_per_voxel, s->table);
      g_autofree char *base = g_path_get_basename (s->path);
      g_autofree char *t = index == AR_RESULT_REFERENCE ? g_strdup_printf ("Reference (%s)", base)
                           : index == AR_RESULT_FILE ? g_strdup_printf ("Completed (%s)", base)
                           : g_strdup_printf ("Completed — %s", ar_network_get_title (index));
      gtk_label_set_text (GTK_LABEL (self->result_title), t);
      gtk_widget_set_visible (self->result_placeholder, FALSE);
    }
  else
    {
      ar_label_panel_set_result (self->label_panel, NULL, 0, 0, NULL);
      gtk_label_set_text (GTK_LABEL (self->result_title), "Completed");
      g_autofree char *reason = NULL;
      NnArch net = gtk_drop_down_get_selected (GTK_DROP_DOWN (self->network_dropdown));
      gboolean ok = ar_completion_is_available (net, &reason);
      /* a file with nothing to complete from, or nothing missing: the panel's reason */
      const char *none = ar_label_panel_get_completion_problem (self->label_panel);
      g_autofree char *msg = ok && none ? g_strdup_printf ("%s.", none)
                             : ok ? g_strdup ("Tick the organs to reconstruct, then press Complete")
                                  : g_strdup_printf ("%s.\nA completed label map can be loaded from the menu.", reason);
      gtk_label_set_text (GTK_LABEL (self->result_placeholder), self->input ? msg : "");
      gtk_widget_set_visible (self->result_placeholder, self->input != NULL);
    }
  ar_window_review_show (self);
  ar_window_apply_styles (self);
  GAction *sr = g_action_map_lookup_action (G_ACTION_MAP (self), "show-reference");
  if (sr)
    g_simple_action_set_state (G_SIMPLE_ACTION (sr), g_variant_new_boolean (index == AR_RESULT_REFERENCE && s));
  ar_slice_view_set_volumes (self->slice_view, self->input ? self->input->volume : NULL,
                             s ? s->volume : NULL, self->label_panel);
  ar_window_update_actions (self);
}

/* ------------------------------------------------------------------------ */
/* Signals */

static void
camera_changed (ArView *view, ArWindow *self)
{
  /* Linked cameras: the other views follow. */
  guint n;
  ArView **views = ar_window_get_views (self, &n);
  for (guint i = 0; i < n; i++)
    if (views[i] != view)
      ar_view_queue_redraw (views[i]);
}

/* A drag in one view: every linked view draws its simplified meshes without
 * multisampling until the release (they all redraw on every motion). */
static void
view_interaction (ArView *view, gboolean active, ArWindow *self)
{
  guint n;
  ArView **views = ar_window_get_views (self, &n);
  for (guint i = 0; i < n; i++)
    if (views[i] != view)
      ar_view_set_interactive (views[i], active);
}

static void
style_changed (ArLabelPanel *panel, int label, ArWindow *self)
{
  ar_window_apply_styles (self);
  ArScene *shown = ar_window_get_result_scene (self, self->shown_result);
  ar_slice_view_set_volumes (self->slice_view, self->input ? self->input->volume : NULL,
                             shown ? shown->volume : NULL, self->label_panel);
}

gboolean
ar_window_result_is_current (ArWindow *self, NnArch net)
{
  ArResult *s = self->results[net];
  if (!s || !s->request)
    return s != NULL;
  g_autoptr (GArray) now = ar_label_panel_dup_requested (self->label_panel);
  return now->len == s->request->len
         && memcmp (now->data, s->request->data, now->len * sizeof (int32_t)) == 0;
}

/* Ticking other organs to add makes cached network results stale: they stay shown
 * (their legend says what they added) until recomputed, and the comparison grid says so. */
static void
request_changed (ArLabelPanel *panel, ArWindow *self)
{
  ar_window_compare_request_changed (self);
}

/* The user chose the label scheme of the input's ids (NULL: detect): read it again so. */
static void
scheme_changed (ArLabelPanel *panel, const char *scheme, ArWindow *self)
{
  if (self->input && g_strcmp0 (scheme, self->scheme_request) != 0)
    ar_window_reload_input (self, scheme);
}

static void
network_changed (GObject *dd, GParamSpec *p, ArWindow *self)
{
  int net = gtk_drop_down_get_selected (GTK_DROP_DOWN (dd));
  /* Each network's result is kept: switching shows it at once. */
  if (self->shown_result == AR_RESULT_REFERENCE)
    ;  /* the reference stays until its toggle is released */
  else if (ar_window_result_is_current (self, net))
    ar_window_show_result (self, net);
  else if (self->shown_result != AR_RESULT_FILE)
    ar_window_show_result (self, -1);
  ar_window_update_actions (self);
}

/* A file or a folder (of masks) dropped on the window is opened; of several, the first. */
static gboolean
drop_file (GtkDropTarget *t, const GValue *value, double x, double y, ArWindow *self)
{
  GFile *file = NULL;
  if (G_VALUE_HOLDS (value, GDK_TYPE_FILE_LIST))
    {
      GSList *files = g_value_get_boxed (value);
      file = files ? files->data : NULL;
    }
  else if (G_VALUE_HOLDS (value, G_TYPE_FILE))
    file = g_value_get_object (value);
  if (file)
    ar_window_open (self, file);
  return file != NULL;
}

static void
close_dialog_response (GtkDialog *d, int response, ArWindow *self)
{
  gtk_window_destroy (GTK_WINDOW (d));
  if (response == GTK_RESPONSE_CLOSE)
    {
      self->close_confirmed = TRUE;
      gtk_window_close (GTK_WINDOW (self));
    }
  else if (response == GTK_RESPONSE_ACCEPT)
    ar_window_choose (self, AR_CHOOSE_SAVE);
}

static gboolean
close_request (GtkWindow *w)
{
  ArWindow *self = AR_WINDOW (w);
  if (self->result_unsaved && !self->close_confirmed)
    {
      GtkWidget *d = gtk_message_dialog_new (w, GTK_DIALOG_MODAL | GTK_DIALOG_DESTROY_WITH_PARENT,
                                             GTK_MESSAGE_WARNING, GTK_BUTTONS_NONE,
                                             "Save the completed label map?");
      gtk_message_dialog_format_secondary_text (GTK_MESSAGE_DIALOG (d),
                                                "The completion result has not been saved and will be lost.");
      gtk_dialog_add_buttons (GTK_DIALOG (d), "_Cancel", GTK_RESPONSE_CANCEL, "Close _Without Saving",
                              GTK_RESPONSE_CLOSE, "_Save…", GTK_RESPONSE_ACCEPT, NULL);
      gtk_dialog_set_default_response (GTK_DIALOG (d), GTK_RESPONSE_ACCEPT);
      g_signal_connect (d, "response", G_CALLBACK (close_dialog_response), self);
      gtk_window_present (GTK_WINDOW (d));
      return TRUE;
    }
  g_cancellable_cancel (self->cancellable);
  return GTK_WINDOW_CLASS (ar_window_parent_class)->close_request (w);
}

static void
ar_window_dispose (GObject *object)
{
  ArWindow *self = AR_WINDOW (object);
  if (self->cancellable)
    g_cancellable_cancel (self->cancellable);
  g_clear_handle_id (&self->progress_timer, g_source_remove);
  if (self->reference_job)
    g_cancellable_cancel (self->reference_job);
  gtk_widget_dispose_template (GTK_WIDGET (self), AR_TYPE_WINDOW);
  G_OBJECT_CLASS (ar_window_parent_class)->dispose (object);
}

static void
ar_window_finalize (GObject *object)
{
  ArWindow *self = AR_WINDOW (object);
  g_clear_object (&self->job_cancellable);
  g_clear_object (&self->cancellable);
  g_clear_object (&self->reference_job);
  g_clear_pointer (&self->input, ar_scene_unref);
  for (int i = 0; i < AR_N_RESULTS; i++)
    g_clear_pointer (&self->results[i], ar_result_unref);
  for (int i = 0; i < NN_N_ARCHS; i++)
    g_free (self->net_error[i]);
  g_free (self->job_text);
  g_free (self->scheme_request);
  g_clear_pointer (&self->job_request, g_array_unref);
  g_clear_pointer (&self->job_probs, completion_probs_free);
  g_free (self->last_error);
  g_clear_pointer (&self->test, g_free);
  G_OBJECT_CLASS (ar_window_parent_class)->finalize (object);
}

static void
ar_window_class_init (ArWindowClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);
  object_class->dispose = ar_window_dispose;
  object_class->finalize = ar_window_finalize;
  GTK_WINDOW_CLASS (klass)->close_request = close_request;
  g_type_ensure (AR_TYPE_VIEW);
  g_type_ensure (AR_TYPE_LABEL_PANEL);
  g_type_ensure (AR_TYPE_SLICE_VIEW);
  gtk_widget_class_set_template_from_resource (widget_class, "/io/github/anatomyreconstruction/AnatomyReconstruction/ar-window.ui");
#define CHILD(name) gtk_widget_class_bind_template_child (widget_class, ArWindow, name)
  CHILD (subtitle); CHILD (save_button); CHILD (complete_button); CHILD (network_dropdown);
  CHILD (slices_button); CHILD (progress_revealer); CHILD (progress_label); CHILD (progress_bar);
  CHILD (cancel_button); CHILD (paned); CHILD (views_box); CHILD (result_title);
  CHILD (result_placeholder); CHILD (legend_box); CHILD (slice_revealer); CHILD (menu_button);
  CHILD (label_panel); CHILD (view_input); CHILD (view_result); CHILD (slice_view); CHILD (recent_menu);
  CHILD (views_stack); CHILD (grid_box); CHILD (metrics_revealer); CHILD (metrics_grid);
  CHILD (metrics_heading);
  CHILD (compare_button); CHILD (metrics_button); CHILD (reference_button);
#undef CHILD
  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_Escape, 0, "win.escape", NULL);
}

static void
ar_window_init (ArWindow *self)
{
  self->t_created = g_get_monotonic_time ();
  self->shown_result = -1;
  gtk_widget_init_template (GTK_WIDGET (self));
  self->cancellable = g_cancellable_new ();
  ar_window_actions_init (self);
  ar_window_review_init (self);
  g_action_map_add_action_entries (G_ACTION_MAP (self), ar_window_compare_actions,
                                   (int) ar_window_n_compare_actions, self);
  ar_window_compare_init (self);
  ar_window_frame_input (self);
  guint n_views;
  ArView **views = ar_window_get_views (self, &n_views);
  for (guint i = 0; i < n_views; i++)
    {
      ar_view_set_camera (views[i], &self->camera);
      g_signal_connect (views[i], "camera-changed", G_CALLBACK (camera_changed), self);
      g_signal_connect (views[i], "interaction", G_CALLBACK (view_interaction), self);
    }
  g_signal_connect (self->label_panel, "style-changed", G_CALLBACK (style_changed), self);
  g_signal_connect (self->label_panel, "request-changed", G_CALLBACK (request_changed), self);
  g_signal_connect (self->network_dropdown, "notify::selected", G_CALLBACK (network_changed), self);

  g_signal_connect (self->label_panel, "scheme-changed", G_CALLBACK (scheme_changed), self);

  GtkDropTarget *drop = gtk_drop_target_new (G_TYPE_INVALID, GDK_ACTION_COPY);
  gtk_drop_target_set_gtypes (drop, (GType[]) { GDK_TYPE_FILE_LIST, G_TYPE_FILE }, 2);
  g_signal_connect (drop, "drop", G_CALLBACK (drop_file), self);
  self->drop_target = drop;
  gtk_widget_add_controller (GTK_WIDGET (self), GTK_EVENT_CONTROLLER (drop));

  ar_window_update_actions (self);
  ar_window_show_result (self, -1);
}

ArWindow *
ar_window_new (GtkApplication *app)
{
  return g_object_new (AR_TYPE_WINDOW, "application", app, NULL);
}
