/* cmd-mesh.c: `anatomy mesh IN --out FILE.{obj,ply,stl}`. */
#include "commands.h"
#include "label-table.h"
#include "mesh.h"

#include <stdio.h>

/* the --help text of `anatomy mesh` */
static const char summary[] =
  "Extract the surface of every label of a label map (multi-label marching cubes, shared\n"
  "boundaries between neighbouring organs), smooth it without shrinking (Taubin), optionally\n"
  "simplify it, and write OBJ (one group and material per organ), binary PLY (per-vertex\n"
  "colours, face labels) or binary STL.  IN is any label map (.nii, .nii.gz, .hdr, .nrrd,\n"
  ".seg.nrrd, or a folder of binary masks).  Coordinates are world millimetres (RAS) from\n"
  "its affine.  Each mesh is named by its label's name in IN (header extension, segment,\n"
  "mask file name), a table beside IN or --table, else by IN's scheme (--scheme).\n"
  "Existing files are never replaced unless --force is given.";

int
cmd_mesh (int argc, char **argv)
{
  g_autofree char *out = NULL, *labels = NULL, *table_path = NULL, *scheme_name = NULL;
  int smooth = 10, threads = 0;
  double decimate = 1.0, passband = 0.1;
  gboolean per_label = FALSE, force = FALSE, quiet = FALSE;
  g_auto (GStrv) files = NULL;
  g_autofree char *schemes = label_scheme_dup_names ();
  g_autofree char *scheme_help = g_strdup_printf (
    "Label scheme of IN (%s): names its labels when IN carries no names", schemes);
  GOptionEntry entries[] = {
    { "out", 'o', 0, G_OPTION_ARG_FILENAME, &out, "Output mesh: .obj (+ .mtl), .ply or .stl", "FILE" },
    { "labels", 'l', 0, G_OPTION_ARG_STRING, &labels, "Only these labels: names or ids, comma-separated", "NAMES" },
    { "smooth", 's', 0, G_OPTION_ARG_INT, &smooth, "Smoothing iterations (Taubin lambda/mu pairs, 0 = none; default 10)", "S" },
    { "passband", 0, 0, G_OPTION_ARG_DOUBLE, &passband, "Smoothing pass band in (0,1) (default 0.1; lower is smoother)", "K" },
    { "decimate", 'd', 0, G_OPTION_ARG_DOUBLE, &decimate, "Keep about this fraction of the triangles (0 < F <= 1)", "F" },
    { "per-label", 'p', 0, G_OPTION_ARG_NONE, &per_label, "One file per organ: FILE-STEM_<name>.EXT", NULL },
    { "table", 't', 0, G_OPTION_ARG_FILENAME, &table_path,
      "Label names and colours (default: a table beside IN, else the names IN carries)", "FILE" },
    { "scheme", 0, 0, G_OPTION_ARG_STRING, &scheme_name, scheme_help, "NAME" },
    { "threads", 'j', 0, G_OPTION_ARG_INT, &threads, "Worker threads (default: all cores)", "N" },
    { "force", 'f', 0, G_OPTION_ARG_NONE, &force, "Replace existing output files", NULL },
    { "quiet", 'q', 0, G_OPTION_ARG_NONE, &quiet, "Print nothing on success", NULL },
    { G_OPTION_REMAINING, 0, 0, G_OPTION_ARG_FILENAME_ARRAY, &files, NULL, "IN" },
    { NULL },
  };
  if (!cli_parse_options (&argc, &argv, "--out FILE.{obj,ply,stl}", summary, entries))
    return CLI_EXIT_USAGE;
  if (files == NULL || files[0] == NULL || files[1] != NULL)
    return cli_fail ("mesh needs exactly one IN (see 'anatomy mesh --help')");
  if (out == NULL)
    return cli_fail ("mesh needs --out FILE.{obj,ply,stl}");
  if (mesh_format_from_name (out) == MESH_FORMAT_AUTO)
    return cli_fail ("%s: unknown mesh format (use .obj, .ply or .stl)", out);
  if (smooth < 0 || smooth > 1000)
    return cli_fail ("--smooth must be between 0 and 1000");
  if (!(passband > 0 && passband < 1))
    return cli_fail ("--passband must be in (0, 1)");
  if (!(decimate > 0 && decimate <= 1))
    return cli_fail ("--decimate must be in (0, 1]");
  if (threads < 0)
    return cli_fail ("--threads must be positive");

  g_autoptr (GError) error = NULL;
  gint64 t0 = g_get_monotonic_time ();
  cli_heap_keep_freed ((gsize) 1 << 30);
  /* the outputs are never IN (nor a mask of it, a detached header's data file) or the
   * table; OUT is checked before the work (per-label files and an OBJ's MTL when they are
   * opened), all moved into place together */
  const char *inputs[] = { files[0], table_path, NULL };
  g_autoptr (OutSet) outputs = cli_outputs_new (force, inputs);
  if (!per_label && !cli_outputs_reserve (outputs, out))
    return 1;
  g_auto (CliLabelMap) m = { 0 };
  if (!cli_label_map_read (&m, files[0], table_path, 0, &error))
    return cli_fail ("%s", error->message);
  out_set_add_input (outputs, m.table_file);   /* a table found beside IN */
  if ((scheme_name != NULL || m.table == NULL) && !cli_label_map_resolve (&m, scheme_name, NULL)
      && scheme_name != NULL)
    return cli_fail ("%s", m.scheme_error->message);
  const LabelVolume *v = m.volume;
  /* the names people see (a 3D Slicer file's segment names, not its IDs) */
  g_autoptr (LabelTable) table = cli_label_map_dup_output_names (&m, cli_label_map_names (&m),
                                                                 LABEL_FILE_FORMAT_SEG_NRRD);

  /* "liver,2,left kidney" -> label ids (names through the table) */
  g_autoptr (GArray) want = NULL;
  if (labels)
    {
      CliLabelSyntax syntax = { .min_id = G_MININT32, .max_id = G_MAXINT32, .lookup = cli_label_table_lookup,
                                .data = table };
      g_autofree char *bad = NULL;
      want = cli_parse_label_list (labels, &syntax, &bad, NULL);
      if (want == NULL)
        return cli_fail ("unknown label '%s' (give names from the label table or numeric ids)", bad);
      if (want->len == 0)
        return cli_fail ("--labels names no label");
    }

  SurfaceOptions opts;
  surface_options_init (&opts);
  opts.n_threads = threads;
  opts.smooth_iterations = (guint) smooth;
  opts.smooth_passband = passband;
  if (labels)
    {
      opts.labels = (const int32_t *) want->data;
      opts.n_labels = want->len;
    }
  cli_progress ("mesh", 0.3, "extracting surfaces");
  gint64 t1 = g_get_monotonic_time ();
  g_autoptr (SurfaceSet) set = surface_extract (v, &opts, NULL, &error);
  gint64 t2 = g_get_monotonic_time ();
  if (set == NULL)
    {
      cli_progress_done ();
      return cli_fail ("%s: %s", files[0], error->message);
    }
  if (set->n_meshes == 0)
    {
      cli_progress_done ();
      return cli_fail ("%s: no surfaces (the volume has no %s)", files[0],
                       labels ? "voxels with the requested labels" : "labels");
    }
  guint64 ntri = surface_set_n_triangles (set);
  if (decimate < 1)
    {
      cli_progress ("mesh", 0.6, "simplifying");
      SurfaceSet *d = surface_set_decimate (set, (guint64) (decimate * (double) ntri));
      surface_set_free (set);
      set = d;
    }
  cli_progress ("mesh", 0.8, "writing");
  MeshExportOptions eo = { .overwrite = force, .per_label = per_label, .table = table, .outputs = outputs };
  gboolean ok = mesh_export (set, out, &eo, &error);
  cli_progress_done ();
  if (!ok && g_error_matches (error, MESH_ERROR, MESH_ERROR_EXISTS))
    return cli_fail ("%s (use --force to replace it)", error->message);
  if (!ok)
    return cli_fail ("%s", error->message);
  if (cli_outputs_commit (outputs) != 0)
    return 1;
  if (!quiet)
    printf ("%s: %u surfaces, %" G_GUINT64_FORMAT " triangles (%" G_GUINT64_FORMAT
            " before simplification), %" G_GUINT64_FORMAT " vertices; extraction%s %.3f s, total %.3f s\n",
            out, set->n_meshes, surface_set_n_triangles (set), ntri, surface_set_n_vertices (set),
            smooth > 0 ? " + smoothing" : "", (t2 - t1) / 1e6, (g_get_monotonic_time () - t0) / 1e6);
  return 0;
}
