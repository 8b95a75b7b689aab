/* label-folder.h: a folder of binary masks as one multi-label volume, and back.
 *
 * TotalSegmentator's default output is a folder (`segmentations/`) holding one binary
 * mask per class, `<name>.nii.gz`, absent classes as empty masks.  Such a folder reads as
 * one label volume:
 *  - the masks are the folder's regular, non-hidden files ending in .nii, .nii.gz or
 *    .nrrd (any case; not .seg.nrrd, which holds several segments); each mask is a file
 *    whose voxels hold 0 and at most one other value; all masks share one grid and
 *    affine (within float precision);
 *  - the mask names (file names without the extension) choose the scheme
 *    (label_scheme_detect_names); a mask takes its scheme id (`liver` -> 5 in
 *    TotalSegmentator v2, "lung_completed" -> the reserved id of "lung (completed)"), and
 *    names the scheme lacks, or a second name for an id already taken, take new ids past
 *    the scheme's reserved ids (max_id + 12), in name order.  When no scheme fits, the
 *    masks are numbered 1, 2, ... in name order.  The table returned names every mask
 *    (empty ones included) by its file name, so the scheme can be resolved from it;
 *  - overlapping masks: a voxel in several masks takes the one with the highest id (the
 *    result of merging the masks in id order, each overwriting the ones before, as
 *    TotalSegmentator's own merge of a mask folder does); the overlap is counted in a
 *    warning;
 *  - the volume keeps the first mask's header (geometry, units, description).
 *
 * Writing (label_folder_write) makes one `<name>.nii.gz` per label, named by the table
 * (characters other than letters, digits, '.', '-' and '_' become '_'; a name that would
 * collide gets "_<id>" appended), values 0/1 in uint8.  Without a like folder every
 * table entry gets a mask (absent labels an empty one, as TotalSegmentator writes them)
 * and so does every label present without a name ("label_<id>").  With the folder the
 * volume was read from (@like_dir), that folder's masks are written again: byte-identical
 * copies where the volume added nothing to the mask's label, otherwise the mask with the
 * added voxels (same header); labels it has no mask for get new masks.
 *
 * Every mask is one output of an OutSet (out-file.h), the rule of every writer: each
 * destination is checked and opened before anything is written (never an input, such as a
 * mask of the folder read, nor another output; an existing file only with overwrite; never
 * a folder or device), all are written and fsynced as temporaries, and only the set's
 * commit moves them into place, together with the command's other outputs; if one cannot
 * be moved in, those moved before are taken back.  A failure leaves no new file (and no
 * folder we created) behind.  With overwrite, files of the same names are replaced and
 * other masks of the folder are left alone.  An existing folder is written to only when it
 * holds nothing but masks (and hidden files): `complete IN .` does not spray masks into a
 * working folder.
 */
#pragma once

#include <gio/gio.h>
#include "label-volume.h"
#include "label-table.h"
#include "out-file.h"

G_BEGIN_DECLS

#define LABEL_FOLDER_ERROR (label_folder_error_quark ())
GQuark label_folder_error_quark (void);

typedef enum {
  LABEL_FOLDER_ERROR_IO,        /* the folder cannot be listed or created */
  LABEL_FOLDER_ERROR_EMPTY,     /* no mask files in the folder */
  LABEL_FOLDER_ERROR_NOT_MASK,  /* a file holds more than one non-zero value */
  LABEL_FOLDER_ERROR_GEOMETRY,  /* masks on different grids or affines */
  LABEL_FOLDER_ERROR_TOO_MANY,  /* more than LABEL_FOLDER_MAX_MASKS masks */
  LABEL_FOLDER_ERROR_EXISTS,    /* the output exists and is not a folder */
  LABEL_FOLDER_ERROR_NOT_MASK_FOLDER, /* an existing output folder holds other files than masks */
} LabelFolderError;

#define LABEL_FOLDER_MAX_MASKS 65536

/* TRUE when @path is an existing folder. */
gboolean label_folder_path_is_folder (const char *path);
/* TRUE when @path names a folder for writing: an existing folder, a path ending with '/',
 * or a path that does not exist and whose last component has no extension (no '.'). */
gboolean label_folder_path_wants_folder (const char *path);

/* Read the masks of @dir as one volume (see above).  @max_voxels (0: the readers'
 * default) caps each mask.  *@table (may be NULL) gets the masks' names; *@warnings (may
 * be NULL) sentences for the user (overlapping masks), else NULL.  @n_threads masks are
 * read at a time (0: the number of processors). */
LabelVolume *label_folder_read (const char *dir, int64_t max_voxels, int n_threads, LabelTable **table,
                                char **warnings, GError **error);

/* label_folder_read, also stopping (G_IO_ERROR_CANCELLED) when @cancellable is cancelled:
 * between masks, and inside a NIfTI mask's read. */
LabelVolume *label_folder_read_cancellable (const char *dir, int64_t max_voxels, int n_threads,
                                            GCancellable *cancellable, LabelTable **table, char **warnings,
                                            GError **error);

/* Write @v as a mask folder @dir (see above) through a set of its own, which has the masks
 * of @like_dir as inputs.  @like_dir (may be NULL): the folder @v was read from; @like (may
 * be NULL: then it is read again) the volume read from it. */
gboolean label_folder_write (const LabelVolume *v, const LabelTable *table, const char *like_dir,
                             const LabelVolume *like, const char *dir, gboolean overwrite, GError **error);
/* The same as outputs of @outputs (a command's OutSet), moved into place when its owner
 * commits it; a folder created here is removed again unless it does. */
gboolean label_folder_write_in (OutSet *outputs, const LabelVolume *v, const LabelTable *table,
                                const char *like_dir, const LabelVolume *like, const char *dir, GError **error);
/* What can be checked of the output folder @dir before its masks are known: not a file, its
 * parent exists when it does not, an existing one holds nothing but masks (and hidden files;
 * else LABEL_FOLDER_ERROR_NOT_MASK_FOLDER, "unknown output format"). */
gboolean label_folder_check_output (OutSet *outputs, const char *dir, GError **error);
/* Declares every mask of the folder @dir as an input of @outputs. */
void label_folder_add_inputs (OutSet *outputs, const char *dir);

/* The file name (without folder) of the mask of a label called @name: "<name>.nii.gz" with
 * characters other than [A-Za-z0-9._-] as '_' (runs of them as one, none at the ends). */
char *label_folder_mask_file_name (const char *name);

G_END_DECLS
