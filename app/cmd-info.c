/* cmd-info.c: `anatomy info FILE [--json]`. */
#include "commands.h"
#include "label-table.h"
#include "nifti.h"

#include <json-glib/json-glib.h>
#include <stdio.h>
#include <string.h>

typedef struct {
  int32_t label;
  int64_t count;
  int64_t lo[3], hi[3];
} LabelStats;

/* One pass over the volume: count and bounding box per label (background 0 included). */
static GArray *
collect_stats (const LabelVolume *v)
{
  int32_t lo, hi;
  lv_volume_min_max (v, &lo, &hi);
  gboolean dense = (int64_t) hi - lo < (1 << 20);
  int64_t span = dense ? (int64_t) hi - lo + 1 : 0;
  g_autoptr (GHashTable) sparse = dense ? NULL : g_hash_table_new_full (NULL, NULL, NULL, g_free);
  g_autofree LabelStats *table = dense ? g_new0 (LabelStats, span) : NULL;

  for (int64_t k = 0, idx = 0; k < v->nz; k++)
    for (int64_t j = 0; j < v->ny; j++)
      for (int64_t i = 0; i < v->nx; i++, idx++)
        {
          int32_t l = lv_volume_get_index (v, idx);
          LabelStats *s;
          if (dense)
            s = &table[l - lo];
          else
            {
              s = g_hash_table_lookup (sparse, GINT_TO_POINTER (l));
              if (s == NULL)
                {
                  s = g_new0 (LabelStats, 1);
                  g_hash_table_insert (sparse, GINT_TO_POINTER (l), s);
                }
            }
          if (s->count++ == 0)
            {
              s->label = l;
              s->lo[0] = s->hi[0] = i;
              s->lo[1] = s->hi[1] = j;
              s->lo[2] = s->hi[2] = k;
              continue;
            }
          int64_t c[3] = { i, j, k };
          for (int a = 0; a < 3; a++)
            {
              s->lo[a] = MIN (s->lo[a], c[a]);
              s->hi[a] = MAX (s->hi[a], c[a]);
            }
        }

  GArray *out = g_array_new (FALSE, FALSE, sizeof (LabelStats));
  if (dense)
    {
      for (int64_t x = 0; x < span; x++)
        if (table[x].count > 0)
          g_array_append_val (out, table[x]);
    }
  else
    {
      GHashTableIter it;
      gpointer value;
      g_hash_table_iter_init (&it, sparse);
      while (g_hash_table_iter_next (&it, NULL, &value))
        g_array_append_val (out, *(LabelStats *) value);
    }
  return out;
}

static gint
compare_stats (gconstpointer a, gconstpointer b)
{
  int32_t x = ((const LabelStats *) a)->label, y = ((const LabelStats *) b)->label;
  return (x > y) - (x < y);
}

static const char *
units_name (int xyzt_units)
{
  switch (xyzt_units & 7)
    {
    case 1: return "m";
    case 2: return "mm";
    case 3: return "µm";
    default: return "mm (units not set in the header)";
    }
}

int
cmd_info (int argc, char **argv)
{
  gboolean json = FALSE;
  g_autofree char *table_path = NULL;
  gint64 max_voxels = 0;
  g_auto (GStrv) files = NULL;
  GOptionEntry entries[] = {
    { "json", 'j', 0, G_OPTION_ARG_NONE, &json, "Print JSON instead of text", NULL },
    { "table", 't', 0, G_OPTION_ARG_FILENAME, &table_path,
      "Label table to name the labels (default: one beside FILE, else its header, else the built-in organ "
      "table when all labels are 0–12)", "TABLE" },
    { "max-voxels", 0, 0, G_OPTION_ARG_INT64, &max_voxels,
      "Refuse volumes with more voxels than N before allocating (default 1073741824)", "N" },
    { G_OPTION_REMAINING, 0, 0, G_OPTION_ARG_FILENAME_ARRAY, &files, NULL, NULL },
    { NULL },
  };
  const char *summary =
    "Describe a label map (.nii, .nii.gz, .hdr/.img): dimensions, spacing, orientation,\n"
    "datatype, and for every label its id, name, colour, voxel count, volume in mL and\n"
    "bounding box (voxel indices, inclusive).";
  if (!cli_parse_options (&argc, &argv, "FILE", summary, entries))
    return CLI_EXIT_USAGE;
  if (files == NULL || files[0] == NULL || files[1] != NULL)
    return cli_fail ("info needs exactly one FILE (see 'anatomy info --help')");

  const char *path = files[0];
  g_autoptr (GError) error = NULL;
  if (max_voxels < 0)
    return cli_fail ("--max-voxels must be positive");
  g_autoptr (GPtrArray) warnings = cli_warnings_new ();
  NiftiReadOptions read_opt = { .max_voxels = max_voxels, .warnings = warnings };
  g_autoptr (LabelVolume) v = nifti_read (path, &read_opt, &error);
  if (v == NULL)
    return cli_fail ("%s", error->message);
  cli_warn (warnings);

  g_autoptr (LabelTable) table = NULL;
  g_autofree char *found = NULL;
  if (table_path)
    {
      table = lt_table_load (table_path, &error);
      if (table == NULL)
        return cli_fail ("%s", error->message);
      found = g_strdup (table_path);
    }
  else
    {
      /* a broken table beside FILE does not make a valid volume unreadable (render,
       * complete and the window carry on too): said, then ignored */
      table = lt_table_find_for_volume (path, v, &found, &error);
      if (table == NULL && error != NULL)
        {
          fprintf (stderr, "anatomy: warning: ignoring the label table: %s\n", error->message);
          g_clear_error (&error);
          g_clear_pointer (&found, g_free);
        }
    }
  int32_t lo, hi;
  lv_volume_min_max (v, &lo, &hi);
  if (table == NULL && lo >= 0 && hi <= LT_N_ORGANS)
    {
      table = lt_table_new_default ();
      found = g_strdup ("built-in organ table");
    }

  NiftiInfo info;
  nifti_source_get_info (v->source, &info);
  char orient[4];
  lv_volume_orientation (v, orient);
  double voxel_ml = lv_volume_voxel_mm3 (v) / 1000.0;
  g_autoptr (GArray) stats = collect_stats (v);
  g_array_sort (stats, compare_stats);
  const char *storage = v->bytes_per_voxel == 1 ? "uint8" : v->bytes_per_voxel == 2 ? "uint16" : "int32";
  const char *format = info.version == 0 ? "Analyze 7.5" : info.version == 1 ? "NIfTI-1" : "NIfTI-2";
  int n_labels = 0;
  for (guint s = 0; s < stats->len; s++)
    n_labels += g_array_index (stats, LabelStats, s).label != 0;

  if (json)
    {
      g_autoptr (JsonBuilder) b = json_builder_new ();
      json_builder_begin_object (b);
      json_builder_set_member_name (b, "file");
      json_builder_add_string_value (b, path);
      json_builder_set_member_name (b, "format");
      json_builder_add_string_value (b, format);
      json_builder_set_member_name (b, "gzipped");
      json_builder_add_boolean_value (b, info.gzipped);
      json_builder_set_member_name (b, "byte_swapped");
      json_builder_add_boolean_value (b, info.byte_swapped);
      json_builder_set_member_name (b, "dimensions");
      json_builder_begin_array (b);
      json_builder_add_int_value (b, v->nx);
      json_builder_add_int_value (b, v->ny);
      json_builder_add_int_value (b, v->nz);
      json_builder_end_array (b);
      json_builder_set_member_name (b, "spacing_mm");
      json_builder_begin_array (b);
      for (int a = 0; a < 3; a++)
        json_builder_add_double_value (b, v->spacing[a]);
      json_builder_end_array (b);
      json_builder_set_member_name (b, "orientation");
      json_builder_add_string_value (b, orient);
      json_builder_set_member_name (b, "affine");
      json_builder_begin_array (b);
      for (int r = 0; r < 4; r++)
        {
          json_builder_begin_array (b);
          for (int c = 0; c < 4; c++)
            json_builder_add_double_value (b, v->affine[r][c]);
          json_builder_end_array (b);
        }
      json_builder_end_array (b);
      json_builder_set_member_name (b, "datatype");
      json_builder_add_string_value (b, info.datatype_name);
      json_builder_set_member_name (b, "storage");
      json_builder_add_string_value (b, storage);
      json_builder_set_member_name (b, "sform_code");
      json_builder_add_int_value (b, info.sform_code);
      json_builder_set_member_name (b, "qform_code");
      json_builder_add_int_value (b, info.qform_code);
      json_builder_set_member_name (b, "description");
      json_builder_add_string_value (b, info.descrip);
      json_builder_set_member_name (b, "label_table");
      if (found)
        json_builder_add_string_value (b, found);
      else
        json_builder_add_null_value (b);
      json_builder_set_member_name (b, "labels");
      json_builder_begin_array (b);
      for (guint s = 0; s < stats->len; s++)
        {
          const LabelStats *st = &g_array_index (stats, LabelStats, s);
          char name_buf[64];
          guint8 rgba[4];
          lt_table_get_color (table, st->label, rgba);
          g_autofree char *hex = g_strdup_printf ("#%02x%02x%02x", rgba[0], rgba[1], rgba[2]);
          json_builder_begin_object (b);
          json_builder_set_member_name (b, "id");
          json_builder_add_int_value (b, st->label);
          json_builder_set_member_name (b, "name");
          json_builder_add_string_value (b, lt_table_get_name (table, st->label, name_buf, sizeof name_buf));
          json_builder_set_member_name (b, "color");
          json_builder_add_string_value (b, hex);
          json_builder_set_member_name (b, "voxels");
          json_builder_add_int_value (b, st->count);
          json_builder_set_member_name (b, "volume_ml");
          json_builder_add_double_value (b, st->count * voxel_ml);
          json_builder_set_member_name (b, "bbox_min");
          json_builder_begin_array (b);
          for (int a = 0; a < 3; a++)
            json_builder_add_int_value (b, st->lo[a]);
          json_builder_end_array (b);
          json_builder_set_member_name (b, "bbox_max");
          json_builder_begin_array (b);
          for (int a = 0; a < 3; a++)
            json_builder_add_int_value (b, st->hi[a]);
          json_builder_end_array (b);
          json_builder_end_object (b);
        }
      json_builder_end_array (b);
      json_builder_end_object (b);
      g_autoptr (JsonGenerator) gen = json_generator_new ();
      g_autoptr (JsonNode) root = json_builder_get_root (b);
      json_generator_set_root (gen, root);
      json_generator_set_pretty (gen, TRUE);
      g_autofree char *text = json_generator_to_data (gen, NULL);
      printf ("%s\n", text);
      return 0;
    }

  printf ("File:         %s\n", path);
  printf ("Format:       %s%s%s\n", format, info.gzipped ? ", gzip-compressed" : "",
          info.pair ? ", header/image pair" : "");
  printf ("Dimensions:   %" G_GINT64_FORMAT " × %" G_GINT64_FORMAT " × %" G_GINT64_FORMAT " (%" G_GINT64_FORMAT
          " voxels)\n", v->nx, v->ny, v->nz, lv_volume_n_voxels (v));
  printf ("Spacing:      %g × %g × %g %s\n", v->spacing[0], v->spacing[1], v->spacing[2],
          units_name (info.xyzt_units));
  printf ("Orientation:  %s (from %s)\n", orient,
          info.version > 0 && info.sform_code > 0 ? "sform"
          : info.version > 0 && info.qform_code > 0 ? "qform" : "pixdim");
  printf ("Datatype:     %s on disk%s, stored as %s\n", info.datatype_name,
          info.byte_swapped ? " (big-endian)" : "", storage);
  if (info.descrip[0])
    printf ("Description:  %s\n", info.descrip);
  printf ("Affine:       ");
  for (int r = 0; r < 3; r++)
    printf ("%s[% 9.4f % 9.4f % 9.4f % 10.4f]\n", r ? "              " : "", v->affine[r][0], v->affine[r][1],
            v->affine[r][2], v->affine[r][3]);
  printf ("Label table:  %s\n", found ? found : "none (generated names and colours)");
  printf ("Labels:       %d (besides background)\n\n", n_labels);
  printf ("%6s  %-28s %-7s  %10s  %10s  %s\n", "id", "name", "colour", "voxels", "volume mL", "bounding box (i j k)");
  for (guint s = 0; s < stats->len; s++)
    {
      const LabelStats *st = &g_array_index (stats, LabelStats, s);
      char name_buf[64];
      guint8 rgba[4];
      lt_table_get_color (table, st->label, rgba);
      printf ("%6d  %-28.28s #%02x%02x%02x  %10" G_GINT64_FORMAT "  %10.2f  %" G_GINT64_FORMAT "–%" G_GINT64_FORMAT
              " %" G_GINT64_FORMAT "–%" G_GINT64_FORMAT " %" G_GINT64_FORMAT "–%" G_GINT64_FORMAT "\n",
              st->label, lt_table_get_name (table, st->label, name_buf, sizeof name_buf), rgba[0], rgba[1], rgba[2],
              st->count, st->count * voxel_ml, st->lo[0], st->hi[0], st->lo[1], st->hi[1], st->lo[2], st->hi[2]);
    }
  return 0;
}
