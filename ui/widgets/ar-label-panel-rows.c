/* ar-label-panel-rows.c: the rows of the organ panel: colour swatch, visibility eye,
 * opacity scale and "complete" tick, and their handlers; the group, label and flat rows. */
#include "ar-label-panel-private.h"

#include <string.h>

#include "scene.h"

/* ------------------------------------------------------------------------ */
/* Controls */

static void
swatch_draw (GtkDrawingArea *area, cairo_t *cr, int w, int h, gpointer data)
{
  const guint8 *rgba = data;
  double r = MIN (w, h) / 2.0 - 1;
  cairo_arc (cr, w / 2.0, h / 2.0, r, 0, 2 * G_PI);
  cairo_set_source_rgb (cr, rgba[0] / 255.0, rgba[1] / 255.0, rgba[2] / 255.0);
  cairo_fill_preserve (cr);
  cairo_set_source_rgba (cr, 0, 0, 0, 0.35);
  cairo_set_line_width (cr, 1);
  cairo_stroke (cr);
}

static GtkWidget *
swatch_new (const guint8 rgba[4], int size)
{
  GtkWidget *sw = gtk_drawing_area_new ();
  gtk_drawing_area_set_content_width (GTK_DRAWING_AREA (sw), size);
  gtk_drawing_area_set_content_height (GTK_DRAWING_AREA (sw), size);
  gtk_widget_set_valign (sw, GTK_ALIGN_CENTER);
  /* the colour is copied: rows outlive nothing, but the organ array may move */
  guint8 *c = g_memdup2 (rgba, 4);
  gtk_drawing_area_set_draw_func (GTK_DRAWING_AREA (sw), swatch_draw, c, g_free);
  return sw;
}

/* Row kind and key (class or label) stored on a row and its controls. */
static void
tag (GtkWidget *w, RowKind kind, int32_t key)
{
  g_object_set_data (G_OBJECT (w), "ar-row", GINT_TO_POINTER (kind));
  g_object_set_data (G_OBJECT (w), "ar-key", GINT_TO_POINTER (key));
}

RowKind
panel_tag_kind (gpointer w)
{
  return GPOINTER_TO_INT (g_object_get_data (G_OBJECT (w), "ar-row"));
}

int32_t
panel_tag_key (gpointer w)
{
  return GPOINTER_TO_INT (g_object_get_data (G_OBJECT (w), "ar-key"));
}

static void
set_eye_icon (GtkWidget *eye, gboolean visible)
{
  gtk_button_set_icon_name (GTK_BUTTON (eye), visible ? "view-reveal-symbolic" : "view-conceal-symbolic");
}

static void
eye_toggled (GtkToggleButton *b, ArLabelPanel *self)
{
  if (self->building)
    return;
  gboolean on = gtk_toggle_button_get_active (b);
  set_eye_icon (GTK_WIDGET (b), on);
  int32_t key = panel_tag_key (b);
  if (panel_tag_kind (b) == ROW_GROUP)
    {
      Group *g = &self->groups[key];
      g->visible = on;
      if (g->scale)
        gtk_widget_set_sensitive (g->scale, on);
      Organ *o = g->merged_label > 0 ? panel_find_organ (self, g->merged_label) : NULL;
      if (o)
        o->visible = on;
      g_signal_emit (self, panel_signals[SIGNAL_STYLE_CHANGED], 0, -1);
      return;
    }
  Organ *o = panel_find_organ (self, key);
  if (!o)
    return;
  o->visible = on;
  if (o->scale)
    gtk_widget_set_sensitive (o->scale, on);
  g_signal_emit (self, panel_signals[SIGNAL_STYLE_CHANGED], 0, o->label);
}

static void
opacity_changed (GtkRange *r, ArLabelPanel *self)
{
  if (self->building)
    return;
  double v = gtk_range_get_value (r);
  int32_t key = panel_tag_key (r);
  if (panel_tag_kind (r) == ROW_GROUP)
    {
      /* the group's slider sets every label of the class */
      self->groups[key].opacity = v;
      for (guint i = 0; i < self->organs->len; i++)
        {
          Organ *o = &g_array_index (self->organs, Organ, i);
          if (o->klass == key)
            o->opacity = v;
        }
      g_signal_emit (self, panel_signals[SIGNAL_STYLE_CHANGED], 0, -1);
      return;
    }
  Organ *o = panel_find_organ (self, key);
  if (!o)
    return;
  o->opacity = v;
  g_signal_emit (self, panel_signals[SIGNAL_STYLE_CHANGED], 0, o->label);
}

static void
check_toggled (GtkCheckButton *c, ArLabelPanel *self)
{
  if (self->building)
    return;
  self->groups[panel_tag_key (c)].requested = gtk_check_button_get_active (c);
  g_signal_emit (self, panel_signals[SIGNAL_REQUEST_CHANGED], 0);
}

static GtkWidget *
eye_new (RowKind kind, int32_t key, gboolean visible, ArLabelPanel *self)
{
  GtkWidget *eye = gtk_toggle_button_new ();
  set_eye_icon (eye, visible);
  gtk_toggle_button_set_active (GTK_TOGGLE_BUTTON (eye), visible);
  gtk_widget_add_css_class (eye, "flat");
  gtk_widget_set_tooltip_text (eye, "Show or hide");
  gtk_widget_set_valign (eye, GTK_ALIGN_CENTER);
  tag (eye, kind, key);
  g_signal_connect (eye, "toggled", G_CALLBACK (eye_toggled), self);
  return eye;
}

static GtkWidget *
scale_new (RowKind kind, int32_t key, double opacity, gboolean sensitive, ArLabelPanel *self)
{
  GtkWidget *scale = gtk_scale_new_with_range (GTK_ORIENTATION_HORIZONTAL, 0.05, 1.0, 0.05);
  gtk_range_set_value (GTK_RANGE (scale), opacity);
  gtk_scale_set_draw_value (GTK_SCALE (scale), FALSE);
  gtk_widget_set_size_request (scale, 90, -1);
  gtk_widget_set_tooltip_text (scale, "Opacity");
  gtk_widget_set_sensitive (scale, sensitive);
  tag (scale, kind, key);
  g_signal_connect (scale, "value-changed", G_CALLBACK (opacity_changed), self);
  return scale;
}

static const char *const decision_css[] = { "proposal-pending", "proposal-accepted", "proposal-rejected" };

void
panel_update_proposal (ArLabelPanel *self, Organ *o)
{
  if (o->accept)
    {
      gboolean on = o->proposal != AR_PROPOSAL_NONE;
      gtk_widget_set_visible (gtk_widget_get_parent (o->accept), on);
      if (o->proposal == AR_PROPOSAL_ACCEPTED)
        gtk_widget_add_css_class (o->accept, "suggested-action");
      else
        gtk_widget_remove_css_class (o->accept, "suggested-action");
      if (o->proposal == AR_PROPOSAL_REJECTED)
        gtk_widget_add_css_class (o->reject, "destructive-action");
      else
        gtk_widget_remove_css_class (o->reject, "destructive-action");
      gtk_widget_set_tooltip_text (o->accept, o->proposal == AR_PROPOSAL_ACCEPTED
                                                ? "Accepted: in the saved result (A again: undecided)"
                                                : "Accept: keep this organ in the result (A)");
      gtk_widget_set_tooltip_text (o->reject, o->proposal == AR_PROPOSAL_REJECTED
                                                ? "Rejected: left out of the result (R again: undecided)"
                                                : "Reject: leave this organ out of the result (R)");
    }
  GtkWidget *row = o->row ? o->row : self->groups[o->klass].merged_label == o->label ? self->groups[o->klass].row : NULL;
  for (guint i = 0; row && i < G_N_ELEMENTS (decision_css); i++)
    gtk_widget_remove_css_class (row, decision_css[i]);
  if (row && o->proposal != AR_PROPOSAL_NONE)
    gtk_widget_add_css_class (row, decision_css[o->proposal - AR_PROPOSAL_PENDING]);
  panel_update_organ_text (self, o);
  if (self->grouped && self->groups[o->klass].merged_label == o->label)
    panel_update_group_text (self, o->klass);
}

void
panel_decide (ArLabelPanel *self, Organ *o, gboolean accept)
{
  if (o->proposal == AR_PROPOSAL_NONE)
    return;
  ArProposal want = accept ? AR_PROPOSAL_ACCEPTED : AR_PROPOSAL_REJECTED;
  if (o->proposal == want)
    want = AR_PROPOSAL_PENDING;
  g_signal_emit (self, panel_signals[SIGNAL_PROPOSAL_CHANGED], 0, o->label, (int) want);
}

static void
decision_clicked (GtkButton *b, ArLabelPanel *self)
{
  Organ *o = panel_find_organ (self, panel_tag_key (b));
  if (o)
    panel_decide (self, o, GTK_WIDGET (b) == o->accept);
}

/* The accept / reject pair of an organ new in the result (shown while it is a proposal). */
static GtkWidget *
decision_new (ArLabelPanel *self, Organ *o)
{
  GtkWidget *box = gtk_box_new (GTK_ORIENTATION_HORIZONTAL, 2);
  gtk_widget_set_valign (box, GTK_ALIGN_CENTER);
  o->accept = gtk_button_new_from_icon_name ("object-select-symbolic");
  o->reject = gtk_button_new_from_icon_name ("window-close-symbolic");
  GtkWidget *b[2] = { o->accept, o->reject };
  for (int i = 0; i < 2; i++)
    {
      gtk_widget_add_css_class (b[i], "flat");
      gtk_widget_add_css_class (b[i], "circular");
      gtk_widget_set_focusable (b[i], FALSE);
      tag (b[i], ROW_LABEL, o->label);
      g_signal_connect (b[i], "clicked", G_CALLBACK (decision_clicked), self);
      gtk_box_append (GTK_BOX (box), b[i]);
    }
  gtk_accessible_update_property (GTK_ACCESSIBLE (o->accept), GTK_ACCESSIBLE_PROPERTY_LABEL, "Accept", -1);
  gtk_accessible_update_property (GTK_ACCESSIBLE (o->reject), GTK_ACCESSIBLE_PROPERTY_LABEL, "Reject", -1);
  return box;
}

static gboolean
is_new (ArLabelPanel *self, const Organ *o)
{
  return o && self->has_result && o->n_input == 0 && o->n_result > 0;
}

static GtkWidget *
row_new (GtkWidget *child, RowKind kind, int32_t key)
{
  GtkWidget *row = gtk_list_box_row_new ();
  gtk_list_box_row_set_child (GTK_LIST_BOX_ROW (row), child);
  tag (row, kind, key);
  return row;
}

static GtkWidget *
grid_new (int indent)
{
  GtkWidget *grid = gtk_grid_new ();
  gtk_grid_set_column_spacing (GTK_GRID (grid), 8);
  gtk_widget_set_margin_start (grid, 6 + indent);
  gtk_widget_set_margin_end (grid, 6);
  gtk_widget_set_margin_top (grid, 4);
  gtk_widget_set_margin_bottom (grid, 4);
  return grid;
}

static GtkWidget *
name_label_new (const char *text, const char *css)
{
  GtkWidget *name = gtk_label_new (text);
  gtk_label_set_xalign (GTK_LABEL (name), 0);
  gtk_label_set_ellipsize (GTK_LABEL (name), PANGO_ELLIPSIZE_END);
  gtk_widget_set_hexpand (name, TRUE);
  gtk_widget_set_tooltip_text (name, text);
  if (css)
    gtk_widget_add_css_class (name, css);
  return name;
}

static GtkWidget *
caption_new (void)
{
  GtkWidget *l = gtk_label_new ("");
  gtk_label_set_xalign (GTK_LABEL (l), 0);
  gtk_widget_add_css_class (l, "caption");
  gtk_widget_add_css_class (l, "numeric");
  return l;
}

/* The row of class @k: a group (expander, class name, count and volume of its labels) or,
 * with g->merged_label >= 0, the class and its one label as one row.  @reserve keeps an
 * expander's width free on merged rows so names line up with the groups'. */
GtkWidget *
panel_build_group_row (ArLabelPanel *self, int32_t k, gboolean reserve)
{
  Group *g = &self->groups[k];
  Organ *o = g->merged_label > 0 ? panel_find_organ (self, g->merged_label) : NULL;
  GtkWidget *grid = grid_new (0);
  int col = 0;
  if (g->merged_label < 0)
    {
      g->expander = gtk_button_new_from_icon_name (g->expanded ? "pan-down-symbolic" : "pan-end-symbolic");
      gtk_widget_add_css_class (g->expander, "flat");
      gtk_widget_set_focusable (g->expander, FALSE);
      gtk_widget_set_valign (g->expander, GTK_ALIGN_CENTER);
      gtk_widget_set_tooltip_text (g->expander, "Show or hide the labels of this organ (+ / −)");
      tag (g->expander, ROW_GROUP, k);
      g_signal_connect (g->expander, "clicked", G_CALLBACK (panel_expander_clicked), self);
      gtk_grid_attach (GTK_GRID (grid), g->expander, col++, 0, 1, 2);
    }
  else if (reserve)
    {
      GtkWidget *space = gtk_box_new (GTK_ORIENTATION_HORIZONTAL, 0);
      gtk_widget_set_size_request (space, 30, -1);
      gtk_grid_attach (GTK_GRID (grid), space, col++, 0, 1, 2);
    }
  gtk_grid_attach (GTK_GRID (grid), swatch_new (o ? o->rgba : g->rgba, 16), col++, 0, 1, 2);
  gtk_grid_attach (GTK_GRID (grid), name_label_new (o ? o->name : g->name, "heading"), col, 0, 1, 1);
  g->volume_label = caption_new ();
  gtk_grid_attach (GTK_GRID (grid), g->volume_label, col++, 1, 1, 1);

  gboolean can = panel_group_completable (self, k);
  g->check = gtk_check_button_new_with_label ("complete");
  gtk_check_button_set_active (GTK_CHECK_BUTTON (g->check), g->requested);
  gtk_widget_set_sensitive (g->check, can);
  gtk_widget_set_opacity (g->check, can ? 1.0 : 0.0);
  gtk_widget_set_visible (g->check, k != 0);
  const char *tip = !can ? "Present in the input"
                    : panel_group_unlabelled (self, k) ? "Not labelled in this file's label scheme, so not ticked at "
                                                         "first: tick to reconstruct it anyway"
                    : "Reconstruct this organ, missing from the input";
  gtk_widget_set_tooltip_text (g->check, tip);
  gtk_widget_add_css_class (g->check, "caption");
  tag (g->check, ROW_GROUP, k);
  g_signal_connect (g->check, "toggled", G_CALLBACK (check_toggled), self);
  gtk_grid_attach (GTK_GRID (grid), g->check, col, 0, 1, 1);

  gboolean visible = o ? o->visible && g->visible : g->visible;
  g->scale = scale_new (ROW_GROUP, k, o ? o->opacity : g->opacity, visible, self);
  gtk_grid_attach (GTK_GRID (grid), g->scale, col++, 1, 1, 1);
  if (is_new (self, o))
    gtk_grid_attach (GTK_GRID (grid), decision_new (self, o), col++, 0, 1, 2);
  else if (o)
    o->accept = o->reject = NULL;
  g->eye = eye_new (ROW_GROUP, k, visible, self);
  gtk_grid_attach (GTK_GRID (grid), g->eye, col++, 0, 1, 2);

  g->row = row_new (grid, ROW_GROUP, k);
  if (g->merged_label < 0)
    gtk_accessible_update_state (GTK_ACCESSIBLE (g->row), GTK_ACCESSIBLE_STATE_EXPANDED, g->expanded, -1);
  panel_update_group_text (self, k);
  if (o && o->accept)
    panel_update_proposal (self, o);
  return g->row;
}

/* A label's row inside its group: colour, name, volume, visibility. */
GtkWidget *
panel_build_label_row (ArLabelPanel *self, Organ *o)
{
  GtkWidget *grid = grid_new (44);
  gtk_grid_attach (GTK_GRID (grid), swatch_new (o->rgba, 12), 0, 0, 1, 1);
  gtk_grid_attach (GTK_GRID (grid), name_label_new (o->name, NULL), 1, 0, 1, 1);
  o->volume_label = caption_new ();
  gtk_label_set_xalign (GTK_LABEL (o->volume_label), 1);
  gtk_grid_attach (GTK_GRID (grid), o->volume_label, 2, 0, 1, 1);
  o->accept = o->reject = NULL;
  if (is_new (self, o))
    gtk_grid_attach (GTK_GRID (grid), decision_new (self, o), 3, 0, 1, 1);
  o->eye = eye_new (ROW_LABEL, o->label, o->visible, self);
  gtk_grid_attach (GTK_GRID (grid), o->eye, 4, 0, 1, 1);
  o->scale = NULL;
  o->row = row_new (grid, ROW_LABEL, o->label);
  gtk_widget_set_visible (o->row, self->groups[o->klass].expanded);
  panel_update_proposal (self, o);
  return o->row;
}

/* A label of a file whose scheme is unknown: as an organ row, without "complete". */
GtkWidget *
panel_build_flat_row (ArLabelPanel *self, Organ *o)
{
  GtkWidget *grid = grid_new (0);
  gtk_grid_attach (GTK_GRID (grid), swatch_new (o->rgba, 16), 0, 0, 1, 2);
  gtk_grid_attach (GTK_GRID (grid), name_label_new (o->name, "heading"), 1, 0, 1, 1);
  o->volume_label = caption_new ();
  gtk_grid_attach (GTK_GRID (grid), o->volume_label, 1, 1, 1, 1);
  o->scale = scale_new (ROW_FLAT, o->label, o->opacity, o->visible, self);
  gtk_grid_attach (GTK_GRID (grid), o->scale, 2, 1, 1, 1);
  o->eye = eye_new (ROW_FLAT, o->label, o->visible, self);
  gtk_grid_attach (GTK_GRID (grid), o->eye, 3, 0, 1, 2);
  o->accept = o->reject = NULL;
  o->row = row_new (grid, ROW_FLAT, o->label);
  panel_update_organ_text (self, o);
  return o->row;
}
