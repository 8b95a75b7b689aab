/* ar-label-panel-filter.c: finding organs in a long list (TotalSegmentator's 117 classes):
 * the search entry above the list, which shows only the rows whose names contain the
 * text (case-insensitive; "_" and "-" match spaces) and the groups holding such a row,
 * and the show all / hide all buttons for the visibility of every organ in the 3D views.
 *
 * While a search is typed, each group with a matching label is expanded; the groups'
 * earlier state comes back when the search is cleared. */
#include "ar-label-panel-private.h"

#include <string.h>

/* @s casefolded, "_" and "-" as spaces ("Kidney_Left" -> "kidney left"). */
static char *
fold (const char *s)
{
  char *f = g_utf8_casefold (s ? s : "", -1);
  g_strdelimit (f, "_-", ' ');
  return f;
}

static gboolean
matches (ArLabelPanel *self, const char *name)
{
  if (!self->filter)
    return TRUE;
  g_autofree char *f = fold (name);
  return strstr (f, self->filter) != NULL;
}

/* Whether class @k's own row matches: the class's name or, shown as one row, its label's. */
static gboolean
group_matches (ArLabelPanel *self, int32_t k)
{
  Group *g = &self->groups[k];
  Organ *merged = g->merged_label > 0 ? panel_find_organ (self, g->merged_label) : NULL;
  return matches (self, g->name) || (merged && matches (self, merged->name));
}

/* Whether a label of class @k that has a row of its own matches. */
static gboolean
group_has_matching_label (ArLabelPanel *self, int32_t k)
{
  for (guint i = 0; i < self->organs->len; i++)
    {
      Organ *o = &g_array_index (self->organs, Organ, i);
      if (o->klass == k && panel_organ_listed (self, o) && matches (self, o->name))
        return TRUE;
    }
  return FALSE;
}

void
panel_apply_filter (ArLabelPanel *self)
{
  gboolean any_shown = FALSE;
  for (guint i = 0; !self->grouped && i < self->organs->len; i++)
    {
      Organ *o = &g_array_index (self->organs, Organ, i);
      if (o->row)
        gtk_widget_set_visible (o->row, matches (self, o->name));
      any_shown |= o->row && matches (self, o->name);
    }
  for (int k = 0; self->grouped && k < LT_N_CLASSES; k++)
    {
      Group *g = &self->groups[k];
      if (!g->row)
        continue;
      gboolean own = group_matches (self, k);
      gboolean any = FALSE;
      for (guint i = 0; i < self->organs->len; i++)
        {
          Organ *o = &g_array_index (self->organs, Organ, i);
          if (o->klass != k || !o->row)
            continue;
          gboolean m = matches (self, o->name);
          any |= m;
          gtk_widget_set_visible (o->row, g->expanded && (own || m));
        }
      gtk_widget_set_visible (g->row, own || any);
      any_shown |= own || any;
    }
  gtk_widget_set_visible (self->no_match, self->filter && !any_shown);
  if (self->filter)
    {
      g_autofree char *t = g_strdup_printf ("No organ matches “%s”",
                                            gtk_editable_get_text (GTK_EDITABLE (self->search)));
      gtk_label_set_text (GTK_LABEL (self->no_match), t);
    }
}

/* The groups expanded while searching: those with a matching label. */
static void
expand_matches (ArLabelPanel *self)
{
  for (int k = 0; self->grouped && k < LT_N_CLASSES; k++)
    if (self->groups[k].row && self->groups[k].merged_label < 0)
      ar_label_panel_set_expanded (self, k, group_has_matching_label (self, k));
}

static void
search_changed (GtkSearchEntry *entry, ArLabelPanel *self)
{
  const char *text = gtk_editable_get_text (GTK_EDITABLE (entry));
  gboolean was = self->filter != NULL;
  g_clear_pointer (&self->filter, g_free);
  g_autofree char *f = fold (text);
  g_strstrip (f);
  if (*f)
    self->filter = g_steal_pointer (&f);
  for (int k = 0; k < LT_N_CLASSES; k++)
    {
      Group *g = &self->groups[k];
      if (!was && self->filter)
        g->expanded_before = g->expanded;
      else if (was && !self->filter && g->row && g->merged_label < 0)
        ar_label_panel_set_expanded (self, k, g->expanded_before);
    }
  if (self->filter)
    expand_matches (self);
  panel_apply_filter (self);
}

/* Return or Down in the entry: to the first row shown. */
static void
focus_first_row (ArLabelPanel *self)
{
  for (GtkWidget *row = gtk_widget_get_first_child (self->list); row; row = gtk_widget_get_next_sibling (row))
    if (GTK_IS_LIST_BOX_ROW (row) && gtk_widget_get_visible (row))
      {
        gtk_widget_grab_focus (row);
        return;
      }
}

static void
search_activate (GtkSearchEntry *entry, ArLabelPanel *self)
{
  focus_first_row (self);
}

static void
search_stop (GtkSearchEntry *entry, ArLabelPanel *self)
{
  gtk_editable_set_text (GTK_EDITABLE (entry), "");
}

static gboolean
search_key (GtkEventControllerKey *c, guint keyval, guint keycode, GdkModifierType state, ArLabelPanel *self)
{
  if (keyval != GDK_KEY_Down && keyval != GDK_KEY_KP_Down)
    return FALSE;
  focus_first_row (self);
  return TRUE;
}

static gboolean
focus_search (GtkWidget *w, GVariant *args, gpointer data)
{
  ArLabelPanel *self = data;
  if (!gtk_widget_is_drawable (self->search))
    return FALSE;
  gtk_widget_grab_focus (self->search);
  return TRUE;
}

void
ar_label_panel_set_all_visible (ArLabelPanel *self, gboolean visible)
{
  for (int k = 0; k < LT_N_CLASSES; k++)
    self->groups[k].visible = visible;
  for (guint i = 0; i < self->organs->len; i++)
    g_array_index (self->organs, Organ, i).visible = visible;
  panel_rebuild (self);
  g_signal_emit (self, panel_signals[SIGNAL_STYLE_CHANGED], 0, -1);
}

gboolean
ar_label_panel_set_search (ArLabelPanel *self, const char *text)
{
  gtk_editable_set_text (GTK_EDITABLE (self->search), text ? text : "");
  /* at once, not after the entry's typing delay */
  search_changed (GTK_SEARCH_ENTRY (self->search), self);
  return gtk_widget_get_mapped (self->search);
}

static void
show_all_clicked (GtkButton *b, ArLabelPanel *self)
{
  ar_label_panel_set_all_visible (self, TRUE);
}

static void
hide_all_clicked (GtkButton *b, ArLabelPanel *self)
{
  ar_label_panel_set_all_visible (self, FALSE);
}

static GtkWidget *
visibility_button (const char *icon, const char *text, const char *tip)
{
  GtkWidget *b = gtk_button_new ();
  GtkWidget *box = gtk_box_new (GTK_ORIENTATION_HORIZONTAL, 4);
  gtk_box_append (GTK_BOX (box), gtk_image_new_from_icon_name (icon));
  gtk_box_append (GTK_BOX (box), gtk_label_new (text));
  gtk_button_set_child (GTK_BUTTON (b), box);
  gtk_widget_add_css_class (b, "flat");
  gtk_widget_add_css_class (b, "caption");
  gtk_widget_set_tooltip_text (b, tip);
  return b;
}

void
panel_filter_init (ArLabelPanel *self, GtkBox *box)
{
  GtkWidget *bar = gtk_box_new (GTK_ORIENTATION_HORIZONTAL, 4);
  gtk_widget_set_margin_start (bar, 8);
  gtk_widget_set_margin_end (bar, 8);
  self->search = gtk_search_entry_new ();
  g_object_set (self->search, "placeholder-text", "Search organs", NULL);  /* no setter before GTK 4.10 */
  gtk_widget_set_tooltip_text (self->search, "Show only the organs and labels whose names contain this (Ctrl+F)");
  gtk_widget_set_hexpand (self->search, TRUE);
  g_signal_connect (self->search, "search-changed", G_CALLBACK (search_changed), self);
  g_signal_connect (self->search, "activate", G_CALLBACK (search_activate), self);
  g_signal_connect (self->search, "stop-search", G_CALLBACK (search_stop), self);
  GtkEventController *keys = gtk_event_controller_key_new ();
  g_signal_connect (keys, "key-pressed", G_CALLBACK (search_key), self);
  gtk_widget_add_controller (self->search, keys);
  gtk_box_append (GTK_BOX (bar), self->search);

  self->show_all = visibility_button ("view-reveal-symbolic", "All", "Show every organ in the 3D views");
  g_signal_connect (self->show_all, "clicked", G_CALLBACK (show_all_clicked), self);
  gtk_box_append (GTK_BOX (bar), self->show_all);
  self->hide_all = visibility_button ("view-conceal-symbolic", "None", "Hide every organ in the 3D views");
  g_signal_connect (self->hide_all, "clicked", G_CALLBACK (hide_all_clicked), self);
  gtk_box_append (GTK_BOX (bar), self->hide_all);
  gtk_box_append (box, bar);

  /* Ctrl+F anywhere in the window */
  GtkEventController *sc = gtk_shortcut_controller_new ();
  gtk_shortcut_controller_set_scope (GTK_SHORTCUT_CONTROLLER (sc), GTK_SHORTCUT_SCOPE_MANAGED);
  gtk_shortcut_controller_add_shortcut (GTK_SHORTCUT_CONTROLLER (sc),
                                        gtk_shortcut_new (gtk_shortcut_trigger_parse_string ("<Control>f"),
                                                          gtk_callback_action_new (focus_search, self, NULL)));
  gtk_widget_add_controller (GTK_WIDGET (self), sc);

  self->no_match = gtk_label_new ("");
  gtk_widget_add_css_class (self->no_match, "dim-label");
  gtk_widget_set_margin_top (self->no_match, 12);
  gtk_widget_set_margin_start (self->no_match, 8);
  gtk_widget_set_margin_end (self->no_match, 8);
  gtk_label_set_wrap (GTK_LABEL (self->no_match), TRUE);
  gtk_widget_set_visible (self->no_match, FALSE);
  gtk_box_append (box, self->no_match);
}

/* After a new input: a search still typed expands the groups with matches. */
void
panel_filter_input_changed (ArLabelPanel *self)
{
  if (self->filter)
    {
      for (int k = 0; k < LT_N_CLASSES; k++)
        self->groups[k].expanded_before = FALSE;
      expand_matches (self);
      panel_apply_filter (self);
    }
}
