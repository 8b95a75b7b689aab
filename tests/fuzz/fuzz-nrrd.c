/* fuzz-nrrd.c: libFuzzer target for the NRRD reader and, for every input it accepts, a
 * .seg.nrrd write + re-read round trip that must agree (samples, storage, affine, names).
 *
 * The first input byte picks the form:
 *   0  the bytes as in.nrrd (attached header, any encoding);
 *   1  in.seg.nrrd whose bytes after the first blank line are gzip-compressed here (so
 *      mutations act on the header and on the samples of gzip files);
 *   2  a detached pair: the bytes up to the first blank line as in.nhdr, the rest as in.raw
 *      (seeds say "data file: in.raw");
 *   3  as 0, read with NRRD_READ_REFUSE_OVERLAP.
 *
 * Build and run: tests/fuzz/run.sh build / run nrrd (see there).
 */
#include "nrrd.h"
#include "fuzz-util.h"

#include <stdlib.h>
#include <string.h>
#include <zlib.h>

int LLVMFuzzerTestOneInput (const guint8 *data, size_t size);

/* The length of the header: up to its blank line, or all @size bytes without one. */
static size_t
header_end (const guint8 *data, size_t size)
{
  for (size_t i = 0; i + 1 < size; i++)
    if (data[i] == '\n' && data[i + 1] == '\n')
      return i + 2;
  return size;
}

/* @path holding the header of @data as it is and the rest gzip-compressed. */
static gboolean
write_with_gzip_tail (const char *path, const guint8 *data, size_t size)
{
  size_t head = header_end (data, size);
  uLong bound = compressBound ((uLong) (size - head)) + 32;
  guint8 *out = g_malloc (head + bound);
  memcpy (out, data, head);
  z_stream zs;
  memset (&zs, 0, sizeof zs);
  gboolean ok = deflateInit2 (&zs, 1, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) == Z_OK;
  if (ok)
    {
      zs.next_in = (Bytef *) data + head;
      zs.avail_in = (uInt) (size - head);
      zs.next_out = out + head;
      zs.avail_out = (uInt) bound;
      ok = deflate (&zs, Z_FINISH) == Z_STREAM_END;
      ok = ok && g_file_set_contents (path, (const char *) out, (gssize) (head + zs.total_out), NULL);
      deflateEnd (&zs);
    }
  g_free (out);
  return ok;
}

/* Names as the writer stores them: control characters other than tab and newline blanked. */
static char *
stored_name (const char *s)
{
  char *c = g_strdup (s);
  for (char *p = c; *p; p++)
    if (((guchar) *p < 0x20 && *p != '\t' && *p != '\n') || *p == 0x7f)
      *p = ' ';
  return c;
}

/* The four forms of the input (see the top of this file). */
static const FuzzForms forms = {
  .tmpl = "fuzz-nrrd-XXXXXX",
  .names = { "in.nrrd", "in.seg.nrrd", "in.nhdr", "in.nrrd" },
  .side_name = "in.raw",
  .split_form = 2,
  .header_end = header_end,
  .write_compressed = write_with_gzip_tail,
};

int
LLVMFuzzerTestOneInput (const guint8 *data, size_t size)
{
  int form;
  g_autofree char *path = fuzz_write_input (&forms, &data, &size, &form);
  if (path == NULL)
    return 0;
  NrrdReadOptions opt = { .max_voxels = 1 << 22, .flags = form == 3 ? NRRD_READ_REFUSE_OVERLAP : 0 };
  GError *error = NULL;

  LabelTable *table = NULL;
  NrrdReadInfo info;
  LabelVolume *v = nrrd_read (path, &opt, &table, &info, &error);
  g_assert ((v == NULL) != (error == NULL));
  if (v == NULL)
    {
      g_assert (error->domain == NRRD_ERROR);
      g_assert (table == NULL);
      g_clear_error (&error);
      return 0;
    }
  g_assert (v->nx >= 1 && v->ny >= 1 && v->nz >= 1);
  g_assert (lv_volume_n_voxels (v) <= opt.max_voxels);
  g_assert (info.n_layers >= 1 && info.n_layers <= NRRD_MAX_LAYERS);
  for (guint i = 1; table && i < table->entries->len; i++)
    g_assert (g_array_index (table->entries, LabelEntry, i - 1).id < g_array_index (table->entries, LabelEntry, i).id);

  g_autofree char *out = g_build_filename (fuzz_dir ("fuzz-nrrd-XXXXXX"), "out.seg.nrrd", NULL);
  if (!nrrd_write (v, table, out, NRRD_WRITE_OVERWRITE, &error))
    {
      /* only the segment limit may stop the writer: more distinct labels than segments */
      if (!g_error_matches (error, NRRD_ERROR, NRRD_ERROR_TOO_LARGE))
        fuzz_fail ("cannot write back an accepted volume", error);
      g_clear_error (&error);
    }
  else
    {
      LabelTable *t2 = NULL;
      LabelVolume *w = nrrd_read (out, &opt, &t2, NULL, &error);
      if (w == NULL)
        fuzz_fail ("cannot read back our own file", error);
      fuzz_assert_same_voxels (v, w);
      g_assert (memcmp (w->affine, v->affine, sizeof v->affine) == 0);
      /* every segment written is a present label; its name survives (control characters blanked) */
      for (guint i = 0; t2 && i < t2->entries->len; i++)
        {
          const LabelEntry *e = &g_array_index (t2->entries, LabelEntry, i);
          const LabelEntry *o = lt_table_lookup (table, e->id);
          g_assert (e->id > 0);
          if (o != NULL)
            {
              g_autofree char *want = stored_name (o->name);
              if (strcmp (want, e->name) != 0)
                {
                  g_printerr ("name of %d changed: \"%s\" -> \"%s\"\n", e->id, o->name, e->name);
                  abort ();
                }
              g_assert (memcmp (o->rgba, e->rgba, 3) == 0);
            }
        }
      lt_table_free (t2);
      lv_volume_free (w);
    }
  nrrd_read_info_clear (&info);
  lt_table_free (table);
  lv_volume_free (v);
  return 0;
}
