/* nifti.c: NIfTI-1 / NIfTI-2 / Analyze 7.5 label map reader and writer.
 *
 * Reading: the header is parsed into one version-neutral struct (NiftiHdr),
 * validated, then the voxel data are read (inflated by zlib's streaming gzread
 * when compressed) straight into one buffer of the file's datatype, which is
 * then converted in place to the compact label storage.  Peak memory is one
 * copy of the voxel data in the file's datatype.
 *
 * Writing: header built from the source header when there is one, data written
 * to a temporary file in the destination folder, fsynced, then linked (no
 * overwrite) or renamed (overwrite) into place.
 */
#include "nifti.h"
#include "strutil.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

G_DEFINE_QUARK (nifti-error-quark, nifti_error)

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
/* deflate cannot expand data more than 1032:1; a compressed file of N bytes
 * therefore never holds more than this many bytes per compressed byte. */
#define DEFLATE_MAX_RATIO 1032
#define MAX_EXTENSION_BYTES (64 << 20)

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

/* --- small helpers -------------------------------------------------------- */

typedef struct {
  const guint8 *p;
  gboolean swap;
} HdrBuf;

static void
swap_bytes (void *p, int n)
{
  guint8 *b = p;
  for (int i = 0; i < n / 2; i++)
    {
      guint8 t = b[i];
      b[i] = b[n - 1 - i];
      b[n - 1 - i] = t;
    }
}

#define DEFINE_GETTER(name, type)                          \
  static type name (const HdrBuf *h, int off)              \
  {                                                        \
    type v;                                                \
    memcpy (&v, h->p + off, sizeof v);                     \
    if (h->swap)                                           \
      swap_bytes (&v, sizeof v);                           \
    return v;                                              \
  }
DEFINE_GETTER (get_i16, int16_t)
DEFINE_GETTER (get_i32, int32_t)
DEFINE_GETTER (get_i64, int64_t)
DEFINE_GETTER (get_f32, float)
DEFINE_GETTER (get_f64, double)

static void
get_str (const HdrBuf *h, int off, int len, char *out)
{
  memcpy (out, h->p + off, len);
  out[len] = '\0';
}

static int
datatype_size (int dt)
{
  switch (dt)
    {
    case DT_UINT8: case DT_INT8: return 1;
    case DT_INT16: case DT_UINT16: return 2;
    case DT_INT32: case DT_UINT32: case DT_FLOAT32: return 4;
    case DT_INT64: case DT_FLOAT64: return 8;
    default: return 0;
    }
}

static const char *
datatype_name (int dt)
{
  switch (dt)
    {
    case DT_UINT8: return "uint8";
    case DT_INT8: return "int8";
    case DT_INT16: return "int16";
    case DT_UINT16: return "uint16";
    case DT_INT32: return "int32";
    case DT_UINT32: return "uint32";
    case DT_INT64: return "int64";
    case DT_FLOAT32: return "float32";
    case DT_FLOAT64: return "float64";
    case 1: return "binary";
    case 32: return "complex64";
    case 128: return "rgb24";
    case 1280: return "uint64";
    case 1536: return "float128";
    case 1792: return "complex128";
    case 2048: return "complex256";
    case 2304: return "rgba32";
    default: return "unknown";
    }
}


static const char *const known_suffixes[] = {
  ".nii.gz", ".hdr.gz", ".img.gz", ".nii", ".hdr", ".img",
};

gboolean
nifti_path_is_supported (const char *path)
{
  for (gsize i = 0; i < G_N_ELEMENTS (known_suffixes); i++)
    if (str_has_suffix_ci (path, known_suffixes[i]))
      return TRUE;
  return FALSE;
}

char *
nifti_path_stem (const char *path)
{
  for (gsize i = 0; i < G_N_ELEMENTS (known_suffixes); i++)
    if (str_has_suffix_ci (path, known_suffixes[i]))
      return g_strndup (path, strlen (path) - strlen (known_suffixes[i]));
  return g_strdup (path);
}

/* --- header parsing ------------------------------------------------------- */

/* NIfTI-1 stores vox_offset as a float: one outside int64's range (or NaN) cannot be
 * converted (undefined behaviour, found by fuzzing with UBSan).  Map it to an offset the
 * checks reject: NaN and negatives to -1, huge values to G_MAXINT64 (past the end). */
static int64_t
f32_to_offset (float f)
{
  if (!(f > -1.0f))
    return -1;
  if (f >= 9.2e18f)
    return G_MAXINT64;
  return (int64_t) f;
}

static void
parse_nifti1 (const HdrBuf *h, NiftiHdr *out)
{
  for (int i = 0; i < 8; i++)
    {
      out->dim[i] = get_i16 (h, 40 + 2 * i);
      out->pixdim[i] = get_f32 (h, 76 + 4 * i);
    }
  for (int i = 0; i < 3; i++)
    out->intent_p[i] = get_f32 (h, 56 + 4 * i);
  out->intent_code = get_i16 (h, 68);
  out->datatype = get_i16 (h, 70);
  out->bitpix = get_i16 (h, 72);
  out->slice_start = get_i16 (h, 74);
  out->vox_offset = f32_to_offset (get_f32 (h, 108));
  out->scl_slope = get_f32 (h, 112);
  out->scl_inter = get_f32 (h, 116);
  out->slice_end = get_i16 (h, 120);
  out->slice_code = h->p[122];
  out->xyzt_units = h->p[123];
  out->cal_max = get_f32 (h, 124);
  out->cal_min = get_f32 (h, 128);
  out->slice_duration = get_f32 (h, 132);
  out->toffset = get_f32 (h, 136);
  get_str (h, 148, 80, out->descrip);
  get_str (h, 228, 24, out->aux_file);
  out->dim_info = h->p[39];
  if (out->version == 0)
    return; /* Analyze 7.5: the rest is not NIfTI */
  out->qform_code = get_i16 (h, 252);
  out->sform_code = get_i16 (h, 254);
  for (int i = 0; i < 3; i++)
    {
      out->quatern[i] = get_f32 (h, 256 + 4 * i);
      out->qoffset[i] = get_f32 (h, 268 + 4 * i);
      for (int j = 0; j < 4; j++)
        out->srow[i][j] = get_f32 (h, 280 + 16 * i + 4 * j);
    }
  get_str (h, 328, 16, out->intent_name);
}

static void
parse_nifti2 (const HdrBuf *h, NiftiHdr *out)
{
  out->datatype = get_i16 (h, 12);
  out->bitpix = get_i16 (h, 14);
  for (int i = 0; i < 8; i++)
    {
      out->dim[i] = get_i64 (h, 16 + 8 * i);
      out->pixdim[i] = get_f64 (h, 104 + 8 * i);
    }
  for (int i = 0; i < 3; i++)
    out->intent_p[i] = get_f64 (h, 80 + 8 * i);
  out->vox_offset = get_i64 (h, 168);
  out->scl_slope = get_f64 (h, 176);
  out->scl_inter = get_f64 (h, 184);
  out->cal_max = get_f64 (h, 192);
  out->cal_min = get_f64 (h, 200);
  out->slice_duration = get_f64 (h, 208);
  out->toffset = get_f64 (h, 216);
  out->slice_start = get_i64 (h, 224);
  out->slice_end = get_i64 (h, 232);
  get_str (h, 240, 80, out->descrip);
  get_str (h, 320, 24, out->aux_file);
  out->qform_code = get_i32 (h, 344);
  out->sform_code = get_i32 (h, 348);
  for (int i = 0; i < 3; i++)
    {
      out->quatern[i] = get_f64 (h, 352 + 8 * i);
      out->qoffset[i] = get_f64 (h, 376 + 8 * i);
      for (int j = 0; j < 4; j++)
        out->srow[i][j] = get_f64 (h, 400 + 32 * i + 8 * j);
    }
  out->slice_code = get_i32 (h, 496);
  out->xyzt_units = get_i32 (h, 500);
  out->intent_code = get_i32 (h, 504);
  get_str (h, 508, 16, out->intent_name);
  out->dim_info = h->p[524];
}

/* Quaternion (b,c,d), offsets, pixdim and qfac to a 4x4 affine (NIfTI-1 method 2). */
static void
qform_to_affine (const NiftiHdr *h, double a[4][4])
{
  double b = h->quatern[0], c = h->quatern[1], d = h->quatern[2];
  double w2 = 1.0 - (b * b + c * c + d * d), w;
  if (w2 < 1e-7) /* float32 rounding: treat as a 180 degree rotation */
    {
      double n = sqrt (b * b + c * c + d * d);
      if (n > 0)
        {
          b /= n;
          c /= n;
          d /= n;
        }
      w = 0;
    }
  else
    w = sqrt (w2);
  double r[3][3] = {
    { w * w + b * b - c * c - d * d, 2 * (b * c - w * d), 2 * (b * d + w * c) },
    { 2 * (b * c + w * d), w * w + c * c - b * b - d * d, 2 * (c * d - w * b) },
    { 2 * (b * d - w * c), 2 * (c * d + w * b), w * w + d * d - c * c - b * b },
  };
  double qfac = h->pixdim[0] < 0 ? -1.0 : 1.0;
  double zoom[3];
  for (int i = 0; i < 3; i++)
    zoom[i] = h->pixdim[i + 1] > 0 ? h->pixdim[i + 1] : 1.0;
  zoom[2] *= qfac;
  memset (a, 0, sizeof (double) * 16);
  for (int i = 0; i < 3; i++)
    {
      for (int j = 0; j < 3; j++)
        a[i][j] = r[i][j] * zoom[j];
      a[i][3] = h->qoffset[i];
    }
  a[3][3] = 1;
}

/* The affine nibabel uses when neither qform nor sform is set: x flipped,
 * origin at the centre of the grid. */
static void
base_affine (const NiftiHdr *h, double a[4][4])
{
  memset (a, 0, sizeof (double) * 16);
  for (int i = 0; i < 3; i++)
    {
      double z = h->pixdim[i + 1] != 0 ? fabs (h->pixdim[i + 1]) : 1.0;
      int64_t n = (i + 1 <= h->dim[0]) ? h->dim[i + 1] : 1;
      if (i == 0)
        z = -z;
      a[i][i] = z;
      a[i][3] = -((double) (n - 1) / 2.0) * z;
    }
  a[3][3] = 1;
}

static void
hdr_affine (const NiftiHdr *h, double a[4][4])
{
  if (h->version > 0 && h->sform_code > 0)
    {
      memset (a, 0, sizeof (double) * 16);
      for (int i = 0; i < 3; i++)
        for (int j = 0; j < 4; j++)
          a[i][j] = h->srow[i][j];
      a[3][3] = 1;
    }
  else if (h->version > 0 && h->qform_code > 0)
    qform_to_affine (h, a);
  else
    base_affine (h, a);
}

/* Affine to quaternion + qfac (the inverse of qform_to_affine), for writing. */
static void
affine_to_qform (const double a[4][4], NiftiHdr *h)
{
  double col[3][3], zoom[3];
  for (int j = 0; j < 3; j++)
    {
      double n = 0;
      for (int i = 0; i < 3; i++)
        n += a[i][j] * a[i][j];
      zoom[j] = n > 0 ? sqrt (n) : 1.0;
      for (int i = 0; i < 3; i++)
        col[i][j] = n > 0 ? a[i][j] / zoom[j] : (i == j);
    }
  double det = col[0][0] * (col[1][1] * col[2][2] - col[1][2] * col[2][1])
             - col[0][1] * (col[1][0] * col[2][2] - col[1][2] * col[2][0])
             + col[0][2] * (col[1][0] * col[2][1] - col[1][1] * col[2][0]);
  double qfac = det < 0 ? -1.0 : 1.0;
  for (int i = 0; i < 3; i++)
    col[i][2] *= qfac;
  /* rotation matrix to quaternion, choosing the numerically best branch */
  double tr = col[0][0] + col[1][1] + col[2][2], w, b, c, d;
  if (tr > 0)
    {
      double s = 0.5 / sqrt (tr + 1.0);
      w = 0.25 / s;
      b = (col[2][1] - col[1][2]) * s;
      c = (col[0][2] - col[2][0]) * s;
      d = (col[1][0] - col[0][1]) * s;
    }
  else if (col[0][0] > col[1][1] && col[0][0] > col[2][2])
    {
      double s = 2.0 * sqrt (1.0 + col[0][0] - col[1][1] - col[2][2]);
      w = (col[2][1] - col[1][2]) / s;
      b = 0.25 * s;
      c = (col[0][1] + col[1][0]) / s;
      d = (col[0][2] + col[2][0]) / s;
    }
  else if (col[1][1] > col[2][2])
    {
      double s = 2.0 * sqrt (1.0 + col[1][1] - col[0][0] - col[2][2]);
      w = (col[0][2] - col[2][0]) / s;
      b = (col[0][1] + col[1][0]) / s;
      c = 0.25 * s;
      d = (col[1][2] + col[2][1]) / s;
    }
  else
    {
      double s = 2.0 * sqrt (1.0 + col[2][2] - col[0][0] - col[1][1]);
      w = (col[1][0] - col[0][1]) / s;
      b = (col[0][2] + col[2][0]) / s;
      c = (col[1][2] + col[2][1]) / s;
      d = 0.25 * s;
    }
  if (w < 0)
    {
      b = -b;
      c = -c;
      d = -d;
    }
  h->quatern[0] = b;
  h->quatern[1] = c;
  h->quatern[2] = d;
  for (int i = 0; i < 3; i++)
    {
      h->qoffset[i] = a[i][3];
      h->pixdim[i + 1] = zoom[i];
    }
  h->pixdim[0] = qfac;
}

/* --- source objects ------------------------------------------------------- */

static void
clear_extension (gpointer p)
{
  g_free (((NiftiExtension *) p)->data);
}

static NiftiSource *
source_new (void)
{
  NiftiSource *s = g_new0 (NiftiSource, 1);
  s->extensions = g_array_new (FALSE, TRUE, sizeof (NiftiExtension));
  g_array_set_clear_func (s->extensions, clear_extension);
  return s;
}

void
nifti_source_free (NiftiSource *src)
{
  if (src == NULL)
    return;
  g_array_unref (src->extensions);
  g_free (src);
}

NiftiSource *
nifti_source_dup (const NiftiSource *src)
{
  NiftiSource *s = source_new ();
  s->hdr = src->hdr;
  s->swapped = src->swapped;
  s->gzipped = src->gzipped;
  s->pair = src->pair;
  for (guint i = 0; i < src->extensions->len; i++)
    {
      NiftiExtension e = g_array_index (src->extensions, NiftiExtension, i);
      e.data = g_memdup2 (e.data, e.size);
      g_array_append_val (s->extensions, e);
    }
  return s;
}

gboolean
nifti_source_get_info (const NiftiSource *src, NiftiInfo *info)
{
  memset (info, 0, sizeof *info);
  if (src == NULL)
    return FALSE;
  const NiftiHdr *h = &src->hdr;
  info->version = h->version;
  memcpy (info->dim, h->dim, sizeof info->dim);
  memcpy (info->pixdim, h->pixdim, sizeof info->pixdim);
  info->datatype = h->datatype;
  info->datatype_name = datatype_name (h->datatype);
  info->byte_swapped = src->swapped;
  info->gzipped = src->gzipped;
  info->pair = src->pair;
  info->qform_code = h->qform_code;
  info->sform_code = h->sform_code;
  info->scl_slope = h->scl_slope;
  info->scl_inter = h->scl_inter;
  info->xyzt_units = h->xyzt_units;
  g_strlcpy (info->descrip, h->descrip, sizeof info->descrip);
  info->n_extensions = (int) src->extensions->len;
  return TRUE;
}

const NiftiExtension *
nifti_source_get_extensions (const NiftiSource *src, int *n_out)
{
  *n_out = src ? (int) src->extensions->len : 0;
  return (src && src->extensions->len) ? (const NiftiExtension *) src->extensions->data : NULL;
}

/* --- reading -------------------------------------------------------------- */

typedef struct {
  const char *path;  /* for messages */
  gzFile gz;
  gboolean gzipped;
  int64_t pos;       /* uncompressed position */
  int64_t file_size; /* bytes on disk */
} Stream;

static gboolean
stream_open (Stream *s, const char *path, GError **error)
{
  struct stat st;
  int fd = open (path, O_RDONLY | O_CLOEXEC);

  memset (s, 0, sizeof *s);
  s->path = path;
  if (fd < 0)
    {
      int err = errno;
      g_set_error (error, NIFTI_ERROR, NIFTI_ERROR_IO, "%s: cannot open: %s", path, g_strerror (err));
      return FALSE;
    }
  if (fstat (fd, &st) != 0 || !S_ISREG (st.st_mode))
    {
      close (fd);
      g_set_error (error, NIFTI_ERROR, NIFTI_ERROR_IO, "%s: not a regular file", path);
      return FALSE;
    }
  s->file_size = st.st_size;
  s->gz = gzdopen (fd, "rb");
  if (s->gz == NULL)
    {
      close (fd);
      g_set_error (error, NIFTI_ERROR, NIFTI_ERROR_IO, "%s: cannot open: out of memory", path);
      return FALSE;
    }
  gzbuffer (s->gz, 256 * 1024);
  s->gzipped = !gzdirect (s->gz);
  return TRUE;
}

static void
stream_close (Stream *s)
{
  if (s->gz)
    gzclose (s->gz);
  s->gz = NULL;
}

static void
set_stream_error (Stream *s, int64_t wanted, int64_t got, const char *what, GError **error)
{
  int errnum = Z_OK;
  const char *msg = gzerror (s->gz, &errnum);

  if (errnum == Z_DATA_ERROR || errnum == Z_STREAM_ERROR || errnum == Z_MEM_ERROR)
    g_set_error (error, NIFTI_ERROR, NIFTI_ERROR_CORRUPT,
                 "%s: gzip stream is corrupt while reading %s (%s)", s->path, what, msg);
  else if (errnum == Z_ERRNO)
    g_set_error (error, NIFTI_ERROR, NIFTI_ERROR_IO, "%s: read error in %s: %s",
                 s->path, what, g_strerror (errno));
  else
    g_set_error (error, NIFTI_ERROR, NIFTI_ERROR_TRUNCATED,
                 "%s: file is truncated: %s needs %" G_GINT64_FORMAT " bytes, only %" G_GINT64_FORMAT
                 " available%s", s->path, what, wanted, got,
                 s->gzipped ? " (gzip stream ends early)" : "");
}

/* Read exactly n bytes. */
static gboolean
stream_read (Stream *s, void *buf, int64_t n, const char *what, GError **error)
{
  int64_t done = 0;
  while (done < n)
    {
      unsigned chunk = (unsigned) MIN (n - done, (int64_t) 1 << 30);
      int r = gzread (s->gz, (char *) buf + done, chunk);
      if (r <= 0)
        {
          set_stream_error (s, n, done, what, error);
          return FALSE;
        }
      done += r;
    }
  s->pos += n;
  return TRUE;
}

static gboolean
stream_skip_to (Stream *s, int64_t offset, GError **error)
{
  char buf[4096];
  while (s->pos < offset)
    {
      int64_t n = MIN (offset - s->pos, (int64_t) sizeof buf);
      if (!stream_read (s, buf, n, "the gap before the voxel data", error))
        return FALSE;
    }
  return TRUE;
}

typedef struct {
  NiftiHdr hdr;
  gboolean swapped;
  int hdr_size;
} ParsedHeader;

static gboolean
read_header (Stream *s, gboolean allow_analyze, ParsedHeader *ph, GError **error)
{
  guint8 raw[NIFTI2_HDR_SIZE];
  HdrBuf hb = { raw, FALSE };
  int32_t size;

  memset (ph, 0, sizeof *ph);
  if (!stream_read (s, raw, 4, "the header", error))
    return FALSE;
  memcpy (&size, raw, 4);
  if (size != NIFTI1_HDR_SIZE && size != NIFTI2_HDR_SIZE)
    {
      swap_bytes (&size, 4);
      hb.swap = TRUE;
    }
  if (size != NIFTI1_HDR_SIZE && size != NIFTI2_HDR_SIZE)
    {
      g_set_error (error, NIFTI_ERROR, NIFTI_ERROR_FORMAT,
                   "%s: not a NIfTI or Analyze file (header size field is neither 348 nor 540)", s->path);
      return FALSE;
    }
  if (!stream_read (s, raw + 4, size - 4, "the header", error))
    return FALSE;
  ph->swapped = hb.swap;
  ph->hdr_size = size;

  if (size == NIFTI2_HDR_SIZE)
    {
      if (memcmp (raw + 4, "n+2\0\r\n\032\n", 8) != 0 && memcmp (raw + 4, "ni2\0\r\n\032\n", 8) != 0)
        {
          g_set_error (error, NIFTI_ERROR, NIFTI_ERROR_FORMAT,
                       "%s: bad NIfTI-2 magic (expected \"n+2\" or \"ni2\" followed by \\r\\n\\032\\n)", s->path);
          return FALSE;
        }
      ph->hdr.version = 2;
      parse_nifti2 (&hb, &ph->hdr);
    }
  else
    {
      if (memcmp (raw + 344, "n+1\0", 4) == 0 || memcmp (raw + 344, "ni1\0", 4) == 0)
        ph->hdr.version = 1;
      else if (allow_analyze && raw[344] == 0 && raw[345] == 0 && raw[346] == 0 && raw[347] == 0)
        ph->hdr.version = 0;
      else
        {
          g_set_error (error, NIFTI_ERROR, NIFTI_ERROR_FORMAT,
                       "%s: bad NIfTI-1 magic (expected \"n+1\" or \"ni1\")", s->path);
          return FALSE;
        }
      parse_nifti1 (&hb, &ph->hdr);
    }
  return TRUE;
}

/* Validate every field we rely on before allocating anything; computes the voxel count. */
static gboolean
validate_header (const char *path, NiftiHdr *h, int64_t max_voxels, int64_t *n_voxels, GError **error)
{
  int ndim = (int) h->dim[0];
  if (ndim < 1 || ndim > 7)
    {
      g_set_error (error, NIFTI_ERROR, NIFTI_ERROR_FORMAT,
                   "%s: invalid number of dimensions dim[0] = %" G_GINT64_FORMAT " (must be 1 to 7)",
                   path, h->dim[0]);
      return FALSE;
    }
  for (int i = 1; i <= ndim; i++)
    if (h->dim[i] < 1)
      {
        g_set_error (error, NIFTI_ERROR, NIFTI_ERROR_FORMAT,
                     "%s: invalid size dim[%d] = %" G_GINT64_FORMAT " (must be at least 1)", path, i, h->dim[i]);
        return FALSE;
      }
  for (int i = ndim + 1; i <= 7; i++)
    h->dim[i] = 1;
  for (int i = 4; i <= ndim; i++)
    if (h->dim[i] != 1)
      {
        g_set_error (error, NIFTI_ERROR, NIFTI_ERROR_UNSUPPORTED,
                     "%s: a label map must be 3D, but dimension %d has %" G_GINT64_FORMAT
                     " entries (%" G_GINT64_FORMAT "x%" G_GINT64_FORMAT "x%" G_GINT64_FORMAT "x%" G_GINT64_FORMAT ")",
                     path, i, h->dim[i], h->dim[1], h->dim[2], h->dim[3], h->dim[4]);
        return FALSE;
      }
  int64_t n = 1;
  for (int i = 1; i <= 3; i++)
    if (__builtin_mul_overflow (n, h->dim[i], &n))
      {
        g_set_error (error, NIFTI_ERROR, NIFTI_ERROR_TOO_LARGE,
                     "%s: dimensions %" G_GINT64_FORMAT "x%" G_GINT64_FORMAT "x%" G_GINT64_FORMAT
                     " overflow a 64-bit voxel count", path, h->dim[1], h->dim[2], h->dim[3]);
        return FALSE;
      }
  if (n > max_voxels)
    {
      int es = MAX (datatype_size (h->datatype), 1);
      g_set_error (error, NIFTI_ERROR, NIFTI_ERROR_TOO_LARGE,
                   "%s: %" G_GINT64_FORMAT "x%" G_GINT64_FORMAT "x%" G_GINT64_FORMAT " = %" G_GINT64_FORMAT
                   " voxels (%.0f MiB of %s data) exceeds the limit of %" G_GINT64_FORMAT " voxels", path,
                   h->dim[1], h->dim[2], h->dim[3], n, (double) n * es / 1048576.0,
                   datatype_name (h->datatype), max_voxels);
      return FALSE;
    }
  int es = datatype_size (h->datatype);
  if (es == 0)
    {
      g_set_error (error, NIFTI_ERROR, NIFTI_ERROR_UNSUPPORTED,
                   "%s: datatype %d (%s) cannot hold labels (supported: uint8, int8, int16, uint16, int32, "
                   "uint32, int64, float32, float64)", path, h->datatype, datatype_name (h->datatype));
      return FALSE;
    }
  int64_t bytes;
  if (__builtin_mul_overflow (n, (int64_t) es, &bytes) || (uint64_t) bytes > G_MAXSIZE / 2)
    {
      g_set_error (error, NIFTI_ERROR, NIFTI_ERROR_TOO_LARGE, "%s: voxel data size overflows", path);
      return FALSE;
    }
  if (h->vox_offset < 0)
    {
      g_set_error (error, NIFTI_ERROR, NIFTI_ERROR_FORMAT,
                   "%s: negative vox_offset %" G_GINT64_FORMAT, path, h->vox_offset);
      return FALSE;
    }
  if (!isfinite (h->scl_slope) || !isfinite (h->scl_inter))
    {
      /* NIfTI: a non-finite slope means no scaling */
      h->scl_slope = 0;
      h->scl_inter = 0;
    }
  for (int i = 1; i <= 3; i++)
    if (!isfinite (h->pixdim[i]))
      {
        g_set_error (error, NIFTI_ERROR, NIFTI_ERROR_FORMAT, "%s: pixdim[%d] is not a finite number", path, i);
        return FALSE;
      }
  *n_voxels = n;
  return TRUE;
}

/* Extensions follow the header when the 4-byte extender's first byte is set.
 * They end at @limit (vox_offset for .nii, end of file for .hdr; -1: unknown). */
static gboolean
read_extensions (Stream *s, NiftiSource *src, gboolean swapped, int64_t limit, GError **error)
{
  guint8 ext[4];
  if (limit >= 0 && s->pos + 4 > limit)
    return TRUE; /* no room for an extender */
  int r = gzread (s->gz, ext, 4);
  if (r == 0 && limit < 0)
    return TRUE; /* .hdr without extender */
  if (r != 4)
    {
      set_stream_error (s, 4, MAX (r, 0), "the extension flag", error);
      return FALSE;
    }
  s->pos += 4;
  if (ext[0] == 0)
    return TRUE;
  int64_t total = 0;
  for (;;)
    {
      guint8 eh[8];
      HdrBuf hb = { eh, swapped };
      if (limit >= 0 && s->pos + 8 > limit)
        break;
      if (limit < 0)
        {
          r = gzread (s->gz, eh, 8);
          if (r == 0)
            break;
          if (r != 8)
            {
              set_stream_error (s, 8, MAX (r, 0), "an extension header", error);
              return FALSE;
            }
          s->pos += 8;
        }
      else if (!stream_read (s, eh, 8, "an extension header", error))
        return FALSE;
      int32_t esize = get_i32 (&hb, 0), ecode = get_i32 (&hb, 4);
      if (esize < 8 || (limit >= 0 && s->pos - 8 + esize > limit)
          || (!s->gzipped && s->pos - 8 + esize > s->file_size))
        {
          g_set_error (error, NIFTI_ERROR, NIFTI_ERROR_FORMAT,
                       "%s: header extension at byte %" G_GINT64_FORMAT " has invalid size %d",
                       s->path, s->pos - 8, esize);
          return FALSE;
        }
      total += esize;
      if (total > MAX_EXTENSION_BYTES)
        {
          g_set_error (error, NIFTI_ERROR, NIFTI_ERROR_TOO_LARGE,
                       "%s: header extensions exceed %d MiB", s->path, MAX_EXTENSION_BYTES >> 20);
          return FALSE;
        }
      NiftiExtension e = { ecode, (guint32) (esize - 8), g_malloc (esize - 8 + 1) };
      if (!stream_read (s, e.data, esize - 8, "a header extension", error))
        {
          g_free (e.data);
          return FALSE;
        }
      e.data[e.size] = 0; /* convenient for text extensions; not counted in size */
      g_array_append_val (src->extensions, e);
    }
  return TRUE;
}

/* Minimum/maximum of the scaled values, checking they are integral labels. */
#define SCAN_LOOP(ctype, conv)                                                       \
  do                                                                                 \
    {                                                                                \
      const ctype *d = buf;                                                          \
      for (int64_t i = 0; i < n; i++)                                                \
        {                                                                            \
          ctype raw = d[i];                                                          \
          conv;                                                                      \
        }                                                                            \
    }                                                                                \
  while (0)

typedef struct {
  double lo, hi;
  int64_t bad_index;    /* first non-integral or out-of-range voxel, or -1 */
  double bad_value;
} ScanResult;

static void
scan_values (const void *buf, int64_t n, int dt, double slope, double inter, ScanResult *res)
{
  gboolean scaled = slope != 0 && !(slope == 1 && inter == 0);
  double lo = INFINITY, hi = -INFINITY;
  res->bad_index = -1;

  if (!scaled && (dt == DT_UINT8 || dt == DT_INT8 || dt == DT_INT16 || dt == DT_UINT16
                  || dt == DT_INT32 || dt == DT_UINT32))
    {
      /* integer data without scaling: only the range matters */
      int64_t ilo = INT64_MAX, ihi = INT64_MIN;
#define RANGE(ctype) SCAN_LOOP (ctype, { ilo = raw < ilo ? raw : ilo; ihi = raw > ihi ? raw : ihi; })
      switch (dt)
        {
        case DT_UINT8: RANGE (uint8_t); break;
        case DT_INT8: RANGE (int8_t); break;
        case DT_INT16: RANGE (int16_t); break;
        case DT_UINT16: RANGE (uint16_t); break;
        case DT_INT32: RANGE (int32_t); break;
        case DT_UINT32: RANGE (uint32_t); break;
        }
#undef RANGE
      if (ihi > G_MAXINT32)
        {
          /* only uint32 data can exceed the int32 label range (found by fuzzing: such a
           * value was then converted to int32, which is undefined) */
          const uint32_t *d = buf;
          for (int64_t i = 0; i < n; i++)
            if (d[i] > (uint32_t) G_MAXINT32)
              {
                res->bad_index = i;
                res->bad_value = d[i];
                return;
              }
        }
      res->lo = (double) ilo;
      res->hi = (double) ihi;
      return;
    }

#define CHECK(ctype)                                                                   \
  SCAN_LOOP (ctype, {                                                                  \
    double x = scaled ? (double) raw * slope + inter : (double) raw;                   \
    if (!(x == floor (x)) || x < G_MININT32 || x > G_MAXINT32) /* NaN fails too */   \
      {                                                                                \
        res->bad_index = i;                                                            \
        res->bad_value = x;                                                            \
        return;                                                                        \
      }                                                                                \
    lo = x < lo ? x : lo;                                                              \
    hi = x > hi ? x : hi;                                                              \
  })
  switch (dt)
    {
    case DT_UINT8: CHECK (uint8_t); break;
    case DT_INT8: CHECK (int8_t); break;
    case DT_INT16: CHECK (int16_t); break;
    case DT_UINT16: CHECK (uint16_t); break;
    case DT_INT32: CHECK (int32_t); break;
    case DT_UINT32: CHECK (uint32_t); break;
    case DT_INT64: CHECK (int64_t); break;
    case DT_FLOAT32: CHECK (float); break;
    case DT_FLOAT64: CHECK (double); break;
    }
#undef CHECK
  res->lo = lo;
  res->hi = hi;
}

/* Convert n values of datatype dt in src to labels in dst (storage bpv bytes).
 * dst may alias src when bpv <= element size: each output element is written at or
 * before the input element it comes from, and after that input has been read. */
static void
convert_values (const void *src, void *dst, int64_t n, int dt, double slope, double inter, int bpv)
{
  gboolean scaled = slope != 0 && !(slope == 1 && inter == 0);
#define STORE(ctype)                                                                   \
  do                                                                                   \
    {                                                                                  \
      const ctype *s = src;                                                            \
      switch (bpv)                                                                     \
        {                                                                              \
        case 1:                                                                        \
          for (int64_t i = 0; i < n; i++)                                              \
            ((uint8_t *) dst)[i] = (uint8_t) (scaled ? s[i] * slope + inter : s[i]);   \
          break;                                                                       \
        case 2:                                                                        \
          for (int64_t i = 0; i < n; i++)                                              \
            ((uint16_t *) dst)[i] = (uint16_t) (scaled ? s[i] * slope + inter : s[i]); \
          break;                                                                       \
        default:                                                                       \
          for (int64_t i = 0; i < n; i++)                                              \
            ((int32_t *) dst)[i] = (int32_t) (scaled ? s[i] * slope + inter : s[i]);   \
          break;                                                                       \
        }                                                                              \
    }                                                                                  \
  while (0)
  switch (dt)
    {
    case DT_UINT8: STORE (uint8_t); break;
    case DT_INT8: STORE (int8_t); break;
    case DT_INT16: STORE (int16_t); break;
    case DT_UINT16: STORE (uint16_t); break;
    case DT_INT32: STORE (int32_t); break;
    case DT_UINT32: STORE (uint32_t); break;
    case DT_INT64: STORE (int64_t); break;
    case DT_FLOAT32: STORE (float); break;
    case DT_FLOAT64: STORE (double); break;
    }
#undef STORE
}

static void
byteswap_buffer (void *buf, int64_t n, int es)
{
  guint8 *b = buf;
  if (es == 2)
    for (int64_t i = 0; i < n; i++)
      {
        guint16 v;
        memcpy (&v, b + 2 * i, 2);
        v = GUINT16_SWAP_LE_BE (v);
        memcpy (b + 2 * i, &v, 2);
      }
  else if (es == 4)
    for (int64_t i = 0; i < n; i++)
      {
        guint32 v;
        memcpy (&v, b + 4 * i, 4);
        v = GUINT32_SWAP_LE_BE (v);
        memcpy (b + 4 * i, &v, 4);
      }
  else if (es == 8)
    for (int64_t i = 0; i < n; i++)
      {
        guint64 v;
        memcpy (&v, b + 8 * i, 8);
        v = GUINT64_SWAP_LE_BE (v);
        memcpy (b + 8 * i, &v, 8);
      }
}

/* For a header or image path, find the partner file of a .hdr/.img pair. */
static char *
find_partner (const char *path, const char *want_ext)
{
  g_autofree char *stem = nifti_path_stem (path);
  const char *cands[2] = { "", ".gz" };
  for (int i = 0; i < 2; i++)
    {
      char *p = g_strconcat (stem, want_ext, cands[i], NULL);
      if (g_file_test (p, G_FILE_TEST_EXISTS))
        return p;
      g_free (p);
      /* upper-case extension, as some scanners write */
      g_autofree char *up = g_ascii_strup (want_ext, -1);
      p = g_strconcat (stem, up, cands[i], NULL);
      if (g_file_test (p, G_FILE_TEST_EXISTS))
        return p;
      g_free (p);
    }
  return NULL;
}

LabelVolume *
nifti_read (const char *path, const NiftiReadOptions *options, GError **error)
{
  int64_t max_voxels = (options && options->max_voxels > 0) ? options->max_voxels : NIFTI_DEFAULT_MAX_VOXELS;
  g_autofree char *hdr_path = NULL, *img_path = NULL;
  Stream hs = { 0 }, is = { 0 };
  Stream *ds;
  ParsedHeader ph;
  NiftiSource *src = NULL;
  LabelVolume *v = NULL;
  void *buf = NULL;
  int64_t n = 0;
  gboolean pair;

  if (str_has_suffix_ci (path, ".hdr") || str_has_suffix_ci (path, ".hdr.gz"))
    {
      hdr_path = g_strdup (path);
      img_path = find_partner (path, ".img");
      pair = TRUE;
    }
  else if (str_has_suffix_ci (path, ".img") || str_has_suffix_ci (path, ".img.gz"))
    {
      hdr_path = find_partner (path, ".hdr");
      img_path = g_strdup (path);
      pair = TRUE;
      if (hdr_path == NULL)
        {
          g_set_error (error, NIFTI_ERROR, NIFTI_ERROR_IO,
                       "%s: no .hdr header file found beside this image file", path);
          return NULL;
        }
    }
  else
    {
      hdr_path = g_strdup (path);
      pair = FALSE;
    }

  if (!stream_open (&hs, hdr_path, error))
    return NULL;
  if (!read_header (&hs, pair, &ph, error))
    goto out;
  if (!validate_header (hdr_path, &ph.hdr, max_voxels, &n, error))
    goto out;

  src = source_new ();
  src->hdr = ph.hdr;
  src->swapped = ph.swapped;
  src->pair = pair;
  src->gzipped = hs.gzipped;

  int es = datatype_size (ph.hdr.datatype);
  int64_t bytes = n * es;
  if (pair)
    {
      if (!read_extensions (&hs, src, ph.swapped, -1, error))
        goto out;
      stream_close (&hs);
      if (img_path == NULL)
        {
          g_set_error (error, NIFTI_ERROR, NIFTI_ERROR_IO,
                       "%s: the image file (.img or .img.gz) of this header is missing", hdr_path);
          goto out;
        }
      if (!stream_open (&is, img_path, error))
        goto out;
      src->gzipped = is.gzipped;
      ds = &is;
    }
  else
    {
      int64_t min_offset = ph.hdr_size;
      if (ph.hdr.vox_offset < min_offset)
        {
          g_set_error (error, NIFTI_ERROR, NIFTI_ERROR_FORMAT,
                       "%s: vox_offset %" G_GINT64_FORMAT " lies inside the %d-byte header", path,
                       ph.hdr.vox_offset, ph.hdr_size);
          goto out;
        }
      if (!read_extensions (&hs, src, ph.swapped, ph.hdr.vox_offset, error))
        goto out;
      ds = &hs;
    }

  /* Lying sizes are caught before allocating: a plain file must hold all the data,
   * and a gzip stream cannot inflate to more than DEFLATE_MAX_RATIO times its size. */
  int64_t offset = ph.hdr.vox_offset;
  int64_t have = ds->file_size - (ds->gzipped ? 0 : offset);
  if (!ds->gzipped && offset > ds->file_size)
    {
      g_set_error (error, NIFTI_ERROR, NIFTI_ERROR_TRUNCATED,
                   "%s: vox_offset %" G_GINT64_FORMAT " is past the end of the %" G_GINT64_FORMAT "-byte file",
                   ds->path, offset, ds->file_size);
      goto out;
    }
  if (!ds->gzipped && have < bytes)
    {
      g_set_error (error, NIFTI_ERROR, NIFTI_ERROR_TRUNCATED,
                   "%s: file is truncated: %" G_GINT64_FORMAT "x%" G_GINT64_FORMAT "x%" G_GINT64_FORMAT
                   " %s voxels need %" G_GINT64_FORMAT " bytes after offset %" G_GINT64_FORMAT ", the file has %"
                   G_GINT64_FORMAT, ds->path, ph.hdr.dim[1], ph.hdr.dim[2], ph.hdr.dim[3],
                   datatype_name (ph.hdr.datatype), bytes, offset, have);
      goto out;
    }
  if (ds->gzipped && bytes / DEFLATE_MAX_RATIO > ds->file_size + 1024)
    {
      g_set_error (error, NIFTI_ERROR, NIFTI_ERROR_TRUNCATED,
                   "%s: declares %" G_GINT64_FORMAT " bytes of voxel data, but a %" G_GINT64_FORMAT
                   "-byte gzip file cannot hold more than %" G_GINT64_FORMAT, ds->path, bytes,
                   ds->file_size, ds->file_size * (int64_t) DEFLATE_MAX_RATIO);
      goto out;
    }
  if (!stream_skip_to (ds, offset, error))
    goto out;

  buf = g_try_malloc ((gsize) MAX (bytes, 1));
  if (buf == NULL)
    {
      g_set_error (error, NIFTI_ERROR, NIFTI_ERROR_TOO_LARGE,
                   "%s: cannot allocate %.1f MiB for the voxel data", path, bytes / 1048576.0);
      goto out;
    }
  if (!stream_read (ds, buf, bytes, "the voxel data", error))
    goto out;
  /* Reading one byte more makes zlib check the gzip trailer (CRC and length). */
  if (ds->gzipped)
    {
      char extra;
      if (gzread (ds->gz, &extra, 1) < 0)
        {
          set_stream_error (ds, 0, 0, "the gzip trailer", error);
          goto out;
        }
    }
  if (ph.swapped)
    byteswap_buffer (buf, n, es);

  ScanResult sr = { 0, 255, -1, 0 };
  gboolean unscaled = ph.hdr.scl_slope == 0 || (ph.hdr.scl_slope == 1 && ph.hdr.scl_inter == 0);
  if (!(unscaled && ph.hdr.datatype == DT_UINT8)) /* uint8 labels need no scan */
    scan_values (buf, n, ph.hdr.datatype, ph.hdr.scl_slope, ph.hdr.scl_inter, &sr);
  if (sr.bad_index >= 0)
    {
      int64_t i = sr.bad_index % ph.hdr.dim[1], j = sr.bad_index / ph.hdr.dim[1] % ph.hdr.dim[2],
              k = sr.bad_index / ph.hdr.dim[1] / ph.hdr.dim[2];
      if (sr.bad_value == floor (sr.bad_value))
        g_set_error (error, NIFTI_ERROR, NIFTI_ERROR_NOT_LABELS,
                     "%s: not a label map: voxel (%" G_GINT64_FORMAT ",%" G_GINT64_FORMAT ",%" G_GINT64_FORMAT
                     ") holds %.17g, outside the 32-bit label range", path, i, j, k, sr.bad_value);
      else
        g_set_error (error, NIFTI_ERROR, NIFTI_ERROR_NOT_LABELS,
                     "%s: not a label map: voxel (%" G_GINT64_FORMAT ",%" G_GINT64_FORMAT ",%" G_GINT64_FORMAT
                     ") holds the non-integral value %.9g (%s data%s)", path, i, j, k, sr.bad_value,
                     datatype_name (ph.hdr.datatype),
                     (ph.hdr.scl_slope != 0 && !(ph.hdr.scl_slope == 1 && ph.hdr.scl_inter == 0))
                       ? " after scl_slope/scl_inter" : "");
      goto out;
    }
  if (n == 0)
    sr.lo = sr.hi = 0;
  int bpv = lv_storage_for_range ((int64_t) sr.lo, (int64_t) sr.hi);
  void *data;
  gboolean same = unscaled && ((bpv == 1 && ph.hdr.datatype == DT_UINT8) || (bpv == 2 && ph.hdr.datatype == DT_UINT16)
                                || (bpv == 4 && ph.hdr.datatype == DT_INT32));
  if (bpv <= es)
    {
      if (!same)
        convert_values (buf, buf, n, ph.hdr.datatype, ph.hdr.scl_slope, ph.hdr.scl_inter, bpv);
      data = (bpv < es) ? g_realloc (buf, (gsize) MAX (n * bpv, 1)) : buf;
      buf = NULL;
    }
  else
    {
      data = g_try_malloc ((gsize) MAX (n * bpv, 1));
      if (data == NULL)
        {
          g_set_error (error, NIFTI_ERROR, NIFTI_ERROR_TOO_LARGE,
                       "%s: cannot allocate %.1f MiB for the labels", path, n * bpv / 1048576.0);
          goto out;
        }
      convert_values (buf, data, n, ph.hdr.datatype, ph.hdr.scl_slope, ph.hdr.scl_inter, bpv);
    }

  v = g_new0 (LabelVolume, 1);
  v->nx = ph.hdr.dim[1];
  v->ny = ph.hdr.dim[2];
  v->nz = ph.hdr.dim[3];
  v->bytes_per_voxel = bpv;
  v->data = data;
  double a[4][4];
  hdr_affine (&ph.hdr, a);
  for (int r = 0; r < 3; r++)
    for (int c = 0; c < 4; c++)
      if (!isfinite (a[r][c]) || fabs (a[r][c]) > 1e30)
        {
          g_set_error (error, NIFTI_ERROR, NIFTI_ERROR_FORMAT, "%s: the %s holds a non-finite or absurd value (%g)",
                       path, ph.hdr.version > 0 && ph.hdr.sform_code > 0 ? "sform"
                       : ph.hdr.version > 0 && ph.hdr.qform_code > 0 ? "qform" : "pixdim", a[r][c]);
          lv_volume_free (v);
          v = NULL;
          goto out;
        }
  lv_volume_set_affine (v, a);
  v->source = src;
  src = NULL;

out:
  stream_close (&hs);
  stream_close (&is);
  g_free (buf);
  nifti_source_free (src);
  return v;
}

/* --- writing -------------------------------------------------------------- */

typedef struct {
  guint8 *p;
} OutBuf;

#define DEFINE_SETTER(name, type)                       \
  static void name (OutBuf *o, int off, type v)         \
  {                                                     \
    memcpy (o->p + off, &v, sizeof v);                  \
  }
DEFINE_SETTER (put_i16, int16_t)
DEFINE_SETTER (put_i32, int32_t)
DEFINE_SETTER (put_i64, int64_t)
DEFINE_SETTER (put_f32, float)
DEFINE_SETTER (put_f64, double)

static void
put_str (OutBuf *o, int off, int len, const char *s)
{
  memset (o->p + off, 0, len);
  memcpy (o->p + off, s, MIN ((int) strlen (s), len));
}

static int
serialize_nifti1 (const NiftiHdr *h, gboolean pair, guint8 out[NIFTI1_HDR_SIZE])
{
  OutBuf o = { out };
  memset (out, 0, NIFTI1_HDR_SIZE);
  put_i32 (&o, 0, NIFTI1_HDR_SIZE);
  out[38] = 'r';
  out[39] = (guint8) h->dim_info;
  for (int i = 0; i < 8; i++)
    {
      put_i16 (&o, 40 + 2 * i, (int16_t) h->dim[i]);
      put_f32 (&o, 76 + 4 * i, (float) h->pixdim[i]);
    }
  for (int i = 0; i < 3; i++)
    put_f32 (&o, 56 + 4 * i, (float) h->intent_p[i]);
  put_i16 (&o, 68, (int16_t) h->intent_code);
  put_i16 (&o, 70, (int16_t) h->datatype);
  put_i16 (&o, 72, (int16_t) h->bitpix);
  put_i16 (&o, 74, (int16_t) h->slice_start);
  put_f32 (&o, 108, (float) h->vox_offset);
  put_f32 (&o, 112, (float) h->scl_slope);
  put_f32 (&o, 116, (float) h->scl_inter);
  put_i16 (&o, 120, (int16_t) h->slice_end);
  out[122] = (guint8) h->slice_code;
  out[123] = (guint8) h->xyzt_units;
  put_f32 (&o, 124, (float) h->cal_max);
  put_f32 (&o, 128, (float) h->cal_min);
  put_f32 (&o, 132, (float) h->slice_duration);
  put_f32 (&o, 136, (float) h->toffset);
  put_str (&o, 148, 80, h->descrip);
  put_str (&o, 228, 24, h->aux_file);
  put_i16 (&o, 252, (int16_t) h->qform_code);
  put_i16 (&o, 254, (int16_t) h->sform_code);
  for (int i = 0; i < 3; i++)
    {
      put_f32 (&o, 256 + 4 * i, (float) h->quatern[i]);
      put_f32 (&o, 268 + 4 * i, (float) h->qoffset[i]);
      for (int j = 0; j < 4; j++)
        put_f32 (&o, 280 + 16 * i + 4 * j, (float) h->srow[i][j]);
    }
  put_str (&o, 328, 16, h->intent_name);
  memcpy (out + 344, pair ? "ni1\0" : "n+1\0", 4);
  return NIFTI1_HDR_SIZE;
}

static int
serialize_nifti2 (const NiftiHdr *h, gboolean pair, guint8 out[NIFTI2_HDR_SIZE])
{
  OutBuf o = { out };
  memset (out, 0, NIFTI2_HDR_SIZE);
  put_i32 (&o, 0, NIFTI2_HDR_SIZE);
  memcpy (out + 4, pair ? "ni2\0\r\n\032\n" : "n+2\0\r\n\032\n", 8);
  put_i16 (&o, 12, (int16_t) h->datatype);
  put_i16 (&o, 14, (int16_t) h->bitpix);
  for (int i = 0; i < 8; i++)
    {
      put_i64 (&o, 16 + 8 * i, h->dim[i]);
      put_f64 (&o, 104 + 8 * i, h->pixdim[i]);
    }
  for (int i = 0; i < 3; i++)
    put_f64 (&o, 80 + 8 * i, h->intent_p[i]);
  put_i64 (&o, 168, h->vox_offset);
  put_f64 (&o, 176, h->scl_slope);
  put_f64 (&o, 184, h->scl_inter);
  put_f64 (&o, 192, h->cal_max);
  put_f64 (&o, 200, h->cal_min);
  put_f64 (&o, 208, h->slice_duration);
  put_f64 (&o, 216, h->toffset);
  put_i64 (&o, 224, h->slice_start);
  put_i64 (&o, 232, h->slice_end);
  put_str (&o, 240, 80, h->descrip);
  put_str (&o, 320, 24, h->aux_file);
  put_i32 (&o, 344, h->qform_code);
  put_i32 (&o, 348, h->sform_code);
  for (int i = 0; i < 3; i++)
    {
      put_f64 (&o, 352 + 8 * i, h->quatern[i]);
      put_f64 (&o, 376 + 8 * i, h->qoffset[i]);
      for (int j = 0; j < 4; j++)
        put_f64 (&o, 400 + 32 * i + 8 * j, h->srow[i][j]);
    }
  put_i32 (&o, 496, h->slice_code);
  put_i32 (&o, 500, h->xyzt_units);
  put_i32 (&o, 504, h->intent_code);
  put_str (&o, 508, 16, h->intent_name);
  out[524] = (guint8) h->dim_info;
  return NIFTI2_HDR_SIZE;
}

/* Header bytes + extender + extensions, padded so that vox_offset is a multiple of 16. */
static GByteArray *
build_header_bytes (const LabelVolume *v, gboolean pair, gboolean nifti2)
{
  NiftiHdr h = { 0 };
  const NiftiSource *src = v->source;
  int32_t lo, hi;

  if (src)
    h = src->hdr;
  else
    {
      g_strlcpy (h.descrip, "3D Anatomy Reconstruction label map", sizeof h.descrip);
      h.xyzt_units = NIFTI_UNITS_MM;
      h.intent_code = NIFTI_INTENT_LABEL;
      h.qform_code = NIFTI_XFORM_ALIGNED_ANAT;
      h.sform_code = NIFTI_XFORM_ALIGNED_ANAT;
    }
  h.version = nifti2 ? 2 : 1;
  h.dim[0] = 3;
  h.dim[1] = v->nx;
  h.dim[2] = v->ny;
  h.dim[3] = v->nz;
  for (int i = 4; i < 8; i++)
    {
      h.dim[i] = 1;
      h.pixdim[i] = src ? h.pixdim[i] : 0;
    }
  h.datatype = v->bytes_per_voxel == 1 ? DT_UINT8 : v->bytes_per_voxel == 2 ? DT_UINT16 : DT_INT32;
  h.bitpix = 8 * v->bytes_per_voxel;
  h.scl_slope = 1.0;
  h.scl_inter = 0.0;
  lv_volume_min_max (v, &lo, &hi);
  h.cal_min = lo;
  h.cal_max = hi;

  if (src && src->hdr.qform_code <= 0 && src->hdr.sform_code <= 0)
    {
      /* geometry came from pixdim alone: keep it that way */
      for (int i = 0; i < 3; i++)
        h.pixdim[i + 1] = v->spacing[i];
    }
  else
    {
      for (int i = 0; i < 3; i++)
        for (int j = 0; j < 4; j++)
          h.srow[i][j] = v->affine[i][j];
      affine_to_qform (v->affine, &h);
      if (h.sform_code <= 0 && h.qform_code <= 0)
        h.sform_code = h.qform_code = NIFTI_XFORM_ALIGNED_ANAT;
    }

  GByteArray *bytes = g_byte_array_new ();
  guint8 raw[NIFTI2_HDR_SIZE];
  int n_ext = 0;
  const NiftiExtension *ext = nifti_source_get_extensions (src, &n_ext);
  int hdr_size = nifti2 ? NIFTI2_HDR_SIZE : NIFTI1_HDR_SIZE;
  int64_t total = hdr_size + 4;
  for (int i = 0; i < n_ext; i++)
    total += (8 + ext[i].size + 15) / 16 * 16;
  h.vox_offset = pair ? 0 : (total + 15) / 16 * 16;

  if (nifti2)
    serialize_nifti2 (&h, pair, raw);
  else
    serialize_nifti1 (&h, pair, raw);
  g_byte_array_append (bytes, raw, hdr_size);
  guint8 extender[4] = { n_ext > 0 ? 1 : 0, 0, 0, 0 };
  g_byte_array_append (bytes, extender, 4);
  for (int i = 0; i < n_ext; i++)
    {
      int32_t esize = (int32_t) ((8 + ext[i].size + 15) / 16 * 16), ecode = ext[i].ecode;
      g_byte_array_append (bytes, (guint8 *) &esize, 4);
      g_byte_array_append (bytes, (guint8 *) &ecode, 4);
      g_byte_array_append (bytes, ext[i].data, ext[i].size);
      guint8 zeros[16] = { 0 };
      g_byte_array_append (bytes, zeros, esize - 8 - ext[i].size);
    }
  if (!pair)
    {
      guint8 zeros[16] = { 0 };
      g_byte_array_append (bytes, zeros, (guint) (h.vox_offset - bytes->len));
    }
  return bytes;
}

/* A file being written: a temporary in the destination folder, committed by
 * link (no overwrite) or rename (overwrite). */
typedef struct {
  char *dest;
  char *tmp;
  int fd;
  gzFile gz;   /* when compressing */
  gboolean compress;
} PendingFile;

static gboolean
pending_open (PendingFile *pf, const char *dest, gboolean compress, GError **error)
{
  g_autofree char *dir = g_path_get_dirname (dest);
  g_autofree char *base = g_path_get_basename (dest);

  memset (pf, 0, sizeof *pf);
  pf->fd = -1;
  pf->dest = g_strdup (dest);
  pf->compress = compress;
  pf->tmp = g_strdup_printf ("%s/.%s.XXXXXX", dir, base);
  pf->fd = g_mkstemp_full (pf->tmp, O_RDWR | O_CLOEXEC, 0644);
  if (pf->fd < 0)
    {
      int err = errno;
      g_set_error (error, NIFTI_ERROR, NIFTI_ERROR_IO, "%s: cannot create a file in %s: %s",
                   dest, dir, g_strerror (err));
      g_clear_pointer (&pf->tmp, g_free);
      return FALSE;
    }
  /* mkstemp makes the file 0600: give it the permissions a normal create would */
  mode_t mask = umask (0);
  umask (mask);
  if (fchmod (pf->fd, 0666 & ~mask) != 0)
    { /* not fatal: the file is still usable by its owner */ }
  if (compress)
    {
      int fd2 = dup (pf->fd);
      pf->gz = fd2 >= 0 ? gzdopen (fd2, "wb6") : NULL;
      if (pf->gz == NULL)
        {
          if (fd2 >= 0)
            close (fd2);
          g_set_error (error, NIFTI_ERROR, NIFTI_ERROR_IO, "%s: cannot start gzip compression", dest);
          return FALSE;
        }
      gzbuffer (pf->gz, 256 * 1024);
    }
  return TRUE;
}

static gboolean
pending_write (PendingFile *pf, const void *data, int64_t n, GError **error)
{
  int64_t done = 0;
  while (done < n)
    {
      int64_t chunk = MIN (n - done, (int64_t) 1 << 30);
      gssize w;
      if (pf->compress)
        w = gzwrite (pf->gz, (const char *) data + done, (unsigned) chunk);
      else
        w = write (pf->fd, (const char *) data + done, (size_t) chunk);
      if (w <= 0)
        {
          if (!pf->compress && w < 0 && errno == EINTR)
            continue;
          int err = errno;
          g_set_error (error, NIFTI_ERROR, NIFTI_ERROR_IO, "%s: write failed: %s", pf->dest,
                       err ? g_strerror (err) : "disk full?");
          return FALSE;
        }
      done += w;
    }
  return TRUE;
}

/* Flush, fsync and close the temporary. */
static gboolean
pending_finish (PendingFile *pf, GError **error)
{
  if (pf->gz)
    {
      int r = gzclose (pf->gz);
      pf->gz = NULL;
      if (r != Z_OK)
        {
          int err = errno;
          g_set_error (error, NIFTI_ERROR, NIFTI_ERROR_IO, "%s: write failed: %s", pf->dest,
                       r == Z_ERRNO ? g_strerror (err) : "compression error");
          return FALSE;
        }
    }
  if (fsync (pf->fd) != 0 || close (pf->fd) != 0)
    {
      int err = errno;
      pf->fd = -1;
      g_set_error (error, NIFTI_ERROR, NIFTI_ERROR_IO, "%s: write failed: %s", pf->dest, g_strerror (err));
      return FALSE;
    }
  pf->fd = -1;
  return TRUE;
}

static gboolean
pending_commit (PendingFile *pf, gboolean overwrite, GError **error)
{
  int r = overwrite ? rename (pf->tmp, pf->dest) : link (pf->tmp, pf->dest);
  if (r != 0)
    {
      int err = errno;
      if (err == EEXIST)
        g_set_error (error, NIFTI_ERROR, NIFTI_ERROR_EXISTS,
                     "%s: file exists (choose another name or allow overwriting)", pf->dest);
      else
        g_set_error (error, NIFTI_ERROR, NIFTI_ERROR_IO, "%s: cannot move the written file into place: %s",
                     pf->dest, g_strerror (err));
      return FALSE;
    }
  if (!overwrite)
    unlink (pf->tmp);
  g_clear_pointer (&pf->tmp, g_free);
  /* make the new directory entry durable */
  g_autofree char *dir = g_path_get_dirname (pf->dest);
  int dfd = open (dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0)
    {
      fsync (dfd);
      close (dfd);
    }
  return TRUE;
}

static void
pending_abort (PendingFile *pf)
{
  if (pf->gz)
    gzclose (pf->gz);
  if (pf->fd >= 0)
    close (pf->fd);
  if (pf->tmp)
    unlink (pf->tmp);
  g_free (pf->tmp);
  g_free (pf->dest);
  memset (pf, 0, sizeof *pf);
  pf->fd = -1;
}

gboolean
nifti_write (const LabelVolume *v, const char *path, NiftiWriteFlags flags, GError **error)
{
  gboolean overwrite = (flags & NIFTI_WRITE_OVERWRITE) != 0;
  gboolean pair, compress;
  g_autofree char *img_path = NULL;
  PendingFile hf = { .fd = -1 }, imf = { .fd = -1 };
  gboolean ok = FALSE;

  if (str_has_suffix_ci (path, ".nii.gz") || str_has_suffix_ci (path, ".nii"))
    {
      pair = FALSE;
      compress = str_has_suffix_ci (path, ".gz");
    }
  else if (str_has_suffix_ci (path, ".hdr") || str_has_suffix_ci (path, ".hdr.gz"))
    {
      g_autofree char *stem = nifti_path_stem (path);
      pair = TRUE;
      compress = str_has_suffix_ci (path, ".gz");
      img_path = g_strconcat (stem, compress ? ".img.gz" : ".img", NULL);
    }
  else
    {
      g_set_error (error, NIFTI_ERROR, NIFTI_ERROR_UNSUPPORTED,
                   "%s: unknown output format (use .nii, .nii.gz, .hdr or .hdr.gz)", path);
      return FALSE;
    }

  if (!overwrite)
    {
      const char *check[2] = { path, img_path };
      for (int i = 0; i < 2; i++)
        if (check[i] && g_file_test (check[i], G_FILE_TEST_EXISTS))
          {
            g_set_error (error, NIFTI_ERROR, NIFTI_ERROR_EXISTS,
                         "%s: file exists (choose another name or allow overwriting)", check[i]);
            return FALSE;
          }
    }

  gboolean nifti2 = (flags & NIFTI_WRITE_NIFTI2) != 0
                    || (v->source && v->source->hdr.version == 2 && !(flags & NIFTI_WRITE_NIFTI1))
                    || v->nx > G_MAXINT16 || v->ny > G_MAXINT16 || v->nz > G_MAXINT16;
  if (nifti2 && (flags & NIFTI_WRITE_NIFTI1))
    {
      g_set_error (error, NIFTI_ERROR, NIFTI_ERROR_UNSUPPORTED,
                   "%s: dimensions above 32767 need NIfTI-2", path);
      return FALSE;
    }
  g_autoptr (GByteArray) hdr = build_header_bytes (v, pair, nifti2);
  int64_t data_bytes = lv_volume_n_voxels (v) * v->bytes_per_voxel;

  if (!pending_open (&hf, path, compress, error))
    goto out;
  if (!pending_write (&hf, hdr->data, hdr->len, error))
    goto out;
  PendingFile *df = &hf;
  if (pair)
    {
      if (!pending_open (&imf, img_path, compress, error))
        goto out;
      df = &imf;
    }
  if (!pending_write (df, v->data, data_bytes, error))
    goto out;
  if (!pending_finish (&hf, error) || (pair && !pending_finish (&imf, error)))
    goto out;
  if (pair)
    {
      if (!pending_commit (&imf, overwrite, error))
        goto out;
      if (!pending_commit (&hf, overwrite, error))
        {
          if (!overwrite)
            unlink (img_path); /* we created it a moment ago */
          goto out;
        }
    }
  else if (!pending_commit (&hf, overwrite, error))
    goto out;
  ok = TRUE;

out:
  pending_abort (&hf);
  pending_abort (&imf);
  return ok;
}
