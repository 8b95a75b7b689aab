/* cmd-complete.c: `anatomy complete IN OUT`. */
#include "commands.h"
#include "completion.h"
#include "nifti.h"

#include <stdio.h>
#include <string.h>

/* --labels names: the network's class names, case-insensitive, '_' and '-' as spaces */
static int32_t
class_lookup (const char *name, gpointer net)
{
  const NnConfig *cfg = nn_net_get_config (net);
  g_autofree char *a = g_strdelimit (g_ascii_strdown (name, -1), "_-", ' ');
  for (int c = 1; c < cfg->n_classes; c++)
    {
      g_autofree char *b = g_strdelimit (g_ascii_strdown (nn_net_get_class_name (net, c), -1), "_-", ' ');
      if (strcmp (a, b) == 0)
        return c;
    }
  return -1;
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
  const char *summary =
    "Complete a partial label map with a 3D network.  IN is placed in the network's\n"
    "physical frame: through its affine (any orientation), at the network's voxel size\n"
    "(7 mm for the shipped models), positioned by the organs present; the network\n"
    "predicts 13-class probabilities, these come back to IN's own grid (trilinear).\n"
    "Voxels labelled in IN keep their label; a background voxel of IN takes the most\n"
    "probable of background and the selected organs, so only those organs are added.\n"
    "Pieces of an added organ under 10% of its largest piece (6-connected) go back to\n"
    "background.";
  if (!cli_parse_options (&argc, &argv, "IN OUT", summary, entries))
    return CLI_EXIT_USAGE;
  if (files == NULL || g_strv_length (files) != 2)
    return cli_fail ("complete needs IN and OUT (see 'anatomy complete --help')");
  if (threads < 0 || threads > 256)
    return cli_fail ("--threads must be in 0..256");
  for (int i = 0; i < 2; i++)
    {
      const char *o = i == 0 ? files[1] : probs;
      if (o && !nifti_path_is_supported (o))
        return cli_fail ("%s: unknown output format (use .nii, .nii.gz, .hdr or .hdr.gz)", o);
    }
  /* OUT and P, checked before any work: neither is IN (nor the model), they differ, an
   * existing one only with --force; both are written before either is moved into place */
  const char *inputs[] = { files[0], model, NULL };
  g_autoptr (OutSet) outputs = cli_outputs_new (force, inputs);
  if (!cli_outputs_reserve (outputs, files[1]) || (probs && !cli_outputs_reserve (outputs, probs)))
    return 1;

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
      CliLabelSyntax syntax = { .min_id = 1, .max_id = cfg->n_classes - 1, .lookup = class_lookup, .data = net,
                                .keep_empty = TRUE };
      g_autofree char *bad = NULL;
      g_autoptr (GArray) ids = cli_parse_label_list (labels, &syntax, &bad, NULL);
      if (ids == NULL)
        {
          g_autoptr (GString) known = g_string_new (NULL);
          for (int c = 1; c < cfg->n_classes; c++)
            g_string_append_printf (known, "%s%s", c > 1 ? ", " : "", nn_net_get_class_name (net, c));
          return cli_fail ("unknown organ '%s' (the model knows: %s)", bad, known->str);
        }
      for (guint i = 0; i < ids->len; i++)
        opt.selected[g_array_index (ids, int32_t, i)] = TRUE;
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
  if (out == NULL && g_error_matches (error, COMPLETION_ERROR, COMPLETION_ERROR_INPUT))
    return cli_fail ("%s: %s", files[0], error->message);   /* what is wrong with IN */
  if (out == NULL)
    return cli_fail ("%s", error->message);
  double secs = (g_get_monotonic_time () - t0) / 1e6;
  if (!nifti_write_in (outputs, out, files[1], 0, &error) || (conf && !nifti_write_in (outputs, conf, probs, 0, &error)))
    return cli_fail_output (error);
  if (cli_outputs_commit (outputs) != 0)
    return 1;

  printf ("%s: completed with %s (%s, grid %d×%d×%d) in %.2f s\n", files[1], nn_arch_to_string (cfg->arch),
          path, cfg->grid[0], cfg->grid[1], cfg->grid[2], secs);
  for (int c = 1; c < cfg->n_classes; c++)
    if (added[c] > 0)
      printf ("  added %-18s %10" G_GINT64_FORMAT " voxels  %10.1f mL\n", nn_net_get_class_name (net, c), added[c],
              added[c] * lv_volume_voxel_mm3 (in) / 1000.0);
  return 0;
}
