/* completion-scheme.c: completion in the file's own label scheme (see completion-scheme.h). */
#include "completion-scheme.h"

#include <string.h>

LabelVolume *
completion_source_map (const CompletionSource *src, const LabelVolume *v, GError **error)
{
  return src->by_names && src->table ? label_scheme_map_volume_by_names (src->scheme, src->table, v, src->path, error)
                                      : label_scheme_map_volume (src->scheme, v, src->path, error);
}

/* The file's id for the scheme's name @name: by the file's own table when its ids were
 * matched by names, else the scheme's @id; -1 when the file has no such name. */
static int32_t
file_id (const CompletionSource *src, const char *name, int32_t id)
{
  if (!src->by_names || src->table == NULL)
    return id;
  return lt_table_find_name (src->table, name);
}

int32_t
completion_source_write_id (const CompletionSource *src, int32_t organ, gboolean right, int32_t used_max,
                            const char **name)
{
  const LabelSchemeWriteBack *wb = label_scheme_get_write_back (src->scheme, organ);
  int32_t id = wb->id;
  *name = wb->name;
  if (wb->kind == LABEL_SCHEME_WRITE_BY_SIDE)
    {
      id = right ? wb->right_id : wb->left_id;
      *name = label_scheme_lookup_id (src->scheme, id)->name;
    }
  if (wb->kind != LABEL_SCHEME_WRITE_NEW_ID)
    {
      int32_t own = file_id (src, *name, id);
      if (own > 0)
        return own;
    }
  else if (!src->by_names)
    return id;
  /* a name the file does not use: a new id past everything it holds */
  return MAX (used_max, label_scheme_get_max_id (src->scheme)) + organ;
}

/* World x of the midline: the spine's centroid, else that of every label of @mapped. */
static double
midline_x (const LabelVolume *mapped)
{
  double sum[2] = { 0, 0 };
  int64_t n[2] = { 0, 0 };
  int64_t idx = 0;
  for (int64_t k = 0; k < mapped->nz; k++)
    for (int64_t j = 0; j < mapped->ny; j++)
      for (int64_t i = 0; i < mapped->nx; i++, idx++)
        {
          int32_t l = lv_volume_get_index (mapped, idx);
          if (l == 0)
            continue;
          double x = mapped->affine[0][0] * i + mapped->affine[0][1] * j + mapped->affine[0][2] * k + mapped->affine[0][3];
          int s = l == LT_SPINE ? 0 : 1;
          sum[s] += x;
          n[s]++;
        }
  return n[0] ? sum[0] / n[0] : n[1] ? sum[1] / n[1] : 0.0;
}

LabelVolume *
completion_run_in_scheme (NnNet *net, const CompletionSource *src, const LabelVolume *v,
                          const CompletionOptions *options, LabelTable **table_out, GCancellable *cancellable,
                          GError **error)
{
  g_autoptr (LabelVolume) mapped = completion_source_map (src, v, error);
  if (mapped == NULL)
    return NULL;
  CompletionOptions opt = options ? *options : (CompletionOptions) { 0 };
  opt.occupied = v;
  g_autoptr (LabelVolume) done = completion_run (net, mapped, &opt, cancellable, error);
  if (done == NULL)
    return NULL;

  int32_t lo, hi;
  lv_volume_min_max (v, &lo, &hi);
  const int C = MIN (nn_net_get_config (net)->n_classes, LT_N_CLASSES);
  /* the ids each class is written with, on the left [0] and right [1] */
  int32_t ids[LT_N_CLASSES][2];
  const char *names[LT_N_CLASSES][2];
  int32_t top = hi;
  for (int c = 1; c < C; c++)
    for (int side = 0; side < 2; side++)
      {
        ids[c][side] = completion_source_write_id (src, c, side == 1, hi, &names[c][side]);
        top = MAX (top, ids[c][side]);
      }
  g_autoptr (LabelVolume) out = lv_volume_dup (v);
  if (out == NULL || !lv_volume_widen_for (out, top, error))
    {
      if (error && *error == NULL)
        g_set_error (error, COMPLETION_ERROR, COMPLETION_ERROR_NO_MEMORY, "cannot allocate the completed volume");
      return NULL;
    }
  const double mid = midline_x (mapped);
  gboolean used[LT_N_CLASSES][2] = { { FALSE } };
  int64_t idx = 0;
  for (int64_t k = 0; k < v->nz; k++)
    for (int64_t j = 0; j < v->ny; j++)
      for (int64_t i = 0; i < v->nx; i++, idx++)
        {
          int32_t c = lv_volume_get_index (done, idx);
          if (c <= 0 || c >= C || lv_volume_get_index (v, idx) != 0)
            continue;
          double x = v->affine[0][0] * i + v->affine[0][1] * j + v->affine[0][2] * k + v->affine[0][3];
          int side = x > mid;   /* RAS: +x is the patient's right */
          if (src->only_side != NULL && src->only_side[c] != LABEL_SIDE_NONE
              && src->only_side[c] != (side ? LABEL_SIDE_RIGHT : LABEL_SIDE_LEFT))
            {
              if (options != NULL && options->added != NULL)
                options->added[c]--;
              continue;
            }
          lv_volume_set_index (out, idx, ids[c][side]);
          used[c][side] = TRUE;
        }
  if (table_out)
    {
      LabelTable *t = src->table ? lt_table_new (src->table->source) : label_scheme_dup_table (src->scheme, 0);
      if (src->table)
        for (guint e = 0; e < src->table->entries->len; e++)
          {
            const LabelEntry *le = &g_array_index (src->table->entries, LabelEntry, e);
            lt_table_set (t, le->id, le->name, le->rgba);
          }
      for (int c = 1; c < C; c++)
        for (int side = 0; side < 2; side++)
          if (used[c][side] && lt_table_lookup (t, ids[c][side]) == NULL)
            {
              guint8 rgba[4];
              g_autoptr (LabelTable) def = lt_table_new_default ();
              lt_table_get_color (def, c, rgba);
              lt_table_set (t, ids[c][side], names[c][side], rgba);
            }
      *table_out = t;
    }
  return g_steal_pointer (&out);
}
