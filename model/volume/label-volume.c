/* label-volume.c: the label map type. */
#include "label-volume.h"
#include "mem-advise.h"
#include "nifti.h"

#include <math.h>
#include <string.h>

static gboolean
mul_overflows (int64_t a, int64_t b, int64_t *out)
{
  return __builtin_mul_overflow (a, b, out);
}

LabelVolume *
lv_volume_new (int64_t nx, int64_t ny, int64_t nz, const double spacing[3],
               int bytes_per_voxel, GError **error)
{
  int64_t n, bytes;

  if (nx < 1 || ny < 1 || nz < 1)
    {
      g_set_error (error, NIFTI_ERROR, NIFTI_ERROR_FORMAT,
                   "invalid volume size %" G_GINT64_FORMAT "x%" G_GINT64_FORMAT "x%" G_GINT64_FORMAT,
                   nx, ny, nz);
      return NULL;
    }
  if (bytes_per_voxel != 1 && bytes_per_voxel != 2 && bytes_per_voxel != 4)
    bytes_per_voxel = 4;
  if (mul_overflows (nx, ny, &n) || mul_overflows (n, nz, &n)
      || mul_overflows (n, bytes_per_voxel, &bytes) || (uint64_t) bytes > G_MAXSIZE / 2)
    {
      g_set_error (error, NIFTI_ERROR, NIFTI_ERROR_TOO_LARGE,
                   "volume size %" G_GINT64_FORMAT "x%" G_GINT64_FORMAT "x%" G_GINT64_FORMAT
                   " overflows", nx, ny, nz);
      return NULL;
    }
  void *data = g_try_malloc0 ((gsize) bytes);
  ar_advise_huge (data, (gsize) bytes);
  if (data == NULL && bytes > 0)
    {
      g_set_error (error, NIFTI_ERROR, NIFTI_ERROR_TOO_LARGE,
                   "cannot allocate %.1f MiB for a %" G_GINT64_FORMAT "x%" G_GINT64_FORMAT
                   "x%" G_GINT64_FORMAT " volume", bytes / 1048576.0, nx, ny, nz);
      return NULL;
    }
  LabelVolume *v = g_new0 (LabelVolume, 1);
  v->nx = nx;
  v->ny = ny;
  v->nz = nz;
  v->bytes_per_voxel = bytes_per_voxel;
  v->data = data;
  for (int a = 0; a < 3; a++)
    {
      double s = (spacing && spacing[a] > 0) ? spacing[a] : 1.0;
      v->spacing[a] = s;
      v->affine[a][a] = s;
    }
  v->affine[3][3] = 1.0;
  return v;
}

void
lv_volume_free (LabelVolume *v)
{
  if (v == NULL)
    return;
  g_free (v->data);
  nifti_source_free (v->source);
  g_free (v);
}

LabelVolume *
lv_volume_new_like (const LabelVolume *v, int bytes_per_voxel)
{
  LabelVolume *out = lv_volume_new (v->nx, v->ny, v->nz, v->spacing, bytes_per_voxel, NULL);
  if (out == NULL)
    return NULL;
  memcpy (out->affine, v->affine, sizeof out->affine);
  out->source = v->source ? nifti_source_dup (v->source) : NULL;
  return out;
}

LabelVolume *
lv_volume_dup (const LabelVolume *v)
{
  LabelVolume *out = lv_volume_new_like (v, v->bytes_per_voxel);
  if (out != NULL)
    memcpy (out->data, v->data, (size_t) lv_volume_n_voxels (v) * v->bytes_per_voxel);
  return out;
}

int
lv_storage_for_range (int64_t min_label, int64_t max_label)
{
  if (min_label >= 0 && max_label <= G_MAXUINT8)
    return 1;
  if (min_label >= 0 && max_label <= G_MAXUINT16)
    return 2;
  return 4;
}

void
lv_volume_min_max (const LabelVolume *v, int32_t *min_label, int32_t *max_label)
{
  int64_t n = lv_volume_n_voxels (v);
  int32_t lo = G_MAXINT32, hi = G_MININT32;

  if (v->bytes_per_voxel == 1)
    {
      const uint8_t *d = v->data;
      uint8_t l8 = 255, h8 = 0;
      for (int64_t i = 0; i < n; i++)
        {
          l8 = d[i] < l8 ? d[i] : l8;
          h8 = d[i] > h8 ? d[i] : h8;
        }
      lo = l8;
      hi = h8;
    }
  else
    for (int64_t i = 0; i < n; i++)
      {
        int32_t l = lv_volume_get_index (v, i);
        lo = l < lo ? l : lo;
        hi = l > hi ? l : hi;
      }
  if (min_label)
    *min_label = lo;
  if (max_label)
    *max_label = hi;
}

gboolean
lv_volume_widen_for (LabelVolume *v, int32_t label, GError **error)
{
  int32_t lo, hi;
  lv_volume_min_max (v, &lo, &hi);
  int want = lv_storage_for_range (MIN (lo, label), MAX (hi, label));
  if (want <= v->bytes_per_voxel)
    return TRUE;
  int64_t n = lv_volume_n_voxels (v);
  void *data = g_try_malloc ((gsize) n * want);
  if (data == NULL)
    {
      g_set_error (error, NIFTI_ERROR, NIFTI_ERROR_TOO_LARGE,
                   "cannot allocate %.1f MiB to widen the label storage", n * want / 1048576.0);
      return FALSE;
    }
  LabelVolume tmp = *v;
  tmp.data = data;
  tmp.bytes_per_voxel = want;
  for (int64_t i = 0; i < n; i++)
    lv_volume_set_index (&tmp, i, lv_volume_get_index (v, i));
  g_free (v->data);
  v->data = data;
  v->bytes_per_voxel = want;
  return TRUE;
}

int64_t *
lv_volume_histogram (const LabelVolume *v, int32_t *n_out)
{
  int32_t lo, hi;
  int64_t n = lv_volume_n_voxels (v);

  lv_volume_min_max (v, &lo, &hi);
  if (hi < 0)
    hi = 0;
  int64_t *counts = g_new0 (int64_t, (gsize) hi + 1);
  if (v->bytes_per_voxel == 1)
    {
      const uint8_t *d = v->data;
      for (int64_t i = 0; i < n; i++)
        counts[d[i]]++;
    }
  else
    for (int64_t i = 0; i < n; i++)
      {
        int32_t l = lv_volume_get_index (v, i);
        if (l >= 0)
          counts[l]++;
      }
  *n_out = hi + 1;
  return counts;
}

void
lv_volume_set_affine (LabelVolume *v, const double affine[4][4])
{
  memcpy (v->affine, affine, sizeof v->affine);
  for (int c = 0; c < 3; c++)
    {
      double s = 0;
      for (int r = 0; r < 3; r++)
        s += affine[r][c] * affine[r][c];
      v->spacing[c] = s > 0 ? sqrt (s) : 1.0;
    }
}

double
lv_volume_voxel_mm3 (const LabelVolume *v)
{
  return fabs (lv_affine_det3 (v->affine));
}

double
lv_affine_det3 (const double m[4][4])
{
  return m[0][0] * (m[1][1] * m[2][2] - m[1][2] * m[2][1])
         - m[0][1] * (m[1][0] * m[2][2] - m[1][2] * m[2][0])
         + m[0][2] * (m[1][0] * m[2][1] - m[1][1] * m[2][0]);
}

void
lv_affine_mul (const double a[4][4], const double b[4][4], double out[4][4])
{
  double r[4][4];
  for (int i = 0; i < 4; i++)
    for (int j = 0; j < 4; j++)
      r[i][j] = a[i][0] * b[0][j] + a[i][1] * b[1][j] + a[i][2] * b[2][j] + a[i][3] * b[3][j];
  memcpy (out, r, sizeof r);
}

void
lv_affine_apply (const double m[4][4], const double p[3], double out[3])
{
  double r[3];
  for (int i = 0; i < 3; i++)
    r[i] = m[i][0] * p[0] + m[i][1] * p[1] + m[i][2] * p[2] + m[i][3];
  memcpy (out, r, sizeof r);
}

gboolean
lv_affine_invert (const double m[4][4], double out[4][4])
{
  double d = lv_affine_det3 (m), norm = 0.0;
  for (int i = 0; i < 3; i++)
    for (int j = 0; j < 3; j++)
      norm = MAX (norm, fabs (m[i][j]));
  if (!isfinite (d) || !(fabs (d) > 1e-12 * norm * norm * norm))
    return FALSE;
  double r[4][4] = { { 0 } };
  for (int i = 0; i < 3; i++)
    for (int j = 0; j < 3; j++)
      {
        /* cofactor (j, i) / det */
        int i1 = (j + 1) % 3, i2 = (j + 2) % 3, j1 = (i + 1) % 3, j2 = (i + 2) % 3;
        r[i][j] = (m[i1][j1] * m[i2][j2] - m[i1][j2] * m[i2][j1]) / d;
      }
  for (int i = 0; i < 3; i++)
    r[i][3] = -(r[i][0] * m[0][3] + r[i][1] * m[1][3] + r[i][2] * m[2][3]);
  r[3][3] = 1.0;
  memcpy (out, r, sizeof r);
  return TRUE;
}

int
lv_affine_voxel_axis_along (const double m[4][4], int world_axis)
{
  int axis = 0;
  for (int b = 1; b < 3; b++)
    if (fabs (m[world_axis][b]) > fabs (m[world_axis][axis]))
      axis = b;
  return axis;
}

void
lv_volume_orientation (const LabelVolume *v, char code[4])
{
  /* For each voxel axis, the world axis it is closest to and the direction
   * it points in; letters name where the axis points (R/L, A/P, S/I). */
  static const char pos[3] = { 'R', 'A', 'S' }, neg[3] = { 'L', 'P', 'I' };
  gboolean used[3] = { FALSE, FALSE, FALSE };

  for (int c = 0; c < 3; c++)
    {
      int best = -1;
      double best_abs = -1;
      for (int r = 0; r < 3; r++)
        if (!used[r] && fabs (v->affine[r][c]) > best_abs)
          {
            best_abs = fabs (v->affine[r][c]);
            best = r;
          }
      used[best] = TRUE;
      code[c] = v->affine[best][c] >= 0 ? pos[best] : neg[best];
    }
  code[3] = '\0';
}

int
lv_compare_ids (gconstpointer a, gconstpointer b)
{
  int32_t x = *(const int32_t *) a, y = *(const int32_t *) b;
  return (x > y) - (x < y);
}

GArray *
lv_ids_of_set (GHashTable *set, gboolean sorted)
{
  GArray *out = g_array_sized_new (FALSE, FALSE, sizeof (int32_t), g_hash_table_size (set));
  GHashTableIter it;
  gpointer key;
  g_hash_table_iter_init (&it, set);
  while (g_hash_table_iter_next (&it, &key, NULL))
    {
      int32_t l = GPOINTER_TO_INT (key);
      g_array_append_val (out, l);
    }
  if (sorted)
    g_array_sort (out, lv_compare_ids);
  return out;
}
