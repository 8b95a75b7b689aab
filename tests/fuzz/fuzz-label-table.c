/* fuzz-label-table.c: libFuzzer target for every label table reader.
 *
 * The first input byte picks the file name extension (the readers use it as a hint), the
 * rest is the file content; the same bytes also go to the XML extension parser.
 *
 * Build and run (from the source root, clang with libFuzzer):
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -D_GNU_SOURCE -Imodel \
 *     tests/fuzz/fuzz-label-table.c model/label-table.c model/nifti.c model/label-volume.c \
 *     $(pkg-config --cflags --libs glib-2.0 zlib) -lm -o /tmp/fuzz-label-table
 *   /tmp/fuzz-label-table -max_total_time=60 -max_len=4096 tests/data/labels
 */
#include "label-table.h"
#include "fuzz-util.h"

#include <unistd.h>
#include <glib/gstdio.h>

int LLVMFuzzerTestOneInput (const guint8 *data, size_t size);

int
LLVMFuzzerTestOneInput (const guint8 *data, size_t size)
{
  static const char *const ext[] = { ".txt", ".ctbl", ".label", ".lut", ".xml", ".nii.txt" };
  g_autofree char *path = NULL;
  GError *error = NULL;
  LabelTable *t;

  const char *dir = fuzz_dir ("fuzz-label-table-XXXXXX");
  if (dir == NULL || size == 0)
    return 0;
  path = g_strdup_printf ("%s/in%s", dir, ext[data[0] % G_N_ELEMENTS (ext)]);
  if (!g_file_set_contents (path, (const char *) data + 1, (gssize) size - 1, NULL))
    return 0;
  t = lt_table_load (path, &error);
  g_assert ((t == NULL) != (error == NULL));
  if (t != NULL)
    for (guint i = 1; i < t->entries->len; i++)
      g_assert (g_array_index (t->entries, LabelEntry, i - 1).id < g_array_index (t->entries, LabelEntry, i).id);
  lt_table_free (t);
  g_clear_error (&error);
  g_unlink (path);

  t = lt_table_from_xml ((const char *) data, size, "fuzz", &error);
  lt_table_free (t);
  g_clear_error (&error);
  return 0;
}
