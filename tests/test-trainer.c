/* test-trainer.c: whole runs of trainer_run (progress, cancellation, bit-exact resume,
 * fine-tuning from a model, refused options) and of `anatomy train --resume`. */
#include "nn-net.h"
#include "trainer.h"
#define TEST_UTIL_NN
#include "test-util.h"

#include <glib/gstdio.h>
#include <json-glib/json-glib.h>
#include <math.h>
#include <string.h>

#define TINY_GRID 16

static char *tmpdir;

/* ---- trainer_run: a whole run, its progress, cancellation and resume ------ */

typedef struct {
  GArray *steps;               /* gint64, as reported */
  GArray *losses;              /* double, total loss of each step */
  int n_validated;
  gint64 first_step;
  gint64 cancel_at;            /* cancel after this step (0: never) */
  GCancellable *cancellable;
} Seen;

static void
seen_init (Seen *s, gint64 cancel_at, GCancellable *cancellable)
{
  *s = (Seen) { .steps = g_array_new (FALSE, FALSE, sizeof (gint64)),
                .losses = g_array_new (FALSE, FALSE, sizeof (double)), .first_step = -1,
                .cancel_at = cancel_at, .cancellable = cancellable };
}

static void
seen_clear (Seen *s)
{
  g_array_unref (s->steps);
  g_array_unref (s->losses);
}

static void
record_progress (const TrainerProgress *p, gpointer data)
{
  Seen *s = data;
  g_assert_true (isfinite (p->loss.total) && p->loss.total > 0);
  g_assert_cmpfloat (p->lr, >, 0);
  g_assert_cmpfloat (p->seconds, <=, p->total_seconds);
  if (s->first_step < 0)
    s->first_step = p->first_step;
  g_assert_cmpint (p->first_step, ==, s->first_step);
  if (s->steps->len > 0)
    g_assert_cmpint (p->step, ==, g_array_index (s->steps, gint64, s->steps->len - 1) + 1);
  if (p->validated)
    {
      s->n_validated++;
      g_assert_cmpfloat (p->val_dice, >=, 0.0);
      g_assert_cmpfloat (p->val_dice, <=, 1.0);
    }
  g_array_append_val (s->steps, p->step);
  g_array_append_val (s->losses, p->loss.total);
  if (s->cancel_at > 0 && p->step == s->cancel_at)
    g_cancellable_cancel (s->cancellable);
}

/* a run of 6 steps on phantoms with a 2-level U-Net + skip on a 16³ grid, 2 threads */
static void
tiny_run_options (TrainerOptions *o, const char *out_name)
{
  trainer_options_init (o);
  o->out = g_build_filename (tmpdir, out_name, NULL);
  test_small_config (&o->config, NN_ARCH_UNET_SKIP, 2, 8, TINY_GRID);
  o->phantom = TRUE;
  o->seed = 11;
  o->steps = 6;
  o->threads = 2;
  o->warmup = 2;
  o->val_cases = 1;
  o->val_every = 3;
  o->checkpoint_every = 4;
  o->command = g_strdup ("test");
}

static NnNet *
load_net (const char *path)
{
  g_autoptr (GError) error = NULL;
  NnNet *net = nn_net_load (path, &error);
  g_assert_no_error (error);
  return net;
}

/* the files of @tmpdir are exactly @names (nothing half-written left behind) */
static void
assert_files (const char *const *names)
{
  g_autoptr (GDir) d = g_dir_open (tmpdir, 0, NULL);
  g_assert_nonnull (d);
  guint n = 0;
  for (const char *f; (f = g_dir_read_name (d)) != NULL; n++)
    if (!g_strv_contains (names, f))
      g_error ("unexpected file %s in %s", f, tmpdir);
  g_assert_cmpuint (n, ==, g_strv_length ((char **) names));
}

static void
remove_files (const char *const *names)
{
  for (int i = 0; names[i]; i++)
    {
      g_autofree char *p = g_build_filename (tmpdir, names[i], NULL);
      g_unlink (p);
    }
}

static void
test_trainer_progress (void)
{
  g_auto (TrainerOptions) o = { 0 };
  tiny_run_options (&o, "p.safetensors");
  o.log_path = g_build_filename (tmpdir, "p.tsv", NULL);
  Seen seen;
  seen_init (&seen, 0, NULL);
  TrainerSummary sum;
  g_autoptr (GError) error = NULL;
  g_assert_true (trainer_run (&o, record_progress, &seen, NULL, &sum, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (seen.steps->len, ==, 6);
  g_assert_cmpint (g_array_index (seen.steps, gint64, 0), ==, 1);
  g_assert_cmpint (seen.first_step, ==, 0);
  g_assert_cmpint (seen.n_validated, ==, 2);   /* after steps 3 and 6 */
  g_assert_cmpint (sum.steps, ==, 6);
  g_assert_false (sum.stopped_early);
  g_assert_cmpfloat (sum.val_dice, >=, 0.0);
  seen_clear (&seen);

  g_autoptr (NnNet) net = load_net (o.out);
  const char *prov = nn_net_get_metadata (net, "provenance");
  test_assert_contains (prov, "\"final\":true", "\"steps\":6", NULL);
  g_autofree char *log = NULL;
  g_assert_true (g_file_get_contents (o.log_path, &log, NULL, NULL));
  g_auto (GStrv) lines = g_strsplit (log, "\n", -1);
  g_assert_cmpuint (g_strv_length (lines), ==, 4);   /* header, steps 3 and 6, "" */
  g_assert_true (g_str_has_prefix (lines[0], "step\tloss"));
  g_assert_true (g_str_has_prefix (lines[2], "6\t"));
  const char *files[] = { "p.safetensors", "p.checkpoint.safetensors", "p.checkpoint.optim.safetensors",
                          "p.tsv", NULL };
  assert_files (files);
  remove_files (files);
}

static void
test_trainer_cancel_resume (void)
{
  g_autoptr (GError) error = NULL;
  /* uninterrupted */
  g_auto (TrainerOptions) a = { 0 };
  tiny_run_options (&a, "a.safetensors");
  Seen seen_a;
  seen_init (&seen_a, 0, NULL);
  g_assert_true (trainer_run (&a, record_progress, &seen_a, NULL, NULL, &error));
  g_assert_no_error (error);

  /* cancelled after step 3: a checkpoint at step 3 and no b.safetensors */
  g_autoptr (GCancellable) cancellable = g_cancellable_new ();
  g_auto (TrainerOptions) b = { 0 };
  tiny_run_options (&b, "b.safetensors");
  Seen seen_b;
  seen_init (&seen_b, 3, cancellable);
  g_assert_false (trainer_run (&b, record_progress, &seen_b, cancellable, NULL, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_clear_error (&error);
  g_assert_cmpuint (seen_b.steps->len, ==, 3);
  const char *cancelled[] = { "a.safetensors", "a.checkpoint.safetensors", "a.checkpoint.optim.safetensors",
                              "b.checkpoint.safetensors", "b.checkpoint.optim.safetensors", NULL };
  assert_files (cancelled);

  /* resumed: the settings come from the checkpoint */
  g_auto (TrainerOptions) c = { 0 };
  trainer_options_init (&c);
  c.out = g_strdup (b.out);
  c.resume = trainer_dup_checkpoint_path (b.out);
  c.threads = 2;
  c.command = g_strdup ("resumed");
  g_assert_true (trainer_options_load_checkpoint (&c, &error));
  g_assert_no_error (error);
  g_assert_true (c.phantom && c.data_dir == NULL);
  g_assert_cmpint (c.seed, ==, 11);
  g_assert_cmpint (c.steps, ==, 6);
  g_assert_cmpfloat (c.warmup, ==, 2);
  g_assert_cmpstr (c.command, ==, "test && resumed");
  Seen seen_c;
  seen_init (&seen_c, 0, NULL);
  TrainerSummary sum;
  g_assert_true (trainer_run (&c, record_progress, &seen_c, NULL, &sum, &error));
  g_assert_no_error (error);
  g_assert_cmpint (seen_c.first_step, ==, 3);
  g_assert_cmpuint (seen_c.steps->len, ==, 3);
  g_assert_cmpint (sum.steps, ==, 6);

  /* bit for bit the uninterrupted run: the losses of steps 4..6 and every parameter */
  for (guint i = 0; i < 3; i++)
    {
      g_assert_cmpint (g_array_index (seen_c.steps, gint64, i), ==, g_array_index (seen_a.steps, gint64, 3 + i));
      g_assert_true (g_array_index (seen_c.losses, double, i) == g_array_index (seen_a.losses, double, 3 + i));
    }
  for (guint i = 0; i < 3; i++)
    g_assert_true (g_array_index (seen_b.losses, double, i) == g_array_index (seen_a.losses, double, i));
  g_autoptr (NnNet) na = load_net (a.out);
  g_autoptr (NnNet) nc = load_net (c.out);
  test_assert_same_params (na, nc, "with trainer_run resumed after a cancellation");
  g_assert_nonnull (strstr (nn_net_get_metadata (nc, "provenance"), "\"command\":\"test && resumed\""));
  seen_clear (&seen_a);
  seen_clear (&seen_b);
  seen_clear (&seen_c);
  const char *all[] = { "a.safetensors", "a.checkpoint.safetensors", "a.checkpoint.optim.safetensors",
                        "b.safetensors", "b.checkpoint.safetensors", "b.checkpoint.optim.safetensors", NULL };
  assert_files (all);
  remove_files (all);
}

/* a run started from a trained model (--init) carries its weights over (with a zero
 * learning rate they stay bit for bit) and names it in its provenance */
static void
test_trainer_init (void)
{
  g_autoptr (GError) error = NULL;
  g_auto (TrainerOptions) a = { 0 };
  tiny_run_options (&a, "a.safetensors");
  g_assert_true (trainer_run (&a, NULL, NULL, NULL, NULL, &error));
  g_assert_no_error (error);

  g_auto (TrainerOptions) b = { 0 };
  tiny_run_options (&b, "b.safetensors");
  b.init = g_strdup (a.out);
  b.config = (NnConfig) { 0 };   /* the network comes from a.safetensors */
  b.seed = 12;
  b.steps = 2;
  b.lr = 0.0;
  g_assert_true (trainer_run (&b, NULL, NULL, NULL, NULL, &error));
  g_assert_no_error (error);
  g_autoptr (NnNet) na = load_net (a.out);
  g_autoptr (NnNet) nb = load_net (b.out);
  /* the learnt parameters; BatchNorm's running statistics go on averaging */
  int n_a, n_b;
  NnParam *pa = nn_net_get_params (na, &n_a), *pb = nn_net_get_params (nb, &n_b);
  g_assert_cmpint (n_a, ==, n_b);
  for (int i = 0; i < n_a; i++)
    if (!strstr (pa[i].name, ".running_") && memcmp (pa[i].data, pb[i].data, pa[i].n * sizeof (float)) != 0)
      g_error ("parameter %s differs after two steps at learning rate 0 from --init", pa[i].name);
  g_autoptr (JsonParser) parser = json_parser_new ();
  g_assert_true (json_parser_load_from_data (parser, nn_net_get_metadata (nb, "provenance"), -1, NULL));
  JsonObject *initial = json_object_get_object_member (json_node_get_object (json_parser_get_root (parser)),
                                                       "initial_weights");
  g_assert_nonnull (initial);
  g_assert_cmpstr (json_object_get_string_member (initial, "file"), ==, a.out);
  g_assert_cmpstr (json_object_get_string_member (json_object_get_object_member (initial, "provenance"), "command"),
                   ==, "test");

  /* not with --resume */
  b.resume = trainer_dup_checkpoint_path (a.out);
  g_assert_false (trainer_run (&b, NULL, NULL, NULL, NULL, &error));
  g_assert_error (error, TRAINER_ERROR, TRAINER_ERROR_OPTIONS);
  const char *all[] = { "a.safetensors", "a.checkpoint.safetensors", "a.checkpoint.optim.safetensors",
                        "b.safetensors", "b.checkpoint.safetensors", "b.checkpoint.optim.safetensors", NULL };
  assert_files (all);
  remove_files (all);
}

static void
test_trainer_options (void)
{
  g_auto (TrainerOptions) o = { 0 };
  tiny_run_options (&o, "never.safetensors");
  g_autoptr (GError) error = NULL;
  o.threads = 0;
  g_assert_false (trainer_run (&o, NULL, NULL, NULL, NULL, &error));
  g_assert_error (error, TRAINER_ERROR, TRAINER_ERROR_OPTIONS);
  g_clear_error (&error);
  o.threads = 1;
  o.p_sparse = 0.3;   /* only realistic runs draw sparsely labelled inputs */
  g_assert_false (trainer_run (&o, NULL, NULL, NULL, NULL, &error));
  g_assert_error (error, TRAINER_ERROR, TRAINER_ERROR_OPTIONS);
  g_assert_nonnull (strstr (error->message, "realistic"));
  g_clear_error (&error);
  o.p_sparse = 0;
  o.data_dir = g_strdup (tmpdir);   /* and phantom */
  g_assert_false (trainer_run (&o, NULL, NULL, NULL, NULL, &error));
  g_assert_error (error, TRAINER_ERROR, TRAINER_ERROR_OPTIONS);
  const char *none[] = { NULL };
  assert_files (none);
}

/* `anatomy train` itself: 6 steps in one go and 3 + --resume 3 give identical weights */
static void
run_anatomy (const char *const *args)
{
  g_autofree char *out = NULL, *err = NULL;
  if (!test_run_anatomy (args, &out, &err))
    g_error ("anatomy train failed: %s%s", out, err);
}

static void
test_cli_resume (void)
{
  if (test_anatomy_or_skip () == NULL)
    return;
  g_autofree char *full = g_build_filename (tmpdir, "full.safetensors", NULL);
  g_autofree char *part = g_build_filename (tmpdir, "part.safetensors", NULL);
  g_autofree char *part_ckpt = g_build_filename (tmpdir, "part.checkpoint.safetensors", NULL);
  const char *common[] = { "train", "--arch", "googlenet-skip", "--phantom", "--grid", "16", "--widths", "8,16",
                           "--blocks", "1", "--seed", "5", "--val-cases", "1", "--val-every", "2", "--threads", "2" };
  g_autoptr (GPtrArray) a = g_ptr_array_new ();
  for (gsize i = 0; i < G_N_ELEMENTS (common); i++)
    g_ptr_array_add (a, (gpointer) common[i]);
  const char *tail_full[] = { "--steps", "6", "--out", full, NULL };
  g_autoptr (GPtrArray) b = g_ptr_array_copy (a, NULL, NULL);
  for (int i = 0; tail_full[i]; i++)
    g_ptr_array_add (b, (gpointer) tail_full[i]);
  g_ptr_array_add (b, NULL);
  run_anatomy ((const char *const *) b->pdata);
  /* --max-minutes stops the run after its first step (of 6 planned) with a checkpoint */
  const char *tail_part[] = { "--steps", "6", "--checkpoint-every", "4", "--max-minutes", "1e-9", "--out", part, NULL };
  for (int i = 0; tail_part[i]; i++)
    g_ptr_array_add (a, (gpointer) tail_part[i]);
  g_ptr_array_add (a, NULL);
  run_anatomy ((const char *const *) a->pdata);
  const char *resume[] = { "train", "--resume", part_ckpt, "--threads", "2", "--out", part, NULL };
  run_anatomy (resume);

  g_autoptr (GError) error = NULL;
  g_autoptr (NnNet) nf = nn_net_load (full, &error);
  g_assert_no_error (error);
  g_autoptr (NnNet) np = nn_net_load (part, &error);
  g_assert_no_error (error);
  test_assert_same_params (nf, np, "with anatomy train --resume");
  /* the provenance records the command, seed and steps */
  const char *prov = nn_net_get_metadata (np, "provenance");
  g_assert_nonnull (prov);
  test_assert_contains (prov, "\"steps\":6", "\"seed\":5", "anatomy train --resume", NULL);
  g_autofree char *part_opt = g_build_filename (tmpdir, "part.checkpoint.optim.safetensors", NULL);
  g_autofree char *full_ckpt = g_build_filename (tmpdir, "full.checkpoint.safetensors", NULL);
  g_autofree char *full_opt = g_build_filename (tmpdir, "full.checkpoint.optim.safetensors", NULL);
  const char *files[] = { full, part, part_ckpt, part_opt, full_ckpt, full_opt };
  for (gsize i = 0; i < G_N_ELEMENTS (files); i++)
    g_unlink (files[i]);
}

static const TestCase test_cases[] = {
  { "/trainer/progress", test_trainer_progress },
  { "/trainer/cancel-resume", test_trainer_cancel_resume },
  { "/trainer/init", test_trainer_init },
  { "/trainer/options", test_trainer_options },
  { "/trainer/cli-resume", test_cli_resume },
};

TEST_UTIL_MAIN_TMPDIR (test_cases, "test-trainer-XXXXXX", NULL)
