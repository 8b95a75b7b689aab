/* test-nrrd-util.c: what the parts of the NRRD test share (see test-nrrd-util.h). */
#include "test-nrrd-util.h"
#define TEST_UTIL_VOLUME
#include "test-util.h"

#include <math.h>
#include <string.h>
#include <zlib.h>

char *
tmp_path (const char *name)
{
  return g_build_filename (tmpdir, name, NULL);
}

char *
write_file (const char *name, const void *data, gsize len)
{
  char *p = tmp_path (name);
  g_autoptr (GError) error = NULL;
  g_file_set_contents (p, data, (gssize) len, &error);
  g_assert_no_error (error);
  return p;
}

/* @n bytes as one gzip member (level 6). */
GByteArray *
gzip_bytes (const void *data, gsize n)
{
  z_stream zs = { 0 };
  g_assert_cmpint (deflateInit2 (&zs, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY), ==, Z_OK);
  GByteArray *out = g_byte_array_sized_new ((guint) deflateBound (&zs, n));
  g_byte_array_set_size (out, (guint) deflateBound (&zs, n));
  zs.next_in = (Bytef *) data;
  zs.avail_in = (uInt) n;
  zs.next_out = out->data;
  zs.avail_out = out->len;
  g_assert_cmpint (deflate (&zs, Z_FINISH), ==, Z_STREAM_END);
  g_byte_array_set_size (out, (guint) zs.total_out);
  deflateEnd (&zs);
  return out;
}

/* A file of @header followed by @data (gzip-compressed here when @gz). */
char *
write_nrrd (const char *name, const char *header, const void *data, gsize n, gboolean gz)
{
  g_autoptr (GByteArray) b = g_byte_array_new ();
  g_byte_array_append (b, (const guint8 *) header, (guint) strlen (header));
  if (gz)
    {
      g_autoptr (GByteArray) z = gzip_bytes (data, n);
      g_byte_array_append (b, z->data, z->len);
    }
  else if (n > 0)
    g_byte_array_append (b, data, (guint) n);
  return write_file (name, b->data, b->len);
}

GError *
read_error (const char *path, const NrrdReadOptions *opt)
{
  GError *error = NULL;
  LabelTable *t = NULL;
  LabelVolume *v = nrrd_read (path, opt, &t, NULL, &error);
  g_assert_null (v);
  g_assert_null (t);
  g_assert_nonnull (error);
  return error;
}

/* nrrd_read must fail on @path with @code, naming @path (or @named) and saying @words. */
void
expect_error (const char *path, int code, const char *words, const char *named)
{
  g_autoptr (GError) e = read_error (path, NULL);
  g_test_message ("%s", e->message);
  if (!g_error_matches (e, NRRD_ERROR, code))
    g_error ("%s: expected NRRD error %d, got %s %d: %s", path, code, g_quark_to_string (e->domain), e->code,
             e->message);
  g_assert_nonnull (strstr (e->message, named ? named : path));
  if (words)
    g_assert_nonnull (strstr (e->message, words));
}

LabelVolume *
read_ok (const char *path, LabelTable **t, NrrdReadInfo *info)
{
  g_autoptr (GError) error = NULL;
  LabelVolume *v = nrrd_read (path, NULL, t, info, &error);
  g_assert_no_error (error);
  g_assert_nonnull (v);
  return v;
}

/* A 23×17×11 volume with an oblique, anisotropic, shifted affine (RAS) and a pattern of
 * labels up to @max_label (negative ones too when @negative). */
LabelVolume *
make_volume (int bpv, int32_t max_label, gboolean negative)
{
  LabelVolume *v = test_oblique_volume (bpv);
  for (int64_t k = 0; k < v->nz; k++)
    for (int64_t j = 0; j < v->ny; j++)
      for (int64_t i = 0; i < v->nx; i++)
        {
          int32_t l = (int32_t) ((i * 7 + j * 3 + k * 13) % 40);
          l = l * (max_label / 39);
          if (negative && (i + j) % 5 == 0)
            l = -l;
          lv_volume_set (v, i, j, k, l);
        }
  lv_volume_set (v, 0, 0, 0, max_label);
  return v;
}

void
assert_same_volume (const LabelVolume *a, const LabelVolume *b, double tol)
{
  g_assert_cmpint (a->nx, ==, b->nx);
  g_assert_cmpint (a->ny, ==, b->ny);
  g_assert_cmpint (a->nz, ==, b->nz);
  for (int64_t i = 0; i < lv_volume_n_voxels (a); i++)
    if (lv_volume_get_index (a, i) != lv_volume_get_index (b, i))
      g_error ("voxel %" G_GINT64_FORMAT " differs: %d vs %d", i, lv_volume_get_index (a, i), lv_volume_get_index (b, i));
  double worst = 0;
  for (int r = 0; r < 4; r++)
    for (int c = 0; c < 4; c++)
      worst = MAX (worst, fabs (a->affine[r][c] - b->affine[r][c]));
  if (worst > tol)
    g_error ("affines differ by %g (tolerance %g)", worst, tol);
}

void
assert_affine (const LabelVolume *v, const double want[3][4], double tol)
{
  for (int r = 0; r < 3; r++)
    for (int c = 0; c < 4; c++)
      if (fabs (v->affine[r][c] - want[r][c]) > tol)
        g_error ("affine[%d][%d] = %.17g, expected %.17g", r, c, v->affine[r][c], want[r][c]);
  g_assert_cmpfloat (v->affine[3][3], ==, 1);
}
