/* nn-ops.c: the float32 kernels besides convolution (see nn-ops.h for the layout).
 *
 * Activations, max pooling, softmax across channels, concatenation, trilinear
 * resizing and the comparison helper, each with its naive twin; the
 * convolutions are in nn-ops-conv.c.
 */
#include "nn-ops.h"

#include <math.h>
#include <string.h>

/* ---- activations ------------------------------------------------------- */

void
nn_activate (float *x, int64_t n, NnAct act, float slope)
{
  /* x is (n) */
  if (act == NN_ACT_RELU)
    for (int64_t i = 0; i < n; i++)
      x[i] = x[i] > 0.0f ? x[i] : 0.0f;
  else if (act == NN_ACT_LEAKY_RELU)
    for (int64_t i = 0; i < n; i++)
      x[i] = x[i] > 0.0f ? x[i] : x[i] * slope;
}

/* ---- zeroing ----------------------------------------------------------- */

#define ZERO_CHUNK ((size_t) 1 << 20)

typedef struct {
  char *p;
  size_t bytes;
} ZeroJob;

static void
zero_task (int64_t task, int thread, void *data)
{
  const ZeroJob *j = data;
  size_t off = (size_t) task * ZERO_CHUNK;
  (void) thread;
  memset (j->p + off, 0, MIN (ZERO_CHUNK, j->bytes - off));
}

void
nn_zero (WorkerPool *pool, void *p, size_t bytes)
{
  ZeroJob j = { p, bytes };
  worker_pool_run (pool, (int64_t) ((bytes + ZERO_CHUNK - 1) / ZERO_CHUNK), zero_task, &j);
}

void
nn_activate_ref (float *x, int64_t n, NnAct act, float slope)
{
  for (int64_t i = 0; i < n; i++)
    {
      if (act == NN_ACT_RELU && x[i] < 0.0f)
        x[i] = 0.0f;
      else if (act == NN_ACT_LEAKY_RELU && x[i] < 0.0f)
        x[i] = slope * x[i];
    }
}

/* ---- pooling ----------------------------------------------------------- */

typedef struct {
  int C;
  const int *k, *s, *p;
  const float *x;
  int D, H, W, Do, Ho, Wo;
  float *y, *scratch;
} PoolJob;

static void
maxpool_plane_task (int64_t task, int thread, void *data)
{
  const PoolJob *j = data;
  int64_t c = task / j->Do, od = task % j->Do;
  float *rowmax = j->scratch + (int64_t) thread * j->W;   /* (W) */
  const float *xc = j->x + c * (int64_t) j->D * j->H * j->W;
  float *yp = j->y + (c * j->Do + od) * (int64_t) j->Ho * j->Wo;   /* (Ho, Wo) */

  for (int oh = 0; oh < j->Ho; oh++)
    {
      /* rowmax[w] = max over the window's (d, h) rows */
      for (int w = 0; w < j->W; w++)
        rowmax[w] = -INFINITY;
      for (int a = 0; a < j->k[0]; a++)
        {
          int64_t id = od * j->s[0] - j->p[0] + a;
          if (id < 0 || id >= j->D)
            continue;
          for (int b = 0; b < j->k[1]; b++)
            {
              int64_t ih = (int64_t) oh * j->s[1] - j->p[1] + b;
              if (ih < 0 || ih >= j->H)
                continue;
              const float *src = xc + (id * j->H + ih) * j->W;
              for (int w = 0; w < j->W; w++)
                rowmax[w] = src[w] > rowmax[w] ? src[w] : rowmax[w];
            }
        }
      /* out[ow] = max over c2 of rowmax[ow*sW - pW + c2], the valid ow range of each c2 first */
      float *out = yp + (int64_t) oh * j->Wo;
      const int sW = j->s[2], pW = j->p[2];
      for (int ow = 0; ow < j->Wo; ow++)
        out[ow] = -INFINITY;
      for (int c2 = 0; c2 < j->k[2]; c2++)
        {
          int lo = pW - c2 > 0 ? (pW - c2 + sW - 1) / sW : 0;   /* first ow with iw >= 0 */
          int hi = (j->W - 1 + pW - c2) >= 0 ? (j->W - 1 + pW - c2) / sW + 1 : 0;   /* iw <= W-1 */
          hi = MIN (hi, j->Wo);
          const int off = c2 - pW;   /* iw = ow * sW + off, inside 0..W-1 for lo <= ow < hi */
          if (sW == 1)
            for (int ow = lo; ow < hi; ow++)
              out[ow] = rowmax[ow + off] > out[ow] ? rowmax[ow + off] : out[ow];
          else
            for (int ow = lo; ow < hi; ow++)
              out[ow] = rowmax[ow * sW + off] > out[ow] ? rowmax[ow * sW + off] : out[ow];
        }
    }
}

void
nn_maxpool3d (WorkerPool *pool, int C, const int k[3], const int s[3], const int p[3],
              const float *x, int D, int H, int W, float *y, float *scratch)
{
  PoolJob j = {
    .C = C, .k = k, .s = s, .p = p, .x = x, .D = D, .H = H, .W = W,
    .Do = nn_conv_out_size (D, k[0], s[0], p[0]),
    .Ho = nn_conv_out_size (H, k[1], s[1], p[1]),
    .Wo = nn_conv_out_size (W, k[2], s[2], p[2]),
    .y = y, .scratch = scratch,
  };
  worker_pool_run (pool, (int64_t) C * j.Do, maxpool_plane_task, &j);
}

int64_t *
nn_maxpool3d_argmax_ref (int C, const int k[3], const int s[3], const int p[3],
                         const float *x, int D, int H, int W, int64_t *n_out)
{
  int Do = nn_conv_out_size (D, k[0], s[0], p[0]);
  int Ho = nn_conv_out_size (H, k[1], s[1], p[1]);
  int Wo = nn_conv_out_size (W, k[2], s[2], p[2]);
  *n_out = (int64_t) C * Do * Ho * Wo;
  int64_t *arg = g_new (int64_t, MAX (*n_out, 1)), *o = arg;

  for (int c = 0; c < C; c++)
    for (int od = 0; od < Do; od++)
      for (int oh = 0; oh < Ho; oh++)
        for (int ow = 0; ow < Wo; ow++, o++)
          {
            *o = -1;
            for (int a = 0; a < k[0]; a++)
              for (int b = 0; b < k[1]; b++)
                for (int cc = 0; cc < k[2]; cc++)
                  {
                    int id = od * s[0] - p[0] + a, ih = oh * s[1] - p[1] + b, iw = ow * s[2] - p[2] + cc;
                    if (id < 0 || id >= D || ih < 0 || ih >= H || iw < 0 || iw >= W)
                      continue;
                    int64_t xi = (((int64_t) c * D + id) * H + ih) * W + iw;
                    if (*o < 0 || x[xi] > x[*o])
                      *o = xi;
                  }
          }
  return arg;
}

void
nn_maxpool3d_ref (int C, const int k[3], const int s[3], const int p[3],
                  const float *x, int D, int H, int W, float *y)
{
  int64_t n;
  g_autofree int64_t *arg = nn_maxpool3d_argmax_ref (C, k, s, p, x, D, H, W, &n);
  for (int64_t o = 0; o < n; o++)
    y[o] = arg[o] >= 0 ? x[arg[o]] : -INFINITY;
}

/* ---- softmax ----------------------------------------------------------- */

#define SOFTMAX_BLOCK 512

typedef struct {
  const float *x;
  int C;
  int64_t n;
  float *y;
} SoftmaxJob;

/* e^x for x <= 0, in float and without library calls so that the loop vectorises.
 * glibc's expf takes a slow path for every result that underflows, which confident
 * logits give at most voxels.  x is clamped at -87 (e^-87 = 1.6e-38, about the smallest
 * normal float); a NaN stays NaN, so that a broken model is still caught downstream.
 * e^x = 2^k e^r, k = round (x / ln 2), r = x - k ln 2 in two parts (|r| <= ln 2 / 2),
 * e^r by its Taylor series to r^7 (error < 1e-8 relative). */
static inline float
exp_nonpositive (float x_in)
{
  float nan_kept = x_in < -87.0f ? -87.0f : x_in;   /* a NaN stays NaN */
  float x = nan_kept == nan_kept ? nan_kept : 0.0f;   /* no NaN reaches the integer part */
  float k = (x * 1.44269504f + 12582912.0f) - 12582912.0f;   /* round to nearest */
  float r = (x - k * 0.693145752f) - k * 1.42860677e-6f;
  float p = 1.0f / 5040.0f;
  p = p * r + 1.0f / 720.0f;
  p = p * r + 1.0f / 120.0f;
  p = p * r + 1.0f / 24.0f;
  p = p * r + 1.0f / 6.0f;
  p = p * r + 0.5f;
  p = p * r + 1.0f;
  p = p * r + 1.0f;
  int32_t bits = ((int32_t) k + 127) << 23;   /* 2^k, k >= -126 */
  float scale;
  memcpy (&scale, &bits, sizeof scale);
  return nan_kept == nan_kept ? p * scale : nan_kept;
}

NN_SIMD_CLONES
static void
softmax_block_task (int64_t task, int thread, void *data)
{
  const SoftmaxJob *j = data;
  int64_t i0 = task * SOFTMAX_BLOCK, len = MIN (SOFTMAX_BLOCK, j->n - i0);
  float m[SOFTMAX_BLOCK], sum[SOFTMAX_BLOCK];

  /* x, y are (C, n); this block is columns i0 .. i0+len-1 */
  for (int64_t q = 0; q < len; q++)
    {
      m[q] = j->x[i0 + q];
      sum[q] = 0.0f;
    }
  for (int c = 1; c < j->C; c++)
    {
      const float *xr = j->x + c * j->n + i0;
      for (int64_t q = 0; q < len; q++)
        m[q] = xr[q] > m[q] ? xr[q] : m[q];
    }
  for (int c = 0; c < j->C; c++)
    {
      const float *xr = j->x + c * j->n + i0;
      float *yr = j->y + c * j->n + i0;
      for (int64_t q = 0; q < len; q++)
        {
          yr[q] = exp_nonpositive (xr[q] - m[q]);
          sum[q] += yr[q];
        }
    }
  for (int64_t q = 0; q < len; q++)
    sum[q] = 1.0f / sum[q];
  for (int c = 0; c < j->C; c++)
    {
      float *yr = j->y + c * j->n + i0;
      for (int64_t q = 0; q < len; q++)
        yr[q] *= sum[q];
    }
}

void
nn_softmax_channels (WorkerPool *pool, const float *x, int C, int64_t n, float *y)
{
  SoftmaxJob j = { x, C, n, y };
  worker_pool_run (pool, (n + SOFTMAX_BLOCK - 1) / SOFTMAX_BLOCK, softmax_block_task, &j);
}

void
nn_softmax_channels_ref (const float *x, int C, int64_t n, float *y)
{
  for (int64_t i = 0; i < n; i++)
    {
      double m = -INFINITY, s = 0.0;
      for (int c = 0; c < C; c++)
        m = MAX (m, x[c * n + i]);
      for (int c = 0; c < C; c++)
        s += exp (x[c * n + i] - m);
      for (int c = 0; c < C; c++)
        y[c * n + i] = (float) (exp (x[c * n + i] - m) / s);
    }
}

/* ---- concatenation ----------------------------------------------------- */

void
nn_concat_channels (const float *const *parts, const int *channels, int n_parts, int64_t n,
                    float *y)
{
  /* parts[i] is (channels[i], n); y is (sum channels, n): contiguous blocks */
  for (int i = 0; i < n_parts; i++)
    {
      if (parts[i] != y)
        memmove (y, parts[i], (size_t) channels[i] * (size_t) n * sizeof (float));
      y += (int64_t) channels[i] * n;
    }
}

void
nn_concat_channels_ref (const float *const *parts, const int *channels, int n_parts, int64_t n,
                        float *y)
{
  int64_t c0 = 0;
  for (int i = 0; i < n_parts; i++)
    {
      for (int c = 0; c < channels[i]; c++)
        for (int64_t q = 0; q < n; q++)
          y[(c0 + c) * n + q] = parts[i][c * n + q];
      c0 += channels[i];
    }
}

/* ---- trilinear resize -------------------------------------------------- */

static void
linear_source (int dst, int in, int out, int *i0, int *i1, float *lambda)
{
  double scale = (double) in / out;
  double src = ((double) dst + 0.5) * scale - 0.5;
  if (src < 0.0)
    src = 0.0;
  int f = (int) src;
  if (f > in - 1)
    f = in - 1;
  *i0 = f;
  *i1 = f + (f < in - 1 ? 1 : 0);
  *lambda = (float) (src - f);
}

int64_t
nn_upsample_trilinear_scratch_floats (int Wi, int Ho, int Wo, int n_threads)
{
  return 3 * ((int64_t) Ho + Wo) + (int64_t) n_threads * Wi;
}

typedef struct {
  const float *x;
  int C, Di, Hi, Wi, Do, Ho, Wo, d0, d1;
  float *y;
  const int *h0, *h1, *w0, *w1;
  const float *lh, *lw;
  float *rows;
} UpJob;

static void
upsample_slice_task (int64_t task, int thread, void *data)
{
  const UpJob *j = data;
  int nd = j->d1 - j->d0;
  int64_t c = task / nd, od = j->d0 + task % nd;
  int z0, z1;
  float lz;
  float *t = j->rows + (int64_t) thread * j->Wi;   /* (Wi) */
  const float *xc = j->x + c * (int64_t) j->Di * j->Hi * j->Wi;
  float *yp = j->y + (c * nd + (od - j->d0)) * (int64_t) j->Ho * j->Wo;   /* (Ho, Wo) */

  linear_source ((int) od, j->Di, j->Do, &z0, &z1, &lz);
  for (int oh = 0; oh < j->Ho; oh++)
    {
      /* t (Wi) = input row interpolated in z and y */
      const float *r00 = xc + ((int64_t) z0 * j->Hi + j->h0[oh]) * j->Wi;
      const float *r01 = xc + ((int64_t) z0 * j->Hi + j->h1[oh]) * j->Wi;
      const float *r10 = xc + ((int64_t) z1 * j->Hi + j->h0[oh]) * j->Wi;
      const float *r11 = xc + ((int64_t) z1 * j->Hi + j->h1[oh]) * j->Wi;
      float a = j->lh[oh];
      for (int w = 0; w < j->Wi; w++)
        {
          float v0 = r00[w] + a * (r01[w] - r00[w]);
          float v1 = r10[w] + a * (r11[w] - r10[w]);
          t[w] = v0 + lz * (v1 - v0);
        }
      float *out = yp + (int64_t) oh * j->Wo;
      for (int ow = 0; ow < j->Wo; ow++)
        out[ow] = t[j->w0[ow]] + j->lw[ow] * (t[j->w1[ow]] - t[j->w0[ow]]);
    }
}

void
nn_upsample_trilinear (WorkerPool *pool, const float *x, int C, int Di, int Hi, int Wi,
                       int Do, int Ho, int Wo, int d0, int d1, float *y, float *scratch)
{
  /* scratch: h0, h1 (int, Ho each), lh (Ho), w0, w1 (int), lw (Wo), rows */
  int *h0 = (int *) scratch, *h1 = h0 + Ho;
  float *lh = scratch + 2 * (int64_t) Ho;
  int *w0 = (int *) (lh + Ho), *w1 = w0 + Wo;
  float *lw = scratch + 3 * (int64_t) Ho + 2 * (int64_t) Wo;
  UpJob j = { x, C, Di, Hi, Wi, Do, Ho, Wo, d0, d1, y, h0, h1, w0, w1, lh, lw,
              scratch + 3 * ((int64_t) Ho + Wo) };

  if (d1 <= d0)
    return;
  for (int oh = 0; oh < Ho; oh++)
    linear_source (oh, Hi, Ho, &h0[oh], &h1[oh], &lh[oh]);
  for (int ow = 0; ow < Wo; ow++)
    linear_source (ow, Wi, Wo, &w0[ow], &w1[ow], &lw[ow]);
  worker_pool_run (pool, (int64_t) C * (d1 - d0), upsample_slice_task, &j);
}

void
nn_upsample_trilinear_ref (const float *x, int C, int Di, int Hi, int Wi,
                           int Do, int Ho, int Wo, int d0, int d1, float *y)
{
  for (int c = 0; c < C; c++)
    for (int od = d0; od < d1; od++)
      for (int oh = 0; oh < Ho; oh++)
        for (int ow = 0; ow < Wo; ow++)
          {
            int z[2], h[2], w[2];
            float lz, lh, lw;
            linear_source (od, Di, Do, &z[0], &z[1], &lz);
            linear_source (oh, Hi, Ho, &h[0], &h[1], &lh);
            linear_source (ow, Wi, Wo, &w[0], &w[1], &lw);
            double acc = 0.0;
            for (int a = 0; a < 2; a++)
              for (int b = 0; b < 2; b++)
                for (int cc = 0; cc < 2; cc++)
                  {
                    double wt = (a ? lz : 1 - lz) * (b ? lh : 1 - lh) * (cc ? lw : 1 - lw);
                    acc += wt * x[(((int64_t) c * Di + z[a]) * Hi + h[b]) * Wi + w[cc]];
                  }
            y[(((int64_t) c * (d1 - d0) + (od - d0)) * Ho + oh) * Wo + ow] = (float) acc;
          }
}

/* ---- helpers ----------------------------------------------------------- */

void
nn_max_diff (const float *a, const float *b, int64_t n, float floor,
             double *max_abs, double *max_rel)
{
  double ma = 0.0, mr = 0.0;
  for (int64_t i = 0; i < n; i++)
    {
      double d = fabs ((double) a[i] - b[i]);
      double r = d / MAX (fabs ((double) b[i]), floor);
      if (isnan (a[i]) != isnan (b[i]))
        d = r = INFINITY;
      ma = MAX (ma, d);
      mr = MAX (mr, r);
    }
  *max_abs = ma;
  *max_rel = mr;
}
