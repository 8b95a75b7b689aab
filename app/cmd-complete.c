/* cmd-complete.c: `anatomy complete IN OUT` and the model lookup shared with other commands. */
#include "commands.h"
#include "completion.h"
#include "nifti.h"

#include <stdio.h>
#include <string.h>

/* Path of the model for --model VALUE: an architecture name means the shipped model
 * (completion_find_model: $ANATOMY_MODELS_DIR, else the source tree, then the installed
 * data); anything else is a file.  NULL with a message saying what is missing. */
char *
cli_find_model (const char *value, GError **error)
{
  NnArch arch;
  if (!nn_arch_from_string (value, &arch))
    {
      if (!g_file_test (value, G_FILE_TEST_IS_REGULAR))
        {
          g_set_error (error, G_FILE_ERROR, G_FILE_ERROR_NOENT,
                       "%s: no such model file (or use unet, unet-skip, googlenet-skip)", value);
          return NULL;
        }
      return g_strdup (value);
    }
  g_autofree char *where = NULL;
  char *path = completion_find_model (arch, &where);
  if (path)
    return path;
  g_set_error (error, G_FILE_ERROR, G_FILE_ERROR_NOENT,
               "no trained %s model: %s.safetensors does not exist (looked in %s).\n"
               "Trained models come from 'anatomy train'; for a test run with random weights use\n"
               "  anatomy init-model --arch %s --out FILE.safetensors\nand pass --model FILE.safetensors",
               nn_arch_to_string (arch), nn_arch_to_string (arch), where, nn_arch_to_string (arch));
  return NULL;
}

static void
progress_cb (double fraction, const char *stage, gpointer data)
{
  cli_progress ("complete", fraction, stage);
}

int
cmd_complete (int argc, char **argv)
{
  g_autofree char *model = NULL, *labels = NULL, *probs = NULL;
  gboolean force = FALSE, keep_fragments = FALSE;
  int threads = 0;
  g_auto (GStrv) files = NULL;
  int status = 0;
  GOptionEntry entries[] = {
    { "model", 'm', 0, G_OPTION_ARG_STRING, &model,
      "Network: unet, unet-skip, googlenet-skip (data/models/NAME.safetensors) or a .safetensors file "
      "(default unet-skip)", "MODEL" },
    { "labels", 'l', 0, G_OPTION_ARG_STRING, &labels,
      "Organs that may be added: comma-separated names or ids, or 'all' (default: the organs absent from IN)", "NAMES" },
    { "probabilities", 'p', 0, G_OPTION_ARG_FILENAME, &probs,
      "Also write, at every voxel, the highest probability (percent) among background and the organs "
      "that may be added (before fragments are dropped)", "P.nii.gz" },
    { "threads", 't', 0, G_OPTION_ARG_INT, &threads, "Worker threads (default: all processors)", "N" },
    { "keep-fragments", 0, 0, G_OPTION_ARG_NONE, &keep_fragments,
      "Keep small disconnected pieces of added organs (by default a piece under 10% of its organ's "
      "largest is dropped)", NULL },
    { "force", 'f', 0, G_OPTION_ARG_NONE, &force, "Replace OUT (and P) if they exist", NULL },
    { G_OPTION_REMAINING, 0, 0, G_OPTION_ARG_FILENAME_ARRAY, &files, NULL, NULL },
    { NULL },
  };
  g_autoptr (GOptionContext) ctx = g_option_context_new ("IN OUT");
  g_option_context_set_summary (ctx,
    "Complete a partial label map with a 3D network.  IN is resampled to the network's\n"
    "grid (nearest neighbour), the network predicts 13-class probabilities, these are\n"
    "interpolated back to IN's grid (trilinear).  Voxels labelled in IN keep their\n"
    "label; a background voxel of IN takes the most probable of background and the\n"
    "selected organs, so only those organs are added.  Pieces of an added organ\n"
    "under 10% of its largest piece (6-connected) go back to background.");
  g_option_context_add_main_entries (ctx, entries, NULL);
  if (!cli_parse (ctx, &argc, &argv, &status))
    return status;
  if (files == NULL || g_strv_length (files) != 2)
    return cli_fail ("complete needs IN and OUT (see 'anatomy complete --help')");
  if (threads < 0 || threads > 256)
    return cli_fail ("--threads must be in 0..256");
  if (!nifti_path_is_supported (files[1]) || (probs && !nifti_path_is_supported (probs)))
    return cli_fail ("unknown output format (use .nii, .nii.gz, .hdr or .hdr.gz)");
  if (!force && g_file_test (files[1], G_FILE_TEST_EXISTS))
    return cli_fail ("%s exists (use --force to replace it)", files[1]);

  g_autoptr (GError) error = NULL;
  g_autofree char *path = cli_find_model (model ? model : "unet-skip", &error);
  if (path == NULL)
    return cli_fail ("%s", error->message);
  g_autoptr (NnNet) net = nn_net_load (path, &error);
  if (net == NULL)
    return cli_fail ("%s", error->message);
  const NnConfig *cfg = nn_net_get_config (net);

  CompletionOptions opt = { .n_threads = threads, .progress = progress_cb, .keep_fragments = keep_fragments };
  if (labels && g_ascii_strcasecmp (labels, "all") != 0)
    {
      g_auto (GStrv) names = g_strsplit (labels, ",", -1);
      for (int i = 0; names[i]; i++)
        {
          char *n = g_strstrip (names[i]);
          gint64 id = -1;
          if (!g_ascii_string_to_signed (n, 10, 1, cfg->n_classes - 1, &id, NULL))
            for (int c = 1; c < cfg->n_classes && id < 0; c++)
              {
                g_autofree char *a = g_strdelimit (g_ascii_strdown (n, -1), "_-", ' ');
                g_autofree char *b = g_strdelimit (g_ascii_strdown (nn_net_get_class_name (net, c), -1), "_-", ' ');
                if (strcmp (a, b) == 0)
                  id = c;
              }
          if (id < 1)
            {
              g_autoptr (GString) known = g_string_new (NULL);
              for (int c = 1; c < cfg->n_classes; c++)
                g_string_append_printf (known, "%s%s", c > 1 ? ", " : "", nn_net_get_class_name (net, c));
              return cli_fail ("unknown organ '%s' (the model knows: %s)", n, known->str);
            }
          opt.selected[id] = TRUE;
        }
    }

  g_autoptr (LabelVolume) in = nifti_read (files[0], NULL, &error);
  if (in == NULL)
    return cli_fail ("%s", error->message);
  if (labels == NULL)
    {
      /* default: the organs absent from the input (those present are complete) */
      int32_t n_hist;
      g_autofree int64_t *hist = lv_volume_histogram (in, &n_hist);
      gboolean any = FALSE;
      for (int c = 1; c < cfg->n_classes; c++)
        any |= opt.selected[c] = c >= n_hist || hist[c] == 0;
      if (!any)
        return cli_fail ("%s: every organ the model knows is present; nothing to complete "
                         "(use --labels to name organs to grow anyway)", files[0]);
    }
  g_autoptr (LabelVolume) conf = NULL;
  int64_t added[COMPLETION_MAX_CLASSES] = { 0 };
  opt.confidence_out = probs ? &conf : NULL;
  opt.added = added;
  gint64 t0 = g_get_monotonic_time ();
  g_autoptr (LabelVolume) out = completion_run (net, in, &opt, NULL, &error);
  cli_progress_done ();
  if (out == NULL)
    return cli_fail ("%s", error->message);
  double secs = (g_get_monotonic_time () - t0) / 1e6;
  NiftiWriteFlags flags = force ? NIFTI_WRITE_OVERWRITE : 0;
  if (!nifti_write (out, files[1], flags, &error))
    return cli_fail ("%s", error->message);
  if (conf && !nifti_write (conf, probs, flags, &error))
    return cli_fail ("%s", error->message);

  printf ("%s: completed with %s (%s, grid %d×%d×%d) in %.2f s\n", files[1], nn_arch_to_string (cfg->arch),
          path, cfg->grid[0], cfg->grid[1], cfg->grid[2], secs);
  for (int c = 1; c < cfg->n_classes; c++)
    if (added[c] > 0)
      printf ("  added %-18s %10" G_GINT64_FORMAT " voxels  %10.1f mL\n", nn_net_get_class_name (net, c), added[c],
              added[c] * lv_volume_voxel_mm3 (in) / 1000.0);
  return 0;
}
