/* nn-net-file.c: networks in safetensors files.
 *
 * Saving writes every parameter and the metadata that fully describes the
 * architecture, grid, label names and anything set with nn_net_set_metadata
 * (provenance); loading rebuilds the network from the metadata, then checks
 * every tensor's name, shape and dtype and lists all that do not match.  The
 * format is described in docs/model-format.md.
 */
#include "nn-net.h"
#include "nn-net-private.h"
#include "nn-safetensors.h"
#include "strutil.h"

#include <json-glib/json-glib.h>
#include <math.h>
#include <string.h>

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
  if (c->voxel_mm > 0)
    {
      char mm[G_ASCII_DTOSTR_BUF_SIZE];
      KV ("voxel_mm", g_strdup (g_ascii_dtostr (mm, sizeof mm, c->voxel_mm)));
    }
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
      || !meta_float (f, "leaky_slope", "0.01", &cfg->slope, error)
      || !meta_float (f, "voxel_mm", "0", &cfg->voxel_mm, error))
    return FALSE;
  if (cfg->voxel_mm < 0 || cfg->voxel_mm > 100)
    {
      g_set_error (error, NN_ERROR, NN_ERROR_CONFIG, "%s: metadata “voxel_mm” = %g mm is not a voxel size",
                   f->path, cfg->voxel_mm);
      return FALSE;
    }
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
  if (str_json_nesting (v, strlen (v), NN_ST_MAX_JSON_DEPTH) > NN_ST_MAX_JSON_DEPTH)
    {
      g_set_error (error, NN_ERROR, NN_ERROR_CONFIG,
                   "%s: metadata “labels” nests arrays or objects more than %d levels deep", f->path,
                   NN_ST_MAX_JSON_DEPTH);
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
  "activation", "leaky_slope", "bn_eps", "grid", "voxel_mm", "labels", "layout",
};

NnNet *
nn_net_load (const char *path, GError **error)
{
  return nn_net_load_full (path, NULL, error);
}

NnNet *
nn_net_load_full (const char *path, GPtrArray *warnings, GError **error)
{
  g_autoptr (NnStFile) f = nn_st_file_load (path, error);
  NnConfig cfg;

  if (f == NULL || !config_from_metadata (f, &cfg, error))
    return NULL;
  g_autoptr (NnNet) net = nn_net_new (&cfg, error);
  if (net == NULL)
    {
      g_prefix_error (error, "%s: ", path);
      return NULL;
    }
  net->path = g_strdup (path);
  if (!labels_from_metadata (net, f, error))
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
      else if (!shape_ok || strcmp (t->dtype, "F32") != 0)
        {
          /* both the dtype and the shape are reported (an F16 tensor of another shape was
           * reported as a shape mismatch only) */
          g_autoptr (GString) want = g_string_new (NULL), got = g_string_new (NULL);
          for (int d = 0; d < p->ndim; d++)
            g_string_append_printf (want, "%s%" G_GINT64_FORMAT, d ? ", " : "", p->shape[d]);
          for (int d = 0; d < t->ndim; d++)
            g_string_append_printf (got, "%s%" G_GINT64_FORMAT, d ? ", " : "", t->shape[d]);
          n_problems++;
          if (strcmp (t->dtype, "F32") != 0 && !shape_ok)
            g_string_append_printf (problems, "\n  tensor %s has dtype %s and shape [%s], expected F32 [%s]",
                                    p->name, t->dtype, got->str, want->str);
          else if (strcmp (t->dtype, "F32") != 0)
            g_string_append_printf (problems, "\n  tensor %s has dtype %s, expected F32 (this program reads "
                                    "float32 weights only)", p->name, t->dtype);
          else
            g_string_append_printf (problems, "\n  tensor %s has shape [%s], expected [%s]", p->name,
                                    got->str, want->str);
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
                   "%s: %d tensor%s not match a %s network of widths %d.. and %d blocks:%s", path,
                   n_problems, n_problems == 1 ? " does" : "s do", nn_arch_to_string (cfg.arch), cfg.widths[0],
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
  const char *first = NULL;
  int64_t bad = nn_net_count_nonfinite (net, &first);
  if (bad > 0 && warnings)
    g_ptr_array_add (warnings, g_strdup_printf ("%s: %" G_GINT64_FORMAT " of the %" G_GINT64_FORMAT
                                                " weights are NaN or infinite (the first in %s): the "
                                                "network's output is meaningless", path, bad,
                                                nn_net_count_parameters (net), first));
  return g_steal_pointer (&net);
}
