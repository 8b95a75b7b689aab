/* in-file.h: opening input files without blocking and without unbounded reads.
 *
 * Every reader of the project opens its files here.  Only regular files are read: a
 * named pipe (FIFO), a device (/dev/zero, /dev/urandom, a terminal), a socket or a folder
 * is refused with a message naming the file and what it is ("PATH: is a FIFO (named pipe),
 * not a regular file").  The path is stat()ed first (a device is never opened), then opened
 * with O_NONBLOCK, so opening a FIFO never waits for a writer, and checked again with fstat()
 * on the open descriptor, which must be the file stat() saw; O_NONBLOCK is then cleared.
 * in_file_read() also caps the bytes read, whatever the file claims or grows to.
 *
 * Errors are IN_FILE_ERROR; messages start with the path.
 */
#pragma once

#include <glib.h>
#include <sys/stat.h>

G_BEGIN_DECLS

#define IN_FILE_ERROR (in_file_error_quark ())
GQuark in_file_error_quark (void);

typedef enum {
  IN_FILE_ERROR_IO,           /* cannot open or read */
  IN_FILE_ERROR_NOT_FOUND,    /* no such file */
  IN_FILE_ERROR_NOT_REGULAR,  /* a folder, FIFO, device or socket */
  IN_FILE_ERROR_TOO_LARGE,    /* larger than the caller's limit */
} InFileError;

/* "a folder", "a FIFO (named pipe)", "a device", "a socket", "a regular file"... */
const char *in_file_describe_mode (mode_t mode);

/* Opens @path for reading (O_RDONLY | O_CLOEXEC) if it is a regular file; its fstat()
 * goes to @st (may be NULL).  Returns the descriptor, or -1 with @error. */
int in_file_open (const char *path, struct stat *st, GError **error);

/* The same check without keeping the file open (stat follows symbolic links): TRUE for a
 * regular file. */
gboolean in_file_check (const char *path, GError **error);

/* The whole of the regular file @path, at most @max_bytes (a larger file is an
 * IN_FILE_ERROR_TOO_LARGE error naming the limit, also when it grows while read), with a
 * NUL after the data (not counted in *@len). */
char *in_file_read (const char *path, gsize max_bytes, gsize *len, GError **error);

G_END_DECLS
