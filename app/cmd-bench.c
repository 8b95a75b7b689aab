/* cmd-bench.c: `anatomy bench nn`: forward-pass timing of network files (by default the
 * shipped models) against PyTorch on the same weights and threads and against OpenBLAS's
 * own sgemm rate, all in the same run, in interleaved repetitions.
 *
 * Each case (model, grid) starts two servers, this program as `bench nn-forward` and
 * tests/golden/torch_bench.py --serve, which load the model, run one warm-up pass and then
 * time one forward pass per "run" line on stdin.  The parent asks them in turn (which
 * goes first swaps every repetition) and times one 2048³ sgemm itself after each pair, so
 * every repetition gives a PyTorch/ours ratio and a GFLOP/s/sgemm ratio measured
 * within seconds of each other; the table reports medians. */
#include "commands.h"
#include "nn-net.h"

#include <cblas.h>
#include <json-glib/json-glib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SGEMM_N 2048

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

/* Median of @v (n values; reordered). */
static double
median (double *v, int n)
{
  qsort (v, n, sizeof (double), cmp_double);
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

/* GFLOP/s with two significant digits at least. */
static const char *
fmt_rate (char buf[32], double gflops)
{
  g_snprintf (buf, 32, gflops < 10 ? "%.1f" : "%.0f", gflops);
  return buf;
}

/* ---- the server: `anatomy bench nn-forward --model F [--grid N] --threads T` ---- */

/* Loads @model at @grid (0: the model's own grid), runs a warm-up pass, prints one JSON
 * line describing the case, then one line {"s": seconds} per "run" line on stdin; at
 * "quit" or end of input, {"peak_rss_mib": ...}. */
static int
serve_forward (const char *model, int grid, int threads)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (NnNet) net = nn_net_load (model, &error);
  if (net == NULL)
    return cli_fail ("%s", error->message);
  const NnConfig *cfg = nn_net_get_config (net);
  int D = grid > 0 ? grid : cfg->grid[2], H = grid > 0 ? grid : cfg->grid[1], W = grid > 0 ? grid : cfg->grid[0];
  if (!nn_net_prepare (net, D, H, W, threads, NN_PREPARE_DEFAULT, &error))
    return cli_fail ("%s", error->message);
  /* a random one-hot label map (x is (C, D, H, W)) */
  int64_t n = (int64_t) D * H * W;
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
  g_autoptr (GString) widths = g_string_new (NULL);
  for (int i = 0; i < cfg->depth; i++)
    g_string_append_printf (widths, "%s%d", i ? "-" : "", cfg->widths[i]);
  printf ("{\"arch\": \"%s\", \"widths\": \"%s\", \"blocks\": %d, \"grid\": [%d, %d, %d], \"flops\": %.6g, "
          "\"activation_mib\": %.1f, \"scratch_mib\": %.1f}\n",
          nn_arch_to_string (cfg->arch), widths->str, cfg->blocks, D, H, W, nn_net_get_flops (net),
          nn_net_get_activation_bytes (net) / 1048576.0, nn_net_get_scratch_bytes (net) / 1048576.0);
  fflush (stdout);
  char line[64];
  while (fgets (line, sizeof line, stdin) && strncmp (line, "run", 3) == 0)
    {
      gint64 t0 = g_get_monotonic_time ();
      if (!nn_net_forward (net, NULL, NULL, NULL, &error))
        return cli_fail ("%s", error->message);
      printf ("{\"s\": %.6f}\n", (g_get_monotonic_time () - t0) / 1e6);
      fflush (stdout);
    }
  printf ("{\"peak_rss_mib\": %.1f}\n", peak_rss_mib ());
  return 0;
}

/* ---- the parent ---- */

/* Seconds of one SGEMM_N³ sgemm on @threads threads (buffers from sgemm_buffers). */
static double
sgemm_seconds (const float *a, const float *b, float *c, int threads)
{
  openblas_set_num_threads (threads);
  gint64 t0 = g_get_monotonic_time ();
  cblas_sgemm (CblasRowMajor, CblasNoTrans, CblasNoTrans, SGEMM_N, SGEMM_N, SGEMM_N, 1.0f, a, SGEMM_N, b,
               SGEMM_N, 0.0f, c, SGEMM_N);
  return (g_get_monotonic_time () - t0) / 1e6;
}

typedef struct {
  const char *name;
  GSubprocess *proc;
  GOutputStream *in;
  GDataInputStream *out;
} Server;

static void
server_clear (Server *s)
{
  if (s->proc)
    {
      g_subprocess_force_exit (s->proc);
      g_subprocess_wait (s->proc, NULL, NULL);
    }
  g_clear_object (&s->out);
  g_clear_object (&s->proc);
  s->in = NULL;
}

/* The next JSON object the server prints (lines that are not JSON are skipped). */
static JsonObject *
server_read (Server *s, GError **error)
{
  for (;;)
    {
      g_autofree char *line = g_data_input_stream_read_line (s->out, NULL, NULL, error);
      if (line == NULL)
        {
          if (error && *error == NULL)
            g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED, "%s stopped before answering", s->name);
          return NULL;
        }
      g_strstrip (line);
      if (line[0] != '{')
        continue;
      g_autoptr (JsonParser) p = json_parser_new ();
      if (!json_parser_load_from_data (p, line, -1, error))
        return NULL;
      JsonNode *root = json_parser_get_root (p);
      if (JSON_NODE_HOLDS_OBJECT (root))
        return json_object_ref (json_node_get_object (root));
    }
}

static gboolean
server_send (Server *s, const char *text, GError **error)
{
  return g_output_stream_write_all (s->in, text, strlen (text), NULL, NULL, error)
         && g_output_stream_flush (s->in, NULL, error);
}

/* Starts @argv as a server and reads its first (description) line. */
static JsonObject *
server_start (Server *s, const char *name, char **argv, GError **error)
{
  s->name = name;
  s->proc = g_subprocess_newv ((const char *const *) argv,
                               G_SUBPROCESS_FLAGS_STDIN_PIPE | G_SUBPROCESS_FLAGS_STDOUT_PIPE, error);
  if (s->proc == NULL)
    return NULL;
  s->in = g_subprocess_get_stdin_pipe (s->proc);
  s->out = g_data_input_stream_new (g_subprocess_get_stdout_pipe (s->proc));
  return server_read (s, error);
}

/* One forward pass of the server, in seconds; < 0 on failure. */
static double
server_run (Server *s, GError **error)
{
  if (!server_send (s, "run\n", error))
    return -1;
  g_autoptr (JsonObject) o = server_read (s, error);
  return o && json_object_has_member (o, "s") ? json_object_get_double_member (o, "s") : -1;
}

/* Peak RSS the server reports as it quits. */
static double
server_quit (Server *s)
{
  double rss = 0;
  if (server_send (s, "quit\n", NULL))
    {
      g_autoptr (JsonObject) o = server_read (s, NULL);
      if (o && json_object_has_member (o, "peak_rss_mib"))
        rss = json_object_get_double_member (o, "peak_rss_mib");
    }
  g_subprocess_wait (s->proc, NULL, NULL);
  g_clear_object (&s->out);
  g_clear_object (&s->proc);
  s->in = NULL;
  return rss;
}

typedef struct {
  const char *self, *torch_script;
  int threads, repeats;
  gboolean torch;
  const float *a, *b;
  float *c;
  GArray *sgemm_rates;   /* every sgemm of the run, GFLOP/s */
} Bench;

/* Times one model at one grid (0: its own) and prints its table row; FALSE on failure. */
static gboolean
bench_case (Bench *bn, const char *path, int grid)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *th = g_strdup_printf ("%d", bn->threads), *gr = g_strdup_printf ("%d", grid);
  char *oargv[] = { (char *) bn->self, "bench", "nn-forward", "--model", (char *) path, "--grid", gr,
                    "--threads", th, NULL };
  char *targv[] = { "/usr/bin/python3", (char *) bn->torch_script, "--serve", "--model", (char *) path, "--grid",
                    gr, "--threads", th, NULL };
  Server ours = { 0 }, torch = { 0 };
  g_autoptr (JsonObject) desc = server_start (&ours, "anatomy bench nn-forward", oargv, &error);
  g_autoptr (JsonObject) tdesc = NULL;
  if (desc && bn->torch)
    {
      tdesc = server_start (&torch, "torch_bench.py", targv, &error);
      if (tdesc == NULL)
        {
          fprintf (stderr, "anatomy: PyTorch peer: %s\n", error->message);
          g_clear_error (&error);
          server_clear (&torch);
        }
    }
  if (desc == NULL)
    {
      fprintf (stderr, "anatomy: %s: %s\n", path, error->message);
      server_clear (&ours);
      return FALSE;
    }
  double flops = json_object_get_double_member (desc, "flops");
  int R = bn->repeats;
  g_autofree double *t_ours = g_new (double, R), *t_torch = g_new (double, R), *ratio = g_new (double, R),
                    *share = g_new (double, R);
  int n_torch = 0;
  gboolean ok = TRUE;
  for (int r = 0; r < R && ok; r++)
    {
      double to = -1, tt = -1;
      if (r % 2 == 0 || torch.proc == NULL)
        {
          to = server_run (&ours, &error);
          if (torch.proc)
            tt = server_run (&torch, &error);
        }
      else
        {
          tt = server_run (&torch, &error);
          to = server_run (&ours, &error);
        }
      if (to <= 0 || (torch.proc && tt <= 0))
        {
          fprintf (stderr, "anatomy: %s: %s\n", path, error ? error->message : "a forward pass failed");
          ok = FALSE;
          break;
        }
      double rate = 2.0 * SGEMM_N * (double) SGEMM_N * SGEMM_N / sgemm_seconds (bn->a, bn->b, bn->c, bn->threads) / 1e9;
      g_array_append_val (bn->sgemm_rates, rate);
      t_ours[r] = to;
      share[r] = flops / to / 1e9 / rate;
      if (torch.proc)
        {
          t_torch[n_torch] = tt;
          ratio[n_torch++] = tt / to;
        }
    }
  double rss = server_quit (&ours), trss = torch.proc ? server_quit (&torch) : 0;
  if (!ok)
    {
      server_clear (&torch);
      return FALSE;
    }
  JsonArray *g = json_object_get_array_member (desc, "grid");
  g_autofree char *name = g_path_get_basename (path);
  char *dot = strrchr (name, '.');
  if (dot && strcmp (dot, ".safetensors") == 0)
    *dot = '\0';
  double mo = median (t_ours, R);
  int gd = (int) json_array_get_int_element (g, 0), gh = (int) json_array_get_int_element (g, 1),
      gw = (int) json_array_get_int_element (g, 2);
  g_autofree char *gtext = gd == gh && gh == gw ? g_strdup_printf ("%d³", gd) : g_strdup_printf ("%d×%d×%d", gw, gh, gd);
  char r1[32], r2[32];
  printf ("| %s | %s %s×%d | %s%s | %.1f | %.3f s | %s (%.0f %%) |", name,
          json_object_get_string_member (desc, "arch"), json_object_get_string_member (desc, "widths"),
          (int) json_object_get_int_member (desc, "blocks"), gtext, grid > 0 ? "" : " (own)", flops / 1e9, mo,
          fmt_rate (r1, flops / mo / 1e9), 100.0 * median (share, R));
  if (n_torch > 0)
    {
      double mt = median (t_torch, n_torch);
      printf (" %.3f s | %s | %.2f× | %.0f MiB | %.0f MiB |\n", mt, fmt_rate (r2, flops / mt / 1e9),
              median (ratio, n_torch), rss, trss);
    }
  else
    printf (" - | - | - | %.0f MiB | - |\n", rss);
  fflush (stdout);
  return TRUE;
}

/* the --help text of `anatomy bench` */
static const char summary[] =
  "Benchmark the network engine on network files: by default the three shipped models\n"
  "(64³ grid, widths 16-32-64-128, one unit per level), each at its own grid and at every\n"
  "--grid.  For every case: the median time of a forward pass, its GFLOP/s and their\n"
  "share of OpenBLAS's own 2048³ sgemm rate, and the same network in PyTorch (same\n"
  "weights, same threads; Debian's /usr/bin/python3 with torch).  The two engines run as\n"
  "servers side by side and are asked for one pass each in turn, the order swapping every\n"
  "repetition, with one sgemm after each pair: ratios are medians of same-moment pairs.\n"
  "Prints a Markdown table.  A network with other widths: 'anatomy init-model' then --model.";

int
cmd_bench (int argc, char **argv)
{
  g_autofree char *grid_s = NULL, *script = NULL;
  g_auto (GStrv) models = NULL;
  int threads = 2, repeats = 5;
  gboolean no_torch = FALSE;
  GOptionEntry entries[] = {
    { "model", 'm', 0, G_OPTION_ARG_STRING_ARRAY, &models,
      "Network to bench: unet, unet-skip, googlenet-skip (the shipped data/models/NAME.safetensors) or a "
      ".safetensors file; repeat for several (default: the three shipped models)", "NAME|FILE" },
    { "grid", 'g', 0, G_OPTION_ARG_STRING, &grid_s,
      "Also bench at these cubic grid edges (comma-separated, multiples of 2^(depth-1)); each model always "
      "runs at its own grid", "N[,N...]" },
    { "threads", 't', 0, G_OPTION_ARG_INT, &threads, "Threads for both engines and the sgemm (default 2)", "N" },
    { "repeats", 'r', 0, G_OPTION_ARG_INT, &repeats,
      "Timed repetitions per case, each one forward pass of each engine and one sgemm (median; default 5)", "N" },
    { "no-torch", 0, 0, G_OPTION_ARG_NONE, &no_torch, "Do not run the PyTorch peer", NULL },
    { "torch-script", 0, 0, G_OPTION_ARG_FILENAME, &script, "Path of tests/golden/torch_bench.py", "PATH" },
    { NULL },
  };
  if (!cli_parse_options (&argc, &argv, "nn", summary, entries))
    return CLI_EXIT_USAGE;
  if (argc != 2 || (strcmp (argv[1], "nn") != 0 && strcmp (argv[1], "nn-forward") != 0))
    return cli_fail ("usage: anatomy bench nn [OPTIONS]");
  if (threads < 1 || repeats < 1 || repeats > 100)
    return cli_fail ("--threads and --repeats must be positive (--repeats at most 100)");
  g_autoptr (GArray) grids = g_array_new (FALSE, FALSE, sizeof (int));
  if (grid_s)
    {
      g_auto (GStrv) parts = g_strsplit (grid_s, ",", -1);
      for (int i = 0; parts[i]; i++)
        {
          char *end = NULL;
          long v = strtol (parts[i], &end, 10);
          if (end == parts[i] || *end != '\0' || v < 0 || v > 1024)
            return cli_fail ("--grid: '%s' is not a grid edge between 1 and 1024", parts[i]);
          int gv = (int) v;
          if (gv > 0 || strcmp (argv[1], "nn-forward") == 0)   /* 0: the model's own grid */
            g_array_append_val (grids, gv);
        }
    }
  if (strcmp (argv[1], "nn-forward") == 0)
    {
      if (models == NULL || models[0] == NULL)
        return cli_fail ("nn-forward needs --model");
      return serve_forward (models[0], grids->len ? g_array_index (grids, int, 0) : 0, threads);
    }

  /* the models: names or files, default the shipped three */
  g_autoptr (GPtrArray) paths = g_ptr_array_new_with_free_func (g_free);
  g_autoptr (GError) error = NULL;
  if (models == NULL)
    for (int a = 0; a < NN_N_ARCHS; a++)
      {
        char *p = cli_find_model (nn_arch_to_string ((NnArch) a), &error);
        if (p == NULL)
          return cli_fail ("%s", error->message);
        g_ptr_array_add (paths, p);
      }
  else
    for (int i = 0; models[i]; i++)
      {
        char *p = cli_find_model (models[i], &error);
        if (p == NULL)
          return cli_fail ("%s", error->message);
        g_ptr_array_add (paths, p);
      }

  g_autofree char *self = g_file_read_link ("/proc/self/exe", NULL);
  g_autofree char *torch = script ? g_strdup (script)
                                  : g_build_filename (AR_SOURCE_DATADIR, "..", "tests", "golden", "torch_bench.py", NULL);
  if (!no_torch && !g_file_test (torch, G_FILE_TEST_EXISTS))
    return cli_fail ("%s: no such file (give --torch-script or --no-torch)", torch);
  gsize nn = (gsize) SGEMM_N * SGEMM_N;
  g_autofree float *a = g_new (float, nn), *b = g_new (float, nn), *c = g_new (float, nn);
  for (gsize i = 0; i < nn; i++)
    {
      a[i] = (float) (i % 17) * 0.01f;
      b[i] = (float) (i % 13) * 0.01f;
    }
  Bench bn = { .self = self, .torch_script = torch, .threads = threads, .repeats = repeats, .torch = !no_torch,
               .a = a, .b = b, .c = c, .sgemm_rates = g_array_new (FALSE, FALSE, sizeof (double)) };
  sgemm_seconds (a, b, c, threads);   /* warm-up: OpenBLAS starts its threads */

  printf ("%d threads, %d interleaved repetitions per case (medians); load average at start: ", threads, repeats);
  {
    double load[1] = { 0 };
    if (getloadavg (load, 1) == 1)
      printf ("%.1f\n\n", load[0]);
    else
      printf ("?\n\n");
  }
  printf ("| model | network | grid | GFLOP | ours | GFLOP/s (%% of sgemm) | PyTorch | PyTorch GFLOP/s "
          "| speed-up | our peak RSS | PyTorch peak RSS |\n");
  printf ("| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n");
  fflush (stdout);
  int rc = 0;
  for (guint m = 0; m < paths->len; m++)
    {
      if (!bench_case (&bn, g_ptr_array_index (paths, m), 0))
        rc = 1;
      for (guint gi = 0; gi < grids->len; gi++)
        if (!bench_case (&bn, g_ptr_array_index (paths, m), g_array_index (grids, int, gi)))
          rc = 1;
    }
  if (bn.sgemm_rates->len > 0)
    printf ("\nOpenBLAS sgemm %d³ on %d threads in this run: median %.0f GFLOP/s over %u runs "
            "(one after each pair)\n", SGEMM_N, threads,
            median ((double *) bn.sgemm_rates->data, (int) bn.sgemm_rates->len), bn.sgemm_rates->len);
  g_array_free (bn.sgemm_rates, TRUE);
  return rc;
}
