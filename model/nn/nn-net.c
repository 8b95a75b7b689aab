/* nn-net.c: network graph, parameters, weights files, memory plan, forward pass. */
#include "nn-net.h"
#include "nn-net-private.h"
#include "nn-safetensors.h"

#include <cblas.h>
#include <json-glib/json-glib.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

G_DEFINE_QUARK (nn-net-error-quark, nn_error)

/* Layer, Tensor and struct _NnNet live in nn-net-private.h (shared with nn-train.c). */

static const char *const default_class_names[] = {
  "background", "lung", "heart", "spleen", "stomach", "pancreas", "spine", "rib cage",
  "liver", "kidney", "aorta", "autochthon", "pulmonary artery",
};

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

/* Inception module, cin -> cout (c = cout/4 per branch), output channels [b1 | b2 | b3 | b4]:
 *   b1: ConvBNAct 1³ (cin -> c)
 *   b2: ConvBNAct 1³ (cin -> c), ConvBNAct 3³ (c -> c)
 *   b3: ConvBNAct 1³ (cin -> c), ConvBNAct 3³ (c -> c), ConvBNAct 3³ (c -> c)
 *   b4: MaxPool 3³ stride 1 padding 1, ConvBNAct 1³ (cin -> c) */
static void
add_inception (NnNet *net, const char *prefix, int cin, int cout, int level, int in, int out)
{
  int c = cout / 4;
  g_autofree char *n = NULL;
  int o1 = add_tensor (net, c, level, out, 0);
  int o2 = add_tensor (net, c, level, out, c);
  int o3 = add_tensor (net, c, level, out, 2 * c);
  int o4 = add_tensor (net, c, level, out, 3 * c);

  n = g_strdup_printf ("%s.b1", prefix);
  add_convbn (net, n, cin, c, 1, in, o1);
  g_free (n);

  int t2 = add_tensor (net, c, level, -1, 0);
  n = g_strdup_printf ("%s.b2.0", prefix);
  add_convbn (net, n, cin, c, 1, in, t2);
  g_free (n);
  n = g_strdup_printf ("%s.b2.1", prefix);
  add_convbn (net, n, c, c, 3, t2, o2);
  g_free (n);

  int t3a = add_tensor (net, c, level, -1, 0), t3b = add_tensor (net, c, level, -1, 0);
  n = g_strdup_printf ("%s.b3.0", prefix);
  add_convbn (net, n, cin, c, 1, in, t3a);
  g_free (n);
  n = g_strdup_printf ("%s.b3.1", prefix);
  add_convbn (net, n, c, c, 3, t3a, t3b);
  g_free (n);
  n = g_strdup_printf ("%s.b3.2", prefix);
  add_convbn (net, n, c, c, 3, t3b, o3);
  g_free (n);

  int tp = add_tensor (net, cin, level, -1, 0);
  n = g_strdup_printf ("%s.b4.0", prefix);
  Layer *l = add_layer (net, LAYER_MAXPOOL, n, in, tp);
  set_geom (&l->geom, cin, cin, 3, 1, 1);
  g_free (n);
  n = g_strdup_printf ("%s.b4.1", prefix);
  add_convbn (net, n, cin, c, 1, tp, o4);
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
  for (int c = 0; c < cfg->n_classes; c++)
    net->class_names[c] = c < (int) G_N_ELEMENTS (default_class_names) && cfg->n_classes == 13
                            ? g_strdup (default_class_names[c]) : g_strdup_printf ("class %d", c);
  net->metadata = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  net->params = g_array_new (FALSE, TRUE, sizeof (NnParam));
  g_array_set_clear_func (net->params, param_clear);
  net->layers = g_array_new (FALSE, TRUE, sizeof (Layer));
  g_array_set_clear_func (net->layers, layer_clear);
  net->tensors = g_array_new (FALSE, TRUE, sizeof (Tensor));
  build_graph (net);
  return net;
}

static void
release_prepared (NnNet *net)
{
  g_clear_pointer (&net->arena, g_free);
  g_clear_pointer (&net->scratch, g_free);
  g_clear_pointer (&net->folded, g_free);
  net->prepared = FALSE;
}

void
nn_net_free (NnNet *net)
{
  if (net == NULL)
    return;
  release_prepared (net);
  g_clear_pointer (&net->pool, worker_pool_free);
  g_strfreev (net->class_names);
  g_hash_table_unref (net->metadata);
  g_array_unref (net->params);
  g_array_unref (net->layers);
  g_array_unref (net->tensors);
  g_free (net);
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

/* Inference weights: BatchNorm folded into its convolution (into net->folded). */
static void
fold_weights (NnNet *net)
{
  int n_layers = (int) net->layers->len;
  /* inference weights: BatchNorm folded into its convolution */
  float *fp = net->folded;
  for (int li = 0; li < n_layers; li++)
    {
      Layer *l = &g_array_index (net->layers, Layer, li);
      l->w = l->p_weight >= 0 ? g_array_index (net->params, NnParam, l->p_weight).data : NULL;
      l->b = l->p_bias >= 0 ? g_array_index (net->params, NnParam, l->p_bias).data : NULL;
      if (l->p_bn >= 0)
        {
          int64_t per_out = (int64_t) l->geom.cin * l->geom.k[0] * l->geom.k[1] * l->geom.k[2];
          int64_t nw = per_out * l->geom.cout;
          const NnParam *bn = &g_array_index (net->params, NnParam, l->p_bn);
          memcpy (fp, l->w, (size_t) nw * sizeof (float));
          memset (fp + nw, 0, (size_t) l->geom.cout * sizeof (float));
          nn_fold_batchnorm (fp, fp + nw, l->geom.cout, per_out, bn[0].data, bn[1].data, bn[2].data,
                             bn[3].data, net->cfg.bn_eps);
          l->w = fp;
          l->b = fp + nw;
          fp += (nw + l->geom.cout + 15) & ~(int64_t) 15;
        }
    }
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
    fold_weights (net);
}

/* ---- weights files ----------------------------------------------------- */

static char *
labels_to_json (const NnNet *net)
{
  g_autoptr (JsonBuilder) b = json_builder_new ();
  json_builder_begin_array (b);
  for (int c = 0; c < net->cfg.n_classes; c++)
    {
      json_builder_begin_object (b);
      json_builder_set_member_name (b, "id");
      json_builder_add_int_value (b, c);
      json_builder_set_member_name (b, "name");
      json_builder_add_string_value (b, net->class_names[c]);
      json_builder_end_object (b);
    }
  json_builder_end_array (b);
  g_autoptr (JsonGenerator) gen = json_generator_new ();
  g_autoptr (JsonNode) root = json_builder_get_root (b);
  json_generator_set_root (gen, root);
  return json_generator_to_data (gen, NULL);
}

gboolean
nn_net_save (NnNet *net, const char *path, gboolean overwrite, GError **error)
{
  const NnConfig *c = &net->cfg;
  g_autoptr (GPtrArray) kv = g_ptr_array_new_with_free_func (g_free);
  g_autoptr (GString) widths = g_string_new (NULL);
  char eps[G_ASCII_DTOSTR_BUF_SIZE], slope[G_ASCII_DTOSTR_BUF_SIZE];

  for (int i = 0; i < c->depth; i++)
    g_string_append_printf (widths, "%s%d", i ? "," : "", c->widths[i]);
  g_ascii_dtostr (eps, sizeof eps, c->bn_eps);
  g_ascii_dtostr (slope, sizeof slope, c->slope);
#define KV(k, v) do { g_ptr_array_add (kv, g_strdup (k)); g_ptr_array_add (kv, (v)); } while (0)
  KV ("format", g_strdup (NN_FORMAT_NAME));
  KV ("format_version", g_strdup_printf ("%d", NN_FORMAT_VERSION));
  KV ("arch", g_strdup (nn_arch_to_string (c->arch)));
  KV ("in_channels", g_strdup_printf ("%d", c->in_channels));
  KV ("n_classes", g_strdup_printf ("%d", c->n_classes));
  KV ("depth", g_strdup_printf ("%d", c->depth));
  KV ("widths", g_strdup (widths->str));
  KV ("blocks", g_strdup_printf ("%d", c->blocks));
  KV ("activation", g_strdup (c->act == NN_ACT_LEAKY_RELU ? "leaky_relu" : "relu"));
  KV ("leaky_slope", g_strdup (slope));
  KV ("bn_eps", g_strdup (eps));
  KV ("grid", g_strdup_printf ("%d,%d,%d", c->grid[0], c->grid[1], c->grid[2]));
  KV ("labels", labels_to_json (net));
  KV ("layout", g_strdup ("NCDHW, batch 1, D=z H=y W=x; input one-hot labels, output softmax"));
  GHashTableIter it;
  gpointer k, v;
  g_hash_table_iter_init (&it, net->metadata);
  while (g_hash_table_iter_next (&it, &k, &v))
    {
      gboolean reserved = FALSE;
      for (guint i = 0; i < kv->len; i += 2)
        reserved |= g_str_equal (g_ptr_array_index (kv, i), k);
      if (!reserved)
        KV (k, g_strdup (v));
    }
#undef KV
  g_ptr_array_add (kv, NULL);

  g_autofree NnStEntry *entries = g_new0 (NnStEntry, net->params->len);
  for (guint i = 0; i < net->params->len; i++)
    {
      const NnParam *p = &g_array_index (net->params, NnParam, i);
      entries[i].name = p->name;
      entries[i].ndim = p->ndim;
      for (int d = 0; d < p->ndim; d++)
        entries[i].shape[d] = p->shape[d];
      entries[i].data = p->data;
    }
  return nn_st_save (path, (const char *const *) kv->pdata, entries, (int) net->params->len,
                     overwrite, error);
}

static gboolean
meta_int (const NnStFile *f, const char *key, int lo, int hi, int *out, GError **error)
{
  const char *v = nn_st_file_get_metadata (f, key);
  gint64 n;
  if (v == NULL)
    {
      g_set_error (error, NN_ERROR, NN_ERROR_CONFIG, "%s: metadata “%s” is missing", f->path, key);
      return FALSE;
    }
  if (!g_ascii_string_to_signed (v, 10, lo, hi, &n, NULL))
    {
      g_set_error (error, NN_ERROR, NN_ERROR_CONFIG, "%s: metadata “%s” = “%.40s” is not an integer in %d..%d",
                   f->path, key, v, lo, hi);
      return FALSE;
    }
  *out = (int) n;
  return TRUE;
}

static gboolean
meta_int_list (const NnStFile *f, const char *key, int n, int *out, GError **error)
{
  const char *v = nn_st_file_get_metadata (f, key);
  if (v == NULL)
    {
      g_set_error (error, NN_ERROR, NN_ERROR_CONFIG, "%s: metadata “%s” is missing", f->path, key);
      return FALSE;
    }
  g_auto (GStrv) parts = g_strsplit (v, ",", -1);
  if ((int) g_strv_length (parts) != n)
    {
      g_set_error (error, NN_ERROR, NN_ERROR_CONFIG, "%s: metadata “%s” = “%.40s” must hold %d integers",
                   f->path, key, v, n);
      return FALSE;
    }
  for (int i = 0; i < n; i++)
    {
      gint64 x;
      g_strstrip (parts[i]);
      if (!g_ascii_string_to_signed (parts[i], 10, 1, 4096, &x, NULL))
        {
          g_set_error (error, NN_ERROR, NN_ERROR_CONFIG, "%s: metadata “%s” = “%.40s”: “%s” is not in 1..4096",
                       f->path, key, v, parts[i]);
          return FALSE;
        }
      out[i] = (int) x;
    }
  return TRUE;
}

static gboolean
meta_float (const NnStFile *f, const char *key, const char *fallback, float *out, GError **error)
{
  const char *v = nn_st_file_get_metadata (f, key);
  char *end;
  if (v == NULL)
    v = fallback;
  if (v == NULL)
    {
      g_set_error (error, NN_ERROR, NN_ERROR_CONFIG, "%s: metadata “%s” is missing", f->path, key);
      return FALSE;
    }
  double d = g_ascii_strtod (v, &end);
  if (end == v || *end != '\0' || !isfinite (d))
    {
      g_set_error (error, NN_ERROR, NN_ERROR_CONFIG, "%s: metadata “%s” = “%.40s” is not a number",
                   f->path, key, v);
      return FALSE;
    }
  *out = (float) d;
  return TRUE;
}

static gboolean
config_from_metadata (const NnStFile *f, NnConfig *cfg, GError **error)
{
  const char *fmt = nn_st_file_get_metadata (f, "format");
  const char *arch = nn_st_file_get_metadata (f, "arch");
  const char *act = nn_st_file_get_metadata (f, "activation");
  int version;

  memset (cfg, 0, sizeof *cfg);
  if (fmt == NULL || strcmp (fmt, NN_FORMAT_NAME) != 0)
    {
      g_set_error (error, NN_ERROR, NN_ERROR_CONFIG,
                   "%s: not a completion network (metadata “format” is %s%s%s, expected “%s”)", f->path,
                   fmt ? "“" : "", fmt ? fmt : "missing", fmt ? "”" : "", NN_FORMAT_NAME);
      return FALSE;
    }
  if (!meta_int (f, "format_version", 1, 1000, &version, error))
    return FALSE;
  if (version > NN_FORMAT_VERSION)
    {
      g_set_error (error, NN_ERROR, NN_ERROR_CONFIG, "%s: format version %d is newer than this program's (%d)",
                   f->path, version, NN_FORMAT_VERSION);
      return FALSE;
    }
  if (arch == NULL || !nn_arch_from_string (arch, &cfg->arch))
    {
      g_set_error (error, NN_ERROR, NN_ERROR_CONFIG,
                   "%s: metadata “arch” is %s (expected unet, unet-skip or googlenet-skip)",
                   f->path, arch ? arch : "missing");
      return FALSE;
    }
  if (!meta_int (f, "in_channels", 1, 4096, &cfg->in_channels, error)
      || !meta_int (f, "n_classes", 2, 4096, &cfg->n_classes, error)
      || !meta_int (f, "depth", 1, NN_MAX_DEPTH, &cfg->depth, error)
      || !meta_int_list (f, "widths", cfg->depth, cfg->widths, error)
      || !meta_int (f, "blocks", 1, 16, &cfg->blocks, error)
      || !meta_int_list (f, "grid", 3, cfg->grid, error)
      || !meta_float (f, "bn_eps", NULL, &cfg->bn_eps, error)
      || !meta_float (f, "leaky_slope", "0.01", &cfg->slope, error))
    return FALSE;
  if (act == NULL || (strcmp (act, "relu") != 0 && strcmp (act, "leaky_relu") != 0))
    {
      g_set_error (error, NN_ERROR, NN_ERROR_CONFIG, "%s: metadata “activation” is %s (expected relu or leaky_relu)",
                   f->path, act ? act : "missing");
      return FALSE;
    }
  cfg->act = strcmp (act, "relu") == 0 ? NN_ACT_RELU : NN_ACT_LEAKY_RELU;
  g_autoptr (GError) local = NULL;
  if (!nn_config_validate (cfg, &local))
    {
      g_set_error (error, NN_ERROR, NN_ERROR_CONFIG, "%s: %s", f->path, local->message);
      return FALSE;
    }
  return TRUE;
}

static gboolean
labels_from_metadata (NnNet *net, const NnStFile *f, GError **error)
{
  const char *v = nn_st_file_get_metadata (f, "labels");
  g_autoptr (JsonParser) parser = json_parser_new ();
  int n = net->cfg.n_classes;

  if (v == NULL)
    {
      g_set_error (error, NN_ERROR, NN_ERROR_CONFIG, "%s: metadata “labels” is missing", f->path);
      return FALSE;
    }
  JsonNode *root = json_parser_load_from_data (parser, v, -1, NULL) ? json_parser_get_root (parser) : NULL;
  if (root == NULL || !JSON_NODE_HOLDS_ARRAY (root)
      || (int) json_array_get_length (json_node_get_array (root)) != n)
    {
      g_set_error (error, NN_ERROR, NN_ERROR_CONFIG,
                   "%s: metadata “labels” must be a JSON array of %d {\"id\", \"name\"} objects", f->path, n);
      return FALSE;
    }
  JsonArray *a = json_node_get_array (root);
  /* filled by id, so it may have holes until complete: freed entry by entry on errors */
  char **names = g_new0 (char *, n + 1);
  gboolean ok = FALSE;
  for (int i = 0; i < n; i++)
    {
      JsonNode *e = json_array_get_element (a, i);
      JsonObject *o = JSON_NODE_HOLDS_OBJECT (e) ? json_node_get_object (e) : NULL;
      JsonNode *idn = o ? json_object_get_member (o, "id") : NULL;
      JsonNode *nm = o ? json_object_get_member (o, "name") : NULL;
      if (idn == NULL || json_node_get_value_type (idn) != G_TYPE_INT64 || nm == NULL
          || json_node_get_value_type (nm) != G_TYPE_STRING)
        {
          g_set_error (error, NN_ERROR, NN_ERROR_CONFIG, "%s: metadata “labels” entry %d lacks an integer id "
                       "or a name", f->path, i);
          goto out;
        }
      gint64 id = json_node_get_int (idn);
      if (id < 0 || id >= n || names[id] != NULL)
        {
          g_set_error (error, NN_ERROR, NN_ERROR_CONFIG, "%s: metadata “labels”: id %" G_GINT64_FORMAT
                       " is out of 0..%d or repeated", f->path, id, n - 1);
          goto out;
        }
      names[id] = g_strdup (json_node_get_string (nm));
    }
  /* n entries with distinct ids in 0..n-1: no holes left */
  g_strfreev (net->class_names);
  net->class_names = g_steal_pointer (&names);
  ok = TRUE;
out:
  if (names)
    {
      for (int i = 0; i < n; i++)
        g_free (names[i]);
      g_free (names);
    }
  return ok;
}

static const char *const reserved_keys[] = {
  "format", "format_version", "arch", "in_channels", "n_classes", "depth", "widths", "blocks",
  "activation", "leaky_slope", "bn_eps", "grid", "labels", "layout",
};

NnNet *
nn_net_load (const char *path, GError **error)
{
  g_autoptr (NnStFile) f = nn_st_file_load (path, error);
  NnConfig cfg;

  if (f == NULL || !config_from_metadata (f, &cfg, error))
    return NULL;
  g_autoptr (NnNet) net = nn_net_new (&cfg, error);
  if (net == NULL || !labels_from_metadata (net, f, error))
    return NULL;

  /* every parameter: present, F32, right shape; then anything left over */
  g_autoptr (GString) problems = g_string_new (NULL);
  int n_problems = 0;
  g_autoptr (GHashTable) expected = g_hash_table_new (g_str_hash, g_str_equal);
  for (guint i = 0; i < net->params->len; i++)
    {
      NnParam *p = &g_array_index (net->params, NnParam, i);
      const NnStTensor *t = nn_st_file_lookup (f, p->name);
      g_hash_table_add (expected, p->name);
      gboolean shape_ok = t && t->ndim == p->ndim;
      for (int d = 0; shape_ok && d < p->ndim; d++)
        shape_ok = t->shape[d] == p->shape[d];
      if (t == NULL)
        {
          n_problems++;
          g_string_append_printf (problems, "\n  missing tensor %s", p->name);
        }
      else if (!shape_ok)
        {
          g_autoptr (GString) want = g_string_new (NULL), got = g_string_new (NULL);
          for (int d = 0; d < p->ndim; d++)
            g_string_append_printf (want, "%s%" G_GINT64_FORMAT, d ? ", " : "", p->shape[d]);
          for (int d = 0; d < t->ndim; d++)
            g_string_append_printf (got, "%s%" G_GINT64_FORMAT, d ? ", " : "", t->shape[d]);
          n_problems++;
          g_string_append_printf (problems, "\n  tensor %s has shape [%s], expected [%s]", p->name,
                                  got->str, want->str);
        }
      else if (strcmp (t->dtype, "F32") != 0)
        {
          n_problems++;
          g_string_append_printf (problems, "\n  tensor %s has dtype %s, expected F32", p->name, t->dtype);
        }
      else
        nn_st_tensor_copy_f32 (f, t, p->data);
    }
  for (guint i = 0; i < f->tensors->len; i++)
    {
      const NnStTensor *t = g_ptr_array_index (f->tensors, i);
      if (!g_hash_table_contains (expected, t->name) && !g_str_has_suffix (t->name, ".num_batches_tracked"))
        {
          n_problems++;
          g_string_append_printf (problems, "\n  unexpected tensor %s", t->name);
        }
    }
  if (n_problems > 0)
    {
      g_set_error (error, NN_ERROR, NN_ERROR_MISMATCH,
                   "%s: %d tensor%s do not match a %s network of widths %d.. and %d blocks:%s", path,
                   n_problems, n_problems == 1 ? "" : "s", nn_arch_to_string (cfg.arch), cfg.widths[0],
                   cfg.blocks, problems->str);
      return NULL;
    }
  GHashTableIter it;
  gpointer k, v;
  g_hash_table_iter_init (&it, f->metadata);
  while (g_hash_table_iter_next (&it, &k, &v))
    {
      gboolean reserved = FALSE;
      for (gsize i = 0; i < G_N_ELEMENTS (reserved_keys); i++)
        reserved |= g_str_equal (reserved_keys[i], k);
      if (!reserved)
        nn_net_set_metadata (net, k, v);
    }
  return g_steal_pointer (&net);
}

/* ---- preparation: sizes, memory plan, folding --------------------------- */

static int64_t
tensor_voxels (const NnNet *net, const Tensor *t)
{
  const int *d = net->dims[t->level];
  return (int64_t) d[0] * d[1] * d[2];
}

static int
cmp_size_desc (gconstpointer a, gconstpointer b, gpointer data)
{
  const int64_t *sizes = data;
  int x = *(const int *) a, y = *(const int *) b;
  if (sizes[x] != sizes[y])
    return sizes[x] > sizes[y] ? -1 : 1;
  return x - y;
}

gboolean
nn_net_prepare (NnNet *net, int D, int H, int W, int n_threads, NnPrepareFlags flags, GError **error)
{
  const int L = net->cfg.depth, mult = 1 << (L - 1);
  int nt = n_threads > 0 ? n_threads : (int) g_get_num_processors ();
  int n_tensors = (int) net->tensors->len, n_layers = (int) net->layers->len;

  if (D < mult || H < mult || W < mult || D % mult || H % mult || W % mult || D > 2048 || H > 2048
      || W > 2048)
    {
      g_set_error (error, NN_ERROR, NN_ERROR_GRID,
                   "grid %d×%d×%d cannot be used: each size must be a multiple of %d (depth %d), up to 2048",
                   W, H, D, mult, L);
      return FALSE;
    }
  release_prepared (net);
  if (net->pool == NULL || worker_pool_get_n_threads (net->pool) != nt)
    {
      g_clear_pointer (&net->pool, worker_pool_free);
      net->pool = worker_pool_new (nt);
    }
  /* the engine runs its own threads: every sgemm call is single-threaded */
  openblas_set_num_threads (1);

  for (int l = 0; l < L; l++)
    {
      net->dims[l][0] = D >> l;
      net->dims[l][1] = H >> l;
      net->dims[l][2] = W >> l;
    }

  /* lifetimes of root tensors, in layer indices */
  g_autofree int64_t *sizes = g_new0 (int64_t, n_tensors);
  Tensor *ts = (Tensor *) (void *) net->tensors->data;
  for (int i = 0; i < n_tensors; i++)
    {
      ts[i].first = G_MAXINT;
      ts[i].last = -1;
    }
  ts[net->input].first = -1;
  ts[net->output].last = n_layers;
  net->total_flops = 0.0;
  int64_t scratch = 0;
  gsize fold_floats = 0;
  for (int li = 0; li < n_layers; li++)
    {
      Layer *l = &g_array_index (net->layers, Layer, li);
      Tensor *in = &ts[ts[l->in].root], *out = &ts[ts[l->out].root];
      in->last = MAX (in->last, li);
      out->first = MIN (out->first, li);
      out->last = MAX (out->last, li);   /* written here: must not share with the input */
      int64_t nin = tensor_voxels (net, &ts[l->in]), nout = tensor_voxels (net, &ts[l->out]);
      int64_t per_out = (int64_t) l->geom.cin * l->geom.k[0] * l->geom.k[1] * l->geom.k[2];
      switch (l->kind)
        {
        case LAYER_CONV:
          l->flops = 2.0 * per_out * l->geom.cout * nout;
          scratch = MAX (scratch, nn_conv3d_scratch_floats_w (&l->geom, nout, net->dims[ts[l->in].level][2], nt));
          if (l->p_bn >= 0)
            fold_floats += (gsize) (per_out * l->geom.cout + l->geom.cout + 15) & ~(gsize) 15;
          break;
        case LAYER_CONVT:
          l->flops = 2.0 * per_out * l->geom.cout * nin;
          scratch = MAX (scratch, nn_conv_transpose3d_scratch_floats (&l->geom, nin, nt));
          break;
        case LAYER_MAXPOOL:
          l->flops = 0.0;
          scratch = MAX (scratch, (int64_t) net->dims[ts[l->in].level][2]);
          break;
        case LAYER_SOFTMAX:
          l->flops = 0.0;
          break;
        }
      net->total_flops += l->flops;
    }

  /* place roots: greedy first fit by decreasing size among overlapping lifetimes */
  g_autoptr (GArray) roots = g_array_new (FALSE, FALSE, sizeof (int));
  for (int i = 0; i < n_tensors; i++)
    if (ts[i].root == i)
      {
        sizes[i] = (ts[i].channels * tensor_voxels (net, &ts[i]) + 15) & ~(int64_t) 15;
        g_array_append_val (roots, i);
      }
  g_array_sort_with_data (roots, cmp_size_desc, sizes);
  int64_t arena = 0;
  for (guint a = 0; a < roots->len; a++)
    {
      int t = g_array_index (roots, int, a);
      int64_t off = 0;
      if (flags & NN_PREPARE_KEEP_ALL)
        off = arena;
      else
        for (gboolean moved = TRUE; moved;)
          {
            moved = FALSE;
            for (guint b = 0; b < a; b++)
              {
                int u = g_array_index (roots, int, b);
                gboolean live = ts[t].first <= ts[u].last && ts[u].first <= ts[t].last;
                if (live && off < ts[u].offset + sizes[u] && ts[u].offset < off + sizes[t])
                  {
                    off = ts[u].offset + sizes[u];
                    moved = TRUE;
                  }
              }
          }
      ts[t].offset = off;
      arena = MAX (arena, off + sizes[t]);
    }

  net->arena_bytes = (gsize) arena * sizeof (float);
  net->scratch_bytes = (gsize) scratch * nt * sizeof (float);   /* per thread */
  net->arena = g_try_malloc (net->arena_bytes);
  net->scratch = g_try_malloc (MAX (net->scratch_bytes, 64));
  net->folded = g_try_malloc (MAX (fold_floats, 16) * sizeof (float));
  if (net->arena == NULL || net->scratch == NULL || net->folded == NULL)
    {
      g_set_error (error, NN_ERROR, NN_ERROR_NO_MEMORY,
                   "cannot allocate %.0f MiB of activations for a %d×%d×%d grid",
                   (net->arena_bytes + net->scratch_bytes) / 1048576.0, W, H, D);
      release_prepared (net);
      return FALSE;
    }
  for (int i = 0; i < n_tensors; i++)
    ts[i].data = net->arena + ts[ts[i].root].offset + (int64_t) ts[i].ch_offset * tensor_voxels (net, &ts[i]);

  fold_weights (net);
  net->prepared = TRUE;
  return TRUE;
}

gboolean
nn_net_get_prepared_dims (const NnNet *net, int dims[3])
{
  if (!net->prepared)
    return FALSE;
  memcpy (dims, net->dims[0], 3 * sizeof (int));
  return TRUE;
}

float *
nn_net_get_input (NnNet *net)
{
  return net->prepared ? g_array_index (net->tensors, Tensor, net->input).data : NULL;
}

const float *
nn_net_get_output (NnNet *net)
{
  return net->prepared ? g_array_index (net->tensors, Tensor, net->output).data : NULL;
}

WorkerPool *
nn_net_get_pool (NnNet *net)
{
  return net->pool;
}

gboolean
nn_net_forward (NnNet *net, NnProgressFunc progress, gpointer user_data, GCancellable *cancellable,
                GError **error)
{
  const Tensor *ts = (const Tensor *) (const void *) net->tensors->data;
  double done = 0.0;

  if (!net->prepared)
    {
      g_set_error (error, NN_ERROR, NN_ERROR_STATE, "network used before nn_net_prepare()");
      return FALSE;
    }
  for (guint li = 0; li < net->layers->len; li++)
    {
      const Layer *l = &g_array_index (net->layers, Layer, li);
      const Tensor *in = &ts[l->in], *out = &ts[l->out];
      const int *d = net->dims[in->level];

      if (g_cancellable_set_error_if_cancelled (cancellable, error))
        return FALSE;
      switch (l->kind)
        {
        case LAYER_CONV:
          /* in (cin, d) -> out (cout, d): same level, stride 1 */
          nn_conv3d_best (net->pool, &l->geom, in->data, d[0], d[1], d[2], l->w, l->b, l->act,
                          net->cfg.slope, out->data, net->scratch);
          break;
        case LAYER_CONVT:
          /* in (cin, dims[level+1]) -> out (cout, dims[level]) */
          nn_conv_transpose3d (net->pool, &l->geom, in->data, d[0], d[1], d[2], l->w, l->b, l->act,
                               net->cfg.slope, out->data, net->scratch);
          break;
        case LAYER_MAXPOOL:
          nn_maxpool3d (net->pool, l->geom.cin, l->geom.k, l->geom.s, l->geom.p, in->data, d[0], d[1],
                        d[2], out->data, net->scratch);
          break;
        case LAYER_SOFTMAX:
          nn_softmax_channels (net->pool, in->data, in->channels, (int64_t) d[0] * d[1] * d[2], out->data);
          break;
        }
      done += l->flops;
      if (progress)
        progress (net->total_flops > 0 ? done / net->total_flops : 1.0, l->name, user_data);
    }
  return TRUE;
}

double
nn_net_get_flops (const NnNet *net)
{
  return net->total_flops;
}

gsize
nn_net_get_activation_bytes (const NnNet *net)
{
  return net->arena_bytes;
}

gsize
nn_net_get_scratch_bytes (const NnNet *net)
{
  return net->scratch_bytes;
}

int
nn_net_get_n_layers (const NnNet *net)
{
  return (int) net->layers->len;
}

const char *
nn_net_get_layer_name (const NnNet *net, int layer)
{
  return g_array_index (net->layers, Layer, layer).name;
}

const float *
nn_net_get_layer_output (const NnNet *net, int layer, int *channels, int dims[3])
{
  const Layer *l = &g_array_index (net->layers, Layer, layer);
  const Tensor *t = &g_array_index (net->tensors, Tensor, l->out);
  if (channels)
    *channels = t->channels;
  if (dims)
    memcpy (dims, net->dims[t->level], 3 * sizeof (int));
  return net->prepared ? t->data : NULL;
}
