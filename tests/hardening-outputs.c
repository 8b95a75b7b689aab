/* hardening-outputs.c: one rule for every output (OutSet, --force) and no litter after
 * interrupted writes (see test-hardening.c). */
#include "hardening.h"

/* ---- one rule for every output (issue 14, items 5, 6, 7) ---- */

void
write_text (const char *path, const char *text)
{
  g_assert_true (g_file_set_contents (path, text, -1, NULL));
}

void
assert_text (const char *path, const char *text)
{
  g_autofree char *now = NULL;
  g_assert_true (g_file_get_contents (path, &now, NULL, NULL));
  g_assert_cmpstr (now, ==, text);
}

/* Files of several MiB, written through the stream and through out_file_write() in
 * uneven pieces (the writer asks the disk to start early every few MiB), come back byte
 * for byte. */
void
test_out_file_large_round_trip (void)
{
  g_autofree char *dir = fresh_dir ("large");
  const gsize n = (10u << 20) + 12345;
  g_autofree guint8 *data = g_malloc (n);
  guint32 x = 2463534242u;
  for (gsize i = 0; i < n; i++)
    {
      x ^= x << 13, x ^= x >> 17, x ^= x << 5;
      data[i] = (guint8) x;
    }
  for (int use_stream = 0; use_stream < 2; use_stream++)
    {
      g_autofree char *path = g_build_filename (dir, use_stream ? "stream.bin" : "raw.bin", NULL);
      g_autoptr (GError) error = NULL;
      OutFile *f = out_file_open (path, OUT_FILE_PLAIN, &error);
      g_assert_no_error (error);
      FILE *s = use_stream ? out_file_get_stream (f) : NULL;
      for (gsize done = 0, piece = 1; done < n; done += piece, piece = piece * 3 + 7)
        {
          piece = MIN (piece, n - done);
          if (s)
            g_assert_cmpuint (fwrite (data + done, 1, piece, s), ==, piece);
          else
            g_assert_true (out_file_write (f, data + done, piece, &error));
        }
      g_assert_true (out_file_commit (f, FALSE, &error));
      g_assert_no_error (error);
      g_autofree char *back = NULL;
      gsize len = 0;
      g_assert_true (g_file_get_contents (path, &back, &len, NULL));
      g_assert_cmpuint (len, ==, n);
      g_assert_true (memcmp (back, data, n) == 0);
    }
}

/* The set itself: inputs by device and inode, outputs distinct, folders and devices never
 * replaced, existing files only with overwrite, and a commit that is all or nothing. */
void
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
  test_assert_message_has (error, nowhere, "does not exist", NULL);
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
void
test_cli_render_outputs (void)
{
  if (test_anatomy_or_skip () == NULL)
    return;
  g_autofree char *dir = fresh_dir ("render-out");
  g_autofree char *in = g_build_filename (dir, "scan.nii.gz", NULL);
  g_autofree char *png = g_build_filename (dir, "scan.png", NULL);
  g_autoptr (GError) error = NULL;
  write_ball (in, 12, 4);
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
void
test_cli_complete_outputs (void)
{
  if (test_anatomy_or_skip () == NULL)
    return;
  g_autofree char *dir = fresh_dir ("complete-out");
  g_autofree char *model = g_build_filename (dir, "m.safetensors", NULL);
  g_autofree char *in = g_build_filename (dir, "in.nii.gz", NULL);
  g_autofree char *hard = g_build_filename (dir, "link.nii.gz", NULL);
  g_autofree char *out = g_build_filename (dir, "out.nii.gz", NULL);
  g_autofree char *p = g_build_filename (dir, "p.nii.gz", NULL);
  g_autofree char *p_nowhere = g_build_filename (dir, "missing", "p.nii.gz", NULL);
  g_autoptr (GError) error = NULL;
  write_tiny_net (model, 2, 8);
  write_ball (in, 10, 3);
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
  /* the probabilities: one float volume per organ (12), which no label reader takes */
  g_autoptr (LabelVolume) pr = nifti_read (p, NULL, &error);
  g_assert_null (pr);
  g_assert_nonnull (error);
  g_assert_nonnull (strstr (error->message, "10x10x10x12"));
  g_clear_error (&error);
  g_autofree char *listing = dir_listing (dir);
  g_assert_cmpstr (listing, ==, "in.nii.gz link.nii.gz m.safetensors out.nii.gz p.nii.gz");
}

/* convert, mesh, phantom, init-model, train and eval: an existing output only with
 * --force, never an input. */
void
test_cli_force_everywhere (void)
{
  if (test_anatomy_or_skip () == NULL)
    return;
  g_autofree char *dir = fresh_dir ("force");
  g_autofree char *in = g_build_filename (dir, "in.nii", NULL);
  g_autofree char *taken = g_build_filename (dir, "taken.stl", NULL);
  g_autofree char *model = g_build_filename (dir, "taken.safetensors", NULL);
  g_autofree char *json = g_build_filename (dir, "taken.json", NULL);
  g_autofree char *ph = g_build_filename (dir, "ph", NULL);
  g_autofree char *ph_table = g_build_filename (ph, "demo_complete_labels.txt", NULL);
  write_ball (in, 10, 3);
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
void
test_cli_interrupted_writes_leave_nothing (void)
{
  const char *anatomy = test_anatomy_or_skip ();
  if (anatomy == NULL)
    return;
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
void
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
  write_ball (out, 6, 2);
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

/* Mask folders under the same rules, on the command line: a folder's masks are inputs, an
 * existing folder with other files is no output, a folder output is checked with the others
 * before any work and nothing (not even the folder) is made when one is refused. */
void
test_cli_mask_folder_outputs (void)
{
  if (test_anatomy_or_skip () == NULL)
    return;
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
  write_tiny_net (model, 2, 8);
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
