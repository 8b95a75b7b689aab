/* test-fuzz-regressions.c: replay the fuzz corpora and every saved fuzz finding.
 *
 * The libFuzzer targets in tests/fuzz/ are compiled into this test (tests/meson.build
 * builds each one as a small static library with LLVMFuzzerTestOneInput renamed), and every
 * file of tests/fuzz/corpus-<target>/ and tests/fuzz/regressions/<target>/ is fed through the
 * very same entry point the fuzzer used.  The targets assert their own invariants (reader
 * returns a value xor an error, accepted volumes round-trip, tensors lie inside the file...),
 * so a regression aborts this test, also in the ASan+UBSan build (build-asan), where memory
 * errors and leaks are reported as well.
 */
#include <glib.h>
#include <glib/gstdio.h>
#include <string.h>

#include "test-util.h"

int fuzz_nifti_one (const guint8 *data, size_t size);
int fuzz_nrrd_one (const guint8 *data, size_t size);
int fuzz_label_table_one (const guint8 *data, size_t size);
int fuzz_safetensors_one (const guint8 *data, size_t size);

typedef int (*FuzzEntry) (const guint8 *data, size_t size);

typedef struct {
  const char *name;   /* target name: corpus-NAME and regressions/NAME */
  FuzzEntry entry;
  gboolean corpus_required;
} FuzzTarget;

static const FuzzTarget targets[] = {
  { "nifti", fuzz_nifti_one, TRUE },
  { "nrrd", fuzz_nrrd_one, TRUE },
  { "label-table", fuzz_label_table_one, TRUE },
  { "safetensors", fuzz_safetensors_one, TRUE },
};

static int
cmp_names (gconstpointer a, gconstpointer b)
{
  return strcmp (*(char *const *) a, *(char *const *) b);
}

/* Feed every regular file of @dir (sorted, README files skipped) to @entry; returns the count. */
static guint
replay_dir (const char *dir, FuzzEntry entry)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GDir) d = g_dir_open (dir, 0, &error);
  if (d == NULL)
    return 0;
  g_autoptr (GPtrArray) names = g_ptr_array_new_with_free_func (g_free);
  const char *n;
  while ((n = g_dir_read_name (d)) != NULL)
    if (!g_str_has_prefix (n, "README") && n[0] != '.')
      g_ptr_array_add (names, g_strdup (n));
  g_ptr_array_sort (names, cmp_names);
  guint count = 0;
  for (guint i = 0; i < names->len; i++)
    {
      g_autofree char *path = g_build_filename (dir, g_ptr_array_index (names, i), NULL);
      if (!g_file_test (path, G_FILE_TEST_IS_REGULAR))
        continue;
      g_autofree char *data = NULL;
      gsize len = 0;
      g_assert_no_error (error);
      g_file_get_contents (path, &data, &len, &error);
      g_assert_no_error (error);
      /* the entry points assert and abort on a regression: name the input first */
      g_test_message ("replaying %s (%" G_GSIZE_FORMAT " bytes)", path, len);
      g_assert_cmpint (entry ((const guint8 *) data, len), ==, 0);
      count++;
    }
  return count;
}

static void
test_corpus (gconstpointer p)
{
  const FuzzTarget *t = p;
  g_autofree char *sub = g_strconcat ("corpus-", t->name, NULL);
  g_autofree char *dir = g_test_build_filename (G_TEST_DIST, "fuzz", sub, NULL);
  guint n = replay_dir (dir, t->entry);
  g_test_message ("%s: %u corpus files replayed", t->name, n);
  if (t->corpus_required)
    g_assert_cmpuint (n, >, 0);
}

static void
test_regressions (gconstpointer p)
{
  const FuzzTarget *t = p;
  g_autofree char *dir = g_test_build_filename (G_TEST_DIST, "fuzz", "regressions", t->name, NULL);
  g_assert_true (g_file_test (dir, G_FILE_TEST_IS_DIR));
  guint n = replay_dir (dir, t->entry);
  g_test_message ("%s: %u regression files replayed", t->name, n);
  g_assert_cmpuint (n, >, 0);
}

/* The entry points must also survive degenerate inputs that no corpus holds. */
static void
test_degenerate (gconstpointer p)
{
  const FuzzTarget *t = p;
  static const guint8 zeros[512];
  guint8 ones[512];
  memset (ones, 0xff, sizeof ones);
  for (guint len = 0; len <= 8; len++)
    {
      g_assert_cmpint (t->entry (zeros, len), ==, 0);
      g_assert_cmpint (t->entry (ones, len), ==, 0);
    }
  g_assert_cmpint (t->entry (zeros, sizeof zeros), ==, 0);
  g_assert_cmpint (t->entry (ones, sizeof ones), ==, 0);
}

int
main (int argc, char **argv)
{
  /* The targets make their scratch directory under g_get_tmp_dir (): point it at a
   * private directory (before anything caches it) and remove that at the end. */
  const char *base = g_getenv ("TMPDIR");
  g_autofree char *scratch = g_build_filename (base && base[0] ? base : "/tmp", "test-fuzz-replay-XXXXXX", NULL);
  if (g_mkdtemp (scratch) == NULL)
    g_error ("cannot create a scratch directory %s", scratch);
  g_setenv ("TMPDIR", scratch, TRUE);

  g_test_init (&argc, &argv, NULL);
  for (guint i = 0; i < G_N_ELEMENTS (targets); i++)
    {
      g_autofree char *a = g_strdup_printf ("/fuzz-replay/%s/corpus", targets[i].name);
      g_autofree char *b = g_strdup_printf ("/fuzz-replay/%s/regressions", targets[i].name);
      g_autofree char *c = g_strdup_printf ("/fuzz-replay/%s/degenerate", targets[i].name);
      g_test_add_data_func (a, &targets[i], test_corpus);
      g_test_add_data_func (b, &targets[i], test_regressions);
      g_test_add_data_func (c, &targets[i], test_degenerate);
    }
  int status = g_test_run ();
  test_rm_rf (scratch);
  return status;
}
