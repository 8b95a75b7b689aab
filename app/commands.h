/* commands.h: subcommands of the `anatomy` command-line tool.
 * Each takes argv with argv[0] = "anatomy NAME" and returns an exit status. */
#pragma once

#include <glib.h>
#include "nn-net.h"

typedef struct {
  const char *name;
  const char *summary;
  int (*run) (int argc, char **argv);
} AnatomyCommand;

int cmd_info (int argc, char **argv);
int cmd_convert (int argc, char **argv);
int cmd_phantom (int argc, char **argv);
int cmd_render (int argc, char **argv);
int cmd_mesh (int argc, char **argv);
int cmd_complete (int argc, char **argv);
int cmd_init_model (int argc, char **argv);
int cmd_bench (int argc, char **argv);
int cmd_train (int argc, char **argv);
int cmd_eval (int argc, char **argv);
/* cmd-complete.c: path of a model named by --model (architecture name or file). */
char *cli_find_model (const char *value, GError **error);

/* Shared helpers (anatomy.c). */
/* Parse options; prints help/errors itself.  Returns FALSE if the caller should exit with *status. */
gboolean cli_parse (GOptionContext *ctx, int *argc, char ***argv, int *status);
/* Print "anatomy: MESSAGE" to stderr and return 1. */
int cli_fail (const char *fmt, ...) G_GNUC_PRINTF (1, 2);
/* Progress line on stderr when it is a terminal: "label [#####.....] 42%  text". */
void cli_progress (const char *label, double fraction, const char *text);
void cli_progress_done (void);
/* A network configuration from --arch, --widths (NULL: default), --blocks and --grid
 * (0: default).  Prints the problem and returns FALSE when an option is invalid. */
gboolean cli_network_config (const char *arch, const char *widths, int blocks, int grid, NnConfig *cfg);
