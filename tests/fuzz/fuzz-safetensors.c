/* fuzz-safetensors.c: libFuzzer target for the safetensors reader and the model
 * loader (metadata, labels, tensor checks) behind it.
 *
 * Build and run (from the source root, clang with libFuzzer):
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -D_GNU_SOURCE -Imodel \
 *     tests/fuzz/fuzz-safetensors.c model/nn-safetensors.c model/nn-net.c model/nn-ops.c \
 *     $(pkg-config --cflags --libs gio-2.0 json-glib-1.0 openblas) -lm -o /tmp/fuzz-safetensors
 *   /tmp/fuzz-safetensors -max_total_time=600 -max_len=200000 tests/fuzz/corpus-safetensors
 */
#include "nn-net.h"
#include "nn-safetensors.h"
#include "fuzz-util.h"

#include <glib/gstdio.h>
#include <string.h>

int LLVMFuzzerTestOneInput (const guint8 *data, size_t size);

int
LLVMFuzzerTestOneInput (const guint8 *data, size_t size)
{
  GError *error = NULL;
  GBytes *bytes = g_bytes_new (data, size);
  NnStFile *f = nn_st_file_parse (bytes, "fuzz.safetensors", &error);

  if (f != NULL)
    {
      /* every accepted tensor lies inside the buffer: copy the F32 ones */
      for (guint i = 0; i < f->tensors->len; i++)
        {
          const NnStTensor *t = g_ptr_array_index (f->tensors, i);
          if (strcmp (t->dtype, "F32") == 0 && t->n_elements < (1 << 20))
            {
              float *out = g_new (float, t->n_elements + 1);
              nn_st_tensor_copy_f32 (f, t, out);
              g_free (out);
            }
        }
      nn_st_file_free (f);
      /* and the model loader on the same bytes */
      char *path = g_build_filename (fuzz_dir ("fuzz-st-XXXXXX"), "m.safetensors", NULL);
      if (g_file_set_contents (path, (const char *) data, (gssize) size, NULL))
        {
          NnNet *net = nn_net_load (path, &error);
          g_assert ((net == NULL) == (error != NULL));
          nn_net_free (net);
          g_clear_error (&error);
          g_unlink (path);
        }
      g_free (path);
    }
  else
    {
      g_assert (error != NULL && error->message[0] != '\0');
      g_clear_error (&error);
    }
  g_bytes_unref (bytes);
  return 0;
}
