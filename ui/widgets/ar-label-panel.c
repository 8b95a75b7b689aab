/* ar-label-panel.c: the organ list (see ar-label-panel.h).
 *
 * The state lives in two tables, Organ (one per source label) and Group (one per
 * 12-class organ, [0] for the other labels); the rows are rebuilt from them when the
 * input or the shown result changes, and only shown or hidden when a group is expanded
 * or collapsed (so the focus stays where it is). */
#include "ar-label-panel.h"

#include <string.h>

#include "scene.h"
#include "ar-label-panel-private.h"

G_DEFINE_FINAL_TYPE (ArLabelPanel, ar_label_panel, GTK_TYPE_BOX)

guint panel_signals[N_SIGNALS];

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
  g_signal_emit (self, panel_signals[SIGNAL_SCHEME_CHANGED], 0, name);
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
      panel_add_organ (self, l, NULL, in->hist[l]);
  panel_reindex (self);
  int present = 0;
  for (guint i = 0; i < self->organs->len; i++)
    {
      Organ *o = &g_array_index (self->organs, Organ, i);
      if (self->groups[o->klass].n_input == 0 && o->klass)
        present++;
      self->groups[o->klass].n_input += o->n_input;
    }
  self->n_present = present;
  /* in a known scheme: nothing to complete from, or nothing missing */
  self->cannot_complete = NULL;
  if (self->grouped && present == 0)
    self->cannot_complete = self->organs->len
      ? "No organ can be completed: none of the file's labels is one of the 12 organs, so there is nothing to "
        "complete from"
      : "No organ can be completed: the file has no labels";
  else if (self->grouped && present == LT_N_ORGANS)
    self->cannot_complete = "Nothing to complete: all 12 organs are in the input";
  for (int k = 1; k <= LT_N_ORGANS; k++)
    self->groups[k].requested = panel_group_completable (self, k) && !panel_group_unlabelled (self, k);

  self->building = TRUE;
  update_scheme_chooser (self, in->forced_scheme);
  self->building = FALSE;
  panel_rebuild (self);
  panel_filter_input_changed (self);

  g_autofree char *s = self->grouped
    ? g_strdup_printf ("%u label%s in the input, %d of the %d organs", self->organs->len,
                       self->organs->len == 1 ? "" : "s", present, LT_N_ORGANS)
    : g_strdup_printf ("%u label%s in the input", self->organs->len, self->organs->len == 1 ? "" : "s");
  gtk_label_set_text (GTK_LABEL (self->summary), s);
  GString *note = g_string_new (NULL);
  if (!in->scheme)
    g_string_append_printf (note, "No organ can be completed: %s. Choose the label scheme of its ids above.",
                            in->no_scheme ? in->no_scheme : "the label scheme is unknown");
  else if (self->cannot_complete && present == 0 && self->organs->len)
    g_string_append_printf (note, "%s (%u label%s, all under Other labels).", self->cannot_complete,
                            self->organs->len, self->organs->len == 1 ? "" : "s");
  else if (self->cannot_complete)
    g_string_append_printf (note, "%s.", self->cannot_complete);
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
    if (hist[l] > 0 && !panel_find_organ (self, l))
      {
        panel_add_organ (self, l, table, 0);
        added = TRUE;
      }
  if (added)
    {
      g_array_sort (self->organs, panel_cmp_organ);
      panel_reindex (self);
    }
  for (guint i = 0; i < self->organs->len; i++)
    {
      Organ *o = &g_array_index (self->organs, Organ, i);
      o->n_result = hist ? (o->label < n_hist ? hist[o->label] : 0) : -1;
    }
  panel_rebuild (self);
}

void
ar_label_panel_get_style (ArLabelPanel *self, int32_t label, gboolean completed_view,
                          ArLabelStyle *style)
{
  Organ *o = panel_find_organ (self, label);
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
  style->by_value = FALSE;
  if (completed_view && o->proposal == AR_PROPOSAL_REJECTED)
    style->visible = FALSE;
  else if (completed_view && o->proposal == AR_PROPOSAL_PENDING)
    style->rgba[3] *= 0.6f;
}

void
ar_label_panel_set_proposal (ArLabelPanel *self, int32_t label, ArProposal state, const char *confidence)
{
  Organ *o = panel_find_organ (self, label);
  if (!o)
    return;
  o->proposal = state;
  g_free (o->confidence);
  o->confidence = g_strdup (confidence);
  panel_update_proposal (self, o);
  g_signal_emit (self, panel_signals[SIGNAL_STYLE_CHANGED], 0, label);
}

void
ar_label_panel_clear_proposals (ArLabelPanel *self)
{
  for (guint i = 0; i < self->organs->len; i++)
    {
      Organ *o = &g_array_index (self->organs, Organ, i);
      if (o->proposal == AR_PROPOSAL_NONE)
        continue;
      o->proposal = AR_PROPOSAL_NONE;
      g_clear_pointer (&o->confidence, g_free);
      panel_update_proposal (self, o);
    }
}

ArProposal
ar_label_panel_get_proposal (ArLabelPanel *self, int32_t label)
{
  Organ *o = panel_find_organ (self, label);
  return o ? o->proposal : AR_PROPOSAL_NONE;
}

GArray *
ar_label_panel_dup_requested (ArLabelPanel *self)
{
  GArray *a = g_array_new (FALSE, FALSE, sizeof (int32_t));
  for (int32_t k = 1; k <= LT_N_ORGANS; k++)
    if (panel_group_completable (self, k) && self->groups[k].requested)
      g_array_append_val (a, k);
  return a;
}

gboolean
ar_label_panel_set_requested (ArLabelPanel *self, int32_t klass, gboolean requested)
{
  if (!panel_group_completable (self, klass) || !self->groups[klass].check)
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
  Organ *o = panel_find_organ (self, label);
  return o ? o->name : "";
}

void
ar_label_panel_get_color (ArLabelPanel *self, int32_t label, guint8 rgba[4])
{
  Organ *o = panel_find_organ (self, label);
  if (o)
    memcpy (rgba, o->rgba, 4);
  else
    rgba[0] = rgba[1] = rgba[2] = rgba[3] = 180;
}

void
ar_label_panel_set_opacity (ArLabelPanel *self, int32_t label, double opacity)
{
  Organ *o = panel_find_organ (self, label);
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

const char *
ar_label_panel_get_completion_problem (ArLabelPanel *self)
{
  return self->cannot_complete;
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
    g_signal_emit (self, panel_signals[SIGNAL_SCHEME_CHANGED], 0, sel ? label_scheme_get_name (all[sel - 1]) : NULL);
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
      RowKind kind = panel_tag_kind (row);
      int32_t key = panel_tag_key (row);
      const char *what = "flat", *name = "", *volume = "", *expanded = "-", *ticked = "-";
      gboolean eye = TRUE;
      int32_t klass = 0;
      if (kind == ROW_GROUP)
        {
          Group *g = &self->groups[key];
          Organ *o = g->merged_label > 0 ? panel_find_organ (self, g->merged_label) : NULL;
          klass = key;
          what = g->merged_label >= 0 ? "organ" : "group";
          name = o ? o->name : g->name;
          volume = gtk_label_get_text (GTK_LABEL (g->volume_label));
          if (g->merged_label < 0)
            expanded = g->expanded ? "expanded" : "collapsed";
          if (panel_group_completable (self, key))
            ticked = g->requested ? "ticked" : "unticked";
          eye = gtk_toggle_button_get_active (GTK_TOGGLE_BUTTON (g->eye));
        }
      else
        {
          Organ *o = panel_find_organ (self, key);
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
  if (g_str_equal (part, "search") || g_str_equal (part, "show-all") || g_str_equal (part, "hide-all"))
    return g_str_equal (part, "search") ? self->search : g_str_equal (part, "show-all") ? self->show_all
           : self->hide_all;
  if (label >= 0)
    {
      Organ *o = panel_find_organ (self, label);
      if (!o)
        return NULL;
      if (g_str_equal (part, "accept") || g_str_equal (part, "reject"))
        return g_str_equal (part, "accept") ? o->accept : o->reject;
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
  g_free (self->filter);
  G_OBJECT_CLASS (ar_label_panel_parent_class)->finalize (object);
}

static void
ar_label_panel_class_init (ArLabelPanelClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = ar_label_panel_finalize;
  panel_signals[SIGNAL_STYLE_CHANGED] =
    g_signal_new ("style-changed", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL,
                  NULL, G_TYPE_NONE, 1, G_TYPE_INT);
  panel_signals[SIGNAL_REQUEST_CHANGED] =
    g_signal_new ("request-changed", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL,
                  NULL, G_TYPE_NONE, 0);
  panel_signals[SIGNAL_SCHEME_CHANGED] =
    g_signal_new ("scheme-changed", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL,
                  NULL, G_TYPE_NONE, 1, G_TYPE_STRING);
  panel_signals[SIGNAL_PROPOSAL_CHANGED] =
    g_signal_new ("proposal-changed", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL,
                  NULL, G_TYPE_NONE, 2, G_TYPE_INT, G_TYPE_INT);
}

static void
ar_label_panel_init (ArLabelPanel *self)
{
  self->organs = g_array_new (FALSE, TRUE, sizeof (Organ));
  g_array_set_clear_func (self->organs, panel_organ_clear);
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
  panel_filter_init (self, GTK_BOX (self));

  GtkWidget *scroll = gtk_scrolled_window_new ();
  gtk_scrolled_window_set_policy (GTK_SCROLLED_WINDOW (scroll), GTK_POLICY_NEVER, GTK_POLICY_AUTOMATIC);
  gtk_widget_set_vexpand (scroll, TRUE);
  self->list = gtk_list_box_new ();
  gtk_list_box_set_selection_mode (GTK_LIST_BOX (self->list), GTK_SELECTION_NONE);
  gtk_widget_add_css_class (self->list, "navigation-sidebar");
  g_signal_connect (self->list, "row-activated", G_CALLBACK (panel_row_activated), self);
  GtkEventController *keys = gtk_event_controller_key_new ();
  gtk_event_controller_set_propagation_phase (keys, GTK_PHASE_CAPTURE);
  g_signal_connect (keys, "key-pressed", G_CALLBACK (panel_key_pressed), self);
  gtk_widget_add_controller (self->list, keys);
  gtk_scrolled_window_set_child (GTK_SCROLLED_WINDOW (scroll), self->list);
  gtk_box_append (GTK_BOX (self), scroll);
}

GtkWidget *
ar_label_panel_new (void)
{
  return g_object_new (AR_TYPE_LABEL_PANEL, NULL);
}
