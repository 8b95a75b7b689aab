/* nrrd-private.h: what the files of the NRRD reader share (nrrd-source.c, nrrd-header.c,
 * nrrd-data.c, nrrd-segments.c, nrrd-read.c): the limits, the sample types and the header,
 * layout, segment and source records, the canonical name tables, and the functions one file
 * gives the others.  Not installed; nrrd.h is the public interface.
 */
#pragma once

#include "nrrd.h"

#include <stdint.h>

/* --- limits ------------------------------------------------------------------------------ */

#define NRRD_DIM_MAX 16          /* the format's own limit */
#define DEFLATE_MAX_RATIO 1032   /* deflate never expands more than this */
#define IO_CHUNK (256 * 1024)
#define MAX_LINE_SKIP (1 << 24)
#define MAX_ASCII_TOKEN 128
#define MAX_BYTE_SKIP ((int64_t) 1 << 40)

/* --- sample types ------------------------------------------------------------------------ */

typedef enum {
  T_NONE, T_I8, T_U8, T_I16, T_U16, T_I32, T_U32, T_I64, T_U64, T_F32, T_F64, T_BLOCK,
} SampleType;

enum { E_NONE, E_RAW, E_GZIP, E_HEX, E_ASCII };

/* How a space's axes relate to RAS: sign of the x and y rows. */
typedef struct {
  const char *name;
  int dim;        /* space dimension */
  double sx, sy;  /* multiply the x / y rows by these to get RAS */
  const char *canonical;
} SpaceDef;

/* --- header fields ------------------------------------------------------------------------ */

enum {
  F_DIMENSION, F_TYPE, F_SIZES, F_ENCODING, F_ENDIAN, F_SPACE, F_SPACE_DIMENSION,
  F_SPACE_DIRECTIONS, F_SPACE_ORIGIN, F_SPACINGS, F_KINDS, F_DATA_FILE, F_LINE_SKIP,
  F_BYTE_SKIP, F_BLOCK_SIZE, F_IGNORED, N_FIELDS
};

/* One 3D Slicer segment from the Segment<N>_* keys. */
typedef struct {
  int index;                 /* N */
  char *id, *name, *color, *default_color;
  int64_t label, layer;
  gboolean has_label, has_layer, label_bad, layer_bad;
  int32_t out_label;         /* label in the returned volume, 0 when the segment is ignored */
} Segment;

typedef struct {
  const char *path;             /* the header file */
  int version;
  char *field[N_FIELDS];        /* raw values of the fields we use (owned) */
  int field_line[N_FIELDS];
  GHashTable *segments;         /* N -> Segment */
  int64_t data_offset;          /* attached: first byte after the header */
} Header;

/* --- a buffered, bounded reader over a file descriptor ----------------------------------- */

typedef struct {
  int fd;
  char *path;        /* for messages */
  int64_t size;      /* bytes in the file */
  int64_t off;       /* file offset of buf[start] */
  guint8 *buf;
  gsize cap, start, end;
  gboolean eof;
} Src;

/* --- the validated description ------------------------------------------------------------ */

typedef struct {
  int dim;
  int64_t sizes[NRRD_DIM_MAX];
  SampleType type;
  int encoding;
  int endian;                 /* 0 not given, G_LITTLE_ENDIAN or G_BIG_ENDIAN */
  const SpaceDef *space;      /* NULL: none named */
  int layer_axis;             /* -1 for 3D */
  int spatial[3];             /* the file axes that are i, j, k */
  int64_t n_voxels, n_samples, n_layers;
  double affine[4][4];        /* RAS */
  int64_t line_skip, byte_skip;
} Layout;

/* --- samples to labels --------------------------------------------------------------------- */

typedef struct {
  int64_t lo, hi;
  int64_t bad_index;   /* first sample that is not an int32 label, or -1 */
  double bad_value;
} Range;

/* --- canonical names (nrrd-header.c) ------------------------------------------------------ */

extern const char *const nrrd_type_canonical[];    /* SampleType -> its name */
extern const int nrrd_type_bytes[];                /* SampleType -> bytes per sample, 0 for none / block */
extern const char *const nrrd_encoding_canonical[]; /* E_* -> its name */

/* --- the buffered source (nrrd-source.c) ------------------------------------------------- */

/* Opens a regular file (@role, when not NULL, names it in messages: "the data file of ..."). */
gboolean nrrd_src_open (Src *s, const char *path, const char *role, GError **error);
void nrrd_src_close (Src *s);
gsize nrrd_src_avail (const Src *s);
void nrrd_src_consume (Src *s, gsize n);
/* Reads more into the buffer; FALSE with @error on a read error (EOF sets s->eof). */
gboolean nrrd_src_fill (Src *s, GError **error);
int nrrd_src_getline (Src *s, char **line, gsize *len, gsize max, int lineno, GError **error);
/* The bytes read (fewer at the end of the file), or -1 with @error. */
int64_t nrrd_src_read (Src *s, void *dst, int64_t n, GError **error);
gboolean nrrd_src_seek (Src *s, int64_t to, GError **error);
/* The next byte, -1 at the end of the file, -2 with @error. */
int nrrd_src_getc (Src *s, GError **error);

/* --- header and layout (nrrd-header.c) --------------------------------------------------- */

gboolean nrrd_parse_int64 (const char *s, int64_t *out);
gboolean nrrd_parse_double (const char *s, double *out);
char **nrrd_split_words (const char *s);
gboolean nrrd_header_read (Header *h, Src *s, GError **error);
void nrrd_header_clear (Header *h);
gboolean nrrd_layout_from_header (const Header *h, int64_t max_voxels, Layout *L, GError **error);
char *nrrd_data_file_path (const Header *h, GError **error);

/* --- sample data (nrrd-data.c) ----------------------------------------------------------- */

void nrrd_set_truncated (GError **error, const char *what, int64_t got, int64_t want, const char *unit,
                         const char *how);
gboolean nrrd_read_gzip (Src *s, const char *what, int64_t skip, guint8 *dst, int64_t n, int64_t *extra,
                         GError **error);
gboolean nrrd_read_hex (Src *s, const char *what, guint8 *dst, int64_t n, GError **error);
gboolean nrrd_read_ascii (Src *s, const char *what, SampleType t, guint8 *dst, int64_t n, GError **error);
void nrrd_byteswap_samples (guint8 *b, int64_t n, int es);
void nrrd_scan_range (const void *buf, int64_t n, SampleType t, Range *r);
void nrrd_convert_samples (const void *src, SampleType t, void *dst, int bpv, int64_t n);

/* --- segments and layers (nrrd-segments.c) ----------------------------------------------- */

/* Appends a line to @w. */
void nrrd_warn (GString *w, const char *fmt, ...) G_GNUC_PRINTF (2, 3);
gboolean nrrd_assign_segment_labels (const char *path, GHashTable *segments, int64_t n_layers, GPtrArray *list,
                                     GString *warnings);
LabelTable *nrrd_ids_from_segments (const char *path, GPtrArray *list);
LabelTable *nrrd_table_from_segments (const char *path, GPtrArray *list, GString *warnings);
int32_t *nrrd_flatten_layers (const char *path, const Layout *L, const void *samples, int bpv, GHashTable *map,
                              gboolean refuse_overlap, int64_t *n_overlap, GError **error);
