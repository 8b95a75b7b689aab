/* label-file.c: one entry point to read and write label volumes of any supported format. */
#include "label-file.h"
#include "nifti.h"
#include "nrrd.h"
#include "out-file.h"
#include "strutil.h"

#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

G_DEFINE_QUARK (label-file-error-quark, label_file_error)

LabelFileFormat
label_file_format_from_path (const char *path)
{
  if (str_has_suffix_ci (path, ".seg.nrrd"))
    return LABEL_FILE_FORMAT_SEG_NRRD;
  if (nrrd_path_is_supported (path))
    return LABEL_FILE_FORMAT_NRRD;
  if (nifti_path_is_supported (path))
    return LABEL_FILE_FORMAT_NIFTI;
  return LABEL_FILE_FORMAT_UNKNOWN;
}

gboolean
label_file_path_is_supported (const char *path)
{
  return label_file_format_from_path (path) != LABEL_FILE_FORMAT_UNKNOWN;
}

char *
label_file_path_stem (const char *path)
{
  static const char *const nrrd_suffixes[] = { ".seg.nrrd", ".nrrd", ".nhdr" };
  for (gsize i = 0; i < G_N_ELEMENTS (nrrd_suffixes); i++)
    if (str_has_suffix_ci (path, nrrd_suffixes[i]))
      return g_strndup (path, strlen (path) - strlen (nrrd_suffixes[i]));
  return nifti_path_stem (path);
}

/* TRUE if @path is a regular file starting with a NRRD magic.  Never blocks: anything but
 * a regular file is left to the readers, which refuse it with a clear message. */
static gboolean
starts_with_nrrd_magic (const char *path)
{
  struct stat st;
  if (stat (path, &st) != 0 || !S_ISREG (st.st_mode))
    return FALSE;
  int fd = open (path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
  if (fd < 0)
    return FALSE;
  guint8 head[8];
  ssize_t n = fstat (fd, &st) == 0 && S_ISREG (st.st_mode) ? read (fd, head, sizeof head) : -1;
  close (fd);
  return n > 0 && nrrd_magic_matches (head, (gsize) n);
}

LabelVolume *
label_file_read (const char *path, int64_t max_voxels, LabelTable **table, char **warnings, GError **error)
{
  return label_file_read_cancellable (path, max_voxels, NULL, table, warnings, error);
}

LabelVolume *
label_file_read_cancellable (const char *path, int64_t max_voxels, GCancellable *cancellable, LabelTable **table,
                             char **warnings, GError **error)
{
  if (table)
    *table = NULL;
  if (warnings)
    *warnings = NULL;
  gboolean nrrd = starts_with_nrrd_magic (path)
                  || (nrrd_path_is_supported (path) && !nifti_path_is_supported (path));
  if (nrrd)
    {
      NrrdReadOptions opt = { .max_voxels = max_voxels };
      NrrdReadInfo info;
      LabelVolume *v = nrrd_read (path, &opt, table, &info, error);
      if (v != NULL && warnings)
        *warnings = g_steal_pointer (&info.warnings);
      nrrd_read_info_clear (&info);
      return v;
    }

  g_autoptr (GPtrArray) notes = g_ptr_array_new_with_free_func (g_free);
  NiftiReadOptions opt = { .max_voxels = max_voxels, .cancellable = cancellable, .warnings = notes };
  LabelVolume *v = nifti_read (path, &opt, error);
  if (v == NULL)
    return NULL;
  if (table)
    {
      /* only the names inside the file: no path, so no file beside it is looked at */
      g_autoptr (GError) local = NULL;
      *table = lt_table_find_for_volume (NULL, v, NULL, &local);
      if (local != NULL)
        g_ptr_array_add (notes, g_strdup_printf ("%s: the label names in the header cannot be read: %s", path,
                                                 local->message));
    }
  if (warnings && notes->len > 0)
    {
      g_ptr_array_add (notes, NULL);
      *warnings = g_strjoinv ("\n", (char **) notes->pdata);
    }
  return v;
}

gboolean
label_file_write (const LabelVolume *v, const LabelTable *table, const char *path, gboolean overwrite, GError **error)
{
  g_autoptr (OutSet) own = out_set_new (overwrite);
  return label_file_write_in (own, v, table, path, error) && out_set_commit (own, error);
}

gboolean
label_file_write_in (OutSet *outputs, const LabelVolume *v, const LabelTable *table, const char *path,
                     GError **error)
{
  switch (label_file_format_from_path (path))
    {
    case LABEL_FILE_FORMAT_NIFTI:
      return nifti_write_in (outputs, v, path, 0, error);
    case LABEL_FILE_FORMAT_NRRD:
    case LABEL_FILE_FORMAT_SEG_NRRD:
      return nrrd_write_in (outputs, v, table, path, 0, error);
    default:
      g_set_error (error, LABEL_FILE_ERROR, LABEL_FILE_ERROR_UNKNOWN_FORMAT,
                   "%s: unknown output format (use .nii, .nii.gz, .hdr, .nrrd or .seg.nrrd)", path);
      return FALSE;
    }
}

void
label_file_add_inputs (OutSet *outputs, const char *path)
{
  nifti_add_inputs (outputs, path);
}

gboolean
label_file_error_is_exists (const GError *error)
{
  return error != NULL && (g_error_matches (error, OUT_FILE_ERROR, OUT_FILE_ERROR_EXISTS)
                           || g_error_matches (error, NIFTI_ERROR, NIFTI_ERROR_EXISTS));
}
