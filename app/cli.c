/* cli.c: helpers shared by the `anatomy` subcommands (see cli.h). */
#include "cli.h"
#include "completion.h"
#include "in-file.h"
#include "label-folder.h"
#include "label-table.h"
#include "nifti.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif

gboolean
cli_parse_options (int *argc, char ***argv, const char *parameter_string, const char *summary,
                   const GOptionEntry *entries)
{
  g_autoptr (GOptionContext) ctx = g_option_context_new (parameter_string);
  g_option_context_set_summary (ctx, summary);
  g_option_context_add_main_entries (ctx, entries, NULL);
  g_autoptr (GError) error = NULL;
  if (!g_option_context_parse (ctx, argc, argv, &error))
    {
      fprintf (stderr, "%s: %s\nTry '%s --help'.\n", (*argv)[0], error->message, (*argv)[0]);
      return FALSE;
    }
  return TRUE;
}

int
cli_fail (const char *fmt, ...)
{
  va_list ap;
  va_start (ap, fmt);
  g_autofree char *msg = g_strdup_vprintf (fmt, ap);
  va_end (ap);
  fprintf (stderr, "anatomy: %s\n", msg);
  return 1;
}

void
cli_warn (GPtrArray *warnings)
{
  for (guint i = 0; warnings && i < warnings->len; i++)
    fprintf (stderr, "anatomy: warning: %s\n", (const char *) g_ptr_array_index (warnings, i));
  if (warnings)
    g_ptr_array_set_size (warnings, 0);
}

GPtrArray *
cli_warnings_new (void)
{
  return g_ptr_array_new_with_free_func (g_free);
}

static gboolean progress_shown;

void
cli_progress (const char *label, double fraction, const char *text)
{
  if (!isatty (STDERR_FILENO))
    return;
  int width = 30, filled = (int) (CLAMP (fraction, 0.0, 1.0) * width);
  char bar[64];
  for (int i = 0; i < width; i++)
    bar[i] = i < filled ? '#' : '.';
  bar[width] = '\0';
  fprintf (stderr, "\r\033[K%s [%s] %3.0f%%  %s", label, bar, CLAMP (fraction, 0.0, 1.0) * 100.0,
           text ? text : "");
  fflush (stderr);
  progress_shown = TRUE;
}

void
cli_progress_done (void)
{
  if (progress_shown)
    fprintf (stderr, "\r\033[K");
  progress_shown = FALSE;
}

/* The id of one stripped item; FALSE with *problem when it has none or is refused. */
static gboolean
label_item_id (const char *item, const CliLabelSyntax *syntax, int32_t *id, CliLabelProblem *problem)
{
  char *end = NULL;
  errno = 0;
  gint64 v = g_ascii_strtoll (item, &end, 10);
  if (end != item && *end == '\0' && errno == 0 && v >= syntax->min_id && v <= syntax->max_id)
    *id = (int32_t) v;
  else if ((*id = syntax->lookup ? syntax->lookup (item, syntax->data) : -1) < 0)
    {
      *problem = CLI_LABEL_UNKNOWN;
      return FALSE;
    }
  if (syntax->accept && !syntax->accept (*id, syntax->data))
    {
      *problem = CLI_LABEL_REFUSED;
      return FALSE;
    }
  return TRUE;
}

GArray *
cli_parse_label_list (const char *list, const CliLabelSyntax *syntax, char **bad_item, CliLabelProblem *problem)
{
  g_autoptr (GArray) ids = g_array_new (FALSE, FALSE, sizeof (int32_t));
  g_auto (GStrv) items = g_strsplit (list, ",", -1);
  for (int i = 0; items[i]; i++)
    {
      char *item = g_strstrip (items[i]);
      if (*item == '\0' && !syntax->keep_empty)
        continue;
      int32_t id;
      CliLabelProblem why;
      if (!label_item_id (item, syntax, &id, &why))
        {
          *bad_item = g_strdup (item);
          if (problem)
            *problem = why;
          return NULL;
        }
      g_array_append_val (ids, id);
    }
  return g_steal_pointer (&ids);
}

int32_t
cli_label_table_lookup (const char *name, gpointer table)
{
  return lt_table_find_name (table, name);
}

gboolean
cli_network_config (const char *arch_s, const char *widths, int blocks, int grid, NnConfig *cfg)
{
  NnArch arch;
  if (arch_s == NULL || !nn_arch_from_string (arch_s, &arch))
    {
      cli_fail ("--arch must be unet, unet-skip or googlenet-skip");
      return FALSE;
    }
  nn_config_init_default (cfg, arch);
  g_autoptr (GError) error = NULL;
  if (widths && !nn_config_parse_widths (cfg, widths, &error))
    {
      cli_fail ("--%s", error->message);
      return FALSE;
    }
  if (blocks)
    cfg->blocks = blocks;
  if (grid)
    cfg->grid[0] = cfg->grid[1] = cfg->grid[2] = grid;
  return TRUE;
}

void
cli_heap_keep_freed (gsize keep)
{
#ifdef __GLIBC__
  mallopt (M_ARENA_MAX, 1);                       /* worker threads share one heap */
  mallopt (M_MMAP_THRESHOLD, 32 << 20);           /* the largest glibc takes */
  mallopt (M_TRIM_THRESHOLD, (int) MIN (keep, (gsize) G_MAXINT));
#else
  (void) keep;
#endif
}

char *
cli_find_model (const char *value, GError **error)
{
  NnArch arch;
  if (!nn_arch_from_string (value, &arch))
    {
      g_autoptr (GError) local = NULL;
      if (!in_file_check (value, &local))
        {
          /* a folder, FIFO or device says so; only a missing path is "no such file" */
          if (g_error_matches (local, IN_FILE_ERROR, IN_FILE_ERROR_NOT_FOUND))
            g_set_error (error, G_FILE_ERROR, G_FILE_ERROR_NOENT,
                         "%s: no such model file (or use unet, unet-skip, googlenet-skip)", value);
          else
            g_set_error (error, G_FILE_ERROR, G_FILE_ERROR_INVAL, "%s (a model is a .safetensors file)",
                         local->message);
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

/* --- label maps ------------------------------------------------------------------ */

void
cli_print_warnings (const char *warnings)
{
  if (warnings == NULL)
    return;
  g_auto (GStrv) lines = g_strsplit (warnings, "\n", -1);
  for (int i = 0; lines[i]; i++)
    if (*lines[i])
      fprintf (stderr, "anatomy: warning: %s\n", lines[i]);
}

gboolean
cli_label_map_read (CliLabelMap *m, const char *path, const char *table_path, gint64 max_voxels, GError **error)
{
  memset (m, 0, sizeof *m);
  m->path = g_strdup (path);
  m->format = label_file_format_from_path (path);
  gboolean folder = m->format == LABEL_FILE_FORMAT_FOLDER && label_folder_path_is_folder (path);
  LabelFileReadInfo info = { 0 };
  m->volume = label_file_read_full (path, max_voxels, NULL, &info, error);
  g_autoptr (LabelTable) own = g_steal_pointer (&info.table);
  m->segment_ids = g_steal_pointer (&info.segment_ids);
  cli_print_warnings (info.warnings);
  label_file_read_info_clear (&info);
  if (m->volume == NULL)
    return FALSE;
  if (table_path != NULL && folder)
    {
      g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                   "%s: a mask folder is named by its file names (--table cannot rename it)", path);
      return FALSE;
    }
  if (table_path != NULL)
    {
      m->table = lt_table_load (table_path, error);
      if (m->table == NULL)
        return FALSE;
      m->table_source = g_strdup (table_path);
      m->table_file = g_strdup (table_path);
      return TRUE;
    }
  if (!folder)
    {
      g_autofree char *found = NULL;
      g_autoptr (GError) local = NULL;
      m->table = lt_table_find_for_volume (path, NULL, &found, &local);
      /* a broken table beside a valid volume does not make it unreadable (every command
       * and the window carry on): said, then ignored; an explicit --table is still checked */
      if (local != NULL)
        fprintf (stderr, "anatomy: warning: ignoring the label table: %s\n", local->message);
      if (m->table != NULL)
        {
          m->table_file = g_strdup (found);
          m->table_source = g_steal_pointer (&found);
          return TRUE;
        }
    }
  if (own != NULL)
    {
      m->table = g_steal_pointer (&own);
      m->own_names = TRUE;
      m->table_source = g_strdup_printf ("%s (%s)", path,
                                         folder ? "mask file names"
                                         : m->format == LABEL_FILE_FORMAT_NIFTI ? "header extension"
                                         : "3D Slicer segments");
    }
  return TRUE;
}

gboolean
cli_label_map_resolve (CliLabelMap *m, const char *requested, GError **error)
{
  g_clear_error (&m->scheme_error);
  m->scheme_names = m->table;
  m->scheme = label_scheme_resolve (requested, m->table, m->volume, m->path, &m->by_names, &m->scheme_error);
  if (m->scheme == NULL && requested == NULL && m->segment_ids != NULL)
    {
      const LabelScheme *s = label_scheme_resolve (NULL, m->segment_ids, m->volume, m->path, &m->by_names, NULL);
      if (s != NULL)
        {
          m->scheme = s;
          m->scheme_names = m->segment_ids;
          g_clear_error (&m->scheme_error);
        }
    }
  m->ids_fit = m->scheme != NULL && m->segment_ids != NULL
               && (m->scheme_names == m->segment_ids
                   || label_scheme_resolve (NULL, m->segment_ids, m->volume, m->path, NULL, NULL) == m->scheme);
  if (m->scheme == NULL && error != NULL)
    *error = g_error_copy (m->scheme_error);
  return m->scheme != NULL;
}

void
cli_label_map_clear (CliLabelMap *m)
{
  g_clear_pointer (&m->path, g_free);
  g_clear_pointer (&m->volume, lv_volume_free);
  g_clear_pointer (&m->table, lt_table_free);
  g_clear_pointer (&m->table_source, g_free);
  g_clear_pointer (&m->table_file, g_free);
  g_clear_pointer (&m->segment_ids, lt_table_free);
  g_clear_pointer (&m->scheme_table, lt_table_free);
  g_clear_error (&m->scheme_error);
}

int32_t
cli_label_map_class_of (const CliLabelMap *m, int32_t id)
{
  if (m->scheme == NULL)
    return -1;
  if (id == 0)
    return 0;
  if (m->by_names && m->scheme_names != NULL)
    {
      const LabelEntry *e = lt_table_lookup (m->scheme_names, id);
      if (e == NULL)
        return -1;
      int32_t sid = label_scheme_find_name (m->scheme, e->name);
      return sid > 0 ? label_scheme_class_of (m->scheme, sid) : 0;
    }
  return label_scheme_class_of (m->scheme, id);
}

const LabelTable *
cli_label_map_names (CliLabelMap *m)
{
  if (m->table != NULL)
    return m->table;
  if (m->scheme == NULL)
    return NULL;
  if (m->scheme_table != NULL)
    return m->scheme_table;
  if (strcmp (label_scheme_get_name (m->scheme), LABEL_SCHEME_BENCHMARK12) == 0)
    return m->scheme_table = lt_table_new_default ();
  /* the scheme's ids, and those of its reserved ids ("lung (completed)") the volume holds */
  m->scheme_table = label_scheme_dup_table (m->scheme, 0);
  g_autoptr (LabelTable) completed = label_scheme_dup_table (m->scheme, LABEL_SCHEME_TABLE_COMPLETED);
  const int32_t max_id = label_scheme_get_max_id (m->scheme);
  gboolean seen[LT_N_CLASSES] = { FALSE };
  const int64_t n = lv_volume_n_voxels (m->volume);
  for (int64_t i = 0; i < n; i++)
    {
      int32_t l = lv_volume_get_index (m->volume, i);
      if (l > max_id && l <= max_id + LT_N_ORGANS && !seen[l - max_id])
        {
          seen[l - max_id] = TRUE;
          const LabelEntry *e = lt_table_lookup (completed, l);
          if (e != NULL)
            lt_table_set (m->scheme_table, l, e->name, e->rgba);
        }
    }
  return m->scheme_table;
}

const char *
cli_label_map_scheme_origin (const CliLabelMap *m, const char *requested)
{
  if (m->scheme == NULL)
    return "none";
  if (requested != NULL)
    return "given with --scheme";
  if (m->table == NULL)
    return "no names: every label is one of the 12 classes";
  if (m->format == LABEL_FILE_FORMAT_FOLDER && m->own_names)
    return "detected from the mask file names";
  if (m->scheme_names != NULL && m->scheme_names == m->segment_ids)
    return m->by_names ? "detected from the 3D Slicer segment IDs (the ids are the file's own)"
                       : "detected from the 3D Slicer segment IDs and label values";
  if (m->by_names)
    return "detected from the label names (the ids are the file's own)";
  return "detected from the label ids and names";
}

LabelTable *
cli_label_map_dup_output_names (const CliLabelMap *m, const LabelTable *names, LabelFileFormat format)
{
  if (names == NULL)
    return NULL;
  gboolean ids = format != LABEL_FILE_FORMAT_SEG_NRRD && m->ids_fit;
  LabelTable *t = lt_table_new (names->source);
  for (guint i = 0; i < names->entries->len; i++)
    {
      const LabelEntry *e = &g_array_index (names->entries, LabelEntry, i);
      const LabelEntry *id = ids ? lt_table_lookup (m->segment_ids, e->id) : NULL;
      lt_table_set (t, e->id, id != NULL ? id->name : e->name, e->rgba);
    }
  return t;
}

OutSet *
cli_outputs_new (gboolean force, const char *const *inputs)
{
  OutSet *s = out_set_new (force);
  for (int i = 0; inputs && inputs[i]; i++)
    label_file_add_inputs (s, inputs[i]);
  return s;
}

int
cli_fail_output (const GError *error)
{
  /* the writers' own domains say "exists" in their words: the message always names the file */
  if (g_error_matches (error, OUT_FILE_ERROR, OUT_FILE_ERROR_EXISTS)
      || g_error_matches (error, NIFTI_ERROR, NIFTI_ERROR_EXISTS))
    return cli_fail ("%s (use --force to replace it)", error->message);
  return cli_fail ("%s", error->message);
}

/* @path reserved in @outputs by @reserve (a file, or a label map's files), else its error
 * printed */
static gboolean
reserve_or_fail (gboolean (*reserve) (OutSet *, const char *, GError **), OutSet *outputs, const char *path)
{
  g_autoptr (GError) error = NULL;
  if (reserve (outputs, path, &error))
    return TRUE;
  cli_fail_output (error);
  return FALSE;
}

gboolean
cli_outputs_reserve (OutSet *outputs, const char *path)
{
  return reserve_or_fail (out_set_reserve, outputs, path);
}

gboolean
cli_outputs_reserve_label_map (OutSet *outputs, const char *path)
{
  return reserve_or_fail (label_file_reserve, outputs, path);
}

int
cli_outputs_commit (OutSet *outputs)
{
  g_autoptr (GError) error = NULL;
  if (out_set_commit (outputs, &error))
    return 0;
  return cli_fail_output (error);
}
