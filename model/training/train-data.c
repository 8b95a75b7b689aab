/* train-data.c: training samples and Dice (see train-data.h). */
#include "train-data.h"
#include "nn-loss.h"
#include "phantom.h"
#include "metrics.h"
#include "nifti.h"

#include <math.h>
#include <string.h>

G_DEFINE_QUARK (train-data-error-quark, train_data_error)

static int64_t
nearest_src (int64_t d, int64_t out, int64_t in)
{
  int64_t s = (int64_t) (((double) d + 0.5) * (double) in / (double) out);
  return MIN (s, in - 1);
}

gboolean
train_data_encode (const LabelVolume *partial, const LabelVolume *complete, const int grid[3],
                   const int shift[3], int n_classes, float *input, guint8 *target, guint8 *partial_out,
                   GError **error)
{
  if (partial->nx != complete->nx || partial->ny != complete->ny || partial->nz != complete->nz)
    {
      g_set_error (error, TRAIN_DATA_ERROR, TRAIN_DATA_ERROR_INPUT,
                   "partial volume %" G_GINT64_FORMAT "×%" G_GINT64_FORMAT "×%" G_GINT64_FORMAT
                   " and complete volume %" G_GINT64_FORMAT "×%" G_GINT64_FORMAT "×%" G_GINT64_FORMAT
                   " differ in size", partial->nx, partial->ny, partial->nz, complete->nx, complete->ny,
                   complete->nz);
      return FALSE;
    }
  const int64_t nx = grid[0], ny = grid[1], nz = grid[2], n = nx * ny * nz;
  memset (input, 0, (size_t) (n_classes * n) * sizeof (float));
  for (int64_t z = 0; z < nz; z++)
    for (int64_t y = 0; y < ny; y++)
      for (int64_t x = 0; x < nx; x++)
        {
          int64_t q = (z * ny + y) * nx + x;
          /* destination (x, y, z) shows source grid position (x - sx, y - sy, z - sz) */
          int64_t gx = x - shift[0], gy = y - shift[1], gz = z - shift[2];
          int32_t lp = 0, lc = 0;
          if (gx >= 0 && gx < nx && gy >= 0 && gy < ny && gz >= 0 && gz < nz)
            {
              int64_t sx = nearest_src (gx, nx, partial->nx), sy = nearest_src (gy, ny, partial->ny);
              int64_t sz = nearest_src (gz, nz, partial->nz);
              lp = lv_volume_get (partial, sx, sy, sz);
              lc = lv_volume_get (complete, sx, sy, sz);
            }
          if (lp < 0 || lp >= n_classes)
            lp = 0;
          if (lc < 0 || lc >= n_classes)
            lc = 0;
          input[lp * n + q] = 1.0f;
          target[q] = (guint8) lc;
          if (partial_out)
            partial_out[q] = (guint8) lp;
        }
  return TRUE;
}

gboolean
train_data_phantom_sample (guint64 seed, guint64 index, const int grid[3], int max_shift, int n_classes,
                           float *input, guint8 *target, guint8 *partial_out, guint32 *removed,
                           GError **error)
{
  PhantomParams pp;
  phantom_params_init (&pp);
  pp.seed = phantom_derive_seed (seed ^ TRAIN_STREAM_SUBJECT, index);
  for (int a = 0; a < 3; a++)
    pp.grid[a] = grid[a];
  g_autoptr (LabelVolume) complete = phantom_generate (&pp, error);
  if (complete == NULL)
    return FALSE;
  g_autoptr (LabelVolume) partial = phantom_make_partial (complete, phantom_derive_seed (seed ^ TRAIN_STREAM_PARTIAL,
                                                                                         index), removed, error);
  if (partial == NULL)
    return FALSE;
  int shift[3];
  train_data_shift (seed, index, max_shift, shift);
  return train_data_encode (partial, complete, grid, shift, n_classes, input, target, partial_out, error);
}

void
train_data_predict (const float *prob, int C, int64_t n, const guint8 *partial, guint8 *pred)
{
  for (int64_t q = 0; q < n; q++)
    {
      if (partial && partial[q] != 0)
        {
          pred[q] = partial[q];
          continue;
        }
      int best = 0;
      float bp = prob[q];
      for (int c = 1; c < C; c++)
        if (prob[(int64_t) c * n + q] > bp)
          {
            bp = prob[(int64_t) c * n + q];
            best = c;
          }
      pred[q] = (guint8) best;
    }
}

void
train_data_dice (const guint8 *pred, const guint8 *truth, int64_t n, double dice[32])
{
  int64_t inter[32] = { 0 }, np[32] = { 0 }, nt[32] = { 0 };
  for (int64_t q = 0; q < n; q++)
    {
      if (truth[q] == NN_LOSS_IGNORE)
        continue;
      int a = pred[q] & 31, b = truth[q] == NN_LOSS_BACKGROUND_OR ? 0 : truth[q] & 31;
      np[a]++;
      nt[b]++;
      if (a == b)
        inter[a]++;
    }
  for (int l = 0; l < 32; l++)
    dice[l] = metrics_dice (np[l], nt[l], inter[l]);
}

double
train_data_removed_dice (const guint8 *pred, const guint8 *truth, int64_t n, guint32 removed)
{
  double dice[32], s = 0.0;
  int k = 0;
  train_data_dice (pred, truth, n, dice);
  for (int l = 1; l < 32; l++)
    if ((removed >> l) & 1u && !isnan (dice[l]))
      {
        s += dice[l];
        k++;
      }
  return k ? s / k : NAN;
}

static gint
cmp_str (gconstpointer a, gconstpointer b)
{
  return strcmp (*(char *const *) a, *(char *const *) b);
}

gboolean
train_data_scan_dataset (const char *dir, GPtrArray **partials, GPtrArray **completes, GError **error)
{
  g_autofree char *cdir = g_build_filename (dir, "complete", NULL);
  g_autoptr (GDir) gd = g_dir_open (cdir, 0, error);
  if (gd == NULL)
    return FALSE;
  g_autoptr (GPtrArray) ps = g_ptr_array_new_with_free_func (g_free);
  g_autoptr (GPtrArray) cs = g_ptr_array_new_with_free_func (g_free);
  g_autoptr (GPtrArray) subjects = g_ptr_array_new_with_free_func (g_free);
  const char *name;
  while ((name = g_dir_read_name (gd)))
    if (g_str_has_suffix (name, "_full.nii.gz") || g_str_has_suffix (name, "_full.nii"))
      g_ptr_array_add (subjects, g_strdup (name));
  g_ptr_array_sort (subjects, cmp_str);
  for (guint i = 0; i < subjects->len; i++)
    {
      const char *full = g_ptr_array_index (subjects, i);
      g_autofree char *sid = g_strndup (full, strstr (full, "_full") - full);
      g_autofree char *idir = g_build_filename (dir, "incomplete", sid, NULL);
      g_autoptr (GDir) pd = g_dir_open (idir, 0, NULL);
      if (pd == NULL)
        continue;
      g_autoptr (GPtrArray) parts = g_ptr_array_new_with_free_func (g_free);
      while ((name = g_dir_read_name (pd)))
        if (nifti_path_is_supported (name))
          g_ptr_array_add (parts, g_build_filename (idir, name, NULL));
      g_ptr_array_sort (parts, cmp_str);
      for (guint k = 0; k < parts->len; k++)
        {
          g_ptr_array_add (ps, g_strdup (g_ptr_array_index (parts, k)));
          g_ptr_array_add (cs, g_build_filename (cdir, full, NULL));
        }
    }
  if (ps->len == 0)
    {
      g_set_error (error, G_FILE_ERROR, G_FILE_ERROR_NOENT,
                   "%s: no complete/sXXXX_full.nii.gz with incomplete/sXXXX/*.nii.gz pairs found", dir);
      return FALSE;
    }
  *partials = g_steal_pointer (&ps);
  *completes = g_steal_pointer (&cs);
  return TRUE;
}

void
train_data_shift (guint64 seed, guint64 index, int max_shift, int shift[3])
{
  guint64 h = phantom_derive_seed (seed ^ TRAIN_STREAM_SHIFT, index);
  for (int a = 0; a < 3; a++)
    {
      shift[a] = max_shift > 0 ? (int) (h % (guint64) (2 * max_shift + 1)) - max_shift : 0;
      h /= (guint64) (2 * max_shift + 1);
    }
}
