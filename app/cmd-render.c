/* cmd-render.c: `anatomy render`: draw a label map's organ surfaces to a PNG offscreen
 * (EGL surfaceless), with the same renderer as the desktop application. */
#include "commands.h"

#include <stdio.h>
#include <string.h>

#include "camera.h"
#include "offscreen.h"
#include "renderer.h"
#include "scene.h"

#include <epoxy/gl.h>
#include <stdlib.h>

static int
cmp_double (const void *a, const void *b)
{
  double x = *(const double *) a, y = *(const double *) b;
  return x < y ? -1 : x > y;
}

static void
setup_renderer (ArRenderer *r, const ArScene *s, const ArScene *input, const LabelTable *table,
                GArray *transparent, double opacity)
{
  ar_scene_add_to_renderer (s, r);
  for (guint i = 0; i < s->surfaces->n_meshes; i++)
    {
      int32_t label = s->surfaces->meshes[i]->label;
      guint8 rgba[4];
      lt_table_get_color (table, label, rgba);
      ArLabelStyle st = { { rgba[0] / 255.f, rgba[1] / 255.f, rgba[2] / 255.f, 1.f }, TRUE, FALSE };
      for (guint t = 0; t < transparent->len; t++)
        if (g_array_index (transparent, int32_t, t) == label)
          st.rgba[3] = (float) opacity;
      /* In the completed view, organs missing from the input are highlighted. */
      if (input && !ar_scene_has_label (input, label))
        st.highlight = TRUE;
      ar_renderer_set_style (r, label, &st);
    }
}

/* the --help text of `anatomy render` */
static const char summary[] =
  "Render the organ surfaces of a label map to a PNG image, offscreen (no display needed).\n"
  "IN (and C) may be any label map: .nii, .nii.gz, .hdr, .nrrd, .seg.nrrd, or a folder of\n"
  "binary masks; colours come from --labels, a table beside the file, or the names it carries.\n"
  "An existing PNG is never replaced unless --force is given, and never an input.";

int
cmd_render (int argc, char **argv)
{
  g_autofree char *out = NULL, *completed = NULL, *size = NULL, *view_name = NULL;
  g_autofree char *transparent_list = NULL, *table_path = NULL;
  double opacity = 0.3;
  int smooth = 20, samples = 4;
  gboolean timings = FALSE, drag = FALSE, force = FALSE;
  int frames = 0;
  const GOptionEntry entries[] = {
    { "out", 'o', 0, G_OPTION_ARG_FILENAME, &out, "PNG file to write (required)", "PNG" },
    { "completed", 'c', 0, G_OPTION_ARG_FILENAME, &completed,
      "Completed label map: draw Input and Completed side by side, new organs highlighted", "C.nii.gz" },
    { "size", 's', 0, G_OPTION_ARG_STRING, &size, "Image size (default 1280x800)", "WxH" },
    { "view", 'v', 0, G_OPTION_ARG_STRING, &view_name,
      "anterior (default), posterior, left, right, superior or inferior", "VIEW" },
    { "transparent", 't', 0, G_OPTION_ARG_STRING, &transparent_list,
      "Comma-separated labels (ids or names) drawn transparent", "LABELS" },
    { "opacity", 0, 0, G_OPTION_ARG_DOUBLE, &opacity, "Opacity of transparent labels (default 0.3)", "A" },
    { "labels", 'l', 0, G_OPTION_ARG_FILENAME, &table_path,
      "Label table (names, colours); default: one beside the file, else the built-in organs", "FILE" },
    { "smooth", 0, 0, G_OPTION_ARG_INT, &smooth, "Smoothing iterations (default 20)", "N" },
    { "samples", 0, 0, G_OPTION_ARG_INT, &samples, "Multisampling (1 = off, default 4)", "N" },
    { "timings", 0, 0, G_OPTION_ARG_NONE, &timings, "Print the time of each stage to stderr", NULL },
    { "frames", 0, 0, G_OPTION_ARG_INT, &frames,
      "Also time N more frames per panel, turning the camera (with --timings)", "N" },
    { "force", 'f', 0, G_OPTION_ARG_NONE, &force, "Replace PNG if it exists", NULL },
    { "drag", 0, 0, G_OPTION_ARG_NONE, &drag,
      "Draw those frames as the GUI does while dragging (60k-triangle budget, half resolution, 1x)", NULL },
    { NULL },
  };
  if (!cli_parse_options (&argc, &argv, "IN --out PNG", summary, entries))
    return CLI_EXIT_USAGE;
  if (argc != 2)
    return cli_fail ("render: expected one input label map, got %d (see --help)", argc - 1);
  if (!out)
    return cli_fail ("render: --out PNG is required");
  int w = 1280, h = 800;
  if (size)
    {
      char x = 0, extra = 0;
      if (sscanf (size, "%d%c%d%c", &w, &x, &h, &extra) != 3 || (x != 'x' && x != 'X')
          || w < 16 || h < 16 || w > 8192 || h > 8192)
        return cli_fail ("render: --size '%s' must be WxH with 16..8192 pixels each", size);
    }
  ArStandardView view = AR_VIEW_ANTERIOR;
  if (view_name && !ar_standard_view_from_string (view_name, &view))
    return cli_fail ("render: unknown --view '%s' (anterior, posterior, left, right, superior, inferior)",
                     view_name);
  if (!(opacity >= 0.0 && opacity <= 1.0))
    return cli_fail ("render: --opacity must be in 0..1");
  if (frames < 0 || frames > 10000)
    return cli_fail ("render: --frames must be in 0..10000");
  if (smooth < 0 || smooth > 500)
    return cli_fail ("render: --smooth must be in 0..500");

  g_autoptr (GError) error = NULL;
  gint64 t_start = g_get_monotonic_time ();
  /* the PNG is never an input, and replaces a file only with --force: checked first */
  const char *inputs[] = { argv[1], completed ? completed : table_path, table_path, NULL };
  g_autoptr (OutSet) outputs = cli_outputs_new (force, inputs);
  if (!cli_outputs_reserve (outputs, out))
    return 1;
  /* The input's own label table unless --labels names one. */
  ArSceneOptions so = { .smooth_iterations = (guint) smooth, .find_table = !table_path };
  g_autoptr (ArScene) input = ar_scene_load (argv[1], NULL, &so, NULL, &error);
  if (!input)
    return cli_fail ("%s", error->message);
  cli_print_warnings (input->read_warnings);
  if (input->table)
    out_set_add_input (outputs, input->table->source);   /* the table found beside IN */
  /* the completed file's names: they include the organs it added */
  g_autoptr (ArScene) result = completed ? ar_scene_load (completed, NULL, &so, NULL, &error) : NULL;
  if (completed && !result)
    return cli_fail ("%s", error->message);
  if (result)
    {
      cli_print_warnings (result->read_warnings);
      if (result->table)
        out_set_add_input (outputs, result->table->source);
    }
  double ms_read = input->ms_read + (result ? result->ms_read : 0);
  double ms_mesh = input->ms_mesh + (result ? result->ms_mesh : 0);

  g_autoptr (LabelTable) table_file = NULL;
  const LabelTable *table = result && !table_path ? result->table : input->table;
  if (table_path)
    {
      table = table_file = lt_table_load (table_path, &error);
      if (!table)
        return cli_fail ("%s", error->message);
    }
  else if (input->table_error)
    fprintf (stderr, "anatomy: warning: ignoring the label table: %s\n", input->table_error->message);
  /* "lung,7,rib cage" -> label ids; unknown names are an error */
  CliLabelSyntax syntax = { .min_id = 0, .max_id = G_MAXINT32, .lookup = cli_label_table_lookup,
                            .data = (gpointer) table };
  g_autofree char *bad = NULL;
  g_autoptr (GArray) transparent = cli_parse_label_list (transparent_list ? transparent_list : "", &syntax,
                                                         &bad, NULL);
  if (transparent == NULL)
    return cli_fail ("render: --transparent: no label named '%s' in the label table (%s)", bad, table->source);

  gint64 t_gl = g_get_monotonic_time ();
  g_autoptr (ArOffscreen) off = ar_offscreen_new (w, h, &error);
  if (!off)
    return cli_fail ("render: %s", error->message);
  double ms_init = (g_get_monotonic_time () - t_gl) / 1e3;

  int n_panels = completed ? 2 : 1;
  /* One renderer per panel, drawn into a panel-sized target then copied side by side. */
  g_autofree guint8 *image = g_malloc0 ((gsize) w * h * 4);
  int panel_w = w / n_panels;
  float bmin[3], bmax[3];
  gboolean have_bounds = FALSE;
  ArRenderer *renderers[2] = { NULL, NULL };
  for (int p = 0; p < n_panels; p++)
    {
      renderers[p] = ar_renderer_new ();
      ar_renderer_set_samples (renderers[p], samples);
      setup_renderer (renderers[p], p == 0 ? input : result, p == 0 ? NULL : input, table,
                      transparent, opacity);
      float mn[3], mx[3];
      if (ar_renderer_get_bounds (renderers[p], mn, mx))
        mesh_bounds_add (bmin, bmax, &have_bounds, mn, mx);
    }
  if (!have_bounds)
    {
      /* Nothing to draw: frame the volume itself so the image still shows the background. */
      for (int a = 0; a < 3; a++)
        {
          bmin[a] = -50.f;
          bmax[a] = 50.f;
        }
    }
  ArCamera cam;
  ar_camera_init (&cam, bmin, bmax);
  ar_camera_set_view (&cam, view);
  double ms_draw = 0;
  g_autofree double *frame_ms = g_new0 (double, MAX (frames, 1));
  guint64 frame_tris = 0;
  int frame_level = 0;
  for (int p = 0; p < n_panels; p++)
    {
      if (!ar_renderer_realize (renderers[p], &error))
        return cli_fail ("render: %s", error->message);
      gint64 t0 = g_get_monotonic_time ();
      if (!ar_renderer_draw (renderers[p], &cam, panel_w, h, ar_offscreen_get_fbo (off), &error))
        return cli_fail ("render: %s", error->message);
      g_autofree guint8 *px = ar_offscreen_read_rgba (off);
      ms_draw += (g_get_monotonic_time () - t0) / 1e3;
      /* The panel occupies the bottom-left panel_w x h of the framebuffer = the rows'
       * first panel_w pixels after the top-down flip. */
      for (int y = 0; y < h; y++)
        memcpy (image + ((gsize) y * w + (gsize) p * panel_w) * 4, px + (gsize) y * w * 4,
                (gsize) panel_w * 4);
      /* Frame times as while the camera turns (the panels' times add up, as the GUI's
       * views do). */
      ar_renderer_set_interactive (renderers[p], drag);
      ar_renderer_set_triangle_budget (renderers[p], 60000 / n_panels);
      ar_renderer_set_interactive_scale (renderers[p], 0.5f);
      for (int f = 0; f < frames; f++)
        {
          ArCamera turned = cam;
          ar_camera_rotate (&turned, 0.05f * (float) (f + 1), 0.f);
          gint64 t1 = g_get_monotonic_time ();
          if (!ar_renderer_draw (renderers[p], &turned, panel_w, h, ar_offscreen_get_fbo (off), &error))
            return cli_fail ("render: %s", error->message);
          glFinish ();
          frame_ms[f] += (g_get_monotonic_time () - t1) / 1e3;
          if (f == 0)
            {
              frame_tris += ar_renderer_get_last_triangles (renderers[p]);
              frame_level = ar_renderer_get_last_level (renderers[p]);
            }
        }
      ar_renderer_unrealize (renderers[p]);
      g_clear_pointer (&renderers[p], ar_renderer_free);
    }
  if (n_panels == 2)
    {
      /* A thin divider between the panels. */
      for (int y = 0; y < h; y++)
        for (int x = panel_w - 1; x <= panel_w; x++)
          {
            guint8 *q = image + ((gsize) y * w + x) * 4;
            q[0] = q[1] = q[2] = 90;
            q[3] = 255;
          }
    }
  if (!ar_png_write_rgba_in (outputs, out, image, w, h, &error))
    return cli_fail ("render: %s", error->message);
  if (cli_outputs_commit (outputs) != 0)
    return 1;
  if (timings && frames > 0)
    {
      qsort (frame_ms, (size_t) frames, sizeof (double), cmp_double);
      fprintf (stderr, "%d frames %s, %d panel%s of %dx%d: median %.1f ms, min %.1f ms per frame "
               "(%" G_GUINT64_FORMAT " triangles, level %d)\n", frames, drag ? "as while dragging" : "at full quality",
               n_panels, n_panels == 1 ? "" : "s", panel_w, h, frame_ms[frames / 2], frame_ms[0], frame_tris,
               frame_level);
    }
  if (timings)
    {
      guint64 tris = surface_set_n_triangles (input->surfaces)
                     + (result ? surface_set_n_triangles (result->surfaces) : 0);
      fprintf (stderr,
               "read %.1f ms, mesh %.1f ms, gl init %.1f ms (%s), draw+readback %.1f ms "
               "(%" G_GUINT64_FORMAT " triangles), total %.1f ms\n",
               ms_read, ms_mesh, ms_init, ar_offscreen_get_description (off), ms_draw, tris,
               (g_get_monotonic_time () - t_start) / 1e3);
    }
  return 0;
}
