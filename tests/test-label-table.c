/* test-label-table.c: the built-in table, every reader, hostile input, the lookup beside
 * a volume and the ITK-SNAP writer. */
#include "label-table.h"
#include "nifti.h"

#include <math.h>
#include <string.h>
#include <glib/gstdio.h>
#include "test-util.h"

#define AAL_TXT "/usr/share/mricron/templates/aal.nii.txt"
#define AAL_LUT "/usr/share/mricron/templates/aal.nii.lut"
#define AAL_NII "/usr/share/mricron/templates/aal.nii.gz"
#define BRODMANN_NII "/usr/share/mricron/templates/brodmann.nii.gz"

static char *
fixture (const char *name)
{
  return g_test_build_filename (G_TEST_DIST, "data", "labels", name, NULL);
}

static char *
make_tmpdir (void)
{
  g_autoptr (GError) error = NULL;
  char *dir = g_dir_make_tmp ("test-label-table-XXXXXX", &error);
  g_assert_no_error (error);
  return dir;
}

static void
write_file (const char *path, const void *data, gsize len)
{
  g_autoptr (GError) error = NULL;
  g_file_set_contents (path, data, (gssize) len, &error);
  g_assert_no_error (error);
}

static void
copy_file (const char *from, const char *to)
{
  g_autofree char *data = NULL;
  gsize len = 0;
  g_autoptr (GError) error = NULL;

  g_file_get_contents (from, &data, &len, &error);
  g_assert_no_error (error);
  write_file (to, data, len);
}

static void
assert_rgba (const guint8 got[4], int r, int g, int b, int a)
{
  if (got[0] != r || got[1] != g || got[2] != b || got[3] != a)
    g_error ("colour %d %d %d %d, expected %d %d %d %d",
             got[0], got[1], got[2], got[3], r, g, b, a);
}

static void
assert_sorted_unique (const LabelTable *t)
{
  for (guint i = 1; i < t->entries->len; i++)
    g_assert_cmpint (g_array_index (t->entries, LabelEntry, i - 1).id, <,
                     g_array_index (t->entries, LabelEntry, i).id);
}

/* CIE L*a*b* of an sRGB colour (D65), for colour-distance checks. */
static void
srgb_to_lab (const guint8 c[4], double lab[3])
{
  double lin[3], x, y, z;

  for (int i = 0; i < 3; i++)
    {
      double u = c[i] / 255.0;
      lin[i] = u > 0.04045 ? pow ((u + 0.055) / 1.055, 2.4) : u / 12.92;
    }
  x = (0.4124 * lin[0] + 0.3576 * lin[1] + 0.1805 * lin[2]) / 0.95047;
  y = 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2];
  z = (0.0193 * lin[0] + 0.1192 * lin[1] + 0.9505 * lin[2]) / 1.08883;
#define F(t) ((t) > 0.008856 ? cbrt (t) : 7.787 * (t) + 16.0 / 116.0)
  lab[0] = 116.0 * F (y) - 16.0;
  lab[1] = 500.0 * (F (x) - F (y));
  lab[2] = 200.0 * (F (y) - F (z));
#undef F
}

static double
delta_e (const guint8 a[4], const guint8 b[4])
{
  double la[3], lb[3];
  srgb_to_lab (a, la);
  srgb_to_lab (b, lb);
  return sqrt ((la[0] - lb[0]) * (la[0] - lb[0]) + (la[1] - lb[1]) * (la[1] - lb[1])
               + (la[2] - lb[2]) * (la[2] - lb[2]));
}

/* ------------------------------------------------------------------------- */

/* lt_table_find_for_volume (@path, @v), which must find a table, the one at @want (@path
 * itself for a header extension). */
static LabelTable *
find_table (const char *path, const LabelVolume *v, const char *want)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *found = NULL;
  LabelTable *t = lt_table_find_for_volume (path, v, &found, &error);
  g_assert_no_error (error);
  g_assert_nonnull (t);
  g_assert_cmpstr (found, ==, want);
  return t;
}

static void
test_default (void)
{
  g_autoptr (LabelTable) t = lt_table_new_default ();
  static const char *const names[LT_N_CLASSES] = {
    "background", "lung", "heart", "spleen", "stomach", "pancreas", "spine", "rib cage",
    "liver", "kidney", "aorta", "autochthon muscles", "pulmonary artery",
  };
  double min_de = 1e9;
  const LabelEntry *e;

  g_assert_cmpuint (t->entries->len, ==, LT_N_CLASSES);
  g_assert_cmpstr (t->source, ==, "built-in");
  assert_sorted_unique (t);
  for (int id = 0; id < LT_N_CLASSES; id++)
    {
      e = lt_table_lookup (t, id);
      g_assert_nonnull (e);
      g_assert_cmpint (e->id, ==, id);
      g_assert_cmpstr (e->name, ==, names[id]);
      g_assert_cmpint (lt_table_find_name (t, names[id]), ==, id);
      g_assert_cmpint (e->rgba[3], ==, id == 0 ? 0 : 255);
    }
  /* every pair of organ colours is clearly distinct (CIE76 ΔE) */
  for (int a = 1; a < LT_N_CLASSES; a++)
    for (int b = a + 1; b < LT_N_CLASSES; b++)
      min_de = MIN (min_de, delta_e (lt_table_lookup (t, a)->rgba, lt_table_lookup (t, b)->rgba));
  g_test_message ("smallest ΔE between two organ colours: %.1f", min_de);
  g_assert_cmpfloat (min_de, >=, 15.0);

  /* anatomically familiar hues */
#define RGB(id) lt_table_lookup (t, id)->rgba
  g_assert_cmpint (RGB (LT_HEART)[0], >, 2 * RGB (LT_HEART)[1]);       /* red */
  g_assert_cmpint (RGB (LT_AORTA)[0], >, 2 * RGB (LT_AORTA)[1]);       /* red */
  g_assert_cmpint (RGB (LT_AORTA)[0], >, RGB (LT_HEART)[0] + 40);      /* brighter than the heart */
  g_assert_cmpint (RGB (LT_PULMONARY_ARTERY)[2], >, RGB (LT_PULMONARY_ARTERY)[0] + 80); /* blue */
  g_assert_cmpint (RGB (LT_SPLEEN)[2], >, RGB (LT_SPLEEN)[1]);         /* purple */
  g_assert_cmpint (RGB (LT_SPLEEN)[0], >, RGB (LT_SPLEEN)[1]);
  g_assert_cmpint (RGB (LT_PANCREAS)[0], >, RGB (LT_PANCREAS)[2] + 100); /* yellow */
  g_assert_cmpint (RGB (LT_PANCREAS)[1], >, RGB (LT_PANCREAS)[2] + 100);
  for (int id = LT_SPINE; id <= LT_RIB_CAGE; id++)                   /* bone: light, warm */
    {
      g_assert_cmpint (RGB (id)[0], >=, RGB (id)[1]);
      g_assert_cmpint (RGB (id)[1], >=, RGB (id)[2]);
      g_assert_cmpint (RGB (id)[2], >, 120);
    }
  g_assert_cmpint (RGB (LT_LIVER)[0], <, 160);                           /* dark brown red */
  g_assert_cmpint (RGB (LT_LIVER)[0], >, 2 * RGB (LT_LIVER)[2]);
#undef RGB
}

static void
test_generated_colors (void)
{
  g_autoptr (LabelTable) t = lt_table_new (NULL);
  guint8 a[4], b[4], c[4];
  double min_de = 1e9;
  char buf[32];

  g_assert_cmpstr (t->source, ==, "built-in");
  lt_table_get_color (t, 0, a);
  assert_rgba (a, 0, 0, 0, 0);
  g_assert_cmpstr (lt_table_get_name (t, 0, buf, sizeof buf), ==, "background");
  g_assert_cmpstr (lt_table_get_name (t, 42, buf, sizeof buf), ==, "label 42");
  g_assert_true (lt_table_get_name (t, 42, buf, sizeof buf) == buf);

  /* stable across calls and tables */
  for (int id = 1; id < 1000; id += 7)
    {
      g_autoptr (LabelTable) other = lt_table_new ("x");
      lt_table_get_color (t, id, a);
      lt_table_get_color (other, id, b);
      g_assert_cmpmem (a, 4, b, 4);
      g_assert_cmpint (a[3], ==, 255);
    }
  /* well distributed: the first 16 generated colours are pairwise distinct */
  for (int i = 1; i <= 16; i++)
    for (int j = i + 1; j <= 16; j++)
      {
        lt_table_get_color (t, i, a);
        lt_table_get_color (t, j, b);
        min_de = MIN (min_de, delta_e (a, b));
      }
  g_test_message ("smallest ΔE among generated colours 1..16: %.1f", min_de);
  g_assert_cmpfloat (min_de, >=, 8.0);
  /* and neighbouring ids always differ clearly */
  for (int id = 1; id < 5000; id++)
    {
      lt_table_get_color (t, id, a);
      lt_table_get_color (t, id + 1, b);
      g_assert_cmpfloat (delta_e (a, b), >=, 10.0);
    }
  /* negative and huge ids work too */
  lt_table_get_color (t, -5, c);
  g_assert_cmpint (c[3], ==, 255);
  lt_table_get_color (t, G_MAXINT32, c);
  g_assert_cmpint (c[3], ==, 255);
}

static void
test_set_lookup_find (void)
{
  g_autoptr (LabelTable) t = lt_table_new ("mem");
  const guint8 red[4] = { 255, 0, 0, 255 }, blue[4] = { 0, 0, 255, 128 };
  guint8 got[4], gen[4];
  char buf[8];

  lt_table_set (t, 12, "pulmonary artery", red);
  lt_table_set (t, 3, "Rib-Cage", blue);
  lt_table_set (t, 7, NULL, NULL);
  lt_table_set (t, 100000, "far away", red);
  lt_table_set (t, 5, "autochthon_muscles", red);
  assert_sorted_unique (t);
  g_assert_cmpuint (t->entries->len, ==, 5);

  g_assert_cmpstr (lt_table_lookup (t, 7)->name, ==, "label 7");
  lt_table_get_color (NULL, 7, gen);
  g_assert_cmpmem (lt_table_lookup (t, 7)->rgba, 4, gen, 4);
  g_assert_null (lt_table_lookup (t, 8));
  g_assert_null (lt_table_lookup (NULL, 8));

  /* replace keeps one entry */
  lt_table_set (t, 3, "rib cage", red);
  g_assert_cmpuint (t->entries->len, ==, 5);
  lt_table_get_color (t, 3, got);
  g_assert_cmpmem (got, 4, red, 4);
  g_assert_cmpstr (lt_table_get_name (t, 3, NULL, 0), ==, "rib cage");
  /* a small buffer is truncated, not overrun */
  g_assert_cmpstr (lt_table_get_name (t, 123456, buf, sizeof buf), ==, "label 1");

  g_assert_cmpint (lt_table_find_name (t, "pulmonary_artery"), ==, 12);
  g_assert_cmpint (lt_table_find_name (t, "Pulmonary-Artery"), ==, 12);
  g_assert_cmpint (lt_table_find_name (t, "  PULMONARY   artery "), ==, 12);
  g_assert_cmpint (lt_table_find_name (t, "pulmonary__-artery"), ==, 12);
  g_assert_cmpint (lt_table_find_name (t, "rib_cage"), ==, 3);
  g_assert_cmpint (lt_table_find_name (t, "Autochthon Muscles"), ==, 5);
  g_assert_cmpint (lt_table_find_name (t, "pulmonaryartery"), ==, -1);
  g_assert_cmpint (lt_table_find_name (t, "pulmonary"), ==, -1);
  g_assert_cmpint (lt_table_find_name (t, ""), ==, -1);
  g_assert_cmpint (lt_table_find_name (t, NULL), ==, -1);
  g_assert_cmpint (lt_table_find_name (NULL, "x"), ==, -1);

  /* invalid UTF-8 names are repaired, never stored raw */
  lt_table_set (t, 9, "bad\xff" "name", NULL);
  g_assert_true (g_utf8_validate (lt_table_lookup (t, 9)->name, -1, NULL));
}

/* ------------------------------------------------------------------------- */
/* Readers                                                                   */

static LabelTable *
load_ok (const char *name)
{
  g_autofree char *path = fixture (name);
  g_autoptr (GError) error = NULL;
  LabelTable *t = lt_table_load (path, &error);

  g_assert_no_error (error);
  g_assert_nonnull (t);
  g_assert_cmpstr (t->source, ==, path);
  assert_sorted_unique (t);
  return t;
}

static void
test_itksnap (void)
{
  g_autoptr (LabelTable) t = load_ok ("itksnap.label");

  g_assert_cmpuint (t->entries->len, ==, 5);
  g_assert_cmpstr (lt_table_lookup (t, 0)->name, ==, "Clear Label");
  assert_rgba (lt_table_lookup (t, 0)->rgba, 0, 0, 0, 0);
  g_assert_cmpstr (lt_table_lookup (t, 1)->name, ==, "Left kidney");
  assert_rgba (lt_table_lookup (t, 1)->rgba, 255, 0, 0, 255);
  assert_rgba (lt_table_lookup (t, 2)->rgba, 0, 255, 0, 128);
  g_assert_cmpstr (lt_table_lookup (t, 17)->name, ==, "Vertebra L1");
  assert_rgba (lt_table_lookup (t, 17)->rgba, 10, 20, 30, 255);
  g_assert_cmpstr (lt_table_lookup (t, 300)->name, ==, "Label with    spaces");
  assert_rgba (lt_table_lookup (t, 300)->rgba, 200, 100, 50, 64);
  g_assert_cmpint (lt_table_find_name (t, "left_kidney"), ==, 1);
  g_assert_cmpint (lt_table_find_name (t, "label with spaces"), ==, 300);
}

static void
test_slicer (void)
{
  g_autoptr (LabelTable) t = load_ok ("slicer.ctbl");

  g_assert_cmpuint (t->entries->len, ==, 4);
  g_assert_cmpstr (lt_table_lookup (t, 0)->name, ==, "Background");
  assert_rgba (lt_table_lookup (t, 0)->rgba, 0, 0, 0, 0);
  g_assert_cmpstr (lt_table_lookup (t, 1)->name, ==, "liver");
  assert_rgba (lt_table_lookup (t, 1)->rgba, 221, 130, 101, 255);
  g_assert_cmpstr (lt_table_lookup (t, 2)->name, ==, "pulmonary_artery");
  g_assert_cmpint (lt_table_find_name (t, "pulmonary artery"), ==, 2);
  assert_rgba (lt_table_lookup (t, 10)->rgba, 157, 108, 162, 128);
}

static void
test_freesurfer (void)
{
  g_autoptr (LabelTable) t = load_ok ("freesurfer.txt");

  g_assert_cmpuint (t->entries->len, ==, 3);
  /* the last column is transparency there: 0 means opaque */
  assert_rgba (lt_table_lookup (t, 0)->rgba, 0, 0, 0, 0);
  assert_rgba (lt_table_lookup (t, 2)->rgba, 245, 245, 245, 255);
  assert_rgba (lt_table_lookup (t, 4)->rgba, 120, 18, 134, 255);
  g_assert_cmpstr (lt_table_lookup (t, 4)->name, ==, "Left-Lateral-Ventricle");
}

static void
test_mricron (void)
{
  g_autoptr (LabelTable) t = load_ok ("names.nii.txt");
  guint8 gen[4];

  g_assert_cmpuint (t->entries->len, ==, 5);
  g_assert_cmpstr (lt_table_lookup (t, 0)->name, ==, "Unclassified");
  g_assert_cmpstr (lt_table_lookup (t, 1)->name, ==, "Alpha_L");
  g_assert_cmpstr (lt_table_lookup (t, 2)->name, ==, "Alpha_R");
  g_assert_cmpstr (lt_table_lookup (t, 3)->name, ==, "Middle (a part of)");
  g_assert_cmpstr (lt_table_lookup (t, 300)->name, ==, "Beyond_lut");
  /* the fixture .lut is planar with entry i = (i, 255 - i, 7 i mod 256) */
  assert_rgba (lt_table_lookup (t, 0)->rgba, 0, 255, 0, 0);
  assert_rgba (lt_table_lookup (t, 1)->rgba, 1, 254, 7, 255);
  assert_rgba (lt_table_lookup (t, 2)->rgba, 2, 253, 14, 255);
  assert_rgba (lt_table_lookup (t, 3)->rgba, 3, 252, 21, 255);
  lt_table_get_color (NULL, 300, gen);
  g_assert_cmpmem (lt_table_lookup (t, 300)->rgba, 4, gen, 4);

  /* the .lut itself loads the same table through its names */
  {
    g_autofree char *lut = fixture ("names.nii.lut");
    g_autoptr (GError) error = NULL;
    g_autoptr (LabelTable) u = lt_table_load (lut, &error);
    g_assert_no_error (error);
    g_assert_cmpstr (u->source, ==, t->source);  /* the names file it went through */
    g_assert_cmpuint (u->entries->len, ==, 5);
    for (guint i = 0; i < t->entries->len; i++)
      {
        LabelEntry *a = &g_array_index (t->entries, LabelEntry, i);
        LabelEntry *b = &g_array_index (u->entries, LabelEntry, i);
        g_assert_cmpint (a->id, ==, b->id);
        g_assert_cmpstr (a->name, ==, b->name);
        g_assert_cmpmem (a->rgba, 4, b->rgba, 4);
      }
  }
}

static void
test_lut_alone (void)
{
  g_autofree char *dir = make_tmpdir ();
  g_autofree char *src = fixture ("names.nii.lut");
  g_autofree char *lut = g_build_filename (dir, "colours.lut", NULL);
  g_autoptr (GError) error = NULL;
  g_autoptr (LabelTable) t = NULL;

  copy_file (src, lut);
  t = lt_table_load (lut, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (t->entries->len, ==, 256);
  g_assert_cmpstr (lt_table_lookup (t, 0)->name, ==, "background");
  g_assert_cmpint (lt_table_lookup (t, 0)->rgba[3], ==, 0);
  g_assert_cmpstr (lt_table_lookup (t, 200)->name, ==, "label 200");
  assert_rgba (lt_table_lookup (t, 200)->rgba, 200, 55, (7 * 200) % 256, 255);
  test_rm_rf (dir);
}

static void
test_xml (void)
{
  g_autoptr (LabelTable) t = load_ok ("caret.xml");
  g_autoptr (GError) error = NULL;
  const char *none = "<CaretExtension><VolumeType>Label</VolumeType></CaretExtension>";
  guint8 gen[4];

  g_assert_cmpuint (t->entries->len, ==, 4);
  g_assert_cmpstr (lt_table_lookup (t, 1)->name, ==, "spleen");
  assert_rgba (lt_table_lookup (t, 1)->rgba, 255, 0, 0, 255);
  g_assert_cmpstr (lt_table_lookup (t, 5)->name, ==, "liver & <more>");
  assert_rgba (lt_table_lookup (t, 5)->rgba, 128, 64, 255, 255);
  g_assert_cmpstr (lt_table_lookup (t, 7)->name, ==, "kidney_right");
  assert_rgba (lt_table_lookup (t, 7)->rgba, 0, 153, 51, 255);
  assert_rgba (lt_table_lookup (t, 104)->rgba, 51, 102, 153, 128);
  g_assert_cmpint (lt_table_find_name (t, "urinary bladder"), ==, 104);

  /* in memory, NUL padded like a NIfTI extension; no label table gives NULL, no error */
  {
    static const char padded[] = "<LabelTable><Label Key=\"2\">heart</Label></LabelTable>\0\0\0\0\0";
    g_autoptr (LabelTable) u = lt_table_from_xml (padded, sizeof padded, "mem", &error);
    g_assert_no_error (error);
    g_assert_cmpuint (u->entries->len, ==, 1);
    g_assert_cmpstr (lt_table_lookup (u, 2)->name, ==, "heart");
    lt_table_get_color (NULL, 2, gen);
    g_assert_cmpmem (lt_table_lookup (u, 2)->rgba, 4, gen, 4);
    g_assert_cmpstr (u->source, ==, "mem");
  }
  g_assert_null (lt_table_from_xml (none, strlen (none), "mem", &error));
  g_assert_no_error (error);
  /* only the first LabelTable counts */
  {
    const char *two = "<a><LabelTable><Label Key=\"1\">x</Label></LabelTable>"
                      "<LabelTable><Label Key=\"1\">y</Label><Label Key=\"2\">z</Label></LabelTable></a>";
    g_autoptr (LabelTable) u = lt_table_from_xml (two, strlen (two), "mem", &error);
    g_assert_no_error (error);
    g_assert_cmpuint (u->entries->len, ==, 1);
    g_assert_cmpstr (lt_table_lookup (u, 1)->name, ==, "x");
  }
}

/* Broken files: each must give the expected error code, naming the file and (where it
 * has one) the line. */
static void
test_broken (void)
{
  static const struct {
    const char *file;
    int code;
    const char *needle;  /* in the message, after the file name */
  } cases[] = {
    { "bad-number.label",  LT_ERROR_PARSE, ":3: bad red value “25x”" },
    { "bad-alpha.label",   LT_ERROR_PARSE, ":1: bad alpha value “1.5”" },
    { "unterminated.label", LT_ERROR_PARSE, ":1: unterminated" },
    { "duplicate.ctbl",    LT_ERROR_PARSE, ":4: label 5 is already defined on line 2" },
    { "id-range.ctbl",     LT_ERROR_PARSE, ":2: label id 2147483648 is out of range" },
    { "negative.txt",      LT_ERROR_PARSE, ":1: label id -4 is out of range" },
    { "colour-range.ctbl", LT_ERROR_PARSE, ":1: bad red value “300”" },
    { "prose.txt",         LT_ERROR_PARSE, ":1: not a label table line" },
    { "empty.txt",         LT_ERROR_EMPTY, ": empty file" },
    { "comments-only.txt", LT_ERROR_EMPTY, ": no labels" },
    { "mismatched.xml",    LT_ERROR_PARSE, ":1: bad XML" },
    { "bad-colour.xml",    LT_ERROR_PARSE, ":2: bad Red value “2.5”" },
    { "duplicate.xml",     LT_ERROR_PARSE, ":3: label 3 is already defined on line 2" },
    { "no-table.xml",      LT_ERROR_EMPTY, "without a <LabelTable>" },
    { "garbage.txt",       LT_ERROR_PARSE, ":1: binary data" },
    { "short.lut",         LT_ERROR_PARSE, "768 bytes, this one has 100" },
    { "does-not-exist.txt", LT_ERROR_IO,   ": " },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autofree char *path = fixture (cases[i].file);
      g_autoptr (GError) error = NULL;
      g_autoptr (LabelTable) t = lt_table_load (path, &error);

      g_test_message ("%s: %s", cases[i].file, error ? error->message : "(no error)");
      g_assert_null (t);
      g_assert_error (error, LT_ERROR, cases[i].code);
      g_assert_true (g_str_has_prefix (error->message, path));
      if (strstr (error->message + strlen (path), cases[i].needle) == NULL)
        g_error ("“%s” does not contain “%s”", error->message, cases[i].needle);
      g_assert_true (g_utf8_validate (error->message, -1, NULL));
    }
}

static void
test_hostile_generated (void)
{
  g_autofree char *dir = make_tmpdir ();
  g_autofree char *path = g_build_filename (dir, "x.txt", NULL);
  g_autoptr (GError) error = NULL;
  GString *s = g_string_new ("1 short\n2 ");
  LabelTable *t;

  /* an overlong line */
  for (int i = 0; i < 5000; i++)
    g_string_append_c (s, 'a');
  g_string_append (s, "\n");
  write_file (path, s->str, s->len);
  t = lt_table_load (path, &error);
  g_assert_null (t);
  g_assert_error (error, LT_ERROR, LT_ERROR_PARSE);
  g_assert_nonnull (strstr (error->message, ":2: line is longer than"));
  g_clear_error (&error);
  g_string_free (s, TRUE);

  /* a folder is not a table */
  t = lt_table_load (dir, &error);
  g_assert_null (t);
  g_assert_error (error, LT_ERROR, LT_ERROR_IO);
  g_clear_error (&error);

  /* numbers with junk, signs, huge magnitudes, NaN alpha */
  {
    static const char *const lines[] = {
      "1 a -1 2 3 255\n", "1 a 1e2 2 3 255\n",
      "99999999999999999999999 a 1 2 3 255\n", "1 a 0x10 2 3 255\n",
      "1 1 1 1 nan 1 1 \"x\"\n", "1 1 1 1 inf 1 1 \"x\"\n", "1 1 1 1 1 2 1 \"x\"\n",
      "1 1 1 1 1 1 \"x\"\n", "1 1 1 1 1 1 1 \"x\" trailing\n", "\"only a name\"\n",
      "1 a 1 2 3 255\n1 \"mixed formats\"\n", "x 1 2 3\n",
    };
    for (guint i = 0; i < G_N_ELEMENTS (lines); i++)
      {
        write_file (path, lines[i], strlen (lines[i]));
        t = lt_table_load (path, &error);
        if (t != NULL)
          g_error ("accepted “%s”", lines[i]);
        g_assert_error (error, LT_ERROR, LT_ERROR_PARSE);
        g_assert_true (g_str_has_prefix (error->message, path));
        g_clear_error (&error);
      }
  }

  /* random bytes and random text: anything may happen except a crash or a bad table */
  {
    GRand *rand = g_rand_new_with_seed (1234);
    static const char alphabet[] = "0123456789 \t\n\r#\".-_abcXYZ<>/=";
    for (int round = 0; round < 400; round++)
      {
        gsize n = (gsize) g_rand_int_range (rand, 0, 900);
        g_autofree guint8 *buf = g_malloc (n + 1);
        for (gsize i = 0; i < n; i++)
          buf[i] = round % 2 ? (guint8) g_rand_int_range (rand, 0, 256)
                             : (guint8) alphabet[g_rand_int_range (rand, 0, sizeof alphabet - 1)];
        write_file (path, buf, n);
        t = lt_table_load (path, &error);
        if (t != NULL)
          {
            g_assert_no_error (error);
            g_assert_cmpuint (t->entries->len, >, 0);
            assert_sorted_unique (t);
            for (guint i = 0; i < t->entries->len; i++)
              g_assert_true (g_utf8_validate (g_array_index (t->entries, LabelEntry, i).name, -1, NULL));
            lt_table_free (t);
          }
        else
          {
            g_assert_nonnull (error);
            g_assert_true (g_str_has_prefix (error->message, path));
            g_clear_error (&error);
          }
        /* the same bytes as an XML extension */
        t = lt_table_from_xml ((const char *) buf, n, "random", &error);
        lt_table_free (t);
        g_clear_error (&error);
      }
    g_rand_free (rand);
  }
  test_rm_rf (dir);
}

/* Every prefix of every good fixture loads or fails cleanly (truncated files). */
static void
test_truncated (void)
{
  static const char *const files[] = { "itksnap.label", "slicer.ctbl", "caret.xml", "names.nii.txt" };
  g_autofree char *dir = make_tmpdir ();

  for (guint f = 0; f < G_N_ELEMENTS (files); f++)
    {
      g_autofree char *src = fixture (files[f]);
      g_autofree char *dst = g_build_filename (dir, files[f], NULL);
      g_autofree char *data = NULL;
      gsize len = 0;
      int n_ok = 0;

      g_assert_true (g_file_get_contents (src, &data, &len, NULL));
      for (gsize cut = 0; cut <= len; cut++)
        {
          g_autoptr (GError) error = NULL;
          g_autoptr (LabelTable) t = NULL;
          write_file (dst, data, cut);
          t = lt_table_load (dst, &error);
          g_assert_true ((t == NULL) != (error == NULL));
          n_ok += t != NULL;
        }
      g_test_message ("%s: %d of %" G_GSIZE_FORMAT " prefixes load", files[f], n_ok, len + 1);
      g_assert_cmpint (n_ok, >, 0);
    }
  test_rm_rf (dir);
}

/* ------------------------------------------------------------------------- */
/* The real mricron atlas                                                    */

static void
test_aal (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (LabelTable) t = NULL;
  g_autofree char *txt = NULL;
  g_autofree char *lut = NULL;
  gsize lut_len = 0;
  g_auto (GStrv) lines = NULL;
  int checked = 0;

  if (!g_file_test (AAL_TXT, G_FILE_TEST_EXISTS) || !g_file_test (AAL_LUT, G_FILE_TEST_EXISTS))
    {
      g_test_skip ("mricron-data is not installed");
      return;
    }
  t = lt_table_load (AAL_TXT, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (t->entries->len, ==, 116);
  g_assert_cmpint (g_array_index (t->entries, LabelEntry, 0).id, ==, 1);
  g_assert_cmpint (g_array_index (t->entries, LabelEntry, 115).id, ==, 116);

  /* independent reading of the files: "id name code" lines, planar lut */
  g_assert_true (g_file_get_contents (AAL_TXT, &txt, NULL, NULL));
  g_assert_true (g_file_get_contents (AAL_LUT, &lut, &lut_len, NULL));
  g_assert_cmpuint (lut_len, ==, 768);
  lines = g_strsplit (txt, "\n", -1);
  for (int i = 0; lines[i] != NULL; i++)
    {
      int id = 0, code = 0;
      char name[128];
      const guint8 *l = (const guint8 *) lut;
      if (sscanf (lines[i], "%d %127s %d", &id, name, &code) != 3)
        continue;
      g_assert_cmpstr (lt_table_lookup (t, id)->name, ==, name);
      assert_rgba (lt_table_lookup (t, id)->rgba, l[id], l[256 + id], l[512 + id], 255);
      checked++;
    }
  g_assert_cmpint (checked, ==, 116);
  /* a few by hand, as a sanity check of the check */
  g_assert_cmpstr (lt_table_lookup (t, 1)->name, ==, "Precentral_L");
  g_assert_cmpstr (lt_table_lookup (t, 116)->name, ==, "Vermis_10");
  g_assert_cmpint (lt_table_find_name (t, "precentral l"), ==, 1);
  /* planar layout: left/right pairs share their colour */
  for (int k = 1; k <= 54; k++)
    g_assert_cmpmem (lt_table_lookup (t, 2 * k - 1)->rgba, 4, lt_table_lookup (t, 2 * k)->rgba, 4);
}

/* ------------------------------------------------------------------------- */
/* Beside a volume                                                           */

static void
test_find_beside (void)
{
  g_autofree char *dir = make_tmpdir ();
  g_autoptr (GError) error = NULL;
  char *found = NULL;
  LabelTable *t;

  /* nothing beside: NULL, no error */
  {
    g_autofree char *vol = g_build_filename (dir, "case.nii.gz", NULL);
    t = lt_table_find_for_volume (vol, NULL, &found, &error);
    g_assert_null (t);
    g_assert_no_error (error);
    g_assert_null (found);
  }

  /* mricron style: case.nii.gz + case.nii.txt + case.nii.lut */
  {
    g_autofree char *vol = g_build_filename (dir, "case.nii.gz", NULL);
    g_autofree char *txt = g_build_filename (dir, "case.nii.txt", NULL);
    g_autofree char *lut = g_build_filename (dir, "case.nii.lut", NULL);
    g_autofree char *src_txt = fixture ("names.nii.txt");
    g_autofree char *src_lut = fixture ("names.nii.lut");
    copy_file (src_txt, txt);
    copy_file (src_lut, lut);
    t = find_table (vol, NULL, txt);
    g_assert_cmpuint (t->entries->len, ==, 5);
    assert_rgba (lt_table_lookup (t, 1)->rgba, 1, 254, 7, 255);
    lt_table_free (t);

    /* a .ctbl with the plain stem comes before the .txt */
    {
      g_autofree char *ctbl = g_build_filename (dir, "case.ctbl", NULL);
      g_autofree char *src = fixture ("slicer.ctbl");
      copy_file (src, ctbl);
      t = find_table (vol, NULL, ctbl);
      g_assert_cmpstr (lt_table_lookup (t, 1)->name, ==, "liver");
      lt_table_free (t);
    }
    /* and case_labels.txt before that; an uncompressed .nii finds the same */
    {
      g_autofree char *lab = g_build_filename (dir, "case_labels.txt", NULL);
      g_autofree char *src = fixture ("itksnap.label");
      g_autofree char *nii = g_build_filename (dir, "case.nii", NULL);
      copy_file (src, lab);
      t = find_table (nii, NULL, lab);
      g_assert_cmpstr (lt_table_lookup (t, 1)->name, ==, "Left kidney");
      lt_table_free (t);
    }
    /* a broken table beside the volume is an error that names it */
    {
      g_autofree char *bad = g_build_filename (dir, "case.label.txt", NULL);
      write_file (bad, "1 2 3\n1 x\n", 10);
      t = lt_table_find_for_volume (vol, NULL, &found, &error);
      g_assert_null (t);
      g_assert_null (found);
      g_assert_error (error, LT_ERROR, LT_ERROR_PARSE);
      g_assert_true (g_str_has_prefix (error->message, bad));
      g_clear_error (&error);
    }
  }
  test_rm_rf (dir);
}

static void
test_find_real (void)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *found = NULL;
  g_autoptr (LabelTable) t = NULL;

  if (!g_file_test (AAL_NII, G_FILE_TEST_EXISTS))
    {
      g_test_skip ("mricron-data is not installed");
      return;
    }
  t = find_table (AAL_NII, NULL, AAL_TXT);
  g_assert_cmpuint (t->entries->len, ==, 116);
  g_clear_pointer (&t, lt_table_free);

  if (g_file_test (BRODMANN_NII, G_FILE_TEST_EXISTS))
    {
      /* brodmann has a .lut but no names */
      t = lt_table_find_for_volume (BRODMANN_NII, NULL, &found, &error);
      g_assert_no_error (error);
      g_assert_true (g_str_has_suffix (found, "brodmann.nii.lut"));
      g_assert_cmpuint (t->entries->len, ==, 256);
    }
}

/* A minimal NIfTI-1 file (2×2×2 uint8) carrying one header extension. */
static void
write_nifti_with_extension (const char *path, int32_t ecode, const char *payload)
{
  gsize plen = strlen (payload);
  gsize esize = (8 + plen + 15) / 16 * 16;
  gsize off = 352 + esize;
  g_autofree guint8 *buf = g_malloc0 (off + 8);
  int32_t i32;
  int16_t i16;
  float f;

#define PUT(o, v) memcpy (buf + (o), &(v), sizeof (v))
  i32 = 348; PUT (0, i32);
  i16 = 3; PUT (40, i16);
  i16 = 2; PUT (42, i16); PUT (44, i16); PUT (46, i16);
  i16 = 1; PUT (48, i16); PUT (50, i16); PUT (52, i16); PUT (54, i16);
  i16 = 2; PUT (70, i16);     /* datatype uint8 */
  i16 = 8; PUT (72, i16);     /* bitpix */
  f = 1.0f; PUT (76, f); PUT (80, f); PUT (84, f); PUT (88, f);
  f = (float) off; PUT (108, f);
  f = 1.0f; PUT (112, f);      /* scl_slope */
  buf[123] = 10;               /* xyzt_units: mm + s */
  i16 = 1; PUT (254, i16);     /* sform_code */
  f = 1.0f; PUT (280, f); PUT (300, f); PUT (320, f);
  memcpy (buf + 344, "n+1\0", 4);
  buf[348] = 1;                /* extension follows */
  i32 = (int32_t) esize; PUT (352, i32);
  PUT (356, ecode);
  memcpy (buf + 360, payload, plen);
  for (int k = 0; k < 8; k++)
    buf[off + k] = (guint8) (k % 3);
#undef PUT
  write_file (path, buf, off + 8);
}

static void
test_find_extension (void)
{
  g_autofree char *dir = make_tmpdir ();
  g_autofree char *path = g_build_filename (dir, "seg.nii", NULL);
  g_autofree char *xml_path = fixture ("caret.xml");
  g_autofree char *xml = NULL;
  g_autoptr (GError) error = NULL;
  g_autoptr (LabelVolume) v = NULL;
  g_autofree char *found = NULL;
  LabelTable *t;

  g_assert_true (g_file_get_contents (xml_path, &xml, NULL, NULL));
  write_nifti_with_extension (path, 0, xml);
  v = nifti_read (path, NULL, &error);
  g_assert_no_error (error);

  t = find_table (path, v, path);
  g_assert_nonnull (strstr (t->source, "header extension"));
  g_assert_cmpuint (t->entries->len, ==, 4);
  g_assert_cmpstr (lt_table_lookup (t, 5)->name, ==, "liver & <more>");
  lt_table_free (t);

  /* a file beside the volume wins over the extension */
  {
    g_autofree char *beside = g_build_filename (dir, "seg.ctbl", NULL);
    g_autofree char *src = fixture ("slicer.ctbl");
    copy_file (src, beside);
    t = find_table (path, v, beside);
    lt_table_free (t);
    g_unlink (beside);
  }
  g_clear_pointer (&v, lv_volume_free);

  /* an unrelated XML extension (AFNI-like, ecode 4) is not a label table */
  write_nifti_with_extension (path, 4, "<?xml version='1.0' ?><AFNI_attributes/>");
  v = nifti_read (path, NULL, &error);
  g_assert_no_error (error);
  t = lt_table_find_for_volume (path, v, &found, &error);
  g_assert_no_error (error);
  g_assert_null (t);
  g_assert_null (found);
  g_clear_pointer (&v, lv_volume_free);

  /* a broken label table extension is an error */
  write_nifti_with_extension (path, 0, "<LabelTable><Label Key=\"x\">a</Label></LabelTable>");
  v = nifti_read (path, NULL, &error);
  g_assert_no_error (error);
  t = lt_table_find_for_volume (path, v, &found, &error);
  g_assert_null (t);
  g_assert_error (error, LT_ERROR, LT_ERROR_PARSE);
  g_assert_nonnull (strstr (error->message, "header extension"));
  g_clear_error (&error);

  /* an in-memory volume has no header */
  {
    const double sp[3] = { 1, 1, 1 };
    g_autoptr (LabelVolume) mem = lv_volume_new (2, 2, 2, sp, 1, &error);
    g_assert_no_error (error);
    g_assert_null (lt_table_find_for_volume (NULL, mem, &found, &error));
    g_assert_no_error (error);
  }
  test_rm_rf (dir);
}

/* ------------------------------------------------------------------------- */
/* Writing                                                                   */

static void
assert_tables_equal (const LabelTable *a, const LabelTable *b)
{
  g_assert_cmpuint (a->entries->len, ==, b->entries->len);
  for (guint i = 0; i < a->entries->len; i++)
    {
      const LabelEntry *x = &g_array_index (a->entries, LabelEntry, i);
      const LabelEntry *y = &g_array_index (b->entries, LabelEntry, i);
      g_assert_cmpint (x->id, ==, y->id);
      g_assert_cmpstr (x->name, ==, y->name);
      g_assert_cmpmem (x->rgba, 4, y->rgba, 4);
    }
}

static int
count_files (const char *dir)
{
  GDir *d = g_dir_open (dir, 0, NULL);
  int n = 0;
  while (g_dir_read_name (d) != NULL)
    n++;
  g_dir_close (d);
  return n;
}

static void
test_save_roundtrip (void)
{
  g_autofree char *dir = make_tmpdir ();
  g_autofree char *path = g_build_filename (dir, "organs.label", NULL);
  g_autoptr (LabelTable) def = lt_table_new_default ();
  g_autoptr (LabelTable) back = NULL;
  g_autoptr (GError) error = NULL;
  g_autoptr (LabelTable) odd = lt_table_new ("odd\nsource");

  g_assert_true (lt_table_save_itksnap (def, path, FALSE, &error));
  g_assert_no_error (error);
  back = lt_table_load (path, &error);
  g_assert_no_error (error);
  assert_tables_equal (def, back);
  g_assert_cmpint (count_files (dir), ==, 1);  /* no temporary left behind */

  /* no overwrite unless asked */
  g_assert_false (lt_table_save_itksnap (def, path, FALSE, &error));
  g_assert_error (error, LT_ERROR, LT_ERROR_IO);
  g_assert_nonnull (strstr (error->message, "already exists"));
  g_clear_error (&error);
  g_assert_cmpint (count_files (dir), ==, 1);

  /* every alpha byte and awkward names survive */
  for (int a = 0; a < 256; a++)
    {
      guint8 rgba[4] = { (guint8) a, (guint8) (255 - a), (guint8) (a * 3), (guint8) a };
      g_autofree char *name = g_strdup_printf ("entry %d ü", a);
      lt_table_set (odd, a * 1000, name, rgba);
    }
  lt_table_set (odd, 7, "has \"quotes\"", NULL);
  lt_table_set (odd, 8, "line\nbreak", NULL);
  g_assert_true (lt_table_save_itksnap (odd, path, TRUE, &error));
  g_assert_no_error (error);
  g_clear_pointer (&back, lt_table_free);
  back = lt_table_load (path, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (back->entries->len, ==, odd->entries->len);
  g_assert_cmpstr (lt_table_lookup (back, 7)->name, ==, "has 'quotes'");
  g_assert_cmpstr (lt_table_lookup (back, 8)->name, ==, "line break");
  lt_table_set (odd, 7, "has 'quotes'", lt_table_lookup (odd, 7)->rgba);
  lt_table_set (odd, 8, "line break", lt_table_lookup (odd, 8)->rgba);
  assert_tables_equal (odd, back);
  g_assert_cmpint (count_files (dir), ==, 1);

  /* the real atlas round-trips too */
  if (g_file_test (AAL_TXT, G_FILE_TEST_EXISTS))
    {
      g_autoptr (LabelTable) aal = lt_table_load (AAL_TXT, &error);
      g_autofree char *p2 = g_build_filename (dir, "aal.label", NULL);
      g_autoptr (LabelTable) aal2 = NULL;
      g_assert_no_error (error);
      g_assert_true (lt_table_save_itksnap (aal, p2, FALSE, &error));
      aal2 = lt_table_load (p2, &error);
      g_assert_no_error (error);
      assert_tables_equal (aal, aal2);
    }

  /* errors: empty table, missing folder */
  {
    g_autoptr (LabelTable) empty = lt_table_new ("e");
    g_autofree char *p3 = g_build_filename (dir, "empty.label", NULL);
    g_autofree char *p4 = g_build_filename (dir, "no", "such", "dir.label", NULL);
    g_assert_false (lt_table_save_itksnap (empty, p3, FALSE, &error));
    g_assert_error (error, LT_ERROR, LT_ERROR_EMPTY);
    g_clear_error (&error);
    g_assert_false (lt_table_save_itksnap (def, p4, FALSE, &error));
    g_assert_error (error, LT_ERROR, LT_ERROR_IO);
    g_assert_true (g_str_has_prefix (error->message, p4));
    g_clear_error (&error);
  }
  test_rm_rf (dir);
}

static const TestCase test_cases[] = {
  { "/label-table/default", test_default },
  { "/label-table/generated-colors", test_generated_colors },
  { "/label-table/set-lookup-find", test_set_lookup_find },
  { "/label-table/itksnap", test_itksnap },
  { "/label-table/slicer", test_slicer },
  { "/label-table/freesurfer", test_freesurfer },
  { "/label-table/mricron", test_mricron },
  { "/label-table/lut-alone", test_lut_alone },
  { "/label-table/xml", test_xml },
  { "/label-table/broken", test_broken },
  { "/label-table/hostile-generated", test_hostile_generated },
  { "/label-table/truncated", test_truncated },
  { "/label-table/aal", test_aal },
  { "/label-table/find-beside", test_find_beside },
  { "/label-table/find-real", test_find_real },
  { "/label-table/find-extension", test_find_extension },
  { "/label-table/save-roundtrip", test_save_roundtrip },
};

TEST_UTIL_MAIN (test_cases)
