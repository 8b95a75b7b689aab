/* test-hardening.c: no data loss on failed writes, cancelled completion writes nothing,
 * resource limits (large volumes, lying headers) for the writers and readers outside nifti.c.
 *
 * Failed writes use RLIMIT_FSIZE (write() then fails with EFBIG, also for root, which a
 * read-only directory does not stop); SIGXFSZ is ignored while the limit is set.  For
 * every writer: the previous file stays byte-for-byte intact, no temporary file is left
 * in the directory, and the error message names the target file.
 */
#include "hardening.h"


static char *tmpdir;

/* ---- helpers ---- */

char *
tmp_path (const char *name)
{
  return g_build_filename (tmpdir, name, NULL);
}

/* Names in @dir, sorted, as one "a b c" string (to spot stray temporary files). */
char *
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
char *
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

GBytes *
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

/* A writer under test: @what to @path, replacing an existing file when @overwrite. */
typedef gboolean (*WriteFunc) (gconstpointer what, const char *path, gboolean overwrite, GError **error);

/* @write of @small to @path in @dir succeeds; then @write of @big over it, with files
 * capped at @limit bytes (0: one byte more than the small file), must fail as
 * check_failed_write says.  Returns that failure's error. */
static GError *
check_write_over_fails (WriteFunc write, gconstpointer small, gconstpointer big, const char *dir, const char *path,
                        rlim_t limit)
{
  GError *error = NULL;
  g_assert_true (write (small, path, FALSE, &error));
  g_assert_no_error (error);
  g_autoptr (GBytes) old = read_bytes (path);
  g_autofree char *before = dir_listing (dir);
  FsizeLimit l;
  fsize_limit_begin (&l, limit != 0 ? limit : g_bytes_get_size (old) + 1);
  gboolean ok = write (big, path, TRUE, &error);
  fsize_limit_end (&l);
  check_failed_write (ok, error, path, old, dir, before);
  return error;
}

/* ---- label table ---- */

LabelTable *
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

static gboolean
write_table (gconstpointer t, const char *path, gboolean overwrite, GError **error)
{
  return lt_table_save_itksnap (t, path, overwrite, error);
}

static void
test_label_table_write_fails (void)
{
  g_autofree char *dir = fresh_dir ("lt");
  g_autofree char *path = g_build_filename (dir, "labels.txt", NULL);
  g_autoptr (GError) error = NULL;
  g_autoptr (LabelTable) small = make_table (2);
  g_autoptr (LabelTable) big = make_table (200);

  error = check_write_over_fails (write_table, small, big, dir, path, 4096);
  g_autofree char *listing = dir_listing (dir);
  g_assert_cmpstr (listing, ==, "labels.txt");
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

LabelVolume *
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
NnNet *
tiny_net (int w0, int grid)
{
  NnConfig cfg;
  test_small_config (&cfg, NN_ARCH_UNET_SKIP, 2, w0, grid);
  return test_random_net (&cfg, 7);
}

void
write_tiny_net (const char *path, int w0, int grid)
{
  g_autoptr (NnNet) net = tiny_net (w0, grid);
  g_autoptr (GError) error = NULL;
  g_assert_true (nn_net_save (net, path, FALSE, &error));
  g_assert_no_error (error);
}

void
write_ball (const char *path, int n, int r)
{
  g_autoptr (LabelVolume) v = ball_volume (n, r);
  g_autoptr (GError) error = NULL;
  g_assert_true (nifti_write (v, path, 0, &error));
  g_assert_no_error (error);
}

static gboolean
write_net (gconstpointer net, const char *path, gboolean overwrite, GError **error)
{
  return nn_net_save ((NnNet *) net, path, overwrite, error);   /* saving does not change it */
}

static void
test_model_save_fails (void)
{
  g_autofree char *dir = fresh_dir ("model");
  g_autofree char *path = g_build_filename (dir, "net.safetensors", NULL);
  g_autoptr (GError) error = NULL;
  g_autoptr (NnNet) small = tiny_net (4, 8);
  g_autoptr (NnNet) big = tiny_net (16, 8);

  error = check_write_over_fails (write_net, small, big, dir, path, 0);

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
GBytes *
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
      test_assert_message_has (error, "deep.safetensors", "levels deep", NULL);
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
  test_assert_message_has (error, path, "labels", NULL);
}

/* ---- NIfTI (the fourth writer, tested in depth in test-nifti.c): same contract ---- */

static gboolean
write_nifti (gconstpointer v, const char *path, gboolean overwrite, GError **error)
{
  return nifti_write (v, path, overwrite ? NIFTI_WRITE_OVERWRITE : 0, error);
}

static void
test_nifti_write_fails (void)
{
  g_autofree char *dir = fresh_dir ("nifti");
  g_autofree char *path = g_build_filename (dir, "v.nii", NULL);
  g_autoptr (LabelVolume) small = ball_volume (8, 2);
  g_autoptr (LabelVolume) big = ball_volume (40, 10);
  g_autoptr (GError) error = check_write_over_fails (write_nifti, small, big, dir, path, 0);
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

  /* cancelled while running (from the progress callback): no volume, no probabilities */
  g_autoptr (GCancellable) c2 = g_cancellable_new ();
  CompletionProbs *kept = NULL;
  CompletionOptions opt2 = { .n_threads = 1, .progress = cancel_on_first_progress,
                             .progress_data = c2, .probs_out = &kept };
  g_assert_null (completion_run (net, in, &opt2, c2, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_assert_null (kept);
}

/* `anatomy complete` interrupted: OUT is never created, no temporary is left. */
static void
test_cli_complete_interrupted (void)
{
  const char *anatomy = test_anatomy_or_skip ();
  if (anatomy == NULL)
    return;
  g_autofree char *dir = fresh_dir ("cli");
  g_autofree char *model = g_build_filename (dir, "m.safetensors", NULL);
  g_autofree char *in = g_build_filename (dir, "in.nii.gz", NULL);
  g_autofree char *out = g_build_filename (dir, "out.nii.gz", NULL);
  g_autoptr (GError) error = NULL;
  /* a 48³ grid: the forward pass takes long enough for the signal to land before the write */
  write_tiny_net (model, 8, 48);
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
  /* probabilities are interpolated voxel by voxel, never held on the input grid */
  double naive_mib = (double) nvox * LT_N_CLASSES * 4 / 1048576.0;
  double bound_mib = out_mib + 96 + ASAN_SLACK_MIB;
  g_test_message ("%d^3 completion on a 32^3 grid: %.1f s, peak RSS grew by %.0f MiB (output %.0f MiB, "
                  "bound %.0f MiB; probabilities on the input grid would be %.0f MiB)",
                  n, (g_get_monotonic_time () - t0) / 1e6, grown_kib / 1024.0, out_mib, bound_mib, naive_mib);
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
  const char *anatomy = test_anatomy_or_skip ();
  if (anatomy == NULL)
    return;
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
  test_assert_contains (err, path, "953.7 MiB", NULL);
}

static const TestCase test_cases[] = {
  { "/hardening/write-fails/label-table", test_label_table_write_fails },
  { "/hardening/write-fails/mesh-export", test_mesh_export_write_fails },
  { "/hardening/write-fails/model-save", test_model_save_fails },
  { "/hardening/write-fails/nifti", test_nifti_write_fails },
  { "/hardening/cancel/completion", test_completion_cancelled },
  { "/hardening/cancel/cli-complete", test_cli_complete_interrupted },
  { "/hardening/limits/completion-large-volume", test_completion_large_volume },
  { "/hardening/limits/cli-voxel-message", test_cli_voxel_limit_message },
  { "/hardening/limits/cli-memory-message", test_cli_memory_message },
  { "/hardening/limits/nifti-vox-offset-float", test_nifti_vox_offset_float },
  { "/hardening/limits/nifti-uint32-range", test_nifti_uint32_range },
  { "/hardening/limits/safetensors-json-depth", test_safetensors_json_depth },
  { "/hardening/limits/safetensors-labels-depth", test_safetensors_labels_depth },
  { "/hardening/inputs/readers-refuse-fifos", test_readers_refuse_fifos },
  { "/hardening/inputs/cli-refuses-fifos-and-devices", test_cli_refuses_fifos_and_devices },
  { "/hardening/limits/renderer-many-meshes", test_renderer_many_meshes },
  { "/hardening/limits/scene-labels", test_scene_label_limits },
  { "/hardening/limits/cli-render-many-labels", test_cli_render_many_labels },
  { "/hardening/outputs/out-set", test_out_set_rules },
  { "/hardening/outputs/large-round-trip", test_out_file_large_round_trip },
  { "/hardening/outputs/cli-render", test_cli_render_outputs },
  { "/hardening/outputs/cli-complete", test_cli_complete_outputs },
  { "/hardening/outputs/cli-force-everywhere", test_cli_force_everywhere },
  { "/hardening/litter/cli-interrupted-writes", test_cli_interrupted_writes_leave_nothing },
  { "/hardening/litter/stale-temporaries", test_stale_temporaries_cleaned },
  { "/hardening/models/problems-named", test_model_problems_named },
  { "/hardening/models/cli-complete-refuses-useless", test_cli_complete_refuses_useless },
  { "/hardening/nifti/gzip-trailer", test_nifti_gzip_trailer },
  { "/hardening/nifti/vox-offset-messages", test_nifti_vox_offset_messages },
  { "/hardening/nifti/geometry-warnings", test_nifti_geometry_warnings },
  { "/hardening/nifti/read-cancelled", test_nifti_read_cancelled },
  { "/hardening/inputs/cli-broken-table-beside", test_cli_broken_table_beside },
  { "/hardening/inputs/nrrd", test_nrrd_rules },
  { "/hardening/outputs/cli-mask-folder", test_cli_mask_folder_outputs },
};

TEST_UTIL_MAIN_TMPDIR (test_cases, "test-hardening-XXXXXX", NULL)
