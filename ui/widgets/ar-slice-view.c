/* ar-slice-view.c: label map slices drawn with cairo (see ar-slice-view.h). */
#include "ar-slice-view.h"

#include <string.h>

struct _ArSliceView {
  GtkBox parent_instance;
  GtkWidget *area, *axis, *scale, *overlay;
  const LabelVolume *input, *result;
  ArLabelPanel *panel;
  int axis_index;           /* 0 sagittal (i fixed), 1 coronal (j), 2 axial (k) */
  ArSliceValueFunc values;  /* overlay, or NULL */
  gpointer values_data;
  cairo_surface_t *image;   /* cached slice */
  gboolean image_dirty;
};

G_DEFINE_FINAL_TYPE (ArSliceView, ar_slice_view, GTK_TYPE_BOX)

static int64_t
dim (const LabelVolume *v, int a)
{
  return a == 0 ? v->nx : a == 1 ? v->ny : v->nz;
}

static void
invalidate (ArSliceView *self)
{
  self->image_dirty = TRUE;
  gtk_widget_queue_draw (self->area);
}

/* The slice's two in-plane axes (u to the right, v upwards). */
static void
plane_axes (int axis, int *u, int *v)
{
  *u = axis == 0 ? 1 : 0;
  *v = axis == 2 ? 1 : 2;
}

static void
build_image (ArSliceView *self)
{
  g_clear_pointer (&self->image, cairo_surface_destroy);
  self->image_dirty = FALSE;
  const LabelVolume *vol = self->input;
  if (!vol)
    return;
  int a = self->axis_index, u, v;
  plane_axes (a, &u, &v);
  int64_t nu = dim (vol, u), nv = dim (vol, v);
  int64_t s = (int64_t) gtk_range_get_value (GTK_RANGE (self->scale));
  s = CLAMP (s, 0, dim (vol, a) - 1);
  gboolean overlay = self->result && gtk_check_button_get_active (GTK_CHECK_BUTTON (self->overlay));
  self->image = cairo_image_surface_create (CAIRO_FORMAT_ARGB32, (int) nu, (int) nv);
  guint8 *px = cairo_image_surface_get_data (self->image);
  int stride = cairo_image_surface_get_stride (self->image);
  g_autoptr (GHashTable) colors = g_hash_table_new (g_direct_hash, g_direct_equal);
  for (int64_t y = 0; y < nv; y++)
    for (int64_t x = 0; x < nu; x++)
      {
        int64_t idx3[3];
        idx3[a] = s;
        /* Radiological convention: the patient's right (+i in RAS) on the screen's left. */
        idx3[u] = u == 0 ? nu - 1 - x : x;
        idx3[v] = nv - 1 - y;  /* higher index at the top */
        int32_t lin = lv_volume_get (vol, idx3[0], idx3[1], idx3[2]);
        int32_t lout = overlay ? lv_volume_get (self->result, idx3[0], idx3[1], idx3[2]) : lin;
        gboolean added = overlay && lout != lin && lout != 0;
        int32_t l = added ? lout : lin;
        guint32 *dst = (guint32 *) (px + y * stride) + x;
        double r = 0.063, g = 0.075, b = 0.094;
        ArLabelStyle st = { { 0 }, FALSE, FALSE, FALSE };
        if (l != 0)
          ar_label_panel_get_style (self->panel, l, added, &st);
        if (st.visible)
          {
            r = st.rgba[0], g = st.rgba[1], b = st.rgba[2];
            if (!added)
              {
                /* Input labels a little darker, so that completed voxels stand out. */
                double k = overlay || self->values ? 0.55 : 0.9;
                r *= k; g *= k; b *= k;
              }
          }
        if (self->values)
          {
            float p = self->values (idx3[0], idx3[1], idx3[2], self->values_data);
            if (p >= 0.02f)
              {
                float c[3];
                ar_value_color (p, c);
                double alpha = 0.35 + 0.55 * p;
                r += alpha * (c[0] - r), g += alpha * (c[1] - g), b += alpha * (c[2] - b);
              }
          }
        *dst = 0xff000000u | ((guint32) (r * 255) << 16) | ((guint32) (g * 255) << 8) | (guint32) (b * 255);
      }
  cairo_surface_mark_dirty (self->image);
}

static void
draw (GtkDrawingArea *area, cairo_t *cr, int w, int h, gpointer data)
{
  ArSliceView *self = data;
  cairo_set_source_rgb (cr, 0.06, 0.07, 0.09);
  cairo_paint (cr);
  if (self->image_dirty)
    build_image (self);
  if (!self->image || !self->input)
    return;
  int a = self->axis_index, u, v;
  plane_axes (a, &u, &v);
  double su = self->input->spacing[u] * dim (self->input, u);
  double sv = self->input->spacing[v] * dim (self->input, v);
  double k = MIN (w / su, h / sv);
  cairo_translate (cr, (w - su * k) / 2, (h - sv * k) / 2);
  cairo_scale (cr, k * self->input->spacing[u], k * self->input->spacing[v]);
  cairo_set_source_surface (cr, self->image, 0, 0);
  cairo_pattern_set_filter (cairo_get_source (cr), CAIRO_FILTER_NEAREST);
  cairo_paint (cr);
}

static void
update_range (ArSliceView *self)
{
  if (!self->input)
    return;
  int64_t n = dim (self->input, self->axis_index);
  gtk_range_set_range (GTK_RANGE (self->scale), 0, MAX (n - 1, 1));
  gtk_range_set_value (GTK_RANGE (self->scale), n / 2);
}

static void
axis_changed (GObject *dd, GParamSpec *p, ArSliceView *self)
{
  static const int map[3] = { 2, 1, 0 }; /* Axial, Coronal, Sagittal */
  self->axis_index = map[MIN (gtk_drop_down_get_selected (GTK_DROP_DOWN (dd)), 2u)];
  update_range (self);
  invalidate (self);
}

static gboolean
on_scroll (GtkEventControllerScroll *c, double dx, double dy, ArSliceView *self)
{
  double val = gtk_range_get_value (GTK_RANGE (self->scale)) + (dy > 0 ? -1 : dy < 0 ? 1 : 0);
  gtk_range_set_value (GTK_RANGE (self->scale), val);
  return TRUE;
}

static void
ar_slice_view_finalize (GObject *o)
{
  ArSliceView *self = AR_SLICE_VIEW (o);
  g_clear_pointer (&self->image, cairo_surface_destroy);
  G_OBJECT_CLASS (ar_slice_view_parent_class)->finalize (o);
}

static void
ar_slice_view_class_init (ArSliceViewClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = ar_slice_view_finalize;
}

static void
ar_slice_view_init (ArSliceView *self)
{
  gtk_orientable_set_orientation (GTK_ORIENTABLE (self), GTK_ORIENTATION_VERTICAL);
  gtk_box_set_spacing (GTK_BOX (self), 4);
  GtkWidget *bar = gtk_box_new (GTK_ORIENTATION_HORIZONTAL, 6);
  gtk_widget_set_margin_start (bar, 6);
  gtk_widget_set_margin_end (bar, 6);
  gtk_widget_set_margin_top (bar, 6);
  const char *axes[] = { "Axial", "Coronal", "Sagittal", NULL };
  self->axis = gtk_drop_down_new_from_strings (axes);
  g_signal_connect (self->axis, "notify::selected", G_CALLBACK (axis_changed), self);
  gtk_box_append (GTK_BOX (bar), self->axis);
  self->overlay = gtk_check_button_new_with_label ("Completed overlay");
  gtk_check_button_set_active (GTK_CHECK_BUTTON (self->overlay), TRUE);
  g_signal_connect_swapped (self->overlay, "toggled", G_CALLBACK (invalidate), self);
  gtk_box_append (GTK_BOX (bar), self->overlay);
  gtk_box_append (GTK_BOX (self), bar);
  self->area = gtk_drawing_area_new ();
  gtk_widget_set_vexpand (self->area, TRUE);
  gtk_widget_set_size_request (self->area, 260, 200);
  gtk_drawing_area_set_draw_func (GTK_DRAWING_AREA (self->area), draw, self, NULL);
  GtkEventController *sc = gtk_event_controller_scroll_new (GTK_EVENT_CONTROLLER_SCROLL_VERTICAL);
  g_signal_connect (sc, "scroll", G_CALLBACK (on_scroll), self);
  gtk_widget_add_controller (self->area, sc);
  gtk_box_append (GTK_BOX (self), self->area);
  self->scale = gtk_scale_new_with_range (GTK_ORIENTATION_HORIZONTAL, 0, 1, 1);
  gtk_scale_set_digits (GTK_SCALE (self->scale), 0);
  gtk_scale_set_value_pos (GTK_SCALE (self->scale), GTK_POS_RIGHT);
  g_signal_connect_swapped (self->scale, "value-changed", G_CALLBACK (invalidate), self);
  gtk_widget_set_margin_start (self->scale, 6);
  gtk_widget_set_margin_end (self->scale, 6);
  gtk_box_append (GTK_BOX (self), self->scale);
  self->axis_index = 2;
}

GtkWidget *
ar_slice_view_new (void)
{
  return g_object_new (AR_TYPE_SLICE_VIEW, NULL);
}

void
ar_slice_view_show_slice (ArSliceView *self, int axis, int64_t index)
{
  gtk_drop_down_set_selected (GTK_DROP_DOWN (self->axis), (guint) CLAMP (axis, 0, 2));
  if (self->input && index >= 0)
    gtk_range_set_value (GTK_RANGE (self->scale), (double) index);
  invalidate (self);
}

void
ar_slice_view_set_values (ArSliceView *self, ArSliceValueFunc func, gpointer data)
{
  self->values = func;
  self->values_data = data;
  invalidate (self);
}

void
ar_slice_view_set_volumes (ArSliceView *self, const LabelVolume *input, const LabelVolume *result,
                           ArLabelPanel *panel)
{
  gboolean new_input = input != self->input;
  self->input = input;
  self->result = result && input && result->nx == input->nx && result->ny == input->ny
                     && result->nz == input->nz ? result : NULL;
  self->panel = panel;
  gtk_widget_set_sensitive (self->overlay, self->result != NULL);
  if (new_input)
    update_range (self);
  invalidate (self);
}
