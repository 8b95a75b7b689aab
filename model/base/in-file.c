/* in-file.c: regular files only, never blocking, bounded reads (see in-file.h). */
#include "in-file.h"

#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

G_DEFINE_QUARK (in-file-error-quark, in_file_error)

const char *
in_file_describe_mode (mode_t mode)
{
  if (S_ISREG (mode))
    return "a regular file";
  if (S_ISDIR (mode))
    return "a folder";
  if (S_ISFIFO (mode))
    return "a FIFO (named pipe)";
  if (S_ISCHR (mode) || S_ISBLK (mode))
    return "a device";
  if (S_ISSOCK (mode))
    return "a socket";
  return "not a regular file";
}

static void
set_errno_error (GError **error, const char *path, const char *what, int err)
{
  g_set_error (error, IN_FILE_ERROR, err == ENOENT || err == ENOTDIR ? IN_FILE_ERROR_NOT_FOUND : IN_FILE_ERROR_IO,
               "%s: %s: %s", path, what, g_strerror (err));
}

static gboolean
check_mode (const char *path, const struct stat *st, GError **error)
{
  if (S_ISREG (st->st_mode))
    return TRUE;
  g_set_error (error, IN_FILE_ERROR, IN_FILE_ERROR_NOT_REGULAR, "%s: is %s, not a regular file", path,
               in_file_describe_mode (st->st_mode));
  return FALSE;
}

gboolean
in_file_check (const char *path, GError **error)
{
  struct stat st;
  if (stat (path, &st) != 0)
    {
      set_errno_error (error, path, "cannot open", errno);
      return FALSE;
    }
  return check_mode (path, &st, error);
}

int
in_file_open (const char *path, struct stat *st_out, GError **error)
{
  struct stat st, before;
  /* refused before opening: opening a device may have effects (a tape rewinds) */
  if (stat (path, &before) != 0)
    {
      set_errno_error (error, path, "cannot open", errno);
      return -1;
    }
  if (!check_mode (path, &before, error))
    return -1;
  /* O_NONBLOCK: if the path became a FIFO meanwhile, open() must not wait for a writer */
  int fd = open (path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
  if (fd < 0)
    {
      set_errno_error (error, path, "cannot open", errno);
      return -1;
    }
  if (fstat (fd, &st) != 0)
    {
      int err = errno;
      close (fd);
      set_errno_error (error, path, "cannot open", err);
      return -1;
    }
  if (!check_mode (path, &st, error))
    {
      close (fd);
      return -1;
    }
  if (st.st_dev != before.st_dev || st.st_ino != before.st_ino)
    {
      close (fd);
      g_set_error (error, IN_FILE_ERROR, IN_FILE_ERROR_IO, "%s: the file changed while it was opened", path);
      return -1;
    }
  int fl = fcntl (fd, F_GETFL);
  if (fl >= 0)
    fcntl (fd, F_SETFL, fl & ~O_NONBLOCK);
  if (st_out)
    *st_out = st;
  return fd;
}

char *
in_file_read (const char *path, gsize max_bytes, gsize *len, GError **error)
{
  struct stat st;
  int fd = in_file_open (path, &st, error);
  if (fd < 0)
    return NULL;
  if ((guint64) st.st_size > max_bytes)
    {
      close (fd);
      g_set_error (error, IN_FILE_ERROR, IN_FILE_ERROR_TOO_LARGE, "%s: %" G_GUINT64_FORMAT
                   " bytes is more than the %" G_GSIZE_FORMAT " bytes such a file may have", path,
                   (guint64) st.st_size, max_bytes);
      return NULL;
    }
  /* one byte more than the limit tells a file that grew past it */
  gsize cap = (gsize) st.st_size + 1, n = 0;
  char *buf = g_malloc (cap + 1);
  for (;;)
    {
      if (n == cap)
        {
          if (cap > max_bytes)
            break;
          cap = MIN (cap * 2, max_bytes + 1);
          buf = g_realloc (buf, cap + 1);
        }
      gssize r = read (fd, buf + n, cap - n);
      if (r < 0 && errno == EINTR)
        continue;
      if (r < 0)
        {
          int err = errno;
          close (fd);
          g_free (buf);
          set_errno_error (error, path, "read error", err);
          return NULL;
        }
      if (r == 0)
        break;
      n += (gsize) r;
    }
  close (fd);
  if (n > max_bytes)
    {
      g_free (buf);
      g_set_error (error, IN_FILE_ERROR, IN_FILE_ERROR_TOO_LARGE,
                   "%s: grew past the %" G_GSIZE_FORMAT " bytes such a file may have while it was read",
                   path, max_bytes);
      return NULL;
    }
  buf[n] = '\0';
  *len = n;
  return buf;
}
