/* cmd-convert.c: `anatomy convert IN OUT`. */
#include "commands.h"
#include "label-folder.h"

#include <stdio.h>

/* the --help text of `anatomy convert` */
static const char summary[] =
  "Rewrite a label map in another form, keeping its voxels, geometry and names.  IN is\n"
  "any label map: .nii, .nii.gz, .hdr/.img, .nrrd, .nhdr, .seg.nrrd, or a folder of binary\n"
  "masks (TotalSegmentator's segmentations/).  The form comes from OUT:\n"
  "  .nii, .nii.gz, .hdr (+ .img), .hdr.gz (+ .img.gz)  NIfTI; the names go into the Caret\n"
  "      XML header extension TotalSegmentator writes (other extensions, units and\n"
  "      description of a NIfTI IN are kept);\n"
  "  .nrrd  NRRD (gzip, LPS space: the same world coordinates as NIfTI's RAS affine);\n"
  "  .seg.nrrd  a 3D Slicer segmentation with a segment per label (names, colours);\n"
  "  a folder (an existing one, a name ending in '/', or a new name without extension):\n"
  "      one binary mask <name>.nii.gz per label, absent labels of the names as empty masks.\n"
  "The names are IN's own (header extension, segments, mask file names) or a table beside\n"
  "it; --scheme NAME gives a file without names its scheme's.\n"
  "Labels are stored in the smallest integer type that holds them (uint8, uint16, int32).\n"
  "An existing OUT is never replaced unless --force is given, and never IN (nor one of\n"
  "its masks); an existing folder is written to only when it holds nothing but masks.";

int
cmd_convert (int argc, char **argv)
{
  gboolean force = FALSE, nifti1 = FALSE, nifti2 = FALSE;
  g_autofree char *scheme_name = NULL, *table_path = NULL;
  g_auto (GStrv) files = NULL;
  g_autofree char *schemes = label_scheme_dup_names ();
  g_autofree char *scheme_help = g_strdup_printf (
    "Label scheme of IN (%s): its names are written when IN carries none", schemes);
  GOptionEntry entries[] = {
    { "force", 'f', 0, G_OPTION_ARG_NONE, &force, "Replace OUT if it exists (in a folder: the masks of the same names)",
      NULL },
    { "nifti1", '1', 0, G_OPTION_ARG_NONE, &nifti1, "Write NIfTI-1 (default: the input's version)", NULL },
    { "nifti2", '2', 0, G_OPTION_ARG_NONE, &nifti2, "Write NIfTI-2", NULL },
    { "scheme", 's', 0, G_OPTION_ARG_STRING, &scheme_name, scheme_help, "NAME" },
    { "table", 't', 0, G_OPTION_ARG_FILENAME, &table_path, "Label table naming IN's labels (default: one beside IN, "
      "else the names IN carries)", "TABLE" },
    { G_OPTION_REMAINING, 0, 0, G_OPTION_ARG_FILENAME_ARRAY, &files, NULL, NULL },
    { NULL },
  };
  if (!cli_parse_options (&argc, &argv, "IN OUT", summary, entries))
    return CLI_EXIT_USAGE;
  if (files == NULL || g_strv_length (files) != 2)
    return cli_fail ("convert needs IN and OUT (see 'anatomy convert --help')");
  if (nifti1 && nifti2)
    return cli_fail ("choose one of --nifti1 and --nifti2");
  LabelFileFormat out_format = label_file_format_from_path (files[1]);
  if (out_format == LABEL_FILE_FORMAT_UNKNOWN)
    return cli_fail ("%s: unknown output format (use .nii, .nii.gz, .hdr, .hdr.gz, .nrrd, .seg.nrrd or a folder)",
                     files[1]);
  if ((nifti1 || nifti2) && out_format != LABEL_FILE_FORMAT_NIFTI)
    return cli_fail ("--nifti1 and --nifti2 are for NIfTI outputs");

  g_autoptr (GError) error = NULL;
  /* OUT is checked before IN is read: not IN itself (nor one of its masks, a detached
   * header's data file or the table), not an existing file without --force */
  const char *inputs[] = { files[0], table_path, NULL };
  g_autoptr (OutSet) outputs = cli_outputs_new (force, inputs);
  if (!cli_outputs_reserve_label_map (outputs, files[1]))
    return 1;
  g_auto (CliLabelMap) m = { 0 };
  if (!cli_label_map_read (&m, files[0], table_path, 0, &error))
    return cli_fail ("%s", error->message);
  out_set_add_input (outputs, m.table_file);   /* a table found beside IN */
  /* the scheme only names a file without names (and is checked when given) */
  if ((scheme_name != NULL || m.table == NULL || m.segment_ids != NULL) && !cli_label_map_resolve (&m, scheme_name, NULL)
      && scheme_name != NULL)
    return cli_fail ("%s", m.scheme_error->message);
  const LabelTable *names = cli_label_map_names (&m);
  /* a NIfTI keeps the label extension it came with, byte for byte */
  if (m.own_names && m.format == LABEL_FILE_FORMAT_NIFTI && out_format == LABEL_FILE_FORMAT_NIFTI)
    names = NULL;
  /* a file without names stays without, unless --scheme or a folder needs them */
  if (m.table == NULL && scheme_name == NULL && out_format != LABEL_FILE_FORMAT_FOLDER)
    names = NULL;
  if (names == NULL && out_format == LABEL_FILE_FORMAT_FOLDER)
    fprintf (stderr, "anatomy: warning: %s has no label names: the masks are called label_<id> "
             "(give --scheme NAME or --table TABLE to name them)\n", files[0]);
  g_autoptr (LabelTable) out_names = cli_label_map_dup_output_names (&m, names, out_format);
  LabelFileWriteOptions wo = { .nifti_flags = (nifti1 ? NIFTI_WRITE_NIFTI1 : 0) | (nifti2 ? NIFTI_WRITE_NIFTI2 : 0),
                               .segment_ids = m.segment_ids };
  if (!label_file_write_full_in (outputs, m.volume, out_names, files[1], &wo, &error))
    return cli_fail_output (error);
  return cli_outputs_commit (outputs);
}
