/* nn-safetensors.h: reading and writing safetensors files.
 *
 * Format: 8-byte little-endian header length N, N bytes of JSON (an object
 * mapping tensor names to {"dtype", "shape", "data_offsets": [begin, end]},
 * plus an optional "__metadata__" object of string values), then the data
 * buffer.  Offsets are relative to the data buffer; the tensors must cover it
 * exactly, without overlaps or holes.  Everything is validated before use:
 * header size (at most NN_ST_MAX_HEADER bytes and within the file), JSON
 * nesting (at most NN_ST_MAX_JSON_DEPTH levels, checked before parsing), JSON types, dtype names, shape products (overflow), offsets within the buffer,
 * byte counts matching dtype x shape.
 */
#pragma once

#include <glib.h>
#include <stdint.h>

G_BEGIN_DECLS

#define NN_ST_ERROR (nn_st_error_quark ())
GQuark nn_st_error_quark (void);

typedef enum {
  NN_ST_ERROR_IO,        /* cannot read or write the file */
  NN_ST_ERROR_FORMAT,    /* malformed header, offsets or JSON */
  NN_ST_ERROR_EXISTS,    /* output exists and overwrite was not asked */
} NnStError;

#define NN_ST_MAX_HEADER ((guint64) 100 * 1024 * 1024)
/* Deepest nesting of arrays and objects allowed in the header JSON (and in JSON held by
 * metadata values): a valid file needs 3 (header, tensor entry, shape); json-glib parses
 * recursively, so a header nested ~50,000 deep would overflow the stack. */
#define NN_ST_MAX_JSON_DEPTH 64
#define NN_ST_MAX_DIMS 8

typedef struct {
  char *name;
  char dtype[8];           /* "F32", "F16", "BF16", "F64", "I64", "I32", "I16", "I8", "U8", "BOOL" */
  int element_size;
  int ndim;
  int64_t shape[NN_ST_MAX_DIMS];
  int64_t n_elements;
  guint64 begin, end;      /* byte range in the data buffer */
} NnStTensor;

typedef struct {
  char *path;              /* for messages */
  GBytes *bytes;           /* the whole file */
  const guint8 *data;      /* the data buffer (after the header) */
  guint64 data_len;
  GHashTable *metadata;    /* char* -> char*, owned */
  GPtrArray *tensors;      /* NnStTensor*, in file order of their offsets */
  GHashTable *by_name;     /* name -> NnStTensor* (borrowed) */
} NnStFile;

NnStFile *nn_st_file_load (const char *path, GError **error);
/* Parse a file already in memory; @name is used in messages. */
NnStFile *nn_st_file_parse (GBytes *bytes, const char *name, GError **error);
void nn_st_file_free (NnStFile *f);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (NnStFile, nn_st_file_free)

const NnStTensor *nn_st_file_lookup (const NnStFile *f, const char *name);
const char *nn_st_file_get_metadata (const NnStFile *f, const char *key);
/* Copy an F32 tensor into @out (n_elements floats, any alignment of the source). */
void nn_st_tensor_copy_f32 (const NnStFile *f, const NnStTensor *t, float *out);

/* One tensor to write: float32 data of the given shape. */
typedef struct {
  const char *name;
  int ndim;
  int64_t shape[NN_ST_MAX_DIMS];
  const float *data;
} NnStEntry;

/* Write F32 tensors with string metadata (keys/values NULL-terminated pair
 * array, may be NULL).  Written to a temporary file and renamed into place. */
gboolean nn_st_save (const char *path, const char *const *metadata_kv,
                     const NnStEntry *entries, int n_entries, gboolean overwrite,
                     GError **error);

G_END_DECLS
