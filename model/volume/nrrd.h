/* nrrd.h: NRRD label map reader and writer, with 3D Slicer segmentation (.seg.nrrd) metadata.
 *
 * Reading (nrrd_read): attached headers (.nrrd, .seg.nrrd) and detached ones (.nhdr whose
 * "data file:" names one file, relative to the header's folder); encodings raw, gzip ("gz"),
 * hex and ascii ("text", "txt"); both byte orders; every integer type, and float/double when
 * all values are integral; "line skip" and "byte skip" (-1 too, raw only).  bzip2, the LIST
 * and numbered multi-file forms of "data file:" and block data are refused with a clear
 * message.  Dimension 3, or dimension 4 with one non-spatial axis (the layers of a 3D Slicer
 * segmentation with overlapping segments: "kinds: list domain domain domain", a "none" space
 * direction), which are flattened into one label map (see NrrdReadInfo).
 *
 * Geometry: the affine is returned in the NIfTI RAS+ convention.  "space directions" are the
 * columns and "space origin" the last column, converted from the file's space: LPS negates
 * the x and y rows, LAS the x row, RAS is kept.  Spaces that name no patient frame
 * (scanner-xyz, 3D-right-handed, 3D-left-handed, "space dimension: 3") and files with only
 * "spacings" are taken as LPS, as ITK and 3D Slicer read them; without "space origin" the
 * origin is 0.  Zero, non-finite, huge (> 1e30) or (nearly) singular directions are errors.
 *
 * 3D Slicer segments (Segment<N>_ID, _Name, _Color, _LabelValue, _Layer, ...) come back as a
 * LabelTable (label value -> name, colour from the 0..1 floats).  Missing keys default as 3D
 * Slicer does: _Layer = N, _LabelValue = 1.  A 3D file keeps its voxel values.  With several
 * layers the label of a voxel is its segment's _LabelValue when the label values of all
 * segments are distinct, else the segments are renumbered 1, 2, ... in the order of N
 * (info->renumbered; the table follows).  Voxels that lie in segments of several layers are
 * flattened: the segment of the highest layer wins, the count goes to
 * info->n_overlap_voxels and a sentence to info->warnings; NRRD_READ_REFUSE_OVERLAP makes
 * it an NRRD_ERROR_OVERLAP error instead.
 *
 * Hostile input: non-regular files (FIFOs, devices) are refused from stat() before being
 * opened; the header is capped at NRRD_MAX_HEADER_BYTES and NRRD_MAX_LINE_BYTES per line,
 * segments at NRRD_MAX_SEGMENTS; the voxel count at max_voxels (like the NIfTI reader); data
 * shorter than the sizes say is detected before allocating where possible (raw, hex) and
 * otherwise when the stream ends; a gzip stream is inflated to its end, CRC and length
 * checked.  Errors are NRRD_ERROR, messages "FILE: problem".
 *
 * Writing (nrrd_write): attached header, gzip (or raw) data, "left-posterior-superior"
 * space with space directions and origin from the affine, native byte order, the compact
 * storage type (uint8, uint16 or int32).  A .seg.nrrd (or NRRD_WRITE_SEGMENTATION) also
 * carries the 3D Slicer segmentation keys for every label present in the volume, with names
 * and colours from @table.  Files go through OutFile (atomic, never overwrites unless asked).
 */
#pragma once

#include <glib.h>
#include <stdint.h>
#include "label-volume.h"
#include "label-table.h"

G_BEGIN_DECLS

#define NRRD_ERROR (nrrd_error_quark ())
GQuark nrrd_error_quark (void);

typedef enum {
  NRRD_ERROR_IO,          /* cannot open or read; not a regular file */
  NRRD_ERROR_FORMAT,      /* not NRRD, bad or missing field, absurd geometry */
  NRRD_ERROR_TRUNCATED,   /* data shorter than the sizes say */
  NRRD_ERROR_CORRUPT,     /* gzip stream corrupt (bad data, CRC or length) */
  NRRD_ERROR_UNSUPPORTED, /* encoding, type, dimension, multi-file data */
  NRRD_ERROR_NOT_LABELS,  /* non-integral or out-of-range values */
  NRRD_ERROR_TOO_LARGE,   /* voxel, header, line or segment limit; out of memory */
  NRRD_ERROR_OVERLAP,     /* layers overlap and NRRD_READ_REFUSE_OVERLAP was given */
} NrrdError;

/* Default maximum voxel count (samples of all layers together): 1024^3, as for NIfTI. */
#define NRRD_DEFAULT_MAX_VOXELS ((int64_t) 1 << 30)
#define NRRD_MAX_HEADER_BYTES (64 << 20)
#define NRRD_MAX_LINE_BYTES (1 << 20)
#define NRRD_MAX_SEGMENTS 65536
#define NRRD_MAX_LAYERS 256

typedef enum {
  NRRD_READ_REFUSE_OVERLAP = 1 << 0, /* overlapping layers are an error, not flattened */
} NrrdReadFlags;

typedef struct {
  int64_t max_voxels;   /* 0: NRRD_DEFAULT_MAX_VOXELS */
  NrrdReadFlags flags;
} NrrdReadOptions;

/* What nrrd_read found besides the volume; clear with nrrd_read_info_clear(). */
typedef struct {
  int version;               /* the N of the NRRD000N magic */
  char type[24];             /* the file's sample type, canonical: "uint8", "int16", "float"... */
  char encoding[8];          /* "raw", "gzip", "hex", "ascii" */
  char space[40];            /* e.g. "left-posterior-superior"; "" when the file has none */
  gboolean detached;         /* the data came from another file ("data file:") */
  int n_layers;              /* 1, or the size of the layer axis of a 4D file */
  int n_segments;            /* 3D Slicer segments described in the header */
  gboolean renumbered;       /* labels are segment ordinals, not the file's label values */
  int64_t n_overlap_voxels;  /* voxels in segments of more than one layer */
  char *warnings;            /* NULL, or sentences for the user, one per line (owned) */
  /* label -> Segment<N>_ID when some segment's ID differs from its name (3D Slicer's
   * TotalSegmentator extension: IDs "kidney_right", names "right kidney"), else NULL (owned) */
  LabelTable *segment_ids;
} NrrdReadInfo;

void nrrd_read_info_clear (NrrdReadInfo *info);

/* Read a label map.  @options, @table and @info may be NULL.  *@table receives the segment
 * names and colours when the header has 3D Slicer segments, else NULL. */
LabelVolume *nrrd_read (const char *path, const NrrdReadOptions *options,
                        LabelTable **table, NrrdReadInfo *info, GError **error);

typedef enum {
  NRRD_WRITE_OVERWRITE    = 1 << 0, /* replace an existing file */
  NRRD_WRITE_RAW          = 1 << 1, /* raw data instead of gzip */
  NRRD_WRITE_SEGMENTATION = 1 << 2, /* 3D Slicer segment keys (implied by a .seg.nrrd path) */
} NrrdWriteFlags;

/* Write @v as an attached-header NRRD (.nrrd or .seg.nrrd).  @table (may be NULL) gives
 * the segment names and colours; labels it lacks get "label N" and a generated colour.
 * An existing file is an OUT_FILE_ERROR_EXISTS error unless NRRD_WRITE_OVERWRITE. */
gboolean nrrd_write (const LabelVolume *v, const LabelTable *table, const char *path,
                     NrrdWriteFlags flags, GError **error);
/* The same as one output of @outputs, a command's OutSet (out-file.h): checked against its
 * inputs and other outputs, moved into place when its owner commits it (the set decides about
 * overwriting: NRRD_WRITE_OVERWRITE is then ignored). */
gboolean nrrd_write_in (OutSet *outputs, const LabelVolume *v, const LabelTable *table, const char *path,
                        NrrdWriteFlags flags, GError **error);
/* nrrd_write_in whose segments take their Segment<N>_ID from @segment_ids (may be NULL) where
 * it names the label, else "Segment_<label>"; @outputs NULL: a set of its own (nrrd_write). */
gboolean nrrd_write_full (OutSet *outputs, const LabelVolume *v, const LabelTable *table,
                          const LabelTable *segment_ids, const char *path, NrrdWriteFlags flags, GError **error);

/* The detached data file that the header @path names ("data file:"), or NULL (an attached
 * header, no header, or one that cannot be read: the reader says why). */
char *nrrd_dup_data_file (const char *path);
/* Declares the files of the NRRD @path as inputs of @outputs (out-file.h): the file, and the
 * data file of a detached header (.nhdr). */
void nrrd_add_inputs (OutSet *outputs, const char *path);

/* TRUE if @path ends with .nrrd or .nhdr (.seg.nrrd included), any case. */
gboolean nrrd_path_is_supported (const char *path);
/* TRUE if the first bytes of a file are a NRRD magic ("NRRD000"). */
gboolean nrrd_magic_matches (const guint8 *head, gsize len);

G_END_DECLS
