/* nrrd-tool.c: the label-file reader and writers on the command line, for the cross-checks
 * against independent tools (tests/nrrd_crosscheck.py):
 *
 *   nrrd-tool info FILE                      JSON: dimensions, affine, storage, label counts,
 *                                            names and colours the file carries, warnings
 *   nrrd-tool convert [--raw] [--segmentation] [--overwrite] [--refuse-overlap] IN OUT
 *
 * "convert" reads with label_file_read and writes by OUT's extension (label_file_write), or
 * with nrrd_write when --raw / --segmentation ask for those NRRD forms.  Exit status 1 with
 * the error message on stderr when reading or writing fails.
 */
#include "label-file.h"
#include "nrrd.h"

#include <stdio.h>
#include <string.h>

static void
print_json_string (const char *s)
{
  putchar ('"');
  for (; *s; s++)
    {
      guchar c = (guchar) *s;
      if (c == '"' || c == '\\')
        printf ("\\%c", c);
      else if (c == '\n')
        fputs ("\\n", stdout);
      else if (c < 0x20)
        printf ("\\u%04x", c);
      else
        putchar (c);
    }
  putchar ('"');
}

static LabelVolume *
read_any (const char *path, gboolean refuse_overlap, LabelTable **table, char **warnings, GError **error)
{
  if (!refuse_overlap)
    return label_file_read (path, 0, table, warnings, error);
  NrrdReadOptions opt = { .flags = NRRD_READ_REFUSE_OVERLAP };
  NrrdReadInfo info;
  LabelVolume *v = nrrd_read (path, &opt, table, &info, error);
  *warnings = g_steal_pointer (&info.warnings);
  nrrd_read_info_clear (&info);
  return v;
}

static int
cmd_info (const char *path)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (LabelTable) table = NULL;
  g_autofree char *warnings = NULL;
  g_autoptr (LabelVolume) v = label_file_read (path, 0, &table, &warnings, &error);
  if (v == NULL)
    {
      fprintf (stderr, "%s\n", error->message);
      return 1;
    }
  printf ("{\"dimensions\": [%" G_GINT64_FORMAT ", %" G_GINT64_FORMAT ", %" G_GINT64_FORMAT "],\n", v->nx, v->ny, v->nz);
  printf (" \"bytes_per_voxel\": %d,\n \"affine\": [", v->bytes_per_voxel);
  for (int r = 0; r < 4; r++)
    printf ("%s[%.17g, %.17g, %.17g, %.17g]", r ? ", " : "", v->affine[r][0], v->affine[r][1], v->affine[r][2],
            v->affine[r][3]);
  printf ("],\n \"labels\": {");
  /* counts of every label, negative ones too */
  g_autoptr (GHashTable) counts = g_hash_table_new (g_direct_hash, g_direct_equal);
  for (int64_t i = 0; i < lv_volume_n_voxels (v); i++)
    {
      gpointer k = GINT_TO_POINTER (lv_volume_get_index (v, i));
      g_hash_table_insert (counts, k, GSIZE_TO_POINTER (GPOINTER_TO_SIZE (g_hash_table_lookup (counts, k)) + 1));
    }
  GHashTableIter it;
  gpointer k, c;
  gboolean first = TRUE;
  g_hash_table_iter_init (&it, counts);
  while (g_hash_table_iter_next (&it, &k, &c))
    {
      printf ("%s\"%d\": %" G_GSIZE_FORMAT, first ? "" : ", ", GPOINTER_TO_INT (k), GPOINTER_TO_SIZE (c));
      first = FALSE;
    }
  printf ("},\n \"table\": [");
  for (guint i = 0; table && i < table->entries->len; i++)
    {
      const LabelEntry *e = &g_array_index (table->entries, LabelEntry, i);
      printf ("%s{\"id\": %d, \"name\": ", i ? ", " : "", e->id);
      print_json_string (e->name);
      printf (", \"rgba\": [%d, %d, %d, %d]}", e->rgba[0], e->rgba[1], e->rgba[2], e->rgba[3]);
    }
  printf ("],\n \"has_table\": %s,\n \"warnings\": ", table ? "true" : "false");
  if (warnings)
    print_json_string (warnings);
  else
    fputs ("null", stdout);
  printf ("}\n");
  return 0;
}

static int
cmd_convert (int argc, char **argv)
{
  gboolean raw = FALSE, seg = FALSE, overwrite = FALSE, refuse = FALSE;
  const char *files[2] = { NULL, NULL };
  int nf = 0;
  for (int i = 0; i < argc; i++)
    {
      if (strcmp (argv[i], "--raw") == 0)
        raw = TRUE;
      else if (strcmp (argv[i], "--segmentation") == 0)
        seg = TRUE;
      else if (strcmp (argv[i], "--overwrite") == 0)
        overwrite = TRUE;
      else if (strcmp (argv[i], "--refuse-overlap") == 0)
        refuse = TRUE;
      else if (nf < 2)
        files[nf++] = argv[i];
      else
        nf = 3;
    }
  if (nf != 2)
    {
      fprintf (stderr, "usage: nrrd-tool convert [--raw] [--segmentation] [--overwrite] [--refuse-overlap] IN OUT\n");
      return 2;
    }
  g_autoptr (GError) error = NULL;
  g_autoptr (LabelTable) table = NULL;
  g_autofree char *warnings = NULL;
  g_autoptr (LabelVolume) v = read_any (files[0], refuse, &table, &warnings, &error);
  if (v == NULL)
    {
      fprintf (stderr, "%s\n", error->message);
      return 1;
    }
  if (warnings)
    fprintf (stderr, "%s\n", warnings);
  gboolean ok;
  if (raw || seg)
    ok = nrrd_write (v, table, files[1], (raw ? NRRD_WRITE_RAW : 0) | (seg ? NRRD_WRITE_SEGMENTATION : 0)
                                         | (overwrite ? NRRD_WRITE_OVERWRITE : 0), &error);
  else
    ok = label_file_write (v, table, files[1], overwrite, &error);
  if (!ok)
    {
      fprintf (stderr, "%s\n", error->message);
      return 1;
    }
  return 0;
}

int
main (int argc, char **argv)
{
  if (argc == 3 && strcmp (argv[1], "info") == 0)
    return cmd_info (argv[2]);
  if (argc >= 2 && strcmp (argv[1], "convert") == 0)
    return cmd_convert (argc - 2, argv + 2);
  fprintf (stderr, "usage: nrrd-tool info FILE | nrrd-tool convert [options] IN OUT\n");
  return 2;
}
