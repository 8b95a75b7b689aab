/* test-nn-train-golden.c: the training step against PyTorch autograd and
 * torch.optim.AdamW (files from tests/golden/make_train_golden.py): loss,
 * every parameter gradient, BatchNorm running statistics and one AdamW update. */
#include "nn-net.h"
#include "nn-safetensors.h"
#include "nn-train.h"

#include <math.h>
#include <string.h>

/* max |a - b| relative to max |b| over the tensor (at least 1e-3: a gradient that
 * is zero in exact arithmetic, such as the bias of a transposed convolution
 * whose every consumer is a 1³ convolution followed by BatchNorm, is compared
 * in absolute terms) */
static double
tensor_rel_diff (const float *a, const float *b, int64_t n)
{
  double md = 0.0, mb = 0.0;
  for (int64_t i = 0; i < n; i++)
    {
      md = MAX (md, fabs ((double) a[i] - b[i]));
      mb = MAX (mb, fabs ((double) b[i]));
    }
  return md / MAX (mb, 1e-3);
}

static float *
read_tensor (const NnStFile *f, const char *name, int64_t n)
{
  const NnStTensor *t = nn_st_file_lookup (f, name);
  if (t == NULL)
    g_error ("golden file lacks %s", name);
  g_assert_cmpint (t->n_elements, ==, n);
  float *out = g_new (float, n);
  nn_st_tensor_copy_f32 (f, t, out);
  return out;
}

/* The golden tensor "PREFIX.NAME" of parameter @p against @values; the reference is handed
 * back in *ref_out when that is not NULL. */
static double
param_rel_diff (const NnStFile *f, const char *prefix, const NnParam *p, const float *values, float **ref_out)
{
  g_autofree char *name = g_strdup_printf ("%s.%s", prefix, p->name);
  float *ref = read_tensor (f, name, p->n);
  double d = tensor_rel_diff (values, ref, p->n);
  if (ref_out)
    *ref_out = ref;
  else
    g_free (ref);
  return d;
}

static void
test_arch (gconstpointer data)
{
  const char *arch = data;
  g_autoptr (GError) error = NULL;
  g_autofree char *mname = g_strdup_printf ("%s.safetensors", arch);
  g_autofree char *sname = g_strdup_printf ("%s-step.safetensors", arch);
  g_autofree char *mpath = g_test_build_filename (G_TEST_DIST, "golden", "train", mname, NULL);
  g_autofree char *spath = g_test_build_filename (G_TEST_DIST, "golden", "train", sname, NULL);
  g_autoptr (NnNet) net = nn_net_load (mpath, &error);
  g_assert_no_error (error);
  g_autoptr (NnStFile) f = nn_st_file_load (spath, &error);
  g_assert_no_error (error);
  const NnConfig *cfg = nn_net_get_config (net);
  int D = cfg->grid[2], H = cfg->grid[1], W = cfg->grid[0];
  int64_t n = (int64_t) D * H * W;
  g_autoptr (NnTrainer) t = nn_trainer_new (net, D, H, W, 2, &error);
  g_assert_no_error (error);

  g_autofree float *input = read_tensor (f, "input", 13 * n);
  g_autofree float *target_f = read_tensor (f, "target", n);
  g_autofree float *loss_ref = read_tensor (f, "loss", 3);
  g_autofree guint8 *target = g_new (guint8, n);
  for (int64_t i = 0; i < n; i++)
    target[i] = (guint8) target_f[i];
  memcpy (nn_trainer_get_input (t), input, 13 * n * sizeof (float));
  guint32 removed = (guint32) g_ascii_strtoull (nn_st_file_get_metadata (f, "removed_mask"), NULL, 10);
  NnLossParams lp;
  nn_loss_params_init (&lp);
  lp.removed_weight = (float) g_ascii_strtod (nn_st_file_get_metadata (f, "removed_weight"), NULL);

  nn_trainer_forward (t, TRUE, TRUE);
  NnLossValue v = nn_trainer_backward (t, target, removed, &lp);
  g_test_message ("%s: loss %.6f (PyTorch %.6f), ce %.6f (%.6f), dice %.6f (%.6f)", arch, v.total, loss_ref[0],
                  v.ce, loss_ref[1], v.dice, loss_ref[2]);
  g_assert_cmpfloat (fabs (v.total - loss_ref[0]), <, 1e-4 * fabs (loss_ref[0]));
  g_assert_cmpfloat (fabs (v.ce - loss_ref[1]), <, 1e-4 * fabs (loss_ref[1]));
  g_assert_cmpfloat (fabs (v.dice - loss_ref[2]), <, 1e-4 * fabs (loss_ref[2]) + 1e-6);

  int np;
  NnParam *ps = nn_net_get_params (net, &np);
  double worst_grad = 0.0, worst_stat = 0.0;
  for (int i = 0; i < np; i++)
    {
      float *g = nn_trainer_get_grad (t, i);
      if (g)
        {
          g_autofree float *ref = NULL;
          double d = param_rel_diff (f, "grad", &ps[i], g, &ref);
          worst_grad = MAX (worst_grad, d);
          if (d > 1e-4)
            g_test_message ("%s: %s gradient rel diff %.3g", arch, ps[i].name, d);
          if (d > 1e-3 && g_getenv ("NN_GOLDEN_ALL") == NULL)
            g_error ("%s: gradient of %s differs from PyTorch by %.3g (relative to its max)", arch, ps[i].name, d);
          /* the AdamW check below starts from PyTorch's gradient: Adam's first step is
           * lr·sign(g), which float rounding can flip where g is zero in exact arithmetic */
          memcpy (g, ref, ps[i].n * sizeof (float));
        }
      else
        {
          double d = param_rel_diff (f, "after", &ps[i], ps[i].data, NULL);
          worst_stat = MAX (worst_stat, d);
          if (d > 1e-4)
            g_error ("%s: running statistic %s differs from PyTorch by %.3g", arch, ps[i].name, d);
        }
    }
  NnStepParams sp = { .lr = (float) g_ascii_strtod (nn_st_file_get_metadata (f, "lr"), NULL),
                      .weight_decay = (float) g_ascii_strtod (nn_st_file_get_metadata (f, "weight_decay"), NULL),
                      .clip_norm = 0.0 };
  nn_adam_params_init (&sp.adam);
  nn_trainer_update (t, &sp);
  double worst_step = 0.0;
  for (int i = 0; i < np; i++)
    if (nn_trainer_get_grad (t, i))
      {
        double d = param_rel_diff (f, "step1", &ps[i], ps[i].data, NULL);
        worst_step = MAX (worst_step, d);
        if (d > 1e-4)
          g_error ("%s: %s after one AdamW step differs from PyTorch by %.3g", arch, ps[i].name, d);
      }
  g_test_message ("%s: max relative differences: gradients %.3g, running statistics %.3g, after AdamW %.3g",
                  arch, worst_grad, worst_stat, worst_step);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  static const char *const archs[] = { "unet", "unet-skip", "googlenet-skip" };
  for (gsize i = 0; i < G_N_ELEMENTS (archs); i++)
    {
      g_autofree char *p = g_strdup_printf ("/nn-train-golden/%s", archs[i]);
      g_test_add_data_func (p, archs[i], test_arch);
    }
  return g_test_run ();
}
