/* nifti-header.c: the header of a NIfTI-1 / NIfTI-2 / Analyze 7.5 file.
 *
 * The header is read in either byte order and parsed into one version-neutral struct
 * (NiftiHdr), every field the reader relies on is validated before anything is allocated,
 * the extensions that follow it are read, and its geometry (sform, qform or pixdim) is
 * turned into a voxel-to-world affine.
 */
#include "nifti-private.h"

#include <math.h>
#include <string.h>

#define MAX_EXTENSION_BYTES (64 << 20)

/* --- field access --------------------------------------------------------- */

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

/* --- parsing -------------------------------------------------------------- */

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
  out->vox_offset_stored = get_f32 (h, 108);
  out->vox_offset = f32_to_offset ((float) out->vox_offset_stored);
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
  out->vox_offset_stored = (double) out->vox_offset;
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

/* --- reading and validating ----------------------------------------------- */

gboolean
nifti_hdr_read (NiftiStream *s, gboolean allow_analyze, NiftiParsedHeader *ph, GError **error)
{
  guint8 raw[NIFTI2_HDR_SIZE];
  HdrBuf hb = { raw, FALSE };
  int32_t size;

  memset (ph, 0, sizeof *ph);
  if (!nifti_stream_read (s, raw, 4, "the header", error))
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
  if (!nifti_stream_read (s, raw + 4, size - 4, "the header", error))
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

gboolean
nifti_hdr_validate (const char *path, NiftiHdr *h, int64_t max_voxels, int64_t *n_voxels, GError **error)
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
      int es = MAX (nifti_datatype_size (h->datatype), 1);
      g_set_error (error, NIFTI_ERROR, NIFTI_ERROR_TOO_LARGE,
                   "%s: %" G_GINT64_FORMAT "x%" G_GINT64_FORMAT "x%" G_GINT64_FORMAT " = %" G_GINT64_FORMAT
                   " voxels (%.0f MiB of %s data) exceeds the limit of %" G_GINT64_FORMAT " voxels", path,
                   h->dim[1], h->dim[2], h->dim[3], n, (double) n * es / 1048576.0,
                   nifti_datatype_name (h->datatype), max_voxels);
      return FALSE;
    }
  int es = nifti_datatype_size (h->datatype);
  if (es == 0)
    {
      g_set_error (error, NIFTI_ERROR, NIFTI_ERROR_UNSUPPORTED,
                   "%s: datatype %d (%s) cannot hold labels (supported: uint8, int8, int16, uint16, int32, "
                   "uint32, int64, float32, float64)", path, h->datatype, nifti_datatype_name (h->datatype));
      return FALSE;
    }
  int64_t bytes;
  if (__builtin_mul_overflow (n, (int64_t) es, &bytes) || (uint64_t) bytes > G_MAXSIZE / 2)
    {
      g_set_error (error, NIFTI_ERROR, NIFTI_ERROR_TOO_LARGE, "%s: voxel data size overflows", path);
      return FALSE;
    }
  if (isnan (h->vox_offset_stored))
    {
      g_set_error (error, NIFTI_ERROR, NIFTI_ERROR_FORMAT, "%s: vox_offset is not a number (NaN)", path);
      return FALSE;
    }
  if (h->vox_offset < 0 || h->vox_offset_stored < 0)
    {
      /* the value as stored: a float -352 was reported as "-1" */
      g_set_error (error, NIFTI_ERROR, NIFTI_ERROR_FORMAT, "%s: negative vox_offset %.9g", path,
                   h->vox_offset_stored);
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

/* Extensions follow the header when the 4-byte extender's first byte is set. */
gboolean
nifti_hdr_read_extensions (NiftiStream *s, NiftiSource *src, gboolean swapped, int64_t limit,
                           GError **error)
{
  guint8 ext[4];
  if (limit >= 0 && s->pos + 4 > limit)
    return TRUE; /* no room for an extender */
  int r = gzread (s->gz, ext, 4);
  if (r == 0 && limit < 0)
    return TRUE; /* .hdr without extender */
  if (r != 4)
    {
      nifti_stream_set_error (s, 4, MAX (r, 0), "the extension flag", error);
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
              nifti_stream_set_error (s, 8, MAX (r, 0), "an extension header", error);
              return FALSE;
            }
          s->pos += 8;
        }
      else if (!nifti_stream_read (s, eh, 8, "an extension header", error))
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
      if (!nifti_stream_read (s, e.data, esize - 8, "a header extension", error))
        {
          g_free (e.data);
          return FALSE;
        }
      e.data[e.size] = 0; /* convenient for text extensions; not counted in size */
      g_array_append_val (src->extensions, e);
    }
  return TRUE;
}

/* --- geometry ------------------------------------------------------------- */

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

void
nifti_hdr_get_affine (const NiftiHdr *h, double a[4][4])
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

gboolean
nifti_affine_is_singular (const double a[4][4])
{
  double len[3];
  for (int c = 0; c < 3; c++)
    {
      len[c] = sqrt (a[0][c] * a[0][c] + a[1][c] * a[1][c] + a[2][c] * a[2][c]);
      if (!(len[c] > 0))
        return TRUE;
    }
  double det = a[0][0] * (a[1][1] * a[2][2] - a[1][2] * a[2][1])
               - a[0][1] * (a[1][0] * a[2][2] - a[1][2] * a[2][0])
               + a[0][2] * (a[1][0] * a[2][1] - a[1][1] * a[2][0]);
  return !(fabs (det) > 1e-6 * len[0] * len[1] * len[2]);
}
