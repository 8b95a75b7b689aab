/* ar-label-panel-model.c: the state of the organ panel (see ar-label-panel-private.h):
 * the Organ and Group tables, the grouping of labels under their classes, and the
 * volume texts of their rows. */
#include "ar-label-panel-private.h"

#include <string.h>

#include "scene.h"

/* ------------------------------------------------------------------------ */
/* State */

void
panel_organ_clear (gpointer p)
{
  g_free (((Organ *) p)->name);
  g_free (((Organ *) p)->confidence);
}

Organ *
panel_find_organ (ArLabelPanel *self, int32_t label)
{
  guint i = GPOINTER_TO_UINT (g_hash_table_lookup (self->index, GINT_TO_POINTER (label)));
  return i ? &g_array_index (self->organs, Organ, i - 1) : NULL;
}

void
panel_reindex (ArLabelPanel *self)
{
  g_hash_table_remove_all (self->index);
  for (guint i = 0; i < self->organs->len; i++)
    g_hash_table_insert (self->index, GINT_TO_POINTER (g_array_index (self->organs, Organ, i).label),
                         GUINT_TO_POINTER (i + 1));
}

int
panel_cmp_organ (gconstpointer a, gconstpointer b)
{
  int32_t x = ((const Organ *) a)->label, y = ((const Organ *) b)->label;
  return x < y ? -1 : x > y;
}

/* The 12-class organ of source label @id called @name (0: none). */
static int32_t
class_of (ArLabelPanel *self, int32_t id, const char *name)
{
  if (!self->scheme)
    return 0;
  int32_t c = -1;
  if (!self->by_names)
    c = label_scheme_class_of (self->scheme, id);
  /* the name the scheme knows it by (a 3D Slicer segment ID rather than its display name) */
  const LabelEntry *sn = self->scheme_names ? lt_table_lookup (self->scheme_names, id) : NULL;
  if (sn != NULL && sn->name != NULL)
    name = sn->name;
  if (c < 0 && name)
    {
      /* matched by name (a file whose ids are its own, or an id added past the scheme's) */
      int32_t sid = label_scheme_find_name (self->scheme, name);
      if (sid > 0)
        c = label_scheme_class_of (self->scheme, sid);
    }
  return c > 0 && c <= LT_N_ORGANS ? c : 0;
}

void
panel_add_organ (ArLabelPanel *self, int32_t label, const LabelTable *names, int64_t n_input)
{
  char buf[64];
  Organ o = { 0 };
  o.label = label;
  const LabelTable *t = names && lt_table_lookup (names, label) ? names : self->table;
  o.name = g_strdup (lt_table_get_name (t, label, buf, sizeof buf));
  lt_table_get_color (t, label, o.rgba);
  o.klass = class_of (self, label, o.name);
  o.n_input = n_input;
  o.n_result = -1;
  o.visible = TRUE;
  o.opacity = self->groups[o.klass].opacity;
  g_array_append_val (self->organs, o);
}

/* Whether @o has a row: it is in the input or in the shown result. */
gboolean
panel_organ_listed (ArLabelPanel *self, const Organ *o)
{
  return o->n_input > 0 || (self->has_result && o->n_result > 0);
}

gboolean
panel_group_completable (ArLabelPanel *self, int32_t k)
{
  /* a file none of whose labels is one of the 12 organs has nothing to complete from */
  return self->grouped && self->n_present > 0 && k >= 1 && k <= LT_N_ORGANS && self->groups[k].n_input == 0;
}

gboolean
panel_group_unlabelled (ArLabelPanel *self, int32_t k)
{
  return self->scheme != NULL && !label_scheme_labels_organ (self->scheme, k);
}

/* Voxels of class @k in the input and (-1 without) the result. */
void
panel_group_counts (ArLabelPanel *self, int32_t k, int64_t *in, int64_t *out, int *n_listed)
{
  *in = 0;
  *out = self->has_result ? 0 : -1;
  *n_listed = 0;
  for (guint i = 0; i < self->organs->len; i++)
    {
      const Organ *o = &g_array_index (self->organs, Organ, i);
      if (o->klass != k)
        continue;
      *in += o->n_input;
      if (self->has_result && o->n_result > 0)
        *out += o->n_result;
      *n_listed += panel_organ_listed (self, o);
    }
}

/* ------------------------------------------------------------------------ */
/* Text */

static char *
format_ml (double ml)
{
  if (ml >= 100.0)
    return g_strdup_printf ("%.0f", ml);
  if (ml >= 10.0)
    return g_strdup_printf ("%.1f", ml);
  return g_strdup_printf ("%.2f", ml);
}

/* "12.3 mL", "— → 45.6 mL" */
static char *
volume_text (ArLabelPanel *self, int64_t in, int64_t out)
{
  g_autofree char *a = in > 0 ? format_ml (in * self->ml_in) : g_strdup ("—");
  if (!self->has_result || out < 0)
    return g_strdup_printf ("%s mL", a);
  g_autofree char *b = out > 0 ? format_ml (out * self->ml_out) : g_strdup ("—");
  return g_strdup_printf ("%s → %s mL", a, b);
}

static void
set_volume_label (GtkWidget *label, const char *text, gboolean newly)
{
  gtk_label_set_text (GTK_LABEL (label), text);
  if (newly)
    gtk_widget_add_css_class (label, "accent");
  else
    gtk_widget_remove_css_class (label, "accent");
}

void
panel_update_organ_text (ArLabelPanel *self, Organ *o)
{
  if (!o->volume_label)
    return;
  g_autofree char *v = volume_text (self, o->n_input, self->has_result ? MAX (o->n_result, 0) : -1);
  g_autofree char *t = o->proposal != AR_PROPOSAL_NONE && o->confidence ? g_strdup_printf ("%s · %s", v, o->confidence)
                                                                         : g_strdup (v);
  set_volume_label (o->volume_label, t, self->has_result && o->n_input == 0 && o->n_result > 0);
}

void
panel_update_group_text (ArLabelPanel *self, int32_t k)
{
  Group *g = &self->groups[k];
  if (!g->volume_label)
    return;
  int64_t in, out;
  int n;
  panel_group_counts (self, k, &in, &out, &n);
  g_autofree char *v = volume_text (self, in, out);
  Organ *o = g->merged_label > 0 ? panel_find_organ (self, g->merged_label) : NULL;
  g_autofree char *t = o && o->proposal != AR_PROPOSAL_NONE && o->confidence ? g_strdup_printf ("%s · %s", v, o->confidence)
                       : g->merged_label >= 0 ? g_strdup (v)
                       : g_strdup_printf ("%d label%s · %s", n, n == 1 ? "" : "s", v);
  set_volume_label (g->volume_label, t, self->has_result && in == 0 && out > 0);
}


/* Whether class @k shows as one row: no labels, or one label named as the class (or any
 * single label of the 12-class scheme, whose ids are the classes). */
int32_t
panel_merged_label_of (ArLabelPanel *self, int32_t k)
{
  if (k == 0)
    return -1;
  int n = 0;
  Organ *one = NULL;
  for (guint i = 0; i < self->organs->len; i++)
    {
      Organ *o = &g_array_index (self->organs, Organ, i);
      if (o->klass == k && panel_organ_listed (self, o))
        {
          one = o;
          n++;
        }
    }
  if (n == 0)
    return 0;
  if (n > 1)
    return -1;
  gboolean twelve = g_strcmp0 (label_scheme_get_name (self->scheme), LABEL_SCHEME_BENCHMARK12) == 0;
  if (twelve && one->label == k)
    return one->label;
  g_autofree char *a = g_utf8_casefold (one->name, -1);
  g_autofree char *b = g_utf8_casefold (lt_default_class_name (k), -1);
  g_strdelimit (a, "_-", ' ');
  return g_str_equal (a, b) ? one->label : -1;
}
