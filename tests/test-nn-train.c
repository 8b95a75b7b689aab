/* test-nn-train.c: backward kernels against their naive twins, the loss and the
 * whole networks' gradients against finite differences, AdamW against its
 * reference, a tiny network learning on tiny phantoms, and bit-exact resume of the
 * training step (whole runs of trainer_run are in test-trainer.c). */
#include "nn-backward.h"
#include "nn-loss.h"
#include "nn-net.h"
#include "nn-optim.h"
#include "nn-train.h"
#include "phantom.h"
#include "train-data.h"
#define TEST_UTIL_NN
#include "test-util.h"

#include <glib/gstdio.h>
#include <math.h>
#include <string.h>

static char *tmpdir;

static void
fill_random (float *x, int64_t n, GRand *r, double lo, double hi)
{
  for (int64_t i = 0; i < n; i++)
    x[i] = (float) g_rand_double_range (r, lo, hi);
}

static void
assert_close (const char *what, const float *a, const float *b, int64_t n, double tol)
{
  double max_abs, max_rel;
  nn_max_diff (a, b, n, 1.0f, &max_abs, &max_rel);
  g_test_message ("%s: max abs %.3g, max rel %.3g", what, max_abs, max_rel);
  if (!(max_rel <= tol))
    g_error ("%s: max rel difference %.3g > %.3g", what, max_rel, tol);
}

/* ---- kernels vs naive twins (odd shapes) --------------------------------- */

typedef struct {
  int cin, cout, k, s, p, D, H, W;
} ConvShape;

/* One case of a convolution's backward pass: random x (cin, D, H, W), w and dy (cout, Do, Ho,
 * Wo), and zeroed gradients for the kernel and its naive twin. */
typedef struct {
  NnConvGeom g;
  int D, H, W;
  int64_t nin, nout, nw;
  float *x, *w, *dy, *dx, *dx_ref, *dw, *dw_ref, *db, *db_ref;
} ConvCase;

static void
conv_case_init (ConvCase *c, const ConvShape *sh, gboolean transposed, GRand *r)
{
  int (*out_size) (int, int, int, int) = transposed ? nn_convt_out_size : nn_conv_out_size;
  memset (c, 0, sizeof *c);
  c->g.cin = sh->cin;
  c->g.cout = sh->cout;
  for (int a = 0; a < 3; a++)
    {
      c->g.k[a] = sh->k;
      c->g.s[a] = sh->s;
      c->g.p[a] = sh->p;
    }
  c->D = sh->D;
  c->H = sh->H;
  c->W = sh->W;
  c->nin = (int64_t) c->D * c->H * c->W;
  c->nout = (int64_t) out_size (c->D, sh->k, sh->s, sh->p) * out_size (c->H, sh->k, sh->s, sh->p)
            * out_size (c->W, sh->k, sh->s, sh->p);
  c->nw = (int64_t) sh->cout * sh->cin * sh->k * sh->k * sh->k;
  c->x = g_new (float, sh->cin * c->nin);
  c->w = g_new (float, c->nw);
  c->dy = g_new (float, sh->cout * c->nout);
  fill_random (c->x, sh->cin * c->nin, r, -1, 1);
  fill_random (c->w, c->nw, r, -1, 1);
  fill_random (c->dy, sh->cout * c->nout, r, -1, 1);
  c->dx = g_new0 (float, sh->cin * c->nin);
  c->dx_ref = g_new0 (float, sh->cin * c->nin);
  c->dw = g_new0 (float, c->nw);
  c->dw_ref = g_new0 (float, c->nw);
  c->db = g_new0 (float, sh->cout);
  c->db_ref = g_new0 (float, sh->cout);
}

static void
conv_case_clear (ConvCase *c)
{
  float **bufs[] = { &c->x, &c->w, &c->dy, &c->dx, &c->dx_ref, &c->dw, &c->dw_ref, &c->db, &c->db_ref };
  for (gsize i = 0; i < G_N_ELEMENTS (bufs); i++)
    g_clear_pointer (bufs[i], g_free);
}

static void
test_conv_backward (void)
{
  g_autoptr (GRand) r = g_rand_new_with_seed (11);
  const ConvShape cases[] = {
    { 3, 5, 3, 1, 1, 7, 5, 9 },
    { 4, 3, 1, 1, 0, 6, 7, 5 },
    { 2, 4, 3, 1, 0, 6, 5, 7 },
    { 5, 2, 3, 2, 1, 9, 6, 7 },   /* strided: weights only */
    /* rows wide enough for the direct weight gradient (vectors and a tail along W, chunks
     * and a tail of output rows, 8- and 4-channel blocks with padded channels) */
    { 3, 9, 3, 1, 1, 5, 11, 37 },
    { 2, 5, 3, 1, 0, 4, 10, 40 },
  };
  for (int path = NN_CONV_PATH_AUTO; path <= NN_CONV_PATH_DIRECT; path++)
  for (int threads = 1; threads <= 3; threads += 2)
    for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
      {
        nn_conv3d_force_path ((NnConvPath) path);
        g_autoptr (WorkerPool) pool = worker_pool_new (threads);
        ConvCase c;
        conv_case_init (&c, &cases[i], FALSE, r);
        const NnConvGeom *g = &c.g;
        /* start from non-zero gradients: the kernels accumulate */
        for (int64_t q = 0; q < c.nw; q++)
          c.dw[q] = c.dw_ref[q] = 0.5f;
        for (int64_t q = 0; q < g->cin * c.nin; q++)
          c.dx[q] = c.dx_ref[q] = -0.25f;
        nn_conv3d_backward_ref (g, c.x, c.D, c.H, c.W, c.w, c.dy, c.dx_ref, c.dw_ref, c.db_ref);
        g_autofree float *scr = g_new (float, threads * MAX (nn_conv3d_backward_weights_scratch_floats (g, c.nout, c.W, threads),
                                                             nn_conv3d_backward_input_scratch_floats (g, c.nin, threads)));
        nn_conv3d_backward_weights (pool, g, c.x, c.D, c.H, c.W, c.dy, c.dw, c.db, scr);
        assert_close ("conv dw", c.dw, c.dw_ref, c.nw, 1e-4);
        assert_close ("conv db", c.db, c.db_ref, g->cout, 1e-4);
        if (g->s[0] == 1)
          {
            g_autofree float *wflip = g_new (float, c.nw), *tmp = g_new (float, g->cin * c.nin);
            nn_conv3d_backward_input (pool, g, c.dy, c.D, c.H, c.W, c.w, c.dx, wflip, tmp, scr);
            assert_close ("conv dx", c.dx, c.dx_ref, g->cin * c.nin, 1e-4);
          }
        conv_case_clear (&c);
      }
  nn_conv3d_force_path (NN_CONV_PATH_AUTO);
}

static void
test_convt_backward (void)
{
  g_autoptr (GRand) r = g_rand_new_with_seed (12);
  const ConvShape cases[] = {
    { 5, 3, 2, 2, 0, 3, 4, 5 },
    { 3, 4, 3, 2, 1, 4, 3, 5 },
  };
  for (int threads = 1; threads <= 2; threads++)
    for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
      {
        g_autoptr (WorkerPool) pool = worker_pool_new (threads);
        ConvCase c;
        conv_case_init (&c, &cases[i], TRUE, r);
        const NnConvGeom *g = &c.g;
        nn_conv_transpose3d_backward_ref (g, c.x, c.D, c.H, c.W, c.w, c.dy, c.dx_ref, c.dw_ref, c.db_ref);
        g_autofree float *scr = g_new (float, threads * nn_conv_transpose3d_backward_scratch_floats (g, c.nin, threads));
        g_autofree float *tmp = g_new (float, g->cin * c.nin);
        nn_conv_transpose3d_backward_weights (pool, g, c.x, c.D, c.H, c.W, c.dy, c.dw, c.db, scr);
        nn_conv_transpose3d_backward_input (pool, g, c.dy, c.D, c.H, c.W, c.w, c.dx, tmp, scr);
        assert_close ("convT dw", c.dw, c.dw_ref, c.nw, 1e-4);
        assert_close ("convT db", c.db, c.db_ref, g->cout, 1e-4);
        assert_close ("convT dx", c.dx, c.dx_ref, g->cin * c.nin, 1e-4);
        conv_case_clear (&c);
      }
}

static void
test_pool_bn_act_backward (void)
{
  g_autoptr (GRand) r = g_rand_new_with_seed (13);
  g_autoptr (WorkerPool) pool = worker_pool_new (2);
  /* max pooling: 2³ stride 2, 3³ stride 1 padding 1 and 3³ stride 2 padding 1; rows of 7
   * (short rows), of 20 and of 45 (vector blocks and both borders), values on a coarse
   * grid from 20 on (ties: the first wins) */
  int ks[5] = { 2, 3, 2, 3, 3 }, ss[5] = { 2, 1, 2, 1, 2 }, ps[5] = { 0, 1, 0, 1, 1 }, ws[5] = { 7, 7, 45, 45, 20 };
  for (int c = 0; c < 5; c++)
    {
      int k[3] = { ks[c], ks[c], ks[c] }, s[3] = { ss[c], ss[c], ss[c] }, p[3] = { ps[c], ps[c], ps[c] };
      int C = 3, D = 6, H = 5, W = ws[c];
      int Do = nn_conv_out_size (D, k[0], s[0], p[0]), Ho = nn_conv_out_size (H, k[1], s[1], p[1]);
      int Wo = nn_conv_out_size (W, k[2], s[2], p[2]);
      int64_t nin = (int64_t) C * D * H * W, nout = (int64_t) C * Do * Ho * Wo;
      g_autofree float *x = g_new (float, nin), *dy = g_new (float, nout);
      g_autofree float *dx = g_new0 (float, nin), *dx_ref = g_new0 (float, nin);
      fill_random (x, nin, r, -1, 1);
      if (W > 7)
        for (int64_t i = 0; i < nin; i++)
          x[i] = roundf (x[i] * 4.0f);
      fill_random (dy, nout, r, -1, 1);
      nn_maxpool3d_backward (pool, C, k, s, p, x, D, H, W, dy, dx);
      nn_maxpool3d_backward_ref (C, k, s, p, x, D, H, W, dy, dx_ref);
      assert_close ("maxpool dx", dx, dx_ref, nin, 1e-6);
      /* every output's gradient lands somewhere: sums agree */
      double s1 = 0, s2 = 0;
      for (int64_t i = 0; i < nin; i++)
        s1 += dx[i];
      for (int64_t i = 0; i < nout; i++)
        s2 += dy[i];
      g_assert_cmpfloat (fabs (s1 - s2), <, 1e-3);
    }
  /* batch norm */
  int C = 4;
  int64_t n = 517;
  g_autofree float *z = g_new (float, C * n), *gamma = g_new (float, C), *beta = g_new (float, C);
  g_autofree float *y = g_new (float, C * n), *y_ref = g_new (float, C * n), *dy = g_new (float, C * n);
  float mean[4], invstd[4], var[4], mean_r[4], invstd_r[4], var_r[4];
  fill_random (z, C * n, r, -2, 3);
  fill_random (gamma, C, r, 0.5, 1.5);
  fill_random (beta, C, r, -1, 1);
  fill_random (dy, C * n, r, -1, 1);
  nn_batchnorm_train_forward (pool, z, C, n, gamma, beta, 1e-5f, y, mean, invstd, var);
  nn_batchnorm_train_forward_ref (z, C, n, gamma, beta, 1e-5f, y_ref, mean_r, invstd_r, var_r);
  assert_close ("bn y", y, y_ref, C * n, 1e-4);
  assert_close ("bn var", var, var_r, C, 1e-5);
  g_autofree float *dz = g_new (float, C * n), *dz_ref = g_new (float, C * n);
  float dg[4] = { 0 }, db[4] = { 0 }, dg_r[4] = { 0 }, db_r[4] = { 0 };
  nn_batchnorm_train_backward (pool, z, C, n, gamma, mean, invstd, dy, dz, dg, db);
  nn_batchnorm_train_backward_ref (z, C, n, gamma, mean, invstd, dy, dz_ref, dg_r, db_r);
  assert_close ("bn dz", dz, dz_ref, C * n, 1e-3);
  assert_close ("bn dgamma", dg, dg_r, C, 1e-4);
  assert_close ("bn dbeta", db, db_r, C, 1e-4);
  /* BN's input gradient by finite differences of L = sum (y * dy) on one channel */
  for (int64_t q = 0; q < 5; q++)
    {
      int64_t i = q * 97 % n;
      double h = 1e-2, lp = 0, lm = 0;
      float saved = z[i];
      z[i] = saved + (float) h;
      nn_batchnorm_train_forward_ref (z, 1, n, gamma, beta, 1e-5f, y_ref, mean_r, invstd_r, NULL);
      for (int64_t v = 0; v < n; v++)
        lp += (double) y_ref[v] * dy[v];
      z[i] = saved - (float) h;
      nn_batchnorm_train_forward_ref (z, 1, n, gamma, beta, 1e-5f, y_ref, mean_r, invstd_r, NULL);
      for (int64_t v = 0; v < n; v++)
        lm += (double) y_ref[v] * dy[v];
      z[i] = saved;
      double fd = (lp - lm) / (2 * h);
      g_assert_cmpfloat (fabs (fd - dz[i]), <, 2e-3 + 2e-2 * fabs (fd));
    }
  /* activations */
  for (int act = NN_ACT_NONE; act <= NN_ACT_LEAKY_RELU; act++)
    {
      g_autofree float *a = g_new (float, n), *g1 = g_new (float, n), *g2 = g_new (float, n);
      fill_random (a, n, r, -1, 1);
      nn_activate (a, n, (NnAct) act, 0.1f);
      fill_random (g1, n, r, -1, 1);
      memcpy (g2, g1, n * sizeof (float));
      nn_activate_backward (a, g1, n, (NnAct) act, 0.1f);
      nn_activate_backward_ref (a, g2, n, (NnAct) act, 0.1f);
      assert_close ("activation backward", g1, g2, n, 0.0);
    }
}

static void
test_adamw (void)
{
  g_autoptr (GRand) r = g_rand_new_with_seed (14);
  int64_t n = 301;
  g_autofree float *p1 = g_new (float, n), *p2 = g_new (float, n), *g = g_new (float, n);
  g_autofree float *m1 = g_new0 (float, n), *m2 = g_new0 (float, n), *v1 = g_new0 (float, n), *v2 = g_new0 (float, n);
  NnAdamParams h;
  nn_adam_params_init (&h);
  fill_random (p1, n, r, -1, 1);
  memcpy (p2, p1, n * 4);
  for (int t = 1; t <= 20; t++)
    {
      fill_random (g, n, r, -1, 1);
      nn_adamw_step (p1, g, m1, v1, n, t, 1e-2f, 0.05f, &h);
      nn_adamw_step_ref (p2, g, m2, v2, n, t, 1e-2f, 0.05f, &h);
    }
  assert_close ("adamw p", p1, p2, n, 1e-5);
  /* minimising sum (p - 0.3)² drives p to 0.3 */
  for (int t = 1; t <= 2000; t++)
    {
      for (int64_t i = 0; i < n; i++)
        g[i] = 2 * (p1[i] - 0.3f);
      nn_adamw_step (p1, g, m1, v1, n, 20 + t, 1e-2f, 0.0f, &h);
    }
  for (int64_t i = 0; i < n; i++)
    g_assert_cmpfloat (fabs (p1[i] - 0.3f), <, 2e-2);
}

/* ---- loss and whole networks vs finite differences ----------------------- */

static void
test_loss_fd (void)
{
  g_autoptr (GRand) r = g_rand_new_with_seed (15);
  int C = 5;
  int64_t n = 40;
  g_autofree float *logits = g_new (float, C * n), *prob = g_new (float, C * n), *dl = g_new (float, C * n);
  g_autofree guint8 *target = g_new (guint8, n);
  fill_random (logits, C * n, r, -2, 2);
  for (int64_t i = 0; i < n; i++)
    target[i] = (guint8) g_rand_int_range (r, 0, C - 1);   /* class C-1 absent */
  NnLossParams lp;
  nn_loss_params_init (&lp);
  lp.removed_weight = 2.0f;
  guint32 removed = 1u << 2;
  nn_softmax_channels_ref (logits, C, n, prob);
  NnLossValue v = nn_softmax_loss (NULL, prob, target, C, n, removed, &lp, dl);
  g_assert_cmpfloat (v.ce, >, 0);
  g_assert_cmpfloat (v.dice, >, 0);
  for (int64_t i = 0; i < C * n; i += 7)
    {
      float saved = logits[i];
      double h = 1e-2;
      logits[i] = saved + (float) h;
      nn_softmax_channels_ref (logits, C, n, prob);
      double lp1 = nn_softmax_loss (NULL, prob, target, C, n, removed, &lp, NULL).total;
      logits[i] = saved - (float) h;
      nn_softmax_channels_ref (logits, C, n, prob);
      double lm1 = nn_softmax_loss (NULL, prob, target, C, n, removed, &lp, NULL).total;
      logits[i] = saved;
      double fd = (lp1 - lm1) / (2 * h);
      if (fabs (fd - dl[i]) > 1e-4 + 1e-2 * fabs (fd))
        g_error ("loss gradient %" G_GINT64_FORMAT ": analytic %g, finite difference %g", i, dl[i], fd);
    }
}

/* Ignored voxels take no part: the loss equals the loss of the other voxels alone, and
 * their gradient is zero. */
static void
test_loss_ignore (void)
{
  g_autoptr (GRand) r = g_rand_new_with_seed (16);
  const int C = 4;
  const int64_t n = 60;
  g_autofree float *logits = g_new (float, C * n), *prob = g_new (float, C * n), *dl = g_new (float, C * n);
  g_autofree float *kept = g_new (float, C * n), *dk = g_new (float, C * n);
  g_autofree guint8 *target = g_new (guint8, n), *tk = g_new (guint8, n);
  fill_random (logits, C * n, r, -2, 2);
  nn_softmax_channels_ref (logits, C, n, prob);
  int64_t m = 0;
  for (int64_t i = 0; i < n; i++)
    target[i] = i % 3 == 0 ? NN_LOSS_IGNORE : (guint8) g_rand_int_range (r, 0, C);
  for (int64_t i = 0; i < n; i++)
    if (target[i] != NN_LOSS_IGNORE)
      tk[m++] = target[i];
  for (int c = 0; c < C; c++)
    for (int64_t i = 0, j = 0; i < n; i++)
      if (target[i] != NN_LOSS_IGNORE)
        kept[c * m + j++] = prob[c * n + i];
  NnLossParams lp;
  nn_loss_params_init (&lp);
  lp.removed_weight = 1.5f;
  NnLossValue all = nn_softmax_loss (NULL, prob, target, C, n, 1u << 1, &lp, dl);
  NnLossValue sub = nn_softmax_loss (NULL, kept, tk, C, m, 1u << 1, &lp, dk);
  g_assert_cmpfloat (fabs (all.total - sub.total), <, 1e-12);
  for (int c = 0; c < C; c++)
    for (int64_t i = 0, j = 0; i < n; i++)
      if (target[i] == NN_LOSS_IGNORE)
        g_assert_cmpfloat (dl[c * n + i], ==, 0.0f);
      else
        g_assert_cmpfloat (dl[c * n + i], ==, dk[c * m + j++]);
}

/* A "background or class a" voxel costs -log(p_0 + p_a) in the cross-entropy and
 * nothing in the Dice term; its gradient matches finite differences. */
static void
test_loss_background_or (void)
{
  g_autoptr (GRand) r = g_rand_new_with_seed (17);
  const int C = 4, alt = 3;
  const int64_t n = 30;
  g_autofree float *logits = g_new (float, C * n), *prob = g_new (float, C * n), *dl = g_new (float, C * n);
  g_autofree guint8 *target = g_new (guint8, n);
  fill_random (logits, C * n, r, -2, 2);
  for (int64_t i = 0; i < n; i++)
    target[i] = i % 4 == 0 ? NN_LOSS_BACKGROUND_OR : (guint8) g_rand_int_range (r, 0, C);
  NnLossParams lp;
  nn_loss_params_init (&lp);
  lp.dice_weight = 0.0f;
  lp.or_class = alt;
  nn_softmax_channels_ref (logits, C, n, prob);
  NnLossValue v = nn_softmax_loss (NULL, prob, target, C, n, 0, &lp, dl);
  double ce = 0;
  for (int64_t i = 0; i < n; i++)
    ce -= log (target[i] == NN_LOSS_BACKGROUND_OR ? (double) prob[i] + prob[alt * n + i] : prob[target[i] * n + i]);
  g_assert_cmpfloat (fabs (v.ce - ce / n), <, 1e-9);
  lp.dice_weight = 1.0f;
  v = nn_softmax_loss (NULL, prob, target, C, n, 0, &lp, dl);
  for (int64_t i = 0; i < C * n; i++)
    {
      float saved = logits[i];
      double h = 1e-2;
      logits[i] = saved + (float) h;
      nn_softmax_channels_ref (logits, C, n, prob);
      double lp1 = nn_softmax_loss (NULL, prob, target, C, n, 0, &lp, NULL).total;
      logits[i] = saved - (float) h;
      nn_softmax_channels_ref (logits, C, n, prob);
      double lm1 = nn_softmax_loss (NULL, prob, target, C, n, 0, &lp, NULL).total;
      logits[i] = saved;
      double fd = (lp1 - lm1) / (2 * h);
      if (fabs (fd - dl[i]) > 1e-4 + 1e-2 * fabs (fd))
        g_error ("loss gradient %" G_GINT64_FORMAT ": analytic %g, finite difference %g", i, dl[i], fd);
    }
  /* with no or_class the value counts as background */
  lp.or_class = -1;
  for (int64_t i = 0; i < n; i++)
    if (target[i] == NN_LOSS_BACKGROUND_OR)
      target[i] = 0;
  nn_softmax_channels_ref (logits, C, n, prob);
  NnLossValue as_zero = nn_softmax_loss (NULL, prob, target, C, n, 0, &lp, NULL);
  for (int64_t i = 0; i < n; i += 4)
    target[i] = NN_LOSS_BACKGROUND_OR;
  g_assert_cmpfloat (nn_softmax_loss (NULL, prob, target, C, n, 0, &lp, NULL).total, ==, as_zero.total);
}

/* Several blocks of voxels and a tail: a pool of threads gives exactly what one thread
 * gives, and the value is the definition's, computed here voxel by voxel. */
static void
test_loss_blocks_threads (void)
{
  g_autoptr (GRand) r = g_rand_new_with_seed (19);
  const int C = 6, alt = 5;
  const int64_t n = 3 * 4096 + 123;
  g_autofree float *logits = g_new (float, C * n), *prob = g_new (float, C * n);
  g_autofree float *d1 = g_new (float, C * n), *d2 = g_new (float, C * n);
  g_autofree guint8 *target = g_new (guint8, n);
  fill_random (logits, C * n, r, -3, 3);
  for (int64_t i = 0; i < n; i++)
    target[i] = i % 7 == 0 ? NN_LOSS_IGNORE : i % 5 == 0 ? NN_LOSS_BACKGROUND_OR : (guint8) g_rand_int_range (r, 0, C);
  NnLossParams lp;
  nn_loss_params_init (&lp);
  lp.removed_weight = 1.5f;
  lp.or_class = alt;
  const guint32 removed = 1u << 2;
  nn_softmax_channels_ref (logits, C, n, prob);
  g_autoptr (WorkerPool) pool = worker_pool_new (2);
  NnLossValue one = nn_softmax_loss (NULL, prob, target, C, n, removed, &lp, d1);
  NnLossValue two = nn_softmax_loss (pool, prob, target, C, n, removed, &lp, d2);
  g_assert_cmpfloat (one.total, ==, two.total);
  g_assert_cmpmem (d1, C * n * sizeof (float), d2, C * n * sizeof (float));

  double wsum = 0, ce = 0, inter[6] = { 0 }, psum[6] = { 0 }, gsum[6] = { 0 };
  for (int64_t i = 0; i < n; i++)
    {
      if (target[i] == NN_LOSS_IGNORE)
        continue;
      if (target[i] == NN_LOSS_BACKGROUND_OR)
        {
          wsum += 1;
          ce -= log ((double) prob[i] + prob[alt * n + i]);
          continue;
        }
      int t = target[i];
      double w = t == 2 ? 2.5 : 1.0;
      wsum += w;
      ce -= w * log (prob[t * n + i]);
      inter[t] += prob[t * n + i];
      gsum[t] += 1;
      for (int c = 0; c < C; c++)
        psum[c] += prob[c * n + i];
    }
  double dice = 0;
  for (int c = 0; c < C; c++)
    dice += (2 * inter[c] + 1) / (psum[c] + gsum[c] + 1) / C;
  g_assert_cmpfloat (fabs (one.ce - ce / wsum), <, 1e-9);
  g_assert_cmpfloat (fabs (one.dice - (1 - dice)), <, 1e-9);

  /* the gradient, from the definition in double: dL/dp_c then through the softmax */
  double worst = 0, scale = 0;
  for (int64_t i = 0; i < n; i++)
    {
      double dp[6] = { 0 }, dot = 0;
      if (target[i] == NN_LOSS_IGNORE)
        continue;
      if (target[i] == NN_LOSS_BACKGROUND_OR)
        {
          double ps = (double) prob[i] + prob[alt * n + i];
          dp[0] = dp[alt] = -1.0 / ps / wsum;
        }
      else
        {
          int t = target[i];
          dp[t] = -(t == 2 ? 2.5 : 1.0) / prob[t * n + i] / wsum;
        }
      for (int c = 0; c < C; c++)
        {
          double num = 2 * inter[c] + 1, den = psum[c] + gsum[c] + 1;
          if (target[i] != NN_LOSS_BACKGROUND_OR)
            dp[c] -= ((target[i] == c ? 2.0 : 0.0) * den - num) / (den * den) / C;
        }
      for (int c = 0; c < C; c++)
        dot += prob[c * n + i] * dp[c];
      for (int c = 0; c < C; c++)
        {
          double want = prob[c * n + i] * (dp[c] - dot);
          worst = MAX (worst, fabs (want - d1[c * n + i]));
          scale = MAX (scale, fabs (want));
        }
    }
  for (int64_t i = 0; i < n; i += 7)
    for (int c = 0; c < C; c++)
      g_assert_cmpfloat (d1[c * n + i], ==, 0.0f);
  g_assert_cmpfloat (worst, <, 1e-5 * scale);
}

static NnNet *
tiny_net (NnArch arch, int depth, int w0, guint64 seed, NnAct act)
{
  NnConfig cfg;
  test_small_config (&cfg, arch, depth, w0, 8);
  cfg.act = act;
  cfg.slope = 0.1f;
  return test_random_net (&cfg, seed);
}

static void
test_net_fd (gconstpointer data)
{
  NnArch arch = (NnArch) GPOINTER_TO_INT (data);
  /* Inception branches get w/4 channels: give them 2 and 4 (BatchNorm over a single
   * channel of a tiny grid is too non-linear for float32 finite differences) */
  g_autoptr (NnNet) net = tiny_net (arch, 2, arch == NN_ARCH_GOOGLENET_SKIP ? 8 : 4, 21, NN_ACT_LEAKY_RELU);
  g_autoptr (GError) error = NULL;
  int D = 8, H = 6, W = 10;
  int64_t n = (int64_t) D * H * W;
  g_autoptr (NnTrainer) t = nn_trainer_new (net, D, H, W, 2, &error);
  g_assert_no_error (error);
  g_autoptr (GRand) r = g_rand_new_with_seed (22);
  float *x = nn_trainer_get_input (t);
  g_autofree guint8 *target = g_new (guint8, n);
  memset (x, 0, 13 * n * sizeof (float));
  for (int64_t i = 0; i < n; i++)
    {
      int lab = g_rand_int_range (r, 0, 13);
      x[lab * n + i] = 1.0f;
      target[i] = g_rand_boolean (r) ? (guint8) lab : (guint8) g_rand_int_range (r, 0, 13);
    }
  NnLossParams lp;
  nn_loss_params_init (&lp);
  lp.removed_weight = 1.0f;
  guint32 removed = (1u << 3) | (1u << 8);
  nn_trainer_forward (t, TRUE, FALSE);
  nn_trainer_backward (t, target, removed, &lp);

  int n_params;
  NnParam *ps = nn_net_get_params (net, &n_params);
  int checked = 0, bad = 0;
  double worst = 0;
  for (int i = 0; i < n_params; i++)
    {
      float *g = nn_trainer_get_grad (t, i);
      if (g == NULL)
        continue;
      g_autofree float *gcopy = g_memdup2 (g, ps[i].n * sizeof (float));
      int bad_here = 0;
      for (int s = 0; s < 3; s++)
        {
          int64_t q = (int64_t) g_rand_int_range (r, 0, (gint32) ps[i].n);
          float saved = ps[i].data[q];
          double h = 2e-4 * MAX (1.0, fabs (saved));
          ps[i].data[q] = saved + (float) h;
          nn_trainer_forward (t, TRUE, FALSE);
          double lplus = nn_softmax_loss (NULL, nn_trainer_get_output (t), target, 13, n, removed, &lp, NULL).total;
          ps[i].data[q] = saved - (float) h;
          nn_trainer_forward (t, TRUE, FALSE);
          double lminus = nn_softmax_loss (NULL, nn_trainer_get_output (t), target, 13, n, removed, &lp, NULL).total;
          ps[i].data[q] = saved;
          double fd = (lplus - lminus) / (2 * h);
          double err = fabs (fd - gcopy[q]) / (1e-3 + fabs (fd));
          checked++;
          worst = MAX (worst, err);
          if (fabs (fd - gcopy[q]) > 3e-4 + 5e-2 * fabs (fd))
            {
              bad++;
              bad_here++;
              g_test_message ("%s[%" G_GINT64_FORMAT "]: analytic %.6g, finite difference %.6g", ps[i].name, q,
                              gcopy[q], fd);
            }
        }
      /* a wrong backward pass shows on every sampled entry of its parameters */
      g_assert_cmpint (bad_here, <, 3);
    }
  g_test_message ("%s: %d gradient entries checked, %d outside tolerance, worst relative %.3g",
                  nn_arch_to_string (arch), checked, bad, worst);
  /* ReLU kinks and max-pool switches may spoil a rare finite difference */
  g_assert_cmpint (bad, <=, checked / 10);
}

/* ---- training on tiny phantoms: learning and exact resume ---------------- */

#define TINY_GRID 16

static NnNet *
tiny_phantom_net (void)
{
  NnConfig cfg;
  test_small_config (&cfg, NN_ARCH_UNET_SKIP, 2, 8, TINY_GRID);
  return test_random_net (&cfg, 3);
}

/* steps [from, to) of a run with a constant learning rate; returns the mean loss
 * of the last @tail steps */
static double
run_steps (NnTrainer *t, int from, int to, int tail, double *first_mean)
{
  const int grid[3] = { TINY_GRID, TINY_GRID, TINY_GRID };
  const int64_t n = (int64_t) TINY_GRID * TINY_GRID * TINY_GRID;
  g_autofree guint8 *target = g_new (guint8, n);
  NnLossParams lp;
  nn_loss_params_init (&lp);
  lp.removed_weight = 2.0f;
  NnStepParams sp = { .lr = 1e-2f, .weight_decay = 1e-4f, .clip_norm = 5.0 };
  nn_adam_params_init (&sp.adam);
  double sum_first = 0, sum_last = 0;
  for (int step = from; step < to; step++)
    {
      g_autoptr (GError) error = NULL;
      guint32 removed;
      /* a small pool of subjects so that a few dozen steps can learn them */
      g_assert_true (train_data_phantom_sample (7, (guint64) (step % 4), grid, 1, 13, nn_trainer_get_input (t),
                                                target, NULL, &removed, &error));
      g_assert_no_error (error);
      NnLossValue v = nn_trainer_step (t, target, removed, &lp, &sp);
      g_assert_true (isfinite (v.total));
      if (step - from < tail)
        sum_first += v.total;
      if (to - step <= tail)
        sum_last += v.total;
    }
  if (first_mean)
    *first_mean = sum_first / tail;
  return sum_last / tail;
}

static void
test_learns (void)
{
  g_autoptr (NnNet) net = tiny_phantom_net ();
  g_autoptr (GError) error = NULL;
  g_autoptr (NnTrainer) t = nn_trainer_new (net, TINY_GRID, TINY_GRID, TINY_GRID, 1, &error);
  g_assert_no_error (error);
  double first, last = run_steps (t, 0, 48, 8, &first);
  g_test_message ("mean loss of the first 8 steps %.4f, of the last 8 %.4f", first, last);
  g_assert_cmpfloat (last, <, 0.7 * first);
  g_assert_cmpint (nn_trainer_get_step (t), ==, 48);
}

static void
test_resume_exact (void)
{
  g_autoptr (GError) error = NULL;
  const int total = 16, cut = 7;
  /* uninterrupted */
  g_autoptr (NnNet) a = tiny_phantom_net ();
  g_autoptr (NnTrainer) ta = nn_trainer_new (a, TINY_GRID, TINY_GRID, TINY_GRID, 2, &error);
  g_assert_no_error (error);
  run_steps (ta, 0, total, 1, NULL);

  /* interrupted at @cut: model file + optimiser file, then a fresh process state */
  g_autofree char *mpath = g_build_filename (tmpdir, "ckpt.safetensors", NULL);
  g_autofree char *opath = g_build_filename (tmpdir, "ckpt.optim.safetensors", NULL);
  {
    g_autoptr (NnNet) b = tiny_phantom_net ();
    g_autoptr (NnTrainer) tb = nn_trainer_new (b, TINY_GRID, TINY_GRID, TINY_GRID, 2, &error);
    g_assert_no_error (error);
    run_steps (tb, 0, cut, 1, NULL);
    g_assert_true (nn_net_save (b, mpath, TRUE, &error));
    const char *kv[] = { "seed", "7", NULL };
    g_assert_true (nn_trainer_save_optimizer (tb, opath, kv, &error));
    g_assert_no_error (error);
  }
  g_autoptr (NnNet) c = nn_net_load (mpath, &error);
  g_assert_no_error (error);
  g_autoptr (NnTrainer) tc = nn_trainer_new (c, TINY_GRID, TINY_GRID, TINY_GRID, 2, &error);
  g_assert_no_error (error);
  GHashTable *meta = NULL;
  g_assert_true (nn_trainer_load_optimizer (tc, opath, &meta, &error));
  g_assert_cmpstr (g_hash_table_lookup (meta, "seed"), ==, "7");
  g_hash_table_unref (meta);
  g_assert_cmpint (nn_trainer_get_step (tc), ==, cut);
  run_steps (tc, cut, total, 1, NULL);

  test_assert_same_params (a, c, "after resume");
  /* and training really changed the weights */
  int na, nc;
  NnParam *pa = nn_net_get_params (a, &na);
  g_autoptr (NnNet) init = tiny_phantom_net ();
  NnParam *pi = nn_net_get_params (init, &nc);
  g_assert_true (memcmp (pi[0].data, pa[0].data, pa[0].n * sizeof (float)) != 0);
  /* a wrong optimiser file is refused */
  g_assert_false (nn_trainer_load_optimizer (tc, mpath, NULL, &error));
  g_assert_error (error, NN_TRAIN_ERROR, NN_TRAIN_ERROR_STATE);
  g_unlink (mpath);
  g_unlink (opath);
}

static const TestCase test_cases[] = {
  { "/nn-train/conv-backward", test_conv_backward },
  { "/nn-train/convt-backward", test_convt_backward },
  { "/nn-train/pool-bn-act-backward", test_pool_bn_act_backward },
  { "/nn-train/adamw", test_adamw },
  { "/nn-train/loss-fd", test_loss_fd },
  { "/nn-train/loss-ignore", test_loss_ignore },
  { "/nn-train/loss-background-or", test_loss_background_or },
  { "/nn-train/loss-blocks-threads", test_loss_blocks_threads },
  { "/nn-train/learns", test_learns },
  { "/nn-train/resume-exact", test_resume_exact },
};

/* one finite-difference case per architecture */
static void
add_net_fd_cases (void)
{
  for (int a = 0; a < NN_N_ARCHS; a++)
    {
      g_autofree char *p = g_strdup_printf ("/nn-train/net-fd/%s", nn_arch_to_string ((NnArch) a));
      g_test_add_data_func (p, GINT_TO_POINTER (a), test_net_fd);
    }
}

TEST_UTIL_MAIN_TMPDIR (test_cases, "test-nn-train-XXXXXX", add_net_fd_cases)
