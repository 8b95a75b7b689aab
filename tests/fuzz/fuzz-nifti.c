/* fuzz-nifti.c: libFuzzer target for the NIfTI reader (plain, gzip, pairs) and,
 * for every input it accepts, a write + re-read round trip that must agree.
 *
 * The first input byte picks the form: 0 plain .nii; 1 .nii.gz compressed here
 * (so mutations act on the header and data); 2 the bytes taken as a .nii.gz
 * (mutations act on the gzip stream); 3 a .hdr + .img pair split at byte 352.
 *
 * Build and run (from the source root, clang with libFuzzer):
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -D_GNU_SOURCE -Imodel \
 *     tests/fuzz/fuzz-nifti.c model/nifti.c model/label-volume.c \
 *     $(pkg-config --cflags --libs glib-2.0 zlib) -lm -o /tmp/fuzz-nifti
 *   /tmp/fuzz-nifti -max_total_time=600 -max_len=65536 tests/fuzz/corpus-nifti
 */
#include "nifti.h"
#include "fuzz-util.h"

#include <stdlib.h>
#include <string.h>
#include <zlib.h>

int LLVMFuzzerTestOneInput (const guint8 *data, size_t size);

static gboolean
write_gz (const char *path, const guint8 *data, size_t size)
{
  gzFile gz = gzopen (path, "wb1");
  if (gz == NULL)
    return FALSE;
  gboolean ok = size == 0 || gzwrite (gz, data, (unsigned) size) == (int) size;
  return gzclose (gz) == Z_OK && ok;
}

/* The four forms of the input (see the top of this file). */
static const FuzzForms forms = {
  .tmpl = "fuzz-nifti-XXXXXX",
  .names = { "in.nii", "in.nii.gz", "in.nii.gz", "in.hdr" },
  .side_name = "in.img",
  .split_form = 3,
  .split_at = 352,
  .write_compressed = write_gz,
};

int
LLVMFuzzerTestOneInput (const guint8 *data, size_t size)
{
  g_autofree char *path = fuzz_write_input (&forms, &data, &size, NULL);
  if (path == NULL)
    return 0;
  NiftiReadOptions opt = { .max_voxels = 1 << 22 };
  GError *error = NULL;

  LabelVolume *v = nifti_read (path, &opt, &error);
  g_assert ((v == NULL) != (error == NULL));
  if (v != NULL)
    {
      g_autofree char *out = g_build_filename (fuzz_dir ("fuzz-nifti-XXXXXX"), "out.nii.gz", NULL);
      if (!nifti_write (v, out, NIFTI_WRITE_OVERWRITE, &error))
        fuzz_fail ("cannot write back an accepted volume", error);
      LabelVolume *w = nifti_read (out, &opt, &error);
      if (w == NULL)
        fuzz_fail ("cannot read back our own file", error);
      fuzz_assert_same_voxels (v, w);
      lv_volume_free (w);
      lv_volume_free (v);
    }
  g_clear_error (&error);
  return 0;
}
