/* metrics.c: per-label Dice and volumes (see metrics.h). */
#include "metrics.h"

#include <math.h>

G_DEFINE_QUARK (metrics-error-quark, metrics_error)

double
metrics_dice (int64_t n_a, int64_t n_b, int64_t n_both)
{
  if (n_a + n_b == 0)
    return NAN;
  return 2.0 * (double) n_both / (double) (n_a + n_b);
}

/* The zeroed result for the labels of @r and @t: *n entries, n one more than the
 * largest label in either; NULL when the grids differ. */
static MetricsLabel *
new_labels (const LabelVolume *r, const LabelVolume *t, int32_t *n, GError **error)
{
  int32_t rmin, rmax, tmin, tmax;

  if (r->nx != t->nx || r->ny != t->ny || r->nz != t->nz)
    {
      g_set_error (error, METRICS_ERROR, METRICS_ERROR_GRID,
                   "the label maps have different grids: %" G_GINT64_FORMAT "x%" G_GINT64_FORMAT "x%"
                   G_GINT64_FORMAT " (reference) and %" G_GINT64_FORMAT "x%" G_GINT64_FORMAT "x%"
                   G_GINT64_FORMAT, r->nx, r->ny, r->nz, t->nx, t->ny, t->nz);
      return NULL;
    }
  lv_volume_min_max (r, &rmin, &rmax);
  lv_volume_min_max (t, &tmin, &tmax);
  *n = MAX (MAX (rmax, tmax), 0) + 1;
  return g_new0 (MetricsLabel, *n);
}

/* Dice and volumes from the counts. */
static void
finish (MetricsLabel *m, int32_t n, const LabelVolume *reference)
{
  double ml = lv_volume_voxel_mm3 (reference) / 1000.0;
  for (int32_t l = 0; l < n; l++)
    {
      m[l].dice = metrics_dice (m[l].n_reference, m[l].n_test, m[l].n_both);
      m[l].ml_reference = (double) m[l].n_reference * ml;
      m[l].ml_test = (double) m[l].n_test * ml;
    }
}

MetricsLabel *
metrics_compare (const LabelVolume *reference, const LabelVolume *test, int32_t *n_labels,
                 GError **error)
{
  int32_t n;
  MetricsLabel *m = new_labels (reference, test, &n, error);
  if (m == NULL)
    return NULL;
  /* One pass: reference and test are (nz, ny, nx) label arrays of the same size. */
  int64_t nv = lv_volume_n_voxels (reference);
  if (reference->bytes_per_voxel == 1 && test->bytes_per_voxel == 1)
    {
      /* Both uint8 (the usual case): plain counters, no per-voxel storage switch. */
      const uint8_t *a = reference->data, *b = test->data;
      int64_t cr[256] = { 0 }, ct[256] = { 0 }, cb[256] = { 0 };
      for (int64_t i = 0; i < nv; i++)
        {
          cr[a[i]]++;
          ct[b[i]]++;
          cb[a[i]] += a[i] == b[i];
        }
      for (int32_t l = 0; l < n; l++)
        {
          m[l].n_reference = cr[l];
          m[l].n_test = ct[l];
          m[l].n_both = cb[l];
        }
    }
  else
    for (int64_t i = 0; i < nv; i++)
      {
        int32_t a = lv_volume_get_index (reference, i), b = lv_volume_get_index (test, i);
        if (a >= 0)
          m[a].n_reference++;
        if (b >= 0)
          m[b].n_test++;
        if (a == b && a >= 0)
          m[a].n_both++;
      }
  finish (m, n, reference);
  *n_labels = n;
  return m;
}

MetricsLabel *
metrics_compare_ref (const LabelVolume *reference, const LabelVolume *test, int32_t *n_labels,
                     GError **error)
{
  int32_t n;
  MetricsLabel *m = new_labels (reference, test, &n, error);
  if (m == NULL)
    return NULL;
  for (int32_t l = 0; l < n; l++)
    for (int64_t k = 0; k < reference->nz; k++)
      for (int64_t j = 0; j < reference->ny; j++)
        for (int64_t i = 0; i < reference->nx; i++)
          {
            gboolean in_r = lv_volume_get (reference, i, j, k) == l;
            gboolean in_t = lv_volume_get (test, i, j, k) == l;
            m[l].n_reference += in_r;
            m[l].n_test += in_t;
            m[l].n_both += in_r && in_t;
          }
  finish (m, n, reference);
  *n_labels = n;
  return m;
}
