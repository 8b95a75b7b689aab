/* test-nn-golden.c: ops and the three architectures against PyTorch outputs
 * written by tests/golden/make_golden.py (shapes repeated here). */
#include "nn-net.h"
#include "nn-safetensors.h"

#include <math.h>
#include <string.h>
#include "test-util.h"

#define REL_TOL 1e-4

static NnStFile *ops;

static float *
get (const char *name, int64_t expect_n)
{
  const NnStTensor *t = nn_st_file_lookup (ops, name);
  g_assert_nonnull (t);
  g_assert_cmpstr (t->dtype, ==, "F32");
  g_assert_cmpint (t->n_elements, ==, expect_n);
  float *p = g_new (float, t->n_elements);
  nn_st_tensor_copy_f32 (ops, t, p);
  return p;
}

/* max |a - ref| / max |ref| must stay under REL_TOL; prints both figures */
static void
compare (const char *what, const float *a, const float *ref, int64_t n)
{
  double ma, mr, mref = 0.0;
  nn_max_diff (a, ref, n, 1e-6f, &ma, &mr);
  for (int64_t i = 0; i < n; i++)
    mref = MAX (mref, fabs (ref[i]));
  double rel = ma / MAX (mref, 1e-30);
  g_test_message ("%s vs PyTorch: %" G_GINT64_FORMAT " values, max abs diff %.3g, relative %.3g", what, n, ma,
                  rel);
  if (!(rel <= REL_TOL))
    g_error ("%s: relative difference %.3g exceeds %.1g", what, rel, REL_TOL);
}

static void
test_conv (void)
{
  g_autoptr (WorkerPool) pool = worker_pool_new (2);
  {
    NnConvGeom g = { 3, 4, { 3, 2, 3 }, { 1, 2, 1 }, { 1, 0, 1 } };
    int D = 5, H = 6, W = 7;
    int Do = nn_conv_out_size (D, 3, 1, 1), Ho = nn_conv_out_size (H, 2, 2, 0), Wo = nn_conv_out_size (W, 3, 1, 1);
    int64_t nout = (int64_t) Do * Ho * Wo;
    g_autofree float *x = get ("conv.x", 3 * D * H * W), *w = get ("conv.w", 4 * 3 * 18);
    g_autofree float *b = get ("conv.b", 4), *ref = get ("conv.y", 4 * nout);
    g_autofree float *y = g_new (float, 4 * nout), *y2 = g_new (float, 4 * nout);
    g_autofree float *s = g_new (float, 2 * nn_conv3d_scratch_floats (&g, nout, 2));
    nn_conv3d (pool, &g, x, D, H, W, w, b, NN_ACT_NONE, 0, y, s);
    compare ("conv3d k(3,2,3) s(1,2,1) p(1,0,1)", y, ref, 4 * nout);
    nn_conv3d_ref (&g, x, D, H, W, w, b, NN_ACT_NONE, 0, y2);
    compare ("conv3d naive", y2, ref, 4 * nout);
  }
  {
    NnConvGeom g = { 2, 5, { 3, 3, 3 }, { 2, 2, 2 }, { 1, 1, 1 } };
    int D = 7, H = 5, W = 9;
    int64_t nout = (int64_t) 4 * 3 * 5;
    g_autofree float *x = get ("conv2.x", 2 * D * H * W), *w = get ("conv2.w", 5 * 2 * 27);
    g_autofree float *b = get ("conv2.b", 5), *ref = get ("conv2.y", 5 * nout);
    g_autofree float *y = g_new (float, 5 * nout);
    g_autofree float *s = g_new (float, 2 * nn_conv3d_scratch_floats (&g, nout, 2));
    nn_conv3d (pool, &g, x, D, H, W, w, b, NN_ACT_LEAKY_RELU, 0.1f, y, s);
    compare ("conv3d 3³ stride 2 + LeakyReLU(0.1)", y, ref, 5 * nout);
  }
  {
    /* conv (no bias) + eval BatchNorm + ReLU, with BN folded into the weights */
    NnConvGeom g = { 3, 4, { 3, 3, 3 }, { 1, 1, 1 }, { 1, 1, 1 } };
    int D = 4, H = 5, W = 6;
    int64_t n = (int64_t) D * H * W;
    g_autofree float *x = get ("bn.x", 3 * n), *w = get ("bn.w", 4 * 81), *gm = get ("bn.gamma", 4);
    g_autofree float *bt = get ("bn.beta", 4), *mn = get ("bn.mean", 4), *vr = get ("bn.var", 4);
    g_autofree float *ref = get ("bn.y", 4 * n), *y = g_new (float, 4 * n);
    g_autofree float *s = g_new (float, 2 * nn_conv3d_scratch_floats (&g, n, 2));
    float bias[4] = { 0 };
    nn_fold_batchnorm (w, bias, 4, 81, gm, bt, mn, vr, 1e-5f);
    nn_conv3d (pool, &g, x, D, H, W, w, bias, NN_ACT_RELU, 0, y, s);
    compare ("conv3d + folded BatchNorm + ReLU", y, ref, 4 * n);
  }
}

static void
test_convt (void)
{
  g_autoptr (WorkerPool) pool = worker_pool_new (2);
  {
    NnConvGeom g = { 4, 3, { 2, 2, 2 }, { 2, 2, 2 }, { 0, 0, 0 } };
    int64_t nin = 3 * 4 * 5, nout = 6 * 8 * 10;
    g_autofree float *x = get ("convt.x", 4 * nin), *w = get ("convt.w", 4 * 3 * 8), *b = get ("convt.b", 3);
    g_autofree float *ref = get ("convt.y", 3 * nout), *y = g_new (float, 3 * nout);
    g_autofree float *s = g_new (float, 2 * nn_conv_transpose3d_scratch_floats (&g, nin, 2));
    nn_conv_transpose3d (pool, &g, x, 3, 4, 5, w, b, NN_ACT_NONE, 0, y, s);
    compare ("conv_transpose3d 2³ stride 2", y, ref, 3 * nout);
  }
  {
    NnConvGeom g = { 3, 2, { 3, 3, 3 }, { 2, 2, 2 }, { 1, 1, 1 } };
    int64_t nin = 3 * 4 * 3, nout = (int64_t) 5 * 7 * 5;
    g_autofree float *x = get ("convt2.x", 3 * nin), *w = get ("convt2.w", 3 * 2 * 27), *b = get ("convt2.b", 2);
    g_autofree float *ref = get ("convt2.y", 2 * nout), *y = g_new (float, 2 * nout);
    g_autofree float *s = g_new (float, 2 * nn_conv_transpose3d_scratch_floats (&g, nin, 2));
    nn_conv_transpose3d (pool, &g, x, 3, 4, 3, w, b, NN_ACT_NONE, 0, y, s);
    compare ("conv_transpose3d 3³ stride 2 padding 1", y, ref, 2 * nout);
  }
}

static void
test_pool_softmax_upsample (void)
{
  g_autoptr (WorkerPool) pool = worker_pool_new (2);
  g_autofree float *x = get ("pool.x", 3 * 6 * 5 * 7), *s = g_new (float, 2 * 7);
  int k2[3] = { 2, 2, 2 }, k3[3] = { 3, 3, 3 }, one[3] = { 1, 1, 1 }, zero[3] = { 0 };
  g_autofree float *r2 = get ("pool2.y", 3 * 3 * 2 * 3), *y2 = g_new (float, 3 * 3 * 2 * 3);
  nn_maxpool3d (pool, 3, k2, k2, zero, x, 6, 5, 7, y2, s);
  compare ("maxpool 2³", y2, r2, 3 * 3 * 2 * 3);
  g_autofree float *r3 = get ("pool3.y", 3 * 6 * 5 * 7), *y3 = g_new (float, 3 * 6 * 5 * 7);
  nn_maxpool3d (pool, 3, k3, one, one, x, 6, 5, 7, y3, s);
  compare ("maxpool 3³ stride 1 padding 1", y3, r3, 3 * 6 * 5 * 7);

  g_autofree float *sx = get ("softmax.x", 13 * 60), *sr = get ("softmax.y", 13 * 60);
  g_autofree float *sy = g_new (float, 13 * 60);
  nn_softmax_channels (pool, sx, 13, 60, sy);
  compare ("softmax over channels", sy, sr, 13 * 60);

  g_autofree float *ux = get ("up.x", 3 * 4 * 5 * 6), *ur = get ("up.y", 3 * 7 * 9 * 11);
  g_autofree float *uy = g_new (float, 3 * 7 * 9 * 11);
  g_autofree float *us = g_new (float, nn_upsample_trilinear_scratch_floats (6, 9, 11, 2));
  nn_upsample_trilinear (pool, ux, 3, 4, 5, 6, 7, 9, 11, 0, 7, uy, us);
  compare ("trilinear up (4,5,6)->(7,9,11)", uy, ur, 3 * 7 * 9 * 11);
  g_autofree float *dx = get ("down.x", 3 * 512), *dr = get ("down.y", 3 * 5 * 3 * 6);
  g_autofree float *dy = g_new (float, 3 * 5 * 3 * 6);
  g_autofree float *ds = g_new (float, nn_upsample_trilinear_scratch_floats (8, 3, 6, 2));
  nn_upsample_trilinear (pool, dx, 3, 8, 8, 8, 5, 3, 6, 0, 5, dy, ds);
  compare ("trilinear down (8,8,8)->(5,3,6)", dy, dr, 3 * 5 * 3 * 6);

  g_autofree float *ax = get ("act.x", 1000), *ar = get ("act.relu", 1000), *al = get ("act.leaky", 1000);
  g_autofree float *a1 = g_memdup2 (ax, 4000), *a2 = g_memdup2 (ax, 4000);
  nn_activate (a1, 1000, NN_ACT_RELU, 0);
  nn_activate (a2, 1000, NN_ACT_LEAKY_RELU, 0.01f);
  compare ("ReLU", a1, ar, 1000);
  compare ("LeakyReLU(0.01)", a2, al, 1000);
}

static void
run_arch (const char *arch, NnPrepareFlags flags, int threads)
{
  g_autofree char *mpath = g_test_build_filename (G_TEST_DIST, "golden", "nn", NULL);
  g_autofree char *model = g_strdup_printf ("%s/%s.safetensors", mpath, arch);
  g_autofree char *io = g_strdup_printf ("%s/%s-io.safetensors", mpath, arch);
  g_autoptr (GError) error = NULL;
  g_autoptr (NnNet) net = nn_net_load (model, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (nn_arch_to_string (nn_net_get_config (net)->arch), ==, arch);
  g_autoptr (NnStFile) f = nn_st_file_load (io, &error);
  g_assert_no_error (error);
  const int D = 16, H = 12, W = 8;
  const int64_t n = (int64_t) D * H * W;
  const NnStTensor *lt = nn_st_file_lookup (f, "labels"), *pt = nn_st_file_lookup (f, "probs");
  g_assert_nonnull (lt);
  g_assert_nonnull (pt);
  g_assert_cmpint (lt->n_elements, ==, n);
  g_assert_cmpint (pt->n_elements, ==, 13 * n);
  g_autofree float *labels = g_new (float, n), *ref = g_new (float, 13 * n);
  nn_st_tensor_copy_f32 (f, lt, labels);
  nn_st_tensor_copy_f32 (f, pt, ref);

  g_assert_true (nn_net_prepare (net, D, H, W, threads, flags, &error));
  g_assert_no_error (error);
  float *in = nn_net_get_input (net);
  memset (in, 0, 13 * n * sizeof (float));
  for (int64_t i = 0; i < n; i++)
    in[(int64_t) labels[i] * n + i] = 1.0f;
  g_assert_true (nn_net_forward (net, NULL, NULL, NULL, &error));
  g_autofree char *what = g_strdup_printf ("%s (%s, %d threads, %.1f MFLOP, %.2f MiB activations)", arch,
                                           flags & NN_PREPARE_KEEP_ALL ? "keep all" : "shared buffers",
                                           threads, nn_net_get_flops (net) / 1e6,
                                           nn_net_get_activation_bytes (net) / 1048576.0);
  compare (what, nn_net_get_output (net), ref, 13 * n);
}

static void
test_arch (gconstpointer data)
{
  run_arch (data, NN_PREPARE_DEFAULT, 2);
  run_arch (data, NN_PREPARE_KEEP_ALL, 1);
}

static const TestCase test_cases[] = {
  { "/nn/golden/conv3d", test_conv },
  { "/nn/golden/conv-transpose3d", test_convt },
  { "/nn/golden/pool-softmax-upsample", test_pool_softmax_upsample },
};

/* the reference tensors, and one case per architecture */
static void
load_ops (void)
{
  g_autofree char *path = g_test_build_filename (G_TEST_DIST, "golden", "nn", "ops.safetensors", NULL);
  g_autoptr (GError) error = NULL;
  ops = nn_st_file_load (path, &error);
  g_assert_no_error (error);
  g_test_add_data_func ("/nn/golden/unet", "unet", test_arch);
  g_test_add_data_func ("/nn/golden/unet-skip", "unet-skip", test_arch);
  g_test_add_data_func ("/nn/golden/googlenet-skip", "googlenet-skip", test_arch);
}

static void
free_ops (void)
{
  nn_st_file_free (ops);
}

TEST_UTIL_MAIN_WITH (test_cases, load_ops, free_ops)
