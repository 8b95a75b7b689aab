/* test-render.c: camera maths, mesh simplification, loading scenes, and offscreen
 * rendering (EGL surfaceless; skipped when no EGL display is available). */
#include <math.h>
#include <string.h>
#include <epoxy/gl.h>
#include <stdlib.h>
#include <glib/gstdio.h>

#include "camera.h"
#include "label-scheme.h"
#include "nifti.h"
#include "nrrd.h"
#include "offscreen.h"
#include "renderer.h"
#include "scene.h"
#include "test-util.h"

static ArOffscreen *off;

/* A UV sphere: (n+1)^2 vertices, 2 n^2 triangles, outward winding. */
static ArRenderMesh *
sphere (int label, float cx, float cy, float cz, float r, int n)
{
  int nv = (n + 1) * (n + 1);
  g_autofree float *p = g_new (float, 3 * nv);
  g_autofree guint32 *ix = g_new (guint32, 6 * n * n);
  for (int i = 0; i <= n; i++)
    for (int j = 0; j <= n; j++)
      {
        float th = (float) G_PI * i / n, ph = 2.f * (float) G_PI * j / n;
        int v = i * (n + 1) + j;
        p[3 * v] = cx + r * sinf (th) * cosf (ph);
        p[3 * v + 1] = cy + r * sinf (th) * sinf (ph);
        p[3 * v + 2] = cz + r * cosf (th);
      }
  int t = 0;
  for (int i = 0; i < n; i++)
    for (int j = 0; j < n; j++)
      {
        guint32 a = i * (n + 1) + j, b = a + 1, c = a + n + 1, d = c + 1;
        ix[t++] = a; ix[t++] = c; ix[t++] = b;
        ix[t++] = b; ix[t++] = c; ix[t++] = d;
      }
  return ar_render_mesh_new (label, p, NULL, nv, ix, t / 3);
}

static void
project (const ArCamera *cam, const float p[3], float out[2])
{
  mat4 v, pr, m;
  ar_camera_get_view (cam, v);
  ar_camera_get_projection (cam, 1.f, pr);
  glm_mat4_mul (pr, v, m);
  vec4 q = { p[0], p[1], p[2], 1.f }, r;
  glm_mat4_mulv (m, q, r);
  out[0] = r[0] / r[3];
  out[1] = r[1] / r[3];
}

static void
test_camera_views (void)
{
  float lo[3] = { -100, -100, -100 }, hi[3] = { 100, 100, 100 };
  ArCamera cam;
  ar_camera_init (&cam, lo, hi);
  float right[3] = { 50, 0, 0 }, ant[3] = { 0, 50, 0 }, sup[3] = { 0, 0, 50 }, s[2];
  /* Anterior view: patient's right on the screen's left, superior up. */
  project (&cam, right, s);
  g_assert_cmpfloat (s[0], <, -0.1f);
  project (&cam, sup, s);
  g_assert_cmpfloat (s[1], >, 0.1f);
  /* Left view: anterior on the screen's left. */
  ar_camera_set_view (&cam, AR_VIEW_LEFT);
  project (&cam, ant, s);
  g_assert_cmpfloat (s[0], <, -0.1f);
  /* Superior view: anterior at the top, patient's right on the right. */
  ar_camera_set_view (&cam, AR_VIEW_SUPERIOR);
  project (&cam, ant, s);
  g_assert_cmpfloat (s[1], >, 0.1f);
  project (&cam, right, s);
  g_assert_cmpfloat (s[0], >, 0.1f);
  /* Inferior view: anterior at the top, patient's right on the left. */
  ar_camera_set_view (&cam, AR_VIEW_INFERIOR);
  project (&cam, ant, s);
  g_assert_cmpfloat (s[1], >, 0.1f);
  project (&cam, right, s);
  g_assert_cmpfloat (s[0], <, -0.1f);
  /* The whole box stays in view from every standard view. */
  for (int v = 0; v < AR_N_VIEWS; v++)
    {
      ar_camera_set_view (&cam, v);
      for (int c = 0; c < 8; c++)
        {
          float p[3] = { c & 1 ? 100 : -100, c & 2 ? 100 : -100, c & 4 ? 100 : -100 };
          project (&cam, p, s);
          g_assert_cmpfloat (fabsf (s[0]), <, 1.2f);  /* corners may touch the edges */
        }
    }
  ArStandardView parsed;
  g_assert_true (ar_standard_view_from_string ("Posterior", &parsed));
  g_assert_cmpint (parsed, ==, AR_VIEW_POSTERIOR);
  g_assert_false (ar_standard_view_from_string ("sideways", &parsed));
}

static void
test_cluster (void)
{
  g_autoptr (ArRenderMesh) m = sphere (1, 0, 0, 0, 50, 120);
  guint32 full = ar_render_mesh_get_n_triangles (m), lod = ar_render_mesh_get_n_triangles_lod (m);
  int n_levels = ar_render_mesh_get_n_levels (m);
  g_test_message ("sphere: %u triangles, simplified %u, %d levels", full, lod, n_levels);
  g_assert_cmpint (n_levels, >=, AR_RENDER_MESH_MAX_LOD);  /* stops below ~1000 triangles */
  g_assert_cmpuint (ar_render_mesh_get_n_triangles_level (m, 0), ==, full);
  g_assert_cmpuint (lod, ==, ar_render_mesh_get_n_triangles_level (m, 1));
  /* each level keeps 0.2-0.6 of the one before (cells 2, 3, 4.5, 7, 10 edges) */
  for (int k = 1; k < n_levels; k++)
    {
      guint32 prev = ar_render_mesh_get_n_triangles_level (m, k - 1);
      guint32 cur = ar_render_mesh_get_n_triangles_level (m, k);
      g_test_message ("level %d: %u triangles", k, cur);
      g_assert_cmpuint (cur, <, prev * 6 / 10);
      g_assert_cmpuint (cur, >, prev / 5);
    }
  g_assert_cmpuint (ar_render_mesh_get_n_triangles_level (m, n_levels - 1), >, 100);
  /* beyond the last level: the last */
  g_assert_cmpuint (ar_render_mesh_get_n_triangles_level (m, 99), ==,
                    ar_render_mesh_get_n_triangles_level (m, n_levels - 1));
  float mn[3], mx[3];
  ar_render_mesh_get_bounds (m, mn, mx);
  for (int a = 0; a < 3; a++)
    {
      g_assert_cmpfloat (fabsf (mn[a] + 50.f), <, 0.01f);
      g_assert_cmpfloat (fabsf (mx[a] - 50.f), <, 0.01f);
    }
}

static guint8 *
draw (ArRenderer *r, const ArCamera *cam, int w, int h)
{
  g_autoptr (GError) error = NULL;
  g_assert_true (ar_renderer_draw (r, cam, w, h, ar_offscreen_get_fbo (off), &error));
  g_assert_no_error (error);
  return ar_offscreen_read_rgba (off);
}

/* A renderer realized in the offscreen context; NULL (the test is skipped) without one. */
static ArRenderer *
realized_renderer (void)
{
  if (!off)
    {
      g_test_skip ("no EGL surfaceless display");
      return NULL;
    }
  g_autoptr (GError) error = NULL;
  ArRenderer *r = ar_renderer_new ();
  g_assert_true (ar_renderer_realize (r, &error));
  g_assert_no_error (error);
  return r;
}

/* @cam looking at all the meshes of @r (which has some). */
static void
camera_on_meshes (ArRenderer *r, ArCamera *cam)
{
  float mn[3], mx[3];
  g_assert_true (ar_renderer_get_bounds (r, mn, mx));
  ar_camera_init (cam, mn, mx);
}

static void
test_draw (void)
{
  g_autoptr (ArRenderer) r = realized_renderer ();
  if (!r)
    return;
  const int W = 160, H = 120;
  g_autoptr (ArRenderMesh) red = sphere (1, 0, 0, 0, 30, 48);
  ar_renderer_set_mesh (r, red);
  ArLabelStyle st = { { 0.9f, 0.1f, 0.1f, 1.f }, TRUE, FALSE };
  ar_renderer_set_style (r, 1, &st);
  ArCamera cam;
  camera_on_meshes (r, &cam);
  g_autofree guint8 *px = draw (r, &cam, W, H);
  const guint8 *c = px + ((H / 2) * W + W / 2) * 4, *corner = px;
  g_test_message ("centre %d %d %d, corner %d %d %d", c[0], c[1], c[2], corner[0], corner[1], corner[2]);
  g_assert_cmpint (c[0], >, 120);
  g_assert_cmpint (c[0], >, 2 * c[1]);
  g_assert_cmpint (c[0], >, 2 * c[2]);
  g_assert_cmpint (corner[0] + corner[1] + corner[2], <, 3 * 90);

  /* Hidden: nothing of the sphere is drawn. */
  st.visible = FALSE;
  ar_renderer_set_style (r, 1, &st);
  g_autofree guint8 *hidden = draw (r, &cam, W, H);
  c = hidden + ((H / 2) * W + W / 2) * 4;
  g_assert_cmpint (c[0], <, 90);

  /* Transparent red sphere in front of an opaque blue one: both contribute, and the
   * result does not depend on the order the meshes were given in. */
  st = (ArLabelStyle) { { 0.9f, 0.1f, 0.1f, 0.4f }, TRUE, FALSE };
  ar_renderer_set_style (r, 1, &st);
  g_autoptr (ArRenderMesh) blue = sphere (2, 0, -60, 0, 30, 48);  /* behind: -y is posterior */
  ArLabelStyle sb = { { 0.1f, 0.2f, 0.9f, 1.f }, TRUE, FALSE };
  ar_renderer_set_style (r, 2, &sb);
  ar_renderer_set_mesh (r, blue);
  g_autofree guint8 *mix1 = draw (r, &cam, W, H);
  ar_renderer_clear (r);
  ar_renderer_set_mesh (r, blue);
  ar_renderer_set_mesh (r, red);
  g_autofree guint8 *mix2 = draw (r, &cam, W, H);
  c = mix1 + ((H / 2) * W + W / 2) * 4;
  g_test_message ("transparent over opaque: %d %d %d", c[0], c[1], c[2]);
  g_assert_cmpint (c[0], >, 60);
  g_assert_cmpint (c[2], >, 60);
  int maxdiff = 0;
  for (int i = 0; i < W * H * 4; i++)
    maxdiff = MAX (maxdiff, abs ((int) mix1[i] - (int) mix2[i]));
  g_test_message ("order independence: max difference %d", maxdiff);
  g_assert_cmpint (maxdiff, <=, 2);
  ar_renderer_unrealize (r);
}

static void
test_budget (void)
{
  g_autoptr (ArRenderer) r = realized_renderer ();
  if (!r)
    return;
  const int W = 160, H = 120;
  g_autoptr (ArRenderMesh) a = sphere (1, -40, 0, 0, 30, 96);
  g_autoptr (ArRenderMesh) b = sphere (2, 40, 0, 0, 30, 96);
  g_autoptr (ArRenderMesh) hidden = sphere (3, 0, 0, 40, 30, 96);
  ar_renderer_set_mesh (r, a);
  ar_renderer_set_mesh (r, b);
  ar_renderer_set_mesh (r, hidden);
  ArLabelStyle st = { { 0.9f, 0.1f, 0.1f, 1.f }, TRUE, FALSE };
  ar_renderer_set_style (r, 1, &st);
  ar_renderer_set_style (r, 2, &st);
  st.visible = FALSE;
  ar_renderer_set_style (r, 3, &st);
  ArCamera cam;
  camera_on_meshes (r, &cam);
  guint64 full = 2 * (guint64) ar_render_mesh_get_n_triangles (a);

  g_autofree guint8 *still = draw (r, &cam, W, H);
  g_assert_cmpint (ar_renderer_get_last_level (r), ==, 0);
  g_assert_cmpuint (ar_renderer_get_last_triangles (r), ==, full);

  /* Each budget gives the finest level that fits; hidden meshes do not count. */
  ar_renderer_set_interactive (r, TRUE);
  guint64 budgets[] = { full, full / 2, full / 5, full / 20 };
  int last_level = -1;
  for (gsize i = 0; i < G_N_ELEMENTS (budgets); i++)
    {
      ar_renderer_set_triangle_budget (r, budgets[i]);
      g_autofree guint8 *px = draw (r, &cam, W, H);
      int level = ar_renderer_get_last_level (r);
      guint64 drawn = ar_renderer_get_last_triangles (r);
      g_test_message ("budget %" G_GUINT64_FORMAT ": level %d, %" G_GUINT64_FORMAT " triangles",
                      budgets[i], level, drawn);
      g_assert_cmpuint (drawn, <=, budgets[i]);
      g_assert_cmpint (level, >=, last_level);
      if (level > 0)  /* the next finer level would not have fitted */
        g_assert_cmpuint (2 * (guint64) ar_render_mesh_get_n_triangles_level (a, level - 1), >, budgets[i]);
      last_level = level;
      /* still a red sphere in the middle of the left half */
      const guint8 *c = px + ((H / 2) * W + W / 4) * 4;
      g_assert_cmpint (c[0], >, 2 * c[1]);
    }
  g_assert_cmpint (last_level, >=, 2);
  /* Drawn at half resolution and scaled up: still the two red spheres, in place. */
  ar_renderer_set_triangle_budget (r, full);
  ar_renderer_set_interactive_scale (r, 0.5f);
  g_autofree guint8 *half = draw (r, &cam, W, H);
  for (int side = 1; side <= 3; side += 2)
    {
      const guint8 *c = half + ((H / 2) * W + side * W / 4) * 4;
      g_assert_cmpint (c[0], >, 120);
      g_assert_cmpint (c[0], >, 2 * c[1]);
    }
  g_assert_cmpint (half[0] + half[1] + half[2], <, 3 * 90);  /* corner: background */
  int differ = 0;
  for (int i = 0; i < W * H * 4; i += 4)
    differ += abs ((int) half[i] - (int) still[i]) > 40;
  g_test_message ("half resolution: %d of %d pixels differ by more than 40", differ, W * H);
  g_assert_cmpint (differ, <, W * H / 10);  /* edges only */
  /* An impossible budget: the coarsest level. */
  ar_renderer_set_triangle_budget (r, 10);
  g_autofree guint8 *coarse = draw (r, &cam, W, H);
  g_assert_cmpint (ar_renderer_get_last_level (r), ==, AR_RENDER_MESH_MAX_LOD);
  /* Release: full quality again. */
  ar_renderer_set_interactive (r, FALSE);
  g_autofree guint8 *again = draw (r, &cam, W, H);
  g_assert_cmpint (ar_renderer_get_last_level (r), ==, 0);
  g_assert_cmpuint (ar_renderer_get_last_triangles (r), ==, full);
  g_assert_cmpmem (again, W * H * 4, still, W * H * 4);
  ar_renderer_unrealize (r);
}

static void
test_png (void)
{
  guint8 img[2 * 3 * 4];
  for (int i = 0; i < 24; i++)
    img[i] = (guint8) (i * 10);
  g_autofree char *dir = g_dir_make_tmp ("ar-png-XXXXXX", NULL);
  g_autofree char *path = g_build_filename (dir, "t.png", NULL);
  g_autoptr (GError) error = NULL;
  g_assert_true (ar_png_write_rgba (path, img, 3, 2, &error));
  g_autofree char *data = NULL;
  gsize len = 0;
  g_assert_true (g_file_get_contents (path, &data, &len, NULL));
  g_assert_cmpuint (len, >, 8 + 25 + 12);
  g_assert_cmpmem (data, 8, "\x89PNG\r\n\x1a\n", 8);
  g_assert_cmpmem (data + 12, 4, "IHDR", 4);
  g_assert_cmpint ((guint8) data[19], ==, 3);  /* width */
  g_assert_cmpint ((guint8) data[23], ==, 2);  /* height */
  g_assert_false (ar_png_write_rgba ("/nonexistent-dir/x.png", img, 3, 2, &error));
  g_assert_error (error, AR_OFFSCREEN_ERROR, AR_OFFSCREEN_ERROR_IO);
  g_assert_nonnull (strstr (error->message, "/nonexistent-dir/x.png"));
  g_unlink (path);
  g_rmdir (dir);
}

/* Two boxes (labels 3 and 5) in a 2 mm grid. */
static LabelVolume *
two_boxes (void)
{
  const double sp[3] = { 2, 2, 2 };
  LabelVolume *v = lv_volume_new (24, 20, 16, sp, 1, NULL);
  for (int k = 3; k < 12; k++)
    for (int j = 3; j < 16; j++)
      for (int i = 2; i < 20; i++)
        lv_volume_set (v, i, j, k, i < 10 ? 3 : 5);
  return v;
}

static void
scene_loaded (GObject *source, GAsyncResult *res, gpointer data)
{
  *(GAsyncResult **) data = g_object_ref (res);
}

static void
test_scene (void)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *dir = g_dir_make_tmp ("ar-scene-XXXXXX", NULL);
  g_autofree char *path = g_build_filename (dir, "boxes.nii.gz", NULL);
  g_autoptr (LabelVolume) v = two_boxes ();
  g_assert_true (nifti_write (v, path, 0, &error));

  /* read, built-in table, histogram, smoothed surfaces, one render mesh per surface */
  gint stage = AR_SCENE_STAGE_NONE;
  ArSceneOptions o = { .smooth_iterations = 10, .find_table = TRUE, .stage = &stage };
  g_autoptr (ArScene) s = ar_scene_load (path, NULL, &o, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpint (stage, ==, AR_SCENE_STAGE_PREPARE);
  g_assert_cmpstr (s->path, ==, path);
  g_assert_nonnull (s->table);
  g_assert_no_error (s->table_error);
  g_assert_cmpint (ar_scene_count (s, 3), ==, 8 * 13 * 9);
  g_assert_cmpint (ar_scene_count (s, 5), ==, 10 * 13 * 9);
  g_assert_cmpint (ar_scene_count (s, 4), ==, 0);
  g_assert_cmpint (ar_scene_count (s, 1000), ==, 0);
  g_assert_cmpfloat (fabs (s->ml_per_voxel - 0.008), <, 1e-9);
  g_assert_cmpuint (s->surfaces->n_meshes, ==, 2);
  g_assert_cmpuint (s->surfaces->smooth_iterations, ==, 10);
  g_assert_cmpuint (s->meshes->len, ==, 2);
  g_assert_true (ar_scene_has_label (s, 5));
  g_assert_false (ar_scene_has_label (s, 4));
  for (guint i = 0; i < s->meshes->len; i++)
    {
      g_assert_cmpint (ar_render_mesh_get_label (s->meshes->pdata[i]), ==, s->surfaces->meshes[i]->label);
      g_assert_cmpuint (ar_render_mesh_get_n_triangles (s->meshes->pdata[i]), ==,
                        s->surfaces->meshes[i]->n_triangles);
    }
  g_autoptr (ArRenderer) r = ar_renderer_new ();
  ar_scene_add_to_renderer (s, r);
  g_assert_cmpuint (ar_renderer_get_n_meshes (r), ==, 2);

  /* a volume in memory under the file's name; no table unless asked */
  g_autoptr (ArScene) mem = ar_scene_load (path, two_boxes (), NULL, NULL, &error);
  g_assert_no_error (error);
  g_assert_null (mem->table);
  g_assert_cmpuint (mem->surfaces->smooth_iterations, ==, 0);
  g_assert_cmpuint (surface_set_n_triangles (mem->surfaces), >, 0);

  /* errors name the file; cancellation is G_IO_ERROR_CANCELLED */
  g_autofree char *missing = g_build_filename (dir, "missing.nii.gz", NULL);
  g_assert_null (ar_scene_load (missing, NULL, &o, NULL, &error));
  g_assert_nonnull (error);
  g_assert_nonnull (strstr (error->message, missing));
  g_clear_error (&error);
  g_autoptr (GCancellable) cancel = g_cancellable_new ();
  g_cancellable_cancel (cancel);
  g_assert_null (ar_scene_load (path, NULL, &o, cancel, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_clear_error (&error);

  /* in a worker */
  GAsyncResult *res = NULL;
  ar_scene_load_async (path, NULL, &o, NULL, scene_loaded, &res);
  while (!res)
    g_main_context_iteration (NULL, TRUE);
  g_autoptr (ArScene) a = ar_scene_load_finish (res, &error);
  g_object_unref (res);
  g_assert_no_error (error);
  g_assert_cmpuint (surface_set_n_triangles (a->surfaces), ==, surface_set_n_triangles (s->surfaces));
  g_unlink (path);
  g_rmdir (dir);
}

/* A 3D Slicer file (3D Slicer's TotalSegmentator extension) whose display names match no
 * scheme while its segment IDs are TotalSegmentator's names: the scene resolves the scheme
 * from the IDs (scheme_names) and shows the display names. */
static void
test_scene_slicer_ids (void)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *dir = g_dir_make_tmp ("ar-scene-ids-XXXXXX", NULL);
  g_autofree char *path = g_build_filename (dir, "boxes.seg.nrrd", NULL);
  g_autoptr (LabelVolume) v = two_boxes ();
  g_autoptr (LabelTable) shown = lt_table_new ("display");
  lt_table_set (shown, 3, "Niere links", NULL);
  lt_table_set (shown, 5, "Leber", NULL);
  g_autoptr (LabelTable) ids = lt_table_new ("ids");
  lt_table_set (ids, 3, "kidney_left", NULL);
  lt_table_set (ids, 5, "liver", NULL);
  g_assert_true (nrrd_write_full (NULL, v, shown, ids, path, 0, &error));
  g_assert_no_error (error);

  ArSceneOptions o = { .find_table = TRUE };
  g_autoptr (ArScene) s = ar_scene_load (path, NULL, &o, NULL, &error);
  g_assert_no_error (error);
  g_assert_nonnull (s->segment_ids);
  g_assert_nonnull (s->scheme);
  g_assert_no_error (s->scheme_error);
  g_assert_true (s->scheme_names == s->segment_ids);
  g_assert_cmpint (label_scheme_class_of (s->scheme, 5), ==, LT_LIVER);
  g_assert_cmpstr (lt_table_lookup (s->table, 5)->name, ==, "Leber");
  g_assert_cmpstr (lt_table_lookup (s->scheme_names, 3)->name, ==, "kidney_left");

  /* without segment IDs the same names resolve no scheme */
  g_autofree char *plain = g_build_filename (dir, "names.seg.nrrd", NULL);
  g_assert_true (nrrd_write_full (NULL, v, shown, NULL, plain, 0, &error));
  g_autoptr (ArScene) p = ar_scene_load (plain, NULL, &o, NULL, &error);
  g_assert_no_error (error);
  g_assert_null (p->scheme);
  g_assert_nonnull (p->scheme_error);
  g_unlink (path);
  g_unlink (plain);
  g_rmdir (dir);
}

static const TestCase test_cases[] = {
  { "/render/camera-views", test_camera_views },
  { "/render/cluster", test_cluster },
  { "/render/draw", test_draw },
  { "/render/budget", test_budget },
  { "/render/png", test_png },
  { "/render/scene", test_scene },
  { "/render/scene-slicer-ids", test_scene_slicer_ids },
};

/* the offscreen context of the drawing tests, NULL where there is none */
static void
offscreen_open (void)
{
  g_autoptr (GError) error = NULL;
  off = ar_offscreen_new (160, 120, &error);
  if (!off)
    g_test_message ("offscreen rendering unavailable: %s", error->message);
}

static void
offscreen_close (void)
{
  ar_offscreen_free (off);
}

TEST_UTIL_MAIN_WITH (test_cases, offscreen_open, offscreen_close)
