/* test-nrrd-read.c: NRRD geometry against NIfTI, every space, oblique axes, every type,
 * byte order and encoding, detached headers, and hostile input. */
#include "test-nrrd-util.h"

#include <glib/gstdio.h>
#include <math.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* An LPS NRRD written by hand and the same data as RAS NIfTI give the same affine. */
void
test_lps_vs_nifti (void)
{
  g_autoptr (LabelVolume) v = make_volume (1, 39, FALSE);
  g_autofree char *nii = tmp_path ("same.nii.gz");
  g_autoptr (GError) error = NULL;
  g_assert_true (nifti_write (v, nii, 0, &error));
  g_autoptr (LabelVolume) fromnii = nifti_read (nii, NULL, &error);
  g_assert_no_error (error);
  const double (*a)[4] = v->affine;
  g_autofree char *hdr = g_strdup_printf (
    "NRRD0005\n# by hand\ntype: uchar\ndimension: 3\nspace: LPS\nsizes: 23 17 11\n"
    "space directions: (%.17g,%.17g,%.17g) (%.17g,%.17g,%.17g) (%.17g, %.17g, %.17g)\n"
    "kinds: domain domain domain\nencoding: raw\nspace origin: (%.17g,%.17g,%.17g)\n\n",
    -a[0][0], -a[1][0], a[2][0], -a[0][1], -a[1][1], a[2][1], -a[0][2], -a[1][2], a[2][2], -a[0][3], -a[1][3], a[2][3]);
  g_autofree char *p = write_nrrd ("lps.nrrd", hdr, v->data, 23 * 17 * 11, FALSE);
  g_autoptr (LabelVolume) w = read_ok (p, NULL, NULL);
  assert_same_volume (fromnii, w, 1e-5); /* NIfTI keeps float32 */
  assert_same_volume (v, w, 1e-12);
}

typedef struct {
  const char *space_lines;
  double want[3][4];
} SpaceCase;

void
test_spaces (void)
{
  guint8 data[24];
  for (int i = 0; i < 24; i++)
    data[i] = (guint8) i;
  const char *dirs = "space directions: (1,0,0) (0,2,0) (0,0,3)\nspace origin: (10,20,30)\n";
  const SpaceCase cases[] = {
    { "space: right-anterior-superior\n", { { 1, 0, 0, 10 }, { 0, 2, 0, 20 }, { 0, 0, 3, 30 } } },
    { "space: RAS\n", { { 1, 0, 0, 10 }, { 0, 2, 0, 20 }, { 0, 0, 3, 30 } } },
    { "space: left-anterior-superior\n", { { -1, 0, 0, -10 }, { 0, 2, 0, 20 }, { 0, 0, 3, 30 } } },
    { "space: LAS\n", { { -1, 0, 0, -10 }, { 0, 2, 0, 20 }, { 0, 0, 3, 30 } } },
    { "space: left-posterior-superior\n", { { -1, 0, 0, -10 }, { 0, -2, 0, -20 }, { 0, 0, 3, 30 } } },
    { "space: Left-Posterior-Superior\n", { { -1, 0, 0, -10 }, { 0, -2, 0, -20 }, { 0, 0, 3, 30 } } },
    { "space: scanner-xyz\n", { { -1, 0, 0, -10 }, { 0, -2, 0, -20 }, { 0, 0, 3, 30 } } },
    { "space: 3D-right-handed\n", { { -1, 0, 0, -10 }, { 0, -2, 0, -20 }, { 0, 0, 3, 30 } } },
    { "space dimension: 3\n", { { -1, 0, 0, -10 }, { 0, -2, 0, -20 }, { 0, 0, 3, 30 } } },
  };
  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autofree char *h = g_strdup_printf ("NRRD0004\ntype: uint8\ndimension: 3\nsizes: 2 3 4\n%s%sencoding: raw\n\n",
                                            cases[i].space_lines, dirs);
      g_autofree char *p = write_nrrd ("space.nrrd", h, data, 24, FALSE);
      g_autoptr (LabelVolume) v = read_ok (p, NULL, NULL);
      assert_affine (v, cases[i].want, 0);
      g_assert_cmpfloat (v->spacing[1], ==, 2);
      g_assert_cmpint (lv_volume_get (v, 1, 2, 3), ==, 1 + 2 * (2 + 3 * 3));
    }
  /* spacings only: taken as LPS with the origin at 0 (as ITK / 3D Slicer); nan means 1 */
  {
    const char *h = "NRRD0001\ntype: uchar\ndimension: 3\nsizes: 2 3 4\nspacings: 0.5 nan 4\nencoding: raw\n\n";
    g_autofree char *p = write_nrrd ("spacings.nrrd", h, data, 24, FALSE);
    g_autoptr (LabelVolume) v = read_ok (p, NULL, NULL);
    const double want[3][4] = { { -0.5, 0, 0, 0 }, { 0, -1, 0, 0 }, { 0, 0, 4, 0 } };
    assert_affine (v, want, 0);
  }
  /* neither: unit spacing */
  {
    const char *h = "NRRD0001\ntype: uchar\ndimension: 3\nsizes: 2 3 4\nencoding: raw\n\n";
    g_autofree char *p = write_nrrd ("nospace.nrrd", h, data, 24, FALSE);
    g_autoptr (LabelVolume) v = read_ok (p, NULL, NULL);
    const double want[3][4] = { { -1, 0, 0, 0 }, { 0, -1, 0, 0 }, { 0, 0, 1, 0 } };
    assert_affine (v, want, 0);
  }
  /* a time-varying space is refused */
  {
    const char *h = "NRRD0004\ntype: uchar\ndimension: 3\nsizes: 2 3 4\nspace: RAST\nencoding: raw\n\n";
    g_autofree char *p = write_nrrd ("rast.nrrd", h, data, 24, FALSE);
    expect_error (p, NRRD_ERROR_UNSUPPORTED, "time", NULL);
  }
}

void
test_oblique (void)
{
  /* rotation by 30° about (1,1,1)/sqrt(3), anisotropic spacing, LPS */
  double ax[3] = { 1 / sqrt (3), 1 / sqrt (3), 1 / sqrt (3) }, th = G_PI / 6, c = cos (th), s = sin (th);
  double R[3][3];
  for (int i = 0; i < 3; i++)
    for (int j = 0; j < 3; j++)
      {
        R[i][j] = (i == j ? c : 0) + (1 - c) * ax[i] * ax[j];
        int k = 3 - i - j;
        if (i != j)
          R[i][j] += ((j == (i + 1) % 3) ? -1 : 1) * s * ax[k];
      }
  const double sp[3] = { 0.6, 0.9, 2.5 }, org[3] = { -33.25, 101.5, -7.125 };
  GString *h = g_string_new ("NRRD0004\ntype: short\nendian: little\ndimension: 3\nspace: left-posterior-superior\n"
                             "sizes: 4 3 2\nspace directions:");
  for (int col = 0; col < 3; col++)
    g_string_append_printf (h, " (%.17g,%.17g,%.17g)", R[0][col] * sp[col], R[1][col] * sp[col], R[2][col] * sp[col]);
  g_string_append_printf (h, "\nspace origin: (%.17g,%.17g,%.17g)\nencoding: gzip\n\n", org[0], org[1], org[2]);
  gint16 data[24];
  for (int i = 0; i < 24; i++)
    data[i] = (gint16) GINT16_TO_LE (i * 100 - 700);
  g_autofree char *p = write_nrrd ("oblique.nrrd", h->str, data, sizeof data, TRUE);
  g_string_free (h, TRUE);
  g_autoptr (LabelVolume) v = read_ok (p, NULL, NULL);
  double want[3][4];
  for (int r = 0; r < 3; r++)
    {
      double sign = r < 2 ? -1 : 1;
      for (int col = 0; col < 3; col++)
        want[r][col] = sign * R[r][col] * sp[col];
      want[r][3] = sign * org[r];
    }
  assert_affine (v, want, 1e-15);
  for (int a = 0; a < 3; a++)
    g_assert_cmpfloat_with_epsilon (v->spacing[a], sp[a], 1e-12);
  g_assert_cmpint (v->bytes_per_voxel, ==, 4);
  g_assert_cmpint (lv_volume_get (v, 3, 2, 1), ==, 23 * 100 - 700);
  /* and the writer keeps it exactly */
  g_autofree char *q = tmp_path ("oblique-out.nrrd");
  g_autoptr (GError) error = NULL;
  g_assert_true (nrrd_write (v, NULL, q, 0, &error));
  g_autoptr (LabelVolume) w = read_ok (q, NULL, NULL);
  assert_same_volume (v, w, 0);
}

/* Every integer type (and integral floats) in both byte orders and every encoding. */
typedef struct {
  const char *type;
  int size;
  gboolean is_float, is_signed;
} TypeCase;

static void
put_sample (guint8 *p, const TypeCase *t, int64_t v, gboolean big)
{
  guint8 b[8];
  if (t->is_float && t->size == 4)
    {
      float f = (float) v;
      memcpy (b, &f, 4);
    }
  else if (t->is_float)
    {
      double d = (double) v;
      memcpy (b, &d, 8);
    }
  else
    memcpy (b, &v, 8); /* little-endian host: low bytes first */
  for (int i = 0; i < t->size; i++)
    p[i] = b[(G_BYTE_ORDER == G_LITTLE_ENDIAN) == !big ? i : t->size - 1 - i];
}

void
test_types_encodings (void)
{
  g_assert_cmpint (G_BYTE_ORDER, ==, G_LITTLE_ENDIAN); /* put_sample assumes it */
  static const TypeCase types[] = {
    { "signed char", 1, FALSE, TRUE }, { "uchar", 1, FALSE, FALSE }, { "short", 2, FALSE, TRUE },
    { "unsigned short int", 2, FALSE, FALSE }, { "int", 4, FALSE, TRUE }, { "uint32_t", 4, FALSE, FALSE },
    { "long long", 8, FALSE, TRUE }, { "ulonglong", 8, FALSE, FALSE }, { "float", 4, TRUE, TRUE },
    { "double", 8, TRUE, TRUE },
  };
  static const char *const encodings[] = { "raw", "gzip", "gz", "hex", "ascii", "text" };
  const int n = 5 * 4 * 3;
  for (gsize ti = 0; ti < G_N_ELEMENTS (types); ti++)
    for (int big = 0; big < 2; big++)
      for (gsize ei = 0; ei < G_N_ELEMENTS (encodings); ei++)
        {
          const TypeCase *t = &types[ti];
          int64_t vals[60];
          int64_t top = t->size == 1 ? (t->is_signed ? 127 : 255) : t->size == 2 ? (t->is_signed ? 32767 : 65535)
                        : 2147483647;
          for (int i = 0; i < n; i++)
            {
              vals[i] = (i * 37) % 50;
              if (t->is_signed && i % 7 == 3)
                vals[i] = -vals[i];
            }
          vals[5] = top;
          if (t->is_float && t->size == 4)
            vals[5] = 16777216; /* exact in float */
          g_autoptr (GByteArray) raw = g_byte_array_new ();
          g_byte_array_set_size (raw, (guint) (n * t->size));
          for (int i = 0; i < n; i++)
            put_sample (raw->data + i * t->size, t, vals[i], big);
          gboolean text = ei >= 4, hex = ei == 3;
          GString *body = g_string_new (NULL);
          if (text)
            for (int i = 0; i < n; i++)
              g_string_append_printf (body, "%" G_GINT64_FORMAT "%s", vals[i], i % 5 == 4 ? "\n" : (i % 3 ? " " : ", "));
          else if (hex)
            for (int i = 0; i < n * t->size; i++)
              g_string_append_printf (body, "%02x%s", raw->data[i], i % 16 == 15 ? "\n" : "");
          g_autofree char *h = g_strdup_printf ("NRRD0004\ntype: %s\ndimension: 3\nsizes: 5 4 3\nencoding: %s\n%s\n",
                                                t->type, encodings[ei],
                                                big ? "endian: big\n" : "endian: little\n");
          g_autofree char *p = (text || hex) ? write_nrrd ("types.nrrd", h, body->str, body->len, FALSE)
                                             : write_nrrd ("types.nrrd", h, raw->data, raw->len, ei == 1 || ei == 2);
          g_string_free (body, TRUE);
          g_autoptr (GError) error = NULL;
          NrrdReadInfo info;
          g_autoptr (LabelVolume) v = nrrd_read (p, NULL, NULL, &info, &error);
          if (error)
            g_error ("%s %s %s: %s", t->type, big ? "big" : "little", encodings[ei], error->message);
          for (int i = 0; i < n; i++)
            if (lv_volume_get_index (v, i) != vals[i])
              g_error ("%s %s %s: sample %d is %d, expected %" G_GINT64_FORMAT, t->type, big ? "big" : "little",
                       encodings[ei], i, lv_volume_get_index (v, i), vals[i]);
          g_assert_cmpstr (info.encoding, ==, ei == 2 ? "gzip" : ei == 5 ? "ascii" : encodings[ei]);
          nrrd_read_info_clear (&info);
        }
  /* non-integral floats and values beyond int32 are not labels */
  {
    float f[8] = { 0, 1, 2, 2.5f, 0, 0, 0, 0 };
    g_autofree char *p = write_nrrd ("frac.nrrd", "NRRD0004\ntype: float\nendian: little\ndimension: 3\nsizes: 2 2 2\n"
                                     "encoding: raw\n\n", f, sizeof f, FALSE);
    expect_error (p, NRRD_ERROR_NOT_LABELS, "non-integral", NULL);
    f[3] = NAN;
    g_autofree char *q = write_nrrd ("nan.nrrd", "NRRD0004\ntype: float\nendian: little\ndimension: 3\nsizes: 2 2 2\n"
                                     "encoding: raw\n\n", f, sizeof f, FALSE);
    expect_error (q, NRRD_ERROR_NOT_LABELS, "(1,1,0)", NULL);
    guint32 u[8] = { 0, 1, 3000000000u, 0, 0, 0, 0, 0 };
    g_autofree char *r = write_nrrd ("u32.nrrd", "NRRD0004\ntype: uint\nendian: little\ndimension: 3\nsizes: 2 2 2\n"
                                     "encoding: raw\n\n", u, sizeof u, FALSE);
    expect_error (r, NRRD_ERROR_NOT_LABELS, "3000000000", NULL);
    g_autofree char *s = write_nrrd ("ascii-bad.nrrd", "NRRD0004\ntype: uchar\ndimension: 3\nsizes: 2 2 2\n"
                                     "encoding: ascii\n\n", "1 2 3 300 5 6 7 8\n", 18, FALSE);
    expect_error (s, NRRD_ERROR_FORMAT, "\"300\"", NULL);
    g_autofree char *x = write_nrrd ("hex-bad.nrrd", "NRRD0004\ntype: uchar\ndimension: 3\nsizes: 2 2 2\n"
                                     "encoding: hex\n\n", "0001020g04050607\n", 17, FALSE);
    expect_error (x, NRRD_ERROR_FORMAT, "hex digit", NULL);
  }
}

/* @hp holding a detached header of a 5×4×3 uint8 volume with @encoding and @data_file,
 * then the lines @more. */
static void
write_detached_header (const char *hp, const char *encoding, const char *data_file, const char *more)
{
  g_autofree char *h = g_strdup_printf ("NRRD0004\ntype: uint8\ndimension: 3\nsizes: 5 4 3\nspace: RAS\n"
                                        "space directions: (2,0,0) (0,2,0) (0,0,2)\nencoding: %s\ndata file: %s\n%s",
                                        encoding, data_file, more);
  g_assert_true (g_file_set_contents (hp, h, -1, NULL));
}

/* @dir/@name holding the @n bytes of @data, gzip-compressed here when @gz; its path (to
 * free). */
static char *
write_data_file (const char *dir, const char *name, const void *data, gsize n, gboolean gz)
{
  g_autoptr (GByteArray) z = gz ? gzip_bytes (data, n) : NULL;
  char *path = g_build_filename (dir, name, NULL);
  g_assert_true (g_file_set_contents (path, z != NULL ? (const char *) z->data : data, z != NULL ? z->len : n, NULL));
  return path;
}

/* The @len bytes of @junk, then the @n bytes of @data: a data file with bytes to skip. */
static GByteArray *
bytes_after_junk (const char *junk, guint len, const guint8 *data, guint n)
{
  GByteArray *b = g_byte_array_sized_new (len + n);
  g_byte_array_append (b, (const guint8 *) junk, len);
  g_byte_array_append (b, data, n);
  return b;
}

void
test_detached (void)
{
  guint8 data[60];
  for (int i = 0; i < 60; i++)
    data[i] = (guint8) (i % 9);
  g_autofree char *sub = tmp_path ("sub");
  g_mkdir_with_parents (sub, 0755);
  g_autofree char *raw = write_data_file (sub, "vol.raw", data, 60, FALSE);
  /* relative to the header's folder, with or without ./ ; absolute */
  const char *names[] = { "vol.raw", "./vol.raw", raw };
  for (gsize i = 0; i < G_N_ELEMENTS (names); i++)
    {
      g_autofree char *hp = g_build_filename (sub, "vol.nhdr", NULL);
      write_detached_header (hp, "raw", names[i], "");
      NrrdReadInfo info;
      g_autoptr (LabelVolume) v = read_ok (hp, NULL, &info);
      g_assert_true (info.detached);
      g_assert_cmpmem (v->data, 60, data, 60);
      nrrd_read_info_clear (&info);
    }
  /* gzip data file, line skip + byte skip, byte skip -1 */
  {
    g_autofree char *zp = write_data_file (sub, "vol.raw.gz", data, 60, TRUE);
    g_autofree char *hp = g_build_filename (sub, "gz.nhdr", NULL);
    write_detached_header (hp, "gzip", "vol.raw.gz", "");
    g_autoptr (LabelVolume) v = read_ok (hp, NULL, NULL);
    g_assert_cmpmem (v->data, 60, data, 60);

    /* gzip: byte skip counts decompressed bytes */
    g_autoptr (GByteArray) pre = bytes_after_junk ("junk", 4, data, 60);
    g_autofree char *zp2 = write_data_file (sub, "skip.raw.gz", pre->data, pre->len, TRUE);
    write_detached_header (hp, "gzip", "skip.raw.gz", "byte skip: 4\n");
    g_autoptr (LabelVolume) v2 = read_ok (hp, NULL, NULL);
    g_assert_cmpmem (v2->data, 60, data, 60);
  }
  {
    g_autoptr (GByteArray) b = bytes_after_junk ("P5\n# a pgm-like text header\n5 12\n255\nXYZ", 40, data, 60);
    g_autofree char *dp = write_data_file (sub, "skip.pgm", b->data, b->len, FALSE);
    g_autofree char *hp = g_build_filename (sub, "skip.nhdr", NULL);
    write_detached_header (hp, "raw", "skip.pgm", "line skip: 4\nbyte skip: 3\n");
    g_autoptr (LabelVolume) v = read_ok (hp, NULL, NULL);
    g_assert_cmpmem (v->data, 60, data, 60);
    write_detached_header (hp, "raw", "skip.pgm", "byte skip: -1\n");
    g_autoptr (LabelVolume) v2 = read_ok (hp, NULL, NULL);
    g_assert_cmpmem (v2->data, 60, data, 60);
    write_detached_header (hp, "raw", "skip.pgm", "line skip: 40\n");
    expect_error (hp, NRRD_ERROR_TRUNCATED, "line skip", dp);
    write_detached_header (hp, "gzip", "skip.pgm", "byte skip: -1\n");
    expect_error (hp, NRRD_ERROR_FORMAT, "byte skip", NULL);
  }
  /* missing data file, LIST, numbered files, a data file that is a device */
  {
    g_autofree char *hp = g_build_filename (sub, "bad.nhdr", NULL);
    write_detached_header (hp, "raw", "missing.raw", "");
    expect_error (hp, NRRD_ERROR_IO, "cannot open", "missing.raw");
    write_detached_header (hp, "raw", "LIST", "vol.raw\nvol.raw\n");
    expect_error (hp, NRRD_ERROR_UNSUPPORTED, "LIST", NULL);
    write_detached_header (hp, "raw", "slice%03d.raw 1 3 1 2", "");
    expect_error (hp, NRRD_ERROR_UNSUPPORTED, "numbered", NULL);
    write_detached_header (hp, "raw", "/dev/zero", "");
    expect_error (hp, NRRD_ERROR_IO, "not a regular file", "/dev/zero");
    /* lying sizes in the data file: the message names the data file */
    g_autofree char *h5 = g_strdup_printf ("NRRD0004\ntype: uint8\ndimension: 3\nsizes: 5 4 4\nencoding: raw\n"
                                           "data file: vol.raw\n");
    g_assert_true (g_file_set_contents (hp, h5, -1, NULL));
    expect_error (hp, NRRD_ERROR_TRUNCATED, "shorter than the sizes say", raw);
  }
}


static void
on_alarm (int sig)
{
  static const char msg[] = "test-nrrd: blocked (FIFO?)\n";
  if (write (2, msg, sizeof msg - 1) < 0)
    _exit (3);
  _exit (2);
}

void
test_hostile (void)
{
  guint8 data[60] = { 0 };
  const char *ok = "NRRD0004\ntype: uint8\ndimension: 3\nsizes: 5 4 3\nencoding: %s\n\n";
  /* lying sizes, raw and gzip */
  {
    g_autofree char *h = g_strdup_printf (ok, "raw");
    g_autofree char *p = write_nrrd ("short.nrrd", h, data, 59, FALSE);
    expect_error (p, NRRD_ERROR_TRUNCATED, "shorter than the sizes say", NULL);
    g_autofree char *hz = g_strdup_printf (ok, "gzip");
    g_autofree char *pz = write_nrrd ("short.nrrd", hz, data, 30, TRUE);
    expect_error (pz, NRRD_ERROR_TRUNCATED, "30 of 60 bytes", NULL);
    /* the other way: more data than the sizes: read, with a warning for gzip */
    g_autofree char *pl = write_nrrd ("long.nrrd", hz, data, 60, TRUE);
    g_autofree char *hl = g_strdup_printf ("NRRD0004\ntype: uint8\ndimension: 3\nsizes: 5 4 2\nencoding: gzip\n\n");
    g_autofree char *pl2 = write_nrrd ("long.nrrd", hl, data, 60, TRUE);
    NrrdReadInfo info;
    g_autoptr (LabelVolume) v = read_ok (pl2, NULL, &info);
    g_assert_nonnull (strstr (info.warnings, "20 bytes more"));
    nrrd_read_info_clear (&info);
  }
  /* truncated gzip (no end, no CRC), corrupt CRC, corrupt stream, gzip that is not */
  {
    g_autofree char *hz = g_strdup_printf (ok, "gzip");
    guint8 pattern[60];
    for (int i = 0; i < 60; i++)
      pattern[i] = (guint8) (i * 31 % 251);
    g_autoptr (GByteArray) z = gzip_bytes (pattern, 60);
    g_autoptr (GByteArray) f = g_byte_array_new ();
    g_byte_array_append (f, (const guint8 *) hz, (guint) strlen (hz));
    g_byte_array_append (f, z->data, z->len);
    g_autofree char *good = write_file ("gz-ok.nrrd", f->data, f->len);
    g_autoptr (LabelVolume) v = read_ok (good, NULL, NULL);
    g_assert_cmpmem (v->data, 60, pattern, 60);
    for (guint cut = 1; cut <= 8; cut++)
      {
        g_autofree char *p = write_file ("gz-cut.nrrd", f->data, f->len - cut);
        expect_error (p, NRRD_ERROR_TRUNCATED, "gzip stream is cut short", NULL);
      }
    g_autofree char *half = write_file ("gz-half.nrrd", f->data, f->len - z->len / 2);
    expect_error (half, NRRD_ERROR_TRUNCATED, "shorter than the sizes say", NULL);
    f->data[f->len - 8] ^= 0x55; /* CRC */
    g_autofree char *crc = write_file ("gz-crc.nrrd", f->data, f->len);
    expect_error (crc, NRRD_ERROR_CORRUPT, "incorrect data check", NULL);
    f->data[f->len - 8] ^= 0x55;
    f->data[f->len - 2] ^= 0x01; /* ISIZE */
    g_autofree char *len = write_file ("gz-len.nrrd", f->data, f->len);
    expect_error (len, NRRD_ERROR_CORRUPT, "incorrect length check", NULL);
    g_autofree char *notgz = write_nrrd ("gz-not.nrrd", hz, pattern, 60, FALSE);
    expect_error (notgz, NRRD_ERROR_CORRUPT, "corrupt", NULL);
  }
  /* encodings, types, dimensions */
  {
    static const char *const cases[][3] = {
      { "NRRD0004\ntype: uint8\ndimension: 3\nsizes: 5 4 3\nencoding: bzip2\n\n", "bzip2", "" },
      { "NRRD0004\ntype: uint8\ndimension: 3\nsizes: 5 4 3\nencoding: bz2\n\n", "bzip2", "" },
      { "NRRD0004\ntype: uint8\ndimension: 3\nsizes: 5 4 3\nencoding: zrl\n\n", "not supported", "" },
      { "NRRD0004\ntype: block\nblock size: 4\ndimension: 3\nsizes: 5 4 3\nencoding: raw\n\n", "block", "" },
      { "NRRD0004\ntype: complex\ndimension: 3\nsizes: 5 4 3\nencoding: raw\n\n", "unknown type", "F" },
      { "NRRD0004\ntype: uint8\ndimension: 2\nsizes: 12 5\nencoding: raw\n\n", "must be 3D", "" },
      { "NRRD0004\ntype: uint8\ndimension: 5\nsizes: 1 1 12 5 1\nencoding: raw\n\n", "must be 3D", "" },
      { "NRRD0004\ntype: short\ndimension: 3\nsizes: 5 2 3\nencoding: raw\n\n", "endian", "F" },
      { "NRRD0004\ntype: uint8\ndimension: 3\nsizes: 5 4\nencoding: raw\n\n", "lists 2 sizes", "F" },
      { "NRRD0004\ntype: uint8\ndimension: 3\nsizes: 5 0 3\nencoding: raw\n\n", "positive integer", "F" },
      { "NRRD0004\ntype: uint8\ndimension: 3\nsizes: 5 -4 3\nencoding: raw\n\n", "positive integer", "F" },
      { "NRRD0004\ntype: uint8\ndimension: 3\nsizes: 5 4x 3\nencoding: raw\n\n", "positive integer", "F" },
      { "NRRD0004\ntype: uint8\ndimension: 3\nencoding: raw\n\n", "\"sizes\" is missing", "F" },
      { "NRRD0004\ntype: uint8\ndimension: 3\nsizes: 5 4 3\n\n", "\"encoding\" is missing", "F" },
      { "NRRD0004\ntype: uint8\ntype: uint8\ndimension: 3\nsizes: 5 4 3\nencoding: raw\n\n", "second time", "F" },
      { "NRRD0009\ntype: uint8\ndimension: 3\nsizes: 5 4 3\nencoding: raw\n\n", "magic", "" },
      { "NRRDXXXX\ntype: uint8\n\n", "magic", "" },
      { "nrrd0004\ntype: uint8\n\n", "not a NRRD file", "F" },
      { "NRRD0004\ntype: uint8\ndimension: 3\nsizes: 5 4 3\nencoding: raw\nthis line is junk\n\n", "neither", "F" },
      { "NRRD0004\ntype: uint8\ndimension: 3\nsizes: 5 4 3\nencoding: raw\nendian: middle\n\n", "endian", "F" },
      { "NRRD0004\ntype: uint8\ndimension: 3\nsizes: 5 4 3\nencoding: raw\nspace: mars\n\n", "unknown space", "F" },
      { "NRRD0004\ntype: uint8\ndimension: 3\nsizes: 5 4 3\nencoding: raw\nbyte skip: -2\n\n", "byte skip", "F" },
      { "NRRD0004\ntype: uint8\ndimension: 3\nsizes: 5 4 3\nencoding: gzip\nbyte skip: 9223372036854775807\n\n",
        "beyond any real file", "F" },
      { "NRRD0004\ntype: uint8\ndimension: 3\nsizes: 5 4 3\nencoding: raw\nspace directions: (1,0,0) (0,1,0) (0,0,1)\n\n",
        "without a \"space\"", "F" },
      { "NRRD0004\ntype: uint8\ndimension: 3\nsizes: 5 4 3\nencoding: raw\nspacings: 1 0 1\n\n", "positive", "F" },
      { "NRRD0004\ntype: uint8\ndimension: 3\nsizes: 5 4 3\nencoding: raw\nkinds: domain RGB-color domain\n\n",
        "not a spatial axis", "" },
    };
    for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
      {
        g_autofree char *p = write_nrrd ("bad.nrrd", cases[i][0], data, 60, FALSE);
        g_autoptr (GError) e = read_error (p, NULL);
        g_test_message ("%s", e->message);
        g_assert_true (e->domain == NRRD_ERROR);
        if (cases[i][2][0] == 'F')
          g_assert_cmpint (e->code, ==, NRRD_ERROR_FORMAT);
        g_assert_nonnull (strstr (e->message, p));
        if (strstr (e->message, cases[i][1]) == NULL)
          g_error ("case %" G_GSIZE_FORMAT ": \"%s\" lacks \"%s\"", i, e->message, cases[i][1]);
      }
  }
  /* absurd space directions and origins */
  {
    static const char *const dirs[][2] = {
      { "(0,0,0) (0,1,0) (0,0,1)", "is zero" },
      { "(1,0,0) (0,nan,0) (0,0,1)", "non-finite" },
      { "(1,0,0) (0,inf,0) (0,0,1)", "non-finite" },
      { "(1e300,0,0) (0,1,0) (0,0,1)", "absurd" },
      { "(1,0,0) (2,0,0) (0,0,1)", "parallel" },
      { "(1,1,0) (1,1,1e-9) (0,0,1)", "parallel" },
      { "(1,0,0) (0,1,0)", "space direction of axis 2" },
      { "(1,0,0) (0,1,0) (0,0,1) (1,1,1)", "more space directions" },
      { "(1,0) (0,1,0) (0,0,1)", "2 components" },
      { "(1,0,0) (0,x,0) (0,0,1)", "not a number" },
      { "(1,0,0) (0,1,0) (0,0,1", "closing" },
      { "none (0,1,0) (0,0,1)", "no space direction" },
    };
    for (gsize i = 0; i < G_N_ELEMENTS (dirs); i++)
      {
        g_autofree char *h = g_strdup_printf ("NRRD0004\ntype: uint8\ndimension: 3\nsizes: 5 4 3\nencoding: raw\n"
                                              "space: LPS\nspace directions: %s\n\n", dirs[i][0]);
        g_autofree char *p = write_nrrd ("dirs.nrrd", h, data, 60, FALSE);
        expect_error (p, i == 11 ? NRRD_ERROR_FORMAT : NRRD_ERROR_FORMAT, dirs[i][1], NULL);
      }
    static const char *const origins[] = { "(nan,0,0)", "(0,1e31,0)", "(1,2)", "none", "1 2 3" };
    for (gsize i = 0; i < G_N_ELEMENTS (origins); i++)
      {
        g_autofree char *h = g_strdup_printf ("NRRD0004\ntype: uint8\ndimension: 3\nsizes: 5 4 3\nencoding: raw\n"
                                              "space: LPS\nspace origin: %s\n\n", origins[i]);
        g_autofree char *p = write_nrrd ("origin.nrrd", h, data, 60, FALSE);
        expect_error (p, NRRD_ERROR_FORMAT, "origin", NULL);
      }
  }
  /* huge dimensions: refused from the header alone, before allocating */
  {
    const char *hs[] = {
      "NRRD0004\ntype: uint8\ndimension: 3\nsizes: 4096 4096 4096\nencoding: gzip\n\n",
      "NRRD0004\ntype: uint8\ndimension: 3\nsizes: 9223372036854775807 2 2\nencoding: raw\n\n",
      "NRRD0004\ntype: uint8\ndimension: 4\nsizes: 200 1024 1024 1024\nkinds: list domain domain domain\nencoding: raw\n\n",
    };
    for (gsize i = 0; i < G_N_ELEMENTS (hs); i++)
      {
        g_autofree char *p = write_nrrd ("huge.nrrd", hs[i], data, 60, FALSE);
        expect_error (p, NRRD_ERROR_TOO_LARGE, i == 1 ? "overflow" : "exceeds the limit", NULL);
      }
    /* within the cap, but more than a small gzip file can hold */
    NrrdReadOptions opt = { .max_voxels = (int64_t) 1 << 30 };
    g_autofree char *p = write_nrrd ("bomb.nrrd", "NRRD0004\ntype: uint8\ndimension: 3\nsizes: 1000 1000 1000\n"
                                     "encoding: gzip\n\n", data, 60, TRUE);
    g_autoptr (GError) e = read_error (p, &opt);
    g_assert_error (e, NRRD_ERROR, NRRD_ERROR_TRUNCATED);
    g_assert_nonnull (strstr (e->message, "gzip data can hold"));
    /* without a cap, sizes whose bytes overflow are still refused */
    NrrdReadOptions nocap = { .max_voxels = G_MAXINT64 };
    g_autofree char *big = write_nrrd ("bigdouble.nrrd", "NRRD0004\ntype: double\nendian: little\ndimension: 3\n"
                                       "sizes: 1000000000 1000000000 3\nencoding: raw\n\n", data, 60, FALSE);
    g_autoptr (GError) e3 = read_error (big, &nocap);
    g_assert_error (e3, NRRD_ERROR, NRRD_ERROR_TOO_LARGE);
    g_assert_nonnull (strstr (e3->message, "address space"));
    /* the option caps lower */
    NrrdReadOptions small = { .max_voxels = 59 };
    g_autofree char *h = g_strdup_printf (ok, "raw");
    g_autofree char *q = write_nrrd ("cap.nrrd", h, data, 60, FALSE);
    g_autoptr (GError) e2 = read_error (q, &small);
    g_assert_error (e2, NRRD_ERROR, NRRD_ERROR_TOO_LARGE);
    g_assert_nonnull (strstr (e2->message, "5x4x3 = 60 voxels"));
  }
  /* header lines too long; no blank line before binary data; NUL in the header */
  {
    GString *h = g_string_new ("NRRD0004\ntype: uint8\ndimension: 3\nsizes: 5 4 3\nencoding: raw\n# ");
    for (int i = 0; i < NRRD_MAX_LINE_BYTES + 10; i++)
      g_string_append_c (h, 'x');
    g_string_append (h, "\n\n");
    g_autofree char *p = write_nrrd ("longline.nrrd", h->str, data, 60, FALSE);
    g_string_free (h, TRUE);
    expect_error (p, NRRD_ERROR_TOO_LARGE, "longer than", NULL);
    guint8 bin[256];
    for (int i = 0; i < 256; i++)
      bin[i] = (guint8) i;
    g_autofree char *q = write_nrrd ("noblank.nrrd", "NRRD0004\ntype: uint8\ndimension: 3\nsizes: 5 4 3\nencoding: raw\n",
                                     bin, 256, FALSE);
    g_autoptr (GError) e = read_error (q, NULL);
    g_test_message ("%s", e->message);
    g_assert_nonnull (strstr (e->message, "blank line"));
    g_autofree char *r = write_file ("nul.nrrd", "NRRD0004\ntype: ui\0nt8\n\n", 24);
    expect_error (r, NRRD_ERROR_FORMAT, "NUL", NULL);
    g_autofree char *empty = write_file ("empty.nrrd", "", 0);
    expect_error (empty, NRRD_ERROR_FORMAT, "not a NRRD file", NULL);
    const char *only = "NRRD0004\ntype: uint8\ndimension: 3\nsizes: 5 4 3\nencoding: raw\n";
    g_autofree char *hdronly = write_file ("hdronly.nrrd", only, strlen (only));
    expect_error (hdronly, NRRD_ERROR_TRUNCATED, "no data follow", NULL);
  }
  /* 10^6 segments: refused at the segment limit, in bounded time */
  {
    GString *h = g_string_new ("NRRD0004\ntype: uint8\ndimension: 3\nsizes: 5 4 3\nencoding: raw\n");
    for (int i = 0; i < 1000000; i++)
      g_string_append_printf (h, "Segment%d_LabelValue:=%d\n", i, i + 1);
    g_string_append_c (h, '\n');
    g_autofree char *p = write_nrrd ("million.seg.nrrd", h->str, data, 60, FALSE);
    g_string_free (h, TRUE);
    gint64 t0 = g_get_monotonic_time ();
    expect_error (p, NRRD_ERROR_TOO_LARGE, "more than 65536 segments", NULL);
    double secs = (g_get_monotonic_time () - t0) / 1e6;
    g_test_message ("10^6 segments refused in %.3f s", secs);
    g_assert_cmpfloat (secs, <, 5.0);
    /* exactly at the limit: accepted, every segment in the table, quickly */
    GString *h2 = g_string_new ("NRRD0004\ntype: uint8\ndimension: 3\nsizes: 5 4 3\nencoding: raw\n");
    for (int i = 0; i < NRRD_MAX_SEGMENTS; i++)
      g_string_append_printf (h2, "Segment%d_Name:=s%d\nSegment%d_LabelValue:=%d\n", i, i, i, NRRD_MAX_SEGMENTS - i);
    g_string_append_c (h2, '\n');
    g_autofree char *q = write_nrrd ("many.seg.nrrd", h2->str, data, 60, FALSE);
    g_string_free (h2, TRUE);
    t0 = g_get_monotonic_time ();
    g_autoptr (LabelTable) t = NULL;
    g_autoptr (LabelVolume) v = read_ok (q, &t, NULL);
    secs = (g_get_monotonic_time () - t0) / 1e6;
    g_test_message ("%d segments read in %.3f s", NRRD_MAX_SEGMENTS, secs);
    g_assert_cmpuint (t->entries->len, ==, NRRD_MAX_SEGMENTS);
    g_assert_cmpstr (lt_table_lookup (t, 1)->name, ==, "s65535");
    g_assert_cmpfloat (secs, <, 5.0);
  }
  /* not regular files: refused before opening, never blocking */
  {
    g_autofree char *fifo = tmp_path ("fifo.nrrd");
    g_assert_cmpint (mkfifo (fifo, 0600), ==, 0);
    signal (SIGALRM, on_alarm);
    alarm (20);
    expect_error (fifo, NRRD_ERROR_IO, "a FIFO", NULL);
    expect_error ("/dev/zero", NRRD_ERROR_IO, "not a regular file", NULL);
    expect_error (tmpdir, NRRD_ERROR_IO, "a folder", NULL);
    g_autoptr (GError) e = NULL;
    g_assert_null (label_file_read (fifo, 0, NULL, NULL, &e));
    g_assert_nonnull (strstr (e->message, "not a regular file"));
    alarm (0);
    g_unlink (fifo);
    expect_error ("/nonexistent/x.nrrd", NRRD_ERROR_IO, "cannot open", NULL);
  }
}

