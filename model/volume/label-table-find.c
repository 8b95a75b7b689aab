/* label-table-find.c: the label table of a volume: a table file beside it, else the XML
 * label table of a NIfTI header extension (TotalSegmentator / Caret).
 */
#include "label-table.h"
#include "label-file.h"
#include "nifti.h"
#include "strutil.h"

#include <string.h>

/* Tried in this order, each first with the stem without ".nii" then with it:
 * explicit label-table names first, then the Slicer extension, then the generic .txt
 * (mricron names, which bring their .lut along, or a Slicer/ITK-SNAP table), and last a
 * .lut on its own (colours only). */
static const char *const beside_suffixes[] = {
  ".label.txt", "_labels.txt", ".label", ".ctbl", ".txt", ".lut",
};

LabelTable *
lt_table_find_for_volume (const char *volume_path, const LabelVolume *v,
                          char **found_path, GError **error)
{
  if (found_path != NULL)
    *found_path = NULL;

  if (volume_path != NULL)
    {
      g_autofree char *stem = label_file_path_stem (volume_path);
      g_autofree char *stem_nii = NULL;
      const char *stems[2];
      int n_stems = 0;

      if (stem == NULL)
        stem = g_strdup (volume_path);
      stems[n_stems++] = stem;
      if (!str_has_suffix_ci (stem, ".nii"))
        {
          stem_nii = g_strconcat (stem, ".nii", NULL);
          stems[n_stems++] = stem_nii;
        }
      for (guint s = 0; s < G_N_ELEMENTS (beside_suffixes); s++)
        for (int k = 0; k < n_stems; k++)
          {
            g_autofree char *cand = g_strconcat (stems[k], beside_suffixes[s], NULL);
            LabelTable *t;

            if (!g_file_test (cand, G_FILE_TEST_IS_REGULAR))
              continue;
            t = lt_table_load (cand, error);
            if (t != NULL && found_path != NULL)
              *found_path = g_steal_pointer (&cand);
            return t;
          }
    }

  if (v != NULL && v->source != NULL)
    {
      int n = 0;
      const NiftiExtension *ext = nifti_source_get_extensions (v->source, &n);

      for (int i = 0; ext != NULL && i < n; i++)
        {
          g_autofree char *source = NULL;
          LabelTable *t;
          g_autoptr (GError) local = NULL;

          if (ext[i].data == NULL || ext[i].size == 0
              || memmem (ext[i].data, ext[i].size, "<LabelTable", 11) == NULL)
            continue;
          source = g_strdup_printf ("%s (header extension %d)",
                                    volume_path != NULL ? volume_path : "volume", i + 1);
          t = lt_table_from_xml ((const char *) ext[i].data, ext[i].size, source, &local);
          if (local != NULL)
            {
              g_propagate_error (error, g_steal_pointer (&local));
              return NULL;
            }
          if (t != NULL)
            {
              if (found_path != NULL && volume_path != NULL)
                *found_path = g_strdup (volume_path);
              return t;
            }
        }
    }
  return NULL;
}
