/* ar-view.h: a GtkGLArea showing organ surfaces with an orbiting camera.
 *
 * Several views can share one ArCamera (linked cameras): a view that the user moves
 * emits "camera-changed" and whoever owns the camera redraws the others; a drag emits
 * "interaction" (gboolean active) at its start and end.  Meshes and
 * styles are set on the view's ArRenderer (ar_view_get_renderer) followed by
 * ar_view_queue_redraw; GL work happens only in realize/unrealize/render. */
#pragma once

#include <gtk/gtk.h>
#include "camera.h"
#include "renderer.h"

G_BEGIN_DECLS

#define AR_TYPE_VIEW (ar_view_get_type ())
G_DECLARE_FINAL_TYPE (ArView, ar_view, AR, VIEW, GtkGLArea)

GtkWidget *ar_view_new (void);
/* Borrowed; must outlive the view (the window owns it). */
void ar_view_set_camera (ArView *self, ArCamera *camera);
ArCamera *ar_view_get_camera (ArView *self);
ArRenderer *ar_view_get_renderer (ArView *self);
void ar_view_queue_redraw (ArView *self);
/* Frames drawn so far and the CPU+GPU time of the last one (ms, with glFinish when
 * timing is enabled by ar_view_set_timing). */
guint ar_view_get_n_frames (ArView *self);
/* Draw the next frame as while dragging and the full-quality one right after (new
 * scenes show up sooner). */
void ar_view_queue_quick_redraw (ArView *self);
/* Monotonic times (µs) of the first frame with meshes, and of the first such frame at
 * full quality (0: not yet). */
gint64 ar_view_get_first_drawn_time (ArView *self);
gint64 ar_view_get_first_full_time (ArView *self);
double ar_view_get_last_frame_ms (ArView *self);
void ar_view_set_timing (ArView *self, gboolean timing);
/* Draw simplified meshes without multisampling (set while dragging and in the
 * turntable).  A drag in a view emits "interaction" (TRUE on press, FALSE on release)
 * so that the owner can switch the linked views too. */
void ar_view_set_interactive (ArView *self, gboolean interactive);
gboolean ar_view_get_interactive (ArView *self);
/* FALSE while a quick frame, its refinement or the pause after a scroll or key step is
 * still to come: the last frame drawn is the final one only when TRUE (a drag held by the
 * user or by ar_view_set_interactive counts as settled). */
gboolean ar_view_is_settled (ArView *self);
/* Resolution scale of the views while interactive (ar_renderer_set_interactive_scale). */
#define AR_VIEW_DRAG_SCALE 0.5f
/* Triangles this view may draw while interactive (see ar_renderer_set_triangle_budget). */
void ar_view_set_triangle_budget (ArView *self, guint64 max_triangles);

G_END_DECLS
