/* ar-window.c: the main window (see ar-window.h). */
#include "ar-window-private.h"

#include <string.h>

#include "nifti.h"

G_DEFINE_FINAL_TYPE (ArWindow, ar_window, GTK_TYPE_APPLICATION_WINDOW)

#define SMOOTH_ITERATIONS 15
#define RESULT_FILE AR_RESULT_FILE

/* Progress stages: loading's, then completion's. */
enum {
  STAGE_IDLE = AR_SCENE_STAGE_NONE, STAGE_READ = AR_SCENE_STAGE_READ, STAGE_TABLE = AR_SCENE_STAGE_TABLE,
  STAGE_MESH = AR_SCENE_STAGE_MESH, STAGE_PREPARE = AR_SCENE_STAGE_PREPARE, STAGE_COMPLETE
};

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

static void
show_error (ArWindow *self, const char *primary, const GError *error)
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

void
ar_window_show_error (ArWindow *self, const char *primary, const GError *error)
{
  show_error (self, primary, error);
}

/* ------------------------------------------------------------------------ */
/* Progress */

static const char *
stage_text (int stage)
{
  switch (stage)
    {
    case STAGE_READ: return "Reading";
    case STAGE_TABLE: return "Reading the label table of";
    case STAGE_MESH: return "Extracting surfaces of";
    case STAGE_PREPARE: return "Preparing meshes of";
    case STAGE_COMPLETE: return "Completing";
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
  if (stage == STAGE_COMPLETE)
    gtk_progress_bar_set_fraction (GTK_PROGRESS_BAR (self->progress_bar),
                                   g_atomic_int_get (&self->job_permille) / 1000.0);
  else
    gtk_progress_bar_set_fraction (GTK_PROGRESS_BAR (self->progress_bar),
                                   stage == STAGE_READ ? 0.1 : stage == STAGE_TABLE ? 0.25
                                   : stage == STAGE_MESH ? 0.4 : 0.9);
  return G_SOURCE_CONTINUE;
}

static void update_actions (ArWindow *self);

static GCancellable *
begin_job (ArWindow *self, const char *what)
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
  g_atomic_int_set (&self->job_stage, STAGE_READ);
  gtk_progress_bar_set_fraction (GTK_PROGRESS_BAR (self->progress_bar), 0.0);
  progress_tick (self);
  gtk_revealer_set_reveal_child (GTK_REVEALER (self->progress_revealer), TRUE);
  if (!self->progress_timer)
    self->progress_timer = g_timeout_add (100, progress_tick, self);
  update_actions (self);
  return g_object_ref (self->job_cancellable);
}

static void
end_job (ArWindow *self, GCancellable *job)
{
  if (job != self->job_cancellable)
    return; /* a newer job runs */
  g_clear_object (&self->job_cancellable);
  g_clear_handle_id (&self->progress_timer, g_source_remove);
  gtk_revealer_set_reveal_child (GTK_REVEALER (self->progress_revealer), FALSE);
  g_atomic_int_set (&self->job_stage, STAGE_IDLE);
  update_actions (self);
}

gboolean
ar_window_is_busy (ArWindow *self)
{
  return self->job_cancellable != NULL || self->reference_job != NULL;
}

/* ------------------------------------------------------------------------ */
/* Loading (worker thread: no widgets, no GL) */

void
ar_load_job_free (ArLoadJob *j)
{
  g_clear_object (&j->self);
  g_free (j->path);
  g_clear_object (&j->job);
  g_free (j);
}

void
ar_window_load_scene_async (ArWindow *self, const char *path, LabelVolume *volume,
                            gboolean find_table, GCancellable *job, gint *stage,
                            GAsyncReadyCallback callback)
{
  ArLoadJob *j = g_new0 (ArLoadJob, 1);
  j->self = g_object_ref (self);
  j->path = g_strdup (path);
  j->job = job ? g_object_ref (job) : NULL;
  const ArSceneOptions opts = { .smooth_iterations = SMOOTH_ITERATIONS, .find_table = find_table,
                                .stage = stage };
  ar_scene_load_async (path, volume, &opts, job, callback, j);
}

/* With the progress bar: a result keeps its input's label table. */
static void
load_async (ArWindow *self, const char *path, LabelVolume *volume, gboolean is_result,
            GAsyncReadyCallback cb)
{
  g_autofree char *base = g_path_get_basename (path);
  g_autoptr (GCancellable) job = begin_job (self, base);
  ar_window_load_scene_async (self, path, volume, !is_result, job, &self->job_stage, cb);
}

/* ------------------------------------------------------------------------ */
/* Scene -> views */

static void
apply_styles (ArWindow *self)
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

void
ar_window_apply_styles (ArWindow *self)
{
  apply_styles (self);
}

static void
legend_swatch_draw (GtkDrawingArea *a, cairo_t *cr, int w, int h, gpointer data)
{
  guint32 c = GPOINTER_TO_UINT (data);
  cairo_arc (cr, w / 2.0, h / 2.0, MIN (w, h) / 2.0 - 1, 0, 2 * G_PI);
  cairo_set_source_rgb (cr, ((c >> 16) & 255) / 255.0, ((c >> 8) & 255) / 255.0, (c & 255) / 255.0);
  cairo_fill_preserve (cr);
  cairo_set_source_rgb (cr, 1.0, 0.78, 0.27);
  cairo_set_line_width (cr, 1.5);
  cairo_stroke (cr);
}

static void
update_legend (ArWindow *self)
{
  GtkWidget *child;
  while ((child = gtk_widget_get_first_child (self->legend_box)))
    gtk_box_remove (GTK_BOX (self->legend_box), child);
  g_autoptr (GArray) added = ar_label_panel_dup_new_labels (self->label_panel);
  gtk_widget_set_visible (self->legend_box, added->len > 0 && self->shown_result >= 0);
  if (added->len == 0)
    return;
  GtkWidget *title = gtk_label_new (self->shown_result == AR_RESULT_REFERENCE ? "Missing from the input"
                                                                              : "Newly completed");
  gtk_label_set_xalign (GTK_LABEL (title), 0);
  gtk_widget_add_css_class (title, "heading");
  gtk_box_append (GTK_BOX (self->legend_box), title);
  for (guint i = 0; i < added->len; i++)
    {
      int32_t l = g_array_index (added, int32_t, i);
      guint8 rgba[4];
      ar_label_panel_get_color (self->label_panel, l, rgba);
      GtkWidget *row = gtk_box_new (GTK_ORIENTATION_HORIZONTAL, 8);
      GtkWidget *sw = gtk_drawing_area_new ();
      gtk_drawing_area_set_content_width (GTK_DRAWING_AREA (sw), 14);
      gtk_drawing_area_set_content_height (GTK_DRAWING_AREA (sw), 14);
      gtk_drawing_area_set_draw_func (GTK_DRAWING_AREA (sw), legend_swatch_draw,
                                      GUINT_TO_POINTER ((guint32) rgba[0] << 16 | rgba[1] << 8 | rgba[2]), NULL);
      gtk_box_append (GTK_BOX (row), sw);
      GtkWidget *name = gtk_label_new (ar_label_panel_get_name (self->label_panel, l));
      gtk_box_append (GTK_BOX (row), name);
      gtk_box_append (GTK_BOX (self->legend_box), row);
    }
}

static void
frame_both (ArWindow *self)
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
      ar_label_panel_set_result (self->label_panel, s->hist, s->n_hist, s->ml_per_voxel);
      g_autofree char *base = g_path_get_basename (s->path);
      g_autofree char *t = index == AR_RESULT_REFERENCE ? g_strdup_printf ("Reference (%s)", base)
                           : index == RESULT_FILE ? g_strdup_printf ("Completed (%s)", base)
                           : g_strdup_printf ("Completed — %s", ar_network_get_title (index));
      gtk_label_set_text (GTK_LABEL (self->result_title), t);
      gtk_widget_set_visible (self->result_placeholder, FALSE);
    }
  else
    {
      ar_label_panel_set_result (self->label_panel, NULL, 0, 0);
      gtk_label_set_text (GTK_LABEL (self->result_title), "Completed");
      g_autofree char *reason = NULL;
      ArNetwork net = gtk_drop_down_get_selected (GTK_DROP_DOWN (self->network_dropdown));
      gboolean ok = ar_completion_is_available (net, &reason);
      g_autofree char *msg = ok ? g_strdup ("Tick the organs to reconstruct, then press Complete")
                                : g_strdup_printf ("%s.\nA completed label map can be loaded from the menu.", reason);
      gtk_label_set_text (GTK_LABEL (self->result_placeholder), self->input ? msg : "");
      gtk_widget_set_visible (self->result_placeholder, self->input != NULL);
    }
  update_legend (self);
  apply_styles (self);
  GAction *sr = g_action_map_lookup_action (G_ACTION_MAP (self), "show-reference");
  if (sr)
    g_simple_action_set_state (G_SIMPLE_ACTION (sr), g_variant_new_boolean (index == AR_RESULT_REFERENCE && s));
  ar_slice_view_set_volumes (self->slice_view, self->input ? self->input->volume : NULL,
                             s ? s->volume : NULL, self->label_panel);
  update_actions (self);
}

/* The benchmark's 12-organ scheme (the built-in table or a file naming the same ids). */
static gboolean
is_organ_table (const LabelTable *t)
{
  if (t->entries->len == 0 || !lt_table_lookup (t, LT_PULMONARY_ARTERY))
    return FALSE;
  return g_array_index (t->entries, LabelEntry, t->entries->len - 1).id <= LT_N_ORGANS;
}

static void
set_input (ArWindow *self, ArScene *s)
{
  for (int i = 0; i < AR_N_RESULTS; i++)
    g_clear_pointer (&self->results[i], ar_result_unref);
  g_clear_pointer (&self->input, ar_scene_unref);
  self->input = s;
  self->result_unsaved = FALSE;
  ArRenderer *ri = ar_view_get_renderer (self->view_input);
  ar_renderer_clear (ri);
  ar_scene_add_to_renderer (s, ri);
  ar_label_panel_set_input (self->label_panel, s->table, s->hist, s->n_hist, s->ml_per_voxel,
                            is_organ_table (s->table));
  /* The torso's enclosing organs are shown see-through so the inner ones stay visible. */
  if (is_organ_table (s->table))
    {
      ar_label_panel_set_opacity (self->label_panel, LT_RIB_CAGE, 0.35);
      ar_label_panel_set_opacity (self->label_panel, LT_LUNG, 0.3);
      ar_label_panel_set_opacity (self->label_panel, LT_AUTOCHTHON, 0.6);
    }
  gtk_label_set_text (GTK_LABEL (self->subtitle), s->path);
  frame_both (self);
  ar_view_queue_quick_redraw (self->view_input);
  ar_window_compare_input_changed (self);
  ar_window_show_result (self, -1);
  self->t_loaded = g_get_monotonic_time ();
  /* A reference that goes with the input by name (the demo's complete map, or the
   * benchmark layout's sXXXX_full.nii.gz) is loaded in the background. */
  g_autofree char *ref = ar_window_guess_reference (s->path);
  if (ref)
    {
      g_autoptr (GFile) f = g_file_new_for_path (ref);
      ar_window_load_reference (self, f);
    }
}

static void
add_recent (const char *path)
{
  g_autofree char *uri = g_filename_to_uri (path, NULL, NULL);
  if (uri)
    gtk_recent_manager_add_item (gtk_recent_manager_get_default (), uri);
}

static void
open_done (GObject *source, GAsyncResult *res, gpointer data)
{
  g_autoptr (ArLoadJob) j = data;
  ArWindow *self = j->self;
  g_autoptr (GError) error = NULL;
  ArScene *s = ar_scene_load_finish (res, &error);
  end_job (self, j->job);
  if (!s)
    {
      if (!g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        {
          g_autofree char *base = g_path_get_basename (j->path);
          g_autofree char *primary = g_strdup_printf ("Cannot open “%s”", base);
          show_error (self, primary, error);
        }
      return;
    }
  set_input (self, s);
  add_recent (j->path);
}

void
ar_window_open (ArWindow *self, GFile *file)
{
  g_autofree char *path = g_file_get_path (file);
  if (!path)
    {
      g_autofree char *uri = g_file_get_uri (file);
      GError e = { G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED, (char *) "Only local files can be opened" };
      g_autofree char *primary = g_strdup_printf ("Cannot open “%s”", uri);
      show_error (self, primary, &e);
      return;
    }
  load_async (self, path, NULL, FALSE, open_done);
}

static char *
find_demo (const char *name)
{
  const char *dirs[] = { g_getenv ("AR_DATADIR"), AR_SOURCE_DATADIR, AR_INSTALL_DATADIR };
  for (gsize i = 0; i < G_N_ELEMENTS (dirs); i++)
    {
      if (!dirs[i])
        continue;
      char *p = g_build_filename (dirs[i], "demo", name, NULL);
      if (g_file_test (p, G_FILE_TEST_IS_REGULAR))
        return p;
      g_free (p);
    }
  return NULL;
}

gboolean
ar_window_open_demo (ArWindow *self)
{
  g_autofree char *p = find_demo ("demo_incomplete.nii.gz");
  if (!p)
    {
      GError e = { G_IO_ERROR, G_IO_ERROR_NOT_FOUND,
                   (char *) "demo/demo_incomplete.nii.gz is not installed in " AR_INSTALL_DATADIR };
      show_error (self, "Cannot open the demo case", &e);
      return FALSE;
    }
  g_autoptr (GFile) f = g_file_new_for_path (p);
  ar_window_open (self, f);
  return TRUE;
}

static void
result_loaded (GObject *source, GAsyncResult *res, gpointer data)
{
  g_autoptr (ArLoadJob) j = data;
  ArWindow *self = j->self;
  g_autoptr (GError) error = NULL;
  g_autoptr (ArScene) s = ar_scene_load_finish (res, &error);
  end_job (self, j->job);
  g_autofree char *base = g_path_get_basename (j->path);
  g_autofree char *primary = g_strdup_printf ("Cannot load “%s” as the completed result", base);
  if (!s)
    {
      if (!g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        show_error (self, primary, error);
      return;
    }
  if (!self->input || s->volume->nx != self->input->volume->nx || s->volume->ny != self->input->volume->ny
      || s->volume->nz != self->input->volume->nz)
    {
      GError e = { G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                   (char *) "its grid differs from the input's (the result must have the input's dimensions)" };
      show_error (self, primary, &e);
      return;
    }
  g_clear_pointer (&self->results[RESULT_FILE], ar_result_unref);
  self->results[RESULT_FILE] = ar_result_new (g_steal_pointer (&s));
  ar_window_show_result (self, RESULT_FILE);
}

void
ar_window_load_result (ArWindow *self, GFile *file)
{
  g_autofree char *path = g_file_get_path (file);
  if (path)
    load_async (self, path, NULL, TRUE, result_loaded);
}

/* ------------------------------------------------------------------------ */
/* Saving */

gboolean
ar_window_save_result_to (ArWindow *self, const char *path, GError **error)
{
  ArScene *s = self->shown_result != AR_RESULT_REFERENCE
                 ? ar_window_get_result_scene (self, self->shown_result) : NULL;
  if (!s)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED, "There is no completed result to save");
      return FALSE;
    }
  g_autoptr (GFile) a = g_file_new_for_path (path);
  g_autoptr (GFile) b = g_file_new_for_path (self->input->path);
  if (g_file_equal (a, b))
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_EXISTS,
                   "%s is the input label map: choose another name to keep the input", path);
      return FALSE;
    }
  /* The result keeps the input's geometry and header. */
  g_autoptr (LabelVolume) out = lv_volume_new_like (self->input->volume, s->volume->bytes_per_voxel);
  memcpy (out->data, s->volume->data, (gsize) lv_volume_n_voxels (out) * out->bytes_per_voxel);
  if (!nifti_write (out, path, NIFTI_WRITE_OVERWRITE, error))
    return FALSE;
  self->result_unsaved = FALSE;
  add_recent (path);
  return TRUE;
}

typedef enum { CHOOSE_OPEN, CHOOSE_RESULT, CHOOSE_REFERENCE, CHOOSE_SAVE, CHOOSE_MESH, CHOOSE_SHOT } ChooseKind;

static void
chooser_response (GtkNativeDialog *d, int response, ArWindow *self)
{
  ChooseKind kind = GPOINTER_TO_INT (g_object_get_data (G_OBJECT (d), "ar-kind"));
  g_autoptr (GFile) file = response == GTK_RESPONSE_ACCEPT ? gtk_file_chooser_get_file (GTK_FILE_CHOOSER (d)) : NULL;
  g_object_unref (d);
  if (!file)
    return;
  g_autofree char *path = g_file_get_path (file);
  g_autoptr (GError) error = NULL;
  g_autofree char *base = g_file_get_basename (file);
  switch (kind)
    {
    case CHOOSE_OPEN:
      ar_window_open (self, file);
      break;
    case CHOOSE_RESULT:
      ar_window_load_result (self, file);
      break;
    case CHOOSE_REFERENCE:
      ar_window_load_reference (self, file);
      break;
    case CHOOSE_SAVE:
      if (!ar_window_save_result_to (self, path, &error))
        {
          g_autofree char *p = g_strdup_printf ("Cannot save “%s”", base);
          show_error (self, p, error);
        }
      break;
    case CHOOSE_MESH:
      {
        ArScene *s = self->shown_result >= 0 ? ar_window_get_result_scene (self, self->shown_result) : self->input;
        MeshExportOptions o = { MESH_FORMAT_AUTO, TRUE, FALSE, self->input->table };
        if (!mesh_export (s->surfaces, path, &o, &error))
          {
            g_autofree char *p = g_strdup_printf ("Cannot export “%s”", base);
            show_error (self, p, error);
          }
      }
      break;
    case CHOOSE_SHOT:
      if (!ar_window_save_screenshot (self, TRUE, path, &error))
        {
          g_autofree char *p = g_strdup_printf ("Cannot save “%s”", base);
          show_error (self, p, error);
        }
      break;
    }
}

static void
choose (ArWindow *self, ChooseKind kind)
{
  static const char *titles[] = { "Open a Label Map", "Load a Completed Label Map",
                                  "Load a Reference (Complete) Label Map", "Save the Completed Label Map",
                                  "Export Meshes (OBJ, PLY or STL)", "Save a Screenshot" };
  gboolean save = kind >= CHOOSE_SAVE;
  GtkFileChooserNative *d = gtk_file_chooser_native_new (titles[kind], GTK_WINDOW (self),
                                                         save ? GTK_FILE_CHOOSER_ACTION_SAVE : GTK_FILE_CHOOSER_ACTION_OPEN,
                                                         save ? "_Save" : "_Open", "_Cancel");
  g_object_set_data (G_OBJECT (d), "ar-kind", GINT_TO_POINTER (kind));
  GtkFileFilter *f = gtk_file_filter_new ();
  if (kind <= CHOOSE_SAVE)
    {
      gtk_file_filter_set_name (f, "NIfTI label maps");
      gtk_file_filter_add_pattern (f, "*.nii");
      gtk_file_filter_add_pattern (f, "*.nii.gz");
      gtk_file_filter_add_pattern (f, "*.hdr");
    }
  else if (kind == CHOOSE_MESH)
    {
      gtk_file_filter_set_name (f, "Meshes");
      gtk_file_filter_add_pattern (f, "*.obj");
      gtk_file_filter_add_pattern (f, "*.ply");
      gtk_file_filter_add_pattern (f, "*.stl");
    }
  else
    {
      gtk_file_filter_set_name (f, "PNG images");
      gtk_file_filter_add_pattern (f, "*.png");
    }
  gtk_file_chooser_add_filter (GTK_FILE_CHOOSER (d), f);
  g_object_unref (f);
  if (save && self->input)
    {
      g_autofree char *stem = nifti_path_stem (self->input->path);
      g_autofree char *base = g_path_get_basename (stem);
      const char *suffix = kind == CHOOSE_SAVE ? "_completed.nii.gz" : kind == CHOOSE_MESH ? ".obj" : ".png";
      g_autofree char *name = g_strconcat (base, suffix, NULL);
      gtk_file_chooser_set_current_name (GTK_FILE_CHOOSER (d), name);
    }
  g_signal_connect (d, "response", G_CALLBACK (chooser_response), self);
  gtk_native_dialog_show (GTK_NATIVE_DIALOG (d));
}

/* ------------------------------------------------------------------------ */
/* Screenshot */

gboolean
ar_window_save_screenshot (ArWindow *self, gboolean views_only, const char *path, GError **error)
{
  GtkWidget *w = views_only ? self->views_stack : GTK_WIDGET (self);
  int width = gtk_widget_get_width (w), height = gtk_widget_get_height (w);
  if (width <= 0 || height <= 0)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED, "Cannot save %s: the window is not shown", path);
      return FALSE;
    }
  g_autoptr (GdkPaintable) p = gtk_widget_paintable_new (w);
  g_autoptr (GtkSnapshot) snap = gtk_snapshot_new ();
  gdk_paintable_snapshot (p, snap, width, height);
  g_autoptr (GskRenderNode) node = gtk_snapshot_free_to_node (g_steal_pointer (&snap));
  if (!node)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED, "Cannot save %s: nothing is drawn yet", path);
      return FALSE;
    }
  GskRenderer *r = gtk_native_get_renderer (gtk_widget_get_native (w));
  g_autoptr (GdkTexture) tex = gsk_renderer_render_texture (r, node, &GRAPHENE_RECT_INIT (0, 0, width, height));
  if (!tex || !gdk_texture_save_to_png (tex, path))
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED, "Cannot write %s", path);
      return FALSE;
    }
  return TRUE;
}

/* ------------------------------------------------------------------------ */
/* Completion */

static void
completion_meshed (GObject *source, GAsyncResult *res, gpointer data)
{
  g_autoptr (ArLoadJob) j = data;
  ArWindow *self = j->self;
  g_autoptr (GError) error = NULL;
  ArScene *s = ar_scene_load_finish (res, &error);
  end_job (self, j->job);
  int net = self->job_network;
  if (!s)
    {
      if (!g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        {
          show_error (self, "Cannot mesh the completed label map", error);
          ar_window_compare_completion_failed (self, net, error);
          ar_window_compare_next (self);
        }
      else
        self->compare_pending = 0;
      return;
    }
  g_clear_pointer (&self->results[net], ar_result_unref);
  self->results[net] = ar_result_new (s);
  self->results[net]->request = g_steal_pointer (&self->job_request);
  self->result_unsaved = TRUE;
  ar_window_compare_result_changed (self, net);
  if ((int) gtk_drop_down_get_selected (GTK_DROP_DOWN (self->network_dropdown)) == net
      && self->shown_result != AR_RESULT_REFERENCE)
    ar_window_show_result (self, net);
  ar_window_compare_next (self);
}

static void
completion_done (GObject *source, GAsyncResult *res, gpointer data)
{
  ArWindow *self = AR_WINDOW (data);
  GCancellable *job = g_task_get_cancellable (G_TASK (res));
  g_autoptr (GError) error = NULL;
  LabelVolume *v = ar_completion_run_finish (res, &error);
  end_job (self, job);
  if (!v)
    {
      if (!g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        {
          ar_window_compare_completion_failed (self, self->job_network, error);
          /* In a compare-all run the grid says what failed; the queue goes on. */
          if (!self->comparing)
            {
              g_autofree char *primary = g_strdup_printf ("Completion with %s failed",
                                                          ar_network_get_title (self->job_network));
              show_error (self, primary, error);
            }
          ar_window_compare_next (self);
        }
      else
        self->compare_pending = 0;
    }
  else if (self->input && !g_cancellable_is_cancelled (self->cancellable))
    /* Mesh the result off the main thread too. */
    load_async (self, self->input->path, v, TRUE, completion_meshed);
  else
    lv_volume_free (v);
  g_object_unref (self);
}

void
ar_window_start_completion (ArWindow *self, ArNetwork net)
{
  if (!self->input)
    return;
  g_autoptr (GArray) labels = ar_label_panel_dup_requested (self->label_panel);
  g_autofree char *what = g_strdup_printf ("%u organs with %s", labels->len, ar_network_get_title (net));
  g_autoptr (GCancellable) job = begin_job (self, what);
  g_atomic_int_set (&self->job_stage, STAGE_COMPLETE);
  g_atomic_int_set (&self->job_permille, 0);
  self->job_network = net;
  g_clear_pointer (&self->job_request, g_array_unref);
  self->job_request = g_array_ref (labels);
  g_clear_pointer (&self->net_error[net], g_free);
  ar_window_compare_result_changed (self, net);   /* the grid says "computing" */
  ar_completion_run_async (self->input->volume, net, (const int32_t *) labels->data, labels->len,
                           &self->job_permille, job, completion_done, g_object_ref (self));
}

static void
action_complete (GSimpleAction *a, GVariant *p, gpointer data)
{
  ArWindow *self = data;
  if (!self->input)
    return;
  self->compare_pending = 0;
  ar_window_start_completion (self, gtk_drop_down_get_selected (GTK_DROP_DOWN (self->network_dropdown)));
}

/* ------------------------------------------------------------------------ */
/* Actions */

static void
update_actions (ArWindow *self)
{
  GActionMap *m = G_ACTION_MAP (self);
  gboolean busy = ar_window_is_busy (self);
  gboolean has_result = self->shown_result >= 0;
  ArNetwork net = gtk_drop_down_get_selected (GTK_DROP_DOWN (self->network_dropdown));
  g_autofree char *reason = NULL;
  gboolean avail = ar_completion_is_available (net, &reason);
  g_simple_action_set_enabled (G_SIMPLE_ACTION (g_action_map_lookup_action (m, "complete")),
                               avail && self->input && !busy);
  gtk_widget_set_tooltip_text (self->complete_button,
                               avail ? "Reconstruct the ticked organs (Ctrl+Return)" : reason);
  g_simple_action_set_enabled (G_SIMPLE_ACTION (g_action_map_lookup_action (m, "save-result")), has_result);
  g_simple_action_set_enabled (G_SIMPLE_ACTION (g_action_map_lookup_action (m, "export-meshes")), self->input != NULL);
  g_simple_action_set_enabled (G_SIMPLE_ACTION (g_action_map_lookup_action (m, "load-result")), self->input && !busy);
  g_simple_action_set_enabled (G_SIMPLE_ACTION (g_action_map_lookup_action (m, "cancel")), busy);
  gboolean has_ref = self->results[AR_RESULT_REFERENCE] != NULL;
  g_simple_action_set_enabled (G_SIMPLE_ACTION (g_action_map_lookup_action (m, "save-result")),
                               has_result && self->shown_result != AR_RESULT_REFERENCE);
  g_simple_action_set_enabled (G_SIMPLE_ACTION (g_action_map_lookup_action (m, "load-reference")),
                               self->input != NULL);
  g_simple_action_set_enabled (G_SIMPLE_ACTION (g_action_map_lookup_action (m, "compare-all")),
                               self->input != NULL);
  g_simple_action_set_enabled (G_SIMPLE_ACTION (g_action_map_lookup_action (m, "show-reference")), has_ref);
  g_simple_action_set_enabled (G_SIMPLE_ACTION (g_action_map_lookup_action (m, "show-metrics")), has_ref);
  gtk_widget_set_visible (self->reference_button, has_ref);
  gtk_widget_set_tooltip_text (self->metrics_button,
                               has_ref ? "Per-organ volume and Dice against the reference (F8)"
                                       : "No reference label map is known: load one from the menu");
}

void
ar_window_update_actions (ArWindow *self)
{
  update_actions (self);
}

static void action_open (GSimpleAction *a, GVariant *p, gpointer d) { choose (d, CHOOSE_OPEN); }
static void action_load_result (GSimpleAction *a, GVariant *p, gpointer d) { choose (d, CHOOSE_RESULT); }
static void action_load_reference (GSimpleAction *a, GVariant *p, gpointer d) { choose (d, CHOOSE_REFERENCE); }
static void action_save_result (GSimpleAction *a, GVariant *p, gpointer d) { choose (d, CHOOSE_SAVE); }
static void action_export (GSimpleAction *a, GVariant *p, gpointer d) { choose (d, CHOOSE_MESH); }
static void action_screenshot (GSimpleAction *a, GVariant *p, gpointer d) { choose (d, CHOOSE_SHOT); }
static void action_open_demo (GSimpleAction *a, GVariant *p, gpointer d) { ar_window_open_demo (d); }

static void
action_open_recent (GSimpleAction *a, GVariant *p, gpointer d)
{
  g_autoptr (GFile) f = g_file_new_for_uri (g_variant_get_string (p, NULL));
  ar_window_open (d, f);
}

static void
action_cancel (GSimpleAction *a, GVariant *p, gpointer data)
{
  ArWindow *self = data;
  if (self->job_cancellable)
    g_cancellable_cancel (self->job_cancellable);
}

static void
redraw_views (ArWindow *self)
{
  guint n;
  ArView **views = ar_window_get_views (self, &n);
  for (guint i = 0; i < n; i++)
    ar_view_queue_redraw (views[i]);
}

static void
action_view (GSimpleAction *a, GVariant *p, gpointer data)
{
  ArWindow *self = data;
  ArStandardView v;
  if (ar_standard_view_from_string (g_variant_get_string (p, NULL), &v))
    ar_camera_set_view (&self->camera, v);
  redraw_views (self);
}

static void
action_reset (GSimpleAction *a, GVariant *p, gpointer data)
{
  ArWindow *self = data;
  ar_camera_reset (&self->camera);
  redraw_views (self);
}

static void
slices_changed (GSimpleAction *a, GVariant *state, gpointer data)
{
  ArWindow *self = data;
  g_simple_action_set_state (a, state);
  gtk_revealer_set_reveal_child (GTK_REVEALER (self->slice_revealer), g_variant_get_boolean (state));
}

static gboolean
turntable (GtkWidget *w, GdkFrameClock *clock, gpointer data)
{
  ArWindow *self = data;
  gint64 now = gdk_frame_clock_get_frame_time (clock);
  if (self->turntable_last)
    {
      float dt = (float) ((now - self->turntable_last) / 1e6);
      ar_camera_rotate (&self->camera, dt * 0.35f, 0.f);  /* one turn in 18 s */
      redraw_views (self);
    }
  self->turntable_last = now;
  return G_SOURCE_CONTINUE;
}

static void
set_presenting (ArWindow *self, gboolean on)
{
  if (on == self->presenting)
    return;
  self->presenting = on;
  gtk_widget_set_visible (gtk_paned_get_start_child (GTK_PANED (self->paned)), !on);
  if (on)
    {
      gtk_window_fullscreen (GTK_WINDOW (self));
      self->turntable_last = 0;
      self->turntable_tick = gtk_widget_add_tick_callback (GTK_WIDGET (self), turntable, self, NULL);
    }
  else
    {
      gtk_window_unfullscreen (GTK_WINDOW (self));
      if (self->turntable_tick)
        gtk_widget_remove_tick_callback (GTK_WIDGET (self), self->turntable_tick);
      self->turntable_tick = 0;
    }
  guint n;
  ArView **views = ar_window_get_views (self, &n);
  for (guint i = 0; i < n; i++)
    ar_view_set_interactive (views[i], FALSE);
}

static void
action_presentation (GSimpleAction *a, GVariant *p, gpointer data)
{
  ArWindow *self = data;
  set_presenting (self, !self->presenting);
}

static void
action_escape (GSimpleAction *a, GVariant *p, gpointer data)
{
  ArWindow *self = data;
  if (self->presenting)
    set_presenting (self, FALSE);
  else if (self->job_cancellable)
    g_cancellable_cancel (self->job_cancellable);
}

static const GActionEntry win_actions[] = {
  { "open", action_open }, { "open-demo", action_open_demo },
  { "open-recent", action_open_recent, "s" },
  { "load-result", action_load_result }, { "load-reference", action_load_reference },
  { "save-result", action_save_result },
  { "export-meshes", action_export }, { "screenshot", action_screenshot },
  { "complete", action_complete }, { "cancel", action_cancel }, { "escape", action_escape },
  { "view", action_view, "s" }, { "reset-camera", action_reset },
  { "show-slices", NULL, NULL, "false", slices_changed },
  { "presentation", action_presentation },
};

static void
populate_recent (ArWindow *self)
{
  g_menu_remove_all (self->recent_menu);
  GList *items = gtk_recent_manager_get_items (gtk_recent_manager_get_default ());
  int n = 0;
  for (GList *l = items; l && n < 8; l = l->next)
    {
      GtkRecentInfo *info = l->data;
      const char *uri = gtk_recent_info_get_uri (info);
      g_autofree char *path = g_filename_from_uri (uri, NULL, NULL);
      if (!path || !nifti_path_is_supported (path) || !gtk_recent_info_exists (info))
        continue;
      g_autofree char *base = g_path_get_basename (path);
      g_autoptr (GMenuItem) it = g_menu_item_new (base, NULL);
      g_menu_item_set_action_and_target_value (it, "win.open-recent", g_variant_new_string (uri));
      g_menu_append_item (self->recent_menu, it);
      n++;
    }
  g_list_free_full (items, (GDestroyNotify) gtk_recent_info_unref);
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
  apply_styles (self);
  ArScene *shown = ar_window_get_result_scene (self, self->shown_result);
  ar_slice_view_set_volumes (self->slice_view, self->input ? self->input->volume : NULL,
                             shown ? shown->volume : NULL, self->label_panel);
}

gboolean
ar_window_result_is_current (ArWindow *self, ArNetwork net)
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

static void
network_changed (GObject *dd, GParamSpec *p, ArWindow *self)
{
  int net = gtk_drop_down_get_selected (GTK_DROP_DOWN (dd));
  /* Each network's result is kept: switching shows it at once. */
  if (self->shown_result == AR_RESULT_REFERENCE)
    ;  /* the reference stays until its toggle is released */
  else if (ar_window_result_is_current (self, net))
    ar_window_show_result (self, net);
  else if (self->shown_result != RESULT_FILE)
    ar_window_show_result (self, -1);
  update_actions (self);
}

static gboolean
drop_file (GtkDropTarget *t, const GValue *value, double x, double y, ArWindow *self)
{
  if (G_VALUE_HOLDS (value, GDK_TYPE_FILE_LIST))
    {
      GSList *files = g_value_get_boxed (value);
      if (files)
        ar_window_open (self, files->data);
      return files != NULL;
    }
  return FALSE;
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
    choose (self, CHOOSE_SAVE);
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
  for (int i = 0; i < AR_N_NETWORKS; i++)
    g_free (self->net_error[i]);
  g_free (self->job_text);
  g_clear_pointer (&self->job_request, g_array_unref);
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
  g_action_map_add_action_entries (G_ACTION_MAP (self), win_actions, G_N_ELEMENTS (win_actions), self);
  g_action_map_add_action_entries (G_ACTION_MAP (self), ar_window_compare_actions,
                                   (int) ar_window_n_compare_actions, self);
  ar_window_compare_init (self);
  frame_both (self);
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
  g_signal_connect_object (gtk_recent_manager_get_default (), "changed", G_CALLBACK (populate_recent), self,
                           G_CONNECT_SWAPPED);

  GtkDropTarget *drop = gtk_drop_target_new (GDK_TYPE_FILE_LIST, GDK_ACTION_COPY);
  g_signal_connect (drop, "drop", G_CALLBACK (drop_file), self);
  gtk_widget_add_controller (GTK_WIDGET (self), GTK_EVENT_CONTROLLER (drop));

  populate_recent (self);
  update_actions (self);
  ar_window_show_result (self, -1);
}

ArWindow *
ar_window_new (GtkApplication *app)
{
  return g_object_new (AR_TYPE_WINDOW, "application", app, NULL);
}
