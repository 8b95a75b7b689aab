/* label-scheme.c: the scheme registry, lookups by id and name, write-back rules and
 * label tables.  The data live in label-scheme-{totalseg,amos}.c; the benchmark's
 * own scheme is made from the built-in 12-class names. */
#include "label-scheme-private.h"

#include <string.h>

G_DEFINE_QUARK (label-scheme-error-quark, label_scheme_error)

struct _LabelScheme {
  const char *name;
  const char *other_names;
  const char *title;
  LabelSchemeEntry *entries;     /* n_entries, sorted by id */
  int n_entries;
  int32_t max_id;
  int *index_of_id;              /* max_id + 1 entry indices, -1 where no entry */
  GHashTable *keys;              /* name key -> GINT_TO_POINTER (2 * index + is_alias + 1) */
  LabelSchemeWriteBack write_back[LT_N_CLASSES];  /* [0] unused */
  char *reserved_keys[LT_N_CLASSES];              /* name keys of the reserved ids, or NULL */
};

/* ------------------------------------------------------------------------- */
/* Names                                                                     */

char *
label_scheme_name_key (const char *name)
{
  return lt_name_key (name != NULL ? name : "", " _-/\t()");
}

/* The side a name states: a word "left" or "right" (words split as in the key). */
static LabelSide
side_of_name (const char *name)
{
  g_autofree char *key = label_scheme_name_key (name);
  g_auto (GStrv) words = g_strsplit (key, " ", -1);
  LabelSide side = LABEL_SIDE_NONE;

  for (int i = 0; words[i] != NULL; i++)
    {
      if (strcmp (words[i], "left") == 0)
        side = LABEL_SIDE_LEFT;
      else if (strcmp (words[i], "right") == 0)
        side = LABEL_SIDE_RIGHT;
    }
  return side;
}

/* ------------------------------------------------------------------------- */
/* Building the schemes once                                                 */

/* The benchmark's 12 classes, with the names of lt_default_class_name(). */
static const char *const benchmark_aliases[LT_N_CLASSES] = {
  [LT_LUNG] = "lungs",
  [LT_SPINE] = "vertebrae|vertebral column",
  [LT_RIB_CAGE] = "ribcage|ribs",
  [LT_KIDNEY] = "kidneys",
  [LT_AUTOCHTHON] = "autochthon|autochthon muscle|autochthonous muscles|erector spinae",
  [LT_PULMONARY_ARTERY] = "pulmonary arteries|pulmonary trunk",
};

static void
add_key (LabelScheme *s, const char *name, int index, gboolean is_alias)
{
  char *key = label_scheme_name_key (name);

  /* The first holder of a key keeps it: a name beats a later alias. */
  if (key[0] == '\0' || g_hash_table_contains (s->keys, key))
    g_free (key);
  else
    g_hash_table_insert (s->keys, key, GINT_TO_POINTER (2 * index + (is_alias ? 1 : 0) + 1));
}

static void
compute_write_back (LabelScheme *s)
{
  for (int32_t organ = 1; organ <= LT_N_ORGANS; organ++)
    {
      LabelSchemeWriteBack *wb = &s->write_back[organ];
      const LabelSchemeEntry *parts[2] = { NULL, NULL };
      int n = 0;

      for (int i = 0; i < s->n_entries; i++)
        if (s->entries[i].organ == organ)
          {
            if (n < 2)
              parts[n] = &s->entries[i];
            n++;
          }

      wb->n_parts = n;
      wb->left_id = wb->right_id = -1;
      if (n == 1)
        {
          wb->kind = LABEL_SCHEME_WRITE_SINGLE;
          wb->id = parts[0]->id;
          wb->name = parts[0]->name;
          continue;
        }
      if (n == 2 && parts[0]->side != LABEL_SIDE_NONE && parts[1]->side != LABEL_SIDE_NONE
          && parts[0]->side != parts[1]->side)
        {
          wb->kind = LABEL_SCHEME_WRITE_BY_SIDE;
          wb->left_id = parts[0]->side == LABEL_SIDE_LEFT ? parts[0]->id : parts[1]->id;
          wb->right_id = parts[0]->side == LABEL_SIDE_RIGHT ? parts[0]->id : parts[1]->id;
        }
      else
        wb->kind = LABEL_SCHEME_WRITE_NEW_ID;
      /* The documented rule for a reserved id: max_id + organ. */
      wb->id = s->max_id + organ;
      wb->name = g_strdup_printf ("%s (completed)", lt_default_class_name (organ));
      s->reserved_keys[organ] = label_scheme_name_key (wb->name);
    }
}

static LabelScheme *
scheme_new (const char *name, const char *other_names, const char *title,
            const LabelSchemeRow *rows, int n_rows)
{
  LabelScheme *s = g_new0 (LabelScheme, 1);

  s->name = name;
  s->other_names = other_names;
  s->title = title;
  s->n_entries = n_rows;
  s->entries = g_new0 (LabelSchemeEntry, n_rows);
  s->keys = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  for (int i = 0; i < n_rows; i++)
    {
      /* The data files are sorted with unique ids >= 1 (tests/test-label-scheme.c checks). */
      s->entries[i] = (LabelSchemeEntry) {
        .id = rows[i].id,
        .name = rows[i].name,
        .organ = rows[i].organ,
        .side = side_of_name (rows[i].name),
        .aliases = rows[i].aliases,
      };
      s->max_id = MAX (s->max_id, rows[i].id);
    }
  s->index_of_id = g_new (int, s->max_id + 1);
  for (int32_t id = 0; id <= s->max_id; id++)
    s->index_of_id[id] = -1;
  for (int i = 0; i < n_rows; i++)
    s->index_of_id[s->entries[i].id] = i;

  for (int i = 0; i < n_rows; i++)
    add_key (s, s->entries[i].name, i, FALSE);
  for (int i = 0; i < n_rows; i++)
    if (s->entries[i].aliases != NULL)
      {
        g_auto (GStrv) aliases = g_strsplit (s->entries[i].aliases, "|", -1);
        for (int a = 0; aliases[a] != NULL; a++)
          add_key (s, aliases[a], i, TRUE);
      }
  compute_write_back (s);
  return s;
}

static LabelScheme *
scheme_from_data (const LabelSchemeData *d)
{
  return scheme_new (d->name, d->other_names, d->title, d->rows, d->n_rows);
}

static LabelScheme *
benchmark_scheme_new (void)
{
  static LabelSchemeRow rows[LT_N_ORGANS];

  for (int32_t organ = 1; organ <= LT_N_ORGANS; organ++)
    rows[organ - 1] = (LabelSchemeRow) {
      .id = organ, .name = lt_default_class_name (organ), .organ = organ,
      .aliases = benchmark_aliases[organ],
    };
  return scheme_new (LABEL_SCHEME_BENCHMARK12, "benchmark|12class|12-class|default",
                     "The benchmark's 12 classes (1 lung ... 12 pulmonary artery)",
                     rows, LT_N_ORGANS);
}

/* Detection-preference order: ties go to the earlier scheme (docs/label-schemes.md). */
enum { N_SCHEMES = 4 };
static const LabelScheme *all_schemes[N_SCHEMES + 1];

static void
ensure_schemes (void)
{
  static gsize done = 0;

  if (g_once_init_enter (&done))
    {
      all_schemes[0] = benchmark_scheme_new ();
      all_schemes[1] = scheme_from_data (&label_scheme_totalseg_v2_data);
      all_schemes[2] = scheme_from_data (&label_scheme_totalseg_v1_data);
      all_schemes[3] = scheme_from_data (&label_scheme_amos15_data);
      all_schemes[N_SCHEMES] = NULL;
      g_once_init_leave (&done, 1);
    }
}

/* ------------------------------------------------------------------------- */
/* The registry                                                              */

const LabelScheme *const *
label_scheme_list (int *n_out)
{
  ensure_schemes ();
  if (n_out != NULL)
    *n_out = N_SCHEMES;
  return all_schemes;
}

static gboolean
name_in_list (const char *key, const char *list)
{
  g_auto (GStrv) names = NULL;

  if (list == NULL)
    return FALSE;
  names = g_strsplit (list, "|", -1);
  for (int i = 0; names[i] != NULL; i++)
    {
      g_autofree char *k = label_scheme_name_key (names[i]);
      if (strcmp (k, key) == 0)
        return TRUE;
    }
  return FALSE;
}

const LabelScheme *
label_scheme_get (const char *name)
{
  g_autofree char *key = NULL;

  if (name == NULL)
    return NULL;
  ensure_schemes ();
  key = label_scheme_name_key (name);
  for (int i = 0; i < N_SCHEMES; i++)
    {
      g_autofree char *k = label_scheme_name_key (all_schemes[i]->name);
      if (strcmp (k, key) == 0 || name_in_list (key, all_schemes[i]->other_names))
        return all_schemes[i];
    }
  return NULL;
}

char *
label_scheme_dup_names (void)
{
  GString *out = g_string_new (NULL);

  ensure_schemes ();
  for (int i = 0; i < N_SCHEMES; i++)
    g_string_append_printf (out, "%s%s", i > 0 ? ", " : "", all_schemes[i]->name);
  return g_string_free (out, FALSE);
}

const LabelScheme *
label_scheme_lookup (const char *name, GError **error)
{
  const LabelScheme *s = label_scheme_get (name);

  if (s == NULL)
    {
      g_autofree char *names = label_scheme_dup_names ();
      g_set_error (error, LABEL_SCHEME_ERROR, LABEL_SCHEME_ERROR_UNKNOWN,
                   "no label scheme called “%s”; the schemes are: %s",
                   name != NULL ? name : "", names);
    }
  return s;
}

const char *
label_scheme_get_name (const LabelScheme *s)
{
  return s->name;
}

const char *
label_scheme_get_title (const LabelScheme *s)
{
  return s->title;
}

int
label_scheme_get_n_entries (const LabelScheme *s)
{
  return s->n_entries;
}

int32_t
label_scheme_get_max_id (const LabelScheme *s)
{
  return s->max_id;
}

const LabelSchemeEntry *
label_scheme_get_entry (const LabelScheme *s, int index)
{
  return index >= 0 && index < s->n_entries ? &s->entries[index] : NULL;
}

const LabelSchemeEntry *
label_scheme_lookup_id (const LabelScheme *s, int32_t id)
{
  if (id < 1 || id > s->max_id || s->index_of_id[id] < 0)
    return NULL;
  return &s->entries[s->index_of_id[id]];
}

int
label_scheme_find_key (const LabelScheme *s, const char *key, gboolean *is_alias)
{
  gpointer v = g_hash_table_lookup (s->keys, key);
  int code = GPOINTER_TO_INT (v) - 1;

  if (is_alias != NULL)
    *is_alias = code >= 0 && (code & 1);
  return code < 0 ? -1 : code / 2;
}

int32_t
label_scheme_reserved_organ_of_key (const LabelScheme *s, const char *key)
{
  for (int32_t organ = 1; organ <= LT_N_ORGANS; organ++)
    if (s->reserved_keys[organ] != NULL && strcmp (s->reserved_keys[organ], key) == 0)
      return organ;
  return 0;
}

int32_t
label_scheme_find_name (const LabelScheme *s, const char *name)
{
  g_autofree char *key = NULL;
  int index;
  int32_t organ;

  if (name == NULL)
    return -1;
  key = label_scheme_name_key (name);
  index = label_scheme_find_key (s, key, NULL);
  if (index >= 0)
    return s->entries[index].id;
  if (strcmp (key, "background") == 0)
    return 0;
  organ = label_scheme_reserved_organ_of_key (s, key);
  return organ > 0 ? s->write_back[organ].id : -1;
}

int32_t
label_scheme_class_of (const LabelScheme *s, int32_t id)
{
  const LabelSchemeEntry *e;

  if (id == 0)
    return LT_BACKGROUND;
  e = label_scheme_lookup_id (s, id);
  if (e != NULL)
    return e->organ;
  if (id > s->max_id && id <= s->max_id + LT_N_ORGANS)
    {
      int32_t organ = id - s->max_id;
      if (s->write_back[organ].kind != LABEL_SCHEME_WRITE_SINGLE)
        return organ;
    }
  return -1;
}

LabelSide
label_scheme_side_of (const LabelScheme *s, int32_t id)
{
  const LabelSchemeEntry *e = label_scheme_lookup_id (s, id);

  return e != NULL ? e->side : LABEL_SIDE_NONE;
}

int32_t *
label_scheme_dup_ids_of_class (const LabelScheme *s, int32_t organ, int *n_out)
{
  GArray *ids = g_array_new (FALSE, FALSE, sizeof (int32_t));

  for (int i = 0; i < s->n_entries; i++)
    if (organ >= 1 && s->entries[i].organ == organ)
      g_array_append_val (ids, s->entries[i].id);
  *n_out = (int) ids->len;
  return (int32_t *) g_array_free (ids, FALSE);
}

gboolean
label_scheme_labels_organ (const LabelScheme *s, int32_t organ)
{
  for (int i = 0; i < s->n_entries; i++)
    if (organ >= 1 && s->entries[i].organ == organ)
      return TRUE;
  return FALSE;
}

const LabelSchemeWriteBack *
label_scheme_get_write_back (const LabelScheme *s, int32_t organ)
{
  return organ >= 1 && organ <= LT_N_ORGANS ? &s->write_back[organ] : NULL;
}

/* ------------------------------------------------------------------------- */
/* Label tables                                                              */

/* @rgba moved towards white (t > 0) or black (t < 0) by |t| (0..1). */
static void
shade (guint8 rgba[4], double t)
{
  for (int c = 0; c < 3; c++)
    {
      double v = rgba[c];
      v = t >= 0 ? v + (255.0 - v) * t : v * (1.0 + t);
      rgba[c] = (guint8) CLAMP (v + 0.5, 0.0, 255.0);
    }
}

LabelTable *
label_scheme_dup_table (const LabelScheme *s, LabelSchemeTableFlags flags)
{
  g_autofree char *source = g_strdup_printf ("scheme %s", s->name);
  LabelTable *t = lt_table_new (source);
  g_autoptr (LabelTable) classes = lt_table_new_default ();
  g_autoptr (LabelTable) empty = lt_table_new ("generated");
  guint8 rgba[4];
  int seen[LT_N_CLASSES] = { 0 };

  lt_table_get_color (classes, 0, rgba);
  lt_table_set (t, 0, "background", rgba);
  for (int i = 0; i < s->n_entries; i++)
    {
      const LabelSchemeEntry *e = &s->entries[i];

      if (e->organ >= 1)
        {
          int n = s->write_back[e->organ].n_parts;
          int k = seen[e->organ]++;

          lt_table_get_color (classes, e->organ, rgba);
          /* Parts of one organ spread from 30 % darker to 30 % lighter. */
          if (n > 1)
            shade (rgba, -0.3 + 0.6 * k / (n - 1));
        }
      else
        lt_table_get_color (empty, e->id, rgba);
      lt_table_set (t, e->id, e->name, rgba);
    }
  if (flags & LABEL_SCHEME_TABLE_COMPLETED)
    for (int32_t organ = 1; organ <= LT_N_ORGANS; organ++)
      if (s->write_back[organ].kind != LABEL_SCHEME_WRITE_SINGLE)
        {
          lt_table_get_color (classes, organ, rgba);
          lt_table_set (t, s->write_back[organ].id, s->write_back[organ].name, rgba);
        }
  return t;
}
