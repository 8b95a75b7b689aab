/* nifti.h: NIfTI-1 / NIfTI-2 label map reader and writer.
 *
 * Reads .nii, .nii.gz, .hdr + .img (each possibly gzipped), both byte orders,
 * datatypes u8 i8 i16 u16 i32 u32 i64 f32 f64 with scl_slope/scl_inter applied.
 * Float data must hold integral values.  Data are decompressed straight into
 * the volume's buffer (zlib streaming), and every header field is validated
 * before anything is allocated.
 */
#pragma once

#include <gio/gio.h>
#include "label-volume.h"
#include "out-file.h"

G_BEGIN_DECLS

#define NIFTI_ERROR (nifti_error_quark ())
GQuark nifti_error_quark (void);

typedef enum {
  NIFTI_ERROR_IO,          /* cannot open, read or write */
  NIFTI_ERROR_FORMAT,      /* not a NIfTI file, bad magic, bad header field */
  NIFTI_ERROR_TRUNCATED,   /* data shorter than declared */
  NIFTI_ERROR_CORRUPT,     /* gzip stream corrupt */
  NIFTI_ERROR_UNSUPPORTED, /* datatype, dimensionality */
  NIFTI_ERROR_NOT_LABELS,  /* non-integral or out-of-range values */
  NIFTI_ERROR_TOO_LARGE,   /* exceeds the voxel limit or memory */
  NIFTI_ERROR_EXISTS,      /* output exists and overwrite was not asked */
} NiftiError;

/* Default maximum voxel count: 1024^3. */
#define NIFTI_DEFAULT_MAX_VOXELS ((int64_t) 1 << 30)

/* A voxel edge outside these lengths (in the file's units, normally mm) is warned about:
 * volumes and distances computed from it are meaningless. */
#define NIFTI_MIN_PLAUSIBLE_VOXEL 1e-4
#define NIFTI_MAX_PLAUSIBLE_VOXEL 1e3

typedef struct {
  int64_t max_voxels;          /* 0: NIFTI_DEFAULT_MAX_VOXELS */
  GCancellable *cancellable;   /* if not NULL, checked while the data are read (every 16 MiB):
                                * a cancelled read fails with G_IO_ERROR_CANCELLED */
  GPtrArray *warnings;         /* if not NULL, receives (char*, freed with g_free) what was
                                * accepted but looks wrong, each naming the file: a singular
                                * sform (the qform or pixdim is used instead), an implausible
                                * voxel size */
} NiftiReadOptions;

/* Read a label map.  @options may be NULL. */
LabelVolume *nifti_read (const char *path, const NiftiReadOptions *options, GError **error);

/* Header-only information (does not read voxel data). */
typedef struct {
  int version;                 /* 1 or 2 (0 for Analyze 7.5 without magic) */
  int64_t dim[8];
  double pixdim[8];
  int datatype;                /* NIfTI datatype code of the file */
  const char *datatype_name;   /* "uint8", "int16", ... */
  gboolean byte_swapped;
  gboolean gzipped;
  gboolean pair;               /* .hdr + .img */
  int qform_code, sform_code;
  double scl_slope, scl_inter;
  int xyzt_units;
  char descrip[81];
  int n_extensions;
} NiftiInfo;

/* Information about the header a volume was read from; FALSE for in-memory volumes. */
gboolean nifti_source_get_info (const NiftiSource *src, NiftiInfo *info);
NiftiSource *nifti_source_dup (const NiftiSource *src);
void nifti_source_free (NiftiSource *src);

/* Header extensions kept from the source file (ecode and raw bytes). */
typedef struct {
  int32_t ecode;
  guint32 size;       /* bytes in data */
  guint8 *data;
} NiftiExtension;
/* Borrowed array of NiftiExtension; NULL when there are none. */
const NiftiExtension *nifti_source_get_extensions (const NiftiSource *src, int *n_out);

typedef enum {
  NIFTI_WRITE_OVERWRITE = 1 << 0, /* replace an existing file */
  NIFTI_WRITE_NIFTI2    = 1 << 1, /* force NIfTI-2 (also chosen when a dim > 32767) */
  NIFTI_WRITE_NIFTI1    = 1 << 2, /* force NIfTI-1 even if the source was NIfTI-2 */
} NiftiWriteFlags;

/* Write @v to @path; the form comes from the extension: .nii, .nii.gz, .hdr,
 * .hdr.gz (with .img / .img.gz beside it).  The source header (units,
 * description, intent, extensions) is kept; datatype follows the storage.
 * The data go to a temporary file in the same folder, are fsynced and renamed
 * into place; without NIFTI_WRITE_OVERWRITE an existing file is an error. */
gboolean nifti_write (const LabelVolume *v, const char *path, NiftiWriteFlags flags, GError **error);
/* The same as one output (two for a pair) of @outputs, a command's OutSet (out-file.h),
 * which checks them against its inputs and other outputs, decides about overwriting
 * (NIFTI_WRITE_OVERWRITE is then ignored) and moves them into place with the others when
 * its owner commits it.  @outputs NULL: nifti_write(). */
gboolean nifti_write_in (OutSet *outputs, const LabelVolume *v, const char *path, NiftiWriteFlags flags,
                         GError **error);

/* Declares the files of the volume @path as inputs of @outputs (out-file.h): the file,
 * and for a .hdr/.img pair both halves (whichever of .hdr, .hdr.gz, .img, .img.gz exist). */
void nifti_add_inputs (OutSet *outputs, const char *path);

/* What nifti_write_full adds to the source header. */
typedef struct {
  /* If not NULL: a label table as Caret XML (lt_table_dup_caret_xml), written as the
   * header extension TotalSegmentator writes (ecode 0).  It replaces the source's first
   * extension that holds a "<LabelTable" (later ones are dropped), else goes first. */
  const char *label_xml;
  gsize label_xml_len;
  /* Without label_xml: drop the source's label table extensions (a mask cut from a
   * multi-label file must not carry the file's names). */
  gboolean drop_label_table;
} NiftiWriteExtras;

/* nifti_write_in with @extras (may be NULL); @outputs NULL: a set of its own, which
 * overwrites with NIFTI_WRITE_OVERWRITE. */
gboolean nifti_write_full (OutSet *outputs, const LabelVolume *v, const char *path, NiftiWriteFlags flags,
                           const NiftiWriteExtras *extras, GError **error);
/* The single-file form (.nii, or .nii.gz when @f was opened with OUT_FILE_GZIP) into @f,
 * which the caller finishes (and whose OutSet commits it): for writers that write several
 * files in parallel.  NIFTI_WRITE_OVERWRITE is the set's. */
gboolean nifti_write_to_out_file (const LabelVolume *v, OutFile *f, NiftiWriteFlags flags,
                                  const NiftiWriteExtras *extras, GError **error);

/* Writes volume @t's slice @k (nx * ny values, x fastest) into @slice. */
typedef void (*NiftiFloatSliceFunc) (int64_t t, int64_t k, float *slice, gpointer data);

/* A float32 NIfTI (.nii or .nii.gz) of @nt volumes (4D when @nt > 1) on @like's grid and
 * geometry, @descrip (at most 79 bytes) in its header, no intent and no extensions; the
 * data come slice by slice from @fill, so memory stays one slice.  Written as one output
 * of @outputs like nifti_write_in. */
gboolean nifti_write_float_in (OutSet *outputs, const LabelVolume *like, int64_t nt, const char *descrip,
                               NiftiFloatSliceFunc fill, gpointer data, const char *path, GError **error);

/* TRUE if @path ends with a supported NIfTI extension. */
gboolean nifti_path_is_supported (const char *path);
/* The path without its NIfTI extension (".nii", ".nii.gz", ".hdr", ".img.gz"...). */
char *nifti_path_stem (const char *path);

G_END_DECLS
