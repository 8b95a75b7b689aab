/* test-nrrd.c: NRRD and 3D Slicer .seg.nrrd: round trips, no overwriting and the label-file
 * dispatcher here; reading in test-nrrd-read.c, segments in test-nrrd-segments.c. */
#include "test-nrrd-util.h"
#include "test-util.h"

#include <glib/gstdio.h>
#include <math.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

char *tmpdir;

/* ------------------------------------------------------------------------------------------ */

static void
test_round_trip (void)
{
  static const struct { int bpv; int32_t max; gboolean neg; } kinds[] = {
    { 1, 39, FALSE }, { 1, 255, FALSE }, { 2, 39 * 1000, FALSE }, { 4, 39 * 100000, FALSE }, { 4, 390, TRUE },
  };
  static const char *const suffixes[] = { ".nrrd", ".seg.nrrd" };
  for (gsize k = 0; k < G_N_ELEMENTS (kinds); k++)
    for (int raw = 0; raw < 2; raw++)
      for (gsize s = 0; s < G_N_ELEMENTS (suffixes); s++)
        {
          g_autoptr (LabelVolume) v = make_volume (kinds[k].bpv, kinds[k].max, kinds[k].neg);
          g_autoptr (LabelTable) t = lt_table_new ("test");
          guint8 rgba[4] = { 10, 200, 30, 255 };
          lt_table_set (t, kinds[k].max, "the largest", rgba);
          lt_table_set (t, 7 * (kinds[k].max / 39), "seven \\ with\nnewline", NULL);
          g_autofree char *name = g_strdup_printf ("rt-%" G_GSIZE_FORMAT "-%d%s", k, raw, suffixes[s]);
          g_autofree char *p = tmp_path (name);
          g_autoptr (GError) error = NULL;
          g_assert_true (nrrd_write (v, t, p, raw ? NRRD_WRITE_RAW : 0, &error));
          g_assert_no_error (error);
          g_autoptr (LabelTable) t2 = NULL;
          NrrdReadInfo info;
          g_autoptr (LabelVolume) w = read_ok (p, &t2, &info);
          assert_same_volume (v, w, 0);
          g_assert_cmpint (w->bytes_per_voxel, ==, v->bytes_per_voxel);
          g_assert_cmpstr (info.encoding, ==, raw ? "raw" : "gzip");
          g_assert_cmpstr (info.space, ==, "left-posterior-superior");
          g_assert_null (info.warnings);
          if (s == 0)
            g_assert_null (t2);
          else
            {
              /* every present label > 0 is a segment, named from the table or "label N" */
              g_assert_nonnull (t2);
              const LabelEntry *e = lt_table_lookup (t2, kinds[k].max);
              g_assert_nonnull (e);
              g_assert_cmpstr (e->name, ==, "the largest");
              g_assert_cmpmem (e->rgba, 4, rgba, 4);
              e = lt_table_lookup (t2, 7 * (kinds[k].max / 39));
              g_assert_cmpstr (e->name, ==, "seven \\ with\nnewline");
              guint8 gen[4];
              lt_table_get_color (t, 7 * (kinds[k].max / 39), gen);
              g_assert_cmpmem (e->rgba, 3, gen, 3);
              char buf[32];
              e = lt_table_lookup (t2, 3 * (kinds[k].max / 39));
              g_assert_cmpstr (e->name, ==, lt_table_get_name (NULL, 3 * (kinds[k].max / 39), buf, sizeof buf));
              g_assert_null (lt_table_lookup (t2, 0));
              int32_t lo, hi;
              lv_volume_min_max (v, &lo, &hi);
              g_autofree int64_t *hist = NULL;
              int32_t nh;
              hist = lv_volume_histogram (v, &nh);
              int n_present = 0;
              for (int32_t i = 1; i < nh; i++)
                n_present += hist[i] > 0;
              g_assert_cmpint (info.n_segments, ==, n_present);
              g_assert_cmpuint (t2->entries->len, ==, n_present);
            }
          nrrd_read_info_clear (&info);
        }
}

static void
test_no_overwrite (void)
{
  g_autoptr (LabelVolume) v = make_volume (1, 39, FALSE);
  g_autoptr (LabelVolume) v2 = make_volume (2, 3900, FALSE);
  g_autofree char *p = tmp_path ("keep.seg.nrrd");
  g_autoptr (GError) error = NULL;
  g_assert_true (nrrd_write (v, NULL, p, 0, &error));
  g_autofree char *before = NULL;
  gsize n_before;
  g_assert_true (g_file_get_contents (p, &before, &n_before, NULL));
  g_assert_false (nrrd_write (v2, NULL, p, 0, &error));
  g_assert_error (error, OUT_FILE_ERROR, OUT_FILE_ERROR_EXISTS);
  g_assert_true (label_file_error_is_exists (error));
  g_assert_nonnull (strstr (error->message, p));
  g_clear_error (&error);
  g_autofree char *after = NULL;
  gsize n_after;
  g_assert_true (g_file_get_contents (p, &after, &n_after, NULL));
  g_assert_cmpmem (before, n_before, after, n_after);
  g_assert_true (nrrd_write (v2, NULL, p, NRRD_WRITE_OVERWRITE, &error));
  g_autoptr (LabelVolume) w = read_ok (p, NULL, NULL);
  assert_same_volume (v2, w, 0);
  /* no temporary is left behind */
  g_autoptr (GDir) d = g_dir_open (tmpdir, 0, NULL);
  const char *n;
  while ((n = g_dir_read_name (d)) != NULL)
    g_assert_false (g_str_has_prefix (n, ".keep.seg.nrrd"));
  /* detached output is refused */
  g_autofree char *nh = tmp_path ("x.nhdr");
  g_assert_false (nrrd_write (v, NULL, nh, 0, &error));
  g_assert_error (error, NRRD_ERROR, NRRD_ERROR_UNSUPPORTED);
}


/* label_file_read / label_file_write: dispatch by magic and extension. */
static void
test_label_file (void)
{
  g_autoptr (LabelVolume) v = make_volume (2, 3900, FALSE);
  g_autoptr (LabelTable) t = lt_table_new ("x");
  lt_table_set (t, 3900, "top", NULL);
  static const char *const names[] = { "lf.nii.gz", "lf.nii", "lf.hdr", "lf.nrrd", "lf.seg.nrrd", "lf.SEG.NRRD" };
  for (gsize i = 0; i < G_N_ELEMENTS (names); i++)
    {
      g_autofree char *p = tmp_path (names[i]);
      g_autoptr (GError) error = NULL;
      g_assert_true (label_file_path_is_supported (p));
      g_assert_true (label_file_write (v, t, p, FALSE, &error));
      g_assert_no_error (error);
      g_assert_false (label_file_write (v, t, p, FALSE, &error));
      g_assert_true (label_file_error_is_exists (error));
      g_clear_error (&error);
      g_autoptr (LabelTable) t2 = NULL;
      g_autofree char *warnings = NULL;
      g_autoptr (LabelVolume) w = label_file_read (p, 0, &t2, &warnings, &error);
      g_assert_no_error (error);
      g_assert_null (warnings);
      assert_same_volume (v, w, i < 3 ? 1e-5 : 0);
      /* NIfTI keeps the names in its XML label extension, .seg.nrrd in its segments */
      if (i != 3)
        g_assert_cmpstr (lt_table_lookup (t2, 3900)->name, ==, "top");
      else
        g_assert_null (t2);
    }
  g_assert_cmpint (label_file_format_from_path ("a.seg.nrrd"), ==, LABEL_FILE_FORMAT_SEG_NRRD);
  g_assert_cmpint (label_file_format_from_path ("a.NHDR"), ==, LABEL_FILE_FORMAT_NRRD);
  g_assert_cmpint (label_file_format_from_path ("a.img.gz"), ==, LABEL_FILE_FORMAT_NIFTI);
  g_assert_cmpint (label_file_format_from_path ("a.png"), ==, LABEL_FILE_FORMAT_UNKNOWN);
  static const char *const stem_inputs[] = { "/d/case.seg.nrrd", "/d/case.nii.gz", "/d/case.nhdr" };
  for (gsize i = 0; i < G_N_ELEMENTS (stem_inputs); i++)
    {
      g_autofree char *stem = label_file_path_stem (stem_inputs[i]);
      g_assert_cmpstr (stem, ==, "/d/case");
    }
  /* a NRRD misnamed .nii still opens (magic wins) */
  g_autofree char *src = tmp_path ("lf.seg.nrrd");
  g_autofree char *bytes = NULL;
  gsize len;
  g_assert_true (g_file_get_contents (src, &bytes, &len, NULL));
  g_autofree char *mis = write_file ("misnamed.nii", bytes, len);
  g_autoptr (GError) error = NULL;
  g_autoptr (LabelTable) t3 = NULL;
  g_autoptr (LabelVolume) w = label_file_read (mis, 0, &t3, NULL, &error);
  g_assert_no_error (error);
  assert_same_volume (v, w, 0);
  g_assert_nonnull (t3);
  /* unknown output name */
  g_autofree char *png = tmp_path ("x.png");
  g_assert_false (label_file_write (v, NULL, png, FALSE, &error));
  g_assert_error (error, LABEL_FILE_ERROR, LABEL_FILE_ERROR_UNKNOWN_FORMAT);
  g_clear_error (&error);
  /* the cap passes through */
  g_assert_null (label_file_read (src, 100, NULL, NULL, &error));
  g_assert_error (error, NRRD_ERROR, NRRD_ERROR_TOO_LARGE);
}


static const TestCase test_cases[] = {
  { "/nrrd/round-trip", test_round_trip },
  { "/nrrd/no-overwrite", test_no_overwrite },
  { "/nrrd/lps-vs-nifti", test_lps_vs_nifti },
  { "/nrrd/spaces", test_spaces },
  { "/nrrd/oblique", test_oblique },
  { "/nrrd/types-encodings", test_types_encodings },
  { "/nrrd/detached", test_detached },
  { "/nrrd/slicer-3d", test_slicer_3d },
  { "/nrrd/slicer-layers", test_slicer_layers },
  { "/nrrd/real-slicer", test_real_slicer },
  { "/nrrd/hostile", test_hostile },
  { "/nrrd/label-file", test_label_file },
};

TEST_UTIL_MAIN_TMPDIR (test_cases, "test-nrrd-XXXXXX", NULL)
