/* nifti.c: NIfTI-1 / NIfTI-2 / Analyze 7.5 label maps: what the reader and the writer share.
 *
 * The error domain, the datatype codes, the supported file names and the NiftiSource (the
 * header a volume was read from).  The header is parsed and validated in nifti-header.c,
 * voxel data are read and decoded in nifti-read.c and written in nifti-write.c.
 */
#include "nifti-private.h"
#include "strutil.h"

#include <string.h>

G_DEFINE_QUARK (nifti-error-quark, nifti_error)

/* --- datatypes ------------------------------------------------------------ */

int
nifti_datatype_size (int dt)
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

const char *
nifti_datatype_name (int dt)
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

gboolean
nifti_is_scaled (double slope, double inter)
{
  return slope != 0 && !(slope == 1 && inter == 0);
}

/* --- file names ----------------------------------------------------------- */

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

void
nifti_add_inputs (OutSet *outputs, const char *path)
{
  static const char *const pair[] = { ".hdr", ".hdr.gz", ".img", ".img.gz", ".HDR", ".HDR.gz", ".IMG", ".IMG.gz" };
  out_set_add_input (outputs, path);
  if (!(str_has_suffix_ci (path, ".hdr") || str_has_suffix_ci (path, ".hdr.gz") || str_has_suffix_ci (path, ".img")
        || str_has_suffix_ci (path, ".img.gz")))
    return;
  g_autofree char *stem = nifti_path_stem (path);
  for (gsize i = 0; i < G_N_ELEMENTS (pair); i++)
    {
      g_autofree char *p = g_strconcat (stem, pair[i], NULL);
      out_set_add_input (outputs, p);
    }
}

/* --- source objects ------------------------------------------------------- */

static void
clear_extension (gpointer p)
{
  g_free (((NiftiExtension *) p)->data);
}

NiftiSource *
nifti_source_new (void)
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
  NiftiSource *s = nifti_source_new ();
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
  info->datatype_name = nifti_datatype_name (h->datatype);
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
