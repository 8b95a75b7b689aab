/* cmd-bench.c: `anatomy bench nn`: forward-pass timing of the three networks against
 * OpenBLAS's own sgemm rate and PyTorch, measured in the same run. */
#include "commands.h"
#include "nn-net.h"

#include <cblas.h>
#include <glib/gstdio.h>
#include <json-glib/json-glib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static double
peak_rss_mib (void)
{
  g_autofree char *status = NULL;
  if (!g_file_get_contents ("/proc/self/status", &status, NULL, NULL))
    return 0.0;
  const char *p = strstr (status, "VmHWM:");
  return p ? g_ascii_strtod (p + 6, NULL) / 1024.0 : 0.0;
}

static int
cmp_double (const void *a, const void *b)
{
  double x = *(const double *) a, y = *(const double *) b;
  return (x > y) - (x < y);
}

/* Child: time one model at one grid; prints a JSON line. */
static int
bench_forward (const char *model, int grid, int threads, int repeats)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (NnNet) net = nn_net_load (model, &error);
  if (net == NULL || !nn_net_prepare (net, grid, grid, grid, threads, NN_PREPARE_DEFAULT, &error))
    return cli_fail ("%s", error->message);
  const NnConfig *cfg = nn_net_get_config (net);
  int64_t n = (int64_t) grid * grid * grid;
  float *x = nn_net_get_input (net);
  guint64 s = 7;
  memset (x, 0, (size_t) cfg->in_channels * n * sizeof (float));
  for (int64_t i = 0; i < n; i++)
    {
      s = s * 6364136223846793005ull + 1442695040888963407ull;
      x[(int64_t) ((s >> 33) % (guint64) cfg->in_channels) * n + i] = 1.0f;
    }
  if (!nn_net_forward (net, NULL, NULL, NULL, &error))   /* warm-up: touches every buffer */
    return cli_fail ("%s", error->message);
  g_autofree double *t = g_new (double, repeats);
  for (int r = 0; r < repeats; r++)
    {
      gint64 t0 = g_get_monotonic_time ();
      nn_net_forward (net, NULL, NULL, NULL, NULL);
      t[r] = (g_get_monotonic_time () - t0) / 1e6;
    }
  qsort (t, repeats, sizeof (double), cmp_double);
  printf ("{\"median_s\": %.6f, \"flops\": %.6g, \"peak_rss_mib\": %.1f, \"activation_mib\": %.1f, "
          "\"scratch_mib\": %.1f}\n", t[repeats / 2], nn_net_get_flops (net), peak_rss_mib (),
          nn_net_get_activation_bytes (net) / 1048576.0, nn_net_get_scratch_bytes (net) / 1048576.0);
  return 0;
}

static double
sgemm_gflops (int threads, int n)
{
  float *a = g_new (float, (gsize) n * n), *b = g_new (float, (gsize) n * n), *c = g_new (float, (gsize) n * n);
  for (gsize i = 0; i < (gsize) n * n; i++)
    {
      a[i] = (float) (i % 17) * 0.01f;
      b[i] = (float) (i % 13) * 0.01f;
    }
  openblas_set_num_threads (threads);
  double t[4];
  for (int r = 0; r < 4; r++)
    {
      gint64 t0 = g_get_monotonic_time ();
      cblas_sgemm (CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1.0f, a, n, b, n, 0.0f, c, n);
      t[r] = (g_get_monotonic_time () - t0) / 1e6;
    }
  qsort (t + 1, 3, sizeof (double), cmp_double);   /* first run is a warm-up */
  g_free (a);
  g_free (b);
  g_free (c);
  return 2.0 * n * (double) n * n / t[2] / 1e9;
}

static JsonObject *
run_json (char **argv, char **envp, GError **error)
{
  g_autofree char *out = NULL, *err = NULL;
  int wait_status;
  if (!g_spawn_sync (NULL, argv, envp, G_SPAWN_DEFAULT, NULL, NULL, &out, &err, &wait_status, error))
    return NULL;
  if (!g_spawn_check_wait_status (wait_status, NULL))
    {
      g_set_error (error, G_SPAWN_ERROR, G_SPAWN_ERROR_FAILED, "%s failed: %s", argv[0], err ? err : "");
      return NULL;
    }
  g_autoptr (JsonParser) p = json_parser_new ();
  const char *line = out ? strrchr (g_strchomp (out), '\n') : NULL;
  line = line ? line + 1 : out;
  if (line == NULL || !json_parser_load_from_data (p, line, -1, error))
    return NULL;
  JsonNode *root = json_parser_get_root (p);
  if (!JSON_NODE_HOLDS_OBJECT (root))
    {
      g_set_error (error, G_SPAWN_ERROR, G_SPAWN_ERROR_FAILED, "%s printed no JSON object", argv[0]);
      return NULL;
    }
  return json_object_ref (json_node_get_object (root));
}

int
cmd_bench (int argc, char **argv)
{
  g_autofree char *grids_s = NULL, *archs_s = NULL, *widths_s = NULL, *model = NULL, *script = NULL;
  int threads = 2, repeats = 3, grid = 64;
  gboolean no_torch = FALSE;
  GOptionEntry entries[] = {
    { "grids", 0, 0, G_OPTION_ARG_STRING, &grids_s, "Grid edges (default 64,128)", "LIST" },
    { "archs", 0, 0, G_OPTION_ARG_STRING, &archs_s, "Architectures (default all three)", "LIST" },
    { "widths", 'w', 0, G_OPTION_ARG_STRING, &widths_s, "Widths for every architecture (default: shipped)", "LIST" },
    { "threads", 't', 0, G_OPTION_ARG_INT, &threads, "Threads for both engines (default 2)", "N" },
    { "repeats", 'r', 0, G_OPTION_ARG_INT, &repeats, "Timed forward passes per case (median; default 3)", "N" },
    { "no-torch", 0, 0, G_OPTION_ARG_NONE, &no_torch, "Do not run the PyTorch peer", NULL },
    { "torch-script", 0, 0, G_OPTION_ARG_FILENAME, &script, "Path of tests/golden/torch_bench.py", "PATH" },
    { "model", 0, G_OPTION_FLAG_HIDDEN, G_OPTION_ARG_FILENAME, &model, "nn-forward: model file", "F" },
    { "grid", 0, G_OPTION_FLAG_HIDDEN, G_OPTION_ARG_INT, &grid, "nn-forward: grid edge", "N" },
    { NULL },
  };
  const char *summary =
    "Benchmark the network engine: for each architecture and grid, the median time of a\n"
    "forward pass, GFLOP/s against OpenBLAS's own 2048³ sgemm rate, peak RSS, and the\n"
    "same network (same weights and threads) in PyTorch, each case in its own process.";
  if (!cli_parse_options (&argc, &argv, "nn", summary, entries))
    return CLI_EXIT_USAGE;
  if (argc != 2 || (strcmp (argv[1], "nn") != 0 && strcmp (argv[1], "nn-forward") != 0))
    return cli_fail ("usage: anatomy bench nn [OPTIONS]");
  if (threads < 1 || repeats < 1 || repeats > 100)
    return cli_fail ("--threads and --repeats must be positive");
  if (strcmp (argv[1], "nn-forward") == 0)
    return model ? bench_forward (model, grid, threads, repeats) : cli_fail ("nn-forward needs --model");

  g_autofree char *self = g_file_read_link ("/proc/self/exe", NULL);
  g_autofree char *torch = script ? g_strdup (script)
                                  : g_build_filename (AR_SOURCE_DATADIR, "..", "tests", "golden", "torch_bench.py", NULL);
  g_auto (GStrv) grids = g_strsplit (grids_s ? grids_s : "64,128", ",", -1);
  g_auto (GStrv) archs = g_strsplit (archs_s ? archs_s : "unet,unet-skip,googlenet-skip", ",", -1);
  g_autoptr (GError) error = NULL;
  g_autofree char *tmp = g_dir_make_tmp ("anatomy-bench-XXXXXX", &error);
  if (tmp == NULL)
    return cli_fail ("%s", error->message);

  double blas = sgemm_gflops (threads, 2048);
  printf ("OpenBLAS sgemm 2048³, %d threads: %.1f GFLOP/s\n", threads, blas);
  printf ("%-15s %-14s %5s %8s %9s %8s %7s %9s %9s %9s %8s\n", "arch", "widths", "grid", "GFLOP", "time s",
          "GFLOP/s", "%sgemm", "RSS MiB", "torch s", "torch MiB", "speedup");
  int rc = 0;
  for (int a = 0; archs[a]; a++)
    {
      NnArch arch;
      NnConfig cfg;
      if (!nn_arch_from_string (archs[a], &arch))
        return cli_fail ("unknown architecture '%s'", archs[a]);
      nn_config_init_default (&cfg, arch);
      if (widths_s)
        {
          g_auto (GStrv) w = g_strsplit (widths_s, ",", -1);
          cfg.depth = (int) MIN (g_strv_length (w), NN_MAX_DEPTH);
          for (int i = 0; i < cfg.depth; i++)
            cfg.widths[i] = atoi (w[i]);
        }
      g_autoptr (NnNet) net = nn_net_new (&cfg, &error);
      if (net == NULL)
        return cli_fail ("%s", error->message);
      nn_net_init_random (net, 1234 + a);
      nn_net_set_metadata (net, "provenance", "{\"tool\": \"anatomy bench nn\", \"trained\": false}");
      g_autofree char *path = g_strdup_printf ("%s/%s.safetensors", tmp, archs[a]);
      if (!nn_net_save (net, path, TRUE, &error))
        return cli_fail ("%s", error->message);
      g_autoptr (GString) wdesc = g_string_new (NULL);
      for (int i = 0; i < cfg.depth; i++)
        g_string_append_printf (wdesc, "%s%d", i ? "-" : "", cfg.widths[i]);
      g_string_append_printf (wdesc, "x%d", cfg.blocks);
      for (int gi = 0; grids[gi]; gi++)
        {
          g_autofree char *th = g_strdup_printf ("%d", threads), *rp = g_strdup_printf ("%d", repeats);
          char *cargv[] = { self, "bench", "nn-forward", "--model", path, "--grid", grids[gi], "--threads", th,
                            "--repeats", rp, NULL };
          g_autoptr (JsonObject) c = run_json (cargv, NULL, &error);
          if (c == NULL)
            {
              fprintf (stderr, "anatomy: %s\n", error->message);
              g_clear_error (&error);
              rc = 1;
              continue;
            }
          double ts = json_object_get_double_member (c, "median_s");
          double fl = json_object_get_double_member (c, "flops");
          double rss = json_object_get_double_member (c, "peak_rss_mib");
          double tt = 0.0, trss = 0.0;
          if (!no_torch)
            {
              char *targv[] = { "/usr/bin/python3", torch, "--model", path, "--grid", grids[gi], "--threads", th,
                                "--repeats", rp, NULL };
              g_autoptr (JsonObject) t = run_json (targv, NULL, &error);
              if (t == NULL)
                {
                  fprintf (stderr, "anatomy: PyTorch peer: %s\n", error->message);
                  g_clear_error (&error);
                }
              else
                {
                  tt = json_object_get_double_member (t, "median_s");
                  trss = json_object_get_double_member (t, "peak_rss_mib");
                }
            }
          printf ("%-15s %-14s %5s %8.1f %9.3f %8.1f %6.0f%% %9.0f", archs[a], wdesc->str, grids[gi], fl / 1e9,
                  ts, fl / ts / 1e9, 100.0 * fl / ts / 1e9 / blas, rss);
          if (tt > 0)
            printf (" %9.3f %9.0f %7.2fx\n", tt, trss, tt / ts);
          else
            printf (" %9s %9s %8s\n", "-", "-", "-");
          fflush (stdout);
        }
      g_unlink (path);
    }
  g_rmdir (tmp);
  return rc;
}
