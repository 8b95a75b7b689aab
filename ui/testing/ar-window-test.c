/* ar-window-test.c: a hidden script runner for the GUI tests and benchmarks.
 *
 * Started by ar_window_run_test_script() (the application does so when the
 * environment variable AR_TEST_SCRIPT names a file).  One command per line:
 *   wait-idle                 until no background job runs and every visible view has drawn
 *   open PATH | load-result PATH | load-reference PATH | save-result PATH
 *   screenshot PATH           the whole window, snapshotted in-process
 *   screenshot-views PATH     only the 3D views (the pair, or the compare-all grid)
 *   expect-error              until an error dialog shows; prints it and closes it
 *   no-error                  fails if an error dialog is shown (and prints it)
 *   rotate N                  N frames turning both views as while dragging (simplified
 *                             meshes, half resolution, one sample); prints frame times
 *   rotate-full N             the same with the full meshes at full quality
 *   first-frame               prints the time from window creation to the first frame
 *                             of both views with the loaded scene (drawn quickly, as while
 *                             dragging) and to their first full-quality frame
 *   complete                  presses Complete (fails if the action is disabled)
 *   compare-all on|off        toggles Compare All (the grid; runs the missing networks)
 *   show-reference on|off | show-metrics on|off
 *   grid                      prints each grid cell: title, note, meshes, triangles drawn,
 *                             mapped, its scene's read+mesh time (a fingerprint: a cached
 *                             result keeps it) and its scene's triangles at full detail
 *   metrics                   prints the comparison table as shown, one "test: metrics-row:" line
 *                             per row, cells separated by " | " (folded rows too), and whether
 *                             the rows of the organs present in the input are folded, and where
 *                             the table is in the window ("at X Y W H", widget coordinates)
 *   metrics-present on|off    unfolds / folds those rows
 *   save-metrics PATH         saves the table as CSV as Save as CSV does (never over a file)
 *   copy-metrics              Copy as CSV, then reads the clipboard back and prints it, one
 *                             "test: clipboard-line:" line per line
 *   drag on|off               the views draw as while dragging (budget, half resolution, 1x)
 *   network N|TITLE           selects a network (0-2 or e.g. "GoogLeNet + skip")
 *   setenv NAME VALUE         (only while idle) e.g. another ANATOMY_MODELS_DIR
 *   times                     prints read and meshing times of the input and shown result
 *   memory                    prints the process's resident and peak resident memory
 *   tick CLASS | untick CLASS  ticks a missing organ class for completion (1-12 or its name)
 *   expand CLASS | collapse CLASS  opens or closes a class's group in the organ panel
 *                             (0 or "other": the other labels)
 *   panel                     prints the organ panel's rows, one "test: panel-row:" line each
 *                             (see ar_label_panel_dup_rows_text)
 *   scheme NAME|detect        chooses the input's label scheme in the panel (reads it again)
 *   geometry PART CLASS [LABEL]  prints the centre of a panel control (row, expander, check,
 *                             eye; search, show-all, hide-all with any CLASS) or of a 3D view
 *                             ("view N": 0 input, 1 result, 2.. the grid's cells) in X window
 *                             coordinates, for xdotool: "... ok PART X Y"
 *   search [TEXT]             types TEXT into the organ panel's search entry (none: clears it)
 *   show-all | hide-all       the panel's buttons: every organ shown / hidden in the 3D views
 *   title                     prints the window's title and the path of its input
 *   touch PATH | wait-file PATH  creates a file / waits (60 s) until one exists: a handshake
 *                             with a test driving the pointer and keyboard from outside
 *   drop PATH                 drops a file or folder on the window (its drop target's signal)
 *   export-meshes PATH        exports the shown meshes as Export Meshes does
 *   enabled ACTION            prints whether win.ACTION is enabled (for complete: and why not)
 *   cancel                    presses Cancel (win.cancel; fails if it is disabled)
 *   expect-idle MS            fails unless no background job runs within MS milliseconds
 *   close                     closes the window as the user does (the application then ends;
 *                             unsaved results are not asked about)
 *   proposals                 prints the shown result's proposals, one "test: proposal:" line each
 *                             (label | name | pending/accepted/rejected | voxels | mean p | share < 0.5)
 *   accept LABEL | reject LABEL  clicks the proposal's button in the organ panel
 *   accept-all | undo-decision   the actions (fail when disabled)
 *   confidence on|off         colours the proposals by the network's probability
 *   slice AXIS [INDEX]        the slice view shows slice INDEX (default the middle) across AXIS
 *                             (axial, coronal, sagittal)
 *   view NAME | slices on|off | present on|off | sleep MS | quit
 * Results go to stdout as "test: COMMAND: ok ..." or "test: COMMAND: FAILED ...";
 * the process exits with status 1 after a failure. */
#include "ar-window-test.h"
#include "ar-window-private.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
  char **lines;
  guint pc;
  guint n;
  gint64 step_start;
  guint frames0[8];
  int phase;
  GArray *times;   /* double, frame times while rotating */
  int rotate_left;
  gboolean failed;
  char *clipboard;     /* copy-metrics: the text read back, once read */
  gboolean clipboard_read;
} TestState;

static void
say (const char *cmd, gboolean ok, const char *fmt, ...)
{
  va_list ap;
  va_start (ap, fmt);
  g_autofree char *msg = g_strdup_vprintf (fmt, ap);
  va_end (ap);
  printf ("test: %s: %s%s%s\n", cmd, ok ? "ok" : "FAILED", *msg ? " " : "", msg);
  fflush (stdout);
}

static int
cmp_double (gconstpointer a, gconstpointer b)
{
  double x = *(const double *) a, y = *(const double *) b;
  return x < y ? -1 : x > y;
}

static gboolean
views_drawn_since (ArWindow *self, TestState *t, guint extra)
{
  guint n;
  ArView **views = ar_window_get_views (self, &n);
  for (guint i = 0; i < n; i++)
    if (gtk_widget_get_mapped (GTK_WIDGET (views[i]))
        && (ar_view_get_n_frames (views[i]) < t->frames0[i] + extra || !ar_view_is_settled (views[i])))
      return FALSE;
  return TRUE;
}

static void
mark_frames (ArWindow *self, TestState *t)
{
  guint n;
  ArView **views = ar_window_get_views (self, &n);
  for (guint i = 0; i < n; i++)
    {
      t->frames0[i] = ar_view_get_n_frames (views[i]);
      ar_view_queue_redraw (views[i]);
    }
}

/* The views on screen (the pair or the grid). */
static guint
mapped_views (ArWindow *self, ArView **out)
{
  guint n, k = 0;
  ArView **views = ar_window_get_views (self, &n);
  for (guint i = 0; i < n; i++)
    if (gtk_widget_get_mapped (GTK_WIDGET (views[i])))
      out[k++] = views[i];
  return k;
}

/* A 12-class organ by number or name ("kidney", "rib cage"); 0 for "other". */
static int
parse_class (const char *arg)
{
  if (!arg)
    return -1;
  if (g_ascii_isdigit (*arg))
    return atoi (arg);
  if (g_ascii_strcasecmp (arg, "other") == 0)
    return 0;
  for (int k = 1; k <= LT_N_ORGANS; k++)
    if (g_ascii_strcasecmp (arg, lt_default_class_name (k)) == 0)
      return k;
  return -1;
}

/* Prints each non-empty line of @text as "test: TAG: line"; returns how many. */
static guint
print_rows (const char *tag, const char *text)
{
  g_auto (GStrv) rows = g_strsplit (text, "\n", -1);
  guint n = 0;
  for (guint i = 0; rows[i]; i++)
    if (*rows[i])
      {
        printf ("test: %s: %s\n", tag, rows[i]);
        n++;
      }
  return n;
}

static void
clipboard_read (GObject *source, GAsyncResult *res, gpointer data)
{
  TestState *t = data;
  t->clipboard = gdk_clipboard_read_text_finish (GDK_CLIPBOARD (source), res, NULL);
  t->clipboard_read = TRUE;
}

static gboolean
close_window (gpointer data)
{
  gtk_window_close (GTK_WINDOW (data));
  return G_SOURCE_REMOVE;
}

/* One step of the current command; TRUE when it is finished. */
static gboolean
run_step (ArWindow *self, TestState *t, const char *cmd, const char *arg, gboolean first)
{
  g_autoptr (GError) error = NULL;
  gint64 now = g_get_monotonic_time ();
  if (first)
    {
      t->step_start = now;
      t->phase = 0;
    }
  double elapsed = (now - t->step_start) / 1e6;
  if (g_str_equal (cmd, "wait-idle") || g_str_equal (cmd, "first-frame"))
    {
      if (elapsed > 120)
        {
          guint n;
          ArView **views = ar_window_get_views (self, &n);
          GString *st = g_string_new (NULL);
          for (guint i = 0; i < n; i++)
            g_string_append_printf (st, " view %u: %s, %u frames (%u at the start);", i,
                                    gtk_widget_get_mapped (GTK_WIDGET (views[i])) ? "mapped" : "hidden",
                                    ar_view_get_n_frames (views[i]), t->frames0[i]);
          say (cmd, FALSE, "timed out after 120 s (%s;%s)", ar_window_is_busy (self) ? "busy" : "idle", st->str);
          g_string_free (st, TRUE);
          t->failed = TRUE;
          return TRUE;
        }
      if (t->phase == 0)
        {
          if (ar_window_is_busy (self) || self->metrics_jobs || !gtk_widget_get_mapped (self->views_stack))
            return FALSE;
          mark_frames (self, t);
          t->phase = 1;
          return FALSE;
        }
      if (!views_drawn_since (self, t, 1))
        {
          /* nudge the views again now and then (the baseline stays: a frame may take
           * seconds on a busy machine) */
          if (now - t->step_start > 2000000 && (now / 20000) % 50 == 0)
            {
              guint n;
              ArView **views = ar_window_get_views (self, &n);
              for (guint i = 0; i < n; i++)
                ar_view_queue_redraw (views[i]);
            }
          return FALSE;
        }
      if (g_str_equal (cmd, "first-frame"))
        {
          /* the input view's first frames with the scene: quick, then full quality (the
           * other view shows its placeholder until there is a result) */
          gint64 quick = ar_view_get_first_drawn_time (self->view_input);
          gint64 full = ar_view_get_first_full_time (self->view_input);
          if (!full)
            return FALSE;
          say (cmd, TRUE, "%.1f ms from window creation to the demo drawn, %.1f ms at full quality "
               "(load finished at %.1f ms)", (quick - self->t_created) / 1e3, (full - self->t_created) / 1e3,
               (self->t_loaded - self->t_created) / 1e3);
        }
      else
        say (cmd, TRUE, "%s", self->input ? self->input->path : "(no input)");
      return TRUE;
    }
  if (g_str_equal (cmd, "open") || g_str_equal (cmd, "load-result"))
    {
      g_autoptr (GFile) f = g_file_new_for_commandline_arg (arg);
      if (g_str_equal (cmd, "open"))
        ar_window_open (self, f);
      else
        ar_window_load_result (self, f);
      say (cmd, TRUE, "%s", arg);
      return TRUE;
    }
  if (g_str_equal (cmd, "save-result"))
    {
      gboolean ok = ar_window_save_result_to (self, arg, &error);
      say (cmd, ok, "%s", ok ? arg : error->message);
      t->failed |= !ok;
      return TRUE;
    }
  if (g_str_equal (cmd, "screenshot") || g_str_equal (cmd, "screenshot-views"))
    {
      gboolean ok = ar_window_save_screenshot (self, g_str_equal (cmd, "screenshot-views"), arg, &error);
      /* a frame in the middle of a relayout may have nothing to snapshot: try again a while */
      if (!ok && elapsed < 5)
        return FALSE;
      say (cmd, ok, "%s", ok ? arg : error->message);
      t->failed |= !ok;
      return TRUE;
    }
  if (g_str_equal (cmd, "expect-error"))
    {
      if (self->error_dialog)
        {
          say (cmd, TRUE, "%s", self->last_error);
          gtk_window_destroy (GTK_WINDOW (self->error_dialog));
          self->error_dialog = NULL;
          return TRUE;
        }
      if (elapsed > 60)
        {
          say (cmd, FALSE, "no error dialog within 60 s");
          t->failed = TRUE;
          return TRUE;
        }
      return FALSE;
    }
  if (g_str_equal (cmd, "no-error"))
    {
      gboolean none = self->error_dialog == NULL;
      say (cmd, none, "%s", none ? "" : self->last_error);
      t->failed |= !none;
      return TRUE;
    }
  if (g_str_equal (cmd, "rotate") || g_str_equal (cmd, "rotate-full"))
    {
      gboolean lod = g_str_equal (cmd, "rotate");
      ArView *views[8];
      guint nv = mapped_views (self, views);
      if (first)
        {
          for (guint i = 0; i < nv; i++)
            {
              ar_view_set_interactive (views[i], lod);
              ar_view_set_timing (views[i], TRUE);
            }
          t->rotate_left = MAX (atoi (arg ? arg : "30"), 1);
          g_array_set_size (t->times, 0);
          ar_camera_rotate (&self->camera, 0.05f, 0.f);
          mark_frames (self, t);
          return FALSE;
        }
      if (!views_drawn_since (self, t, 1))
        return FALSE;
      double ms = 0;
      guint64 tris = 0;
      for (guint i = 0; i < nv; i++)
        {
          ms += ar_view_get_last_frame_ms (views[i]);
          tris += ar_renderer_get_last_triangles (ar_view_get_renderer (views[i]));
        }
      g_array_append_val (t->times, ms);
      if (--t->rotate_left > 0)
        {
          ar_camera_rotate (&self->camera, 0.05f, 0.f);
          mark_frames (self, t);
          return FALSE;
        }
      g_array_sort (t->times, cmp_double);
      double med = g_array_index (t->times, double, t->times->len / 2);
      double mx = g_array_index (t->times, double, t->times->len - 1);
      int w = gtk_widget_get_width (GTK_WIDGET (views[0]));
      int h = gtk_widget_get_height (GTK_WIDGET (views[0]));
      int level = ar_renderer_get_last_level (ar_view_get_renderer (views[0]));
      say (cmd, TRUE, "%u frames, %u views %dx%d each, %" G_GUINT64_FORMAT " triangles (level %d): "
           "median %.1f ms, max %.1f ms", t->times->len, nv, w, h, tris, level, med, mx);
      for (guint i = 0; i < nv; i++)
        {
          ar_view_set_timing (views[i], FALSE);
          ar_view_set_interactive (views[i], FALSE);
        }
      return TRUE;
    }
  if (g_str_equal (cmd, "compare-all") || g_str_equal (cmd, "show-reference") || g_str_equal (cmd, "show-metrics"))
    {
      gboolean on = g_strcmp0 (arg, "on") == 0;
      gboolean enabled = g_action_group_get_action_enabled (G_ACTION_GROUP (self), cmd);
      if (enabled)
        g_action_group_change_action_state (G_ACTION_GROUP (self), cmd, g_variant_new_boolean (on));
      say (cmd, enabled, "%s", enabled ? (arg ? arg : "") : "the action is disabled");
      t->failed |= !enabled;
      return TRUE;
    }
  if (g_str_equal (cmd, "drag"))
    {
      /* as while the user drags (until "drag off"); follow with wait-idle to draw */
      guint n;
      ArView **views = ar_window_get_views (self, &n);
      for (guint i = 0; i < n; i++)
        ar_view_set_interactive (views[i], g_strcmp0 (arg, "on") == 0);
      say (cmd, TRUE, "%s", arg ? arg : "");
      return TRUE;
    }
  if (g_str_equal (cmd, "network"))
    {
      int net = arg ? atoi (arg) : -1;
      for (int i = 0; i < NN_N_ARCHS; i++)
        if (arg && g_ascii_strcasecmp (arg, ar_network_get_title (i)) == 0)
          net = i;
      gboolean ok = net >= 0 && net < NN_N_ARCHS;
      if (ok)
        gtk_drop_down_set_selected (GTK_DROP_DOWN (self->network_dropdown), net);
      say (cmd, ok, "%s", ok ? ar_network_get_title (net) : "expected 0-2 or a network's title");
      t->failed |= !ok;
      return TRUE;
    }
  if (g_str_equal (cmd, "load-reference"))
    {
      g_autoptr (GFile) f = g_file_new_for_commandline_arg (arg);
      ar_window_load_reference (self, f);
      say (cmd, TRUE, "%s", arg);
      return TRUE;
    }
  if (g_str_equal (cmd, "grid"))
    {
      for (int g = 0; g < AR_N_GRID_VIEWS; g++)
        {
          ArView *v = self->grid_views[g];
          ArScene *sc = g == 0 ? self->input : ar_window_get_result_scene (self, g - 1);
          printf ("test: grid-cell: %d | %s | %s | %u meshes | %" G_GUINT64_FORMAT " triangles drawn | %s"
                  " | scene %.3f ms | %" G_GUINT64_FORMAT " triangles in full\n", g,
                  gtk_label_get_text (GTK_LABEL (self->grid_titles[g])),
                  gtk_widget_get_visible (self->grid_notes[g]) ? gtk_label_get_text (GTK_LABEL (self->grid_notes[g])) : "",
                  ar_renderer_get_n_meshes (ar_view_get_renderer (v)),
                  ar_renderer_get_last_triangles (ar_view_get_renderer (v)),
                  gtk_widget_get_mapped (GTK_WIDGET (v)) ? "mapped" : "hidden",
                  sc ? sc->ms_read + sc->ms_mesh : 0.0, sc ? surface_set_n_triangles (sc->surfaces) : 0);
        }
      say (cmd, TRUE, "%d cells", AR_N_GRID_VIEWS);
      return TRUE;
    }
  if (g_str_equal (cmd, "tick") || g_str_equal (cmd, "untick"))
    {
      int klass = parse_class (arg);
      gboolean ok = ar_label_panel_set_requested (self->label_panel, klass, g_str_equal (cmd, "tick"));
      say (cmd, ok, "%d%s", klass, ok ? "" : ": no such organ to complete");
      return TRUE;
    }
  if (g_str_equal (cmd, "expand") || g_str_equal (cmd, "collapse"))
    {
      int klass = parse_class (arg);
      gboolean ok = ar_label_panel_set_expanded (self->label_panel, klass, g_str_equal (cmd, "expand"));
      say (cmd, ok, "%d%s", klass, ok ? "" : ": not a group");
      t->failed |= !ok;
      return TRUE;
    }
  if (g_str_equal (cmd, "proposals"))
    {
      g_autofree char *text = ar_window_review_dup_text (self);
      guint n = print_rows ("proposal", text);
      say (cmd, TRUE, "%u proposals", n);
      return TRUE;
    }
  if (g_str_equal (cmd, "accept") || g_str_equal (cmd, "reject"))
    {
      /* as the user does, through the panel's buttons */
      int label = arg ? atoi (arg) : -1;
      GtkWidget *b = ar_label_panel_get_part (self->label_panel, -1, label, cmd);
      gboolean ok = b != NULL && gtk_widget_is_visible (b);
      if (ok)
        g_signal_emit_by_name (b, "clicked");
      say (cmd, ok, "%d%s", label, ok ? "" : ": not a proposal shown in the panel");
      t->failed |= !ok;
      return TRUE;
    }
  if (g_str_equal (cmd, "accept-all") || g_str_equal (cmd, "undo-decision"))
    {
      gboolean enabled = g_action_group_get_action_enabled (G_ACTION_GROUP (self), cmd);
      if (enabled)
        g_action_group_activate_action (G_ACTION_GROUP (self), cmd, NULL);
      say (cmd, enabled, "%s", enabled ? "" : "the action is disabled");
      t->failed |= !enabled;
      return TRUE;
    }
  if (g_str_equal (cmd, "confidence"))
    {
      gboolean enabled = g_action_group_get_action_enabled (G_ACTION_GROUP (self), cmd);
      if (enabled)
        g_action_group_change_action_state (G_ACTION_GROUP (self), cmd,
                                            g_variant_new_boolean (g_strcmp0 (arg, "on") == 0));
      say (cmd, enabled, "%s", enabled ? (arg ? arg : "") : "the action is disabled");
      t->failed |= !enabled;
      return TRUE;
    }
  if (g_str_equal (cmd, "panel"))
    {
      g_autofree char *text = ar_label_panel_dup_rows_text (self->label_panel);
      guint n = print_rows ("panel-row", text);
      say (cmd, TRUE, "%u rows", n);
      return TRUE;
    }
  if (g_str_equal (cmd, "search"))
    {
      gboolean ok = ar_label_panel_set_search (self->label_panel, arg);
      say (cmd, ok, "%s", arg ? arg : "");
      t->failed |= !ok;
      return TRUE;
    }
  if (g_str_equal (cmd, "show-all") || g_str_equal (cmd, "hide-all"))
    {
      ar_label_panel_set_all_visible (self->label_panel, g_str_equal (cmd, "show-all"));
      say (cmd, TRUE, "");
      return TRUE;
    }
  if (g_str_equal (cmd, "title"))
    {
      say (cmd, TRUE, "%s | %s", gtk_window_get_title (GTK_WINDOW (self)),
           self->input ? self->input->path : "(no input)");
      return TRUE;
    }
  if (g_str_equal (cmd, "scheme"))
    {
      const char *name = g_strcmp0 (arg, "detect") == 0 ? NULL : arg;
      gboolean ok = self->input && (!name || label_scheme_get (name)) && !ar_window_is_busy (self);
      if (ok)
        ok = ar_label_panel_choose_scheme (self->label_panel, name);
      say (cmd, ok, "%s", arg ? arg : "");
      t->failed |= !ok;
      return TRUE;
    }
  if (g_str_equal (cmd, "geometry"))
    {
      g_auto (GStrv) a = g_strsplit (arg ? arg : "", " ", 3);
      int n = g_strv_length (a);
      guint nv;
      ArView **views = ar_window_get_views (self, &nv);
      GtkWidget *w = NULL;
      if (n >= 2 && g_str_equal (a[0], "view"))
        w = (guint) atoi (a[1]) < nv ? GTK_WIDGET (views[atoi (a[1])]) : NULL;
      else if (n >= 2)
        w = ar_label_panel_get_part (self->label_panel, parse_class (a[1]), n >= 3 ? atoi (a[2]) : -1, a[0]);
      graphene_point_t p;
      gboolean ok = w && gtk_widget_get_mapped (w)
                    && gtk_widget_compute_point (w, GTK_WIDGET (self),
                                                 &GRAPHENE_POINT_INIT (gtk_widget_get_width (w) / 2.f,
                                                                       gtk_widget_get_height (w) / 2.f), &p);
      if (ok)
        {
          /* the window's widget coordinates -> its surface's (client-side decorations) */
          double sx, sy;
          gtk_native_get_surface_transform (GTK_NATIVE (self), &sx, &sy);
          say (cmd, TRUE, "%s %d %d", a[0], (int) (p.x + sx), (int) (p.y + sy));
        }
      else
        say (cmd, FALSE, "%s: no such control shown", arg ? arg : "");
      t->failed |= !ok;
      return TRUE;
    }
  if (g_str_equal (cmd, "touch"))
    {
      gboolean ok = arg && g_file_set_contents (arg, "", 0, &error);
      say (cmd, ok, "%s", ok ? arg : error ? error->message : "no path");
      t->failed |= !ok;
      return TRUE;
    }
  if (g_str_equal (cmd, "wait-file"))
    {
      if (arg && g_file_test (arg, G_FILE_TEST_EXISTS))
        {
          say (cmd, TRUE, "%s", arg);
          return TRUE;
        }
      if (elapsed > 60)
        {
          say (cmd, FALSE, "%s did not appear within 60 s", arg ? arg : "");
          t->failed = TRUE;
          return TRUE;
        }
      return FALSE;
    }
  if (g_str_equal (cmd, "drop"))
    {
      g_autoptr (GFile) f = g_file_new_for_commandline_arg (arg ? arg : "");
      GSList *files = g_slist_prepend (NULL, f);
      GValue v = G_VALUE_INIT;
      g_value_init (&v, GDK_TYPE_FILE_LIST);
      g_value_set_boxed (&v, files);
      gboolean done = FALSE;
      g_signal_emit_by_name (self->drop_target, "drop", &v, 10.0, 10.0, &done);
      g_value_unset (&v);
      g_slist_free (files);
      say (cmd, done, "%s", arg ? arg : "");
      t->failed |= !done;
      return TRUE;
    }
  if (g_str_equal (cmd, "enabled"))
    {
      gboolean known = arg && g_action_group_has_action (G_ACTION_GROUP (self), arg);
      gboolean on = known && g_action_group_get_action_enabled (G_ACTION_GROUP (self), arg);
      const char *tip = g_strcmp0 (arg, "complete") == 0 ? gtk_widget_get_tooltip_text (self->complete_button) : NULL;
      say (cmd, known, "%s %s%s%s", arg ? arg : "", on ? "enabled" : "disabled", tip ? ": " : "", tip ? tip : "");
      t->failed |= !known;
      return TRUE;
    }
  if (g_str_equal (cmd, "export-meshes"))
    {
      gboolean ok = ar_window_export_meshes_to (self, arg, &error);
      say (cmd, ok, "%s", ok ? arg : error->message);
      t->failed |= !ok;
      return TRUE;
    }
  if (g_str_equal (cmd, "metrics"))
    {
      g_autofree char *text = ar_window_dup_metrics_text (self);
      guint n = print_rows ("metrics-row", text);
      gboolean shown = gtk_revealer_get_child_revealed (GTK_REVEALER (self->metrics_revealer));
      graphene_rect_t b = GRAPHENE_RECT_INIT (0, 0, 0, 0);
      if (shown && !gtk_widget_compute_bounds (self->metrics_revealer, GTK_WIDGET (self), &b))
        b = GRAPHENE_RECT_INIT (0, 0, 0, 0);
      say (cmd, n > 0, "%u rows, table %s, present organs %s, at %d %d %d %d", n, shown ? "shown" : "hidden",
           self->metrics_present_shown ? "unfolded" : "folded", (int) b.origin.x, (int) b.origin.y,
           (int) b.size.width, (int) b.size.height);
      t->failed |= n == 0;
      return TRUE;
    }
  if (g_str_equal (cmd, "metrics-present"))
    {
      ar_window_table_show_present (self, g_strcmp0 (arg, "on") == 0);
      say (cmd, TRUE, "%s", arg ? arg : "");
      return TRUE;
    }
  if (g_str_equal (cmd, "save-metrics"))
    {
      gboolean ok = arg && ar_window_save_metrics_csv (self, arg, FALSE, &error);
      say (cmd, ok, "%s", ok ? arg : error ? error->message : "no path");
      t->failed |= !ok;
      return TRUE;
    }
  if (g_str_equal (cmd, "copy-metrics"))
    {
      GdkClipboard *cb = gtk_widget_get_clipboard (GTK_WIDGET (self));
      if (first)
        {
          gboolean enabled = g_action_group_get_action_enabled (G_ACTION_GROUP (self), "copy-metrics");
          if (!enabled)
            {
              say (cmd, FALSE, "the action is disabled");
              t->failed = TRUE;
              return TRUE;
            }
          g_action_group_activate_action (G_ACTION_GROUP (self), "copy-metrics", NULL);
          g_clear_pointer (&t->clipboard, g_free);
          t->clipboard_read = FALSE;
          gdk_clipboard_read_text_async (cb, NULL, clipboard_read, t);
          return FALSE;
        }
      if (!t->clipboard_read)
        {
          if (elapsed < 20)
            return FALSE;
          say (cmd, FALSE, "the clipboard was not read within 20 s");
          t->failed = TRUE;
          return TRUE;
        }
      g_auto (GStrv) lines = g_strsplit (t->clipboard ? t->clipboard : "", "\n", -1);
      guint n = 0;
      for (guint i = 0; lines[i]; i++)
        if (*lines[i])
          {
            printf ("test: clipboard-line: %s\n", lines[i]);
            n++;
          }
      say (cmd, n > 0, "%u lines", n);
      t->failed |= n == 0;
      return TRUE;
    }
  if (g_str_equal (cmd, "setenv"))
    {
      g_auto (GStrv) kv = g_strsplit (arg ? arg : "", " ", 2);
      gboolean ok = kv[0] && kv[1] && !ar_window_is_busy (self);
      if (ok)
        g_setenv (kv[0], kv[1], TRUE);
      ar_window_update_actions (self);
      say (cmd, ok, "%s", arg ? arg : "");
      t->failed |= !ok;
      return TRUE;
    }
  if (g_str_equal (cmd, "complete"))
    {
      gboolean enabled = g_action_group_get_action_enabled (G_ACTION_GROUP (self), "complete");
      if (enabled)
        g_action_group_activate_action (G_ACTION_GROUP (self), "complete", NULL);
      say (cmd, enabled, "%s", enabled ? "" : gtk_widget_get_tooltip_text (self->complete_button));
      t->failed |= !enabled;
      return TRUE;
    }
  if (g_str_equal (cmd, "times"))
    {
      ArScene *in = self->input;
      ArScene *res = ar_window_get_result_scene (self, self->shown_result);
      say (cmd, in != NULL, "input read %.1f ms mesh %.1f ms (%" G_GUINT64_FORMAT " triangles); "
           "result read %.1f ms mesh %.1f ms (%" G_GUINT64_FORMAT " triangles)",
           in ? in->ms_read : 0.0, in ? in->ms_mesh : 0.0, in ? surface_set_n_triangles (in->surfaces) : 0,
           res ? res->ms_read : 0.0, res ? res->ms_mesh : 0.0,
           res ? surface_set_n_triangles (res->surfaces) : 0);
      t->failed |= in == NULL;
      return TRUE;
    }
  if (g_str_equal (cmd, "view"))
    {
      g_action_group_activate_action (G_ACTION_GROUP (self), "view", g_variant_new_string (arg ? arg : "anterior"));
      say (cmd, TRUE, "%s", arg ? arg : "");
      return TRUE;
    }
  if (g_str_equal (cmd, "slice"))
    {
      /* slice AXIS [INDEX]: axial, coronal or sagittal */
      g_auto (GStrv) a = g_strsplit (arg ? arg : "", " ", 2);
      static const char *const axes[] = { "axial", "coronal", "sagittal" };
      int axis = -1;
      for (int i = 0; i < 3; i++)
        if (a[0] && g_str_equal (a[0], axes[i]))
          axis = i;
      if (axis >= 0)
        ar_slice_view_show_slice (self->slice_view, axis, a[0] && a[1] ? atoi (a[1]) : -1);
      say (cmd, axis >= 0, "%s", axis >= 0 ? arg : "give axial, coronal or sagittal");
      t->failed |= axis < 0;
      return TRUE;
    }
  if (g_str_equal (cmd, "slices") || g_str_equal (cmd, "present"))
    {
      gboolean on = g_strcmp0 (arg, "on") == 0;
      if (g_str_equal (cmd, "slices"))
        g_action_group_change_action_state (G_ACTION_GROUP (self), "show-slices", g_variant_new_boolean (on));
      else if (on != self->presenting)
        g_action_group_activate_action (G_ACTION_GROUP (self), "presentation", NULL);
      say (cmd, TRUE, "%s", arg ? arg : "");
      return TRUE;
    }
  if (g_str_equal (cmd, "sleep"))
    {
      if (elapsed * 1000 < atof (arg ? arg : "0"))
        return FALSE;
      say (cmd, TRUE, "%s", arg ? arg : "");
      return TRUE;
    }
  if (g_str_equal (cmd, "memory"))
    {
      /* resident and peak resident memory of the process, from /proc/self/status */
      g_autofree char *status = NULL;
      g_file_get_contents ("/proc/self/status", &status, NULL, NULL);
      const char *rss = status ? strstr (status, "VmRSS:") : NULL;
      const char *hwm = status ? strstr (status, "VmHWM:") : NULL;
      gboolean ok = rss && hwm;
      say (cmd, ok, "resident %.0f MiB, peak %.0f MiB", ok ? g_ascii_strtod (rss + 6, NULL) / 1024 : 0.0,
           ok ? g_ascii_strtod (hwm + 6, NULL) / 1024 : 0.0);
      t->failed |= !ok;
      return TRUE;
    }
  if (g_str_equal (cmd, "cancel"))
    {
      gboolean enabled = g_action_group_get_action_enabled (G_ACTION_GROUP (self), "cancel");
      if (enabled)
        g_action_group_activate_action (G_ACTION_GROUP (self), "cancel", NULL);
      say (cmd, enabled, "%s", enabled ? "" : "nothing to cancel");
      t->failed |= !enabled;
      return TRUE;
    }
  if (g_str_equal (cmd, "expect-idle"))
    {
      double limit_ms = atof (arg ? arg : "0");
      if (!ar_window_is_busy (self))
        {
          say (cmd, TRUE, "idle after %.0f ms", elapsed * 1000);
          return TRUE;
        }
      if (elapsed * 1000 <= limit_ms)
        return FALSE;
      say (cmd, FALSE, "still busy after %.0f ms (%s)", limit_ms, self->job_text ? self->job_text : "");
      t->failed = TRUE;
      return TRUE;
    }
  if (g_str_equal (cmd, "close"))
    {
      say (cmd, TRUE, "");
      self->close_confirmed = TRUE;
      GApplication *app = G_APPLICATION (gtk_window_get_application (GTK_WINDOW (self)));
      if (t->failed && app)
        g_object_set_data (G_OBJECT (app), "ar-test-failed", GINT_TO_POINTER (1));
      /* after this step: the window (and this state) may be gone once it is closed */
      g_idle_add_full (G_PRIORITY_DEFAULT, close_window, g_object_ref (self), g_object_unref);
      return TRUE;
    }
  if (g_str_equal (cmd, "quit"))
    {
      say (cmd, TRUE, "");
      self->close_confirmed = TRUE;
      GApplication *app = G_APPLICATION (gtk_window_get_application (GTK_WINDOW (self)));
      if (t->failed)
        g_object_set_data (G_OBJECT (app), "ar-test-failed", GINT_TO_POINTER (1));
      g_application_quit (app);
      return TRUE;
    }
  say (cmd, FALSE, "unknown command");
  t->failed = TRUE;
  return TRUE;
}

static gboolean
test_tick (gpointer data)
{
  ArWindow *self = data;
  TestState *t = self->test;
  static gboolean started;
  while (t->pc < t->n)
    {
      char *line = g_strstrip (t->lines[t->pc]);
      if (!*line || *line == '#')
        {
          t->pc++;
          started = FALSE;
          continue;
        }
      g_auto (GStrv) parts = g_strsplit (line, " ", 2);
      gboolean first = !started;
      started = TRUE;
      if (!run_step (self, t, parts[0], parts[1], first))
        return G_SOURCE_CONTINUE;
      started = FALSE;
      t->pc++;
      if (g_str_equal (parts[0], "quit") || g_str_equal (parts[0], "close"))
        return G_SOURCE_REMOVE;
    }
  return G_SOURCE_REMOVE;
}

void
ar_window_run_test_script (ArWindow *self, const char *path)
{
  g_autofree char *text = NULL;
  g_autoptr (GError) error = NULL;
  if (!g_file_get_contents (path, &text, NULL, &error))
    {
      say ("script", FALSE, "%s", error->message);
      return;
    }
  TestState *t = g_new0 (TestState, 1);
  t->lines = g_strsplit (text, "\n", -1);
  t->n = g_strv_length (t->lines);
  t->times = g_array_new (FALSE, FALSE, sizeof (double));
  self->test = t;  /* freed with the window (lines and times leak at exit only) */
  g_timeout_add (20, test_tick, self);
}
