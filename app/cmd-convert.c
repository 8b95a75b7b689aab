/* cmd-convert.c: `anatomy convert IN OUT`. */
#include "commands.h"
#include "nifti.h"

int
cmd_convert (int argc, char **argv)
{
  gboolean force = FALSE, nifti1 = FALSE, nifti2 = FALSE;
  g_auto (GStrv) files = NULL;
  GOptionEntry entries[] = {
    { "force", 'f', 0, G_OPTION_ARG_NONE, &force, "Replace OUT if it exists", NULL },
    { "nifti1", '1', 0, G_OPTION_ARG_NONE, &nifti1, "Write NIfTI-1 (default: the input's version)", NULL },
    { "nifti2", '2', 0, G_OPTION_ARG_NONE, &nifti2, "Write NIfTI-2", NULL },
    { G_OPTION_REMAINING, 0, 0, G_OPTION_ARG_FILENAME_ARRAY, &files, NULL, NULL },
    { NULL },
  };
  const char *summary =
    "Rewrite a label map in another NIfTI form, keeping geometry, labels, units,\n"
    "description and header extensions.  The form comes from OUT's extension:\n"
    ".nii, .nii.gz, .hdr (writes .hdr + .img) or .hdr.gz (.hdr.gz + .img.gz).\n"
    "Labels are stored in the smallest integer type that holds them (uint8, uint16, int32).\n"
    "An existing OUT is never replaced unless --force is given.";
  if (!cli_parse_options (&argc, &argv, "IN OUT", summary, entries))
    return CLI_EXIT_USAGE;
  if (files == NULL || g_strv_length (files) != 2)
    return cli_fail ("convert needs IN and OUT (see 'anatomy convert --help')");
  if (nifti1 && nifti2)
    return cli_fail ("choose one of --nifti1 and --nifti2");
  if (!nifti_path_is_supported (files[1]))
    return cli_fail ("%s: unknown output format (use .nii, .nii.gz, .hdr or .hdr.gz)", files[1]);

  g_autoptr (GError) error = NULL;
  /* OUT is checked before IN is read: not IN itself, not an existing file without --force */
  const char *inputs[] = { files[0], NULL };
  g_autoptr (OutSet) outputs = cli_outputs_new (force, inputs);
  if (!cli_outputs_reserve (outputs, files[1]))
    return 1;
  g_autoptr (GPtrArray) warnings = cli_warnings_new ();
  NiftiReadOptions read_opt = { .warnings = warnings };
  g_autoptr (LabelVolume) v = nifti_read (files[0], &read_opt, &error);
  if (v == NULL)
    return cli_fail ("%s", error->message);
  cli_warn (warnings);
  NiftiWriteFlags flags = (nifti1 ? NIFTI_WRITE_NIFTI1 : 0) | (nifti2 ? NIFTI_WRITE_NIFTI2 : 0);
  if (!nifti_write_in (outputs, v, files[1], flags, &error))
    return cli_fail_output (error);
  return cli_outputs_commit (outputs);
}
