/* nrrd-data.c: the NRRD reader's samples: gzip inflation (to the stream's end, so that its
 * CRC is checked), hex and ascii decoding, byte swapping, the range check that samples are
 * 32-bit integral labels, and their conversion to the compact storage.
 */
#include "nrrd-private.h"

#include <errno.h>
#include <math.h>
#include <string.h>
#include <zlib.h>

/* --- reading the samples ------------------------------------------------------------------ */

void
nrrd_set_truncated (GError **error, const char *what, int64_t got, int64_t want, const char *unit, const char *how)
{
  g_set_error (error, NRRD_ERROR, NRRD_ERROR_TRUNCATED,
               "%s: data are shorter than the sizes say: %" G_GINT64_FORMAT " of %" G_GINT64_FORMAT " %s%s",
               what, got, want, unit, how ? how : "");
}

/* Inflate a gzip (or zlib) stream from @s: @skip bytes are dropped, then @n bytes go to
 * @dst; the stream is then inflated to its end, so that its CRC and length are checked.
 * *@extra receives the bytes it held beyond the data. */
gboolean
nrrd_read_gzip (Src *s, const char *what, int64_t skip, guint8 *dst, int64_t n, int64_t *extra, GError **error)
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
      if (nrrd_src_avail (s) == 0 && !nrrd_src_fill (s, error))
        goto out;
      zs.next_in = s->buf + s->start;
      zs.avail_in = (uInt) nrrd_src_avail (s);
      zs.next_out = out;
      zs.avail_out = (uInt) room;
      int r = inflate (&zs, Z_NO_FLUSH);
      gsize used = nrrd_src_avail (s) - zs.avail_in;
      int64_t produced = room - zs.avail_out;
      nrrd_src_consume (s, used);
      if (skipped < skip)
        skipped += produced;
      else if (done < n)
        done += produced;
      else
        beyond += produced;
      if (r == Z_BUF_ERROR && nrrd_src_avail (s) == 0 && s->eof)
        {
          /* no progress possible: the file ends inside the stream */
          if (done < n)
            nrrd_set_truncated (error, what, done, n, "bytes", " (the gzip stream is cut short)");
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
          if (nrrd_src_avail (s) < 2 && !nrrd_src_fill (s, error))
            goto out;
          if (nrrd_src_avail (s) >= 2 && s->buf[s->start] == 0x1f && s->buf[s->start + 1] == 0x8b)
            {
              inflateReset (&zs);
              continue;
            }
          nrrd_set_truncated (error, what, done, n, "bytes", " (the gzip stream ends early)");
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

gboolean
nrrd_read_hex (Src *s, const char *what, guint8 *dst, int64_t n, GError **error)
{
  for (int64_t i = 0; i < n; i++)
    {
      int v = 0;
      for (int half = 0; half < 2; half++)
        {
          int c;
          do
            c = nrrd_src_getc (s, error);
          while (c == ' ' || c == '\t' || c == '\n' || c == '\r');
          if (c == -2)
            return FALSE;
          if (c == -1)
            {
              nrrd_set_truncated (error, what, i, n, "bytes", " (hex data end early)");
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
gboolean
nrrd_read_ascii (Src *s, const char *what, SampleType t, guint8 *dst, int64_t n, GError **error)
{
  char tok[MAX_ASCII_TOKEN + 1];
  for (int64_t i = 0; i < n; i++)
    {
      int c, len = 0;
      do
        c = nrrd_src_getc (s, error);
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
          c = nrrd_src_getc (s, error);
        }
      if (c == -2)
        return FALSE;
      if (len == 0)
        {
          nrrd_set_truncated (error, what, i, n, "values", " (ascii data end early)");
          return FALSE;
        }
      tok[len] = '\0';
      gboolean ok;
      if (t == T_F32 || t == T_F64)
        {
          double d;
          ok = nrrd_parse_double (tok, &d);
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
          ok = nrrd_parse_int64 (tok, &v);
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
                       "\"%s\", is not a %s", what, i + 1, tok, nrrd_type_canonical[t]);
          return FALSE;
        }
    }
  return TRUE;
}

void
nrrd_byteswap_samples (guint8 *b, int64_t n, int es)
{
  for (int64_t i = 0; i < n; i++, b += es)
    for (int x = 0; x < es / 2; x++)
      {
        guint8 t = b[x];
        b[x] = b[es - 1 - x];
        b[es - 1 - x] = t;
      }
}

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

void
nrrd_scan_range (const void *buf, int64_t n, SampleType t, Range *r)
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
void
nrrd_convert_samples (const void *src, SampleType t, void *dst, int bpv, int64_t n)
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
