/* nn-net.c: the network's configuration, graph and parameters.
 *
 * Architecture names, configurations and their checks; the graph of the three
 * architectures (layers over tensors, parameters with PyTorch's names and
 * shapes); creation, accessors and the seeded initialisation.  Weights files
 * are in nn-net-file.c, the memory plan and the forward pass in nn-net-plan.c.
 */
#include "nn-net.h"
#include "nn-net-private.h"
#include "label-table.h"

#include <math.h>
#include <string.h>

G_DEFINE_QUARK (nn-net-error-quark, nn_error)

/* Layer, Tensor and struct _NnNet live in nn-net-private.h (shared with nn-train.c). */

static const char *const arch_names[NN_N_ARCHS] = { "unet", "unet-skip", "googlenet-skip" };

const char *
nn_arch_to_string (NnArch arch)
{
  return (unsigned) arch < NN_N_ARCHS ? arch_names[arch] : "unknown";
}

gboolean
nn_arch_from_string (const char *s, NnArch *arch)
{
  for (int i = 0; i < NN_N_ARCHS; i++)
    if (s && g_ascii_strcasecmp (s, arch_names[i]) == 0)
      {
        *arch = (NnArch) i;
        return TRUE;
      }
  return FALSE;
}

void
nn_config_init_default (NnConfig *cfg, NnArch arch)
{
  static const int unet_widths[] = { 8, 16, 32, 64 };
  static const int inception_widths[] = { 16, 32, 64, 128 };

  memset (cfg, 0, sizeof *cfg);
  cfg->arch = arch;
  cfg->in_channels = 13;
  cfg->n_classes = 13;
  cfg->depth = 4;
  for (int i = 0; i < 4; i++)
    cfg->widths[i] = arch == NN_ARCH_GOOGLENET_SKIP ? inception_widths[i] : unet_widths[i];
  cfg->blocks = 2;
  cfg->act = NN_ACT_RELU;
  cfg->slope = 0.01f;
  cfg->bn_eps = 1e-5f;
  cfg->grid[0] = cfg->grid[1] = cfg->grid[2] = 128;
}

gboolean
nn_config_parse_widths (NnConfig *cfg, const char *text, GError **error)
{
  g_auto (GStrv) parts = g_strsplit (text, ",", -1);
  int n = (int) g_strv_length (parts);
  if (n < 1 || n > NN_MAX_DEPTH)
    {
      g_set_error (error, NN_ERROR, NN_ERROR_CONFIG, "widths \"%s\": give 1 to %d numbers", text, NN_MAX_DEPTH);
      return FALSE;
    }
  int widths[NN_MAX_DEPTH];
  for (int i = 0; i < n; i++)
    {
      gint64 v;
      if (!g_ascii_string_to_signed (g_strstrip (parts[i]), 10, 1, 4096, &v, NULL))
        {
          g_set_error (error, NN_ERROR, NN_ERROR_CONFIG, "widths: '%s' is not a number in 1..4096", parts[i]);
          return FALSE;
        }
      widths[i] = (int) v;
    }
  cfg->depth = n;
  memcpy (cfg->widths, widths, sizeof (int) * n);
  return TRUE;
}

gboolean
nn_config_validate (const NnConfig *cfg, GError **error)
{
  if ((unsigned) cfg->arch >= NN_N_ARCHS)
    {
      g_set_error (error, NN_ERROR, NN_ERROR_CONFIG, "unknown architecture %d", cfg->arch);
      return FALSE;
    }
  if (cfg->in_channels < 1 || cfg->in_channels > 4096 || cfg->n_classes < 2 || cfg->n_classes > 4096)
    {
      g_set_error (error, NN_ERROR, NN_ERROR_CONFIG, "invalid channel counts: %d in, %d classes",
                   cfg->in_channels, cfg->n_classes);
      return FALSE;
    }
  if (cfg->depth < 1 || cfg->depth > NN_MAX_DEPTH)
    {
      g_set_error (error, NN_ERROR, NN_ERROR_CONFIG, "depth %d outside 1..%d", cfg->depth, NN_MAX_DEPTH);
      return FALSE;
    }
  for (int i = 0; i < cfg->depth; i++)
    if (cfg->widths[i] < 1 || cfg->widths[i] > 4096
        || (cfg->arch == NN_ARCH_GOOGLENET_SKIP && cfg->widths[i] % 4 != 0))
      {
        g_set_error (error, NN_ERROR, NN_ERROR_CONFIG, "width %d of level %d is invalid%s",
                     cfg->widths[i], i,
                     cfg->arch == NN_ARCH_GOOGLENET_SKIP ? " (Inception widths must be multiples of 4)" : "");
        return FALSE;
      }
  if (cfg->blocks < 1 || cfg->blocks > 16)
    {
      g_set_error (error, NN_ERROR, NN_ERROR_CONFIG, "blocks %d outside 1..16", cfg->blocks);
      return FALSE;
    }
  if (cfg->act != NN_ACT_RELU && cfg->act != NN_ACT_LEAKY_RELU)
    {
      g_set_error (error, NN_ERROR, NN_ERROR_CONFIG, "unsupported activation");
      return FALSE;
    }
  if (!(cfg->bn_eps > 0.0f) || !isfinite (cfg->slope))
    {
      g_set_error (error, NN_ERROR, NN_ERROR_CONFIG, "invalid bn_eps or leaky slope");
      return FALSE;
    }
  int mult = 1 << (cfg->depth - 1);
  for (int a = 0; a < 3; a++)
    if (cfg->grid[a] < mult || cfg->grid[a] % mult != 0 || cfg->grid[a] > 1024)
      {
        g_set_error (error, NN_ERROR, NN_ERROR_CONFIG,
                     "grid %d×%d×%d: each size must be a multiple of %d (2^(depth-1)) and at most 1024",
                     cfg->grid[0], cfg->grid[1], cfg->grid[2], mult);
        return FALSE;
      }
  return TRUE;
}

/* ---- graph construction ------------------------------------------------ */

static int
add_tensor (NnNet *net, int channels, int level, int parent, int ch_offset)
{
  Tensor t = { .channels = channels, .level = level, .ch_offset = ch_offset };
  int id = (int) net->tensors->len;
  if (parent >= 0)
    {
      const Tensor *p = &g_array_index (net->tensors, Tensor, parent);
      t.root = p->root;
      t.ch_offset += p->ch_offset;
    }
  else
    t.root = id;
  g_array_append_val (net->tensors, t);
  return id;
}

static int
add_param (NnNet *net, const char *name, int ndim, int64_t s0, int64_t s1, int64_t s2,
           int64_t s3, int64_t s4)
{
  NnParam p = { .name = g_strdup (name), .ndim = ndim };
  int64_t s[5] = { s0, s1, s2, s3, s4 };
  p.n = 1;
  for (int d = 0; d < ndim; d++)
    {
      p.shape[d] = s[d];
      p.n *= s[d];
    }
  p.data = g_new0 (float, p.n);
  g_array_append_val (net->params, p);
  return (int) net->params->len - 1;
}

static Layer *
add_layer (NnNet *net, LayerKind kind, const char *name, int in, int out)
{
  Layer l = { .kind = kind, .name = g_strdup (name), .in = in, .out = out,
              .p_weight = -1, .p_bias = -1, .p_bn = -1 };
  g_array_append_val (net->layers, l);
  return &g_array_index (net->layers, Layer, net->layers->len - 1);
}

static void
set_geom (NnConvGeom *g, int cin, int cout, int k, int s, int p)
{
  g->cin = cin;
  g->cout = cout;
  for (int a = 0; a < 3; a++)
    {
      g->k[a] = k;
      g->s[a] = s;
      g->p[a] = p;
    }
}

/* ConvBNAct: Conv3d (k³, padding k/2, no bias), BatchNorm3d, activation.
 * Parameters P.conv.weight (cout, cin, k, k, k), P.bn.{weight,bias,running_mean,running_var} (cout). */
static void
add_convbn (NnNet *net, const char *prefix, int cin, int cout, int k, int in, int out)
{
  g_autofree char *wname = g_strdup_printf ("%s.conv.weight", prefix);
  int pw = add_param (net, wname, 5, cout, cin, k, k, k);
  const char *bn_names[] = { "weight", "bias", "running_mean", "running_var" };
  int pbn = -1;
  for (int i = 0; i < 4; i++)
    {
      g_autofree char *n = g_strdup_printf ("%s.bn.%s", prefix, bn_names[i]);
      int id = add_param (net, n, 1, cout, 0, 0, 0, 0);
      if (i == 0)
        pbn = id;
    }
  Layer *l = add_layer (net, LAYER_CONV, prefix, in, out);
  set_geom (&l->geom, cin, cout, k, 1, k / 2);
  l->act = net->cfg.act;
  l->p_weight = pw;
  l->p_bn = pbn;
}

/* The ConvBNAct "PREFIX.SUB" (see add_convbn). */
static void
add_convbn_sub (NnNet *net, const char *prefix, const char *sub, int cin, int cout, int k, int in, int out)
{
  g_autofree char *n = g_strdup_printf ("%s.%s", prefix, sub);
  add_convbn (net, n, cin, cout, k, in, out);
}

/* Inception module, cin -> cout (c = cout/4 per branch), output channels [b1 | b2 | b3 | b4]:
 *   b1: ConvBNAct 1³ (cin -> c)
 *   b2: ConvBNAct 1³ (cin -> c), ConvBNAct 3³ (c -> c)
 *   b3: ConvBNAct 1³ (cin -> c), ConvBNAct 3³ (c -> c), ConvBNAct 3³ (c -> c)
 *   b4: MaxPool 3³ stride 1 padding 1, ConvBNAct 1³ (cin -> c) */
static void
add_inception (NnNet *net, const char *prefix, int cin, int cout, int level, int in, int out)
{
  int c = cout / 4;
  int o1 = add_tensor (net, c, level, out, 0);
  int o2 = add_tensor (net, c, level, out, c);
  int o3 = add_tensor (net, c, level, out, 2 * c);
  int o4 = add_tensor (net, c, level, out, 3 * c);

  add_convbn_sub (net, prefix, "b1", cin, c, 1, in, o1);

  int t2 = add_tensor (net, c, level, -1, 0);
  add_convbn_sub (net, prefix, "b2.0", cin, c, 1, in, t2);
  add_convbn_sub (net, prefix, "b2.1", c, c, 3, t2, o2);

  int t3a = add_tensor (net, c, level, -1, 0), t3b = add_tensor (net, c, level, -1, 0);
  add_convbn_sub (net, prefix, "b3.0", cin, c, 1, in, t3a);
  add_convbn_sub (net, prefix, "b3.1", c, c, 3, t3a, t3b);
  add_convbn_sub (net, prefix, "b3.2", c, c, 3, t3b, o3);

  int tp = add_tensor (net, cin, level, -1, 0);
  g_autofree char *pool = g_strdup_printf ("%s.b4.0", prefix);
  Layer *l = add_layer (net, LAYER_MAXPOOL, pool, in, tp);
  set_geom (&l->geom, cin, cin, 3, 1, 1);
  add_convbn_sub (net, prefix, "b4.1", cin, c, 1, tp, o4);
}

/* One level's block: cfg.blocks units (ConvBNAct 3³ or Inception), cin -> cout. */
static void
add_block (NnNet *net, const char *prefix, int cin, int cout, int level, int in, int out)
{
  int cur = in, ccur = cin;
  for (int j = 0; j < net->cfg.blocks; j++)
    {
      g_autofree char *n = g_strdup_printf ("%s.%d", prefix, j);
      int dst = j == net->cfg.blocks - 1 ? out : add_tensor (net, cout, level, -1, 0);
      if (net->cfg.arch == NN_ARCH_GOOGLENET_SKIP)
        add_inception (net, n, ccur, cout, level, cur, dst);
      else
        add_convbn (net, n, ccur, cout, 3, cur, dst);
      cur = dst;
      ccur = cout;
    }
}

static void
build_graph (NnNet *net)
{
  const NnConfig *cfg = &net->cfg;
  const int L = cfg->depth;
  const int *w = cfg->widths;
  gboolean skip = cfg->arch != NN_ARCH_UNET;
  int enc_out[NN_MAX_DEPTH] = { 0 }, cat[NN_MAX_DEPTH] = { 0 };

  net->input = add_tensor (net, cfg->in_channels, 0, -1, 0);
  int prev = net->input, cprev = cfg->in_channels;
  for (int i = 0; i < L; i++)
    {
      g_autofree char *n = g_strdup_printf ("enc.%d", i);
      if (i > 0)
        {
          /* MaxPool 2³ stride 2: (w[i-1], grid >> (i-1)) -> (w[i-1], grid >> i) */
          g_autofree char *pn = g_strdup_printf ("pool.%d", i - 1);
          int p = add_tensor (net, w[i - 1], i, -1, 0);
          Layer *l = add_layer (net, LAYER_MAXPOOL, pn, enc_out[i - 1], p);
          set_geom (&l->geom, w[i - 1], w[i - 1], 2, 2, 0);
          prev = p;
          cprev = w[i - 1];
        }
      if (skip && i < L - 1)
        {
          /* cat[i] = [up (w[i]) | encoder output (w[i])]: the encoder writes its half directly */
          cat[i] = add_tensor (net, 2 * w[i], i, -1, 0);
          enc_out[i] = add_tensor (net, w[i], i, cat[i], w[i]);
        }
      else
        enc_out[i] = add_tensor (net, w[i], i, -1, 0);
      add_block (net, n, cprev, w[i], i, prev, enc_out[i]);
    }

  int cur = enc_out[L - 1];
  for (int i = L - 2; i >= 0; i--)
    {
      /* ConvTranspose 2³ stride 2: (w[i+1], grid >> (i+1)) -> (w[i], grid >> i) */
      g_autofree char *un = g_strdup_printf ("up.%d", i);
      g_autofree char *wn = g_strdup_printf ("up.%d.weight", i);
      g_autofree char *bn = g_strdup_printf ("up.%d.bias", i);
      int up = skip ? add_tensor (net, w[i], i, cat[i], 0) : add_tensor (net, w[i], i, -1, 0);
      Layer *l = add_layer (net, LAYER_CONVT, un, cur, up);
      set_geom (&l->geom, w[i + 1], w[i], 2, 2, 0);
      l->act = NN_ACT_NONE;
      l->p_weight = add_param (net, wn, 5, w[i + 1], w[i], 2, 2, 2);
      l = &g_array_index (net->layers, Layer, net->layers->len - 1);
      l->p_bias = add_param (net, bn, 1, w[i], 0, 0, 0, 0);

      g_autofree char *dn = g_strdup_printf ("dec.%d", i);
      int dec_out = add_tensor (net, w[i], i, -1, 0);
      add_block (net, dn, skip ? 2 * w[i] : w[i], w[i], i, skip ? cat[i] : up, dec_out);
      cur = dec_out;
    }

  /* head: Conv 1³ with bias (w[0] -> n_classes), then softmax across channels */
  int logits = add_tensor (net, cfg->n_classes, 0, -1, 0);
  Layer *l = add_layer (net, LAYER_CONV, "head", cur, logits);
  set_geom (&l->geom, w[0], cfg->n_classes, 1, 1, 0);
  l->act = NN_ACT_NONE;
  l->p_weight = add_param (net, "head.weight", 5, cfg->n_classes, w[0], 1, 1, 1);
  l = &g_array_index (net->layers, Layer, net->layers->len - 1);
  l->p_bias = add_param (net, "head.bias", 1, cfg->n_classes, 0, 0, 0, 0);

  net->output = add_tensor (net, cfg->n_classes, 0, -1, 0);
  add_layer (net, LAYER_SOFTMAX, "softmax", logits, net->output);
}

static void
param_clear (gpointer p)
{
  NnParam *param = p;
  g_free (param->name);
  g_free (param->data);
}

static void
layer_clear (gpointer p)
{
  g_free (((Layer *) p)->name);
}

NnNet *
nn_net_new (const NnConfig *cfg, GError **error)
{
  if (!nn_config_validate (cfg, error))
    return NULL;
  NnNet *net = g_new0 (NnNet, 1);
  net->cfg = *cfg;
  net->class_names = g_new0 (char *, cfg->n_classes + 1);
  /* the 13-class scheme takes the built-in names of label-table.h; other counts are numbered */
  for (int c = 0; c < cfg->n_classes; c++)
    net->class_names[c] = cfg->n_classes == LT_N_CLASSES && lt_default_class_name (c) != NULL
                            ? g_strdup (lt_default_class_name (c)) : g_strdup_printf ("class %d", c);
  net->metadata = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  net->params = g_array_new (FALSE, TRUE, sizeof (NnParam));
  g_array_set_clear_func (net->params, param_clear);
  net->layers = g_array_new (FALSE, TRUE, sizeof (Layer));
  g_array_set_clear_func (net->layers, layer_clear);
  net->tensors = g_array_new (FALSE, TRUE, sizeof (Tensor));
  build_graph (net);
  return net;
}

void
nn_net_free (NnNet *net)
{
  if (net == NULL)
    return;
  nn_net_release_prepared (net);
  g_clear_pointer (&net->pool, worker_pool_free);
  g_free (net->path);
  g_strfreev (net->class_names);
  g_hash_table_unref (net->metadata);
  g_array_unref (net->params);
  g_array_unref (net->layers);
  g_array_unref (net->tensors);
  g_free (net);
}

const char *
nn_net_get_path (const NnNet *net)
{
  return net->path;
}

int64_t
nn_net_count_nonfinite (const NnNet *net, const char **first)
{
  int64_t n = 0;
  if (first)
    *first = NULL;
  for (guint i = 0; i < net->params->len; i++)
    {
      const NnParam *p = &g_array_index (net->params, NnParam, i);
      int64_t k = 0;
      for (int64_t e = 0; e < p->n; e++)
        k += !isfinite (p->data[e]);
      if (k && first && !*first)
        *first = p->name;
      n += k;
    }
  return n;
}

const NnConfig *
nn_net_get_config (const NnNet *net)
{
  return &net->cfg;
}

const char *
nn_net_get_class_name (const NnNet *net, int cls)
{
  return cls >= 0 && cls < net->cfg.n_classes ? net->class_names[cls] : NULL;
}

void
nn_net_set_metadata (NnNet *net, const char *key, const char *value)
{
  g_hash_table_replace (net->metadata, g_strdup (key), g_strdup (value));
}

const char *
nn_net_get_metadata (const NnNet *net, const char *key)
{
  return g_hash_table_lookup (net->metadata, key);
}

NnParam *
nn_net_get_params (NnNet *net, int *n_params)
{
  *n_params = (int) net->params->len;
  return (NnParam *) (void *) net->params->data;
}

int64_t
nn_net_count_parameters (const NnNet *net)
{
  int64_t n = 0;
  for (guint i = 0; i < net->params->len; i++)
    {
      const NnParam *p = &g_array_index (net->params, NnParam, i);
      if (!g_str_has_suffix (p->name, ".running_mean") && !g_str_has_suffix (p->name, ".running_var"))
        n += p->n;
    }
  return n;
}

/* ---- random initialisation --------------------------------------------- */

static guint64
splitmix64 (guint64 *state)
{
  guint64 z = (*state += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

static float
uniform (guint64 *state, float bound)
{
  double u = (splitmix64 (state) >> 11) * (1.0 / 9007199254740992.0);   /* [0, 1) */
  return (float) ((2.0 * u - 1.0) * bound);
}

void
nn_net_init_random (NnNet *net, guint64 seed)
{
  guint64 state = seed;

  for (guint i = 0; i < net->params->len; i++)
    {
      NnParam *p = &g_array_index (net->params, NnParam, i);
      float fill = 0.0f, bound = 0.0f;
      if (g_str_has_suffix (p->name, "conv.weight") || g_str_equal (p->name, "head.weight"))
        bound = sqrtf (6.0f / (float) (p->shape[1] * p->shape[2] * p->shape[3] * p->shape[4]));
      else if (g_str_has_prefix (p->name, "up.") && g_str_has_suffix (p->name, ".weight"))
        bound = sqrtf (6.0f / (float) p->shape[0]);   /* k = stride: each output sees cin inputs */
      else if (g_str_has_prefix (p->name, "up.") || g_str_equal (p->name, "head.bias"))
        {
          const NnParam *wp = &g_array_index (net->params, NnParam, i - 1);
          bound = 1.0f / sqrtf ((float) (g_str_equal (p->name, "head.bias") ? wp->shape[1] : wp->shape[0]));
        }
      else if (g_str_has_suffix (p->name, "bn.weight") || g_str_has_suffix (p->name, "bn.running_var"))
        fill = 1.0f;
      for (int64_t q = 0; q < p->n; q++)
        p->data[q] = bound > 0.0f ? uniform (&state, bound) : fill;
    }
  if (net->prepared)
    nn_net_fold_weights (net);
}

