/* surface-update.c: rebuilding the surfaces of a few labels after their voxels changed
 * (an edit, a completion adding organs), without extracting the whole volume again.
 *
 * Only a box around the changed voxels and the labels' old extents is re-extracted, with
 * the vertices that the other meshes share pinned where they are, so the boundaries stay
 * closed; the new meshes then replace the old ones in the set, in label order.
 */
#include "mesh-private.h"

gboolean
surface_set_update (SurfaceSet *set, const LabelVolume *v,
                    const int32_t *changed, guint n_changed,
                    const int64_t *dirty_box, const SurfaceOptions *opts,
                    GCancellable *cancellable, GError **error)
{
  SurfaceOptions def;
  opts = mesh_options_or_default (opts, &def);
  if (!mesh_check_volume (v, error))
    return FALSE;
  if (v->nx != set->dims[0] || v->ny != set->dims[1] || v->nz != set->dims[2])
    {
      g_set_error (error, MESH_ERROR, MESH_ERROR_INVALID,
                   "Cannot update surfaces: the volume's size changed");
      return FALSE;
    }
  guint n_want = 0;
  g_autofree int32_t *want = mesh_sorted_labels (changed, n_changed, &n_want);
  if (n_want == 0)
    return TRUE;

  /* region: old extents of the changed labels and the dirty box, grown by one voxel */
  int64_t box[6] = { G_MAXINT64, G_MAXINT64, G_MAXINT64, G_MININT64, G_MININT64, G_MININT64 };
  gboolean whole = dirty_box == NULL;
  if (dirty_box)
    for (int d = 0; d < 3; d++)
      {
        box[d] = MIN (box[d], dirty_box[d]);
        box[3 + d] = MAX (box[3 + d], dirty_box[3 + d]);
      }
  for (guint i = 0; i < n_want; i++)
    {
      SurfaceMesh *m = surface_set_get (set, want[i]);
      if (m)
        for (int d = 0; d < 3; d++)
          {
            box[d] = MIN (box[d], m->voxel_box[d]);
            box[3 + d] = MAX (box[3 + d], m->voxel_box[3 + d]);
          }
    }
  if (whole)
    {
      box[0] = box[1] = box[2] = -1;
      box[3] = v->nx;
      box[4] = v->ny;
      box[5] = v->nz;
    }
  else
    for (int d = 0; d < 3; d++)
      {
        box[d] -= 1;
        box[3 + d] += 1;
      }

  g_autoptr (SurfaceSet) fresh = surface_extract_box (v, want, n_want, box, opts->n_threads, set,
                                                      opts, cancellable, error);
  if (fresh == NULL)
    return FALSE;

  /* merge: drop old meshes of the changed labels, add the new ones, keep order */
  GPtrArray *out = g_ptr_array_new ();
  guint i = 0, j = 0;
  while (i < set->n_meshes || j < fresh->n_meshes)
    {
      SurfaceMesh *old = i < set->n_meshes ? set->meshes[i] : NULL;
      SurfaceMesh *nw = j < fresh->n_meshes ? fresh->meshes[j] : NULL;
      if (old && (!nw || old->label < nw->label))
        {
          guint k = mesh_lower_bound (want, n_want, old->label);
          if (k < n_want && want[k] == old->label)
            surface_mesh_free (old);   /* changed and now empty */
          else
            g_ptr_array_add (out, old);
          i++;
        }
      else if (nw && (!old || nw->label < old->label))
        {
          g_ptr_array_add (out, nw);
          j++;
        }
      else
        {
          surface_mesh_free (old);
          g_ptr_array_add (out, nw);
          i++;
          j++;
        }
    }
  g_free (set->meshes);
  set->n_meshes = out->len;
  set->meshes = (SurfaceMesh **) g_ptr_array_free (out, FALSE);
  g_free (fresh->meshes);
  fresh->meshes = NULL;
  fresh->n_meshes = 0;
  return TRUE;
}
