/* label-scheme-private.h: the data form of a scheme (label-scheme-*.c) and what the
 * label-scheme files share.  Not installed, not for other modules. */
#pragma once

#include "label-scheme.h"

G_BEGIN_DECLS

/* One id of a scheme as written in the data files: organ 0 maps to none; the side
 * is derived from the name at start-up. */
typedef struct {
  int32_t id;
  const char *name;
  int32_t organ;
  const char *aliases;  /* '|'-separated, may be NULL */
} LabelSchemeRow;

typedef struct {
  const char *name;           /* "totalseg-v2" */
  const char *other_names;    /* '|'-separated names label_scheme_get also accepts, or NULL */
  const char *title;
  const LabelSchemeRow *rows; /* sorted by id, ids unique and >= 1 */
  int n_rows;
} LabelSchemeData;

extern const LabelSchemeData label_scheme_totalseg_v1_data;
extern const LabelSchemeData label_scheme_totalseg_v2_data;
extern const LabelSchemeData label_scheme_amos15_data;

/* The normalised form of a name for matching: case-folded, runs of ' ', '_', '-', '(', ')',
 * '/' and tabs turned into one space, trimmed.  Free with g_free. */
char *label_scheme_name_key (const char *name);

/* Entry index (as for label_scheme_get_entry) of the name key @key in @s, or -1;
 * *is_alias (may be NULL) tells whether an alias matched rather than the name. */
int label_scheme_find_key (const LabelScheme *s, const char *key, gboolean *is_alias);
/* Organ whose reserved id has the name key @key (that of "lung (completed)"), or 0. */
int32_t label_scheme_reserved_organ_of_key (const LabelScheme *s, const char *key);

/* The distinct labels of a volume with their voxel counts. */
typedef struct {
  int32_t id;
  int64_t count;
} LabelSchemeIdCount;
/* Sorted by id; *n_out gets the count.  Free with g_free.  Memory stays small
 * whatever the labels' range (no array indexed by label beyond 65535). */
LabelSchemeIdCount *label_scheme_census (const LabelVolume *v, int *n_out);

G_END_DECLS
