/* label-file.c: one entry point to read and write label volumes of any supported format. */
#include "label-file.h"
#include "label-folder.h"
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
  if (label_folder_path_is_folder (path))
    return LABEL_FILE_FORMAT_FOLDER;
  if (str_has_suffix_ci (path, ".seg.nrrd"))
    return LABEL_FILE_FORMAT_SEG_NRRD;
  if (nrrd_path_is_supported (path))
    return LABEL_FILE_FORMAT_NRRD;
  if (nifti_path_is_supported (path))
    return LABEL_FILE_FORMAT_NIFTI;
  if (label_folder_path_wants_folder (path))
    return LABEL_FILE_FORMAT_FOLDER;
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
  gsize len = strlen (path);
  while (len > 1 && path[len - 1] == G_DIR_SEPARATOR)
    len--;
  g_autofree char *p = g_strndup (path, len);
  for (gsize i = 0; i < G_N_ELEMENTS (nrrd_suffixes); i++)
    if (str_has_suffix_ci (p, nrrd_suffixes[i]))
      return g_strndup (p, len - strlen (nrrd_suffixes[i]));
  return nifti_path_stem (p);
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

void
label_file_read_info_clear (LabelFileReadInfo *info)
{
  if (info == NULL)
    return;
  lt_table_free (info->table);
  lt_table_free (info->segment_ids);
  g_free (info->warnings);
  memset (info, 0, sizeof *info);
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
  LabelFileReadInfo info = { 0 };
  LabelVolume *v = label_file_read_full (path, max_voxels, cancellable, &info, error);
  if (table)
    *table = g_steal_pointer (&info.table);
  if (warnings)
    *warnings = g_steal_pointer (&info.warnings);
  label_file_read_info_clear (&info);
  return v;
}

LabelVolume *
label_file_read_full (const char *path, int64_t max_voxels, GCancellable *cancellable, LabelFileReadInfo *info,
                      GError **error)
{
  LabelFileReadInfo local_info = { 0 };
  if (info == NULL)
    info = &local_info;
  memset (info, 0, sizeof *info);
  if (label_folder_path_is_folder (path))
    {
      gboolean keep = info != &local_info;
      return label_folder_read_cancellable (path, max_voxels, 0, cancellable, keep ? &info->table : NULL,
                                            keep ? &info->warnings : NULL, error);
    }
  gboolean nrrd = starts_with_nrrd_magic (path)
                  || (nrrd_path_is_supported (path) && !nifti_path_is_supported (path));
  LabelVolume *v;
  if (nrrd)
    {
      NrrdReadOptions opt = { .max_voxels = max_voxels };
      NrrdReadInfo ni;
      v = nrrd_read (path, &opt, &info->table, &ni, error);
      if (v != NULL)
        {
          info->warnings = g_steal_pointer (&ni.warnings);
          info->segment_ids = g_steal_pointer (&ni.segment_ids);
        }
      nrrd_read_info_clear (&ni);
      if (v != NULL && g_cancellable_set_error_if_cancelled (cancellable, error))
        g_clear_pointer (&v, lv_volume_free);
    }
  else
    {
      g_autoptr (GPtrArray) notes = g_ptr_array_new_with_free_func (g_free);
      NiftiReadOptions opt = { .max_voxels = max_voxels, .cancellable = cancellable, .warnings = notes };
      v = nifti_read (path, &opt, error);
      if (v != NULL)
        {
          /* only the names inside the file: no path, so no file beside it is looked at */
          g_autoptr (GError) local = NULL;
          info->table = lt_table_find_for_volume (NULL, v, NULL, &local);
          if (local != NULL)
            g_ptr_array_add (notes, g_strdup_printf ("%s: the label names in the header cannot be read: %s", path,
                                                     local->message));
          if (notes->len > 0)
            {
              g_ptr_array_add (notes, NULL);
              info->warnings = g_strjoinv ("\n", (char **) notes->pdata);
            }
        }
    }
  if (v == NULL)
    label_file_read_info_clear (info);
  label_file_read_info_clear (&local_info);
  return v;
}

gboolean
label_file_write (const LabelVolume *v, const LabelTable *table, const char *path, gboolean overwrite, GError **error)
{
  const LabelFileWriteOptions opt = { .overwrite = overwrite };
  return label_file_write_full (v, table, path, &opt, error);
}

gboolean
label_file_write_full (const LabelVolume *v, const LabelTable *table, const char *path,
                       const LabelFileWriteOptions *options, GError **error)
{
  g_autoptr (OutSet) own = out_set_new (options != NULL && options->overwrite);
  return label_file_write_full_in (own, v, table, path, options, error) && out_set_commit (own, error);
}

gboolean
label_file_write_in (OutSet *outputs, const LabelVolume *v, const LabelTable *table, const char *path,
                     GError **error)
{
  return label_file_write_full_in (outputs, v, table, path, NULL, error);
}

static void
set_unknown_format (GError **error, const char *path)
{
  g_set_error (error, LABEL_FILE_ERROR, LABEL_FILE_ERROR_UNKNOWN_FORMAT,
               "%s: unknown output format (use .nii, .nii.gz, .hdr, .nrrd, .seg.nrrd or a folder)", path);
}

gboolean
label_file_write_full_in (OutSet *outputs, const LabelVolume *v, const LabelTable *table, const char *path,
                          const LabelFileWriteOptions *options, GError **error)
{
  const LabelFileWriteOptions none = { 0 };
  const LabelFileWriteOptions *o = options ? options : &none;
  switch (label_file_format_from_path (path))
    {
    case LABEL_FILE_FORMAT_NIFTI:
      {
        NiftiWriteFlags flags = o->nifti_flags & (NIFTI_WRITE_NIFTI1 | NIFTI_WRITE_NIFTI2);
        NiftiWriteExtras extras = { 0 };
        g_autofree char *xml = table != NULL ? lt_table_dup_caret_xml (table, &extras.label_xml_len) : NULL;
        extras.label_xml = xml;
        return nifti_write_full (outputs, v, path, flags, &extras, error);
      }
    case LABEL_FILE_FORMAT_NRRD:
    case LABEL_FILE_FORMAT_SEG_NRRD:
      return nrrd_write_full (outputs, v, table, o->segment_ids, path, 0, error);
    case LABEL_FILE_FORMAT_FOLDER:
      {
        gboolean like_folder = o->like_path != NULL && label_folder_path_is_folder (o->like_path);
        return label_folder_write_in (outputs, v, table, like_folder ? o->like_path : NULL,
                                      like_folder ? o->like : NULL, path, error);
      }
    default:
      set_unknown_format (error, path);
      return FALSE;
    }
}

gboolean
label_file_reserve (OutSet *outputs, const char *path, GError **error)
{
  switch (label_file_format_from_path (path))
    {
    case LABEL_FILE_FORMAT_NIFTI:
      {
        if (!out_set_reserve (outputs, path, error))
          return FALSE;
        /* the image of a pair too */
        if (!(str_has_suffix_ci (path, ".hdr") || str_has_suffix_ci (path, ".hdr.gz")))
          return TRUE;
        g_autofree char *stem = nifti_path_stem (path);
        g_autofree char *img = g_strconcat (stem, str_has_suffix_ci (path, ".gz") ? ".img.gz" : ".img", NULL);
        return out_set_reserve (outputs, img, error);
      }
    case LABEL_FILE_FORMAT_NRRD:
    case LABEL_FILE_FORMAT_SEG_NRRD:
      return out_set_reserve (outputs, path, error);
    case LABEL_FILE_FORMAT_FOLDER:
      return label_folder_check_output (outputs, path, error);
    default:
      set_unknown_format (error, path);
      return FALSE;
    }
}

void
label_file_add_inputs (OutSet *outputs, const char *path)
{
  if (path == NULL)
    return;
  if (label_folder_path_is_folder (path))
    {
      label_folder_add_inputs (outputs, path);
      return;
    }
  nifti_add_inputs (outputs, path);
  if (nrrd_path_is_supported (path) || starts_with_nrrd_magic (path))
    nrrd_add_inputs (outputs, path);   /* a detached header's data file */
}

gboolean
label_file_error_is_exists (const GError *error)
{
  return error != NULL && (g_error_matches (error, OUT_FILE_ERROR, OUT_FILE_ERROR_EXISTS)
                           || g_error_matches (error, NIFTI_ERROR, NIFTI_ERROR_EXISTS)
                           || g_error_matches (error, LABEL_FOLDER_ERROR, LABEL_FOLDER_ERROR_EXISTS));
}
