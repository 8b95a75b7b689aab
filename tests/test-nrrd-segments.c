/* test-nrrd-segments.c: 3D Slicer .seg.nrrd: 3D files, 4D layers of overlapping segments,
 * and the real Slicer file beside the same patient as NIfTI. */
#include "test-nrrd-util.h"
#include "test-util.h"

#include <glib/gstdio.h>
#include <math.h>
#include <string.h>

/* 3D Slicer segments: 3D files keep their values, the header gives the names. */
void
test_slicer_3d (void)
{
  guint8 data[8] = { 0, 1, 1, 5, 5, 0, 9, 0 };
  const char *h = "NRRD0004\ntype: unsigned char\ndimension: 3\nspace: left-posterior-superior\nsizes: 2 2 2\n"
                  "space directions: (-1.5,0,0) (0,-1.5,0) (0,0,1.5)\nkinds: domain domain domain\nencoding: gzip\n"
                  "space origin: (2,3,-4)\n"
                  "Segmentation_MasterRepresentation:=Binary labelmap\n"
                  "Segment0_ID:=liver\nSegment0_Name:=Liver\nSegment0_Color:=1 0.5 0\nSegment0_LabelValue:=5\n"
                  "Segment0_Layer:=0\n"
                  "Segment1_ID:=spleen\nSegment1_LabelValue:=1\nSegment1_Layer:=0\nSegment1_Color:=2 -1 nan\n"
                  "Segment2_Name:=escaped\\nname \\\\ here\nSegment2_LabelValue:=9\nSegment2_DefaultColor:=0 0 1\n"
                  "Segment3_Name:=in no layer\nSegment3_LabelValue:=4\nSegment3_Layer:=3\n"
                  "Segment4_Name:=background\nSegment4_LabelValue:=0\n\n";
  g_autofree char *p = write_nrrd ("seg3d.seg.nrrd", h, data, 8, TRUE);
  g_autoptr (LabelTable) t = NULL;
  NrrdReadInfo info;
  g_autoptr (LabelVolume) v = read_ok (p, &t, &info);
  g_assert_cmpmem (v->data, 8, data, 8);
  const double want[3][4] = { { 1.5, 0, 0, -2 }, { 0, 1.5, 0, -3 }, { 0, 0, 1.5, -4 } };
  assert_affine (v, want, 0);
  g_assert_cmpint (info.n_segments, ==, 5);
  g_assert_false (info.renumbered);
  g_assert_nonnull (info.warnings);
  g_test_message ("warnings: %s", info.warnings);
  test_assert_contains (info.warnings, "segment 3 (in no layer) is ignored", "segment 4 (background) is ignored",
                        NULL);
  g_assert_cmpuint (t->entries->len, ==, 3);
  const LabelEntry *e = lt_table_lookup (t, 5);
  g_assert_cmpstr (e->name, ==, "Liver");
  g_assert_cmpint (e->rgba[0], ==, 255);
  g_assert_cmpint (e->rgba[1], ==, 128);
  g_assert_cmpint (e->rgba[2], ==, 0);
  g_assert_cmpint (e->rgba[3], ==, 255);
  e = lt_table_lookup (t, 1);
  g_assert_cmpstr (e->name, ==, "spleen"); /* no name: the ID */
  guint8 gen[4];
  lt_table_get_color (NULL, 1, gen);
  g_assert_cmpmem (e->rgba, 4, gen, 4); /* unreadable colour: generated */
  e = lt_table_lookup (t, 9);
  g_assert_cmpstr (e->name, ==, "escaped\nname \\ here");
  g_assert_cmpint (e->rgba[2], ==, 255);
  nrrd_read_info_clear (&info);
}

/* 4D files with a list axis of layers, as 3D Slicer writes overlapping segments. */
void
test_slicer_layers (void)
{
  /* 2 layers × 2×2×2; layer values 1, 2 in layer 0 and 1 in layer 1 */
  guint8 d[16] = {
    /* (layer, i, j, k): layer fastest */
    1, 0, 1, 0, 2, 0, 0, 0,   /* k=0: (0,0)->L0=1 ; (1,0)->L0=1 ; (0,1)->L0=2 ; (1,1)->none */
    0, 1, 0, 1, 0, 0, 0, 0,   /* k=1: (0,0)->L1=1 ; (1,0)->L1=1 */
  };
  const char *geo = "NRRD0004\ntype: uint8\ndimension: 4\nspace: left-posterior-superior\nsizes: 2 2 2 2\n"
                    "space directions: none (-1,0,0) (0,-1,0) (0,0,1)\nkinds: list domain domain domain\n"
                    "encoding: gzip\nspace origin: (0,0,0)\n";
  /* distinct label values: kept */
  {
    g_autofree char *h = g_strconcat (geo,
                                      "Segment0_ID:=a\nSegment0_Name:=A\nSegment0_LabelValue:=1\nSegment0_Layer:=0\n"
                                      "Segment1_ID:=b\nSegment1_Name:=B\nSegment1_LabelValue:=2\nSegment1_Layer:=0\n"
                                      "Segment2_ID:=c\nSegment2_Name:=C\nSegment2_LabelValue:=7\nSegment2_Layer:=1\n\n",
                                      NULL);
    /* layer 1 uses 7 for C */
    guint8 d7[16];
    memcpy (d7, d, 16);
    d7[9] = d7[11] = 7;
    g_autofree char *p = write_nrrd ("layers-keep.seg.nrrd", h, d7, 16, TRUE);
    g_autoptr (LabelTable) t = NULL;
    NrrdReadInfo info;
    g_autoptr (LabelVolume) v = read_ok (p, &t, &info);
    g_assert_cmpint (info.n_layers, ==, 2);
    g_assert_false (info.renumbered);
    g_assert_cmpint (info.n_overlap_voxels, ==, 0);
    g_assert_null (info.warnings);
    const int32_t want[8] = { 1, 1, 2, 0, 7, 7, 0, 0 };
    for (int i = 0; i < 8; i++)
      g_assert_cmpint (lv_volume_get_index (v, i), ==, want[i]);
    g_assert_cmpstr (lt_table_lookup (t, 7)->name, ==, "C");
    g_assert_cmpstr (lt_table_lookup (t, 2)->name, ==, "B");
    const double a[3][4] = { { 1, 0, 0, 0 }, { 0, 1, 0, 0 }, { 0, 0, 1, 0 } };
    assert_affine (v, a, 0);
    nrrd_read_info_clear (&info);
  }
  /* the same label value in two layers: renumbered in segment order */
  const char *segs = "Segment0_ID:=a\nSegment0_Name:=A\nSegment0_LabelValue:=1\nSegment0_Layer:=0\n"
                     "Segment1_ID:=b\nSegment1_Name:=B\nSegment1_LabelValue:=2\nSegment1_Layer:=0\n"
                     "Segment2_ID:=c\nSegment2_Name:=C\nSegment2_LabelValue:=1\nSegment2_Layer:=1\n\n";
  {
    g_autofree char *h = g_strconcat (geo, segs, NULL);
    g_autofree char *p = write_nrrd ("layers-renumber.seg.nrrd", h, d, 16, TRUE);
    g_autoptr (LabelTable) t = NULL;
    NrrdReadInfo info;
    g_autoptr (LabelVolume) v = read_ok (p, &t, &info);
    g_assert_true (info.renumbered);
    const int32_t want[8] = { 1, 1, 2, 0, 3, 3, 0, 0 };
    for (int i = 0; i < 8; i++)
      g_assert_cmpint (lv_volume_get_index (v, i), ==, want[i]);
    g_assert_cmpstr (lt_table_lookup (t, 1)->name, ==, "A");
    g_assert_cmpstr (lt_table_lookup (t, 2)->name, ==, "B");
    g_assert_cmpstr (lt_table_lookup (t, 3)->name, ==, "C");
    nrrd_read_info_clear (&info);
  }
  /* overlap: flattened (highest layer wins, counted, warned) or refused */
  {
    guint8 o[16];
    memcpy (o, d, 16);
    o[1] = 1; /* voxel (0,0,0) in A (layer 0) and C (layer 1) */
    g_autofree char *h = g_strconcat (geo, segs, NULL);
    g_autofree char *p = write_nrrd ("layers-overlap.seg.nrrd", h, o, 16, TRUE);
    NrrdReadInfo info;
    g_autoptr (LabelVolume) v = read_ok (p, NULL, &info);
    g_assert_cmpint (info.n_overlap_voxels, ==, 1);
    g_assert_nonnull (info.warnings);
    g_assert_nonnull (strstr (info.warnings, "1 voxels lie in segments of more than one layer"));
    g_assert_cmpint (lv_volume_get (v, 0, 0, 0), ==, 3);
    nrrd_read_info_clear (&info);
    NrrdReadOptions opt = { .flags = NRRD_READ_REFUSE_OVERLAP };
    g_autoptr (GError) e = read_error (p, &opt);
    g_assert_error (e, NRRD_ERROR, NRRD_ERROR_OVERLAP);
    test_assert_contains (e->message, "(0,0,0)", p, NULL);
  }
  /* a value no segment declares, when renumbering */
  {
    guint8 u[16];
    memcpy (u, d, 16);
    u[6] = 4;
    g_autofree char *h = g_strconcat (geo, segs, NULL);
    g_autofree char *p = write_nrrd ("layers-undeclared.seg.nrrd", h, u, 16, TRUE);
    expect_error (p, NRRD_ERROR_NOT_LABELS, "no segment declares", NULL);
  }
  /* legacy files: one binary segment per layer, no _Layer or _LabelValue */
  {
    g_autofree char *h = g_strconcat (geo, "Segment0_ID:=x\nSegment0_Name:=X\nSegment1_ID:=y\nSegment1_Name:=Y\n\n", NULL);
    guint8 b[16] = { 1, 0, 0, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0 };
    g_autofree char *p = write_nrrd ("layers-legacy.seg.nrrd", h, b, 16, TRUE);
    g_autoptr (LabelTable) t = NULL;
    NrrdReadInfo info;
    g_autoptr (LabelVolume) v = read_ok (p, &t, &info);
    g_assert_true (info.renumbered);
    g_assert_cmpint (lv_volume_get_index (v, 0), ==, 1);
    g_assert_cmpint (lv_volume_get_index (v, 1), ==, 2);
    g_assert_cmpint (lv_volume_get_index (v, 2), ==, 2); /* overlap: Y, the higher layer */
    g_assert_cmpint (info.n_overlap_voxels, ==, 1);
    g_assert_cmpstr (lt_table_lookup (t, 2)->name, ==, "Y");
    nrrd_read_info_clear (&info);
  }
  /* the layer axis found from kinds alone (no space directions), not first */
  {
    const char *h = "NRRD0004\ntype: uint8\ndimension: 4\nsizes: 2 2 2 2\nkinds: domain domain domain list\n"
                    "encoding: raw\n\n";
    guint8 b[16] = { 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 3 };
    g_autofree char *p = write_nrrd ("layers-last.nrrd", h, b, 16, FALSE);
    NrrdReadInfo info;
    g_autoptr (LabelVolume) v = read_ok (p, NULL, &info);
    g_assert_cmpint (info.n_layers, ==, 2);
    g_assert_cmpint (lv_volume_get (v, 1, 0, 0), ==, 1);
    g_assert_cmpint (lv_volume_get (v, 1, 1, 1), ==, 3);
    nrrd_read_info_clear (&info);
  }
  /* not layers: time, colour, two list axes, no hint */
  {
    guint8 b[16] = { 0 };
    const char *bad[][2] = {
      { "kinds: time domain domain domain\n", "time series" },
      { "kinds: RGB-color domain domain domain\n", "not labels" },
      { "kinds: list list domain domain\n", "exactly one non-spatial axis" },
      { "", "cannot tell which axis" },
      { "space: RAS\nspace directions: (1,0,0) (0,1,0) (0,0,1) (1,1,1)\n", "exactly one \"none\"" },
    };
    for (gsize i = 0; i < G_N_ELEMENTS (bad); i++)
      {
        g_autofree char *h = g_strdup_printf ("NRRD0004\ntype: uint8\ndimension: 4\nsizes: 2 2 2 2\n%sencoding: raw\n\n",
                                              bad[i][0]);
        g_autofree char *p = write_nrrd ("layers-bad.nrrd", h, b, 16, FALSE);
        g_autoptr (GError) e = read_error (p, NULL);
        g_test_message ("%s", e->message);
        g_assert_nonnull (strstr (e->message, bad[i][1]));
      }
  }
}

static char *
real_path (const char *name)
{
  const char *root = g_getenv ("AR_SOURCE_ROOT");
  g_autofree char *dflt = g_test_build_filename (G_TEST_DIST, "..", NULL);
  return g_build_filename (root ? root : dflt, "..", "shared", "real", name, NULL);
}

/* The real 3D Slicer file: TotalSegmentator v2 on s0328, beside the same patient as NIfTI. */
void
test_real_slicer (void)
{
  g_autofree char *p = real_path ("s0328_slicer_totalseg.seg.nrrd");
  g_autofree char *nii = real_path ("s0328_totalseg_v2.nii.gz");
  if (!g_file_test (p, G_FILE_TEST_IS_REGULAR) || !g_file_test (nii, G_FILE_TEST_IS_REGULAR))
    {
      g_test_skip ("../shared/real is not here");
      return;
    }
  g_autoptr (LabelTable) t = NULL;
  NrrdReadInfo info;
  gint64 t0 = g_get_monotonic_time ();
  g_autoptr (LabelVolume) v = read_ok (p, &t, &info);
  g_test_message ("read in %.3f s", (g_get_monotonic_time () - t0) / 1e6);
  g_assert_cmpint (v->nx, ==, 265);
  g_assert_cmpint (v->ny, ==, 265);
  g_assert_cmpint (v->nz, ==, 269);
  g_assert_cmpint (v->bytes_per_voxel, ==, 1);
  g_assert_cmpint (info.n_segments, ==, 69);
  g_assert_cmpint (info.n_layers, ==, 1);
  g_assert_null (info.warnings);
  g_assert_cmpuint (t->entries->len, ==, 69);
  g_assert_cmpstr (lt_table_lookup (t, 1)->name, ==, "spleen");
  g_assert_cmpstr (lt_table_lookup (t, 5)->name, ==, "liver");
  g_assert_cmpstr (lt_table_lookup (t, 52)->name, ==, "aorta");
  g_assert_cmpstr (lt_table_lookup (t, 117)->name, ==, "costal cartilage");
  const LabelEntry *sp = lt_table_lookup (t, 1);
  g_assert_cmpint (sp->rgba[0], ==, 157); /* 0.615686 */
  g_assert_cmpint (sp->rgba[1], ==, 108);
  g_assert_cmpint (sp->rgba[2], ==, 162);
  /* every voxel value is a declared segment */
  int32_t nh;
  g_autofree int64_t *hist = lv_volume_histogram (v, &nh);
  for (int32_t l = 1; l < nh; l++)
    if (hist[l] > 0 && lt_table_lookup (t, l) == NULL)
      g_error ("label %d has %" G_GINT64_FORMAT " voxels and no segment", l, hist[l]);
  g_assert_cmpint (hist[5], ==, 598723); /* liver, counted by teem's unu histo */
  /* the same patient's NIfTI (RAS) has the same grid */
  g_autoptr (GError) error = NULL;
  g_autoptr (LabelVolume) ref = nifti_read (nii, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpint (ref->nx, ==, v->nx);
  for (int r = 0; r < 4; r++)
    for (int c = 0; c < 4; c++)
      g_assert_cmpfloat_with_epsilon (v->affine[r][c], ref->affine[r][c], 1e-5);
  char code[4];
  lv_volume_orientation (v, code);
  g_assert_cmpstr (code, ==, "RAS");
  /* and it round-trips through our writer */
  g_autofree char *out = tmp_path ("s0328.seg.nrrd");
  t0 = g_get_monotonic_time ();
  g_assert_true (nrrd_write (v, t, out, 0, &error));
  g_test_message ("written in %.3f s", (g_get_monotonic_time () - t0) / 1e6);
  g_autoptr (LabelTable) t2 = NULL;
  g_autoptr (LabelVolume) w = read_ok (out, &t2, NULL);
  assert_same_volume (v, w, 0);
  g_assert_cmpuint (t2->entries->len, ==, t->entries->len);
  for (guint i = 0; i < t->entries->len; i++)
    {
      const LabelEntry *a = &g_array_index (t->entries, LabelEntry, i), *b = &g_array_index (t2->entries, LabelEntry, i);
      g_assert_cmpint (a->id, ==, b->id);
      g_assert_cmpstr (a->name, ==, b->name);
      g_assert_cmpmem (a->rgba, 4, b->rgba, 4);
    }
  nrrd_read_info_clear (&info);
}

