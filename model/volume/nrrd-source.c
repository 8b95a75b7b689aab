/* nrrd-source.c: the NRRD reader's buffered, bounded source over a file descriptor: open
 * (regular files only), fill, bounded lines, reads, seeks and single characters, with messages
 * that name the file.
 */
#include "nrrd-private.h"
#include "in-file.h"

#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

void
nrrd_src_close (Src *s)
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
gboolean
nrrd_src_open (Src *s, const char *path, const char *role, GError **error)
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

gsize
nrrd_src_avail (const Src *s)
{
  return s->end - s->start;
}

void
nrrd_src_consume (Src *s, gsize n)
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
gboolean
nrrd_src_fill (Src *s, GError **error)
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
int
nrrd_src_getline (Src *s, char **line, gsize *len, gsize max, int lineno, GError **error)
{
  gsize scanned = 0;
  for (;;)
    {
      guint8 *nl = memchr (s->buf + s->start + scanned, '\n', nrrd_src_avail (s) - scanned);
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
          nrrd_src_consume (s, n + 1);
          return 1;
        }
      scanned = nrrd_src_avail (s);
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
          nrrd_src_consume (s, scanned);
          return 1;
        }
      if (s->start == 0 && s->end == s->cap)
        {
          s->cap = MIN (s->cap * 2, max + 2);
          s->buf = g_realloc (s->buf, s->cap + 1);
        }
      if (!nrrd_src_fill (s, error))
        return -1;
    }
  g_set_error (error, NRRD_ERROR, NRRD_ERROR_TOO_LARGE,
               "%s: line %d of the header is longer than %u bytes (is the blank line that ends the header missing?)",
               s->path, lineno, (unsigned) max);
  return -1;
}

/* Read up to @n bytes into @dst; returns the count (short only at the end of the file), or -1. */
int64_t
nrrd_src_read (Src *s, void *dst, int64_t n, GError **error)
{
  int64_t done = MIN ((int64_t) nrrd_src_avail (s), n);
  memcpy (dst, s->buf + s->start, (size_t) done);
  nrrd_src_consume (s, (gsize) done);
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
gboolean
nrrd_src_seek (Src *s, int64_t to, GError **error)
{
  if (to <= s->off + (int64_t) nrrd_src_avail (s))
    {
      nrrd_src_consume (s, (gsize) (to - s->off));
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
int
nrrd_src_getc (Src *s, GError **error)
{
  if (nrrd_src_avail (s) == 0)
    {
      if (!nrrd_src_fill (s, error))
        return -2;
      if (nrrd_src_avail (s) == 0)
        return -1;
    }
  int c = s->buf[s->start];
  nrrd_src_consume (s, 1);
  return c;
}
