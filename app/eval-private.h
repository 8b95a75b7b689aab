/* eval-private.h: what the two modes of `anatomy eval` share (cmd-eval.c defines it):
 * the atlases and settings, reading a map as 12 classes, running one method on a partial
 * input, and the JSON output.  Private to cmd-eval.c, eval-benchmark.c and eval-maps.c. */
#pragma once

#include "cli-json.h"
#include "commands.h"
#include "atlas.h"
#include "label-table.h"
#include "nn-net.h"

#include <json-glib/json-glib.h>

/* Labels are those of the default scheme: background and 12 organs (LT_N_CLASSES),
 * named by lt_default_class_name. */

typedef struct {
  char *path;              /* as given */
  char *real;              /* canonical, to recognise a case's own file */
  char *name;              /* file name without its NIfTI extension */
  char *scheme;            /* scheme the file was read in */
  LabelVolume *v;          /* 12 classes */
  AtlasSubject *s;
} Atlas;

/* Options shared by both modes. */
typedef struct {
  int threads;
  gboolean keep_fragments;
  gboolean hd95;           /* also the 95 % Hausdorff distance (complete maps) */
  AtlasOptions atlas;
} EvalSettings;

/* What every method scored on one removed organ: n_methods values in each column. */
typedef struct {
  double *dice;
  double *ml;       /* volume the method gave the organ */
  double *hd95;     /* mm, NAN when the method added none of it (or without --hd95) */
  double *dml;      /* volume difference, method - truth, mL */
  double *dpct;     /* the same in % of the truth's volume */
} EvalScores;

/* The voxels of a predicted map against the truth, by class pair (labels outside
 * 0..LT_N_CLASSES-1 count as background), and each class's voxels in either map. */
typedef struct {
  int64_t pair[LT_N_CLASSES][LT_N_CLASSES];   /* [predicted][true] */
  int64_t pred[LT_N_CLASSES], truth[LT_N_CLASSES];
} EvalOverlap;

/* realpath of @path, or a copy of @path when it has none */
char *eval_real_path (const char *path);
/* file name of @path without its NIfTI extension */
char *eval_file_stem (const char *path);
/* @path as a 12-class map: its scheme (@scheme, else detected) mapped to the 12 classes;
 * the scheme used in @scheme_used */
LabelVolume *eval_read_12class (const char *path, const char *scheme, char **scheme_used, GError **error);
/* the atlases (Atlas) for a case, all but the case itself; borrowed pointers */
GPtrArray *eval_atlases_for_case (GPtrArray *atlases, const char *case_real, const LabelVolume *truth);
/* multi-atlas transfer of the organs @removed into @in; @fits (use->len) may be NULL */
LabelVolume *eval_run_atlas (GPtrArray *use, const LabelVolume *in, guint32 removed, const EvalSettings *st,
                             AtlasFit *fits, GError **error);
/* @net completes @in with the organs @removed selected */
LabelVolume *eval_run_net (NnNet *net, const LabelVolume *in, guint32 removed, const EvalSettings *st,
                           GError **error);
const char *eval_transform_name (AtlasTransform t);
/* @key: @v, or null when @v is NaN */
void eval_json_add_number_or_null (JsonBuilder *b, const char *key, double v);
/* The counts of @pred against @truth (the same grid) in @o */
void eval_overlap (EvalOverlap *o, const LabelVolume *pred, const LabelVolume *truth);
/* The columns of @s, @n_methods values each (uninitialised), to free with eval_scores_clear */
void eval_scores_init (EvalScores *s, int n_methods);
void eval_scores_clear (EvalScores *s);
/* @s as members "dice", "ml", "volume_diff_ml", "volume_diff_percent" and, with @hd95,
 * "hd95_mm": each an object of the @n_methods values by @names (null for NaN) */
void eval_json_add_scores (JsonBuilder *b, const EvalScores *s, const char *const *names, int n_methods,
                           gboolean hd95);
/* @key: an object of the organs' values @per[1..LT_N_CLASSES-1] by class name, then
 * @last: @last_value unless @last is NULL (null for NaN, all of them) */
void eval_json_add_per_organ (JsonBuilder *b, const char *key, const double *per, const char *last,
                              double last_value);
/* One cell of a text table: @v with @decimals, "-" when NAN, 14 wide after a space. */
void eval_print_cell (double v, int decimals);
/* the document of @b, pretty-printed, to @path reserved in @outputs */
gboolean eval_write_json (JsonBuilder *b, OutSet *outputs, const char *path, GError **error);

/* Mode 1, eval-benchmark.c: DIR/complete + DIR/incomplete */
int eval_benchmark (const char *data_dir, GPtrArray *nets, GPtrArray *model_paths, GPtrArray *model_names,
                    GPtrArray *atlases, const EvalSettings *st, gint64 mean_seed, int mean_subjects, int limit,
                    OutSet *outputs, const char *json_path);
/* Mode 2, eval-maps.c: complete label maps, removals from removal-plan.h */
int eval_maps (GPtrArray *cases_in, GPtrArray *nets, GPtrArray *model_paths, GPtrArray *model_names,
               GPtrArray *atlases, gboolean with_atlas, const EvalSettings *st, const char *scheme, double min_ml,
               int limit, OutSet *outputs, const char *json_path);
/* Mode 3, eval-pair.c: one completed map against its reference (the GUI's comparison
 * table); @input (may be NULL) tells which organs were missing; @outputs has the JSON and
 * CSV paths reserved */
int eval_pair (const char *completed, const char *reference, const char *input, gboolean hd95, OutSet *outputs,
               const char *json_path, const char *csv_path);
