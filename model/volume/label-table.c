/* label-table.c: names and colours of labels: the LabelTable type and the built-in
 * 12-organ scheme.
 *
 * A table is an array of entries sorted by id; ids without an entry get a generated,
 * stable colour and the name "label N".  The file formats are read in label-table-read.c,
 * written in label-table-write.c, and a volume's table is found in label-table-find.c.
 */
#include "label-table.h"

#include <math.h>
#include <string.h>

G_DEFINE_QUARK (lt-error-quark, lt_error)

#define GOLDEN_ANGLE_DEG 137.50776405003785

/* ------------------------------------------------------------------------- */
/* The table                                                                 */

static void
clear_entry (gpointer p)
{
  LabelEntry *e = p;
  g_clear_pointer (&e->name, g_free);
}

LabelTable *
lt_table_new (const char *source)
{
  LabelTable *t = g_new0 (LabelTable, 1);

  t->entries = g_array_new (FALSE, TRUE, sizeof (LabelEntry));
  g_array_set_clear_func (t->entries, clear_entry);
  t->source = g_strdup (source != NULL ? source : "built-in");
  return t;
}

void
lt_table_free (LabelTable *t)
{
  if (t == NULL)
    return;
  g_array_unref (t->entries);
  g_free (t->source);
  g_free (t);
}

/* Index of the first entry with id >= @id. */
static guint
lower_bound (const LabelTable *t, int32_t id)
{
  guint lo = 0, hi = t->entries->len;

  while (lo < hi)
    {
      guint mid = lo + (hi - lo) / 2;
      if (g_array_index (t->entries, LabelEntry, mid).id < id)
        lo = mid + 1;
      else
        hi = mid;
    }
  return lo;
}

const LabelEntry *
lt_table_lookup (const LabelTable *t, int32_t id)
{
  guint i;

  if (t == NULL)
    return NULL;
  i = lower_bound (t, id);
  if (i < t->entries->len && g_array_index (t->entries, LabelEntry, i).id == id)
    return &g_array_index (t->entries, LabelEntry, i);
  return NULL;
}

/* A colour for ids without one: hues spaced by the golden angle (so neighbouring ids are
 * far apart on the colour wheel and the sequence never repeats exactly), with saturation
 * and value cycling on short periods to separate hues that come back close.  Id 0 is
 * background: transparent black. */
static void
generated_color (int32_t id, guint8 rgba[4])
{
  guint32 u = (guint32) id;
  double h, s, v, c, x, m, r, g, b;
  int sector;

  if (id == 0)
    {
      rgba[0] = rgba[1] = rgba[2] = rgba[3] = 0;
      return;
    }
  h = fmod ((double) u * GOLDEN_ANGLE_DEG, 360.0) / 60.0;
  s = 0.55 + 0.15 * (double) (u % 3);        /* 0.55, 0.70, 0.85 */
  v = 0.95 - 0.15 * (double) ((u / 3) % 2);  /* 0.95, 0.80 */
  c = v * s;
  sector = (int) h;
  x = c * (1.0 - fabs (fmod (h, 2.0) - 1.0));
  m = v - c;
  switch (sector)
    {
    case 0: r = c; g = x; b = 0; break;
    case 1: r = x; g = c; b = 0; break;
    case 2: r = 0; g = c; b = x; break;
    case 3: r = 0; g = x; b = c; break;
    case 4: r = x; g = 0; b = c; break;
    default: r = c; g = 0; b = x; break;
    }
  rgba[0] = (guint8) lround ((r + m) * 255.0);
  rgba[1] = (guint8) lround ((g + m) * 255.0);
  rgba[2] = (guint8) lround ((b + m) * 255.0);
  rgba[3] = 255;
}

/* @name NULL gives "label N"; @rgba NULL gives the generated colour. */
void
lt_table_set (LabelTable *t, int32_t id, const char *name, const guint8 rgba[4])
{
  LabelEntry e = { 0 };
  guint i;

  g_return_if_fail (t != NULL);

  e.id = id;
  e.name = name != NULL ? g_utf8_make_valid (name, -1) : g_strdup_printf ("label %d", id);
  if (rgba != NULL)
    memcpy (e.rgba, rgba, 4);
  else
    generated_color (id, e.rgba);

  i = lower_bound (t, id);
  if (i < t->entries->len && g_array_index (t->entries, LabelEntry, i).id == id)
    {
      LabelEntry *old = &g_array_index (t->entries, LabelEntry, i);
      g_free (old->name);
      *old = e;
    }
  else
    g_array_insert_val (t->entries, i, e);
}

/* The table's name, else "background" for 0 and "label N" for other ids. */
const char *
lt_table_get_name (const LabelTable *t, int32_t id, char *buf, gsize len)
{
  const LabelEntry *e = lt_table_lookup (t, id);

  if (e != NULL)
    return e->name;
  if (id == 0)
    return "background";
  if (buf == NULL || len == 0)
    return "label";
  g_snprintf (buf, len, "label %d", id);
  return buf;
}

void
lt_table_get_color (const LabelTable *t, int32_t id, guint8 rgba[4])
{
  const LabelEntry *e = lt_table_lookup (t, id);

  if (e != NULL)
    memcpy (rgba, e->rgba, 4);
  else
    generated_color (id, rgba);
}

char *
lt_name_key (const char *name, const char *separators)
{
  g_autofree char *valid = g_utf8_make_valid (name, -1);
  g_autofree char *fold = g_utf8_casefold (valid, -1);
  GString *out = g_string_sized_new (strlen (fold));
  gboolean gap = FALSE;

  for (const char *p = fold; *p != '\0'; p++)
    {
      if (strchr (separators, *p) != NULL)
        gap = out->len > 0;
      else
        {
          if (gap)
            g_string_append_c (out, ' ');
          g_string_append_c (out, *p);
          gap = FALSE;
        }
    }
  return g_string_free (out, FALSE);
}

/* Case-folded, with runs of ' ', '_', '-' and tabs turned into one space, trimmed. */
static char *
name_key (const char *name)
{
  return lt_name_key (name, " _-\t");
}

int32_t
lt_table_find_name (const LabelTable *t, const char *name)
{
  g_autofree char *key = NULL;

  if (t == NULL || name == NULL)
    return -1;
  key = name_key (name);
  for (guint i = 0; i < t->entries->len; i++)
    {
      const LabelEntry *e = &g_array_index (t->entries, LabelEntry, i);
      g_autofree char *k = name_key (e->name);
      if (strcmp (k, key) == 0)
        return e->id;
    }
  return -1;
}

/* ------------------------------------------------------------------------- */
/* The built-in 12-organ scheme                                              */

static const struct {
  int32_t id;
  const char *name;
  guint8 rgba[4];
} default_entries[LT_N_CLASSES] = {
  { LT_BACKGROUND,        "background",         {   0,   0,   0,   0 } },
  { LT_LUNG,              "lung",               { 244, 160, 160, 255 } }, /* pale salmon pink */
  { LT_HEART,             "heart",              { 158,  22,  36, 255 } }, /* deep red */
  { LT_SPLEEN,            "spleen",             { 128,  62, 150, 255 } }, /* purple */
  { LT_STOMACH,           "stomach",            { 252, 200, 168, 255 } }, /* pale peach pink */
  { LT_PANCREAS,          "pancreas",           { 236, 196,  64, 255 } }, /* yellow */
  { LT_SPINE,             "spine",              { 242, 236, 214, 255 } }, /* light ivory */
  { LT_RIB_CAGE,          "rib cage",           { 204, 194, 152, 255 } }, /* darker bone */
  { LT_LIVER,             "liver",              { 134,  60,  34, 255 } }, /* brown red */
  { LT_KIDNEY,            "kidney",             { 204, 112,  48, 255 } }, /* orange brown */
  { LT_AORTA,             "aorta",              { 236,  36,  36, 255 } }, /* bright red */
  { LT_AUTOCHTHON,        "autochthon muscles", { 196,  84,  86, 255 } }, /* muscle red-brown */
  { LT_PULMONARY_ARTERY,  "pulmonary artery",   {  54,  96, 206, 255 } }, /* blue */
};

const char *
lt_default_class_name (int id)
{
  return id >= 0 && id < LT_N_CLASSES ? default_entries[id].name : NULL;
}

LabelTable *
lt_table_new_default (void)
{
  LabelTable *t = lt_table_new ("built-in");

  for (guint i = 0; i < G_N_ELEMENTS (default_entries); i++)
    lt_table_set (t, default_entries[i].id, default_entries[i].name, default_entries[i].rgba);
  return t;
}
