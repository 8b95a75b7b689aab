/* anatomy.c: the command-line tool's entry point: the table of subcommands. */
#include "commands.h"
#include "out-file.h"

#include <locale.h>
#include <stdio.h>
#include <string.h>

static const AnatomyCommand commands[] = {
  { "info", "Describe a label map: geometry, scheme and every label with its class", cmd_info },
  { "convert", "Rewrite a label map in another form (NIfTI, NRRD, .seg.nrrd, mask folder)", cmd_convert },
  { "phantom", "Generate procedural torso phantoms in the benchmark layout", cmd_phantom },
  { "render", "Draw the organ surfaces to a PNG image, offscreen", cmd_render },
  { "mesh", "Extract, smooth and export organ surfaces (OBJ, PLY, STL)", cmd_mesh },
  { "complete", "Complete a partial label map with a 3D network", cmd_complete },
  { "init-model", "Write a seeded random-weight network file (tests, benchmarks)", cmd_init_model },
  { "bench", "Benchmark the network engine against OpenBLAS and PyTorch", cmd_bench },
  { "train", "Train a completion network (phantoms or benchmark data)", cmd_train },
  { "eval", "Dice of completion networks and baselines on a dataset", cmd_eval },
};

/* OpenBLAS starts its server threads when it is loaded, and an idle one spins on
 * sched_yield for about 2^28 cycles before it sleeps: ~0.1 s of a core taken from our
 * own worker pools by every command, most of which never call BLAS (the network engine
 * runs single-threaded sgemm calls on its own threads).  Stopped here; OpenBLAS starts
 * them again by itself if a call needs them.  A weak reference: other BLAS builds lack it. */
extern int blas_thread_shutdown_ (void) __attribute__ ((weak));

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

int
main (int argc, char **argv)
{
  setlocale (LC_ALL, "");
  if (blas_thread_shutdown_)
    blas_thread_shutdown_ ();
  /* an interrupted command leaves no temporary behind */
  out_file_cleanup_on_signals ();
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
