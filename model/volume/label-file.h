/* label-file.h: read or write a label volume by path, whatever its format.
 *
 * Formats: NIfTI-1/-2 and Analyze (.nii, .nii.gz, .hdr/.img, see nifti.h) and NRRD (.nrrd,
 * .seg.nrrd, .nhdr, see nrrd.h).  Reading looks at the file's first bytes (a NRRD magic
 * wins over the extension), so a misnamed file still opens; writing goes by the extension.
 * Errors are those of the format's reader or writer (NIFTI_ERROR, NRRD_ERROR,
 * OUT_FILE_ERROR), plus LABEL_FILE_ERROR for a name no writer knows.
 */
#pragma once

#include <gio/gio.h>
#include "label-volume.h"
#include "label-table.h"

G_BEGIN_DECLS

#define LABEL_FILE_ERROR (label_file_error_quark ())
GQuark label_file_error_quark (void);

typedef enum {
  LABEL_FILE_ERROR_UNKNOWN_FORMAT, /* no reader or writer for this file name */
} LabelFileError;

typedef enum {
  LABEL_FILE_FORMAT_UNKNOWN,
  LABEL_FILE_FORMAT_NIFTI,
  LABEL_FILE_FORMAT_NRRD,        /* .nrrd, .nhdr */
  LABEL_FILE_FORMAT_SEG_NRRD,    /* .seg.nrrd: NRRD with 3D Slicer segment names */
} LabelFileFormat;

/* The format a file name asks for (by extension, any case). */
LabelFileFormat label_file_format_from_path (const char *path);
/* TRUE if some reader handles this file name. */
gboolean label_file_path_is_supported (const char *path);
/* @path without its volume extension (".nii.gz", ".seg.nrrd", ".nhdr", ...). */
char *label_file_path_stem (const char *path);

/* Read a label volume.  @max_voxels 0 means each reader's default.  *@table (may be NULL)
 * receives the names the file itself carries (3D Slicer segments of a NRRD, the XML label
 * table extension of a NIfTI), else NULL; label tables in files beside it are found by
 * lt_table_find_for_volume().  *@warnings (may be NULL) receives sentences for the user,
 * one per line (layers flattened, segments ignored, unreadable names), else NULL. */
LabelVolume *label_file_read (const char *path, int64_t max_voxels, LabelTable **table,
                              char **warnings, GError **error);
/* The same, a NIfTI read also stopping when @cancellable is cancelled
 * (G_IO_ERROR_CANCELLED); its warnings (a singular sform replaced, an absurd voxel
 * size) join *@warnings. */
LabelVolume *label_file_read_cancellable (const char *path, int64_t max_voxels, GCancellable *cancellable,
                                          LabelTable **table, char **warnings, GError **error);

/* Write @v in the format of @path's extension: NIfTI (names are not stored), .nrrd (gzip,
 * no names) or .seg.nrrd (gzip, names and colours from @table, which may be NULL).
 * Without @overwrite an existing file is left alone (label_file_error_is_exists()). */
gboolean label_file_write (const LabelVolume *v, const LabelTable *table, const char *path,
                           gboolean overwrite, GError **error);

/* The same as one output of @outputs, a command's OutSet (out-file.h), which decides about
 * overwriting and moves it into place with the others when its owner commits it. */
gboolean label_file_write_in (OutSet *outputs, const LabelVolume *v, const LabelTable *table, const char *path,
                              GError **error);
/* Declares the files of the volume @path (a NIfTI pair with both halves) as inputs of
 * @outputs. */
void label_file_add_inputs (OutSet *outputs, const char *path);

/* TRUE when @error says the destination existed and was not overwritten. */
gboolean label_file_error_is_exists (const GError *error);

G_END_DECLS
