/* nifti-private.h: what the NIfTI files share (nifti.c, nifti-header.c, nifti-read.c,
 * nifti-write.c); not for other modules.
 *
 * NiftiHdr holds every header field we keep, whatever the version; a NiftiSource keeps it,
 * with the header extensions, beside a volume read from a file so that writing the volume
 * keeps the source header.  NiftiStream is an input file read through zlib (plain or gzip).
 */
#pragma once

#include "nifti.h"

#include <stdint.h>
#include <zlib.h>

G_BEGIN_DECLS

/* NIfTI datatype codes. */
enum {
  DT_UINT8 = 2, DT_INT16 = 4, DT_INT32 = 8, DT_FLOAT32 = 16, DT_FLOAT64 = 64,
  DT_INT8 = 256, DT_UINT16 = 512, DT_UINT32 = 768, DT_INT64 = 1024,
};

#define NIFTI1_HDR_SIZE 348
#define NIFTI2_HDR_SIZE 540
#define NIFTI_INTENT_LABEL 1002
#define NIFTI_UNITS_MM 2
#define NIFTI_XFORM_ALIGNED_ANAT 2

/* Every header field we keep, whatever the version. */
typedef struct {
  int version;                    /* 0 Analyze, 1, 2 */
  int64_t dim[8];
  double pixdim[8];
  int datatype, bitpix;
  double intent_p[3];
  int intent_code;
  char intent_name[17];
  int64_t vox_offset;
  double vox_offset_stored;       /* as the file has it (NIfTI-1: a float), for messages */
  double scl_slope, scl_inter, cal_max, cal_min, slice_duration, toffset;
  int64_t slice_start, slice_end;
  int slice_code, xyzt_units, dim_info;
  char descrip[81], aux_file[25];
  int qform_code, sform_code;
  double quatern[3], qoffset[3], srow[3][4];
} NiftiHdr;

struct _NiftiSource {
  NiftiHdr hdr;
  gboolean swapped, gzipped, pair;
  GArray *extensions; /* NiftiExtension, data owned */
};

/* --- nifti.c: datatypes and source objects -------------------------------- */

/* Bytes per element of a supported datatype; 0 for any other code. */
int nifti_datatype_size (int dt);
/* "uint8", "float32"... for every NIfTI code, "unknown" for others. */
const char *nifti_datatype_name (int dt);
/* TRUE when scl_slope/scl_inter change the stored values (a slope of 0 means no scaling). */
gboolean nifti_is_scaled (double slope, double inter);
/* An empty source (no extensions). */
NiftiSource *nifti_source_new (void);

/* --- nifti-read.c: the input stream --------------------------------------- */

typedef struct {
  const char *path;  /* for messages */
  GCancellable *cancellable;  /* checked between chunks of nifti_stream_read (may be NULL) */
  gzFile gz;
  gboolean gzipped;
  int64_t pos;       /* uncompressed position */
  int64_t file_size; /* bytes on disk */
} NiftiStream;

gboolean nifti_stream_open (NiftiStream *s, const char *path, GError **error);
void nifti_stream_close (NiftiStream *s);
/* Reads exactly @n bytes; @what names them in the error ("the header"). */
gboolean nifti_stream_read (NiftiStream *s, void *buf, int64_t n, const char *what, GError **error);
/* The error of a short or failed read of @wanted bytes of which @got arrived: corrupt gzip,
 * I/O error or truncation. */
void nifti_stream_set_error (NiftiStream *s, int64_t wanted, int64_t got, const char *what, GError **error);

/* --- nifti-header.c: parsing, validating, geometry ------------------------ */

typedef struct {
  NiftiHdr hdr;
  gboolean swapped;
  int hdr_size;      /* 348 or 540 */
} NiftiParsedHeader;

/* Reads and parses the header at the start of @s: NIfTI-1, NIfTI-2 or (with
 * @allow_analyze, for .hdr files) Analyze 7.5, either byte order. */
gboolean nifti_hdr_read (NiftiStream *s, gboolean allow_analyze, NiftiParsedHeader *ph, GError **error);
/* Validates every field the reader relies on, before anything is allocated; fills the
 * unused dimensions with 1, drops a non-finite scaling and gives the voxel count. */
gboolean nifti_hdr_validate (const char *path, NiftiHdr *h, int64_t max_voxels, int64_t *n_voxels,
                             GError **error);
/* Reads the extensions that follow the header into @src; they end at @limit (vox_offset
 * for .nii, -1 for a .hdr: the end of the file). */
gboolean nifti_hdr_read_extensions (NiftiStream *s, NiftiSource *src, gboolean swapped, int64_t limit,
                                    GError **error);
/* The voxel-to-world affine of @h: sform, else qform, else nibabel's default from pixdim. */
void nifti_hdr_get_affine (const NiftiHdr *h, double a[4][4]);
/* TRUE when the 3×3 part of @a maps space onto a plane or less (a zero column, or a
 * determinant below 1e-6 of the product of the column lengths). */
gboolean nifti_affine_is_singular (const double a[4][4]);

G_END_DECLS
