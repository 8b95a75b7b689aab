/* camera.h: an orbiting (turntable) camera for anatomy views.
 *
 * World coordinates are NIfTI RAS+ millimetres: +x patient right, +y anterior,
 * +z superior.  The camera orbits a target point; azimuth 0 looks at the
 * patient from the front (anterior view), elevation +pi/2 looks down from
 * above.  The up vector is the derivative of the eye direction with respect
 * to elevation, so it is defined at the poles too.
 */
#pragma once

#include <glib.h>
#include <cglm/cglm.h>

G_BEGIN_DECLS

typedef enum {
  AR_VIEW_ANTERIOR,
  AR_VIEW_POSTERIOR,
  AR_VIEW_LEFT,
  AR_VIEW_RIGHT,
  AR_VIEW_SUPERIOR,
  AR_VIEW_INFERIOR,
  AR_N_VIEWS
} ArStandardView;

typedef struct {
  float target[3];    /* orbit centre, world mm */
  float home_target[3];
  float radius;       /* radius of the scene's bounding sphere, mm (> 0) */
  float distance;     /* eye to target, mm */
  float azimuth;      /* radians, 0 = anterior, +pi/2 = patient's right */
  float elevation;    /* radians in [-pi/2, pi/2] */
  float fov_y;        /* vertical field of view, radians */
} ArCamera;

/* Frame a bounding box (world mm) from the anterior view. */
void ar_camera_init (ArCamera *cam, const float bbox_min[3], const float bbox_max[3]);
/* Back to the framing of init, keeping the standard view @view. */
void ar_camera_set_view (ArCamera *cam, ArStandardView view);
void ar_camera_reset (ArCamera *cam);
/* Turntable rotation: @d_azimuth about the superior axis, @d_elevation about the screen's x axis. */
void ar_camera_rotate (ArCamera *cam, float d_azimuth, float d_elevation);
/* Move the target by a drag of (@dx, @dy) pixels in a viewport @height pixels high (y down). */
void ar_camera_pan (ArCamera *cam, float dx, float dy, float height);
/* Multiply the distance by @factor (< 1 zooms in); clamped to a sensible range. */
void ar_camera_zoom (ArCamera *cam, float factor);

void ar_camera_get_eye (const ArCamera *cam, vec3 eye);
void ar_camera_get_view (const ArCamera *cam, mat4 view);
void ar_camera_get_projection (const ArCamera *cam, float aspect, mat4 proj);

/* Name <-> view ("anterior", "posterior", "left", "right", "superior", "inferior"). */
const char *ar_standard_view_to_string (ArStandardView view);
gboolean ar_standard_view_from_string (const char *name, ArStandardView *view);

G_END_DECLS
