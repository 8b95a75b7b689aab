/* ar-window-actions.c: ArWindow's actions (the win.* action group), their enabled states,
 * the file choosers they open, presentation mode and the recent-files menu. */
#include "ar-window-private.h"

#include "label-file.h"

#include <string.h>

/* ------------------------------------------------------------------------ */
/* File choosers */

gboolean
ar_window_export_meshes_to (ArWindow *self, const char *path, GError **error)
{
  /* each mesh is named by its label's name in the source scheme (the result's names
   * include those of the organs it added) */
  ArScene *s = self->shown_result >= 0 ? ar_window_get_result_scene (self, self->shown_result) : self->input;
  if (!s)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED, "There are no meshes to export");
      return FALSE;
    }
  g_autoptr (OutSet) outputs = ar_window_outputs_new (self, TRUE);
  MeshExportOptions o = { .overwrite = TRUE, .table = s->table ? s->table : self->input->table, .outputs = outputs };
  return mesh_export (s->surfaces, path, &o, error) && out_set_commit (outputs, error);
}

static void
chooser_response (GtkNativeDialog *d, int response, ArWindow *self)
{
  ArChooseKind kind = GPOINTER_TO_INT (g_object_get_data (G_OBJECT (d), "ar-kind"));
  g_autoptr (GFile) file = response == GTK_RESPONSE_ACCEPT ? gtk_file_chooser_get_file (GTK_FILE_CHOOSER (d)) : NULL;
  g_object_unref (d);
  if (!file)
    return;
  g_autofree char *path = g_file_get_path (file);
  g_autoptr (GError) error = NULL;
  g_autofree char *base = g_file_get_basename (file);
  gboolean ok = TRUE;
  const char *verb = "save";
  switch (kind)
    {
    case AR_CHOOSE_OPEN:
    case AR_CHOOSE_OPEN_FOLDER:
      ar_window_open (self, file);
      break;
    case AR_CHOOSE_RESULT:
      ar_window_load_result (self, file);
      break;
    case AR_CHOOSE_REFERENCE:
      ar_window_load_reference (self, file);
      break;
    case AR_CHOOSE_SAVE:
      ok = path && ar_window_save_result_to (self, path, &error);
      break;
    case AR_CHOOSE_MESH:
      verb = "export";
      ok = path && ar_window_export_meshes_to (self, path, &error);
      break;
    case AR_CHOOSE_SHOT:
      ok = path && ar_window_save_screenshot (self, TRUE, path, &error);
      break;
    case AR_CHOOSE_METRICS:
      /* the file chooser asked before replacing a file */
      ok = path && ar_window_save_metrics_csv (self, path, TRUE, &error);
      break;
    }
  if (!ok)
    {
      g_autofree char *primary = g_strdup_printf ("Cannot %s “%s”", verb, base);
      if (error == NULL)
        g_set_error_literal (&error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED, "not a local file");
      ar_window_show_error (self, primary, error);
    }
}

/* Adds a filter called @name for the file name @patterns (NULL-terminated) to @d. */
static void
add_filter (GtkFileChooser *d, const char *name, const char *const *patterns)
{
  GtkFileFilter *f = gtk_file_filter_new ();
  gtk_file_filter_set_name (f, name);
  for (int i = 0; patterns[i]; i++)
    gtk_file_filter_add_pattern (f, patterns[i]);
  gtk_file_chooser_add_filter (d, f);
  g_object_unref (f);
}

/* The file name a result of the input is saved under by default: in the input's format
 * ("case.seg.nrrd" -> "case_completed.seg.nrrd"; a mask folder -> "<folder>_completed"). */
static char *
completed_name (const char *input)
{
  g_autofree char *stem = label_file_path_stem (input);
  g_autofree char *base = g_path_get_basename (stem);
  g_autofree char *in_base = g_path_get_basename (input);
  const char *ext = g_file_test (input, G_FILE_TEST_IS_DIR) ? "" : in_base + strlen (base);
  if (!*ext && !g_file_test (input, G_FILE_TEST_IS_DIR))
    ext = ".nii.gz";
  return g_strconcat (base, "_completed", ext, NULL);
}

void
ar_window_choose (ArWindow *self, ArChooseKind kind)
{
  static const char *titles[] = { "Open a Label Map", "Open a Folder of Masks (TotalSegmentator segmentations)",
                                  "Load a Completed Label Map", "Load a Reference (Complete) Label Map",
                                  "Save the Completed Label Map", "Export Meshes (OBJ, PLY or STL)",
                                  "Save a Screenshot", "Save the Comparison Table as CSV" };
  static const char *const label_maps[] = { "*.nii", "*.nii.gz", "*.hdr", "*.img", "*.img.gz", "*.nrrd",
                                            "*.seg.nrrd", "*.nhdr", NULL };
  static const char *const nifti[] = { "*.nii", "*.nii.gz", "*.hdr", "*.img", "*.img.gz", NULL };
  static const char *const nrrd[] = { "*.nrrd", "*.nhdr", NULL };
  static const char *const seg_nrrd[] = { "*.seg.nrrd", NULL };
  static const char *const meshes[] = { "*.obj", "*.ply", "*.stl", NULL };
  static const char *const png[] = { "*.png", NULL };
  static const char *const csv[] = { "*.csv", NULL };
  static const char *const all[] = { "*", NULL };
  gboolean save = kind >= AR_CHOOSE_SAVE;
  GtkFileChooserAction action = save ? GTK_FILE_CHOOSER_ACTION_SAVE
                                : kind == AR_CHOOSE_OPEN_FOLDER ? GTK_FILE_CHOOSER_ACTION_SELECT_FOLDER
                                : GTK_FILE_CHOOSER_ACTION_OPEN;
  GtkFileChooserNative *d = gtk_file_chooser_native_new (titles[kind], GTK_WINDOW (self), action,
                                                         save ? "_Save" : "_Open", "_Cancel");
  GtkFileChooser *fc = GTK_FILE_CHOOSER (d);
  g_object_set_data (G_OBJECT (d), "ar-kind", GINT_TO_POINTER (kind));
  if (kind == AR_CHOOSE_OPEN_FOLDER)
    ;  /* folders only: no file filter */
  else if (kind <= AR_CHOOSE_SAVE)
    {
      add_filter (fc, "Label maps (NIfTI, NRRD, 3D Slicer)", label_maps);
      add_filter (fc, "NIfTI (.nii, .nii.gz, .hdr)", nifti);
      add_filter (fc, "NRRD (.nrrd, .nhdr)", nrrd);
      add_filter (fc, "3D Slicer segmentations (.seg.nrrd)", seg_nrrd);
      add_filter (fc, "All files", all);
    }
  else if (kind == AR_CHOOSE_MESH)
    add_filter (fc, "Meshes (OBJ, PLY, STL)", meshes);
  else if (kind == AR_CHOOSE_METRICS)
    add_filter (fc, "CSV (.csv)", csv);
  else
    add_filter (fc, "PNG images", png);
  if (save && self->input)
    {
      g_autofree char *name = NULL;
      if (kind == AR_CHOOSE_SAVE)
        name = completed_name (self->input->path);
      else
        {
          g_autofree char *stem = label_file_path_stem (self->input->path);
          g_autofree char *base = g_path_get_basename (stem);
          name = g_strconcat (base, kind == AR_CHOOSE_MESH ? ".obj" : kind == AR_CHOOSE_METRICS ? "_comparison.csv" : ".png",
                              NULL);
        }
      gtk_file_chooser_set_current_name (fc, name);
    }
  g_signal_connect (d, "response", G_CALLBACK (chooser_response), self);
  gtk_native_dialog_show (GTK_NATIVE_DIALOG (d));
}

/* ------------------------------------------------------------------------ */
/* Actions */

static void
action_complete (GSimpleAction *a, GVariant *p, gpointer data)
{
  ArWindow *self = data;
  if (!self->input)
    return;
  self->compare_pending = 0;
  ar_window_start_completion (self, gtk_drop_down_get_selected (GTK_DROP_DOWN (self->network_dropdown)));
}

static void
enable (ArWindow *self, const char *action, gboolean enabled)
{
  GAction *a = g_action_map_lookup_action (G_ACTION_MAP (self), action);
  g_simple_action_set_enabled (G_SIMPLE_ACTION (a), enabled);
}

void
ar_window_update_actions (ArWindow *self)
{
  gboolean busy = ar_window_is_busy (self);
  gboolean has_result = self->shown_result >= 0;
  NnArch net = gtk_drop_down_get_selected (GTK_DROP_DOWN (self->network_dropdown));
  g_autofree char *reason = NULL;
  gboolean avail = ar_completion_is_available (net, &reason);
  /* a file whose label scheme is unknown opens, but nothing of it can be completed */
  gboolean known = !self->input || self->input->scheme;
  if (avail && !known)
    {
      g_autofree char *problem = ar_window_dup_scheme_problem (self);
      g_free (reason);
      reason = g_strdup_printf ("No organ can be completed: %s. Choose the label scheme in the organ panel.",
                                problem);
    }
  /* a known scheme, but nothing to complete from or nothing missing (the panel says so) */
  const char *none = avail && known && self->input ? ar_label_panel_get_completion_problem (self->label_panel) : NULL;
  if (none)
    {
      g_free (reason);
      reason = g_strdup_printf ("%s.", none);
    }
  enable (self, "complete", avail && known && !none && self->input && !busy);
  gtk_widget_set_tooltip_text (self->complete_button,
                               avail && known && !none ? "Reconstruct the ticked organs (Ctrl+Return)" : reason);
  gboolean has_ref = self->results[AR_RESULT_REFERENCE] != NULL;
  enable (self, "save-result", has_result && self->shown_result != AR_RESULT_REFERENCE);
  enable (self, "export-meshes", self->input != NULL);
  enable (self, "load-result", self->input && !busy);
  enable (self, "cancel", busy);
  enable (self, "load-reference", self->input != NULL);
  enable (self, "compare-all", self->input != NULL);
  enable (self, "show-reference", has_ref);
  enable (self, "show-metrics", has_ref);
  gtk_widget_set_visible (self->reference_button, has_ref);
  gtk_widget_set_tooltip_text (self->metrics_button,
                               has_ref ? "Per-organ Dice, HD95 and volume difference against the reference (F8)"
                                       : "No reference label map is known: load one from the menu");
}

static void action_open (GSimpleAction *a, GVariant *p, gpointer d) { ar_window_choose (d, AR_CHOOSE_OPEN); }
static void action_open_folder (GSimpleAction *a, GVariant *p, gpointer d) { ar_window_choose (d, AR_CHOOSE_OPEN_FOLDER); }
static void action_load_result (GSimpleAction *a, GVariant *p, gpointer d) { ar_window_choose (d, AR_CHOOSE_RESULT); }
static void action_load_reference (GSimpleAction *a, GVariant *p, gpointer d) { ar_window_choose (d, AR_CHOOSE_REFERENCE); }
static void action_save_result (GSimpleAction *a, GVariant *p, gpointer d) { ar_window_choose (d, AR_CHOOSE_SAVE); }
static void action_export (GSimpleAction *a, GVariant *p, gpointer d) { ar_window_choose (d, AR_CHOOSE_MESH); }
static void action_screenshot (GSimpleAction *a, GVariant *p, gpointer d) { ar_window_choose (d, AR_CHOOSE_SHOT); }
static void action_open_demo (GSimpleAction *a, GVariant *p, gpointer d) { ar_window_open_demo (d); }

static void
action_open_recent (GSimpleAction *a, GVariant *p, gpointer d)
{
  g_autoptr (GFile) f = g_file_new_for_uri (g_variant_get_string (p, NULL));
  ar_window_open (d, f);
}

/* Cancel ends the job at once: the window is free again whatever the worker is doing (a
 * read that takes long to notice), and the worker's result, when it comes, is dropped
 * (its task reports the cancellation).  The background reference load goes too. */
static void
cancel_jobs (ArWindow *self)
{
  if (self->job_cancellable)
    {
      GCancellable *job = self->job_cancellable;
      g_cancellable_cancel (job);
      ar_window_end_job (self, job);
    }
  if (self->reference_job)
    {
      g_cancellable_cancel (self->reference_job);
      g_clear_object (&self->reference_job);
    }
  ar_window_update_actions (self);
}

static void
action_cancel (GSimpleAction *a, GVariant *p, gpointer data)
{
  cancel_jobs (data);
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
  else if (ar_window_is_busy (self))
    cancel_jobs (self);
}

static const GActionEntry win_actions[] = {
  { "open", action_open }, { "open-folder", action_open_folder }, { "open-demo", action_open_demo },
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
      if (!path || !(label_file_path_is_supported (path) || g_file_test (path, G_FILE_TEST_IS_DIR))
          || !gtk_recent_info_exists (info))
        continue;
      g_autofree char *base = g_path_get_basename (path);
      g_autoptr (GMenuItem) it = g_menu_item_new (base, NULL);
      g_menu_item_set_action_and_target_value (it, "win.open-recent", g_variant_new_string (uri));
      g_menu_append_item (self->recent_menu, it);
      n++;
    }
  g_list_free_full (items, (GDestroyNotify) gtk_recent_info_unref);
}

void
ar_window_actions_init (ArWindow *self)
{
  g_action_map_add_action_entries (G_ACTION_MAP (self), win_actions, G_N_ELEMENTS (win_actions), self);
  g_signal_connect_object (gtk_recent_manager_get_default (), "changed", G_CALLBACK (populate_recent), self,
                           G_CONNECT_SWAPPED);
  populate_recent (self);
}
