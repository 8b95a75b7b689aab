/* cli.h: helpers shared by the `anatomy` subcommands: option parsing, messages,
 * the progress line, label lists, network configurations and models. */
#pragma once

#include <glib.h>
#include "label-file.h"
#include "label-scheme.h"
#include "nn-net.h"
#include "out-file.h"

G_BEGIN_DECLS

/* Exit status of a command line that cannot be parsed. */
#define CLI_EXIT_USAGE 2

/* Parses a command's @entries out of argv (argv[0] = "anatomy NAME"); @parameter_string
 * (may be NULL) follows "[OPTION…]" in --help, @summary comes under it.  --help prints
 * the help and exits; a parse error is printed with a hint and gives FALSE: the command
 * then returns CLI_EXIT_USAGE. */
gboolean cli_parse_options (int *argc, char ***argv, const char *parameter_string, const char *summary,
                            const GOptionEntry *entries);

/* Print "anatomy: MESSAGE" to stderr and return 1. */
int cli_fail (const char *fmt, ...) G_GNUC_PRINTF (1, 2);

/* Prints each message of @warnings (char*; NULL allowed) as "anatomy: warning: MESSAGE"
 * and empties the array. */
void cli_warn (GPtrArray *warnings);
/* A new array for the warnings of the readers (char*, g_free). */
GPtrArray *cli_warnings_new (void);

/* Progress line on stderr when it is a terminal: "label [#####.....] 42%  text". */
void cli_progress (const char *label, double fraction, const char *text);
void cli_progress_done (void);

/* Label lists such as "liver, 2,rib cage": items separated by commas, each stripped of
 * spaces, each either an integer (base 10) in min_id..max_id or a name, which @lookup
 * turns into an id (-1: unknown).  @accept (may be NULL) may refuse a label. */
typedef struct {
  gint64 min_id, max_id;       /* within the int32_t range */
  int32_t (*lookup) (const char *name, gpointer data);
  gboolean (*accept) (int32_t id, gpointer data);
  gpointer data;               /* for lookup and accept */
  gboolean keep_empty;         /* an empty item is looked up like a name (by default skipped) */
} CliLabelSyntax;

typedef enum {
  CLI_LABEL_UNKNOWN,           /* neither an id in range nor a known name */
  CLI_LABEL_REFUSED,           /* a label that @accept refused */
} CliLabelProblem;

/* The ids of @list in order (int32_t; none for an empty list).  NULL at the first bad item:
 * *bad_item receives it (stripped; free it) and *problem (may be NULL) what is wrong. */
GArray *cli_parse_label_list (const char *list, const CliLabelSyntax *syntax, char **bad_item,
                              CliLabelProblem *problem);
/* A lookup for names of a label table (data: the LabelTable, may be NULL). */
int32_t cli_label_table_lookup (const char *name, gpointer table);

/* Prints a reader's warnings (lines) to stderr as "anatomy: warning: LINE"; NULL: nothing. */
void cli_print_warnings (const char *warnings);

/* A label map as the commands read it: any format label_file_read knows (NIfTI, NRRD,
 * .seg.nrrd, a mask folder), its names and, once resolved, its scheme. */
typedef struct {
  char *path;
  LabelVolume *volume;
  LabelTable *table;           /* its names, or NULL (see cli_label_map_read) */
  char *table_source;          /* where they came from, for people; NULL without names */
  char *table_file;            /* the table file read (--table, or found beside), or NULL: an input */
  gboolean own_names;          /* the names are the file's own (header, segments, mask names) */
  LabelTable *segment_ids;     /* a 3D Slicer file's segment IDs when they differ from the names */
  LabelFileFormat format;
  /* after cli_label_map_resolve: */
  const LabelScheme *scheme;   /* NULL when none could be resolved (see scheme_error) */
  const LabelTable *scheme_names; /* the names the scheme was found from: table or segment_ids */
  gboolean by_names;           /* the ids match the scheme by their names in scheme_names */
  gboolean ids_fit;            /* segment_ids follow the scheme too (written as names outside .seg.nrrd) */
  GError *scheme_error;
  LabelTable *scheme_table;    /* cache of cli_label_map_names */
} CliLabelMap;

/* Reads @path into @m: the names are @table_path's when given (not for a mask folder,
 * whose names are its file names), else those of a table file beside @path, else the
 * file's own; a broken table beside @path is ignored with a warning, a broken @table_path
 * is an error.  The readers' warnings go to stderr ("anatomy: warning: ...").  FALSE with
 * an error that names the file. */
gboolean cli_label_map_read (CliLabelMap *m, const char *path, const char *table_path, gint64 max_voxels,
                             GError **error);
/* Resolves the scheme (label_scheme_resolve with @requested, e.g. --scheme; from the names,
 * else from a 3D Slicer file's segment IDs); TRUE when one was found, else FALSE with
 * m->scheme_error set (and copied to @error, may be NULL). */
gboolean cli_label_map_resolve (CliLabelMap *m, const char *requested, GError **error);
void cli_label_map_clear (CliLabelMap *m);
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (CliLabelMap, cli_label_map_clear)
/* The 12-class class of label @id under the resolved scheme: 1..12, 0 (none), -1 (the
 * scheme does not define it, or no scheme). */
int32_t cli_label_map_class_of (const CliLabelMap *m, int32_t id);
/* The names to show and to write: m->table, else the resolved scheme's (the built-in
 * organ table for benchmark12), else NULL.  Borrowed. */
const LabelTable *cli_label_map_names (CliLabelMap *m);
/* The names to write into a file of @format: a copy of @names (may be NULL: then NULL),
 * except that outside a .seg.nrrd the segment IDs of a 3D Slicer file, when they follow its
 * scheme (ids_fit), replace the names (keeping @names' colours), so that the scheme's own
 * names survive in a NIfTI or a mask folder. */
LabelTable *cli_label_map_dup_output_names (const CliLabelMap *m, const LabelTable *names, LabelFileFormat format);
/* How the scheme was chosen, for people. */
const char *cli_label_map_scheme_origin (const CliLabelMap *m, const char *requested);

/* A network configuration from --arch, --widths (NULL: default), --blocks and --grid
 * (0: default).  Prints the problem and returns FALSE when an option is invalid. */
gboolean cli_network_config (const char *arch, const char *widths, int blocks, int grid, NnConfig *cfg);

/* Path of the model for --model VALUE: an architecture name means the shipped model
 * (completion_find_model: $ANATOMY_MODELS_DIR, else the source tree, then the installed
 * data); anything else is a file.  NULL with a message saying what is missing. */
char *cli_find_model (const char *value, GError **error);

/* For a command that allocates and frees large arrays in turn (mesh): all allocations up
 * to 32 MiB, from every thread, come from one heap, and up to @keep bytes freed there stay
 * mapped for the next, so each page is faulted in once.  (Transparent huge pages for that
 * heap were tried and dropped: right after another process freed its memory, as in the
 * paired benchmark, the whole command took 294 ms with them against 165 ms without.)
 * glibc only; elsewhere nothing happens.  Call before the first large allocation. */
void cli_heap_keep_freed (gsize keep);

/* The outputs of a command, in one OutSet (model/base/out-file.h): no output may be an
 * input or another output, all are written to temporaries and moved into place together
 * by cli_outputs_commit(), and --force (@force) is the only way over an existing file.
 * @inputs (NULL-terminated, NULL items skipped) are the files the command reads
 * (label_file_add_inputs: a NIfTI pair with both halves, a detached NRRD header with its
 * data file, a mask folder with every mask). */
OutSet *cli_outputs_new (gboolean force, const char *const *inputs);
/* Reserves the output @path before the work; FALSE after printing why not. */
gboolean cli_outputs_reserve (OutSet *outputs, const char *path);
/* The same for a label map output (label_file_reserve: any format, a mask folder too). */
gboolean cli_outputs_reserve_label_map (OutSet *outputs, const char *path);
/* Prints an output error (an existing file: with "use --force") and returns 1. */
int cli_fail_output (const GError *error);
/* Moves every output into place; 0, or 1 after printing the problem. */
int cli_outputs_commit (OutSet *outputs);

G_END_DECLS
