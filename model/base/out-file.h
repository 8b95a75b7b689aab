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
 *
 * Every temporary that exists is known to out_file_cleanup_on_signals()'s handler, which
 * removes them all when SIGINT, SIGTERM or SIGHUP ends the process.  A temporary that a
 * SIGKILL (or a crash) left behind is removed by the next write into its folder once it is
 * a day old: only a regular file of ours (same user) named exactly ".NAME.XXXXXX", NAME
 * ending in an extension this project writes (OUT_FILE_STALE_SUFFIXES), X a letter or digit.
 *
 * A command that writes several files (or one file, with inputs to protect) collects them
 * in an OutSet, see below: that is the one rule of every writer.
 */
#pragma once

#include <glib.h>
#include <stdio.h>

G_BEGIN_DECLS

#define OUT_FILE_ERROR (out_file_error_quark ())
GQuark out_file_error_quark (void);

typedef enum {
  OUT_FILE_ERROR_IO,
  OUT_FILE_ERROR_EXISTS,      /* the destination exists and overwriting was not allowed */
  OUT_FILE_ERROR_SAME,        /* an output is an input or another output of the same set */
  OUT_FILE_ERROR_NOT_REGULAR, /* the destination is a folder, device, FIFO or socket */
} OutFileError;

/* A stale temporary is removed when it is older than this many seconds (a day). */
#define OUT_FILE_STALE_SECONDS (24 * 60 * 60)
/* The endings of the files this project writes (NAME in ".NAME.XXXXXX"). */
#define OUT_FILE_STALE_SUFFIXES ".nii", ".nii.gz", ".hdr", ".hdr.gz", ".img", ".img.gz", ".nrrd", \
  ".nhdr", ".raw", ".raw.gz", ".txt", ".tsv", ".csv", ".json", ".obj", ".mtl", ".ply", ".stl", ".png", \
  ".safetensors"

typedef enum {
  OUT_FILE_PLAIN = 0,
  OUT_FILE_GZIP = 1 << 0,       /* out_file_write() compresses (gzip level 6) */
} OutFileFlags;

typedef struct _OutFile OutFile;

/* Creates the temporary for @path; fails when the folder is not writable. */
OutFile *out_file_open (const char *path, OutFileFlags flags, GError **error);

const char *out_file_get_path (const OutFile *f);

/* Appends @n bytes (compressed with OUT_FILE_GZIP).  Plain data reach the disk as they
 * come: every 4 MiB the kernel is asked to start writing them out, so that the fsync of
 * the commit waits only for the last few. */
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

/* Installs (once per process) a handler of SIGINT, SIGTERM and SIGHUP that removes every
 * temporary of this process (async-signal-safe: unlink only) and then ends the process
 * by the same signal.  A signal that is ignored (nohup) stays ignored.  The command line
 * and the desktop application call it at start. */
void out_file_cleanup_on_signals (void);

/* Removes the stale temporaries of @dir (see above) now; out_file_open() does this once
 * per folder and process.  Returns how many were removed. */
guint out_file_clean_stale (const char *dir);

/* ---- OutSet: every output of one command --------------------------------------------
 *
 * Inputs are declared first (out_set_add_input).  Each output is reserved before the work
 * (out_set_reserve), or when its writer opens it (out_set_open), and refused:
 *   - when it is an input or another output of the set (OUT_FILE_ERROR_SAME): the same
 *     file (device and inode) when it exists, the same folder (device and inode) and name
 *     when it does not, so hard links, symbolic links and "a/../b" are caught;
 *   - when it exists and the set does not overwrite (OUT_FILE_ERROR_EXISTS);
 *   - when it is a folder, device, FIFO or socket, also with overwrite
 *     (OUT_FILE_ERROR_NOT_REGULAR), or its folder does not exist (OUT_FILE_ERROR_IO).
 * Writers open their files through the set and only write and out_file_finish() them;
 * out_set_commit() moves every file into place after all of them were written (in the
 * reverse order of opening: a file opened later, such as an image or a material that
 * the first refers to, is in place first).  If one cannot be moved in, those already moved
 * are taken back: new ones removed, replaced ones restored (from a hard link kept until the
 * end; on a file system without hard links a replaced file cannot be restored).  Freeing
 * a set that was not committed removes all its temporaries. */
typedef struct _OutSet OutSet;

OutSet *out_set_new (gboolean overwrite);
void out_set_free (OutSet *s);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (OutSet, out_set_free)
gboolean out_set_get_overwrite (const OutSet *s);

/* @path will be read by the command; a path that does not exist is ignored. */
void out_set_add_input (OutSet *s, const char *path);
/* Checks and reserves the output @path (see above). */
gboolean out_set_reserve (OutSet *s, const char *path, GError **error);
/* Opens the temporary of @path (reserving it first unless out_set_reserve() did); the set
 * owns the OutFile: write and finish it, never commit or abort it. */
OutFile *out_set_open (OutSet *s, const char *path, OutFileFlags flags, GError **error);
/* Finishes every opened file, then moves all into place (see above); the set is then
 * empty.  Reserved paths that were never opened are left alone. */
gboolean out_set_commit (OutSet *s, GError **error);
/* @dir is a folder the caller has just created for outputs of @s (a mask folder): it is
 * removed again (when empty) if the set is freed without a successful commit. */
void out_set_add_new_dir (OutSet *s, const char *dir);

G_END_DECLS
