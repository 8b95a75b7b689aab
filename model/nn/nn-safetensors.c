/* nn-safetensors.c: safetensors reader and writer (see nn-safetensors.h). */
#include "nn-safetensors.h"
#include "in-file.h"
#include "out-file.h"
#include "strutil.h"

#include <json-glib/json-glib.h>
#include <string.h>
#include <unistd.h>

G_DEFINE_QUARK (nn-safetensors-error-quark, nn_st_error)

static const struct {
  const char *name;
  int size;
} dtypes[] = {
  { "F32", 4 }, { "F16", 2 }, { "BF16", 2 }, { "F64", 8 }, { "I64", 8 }, { "I32", 4 },
  { "I16", 2 }, { "I8", 1 }, { "U8", 1 }, { "U16", 2 }, { "U32", 4 }, { "U64", 8 }, { "BOOL", 1 },
};

static void
tensor_free (gpointer p)
{
  NnStTensor *t = p;
  g_free (t->name);
  g_free (t);
}

void
nn_st_file_free (NnStFile *f)
{
  if (f == NULL)
    return;
  g_free (f->path);
  g_clear_pointer (&f->bytes, g_bytes_unref);
  g_clear_pointer (&f->metadata, g_hash_table_unref);
  g_clear_pointer (&f->by_name, g_hash_table_unref);
  g_clear_pointer (&f->tensors, g_ptr_array_unref);
  g_free (f);
}

NnStFile *
nn_st_file_load (const char *path, GError **error)
{
  g_autoptr (GError) local = NULL;
  /* a regular file only: a FIFO would block in open(), /dev/zero cannot be mapped */
  int fd = in_file_open (path, NULL, &local);
  g_autoptr (GMappedFile) map = fd >= 0 ? g_mapped_file_new_from_fd (fd, FALSE, &local) : NULL;

  if (fd >= 0)
    close (fd);
  if (map == NULL)
    {
      if (fd < 0)
        g_set_error_literal (error, NN_ST_ERROR, NN_ST_ERROR_IO, local->message);
      else
        g_set_error (error, NN_ST_ERROR, NN_ST_ERROR_IO, "%s: %s", path, local->message);
      return NULL;
    }
  g_autoptr (GBytes) bytes = g_mapped_file_get_bytes (map);
  return nn_st_file_parse (bytes, path, error);
}

/* Integer value of a JSON node, FALSE if it is not an integer. */
static gboolean
node_int (JsonNode *n, gint64 *out)
{
  if (n == NULL || JSON_NODE_TYPE (n) != JSON_NODE_VALUE || json_node_get_value_type (n) != G_TYPE_INT64)
    return FALSE;
  *out = json_node_get_int (n);
  return TRUE;
}

static gint
cmp_begin (gconstpointer a, gconstpointer b)
{
  const NnStTensor *x = *(NnStTensor *const *) a, *y = *(NnStTensor *const *) b;
  if (x->begin != y->begin)
    return x->begin < y->begin ? -1 : 1;
  return x->end < y->end ? -1 : x->end > y->end;
}

static gboolean
parse_tensor (NnStFile *f, const char *name, JsonNode *node, GError **error)
{
  const char *p = f->path;

  if (!JSON_NODE_HOLDS_OBJECT (node))
    {
      g_set_error (error, NN_ST_ERROR, NN_ST_ERROR_FORMAT, "%s: entry “%s” is not an object", p, name);
      return FALSE;
    }
  JsonObject *o = json_node_get_object (node);
  JsonNode *dt = json_object_get_member (o, "dtype");
  JsonNode *sh = json_object_get_member (o, "shape");
  JsonNode *off = json_object_get_member (o, "data_offsets");
  if (dt == NULL || json_node_get_value_type (dt) != G_TYPE_STRING)
    {
      g_set_error (error, NN_ST_ERROR, NN_ST_ERROR_FORMAT, "%s: tensor “%s” has no dtype string", p, name);
      return FALSE;
    }
  const char *dtype = json_node_get_string (dt);
  int size = 0;
  for (gsize i = 0; i < G_N_ELEMENTS (dtypes); i++)
    if (strcmp (dtype, dtypes[i].name) == 0)
      size = dtypes[i].size;
  if (size == 0)
    {
      g_set_error (error, NN_ST_ERROR, NN_ST_ERROR_FORMAT, "%s: tensor “%s” has unknown dtype “%.16s”",
                   p, name, dtype);
      return FALSE;
    }
  if (sh == NULL || !JSON_NODE_HOLDS_ARRAY (sh)
      || json_array_get_length (json_node_get_array (sh)) > NN_ST_MAX_DIMS)
    {
      g_set_error (error, NN_ST_ERROR, NN_ST_ERROR_FORMAT,
                   "%s: tensor “%s” has no shape array of at most %d dimensions", p, name, NN_ST_MAX_DIMS);
      return FALSE;
    }
  g_autofree NnStTensor *t = g_new0 (NnStTensor, 1);
  JsonArray *sa = json_node_get_array (sh);
  t->ndim = (int) json_array_get_length (sa);
  t->n_elements = 1;
  t->element_size = size;
  g_strlcpy (t->dtype, dtype, sizeof t->dtype);
  for (int d = 0; d < t->ndim; d++)
    {
      gint64 v;
      if (!node_int (json_array_get_element (sa, d), &v) || v < 0
          || __builtin_mul_overflow (t->n_elements, v, &t->n_elements))
        {
          g_set_error (error, NN_ST_ERROR, NN_ST_ERROR_FORMAT,
                       "%s: tensor “%s” has an invalid or overflowing shape", p, name);
          return FALSE;
        }
      t->shape[d] = v;
    }
  gint64 b, e, bytes;
  if (off == NULL || !JSON_NODE_HOLDS_ARRAY (off) || json_array_get_length (json_node_get_array (off)) != 2
      || !node_int (json_array_get_element (json_node_get_array (off), 0), &b)
      || !node_int (json_array_get_element (json_node_get_array (off), 1), &e))
    {
      g_set_error (error, NN_ST_ERROR, NN_ST_ERROR_FORMAT,
                   "%s: tensor “%s” has no data_offsets [begin, end]", p, name);
      return FALSE;
    }
  if (b < 0 || e < b || (guint64) e > f->data_len)
    {
      g_set_error (error, NN_ST_ERROR, NN_ST_ERROR_FORMAT,
                   "%s: tensor “%s” has data_offsets [%" G_GINT64_FORMAT ", %" G_GINT64_FORMAT
                   "] outside the %" G_GUINT64_FORMAT "-byte data buffer (truncated file?)",
                   p, name, b, e, f->data_len);
      return FALSE;
    }
  if (__builtin_mul_overflow (t->n_elements, (gint64) size, &bytes) || bytes != e - b)
    {
      g_set_error (error, NN_ST_ERROR, NN_ST_ERROR_FORMAT,
                   "%s: tensor “%s” spans %" G_GINT64_FORMAT " bytes but %s × its shape needs %"
                   G_GINT64_FORMAT, p, name, e - b, dtype, t->n_elements * (gint64) size);
      return FALSE;
    }
  t->begin = (guint64) b;
  t->end = (guint64) e;
  t->name = g_strdup (name);
  g_hash_table_insert (f->by_name, t->name, t);
  g_ptr_array_add (f->tensors, g_steal_pointer (&t));
  return TRUE;
}

NnStFile *
nn_st_file_parse (GBytes *bytes, const char *name, GError **error)
{
  gsize len;
  const guint8 *raw = g_bytes_get_data (bytes, &len);
  g_autoptr (NnStFile) f = g_new0 (NnStFile, 1);

  f->path = g_strdup (name);
  f->bytes = g_bytes_ref (bytes);
  f->metadata = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  f->by_name = g_hash_table_new (g_str_hash, g_str_equal);
  f->tensors = g_ptr_array_new_with_free_func (tensor_free);

  if (len < 8)
    {
      g_set_error (error, NN_ST_ERROR, NN_ST_ERROR_FORMAT,
                   "%s: file of %" G_GSIZE_FORMAT " bytes is too short for a safetensors header", name, len);
      return NULL;
    }
  guint64 hlen = 0;
  for (int i = 7; i >= 0; i--)
    hlen = (hlen << 8) | raw[i];
  if (hlen < 2 || hlen > NN_ST_MAX_HEADER || hlen > len - 8)
    {
      g_set_error (error, NN_ST_ERROR, NN_ST_ERROR_FORMAT,
                   "%s: header length %" G_GUINT64_FORMAT " is invalid (file has %" G_GSIZE_FORMAT
                   " bytes, limit %" G_GUINT64_FORMAT ")", name, hlen, len, NN_ST_MAX_HEADER);
      return NULL;
    }
  const char *json = (const char *) raw + 8;
  if (memchr (json, '\0', hlen) != NULL || json[0] != '{')
    {
      g_set_error (error, NN_ST_ERROR, NN_ST_ERROR_FORMAT,
                   "%s: header is not a JSON object", name);
      return NULL;
    }
  f->data = raw + 8 + hlen;
  f->data_len = len - 8 - hlen;

  if (str_json_nesting (json, hlen, NN_ST_MAX_JSON_DEPTH) > NN_ST_MAX_JSON_DEPTH)
    {
      g_set_error (error, NN_ST_ERROR, NN_ST_ERROR_FORMAT,
                   "%s: header JSON nests arrays or objects more than %d levels deep", name,
                   NN_ST_MAX_JSON_DEPTH);
      return NULL;
    }
  g_autoptr (JsonParser) parser = json_parser_new ();
  g_autoptr (GError) jerr = NULL;
  if (!json_parser_load_from_data (parser, json, (gssize) hlen, &jerr))
    {
      g_set_error (error, NN_ST_ERROR, NN_ST_ERROR_FORMAT, "%s: header JSON: %s", name, jerr->message);
      return NULL;
    }
  JsonNode *root = json_parser_get_root (parser);
  if (root == NULL || !JSON_NODE_HOLDS_OBJECT (root))
    {
      g_set_error (error, NN_ST_ERROR, NN_ST_ERROR_FORMAT, "%s: header is not a JSON object", name);
      return NULL;
    }
  JsonObject *obj = json_node_get_object (root);
  JsonObjectIter it;
  const char *key;
  JsonNode *node;
  json_object_iter_init (&it, obj);
  while (json_object_iter_next (&it, &key, &node))
    {
      if (strcmp (key, "__metadata__") == 0)
        {
          if (!JSON_NODE_HOLDS_OBJECT (node))
            {
              g_set_error (error, NN_ST_ERROR, NN_ST_ERROR_FORMAT, "%s: __metadata__ is not an object", name);
              return NULL;
            }
          JsonObjectIter mit;
          const char *mk;
          JsonNode *mv;
          json_object_iter_init (&mit, json_node_get_object (node));
          while (json_object_iter_next (&mit, &mk, &mv))
            {
              if (JSON_NODE_TYPE (mv) != JSON_NODE_VALUE || json_node_get_value_type (mv) != G_TYPE_STRING)
                {
                  g_set_error (error, NN_ST_ERROR, NN_ST_ERROR_FORMAT,
                               "%s: metadata value “%s” is not a string", name, mk);
                  return NULL;
                }
              g_hash_table_insert (f->metadata, g_strdup (mk), g_strdup (json_node_get_string (mv)));
            }
          continue;
        }
      if (!parse_tensor (f, key, node, error))
        return NULL;
    }

  /* the tensors must tile the data buffer exactly */
  g_ptr_array_sort (f->tensors, cmp_begin);
  guint64 pos = 0;
  for (guint i = 0; i < f->tensors->len; i++)
    {
      NnStTensor *t = g_ptr_array_index (f->tensors, i);
      if (t->begin != pos)
        {
          g_set_error (error, NN_ST_ERROR, NN_ST_ERROR_FORMAT,
                       "%s: tensor “%s” starts at byte %" G_GUINT64_FORMAT " of the data buffer, expected %"
                       G_GUINT64_FORMAT " (%s)", name, t->name, t->begin, pos,
                       t->begin < pos ? "overlap" : "hole");
          return NULL;
        }
      pos = t->end;
    }
  if (pos != f->data_len)
    {
      g_set_error (error, NN_ST_ERROR, NN_ST_ERROR_FORMAT,
                   "%s: tensors cover %" G_GUINT64_FORMAT " bytes but the data buffer has %" G_GUINT64_FORMAT,
                   name, pos, f->data_len);
      return NULL;
    }
  return g_steal_pointer (&f);
}

const NnStTensor *
nn_st_file_lookup (const NnStFile *f, const char *name)
{
  return g_hash_table_lookup (f->by_name, name);
}

const char *
nn_st_file_get_metadata (const NnStFile *f, const char *key)
{
  return g_hash_table_lookup (f->metadata, key);
}

void
nn_st_tensor_copy_f32 (const NnStFile *f, const NnStTensor *t, float *out)
{
  /* little-endian file on a little-endian host; memcpy handles any alignment */
  G_STATIC_ASSERT (G_BYTE_ORDER == G_LITTLE_ENDIAN);
  g_return_if_fail (strcmp (t->dtype, "F32") == 0);
  memcpy (out, f->data + t->begin, t->end - t->begin);
}

gboolean
nn_st_save (const char *path, const char *const *metadata_kv, const NnStEntry *entries,
            int n_entries, gboolean overwrite, GError **error)
{
  g_autoptr (OutSet) outputs = out_set_new (overwrite);
  g_autoptr (GError) local = NULL;
  /* checked (exists, folder, not a regular file) before anything is built */
  OutFile *out = out_set_open (outputs, path, OUT_FILE_PLAIN, &local);
  if (out == NULL)
    {
      if (g_error_matches (local, OUT_FILE_ERROR, OUT_FILE_ERROR_EXISTS))
        g_set_error (error, NN_ST_ERROR, NN_ST_ERROR_EXISTS, "%s: file exists (use --force to replace it)", path);
      else
        g_set_error_literal (error, NN_ST_ERROR, NN_ST_ERROR_IO, local->message);
      return FALSE;
    }
  g_autoptr (JsonBuilder) b = json_builder_new ();
  guint64 offset = 0;

  json_builder_begin_object (b);
  if (metadata_kv && metadata_kv[0])
    {
      json_builder_set_member_name (b, "__metadata__");
      json_builder_begin_object (b);
      for (int i = 0; metadata_kv[i] && metadata_kv[i + 1]; i += 2)
        {
          json_builder_set_member_name (b, metadata_kv[i]);
          json_builder_add_string_value (b, metadata_kv[i + 1]);
        }
      json_builder_end_object (b);
    }
  for (int i = 0; i < n_entries; i++)
    {
      int64_t n = 1;
      json_builder_set_member_name (b, entries[i].name);
      json_builder_begin_object (b);
      json_builder_set_member_name (b, "dtype");
      json_builder_add_string_value (b, "F32");
      json_builder_set_member_name (b, "shape");
      json_builder_begin_array (b);
      for (int d = 0; d < entries[i].ndim; d++)
        {
          json_builder_add_int_value (b, entries[i].shape[d]);
          n *= entries[i].shape[d];
        }
      json_builder_end_array (b);
      json_builder_set_member_name (b, "data_offsets");
      json_builder_begin_array (b);
      json_builder_add_int_value (b, (gint64) offset);
      offset += (guint64) n * 4;
      json_builder_add_int_value (b, (gint64) offset);
      json_builder_end_array (b);
      json_builder_end_object (b);
    }
  json_builder_end_object (b);

  g_autoptr (JsonGenerator) gen = json_generator_new ();
  g_autoptr (JsonNode) root = json_builder_get_root (b);
  json_generator_set_root (gen, root);
  gsize jlen;
  g_autofree char *json = json_generator_to_data (gen, &jlen);
  guint64 hlen = (jlen + 7) & ~(guint64) 7;   /* pad with spaces to 8 bytes */

  guint8 lenbytes[8];
  for (int i = 0; i < 8; i++)
    lenbytes[i] = (guint8) (hlen >> (8 * i));
  static const char spaces[8] = "        ";
  gboolean ok = out_file_write (out, lenbytes, 8, &local) && out_file_write (out, json, jlen, &local)
                && out_file_write (out, spaces, hlen - jlen, &local);
  for (int i = 0; ok && i < n_entries; i++)
    {
      int64_t n = 1;
      for (int d = 0; d < entries[i].ndim; d++)
        n *= entries[i].shape[d];
      ok = out_file_write (out, entries[i].data, (size_t) n * 4, &local);
    }
  if (!ok || !out_set_commit (outputs, &local))
    {
      g_set_error_literal (error, NN_ST_ERROR,
                           g_error_matches (local, OUT_FILE_ERROR, OUT_FILE_ERROR_EXISTS) ? NN_ST_ERROR_EXISTS
                                                                                         : NN_ST_ERROR_IO,
                           local->message);
      return FALSE;
    }
  return TRUE;
}
