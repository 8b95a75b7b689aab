/* test-util.h: small helpers shared by the C tests (header only: each test is one file).
 * The network helpers need the engine: define TEST_UTIL_NN before including. */
#pragma once

#include <stdarg.h>
#include <string.h>
#include <glib.h>
#include <glib/gstdio.h>

/* A valid NIfTI-1 header for a .nii of nx×ny×nz voxels of @datatype/@bitpix, unit spacing,
 * vox_offset 352.  Writes the 348 header bytes; the 4 extension bytes are the caller's. */
static inline void
test_nifti1_header (guint8 *h, int nx, int ny, int nz, int datatype, int bitpix)
{
  int32_t size = 348;
  int16_t dim[8] = { 3, (int16_t) nx, (int16_t) ny, (int16_t) nz, 1, 1, 1, 1 };
  float pixdim[8] = { 1, 1, 1, 1, 0, 0, 0, 0 };
  float vox_offset = 352;
  int16_t dt = (int16_t) datatype, bp = (int16_t) bitpix;
  memset (h, 0, 348);
  memcpy (h, &size, 4);
  memcpy (h + 40, dim, sizeof dim);
  memcpy (h + 70, &dt, 2);
  memcpy (h + 72, &bp, 2);
  memcpy (h + 76, pixdim, sizeof pixdim);
  memcpy (h + 108, &vox_offset, 4);
  memcpy (h + 344, "n+1\0", 4);
}

/* One GLib test case: its path and function. */
typedef struct {
  const char *path;
  GTestFunc fn;
} TestCase;

/* Registers the @n @cases, in order (g_test_add_func). */
static inline void
test_util_add (const TestCase *cases, gsize n)
{
  for (gsize i = 0; i < n; i++)
    g_test_add_func (cases[i].path, cases[i].fn);
}

/* Set-up or tear-down of a whole test run (fixtures, data cases). */
typedef void (*TestSetupFunc) (void);

/* The main of a test with a fixture for the whole run: g_test_init, @setup, the @n @cases,
 * g_test_run, @teardown (either may be NULL). */
static inline int
test_util_run_with (int argc, char **argv, TestSetupFunc setup, TestSetupFunc teardown, const TestCase *cases,
                    gsize n)
{
  g_test_init (&argc, &argv, NULL);
  if (setup != NULL)
    setup ();
  test_util_add (cases, n);
  int rc = g_test_run ();
  if (teardown != NULL)
    teardown ();
  return rc;
}

/* The whole main of a test: TEST_UTIL_MAIN (cases) after the table; TEST_UTIL_MAIN_WITH
 * (cases, setup, teardown) with a fixture. */
#define TEST_UTIL_MAIN_WITH(cases, setup, teardown)                                                             \
  int main (int argc, char **argv)                                                                              \
  {                                                                                                             \
    return test_util_run_with (argc, argv, setup, teardown, cases, G_N_ELEMENTS (cases));                       \
  }
#define TEST_UTIL_MAIN(cases) TEST_UTIL_MAIN_WITH (cases, NULL, NULL)

/* @text is not NULL and holds each of the words in @ap (NULL-terminated). */
static inline void
test_assert_contains_v (const char *text, va_list ap)
{
  g_assert_nonnull (text);
  for (const char *w = va_arg (ap, const char *); w != NULL; w = va_arg (ap, const char *))
    if (strstr (text, w) == NULL)
      g_error ("\"%s\" does not say \"%s\"", text, w);
}

/* @text is not NULL and holds each of the words after it (NULL-terminated). */
G_GNUC_NULL_TERMINATED static inline void
test_assert_contains (const char *text, ...)
{
  va_list ap;
  va_start (ap, text);
  test_assert_contains_v (text, ap);
  va_end (ap);
}

/* @error is set and its message holds each of the words after it (NULL-terminated): what
 * is wrong and where. */
G_GNUC_NULL_TERMINATED static inline void
test_assert_message_has (const GError *error, ...)
{
  g_assert_nonnull (error);
  va_list ap;
  va_start (ap, error);
  test_assert_contains_v (error->message, ap);
  va_end (ap);
}

/* Removes @path and, when it is a folder, everything below it (links are removed, not
 * followed).  Returns whether @path is gone. */
static inline gboolean
test_rm_rf (const char *path)
{
  GStatBuf st;
  if (g_file_test (path, G_FILE_TEST_IS_DIR) && !g_file_test (path, G_FILE_TEST_IS_SYMLINK))
    {
      g_autoptr (GDir) d = g_dir_open (path, 0, NULL);
      const char *n;
      while (d != NULL && (n = g_dir_read_name (d)) != NULL)
        {
          g_autofree char *p = g_build_filename (path, n, NULL);
          test_rm_rf (p);
        }
      g_rmdir (path);
    }
  else
    g_unlink (path);
  return g_lstat (path, &st) != 0;
}

/* The main of a test that writes below one temporary folder: g_test_init, *@tmpdir made
 * from @tmpl, @setup (may be NULL), the @n @cases, g_test_run, then the folder and all in
 * it removed.  A folder that cannot be removed fails the run. */
static inline int
test_util_run_in_tmpdir (int argc, char **argv, const char *tmpl, char **tmpdir, TestSetupFunc setup,
                         const TestCase *cases, gsize n)
{
  g_test_init (&argc, &argv, NULL);
  *tmpdir = g_dir_make_tmp (tmpl, NULL);
  g_assert_nonnull (*tmpdir);
  if (setup != NULL)
    setup ();
  test_util_add (cases, n);
  int rc = g_test_run ();
  if (!test_rm_rf (*tmpdir))
    {
      g_printerr ("could not remove %s\n", *tmpdir);
      rc = rc != 0 ? rc : 1;
    }
  g_clear_pointer (tmpdir, g_free);
  return rc;
}

/* TEST_UTIL_MAIN for a test with a global `char *tmpdir` made from @tmpl ("name-XXXXXX"). */
#define TEST_UTIL_MAIN_TMPDIR(cases, tmpl, setup)                                                               \
  int main (int argc, char **argv)                                                                              \
  {                                                                                                             \
    return test_util_run_in_tmpdir (argc, argv, tmpl, &tmpdir, setup, cases, G_N_ELEMENTS (cases));             \
  }

/* $ANATOMY, the command-line tool, or NULL after marking the test skipped (it is set by
 * meson test). */
static inline const char *
test_anatomy_or_skip (void)
{
  const char *anatomy = g_getenv ("ANATOMY");
  if (anatomy == NULL)
    g_test_skip ("ANATOMY (the command-line tool) is not set: run through meson test");
  return anatomy;
}

/* Runs `$ANATOMY @args...` (@args NULL-terminated); its standard output and error in @out
 * and @err (to free).  Returns whether it exited with status 0. */
static inline gboolean
test_run_anatomy (const char *const *args, char **out, char **err)
{
  g_autoptr (GPtrArray) argv = g_ptr_array_new ();
  g_ptr_array_add (argv, (gpointer) g_getenv ("ANATOMY"));
  for (int i = 0; args[i]; i++)
    g_ptr_array_add (argv, (gpointer) args[i]);
  g_ptr_array_add (argv, NULL);
  g_autoptr (GError) error = NULL;
  int status = 0;
  g_assert_true (g_spawn_sync (NULL, (char **) argv->pdata, NULL, G_SPAWN_DEFAULT, NULL, NULL, out, err, &status,
                               &error));
  g_assert_no_error (error);
  return g_spawn_check_wait_status (status, NULL);
}

#ifdef TEST_UTIL_VOLUME
#include "label-volume.h"

/* A 23×17×11 volume of zeros (@bytes_per_voxel) with spacing 0.7, 1.3, 2.9 mm and an
 * oblique (rotated by ~36.87° about z), anisotropic, shifted affine (RAS). */
static inline LabelVolume *
test_oblique_volume (int bytes_per_voxel)
{
  const double sp[3] = { 0.7, 1.3, 2.9 };
  LabelVolume *v = lv_volume_new (23, 17, 11, sp, bytes_per_voxel, NULL);
  const double c = 0.8, s = 0.6;
  const double a[4][4] = {
    { c * 0.7, -s * 1.3, 0, -12.5 },
    { s * 0.7, c * 1.3, 0, 40.25 },
    { 0, 0, -2.9, 7.0 },
    { 0, 0, 0, 1 },
  };
  lv_volume_set_affine (v, a);
  return v;
}
#endif

#ifdef TEST_UTIL_NN
#include "nn-net.h"

/* @arch with @depth levels of widths w0, 2·w0, 4·w0…, one unit per level, on a @grid³ grid. */
static inline void
test_small_config (NnConfig *cfg, NnArch arch, int depth, int w0, int grid)
{
  nn_config_init_default (cfg, arch);
  cfg->depth = depth;
  for (int i = 0; i < depth; i++)
    cfg->widths[i] = w0 << i;
  cfg->blocks = 1;
  for (int a = 0; a < 3; a++)
    cfg->grid[a] = grid;
}

/* A network of @cfg with random weights from @seed. */
static inline NnNet *
test_random_net (const NnConfig *cfg, guint64 seed)
{
  g_autoptr (GError) error = NULL;
  NnNet *net = nn_net_new (cfg, &error);
  g_assert_no_error (error);
  nn_net_init_random (net, seed);
  return net;
}

/* every parameter of @a and @b bit for bit equal */
static inline void
test_assert_same_params (NnNet *a, NnNet *b, const char *when)
{
  int na, nb;
  NnParam *pa = nn_net_get_params (a, &na), *pb = nn_net_get_params (b, &nb);
  g_assert_cmpint (na, ==, nb);
  for (int i = 0; i < na; i++)
    if (memcmp (pa[i].data, pb[i].data, pa[i].n * sizeof (float)) != 0)
      g_error ("parameter %s differs %s", pa[i].name, when);
}
#endif

#ifdef TEST_UTIL_COMPLETION
#include "completion.h"

/* The shipped U-Net + skip, or NULL after g_test_skip when none is installed. */
static inline NnNet *
test_shipped_net (void)
{
  g_autofree char *model = completion_find_model (NN_ARCH_UNET_SKIP, NULL);
  if (model == NULL)
    {
      g_test_skip ("no shipped model");
      return NULL;
    }
  g_autoptr (GError) error = NULL;
  NnNet *net = nn_net_load (model, &error);
  g_assert_no_error (error);
  return net;
}
#endif
