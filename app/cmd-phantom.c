/* cmd-phantom.c: `anatomy phantom --out DIR`: a phantom dataset in the benchmark's layout. */
#include "commands.h"
#include "label-table.h"
#include "nifti.h"
#include "phantom.h"

#include <errno.h>
#include <stdio.h>
#include <glib/gstdio.h>

#define MAX_SUBJECTS 10000
#define MAX_PARTIALS 100

/* --remove names: organs of the built-in table (data: the table) */
static int32_t
organ_lookup (const char *name, gpointer table)
{
  int32_t id = lt_table_find_name (table, name);
  return id >= 1 && id <= LT_N_ORGANS ? id : -1;
}

static gboolean
is_soft_organ (int32_t id, gpointer table)
{
  return (PHANTOM_SOFT_ORGANS_MASK & (1u << id)) != 0;
}

/* Parse "liver,spleen,9" into a label mask; FALSE with a message on error. */
static gboolean
parse_remove (const char *list, guint32 *mask, char **message)
{
  g_autoptr (LabelTable) t = lt_table_new_default ();
  CliLabelSyntax syntax = { .min_id = 1, .max_id = LT_N_ORGANS, .lookup = organ_lookup, .accept = is_soft_organ,
                            .data = t };
  g_autofree char *bad = NULL;
  CliLabelProblem problem;
  g_autoptr (GArray) ids = cli_parse_label_list (list, &syntax, &bad, &problem);
  if (ids == NULL && problem == CLI_LABEL_UNKNOWN)
    *message = g_strdup_printf ("--remove: '%s' is not an organ name or a label 1..%d", bad, LT_N_ORGANS);
  else if (ids == NULL)
    *message = g_strdup_printf ("--remove: '%s' is an anchor (spine and rib cage are always kept)", bad);
  else if (ids->len == 0)
    *message = g_strdup ("--remove: no organ given");
  if (ids == NULL || ids->len == 0)
    return FALSE;
  *mask = 0;
  for (guint i = 0; i < ids->len; i++)
    *mask |= 1u << g_array_index (ids, int32_t, i);
  return TRUE;
}

static char *
mask_names (guint32 mask)
{
  g_autoptr (LabelTable) t = lt_table_new_default ();
  GString *s = g_string_new (NULL);
  char buf[64];

  for (int l = 1; l < 32; l++)
    if (mask & (1u << l))
      {
        if (s->len)
          g_string_append_c (s, ',');
        g_string_append (s, lt_table_get_name (t, l, buf, sizeof buf));
      }
  return g_string_free (s, FALSE);
}

/* The removal masks of @n partial versions of one subject: distinct when possible. */
static void
draw_removals (guint32 present, guint64 subject_seed, int n, guint32 *masks)
{
  for (int k = 0; k < n; k++)
    {
      guint32 m = 0;
      for (int attempt = 0; attempt < 64; attempt++)
        {
          gboolean seen = FALSE;
          m = phantom_draw_removal (present, phantom_derive_seed (subject_seed,
                                                                  1000 + (guint64) attempt * MAX_PARTIALS + k));
          for (int q = 0; q < k; q++)
            seen |= masks[q] == m;
          if (!seen)
            break;
        }
      masks[k] = m;
    }
}

/* Every path whose folder exists already is checked (exists, same as another output)
 * before any phantom is generated; the others are checked when they are written. */
static gboolean
reserve_all (OutSet *outputs, GPtrArray *paths)
{
  for (guint i = 0; i < paths->len; i++)
    {
      g_autofree char *dir = g_path_get_dirname (g_ptr_array_index (paths, i));
      if (g_file_test (dir, G_FILE_TEST_IS_DIR) && !cli_outputs_reserve (outputs, g_ptr_array_index (paths, i)))
        return FALSE;
    }
  return TRUE;
}

static gboolean
make_dir (const char *dir, char **message)
{
  if (g_mkdir_with_parents (dir, 0755) != 0)
    {
      *message = g_strdup_printf ("%s: cannot create folder: %s", dir, g_strerror (errno));
      return FALSE;
    }
  return TRUE;
}

static int
write_demo (const char *out, const PhantomParams *p, const char *remove, gboolean force)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *message = NULL;
  g_autofree char *complete_path = g_build_filename (out, "demo_complete.nii.gz", NULL);
  g_autofree char *incomplete_path = g_build_filename (out, "demo_incomplete.nii.gz", NULL);
  g_autofree char *lab1 = g_build_filename (out, "demo_complete_labels.txt", NULL);
  g_autofree char *lab2 = g_build_filename (out, "demo_incomplete_labels.txt", NULL);
  g_autoptr (GPtrArray) paths = g_ptr_array_new ();
  guint32 mask = 0;

  g_ptr_array_add (paths, complete_path);
  g_ptr_array_add (paths, incomplete_path);
  g_ptr_array_add (paths, lab1);
  g_ptr_array_add (paths, lab2);
  if (remove != NULL && !parse_remove (remove, &mask, &message))
    return cli_fail ("%s", message);
  g_autoptr (OutSet) outputs = cli_outputs_new (force, NULL);
  if (!reserve_all (outputs, paths))
    return 1;
  if (!make_dir (out, &message))
    return cli_fail ("%s", message);

  g_autoptr (LabelVolume) v = phantom_generate (p, &error);
  if (v == NULL)
    return cli_fail ("%s", error->message);
  if (mask == 0)
    mask = phantom_draw_removal (phantom_labels_present (v), phantom_derive_seed (p->seed, 1000));
  g_autoptr (LabelVolume) part = phantom_remove_labels (v, mask, &error);
  g_autoptr (LabelTable) table = lt_table_new_default ();
  NiftiWriteFlags flags = NIFTI_WRITE_NIFTI1;
  if (part == NULL
      || !nifti_write_in (outputs, v, complete_path, flags, &error)
      || !nifti_write_in (outputs, part, incomplete_path, flags, &error)
      || !lt_table_save_itksnap_in (outputs, table, lab1, &error)
      || !lt_table_save_itksnap_in (outputs, table, lab2, &error))
    return cli_fail_output (error);
  if (cli_outputs_commit (outputs) != 0)
    return 1;
  g_autofree char *names = mask_names (mask);
  printf ("wrote %s and %s (removed: %s)\n", complete_path, incomplete_path, names);
  return 0;
}

/* the --help text of `anatomy phantom` */
static const char summary[] =
  "Generate procedural torso phantoms in the benchmark's layout:\n"
  "  DIR/complete/sXXXX_full.nii.gz\n"
  "  DIR/incomplete/sXXXX/sXXXX_{0..K-1}.nii.gz   (random soft organs removed;\n"
  "                                              spine and rib cage always kept)\n"
  "  DIR/labels.txt (ITK-SNAP label table), DIR/removed.tsv (what each partial lacks)\n"
  "Output is deterministic for a given seed, grid, spacing and variation.\n"
  "Existing files are never replaced unless --force is given.";

int
cmd_phantom (int argc, char **argv)
{
  g_autofree char *out = NULL, *remove = NULL;
  int subjects = 10, partials = 10, grid = PHANTOM_DEFAULT_GRID;
  gint64 seed = 0;
  double spacing = 0, variation = 1.0;
  gboolean force = FALSE, demo = FALSE;
  GOptionEntry entries[] = {
    { "out", 'o', 0, G_OPTION_ARG_FILENAME, &out, "Output folder (required)", "DIR" },
    { "subjects", 'n', 0, G_OPTION_ARG_INT, &subjects, "Number of subjects (default 10)", "N" },
    { "partials", 'k', 0, G_OPTION_ARG_INT, &partials, "Partial versions per subject (default 10)", "K" },
    { "seed", 's', 0, G_OPTION_ARG_INT64, &seed, "Dataset seed (default 0)", "S" },
    { "grid", 'g', 0, G_OPTION_ARG_INT, &grid, "Voxels along each axis (default 128)", "G" },
    { "spacing", 0, 0, G_OPTION_ARG_DOUBLE, &spacing,
      "Voxel size in mm (default 448 / grid, i.e. 3.5 mm at 128)", "MM" },
    { "variation", 0, 0, G_OPTION_ARG_DOUBLE, &variation,
      "Spread of the population, 0 (mean anatomy) to 2 (default 1)", "V" },
    { "demo", 0, 0, G_OPTION_ARG_NONE, &demo,
      "Write one demo pair DIR/demo_{complete,incomplete}.nii.gz instead of a dataset", NULL },
    { "remove", 0, 0, G_OPTION_ARG_STRING, &remove,
      "With --demo: organs to remove, e.g. liver,spleen,kidney (default: random)", "LIST" },
    { "force", 'f', 0, G_OPTION_ARG_NONE, &force, "Overwrite existing files", NULL },
    { NULL },
  };
  if (!cli_parse_options (&argc, &argv, "--out DIR", summary, entries))
    return CLI_EXIT_USAGE;
  if (argc > 1)
    return cli_fail ("unexpected argument '%s' (see 'anatomy phantom --help')", argv[1]);
  if (out == NULL)
    return cli_fail ("phantom needs --out DIR (see 'anatomy phantom --help')");
  if (subjects < 1 || subjects > MAX_SUBJECTS)
    return cli_fail ("--subjects must be 1..%d", MAX_SUBJECTS);
  if (partials < 0 || partials > MAX_PARTIALS)
    return cli_fail ("--partials must be 0..%d", MAX_PARTIALS);
  if (grid < 8 || grid > 1024)
    return cli_fail ("--grid must be 8..1024");
  if (spacing < 0 || spacing > 50)
    return cli_fail ("--spacing must be in (0, 50] mm");
  if (!(variation >= 0 && variation <= 2))
    return cli_fail ("--variation must be 0..2");
  if (remove != NULL && !demo)
    return cli_fail ("--remove only goes with --demo");

  PhantomParams p;
  phantom_params_init (&p);
  p.grid[0] = p.grid[1] = p.grid[2] = grid;
  p.spacing[0] = p.spacing[1] = p.spacing[2] = spacing;
  p.variation = variation;
  p.seed = (guint64) seed;
  if (demo)
    return write_demo (out, &p, remove, force);

  g_autofree char *complete_dir = g_build_filename (out, "complete", NULL);
  g_autofree char *incomplete_dir = g_build_filename (out, "incomplete", NULL);
  g_autofree char *labels_path = g_build_filename (out, "labels.txt", NULL);
  g_autofree char *tsv_path = g_build_filename (out, "removed.tsv", NULL);
  g_autofree char *message = NULL;
  g_autoptr (GPtrArray) paths = g_ptr_array_new_with_free_func (g_free);
  g_ptr_array_add (paths, g_strdup (labels_path));
  g_ptr_array_add (paths, g_strdup (tsv_path));
  for (int s = 0; s < subjects; s++)
    {
      g_autofree char *name = g_strdup_printf ("s%04d_full.nii.gz", s);
      g_ptr_array_add (paths, g_build_filename (complete_dir, name, NULL));
      for (int k = 0; k < partials; k++)
        {
          g_autofree char *sub = g_strdup_printf ("s%04d", s);
          g_autofree char *file = g_strdup_printf ("s%04d_%d.nii.gz", s, k);
          g_ptr_array_add (paths, g_build_filename (incomplete_dir, sub, file, NULL));
        }
    }
  /* the whole dataset is one set of outputs: written to temporaries, moved into place
   * only when every file is written (an interrupted run leaves no partial dataset) */
  g_autoptr (OutSet) outputs = cli_outputs_new (force, NULL);
  if (!reserve_all (outputs, paths))
    return 1;
  if (!make_dir (complete_dir, &message) || (partials > 0 && !make_dir (incomplete_dir, &message)))
    return cli_fail ("%s", message);

  g_autoptr (GError) error = NULL;
  g_autoptr (LabelTable) table = lt_table_new_default ();
  if (!lt_table_save_itksnap_in (outputs, table, labels_path, &error))
    return cli_fail_output (error);

  GString *tsv = g_string_new ("subject\tpartial\tremoved_labels\tremoved_names\n");
  gint64 t0 = g_get_monotonic_time (), gen_us = 0;
  NiftiWriteFlags flags = NIFTI_WRITE_NIFTI1;
  guint idx = 2;
  for (int s = 0; s < subjects; s++)
    {
      char name[32];
      g_snprintf (name, sizeof name, "s%04d", s);
      cli_progress ("phantom", (double) s / subjects, name);
      p.seed = phantom_derive_seed ((guint64) seed, (guint64) s);
      gint64 g0 = g_get_monotonic_time ();
      g_autoptr (LabelVolume) v = phantom_generate (&p, &error);
      gen_us += g_get_monotonic_time () - g0;
      if (v == NULL || !nifti_write_in (outputs, v, g_ptr_array_index (paths, idx++), flags, &error))
        {
          cli_progress_done ();
          g_string_free (tsv, TRUE);
          return cli_fail_output (error);
        }
      if (partials == 0)
        continue;
      g_autofree char *sub_dir = g_build_filename (incomplete_dir, name, NULL);
      if (!make_dir (sub_dir, &message))
        {
          cli_progress_done ();
          g_string_free (tsv, TRUE);
          return cli_fail ("%s", message);
        }
      guint32 masks[MAX_PARTIALS];
      draw_removals (phantom_labels_present (v), p.seed, partials, masks);
      for (int k = 0; k < partials; k++)
        {
          g_autoptr (LabelVolume) part = phantom_remove_labels (v, masks[k], &error);
          if (part == NULL || !nifti_write_in (outputs, part, g_ptr_array_index (paths, idx++), flags, &error))
            {
              cli_progress_done ();
              g_string_free (tsv, TRUE);
              return cli_fail_output (error);
            }
          g_autofree char *names = mask_names (masks[k]);
          g_string_append_printf (tsv, "%s\t%d\t", name, k);
          for (int l = 1, first = 1; l < 32; l++)
            if (masks[k] & (1u << l))
              {
                g_string_append_printf (tsv, first ? "%d" : ",%d", l);
                first = 0;
              }
          g_string_append_printf (tsv, "\t%s\n", names);
          cli_progress ("phantom", (s + (k + 1.0) / (partials + 1.0)) / subjects, name);
        }
    }
  cli_progress_done ();
  OutFile *tf = out_set_open (outputs, tsv_path, OUT_FILE_PLAIN, &error);
  gboolean tsv_ok = tf && out_file_write (tf, tsv->str, tsv->len, &error) && out_file_finish (tf, &error);
  g_string_free (tsv, TRUE);
  if (!tsv_ok)
    return cli_fail_output (error);
  if (cli_outputs_commit (outputs) != 0)
    return 1;
  double secs = (g_get_monotonic_time () - t0) / 1e6;
  printf ("wrote %d subjects x %d partial versions to %s in %.1f s (generation %.0f ms/subject)\n",
          subjects, partials, out, secs, gen_us / 1e3 / subjects);
  return 0;
}
