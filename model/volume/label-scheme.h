/* label-scheme.h: label schemes as data.
 *
 * A label scheme is a fixed list of label ids with names, as written by a
 * segmentation tool or a dataset: the benchmark's 12 classes ("benchmark12"),
 * TotalSegmentator v1 ("totalseg-v1", 104 classes, dict `total_v1` of
 * totalsegmentator/map_to_binary.py), TotalSegmentator v2 ("totalseg-v2", 117
 * classes, dict `total`) and AMOS 2022 ("amos15", 15 abdominal organs).
 *
 * Every id of a scheme carries the 12-class organ it belongs to (LT_LUNG ..
 * LT_PULMONARY_ARTERY, or 0 when it maps to none) and the body side its name
 * states.  Each of the 12 organs has a write-back rule saying which id a
 * completed organ is written with in the scheme's own ids.
 *
 * Schemes are static and never freed: every `const LabelScheme *` stays valid for
 * the life of the process, and all functions here are thread-safe.
 *
 * Detection picks the scheme whose names best match a label table (header
 * extension, table file, segment names) or a bare list of names (mask file
 * names); see docs/label-schemes.md for the scores and thresholds.
 */
#pragma once

#include <glib.h>
#include <stdint.h>
#include "label-table.h"
#include "label-volume.h"

G_BEGIN_DECLS

#define LABEL_SCHEME_ERROR (label_scheme_error_quark ())
GQuark label_scheme_error_quark (void);

typedef enum {
  LABEL_SCHEME_ERROR_UNKNOWN,       /* no scheme of that name */
  LABEL_SCHEME_ERROR_NOT_DETECTED,  /* the names match no scheme well enough */
  LABEL_SCHEME_ERROR_NEEDS_SCHEME,  /* ids beyond 0..12 and no names: the user must say */
  LABEL_SCHEME_ERROR_UNKNOWN_ID,    /* a voxel holds an id the scheme does not define */
} LabelSchemeError;

/* Names of the built-in schemes. */
#define LABEL_SCHEME_BENCHMARK12 "benchmark12"
#define LABEL_SCHEME_TOTALSEG_V1 "totalseg-v1"
#define LABEL_SCHEME_TOTALSEG_V2 "totalseg-v2"
#define LABEL_SCHEME_AMOS15      "amos15"

/* Detection accepts a scheme whose score (see LabelSchemeScore) reaches this. */
#define LABEL_SCHEME_MIN_SCORE 0.75

typedef enum {
  LABEL_SIDE_NONE = 0,  /* the name gives no side (liver, aorta, vertebrae_L1) */
  LABEL_SIDE_LEFT,      /* the name says left: the patient's left */
  LABEL_SIDE_RIGHT,
} LabelSide;

typedef struct {
  int32_t id;           /* >= 1 */
  const char *name;     /* the scheme's own spelling, e.g. "kidney_left" */
  int32_t organ;        /* 12-class id LT_LUNG..LT_PULMONARY_ARTERY, or 0: maps to none */
  LabelSide side;       /* from the name's words "left" / "right" */
  const char *aliases;  /* other names that mean this id, '|'-separated, or NULL */
} LabelSchemeEntry;

typedef enum {
  LABEL_SCHEME_WRITE_SINGLE,   /* one id holds the whole organ: write it with `id` */
  LABEL_SCHEME_WRITE_BY_SIDE,  /* one id per side: `left_id`, `right_id` (split the organ by side first) */
  LABEL_SCHEME_WRITE_NEW_ID,   /* no id holds it (split into parts, or absent): write `id`, a reserved new id */
} LabelSchemeWriteKind;

/* How a completed 12-class organ is written back in a scheme's ids.
 *
 * Reserved ids: an organ that no single id of the scheme holds (kinds BY_SIDE and
 * NEW_ID) gets the reserved id  max_id + organ  (max_id: the scheme's largest id),
 * named "<12-class name> (completed)", e.g. TotalSegmentator v2 lung → 118
 * "lung (completed)", v2 pulmonary artery → 129.  label_scheme_class_of() knows
 * these ids, so a file written that way maps back to the 12 classes. */
typedef struct {
  LabelSchemeWriteKind kind;
  int32_t id;                  /* SINGLE: the scheme's id; BY_SIDE: the reserved id, for voxels
                                * whose side cannot be told; NEW_ID: the reserved id */
  const char *name;            /* name of `id` (the scheme's name, or "... (completed)") */
  int32_t left_id, right_id;   /* BY_SIDE only, else -1 */
  int n_parts;                 /* number of scheme ids mapping to the organ (0: absent) */
} LabelSchemeWriteBack;

typedef struct _LabelScheme LabelScheme;  /* opaque, static */

/* ---- the schemes ---- */

/* The scheme called @name ("benchmark12", "totalseg-v1", "totalseg-v2", "amos15";
 * case and '_'/'-'/' ' do not matter, and TotalSegmentator's dict names "total" and
 * "total_v1" are accepted), or NULL. */
const LabelScheme *label_scheme_get (const char *name);
/* As label_scheme_get, with an error naming the known schemes when there is none. */
const LabelScheme *label_scheme_lookup (const char *name, GError **error);
/* All schemes, in detection-preference order; NULL-terminated, *n_out (may be NULL) gets the count. */
const LabelScheme *const *label_scheme_list (int *n_out);
/* "benchmark12, totalseg-v1, totalseg-v2, amos15" (for messages and --help). */
char *label_scheme_dup_names (void);

const char *label_scheme_get_name (const LabelScheme *s);   /* "totalseg-v2" */
const char *label_scheme_get_title (const LabelScheme *s);  /* one line, for people */
/* Number of ids (background excluded) and the largest id. */
int label_scheme_get_n_entries (const LabelScheme *s);
int32_t label_scheme_get_max_id (const LabelScheme *s);
/* Entry @index (0 .. n_entries-1, sorted by id), or NULL. */
const LabelSchemeEntry *label_scheme_get_entry (const LabelScheme *s, int index);
/* Entry with @id, or NULL (also NULL for 0 and for reserved ids). */
const LabelSchemeEntry *label_scheme_lookup_id (const LabelScheme *s, int32_t id);
/* Id of the entry whose name or alias is @name (normalised: case, '_', '-', ' ', '/',
 * '(' and ')' equivalent), or -1.  "<organ> (completed)" (or "<organ>_completed", its
 * mask file name) gives the reserved id. */
int32_t label_scheme_find_name (const LabelScheme *s, const char *name);

/* 12-class organ of @id: 1..12; 0 for background and for ids that map to none;
 * -1 for ids the scheme does not define.  Reserved ids give their organ. */
int32_t label_scheme_class_of (const LabelScheme *s, int32_t id);
/* Side of @id (LABEL_SIDE_NONE for unknown ids). */
LabelSide label_scheme_side_of (const LabelScheme *s, int32_t id);
/* The scheme's ids that map to @organ (sorted); *n_out gets the count.  Free with g_free. */
int32_t *label_scheme_dup_ids_of_class (const LabelScheme *s, int32_t organ, int *n_out);
/* Whether some id of @s maps to @organ (1..12).  TotalSegmentator v2 labels no pulmonary
 * artery, AMOS no lung, heart or skeleton: an organ a scheme cannot label is not missing
 * from its files, only unlabelled, so it is not completed unless asked for. */
gboolean label_scheme_labels_organ (const LabelScheme *s, int32_t organ);
/* The write-back rule for @organ (1..12), or NULL for other values. */
const LabelSchemeWriteBack *label_scheme_get_write_back (const LabelScheme *s, int32_t organ);

typedef enum {
  LABEL_SCHEME_TABLE_DEFAULT   = 0,
  LABEL_SCHEME_TABLE_COMPLETED = 1 << 0,  /* also name the reserved ids */
} LabelSchemeTableFlags;

/* A label table with the scheme's ids and names (and 0 "background").  Ids of one
 * 12-class organ get that organ's colour of the built-in table in varied shades;
 * ids that map to none get generated colours. */
LabelTable *label_scheme_dup_table (const LabelScheme *s, LabelSchemeTableFlags flags);

/* ---- detection ---- */

/* How well a set of names fits one scheme. */
typedef struct {
  int n_names;        /* names considered (id 0, empty, "background", "label N" and the like skipped) */
  double matched;     /* 1 per name found (0.9 when found as an alias), at its id when ids count */
  int n_wrong_id;     /* names the scheme has, but at another id (ids count only) */
  int n_unknown;      /* names the scheme does not have */
  int n_ids_outside;  /* ids present in the volume, absent from the table, not defined by the scheme */
  double score;       /* matched / (n_names + n_ids_outside), 0 when nothing was considered */
} LabelSchemeScore;

/* Score @table (ids and names) against @s.  @ids_present (may be NULL): the @n_ids
 * label ids that occur in the volume. */
void label_scheme_score_table (const LabelScheme *s, const LabelTable *table,
                               const int32_t *ids_present, int n_ids, LabelSchemeScore *out);
/* Score a bare list of names (ids unknown) against @s.  Names may be file names:
 * folders and the extensions .nii, .nii.gz, .nrrd, .seg.nrrd, .mha, .mhd are dropped.
 * @n_names < 0: @names is NULL-terminated. */
void label_scheme_score_names (const LabelScheme *s, const char *const *names, int n_names,
                               LabelSchemeScore *out);

/* The scheme whose ids and names best match @table (a partial subset and a few
 * unknown names are fine), or NULL with LABEL_SCHEME_ERROR_NOT_DETECTED.  Ties go to
 * the earlier scheme of label_scheme_list().  *score (may be NULL) gets the winner's
 * score.  Use this when the table's ids are the ones in the volume. */
const LabelScheme *label_scheme_detect (const LabelTable *table, const int32_t *ids_present,
                                        int n_ids, double *score, GError **error);
/* The same from names alone (mask files of a folder, segment names whose label
 * values are not the scheme's). */
const LabelScheme *label_scheme_detect_names (const char *const *names, int n_names,
                                              double *score, GError **error);

/* The rule for a volume without any names: ids all in 0..12 → benchmark12; otherwise
 * NULL with LABEL_SCHEME_ERROR_NEEDS_SCHEME, telling the user to pass --scheme NAME
 * (listing the names) or a label table.  @path (may be NULL) names the file in messages. */
const LabelScheme *label_scheme_for_unnamed (const LabelVolume *v, const char *path, GError **error);

/* The scheme for @v: @requested when given (a scheme name, e.g. from --scheme);
 * else detected from @table (may be NULL) with its ids, then from its names alone
 * (*by_names = TRUE: map with label_scheme_map_volume_by_names); else, when @table
 * names nothing (NULL, empty, only "background" or "label N" placeholders), the rule
 * of label_scheme_for_unnamed.  A table whose names fit no scheme (an atlas) fails with
 * LABEL_SCHEME_ERROR_NOT_DETECTED.  @by_names may be NULL. */
const LabelScheme *label_scheme_resolve (const char *requested, const LabelTable *table,
                                         const LabelVolume *v, const char *path,
                                         gboolean *by_names, GError **error);

/* ---- mapping to the 12 classes ---- */

/* A new uint8 volume of @v's geometry holding the 12-class labels of @v's ids.  Ids
 * the scheme does not define (and negative ids) are an error (LABEL_SCHEME_ERROR_UNKNOWN_ID)
 * naming them.  The result has no source header: the input's label extension
 * named the input's ids, which no longer apply. */
LabelVolume *label_scheme_map_volume (const LabelScheme *s, const LabelVolume *v,
                                      const char *path, GError **error);
/* The same where @table says what each id of @v is called: each id maps by its
 * name in @s (names @s lacks map to none); ids of @v missing from @table are an error. */
LabelVolume *label_scheme_map_volume_by_names (const LabelScheme *s, const LabelTable *table,
                                               const LabelVolume *v, const char *path,
                                               GError **error);

G_END_DECLS
