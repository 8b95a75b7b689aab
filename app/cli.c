/* cli.c: helpers shared by the `anatomy` subcommands (see cli.h). */
#include "cli.h"
#include "completion.h"
#include "in-file.h"
#include "label-table.h"
#include "nifti.h"

#include <errno.h>
#include <stdio.h>
#include <unistd.h>

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

OutSet *
cli_outputs_new (gboolean force, const char *const *inputs)
{
  OutSet *s = out_set_new (force);
  for (int i = 0; inputs && inputs[i]; i++)
    nifti_add_inputs (s, inputs[i]);
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

gboolean
cli_outputs_reserve (OutSet *outputs, const char *path)
{
  g_autoptr (GError) error = NULL;
  if (out_set_reserve (outputs, path, &error))
    return TRUE;
  cli_fail_output (error);
  return FALSE;
}

int
cli_outputs_commit (OutSet *outputs)
{
  g_autoptr (GError) error = NULL;
  if (out_set_commit (outputs, &error))
    return 0;
  return cli_fail_output (error);
}
