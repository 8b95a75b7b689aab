/* label-table-read.c: the readers of label table files.
 *
 * Formats (see docs/label-tables.md):
 *   - ITK-SNAP label description:   IDX R G B A VIS MSH "LABEL"   (A in 0..1)
 *   - 3D Slicer colour table:       id name R G B A               (all 0..255)
 *   - mricron names:                id name [extra...]            (+ .lut colours)
 *   - mricron .lut:                 768 bytes, planar: 256 R, then 256 G, then 256 B
 *   - Caret / TotalSegmentator XML: <LabelTable><Label Key=.. Red=.. ...>name</Label>
 *
 * Every reader works on a whole in-memory buffer (regular files only, capped at
 * LT_MAX_FILE_BYTES: model/base/in-file.h),
 * rejects control characters, overlong lines, bad numbers, out-of-range and duplicate ids,
 * and reports "FILE:LINE: problem" through LT_ERROR.
 */
#include "label-table.h"
#include "in-file.h"
#include "strutil.h"

#include <errno.h>
#include <math.h>
#include <string.h>
#include <sys/stat.h>
#include <glib/gstdio.h>

#define LT_MAX_FILE_BYTES (16 * 1024 * 1024)  /* no label table comes near this */
#define LT_MAX_LINE 4096                      /* bytes per line, without the line end */
#define LT_MAX_TOKENS 64
#define LT_MAX_ID G_MAXINT32
#define LT_LUT_BYTES 768                      /* mricron: 256 R + 256 G + 256 B */

/* ------------------------------------------------------------------------- */
/* Text helpers                                                              */

typedef struct {
  const char *p;
  gsize len;
} Tok;

/* A token for an error message: at most 40 bytes, valid UTF-8. */
static char *
shown (Tok t)
{
  gsize n = MIN (t.len, 40);
  g_autofree char *raw = g_strndup (t.p, n);
  char *valid = g_utf8_make_valid (raw, -1);

  if (n < t.len)
    {
      char *longer = g_strconcat (valid, "…", NULL);
      g_free (valid);
      return longer;
    }
  return valid;
}

static void G_GNUC_PRINTF (5, 6)
line_error (GError **error, int code, const char *path, int line, const char *fmt, ...)
{
  va_list ap;
  g_autofree char *msg = NULL;

  va_start (ap, fmt);
  msg = g_strdup_vprintf (fmt, ap);
  va_end (ap);
  if (line > 0)
    g_set_error (error, LT_ERROR, code, "%s:%d: %s", path, line, msg);
  else
    g_set_error (error, LT_ERROR, code, "%s: %s", path, msg);
}

static gboolean
parse_int (Tok t, int64_t min, int64_t max, int64_t *out)
{
  char buf[32];
  char *end = NULL;
  gint64 v;

  if (t.len == 0 || t.len >= sizeof buf)
    return FALSE;
  memcpy (buf, t.p, t.len);
  buf[t.len] = '\0';
  if (!(g_ascii_isdigit (buf[0]) || ((buf[0] == '-' || buf[0] == '+') && g_ascii_isdigit (buf[1]))))
    return FALSE;
  errno = 0;
  v = g_ascii_strtoll (buf, &end, 10);
  if (errno != 0 || end != buf + t.len || v < min || v > max)
    return FALSE;
  *out = v;
  return TRUE;
}

static gboolean
parse_double (const char *s, gsize len, double *out)
{
  char buf[64];
  char *end = NULL;
  double v;

  if (len == 0 || len >= sizeof buf)
    return FALSE;
  memcpy (buf, s, len);
  buf[len] = '\0';
  if (!(g_ascii_isdigit (buf[0]) || buf[0] == '.' || buf[0] == '-' || buf[0] == '+'))
    return FALSE;  /* refuses "inf", "nan", leading blanks */
  errno = 0;
  v = g_ascii_strtod (buf, &end);
  if (errno != 0 || end != buf + len || !isfinite (v))
    return FALSE;
  *out = v;
  return TRUE;
}

static gboolean
is_int_token (Tok t)
{
  int64_t dummy;
  return parse_int (t, G_MININT64 / 2, G_MAXINT64 / 2, &dummy);
}

/* Starts like a number (digit, sign or point). */
static gboolean
looks_numeric (Tok t)
{
  return t.len > 0 && (g_ascii_isdigit (t.p[0]) || t.p[0] == '-' || t.p[0] == '+' || t.p[0] == '.');
}

/* Up to LT_MAX_TOKENS blank-separated tokens; -1 if there are more. */
static int
tokenize (const char *s, gsize len, Tok *toks)
{
  int n = 0;
  gsize i = 0;

  while (i < len)
    {
      gsize start;
      while (i < len && (s[i] == ' ' || s[i] == '\t'))
        i++;
      if (i >= len)
        break;
      start = i;
      while (i < len && s[i] != ' ' && s[i] != '\t')
        i++;
      if (n == LT_MAX_TOKENS)
        return -1;
      toks[n].p = s + start;
      toks[n].len = i - start;
      n++;
    }
  return n;
}

/* A name from raw bytes: UTF-8 kept, anything else read as Latin-1 (old Windows tools). */
static char *
name_from_bytes (const char *s, gsize len)
{
  char *out;

  while (len > 0 && (s[0] == ' ' || s[0] == '\t'))
    s++, len--;
  while (len > 0 && (s[len - 1] == ' ' || s[len - 1] == '\t'))
    len--;
  if (g_utf8_validate_len (s, len, NULL))
    return g_strndup (s, len);
  out = g_convert (s, (gssize) len, "UTF-8", "ISO-8859-1", NULL, NULL, NULL);
  return out != NULL ? out : g_utf8_make_valid (s, (gssize) len);
}

/* Line iteration over a buffer; line ends are \n, \r\n or a lone \r. */
typedef struct {
  const char *p, *end;
  int lineno;
} LineIter;

static gboolean
next_line (LineIter *it, const char **line, gsize *len)
{
  const char *s = it->p;

  if (it->p >= it->end)
    return FALSE;
  while (it->p < it->end && *it->p != '\n' && *it->p != '\r')
    it->p++;
  *line = s;
  *len = (gsize) (it->p - s);
  if (it->p < it->end)
    {
      if (*it->p++ == '\r' && it->p < it->end && *it->p == '\n')
        it->p++;
    }
  it->lineno++;
  return TRUE;
}

/* Blank or a '#' comment. */
static gboolean
is_blank_or_comment (const char *s, gsize len)
{
  gsize i = 0;
  while (i < len && (s[i] == ' ' || s[i] == '\t'))
    i++;
  return i == len || s[i] == '#';
}

/* Checks every line of a text buffer: no control characters, not overlong. */
static gboolean
check_text (const char *path, const char *text, gsize len, GError **error)
{
  LineIter it = { text, text + len, 0 };
  const char *line;
  gsize n;

  while (next_line (&it, &line, &n))
    {
      if (n > LT_MAX_LINE)
        {
          line_error (error, LT_ERROR_PARSE, path, it.lineno,
                      "line is longer than %d bytes", LT_MAX_LINE);
          return FALSE;
        }
      for (gsize i = 0; i < n; i++)
        {
          guchar c = (guchar) line[i];
          if ((c < 0x20 && c != '\t' && c != '\f' && c != '\v') || c == 0x7f)
            {
              line_error (error, LT_ERROR_PARSE, path, it.lineno,
                          "binary data (byte 0x%02x at column %" G_GSIZE_FORMAT "), not a label table",
                          c, i + 1);
              return FALSE;
            }
        }
    }
  return TRUE;
}

/* Adds an entry read from @path:@line, refusing duplicates (@seen maps id -> line). */
static gboolean
add_entry (LabelTable *t, GHashTable *seen, const char *path, int line, int64_t id,
           const char *name, const guint8 rgba[4], GError **error)
{
  gpointer prev;

  if (g_hash_table_lookup_extended (seen, GINT_TO_POINTER ((int32_t) id), NULL, &prev))
    {
      line_error (error, LT_ERROR_PARSE, path, line, "label %" G_GINT64_FORMAT
                  " is already defined on line %d", id, GPOINTER_TO_INT (prev));
      return FALSE;
    }
  g_hash_table_insert (seen, GINT_TO_POINTER ((int32_t) id), GINT_TO_POINTER (line));
  lt_table_set (t, (int32_t) id, name != NULL && name[0] != '\0' ? name : NULL, rgba);
  return TRUE;
}

static gboolean
parse_id (Tok t, const char *path, int line, int64_t *id, GError **error)
{
  g_autofree char *s = NULL;

  if (parse_int (t, 0, LT_MAX_ID, id))
    return TRUE;
  s = shown (t);
  if (is_int_token (t))
    line_error (error, LT_ERROR_PARSE, path, line,
                "label id %s is out of range (0..%d)", s, LT_MAX_ID);
  else
    line_error (error, LT_ERROR_PARSE, path, line, "bad label id “%s”", s);
  return FALSE;
}

static gboolean
parse_byte (Tok t, const char *what, const char *path, int line, guint8 *out, GError **error)
{
  int64_t v;
  g_autofree char *s = NULL;

  if (parse_int (t, 0, 255, &v))
    {
      *out = (guint8) v;
      return TRUE;
    }
  s = shown (t);
  line_error (error, LT_ERROR_PARSE, path, line, "bad %s value “%s” (expected an integer 0..255)",
              what, s);
  return FALSE;
}

/* The colour components red, green, blue (and alpha when @n is 4) from @toks. */
static gboolean
parse_rgba (const Tok *toks, int n, const char *path, int line, guint8 rgba[4], GError **error)
{
  static const char *const what[] = { "red", "green", "blue", "alpha" };

  for (int c = 0; c < n; c++)
    if (!parse_byte (toks[c], what[c], path, line, &rgba[c], error))
      return FALSE;
  return TRUE;
}

/* ------------------------------------------------------------------------- */
/* Text formats                                                              */

typedef enum {
  FMT_UNKNOWN,
  FMT_ITKSNAP,
  FMT_SLICER,
  FMT_MRICRON,
} TextFormat;

/* ITK-SNAP: IDX R G B A VIS MSH "LABEL" */
static gboolean
parse_itksnap_line (LabelTable *t, GHashTable *seen, const char *path, int lineno,
                    const char *line, gsize len, GError **error)
{
  const char *q1 = memchr (line, '"', len);
  const char *q2;
  Tok toks[LT_MAX_TOKENS];
  int n;
  int64_t id, flag;
  guint8 rgba[4];
  double a;
  g_autofree char *name = NULL;

  if (q1 == NULL)
    {
      line_error (error, LT_ERROR_PARSE, path, lineno,
                  "expected IDX R G B A VIS MSH \"LABEL\" (ITK-SNAP label description)");
      return FALSE;
    }
  q2 = line + len - 1;
  while (q2 > q1 && *q2 != '"')
    q2--;
  if (q2 == q1)
    {
      line_error (error, LT_ERROR_PARSE, path, lineno, "unterminated quoted label name");
      return FALSE;
    }
  for (const char *p = q2 + 1; p < line + len; p++)
    if (*p != ' ' && *p != '\t')
      {
        line_error (error, LT_ERROR_PARSE, path, lineno, "unexpected text after the label name");
        return FALSE;
      }
  n = tokenize (line, (gsize) (q1 - line), toks);
  if (n != 7)
    {
      line_error (error, LT_ERROR_PARSE, path, lineno,
                  "expected 7 numbers (IDX R G B A VIS MSH) before the label name, found %d",
                  n < 0 ? LT_MAX_TOKENS + 1 : n);
      return FALSE;
    }
  if (!parse_id (toks[0], path, lineno, &id, error))
    return FALSE;
  if (!parse_rgba (toks + 1, 3, path, lineno, rgba, error))
    return FALSE;
  if (!parse_double (toks[4].p, toks[4].len, &a) || a < 0.0 || a > 1.0)
    {
      g_autofree char *s = shown (toks[4]);
      line_error (error, LT_ERROR_PARSE, path, lineno,
                  "bad alpha value “%s” (expected a number 0..1)", s);
      return FALSE;
    }
  rgba[3] = (guint8) lround (a * 255.0);
  for (int k = 5; k < 7; k++)
    if (!parse_int (toks[k], 0, 1, &flag))
      {
        g_autofree char *s = shown (toks[k]);
        line_error (error, LT_ERROR_PARSE, path, lineno, "bad %s flag “%s” (expected 0 or 1)",
                    k == 5 ? "visibility" : "mesh visibility", s);
        return FALSE;
      }
  name = name_from_bytes (q1 + 1, (gsize) (q2 - q1 - 1));
  return add_entry (t, seen, path, lineno, id, name, rgba, error);
}

/* Slicer: id name R G B A (0..255) */
static gboolean
parse_slicer_line (LabelTable *t, GHashTable *seen, const char *path, int lineno,
                   const char *line, gsize len, GError **error)
{
  Tok toks[LT_MAX_TOKENS];
  int n = tokenize (line, len, toks);
  int64_t id;
  guint8 rgba[4];
  g_autofree char *name = NULL;

  if (n != 6)
    {
      line_error (error, LT_ERROR_PARSE, path, lineno,
                  "expected 6 fields (id name R G B A) of a 3D Slicer colour table, found %d",
                  n < 0 ? LT_MAX_TOKENS + 1 : n);
      return FALSE;
    }
  if (!parse_id (toks[0], path, lineno, &id, error))
    return FALSE;
  if (!parse_rgba (toks + 2, 4, path, lineno, rgba, error))
    return FALSE;
  name = name_from_bytes (toks[1].p, toks[1].len);
  return add_entry (t, seen, path, lineno, id, name, rgba, error);
}

/* mricron: id name [extra...]; the name is every field after the id up to trailing numbers. */
static gboolean
parse_mricron_line (LabelTable *t, GHashTable *seen, const char *path, int lineno,
                    const char *line, gsize len, GError **error)
{
  Tok toks[LT_MAX_TOKENS];
  int n = tokenize (line, len, toks);
  int last;
  int64_t id;
  g_autofree char *name = NULL;

  if (n < 0)
    {
      line_error (error, LT_ERROR_PARSE, path, lineno, "more than %d fields", LT_MAX_TOKENS);
      return FALSE;
    }
  if (n < 2)
    {
      line_error (error, LT_ERROR_PARSE, path, lineno, "expected “id name” (mricron label names)");
      return FALSE;
    }
  if (!parse_id (toks[0], path, lineno, &id, error))
    return FALSE;
  last = n - 1;
  while (last > 1 && is_int_token (toks[last]))
    last--;
  name = name_from_bytes (toks[1].p, (gsize) (toks[last].p + toks[last].len - toks[1].p));
  /* colours are filled in later from the .lut, or generated */
  return add_entry (t, seen, path, lineno, id, name, NULL, error);
}

/* Decides the format from the first data line. */
static TextFormat
sniff_text (const char *text, gsize len, int *first_line)
{
  LineIter it = { text, text + len, 0 };
  const char *line;
  gsize n;

  while (next_line (&it, &line, &n))
    {
      Tok toks[LT_MAX_TOKENS];
      int nt;

      if (is_blank_or_comment (line, n))
        continue;
      *first_line = it.lineno;
      if (memchr (line, '"', n) != NULL)
        return FMT_ITKSNAP;
      nt = tokenize (line, n, toks);
      if (nt < 2 || !looks_numeric (toks[0]))
        return FMT_UNKNOWN;
      /* numeric-looking rather than valid numbers, so that a bad colour is reported
       * as such instead of turning the line into a mricron name */
      if (nt == 6 && looks_numeric (toks[2]) && looks_numeric (toks[3])
          && looks_numeric (toks[4]) && looks_numeric (toks[5]))
        return FMT_SLICER;
      return FMT_MRICRON;
    }
  *first_line = 0;
  return FMT_UNKNOWN;
}

/* ------------------------------------------------------------------------- */
/* mricron .lut                                                              */

/* The .lut is planar: bytes 0..255 are red for index 0..255, 256..511 green, 512..767
 * blue.  (Checked on aal.nii.lut: read planar, all 54 left/right pairs 2k-1, 2k share a
 * colour, as mricron's atlases do; read interleaved, only 4 do.) */
static void
set_lut_size_error (GError **error, const char *path, gsize len)
{
  line_error (error, LT_ERROR_PARSE, path, 0,
              "a mricron colour lookup table has %d bytes, this one has %" G_GSIZE_FORMAT,
              LT_LUT_BYTES, len);
}

static gboolean
read_lut (const char *path, guint8 lut[LT_LUT_BYTES], GError **error)
{
  g_autofree char *data = NULL;
  gsize len = 0;
  g_autoptr (GError) local = NULL;

  /* one byte more than a .lut has, so that a longer file is reported with its size */
  data = in_file_read (path, LT_LUT_BYTES + 1, &len, &local);
  if (data == NULL && g_error_matches (local, IN_FILE_ERROR, IN_FILE_ERROR_TOO_LARGE))
    {
      struct stat st;
      set_lut_size_error (error, path, stat (path, &st) == 0 ? (gsize) st.st_size : LT_LUT_BYTES + 1);
      return FALSE;
    }
  if (data == NULL)
    {
      g_set_error_literal (error, LT_ERROR, LT_ERROR_IO, local->message);
      return FALSE;
    }
  if (len == 0)
    {
      line_error (error, LT_ERROR_EMPTY, path, 0, "empty colour lookup table");
      return FALSE;
    }
  if (len != LT_LUT_BYTES)
    {
      set_lut_size_error (error, path, len);
      return FALSE;
    }
  memcpy (lut, data, LT_LUT_BYTES);
  return TRUE;
}

static void
lut_color (const guint8 lut[LT_LUT_BYTES], int32_t id, guint8 rgba[4])
{
  rgba[0] = lut[id];
  rgba[1] = lut[256 + id];
  rgba[2] = lut[512 + id];
  rgba[3] = id == 0 ? 0 : 255;  /* mricron never draws index 0 */
}


/* The file beside @path with its extension @ext replaced by @other, if it exists. */
static char *
sibling (const char *path, const char *ext, const char *other)
{
  g_autofree char *stem = NULL;
  char *cand;

  if (!str_has_suffix_ci (path, ext))
    return NULL;
  stem = g_strndup (path, strlen (path) - strlen (ext));
  cand = g_strconcat (stem, other, NULL);
  if (g_file_test (cand, G_FILE_TEST_IS_REGULAR))
    return cand;
  g_free (cand);
  return NULL;
}

/* ------------------------------------------------------------------------- */
/* XML (Caret / TotalSegmentator)                                            */

typedef struct {
  LabelTable *table;
  GHashTable *seen;
  const char *source;
  int table_depth;      /* element depth of the LabelTable being read; 0 when outside */
  int depth;
  gboolean done;        /* the first LabelTable has been read */
  gboolean in_label;
  int label_line;
  int64_t key;
  guint8 rgba[4];
  gboolean has_color;
  GString *text;
} XmlState;

static gboolean
xml_unit (GMarkupParseContext *ctx, XmlState *st, const char *attr, const char *value,
          guint8 *out, GError **error)
{
  double v;
  int line;

  if (parse_double (value, strlen (value), &v) && v >= 0.0 && v <= 1.0)
    {
      *out = (guint8) lround (v * 255.0);
      return TRUE;
    }
  g_markup_parse_context_get_position (ctx, &line, NULL);
  {
    g_autofree char *s = shown ((Tok) { value, strlen (value) });
    line_error (error, LT_ERROR_PARSE, st->source, line,
                "bad %s value “%s” (expected a number 0..1)", attr, s);
  }
  return FALSE;
}

static void
xml_start (GMarkupParseContext *ctx, const char *element, const char **names,
           const char **values, gpointer user_data, GError **error)
{
  XmlState *st = user_data;
  const char *key = NULL;
  int line;

  st->depth++;
  if (strcmp (element, "LabelTable") == 0)
    {
      if (!st->done && st->table_depth == 0)
        st->table_depth = st->depth;
      return;
    }
  if (strcmp (element, "Label") != 0 || st->table_depth == 0 || st->depth != st->table_depth + 1)
    return;

  g_markup_parse_context_get_position (ctx, &line, NULL);
  st->in_label = TRUE;
  st->label_line = line;
  st->has_color = FALSE;
  st->rgba[0] = st->rgba[1] = st->rgba[2] = 0;
  st->rgba[3] = 255;
  g_string_truncate (st->text, 0);
  for (int i = 0; names[i] != NULL; i++)
    {
      const char *n = names[i];
      int c = strcmp (n, "Red") == 0 ? 0 : strcmp (n, "Green") == 0 ? 1
            : strcmp (n, "Blue") == 0 ? 2 : strcmp (n, "Alpha") == 0 ? 3 : -1;
      if (strcmp (n, "Key") == 0 || strcmp (n, "Index") == 0)
        key = values[i];
      else if (c >= 0)
        {
          if (!xml_unit (ctx, st, n, values[i], &st->rgba[c], error))
            return;
          if (c < 3)
            st->has_color = TRUE;
        }
    }
  if (key == NULL)
    {
      line_error (error, LT_ERROR_PARSE, st->source, line, "<Label> without a Key attribute");
      return;
    }
  if (!parse_id ((Tok) { key, strlen (key) }, st->source, line, &st->key, error))
    return;
}

static void
xml_end (GMarkupParseContext *ctx, const char *element, gpointer user_data, GError **error)
{
  XmlState *st = user_data;

  if (st->in_label && strcmp (element, "Label") == 0 && st->depth == st->table_depth + 1)
    {
      g_autofree char *name = name_from_bytes (st->text->str, st->text->len);
      st->in_label = FALSE;
      add_entry (st->table, st->seen, st->source, st->label_line, st->key, name,
                 st->has_color ? st->rgba : NULL, error);
    }
  else if (st->table_depth != 0 && st->depth == st->table_depth && strcmp (element, "LabelTable") == 0)
    {
      st->table_depth = 0;
      st->done = TRUE;
    }
  st->depth--;
}

static void
xml_text (GMarkupParseContext *ctx, const char *text, gsize len, gpointer user_data, GError **error)
{
  XmlState *st = user_data;

  if (!st->in_label)
    return;
  if (st->text->len + len > LT_MAX_LINE)
    {
      int line;
      g_markup_parse_context_get_position (ctx, &line, NULL);
      line_error (error, LT_ERROR_PARSE, st->source, line,
                  "label name longer than %d bytes", LT_MAX_LINE);
      return;
    }
  g_string_append_len (st->text, text, (gssize) len);
}

LabelTable *
lt_table_from_xml (const char *xml, gsize len, const char *source, GError **error)
{
  static const GMarkupParser parser = { xml_start, xml_end, xml_text, NULL, NULL };
  g_autoptr (LabelTable) t = NULL;
  g_autoptr (GHashTable) seen = NULL;
  g_autoptr (GMarkupParseContext) ctx = NULL;
  g_autoptr (GError) local = NULL;
  XmlState st = { 0 };

  if (source == NULL)
    source = "XML label table";
  if (xml == NULL)
    return NULL;
  /* NIfTI extensions are padded with NULs to a multiple of 16 bytes. */
  len = strnlen (xml, len);
  if (len > LT_MAX_FILE_BYTES)
    {
      line_error (error, LT_ERROR_PARSE, source, 0, "XML label table larger than %d bytes",
                  LT_MAX_FILE_BYTES);
      return NULL;
    }
  if (!g_utf8_validate_len (xml, len, NULL))
    {
      line_error (error, LT_ERROR_PARSE, source, 0, "XML label table is not valid UTF-8");
      return NULL;
    }

  t = lt_table_new (source);
  seen = g_hash_table_new (NULL, NULL);
  st.table = t;
  st.seen = seen;
  st.source = source;
  st.text = g_string_new (NULL);
  ctx = g_markup_parse_context_new (&parser, G_MARKUP_TREAT_CDATA_AS_TEXT, &st, NULL);
  if (!g_markup_parse_context_parse (ctx, xml, (gssize) len, &local)
      || !g_markup_parse_context_end_parse (ctx, &local))
    {
      g_string_free (st.text, TRUE);
      if (local->domain == LT_ERROR)
        g_propagate_error (error, g_steal_pointer (&local));
      else
        {
          int line;
          g_markup_parse_context_get_position (ctx, &line, NULL);
          line_error (error, LT_ERROR_PARSE, source, line, "bad XML: %s", local->message);
        }
      return NULL;
    }
  g_string_free (st.text, TRUE);
  if (t->entries->len == 0)
    return NULL;  /* no label table here */
  return g_steal_pointer (&t);
}

/* ------------------------------------------------------------------------- */
/* Loading files                                                             */

static char *
read_bounded (const char *path, gsize *len_out, GError **error)
{
  g_autoptr (GError) local = NULL;
  /* a regular file only (a FIFO or /dev/zero would block or never end), and at most
   * LT_MAX_FILE_BYTES whatever the file claims */
  char *data = in_file_read (path, LT_MAX_FILE_BYTES, len_out, &local);

  if (data == NULL)
    g_set_error_literal (error, LT_ERROR,
                         g_error_matches (local, IN_FILE_ERROR, IN_FILE_ERROR_TOO_LARGE) ? LT_ERROR_PARSE : LT_ERROR_IO,
                         local->message);
  return data;
}

/* A table made from a .lut alone: indices 1..255 ("label N"), 0 as background. */
static LabelTable *
table_from_lut (const char *path, GError **error)
{
  guint8 lut[LT_LUT_BYTES];
  LabelTable *t;

  if (!read_lut (path, lut, error))
    return NULL;
  t = lt_table_new (path);
  for (int32_t id = 0; id < 256; id++)
    {
      guint8 rgba[4];
      lut_color (lut, id, rgba);
      lt_table_set (t, id, id == 0 ? "background" : NULL, rgba);
    }
  return t;
}

static LabelTable *
load_text (const char *path, const char *text, gsize len, GError **error)
{
  g_autoptr (LabelTable) t = NULL;
  g_autoptr (GHashTable) seen = NULL;
  g_autofree char *lut_path = NULL;
  LineIter it;
  const char *line;
  gsize n;
  int first = 0;
  TextFormat fmt;

  if (!check_text (path, text, len, error))
    return NULL;
  fmt = sniff_text (text, len, &first);
  if (first == 0)
    {
      line_error (error, LT_ERROR_EMPTY, path, 0, "no labels (empty or only comments)");
      return NULL;
    }
  /* Extension hints: a .ctbl is a Slicer table; a .txt with a .lut beside it is mricron. */
  if (str_has_suffix_ci (path, ".txt"))
    lut_path = sibling (path, ".txt", ".lut");
  if (fmt == FMT_SLICER && lut_path != NULL && !str_has_suffix_ci (path, ".ctbl"))
    fmt = FMT_MRICRON;
  if (fmt == FMT_UNKNOWN)
    {
      line_error (error, LT_ERROR_PARSE, path, first,
                  "not a label table line (expected ITK-SNAP “IDX R G B A VIS MSH \"LABEL\"”, "
                  "Slicer “id name R G B A” or mricron “id name”)");
      return NULL;
    }

  t = lt_table_new (path);
  seen = g_hash_table_new (NULL, NULL);
  it = (LineIter) { text, text + len, 0 };
  while (next_line (&it, &line, &n))
    {
      gboolean ok;

      if (is_blank_or_comment (line, n))
        continue;
      switch (fmt)
        {
        case FMT_ITKSNAP: ok = parse_itksnap_line (t, seen, path, it.lineno, line, n, error); break;
        case FMT_SLICER:  ok = parse_slicer_line (t, seen, path, it.lineno, line, n, error); break;
        default:          ok = parse_mricron_line (t, seen, path, it.lineno, line, n, error); break;
        }
      if (!ok)
        return NULL;
    }

  if (fmt == FMT_SLICER)
    {
      /* FreeSurferColorLUT.txt has the same layout but its last column is transparency
       * (0 = opaque): a table whose every non-background entry has A = 0 is read so. */
      gboolean all_zero = TRUE, any = FALSE;
      for (guint i = 0; i < t->entries->len; i++)
        {
          LabelEntry *e = &g_array_index (t->entries, LabelEntry, i);
          if (e->id != 0)
            {
              any = TRUE;
              all_zero = all_zero && e->rgba[3] == 0;
            }
        }
      if (any && all_zero)
        for (guint i = 0; i < t->entries->len; i++)
          {
            LabelEntry *e = &g_array_index (t->entries, LabelEntry, i);
            e->rgba[3] = e->id == 0 ? 0 : 255;
          }
    }
  else if (fmt == FMT_MRICRON && lut_path != NULL)
    {
      guint8 lut[LT_LUT_BYTES];
      if (!read_lut (lut_path, lut, error))
        return NULL;
      for (guint i = 0; i < t->entries->len; i++)
        {
          LabelEntry *e = &g_array_index (t->entries, LabelEntry, i);
          if (e->id < 256)
            lut_color (lut, e->id, e->rgba);
        }
    }
  return g_steal_pointer (&t);
}

LabelTable *
lt_table_load (const char *path, GError **error)
{
  g_autofree char *data = NULL;
  gsize len = 0, off = 0, bom = 0;

  g_return_val_if_fail (path != NULL, NULL);

  data = read_bounded (path, &len, error);
  if (data == NULL)
    return NULL;
  if (len == 0)
    {
      line_error (error, LT_ERROR_EMPTY, path, 0, "empty file");
      return NULL;
    }
  /* A 768-byte file named .lut, or any 768-byte binary file, is a mricron colour table. */
  if (len == LT_LUT_BYTES && (str_has_suffix_ci (path, ".lut") || memchr (data, '\0', len) != NULL))
    {
      g_autofree char *names = sibling (path, ".lut", ".txt");
      if (names != NULL)
        return lt_table_load (names, error);
      return table_from_lut (path, error);
    }
  if (str_has_suffix_ci (path, ".lut"))
    {
      set_lut_size_error (error, path, len);
      return NULL;
    }

  if (len >= 3 && memcmp (data, "\xef\xbb\xbf", 3) == 0)
    bom = 3;  /* UTF-8 byte order mark */
  off = bom;
  while (off < len && g_ascii_isspace (data[off]))
    off++;
  if (off < len && data[off] == '<')
    {
      g_autoptr (GError) local = NULL;
      LabelTable *t;

      if (memchr (data, '\0', len) != NULL)
        {
          line_error (error, LT_ERROR_PARSE, path, 0, "binary data (NUL byte), not a label table");
          return NULL;
        }
      t = lt_table_from_xml (data, len, path, &local);
      if (local != NULL)
        {
          g_propagate_error (error, g_steal_pointer (&local));
          return NULL;
        }
      if (t == NULL)
        line_error (error, LT_ERROR_EMPTY, path, 0, "XML without a <LabelTable> of <Label> elements");
      return t;
    }
  return load_text (path, data + bom, len - bom, error);
}
