/* camera.c: turntable camera maths (see camera.h). */
#include "camera.h"

#include <math.h>
#include <string.h>

static const char *view_names[AR_N_VIEWS] = {
  "anterior", "posterior", "left", "right", "superior", "inferior",
};

const char *
ar_standard_view_to_string (ArStandardView view)
{
  return view < AR_N_VIEWS ? view_names[view] : "anterior";
}

gboolean
ar_standard_view_from_string (const char *name, ArStandardView *view)
{
  for (int i = 0; i < AR_N_VIEWS; i++)
    if (g_ascii_strcasecmp (name, view_names[i]) == 0)
      {
        *view = (ArStandardView) i;
        return TRUE;
      }
  return FALSE;
}

static float
fit_distance (const ArCamera *cam)
{
  /* The bounding sphere's radius over-estimates the projected extent of a box (by
   * about sqrt(3) for a cube), so frame 80 % of it: the scene fills most of the view. */
  return 0.8f * cam->radius / tanf (cam->fov_y * 0.5f);
}

void
ar_camera_init (ArCamera *cam, const float bbox_min[3], const float bbox_max[3])
{
  memset (cam, 0, sizeof *cam);
  float r2 = 0.f;
  for (int a = 0; a < 3; a++)
    {
      float lo = bbox_min[a], hi = bbox_max[a];
      if (!(hi >= lo))
        lo = hi = 0.f;
      cam->home_target[a] = cam->target[a] = 0.5f * (lo + hi);
      r2 += 0.25f * (hi - lo) * (hi - lo);
    }
  cam->radius = MAX (sqrtf (r2), 1.0f);
  cam->fov_y = glm_rad (30.f);
  ar_camera_set_view (cam, AR_VIEW_ANTERIOR);
}

void
ar_camera_set_view (ArCamera *cam, ArStandardView view)
{
  static const float angles[AR_N_VIEWS][2] = {
    [AR_VIEW_ANTERIOR] = { 0.f, 0.f },
    [AR_VIEW_POSTERIOR] = { (float) G_PI, 0.f },
    [AR_VIEW_LEFT] = { (float) -G_PI_2, 0.f },
    [AR_VIEW_RIGHT] = { (float) G_PI_2, 0.f },
    /* From above with anterior at the top of the screen. */
    [AR_VIEW_SUPERIOR] = { (float) G_PI, (float) G_PI_2 },
    /* From below with anterior at the top, patient's right on the screen's left. */
    [AR_VIEW_INFERIOR] = { 0.f, (float) -G_PI_2 },
  };
  if (view >= AR_N_VIEWS)
    view = AR_VIEW_ANTERIOR;
  memcpy (cam->target, cam->home_target, sizeof cam->target);
  cam->azimuth = angles[view][0];
  cam->elevation = angles[view][1];
  cam->distance = fit_distance (cam);
}

void
ar_camera_reset (ArCamera *cam)
{
  ar_camera_set_view (cam, AR_VIEW_ANTERIOR);
}

void
ar_camera_rotate (ArCamera *cam, float d_azimuth, float d_elevation)
{
  cam->azimuth = remainderf (cam->azimuth + d_azimuth, 2.f * (float) G_PI);
  cam->elevation = CLAMP (cam->elevation + d_elevation, (float) -G_PI_2, (float) G_PI_2);
}

static void
camera_basis (const ArCamera *cam, vec3 dir, vec3 up, vec3 right)
{
  float ca = cosf (cam->azimuth), sa = sinf (cam->azimuth);
  float ce = cosf (cam->elevation), se = sinf (cam->elevation);
  /* dir: from the target towards the eye. */
  vec3 d = { ce * sa, ce * ca, se };
  /* d(dir)/d(elevation): always orthogonal to dir, unit length. */
  vec3 u = { -se * sa, -se * ca, ce };
  glm_vec3_copy (d, dir);
  glm_vec3_copy (u, up);
  /* Screen right = forward x up, forward = -dir. */
  vec3 fwd;
  glm_vec3_negate_to (d, fwd);
  glm_vec3_cross (fwd, u, right);
}

void
ar_camera_get_eye (const ArCamera *cam, vec3 eye)
{
  vec3 dir, up, right;
  camera_basis (cam, dir, up, right);
  vec3 t = { cam->target[0], cam->target[1], cam->target[2] };
  glm_vec3_muladds (dir, cam->distance, t);
  glm_vec3_copy (t, eye);
}

void
ar_camera_pan (ArCamera *cam, float dx, float dy, float height)
{
  vec3 dir, up, right;
  camera_basis (cam, dir, up, right);
  float mm_per_px = 2.f * cam->distance * tanf (cam->fov_y * 0.5f) / MAX (height, 1.f);
  for (int a = 0; a < 3; a++)
    cam->target[a] += (-dx * right[a] + dy * up[a]) * mm_per_px;
}

void
ar_camera_zoom (ArCamera *cam, float factor)
{
  if (!(factor > 0.f))
    return;
  float d = cam->distance * factor;
  cam->distance = CLAMP (d, 0.05f * cam->radius, 20.f * cam->radius);
}

void
ar_camera_get_view (const ArCamera *cam, mat4 view)
{
  vec3 dir, up, right, eye;
  camera_basis (cam, dir, up, right);
  ar_camera_get_eye (cam, eye);
  vec3 t = { cam->target[0], cam->target[1], cam->target[2] };
  glm_lookat (eye, t, up, view);
}

void
ar_camera_get_projection (const ArCamera *cam, float aspect, mat4 proj)
{
  /* Near/far enclose the bounding sphere wherever the target has been panned to. */
  vec3 t = { cam->target[0], cam->target[1], cam->target[2] };
  vec3 h = { cam->home_target[0], cam->home_target[1], cam->home_target[2] };
  float off = glm_vec3_distance (t, h);
  float reach = cam->radius + off;
  float znear = MAX (cam->distance - reach * 1.05f, cam->distance * 0.01f);
  float zfar = cam->distance + reach * 1.05f;
  /* In a portrait viewport keep the nominal field of view horizontally, so that the
   * framing of ar_camera_set_view fits in both directions. */
  aspect = aspect > 0.f ? aspect : 1.f;
  float fov = cam->fov_y;
  if (aspect < 1.f)
    fov = 2.f * atanf (tanf (fov * 0.5f) / aspect);
  glm_perspective (fov, aspect, znear, zfar, proj);
}
