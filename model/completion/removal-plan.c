/* removal-plan.c: the deterministic removals of an evaluation (see removal-plan.h). */
#include "removal-plan.h"
#include "label-table.h"

#define BIT(l) (1u << (l))

const guint32 removal_plan_triples[REMOVAL_PLAN_N_TRIPLES] = {
  BIT (LT_SPLEEN) | BIT (LT_LIVER) | BIT (LT_KIDNEY),
  BIT (LT_HEART) | BIT (LT_AORTA) | BIT (LT_PULMONARY_ARTERY),
  BIT (LT_SPLEEN) | BIT (LT_STOMACH) | BIT (LT_PANCREAS),
};

guint32
removal_plan_present (const LabelVolume *v, double min_ml, int64_t counts[REMOVAL_PLAN_N_CLASSES])
{
  for (int l = 0; l < REMOVAL_PLAN_N_CLASSES; l++)
    counts[l] = 0;
  const int64_t n = lv_volume_n_voxels (v);
  if (v->bytes_per_voxel == 1)
    {
      /* the usual storage: count all 256 values, keep 0..12 */
      int64_t all[256] = { 0 };
      const guint8 *d = v->data;
      for (int64_t q = 0; q < n; q++)
        all[d[q]]++;
      for (int l = 0; l < REMOVAL_PLAN_N_CLASSES; l++)
        counts[l] = all[l];
    }
  else
    for (int64_t q = 0; q < n; q++)
      {
        int32_t l = lv_volume_get_index (v, q);
        if (l >= 0 && l < REMOVAL_PLAN_N_CLASSES)
          counts[l]++;
      }
  const double voxel_ml = lv_volume_voxel_mm3 (v) / 1000.0;
  guint32 present = 0;
  for (int l = 1; l < REMOVAL_PLAN_N_CLASSES; l++)
    if (counts[l] > 0 && counts[l] * voxel_ml >= min_ml)
      present |= BIT (l);
  return present;
}

GArray *
removal_plan_make (guint32 present)
{
  GArray *plan = g_array_new (FALSE, FALSE, sizeof (guint32));
  present &= ((1u << REMOVAL_PLAN_N_CLASSES) - 2u);
  for (int l = 1; l < REMOVAL_PLAN_N_CLASSES; l++)
    {
      guint32 m = BIT (l);
      if ((REMOVAL_PLAN_SOFT_MASK & m) && (present & m) && (present & ~m))
        g_array_append_val (plan, m);
    }
  for (int t = 0; t < REMOVAL_PLAN_N_TRIPLES; t++)
    {
      guint32 m = removal_plan_triples[t];
      if ((present & m) == m && (present & ~m))
        g_array_append_val (plan, m);
    }
  return plan;
}

gboolean
removal_plan_is_triple (guint32 mask)
{
  for (int t = 0; t < REMOVAL_PLAN_N_TRIPLES; t++)
    if (mask == removal_plan_triples[t])
      return TRUE;
  return FALSE;
}

char *
removal_plan_dup_name (guint32 mask)
{
  GString *s = g_string_new (NULL);
  /* a triple names its organs in the order of the triple's definition */
  static const int order[REMOVAL_PLAN_N_TRIPLES][3] = {
    { LT_SPLEEN, LT_LIVER, LT_KIDNEY },
    { LT_HEART, LT_AORTA, LT_PULMONARY_ARTERY },
    { LT_SPLEEN, LT_STOMACH, LT_PANCREAS },
  };
  for (int t = 0; t < REMOVAL_PLAN_N_TRIPLES; t++)
    if (mask == removal_plan_triples[t])
      {
        for (int i = 0; i < 3; i++)
          g_string_append_printf (s, "%s%s", i ? "+" : "", lt_default_class_name (order[t][i]));
        return g_string_free (s, FALSE);
      }
  for (int l = 1; l < REMOVAL_PLAN_N_CLASSES; l++)
    if (mask & BIT (l))
      g_string_append_printf (s, "%s%s", s->len ? "+" : "", lt_default_class_name (l));
  return g_string_free (s, FALSE);
}

LabelVolume *
removal_plan_apply (const LabelVolume *v, guint32 mask)
{
  LabelVolume *out = lv_volume_dup (v);
  const int64_t n = lv_volume_n_voxels (v);
  for (int64_t q = 0; q < n; q++)
    {
      int32_t l = lv_volume_get_index (out, q);
      if (l > 0 && l < 32 && (mask & BIT (l)))
        lv_volume_set_index (out, q, 0);
    }
  return out;
}
