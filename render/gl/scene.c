/* scene.c: loading a label map into a drawable scene (see scene.h). */
#include "scene.h"

#include "label-file.h"
#include "label-folder.h"

#include <string.h>

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
  g_clear_pointer (&s->names, lt_table_free);
  g_clear_pointer (&s->segment_ids, lt_table_free);
  g_clear_error (&s->scheme_error);
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

LabelTable *
ar_scene_table_dup (const LabelTable *t)
{
  if (!t)
    return NULL;
  LabelTable *d = lt_table_new (t->source);
  for (guint i = 0; i < t->entries->len; i++)
    {
      const LabelEntry *e = &g_array_index (t->entries, LabelEntry, i);
      lt_table_set (d, e->id, e->name, e->rgba);
    }
  return d;
}

/* The ids of @s's volume that @s->scheme cannot map (present in the histogram, but not
 * defined by the scheme, or with by_names not named in the file's table), as "7, 8, 9"
 * (at most a few listed), or NULL when every id maps. */
static char *
unmapped_ids (const ArScene *s)
{
  GString *bad = NULL;
  int n_bad = 0;
  for (int32_t id = 1; id < s->n_hist; id++)
    {
      if (s->hist[id] == 0)
        continue;
      gboolean ok = s->by_names ? lt_table_lookup (s->scheme_names, id) != NULL
                                : label_scheme_class_of (s->scheme, id) >= 0;
      if (ok)
        continue;
      if (!bad)
        bad = g_string_new (NULL);
      if (n_bad < 6)
        g_string_append_printf (bad, "%s%d", n_bad ? ", " : "", id);
      n_bad++;
    }
  if (bad && n_bad > 6)
    g_string_append_printf (bad, " and %d more", n_bad - 6);
  return bad ? g_string_free (bad, FALSE) : NULL;
}

/* The label scheme of the file's ids (scheme, by_names, scheme_error) and the table shown:
 * the file's names, else the scheme's (e.g. TotalSegmentator's for a file without names:
 * the built-in organs for the 12 classes), else none (generated names and colours). */
static void
resolve_scheme (ArScene *s, const char *requested)
{
  s->scheme_names = s->names;
  s->scheme = label_scheme_resolve (requested, s->names, s->volume, s->path, &s->by_names, &s->scheme_error);
  if (s->scheme == NULL && requested == NULL && s->segment_ids != NULL)
    {
      /* 3D Slicer's TotalSegmentator extension: display names ("right kidney") that no
       * scheme knows, TotalSegmentator's own names in the segment IDs */
      gboolean by_ids = FALSE;
      const LabelScheme *found = label_scheme_resolve (NULL, s->segment_ids, s->volume, s->path, &by_ids, NULL);
      if (found != NULL)
        {
          s->scheme = found;
          s->by_names = by_ids;
          s->scheme_names = s->segment_ids;
          g_clear_error (&s->scheme_error);
        }
    }
  if (s->scheme && s->by_names && !s->scheme_names)
    s->by_names = FALSE;
  g_autofree char *bad = s->scheme ? unmapped_ids (s) : NULL;
  if (bad)
    {
      g_set_error (&s->scheme_error, LABEL_SCHEME_ERROR, LABEL_SCHEME_ERROR_UNKNOWN_ID,
                   "%s: label %s %s not %s in the %s scheme", s->path, bad, strchr (bad, ',') ? "are" : "is",
                   s->by_names ? "named" : "defined", label_scheme_get_name (s->scheme));
      s->scheme = NULL;
      s->by_names = FALSE;
    }
  if (s->names)
    s->table = ar_scene_table_dup (s->names);
  else if (!s->scheme)
    s->table = lt_table_new ("none");   /* no names, no scheme: "label N", generated colours */
  else if (s->scheme && g_strcmp0 (label_scheme_get_name (s->scheme), LABEL_SCHEME_BENCHMARK12) != 0)
    s->table = label_scheme_dup_table (s->scheme, LABEL_SCHEME_TABLE_COMPLETED);
  else
    s->table = lt_table_new_default ();
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
  /* any label file (NIfTI, NRRD, .seg.nrrd, a mask folder), with the names it carries
   * (and a 3D Slicer file's segment IDs); the read can be cancelled too (a 1 GiB gzip
   * takes seconds, a folder of 117 masks too) */
  LabelFileReadInfo info = { 0 };
  s->volume = volume ? volume : label_file_read_full (path, 0, cancellable, &info, error);
  g_autoptr (LabelTable) own = g_steal_pointer (&info.table);
  s->segment_ids = g_steal_pointer (&info.segment_ids);
  s->read_warnings = g_steal_pointer (&info.warnings);
  label_file_read_info_clear (&info);
  if (!s->volume || g_cancellable_set_error_if_cancelled (cancellable, error))
    return NULL;
  int32_t lo, hi;
  lv_volume_min_max (s->volume, &lo, &hi);
  if (hi > AR_SCENE_MAX_LABEL_ID)
    {
      g_set_error (error, MESH_ERROR, MESH_ERROR_TOO_LARGE,
                   "%s: label %d is larger than the largest id the viewer shows (%d); "
                   "`anatomy mesh` exports surfaces of any label", path, hi, AR_SCENE_MAX_LABEL_ID);
      return NULL;
    }
  s->hist = lv_volume_histogram (s->volume, &s->n_hist);
  int64_t n_labels = 0;
  for (int32_t l = 1; l < s->n_hist; l++)
    n_labels += s->hist[l] > 0;
  if (n_labels > AR_SCENE_MAX_LABELS)
    {
      g_set_error (error, MESH_ERROR, MESH_ERROR_TOO_LARGE,
                   "%s: %" G_GINT64_FORMAT " labels are more than the viewer shows (%d); "
                   "`anatomy mesh` exports surfaces of any number of labels", path, n_labels,
                   AR_SCENE_MAX_LABELS);
      return NULL;
    }
  if (opts.table)
    s->table = ar_scene_table_dup (opts.table);
  else if (opts.find_table)
    {
      /* a table file beside the file, else the names it carries (NIfTI header extension,
       * 3D Slicer segments; a mask folder: only its mask names) */
      set_stage (&opts, AR_SCENE_STAGE_TABLE);
      if (volume != NULL)
        s->names = lt_table_find_for_volume (path, s->volume, NULL, &s->table_error);
      else if (!label_folder_path_is_folder (path))
        s->names = lt_table_find_for_volume (path, NULL, NULL, &s->table_error);
      if (!s->names && own)
        s->names = g_steal_pointer (&own);
      resolve_scheme (s, opts.scheme);
    }
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
  ArSceneOptions opts;      /* its scheme and table are the two below */
  char *scheme;
  LabelTable *table;
} LoadData;

static void
load_data_free (LoadData *d)
{
  g_free (d->path);
  g_clear_pointer (&d->volume, lv_volume_free);
  g_free (d->scheme);
  g_clear_pointer (&d->table, lt_table_free);
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
  d->opts.scheme = d->scheme = g_strdup (d->opts.scheme);
  d->table = ar_scene_table_dup (d->opts.table);
  d->opts.table = d->table;
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
