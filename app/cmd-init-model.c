/* cmd-init-model.c: `anatomy init-model`: write a seeded random-weight model file. */
#include "commands.h"
#include "nn-net.h"

#include <stdio.h>
#include <string.h>

/* the --help text of `anatomy init-model` */
static const char summary[] =
  "Write an untrained completion network with seeded random weights (He-uniform\n"
  "convolutions, identity BatchNorm) in the app's safetensors model format.\n"
  "The same seed always gives the same file.  For tests and benchmarks only:\n"
  "its completions are meaningless.";

int
cmd_init_model (int argc, char **argv)
{
  g_autofree char *arch_s = NULL, *out = NULL, *widths = NULL, *act = NULL;
  gint64 seed = 1;
  int blocks = 0, grid = 0;
  gboolean force = FALSE;
  GOptionEntry entries[] = {
    { "arch", 'a', 0, G_OPTION_ARG_STRING, &arch_s, "unet, unet-skip or googlenet-skip", "ARCH" },
    { "out", 'o', 0, G_OPTION_ARG_FILENAME, &out, "Model file to write (.safetensors)", "FILE" },
    { "seed", 's', 0, G_OPTION_ARG_INT64, &seed, "Random seed (default 1)", "S" },
    { "widths", 'w', 0, G_OPTION_ARG_STRING, &widths, "Channels per level, e.g. 16,32,64,128 as the shipped models (default 8,16,32,64; 16,32,64,128 for googlenet-skip)", "LIST" },
    { "blocks", 'b', 0, G_OPTION_ARG_INT, &blocks, "Convolutions (Inception modules) per level (default 2; the shipped models have 1)", "N" },
    { "grid", 'g', 0, G_OPTION_ARG_INT, &grid, "Network grid edge (default 128; the shipped models have 64)", "N" },
    { "activation", 0, 0, G_OPTION_ARG_STRING, &act, "relu (default) or leaky_relu", "ACT" },
    { "force", 'f', 0, G_OPTION_ARG_NONE, &force, "Replace FILE if it exists", NULL },
    { NULL },
  };
  if (!cli_parse_options (&argc, &argv, NULL, summary, entries))
    return CLI_EXIT_USAGE;
  if (out == NULL)
    return cli_fail ("--out FILE is required");
  NnConfig cfg;
  if (!cli_network_config (arch_s, widths, blocks, grid, &cfg))
    return 1;
  if (act)
    {
      if (strcmp (act, "relu") == 0)
        cfg.act = NN_ACT_RELU;
      else if (strcmp (act, "leaky_relu") == 0)
        cfg.act = NN_ACT_LEAKY_RELU;
      else
        return cli_fail ("--activation must be relu or leaky_relu");
    }
  g_autoptr (GError) error = NULL;
  g_autoptr (NnNet) net = nn_net_new (&cfg, &error);
  if (net == NULL)
    return cli_fail ("%s", error->message);
  nn_net_init_random (net, (guint64) seed);
  g_autoptr (GDateTime) now = g_date_time_new_now_utc ();
  g_autofree char *date = g_date_time_format_iso8601 (now);
  g_autofree char *prov = g_strdup_printf ("{\"tool\": \"anatomy init-model\", \"version\": \"%s\", "
                                           "\"seed\": %" G_GINT64_FORMAT ", \"trained\": false, "
                                           "\"created\": \"%s\"}", PACKAGE_VERSION, seed, date);
  nn_net_set_metadata (net, "provenance", prov);
  if (!nn_net_save (net, out, force, &error))
    return cli_fail ("%s", error->message);
  printf ("%s: %s, widths", out, nn_arch_to_string (cfg.arch));
  for (int i = 0; i < cfg.depth; i++)
    printf ("%s%d", i ? "-" : " ", cfg.widths[i]);
  printf (", %d blocks, %" G_GINT64_FORMAT " parameters, seed %" G_GINT64_FORMAT "\n", cfg.blocks,
          nn_net_count_parameters (net), seed);
  return 0;
}
