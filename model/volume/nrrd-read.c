/* nrrd-read.c: the NRRD label map reader (see nrrd.h for what is accepted and why).
 *
 * Steps: stat + open (regular files only), read the header line by line from a buffered
 * source (bounded lines, bounded header), keep the fields we use and the 3D Slicer segment
 * keys, validate everything (sizes, type, encoding, space, directions, layer axis), then
 * read the samples of all layers into one buffer of the file's type (raw: straight read;
 * gzip: zlib inflate to the end of the stream; hex/ascii: decoded), swap bytes, check that
 * they are integral labels, convert them in place to the compact storage, and for 4D files
 * flatten the layers into one label per voxel.  Peak memory: the samples in the file's type,
 * plus one int32 per voxel when layers are flattened.
 */
#include "nrrd.h"
#include "in-file.h"
#include "out-file.h"
#include "strutil.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

G_DEFINE_QUARK (nrrd-error-quark, nrrd_error)

#define NRRD_DIM_MAX 16          /* the format's own limit */
#define DEFLATE_MAX_RATIO 1032   /* deflate never expands more than this */
#define IO_CHUNK (256 * 1024)
#define MAX_LINE_SKIP (1 << 24)
#define MAX_ASCII_TOKEN 128
#define MAX_BYTE_SKIP ((int64_t) 1 << 40)

/* --- sample types ------------------------------------------------------------------------ */

typedef enum {
  T_NONE, T_I8, T_U8, T_I16, T_U16, T_I32, T_U32, T_I64, T_U64, T_F32, T_F64, T_BLOCK,
} SampleType;

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

static const char *const type_canonical[] = {
  "", "int8", "uint8", "int16", "uint16", "int32", "uint32", "int64", "uint64", "float", "double", "block",
};
static const int type_bytes[] = { 0, 1, 1, 2, 2, 4, 4, 8, 8, 4, 8, 0 };

enum { E_NONE, E_RAW, E_GZIP, E_HEX, E_ASCII };
static const char *const encoding_canonical[] = { "", "raw", "gzip", "hex", "ascii" };

/* How a space's axes relate to RAS: sign of the x and y rows. */
typedef struct {
  const char *name;
  int dim;        /* space dimension */
  double sx, sy;  /* multiply the x / y rows by these to get RAS */
  const char *canonical;
} SpaceDef;

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

/* --- header fields ------------------------------------------------------------------------ */

enum {
  F_DIMENSION, F_TYPE, F_SIZES, F_ENCODING, F_ENDIAN, F_SPACE, F_SPACE_DIMENSION,
  F_SPACE_DIRECTIONS, F_SPACE_ORIGIN, F_SPACINGS, F_KINDS, F_DATA_FILE, F_LINE_SKIP,
  F_BYTE_SKIP, F_BLOCK_SIZE, F_IGNORED, N_FIELDS
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

/* One 3D Slicer segment from the Segment<N>_* keys. */
typedef struct {
  int index;                 /* N */
  char *id, *name, *color, *default_color;
  int64_t label, layer;
  gboolean has_label, has_layer, label_bad, layer_bad;
  int32_t out_label;         /* label in the returned volume, 0 when the segment is ignored */
} Segment;

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

typedef struct {
  const char *path;             /* the header file */
  int version;
  char *field[N_FIELDS];        /* raw values of the fields we use (owned) */
  int field_line[N_FIELDS];
  GHashTable *segments;         /* N -> Segment */
  int64_t data_offset;          /* attached: first byte after the header */
} Header;

/* --- a buffered, bounded reader over a file descriptor ----------------------------------- */

typedef struct {
  int fd;
  char *path;        /* for messages */
  int64_t size;      /* bytes in the file */
  int64_t off;       /* file offset of buf[start] */
  guint8 *buf;
  gsize cap, start, end;
  gboolean eof;
} Src;

static void
src_close (Src *s)
{
  if (s->fd >= 0)
    close (s->fd);
  s->fd = -1;
  g_clear_pointer (&s->buf, g_free);
  g_clear_pointer (&s->path, g_free);
}

/* Open a regular file without ever blocking (model/base/in-file.h: stat() first, a FIFO or
 * device is refused before open, then open non-blocking and check that the descriptor is
 * that file). */
static gboolean
src_open (Src *s, const char *path, const char *role, GError **error)
{
  struct stat fst;
  g_autoptr (GError) local = NULL;

  memset (s, 0, sizeof *s);
  s->fd = -1;
  int fd = in_file_open (path, &fst, &local);
  if (fd < 0)
    {
      /* "PATH (the data file): is a FIFO ..." */
      const char *rest = g_str_has_prefix (local->message, path) ? local->message + strlen (path) : local->message;
      g_set_error (error, NRRD_ERROR, NRRD_ERROR_IO, "%s%s%s%s%s", path, role ? " (" : "", role ? role : "",
                   role ? ")" : "", rest);
      return FALSE;
    }
  s->fd = fd;
  s->path = g_strdup (path);
  s->size = fst.st_size;
  s->cap = 64 * 1024;
  s->buf = g_malloc (s->cap + 1);
  return TRUE;
}

static gsize
src_avail (const Src *s)
{
  return s->end - s->start;
}

static void
src_consume (Src *s, gsize n)
{
  s->start += n;
  s->off += (int64_t) n;
}

static gboolean
src_read_error (Src *s, int err, GError **error)
{
  g_set_error (error, NRRD_ERROR, NRRD_ERROR_IO, "%s: read error: %s", s->path, g_strerror (err));
  return FALSE;
}

/* Read more bytes behind the buffered ones; sets eof at the end of the file. */
static gboolean
src_fill (Src *s, GError **error)
{
  if (s->start > 0)
    {
      memmove (s->buf, s->buf + s->start, s->end - s->start);
      s->end -= s->start;
      s->start = 0;
    }
  if (s->end == s->cap || s->eof)
    return TRUE;
  ssize_t r;
  do
    r = read (s->fd, s->buf + s->end, s->cap - s->end);
  while (r < 0 && errno == EINTR);
  if (r < 0)
    return src_read_error (s, errno, error);
  if (r == 0)
    s->eof = TRUE;
  s->end += (gsize) r;
  return TRUE;
}

/* The next line without its "\n" (and "\r"), NUL-terminated, valid until the next call.
 * Returns 1 for a line, 0 at the end of the file, -1 on error (a line over @max bytes). */
static int
src_getline (Src *s, char **line, gsize *len, gsize max, int lineno, GError **error)
{
  gsize scanned = 0;
  for (;;)
    {
      guint8 *nl = memchr (s->buf + s->start + scanned, '\n', src_avail (s) - scanned);
      if (nl != NULL)
        {
          gsize n = (gsize) (nl - (s->buf + s->start));
          if (n > max)
            break;
          *line = (char *) s->buf + s->start;
          *nl = '\0';
          if (n > 0 && (*line)[n - 1] == '\r')
            (*line)[--n] = '\0';
          *len = n;
          src_consume (s, n + 1);
          return 1;
        }
      scanned = src_avail (s);
      if (scanned > max)
        break;
      if (s->eof)
        {
          if (scanned == 0)
            return 0;
          *line = (char *) s->buf + s->start;
          s->buf[s->end] = '\0'; /* cap + 1 bytes are allocated */
          *len = scanned;
          if (scanned > 0 && (*line)[scanned - 1] == '\r')
            (*line)[--(*len)] = '\0';
          src_consume (s, scanned);
          return 1;
        }
      if (s->start == 0 && s->end == s->cap)
        {
          s->cap = MIN (s->cap * 2, max + 2);
          s->buf = g_realloc (s->buf, s->cap + 1);
        }
      if (!src_fill (s, error))
        return -1;
    }
  g_set_error (error, NRRD_ERROR, NRRD_ERROR_TOO_LARGE,
               "%s: line %d of the header is longer than %u bytes (is the blank line that ends the header missing?)",
               s->path, lineno, (unsigned) max);
  return -1;
}

/* Read up to @n bytes into @dst; returns the count (short only at the end of the file), or -1. */
static int64_t
src_read (Src *s, void *dst, int64_t n, GError **error)
{
  int64_t done = MIN ((int64_t) src_avail (s), n);
  memcpy (dst, s->buf + s->start, (size_t) done);
  src_consume (s, (gsize) done);
  while (done < n)
    {
      size_t chunk = (size_t) MIN (n - done, (int64_t) 1 << 30);
      ssize_t r = read (s->fd, (guint8 *) dst + done, chunk);
      if (r < 0 && errno == EINTR)
        continue;
      if (r < 0)
        {
          src_read_error (s, errno, error);
          return -1;
        }
      if (r == 0)
        {
          s->eof = TRUE;
          break;
        }
      done += r;
      s->off += r;
    }
  return done;
}

/* Move to file offset @to (>= the current one); FALSE if it lies past the end. */
static gboolean
src_seek (Src *s, int64_t to, GError **error)
{
  if (to <= s->off + (int64_t) src_avail (s))
    {
      src_consume (s, (gsize) (to - s->off));
      return TRUE;
    }
  if (to > s->size)
    return FALSE;
  if (lseek (s->fd, to, SEEK_SET) < 0)
    return src_read_error (s, errno, error);
  s->start = s->end = 0;
  s->off = to;
  s->eof = FALSE;
  return TRUE;
}

/* Next byte, or -1 at the end of the file, -2 on error. */
static int
src_getc (Src *s, GError **error)
{
  if (src_avail (s) == 0)
    {
      if (!src_fill (s, error))
        return -2;
      if (src_avail (s) == 0)
        return -1;
    }
  int c = s->buf[s->start];
  src_consume (s, 1);
  return c;
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

static gboolean
parse_int64 (const char *s, int64_t *out)
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

static gboolean
parse_double (const char *s, double *out)
{
  char *end;
  if (*s == '\0')
    return FALSE;
  *out = g_ascii_strtod (s, &end);
  return end != s && *end == '\0';
}

/* Whitespace-separated words of @s (a NULL-terminated vector, owned). */
static char **
split_words (const char *s)
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
      if (!parse_double (parts[i], &v[i]))
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

static void
header_clear (Header *h)
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
      gboolean ok = parse_int64 (value, &v);
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
static gboolean
header_read (Header *h, Src *s, GError **error)
{
  char *line;
  gsize len;
  int lineno = 1;
  if (!src_fill (s, error))
    return FALSE;
  if (src_avail (s) < 4 || memcmp (s->buf + s->start, "NRRD", 4) != 0)
    {
      g_set_error (error, NRRD_ERROR, NRRD_ERROR_FORMAT, "%s: not a NRRD file (it does not start with \"NRRD000N\")",
                   s->path);
      return FALSE;
    }
  int r = src_getline (s, &line, &len, 64, lineno, NULL);
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
      r = src_getline (s, &line, &len, NRRD_MAX_LINE_BYTES, lineno, error);
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

/* --- the validated description ------------------------------------------------------------ */

typedef struct {
  int dim;
  int64_t sizes[NRRD_DIM_MAX];
  SampleType type;
  int encoding;
  int endian;                 /* 0 not given, G_LITTLE_ENDIAN or G_BIG_ENDIAN */
  const SpaceDef *space;      /* NULL: none named */
  int layer_axis;             /* -1 for 3D */
  int spatial[3];             /* the file axes that are i, j, k */
  int64_t n_voxels, n_samples, n_layers;
  double affine[4][4];        /* RAS */
  int64_t line_skip, byte_skip;
} Layout;

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

static gboolean
layout_from_header (const Header *h, int64_t max_voxels, Layout *L, GError **error)
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
  else if (type_bytes[L->type] > 1 && L->encoding != E_ASCII)
    return fail_format (error, h, -1, "%d-byte %s samples need an \"endian\" field", type_bytes[L->type],
                        type_canonical[L->type]);

  /* dimension and sizes */
  int64_t dim;
  if (!parse_int64 (h->field[F_DIMENSION], &dim) || dim < 1 || dim > NRRD_DIM_MAX)
    return fail_format (error, h, F_DIMENSION, "dimension \"%s\" is not a number from 1 to %d",
                        h->field[F_DIMENSION], NRRD_DIM_MAX);
  L->dim = (int) dim;
  g_auto (GStrv) sizes = split_words (h->field[F_SIZES]);
  if ((int) g_strv_length (sizes) != L->dim)
    return fail_format (error, h, F_SIZES, "\"sizes\" lists %u sizes for dimension %d", g_strv_length (sizes), L->dim);
  for (int a = 0; a < L->dim; a++)
    if (!parse_int64 (sizes[a], &L->sizes[a]) || L->sizes[a] < 1)
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
      if (!parse_int64 (h->field[F_SPACE_DIMENSION], &sd) || sd < 1 || sd > NRRD_DIM_MAX)
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
      kinds = split_words (h->field[F_KINDS]);
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
                     (double) nsamp * type_bytes[L->type] / 1048576.0, type_canonical[L->type], max_voxels);
      g_string_free (s, TRUE);
      return FALSE;
    }
  if (nsamp > G_MAXINT64 / 8 || (uint64_t) nsamp * type_bytes[L->type] > G_MAXSIZE / 2)
    {
      g_set_error (error, NRRD_ERROR, NRRD_ERROR_TOO_LARGE, "%s: %" G_GINT64_FORMAT " samples of %s overflow the "
                   "address space", h->path, nsamp, type_canonical[L->type]);
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
          sp = split_words (h->field[F_SPACINGS]);
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
              if (!parse_double (w, &v))
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
      && (!parse_int64 (h->field[F_LINE_SKIP], &L->line_skip) || L->line_skip < 0 || L->line_skip > MAX_LINE_SKIP))
    return fail_format (error, h, F_LINE_SKIP, "line skip \"%s\" is not a number from 0 to %d",
                        h->field[F_LINE_SKIP], MAX_LINE_SKIP);
  if (h->field[F_BYTE_SKIP] != NULL
      && (!parse_int64 (h->field[F_BYTE_SKIP], &L->byte_skip) || L->byte_skip < -1))
    return fail_format (error, h, F_BYTE_SKIP, "byte skip \"%s\" is not -1 or a non-negative number",
                        h->field[F_BYTE_SKIP]);
  if (L->byte_skip > MAX_BYTE_SKIP)
    return fail_format (error, h, F_BYTE_SKIP, "byte skip %" G_GINT64_FORMAT " is beyond any real file", L->byte_skip);
  if (L->byte_skip == -1 && L->encoding != E_RAW)
    return fail_format (error, h, F_BYTE_SKIP, "\"byte skip: -1\" is only allowed with raw encoding");
  return TRUE;
}

/* The data file of a detached header: one file, relative to the header's folder. */
static char *
data_file_path (const Header *h, GError **error)
{
  const char *v = h->field[F_DATA_FILE];
  g_auto (GStrv) w = split_words (v);
  guint n = g_strv_length (w);
  if (n == 0)
    {
      fail_format (error, h, F_DATA_FILE, "\"data file\" names no file");
      return NULL;
    }
  if (n >= 4 && strchr (w[0], '%') != NULL)
    {
      int64_t x;
      if (parse_int64 (w[1], &x) && parse_int64 (w[2], &x) && parse_int64 (w[3], &x))
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

/* --- reading the samples ------------------------------------------------------------------ */

static void
set_truncated (GError **error, const char *what, int64_t got, int64_t want, const char *unit, const char *how)
{
  g_set_error (error, NRRD_ERROR, NRRD_ERROR_TRUNCATED,
               "%s: data are shorter than the sizes say: %" G_GINT64_FORMAT " of %" G_GINT64_FORMAT " %s%s",
               what, got, want, unit, how ? how : "");
}

/* Inflate a gzip (or zlib) stream from @s: @skip bytes are dropped, then @n bytes go to
 * @dst; the stream is then inflated to its end, so that its CRC and length are checked.
 * *@extra receives the bytes it held beyond the data. */
static gboolean
read_gzip (Src *s, const char *what, int64_t skip, guint8 *dst, int64_t n, int64_t *extra, GError **error)
{
  z_stream zs;
  memset (&zs, 0, sizeof zs);
  if (inflateInit2 (&zs, 15 + 32) != Z_OK)
    {
      g_set_error (error, NRRD_ERROR, NRRD_ERROR_TOO_LARGE, "%s: cannot start gzip decompression", what);
      return FALSE;
    }
  g_autofree guint8 *scratch = g_malloc (IO_CHUNK);
  int64_t skipped = 0, done = 0, beyond = 0;
  gboolean ended = FALSE, ok = FALSE;
  for (;;)
    {
      /* where the next output goes */
      guint8 *out;
      int64_t room;
      if (skipped < skip)
        {
          out = scratch;
          room = MIN (skip - skipped, (int64_t) IO_CHUNK);
        }
      else if (done < n)
        {
          out = dst + done;
          room = MIN (n - done, (int64_t) 1 << 30);
        }
      else if (ended)
        break;
      else
        {
          out = scratch;
          room = IO_CHUNK;
        }
      if (src_avail (s) == 0 && !src_fill (s, error))
        goto out;
      zs.next_in = s->buf + s->start;
      zs.avail_in = (uInt) src_avail (s);
      zs.next_out = out;
      zs.avail_out = (uInt) room;
      int r = inflate (&zs, Z_NO_FLUSH);
      gsize used = src_avail (s) - zs.avail_in;
      int64_t produced = room - zs.avail_out;
      src_consume (s, used);
      if (skipped < skip)
        skipped += produced;
      else if (done < n)
        done += produced;
      else
        beyond += produced;
      if (r == Z_BUF_ERROR && src_avail (s) == 0 && s->eof)
        {
          /* no progress possible: the file ends inside the stream */
          if (done < n)
            set_truncated (error, what, done, n, "bytes", " (the gzip stream is cut short)");
          else
            g_set_error (error, NRRD_ERROR, NRRD_ERROR_TRUNCATED,
                         "%s: the gzip stream is cut short after the data (its end and CRC are missing)", what);
          goto out;
        }
      if (r == Z_STREAM_END)
        {
          if (done >= n && skipped >= skip)
            {
              ended = TRUE;
              continue;
            }
          /* another gzip member may follow (concatenated streams) */
          if (src_avail (s) < 2 && !src_fill (s, error))
            goto out;
          if (src_avail (s) >= 2 && s->buf[s->start] == 0x1f && s->buf[s->start + 1] == 0x8b)
            {
              inflateReset (&zs);
              continue;
            }
          set_truncated (error, what, done, n, "bytes", " (the gzip stream ends early)");
          goto out;
        }
      if (r == Z_DATA_ERROR)
        {
          g_set_error (error, NRRD_ERROR, NRRD_ERROR_CORRUPT, "%s: the gzip stream is corrupt (%s)", what,
                       zs.msg ? zs.msg : "invalid data");
          goto out;
        }
      if (r == Z_MEM_ERROR)
        {
          g_set_error (error, NRRD_ERROR, NRRD_ERROR_TOO_LARGE, "%s: out of memory while decompressing", what);
          goto out;
        }
      if (r != Z_OK && r != Z_BUF_ERROR)
        {
          g_set_error (error, NRRD_ERROR, NRRD_ERROR_CORRUPT, "%s: gzip decompression failed (%s)", what,
                       zs.msg ? zs.msg : "zlib error");
          goto out;
        }
    }
  *extra = beyond;
  ok = TRUE;
out:
  inflateEnd (&zs);
  return ok;
}

static int
hex_value (int c)
{
  if (c >= '0' && c <= '9')
    return c - '0';
  if (c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  if (c >= 'A' && c <= 'F')
    return c - 'A' + 10;
  return -1;
}

static gboolean
read_hex (Src *s, const char *what, guint8 *dst, int64_t n, GError **error)
{
  for (int64_t i = 0; i < n; i++)
    {
      int v = 0;
      for (int half = 0; half < 2; half++)
        {
          int c;
          do
            c = src_getc (s, error);
          while (c == ' ' || c == '\t' || c == '\n' || c == '\r');
          if (c == -2)
            return FALSE;
          if (c == -1)
            {
              set_truncated (error, what, i, n, "bytes", " (hex data end early)");
              return FALSE;
            }
          int d = hex_value (c);
          if (d < 0)
            {
              g_set_error (error, NRRD_ERROR, NRRD_ERROR_FORMAT,
                           "%s: byte %" G_GINT64_FORMAT ": \"%c\" is not a hex digit", what, s->off - 1,
                           g_ascii_isprint (c) ? c : '?');
              return FALSE;
            }
          v = v * 16 + d;
        }
      dst[i] = (guint8) v;
    }
  return TRUE;
}

/* ASCII values separated by blanks, line ends or commas, stored in the host's byte order. */
static gboolean
read_ascii (Src *s, const char *what, SampleType t, guint8 *dst, int64_t n, GError **error)
{
  char tok[MAX_ASCII_TOKEN + 1];
  for (int64_t i = 0; i < n; i++)
    {
      int c, len = 0;
      do
        c = src_getc (s, error);
      while (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == ',');
      while (c >= 0 && !(c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == ','))
        {
          if (len == MAX_ASCII_TOKEN)
            {
              g_set_error (error, NRRD_ERROR, NRRD_ERROR_FORMAT, "%s: value %" G_GINT64_FORMAT
                           " of the ascii data is longer than %d characters", what, i + 1, MAX_ASCII_TOKEN);
              return FALSE;
            }
          tok[len++] = (char) c;
          c = src_getc (s, error);
        }
      if (c == -2)
        return FALSE;
      if (len == 0)
        {
          set_truncated (error, what, i, n, "values", " (ascii data end early)");
          return FALSE;
        }
      tok[len] = '\0';
      gboolean ok;
      if (t == T_F32 || t == T_F64)
        {
          double d;
          ok = parse_double (tok, &d);
          if (ok && t == T_F32)
            {
              float f = (float) d;
              memcpy (dst + 4 * i, &f, 4);
            }
          else if (ok)
            memcpy (dst + 8 * i, &d, 8);
        }
      else
        {
          int64_t v = 0;
          ok = parse_int64 (tok, &v);
          if (t == T_U64 && !ok)
            {
              /* above INT64_MAX: can only be refused later as out of the label range */
              char *end;
              errno = 0;
              guint64 u = g_ascii_strtoull (tok, &end, 10);
              ok = errno == 0 && *end == '\0' && tok[0] != '-';
              if (ok)
                memcpy (dst + 8 * i, &u, 8);
              if (!ok)
                goto bad;
              continue;
            }
          static const int64_t lo[] = { 0, G_MININT8, 0, G_MININT16, 0, G_MININT32, 0, G_MININT64, 0 };
          static const int64_t hi[] = { 0, G_MAXINT8, G_MAXUINT8, G_MAXINT16, G_MAXUINT16, G_MAXINT32,
                                        G_MAXUINT32, G_MAXINT64, G_MAXINT64 };
          ok = ok && v >= lo[t] && v <= hi[t];
          if (ok)
            switch (t)
              {
              case T_I8: case T_U8: dst[i] = (guint8) v; break;
              case T_I16: case T_U16: { guint16 x = (guint16) v; memcpy (dst + 2 * i, &x, 2); } break;
              case T_I32: case T_U32: { guint32 x = (guint32) v; memcpy (dst + 4 * i, &x, 4); } break;
              default: memcpy (dst + 8 * i, &v, 8); break;
              }
        }
      if (!ok)
        {
        bad:
          g_set_error (error, NRRD_ERROR, NRRD_ERROR_FORMAT, "%s: value %" G_GINT64_FORMAT " of the ascii data, "
                       "\"%s\", is not a %s", what, i + 1, tok, type_canonical[t]);
          return FALSE;
        }
    }
  return TRUE;
}

static void
byteswap_samples (guint8 *b, int64_t n, int es)
{
  for (int64_t i = 0; i < n; i++, b += es)
    for (int x = 0; x < es / 2; x++)
      {
        guint8 t = b[x];
        b[x] = b[es - 1 - x];
        b[es - 1 - x] = t;
      }
}

/* --- samples to labels --------------------------------------------------------------------- */

typedef struct {
  int64_t lo, hi;
  int64_t bad_index;   /* first sample that is not an int32 label, or -1 */
  double bad_value;
} Range;

#define RANGE_LOOP(ctype, check)                                         \
  do                                                                     \
    {                                                                    \
      const ctype *d = buf;                                              \
      for (int64_t i = 0; i < n; i++)                                    \
        {                                                                \
          ctype x = d[i];                                                \
          check;                                                         \
          if ((int64_t) x < lo)                                          \
            lo = (int64_t) x;                                            \
          if ((int64_t) x > hi)                                          \
            hi = (int64_t) x;                                            \
        }                                                                \
    }                                                                    \
  while (0)

#define BAD_IF(cond)                                                     \
  if (cond)                                                              \
    {                                                                    \
      r->bad_index = i;                                                  \
      r->bad_value = (double) x;                                         \
      return;                                                            \
    }

static void
scan_range (const void *buf, int64_t n, SampleType t, Range *r)
{
  int64_t lo = G_MAXINT64, hi = G_MININT64;
  r->bad_index = -1;
  switch (t)
    {
    case T_I8: RANGE_LOOP (int8_t, ); break;
    case T_U8: RANGE_LOOP (uint8_t, ); break;
    case T_I16: RANGE_LOOP (int16_t, ); break;
    case T_U16: RANGE_LOOP (uint16_t, ); break;
    case T_I32: RANGE_LOOP (int32_t, ); break;
    case T_U32: RANGE_LOOP (uint32_t, BAD_IF (x > (uint32_t) G_MAXINT32)); break;
    case T_I64: RANGE_LOOP (int64_t, BAD_IF (x < G_MININT32 || x > G_MAXINT32)); break;
    case T_U64: RANGE_LOOP (uint64_t, BAD_IF (x > (uint64_t) G_MAXINT32)); break;
    /* NaN fails the comparisons too; the range check comes before any conversion */
    case T_F32: RANGE_LOOP (float, BAD_IF (!(x >= -2147483648.0f && x <= 2147483520.0f) || x != floorf (x))); break;
    case T_F64: RANGE_LOOP (double, BAD_IF (!(x >= -2147483648.0 && x <= 2147483647.0) || x != floor (x))); break;
    default: break;
    }
  r->lo = n > 0 ? lo : 0;
  r->hi = n > 0 ? hi : 0;
}

/* Convert @n samples of type @t to labels of @bpv bytes; @dst may alias @src when @bpv is
 * at most the sample size (each output is written at or before its input, after reading it). */
static void
convert_samples (const void *src, SampleType t, void *dst, int bpv, int64_t n)
{
#define STORE(ctype)                                                              \
  do                                                                              \
    {                                                                             \
      const ctype *s = src;                                                       \
      if (bpv == 1)                                                               \
        for (int64_t i = 0; i < n; i++)                                           \
          ((uint8_t *) dst)[i] = (uint8_t) (int32_t) s[i];                        \
      else if (bpv == 2)                                                          \
        for (int64_t i = 0; i < n; i++)                                           \
          ((uint16_t *) dst)[i] = (uint16_t) (int32_t) s[i];                      \
      else                                                                        \
        for (int64_t i = 0; i < n; i++)                                           \
          ((int32_t *) dst)[i] = (int32_t) s[i];                                  \
    }                                                                             \
  while (0)
  switch (t)
    {
    case T_I8: STORE (int8_t); break;
    case T_U8: STORE (uint8_t); break;
    case T_I16: STORE (int16_t); break;
    case T_U16: STORE (uint16_t); break;
    case T_I32: STORE (int32_t); break;
    case T_U32: STORE (uint32_t); break;
    case T_I64: STORE (int64_t); break;
    case T_U64: STORE (uint64_t); break;
    case T_F32: STORE (float); break;
    case T_F64: STORE (double); break;
    default: break;
    }
#undef STORE
}

static inline int32_t
get_label (const void *data, int bpv, int64_t i)
{
  switch (bpv)
    {
    case 1: return ((const uint8_t *) data)[i];
    case 2: return ((const uint16_t *) data)[i];
    default: return ((const int32_t *) data)[i];
    }
}

/* --- segments ------------------------------------------------------------------------------ */

static int
cmp_segment_index (gconstpointer a, gconstpointer b)
{
  const Segment *x = *(Segment *const *) a, *y = *(Segment *const *) b;
  return (x->index > y->index) - (x->index < y->index);
}

static int
cmp_segment_out (gconstpointer a, gconstpointer b)
{
  const Segment *x = *(Segment *const *) a, *y = *(Segment *const *) b;
  if (x->out_label != y->out_label)
    return (x->out_label > y->out_label) - (x->out_label < y->out_label);
  return (x->index > y->index) - (x->index < y->index);
}

static const char *
segment_title (const Segment *s, char *buf, gsize len)
{
  if (s->name && s->name[0])
    return s->name;
  if (s->id && s->id[0])
    return s->id;
  g_snprintf (buf, len, "segment %d", s->index);
  return buf;
}

static gboolean
parse_color (const char *s, guint8 rgba[4])
{
  if (s == NULL)
    return FALSE;
  g_auto (GStrv) w = split_words (s);
  if (g_strv_length (w) < 3)
    return FALSE;
  for (int i = 0; i < 3; i++)
    {
      double v;
      if (!parse_double (w[i], &v) || isnan (v))
        return FALSE;
      v = CLAMP (v, 0.0, 1.0);
      rgba[i] = (guint8) lround (v * 255.0);
    }
  rgba[3] = 255;
  return TRUE;
}

static void
warn (GString *w, const char *fmt, ...) G_GNUC_PRINTF (2, 3);

static void
warn (GString *w, const char *fmt, ...)
{
  va_list ap;
  va_start (ap, fmt);
  if (w->len)
    g_string_append_c (w, '\n');
  g_string_append_vprintf (w, fmt, ap);
  va_end (ap);
}

/* Decide the label of every valid segment; fills @list (sorted by N) with them.  Returns
 * TRUE when the labels are ordinals (label values collide across layers). */
static gboolean
assign_segment_labels (const char *path, GHashTable *segments, int64_t n_layers, GPtrArray *list, GString *warnings)
{
  GHashTableIter it;
  gpointer value;
  g_hash_table_iter_init (&it, segments);
  while (g_hash_table_iter_next (&it, NULL, &value))
    g_ptr_array_add (list, value);
  g_ptr_array_sort (list, cmp_segment_index);

  g_autoptr (GHashTable) seen_label = g_hash_table_new (g_int64_hash, g_int64_equal);
  g_autoptr (GPtrArray) valid = g_ptr_array_new ();
  gboolean collide = FALSE;
  int n_bad = 0;
  for (guint i = 0; i < list->len; i++)
    {
      Segment *s = g_ptr_array_index (list, i);
      char buf[32];
      if (!s->has_layer)
        s->layer = n_layers > 1 ? s->index : 0;
      if (!s->has_label)
        s->label = 1;
      const char *why = NULL;
      if (s->layer_bad || s->layer < 0 || s->layer >= n_layers)
        why = "its layer does not exist";
      else if (s->label_bad || s->label == 0 || s->label < G_MININT32 || s->label > G_MAXINT32)
        why = "its label value is not a non-zero 32-bit integer";
      if (why != NULL)
        {
          if (n_bad++ < 5)
            warn (warnings, "%s: segment %d (%s) is ignored: %s", path, s->index, segment_title (s, buf, sizeof buf), why);
          s->out_label = 0;
          continue;
        }
      if (g_hash_table_contains (seen_label, &s->label))
        collide = TRUE;
      else
        g_hash_table_add (seen_label, &s->label);
      g_ptr_array_add (valid, s);
    }
  if (n_bad > 5)
    warn (warnings, "%s: %d more segments are ignored", path, n_bad - 5);
  gboolean renumber = collide && n_layers > 1;
  for (guint i = 0; i < valid->len; i++)
    {
      Segment *s = g_ptr_array_index (valid, i);
      s->out_label = renumber ? (int32_t) (i + 1) : (int32_t) s->label;
    }
  /* keep only the valid ones */
  g_ptr_array_set_size (list, 0);
  for (guint i = 0; i < valid->len; i++)
    g_ptr_array_add (list, g_ptr_array_index (valid, i));
  return renumber;
}

/* The segments' IDs by label, when some ID differs from the segment's name (3D Slicer's
 * TotalSegmentator extension keeps TotalSegmentator's class names as the IDs and shows
 * other names); else NULL. */
static LabelTable *
ids_from_segments (const char *path, GPtrArray *list)
{
  g_autoptr (LabelTable) t = lt_table_new (path);
  gboolean differ = FALSE;
  for (guint i = 0; i < list->len; i++)
    {
      const Segment *s = g_ptr_array_index (list, i);
      if (s->id == NULL || s->id[0] == '\0' || lt_table_lookup (t, s->out_label) != NULL)
        continue;
      char buf[32];
      differ |= strcmp (s->id, segment_title (s, buf, sizeof buf)) != 0;
      lt_table_set (t, s->out_label, s->id, NULL);
    }
  return differ ? g_steal_pointer (&t) : NULL;
}

static LabelTable *
table_from_segments (const char *path, GPtrArray *list, GString *warnings)
{
  LabelTable *t = lt_table_new (path);
  g_autoptr (GPtrArray) sorted = g_ptr_array_copy (list, NULL, NULL);
  g_ptr_array_sort (sorted, cmp_segment_out);
  int n_dup = 0;
  int32_t last = 0;
  for (guint i = 0; i < sorted->len; i++)
    {
      Segment *s = g_ptr_array_index (sorted, i);
      char buf[32];
      if (i > 0 && s->out_label == last)
        {
          if (n_dup++ < 5)
            warn (warnings, "%s: segment %d (%s) has the label value %d of an earlier segment in the same layer; "
                  "its name is not used", path, s->index, segment_title (s, buf, sizeof buf), s->out_label);
          continue;
        }
      last = s->out_label;
      guint8 rgba[4];
      gboolean has_color = parse_color (s->color, rgba) || parse_color (s->default_color, rgba);
      lt_table_set (t, s->out_label, segment_title (s, buf, sizeof buf), has_color ? rgba : NULL);
    }
  return t;
}

/* Flatten the layers of @samples ((file axes) of @bpv-byte labels) into one int32 label per
 * voxel.  (layer, value) pairs map through @map when renumbering. */
static int32_t *
flatten_layers (const char *path, const Layout *L, const void *samples, int bpv, GHashTable *map,
                gboolean refuse_overlap, int64_t *n_overlap, GError **error)
{
  int64_t stride[4], acc = 1;
  for (int a = 0; a < 4; a++)
    {
      stride[a] = acc;
      acc *= L->sizes[a];
    }
  int64_t nx = L->sizes[L->spatial[0]], ny = L->sizes[L->spatial[1]], nz = L->sizes[L->spatial[2]];
  int64_t si = stride[L->spatial[0]], sj = stride[L->spatial[1]], sk = stride[L->spatial[2]];
  int64_t sl = stride[L->layer_axis];
  int32_t *out = g_try_malloc0 ((gsize) MAX (L->n_voxels, 1) * sizeof (int32_t));
  if (out == NULL)
    {
      g_set_error (error, NRRD_ERROR, NRRD_ERROR_TOO_LARGE, "%s: cannot allocate %.1f MiB for the labels", path,
                   L->n_voxels * 4.0 / 1048576.0);
      return NULL;
    }
  int32_t *cache_value = g_new0 (int32_t, L->n_layers), *cache_label = g_new0 (int32_t, L->n_layers);
  int64_t overlap = 0, v = 0;
  for (int64_t k = 0; k < nz; k++)
    for (int64_t j = 0; j < ny; j++)
      for (int64_t i = 0; i < nx; i++, v++)
        {
          int64_t base = i * si + j * sj + k * sk;
          int32_t label = 0;
          int first_layer = -1;
          for (int64_t l = 0; l < L->n_layers; l++)
            {
              int32_t x = get_label (samples, bpv, base + l * sl);
              if (x == 0)
                continue;
              int32_t y = x;
              if (map != NULL)
                {
                  if (cache_value[l] == x && cache_label[l] != 0)
                    y = cache_label[l];
                  else
                    {
                      int64_t key = (l << 32) | (uint32_t) x;
                      gpointer found = g_hash_table_lookup (map, &key);
                      if (found == NULL)
                        {
                          g_set_error (error, NRRD_ERROR, NRRD_ERROR_NOT_LABELS,
                                       "%s: voxel (%" G_GINT64_FORMAT ",%" G_GINT64_FORMAT ",%" G_GINT64_FORMAT
                                       ") of layer %" G_GINT64_FORMAT " holds %d, which no segment declares",
                                       path, i, j, k, l, x);
                          goto fail;
                        }
                      y = GPOINTER_TO_INT (found);
                      cache_value[l] = x;
                      cache_label[l] = y;
                    }
                }
              if (label != 0)
                {
                  if (refuse_overlap)
                    {
                      g_set_error (error, NRRD_ERROR, NRRD_ERROR_OVERLAP,
                                   "%s: voxel (%" G_GINT64_FORMAT ",%" G_GINT64_FORMAT ",%" G_GINT64_FORMAT
                                   ") lies in label %d of layer %d and label %d of layer %" G_GINT64_FORMAT
                                   ": overlapping segments cannot become one label map", path, i, j, k, label,
                                   first_layer, y, l);
                      goto fail;
                    }
                  overlap++;
                }
              else
                first_layer = (int) l;
              label = y;
            }
          out[v] = label;
        }
  g_free (cache_value);
  g_free (cache_label);
  *n_overlap = overlap;
  return out;
fail:
  g_free (cache_value);
  g_free (cache_label);
  g_free (out);
  return NULL;
}

/* --- the reader ---------------------------------------------------------------------------- */

void
nrrd_read_info_clear (NrrdReadInfo *info)
{
  if (info == NULL)
    return;
  g_free (info->warnings);
  lt_table_free (info->segment_ids);
  memset (info, 0, sizeof *info);
}

gboolean
nrrd_magic_matches (const guint8 *head, gsize len)
{
  return len >= 7 && memcmp (head, "NRRD000", 7) == 0;
}

gboolean
nrrd_path_is_supported (const char *path)
{
  return str_has_suffix_ci (path, ".nrrd") || str_has_suffix_ci (path, ".nhdr");
}

char *
nrrd_dup_data_file (const char *path)
{
  Header h = { .path = path };
  Src hs = { .fd = -1 };
  char *data_path = NULL;
  if (!src_open (&hs, path, NULL, NULL))
    return NULL;
  if (header_read (&h, &hs, NULL) && h.field[F_DATA_FILE] != NULL)
    data_path = data_file_path (&h, NULL);
  src_close (&hs);
  header_clear (&h);
  return data_path;
}

void
nrrd_add_inputs (OutSet *outputs, const char *path)
{
  out_set_add_input (outputs, path);
  g_autofree char *data = nrrd_dup_data_file (path);
  if (data != NULL)
    out_set_add_input (outputs, data);
}

LabelVolume *
nrrd_read (const char *path, const NrrdReadOptions *options, LabelTable **table, NrrdReadInfo *info, GError **error)
{
  int64_t max_voxels = (options && options->max_voxels > 0) ? options->max_voxels : NRRD_DEFAULT_MAX_VOXELS;
  gboolean refuse_overlap = options && (options->flags & NRRD_READ_REFUSE_OVERLAP);
  Header h = { 0 };
  Layout L;
  Src hs = { .fd = -1 }, ds = { .fd = -1 };
  Src *src;
  g_autofree char *data_path = NULL;
  g_autofree char *what = NULL;
  g_autoptr (GString) warnings = g_string_new (NULL);
  g_autoptr (GPtrArray) segs = g_ptr_array_new ();
  g_autoptr (GHashTable) map = NULL;
  guint8 *buf = NULL;
  LabelVolume *v = NULL;
  LabelTable *tab = NULL, *ids = NULL;
  gboolean renumber = FALSE;
  int64_t n_overlap = 0;

  if (table)
    *table = NULL;
  if (info)
    memset (info, 0, sizeof *info);
  h.path = path;
  if (!src_open (&hs, path, NULL, error))
    return NULL;
  if (!header_read (&h, &hs, error))
    goto out;
  if (!layout_from_header (&h, max_voxels, &L, error))
    goto out;

  if (h.field[F_DATA_FILE] != NULL)
    {
      data_path = data_file_path (&h, error);
      if (data_path == NULL)
        goto out;
      g_autofree char *role = g_strdup_printf ("the data file of %s", path);
      if (!src_open (&ds, data_path, role, error))
        goto out;
      src_close (&hs);
      src = &ds;
      what = g_strdup_printf ("%s (data file of %s)", data_path, path);
    }
  else
    {
      src = &hs;
      what = g_strdup (path);
    }

  /* line skip, then byte skip (raw bytes; for gzip, decompressed bytes) */
  for (int64_t l = 0; l < L.line_skip; l++)
    {
      int c;
      do
        c = src_getc (src, error);
      while (c >= 0 && c != '\n');
      if (c == -2)
        goto out;
      if (c == -1)
        {
          g_set_error (error, NRRD_ERROR, NRRD_ERROR_TRUNCATED, "%s: \"line skip: %" G_GINT64_FORMAT
                       "\" skips past the end of the file (it has %" G_GINT64_FORMAT " lines)", what, L.line_skip, l);
          goto out;
        }
    }
  int es = type_bytes[L.type];
  int64_t bytes = L.n_samples * es;
  if (L.encoding != E_GZIP && L.byte_skip != 0)
    {
      int64_t to = L.byte_skip == -1 ? src->size - bytes : src->off + L.byte_skip;
      if (L.byte_skip == -1 && to < src->off)
        {
          g_set_error (error, NRRD_ERROR, NRRD_ERROR_TRUNCATED,
                       "%s: data are shorter than the sizes say: %" G_GINT64_FORMAT " %s samples need %" G_GINT64_FORMAT
                       " bytes, only %" G_GINT64_FORMAT " follow the header", what, L.n_samples,
                       type_canonical[L.type], bytes, src->size - src->off);
          goto out;
        }
      if (!src_seek (src, to, error))
        {
          if (error && *error == NULL)
            g_set_error (error, NRRD_ERROR, NRRD_ERROR_TRUNCATED, "%s: \"byte skip: %" G_GINT64_FORMAT
                         "\" skips past the end of the %" G_GINT64_FORMAT "-byte file", what, L.byte_skip, src->size);
          goto out;
        }
    }

  /* lying sizes are caught before allocating where the encoding allows */
  int64_t remaining = src->size - src->off;
  const char *sizes_str = h.field[F_SIZES];
  if ((L.encoding == E_RAW && remaining < bytes) || (L.encoding == E_HEX && remaining / 2 < bytes)
      || (L.encoding == E_ASCII && remaining < L.n_samples))
    {
      g_set_error (error, NRRD_ERROR, NRRD_ERROR_TRUNCATED,
                   "%s: data are shorter than the sizes say: %s %s samples need %" G_GINT64_FORMAT " %s after byte %"
                   G_GINT64_FORMAT ", the file has %" G_GINT64_FORMAT, what, sizes_str, type_canonical[L.type],
                   L.encoding == E_RAW ? bytes : L.encoding == E_HEX ? 2 * bytes : L.n_samples,
                   L.encoding == E_ASCII ? "characters at least" : "bytes", src->off, remaining);
      goto out;
    }
  if (L.encoding == E_GZIP && (bytes + L.byte_skip) / DEFLATE_MAX_RATIO > remaining + 1024)
    {
      g_set_error (error, NRRD_ERROR, NRRD_ERROR_TRUNCATED,
                   "%s: data are shorter than the sizes say: %s %s samples are %" G_GINT64_FORMAT
                   " bytes, more than %" G_GINT64_FORMAT " bytes of gzip data can hold", what, sizes_str,
                   type_canonical[L.type], bytes, remaining);
      goto out;
    }

  buf = g_try_malloc ((gsize) MAX (bytes, 1));
  if (buf == NULL)
    {
      g_set_error (error, NRRD_ERROR, NRRD_ERROR_TOO_LARGE, "%s: cannot allocate %.1f MiB for the voxel data", path,
                   bytes / 1048576.0);
      goto out;
    }
  switch (L.encoding)
    {
    case E_RAW:
      {
        int64_t got = src_read (src, buf, bytes, error);
        if (got < 0)
          goto out;
        if (got < bytes)
          {
            set_truncated (error, what, got, bytes, "bytes", NULL);
            goto out;
          }
      }
      break;
    case E_GZIP:
      {
        int64_t extra = 0;
        if (!read_gzip (src, what, L.byte_skip, buf, bytes, &extra, error))
          goto out;
        if (extra > 0)
          warn (warnings, "%s: the gzip stream holds %" G_GINT64_FORMAT " bytes more than the sizes say; they are ignored",
                what, extra);
      }
      break;
    case E_HEX:
      if (!read_hex (src, what, buf, bytes, error))
        goto out;
      break;
    case E_ASCII:
      if (!read_ascii (src, what, L.type, buf, L.n_samples, error))
        goto out;
      break;
    }
  src_close (&hs);
  src_close (&ds);
  if (es > 1 && L.encoding != E_ASCII && L.endian != G_BYTE_ORDER)
    byteswap_samples (buf, L.n_samples, es);

  /* samples to compact labels, in place */
  Range r;
  if (L.type == T_U8)
    {
      r.lo = 0;
      r.hi = 255;
      r.bad_index = -1;
    }
  else
    scan_range (buf, L.n_samples, L.type, &r);
  if (r.bad_index >= 0)
    {
      int64_t idx = r.bad_index, c[4];
      for (int a = 0; a < L.dim; a++)
        {
          c[a] = idx % L.sizes[a];
          idx /= L.sizes[a];
        }
      g_autofree char *where = L.dim == 4
        ? g_strdup_printf ("(%" G_GINT64_FORMAT ",%" G_GINT64_FORMAT ",%" G_GINT64_FORMAT ",%" G_GINT64_FORMAT ")", c[0], c[1], c[2], c[3])
        : g_strdup_printf ("(%" G_GINT64_FORMAT ",%" G_GINT64_FORMAT ",%" G_GINT64_FORMAT ")", c[0], c[1], c[2]);
      if (r.bad_value == floor (r.bad_value))
        g_set_error (error, NRRD_ERROR, NRRD_ERROR_NOT_LABELS,
                     "%s: not a label map: %s %s holds %.17g, outside the 32-bit label range", path,
                     L.dim == 4 ? "sample" : "voxel", where, r.bad_value);
      else
        g_set_error (error, NRRD_ERROR, NRRD_ERROR_NOT_LABELS,
                     "%s: not a label map: %s %s holds the non-integral value %.9g (%s data)", path,
                     L.dim == 4 ? "sample" : "voxel", where, r.bad_value, type_canonical[L.type]);
      goto out;
    }
  int bpv = lv_storage_for_range (r.lo, r.hi);
  if (bpv <= es)
    {
      if (!(bpv == 1 && L.type == T_U8) && !(bpv == 2 && L.type == T_U16) && !(bpv == 4 && L.type == T_I32))
        convert_samples (buf, L.type, buf, bpv, L.n_samples);
      if (bpv < es)
        buf = g_realloc (buf, (gsize) MAX (L.n_samples * bpv, 1));
    }
  else
    {
      guint8 *wide = g_try_malloc ((gsize) MAX (L.n_samples * bpv, 1));
      if (wide == NULL)
        {
          g_set_error (error, NRRD_ERROR, NRRD_ERROR_TOO_LARGE, "%s: cannot allocate %.1f MiB for the labels", path,
                       L.n_samples * bpv / 1048576.0);
          goto out;
        }
      convert_samples (buf, L.type, wide, bpv, L.n_samples);
      g_free (buf);
      buf = wide;
    }

  /* segments, then the layers */
  if (g_hash_table_size (h.segments) > 0)
    renumber = assign_segment_labels (path, h.segments, L.n_layers, segs, warnings);
  if (L.n_layers > 1)
    {
      if (renumber)
        {
          map = g_hash_table_new_full (g_int64_hash, g_int64_equal, g_free, NULL);
          for (guint i = 0; i < segs->len; i++)
            {
              Segment *s = g_ptr_array_index (segs, i);
              int64_t *key = g_new (int64_t, 1);
              *key = (s->layer << 32) | (uint32_t) (int32_t) s->label;
              if (!g_hash_table_contains (map, key))
                g_hash_table_insert (map, key, GINT_TO_POINTER (s->out_label));
              else
                g_free (key);
            }
        }
      int32_t *flat = flatten_layers (path, &L, buf, bpv, map, refuse_overlap, &n_overlap, error);
      if (flat == NULL)
        goto out;
      g_free (buf);
      buf = (guint8 *) flat;
      if (n_overlap > 0)
        warn (warnings, "%s: %" G_GINT64_FORMAT " voxels lie in segments of more than one layer; each was given the "
              "label of its highest layer", path, n_overlap);
      int32_t lo = 0, hi = 0;
      for (int64_t i = 0; i < L.n_voxels; i++)
        {
          lo = MIN (lo, flat[i]);
          hi = MAX (hi, flat[i]);
        }
      bpv = lv_storage_for_range (lo, hi);
      if (bpv < 4)
        {
          convert_samples (flat, T_I32, flat, bpv, L.n_voxels);
          buf = g_realloc (buf, (gsize) MAX (L.n_voxels * bpv, 1));
        }
    }
  if (segs->len > 0)
    {
      tab = table_from_segments (path, segs, warnings);
      if (info)
        ids = ids_from_segments (path, segs);
    }

  v = g_new0 (LabelVolume, 1);
  v->nx = L.sizes[L.spatial[0]];
  v->ny = L.sizes[L.spatial[1]];
  v->nz = L.sizes[L.spatial[2]];
  v->bytes_per_voxel = bpv;
  v->data = buf;
  buf = NULL;
  lv_volume_set_affine (v, L.affine);

  if (info)
    {
      info->version = h.version;
      g_strlcpy (info->type, type_canonical[L.type], sizeof info->type);
      g_strlcpy (info->encoding, encoding_canonical[L.encoding], sizeof info->encoding);
      g_strlcpy (info->space, L.space ? L.space->canonical : "", sizeof info->space);
      info->detached = data_path != NULL;
      info->n_layers = (int) L.n_layers;
      info->n_segments = (int) g_hash_table_size (h.segments);
      info->renumbered = renumber;
      info->n_overlap_voxels = n_overlap;
      info->warnings = warnings->len ? g_strdup (warnings->str) : NULL;
      info->segment_ids = g_steal_pointer (&ids);
    }
  if (table)
    *table = g_steal_pointer (&tab);

out:
  lt_table_free (tab);
  lt_table_free (ids);
  g_free (buf);
  src_close (&hs);
  src_close (&ds);
  header_clear (&h);
  return v;
}
