/* anatomy.c: the command-line tool's entry point and shared helpers. */
#include "commands.h"

#include <locale.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static const AnatomyCommand commands[] = {
  { "info", "Describe a label map: geometry, datatype and every label", cmd_info },
  { "convert", "Rewrite a label map in another NIfTI form", cmd_convert },
  { "phantom", "Generate procedural torso phantoms in the benchmark layout", cmd_phantom },
  { "render", "Draw the organ surfaces to a PNG image, offscreen", cmd_render },
  { "mesh", "Extract, smooth and export organ surfaces (OBJ, PLY, STL)", cmd_mesh },
  { "complete", "Complete a partial label map with a 3D network", cmd_complete },
  { "init-model", "Write a seeded random-weight network file (tests, benchmarks)", cmd_init_model },
  { "bench", "Benchmark the network engine against OpenBLAS and PyTorch", cmd_bench },
  { "train", "Train a completion network (phantoms or benchmark data)", cmd_train },
  { "eval", "Dice of completion networks and baselines on a dataset", cmd_eval },
};

static void
print_usage (FILE *out)
{
  fprintf (out,
           "Usage: anatomy COMMAND [OPTIONS...]\n\n"
           "3D Anatomy Reconstruction command-line tool.\n\nCommands:\n");
  for (gsize i = 0; i < G_N_ELEMENTS (commands); i++)
    fprintf (out, "  %-10s %s\n", commands[i].name, commands[i].summary);
  fprintf (out, "\nRun 'anatomy COMMAND --help' for the options of a command.\n");
}

gboolean
cli_parse (GOptionContext *ctx, int *argc, char ***argv, int *status)
{
  g_autoptr (GError) error = NULL;

  if (!g_option_context_parse (ctx, argc, argv, &error))
    {
      fprintf (stderr, "%s: %s\nTry '%s --help'.\n", (*argv)[0], error->message, (*argv)[0]);
      *status = 2;
      return FALSE;
    }
  return TRUE;
}

int
cli_fail (const char *fmt, ...)
{
  va_list ap;
  va_start (ap, fmt);
  g_autofree char *msg = g_strdup_vprintf (fmt, ap);
  va_end (ap);
  fprintf (stderr, "anatomy: %s\n", msg);
  return 1;
}

static gboolean progress_shown;

void
cli_progress (const char *label, double fraction, const char *text)
{
  if (!isatty (STDERR_FILENO))
    return;
  int width = 30, filled = (int) (CLAMP (fraction, 0.0, 1.0) * width);
  char bar[64];
  for (int i = 0; i < width; i++)
    bar[i] = i < filled ? '#' : '.';
  bar[width] = '\0';
  fprintf (stderr, "\r\033[K%s [%s] %3.0f%%  %s", label, bar, CLAMP (fraction, 0.0, 1.0) * 100.0,
           text ? text : "");
  fflush (stderr);
  progress_shown = TRUE;
}

void
cli_progress_done (void)
{
  if (progress_shown)
    fprintf (stderr, "\r\033[K");
  progress_shown = FALSE;
}

gboolean
cli_network_config (const char *arch_s, const char *widths, int blocks, int grid, NnConfig *cfg)
{
  NnArch arch;
  if (arch_s == NULL || !nn_arch_from_string (arch_s, &arch))
    {
      cli_fail ("--arch must be unet, unet-skip or googlenet-skip");
      return FALSE;
    }
  nn_config_init_default (cfg, arch);
  g_autoptr (GError) error = NULL;
  if (widths && !nn_config_parse_widths (cfg, widths, &error))
    {
      cli_fail ("--%s", error->message);
      return FALSE;
    }
  if (blocks)
    cfg->blocks = blocks;
  if (grid)
    cfg->grid[0] = cfg->grid[1] = cfg->grid[2] = grid;
  return TRUE;
}

int
main (int argc, char **argv)
{
  setlocale (LC_ALL, "");
  if (argc < 2 || strcmp (argv[1], "--help") == 0 || strcmp (argv[1], "-h") == 0
      || strcmp (argv[1], "help") == 0)
    {
      print_usage (argc < 2 ? stderr : stdout);
      return argc < 2 ? 2 : 0;
    }
  if (strcmp (argv[1], "--version") == 0)
    {
      printf ("anatomy %s\n", PACKAGE_VERSION);
      return 0;
    }
  for (gsize i = 0; i < G_N_ELEMENTS (commands); i++)
    if (strcmp (argv[1], commands[i].name) == 0)
      {
        g_autofree char *prog = g_strdup_printf ("anatomy %s", commands[i].name);
        argv[1] = prog;
        return commands[i].run (argc - 1, argv + 1);
      }
  fprintf (stderr, "anatomy: unknown command '%s'\n\n", argv[1]);
  print_usage (stderr);
  return 2;
}
