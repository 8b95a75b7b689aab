/* out-file.c: atomic, no-overwrite file writing (see out-file.h). */
#include "out-file.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <glib/gstdio.h>
#include <zlib.h>

G_DEFINE_QUARK (out-file-error-quark, out_file_error)

struct _OutFile {
  char *path;       /* destination */
  char *tmp;        /* the temporary beside it */
  int fd;
  gzFile gz;        /* OUT_FILE_GZIP: a stream on a dup of fd */
  FILE *stream;     /* out_file_get_stream(): a stream on a dup of fd */
  gboolean finished; /* out_file_finish() succeeded: the data are on disk, fd closed */
  gboolean failed;   /* a write or the finish failed: the temporary cannot be committed */
};

static void
set_io_error (GError **error, const OutFile *f, const char *what, int err)
{
  g_set_error (error, OUT_FILE_ERROR, OUT_FILE_ERROR_IO, "%s: %s: %s", f->path, what,
               err ? g_strerror (err) : "no space left on the device?");
}

OutFile *
out_file_open (const char *path, OutFileFlags flags, GError **error)
{
  g_autofree char *dir = g_path_get_dirname (path);
  g_autofree char *base = g_path_get_basename (path);
  OutFile *f = g_new0 (OutFile, 1);

  f->path = g_strdup (path);
  f->tmp = g_strdup_printf ("%s/.%s.XXXXXX", dir, base);
  f->fd = g_mkstemp_full (f->tmp, O_RDWR | O_CLOEXEC, 0600);
  if (f->fd < 0)
    {
      int err = errno;
      g_set_error (error, OUT_FILE_ERROR, OUT_FILE_ERROR_IO, "%s: cannot create a file in %s: %s",
                   path, dir, g_strerror (err));
      g_clear_pointer (&f->tmp, g_free);
      out_file_abort (f);
      return NULL;
    }
  /* mkstemp makes the file 0600: give it the permissions a normal create would */
  mode_t mask = umask (0);
  umask (mask);
  if (fchmod (f->fd, 0666 & ~mask) != 0)
    { /* not fatal: the file is still usable by its owner */ }
  if (flags & OUT_FILE_GZIP)
    {
      int fd2 = dup (f->fd);
      f->gz = fd2 >= 0 ? gzdopen (fd2, "wb6") : NULL;
      if (f->gz == NULL)
        {
          if (fd2 >= 0)
            close (fd2);
          g_set_error (error, OUT_FILE_ERROR, OUT_FILE_ERROR_IO, "%s: cannot start gzip compression", path);
          out_file_abort (f);
          return NULL;
        }
      gzbuffer (f->gz, 256 * 1024);
    }
  return f;
}

const char *
out_file_get_path (const OutFile *f)
{
  return f->path;
}

gboolean
out_file_write (OutFile *f, const void *data, size_t n, GError **error)
{
  size_t done = 0;

  g_return_val_if_fail (!f->finished, FALSE);
  while (done < n)
    {
      size_t chunk = MIN (n - done, (size_t) 1 << 30);
      gssize w;
      errno = 0;
      if (f->gz)
        w = gzwrite (f->gz, (const char *) data + done, (unsigned) chunk);
      else
        w = write (f->fd, (const char *) data + done, chunk);
      if (w <= 0)
        {
          if (f->gz == NULL && w < 0 && errno == EINTR)
            continue;
          set_io_error (error, f, "write failed", errno);
          f->failed = TRUE;
          return FALSE;
        }
      done += (size_t) w;
    }
  return TRUE;
}

FILE *
out_file_get_stream (OutFile *f)
{
  g_return_val_if_fail (f->gz == NULL, NULL);
  if (f->stream == NULL)
    {
      int fd2 = dup (f->fd);
      f->stream = fd2 >= 0 ? fdopen (fd2, "wb") : NULL;
      if (f->stream == NULL)
        {
          if (fd2 >= 0)
            close (fd2);
          return NULL;
        }
      setvbuf (f->stream, NULL, _IOFBF, 1 << 20);
    }
  return f->stream;
}

/* Flushes the streams, fsyncs and closes the temporary. */
static gboolean
finish (OutFile *f, GError **error)
{
  if (f->failed)
    {
      g_set_error (error, OUT_FILE_ERROR, OUT_FILE_ERROR_IO, "%s: not written: an earlier write failed",
                   f->path);
      return FALSE;
    }
  if (f->gz)
    {
      int r = gzclose (f->gz);
      f->gz = NULL;
      if (r != Z_OK)
        {
          set_io_error (error, f, r == Z_ERRNO ? "write failed" : "compression failed",
                        r == Z_ERRNO ? errno : EIO);
          return FALSE;
        }
    }
  if (f->stream)
    {
      gboolean bad = ferror (f->stream) != 0;
      errno = 0;
      bad = fclose (f->stream) != 0 || bad;
      int err = errno;
      f->stream = NULL;
      if (bad)
        {
          set_io_error (error, f, "write failed", err ? err : EIO);
          return FALSE;
        }
    }
  if (fsync (f->fd) != 0)
    {
      set_io_error (error, f, "write failed", errno);
      return FALSE;
    }
  int r = close (f->fd);
  f->fd = -1;
  if (r != 0)
    {
      set_io_error (error, f, "write failed", errno);
      return FALSE;
    }
  f->finished = TRUE;
  return TRUE;
}

gboolean
out_file_finish (OutFile *f, GError **error)
{
  if (f->finished)
    return TRUE;
  if (!finish (f, error))
    {
      f->failed = TRUE;
      return FALSE;
    }
  return TRUE;
}

/* No hard links either (some FUSE and network file systems): check, then rename.  Not
 * race-free, the last resort.  Returns like rename(), errno EEXIST when @path exists. */
static int
rename_if_absent (const char *tmp, const char *path)
{
  struct stat st;
  if (lstat (path, &st) == 0)
    {
      errno = EEXIST;
      return -1;
    }
  return rename (tmp, path);
}

/* Moves the closed temporary to the destination. */
static gboolean
move_into_place (OutFile *f, gboolean overwrite, GError **error)
{
  int r;
  if (overwrite)
    r = rename (f->tmp, f->path);
  else
    {
      r = renameat2 (AT_FDCWD, f->tmp, AT_FDCWD, f->path, RENAME_NOREPLACE);
      if (r != 0 && (errno == EINVAL || errno == ENOSYS || errno == ENOTSUP))
        {
          r = link (f->tmp, f->path);
          if (r == 0)
            g_unlink (f->tmp);
          else if (errno == EPERM || errno == ENOTSUP || errno == EOPNOTSUPP || errno == ENOSYS)
            r = rename_if_absent (f->tmp, f->path);
        }
    }
  if (r != 0)
    {
      int err = errno;
      if (err == EEXIST)
        g_set_error (error, OUT_FILE_ERROR, OUT_FILE_ERROR_EXISTS,
                     "%s: the file exists (not overwritten; choose another name or allow overwriting)",
                     f->path);
      else
        set_io_error (error, f, "cannot move the written file into place", err);
      return FALSE;
    }
  g_clear_pointer (&f->tmp, g_free);
  /* make the new directory entry durable (best effort) */
  g_autofree char *dir = g_path_get_dirname (f->path);
  int dfd = open (dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0)
    {
      fsync (dfd);
      close (dfd);
    }
  return TRUE;
}

gboolean
out_file_commit (OutFile *f, gboolean overwrite, GError **error)
{
  gboolean ok = out_file_finish (f, error) && move_into_place (f, overwrite, error);
  out_file_abort (f);
  return ok;
}

void
out_file_abort (OutFile *f)
{
  if (f == NULL)
    return;
  if (f->gz)
    gzclose (f->gz);
  if (f->stream)
    fclose (f->stream);
  if (f->fd >= 0)
    close (f->fd);
  if (f->tmp)
    g_unlink (f->tmp);
  g_free (f->tmp);
  g_free (f->path);
  g_free (f);
}
