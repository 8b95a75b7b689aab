/* ar-view.c: GtkGLArea subclass drawing organ surfaces (see ar-view.h). */
#include "ar-view.h"

#include <epoxy/gl.h>
#include <malloc.h>
#include <math.h>

struct _ArView {
  GtkGLArea parent_instance;
  ArRenderer *renderer;
  ArCamera *camera;
  ArCamera own_camera;
  double last_x, last_y;
  guint drag_button;
  gboolean drag_pan;
  double zoom_start_distance;
  guint n_frames;
  double last_frame_ms;
  gboolean timing;
  gboolean interactive_drag, interactive_external, interactive_settle;
  guint settle_timeout;   /* after scroll, pinch or key steps: full quality once they stop */
  gboolean quick;         /* the next frame as while dragging, then refine */
  guint refine_idle;
  gboolean last_frame_interactive;
  gint64 t_first_drawn, t_first_full;  /* first frames with meshes (monotonic µs) */
};

G_DEFINE_FINAL_TYPE (ArView, ar_view, GTK_TYPE_GL_AREA)

enum { SIGNAL_CAMERA_CHANGED, SIGNAL_INTERACTION, N_SIGNALS };
static guint signals[N_SIGNALS];

#define ROTATE_RAD_PER_PX 0.008f
#define KEY_ROTATE_RAD ((float) G_PI / 36.f)  /* 5 degrees */

static void
camera_changed (ArView *self)
{
  gtk_gl_area_queue_render (GTK_GL_AREA (self));
  g_signal_emit (self, signals[SIGNAL_CAMERA_CHANGED], 0);
}

static gboolean
is_interactive (ArView *self)
{
  return self->interactive_drag || self->interactive_external || self->interactive_settle || self->quick;
}

static gboolean
refine (gpointer data)
{
  ArView *self = data;
  self->refine_idle = 0;
  gtk_gl_area_queue_render (GTK_GL_AREA (self));
  return G_SOURCE_REMOVE;
}

#define SETTLE_MS 300

static gboolean
settle_done (gpointer data)
{
  ArView *self = data;
  self->settle_timeout = 0;
  self->interactive_settle = FALSE;
  if (!self->interactive_drag)
    g_signal_emit (self, signals[SIGNAL_INTERACTION], 0, FALSE);
  gtk_gl_area_queue_render (GTK_GL_AREA (self));
  return G_SOURCE_REMOVE;
}

/* Discrete steps (scroll, pinch, keys) draw as while dragging until they pause. */
static void
interactive_step (ArView *self)
{
  if (!self->interactive_settle && !self->interactive_drag)
    g_signal_emit (self, signals[SIGNAL_INTERACTION], 0, TRUE);
  self->interactive_settle = TRUE;
  g_clear_handle_id (&self->settle_timeout, g_source_remove);
  self->settle_timeout = g_timeout_add (SETTLE_MS, settle_done, self);
}

static void
ar_view_realize (GtkWidget *widget)
{
  ArView *self = AR_VIEW (widget);
  GTK_WIDGET_CLASS (ar_view_parent_class)->realize (widget);
  gtk_gl_area_make_current (GTK_GL_AREA (self));
  if (gtk_gl_area_get_error (GTK_GL_AREA (self)) != NULL)
    return;
  g_autoptr (GError) error = NULL;
  if (!ar_renderer_realize (self->renderer, &error))
    gtk_gl_area_set_error (GTK_GL_AREA (self), error);
}

static void
ar_view_unrealize (GtkWidget *widget)
{
  ArView *self = AR_VIEW (widget);
  gtk_gl_area_make_current (GTK_GL_AREA (self));
  if (gtk_gl_area_get_error (GTK_GL_AREA (self)) == NULL)
    ar_renderer_unrealize (self->renderer);
  GTK_WIDGET_CLASS (ar_view_parent_class)->unrealize (widget);
}

static void
forget_context (gpointer surface, GObject *context)
{
  g_object_steal_data (surface, "ar-view-gl-context");
  g_object_unref (surface);
}

/* The views of a window draw in one GL context (each into its own framebuffer, as
 * GtkGLArea does): on llvmpipe a context keeps memory after each frame in proportion to
 * the triangles it drew, so six contexts (the pair and the grid) held six times that. */
static GdkGLContext *
ar_view_create_context (GtkGLArea *area)
{
  GdkSurface *surface = gtk_native_get_surface (gtk_widget_get_native (GTK_WIDGET (area)));
  GdkGLContext *shared = g_object_get_data (G_OBJECT (surface), "ar-view-gl-context");
  if (shared)
    return g_object_ref (shared);
  g_autoptr (GError) error = NULL;
  GdkGLContext *context = gdk_surface_create_gl_context (surface, &error);
  if (!context)
    {
      gtk_gl_area_set_error (area, error);
      return NULL;
    }
  gdk_gl_context_set_required_version (context, 3, 3);
  if (!gdk_gl_context_realize (context, &error))
    {
      gtk_gl_area_set_error (area, error);
      g_object_unref (context);
      return NULL;
    }
  /* the surface names the context while it lives */
  g_object_set_data (G_OBJECT (surface), "ar-view-gl-context", context);
  g_object_weak_ref (G_OBJECT (context), forget_context, g_object_ref (surface));
  return context;
}

/* A full-quality frame of llvmpipe frees tens of MiB that glibc keeps (after Compare All
 * on the demo: 460 MiB resident, 390 MiB once given back); so do background jobs.  Half a
 * second after the last such frame of any view, the free memory goes back to the system. */
static guint trim_timer;

static gpointer
trim_thread (gpointer data)
{
  malloc_trim (0);   /* walks every arena: off the main thread */
  return NULL;
}

static gboolean
trim_memory (gpointer data)
{
  trim_timer = 0;
  g_thread_unref (g_thread_new ("ar-trim", trim_thread, NULL));
  return G_SOURCE_REMOVE;
}

static void
trim_memory_soon (void)
{
  g_clear_handle_id (&trim_timer, g_source_remove);
  trim_timer = g_timeout_add (500, trim_memory, NULL);
}

static gboolean
ar_view_render (GtkGLArea *area, GdkGLContext *context)
{
  ArView *self = AR_VIEW (area);
  if (!ar_renderer_is_realized (self->renderer))
    return FALSE;
  gint64 t0 = g_get_monotonic_time ();
  GLint fbo = 0;
  glGetIntegerv (GL_DRAW_FRAMEBUFFER_BINDING, &fbo);
  int scale = gtk_widget_get_scale_factor (GTK_WIDGET (self));
  int w = gtk_widget_get_width (GTK_WIDGET (self)) * scale;
  int h = gtk_widget_get_height (GTK_WIDGET (self)) * scale;
  g_autoptr (GError) error = NULL;
  /* the frame's quality follows the view's state as it is now (simplified while dragging,
   * for a quick frame and until steps pause) */
  gboolean interactive = is_interactive (self);
  ar_renderer_set_interactive (self->renderer, interactive);
  if (!ar_renderer_draw (self->renderer, self->camera, w, h, (guint) fbo, &error))
    {
      gtk_gl_area_set_error (area, error);
      return FALSE;
    }
  gboolean has_meshes = ar_renderer_get_n_meshes (self->renderer) > 0;
  gboolean first = has_meshes && (!self->t_first_drawn || (!self->t_first_full && !interactive));
  if (self->timing || first)
    glFinish ();
  gint64 t1 = g_get_monotonic_time ();
  self->last_frame_ms = (t1 - t0) / 1e3;
  self->n_frames++;
  self->last_frame_interactive = interactive;
  if (has_meshes && !self->t_first_drawn)
    self->t_first_drawn = t1;
  if (has_meshes && !self->t_first_full && !interactive)
    self->t_first_full = t1;
  if (has_meshes && !interactive)
    trim_memory_soon ();
  if (self->quick)
    {
      /* drawn fast; the full-quality frame follows */
      self->quick = FALSE;
      if (!self->refine_idle)
        self->refine_idle = g_idle_add (refine, self);
    }
  return TRUE;
}

static void
drag_begin (GtkGestureDrag *gesture, double x, double y, ArView *self)
{
  self->last_x = 0;
  self->last_y = 0;
  self->drag_button = gtk_gesture_single_get_current_button (GTK_GESTURE_SINGLE (gesture));
  GdkModifierType mods = gtk_event_controller_get_current_event_state (GTK_EVENT_CONTROLLER (gesture));
  self->drag_pan = self->drag_button == GDK_BUTTON_MIDDLE || self->drag_button == GDK_BUTTON_SECONDARY
                   || (mods & (GDK_SHIFT_MASK | GDK_CONTROL_MASK));
  self->interactive_drag = TRUE;
  g_signal_emit (self, signals[SIGNAL_INTERACTION], 0, TRUE);
  gtk_widget_grab_focus (GTK_WIDGET (self));
}

static void
drag_update (GtkGestureDrag *gesture, double ox, double oy, ArView *self)
{
  double dx = ox - self->last_x, dy = oy - self->last_y;
  self->last_x = ox;
  self->last_y = oy;
  if (self->drag_pan)
    ar_camera_pan (self->camera, (float) dx, (float) dy,
                   (float) gtk_widget_get_height (GTK_WIDGET (self)));
  else
    /* Dragging right turns the model right (the camera left); up tilts it up. */
    ar_camera_rotate (self->camera, (float) -dx * ROTATE_RAD_PER_PX,
                      (float) dy * ROTATE_RAD_PER_PX);
  camera_changed (self);
}

static void
drag_end (GtkGestureDrag *gesture, double ox, double oy, ArView *self)
{
  self->interactive_drag = FALSE;
  g_signal_emit (self, signals[SIGNAL_INTERACTION], 0, FALSE);
  camera_changed (self);
}

static gboolean
scroll (GtkEventControllerScroll *ctl, double dx, double dy, ArView *self)
{
  GdkModifierType mods = gtk_event_controller_get_current_event_state (GTK_EVENT_CONTROLLER (ctl));
  if (mods & GDK_SHIFT_MASK)
    ar_camera_rotate (self->camera, (float) dy * 0.05f, 0.f);
  else
    ar_camera_zoom (self->camera, powf (1.1f, (float) dy));
  interactive_step (self);
  camera_changed (self);
  return TRUE;
}

static void
zoom_begin (GtkGesture *gesture, GdkEventSequence *seq, ArView *self)
{
  self->zoom_start_distance = self->camera->distance;
}

static void
zoom_scale_changed (GtkGestureZoom *gesture, double scale, ArView *self)
{
  if (scale > 0.01)
    {
      self->camera->distance = (float) self->zoom_start_distance;
      ar_camera_zoom (self->camera, (float) (1.0 / scale));
      interactive_step (self);
      camera_changed (self);
    }
}

static gboolean
key_pressed (GtkEventControllerKey *ctl, guint keyval, guint keycode, GdkModifierType state,
             ArView *self)
{
  gboolean pan = (state & GDK_SHIFT_MASK) != 0;
  float step_px = 30.f, h = (float) gtk_widget_get_height (GTK_WIDGET (self));
  switch (keyval)
    {
    case GDK_KEY_Left: case GDK_KEY_KP_Left:
      if (pan) ar_camera_pan (self->camera, -step_px, 0, h);
      else ar_camera_rotate (self->camera, KEY_ROTATE_RAD, 0);
      break;
    case GDK_KEY_Right: case GDK_KEY_KP_Right:
      if (pan) ar_camera_pan (self->camera, step_px, 0, h);
      else ar_camera_rotate (self->camera, -KEY_ROTATE_RAD, 0);
      break;
    case GDK_KEY_Up: case GDK_KEY_KP_Up:
      if (pan) ar_camera_pan (self->camera, 0, -step_px, h);
      else ar_camera_rotate (self->camera, 0, KEY_ROTATE_RAD);
      break;
    case GDK_KEY_Down: case GDK_KEY_KP_Down:
      if (pan) ar_camera_pan (self->camera, 0, step_px, h);
      else ar_camera_rotate (self->camera, 0, -KEY_ROTATE_RAD);
      break;
    case GDK_KEY_plus: case GDK_KEY_equal: case GDK_KEY_KP_Add:
      ar_camera_zoom (self->camera, 1.f / 1.15f);
      break;
    case GDK_KEY_minus: case GDK_KEY_KP_Subtract:
      ar_camera_zoom (self->camera, 1.15f);
      break;
    case GDK_KEY_Home: case GDK_KEY_r:
      ar_camera_reset (self->camera);
      break;
    default:
      return FALSE;
    }
  interactive_step (self);
  camera_changed (self);
  return TRUE;
}

static void
ar_view_dispose (GObject *object)
{
  ArView *self = AR_VIEW (object);
  g_clear_handle_id (&self->settle_timeout, g_source_remove);
  g_clear_handle_id (&self->refine_idle, g_source_remove);
  G_OBJECT_CLASS (ar_view_parent_class)->dispose (object);
}

static void
ar_view_finalize (GObject *object)
{
  ArView *self = AR_VIEW (object);
  ar_renderer_free (self->renderer);
  G_OBJECT_CLASS (ar_view_parent_class)->finalize (object);
}

static void
ar_view_class_init (ArViewClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);
  GtkGLAreaClass *area_class = GTK_GL_AREA_CLASS (klass);
  object_class->dispose = ar_view_dispose;
  object_class->finalize = ar_view_finalize;
  widget_class->realize = ar_view_realize;
  widget_class->unrealize = ar_view_unrealize;
  area_class->render = ar_view_render;
  area_class->create_context = ar_view_create_context;
  signals[SIGNAL_CAMERA_CHANGED] =
    g_signal_new ("camera-changed", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL,
                  NULL, G_TYPE_NONE, 0);
  signals[SIGNAL_INTERACTION] =
    g_signal_new ("interaction", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL,
                  NULL, G_TYPE_NONE, 1, G_TYPE_BOOLEAN);
  gtk_widget_class_set_css_name (widget_class, "arview");
}

static void
ar_view_init (ArView *self)
{
  self->renderer = ar_renderer_new ();
  /* While dragging: half resolution (a quarter of the pixels), see AR_VIEW_DRAG_SCALE. */
  ar_renderer_set_interactive_scale (self->renderer, AR_VIEW_DRAG_SCALE);
  ar_renderer_set_samples (self->renderer, 0);
  float lo[3] = { -100, -100, -100 }, hi[3] = { 100, 100, 100 };
  ar_camera_init (&self->own_camera, lo, hi);
  self->camera = &self->own_camera;
  gtk_gl_area_set_required_version (GTK_GL_AREA (self), 3, 3);
  gtk_gl_area_set_has_depth_buffer (GTK_GL_AREA (self), FALSE);
  gtk_gl_area_set_auto_render (GTK_GL_AREA (self), FALSE);
  gtk_widget_set_focusable (GTK_WIDGET (self), TRUE);
  gtk_widget_set_hexpand (GTK_WIDGET (self), TRUE);
  gtk_widget_set_vexpand (GTK_WIDGET (self), TRUE);
  gtk_widget_set_size_request (GTK_WIDGET (self), 200, 200);

  GtkGesture *drag = gtk_gesture_drag_new ();
  gtk_gesture_single_set_button (GTK_GESTURE_SINGLE (drag), 0);
  g_signal_connect (drag, "drag-begin", G_CALLBACK (drag_begin), self);
  g_signal_connect (drag, "drag-update", G_CALLBACK (drag_update), self);
  g_signal_connect (drag, "drag-end", G_CALLBACK (drag_end), self);
  gtk_widget_add_controller (GTK_WIDGET (self), GTK_EVENT_CONTROLLER (drag));

  GtkEventController *sc = gtk_event_controller_scroll_new (GTK_EVENT_CONTROLLER_SCROLL_VERTICAL);
  g_signal_connect (sc, "scroll", G_CALLBACK (scroll), self);
  gtk_widget_add_controller (GTK_WIDGET (self), sc);

  GtkGesture *zoom = gtk_gesture_zoom_new ();
  g_signal_connect (zoom, "begin", G_CALLBACK (zoom_begin), self);
  g_signal_connect (zoom, "scale-changed", G_CALLBACK (zoom_scale_changed), self);
  gtk_widget_add_controller (GTK_WIDGET (self), GTK_EVENT_CONTROLLER (zoom));

  GtkEventController *keys = gtk_event_controller_key_new ();
  g_signal_connect (keys, "key-pressed", G_CALLBACK (key_pressed), self);
  gtk_widget_add_controller (GTK_WIDGET (self), keys);
}

GtkWidget *
ar_view_new (void)
{
  return g_object_new (AR_TYPE_VIEW, NULL);
}

void
ar_view_set_camera (ArView *self, ArCamera *camera)
{
  self->camera = camera ? camera : &self->own_camera;
  gtk_gl_area_queue_render (GTK_GL_AREA (self));
}

ArCamera *ar_view_get_camera (ArView *self) { return self->camera; }
ArRenderer *ar_view_get_renderer (ArView *self) { return self->renderer; }
void ar_view_queue_redraw (ArView *self) { gtk_gl_area_queue_render (GTK_GL_AREA (self)); }
guint ar_view_get_n_frames (ArView *self) { return self->n_frames; }
double ar_view_get_last_frame_ms (ArView *self) { return self->last_frame_ms; }
void ar_view_set_timing (ArView *self, gboolean timing) { self->timing = timing; }

void
ar_view_queue_quick_redraw (ArView *self)
{
  self->quick = TRUE;
  gtk_gl_area_queue_render (GTK_GL_AREA (self));
}

gint64 ar_view_get_first_drawn_time (ArView *self) { return self->t_first_drawn; }
gint64 ar_view_get_first_full_time (ArView *self) { return self->t_first_full; }

void
ar_view_set_triangle_budget (ArView *self, guint64 max_triangles)
{
  ar_renderer_set_triangle_budget (self->renderer, max_triangles);
}

gboolean
ar_view_is_settled (ArView *self)
{
  return !self->quick && !self->refine_idle && !self->interactive_settle
         && (ar_view_get_interactive (self) || !self->last_frame_interactive);
}

gboolean
ar_view_get_interactive (ArView *self)
{
  return self->interactive_drag || self->interactive_external;
}

void
ar_view_set_interactive (ArView *self, gboolean interactive)
{
  if (self->interactive_external == interactive)
    return;
  self->interactive_external = interactive;
  gtk_gl_area_queue_render (GTK_GL_AREA (self));
}
