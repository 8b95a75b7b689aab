/* test-nn-net.c: model files (round trip, mismatches, hostile safetensors), memory
 * planning, cancellation, and completion on volumes made in memory. */
#include "completion.h"
#include "completion-frame.h"
#include "label-table.h"
#include "nn-net.h"
#include "nn-safetensors.h"
#define TEST_UTIL_NN
#include "test-util.h"

#include <glib/gstdio.h>
#include <math.h>
#include <string.h>

static char *tmpdir;

static NnNet *
tiny_net (NnArch arch, guint64 seed)
{
  NnConfig cfg;
  nn_config_init_default (&cfg, arch);
  cfg.depth = 3;
  cfg.widths[0] = 4;
  cfg.widths[1] = 8;
  cfg.widths[2] = 8;
  cfg.blocks = 1;
  cfg.grid[0] = 16;
  cfg.grid[1] = 12;
  cfg.grid[2] = 8;
  return test_random_net (&cfg, seed);
}

static void
fill_input (NnNet *net, int64_t n, guint seed)
{
  float *x = nn_net_get_input (net);
  GRand *r = g_rand_new_with_seed (seed);
  memset (x, 0, 13 * n * sizeof (float));
  for (int64_t i = 0; i < n; i++)
    x[g_rand_int_range (r, 0, 13) * n + i] = 1.0f;
  g_rand_free (r);
}

static void
test_roundtrip (void)
{
  for (int a = 0; a < NN_N_ARCHS; a++)
    {
      g_autoptr (NnNet) net = tiny_net ((NnArch) a, 5);
      g_autoptr (GError) error = NULL;
      g_autofree char *path = g_build_filename (tmpdir, "rt.safetensors", NULL);
      nn_net_set_metadata (net, "provenance", "{\"seed\": 5}");
      g_assert_true (nn_net_save (net, path, TRUE, &error));
      g_assert_false (nn_net_save (net, path, FALSE, &error));   /* never overwrites unasked */
      g_assert_error (error, NN_ST_ERROR, NN_ST_ERROR_EXISTS);
      g_clear_error (&error);
      g_autoptr (NnNet) back = nn_net_load (path, &error);
      g_assert_no_error (error);
      g_assert_cmpint (nn_net_get_config (back)->arch, ==, a);
      g_assert_cmpint (nn_net_get_config (back)->grid[1], ==, 12);
      g_assert_cmpstr (nn_net_get_metadata (back, "provenance"), ==, "{\"seed\": 5}");
      /* a new network names its classes after the built-in label table, and the file keeps them */
      for (int c = 0; c < LT_N_CLASSES; c++)
        g_assert_cmpstr (nn_net_get_class_name (back, c), ==, lt_default_class_name (c));
      g_assert_cmpstr (nn_net_get_class_name (back, LT_AUTOCHTHON), ==, "autochthon muscles");
      int n1, n2;
      NnParam *p1 = nn_net_get_params (net, &n1), *p2 = nn_net_get_params (back, &n2);
      g_assert_cmpint (n1, ==, n2);
      for (int i = 0; i < n1; i++)
        {
          g_assert_cmpstr (p1[i].name, ==, p2[i].name);
          g_assert_cmpmem (p1[i].data, p1[i].n * 4, p2[i].data, p2[i].n * 4);
        }
      /* the same seed gives the same weights; another seed does not */
      g_autoptr (NnNet) same = tiny_net ((NnArch) a, 5), other = tiny_net ((NnArch) a, 6);
      NnParam *ps = nn_net_get_params (same, &n2), *po = nn_net_get_params (other, &n2);
      g_assert_cmpmem (ps[0].data, ps[0].n * 4, p1[0].data, p1[0].n * 4);
      g_assert_true (memcmp (po[0].data, p1[0].data, p1[0].n * 4) != 0);
    }
}

/* Writes a model of @arch but with the tensors edited by @edit. */
static char *
write_edited (const char *name, NnNet *net, void (*edit) (NnStEntry *e, int *n))
{
  int n;
  NnParam *p = nn_net_get_params (net, &n);
  NnStEntry *e = g_new0 (NnStEntry, n + 1);
  for (int i = 0; i < n; i++)
    {
      e[i].name = p[i].name;
      e[i].ndim = p[i].ndim;
      memcpy (e[i].shape, p[i].shape, sizeof p[i].shape);
      e[i].data = p[i].data;
    }
  edit (e, &n);
  const char *meta[] = { "format", NN_FORMAT_NAME, "format_version", "1", "arch", "unet-skip",
                         "in_channels", "13", "n_classes", "13", "depth", "3", "widths", "4,8,8",
                         "blocks", "1", "activation", "relu", "bn_eps", "1e-05", "grid", "16,12,8",
                         "labels", "[{\"id\":0,\"name\":\"bg\"},{\"id\":1,\"name\":\"a\"},{\"id\":2,\"name\":\"b\"},"
                         "{\"id\":3,\"name\":\"c\"},{\"id\":4,\"name\":\"d\"},{\"id\":5,\"name\":\"e\"},"
                         "{\"id\":6,\"name\":\"f\"},{\"id\":7,\"name\":\"g\"},{\"id\":8,\"name\":\"h\"},"
                         "{\"id\":9,\"name\":\"i\"},{\"id\":10,\"name\":\"j\"},{\"id\":11,\"name\":\"k\"},"
                         "{\"id\":12,\"name\":\"l\"}]", NULL };
  char *path = g_build_filename (tmpdir, name, NULL);
  g_autoptr (GError) error = NULL;
  g_assert_true (nn_st_save (path, meta, e, n, TRUE, &error));
  g_free (e);
  return path;
}

static void edit_none (NnStEntry *e, int *n) { }
static void edit_drop (NnStEntry *e, int *n) { e[2] = e[--(*n)]; }   /* drops enc.0.0.bn.bias */
static void edit_shape (NnStEntry *e, int *n) { e[0].shape[1] = 12; e[0].ndim = 5; }
static float extra_data[3];
static void edit_extra (NnStEntry *e, int *n)
{
  e[*n].name = "bogus.weight";
  e[*n].ndim = 1;
  e[*n].shape[0] = 3;
  e[*n].data = extra_data;
  (*n)++;
}

static void
test_mismatch (void)
{
  g_autoptr (NnNet) net = tiny_net (NN_ARCH_UNET_SKIP, 1);
  g_autoptr (GError) error = NULL;
  g_autofree char *ok = write_edited ("ok.safetensors", net, edit_none);
  g_autoptr (NnNet) loaded = nn_net_load (ok, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (nn_net_get_class_name (loaded, 1), ==, "a");

  struct { void (*edit) (NnStEntry *, int *); const char *expect; } cases[] = {
    { edit_drop, "missing tensor enc.0.0.bn.bias" },
    { edit_shape, "tensor enc.0.0.conv.weight has shape [4, 12, 3, 3, 3], expected [4, 13, 3, 3, 3]" },
    { edit_extra, "unexpected tensor bogus.weight" },
  };
  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autofree char *p = write_edited ("bad.safetensors", net, cases[i].edit);
      g_autoptr (NnNet) bad = nn_net_load (p, &error);
      g_assert_null (bad);
      g_assert_error (error, NN_ERROR, NN_ERROR_MISMATCH);
      g_test_message ("%s", error->message);
      g_assert_nonnull (strstr (error->message, cases[i].expect));
      g_clear_error (&error);
    }
}

static void
expect_bad (const char *what, const void *data, gsize len, int domain_code)
{
  g_autoptr (GBytes) b = g_bytes_new (data, len);
  g_autoptr (GError) error = NULL;
  g_autoptr (NnStFile) f = nn_st_file_parse (b, what, &error);
  g_assert_null (f);
  g_assert_error (error, NN_ST_ERROR, domain_code);
  g_test_message ("%s -> %s", what, error->message);
}

static GByteArray *
st_bytes (guint64 hlen_field, const char *json, gsize data_len)
{
  GByteArray *a = g_byte_array_new ();
  guint8 l[8];
  for (int i = 0; i < 8; i++)
    l[i] = (guint8) (hlen_field >> (8 * i));
  g_byte_array_append (a, l, 8);
  g_byte_array_append (a, (const guint8 *) json, (guint) strlen (json));
  for (gsize i = 0; i < data_len; i++)
    g_byte_array_append (a, (const guint8 *) "\0", 1);
  return a;
}

static void
test_hostile (void)
{
  const char *good = "{\"a\":{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[0,16]}}";
  g_autoptr (GByteArray) ok = st_bytes (strlen (good), good, 16);
  g_autoptr (GBytes) okb = g_bytes_new (ok->data, ok->len);
  g_autoptr (GError) error = NULL;
  g_autoptr (NnStFile) f = nn_st_file_parse (okb, "good", &error);
  g_assert_no_error (error);
  g_assert_cmpint (nn_st_file_lookup (f, "a")->n_elements, ==, 4);

  expect_bad ("short", "abc", 3, NN_ST_ERROR_FORMAT);
  struct { guint64 hlen; const char *json; gsize data; } cases[] = {
    { 1ull << 40, good, 16 },                                      /* huge header length */
    { 200, good, 16 },                                             /* header longer than file */
    { 1, good, 16 },                                               /* one-byte header */
    { 0, "{\"a\":{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[0,16]}}", 8 },  /* truncated data */
    { 0, "{\"a\":{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[0,99999999999]}}", 16 },
    { 0, "{\"a\":{\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[0,16]}}", 16 },   /* size lie */
    { 0, "{\"a\":{\"dtype\":\"F32\",\"shape\":[4611686018427387904,8],\"data_offsets\":[0,16]}}", 16 },
    { 0, "{\"a\":{\"dtype\":\"F32\",\"shape\":[-2,-2],\"data_offsets\":[0,16]}}", 16 },
    { 0, "{\"a\":{\"dtype\":\"X9\",\"shape\":[2,2],\"data_offsets\":[0,16]}}", 16 },
    { 0, "{\"a\":{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[8,24]}}", 24 },    /* hole */
    { 0, "{\"a\":{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[0,16]},"
         "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,16]}}", 16 },         /* overlap */
    { 0, "{\"a\":{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[0,16]}}", 20 },   /* trailing */
    { 0, "{\"a\":{\"dtype\":\"F32\",\"shape\":\"2\",\"data_offsets\":[0,16]}}", 16 },
    { 0, "{\"a\":{\"dtype\":\"F32\",\"shape\":[2.5,2],\"data_offsets\":[0,16]}}", 16 },
    { 0, "{\"__metadata__\":{\"k\":3}}", 0 },
    { 0, "[1,2,3]", 0 },
    { 0, "{\"a\":", 0 },
  };
  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      guint64 h = cases[i].hlen ? cases[i].hlen : strlen (cases[i].json);
      g_autoptr (GByteArray) a = st_bytes (h, cases[i].json, cases[i].data);
      g_autofree char *what = g_strdup_printf ("hostile case %zu", i);
      expect_bad (what, a->data, a->len, NN_ST_ERROR_FORMAT);
    }
  /* a file that is not a model at all */
  g_autofree char *p = g_build_filename (tmpdir, "plain.safetensors", NULL);
  g_assert_true (g_file_set_contents (p, (const char *) ok->data, ok->len, NULL));
  g_autoptr (NnNet) net = nn_net_load (p, &error);
  g_assert_null (net);
  g_assert_error (error, NN_ERROR, NN_ERROR_CONFIG);
  g_clear_error (&error);
  net = nn_net_load ("/nonexistent/model.safetensors", &error);
  g_assert_error (error, NN_ST_ERROR, NN_ST_ERROR_IO);
}

static void
test_plan (void)
{
  /* shared buffers give the same result as separate ones, with less memory */
  for (int a = 0; a < NN_N_ARCHS; a++)
    {
      g_autoptr (NnNet) net = tiny_net ((NnArch) a, 9);
      g_autoptr (GError) error = NULL;
      const int64_t n = 8 * 12 * 16;
      g_assert_true (nn_net_prepare (net, 8, 12, 16, 1, NN_PREPARE_KEEP_ALL, &error));
      fill_input (net, n, 3);
      g_assert_true (nn_net_forward (net, NULL, NULL, NULL, &error));
      gsize keep = nn_net_get_activation_bytes (net);
      g_autofree float *ref = g_memdup2 (nn_net_get_output (net), 13 * n * sizeof (float));
      /* the shared memory plan gives the same bits on the same threads */
      g_assert_true (nn_net_prepare (net, 8, 12, 16, 1, NN_PREPARE_DEFAULT, &error));
      fill_input (net, n, 3);
      g_assert_true (nn_net_forward (net, NULL, NULL, NULL, &error));
      gsize shared = nn_net_get_activation_bytes (net);
      g_test_message ("%s: activations %zu bytes kept, %zu shared", nn_arch_to_string (a), keep, shared);
      g_assert_cmpuint (shared, <, keep);
      g_assert_cmpmem (nn_net_get_output (net), 13 * n * sizeof (float), ref, 13 * n * sizeof (float));
      /* two threads split the products differently: equal up to float rounding */
      g_assert_true (nn_net_prepare (net, 8, 12, 16, 2, NN_PREPARE_DEFAULT, &error));
      fill_input (net, n, 3);
      g_assert_true (nn_net_forward (net, NULL, NULL, NULL, &error));
      float max_diff = 0;
      for (int64_t i = 0; i < 13 * n; i++)
        max_diff = MAX (max_diff, fabsf (nn_net_get_output (net)[i] - ref[i]));
      g_test_message ("%s: 1 vs 2 threads, max difference %g", nn_arch_to_string (a), max_diff);
      g_assert_cmpfloat (max_diff, <, 1e-5f);
      /* probabilities sum to one */
      const float *p = nn_net_get_output (net);
      for (int64_t i = 0; i < n; i += 97)
        {
          double s = 0;
          for (int c = 0; c < 13; c++)
            s += p[c * n + i];
          g_assert_cmpfloat_with_epsilon (s, 1.0, 1e-5);
        }
      /* grids that do not divide by 2^(depth-1) are refused */
      g_assert_false (nn_net_prepare (net, 8, 12, 10, 1, NN_PREPARE_DEFAULT, &error));
      g_assert_error (error, NN_ERROR, NN_ERROR_GRID);
    }
}

static void
cancel_after (double fraction, const char *layer, gpointer data)
{
  if (fraction > 0.3)
    g_cancellable_cancel (data);
}

static void
test_cancel (void)
{
  g_autoptr (NnNet) net = tiny_net (NN_ARCH_GOOGLENET_SKIP, 2);
  g_autoptr (GError) error = NULL;
  g_autoptr (GCancellable) c = g_cancellable_new ();
  g_assert_true (nn_net_prepare (net, 8, 12, 16, 1, NN_PREPARE_DEFAULT, &error));
  g_assert_false (nn_net_forward (net, cancel_after, c, c, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
}

typedef struct {
  double last;
  int calls;
} Progress;

static void
progress_cb (double fraction, const char *stage, gpointer data)
{
  Progress *p = data;
  g_assert_cmpfloat (fraction, >=, p->last - 1e-9);
  p->last = fraction;
  p->calls++;
}

/* Boxes of label L added to an empty input: a big one, a twin of 60 % (kept: paired
 * organs), a 5 % piece (dropped), and a one-voxel piece touching only diagonally. */
static void
test_fragments (void)
{
  double sp[3] = { 1, 1, 1 };
  g_autoptr (GError) error = NULL;
  g_autoptr (LabelVolume) in = lv_volume_new (30, 20, 10, sp, 1, &error);
  g_autoptr (LabelVolume) out = lv_volume_new (30, 20, 10, sp, 1, &error);
  g_assert_no_error (error);
  const struct { int x0, x1, y0, y1, z0, z1, label; } box[] = {
    { 0, 10, 0, 10, 0, 10, 3 },     /* 1000 voxels */
    { 12, 18, 0, 10, 0, 10, 3 },    /* 600: kept */
    { 20, 25, 0, 10, 0, 1, 3 },     /* 50 < 100: dropped */
    { 10, 11, 10, 11, 0, 1, 3 },    /* 1 voxel, diagonal to the first box: dropped */
    { 0, 2, 15, 20, 0, 2, 5 },      /* 20 voxels, the only piece of label 5: kept */
    { 26, 30, 0, 20, 0, 10, 4 },    /* label 4 in the input: never touched */
  };
  int64_t added[13] = { 0 };
  for (guint b = 0; b < G_N_ELEMENTS (box); b++)
    for (int z = box[b].z0; z < box[b].z1; z++)
      for (int y = box[b].y0; y < box[b].y1; y++)
        for (int x = box[b].x0; x < box[b].x1; x++)
          {
            lv_volume_set (out, x, y, z, box[b].label);
            if (box[b].label == 4)
              lv_volume_set (in, x, y, z, 4);
            else
              added[box[b].label]++;
          }
  g_assert_true (completion_drop_fragments (in, out, COMPLETION_FRAGMENT_FRACTION, added, 13, &error));
  g_assert_cmpint (added[3], ==, 1600);
  g_assert_cmpint (added[5], ==, 20);
  g_assert_cmpint (lv_volume_get (out, 5, 5, 5), ==, 3);
  g_assert_cmpint (lv_volume_get (out, 15, 5, 5), ==, 3);
  g_assert_cmpint (lv_volume_get (out, 22, 5, 0), ==, 0);
  g_assert_cmpint (lv_volume_get (out, 10, 10, 0), ==, 0);
  g_assert_cmpint (lv_volume_get (out, 1, 16, 1), ==, 5);
  g_assert_cmpint (lv_volume_get (out, 27, 5, 5), ==, 4);
}

static void
test_completion (void)
{
  g_autoptr (NnNet) net = tiny_net (NN_ARCH_UNET_SKIP, 11);
  g_autoptr (GError) error = NULL;
  double sp[3] = { 1.5, 1.0, 2.0 };
  /* an input grid unlike the network's (16 x 12 x 8): 37 x 23 x 19, labels 0..12 plus 40 */
  g_autoptr (LabelVolume) in = lv_volume_new (37, 23, 19, sp, 1, &error);
  g_assert_no_error (error);
  for (int64_t i = 0; i < lv_volume_n_voxels (in); i++)
    lv_volume_set_index (in, i, (i % 5 == 0) ? (int32_t) (i % 13) : (i % 97 == 0 ? 40 : 0));
  /* the fragment step is tested on its own (test_fragments) and against scipy */
  CompletionOptions opt = { .n_threads = 2, .progress = progress_cb, .keep_fragments = TRUE };
  Progress prog = { 0 };
  opt.progress_data = &prog;
  int64_t added[COMPLETION_MAX_CLASSES];
  g_autoptr (CompletionProbs) kept = NULL;
  opt.added = added;
  opt.probs_out = &kept;
  opt.selected[2] = TRUE;
  opt.selected[9] = TRUE;
  g_autoptr (LabelVolume) out = completion_run (net, in, &opt, NULL, &error);
  g_assert_no_error (error);
  g_assert_nonnull (kept);
  g_assert_cmpfloat (prog.last, ==, 1.0);
  g_assert_cmpint (prog.calls, >, 5);
  g_assert_cmpint (out->nx, ==, 37);
  int64_t n_added = 0;
  for (int64_t i = 0; i < lv_volume_n_voxels (in); i++)
    {
      int32_t a = lv_volume_get_index (in, i), b = lv_volume_get_index (out, i);
      if (a != 0)
        g_assert_cmpint (b, ==, a);                 /* labelled voxels keep their label */
      else if (b != 0)
        {
          g_assert_true (b == 2 || b == 9);   /* only selected organs are added */
          n_added++;
        }
    }
  g_assert_cmpint (n_added, ==, added[2] + added[9]);
  g_test_message ("completion added %" G_GINT64_FORMAT " voxels", n_added);

  /* reference for the parallel merge: the network output brought back voxel by voxel
   * (the frame's geometry itself is checked against PyTorch in nn_complete_crosscheck.py) */
  const NnConfig *cfg = nn_net_get_config (net);
  const float *probs = nn_net_get_output (net);
  CompletionFrame frame;
  g_assert_true (completion_frame_init (&frame, in, cfg->grid, completion_voxel_mm (cfg), NULL, &error));
  const int cand[3] = { 0, 2, 9 };
  int64_t nv = lv_volume_n_voxels (in), mismatches = 0, n_conf[3] = { 0 }, n_low[3] = { 0 };
  double sum_conf[3] = { 0 };
  for (int64_t i = 0; i < nv; i++)
    {
      float p[3];
      int64_t x = i % in->nx, y = (i / in->nx) % in->ny, z = i / (in->nx * in->ny);
      completion_frame_probs_at (&frame, probs, 13, cand, 3, x, y, z, p);
      /* only the selected organs are kept: background and the others read 0 */
      for (int c = 1; c < 3; c++)
        g_assert_cmpfloat (completion_probs_at (kept, cand[c], x, y, z), ==, p[c]);
      g_assert_cmpfloat (completion_probs_at (kept, 0, x, y, z), ==, 0.0f);
      g_assert_cmpfloat (completion_probs_at (kept, 5, x, y, z), ==, 0.0f);
      for (int c = 1; c < 3; c++)
        if (lv_volume_get_index (in, i) == 0 && lv_volume_get_index (out, i) == cand[c])
          {
            n_conf[c]++;
            sum_conf[c] += p[c];
            n_low[c] += p[c] < 0.5f;
          }
      int best = 0;
      for (int c = 1; c < 3; c++)
        if (p[c] > p[best])
          best = c;
      int expect = lv_volume_get_index (in, i) != 0 ? lv_volume_get_index (in, i) : cand[best];
      mismatches += lv_volume_get_index (out, i) != expect;
    }
  g_assert_cmpint (mismatches, ==, 0);
  /* the confidence of each added organ over its added voxels */
  for (int c = 1; c < 3; c++)
    {
      const CompletionConfidence *cc = completion_probs_get_confidence (kept, cand[c]);
      g_assert_cmpint (cc->voxels, ==, n_conf[c]);
      if (n_conf[c] == 0)
        continue;
      g_assert_cmpfloat (fabs (cc->mean - sum_conf[c] / n_conf[c]), <, 1e-9);
      g_assert_cmpfloat (fabs (cc->below_half - (double) n_low[c] / n_conf[c]), <, 1e-12);
      g_assert_cmpfloat (cc->mean, >, 0.0);
      g_assert_cmpfloat (cc->mean, <=, 1.0);
    }
  g_assert_cmpint (completion_probs_get_confidence (kept, 5)->voxels, ==, 0);

  /* every organ when nothing is selected; cancellation */
  CompletionOptions all = { .n_threads = 1 };
  g_autoptr (LabelVolume) out2 = completion_run (net, in, &all, NULL, &error);
  g_assert_no_error (error);
  g_autoptr (GCancellable) c = g_cancellable_new ();
  g_cancellable_cancel (c);
  g_autoptr (LabelVolume) out3 = completion_run (net, in, &all, c, &error);
  g_assert_null (out3);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
}

static const TestCase test_cases[] = {
  { "/nn/net/roundtrip", test_roundtrip },
  { "/nn/net/mismatch", test_mismatch },
  { "/nn/net/hostile", test_hostile },
  { "/nn/net/plan", test_plan },
  { "/nn/net/cancel", test_cancel },
  { "/nn/completion", test_completion },
  { "/nn/completion/fragments", test_fragments },
};

TEST_UTIL_MAIN_TMPDIR (test_cases, "test-nn-net-XXXXXX", NULL)
