/* ar-label-panel-list.c: the list of the organ panel: rebuilding its rows from the
 * tables, expanding and collapsing groups, and the keys on a focused row. */
#include "ar-label-panel-private.h"

#include <string.h>

#include "scene.h"

/* ------------------------------------------------------------------------ */
/* The list */

static GtkListBoxRow *
row_ancestor (GtkWidget *w)
{
  while (w && !GTK_IS_LIST_BOX_ROW (w))
    w = gtk_widget_get_parent (w);
  return w ? GTK_LIST_BOX_ROW (w) : NULL;
}

void
panel_rebuild (ArLabelPanel *self)
{
  /* keep the keyboard focus on the same row */
  GtkRoot *root = gtk_widget_get_root (self->list);
  GtkWidget *focus = root ? gtk_root_get_focus (root) : NULL;
  GtkListBoxRow *focus_row = focus && gtk_widget_is_ancestor (focus, self->list) ? row_ancestor (focus) : NULL;
  RowKind focus_kind = focus_row ? panel_tag_kind (focus_row) : 0;
  int32_t focus_key = focus_row ? panel_tag_key (focus_row) : 0;

  self->building = TRUE;
  GtkWidget *child;
  while ((child = gtk_widget_get_first_child (self->list)))
    gtk_list_box_remove (GTK_LIST_BOX (self->list), child);
  for (guint i = 0; i < self->organs->len; i++)
    {
      Organ *o = &g_array_index (self->organs, Organ, i);
      o->row = o->volume_label = o->eye = o->scale = o->accept = o->reject = NULL;
    }
  for (int k = 0; k < LT_N_CLASSES; k++)
    {
      Group *g = &self->groups[k];
      g->row = g->expander = g->check = g->volume_label = g->eye = g->scale = NULL;
    }

  if (!self->grouped)
    {
      for (guint i = 0; i < self->organs->len; i++)
        {
          Organ *o = &g_array_index (self->organs, Organ, i);
          if (panel_organ_listed (self, o))
            gtk_list_box_append (GTK_LIST_BOX (self->list), panel_build_flat_row (self, o));
        }
    }
  else
    {
      int64_t in, out;
      int n_other;
      panel_group_counts (self, 0, &in, &out, &n_other);
      gboolean any_group = n_other > 0;
      for (int k = 0; k < LT_N_CLASSES; k++)
        {
          self->groups[k].merged_label = panel_merged_label_of (self, k);
          any_group |= k > 0 && self->groups[k].merged_label < 0;
        }
      for (int i = 1; i <= LT_N_CLASSES; i++)
        {
          int k = i % LT_N_CLASSES;   /* 1..12, then the other labels */
          if (k == 0 && n_other == 0)
            continue;
          Group *g = &self->groups[k];
          gtk_list_box_append (GTK_LIST_BOX (self->list), panel_build_group_row (self, k, any_group));
          if (g->merged_label >= 0)
            {
              Organ *o = g->merged_label > 0 ? panel_find_organ (self, g->merged_label) : NULL;
              if (o)
                o->volume_label = g->volume_label;
              continue;
            }
          for (guint j = 0; j < self->organs->len; j++)
            {
              Organ *o = &g_array_index (self->organs, Organ, j);
              if (o->klass == k && panel_organ_listed (self, o))
                gtk_list_box_append (GTK_LIST_BOX (self->list), panel_build_label_row (self, o));
            }
        }
    }
  self->building = FALSE;
  panel_apply_filter (self);

  if (focus_row)
    {
      GtkWidget *target = NULL;
      if (focus_kind == ROW_GROUP)
        target = self->groups[focus_key].row;
      else
        {
          Organ *o = panel_find_organ (self, focus_key);
          target = o ? (o->row ? o->row : self->groups[o->klass].row) : NULL;
        }
      if (target && gtk_widget_get_visible (target))
        gtk_widget_grab_focus (target);
    }
}

gboolean
ar_label_panel_set_expanded (ArLabelPanel *self, int32_t klass, gboolean expanded)
{
  if (klass < 0 || klass >= LT_N_CLASSES)
    return FALSE;
  Group *g = &self->groups[klass];
  if (!g->row || g->merged_label >= 0)
    return FALSE;
  g->expanded = expanded;
  gtk_button_set_icon_name (GTK_BUTTON (g->expander), expanded ? "pan-down-symbolic" : "pan-end-symbolic");
  gtk_accessible_update_state (GTK_ACCESSIBLE (g->row), GTK_ACCESSIBLE_STATE_EXPANDED, expanded, -1);
  panel_apply_filter (self);  /* its labels' rows: those of the search, if any */
  return TRUE;
}

void
panel_expander_clicked (GtkButton *b, ArLabelPanel *self)
{
  int32_t k = panel_tag_key (b);
  ar_label_panel_set_expanded (self, k, !self->groups[k].expanded);
}

void
panel_row_activated (GtkListBox *box, GtkListBoxRow *row, ArLabelPanel *self)
{
  if (panel_tag_kind (row) != ROW_GROUP)
    return;
  int32_t k = panel_tag_key (row);
  ar_label_panel_set_expanded (self, k, !self->groups[k].expanded);
}

/* Keys on a focused row (see the header); other keys, and keys on the row's controls,
 * go on as usual. */
gboolean
panel_key_pressed (GtkEventControllerKey *c, guint keyval, guint keycode, GdkModifierType state,
                   ArLabelPanel *self)
{
  if (state & (GDK_CONTROL_MASK | GDK_ALT_MASK | GDK_SUPER_MASK))
    return FALSE;
  GtkRoot *root = gtk_widget_get_root (self->list);
  GtkWidget *focus = root ? gtk_root_get_focus (root) : NULL;
  if (!focus || !GTK_IS_LIST_BOX_ROW (focus))
    return FALSE;
  RowKind kind = panel_tag_kind (focus);
  int32_t key = panel_tag_key (focus);
  Group *g = kind == ROW_GROUP ? &self->groups[key] : NULL;
  gboolean is_group = g && g->merged_label < 0;
  switch (keyval)
    {
    case GDK_KEY_Right: case GDK_KEY_KP_Right:
      if (is_group && !g->expanded)
        return ar_label_panel_set_expanded (self, key, TRUE);
      return FALSE;
    case GDK_KEY_plus: case GDK_KEY_KP_Add:
      return is_group && ar_label_panel_set_expanded (self, key, TRUE);
    case GDK_KEY_Left: case GDK_KEY_KP_Left: case GDK_KEY_minus: case GDK_KEY_KP_Subtract:
      if (is_group && g->expanded)
        return ar_label_panel_set_expanded (self, key, FALSE);
      if (kind == ROW_LABEL && keyval != GDK_KEY_minus && keyval != GDK_KEY_KP_Subtract)
        {
          Organ *o = panel_find_organ (self, key);
          if (o && self->groups[o->klass].row)
            gtk_widget_grab_focus (self->groups[o->klass].row);
          return TRUE;
        }
      return FALSE;
    case GDK_KEY_a: case GDK_KEY_A: case GDK_KEY_r: case GDK_KEY_R: case GDK_KEY_Delete: case GDK_KEY_KP_Delete:
      {
        Organ *o = panel_find_organ (self, g ? g->merged_label : key);
        if (!o || o->proposal == AR_PROPOSAL_NONE)
          return FALSE;
        panel_decide (self, o, keyval == GDK_KEY_a || keyval == GDK_KEY_A);
        return TRUE;
      }
    case GDK_KEY_space: case GDK_KEY_KP_Space:
      if (g && g->check && gtk_widget_get_sensitive (g->check))
        gtk_check_button_set_active (GTK_CHECK_BUTTON (g->check), !g->requested);
      else if (g && g->merged_label < 0)
        ar_label_panel_set_expanded (self, key, !g->expanded);
      else
        {
          GtkWidget *eye = g ? g->eye : panel_find_organ (self, key) ? panel_find_organ (self, key)->eye : NULL;
          if (eye)
            gtk_toggle_button_set_active (GTK_TOGGLE_BUTTON (eye),
                                          !gtk_toggle_button_get_active (GTK_TOGGLE_BUTTON (eye)));
        }
      return TRUE;
    default:
      return FALSE;
    }
}
