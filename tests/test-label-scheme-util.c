/* test-label-scheme-util.c: the shared part of the label-scheme test (see its header). */
#include "test-label-scheme-util.h"

const Range v2_ranges[] = {
  { 1, 1, LT_SPLEEN }, { 2, 3, LT_KIDNEY }, { 5, 5, LT_LIVER }, { 6, 6, LT_STOMACH },
  { 7, 7, LT_PANCREAS }, { 10, 14, LT_LUNG }, { 27, 50, LT_SPINE }, { 51, 51, LT_HEART },
  { 52, 52, LT_AORTA }, { 86, 87, LT_AUTOCHTHON }, { 92, 117, LT_RIB_CAGE },
};

const Range v1_ranges[] = {
  { 1, 1, LT_SPLEEN }, { 2, 3, LT_KIDNEY }, { 5, 5, LT_LIVER }, { 6, 6, LT_STOMACH },
  { 7, 7, LT_AORTA }, { 10, 10, LT_PANCREAS }, { 13, 17, LT_LUNG }, { 18, 41, LT_SPINE },
  { 44, 48, LT_HEART }, { 49, 49, LT_PULMONARY_ARTERY }, { 58, 81, LT_RIB_CAGE },
  { 100, 101, LT_AUTOCHTHON },
};

const Range amos_ranges[] = {
  { 1, 1, LT_SPLEEN }, { 2, 3, LT_KIDNEY }, { 6, 6, LT_LIVER }, { 7, 7, LT_STOMACH },
  { 8, 8, LT_AORTA }, { 10, 10, LT_PANCREAS },
};

int32_t
expected_organ (const Range *r, gsize n, int32_t id)
{
  for (gsize i = 0; i < n; i++)
    if (id >= r[i].first && id <= r[i].last)
      return r[i].organ;
  return 0;
}

const LabelScheme *
get (const char *name)
{
  const LabelScheme *s = label_scheme_get (name);
  g_assert_nonnull (s);
  return s;
}


char *
real_path (const char *name)
{
  const char *dir = g_getenv ("AR_REAL_DIR");
  const char *root = g_getenv ("AR_SOURCE_ROOT");

  if (dir != NULL && dir[0] != '\0')
    return g_build_filename (dir, name, NULL);
  return g_build_filename (root != NULL ? root : ".", "..", "shared", "real", name, NULL);
}

/* The real file @name, or NULL after marking the test skipped. */
char *
real_file_or_skip (const char *name)
{
  char *path = real_path (name);

  if (!g_file_test (path, G_FILE_TEST_IS_REGULAR))
    {
      g_autofree char *msg = g_strdup_printf ("%s is absent (the real label maps are not part of "
                                              "the repository; set AR_REAL_DIR to their folder)",
                                              path);
      g_test_skip (msg);
      g_free (path);
      return NULL;
    }
  return path;
}

