/* label-folder.c: a folder of binary masks as one label volume, and back (see label-folder.h). */
#include "label-folder.h"
#include "label-file.h"
#include "label-scheme-private.h"
#include "in-file.h"
#include "nifti.h"
#include "out-file.h"
#include "strutil.h"
#include "worker-pool.h"

#include <errno.h>
#include <math.h>
#include <string.h>
#include <sys/stat.h>
#include <glib/gstdio.h>

G_DEFINE_QUARK (label-folder-error-quark, label_folder_error)

gboolean
label_folder_path_is_folder (const char *path)
{
  struct stat st;
  return path != NULL && stat (path, &st) == 0 && S_ISDIR (st.st_mode);
}

gboolean
label_folder_path_wants_folder (const char *path)
{
  if (path == NULL || *path == '\0')
    return FALSE;
  if (label_folder_path_is_folder (path) || g_str_has_suffix (path, G_DIR_SEPARATOR_S))
    return TRUE;
  if (g_file_test (path, G_FILE_TEST_EXISTS))
    return FALSE;
  g_autofree char *base = g_path_get_basename (path);
  return strchr (base, '.') == NULL;
}

char *
label_folder_mask_file_name (const char *name)
{
  GString *s = g_string_new (NULL);
  gboolean gap = FALSE;
  for (const char *p = name != NULL ? name : ""; *p != '\0'; p++)
    {
      if (g_ascii_isalnum (*p) || *p == '.' || *p == '-' || *p == '_')
        {
          if (gap && s->len > 0)
            g_string_append_c (s, '_');
          g_string_append_c (s, *p);
          gap = FALSE;
        }
      else
        gap = TRUE;
    }
  /* no hidden files, no "." or ".." */
  while (s->len > 0 && s->str[0] == '.')
    g_string_erase (s, 0, 1);
  if (s->len == 0)
    g_string_assign (s, "label");
  g_string_append (s, ".nii.gz");
  return g_string_free (s, FALSE);
}

/* --- listing ------------------------------------------------------------------- */

typedef struct {
  char *path;        /* the mask file */
  char *name;        /* its name without the extension */
  int32_t id;
  /* filled by the reader */
  GArray *runs;      /* int64 pairs (first index, length) of the mask's voxels */
  int64_t dims[3];
  double affine[4][4];
  LabelVolume *first;  /* item 0 only: the volume itself, for its header */
  char *warnings;
  GError *error;
} MaskItem;

static void
mask_item_clear (MaskItem *m)
{
  g_free (m->path);
  g_free (m->name);
  if (m->runs)
    g_array_unref (m->runs);
  lv_volume_free (m->first);
  g_free (m->warnings);
  g_clear_error (&m->error);
}

static gboolean
is_mask_file_name (const char *base)
{
  if (base[0] == '.' || str_has_suffix_ci (base, ".seg.nrrd"))
    return FALSE;
  return str_has_suffix_ci (base, ".nii.gz") || str_has_suffix_ci (base, ".nii") || str_has_suffix_ci (base, ".nrrd");
}

static gint
compare_items_by_name (gconstpointer a, gconstpointer b)
{
  return strcmp (((const MaskItem *) a)->name, ((const MaskItem *) b)->name);
}

/* The masks of @dir sorted by name (ids not yet set). */
static GArray *
list_masks (const char *dir, GError **error)
{
  g_autoptr (GError) local = NULL;
  g_autoptr (GDir) d = g_dir_open (dir, 0, &local);
  if (d == NULL)
    {
      g_set_error (error, LABEL_FOLDER_ERROR, LABEL_FOLDER_ERROR_IO, "%s: cannot list the folder: %s", dir,
                   local->message);
      return NULL;
    }
  GArray *items = g_array_new (FALSE, TRUE, sizeof (MaskItem));
  g_array_set_clear_func (items, (GDestroyNotify) mask_item_clear);
  const char *base;
  while ((base = g_dir_read_name (d)) != NULL)
    {
      if (!is_mask_file_name (base))
        continue;
      g_autofree char *path = g_build_filename (dir, base, NULL);
      if (!g_file_test (path, G_FILE_TEST_IS_REGULAR))
        {
          /* a FIFO, device or socket named like a mask is refused, as every reader refuses
           * one (in-file.h); a subfolder or a dangling link is not a mask */
          struct stat st;
          if (stat (path, &st) == 0 && !S_ISDIR (st.st_mode))
            {
              g_autoptr (GError) why = NULL;
              in_file_check (path, &why);
              g_set_error (error, LABEL_FOLDER_ERROR, LABEL_FOLDER_ERROR_IO, "%s",
                           why ? why->message : "not a regular file");
              g_array_unref (items);
              return NULL;
            }
          continue;
        }
      if (items->len >= LABEL_FOLDER_MAX_MASKS)
        {
          g_set_error (error, LABEL_FOLDER_ERROR, LABEL_FOLDER_ERROR_TOO_MANY,
                       "%s: more than %d mask files", dir, LABEL_FOLDER_MAX_MASKS);
          g_array_unref (items);
          return NULL;
        }
      g_autofree char *stem = label_file_path_stem (base);
      MaskItem m = { .path = g_steal_pointer (&path), .name = g_steal_pointer (&stem) };
      g_array_append_val (items, m);
    }
  g_array_sort (items, compare_items_by_name);
  return items;
}

/* Ids for the masks: from the scheme their names fit, else 1, 2, ... in name order.
 * *scheme_out gets the scheme (or NULL). */
static void
assign_ids (GArray *items, const LabelScheme **scheme_out)
{
  g_autofree const char **names = g_new0 (const char *, items->len + 1);
  for (guint i = 0; i < items->len; i++)
    names[i] = g_array_index (items, MaskItem, i).name;
  const LabelScheme *s = label_scheme_detect_names (names, (int) items->len, NULL, NULL);
  *scheme_out = s;
  g_autoptr (GHashTable) used = g_hash_table_new (NULL, NULL);
  int32_t next = s != NULL ? label_scheme_get_max_id (s) + LT_N_ORGANS : 0;
  if (s != NULL)
    for (guint i = 0; i < items->len; i++)
      {
        MaskItem *m = &g_array_index (items, MaskItem, i);
        int32_t id = label_scheme_find_name (s, m->name);
        if (id > 0 && !g_hash_table_contains (used, GINT_TO_POINTER (id)))
          {
            m->id = id;
            g_hash_table_add (used, GINT_TO_POINTER (id));
          }
      }
  for (guint i = 0; i < items->len; i++)
    {
      MaskItem *m = &g_array_index (items, MaskItem, i);
      if (m->id > 0)
        continue;
      do
        next++;
      while (g_hash_table_contains (used, GINT_TO_POINTER (next)));
      m->id = next;
      g_hash_table_add (used, GINT_TO_POINTER (next));
    }
}

/* --- reading ------------------------------------------------------------------- */

typedef struct {
  GArray *items;
  int64_t max_voxels;
  GCancellable *cancellable;
  gint failed;
} ReadJob;

static void
read_mask (int64_t task, int thread, void *data)
{
  ReadJob *job = data;
  MaskItem *m = &g_array_index (job->items, MaskItem, task);
  if (g_atomic_int_get (&job->failed))
    return;
  if (g_cancellable_set_error_if_cancelled (job->cancellable, &m->error))
    {
      g_atomic_int_set (&job->failed, 1);
      return;
    }
  g_autoptr (LabelVolume) v = label_file_read_cancellable (m->path, job->max_voxels, job->cancellable, NULL,
                                                           &m->warnings, &m->error);
  if (v == NULL)
    {
      g_atomic_int_set (&job->failed, 1);
      return;
    }
  m->dims[0] = v->nx;
  m->dims[1] = v->ny;
  m->dims[2] = v->nz;
  memcpy (m->affine, v->affine, sizeof m->affine);
  m->runs = g_array_new (FALSE, FALSE, sizeof (int64_t));
  int32_t value = 0;
  const int64_t n = lv_volume_n_voxels (v);
  const guint8 *bytes = v->data;
  for (int64_t row = 0; row < n; row += v->nx)
    for (int64_t i = 0; i < v->nx;)
      {
        /* most of a mask is background: skip it 8 bytes at a time (uint8 masks) */
        if (v->bytes_per_voxel == 1)
          {
            uint64_t word;
            while (i + 8 <= v->nx && (memcpy (&word, bytes + row + i, 8), word == 0))
              i += 8;
            if (i >= v->nx)
              break;
          }
        int32_t l = lv_volume_get_index (v, row + i);
        if (l == 0)
          {
            i++;
            continue;
          }
        if (value == 0)
          value = l;
        int64_t start = i;
        while (i < v->nx && lv_volume_get_index (v, row + i) == value)
          i++;
        if (i < v->nx && lv_volume_get_index (v, row + i) != 0 && lv_volume_get_index (v, row + i) != value)
          {
            g_set_error (&m->error, LABEL_FOLDER_ERROR, LABEL_FOLDER_ERROR_NOT_MASK,
                         "%s: not a binary mask: it holds the values %d and %d besides 0 (a mask folder holds "
                         "one mask per label; open a multi-label file on its own)",
                         m->path, value, lv_volume_get_index (v, row + i));
            g_atomic_int_set (&job->failed, 1);
            return;
          }
        int64_t run[2] = { row + start, i - start };
        g_array_append_vals (m->runs, run, 2);
      }
  if (task == 0)
    m->first = g_steal_pointer (&v);
}

static gboolean
same_geometry (const MaskItem *a, const MaskItem *b)
{
  for (int i = 0; i < 3; i++)
    if (a->dims[i] != b->dims[i])
      return FALSE;
  for (int r = 0; r < 3; r++)
    for (int c = 0; c < 4; c++)
      if (fabs (a->affine[r][c] - b->affine[r][c]) > 1e-4 * (1.0 + fabs (a->affine[r][c])))
        return FALSE;
  return TRUE;
}

static gint
compare_items_by_id (gconstpointer a, gconstpointer b)
{
  int32_t x = (*(MaskItem *const *) a)->id, y = (*(MaskItem *const *) b)->id;
  return (x > y) - (x < y);
}

LabelVolume *
label_folder_read (const char *dir, int64_t max_voxels, int n_threads, LabelTable **table, char **warnings,
                   GError **error)
{
  return label_folder_read_cancellable (dir, max_voxels, n_threads, NULL, table, warnings, error);
}

LabelVolume *
label_folder_read_cancellable (const char *dir, int64_t max_voxels, int n_threads, GCancellable *cancellable,
                               LabelTable **table, char **warnings, GError **error)
{
  if (table)
    *table = NULL;
  if (warnings)
    *warnings = NULL;
  g_autoptr (GArray) items = list_masks (dir, error);
  if (items == NULL)
    return NULL;
  if (items->len == 0)
    {
      g_set_error (error, LABEL_FOLDER_ERROR, LABEL_FOLDER_ERROR_EMPTY,
                   "%s: a folder without mask files (.nii.gz, .nii or .nrrd)", dir);
      return NULL;
    }
  const LabelScheme *scheme = NULL;
  assign_ids (items, &scheme);

  ReadJob job = { .items = items, .max_voxels = max_voxels, .cancellable = cancellable };
  {
    g_autoptr (WorkerPool) pool = worker_pool_new (n_threads > 0 ? MIN (n_threads, (int) items->len) : 0);
    worker_pool_run (pool, items->len, read_mask, &job);
  }
  if (g_cancellable_set_error_if_cancelled (cancellable, error))
    return NULL;
  for (guint i = 0; i < items->len; i++)
    {
      MaskItem *m = &g_array_index (items, MaskItem, i);
      if (m->error != NULL && !g_error_matches (m->error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        {
          g_propagate_error (error, g_steal_pointer (&m->error));
          return NULL;
        }
    }
  const MaskItem *first = &g_array_index (items, MaskItem, 0);
  for (guint i = 1; i < items->len; i++)
    {
      const MaskItem *m = &g_array_index (items, MaskItem, i);
      if (!same_geometry (first, m))
        {
          g_set_error (error, LABEL_FOLDER_ERROR, LABEL_FOLDER_ERROR_GEOMETRY,
                       "%s: the masks lie on different grids: %s is %" G_GINT64_FORMAT "×%" G_GINT64_FORMAT
                       "×%" G_GINT64_FORMAT ", %s %" G_GINT64_FORMAT "×%" G_GINT64_FORMAT "×%" G_GINT64_FORMAT
                       "%s", dir, first->path, first->dims[0], first->dims[1], first->dims[2], m->path,
                       m->dims[0], m->dims[1], m->dims[2],
                       memcmp (first->dims, m->dims, sizeof m->dims) == 0 ? " with another affine" : "");
          return NULL;
        }
    }

  int32_t max_id = 0;
  g_autoptr (GPtrArray) by_id = g_ptr_array_new ();
  for (guint i = 0; i < items->len; i++)
    {
      MaskItem *m = &g_array_index (items, MaskItem, i);
      max_id = MAX (max_id, m->id);
      g_ptr_array_add (by_id, m);
    }
  g_ptr_array_sort (by_id, compare_items_by_id);
  g_autoptr (LabelVolume) out = lv_volume_new_like (first->first, lv_storage_for_range (0, max_id));
  if (out == NULL)
    {
      g_set_error (error, LABEL_FOLDER_ERROR, LABEL_FOLDER_ERROR_IO, "%s: out of memory for the label volume", dir);
      return NULL;
    }
  int64_t n_overlap = 0;
  int32_t overlap_a = 0, overlap_b = 0;
  for (guint i = 0; i < by_id->len; i++)
    {
      const MaskItem *m = g_ptr_array_index (by_id, i);
      const int64_t *r = (const int64_t *) m->runs->data;
      for (guint q = 0; q + 1 < m->runs->len; q += 2)
        for (int64_t idx = r[q]; idx < r[q] + r[q + 1]; idx++)
          {
            int32_t old = lv_volume_get_index (out, idx);
            if (old != 0)
              {
                if (n_overlap++ == 0)
                  {
                    overlap_a = old;
                    overlap_b = m->id;
                  }
              }
            lv_volume_set_index (out, idx, m->id);
          }
    }

  g_autoptr (GString) warn = g_string_new (NULL);
  for (guint i = 0; i < items->len; i++)
    {
      const MaskItem *m = &g_array_index (items, MaskItem, i);
      if (m->warnings != NULL)
        g_string_append_printf (warn, "%s%s", warn->len ? "\n" : "", m->warnings);
    }
  if (table != NULL || n_overlap > 0)
    {
      g_autoptr (LabelTable) t = lt_table_new (dir);
      g_autoptr (LabelTable) colours = scheme != NULL ? label_scheme_dup_table (scheme, LABEL_SCHEME_TABLE_COMPLETED)
                                                      : lt_table_new (dir);
      for (guint i = 0; i < items->len; i++)
        {
          const MaskItem *m = &g_array_index (items, MaskItem, i);
          guint8 rgba[4];
          lt_table_get_color (colours, m->id, rgba);
          lt_table_set (t, m->id, m->name, rgba);
        }
      if (n_overlap > 0)
        {
          char a[64], b[64];
          g_string_append_printf (warn,
                                  "%s%s: %" G_GINT64_FORMAT " voxel%s lie in more than one mask (the first in %s and %s); "
                                  "each takes the mask with the highest id, as merging the masks in id order does",
                                  warn->len ? "\n" : "", dir, n_overlap, n_overlap == 1 ? "" : "s",
                                  lt_table_get_name (t, overlap_a, a, sizeof a),
                                  lt_table_get_name (t, overlap_b, b, sizeof b));
        }
      if (table)
        *table = g_steal_pointer (&t);
    }
  if (warnings && warn->len > 0)
    *warnings = g_strdup (warn->str);
  return g_steal_pointer (&out);
}

/* --- writing ------------------------------------------------------------------- */

typedef struct {
  char *dest;          /* the file to write in the output folder */
  char *copy_from;     /* an input mask copied byte for byte, or NULL */
  char *merge_from;    /* an input mask that gets the volume's voxels of `id` added, or NULL */
  int32_t id;          /* the label the mask is made of (not for copies) */
} WritePlan;

static void
write_plan_clear (WritePlan *p)
{
  g_free (p->dest);
  g_free (p->copy_from);
  g_free (p->merge_from);
}

/* The id of @name in @t: the entry with exactly that name, else a normalised match; -1. */
static int32_t
table_id_of (const LabelTable *t, const char *name)
{
  for (guint i = 0; t != NULL && i < t->entries->len; i++)
    {
      const LabelEntry *e = &g_array_index (t->entries, LabelEntry, i);
      if (e->name != NULL && strcmp (e->name, name) == 0)
        return e->id;
    }
  return t != NULL ? lt_table_find_name (t, name) : -1;
}

/* A file name for a new mask of @id, unique among @taken (which gets it). */
static char *
unique_file_name (const LabelTable *t, int32_t id, GHashTable *taken)
{
  char buf[64];
  const LabelEntry *e = t != NULL ? lt_table_lookup (t, id) : NULL;
  g_autofree char *name = NULL;
  if (e != NULL && e->name != NULL && *e->name != '\0')
    name = label_folder_mask_file_name (e->name);
  else
    {
      g_snprintf (buf, sizeof buf, "label_%d", id);
      name = label_folder_mask_file_name (buf);
    }
  if (g_hash_table_contains (taken, name))
    {
      g_autofree char *stem = label_file_path_stem (name);
      g_free (name);
      name = g_strdup_printf ("%s_%d.nii.gz", stem, id);
    }
  for (int k = 2; g_hash_table_contains (taken, name); k++)
    {
      g_autofree char *stem = label_file_path_stem (name);
      g_free (name);
      name = g_strdup_printf ("%s_%d.nii.gz", stem, k);
    }
  g_hash_table_add (taken, g_strdup (name));
  return g_steal_pointer (&name);
}

/* A uint8 mask of @id in @v: 1 where @v holds @id.  With @base (an input mask on the same
 * grid), @base's header and voxels, plus those of @id in @v with @base's mask value. */
static LabelVolume *
make_mask (const LabelVolume *v, int32_t id, LabelVolume *base, GError **error)
{
  LabelVolume *m = base != NULL ? base : lv_volume_new_like (v, 1);
  if (m == NULL)
    {
      g_set_error (error, LABEL_FOLDER_ERROR, LABEL_FOLDER_ERROR_IO, "out of memory for a mask");
      return NULL;
    }
  const int64_t n = lv_volume_n_voxels (v);
  int32_t value = 1;
  if (base != NULL)
    for (int64_t i = 0; i < n; i++)
      if (lv_volume_get_index (base, i) != 0)
        {
          value = lv_volume_get_index (base, i);
          break;
        }
  for (int64_t i = 0; i < n; i++)
    if (lv_volume_get_index (v, i) == id)
      lv_volume_set_index (m, i, value);
  return m;
}

/* Writes plan @p into @f, the temporary its OutSet opened, and finishes it. */
static gboolean
produce (const LabelVolume *v, const WritePlan *p, OutFile *f, GError **error)
{
  if (p->copy_from != NULL)
    {
      gsize len = 0;
      g_autoptr (GError) local = NULL;
      /* a regular file only, and never more than a mask can hold */
      g_autofree char *bytes = in_file_read (p->copy_from, G_MAXSIZE / 2, &len, &local);
      if (bytes == NULL)
        {
          g_set_error (error, LABEL_FOLDER_ERROR, LABEL_FOLDER_ERROR_IO, "%s", local->message);
          return FALSE;
        }
      return out_file_write (f, bytes, len, error) && out_file_finish (f, error);
    }
  LabelVolume *base = NULL;
  if (p->merge_from != NULL)
    {
      base = label_file_read (p->merge_from, 0, NULL, NULL, error);
      if (base == NULL)
        return FALSE;
      if (base->nx != v->nx || base->ny != v->ny || base->nz != v->nz || base->bytes_per_voxel != 1)
        {
          lv_volume_free (base);
          g_set_error (error, LABEL_FOLDER_ERROR, LABEL_FOLDER_ERROR_GEOMETRY,
                       "%s: not a mask on the grid of the label volume", p->merge_from);
          return FALSE;
        }
    }
  g_autoptr (LabelVolume) mask = make_mask (v, p->id, base, error);
  if (mask == NULL)
    return FALSE;
  const NiftiWriteExtras extras = { .drop_label_table = TRUE };
  return nifti_write_to_out_file (mask, f, 0, &extras, error) && out_file_finish (f, error);
}

typedef struct {
  const LabelVolume *v;
  GArray *plans;
  OutFile **files;     /* per plan, opened by the set (borrowed) */
  GError **errors;     /* per plan */
  gint failed;
} ProduceJob;

static void
produce_task (int64_t task, int thread, void *data)
{
  ProduceJob *job = data;
  if (g_atomic_int_get (&job->failed))
    return;
  if (!produce (job->v, &g_array_index (job->plans, WritePlan, task), job->files[task], &job->errors[task]))
    g_atomic_int_set (&job->failed, 1);
}

/* The labels of @v that @like does not have at the same voxels (sorted, unique). */
static GArray *
changed_labels (const LabelVolume *v, const LabelVolume *like)
{
  g_autoptr (GHashTable) set = g_hash_table_new (NULL, NULL);
  const int64_t n = lv_volume_n_voxels (v);
  int32_t last = 0;
  for (int64_t i = 0; i < n; i++)
    {
      int32_t l = lv_volume_get_index (v, i);
      if (l != 0 && l != last && l != lv_volume_get_index (like, i))
        {
          g_hash_table_add (set, GINT_TO_POINTER (l));
          last = l;
        }
    }
  return lv_ids_of_set (set, FALSE);
}

static gboolean
array_has (const GArray *a, int32_t id)
{
  for (guint i = 0; i < a->len; i++)
    if (g_array_index (a, int32_t, i) == id)
      return TRUE;
  return FALSE;
}

/* What to write: one plan per output file. */
static GArray *
make_plans (const LabelVolume *v, const LabelTable *table, const char *like_dir, const LabelVolume *like,
            const char *dir, GError **error)
{
  g_autoptr (GArray) plans = g_array_new (FALSE, TRUE, sizeof (WritePlan));
  g_array_set_clear_func (plans, (GDestroyNotify) write_plan_clear);
  g_autoptr (GHashTable) taken = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  g_autoptr (GHashTable) covered = g_hash_table_new (NULL, NULL);   /* ids with a mask planned */

  if (like_dir != NULL)
    {
      g_autoptr (GArray) masks = list_masks (like_dir, error);
      if (masks == NULL)
        return NULL;
      if (like->nx != v->nx || like->ny != v->ny || like->nz != v->nz)
        {
          g_set_error (error, LABEL_FOLDER_ERROR, LABEL_FOLDER_ERROR_GEOMETRY,
                       "%s: the label volume is not on the grid of the masks of %s", dir, like_dir);
          return NULL;
        }
      g_autoptr (GArray) changed = changed_labels (v, like);
      for (guint i = 0; i < masks->len; i++)
        {
          const MaskItem *m = &g_array_index (masks, MaskItem, i);
          g_autofree char *base = g_path_get_basename (m->path);
          int32_t id = table_id_of (table, m->name);
          WritePlan p = { .id = id };
          if (id > 0 && array_has (changed, id) && !g_hash_table_contains (covered, GINT_TO_POINTER (id)))
            {
              /* a NRRD mask that changed is written as NIfTI */
              if (!str_has_suffix_ci (base, ".nii.gz") && !str_has_suffix_ci (base, ".nii"))
                {
                  g_free (base);
                  base = g_strconcat (m->name, ".nii.gz", NULL);
                }
              p.merge_from = g_strdup (m->path);
            }
          else
            p.copy_from = g_strdup (m->path);
          if (id > 0)
            g_hash_table_add (covered, GINT_TO_POINTER (id));
          p.dest = g_build_filename (dir, base, NULL);
          g_hash_table_add (taken, g_steal_pointer (&base));
          g_array_append_val (plans, p);
        }
    }

  /* the labels to give masks of their own: every label present, and without a like
   * folder every entry of the table (absent ones as empty masks) */
  int n_present = 0;
  g_autofree LabelSchemeIdCount *present = label_scheme_census (v, &n_present);
  g_autoptr (GArray) ids = g_array_new (FALSE, FALSE, sizeof (int32_t));
  for (int i = 0; i < n_present; i++)
    if (present[i].id != 0)
      g_array_append_val (ids, present[i].id);
  if (like_dir == NULL && table != NULL)
    for (guint i = 0; i < table->entries->len; i++)
      {
        int32_t id = g_array_index (table->entries, LabelEntry, i).id;
        if (id != 0 && !array_has (ids, id))
          g_array_append_val (ids, id);
      }
  for (guint i = 0; i < ids->len; i++)
    {
      int32_t id = g_array_index (ids, int32_t, i);
      if (id < 0)
        {
          g_set_error (error, LABEL_FOLDER_ERROR, LABEL_FOLDER_ERROR_NOT_MASK,
                       "%s: label %d is negative: a mask folder cannot hold it", dir, id);
          return NULL;
        }
      if (g_hash_table_contains (covered, GINT_TO_POINTER (id)))
        continue;
      g_hash_table_add (covered, GINT_TO_POINTER (id));
      g_autofree char *name = unique_file_name (table, id, taken);
      WritePlan p = { .id = id, .dest = g_build_filename (dir, name, NULL) };
      g_array_append_val (plans, p);
    }
  if (plans->len > LABEL_FOLDER_MAX_MASKS)
    {
      g_set_error (error, LABEL_FOLDER_ERROR, LABEL_FOLDER_ERROR_TOO_MANY,
                   "%s: %u masks to write, more than %d", dir, plans->len, LABEL_FOLDER_MAX_MASKS);
      return NULL;
    }
  return g_steal_pointer (&plans);
}

/* @path without trailing '/' (the root stays "/"). */
static char *
trim_slashes (const char *path)
{
  gsize len = strlen (path);
  while (len > 1 && path[len - 1] == G_DIR_SEPARATOR)
    len--;
  return g_strndup (path, len);
}

/* The first non-hidden entry of the existing folder @dir that is not a mask file (free it),
 * or NULL. */
static char *
first_foreign_entry (const char *dir)
{
  g_autoptr (GDir) d = g_dir_open (dir, 0, NULL);
  const char *base;
  while (d != NULL && (base = g_dir_read_name (d)) != NULL)
    if (base[0] != '.' && !is_mask_file_name (base))
      return g_strdup (base);
  return NULL;
}

gboolean
label_folder_check_output (OutSet *outputs, const char *dir, GError **error)
{
  (void) outputs;
  if (g_file_test (dir, G_FILE_TEST_EXISTS) && !label_folder_path_is_folder (dir))
    {
      g_set_error (error, LABEL_FOLDER_ERROR, LABEL_FOLDER_ERROR_EXISTS,
                   "%s: exists and is not a folder (a mask folder is written there)", dir);
      return FALSE;
    }
  if (!label_folder_path_is_folder (dir))
    {
      g_autofree char *trimmed = trim_slashes (dir);
      g_autofree char *parent = g_path_get_dirname (trimmed);
      if (!label_folder_path_is_folder (parent))
        {
          g_set_error (error, LABEL_FOLDER_ERROR, LABEL_FOLDER_ERROR_IO,
                       "%s: cannot create the folder: the folder %s does not exist", dir, parent);
          return FALSE;
        }
      return TRUE;
    }
  g_autofree char *foreign = first_foreign_entry (dir);
  if (foreign != NULL)
    {
      g_set_error (error, LABEL_FOLDER_ERROR, LABEL_FOLDER_ERROR_NOT_MASK_FOLDER,
                   "%s: unknown output format: an existing folder is written as a mask folder only when it "
                   "holds nothing but masks, and this one holds %s (give a new folder, or a file ending in "
                   ".nii, .nii.gz, .hdr, .nrrd or .seg.nrrd)", dir, foreign);
      return FALSE;
    }
  return TRUE;
}

void
label_folder_add_inputs (OutSet *outputs, const char *dir)
{
  g_autoptr (GArray) masks = list_masks (dir, NULL);
  for (guint i = 0; masks != NULL && i < masks->len; i++)
    out_set_add_input (outputs, g_array_index (masks, MaskItem, i).path);
}

gboolean
label_folder_write (const LabelVolume *v, const LabelTable *table, const char *like_dir, const LabelVolume *like,
                    const char *dir, gboolean overwrite, GError **error)
{
  g_autoptr (OutSet) own = out_set_new (overwrite);
  if (like_dir != NULL)
    label_folder_add_inputs (own, like_dir);
  return label_folder_write_in (own, v, table, like_dir, like, dir, error) && out_set_commit (own, error);
}

gboolean
label_folder_write_in (OutSet *outputs, const LabelVolume *v, const LabelTable *table, const char *like_dir,
                       const LabelVolume *like, const char *dir, GError **error)
{
  g_autoptr (LabelVolume) like_read = NULL;
  if (like_dir != NULL && like == NULL)
    {
      like = like_read = label_folder_read (like_dir, 0, 0, NULL, NULL, error);
      if (like == NULL)
        return FALSE;
    }
  if (!label_folder_check_output (outputs, dir, error))
    return FALSE;
  g_autoptr (GArray) plans = make_plans (v, table, like_dir, like, dir, error);
  if (plans == NULL)
    return FALSE;

  if (!label_folder_path_is_folder (dir))
    {
      if (g_mkdir (dir, 0777) != 0)
        {
          int err = errno;
          g_set_error (error, LABEL_FOLDER_ERROR, err == EEXIST ? LABEL_FOLDER_ERROR_EXISTS : LABEL_FOLDER_ERROR_IO,
                       "%s: cannot create the folder: %s", dir, g_strerror (err));
          return FALSE;
        }
      /* removed again unless the set is committed */
      g_autofree char *trimmed = trim_slashes (dir);
      out_set_add_new_dir (outputs, trimmed);
    }

  /* every destination checked and opened (an input, another output, an existing file
   * without overwrite, a folder) before anything is written; then all are made in
   * parallel, and the set moves them into place together with the command's other outputs */
  g_autofree OutFile **files = g_new0 (OutFile *, MAX (plans->len, 1));
  for (guint i = 0; i < plans->len; i++)
    {
      const WritePlan *p = &g_array_index (plans, WritePlan, i);
      /* a copy is the bytes as they are (compressed or not) */
      gboolean gz = p->copy_from == NULL && str_has_suffix_ci (p->dest, ".gz");
      files[i] = out_set_open (outputs, p->dest, gz ? OUT_FILE_GZIP : OUT_FILE_PLAIN, error);
      if (files[i] == NULL)
        return FALSE;
    }
  ProduceJob job = { .v = v, .plans = plans, .files = files,
                     .errors = g_new0 (GError *, MAX (plans->len, 1)) };
  {
    g_autoptr (WorkerPool) pool = worker_pool_new (0);
    worker_pool_run (pool, plans->len, produce_task, &job);
  }
  gboolean ok = !job.failed;
  for (guint i = 0; i < plans->len; i++)
    {
      if (job.errors[i] != NULL && error != NULL && *error == NULL)
        g_propagate_error (error, job.errors[i]);
      else
        g_clear_error (&job.errors[i]);
    }
  g_free (job.errors);
  return ok;
}
