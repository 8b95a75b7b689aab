/* nrrd-segments.c: 3D Slicer segmentations in NRRD: the label of every segment (renumbered
 * when label values collide across layers), the label table and segment IDs they give, and
 * flattening the layers of a 4D file into one label per voxel; warnings for what is ignored.
 */
#include "nrrd-private.h"

#include <math.h>
#include <string.h>

static inline int32_t
get_label (const void *data, int bpv, int64_t i)
{
  switch (bpv)
    {
    case 1: return ((const uint8_t *) data)[i];
    case 2: return ((const uint16_t *) data)[i];
    default: return ((const int32_t *) data)[i];
    }
}

/* --- segments ------------------------------------------------------------------------------ */

static int
cmp_segment_index (gconstpointer a, gconstpointer b)
{
  const Segment *x = *(Segment *const *) a, *y = *(Segment *const *) b;
  return (x->index > y->index) - (x->index < y->index);
}

static int
cmp_segment_out (gconstpointer a, gconstpointer b)
{
  const Segment *x = *(Segment *const *) a, *y = *(Segment *const *) b;
  if (x->out_label != y->out_label)
    return (x->out_label > y->out_label) - (x->out_label < y->out_label);
  return (x->index > y->index) - (x->index < y->index);
}

static const char *
segment_title (const Segment *s, char *buf, gsize len)
{
  if (s->name && s->name[0])
    return s->name;
  if (s->id && s->id[0])
    return s->id;
  g_snprintf (buf, len, "segment %d", s->index);
  return buf;
}

static gboolean
parse_color (const char *s, guint8 rgba[4])
{
  if (s == NULL)
    return FALSE;
  g_auto (GStrv) w = nrrd_split_words (s);
  if (g_strv_length (w) < 3)
    return FALSE;
  for (int i = 0; i < 3; i++)
    {
      double v;
      if (!nrrd_parse_double (w[i], &v) || isnan (v))
        return FALSE;
      v = CLAMP (v, 0.0, 1.0);
      rgba[i] = (guint8) lround (v * 255.0);
    }
  rgba[3] = 255;
  return TRUE;
}

void
nrrd_warn (GString *w, const char *fmt, ...)
{
  va_list ap;
  va_start (ap, fmt);
  if (w->len)
    g_string_append_c (w, '\n');
  g_string_append_vprintf (w, fmt, ap);
  va_end (ap);
}

/* Decide the label of every valid segment; fills @list (sorted by N) with them.  Returns
 * TRUE when the labels are ordinals (label values collide across layers). */
gboolean
nrrd_assign_segment_labels (const char *path, GHashTable *segments, int64_t n_layers, GPtrArray *list, GString *warnings)
{
  GHashTableIter it;
  gpointer value;
  g_hash_table_iter_init (&it, segments);
  while (g_hash_table_iter_next (&it, NULL, &value))
    g_ptr_array_add (list, value);
  g_ptr_array_sort (list, cmp_segment_index);

  g_autoptr (GHashTable) seen_label = g_hash_table_new (g_int64_hash, g_int64_equal);
  g_autoptr (GPtrArray) valid = g_ptr_array_new ();
  gboolean collide = FALSE;
  int n_bad = 0;
  for (guint i = 0; i < list->len; i++)
    {
      Segment *s = g_ptr_array_index (list, i);
      char buf[32];
      if (!s->has_layer)
        s->layer = n_layers > 1 ? s->index : 0;
      if (!s->has_label)
        s->label = 1;
      const char *why = NULL;
      if (s->layer_bad || s->layer < 0 || s->layer >= n_layers)
        why = "its layer does not exist";
      else if (s->label_bad || s->label == 0 || s->label < G_MININT32 || s->label > G_MAXINT32)
        why = "its label value is not a non-zero 32-bit integer";
      if (why != NULL)
        {
          if (n_bad++ < 5)
            nrrd_warn (warnings, "%s: segment %d (%s) is ignored: %s", path, s->index, segment_title (s, buf, sizeof buf), why);
          s->out_label = 0;
          continue;
        }
      if (g_hash_table_contains (seen_label, &s->label))
        collide = TRUE;
      else
        g_hash_table_add (seen_label, &s->label);
      g_ptr_array_add (valid, s);
    }
  if (n_bad > 5)
    nrrd_warn (warnings, "%s: %d more segments are ignored", path, n_bad - 5);
  gboolean renumber = collide && n_layers > 1;
  for (guint i = 0; i < valid->len; i++)
    {
      Segment *s = g_ptr_array_index (valid, i);
      s->out_label = renumber ? (int32_t) (i + 1) : (int32_t) s->label;
    }
  /* keep only the valid ones */
  g_ptr_array_set_size (list, 0);
  for (guint i = 0; i < valid->len; i++)
    g_ptr_array_add (list, g_ptr_array_index (valid, i));
  return renumber;
}

/* The segments' IDs by label, when some ID differs from the segment's name (3D Slicer's
 * TotalSegmentator extension keeps TotalSegmentator's class names as the IDs and shows
 * other names); else NULL. */
LabelTable *
nrrd_ids_from_segments (const char *path, GPtrArray *list)
{
  g_autoptr (LabelTable) t = lt_table_new (path);
  gboolean differ = FALSE;
  for (guint i = 0; i < list->len; i++)
    {
      const Segment *s = g_ptr_array_index (list, i);
      if (s->id == NULL || s->id[0] == '\0' || lt_table_lookup (t, s->out_label) != NULL)
        continue;
      char buf[32];
      differ |= strcmp (s->id, segment_title (s, buf, sizeof buf)) != 0;
      lt_table_set (t, s->out_label, s->id, NULL);
    }
  return differ ? g_steal_pointer (&t) : NULL;
}

LabelTable *
nrrd_table_from_segments (const char *path, GPtrArray *list, GString *warnings)
{
  LabelTable *t = lt_table_new (path);
  g_autoptr (GPtrArray) sorted = g_ptr_array_copy (list, NULL, NULL);
  g_ptr_array_sort (sorted, cmp_segment_out);
  int n_dup = 0;
  int32_t last = 0;
  for (guint i = 0; i < sorted->len; i++)
    {
      Segment *s = g_ptr_array_index (sorted, i);
      char buf[32];
      if (i > 0 && s->out_label == last)
        {
          if (n_dup++ < 5)
            nrrd_warn (warnings, "%s: segment %d (%s) has the label value %d of an earlier segment in the same layer; "
                       "its name is not used", path, s->index, segment_title (s, buf, sizeof buf), s->out_label);
          continue;
        }
      last = s->out_label;
      guint8 rgba[4];
      gboolean has_color = parse_color (s->color, rgba) || parse_color (s->default_color, rgba);
      lt_table_set (t, s->out_label, segment_title (s, buf, sizeof buf), has_color ? rgba : NULL);
    }
  return t;
}

/* Flatten the layers of @samples ((file axes) of @bpv-byte labels) into one int32 label per
 * voxel.  (layer, value) pairs map through @map when renumbering. */
int32_t *
nrrd_flatten_layers (const char *path, const Layout *L, const void *samples, int bpv, GHashTable *map,
                     gboolean refuse_overlap, int64_t *n_overlap, GError **error)
{
  int64_t stride[4], acc = 1;
  for (int a = 0; a < 4; a++)
    {
      stride[a] = acc;
      acc *= L->sizes[a];
    }
  int64_t nx = L->sizes[L->spatial[0]], ny = L->sizes[L->spatial[1]], nz = L->sizes[L->spatial[2]];
  int64_t si = stride[L->spatial[0]], sj = stride[L->spatial[1]], sk = stride[L->spatial[2]];
  int64_t sl = stride[L->layer_axis];
  int32_t *out = g_try_malloc0 ((gsize) MAX (L->n_voxels, 1) * sizeof (int32_t));
  if (out == NULL)
    {
      g_set_error (error, NRRD_ERROR, NRRD_ERROR_TOO_LARGE, "%s: cannot allocate %.1f MiB for the labels", path,
                   L->n_voxels * 4.0 / 1048576.0);
      return NULL;
    }
  int32_t *cache_value = g_new0 (int32_t, L->n_layers), *cache_label = g_new0 (int32_t, L->n_layers);
  int64_t overlap = 0, v = 0;
  for (int64_t k = 0; k < nz; k++)
    for (int64_t j = 0; j < ny; j++)
      for (int64_t i = 0; i < nx; i++, v++)
        {
          int64_t base = i * si + j * sj + k * sk;
          int32_t label = 0;
          int first_layer = -1;
          for (int64_t l = 0; l < L->n_layers; l++)
            {
              int32_t x = get_label (samples, bpv, base + l * sl);
              if (x == 0)
                continue;
              int32_t y = x;
              if (map != NULL)
                {
                  if (cache_value[l] == x && cache_label[l] != 0)
                    y = cache_label[l];
                  else
                    {
                      int64_t key = (l << 32) | (uint32_t) x;
                      gpointer found = g_hash_table_lookup (map, &key);
                      if (found == NULL)
                        {
                          g_set_error (error, NRRD_ERROR, NRRD_ERROR_NOT_LABELS,
                                       "%s: voxel (%" G_GINT64_FORMAT ",%" G_GINT64_FORMAT ",%" G_GINT64_FORMAT
                                       ") of layer %" G_GINT64_FORMAT " holds %d, which no segment declares",
                                       path, i, j, k, l, x);
                          goto fail;
                        }
                      y = GPOINTER_TO_INT (found);
                      cache_value[l] = x;
                      cache_label[l] = y;
                    }
                }
              if (label != 0)
                {
                  if (refuse_overlap)
                    {
                      g_set_error (error, NRRD_ERROR, NRRD_ERROR_OVERLAP,
                                   "%s: voxel (%" G_GINT64_FORMAT ",%" G_GINT64_FORMAT ",%" G_GINT64_FORMAT
                                   ") lies in label %d of layer %d and label %d of layer %" G_GINT64_FORMAT
                                   ": overlapping segments cannot become one label map", path, i, j, k, label,
                                   first_layer, y, l);
                      goto fail;
                    }
                  overlap++;
                }
              else
                first_layer = (int) l;
              label = y;
            }
          out[v] = label;
        }
  g_free (cache_value);
  g_free (cache_label);
  *n_overlap = overlap;
  return out;
fail:
  g_free (cache_value);
  g_free (cache_label);
  g_free (out);
  return NULL;
}
