/* ar-window-load.c: ArWindow's files and background work: opening a label map (the input,
 * a completed result), the demo case, completing with a network and meshing its result,
 * saving the result and screenshots.  Workers never touch widgets: they build ArScenes
 * (scene.h) that the callbacks show. */
#include "ar-window-private.h"

#include <string.h>

#include "label-file.h"

#define SMOOTH_ITERATIONS 15

/* ------------------------------------------------------------------------ */
/* Loading: the worker builds an ArScene, the callbacks show it */

void
ar_load_job_free (ArLoadJob *j)
{
  g_clear_object (&j->self);
  g_free (j->path);
  g_free (j->scheme);
  g_clear_object (&j->job);
  g_free (j);
}

void
ar_window_load_scene_async (ArWindow *self, const char *path, LabelVolume *volume,
                            gboolean find_table, const char *scheme, const LabelTable *table,
                            GCancellable *job, gint *stage, GAsyncReadyCallback callback)
{
  ArLoadJob *j = g_new0 (ArLoadJob, 1);
  j->self = g_object_ref (self);
  j->path = g_strdup (path);
  j->scheme = g_strdup (scheme);
  j->job = job ? g_object_ref (job) : NULL;
  const ArSceneOptions opts = { .smooth_iterations = SMOOTH_ITERATIONS, .find_table = find_table,
                                .scheme = scheme, .table = table, .stage = stage };
  ar_scene_load_async (path, volume, &opts, job, callback, j);
}

/* With the progress bar.  An input is read in label scheme @scheme (NULL: detected); a
 * result has the names of @table (a completion's output), or else its input's. */
static void
load_async (ArWindow *self, const char *path, LabelVolume *volume, gboolean is_result,
            const char *scheme, const LabelTable *table, GAsyncReadyCallback cb)
{
  g_autofree char *base = g_path_get_basename (path);
  g_autoptr (GCancellable) job = ar_window_begin_job (self, base);
  ar_window_load_scene_async (self, path, volume, !is_result, is_result ? NULL : scheme, table, job,
                              &self->job_stage, cb);
}

static void
set_input (ArWindow *self, ArScene *s)
{
  for (int i = 0; i < AR_N_RESULTS; i++)
    g_clear_pointer (&self->results[i], ar_result_unref);
  /* A new input leaves the compare-all grid for its two views, and nothing runs until
   * the user asks (its organs may differ: the old ticks mean nothing for it). */
  if (self->comparing)
    {
      g_action_group_change_action_state (G_ACTION_GROUP (self), "compare-all", g_variant_new_boolean (FALSE));
      /* the table Compare All opened was the old input's */
      g_action_group_change_action_state (G_ACTION_GROUP (self), "show-metrics", g_variant_new_boolean (FALSE));
    }
  g_clear_pointer (&self->input, ar_scene_unref);
  self->input = s;
  self->result_unsaved = FALSE;
  ArRenderer *ri = ar_view_get_renderer (self->view_input);
  ar_renderer_clear (ri);
  ar_scene_add_to_renderer (s, ri);
  ar_window_show_input_organs (self);
  gtk_label_set_text (GTK_LABEL (self->subtitle), s->path);
  /* the file's name in the window's title too (window lists, a second launch's check) */
  g_autofree char *base = g_path_get_basename (s->path);
  g_autofree char *title = g_strdup_printf ("%s — 3D Anatomy Reconstruction", base);
  gtk_window_set_title (GTK_WINDOW (self), title);
  ar_window_frame_input (self);
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
  ar_window_end_job (self, j->job);
  if (!s)
    {
      if (!g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        {
          g_autofree char *base = g_path_get_basename (j->path);
          g_autofree char *primary = g_strdup_printf ("Cannot open “%s”", base);
          ar_window_show_error (self, primary, error);
        }
      return;
    }
  g_free (self->scheme_request);
  self->scheme_request = g_steal_pointer (&j->scheme);
  set_input (self, s);
  add_recent (j->path);
  /* what the reader accepted but looks wrong (a singular sform replaced, absurd voxels) */
  if (s->read_warnings && *s->read_warnings)
    {
      g_autofree char *base = g_path_get_basename (j->path);
      g_autofree char *primary = g_strdup_printf ("“%s” was opened, but check it", base);
      GError e = { G_IO_ERROR, G_IO_ERROR_INVALID_DATA, s->read_warnings };
      ar_window_show_error (self, primary, &e);
    }
}

/* Opens @file (a label map, or a folder of masks) in label scheme @scheme (NULL: detected). */
static void
open_in_scheme (ArWindow *self, GFile *file, const char *scheme)
{
  g_autofree char *path = g_file_get_path (file);
  if (!path)
    {
      g_autofree char *uri = g_file_get_uri (file);
      GError e = { G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED, (char *) "Only local files can be opened" };
      g_autofree char *primary = g_strdup_printf ("Cannot open “%s”", uri);
      ar_window_show_error (self, primary, &e);
      return;
    }
  load_async (self, path, NULL, FALSE, scheme, NULL, open_done);
}

void
ar_window_open (ArWindow *self, GFile *file)
{
  open_in_scheme (self, file, NULL);
}

void
ar_window_reload_input (ArWindow *self, const char *scheme)
{
  if (!self->input)
    return;
  g_autoptr (GFile) f = g_file_new_for_path (self->input->path);
  open_in_scheme (self, f, scheme);
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
      ar_window_show_error (self, "Cannot open the demo case", &e);
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
  ar_window_end_job (self, j->job);
  g_autofree char *base = g_path_get_basename (j->path);
  g_autofree char *primary = g_strdup_printf ("Cannot load “%s” as the completed result", base);
  if (!s)
    {
      if (!g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        ar_window_show_error (self, primary, error);
      return;
    }
  if (!self->input || s->volume->nx != self->input->volume->nx || s->volume->ny != self->input->volume->ny
      || s->volume->nz != self->input->volume->nz)
    {
      GError e = { G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                   (char *) "its grid differs from the input's (the result must have the input's dimensions)" };
      ar_window_show_error (self, primary, &e);
      return;
    }
  g_clear_pointer (&self->results[AR_RESULT_FILE], ar_result_unref);
  self->results[AR_RESULT_FILE] = ar_result_new (g_steal_pointer (&s));
  ar_window_show_result (self, AR_RESULT_FILE);
}

void
ar_window_load_result (ArWindow *self, GFile *file)
{
  g_autofree char *path = g_file_get_path (file);
  if (path)
    load_async (self, path, NULL, TRUE, NULL, NULL, result_loaded);
}

/* ------------------------------------------------------------------------ */
/* Saving */

OutSet *
ar_window_outputs_new (ArWindow *self, gboolean overwrite)
{
  OutSet *o = out_set_new (overwrite);
  if (self->input)
    {
      label_file_add_inputs (o, self->input->path);
      if (self->input->table)
        out_set_add_input (o, self->input->table->source);
    }
  for (int i = 0; i < AR_N_RESULTS; i++)
    if (self->results[i])
      label_file_add_inputs (o, self->results[i]->scene->path);
  return o;
}

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
  /* never over the input (by device and inode: also through a link), the reference or a
   * loaded result */
  g_autoptr (OutSet) outputs = ar_window_outputs_new (self, TRUE);
  /* The result keeps the input's geometry and header, and is written in the label scheme
   * of the input with the names of its ids (the completion's, else the input's), in the
   * format of @path: NIfTI, NRRD, .seg.nrrd or a mask folder. */
  /* a network's result: only the organs the user accepted */
  ArResult *r = self->results[self->shown_result];
  int left_out = 0;
  g_autoptr (LabelVolume) out = ar_window_review_dup_saved (self, r, &left_out);
  if (r->decisions && left_out == (int) g_hash_table_size (r->decisions) && left_out > 0)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED,
                   "No proposed organ is accepted yet: accept the organs to keep (Accept All, Ctrl+Shift+A, or "
                   "the ✓ of each organ, A on its row) before saving");
      return FALSE;
    }
  const ArScene *in = self->input;
  const LabelTable *names = s->table ? s->table : in->table;
  /* a 3D Slicer file whose scheme came from its segment IDs, saved as .seg.nrrd: the
   * segments keep their display names and IDs, an added one takes the scheme's name for
   * both (elsewhere the IDs, TotalSegmentator's names, are the names written) */
  g_autoptr (LabelTable) shown = NULL;
  g_autoptr (LabelTable) ids = NULL;
  if (s->table && in->segment_ids && in->names && in->scheme_names == in->segment_ids
      && label_file_format_from_path (path) == LABEL_FILE_FORMAT_SEG_NRRD)
    {
      shown = lt_table_new (in->names->source);
      ids = lt_table_new (in->segment_ids->source);
      for (guint i = 0; i < s->table->entries->len; i++)
        {
          const LabelEntry *e = &g_array_index (s->table->entries, LabelEntry, i);
          const LabelEntry *own = lt_table_lookup (in->names, e->id);
          lt_table_set (shown, e->id, own ? own->name : e->name, own ? own->rgba : e->rgba);
          lt_table_set (ids, e->id, e->name, e->rgba);
        }
      names = shown;
    }
  /* from a mask folder to a folder: its masks are kept (copied, or with the added voxels) */
  const LabelFileWriteOptions wo = { .like_path = in->path, .like = in->volume, .segment_ids = ids };
  if (!label_file_write_full_in (outputs, out, names, path, &wo, error) || !out_set_commit (outputs, error))
    return FALSE;
  self->result_unsaved = FALSE;
  add_recent (path);
  return TRUE;
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
  g_autoptr (GBytes) png = tex ? gdk_texture_save_to_png_bytes (tex) : NULL;
  if (!png)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED, "Cannot write %s", path);
      return FALSE;
    }
  /* written like every other output: a temporary, then moved in; never over an input */
  g_autoptr (OutSet) outputs = ar_window_outputs_new (self, TRUE);
  OutFile *f = out_set_open (outputs, path, OUT_FILE_PLAIN, error);
  return f && out_file_write (f, g_bytes_get_data (png, NULL), g_bytes_get_size (png), error)
         && out_set_commit (outputs, error);
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
  ar_window_end_job (self, j->job);
  int net = self->job_network;
  if (!s)
    {
      if (!g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        {
          ar_window_show_error (self, "Cannot mesh the completed label map", error);
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
  ar_window_review_adopt (self, self->results[net], g_steal_pointer (&self->job_probs));
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
  g_autoptr (LabelTable) names = NULL;
  g_autoptr (CompletionProbs) probs = NULL;
  LabelVolume *v = ar_completion_run_finish (res, &names, &probs, &error);
  ar_window_end_job (self, job);
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
              ar_window_show_error (self, primary, error);
            }
          ar_window_compare_next (self);
        }
      else
        self->compare_pending = 0;
    }
  else if (self->input && !g_cancellable_is_cancelled (self->cancellable))
    {
      /* Mesh the result off the main thread too. */
      g_clear_pointer (&self->job_probs, completion_probs_free);
      self->job_probs = g_steal_pointer (&probs);
      load_async (self, self->input->path, v, TRUE, NULL, names, completion_meshed);
    }
  else
    lv_volume_free (v);
  g_object_unref (self);
}

void
ar_window_start_completion (ArWindow *self, NnArch net)
{
  if (!self->input)
    return;
  g_autoptr (GArray) labels = ar_label_panel_dup_requested (self->label_panel);
  g_autofree char *what = g_strdup_printf ("%u organs with %s", labels->len, ar_network_get_title (net));
  g_autoptr (GCancellable) job = ar_window_begin_job (self, what);
  g_atomic_int_set (&self->job_stage, AR_JOB_COMPLETING);
  g_atomic_int_set (&self->job_permille, 0);
  self->job_network = net;
  g_clear_pointer (&self->job_request, g_array_unref);
  self->job_request = g_array_ref (labels);
  g_clear_pointer (&self->net_error[net], g_free);
  ar_window_compare_result_changed (self, net);   /* the grid says "computing" */
  ar_completion_run_async (self->input, net, (const int32_t *) labels->data, labels->len,
                           &self->job_permille, job, completion_done, g_object_ref (self));
}
