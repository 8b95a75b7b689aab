/* nn-ops-conv.c: convolution kernels (see nn-ops.h for the layout).
 *
 * conv3d: im2col in L2-sized slabs, one single-threaded sgemm per slab, bias and
 * activation fused on the slab, and for narrow layers a direct path (padded
 * input rows, register blocks with FMAs); transposed conv3d: sgemm of Wᵀ with
 * input slabs, then col2im; BatchNorm folding.  Each has its naive twin.
 */
#include "nn-ops.h"

#include <cblas.h>
#include <math.h>
#include <string.h>

/* ---- convolution ------------------------------------------------------- */

int
nn_conv_out_size (int in, int k, int s, int p)
{
  if (s <= 0)
    return 0;
  int span = in + 2 * p - k;
  return span < 0 ? 0 : span / s + 1;
}

int
nn_convt_out_size (int in, int k, int s, int p)
{
  return (in - 1) * s - 2 * p + k;
}

int64_t
nn_slab_cols (int64_t rows, int64_t total_cols, int n_threads)
{
  int64_t cols = NN_SLAB_COLS;

  if (rows < 1)
    rows = 1;
  if (rows * cols > NN_SLAB_MAX_FLOATS)
    cols = MAX (64, NN_SLAB_MAX_FLOATS / rows);
  /* enough slabs for every thread, and slabs of even sizes */
  int64_t n_slabs = (total_cols + cols - 1) / cols;
  if (n_threads > 1 && n_slabs < n_threads * 2 && total_cols >= 64 * n_threads)
    n_slabs = n_slabs < n_threads ? n_threads : ((n_slabs + n_threads - 1) / n_threads) * n_threads;
  if (n_slabs < 1)
    n_slabs = 1;
  cols = (total_cols + n_slabs - 1) / n_slabs;
  cols = (cols + 15) & ~(int64_t) 15;
  return MAX (16, cols);
}

/* Leading dimension of an im2col slab of ns columns: padded so that rows do not sit a
 * power of two apart (which makes OpenBLAS's packing of the slab thrash the cache). */
int64_t
nn_slab_ld (int64_t ns)
{
  int64_t ld = (ns + 15) & ~(int64_t) 15;
  return (ld & 255) == 0 ? ld + 16 : ld;
}

gboolean
nn_conv_is_pointwise (const NnConvGeom *g)
{
  for (int a = 0; a < 3; a++)
    if (g->k[a] != 1 || g->s[a] != 1 || g->p[a] != 0)
      return FALSE;
  return TRUE;
}

/* Direct path (see direct_row_task): padded input rows of one output row. */
#define DIRECT_VL 16         /* floats per vector */
#define DIRECT_CO_MAX 8      /* output channels per register block: 8, or 4 for narrower layers */
#define DIRECT_WB_MAX 4      /* vectors per register block along W: 3 with 8 channels, 4 with 4 */

static NnConvPath forced_path = NN_CONV_PATH_AUTO;

void
nn_conv3d_force_path (NnConvPath path)
{
  forced_path = path;
}

static gboolean
conv_direct_possible (const NnConvGeom *g)
{
  return g->s[2] == 1 && g->k[0] * g->k[1] * g->k[2] > 1;
}

static gboolean
conv_use_direct (const NnConvGeom *g, int W, int Wo, gboolean best)
{
  /* W <= 2048: the scratch bound of nn_conv3d_scratch_floats () */
  if (!conv_direct_possible (g) || W > 2048 || forced_path == NN_CONV_PATH_IM2COL)
    return FALSE;
  if (!best)
    return forced_path == NN_CONV_PATH_DIRECT;
  if (forced_path == NN_CONV_PATH_DIRECT)
    return TRUE;
  /* measured (one thread, 3³ kernels, best of 7 per layer) with AVX-512: direct wins from
   * 4 output channels on whenever rows are at least 32 wide (1.2-2.4x for 8..128 channels
   * at 32³..128³), while on rows of 16 or 8 its 48-wide blocks idle and im2col + sgemm
   * wins; without AVX-512 (half the vector registers) only for 8..15 channels */
  if (__builtin_cpu_supports ("avx512f"))
    return g->cout >= 4 && Wo >= 32;
  return g->cout >= 8 && g->cout < 16;
}

gboolean
nn_conv_direct_wanted (const NnConvGeom *g, int W, int Wo)
{
  return conv_use_direct (g, W, Wo, TRUE);
}

static int64_t
direct_ld (const NnConvGeom *g, int W)
{
  return (((int64_t) W + 2 * g->p[2] + DIRECT_VL * DIRECT_WB_MAX + g->k[2]) + 15) & ~(int64_t) 15;
}

static int64_t
direct_scratch_floats (const NnConvGeom *g, int W)
{
  int64_t rows = (int64_t) g->cin * g->k[0] * g->k[1];
  return rows * direct_ld (g, W) + rows;   /* rows, then their tap indices (as int) */
}

int64_t
nn_conv3d_scratch_floats_w (const NnConvGeom *g, int64_t n_out_vox, int W, int n_threads)
{
  int64_t rows = (int64_t) g->cin * g->k[0] * g->k[1] * g->k[2];
  int64_t s = nn_conv_is_pointwise (g) ? g->cin * nn_slab_ld (nn_slab_cols (rows, n_out_vox, n_threads))
                                    : rows * nn_slab_ld (nn_slab_cols (rows, n_out_vox, n_threads));
  if (conv_direct_possible (g))
    s = MAX (s, direct_scratch_floats (g, W));
  return s;
}

int64_t
nn_conv3d_scratch_floats (const NnConvGeom *g, int64_t n_out_vox, int n_threads)
{
  /* without the input width: large enough for the direct path for widths up to 2048 */
  int64_t s = nn_conv3d_scratch_floats_w (g, n_out_vox, 1, n_threads);
  if (conv_direct_possible (g))
    s = MAX (s, direct_scratch_floats (g, 2048));
  return s;
}

int64_t
nn_conv_transpose3d_scratch_floats (const NnConvGeom *g, int64_t n_in_vox, int n_threads)
{
  int64_t rows = (int64_t) g->cout * g->k[0] * g->k[1] * g->k[2];
  return (rows + g->cin) * nn_slab_ld (nn_slab_cols (rows, n_in_vox, n_threads));
}

/* One convolution or transposed convolution, shared by its tasks. */
typedef struct {
  const NnConvGeom *g;
  const float *x;
  int D, H, W, Do, Ho, Wo;
  const float *w, *bias;
  NnAct act;
  float slope;
  float *y;
  float *scratch;
  int64_t scratch_per_thread;
  int64_t n_in, n_out, slab;   /* n_in: transposed convolutions only */
} ConvJob;

/* Fills col (rows, ns) with the im2col matrix of output columns n0..n0+ns-1:
 * row r = ((ci * kD + a) * kH + b) * kW + c holds x[ci, od*sD - pD + a, oh*sH - pH + b,
 * ow*sW - pW + c] for each output position (od, oh, ow), 0 outside the input. */
void
nn_im2col_slab (const NnConvGeom *g, const float *x, int D, int H, int W, int Ho, int Wo,
                int64_t n0, int64_t ns, int64_t ld, float *col)
{
  const int kD = g->k[0], kH = g->k[1], kW = g->k[2];
  const int sD = g->s[0], sH = g->s[1], sW = g->s[2];
  const int pD = g->p[0], pH = g->p[1], pW = g->p[2];
  const int64_t plane_out = (int64_t) Ho * Wo;
  const int64_t od0 = n0 / plane_out, oh0 = (n0 % plane_out) / Wo, ow0 = n0 % Wo;
  int64_t r = 0;

  for (int ci = 0; ci < g->cin; ci++)
    for (int a = 0; a < kD; a++)
      for (int b = 0; b < kH; b++)
        for (int c = 0; c < kW; c++, r++)
          {
            float *dst = col + r * ld;
            int64_t od = od0, oh = oh0, ow = ow0, done = 0;
            while (done < ns)
              {
                /* one output row segment: fixed (od, oh), ow .. ow + len - 1 */
                int64_t len = MIN ((int64_t) Wo - ow, ns - done);
                int64_t id = od * sD - pD + a, ih = oh * sH - pH + b;
                float *out = dst + done;
                if (id < 0 || id >= D || ih < 0 || ih >= H)
                  memset (out, 0, (size_t) len * sizeof (float));
                else
                  {
                    const float *src = x + ((ci * (int64_t) D + id) * H + ih) * W;
                    if (sW == 1)
                      {
                        /* iw = ow - pW + c: valid for ow in [pW - c, W + pW - c) */
                        int64_t shift = c - pW;
                        int64_t end = ow + len;
                        int64_t lo = MAX (ow, -shift), hi = MIN (end, (int64_t) W - shift);
                        if (lo > end)
                          lo = end;
                        if (hi < lo)
                          hi = lo;
                        for (int64_t q = ow; q < lo; q++)
                          out[q - ow] = 0.0f;
                        if (hi > lo)
                          memcpy (out + (lo - ow), src + lo + shift, (size_t) (hi - lo) * sizeof (float));
                        for (int64_t q = hi; q < end; q++)
                          out[q - ow] = 0.0f;
                      }
                    else
                      for (int64_t q = 0; q < len; q++)
                        {
                          int64_t iw = (ow + q) * sW - pW + c;
                          out[q] = (iw >= 0 && iw < W) ? src[iw] : 0.0f;
                        }
                  }
                done += len;
                ow = 0;
                if (++oh == Ho)
                  {
                    oh = 0;
                    od++;
                  }
              }
          }
}

static void
im2col_slab (const ConvJob *j, int64_t n0, int64_t ns, int64_t ld, float *col)
{
  nn_im2col_slab (j->g, j->x, j->D, j->H, j->W, j->Ho, j->Wo, n0, ns, ld, col);
}

/* bias and activation on the output rows of one slab: y is (Cout, n_out) */
static void
bias_act_slab (float *y, int cout, int64_t n_out, int64_t n0, int64_t ns,
               const float *bias, NnAct act, float slope)
{
  for (int co = 0; co < cout; co++)
    {
      float *row = y + co * n_out + n0;
      if (bias)
        {
          float b = bias[co];
          for (int64_t q = 0; q < ns; q++)
            row[q] += b;
        }
      nn_activate (row, ns, act, slope);
    }
}

static void
conv_slab_task (int64_t task, int thread, void *data)
{
  const ConvJob *j = data;
  const NnConvGeom *g = j->g;
  int64_t n0 = task * j->slab;
  int64_t ns = MIN (j->slab, j->n_out - n0);
  int64_t rows = (int64_t) g->cin * g->k[0] * g->k[1] * g->k[2];

  if (ns <= 0)
    return;
  if (nn_conv_is_pointwise (g))
    {
      /* xs (Cin, ns) = x[:, n0:n0+ns], copied to padded rows: the volume's row stride is
       * often a power of two, which makes OpenBLAS's packing thrash the cache */
      float *xs = j->scratch + thread * j->scratch_per_thread;
      int64_t ld = nn_slab_ld (ns);
      for (int ci = 0; ci < g->cin; ci++)
        memcpy (xs + ci * ld, j->x + ci * j->n_out + n0, (size_t) ns * sizeof (float));
      /* y[:, n0:n0+ns] (Cout, ns) = w (Cout, Cin) . xs (Cin, ns) */
      cblas_sgemm (CblasRowMajor, CblasNoTrans, CblasNoTrans, g->cout, (int) ns, g->cin,
                   1.0f, j->w, g->cin, xs, (int) ld, 0.0f, j->y + n0, (int) j->n_out);
    }
  else
    {
      float *col = j->scratch + thread * j->scratch_per_thread;   /* (rows, ns), row stride ld */
      int64_t ld = nn_slab_ld (ns);
      im2col_slab (j, n0, ns, ld, col);
      /* y[:, n0:n0+ns] (Cout, ns) = w (Cout, rows) . col (rows, ns) */
      cblas_sgemm (CblasRowMajor, CblasNoTrans, CblasNoTrans, g->cout, (int) ns, (int) rows,
                   1.0f, j->w, (int) rows, col, (int) ld, 0.0f, j->y + n0, (int) j->n_out);
    }
  bias_act_slab (j->y, g->cout, j->n_out, n0, ns, j->bias, j->act, j->slope);
}

/* ---- direct convolution for stride 1 along W -----------------------------------------
 * Per output row (od, oh): the valid input rows (ci, id, ih) of its window are copied,
 * zero-padded by pW on both sides, into scratch ("rows", R x ld).  Then registers
 * hold a block of output channels x vectors along W; every row and kernel
 * column c adds row[ow + c] * w[co, ci, a, b, c].  No im2col matrix, no packing: where
 * conv_use_direct () says so, this beats im2col + sgemm, whose cost is dominated by
 * copying and packing a matrix that each weight touches only Cout times. */

typedef float vf __attribute__ ((vector_size (DIRECT_VL * sizeof (float)), aligned (4), may_alias));

#pragma GCC push_options
#pragma GCC optimize ("fp-contract=fast")   /* ISO C mode turns contraction off: we want FMAs */
/* One register block shape, CO output channels x WB vectors; inlined into each shape's
 * clones below, so that CO and WB are constants there. */
static inline __attribute__ ((always_inline)) void
direct_kernel_body (const int CO, const int WB, const float *rows, const int *taps, int R, int64_t ld,
                    int kW, const float *w, int64_t K, int nco, int Wo, float *y, int64_t ystride,
                    const float *bias, NnAct act, float slope)
{
  /* rows (R, ld); w (Cout, K) with tap t of row r at w[co * K + taps[r] * kW + c];
   * y (nco rows of stride ystride, Wo each) */
  for (int ow0 = 0; ow0 < Wo; ow0 += DIRECT_VL * WB)
    {
      vf acc[DIRECT_CO_MAX][DIRECT_WB_MAX];
      for (int co = 0; co < CO; co++)
        for (int v = 0; v < WB; v++)
          acc[co][v] = (vf) { 0 };
      for (int r = 0; r < R; r++)
        {
          const float *row = rows + r * ld + ow0;
          const float *wr = w + (int64_t) taps[r] * kW;
          for (int c = 0; c < kW; c++)
            {
              vf x[DIRECT_WB_MAX];
              for (int v = 0; v < WB; v++)
                x[v] = *(const vf *) (row + c + v * DIRECT_VL);
              for (int co = 0; co < CO; co++)
                {
                  /* channels past nco repeat the last one: computed, never stored */
                  float wv = wr[(int64_t) (co < nco ? co : nco - 1) * K + c];
                  for (int v = 0; v < WB; v++)
                    acc[co][v] += x[v] * wv;
                }
            }
        }
      for (int co = 0; co < nco; co++)
        {
          float b = bias ? bias[co] : 0.0f;
          float *out = y + co * ystride + ow0;
          float tmp[DIRECT_VL * DIRECT_WB_MAX];
          for (int v = 0; v < WB; v++)
            *(vf *) (tmp + v * DIRECT_VL) = acc[co][v];
          int n = MIN (DIRECT_VL * WB, Wo - ow0);
          for (int q = 0; q < n; q++)
            {
              float t = tmp[q] + b;
              if (act == NN_ACT_RELU)
                t = t > 0.0f ? t : 0.0f;
              else if (act == NN_ACT_LEAKY_RELU)
                t = t > 0.0f ? t : t * slope;
              out[q] = t;
            }
        }
    }
}

#define DIRECT_KERNEL_ARGS                                                                     \
  const float *rows, const int *taps, int R, int64_t ld, int kW, const float *w, int64_t K, \
    int nco, int Wo, float *y, int64_t ystride, const float *bias, NnAct act, float slope
#define DIRECT_KERNEL_PASS rows, taps, R, ld, kW, w, K, nco, Wo, y, ystride, bias, act, slope

/* 8 channels x 3 vectors: 24 accumulators */
NN_SIMD_CLONES
static void
direct_kernel_8 (DIRECT_KERNEL_ARGS)
{
  direct_kernel_body (8, 3, DIRECT_KERNEL_PASS);
}

/* 4 channels x 4 vectors, for layers of 4..7 output channels */
NN_SIMD_CLONES
static void
direct_kernel_4 (DIRECT_KERNEL_ARGS)
{
  direct_kernel_body (4, 4, DIRECT_KERNEL_PASS);
}

#pragma GCC pop_options

static void
direct_row_task (int64_t task, int thread, void *data)
{
  const ConvJob *j = data;
  const NnConvGeom *g = j->g;
  const int kD = g->k[0], kH = g->k[1], kW = g->k[2], pW = g->p[2];
  const int64_t od = task / j->Ho, oh = task % j->Ho;
  const int64_t ld = direct_ld (g, j->W), nrows = (int64_t) g->cin * kD * kH;
  float *rows = j->scratch + thread * j->scratch_per_thread;   /* (R, ld) */
  int *taps = (int *) (rows + nrows * ld);                      /* (R) */
  int R = 0;

  for (int ci = 0; ci < g->cin; ci++)
    for (int a = 0; a < kD; a++)
      {
        int64_t id = od * g->s[0] - g->p[0] + a;
        if (id < 0 || id >= j->D)
          continue;
        for (int b = 0; b < kH; b++)
          {
            int64_t ih = oh * g->s[1] - g->p[1] + b;
            if (ih < 0 || ih >= j->H)
              continue;
            float *row = rows + R * ld;
            const float *src = j->x + ((ci * (int64_t) j->D + id) * j->H + ih) * j->W;
            memset (row, 0, (size_t) pW * sizeof (float));
            memcpy (row + pW, src, (size_t) j->W * sizeof (float));
            memset (row + pW + j->W, 0, (size_t) (ld - pW - j->W) * sizeof (float));
            taps[R++] = (ci * kD + a) * kH + b;
          }
      }
  const int64_t K = (int64_t) g->cin * kD * kH * kW;
  float *y = j->y + (od * j->Ho + oh) * j->Wo;
  const int co_block = g->cout < 8 ? 4 : 8;
  for (int co0 = 0; co0 < g->cout; co0 += co_block)
    {
      int nco = MIN (co_block, g->cout - co0);
      if (R == 0)
        {
          for (int co = 0; co < nco; co++)
            {
              float v = j->bias ? j->bias[co0 + co] : 0.0f;
              nn_activate (&v, 1, j->act, j->slope);
              for (int ow = 0; ow < j->Wo; ow++)
                y[(co0 + co) * j->n_out + ow] = v;
            }
          continue;
        }
      (co_block == 4 ? direct_kernel_4 : direct_kernel_8) (rows, taps, R, ld, kW, j->w + co0 * K, K, nco,
                                                           j->Wo, y + co0 * j->n_out, j->n_out,
                                                           j->bias ? j->bias + co0 : NULL, j->act, j->slope);
    }
}

static void
conv3d_run (WorkerPool *pool, const NnConvGeom *g, const float *x, int D, int H, int W,
            const float *w, const float *bias, NnAct act, float slope, float *y, float *scratch,
            gboolean best)
{
  ConvJob j = {
    .g = g, .x = x, .D = D, .H = H, .W = W,
    .Do = nn_conv_out_size (D, g->k[0], g->s[0], g->p[0]),
    .Ho = nn_conv_out_size (H, g->k[1], g->s[1], g->p[1]),
    .Wo = nn_conv_out_size (W, g->k[2], g->s[2], g->p[2]),
    .w = w, .bias = bias, .act = act, .slope = slope, .y = y, .scratch = scratch,
  };
  int nt = worker_pool_get_n_threads (pool);
  int64_t rows = (int64_t) g->cin * g->k[0] * g->k[1] * g->k[2];

  j.n_out = (int64_t) j.Do * j.Ho * j.Wo;
  if (j.n_out <= 0)
    return;
  j.scratch_per_thread = nn_conv3d_scratch_floats_w (g, j.n_out, W, nt);
  if (conv_use_direct (g, W, j.Wo, best))
    {
      worker_pool_run (pool, (int64_t) j.Do * j.Ho, direct_row_task, &j);
      return;
    }
  j.slab = nn_slab_cols (rows, j.n_out, nt);
  worker_pool_run (pool, (j.n_out + j.slab - 1) / j.slab, conv_slab_task, &j);
}

void
nn_conv3d (WorkerPool *pool, const NnConvGeom *g, const float *x, int D, int H, int W,
           const float *w, const float *bias, NnAct act, float slope, float *y, float *scratch)
{
  conv3d_run (pool, g, x, D, H, W, w, bias, act, slope, y, scratch, FALSE);
}

void
nn_conv3d_best (WorkerPool *pool, const NnConvGeom *g, const float *x, int D, int H, int W,
                const float *w, const float *bias, NnAct act, float slope, float *y, float *scratch)
{
  conv3d_run (pool, g, x, D, H, W, w, bias, act, slope, y, scratch, TRUE);
}

/* The naive twin of both convolutions, in gather form: every output voxel sums, in double,
 * the input voxels that reach it through each tap (a, b, c).  x is (cin, D, H, W), y is
 * (cout, Do, Ho, Wo); w is (cout, cin, kD, kH, kW) for a convolution, where output o reads
 * input o*s - p + k, and (cin, cout, kD, kH, kW) for a transposed one, where input i writes
 * output i*s - p + k. */
static void
conv_ref (const NnConvGeom *g, gboolean transposed, const float *x, int D, int H, int W,
          const float *w, const float *bias, NnAct act, float slope, float *y)
{
  int (*out_size) (int, int, int, int) = transposed ? nn_convt_out_size : nn_conv_out_size;
  int Do = out_size (D, g->k[0], g->s[0], g->p[0]);
  int Ho = out_size (H, g->k[1], g->s[1], g->p[1]);
  int Wo = out_size (W, g->k[2], g->s[2], g->p[2]);

  for (int co = 0; co < g->cout; co++)
    for (int od = 0; od < Do; od++)
      for (int oh = 0; oh < Ho; oh++)
        for (int ow = 0; ow < Wo; ow++)
          {
            double acc = bias ? bias[co] : 0.0;
            for (int ci = 0; ci < g->cin; ci++)
              for (int a = 0; a < g->k[0]; a++)
                for (int b = 0; b < g->k[1]; b++)
                  for (int c = 0; c < g->k[2]; c++)
                    {
                      int id, ih, iw;
                      int64_t wi;
                      if (transposed)
                        {
                          int nd = od + g->p[0] - a, nh = oh + g->p[1] - b, nw = ow + g->p[2] - c;
                          if (nd < 0 || nh < 0 || nw < 0 || nd % g->s[0] || nh % g->s[1] || nw % g->s[2])
                            continue;
                          id = nd / g->s[0];
                          ih = nh / g->s[1];
                          iw = nw / g->s[2];
                          wi = (((int64_t) ci * g->cout + co) * g->k[0] + a) * g->k[1] + b;
                        }
                      else
                        {
                          id = od * g->s[0] - g->p[0] + a;
                          ih = oh * g->s[1] - g->p[1] + b;
                          iw = ow * g->s[2] - g->p[2] + c;
                          wi = (((int64_t) co * g->cin + ci) * g->k[0] + a) * g->k[1] + b;
                        }
                      if (id < 0 || id >= D || ih < 0 || ih >= H || iw < 0 || iw >= W)
                        continue;
                      acc += (double) x[(((int64_t) ci * D + id) * H + ih) * W + iw]
                             * w[wi * g->k[2] + c];
                    }
            float v = (float) acc;
            nn_activate_ref (&v, 1, act, slope);
            y[(((int64_t) co * Do + od) * Ho + oh) * Wo + ow] = v;
          }
}

void
nn_conv3d_ref (const NnConvGeom *g, const float *x, int D, int H, int W,
               const float *w, const float *bias, NnAct act, float slope, float *y)
{
  conv_ref (g, FALSE, x, D, H, W, w, bias, act, slope, y);
}

static void
convt_init_task (int64_t co, int thread, void *data)
{
  const ConvJob *j = data;
  float *row = j->y + co * j->n_out;   /* (n_out) */
  float b = j->bias ? j->bias[co] : 0.0f;
  for (int64_t q = 0; q < j->n_out; q++)
    row[q] = b;
}

static void
convt_act_task (int64_t co, int thread, void *data)
{
  const ConvJob *j = data;
  nn_activate (j->y + co * j->n_out, j->n_out, j->act, j->slope);
}

static void
convt_slab_task (int64_t task, int thread, void *data)
{
  const ConvJob *j = data;
  const NnConvGeom *g = j->g;
  const int kD = g->k[0], kH = g->k[1], kW = g->k[2];
  int64_t rows = (int64_t) g->cout * kD * kH * kW;
  int64_t n0 = task * j->slab, ns = MIN (j->slab, j->n_in - n0);
  float *col = j->scratch + thread * j->scratch_per_thread;   /* (rows, ns), row stride ld */
  const int64_t plane = (int64_t) j->H * j->W, ld = nn_slab_ld (ns);

  if (ns <= 0)
    return;
  /* xs (Cin, ns) = x[:, n0:n0+ns] in padded rows (see conv_slab_task) */
  float *xs = col + rows * ld;
  for (int ci = 0; ci < g->cin; ci++)
    memcpy (xs + ci * ld, j->x + ci * j->n_in + n0, (size_t) ns * sizeof (float));
  /* col (Cout*k^3, ns) = w^T (Cout*k^3, Cin) . xs (Cin, ns); w is (Cin, Cout*k^3) */
  cblas_sgemm (CblasRowMajor, CblasTrans, CblasNoTrans, (int) rows, (int) ns, g->cin,
               1.0f, j->w, (int) rows, xs, (int) ld, 0.0f, col, (int) ld);
  /* col2im: y[co, d*sD - pD + a, h*sH - pH + b, w*sW - pW + c] += col[(co,a,b,c), (d,h,w)],
   * one run of the slab inside an input row (d, h) at a time, so that each tap's output
   * row and its valid range of w are found once per run */
  const int sW = g->s[2], pW = g->p[2];
  for (int64_t q0 = 0; q0 < ns;)
    {
      const int64_t idx = n0 + q0, d = idx / plane, h = (idx % plane) / j->W, w0 = idx % j->W;
      const int64_t len = MIN (ns - q0, j->W - w0);
      int64_t r = 0;
      for (int co = 0; co < g->cout; co++)
        for (int a = 0; a < kD; a++)
          for (int b = 0; b < kH; b++, r += kW)
            {
              int64_t od = d * g->s[0] - g->p[0] + a, oh = h * g->s[1] - g->p[1] + b;
              if (od < 0 || od >= j->Do || oh < 0 || oh >= j->Ho)
                continue;
              float *yrow = j->y + co * j->n_out + (od * j->Ho + oh) * j->Wo;
              for (int c = 0; c < kW; c++)
                {
                  /* 0 <= w * sW - pW + c < Wo */
                  int64_t lo = pW - c > 0 ? (pW - c + sW - 1) / sW : 0;
                  int64_t hi = j->Wo - 1 + pW - c >= 0 ? (j->Wo - 1 + pW - c) / sW + 1 : 0;
                  lo = MAX (lo, w0);
                  hi = MIN (hi, w0 + len);
                  const float *src = col + (r + c) * ld + q0 - w0;
                  float *yo = yrow - pW + c;
                  for (int64_t w = lo; w < hi; w++)
                    yo[w * sW] += src[w];
                }
            }
      q0 += len;
    }
}

void
nn_conv_transpose3d (WorkerPool *pool, const NnConvGeom *g, const float *x, int D, int H, int W,
                     const float *w, const float *bias, NnAct act, float slope,
                     float *y, float *scratch)
{
  ConvJob j = {
    .g = g, .x = x, .D = D, .H = H, .W = W,
    .Do = nn_convt_out_size (D, g->k[0], g->s[0], g->p[0]),
    .Ho = nn_convt_out_size (H, g->k[1], g->s[1], g->p[1]),
    .Wo = nn_convt_out_size (W, g->k[2], g->s[2], g->p[2]),
    .w = w, .bias = bias, .act = act, .slope = slope, .y = y, .scratch = scratch,
  };
  int nt = worker_pool_get_n_threads (pool);
  int64_t rows = (int64_t) g->cout * g->k[0] * g->k[1] * g->k[2];
  gboolean disjoint = g->k[0] <= g->s[0] && g->k[1] <= g->s[1] && g->k[2] <= g->s[2];

  j.n_in = (int64_t) D * H * W;
  j.n_out = (int64_t) j.Do * j.Ho * j.Wo;
  if (j.n_out <= 0 || j.n_in <= 0)
    return;
  j.slab = nn_slab_cols (rows, j.n_in, nt);
  j.scratch_per_thread = nn_conv_transpose3d_scratch_floats (g, j.n_in, nt);
  worker_pool_run (pool, g->cout, convt_init_task, &j);
  worker_pool_run (disjoint ? pool : NULL, (j.n_in + j.slab - 1) / j.slab, convt_slab_task, &j);
  if (act != NN_ACT_NONE)
    worker_pool_run (pool, g->cout, convt_act_task, &j);
}

void
nn_conv_transpose3d_ref (const NnConvGeom *g, const float *x, int D, int H, int W,
                         const float *w, const float *bias, NnAct act, float slope, float *y)
{
  conv_ref (g, TRUE, x, D, H, W, w, bias, act, slope, y);
}

void
nn_fold_batchnorm (float *w, float *bias, int cout, int64_t per_out,
                   const float *gamma, const float *beta, const float *mean, const float *var,
                   float eps)
{
  /* w is (Cout, per_out), bias (Cout) */
  for (int co = 0; co < cout; co++)
    {
      double scale = gamma[co] / sqrt ((double) var[co] + eps);
      for (int64_t q = 0; q < per_out; q++)
        w[co * per_out + q] = (float) (w[co * per_out + q] * scale);
      bias[co] = (float) ((bias[co] - mean[co]) * scale + beta[co]);
    }
}

void
nn_batchnorm_ref (const float *x, int C, int64_t n, const float *gamma, const float *beta,
                  const float *mean, const float *var, float eps, float *y)
{
  for (int c = 0; c < C; c++)
    for (int64_t i = 0; i < n; i++)
      y[c * n + i] = (float) ((x[c * n + i] - mean[c]) / sqrt ((double) var[c] + eps) * gamma[c]
                              + beta[c]);
}
