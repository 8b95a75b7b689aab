/* test-hardening.c: no data loss on failed writes, cancelled completion writes nothing,
 * resource limits (large volumes, lying headers) for the writers and readers outside nifti.c.
 *
 * Failed writes use RLIMIT_FSIZE (write() then fails with EFBIG, also for root, which a
 * read-only directory does not stop); SIGXFSZ is ignored while the limit is set.  For
 * every writer: the previous file stays byte-for-byte intact, no temporary file is left
 * in the directory, and the error message names the target file.
 */
#include "completion.h"
#include "label-file.h"
#include "label-table.h"
#include "mesh.h"
#include "nifti.h"
#include "nn-net.h"
#include "nn-safetensors.h"
#include "out-file.h"
#include "phantom.h"
#include "renderer.h"
#include "scene.h"
#define TEST_UTIL_NN
#include "test-util.h"

#include <errno.h>
#include <fcntl.h>
#include <time.h>
#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zlib.h>
#include <gio/gio.h>
#include <json-glib/json-glib.h>
#include <glib/gstdio.h>

static char *tmpdir;

/* ---- helpers ---- */

static char *
tmp_path (const char *name)
{
  return g_build_filename (tmpdir, name, NULL);
}

/* Names in @dir, sorted, as one "a b c" string (to spot stray temporary files). */
static char *
dir_listing (const char *dir)
{
  g_autoptr (GDir) d = g_dir_open (dir, 0, NULL);
  g_assert_nonnull (d);
  g_autoptr (GPtrArray) names = g_ptr_array_new ();
  const char *n;
  while ((n = g_dir_read_name (d)) != NULL)
    g_ptr_array_add (names, g_strdup (n));
  for (guint i = 1; i < names->len; i++)
    for (guint j = i; j > 0 && strcmp (names->pdata[j - 1], names->pdata[j]) > 0; j--)
      {
        gpointer t = names->pdata[j];
        names->pdata[j] = names->pdata[j - 1];
        names->pdata[j - 1] = t;
      }
  g_ptr_array_add (names, NULL);
  char *s = g_strjoinv (" ", (char **) names->pdata);
  for (guint i = 0; names->pdata[i]; i++)
    g_free (names->pdata[i]);
  return s;
}

/* A fresh, empty directory for one test. */
static char *
fresh_dir (const char *name)
{
  char *d = tmp_path (name);
  g_assert_cmpint (g_mkdir (d, 0755), ==, 0);
  return d;
}

typedef struct {
  struct rlimit old;
  void (*old_handler) (int);
} FsizeLimit;

static void
fsize_limit_begin (FsizeLimit *l, rlim_t bytes)
{
  struct rlimit small = { .rlim_cur = bytes };
  g_assert_cmpint (getrlimit (RLIMIT_FSIZE, &l->old), ==, 0);
  small.rlim_max = l->old.rlim_max;
  l->old_handler = signal (SIGXFSZ, SIG_IGN);
  g_assert_cmpint (setrlimit (RLIMIT_FSIZE, &small), ==, 0);
}

static void
fsize_limit_end (FsizeLimit *l)
{
  g_assert_cmpint (setrlimit (RLIMIT_FSIZE, &l->old), ==, 0);
  signal (SIGXFSZ, l->old_handler);
}

static GBytes *
read_bytes (const char *path)
{
  char *data = NULL;
  gsize len = 0;
  g_autoptr (GError) error = NULL;
  g_file_get_contents (path, &data, &len, &error);
  g_assert_no_error (error);
  return g_bytes_new_take (data, len);
}

static gsize
file_size (const char *path)
{
  GStatBuf st;
  g_assert_cmpint (g_stat (path, &st), ==, 0);
  return (gsize) st.st_size;
}

/* Check the outcome of a write that had to fail: FALSE, error naming @path, @old intact,
 * directory listing unchanged. */
static void
check_failed_write (gboolean ok, const GError *error, const char *path, GBytes *old,
                    const char *dir, const char *listing_before)
{
  g_assert_false (ok);
  g_assert_nonnull (error);
  g_test_message ("expected failure: %s", error->message);
  g_assert_nonnull (strstr (error->message, path));
  g_autoptr (GBytes) now = read_bytes (path);
  g_assert_true (g_bytes_equal (now, old));
  g_autofree char *after = dir_listing (dir);
  g_assert_cmpstr (after, ==, listing_before);
}

/* ---- label table ---- */

static LabelTable *
make_table (int n)
{
  LabelTable *t = lt_table_new ("test");
  for (int i = 1; i <= n; i++)
    {
      g_autofree char *name = g_strdup_printf ("organ number %d with a long descriptive name", i);
      guint8 rgba[4] = { (guint8) (i * 7), (guint8) (i * 13), (guint8) (i * 29), 255 };
      lt_table_set (t, i, name, rgba);
    }
  return t;
}

static void
test_label_table_write_fails (void)
{
  g_autofree char *dir = fresh_dir ("lt");
  g_autofree char *path = g_build_filename (dir, "labels.txt", NULL);
  g_autoptr (GError) error = NULL;
  g_autoptr (LabelTable) small = make_table (2);
  g_autoptr (LabelTable) big = make_table (200);

  g_assert_true (lt_table_save_itksnap (small, path, FALSE, &error));
  g_assert_no_error (error);
  g_autoptr (GBytes) old = read_bytes (path);
  g_autofree char *before = dir_listing (dir);
  g_assert_cmpstr (before, ==, "labels.txt");

  FsizeLimit l;
  fsize_limit_begin (&l, 4096);
  gboolean ok = lt_table_save_itksnap (big, path, TRUE, &error);
  fsize_limit_end (&l);
  check_failed_write (ok, error, path, old, dir, before);
  g_assert_error (error, LT_ERROR, LT_ERROR_IO);

  /* the same write succeeds without the limit, and reads back */
  g_clear_error (&error);
  g_assert_true (lt_table_save_itksnap (big, path, TRUE, &error));
  g_assert_no_error (error);
  g_autoptr (LabelTable) back = lt_table_load (path, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (back->entries->len, ==, 200);

  /* a missing directory: the error names the file */
  g_autofree char *nowhere = g_build_filename (dir, "missing", "labels.txt", NULL);
  g_assert_false (lt_table_save_itksnap (small, nowhere, TRUE, &error));
  g_assert_nonnull (strstr (error->message, nowhere));
}

/* ---- mesh export ---- */

static LabelVolume *
ball_volume (int n, int r)
{
  double sp[3] = { 1, 1, 1 };
  LabelVolume *v = lv_volume_new (n, n, n, sp, 1, NULL);
  for (int k = 0; k < n; k++)
    for (int j = 0; j < n; j++)
      for (int i = 0; i < n; i++)
        {
          int di = i - n / 2, dj = j - n / 2, dk = k - n / 2;
          if (di * di + dj * dj + dk * dk <= r * r)
            lv_volume_set (v, i, j, k, di < 0 ? 1 : 2);
        }
  return v;
}

static SurfaceSet *
ball_surfaces (int n, int r)
{
  g_autoptr (LabelVolume) v = ball_volume (n, r);
  g_autoptr (GError) error = NULL;
  SurfaceOptions o;
  surface_options_init (&o);
  o.n_threads = 1;
  SurfaceSet *s = surface_extract (v, &o, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (s->n_meshes, ==, 2);
  return s;
}

static void
test_mesh_export_write_fails (void)
{
  static const char *const names[] = { "mesh.stl", "mesh.ply", "mesh.obj" };
  g_autoptr (SurfaceSet) small = ball_surfaces (12, 3);
  g_autoptr (SurfaceSet) big = ball_surfaces (48, 20);

  for (guint f = 0; f < G_N_ELEMENTS (names); f++)
    {
      g_autofree char *sub = g_strdup_printf ("mesh%u", f);
      g_autofree char *dir = fresh_dir (sub);
      g_autofree char *path = g_build_filename (dir, names[f], NULL);
      g_autoptr (GError) error = NULL;
      MeshExportOptions opts = { .overwrite = TRUE };

      g_assert_true (mesh_export (small, path, &opts, &error));
      g_assert_no_error (error);
      g_autoptr (GBytes) old = read_bytes (path);
      g_autofree char *before = dir_listing (dir);
      g_autofree char *mtl = g_build_filename (dir, "mesh.mtl", NULL);
      g_autoptr (GBytes) old_mtl = f == 2 ? read_bytes (mtl) : NULL;

      /* limit between the two sizes: the small file fits, the big one cannot */
      FsizeLimit l;
      fsize_limit_begin (&l, MAX (file_size (path) + 1, 8192));
      gboolean ok = mesh_export (big, path, &opts, &error);
      fsize_limit_end (&l);
      check_failed_write (ok, error, path, old, dir, before);
      if (old_mtl)
        {
          g_autoptr (GBytes) now_mtl = read_bytes (mtl);
          g_assert_true (g_bytes_equal (now_mtl, old_mtl));
        }

      /* without the limit it succeeds and the file grows */
      g_clear_error (&error);
      g_assert_true (mesh_export (big, path, &opts, &error));
      g_assert_no_error (error);
      g_assert_cmpuint (file_size (path), >, g_bytes_get_size (old));
      g_autofree char *after = dir_listing (dir);
      g_assert_cmpstr (after, ==, before);
    }
}

/* ---- model save ---- */

/* a two-level U-Net + skip of widths w0, 2·w0 on a @grid³ grid */
static NnNet *
tiny_net (int w0, int grid)
{
  NnConfig cfg;
  test_small_config (&cfg, NN_ARCH_UNET_SKIP, 2, w0, grid);
  return test_random_net (&cfg, 7);
}

static void
test_model_save_fails (void)
{
  g_autofree char *dir = fresh_dir ("model");
  g_autofree char *path = g_build_filename (dir, "net.safetensors", NULL);
  g_autoptr (GError) error = NULL;
  g_autoptr (NnNet) small = tiny_net (4, 8);
  g_autoptr (NnNet) big = tiny_net (16, 8);

  g_assert_true (nn_net_save (small, path, FALSE, &error));
  g_assert_no_error (error);
  g_autoptr (GBytes) old = read_bytes (path);
  g_autofree char *before = dir_listing (dir);

  FsizeLimit l;
  fsize_limit_begin (&l, g_bytes_get_size (old) + 1);
  gboolean ok = nn_net_save (big, path, TRUE, &error);
  fsize_limit_end (&l);
  check_failed_write (ok, error, path, old, dir, before);

  /* the old model still loads */
  g_clear_error (&error);
  g_autoptr (NnNet) back = nn_net_load (path, &error);
  g_assert_no_error (error);
  g_assert_cmpint (nn_net_get_config (back)->widths[0], ==, 4);

  /* without overwrite an existing model is refused, naming the file */
  g_assert_false (nn_net_save (big, path, FALSE, &error));
  g_assert_nonnull (strstr (error->message, path));
}

/* ---- safetensors: JSON nesting (issue 14, item 1) ---- */

/* A safetensors file: the 8-byte length, then @json. */
static GBytes *
safetensors_bytes (const char *json, gsize len)
{
  GByteArray *a = g_byte_array_new ();
  guint8 n[8];
  for (int i = 0; i < 8; i++)
    n[i] = (guint8) ((guint64) len >> (8 * i));
  g_byte_array_append (a, n, 8);
  g_byte_array_append (a, (const guint8 *) json, (guint) len);
  return g_byte_array_free_to_bytes (a);
}

/* @levels nested objects {"a":{"a":...1...}} (the header of the issue: json-glib recursed
 * once per level and overflowed the stack near 52,500 levels). */
static char *
nested_objects (int levels, const char *open, const char *inner, gsize *len)
{
  GString *s = g_string_new (NULL);
  for (int i = 0; i < levels; i++)
    g_string_append (s, open);
  g_string_append (s, inner);
  for (int i = 0; i < levels; i++)
    g_string_append_c (s, open[strlen (open) - 1] == '[' ? ']' : '}');
  *len = s->len;
  return g_string_free (s, FALSE);
}

static void
test_safetensors_json_depth (void)
{
  g_autoptr (GError) error = NULL;
  gsize len;

  /* 100,000 levels of objects, then of arrays: refused before parsing, with a message */
  const char *opens[] = { "{\"a\":", "{\"a\":[" };
  for (guint k = 0; k < G_N_ELEMENTS (opens); k++)
    {
      g_autofree char *json = nested_objects (100000, opens[k], "1", &len);
      g_autoptr (GBytes) b = safetensors_bytes (json, len);
      g_autoptr (NnStFile) f = nn_st_file_parse (b, "deep.safetensors", &error);
      g_assert_null (f);
      g_test_message ("%s", error->message);
      g_assert_error (error, NN_ST_ERROR, NN_ST_ERROR_FORMAT);
      g_assert_nonnull (strstr (error->message, "deep.safetensors"));
      g_assert_nonnull (strstr (error->message, "levels deep"));
      g_clear_error (&error);
    }

  /* the same through the model loader, from a file */
  g_autofree char *json = nested_objects (100000, "{\"a\":", "1", &len);
  g_autoptr (GBytes) b = safetensors_bytes (json, len);
  g_autofree char *path = tmp_path ("deep.safetensors");
  g_assert_true (g_file_set_contents (path, g_bytes_get_data (b, NULL), (gssize) g_bytes_get_size (b), NULL));
  g_assert_null (nn_net_load (path, &error));
  g_assert_nonnull (strstr (error->message, path));
  g_clear_error (&error);

  /* brackets inside strings do not count, and moderate nesting (an extra member of a
   * tensor entry, 60 levels) is still read */
  g_autofree char *inner = nested_objects (60, "[", "\"[[[[{{{{\\\"\"", &len);
  g_autofree char *ok_json = g_strdup_printf ("{\"t\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4],"
                                              "\"x\":%s}}", inner);
  GByteArray *a = g_byte_array_new ();
  g_autoptr (GBytes) hb = safetensors_bytes (ok_json, strlen (ok_json));
  g_byte_array_append (a, g_bytes_get_data (hb, NULL), (guint) g_bytes_get_size (hb));
  float one = 1.f;
  g_byte_array_append (a, (const guint8 *) &one, 4);
  g_autoptr (GBytes) okb = g_byte_array_free_to_bytes (a);
  g_autoptr (NnStFile) okf = nn_st_file_parse (okb, "moderate.safetensors", &error);
  g_assert_no_error (error);
  g_assert_nonnull (nn_st_file_lookup (okf, "t"));
}

/* The "labels" metadata of a model is JSON inside a string: deep nesting there is refused
 * too, naming the file and the key. */
static void
test_safetensors_labels_depth (void)
{
  g_autoptr (NnNet) net = tiny_net (2, 8);
  g_autofree char *path = tmp_path ("deep-labels.safetensors");
  g_autoptr (GError) error = NULL;
  g_unlink (path);
  g_assert_true (nn_net_save (net, path, TRUE, &error));
  g_autoptr (GBytes) b = read_bytes (path);
  const guint8 *raw = g_bytes_get_data (b, NULL);
  guint64 hlen = 0;
  for (int i = 7; i >= 0; i--)
    hlen = (hlen << 8) | raw[i];
  g_autofree char *header = g_strndup ((const char *) raw + 8, hlen);
  /* replace the value of "labels" by 100,000 opening brackets */
  char *at = strstr (header, "\"labels\":\"");
  g_assert_nonnull (at);
  char *value = at + strlen ("\"labels\":\"");
  char *end = value;
  while (*end && !(*end == '"' && end[-1] != '\\'))
    end++;
  g_assert_cmpint (*end, ==, '"');
  GString *h = g_string_new_len (header, value - header);
  for (int i = 0; i < 100000; i++)
    g_string_append_c (h, '[');
  g_string_append (h, end);
  g_autoptr (GBytes) nb = safetensors_bytes (h->str, h->len);
  GByteArray *file = g_byte_array_new ();
  g_byte_array_append (file, g_bytes_get_data (nb, NULL), (guint) g_bytes_get_size (nb));
  g_byte_array_append (file, raw + 8 + hlen, (guint) (g_bytes_get_size (b) - 8 - hlen));
  g_string_free (h, TRUE);
  g_assert_true (g_file_set_contents (path, (const char *) file->data, file->len, NULL));
  g_byte_array_unref (file);
  g_assert_null (nn_net_load (path, &error));
  g_test_message ("%s", error->message);
  g_assert_nonnull (strstr (error->message, path));
  g_assert_nonnull (strstr (error->message, "labels"));
}

/* ---- NIfTI (the fourth writer, tested in depth in test-nifti.c): same contract ---- */

static void
test_nifti_write_fails (void)
{
  g_autofree char *dir = fresh_dir ("nifti");
  g_autofree char *path = g_build_filename (dir, "v.nii", NULL);
  g_autoptr (GError) error = NULL;
  g_autoptr (LabelVolume) small = ball_volume (8, 2);
  g_autoptr (LabelVolume) big = ball_volume (40, 10);
  g_assert_true (nifti_write (small, path, 0, &error));
  g_autoptr (GBytes) old = read_bytes (path);
  g_autofree char *before = dir_listing (dir);
  FsizeLimit l;
  fsize_limit_begin (&l, g_bytes_get_size (old) + 1);
  gboolean ok = nifti_write (big, path, NIFTI_WRITE_OVERWRITE, &error);
  fsize_limit_end (&l);
  check_failed_write (ok, error, path, old, dir, before);
}

/* ---- cancelled completion ---- */

static void
cancel_on_first_progress (double fraction, const char *stage, gpointer data)
{
  g_cancellable_cancel (data);
}

static void
test_completion_cancelled (void)
{
  g_autoptr (NnNet) net = tiny_net (4, 16);
  g_autoptr (LabelVolume) in = ball_volume (24, 8);
  g_autoptr (GError) error = NULL;

  /* cancelled before it starts */
  g_autoptr (GCancellable) c = g_cancellable_new ();
  g_cancellable_cancel (c);
  CompletionOptions opt = { .n_threads = 1 };
  g_assert_null (completion_run (net, in, &opt, c, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_clear_error (&error);

  /* cancelled while running (from the progress callback): no volume, no confidence */
  g_autoptr (GCancellable) c2 = g_cancellable_new ();
  LabelVolume *conf = NULL;
  CompletionOptions opt2 = { .n_threads = 1, .progress = cancel_on_first_progress,
                             .progress_data = c2, .confidence_out = &conf };
  g_assert_null (completion_run (net, in, &opt2, c2, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_assert_null (conf);
}

/* `anatomy complete` interrupted: OUT is never created, no temporary is left. */
static void
test_cli_complete_interrupted (void)
{
  const char *anatomy = g_getenv ("ANATOMY");
  if (anatomy == NULL)
    {
      g_test_skip ("ANATOMY not set (run through meson test)");
      return;
    }
  g_autofree char *dir = fresh_dir ("cli");
  g_autofree char *model = g_build_filename (dir, "m.safetensors", NULL);
  g_autofree char *in = g_build_filename (dir, "in.nii.gz", NULL);
  g_autofree char *out = g_build_filename (dir, "out.nii.gz", NULL);
  g_autoptr (GError) error = NULL;
  /* a 48³ grid: the forward pass takes long enough for the signal to land before the write */
  g_autoptr (NnNet) net = tiny_net (8, 48);
  g_assert_true (nn_net_save (net, model, FALSE, &error));
  /* large enough that the interpolation back to the input grid takes a while */
  g_autoptr (LabelVolume) v = ball_volume (160, 60);
  g_assert_true (nifti_write (v, in, 0, &error));
  g_autofree char *before = dir_listing (dir);

  gboolean interrupted = FALSE;
  for (int attempt = 0; attempt < 3 && !interrupted; attempt++)
    {
      g_autoptr (GSubprocess) p = g_subprocess_new (G_SUBPROCESS_FLAGS_STDOUT_SILENCE | G_SUBPROCESS_FLAGS_STDERR_SILENCE,
                                                    &error, anatomy, "complete", "--threads", "1",
                                                    "--model", model, in, out, NULL);
      g_assert_no_error (error);
      g_usleep ((1 << attempt) * 100 * 1000);
      g_subprocess_send_signal (p, SIGINT);
      g_subprocess_wait (p, NULL, &error);
      g_assert_no_error (error);
      if (g_subprocess_get_if_signaled (p) && !g_file_test (out, G_FILE_TEST_EXISTS))
        {
          interrupted = TRUE;
          g_autofree char *after = dir_listing (dir);
          g_assert_cmpstr (after, ==, before);
        }
      else
        {
          /* the signal came after the write (or it finished): then OUT must be complete */
          if (!g_subprocess_get_if_signaled (p))
            g_assert_cmpint (g_subprocess_get_exit_status (p), ==, 0);
          g_autoptr (LabelVolume) r = nifti_read (out, NULL, &error);
          g_assert_no_error (error);
          g_assert_cmpint (r->nx, ==, v->nx);
          g_unlink (out);
          g_autofree char *after = dir_listing (dir);
          g_assert_cmpstr (after, ==, before);
        }
    }
  if (!interrupted)
    g_test_incomplete ("anatomy complete always finished before it could be interrupted");
}

/* ---- resource limits ---- */

static long
peak_rss_kib (void)
{
  struct rusage ru;
  getrusage (RUSAGE_SELF, &ru);
  return ru.ru_maxrss;
}

#if defined(__SANITIZE_ADDRESS__)
#define ASAN_SLACK_MIB 320   /* AddressSanitizer keeps up to 256 MiB of freed memory in quarantine */
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define ASAN_SLACK_MIB 320
#endif
#endif
#ifndef ASAN_SLACK_MIB
#define ASAN_SLACK_MIB 0
#endif

/* A volume much larger than the network grid is completed by resampling: the extra
 * memory stays near the output volume plus the interpolation slabs, far below what
 * class probabilities on the input grid would need (13 floats per voxel). */
static void
test_completion_large_volume (void)
{
  /* a 100³ phantom (cheap) brought to 300³ by nearest-neighbour upsampling, so the peak
   * RSS before completion is only the input volume (not the phantom generator's fields) */
  int n = 300, f = 3;
  PhantomParams pp;
  phantom_params_init (&pp);
  pp.grid[0] = pp.grid[1] = pp.grid[2] = n / f;
  g_autoptr (GError) error = NULL;
  g_autoptr (LabelVolume) small = phantom_generate (&pp, &error);
  g_assert_no_error (error);
  /* remove some organs so completion has work */
  g_autoptr (LabelVolume) part = phantom_remove_labels (small, (1u << LT_LIVER) | (1u << LT_SPLEEN), &error);
  g_assert_no_error (error);
  double sp[3] = { small->spacing[0] / f, small->spacing[1] / f, small->spacing[2] / f };
  g_autoptr (LabelVolume) in = lv_volume_new (n, n, n, sp, part->bytes_per_voxel, &error);
  g_assert_no_error (error);
  for (int k = 0; k < n; k++)
    for (int j = 0; j < n; j++)
      for (int i = 0; i < n; i++)
        lv_volume_set (in, i, j, k, lv_volume_get (part, i / f, j / f, k / f));
  g_clear_pointer (&small, lv_volume_free);

  g_autoptr (NnNet) net = tiny_net (4, 32);
  int64_t nvox = lv_volume_n_voxels (in);
  long before = peak_rss_kib ();
  gint64 t0 = g_get_monotonic_time ();
  int64_t added[COMPLETION_MAX_CLASSES] = { 0 };
  CompletionOptions opt = { .n_threads = 1, .added = added };
  g_autoptr (LabelVolume) out = completion_run (net, in, &opt, NULL, &error);
  g_assert_no_error (error);
  long grown_kib = peak_rss_kib () - before;
  g_assert_cmpint (out->nx, ==, n);
  g_assert_cmpint (out->nz, ==, n);

  double out_mib = (double) nvox * out->bytes_per_voxel / 1048576.0;
  double slab_mib = (double) COMPLETION_SLAB_FLOATS * 4 / 1048576.0;
  double naive_mib = (double) nvox * LT_N_CLASSES * 4 / 1048576.0;
  double bound_mib = out_mib + 3 * slab_mib + 96 + ASAN_SLACK_MIB;
  g_test_message ("%d^3 completion on a 32^3 grid: %.1f s, peak RSS grew by %.0f MiB (output %.0f MiB, "
                  "slab %.0f MiB, bound %.0f MiB; probabilities on the input grid would be %.0f MiB)",
                  n, (g_get_monotonic_time () - t0) / 1e6, grown_kib / 1024.0, out_mib, slab_mib,
                  bound_mib, naive_mib);
  g_assert_cmpfloat (grown_kib / 1024.0, <, bound_mib);
  g_assert_cmpfloat (bound_mib, <, naive_mib);
  /* labelled voxels kept */
  for (int64_t i = 0; i < nvox; i += 997)
    if (lv_volume_get_index (in, i) != 0)
      g_assert_cmpint (lv_volume_get_index (out, i), ==, lv_volume_get_index (in, i));
}

/* A lying header through the CLI: `anatomy info` refuses before allocating and says
 * how many voxels and how much memory it would take. */
static void
test_cli_voxel_limit_message (void)
{
  const char *anatomy = g_getenv ("ANATOMY");
  if (anatomy == NULL)
    {
      g_test_skip ("ANATOMY not set (run through meson test)");
      return;
    }
  /* a 4096³ int16 header with 16 bytes of data */
  guint8 h[352] = { 0 };
  test_nifti1_header (h, 4096, 4096, 4096, 4, 16);
  g_autofree char *path = tmp_path ("lying.nii");
  g_autoptr (GByteArray) b = g_byte_array_new ();
  g_byte_array_append (b, h, sizeof h);
  guint8 zeros[16] = { 0 };
  g_byte_array_append (b, zeros, sizeof zeros);
  g_autoptr (GError) error = NULL;
  g_assert_true (g_file_set_contents (path, (const char *) b->data, b->len, &error));

  const char *argv[] = { anatomy, "info", path, NULL };
  g_autofree char *out = NULL, *err = NULL;
  int status = 0;
  g_assert_true (g_spawn_sync (NULL, (char **) argv, NULL, G_SPAWN_DEFAULT, NULL, NULL, &out, &err, &status, &error));
  g_test_message ("anatomy info: %s", err);
  g_assert_false (g_spawn_check_wait_status (status, NULL));
  g_assert_nonnull (strstr (err, path));
  g_assert_nonnull (strstr (err, "68719476736"));   /* the voxel count */
  g_assert_nonnull (strstr (err, "131072 MiB of int16 data"));   /* and the memory it would take */
  g_assert_nonnull (strstr (err, "voxels"));

  /* --max-voxels lowers the limit: a 12³ volume is refused at 1000 voxels, read at 1728 */
  g_autoptr (LabelVolume) v = ball_volume (12, 3);
  g_autofree char *small = tmp_path ("small.nii");
  g_assert_true (nifti_write (v, small, NIFTI_WRITE_OVERWRITE, &error));
  const char *argv2[] = { anatomy, "info", "--max-voxels", "1000", small, NULL };
  g_autofree char *out2 = NULL, *err2 = NULL;
  g_assert_true (g_spawn_sync (NULL, (char **) argv2, NULL, G_SPAWN_DEFAULT, NULL, NULL, &out2, &err2, &status, &error));
  g_assert_false (g_spawn_check_wait_status (status, NULL));
  g_assert_nonnull (strstr (err2, "1728 voxels (0 MiB of uint8 data) exceeds the limit of 1000 voxels"));
  const char *argv3[] = { anatomy, "info", "--max-voxels", "1728", small, NULL };
  g_autofree char *out3 = NULL, *err3 = NULL;
  g_assert_true (g_spawn_sync (NULL, (char **) argv3, NULL, G_SPAWN_DEFAULT, NULL, NULL, &out3, &err3, &status, &error));
  g_assert_true (g_spawn_check_wait_status (status, NULL));
}

/* NIfTI-1 keeps vox_offset in a float: NaN, huge and hugely negative values (a fuzzing
 * finding: the float-to-int64 conversion was undefined) are refused with a message. */
static void
test_nifti_vox_offset_float (void)
{
  static const float bad[] = { NAN, 3e38f, -1e30f, 1.5e31f, INFINITY };
  g_autoptr (LabelVolume) v = ball_volume (6, 2);
  g_autofree char *good = tmp_path ("vox.nii");
  g_autoptr (GError) error = NULL;
  g_assert_true (nifti_write (v, good, NIFTI_WRITE_OVERWRITE, &error));
  g_autoptr (GBytes) b = read_bytes (good);
  for (guint i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_autoptr (GByteArray) a = g_byte_array_new ();
      g_byte_array_append (a, g_bytes_get_data (b, NULL), (guint) g_bytes_get_size (b));
      memcpy (a->data + 108, &bad[i], 4);
      g_autofree char *p = tmp_path ("vox-bad.nii");
      g_assert_true (g_file_set_contents (p, (const char *) a->data, a->len, &error));
      g_assert_null (nifti_read (p, NULL, &error));
      g_test_message ("vox_offset %g: %s", bad[i], error->message);
      g_assert_true (error->domain == NIFTI_ERROR);
      g_assert_nonnull (strstr (error->message, "vox_offset"));
      g_clear_error (&error);
    }
}

/* uint32 labels above INT32_MAX do not fit the int32 label storage: refused, with the voxel
 * and the value (a fuzzing finding: they were converted to int32, which is undefined). */
static void
test_nifti_uint32_range (void)
{
  double sp[3] = { 1, 1, 1 };
  g_autoptr (LabelVolume) v = lv_volume_new (4, 3, 2, sp, 4, NULL);
  lv_volume_set (v, 1, 1, 1, 70000);
  g_autofree char *p = tmp_path ("u32.nii");
  g_autoptr (GError) error = NULL;
  g_assert_true (nifti_write (v, p, NIFTI_WRITE_OVERWRITE, &error));
  g_autoptr (GBytes) b = read_bytes (p);
  g_autoptr (GByteArray) a = g_byte_array_new ();
  g_byte_array_append (a, g_bytes_get_data (b, NULL), (guint) g_bytes_get_size (b));
  int16_t dt;
  float off;
  memcpy (&dt, a->data + 70, 2);
  memcpy (&off, a->data + 108, 4);
  g_assert_cmpint (dt, ==, 8);   /* int32 */
  dt = 768;                      /* uint32 */
  memcpy (a->data + 70, &dt, 2);
  /* still fine: 70000 fits */
  g_assert_true (g_file_set_contents (p, (const char *) a->data, a->len, &error));
  g_autoptr (LabelVolume) ok = nifti_read (p, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpint (lv_volume_get (ok, 1, 1, 1), ==, 70000);
  /* voxel (1,1,1) = 3,000,000,000 */
  guint32 big = 3000000000u;
  memcpy (a->data + (gsize) off + 4 * (1 + 4 * (1 + 3 * 1)), &big, 4);
  g_assert_true (g_file_set_contents (p, (const char *) a->data, a->len, &error));
  g_assert_null (nifti_read (p, NULL, &error));
  g_test_message ("%s", error->message);
  g_assert_error (error, NIFTI_ERROR, NIFTI_ERROR_NOT_LABELS);
  g_assert_nonnull (strstr (error->message, "(1,1,1) holds 3000000000"));
}

/* A header under the voxel limit whose data cannot be allocated (address space limited in
 * the child): `anatomy info` says how much memory it needed, naming the file. */
static void
child_limit_memory (gpointer data)
{
  struct rlimit as = { .rlim_cur = (rlim_t) 768 << 20, .rlim_max = (rlim_t) 768 << 20 };
  setrlimit (RLIMIT_AS, &as);
}

static void
test_cli_memory_message (void)
{
  const char *anatomy = g_getenv ("ANATOMY");
  if (anatomy == NULL || ASAN_SLACK_MIB > 0)
    {
      /* AddressSanitizer reserves terabytes of address space: RLIMIT_AS cannot be used */
      g_test_skip ("needs ANATOMY and a build without AddressSanitizer");
      return;
    }
  /* 1000³ uint8 = 953.7 MiB, a sparse file (no disk space used) */
  guint8 h[352] = { 0 };
  test_nifti1_header (h, 1000, 1000, 1000, 2, 8);
  g_autofree char *path = tmp_path ("sparse.nii");
  g_autoptr (GError) error = NULL;
  g_assert_true (g_file_set_contents (path, (const char *) h, sizeof h, &error));
  g_assert_cmpint (truncate (path, 352 + (off_t) 1000000000), ==, 0);

  const char *argv[] = { anatomy, "info", path, NULL };
  g_autofree char *out = NULL, *err = NULL;
  int status = 0;
  g_assert_true (g_spawn_sync (NULL, (char **) argv, NULL, G_SPAWN_DEFAULT, child_limit_memory, NULL,
                               &out, &err, &status, &error));
  g_test_message ("anatomy info: %s", err);
  g_unlink (path);
  g_assert_false (g_spawn_check_wait_status (status, NULL));
  g_assert_nonnull (strstr (err, path));
  g_assert_nonnull (strstr (err, "953.7 MiB"));
}

/* ---- FIFOs, devices and folders where a file is expected (issue 14, items 2, 3, 10) ---- */

/* The outcome of a command run with a deadline. */
typedef struct {
  gboolean finished;   /* FALSE: killed at the deadline */
  int status;          /* wait status */
  char *out, *err;
} CliRun;

static void
cli_run_clear (CliRun *r)
{
  g_free (r->out);
  g_free (r->err);
}
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (CliRun, cli_run_clear)

static void
communicated (GObject *source, GAsyncResult *res, gpointer data)
{
  CliRun *r = data;
  g_autoptr (GError) error = NULL;
  g_subprocess_communicate_utf8_finish (G_SUBPROCESS (source), res, &r->out, &r->err, &error);
  r->finished = TRUE;
}

static gboolean
deadline_reached (gpointer data)
{
  *(gboolean *) data = TRUE;
  return G_SOURCE_REMOVE;
}

typedef struct {
  rlim_t address_space;  /* 0: unlimited */
} ChildLimits;

static void
child_limits (gpointer data)
{
  const ChildLimits *l = data;
  if (l && l->address_space)
    {
      struct rlimit as = { .rlim_cur = l->address_space, .rlim_max = l->address_space };
      setrlimit (RLIMIT_AS, &as);
    }
}

/* Runs `anatomy ARGS...` (NULL-terminated) for at most @seconds; a command still running
 * then is killed (r->finished FALSE). */
static void
run_anatomy (CliRun *r, double seconds, const ChildLimits *limits, ...)
{
  g_autoptr (GPtrArray) argv = g_ptr_array_new ();
  g_ptr_array_add (argv, (gpointer) g_getenv ("ANATOMY"));
  va_list ap;
  va_start (ap, limits);
  const char *a;
  while ((a = va_arg (ap, const char *)) != NULL)
    g_ptr_array_add (argv, (gpointer) a);
  va_end (ap);
  g_ptr_array_add (argv, NULL);
  g_autoptr (GSubprocessLauncher) l = g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_STDOUT_PIPE
                                                                 | G_SUBPROCESS_FLAGS_STDERR_PIPE);
  g_subprocess_launcher_set_child_setup (l, child_limits, (gpointer) limits, NULL);
  if (g_strcmp0 (argv->pdata[1], "render") == 0)
    {
      /* a GL context: Mesa's llvmpipe keeps JIT allocations until exit (tests/meson.build
       * turns leak checking off for the GL tests for the same reason) */
      const char *asan = g_getenv ("ASAN_OPTIONS");
      g_autofree char *opts = g_strconcat (asan ? asan : "", asan ? ":" : "", "detect_leaks=0", NULL);
      g_subprocess_launcher_setenv (l, "ASAN_OPTIONS", opts, TRUE);
    }
  g_autoptr (GError) error = NULL;
  g_autoptr (GSubprocess) p = g_subprocess_launcher_spawnv (l, (const char *const *) argv->pdata, &error);
  g_assert_no_error (error);
  memset (r, 0, sizeof *r);
  gboolean late = FALSE;
  g_subprocess_communicate_utf8_async (p, NULL, NULL, communicated, r);
  guint timer = g_timeout_add ((guint) (seconds * 1000), deadline_reached, &late);
  while (!r->finished && !late)
    g_main_context_iteration (NULL, TRUE);
  if (!r->finished)
    {
      g_subprocess_force_exit (p);
      while (!r->finished)
        g_main_context_iteration (NULL, TRUE);
      r->finished = FALSE;
    }
  else
    g_source_remove (timer);
  g_subprocess_wait (p, NULL, NULL);
  r->status = g_subprocess_get_status (p);
  g_test_message ("anatomy %s: %s%s", (const char *) argv->pdata[1], r->finished ? "" : "(killed) ",
                  r->err ? r->err : "");
}

/* The command ended by itself, with status 1, and its message names @path and @what. */
static void
assert_refused (const CliRun *r, const char *path, const char *what)
{
  g_assert_true (r->finished);
  g_assert_true (WIFEXITED (r->status));
  g_assert_cmpint (WEXITSTATUS (r->status), ==, 1);
  g_assert_nonnull (strstr (r->err, path));
  g_assert_nonnull (strstr (r->err, what));
}

typedef struct {
  GMutex lock;
  GCond cond;
  gboolean done;
  void (*func) (const char *path);
  const char *path;
} Deadline;

static gpointer
deadline_thread (gpointer data)
{
  Deadline *d = data;
  d->func (d->path);
  g_mutex_lock (&d->lock);
  d->done = TRUE;
  g_cond_signal (&d->cond);
  g_mutex_unlock (&d->lock);
  return NULL;
}

/* @func (@path) must return within @seconds (a reader blocked on a FIFO never does: the
 * test then fails here instead of hanging). */
static void
within_seconds (double seconds, void (*func) (const char *path), const char *path)
{
  Deadline *d = g_new0 (Deadline, 1);   /* leaked if the thread never returns */
  d->func = func;
  d->path = path;
  g_mutex_init (&d->lock);
  g_cond_init (&d->cond);
  GThread *t = g_thread_new ("deadline", deadline_thread, d);
  gint64 end = g_get_monotonic_time () + (gint64) (seconds * G_TIME_SPAN_SECOND);
  g_mutex_lock (&d->lock);
  while (!d->done)
    if (!g_cond_wait_until (&d->cond, &d->lock, end))
      g_error ("reading %s did not return within %.0f s", path, seconds);
  g_mutex_unlock (&d->lock);
  g_thread_join (t);
  g_mutex_clear (&d->lock);
  g_cond_clear (&d->cond);
  g_free (d);
}

static void
expect_not_regular (const GError *error, const char *path, const char *kind)
{
  g_assert_nonnull (error);
  g_test_message ("%s", error->message);
  g_assert_nonnull (strstr (error->message, path));
  g_assert_nonnull (strstr (error->message, kind));
}

static void
read_volume_refused (const char *path)
{
  g_autoptr (GError) error = NULL;
  g_assert_null (nifti_read (path, NULL, &error));
  g_assert_error (error, NIFTI_ERROR, NIFTI_ERROR_IO);
  expect_not_regular (error, path, strncmp (path, "/dev/", 5) == 0 ? "a device" : "named pipe");
}

static void
read_table_refused (const char *path)
{
  g_autoptr (GError) error = NULL;
  g_assert_null (lt_table_load (path, &error));
  g_assert_error (error, LT_ERROR, LT_ERROR_IO);
  expect_not_regular (error, path, "named pipe");
}

static void
read_model_refused (const char *path)
{
  g_autoptr (GError) error = NULL;
  g_assert_null (nn_net_load (path, &error));
  expect_not_regular (error, path, strncmp (path, "/dev/", 5) == 0 ? "a device" : "named pipe");
}

/* The readers themselves: a FIFO (nobody writes to it) and /dev/zero are refused at once. */
static void
test_readers_refuse_fifos (void)
{
  g_autofree char *dir = fresh_dir ("fifo");
  g_autofree char *vol = g_build_filename (dir, "f.nii.gz", NULL);
  g_autofree char *tab = g_build_filename (dir, "f.txt", NULL);
  g_autofree char *model = g_build_filename (dir, "f.safetensors", NULL);
  g_assert_cmpint (mkfifo (vol, 0644), ==, 0);
  g_assert_cmpint (mkfifo (tab, 0644), ==, 0);
  g_assert_cmpint (mkfifo (model, 0644), ==, 0);
  within_seconds (10, read_volume_refused, vol);
  within_seconds (10, read_table_refused, tab);
  within_seconds (10, read_model_refused, model);
  within_seconds (10, read_volume_refused, "/dev/zero");
  within_seconds (10, read_model_refused, "/dev/zero");
}

/* Every command: a FIFO or a device as the input, a --table, --labels or --model returns
 * at once with a message saying what the path is.  /dev/zero and /dev/urandom as a table
 * were read without end (13 GB in 10 s): the child's address space is capped at 1 GiB
 * (except under AddressSanitizer) so that a regression fails instead of eating memory. */
static void
test_cli_refuses_fifos_and_devices (void)
{
  if (g_getenv ("ANATOMY") == NULL)
    {
      g_test_skip ("ANATOMY not set (run through meson test)");
      return;
    }
  g_autofree char *dir = fresh_dir ("cli-fifo");
  g_autofree char *vol = g_build_filename (dir, "v.nii.gz", NULL);
  g_autofree char *fifo_vol = g_build_filename (dir, "f.nii", NULL);
  g_autofree char *fifo_tab = g_build_filename (dir, "f.txt", NULL);
  g_autofree char *fifo_model = g_build_filename (dir, "f.safetensors", NULL);
  g_autofree char *out = g_build_filename (dir, "out.nii.gz", NULL);
  g_autofree char *png = g_build_filename (dir, "out.png", NULL);
  g_autofree char *stl = g_build_filename (dir, "out.stl", NULL);
  g_autoptr (GError) error = NULL;
  g_autoptr (LabelVolume) v = ball_volume (12, 4);
  g_assert_true (nifti_write (v, vol, 0, &error));
  g_assert_cmpint (mkfifo (fifo_vol, 0644), ==, 0);
  g_assert_cmpint (mkfifo (fifo_tab, 0644), ==, 0);
  g_assert_cmpint (mkfifo (fifo_model, 0644), ==, 0);
  ChildLimits lim = { .address_space = ASAN_SLACK_MIB > 0 ? 0 : (rlim_t) 1 << 30 };
  g_auto (CliRun) r1, r2, r3, r4, r5, r6, r7, r8, r9, r10;

  run_anatomy (&r1, 20, NULL, "info", fifo_vol, NULL);
  assert_refused (&r1, fifo_vol, "named pipe");
  run_anatomy (&r2, 20, NULL, "complete", "--model", "unet", fifo_vol, out, NULL);
  g_assert_true (r2.finished);
  g_assert_false (g_file_test (out, G_FILE_TEST_EXISTS));
  run_anatomy (&r3, 20, NULL, "info", vol, "--table", fifo_tab, NULL);
  assert_refused (&r3, fifo_tab, "named pipe");
  run_anatomy (&r4, 20, &lim, "info", vol, "--table", "/dev/zero", NULL);
  assert_refused (&r4, "/dev/zero", "a device");
  run_anatomy (&r5, 20, &lim, "mesh", vol, "--table", "/dev/urandom", "--out", stl, NULL);
  assert_refused (&r5, "/dev/urandom", "a device");
  g_assert_false (g_file_test (stl, G_FILE_TEST_EXISTS));
  run_anatomy (&r6, 20, &lim, "render", vol, "--labels", fifo_tab, "--out", png, NULL);
  assert_refused (&r6, fifo_tab, "named pipe");
  g_assert_false (g_file_test (png, G_FILE_TEST_EXISTS));
  /* a model that is not a file says what it is, not "no such model file" */
  run_anatomy (&r7, 20, NULL, "complete", "--model", fifo_model, vol, out, NULL);
  assert_refused (&r7, fifo_model, "named pipe");
  run_anatomy (&r8, 20, NULL, "complete", "--model", "/dev/zero", vol, out, NULL);
  assert_refused (&r8, "/dev/zero", "a device");
  run_anatomy (&r9, 20, NULL, "complete", "--model", dir, vol, out, NULL);
  assert_refused (&r9, dir, "a folder");
  g_assert_null (strstr (r9.err, "no such"));
  g_autofree char *missing = g_build_filename (dir, "missing.safetensors", NULL);
  run_anatomy (&r10, 20, NULL, "complete", "--model", missing, vol, out, NULL);
  assert_refused (&r10, missing, "no such model file");
  g_assert_false (g_file_test (out, G_FILE_TEST_EXISTS));
}

/* ---- many labels (issue 14, item 4) ---- */

/* The renderer found a label's mesh by searching the whole list for every mesh added:
 * 25,000 labels took 0.7 s, 100,000 took 12.5 s.  200,000 meshes now go in, are replaced
 * and removed in linear time. */
static void
test_renderer_many_meshes (void)
{
  const int n = 200000;
  const float pos[9] = { 0, 0, 0, 1, 0, 0, 0, 1, 0 };
  const guint32 idx[3] = { 0, 1, 2 };
  g_autoptr (GPtrArray) meshes = g_ptr_array_new_with_free_func ((GDestroyNotify) ar_render_mesh_unref);
  for (int l = 1; l <= n; l++)
    g_ptr_array_add (meshes, ar_render_mesh_new (l, pos, NULL, 3, idx, 1));
  ArRenderer *r = ar_renderer_new ();
  gint64 t0 = g_get_monotonic_time ();
  for (int i = 0; i < n; i++)
    ar_renderer_set_mesh (r, meshes->pdata[i]);
  /* the same labels again replace, not add */
  for (int i = 0; i < n; i += 2)
    ar_renderer_set_mesh (r, meshes->pdata[i]);
  g_assert_cmpuint (ar_renderer_get_n_meshes (r), ==, (guint) n);
  for (int l = 2; l <= n; l += 2)
    ar_renderer_remove_mesh (r, l);
  ar_renderer_remove_mesh (r, n + 7);   /* absent: nothing happens */
  g_assert_cmpuint (ar_renderer_get_n_meshes (r), ==, (guint) n / 2);
  /* a removed label can come back, once */
  ar_renderer_set_mesh (r, meshes->pdata[1]);
  ar_renderer_set_mesh (r, meshes->pdata[1]);
  g_assert_cmpuint (ar_renderer_get_n_meshes (r), ==, (guint) n / 2 + 1);
  double secs = (g_get_monotonic_time () - t0) / 1e6;
  g_test_message ("%d meshes added, %d replaced, %d removed in %.3f s", n, n / 2, n / 2, secs);
  g_assert_cmpfloat (secs, <, 5.0);
  ar_renderer_clear (r);
  g_assert_cmpuint (ar_renderer_get_n_meshes (r), ==, 0);
  ar_renderer_free (r);
}

/* A volume of @n distinct labels, one voxel each (plus a background row). */
static LabelVolume *
many_labels_volume (int n)
{
  double sp[3] = { 1, 1, 1 };
  int side = (int) ceil (sqrt ((double) n));
  LabelVolume *v = lv_volume_new (side, side, 2, sp, 4, NULL);
  for (int i = 0; i < n; i++)
    lv_volume_set (v, i % side, i / side, 0, i + 1);
  return v;
}

/* The window and `anatomy render` load through the scene: a volume with more labels than
 * the viewer shows (or a huge id) is refused at once with a message, before meshing. */
static void
test_scene_label_limits (void)
{
  g_autoptr (GError) error = NULL;
  gint64 t0 = g_get_monotonic_time ();
  g_assert_null (ar_scene_load ("many.nii.gz", many_labels_volume (1000000), NULL, NULL, &error));
  g_test_message ("%s (%.2f s)", error->message, (g_get_monotonic_time () - t0) / 1e6);
  g_assert_error (error, MESH_ERROR, MESH_ERROR_TOO_LARGE);
  g_assert_nonnull (strstr (error->message, "many.nii.gz"));
  g_assert_nonnull (strstr (error->message, "1000000 labels"));
  g_clear_error (&error);

  /* exactly the limit is shown */
  g_autoptr (ArScene) s = ar_scene_load ("limit.nii.gz", many_labels_volume (AR_SCENE_MAX_LABELS), NULL, NULL,
                                         &error);
  g_assert_no_error (error);
  g_assert_cmpuint (s->surfaces->n_meshes, ==, AR_SCENE_MAX_LABELS);

  /* one voxel of label 2^31-1: a 16 GiB label count array */
  double sp[3] = { 1, 1, 1 };
  LabelVolume *v = lv_volume_new (4, 4, 4, sp, 4, NULL);
  lv_volume_set (v, 1, 1, 1, G_MAXINT32);
  g_assert_null (ar_scene_load ("big-id.nii.gz", v, NULL, NULL, &error));
  g_test_message ("%s", error->message);
  g_assert_error (error, MESH_ERROR, MESH_ERROR_TOO_LARGE);
  g_assert_nonnull (strstr (error->message, "big-id.nii.gz"));
  g_assert_nonnull (strstr (error->message, "2147483647"));
}

/* `anatomy render` of a 10^6-label file (1.4 MB) hung: it now refuses within seconds,
 * and `anatomy mesh` still exports every surface. */
static void
test_cli_render_many_labels (void)
{
  if (g_getenv ("ANATOMY") == NULL)
    {
      g_test_skip ("ANATOMY not set (run through meson test)");
      return;
    }
  g_autofree char *dir = fresh_dir ("many-labels");
  g_autofree char *in = g_build_filename (dir, "many.nii.gz", NULL);
  g_autofree char *png = g_build_filename (dir, "many.png", NULL);
  g_autoptr (GError) error = NULL;
  g_autoptr (LabelVolume) v = many_labels_volume (1000000);
  g_assert_true (nifti_write (v, in, 0, &error));
  g_auto (CliRun) r;
  run_anatomy (&r, 60, NULL, "render", in, "--out", png, NULL);
  assert_refused (&r, in, "1000000 labels are more than the viewer shows");
  g_assert_false (g_file_test (png, G_FILE_TEST_EXISTS));
}

/* ---- one rule for every output (issue 14, items 5, 6, 7) ---- */

static void
write_text (const char *path, const char *text)
{
  g_assert_true (g_file_set_contents (path, text, -1, NULL));
}

static void
assert_text (const char *path, const char *text)
{
  g_autofree char *now = NULL;
  g_assert_true (g_file_get_contents (path, &now, NULL, NULL));
  g_assert_cmpstr (now, ==, text);
}

/* The set itself: inputs by device and inode, outputs distinct, folders and devices never
 * replaced, existing files only with overwrite, and a commit that is all or nothing. */
static void
test_out_set_rules (void)
{
  g_autofree char *dir = fresh_dir ("outset");
  g_autofree char *in = g_build_filename (dir, "in.txt", NULL);
  g_autofree char *hard = g_build_filename (dir, "hard.txt", NULL);
  g_autofree char *sym = g_build_filename (dir, "sym.txt", NULL);
  g_autofree char *a = g_build_filename (dir, "a.txt", NULL);
  g_autofree char *b = g_build_filename (dir, "b.txt", NULL);
  g_autofree char *dotted = g_strdup_printf ("%s/./a.txt", dir);
  g_autoptr (GError) error = NULL;
  write_text (in, "input");
  g_assert_cmpint (link (in, hard), ==, 0);
  g_assert_cmpint (symlink ("in.txt", sym), ==, 0);

  g_autoptr (OutSet) s = out_set_new (TRUE);
  out_set_add_input (s, in);
  g_autofree char *missing = g_build_filename (dir, "missing.txt", NULL);
  out_set_add_input (s, missing);   /* ignored */
  const char *same_as_input[] = { in, hard, sym };
  for (guint i = 0; i < G_N_ELEMENTS (same_as_input); i++)
    {
      g_assert_false (out_set_reserve (s, same_as_input[i], &error));
      g_test_message ("%s", error->message);
      g_assert_error (error, OUT_FILE_ERROR, OUT_FILE_ERROR_SAME);
      g_assert_nonnull (strstr (error->message, same_as_input[i]));
      g_clear_error (&error);
    }
  g_assert_true (out_set_reserve (s, a, &error));
  g_assert_false (out_set_reserve (s, dotted, &error));   /* the same entry, not yet existing */
  g_assert_error (error, OUT_FILE_ERROR, OUT_FILE_ERROR_SAME);
  g_clear_error (&error);
  g_assert_false (out_set_reserve (s, dir, &error));
  g_assert_error (error, OUT_FILE_ERROR, OUT_FILE_ERROR_NOT_REGULAR);
  g_clear_error (&error);
  g_assert_false (out_set_reserve (s, "/dev/null", &error));   /* even with overwrite */
  g_assert_error (error, OUT_FILE_ERROR, OUT_FILE_ERROR_NOT_REGULAR);
  g_clear_error (&error);
  g_autofree char *nowhere = g_build_filename (dir, "no", "such", "x.txt", NULL);
  g_assert_false (out_set_reserve (s, nowhere, &error));
  g_assert_nonnull (strstr (error->message, nowhere));
  g_assert_nonnull (strstr (error->message, "does not exist"));
  g_clear_error (&error);
  assert_text (in, "input");

  /* without overwrite an existing file is refused when reserved */
  g_autoptr (OutSet) careful = out_set_new (FALSE);
  g_assert_false (out_set_reserve (careful, in, &error));
  g_assert_error (error, OUT_FILE_ERROR, OUT_FILE_ERROR_EXISTS);
  g_clear_error (&error);

  /* all or nothing, new files: b cannot be moved in (it appeared meanwhile), so a, moved
   * first, is taken back */
  {
    g_autoptr (OutSet) t = out_set_new (FALSE);
    OutFile *fb = out_set_open (t, b, OUT_FILE_PLAIN, &error);
    OutFile *fa = out_set_open (t, a, OUT_FILE_PLAIN, &error);
    g_assert_no_error (error);
    g_assert_true (out_file_write (fa, "new a", 5, &error) && out_file_write (fb, "new b", 5, &error));
    write_text (b, "someone else's b");
    g_assert_false (out_set_commit (t, &error));
    g_test_message ("%s", error->message);
    g_assert_error (error, OUT_FILE_ERROR, OUT_FILE_ERROR_EXISTS);
    g_clear_error (&error);
    g_assert_false (g_file_test (a, G_FILE_TEST_EXISTS));
    assert_text (b, "someone else's b");
  }
  g_unlink (b);
  /* all or nothing, replacing: a is replaced first, b cannot be (it became a folder), so
   * a gets its old content back */
  {
    write_text (a, "old a");
    g_autoptr (OutSet) t = out_set_new (TRUE);
    OutFile *fb = out_set_open (t, b, OUT_FILE_PLAIN, &error);
    OutFile *fa = out_set_open (t, a, OUT_FILE_PLAIN, &error);
    g_assert_no_error (error);
    g_assert_true (out_file_write (fa, "new a", 5, &error) && out_file_write (fb, "new b", 5, &error));
    g_assert_cmpint (g_mkdir (b, 0755), ==, 0);
    g_assert_false (out_set_commit (t, &error));
    g_test_message ("%s", error->message);
    g_clear_error (&error);
    assert_text (a, "old a");
    g_assert_cmpint (g_rmdir (b), ==, 0);
  }
  /* and when everything can be moved in, everything is */
  {
    g_autoptr (OutSet) t = out_set_new (TRUE);
    OutFile *fb = out_set_open (t, b, OUT_FILE_PLAIN, &error);
    OutFile *fa = out_set_open (t, a, OUT_FILE_PLAIN, &error);
    g_assert_true (out_file_write (fa, "new a", 5, &error) && out_file_write (fb, "new b", 5, &error));
    g_assert_true (out_set_commit (t, &error));
    g_assert_no_error (error);
    assert_text (a, "new a");
    assert_text (b, "new b");
  }
  /* an uncommitted set leaves nothing behind */
  {
    g_autoptr (OutSet) t = out_set_new (TRUE);
    OutFile *fa = out_set_open (t, a, OUT_FILE_PLAIN, &error);
    g_assert_true (out_file_write (fa, "lost", 4, &error));
  }
  assert_text (a, "new a");
  g_autofree char *listing = dir_listing (dir);
  g_assert_cmpstr (listing, ==, "a.txt b.txt hard.txt in.txt sym.txt");
}

/* `anatomy render IN --out IN` replaced the label map with a PNG and exited 0; render
 * replaced any file without --force. */
static void
test_cli_render_outputs (void)
{
  if (g_getenv ("ANATOMY") == NULL)
    {
      g_test_skip ("ANATOMY not set (run through meson test)");
      return;
    }
  g_autofree char *dir = fresh_dir ("render-out");
  g_autofree char *in = g_build_filename (dir, "scan.nii.gz", NULL);
  g_autofree char *png = g_build_filename (dir, "scan.png", NULL);
  g_autoptr (GError) error = NULL;
  g_autoptr (LabelVolume) v = ball_volume (12, 4);
  g_assert_true (nifti_write (v, in, 0, &error));
  g_autoptr (GBytes) before = read_bytes (in);
  g_auto (CliRun) r1, r2, r3, r4, r5;
  run_anatomy (&r1, 60, NULL, "render", in, "--out", in, "--size", "64x64", NULL);
  assert_refused (&r1, in, "is the input");
  run_anatomy (&r2, 60, NULL, "render", in, "--out", in, "--size", "64x64", "--force", NULL);
  assert_refused (&r2, in, "is the input");
  g_autoptr (GBytes) after = read_bytes (in);
  g_assert_true (g_bytes_equal (before, after));

  write_text (png, "an older picture");
  run_anatomy (&r3, 60, NULL, "render", in, "--out", png, "--size", "64x64", NULL);
  assert_refused (&r3, png, "use --force");
  assert_text (png, "an older picture");
  run_anatomy (&r4, 60, NULL, "render", in, "--out", png, "--size", "64x64", "--force", NULL);
  if (r4.finished && WIFEXITED (r4.status) && WEXITSTATUS (r4.status) != 0 && strstr (r4.err, "EGL"))
    {
      g_test_skip ("no EGL here");
      return;
    }
  g_assert_true (r4.finished && WIFEXITED (r4.status) && WEXITSTATUS (r4.status) == 0);
  g_autoptr (GBytes) img = read_bytes (png);
  g_assert_cmpmem (g_bytes_get_data (img, NULL), 4, "\x89PNG", 4);
  /* the table beside the input is an input too */
  g_autofree char *table = g_build_filename (dir, "scan.txt", NULL);
  g_autoptr (LabelTable) t = make_table (2);
  g_assert_true (lt_table_save_itksnap (t, table, FALSE, &error));
  run_anatomy (&r5, 60, NULL, "render", in, "--out", table, "--force", "--size", "64x64", NULL);
  assert_refused (&r5, table, "input");
  g_autofree char *listing = dir_listing (dir);
  g_assert_cmpstr (listing, ==, "scan.nii.gz scan.png scan.txt");
}

/* `complete IN OUT --probabilities OUT --force` left the probabilities in OUT,
 * `--probabilities IN --force` replaced the input, and an existing P or a missing folder
 * of P failed only after OUT was written. */
static void
test_cli_complete_outputs (void)
{
  if (g_getenv ("ANATOMY") == NULL)
    {
      g_test_skip ("ANATOMY not set (run through meson test)");
      return;
    }
  g_autofree char *dir = fresh_dir ("complete-out");
  g_autofree char *model = g_build_filename (dir, "m.safetensors", NULL);
  g_autofree char *in = g_build_filename (dir, "in.nii.gz", NULL);
  g_autofree char *hard = g_build_filename (dir, "link.nii.gz", NULL);
  g_autofree char *out = g_build_filename (dir, "out.nii.gz", NULL);
  g_autofree char *p = g_build_filename (dir, "p.nii.gz", NULL);
  g_autofree char *p_nowhere = g_build_filename (dir, "missing", "p.nii.gz", NULL);
  g_autoptr (GError) error = NULL;
  g_autoptr (NnNet) net = tiny_net (2, 8);
  g_assert_true (nn_net_save (net, model, FALSE, &error));
  g_autoptr (LabelVolume) v = ball_volume (10, 3);
  g_assert_true (nifti_write (v, in, 0, &error));
  g_assert_cmpint (link (in, hard), ==, 0);
  g_autoptr (GBytes) before = read_bytes (in);
  g_auto (CliRun) r1, r2, r3, r4, r5, r6;

  run_anatomy (&r1, 60, NULL, "complete", "--model", model, in, out, "--probabilities", out, "--force", NULL);
  assert_refused (&r1, out, "each output needs its own file");
  g_assert_false (g_file_test (out, G_FILE_TEST_EXISTS));
  run_anatomy (&r2, 60, NULL, "complete", "--model", model, in, out, "--probabilities", in, "--force", NULL);
  assert_refused (&r2, in, "is the input");
  run_anatomy (&r3, 60, NULL, "complete", "--model", model, in, hard, "--force", NULL);
  assert_refused (&r3, hard, "same file as the input");
  g_autoptr (GBytes) after = read_bytes (in);
  g_assert_true (g_bytes_equal (before, after));
  g_assert_false (g_file_test (out, G_FILE_TEST_EXISTS));

  /* P exists (no --force), P's folder is missing: nothing is written, OUT included */
  write_text (p, "older probabilities");
  run_anatomy (&r4, 60, NULL, "complete", "--model", model, in, out, "--probabilities", p, NULL);
  assert_refused (&r4, p, "use --force");
  g_assert_false (g_file_test (out, G_FILE_TEST_EXISTS));
  assert_text (p, "older probabilities");
  run_anatomy (&r5, 60, NULL, "complete", "--model", model, in, out, "--probabilities", p_nowhere, NULL);
  assert_refused (&r5, p_nowhere, "does not exist");
  g_assert_false (g_file_test (out, G_FILE_TEST_EXISTS));

  /* `complete IN .` said "unknown output format" without naming the output */
  g_auto (CliRun) r7;
  run_anatomy (&r7, 60, NULL, "complete", "--model", model, in, dir, NULL);
  assert_refused (&r7, dir, "unknown output format");

  /* with --force both are written */
  run_anatomy (&r6, 60, NULL, "complete", "--model", model, "--labels", "all", in, out, "--probabilities", p,
               "--force", NULL);
  g_assert_true (r6.finished && WIFEXITED (r6.status) && WEXITSTATUS (r6.status) == 0);
  g_autoptr (LabelVolume) o = nifti_read (out, NULL, &error);
  g_assert_no_error (error);
  g_autoptr (LabelVolume) pr = nifti_read (p, NULL, &error);
  g_assert_no_error (error);
  g_autofree char *listing = dir_listing (dir);
  g_assert_cmpstr (listing, ==, "in.nii.gz link.nii.gz m.safetensors out.nii.gz p.nii.gz");
}

/* convert, mesh, phantom, init-model, train and eval: an existing output only with
 * --force, never an input. */
static void
test_cli_force_everywhere (void)
{
  if (g_getenv ("ANATOMY") == NULL)
    {
      g_test_skip ("ANATOMY not set (run through meson test)");
      return;
    }
  g_autofree char *dir = fresh_dir ("force");
  g_autofree char *in = g_build_filename (dir, "in.nii", NULL);
  g_autofree char *taken = g_build_filename (dir, "taken.stl", NULL);
  g_autofree char *model = g_build_filename (dir, "taken.safetensors", NULL);
  g_autofree char *json = g_build_filename (dir, "taken.json", NULL);
  g_autofree char *ph = g_build_filename (dir, "ph", NULL);
  g_autofree char *ph_table = g_build_filename (ph, "demo_complete_labels.txt", NULL);
  g_autoptr (GError) error = NULL;
  g_autoptr (LabelVolume) v = ball_volume (10, 3);
  g_assert_true (nifti_write (v, in, 0, &error));
  write_text (taken, "taken");
  write_text (model, "taken");
  write_text (json, "taken");
  g_assert_cmpint (g_mkdir (ph, 0755), ==, 0);
  write_text (ph_table, "taken");
  g_auto (CliRun) r1, r2, r3, r4, r5, r6, r7;
  run_anatomy (&r1, 60, NULL, "convert", in, in, "--force", NULL);
  assert_refused (&r1, in, "is the input");
  run_anatomy (&r2, 60, NULL, "mesh", in, "--out", taken, NULL);
  assert_refused (&r2, taken, "use --force");
  run_anatomy (&r3, 60, NULL, "phantom", "--demo", "--grid", "16", "--out", ph, NULL);
  assert_refused (&r3, ph_table, "use --force");
  g_autofree char *ph_listing = dir_listing (ph);
  g_assert_cmpstr (ph_listing, ==, "demo_complete_labels.txt");
  run_anatomy (&r4, 60, NULL, "init-model", "--arch", "unet", "--widths", "2,4", "--grid", "8", "--out", model, NULL);
  assert_refused (&r4, model, "exists");
  run_anatomy (&r5, 60, NULL, "train", "--phantom", "--arch", "unet", "--widths", "2,4", "--grid", "8",
               "--steps", "1", "--out", model, NULL);
  assert_refused (&r5, model, "use --force");
  run_anatomy (&r6, 60, NULL, "eval", "--data", dir, "--json", json, NULL);
  assert_refused (&r6, json, "use --force");
  run_anatomy (&r7, 60, NULL, "mesh", in, "--out", in, "--force", NULL);
  g_assert_true (r7.finished && WEXITSTATUS (r7.status) == 1);   /* not a mesh format */
  assert_text (taken, "taken");
  assert_text (model, "taken");
  assert_text (json, "taken");
  g_autofree char *listing = dir_listing (dir);
  g_assert_cmpstr (listing, ==, "in.nii ph taken.json taken.safetensors taken.stl");
}

/* ---- no litter (issue 14, item 8) ---- */

/* Names in @dir starting with a dot (our temporaries are ".NAME.XXXXXX"). */
static guint
count_hidden (const char *dir)
{
  g_autoptr (GDir) d = g_dir_open (dir, 0, NULL);
  guint n = 0;
  const char *name;
  while (d && (name = g_dir_read_name (d)) != NULL)
    n += name[0] == '.';
  return n;
}

/* Files (not folders) under @dir, recursively. */
static guint
count_files (const char *dir)
{
  g_autoptr (GDir) d = g_dir_open (dir, 0, NULL);
  guint n = 0;
  const char *name;
  while (d && (name = g_dir_read_name (d)) != NULL)
    {
      g_autofree char *p = g_build_filename (dir, name, NULL);
      n += g_file_test (p, G_FILE_TEST_IS_DIR) ? count_files (p) : 1;
    }
  return n;
}

static guint
count_hidden_tree (const char *dir)
{
  g_autoptr (GDir) d = g_dir_open (dir, 0, NULL);
  guint n = count_hidden (dir);
  const char *name;
  while (d && (name = g_dir_read_name (d)) != NULL)
    {
      g_autofree char *p = g_build_filename (dir, name, NULL);
      if (name[0] != '.' && g_file_test (p, G_FILE_TEST_IS_DIR))
        n += count_hidden_tree (p);
    }
  return n;
}

/* Starts `anatomy ARGV`, sends @sig as soon as a temporary shows in @watch (or any of its
 * folders), and waits.  TRUE when the signal ended it; FALSE when it finished first. */
static gboolean
interrupt_while_writing (const char *const *argv, const char *watch, int sig)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GSubprocess) p = g_subprocess_newv (argv, G_SUBPROCESS_FLAGS_STDOUT_SILENCE
                                                 | G_SUBPROCESS_FLAGS_STDERR_SILENCE, &error);
  g_assert_no_error (error);
  gint64 end = g_get_monotonic_time () + 120 * G_TIME_SPAN_SECOND;
  gboolean sent = FALSE;
  while (g_get_monotonic_time () < end)
    {
      if (count_hidden_tree (watch) > 0)
        {
          g_subprocess_send_signal (p, sig);
          sent = TRUE;
          break;
        }
      /* finished already? */
      if (g_subprocess_get_identifier (p) == NULL)
        break;
      g_usleep (2000);
    }
  g_subprocess_wait (p, NULL, &error);
  g_assert_no_error (error);
  return sent && g_subprocess_get_if_signaled (p) && g_subprocess_get_term_sig (p) == sig;
}

/* SIGINT or SIGTERM while `mesh --per-label` or `phantom` writes: no temporary stays, and
 * none of the files is there (all are moved in together, after all were written). */
static void
test_cli_interrupted_writes_leave_nothing (void)
{
  const char *anatomy = g_getenv ("ANATOMY");
  if (anatomy == NULL)
    {
      g_test_skip ("ANATOMY not set (run through meson test)");
      return;
    }
  g_autofree char *dir = fresh_dir ("interrupted");
  g_autofree char *in = g_build_filename (dir, "in.nii.gz", NULL);
  g_autoptr (GError) error = NULL;
  /* 300 labelled slabs of a 60x60x300 volume: 300 files to write */
  double sp[3] = { 1, 1, 1 };
  g_autoptr (LabelVolume) v = lv_volume_new (60, 60, 300, sp, 2, NULL);
  for (int k = 0; k < 300; k++)
    for (int j = 5; j < 55; j++)
      for (int i = 5; i < 55; i++)
        lv_volume_set (v, i, j, k, k + 1);
  g_assert_true (nifti_write (v, in, 0, &error));
  int sigs[2] = { SIGINT, SIGTERM };
  int interrupted = 0;
  for (int round = 0; round < 2; round++)
    {
      g_autofree char *sub = g_strdup_printf ("meshes%d", round);
      g_autofree char *out_dir = g_build_filename (dir, sub, NULL);
      g_assert_cmpint (g_mkdir (out_dir, 0755), ==, 0);
      g_autofree char *out = g_build_filename (out_dir, "organ.stl", NULL);
      const char *argv[] = { anatomy, "mesh", in, "--per-label", "--smooth", "0", "--threads", "1", "--out", out, NULL };
      if (interrupt_while_writing (argv, out_dir, sigs[round]))
        {
          /* all or nothing: a signal during the final renames waits for them */
          interrupted++;
          g_assert_cmpuint (count_hidden (out_dir), ==, 0);
          guint n = count_files (out_dir);
          g_assert_true (n == 0 || n == 300);
        }
      else
        g_assert_cmpuint (count_files (out_dir), ==, 300);   /* it finished: all of them */

      g_autofree char *psub = g_strdup_printf ("phantom%d", round);
      g_autofree char *ph = g_build_filename (dir, psub, NULL);
      const char *pargv[] = { anatomy, "phantom", "--out", ph, "--subjects", "4", "--partials", "4", "--grid", "48", NULL };
      g_assert_cmpint (g_mkdir (ph, 0755), ==, 0);
      if (interrupt_while_writing (pargv, ph, sigs[round]))
        {
          interrupted++;
          g_assert_cmpuint (count_hidden_tree (ph), ==, 0);
          guint n = count_files (ph);
          g_assert_true (n == 0 || n == 2 + 4 + 4 * 4);
        }
      else
        g_assert_cmpuint (count_files (ph), ==, 2 + 4 + 4 * 4);
    }
  g_test_message ("%d of 4 runs interrupted while writing", interrupted);
  if (interrupted == 0)
    g_test_incomplete ("every command finished before a signal could reach it");
}

static void
touch_old (const char *path, double age_hours)
{
  write_text (path, "x");
  struct timespec ts[2];
  clock_gettime (CLOCK_REALTIME, &ts[0]);
  ts[0].tv_sec -= (time_t) (age_hours * 3600);
  ts[1] = ts[0];
  g_assert_cmpint (utimensat (AT_FDCWD, path, ts, AT_SYMLINK_NOFOLLOW), ==, 0);
}

/* A temporary left by SIGKILL is removed by the next write into its folder once it is a
 * day old, and nothing else is: only ".NAME.XXXXXX" regular files of ours. */
static void
test_stale_temporaries_cleaned (void)
{
  g_autofree char *dir = fresh_dir ("stale");
  const char *stale[] = { ".scan.nii.gz.Ab12Cd", ".labels.txt.ZZZZZZ", ".m.safetensors.a1b2c3" };
  const char *kept[] = {
    ".young.nii.gz.Ab12Cd",    /* an hour old: may be a write in progress */
    ".scan.nii.gz.Ab12C",      /* five characters */
    ".scan.nii.gz.Ab12C_",     /* not a letter or digit */
    ".notes.doc.Ab12Cd",       /* not a kind of file we write */
    "scan.nii.gz.Ab12Cd",      /* no leading dot (GLib's g_file_set_contents pattern) */
    ".nii.gz.Ab12Cd",          /* no name */
    "keep.nii.gz",
  };
  for (guint i = 0; i < G_N_ELEMENTS (stale); i++)
    {
      g_autofree char *p = g_build_filename (dir, stale[i], NULL);
      touch_old (p, 30);
    }
  for (guint i = 0; i < G_N_ELEMENTS (kept); i++)
    {
      g_autofree char *p = g_build_filename (dir, kept[i], NULL);
      touch_old (p, i == 0 ? 1 : 30);
    }
  /* an old symbolic link, folder and someone else's file of the pattern stay too */
  g_autofree char *sym = g_build_filename (dir, ".link.nii.gz.Qq1111", NULL);
  g_assert_cmpint (symlink ("keep.nii.gz", sym), ==, 0);
  g_autofree char *sub = g_build_filename (dir, ".dir.nii.gz.Dd1111", NULL);
  g_assert_cmpint (g_mkdir (sub, 0755), ==, 0);
  g_autofree char *theirs = g_build_filename (dir, ".theirs.nii.gz.Tt1111", NULL);
  touch_old (theirs, 30);
  gboolean chowned = geteuid () == 0 && chown (theirs, 65534, 65534) == 0;
  if (!chowned)
    g_unlink (theirs);
  g_autofree char *before = dir_listing (dir);

  /* the next write there */
  g_autofree char *out = g_build_filename (dir, "new.nii", NULL);
  g_autoptr (GError) error = NULL;
  g_autoptr (LabelVolume) v = ball_volume (6, 2);
  g_assert_true (nifti_write (v, out, 0, &error));
  g_autofree char *after = dir_listing (dir);
  g_test_message ("before: %s\nafter: %s", before, after);
  for (guint i = 0; i < G_N_ELEMENTS (stale); i++)
    {
      g_autofree char *p = g_build_filename (dir, stale[i], NULL);
      g_assert_false (g_file_test (p, G_FILE_TEST_EXISTS));
    }
  for (guint i = 0; i < G_N_ELEMENTS (kept); i++)
    {
      g_autofree char *p = g_build_filename (dir, kept[i], NULL);
      g_assert_true (g_file_test (p, G_FILE_TEST_EXISTS));
    }
  g_assert_true (g_file_test (sym, G_FILE_TEST_IS_SYMLINK));
  g_assert_true (g_file_test (sub, G_FILE_TEST_IS_DIR));
  if (chowned)
    g_assert_true (g_file_test (theirs, G_FILE_TEST_EXISTS));
  g_assert_true (g_file_test (out, G_FILE_TEST_EXISTS));
}

/* ---- models: non-finite weights, F16 tensors, grids (issue 14, items 9, 10) ---- */

/* Rewrites the header of the safetensors file @path with @edit (on the parsed JSON object);
 * the data stay as they are. */
static void
edit_safetensors_header (const char *path, void (*edit) (JsonObject *root))
{
  g_autoptr (GBytes) b = read_bytes (path);
  const guint8 *raw = g_bytes_get_data (b, NULL);
  guint64 hlen = 0;
  for (int i = 7; i >= 0; i--)
    hlen = (hlen << 8) | raw[i];
  g_autoptr (JsonParser) parser = json_parser_new ();
  g_autoptr (GError) error = NULL;
  g_assert_true (json_parser_load_from_data (parser, (const char *) raw + 8, (gssize) hlen, &error));
  edit (json_node_get_object (json_parser_get_root (parser)));
  g_autoptr (JsonGenerator) gen = json_generator_new ();
  json_generator_set_root (gen, json_parser_get_root (parser));
  gsize jlen;
  g_autofree char *json = json_generator_to_data (gen, &jlen);
  g_autoptr (GBytes) head = safetensors_bytes (json, jlen);
  GByteArray *out = g_byte_array_new ();
  g_byte_array_append (out, g_bytes_get_data (head, NULL), (guint) g_bytes_get_size (head));
  g_byte_array_append (out, raw + 8 + hlen, (guint) (g_bytes_get_size (b) - 8 - hlen));
  g_assert_true (g_file_set_contents (path, (const char *) out->data, out->len, NULL));
  g_byte_array_unref (out);
}

/* The first convolution weight: F16 with its first dimension doubled (the same bytes). */
static void
make_first_weight_f16 (JsonObject *root)
{
  g_autoptr (GList) names = json_object_get_members (root);
  for (GList *l = names; l; l = l->next)
    if (g_str_has_suffix (l->data, ".weight") && strstr (l->data, "conv"))
      {
        JsonObject *t = json_object_get_object_member (root, l->data);
        json_object_set_string_member (t, "dtype", "F16");
        JsonArray *shape = json_object_get_array_member (t, "shape");
        gint64 d0 = json_array_get_int_element (shape, 0);
        JsonArray *twice = json_array_new ();
        json_array_add_int_element (twice, 2 * d0);
        for (guint d = 1; d < json_array_get_length (shape); d++)
          json_array_add_int_element (twice, json_array_get_int_element (shape, d));
        json_object_set_array_member (t, "shape", twice);
        return;
      }
  g_assert_not_reached ();
}

static void
test_model_problems_named (void)
{
  g_autofree char *dir = fresh_dir ("models");
  g_autoptr (GError) error = NULL;

  /* NaN weights: the loader warns, completion refuses (it added nothing and said nothing) */
  g_autofree char *nan_path = g_build_filename (dir, "nan.safetensors", NULL);
  g_autoptr (NnNet) net = tiny_net (2, 8);
  int n_params;
  NnParam *params = nn_net_get_params (net, &n_params);
  params[0].data[0] = NAN;
  params[n_params - 1].data[0] = INFINITY;
  g_assert_true (nn_net_save (net, nan_path, FALSE, &error));
  g_autoptr (GPtrArray) warnings = g_ptr_array_new_with_free_func (g_free);
  g_autoptr (NnNet) loaded = nn_net_load_full (nan_path, warnings, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (warnings->len, ==, 1);
  g_test_message ("%s", (char *) warnings->pdata[0]);
  g_assert_nonnull (strstr (warnings->pdata[0], nan_path));
  g_assert_nonnull (strstr (warnings->pdata[0], "2 of the"));
  g_assert_cmpstr (nn_net_get_path (loaded), ==, nan_path);
  g_autoptr (LabelVolume) in = ball_volume (10, 3);
  CompletionOptions opt = { .n_threads = 1 };
  g_assert_null (completion_run (loaded, in, &opt, NULL, &error));
  g_test_message ("%s", error->message);
  g_assert_error (error, COMPLETION_ERROR, COMPLETION_ERROR_MODEL);
  g_assert_nonnull (strstr (error->message, nan_path));
  g_assert_nonnull (strstr (error->message, "NaN or infinite"));
  g_clear_error (&error);

  /* an F16 tensor of another shape: both are reported */
  g_autofree char *f16 = g_build_filename (dir, "f16.safetensors", NULL);
  g_autoptr (NnNet) plain = tiny_net (2, 8);
  g_assert_true (nn_net_save (plain, f16, FALSE, &error));
  edit_safetensors_header (f16, make_first_weight_f16);
  g_assert_null (nn_net_load (f16, &error));
  g_test_message ("%s", error->message);
  g_assert_nonnull (strstr (error->message, f16));
  g_assert_nonnull (strstr (error->message, "dtype F16"));
  g_clear_error (&error);

  /* a grid that cannot be allocated names the model file */
  g_autofree char *huge = g_build_filename (dir, "huge-grid.safetensors", NULL);
  NnConfig cfg;
  test_small_config (&cfg, NN_ARCH_UNET, 2, 64, 1024);
  g_autoptr (NnNet) big = test_random_net (&cfg, 3);
  g_assert_true (nn_net_save (big, huge, FALSE, &error));
  g_autoptr (NnNet) big_loaded = nn_net_load (huge, &error);
  g_assert_no_error (error);
  g_assert_false (nn_net_prepare (big_loaded, 4096, 8, 8, 1, NN_PREPARE_DEFAULT, &error));
  g_test_message ("%s", error->message);
  g_assert_nonnull (strstr (error->message, huge));
  g_clear_error (&error);
  /* hundreds of GiB of activations (AddressSanitizer aborts on such a request instead of
   * failing it: not there) */
  if (ASAN_SLACK_MIB == 0)
    {
      g_assert_false (nn_net_prepare (big_loaded, 1024, 1024, 1024, 1, NN_PREPARE_DEFAULT, &error));
      g_test_message ("%s", error->message);
      g_assert_error (error, NN_ERROR, NN_ERROR_NO_MEMORY);
      g_assert_nonnull (strstr (error->message, huge));
    }
}

/* Through the command line: a NaN model exits 1 and writes nothing (it exited 0); an
 * input without labels is refused before any work (1024³ zeros took 2.3 GB and 42 s). */
static void
test_cli_complete_refuses_useless (void)
{
  if (g_getenv ("ANATOMY") == NULL)
    {
      g_test_skip ("ANATOMY not set (run through meson test)");
      return;
    }
  g_autofree char *dir = fresh_dir ("useless");
  g_autofree char *nan_path = g_build_filename (dir, "nan.safetensors", NULL);
  g_autofree char *good = g_build_filename (dir, "good.safetensors", NULL);
  g_autofree char *in = g_build_filename (dir, "in.nii.gz", NULL);
  g_autofree char *zeros = g_build_filename (dir, "zeros.nii.gz", NULL);
  g_autofree char *out = g_build_filename (dir, "out.nii.gz", NULL);
  g_autoptr (GError) error = NULL;
  g_autoptr (NnNet) net = tiny_net (2, 8);
  g_assert_true (nn_net_save (net, good, FALSE, &error));
  int n_params;
  NnParam *params = nn_net_get_params (net, &n_params);
  for (int i = 0; i < n_params; i++)
    params[i].data[0] = NAN;   /* a corrupted file: NaN in every tensor */
  g_assert_true (nn_net_save (net, nan_path, FALSE, &error));
  g_autoptr (LabelVolume) v = ball_volume (10, 3);
  g_assert_true (nifti_write (v, in, 0, &error));
  double sp[3] = { 1, 1, 1 };
  g_autoptr (LabelVolume) z = lv_volume_new (256, 256, 256, sp, 1, NULL);
  g_assert_true (nifti_write (z, zeros, 0, &error));
  g_auto (CliRun) r1, r2;
  run_anatomy (&r1, 60, NULL, "complete", "--model", nan_path, in, out, NULL);
  assert_refused (&r1, nan_path, "NaN or infinite");
  g_assert_false (g_file_test (out, G_FILE_TEST_EXISTS));
  gint64 t0 = g_get_monotonic_time ();
  run_anatomy (&r2, 60, NULL, "complete", "--model", good, zeros, out, NULL);
  assert_refused (&r2, zeros, "no labels");
  g_test_message ("refused in %.2f s", (g_get_monotonic_time () - t0) / 1e6);
  g_assert_false (g_file_test (out, G_FILE_TEST_EXISTS));
}

/* ---- NIfTI: what was accepted silently, what was said unclearly (items 9, 10) ---- */

/* A small .nii (uint8, 2 mm, qform and sform set) as bytes. */
static GByteArray *
small_nii_bytes (void)
{
  g_autoptr (LabelVolume) v = ball_volume (8, 3);
  double a[4][4] = { { 2, 0, 0, -7 }, { 0, 2, 0, -7 }, { 0, 0, 2, -7 }, { 0, 0, 0, 1 } };
  lv_volume_set_affine (v, a);
  g_autofree char *p = tmp_path ("small.nii");
  g_autoptr (GError) error = NULL;
  g_assert_true (nifti_write (v, p, NIFTI_WRITE_OVERWRITE, &error));
  g_autoptr (GBytes) b = read_bytes (p);
  GByteArray *a2 = g_byte_array_new ();
  g_byte_array_append (a2, g_bytes_get_data (b, NULL), (guint) g_bytes_get_size (b));
  return a2;
}

static GByteArray *
gzip_bytes (const GByteArray *in)
{
  uLongf n = compressBound (in->len) + 64;
  GByteArray *out = g_byte_array_sized_new ((guint) n);
  g_byte_array_set_size (out, (guint) n);
  z_stream zs = { 0 };
  g_assert_cmpint (deflateInit2 (&zs, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY), ==, Z_OK);
  zs.next_in = in->data;
  zs.avail_in = in->len;
  zs.next_out = out->data;
  zs.avail_out = (uInt) n;
  g_assert_cmpint (deflate (&zs, Z_FINISH), ==, Z_STREAM_END);
  g_byte_array_set_size (out, (guint) zs.total_out);
  deflateEnd (&zs);
  return out;
}

static char *
write_bytes (const char *name, const guint8 *data, gsize len)
{
  char *p = tmp_path (name);
  g_assert_true (g_file_set_contents (p, (const char *) data, (gssize) len, NULL));
  return p;
}

static void
expect_read_error (const char *path, int code, const char *what)
{
  g_autoptr (GError) error = NULL;
  g_assert_null (nifti_read (path, NULL, &error));
  g_test_message ("%s", error->message);
  g_assert_error (error, NIFTI_ERROR, code);
  g_assert_nonnull (strstr (error->message, path));
  g_assert_nonnull (strstr (error->message, what));
  g_assert_null (strstr (error->message, "<fd:"));
}

/* A gzip stream without its 8-byte trailer was read without its CRC ever being checked;
 * a bad CRC said "<fd:3>: incorrect data check". */
static void
test_nifti_gzip_trailer (void)
{
  g_autoptr (GByteArray) nii = small_nii_bytes ();
  g_autoptr (GByteArray) gz = gzip_bytes (nii);
  g_autofree char *whole = write_bytes ("whole.nii.gz", gz->data, gz->len);
  g_autoptr (GError) error = NULL;
  g_autoptr (LabelVolume) ok = nifti_read (whole, NULL, &error);
  g_assert_no_error (error);
  for (guint cut = 1; cut <= 8; cut += 3)   /* the whole trailer, or part of it */
    {
      g_autofree char *p = write_bytes ("no-trailer.nii.gz", gz->data, gz->len - cut);
      expect_read_error (p, NIFTI_ERROR_TRUNCATED, "trailer");
    }
  gz->data[gz->len - 8] ^= 0x5a;   /* the CRC-32 */
  g_autofree char *bad = write_bytes ("bad-crc.nii.gz", gz->data, gz->len);
  expect_read_error (bad, NIFTI_ERROR_CORRUPT, "CRC-32");
  gz->data[gz->len - 8] ^= 0x5a;
  gz->data[gz->len - 2] ^= 0x01;   /* the length */
  g_autofree char *badlen = write_bytes ("bad-length.nii.gz", gz->data, gz->len);
  expect_read_error (badlen, NIFTI_ERROR_CORRUPT, "length");
}

/* vox_offset −352 or NaN were reported as "-1", 1e20 as 9223372036854775807, and 1e9 in a
 * .gz as "the gap … needs 4096 bytes". */
static void
test_nifti_vox_offset_messages (void)
{
  static const struct { float value; const char *shown; } cases[] = {
    { -352.f, "negative vox_offset -352" }, { NAN, "vox_offset is not a number" },
    { 1e20f, "vox_offset 1.00000002e+20 is past the end" },
  };
  g_autoptr (GByteArray) nii = small_nii_bytes ();
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      memcpy (nii->data + 108, &cases[i].value, 4);
      g_autofree char *p = write_bytes ("vox.nii", nii->data, nii->len);
      g_autoptr (GError) error = NULL;
      g_assert_null (nifti_read (p, NULL, &error));
      g_test_message ("%s", error->message);
      g_assert_nonnull (strstr (error->message, cases[i].shown));
      g_assert_null (strstr (error->message, "9223372036854775807"));
    }
  float big = 1e9f;
  memcpy (nii->data + 108, &big, 4);
  g_autoptr (GByteArray) gz = gzip_bytes (nii);
  g_autofree char *p = write_bytes ("vox.nii.gz", gz->data, gz->len);
  g_autoptr (GError) error = NULL;
  g_assert_null (nifti_read (p, NULL, &error));
  g_test_message ("%s", error->message);
  g_assert_nonnull (strstr (error->message, "vox_offset 1e+09"));
  g_assert_null (strstr (error->message, "4096"));
  /* an offset the gzip file could hold but does not: where the data end */
  float some = 4000.f;
  memcpy (nii->data + 108, &some, 4);
  g_autoptr (GByteArray) gz2 = gzip_bytes (nii);
  g_autofree char *p2 = write_bytes ("vox2.nii.gz", gz2->data, gz2->len);
  g_clear_error (&error);
  g_assert_null (nifti_read (p2, NULL, &error));
  g_test_message ("%s", error->message);
  g_assert_nonnull (strstr (error->message, "vox_offset 4000"));
  g_assert_null (strstr (error->message, "4096"));
}

static void
set_f32 (GByteArray *b, int off, float v)
{
  memcpy (b->data + off, &v, 4);
}

/* An all-zero or singular sform gave 0.0 mL and a blank view, pixdim 1e25 absurd volumes,
 * all silently: the qform is used instead and each is warned about. */
static void
test_nifti_geometry_warnings (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GPtrArray) warnings = g_ptr_array_new_with_free_func (g_free);
  NiftiReadOptions opt = { .warnings = warnings };

  g_autoptr (GByteArray) nii = small_nii_bytes ();
  g_autofree char *good = write_bytes ("good.nii", nii->data, nii->len);
  g_autoptr (LabelVolume) g = nifti_read (good, &opt, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (warnings->len, ==, 0);
  g_assert_cmpfloat_with_epsilon (lv_volume_voxel_mm3 (g), 8.0, 1e-4);

  for (int i = 0; i < 3; i++)
    for (int j = 0; j < 4; j++)
      set_f32 (nii, 280 + 16 * i + 4 * j, 0.f);
  g_autofree char *zero = write_bytes ("sform-zero.nii", nii->data, nii->len);
  g_autoptr (LabelVolume) z = nifti_read (zero, &opt, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (warnings->len, ==, 1);
  g_test_message ("%s", (char *) warnings->pdata[0]);
  g_assert_nonnull (strstr (warnings->pdata[0], zero));
  g_assert_nonnull (strstr (warnings->pdata[0], "all zero"));
  g_assert_cmpfloat_with_epsilon (lv_volume_voxel_mm3 (z), 8.0, 1e-4);   /* from the qform */
  g_ptr_array_set_size (warnings, 0);

  /* rank 2: the third column is the sum of the first two */
  set_f32 (nii, 280, 2.f);
  set_f32 (nii, 280 + 16 + 4, 2.f);
  set_f32 (nii, 280 + 8, 2.f);
  set_f32 (nii, 280 + 16 + 8, 2.f);
  g_autofree char *flat = write_bytes ("sform-flat.nii", nii->data, nii->len);
  g_autoptr (LabelVolume) f = nifti_read (flat, &opt, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (warnings->len, ==, 1);
  g_test_message ("%s", (char *) warnings->pdata[0]);
  g_assert_nonnull (strstr (warnings->pdata[0], "singular"));
  g_assert_cmpfloat (lv_volume_voxel_mm3 (f), >, 7.9);
  /* written back, the volume keeps the geometry it was read with */
  g_autofree char *back = tmp_path ("sform-flat-back.nii");
  g_assert_true (nifti_write (f, back, NIFTI_WRITE_OVERWRITE, &error));
  g_ptr_array_set_size (warnings, 0);
  g_autoptr (LabelVolume) fb = nifti_read (back, &opt, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (warnings->len, ==, 0);
  g_assert_cmpfloat_with_epsilon (lv_volume_voxel_mm3 (fb), lv_volume_voxel_mm3 (f), 1e-4);

  /* pixdim 1e25, no sform or qform */
  g_autoptr (GByteArray) px = small_nii_bytes ();
  int16_t zero16 = 0;
  memcpy (px->data + 252, &zero16, 2);
  memcpy (px->data + 254, &zero16, 2);
  set_f32 (px, 80, 1e25f);
  g_autofree char *huge = write_bytes ("pixdim-huge.nii", px->data, px->len);
  g_autoptr (LabelVolume) h = nifti_read (huge, &opt, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (warnings->len, ==, 1);
  g_test_message ("%s", (char *) warnings->pdata[0]);
  g_assert_nonnull (strstr (warnings->pdata[0], huge));
  g_assert_nonnull (strstr (warnings->pdata[0], "not a plausible size"));
}

/* A cancelled read stops (the window's Cancel during "Reading…"). */
static void
test_nifti_read_cancelled (void)
{
  g_autoptr (GByteArray) nii = small_nii_bytes ();
  g_autofree char *p = write_bytes ("cancel.nii", nii->data, nii->len);
  g_autoptr (GCancellable) c = g_cancellable_new ();
  g_cancellable_cancel (c);
  NiftiReadOptions opt = { .cancellable = c };
  g_autoptr (GError) error = NULL;
  g_assert_null (nifti_read (p, &opt, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
}

/* ---- a broken table beside a volume (item 10) ---- */

/* info and mesh refused a valid volume when the table beside it was broken, while render,
 * complete and the window carried on: all go on now, saying why the table is ignored; an
 * explicit --table that is broken is still an error. */
static void
test_cli_broken_table_beside (void)
{
  if (g_getenv ("ANATOMY") == NULL)
    {
      g_test_skip ("ANATOMY not set (run through meson test)");
      return;
    }
  g_autofree char *dir = fresh_dir ("broken-table");
  g_autofree char *in = g_build_filename (dir, "v.nii.gz", NULL);
  g_autofree char *table = g_build_filename (dir, "v.txt", NULL);
  g_autofree char *stl = g_build_filename (dir, "v.stl", NULL);
  g_autoptr (GError) error = NULL;
  g_autoptr (LabelVolume) v = ball_volume (12, 4);
  g_assert_true (nifti_write (v, in, 0, &error));
  write_text (table, "this is not\na label table\n");
  g_auto (CliRun) r1, r2, r3;
  run_anatomy (&r1, 60, NULL, "info", in, NULL);
  g_assert_true (r1.finished && WIFEXITED (r1.status) && WEXITSTATUS (r1.status) == 0);
  g_assert_nonnull (strstr (r1.err, "warning"));
  g_assert_nonnull (strstr (r1.err, table));
  run_anatomy (&r2, 60, NULL, "mesh", in, "--out", stl, NULL);
  g_assert_true (r2.finished && WIFEXITED (r2.status) && WEXITSTATUS (r2.status) == 0);
  g_assert_nonnull (strstr (r2.err, table));
  g_assert_true (g_file_test (stl, G_FILE_TEST_EXISTS));
  run_anatomy (&r3, 60, NULL, "info", in, "--table", table, NULL);
  assert_refused (&r3, table, "label table");
}

/* ---- NRRD (merged later): the same rules ---- */

static void
read_any_refused (const char *path)
{
  g_autoptr (GError) error = NULL;
  g_assert_null (label_file_read (path, 0, NULL, NULL, &error));
  expect_not_regular (error, path, "named pipe");
}

/* A FIFO as a .nrrd, as the data file of a detached .nhdr: refused at once; a NRRD output is
 * never the input nor an existing file without overwrite, and joins a command's set. */
static void
test_nrrd_rules (void)
{
  g_autofree char *dir = fresh_dir ("nrrd");
  g_autofree char *fifo = g_build_filename (dir, "pipe.nrrd", NULL);
  g_autofree char *data = g_build_filename (dir, "pipe.raw", NULL);
  g_autofree char *nhdr = g_build_filename (dir, "detached.nhdr", NULL);
  g_assert_cmpint (mkfifo (fifo, 0644), ==, 0);
  g_assert_cmpint (mkfifo (data, 0644), ==, 0);
  write_text (nhdr, "NRRD0004\ntype: uchar\ndimension: 3\nsizes: 2 2 2\nencoding: raw\ndata file: pipe.raw\n\n");
  within_seconds (10, read_any_refused, fifo);
  within_seconds (10, read_any_refused, data);   /* the error names the data file */
  (void) nhdr;
  g_autoptr (GError) error = NULL;
  g_assert_null (label_file_read (nhdr, 0, NULL, NULL, &error));
  g_test_message ("%s", error->message);
  g_assert_nonnull (strstr (error->message, "named pipe"));
  g_clear_error (&error);

  g_autofree char *in = g_build_filename (dir, "in.seg.nrrd", NULL);
  g_autofree char *out = g_build_filename (dir, "out.nrrd", NULL);
  g_autoptr (LabelVolume) v = ball_volume (8, 3);
  g_assert_true (label_file_write (v, NULL, in, FALSE, &error));
  g_assert_false (label_file_write (v, NULL, in, FALSE, &error));   /* exists */
  g_assert_true (label_file_error_is_exists (error));
  g_clear_error (&error);
  g_autoptr (OutSet) set = out_set_new (TRUE);
  label_file_add_inputs (set, in);
  g_assert_false (label_file_write_in (set, v, NULL, in, &error));   /* the input, even with overwrite */
  g_assert_error (error, OUT_FILE_ERROR, OUT_FILE_ERROR_SAME);
  g_clear_error (&error);
  g_assert_true (label_file_write_in (set, v, NULL, out, &error));
  g_assert_false (g_file_test (out, G_FILE_TEST_EXISTS));   /* not before the commit */
  g_assert_true (out_set_commit (set, &error));
  g_autoptr (LabelVolume) back = label_file_read (out, 0, NULL, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpint (back->nx, ==, 8);

  /* a detached header's data file is an input too (here named like an output) */
  g_autofree char *hdr2 = g_build_filename (dir, "split.nhdr", NULL);
  g_autofree char *payload = g_build_filename (dir, "payload.nrrd", NULL);
  write_text (hdr2, "NRRD0004\ntype: uchar\ndimension: 3\nsizes: 2 2 2\nencoding: raw\ndata file: payload.nrrd\n\n");
  write_text (payload, "12345678");
  g_autoptr (LabelVolume) split = label_file_read (hdr2, 0, NULL, NULL, &error);
  g_assert_no_error (error);
  g_autoptr (OutSet) set2 = out_set_new (TRUE);
  label_file_add_inputs (set2, hdr2);
  g_assert_false (label_file_write_in (set2, split, NULL, payload, &error));
  g_assert_error (error, OUT_FILE_ERROR, OUT_FILE_ERROR_SAME);
  g_clear_error (&error);
  assert_text (payload, "12345678");
}

/* Mask folders under the same rules, on the command line: a folder's masks are inputs, an
 * existing folder with other files is no output, a folder output is checked with the others
 * before any work and nothing (not even the folder) is made when one is refused. */
static void
test_cli_mask_folder_outputs (void)
{
  if (g_getenv ("ANATOMY") == NULL)
    {
      g_test_skip ("ANATOMY not set (run through meson test)");
      return;
    }
  g_autofree char *dir = fresh_dir ("mask-folder");
  g_autofree char *segs = g_build_filename (dir, "segs", NULL);
  g_assert_cmpint (g_mkdir (segs, 0755), ==, 0);
  g_autoptr (GError) error = NULL;
  g_autoptr (LabelVolume) ball = ball_volume (12, 4);
  const char *names[] = { "liver", "spleen" };
  for (int m = 0; m < 2; m++)
    {
      g_autoptr (LabelVolume) mask = lv_volume_dup (ball);
      for (int64_t i = 0; i < lv_volume_n_voxels (mask); i++)
        lv_volume_set_index (mask, i, lv_volume_get_index (ball, i) == m + 1);
      g_autofree char *file = g_strconcat (names[m], ".nii.gz", NULL);
      g_autofree char *p = g_build_filename (segs, file, NULL);
      g_assert_true (nifti_write (mask, p, 0, &error));
    }
  g_autofree char *liver = g_build_filename (segs, "liver.nii.gz", NULL);
  g_autoptr (GBytes) before = read_bytes (liver);
  g_autofree char *in = g_build_filename (dir, "in.nii.gz", NULL);
  g_assert_true (nifti_write (ball, in, 0, &error));
  g_autofree char *model = g_build_filename (dir, "m.safetensors", NULL);
  g_autoptr (NnNet) net = tiny_net (2, 8);
  g_assert_true (nn_net_save (net, model, FALSE, &error));
  g_auto (CliRun) r1, r2, r3, r4, r5;

  /* the folder onto itself: its masks are the input, even with --force */
  run_anatomy (&r1, 60, NULL, "convert", segs, segs, "--force", NULL);
  assert_refused (&r1, segs, "is the input");   /* names the first mask it would replace */
  g_autoptr (GBytes) after = read_bytes (liver);
  g_assert_true (g_bytes_equal (before, after));
  g_autofree char *listing = dir_listing (segs);
  g_assert_cmpstr (listing, ==, "liver.nii.gz spleen.nii.gz");
  /* an existing folder holding other files (the model) */
  run_anatomy (&r2, 60, NULL, "convert", in, dir, NULL);
  assert_refused (&r2, dir, "unknown output format");
  /* a folder output and an existing P without --force: nothing written, no folder made */
  g_autofree char *outdir = g_build_filename (dir, "completed", NULL);
  g_autofree char *p = g_build_filename (dir, "p.nii.gz", NULL);
  write_text (p, "older probabilities");
  run_anatomy (&r3, 60, NULL, "complete", "--model", model, segs, outdir, "--probabilities", p, NULL);
  assert_refused (&r3, p, "use --force");
  g_assert_false (g_file_test (outdir, G_FILE_TEST_EXISTS));
  assert_text (p, "older probabilities");
  /* a folder whose parent folder is missing */
  g_autofree char *missing = g_build_filename (dir, "nowhere", "out", NULL);
  run_anatomy (&r4, 60, NULL, "convert", segs, missing, NULL);
  assert_refused (&r4, missing, "does not exist");
  /* and a folder that can be written: the masks, nothing else */
  run_anatomy (&r5, 60, NULL, "convert", segs, outdir, NULL);
  g_assert_true (r5.finished && WIFEXITED (r5.status) && WEXITSTATUS (r5.status) == 0);
  g_autofree char *out_listing = dir_listing (outdir);
  g_assert_cmpstr (out_listing, ==, "liver.nii.gz spleen.nii.gz");
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  tmpdir = g_dir_make_tmp ("test-hardening-XXXXXX", NULL);
  g_assert_nonnull (tmpdir);

  g_test_add_func ("/hardening/write-fails/label-table", test_label_table_write_fails);
  g_test_add_func ("/hardening/write-fails/mesh-export", test_mesh_export_write_fails);
  g_test_add_func ("/hardening/write-fails/model-save", test_model_save_fails);
  g_test_add_func ("/hardening/write-fails/nifti", test_nifti_write_fails);
  g_test_add_func ("/hardening/cancel/completion", test_completion_cancelled);
  g_test_add_func ("/hardening/cancel/cli-complete", test_cli_complete_interrupted);
  g_test_add_func ("/hardening/limits/completion-large-volume", test_completion_large_volume);
  g_test_add_func ("/hardening/limits/cli-voxel-message", test_cli_voxel_limit_message);
  g_test_add_func ("/hardening/limits/cli-memory-message", test_cli_memory_message);
  g_test_add_func ("/hardening/limits/nifti-vox-offset-float", test_nifti_vox_offset_float);
  g_test_add_func ("/hardening/limits/nifti-uint32-range", test_nifti_uint32_range);
  g_test_add_func ("/hardening/limits/safetensors-json-depth", test_safetensors_json_depth);
  g_test_add_func ("/hardening/limits/safetensors-labels-depth", test_safetensors_labels_depth);
  g_test_add_func ("/hardening/inputs/readers-refuse-fifos", test_readers_refuse_fifos);
  g_test_add_func ("/hardening/inputs/cli-refuses-fifos-and-devices", test_cli_refuses_fifos_and_devices);
  g_test_add_func ("/hardening/limits/renderer-many-meshes", test_renderer_many_meshes);
  g_test_add_func ("/hardening/limits/scene-labels", test_scene_label_limits);
  g_test_add_func ("/hardening/limits/cli-render-many-labels", test_cli_render_many_labels);
  g_test_add_func ("/hardening/outputs/out-set", test_out_set_rules);
  g_test_add_func ("/hardening/outputs/cli-render", test_cli_render_outputs);
  g_test_add_func ("/hardening/outputs/cli-complete", test_cli_complete_outputs);
  g_test_add_func ("/hardening/outputs/cli-force-everywhere", test_cli_force_everywhere);
  g_test_add_func ("/hardening/litter/cli-interrupted-writes", test_cli_interrupted_writes_leave_nothing);
  g_test_add_func ("/hardening/litter/stale-temporaries", test_stale_temporaries_cleaned);
  g_test_add_func ("/hardening/models/problems-named", test_model_problems_named);
  g_test_add_func ("/hardening/models/cli-complete-refuses-useless", test_cli_complete_refuses_useless);
  g_test_add_func ("/hardening/nifti/gzip-trailer", test_nifti_gzip_trailer);
  g_test_add_func ("/hardening/nifti/vox-offset-messages", test_nifti_vox_offset_messages);
  g_test_add_func ("/hardening/nifti/geometry-warnings", test_nifti_geometry_warnings);
  g_test_add_func ("/hardening/nifti/read-cancelled", test_nifti_read_cancelled);
  g_test_add_func ("/hardening/inputs/cli-broken-table-beside", test_cli_broken_table_beside);
  g_test_add_func ("/hardening/inputs/nrrd", test_nrrd_rules);
  g_test_add_func ("/hardening/outputs/cli-mask-folder", test_cli_mask_folder_outputs);
  int status = g_test_run ();

  g_autofree char *cmd = g_strdup_printf ("rm -rf '%s'", tmpdir);
  if (system (cmd) != 0)
    g_printerr ("could not remove %s\n", tmpdir);
  g_free (tmpdir);
  return status;
}
