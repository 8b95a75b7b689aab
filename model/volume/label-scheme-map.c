/* label-scheme-map.c: a whole label volume mapped from a scheme's ids to the 12 classes. */
#include "label-scheme-private.h"

#include <string.h>

/* Labels 0..DIRECT-1 are counted in an array, others (int32 storage only) in a hash table. */
#define DIRECT 65536

static int
compare_id (gconstpointer a, gconstpointer b)
{
  int32_t x = ((const LabelSchemeIdCount *) a)->id, y = ((const LabelSchemeIdCount *) b)->id;
  return (x > y) - (x < y);
}

LabelSchemeIdCount *
label_scheme_census (const LabelVolume *v, int *n_out)
{
  int64_t n = lv_volume_n_voxels (v);
  g_autofree int64_t *counts = g_new0 (int64_t, v->bytes_per_voxel == 1 ? 256 : DIRECT);
  g_autoptr (GHashTable) others = NULL;
  GArray *out = g_array_new (FALSE, FALSE, sizeof (LabelSchemeIdCount));

  if (v->bytes_per_voxel == 1)
    {
      const uint8_t *d = v->data;
      for (int64_t i = 0; i < n; i++)
        counts[d[i]]++;
    }
  else if (v->bytes_per_voxel == 2)
    {
      const uint16_t *d = v->data;
      for (int64_t i = 0; i < n; i++)
        counts[d[i]]++;
    }
  else
    {
      const int32_t *d = v->data;
      others = g_hash_table_new_full (g_direct_hash, g_direct_equal, NULL, g_free);
      for (int64_t i = 0; i < n; i++)
        {
          if (d[i] >= 0 && d[i] < DIRECT)
            counts[d[i]]++;
          else
            {
              int64_t *c = g_hash_table_lookup (others, GINT_TO_POINTER (d[i]));
              if (c == NULL)
                {
                  c = g_new0 (int64_t, 1);
                  g_hash_table_insert (others, GINT_TO_POINTER (d[i]), c);
                }
              (*c)++;
            }
        }
    }

  for (int32_t id = 0; id < (v->bytes_per_voxel == 1 ? 256 : DIRECT); id++)
    if (counts[id] > 0)
      {
        LabelSchemeIdCount c = { id, counts[id] };
        g_array_append_val (out, c);
      }
  if (others != NULL)
    {
      GHashTableIter it;
      gpointer key, value;

      g_hash_table_iter_init (&it, others);
      while (g_hash_table_iter_next (&it, &key, &value))
        {
          LabelSchemeIdCount c = { GPOINTER_TO_INT (key), *(int64_t *) value };
          g_array_append_val (out, c);
        }
      g_array_sort (out, compare_id);
    }
  *n_out = (int) out->len;
  return (LabelSchemeIdCount *) g_array_free (out, FALSE);
}

/* The shared part: @classes[i] is the 12-class label of census[i].id, or -1 where that
 * id cannot be mapped, which is an error listing such ids. */
static LabelVolume *
apply (const LabelVolume *v, const LabelSchemeIdCount *census, const int32_t *classes, int n,
       const char *path, const char *why, GError **error)
{
  GString *bad = NULL;
  int n_bad = 0;
  uint8_t lut[256];
  g_autofree uint8_t *wide = NULL;
  LabelVolume *out;
  int64_t n_vox = lv_volume_n_voxels (v);

  for (int i = 0; i < n; i++)
    if (classes[i] < 0)
      {
        if (bad == NULL)
          bad = g_string_new (NULL);
        if (n_bad < 8)
          g_string_append_printf (bad, "%s%d (%" G_GINT64_FORMAT " voxel%s)",
                                  n_bad > 0 ? ", " : "", census[i].id, census[i].count,
                                  census[i].count == 1 ? "" : "s");
        n_bad++;
      }
  if (bad != NULL)
    {
      g_set_error (error, LABEL_SCHEME_ERROR, LABEL_SCHEME_ERROR_UNKNOWN_ID,
                   "%s: %d label%s %s: %s%s", path != NULL ? path : "the label map", n_bad,
                   n_bad > 1 ? "s" : "", why, bad->str, n_bad > 8 ? ", …" : "");
      g_string_free (bad, TRUE);
      return NULL;
    }

  out = lv_volume_new (v->nx, v->ny, v->nz, v->spacing, 1, error);
  if (out == NULL)
    return NULL;
  memcpy (out->affine, v->affine, sizeof out->affine);

  /* Every label of @v is in the census, so a look-up table covers them all: labels
   * of int32 storage beyond 0..65535 never get here (no scheme defines them). */
  uint8_t *dst = out->data;
  if (v->bytes_per_voxel == 1)
    {
      const uint8_t *src = v->data;
      memset (lut, 0, sizeof lut);
      for (int i = 0; i < n; i++)
        lut[census[i].id] = (uint8_t) classes[i];
      for (int64_t i = 0; i < n_vox; i++)
        dst[i] = lut[src[i]];
    }
  else
    {
      wide = g_new0 (uint8_t, DIRECT);
      for (int i = 0; i < n; i++)
        if (census[i].id >= 0 && census[i].id < DIRECT)
          wide[census[i].id] = (uint8_t) classes[i];
      for (int64_t i = 0; i < n_vox; i++)
        {
          int32_t l = lv_volume_get_index (v, i);
          dst[i] = l >= 0 && l < DIRECT ? wide[l] : 0;
        }
    }
  return out;
}

LabelVolume *
label_scheme_map_volume (const LabelScheme *s, const LabelVolume *v, const char *path,
                         GError **error)
{
  int n = 0;
  g_autofree LabelSchemeIdCount *census = label_scheme_census (v, &n);
  g_autofree int32_t *classes = g_new (int32_t, MAX (n, 1));
  g_autofree char *why = g_strdup_printf ("not defined by the scheme %s",
                                          label_scheme_get_name (s));

  for (int i = 0; i < n; i++)
    classes[i] = label_scheme_class_of (s, census[i].id);
  return apply (v, census, classes, n, path, why, error);
}

LabelVolume *
label_scheme_map_volume_by_names (const LabelScheme *s, const LabelTable *table,
                                  const LabelVolume *v, const char *path, GError **error)
{
  int n = 0;
  g_autofree LabelSchemeIdCount *census = label_scheme_census (v, &n);
  g_autofree int32_t *classes = g_new (int32_t, MAX (n, 1));

  for (int i = 0; i < n; i++)
    {
      const LabelEntry *e = lt_table_lookup (table, census[i].id);
      int32_t id;

      if (census[i].id == 0)
        classes[i] = LT_BACKGROUND;
      else if (e == NULL)
        classes[i] = -1;
      else
        {
          /* Names the scheme lacks map to none, like the scheme's own unmapped ids. */
          id = label_scheme_find_name (s, e->name);
          classes[i] = id > 0 ? MAX (label_scheme_class_of (s, id), 0) : LT_BACKGROUND;
        }
    }
  return apply (v, census, classes, n, path, "without a name in the label table", error);
}
