/* nrrd-read.c: the NRRD label map reader (see nrrd.h for what is accepted and why).
 *
 * Steps: stat + open (regular files only), read the header line by line from a buffered
 * source (bounded lines, bounded header), keep the fields we use and the 3D Slicer segment
 * keys, validate everything (sizes, type, encoding, space, directions, layer axis), then
 * read the samples of all layers into one buffer of the file's type (raw: straight read;
 * gzip: zlib inflate to the end of the stream; hex/ascii: decoded), swap bytes, check that
 * they are integral labels, convert them in place to the compact storage, and for 4D files
 * flatten the layers into one label per voxel.  Peak memory: the samples in the file's type,
 * plus one int32 per voxel when layers are flattened.
 */
#include "nrrd-private.h"
#include "out-file.h"
#include "strutil.h"

#include <math.h>
#include <string.h>

G_DEFINE_QUARK (nrrd-error-quark, nrrd_error)

/* --- the reader ---------------------------------------------------------------------------- */

void
nrrd_read_info_clear (NrrdReadInfo *info)
{
  if (info == NULL)
    return;
  g_free (info->warnings);
  lt_table_free (info->segment_ids);
  memset (info, 0, sizeof *info);
}

gboolean
nrrd_magic_matches (const guint8 *head, gsize len)
{
  return len >= 7 && memcmp (head, "NRRD000", 7) == 0;
}

gboolean
nrrd_path_is_supported (const char *path)
{
  return str_has_suffix_ci (path, ".nrrd") || str_has_suffix_ci (path, ".nhdr");
}

char *
nrrd_dup_data_file (const char *path)
{
  Header h = { .path = path };
  Src hs = { .fd = -1 };
  char *data_path = NULL;
  if (!nrrd_src_open (&hs, path, NULL, NULL))
    return NULL;
  if (nrrd_header_read (&h, &hs, NULL) && h.field[F_DATA_FILE] != NULL)
    data_path = nrrd_data_file_path (&h, NULL);
  nrrd_src_close (&hs);
  nrrd_header_clear (&h);
  return data_path;
}

void
nrrd_add_inputs (OutSet *outputs, const char *path)
{
  out_set_add_input (outputs, path);
  g_autofree char *data = nrrd_dup_data_file (path);
  if (data != NULL)
    out_set_add_input (outputs, data);
}

LabelVolume *
nrrd_read (const char *path, const NrrdReadOptions *options, LabelTable **table, NrrdReadInfo *info, GError **error)
{
  int64_t max_voxels = (options && options->max_voxels > 0) ? options->max_voxels : NRRD_DEFAULT_MAX_VOXELS;
  gboolean refuse_overlap = options && (options->flags & NRRD_READ_REFUSE_OVERLAP);
  Header h = { 0 };
  Layout L;
  Src hs = { .fd = -1 }, ds = { .fd = -1 };
  Src *src;
  g_autofree char *data_path = NULL;
  g_autofree char *what = NULL;
  g_autoptr (GString) warnings = g_string_new (NULL);
  g_autoptr (GPtrArray) segs = g_ptr_array_new ();
  g_autoptr (GHashTable) map = NULL;
  guint8 *buf = NULL;
  LabelVolume *v = NULL;
  LabelTable *tab = NULL, *ids = NULL;
  gboolean renumber = FALSE;
  int64_t n_overlap = 0;

  if (table)
    *table = NULL;
  if (info)
    memset (info, 0, sizeof *info);
  h.path = path;
  if (!nrrd_src_open (&hs, path, NULL, error))
    return NULL;
  if (!nrrd_header_read (&h, &hs, error))
    goto out;
  if (!nrrd_layout_from_header (&h, max_voxels, &L, error))
    goto out;

  if (h.field[F_DATA_FILE] != NULL)
    {
      data_path = nrrd_data_file_path (&h, error);
      if (data_path == NULL)
        goto out;
      g_autofree char *role = g_strdup_printf ("the data file of %s", path);
      if (!nrrd_src_open (&ds, data_path, role, error))
        goto out;
      nrrd_src_close (&hs);
      src = &ds;
      what = g_strdup_printf ("%s (data file of %s)", data_path, path);
    }
  else
    {
      src = &hs;
      what = g_strdup (path);
    }

  /* line skip, then byte skip (raw bytes; for gzip, decompressed bytes) */
  for (int64_t l = 0; l < L.line_skip; l++)
    {
      int c;
      do
        c = nrrd_src_getc (src, error);
      while (c >= 0 && c != '\n');
      if (c == -2)
        goto out;
      if (c == -1)
        {
          g_set_error (error, NRRD_ERROR, NRRD_ERROR_TRUNCATED, "%s: \"line skip: %" G_GINT64_FORMAT
                       "\" skips past the end of the file (it has %" G_GINT64_FORMAT " lines)", what, L.line_skip, l);
          goto out;
        }
    }
  int es = nrrd_type_bytes[L.type];
  int64_t bytes = L.n_samples * es;
  if (L.encoding != E_GZIP && L.byte_skip != 0)
    {
      int64_t to = L.byte_skip == -1 ? src->size - bytes : src->off + L.byte_skip;
      if (L.byte_skip == -1 && to < src->off)
        {
          g_set_error (error, NRRD_ERROR, NRRD_ERROR_TRUNCATED,
                       "%s: data are shorter than the sizes say: %" G_GINT64_FORMAT " %s samples need %" G_GINT64_FORMAT
                       " bytes, only %" G_GINT64_FORMAT " follow the header", what, L.n_samples,
                       nrrd_type_canonical[L.type], bytes, src->size - src->off);
          goto out;
        }
      if (!nrrd_src_seek (src, to, error))
        {
          if (error && *error == NULL)
            g_set_error (error, NRRD_ERROR, NRRD_ERROR_TRUNCATED, "%s: \"byte skip: %" G_GINT64_FORMAT
                         "\" skips past the end of the %" G_GINT64_FORMAT "-byte file", what, L.byte_skip, src->size);
          goto out;
        }
    }

  /* lying sizes are caught before allocating where the encoding allows */
  int64_t remaining = src->size - src->off;
  const char *sizes_str = h.field[F_SIZES];
  if ((L.encoding == E_RAW && remaining < bytes) || (L.encoding == E_HEX && remaining / 2 < bytes)
      || (L.encoding == E_ASCII && remaining < L.n_samples))
    {
      g_set_error (error, NRRD_ERROR, NRRD_ERROR_TRUNCATED,
                   "%s: data are shorter than the sizes say: %s %s samples need %" G_GINT64_FORMAT " %s after byte %"
                   G_GINT64_FORMAT ", the file has %" G_GINT64_FORMAT, what, sizes_str, nrrd_type_canonical[L.type],
                   L.encoding == E_RAW ? bytes : L.encoding == E_HEX ? 2 * bytes : L.n_samples,
                   L.encoding == E_ASCII ? "characters at least" : "bytes", src->off, remaining);
      goto out;
    }
  if (L.encoding == E_GZIP && (bytes + L.byte_skip) / DEFLATE_MAX_RATIO > remaining + 1024)
    {
      g_set_error (error, NRRD_ERROR, NRRD_ERROR_TRUNCATED,
                   "%s: data are shorter than the sizes say: %s %s samples are %" G_GINT64_FORMAT
                   " bytes, more than %" G_GINT64_FORMAT " bytes of gzip data can hold", what, sizes_str,
                   nrrd_type_canonical[L.type], bytes, remaining);
      goto out;
    }

  buf = g_try_malloc ((gsize) MAX (bytes, 1));
  if (buf == NULL)
    {
      g_set_error (error, NRRD_ERROR, NRRD_ERROR_TOO_LARGE, "%s: cannot allocate %.1f MiB for the voxel data", path,
                   bytes / 1048576.0);
      goto out;
    }
  switch (L.encoding)
    {
    case E_RAW:
      {
        int64_t got = nrrd_src_read (src, buf, bytes, error);
        if (got < 0)
          goto out;
        if (got < bytes)
          {
            nrrd_set_truncated (error, what, got, bytes, "bytes", NULL);
            goto out;
          }
      }
      break;
    case E_GZIP:
      {
        int64_t extra = 0;
        if (!nrrd_read_gzip (src, what, L.byte_skip, buf, bytes, &extra, error))
          goto out;
        if (extra > 0)
          nrrd_warn (warnings, "%s: the gzip stream holds %" G_GINT64_FORMAT " bytes more than the sizes say; they are ignored",
                     what, extra);
      }
      break;
    case E_HEX:
      if (!nrrd_read_hex (src, what, buf, bytes, error))
        goto out;
      break;
    case E_ASCII:
      if (!nrrd_read_ascii (src, what, L.type, buf, L.n_samples, error))
        goto out;
      break;
    }
  nrrd_src_close (&hs);
  nrrd_src_close (&ds);
  if (es > 1 && L.encoding != E_ASCII && L.endian != G_BYTE_ORDER)
    nrrd_byteswap_samples (buf, L.n_samples, es);

  /* samples to compact labels, in place */
  Range r;
  if (L.type == T_U8)
    {
      r.lo = 0;
      r.hi = 255;
      r.bad_index = -1;
    }
  else
    nrrd_scan_range (buf, L.n_samples, L.type, &r);
  if (r.bad_index >= 0)
    {
      int64_t idx = r.bad_index, c[4];
      for (int a = 0; a < L.dim; a++)
        {
          c[a] = idx % L.sizes[a];
          idx /= L.sizes[a];
        }
      g_autofree char *where = L.dim == 4
        ? g_strdup_printf ("(%" G_GINT64_FORMAT ",%" G_GINT64_FORMAT ",%" G_GINT64_FORMAT ",%" G_GINT64_FORMAT ")", c[0], c[1], c[2], c[3])
        : g_strdup_printf ("(%" G_GINT64_FORMAT ",%" G_GINT64_FORMAT ",%" G_GINT64_FORMAT ")", c[0], c[1], c[2]);
      if (r.bad_value == floor (r.bad_value))
        g_set_error (error, NRRD_ERROR, NRRD_ERROR_NOT_LABELS,
                     "%s: not a label map: %s %s holds %.17g, outside the 32-bit label range", path,
                     L.dim == 4 ? "sample" : "voxel", where, r.bad_value);
      else
        g_set_error (error, NRRD_ERROR, NRRD_ERROR_NOT_LABELS,
                     "%s: not a label map: %s %s holds the non-integral value %.9g (%s data)", path,
                     L.dim == 4 ? "sample" : "voxel", where, r.bad_value, nrrd_type_canonical[L.type]);
      goto out;
    }
  int bpv = lv_storage_for_range (r.lo, r.hi);
  if (bpv <= es)
    {
      if (!(bpv == 1 && L.type == T_U8) && !(bpv == 2 && L.type == T_U16) && !(bpv == 4 && L.type == T_I32))
        nrrd_convert_samples (buf, L.type, buf, bpv, L.n_samples);
      if (bpv < es)
        buf = g_realloc (buf, (gsize) MAX (L.n_samples * bpv, 1));
    }
  else
    {
      guint8 *wide = g_try_malloc ((gsize) MAX (L.n_samples * bpv, 1));
      if (wide == NULL)
        {
          g_set_error (error, NRRD_ERROR, NRRD_ERROR_TOO_LARGE, "%s: cannot allocate %.1f MiB for the labels", path,
                       L.n_samples * bpv / 1048576.0);
          goto out;
        }
      nrrd_convert_samples (buf, L.type, wide, bpv, L.n_samples);
      g_free (buf);
      buf = wide;
    }

  /* segments, then the layers */
  if (g_hash_table_size (h.segments) > 0)
    renumber = nrrd_assign_segment_labels (path, h.segments, L.n_layers, segs, warnings);
  if (L.n_layers > 1)
    {
      if (renumber)
        {
          map = g_hash_table_new_full (g_int64_hash, g_int64_equal, g_free, NULL);
          for (guint i = 0; i < segs->len; i++)
            {
              Segment *s = g_ptr_array_index (segs, i);
              int64_t *key = g_new (int64_t, 1);
              *key = (s->layer << 32) | (uint32_t) (int32_t) s->label;
              if (!g_hash_table_contains (map, key))
                g_hash_table_insert (map, key, GINT_TO_POINTER (s->out_label));
              else
                g_free (key);
            }
        }
      int32_t *flat = nrrd_flatten_layers (path, &L, buf, bpv, map, refuse_overlap, &n_overlap, error);
      if (flat == NULL)
        goto out;
      g_free (buf);
      buf = (guint8 *) flat;
      if (n_overlap > 0)
        nrrd_warn (warnings, "%s: %" G_GINT64_FORMAT " voxels lie in segments of more than one layer; each was given the "
                   "label of its highest layer", path, n_overlap);
      int32_t lo = 0, hi = 0;
      for (int64_t i = 0; i < L.n_voxels; i++)
        {
          lo = MIN (lo, flat[i]);
          hi = MAX (hi, flat[i]);
        }
      bpv = lv_storage_for_range (lo, hi);
      if (bpv < 4)
        {
          nrrd_convert_samples (flat, T_I32, flat, bpv, L.n_voxels);
          buf = g_realloc (buf, (gsize) MAX (L.n_voxels * bpv, 1));
        }
    }
  if (segs->len > 0)
    {
      tab = nrrd_table_from_segments (path, segs, warnings);
      if (info)
        ids = nrrd_ids_from_segments (path, segs);
    }

  v = g_new0 (LabelVolume, 1);
  v->nx = L.sizes[L.spatial[0]];
  v->ny = L.sizes[L.spatial[1]];
  v->nz = L.sizes[L.spatial[2]];
  v->bytes_per_voxel = bpv;
  v->data = buf;
  buf = NULL;
  lv_volume_set_affine (v, L.affine);

  if (info)
    {
      info->version = h.version;
      g_strlcpy (info->type, nrrd_type_canonical[L.type], sizeof info->type);
      g_strlcpy (info->encoding, nrrd_encoding_canonical[L.encoding], sizeof info->encoding);
      g_strlcpy (info->space, L.space ? L.space->canonical : "", sizeof info->space);
      info->detached = data_path != NULL;
      info->n_layers = (int) L.n_layers;
      info->n_segments = (int) g_hash_table_size (h.segments);
      info->renumbered = renumber;
      info->n_overlap_voxels = n_overlap;
      info->warnings = warnings->len ? g_strdup (warnings->str) : NULL;
      info->segment_ids = g_steal_pointer (&ids);
    }
  if (table)
    *table = g_steal_pointer (&tab);

out:
  lt_table_free (tab);
  lt_table_free (ids);
  g_free (buf);
  nrrd_src_close (&hs);
  nrrd_src_close (&ds);
  nrrd_header_clear (&h);
  return v;
}
