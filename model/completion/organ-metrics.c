/* organ-metrics.c: Dice, volume difference and HD95 per organ (see organ-metrics.h). */
#include "organ-metrics.h"
#include "surface-distance.h"

#include <math.h>
#include <string.h>

void
organ_metrics_volume_diff (double ml_reference, double ml_test, double *ml_diff, double *percent_diff)
{
  *ml_diff = ml_test - ml_reference;
  *percent_diff = ml_reference > 0 ? 100.0 * (ml_test - ml_reference) / ml_reference : NAN;
}

OrganMetrics *
organ_metrics_compare (const LabelVolume *reference, const LabelVolume *test, gboolean hd95, int32_t *n_labels,
                       GCancellable *cancellable, GError **error)
{
  int32_t n = 0;
  g_autofree MetricsLabel *m = metrics_compare (reference, test, &n, error);
  if (m == NULL)
    return NULL;
  g_autofree OrganMetrics *out = g_new0 (OrganMetrics, MAX (n, 1));
  /* the labels whose voxels differ and are in both maps: the only ones to measure */
  g_autofree guint8 *want = g_new0 (guint8, MAX (n, 1));
  gboolean any = FALSE;
  for (int32_t l = 0; l < n; l++)
    {
      out[l].m = m[l];
      organ_metrics_volume_diff (m[l].ml_reference, m[l].ml_test, &out[l].ml_diff, &out[l].percent_diff);
      gboolean both = m[l].n_reference > 0 && m[l].n_test > 0;
      gboolean same = m[l].n_both == m[l].n_reference && m[l].n_both == m[l].n_test;
      out[l].hd95_mm = hd95 && both && same ? 0.0 : NAN;
      want[l] = l > 0 && hd95 && both && !same;
      any |= want[l];
    }
  if (any)
    {
      if (g_cancellable_set_error_if_cancelled (cancellable, error))
        return NULL;
      g_autoptr (SurfacePoints) sr = surface_points_new_for (reference, want, n, error);
      if (sr == NULL)
        return NULL;
      if (g_cancellable_set_error_if_cancelled (cancellable, error))
        return NULL;
      g_autoptr (SurfacePoints) st = surface_points_new_for (test, want, n, error);
      if (st == NULL)
        return NULL;
      for (int32_t l = 1; l < n; l++)
        if (want[l])
          {
            if (g_cancellable_set_error_if_cancelled (cancellable, error))
              return NULL;
            out[l].hd95_mm = surface_distance_hd95 (st, sr, l);
          }
    }
  *n_labels = n;
  return g_steal_pointer (&out);
}

void
organ_metrics_csv_text (GString *out, const char *text)
{
  if (text == NULL || strpbrk (text, ",\"\r\n") == NULL)
    {
      g_string_append (out, text ? text : "");
      return;
    }
  g_string_append_c (out, '"');
  for (const char *c = text; *c; c++)
    {
      if (*c == '"')
        g_string_append_c (out, '"');
      g_string_append_c (out, *c);
    }
  g_string_append_c (out, '"');
}

void
organ_metrics_csv_number (GString *out, double v, int decimals)
{
  if (isnan (v))
    return;
  char fmt[8], buf[G_ASCII_DTOSTR_BUF_SIZE];
  g_snprintf (fmt, sizeof fmt, "%%.%df", CLAMP (decimals, 0, 9));
  g_string_append (out, g_ascii_formatd (buf, sizeof buf, fmt, v));
}
