/* ar-application.c: single-instance GtkApplication that opens label maps
 * (HANDLES_OPEN) and starts on the demo case when given no file. */
#include "ar-application.h"

#include "ar-window.h"
#ifdef AR_GUI_TEST_HOOKS
#include "ar-window-test.h"
#endif

struct _ArApplication {
  GtkApplication parent_instance;
};

G_DEFINE_FINAL_TYPE (ArApplication, ar_application, GTK_TYPE_APPLICATION)

/* A new window with @file (NULL: the demo) already loading when it is shown: the load
 * runs on another core while GTK realizes and maps the window (about 70 ms). */
static ArWindow *
new_window (ArApplication *self, GFile *file)
{
  ArWindow *w = ar_window_new (GTK_APPLICATION (self));
  const char *script = g_getenv ("AR_TEST_SCRIPT");
  if (script && *script)
    {
#ifdef AR_GUI_TEST_HOOKS
      ar_window_run_test_script (w, script);
#else
      g_warning ("AR_TEST_SCRIPT is set, but this build has no test hooks (-Dgui_test_hooks=true)");
#endif
    }
  if (file)
    ar_window_open (w, file);
  else
    ar_window_open_demo (w);
  gtk_window_present (GTK_WINDOW (w));
  return w;
}

/* The document window the user used last: the application's windows are kept most
 * recently focused first.  Only ArWindows hold a file; any other window the application
 * may hold is skipped rather than cast (GTK 4.8 adds no transient dialog to the list). */
static ArWindow *
last_document_window (GtkApplication *app)
{
  for (GList *l = gtk_application_get_windows (app); l; l = l->next)
    if (AR_IS_WINDOW (l->data))
      return l->data;
  return NULL;
}

static void
ar_application_activate (GApplication *app)
{
  ArWindow *w = last_document_window (GTK_APPLICATION (app));
  if (w)
    {
      gtk_window_present (GTK_WINDOW (w));
      return;
    }
  new_window (AR_APPLICATION (app), NULL);
}

/* Files from the command line, of this launch or of a later one (GApplication sends them
 * here as GFiles, relative names already resolved against that launch's directory). */
static void
ar_application_open (GApplication *app, GFile **files, int n_files, const char *hint)
{
  ArApplication *self = AR_APPLICATION (app);
  for (int i = 0; i < n_files; i++)
    {
      /* The first file goes to the last used window, further ones to new windows. */
      ArWindow *w = i == 0 ? last_document_window (GTK_APPLICATION (app)) : NULL;
      if (w)
        {
          gtk_window_present (GTK_WINDOW (w));
          ar_window_open (w, files[i]);
        }
      else
        new_window (self, files[i]);
    }
}

static void
action_quit (GSimpleAction *a, GVariant *p, gpointer data)
{
  GList *windows = gtk_application_get_windows (GTK_APPLICATION (data));
  /* Close each window so that unsaved results are asked about. */
  for (GList *l = g_list_copy (windows), *it = l; it; it = it->next)
    {
      gtk_window_close (it->data);
      if (!it->next)
        g_list_free (l);
    }
}

static void
action_about (GSimpleAction *a, GVariant *p, gpointer data)
{
  const char *authors[] = { "The 3D Anatomy Reconstruction developers", NULL };
  gtk_show_about_dialog (gtk_application_get_active_window (GTK_APPLICATION (data)),
                         "program-name", "3D Anatomy Reconstruction",
                         "logo-icon-name", AR_APPLICATION_ID,
                         "version", PACKAGE_VERSION,
                         "comments", "Complete missing organs of 3D anatomy label maps with neural "
                                     "networks, and compare the result with the input in 3D.\n\n"
                                     "After “Anatomy Completor” (Li et al., ShapeMI 2023).",
                         "license-type", GTK_LICENSE_MIT_X11,
                         "authors", authors,
                         NULL);
}

static const GActionEntry app_actions[] = {
  { "quit", action_quit },
  { "about", action_about },
};

static void
ar_application_startup (GApplication *app)
{
  G_APPLICATION_CLASS (ar_application_parent_class)->startup (app);
  g_action_map_add_action_entries (G_ACTION_MAP (app), app_actions, G_N_ELEMENTS (app_actions), app);
  GtkApplication *gapp = GTK_APPLICATION (app);
  struct { const char *action; const char *accels[3]; } accels[] = {
    { "app.quit", { "<Control>q", NULL } },
    { "win.open", { "<Control>o", NULL } },
    { "win.open-folder", { "<Control><Alt>o", NULL } },
    { "win.load-result", { "<Control><Shift>o", NULL } },
    { "win.save-result", { "<Control>s", NULL } },
    { "win.export-meshes", { "<Control>e", NULL } },
    { "win.screenshot", { "<Control><Shift>s", NULL } },
    { "win.complete", { "<Control>Return", NULL } },
    { "win.accept-all", { "<Control><Shift>a", NULL } },
    { "win.undo-decision", { "<Control>z", NULL } },
    { "win.confidence", { "<Control>i", NULL } },
    { "win.reset-camera", { "<Control>0", NULL } },
    { "win.show-slices", { "F9", NULL } },
    { "win.compare-all", { "F7", NULL } },
    { "win.show-metrics", { "F8", NULL } },
    { "win.show-reference", { "F6", NULL } },
    { "win.presentation", { "F5", "F11", NULL } },
    { "win.view::anterior", { "<Control>1", NULL } },
    { "win.view::posterior", { "<Control>2", NULL } },
    { "win.view::left", { "<Control>3", NULL } },
    { "win.view::right", { "<Control>4", NULL } },
    { "win.view::superior", { "<Control>5", NULL } },
    { "win.view::inferior", { "<Control>6", NULL } },
  };
  for (gsize i = 0; i < G_N_ELEMENTS (accels); i++)
    gtk_application_set_accels_for_action (gapp, accels[i].action, accels[i].accels);

  g_autoptr (GtkCssProvider) css = gtk_css_provider_new ();
  gtk_css_provider_load_from_resource (css, "/io/github/anatomyreconstruction/AnatomyReconstruction/style.css");
  gtk_style_context_add_provider_for_display (gdk_display_get_default (), GTK_STYLE_PROVIDER (css),
                                              GTK_STYLE_PROVIDER_PRIORITY_APPLICATION);
  gtk_window_set_default_icon_name (AR_APPLICATION_ID);
}

static void
ar_application_class_init (ArApplicationClass *klass)
{
  G_APPLICATION_CLASS (klass)->activate = ar_application_activate;
  G_APPLICATION_CLASS (klass)->open = ar_application_open;
  G_APPLICATION_CLASS (klass)->startup = ar_application_startup;
}

static void
ar_application_init (ArApplication *self)
{
}

ArApplication *
ar_application_new (void)
{
  return g_object_new (AR_TYPE_APPLICATION, "application-id", AR_APPLICATION_ID,
                       "flags", G_APPLICATION_HANDLES_OPEN,
                       "resource-base-path", "/io/github/anatomyreconstruction/AnatomyReconstruction",
                       NULL);
}
