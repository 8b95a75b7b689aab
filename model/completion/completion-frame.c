/* completion-frame.c: placing a label map in the network's cube (see completion-frame.h). */
#include "completion-frame.h"
#include "completion.h"
#include "label-table.h"
#include "stats-util.h"

#include <math.h>
#include <string.h>

/* The placement reference: mean class centroids of the phantom population as it was on
 * 2026-12-01 (24 subjects, `anatomy phantom --seed 5 --grid 64`, mm from the cube's
 * centre).  It is a convention shared by training and inference, so it stays fixed:
 * every model placed its training samples with it (changing it means retraining them);
 * tests/test-completion-frame.c checks that it still places today's phantoms sensibly. */
static const CompletionFrameReference phantom_reference = { {
  {    0.0,    0.0,    0.0 },
  {    0.6,  -33.8,   41.8 },   /* lung */
  {  -14.6,   14.2,  -16.6 },   /* heart */
  {  -82.9,  -41.3,  -99.3 },   /* spleen */
  {  -42.1,   12.3, -123.7 },   /* stomach */
  {   -8.3,    1.8, -114.4 },   /* pancreas */
  {    0.4,  -66.3,  -29.3 },   /* spine */
  {    0.6,  -39.2,   31.1 },   /* rib cage */
  {   57.8,    2.4,  -94.2 },   /* liver */
  {    1.5,  -43.6, -125.5 },   /* kidney */
  {   -0.9,  -19.4,    4.5 },   /* aorta */
  {    0.8, -113.3,   31.4 },   /* autochthon muscles */
  {   -2.0,  -13.6,   42.5 },   /* pulmonary artery */
} };

const CompletionFrameReference *
completion_frame_reference_default (void)
{
  return &phantom_reference;
}

/* Structures whose extent along the body depends on the field of view. */
static gboolean
is_long_structure (int c)
{
  return c == LT_SPINE || c == LT_RIB_CAGE || c == LT_AORTA || c == LT_AUTOCHTHON;
}

/* Per class 1..12: voxel count, sum of voxel indices and index bounding box. */
typedef struct {
  int64_t count[COMPLETION_FRAME_N_CLASSES];
  double sum[COMPLETION_FRAME_N_CLASSES][3];
  int64_t lo[COMPLETION_FRAME_N_CLASSES][3], hi[COMPLETION_FRAME_N_CLASSES][3];
} ClassStats;

static void
class_stats (const LabelVolume *v, ClassStats *s)
{
  memset (s, 0, sizeof *s);
  for (int c = 0; c < COMPLETION_FRAME_N_CLASSES; c++)
    for (int a = 0; a < 3; a++)
      {
        s->lo[c][a] = G_MAXINT64;
        s->hi[c][a] = -1;
      }
  int64_t idx = 0;
  for (int64_t k = 0; k < v->nz; k++)
    for (int64_t j = 0; j < v->ny; j++)
      {
        /* per row: count and sum i; the row's j and k are added once per run */
        int64_t row_count[COMPLETION_FRAME_N_CLASSES] = { 0 };
        for (int64_t i = 0; i < v->nx; i++, idx++)
          {
            int32_t l = lv_volume_get_index (v, idx);
            if (l <= 0 || l >= COMPLETION_FRAME_N_CLASSES)
              continue;
            row_count[l]++;
            s->sum[l][0] += (double) i;
            s->lo[l][0] = MIN (s->lo[l][0], i);
            s->hi[l][0] = MAX (s->hi[l][0], i);
          }
        for (int c = 1; c < COMPLETION_FRAME_N_CLASSES; c++)
          if (row_count[c])
            {
              s->count[c] += row_count[c];
              s->sum[c][1] += (double) row_count[c] * (double) j;
              s->sum[c][2] += (double) row_count[c] * (double) k;
              s->lo[c][1] = MIN (s->lo[c][1], j);
              s->hi[c][1] = MAX (s->hi[c][1], j);
              s->lo[c][2] = MIN (s->lo[c][2], k);
              s->hi[c][2] = MAX (s->hi[c][2], k);
            }
      }
}

gboolean
completion_frame_init (CompletionFrame *f, const LabelVolume *input, const int grid[3], double voxel_mm,
                       const CompletionFrameReference *ref, GError **error)
{
  const double(*A)[4] = input->affine;
  const int64_t dims[3] = { input->nx, input->ny, input->nz };
  double Ainv[4][4];
  ClassStats st;

  memset (f, 0, sizeof *f);
  memcpy (f->grid, grid, sizeof f->grid);
  f->voxel_mm = voxel_mm;
  if (!(voxel_mm > 0) || !lv_affine_invert (A, Ainv))
    {
      g_set_error (error, COMPLETION_ERROR, COMPLETION_ERROR_INPUT,
                   "the volume's voxel-to-world transform is singular: its orientation is unknown");
      return FALSE;
    }
  if (ref == NULL)
    ref = completion_frame_reference_default ();
  class_stats (input, &st);

  /* world centroid of each class, and whether it is cut by the field of view along
   * each world axis (judged on the input axis closest to it) */
  double centroid[COMPLETION_FRAME_N_CLASSES][3];
  int input_axis[3];
  for (int a = 0; a < 3; a++)
    input_axis[a] = lv_affine_voxel_axis_along (A, a);
  int n_present = 0;
  for (int c = 1; c < COMPLETION_FRAME_N_CLASSES; c++)
    {
      if (st.count[c] == 0)
        continue;
      n_present++;
      double m[3] = { st.sum[c][0] / st.count[c], st.sum[c][1] / st.count[c], st.sum[c][2] / st.count[c] };
      for (int a = 0; a < 3; a++)
        centroid[c][a] = A[a][0] * m[0] + A[a][1] * m[1] + A[a][2] * m[2] + A[a][3];
    }
  if (n_present == 0)
    {
      g_set_error (error, COMPLETION_ERROR, COMPLETION_ERROR_INPUT,
                   "the volume holds no organ of the 12 classes to place the completion by");
      return FALSE;
    }

  for (int a = 0; a < 3; a++)
    {
      double diff[COMPLETION_FRAME_N_CLASSES];
      int n = 0;
      for (int pass = 0; pass < 2 && n == 0; pass++)
        for (int c = 1; c < COMPLETION_FRAME_N_CLASSES; c++)
          {
            if (st.count[c] == 0)
              continue;
            int ia = input_axis[a];
            gboolean cut = st.lo[c][ia] == 0 || st.hi[c][ia] == dims[ia] - 1;
            if (pass == 0 && (cut || (a == 2 && is_long_structure (c))))
              continue;
            diff[n++] = ref->centroid[c][a] - centroid[c][a];
          }
      f->shift_mm[a] = stats_median_inplace (diff, n);
      f->n_anchors[a] = n;
    }

  /* cube voxel g -> reference frame (g - (G - 1) / 2) * s -> input world (minus shift) */
  double cube_to_world[4][4] = { { 0 } };
  for (int a = 0; a < 3; a++)
    {
      cube_to_world[a][a] = voxel_mm;
      cube_to_world[a][3] = -0.5 * (grid[a] - 1) * voxel_mm - f->shift_mm[a];
    }
  cube_to_world[3][3] = 1.0;
  lv_affine_mul (Ainv, cube_to_world, f->cube_to_input);
  if (!lv_affine_invert (f->cube_to_input, f->input_to_cube))
    {
      g_set_error (error, COMPLETION_ERROR, COMPLETION_ERROR_INPUT,
                   "the volume's voxel-to-world transform is singular: its orientation is unknown");
      return FALSE;
    }
  return TRUE;
}

void
completion_frame_sample_input (const CompletionFrame *f, const LabelVolume *input, int in_channels, float *x)
{
  /* x is (in_channels, D, H, W), (D, H, W) = grid (z, y, x) */
  const int W = f->grid[0], H = f->grid[1], D = f->grid[2];
  const int64_t N = (int64_t) D * H * W;
  const double(*M)[4] = f->cube_to_input;
  const int S = COMPLETION_FRAME_SUBSAMPLES;
  memset (x, 0, (size_t) in_channels * (size_t) N * sizeof (float));
  for (int z = 0; z < D; z++)
    for (int y = 0; y < H; y++)
      for (int xx = 0; xx < W; xx++)
        {
          /* the most frequent label at S³ points spread evenly over the cube voxel */
          int votes[COMPLETION_MAX_CLASSES] = { 0 };
          for (int sz = 0; sz < S; sz++)
            for (int sy = 0; sy < S; sy++)
              for (int sx = 0; sx < S; sx++)
                {
                  const double g[3] = { xx + (sx + 0.5) / S - 0.5, y + (sy + 0.5) / S - 0.5, z + (sz + 0.5) / S - 0.5 };
                  int64_t q[3];
                  for (int a = 0; a < 3; a++)
                    q[a] = (int64_t) floor (M[a][0] * g[0] + M[a][1] * g[1] + M[a][2] * g[2] + M[a][3] + 0.5);
                  int32_t l = 0;
                  if (q[0] >= 0 && q[1] >= 0 && q[2] >= 0 && q[0] < input->nx && q[1] < input->ny && q[2] < input->nz)
                    l = lv_volume_get (input, q[0], q[1], q[2]);
                  if (l < 0 || l >= in_channels || l >= COMPLETION_MAX_CLASSES)
                    l = 0;
                  votes[l]++;
                }
          int best = 0;
          for (int c = 1; c < MIN (in_channels, COMPLETION_MAX_CLASSES); c++)
            if (votes[c] > votes[best])
              best = c;
          x[(int64_t) best * N + ((int64_t) z * H + y) * W + xx] = 1.0f;
        }
}

void
completion_frame_probs_at (const CompletionFrame *f, const float *probs, int C, const int *classes, int n_classes,
                           double i, double j, double k, float *p)
{
  /* probs is (C, D, H, W); p is (n_classes) */
  const int W = f->grid[0], H = f->grid[1], D = f->grid[2];
  const int64_t N = (int64_t) D * H * W;
  const double(*M)[4] = f->input_to_cube;
  double q[3];
  for (int a = 0; a < 3; a++)
    q[a] = M[a][0] * i + M[a][1] * j + M[a][2] * k + M[a][3];
  for (int a = 0; a < 3; a++)
    if (!(q[a] >= -0.5 && q[a] <= f->grid[a] - 0.5))
      {
        for (int c = 0; c < n_classes; c++)
          p[c] = classes[c] == 0 ? 1.0f : 0.0f;
        return;
      }
  int lo[3];
  float w[3];
  for (int a = 0; a < 3; a++)
    {
      double t = CLAMP (q[a], 0.0, (double) (f->grid[a] - 1));
      lo[a] = MIN ((int) t, f->grid[a] - 2 >= 0 ? f->grid[a] - 2 : 0);
      w[a] = (float) (t - lo[a]);
    }
  const int dx = W > 1 ? 1 : 0;
  const int64_t dy = H > 1 ? W : 0, dz = D > 1 ? (int64_t) H * W : 0;
  const int64_t base = ((int64_t) lo[2] * H + lo[1]) * W + lo[0];
  for (int c = 0; c < n_classes; c++)
    {
      const float *g = probs + (int64_t) classes[c] * N + base;
      float c00 = g[0] + w[0] * (g[dx] - g[0]);
      float c10 = g[dy] + w[0] * (g[dy + dx] - g[dy]);
      float c01 = g[dz] + w[0] * (g[dz + dx] - g[dz]);
      float c11 = g[dz + dy] + w[0] * (g[dz + dy + dx] - g[dz + dy]);
      float c0 = c00 + w[1] * (c10 - c00), c1 = c01 + w[1] * (c11 - c01);
      p[c] = c0 + w[2] * (c1 - c0);
    }
}
