/* commands.h: subcommands of the `anatomy` command-line tool.
 * Each takes argv with argv[0] = "anatomy NAME" and returns an exit status. */
#pragma once

#include "cli.h"

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
