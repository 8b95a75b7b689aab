/* nrrd-header.c: the NRRD header: the names of types, encodings, spaces and fields, small
 * value parsers, reading the header line by line (bounded lines, bounded header) with its
 * fields and 3D Slicer segment keys, and validating it into a Layout (sizes, type, encoding,
 * space, directions, layer axis, skips) with the RAS affine; the data file of a detached header.
 */
#include "nrrd-private.h"

#include <errno.h>
#include <math.h>
#include <string.h>

/* --- names of types, encodings, spaces and fields ------------------------------------- */

static const struct {
  const char *name;
  SampleType type;
} type_names[] = {
  { "signed char", T_I8 }, { "int8", T_I8 }, { "int8_t", T_I8 },
  { "uchar", T_U8 }, { "unsigned char", T_U8 }, { "uint8", T_U8 }, { "uint8_t", T_U8 },
  { "short", T_I16 }, { "short int", T_I16 }, { "signed short", T_I16 }, { "signed short int", T_I16 },
  { "int16", T_I16 }, { "int16_t", T_I16 },
  { "ushort", T_U16 }, { "unsigned short", T_U16 }, { "unsigned short int", T_U16 }, { "uint16", T_U16 },
  { "uint16_t", T_U16 },
  { "int", T_I32 }, { "signed int", T_I32 }, { "int32", T_I32 }, { "int32_t", T_I32 },
  { "uint", T_U32 }, { "unsigned int", T_U32 }, { "uint32", T_U32 }, { "uint32_t", T_U32 },
  { "longlong", T_I64 }, { "long long", T_I64 }, { "long long int", T_I64 }, { "signed long long", T_I64 },
  { "signed long long int", T_I64 }, { "int64", T_I64 }, { "int64_t", T_I64 },
  { "ulonglong", T_U64 }, { "unsigned long long", T_U64 }, { "unsigned long long int", T_U64 },
  { "uint64", T_U64 }, { "uint64_t", T_U64 },
  { "float", T_F32 }, { "double", T_F64 }, { "block", T_BLOCK },
};

const char *const nrrd_type_canonical[] = {
  "", "int8", "uint8", "int16", "uint16", "int32", "uint32", "int64", "uint64", "float", "double", "block",
};
const int nrrd_type_bytes[] = { 0, 1, 1, 2, 2, 4, 4, 8, 8, 4, 8, 0 };

const char *const nrrd_encoding_canonical[] = { "", "raw", "gzip", "hex", "ascii" };

static const SpaceDef spaces[] = {
  { "right-anterior-superior", 3, 1, 1, "right-anterior-superior" },
  { "ras", 3, 1, 1, "right-anterior-superior" },
  { "left-anterior-superior", 3, -1, 1, "left-anterior-superior" },
  { "las", 3, -1, 1, "left-anterior-superior" },
  { "left-posterior-superior", 3, -1, -1, "left-posterior-superior" },
  { "lps", 3, -1, -1, "left-posterior-superior" },
  /* no patient frame: taken as LPS, as ITK and 3D Slicer do */
  { "scanner-xyz", 3, -1, -1, "scanner-xyz" },
  { "3d-right-handed", 3, -1, -1, "3D-right-handed" },
  { "3d-left-handed", 3, -1, -1, "3D-left-handed" },
  { "right-anterior-superior-time", 4, 1, 1, "right-anterior-superior-time" },
  { "rast", 4, 1, 1, "right-anterior-superior-time" },
  { "left-anterior-superior-time", 4, -1, 1, "left-anterior-superior-time" },
  { "last", 4, -1, 1, "left-anterior-superior-time" },
  { "left-posterior-superior-time", 4, -1, -1, "left-posterior-superior-time" },
  { "lpst", 4, -1, -1, "left-posterior-superior-time" },
  { "scanner-xyz-time", 4, -1, -1, "scanner-xyz-time" },
  { "scanner-xyzt", 4, -1, -1, "scanner-xyz-time" },
  { "3d-right-handed-time", 4, -1, -1, "3D-right-handed-time" },
  { "3d-left-handed-time", 4, -1, -1, "3D-left-handed-time" },
};

static const struct {
  const char *name;
  int id;
} field_names[] = {
  { "dimension", F_DIMENSION }, { "type", F_TYPE }, { "sizes", F_SIZES }, { "encoding", F_ENCODING },
  { "endian", F_ENDIAN }, { "space dimension", F_SPACE_DIMENSION }, { "space directions", F_SPACE_DIRECTIONS },
  { "space origin", F_SPACE_ORIGIN }, { "space units", F_IGNORED }, { "space", F_SPACE },
  { "spacings", F_SPACINGS }, { "kinds", F_KINDS }, { "data file", F_DATA_FILE }, { "datafile", F_DATA_FILE },
  { "line skip", F_LINE_SKIP }, { "lineskip", F_LINE_SKIP }, { "byte skip", F_BYTE_SKIP },
  { "byteskip", F_BYTE_SKIP }, { "block size", F_BLOCK_SIZE }, { "blocksize", F_BLOCK_SIZE },
  { "content", F_IGNORED }, { "min", F_IGNORED }, { "max", F_IGNORED }, { "old min", F_IGNORED },
  { "oldmin", F_IGNORED }, { "old max", F_IGNORED }, { "oldmax", F_IGNORED }, { "centers", F_IGNORED },
  { "centerings", F_IGNORED }, { "labels", F_IGNORED }, { "units", F_IGNORED }, { "axis mins", F_IGNORED },
  { "axismins", F_IGNORED }, { "axis maxs", F_IGNORED }, { "axismaxs", F_IGNORED },
  { "thicknesses", F_IGNORED }, { "measurement frame", F_IGNORED }, { "sample units", F_IGNORED },
  { "sampleunits", F_IGNORED }, { "number", F_IGNORED },
};

static void
segment_free (gpointer p)
{
  Segment *s = p;
  g_free (s->id);
  g_free (s->name);
  g_free (s->color);
  g_free (s->default_color);
  g_free (s);
}

/* --- small parsers ------------------------------------------------------------------------ */

/* Lower-case @s with runs of blanks made one space, trimmed (for type and field names). */
static char *
normalize_words (const char *s)
{
  GString *out = g_string_new (NULL);
  gboolean gap = FALSE;
  for (; *s; s++)
    {
      if (*s == ' ' || *s == '\t')
        gap = out->len > 0;
      else
        {
          if (gap)
            g_string_append_c (out, ' ');
          g_string_append_c (out, g_ascii_tolower (*s));
          gap = FALSE;
        }
    }
  return g_string_free (out, FALSE);
}

gboolean
nrrd_parse_int64 (const char *s, int64_t *out)
{
  char *end;
  if (*s == '\0')
    return FALSE;
  errno = 0;
  gint64 v = g_ascii_strtoll (s, &end, 10);
  if (errno != 0 || end == s || *end != '\0')
    return FALSE;
  *out = v;
  return TRUE;
}

gboolean
nrrd_parse_double (const char *s, double *out)
{
  char *end;
  if (*s == '\0')
    return FALSE;
  *out = g_ascii_strtod (s, &end);
  return end != s && *end == '\0';
}

/* Whitespace-separated words of @s (a NULL-terminated vector, owned). */
char **
nrrd_split_words (const char *s)
{
  GPtrArray *a = g_ptr_array_new ();
  while (*s)
    {
      while (*s == ' ' || *s == '\t')
        s++;
      if (!*s)
        break;
      const char *b = s;
      while (*s && *s != ' ' && *s != '\t')
        s++;
      g_ptr_array_add (a, g_strndup (b, (gsize) (s - b)));
    }
  g_ptr_array_add (a, NULL);
  return (char **) g_ptr_array_free (a, FALSE);
}

/* One "(x,y,z)" vector of @n components starting at *p (blanks inside are tolerated);
 * or "none" (returns FALSE with *is_none).  Advances *p.  FALSE with a message in @why. */
static gboolean
parse_vector (const char **p, int n, double *v, gboolean *is_none, char **why)
{
  const char *s = *p;
  *is_none = FALSE;
  while (*s == ' ' || *s == '\t')
    s++;
  if (g_ascii_strncasecmp (s, "none", 4) == 0 && (s[4] == '\0' || s[4] == ' ' || s[4] == '\t'))
    {
      *is_none = TRUE;
      *p = s + 4;
      return FALSE;
    }
  if (*s != '(')
    {
      *why = g_strdup_printf ("expected \"(\" or \"none\" at \"%.20s\"", s);
      return FALSE;
    }
  const char *close = strchr (s, ')');
  if (close == NULL)
    {
      *why = g_strdup ("a vector lacks its closing \")\"");
      return FALSE;
    }
  g_autofree char *inner = g_strndup (s + 1, (gsize) (close - s - 1));
  g_auto (GStrv) parts = g_strsplit (inner, ",", -1);
  if ((int) g_strv_length (parts) != n)
    {
      *why = g_strdup_printf ("the vector (%s) has %u components, the space has %d", inner,
                              g_strv_length (parts), n);
      return FALSE;
    }
  for (int i = 0; i < n; i++)
    {
      g_strstrip (parts[i]);
      if (!nrrd_parse_double (parts[i], &v[i]))
        {
          *why = g_strdup_printf ("\"%s\" in (%s) is not a number", parts[i], inner);
          return FALSE;
        }
    }
  *p = close + 1;
  return TRUE;
}

/* Key/value escapes: "\n" is a newline and "\\" a backslash. */
static char *
unescape_value (const char *s)
{
  GString *out = g_string_sized_new (strlen (s));
  for (; *s; s++)
    {
      if (s[0] == '\\' && s[1] == 'n')
        {
          g_string_append_c (out, '\n');
          s++;
        }
      else if (s[0] == '\\' && s[1] == '\\')
        {
          g_string_append_c (out, '\\');
          s++;
        }
      else
        g_string_append_c (out, *s);
    }
  return g_string_free (out, FALSE);
}

/* --- header ------------------------------------------------------------------------------- */

void
nrrd_header_clear (Header *h)
{
  for (int i = 0; i < N_FIELDS; i++)
    g_free (h->field[i]);
  if (h->segments)
    g_hash_table_unref (h->segments);
  memset (h, 0, sizeof *h);
}

/* A "Segment<N>_<Key>:=value" pair; other keys are ignored. */
static gboolean
header_add_segment_key (Header *h, const char *key, const char *value, int lineno, GError **error)
{
  if (strncmp (key, "Segment", 7) != 0 || !g_ascii_isdigit (key[7]))
    return TRUE;
  const char *p = key + 7;
  int64_t n = 0;
  int digits = 0;
  while (g_ascii_isdigit (*p))
    {
      n = n * 10 + (*p - '0');
      p++;
      if (++digits > 9)
        return TRUE; /* not an index 3D Slicer could have written */
    }
  if (*p != '_')
    return TRUE;
  p++;
  Segment *seg = g_hash_table_lookup (h->segments, GINT_TO_POINTER ((int) n));
  if (seg == NULL)
    {
      if (g_hash_table_size (h->segments) >= NRRD_MAX_SEGMENTS)
        {
          g_set_error (error, NRRD_ERROR, NRRD_ERROR_TOO_LARGE,
                       "%s: line %d: the header describes more than %d segments", h->path, lineno,
                       NRRD_MAX_SEGMENTS);
          return FALSE;
        }
      seg = g_new0 (Segment, 1);
      seg->index = (int) n;
      g_hash_table_insert (h->segments, GINT_TO_POINTER ((int) n), seg);
    }
  char **slot = NULL;
  if (strcmp (p, "ID") == 0)
    slot = &seg->id;
  else if (strcmp (p, "Name") == 0)
    slot = &seg->name;
  else if (strcmp (p, "Color") == 0)
    slot = &seg->color;
  else if (strcmp (p, "DefaultColor") == 0)
    slot = &seg->default_color;
  else if (strcmp (p, "LabelValue") == 0 || strcmp (p, "Layer") == 0)
    {
      int64_t v;
      gboolean ok = nrrd_parse_int64 (value, &v);
      if (strcmp (p, "LabelValue") == 0)
        {
          seg->has_label = TRUE;
          seg->label_bad = !ok;
          seg->label = ok ? v : 0;
        }
      else
        {
          seg->has_layer = TRUE;
          seg->layer_bad = !ok;
          seg->layer = ok ? v : 0;
        }
    }
  if (slot != NULL)
    {
      g_free (*slot);
      *slot = g_strdup (value);
    }
  return TRUE;
}

static gboolean
header_parse_line (Header *h, char *line, int lineno, GError **error)
{
  if (line[0] == '#')
    return TRUE;
  /* a known field: "name: value" (the name in any case) */
  for (gsize i = 0; i < G_N_ELEMENTS (field_names); i++)
    {
      gsize n = strlen (field_names[i].name);
      if (g_ascii_strncasecmp (line, field_names[i].name, n) == 0 && line[n] == ':' && line[n + 1] != '=')
        {
          int id = field_names[i].id;
          if (id == F_IGNORED)
            return TRUE;
          if (h->field[id] != NULL)
            {
              g_set_error (error, NRRD_ERROR, NRRD_ERROR_FORMAT,
                           "%s: line %d: field \"%s\" given a second time (first on line %d)", h->path,
                           lineno, field_names[i].name, h->field_line[id]);
              return FALSE;
            }
          char *v = g_strstrip (g_strdup (line + n + 1));
          h->field[id] = v;
          h->field_line[id] = lineno;
          if (id == F_DATA_FILE && (g_ascii_strncasecmp (v, "LIST", 4) == 0 && (v[4] == '\0' || v[4] == ' ')))
            {
              g_set_error (error, NRRD_ERROR, NRRD_ERROR_UNSUPPORTED,
                           "%s: line %d: \"data file: LIST\" (data split over several files) is not supported; "
                           "join them into one file (e.g. unu join, then unu save)", h->path, lineno);
              return FALSE;
            }
          return TRUE;
        }
    }
  const char *kv = strstr (line, ":=");
  if (kv != NULL)
    {
      g_autofree char *key = g_strndup (line, (gsize) (kv - line));
      g_autofree char *value = unescape_value (kv + 2);
      return header_add_segment_key (h, key, value, lineno, error);
    }
  if (strchr (line, ':') != NULL)
    return TRUE; /* a field of a newer format version: not needed for label maps */
  g_set_error (error, NRRD_ERROR, NRRD_ERROR_FORMAT,
               "%s: line %d is neither a field, a key/value pair nor a comment: \"%.40s\"%s", h->path,
               lineno, line, h->field[F_ENCODING] ? " (is the blank line that ends the header missing?)" : "");
  return FALSE;
}

/* Read the magic and all header lines; leaves @s at the first data byte. */
gboolean
nrrd_header_read (Header *h, Src *s, GError **error)
{
  char *line;
  gsize len;
  int lineno = 1;
  if (!nrrd_src_fill (s, error))
    return FALSE;
  if (nrrd_src_avail (s) < 4 || memcmp (s->buf + s->start, "NRRD", 4) != 0)
    {
      g_set_error (error, NRRD_ERROR, NRRD_ERROR_FORMAT, "%s: not a NRRD file (it does not start with \"NRRD000N\")",
                   s->path);
      return FALSE;
    }
  int r = nrrd_src_getline (s, &line, &len, 64, lineno, NULL);
  if (r <= 0)
    {
      g_set_error (error, NRRD_ERROR, NRRD_ERROR_FORMAT, "%s: the first line is not a NRRD magic (\"NRRD000N\")",
                   s->path);
      return FALSE;
    }
  if (strcmp (line, "NRRD00.01") == 0)
    h->version = 1;
  else if (len == 8 && strncmp (line + 4, "000", 3) == 0 && line[7] >= '1' && line[7] <= '5')
    h->version = line[7] - '0';
  else
    {
      g_set_error (error, NRRD_ERROR, NRRD_ERROR_UNSUPPORTED,
                   "%s: unsupported NRRD magic \"%.16s\" (NRRD0001 to NRRD0005 are known)", s->path, line);
      return FALSE;
    }
  h->segments = g_hash_table_new_full (g_direct_hash, g_direct_equal, NULL, segment_free);
  for (;;)
    {
      lineno++;
      r = nrrd_src_getline (s, &line, &len, NRRD_MAX_LINE_BYTES, lineno, error);
      if (r < 0)
        return FALSE;
      if (s->off > NRRD_MAX_HEADER_BYTES)
        {
          g_set_error (error, NRRD_ERROR, NRRD_ERROR_TOO_LARGE, "%s: the header is longer than %d MiB",
                       s->path, NRRD_MAX_HEADER_BYTES >> 20);
          return FALSE;
        }
      if (r == 0)
        break; /* end of file: fine for a detached header */
      if (len == 0)
        break; /* the blank line */
      if (strlen (line) != len)
        {
          g_set_error (error, NRRD_ERROR, NRRD_ERROR_FORMAT,
                       "%s: line %d of the header holds a NUL byte (is the blank line that ends the header missing?)",
                       s->path, lineno);
          return FALSE;
        }
      if (!header_parse_line (h, line, lineno, error))
        return FALSE;
    }
  h->data_offset = s->off;
  if (h->field[F_DATA_FILE] == NULL && r == 0)
    {
      g_set_error (error, NRRD_ERROR, NRRD_ERROR_TRUNCATED,
                   "%s: the header has no \"data file\" field and no data follow it", s->path);
      return FALSE;
    }
  return TRUE;
}

static gboolean
fail_format (GError **error, const Header *h, int field, const char *fmt, ...) G_GNUC_PRINTF (4, 5);

static gboolean
fail_format (GError **error, const Header *h, int field, const char *fmt, ...)
{
  va_list ap;
  va_start (ap, fmt);
  g_autofree char *msg = g_strdup_vprintf (fmt, ap);
  va_end (ap);
  if (field >= 0 && h->field_line[field] > 0)
    g_set_error (error, NRRD_ERROR, NRRD_ERROR_FORMAT, "%s: line %d: %s", h->path, h->field_line[field], msg);
  else
    g_set_error (error, NRRD_ERROR, NRRD_ERROR_FORMAT, "%s: %s", h->path, msg);
  return FALSE;
}

static const char *
kind_of_axis (char **kinds, int a)
{
  return kinds != NULL ? kinds[a] : NULL;
}

static gboolean
kind_is_spatial (const char *k)
{
  return k == NULL || g_ascii_strcasecmp (k, "domain") == 0 || g_ascii_strcasecmp (k, "space") == 0
         || g_ascii_strcasecmp (k, "???") == 0 || g_ascii_strcasecmp (k, "none") == 0;
}

static gboolean
kind_is_layer (const char *k)
{
  static const char *const ok[] = { "list", "vector", "point", "stub", "scalar", "???", "none" };
  for (gsize i = 0; i < G_N_ELEMENTS (ok); i++)
    if (k == NULL || g_ascii_strcasecmp (k, ok[i]) == 0)
      return TRUE;
  return FALSE;
}

static double
det3 (const double m[3][3])
{
  return m[0][0] * (m[1][1] * m[2][2] - m[1][2] * m[2][1])
       - m[0][1] * (m[1][0] * m[2][2] - m[1][2] * m[2][0])
       + m[0][2] * (m[1][0] * m[2][1] - m[1][1] * m[2][0]);
}

gboolean
nrrd_layout_from_header (const Header *h, int64_t max_voxels, Layout *L, GError **error)
{
  memset (L, 0, sizeof *L);
  L->layer_axis = -1;
  static const int required[] = { F_TYPE, F_DIMENSION, F_SIZES, F_ENCODING };
  static const char *const required_names[] = { "type", "dimension", "sizes", "encoding" };
  for (gsize i = 0; i < G_N_ELEMENTS (required); i++)
    if (h->field[required[i]] == NULL)
      return fail_format (error, h, -1, "the required field \"%s\" is missing", required_names[i]);

  /* type */
  g_autofree char *tname = normalize_words (h->field[F_TYPE]);
  for (gsize i = 0; i < G_N_ELEMENTS (type_names); i++)
    if (strcmp (tname, type_names[i].name) == 0)
      L->type = type_names[i].type;
  if (L->type == T_NONE)
    return fail_format (error, h, F_TYPE, "unknown type \"%s\"", h->field[F_TYPE]);
  if (L->type == T_BLOCK)
    {
      g_set_error (error, NRRD_ERROR, NRRD_ERROR_UNSUPPORTED,
                   "%s: type \"block\" (opaque records) cannot hold labels", h->path);
      return FALSE;
    }

  /* encoding */
  g_autofree char *enc = normalize_words (h->field[F_ENCODING]);
  if (strcmp (enc, "raw") == 0)
    L->encoding = E_RAW;
  else if (strcmp (enc, "gzip") == 0 || strcmp (enc, "gz") == 0)
    L->encoding = E_GZIP;
  else if (strcmp (enc, "hex") == 0)
    L->encoding = E_HEX;
  else if (strcmp (enc, "ascii") == 0 || strcmp (enc, "text") == 0 || strcmp (enc, "txt") == 0)
    L->encoding = E_ASCII;
  else if (strcmp (enc, "bzip2") == 0 || strcmp (enc, "bz2") == 0)
    {
      g_set_error (error, NRRD_ERROR, NRRD_ERROR_UNSUPPORTED,
                   "%s: bzip2 encoding is not supported (re-encode it with gzip: unu save -f nrrd -e gzip)", h->path);
      return FALSE;
    }
  else
    {
      g_set_error (error, NRRD_ERROR, NRRD_ERROR_UNSUPPORTED,
                   "%s: line %d: encoding \"%s\" is not supported (raw, gzip, hex, ascii are)", h->path,
                   h->field_line[F_ENCODING], h->field[F_ENCODING]);
      return FALSE;
    }

  /* endian */
  if (h->field[F_ENDIAN] != NULL)
    {
      if (g_ascii_strcasecmp (h->field[F_ENDIAN], "little") == 0)
        L->endian = G_LITTLE_ENDIAN;
      else if (g_ascii_strcasecmp (h->field[F_ENDIAN], "big") == 0)
        L->endian = G_BIG_ENDIAN;
      else
        return fail_format (error, h, F_ENDIAN, "endian must be \"little\" or \"big\", not \"%s\"", h->field[F_ENDIAN]);
    }
  else if (nrrd_type_bytes[L->type] > 1 && L->encoding != E_ASCII)
    return fail_format (error, h, -1, "%d-byte %s samples need an \"endian\" field", nrrd_type_bytes[L->type],
                        nrrd_type_canonical[L->type]);

  /* dimension and sizes */
  int64_t dim;
  if (!nrrd_parse_int64 (h->field[F_DIMENSION], &dim) || dim < 1 || dim > NRRD_DIM_MAX)
    return fail_format (error, h, F_DIMENSION, "dimension \"%s\" is not a number from 1 to %d",
                        h->field[F_DIMENSION], NRRD_DIM_MAX);
  L->dim = (int) dim;
  g_auto (GStrv) sizes = nrrd_split_words (h->field[F_SIZES]);
  if ((int) g_strv_length (sizes) != L->dim)
    return fail_format (error, h, F_SIZES, "\"sizes\" lists %u sizes for dimension %d", g_strv_length (sizes), L->dim);
  for (int a = 0; a < L->dim; a++)
    if (!nrrd_parse_int64 (sizes[a], &L->sizes[a]) || L->sizes[a] < 1)
      return fail_format (error, h, F_SIZES, "size \"%s\" of axis %d is not a positive integer", sizes[a], a);
  if (L->dim != 3 && L->dim != 4)
    {
      GString *s = g_string_new (NULL);
      for (int a = 0; a < L->dim; a++)
        g_string_append_printf (s, "%s%" G_GINT64_FORMAT, a ? "x" : "", L->sizes[a]);
      g_set_error (error, NRRD_ERROR, NRRD_ERROR_UNSUPPORTED,
                   "%s: a label map must be 3D (or 4D with a list of layers), this is %dD (%s)", h->path, L->dim, s->str);
      g_string_free (s, TRUE);
      return FALSE;
    }

  /* space */
  int space_dim = 0;
  if (h->field[F_SPACE] != NULL)
    {
      g_autofree char *sp = normalize_words (h->field[F_SPACE]);
      for (gsize i = 0; i < G_N_ELEMENTS (spaces); i++)
        if (strcmp (sp, spaces[i].name) == 0)
          L->space = &spaces[i];
      if (L->space == NULL)
        return fail_format (error, h, F_SPACE, "unknown space \"%s\"", h->field[F_SPACE]);
      space_dim = L->space->dim;
    }
  if (h->field[F_SPACE_DIMENSION] != NULL)
    {
      int64_t sd;
      if (!nrrd_parse_int64 (h->field[F_SPACE_DIMENSION], &sd) || sd < 1 || sd > NRRD_DIM_MAX)
        return fail_format (error, h, F_SPACE_DIMENSION, "space dimension \"%s\" is not a number from 1 to %d",
                            h->field[F_SPACE_DIMENSION], NRRD_DIM_MAX);
      if (space_dim != 0 && sd != space_dim)
        return fail_format (error, h, F_SPACE_DIMENSION, "space dimension %" G_GINT64_FORMAT
                            " contradicts space \"%s\"", sd, h->field[F_SPACE]);
      space_dim = (int) sd;
    }
  if (space_dim != 0 && space_dim != 3)
    {
      g_set_error (error, NRRD_ERROR, NRRD_ERROR_UNSUPPORTED,
                   "%s: a label map needs a 3D space, this file's space has %d dimensions%s", h->path, space_dim,
                   space_dim == 4 ? " (a time series)" : "");
      return FALSE;
    }
  if (space_dim == 0 && (h->field[F_SPACE_DIRECTIONS] || h->field[F_SPACE_ORIGIN]))
    return fail_format (error, h, h->field[F_SPACE_DIRECTIONS] ? F_SPACE_DIRECTIONS : F_SPACE_ORIGIN,
                        "space directions or origin without a \"space\" or \"space dimension\" field");

  /* kinds */
  g_auto (GStrv) kinds = NULL;
  if (h->field[F_KINDS] != NULL)
    {
      kinds = nrrd_split_words (h->field[F_KINDS]);
      if ((int) g_strv_length (kinds) != L->dim)
        return fail_format (error, h, F_KINDS, "\"kinds\" lists %u kinds for dimension %d", g_strv_length (kinds), L->dim);
    }

  /* space directions: one per axis, "none" for non-spatial axes */
  double dirs[NRRD_DIM_MAX][3];
  gboolean has_dir[NRRD_DIM_MAX] = { FALSE };
  if (h->field[F_SPACE_DIRECTIONS] != NULL)
    {
      const char *p = h->field[F_SPACE_DIRECTIONS];
      for (int a = 0; a < L->dim; a++)
        {
          gboolean none;
          g_autofree char *why = NULL;
          if (parse_vector (&p, 3, dirs[a], &none, &why))
            has_dir[a] = TRUE;
          else if (!none)
            return fail_format (error, h, F_SPACE_DIRECTIONS, "space direction of axis %d: %s", a, why);
        }
      while (*p == ' ' || *p == '\t')
        p++;
      if (*p != '\0')
        return fail_format (error, h, F_SPACE_DIRECTIONS, "more space directions than the %d axes", L->dim);
    }

  /* which axis lists layers */
  if (L->dim == 4)
    {
      int cand = -1, n_cand = 0;
      if (h->field[F_SPACE_DIRECTIONS] != NULL)
        {
          for (int a = 0; a < 4; a++)
            if (!has_dir[a])
              {
                cand = a;
                n_cand++;
              }
          if (n_cand != 1)
            return fail_format (error, h, F_SPACE_DIRECTIONS,
                                "a 4D label map needs exactly one \"none\" space direction (its layer axis), "
                                "this file has %d", n_cand);
        }
      else if (kinds != NULL)
        {
          for (int a = 0; a < 4; a++)
            if (!kind_is_spatial (kinds[a]))
              {
                cand = a;
                n_cand++;
              }
          if (n_cand != 1)
            return fail_format (error, h, F_KINDS,
                                "a 4D label map needs exactly one non-spatial axis (its layers), the kinds \"%s\" "
                                "name %d", h->field[F_KINDS], n_cand);
        }
      else
        {
          g_set_error (error, NRRD_ERROR, NRRD_ERROR_UNSUPPORTED,
                       "%s: 4D file without \"space directions\" or \"kinds\": cannot tell which axis lists the layers",
                       h->path);
          return FALSE;
        }
      const char *k = kind_of_axis (kinds, cand);
      if (!kind_is_layer (k))
        {
          g_set_error (error, NRRD_ERROR, NRRD_ERROR_UNSUPPORTED,
                       "%s: axis %d is of kind \"%s\": %s, not a list of label layers", h->path, cand, k,
                       g_ascii_strcasecmp (k, "time") == 0 ? "a time series" : "not labels");
          return FALSE;
        }
      if (L->sizes[cand] > NRRD_MAX_LAYERS)
        {
          g_set_error (error, NRRD_ERROR, NRRD_ERROR_TOO_LARGE, "%s: %" G_GINT64_FORMAT
                       " layers on axis %d exceed the limit of %d", h->path, L->sizes[cand], cand, NRRD_MAX_LAYERS);
          return FALSE;
        }
      L->layer_axis = cand;
    }
  int ns = 0;
  for (int a = 0; a < L->dim; a++)
    if (a != L->layer_axis)
      {
        L->spatial[ns++] = a;
        if (h->field[F_SPACE_DIRECTIONS] != NULL && !has_dir[a])
          return fail_format (error, h, F_SPACE_DIRECTIONS, "spatial axis %d has no space direction (\"none\")", a);
        const char *k = kind_of_axis (kinds, a);
        if (!kind_is_spatial (k))
          {
            g_set_error (error, NRRD_ERROR, NRRD_ERROR_UNSUPPORTED, "%s: axis %d is of kind \"%s\", not a spatial axis "
                         "of a label map", h->path, a, k);
            return FALSE;
          }
      }
  L->n_layers = L->layer_axis >= 0 ? L->sizes[L->layer_axis] : 1;

  /* counts, capped before anything is allocated */
  int64_t nv = 1, nsamp;
  for (int i = 0; i < 3; i++)
    if (__builtin_mul_overflow (nv, L->sizes[L->spatial[i]], &nv))
      nv = G_MAXINT64;
  if (__builtin_mul_overflow (nv, L->n_layers, &nsamp))
    nsamp = G_MAXINT64;
  if (nsamp > max_voxels)
    {
      GString *s = g_string_new (NULL);
      for (int a = 0; a < L->dim; a++)
        g_string_append_printf (s, "%s%" G_GINT64_FORMAT, a ? "x" : "", L->sizes[a]);
      if (nsamp == G_MAXINT64)
        g_set_error (error, NRRD_ERROR, NRRD_ERROR_TOO_LARGE, "%s: sizes %s overflow a 64-bit sample count",
                     h->path, s->str);
      else
        g_set_error (error, NRRD_ERROR, NRRD_ERROR_TOO_LARGE,
                     "%s: %s = %" G_GINT64_FORMAT " %s (%.0f MiB of %s data) exceeds the limit of %" G_GINT64_FORMAT
                     " voxels", h->path, s->str, nsamp, L->n_layers > 1 ? "samples" : "voxels",
                     (double) nsamp * nrrd_type_bytes[L->type] / 1048576.0, nrrd_type_canonical[L->type], max_voxels);
      g_string_free (s, TRUE);
      return FALSE;
    }
  if (nsamp > G_MAXINT64 / 8 || (uint64_t) nsamp * nrrd_type_bytes[L->type] > G_MAXSIZE / 2)
    {
      g_set_error (error, NRRD_ERROR, NRRD_ERROR_TOO_LARGE, "%s: %" G_GINT64_FORMAT " samples of %s overflow the "
                   "address space", h->path, nsamp, nrrd_type_canonical[L->type]);
      return FALSE;
    }
  L->n_voxels = nv;
  L->n_samples = nsamp;

  /* geometry: columns of directions (or spacings) and the origin, in the file's space */
  double m[3][4] = { { 0 } };
  if (h->field[F_SPACE_DIRECTIONS] != NULL)
    {
      for (int c = 0; c < 3; c++)
        for (int r = 0; r < 3; r++)
          m[r][c] = dirs[L->spatial[c]][r];
    }
  else
    {
      g_auto (GStrv) sp = NULL;
      if (h->field[F_SPACINGS] != NULL)
        {
          sp = nrrd_split_words (h->field[F_SPACINGS]);
          if ((int) g_strv_length (sp) != L->dim)
            return fail_format (error, h, F_SPACINGS, "\"spacings\" lists %u values for dimension %d",
                                g_strv_length (sp), L->dim);
        }
      for (int c = 0; c < 3; c++)
        {
          double v = 1.0;
          if (sp != NULL)
            {
              const char *w = sp[L->spatial[c]];
              if (!nrrd_parse_double (w, &v))
                return fail_format (error, h, F_SPACINGS, "spacing \"%s\" of axis %d is not a number", w, L->spatial[c]);
              if (isnan (v))
                v = 1.0;
              else if (!(v > 0) || v > 1e30)
                return fail_format (error, h, F_SPACINGS, "spacing %g of axis %d must be positive and finite", v,
                                    L->spatial[c]);
            }
          m[c][c] = v;
        }
    }
  if (h->field[F_SPACE_ORIGIN] != NULL)
    {
      const char *p = h->field[F_SPACE_ORIGIN];
      gboolean none;
      g_autofree char *why = NULL;
      double o[3];
      if (!parse_vector (&p, 3, o, &none, &why))
        return fail_format (error, h, F_SPACE_ORIGIN, "space origin: %s", why ? why : "\"none\" is not an origin");
      for (int r = 0; r < 3; r++)
        m[r][3] = o[r];
    }
  for (int r = 0; r < 3; r++)
    for (int c = 0; c < 4; c++)
      if (!isfinite (m[r][c]) || fabs (m[r][c]) > 1e30)
        return fail_format (error, h, c == 3 ? F_SPACE_ORIGIN : F_SPACE_DIRECTIONS,
                            "the %s a non-finite or absurd value (%g)",
                            c == 3 ? "space origin holds" : "space directions hold", m[r][c]);
  double norm[3], rot[3][3];
  for (int c = 0; c < 3; c++)
    {
      norm[c] = sqrt (m[0][c] * m[0][c] + m[1][c] * m[1][c] + m[2][c] * m[2][c]);
      if (!(norm[c] > 1e-12))
        return fail_format (error, h, F_SPACE_DIRECTIONS, "the space direction of axis %d is zero", L->spatial[c]);
      for (int r = 0; r < 3; r++)
        rot[r][c] = m[r][c] / norm[c];
    }
  if (!(fabs (det3 (rot)) > 1e-6))
    return fail_format (error, h, F_SPACE_DIRECTIONS,
                        "the space directions are (nearly) parallel: they do not span 3D space");
  double sx = L->space ? L->space->sx : -1, sy = L->space ? L->space->sy : -1; /* none: LPS, as ITK */
  memset (L->affine, 0, sizeof L->affine);
  for (int c = 0; c < 4; c++)
    {
      L->affine[0][c] = sx * m[0][c] + 0.0; /* + 0.0 turns -0 into 0 */
      L->affine[1][c] = sy * m[1][c] + 0.0;
      L->affine[2][c] = m[2][c];
    }
  L->affine[3][3] = 1;

  /* skips */
  if (h->field[F_LINE_SKIP] != NULL
      && (!nrrd_parse_int64 (h->field[F_LINE_SKIP], &L->line_skip) || L->line_skip < 0 || L->line_skip > MAX_LINE_SKIP))
    return fail_format (error, h, F_LINE_SKIP, "line skip \"%s\" is not a number from 0 to %d",
                        h->field[F_LINE_SKIP], MAX_LINE_SKIP);
  if (h->field[F_BYTE_SKIP] != NULL
      && (!nrrd_parse_int64 (h->field[F_BYTE_SKIP], &L->byte_skip) || L->byte_skip < -1))
    return fail_format (error, h, F_BYTE_SKIP, "byte skip \"%s\" is not -1 or a non-negative number",
                        h->field[F_BYTE_SKIP]);
  if (L->byte_skip > MAX_BYTE_SKIP)
    return fail_format (error, h, F_BYTE_SKIP, "byte skip %" G_GINT64_FORMAT " is beyond any real file", L->byte_skip);
  if (L->byte_skip == -1 && L->encoding != E_RAW)
    return fail_format (error, h, F_BYTE_SKIP, "\"byte skip: -1\" is only allowed with raw encoding");
  return TRUE;
}

/* The data file of a detached header: one file, relative to the header's folder. */
char *
nrrd_data_file_path (const Header *h, GError **error)
{
  const char *v = h->field[F_DATA_FILE];
  g_auto (GStrv) w = nrrd_split_words (v);
  guint n = g_strv_length (w);
  if (n == 0)
    {
      fail_format (error, h, F_DATA_FILE, "\"data file\" names no file");
      return NULL;
    }
  if (n >= 4 && strchr (w[0], '%') != NULL)
    {
      int64_t x;
      if (nrrd_parse_int64 (w[1], &x) && nrrd_parse_int64 (w[2], &x) && nrrd_parse_int64 (w[3], &x))
        {
          g_set_error (error, NRRD_ERROR, NRRD_ERROR_UNSUPPORTED,
                       "%s: line %d: numbered data files (\"%s\") are not supported; join them into one file",
                       h->path, h->field_line[F_DATA_FILE], v);
          return NULL;
        }
    }
  if (g_path_is_absolute (v))
    return g_strdup (v);
  g_autofree char *dir = g_path_get_dirname (h->path);
  return g_build_filename (dir, v, NULL);
}
