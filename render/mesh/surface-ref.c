/* surface-ref.c: the naive twin of surface.c, for tests.
 *
 * One label at a time, every cell of the padded grid, corners read one by one, vertices
 * de-duplicated with a hash table keyed by grid edge.  Slow and obviously right. */
#include "mesh-private.h"

#include <string.h>

static int32_t
get_padded (const LabelVolume *v, int64_t i, int64_t j, int64_t k)
{
  if (i < 0 || j < 0 || k < 0 || i >= v->nx || j >= v->ny || k >= v->nz)
    return 0;
  return lv_volume_get (v, i, j, k);
}

SurfaceSet *
surface_extract_reference (const LabelVolume *v, const SurfaceOptions *opts, GError **error)
{
  const McTables *t = mc_tables_get ();
  int64_t dims[3] = { v->nx, v->ny, v->nz };
  double det = lv_affine_det3 (v->affine);

  /* the labels present */
  g_autoptr (GHashTable) present = g_hash_table_new (g_direct_hash, g_direct_equal);
  for (int64_t n = 0; n < lv_volume_n_voxels (v); n++)
    {
      int32_t l = lv_volume_get_index (v, n);
      if (l != 0)
        g_hash_table_add (present, GINT_TO_POINTER (l));
    }
  GArray *labels = g_array_new (FALSE, FALSE, sizeof (int32_t));
  GHashTableIter it;
  gpointer kp;
  g_hash_table_iter_init (&it, present);
  while (g_hash_table_iter_next (&it, &kp, NULL))
    {
      int32_t l = GPOINTER_TO_INT (kp);
      gboolean keep = opts == NULL || opts->labels == NULL;
      for (guint i = 0; !keep && i < opts->n_labels; i++)
        keep = opts->labels[i] == l;
      if (keep)
        g_array_append_val (labels, l);
    }
  g_array_sort (labels, mesh_cmp_i32);

  SurfaceSet *set = mesh_set_new_like (v);
  set->meshes = g_new0 (SurfaceMesh *, MAX (labels->len, 1));

  for (guint li = 0; li < labels->len; li++)
    {
      int32_t L = g_array_index (labels, int32_t, li);
      g_autoptr (GHashTable) ids = g_hash_table_new_full (g_int64_hash, g_int64_equal, g_free, NULL);
      GArray *keys = g_array_new (FALSE, FALSE, sizeof (uint64_t));
      GArray *idx = g_array_new (FALSE, FALSE, sizeof (uint32_t));
      int64_t vb[6] = { G_MAXINT64, G_MAXINT64, G_MAXINT64, G_MININT64, G_MININT64, G_MININT64 };
      for (int64_t k = -1; k < v->nz; k++)
        for (int64_t j = -1; j < v->ny; j++)
          for (int64_t i = -1; i < v->nx; i++)
            {
              unsigned mask = 0;
              for (int c = 0; c < 8; c++)
                if (get_padded (v, i + (c & 1), j + ((c >> 1) & 1), k + ((c >> 2) & 1)) == L)
                  mask |= 1u << c;
              if (mask & 1)
                {
                  int64_t p[3] = { i, j, k };
                  for (int d = 0; d < 3; d++)
                    {
                      vb[d] = MIN (vb[d], p[d]);
                      vb[3 + d] = MAX (vb[3 + d], p[d]);
                    }
                }
              for (int n = 0; n < t->n_tris[mask]; n++)
                {
                  uint32_t tri[3];
                  for (int c = 0; c < 3; c++)
                    {
                      int e = t->tris[mask][3 * n + c];
                      int lo = t->edge_corner[e][0];
                      uint64_t key = mesh_edge_key (dims, i + (lo & 1), j + ((lo >> 1) & 1),
                                                    k + ((lo >> 2) & 1), t->edge_axis[e]);
                      gpointer found;
                      if (g_hash_table_lookup_extended (ids, &key, NULL, &found))
                        tri[c] = GPOINTER_TO_UINT (found);
                      else
                        {
                          tri[c] = keys->len;
                          g_hash_table_insert (ids, g_memdup2 (&key, sizeof key), GUINT_TO_POINTER (tri[c]));
                          g_array_append_val (keys, key);
                        }
                    }
                  if (det < 0)
                    {
                      uint32_t tmp = tri[1];
                      tri[1] = tri[2];
                      tri[2] = tmp;
                    }
                  g_array_append_vals (idx, tri, 3);
                }
            }
      SurfaceMesh *m = surface_mesh_new (L, keys->len, idx->len / 3);
      memcpy (m->keys, keys->data, sizeof (uint64_t) * keys->len);
      memcpy (m->indices, idx->data, sizeof (uint32_t) * idx->len);
      for (uint32_t n = 0; n < keys->len; n++)
        mesh_key_position (v->affine, dims, m->keys[n], m->positions + 3 * (gsize) n);
      memcpy (m->voxel_box, vb, sizeof vb);
      surface_mesh_update_normals (m);
      surface_mesh_update_bounds (m);
      set->meshes[set->n_meshes++] = m;
      g_array_free (keys, TRUE);
      g_array_free (idx, TRUE);
    }
  g_array_free (labels, TRUE);
  if (opts && opts->smooth_iterations > 0)
    surface_set_smooth (set, opts->smooth_iterations, opts->smooth_passband);
  return set;
}
