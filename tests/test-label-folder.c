/* test-label-folder.c: mask folders (TotalSegmentator's segmentations/) read as one label
 * volume and written back, and names kept in a NIfTI's XML label extension.
 *
 * Folders are made in code: binary masks named after TotalSegmentator v2 classes (empty ones
 * for absent classes), names no scheme knows, overlapping masks, a mask that is not binary,
 * masks on another grid; written from a volume with and without the folder it came from. */
#include "label-file.h"
#include "label-folder.h"
#include "label-scheme.h"
#include "nifti.h"
#include "out-file.h"
#include "test-util.h"

#include <signal.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <string.h>
#include <unistd.h>
#include <glib/gstdio.h>

static char *tmpdir;

static char *
tmp_path (const char *name)
{
  return g_build_filename (tmpdir, name, NULL);
}

/* An oblique 20×16×12 grid. */
static LabelVolume *
new_volume (int bpv)
{
  const double sp[3] = { 1.5, 2.0, 2.5 };
  g_autoptr (GError) error = NULL;
  LabelVolume *v = lv_volume_new (20, 16, 12, sp, bpv, &error);
  g_assert_no_error (error);
  const double c = 0.96, s = 0.28;
  double a[4][4] = { { 1.5 * c, -2.0 * s, 0, -30 }, { 1.5 * s, 2.0 * c, 0, 12.5 }, { 0, 0, -2.5, 40 }, { 0, 0, 0, 1 } };
  lv_volume_set_affine (v, a);
  return v;
}

/* A binary mask file of @v's grid: 1 in the box [lo, hi) (none when lo >= hi). */
static void
write_mask (const char *dir, const char *name, const int lo[3], const int hi[3], int value)
{
  g_autoptr (LabelVolume) m = new_volume (1);
  for (int k = lo[2]; k < hi[2]; k++)
    for (int j = lo[1]; j < hi[1]; j++)
      for (int i = lo[0]; i < hi[0]; i++)
        lv_volume_set (m, i, j, k, value);
  g_autofree char *file = g_strconcat (name, ".nii.gz", NULL);
  g_autofree char *p = g_build_filename (dir, file, NULL);
  g_autoptr (GError) error = NULL;
  g_assert_true (nifti_write (m, p, 0, &error));
  g_assert_no_error (error);
}

static char *
new_dir (const char *name)
{
  char *d = tmp_path (name);
  g_assert_cmpint (g_mkdir (d, 0777), ==, 0);
  return d;
}

static int64_t
count (const LabelVolume *v, int32_t id)
{
  int64_t n = 0;
  for (int64_t i = 0; i < lv_volume_n_voxels (v); i++)
    n += lv_volume_get_index (v, i) == id;
  return n;
}

static guint
n_files (const char *dir)
{
  g_autoptr (GDir) d = g_dir_open (dir, 0, NULL);
  guint n = 0;
  while (g_dir_read_name (d))
    n++;
  return n;
}

static gboolean
same_bytes (const char *a, const char *b)
{
  g_autofree char *x = NULL, *y = NULL;
  gsize nx, ny;
  g_assert_true (g_file_get_contents (a, &x, &nx, NULL));
  g_assert_true (g_file_get_contents (b, &y, &ny, NULL));
  return nx == ny && memcmp (x, y, nx) == 0;
}

/* TotalSegmentator v2 names: ids from the scheme, absent classes as empty masks, a name
 * no scheme knows after the reserved ids, hidden and foreign files ignored. */
static void
test_read_v2 (void)
{
  g_autofree char *dir = new_dir ("v2");
  const int none[3] = { 0, 0, 0 };
  write_mask (dir, "liver", (int[]) { 2, 2, 2 }, (int[]) { 8, 8, 6 }, 1);
  write_mask (dir, "kidney_left", (int[]) { 12, 2, 2 }, (int[]) { 15, 5, 5 }, 1);
  write_mask (dir, "kidney_right", none, none, 1);            /* absent: empty */
  write_mask (dir, "my_tumour", (int[]) { 16, 10, 8 }, (int[]) { 18, 12, 10 }, 255);
  write_mask (dir, "lung_completed", (int[]) { 0, 14, 0 }, (int[]) { 4, 16, 2 }, 1);
  g_autofree char *junk = g_build_filename (dir, "notes.txt", NULL);
  g_autofree char *hidden = g_build_filename (dir, ".tmp.nii.gz", NULL);
  g_assert_true (g_file_set_contents (junk, "hello", -1, NULL));
  g_assert_true (g_file_set_contents (hidden, "half-written", -1, NULL));

  g_autoptr (GError) error = NULL;
  g_autoptr (LabelTable) t = NULL;
  g_autofree char *warnings = NULL;
  g_assert_true (label_folder_path_is_folder (dir));
  g_assert_cmpint (label_file_format_from_path (dir), ==, LABEL_FILE_FORMAT_FOLDER);
  g_autoptr (LabelVolume) v = label_file_read (dir, 0, &t, &warnings, &error);
  g_assert_no_error (error);
  g_assert_null (warnings);
  const LabelScheme *v2 = label_scheme_get (LABEL_SCHEME_TOTALSEG_V2);
  const int32_t max_id = label_scheme_get_max_id (v2);
  g_assert_cmpint (count (v, 5), ==, 6 * 6 * 4);
  g_assert_cmpint (count (v, 3), ==, 27);
  g_assert_cmpint (count (v, 2), ==, 0);
  g_assert_cmpint (count (v, max_id + LT_N_ORGANS + 1), ==, 8);   /* my_tumour: a new id */
  g_assert_cmpint (count (v, label_scheme_get_write_back (v2, LT_LUNG)->id), ==, 16);
  g_assert_cmpint (t->entries->len, ==, 5);
  g_assert_cmpstr (lt_table_lookup (t, 2)->name, ==, "kidney_right");
  g_assert_cmpstr (lt_table_lookup (t, max_id + LT_N_ORGANS + 1)->name, ==, "my_tumour");
  /* geometry of the masks */
  g_autoptr (LabelVolume) ref = new_volume (1);
  for (int r = 0; r < 3; r++)
    for (int c = 0; c < 4; c++)
      g_assert_cmpfloat_with_epsilon (v->affine[r][c], ref->affine[r][c], 1e-4);
  /* the scheme follows from the table */
  gboolean by_names = TRUE;
  g_assert_true (label_scheme_resolve (NULL, t, v, dir, &by_names, &error) == v2);
  g_assert_no_error (error);
  g_assert_false (by_names);
}

/* Names no scheme knows: 1, 2, ... in name order; overlaps go to the highest id. */
static void
test_read_unknown_and_overlap (void)
{
  g_autofree char *dir = new_dir ("atlas");
  write_mask (dir, "beta", (int[]) { 0, 0, 0 }, (int[]) { 10, 10, 10 }, 1);
  write_mask (dir, "alpha", (int[]) { 5, 5, 5 }, (int[]) { 15, 15, 10 }, 1);
  write_mask (dir, "gamma", (int[]) { 8, 8, 8 }, (int[]) { 12, 12, 12 }, 1);
  g_autoptr (GError) error = NULL;
  g_autoptr (LabelTable) t = NULL;
  g_autofree char *warnings = NULL;
  g_autoptr (LabelVolume) v = label_folder_read (dir, 0, 1, &t, &warnings, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (lt_table_lookup (t, 1)->name, ==, "alpha");
  g_assert_cmpstr (lt_table_lookup (t, 2)->name, ==, "beta");
  g_assert_cmpstr (lt_table_lookup (t, 3)->name, ==, "gamma");
  g_assert_cmpint (lv_volume_get (v, 6, 6, 6), ==, 2);    /* alpha and beta: beta (2) */
  g_assert_cmpint (lv_volume_get (v, 9, 9, 9), ==, 3);    /* all three: gamma */
  g_assert_cmpint (lv_volume_get (v, 14, 14, 9), ==, 1);
  g_assert_nonnull (warnings);
  g_assert_nonnull (strstr (warnings, "more than one mask"));
  /* alpha ∩ beta = 5³ = 125, gamma ∩ (alpha ∪ beta) = 4·4·2 = 32 */
  g_assert_nonnull (strstr (warnings, "157 voxels"));
  /* the same with several threads */
  g_autoptr (LabelVolume) w = label_folder_read (dir, 0, 4, NULL, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpmem (v->data, lv_volume_n_voxels (v), w->data, lv_volume_n_voxels (w));
}

static void
test_read_errors (void)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *empty = new_dir ("empty");
  g_assert_null (label_file_read (empty, 0, NULL, NULL, &error));
  g_assert_error (error, LABEL_FOLDER_ERROR, LABEL_FOLDER_ERROR_EMPTY);
  g_assert_nonnull (strstr (error->message, empty));
  g_clear_error (&error);

  g_autofree char *multi = new_dir ("multi");
  write_mask (multi, "liver", (int[]) { 0, 0, 0 }, (int[]) { 4, 4, 4 }, 1);
  {
    g_autoptr (LabelVolume) m = new_volume (1);
    lv_volume_set (m, 1, 1, 1, 5);
    lv_volume_set (m, 2, 1, 1, 7);
    g_autofree char *p = g_build_filename (multi, "organs.nii.gz", NULL);
    g_assert_true (nifti_write (m, p, 0, NULL));
  }
  g_assert_null (label_file_read (multi, 0, NULL, NULL, &error));
  g_assert_error (error, LABEL_FOLDER_ERROR, LABEL_FOLDER_ERROR_NOT_MASK);
  g_assert_nonnull (strstr (error->message, "organs.nii.gz"));
  g_clear_error (&error);

  g_autofree char *grid = new_dir ("grid");
  write_mask (grid, "liver", (int[]) { 0, 0, 0 }, (int[]) { 4, 4, 4 }, 1);
  {
    const double sp[3] = { 1, 1, 1 };
    g_autoptr (LabelVolume) m = lv_volume_new (20, 16, 11, sp, 1, NULL);
    g_autofree char *p = g_build_filename (grid, "spleen.nii.gz", NULL);
    g_assert_true (nifti_write (m, p, 0, NULL));
  }
  g_assert_null (label_file_read (grid, 0, NULL, NULL, &error));
  g_assert_error (error, LABEL_FOLDER_ERROR, LABEL_FOLDER_ERROR_GEOMETRY);
  g_clear_error (&error);

  /* a corrupt mask: the reader's error, naming the file */
  g_autofree char *bad = new_dir ("bad");
  write_mask (bad, "liver", (int[]) { 0, 0, 0 }, (int[]) { 4, 4, 4 }, 1);
  g_autofree char *p = g_build_filename (bad, "spleen.nii.gz", NULL);
  g_assert_true (g_file_set_contents (p, "\x1f\x8b garbage", -1, NULL));
  g_assert_null (label_file_read (bad, 0, NULL, NULL, &error));
  g_assert_nonnull (error);
  g_assert_nonnull (strstr (error->message, "spleen.nii.gz"));
  g_clear_error (&error);

  /* the voxel cap applies to each mask */
  g_assert_null (label_file_read (grid, 100, NULL, NULL, &error));
  g_assert_error (error, NIFTI_ERROR, NIFTI_ERROR_TOO_LARGE);
}

/* A volume written as a folder and read back: every table entry a mask (absent ones empty),
 * labels without names as label_<id>, names made file-safe. */
static void
test_write_plain (void)
{
  g_autoptr (LabelVolume) v = new_volume (1);
  for (int i = 0; i < 5; i++)
    {
      lv_volume_set (v, i, 0, 0, 5);      /* liver */
      lv_volume_set (v, i, 1, 0, 3);      /* kidney_left */
      lv_volume_set (v, i, 2, 0, 200);    /* no name */
    }
  g_autoptr (LabelTable) t = lt_table_new ("test");
  lt_table_set (t, 5, "liver", NULL);
  lt_table_set (t, 3, "kidney_left", NULL);
  lt_table_set (t, 2, "kidney_right", NULL);      /* absent: an empty mask */
  lt_table_set (t, 7, "a/b: c", NULL);            /* absent, odd name */
  g_autofree char *out = tmp_path ("plain-out");
  g_assert_true (label_folder_path_wants_folder (out));
  g_autoptr (GError) error = NULL;
  g_assert_true (label_file_write (v, t, out, FALSE, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (n_files (out), ==, 5);
  g_autofree char *odd = g_build_filename (out, "a_b_c.nii.gz", NULL);
  g_autofree char *unnamed = g_build_filename (out, "label_200.nii.gz", NULL);
  g_assert_true (g_file_test (odd, G_FILE_TEST_IS_REGULAR));
  g_assert_true (g_file_test (unnamed, G_FILE_TEST_IS_REGULAR));
  g_autoptr (LabelTable) t2 = NULL;
  g_autoptr (LabelVolume) w = label_file_read (out, 0, &t2, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpint (count (w, 5), ==, 5);
  g_assert_cmpint (count (w, 3), ==, 5);
  g_assert_cmpint (count (w, 2), ==, 0);
  g_assert_cmpstr (lt_table_lookup (t2, 2)->name, ==, "kidney_right");
  /* a mask is 0/1 uint8 with no label extension */
  g_autofree char *liver = g_build_filename (out, "liver.nii.gz", NULL);
  g_autoptr (LabelVolume) m = nifti_read (liver, NULL, &error);
  g_assert_no_error (error);
  int32_t lo, hi;
  lv_volume_min_max (m, &lo, &hi);
  g_assert_cmpint (lo, ==, 0);
  g_assert_cmpint (hi, ==, 1);
  NiftiInfo info;
  g_assert_true (nifti_source_get_info (m->source, &info));
  g_assert_cmpint (info.n_extensions, ==, 0);
  /* no overwrite: refused before anything is written, the folder unchanged */
  g_autofree char *before = NULL;
  g_assert_true (g_file_get_contents (liver, &before, NULL, NULL));
  lv_volume_set (v, 0, 5, 5, 5);
  g_assert_false (label_file_write (v, t, out, FALSE, &error));
  g_assert_true (label_file_error_is_exists (error));
  g_clear_error (&error);
  g_autofree char *after = NULL;
  g_assert_true (g_file_get_contents (liver, &after, NULL, NULL));
  g_assert_cmpstr (before, ==, after);
  g_assert_cmpuint (n_files (out), ==, 5);
  /* with overwrite */
  g_assert_true (label_file_write (v, t, out, TRUE, &error));
  g_assert_no_error (error);
  g_autoptr (LabelVolume) w2 = label_file_read (out, 0, NULL, NULL, &error);
  g_assert_cmpint (count (w2, 5), ==, 6);
  /* negative labels cannot be masks */
  g_autoptr (LabelVolume) neg = new_volume (4);
  lv_volume_set (neg, 1, 1, 1, -4);
  g_autofree char *nout = tmp_path ("neg-out");
  g_assert_false (label_file_write (neg, NULL, nout, FALSE, &error));
  g_assert_error (error, LABEL_FOLDER_ERROR, LABEL_FOLDER_ERROR_NOT_MASK);
  g_assert_false (g_file_test (nout, G_FILE_TEST_EXISTS));
}

/* Written with the folder it came from: unchanged masks byte for byte, a mask that got
 * voxels rewritten (its overlap voxels kept), an empty mask replaced, new labels new masks. */
static void
test_write_like (void)
{
  g_autofree char *dir = new_dir ("like");
  const int none[3] = { 0, 0, 0 };
  write_mask (dir, "spleen", (int[]) { 0, 0, 0 }, (int[]) { 6, 6, 6 }, 1);
  write_mask (dir, "stomach", (int[]) { 4, 4, 4 }, (int[]) { 8, 8, 8 }, 1);   /* overlaps spleen */
  write_mask (dir, "liver", none, none, 1);                                    /* absent */
  write_mask (dir, "kidney_left", (int[]) { 12, 0, 0 }, (int[]) { 14, 2, 2 }, 1);
  g_autoptr (GError) error = NULL;
  g_autoptr (LabelTable) t = NULL;
  g_autoptr (LabelVolume) in = label_file_read (dir, 0, &t, NULL, &error);
  g_assert_no_error (error);
  /* a "completion": liver, more kidney_left, a reserved lung id */
  g_autoptr (LabelVolume) out = lv_volume_dup (in);
  g_assert_true (lv_volume_widen_for (out, 118, NULL));
  for (int i = 10; i < 16; i++)
    lv_volume_set (out, i, 10, 10, 5);
  lv_volume_set (out, 15, 0, 0, 3);
  lv_volume_set (out, 0, 15, 11, 118);
  lt_table_set (t, 118, "lung (completed)", NULL);
  g_autofree char *od = tmp_path ("like-out");
  LabelFileWriteOptions wo = { .like_path = dir, .like = in };
  g_assert_true (label_file_write_full (out, t, od, &wo, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (n_files (od), ==, 5);
  const char *same[] = { "spleen.nii.gz", "stomach.nii.gz" };
  for (int i = 0; i < 2; i++)
    {
      g_autofree char *a = g_build_filename (dir, same[i], NULL), *b = g_build_filename (od, same[i], NULL);
      g_assert_true (same_bytes (a, b));
    }
  const char *changed[] = { "liver.nii.gz", "kidney_left.nii.gz" };
  for (int i = 0; i < 2; i++)
    {
      g_autofree char *a = g_build_filename (dir, changed[i], NULL), *b = g_build_filename (od, changed[i], NULL);
      g_assert_false (same_bytes (a, b));
    }
  g_autofree char *lung = g_build_filename (od, "lung_completed.nii.gz", NULL);
  g_assert_true (g_file_test (lung, G_FILE_TEST_IS_REGULAR));
  g_autofree char *kid = g_build_filename (od, "kidney_left.nii.gz", NULL);
  g_autoptr (LabelVolume) km = nifti_read (kid, NULL, &error);
  g_assert_cmpint (count (km, 1), ==, 9);
  /* read back: the output volume, lung_completed as the reserved id again */
  g_autoptr (LabelVolume) back = label_file_read (od, 0, NULL, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpint (back->bytes_per_voxel, ==, out->bytes_per_voxel);
  g_assert_cmpmem (back->data, lv_volume_n_voxels (out), out->data, lv_volume_n_voxels (out));
  /* the same without the volume: label_folder_write reads the folder itself */
  g_autofree char *od2 = tmp_path ("like-out2");
  g_assert_true (label_folder_write (out, t, dir, NULL, od2, FALSE, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (n_files (od2), ==, 5);

  /* all or nothing: a destination that cannot be replaced (a folder of that name) makes
   * the write fail after the other files are complete; nothing is left behind */
  g_autofree char *od3 = new_dir ("like-out3");
  g_autofree char *blocker = g_build_filename (od3, "spleen.nii.gz", NULL);
  g_assert_cmpint (g_mkdir (blocker, 0777), ==, 0);
  g_assert_false (label_folder_write (out, t, dir, in, od3, TRUE, &error));
  g_assert_nonnull (error);
  g_clear_error (&error);
  g_assert_cmpuint (n_files (od3), ==, 1);
  g_rmdir (blocker);
  /* a folder we create is removed again when a mask cannot be made (here: the input mask
   * to add to has become unreadable) */
  g_autofree char *liver = g_build_filename (dir, "liver.nii.gz", NULL);
  g_assert_true (g_file_set_contents (liver, "not a mask any more", -1, NULL));
  g_autofree char *od4 = tmp_path ("like-out4");
  g_assert_false (label_folder_write (out, t, dir, in, od4, FALSE, &error));
  g_assert_nonnull (error);
  g_assert_nonnull (strstr (error->message, "liver.nii.gz"));
  g_clear_error (&error);
  g_assert_false (g_file_test (od4, G_FILE_TEST_EXISTS));
  /* a folder that cannot be made */
  g_assert_false (label_folder_write (out, t, dir, in, "/proc/no-such/x", FALSE, &error));
  g_assert_error (error, LABEL_FOLDER_ERROR, LABEL_FOLDER_ERROR_IO);
}

/* A full disk (RLIMIT_FSIZE; SIGXFSZ ignored meanwhile) while the masks are written:
 * nothing is left, neither masks nor temporaries nor the folder; into an existing folder
 * with overwrite, the old masks stay byte for byte. */
static void
test_write_disk_full (void)
{
  g_autoptr (LabelVolume) v = new_volume (1);
  /* organ1 one voxel (a small file), the others scattered (larger files) */
  for (int64_t i = 0; i < lv_volume_n_voxels (v); i++)
    lv_volume_set_index (v, i, 2 + (int32_t) (((guint32) i * 2654435761u) >> 16) % 5);
  lv_volume_set_index (v, 0, 1);
  g_autoptr (LabelTable) t = lt_table_new ("test");
  for (int id = 1; id < 7; id++)
    {
      char name[16];
      g_snprintf (name, sizeof name, "organ%d", id);
      lt_table_set (t, id, name, NULL);
    }
  g_autoptr (GError) error = NULL;
  g_autofree char *old = tmp_path ("full-old");
  g_assert_true (label_folder_write (v, t, NULL, NULL, old, FALSE, &error));
  g_assert_no_error (error);
  g_autofree char *organ1 = g_build_filename (old, "organ1.nii.gz", NULL);
  g_autofree char *before = NULL;
  gsize before_len = 0;
  g_assert_true (g_file_get_contents (organ1, &before, &before_len, NULL));

  GStatBuf st1, st2;
  g_autofree char *organ2 = g_build_filename (old, "organ2.nii.gz", NULL);
  g_assert_cmpint (g_stat (organ1, &st1), ==, 0);
  g_assert_cmpint (g_stat (organ2, &st2), ==, 0);
  g_test_message ("mask files: %ld and %ld bytes", (long) st1.st_size, (long) st2.st_size);
  g_assert_cmpint (st1.st_size + 50, <, st2.st_size);
  struct rlimit lim, small;
  g_assert_cmpint (getrlimit (RLIMIT_FSIZE, &lim), ==, 0);
  small = lim;
  small.rlim_cur = (rlim_t) (st1.st_size + st2.st_size) / 2;   /* organ1 fits, organ2 does not */
  void (*handler) (int) = signal (SIGXFSZ, SIG_IGN);
  g_autoptr (LabelVolume) w = lv_volume_dup (v);
  lv_volume_set (w, 0, 0, 0, 6);
  g_autofree char *fresh = tmp_path ("full-new");
  g_assert_cmpint (setrlimit (RLIMIT_FSIZE, &small), ==, 0);
  gboolean ok_new = label_folder_write (w, t, NULL, NULL, fresh, FALSE, &error);
  g_autoptr (GError) error2 = NULL;
  gboolean ok_old = label_folder_write (w, t, NULL, NULL, old, TRUE, &error2);
  g_assert_cmpint (setrlimit (RLIMIT_FSIZE, &lim), ==, 0);
  signal (SIGXFSZ, handler);

  g_assert_false (ok_new);
  g_assert_nonnull (error);
  g_assert_false (g_file_test (fresh, G_FILE_TEST_EXISTS));
  g_assert_false (ok_old);
  g_assert_nonnull (error2);
  g_assert_cmpuint (n_files (old), ==, 6);   /* no temporaries left */
  g_autofree char *after = NULL;
  gsize after_len = 0;
  g_assert_true (g_file_get_contents (organ1, &after, &after_len, NULL));
  g_assert_cmpmem (before, before_len, after, after_len);
}

/* The OutSet rule (out-file.h) for mask folders: the masks of the folder read are inputs
 * (never replaced, even with overwrite); nothing appears before the commit; a set freed
 * without a commit, or whose commit fails on another output, leaves neither masks nor the
 * folder it created; an existing folder with other files is not written into.  Reading: a
 * FIFO named like a mask is refused (in-file.h), a cancelled read stops. */
static void
test_outset (void)
{
  g_autofree char *dir = new_dir ("set-in");
  write_mask (dir, "liver", (int[]) { 0, 0, 0 }, (int[]) { 4, 4, 4 }, 1);
  write_mask (dir, "spleen", (int[]) { 6, 6, 6 }, (int[]) { 9, 9, 9 }, 1);
  g_autoptr (GError) error = NULL;
  g_autoptr (LabelTable) t = NULL;
  g_autoptr (LabelVolume) v = label_file_read (dir, 0, &t, NULL, &error);
  g_assert_no_error (error);
  g_autofree char *liver = g_build_filename (dir, "liver.nii.gz", NULL);
  g_autofree char *liver_copy = tmp_path ("set-liver-before.nii.gz");
  {
    g_autofree char *bytes = NULL;
    gsize len = 0;
    g_assert_true (g_file_get_contents (liver, &bytes, &len, NULL));
    g_assert_true (g_file_set_contents (liver_copy, bytes, (gssize) len, NULL));
  }

  /* into the folder it came from: its masks are inputs, even with overwrite */
  {
    g_autoptr (OutSet) set = out_set_new (TRUE);
    label_file_add_inputs (set, dir);
    g_assert_false (label_file_write_in (set, v, t, dir, &error));
    g_assert_error (error, OUT_FILE_ERROR, OUT_FILE_ERROR_SAME);
    g_clear_error (&error);
  }
  g_assert_cmpuint (n_files (dir), ==, 2);
  g_assert_true (same_bytes (liver, liver_copy));

  /* a new folder: checked before the work, nothing before the commit, nothing at all when
   * the set is freed without one */
  g_autofree char *fresh = tmp_path ("set-out");
  g_autofree char *fresh_liver = g_build_filename (fresh, "liver.nii.gz", NULL);
  {
    g_autoptr (OutSet) set = out_set_new (FALSE);
    label_file_add_inputs (set, dir);
    g_assert_true (label_file_reserve (set, fresh, &error));
    g_assert_no_error (error);
    g_assert_true (label_file_write_in (set, v, t, fresh, &error));
    g_assert_no_error (error);
    g_assert_false (g_file_test (fresh_liver, G_FILE_TEST_EXISTS));
  }
  g_assert_false (g_file_test (fresh, G_FILE_TEST_EXISTS));

  /* committed together with another output; when that one cannot be moved in, the masks
   * are taken back and the folder goes */
  g_autofree char *other = tmp_path ("set-other.nii.gz");
  {
    g_autoptr (OutSet) set = out_set_new (FALSE);
    label_file_add_inputs (set, dir);
    g_assert_true (label_file_write_in (set, v, NULL, other, &error));
    g_assert_true (label_file_write_in (set, v, t, fresh, &error));
    g_assert_no_error (error);
    g_assert_cmpint (g_mkdir (other, 0777), ==, 0);   /* appears meanwhile: cannot be replaced */
    g_assert_false (out_set_commit (set, &error));
    g_assert_nonnull (error);
    g_clear_error (&error);
  }
  g_assert_false (g_file_test (fresh, G_FILE_TEST_EXISTS));
  g_assert_cmpint (g_rmdir (other), ==, 0);
  {
    g_autoptr (OutSet) set = out_set_new (FALSE);
    label_file_add_inputs (set, dir);
    g_assert_true (label_file_write_in (set, v, NULL, other, &error));
    g_assert_true (label_file_write_in (set, v, t, fresh, &error));
    g_assert_true (out_set_commit (set, &error));
    g_assert_no_error (error);
  }
  g_assert_cmpuint (n_files (fresh), ==, 2);
  g_assert_true (g_file_test (other, G_FILE_TEST_IS_REGULAR));

  /* an existing folder that holds other files than masks is not written into */
  g_autofree char *work = new_dir ("set-work");
  g_autofree char *notes = g_build_filename (work, "notes.txt", NULL);
  g_assert_true (g_file_set_contents (notes, "mine", -1, NULL));
  g_assert_false (label_file_write (v, t, work, TRUE, &error));
  g_assert_error (error, LABEL_FOLDER_ERROR, LABEL_FOLDER_ERROR_NOT_MASK_FOLDER);
  test_assert_message_has (error, "unknown output format", "notes.txt", NULL);
  g_clear_error (&error);
  g_assert_cmpuint (n_files (work), ==, 1);
  /* nor a folder whose parent is missing */
  g_autofree char *orphan = tmp_path ("set-missing/out");
  {
    g_autoptr (OutSet) set = out_set_new (FALSE);
    g_assert_false (label_file_reserve (set, orphan, &error));
    g_assert_error (error, LABEL_FOLDER_ERROR, LABEL_FOLDER_ERROR_IO);
    g_clear_error (&error);
  }

  /* a cancelled read stops */
  g_autoptr (GCancellable) cancel = g_cancellable_new ();
  g_cancellable_cancel (cancel);
  g_assert_null (label_file_read_cancellable (dir, 0, cancel, NULL, NULL, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_clear_error (&error);

  /* a FIFO named like a mask: refused at once, never opened */
  g_autofree char *fifo = g_build_filename (dir, "stomach.nii.gz", NULL);
  g_assert_cmpint (mkfifo (fifo, 0644), ==, 0);
  g_assert_null (label_file_read (dir, 0, NULL, NULL, &error));
  g_assert_error (error, LABEL_FOLDER_ERROR, LABEL_FOLDER_ERROR_IO);
  test_assert_message_has (error, "stomach.nii.gz", "named pipe", NULL);
  g_clear_error (&error);
  g_unlink (fifo);
}

static void
test_names (void)
{
  const char *cases[][2] = {
    { "liver", "liver.nii.gz" }, { "lung (completed)", "lung_completed.nii.gz" }, { "a / b", "a_b.nii.gz" },
    { "..hidden", "hidden.nii.gz" }, { "", "label.nii.gz" }, { "vertebrae_L1", "vertebrae_L1.nii.gz" },
  };
  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autofree char *f = label_folder_mask_file_name (cases[i][0]);
      g_assert_cmpstr (f, ==, cases[i][1]);
    }
  const LabelScheme *v2 = label_scheme_get (LABEL_SCHEME_TOTALSEG_V2);
  g_assert_cmpint (label_scheme_find_name (v2, "lung_completed"), ==, label_scheme_find_name (v2, "lung (completed)"));
  g_autofree char *stem = label_file_path_stem ("/d/segmentations/");
  g_assert_cmpstr (stem, ==, "/d/segmentations");
  g_autofree char *p = tmp_path ("new-folder");
  g_autofree char *q = tmp_path ("new-file.nii.gz");
  g_assert_true (label_folder_path_wants_folder (p));
  g_assert_false (label_folder_path_wants_folder (q));
  g_assert_cmpint (label_file_format_from_path (p), ==, LABEL_FILE_FORMAT_FOLDER);
  g_assert_cmpint (label_file_format_from_path ("/x/out/"), ==, LABEL_FILE_FORMAT_FOLDER);
}

/* NIfTI keeps names: a table goes into the Caret XML extension, replacing an old one and
 * leaving other extensions; lt_table_find_for_volume reads it back. */
static void
test_nifti_names (void)
{
  g_autoptr (LabelVolume) v = new_volume (1);
  lv_volume_set (v, 1, 1, 1, 5);
  g_autoptr (LabelTable) t = lt_table_new ("test");
  const guint8 red[4] = { 255, 0, 0, 255 };
  lt_table_set (t, 5, "liver", red);
  lt_table_set (t, 7, "odd ]]> <name> & \"x\"", NULL);
  g_autofree char *p = tmp_path ("names.nii.gz");
  g_autoptr (GError) error = NULL;
  g_assert_true (label_file_write (v, t, p, FALSE, &error));
  g_assert_no_error (error);
  g_autoptr (LabelTable) back = NULL;
  g_autoptr (LabelVolume) w = label_file_read (p, 0, &back, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (lt_table_lookup (back, 5)->name, ==, "liver");
  g_assert_cmpmem (lt_table_lookup (back, 5)->rgba, 4, red, 4);
  g_assert_cmpstr (lt_table_lookup (back, 7)->name, ==, "odd ]]> <name> & \"x\"");
  int n = 0;
  const NiftiExtension *ext = nifti_source_get_extensions (w->source, &n);
  g_assert_cmpint (n, ==, 1);
  g_assert_cmpint (ext[0].ecode, ==, 0);
  g_assert_cmpint ((ext[0].size + 8) % 16, ==, 0);
  g_assert_null (memchr (ext[0].data, '\0', ext[0].size));   /* padded with spaces */
  /* rewritten with another table: still one label extension, the new names */
  g_autoptr (LabelTable) t2 = lt_table_new ("test2");
  lt_table_set (t2, 5, "hepar", NULL);
  g_autofree char *p2 = tmp_path ("names2.nii");
  g_assert_true (label_file_write (w, t2, p2, FALSE, &error));
  g_autoptr (LabelTable) back2 = NULL;
  g_autoptr (LabelVolume) w2 = label_file_read (p2, 0, &back2, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (lt_table_lookup (back2, 5)->name, ==, "hepar");
  g_assert_null (lt_table_lookup (back2, 7));
  nifti_source_get_extensions (w2->source, &n);
  g_assert_cmpint (n, ==, 1);
  /* without a table the extension stays as it is */
  g_autofree char *p3 = tmp_path ("names3.nii");
  g_assert_true (label_file_write (w2, NULL, p3, FALSE, &error));
  g_autoptr (LabelTable) back3 = NULL;
  g_autoptr (LabelVolume) w3 = label_file_read (p3, 0, &back3, NULL, &error);
  g_assert_cmpstr (lt_table_lookup (back3, 5)->name, ==, "hepar");
  /* the XML itself */
  gsize len = 0;
  g_autofree char *xml = lt_table_dup_caret_xml (t, &len);
  g_assert_cmpuint (len, ==, strlen (xml));
  g_assert_nonnull (strstr (xml, "<Label Key=\"5\" Red=\"1\" Green=\"0\" Blue=\"0\" Alpha=\"1\"><![CDATA[liver]]></Label>"));
  g_autoptr (LabelTable) parsed = lt_table_from_xml (xml, len, "xml", &error);
  g_assert_no_error (error);
  g_assert_cmpuint (parsed->entries->len, ==, 2);
}

static const TestCase test_cases[] = {
  { "/label-folder/read-v2", test_read_v2 },
  { "/label-folder/read-unknown-overlap", test_read_unknown_and_overlap },
  { "/label-folder/read-errors", test_read_errors },
  { "/label-folder/write-plain", test_write_plain },
  { "/label-folder/write-like", test_write_like },
  { "/label-folder/write-disk-full", test_write_disk_full },
  { "/label-folder/outset", test_outset },
  { "/label-folder/names", test_names },
  { "/label-folder/nifti-names", test_nifti_names },
};

TEST_UTIL_MAIN_TMPDIR (test_cases, "test-label-folder-XXXXXX", NULL)
