/* scene.c: loading a label map into a drawable scene (see scene.h). */
#include "scene.h"

#include "label-file.h"
#include "label-folder.h"

ArScene *
ar_scene_ref (ArScene *s)
{
  g_atomic_int_inc (&s->refs);
  return s;
}

void
ar_scene_unref (ArScene *s)
{
  if (!s || !g_atomic_int_dec_and_test (&s->refs))
    return;
  g_free (s->path);
  g_clear_pointer (&s->volume, lv_volume_free);
  g_clear_pointer (&s->table, lt_table_free);
  g_clear_error (&s->table_error);
  g_free (s->read_warnings);
  g_free (s->hist);
  g_clear_pointer (&s->surfaces, surface_set_free);
  g_clear_pointer (&s->meshes, g_ptr_array_unref);
  g_free (s);
}

static void
set_stage (const ArSceneOptions *opts, ArSceneStage stage)
{
  if (opts->stage)
    g_atomic_int_set (opts->stage, stage);
}

/* Takes @e: cancellation is one error whatever stage noticed it; others name the file. */
static ArScene *
fail (GError **error, GError *e, const char *path)
{
  if (g_error_matches (e, MESH_ERROR, MESH_ERROR_CANCELLED))
    {
      g_clear_error (&e);
      g_set_error (&e, G_IO_ERROR, G_IO_ERROR_CANCELLED, "Loading %s was cancelled", path);
    }
  else if (e->domain == MESH_ERROR)
    g_prefix_error (&e, "%s: ", path);
  g_propagate_error (error, e);
  return NULL;
}

ArScene *
ar_scene_load (const char *path, LabelVolume *volume, const ArSceneOptions *opts_in,
               GCancellable *cancellable, GError **error)
{
  const ArSceneOptions opts = opts_in ? *opts_in : (ArSceneOptions) { 0 };
  GError *e = NULL;
  g_autoptr (ArScene) s = g_new0 (ArScene, 1);
  s->refs = 1;
  s->path = g_strdup (path);
  gint64 t0 = g_get_monotonic_time ();
  set_stage (&opts, AR_SCENE_STAGE_READ);
  /* any label file (NIfTI, NRRD, .seg.nrrd, a mask folder), with the names it carries */
  g_autoptr (LabelTable) own = NULL;
  s->volume = volume ? volume : label_file_read (path, 0, &own, &s->read_warnings, error);
  if (!s->volume || g_cancellable_set_error_if_cancelled (cancellable, error))
    return NULL;
  if (opts.find_table)
    {
      set_stage (&opts, AR_SCENE_STAGE_TABLE);
      /* a table beside the file, else the file's own names (a mask folder: only those) */
      if (volume != NULL)
        s->table = lt_table_find_for_volume (path, s->volume, NULL, &s->table_error);
      else if (!label_folder_path_is_folder (path))
        s->table = lt_table_find_for_volume (path, NULL, NULL, &s->table_error);
      if (!s->table && own)
        s->table = g_steal_pointer (&own);
      if (!s->table)
        s->table = lt_table_new_default ();
    }
  s->hist = lv_volume_histogram (s->volume, &s->n_hist);
  s->ml_per_voxel = lv_volume_voxel_mm3 (s->volume) / 1000.0;
  gint64 t1 = g_get_monotonic_time ();

  set_stage (&opts, AR_SCENE_STAGE_MESH);
  SurfaceOptions so;
  surface_options_init (&so);
  so.smooth_iterations = opts.smooth_iterations;
  s->surfaces = surface_extract (s->volume, &so, cancellable, &e);
  if (!s->surfaces)
    return fail (error, e, path);

  set_stage (&opts, AR_SCENE_STAGE_PREPARE);
  s->meshes = g_ptr_array_new_full (s->surfaces->n_meshes, (GDestroyNotify) ar_render_mesh_unref);
  for (guint i = 0; i < s->surfaces->n_meshes; i++)
    {
      if (g_cancellable_set_error_if_cancelled (cancellable, error))
        return NULL;
      g_ptr_array_add (s->meshes, ar_render_mesh_new_from_surface (s->surfaces->meshes[i]));
    }
  s->ms_read = (t1 - t0) / 1e3;
  s->ms_mesh = (g_get_monotonic_time () - t1) / 1e3;
  return g_steal_pointer (&s);
}

typedef struct {
  char *path;
  LabelVolume *volume;
  ArSceneOptions opts;
} LoadData;

static void
load_data_free (LoadData *d)
{
  g_free (d->path);
  g_clear_pointer (&d->volume, lv_volume_free);
  g_free (d);
}

static void
load_thread (GTask *task, gpointer source, gpointer data, GCancellable *cancellable)
{
  LoadData *d = data;
  GError *error = NULL;
  ArScene *s = ar_scene_load (d->path, g_steal_pointer (&d->volume), &d->opts, cancellable, &error);
  if (s)
    g_task_return_pointer (task, s, (GDestroyNotify) ar_scene_unref);
  else
    g_task_return_error (task, error);
}

void
ar_scene_load_async (const char *path, LabelVolume *volume, const ArSceneOptions *opts,
                     GCancellable *cancellable, GAsyncReadyCallback callback, gpointer user_data)
{
  LoadData *d = g_new0 (LoadData, 1);
  d->path = g_strdup (path);
  d->volume = volume;
  if (opts)
    d->opts = *opts;
  g_autoptr (GTask) task = g_task_new (NULL, cancellable, callback, user_data);
  g_task_set_source_tag (task, ar_scene_load_async);
  g_task_set_task_data (task, d, (GDestroyNotify) load_data_free);
  g_task_run_in_thread (task, load_thread);
}

ArScene *
ar_scene_load_finish (GAsyncResult *result, GError **error)
{
  g_return_val_if_fail (g_task_is_valid (result, NULL), NULL);
  return g_task_propagate_pointer (G_TASK (result), error);
}

gboolean
ar_scene_has_label (const ArScene *s, int32_t label)
{
  return surface_set_get (s->surfaces, label) != NULL;
}

int64_t
ar_scene_count (const ArScene *s, int32_t label)
{
  return label >= 0 && label < s->n_hist ? s->hist[label] : 0;
}

void
ar_scene_add_to_renderer (const ArScene *s, ArRenderer *r)
{
  if (s)
    for (guint i = 0; i < s->meshes->len; i++)
      ar_renderer_set_mesh (r, s->meshes->pdata[i]);
}
