/* ar-window-review.c: reviewing a network's completion as a clinician would.
 *
 * Every organ a network added is a proposal: pending until the user accepts or rejects
 * it in the organ panel or the legend (buttons, or A / R on the focused panel row);
 * Accept All takes every pending one, Undo (Ctrl+Z) steps back through the decisions.
 * The completed view draws a pending organ see-through and hides a rejected one; the
 * saved file holds only the accepted ones.  Each proposal shows its network's
 * confidence (mean probability over the added voxels, the share of them under 0.5);
 * Confidence Colours paints the completed surfaces on the probability scale (legend
 * with the scale) and overlays the probability map on the slice view.  A result loaded
 * from a file or the reference has no proposals.
 */
#include "ar-window-private.h"

#include <string.h>

typedef struct {
  int32_t label;
  ArProposal before;
} Decision;

/* How far inside a surface its colour is taken: on the surface itself the organ's
 * probability is about 0.5 by construction (it is where another class wins). */
static const double inward_mm[] = { 2.0, 4.0, 6.0 };

static gint
cmp_label (gconstpointer a, gconstpointer b)
{
  return GPOINTER_TO_INT (a) - GPOINTER_TO_INT (b);
}

static ArResult *
shown_network_result (ArWindow *self)
{
  int i = self->shown_result;
  return i >= 0 && i < NN_N_ARCHS && self->results[i] && self->results[i]->decisions ? self->results[i] : NULL;
}

/* The 12-class class of @label of a completion's output (0: none). */
static int32_t
class_of (ArWindow *self, const ArScene *result, int32_t label)
{
  const LabelScheme *scheme = self->input ? self->input->scheme : NULL;
  if (!scheme)
    return 0;
  const LabelEntry *e = result->table ? lt_table_lookup (result->table, label) : NULL;
  if (e && (self->input->by_names || label_scheme_class_of (scheme, label) <= 0))
    {
      int32_t id = label_scheme_find_name (scheme, e->name);
      if (id > 0)
        return label_scheme_class_of (scheme, id);
    }
  return label_scheme_class_of (scheme, label);
}

/* The organ's probability just inside its surface at each vertex. */
static void
colour_by_probability (const CompletionProbs *probs, const SurfaceSet *set, const SurfaceMesh *m, int32_t klass,
                       ArRenderMesh *rm)
{
  double to_voxel[4][4];
  if (!lv_affine_invert (set->affine, to_voxel))
    return;
  g_autofree float *values = g_new (float, MAX (m->n_vertices, 1u));
  for (uint32_t v = 0; v < m->n_vertices; v++)
    {
      float best = 0.f;
      for (gsize s = 0; s < G_N_ELEMENTS (inward_mm); s++)
        {
          double w[3], ijk[3];
          for (int a = 0; a < 3; a++)
            w[a] = m->positions[3 * v + a] - inward_mm[s] * m->normals[3 * v + a];
          lv_affine_apply (to_voxel, w, ijk);
          best = MAX (best, completion_probs_at (probs, klass, ijk[0], ijk[1], ijk[2]));
        }
      values[v] = best;
    }
  ar_render_mesh_set_values (rm, values);
}

void
ar_window_review_adopt (ArWindow *self, ArResult *r, CompletionProbs *probs)
{
  r->probs = probs;
  r->decisions = g_hash_table_new (g_direct_hash, g_direct_equal);
  r->classes = g_hash_table_new (g_direct_hash, g_direct_equal);
  r->undo = g_array_new (FALSE, FALSE, sizeof (Decision));
  ArScene *s = r->scene;
  for (guint i = 0; i < s->meshes->len; i++)
    {
      int32_t l = ar_render_mesh_get_label (s->meshes->pdata[i]);
      if (!self->input || ar_scene_count (self->input, l) > 0)
        continue;
      int32_t k = class_of (self, s, l);
      g_hash_table_insert (r->decisions, GINT_TO_POINTER (l), GINT_TO_POINTER (AR_PROPOSAL_PENDING));
      g_hash_table_insert (r->classes, GINT_TO_POINTER (l), GINT_TO_POINTER (k));
      const SurfaceMesh *m = s->surfaces->meshes[i];
      if (probs && k > 0 && m->label == l)
        colour_by_probability (probs, s->surfaces, m, k, s->meshes->pdata[i]);
    }
}

ArProposal
ar_window_review_get (ArResult *r, int32_t label)
{
  return r && r->decisions ? GPOINTER_TO_INT (g_hash_table_lookup (r->decisions, GINT_TO_POINTER (label)))
                           : AR_PROPOSAL_NONE;
}

/* "p̄ 0.83 · 12% < 0.5": the network's confidence in added @label. */
static char *
dup_confidence (ArResult *r, int32_t label)
{
  int32_t k = GPOINTER_TO_INT (g_hash_table_lookup (r->classes, GINT_TO_POINTER (label)));
  if (!r->probs || k <= 0)
    return NULL;
  const CompletionConfidence *c = completion_probs_get_confidence (r->probs, k);
  if (c->voxels == 0)
    return NULL;
  return g_strdup_printf ("p̄ %.2f · %.0f%% < 0.5", c->mean, 100.0 * c->below_half);
}

static void
update_actions (ArWindow *self)
{
  ArResult *r = shown_network_result (self);
  gboolean pending = FALSE;
  if (r)
    {
      GHashTableIter it;
      gpointer v;
      g_hash_table_iter_init (&it, r->decisions);
      while (g_hash_table_iter_next (&it, NULL, &v))
        pending |= GPOINTER_TO_INT (v) == AR_PROPOSAL_PENDING;
    }
  GAction *a = g_action_map_lookup_action (G_ACTION_MAP (self), "accept-all");
  g_simple_action_set_enabled (G_SIMPLE_ACTION (a), pending);
  a = g_action_map_lookup_action (G_ACTION_MAP (self), "undo-decision");
  g_simple_action_set_enabled (G_SIMPLE_ACTION (a), r && r->undo->len > 0);
  a = g_action_map_lookup_action (G_ACTION_MAP (self), "confidence");
  g_simple_action_set_enabled (G_SIMPLE_ACTION (a), r && r->probs);
}

static void update_legend (ArWindow *self);
static void update_overlay (ArWindow *self);

static void
apply_decisions (ArWindow *self)
{
  ArResult *r = shown_network_result (self);
  ar_label_panel_clear_proposals (self->label_panel);
  if (r)
    {
      GHashTableIter it;
      gpointer k, v;
      g_hash_table_iter_init (&it, r->decisions);
      while (g_hash_table_iter_next (&it, &k, &v))
        {
          g_autofree char *conf = dup_confidence (r, GPOINTER_TO_INT (k));
          ar_label_panel_set_proposal (self->label_panel, GPOINTER_TO_INT (k), GPOINTER_TO_INT (v), conf);
        }
    }
  update_legend (self);
  update_overlay (self);
  update_actions (self);
}

/* Records the user's decision on @label of the shown result (undoable). */
static void
decide (ArWindow *self, int32_t label, ArProposal want)
{
  ArResult *r = shown_network_result (self);
  ArProposal before = ar_window_review_get (r, label);
  if (before == AR_PROPOSAL_NONE || before == want)
    return;
  Decision d = { label, before };
  g_array_append_val (r->undo, d);
  g_hash_table_insert (r->decisions, GINT_TO_POINTER (label), GINT_TO_POINTER (want));
  self->result_unsaved = TRUE;
  apply_decisions (self);
}

static void
proposal_changed (ArLabelPanel *panel, int label, int want, ArWindow *self)
{
  decide (self, label, want);
}

static void
action_accept_all (GSimpleAction *a, GVariant *p, gpointer data)
{
  ArWindow *self = data;
  ArResult *r = shown_network_result (self);
  if (!r)
    return;
  g_autoptr (GList) keys = g_hash_table_get_keys (r->decisions);
  keys = g_list_sort (keys, cmp_label);
  /* one undo step per organ, one refresh of the panel and legend for all */
  for (GList *l = keys; l; l = l->next)
    if (GPOINTER_TO_INT (g_hash_table_lookup (r->decisions, l->data)) == AR_PROPOSAL_PENDING)
      {
        Decision d = { GPOINTER_TO_INT (l->data), AR_PROPOSAL_PENDING };
        g_array_append_val (r->undo, d);
        g_hash_table_insert (r->decisions, l->data, GINT_TO_POINTER (AR_PROPOSAL_ACCEPTED));
      }
  self->result_unsaved = TRUE;
  apply_decisions (self);
}

static void
action_undo (GSimpleAction *a, GVariant *p, gpointer data)
{
  ArWindow *self = data;
  ArResult *r = shown_network_result (self);
  if (!r || r->undo->len == 0)
    return;
  Decision d = g_array_index (r->undo, Decision, r->undo->len - 1);
  g_array_set_size (r->undo, r->undo->len - 1);
  g_hash_table_insert (r->decisions, GINT_TO_POINTER (d.label), GINT_TO_POINTER (d.before));
  apply_decisions (self);
}

static void
confidence_changed (GSimpleAction *a, GVariant *v, gpointer data)
{
  ArWindow *self = data;
  g_simple_action_set_state (a, v);
  self->confidence_colours = g_variant_get_boolean (v);
  ar_window_apply_styles (self);
  update_legend (self);
  update_overlay (self);
}

static const GActionEntry review_actions[] = {
  { "accept-all", action_accept_all },
  { "undo-decision", action_undo },
  { "confidence", NULL, NULL, "false", confidence_changed },
};

void
ar_window_review_init (ArWindow *self)
{
  g_action_map_add_action_entries (G_ACTION_MAP (self), review_actions, G_N_ELEMENTS (review_actions), self);
  g_signal_connect (self->label_panel, "proposal-changed", G_CALLBACK (proposal_changed), self);
}

void
ar_window_review_style (ArWindow *self, int32_t label, ArLabelStyle *st)
{
  ArResult *r = shown_network_result (self);
  st->by_value = self->confidence_colours && r && r->probs && ar_window_review_get (r, label) != AR_PROPOSAL_NONE;
}

static float
overlay_value (int64_t i, int64_t j, int64_t k, gpointer data)
{
  ArWindow *self = data;
  float best = 0.f;
  for (int c = 0; c < self->n_overlay; c++)
    best = MAX (best, completion_probs_at (self->overlay_probs, self->overlay_classes[c], (double) i, (double) j,
                                           (double) k));
  return best;
}

/* With the confidence colouring on, the slice view overlays the highest probability of
 * the shown result's proposals not rejected. */
static void
update_overlay (ArWindow *self)
{
  ArResult *r = shown_network_result (self);
  self->n_overlay = 0;
  self->overlay_probs = self->confidence_colours && r ? r->probs : NULL;
  if (self->overlay_probs)
    {
      GHashTableIter it;
      gpointer k, v;
      g_hash_table_iter_init (&it, r->decisions);
      while (g_hash_table_iter_next (&it, &k, &v))
        {
          int32_t c = GPOINTER_TO_INT (g_hash_table_lookup (r->classes, k));
          gboolean seen = FALSE;
          for (int i = 0; i < self->n_overlay; i++)
            seen |= self->overlay_classes[i] == c;
          if (GPOINTER_TO_INT (v) != AR_PROPOSAL_REJECTED && c > 0 && !seen && self->n_overlay < LT_N_CLASSES)
            self->overlay_classes[self->n_overlay++] = c;
        }
    }
  ar_slice_view_set_values (self->slice_view, self->n_overlay ? overlay_value : NULL, self);
}

LabelVolume *
ar_window_review_dup_saved (ArWindow *self, const ArResult *r, int *n_left_out)
{
  const LabelVolume *in = self->input->volume, *res = r->scene->volume;
  LabelVolume *out = lv_volume_new_like (in, res->bytes_per_voxel);
  memcpy (out->data, res->data, (gsize) lv_volume_n_voxels (out) * out->bytes_per_voxel);
  *n_left_out = 0;
  if (!r->decisions)
    return out;
  GHashTableIter it;
  gpointer k, v;
  g_hash_table_iter_init (&it, r->decisions);
  gboolean any_out = FALSE;
  while (g_hash_table_iter_next (&it, &k, &v))
    if (GPOINTER_TO_INT (v) != AR_PROPOSAL_ACCEPTED)
      {
        (*n_left_out)++;
        any_out = TRUE;
      }
  if (!any_out)
    return out;
  for (int64_t q = 0, n = lv_volume_n_voxels (out); q < n; q++)
    {
      int32_t l = lv_volume_get_index (out, q);
      if (l != 0 && lv_volume_get_index (in, q) == 0 && ar_window_review_get ((ArResult *) r, l) != AR_PROPOSAL_ACCEPTED)
        lv_volume_set_index (out, q, 0);
    }
  return out;
}

/* ---- legend -------------------------------------------------------------- */

static void
legend_decide (GtkButton *b, ArWindow *self)
{
  int32_t label = GPOINTER_TO_INT (g_object_get_data (G_OBJECT (b), "ar-label"));
  gboolean accept = GPOINTER_TO_INT (g_object_get_data (G_OBJECT (b), "ar-accept"));
  ArProposal now = ar_window_review_get (shown_network_result (self), label);
  ArProposal want = accept ? AR_PROPOSAL_ACCEPTED : AR_PROPOSAL_REJECTED;
  decide (self, label, now == want ? AR_PROPOSAL_PENDING : want);
}

static GtkWidget *
legend_button (ArWindow *self, int32_t label, gboolean accept, ArProposal state)
{
  GtkWidget *b = gtk_button_new_from_icon_name (accept ? "object-select-symbolic" : "window-close-symbolic");
  gtk_widget_add_css_class (b, "flat");
  gtk_widget_add_css_class (b, "circular");
  if (state == (accept ? AR_PROPOSAL_ACCEPTED : AR_PROPOSAL_REJECTED))
    gtk_widget_add_css_class (b, accept ? "suggested-action" : "destructive-action");
  gtk_widget_set_tooltip_text (b, accept ? "Accept: keep this organ in the result" : "Reject: leave it out");
  gtk_accessible_update_property (GTK_ACCESSIBLE (b), GTK_ACCESSIBLE_PROPERTY_LABEL, accept ? "Accept" : "Reject", -1);
  g_object_set_data (G_OBJECT (b), "ar-label", GINT_TO_POINTER (label));
  g_object_set_data (G_OBJECT (b), "ar-accept", GINT_TO_POINTER (accept));
  g_signal_connect (b, "clicked", G_CALLBACK (legend_decide), self);
  return b;
}

static void
scale_draw (GtkDrawingArea *a, cairo_t *cr, int w, int h, gpointer data)
{
  cairo_pattern_t *p = cairo_pattern_create_linear (0, 0, w, 0);
  for (int i = 0; i <= 16; i++)
    {
      float rgb[3];
      ar_value_color (i / 16.f, rgb);
      cairo_pattern_add_color_stop_rgb (p, i / 16.0, rgb[0], rgb[1], rgb[2]);
    }
  cairo_rectangle (cr, 0, 0, w, h);
  cairo_set_source (cr, p);
  cairo_fill (cr);
  cairo_pattern_destroy (p);
}

/* The probability scale: a bar from 0 to 1. */
static GtkWidget *
scale_new (void)
{
  GtkWidget *box = gtk_box_new (GTK_ORIENTATION_VERTICAL, 2);
  GtkWidget *title = gtk_label_new ("Network probability");
  gtk_label_set_xalign (GTK_LABEL (title), 0);
  gtk_widget_add_css_class (title, "caption");
  gtk_box_append (GTK_BOX (box), title);
  GtkWidget *bar = gtk_drawing_area_new ();
  gtk_drawing_area_set_content_width (GTK_DRAWING_AREA (bar), 160);
  gtk_drawing_area_set_content_height (GTK_DRAWING_AREA (bar), 10);
  gtk_drawing_area_set_draw_func (GTK_DRAWING_AREA (bar), scale_draw, NULL, NULL);
  gtk_box_append (GTK_BOX (box), bar);
  GtkWidget *ticks = gtk_center_box_new ();
  const char *const t[3] = { "0", "0.5", "1" };
  GtkWidget *l[3];
  for (int i = 0; i < 3; i++)
    {
      l[i] = gtk_label_new (t[i]);
      gtk_widget_add_css_class (l[i], "caption");
    }
  gtk_center_box_set_start_widget (GTK_CENTER_BOX (ticks), l[0]);
  gtk_center_box_set_center_widget (GTK_CENTER_BOX (ticks), l[1]);
  gtk_center_box_set_end_widget (GTK_CENTER_BOX (ticks), l[2]);
  gtk_box_append (GTK_BOX (box), ticks);
  return box;
}

/* The legend beside the completed view: what the result adds, with each proposal's
 * decision buttons and confidence, Accept All, and the scale when colouring by
 * confidence. */
static void
update_legend (ArWindow *self)
{
  GtkWidget *child;
  while ((child = gtk_widget_get_first_child (self->legend_box)))
    gtk_box_remove (GTK_BOX (self->legend_box), child);
  g_autoptr (GArray) added = ar_label_panel_dup_new_labels (self->label_panel);
  gtk_widget_set_visible (self->legend_box, added->len > 0 && self->shown_result >= 0);
  if (added->len == 0)
    return;
  ArResult *r = shown_network_result (self);
  GtkWidget *title = gtk_label_new (self->shown_result == AR_RESULT_REFERENCE ? "Missing from the input"
                                    : r ? "Proposed by the network" : "Newly completed");
  gtk_label_set_xalign (GTK_LABEL (title), 0);
  gtk_widget_add_css_class (title, "heading");
  gtk_box_append (GTK_BOX (self->legend_box), title);
  gboolean pending = FALSE;
  for (guint i = 0; i < added->len; i++)
    {
      int32_t l = g_array_index (added, int32_t, i);
      guint8 rgba[4];
      ar_label_panel_get_color (self->label_panel, l, rgba);
      GtkWidget *row = gtk_box_new (GTK_ORIENTATION_HORIZONTAL, 6);
      gtk_box_append (GTK_BOX (row), ar_window_swatch_new (rgba, 14, TRUE));
      GtkWidget *text = gtk_box_new (GTK_ORIENTATION_VERTICAL, 0);
      gtk_widget_set_hexpand (text, TRUE);
      GtkWidget *name = gtk_label_new (ar_label_panel_get_name (self->label_panel, l));
      gtk_label_set_xalign (GTK_LABEL (name), 0);
      gtk_box_append (GTK_BOX (text), name);
      ArProposal st = ar_window_review_get (r, l);
      g_autofree char *conf = r ? dup_confidence (r, l) : NULL;
      if (conf)
        {
          GtkWidget *c = gtk_label_new (conf);
          gtk_label_set_xalign (GTK_LABEL (c), 0);
          gtk_widget_add_css_class (c, "caption");
          gtk_widget_add_css_class (c, "numeric");
          gtk_box_append (GTK_BOX (text), c);
        }
      if (st == AR_PROPOSAL_REJECTED)
        gtk_widget_add_css_class (name, "proposal-rejected");
      gtk_box_append (GTK_BOX (row), text);
      if (st != AR_PROPOSAL_NONE)
        {
          gtk_box_append (GTK_BOX (row), legend_button (self, l, TRUE, st));
          gtk_box_append (GTK_BOX (row), legend_button (self, l, FALSE, st));
        }
      pending |= st == AR_PROPOSAL_PENDING;
      gtk_box_append (GTK_BOX (self->legend_box), row);
    }
  if (pending)
    {
      GtkWidget *all = gtk_button_new_with_label ("Accept All");
      gtk_actionable_set_action_name (GTK_ACTIONABLE (all), "win.accept-all");
      gtk_widget_set_tooltip_text (all, "Keep every proposed organ in the result (Ctrl+Shift+A)");
      gtk_box_append (GTK_BOX (self->legend_box), all);
    }
  if (r && r->probs && self->confidence_colours)
    gtk_box_append (GTK_BOX (self->legend_box), scale_new ());
}

void
ar_window_review_show (ArWindow *self)
{
  apply_decisions (self);
}

char *
ar_window_review_dup_text (ArWindow *self)
{
  ArResult *r = shown_network_result (self);
  GString *s = g_string_new ("");
  if (!r)
    return g_string_free (s, FALSE);
  g_autoptr (GList) keys = g_hash_table_get_keys (r->decisions);
  keys = g_list_sort (keys, cmp_label);
  static const char *const names[] = { "none", "pending", "accepted", "rejected" };
  for (GList *l = keys; l; l = l->next)
    {
      int32_t label = GPOINTER_TO_INT (l->data);
      int32_t k = GPOINTER_TO_INT (g_hash_table_lookup (r->classes, l->data));
      const CompletionConfidence *c = r->probs && k > 0 ? completion_probs_get_confidence (r->probs, k) : NULL;
      g_string_append_printf (s, "%s%d | %s | %s | %" G_GINT64_FORMAT " | %.4f | %.4f", s->len ? "\n" : "", label,
                              ar_label_panel_get_name (self->label_panel, label),
                              names[ar_window_review_get (r, label)], c ? c->voxels : 0, c ? c->mean : 0.0,
                              c ? c->below_half : 0.0);
    }
  return g_string_free (s, FALSE);
}
