/* test-train-augment.c: the simulated acquisitions of training (train-augment.h) and
 * the real subjects of `anatomy train --realistic`. */
#include "label-table.h"
#include "nifti.h"
#include "nn-net.h"
#include "nn-train.h"
#include "phantom.h"
#include "train-augment.h"

#include "test-util.h"

static char *tmpdir;

/* True when a voxel of @t within @r voxels (Chebyshev) of (x, y, z) of a cube of @g³
 * has label @l. */
static gboolean
label_within (const guint8 *t, int g, int x, int y, int z, int r, int l)
{
  for (int k = MAX (0, z - r); k <= MIN (g - 1, z + r); k++)
    for (int j = MAX (0, y - r); j <= MIN (g - 1, y + r); j++)
      for (int i = MAX (0, x - r); i <= MIN (g - 1, x + r); i++)
        if (t[(k * g + j) * g + i] == l)
          return TRUE;
  return FALSE;
}

/* A real subject whose source labels no pulmonary artery is not taken to have none: its
 * target is "background or artery" around the heart (60 mm, so within 7 voxels of 12 mm
 * after up to 15 % scaling and rotation), and a subject that labels the artery has no
 * such voxel. */
static void
test_augment_unlabelled_artery (void)
{
  g_autoptr (GError) error = NULL;
  PhantomParams pp;
  phantom_params_init (&pp);
  pp.seed = 11;
  for (int a = 0; a < 3; a++)
    pp.grid[a] = 80, pp.spacing[a] = 5.0;
  g_autoptr (LabelVolume) body = phantom_generate (&pp, &error);
  g_assert_no_error (error);
  LabelVolume *without = phantom_remove_labels (body, 1u << LT_PULMONARY_ARTERY, &error);
  g_assert_no_error (error);
  g_autoptr (TrainSubjects) with_pa = train_subjects_new ();
  g_autoptr (TrainSubjects) without_pa = train_subjects_new ();
  g_assert_true (train_subjects_add (with_pa, lv_volume_dup (body), "with", &error));
  g_assert_true (train_subjects_add (without_pa, without, "without", &error));
  TrainAugmentOptions o;
  train_augment_options_init (&o);
  o.noise = 0;
  enum { G = 32 };
  const int grid[3] = { G, G, G };
  const int64_t n = G * G * G;
  g_autofree float *input = g_new (float, n * LT_N_CLASSES);
  g_autofree guint8 *ta = g_new (guint8, n), *tb = g_new (guint8, n);
  guint32 removed;
  int64_t pa = 0, either = 0, background = 0;
  for (guint64 index = 0; index < 3; index++)
    {
      g_assert_true (train_augment_sample (with_pa, &o, 5, index, 0, grid, 12.0, LT_N_CLASSES, input, ta, NULL,
                                           &removed, &error));
      g_assert_true (train_augment_sample (without_pa, &o, 5, index, 0, grid, 12.0, LT_N_CLASSES, input, tb,
                                           NULL, &removed, &error));
      g_assert_no_error (error);
      for (int64_t q = 0; q < n; q++)
        {
          g_assert_cmpint (ta[q], !=, NN_LOSS_BACKGROUND_OR);
          g_assert_cmpint (tb[q], !=, LT_PULMONARY_ARTERY);
          pa += ta[q] == LT_PULMONARY_ARTERY;
          background += tb[q] == 0;
          if (tb[q] == NN_LOSS_BACKGROUND_OR)
            {
              either++;
              g_assert_true (label_within (tb, G, (int) (q % G), (int) (q / G % G), (int) (q / (G * G)), 7, LT_HEART));
            }
        }
    }
  g_test_message ("%" G_GINT64_FORMAT " artery voxels with it; without it %" G_GINT64_FORMAT
                  " background-or-artery voxels beside %" G_GINT64_FORMAT " background",
                  pa, either, background);
  g_assert_cmpint (pa, >, 20);
  g_assert_cmpint (either, >, 2 * pa);
  g_assert_cmpint (either, <, background / 5);
}

/* One phantom-only sample (seed 9, a 32³ cube of 14 mm voxels) and its buffers. */
enum { SG = 32, SN = SG * SG * SG };
typedef struct {
  float input[(gsize) SN * LT_N_CLASSES];
  guint8 target[SN], partial[SN];
  guint32 removed;
} PhantomSample;

static void
draw_phantom_sample (const TrainAugmentOptions *o, guint64 index, PhantomSample *s)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (TrainSubjects) none = train_subjects_new ();
  const int grid[3] = { SG, SG, SG };
  g_assert_true (train_augment_sample (none, o, 9, index, -1, grid, 14.0, LT_N_CLASSES, s->input, s->target,
                                       s->partial, &s->removed, &error));
  g_assert_no_error (error);
}

/* A clean acquisition (--p-clean) sees the phantom as the benchmark's phantoms are: the
 * partial input is the target without its removed organs (no holes, islands or cuts), up
 * to the majority-vote sampling at organ boundaries (0.90 here at 14 mm, against 0.64 for
 * the usual acquisitions). */
static void
test_augment_clean (void)
{
  g_autofree PhantomSample *s = g_new (PhantomSample, 1);
  double agree[2] = { 0, 0 };
  for (int clean = 0; clean < 2; clean++)
    {
      TrainAugmentOptions o;
      train_augment_options_init (&o);
      o.p_clean = clean;
      for (guint64 index = 0; index < 4; index++)
        {
          draw_phantom_sample (&o, index, s);
          int64_t same = 0, organ = 0;
          for (int64_t q = 0; q < SN; q++)
            {
              int expect = (s->removed >> s->target[q]) & 1u ? 0 : s->target[q];
              organ += expect != 0;
              same += expect != 0 && s->partial[q] == expect;
            }
          agree[clean] += (double) same / (double) MAX (organ, 1) / 4;
        }
    }
  g_test_message ("kept organ voxels seen as such: %.3f acquired clean, %.3f as usual", agree[1], agree[0]);
  g_assert_cmpfloat (agree[1], >, 0.85);
  g_assert_cmpfloat (agree[1], >, agree[0] + 0.1);
}

/* A sparsely labelled input (--p-sparse) lacks what sparser sources never label: always
 * the autochthon muscles, sometimes the skeleton too, sometimes everything but the
 * abdominal organs; the target keeps all of them, and the organs that are neither removed
 * nor dropped stay in the input. */
static void
test_augment_sparse (void)
{
  g_autofree PhantomSample *s = g_new (PhantomSample, 1);
  TrainAugmentOptions o;
  train_augment_options_init (&o);
  o.p_sparse = 1;
  int no_skeleton = 0, abdomen_only = 0;
  for (guint64 index = 0; index < 12; index++)
    {
      draw_phantom_sample (&o, index, s);
      int64_t in[LT_N_CLASSES] = { 0 }, want[LT_N_CLASSES] = { 0 };
      for (int64_t q = 0; q < SN; q++)
        {
          in[s->partial[q]]++;
          want[s->target[q] < LT_N_CLASSES ? s->target[q] : 0]++;
        }
      g_assert_cmpint (in[LT_AUTOCHTHON], ==, 0);
      g_assert_cmpint (want[LT_AUTOCHTHON], >, 0);
      gboolean skeleton = in[LT_SPINE] > 0 || in[LT_RIB_CAGE] > 0;
      g_assert_true (skeleton || want[LT_SPINE] > 0);
      no_skeleton += !skeleton;
      abdomen_only += !skeleton && in[LT_LUNG] == 0 && want[LT_LUNG] > 0;
      /* an abdominal organ neither removed nor dropped is still in the input */
      for (int c = LT_SPLEEN; c <= LT_AORTA; c++)
        if (c != LT_SPINE && c != LT_RIB_CAGE && !((s->removed >> c) & 1u) && want[c] > 100)
          g_assert_cmpint (in[c], >, 0);
    }
  g_test_message ("12 samples: %d without skeleton, %d of them only the abdominal organs", no_skeleton, abdomen_only);
  g_assert_cmpint (no_skeleton, >=, 2);
  g_assert_cmpint (abdomen_only, >=, 1);
  g_assert_cmpint (no_skeleton, <, 12);
}

/* `anatomy train --realistic`: --real and --val-real given several times all count (the
 * provenance names every subject), as do comma-separated lists. */
static void
test_cli_real_repeated (void)
{
  if (test_anatomy_or_skip () == NULL)
    return;
  g_autoptr (GError) error = NULL;
  const char *names[3] = { "a.nii.gz", "b.nii.gz", "c.nii.gz" };
  char *paths[3];
  for (int i = 0; i < 3; i++)
    {
      PhantomParams pp;
      phantom_params_init (&pp);
      pp.seed = 20 + (guint64) i;
      for (int a = 0; a < 3; a++)
        pp.grid[a] = 48, pp.spacing[a] = 9.0;
      g_autoptr (LabelVolume) v = phantom_generate (&pp, &error);
      g_assert_no_error (error);
      paths[i] = g_build_filename (tmpdir, names[i], NULL);
      g_assert_true (nifti_write (v, paths[i], 0, &error));
      g_assert_no_error (error);
    }
  g_autofree char *both = g_strdup_printf ("%s,%s", paths[0], paths[1]);
  g_autofree char *out = g_build_filename (tmpdir, "m.safetensors", NULL);
  const char *args[] = { "train", "--arch", "unet", "--realistic", "--real", paths[0], "--real", paths[1],
                         "--val-real", paths[2], "--grid", "16", "--widths", "4,8", "--blocks", "1", "--steps", "1",
                         "--val-cases", "0", "--out", out, NULL };
  g_autofree char *o1 = NULL, *e1 = NULL;
  g_assert_true (test_run_anatomy (args, &o1, &e1));
  g_autoptr (NnNet) net = nn_net_load (out, &error);
  g_assert_no_error (error);
  const char *prov = nn_net_get_metadata (net, "provenance");
  g_assert_nonnull (prov);
  g_autofree char *subjects = g_strdup_printf ("the real subjects %s", both);
  test_assert_contains (prov, subjects, NULL);
  /* one comma-separated list is the same */
  const char *args2[] = { "train", "--arch", "unet", "--realistic", "--real", both, "--val-real", paths[2],
                          "--grid", "16", "--widths", "4,8", "--blocks", "1", "--steps", "1", "--val-cases", "0",
                          "--out", out, "--force", NULL };
  g_autofree char *o2 = NULL, *e2 = NULL;
  g_assert_true (test_run_anatomy (args2, &o2, &e2));
  g_autoptr (NnNet) net2 = nn_net_load (out, &error);
  g_assert_no_error (error);
  test_assert_contains (nn_net_get_metadata (net2, "provenance"), subjects, NULL);
  for (int i = 0; i < 3; i++)
    g_free (paths[i]);
}

static const TestCase test_cases[] = {
  { "/train-augment/unlabelled-artery", test_augment_unlabelled_artery },
  { "/train-augment/clean", test_augment_clean },
  { "/train-augment/sparse", test_augment_sparse },
  { "/train-augment/cli-real-repeated", test_cli_real_repeated },
};

TEST_UTIL_MAIN_TMPDIR (test_cases, "test-train-augment-XXXXXX", NULL)
