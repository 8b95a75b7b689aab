/* ar-label-panel.c: the organ list (see ar-label-panel.h).
 *
 * The state lives in two tables, Organ (one per source label) and Group (one per
 * 12-class organ, [0] for the other labels); the rows are rebuilt from them when the
 * input or the shown result changes, and only shown or hidden when a group is expanded
 * or collapsed (so the focus stays where it is). */
#include "ar-label-panel.h"

#include <string.h>

#include "scene.h"

typedef struct {
  int32_t label;
  char *name;
  guint8 rgba[4];
  int32_t klass;                /* 1..12, 0: another label */
  int64_t n_input, n_result;    /* voxels; n_result < 0: no result */
  gboolean visible;
  double opacity;
  /* widgets of its own row (owned by the list box), NULL when it has none */
  GtkWidget *row, *volume_label, *eye, *scale;
} Organ;

typedef struct {
  const char *name;             /* the class's name, "Other labels" for [0] */
  guint8 rgba[4];
  int64_t n_input;              /* voxels of the class's labels in the input */
  gboolean requested;           /* ticked for completion */
  gboolean expanded, visible;
  double opacity;
  int32_t merged_label;         /* shown as one row with this label (-1: none; 0: the class alone) */
  /* widgets of its row, NULL when it has none */
  GtkWidget *row, *expander, *check, *volume_label, *eye, *scale;
} Group;

/* What a row of the list stands for (GObject data "ar-row" on the GtkListBoxRow, and on
 * each of its controls). */
typedef enum { ROW_GROUP = 1, ROW_LABEL, ROW_FLAT } RowKind;

struct _ArLabelPanel {
  GtkBox parent_instance;
  GtkWidget *list, *summary, *note, *scheme_box, *scheme_dropdown;
  GtkStringList *scheme_items;
  GArray *organs;               /* Organ, sorted by label */
  GHashTable *index;            /* label -> index in organs + 1 */
  Group groups[LT_N_CLASSES];
  gboolean grouped;             /* a known scheme: labels under their classes */
  const LabelScheme *scheme;
  gboolean by_names;
  LabelTable *table;            /* the input's names (a copy) */
  LabelTable *scheme_names;     /* the names its ids match the scheme by (a copy), or NULL */
  double ml_in, ml_out;
  gboolean has_result;
  gboolean building;
};

G_DEFINE_FINAL_TYPE (ArLabelPanel, ar_label_panel, GTK_TYPE_BOX)

enum { SIGNAL_STYLE_CHANGED, SIGNAL_REQUEST_CHANGED, SIGNAL_SCHEME_CHANGED, N_SIGNALS };
static guint signals[N_SIGNALS];

/* ------------------------------------------------------------------------ */
/* State */

static void
organ_clear (gpointer p)
{
  g_free (((Organ *) p)->name);
}

static Organ *
find_organ (ArLabelPanel *self, int32_t label)
{
  guint i = GPOINTER_TO_UINT (g_hash_table_lookup (self->index, GINT_TO_POINTER (label)));
  return i ? &g_array_index (self->organs, Organ, i - 1) : NULL;
}

static void
reindex (ArLabelPanel *self)
{
  g_hash_table_remove_all (self->index);
  for (guint i = 0; i < self->organs->len; i++)
    g_hash_table_insert (self->index, GINT_TO_POINTER (g_array_index (self->organs, Organ, i).label),
                         GUINT_TO_POINTER (i + 1));
}

static int
cmp_organ (gconstpointer a, gconstpointer b)
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

static void
add_organ (ArLabelPanel *self, int32_t label, const LabelTable *names, int64_t n_input)
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
static gboolean
organ_listed (ArLabelPanel *self, const Organ *o)
{
  return o->n_input > 0 || (self->has_result && o->n_result > 0);
}

static gboolean
group_completable (ArLabelPanel *self, int32_t k)
{
  return self->grouped && k >= 1 && k <= LT_N_ORGANS && self->groups[k].n_input == 0;
}

/* Voxels of class @k in the input and (-1 without) the result. */
static void
group_counts (ArLabelPanel *self, int32_t k, int64_t *in, int64_t *out, int *n_listed)
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
      *n_listed += organ_listed (self, o);
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

static void
update_organ_text (ArLabelPanel *self, Organ *o)
{
  if (!o->volume_label)
    return;
  g_autofree char *t = volume_text (self, o->n_input, self->has_result ? MAX (o->n_result, 0) : -1);
  set_volume_label (o->volume_label, t, self->has_result && o->n_input == 0 && o->n_result > 0);
}

static void
update_group_text (ArLabelPanel *self, int32_t k)
{
  Group *g = &self->groups[k];
  if (!g->volume_label)
    return;
  int64_t in, out;
  int n;
  group_counts (self, k, &in, &out, &n);
  g_autofree char *v = volume_text (self, in, out);
  g_autofree char *t = g->merged_label >= 0 ? g_strdup (v)
                       : g_strdup_printf ("%d label%s · %s", n, n == 1 ? "" : "s", v);
  set_volume_label (g->volume_label, t, self->has_result && in == 0 && out > 0);
}

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

static RowKind
tag_kind (gpointer w)
{
  return GPOINTER_TO_INT (g_object_get_data (G_OBJECT (w), "ar-row"));
}

static int32_t
tag_key (gpointer w)
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
  int32_t key = tag_key (b);
  if (tag_kind (b) == ROW_GROUP)
    {
      Group *g = &self->groups[key];
      g->visible = on;
      if (g->scale)
        gtk_widget_set_sensitive (g->scale, on);
      Organ *o = g->merged_label > 0 ? find_organ (self, g->merged_label) : NULL;
      if (o)
        o->visible = on;
      g_signal_emit (self, signals[SIGNAL_STYLE_CHANGED], 0, -1);
      return;
    }
  Organ *o = find_organ (self, key);
  if (!o)
    return;
  o->visible = on;
  if (o->scale)
    gtk_widget_set_sensitive (o->scale, on);
  g_signal_emit (self, signals[SIGNAL_STYLE_CHANGED], 0, o->label);
}

static void
opacity_changed (GtkRange *r, ArLabelPanel *self)
{
  if (self->building)
    return;
  double v = gtk_range_get_value (r);
  int32_t key = tag_key (r);
  if (tag_kind (r) == ROW_GROUP)
    {
      /* the group's slider sets every label of the class */
      self->groups[key].opacity = v;
      for (guint i = 0; i < self->organs->len; i++)
        {
          Organ *o = &g_array_index (self->organs, Organ, i);
          if (o->klass == key)
            o->opacity = v;
        }
      g_signal_emit (self, signals[SIGNAL_STYLE_CHANGED], 0, -1);
      return;
    }
  Organ *o = find_organ (self, key);
  if (!o)
    return;
  o->opacity = v;
  g_signal_emit (self, signals[SIGNAL_STYLE_CHANGED], 0, o->label);
}

static void
check_toggled (GtkCheckButton *c, ArLabelPanel *self)
{
  if (self->building)
    return;
  self->groups[tag_key (c)].requested = gtk_check_button_get_active (c);
  g_signal_emit (self, signals[SIGNAL_REQUEST_CHANGED], 0);
}

static void expander_clicked (GtkButton *b, ArLabelPanel *self);

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
static GtkWidget *
build_group_row (ArLabelPanel *self, int32_t k, gboolean reserve)
{
  Group *g = &self->groups[k];
  Organ *o = g->merged_label > 0 ? find_organ (self, g->merged_label) : NULL;
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
      g_signal_connect (g->expander, "clicked", G_CALLBACK (expander_clicked), self);
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

  gboolean can = group_completable (self, k);
  g->check = gtk_check_button_new_with_label ("complete");
  gtk_check_button_set_active (GTK_CHECK_BUTTON (g->check), g->requested);
  gtk_widget_set_sensitive (g->check, can);
  gtk_widget_set_opacity (g->check, can ? 1.0 : 0.0);
  gtk_widget_set_visible (g->check, k != 0);
  gtk_widget_set_tooltip_text (g->check, can ? "Reconstruct this organ, missing from the input"
                                             : "Present in the input");
  gtk_widget_add_css_class (g->check, "caption");
  tag (g->check, ROW_GROUP, k);
  g_signal_connect (g->check, "toggled", G_CALLBACK (check_toggled), self);
  gtk_grid_attach (GTK_GRID (grid), g->check, col, 0, 1, 1);

  gboolean visible = o ? o->visible && g->visible : g->visible;
  g->scale = scale_new (ROW_GROUP, k, o ? o->opacity : g->opacity, visible, self);
  gtk_grid_attach (GTK_GRID (grid), g->scale, col++, 1, 1, 1);
  g->eye = eye_new (ROW_GROUP, k, visible, self);
  gtk_grid_attach (GTK_GRID (grid), g->eye, col++, 0, 1, 2);

  g->row = row_new (grid, ROW_GROUP, k);
  if (g->merged_label < 0)
    gtk_accessible_update_state (GTK_ACCESSIBLE (g->row), GTK_ACCESSIBLE_STATE_EXPANDED, g->expanded, -1);
  update_group_text (self, k);
  return g->row;
}

/* A label's row inside its group: colour, name, volume, visibility. */
static GtkWidget *
build_label_row (ArLabelPanel *self, Organ *o)
{
  GtkWidget *grid = grid_new (44);
  gtk_grid_attach (GTK_GRID (grid), swatch_new (o->rgba, 12), 0, 0, 1, 1);
  gtk_grid_attach (GTK_GRID (grid), name_label_new (o->name, NULL), 1, 0, 1, 1);
  o->volume_label = caption_new ();
  gtk_label_set_xalign (GTK_LABEL (o->volume_label), 1);
  gtk_grid_attach (GTK_GRID (grid), o->volume_label, 2, 0, 1, 1);
  o->eye = eye_new (ROW_LABEL, o->label, o->visible, self);
  gtk_grid_attach (GTK_GRID (grid), o->eye, 3, 0, 1, 1);
  o->scale = NULL;
  o->row = row_new (grid, ROW_LABEL, o->label);
  gtk_widget_set_visible (o->row, self->groups[o->klass].expanded);
  update_organ_text (self, o);
  return o->row;
}

/* A label of a file whose scheme is unknown: as an organ row, without "complete". */
static GtkWidget *
build_flat_row (ArLabelPanel *self, Organ *o)
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
  o->row = row_new (grid, ROW_FLAT, o->label);
  update_organ_text (self, o);
  return o->row;
}

/* ------------------------------------------------------------------------ */
/* The list */

/* Whether class @k shows as one row: no labels, or one label named as the class (or any
 * single label of the 12-class scheme, whose ids are the classes). */
static int32_t
merged_label_of (ArLabelPanel *self, int32_t k)
{
  if (k == 0)
    return -1;
  int n = 0;
  Organ *one = NULL;
  for (guint i = 0; i < self->organs->len; i++)
    {
      Organ *o = &g_array_index (self->organs, Organ, i);
      if (o->klass == k && organ_listed (self, o))
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

static GtkListBoxRow *
row_ancestor (GtkWidget *w)
{
  while (w && !GTK_IS_LIST_BOX_ROW (w))
    w = gtk_widget_get_parent (w);
  return w ? GTK_LIST_BOX_ROW (w) : NULL;
}

static void
rebuild (ArLabelPanel *self)
{
  /* keep the keyboard focus on the same row */
  GtkRoot *root = gtk_widget_get_root (self->list);
  GtkWidget *focus = root ? gtk_root_get_focus (root) : NULL;
  GtkListBoxRow *focus_row = focus && gtk_widget_is_ancestor (focus, self->list) ? row_ancestor (focus) : NULL;
  RowKind focus_kind = focus_row ? tag_kind (focus_row) : 0;
  int32_t focus_key = focus_row ? tag_key (focus_row) : 0;

  self->building = TRUE;
  GtkWidget *child;
  while ((child = gtk_widget_get_first_child (self->list)))
    gtk_list_box_remove (GTK_LIST_BOX (self->list), child);
  for (guint i = 0; i < self->organs->len; i++)
    {
      Organ *o = &g_array_index (self->organs, Organ, i);
      o->row = o->volume_label = o->eye = o->scale = NULL;
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
          if (organ_listed (self, o))
            gtk_list_box_append (GTK_LIST_BOX (self->list), build_flat_row (self, o));
        }
    }
  else
    {
      int64_t in, out;
      int n_other;
      group_counts (self, 0, &in, &out, &n_other);
      gboolean any_group = n_other > 0;
      for (int k = 0; k < LT_N_CLASSES; k++)
        {
          self->groups[k].merged_label = merged_label_of (self, k);
          any_group |= k > 0 && self->groups[k].merged_label < 0;
        }
      for (int i = 1; i <= LT_N_CLASSES; i++)
        {
          int k = i % LT_N_CLASSES;   /* 1..12, then the other labels */
          if (k == 0 && n_other == 0)
            continue;
          Group *g = &self->groups[k];
          gtk_list_box_append (GTK_LIST_BOX (self->list), build_group_row (self, k, any_group));
          if (g->merged_label >= 0)
            {
              Organ *o = g->merged_label > 0 ? find_organ (self, g->merged_label) : NULL;
              if (o)
                o->volume_label = g->volume_label;
              continue;
            }
          for (guint j = 0; j < self->organs->len; j++)
            {
              Organ *o = &g_array_index (self->organs, Organ, j);
              if (o->klass == k && organ_listed (self, o))
                gtk_list_box_append (GTK_LIST_BOX (self->list), build_label_row (self, o));
            }
        }
    }
  self->building = FALSE;

  if (focus_row)
    {
      GtkWidget *target = NULL;
      if (focus_kind == ROW_GROUP)
        target = self->groups[focus_key].row;
      else
        {
          Organ *o = find_organ (self, focus_key);
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
  for (guint i = 0; i < self->organs->len; i++)
    {
      Organ *o = &g_array_index (self->organs, Organ, i);
      if (o->klass == klass && o->row)
        gtk_widget_set_visible (o->row, expanded);
    }
  return TRUE;
}

static void
expander_clicked (GtkButton *b, ArLabelPanel *self)
{
  int32_t k = tag_key (b);
  ar_label_panel_set_expanded (self, k, !self->groups[k].expanded);
}

static void
row_activated (GtkListBox *box, GtkListBoxRow *row, ArLabelPanel *self)
{
  if (tag_kind (row) != ROW_GROUP)
    return;
  int32_t k = tag_key (row);
  ar_label_panel_set_expanded (self, k, !self->groups[k].expanded);
}

/* Keys on a focused row (see the header); other keys, and keys on the row's controls,
 * go on as usual. */
static gboolean
key_pressed (GtkEventControllerKey *c, guint keyval, guint keycode, GdkModifierType state,
             ArLabelPanel *self)
{
  if (state & (GDK_CONTROL_MASK | GDK_ALT_MASK | GDK_SUPER_MASK))
    return FALSE;
  GtkRoot *root = gtk_widget_get_root (self->list);
  GtkWidget *focus = root ? gtk_root_get_focus (root) : NULL;
  if (!focus || !GTK_IS_LIST_BOX_ROW (focus))
    return FALSE;
  RowKind kind = tag_kind (focus);
  int32_t key = tag_key (focus);
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
          Organ *o = find_organ (self, key);
          if (o && self->groups[o->klass].row)
            gtk_widget_grab_focus (self->groups[o->klass].row);
          return TRUE;
        }
      return FALSE;
    case GDK_KEY_space: case GDK_KEY_KP_Space:
      if (g && g->check && gtk_widget_get_sensitive (g->check))
        gtk_check_button_set_active (GTK_CHECK_BUTTON (g->check), !g->requested);
      else if (g && g->merged_label < 0)
        ar_label_panel_set_expanded (self, key, !g->expanded);
      else
        {
          GtkWidget *eye = g ? g->eye : find_organ (self, key) ? find_organ (self, key)->eye : NULL;
          if (eye)
            gtk_toggle_button_set_active (GTK_TOGGLE_BUTTON (eye),
                                          !gtk_toggle_button_get_active (GTK_TOGGLE_BUTTON (eye)));
        }
      return TRUE;
    default:
      return FALSE;
    }
}

/* ------------------------------------------------------------------------ */
/* Scheme chooser */

/* "TotalSegmentator v2" from "TotalSegmentator v2 (117 classes, ...)". */
static char *
short_title (const LabelScheme *s)
{
  const char *t = label_scheme_get_title (s);
  const char *paren = strstr (t, " (");
  return paren ? g_strndup (t, paren - t) : g_strdup (t);
}

static void
scheme_selected (GObject *dd, GParamSpec *p, ArLabelPanel *self)
{
  if (self->building)
    return;
  guint i = gtk_drop_down_get_selected (GTK_DROP_DOWN (dd));
  const LabelScheme *const *all = label_scheme_list (NULL);
  const char *name = i >= 1 ? label_scheme_get_name (all[i - 1]) : NULL;
  g_signal_emit (self, signals[SIGNAL_SCHEME_CHANGED], 0, name);
}

static void
update_scheme_chooser (ArLabelPanel *self, const char *forced)
{
  int n;
  const LabelScheme *const *all = label_scheme_list (&n);
  g_autofree char *detected = self->scheme && !forced ? short_title (self->scheme) : NULL;
  g_autofree char *first = detected ? g_strdup_printf ("%s (detected)", detected) : g_strdup ("Detect from the names");
  const char *const items[] = { first, NULL };
  gtk_string_list_splice (self->scheme_items, 0, 1, items);
  guint sel = 0;
  for (int i = 0; forced && i < n; i++)
    if (g_strcmp0 (label_scheme_get_name (all[i]), forced) == 0)
      sel = i + 1;
  gtk_drop_down_set_selected (GTK_DROP_DOWN (self->scheme_dropdown), sel);
}

/* ------------------------------------------------------------------------ */
/* API */

void
ar_label_panel_set_input (ArLabelPanel *self, const ArLabelPanelInput *in)
{
  g_array_set_size (self->organs, 0);
  g_clear_pointer (&self->table, lt_table_free);
  self->table = in->table ? ar_scene_table_dup (in->table) : lt_table_new_default ();
  g_clear_pointer (&self->scheme_names, lt_table_free);
  self->scheme_names = ar_scene_table_dup (in->scheme_names);
  self->ml_in = in->ml_per_voxel;
  self->has_result = FALSE;
  self->scheme = in->scheme;
  self->by_names = in->by_names && in->scheme;
  self->grouped = in->scheme != NULL;
  g_autoptr (LabelTable) classes = lt_table_new_default ();
  for (int k = 0; k < LT_N_CLASSES; k++)
    {
      Group *g = &self->groups[k];
      *g = (Group) { .name = k ? lt_default_class_name (k) : "Other labels", .visible = TRUE, .opacity = 1.0,
                     .merged_label = -1 };
      if (k)
        lt_table_get_color (classes, k, g->rgba);
      else
        memcpy (g->rgba, (guint8[]) { 150, 150, 150, 255 }, 4);
    }
  for (int32_t l = 1; l < in->n_hist; l++)
    if (in->hist[l] > 0)
      add_organ (self, l, NULL, in->hist[l]);
  reindex (self);
  int present = 0;
  for (guint i = 0; i < self->organs->len; i++)
    {
      Organ *o = &g_array_index (self->organs, Organ, i);
      if (self->groups[o->klass].n_input == 0 && o->klass)
        present++;
      self->groups[o->klass].n_input += o->n_input;
    }
  for (int k = 1; k <= LT_N_ORGANS; k++)
    self->groups[k].requested = group_completable (self, k);

  self->building = TRUE;
  update_scheme_chooser (self, in->forced_scheme);
  self->building = FALSE;
  rebuild (self);

  g_autofree char *s = self->grouped
    ? g_strdup_printf ("%u label%s in the input, %d of the %d organs", self->organs->len,
                       self->organs->len == 1 ? "" : "s", present, LT_N_ORGANS)
    : g_strdup_printf ("%u label%s in the input", self->organs->len, self->organs->len == 1 ? "" : "s");
  gtk_label_set_text (GTK_LABEL (self->summary), s);
  GString *note = g_string_new (NULL);
  if (!in->scheme)
    g_string_append_printf (note, "No organ can be completed: %s. Choose the label scheme of its ids above.",
                            in->no_scheme ? in->no_scheme : "the label scheme is unknown");
  if (in->warnings && *in->warnings)
    g_string_append_printf (note, "%s%s", note->len ? "\n" : "", in->warnings);
  gtk_label_set_text (GTK_LABEL (self->note), note->str);
  gtk_widget_set_visible (self->note, note->len > 0);
  g_string_free (note, TRUE);
}

void
ar_label_panel_set_result (ArLabelPanel *self, const int64_t *hist, int32_t n_hist,
                           double ml_per_voxel, const LabelTable *table)
{
  self->has_result = hist != NULL;
  self->ml_out = ml_per_voxel;
  gboolean added = FALSE;
  for (int32_t l = 1; hist && l < n_hist; l++)
    if (hist[l] > 0 && !find_organ (self, l))
      {
        add_organ (self, l, table, 0);
        added = TRUE;
      }
  if (added)
    {
      g_array_sort (self->organs, cmp_organ);
      reindex (self);
    }
  for (guint i = 0; i < self->organs->len; i++)
    {
      Organ *o = &g_array_index (self->organs, Organ, i);
      o->n_result = hist ? (o->label < n_hist ? hist[o->label] : 0) : -1;
    }
  rebuild (self);
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
  style->visible = o->visible && (!self->grouped || self->groups[o->klass].visible);
  style->highlight = completed_view && self->has_result && o->n_input == 0 && o->n_result > 0;
}

GArray *
ar_label_panel_dup_requested (ArLabelPanel *self)
{
  GArray *a = g_array_new (FALSE, FALSE, sizeof (int32_t));
  for (int32_t k = 1; k <= LT_N_ORGANS; k++)
    if (group_completable (self, k) && self->groups[k].requested)
      g_array_append_val (a, k);
  return a;
}

gboolean
ar_label_panel_set_requested (ArLabelPanel *self, int32_t klass, gboolean requested)
{
  if (!group_completable (self, klass) || !self->groups[klass].check)
    return FALSE;
  /* as if clicked: "toggled" updates the group and emits request-changed */
  gtk_check_button_set_active (GTK_CHECK_BUTTON (self->groups[klass].check), requested);
  return TRUE;
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
  GtkWidget *scale = o->scale;
  Group *g = &self->groups[o->klass];
  if (self->grouped && g->merged_label == label)
    {
      g->opacity = o->opacity;
      scale = g->scale;
    }
  self->building = TRUE;
  if (scale)
    gtk_range_set_value (GTK_RANGE (scale), o->opacity);
  self->building = FALSE;
}

void
ar_label_panel_set_class_opacity (ArLabelPanel *self, int32_t klass, double opacity)
{
  if (klass < 0 || klass >= LT_N_CLASSES)
    return;
  Group *g = &self->groups[klass];
  g->opacity = CLAMP (opacity, 0.05, 1.0);
  for (guint i = 0; i < self->organs->len; i++)
    {
      Organ *o = &g_array_index (self->organs, Organ, i);
      if (o->klass == klass)
        o->opacity = g->opacity;
    }
  self->building = TRUE;
  if (g->scale)
    gtk_range_set_value (GTK_RANGE (g->scale), g->opacity);
  self->building = FALSE;
}

gboolean
ar_label_panel_choose_scheme (ArLabelPanel *self, const char *name)
{
  int n;
  const LabelScheme *const *all = label_scheme_list (&n);
  int sel = name ? -1 : 0;
  for (int i = 0; name && i < n; i++)
    if (all[i] == label_scheme_get (name))
      sel = i + 1;
  if (sel < 0)
    return FALSE;
  if ((guint) sel == gtk_drop_down_get_selected (GTK_DROP_DOWN (self->scheme_dropdown)))
    g_signal_emit (self, signals[SIGNAL_SCHEME_CHANGED], 0, sel ? label_scheme_get_name (all[sel - 1]) : NULL);
  else
    gtk_drop_down_set_selected (GTK_DROP_DOWN (self->scheme_dropdown), sel);
  return TRUE;
}

char *
ar_label_panel_dup_rows_text (ArLabelPanel *self)
{
  GString *s = g_string_new (NULL);
  for (GtkWidget *row = gtk_widget_get_first_child (self->list); row; row = gtk_widget_get_next_sibling (row))
    {
      RowKind kind = tag_kind (row);
      int32_t key = tag_key (row);
      const char *what = "flat", *name = "", *volume = "", *expanded = "-", *ticked = "-";
      gboolean eye = TRUE;
      int32_t klass = 0;
      if (kind == ROW_GROUP)
        {
          Group *g = &self->groups[key];
          Organ *o = g->merged_label > 0 ? find_organ (self, g->merged_label) : NULL;
          klass = key;
          what = g->merged_label >= 0 ? "organ" : "group";
          name = o ? o->name : g->name;
          volume = gtk_label_get_text (GTK_LABEL (g->volume_label));
          if (g->merged_label < 0)
            expanded = g->expanded ? "expanded" : "collapsed";
          if (group_completable (self, key))
            ticked = g->requested ? "ticked" : "unticked";
          eye = gtk_toggle_button_get_active (GTK_TOGGLE_BUTTON (g->eye));
        }
      else
        {
          Organ *o = find_organ (self, key);
          if (!o)
            continue;
          klass = o->klass;
          what = kind == ROW_LABEL ? "label" : "flat";
          name = o->name;
          volume = gtk_label_get_text (GTK_LABEL (o->volume_label));
          eye = gtk_toggle_button_get_active (GTK_TOGGLE_BUTTON (o->eye));
        }
      g_string_append_printf (s, "%s | %d | %s | %s | %s | %s | %s | %s\n", what, klass, name, volume, expanded,
                              ticked, gtk_widget_get_visible (row) ? "shown" : "hidden",
                              eye ? "visible" : "invisible");
    }
  return g_string_free (s, FALSE);
}

GtkWidget *
ar_label_panel_get_part (ArLabelPanel *self, int32_t klass, int32_t label, const char *part)
{
  if (label >= 0)
    {
      Organ *o = find_organ (self, label);
      if (!o)
        return NULL;
      if (!o->row)
        klass = o->klass;   /* a merged row: the class's */
      else
        return g_str_equal (part, "row") ? o->row : g_str_equal (part, "eye") ? o->eye : NULL;
    }
  if (klass < 0 || klass >= LT_N_CLASSES)
    return NULL;
  Group *g = &self->groups[klass];
  return g_str_equal (part, "row") ? g->row : g_str_equal (part, "expander") ? g->expander
         : g_str_equal (part, "check") ? g->check : g_str_equal (part, "eye") ? g->eye : NULL;
}

static void
ar_label_panel_finalize (GObject *object)
{
  ArLabelPanel *self = AR_LABEL_PANEL (object);
  g_array_unref (self->organs);
  g_hash_table_unref (self->index);
  g_clear_pointer (&self->table, lt_table_free);
  g_clear_pointer (&self->scheme_names, lt_table_free);
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
  signals[SIGNAL_SCHEME_CHANGED] =
    g_signal_new ("scheme-changed", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL,
                  NULL, G_TYPE_NONE, 1, G_TYPE_STRING);
}

static void
ar_label_panel_init (ArLabelPanel *self)
{
  self->organs = g_array_new (FALSE, TRUE, sizeof (Organ));
  g_array_set_clear_func (self->organs, organ_clear);
  self->index = g_hash_table_new (g_direct_hash, g_direct_equal);
  for (int k = 0; k < LT_N_CLASSES; k++)
    self->groups[k] = (Group) { .name = "", .visible = TRUE, .opacity = 1.0, .merged_label = -1 };
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

  /* the label scheme: detected, or chosen (as `--scheme`) */
  self->scheme_box = gtk_box_new (GTK_ORIENTATION_HORIZONTAL, 6);
  gtk_widget_set_margin_start (self->scheme_box, 8);
  gtk_widget_set_margin_end (self->scheme_box, 8);
  GtkWidget *sl = gtk_label_new ("Label scheme");
  gtk_widget_add_css_class (sl, "caption");
  gtk_box_append (GTK_BOX (self->scheme_box), sl);
  int n;
  const LabelScheme *const *all = label_scheme_list (&n);
  self->scheme_items = gtk_string_list_new (NULL);
  gtk_string_list_append (self->scheme_items, "Detect from the names");
  for (int i = 0; i < n; i++)
    {
      g_autofree char *t = short_title (all[i]);
      gtk_string_list_append (self->scheme_items, t);
    }
  self->scheme_dropdown = gtk_drop_down_new (G_LIST_MODEL (self->scheme_items), NULL);
  gtk_widget_set_hexpand (self->scheme_dropdown, TRUE);
  gtk_widget_set_tooltip_text (self->scheme_dropdown, "Which label scheme the file's ids follow: detected from "
                               "its names, or chosen here (as anatomy --scheme)");
  g_signal_connect (self->scheme_dropdown, "notify::selected", G_CALLBACK (scheme_selected), self);
  gtk_box_append (GTK_BOX (self->scheme_box), self->scheme_dropdown);
  gtk_box_append (GTK_BOX (self), self->scheme_box);

  self->note = gtk_label_new ("");
  gtk_label_set_xalign (GTK_LABEL (self->note), 0);
  gtk_label_set_wrap (GTK_LABEL (self->note), TRUE);
  gtk_label_set_max_width_chars (GTK_LABEL (self->note), 30);
  gtk_widget_add_css_class (self->note, "caption");
  gtk_widget_add_css_class (self->note, "panel-note");
  gtk_widget_set_margin_start (self->note, 8);
  gtk_widget_set_margin_end (self->note, 8);
  gtk_widget_set_visible (self->note, FALSE);
  gtk_box_append (GTK_BOX (self), self->note);

  GtkWidget *scroll = gtk_scrolled_window_new ();
  gtk_scrolled_window_set_policy (GTK_SCROLLED_WINDOW (scroll), GTK_POLICY_NEVER, GTK_POLICY_AUTOMATIC);
  gtk_widget_set_vexpand (scroll, TRUE);
  self->list = gtk_list_box_new ();
  gtk_list_box_set_selection_mode (GTK_LIST_BOX (self->list), GTK_SELECTION_NONE);
  gtk_widget_add_css_class (self->list, "navigation-sidebar");
  g_signal_connect (self->list, "row-activated", G_CALLBACK (row_activated), self);
  GtkEventController *keys = gtk_event_controller_key_new ();
  gtk_event_controller_set_propagation_phase (keys, GTK_PHASE_CAPTURE);
  g_signal_connect (keys, "key-pressed", G_CALLBACK (key_pressed), self);
  gtk_widget_add_controller (self->list, keys);
  gtk_scrolled_window_set_child (GTK_SCROLLED_WINDOW (scroll), self->list);
  gtk_box_append (GTK_BOX (self), scroll);
}

GtkWidget *
ar_label_panel_new (void)
{
  return g_object_new (AR_TYPE_LABEL_PANEL, NULL);
}
