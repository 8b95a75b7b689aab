/* cmd-info.c: `anatomy info FILE [--json]`. */
#include "cli-json.h"
#include "commands.h"
#include "label-scheme.h"
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

/* @name: [@v[0], @v[1], @v[2]] (the dimensions and the bounding boxes in --json) */
static void
json_int3 (JsonBuilder *b, const char *name, const int64_t v[3])
{
  json_builder_set_member_name (b, name);
  json_builder_begin_array (b);
  for (int a = 0; a < 3; a++)
    json_builder_add_int_value (b, v[a]);
  json_builder_end_array (b);
}

/* The class column: the 12-class name of @id, "-" for none, "?" for ids the scheme
 * does not define. */
static const char *
class_text (const CliLabelMap *m, int32_t id)
{
  int32_t c = cli_label_map_class_of (m, id);
  if (id == 0)
    return "";
  return c > 0 ? lt_default_class_name (c) : c == 0 ? "-" : "?";
}

/* the --help text of `anatomy info` */
static const char summary[] =
  "Describe a label map (.nii, .nii.gz, .hdr/.img, .nrrd, .nhdr, .seg.nrrd, or a folder of\n"
  "binary masks such as TotalSegmentator's segmentations/): dimensions, spacing,\n"
  "orientation, datatype, the label scheme, and for every label its id, name, the\n"
  "12-class organ it maps to, colour, voxel count, volume in mL and bounding box (voxel\n"
  "indices, inclusive).  The scheme is detected from the names (header extension,\n"
  "segments, mask file names, a table beside FILE); a file without names whose labels\n"
  "are all 0-12 is the benchmark's 12 classes.";

int
cmd_info (int argc, char **argv)
{
  gboolean json = FALSE;
  g_autofree char *table_path = NULL, *scheme_name = NULL;
  gint64 max_voxels = 0;
  g_auto (GStrv) files = NULL;
  g_autofree char *schemes = label_scheme_dup_names ();
  g_autofree char *scheme_help = g_strdup_printf ("Label scheme of FILE (%s; default: detected from its names)", schemes);
  GOptionEntry entries[] = {
    { "json", 'j', 0, G_OPTION_ARG_NONE, &json, "Print JSON instead of text", NULL },
    { "table", 't', 0, G_OPTION_ARG_FILENAME, &table_path,
      "Label table to name the labels (default: one beside FILE, else the names FILE carries, else the "
      "scheme's names)", "TABLE" },
    { "scheme", 's', 0, G_OPTION_ARG_STRING, &scheme_name, scheme_help, "NAME" },
    { "max-voxels", 0, 0, G_OPTION_ARG_INT64, &max_voxels,
      "Refuse volumes with more voxels than N before allocating (default 1073741824)", "N" },
    { G_OPTION_REMAINING, 0, 0, G_OPTION_ARG_FILENAME_ARRAY, &files, NULL, NULL },
    { NULL },
  };
  if (!cli_parse_options (&argc, &argv, "FILE", summary, entries))
    return CLI_EXIT_USAGE;
  if (files == NULL || files[0] == NULL || files[1] != NULL)
    return cli_fail ("info needs exactly one FILE (see 'anatomy info --help')");

  const char *path = files[0];
  g_autoptr (GError) error = NULL;
  if (max_voxels < 0)
    return cli_fail ("--max-voxels must be positive");
  g_auto (CliLabelMap) m = { 0 };
  if (!cli_label_map_read (&m, path, table_path, max_voxels, &error))
    return cli_fail ("%s", error->message);
  if (!cli_label_map_resolve (&m, scheme_name, NULL) && scheme_name != NULL
      && g_error_matches (m.scheme_error, LABEL_SCHEME_ERROR, LABEL_SCHEME_ERROR_UNKNOWN))
    return cli_fail ("%s", m.scheme_error->message);
  const LabelVolume *v = m.volume;
  const LabelTable *table = cli_label_map_names (&m);
  g_autofree char *found = NULL;
  if (m.table_source)
    found = g_strdup (m.table_source);
  else if (table != NULL && strcmp (label_scheme_get_name (m.scheme), LABEL_SCHEME_BENCHMARK12) == 0)
    found = g_strdup ("built-in organ table");
  else if (table != NULL)
    found = g_strdup_printf ("the %s scheme's names", label_scheme_get_name (m.scheme));

  NiftiInfo info;
  gboolean is_nifti = m.format == LABEL_FILE_FORMAT_NIFTI && nifti_source_get_info (v->source, &info);
  if (!is_nifti)
    memset (&info, 0, sizeof info);
  char orient[4];
  lv_volume_orientation (v, orient);
  double voxel_ml = lv_volume_voxel_mm3 (v) / 1000.0;
  g_autoptr (GArray) stats = collect_stats (v);
  g_array_sort (stats, compare_stats);
  const char *storage = v->bytes_per_voxel == 1 ? "uint8" : v->bytes_per_voxel == 2 ? "uint16" : "int32";
  g_autofree char *format = NULL;
  if (is_nifti)
    format = g_strdup (info.version == 0 ? "Analyze 7.5" : info.version == 1 ? "NIfTI-1" : "NIfTI-2");
  else if (m.format == LABEL_FILE_FORMAT_FOLDER)
    format = g_strdup_printf ("mask folder (%u masks)", m.table ? m.table->entries->len : 0);
  else if (m.format == LABEL_FILE_FORMAT_SEG_NRRD || (m.own_names && m.table))
    format = g_strdup ("NRRD (3D Slicer segmentation)");
  else
    format = g_strdup ("NRRD");
  const char *datatype = is_nifti ? info.datatype_name : storage;
  int n_labels = 0;
  for (guint s = 0; s < stats->len; s++)
    n_labels += g_array_index (stats, LabelStats, s).label != 0;

  if (json)
    {
      g_autoptr (JsonBuilder) b = json_builder_new ();
      json_builder_begin_object (b);
      cli_json_string (b, "file", path);
      cli_json_string (b, "format", format);
      cli_json_bool (b, "gzipped", info.gzipped);
      cli_json_bool (b, "byte_swapped", info.byte_swapped);
      const int64_t dims[3] = { v->nx, v->ny, v->nz };
      json_int3 (b, "dimensions", dims);
      json_builder_set_member_name (b, "spacing_mm");
      json_builder_begin_array (b);
      for (int a = 0; a < 3; a++)
        json_builder_add_double_value (b, v->spacing[a]);
      json_builder_end_array (b);
      cli_json_string (b, "orientation", orient);
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
      cli_json_string (b, "datatype", datatype);
      cli_json_string (b, "storage", storage);
      cli_json_int (b, "sform_code", info.sform_code);
      cli_json_int (b, "qform_code", info.qform_code);
      cli_json_string (b, "description", info.descrip);
      cli_json_string_or_null (b, "label_table", found);
      json_builder_set_member_name (b, "scheme");
      json_builder_begin_object (b);
      cli_json_string_or_null (b, "name", m.scheme ? label_scheme_get_name (m.scheme) : NULL);
      cli_json_string (b, "origin", cli_label_map_scheme_origin (&m, scheme_name));
      cli_json_bool (b, "by_names", m.by_names);
      cli_json_string_or_null (b, "problem", m.scheme_error ? m.scheme_error->message : NULL);
      json_builder_end_object (b);
      json_builder_set_member_name (b, "labels");
      json_builder_begin_array (b);
      for (guint s = 0; s < stats->len; s++)
        {
          const LabelStats *st = &g_array_index (stats, LabelStats, s);
          char name_buf[64];
          guint8 rgba[4];
          lt_table_get_color (table, st->label, rgba);
          g_autofree char *hex = g_strdup_printf ("#%02x%02x%02x", rgba[0], rgba[1], rgba[2]);
          int32_t cls = cli_label_map_class_of (&m, st->label);
          json_builder_begin_object (b);
          cli_json_int (b, "id", st->label);
          cli_json_string (b, "name", lt_table_get_name (table, st->label, name_buf, sizeof name_buf));
          json_builder_set_member_name (b, "class");
          if (cls >= 0)
            json_builder_add_int_value (b, cls);
          else
            json_builder_add_null_value (b);
          cli_json_string_or_null (b, "class_name", cls > 0 ? lt_default_class_name (cls) : NULL);
          cli_json_string (b, "color", hex);
          cli_json_int (b, "voxels", st->count);
          cli_json_double (b, "volume_ml", st->count * voxel_ml);
          json_int3 (b, "bbox_min", st->lo);
          json_int3 (b, "bbox_max", st->hi);
          json_builder_end_object (b);
        }
      json_builder_end_array (b);
      json_builder_end_object (b);
      g_autofree char *text = cli_json_dup_text (b, NULL);
      printf ("%s\n", text);
      return 0;
    }

  printf ("File:         %s\n", path);
  printf ("Format:       %s%s%s\n", format, info.gzipped ? ", gzip-compressed" : "",
          info.pair ? ", header/image pair" : "");
  printf ("Dimensions:   %" G_GINT64_FORMAT " × %" G_GINT64_FORMAT " × %" G_GINT64_FORMAT " (%" G_GINT64_FORMAT
          " voxels)\n", v->nx, v->ny, v->nz, lv_volume_n_voxels (v));
  printf ("Spacing:      %g × %g × %g %s\n", v->spacing[0], v->spacing[1], v->spacing[2],
          is_nifti ? units_name (info.xyzt_units) : "mm");
  if (is_nifti)
    printf ("Orientation:  %s (from %s)\n", orient,
            info.version > 0 && info.sform_code > 0 ? "sform"
            : info.version > 0 && info.qform_code > 0 ? "qform" : "pixdim");
  else
    printf ("Orientation:  %s\n", orient);
  if (is_nifti)
    printf ("Datatype:     %s on disk%s, stored as %s\n", info.datatype_name,
            info.byte_swapped ? " (big-endian)" : "", storage);
  else
    printf ("Datatype:     stored as %s\n", storage);
  if (info.descrip[0])
    printf ("Description:  %s\n", info.descrip);
  printf ("Affine:       ");
  for (int r = 0; r < 3; r++)
    printf ("%s[% 9.4f % 9.4f % 9.4f % 10.4f]\n", r ? "              " : "", v->affine[r][0], v->affine[r][1],
            v->affine[r][2], v->affine[r][3]);
  printf ("Label table:  %s\n", found ? found : "none (generated names and colours)");
  if (m.scheme)
    printf ("Scheme:       %s: %s (%s)\n", label_scheme_get_name (m.scheme), label_scheme_get_title (m.scheme),
            cli_label_map_scheme_origin (&m, scheme_name));
  else
    {
      g_autofree char *why = g_strdup (m.scheme_error->message);
      g_strdelimit (why, "\n", ' ');
      printf ("Scheme:       none (%s)\n", why);
    }
  printf ("Labels:       %d (besides background)\n\n", n_labels);
  printf ("%6s  %-28s %-18s %-7s  %10s  %10s  %s\n", "id", "name", "class (of 12)", "colour", "voxels", "volume mL",
          "bounding box (i j k)");
  for (guint s = 0; s < stats->len; s++)
    {
      const LabelStats *st = &g_array_index (stats, LabelStats, s);
      char name_buf[64];
      guint8 rgba[4];
      lt_table_get_color (table, st->label, rgba);
      printf ("%6d  %-28.28s %-18.18s #%02x%02x%02x  %10" G_GINT64_FORMAT "  %10.2f  %" G_GINT64_FORMAT "–%" G_GINT64_FORMAT
              " %" G_GINT64_FORMAT "–%" G_GINT64_FORMAT " %" G_GINT64_FORMAT "–%" G_GINT64_FORMAT "\n",
              st->label, lt_table_get_name (table, st->label, name_buf, sizeof name_buf), class_text (&m, st->label),
              rgba[0], rgba[1], rgba[2], st->count, st->count * voxel_ml, st->lo[0], st->hi[0], st->lo[1], st->hi[1],
              st->lo[2], st->hi[2]);
    }
  return 0;
}
