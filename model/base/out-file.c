/* out-file.c: atomic, no-overwrite file writing (see out-file.h). */
#include "out-file.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/stat.h>
#include <glib/gstdio.h>
#include <zlib.h>

G_DEFINE_QUARK (out-file-error-quark, out_file_error)

/* ---- the live temporaries, for the signal handler ----------------------------------
 *
 * A list of chunks of slots, each holding one path in place (the handler may not follow
 * pointers to memory that another thread frees).  A chunk is never freed; a slot is
 * reused.  Each slot is a small seqlock: the writer marks it busy, bumps the generation,
 * copies the path, bumps again and marks it live; the handler copies a live slot's path
 * and unlinks the copy only if the generation did not change meanwhile.  Only atomics,
 * memcpy and unlink: async-signal-safe. */

enum { SLOT_FREE, SLOT_BUSY, SLOT_LIVE };
#define SLOTS_PER_CHUNK 64

typedef struct {
  int state;
  unsigned gen;
  char path[PATH_MAX];
} Slot;

typedef struct Chunk {
  Slot slots[SLOTS_PER_CHUNK];
  struct Chunk *next;
} Chunk;

static Chunk first_chunk;

/* Records @path as a live temporary; NULL when it cannot (too long a path). */
static Slot *
registry_add (const char *path)
{
  size_t n = strlen (path);
  if (n >= PATH_MAX)
    return NULL;
  for (Chunk *c = &first_chunk;; )
    {
      for (int i = 0; i < SLOTS_PER_CHUNK; i++)
        {
          Slot *sl = &c->slots[i];
          int expected = SLOT_FREE;
          if (!__atomic_compare_exchange_n (&sl->state, &expected, SLOT_BUSY, FALSE, __ATOMIC_ACQ_REL,
                                            __ATOMIC_RELAXED))
            continue;
          __atomic_add_fetch (&sl->gen, 1, __ATOMIC_ACQ_REL);
          memcpy (sl->path, path, n + 1);
          __atomic_add_fetch (&sl->gen, 1, __ATOMIC_ACQ_REL);
          __atomic_store_n (&sl->state, SLOT_LIVE, __ATOMIC_RELEASE);
          return sl;
        }
      Chunk *next = __atomic_load_n (&c->next, __ATOMIC_ACQUIRE);
      if (next == NULL)
        {
          Chunk *fresh = g_new0 (Chunk, 1);
          if (__atomic_compare_exchange_n (&c->next, &next, fresh, FALSE, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
            next = fresh;
          else
            g_free (fresh);   /* another thread appended one: use that */
        }
      c = next;
    }
}

static void
registry_remove (Slot *sl)
{
  if (sl == NULL)
    return;
  __atomic_store_n (&sl->state, SLOT_BUSY, __ATOMIC_RELEASE);
  __atomic_add_fetch (&sl->gen, 1, __ATOMIC_ACQ_REL);
  __atomic_store_n (&sl->state, SLOT_FREE, __ATOMIC_RELEASE);
}

/* While a set is being moved into place the handler only notes the signal (the files
 * being renamed must not be unlinked halfway: all of them or none); the commit then ends
 * the process by it.  Atomics only. */
static int committing;
static int pending_signal;

static struct sigaction previous[3];
static const int cleanup_signals[3] = { SIGINT, SIGTERM, SIGHUP };

static void
on_fatal_signal (int sig)
{
  int saved = errno;
  char path[PATH_MAX];
  if (__atomic_load_n (&committing, __ATOMIC_ACQUIRE) > 0)
    {
      __atomic_store_n (&pending_signal, sig, __ATOMIC_RELEASE);
      errno = saved;
      return;
    }
  for (Chunk *c = &first_chunk; c; c = __atomic_load_n (&c->next, __ATOMIC_ACQUIRE))
    for (int i = 0; i < SLOTS_PER_CHUNK; i++)
      {
        Slot *sl = &c->slots[i];
        unsigned g = __atomic_load_n (&sl->gen, __ATOMIC_ACQUIRE);
        if (__atomic_load_n (&sl->state, __ATOMIC_ACQUIRE) != SLOT_LIVE)
          continue;
        size_t k = 0;
        while (k + 1 < sizeof path && sl->path[k])
          {
            path[k] = sl->path[k];
            k++;
          }
        path[k] = '\0';
        if (__atomic_load_n (&sl->gen, __ATOMIC_ACQUIRE) == g
            && __atomic_load_n (&sl->state, __ATOMIC_ACQUIRE) == SLOT_LIVE)
          unlink (path);
      }
  /* end the process as the signal would have (SA_RESETHAND restored the default; the
   * signal is blocked until the handler returns) */
  errno = saved;
  raise (sig);
}

void
out_file_cleanup_on_signals (void)
{
  static gsize once = 0;
  if (!g_once_init_enter (&once))
    return;
  for (int i = 0; i < 3; i++)
    {
      struct sigaction sa = { 0 };
      if (sigaction (cleanup_signals[i], NULL, &previous[i]) == 0 && previous[i].sa_handler == SIG_IGN)
        continue;   /* nohup and friends: keep ignoring */
      sa.sa_handler = on_fatal_signal;
      sa.sa_flags = SA_RESETHAND;
      sigemptyset (&sa.sa_mask);
      sigaction (cleanup_signals[i], &sa, NULL);
    }
  g_once_init_leave (&once, 1);
}

/* ---- stale temporaries --------------------------------------------------------------- */

/* ".NAME.XXXXXX" with NAME ending in one of our extensions, X in [A-Za-z0-9]. */
static gboolean
is_our_temporary_name (const char *n)
{
  static const char *const suffixes[] = { OUT_FILE_STALE_SUFFIXES };
  size_t len = strlen (n);
  if (len < 1 + 1 + 1 + 6 || n[0] != '.' || n[1] == '.' || n[len - 7] != '.')
    return FALSE;
  for (size_t i = len - 6; i < len; i++)
    if (!g_ascii_isalnum (n[i]))
      return FALSE;
  g_autofree char *name = g_strndup (n + 1, len - 1 - 7);
  for (gsize i = 0; i < G_N_ELEMENTS (suffixes); i++)
    if (strlen (name) > strlen (suffixes[i]) && g_str_has_suffix (name, suffixes[i]))
      return TRUE;
  return FALSE;
}

guint
out_file_clean_stale (const char *dir)
{
  DIR *d = opendir (dir);
  if (d == NULL)
    return 0;
  guint removed = 0;
  time_t now = time (NULL);
  uid_t me = geteuid ();
  struct dirent *e;
  while ((e = readdir (d)) != NULL)
    {
      struct stat st;
      if (!is_our_temporary_name (e->d_name)
          || fstatat (dirfd (d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0
          || !S_ISREG (st.st_mode) || st.st_uid != me || st.st_mtime > now - OUT_FILE_STALE_SECONDS)
        continue;
      if (unlinkat (dirfd (d), e->d_name, 0) == 0)
        removed++;
    }
  closedir (d);
  return removed;
}

/* Each folder is cleaned once per process, at its first write. */
static void
clean_stale_once (const char *dir)
{
  static GMutex lock;
  static GHashTable *done;
  g_mutex_lock (&lock);
  if (done == NULL)
    done = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  gboolean first = g_hash_table_add (done, g_strdup (dir));
  g_mutex_unlock (&lock);
  if (first)
    out_file_clean_stale (dir);
}

struct _OutFile {
  char *path;       /* destination */
  char *tmp;        /* the temporary beside it */
  Slot *reg;        /* tmp in the signal handler's registry */
  int fd;
  gzFile gz;        /* OUT_FILE_GZIP: a stream on a dup of fd */
  FILE *stream;     /* out_file_get_stream(): a stream writing through write_raw() */
  char *stream_buf; /* its buffer (glibc ignores setvbuf's size without one: 4 KiB writes) */
  off_t written;    /* bytes written to fd by write_raw() */
  off_t flushing;   /* of which the disk was asked to start writing this many */
  gboolean finished; /* out_file_finish() succeeded: the data are on disk, fd closed */
  gboolean failed;   /* a write or the finish failed: the temporary cannot be committed */
};

static void
set_io_error (GError **error, const OutFile *f, const char *what, int err)
{
  g_set_error (error, OUT_FILE_ERROR, OUT_FILE_ERROR_IO, "%s: %s: %s", f->path, what,
               err ? g_strerror (err) : "no space left on the device?");
}

/* The umask, read once (reading it means setting it: not while other threads create files). */
static mode_t
process_umask (void)
{
  static gsize once = 0;
  static mode_t mask;
  if (g_once_init_enter (&once))
    {
      mask = umask (0);
      umask (mask);
      g_once_init_leave (&once, 1);
    }
  return mask;
}

static const char name_chars[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

/* Replaces the trailing XXXXXX of @tmpl by random letters and digits. */
static void
randomize_name (char *tmpl)
{
  size_t n = strlen (tmpl);
  for (int i = 0; i < 6; i++)
    tmpl[n - 6 + i] = name_chars[g_random_int_range (0, (gint32) sizeof name_chars - 1)];
}

/* Creates the temporary @tmpl (".../.NAME.XXXXXX", filled in), 0600, exclusively.  Its
 * name is in the signal handler's registry before the file exists, so a signal at any
 * moment finds it (*reg); a name that is taken is never registered.  -1 with errno. */
static int
create_temporary (char *tmpl, Slot **reg)
{
  for (int attempt = 0; attempt < 100; attempt++)
    {
      struct stat st;
      randomize_name (tmpl);
      if (lstat (tmpl, &st) == 0)
        continue;
      Slot *sl = registry_add (tmpl);
      int fd = open (tmpl, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
      if (fd >= 0)
        {
          *reg = sl;
          return fd;
        }
      int err = errno;
      registry_remove (sl);
      if (err != EEXIST)
        {
          errno = err;
          return -1;
        }
    }
  errno = EEXIST;
  return -1;
}

OutFile *
out_file_open (const char *path, OutFileFlags flags, GError **error)
{
  g_autofree char *dir = g_path_get_dirname (path);
  g_autofree char *base = g_path_get_basename (path);
  OutFile *f = g_new0 (OutFile, 1);

  clean_stale_once (dir);
  f->path = g_strdup (path);
  f->tmp = g_strdup_printf ("%s/.%s.XXXXXX", dir, base);
  f->fd = create_temporary (f->tmp, &f->reg);
  if (f->fd < 0)
    {
      int err = errno;
      g_set_error (error, OUT_FILE_ERROR, OUT_FILE_ERROR_IO, "%s: cannot create a file in %s: %s",
                   path, dir, g_strerror (err));
      g_clear_pointer (&f->tmp, g_free);
      out_file_abort (f);
      return NULL;
    }
  /* created 0600: give it the permissions a normal create would */
  if (fchmod (f->fd, 0666 & ~process_umask ()) != 0)
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

/* Writes @n bytes to the temporary's descriptor; errno tells why on failure.  Every few
 * MiB the disk is asked to start writing what came so far (Linux), so that the fsync of
 * finish() waits for the tail rather than the whole file. */
static gboolean
write_raw (OutFile *f, const char *data, size_t n)
{
  enum { WRITEBACK_STEP = 4 << 20 };
  while (n > 0)
    {
      gssize w = write (f->fd, data, MIN (n, (size_t) 1 << 30));
      if (w < 0 && errno == EINTR)
        continue;
      if (w <= 0)
        {
          if (w == 0)
            errno = 0;
          return FALSE;
        }
      data += w;
      n -= (size_t) w;
      f->written += w;
    }
#ifdef SYNC_FILE_RANGE_WRITE
  if (f->written - f->flushing >= WRITEBACK_STEP)
    {
      /* a hint: where it fails (not supported here) the fsync does all the work */
      sync_file_range (f->fd, f->flushing, f->written - f->flushing, SYNC_FILE_RANGE_WRITE);
      f->flushing = f->written;
    }
#endif
  return TRUE;
}

gboolean
out_file_write (OutFile *f, const void *data, size_t n, GError **error)
{
  g_return_val_if_fail (!f->finished, FALSE);
  gboolean ok;
  errno = 0;
  if (f->gz)
    {
      size_t done = 0;
      ok = TRUE;
      while (ok && done < n)
        {
          unsigned chunk = (unsigned) MIN (n - done, (size_t) 1 << 30);
          ok = gzwrite (f->gz, (const char *) data + done, chunk) == (int) chunk;
          done += chunk;
        }
    }
  else
    ok = write_raw (f, data, n);
  if (!ok)
    {
      set_io_error (error, f, "write failed", errno);
      f->failed = TRUE;
    }
  return ok;
}

static ssize_t
stream_write (void *cookie, const char *data, size_t n)
{
  return write_raw (cookie, data, n) ? (ssize_t) n : -1;
}

FILE *
out_file_get_stream (OutFile *f)
{
  g_return_val_if_fail (f->gz == NULL, NULL);
  if (f->stream == NULL)
    {
      f->stream = fopencookie (f, "wb", (cookie_io_functions_t) { .write = stream_write });
      if (f->stream == NULL)
        return NULL;
      f->stream_buf = g_malloc (1 << 20);
      setvbuf (f->stream, f->stream_buf, _IOFBF, 1 << 20);
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
      g_clear_pointer (&f->stream_buf, g_free);
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
        g_set_error (error, OUT_FILE_ERROR, OUT_FILE_ERROR_EXISTS, "%s: the file exists and is not replaced",
                     f->path);
      else
        set_io_error (error, f, "cannot move the written file into place", err);
      return FALSE;
    }
  g_clear_pointer (&f->tmp, g_free);
  registry_remove (g_steal_pointer (&f->reg));
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
  g_free (f->stream_buf);
  if (f->fd >= 0)
    close (f->fd);
  if (f->tmp)
    g_unlink (f->tmp);
  registry_remove (f->reg);
  g_free (f->tmp);
  g_free (f->path);
  g_free (f);
}

/* ---- OutSet -------------------------------------------------------------------------- */

/* What a path names: the file (when it exists) and the folder entry. */
typedef struct {
  char *path;
  gboolean exists;
  dev_t dev;
  ino_t ino;
  dev_t dir_dev;
  ino_t dir_ino;
  char *base;
} Ident;

typedef struct {
  Ident id;
  OutFile *file;      /* NULL: reserved, not opened yet */
  char *backup;       /* during the commit: a hard link to the file it replaces */
  Slot *backup_reg;
  gboolean replaces;  /* during the commit: a file was there */
  gboolean moved;
} Entry;

struct _OutSet {
  gboolean overwrite;
  GArray *inputs;     /* Ident */
  GPtrArray *entries; /* Entry*, in the order of reservation */
  GPtrArray *opened;  /* Entry* (borrowed), in the order of opening */
  GPtrArray *new_dirs; /* char*: folders created for the outputs, removed unless committed */
};

static void
ident_clear (Ident *id)
{
  g_clear_pointer (&id->path, g_free);
  g_clear_pointer (&id->base, g_free);
}

/* FALSE when the folder of @path does not exist (or cannot be looked at). */
static gboolean
ident_init (Ident *id, const char *path, struct stat *st, GError **error)
{
  g_autofree char *dir = g_path_get_dirname (path);
  struct stat ds;
  memset (id, 0, sizeof *id);
  if (stat (dir, &ds) != 0 || !S_ISDIR (ds.st_mode))
    {
      int err = errno;
      g_set_error (error, OUT_FILE_ERROR, OUT_FILE_ERROR_IO, "%s: the folder %s %s", path, dir,
                   err == ENOENT || err == 0 ? "does not exist" : g_strerror (err));
      return FALSE;
    }
  id->path = g_strdup (path);
  id->base = g_path_get_basename (path);
  id->dir_dev = ds.st_dev;
  id->dir_ino = ds.st_ino;
  if (stat (path, st) == 0)
    {
      id->exists = TRUE;
      id->dev = st->st_dev;
      id->ino = st->st_ino;
    }
  return TRUE;
}

static gboolean
ident_same (const Ident *a, const Ident *b)
{
  if (a->exists && b->exists && a->dev == b->dev && a->ino == b->ino)
    return TRUE;
  return a->dir_dev == b->dir_dev && a->dir_ino == b->dir_ino && strcmp (a->base, b->base) == 0;
}

static void
entry_free (gpointer p)
{
  Entry *e = p;
  out_file_abort (e->file);
  if (e->backup)
    g_unlink (e->backup);
  registry_remove (e->backup_reg);
  g_free (e->backup);
  ident_clear (&e->id);
  g_free (e);
}

OutSet *
out_set_new (gboolean overwrite)
{
  OutSet *s = g_new0 (OutSet, 1);
  s->overwrite = overwrite;
  s->inputs = g_array_new (FALSE, FALSE, sizeof (Ident));
  g_array_set_clear_func (s->inputs, (GDestroyNotify) ident_clear);
  s->entries = g_ptr_array_new_with_free_func (entry_free);
  s->opened = g_ptr_array_new ();
  s->new_dirs = g_ptr_array_new_with_free_func (g_free);
  return s;
}

void
out_set_free (OutSet *s)
{
  if (s == NULL)
    return;
  g_ptr_array_unref (s->opened);
  g_ptr_array_unref (s->entries);   /* the temporaries go first */
  for (guint i = s->new_dirs->len; i > 0; i--)
    rmdir (g_ptr_array_index (s->new_dirs, i - 1));   /* only empty ones go */
  g_ptr_array_unref (s->new_dirs);
  g_array_unref (s->inputs);
  g_free (s);
}

void
out_set_add_new_dir (OutSet *s, const char *dir)
{
  g_ptr_array_add (s->new_dirs, g_strdup (dir));
}

gboolean
out_set_get_overwrite (const OutSet *s)
{
  return s->overwrite;
}

void
out_set_add_input (OutSet *s, const char *path)
{
  Ident id;
  struct stat st;
  if (path == NULL || !ident_init (&id, path, &st, NULL))
    return;
  if (!id.exists)
    {
      ident_clear (&id);
      return;
    }
  g_array_append_val (s->inputs, id);
}

/* TRUE (with @error) when @id is one of the inputs of @s. */
static gboolean
is_an_input (const OutSet *s, const Ident *id, const char *path, GError **error)
{
  for (guint i = 0; i < s->inputs->len; i++)
    if (ident_same (id, &g_array_index (s->inputs, Ident, i)))
      {
        const char *in = g_array_index (s->inputs, Ident, i).path;
        if (strcmp (in, path) == 0)
          g_set_error (error, OUT_FILE_ERROR, OUT_FILE_ERROR_SAME,
                       "%s: is the input (an output never replaces an input; choose another name)", path);
        else
          g_set_error (error, OUT_FILE_ERROR, OUT_FILE_ERROR_SAME,
                       "%s: is the same file as the input %s (an output never replaces an input; "
                       "choose another name)", path, in);
        return TRUE;
      }
  return FALSE;
}

static Entry *
reserve (OutSet *s, const char *path, GError **error)
{
  Ident id;
  struct stat st;
  if (!ident_init (&id, path, &st, error))
    return NULL;
  if (id.exists && !S_ISREG (st.st_mode))
    {
      g_set_error (error, OUT_FILE_ERROR, OUT_FILE_ERROR_NOT_REGULAR, "%s: is %s, not a file that can be replaced",
                   path, S_ISDIR (st.st_mode) ? "a folder" : S_ISFIFO (st.st_mode) ? "a named pipe (FIFO)"
                   : S_ISSOCK (st.st_mode) ? "a socket" : "a device");
      ident_clear (&id);
      return NULL;
    }
  if (is_an_input (s, &id, path, error))
    {
      ident_clear (&id);
      return NULL;
    }
  for (guint i = 0; i < s->entries->len; i++)
    {
      const Entry *o = s->entries->pdata[i];
      if (ident_same (&id, &o->id))
        {
          if (strcmp (o->id.path, path) == 0)
            g_set_error (error, OUT_FILE_ERROR, OUT_FILE_ERROR_SAME,
                         "%s: is given twice as an output (each output needs its own file)", path);
          else
            g_set_error (error, OUT_FILE_ERROR, OUT_FILE_ERROR_SAME,
                         "%s: is the same file as the output %s (each output needs its own file)", path,
                         o->id.path);
          ident_clear (&id);
          return NULL;
        }
    }
  if (id.exists && !s->overwrite)
    {
      g_set_error (error, OUT_FILE_ERROR, OUT_FILE_ERROR_EXISTS, "%s: the file exists and is not replaced", path);
      ident_clear (&id);
      return NULL;
    }
  Entry *e = g_new0 (Entry, 1);
  e->id = id;
  g_ptr_array_add (s->entries, e);
  return e;
}

gboolean
out_set_reserve (OutSet *s, const char *path, GError **error)
{
  return reserve (s, path, error) != NULL;
}

OutFile *
out_set_open (OutSet *s, const char *path, OutFileFlags flags, GError **error)
{
  Entry *e = NULL;
  Ident id;
  struct stat st;
  /* a reservation of the same file that is not open yet is this one */
  if (ident_init (&id, path, &st, NULL))
    {
      for (guint i = 0; i < s->entries->len && e == NULL; i++)
        {
          Entry *o = s->entries->pdata[i];
          if (o->file == NULL && ident_same (&id, &o->id))
            e = o;
        }
      /* inputs declared after the reservation (a table found beside the input) count too */
      gboolean input = e && is_an_input (s, &id, path, error);
      ident_clear (&id);
      if (input)
        return NULL;
    }
  if (e == NULL && (e = reserve (s, path, error)) == NULL)
    return NULL;
  e->file = out_file_open (path, flags, error);
  if (e->file == NULL)
    {
      g_ptr_array_remove (s->entries, e);
      return NULL;
    }
  g_ptr_array_add (s->opened, e);
  return e->file;
}

/* A hard link to @path under a fresh temporary name (recorded for the signal handler: a
 * kill during the commit leaves the file it replaces, never the link). */
static gboolean
make_backup (Entry *e)
{
  g_autofree char *dir = g_path_get_dirname (e->id.path);
  for (int attempt = 0; attempt < 100; attempt++)
    {
      struct stat st;
      char *b = g_strdup_printf ("%s/.%s.XXXXXX", dir, e->id.base);
      randomize_name (b);
      if (lstat (b, &st) == 0)
        {
          g_free (b);
          continue;
        }
      Slot *reg = registry_add (b);
      if (link (e->id.path, b) == 0)
        {
          e->backup = b;
          e->backup_reg = reg;
          return TRUE;
        }
      int err = errno;
      registry_remove (reg);
      g_free (b);
      if (err != EEXIST)
        return FALSE;
    }
  return FALSE;
}

/* Takes back what the commit moved in so far. */
static void
roll_back (OutSet *s)
{
  for (guint i = 0; i < s->opened->len; i++)
    {
      Entry *e = s->opened->pdata[i];
      if (!e->moved)
        continue;
      if (e->backup && rename (e->backup, e->id.path) == 0)
        {
          registry_remove (g_steal_pointer (&e->backup_reg));
          g_clear_pointer (&e->backup, g_free);
        }
      else if (!e->replaces)
        g_unlink (e->id.path);   /* it did not exist before the commit */
      /* a file replaced without a backup (no hard links here) stays replaced */
      e->moved = FALSE;
    }
}

gboolean
out_set_commit (OutSet *s, GError **error)
{
  /* 1. every file complete on disk */
  for (guint i = 0; i < s->opened->len; i++)
    {
      Entry *e = s->opened->pdata[i];
      if (!out_file_finish (e->file, error))
        return FALSE;
    }
  /* 2. moved into place, the last opened first; a SIGINT/SIGTERM meanwhile waits */
  __atomic_add_fetch (&committing, 1, __ATOMIC_ACQ_REL);
  gboolean ok = TRUE;
  for (guint k = s->opened->len; ok && k > 0; k--)
    {
      Entry *e = s->opened->pdata[k - 1];
      struct stat st;
      e->replaces = lstat (e->id.path, &st) == 0;
      if (s->overwrite && e->replaces && S_ISREG (st.st_mode))
        make_backup (e);
      if (!move_into_place (e->file, s->overwrite, error))
        {
          roll_back (s);
          ok = FALSE;
          break;
        }
      out_file_abort (g_steal_pointer (&e->file));   /* only frees: the temporary is gone */
      e->moved = TRUE;
    }
  /* 3. done: the replaced files go */
  if (ok)
    {
      g_ptr_array_set_size (s->opened, 0);
      g_ptr_array_set_size (s->entries, 0);
      g_ptr_array_set_size (s->new_dirs, 0);
    }
  if (__atomic_sub_fetch (&committing, 1, __ATOMIC_ACQ_REL) == 0)
    {
      int sig = __atomic_exchange_n (&pending_signal, 0, __ATOMIC_ACQ_REL);
      if (sig)
        on_fatal_signal (sig);   /* the other temporaries go, then the process ends */
    }
  return ok;
}
