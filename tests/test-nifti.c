/* test-nifti.c: NIfTI round trips, header preservation, safe writes and hostile input. */
#include "nifti.h"
#define TEST_UTIL_VOLUME
#include "test-util.h"

#include <glib/gstdio.h>
#include <math.h>
#include <string.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

static char *tmpdir;

static char *
tmp_path (const char *name)
{
  return g_build_filename (tmpdir, name, NULL);
}

/* test_oblique_volume with a label pattern whose largest value is @max_label. */
static LabelVolume *
make_volume (int bytes_per_voxel, int32_t max_label)
{
  LabelVolume *v = test_oblique_volume (bytes_per_voxel);
  for (int64_t k = 0; k < v->nz; k++)
    for (int64_t j = 0; j < v->ny; j++)
      for (int64_t i = 0; i < v->nx; i++)
        lv_volume_set (v, i, j, k, (int32_t) ((i * 7 + j * 3 + k * 13) % (max_label + 1)));
  lv_volume_set (v, 0, 0, 0, max_label);
  return v;
}

static void
assert_same_volume (const LabelVolume *a, const LabelVolume *b, double affine_tol)
{
  g_assert_cmpint (a->nx, ==, b->nx);
  g_assert_cmpint (a->ny, ==, b->ny);
  g_assert_cmpint (a->nz, ==, b->nz);
  g_assert_cmpint (a->bytes_per_voxel, ==, b->bytes_per_voxel);
  for (int64_t i = 0; i < lv_volume_n_voxels (a); i++)
    if (lv_volume_get_index (a, i) != lv_volume_get_index (b, i))
      g_error ("voxel %" G_GINT64_FORMAT " differs: %d vs %d", i, lv_volume_get_index (a, i),
               lv_volume_get_index (b, i));
  for (int r = 0; r < 4; r++)
    for (int c = 0; c < 4; c++)
      g_assert_cmpfloat_with_epsilon (a->affine[r][c], b->affine[r][c], affine_tol);
  for (int r = 0; r < 3; r++)
    g_assert_cmpfloat_with_epsilon (a->spacing[r], b->spacing[r], affine_tol);
}

typedef struct {
  const char *suffix;
  NiftiWriteFlags flags;
  int version;
} Form;

static const Form forms[] = {
  { ".nii", 0, 1 },
  { ".nii.gz", 0, 1 },
  { ".hdr", 0, 1 },
  { ".hdr.gz", 0, 1 },
  { ".nii", NIFTI_WRITE_NIFTI2, 2 },
  { ".nii.gz", NIFTI_WRITE_NIFTI2, 2 },
  { ".hdr", NIFTI_WRITE_NIFTI2, 2 },
};

static void
test_round_trip (void)
{
  const struct { int bpv; int32_t max; } kinds[] = { { 1, 255 }, { 2, 65535 }, { 4, 1000000 } };

  for (gsize k = 0; k < G_N_ELEMENTS (kinds); k++)
    for (gsize f = 0; f < G_N_ELEMENTS (forms); f++)
      {
        g_autoptr (LabelVolume) v = make_volume (kinds[k].bpv, kinds[k].max);
        g_autofree char *name = g_strdup_printf ("rt-%d-%zu%s", kinds[k].bpv, f, forms[f].suffix);
        g_autofree char *path = tmp_path (name);
        g_autoptr (GError) error = NULL;
        g_test_message ("round trip %s", name);
        g_assert_true (nifti_write (v, path, forms[f].flags, &error));
        g_assert_no_error (error);
        g_autoptr (LabelVolume) r = nifti_read (path, NULL, &error);
        g_assert_no_error (error);
        /* NIfTI-1 stores the affine in float32 */
        assert_same_volume (v, r, forms[f].version == 1 ? 1e-5 : 1e-12);
        NiftiInfo info;
        g_assert_true (nifti_source_get_info (r->source, &info));
        g_assert_cmpint (info.version, ==, forms[f].version);
        g_assert_cmpint (info.gzipped, ==, g_str_has_suffix (name, ".gz"));
        g_assert_cmpint (info.pair, ==, strstr (name, ".hdr") != NULL);

        /* written again from the read volume: the same geometry */
        g_autofree char *again = g_strconcat (path, "-again.nii", NULL);
        g_assert_true (nifti_write (r, again, NIFTI_WRITE_NIFTI2, &error));
        g_autoptr (LabelVolume) r2 = nifti_read (again, NULL, &error);
        g_assert_no_error (error);
        assert_same_volume (r, r2, 1e-6);
      }
}

/* The header of the source (description, units, intent, extensions) survives a write. */
static void
test_header_preserved (void)
{
  g_autoptr (LabelVolume) v = make_volume (1, 12);
  g_autofree char *p1 = tmp_path ("keep1.nii");
  g_autofree char *p2 = tmp_path ("keep2.nii.gz");
  g_autoptr (GError) error = NULL;

  g_assert_true (nifti_write (v, p1, 0, &error));
  /* patch the description and add an extension by hand */
  g_autofree char *bytes = NULL;
  gsize len;
  g_assert_true (g_file_get_contents (p1, &bytes, &len, NULL));
  float vox_offset;
  memcpy (&vox_offset, bytes + 108, 4);
  const char *xml = "<LabelTable><Label Key=\"1\">x</Label></LabelTable>";
  int32_t esize = (int32_t) ((8 + strlen (xml) + 15) / 16 * 16), ecode = 0;
  GByteArray *out = g_byte_array_new ();
  g_byte_array_append (out, (guint8 *) bytes, 348);
  memset (out->data + 148, 0, 80);
  memcpy (out->data + 148, "patient 42 reconstruction", 25);
  out->data[123] = 2 | 8; /* mm and seconds */
  guint8 extender[4] = { 1, 0, 0, 0 };
  g_byte_array_append (out, extender, 4);
  g_byte_array_append (out, (guint8 *) &esize, 4);
  g_byte_array_append (out, (guint8 *) &ecode, 4);
  g_byte_array_append (out, (guint8 *) xml, strlen (xml));
  guint8 zeros[16] = { 0 };
  g_byte_array_append (out, zeros, esize - 8 - strlen (xml));
  float new_offset = (float) out->len;
  memcpy (out->data + 108, &new_offset, 4);
  g_byte_array_append (out, (guint8 *) bytes + (gsize) vox_offset, len - (gsize) vox_offset);
  g_assert_true (g_file_set_contents (p1, (char *) out->data, out->len, NULL));
  g_byte_array_unref (out);

  g_autoptr (LabelVolume) r = nifti_read (p1, NULL, &error);
  g_assert_no_error (error);
  assert_same_volume (v, r, 1e-5);
  g_assert_true (nifti_write (r, p2, 0, &error));
  g_autoptr (LabelVolume) r2 = nifti_read (p2, NULL, &error);
  g_assert_no_error (error);
  NiftiInfo info;
  nifti_source_get_info (r2->source, &info);
  g_assert_cmpstr (info.descrip, ==, "patient 42 reconstruction");
  g_assert_cmpint (info.xyzt_units, ==, 2 | 8);
  g_assert_cmpint (info.n_extensions, ==, 1);
  int n;
  const NiftiExtension *ext = nifti_source_get_extensions (r2->source, &n);
  g_assert_cmpint (n, ==, 1);
  g_assert_cmpint (ext[0].ecode, ==, 0);
  g_assert_nonnull (strstr ((const char *) ext[0].data, "<Label Key=\"1\">x</Label>"));
  assert_same_volume (v, r2, 1e-5);
}

static void
test_no_overwrite (void)
{
  g_autoptr (LabelVolume) v = make_volume (1, 5);
  g_autoptr (LabelVolume) w = make_volume (1, 9);
  g_autofree char *p = tmp_path ("exists.nii.gz");
  g_autoptr (GError) error = NULL;

  g_assert_true (nifti_write (v, p, 0, &error));
  g_assert_false (nifti_write (w, p, 0, &error));
  g_assert_error (error, NIFTI_ERROR, NIFTI_ERROR_EXISTS);
  g_assert_nonnull (strstr (error->message, p));
  g_clear_error (&error);
  g_autoptr (LabelVolume) r = nifti_read (p, NULL, &error);
  assert_same_volume (v, r, 1e-5); /* untouched */
  g_assert_true (nifti_write (w, p, NIFTI_WRITE_OVERWRITE, &error));
  g_autoptr (LabelVolume) r2 = nifti_read (p, NULL, &error);
  assert_same_volume (w, r2, 1e-5);

  /* the image half of an existing pair blocks the write too */
  g_autofree char *hdr = tmp_path ("pair.hdr");
  g_autofree char *img = tmp_path ("pair.img");
  g_assert_true (g_file_set_contents (img, "precious", -1, NULL));
  g_assert_false (nifti_write (v, hdr, 0, &error));
  g_assert_error (error, NIFTI_ERROR, NIFTI_ERROR_EXISTS);
  g_clear_error (&error);
  g_autofree char *content = NULL;
  g_assert_true (g_file_get_contents (img, &content, NULL, NULL));
  g_assert_cmpstr (content, ==, "precious");
  g_assert_false (g_file_test (hdr, G_FILE_TEST_EXISTS));

  /* no temporary files left behind */
  g_autoptr (GDir) dir = g_dir_open (tmpdir, 0, NULL);
  const char *name;
  while ((name = g_dir_read_name (dir)))
    g_assert_false (name[0] == '.');
}

static void
test_write_failure_keeps_old (void)
{
  if (geteuid () == 0)
    {
      /* root ignores directory permissions; the read-only case is covered by the hardening suite */
      g_test_skip ("running as root: directory permissions are not enforced");
      return;
    }
  g_autofree char *dir = tmp_path ("ro");
  g_mkdir (dir, 0755);
  g_autofree char *p = g_build_filename (dir, "x.nii", NULL);
  g_autoptr (LabelVolume) v = make_volume (1, 5);
  g_autoptr (GError) error = NULL;
  g_assert_true (nifti_write (v, p, 0, &error));
  g_chmod (dir, 0555);
  g_autoptr (LabelVolume) w = make_volume (1, 9);
  g_assert_false (nifti_write (w, p, NIFTI_WRITE_OVERWRITE, &error));
  g_assert_error (error, NIFTI_ERROR, NIFTI_ERROR_IO);
  g_chmod (dir, 0755);
  g_clear_error (&error);
  g_autoptr (LabelVolume) r = nifti_read (p, NULL, &error);
  assert_same_volume (v, r, 1e-5);
}

/* A disk that fills up mid-write (RLIMIT_FSIZE makes write() fail with EFBIG,
 * also for root): the old file, both halves of a pair, stays intact and no temporary
 * is left behind. */
static void
disk_full_keeps_old (const char *name, int n_files)
{
  g_autofree char *sub = g_strconcat ("full-", name, NULL);
  g_autofree char *dir = tmp_path (sub);
  g_mkdir (dir, 0755);
  g_autofree char *p = g_build_filename (dir, name, NULL);
  g_autoptr (LabelVolume) v = make_volume (1, 5);
  g_autoptr (GError) error = NULL;
  g_assert_true (nifti_write (v, p, 0, &error));

  g_autoptr (LabelVolume) big = lv_volume_new (64, 64, 64, NULL, 4, NULL);
  struct rlimit old, small = { 20000, 0 };
  getrlimit (RLIMIT_FSIZE, &old);
  small.rlim_max = old.rlim_max;
  void (*prev) (int) = signal (SIGXFSZ, SIG_IGN);
  g_assert_cmpint (setrlimit (RLIMIT_FSIZE, &small), ==, 0);
  gboolean ok = nifti_write (big, p, NIFTI_WRITE_OVERWRITE, &error);
  setrlimit (RLIMIT_FSIZE, &old);
  signal (SIGXFSZ, prev);
  g_assert_false (ok);
  g_assert_error (error, NIFTI_ERROR, NIFTI_ERROR_IO);
  g_test_message ("%s", error->message);
  g_assert_nonnull (strstr (error->message, dir));
  g_clear_error (&error);
  g_autoptr (LabelVolume) r = nifti_read (p, NULL, &error);
  g_assert_no_error (error);
  assert_same_volume (v, r, 1e-5);
  g_autoptr (GDir) d = g_dir_open (dir, 0, NULL);
  const char *entry;
  int n = 0;
  while ((entry = g_dir_read_name (d)))
    n++;
  g_assert_cmpint (n, ==, n_files);
}

static void
test_disk_full_keeps_old (void)
{
  disk_full_keeps_old ("x.nii", 1);
  disk_full_keeps_old ("x.hdr", 2);   /* the image half fails: neither half is replaced */
}

/* --- hostile input ------------------------------------------------------ */

/* A valid little NIfTI-1 header: 4×3×2 voxels in a .nii (vox_offset 352). */
static void
make_header (guint8 h[348], int datatype, int bitpix)
{
  test_nifti1_header (h, 4, 3, 2, datatype, bitpix);
}

static char *
write_file (const char *name, const void *data, gsize len)
{
  char *p = tmp_path (name);
  g_assert_true (g_file_set_contents (p, data, (gssize) len, NULL));
  return p;
}

static char *
write_gz (const char *name, const void *data, gsize len)
{
  char *p = tmp_path (name);
  gzFile gz = gzopen (p, "wb");
  g_assert_nonnull (gz);
  g_assert_cmpint (gzwrite (gz, data, (unsigned) len), ==, (int) len);
  gzclose (gz);
  return p;
}

static GByteArray *
nii_bytes (const guint8 h[348], const void *data, gsize len)
{
  GByteArray *b = g_byte_array_new ();
  guint8 ext[4] = { 0 };
  g_byte_array_append (b, h, 348);
  g_byte_array_append (b, ext, 4);
  g_byte_array_append (b, data, len);
  return b;
}

static void
expect_error (const char *path, int code, const char *fragment)
{
  g_autoptr (GError) error = NULL;
  NiftiReadOptions opt = { .max_voxels = 1 << 24 };
  g_autoptr (LabelVolume) v = nifti_read (path, &opt, &error);
  g_assert_null (v);
  g_assert_nonnull (error);
  g_test_message ("%s", error->message);
  g_assert_error (error, NIFTI_ERROR, code);
  g_assert_nonnull (strstr (error->message, path));
  if (fragment && !strstr (error->message, fragment))
    g_error ("message \"%s\" lacks \"%s\"", error->message, fragment);
}

static void
test_hostile (void)
{
  guint8 h[348], data[24];
  for (int i = 0; i < 24; i++)
    data[i] = (guint8) (i % 5);

  /* sanity: the template itself is valid, plain and gzipped */
  {
    make_header (h, 2, 8);
    g_autoptr (GByteArray) b = nii_bytes (h, data, 24);
    g_autofree char *p = write_file ("ok.nii", b->data, b->len);
    g_autofree char *pz = write_gz ("ok.nii.gz", b->data, b->len);
    g_autoptr (GError) error = NULL;
    g_autoptr (LabelVolume) v = nifti_read (p, NULL, &error);
    g_assert_no_error (error);
    g_assert_cmpint (lv_volume_get (v, 3, 2, 1), ==, 23 % 5);
    g_autoptr (LabelVolume) vz = nifti_read (pz, NULL, &error);
    g_assert_no_error (error);
    g_assert_cmpmem (v->data, 24, vz->data, 24);

    /* corrupt gzip: flip bytes in the middle of the deflate stream, and truncate it */
    g_autofree char *gzdata = NULL;
    gsize gzlen;
    g_assert_true (g_file_get_contents (pz, &gzdata, &gzlen, NULL));
    g_autofree char *cut = write_file ("cut.nii.gz", gzdata, gzlen / 2);
    expect_error (cut, NIFTI_ERROR_TRUNCATED, "truncated");
    for (gsize i = 12; i < gzlen - 8; i += 3)
      gzdata[i] ^= 0x5a;
    g_autofree char *bad = write_file ("corrupt.nii.gz", gzdata, gzlen);
    g_autoptr (GError) e2 = NULL;
    g_autoptr (LabelVolume) vb = nifti_read (bad, NULL, &e2);
    g_assert_null (vb);
    g_assert_true (g_error_matches (e2, NIFTI_ERROR, NIFTI_ERROR_CORRUPT)
                   || g_error_matches (e2, NIFTI_ERROR, NIFTI_ERROR_TRUNCATED)
                   || g_error_matches (e2, NIFTI_ERROR, NIFTI_ERROR_FORMAT));
    g_assert_nonnull (strstr (e2->message, bad));

    /* CRC mismatch in the trailer */
    g_autofree char *crcdata = NULL;
    g_assert_true (g_file_get_contents (pz, &crcdata, &gzlen, NULL));
    crcdata[gzlen - 8] ^= 0xff;
    g_autofree char *crc = write_file ("crc.nii.gz", crcdata, gzlen);
    expect_error (crc, NIFTI_ERROR_CORRUPT, "corrupt");
  }
  /* empty and tiny files */
  {
    g_autofree char *p = write_file ("empty.nii", "", 0);
    expect_error (p, NIFTI_ERROR_TRUNCATED, NULL);
    g_autofree char *p2 = write_file ("tiny.nii", "\x5c\x01\0\0abc", 7);
    expect_error (p2, NIFTI_ERROR_TRUNCATED, NULL);
  }
  /* bad magic */
  {
    make_header (h, 2, 8);
    memcpy (h + 344, "xyz\0", 4);
    g_autoptr (GByteArray) b = nii_bytes (h, data, 24);
    g_autofree char *p = write_file ("magic.nii", b->data, b->len);
    expect_error (p, NIFTI_ERROR_FORMAT, "magic");
  }
  /* not NIfTI at all */
  {
    guint8 junk[400];
    for (int i = 0; i < 400; i++)
      junk[i] = (guint8) (i * 37);
    g_autofree char *p = write_file ("junk.nii", junk, sizeof junk);
    expect_error (p, NIFTI_ERROR_FORMAT, "header size");
  }
  /* data shorter than declared */
  {
    make_header (h, 2, 8);
    g_autoptr (GByteArray) b = nii_bytes (h, data, 10);
    g_autofree char *p = write_file ("short.nii", b->data, b->len);
    expect_error (p, NIFTI_ERROR_TRUNCATED, "truncated");
    g_autofree char *pz = write_gz ("short.nii.gz", b->data, b->len);
    expect_error (pz, NIFTI_ERROR_TRUNCATED, "truncated");
  }
  /* vox_offset past the end, and inside the header */
  {
    make_header (h, 2, 8);
    float off = 1e6f;
    memcpy (h + 108, &off, 4);
    g_autoptr (GByteArray) b = nii_bytes (h, data, 24);
    g_autofree char *p = write_file ("offset.nii", b->data, b->len);
    expect_error (p, NIFTI_ERROR_TRUNCATED, "vox_offset");
    off = 100;
    memcpy (h + 108, &off, 4);
    g_autoptr (GByteArray) b2 = nii_bytes (h, data, 24);
    g_autofree char *p2 = write_file ("offset2.nii", b2->data, b2->len);
    expect_error (p2, NIFTI_ERROR_FORMAT, "vox_offset");
  }
  /* zero, negative and huge dimensions, and a 64-bit overflow in NIfTI-2 */
  {
    int16_t dims[][3] = { { 0, 3, 2 }, { 4, -3, 2 }, { 32767, 32767, 32767 } };
    int codes[] = { NIFTI_ERROR_FORMAT, NIFTI_ERROR_FORMAT, NIFTI_ERROR_TOO_LARGE };
    for (int t = 0; t < 3; t++)
      {
        make_header (h, 2, 8);
        memcpy (h + 42, dims[t], 6);
        g_autoptr (GByteArray) b = nii_bytes (h, data, 24);
        g_autofree char *name = g_strdup_printf ("dims%d.nii", t);
        g_autofree char *p = write_file (name, b->data, b->len);
        expect_error (p, codes[t], NULL);
      }
    int16_t ndim = 9;
    make_header (h, 2, 8);
    memcpy (h + 40, &ndim, 2);
    g_autoptr (GByteArray) b = nii_bytes (h, data, 24);
    g_autofree char *p = write_file ("ndim.nii", b->data, b->len);
    expect_error (p, NIFTI_ERROR_FORMAT, "dim[0]");
  }
  /* a gzip bomb's claim: 4096³ declared in a tiny gz file is refused before allocating */
  {
    make_header (h, 2, 8);
    int16_t dim[4] = { 3, 4096, 4096, 4096 };
    memcpy (h + 40, dim, 8);
    g_autoptr (GByteArray) b = nii_bytes (h, data, 24);
    g_autofree char *p = write_gz ("bomb.nii.gz", b->data, b->len);
    g_autoptr (GError) error = NULL;
    NiftiReadOptions opt = { .max_voxels = (int64_t) 1 << 40 };
    g_assert_null (nifti_read (p, &opt, &error));
    g_assert_error (error, NIFTI_ERROR, NIFTI_ERROR_TRUNCATED);
    g_assert_nonnull (strstr (error->message, "cannot hold"));
    /* and the default limit names the numbers */
    g_clear_error (&error);
    g_assert_null (nifti_read (p, NULL, &error));
    g_assert_error (error, NIFTI_ERROR, NIFTI_ERROR_TOO_LARGE);
    g_assert_nonnull (strstr (error->message, "68719476736 voxels"));
  }
  /* 4D with more than one volume; singleton 4th dimension is fine */
  {
    make_header (h, 2, 8);
    int16_t dim[5] = { 4, 4, 3, 1, 2 };
    memcpy (h + 40, dim, 10);
    g_autoptr (GByteArray) b = nii_bytes (h, data, 24);
    g_autofree char *p = write_file ("4d.nii", b->data, b->len);
    expect_error (p, NIFTI_ERROR_UNSUPPORTED, "3D");
    dim[3] = 2;
    dim[4] = 1;
    memcpy (h + 40, dim, 10);
    g_autoptr (GByteArray) b2 = nii_bytes (h, data, 24);
    g_autofree char *p2 = write_file ("4d1.nii", b2->data, b2->len);
    g_autoptr (GError) error = NULL;
    g_autoptr (LabelVolume) v = nifti_read (p2, NULL, &error);
    g_assert_no_error (error);
    g_assert_cmpint (v->nz, ==, 2);
  }
  /* unsupported datatypes */
  {
    make_header (h, 32, 64); /* complex64 */
    guint8 big[24 * 8] = { 0 };
    g_autoptr (GByteArray) b = nii_bytes (h, big, sizeof big);
    g_autofree char *p = write_file ("complex.nii", b->data, b->len);
    expect_error (p, NIFTI_ERROR_UNSUPPORTED, "complex64");
    make_header (h, 1234, 8);
    g_autoptr (GByteArray) b2 = nii_bytes (h, big, sizeof big);
    g_autofree char *p2 = write_file ("dtype.nii", b2->data, b2->len);
    expect_error (p2, NIFTI_ERROR_UNSUPPORTED, "1234");
  }
  /* float data: integral is fine, fractional or NaN is not a label map */
  {
    float f[24];
    for (int i = 0; i < 24; i++)
      f[i] = (float) (i % 4);
    make_header (h, 16, 32);
    g_autoptr (GByteArray) b = nii_bytes (h, f, sizeof f);
    g_autofree char *p = write_file ("float-ok.nii", b->data, b->len);
    g_autoptr (GError) error = NULL;
    g_autoptr (LabelVolume) v = nifti_read (p, NULL, &error);
    g_assert_no_error (error);
    g_assert_cmpint (lv_volume_get (v, 3, 0, 0), ==, 3);
    f[5] = 2.5f;
    g_autoptr (GByteArray) b2 = nii_bytes (h, f, sizeof f);
    g_autofree char *p2 = write_file ("float-frac.nii", b2->data, b2->len);
    expect_error (p2, NIFTI_ERROR_NOT_LABELS, "non-integral value 2.5");
    f[5] = NAN;
    g_autoptr (GByteArray) b3 = nii_bytes (h, f, sizeof f);
    g_autofree char *p3 = write_file ("float-nan.nii", b3->data, b3->len);
    expect_error (p3, NIFTI_ERROR_NOT_LABELS, "not a label map");
    /* integral values scaled to fractions */
    f[5] = 1;
    float slope = 0.5f;
    memcpy (h + 112, &slope, 4);
    g_autoptr (GByteArray) b4 = nii_bytes (h, f, sizeof f);
    g_autofree char *p4 = write_file ("float-scaled.nii", b4->data, b4->len);
    expect_error (p4, NIFTI_ERROR_NOT_LABELS, "scl_slope");
  }
  /* an sform with absurd values (found by fuzzing: accepted, then unwritable) */
  {
    make_header (h, 2, 8);
    int16_t code = 1;
    float srow[12] = { 1e38f, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0 };
    memcpy (h + 254, &code, 2);
    memcpy (h + 280, srow, sizeof srow);
    g_autoptr (GByteArray) b = nii_bytes (h, data, 24);
    g_autofree char *p = write_file ("sform.nii", b->data, b->len);
    expect_error (p, NIFTI_ERROR_FORMAT, "sform");
    srow[0] = NAN;
    memcpy (h + 280, srow, sizeof srow);
    g_autoptr (GByteArray) b2 = nii_bytes (h, data, 24);
    g_autofree char *p2 = write_file ("sform-nan.nii", b2->data, b2->len);
    expect_error (p2, NIFTI_ERROR_FORMAT, "sform");
  }
  /* lying extension size */
  {
    make_header (h, 2, 8);
    GByteArray *b = g_byte_array_new ();
    float off = 352 + 32;
    memcpy (h + 108, &off, 4);
    g_byte_array_append (b, h, 348);
    guint8 ext[4] = { 1, 0, 0, 0 };
    int32_t esize = 1 << 30, ecode = 4;
    g_byte_array_append (b, ext, 4);
    g_byte_array_append (b, (guint8 *) &esize, 4);
    g_byte_array_append (b, (guint8 *) &ecode, 4);
    guint8 pad[24] = { 0 };
    g_byte_array_append (b, pad, 24);
    g_byte_array_append (b, data, 24);
    g_autofree char *p = write_file ("ext.nii", b->data, b->len);
    g_byte_array_unref (b);
    expect_error (p, NIFTI_ERROR_FORMAT, "extension");
  }
  /* missing files */
  {
    g_autofree char *p = tmp_path ("does-not-exist.nii.gz");
    expect_error (p, NIFTI_ERROR_IO, "cannot open");
    g_autofree char *hdr = tmp_path ("lonely.hdr");
    make_header (h, 2, 8);
    memcpy (h + 344, "ni1\0", 4);
    g_assert_true (g_file_set_contents (hdr, (char *) h, 348, NULL));
    expect_error (hdr, NIFTI_ERROR_IO, "image file");
  }
}

/* Big-endian files: header and data swapped, read back identical. */
static void
test_big_endian (void)
{
  guint8 h[348];
  int16_t d16[24];
  for (int i = 0; i < 24; i++)
    d16[i] = (int16_t) (i * 100);
  make_header (h, 4, 16);
  /* swap every header field we set: sizeof_hdr, dim, datatype, bitpix, pixdim, vox_offset */
  guint8 sw[348];
  memcpy (sw, h, 348);
#define SWAP_AT(off, n) do { for (int q = 0; q < (n) / 2; q++) { guint8 t = sw[(off) + q]; \
  sw[(off) + q] = sw[(off) + (n) - 1 - q]; sw[(off) + (n) - 1 - q] = t; } } while (0)
  SWAP_AT (0, 4);
  for (int i = 0; i < 8; i++)
    {
      SWAP_AT (40 + 2 * i, 2);
      SWAP_AT (76 + 4 * i, 4);
    }
  SWAP_AT (70, 2);
  SWAP_AT (72, 2);
  SWAP_AT (108, 4);
#undef SWAP_AT
  int16_t be[24];
  for (int i = 0; i < 24; i++)
    be[i] = (int16_t) GUINT16_SWAP_LE_BE ((guint16) d16[i]);
  g_autoptr (GByteArray) b = nii_bytes (sw, be, sizeof be);
  g_autofree char *p = write_file ("be.nii", b->data, b->len);
  g_autoptr (GError) error = NULL;
  g_autoptr (LabelVolume) v = nifti_read (p, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpint (v->bytes_per_voxel, ==, 2);
  for (int i = 0; i < 24; i++)
    g_assert_cmpint (lv_volume_get_index (v, i), ==, i * 100);
  NiftiInfo info;
  nifti_source_get_info (v->source, &info);
  g_assert_true (info.byte_swapped);
  g_assert_cmpstr (info.datatype_name, ==, "int16");
}

static void
test_paths (void)
{
  static const char *const stems[][2] = {   /* path, its stem */
    { "/x/y/aal.nii.gz", "/x/y/aal" }, { "/x/y/scan.HDR", "/x/y/scan" }, { "/x/y/scan.img.gz", "/x/y/scan" },
  };
  for (gsize i = 0; i < G_N_ELEMENTS (stems); i++)
    {
      g_autofree char *stem = nifti_path_stem (stems[i][0]);
      g_assert_cmpstr (stem, ==, stems[i][1]);
    }
  g_assert_true (nifti_path_is_supported ("a.nii.gz"));
  g_assert_false (nifti_path_is_supported ("a.png"));
}

static const TestCase test_cases[] = {
  { "/nifti/round-trip", test_round_trip },
  { "/nifti/header-preserved", test_header_preserved },
  { "/nifti/no-overwrite", test_no_overwrite },
  { "/nifti/write-failure-keeps-old", test_write_failure_keeps_old },
  { "/nifti/disk-full-keeps-old", test_disk_full_keeps_old },
  { "/nifti/hostile", test_hostile },
  { "/nifti/big-endian", test_big_endian },
  { "/nifti/paths", test_paths },
};

TEST_UTIL_MAIN_TMPDIR (test_cases, "test-nifti-XXXXXX", NULL)
