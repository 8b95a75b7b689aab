/* label-table.h: names and colours of labels.
 *
 * Readers: ITK-SNAP label descriptions, 3D Slicer colour tables (.ctbl/.txt),
 * mricron .txt names with .lut colours, and the TotalSegmentator/Caret XML
 * label table stored as a NIfTI header extension.
 */
#pragma once

#include <glib.h>
#include <stdint.h>
#include "label-volume.h"
#include "out-file.h"

G_BEGIN_DECLS

#define LT_ERROR (lt_error_quark ())
GQuark lt_error_quark (void);

typedef enum {
  LT_ERROR_IO,
  LT_ERROR_PARSE,
  LT_ERROR_EMPTY,
} LtError;

typedef struct {
  int32_t id;
  char *name;
  guint8 rgba[4];
} LabelEntry;

typedef struct {
  GArray *entries;   /* LabelEntry, sorted by id, ids unique */
  char *source;      /* file it was read from, or "built-in" */
} LabelTable;

/* The 12-organ scheme of the benchmark (1 lung ... 12 pulmonary artery), 0 = background. */
#define LT_N_ORGANS 12
#define LT_N_CLASSES (LT_N_ORGANS + 1)
enum {
  LT_BACKGROUND = 0, LT_LUNG, LT_HEART, LT_SPLEEN, LT_STOMACH, LT_PANCREAS,
  LT_SPINE, LT_RIB_CAGE, LT_LIVER, LT_KIDNEY, LT_AORTA, LT_AUTOCHTHON,
  LT_PULMONARY_ARTERY
};

/* The one list of the 12-class scheme's names: "background", "lung" ... "pulmonary artery"
 * for 0..LT_N_ORGANS, NULL outside. */
const char *lt_default_class_name (int id);

LabelTable *lt_table_new (const char *source);
LabelTable *lt_table_new_default (void);
void lt_table_free (LabelTable *t);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (LabelTable, lt_table_free)

/* Add or replace an entry (keeps the array sorted). */
void lt_table_set (LabelTable *t, int32_t id, const char *name, const guint8 rgba[4]);
/* Borrowed entry for @id, or NULL. */
const LabelEntry *lt_table_lookup (const LabelTable *t, int32_t id);
/* Name for @id: the table's, else "background" for 0 and "label N" otherwise (written into @buf of @len bytes). */
const char *lt_table_get_name (const LabelTable *t, int32_t id, char *buf, gsize len);
/* Colour for @id: the table's, else a stable, distinct generated colour. */
void lt_table_get_color (const LabelTable *t, int32_t id, guint8 rgba[4]);
/* Id of the entry named @name (case-insensitive; '_', '-' and ' ' equivalent), or -1. */
int32_t lt_table_find_name (const LabelTable *t, const char *name);
/* The normalised form of @name for matching: case-folded, each run of the characters of
 * @separators turned into one space, trimmed.  Free with g_free. */
char *lt_name_key (const char *name, const char *separators);

/* Load a table file, detecting its format from content and extension.  For a mricron
 * .txt, colours come from a .lut with the same stem when present. */
LabelTable *lt_table_load (const char *path, GError **error);
/* Parse the XML label table of a NIfTI extension (TotalSegmentator / Caret). NULL if none. */
LabelTable *lt_table_from_xml (const char *xml, gsize len, const char *source, GError **error);
/* Write a table as an ITK-SNAP label description file (atomic, never overwrites unless asked). */
gboolean lt_table_save_itksnap (const LabelTable *t, const char *path, gboolean overwrite, GError **error);
/* The same as one output of @outputs, a command's OutSet (out-file.h), committed by its owner. */
gboolean lt_table_save_itksnap_in (OutSet *outputs, const LabelTable *t, const char *path, GError **error);

/* The table as the Caret XML that TotalSegmentator writes into a NIfTI header extension
 * (<LabelTable> of <Label Key=.. Red=.. Green=.. Blue=.. Alpha=..> with CDATA names;
 * background omitted), padded with spaces to a length of 8 mod 16.  *len (may be NULL)
 * gets its length.  Free with g_free. */
char *lt_table_dup_caret_xml (const LabelTable *t, gsize *len);

/* The table for a volume read from @volume_path: a table file beside it with the same stem
 * (.txt, .lut, .ctbl, .label, _labels.txt, ...), else an XML extension in the header, else
 * NULL.  *found_path receives the file used (or NULL). */
LabelTable *lt_table_find_for_volume (const char *volume_path, const LabelVolume *v,
                                      char **found_path, GError **error);

G_END_DECLS
