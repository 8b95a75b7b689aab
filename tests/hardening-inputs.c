/* hardening-inputs.c: inputs that are not what they claim: FIFOs, devices and folders
 * where a file is expected, many labels, broken models, NIfTI and NRRD oddities, a broken
 * table beside a volume (see test-hardening.c). */
#include "hardening.h"

/* ---- FIFOs, devices and folders where a file is expected (issue 14, items 2, 3, 10) ---- */


void
cli_run_clear (CliRun *r)
{
  g_free (r->out);
  g_free (r->err);
}

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
void
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
void
assert_refused (const CliRun *r, const char *path, const char *what)
{
  g_assert_true (r->finished);
  g_assert_true (WIFEXITED (r->status));
  g_assert_cmpint (WEXITSTATUS (r->status), ==, 1);
  test_assert_contains (r->err, path, what, NULL);
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
  test_assert_message_has (error, path, kind, NULL);
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
void
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
void
test_cli_refuses_fifos_and_devices (void)
{
  if (test_anatomy_or_skip () == NULL)
    return;
  g_autofree char *dir = fresh_dir ("cli-fifo");
  g_autofree char *vol = g_build_filename (dir, "v.nii.gz", NULL);
  g_autofree char *fifo_vol = g_build_filename (dir, "f.nii", NULL);
  g_autofree char *fifo_tab = g_build_filename (dir, "f.txt", NULL);
  g_autofree char *fifo_model = g_build_filename (dir, "f.safetensors", NULL);
  g_autofree char *out = g_build_filename (dir, "out.nii.gz", NULL);
  g_autofree char *png = g_build_filename (dir, "out.png", NULL);
  g_autofree char *stl = g_build_filename (dir, "out.stl", NULL);
  write_ball (vol, 12, 4);
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
void
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
void
test_scene_label_limits (void)
{
  g_autoptr (GError) error = NULL;
  gint64 t0 = g_get_monotonic_time ();
  g_assert_null (ar_scene_load ("many.nii.gz", many_labels_volume (1000000), NULL, NULL, &error));
  g_test_message ("%s (%.2f s)", error->message, (g_get_monotonic_time () - t0) / 1e6);
  g_assert_error (error, MESH_ERROR, MESH_ERROR_TOO_LARGE);
  test_assert_message_has (error, "many.nii.gz", "1000000 labels", NULL);
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
  test_assert_message_has (error, "big-id.nii.gz", "2147483647", NULL);
}

/* `anatomy render` of a 10^6-label file (1.4 MB) hung: it now refuses within seconds,
 * and `anatomy mesh` still exports every surface. */
void
test_cli_render_many_labels (void)
{
  if (test_anatomy_or_skip () == NULL)
    return;
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

void
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
  test_assert_message_has (error, nan_path, "NaN or infinite", NULL);
  g_clear_error (&error);

  /* an F16 tensor of another shape: both are reported */
  g_autofree char *f16 = g_build_filename (dir, "f16.safetensors", NULL);
  write_tiny_net (f16, 2, 8);
  edit_safetensors_header (f16, make_first_weight_f16);
  g_assert_null (nn_net_load (f16, &error));
  g_test_message ("%s", error->message);
  test_assert_message_has (error, f16, "dtype F16", NULL);
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
void
test_cli_complete_refuses_useless (void)
{
  if (test_anatomy_or_skip () == NULL)
    return;
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
  write_ball (in, 10, 3);
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
  test_assert_message_has (error, path, what, NULL);
  g_assert_null (strstr (error->message, "<fd:"));
}

/* A gzip stream without its 8-byte trailer was read without its CRC ever being checked;
 * a bad CRC said "<fd:3>: incorrect data check". */
void
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
void
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
void
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
void
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
void
test_cli_broken_table_beside (void)
{
  if (test_anatomy_or_skip () == NULL)
    return;
  g_autofree char *dir = fresh_dir ("broken-table");
  g_autofree char *in = g_build_filename (dir, "v.nii.gz", NULL);
  g_autofree char *table = g_build_filename (dir, "v.txt", NULL);
  g_autofree char *stl = g_build_filename (dir, "v.stl", NULL);
  g_autoptr (GError) error = NULL;
  write_ball (in, 12, 4);
  write_text (table, "this is not\na label table\n");
  g_auto (CliRun) r1, r2, r3;
  run_anatomy (&r1, 60, NULL, "info", in, NULL);
  g_assert_true (r1.finished && WIFEXITED (r1.status) && WEXITSTATUS (r1.status) == 0);
  test_assert_contains (r1.err, "warning", table, NULL);
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
void
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
