/* phantom.c: procedural torso phantoms (see phantom.h and docs/phantom.md).
 *
 * Building a subject has three stages:
 *  1. draw the subject's parameters from a xoshiro256** stream and derive the
 *     skeleton (spine curve, vertebrae, cage profile, ribs, sternum), the
 *     diaphragm domes and every organ's implicit shape from them (double;
 *     phantom-skeleton.c, phantom-organs.c);
 *  2. paint the organs in priority order (bone first, lungs last): each voxel
 *     samples its position through a smooth random warp and takes the label of
 *     the first organ whose shape contains it; an organ also reserves a thin
 *     margin around itself that later organs may not claim (float;
 *     phantom-paint.c);
 *  3. keep, per organ, its largest 6-connected component (one per side for the
 *     paired lungs, kidneys and autochthon muscles).
 * This file: the public API, the order of the stages, and partial versions.
 */
#include "phantom-private.h"
#include "label-table.h"

#include <string.h>

G_DEFINE_QUARK (phantom-error-quark, phantom_error)

/* ------------------------------------------------------------------------- */
/* Public API                                                                 */

guint64
phantom_derive_seed (guint64 seed, guint64 index)
{
  guint64 s = seed ^ (index * 0xd1b54a32d192ed03ull);
  splitmix64 (&s);
  return splitmix64 (&s);
}

void
phantom_params_init (PhantomParams *p)
{
  memset (p, 0, sizeof *p);
  p->seed = 0;
  p->grid[0] = p->grid[1] = p->grid[2] = PHANTOM_DEFAULT_GRID;
  p->variation = 1.0;
}

LabelVolume *
phantom_generate (const PhantomParams *p, GError **error)
{
  PhantomParams def;
  if (p == NULL)
    {
      phantom_params_init (&def);
      p = &def;
    }
  for (int a = 0; a < 3; a++)
    if (p->grid[a] < 8 || p->grid[a] > 1024)
      {
        g_set_error (error, PHANTOM_ERROR, PHANTOM_ERROR_INVALID,
                     "phantom: grid size %d along axis %d is outside 8..1024", p->grid[a], a);
        return NULL;
      }
  if (!(p->variation >= 0 && p->variation <= 2))
    {
      g_set_error (error, PHANTOM_ERROR, PHANTOM_ERROR_INVALID,
                   "phantom: variation %g is outside 0..2", p->variation);
      return NULL;
    }
  double sp[3];
  for (int a = 0; a < 3; a++)
    {
      sp[a] = p->spacing[a] > 0 ? p->spacing[a] : PHANTOM_DEFAULT_FOV_MM / p->grid[a];
      if (!(sp[a] >= 0.05 && sp[a] <= 50))
        {
          g_set_error (error, PHANTOM_ERROR, PHANTOM_ERROR_INVALID,
                       "phantom: spacing %g mm along axis %d is outside 0.05..50", sp[a], a);
          return NULL;
        }
    }

  g_autoptr (GError) local = NULL;
  LabelVolume *v = lv_volume_new (p->grid[0], p->grid[1], p->grid[2], sp, 1, &local);
  if (v == NULL)
    {
      g_set_error (error, PHANTOM_ERROR, PHANTOM_ERROR_MEMORY, "phantom: %s", local->message);
      return NULL;
    }
  double aff[4][4] = { { 0 } };
  for (int a = 0; a < 3; a++)
    {
      aff[a][a] = sp[a];
      aff[a][3] = -0.5 * (p->grid[a] - 1) * sp[a];
    }
  aff[3][3] = 1;
  lv_volume_set_affine (v, aff);

  Subject S;
  ph_subject_init (&S, p);

  Painter P;
  memset (&P, 0, sizeof P);
  P.S = &S;
  P.nx = p->grid[0];
  P.ny = p->grid[1];
  P.nz = p->grid[2];
  for (int a = 0; a < 3; a++)
    {
      P.org[a] = (float) aff[a][3];
      P.sp[a] = (float) sp[a];
    }
  P.lab = v->data;
  ph_subject_tables (&S, &P);

  /* The organs, built in a fixed order (the random stream depends on it) and
   * painted in priority order. */
  enum { O_SPINE, O_RIBS, O_AORTA, O_PA, O_HEART, O_MUSCLE, O_KIDNEY, O_PANCREAS, O_LIVER,
         O_SPLEEN, O_STOMACH, O_LUNG, O_N };
  static const struct { uint8_t label; float margin; } spec[O_N] = {
    [O_SPINE] = { LT_SPINE, 1.5f }, [O_RIBS] = { LT_RIB_CAGE, 1.5f },
    [O_AORTA] = { LT_AORTA, 1.0f }, [O_PA] = { LT_PULMONARY_ARTERY, 1.0f },
    [O_HEART] = { LT_HEART, 2.5f }, [O_MUSCLE] = { LT_AUTOCHTHON, 0.0f },
    [O_KIDNEY] = { LT_KIDNEY, 2.5f }, [O_LIVER] = { LT_LIVER, 2.5f },
    [O_SPLEEN] = { LT_SPLEEN, 2.5f }, [O_PANCREAS] = { LT_PANCREAS, 2.0f },
    [O_STOMACH] = { LT_STOMACH, 2.0f }, [O_LUNG] = { LT_LUNG, 0.0f },
  };
  Organ org[O_N];
  for (int i = 0; i < O_N; i++)
    {
      org[i].prims = g_array_new (FALSE, TRUE, sizeof (Prim));
      org[i].label = spec[i].label;
      org[i].margin = spec[i].margin * (float) S.s;
    }
  SternumLevels sl;
  HeartInfo hi;
  ph_build_spine (&S, &org[O_SPINE]);
  ph_build_ribs (&S, &org[O_RIBS], &sl);
  ph_build_diaphragm (&S);
  /* diaphragm as floats for the painter */
  P.cx0 = (float) S.cx0; P.cy0 = (float) S.cy0;
  P.ia0 = (float) (1.0 / S.a0); P.ib0 = (float) (1.0 / S.b0);
  P.zr = (float) S.zr; P.zl = (float) S.zl_dome;
  P.d_r = (float) S.d_r; P.d_l = (float) S.d_l; P.d_ap = (float) S.d_ap; P.d_post = (float) S.d_post;
  P.u_r = (float) S.u_r; P.u_l = (float) S.u_l; P.v_r = (float) S.v_r; P.v_l = (float) S.v_l;
  ph_build_heart (&S, &org[O_HEART], &hi);
  ph_build_aorta (&S, &org[O_AORTA], &hi);
  ph_build_pulmonary (&S, &org[O_PA], &hi);
  ph_build_lungs (&S, &org[O_LUNG], &hi);
  ph_build_liver (&S, &org[O_LIVER]);
  ph_build_spleen (&S, &org[O_SPLEEN]);
  ph_build_stomach (&S, &org[O_STOMACH]);
  ph_build_pancreas (&S, &org[O_PANCREAS]);
  ph_build_kidneys (&S, &org[O_KIDNEY]);
  ph_build_muscles (&S, &org[O_MUSCLE]);
  ph_painter_warp (&P, &S);

  for (int i = 0; i < O_N; i++)
    ph_paint_organ (&P, &org[i]);

  uint8_t *lab = v->data;
  size_t n = (size_t) P.nx * P.ny * P.nz;
  for (size_t i = 0; i < n; i++)
    if (lab[i] == RESERVED)
      lab[i] = 0;

  for (int i = 0; i < O_N; i++)
    g_array_unref (org[i].prims);
  ph_painter_clear (&P);
  ph_subject_clear (&S);
  return v;
}

guint32
phantom_labels_present (const LabelVolume *v)
{
  guint32 mask = 0;
  int64_t n = lv_volume_n_voxels (v);
  if (v->bytes_per_voxel == 1)
    {
      const uint8_t *d = v->data;
      gboolean seen[256] = { FALSE };
      for (int64_t i = 0; i < n; i++)
        seen[d[i]] = TRUE;
      for (int l = 1; l < 32; l++)
        if (seen[l])
          mask |= 1u << l;
      return mask;
    }
  for (int64_t i = 0; i < n; i++)
    {
      int32_t l = lv_volume_get_index (v, i);
      if (l >= 1 && l < 32)
        mask |= 1u << l;
    }
  return mask;
}

guint32
phantom_draw_removal (guint32 present_mask, guint64 seed)
{
  int cand[32], n = 0;
  for (int l = 1; l < 32; l++)
    if ((present_mask & PHANTOM_SOFT_ORGANS_MASK) & (1u << l))
      cand[n++] = l;
  if (n == 0)
    return 0;
  Rng r;
  rng_seed (&r, seed);
  int kmax = MAX (1, MIN (PHANTOM_MAX_REMOVED, n - 1));
  int k = 1 + (int) (rng_next (&r) % (guint64) kmax);
  guint32 mask = 0;
  for (int i = 0; i < k; i++)
    {
      int j = i + (int) (rng_next (&r) % (guint64) (n - i));
      int t = cand[i];
      cand[i] = cand[j];
      cand[j] = t;
      mask |= 1u << cand[i];
    }
  return mask;
}

LabelVolume *
phantom_remove_labels (const LabelVolume *complete, guint32 mask, GError **error)
{
  g_return_val_if_fail (complete != NULL, NULL);
  LabelVolume *out = lv_volume_dup (complete);
  if (out == NULL)
    {
      g_set_error (error, PHANTOM_ERROR, PHANTOM_ERROR_MEMORY,
                   "phantom: cannot allocate a partial volume");
      return NULL;
    }
  int64_t n = lv_volume_n_voxels (out);
  for (int64_t i = 0; i < n; i++)
    {
      int32_t l = lv_volume_get_index (out, i);
      if (l >= 1 && l < 32 && (mask & (1u << l)))
        lv_volume_set_index (out, i, 0);
    }
  return out;
}

LabelVolume *
phantom_make_partial (const LabelVolume *complete, guint64 seed, guint32 *removed_mask_out,
                      GError **error)
{
  g_return_val_if_fail (complete != NULL, NULL);
  guint32 mask = phantom_draw_removal (phantom_labels_present (complete), seed);
  LabelVolume *out = phantom_remove_labels (complete, mask, error);
  if (out != NULL && removed_mask_out != NULL)
    *removed_mask_out = mask;
  return out;
}
