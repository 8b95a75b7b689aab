/* test-nn-ops.c: optimised kernels against their naive twins on odd shapes,
 * single- and multi-threaded. */
#include "nn-ops.h"

#include <math.h>
#include <stdio.h>
#include <string.h>
#include "test-util.h"

static guint64 rng_state = 42;

static float
frand (void)
{
  rng_state = rng_state * 6364136223846793005ull + 1442695040888963407ull;
  return (float) ((rng_state >> 40) / (double) (1 << 24)) * 2.0f - 1.0f;
}

static float *
rand_buf (int64_t n)
{
  float *p = g_new (float, n);
  for (int64_t i = 0; i < n; i++)
    p[i] = frand ();
  return p;
}

static void
check_close (const char *what, const float *a, const float *ref, int64_t n, double tol)
{
  double ma, mr;
  nn_max_diff (a, ref, n, 1e-3f, &ma, &mr);
  double mref = 0.0;
  for (int64_t i = 0; i < n; i++)
    mref = MAX (mref, fabs (ref[i]));
  g_test_message ("%s: %" G_GINT64_FORMAT " values, max abs diff %.3g, max diff / max|ref| %.3g", what, n,
                  ma, ma / MAX (mref, 1e-30));
  if (!(ma <= tol * MAX (mref, 1.0)))
    g_error ("%s: max abs diff %.3g exceeds %.3g", what, ma, tol * MAX (mref, 1.0));
}

typedef struct {
  int cin, cout, D, H, W, k[3], s[3], p[3];
} ConvCase;

/* the layer of @cc: its channels, kernel, stride and padding */
static NnConvGeom
conv_geom (const ConvCase *cc)
{
  NnConvGeom g = { cc->cin, cc->cout, { cc->k[0], cc->k[1], cc->k[2] },
                   { cc->s[0], cc->s[1], cc->s[2] }, { cc->p[0], cc->p[1], cc->p[2] } };
  return g;
}

/* One case ready to run: its layer @g, random input @x (@nin voxels a channel), weights
 * @w and bias @b, room for the output @y and the reference @r (@nout voxels a channel). */
typedef struct {
  NnConvGeom g;
  float *x, *w, *b, *y, *r;
  int64_t nin, nout;
} ConvBufs;

/* The buffers of @cc, whose output grid is by @out_size. */
static ConvBufs
conv_bufs_new (const ConvCase *cc, int (*out_size) (int, int, int, int))
{
  ConvBufs t = { .g = conv_geom (cc) };
  int Do = out_size (cc->D, t.g.k[0], t.g.s[0], t.g.p[0]);
  int Ho = out_size (cc->H, t.g.k[1], t.g.s[1], t.g.p[1]);
  int Wo = out_size (cc->W, t.g.k[2], t.g.s[2], t.g.p[2]);
  t.nin = (int64_t) cc->D * cc->H * cc->W;
  t.nout = (int64_t) Do * Ho * Wo;
  t.x = rand_buf (cc->cin * t.nin);
  t.w = rand_buf ((int64_t) cc->cout * cc->cin * t.g.k[0] * t.g.k[1] * t.g.k[2]);
  t.b = rand_buf (cc->cout);
  t.y = g_new (float, cc->cout * t.nout);
  t.r = g_new (float, cc->cout * t.nout);
  return t;
}

static void
conv_bufs_clear (ConvBufs *t)
{
  float **bufs[] = { &t->x, &t->w, &t->b, &t->y, &t->r };
  for (gsize i = 0; i < G_N_ELEMENTS (bufs); i++)
    g_clear_pointer (bufs[i], g_free);
}
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (ConvBufs, conv_bufs_clear)

static const ConvCase conv_cases[] = {
  { 3, 5, 7, 6, 9, { 3, 3, 3 }, { 1, 1, 1 }, { 1, 1, 1 } },
  { 2, 3, 5, 9, 4, { 3, 2, 1 }, { 2, 1, 3 }, { 1, 0, 0 } },
  { 4, 7, 3, 5, 11, { 1, 1, 1 }, { 1, 1, 1 }, { 0, 0, 0 } },
  { 1, 2, 9, 7, 5, { 5, 3, 3 }, { 1, 2, 1 }, { 2, 1, 0 } },
  { 13, 8, 12, 10, 14, { 3, 3, 3 }, { 1, 1, 1 }, { 1, 1, 1 } },   /* several slabs */
  { 5, 11, 6, 7, 53, { 3, 3, 3 }, { 2, 1, 1 }, { 1, 1, 1 } },     /* 11 channels, W tail */
  { 3, 9, 5, 4, 50, { 3, 1, 5 }, { 1, 3, 1 }, { 0, 2, 2 } },
  { 2, 6, 4, 5, 70, { 3, 3, 3 }, { 1, 1, 1 }, { 1, 1, 1 } },      /* 4-channel blocks, W tail */
};

static void
test_conv3d (void)
{
  for (int path = NN_CONV_PATH_AUTO; path <= NN_CONV_PATH_DIRECT; path++)
  for (int threads = 1; threads <= 3; threads += 2)
    {
      nn_conv3d_force_path ((NnConvPath) path);
      g_autoptr (WorkerPool) pool = worker_pool_new (threads);
      for (gsize c = 0; c < G_N_ELEMENTS (conv_cases); c++)
        {
          const ConvCase *cc = &conv_cases[c];
          g_auto (ConvBufs) t = conv_bufs_new (cc, nn_conv_out_size);
          int64_t sc = nn_conv3d_scratch_floats (&t.g, t.nout, threads);
          g_autofree float *scratch = g_new (float, MAX (1, sc * threads));
          NnAct act = (NnAct) (c % 3);
          /* AUTO: nn_conv3d_best picks per layer; the forced paths go through nn_conv3d */
          if (path == NN_CONV_PATH_AUTO)
            nn_conv3d_best (pool, &t.g, t.x, cc->D, cc->H, cc->W, t.w, t.b, act, 0.1f, t.y, scratch);
          else
            nn_conv3d (pool, &t.g, t.x, cc->D, cc->H, cc->W, t.w, t.b, act, 0.1f, t.y, scratch);
          nn_conv3d_ref (&t.g, t.x, cc->D, cc->H, cc->W, t.w, t.b, act, 0.1f, t.r);
          g_autofree char *what = g_strdup_printf ("conv3d case %zu, %d threads, path %d", c, threads, path);
          check_close (what, t.y, t.r, cc->cout * t.nout, 1e-5);
        }
    }
  nn_conv3d_force_path (NN_CONV_PATH_AUTO);
}

static void
test_slab_bound (void)
{
  /* scratch per thread is bounded whatever the volume: im2col slabs by
   * max (NN_SLAB_MAX_FLOATS, rows * 64) (+ row padding), the direct path by one
   * window of input rows, Cin * kD * kH rows of about W floats */
  NnConvGeom g = { 256, 128, { 3, 3, 3 }, { 1, 1, 1 }, { 1, 1, 1 } };
  int64_t rows = 256 * 27;
  for (int64_t W = 10; W <= 2048; W *= 3)
    for (int64_t n = W; n < ((int64_t) 1 << 33); n *= 7)
      {
        int64_t s = nn_conv3d_scratch_floats_w (&g, n, (int) W, 2);
        g_assert_cmpint (s, <=, MAX (MAX (NN_SLAB_MAX_FLOATS, rows * 64) + rows * 32,
                                     (int64_t) 256 * 9 * (W + 96) + 256 * 9));
      }
  g_assert_cmpint (nn_slab_cols (16 * 27, (int64_t) 512 * 512 * 512, 2), <=, NN_SLAB_COLS);
}

static void
test_conv_transpose3d (void)
{
  static const ConvCase cases[] = {
    { 4, 3, 3, 4, 5, { 2, 2, 2 }, { 2, 2, 2 }, { 0, 0, 0 } },
    { 3, 2, 3, 5, 2, { 3, 3, 3 }, { 2, 2, 2 }, { 1, 1, 1 } },   /* overlapping */
    { 2, 5, 4, 3, 6, { 3, 2, 1 }, { 1, 2, 3 }, { 0, 0, 0 } },
    { 8, 6, 6, 7, 9, { 2, 2, 2 }, { 2, 2, 2 }, { 0, 0, 0 } },
  };
  for (int threads = 1; threads <= 2; threads++)
    {
      g_autoptr (WorkerPool) pool = worker_pool_new (threads);
      for (gsize c = 0; c < G_N_ELEMENTS (cases); c++)
        {
          const ConvCase *cc = &cases[c];
          g_auto (ConvBufs) t = conv_bufs_new (cc, nn_convt_out_size);
          g_autofree float *scratch = g_new (float, nn_conv_transpose3d_scratch_floats (&t.g, t.nin, threads) * threads);
          NnAct act = c == 2 ? NN_ACT_RELU : NN_ACT_NONE;
          nn_conv_transpose3d (pool, &t.g, t.x, cc->D, cc->H, cc->W, t.w, t.b, act, 0.0f, t.y, scratch);
          nn_conv_transpose3d_ref (&t.g, t.x, cc->D, cc->H, cc->W, t.w, t.b, act, 0.0f, t.r);
          g_autofree char *what = g_strdup_printf ("conv_transpose3d case %zu, %d threads", c, threads);
          check_close (what, t.y, t.r, cc->cout * t.nout, 1e-5);
        }
    }
}

static void
test_maxpool (void)
{
  static const int ks[][3][3] = {
    { { 2, 2, 2 }, { 2, 2, 2 }, { 0, 0, 0 } },
    { { 3, 3, 3 }, { 1, 1, 1 }, { 1, 1, 1 } },
    { { 3, 2, 1 }, { 2, 1, 1 }, { 1, 0, 0 } },
  };
  g_autoptr (WorkerPool) pool = worker_pool_new (2);
  int C = 3, D = 7, H = 5, W = 9;
  g_autofree float *x = rand_buf (C * D * H * W);
  for (gsize c = 0; c < G_N_ELEMENTS (ks); c++)
    {
      int Do = nn_conv_out_size (D, ks[c][0][0], ks[c][1][0], ks[c][2][0]);
      int Ho = nn_conv_out_size (H, ks[c][0][1], ks[c][1][1], ks[c][2][1]);
      int Wo = nn_conv_out_size (W, ks[c][0][2], ks[c][1][2], ks[c][2][2]);
      int64_t n = (int64_t) C * Do * Ho * Wo;
      g_autofree float *y = g_new (float, n), *r = g_new (float, n), *scratch = g_new (float, 2 * W);
      nn_maxpool3d (pool, C, ks[c][0], ks[c][1], ks[c][2], x, D, H, W, y, scratch);
      nn_maxpool3d_ref (C, ks[c][0], ks[c][1], ks[c][2], x, D, H, W, r);
      check_close ("maxpool3d", y, r, n, 0.0);
    }
}

static void
test_softmax_concat_act (void)
{
  g_autoptr (WorkerPool) pool = worker_pool_new (2);
  int C = 13;
  int64_t n = 1237;
  g_autofree float *x = rand_buf (C * n);
  for (int64_t i = 0; i < C * n; i++)
    x[i] *= 30.0f;
  g_autofree float *y = g_new (float, C * n), *r = g_new (float, C * n);
  nn_softmax_channels (pool, x, C, n, y);
  nn_softmax_channels_ref (x, C, n, r);
  check_close ("softmax", y, r, C * n, 1e-6);
  nn_softmax_channels (pool, x, C, n, x);   /* in place */
  check_close ("softmax in place", x, r, C * n, 1e-6);
  /* Confident logits: most exponentials underflow (differences down to -3000). */
  g_autofree float *xc = rand_buf (C * n);
  for (int64_t i = 0; i < C * n; i++)
    xc[i] *= 1000.0f + 2.0f * (float) (i % 1000);
  nn_softmax_channels (pool, xc, C, n, y);
  nn_softmax_channels_ref (xc, C, n, r);
  check_close ("softmax, confident", y, r, C * n, 1e-6);
  /* a NaN logit (a broken model) makes its voxel NaN, never a probability */
  xc[5 * n + 7] = NAN;
  nn_softmax_channels (pool, xc, C, n, y);
  for (int c = 0; c < C; c++)
    g_assert_true (isnan (y[c * n + 7]));
  g_assert_false (isnan (y[5 * n + 8]));

  int ch[3] = { 2, 5, 1 };
  int64_t m = 101;
  g_autofree float *a = rand_buf (2 * m), *b = rand_buf (5 * m), *c = rand_buf (1 * m);
  const float *parts[3] = { a, b, c };
  g_autofree float *cy = g_new (float, 8 * m), *cr = g_new (float, 8 * m);
  nn_concat_channels (parts, ch, 3, m, cy);
  nn_concat_channels_ref (parts, ch, 3, m, cr);
  check_close ("concat", cy, cr, 8 * m, 0.0);

  for (int act = 0; act < 3; act++)
    {
      g_autofree float *u = rand_buf (999);
      g_autofree float *v = g_memdup2 (u, 999 * sizeof (float));
      nn_activate (u, 999, (NnAct) act, 0.2f);
      nn_activate_ref (v, 999, (NnAct) act, 0.2f);
      check_close ("activation", u, v, 999, 0.0);
    }
}

static void
test_upsample (void)
{
  static const int cases[][6] = {
    { 4, 5, 6, 7, 9, 11 }, { 8, 8, 8, 5, 3, 6 }, { 3, 7, 2, 9, 21, 5 }, { 1, 1, 1, 3, 2, 4 },
  };
  g_autoptr (WorkerPool) pool = worker_pool_new (2);
  int C = 3;
  for (gsize c = 0; c < G_N_ELEMENTS (cases); c++)
    {
      const int *s = cases[c];
      g_autofree float *x = rand_buf ((int64_t) C * s[0] * s[1] * s[2]);
      int64_t n = (int64_t) C * s[3] * s[4] * s[5];
      g_autofree float *y = g_new (float, n), *r = g_new (float, n);
      g_autofree float *scratch = g_new (float, nn_upsample_trilinear_scratch_floats (s[2], s[4], s[5], 2));
      nn_upsample_trilinear (pool, x, C, s[0], s[1], s[2], s[3], s[4], s[5], 0, s[3], y, scratch);
      nn_upsample_trilinear_ref (x, C, s[0], s[1], s[2], s[3], s[4], s[5], 0, s[3], r);
      check_close ("trilinear", y, r, n, 1e-6);
      /* a slab of output slices equals the same slices of the whole */
      if (s[3] >= 3)
        {
          int64_t plane = (int64_t) s[4] * s[5];
          g_autofree float *part = g_new (float, C * 2 * plane);
          nn_upsample_trilinear (pool, x, C, s[0], s[1], s[2], s[3], s[4], s[5], 1, 3, part, scratch);
          for (int ch = 0; ch < C; ch++)
            check_close ("trilinear slab", part + ch * 2 * plane, r + (ch * s[3] + 1) * plane, 2 * plane, 1e-6);
        }
    }
}

static void
test_fold_batchnorm (void)
{
  NnConvGeom g = { 3, 4, { 3, 3, 3 }, { 1, 1, 1 }, { 1, 1, 1 } };
  int D = 5, H = 4, W = 6;
  int64_t n = (int64_t) D * H * W, per_out = 3 * 27;
  g_autofree float *x = rand_buf (3 * n), *w = rand_buf (4 * per_out);
  float gamma[4] = { 0.5f, 1.2f, 0.9f, 1.5f }, beta[4] = { 0.1f, -0.2f, 0.0f, 0.3f };
  float mean[4] = { 0.05f, -0.1f, 0.2f, 0.0f }, var[4] = { 0.7f, 1.3f, 0.9f, 2.0f };
  g_autofree float *conv = g_new (float, 4 * n), *ref = g_new (float, 4 * n), *y = g_new (float, 4 * n);
  nn_conv3d_ref (&g, x, D, H, W, w, NULL, NN_ACT_NONE, 0, conv);
  nn_batchnorm_ref (conv, 4, n, gamma, beta, mean, var, 1e-5f, ref);
  float bias[4] = { 0 };
  nn_fold_batchnorm (w, bias, 4, per_out, gamma, beta, mean, var, 1e-5f);
  nn_conv3d_ref (&g, x, D, H, W, w, bias, NN_ACT_NONE, 0, y);
  check_close ("folded batchnorm", y, ref, 4 * n, 1e-5);
}

static void
count_task (int64_t task, int thread, void *data)
{
  gint *counts = data;
  g_assert_cmpint (thread, >=, 0);
  g_assert_cmpint (thread, <, 3);
  g_atomic_int_inc (&counts[task]);
}

static void
test_pool (void)
{
  g_autoptr (WorkerPool) pool = worker_pool_new (3);
  g_autofree gint *counts = g_new0 (gint, 1000);
  for (int rep = 0; rep < 50; rep++)
    {
      worker_pool_run (pool, 1000, count_task, counts);
      worker_pool_run (pool, 1, count_task, counts);
    }
  for (int i = 0; i < 1000; i++)
    g_assert_cmpint (counts[i], ==, i == 0 ? 100 : 50);
}

static const TestCase test_cases[] = {
  { "/nn/ops/pool", test_pool },
  { "/nn/ops/conv3d", test_conv3d },
  { "/nn/ops/slab-bound", test_slab_bound },
  { "/nn/ops/conv-transpose3d", test_conv_transpose3d },
  { "/nn/ops/maxpool3d", test_maxpool },
  { "/nn/ops/softmax-concat-act", test_softmax_concat_act },
  { "/nn/ops/upsample", test_upsample },
  { "/nn/ops/fold-batchnorm", test_fold_batchnorm },
};

TEST_UTIL_MAIN (test_cases)
