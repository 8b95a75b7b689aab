/* nifti-write.c: writing a label map as NIfTI-1 / NIfTI-2 (.nii, .nii.gz, .hdr + .img).
 *
 * The header is built from the source header when there is one (units, description,
 * intent and extensions are kept; datatype, dimensions and geometry follow the volume),
 * and the data go through OutFile (out-file.h): a temporary in the destination folder,
 * fsynced, then moved into place without replacing an existing file unless asked.
 */
#include "nifti-private.h"
#include "out-file.h"
#include "strutil.h"

#include <math.h>
#include <string.h>
#include <glib/gstdio.h>

/* --- the header ----------------------------------------------------------- */

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

/* Affine to quaternion + qfac, pixdim and qoffset (the inverse of the qform reading in
 * nifti-header.c). */
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

/* TRUE when extension @e holds a label table (the Caret XML TotalSegmentator writes). */
static gboolean
is_label_extension (const NiftiExtension *e)
{
  return e->data != NULL && e->size > 0 && memmem (e->data, e->size, "<LabelTable", 11) != NULL;
}

/* The extensions to write: the source's, with @extras' label table in place of the first
 * one holding a label table (or first of all when none does; TotalSegmentator reads the
 * first extension), and no other label table after it; with drop_label_table, the
 * source's without its label tables.  Borrowed data. */
static GArray *
extensions_to_write (const NiftiSource *src, const NiftiWriteExtras *extras)
{
  GArray *out = g_array_new (FALSE, TRUE, sizeof (NiftiExtension));
  int n_ext = 0;
  const NiftiExtension *ext = nifti_source_get_extensions (src, &n_ext);
  gboolean replace = extras != NULL && extras->label_xml != NULL;
  gboolean drop = replace || (extras != NULL && extras->drop_label_table);
  gboolean placed = FALSE;
  NiftiExtension label = { 0 };

  if (replace)
    {
      label.ecode = 0;   /* what TotalSegmentator writes ("ignore"); readers look for <LabelTable */
      label.size = (guint32) extras->label_xml_len;
      label.data = (guint8 *) extras->label_xml;
    }
  for (int i = 0; i < n_ext; i++)
    {
      if (drop && is_label_extension (&ext[i]))
        {
          if (replace && !placed)
            g_array_append_val (out, label);
          placed = TRUE;
          continue;
        }
      g_array_append_val (out, ext[i]);
    }
  if (replace && !placed)
    g_array_prepend_val (out, label);
  return out;
}

/* Header bytes + extender + extensions, padded so that vox_offset is a multiple of 16. */
static GByteArray *
build_header_bytes (const LabelVolume *v, gboolean pair, gboolean nifti2, const NiftiWriteExtras *extras)
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
  g_autoptr (GArray) ext_list = extensions_to_write (src, extras);
  int n_ext = (int) ext_list->len;
  const NiftiExtension *ext = (const NiftiExtension *) ext_list->data;
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

/* --- writing -------------------------------------------------------------- */

/* An OutFile error as a NIFTI_ERROR: OUT_FILE_ERROR_EXISTS becomes NIFTI_ERROR_EXISTS, any
 * other NIFTI_ERROR_IO; the message (which names the file) is kept. */
static void
propagate_out_file_error (GError **error, GError *local)
{
  if (local->domain == OUT_FILE_ERROR)
    {
      local->code = local->code == OUT_FILE_ERROR_EXISTS ? NIFTI_ERROR_EXISTS : NIFTI_ERROR_IO;
      local->domain = NIFTI_ERROR;
    }
  g_propagate_error (error, local);
}

/* NIfTI-2 when asked, when the source was NIfTI-2 (unless NIfTI-1 is forced) or when a
 * dimension does not fit NIfTI-1; FALSE with an error when NIfTI-1 is forced but cannot be. */
static gboolean
choose_version (const LabelVolume *v, const char *path, NiftiWriteFlags flags, gboolean *nifti2, GError **error)
{
  *nifti2 = (flags & NIFTI_WRITE_NIFTI2) != 0
            || (v->source && v->source->hdr.version == 2 && !(flags & NIFTI_WRITE_NIFTI1))
            || v->nx > G_MAXINT16 || v->ny > G_MAXINT16 || v->nz > G_MAXINT16;
  if (*nifti2 && (flags & NIFTI_WRITE_NIFTI1))
    {
      g_set_error (error, NIFTI_ERROR, NIFTI_ERROR_UNSUPPORTED,
                   "%s: dimensions above 32767 need NIfTI-2", path);
      return FALSE;
    }
  return TRUE;
}

gboolean
nifti_write_to_out_file (const LabelVolume *v, OutFile *f, NiftiWriteFlags flags, const NiftiWriteExtras *extras,
                         GError **error)
{
  gboolean nifti2;
  GError *local = NULL;

  if (!choose_version (v, out_file_get_path (f), flags, &nifti2, error))
    return FALSE;
  g_autoptr (GByteArray) hdr = build_header_bytes (v, FALSE, nifti2, extras);
  if (out_file_write (f, hdr->data, hdr->len, &local)
      && out_file_write (f, v->data, (size_t) (lv_volume_n_voxels (v) * v->bytes_per_voxel), &local))
    return TRUE;
  propagate_out_file_error (error, local);
  return FALSE;
}

gboolean
nifti_write (const LabelVolume *v, const char *path, NiftiWriteFlags flags, GError **error)
{
  return nifti_write_full (NULL, v, path, flags, NULL, error);
}

gboolean
nifti_write_in (OutSet *outputs, const LabelVolume *v, const char *path, NiftiWriteFlags flags,
                GError **error)
{
  return nifti_write_full (outputs, v, path, flags, NULL, error);
}

gboolean
nifti_write_full (OutSet *outputs, const LabelVolume *v, const char *path, NiftiWriteFlags flags,
                  const NiftiWriteExtras *extras, GError **error)
{
  gboolean pair, compress;
  g_autofree char *img_path = NULL;
  g_autoptr (OutSet) own = outputs ? NULL : out_set_new ((flags & NIFTI_WRITE_OVERWRITE) != 0);
  OutSet *set = outputs ? outputs : own;
  OutFile *hf, *imf = NULL;
  g_autoptr (GByteArray) hdr = NULL;
  GError *local = NULL;

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

  gboolean nifti2;
  if (!choose_version (v, path, flags, &nifti2, error))
    return FALSE;
  OutFileFlags oflags = compress ? OUT_FILE_GZIP : OUT_FILE_PLAIN;
  /* both halves of a pair are opened (so checked) before either is written; the image,
   * opened second, is moved into place first */
  hf = out_set_open (set, path, oflags, &local);
  if (hf == NULL || (pair && (imf = out_set_open (set, img_path, oflags, &local)) == NULL))
    goto fail;
  hdr = build_header_bytes (v, pair, nifti2, extras);
  int64_t data_bytes = lv_volume_n_voxels (v) * v->bytes_per_voxel;
  if (!out_file_write (hf, hdr->data, hdr->len, &local)
      || !out_file_write (pair ? imf : hf, v->data, (size_t) data_bytes, &local)
      || !out_file_finish (hf, &local) || (imf && !out_file_finish (imf, &local)))
    goto fail;
  if (own && !out_set_commit (own, &local))
    goto fail;
  return TRUE;

fail:
  propagate_out_file_error (error, local);
  return FALSE;
}

gboolean
nifti_write_float_in (OutSet *outputs, const LabelVolume *like, int64_t nt, const char *descrip,
                      NiftiFloatSliceFunc fill, gpointer data, const char *path, GError **error)
{
  if (!str_has_suffix_ci (path, ".nii") && !str_has_suffix_ci (path, ".nii.gz"))
    {
      g_set_error (error, NIFTI_ERROR, NIFTI_ERROR_UNSUPPORTED, "%s: unknown output format (use .nii or .nii.gz)",
                   path);
      return FALSE;
    }
  gboolean nifti2;
  if (!choose_version (like, path, 0, &nifti2, error))
    return FALSE;
  NiftiHdr h = { 0 };
  g_strlcpy (h.descrip, descrip ? descrip : "", sizeof h.descrip);
  h.version = nifti2 ? 2 : 1;
  h.dim[0] = nt > 1 ? 4 : 3;
  h.dim[1] = like->nx;
  h.dim[2] = like->ny;
  h.dim[3] = like->nz;
  h.dim[4] = nt;
  for (int i = 5; i < 8; i++)
    h.dim[i] = 1;
  h.pixdim[4] = 1.0;
  h.datatype = DT_FLOAT32;
  h.bitpix = 32;
  h.scl_slope = 1.0;
  h.cal_min = 0.0;
  h.cal_max = 1.0;
  h.xyzt_units = NIFTI_UNITS_MM;
  for (int i = 0; i < 3; i++)
    for (int j = 0; j < 4; j++)
      h.srow[i][j] = like->affine[i][j];
  affine_to_qform (like->affine, &h);
  h.qform_code = h.sform_code = NIFTI_XFORM_ALIGNED_ANAT;
  const int hdr_size = nifti2 ? NIFTI2_HDR_SIZE : NIFTI1_HDR_SIZE;
  h.vox_offset = (hdr_size + 4 + 15) / 16 * 16;
  guint8 raw[NIFTI2_HDR_SIZE + 16] = { 0 };
  if (nifti2)
    serialize_nifti2 (&h, FALSE, raw);
  else
    serialize_nifti1 (&h, FALSE, raw);

  const int64_t plane = like->nx * like->ny;
  g_autofree float *slice = g_try_new (float, plane);
  if (slice == NULL)
    {
      g_set_error (error, NIFTI_ERROR, NIFTI_ERROR_IO, "%s: cannot allocate a slice", path);
      return FALSE;
    }
  g_autoptr (OutSet) own = outputs ? NULL : out_set_new (FALSE);
  OutSet *set = outputs ? outputs : own;
  GError *local = NULL;
  OutFile *f = out_set_open (set, path, str_has_suffix_ci (path, ".gz") ? OUT_FILE_GZIP : OUT_FILE_PLAIN, &local);
  if (f == NULL || !out_file_write (f, raw, (size_t) h.vox_offset, &local))
    goto fail;
  for (int64_t t = 0; t < nt; t++)
    for (int64_t k = 0; k < like->nz; k++)
      {
        fill (t, k, slice, data);
        if (!out_file_write (f, slice, (size_t) plane * sizeof (float), &local))
          goto fail;
      }
  if (!out_file_finish (f, &local) || (own && !out_set_commit (own, &local)))
    goto fail;
  return TRUE;

fail:
  propagate_out_file_error (error, local);
  return FALSE;
}
