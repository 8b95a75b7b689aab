/* out-file.h: writing a file so that nothing on disk is ever half-written or lost.
 *
 * The data go to a hidden temporary beside the destination (".NAME.XXXXXX", mode
 * 0666 & ~umask like a normal create), are flushed and fsync'ed, and only then is the
 * temporary moved into place: without overwrite by renameat2 (RENAME_NOREPLACE), or by
 * link + unlink where the file system lacks it, so an existing file is never replaced,
 * even by a file that appears meanwhile; with overwrite by rename.  On a file system that
 * has neither (some FUSE and network ones), the destination is checked, then renamed onto:
 * that last resort is not race-free.  The folder is fsync'ed afterwards.  Aborting (or any
 * failure) removes the temporary.
 *
 * Error messages name the destination; errors are OUT_FILE_ERROR, and
 * OUT_FILE_ERROR_EXISTS says the destination exists and was left alone.
 */
#pragma once

#include <glib.h>
#include <stdio.h>

G_BEGIN_DECLS

#define OUT_FILE_ERROR (out_file_error_quark ())
GQuark out_file_error_quark (void);

typedef enum {
  OUT_FILE_ERROR_IO,
  OUT_FILE_ERROR_EXISTS,
} OutFileError;

typedef enum {
  OUT_FILE_PLAIN = 0,
  OUT_FILE_GZIP = 1 << 0,       /* out_file_write() compresses (gzip level 6) */
} OutFileFlags;

typedef struct _OutFile OutFile;

/* Creates the temporary for @path; fails when the folder is not writable. */
OutFile *out_file_open (const char *path, OutFileFlags flags, GError **error);

const char *out_file_get_path (const OutFile *f);

/* Appends @n bytes (compressed with OUT_FILE_GZIP). */
gboolean out_file_write (OutFile *f, const void *data, size_t n, GError **error);

/* A buffered stdio stream on the temporary, for text writers (plain files only); the
 * stream is flushed and closed by out_file_commit(), never by the caller.  Write errors
 * on it are reported by out_file_commit(). */
FILE *out_file_get_stream (OutFile *f);

/* Flushes, fsyncs and closes the temporary without moving it into place, for writers of
 * several files that must all be complete on disk before the first is moved in;
 * out_file_commit() then only moves it.  After a failure (here or in out_file_write()) only
 * out_file_abort() is left: a later commit fails too. */
gboolean out_file_finish (OutFile *f, GError **error);

/* Finishes @f (unless out_file_finish() did) and moves the temporary into place, then
 * frees @f (also on failure, which removes the temporary).  With @overwrite FALSE an
 * existing @path is an OUT_FILE_ERROR_EXISTS error. */
gboolean out_file_commit (OutFile *f, gboolean overwrite, GError **error);

/* Removes the temporary and frees @f; NULL is allowed. */
void out_file_abort (OutFile *f);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (OutFile, out_file_abort)

G_END_DECLS
