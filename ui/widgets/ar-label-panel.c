/* ar-label-panel.c: the organ list (see ar-label-panel.h). */
#include "ar-label-panel.h"

typedef struct {
  int32_t label;
  char *name;
  guint8 rgba[4];
  int64_t n_input, n_result;   /* voxels; n_result < 0: no result */
  gboolean visible, requested;
  double opacity;
  /* widgets of the row (owned by the list box) */
  GtkWidget *volume_label, *check, *scale, *eye;
} Organ;

struct _ArLabelPanel {
  GtkBox parent_instance;
  GtkWidget *list;
  GtkWidget *summary;
  GArray *organs;    /* Organ */
  double ml_in, ml_out;
  gboolean has_result;
  gboolean building;
};

G_DEFINE_FINAL_TYPE (ArLabelPanel, ar_label_panel, GTK_TYPE_BOX)

enum { SIGNAL_STYLE_CHANGED, SIGNAL_REQUEST_CHANGED, N_SIGNALS };
static guint signals[N_SIGNALS];

static void
organ_clear (gpointer p)
{
  g_free (((Organ *) p)->name);
}

static Organ *
find_organ (ArLabelPanel *self, int32_t label)
{
  for (guint i = 0; i < self->organs->len; i++)
    {
      Organ *o = &g_array_index (self->organs, Organ, i);
      if (o->label == label)
        return o;
    }
  return NULL;
}

static char *
format_ml (double ml)
{
  if (ml >= 100.0)
    return g_strdup_printf ("%.0f", ml);
  if (ml >= 10.0)
    return g_strdup_printf ("%.1f", ml);
  return g_strdup_printf ("%.2f", ml);
}

static void
update_volume_text (ArLabelPanel *self, Organ *o)
{
  g_autofree char *in = o->n_input > 0 ? format_ml (o->n_input * self->ml_in) : g_strdup ("—");
  g_autofree char *text = NULL;
  if (self->has_result && o->n_result >= 0)
    {
      g_autofree char *out = o->n_result > 0 ? format_ml (o->n_result * self->ml_out) : g_strdup ("—");
      text = g_strdup_printf ("%s → %s mL", in, out);
    }
  else
    text = g_strdup_printf ("%s mL", in);
  gtk_label_set_text (GTK_LABEL (o->volume_label), text);
  gboolean newly = self->has_result && o->n_input == 0 && o->n_result > 0;
  if (newly)
    gtk_widget_add_css_class (o->volume_label, "accent");
  else
    gtk_widget_remove_css_class (o->volume_label, "accent");
}

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

static int32_t
row_label (GtkWidget *w)
{
  return GPOINTER_TO_INT (g_object_get_data (G_OBJECT (w), "ar-label"));
}

static void
eye_toggled (GtkToggleButton *b, ArLabelPanel *self)
{
  Organ *o = find_organ (self, row_label (GTK_WIDGET (b)));
  if (!o || self->building)
    return;
  o->visible = gtk_toggle_button_get_active (b);
  gtk_button_set_icon_name (GTK_BUTTON (b), o->visible ? "view-reveal-symbolic" : "view-conceal-symbolic");
  gtk_widget_set_sensitive (o->scale, o->visible);
  g_signal_emit (self, signals[SIGNAL_STYLE_CHANGED], 0, o->label);
}

static void
opacity_changed (GtkRange *r, ArLabelPanel *self)
{
  Organ *o = find_organ (self, row_label (GTK_WIDGET (r)));
  if (!o || self->building)
    return;
  o->opacity = gtk_range_get_value (r);
  g_signal_emit (self, signals[SIGNAL_STYLE_CHANGED], 0, o->label);
}

static void
check_toggled (GtkCheckButton *c, ArLabelPanel *self)
{
  Organ *o = find_organ (self, row_label (GTK_WIDGET (c)));
  if (!o || self->building)
    return;
  o->requested = gtk_check_button_get_active (c);
  g_signal_emit (self, signals[SIGNAL_REQUEST_CHANGED], 0);
}

static GtkWidget *
build_row (ArLabelPanel *self, Organ *o)
{
  GtkWidget *grid = gtk_grid_new ();
  gtk_grid_set_column_spacing (GTK_GRID (grid), 8);
  gtk_widget_set_margin_start (grid, 6);
  gtk_widget_set_margin_end (grid, 6);
  gtk_widget_set_margin_top (grid, 4);
  gtk_widget_set_margin_bottom (grid, 4);

  GtkWidget *sw = gtk_drawing_area_new ();
  gtk_drawing_area_set_content_width (GTK_DRAWING_AREA (sw), 16);
  gtk_drawing_area_set_content_height (GTK_DRAWING_AREA (sw), 16);
  gtk_widget_set_valign (sw, GTK_ALIGN_CENTER);
  gtk_drawing_area_set_draw_func (GTK_DRAWING_AREA (sw), swatch_draw, o->rgba, NULL);
  gtk_grid_attach (GTK_GRID (grid), sw, 0, 0, 1, 2);

  GtkWidget *name = gtk_label_new (o->name);
  gtk_label_set_xalign (GTK_LABEL (name), 0);
  gtk_label_set_ellipsize (GTK_LABEL (name), PANGO_ELLIPSIZE_END);
  gtk_widget_set_hexpand (name, TRUE);
  gtk_widget_add_css_class (name, "heading");
  gtk_grid_attach (GTK_GRID (grid), name, 1, 0, 1, 1);

  o->volume_label = gtk_label_new ("");
  gtk_label_set_xalign (GTK_LABEL (o->volume_label), 0);
  gtk_widget_add_css_class (o->volume_label, "caption");
  gtk_widget_add_css_class (o->volume_label, "numeric");
  gtk_grid_attach (GTK_GRID (grid), o->volume_label, 1, 1, 1, 1);

  o->check = gtk_check_button_new_with_label ("complete");
  g_object_set_data (G_OBJECT (o->check), "ar-label", GINT_TO_POINTER (o->label));
  gtk_check_button_set_active (GTK_CHECK_BUTTON (o->check), o->requested);
  gtk_widget_set_sensitive (o->check, o->n_input == 0);
  gtk_widget_set_tooltip_text (o->check, o->n_input == 0
                                           ? "Reconstruct this organ, missing from the input"
                                           : "Present in the input");
  gtk_widget_set_opacity (o->check, o->n_input == 0 ? 1.0 : 0.0);
  gtk_widget_add_css_class (o->check, "caption");
  g_signal_connect (o->check, "toggled", G_CALLBACK (check_toggled), self);
  gtk_grid_attach (GTK_GRID (grid), o->check, 2, 0, 1, 1);

  o->eye = gtk_toggle_button_new ();
  gtk_button_set_icon_name (GTK_BUTTON (o->eye), "view-reveal-symbolic");
  gtk_toggle_button_set_active (GTK_TOGGLE_BUTTON (o->eye), o->visible);
  gtk_widget_add_css_class (o->eye, "flat");
  gtk_widget_set_tooltip_text (o->eye, "Show or hide");
  gtk_widget_set_valign (o->eye, GTK_ALIGN_CENTER);
  g_object_set_data (G_OBJECT (o->eye), "ar-label", GINT_TO_POINTER (o->label));
  g_signal_connect (o->eye, "toggled", G_CALLBACK (eye_toggled), self);
  gtk_grid_attach (GTK_GRID (grid), o->eye, 3, 0, 1, 2);

  o->scale = gtk_scale_new_with_range (GTK_ORIENTATION_HORIZONTAL, 0.05, 1.0, 0.05);
  gtk_range_set_value (GTK_RANGE (o->scale), o->opacity);
  gtk_scale_set_draw_value (GTK_SCALE (o->scale), FALSE);
  gtk_widget_set_size_request (o->scale, 90, -1);
  gtk_widget_set_tooltip_text (o->scale, "Opacity");
  g_object_set_data (G_OBJECT (o->scale), "ar-label", GINT_TO_POINTER (o->label));
  g_signal_connect (o->scale, "value-changed", G_CALLBACK (opacity_changed), self);
  gtk_grid_attach (GTK_GRID (grid), o->scale, 2, 1, 1, 1);

  update_volume_text (self, o);
  return grid;
}

static void
rebuild (ArLabelPanel *self)
{
  self->building = TRUE;
  GtkWidget *child;
  while ((child = gtk_widget_get_first_child (self->list)))
    gtk_list_box_remove (GTK_LIST_BOX (self->list), child);
  for (guint i = 0; i < self->organs->len; i++)
    gtk_list_box_append (GTK_LIST_BOX (self->list),
                         build_row (self, &g_array_index (self->organs, Organ, i)));
  self->building = FALSE;
}

void
ar_label_panel_set_input (ArLabelPanel *self, const LabelTable *table, const int64_t *hist,
                          int32_t n_hist, double ml_per_voxel, gboolean all_table_entries)
{
  g_array_set_size (self->organs, 0);
  self->ml_in = ml_per_voxel;
  self->has_result = FALSE;
  g_autoptr (GHashTable) seen = g_hash_table_new (g_direct_hash, g_direct_equal);
  GArray *ids = g_array_new (FALSE, FALSE, sizeof (int32_t));
  if (all_table_entries)
    for (guint i = 0; i < table->entries->len; i++)
      {
        int32_t id = g_array_index (table->entries, LabelEntry, i).id;
        if (id != 0)
          g_array_append_val (ids, id);
      }
  for (int32_t l = 1; l < n_hist; l++)
    if (hist[l] > 0)
      g_array_append_val (ids, l);
  int present = 0;
  for (guint i = 0; i < ids->len; i++)
    {
      int32_t l = g_array_index (ids, int32_t, i);
      if (g_hash_table_contains (seen, GINT_TO_POINTER (l)))
        continue;
      g_hash_table_add (seen, GINT_TO_POINTER (l));
      char buf[64];
      Organ o = { 0 };
      o.label = l;
      o.name = g_strdup (lt_table_get_name (table, l, buf, sizeof buf));
      lt_table_get_color (table, l, o.rgba);
      o.n_input = l < n_hist ? hist[l] : 0;
      o.n_result = -1;
      o.visible = TRUE;
      o.opacity = 1.0;
      o.requested = o.n_input == 0;
      present += o.n_input > 0;
      g_array_append_val (self->organs, o);
    }
  g_array_unref (ids);
  rebuild (self);
  g_autofree char *s = g_strdup_printf ("%d organs in the input, %u listed", present, self->organs->len);
  gtk_label_set_text (GTK_LABEL (self->summary), s);
}

void
ar_label_panel_set_result (ArLabelPanel *self, const int64_t *hist, int32_t n_hist,
                           double ml_per_voxel)
{
  self->has_result = hist != NULL;
  self->ml_out = ml_per_voxel;
  for (guint i = 0; i < self->organs->len; i++)
    {
      Organ *o = &g_array_index (self->organs, Organ, i);
      o->n_result = hist ? (o->label < n_hist ? hist[o->label] : 0) : -1;
      update_volume_text (self, o);
    }
}

void
ar_label_panel_get_style (ArLabelPanel *self, int32_t label, gboolean completed_view,
                          ArLabelStyle *style)
{
  Organ *o = find_organ (self, label);
  if (!o)
    {
      *style = (ArLabelStyle) { { 0.7f, 0.7f, 0.7f, 1.f }, TRUE, FALSE };
      return;
    }
  for (int c = 0; c < 3; c++)
    style->rgba[c] = o->rgba[c] / 255.f;
  style->rgba[3] = (float) o->opacity;
  style->visible = o->visible;
  style->highlight = completed_view && self->has_result && o->n_input == 0 && o->n_result > 0;
}

GArray *
ar_label_panel_dup_requested (ArLabelPanel *self)
{
  GArray *a = g_array_new (FALSE, FALSE, sizeof (int32_t));
  for (guint i = 0; i < self->organs->len; i++)
    {
      Organ *o = &g_array_index (self->organs, Organ, i);
      if (o->n_input == 0 && o->requested)
        g_array_append_val (a, o->label);
    }
  return a;
}

GArray *
ar_label_panel_dup_new_labels (ArLabelPanel *self)
{
  GArray *a = g_array_new (FALSE, FALSE, sizeof (int32_t));
  for (guint i = 0; self->has_result && i < self->organs->len; i++)
    {
      Organ *o = &g_array_index (self->organs, Organ, i);
      if (o->n_input == 0 && o->n_result > 0)
        g_array_append_val (a, o->label);
    }
  return a;
}

const char *
ar_label_panel_get_name (ArLabelPanel *self, int32_t label)
{
  Organ *o = find_organ (self, label);
  return o ? o->name : "";
}

void
ar_label_panel_get_color (ArLabelPanel *self, int32_t label, guint8 rgba[4])
{
  Organ *o = find_organ (self, label);
  if (o)
    memcpy (rgba, o->rgba, 4);
  else
    rgba[0] = rgba[1] = rgba[2] = rgba[3] = 180;
}

void
ar_label_panel_set_opacity (ArLabelPanel *self, int32_t label, double opacity)
{
  Organ *o = find_organ (self, label);
  if (!o)
    return;
  o->opacity = CLAMP (opacity, 0.05, 1.0);
  self->building = TRUE;
  gtk_range_set_value (GTK_RANGE (o->scale), o->opacity);
  self->building = FALSE;
}

gboolean
ar_label_panel_set_requested (ArLabelPanel *self, int32_t label, gboolean requested)
{
  Organ *o = find_organ (self, label);
  if (!o || !o->check || !gtk_widget_get_sensitive (o->check))
    return FALSE;
  /* as if clicked: "toggled" updates the organ and emits request-changed */
  gtk_check_button_set_active (GTK_CHECK_BUTTON (o->check), requested);
  return TRUE;
}

static void
ar_label_panel_finalize (GObject *object)
{
  ArLabelPanel *self = AR_LABEL_PANEL (object);
  g_array_unref (self->organs);
  G_OBJECT_CLASS (ar_label_panel_parent_class)->finalize (object);
}

static void
ar_label_panel_class_init (ArLabelPanelClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = ar_label_panel_finalize;
  signals[SIGNAL_STYLE_CHANGED] =
    g_signal_new ("style-changed", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL,
                  NULL, G_TYPE_NONE, 1, G_TYPE_INT);
  signals[SIGNAL_REQUEST_CHANGED] =
    g_signal_new ("request-changed", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL,
                  NULL, G_TYPE_NONE, 0);
}

static void
ar_label_panel_init (ArLabelPanel *self)
{
  self->organs = g_array_new (FALSE, TRUE, sizeof (Organ));
  g_array_set_clear_func (self->organs, organ_clear);
  gtk_orientable_set_orientation (GTK_ORIENTABLE (self), GTK_ORIENTATION_VERTICAL);
  gtk_box_set_spacing (GTK_BOX (self), 6);
  GtkWidget *title = gtk_label_new ("Organs");
  gtk_label_set_xalign (GTK_LABEL (title), 0);
  gtk_widget_add_css_class (title, "title-4");
  gtk_widget_set_margin_start (title, 8);
  gtk_widget_set_margin_top (title, 8);
  gtk_box_append (GTK_BOX (self), title);
  self->summary = gtk_label_new ("");
  gtk_label_set_xalign (GTK_LABEL (self->summary), 0);
  gtk_widget_add_css_class (self->summary, "dim-label");
  gtk_widget_add_css_class (self->summary, "caption");
  gtk_widget_set_margin_start (self->summary, 8);
  gtk_box_append (GTK_BOX (self), self->summary);
  GtkWidget *scroll = gtk_scrolled_window_new ();
  gtk_scrolled_window_set_policy (GTK_SCROLLED_WINDOW (scroll), GTK_POLICY_NEVER, GTK_POLICY_AUTOMATIC);
  gtk_widget_set_vexpand (scroll, TRUE);
  self->list = gtk_list_box_new ();
  gtk_list_box_set_selection_mode (GTK_LIST_BOX (self->list), GTK_SELECTION_NONE);
  gtk_widget_add_css_class (self->list, "navigation-sidebar");
  gtk_scrolled_window_set_child (GTK_SCROLLED_WINDOW (scroll), self->list);
  gtk_box_append (GTK_BOX (self), scroll);
}

GtkWidget *
ar_label_panel_new (void)
{
  return g_object_new (AR_TYPE_LABEL_PANEL, NULL);
}
