/* bench-train.c: seconds per training step (forward in training mode, loss,
 * backward, AdamW) of a model file at a grid, batch 1; the peer of
 * tests/golden/torch_train_bench.py.
 *   bench-train MODEL.safetensors GRID THREADS REPEATS
 * Prints one JSON line: median and all step times, peak RSS. */
#include "nn-net.h"
#include "nn-train.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

static int
cmp_double (const void *a, const void *b)
{
  double x = *(const double *) a, y = *(const double *) b;
  return x < y ? -1 : x > y;
}

int
main (int argc, char **argv)
{
  if (argc != 5)
    {
      fprintf (stderr, "usage: bench-train MODEL.safetensors GRID THREADS REPEATS\n");
      return 2;
    }
  int grid = atoi (argv[2]), threads = atoi (argv[3]), repeats = atoi (argv[4]);
  g_autoptr (GError) error = NULL;
  g_autoptr (NnNet) net = nn_net_load (argv[1], &error);
  if (net == NULL)
    {
      fprintf (stderr, "bench-train: %s\n", error->message);
      return 1;
    }
  g_autoptr (NnTrainer) t = nn_trainer_new (net, grid, grid, grid, threads, &error);
  if (t == NULL)
    {
      fprintf (stderr, "bench-train: %s\n", error->message);
      return 1;
    }
  int64_t n = (int64_t) grid * grid * grid;
  const int C = nn_net_get_config (net)->n_classes;
  g_autofree guint8 *target = g_new (guint8, n);
  g_autoptr (GRand) r = g_rand_new_with_seed (7);
  float *x = nn_trainer_get_input (t);
  memset (x, 0, (size_t) (C * n) * sizeof (float));
  for (int64_t i = 0; i < n; i++)
    {
      int l = g_rand_int_range (r, 0, C);
      x[l * n + i] = 1.0f;
      target[i] = (guint8) (g_rand_boolean (r) ? l : g_rand_int_range (r, 0, C));
    }
  NnLossParams lp;
  nn_loss_params_init (&lp);
  lp.removed_weight = 2.0f;
  NnStepParams sp = { .lr = 1e-3f, .weight_decay = 1e-4f, .clip_norm = 5.0 };
  nn_adam_params_init (&sp.adam);
  nn_trainer_step (t, target, 1u << 8, &lp, &sp);   /* warm-up */
  g_autofree double *times = g_new (double, repeats);
  for (int k = 0; k < repeats; k++)
    {
      gint64 t0 = g_get_monotonic_time ();
      nn_trainer_step (t, target, 1u << 8, &lp, &sp);
      times[k] = (g_get_monotonic_time () - t0) / 1e6;
    }
  g_autofree double *sorted = g_memdup2 (times, repeats * sizeof (double));
  qsort (sorted, repeats, sizeof (double), cmp_double);
  struct rusage ru;
  getrusage (RUSAGE_SELF, &ru);
  printf ("{\"median_s\": %.4f, \"times\": [", sorted[repeats / 2]);
  for (int k = 0; k < repeats; k++)
    printf ("%s%.4f", k ? ", " : "", times[k]);
  printf ("], \"peak_rss_mib\": %.1f, \"threads\": %d, \"forward_gflop\": %.3f}\n", ru.ru_maxrss / 1024.0, threads,
          nn_net_get_flops (net) / 1e9);
  return 0;
}
