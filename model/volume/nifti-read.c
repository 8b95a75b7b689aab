/* nifti-read.c: reading a NIfTI-1 / NIfTI-2 / Analyze 7.5 label map.
 *
 * The header is read and validated (nifti-header.c), then the voxel data are read
 * (inflated by zlib's streaming gzread when compressed) straight into one buffer of the
 * file's datatype, which is then converted in place to the compact label storage.  Peak
 * memory is one copy of the voxel data in the file's datatype.  Lying sizes are caught
 * before anything is allocated.
 */
#include "nifti-private.h"
#include "in-file.h"
#include "mem-advise.h"
#include "strutil.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* deflate cannot expand data more than 1032:1; a compressed file of N bytes
 * therefore never holds more than this many bytes per compressed byte. */
#define DEFLATE_MAX_RATIO 1032

/* --- the input stream ----------------------------------------------------- */

gboolean
nifti_stream_open (NiftiStream *s, const char *path, GError **error)
{
  struct stat st;
  g_autoptr (GError) local = NULL;
  /* a regular file only, opened without blocking (a FIFO would wait for a writer) */
  int fd = in_file_open (path, &st, &local);

  memset (s, 0, sizeof *s);
  s->path = path;
  if (fd < 0)
    {
      g_set_error_literal (error, NIFTI_ERROR, NIFTI_ERROR_IO, local->message);
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

void
nifti_stream_close (NiftiStream *s)
{
  if (s->gz)
    gzclose (s->gz);
  s->gz = NULL;
}

/* zlib's message without the "<fd:3>: " it puts first for a stream opened by descriptor,
 * and its checks said in words. */
static const char *
zlib_problem (const char *msg)
{
  if (msg == NULL)
    return "unknown error";
  if (g_str_has_prefix (msg, "<fd:"))
    {
      const char *colon = strstr (msg, ": ");
      if (colon)
        msg = colon + 2;
    }
  if (strcmp (msg, "incorrect data check") == 0)
    return "the CRC-32 in the gzip trailer does not match the data: the file is damaged";
  if (strcmp (msg, "incorrect length check") == 0)
    return "the length in the gzip trailer does not match the data: the file is damaged";
  return msg;
}

void
nifti_stream_set_error (NiftiStream *s, int64_t wanted, int64_t got, const char *what, GError **error)
{
  int errnum = Z_OK;
  const char *msg = gzerror (s->gz, &errnum);

  const char *problem = zlib_problem (msg);
  if (errnum == Z_DATA_ERROR && strstr (problem, "trailer"))
    /* zlib checks the trailer when it reaches it, whatever was asked for then */
    g_set_error (error, NIFTI_ERROR, NIFTI_ERROR_CORRUPT, "%s: gzip stream is corrupt: %s", s->path, problem);
  else if (errnum == Z_DATA_ERROR || errnum == Z_STREAM_ERROR || errnum == Z_MEM_ERROR)
    g_set_error (error, NIFTI_ERROR, NIFTI_ERROR_CORRUPT,
                 "%s: gzip stream is corrupt while reading %s (%s)", s->path, what, problem);
  else if (errnum == Z_ERRNO)
    g_set_error (error, NIFTI_ERROR, NIFTI_ERROR_IO, "%s: read error in %s: %s",
                 s->path, what, g_strerror (errno));
  else
    g_set_error (error, NIFTI_ERROR, NIFTI_ERROR_TRUNCATED,
                 "%s: file is truncated: %s needs %" G_GINT64_FORMAT " bytes, only %" G_GINT64_FORMAT
                 " available%s", s->path, what, wanted, got,
                 s->gzipped ? " (gzip stream ends early)" : "");
}

/* Cancellation is looked at between chunks of this many bytes. */
#define READ_CHUNK ((int64_t) 16 << 20)

gboolean
nifti_stream_read (NiftiStream *s, void *buf, int64_t n, const char *what, GError **error)
{
  int64_t done = 0;
  while (done < n)
    {
      if (g_cancellable_set_error_if_cancelled (s->cancellable, error))
        return FALSE;
      unsigned chunk = (unsigned) MIN (n - done, READ_CHUNK);
      int r = gzread (s->gz, (char *) buf + done, chunk);
      if (r <= 0)
        {
          nifti_stream_set_error (s, n, done, what, error);
          return FALSE;
        }
      done += r;
    }
  s->pos += n;
  return TRUE;
}

static gboolean
stream_skip_to (NiftiStream *s, int64_t offset, double stored, GError **error)
{
  char buf[4096];
  while (s->pos < offset)
    {
      int64_t n = MIN (offset - s->pos, (int64_t) sizeof buf);
      int r = g_cancellable_set_error_if_cancelled (s->cancellable, error) ? -2 : gzread (s->gz, buf, (unsigned) n);
      if (r == -2)
        return FALSE;
      if (r <= 0)
        {
          int errnum = Z_OK;
          gzerror (s->gz, &errnum);
          if (errnum == Z_DATA_ERROR || errnum == Z_STREAM_ERROR || errnum == Z_MEM_ERROR || errnum == Z_ERRNO)
            nifti_stream_set_error (s, offset, s->pos, "the gap before the voxel data", error);
          else
            /* not "the gap needs 4096 bytes": where the data were said to start, and where
             * the file ends */
            g_set_error (error, NIFTI_ERROR, NIFTI_ERROR_TRUNCATED,
                         "%s: vox_offset %.9g lies past the end of the %sdata (%" G_GINT64_FORMAT " bytes)",
                         s->path, stored, s->gzipped ? "decompressed " : "", s->pos);
          return FALSE;
        }
      s->pos += r;
    }
  return TRUE;
}

/* --- decoding voxel values ------------------------------------------------ */

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
  gboolean scaled = nifti_is_scaled (slope, inter);
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
  gboolean scaled = nifti_is_scaled (slope, inter);
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

/* Reverses the byte order of the @n elements of @es bytes in @buf. */
static void
byteswap_buffer (void *buf, int64_t n, int es)
{
  guint8 *b = buf;
#define SWAP_ALL(utype, swap)                   \
  for (int64_t i = 0; i < n; i++)               \
    {                                           \
      utype v;                                  \
      memcpy (&v, b + sizeof v * i, sizeof v);  \
      v = swap (v);                             \
      memcpy (b + sizeof v * i, &v, sizeof v);  \
    }
  switch (es)
    {
    case 2: SWAP_ALL (guint16, GUINT16_SWAP_LE_BE); break;
    case 4: SWAP_ALL (guint32, GUINT32_SWAP_LE_BE); break;
    case 8: SWAP_ALL (guint64, GUINT64_SWAP_LE_BE); break;
    }
#undef SWAP_ALL
}

/* --- reading -------------------------------------------------------------- */

/* Lying sizes are caught before allocating: a plain file must hold all the @bytes of
 * voxel data after vox_offset, and a gzip stream cannot inflate to more than
 * DEFLATE_MAX_RATIO times its size. */
static gboolean
check_data_size (const NiftiStream *ds, const NiftiHdr *h, int64_t bytes, GError **error)
{
  int64_t offset = h->vox_offset;
  int64_t have = ds->file_size - (ds->gzipped ? 0 : offset);
  if (!ds->gzipped && offset > ds->file_size)
    {
      /* the value as stored: a float 1e20 was reported as 9223372036854775807 */
      g_set_error (error, NIFTI_ERROR, NIFTI_ERROR_TRUNCATED,
                   "%s: vox_offset %.*g is past the end of the %" G_GINT64_FORMAT "-byte file",
                   ds->path, h->version == 2 ? 19 : 9, h->vox_offset_stored, ds->file_size);
      return FALSE;
    }
  if (!ds->gzipped && have < bytes)
    {
      g_set_error (error, NIFTI_ERROR, NIFTI_ERROR_TRUNCATED,
                   "%s: file is truncated: %" G_GINT64_FORMAT "x%" G_GINT64_FORMAT "x%" G_GINT64_FORMAT
                   " %s voxels need %" G_GINT64_FORMAT " bytes after offset %" G_GINT64_FORMAT ", the file has %"
                   G_GINT64_FORMAT, ds->path, h->dim[1], h->dim[2], h->dim[3],
                   nifti_datatype_name (h->datatype), bytes, offset, have);
      return FALSE;
    }
  int64_t most = ds->file_size * (int64_t) DEFLATE_MAX_RATIO + 1024 * DEFLATE_MAX_RATIO;
  if (ds->gzipped && bytes > most)
    {
      g_set_error (error, NIFTI_ERROR, NIFTI_ERROR_TRUNCATED,
                   "%s: declares %" G_GINT64_FORMAT " bytes of voxel data, but a %" G_GINT64_FORMAT
                   "-byte gzip file cannot hold more than %" G_GINT64_FORMAT, ds->path, bytes,
                   ds->file_size, ds->file_size * (int64_t) DEFLATE_MAX_RATIO);
      return FALSE;
    }
  if (ds->gzipped && (offset > most || bytes + offset > most))
    {
      g_set_error (error, NIFTI_ERROR, NIFTI_ERROR_TRUNCATED,
                   "%s: vox_offset %.*g lies past the end of the decompressed data: a %" G_GINT64_FORMAT
                   "-byte gzip file holds at most %" G_GINT64_FORMAT " bytes", ds->path,
                   h->version == 2 ? 19 : 9, h->vox_offset_stored,
                   ds->file_size, ds->file_size * (int64_t) DEFLATE_MAX_RATIO);
      return FALSE;
    }
  return TRUE;
}

/* The labels of the @n values in *@buf (datatype and scaling of @h), in the compact storage
 * of *@bpv_out bytes per voxel.  They are converted in place when they fit, and *@buf is
 * then taken (set to NULL).  NULL with NIFTI_ERROR_NOT_LABELS or NIFTI_ERROR_TOO_LARGE. */
static void *
decode_labels (void **buf, int64_t n, const NiftiHdr *h, const char *path, int *bpv_out, GError **error)
{
  int dt = h->datatype, es = nifti_datatype_size (dt);
  gboolean scaled = nifti_is_scaled (h->scl_slope, h->scl_inter);
  ScanResult sr = { 0, 255, -1, 0 };

  if (scaled || dt != DT_UINT8) /* uint8 labels need no scan */
    scan_values (*buf, n, dt, h->scl_slope, h->scl_inter, &sr);
  if (sr.bad_index >= 0)
    {
      int64_t i = sr.bad_index % h->dim[1], j = sr.bad_index / h->dim[1] % h->dim[2],
              k = sr.bad_index / h->dim[1] / h->dim[2];
      if (sr.bad_value == floor (sr.bad_value))
        g_set_error (error, NIFTI_ERROR, NIFTI_ERROR_NOT_LABELS,
                     "%s: not a label map: voxel (%" G_GINT64_FORMAT ",%" G_GINT64_FORMAT ",%" G_GINT64_FORMAT
                     ") holds %.17g, outside the 32-bit label range", path, i, j, k, sr.bad_value);
      else
        g_set_error (error, NIFTI_ERROR, NIFTI_ERROR_NOT_LABELS,
                     "%s: not a label map: voxel (%" G_GINT64_FORMAT ",%" G_GINT64_FORMAT ",%" G_GINT64_FORMAT
                     ") holds the non-integral value %.9g (%s data%s)", path, i, j, k, sr.bad_value,
                     nifti_datatype_name (dt), scaled ? " after scl_slope/scl_inter" : "");
      return NULL;
    }
  if (n == 0)
    sr.lo = sr.hi = 0;
  int bpv = lv_storage_for_range ((int64_t) sr.lo, (int64_t) sr.hi);
  gboolean same = !scaled && ((bpv == 1 && dt == DT_UINT8) || (bpv == 2 && dt == DT_UINT16)
                              || (bpv == 4 && dt == DT_INT32));
  void *data;
  if (bpv <= es)
    {
      if (!same)
        convert_values (*buf, *buf, n, dt, h->scl_slope, h->scl_inter, bpv);
      data = (bpv < es) ? g_realloc (*buf, (gsize) MAX (n * bpv, 1)) : *buf;
      *buf = NULL;
    }
  else
    {
      data = g_try_malloc ((gsize) MAX (n * bpv, 1));
      ar_advise_huge (data, (gsize) (n * bpv));
      if (data == NULL)
        {
          g_set_error (error, NIFTI_ERROR, NIFTI_ERROR_TOO_LARGE,
                       "%s: cannot allocate %.1f MiB for the labels", path, n * bpv / 1048576.0);
          return NULL;
        }
      convert_values (*buf, data, n, dt, h->scl_slope, h->scl_inter, bpv);
    }
  *bpv_out = bpv;
  return data;
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
  NiftiStream hs = { 0 }, is = { 0 };
  NiftiStream *ds;
  NiftiParsedHeader ph;
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

  GCancellable *cancellable = options ? options->cancellable : NULL;
  GPtrArray *warnings = options ? options->warnings : NULL;
  if (!nifti_stream_open (&hs, hdr_path, error))
    return NULL;
  hs.cancellable = cancellable;
  if (!nifti_hdr_read (&hs, pair, &ph, error))
    goto out;
  if (!nifti_hdr_validate (hdr_path, &ph.hdr, max_voxels, &n, error))
    goto out;

  src = nifti_source_new ();
  src->hdr = ph.hdr;
  src->swapped = ph.swapped;
  src->pair = pair;
  src->gzipped = hs.gzipped;

  int es = nifti_datatype_size (ph.hdr.datatype);
  int64_t bytes = n * es;
  if (pair)
    {
      if (!nifti_hdr_read_extensions (&hs, src, ph.swapped, -1, error))
        goto out;
      nifti_stream_close (&hs);
      if (img_path == NULL)
        {
          g_set_error (error, NIFTI_ERROR, NIFTI_ERROR_IO,
                       "%s: the image file (.img or .img.gz) of this header is missing", hdr_path);
          goto out;
        }
      if (!nifti_stream_open (&is, img_path, error))
        goto out;
      is.cancellable = cancellable;
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
      if (!nifti_hdr_read_extensions (&hs, src, ph.swapped, ph.hdr.vox_offset, error))
        goto out;
      ds = &hs;
    }

  if (!check_data_size (ds, &ph.hdr, bytes, error))
    goto out;
  if (!stream_skip_to (ds, ph.hdr.vox_offset, ph.hdr.vox_offset_stored, error))
    goto out;

  buf = g_try_malloc ((gsize) MAX (bytes, 1));
  ar_advise_huge (buf, (gsize) bytes);
  if (buf == NULL)
    {
      g_set_error (error, NIFTI_ERROR, NIFTI_ERROR_TOO_LARGE,
                   "%s: cannot allocate %.1f MiB for the voxel data", path, bytes / 1048576.0);
      goto out;
    }
  if (!nifti_stream_read (ds, buf, bytes, "the voxel data", error))
    goto out;
  /* Reading one byte more makes zlib check the gzip trailer (CRC and length); a stream
   * that ends without it (zlib: Z_BUF_ERROR, "unexpected end of file") is truncated and
   * its CRC never checked. */
  if (ds->gzipped)
    {
      char extra;
      int errnum = Z_OK;
      int r = gzread (ds->gz, &extra, 1);
      gzerror (ds->gz, &errnum);
      if (r < 0)
        {
          nifti_stream_set_error (ds, 0, 0, "the gzip trailer", error);
          goto out;
        }
      if (r == 0 && errnum == Z_BUF_ERROR)
        {
          g_set_error (error, NIFTI_ERROR, NIFTI_ERROR_TRUNCATED,
                       "%s: file is truncated: the gzip stream ends without its trailer (the CRC-32 and "
                       "length that prove the data complete)", ds->path);
          goto out;
        }
    }
  if (ph.swapped)
    byteswap_buffer (buf, n, es);

  int bpv;
  void *data = decode_labels (&buf, n, &ph.hdr, path, &bpv, error);
  if (data == NULL)
    goto out;

  v = g_new0 (LabelVolume, 1);
  v->nx = ph.hdr.dim[1];
  v->ny = ph.hdr.dim[2];
  v->nz = ph.hdr.dim[3];
  v->bytes_per_voxel = bpv;
  v->data = data;
  double a[4][4];
  /* the affine the header gives: refused if it holds NaN or absurd values; an all-zero
   * or flat sform (0.0 mL and a blank view) is replaced by the qform (or pixdim), and the
   * volume keeps no sform */
  for (int pass = 0; pass < 2; pass++)
    {
      const NiftiHdr *hh = &src->hdr;
      nifti_hdr_get_affine (hh, a);
      for (int r = 0; r < 3; r++)
        for (int c = 0; c < 4; c++)
          if (!isfinite (a[r][c]) || fabs (a[r][c]) > 1e30)
            {
              g_set_error (error, NIFTI_ERROR, NIFTI_ERROR_FORMAT,
                           "%s: the %s holds a non-finite or absurd value (%g)", path,
                           hh->version > 0 && hh->sform_code > 0 ? "sform"
                           : hh->version > 0 && hh->qform_code > 0 ? "qform" : "pixdim", a[r][c]);
              lv_volume_free (v);
              v = NULL;
              goto out;
            }
      if (pass > 0 || !(hh->version > 0 && hh->sform_code > 0 && nifti_affine_is_singular (a)))
        break;
      gboolean zero = TRUE;
      for (int r = 0; r < 3; r++)
        for (int c = 0; c < 3; c++)
          zero &= a[r][c] == 0;
      src->hdr.sform_code = 0;
      if (warnings)
        g_ptr_array_add (warnings, g_strdup_printf ("%s: the sform is %s; the %s is used instead", path,
                                                    zero ? "all zero" : "singular (it flattens the volume)",
                                                    src->hdr.qform_code > 0 ? "qform" : "voxel size (pixdim)"));
    }
  lv_volume_set_affine (v, a);
  for (int c = 0; c < 3 && warnings; c++)
    if (v->spacing[c] < NIFTI_MIN_PLAUSIBLE_VOXEL || v->spacing[c] > NIFTI_MAX_PLAUSIBLE_VOXEL)
      {
        g_ptr_array_add (warnings, g_strdup_printf ("%s: voxels of %g × %g × %g mm are not a plausible size "
                                                    "(outside %g..%g mm): volumes and distances will be "
                                                    "meaningless", path, v->spacing[0], v->spacing[1],
                                                    v->spacing[2], NIFTI_MIN_PLAUSIBLE_VOXEL,
                                                    NIFTI_MAX_PLAUSIBLE_VOXEL));
        break;
      }
  v->source = src;
  src = NULL;

out:
  nifti_stream_close (&hs);
  nifti_stream_close (&is);
  g_free (buf);
  nifti_source_free (src);
  return v;
}
