/* label-file.h: read or write a label volume by path, whatever its format.
 *
 * Formats: NIfTI-1/-2 and Analyze (.nii, .nii.gz, .hdr/.img, see nifti.h), NRRD (.nrrd,
 * .seg.nrrd, .nhdr, see nrrd.h) and folders of binary masks (TotalSegmentator's
 * segmentations/, see label-folder.h).  Reading takes a folder as a mask folder, and
 * otherwise looks at the file's first bytes (a NRRD magic wins over the extension), so a
 * misnamed file still opens; writing goes by the extension, and a path that names a folder
 * (label_folder_path_wants_folder: an existing folder, a trailing '/', or a new name
 * without extension) is written as a mask folder.
 * Errors are those of the format's reader or writer (NIFTI_ERROR, NRRD_ERROR,
 * LABEL_FOLDER_ERROR, OUT_FILE_ERROR), plus LABEL_FILE_ERROR for a name no writer knows.
 */
#pragma once

#include <gio/gio.h>
#include "label-volume.h"
#include "label-table.h"
#include "nifti.h"
#include "out-file.h"

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
  LABEL_FILE_FORMAT_FOLDER,      /* a folder of binary masks, <name>.nii.gz */
} LabelFileFormat;

/* The format a file name asks for: a folder when it is one, else by extension (any case),
 * else a folder when label_folder_path_wants_folder(). */
LabelFileFormat label_file_format_from_path (const char *path);
/* TRUE if some reader handles this file name. */
gboolean label_file_path_is_supported (const char *path);
/* @path without its volume extension (".nii.gz", ".seg.nrrd", ".nhdr", ...) and without
 * trailing '/'. */
char *label_file_path_stem (const char *path);

/* Read a label volume.  @max_voxels 0 means each reader's default (for a folder: the cap
 * of each mask).  *@table (may be NULL) receives the names the file itself carries (3D
 * Slicer segments of a NRRD, the XML label table extension of a NIfTI, the mask names of
 * a folder), else NULL; label tables in files beside it are found by
 * lt_table_find_for_volume().  *@warnings (may be NULL) receives sentences for the user,
 * one per line (layers flattened, segments ignored, unreadable names, overlapping
 * masks, a NIfTI's singular sform replaced or implausible voxel size), else NULL. */
LabelVolume *label_file_read (const char *path, int64_t max_voxels, LabelTable **table,
                              char **warnings, GError **error);
/* The same, a NIfTI read (each mask of a folder too) also stopping when @cancellable is
 * cancelled (G_IO_ERROR_CANCELLED). */
LabelVolume *label_file_read_cancellable (const char *path, int64_t max_voxels, GCancellable *cancellable,
                                          LabelTable **table, char **warnings, GError **error);

/* What label_file_read_full finds besides the volume; clear with label_file_read_info_clear. */
typedef struct {
  LabelTable *table;        /* the file's own names, as label_file_read's *table */
  /* 3D Slicer segment IDs (label -> Segment<N>_ID) when they differ from the names, as in
   * files of 3D Slicer's TotalSegmentator extension (IDs are TotalSegmentator's names);
   * else NULL */
  LabelTable *segment_ids;
  char *warnings;           /* as label_file_read's */
} LabelFileReadInfo;

void label_file_read_info_clear (LabelFileReadInfo *info);
/* label_file_read_cancellable with everything it found in @info (may be NULL; cleared on
 * failure). */
LabelVolume *label_file_read_full (const char *path, int64_t max_voxels, GCancellable *cancellable,
                                   LabelFileReadInfo *info, GError **error);

/* Write @v in the format of @path: NIfTI (with @table, its names and colours in the Caret
 * XML extension TotalSegmentator writes, replacing a label extension of the source header;
 * without, the source's extensions as they are), .nrrd (gzip, no names), .seg.nrrd (gzip,
 * names and colours from @table, which may be NULL) or a mask folder (one mask per entry of
 * @table and per label present, see label-folder.h).  Without @overwrite an existing file
 * is left alone (label_file_error_is_exists()). */
gboolean label_file_write (const LabelVolume *v, const LabelTable *table, const char *path,
                           gboolean overwrite, GError **error);

/* The same as one output of @outputs, a command's OutSet (out-file.h), which checks it
 * against the inputs and other outputs, decides about overwriting and moves it into place
 * with the others when its owner commits it.  A mask folder is one output per mask. */
gboolean label_file_write_in (OutSet *outputs, const LabelVolume *v, const LabelTable *table, const char *path,
                              GError **error);

typedef struct {
  gboolean overwrite;            /* label_file_write_full only (an OutSet decides for itself) */
  NiftiWriteFlags nifti_flags;   /* NIFTI_WRITE_NIFTI1 or NIFTI_WRITE_NIFTI2 for a NIfTI */
  /* The file or folder @v came from (may be NULL).  When it is a mask folder and the
   * output is one, the output keeps its masks (label_folder_write's like folder). */
  const char *like_path;
  const LabelVolume *like;       /* the volume read from like_path, or NULL (read again) */
  const LabelTable *segment_ids; /* a .seg.nrrd's Segment<N>_IDs (nrrd_write_full), or NULL */
} LabelFileWriteOptions;

/* label_file_write with options (@options may be NULL). */
gboolean label_file_write_full (const LabelVolume *v, const LabelTable *table, const char *path,
                                const LabelFileWriteOptions *options, GError **error);
/* label_file_write_in with options (@options may be NULL; its overwrite is ignored). */
gboolean label_file_write_full_in (OutSet *outputs, const LabelVolume *v, const LabelTable *table,
                                   const char *path, const LabelFileWriteOptions *options, GError **error);

/* Checks and reserves the output @path in @outputs before the work (out_set_reserve): a
 * NIfTI pair with both halves; for a mask folder, what can be known before its masks are:
 * it is not a file, its parent folder exists, an existing folder holds nothing but masks
 * (label_folder_check_output).  A name no writer knows is a LABEL_FILE_ERROR. */
gboolean label_file_reserve (OutSet *outputs, const char *path, GError **error);

/* Declares the files of the volume @path as inputs of @outputs: a NIfTI pair with both
 * halves, a detached NRRD header with its data file, every mask of a mask folder. */
void label_file_add_inputs (OutSet *outputs, const char *path);

/* TRUE when @error says the destination existed and was not overwritten. */
gboolean label_file_error_is_exists (const GError *error);

G_END_DECLS
