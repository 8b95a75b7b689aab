/* label-scheme-detect.c: which scheme a label table or a list of names follows, and
 * the rule for volumes that carry no names.
 *
 * Score of a scheme = matched / (names considered + ids outside), where a name
 * counts 1 when the scheme has it (0.9 when only as an alias) and, for a table, at
 * the same id; "ids outside" are labels present in the volume that neither the
 * table nor the scheme defines.  A partial subset of a scheme scores 1; each
 * unknown name lowers the score a little.  The best scheme wins if it reaches
 * LABEL_SCHEME_MIN_SCORE; ties go to the earlier scheme of label_scheme_list(). */
#include "label-scheme-private.h"

#include <string.h>

#define ALIAS_WEIGHT 0.9

/* Names that say nothing about a scheme: background and placeholder names. */
static gboolean
is_placeholder (const char *key)
{
  static const char *const names[] = {
    "", "background", "clear label", "unlabeled", "unlabelled", "exterior", "none",
  };

  for (guint i = 0; i < G_N_ELEMENTS (names); i++)
    if (strcmp (key, names[i]) == 0)
      return TRUE;
  /* "label 7", as lt_table_get_name makes up for unnamed ids. */
  if (g_str_has_prefix (key, "label "))
    {
      const char *p = key + 6;
      if (*p == '\0')
        return FALSE;
      for (; *p != '\0'; p++)
        if (!g_ascii_isdigit (*p))
          return FALSE;
      return TRUE;
    }
  return FALSE;
}

/* How @key fits @s: the weight of the match, 0 when the scheme does not know it.
 * *id_out gets the scheme's id for it. */
static double
match_key (const LabelScheme *s, const char *key, int32_t *id_out)
{
  gboolean alias = FALSE;
  int index = label_scheme_find_key (s, key, &alias);
  int32_t organ;

  if (index >= 0)
    {
      *id_out = label_scheme_get_entry (s, index)->id;
      return alias ? ALIAS_WEIGHT : 1.0;
    }
  organ = label_scheme_reserved_organ_of_key (s, key);
  if (organ > 0)
    {
      *id_out = label_scheme_get_write_back (s, organ)->id;
      return 1.0;
    }
  *id_out = -1;
  return 0.0;
}

static void
finish_score (LabelSchemeScore *out)
{
  int denominator = out->n_names + out->n_ids_outside;

  out->score = denominator > 0 ? out->matched / denominator : 0.0;
}

void
label_scheme_score_table (const LabelScheme *s, const LabelTable *table,
                          const int32_t *ids_present, int n_ids, LabelSchemeScore *out)
{
  memset (out, 0, sizeof *out);
  if (table != NULL)
    for (guint i = 0; i < table->entries->len; i++)
      {
        const LabelEntry *e = &g_array_index (table->entries, LabelEntry, i);
        g_autofree char *key = label_scheme_name_key (e->name);
        int32_t id;
        double w;

        if (e->id == 0 || is_placeholder (key))
          continue;
        out->n_names++;
        w = match_key (s, key, &id);
        if (w > 0 && id == e->id)
          out->matched += w;
        else if (w > 0)
          out->n_wrong_id++;
        else
          out->n_unknown++;
      }
  for (int i = 0; ids_present != NULL && i < n_ids; i++)
    if (ids_present[i] != 0
        && (table == NULL || lt_table_lookup (table, ids_present[i]) == NULL)
        && label_scheme_class_of (s, ids_present[i]) < 0)
      out->n_ids_outside++;
  finish_score (out);
}

/* A mask file name without its folder and image extension. */
static char *
strip_file_name (const char *name)
{
  static const char *const extensions[] = {
    ".seg.nrrd", ".nii.gz", ".nii", ".nrrd", ".nhdr", ".mha", ".mhd",
  };
  g_autofree char *base = g_path_get_basename (name);
  gsize len = strlen (base);

  /* g_path_get_basename gives "." and "/" for empty and root paths. */
  if (strcmp (base, ".") == 0 || strcmp (base, G_DIR_SEPARATOR_S) == 0)
    return g_strdup ("");
  for (guint i = 0; i < G_N_ELEMENTS (extensions); i++)
    {
      gsize n = strlen (extensions[i]);
      if (len > n && g_ascii_strcasecmp (base + len - n, extensions[i]) == 0)
        return g_strndup (base, len - n);
    }
  return g_steal_pointer (&base);
}

void
label_scheme_score_names (const LabelScheme *s, const char *const *names, int n_names,
                          LabelSchemeScore *out)
{
  memset (out, 0, sizeof *out);
  for (int i = 0; names != NULL && (n_names < 0 ? names[i] != NULL : i < n_names); i++)
    {
      g_autofree char *stripped = NULL;
      g_autofree char *key = NULL;
      int32_t id;
      double w;

      if (names[i] == NULL)
        continue;
      stripped = strip_file_name (names[i]);
      key = label_scheme_name_key (stripped);
      if (is_placeholder (key))
        continue;
      out->n_names++;
      w = match_key (s, key, &id);
      if (w > 0)
        out->matched += w;
      else
        out->n_unknown++;
    }
  finish_score (out);
}

/* Pick the best of the scores (ties: earlier scheme), or fail with a message. */
static const LabelScheme *
choose (const LabelSchemeScore *scores, const char *what, double *score, GError **error)
{
  int n = 0;
  const LabelScheme *const *schemes = label_scheme_list (&n);
  int best = 0;

  for (int i = 1; i < n; i++)
    if (scores[i].score > scores[best].score + 1e-12)
      best = i;
  if (score != NULL)
    *score = scores[best].score;
  if (scores[best].matched > 0 && scores[best].score >= LABEL_SCHEME_MIN_SCORE)
    return schemes[best];

  g_autofree char *names = label_scheme_dup_names ();
  if (scores[best].n_names == 0)
    g_set_error (error, LABEL_SCHEME_ERROR, LABEL_SCHEME_ERROR_NOT_DETECTED,
                 "%s holds no label names to tell the label scheme by; pass --scheme NAME "
                 "(one of %s) or a label table", what, names);
  else
    g_set_error (error, LABEL_SCHEME_ERROR, LABEL_SCHEME_ERROR_NOT_DETECTED,
                 "the label names of %s match no known label scheme (closest: %s, %.0f of %d "
                 "names%s, score %.2f < %.2f); pass --scheme NAME (one of %s) or a label table",
                 what, label_scheme_get_name (schemes[best]), scores[best].matched,
                 scores[best].n_names, scores[best].n_wrong_id > 0 ? " at their ids" : "",
                 scores[best].score, LABEL_SCHEME_MIN_SCORE, names);
  return NULL;
}

const LabelScheme *
label_scheme_detect (const LabelTable *table, const int32_t *ids_present, int n_ids,
                     double *score, GError **error)
{
  int n = 0;
  const LabelScheme *const *schemes = label_scheme_list (&n);
  g_autofree LabelSchemeScore *scores = g_new0 (LabelSchemeScore, n);
  g_autofree char *what = g_strdup_printf ("the label table %s",
                                           table != NULL && table->source != NULL
                                           ? table->source : "(none)");

  for (int i = 0; i < n; i++)
    label_scheme_score_table (schemes[i], table, ids_present, n_ids, &scores[i]);
  return choose (scores, what, score, error);
}

const LabelScheme *
label_scheme_detect_names (const char *const *names, int n_names, double *score, GError **error)
{
  int n = 0;
  const LabelScheme *const *schemes = label_scheme_list (&n);
  g_autofree LabelSchemeScore *scores = g_new0 (LabelSchemeScore, n);

  for (int i = 0; i < n; i++)
    label_scheme_score_names (schemes[i], names, n_names, &scores[i]);
  return choose (scores, "the list of names", score, error);
}

/* ------------------------------------------------------------------------- */
/* Volumes without names                                                     */

const LabelScheme *
label_scheme_for_unnamed (const LabelVolume *v, const char *path, GError **error)
{
  int32_t lo = 0, hi = 0;
  const char *what = path != NULL ? path : "the label map";

  lv_volume_min_max (v, &lo, &hi);
  if (lo < 0)
    {
      g_set_error (error, LABEL_SCHEME_ERROR, LABEL_SCHEME_ERROR_UNKNOWN_ID,
                   "%s holds the negative label %d: no label scheme has negative ids", what, lo);
      return NULL;
    }
  if (hi <= LT_N_ORGANS)
    return label_scheme_get (LABEL_SCHEME_BENCHMARK12);

  g_autofree char *names = label_scheme_dup_names ();
  g_set_error (error, LABEL_SCHEME_ERROR, LABEL_SCHEME_ERROR_NEEDS_SCHEME,
               "%s has labels up to %d, beyond the benchmark's 0..%d, and no label names; "
               "say which scheme its ids follow with --scheme NAME (one of %s) or give a "
               "label table", what, hi, LT_N_ORGANS, names);
  return NULL;
}

/* TRUE if @table names at least one label (placeholders like "background" do not count). */
static gboolean
has_names (const LabelTable *table)
{
  for (guint i = 0; table != NULL && i < table->entries->len; i++)
    {
      const LabelEntry *e = &g_array_index (table->entries, LabelEntry, i);
      g_autofree char *key = label_scheme_name_key (e->name);
      if (e->id != 0 && !is_placeholder (key))
        return TRUE;
    }
  return FALSE;
}

const LabelScheme *
label_scheme_resolve (const char *requested, const LabelTable *table, const LabelVolume *v,
                      const char *path, gboolean *by_names, GError **error)
{
  const LabelScheme *s;

  if (by_names != NULL)
    *by_names = FALSE;
  if (requested != NULL)
    return label_scheme_lookup (requested, error);
  if (!has_names (table))
    return label_scheme_for_unnamed (v, path, error);

  int n = 0;
  g_autofree LabelSchemeIdCount *census = label_scheme_census (v, &n);
  g_autofree int32_t *ids = g_new (int32_t, MAX (n, 1));
  g_autoptr (GError) id_error = NULL;
  g_autoptr (GPtrArray) names = g_ptr_array_new ();

  for (int i = 0; i < n; i++)
    ids[i] = census[i].id;
  s = label_scheme_detect (table, ids, n, NULL, &id_error);
  if (s != NULL)
    return s;

  /* The names may follow a scheme while the ids do not (a Slicer segmentation). */
  for (guint i = 0; i < table->entries->len; i++)
    {
      const LabelEntry *e = &g_array_index (table->entries, LabelEntry, i);
      if (e->id != 0)
        g_ptr_array_add (names, e->name);
    }
  s = label_scheme_detect_names ((const char *const *) names->pdata, (int) names->len, NULL, NULL);
  if (s != NULL)
    {
      if (by_names != NULL)
        *by_names = TRUE;
      return s;
    }
  if (path != NULL)
    g_prefix_error (&id_error, "%s: ", path);
  g_propagate_error (error, g_steal_pointer (&id_error));
  return NULL;
}
